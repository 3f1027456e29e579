import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS, RIGHT } from "./rights.ts";
import { OBJ_TYPE } from "./types.ts";

/** A virtual memory address region (no name, as in Zircon). Only root VMARs exist so far. */
export class Vmar extends KernelObject {
  readonly type = OBJ_TYPE.VMAR;
  readonly defaultRights = DEFAULT_RIGHTS.vmar;

  constructor(koid: number, readonly base: bigint, readonly size: bigint) {
    super(koid);
  }

  /** A root VMAR may map read, write and execute, so its handle carries those rights. */
  get handleRights(): number {
    return this.defaultRights | RIGHT.READ | RIGHT.WRITE | RIGHT.EXECUTE;
  }
}
