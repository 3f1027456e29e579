// Exceptions a thread's code raises (faults, breakpoints, bad syscalls).
// Exception channels come with the debugger work; until then no handler
// exists, and Zircon's rule for an exception nobody handles applies: the
// kernel logs the crash and kills the process with
// ZX_TASK_RETCODE_EXCEPTION_KILL.

import { type Core, EXIT, type ExitReason } from "../arch/cpu.ts";
import type { Kernel } from "./kernel.ts";
import { killProcess } from "./scheduler.ts";
import type { Thread } from "./thread.ts";

/** ZX_EXCP_* (zircon/syscalls/exception.h). */
export const EXCP = {
  GENERAL: 0x008,
  FATAL_PAGE_FAULT: 0x108,
  UNDEFINED_INSTRUCTION: 0x208,
  SW_BREAKPOINT: 0x308,
  HW_BREAKPOINT: 0x408,
  UNALIGNED_ACCESS: 0x508,
  POLICY_ERROR: 0x8208,
} as const;

export const EXCP_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(EXCP).map(([name, value]) => [value, `ZX_EXCP_${name}`]),
);

/** ZX_EXCP_POLICY_CODE_BAD_SYSCALL: synth_data is the syscall number. */
export const POLICY_CODE_BAD_SYSCALL = 18;

/** ZX_TASK_RETCODE_EXCEPTION_KILL: "Exception not handled". */
export const TASK_RETCODE_EXCEPTION_KILL = -1028;

/** What a thread's last exception was, for reports and the kernel summary. */
export interface ExceptionRecord {
  readonly type: number;
  readonly pc: bigint;
  /** Page faults: the address and the access (ACCESS.*). */
  readonly faultAddress?: bigint;
  readonly faultAccess?: number;
  readonly synthCode?: number;
  readonly synthData?: number;
}

const TYPE_OF_EXIT: Partial<Record<ExitReason, number>> = {
  [EXIT.PAGE_FAULT]: EXCP.FATAL_PAGE_FAULT,
  [EXIT.UNDEFINED_INSTRUCTION]: EXCP.UNDEFINED_INSTRUCTION,
  [EXIT.SW_BREAKPOINT]: EXCP.SW_BREAKPOINT,
  [EXIT.ALIGNMENT]: EXCP.UNALIGNED_ACCESS,
  [EXIT.GENERAL_PROTECTION]: EXCP.GENERAL,
  [EXIT.DIVIDE_ERROR]: EXCP.GENERAL,
};

/** A core stopped on a fault or trap: the exception of that type. */
export function fatalException(kernel: Kernel, thread: Thread, exit: ExitReason, core: Core): void {
  const type = TYPE_OF_EXIT[exit] ?? EXCP.GENERAL;
  const pageFault = exit === EXIT.PAGE_FAULT
    ? { faultAddress: core.faultAddress, faultAccess: core.faultAccess }
    : {};
  raiseException(kernel, thread, { type, pc: thread.registers.pc(), ...pageFault });
}

/** A syscall from outside the vDSO or with an unknown number (Zircon's bad-syscall policy). */
export function badSyscall(kernel: Kernel, thread: Thread, number: bigint): void {
  raiseException(kernel, thread, {
    type: EXCP.POLICY_ERROR,
    pc: thread.registers.pc(),
    synthCode: POLICY_CODE_BAD_SYSCALL,
    synthData: Number(BigInt.asUintN(32, number)),
  });
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/** No handler exists yet: log the crash, then kill the process. */
function raiseException(kernel: Kernel, thread: Thread, record: ExceptionRecord): void {
  thread.exception = record;
  const process = thread.process;
  const detail = record.faultAddress !== undefined
    ? ` at address ${hex(record.faultAddress)}`
    : record.synthCode === POLICY_CODE_BAD_SYSCALL
    ? ` (bad syscall ${record.synthData})`
    : "";
  kernel.debuglog.write({
    time: kernel.now(),
    pid: process.koid,
    tid: thread.koid,
    text: `<== fatal exception ${EXCP_NAMES[record.type]}${detail}, pc ${hex(record.pc)}: ` +
      `process ${process.name}[${process.koid}] thread ${thread.name}[${thread.koid}] ` +
      `killed (ZX_TASK_RETCODE_EXCEPTION_KILL)\n`,
  });
  killProcess(process, TASK_RETCODE_EXCEPTION_KILL);
}
