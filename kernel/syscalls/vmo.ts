// zx_vmo_create, zx_vmo_read, zx_vmo_write, zx_vmo_get_size, zx_vmo_set_size.

import { z } from "zod";
import { badHandle, requireRights } from "../handle_table.ts";
import { Resource } from "../resource.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { RSRC_KIND_SYSTEM, VMO_OPTION } from "../types.ts";
import { roundUpToPage, Vmo, VMO_MAX_SIZE } from "../vmo.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { bytes, flags, handle, u64, u64Out } from "./params.ts";

/**
 * zxsim's own limit on one vmo_read: a reply (or a copy into a program's
 * memory) of more than 64 MiB is refused with ZX_ERR_NO_MEMORY.
 */
export const MAX_VMO_TRANSFER = 64 * 1024 * 1024;

const U64_LIMIT = 1n << 64n;

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/** Checks offset + len against the VMO's size, as VmObjectPaged's read and write do. */
function checkRange(vmo: Vmo, offset: bigint, len: bigint): void {
  if (offset + len >= U64_LIMIT) {
    throw new ZxError(ERR.OUT_OF_RANGE, `offset ${hex(offset)} + ${hex(len)} overflows`);
  }
  if (offset + len > vmo.size) {
    throw new ZxError(
      ERR.OUT_OF_RANGE,
      `[${hex(offset)}, +${hex(len)}) is past the VMO's end (${hex(vmo.size)})`,
    );
  }
}

function lookupVmo(caller: Caller, value: number, rights: number): Vmo {
  return caller.handles.lookupAs(value, Vmo, rights);
}

