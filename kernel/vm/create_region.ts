// Making sub-VMARs and mappings (VmAddressRegion::CreateSubVmar,
// CreateVmMapping and CreateSubVmarInternal), with Zircon's checks in
// Zircon's order, and merging a new mapping with a contiguous neighbour
// (VmMapping::MarkMergeable).

import { PAGE_SIZE } from "../../arch/cpu.ts";
import { ERR, ZxError } from "../status.ts";
import { VM } from "../types.ts";
import { Vmar } from "../vmar.ts";
import { roundUpToPage, type Vmo } from "../vmo.ts";
import { CAN_MAP_RWX, canMapFor, Mapping, permsAllowedBy } from "./mapping.ts";
import { firstFit } from "./placement.ts";
import { unmapRange } from "./range_ops.ts";

const PAGE = BigInt(PAGE_SIZE);
const U64_LIMIT = 1n << 64n;

/** Where and how big, as vmar_map / vmar_allocate ask. */
export interface Placement {
  /** vmar_offset: relative to the VMAR's base (or the upper limit with OFFSET_IS_UPPER_LIMIT). */
  readonly offset: bigint;
  /** log2 of the requested alignment: 0 (none) or 10..32. */
  readonly alignLog2: number;
  /** VMAR flags (ZX_VM_* bits: SPECIFIC, CAN_MAP_*, ...). */
  readonly flags: number;
}

export interface MappingRequest extends Placement {
  /** The length asked for (rounded up to pages here). */
  readonly len: bigint;
  readonly vmo: Vmo;
  readonly vmoOffset: bigint;
  /** ZX_VM_PERM_* bits. */
  readonly perms: number;
}

