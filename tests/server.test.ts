// The real server, started the way `deno task start` starts it, on a free
// port: the same contract over a socket.

import assert from "node:assert/strict";
import { assertStatus, send, TestKernel } from "./helpers.ts";
import { freePort, root, START_ARGS, startServer } from "./real_server.ts";

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
    args: [...START_ARGS],
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

/** Every syscall's success and its errors, over a real socket, on one arch. */
async function walkEverySyscall(k: TestKernel): Promise<void> {
  const pc = k.arch === "x64" ? "rip" : "pc";
  // handle_duplicate / handle_replace / handle_close / handle_close_many
  const dup =
    (await k.ok("handle_duplicate", { handle: k.handles.thread, rights: "ZX_RIGHT_SAME_RIGHTS" }))
      .out;
  assertStatus(
    await k.call("handle_duplicate", { handle: 7, rights: 0 }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  const weak = (await k.ok("handle_replace", { handle: dup, rights: "ZX_RIGHT_READ" })).out;
  assertStatus(
    await k.call("handle_duplicate", { handle: weak, rights: 0 }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  assertStatus(
    await k.call("handle_replace", { handle: weak, rights: "ZX_RIGHT_WRITE" }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(await k.call("handle_close", { handle: weak }), "ZX_ERR_BAD_HANDLE", 400);
  const a = (await k.ok("handle_duplicate", { handle: k.handles.thread, rights: 0 })).out;
  assertStatus(await k.call("handle_close_many", { handles: [a, a, 0] }), "ZX_ERR_BAD_HANDLE", 400);
  await k.ok("handle_close_many", { handles: [0] });
  // process_create / thread_create / thread_start
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  assertStatus(
    await k.call("process_create", { job: k.handles.root_job, options: 2 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(await k.call("process_create", { job: k.handles.thread }), "ZX_ERR_WRONG_TYPE", 400);
  const t = (await k.ok("thread_create", { process: proc_handle, name: "t" })).out;
  assertStatus(
    await k.call("thread_create", { process: k.handles.vmar }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  assertStatus(
    await k.call("thread_start", { handle: t, thread_entry: "0xffffff8000000000", stack: 0 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  // task_suspend / task_suspend_token
  const { token } = await k.ok("task_suspend", { handle: t });
  assertStatus(
    await k.call("task_suspend_token", { handle: k.handles.thread }),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  assertStatus(
    await k.call("task_suspend", { handle: k.handles.root_job }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  await k.ok("thread_start", { handle: t, thread_entry: "0x1000000", stack: "0x2000000", arg1: 1 });
  assertStatus(
    await k.call("thread_start", { handle: t, thread_entry: 0, stack: 0 }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  // object_get_info / object_get_property / object_set_property / object_wait_one
  const info = await k.ok("object_get_info", { handle: t, topic: "ZX_INFO_THREAD" });
  assert.equal(info.info.state, 2);
  assertStatus(
    await k.call("object_get_info", { handle: t, topic: 99 }),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  assertStatus(
    await k.call("object_get_info", { handle: t, topic: "ZX_INFO_PROCESS" }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  await k.ok("object_set_property", { handle: t, property: "ZX_PROP_NAME", name: "renamed" });
  assert.equal(
    (await k.ok("object_get_property", { handle: t, property: "ZX_PROP_NAME" })).name,
    "renamed",
  );
  assertStatus(
    await k.call("object_get_property", { handle: t, property: "ZX_PROP_NAME", value_size: 8 }),
    "ZX_ERR_BUFFER_TOO_SMALL",
    400,
  );
  const seen = await k.ok("object_wait_one", {
    handle: t,
    signals: "ZX_THREAD_SUSPENDED",
    deadline: 0,
  });
  assert.equal(seen.observed & 0x20, 0x20);
  assertStatus(
    await k.call("object_wait_one", { handle: t, signals: "ZX_THREAD_RUNNING", deadline: 0 }),
    "ZX_ERR_TIMED_OUT",
    504,
  );
  assert.ok((await k.ok("clock_get_monotonic")).time > 0);
  // thread_read_state / thread_write_state, zx and mx
  const regs = await k.ok("thread_read_state", { handle: t, kind: "ZX_THREAD_STATE_GENERAL_REGS" });
  assert.equal(regs.regs[pc], "0x0000000001000000");
  assertStatus(
    await k.call("thread_read_state", { handle: t, kind: 3 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(
    await k.call("thread_read_state", { handle: t, kind: 0, buffer_size: 8 }),
    "ZX_ERR_BUFFER_TOO_SMALL",
    400,
  );
  await k.ok("thread_write_state", { handle: t, kind: 0, buffer: regs.buffer });
  assertStatus(
    await k.call("thread_write_state", { handle: proc_handle, kind: 0, buffer: regs.buffer }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  const fp = await k.call("thread_read_state", { handle: t, kind: "ZX_THREAD_STATE_FP_REGS" });
  if (k.arch === "arm64") assertStatus(fp, "ZX_ERR_NOT_SUPPORTED", 501);
  else assert.equal(fp.body.status, "ZX_OK");
  const mx = await k.ok(
    "thread_read_state",
    { handle: t, kind: "MX_THREAD_STATE_REGSET0" },
    k.token,
    "mx",
  );
  assert.equal(mx.status, "MX_OK");
  assert.equal(mx.actual, k.arch === "x64" ? 144 : 272);
  assertStatus(
    await k.mx("thread_write_state", { handle: t, kind: 0, buffer: regs.buffer }),
    "MX_ERR_INVALID_ARGS",
    400,
  );
  await k.ok("thread_write_state", { handle: t, kind: 0, buffer: mx.buffer }, k.token, "mx");
  await k.ok("handle_close", { handle: token });
  assertStatus(
    await k.call("thread_write_state", { handle: t, kind: 0, buffer: regs.buffer }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  assertStatus(await k.mx("thread_read_state", { handle: t, kind: 0 }), "MX_ERR_BAD_STATE", 409);
  // task_kill
  assertStatus(await k.call("task_kill", { handle: t }), "ZX_ERR_WRONG_TYPE", 400);
  await k.ok("task_kill", { handle: proc_handle });
  assert.equal(
    (await k.ok("object_get_info", { handle: t, topic: "ZX_INFO_THREAD" })).info.state,
    5,
  );
}

Deno.test("real server: every syscall, success and errors, on both arches", async () => {
  const server = await startServer(["--port", String(freePort())]);
  try {
    for (const arch of ["x64", "arm64"]) {
      await walkEverySyscall(await TestKernel.create(server.fetcher, { arch }));
    }
  } finally {
    await server.stop();
  }
});
