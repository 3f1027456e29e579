// zx_vmar_allocate, zx_vmar_map, zx_vmar_unmap, zx_vmar_protect, zx_vmar_destroy.

import { z } from "zod";
import { hasRights, RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { VM, VM_ALIGN_BASE } from "../types.ts";
import { createMapping, createSubVmar, markMergeable } from "../vm/create_region.ts";
import { PERM_RWX } from "../vm/mapping.ts";
import { destroy, protect, unmap } from "../vm/range_ops.ts";
import { Vmar } from "../vmar.ts";
import { Vmo } from "../vmo.ts";
import type { Caller } from "./define.ts";
import { defineSyscall } from "./define.ts";
import { flags, handle, u64, u64Out } from "./params.ts";

const PAGE = 4096n;

/** The VMAR-flag bits split_syscall_flags knows (the rest below bit 24 is INVALID_ARGS). */
const VMAR_FLAGS = VM.COMPACT | VM.SPECIFIC | VM.SPECIFIC_OVERWRITE | VM.CAN_MAP_SPECIFIC |
  VM.CAN_MAP_READ | VM.CAN_MAP_WRITE | VM.CAN_MAP_EXECUTE | VM.REQUIRE_NON_RESIZABLE |
  VM.ALLOW_FAULTS | VM.OFFSET_IS_UPPER_LIMIT;

/** split_syscall_flags: permissions, VMAR flags and log2 of the alignment. */
function splitFlags(options: number): { perms: number; vmarFlags: number; alignLog2: number } {
  const perms = options & PERM_RWX;
  const vmarFlags = options & VMAR_FLAGS;
  const rest = options & ~(PERM_RWX | VM.PERM_READ_IF_XOM_UNSUPPORTED | VMAR_FLAGS);
  if (rest & ((1 << VM_ALIGN_BASE) - 1)) {
    throw new ZxError(ERR.INVALID_ARGS, `unknown option bits 0x${(rest & 0xff_ffff).toString(16)}`);
  }
  const alignLog2 = options >>> VM_ALIGN_BASE;
  if ((alignLog2 !== 0 && alignLog2 < 10) || alignLog2 > 32) {
    throw new ZxError(ERR.INVALID_ARGS, `alignment 2^${alignLog2} is not ZX_VM_ALIGN_1KB..4GB`);
  }
  return { perms, vmarFlags, alignLog2 };
}

/** is_valid_mapping_protection: write or execute without read is not expressible. */
function checkProtection(options: number): void {
  if (!(options & VM.PERM_READ) && (options & (VM.PERM_WRITE | VM.PERM_EXECUTE))) {
    throw new ZxError(ERR.INVALID_ARGS, "ZX_VM_PERM_WRITE or _EXECUTE needs ZX_VM_PERM_READ");
  }
}

/** No CPU zxsim runs has execute-only mappings: READ_IF_XOM_UNSUPPORTED means READ. */
function withXomFallback(options: number): number {
  return options & VM.PERM_READ_IF_XOM_UNSUPPORTED ? (options | VM.PERM_READ) >>> 0 : options;
}

/** The rights a handle needs for these PERM_* (or CAN_MAP_*, shifted) bits. */
function rightsFor(perms: number): number {
  return (perms & VM.PERM_READ ? RIGHT.READ : 0) | (perms & VM.PERM_WRITE ? RIGHT.WRITE : 0) |
    (perms & VM.PERM_EXECUTE ? RIGHT.EXECUTE : 0);
}

/** A VMAR handle's object and rights, looked up without requiring any right. */
function lookupVmar(caller: Caller, value: number, rights: number = RIGHT.NONE) {
  const vmar = caller.handles.lookupAs(value, Vmar, rights);
  return { vmar, rights: caller.handles.get(value)!.rights };
}

const optionsParam = (what: string) => flags("options", what).default(0);

export const vmarAllocate = defineSyscall({
  name: "vmar_allocate",
  abis: ["zx"],
  summary: "Allocate a sub-VMAR",
  description: "Options: ZX_VM_CAN_MAP_READ / WRITE / EXECUTE (the parent handle needs READ / " +
    "WRITE / EXECUTE for them, and the parent's own CAN_MAP flags must allow them), " +
    "ZX_VM_CAN_MAP_SPECIFIC, ZX_VM_COMPACT, ZX_VM_SPECIFIC (offset is from the parent's base), " +
    "ZX_VM_OFFSET_IS_UPPER_LIMIT and one ZX_VM_ALIGN_*. size must be page-aligned and non-zero. " +
    "Without SPECIFIC, zxsim places the VMAR deterministically at the lowest free address that " +
    "fits (Zircon randomizes). No room: NO_RESOURCES; overlap with SPECIFIC: ALREADY_EXISTS. " +
    "The new handle has ZX_DEFAULT_VMAR_RIGHTS plus READ / WRITE / EXECUTE per CAN_MAP flag.",
  params: z.strictObject({
    parent_vmar: handle(),
    options: optionsParam("ZX_VM_CAN_MAP_*, ZX_VM_SPECIFIC, ZX_VM_COMPACT, ZX_VM_ALIGN_*, ..."),
    offset: u64("the offset from the parent's base (with ZX_VM_SPECIFIC)").default(0n),
    size: u64("the size in bytes (page-aligned)"),
  }),
  outs: z.object({ child_vmar: handle(), child_addr: u64Out() }),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "INVALID_ARGS",
    "BAD_STATE",
    "ALREADY_EXISTS",
    "NO_RESOURCES",
    "NO_MEMORY",
  ],
  example: (h) => ({
    parent_vmar: h.vmar,
    options: ["ZX_VM_CAN_MAP_READ", "ZX_VM_CAN_MAP_WRITE"],
    size: 65536,
  }),
  errorExample: (h) => ({ parent_vmar: h.vmar, options: "ZX_VM_CAN_MAP_READ", size: 1000 }),
  c: [
    { kind: "value", name: "parent_vmar", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "value", name: "offset", type: "u64" },
    { kind: "value", name: "size", type: "u64" },
    { kind: "out_value", name: "child_vmar", type: "u32" },
    { kind: "out_value", name: "child_addr", type: "u64" },
  ],
  impl(caller, { parent_vmar, options, offset, size }) {
    const { vmar } = lookupVmar(caller, parent_vmar, rightsFor(options >>> 7));
    const { perms, vmarFlags, alignLog2 } = splitFlags(options);
    if (perms) throw new ZxError(ERR.INVALID_ARGS, "ZX_VM_PERM_* are for mappings, not VMARs");
    const placement = { offset: BigInt(offset), alignLog2, flags: vmarFlags };
    const child = createSubVmar(vmar, placement, BigInt(size), () => caller.kernel.nextKoid());
    try {
      caller.handles.reserve(1);
    } catch (error) {
      child.destroy();
      throw error;
    }
    const h = caller.handles.add(child, child.handleRights);
    return { child_vmar: h.value, child_addr: child.base };
  },
});

