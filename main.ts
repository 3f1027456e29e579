// Serves zxsim: `deno task start [--port N] [--log]`. PORT and HOST env
// override the defaults 8000 and 127.0.0.1; ZXSIM_MAX_BLOCK_MS caps one
// blocking request, ZXSIM_MAX_KERNELS the number of kernels and
// ZXSIM_MAX_COMMITTED_BYTES the memory each kernel's VMOs may commit;
// ZXSIM_MAX_OBJECTS, ZXSIM_MAX_THREADS_PER_PROCESS, ZXSIM_MAX_BLOCKED_CALLS,
// ZXSIM_KERNEL_TTL_MS and ZXSIM_CREATE_TOKEN: see README "Limits";
// ZXSIM_BODY_TIMEOUT_MS (default 10 s) and ZXSIM_HEADER_TIMEOUT_MS (default
// 10 s off loopback, off on loopback) bound slow clients (README "The HTTP
// contract");
// `--log` or ZXSIM_LOG=1 prints one access-log line per request.
//
// The server stops on SIGINT, SIGTERM or SIGHUP, and on its own when the
// processes that started it are gone: `npx … task start` runs it as
// npm exec -> sh -> deno task -> this process, and a SIGTERM to npm reaches
// sh only, which dies without passing it on.

import { parseArgs } from "node:util";
import {
  createApp,
  DEFAULT_KERNEL_TTL_MS,
  DEFAULT_MAX_BLOCK_MS,
  DEFAULT_MAX_BLOCKED_CALLS,
  DEFAULT_MAX_KERNELS,
} from "./routes/app.ts";
import { DEFAULT_MAX_OBJECTS, DEFAULT_MAX_THREADS_PER_PROCESS } from "./kernel/limits.ts";
import { DEFAULT_MAX_COMMITTED_BYTES } from "./kernel/vm/memory_budget.ts";
import {
  DEFAULT_BODY_TIMEOUT_MS,
  defaultHeaderTimeoutMs,
  serveWithHeaderTimeout,
  setBodyTimeout,
} from "./routes/http.ts";

function numberFrom(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`zxsim: ${what} must be a non-negative integer, got "${text}"`);
    Deno.exit(2);
  }
  return value;
}

/** A request handler as Deno.serve takes it. */
export type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/**
 * `handler` writing one line per request once its reply is ready: method,
 * path (with the query), HTTP status and the time taken in ms, e.g.
 * `POST /v1/zx/thread_write_state 200 0.4ms`.
 */
export function withAccessLog(handler: Handler, write: (line: string) => void): Handler {
  return async (request, info) => {
    const start = performance.now();
    let status = 500; // what the client gets if the handler throws
    try {
      const response = await handler(request, info);
      status = response.status;
      return response;
    } finally {
      const url = new URL(request.url);
      const ms = (performance.now() - start).toFixed(1);
      write(`${request.method} ${url.pathname}${url.search} ${status} ${ms}ms`);
    }
  };
}

/** Whether ZXSIM_LOG asks for the access log. */
export function logFromEnv(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

// ---------------------------------------------------------------------------
// Stopping

/** How often the server looks for the processes that started it. */
const WATCH_MS = 1000;

/**
 * Processes that only launch the server (`npm exec`, its `sh -c`, `deno
 * task`, a test runner): when one of them is gone, so is the reason to run.
 * A login shell is not one: a server started with nohup outlives it.
 */
const LAUNCHER = /^(deno|node|npm|npx|sh|dash)$|^npm |^npx /;

interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly alive: boolean;
  readonly command: string;
}

/** `ps` on `pids`: parent, liveness (a zombie is dead) and command name of each found. */
async function ps(pids: readonly number[]): Promise<Map<number, ProcessInfo>> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=,ppid=,stat=,comm=", "-p", pids.join(",")],
    stdout: "piped",
    stderr: "null",
  }).output();
  const found = new Map<number, ProcessInfo>();
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const pid = Number(m[1]);
    found.set(pid, { pid, ppid: Number(m[2]), alive: !m[3].startsWith("Z"), command: m[4] });
  }
  return found;
}

/** The launchers above this process, nearest first (none without `ps`). */
async function launchers(): Promise<ProcessInfo[]> {
  const chain: ProcessInfo[] = [];
  for (let pid = Deno.ppid; pid > 1 && chain.length < 16;) {
    const info = (await ps([pid])).get(pid);
    if (!info || !LAUNCHER.test(info.command)) break;
    chain.push(info);
    pid = info.ppid;
  }
  return chain;
}

