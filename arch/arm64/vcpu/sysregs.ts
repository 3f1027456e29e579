// A VCPU's EL1 state: the system registers a small guest kernel uses, the
// PSTATE fields only EL1 may change (DAIF, SPSel, the mode), eret, and the
// GICv3 CPU interface as far as one interrupt at a time needs it. The core
// reaches it through Arm64Core.el1 (see El1 in cpu/core.ts) for the
// instructions user mode does not have; EL0 keeps its own table
// (cpu/exec_sys.ts) and runs exactly as before.
//
// Choices, where a real CPU would do more:
// - The guest's MMU stays off. SCTLR_EL1, TTBR0/1_EL1, TCR_EL1 and MAIR_EL1
//   are stored and read back, and setting SCTLR_EL1.M changes nothing:
//   guest-virtual addresses stay guest-physical (a guest with identity maps
//   runs as it would on hardware; any other map does not).
// - HCR_EL2.TVM is modelled as Zircon sets it (see El1State.tvm): until the
//   guest turns the MMU and data caches on, writes of SCTLR_EL1, TCR_EL1,
//   TTBR0/1_EL1 and MAIR_EL1 are Zircon's to make (the same result) and
//   writes of ESR_EL1, FAR_EL1, AFSR0/1_EL1, AMAIR_EL1 and CONTEXTIDR_EL1
//   fail vcpu_enter with NOT_SUPPORTED.
// - Only the low 32 bits of a write to SCTLR_EL1 are kept (Zircon's EL2
//   does the same when it traps the write; the high half is RES0 in
//   ARMv8.0, so a direct write keeps no more).
// - OSLAR/OSLSR/OSDLR/DBGPRCR_EL1 read as zero and ignore writes, as Zircon's
//   EL2 makes them (MDCR_EL2.TDOSA).
// - A write of ICC_SGI1R_EL1 (an SGI) ends the run with EXIT.HYPERCALL and
//   the IPI Zircon's EL2 makes of it in \`exit\` (see sgi()).
// - Registers not listed here are UNDEFINED (EXIT.UNDEFINED_INSTRUCTION),
//   and so is any of these at EL0 (a guest's EL0 gets the EL0 table only).
// - eret to EL1h, EL1t or EL0t; an SPSR naming EL2, EL3, AArch32 or a
//   reserved mode is an illegal return, as the ARM ARM has it: PSTATE.IL
//   set, EL and sp kept, pc = ELR_EL1, and an Illegal Execution state
//   exception (EC 0x0e) on the next instruction (see El1State.eret).

import { EXIT } from "../../cpu.ts";
import type { Hypercall } from "../../vcpu.ts";
import type { Arm64Core, El1 } from "../cpu/core.ts";
import { F_D, F_I, F_K, F_N, F_RAW, JUMP, NEXT, PC, PSTATE_IL, SP } from "../cpu/ops.ts";

/** System register number as the core decodes it: op0:op1:CRn:CRm:op2 (instruction bits 20..5). */
export function sysreg(op0: number, op1: number, crn: number, crm: number, op2: number): number {
  return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
}

