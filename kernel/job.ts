import { CHANNEL_TYPE, Exceptionate } from "./exceptionate.ts";
import { NamedObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { OBJ_TYPE } from "./types.ts";
import type { Process } from "./process.ts";

export class Job extends NamedObject {
  readonly type = OBJ_TYPE.JOB;
  readonly defaultRights = DEFAULT_RIGHTS.job;
  readonly childJobs = new Set<Job>();
  readonly processes = new Set<Process>();
  dead = false;
  /** Exception channel slots: the job's, and up to 32 job debuggers' (in creation order). */
  readonly exceptionate = new Exceptionate(CHANNEL_TYPE.JOB);
  readonly debugExceptionates: Exceptionate[] = [];

  constructor(koid: number, readonly parent: Job | null) {
    super(koid);
    parent?.childJobs.add(this);
  }

  /**
   * The last handle is gone: a job with no child jobs and no processes is
   * destroyed and leaves its parent, as in Zircon (the parent keeps only a
   * weak list of its children; the children hold the parent).
   */
  override onZeroHandles(): void {
    this.releaseIfUnused();
  }

  /** Leaves the parent if nothing holds this job any more; the parent may then go too. */
  releaseIfUnused(): void {
    const parent = this.parent;
    if (
      parent === null || this.handleCount !== 0 || this.childJobs.size !== 0 ||
      this.processes.size !== 0 || !parent.childJobs.has(this)
    ) return;
    parent.childJobs.delete(this);
    parent.releaseIfUnused();
  }

  /** How many jobs lie above this one (the root job is at 0). */
  get depth(): number {
    return this.parent ? this.parent.depth + 1 : 0;
  }

  override get relatedKoid(): number {
    return this.parent?.koid ?? 0;
  }
}
