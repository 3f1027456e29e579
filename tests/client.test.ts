// The typed client (client/zxsim.ts): syscalls as typed async functions that
// return the outs or throw a ZxError carrying the Zircon status. Run against
// the app in-process; tests/examples.test.ts runs it against a real server.

import assert from "node:assert/strict";
import { KernelSession, ZxError, ZxsimClient, ZxsimError } from "../client/zxsim.ts";
import { createApp } from "../routes/app.ts";
import { ERR } from "../kernel/status.ts";

function inProcessClient(): ZxsimClient {
  const { app } = createApp();
  return new ZxsimClient("http://zxsim.test", async (url, init) => await app.request(url, init));
}

/** Runs `call`, which must fail with `status`; returns the error. */
async function failsWith(call: () => Promise<unknown>, status: number): Promise<ZxsimError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof ZxsimError, String(error));
    assert.ok(error instanceof ZxError, "a ZxsimError is a ZxError");
    assert.equal(error.status, status, error.message);
    return error;
  }
  assert.fail(`expected status ${status}`);
}

async function suspendedThread(k: KernelSession) {
  const { out: thread } = await k.zx.thread_create({ process: k.handles!.process, name: "w" });
  const { token } = await k.zx.task_suspend({ handle: thread });
  await k.zx.thread_start({ handle: thread, thread_entry: "0x1000", stack: "0x2000" });
  return { thread, token };
}

Deno.test("client: a register round trip with typed calls, on both arches", async () => {
  const client = inProcessClient();
  for (const [arch, pc, size] of [["x64", "rip", 160], ["arm64", "pc", 280]] as const) {
    const k = await client.createKernel({ arch });
    assert.equal(k.arch, arch);
    const { thread } = await suspendedThread(k);
    const read = await k.zx.thread_read_state({
      handle: thread,
      kind: "ZX_THREAD_STATE_GENERAL_REGS",
    });
    assert.equal(Uint8Array.fromBase64(read.buffer).length, size);
    assert.equal(read.regs[pc], "0x0000000000001000");
    assert.deepEqual(
      await k.zx.thread_write_state({ handle: thread, kind: 0, regs: { [pc]: "0x3000" } }),
      {},
      "a write has no outs",
    );
    const back = await k.zx.thread_read_state({ handle: thread, kind: 0 });
    assert.equal(back.regs[pc], "0x0000000000003000");
    // The raw buffer goes back unchanged too.
    await k.zx.thread_write_state({ handle: thread, kind: 0, buffer: read.buffer });
    assert.equal((await k.zx.thread_read_state({ handle: thread, kind: 0 })).buffer, read.buffer);
    await k.delete();
  }
});

Deno.test("client: failures throw a ZxError with the status, its name and the HTTP code", async () => {
  const k = await inProcessClient().createKernel();
  const { thread, token } = await suspendedThread(k);
  const refused = await failsWith(
    () => k.zx.thread_write_state({ handle: thread, kind: 0, regs: { rip: "0xffffff8000000000" } }),
    ERR.INVALID_ARGS,
  );
  assert.equal(refused.statusName, "ZX_ERR_INVALID_ARGS");
  assert.equal(refused.http, 400);
  assert.match(refused.message, /^ZX_ERR_INVALID_ARGS: .*rip/);
  await k.zx.handle_close({ handle: token });
  const running = await failsWith(
    () => k.zx.thread_read_state({ handle: thread, kind: 0 }),
    ERR.BAD_STATE,
  );
  assert.equal(running.http, 409);
  await failsWith(() => k.zx.handle_close({ handle: token }), ERR.BAD_HANDLE);
});

Deno.test("client: the Magenta ABI answers with MX_ names; outs written on failure are kept", async () => {
  const k = await inProcessClient().createKernel();
  const { thread } = await suspendedThread(k);
  const regset = await k.mx.thread_read_state({ handle: thread, kind: "MX_THREAD_STATE_REGSET0" });
  assert.equal(regset.actual, 144);
  const short = await failsWith(
    () => k.mx.thread_write_state({ handle: thread, kind: 0, buffer: "AAAA" }),
    ERR.INVALID_ARGS,
  );
  assert.equal(short.statusName, "MX_ERR_INVALID_ARGS");
  // object_get_info writes actual/avail even when the buffer is too small.
  const small = await failsWith(
    () => k.zx.object_get_info({ handle: thread, topic: "ZX_INFO_THREAD", buffer_size: 4 }),
    ERR.BUFFER_TOO_SMALL,
  );
  assert.deepEqual(small.outs, { actual: 0, avail: 1 });
});

Deno.test("client: kernel routes: summary, a second thread's session, delete", async () => {
  const client = inProcessClient();
  const k = await client.createKernel({ arch: "arm64" });
  const { out: worker } = await k.zx.thread_create({ process: k.handles!.process, name: "client" });
  const second = await k.asThread(worker);
  assert.notEqual(second.token, k.token);
  const summary = await second.summary();
  const { info } = await k.zx.object_get_info({ handle: worker, topic: "ZX_INFO_HANDLE_BASIC" });
  assert.equal((summary.caller as { thread: number }).thread, Number(info!.koid));
  const { time } = await second.zx.clock_get_monotonic();
  assert.equal(typeof time, "number");
  await k.delete();
  const gone = await failsWith(() => second.summary(), ERR.ACCESS_DENIED);
  assert.equal(gone.http, 401);
  const reopened = client.openKernel(k.id, k.arch, k.token);
  await failsWith(() => reopened.zx.clock_get_monotonic(), ERR.ACCESS_DENIED);
});

Deno.test("client: an unknown syscall is the server's BAD_SYSCALL, not a client crash", async () => {
  const k = await inProcessClient().createKernel();
  const calls = k.zx as unknown as Record<string, () => Promise<unknown>>;
  const error = await failsWith(() => calls.timer_create(), ERR.BAD_SYSCALL);
  assert.equal(error.http, 404);
  // A session is not a thenable, so it can be awaited and returned from async code.
  assert.equal((k.zx as unknown as { then?: unknown }).then, undefined);
});

Deno.test("client: a non-JSON failure is a plain Error naming the request", async () => {
  const client = new ZxsimClient(
    "http://zxsim.test",
    () => Promise.resolve(new Response("<html>proxy error</html>", { status: 502 })),
  );
  await assert.rejects(
    () => client.createKernel(),
    (error: Error) =>
      !(error instanceof ZxError) && /POST \/v1\/kernels: HTTP 502/.test(error.message),
  );
});

Deno.test("client: argument and result types come from the syscall table", async () => {
  const k = await inProcessClient().createKernel();
  const { out } = await k.zx.thread_create({ process: k.handles!.process, name: "typed" });
  const handle: number = out;
  // These lines are checked by the type checker when the tests run.
  // @ts-expect-error: process must be a handle (number)
  await failsWith(() => k.zx.thread_create({ process: "bootstrap" }), ERR.INVALID_ARGS);
  // @ts-expect-error: len exists only in the Magenta ABI
  await failsWith(() => k.zx.thread_read_state({ handle, kind: 0, len: 144 }), ERR.INVALID_ARGS);
  // @ts-expect-error: no such syscall
  await failsWith(() => k.zx.thread_explode({ handle }), ERR.BAD_SYSCALL);
  // @ts-expect-error: `out` is a number
  const wrong: string = out;
  assert.equal(typeof wrong, "number");
});