export const EL1_SYSREG = {
  MIDR_EL1: sysreg(3, 0, 0, 0, 0),
  MPIDR_EL1: sysreg(3, 0, 0, 0, 5),
  SCTLR_EL1: sysreg(3, 0, 1, 0, 0),
  CPACR_EL1: sysreg(3, 0, 1, 0, 2),
  TTBR0_EL1: sysreg(3, 0, 2, 0, 0),
  TTBR1_EL1: sysreg(3, 0, 2, 0, 1),
  TCR_EL1: sysreg(3, 0, 2, 0, 2),
  SPSR_EL1: sysreg(3, 0, 4, 0, 0),
  ELR_EL1: sysreg(3, 0, 4, 0, 1),
  SP_EL0: sysreg(3, 0, 4, 1, 0),
  SPSEL: sysreg(3, 0, 4, 2, 0),
  CURRENT_EL: sysreg(3, 0, 4, 2, 2),
  DAIF: sysreg(3, 3, 4, 2, 1),
  ICC_PMR_EL1: sysreg(3, 0, 4, 6, 0),
  AFSR0_EL1: sysreg(3, 0, 5, 1, 0),
  AFSR1_EL1: sysreg(3, 0, 5, 1, 1),
  ESR_EL1: sysreg(3, 0, 5, 2, 0),
  FAR_EL1: sysreg(3, 0, 6, 0, 0),
  PAR_EL1: sysreg(3, 0, 7, 4, 0),
  MAIR_EL1: sysreg(3, 0, 10, 2, 0),
  AMAIR_EL1: sysreg(3, 0, 10, 3, 0),
  VBAR_EL1: sysreg(3, 0, 12, 0, 0),
  ICC_DIR_EL1: sysreg(3, 0, 12, 11, 1),
  ICC_RPR_EL1: sysreg(3, 0, 12, 11, 3),
  ICC_SGI1R_EL1: sysreg(3, 0, 12, 11, 5),
  ICC_IAR1_EL1: sysreg(3, 0, 12, 12, 0),
  ICC_EOIR1_EL1: sysreg(3, 0, 12, 12, 1),
  ICC_HPPIR1_EL1: sysreg(3, 0, 12, 12, 2),
  ICC_BPR1_EL1: sysreg(3, 0, 12, 12, 3),
  ICC_CTLR_EL1: sysreg(3, 0, 12, 12, 4),
  ICC_SRE_EL1: sysreg(3, 0, 12, 12, 5),
  ICC_IGRPEN1_EL1: sysreg(3, 0, 12, 12, 7),
  CONTEXTIDR_EL1: sysreg(3, 0, 13, 0, 1),
  TPIDR_EL1: sysreg(3, 0, 13, 0, 4),
  CNTKCTL_EL1: sysreg(3, 0, 14, 1, 0),
  CNTV_CTL_EL0: sysreg(3, 3, 14, 3, 1),
  CNTV_CVAL_EL0: sysreg(3, 3, 14, 3, 2),
  MDSCR_EL1: sysreg(2, 0, 0, 2, 2),
  OSLAR_EL1: sysreg(2, 0, 1, 0, 4),
  OSLSR_EL1: sysreg(2, 0, 1, 1, 4),
  OSDLR_EL1: sysreg(2, 0, 1, 3, 4),
  DBGPRCR_EL1: sysreg(2, 0, 1, 4, 4),
} as const;

const R = EL1_SYSREG;

/** A register's name for messages ("SCTLR_EL1"), or its encoding. */
function sysregName(key: number): string {
  for (const [name, k] of Object.entries(EL1_SYSREG)) if (k === key) return name;
  return `S${key >>> 14}_${(key >>> 11) & 7}_C${(key >>> 7) & 15}_C${(key >>> 3) & 15}_${key & 7}`;
}

/** Plain read/write registers, in the order of their storage slots. */
const STORED = [
  R.SCTLR_EL1,
  R.CPACR_EL1,
  R.TTBR0_EL1,
  R.TTBR1_EL1,
  R.TCR_EL1,
  R.SPSR_EL1,
  R.ELR_EL1,
  R.AFSR0_EL1,
  R.AFSR1_EL1,
  R.ESR_EL1,
  R.FAR_EL1,
  R.PAR_EL1,
  R.MAIR_EL1,
  R.AMAIR_EL1,
  R.VBAR_EL1,
  R.CONTEXTIDR_EL1,
  R.TPIDR_EL1,
  R.CNTKCTL_EL1,
  R.CNTV_CTL_EL0,
  R.CNTV_CVAL_EL0,
  R.MDSCR_EL1,
  R.ICC_PMR_EL1,
  R.ICC_BPR1_EL1,
  R.ICC_CTLR_EL1,
  R.ICC_SRE_EL1,
  R.ICC_IGRPEN1_EL1,
] as const;
const SLOT = new Map<number, number>(STORED.map((key, i) => [key, i]));
/** regs[] index of SCTLR_EL1's low word. */
const SCTLR_LO = 2 * SLOT.get(R.SCTLR_EL1)!;
/** Bits of each stored register a write keeps (low word, high word). */
const KEEP_LO = new Uint32Array(STORED.length).fill(0xffffffff);
const KEEP_HI = new Uint32Array(STORED.length).fill(0xffffffff);
KEEP_HI[SLOT.get(R.SCTLR_EL1)!] = 0; // Zircon keeps `reg & UINT32_MAX`
KEEP_LO[SLOT.get(R.VBAR_EL1)!] = 0xfffff800; // bits 10..0 are RES0
KEEP_HI[SLOT.get(R.SPSR_EL1)!] = 0;
KEEP_HI[SLOT.get(R.ESR_EL1)!] = 0;
KEEP_LO[SLOT.get(R.ICC_PMR_EL1)!] = 0xff;
KEEP_HI[SLOT.get(R.ICC_PMR_EL1)!] = 0;

