// Builds the HTTP application: kernel management, one route per syscall
// (from the syscall table), the OpenAPI document, and uniform JSON errors.

import { Hono } from "hono";
import { ABIS } from "./abi.ts";
import { MAX_LIVE_HANDLES } from "../kernel/handle_table.ts";
import { DEFAULT_MAX_OBJECTS, DEFAULT_MAX_THREADS_PER_PROCESS } from "../kernel/limits.ts";
import { DEFAULT_MAX_COMMITTED_BYTES } from "../kernel/vm/memory_budget.ts";
import { ERR } from "../kernel/status.ts";
import {
  bearerToken,
  errorResponse,
  jsonResponse,
  RequestError,
  uncaughtErrorResponse,
} from "./http.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { docsRoutes } from "./docs.ts";
import { kernelRoutes } from "./kernels.ts";
import { workedExamples } from "./examples.ts";
import { openApiDocument } from "./openapi.ts";
import { KernelRegistry } from "./registry.ts";
import { syscallHandler } from "./syscalls.ts";
import { withSyscallFastPath } from "./fast_path.ts";
import { BATCH_NAME, batchHandler } from "./batch.ts";

export interface AppOptions {
  /** How long one blocking request may wait (object_wait_one), in ms. */
  readonly maxBlockMs?: number;
  /** How many kernels may exist at once. */
  readonly maxKernels?: number;
  /** How many handles may be alive at once in one kernel (Zircon's arena size). */
  readonly maxHandles?: number;
  /** How many bytes one kernel's VMOs may commit (default 256 MiB). */
  readonly maxCommittedBytes?: number;
  /** Live kernel objects per kernel (kernel/limits.ts; default 65,536). */
  readonly maxObjects?: number;
  /** Threads per process, created and not destroyed (default 4,096). */
  readonly maxThreadsPerProcess?: number;
  /** Requests blocked in a syscall at once, server-wide (default 4,096). */
  readonly maxBlockedCalls?: number;
  /** A kernel no request has used for this long (ms) is deleted; 0 = never (default 1 hour). */
  readonly kernelTtlMs?: number;
  /** When set, POST /v1/kernels needs `Authorization: Bearer <createToken>`. */
  readonly createToken?: string;
  /** The clock kernel expiry reads, in ms (tests). Default performance.now. */
  readonly now?: () => number;
  /** Syscall routes before the router, compiled parsers (routes/fast_path.ts). Default true. */
  readonly fastPath?: boolean;
}

/** The methods a 405's Allow header may list (HEAD goes with GET, as Hono answers it). */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** The methods that have a route at `path`: none for a path that does not exist. */
function allowedMethods(app: Hono, path: string): string[] {
  // A method no route uses matches only handlers for every method (middleware).
  const everyMethod = app.router.match("ZXSIM-NONE", path)[0].length;
  const allowed: string[] = [];
  for (const method of METHODS) {
    if (app.router.match(method, path)[0].length <= everyMethod) continue;
    allowed.push(method);
    if (method === "GET") allowed.push("HEAD");
  }
  return allowed;
}

export const DEFAULT_MAX_BLOCK_MS = 30_000;
export const DEFAULT_MAX_KERNELS = 1024;
/** A blocked request holds a connection and a few KiB; 4,096 stay well inside 24 GiB. */
export const DEFAULT_MAX_BLOCKED_CALLS = 4096;
export const DEFAULT_KERNEL_TTL_MS = 60 * 60 * 1000;
const SCRATCH_KERNELS = 8;

