// A client thread stopped inside a blocking syscall, as Zircon's core tests
// see it (SyscallSuspendedRegisterState, SyscallDebuggerModifyResult,
// ResumeSuspended): its registers hold the syscall's arguments, suspension
// interrupts the wait with ZX_ERR_INTERNAL_INTR_RETRY in the return register,
// and the wait is retried on resume unless a debugger changed that register.

import assert from "node:assert/strict";
import { archTest, assertStatus, type Reply, type TestKernel } from "./helpers.ts";

const INTR_RETRY = -6n;
const CANCELED = -23n;
const SUSPENDED_SIGNAL = 0x20;
const BLOCKED_WAIT_ONE = 0x0603;
const STATE_SUSPENDED = 2;

/** Polls until `thread` reports `state`. */
async function untilState(k: TestKernel, thread: number, state: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if ((await k.threadState(thread)) === state) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`thread never reached state 0x${state.toString(16)}`);
}

/** Client thread B waits for thread C to be suspended, with a deadline 5 s ahead. */
async function blockedWaiter(k: TestKernel) {
  const b = await k.clientThread("waiter");
  const c = await k.runningThread();
  const deadline = BigInt((await k.ok("clock_get_monotonic")).time) + 5_000_000_000n;
  const pending: Promise<Reply> = k.call("object_wait_one", {
    handle: c,
    signals: SUSPENDED_SIGNAL,
    deadline: `0x${deadline.toString(16)}`,
  }, b.token);
  await untilState(k, b.thread, BLOCKED_WAIT_ONE);
  return { b, c, deadline, pending };
}

function u64(regs: Record<string, unknown>, name: string): bigint {
  return BigInt(regs[name] as string);
}

/** The syscall argument and return registers of `regs` on this arch. */
function syscallView(k: TestKernel, regs: Record<string, unknown>) {
  if (k.arch === "x64") {
    return {
      result: BigInt.asIntN(64, u64(regs, "rax")),
      args: ["rdi", "rsi", "rdx", "r10"].map((r) => u64(regs, r)),
    };
  }
  const r = (regs.r as string[]).map(BigInt);
  return { result: BigInt.asIntN(64, r[0]), args: r.slice(0, 4) };
}

archTest("stopped in a syscall: registers show its arguments and INTR_RETRY", async (k) => {
  const { b, c, deadline, pending } = await blockedWaiter(k);
  const { token } = await k.ok("task_suspend", { handle: b.thread });
  assert.equal(await k.threadState(b.thread), STATE_SUSPENDED);
  const { regs } = await k.ok("thread_read_state", { handle: b.thread, kind: 0 });
  const view = syscallView(k, regs);
  assert.equal(view.result, INTR_RETRY);
  if (k.arch === "x64") {
    // rdi = handle, rsi = signals, rdx = deadline, r10 = observed pointer.
    assert.deepEqual(view.args, [BigInt(c), BigInt(SUSPENDED_SIGNAL), deadline, 0n]);
  } else {
    // x0 now holds the return value; x1 = signals, x2 = deadline, x3 = observed pointer.
    assert.deepEqual(view.args.slice(1), [BigInt(SUSPENDED_SIGNAL), deadline, 0n]);
  }
  // Resumed, the thread re-enters the same wait...
  await k.ok("handle_close", { handle: token });
  await untilState(k, b.thread, BLOCKED_WAIT_ONE);
  // ...which completes normally, and the return register then holds ZX_OK.
  await k.ok("task_suspend", { handle: c });
  const reply = await pending;
  assert.equal(reply.body.status, "ZX_OK");
  assert.equal(reply.body.observed & SUSPENDED_SIGNAL, SUSPENDED_SIGNAL);
  const again = await k.ok("task_suspend", { handle: b.thread });
  const after = await k.ok("thread_read_state", { handle: b.thread, kind: 0 });
  assert.equal(syscallView(k, after.regs).result, 0n);
  await k.ok("handle_close", { handle: again.token });
});

archTest("a debugger's new return value is what the interrupted syscall returns", async (k) => {
  const { b, pending } = await blockedWaiter(k);
  const { token } = await k.ok("task_suspend", { handle: b.thread });
  const named = k.arch === "x64" ? { rax: Number(CANCELED) } : { "r[0]": Number(CANCELED) };
  await k.ok("thread_write_state", { handle: b.thread, kind: 0, regs: named });
  await k.ok("handle_close", { handle: token });
  const reply = await pending;
  assertStatus(reply, "ZX_ERR_CANCELED", 409);
  assert.equal(typeof reply.body.observed, "number");
  // The thread is free again.
  await k.ok("clock_get_monotonic", {}, b.token);
});

archTest("a signal raised while the waiter is suspended is seen once it resumes", async (k) => {
  const { b, c, pending } = await blockedWaiter(k);
  const { token } = await k.ok("task_suspend", { handle: b.thread });
  await k.ok("task_suspend", { handle: c });
  const early = await Promise.race([
    pending.then(() => "replied"),
    new Promise((resolve) => setTimeout(() => resolve("waiting"), 30)),
  ]);
  assert.equal(early, "waiting");
  await k.ok("handle_close", { handle: token });
  const reply = await pending;
  assert.equal(reply.body.status, "ZX_OK");
  assert.equal(reply.body.observed & SUSPENDED_SIGNAL, SUSPENDED_SIGNAL);
});

archTest(
  "a handle closed while the waiter is stopped makes the retried wait BAD_HANDLE",
  async (k) => {
    const { b, c, pending } = await blockedWaiter(k);
    const { token } = await k.ok("task_suspend", { handle: b.thread });
    // The wait was already interrupted, so closing its handle now is not a CANCELED wait.
    await k.ok("handle_close", { handle: c });
    await k.ok("handle_close", { handle: token });
    assertStatus(await pending, "ZX_ERR_BAD_HANDLE", 400);
  },
);
