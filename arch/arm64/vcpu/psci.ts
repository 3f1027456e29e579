// What Zircon's EL2 does with a guest's smc (2022-2023 vmexit.cc,
// handle_smc_instruction): smc #0 is a PSCI call (function id in x0, as a
// 64-bit value), any other immediate answers x0 = -1 ("unknown SMC
// function", SMCCC). The guest's hvc is an exception class Zircon's exit
// handler does not know: vcpu_enter fails with ZX_ERR_NOT_SUPPORTED.

import { ERR } from "../../../kernel/status.ts";
import type { Hypercall } from "../../vcpu.ts";

export const PSCI = {
  VERSION: 0x84000000,
  CPU_OFF: 0x84000002,
  CPU_ON: 0xc4000003,
  SYSTEM_OFF: 0x84000008,
  SYSTEM_RESET: 0x84000009,
} as const;

/** PSCI_VERSION's answer: major 0, minor 2 (kPsciMajorVersion / kPsciMinorVersion). */
export const PSCI_REPORTED_VERSION = (0 << 16) | 2;
/** PSCI_SUCCESS. */
export const PSCI_SUCCESS = 0;

/** x0 after a call Zircon does not handle: -1 (PSCI NOT_SUPPORTED, SMCCC unknown function). */
const MINUS_ONE = 0xffffffff;

/**
 * Handles a guest smc (`smc` true) or hvc with immediate `imm`; `x` is the
 * guest's gpr (x0 at 0/1, x1 at 2/3, x2 at 4/5). Writes x0 where Zircon
 * does. pc is already past the instruction, as next_pc leaves it.
 */
export function psciCall(x: Uint32Array, smc: boolean, imm: number): Hypercall {
  if (!smc) return { kind: "unsupported" };
  if (imm !== 0) {
    x[0] = MINUS_ONE;
    x[1] = MINUS_ONE;
    return { kind: "continue" };
  }
  // The whole 64-bit x0 is the function id: a stray high word is "unknown".
  const fn = x[1] === 0 ? x[0] : -1;
  switch (fn) {
    case PSCI.VERSION:
      x[0] = PSCI_REPORTED_VERSION;
      x[1] = 0;
      return { kind: "continue" };
    case PSCI.CPU_ON: {
      const id = (BigInt(x[3]) << 32n) | BigInt(x[2]);
      const entry = (BigInt(x[5]) << 32n) | BigInt(x[4]);
      x[0] = PSCI_SUCCESS;
      x[1] = 0;
      return { kind: "startup", id, entry };
    }
    case PSCI.CPU_OFF:
      return { kind: "status", status: ERR.STOP };
    case PSCI.SYSTEM_OFF:
      return { kind: "off" };
    case PSCI.SYSTEM_RESET:
      return { kind: "status", status: ERR.CANCELED };
    default:
      x[0] = MINUS_ONE;
      x[1] = MINUS_ONE;
      return { kind: "continue" };
  }
}
