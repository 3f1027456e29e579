import { NamedObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { OBJ_TYPE } from "./types.ts";

/** A resource: a capability over a kind and range of system resources. */
export class Resource extends NamedObject {
  readonly type = OBJ_TYPE.RESOURCE;
  readonly defaultRights = DEFAULT_RIGHTS.resource;

  constructor(
    koid: number,
    readonly kind: number,
    readonly base: number,
    readonly size: number,
  ) {
    super(koid);
  }
}
