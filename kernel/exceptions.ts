// Exceptions a thread raises (faults, breakpoints, bad syscalls) and the
// synthetic ones debuggers see (thread starting and exiting, process
// starting), delivered to handlers in Zircon's order (exception.cc): the
// process's debugger, the thread, the process, the debugger again for a
// second chance, then the job and each parent job up to the root. The thread
// waits, stopped, while a handler holds the exception; closing the
// exception's handle answers (HANDLED resumes it, TRY_NEXT moves on,
// THREAD_EXIT ends it). When nobody handles it, the kernel logs the crash and
// kills the process with ZX_TASK_RETCODE_EXCEPTION_KILL.

import { type Core, EXIT, type ExitReason } from "../arch/cpu.ts";
import { Exception, EXCEPTION_STATE } from "./exception.ts";
import type { Exceptionate } from "./exceptionate.ts";
import type { Job } from "./job.ts";
import type { Kernel } from "./kernel.ts";
import { exitThread, killProcess } from "./scheduler.ts";
import type { Thread } from "./thread.ts";
import { THREAD_STATE } from "./types.ts";

/** ZX_EXCP_* (zircon/syscalls/exception.h). */
export const EXCP = {
  GENERAL: 0x008,
  FATAL_PAGE_FAULT: 0x108,
  UNDEFINED_INSTRUCTION: 0x208,
  SW_BREAKPOINT: 0x308,
  HW_BREAKPOINT: 0x408,
  UNALIGNED_ACCESS: 0x508,
  THREAD_STARTING: 0x8008,
  THREAD_EXITING: 0x8108,
  POLICY_ERROR: 0x8208,
  PROCESS_STARTING: 0x8308,
} as const;

export const EXCP_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(EXCP).map(([name, value]) => [value, `ZX_EXCP_${name}`]),
);

/** ZX_EXCP_POLICY_CODE_BAD_SYSCALL: synth_data is the syscall number. */
export const POLICY_CODE_BAD_SYSCALL = 18;

/** ZX_TASK_RETCODE_EXCEPTION_KILL: "Exception not handled". */
export const TASK_RETCODE_EXCEPTION_KILL = -1028;

/** sizeof(zx_exception_report_t): header (8) + context (32). */
export const EXCEPTION_REPORT_SIZE = 40;

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
  [EXIT.HW_BREAKPOINT]: EXCP.HW_BREAKPOINT,
  [EXIT.ALIGNMENT]: EXCP.UNALIGNED_ACCESS,
  [EXIT.GENERAL_PROTECTION]: EXCP.GENERAL,
  [EXIT.DIVIDE_ERROR]: EXCP.GENERAL,
};

/** zx_exception_report_t: header {size, type}, the arch context, synth_code, synth_data. */
function report(type: number, arch: Uint8Array, synthCode = 0, synthData = 0): Uint8Array {
  const bytes = new Uint8Array(EXCEPTION_REPORT_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, EXCEPTION_REPORT_SIZE, true);
  view.setUint32(4, type, true);
  bytes.set(arch, 8);
  view.setUint32(32, synthCode >>> 0, true);
  view.setUint32(36, synthData >>> 0, true);
  return bytes;
}

/** The 24-byte zx_exception_info_t of an exception message: pid, tid, type. */
function exceptionInfo(thread: Thread, type: number): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(thread.process.koid), true);
  view.setBigUint64(8, BigInt(thread.koid), true);
  view.setUint32(16, type, true);
  return bytes;
}

/** A core stopped on a fault or trap: the exception of that type. */
export function coreException(kernel: Kernel, thread: Thread, exit: ExitReason, core: Core): void {
  const type = TYPE_OF_EXIT[exit] ?? EXCP.GENERAL;
  const pageFault = exit === EXIT.PAGE_FAULT;
  // A permission fault hit a mapped page; a translation fault found nothing there.
  const present = pageFault &&
    thread.process.aspace.findMapping(Number(core.faultAddress)) !== null;
  const arch = kernel.arch.exceptionContext(thread.registers, exit, core, present);
  const record: ExceptionRecord = {
    type,
    pc: thread.registers.pc(),
    ...(pageFault ? { faultAddress: core.faultAddress, faultAccess: core.faultAccess } : {}),
  };
  // A page fault's synth_code is the VM's status: NOT_FOUND unmapped, ACCESS_DENIED refused.
  const synthCode = pageFault ? (present ? -30 : -25) : 0;
  void dispatch(kernel, thread, record, report(type, arch, synthCode));
}

