// A virtual memory address region (VmAddressRegion and its dispatcher): a
// range of a process's address space holding, in address order, sub-VMARs
// and mappings that never overlap. Addresses are JS numbers (every user
// address is below 2^48); syscalls check their 64-bit arguments before they
// get here. The operations that create, unmap and protect live in kernel/vm/.

import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS, RIGHT } from "./rights.ts";
import { OBJ_TYPE, VM } from "./types.ts";
import type { ProcessAddressSpace } from "./vm/address_space.ts";
import type { Mapping } from "./vm/mapping.ts";

/** What a VMAR holds. */
export type Region = Vmar | Mapping;

export class Vmar extends KernelObject {
  readonly type = OBJ_TYPE.VMAR;
  readonly defaultRights = DEFAULT_RIGHTS.vmar;
  /** Sub-VMARs and mappings, sorted by address. */
  readonly children: Region[] = [];
  alive = true;

  constructor(
    koid: number,
    readonly aspace: ProcessAddressSpace,
    readonly parent: Vmar | null,
    readonly base: number,
    readonly size: number,
    /** VMAR flags as ZX_VM_* bits: CAN_MAP_*, CAN_MAP_SPECIFIC, COMPACT, SPECIFIC, ... */
    readonly flags: number,
    /** Zircon's internal name: "root" or "useralloc" (ZX_INFO_PROCESS_MAPS shows it). */
    readonly label: string,
  ) {
    super(koid);
  }

  get end(): number {
    return this.base + this.size;
  }

  /** VmAddressRegionDispatcher::Create: default rights plus READ/WRITE/EXECUTE per CAN_MAP_*. */
  get handleRights(): number {
    let rights = this.defaultRights;
    if (this.flags & VM.CAN_MAP_READ) rights |= RIGHT.READ;
    if (this.flags & VM.CAN_MAP_WRITE) rights |= RIGHT.WRITE;
    if (this.flags & VM.CAN_MAP_EXECUTE) rights |= RIGHT.EXECUTE;
    return rights;
  }

  /** is_in_range: [base, base + size) lies inside this VMAR (64-bit arithmetic). */
  isInRange(base: bigint, size: bigint): boolean {
    const offset = base - BigInt(this.base);
    return base >= BigInt(this.base) && offset < BigInt(this.size) &&
      BigInt(this.size) - offset >= size;
  }

  /** Index of the first child that ends after `va`. */
  indexAfter(va: number): number {
    let lo = 0, hi = this.children.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.children[mid].end <= va) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The child holding `va`, if any. */
  childAt(va: number): Region | undefined {
    const child = this.children[this.indexAfter(va)];
    return child && child.base <= va ? child : undefined;
  }

  /** The children that intersect [base, end), in order. */
  childrenIn(base: number, end: number): Region[] {
    const out: Region[] = [];
    for (let i = this.indexAfter(base); i < this.children.length; i++) {
      if (this.children[i].base >= end) break;
      out.push(this.children[i]);
    }
    return out;
  }

  isRangeFree(base: number, end: number): boolean {
    const next = this.children[this.indexAfter(base)];
    return next === undefined || next.base >= end;
  }

  insert(region: Region): void {
    this.children.splice(this.indexAfter(region.base), 0, region);
  }

  remove(region: Region): void {
    const i = this.children.indexOf(region);
    if (i >= 0) this.children.splice(i, 1);
  }

  /** DestroyLocked: unmaps every mapping below, kills every sub-VMAR, leaves the parent. */
  destroy(): void {
    for (const child of [...this.children]) {
      if (child instanceof Vmar) child.destroy();
      else this.aspace.dropMapping(child);
    }
    this.parent?.remove(this);
    this.alive = false;
  }
}
