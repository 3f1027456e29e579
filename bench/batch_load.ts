// HTTP load benchmark of the batch route (not a test): a few concurrent
// clients POST /v1/zx/batch with 1,000 zx_thread_write_state calls each (a
// whole 160-byte register buffer per call, on a suspended thread) for a few
// seconds, and count syscalls per second. Every call must succeed.
//   deno run -A bench/batch_load.ts      (starts its own server)
// bench/http.ts calls measureBatch against the server it started.
// Env: BATCH_SECONDS (default 5), BATCH_CLIENTS (default 4), BATCH_SIZE (default 1000),
// BATCH_RUNS (default 3, standalone only).

const seconds = Number(Deno.env.get("BATCH_SECONDS") ?? 5);
const clients = Number(Deno.env.get("BATCH_CLIENTS") ?? 4);
const batchSize = Number(Deno.env.get("BATCH_SIZE") ?? 1000);

/** A general-regs buffer that thread_write_state accepts unchanged (canonical pc, user flags). */
function registerBuffer(seed: number): string {
  const buffer = Uint8Array.from({ length: 160 }, (_, i) => (i + seed) & 0xff);
  const view = new DataView(buffer.buffer);
  view.setBigUint64(128, 0x1000n + BigInt(seed), true); // rip
  view.setBigUint64(136, 0x244ed7n, true); // rflags: user bits and IF
  view.setBigUint64(144, 0n, true); // fs_base
  view.setBigUint64(152, 0n, true); // gs_base
  return buffer.toBase64();
}

/** The batch body: `batchSize` writes of varying registers to `thread`. */
export function batchBody(thread: number, size = batchSize): string {
  const calls = Array.from({ length: size }, (_, i) => ({
    name: "thread_write_state",
    args: { handle: thread, kind: 0, buffer: registerBuffer(i % 251) },
  }));
  return JSON.stringify({ calls, mode: "stop_on_error" });
}

/** `clients` concurrent clients POSTing `body` to /v1/zx/batch for `forSeconds`. */
async function load(
  base: string,
  token: string,
  body: string,
  forSeconds: number,
): Promise<{ syscallsPerSecond: number; batches: number }> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const expected = '{"status":"ZX_OK","code":0,"ended":"complete"';
  const bytes = new TextEncoder().encode(body); // encoded once, not per request
  let batches = 0;
  const start = performance.now();
  const end = start + forSeconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const response = await fetch(`${base}/v1/zx/batch`, { method: "POST", headers, body: bytes });
      const text = await response.text();
      if (response.status !== 200 || !text.startsWith(expected)) {
        throw new Error(`batch failed: HTTP ${response.status} ${text.slice(0, 400)}`);
      }
      batches++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  return { syscallsPerSecond: (batches * batchSize) / elapsed, batches };
}

/**
 * Syscalls per second through POST /v1/zx/batch: after a second's warm-up
 * (JIT, connections), `clients` concurrent clients each send batches of
 * `batchSize` thread_write_state calls on `thread` (a suspended x64 thread
 * in the token's process) for `seconds`.
 */
export async function measureBatch(
  base: string,
  token: string,
  thread: number,
): Promise<{ syscallsPerSecond: number; batches: number }> {
  const body = batchBody(thread);
  await load(base, token, body, 1);
  return await load(base, token, body, seconds);
}

async function post(base: string, path: string, body: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(base + path, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
  return json;
}

/** A kernel with a suspended, started x64 thread: its token and the thread's handle. */
export async function prepareBatchTarget(base: string): Promise<{ token: string; thread: number }> {
  const { token, handles } = await post(base, "/v1/kernels", { arch: "x64" });
  const { out: thread } = await post(base, "/v1/zx/thread_create", {
    process: handles.process,
    name: "bench",
  }, token);
  await post(base, "/v1/zx/task_suspend", { handle: thread }, token);
  await post(base, "/v1/zx/thread_start", {
    handle: thread,
    thread_entry: "0x1000000",
    stack: "0x2000000",
  }, token);
  return { token, thread };
}

/** User + system CPU seconds process `pid` has used (Linux; Deno reads /proc only with -A). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after "(comm)": state is field 3, utime 14 and stime 15, in USER_HZ (100) ticks.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

if (import.meta.main) {
  const runs = Number(Deno.env.get("BATCH_RUNS") ?? 3);
  const root = new URL("..", import.meta.url).pathname;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  // Started as `deno task start` starts it: its arguments from deno.json.
  const { tasks } = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const startArgs = (tasks.start as string).split(/\s+/).slice(1);
  const server = new Deno.Command(Deno.execPath(), {
    args: [...startArgs, "--port", String(port)],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before it was ready: ${seen}`);
      seen += value;
    }
    reader.releaseLock();
    const base = `http://127.0.0.1:${port}`;
    const { token, thread } = await prepareBatchTarget(base);
    const body = batchBody(thread);
    const figures: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      await load(base, token, body, 1); // warm-up
      const before = await cpuSeconds(server.pid);
      const { syscallsPerSecond, batches } = await load(base, token, body, seconds);
      // Server CPU per syscall: steadier than syscalls/s on a shared machine.
      const us = ((await cpuSeconds(server.pid)) - before) * 1e6 / (batches * batchSize);
      figures.push(syscallsPerSecond);
      cpu.push(us);
      console.log(
        `run ${i + 1}: ${batches} batches of ${batchSize} in ${seconds}s, ` +
          `${clients} clients: ${syscallsPerSecond.toFixed(0)} syscalls/s, ` +
          `server CPU ${us.toFixed(2)} us per syscall`,
      );
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(
      `median: ${median(figures).toFixed(0)} syscalls/s (target >= 300000), ` +
        `server CPU ${median(cpu).toFixed(2)} us per syscall`,
    );
  } finally {
    server.kill();
    await server.status;
  }
}
