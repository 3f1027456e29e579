// Serves zxsim: `deno task start [--port N]`. PORT and HOST env override the
// defaults 8000 and 127.0.0.1; ZXSIM_MAX_BLOCK_MS caps one blocking request,
// ZXSIM_MAX_KERNELS the number of kernels and ZXSIM_MAX_COMMITTED_BYTES the
// memory each kernel's VMOs may commit.

import { parseArgs } from "node:util";
import { createApp, DEFAULT_MAX_BLOCK_MS, DEFAULT_MAX_KERNELS } from "./routes/app.ts";
import { DEFAULT_MAX_COMMITTED_BYTES } from "./kernel/vm/memory_budget.ts";

function numberFrom(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`zxsim: ${what} must be a non-negative integer, got "${text}"`);
    Deno.exit(2);
  }
  return value;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string" }, host: { type: "string" } },
  });
  const port = numberFrom(values.port ?? Deno.env.get("PORT"), 8000, "port");
  const hostname = values.host ?? Deno.env.get("HOST") ?? "127.0.0.1";
  const maxBlockMs = numberFrom(
    Deno.env.get("ZXSIM_MAX_BLOCK_MS"),
    DEFAULT_MAX_BLOCK_MS,
    "ZXSIM_MAX_BLOCK_MS",
  );
  const maxKernels = numberFrom(
    Deno.env.get("ZXSIM_MAX_KERNELS"),
    DEFAULT_MAX_KERNELS,
    "ZXSIM_MAX_KERNELS",
  );
  const maxCommittedBytes = numberFrom(
    Deno.env.get("ZXSIM_MAX_COMMITTED_BYTES"),
    DEFAULT_MAX_COMMITTED_BYTES,
    "ZXSIM_MAX_COMMITTED_BYTES",
  );
  const { app } = createApp({ maxBlockMs, maxKernels, maxCommittedBytes });
  Deno.serve({
    hostname,
    port,
    onListen: ({ hostname, port }) => console.log(`zxsim listening on http://${hostname}:${port}`),
  }, app.fetch);
}
