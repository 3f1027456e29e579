// HTTP load benchmark (not a test): wrk against the real zxsim server and
// against a bare Deno.serve handler that only decodes the same JSON+base64
// body, in one run, medians of 3. Prints both rps and their ratio.
//   deno task bench:http          (needs wrk: apt-get install wrk)
// Env: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 32), BENCH_RUNS (default 3).

const seconds = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 32);
const runs = Number(Deno.env.get("BENCH_RUNS") ?? 3);
const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForReady(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/ready|listening/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before it was ready: ${seen}`);
    seen += value;
  }
  reader.releaseLock();
}

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), { args, cwd: root, stdout: "piped", stderr: "inherit" })
    .spawn();
}

async function post(base: string, path: string, body: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method: "POST", headers, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
  return json;
}

/** A kernel with a suspended thread, and the write_state request body for it. */
async function prepare(base: string) {
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
  const buffer = Uint8Array.from({ length: 160 }, (_, i) => i + 1);
  const view = new DataView(buffer.buffer);
  view.setBigUint64(128, 0x1000n, true);
  view.setBigUint64(136, 0x244ed7n, true);
  view.setBigUint64(144, 0n, true);
  view.setBigUint64(152, 0n, true);
  const body = JSON.stringify({ handle: thread, kind: 0, buffer: buffer.toBase64() });
  await post(base, "/v1/zx/thread_write_state", JSON.parse(body), token);
  return { token, body };
}

async function wrk(url: string, body: string, token: string): Promise<number> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n` +
      `wrk.headers["Content-Type"] = "application/json"\n` +
      `wrk.headers["Authorization"] = "Bearer ${token}"\n`,
  );
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", script, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(script);
  const text = new TextDecoder().decode(out.stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} failed responses:\n${text}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!out.success || !rps) {
    throw new Error(`wrk failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return Number(rps[1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const zxPort = freePort();
const barePort = freePort();
const zxsim = spawn(["run", "--allow-net", "--allow-env", "main.ts", "--port", String(zxPort)]);
const bare = spawn(["run", "--allow-net", `${here}bare_server.ts`, String(barePort)]);
try {
  await Promise.all([waitForReady(zxsim), waitForReady(bare)]);
  const zxBase = `http://127.0.0.1:${zxPort}`;
  const { token, body } = await prepare(zxBase);
  const zx: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < runs; i++) {
    baseline.push(await wrk(`http://127.0.0.1:${barePort}/`, body, token));
    zx.push(await wrk(`${zxBase}/v1/zx/thread_write_state`, body, token));
  }
  const [z, b] = [median(zx), median(baseline)];
  console.log(`wrk -t1 -c${connections} -d${seconds}s, median of ${runs}`);
  console.log(`bare Deno.serve (JSON + base64 decode): ${b.toFixed(0)} req/s`);
  console.log(`zxsim POST /v1/zx/thread_write_state:   ${z.toFixed(0)} req/s`);
  console.log(`ratio zxsim / bare: ${(z / b).toFixed(2)} (target >= 0.65)`);
} finally {
  zxsim.kill();
  bare.kill();
  await Promise.allSettled([zxsim.status, bare.status]);
}
