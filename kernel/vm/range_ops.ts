// Operations on a range of a VMAR: unmap (VmAddressRegion::Unmap and
// UnmapInternalLocked), protect (VmAddressRegion::Protect) and destroy, with
// Zircon's checks in Zircon's order. Every check runs before anything
// changes, so a refused call leaves the address space as it was.

import { PAGE_SIZE } from "../../arch/cpu.ts";
import { ERR, ZxError } from "../status.ts";
import { Vmar } from "../vmar.ts";
import type { Mapping } from "./mapping.ts";

const PAGE = BigInt(PAGE_SIZE);
const U64_MASK = (1n << 64n) - 1n;

/** ROUNDUP(len, PAGE_SIZE) as size_t arithmetic: wraps to 0 near 2^64. */
export function roundUpWrapping(len: bigint): bigint {
  return ((len + PAGE - 1n) & ~(PAGE - 1n)) & U64_MASK;
}

function invalid(message: string): ZxError {
  return new ZxError(ERR.INVALID_ARGS, message);
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** The length rounded to pages, after the checks Unmap and Protect share. */
function checkedRange(vmar: Vmar, base: bigint, len: bigint): bigint {
  const size = roundUpWrapping(len);
  if (size === 0n) throw invalid(`len ${hex(len)} rounds up to 0 pages`);
  if (base % PAGE !== 0n) throw invalid(`addr ${hex(base)} is not page-aligned`);
  if (!vmar.alive) throw new ZxError(ERR.BAD_STATE, "the VMAR has been destroyed");
  if (!vmar.isInRange(base, size)) {
    throw invalid(
      `[${hex(base)}, +${hex(size)}) is not inside the VMAR [${hex(vmar.base)}, ${hex(vmar.end)})`,
    );
  }
  return size;
}

/**
 * zx_vmar_unmap after the handle lookup. `opChildren` (the handle has
 * ZX_RIGHT_OP_CHILDREN) lets sub-VMARs entirely inside the range go too.
 */
export function unmap(vmar: Vmar, base: bigint, len: bigint, opChildren: boolean): void {
  if (base % PAGE !== 0n) throw invalid(`addr ${hex(base)} is not page-aligned`);
  const size = checkedRange(vmar, base, len);
  unmapRange(vmar, Number(base), Number(size), opChildren);
}

/**
 * UnmapInternalLocked on a range inside `vmar`: mappings are removed,
 * trimmed or split; sub-VMARs may only go whole, and only if
 * `canDestroyRegions`. Holes are fine.
 */
export function unmapRange(vmar: Vmar, base: number, size: number, canDestroyRegions: boolean) {
  if (vmar.children.length === 0) return;
  const aspace = vmar.aspace;
  if (aspace.intersectsVdsoCode(base, size)) {
    throw new ZxError(ERR.ACCESS_DENIED, "the range touches the vDSO's code mapping");
  }
  const end = base + size;
  const touched = vmar.childrenIn(base, end);
  for (const child of touched) {
    if (!(child instanceof Vmar)) continue;
    if (!canDestroyRegions) {
      throw invalid(`the range touches the sub-VMAR at ${hex(child.base)}`);
    }
    if (child.base < base || child.end > end) {
      throw invalid(`the range covers only part of the sub-VMAR at ${hex(child.base)}`);
    }
  }
  for (const child of touched) {
    if (child instanceof Vmar) child.destroy();
    else unmapPart(child, base, end);
  }
}

/** Removes [base, end) from one mapping, splitting it if the hole is in its middle. */
function unmapPart(mapping: Mapping, base: number, end: number): void {
  const aspace = mapping.parent.aspace;
  if (mapping.base >= base && mapping.end <= end) {
    aspace.dropMapping(mapping);
    return;
  }
  const right = mapping.base < base && mapping.end > end ? mapping.cloneFrom(end) : null;
  if (mapping.base < base) mapping.trimEnd(base);
  else mapping.trimStart(end);
  if (right) {
    mapping.parent.insert(right);
    mapping.vmo.mappings.add(right);
  }
  aspace.invalidate();
}

/** The mappings below `vmar` (at any depth) that intersect [base, end), in address order. */
function mappingsIn(vmar: Vmar, base: number, end: number): Mapping[] {
  return vmar.childrenIn(base, end).flatMap((child) =>
    child instanceof Vmar ? mappingsIn(child, base, end) : [child]
  );
}

/**
 * zx_vmar_protect after the rights and protection checks: every page of
 * the range must be mapped, each mapping must allow `perms`, and mappings
 * in sub-VMARs need ZX_RIGHT_OP_CHILDREN and may only lose permissions.
 */
export function protect(
  vmar: Vmar,
  base: bigint,
  len: bigint,
  perms: number,
  opChildren: boolean,
): void {
  const size = checkedRange(vmar, base, len);
  const start = Number(base);
  const end = start + Number(size);
  const mappings = mappingsIn(vmar, start, end);
  let expected = start;
  for (const mapping of mappings) {
    if (mapping.base > expected) {
      throw new ZxError(ERR.NOT_FOUND, `nothing is mapped at ${hex(expected)}`);
    }
    if (!mapping.allows(perms)) {
      throw new ZxError(
        ERR.ACCESS_DENIED,
        `the mapping at ${hex(mapping.base)} may not be given these permissions ` +
          "(its VMO and VMAR handles did not allow them when it was mapped)",
      );
    }
    if (mapping === vmar.aspace.vdsoCodeMapping) {
      throw new ZxError(ERR.ACCESS_DENIED, "the vDSO's code mapping cannot be protected");
    }
    if (mapping.parent !== vmar) {
      if (!opChildren) {
        throw invalid(`the mapping at ${hex(mapping.base)} is in a sub-VMAR (needs OP_CHILDREN)`);
      }
      for (const range of mapping.protections(expected, Math.min(end, mapping.end))) {
        if ((range.perms & perms) !== perms) {
          throw new ZxError(
            ERR.ACCESS_DENIED,
            `through a parent VMAR, permissions may only be removed (at ${hex(range.base)})`,
          );
        }
      }
    }
    expected = mapping.end;
  }
  if (expected < end) throw new ZxError(ERR.NOT_FOUND, `nothing is mapped at ${hex(expected)}`);
  for (const mapping of mappings) {
    mapping.protect(Math.max(mapping.base, start), Math.min(mapping.end, end), perms);
  }
  vmar.aspace.invalidate();
}

/** zx_vmar_destroy after the handle lookup. */
export function destroy(vmar: Vmar): void {
  if (vmar === vmar.aspace.root) {
    throw new ZxError(ERR.NOT_SUPPORTED, "a process's root VMAR cannot be destroyed");
  }
  if (!vmar.alive) throw new ZxError(ERR.BAD_STATE, "the VMAR has already been destroyed");
  vmar.destroy();
  vmar.aspace.invalidate();
}
