// x86-64 register-set layouts, as the newest Zircon headers define them for
// /v1/zx, plus Magenta's single general-register set for /v1/mx.

import { aliasRun, array, padding, regsetTables, scalar, struct, u64Run } from "../layout.ts";

/** The 18 registers Magenta exposed, in header order. */
const GPRS_18 = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rbp",
  "rsp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const;

/** zx_x86_64_thread_state_general_regs_t: the 18 plus the two segment bases. */
export const X64_GENERAL_REGS = struct(
  "zx_x86_64_thread_state_general_regs_t",
  160,
  u64Run(0, [...GPRS_18, "fs_base", "gs_base"]),
);

/** mx_x86_64_general_regs_t (Magenta, mid-2017): no fs_base / gs_base. */
export const X64_GENERAL_REGS_MX = struct("mx_x86_64_general_regs_t", 144, u64Run(0, GPRS_18));

/** One x87 register slot of the FXSAVE image: 80 bits used, 16 bytes wide. */
const X87_ST = struct("st", 16, [scalar("low", 0, "u64"), scalar("high", 8, "u64")]);

/** zx_x86_64_thread_state_fp_regs_t (the st array is 16-byte aligned). */
export const X64_FP_REGS = struct("zx_x86_64_thread_state_fp_regs_t", 160, [
  scalar("fcw", 0, "u16"),
  scalar("fsw", 2, "u16"),
  scalar("ftw", 4, "u8"),
  scalar("reserved", 5, "u8"),
  scalar("fop", 6, "u16"),
  scalar("fip", 8, "u64"),
  scalar("fdp", 16, "u64"),
  padding("padding1", 24, 8),
  array("st", 32, X87_ST, 8),
]);

/** One 512-bit vector register as eight u64 lanes (v[0..1] XMM, v[0..3] YMM). */
const ZMM = struct("zmm", 64, [array("v", 0, "u64", 8)]);

/** zx_x86_64_thread_state_vector_regs_t. */
export const X64_VECTOR_REGS = struct("zx_x86_64_thread_state_vector_regs_t", 2120, [
  array("zmm", 0, ZMM, 32),
  array("opmask", 2048, "u64", 8),
  scalar("mxcsr", 2112, "u32"),
  padding("padding1", 2116, 4),
]);

/**
 * zx_x86_64_thread_state_debug_regs_t (newest form: DR4/DR5 absent, no legacy
 * fields). DR0-DR3 are the array dr; named writes also take dr0..dr3.
 */
export const X64_DEBUG_REGS = struct("zx_x86_64_thread_state_debug_regs_t", 48, [
  array("dr", 0, "u64", 4),
  scalar("dr6", 32, "u64"),
  scalar("dr7", 40, "u64"),
], aliasRun("dr", "dr", 4));

/** kind -> layout, on /v1/zx and /v1/mx. */
export const X64_REGSETS = regsetTables({
  general: X64_GENERAL_REGS,
  fp: X64_FP_REGS,
  vector: X64_VECTOR_REGS,
  debug: X64_DEBUG_REGS,
}, X64_GENERAL_REGS_MX);
