// One mapping of a VMO into a VMAR (Zircon's VmMapping): a page-aligned
// range, where it starts in the VMO, the most it may ever be protected to,
// and its current protection, which may differ from page to page after a
// partial vmar_protect (Zircon keeps one mapping with several protection
// ranges rather than splitting it).

import { PAGE_SIZE } from "../../arch/cpu.ts";
import { VM } from "../types.ts";
import type { Vmar } from "../vmar.ts";
import type { Vmo } from "../vmo.ts";

/** ZX_VM_PERM_READ | WRITE | EXECUTE. */
export const PERM_RWX = VM.PERM_READ | VM.PERM_WRITE | VM.PERM_EXECUTE;

/** ZX_VM_CAN_MAP_READ | WRITE | EXECUTE. */
export const CAN_MAP_RWX = VM.CAN_MAP_READ | VM.CAN_MAP_WRITE | VM.CAN_MAP_EXECUTE;

/** The PERM_* bits a region's CAN_MAP_* flags allow (CAN_MAP_READ is PERM_READ << 7). */
export function permsAllowedBy(flags: number): number {
  return (flags & CAN_MAP_RWX) >>> 7;
}

/** The CAN_MAP_* bits matching some PERM_* bits. */
export function canMapFor(perms: number): number {
  return (perms & PERM_RWX) << 7;
}

/** A run of pages with one protection, from `start` to the next run or the mapping's end. */
interface ProtectionRun {
  start: number;
  perms: number;
}

/** A piece of a mapping with uniform protection, as ZX_INFO_PROCESS_MAPS lists it. */
export interface ProtectionRange {
  readonly base: number;
  readonly size: number;
  readonly perms: number;
}

export class Mapping {
  /** vmar_map marks its mappings mergeable: an adjacent, contiguous twin is absorbed. */
  mergeable = false;
  alive = true;
  /** Sorted by start; the first starts at `base`; neighbours differ. */
  #runs: ProtectionRun[];

  constructor(
    public parent: Vmar,
    public base: number,
    public size: number,
    readonly vmo: Vmo,
    /** Page index in the VMO where the mapping starts. */
    public vmoPage: number,
    /** The VMAR flags it was made with, with CAN_MAP_* = its maximum protection. */
    readonly flags: number,
    perms: number,
  ) {
    this.#runs = [{ start: base, perms }];
  }

  get end(): number {
    return this.base + this.size;
  }

  /** The VMO page index behind `va`. */
  vmoPageAt(va: number): number {
    return this.vmoPage + Math.floor((va - this.base) / PAGE_SIZE);
  }

  /** is_valid_mapping_flags: the mapping may be protected to `perms`. */
  allows(perms: number): boolean {
    return (perms & ~permsAllowedBy(this.flags)) === 0;
  }

  permsAt(va: number): number {
    const runs = this.#runs;
    let i = runs.length - 1;
    while (runs[i].start > va) i--;
    return runs[i].perms;
  }

  /** The protection ranges that intersect [from, to), clipped to it. */
  protections(from = this.base, to = this.end): ProtectionRange[] {
    const out: ProtectionRange[] = [];
    this.#runs.forEach((run, i) => {
      const runEnd = i + 1 < this.#runs.length ? this.#runs[i + 1].start : this.end;
      const base = Math.max(run.start, from);
      const end = Math.min(runEnd, to);
      if (base < end) out.push({ base, size: end - base, perms: run.perms });
    });
    return out;
  }

  /** Sets the protection of [from, to) (inside the mapping). */
  protect(from: number, to: number, perms: number): void {
    const before = this.protections(this.base, from);
    const after = this.protections(to, this.end);
    this.#setRuns([...before, { base: from, size: to - from, perms }, ...after]);
  }

  /** Drops [base, to): the mapping now starts at `to`. */
  trimStart(to: number): void {
    const kept = this.protections(to, this.end);
    this.vmoPage = this.vmoPageAt(to);
    this.size = this.end - to;
    this.base = to;
    this.#setRuns(kept);
  }

  /** Drops [from, end): the mapping now ends at `from`. */
  trimEnd(from: number): void {
    const kept = this.protections(this.base, from);
    this.size = from - this.base;
    this.#setRuns(kept);
  }

  /** A new mapping for [from, end) with the same flags and protections; this one is untouched. */
  cloneFrom(from: number): Mapping {
    const right = new Mapping(
      this.parent,
      from,
      this.end - from,
      this.vmo,
      this.vmoPageAt(from),
      this.flags,
      0,
    );
    right.mergeable = this.mergeable;
    right.#setRuns(this.protections(from, this.end));
    return right;
  }

  /** Appends `right` (adjacent, same VMO, contiguous) to this mapping. */
  absorb(right: Mapping): void {
    const runs = [...this.protections(), ...right.protections()];
    this.size += right.size;
    this.#setRuns(runs);
  }

  #setRuns(ranges: readonly ProtectionRange[]): void {
    const runs: ProtectionRun[] = [];
    for (const { base, perms } of ranges) {
      if (runs.length === 0 || runs[runs.length - 1].perms !== perms) {
        runs.push({ start: base, perms });
      }
    }
    this.#runs = runs;
  }
}
