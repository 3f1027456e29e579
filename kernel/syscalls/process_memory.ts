// zx_process_read_memory and zx_process_write_memory: a debugger's view of
// another process's memory, through the VMO behind one mapping, whatever
// that mapping's permissions (2022-2023 semantics).

import { z } from "zod";
import { Process } from "../process.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import type { Mapping } from "../vm/mapping.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { bytes, handle, u64 } from "./params.ts";

/** kMaxDebugReadBlock / kMaxDebugWriteBlock: 64 MiB, inclusive. */
export const MAX_DEBUG_BLOCK = 64 * 1024 * 1024;

const PAGE = 4096n;

function checkSize(size: number): void {
  if (size === 0 || size > MAX_DEBUG_BLOCK) {
    throw new ZxError(ERR.INVALID_ARGS, `buffer_size must be 1..${MAX_DEBUG_BLOCK}, got ${size}`);
  }
}

/**
 * The mapping holding `vaddr` in `process`, the VMO offset of `vaddr` and
 * how many of `size` bytes lie before the mapping's end (the transfer never
 * continues into the next mapping).
 */
function target(process: Process, vaddr: bigint, size: number) {
  const mapping: Mapping | null = vaddr < 1n << 53n
    ? process.aspace.findMapping(Number(vaddr))
    : null;
  if (mapping === null) {
    throw new ZxError(ERR.NO_MEMORY, `nothing is mapped at 0x${vaddr.toString(16)}`);
  }
  const into = Number(vaddr) - mapping.base;
  const offset = BigInt(mapping.vmoPage) * PAGE + BigInt(into);
  const count = Math.min(size, mapping.size - into);
  return { mapping, offset, count };
}

/** The VMO's own range check on the copy. */
function checkInVmo(mapping: Mapping, offset: bigint, count: number): void {
  if (offset + BigInt(count) > mapping.vmo.size) {
    throw new ZxError(ERR.OUT_OF_RANGE, "the mapping runs past the end of its VMO there");
  }
}

function lookupProcess(caller: Caller, value: number, rights: number): Process {
  return caller.handles.lookupAs(value, Process, rights);
}

export const processReadMemory = defineSyscall({
  name: "process_read_memory",
  abis: ["zx"],
  summary: "Read another process's memory (debuggers)",
  description: "buffer_size must be 1..64 MiB (INVALID_ARGS, checked before the handle). The " +
    "handle needs ZX_RIGHT_READ and ZX_RIGHT_WRITE. Nothing mapped at vaddr: NO_MEMORY. The " +
    "read stops at the end of the one mapping holding vaddr, so `actual` may be less than " +
    "buffer_size; the mapping's permissions do not matter (an unreadable mapping can be read). " +
    "A mapping that runs past its VMO's end there gives OUT_OF_RANGE.",
  params: z.strictObject({
    handle: handle(),
    vaddr: u64("the address in the target process"),
    buffer_size: z.number().int().min(0).describe("how many bytes to read (1..64 MiB)"),
  }),
  outs: z.object({ buffer: z.string(), actual: z.number() }),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "NO_MEMORY",
    "OUT_OF_RANGE",
  ],
  example: (h) => ({ handle: h.process, vaddr: h.vmo_addr, buffer_size: 16 }),
  errorExample: (h) => ({ handle: h.process, vaddr: "0x1000", buffer_size: 16 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "vaddr", type: "u64" },
    { kind: "out", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
    { kind: "out_value", name: "actual", type: "usize" },
  ],
  impl(caller, { handle, vaddr, buffer_size }) {
    checkSize(buffer_size);
    const process = lookupProcess(caller, handle, RIGHT.READ | RIGHT.WRITE);
    const { mapping, offset, count } = target(process, BigInt(vaddr), buffer_size);
    checkInVmo(mapping, offset, count);
    return { buffer: mapping.vmo.read(offset, count), actual: count };
  },
});

export const processWriteMemory = defineSyscall({
  name: "process_write_memory",
  abis: ["zx"],
  summary: "Write another process's memory (debuggers)",
  description: "Only with the boot option enable_debugging_syscalls (else NOT_SUPPORTED before " +
    "anything else). The bytes are `buffer` (base64; null is a NULL pointer, INVALID_ARGS); " +
    "buffer_size defaults to their length and must be 1..64 MiB. The handle needs " +
    "ZX_RIGHT_WRITE. As for process_read_memory, the write stops at the end of the mapping " +
    "holding vaddr (`actual`) and ignores its permissions: this is how a debugger plants a " +
    "breakpoint in code. The vDSO cannot be written (ACCESS_DENIED). Running code sees the " +
    "new bytes at once.",
  params: z.strictObject({
    handle: handle(),
    vaddr: u64("the address in the target process"),
    buffer: bytes().nullable().describe("the bytes (base64); null is a NULL pointer"),
    buffer_size: z.number().int().min(0).optional().describe("defaults to the buffer's length"),
  }),
  outs: z.object({ actual: z.number() }),
  errors: [
    "NOT_SUPPORTED",
    "INVALID_ARGS",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "NO_MEMORY",
    "OUT_OF_RANGE",
  ],
  example: (h) => ({ handle: h.process, vaddr: h.vmo_addr, buffer: "zMzMzA==" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "vaddr", type: "u64" },
    { kind: "in", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
    { kind: "out_value", name: "actual", type: "usize" },
  ],
  impl(caller, { handle, vaddr, buffer, buffer_size }) {
    if (!caller.kernel.bootOptions.enable_debugging_syscalls) {
      throw new ZxError(ERR.NOT_SUPPORTED, "the kernel runs without enable_debugging_syscalls");
    }
    if (buffer === null) throw new ZxError(ERR.INVALID_ARGS, "buffer is a NULL pointer");
    const size = buffer_size ?? buffer.length;
    checkSize(size);
    const process = lookupProcess(caller, handle, RIGHT.WRITE);
    const { mapping, offset, count } = target(process, BigInt(vaddr), size);
    if (mapping.vmo.vdsoCode !== null) {
      throw new ZxError(ERR.ACCESS_DENIED, "the vDSO cannot be written");
    }
    checkInVmo(mapping, offset, count);
    if (count > buffer.length) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        `buffer is an invalid pointer: ${count} bytes are needed, ${buffer.length} were sent`,
      );
    }
    if (!mapping.vmo.write(offset, buffer.subarray(0, count))) {
      throw new ZxError(ERR.NO_MEMORY, "the kernel's memory budget is exhausted");
    }
    return { actual: count };
  },
});
