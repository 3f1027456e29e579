// POST /v1/zx/batch and /v1/mx/batch: an ordered list of syscalls made by
// the token's thread in one request. Each call goes through the single
// route's steps in the single route's order (the name, the arguments, the
// thread's state, the impl; routes/syscalls.ts) and its result is the very
// body POST /v1/{abi}/{name} would have answered at that point, with its HTTP
// status beside it as data. No syscall may be called "batch" (the name would
// shadow this route; tests/batch.test.ts checks the table).

import { z } from "zod";
import type { Abi } from "../arch/arch.ts";
import type { Caller } from "../kernel/syscalls/define.ts";
import { syscallsOf } from "../kernel/syscalls/table.ts";
import { ERR, ZxError } from "../kernel/status.ts";
import { errorBody, httpStatusFor, successBody } from "./abi.ts";
import {
  bearerToken,
  errorResponse,
  jsonResponse,
  parseWith,
  readJson,
  RequestError,
} from "./http.ts";
import { callerOf, type KernelRegistry } from "./registry.ts";
import { notReady, type SyscallHandler, type SyscallRoute } from "./syscalls.ts";

/** The route's last path segment: POST /v1/{abi}/batch. */
export const BATCH_NAME = "batch";

/** At most this many calls in one batch (the 1 MiB body limit holds for the whole batch too). */
export const MAX_BATCH_CALLS = 10_000;

export const BATCH_MODES = ["stop_on_error", "continue"] as const;
export type BatchMode = (typeof BATCH_MODES)[number];

/** Why a batch ended: every call ran, a call failed in stop_on_error mode, or the caller died. */
export const BATCH_ENDINGS = ["complete", "error", "thread_dead"] as const;
export type BatchEnding = (typeof BATCH_ENDINGS)[number];

export const batchCallSchema = z.strictObject({
  name: z.string().describe(
    'a syscall of this ABI, without zx_/mx_ (e.g. "thread_write_state"); an unknown one is ' +
      "that call's 404 BAD_SYSCALL, not the batch's",
  ),
  args: z.unknown().optional().describe(
    "the body POST /v1/{abi}/{name} would take (default {}); a bad one is that call's 400",
  ),
});

export const batchSchema = z.strictObject({
  calls: z.array(batchCallSchema).max(MAX_BATCH_CALLS).describe(
    `the calls, in order, at most ${MAX_BATCH_CALLS}; the token's thread makes each one`,
  ),
  mode: z.enum(BATCH_MODES).default("stop_on_error").describe(
    '"stop_on_error": stop after the first call that fails; "continue": run every call',
  ),
});

export const batchResultSchema = z.strictObject({
  http: z.number().int().min(100).max(599).describe(
    "the HTTP status the single route would have answered",
  ),
  body: z.looseObject({
    status: z.string().describe("ZX_OK, ZX_ERR_... (MX_ on /v1/mx)"),
    code: z.number().int(),
    message: z.string().optional().describe("on failures: why"),
  }).describe("the body the single route would have answered, outs and all"),
});

export const batchReplySchema = z.strictObject({
  status: z.enum(["ZX_OK", "MX_OK"]).describe("the batch ran (its calls may have failed)"),
  code: z.literal(0),
  ended: z.enum(BATCH_ENDINGS).describe(
    '"complete": every call ran; "error": a call failed in stop_on_error mode (the last ' +
      'result); "thread_dead": the calling thread died in the last call run (thread_exit, ' +
      "process_exit, a kill, its kernel deleted); later calls did not run",
  ),
  results: z.array(batchResultSchema).describe("one per call run, in order"),
});

export interface BatchRouteOptions {
  readonly registry: KernelRegistry;
  readonly maxBlockMs: number;
  /** The single route's handler: each call is parsed with its schema for that syscall. */
  readonly syscalls: Pick<SyscallHandler, "routeOf">;
}

/** One call's HTTP status and body; `body` is JSON text, as the single route sends it. */
interface Result {
  http: number;
  body: string;
}

const okPrefix = { zx: '{"status":"ZX_OK","code":0', mx: '{"status":"MX_OK","code":0' };