/**
 * The registers HCR_EL2.TVM traps writes of (ARMv8.0 AArch64: the stage-1
 * translation controls), and what Zircon's EL2 (the 2023
 * handle_system_instruction) does with each trapped write: SCTLR_EL1,
 * TCR_EL1, TTBR0_EL1, TTBR1_EL1 and MAIR_EL1 are written for the guest and
 * it goes on; the others hit its default case, ZX_ERR_NOT_SUPPORTED with pc
 * left at the msr.
 */
const TVM_HANDLED = new Set<number>([
  R.SCTLR_EL1,
  R.TCR_EL1,
  R.TTBR0_EL1,
  R.TTBR1_EL1,
  R.MAIR_EL1,
]);
const TVM_REFUSED = new Set<number>([
  R.ESR_EL1,
  R.FAR_EL1,
  R.AFSR0_EL1,
  R.AFSR1_EL1,
  R.AMAIR_EL1,
  R.CONTEXTIDR_EL1,
]);
/** SYS op1:CRn:CRm:op2 of dc isw, dc csw and dc cisw (Zircon traps them: HCR_EL2.TSW). */
const DC_SET_WAY = new Set<number>([
  (7 << 7) | (6 << 3) | 2,
  (7 << 7) | (10 << 3) | 2,
  (7 << 7) | (14 << 3) | 2,
]);

/** Read-as-zero, writes ignored (Zircon's EL2 handles them so). */
const RAZ_WI = new Set<number>([R.OSLAR_EL1, R.OSLSR_EL1, R.OSDLR_EL1, R.DBGPRCR_EL1]);

/**
 * SCTLR_EL1 at reset: the ARMv8.0 RES1 bits (29, 28, 23, 22, 20, 11), MMU
 * (M), caches and alignment checks off. Zircon's EL2 loads the guest's
 * SCTLR_EL1 from its zero-initialised GuestState, so SA (bit 3) and SA0
 * (bit 4) start clear: a misaligned sp is a fine base until the guest sets
 * them.
 */
export const SCTLR_EL1_RESET = 0x30d00800;
/** SCTLR_EL1 bits: MMU on, data caches on, SP alignment checks at EL1 and at EL0. */
export const SCTLR_M = 1 << 0, SCTLR_C = 1 << 2, SCTLR_SA = 1 << 3, SCTLR_SA0 = 1 << 4;
/** MIDR_EL1: an Arm Cortex-A53 r0p4 (the part the EL0 cache geometry also describes). */
export const MIDR_EL1 = 0x410fd034;
/** ICC_SRE_EL1 at reset: SRE (system registers on), DFB and DIB set. */
const ICC_SRE_RESET = 0x7;
/**
 * The virtual CPU interface as Zircon's default ICH_VMCR_EL2 leaves it
 * (VPMR all ones, VENG1): ICC_PMR_EL1 0xff, group 1 enabled, so a guest that
 * never touches the GIC still gets its interrupts.
 */
