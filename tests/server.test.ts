// The real server, started the way `deno task start` starts it, on a free
// port: the same contract over a socket.

import assert from "node:assert/strict";
import { assertStatus, type Fetcher, send, TestKernel } from "./helpers.ts";

const root = new URL("..", import.meta.url).pathname;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts main.ts and resolves once it says it is listening. */
async function startServer(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "main.ts", ...args],
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

Deno.test("real server: --port, and a register round trip on both arches", async () => {
  const port = freePort();
  const server = await startServer(["--port", String(port)]);
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    for (const arch of ["x64", "arm64"]) {
      const k = await TestKernel.create(server.fetcher, { arch });
      const { thread, token } = await k.suspendedThread("0x1000000", "0x2000000", 7, 8);
      const pc = arch === "x64" ? "rip" : "pc";
      const read = await k.ok("thread_read_state", { handle: thread, kind: 0 });
      assert.equal(read.regs[pc], "0x0000000001000000");
      await k.ok("thread_write_state", { handle: thread, kind: 0, regs: { [pc]: "0x3000000" } });
      const back = await k.ok("thread_read_state", { handle: thread, kind: 0 });
      assert.equal(back.regs[pc], "0x0000000003000000");
      const bytes = Uint8Array.fromBase64(back.buffer);
      assert.equal(bytes.length, arch === "x64" ? 160 : 280);
      await k.ok("handle_close", { handle: token });
      assertStatus(
        await k.call("thread_read_state", { handle: thread, kind: 0 }),
        "ZX_ERR_BAD_STATE",
        409,
      );
      const mx = await k.mx("thread_read_state", { handle: thread, kind: 0, len: 4 });
      assertStatus(mx, "MX_ERR_BAD_STATE", 409);
    }
    const openapi = await server.fetcher("/openapi.json");
    assert.equal((await openapi.json()).openapi, "3.1.0");
    const huge = await send(
      server.fetcher,
      "/v1/kernels",
      JSON.stringify({ pad: "x".repeat(1 << 20) }),
    );
    assert.equal(huge.http, 413);
  } finally {
    await server.stop();
  }
});

Deno.test("real server: PORT and HOST from the environment; isolation across kernels", async () => {
  const port = freePort();
  const server = await startServer([], { PORT: String(port), HOST: "127.0.0.1" });
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    const a = await TestKernel.create(server.fetcher);
    const b = await TestKernel.create(server.fetcher);
    const thread = await a.newThread();
    assertStatus(
      await b.call("object_get_info", { handle: thread, topic: "ZX_INFO_HANDLE_VALID" }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
    assertStatus(
      await send(server.fetcher, `/v1/kernels/${a.id}`, undefined, b.token, "GET"),
      "ZX_ERR_ACCESS_DENIED",
      401,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("real server: a bad PORT is refused with a message, not a stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "main.ts"],
    cwd: root,
    env: { PORT: "eighty" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stderr, /port must be a non-negative integer/);
  assert.doesNotMatch(stderr, /at .*\.ts:\d+/);
});
