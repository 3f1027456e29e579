// How port_wait and channel_call block, as object_wait_one does: until they
// are woken, their deadline passes on the kernel's clock or the server's cap
// on one request (both TIMED_OUT), or the calling thread dies
// (INTERNAL_INTR_KILLED). Suspending the thread interrupts the wait with
// ZX_ERR_INTERNAL_INTR_RETRY in its return register; once it runs again the
// wait goes on (the vDSO's retry), unless a debugger wrote another status
// there, which the call then returns.

import { ERR, ZX_OK, ZxError, type ZxStatus } from "../status.ts";
import type { Caller } from "./define.ts";

/**
 * Starts waiting for the thing a call blocks on: `resolve` is called once
 * it is there (at once if it already is). Returns a function that stops
 * waiting (the wait ended some other way).
 */
export type Wake<T> = (resolve: (value: T) => void) => () => void;

type End<T> =
  | { readonly end: "woken"; readonly value: T }
  | { readonly end: "deadline" | "cap" | "killed" | "suspended" };

function attempt<T>(caller: Caller, wake: Wake<T>, deadline: bigint, capAt: number) {
  const thread = caller.thread;
  const clock = caller.kernel.clock;
  return new Promise<End<T>>((resolve) => {
    let done = false;
    let stop = () => {};
    let cancelDeadline = () => {};
    let capTimer: ReturnType<typeof setTimeout> | undefined;
    const onDeath = () => finish({ end: "killed" });
    const onSuspend = () => finish({ end: "suspended" });
    const finish = (end: End<T>) => {
      if (done) return;
      done = true;
      stop();
      cancelDeadline();
      clearTimeout(capTimer);
      thread.deathListeners.delete(onDeath);
      thread.suspendListeners.delete(onSuspend);
      resolve(end);
    };
    if (!thread.alive) return finish({ end: "killed" });
    stop = wake((value) => finish({ end: "woken", value }));
    if (done) return;
    const untilCapMs = capAt - performance.now();
    if (deadline <= clock.now()) return finish({ end: "deadline" });
    if (untilCapMs <= 0) return finish({ end: "cap" });
    // The deadline is on the kernel's clock (virtual in manual mode); the
    // server's cap on one request is wall time. Code threads have no cap.
    cancelDeadline = clock.at(deadline, () => finish({ end: "deadline" }));
    if (Number.isFinite(untilCapMs)) {
      capTimer = setTimeout(() => finish({ end: "cap" }), untilCapMs);
    }
    thread.deathListeners.add(onDeath);
    thread.suspendListeners.add(onSuspend);
  });
}

export interface Blocking<T> {
  /** THREAD_STATE.BLOCKED_* while it waits. */
  readonly reason: number;
  /** The syscall's arguments, as its registers hold them while it is blocked. */
  readonly args: readonly bigint[];
  readonly deadline: bigint;
  readonly wake: Wake<T>;
  /** The vDSO calls again after an interruption: a check that call would make first. */
  readonly onRetry?: () => void;
  /** The wait ended without the call returning it (a debugger's status): let it go. */
  readonly discard?: (value: T) => void;
}

export function killedWhileBlocked(): ZxError {
  return new ZxError(ERR.INTERNAL_INTR_KILLED, "the calling thread was killed while blocked");
}

/** Blocks the calling thread as described above; resolves with what woke it. */
export async function block<T>(caller: Caller, blocking: Blocking<T>): Promise<T> {
  const thread = caller.thread;
  const registers = thread.registers;
  const capAt = performance.now() + caller.maxBlockMs;
  // A code thread's registers already hold them; a client's show them to a debugger.
  if (thread.driver !== "code") registers.setSyscallArgs(blocking.args);
  thread.blockedReason = blocking.reason;
  try {
    for (;;) {
      const ended = await attempt(caller, blocking.wake, blocking.deadline, capAt);
      if (ended.end === "killed") throw killedWhileBlocked();
      const status: ZxStatus = ended.end === "woken"
        ? ZX_OK
        : ended.end === "suspended"
        ? ERR.INTERNAL_INTR_RETRY
        : ERR.TIMED_OUT;
      registers.setSyscallResult(status);
      // A stopped thread returns from the syscall only once it runs again.
      await thread.untilRunnable();
      const result = registers.syscallResult();
      if (!thread.alive || result !== status) {
        if (ended.end === "woken") blocking.discard?.(ended.value);
      }
      if (!thread.alive) throw killedWhileBlocked();
      if (result === ERR.INTERNAL_INTR_RETRY) {
        blocking.onRetry?.();
        continue;
      }
      if (result !== status) {
        throw new ZxError(
          result as ZxStatus,
          "the syscall's return register was set to this status while the thread was stopped",
        );
      }
      if (ended.end === "woken") return ended.value;
      throw new ZxError(
        ERR.TIMED_OUT,
        ended.end === "cap"
          ? `the server's cap of ${caller.maxBlockMs} ms for one blocking request was reached`
          : "the deadline passed first",
      );
    }
  } finally {
    thread.blockedReason = 0;
  }
}