export const vmoCreate = defineSyscall({
  name: "vmo_create",
  abis: ["zx"],
  summary: "Create a virtual memory object",
  description: "The size is rounded up to whole pages (4096 bytes); 0 is allowed. Options: " +
    "ZX_VMO_RESIZABLE (the handle then also has ZX_RIGHT_RESIZE) and ZX_VMO_DISCARDABLE; " +
    "anything else is INVALID_ARGS, checked before the size. A size that overflows when rounded " +
    "or exceeds 2^64 - 2^17 is OUT_OF_RANGE. Pages are zero and cost nothing until written " +
    "(vmo_write) or touched by a thread: each kernel may commit at most its memory budget " +
    "(ZXSIM_MAX_COMMITTED_BYTES, default 256 MiB), beyond which writes give NO_MEMORY. The " +
    "handle has ZX_DEFAULT_VMO_RIGHTS (no EXECUTE).",
  params: z.strictObject({
    size: u64("the size in bytes"),
    options: flags("options", "0, ZX_VMO_RESIZABLE, ZX_VMO_DISCARDABLE").default(0),
  }),
  outs: z.object({ out: handle() }),
  errors: ["INVALID_ARGS", "OUT_OF_RANGE", "NO_MEMORY"],
  example: () => ({ size: 65536, options: "ZX_VMO_RESIZABLE" }),
  errorExample: () => ({ size: 4096, options: 1 }),
  c: [
    { kind: "value", name: "size", type: "u64" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { size, options }) {
    if (options & ~(VMO_OPTION.RESIZABLE | VMO_OPTION.DISCARDABLE)) {
      throw new ZxError(ERR.INVALID_ARGS, `options 0x${options.toString(16)} are not supported`);
    }
    const rounded = roundUpToPage(BigInt(size));
    if (rounded === null || rounded > VMO_MAX_SIZE) {
      throw new ZxError(ERR.OUT_OF_RANGE, `size ${hex(BigInt(size))} is too large for a VMO`);
    }
    caller.handles.reserve(1);
    caller.kernel.reserveObjects(1);
    const { kernel } = caller;
    const vmo = new Vmo(
      kernel.nextKoid(),
      kernel.memory,
      rounded,
      (options & VMO_OPTION.RESIZABLE) !== 0,
      (options & VMO_OPTION.DISCARDABLE) !== 0,
    );
    return { out: caller.handles.add(kernel.objects.track(vmo), vmo.handleRights).value };
  },
});

export const vmoRead = defineSyscall({
  name: "vmo_read",
  abis: ["zx"],
  summary: "Read bytes from a VMO",
  description: "Needs ZX_RIGHT_READ. offset + buffer_size must not overflow and must lie within " +
    "the VMO's (page-rounded) size, else OUT_OF_RANGE; buffer_size 0 at offset == size is fine. " +
    "Pages never written read as zeros and stay uncommitted. The bytes come back in `buffer` " +
    "(base64). zxsim returns at most 64 MiB per call (more is NO_MEMORY).",
  params: z.strictObject({
    handle: handle(),
    offset: u64("the offset in the VMO").default(0n),
    buffer_size: u64("how many bytes to read"),
  }),
  outs: z.object({ buffer: z.string() }),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "OUT_OF_RANGE", "NO_MEMORY"],
  example: (h) => ({ handle: h.vmo, offset: 0, buffer_size: 16 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "out", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "offset", type: "u64" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, { handle, offset, buffer_size }) {
    const vmo = lookupVmo(caller, handle, RIGHT.READ);
    const len = BigInt(buffer_size);
    checkRange(vmo, BigInt(offset), len);
    if (len > BigInt(MAX_VMO_TRANSFER)) {
      throw new ZxError(ERR.NO_MEMORY, `zxsim reads at most ${MAX_VMO_TRANSFER} bytes per call`);
    }
    return { buffer: vmo.read(BigInt(offset), Number(len)) };
  },
});

export const vmoWrite = defineSyscall({
  name: "vmo_write",
  abis: ["zx"],
  summary: "Write bytes to a VMO",
  description: "Needs ZX_RIGHT_WRITE. The bytes are `buffer` (base64); buffer_size defaults to " +
    "their length, and one larger than what was sent is an invalid pointer (INVALID_ARGS, after " +
    "the range checks). offset + buffer_size must lie within the VMO, else OUT_OF_RANGE. The " +
    "write is visible at once through every mapping of the VMO, to running code too. Committing " +
    "the pages it needs beyond the kernel's memory budget gives NO_MEMORY and writes nothing.",
  params: z.strictObject({
    handle: handle(),
    buffer: bytes(),
    offset: u64("the offset in the VMO").default(0n),
    buffer_size: u64("how many bytes to write; defaults to the buffer's length").optional(),
  }),
  outs: z.object({}),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "OUT_OF_RANGE",
    "INVALID_ARGS",
    "NO_MEMORY",
  ],
  example: (h) => ({ handle: h.vmo, offset: 0, buffer: "aGVsbG8gd29ybGQ=" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "in", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "offset", type: "u64" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, { handle, buffer, offset, buffer_size }) {
    const vmo = lookupVmo(caller, handle, RIGHT.WRITE);
    const len = BigInt(buffer_size ?? buffer.length);
    checkRange(vmo, BigInt(offset), len);
    if (len > BigInt(buffer.length)) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        `buffer is an invalid pointer: buffer_size is ${len} but ${buffer.length} bytes were sent`,
      );
    }
    if (!vmo.write(BigInt(offset), buffer.subarray(0, Number(len)))) {
      throw new ZxError(ERR.NO_MEMORY, "the kernel's memory budget is exhausted");
    }
    return {};
  },
});

export const vmoGetSize = defineSyscall({
  name: "vmo_get_size",
  abis: ["zx"],
  summary: "Read a VMO's size",
  description: "Needs no rights. The size is page-rounded (a VMO created with 1 byte is 4096).",
  params: z.strictObject({ handle: handle() }),
  outs: z.object({ size: u64Out() }),
  errors: ["BAD_HANDLE", "WRONG_TYPE"],
  example: (h) => ({ handle: h.vmo }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "out_value", name: "size", type: "u64" },
  ],
  impl(caller, { handle }) {
    return { size: lookupVmo(caller, handle, RIGHT.NONE).size };
  },
});

