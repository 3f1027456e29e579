// Code for the threads the dashboard creates. Threads execute real machine
// code, and one started where nothing is mapped faults on its first
// instruction, which kills its whole process (here the caller's own). So
// before starting a thread, the dashboard maps what it needs if nothing is
// mapped there yet: a page of spin loops at the entry point and a stack
// below the stack pointer. Plain API calls, as a client would make them.

import * as api from "./api.js";
import { ApiError } from "./api.js";

const PAGE = 4096n;
const STACK_SIZE = 0x10000n;

/** An instruction that jumps to itself: x64 `jmp .` (EB FE), arm64 `b .` (00 00 00 14). */
const SPIN = { x64: [0xeb, 0xfe], arm64: [0x00, 0x00, 0x00, 0x14] };

const hex = (value) => `0x${value.toString(16)}`;

/** A page filled with spin loops: a thread spins wherever in it its pc is set. */
function spinPage(arch) {
  const spin = SPIN[arch];
  if (!spin) throw new Error(`no spin loop for ${arch}`);
  let text = "";
  for (let i = 0; i < Number(PAGE); i++) text += String.fromCharCode(spin[i % spin.length]);
  return btoa(text);
}

/** Is anything mapped at `address` in the process? (process_read_memory: NO_MEMORY if not.) */
async function mapped(kernel, process, address) {
  try {
    await api.syscall(kernel, "process_read_memory", {
      handle: process,
      vaddr: hex(address),
      buffer_size: 1,
    });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status.endsWith("_NO_MEMORY")) return false;
    throw error;
  }
}

/** The caller's root VMAR: of its VMAR handles, the one spanning the most (ZX_INFO_VMAR). */
async function rootVmar(kernel, vmarHandles) {
  let best;
  for (const handle of vmarHandles) {
    const { info } = await api.syscall(kernel, "object_get_info", {
      handle,
      topic: "ZX_INFO_VMAR",
    });
    const vmar = { handle, base: BigInt(info.base), len: BigInt(info.len) };
    if (!best || vmar.len > best.len) best = vmar;
  }
  if (!best) throw new Error("the caller's process holds no handle to a VMAR to map code into");
  return best;
}

/** vmo_create, optionally write and make executable, then vmar_map at `address`; closes the VMO. */
async function mapVmo(kernel, vmar, address, size, { code, perms }) {
  let { out: vmo } = await api.syscall(kernel, "vmo_create", { size: Number(size) });
  if (code) {
    await api.syscall(kernel, "vmo_write", { handle: vmo, buffer: code, offset: 0 });
    ({ out: vmo } = await api.syscall(kernel, "vmo_replace_as_executable", {
      handle: vmo,
      vmex: 0,
    }));
  }
  try {
    await api.syscall(kernel, "vmar_map", {
      handle: vmar.handle,
      options: [...perms, "ZX_VM_SPECIFIC"],
      vmar_offset: hex(address - vmar.base),
      vmo,
      vmo_offset: 0,
      len: Number(size),
    });
  } finally {
    await api.syscall(kernel, "handle_close", { handle: vmo }); // the mapping keeps it alive
  }
}

/**
 * Maps a spin-loop page at `entry` and a 64 KiB stack ending at `stack` in
 * the caller's process, each only if nothing is mapped there. Returns what
 * it mapped, in words (empty when both were there already).
 */
export async function ensureCode(kernel, { arch, process, vmars, entry, stack }) {
  const done = [];
  const entryAt = BigInt(entry), stackTop = BigInt(stack);
  let vmar;
  if (!(await mapped(kernel, process, entryAt))) {
    vmar ??= await rootVmar(kernel, vmars);
    const page = entryAt - (entryAt % PAGE);
    await mapVmo(kernel, vmar, page, PAGE, {
      code: spinPage(arch),
      perms: ["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE"],
    });
    done.push(`a page of spin loops at ${hex(page)}`);
  }
  if (stackTop > 0n && !(await mapped(kernel, process, stackTop - 1n))) {
    vmar ??= await rootVmar(kernel, vmars);
    const top = stackTop + (PAGE - (stackTop % PAGE)) % PAGE;
    await mapVmo(kernel, vmar, top - STACK_SIZE, STACK_SIZE, {
      perms: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"],
    });
    done.push(`a 64 KiB stack below ${hex(top)}`);
  }
  return done;
}
