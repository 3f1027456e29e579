// A real zxsim server in a child process, started the way `deno task start`
// starts it, for tests that need a socket (servers, newman, a browser).

import type { Fetcher } from "./helpers.ts";

export const root = new URL("..", import.meta.url).pathname;

/**
 * The arguments of `deno task start` after "deno" (run, its permissions,
 * main.ts), read from deno.json so the tests start the server exactly as
 * users do, with the same permissions.
 */
export const START_ARGS: readonly string[] = (() => {
  const { tasks } = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`));
  const [deno, ...rest] = (tasks.start as string).split(/\s+/);
  if (deno !== "deno") throw new Error(`unexpected start task: ${tasks.start}`);
  return rest;
})();

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts main.ts and resolves once it says it is listening. */
export async function startServer(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...START_ARGS, ...args],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited: ${seen}`);
    seen += value;
  }
  const url = /listening on (\S+)/.exec(seen)![1];
  const fetcher: Fetcher = (path, init) => fetch(url + path, init);
  return {
    url,
    fetcher,
    async stop() {
      child.kill();
      await child.status;
      await reader.cancel();
      await child.stderr.cancel();
    },
  };
}

/** The page pool, RSS and V8 figures bench/soak.ts's server reports. */
export interface ServerMemory {
  /** Pages and slabs of kernel/vm/page_pool.ts alive. */
  pages: number;
  slabs: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/**
 * The server of bench/soak.ts (the app as main.ts serves it, run with
 * --expose-gc) in a child process, and its memory figures: `memory(true)`
 * collects garbage first, in rounds, until external memory settles.
 */
export async function startMemoryServer() {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      `${root}/bench/soak.ts`,
      "--serve",
      String(port),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (let seen = ""; !seen.includes("listening");) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the memory server exited before it listened");
    seen += value;
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async memory(gc = false): Promise<ServerMemory> {
      return await (await fetch(`${url}/__soak/memory${gc ? "?gc=1" : ""}`)).json();
    },
    async stop() {
      child.kill();
      await child.status;
      await reader.cancel();
    },
  };
}