export function createApp(options: AppOptions = {}) {
  const registry = new KernelRegistry({
    maxKernels: options.maxKernels ?? DEFAULT_MAX_KERNELS,
    maxBlockedCalls: options.maxBlockedCalls ?? DEFAULT_MAX_BLOCKED_CALLS,
    kernelTtlMs: options.kernelTtlMs ?? DEFAULT_KERNEL_TTL_MS,
    kernel: {
      objects: options.maxObjects ?? DEFAULT_MAX_OBJECTS,
      threads_per_process: options.maxThreadsPerProcess ?? DEFAULT_MAX_THREADS_PER_PROCESS,
      handles: options.maxHandles ?? MAX_LIVE_HANDLES,
      committed_bytes: options.maxCommittedBytes ?? DEFAULT_MAX_COMMITTED_BYTES,
    },
    now: options.now,
  });
  const kernels = kernelRoutes(registry, { createToken: options.createToken });
  const maxBlockMs = options.maxBlockMs ?? DEFAULT_MAX_BLOCK_MS;
  const fastPath = options.fastPath ?? true;
  const syscall = syscallHandler({ registry, maxBlockMs, compiled: fastPath });
  const batch = batchHandler({ registry, maxBlockMs, syscalls: syscall });
  // The document's worked examples run in a scratch app, never in the kernels
  // this server hosts; they are made once, on the first request for them.
  let openapi: Promise<string> | undefined;
  const openApiJson = () => {
    if (!openapi) {
      // Default limits: the examples need a few kernels whatever this server allows.
      const scratch = createApp({ maxKernels: SCRATCH_KERNELS }).app;
      openapi = workedExamples((request) => scratch.fetch(request))
        .then((examples) => JSON.stringify(openApiDocument(examples)))
        .catch((error) => {
          openapi = undefined; // a later request tries again
          throw error;
        });
    }
    return openapi;
  };

  const app = new Hono();
  app.post("/v1/kernels", (c) => kernels.create(c.req.raw));
  // The caller's kernels: a token belongs to exactly one kernel, so one entry.
  app.get("/v1/kernels", (c) => {
    const token = bearerToken(c.req.raw);
    const kernel = token === undefined ? undefined : registry.session(token)?.kernel;
    if (!kernel) {
      throw new RequestError(
        401,
        ERR.ACCESS_DENIED,
        "missing or unknown bearer token: GET /v1/kernels lists the kernel of the token sent",
      );
    }
    return jsonResponse(
      JSON.stringify({ kernels: [{ kernel: kernel.id, arch: kernel.arch.name }] }),
    );
  });
  app.get("/v1/kernels/:id", (c) => kernels.get(c.req.raw, c.req.param("id")));
  app.delete("/v1/kernels/:id", (c) => kernels.remove(c.req.raw, c.req.param("id")));
  app.post("/v1/kernels/:id/tokens", (c) => kernels.issueToken(c.req.raw, c.req.param("id")));
  app.get("/v1/kernels/:id/debuglog", (c) => kernels.debuglog(c.req.raw, c.req.param("id")));
  app.post(
    "/v1/kernels/:id/advance",
    (c) => kernels.advance(c.req.raw, c.req.param("id"), maxBlockMs),
  );
  // One static prefix per ABI: cheaper to route than a pattern on the ABI.
  for (const abi of ABIS) {
    // Registered first: "batch" is never a syscall name (routes/batch.ts).
    app.post(`/v1/${abi}/${BATCH_NAME}`, (c) => batch(c.req.raw, abi));
    app.post(`/v1/${abi}/:name`, (c) => syscall(c.req.raw, abi, c.req.param("name")));
  }
  app.get("/openapi.json", async () => jsonResponse(await openApiJson()));
  app.route("/", docsRoutes());
  app.route("/", dashboardRoutes());

  app.notFound((c) => {
    // A path that exists with other methods is 405, with the methods it takes.
    const allow = allowedMethods(app, c.req.path);
    if (allow.length === 0) {
      return errorResponse("zx", ERR.NOT_FOUND, `no route for ${c.req.method} ${c.req.path}`, 404);
    }
    const response = errorResponse(
      "zx",
      ERR.NOT_SUPPORTED,
      `${c.req.path} does not take ${c.req.method}; it takes ${allow.join(", ")}`,
      405,
    );
    response.headers.set("allow", allow.join(", "));
    return response;
  });
  app.onError(uncaughtErrorResponse);
  if (fastPath) app.fetch = withSyscallFastPath(syscall, app);
  return { app, registry };
}
