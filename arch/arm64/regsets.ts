// arm64 register-set layouts, as the newest Zircon headers define them for
// /v1/zx, plus Magenta's single general-register set for /v1/mx.

import {
  alias,
  aliasRun,
  array,
  padding,
  regsetTables,
  scalar,
  struct,
  u64Run,
} from "../layout.ts";

/** ARMv8-A allows 2 to 16 breakpoints and watchpoints; the struct always has room for 16. */
export const ARM64_MAX_HW_BREAKPOINTS = 16;
export const ARM64_MAX_HW_WATCHPOINTS = 16;

/**
 * The names people (and assemblers) use for the general registers, accepted
 * in named writes: x0..x29 for Zircon's r[0..29], x30 for lr, fp (the frame
 * pointer) for r[29]. Reads keep Zircon's field names.
 */
export const ARM64_GENERAL_ALIASES = [
  ...aliasRun("x", "r", 30),
  alias("x30", "lr"),
  alias("fp", "r[29]"),
];

/** zx_arm64_thread_state_general_regs_t: x0..x29, lr, sp, pc, cpsr, tpidr. */
export const ARM64_GENERAL_REGS = struct("zx_arm64_thread_state_general_regs_t", 280, [
  array("r", 0, "u64", 30),
  ...u64Run(240, ["lr", "sp", "pc", "cpsr", "tpidr"]),
], ARM64_GENERAL_ALIASES);

/** mx_arm64_general_regs_t (Magenta, mid-2017): no tpidr. */
export const ARM64_GENERAL_REGS_MX = struct("mx_arm64_general_regs_t", 272, [
  array("r", 0, "u64", 30),
  ...u64Run(240, ["lr", "sp", "pc", "cpsr"]),
], ARM64_GENERAL_ALIASES);

/** zx_arm64_thread_state_fp_regs_t: a placeholder; arm64 keeps FP state in the vector regs. */
export const ARM64_FP_REGS = struct("zx_arm64_thread_state_fp_regs_t", 4, [
  scalar("unused", 0, "u32"),
]);

const Q_REG = struct("v", 16, [scalar("low", 0, "u64"), scalar("high", 8, "u64")]);

/** zx_arm64_thread_state_vector_regs_t. */
export const ARM64_VECTOR_REGS = struct("zx_arm64_thread_state_vector_regs_t", 520, [
  scalar("fpcr", 0, "u32"),
  scalar("fpsr", 4, "u32"),
  array("v", 8, Q_REG, 32),
]);

const HW_BP = struct("hw_bps", 16, [
  scalar("dbgbcr", 0, "u32"),
  padding("padding1", 4, 4),
  scalar("dbgbvr", 8, "u64"),
]);

const HW_WP = struct("hw_wps", 16, [
  scalar("dbgwcr", 0, "u32"),
  padding("padding1", 4, 4),
  scalar("dbgwvr", 8, "u64"),
]);

/**
 * zx_arm64_thread_state_debug_regs_t, newest ordering (counts at the end,
 * `far` present). far/esr and the two counts are filled on read only.
 */
export const ARM64_DEBUG_REGS = struct("zx_arm64_thread_state_debug_regs_t", 528, [
  array("hw_bps", 0, HW_BP, ARM64_MAX_HW_BREAKPOINTS),
  array("hw_wps", 256, HW_WP, ARM64_MAX_HW_WATCHPOINTS),
  scalar("far", 512, "u64", { readOnly: true }),
  scalar("esr", 520, "u32", { readOnly: true }),
  scalar("hw_bps_count", 524, "u8", { readOnly: true }),
  scalar("hw_wps_count", 525, "u8", { readOnly: true }),
  padding("padding1", 526, 2),
]);

/** kind -> layout, on /v1/zx and /v1/mx. */
export const ARM64_REGSETS = regsetTables({
  general: ARM64_GENERAL_REGS,
  fp: ARM64_FP_REGS,
  vector: ARM64_VECTOR_REGS,
  debug: ARM64_DEBUG_REGS,
}, ARM64_GENERAL_REGS_MX);
