// MRS / MSR: the system registers EL0 may use under Zircon. NZCV, FPCR,
// FPSR and TPIDR_EL0 are state of the thread; CTR_EL0 and DCZID_EL0 are
// readable because Zircon sets SCTLR_EL1.UCT and DZE; CNTVCT_EL0 and
// CNTFRQ_EL0 because it sets CNTKCTL_EL1.EL0VCTEN (they need a counter,
// see Arm64Core.counter). Anything else is UNDEFINED at EL0, as on
// hardware; a VCPU's core hands it to its EL1 state (Arm64Core.el1).

import { EXIT } from "../../cpu.ts";
import type { Arm64Core } from "./core.ts";
import { SYSREG } from "./decode.ts";
import { F_D, F_K, F_N, F_RAW, NEXT } from "./ops.ts";

/** CTR_EL0 of a Cortex-A53: 64-byte lines, VIPT instruction cache. */
export const CTR_EL0 = 0x84448004;
/** DCZID_EL0: DC ZVA allowed, 64-byte blocks (2^4 words). */
export const DCZID_EL0 = 4;

/** FPCR bits that exist (AHP, DN, FZ, RMode, FZ16; trap enables read as 0). */
const FPCR_MASK = 0x07c80000;
/** FPSR: N Z C V QC and the cumulative exception flags. */
const FPSR_MASK = 0xf800009f;

function undefined_(core: Arm64Core, c: Int32Array, b: number): number {
  core.detail = c[b + F_RAW] >>> 0;
  return EXIT.UNDEFINED_INSTRUCTION;
}

export function execMrs(core: Arm64Core, c: Int32Array, b: number): number {
  const g = core.gpr, d = c[b + F_D];
  let lo: number, hi = 0;
  switch (c[b + F_K]) {
    case SYSREG.NZCV:
      lo = core.nzcv << 28;
      break;
    case SYSREG.FPCR:
      lo = core.v.ctl[0];
      break;
    case SYSREG.FPSR:
      lo = core.v.ctl[1];
      break;
    case SYSREG.TPIDR_EL0:
      lo = core.tpidrLo;
      hi = core.tpidrHi;
      break;
    case SYSREG.TPIDRRO_EL0:
      lo = 0; // Zircon leaves it zero for user threads
      break;
    case SYSREG.CTR_EL0:
      lo = CTR_EL0;
      break;
    case SYSREG.DCZID_EL0:
      lo = DCZID_EL0;
      break;
    case SYSREG.CNTFRQ_EL0:
      if (core.counter === null) return undefined_(core, c, b);
      lo = core.counter.frequency >>> 0;
      break;
    case SYSREG.CNTVCT_EL0: {
      if (core.counter === null) return undefined_(core, c, b);
      const t = core.counter.now();
      lo = t >>> 0;
      hi = Math.floor(t / 4294967296) >>> 0;
      break;
    }
    default:
      if (core.el1 !== null) return core.el1.mrs(core, c, b);
      return undefined_(core, c, b);
  }
  g[d] = lo;
  g[d + 1] = hi;
  return NEXT;
}

export function execMsr(core: Arm64Core, c: Int32Array, b: number): number {
  const g = core.gpr, n = c[b + F_N];
  switch (c[b + F_K]) {
    case SYSREG.NZCV:
      core.nzcv = g[n] >>> 28;
      return NEXT;
    case SYSREG.FPCR:
      core.v.ctl[0] = g[n] & FPCR_MASK;
      return NEXT;
    case SYSREG.FPSR:
      core.v.ctl[1] = g[n] & FPSR_MASK;
      return NEXT;
    case SYSREG.TPIDR_EL0:
      core.tpidrLo = g[n];
      core.tpidrHi = g[n + 1];
      return NEXT;
    default:
      if (core.el1 !== null) return core.el1.msr(core, c, b);
      return undefined_(core, c, b);
  }
}