/**
 * Ends the process on SIGINT, SIGTERM or SIGHUP, or when its parent or a
 * launcher above it exits. Requests in flight (a blocked wait) are dropped.
 */
export async function stopWhenAsked(): Promise<void> {
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return; // Ctrl-C reaches both deno task and this process, which also forwards it
    stopping = true;
    console.log(`zxsim: stopping (${why})`);
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    try {
      Deno.addSignalListener(signal, () => stop(signal));
    } catch {
      // Windows has SIGINT (Ctrl-C) and SIGBREAK only.
    }
  }
  const parent = Deno.ppid;
  // Who started us, if `ps` may be run (`--allow-run=ps`); otherwise the parent alone.
  const canRunPs = Deno.permissions.querySync({ name: "run", command: "ps" }).state === "granted";
  let watched: ProcessInfo[] = [];
  if (canRunPs) watched = await launchers().catch(() => []);
  let checking = false;
  const timer = setInterval(async () => {
    if (Deno.ppid !== parent) return stop(`its parent process ${parent} exited`);
    if (watched.length === 0 || checking) return;
    checking = true;
    try {
      const now = await ps(watched.map((p) => p.pid));
      // Gone: exited, a zombie, or its pid now another command's. The topmost
      // launcher may be adopted (its shell exited, nohup): only the others'
      // parents must stay, and those are watched themselves.
      const gone = watched.find((p, i) => {
        const seen = now.get(p.pid);
        return !seen || !seen.alive || seen.command !== p.command ||
          (i < watched.length - 1 && seen.ppid !== p.ppid);
      });
      if (gone) stop(`${gone.command} (pid ${gone.pid}), which started it, exited`);
    } catch {
      watched = []; // ps stopped working: keep to the parent check
    } finally {
      checking = false;
    }
  }, WATCH_MS);
  Deno.unrefTimer(timer);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      log: { type: "boolean" },
    },
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
  // A request body not all arrived within this gets 408 (0: no limit).
  setBodyTimeout(numberFrom(
    Deno.env.get("ZXSIM_BODY_TIMEOUT_MS"),
    DEFAULT_BODY_TIMEOUT_MS,
    "ZXSIM_BODY_TIMEOUT_MS",
  ));
  const limit = (name: string, fallback: number) => numberFrom(Deno.env.get(name), fallback, name);
  const log = values.log || logFromEnv(Deno.env.get("ZXSIM_LOG"));
  const { app } = createApp({
    maxBlockMs,
    maxKernels,
    maxCommittedBytes,
    maxObjects: limit("ZXSIM_MAX_OBJECTS", DEFAULT_MAX_OBJECTS),
    maxThreadsPerProcess: limit("ZXSIM_MAX_THREADS_PER_PROCESS", DEFAULT_MAX_THREADS_PER_PROCESS),
    maxBlockedCalls: limit("ZXSIM_MAX_BLOCKED_CALLS", DEFAULT_MAX_BLOCKED_CALLS),
    kernelTtlMs: limit("ZXSIM_KERNEL_TTL_MS", DEFAULT_KERNEL_TTL_MS),
    createToken: Deno.env.get("ZXSIM_CREATE_TOKEN") || undefined,
  });
  await stopWhenAsked();
  const serveOptions = {
    hostname,
    port,
    onListen: ({ hostname, port }: Deno.NetAddr) =>
      console.log(`zxsim listening on http://${hostname}:${port}`),
  };
  const handler = log ? withAccessLog(app.fetch, console.log) : app.fetch;
  // Close connections whose header is not in within this (on by default only
  // off loopback: the front costs CPU on every request).
  const headerTimeoutMs = numberFrom(
    Deno.env.get("ZXSIM_HEADER_TIMEOUT_MS"),
    defaultHeaderTimeoutMs(hostname),
    "ZXSIM_HEADER_TIMEOUT_MS",
  );
  if (headerTimeoutMs > 0) {
    // Silence on a kept-alive connection: longer than any call may block.
    const idleMs = headerTimeoutMs + (Number.isFinite(maxBlockMs) ? maxBlockMs : 60_000);
    await serveWithHeaderTimeout(serveOptions, handler, headerTimeoutMs, idleMs);
  } else Deno.serve(serveOptions, handler);
}