export const vmarMap = defineSyscall({
  name: "vmar_map",
  abis: ["zx"],
  summary: "Map a VMO into a VMAR",
  description: "The VMO handle needs ZX_RIGHT_MAP; each ZX_VM_PERM_READ / WRITE / EXECUTE needs " +
    "the matching right on both the VMO and the VMAR handle (ACCESS_DENIED), and WRITE or " +
    "EXECUTE without READ is INVALID_ARGS. What both handles allow now is the most a later " +
    "vmar_protect may grant. len is rounded up to pages (0 is INVALID_ARGS); vmo_offset must " +
    "be page-aligned; neither is compared with the VMO's size (touching past its end faults). " +
    "ZX_VM_SPECIFIC places it at vmar_offset from the VMAR's base (overlap: ALREADY_EXISTS); " +
    "ZX_VM_SPECIFIC_OVERWRITE replaces the mappings there (but not sub-VMARs); otherwise zxsim " +
    "takes the lowest free address (Zircon randomizes), with ZX_VM_OFFSET_IS_UPPER_LIMIT below " +
    "base + vmar_offset. A mapping contiguous with an identical neighbour of the same VMO " +
    "merges with it, as in Zircon. Returns the address in `mapped_addr`.",
  params: z.strictObject({
    handle: handle(),
    options: optionsParam("ZX_VM_PERM_*, ZX_VM_SPECIFIC*, ZX_VM_ALIGN_*, ..."),
    vmar_offset: u64("the offset from the VMAR's base (with ZX_VM_SPECIFIC*)").default(0n),
    vmo: handle(),
    vmo_offset: u64("the offset in the VMO (page-aligned)").default(0n),
    len: u64("the length in bytes (rounded up to pages)"),
  }),
  outs: z.object({ mapped_addr: u64Out() }),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "INVALID_ARGS",
    "NOT_SUPPORTED",
    "OUT_OF_RANGE",
    "BAD_STATE",
    "ALREADY_EXISTS",
    "NO_RESOURCES",
    "NO_MEMORY",
  ],
  example: (h) => ({
    handle: h.vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"],
    vmo: h.vmo,
    len: 16384,
  }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "value", name: "vmar_offset", type: "u64" },
    { kind: "value", name: "vmo", type: "u32" },
    { kind: "value", name: "vmo_offset", type: "u64" },
    { kind: "value", name: "len", type: "u64" },
    { kind: "out_value", name: "mapped_addr", type: "u64" },
  ],
  impl(caller, { handle, options, vmar_offset, vmo: vmoHandle, vmo_offset, len }) {
    const { vmar, rights: vmarRights } = lookupVmar(caller, handle);
    const vmo = caller.handles.lookupAs(vmoHandle, Vmo, RIGHT.NONE);
    const vmoRights = caller.handles.get(vmoHandle)!.rights;
    if (!(vmoRights & RIGHT.MAP)) {
      throw new ZxError(ERR.ACCESS_DENIED, "the VMO handle lacks ZX_RIGHT_MAP");
    }
    let opts = withXomFallback(options);
    checkProtection(opts);
    const mapRange = (opts & VM.MAP_RANGE) !== 0;
    opts &= ~VM.MAP_RANGE;
    if (mapRange && opts & VM.SPECIFIC_OVERWRITE) {
      throw new ZxError(ERR.INVALID_ARGS, "ZX_VM_MAP_RANGE with ZX_VM_SPECIFIC_OVERWRITE");
    }
    if (opts & (VM.CAN_MAP_READ | VM.CAN_MAP_WRITE | VM.CAN_MAP_EXECUTE)) {
      throw new ZxError(ERR.INVALID_ARGS, "ZX_VM_CAN_MAP_* are for vmar_allocate");
    }
    // What both handles allow: the mapping's maximum protection from now on.
    const allowed = rightsFor(PERM_RWX) & vmoRights & vmarRights;
    const permRights = [[VM.PERM_READ, RIGHT.READ], [VM.PERM_WRITE, RIGHT.WRITE], [
      VM.PERM_EXECUTE,
      RIGHT.EXECUTE,
    ]];
    for (const [perm, right] of permRights) {
      if (opts & perm && !(allowed & right)) {
        throw new ZxError(ERR.ACCESS_DENIED, "the VMO or VMAR handle lacks the right to map so");
      }
    }
    if (allowed & RIGHT.READ) opts |= VM.CAN_MAP_READ;
    if (allowed & RIGHT.WRITE) opts |= VM.CAN_MAP_WRITE;
    if (allowed & RIGHT.EXECUTE) opts |= VM.CAN_MAP_EXECUTE;
    const { perms, vmarFlags, alignLog2 } = splitFlags(opts >>> 0);
    let mappingFlags = vmarFlags;
    if (mappingFlags & VM.REQUIRE_NON_RESIZABLE) {
      mappingFlags &= ~VM.REQUIRE_NON_RESIZABLE;
      if (vmo.resizable) {
        throw new ZxError(ERR.NOT_SUPPORTED, "ZX_VM_REQUIRE_NON_RESIZABLE and a resizable VMO");
      }
    }
    if (mappingFlags & VM.ALLOW_FAULTS) mappingFlags &= ~VM.ALLOW_FAULTS;
    else if (vmo.discardable) {
      throw new ZxError(ERR.NOT_SUPPORTED, "a discardable VMO needs ZX_VM_ALLOW_FAULTS");
    }
    const mapping = createMapping(vmar, {
      offset: BigInt(vmar_offset),
      alignLog2,
      flags: mappingFlags,
      len: BigInt(len),
      vmo,
      vmoOffset: BigInt(vmo_offset),
      perms,
    });
    const base = mapping.base;
    markMergeable(mapping);
    return { mapped_addr: base };
  },
});

