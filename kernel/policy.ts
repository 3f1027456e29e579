// Policy exceptions that IPC syscalls raise on their caller, as Zircon's
// Thread::Current::SignalPolicyException does: the syscall keeps its status
// and the thread then takes ZX_EXCP_POLICY_ERROR with the code in
// synth_code, through the same handler chain as any exception
// (kernel/exceptions.ts). The kernel logs a KERN line first, as Zircon prints one.

import { policyError } from "./exceptions.ts";
import type { Kernel } from "./kernel.ts";
import type { Thread } from "./thread.ts";

/** ZX_EXCP_POLICY_CODE_* (zircon/syscalls/exception.h) raised here. */
export const POLICY_CODE = {
  CHANNEL_FULL_WRITE: 16,
  PORT_TOO_MANY_PACKETS: 17,
} as const;

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
  policyError(kernel, thread, code, data);
}
