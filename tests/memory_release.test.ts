// Finding 10 of the reliability issue: memory must come back once kernels
// are deleted. The server of bench/soak.ts (the app as main.ts serves it,
// run with --expose-gc, plus an endpoint that collects garbage and reports
// the page pool and V8's external memory) goes through kernels whose
// threads run code on both arches and whose VMOs hold pages; once they are
// deleted and collected, no page and no 33 MiB slab may stay alive. (The
// x64 decoder once kept the last page it read, and with it a whole slab.)

import assert from "node:assert/strict";
import { PARK_ENTRY, PARK_STACK, TestKernel } from "./helpers.ts";
import { startMemoryServer } from "./real_server.ts";

Deno.test("memory: deleted kernels give back their pages and slabs", async () => {
  const server = await startMemoryServer();
  try {
    const url = server.url;
    const memory = () => server.memory(true);
    const client = Deno.createHttpClient({});
    const fetcher = (path: string, init?: RequestInit) => fetch(url + path, { ...init, client });

    const kernels: TestKernel[] = [];
    const chunk = new Uint8Array(256 * 1024).fill(0x5a).toBase64();
    for (const arch of ["x64", "arm64", "x64", "arm64"]) {
      const k = await TestKernel.create(fetcher, { arch });
      for (let i = 0; i < 2; i++) {
        await k.ok("thread_start", {
          handle: await k.newThread(),
          thread_entry: `0x${PARK_ENTRY.toString(16)}`,
          stack: `0x${(PARK_STACK - BigInt(i * 4096)).toString(16)}`,
        });
      }
      const { out: vmo } = await k.ok("vmo_create", { size: 1 << 20 });
      for (let offset = 0; offset < 1 << 20; offset += 256 * 1024) {
        await k.ok("vmo_write", { handle: vmo, buffer: chunk, offset });
      }
      kernels.push(k);
    }
    const busy = await memory();
    assert.ok(busy.pages >= 4 * 256, `the VMOs' pages are in the pool (${busy.pages})`);
    // Let the threads run (the cores decode and cache their code pages).
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const k of kernels) {
      const response = await fetcher(`/v1/kernels/${k.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${k.token}` },
      });
      await response.body?.cancel();
      assert.equal(response.status, 204);
    }
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await memory(); // finalizers of the first round free slabs the next collects
    const after = await memory();
    assert.ok(after.pages <= 1, `pages still alive: ${after.pages}`);
    assert.ok(after.slabs <= 1, `slabs still alive: ${after.slabs}`);
    // A slab is 33 MiB of external memory: none may be kept by anything.
    assert.ok(
      after.external < 16 << 20,
      `V8 external memory stayed at ${(after.external / (1 << 20)).toFixed(1)} MiB`,
    );
  } finally {
    await server.stop();
  }
});