const ICC_PMR_RESET = 0xff;
const ICC_IGRPEN1_RESET = 1;
/** ICC_IAR1_EL1 when no interrupt is pending: the special INTID 1023. */
export const INTID_NONE = 1023;

// PSTATE as kept in the cpsr slot (the SPSR layout).
export const PSTATE_D = 0x200, PSTATE_A = 0x100, PSTATE_I = 0x80, PSTATE_F = 0x40;
export const PSTATE_DAIF = 0x3c0;
/** M[3:0]: EL0t, EL1t (EL1 on SP_EL0), EL1h (EL1 on SP_EL1). */
export const MODE_EL0T = 0b0000, MODE_EL1T = 0b0100, MODE_EL1H = 0b0101;
/** The PSTATE bits the cpsr slot keeps besides NZCV: DAIF and M[3:0]. */
export const PSTATE_KEPT = PSTATE_DAIF | 0xf;

/**
 * Whether SPSR mode bits `m` (M[4:0]) name a state an eret from EL1 may
 * return to: EL0t, EL1t or EL1h in AArch64 (the modelled CPU has no
 * AArch32, and EL2 / EL3 are above the guest).
 */
function validMode(m: number): boolean {
  return m === MODE_EL0T || m === MODE_EL1T || m === MODE_EL1H;
}

/**
 * The priority Zircon gives a vector in its list registers: 0 for SGIs and
 * PPIs (below 32), 0x10 for SPIs.
 */
export function priorityOf(intid: number): number {
  return intid < 32 ? 0 : 0x10;
}

function undefined_(core: Arm64Core, c: Int32Array, b: number): number {
  core.detail = c[b + F_RAW] >>> 0;
  return EXIT.UNDEFINED_INSTRUCTION;
}

/** The EL1 system state of one VCPU. */
export class El1State implements El1 {
  /** Stored registers: slot i at [2i] (low) and [2i + 1] (high). */
  readonly regs = new Uint32Array(2 * STORED.length);
  /** SP_EL0 and SP_EL1 while the other one is the core's sp. */
  spEl0Lo = 0;
  spEl0Hi = 0;
  spEl1Lo = 0;
  spEl1Hi = 0;
  /** MPIDR_EL1: Zircon's VMPIDR, (vpid - 1) with the RES1 bit 31. */
  readonly mpidr: number;
  /** The INTID ICC_IAR1_EL1 acknowledges next (INTID_NONE: none pending). */
  pending = INTID_NONE;
  /** The INTID acknowledged and not yet ended (ICC_RPR_EL1 shows its priority). */
  active = INTID_NONE;
  /**
   * What an msr that stopped the core with EXIT.HYPERCALL asks of the kernel
   * (ICC_SGI1R_EL1: an IPI); null: the exit was an smc / hvc.
   */
  exit: Hypercall | null = null;
  /** `exit` leaves pc at the instruction (Zircon does not call next_pc). */
  exitAtInstruction = false;
  /**
   * HCR_EL2.TVM: Zircon creates every VCPU with it set, so writes of the
   * stage-1 controls go to its EL2 (see tvmWrite), and clears it when the
   * guest turns the MMU and data caches on together (SCTLR_EL1 M and C);
   * from then on they are plain register writes. A dc set/way operation
   * with either of them off sets it again.
   */
  tvm = true;

  constructor(vpid: number) {
    this.mpidr = ((vpid - 1) | 0x80000000) >>> 0;
    this.set(R.SCTLR_EL1, SCTLR_EL1_RESET, 0);
    this.set(R.ICC_SRE_EL1, ICC_SRE_RESET, 0);
    this.set(R.ICC_PMR_EL1, ICC_PMR_RESET, 0);
    this.set(R.ICC_IGRPEN1_EL1, ICC_IGRPEN1_RESET, 0);
  }