/**
 * ZX_EXCP_POLICY_ERROR: a job policy said "exception" (synth_code says
 * which, synth_data what). It goes through the whole chain, as Zircon's
 * SignalPolicyException does; registers are not available in it.
 */
export function policyError(
  kernel: Kernel,
  thread: Thread,
  synthCode: number,
  synthData: number,
): void {
  const record: ExceptionRecord = {
    type: EXCP.POLICY_ERROR,
    pc: thread.registers.pc(),
    synthCode,
    synthData: synthData >>> 0,
  };
  const arch = new Uint8Array(24);
  void dispatch(kernel, thread, record, report(EXCP.POLICY_ERROR, arch, synthCode, synthData));
}

/** A syscall from outside the vDSO or with an unknown number (Zircon's bad-syscall policy). */
export function badSyscall(kernel: Kernel, thread: Thread, number: bigint): void {
  policyError(kernel, thread, POLICY_CODE_BAD_SYSCALL, Number(BigInt.asUintN(32, number)));
}

/** The handlers of an architectural or policy exception, in Zircon's order. */
function* handlers(thread: Thread, exception: Exception): Generator<Exceptionate> {
  const process = thread.process;
  yield process.debugExceptionate;
  yield thread.exceptionate;
  yield process.exceptionate;
  // Read after the process's handler answered: a debugger may have asked for it.
  if (exception.secondChance) yield process.debugExceptionate;
  for (let job: Job | null = process.job; job !== null; job = job.parent) {
    yield job.exceptionate;
  }
}

/** Stops the thread in `exception`: it runs again only once the exception is over. */
function enter(thread: Thread, exception: Exception, registersUnavailable: boolean): void {
  thread.inException = true;
  thread.currentException = exception;
  thread.registersUnavailable = registersUnavailable;
  thread.blockedReason = THREAD_STATE.BLOCKED_EXCEPTION;
}

function leave(thread: Thread): void {
  thread.inException = false;
  thread.currentException = null;
  thread.registersUnavailable = false;
  thread.blockedReason = 0;
  thread.wakeResumeWaiters();
  thread.runner?.wake();
}

/** Resolves when the thread dies (the kill ends any wait in an exception). */
function deathOf(thread: Thread): Promise<"killed"> {
  // A DYING thread (in THREAD_EXITING) still waits: only death ends the wait.
  if (thread.lifecycle === "DEAD") return Promise.resolve("killed");
  return new Promise((resolve) => {
    const onDeath = () => {
      thread.deathListeners.delete(onDeath);
      resolve("killed");
    };
    thread.deathListeners.add(onDeath);
  });
}

/**
 * Sends the exception to one handler and waits for its answer: the
 * disposition when it closes the exception's handle, "killed" if the thread
 * dies first, or null if nobody listens there.
 */
async function offer(
  thread: Thread,
  exception: Exception,
  exceptionate: Exceptionate,
): Promise<number | "killed" | null> {
  if (!exceptionate.bound) return null;
  exception.state = EXCEPTION_STATE.TRY_NEXT;
  const answer = exception.awaitAnswer();
  if (!exceptionate.send(exceptionInfo(thread, exception.excpType), exception)) return null;
  thread.waitChannelType = exceptionate.channelType;
  return await Promise.race([answer, deathOf(thread)]);
}

