// A real zxsim server in a child process, started the way `deno task start`
// starts it, for tests that need a socket (servers, newman, a browser).

import type { Fetcher } from "./helpers.ts";

export const root = new URL("..", import.meta.url).pathname;

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts main.ts and resolves once it says it is listening. */
export async function startServer(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "main.ts", ...args],
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