  /**
   * Whether the CPU interface would signal an interrupt of `priority` now:
   * group 1 enabled and the priority above (numerically below) both the
   * priority mask and the running priority (an acknowledged interrupt not
   * yet ended blocks all others of its priority and below, as on
   * hardware). PSTATE.I is the caller's.
   */
  signalable(priority: number): boolean {
    if ((this.lo(R.ICC_IGRPEN1_EL1) & 1) === 0) return false;
    const running = this.active === INTID_NONE ? 0x100 : priorityOf(this.active);
    return priority < this.lo(R.ICC_PMR_EL1) && priority < running;
  }

  /** A stored register's low / high word. */
  lo(key: number): number {
    return this.regs[2 * SLOT.get(key)!];
  }
  hi(key: number): number {
    return this.regs[2 * SLOT.get(key)! + 1];
  }
  /** As the register reads, for tests and debugging (not on an instruction path). */
  get(key: number): bigint {
    return (BigInt(this.hi(key)) << 32n) | BigInt(this.lo(key));
  }
  /** Writes a stored register, keeping only the bits it has. */
  set(key: number, lo: number, hi: number): void {
    const s = SLOT.get(key)!;
    this.regs[2 * s] = lo & KEEP_LO[s];
    this.regs[2 * s + 1] = hi & KEEP_HI[s];
  }

  atEl0(core: Arm64Core): boolean {
    return (core.cpsrLo & 0xc) === 0;
  }

  spAlignmentChecked(core: Arm64Core): boolean {
    return (this.regs[SCTLR_LO] & ((core.cpsrLo & 0xc) === 0 ? SCTLR_SA0 : SCTLR_SA)) !== 0;
  }

  /**
   * Moves to mode `to` (M[3:0]), switching the core's sp between SP_EL0 and
   * SP_EL1 as the mode's SP selection says. `cpsr` is the current PSTATE
   * word (run-time cpsrLo or the stored slot); returns it with the new mode.
   */
  switchMode(g: Uint32Array, cpsr: number, to: number): number {
    const fromH = (cpsr & 0xf) === MODE_EL1H, toH = to === MODE_EL1H;
    if (fromH !== toH) {
      if (fromH) {
        this.spEl1Lo = g[SP];
        this.spEl1Hi = g[SP + 1];
        g[SP] = this.spEl0Lo;
        g[SP + 1] = this.spEl0Hi;
      } else {
        this.spEl0Lo = g[SP];
        this.spEl0Hi = g[SP + 1];
        g[SP] = this.spEl1Lo;
        g[SP + 1] = this.spEl1Hi;
      }
    }
    return ((cpsr & ~0xf) | to) >>> 0;
  }

  mrs(core: Arm64Core, c: Int32Array, b: number): number {
    if (this.atEl0(core)) return undefined_(core, c, b);
    const g = core.gpr, d = c[b + F_D], key = c[b + F_K];
    let lo = 0, hi = 0;
    const s = SLOT.get(key);
    if (s !== undefined) {
      lo = this.regs[2 * s];
      hi = this.regs[2 * s + 1];
    } else {
      switch (key) {
        case R.MIDR_EL1:
          lo = MIDR_EL1;
          break;
        case R.MPIDR_EL1:
          lo = this.mpidr;
          break;
        case R.CURRENT_EL:
          lo = core.cpsrLo & 0xc;
          break;
        case R.DAIF:
          lo = core.cpsrLo & PSTATE_DAIF;
          break;
        case R.SPSEL:
          lo = core.cpsrLo & 1;
          break;
        case R.SP_EL0:
          // At EL1t the core's sp is SP_EL0 (hardware makes this access UNDEFINED there).
          if ((core.cpsrLo & 1) === 0) return undefined_(core, c, b);
          lo = this.spEl0Lo;
          hi = this.spEl0Hi;
          break;
        case R.ICC_IAR1_EL1:
          // Acknowledge: the delivered INTID becomes active.
          lo = this.pending;
          if (lo !== INTID_NONE) this.active = lo;
          this.pending = INTID_NONE;
          break;
        case R.ICC_HPPIR1_EL1:
          lo = this.pending;
          break;
        case R.ICC_RPR_EL1:
          // Running priority: idle (0xff) unless an interrupt is active.
          lo = this.active === INTID_NONE ? 0xff : priorityOf(this.active);
          break;
        default:
          if (RAZ_WI.has(key)) break;
          return undefined_(core, c, b);
      }
    }
    g[d] = lo;
    g[d + 1] = hi;
    return NEXT;
  }

