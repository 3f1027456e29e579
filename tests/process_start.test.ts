// zx_process_start's checks in Zircon's order, the handle it moves into the
// new process, and how threads and processes end from their own code
// (zx_thread_exit, zx_process_exit) and over HTTP.

import assert from "node:assert/strict";
import { archTest, expectErr, PARK_ENTRY, PARK_STACK, send, type TestKernel } from "./helpers.ts";

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** A new process with a NEW thread in it, and a second NEW thread elsewhere. */
async function fresh(k: TestKernel) {
  const { proc_handle, vmar_handle } = await k.ok("process_create", {
    job: k.handles.root_job,
    name: "child",
  });
  const { out: thread } = await k.ok("thread_create", { process: proc_handle, name: "main" });
  return { process: proc_handle as number, vmar: vmar_handle as number, thread: thread as number };
}

function start(k: TestKernel, body: Record<string, unknown>) {
  return k.call("process_start", {
    entry: hex(PARK_ENTRY),
    stack: hex(PARK_STACK),
    ...body,
  });
}

archTest("process_start: handle, type and rights checks come first, in order", async (k) => {
  const p = await fresh(k);
  expectErr(await start(k, { handle: 0x7fff_fff3, thread: p.thread }), "BAD_HANDLE");
  expectErr(await start(k, { handle: p.thread, thread: p.thread }), "WRONG_TYPE");
  const noWrite = await k.reduced(p.process, 1 << 14); // ZX_RIGHT_INSPECT only
  expectErr(await start(k, { handle: noWrite, thread: p.thread }), "ACCESS_DENIED");
  expectErr(await start(k, { handle: p.process, thread: 0x7fff_fff3 }), "BAD_HANDLE");
  expectErr(await start(k, { handle: p.process, thread: p.process }), "WRONG_TYPE");
  // A thread of another process.
  const other = await k.newThread();
  expectErr(await start(k, { handle: p.process, thread: other }), "ACCESS_DENIED");
  // Nothing was started.
  assert.equal(await k.threadState(p.thread), 0);
});

archTest("process_start: arg1 leaves the caller whatever happens", async (k) => {
  const p = await fresh(k);
  // A failed start (a thread of another process) closes arg1.
  const arg = await k.dup(k.handles.thread);
  expectErr(
    await start(k, { handle: p.process, thread: await k.newThread(), arg1: arg }),
    "ACCESS_DENIED",
  );
  expectErr(await k.call("handle_close", { handle: arg }), "BAD_HANDLE");
  // arg1 without ZX_RIGHT_TRANSFER is ACCESS_DENIED, and closed too.
  const untransferable = await k.reduced(k.handles.thread, 1 << 14);
  expectErr(
    await start(k, { handle: p.process, thread: p.thread, arg1: untransferable }),
    "ACCESS_DENIED",
  );
  expectErr(await k.call("handle_close", { handle: untransferable }), "BAD_HANDLE");
  // An invalid arg1 is passed on as ZX_HANDLE_INVALID: not an error, as in Zircon.
  const { token } = await k.ok("task_suspend", { handle: p.thread });
  await k.ok("process_start", {
    handle: p.process,
    thread: p.thread,
    entry: hex(PARK_ENTRY),
    stack: hex(PARK_STACK),
    arg1: 0x7fff_fff3,
    arg2: 5,
  });
  const { regs } = await k.ok("thread_read_state", {
    handle: p.thread,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
  });
  const [a1, a2] = k.arch === "x64" ? [regs.rdi, regs.rsi] : [regs.r[0], regs.r[1]];
  assert.equal(BigInt(a1), 0n);
  assert.equal(BigInt(a2), 5n, "a non-zero arg2 is passed through");
  await k.ok("handle_close", { handle: token });
  await k.ok("task_kill", { handle: p.process });
});

archTest("process_start: the moved handle is the new process's; arg2 0 is the vDSO", async (k) => {
  const p = await fresh(k);
  const { token } = await k.ok("task_suspend", { handle: p.thread });
  const moved = await k.dup(k.handles.root_job);
  const before = await k.basic(moved);
  await k.ok("process_start", {
    handle: p.process,
    thread: p.thread,
    entry: hex(PARK_ENTRY),
    stack: hex(PARK_STACK),
    arg1: moved,
  });
  expectErr(await k.call("handle_close", { handle: moved }), "BAD_HANDLE");
  const { regs } = await k.ok("thread_read_state", {
    handle: p.thread,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
  });
  const [a1, a2] = k.arch === "x64" ? [regs.rdi, regs.rsi] : [regs.r[0], regs.r[1]];
  const { body } = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  const summary = body.root_job.processes.find((x: { name: string }) => x.name === "child");
  // deno-lint-ignore no-explicit-any
  const handle = summary.handles.find((h: any) => h.handle === Number(BigInt(a1)));
  assert.ok(handle, "arg1 names a handle in the new process");
  assert.equal(handle.koid, before.koid);
  assert.equal(handle.rights, before.rights);
  assert.equal(BigInt(a2), BigInt(summary.vdso_base));
  // The process has started: a second start is BAD_STATE.
  const again = await k.newThread(p.process);
  expectErr(await start(k, { handle: p.process, thread: again }), "BAD_STATE");
  // An entry that is not a user pc is INVALID_ARGS (checked before the thread's own state).
  const q = await fresh(k);
  expectErr(
    await start(k, { handle: q.process, thread: q.thread, entry: "0xffff800000000000" }),
    "INVALID_ARGS",
  );
  await k.ok("handle_close", { handle: token });
  await k.ok("task_kill", { handle: p.process });
});

archTest("thread_exit and process_exit over HTTP end the caller", async (k) => {
  // A client thread exits; its process lives on with the bootstrap thread.
  const { thread, token } = await k.clientThread("leaver");
  await k.ok("thread_exit", {}, token);
  assert.equal(await k.threadState(thread), 5);
  const gone = await k.call("clock_get_monotonic", {}, token);
  assert.equal(gone.http, 409, "the token of a dead thread is refused");
  assert.equal(await k.threadState(k.handles.thread), 1, "the process runs on");
  // process_exit ends the whole process: every thread in it (the return code of a
  // program's zx_process_exit is checked in programs.test.ts).
  const observer = await k.clientThread("observer");
  const { token: last } = await k.clientThread("exiter");
  await k.ok("process_exit", { retcode: -7 }, last);
  assert.equal((await k.call("clock_get_monotonic", {}, observer.token)).http, 409);
  assert.equal((await k.call("clock_get_monotonic", {})).http, 409, "the bootstrap thread too");
});

archTest("a token may drive a NEW thread of any process the caller holds it in", async (k) => {
  // The handle, with ZX_RIGHT_WRITE, is the capability: the thread may be in another
  // process, which is how a client acts inside a process it created.
  const p = await fresh(k);
  const token = await k.clientToken(p.thread);
  const { body } = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, token, "GET");
  assert.equal(body.caller.process, (await k.basic(p.process)).koid);
  // Its handle values are those of its own process: the bootstrap handles mean nothing there.
  expectErr(await k.call("handle_close", { handle: k.handles.thread }, token), "BAD_HANDLE");
});
