// zx_arm64_exc_data_t for an exception a core stopped with: ESR_EL1 and
// FAR_EL1 as an EL0 exception leaves them (ARM ARM's exception syndromes;
// Zircon copies them into the report: zircon/kernel/arch/arm64/exceptions_c.cc).

import type { ThreadRegisters } from "../arch.ts";
import { ACCESS, type Core, EXIT, type ExitReason } from "../cpu.ts";
import type { Arm64Registers } from "./arm64.ts";
import { ALIGN } from "./cpu/ops.ts";

/** ESR.IL: a 32-bit instruction. */
const IL = 1 << 25;
const ec = (value: number) => (value << 26) >>> 0;
const EC = {
  UNKNOWN: 0x00,
  WFX: 0x01,
  INSTRUCTION_ABORT: 0x20,
  PC_ALIGNMENT: 0x22,
  DATA_ABORT: 0x24,
  SP_ALIGNMENT: 0x26,
  BRK: 0x3c,
};
/** Fault status codes (DFSC/IFSC) at level 3: translation, permission; alignment. */
const FSC = { TRANSLATION_L3: 0x07, PERMISSION_L3: 0x0f, ALIGNMENT: 0x21 };
/** ISS.WnR: the data abort was a write. */
const WNR = 1 << 6;
/** ISS of a trapped WFI from AArch64: CV = 1, COND = AL, TI = 0 (wfi). */
const WFI_ISS = (1 << 24) | (0xe << 20);

export interface Arm64Syndrome {
  readonly esr: number;
  readonly far: bigint;
}

/** ESR and FAR of an exception (FAR only where the architecture sets it). */
export function arm64Syndrome(
  exit: ExitReason,
  core: Core,
  present: boolean,
  pc: bigint,
): Arm64Syndrome {
  switch (exit) {
    case EXIT.PAGE_FAULT: {
      const fetch = core.faultAccess === ACCESS.EXECUTE;
      const iss = (present ? FSC.PERMISSION_L3 : FSC.TRANSLATION_L3) |
        (core.faultAccess === ACCESS.WRITE ? WNR : 0);
      const esr = ec(fetch ? EC.INSTRUCTION_ABORT : EC.DATA_ABORT) | IL | iss;
      return { esr: esr >>> 0, far: BigInt.asUintN(64, core.faultAddress) };
    }
    case EXIT.SW_BREAKPOINT:
      return { esr: (ec(EC.BRK) | IL | (core.detail & 0xffff)) >>> 0, far: 0n };
    case EXIT.ALIGNMENT:
      // FAR holds the misaligned pc itself.
      if (core.detail === ALIGN.PC) return { esr: (ec(EC.PC_ALIGNMENT) | IL) >>> 0, far: pc };
      return {
        esr: (ec(EC.DATA_ABORT) | IL | FSC.ALIGNMENT |
          (core.faultAccess === ACCESS.WRITE ? WNR : 0)) >>> 0,
        far: BigInt.asUintN(64, core.faultAddress),
      };
    case EXIT.GENERAL_PROTECTION:
      if (core.detail === ALIGN.SP) return { esr: (ec(EC.SP_ALIGNMENT) | IL) >>> 0, far: 0n };
      return { esr: (ec(EC.WFX) | IL | WFI_ISS) >>> 0, far: 0n };
    default: // undefined instruction, and anything else: EC unknown
      return { esr: (ec(EC.UNKNOWN) | IL) >>> 0, far: 0n };
  }
}

/**
 * esr u32 @0, padding @4, far u64 @8, padding @16. Like Zircon's
 * arch_install_exception_context, the thread's debug state keeps them too
 * (ZX_THREAD_STATE_DEBUG_REGS far and esr). A hardware breakpoint's syndrome
 * is the one the core already wrote there.
 */
export function arm64ExceptionContext(
  registers: ThreadRegisters,
  exit: ExitReason,
  core: Core,
  present: boolean,
): Uint8Array {
  const regs = registers as Arm64Registers;
  const syndrome = exit === EXIT.HW_BREAKPOINT
    ? { esr: regs.esr, far: regs.far }
    : arm64Syndrome(exit, core, present, registers.pc());
  regs.esr = syndrome.esr;
  regs.far = syndrome.far;
  const data = new Uint8Array(24);
  const view = new DataView(data.buffer);
  view.setUint32(0, syndrome.esr, true);
  view.setBigUint64(8, syndrome.far, true);
  return data;
}