async function dispatch(
  kernel: Kernel,
  thread: Thread,
  record: ExceptionRecord,
  bytes: Uint8Array,
): Promise<void> {
  thread.exception = record;
  const exception = new Exception(kernel.nextKoid(), thread, record.type, bytes);
  enter(thread, exception, record.type === EXCP.POLICY_ERROR);
  for (const exceptionate of handlers(thread, exception)) {
    const answer = await offer(thread, exception, exceptionate);
    if (answer === null || answer === EXCEPTION_STATE.TRY_NEXT) continue;
    if (answer === "killed") return;
    if (answer === EXCEPTION_STATE.HANDLED) {
      kernel.arch.exceptionHandled?.(thread.registers, record.type === EXCP.HW_BREAKPOINT);
      leave(thread);
      return;
    }
    // THREAD_EXIT: only the thread ends, not its process.
    leave(thread);
    threadExiting(kernel, thread);
    return;
  }
  unhandled(kernel, thread, record);
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/** Nobody handled it: log the crash, then kill the process. */
function unhandled(kernel: Kernel, thread: Thread, record: ExceptionRecord): void {
  const process = thread.process;
  const detail = record.faultAddress !== undefined
    ? ` at address ${hex(record.faultAddress)}`
    : record.synthCode === POLICY_CODE_BAD_SYSCALL
    ? ` (bad syscall ${record.synthData})`
    : record.type === EXCP.POLICY_ERROR
    ? ` (policy code ${record.synthCode})`
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

/** A synthetic exception's report: the type alone, no arch data. */
function syntheticReport(type: number): Uint8Array {
  return report(type, new Uint8Array(24));
}

/**
 * HandleSingleShotException: one handler, no chain; its answer does not
 * matter, the thread goes on once the exception's handle is closed.
 */
async function singleShot(
  kernel: Kernel,
  thread: Thread,
  type: number,
  exceptionate: Exceptionate,
  registersUnavailable: boolean,
): Promise<void> {
  // THREAD_EXITING is sent to a DYING thread; nothing is sent to a dead one.
  if (!exceptionate.bound || thread.lifecycle === "DEAD") return;
  const exception = new Exception(kernel.nextKoid(), thread, type, syntheticReport(type));
  const wasIn = thread.inException;
  thread.inException = true;
  thread.currentException = exception;
  thread.registersUnavailable = registersUnavailable;
  await offer(thread, exception, exceptionate);
  thread.inException = wasIn;
  thread.currentException = null;
  thread.registersUnavailable = false;
}

/** Does anyone listen for a thread or process starting here? */
function startWatched(thread: Thread, initial: boolean): boolean {
  if (thread.process.debugExceptionate.bound) return true;
  if (!initial) return false;
  for (let job: Job | null = thread.process.job; job !== null; job = job.parent) {
    if (job.debugExceptionates.some((e) => e.bound)) return true;
  }
  return false;
}

/**
 * A code thread is about to run its first instruction: PROCESS_STARTING to
 * every job debugger from its job up to the root (only for the process's
 * first thread), then THREAD_STARTING to the process's debugger. It stays
 * stopped, its start registers readable, until each has been answered.
 */
export function threadStarting(kernel: Kernel, thread: Thread, initial: boolean): void {
  if (!startWatched(thread, initial)) return;
  thread.inException = true;
  thread.blockedReason = THREAD_STATE.BLOCKED_EXCEPTION;
  void (async () => {
    if (initial) {
      for (let job: Job | null = thread.process.job; job !== null; job = job.parent) {
        for (const debuggers of [...job.debugExceptionates]) {
          await singleShot(kernel, thread, EXCP.PROCESS_STARTING, debuggers, false);
        }
      }
    }
    await singleShot(kernel, thread, EXCP.THREAD_STARTING, thread.process.debugExceptionate, false);
    if (thread.alive) leave(thread);
  })();
}

/**
 * A code thread is killed (its process dies): the process's debugger still
 * hears THREAD_EXITING, but the thread does not wait for the answer.
 */
export function killedThreadExiting(thread: Thread): void {
  const kernel = thread.runner?.kernel;
  if (!kernel || !thread.process.debugExceptionate.bound) return;
  void singleShot(kernel, thread, EXCP.THREAD_EXITING, thread.process.debugExceptionate, true);
}

/**
 * The thread exits on its own (zx_thread_exit, or a handler's THREAD_EXIT):
 * THREAD_EXITING goes to the process's debugger, registers unavailable, and
 * the thread waits DYING for the answer.
 */
export function threadExiting(kernel: Kernel, thread: Thread): void {
  if (thread.driver !== "code" || !thread.process.debugExceptionate.bound) {
    exitThread(thread);
    return;
  }
  thread.lifecycle = "DYING";
  void singleShot(kernel, thread, EXCP.THREAD_EXITING, thread.process.debugExceptionate, true)
    .then(() => exitThread(thread));
}
