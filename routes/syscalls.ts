// POST /v1/zx/{name} and /v1/mx/{name}: one handler for every syscall in
// the table. It authenticates the caller's thread, validates the body with
// the syscall's schema, runs the call and spells the reply for the ABI.

import type { Abi } from "../arch/arch.ts";
import type { Syscall } from "../kernel/syscalls/define.ts";
import { syscallsOf } from "../kernel/syscalls/table.ts";
import { ERR, ZxError } from "../kernel/status.ts";
import type { Thread } from "../kernel/thread.ts";
import { successBody } from "./abi.ts";
import {
  bearerToken,
  errorResponse,
  jsonResponse,
  parseWith,
  readJson,
  RequestError,
} from "./http.ts";
import { callerOf, type KernelRegistry } from "./registry.ts";

export interface SyscallRouteOptions {
  readonly registry: KernelRegistry;
  readonly maxBlockMs: number;
}

/** Why a thread cannot make a syscall right now, if it cannot. */
function notReady(thread: Thread): string | undefined {
  if (!thread.alive) return `the calling thread (koid ${thread.koid}) is dead`;
  if (thread.lifecycle === "SUSPENDED") {
    return `the calling thread (koid ${thread.koid}) is suspended`;
  }
  if (thread.busy) {
    return `the calling thread (koid ${thread.koid}) is busy: one syscall at a time per thread`;
  }
  return undefined;
}

export function syscallHandler(options: SyscallRouteOptions) {
  const tables: Record<Abi, ReadonlyMap<string, Syscall>> = {
    zx: syscallsOf("zx"),
    mx: syscallsOf("mx"),
  };

  return async (request: Request, abi: Abi, name: string): Promise<Response> => {
    try {
      const token = bearerToken(request);
      const session = token === undefined ? undefined : options.registry.session(token);
      if (!session) {
        throw new RequestError(401, ERR.ACCESS_DENIED, "missing or unknown bearer token");
      }
      const syscall = tables[abi].get(name);
      if (!syscall) {
        throw new RequestError(404, ERR.BAD_SYSCALL, `there is no syscall ${abi}_${name}`);
      }
      const args = parseWith(syscall.params, await readJson(request));
      const thread = session.thread;
      const busy = notReady(thread);
      if (busy) throw new RequestError(409, ERR.BAD_STATE, busy);
      const caller = callerOf(session, abi, options.maxBlockMs);
      let outs = syscall.impl(caller, args);
      if (outs instanceof Promise) {
        thread.busy = true;
        try {
          // A manual kernel runs its threads while a client waits.
          outs = await caller.kernel.runner.driveWhile(outs);
        } finally {
          thread.busy = false;
        }
      }
      return jsonResponse(successBody(abi, outs));
    } catch (error) {
      if (error instanceof ZxError) {
        return errorResponse(abi, error.status, error.message, undefined, error.outs);
      }
      if (error instanceof RequestError) {
        return errorResponse(abi, error.code, error.message, error.http);
      }
      throw error;
    }
  };
}
