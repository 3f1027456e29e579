import { CHANNEL_TYPE, Exceptionate } from "./exceptionate.ts";
import { NamedObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { OBJ_TYPE, SIGNAL } from "./types.ts";
import { finishDeadTransition } from "./scheduler.ts";
import { type HandleIdSource, HandleTable } from "./handle_table.ts";
import type { Job } from "./job.ts";
import type { ObjectLedger } from "./limits.ts";
import type { Thread } from "./thread.ts";
import type { Vmar } from "./vmar.ts";
import type { ProcessAddressSpace } from "./vm/address_space.ts";

export type ProcessState = "INITIAL" | "RUNNING" | "DYING" | "DEAD";

export class Process extends NamedObject {
  readonly type = OBJ_TYPE.PROCESS;
  readonly defaultRights = DEFAULT_RIGHTS.process;
  readonly handles: HandleTable;
  state: ProcessState = "INITIAL";
  /** Every thread ever created in this process, started or not. */
  readonly createdThreads = new Set<Thread>();
  /** Threads that have been started (the kernel's thread list). */
  readonly threads = new Set<Thread>();
  suspendCount = 0;
  returnCode = 0;
  /** Monotonic ns at which the process started (0 before). */
  startTime = 0n;
  /** Where the vDSO is mapped, once the process has started. */
  vdsoBase: number | null = null;
  /** Exception channel slots: ZX_EXCEPTION_CHANNEL_TYPE_PROCESS and _DEBUGGER. */
  readonly exceptionate = new Exceptionate(CHANNEL_TYPE.PROCESS);
  readonly debugExceptionate = new Exceptionate(CHANNEL_TYPE.DEBUGGER);
  /** Its kernel's count of live objects (set by Kernel.createProcess). */
  ledger: ObjectLedger | null = null;
  /** Called once when the process starts (the kernel maps the vDSO). */
  onStart: () => void = () => {};

  /** Its root VMAR (the aspace's), whose handle process_create returns. */
  readonly rootVmar: Vmar;

  constructor(
    koid: number,
    readonly job: Job,
    /** The process's memory: what its threads' cores and the debugger syscalls see. */
    readonly aspace: ProcessAddressSpace,
    handleIds: HandleIdSource,
  ) {
    super(koid);
    this.rootVmar = aspace.root;
    this.handles = new HandleTable(handleIds);
    job.processes.add(this);
    // A dead process's address space is torn down: every mapping goes, the root VMAR dies.
    this.addObserver({ mask: SIGNAL.TASK_TERMINATED, onSignals: () => aspace.destroy() });
  }

  override get relatedKoid(): number {
    return this.job.koid;
  }

  /**
   * A process that never started can never start once its last handle is
   * gone. A dead one with no handle is gone from the kernel's object count.
   */
  override onZeroHandles(): void {
    if (this.state === "INITIAL") finishDeadTransition(this);
    if (this.state === "DEAD") this.ledger?.untrack(this);
  }
}
