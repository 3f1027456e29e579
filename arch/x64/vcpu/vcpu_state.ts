// zx_vcpu_state_t and zx_vcpu_io_t for x86-64, and Zircon's rules for
// reading and writing them (hypervisor.md §1, §3d).

import { ERR, ZX_OK, type ZxStatus } from "../../../kernel/status.ts";
import { array, padding, scalar, struct, u64Run } from "../../layout.ts";
import { X86_FLAGS_ALWAYS_ONE, X86_FLAGS_USER } from "../cpu/flags.ts";
import { GPR, RFLAGS } from "../cpu/insn.ts";

/** The registers of zx_vcpu_state_t in order: x86 encoding order, not alphabetical. */
const STATE_GPRS = [
  "rax",
  "rcx",
  "rdx",
  "rbx",
  "rsp",
  "rbp",
  "rsi",
  "rdi",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
] as const;

/** zx_vcpu_state_t (x86-64): 16 general registers then rflags, 136 bytes. */
export const X64_VCPU_STATE = struct("zx_vcpu_state_t", 136, u64Run(0, [...STATE_GPRS, "rflags"]));

/**
 * zx_packet_guest_mem_t (x86-64, the 2023 layout): the VMM decodes the
 * instruction at rip through cr3 itself.
 */
export const X64_GUEST_MEM = struct("zx_packet_guest_mem_t", 32, [
  scalar("addr", 0, "u64"),
  scalar("cr3", 8, "u64"),
  scalar("rip", 16, "u64"),
  scalar("instruction_size", 24, "u8"),
  scalar("default_operand_size", 25, "u8"),
  array("reserved", 26, "u8", 6),
]);

/** zx_vcpu_io_t: access_size u8 @0, then the data union @4; 8 bytes. */
export const X64_VCPU_IO = struct("zx_vcpu_io_t", 8, [
  scalar("access_size", 0, "u8"),
  padding("padding1", 1, 3),
  scalar("data", 4, "u32"),
]);

const RFLAGS_AT = X64_VCPU_STATE.offsetOf("rflags");

/**
 * Fills `out` (136 bytes) from the core's register file `g` (the zx
 * general-regs layout as u32 halves): register n of the state is x86
 * register n; rflags shows only X86_FLAGS_USER.
 */
export function readVcpuState(g: Uint32Array, out: Uint8Array): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let n = 0; n < 16; n++) {
    v.setUint32(8 * n, g[GPR[n]], true);
    v.setUint32(8 * n + 4, g[GPR[n] + 1], true);
  }
  v.setUint32(RFLAGS_AT, (g[RFLAGS] & X86_FLAGS_USER) >>> 0, true);
  v.setUint32(RFLAGS_AT + 4, 0, true);
}

/**
 * Writes every general register (rsp too); rflags only when the written
 * value has bit 1 (X86_FLAGS_RESERVED_ONES) set, and then only the user
 * bits change. Zircon ignores the rest silently.
 */
export function writeVcpuState(g: Uint32Array, input: Uint8Array): void {
  const v = new DataView(input.buffer, input.byteOffset, input.byteLength);
  for (let n = 0; n < 16; n++) {
    g[GPR[n]] = v.getUint32(8 * n, true);
    g[GPR[n] + 1] = v.getUint32(8 * n + 4, true);
  }
  const flags = v.getUint32(RFLAGS_AT, true);
  if ((flags & X86_FLAGS_ALWAYS_ONE) !== 0) {
    g[RFLAGS] = ((g[RFLAGS] & ~X86_FLAGS_USER) | (flags & X86_FLAGS_USER)) >>> 0;
  }
}

/**
 * zx_vcpu_io_t: access_size must be 1, 2 or 4 (else INVALID_ARGS, nothing
 * changed); that many bytes of data replace the low bytes of rax, the
 * others are kept (a 4-byte write does not zero-extend, unlike a 32-bit
 * register write on the CPU).
 */
export function writeVcpuIo(g: Uint32Array, input: Uint8Array): ZxStatus {
  const size = input[0];
  if (size !== 1 && size !== 2 && size !== 4) return ERR.INVALID_ARGS;
  const data = new DataView(input.buffer, input.byteOffset, input.byteLength).getUint32(4, true);
  const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  g[GPR[0]] = ((g[GPR[0]] & ~mask) | (data & mask)) >>> 0;
  return ZX_OK;
}
