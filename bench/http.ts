// HTTP load benchmark (not a test): wrk against the real zxsim server
// (started as `deno task start` starts it) and against a bare Deno.serve
// handler that only decodes the same JSON + base64 body, in interleaved
// rounds. For each it prints the medians over the rounds of requests/s and
// of server CPU time per request (utime + stime of the server process, all
// its threads, from /proc/<pid>/stat, divided by the requests wrk completed),
// and the ratios zxsim / bare. CPU per request is far steadier than
// requests/s on a shared machine. Then batched syscalls/s (bench/batch_load.ts).
//   deno task bench:http          (needs wrk: apt-get install wrk)
// Env: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 32), BENCH_RUNS (default 5).

import { measureBatch } from "./batch_load.ts";

const seconds = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 32);
const runs = Number(Deno.env.get("BENCH_RUNS") ?? 5);
const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;
const WARM_UP_SECONDS = 2;

/** `deno task start` after "deno": run, its permissions, main.ts. */
const START_ARGS: string[] = (() => {
  const { tasks } = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`));
  const [deno, ...rest] = (tasks.start as string).split(/\s+/);
  if (deno !== "deno") throw new Error(`unexpected start task: ${tasks.start}`);
  return rest;
})();

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

/**
 * User + system CPU seconds a process (all its threads) has used so far.
 * Read with cat: Deno lets only --allow-all read /proc directly.
 */
async function cpuSeconds(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" })
    .output();
  const stat = new TextDecoder().decode(out.stdout);
  // Fields after "(comm)": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
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
  return { token, body, thread: thread as number };
}

interface Round {
  readonly rps: number;
  /** Server CPU time per completed request, in microseconds. */
  readonly cpuUs: number;
}

/** One wrk run; every reply must be a 2xx. */
async function wrk(url: string, script: string, pid: number, duration = seconds): Promise<Round> {
  const cpuBefore = await cpuSeconds(pid);
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${duration}s`, "-s", script, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = (await cpuSeconds(pid)) - cpuBefore;
  const text = new TextDecoder().decode(out.stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} failed responses:\n${text}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  if (!out.success || !rps || !requests) {
    throw new Error(`wrk failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return { rps: Number(rps[1]), cpuUs: (cpu / Number(requests[1])) * 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const zxPort = freePort();
const barePort = freePort();
const zxsim = spawn([...START_ARGS, "--port", String(zxPort)]);
const bare = spawn(["run", "--allow-net", `${here}bare_server.ts`, String(barePort)]);
const script = await Deno.makeTempFile({ suffix: ".lua" });
try {
  await Promise.all([waitForReady(zxsim), waitForReady(bare)]);
  const zxBase = `http://127.0.0.1:${zxPort}`;
  const { token, body, thread } = await prepare(zxBase);
  await Deno.writeTextFile(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n` +
      `wrk.headers["Content-Type"] = "application/json"\n` +
      `wrk.headers["Authorization"] = "Bearer ${token}"\n`,
  );
  const bareUrl = `http://127.0.0.1:${barePort}/`;
  const zxUrl = `${zxBase}/v1/zx/thread_write_state`;
  // Compiled code and warm connections before anything counts.
  await wrk(bareUrl, script, bare.pid, WARM_UP_SECONDS);
  await wrk(zxUrl, script, zxsim.pid, WARM_UP_SECONDS);
  const zx: Round[] = [];
  const baseline: Round[] = [];
  for (let i = 0; i < runs; i++) {
    baseline.push(await wrk(bareUrl, script, bare.pid));
    zx.push(await wrk(zxUrl, script, zxsim.pid));
  }
  const of = (rounds: Round[], figure: (r: Round) => number) => median(rounds.map(figure));
  const rps = { zx: of(zx, (r) => r.rps), bare: of(baseline, (r) => r.rps) };
  const cpu = { zx: of(zx, (r) => r.cpuUs), bare: of(baseline, (r) => r.cpuUs) };
  // Each round's zxsim figure over the bare figure just before it: less sensitive to drift.
  const paired = (figure: (r: Round) => number) =>
    median(zx.map((r, i) => figure(r) / figure(baseline[i])));
  const list = (rounds: Round[], figure: (r: Round) => number, digits: number) =>
    rounds.map((r) => figure(r).toFixed(digits)).join(" ");
  console.log(`wrk -t1 -c${connections} -d${seconds}s, ${runs} interleaved rounds, medians`);
  console.log(
    `bare Deno.serve (JSON + base64 decode): ${rps.bare.toFixed(0)} req/s, ` +
      `${cpu.bare.toFixed(1)} us CPU/request`,
  );
  console.log(
    `  rounds: ${list(baseline, (r) => r.rps, 0)} req/s; ` +
      `${list(baseline, (r) => r.cpuUs, 1)} us`,
  );
  console.log(
    `zxsim POST /v1/zx/thread_write_state:   ${rps.zx.toFixed(0)} req/s, ` +
      `${cpu.zx.toFixed(1)} us CPU/request`,
  );
  console.log(`  rounds: ${list(zx, (r) => r.rps, 0)} req/s; ${list(zx, (r) => r.cpuUs, 1)} us`);
  console.log(
    `ratio zxsim / bare, req/s:       ${(rps.zx / rps.bare).toFixed(2)} ` +
      `(round by round: ${paired((r) => r.rps).toFixed(2)}; target >= 0.75)`,
  );
  console.log(
    `ratio zxsim / bare, CPU/request: ${(cpu.zx / cpu.bare).toFixed(2)} ` +
      `(round by round: ${paired((r) => r.cpuUs).toFixed(2)}; target <= 1.4)`,
  );

  // Batched calls (POST /v1/zx/batch, routes/batch.ts), after the single ones.
  const batch = await measureBatch(zxBase, token, thread);
  console.log(
    `batched syscalls/s, batches of 1000: ${batch.syscallsPerSecond.toFixed(0)} ` +
      `(${batch.batches} batches; target >= 300,000)`,
  );
} finally {
  await Deno.remove(script);
  zxsim.kill();
  bare.kill();
  await Promise.allSettled([zxsim.status, bare.status]);
}
