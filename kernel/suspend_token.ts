import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { OBJ_TYPE } from "./types.ts";

/** Holds a task suspended; closing its last handle resumes the task. */
export class SuspendToken extends KernelObject {
  readonly type = OBJ_TYPE.SUSPEND_TOKEN;
  readonly defaultRights = DEFAULT_RIGHTS.suspendToken;

  constructor(koid: number, private readonly resume: () => void) {
    super(koid);
  }

  override onZeroHandles(): void {
    this.resume();
  }
}
