// Policy exceptions that IPC syscalls raise on their caller, as Zircon's
// Thread::Current::SignalPolicyException does: the syscall keeps its status
// and the thread then takes ZX_EXCP_POLICY_ERROR with the code in
// synth_code. The kernel logs a KERN line first, as Zircon prints one.
//
// Who delivers the exception is pluggable: the exception dispatcher
// (kernel/exceptions.ts) installs itself with setPolicyExceptionRaiser. Until
// it does, nobody handles it, and Zircon's rule for that applies: the crash
// is logged and the process killed with ZX_TASK_RETCODE_EXCEPTION_KILL.

import type { Kernel } from "./kernel.ts";
import { killProcess } from "./scheduler.ts";
import type { Thread } from "./thread.ts";

/** ZX_EXCP_POLICY_CODE_* (zircon/syscalls/exception.h) raised here. */
export const POLICY_CODE = {
  CHANNEL_FULL_WRITE: 16,
  PORT_TOO_MANY_PACKETS: 17,
} as const;

/** ZX_TASK_RETCODE_EXCEPTION_KILL. */
const EXCEPTION_KILL = -1028;

export type PolicyExceptionRaiser = (
  kernel: Kernel,
  thread: Thread,
  code: number,
  data: number,
) => void;

function unhandled(kernel: Kernel, thread: Thread, code: number): void {
  const process = thread.process;
  kernel.debuglog.write({
    time: kernel.now(),
    pid: process.koid,
    tid: thread.koid,
    text: `<== fatal exception ZX_EXCP_POLICY_ERROR (policy code ${code}): ` +
      `process ${process.name}[${process.koid}] thread ${thread.name}[${thread.koid}] ` +
      `killed (ZX_TASK_RETCODE_EXCEPTION_KILL)\n`,
  });
  killProcess(process, EXCEPTION_KILL);
}

let raiser: PolicyExceptionRaiser = unhandled;

/** Routes policy exceptions to the exception dispatcher. */
export function setPolicyExceptionRaiser(raise: PolicyExceptionRaiser): void {
  raiser = raise;
}

/** Logs `what` as Zircon's KERN line and raises the policy exception `code` on `thread`. */
export function policyException(
  kernel: Kernel,
  thread: Thread,
  code: number,
  what: string,
  data = 0,
): void {
  kernel.debuglog.write({
    time: kernel.now(),
    pid: thread.process.koid,
    tid: thread.koid,
    text: `KERN: ${what}. Raising exception.\n`,
  });
  raiser(kernel, thread, code, data);
}
