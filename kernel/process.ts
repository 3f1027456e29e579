import { NamedObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { OBJ_TYPE } from "./types.ts";
import { finishDeadTransition } from "./scheduler.ts";
import { type HandleIdSource, HandleTable } from "./handle_table.ts";
import type { Job } from "./job.ts";
import type { Thread } from "./thread.ts";
import type { Vmar } from "./vmar.ts";

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

  constructor(
    koid: number,
    readonly job: Job,
    readonly rootVmar: Vmar,
    handleIds: HandleIdSource,
  ) {
    super(koid);
    this.handles = new HandleTable(handleIds);
    job.processes.add(this);
  }

  override get relatedKoid(): number {
    return this.job.koid;
  }

  /** A process that never started can never start once its last handle is gone. */
  override onZeroHandles(): void {
    if (this.state === "INITIAL") finishDeadTransition(this);
  }
}
