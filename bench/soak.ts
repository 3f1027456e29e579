// Soak benchmark (not a test): a real server (routes/app.ts served by
// Deno.serve, as main.ts serves it, started with --expose-gc) through many
// kernels: each created, given threads that run a spin loop, a VMO written
// with a few MiB, then deleted, with up to SOAK_LIVE kernels alive at once,
// for SOAK_SECONDS. It prints the server's RSS and V8 heap fresh, at the
// peak, after every kernel is deleted, and after a full GC: the RSS should
// come back near the figure of a warm server (one that did the same work
// once: compiled code and the binary's touched pages stay resident).
//   deno task bench:soak
// Env: SOAK_SECONDS (default 120), SOAK_LIVE (default 48 kernels alive at
// once), SOAK_VMO_MIB (default 2 MiB written per kernel), SOAK_CLIENTS
// (default 4 kernels driven at a time).

import { PARK_ENTRY, PARK_STACK, TestKernel } from "../tests/helpers.ts";
import { type ServerMemory as Memory, startMemoryServer } from "../tests/real_server.ts";

const MEMORY_PATH = "/__soak/memory";

/** Server mode: the app as main.ts serves it, plus MEMORY_PATH (?gc=1 runs a full GC first). */
async function serve(port: number): Promise<void> {
  const { createApp } = await import("../routes/app.ts");
  const { poolStats } = await import("../kernel/vm/page_pool.ts");
  const { app } = createApp({});
  const gc = (globalThis as { gc?: () => void }).gc;
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => console.log("listening"),
  }, async (request, info) => {
    if (request.url.endsWith(MEMORY_PATH) || request.url.endsWith(`${MEMORY_PATH}?gc=1`)) {
      if (request.url.endsWith("?gc=1") && gc) {
        // Several rounds, with turns of the event loop between them: the
        // finalizers a GC schedules (freed pages, then empty slabs) run there.
        // Until external memory (the slabs) stays put for three rounds, at most 30 rounds.
        for (let i = 0, last = -1, same = 0; i < 30 && same < 3; i++) {
          gc();
          await new Promise((resolve) => setTimeout(resolve, 100));
          const { external } = Deno.memoryUsage();
          same = external === last ? same + 1 : 0;
          last = external;
        }
      }
      const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
      return Response.json({ rss, heapUsed, heapTotal, external, ...poolStats });
    }
    return app.fetch(request, info);
  });
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MB`;
}

function line(what: string, m: Memory): string {
  return `${what.padEnd(34)} RSS ${mib(m.rss).padStart(7)}   heap used ${
    mib(m.heapUsed).padStart(6)
  } of ${mib(m.heapTotal).padStart(6)}   external ${
    mib(m.external).padStart(6)
  }   ${m.pages} pages in ${m.slabs} slabs`;
}

async function main(): Promise<void> {
  const seconds = Number(Deno.env.get("SOAK_SECONDS") ?? 120);
  const live = Number(Deno.env.get("SOAK_LIVE") ?? 48);
  const vmoMib = Number(Deno.env.get("SOAK_VMO_MIB") ?? 2);
  const clients = Number(Deno.env.get("SOAK_CLIENTS") ?? 4);
  const server = await startMemoryServer();
  const url = server.url;
  // The work goes through a client of its own, closed before the last
  // figures: its idle kept-alive connections hold the server's per-connection
  // read buffers (a few hundred KiB each after a large body), which belong
  // to live connections, not to deleted kernels.
  const client = Deno.createHttpClient({});
  const fetcher = (path: string, init?: RequestInit) => fetch(url + path, { ...init, client });
  const memory = server.memory;

  try {
    const fresh = await memory(true);
    console.log(`soak: ${seconds} s, up to ${live} kernels alive, ${vmoMib} MiB written each`);
    console.log(line("fresh (after a GC)", fresh));
    let peak = fresh;
    const alive: TestKernel[] = [];
    let created = 0;
    const chunk = new Uint8Array(256 * 1024).map((_, i) => (i * 7 + 1) & 0xff).toBase64();
    const use = async (arch: string): Promise<TestKernel> => {
      const k = await TestKernel.create(fetcher, { arch });
      // Two threads spinning at PARK_ENTRY with their own stacks.
      for (let i = 0; i < 2; i++) {
        const thread = await k.newThread();
        await k.ok("thread_start", {
          handle: thread,
          thread_entry: `0x${PARK_ENTRY.toString(16)}`,
          stack: `0x${(PARK_STACK - BigInt(i * 4096)).toString(16)}`,
        });
      }
      const { out: vmo } = await k.ok("vmo_create", { size: vmoMib << 20 });
      for (let offset = 0; offset < vmoMib << 20; offset += 256 * 1024) {
        await k.ok("vmo_write", { handle: vmo, buffer: chunk, offset });
      }
      await k.ok("vmo_read", { handle: vmo, offset: 0, buffer_size: 4096 });
      return k;
    };
    const remove = async (k: TestKernel) => {
      const response = await fetcher(`/v1/kernels/${k.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${k.token}` },
      });
      await response.body?.cancel();
      if (response.status !== 204) throw new Error(`DELETE ${k.id}: ${response.status}`);
    };
    // A warm server: the same work once (code compiled, the binary's pages
    // touched), everything deleted and collected. What the soak adds beyond
    // this is what many kernels leave behind.
    const warmup = await Promise.all(
      Array.from({ length: clients * 2 }, (_, i) => use(i % 2 ? "arm64" : "x64")),
    );
    await Promise.all(warmup.map(remove));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await memory(true);
    const warm = await memory(true);
    console.log(line(`warm (${warmup.length} kernels, deleted)`, warm));
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const batch = await Promise.all(
        Array.from({ length: clients }, (_, i) => use(i % 2 ? "arm64" : "x64")),
      );
      alive.push(...batch);
      created += batch.length;
      if (alive.length >= live) {
        const now = await memory();
        if (now.rss > peak.rss) peak = now;
        await Promise.all(alive.splice(0, alive.length - live + clients).map(remove));
      }
    }
    const beforeDelete = await memory();
    if (beforeDelete.rss > peak.rss) peak = beforeDelete;
    await Promise.all(alive.splice(0).map(remove));
    const deleted = await memory();
    client.close();
    // Let the kernels' timers and in-flight runs finish before the GC.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Twice: the finalizers of the first round's GCs free slabs only the next round collects.
    await memory(true);
    const collected = await memory(true);
    console.log(line(`peak (${created} kernels made)`, peak));
    console.log(line("after deleting every kernel", deleted));
    console.log(line("after a GC", collected));
    console.log(
      `RSS after a GC / fresh: ${(collected.rss / fresh.rss).toFixed(2)}x ` +
        `(+${mib(collected.rss - fresh.rss)}); / warm: ${(collected.rss / warm.rss).toFixed(2)}x ` +
        `(+${mib(collected.rss - warm.rss)})`,
    );
  } finally {
    await server.stop();
  }
}

if (Deno.args[0] === "--serve") await serve(Number(Deno.args[1]));
else await main();
