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