export const vmoSetSize = defineSyscall({
  name: "vmo_set_size",
  abis: ["zx"],
  summary: "Resize a VMO",
  description: "Needs ZX_RIGHT_WRITE, and ZX_RIGHT_RESIZE if the VMO is resizable. The size is " +
    "rounded up to pages (overflow: OUT_OF_RANGE); a VMO created without ZX_VMO_RESIZABLE gives " +
    "UNAVAILABLE. The bytes from the new size to the end of its page are zeroed; pages past the " +
    "end are dropped, so growing again shows zeros. Mappings stay where they are: touching " +
    "their part past the end faults.",
  params: z.strictObject({ handle: handle(), size: u64("the new size in bytes") }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "OUT_OF_RANGE", "UNAVAILABLE"],
  example: (h) => ({ handle: h.vmo, size: 8192 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "size", type: "u64" },
  ],
  impl(caller, { handle, size }) {
    const vmo = lookupVmo(caller, handle, RIGHT.WRITE);
    // For a non-resizable VMO the RESIZE right is not looked at: UNAVAILABLE follows.
    if (vmo.resizable) requireRights(caller.handles.lookup(handle), RIGHT.RESIZE);
    const wanted = BigInt(size);
    const rounded = roundUpToPage(wanted);
    if (rounded === null) throw new ZxError(ERR.OUT_OF_RANGE, `size ${hex(wanted)} overflows`);
    if (!vmo.resizable) {
      throw new ZxError(ERR.UNAVAILABLE, "the VMO was not created with ZX_VMO_RESIZABLE");
    }
    if (rounded > VMO_MAX_SIZE) {
      throw new ZxError(ERR.OUT_OF_RANGE, `size ${hex(wanted)} is too large`);
    }
    vmo.resize(rounded, wanted);
    return {};
  },
});

/** ZX_RSRC_KIND_ROOT stands in for every kind; ZX_RSRC_SYSTEM_VMEX_BASE is the VMEX right. */
const RSRC_KIND_ROOT = 3;
const RSRC_SYSTEM_VMEX_BASE = 1;

/** validate_ranged_resource(vmex, ZX_RSRC_KIND_SYSTEM, ZX_RSRC_SYSTEM_VMEX_BASE, 1). */
function checkVmex(caller: Caller, vmex: number): void {
  const resource = caller.handles.lookupAs(vmex, Resource, RIGHT.NONE);
  if (resource.kind === RSRC_KIND_ROOT) return;
  if (resource.kind !== RSRC_KIND_SYSTEM) {
    throw new ZxError(ERR.WRONG_TYPE, "vmex is not a system resource");
  }
  const base = RSRC_SYSTEM_VMEX_BASE;
  if (base < resource.base || base + 1 > resource.base + resource.size) {
    throw new ZxError(ERR.OUT_OF_RANGE, "vmex does not grant ZX_RSRC_SYSTEM_VMEX_BASE");
  }
}

export const vmoReplaceAsExecutable = defineSyscall({
  name: "vmo_replace_as_executable",
  abis: ["zx"],
  summary: "Replace a VMO handle with one that may map executable",
  description: "The new handle has the old one's rights plus ZX_RIGHT_EXECUTE, which vmar_map " +
    "needs for ZX_VM_PERM_EXECUTE. `vmex` 0 (ZX_HANDLE_INVALID) relies on the job's ambient " +
    "policy, which zxsim always allows; otherwise it must be a system resource covering " +
    "ZX_RSRC_SYSTEM_VMEX_BASE (zxsim kernels hand out none). The old handle is closed in every " +
    "case once it exists, even when it is not a VMO (BAD_HANDLE) or vmex is refused.",
  params: z.strictObject({
    handle: handle(),
    vmex: handle().default(0).describe("a VMEX resource, or 0"),
  }),
  outs: z.object({ out: handle() }),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "OUT_OF_RANGE"],
  example: (h) => ({ handle: h.vmo }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "vmex", type: "u32" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { handle, vmex }) {
    let refused: unknown = null;
    if (vmex !== 0) {
      try {
        checkVmex(caller, vmex);
      } catch (error) {
        refused = error;
      }
    }
    const source = caller.handles.get(handle);
    if (!source) throw badHandle(handle);
    if (!(source.object instanceof Vmo) || refused) {
      caller.handles.remove(handle);
      if (!(source.object instanceof Vmo)) {
        throw new ZxError(ERR.BAD_HANDLE, "the handle is not a VMO (it has been closed)");
      }
      throw refused;
    }
    caller.handles.reserve(1);
    const out = caller.handles.add(source.object, source.rights | RIGHT.EXECUTE);
    caller.handles.remove(handle);
    return { out: out.value };
  },
});
