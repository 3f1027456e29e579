// Builds the HTTP application: kernel management, one route per syscall
// (from the syscall table), the OpenAPI document, and uniform JSON errors.

import { Hono } from "hono";
import { ABIS } from "./abi.ts";
import { MAX_LIVE_HANDLES } from "../kernel/handle_table.ts";
import { ERR } from "../kernel/status.ts";
import { errorResponse, jsonResponse, RequestError } from "./http.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { docsRoutes } from "./docs.ts";
import { kernelRoutes } from "./kernels.ts";
import { workedExamples } from "./examples.ts";
import { openApiDocument } from "./openapi.ts";
import { KernelRegistry } from "./registry.ts";
import { syscallHandler } from "./syscalls.ts";

export interface AppOptions {
  /** How long one blocking request may wait (object_wait_one), in ms. */
  readonly maxBlockMs?: number;
  /** How many kernels may exist at once. */
  readonly maxKernels?: number;
  /** How many handles may be alive at once in one kernel (Zircon's arena size). */
  readonly maxHandles?: number;
  /** How many bytes one kernel's VMOs may commit (default 256 MiB). */
  readonly maxCommittedBytes?: number;
}

export const DEFAULT_MAX_BLOCK_MS = 30_000;
export const DEFAULT_MAX_KERNELS = 1024;
const SCRATCH_KERNELS = 8;

export function createApp(options: AppOptions = {}) {
  const registry = new KernelRegistry({
    maxKernels: options.maxKernels ?? DEFAULT_MAX_KERNELS,
    maxHandles: options.maxHandles ?? MAX_LIVE_HANDLES,
    maxCommittedBytes: options.maxCommittedBytes,
  });
  const kernels = kernelRoutes(registry);
  const maxBlockMs = options.maxBlockMs ?? DEFAULT_MAX_BLOCK_MS;
  const syscall = syscallHandler({ registry, maxBlockMs });
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
    app.post(`/v1/${abi}/:name`, (c) => syscall(c.req.raw, abi, c.req.param("name")));
  }
  app.get("/openapi.json", async () => jsonResponse(await openApiJson()));
  app.route("/", docsRoutes());
  app.route("/", dashboardRoutes());

  app.notFound((c) =>
    errorResponse("zx", ERR.NOT_FOUND, `no route for ${c.req.method} ${c.req.path}`, 404)
  );
  app.onError((error) => {
    if (error instanceof RequestError) {
      return errorResponse("zx", error.code, error.message, error.http);
    }
    // A bug in zxsim, not in the request: say so without leaking a stack trace.
    console.error(error);
    return errorResponse("zx", ERR.INTERNAL, "internal error in zxsim (logged on the server)", 500);
  });
  return { app, registry };
}
