// The hot path for syscall routes: what makes POST /v1/{abi}/{name} cheap
// without changing a byte of any reply (tests/fast_path.test.ts compares
// every syscall's replies with and without it).
// - Bodies are parsed with zod's compiled parser for each syscall's schema
//   (z.compile: generated code for the schema, which hands any body it does
//   not accept to zod's interpreter, so errors read exactly as before).
// - A call that copies its bytes before returning gets them decoded into a
//   reused buffer rather than a new array each time (params.ts scratchBytes).
// - The app's fetch looks the path up in a map of the syscall routes before
//   Hono's router; every other request goes on to Hono.

import { z } from "zod";
import type { Syscall } from "../kernel/syscalls/define.ts";
import { isBytes, scratchBytes } from "../kernel/syscalls/params.ts";
import { mxThreadWriteState, threadWriteState } from "../kernel/syscalls/thread_state.ts";
import { uncaughtErrorResponse } from "./http.ts";
import type { SyscallHandler } from "./syscalls.ts";

/**
 * Calls whose impl copies its byte input before it returns and never returns
 * a promise, so the bytes may live in the shared scratch buffer: the register
 * writes (arch write() copies into the thread's register file).
 */
const COPIES_BYTES: ReadonlySet<Syscall> = new Set<Syscall>([threadWriteState, mxThreadWriteState]);

/** `params` with its one bytes() field (optional or not) decoding into scratch. */
function withScratchBytes(params: z.ZodType): z.ZodType {
  if (!(params instanceof z.ZodObject)) return params;
  const fields = Object.entries(params.shape as Record<string, z.ZodType>).filter(([, field]) =>
    isBytes(field) || (field instanceof z.ZodOptional && isBytes(field.unwrap() as z.ZodType))
  );
  // Two such fields would share the buffer.
  if (fields.length !== 1) return params;
  const [name, field] = fields[0];
  return params.extend({
    [name]: field instanceof z.ZodOptional ? scratchBytes().optional() : scratchBytes(),
  });
}

const compiled = new WeakMap<Syscall, z.ZodType>();

/**
 * A syscall's params schema compiled by zod: the same output for a body the
 * schema accepts (bytes in scratch for the calls that allow it), the
 * interpreter's issues for one it refuses.
 */
export function compiledParams(syscall: Syscall): z.ZodType {
  let schema = compiled.get(syscall);
  if (!schema) {
    const params = COPIES_BYTES.has(syscall) ? withScratchBytes(syscall.params) : syscall.params;
    schema = z.compile(params);
    compiled.set(syscall, schema);
  }
  return schema;
}

// deno-lint-ignore no-explicit-any
type Fetch = (request: Request, ...rest: any[]) => Response | Promise<Response>;

/** Where the path starts in a request URL ("http://host/path..."): after the scheme's "//". */
const PATH_FROM = "http://x".length;

/** What the fast path needs of the Hono app: its fetch and its route list. */
export interface Router<F extends Fetch> {
  readonly fetch: F;
  readonly routes: readonly { readonly method: string; readonly path: string }[];
}

/**
 * `app.fetch` with POST /v1/{abi}/{syscall} answered first, as the router
 * would answer it: by the syscall handler alone. Only a path that names a
 * syscall exactly (no query, no escapes) is taken; anything else, however
 * close, goes to the router as before. Middleware (a route for every method)
 * would not run for the routes taken here, so an app with any is refused.
 */
export function withSyscallFastPath<F extends Fetch>(syscalls: SyscallHandler, app: Router<F>): F {
  const middleware = app.routes.find((route) => route.method === "ALL");
  if (middleware) {
    throw new Error(
      `${middleware.path} handles every method, but the syscall fast path (routes/fast_path.ts) ` +
        "answers syscalls before the router: make the fast path do its work too, or drop it",
    );
  }
  const next = app.fetch;
  return ((request: Request, ...rest: unknown[]) => {
    if (request.method === "POST") {
      const url = request.url;
      const route = syscalls.routeOf(url.slice(url.indexOf("/", PATH_FROM)));
      if (route) return syscalls.call(request, route).catch(routerError);
    }
    return next(request, ...rest);
  }) as F;
}

/** What Hono makes of a handler's rejection: its onError for an Error, else a rejection. */
function routerError(error: unknown): Response {
  if (error instanceof Error) return uncaughtErrorResponse(error);
  throw error;
}