export function batchHandler(options: BatchRouteOptions) {
  // The single route's own routes (table entry and params schema, compiled or
  // not as it parses them), by name, per ABI.
  const routesOf = (abi: Abi) =>
    new Map(
      [...syscallsOf(abi).keys()].map((name) => [
        name,
        options.syscalls.routeOf(`/v1/${abi}/${name}`)!,
      ]),
    );
  const routes: Record<Abi, ReadonlyMap<string, SyscallRoute>> = {
    zx: routesOf("zx"),
    mx: routesOf("mx"),
  };

  /** A blocking call's reply once it returns; a manual kernel runs its threads meanwhile. */
  async function settle(
    abi: Abi,
    caller: Caller,
    pending: Promise<Record<string, unknown>>,
  ): Promise<Result> {
    try {
      const outs = await options.registry.blocked.hold(caller.kernel.runner.driveWhile(pending));
      return { http: 200, body: successBody(abi, outs) };
    } catch (error) {
      return failure(abi, error);
    }
  }

  /**
   * One call, as routes/syscalls.ts makes it once the token is known: name
   * (404), arguments (400), thread state (409), impl; a blocking impl's reply
   * comes as a promise.
   */
  function call(
    abi: Abi,
    caller: Caller,
    name: string,
    args: unknown,
  ): Result | Promise<Result> {
    try {
      const route = routes[abi].get(name);
      if (!route) {
        throw new RequestError(404, ERR.BAD_SYSCALL, `there is no syscall ${abi}_${name}`);
      }
      const parsed = parseWith(route.params, args === undefined ? {} : args);
      const busy = notReady(caller.thread);
      if (busy) throw new RequestError(409, ERR.BAD_STATE, busy);
      options.registry.blocked.admit(route.syscall.name); // NO_RESOURCES at the cap
      const outs = route.syscall.impl(caller, parsed);
      if (outs instanceof Promise) return settle(abi, caller, outs);
      return { http: 200, body: successBody(abi, outs) };
    } catch (error) {
      return failure(abi, error);
    }
  }

  return async (request: Request, abi: Abi): Promise<Response> => {
    try {
      const token = bearerToken(request);
      const session = token === undefined ? undefined : options.registry.session(token);
      if (!session) {
        throw new RequestError(401, ERR.ACCESS_DENIED, "missing or unknown bearer token");
      }
      const { calls, mode } = parseWith(batchSchema, await readJson(request));
      const thread = session.thread;
      // Another request of this thread is blocked: the batch is one request
      // that cannot have the thread, refused whole before any call runs.
      if (thread.busy) throw new RequestError(409, ERR.BAD_STATE, notReady(thread)!);
      const caller = callerOf(session, abi, options.maxBlockMs);
      const stopOnError = mode === "stop_on_error";
      let results = "";
      let ended: BatchEnding = "complete";
      // The thread is the batch's until it ends. Between awaits nothing else
      // runs; from the first blocking call on, `busy` stays set at every
      // await (other requests with the token get 409), and is cleared only
      // for each call's own check, which runs synchronously with the call.
      let held = false;
      try {
        for (let i = 0; i < calls.length; i++) {
          if (held) thread.busy = false;
          let result = call(abi, caller, calls[i].name, calls[i].args);
          if (result instanceof Promise) {
            thread.busy = held = true;
            result = await result;
          }
          results += `${i === 0 ? "" : ","}{"http":${result.http},"body":${result.body}}`;
          if (!thread.alive) {
            ended = "thread_dead";
            break;
          }
          if (stopOnError && result.http !== 200) {
            ended = "error";
            break;
          }
        }
      } finally {
        if (held) thread.busy = false;
      }
      return jsonResponse(`${okPrefix[abi]},"ended":"${ended}","results":[${results}]}`);
    } catch (error) {
      if (error instanceof RequestError) {
        return errorResponse(abi, error.code, error.message, error.http);
      }
      throw error;
    }
  };
}

/** A failed call's reply, exactly as the single route spells it. */
function failure(abi: Abi, error: unknown): Result {
  if (error instanceof ZxError) {
    return {
      http: httpStatusFor(error.status),
      body: errorBody(abi, error.status, error.message, error.outs),
    };
  }
  if (error instanceof RequestError) {
    return { http: error.http, body: errorBody(abi, error.code, error.message) };
  }
  throw error;
}