  msr(core: Arm64Core, c: Int32Array, b: number): number {
    if (this.atEl0(core)) return undefined_(core, c, b);
    const g = core.gpr, n = c[b + F_N], key = c[b + F_K];
    const lo = g[n], hi = g[n + 1];
    if (SLOT.has(key)) {
      if (this.tvm && (TVM_HANDLED.has(key) || TVM_REFUSED.has(key))) {
        return this.tvmWrite(key, lo, hi);
      }
      this.set(key, lo, hi);
      return NEXT;
    }
    switch (key) {
      case R.DAIF:
        core.cpsrLo = ((core.cpsrLo & ~PSTATE_DAIF) | (lo & PSTATE_DAIF)) >>> 0;
        return NEXT;
      case R.SPSEL:
        core.cpsrLo = this.switchMode(g, core.cpsrLo, (lo & 1) ? MODE_EL1H : MODE_EL1T);
        return NEXT;
      case R.SP_EL0:
        if ((core.cpsrLo & 1) === 0) return undefined_(core, c, b);
        this.spEl0Lo = lo;
        this.spEl0Hi = hi;
        return NEXT;
      case R.ICC_SGI1R_EL1:
        return this.sgi(lo, hi);
      case R.ICC_EOIR1_EL1:
      case R.ICC_DIR_EL1:
        // End of interrupt: drop the running priority (INTID 1020..1023 are special, ignored).
        if ((lo & 0xffffff) === this.active) this.active = INTID_NONE;
        return NEXT;
      default:
        if (RAZ_WI.has(key)) return NEXT;
        return undefined_(core, c, b);
    }
  }

  /**
   * A write HCR_EL2.TVM trapped, as Zircon's EL2 handles it. SCTLR_EL1 keeps
   * the low 32 bits (`reg & UINT32_MAX`), and with M and C both set Zircon
   * clears TVM (and DC): later writes are no longer trapped. TCR_EL1,
   * TTBR0/1_EL1 and MAIR_EL1 are stored whole. Any other (ESR_EL1, FAR_EL1,
   * AFSR0/1_EL1, AMAIR_EL1, CONTEXTIDR_EL1) is an unhandled system register
   * access: vcpu_enter fails with ZX_ERR_NOT_SUPPORTED, the register
   * unchanged and pc at the msr.
   */
  private tvmWrite(key: number, lo: number, hi: number): number {
    if (TVM_HANDLED.has(key)) {
      this.set(key, lo, hi);
      if (key === R.SCTLR_EL1 && (lo & SCTLR_M) !== 0 && (lo & SCTLR_C) !== 0) this.tvm = false;
      return NEXT;
    }
    this.exit = {
      kind: "unsupported",
      reason: `the guest wrote ${sysregName(key)} while HCR_EL2.TVM traps it (its MMU and ` +
        "data caches not both on yet): Zircon's EL2 does not handle that register",
    };
    this.exitAtInstruction = true;
    return EXIT.HYPERCALL;
  }

  /**
   * sys at EL1: cache and TLB maintenance and address translation, no-ops
   * here (no caches, and the guest's MMU is off), except that a dc set/way
   * operation (isw, csw, cisw; Zircon traps them) with the MMU or the data
   * caches off makes Zircon set TVM again to see when they come back on.
   */
  sys(_core: Arm64Core, c: Int32Array, b: number): number {
    if (DC_SET_WAY.has((c[b + F_RAW] >>> 5) & 0x3fff)) {
      const sctlr = this.regs[SCTLR_LO];
      if ((sctlr & SCTLR_M) === 0 || (sctlr & SCTLR_C) === 0) this.tvm = true;
    }
    return NEXT;
  }