export const vmarUnmap = defineSyscall({
  name: "vmar_unmap",
  abis: ["zx"],
  summary: "Unmap a range of a VMAR",
  description: "Needs no particular right. addr must be page-aligned; len is rounded up to pages " +
    "(0 is INVALID_ARGS); the range must lie inside the VMAR. Mappings are removed, trimmed or " +
    "split; holes are fine. A sub-VMAR touched by the range must lie wholly inside it and the " +
    "handle needs ZX_RIGHT_OP_CHILDREN; it is then destroyed (INVALID_ARGS otherwise, before " +
    "anything changes). A destroyed VMAR gives BAD_STATE.",
  params: z.strictObject({
    handle: handle(),
    addr: u64("the address (page-aligned)"),
    len: u64("the length in bytes (rounded up to pages)"),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "INVALID_ARGS", "BAD_STATE", "ACCESS_DENIED"],
  example: (h) => ({ handle: h.vmar, addr: h.vmo_addr, len: 4096 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "addr", type: "u64" },
    { kind: "value", name: "len", type: "u64" },
  ],
  impl(caller, { handle, addr, len }) {
    const { vmar, rights } = lookupVmar(caller, handle);
    unmap(vmar, BigInt(addr), BigInt(len), hasRights(rights, RIGHT.OP_CHILDREN));
    return {};
  },
});

export const vmarProtect = defineSyscall({
  name: "vmar_protect",
  abis: ["zx"],
  summary: "Change the protection of a range",
  description: "The handle needs READ / WRITE / EXECUTE for each permission asked (checked " +
    "first), then WRITE or EXECUTE without READ is INVALID_ARGS; 0 (no access) is valid. addr " +
    "must be page-aligned, len is rounded up (0 is INVALID_ARGS), options may hold only " +
    "ZX_VM_PERM_*. Every page of the range must be mapped (NOT_FOUND), each mapping must allow " +
    "the permissions it was mapped with the rights for (ACCESS_DENIED), and mappings inside " +
    "sub-VMARs need ZX_RIGHT_OP_CHILDREN (INVALID_ARGS) and may only lose permissions. All or " +
    "nothing.",
  params: z.strictObject({
    handle: handle(),
    options: optionsParam("ZX_VM_PERM_* (0 for no access)"),
    addr: u64("the address (page-aligned)"),
    len: u64("the length in bytes (rounded up to pages)"),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "BAD_STATE", "NOT_FOUND"],
  example: (h) => ({ handle: h.vmar, options: "ZX_VM_PERM_READ", addr: h.vmo_addr, len: 4096 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "value", name: "addr", type: "u64" },
    { kind: "value", name: "len", type: "u64" },
  ],
  impl(caller, { handle, options, addr, len }) {
    const opts = withXomFallback(options);
    const { vmar, rights } = lookupVmar(caller, handle, rightsFor(opts));
    checkProtection(opts);
    if (BigInt(addr) % PAGE !== 0n) {
      throw new ZxError(ERR.INVALID_ARGS, `addr 0x${addr.toString(16)} is not page-aligned`);
    }
    const { perms, vmarFlags, alignLog2 } = splitFlags(opts);
    if (vmarFlags || alignLog2) {
      throw new ZxError(ERR.INVALID_ARGS, "vmar_protect takes only ZX_VM_PERM_* options");
    }
    protect(vmar, BigInt(addr), BigInt(len), perms, hasRights(rights, RIGHT.OP_CHILDREN));
    return {};
  },
});

export const vmarDestroy = defineSyscall({
  name: "vmar_destroy",
  abis: ["zx"],
  summary: "Destroy a VMAR and everything in it",
  description: "Needs ZX_RIGHT_OP_CHILDREN. Unmaps every mapping and destroys every sub-VMAR " +
    "below it; the VMAR can then do nothing (BAD_STATE) and its range is free again in its " +
    "parent. A process's root VMAR cannot be destroyed (NOT_SUPPORTED); destroying one twice " +
    "is BAD_STATE.",
  params: z.strictObject({ handle: handle() }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "NOT_SUPPORTED", "BAD_STATE"],
  example: (h) => ({ handle: h.child_vmar }),
  errorExample: (h) => ({ handle: h.vmar }),
  c: [{ kind: "value", name: "handle", type: "u32" }],
  impl(caller, { handle }) {
    destroy(lookupVmar(caller, handle, RIGHT.OP_CHILDREN).vmar);
    return {};
  },
});
