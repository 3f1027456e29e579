// ZXSIM_MAX_COMMITTED_BYTES on a real server: each kernel's VMOs may commit
// that much and no more; a bad value stops the server before it listens.

import assert from "node:assert/strict";
import { TestKernel } from "./helpers.ts";
import { freePort, root, START_ARGS, startServer } from "./real_server.ts";
import { expectZx, PAGE } from "./vm_helpers.ts";

Deno.test("ZXSIM_MAX_COMMITTED_BYTES caps what each kernel's VMOs commit", async () => {
  const server = await startServer(["--port", String(freePort())], {
    ZXSIM_MAX_COMMITTED_BYTES: String(64 * PAGE),
  });
  try {
    for (const arch of ["x64", "arm64"]) {
      const k = await TestKernel.create(server.fetcher, { arch });
      const { out: vmo } = await k.ok("vmo_create", { size: 1 << 30 });
      const big = new Uint8Array(65 * PAGE).toBase64();
      expectZx(await k.call("vmo_write", { handle: vmo, buffer: big }), "NO_MEMORY");
      await k.ok("vmo_write", { handle: vmo, buffer: new Uint8Array(32 * PAGE).toBase64() });
    }
  } finally {
    await server.stop();
  }
});

Deno.test("ZXSIM_MAX_COMMITTED_BYTES must be a non-negative integer", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...START_ARGS],
    cwd: root,
    env: { ZXSIM_MAX_COMMITTED_BYTES: "lots" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /ZXSIM_MAX_COMMITTED_BYTES must be/);
});