  /**
   * msr ICC_SGI1R_EL1 (Zircon's EL2 traps it: HCR_EL2.IMO/FMO), as the 2023
   * handle_system_instruction does: an Aff3, Aff2, Aff1 or RS field other than
   * 0 is NOT_SUPPORTED (pc left at the msr); else an INTERRUPT packet with
   * vector = INTID (bits 27:24) and mask = the target list's low 8 bits
   * (Zircon keeps it in a uint8_t), or with IRM (bit 40) every VCPU but this
   * one, ~(1 << (vpid - 1)) over 64 bits. pc moves past the msr. (A read of
   * this write-only register is UNDEFINED at EL1 and never reaches EL2.)
   */
  private sgi(lo: number, hi: number): number {
    const aff1 = (lo >>> 16) & 0xff, aff2 = hi & 0xff, rs = (hi >>> 12) & 0xf;
    const aff3 = (hi >>> 16) & 0xff;
    if ((aff1 | aff2 | aff3 | rs) !== 0) {
      this.exit = {
        kind: "unsupported",
        reason: "the guest wrote ICC_SGI1R_EL1 with a non-zero Aff3, Aff2, Aff1 or RS " +
          "field: Zircon sends SGIs only within affinity 0.0.0",
      };
      this.exitAtInstruction = true;
      return EXIT.HYPERCALL;
    }
    const self = this.mpidr & 0x1ffff;
    const mask = (hi & 0x100) !== 0 ? BigInt.asUintN(64, ~(1n << BigInt(self))) : BigInt(lo & 0xff);
    this.exit = { kind: "interrupt", mask, vector: (lo >>> 24) & 0xf };
    this.exitAtInstruction = false;
    return EXIT.HYPERCALL;
  }

  pstate(core: Arm64Core, c: Int32Array, b: number): number {
    const imm = c[b + F_I], field = c[b + F_K];
    if (field === ((3 << 3) | 6)) core.cpsrLo = (core.cpsrLo | (imm << 6)) >>> 0; // daifset
    else if (field === ((3 << 3) | 7)) core.cpsrLo = (core.cpsrLo & ~(imm << 6)) >>> 0; // daifclr
    else core.cpsrLo = this.switchMode(core.gpr, core.cpsrLo, (imm & 1) ? MODE_EL1H : MODE_EL1T);
    return NEXT;
  }

  /**
   * eret (ARM ARM, exception return and "illegal return events from
   * AArch64 state"): a legal return takes PSTATE from SPSR_EL1 (NZCV, DAIF,
   * IL, the mode and its sp) and pc from ELR_EL1. An illegal one (SPSR.M
   * naming AArch32, EL2 / EL3 or a reserved mode) keeps the EL and the sp
   * selection, takes the other fields from SPSR_EL1 and pc from ELR_EL1,
   * and sets PSTATE.IL, so that the next instruction is an Illegal
   * Execution state exception (EC 0x0e) taken at the current EL. With IL
   * set the core stops after the eret (see PSTATE_IL).
   */
  eret(core: Arm64Core, _c: Int32Array, _b: number): number {
    const spsr = this.lo(R.SPSR_EL1);
    const g = core.gpr;
    const kept = PSTATE_DAIF | PSTATE_IL;
    if (validMode(spsr & 0x1f)) {
      const cpsr = this.switchMode(g, core.cpsrLo, spsr & 0xf);
      core.cpsrLo = ((cpsr & ~(PSTATE_KEPT | PSTATE_IL)) | (spsr & (PSTATE_KEPT | PSTATE_IL))) >>>
        0;
    } else {
      core.cpsrLo = ((core.cpsrLo & ~kept) | (spsr & PSTATE_DAIF) | PSTATE_IL) >>> 0;
    }
    core.nzcv = spsr >>> 28;
    g[PC] = this.lo(R.ELR_EL1);
    g[PC + 1] = this.hi(R.ELR_EL1);
    return JUMP;
  }
}
