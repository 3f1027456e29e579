// The arm64 structs of the hypervisor ABI, as data: zx_vcpu_state_t (what
// vcpu_read_state / vcpu_write_state move) and the arm64 zx_packet_guest_mem_t
// (the 32-byte union member of a ZX_PKT_TYPE_GUEST_MEM port packet).

import { aliasRun, array, padding, scalar, struct } from "../../layout.ts";

/** zx_vcpu_state_t (arm64): x0..x30, sp (SP_EL1), cpsr (NZCV only), 4 bytes of padding. */
export const ARM64_VCPU_STATE = struct("zx_vcpu_state_t", 264, [
  array("x", 0, "u64", 31),
  scalar("sp", 248, "u64"),
  scalar("cpsr", 256, "u32"),
  padding("padding1", 260, 4),
], aliasRun("x", "x", 31));

/**
 * zx_packet_guest_mem_t (arm64): the data abort's syndrome. `data` is x[xt]
 * for a write (0 for a read); the VMM completes a read by writing x[xt]
 * with vcpu_write_state(ZX_VCPU_STATE).
 */
export const ARM64_GUEST_MEM = struct("zx_packet_guest_mem_t", 32, [
  scalar("addr", 0, "u64"),
  scalar("access_size", 8, "u8"),
  scalar("sign_extend", 9, "u8"),
  scalar("xt", 10, "u8"),
  scalar("read", 11, "u8"),
  padding("padding1", 12, 4),
  scalar("data", 16, "u64"),
  scalar("reserved", 24, "u64"),
]);

/** The PSTATE bits zx_vcpu_state_t.cpsr shows and a write may set (kSpsrNzcv). */
export const SPSR_NZCV = 0xf0000000;
