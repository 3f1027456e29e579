// POST /v1/zx/{name} and /v1/mx/{name}: one handler for every syscall in
// the table. It authenticates the caller's thread, validates the body with
// the syscall's schema, runs the call and spells the reply for the ABI.

import type { z } from "zod";
import type { Abi } from "../arch/arch.ts";
import type { Syscall } from "../kernel/syscalls/define.ts";
import { syscallsOf } from "../kernel/syscalls/table.ts";
import { ERR, ZxError } from "../kernel/status.ts";
import type { Thread } from "../kernel/thread.ts";
import { ABIS, successBody } from "./abi.ts";
import { compiledParams } from "./fast_path.ts";
import {
  bearerToken,
  errorResponse,
  jsonResponse,
  parseWith,
  readJson,
  RequestError,
} from "./http.ts";
import { callerOf, type KernelRegistry, type Session } from "./registry.ts";

export interface SyscallRouteOptions {
  readonly registry: KernelRegistry;
  readonly maxBlockMs: number;
  /**
   * Parse bodies with zod's compiled parsers (routes/fast_path.ts), which give
   * the same results as its interpreter, faster. Default true; false keeps
   * the interpreter alone (the tests compare the two).
   */
  readonly compiled?: boolean;
}

/** One syscall as a route: its ABI, its table entry and the schema its bodies are parsed with. */
export interface SyscallRoute {
  readonly abi: Abi;
  readonly syscall: Syscall;
  readonly params: z.ZodType;
}

/** Answers POST /v1/{abi}/{name}; also finds and runs routes by path, for the fast path. */
export interface SyscallHandler {
  (request: Request, abi: Abi, name: string): Promise<Response>;
  /** The syscall a request path names exactly ("/v1/zx/thread_write_state"), if any. */
  routeOf(path: string): SyscallRoute | undefined;
  /** What the handler does once the path has named a syscall. */
  call(request: Request, route: SyscallRoute): Promise<Response>;
}

/** Why a thread cannot make a syscall right now, if it cannot. */
export function notReady(thread: Thread): string | undefined {
  if (!thread.alive) return `the calling thread (koid ${thread.koid}) is dead`;
  if (thread.lifecycle === "SUSPENDED") {
    return `the calling thread (koid ${thread.koid}) is suspended`;
  }
  if (thread.busy) {
    return `the calling thread (koid ${thread.koid}) is busy: one syscall at a time per thread`;
  }
  return undefined;
}

export function syscallHandler(options: SyscallRouteOptions): SyscallHandler {
  const compiled = options.compiled ?? true;
  const routes = new Map<string, SyscallRoute>();
  for (const abi of ABIS) {
    for (const [name, syscall] of syscallsOf(abi)) {
      const params = compiled ? compiledParams(syscall) : syscall.params;
      routes.set(`/v1/${abi}/${name}`, { abi, syscall, params });
    }
  }

  /** The session of the request's bearer token, or a 401. */
  const sessionOf = (request: Request): Session => {
    const token = bearerToken(request);
    const session = token === undefined ? undefined : options.registry.session(token);
    if (!session) {
      throw new RequestError(401, ERR.ACCESS_DENIED, "missing or unknown bearer token");
    }
    return session;
  };

  const failure = (abi: Abi, error: unknown): Response => {
    if (error instanceof ZxError) {
      return errorResponse(abi, error.status, error.message, undefined, error.outs);
    }
    if (error instanceof RequestError) {
      return errorResponse(abi, error.code, error.message, error.http);
    }
    throw error;
  };

  const call = async (request: Request, route: SyscallRoute): Promise<Response> => {
    const abi = route.abi;
    try {
      const session = sessionOf(request);
      const args = parseWith(route.params, await readJson(request));
      const thread = session.thread;
      const busy = notReady(thread);
      if (busy) throw new RequestError(409, ERR.BAD_STATE, busy);
      const caller = callerOf(session, abi, options.maxBlockMs);
      options.registry.blocked.admit(route.syscall.name); // NO_RESOURCES at the cap
      let outs = route.syscall.impl(caller, args);
      if (outs instanceof Promise) {
        thread.busy = true;
        try {
          // A manual kernel runs its threads while a client waits.
          outs = await options.registry.blocked.hold(caller.kernel.runner.driveWhile(outs));
        } finally {
          thread.busy = false;
        }
      }
      return jsonResponse(successBody(abi, outs));
    } catch (error) {
      return failure(abi, error);
    }
  };

  const handler = async (request: Request, abi: Abi, name: string): Promise<Response> => {
    const route = routes.get(`/v1/${abi}/${name}`);
    if (route) return await call(request, route);
    try {
      sessionOf(request); // the token is checked before the name
      throw new RequestError(404, ERR.BAD_SYSCALL, `there is no syscall ${abi}_${name}`);
    } catch (error) {
      return failure(abi, error);
    }
  };
  return Object.assign(handler, { routeOf: (path: string) => routes.get(path), call });
}
