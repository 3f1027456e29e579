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

  constructor(koid: number, readonly parent: Job | null) {
    super(koid);
    parent?.childJobs.add(this);
  }

  override get relatedKoid(): number {
    return this.parent?.koid ?? 0;
  }
}
