import type { ThreadRegisters } from "../arch/arch.ts";
import type { Core } from "../arch/cpu.ts";
import type { Exception } from "./exception.ts";
import type { ExceptionRecord } from "./exceptions.ts";
import { CHANNEL_TYPE, Exceptionate } from "./exceptionate.ts";
import type { Runner } from "./runner.ts";
import { NamedObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { OBJ_TYPE, SIGNAL, THREAD_STATE } from "./types.ts";
import type { Process } from "./process.ts";
import type { GuestRun, Vcpu } from "./vcpu.ts";

/** ThreadDispatcher's lifecycle; INITIALIZED is what userspace calls NEW. */
export type Lifecycle = "INITIALIZED" | "RUNNING" | "SUSPENDED" | "DYING" | "DEAD";

/**
 * Who makes this thread's syscalls: an HTTP client holding its token, its own
 * code (started with zx_thread_start / zx_process_start), or nobody yet.
 */
export type Driver = "none" | "client" | "code";

const INFO_STATE: Record<Lifecycle, number> = {
  INITIALIZED: THREAD_STATE.NEW,
  RUNNING: THREAD_STATE.RUNNING,
  SUSPENDED: THREAD_STATE.SUSPENDED,
  DYING: THREAD_STATE.DYING,
  DEAD: THREAD_STATE.DEAD,
};

export class Thread extends NamedObject {
  readonly type = OBJ_TYPE.THREAD;
  readonly defaultRights = DEFAULT_RIGHTS.thread;
  lifecycle: Lifecycle = "INITIALIZED";
  suspendCount = 0;
  driver: Driver = "none";
  /** THREAD_STATE.BLOCKED_* while blocked in a syscall, else 0. */
  blockedReason = 0;
  /** A client request of this thread is in flight (one syscall at a time). */
  busy = false;
  /** Set while stopped in an exception (exception channels arrive with the debugger work). */
  inException = false;
  /** Code threads: the runner that gives them turns, and their core once they first run. */
  runner: Runner | null = null;
  core: Core | null = null;
  /** Code threads: blocked in a syscall their code made. */
  inSyscall = false;
  /** The VCPU this thread created, while it lives (one per thread: vcpu_create's BAD_STATE). */
  vcpu: Vcpu | null = null;
  /**
   * Set while the thread is inside vcpu_enter: the runner then gives its
   * turns to the guest instead of the thread's own code.
   */
  guestRun: GuestRun | null = null;
  /** The last exception the thread raised (a fatal one ended its process). */
  exception: ExceptionRecord | null = null;
  /** The exception it is stopped in, while a handler holds it. */
  currentException: Exception | null = null;
  /** zx_info_thread_t.wait_exception_channel_type: the last handler's kind (kept after). */
  waitChannelType = 0;
  /** In THREAD_EXITING or a policy exception: no frame, registers NOT_SUPPORTED. */
  registersUnavailable = false;
  /** Its exception channel slot (ZX_EXCEPTION_CHANNEL_TYPE_THREAD). */
  readonly exceptionate = new Exceptionate(CHANNEL_TYPE.THREAD);
  /** Waiting for the thread to become runnable again (or to die). */
  readonly #resumeWaiters = new Set<() => void>();
  /** Told when the thread dies, e.g. to end a syscall it was blocked in. */
  readonly deathListeners = new Set<() => void>();
  /** Told when the thread is suspended, e.g. to interrupt a syscall it was blocked in. */
  readonly suspendListeners = new Set<() => void>();

  constructor(koid: number, readonly process: Process, readonly registers: ThreadRegisters) {
    super(koid);
    process.createdThreads.add(this);
  }
  override get relatedKoid(): number {
    return this.process.koid;
  }

  get alive(): boolean {
    return this.lifecycle !== "DYING" && this.lifecycle !== "DEAD";
  }

  /**
   * The last handle is gone. A thread that never started can never start:
   * it is destroyed, as Zircon destroys it. A dead one is only a record
   * now, and goes too. A running thread lives on: the kernel holds it.
   */
  override onZeroHandles(): void {
    if (this.lifecycle === "INITIALIZED" || this.lifecycle === "DEAD") this.destroy();
  }

  /** Forgets the thread: it leaves its process's lists and holds nothing. */
  destroy(): void {
    if (this.lifecycle !== "DEAD") {
      this.lifecycle = "DEAD";
      this.updateSignals(0, SIGNAL.TASK_TERMINATED);
    }
    this.process.createdThreads.delete(this);
    this.process.threads.delete(this);
    this.process.ledger?.untrack(this);
    this.core = null;
    this.runner = null;
  }

  /** SuspendedOrInExceptionLocked(): may its register state be read or written? */
  get stateAccessible(): boolean {
    return this.lifecycle === "SUSPENDED" || this.inException;
  }

  /** zx_info_thread_t.state as GetInfoForUserspace reports it. */
  get infoState(): number {
    if (this.lifecycle === "RUNNING") return this.blockedReason || THREAD_STATE.RUNNING;
    return INFO_STATE[this.lifecycle];
  }

  /** Resolves once the thread is neither suspended nor in an exception, or has died. */
  untilRunnable(): Promise<void> {
    if (this.lifecycle !== "SUSPENDED" && !this.inException) return Promise.resolve();
    return new Promise((resolve) => this.#resumeWaiters.add(resolve));
  }

  /** The scheduler calls this whenever the thread leaves SUSPENDED or dies. */
  wakeResumeWaiters(): void {
    const waiters = [...this.#resumeWaiters];
    this.#resumeWaiters.clear();
    for (const waiter of waiters) waiter();
  }
}