function invalid(message: string): ZxError {
  return new ZxError(ERR.INVALID_ARGS, message);
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * CreateSubVmarInternal up to the new region's base: the checks, then a
 * SPECIFIC address (replacing mappings there for SPECIFIC_OVERWRITE) or the
 * lowest free spot (see placement.ts).
 */
function place(vmar: Vmar, p: Placement, size: bigint): { base: number; overwrote: boolean } {
  if (!vmar.alive) throw new ZxError(ERR.BAD_STATE, "the VMAR has been destroyed");
  if (size === 0n) throw invalid("the size is 0");
  if (p.flags & ~vmar.flags & CAN_MAP_RWX) {
    throw new ZxError(ERR.ACCESS_DENIED, "the VMAR's CAN_MAP_* flags do not allow this");
  }
  const overwrite = (p.flags & VM.SPECIFIC_OVERWRITE) !== 0;
  const specific = overwrite || (p.flags & VM.SPECIFIC) !== 0;
  const upper = (p.flags & VM.OFFSET_IS_UPPER_LIMIT) !== 0;
  if (specific && upper) {
    throw invalid("ZX_VM_SPECIFIC* and ZX_VM_OFFSET_IS_UPPER_LIMIT exclude each other");
  }
  if (!specific && !upper && p.offset !== 0n) {
    throw invalid(`offset ${hex(p.offset)} needs ZX_VM_SPECIFIC or ZX_VM_OFFSET_IS_UPPER_LIMIT`);
  }
  if (p.offset % PAGE !== 0n) throw invalid(`offset ${hex(p.offset)} is not page-aligned`);
  if ((specific || upper) && !(vmar.flags & VM.CAN_MAP_SPECIFIC)) {
    throw new ZxError(ERR.ACCESS_DENIED, "the VMAR was not created with ZX_VM_CAN_MAP_SPECIFIC");
  }
  const room = BigInt(vmar.size);
  const fits = upper
    ? p.offset <= room && size <= room && size <= p.offset
    : p.offset < room && size <= room - p.offset;
  if (!fits) {
    throw invalid(`${hex(size)} bytes at offset ${hex(p.offset)} do not fit in the VMAR`);
  }
  const length = Number(size);
  if (specific) {
    const base = vmar.base + Number(p.offset);
    if (p.alignLog2 > 0 && base % 2 ** p.alignLog2 !== 0) {
      throw invalid(`${hex(base)} is not aligned to 2^${p.alignLog2}`);
    }
    if (vmar.isRangeFree(base, base + length)) return { base, overwrote: false };
    if (!overwrite) {
      throw new ZxError(
        ERR.ALREADY_EXISTS,
        `something is already mapped in [${hex(base)}, +${hex(size)})`,
      );
    }
    unmapRange(vmar, base, length, false);
    return { base, overwrote: true };
  }
  const align = 2 ** Math.max(p.alignLog2, 12);
  const limit = upper ? vmar.base + Number(p.offset) : Infinity;
  const base = firstFit(vmar.children, vmar.base, vmar.end, length, align, limit);
  if (base === null) {
    throw new ZxError(ERR.NO_RESOURCES, `no free range of ${hex(size)} bytes in the VMAR`);
  }
  return { base, overwrote: false };
}

/**
 * VmAddressRegion::CreateSubVmar: a new VMAR (its koid from `koid()`, taken
 * only on success) named "useralloc", as vmar_allocate makes them.
 */
export function createSubVmar(vmar: Vmar, p: Placement, size: bigint, koid: () => number): Vmar {
  if (size % PAGE !== 0n) throw invalid(`size ${hex(size)} is not page-aligned`);
  const allowed = VM.SPECIFIC | VM.CAN_MAP_SPECIFIC | VM.COMPACT | CAN_MAP_RWX |
    VM.OFFSET_IS_UPPER_LIMIT;
  if (p.flags & ~allowed) throw invalid(`options 0x${p.flags.toString(16)} are not for a VMAR`);
  const { base } = place(vmar, p, size);
  const child = new Vmar(koid(), vmar.aspace, vmar, base, Number(size), p.flags, "useralloc");
  vmar.insert(child);
  return child;
}

/** VmAddressRegion::CreateVmMapping: maps `len` bytes (rounded up) of a VMO into `vmar`. */
export function createMapping(vmar: Vmar, r: MappingRequest): Mapping {
  const allowed = VM.SPECIFIC | VM.SPECIFIC_OVERWRITE | CAN_MAP_RWX | VM.OFFSET_IS_UPPER_LIMIT;
  if (r.flags & ~allowed) throw invalid(`options 0x${r.flags.toString(16)} are not for a mapping`);
  if (r.perms & ~permsAllowedBy(vmar.flags)) {
    throw new ZxError(ERR.ACCESS_DENIED, "the VMAR may not map with these permissions");
  }
  if (r.vmoOffset % PAGE !== 0n) {
    throw invalid(`vmo_offset ${hex(r.vmoOffset)} is not page-aligned`);
  }
  const size = roundUpToPage(r.len);
  if (size === null) {
    throw new ZxError(ERR.OUT_OF_RANGE, `len ${hex(r.len)} overflows when rounded up`);
  }
  if (r.vmoOffset + size >= U64_LIMIT) {
    throw new ZxError(ERR.OUT_OF_RANGE, "vmo_offset + len overflows 64 bits");
  }
  const flags = r.flags | canMapFor(r.perms);
  const { base, overwrote } = place(vmar, { ...r, flags }, size);
  const aspace = vmar.aspace;
  const vdso = r.vmo.vdsoCode;
  const vdsoCode = vdso !== null && (r.perms & VM.PERM_EXECUTE) !== 0 && !overwrote;
  if (vdsoCode) {
    if (
      aspace.vdsoCodeMapping || r.vmoOffset !== BigInt(vdso.offset) || size !== BigInt(vdso.size)
    ) {
      throw new ZxError(ERR.ACCESS_DENIED, "only one executable mapping of the vDSO's code");
    }
  }
  // With OFFSET_IS_UPPER_LIMIT, Zircon maps from the start of the VMO whatever vmo_offset says.
  const vmoPage = r.flags & VM.OFFSET_IS_UPPER_LIMIT ? 0 : Number(r.vmoOffset / PAGE);
  const mapping = new Mapping(vmar, base, Number(size), r.vmo, vmoPage, flags, r.perms);
  vmar.insert(mapping);
  r.vmo.mappings.add(mapping);
  if (vdsoCode) aspace.vdsoCodeMapping = mapping;
  aspace.invalidate();
  return mapping;
}

/** Absorbs `right` into `left` if they are one contiguous view of one VMO with equal flags. */
function tryMerge(left: Mapping, right: Mapping): boolean {
  const contiguous = left.end === right.base && left.vmo === right.vmo &&
    left.vmoPage + left.size / PAGE_SIZE === right.vmoPage;
  if (!contiguous || left.flags !== right.flags || !left.alive || !right.alive) return false;
  if (!left.mergeable || !right.mergeable) return false;
  left.absorb(right);
  left.parent.remove(right);
  right.alive = false;
  right.vmo.mappings.delete(right);
  return true;
}

/** VmMapping::MarkMergeable: vmar_map's mappings merge with contiguous twins beside them. */
export function markMergeable(mapping: Mapping): void {
  if (!mapping.alive || mapping === mapping.parent.aspace.vdsoCodeMapping) return;
  mapping.mergeable = true;
  const siblings = mapping.parent.children;
  const right = siblings[siblings.indexOf(mapping) + 1];
  if (right && !(right instanceof Vmar)) tryMerge(mapping, right);
  const left = siblings[siblings.indexOf(mapping) - 1];
  if (left && !(left instanceof Vmar)) tryMerge(left, mapping);
}
