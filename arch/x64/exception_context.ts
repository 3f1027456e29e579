// zx_x86_64_exc_data_t for an exception a core stopped with: the CPU vector,
// the hardware error code and cr2, as Zircon's x86 fault handlers fill them
// (zircon/kernel/arch/x86/faults.cc).

import type { ThreadRegisters } from "../arch.ts";
import { type X64Registers, X86_DR6_RESET } from "./x64.ts";
import { X64_DEBUG_REGS } from "./regsets.ts";

const DR6 = X64_DEBUG_REGS.offsetOf("dr6");
import { ACCESS, type Core, EXIT, type ExitReason } from "../cpu.ts";

const VECTOR: Partial<Record<ExitReason, number>> = {
  [EXIT.DIVIDE_ERROR]: 0,
  [EXIT.HW_BREAKPOINT]: 1,
  [EXIT.SW_BREAKPOINT]: 3,
  [EXIT.UNDEFINED_INSTRUCTION]: 6,
  [EXIT.GENERAL_PROTECTION]: 13,
  [EXIT.PAGE_FAULT]: 14,
};

/** #PF error code bits: present, write, user, instruction fetch. */
const PF = { P: 1, W: 2, U: 4, I: 16 };

/** vector u64 @0, err_code u64 @8, cr2 u64 @16. `present`: the page was mapped (a permission fault). */
export function x64ExceptionContext(
  _registers: ThreadRegisters,
  exit: ExitReason,
  core: Core,
  present: boolean,
): Uint8Array {
  const data = new Uint8Array(24);
  const view = new DataView(data.buffer);
  view.setBigUint64(0, BigInt(VECTOR[exit] ?? 13), true);
  if (exit === EXIT.PAGE_FAULT) {
    const access = core.faultAccess;
    const code = PF.U | (present ? PF.P : 0) | (access === ACCESS.WRITE ? PF.W : 0) |
      (access === ACCESS.EXECUTE ? PF.I : 0);
    view.setBigUint64(8, BigInt(code), true);
    view.setBigUint64(16, BigInt.asUintN(64, core.faultAddress), true);
  }
  return data;
}

/**
 * A handled debug exception (#DB) leaves DR6 at its reset value: the hit
 * bits B0-B3 and BD/BS/BT are gone (Zircon's DR6 regression tests:
 * DebugRegistersDr6ResetOnDebugException).
 */
export function x64ExceptionHandled(registers: ThreadRegisters, debug: boolean): void {
  if (!debug) return;
  const dbg = (registers as X64Registers).dbg;
  new DataView(dbg.buffer, dbg.byteOffset, dbg.byteLength).setUint32(DR6, X86_DR6_RESET, true);
}
