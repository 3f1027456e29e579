// The AArch64 interpreter core: runs real A64 machine code on a thread's
// Arm64Registers in an AddressSpace until its budget is spent or the
// kernel is needed (cpu.ts, EXIT).
//
// Speed comes from three things. Instructions are decoded once per page
// into an Int32Array kept in `page.code` (ops.ts), lazily, one instruction
// at a time; a write to the page drops it. Translations live in small TLBs
// (mmu.ts). And the common instructions are handled inline in the loop
// below, on locals, with no allocation; the rest go to exec.ts.
//
// Register 31: while run() executes, the cpsr and tpidr slots of gpr are
// lent out as the zero register (ZR, always 0) and a sink for writes to it
// (ZW); NZCV lives in a local and tpidr in a field. Both are put back
// before run() returns, so a debugger between runs sees the real values.
//
// Debug exceptions (EXIT.HW_BREAKPOINT, ESR / FAR written to the thread's
// debug state): when a run starts with single-stepping requested or any
// enabled breakpoint / watchpoint (user mode only), it goes through
// debugLoop, which runs loop() one instruction at a time; otherwise the only
// cost is that test, once per run.
//   - Software step (MDSCR_EL1.SS with SPSR.SS): after each instruction,
//     pc = the next one, ESR EC 0x32 with ISV = 1 and EX = 1 when the
//     instruction was a load-exclusive; FAR 0. The request stays set (the
//     hardware clears SPSR.SS; Zircon debuggers set it again before every
//     resume). A stepped svc completes and exits to the kernel; the step
//     exception follows as the thread returns (SPSR.SS = 0 after an svc):
//     at the next run, before any instruction, ISV = 0.
//   - Breakpoint (DBGBCR.E; Zircon makes every enabled one 0x1e5: EL0,
//     all four bytes): before the instruction at DBGBVR runs (an
//     instruction abort on that fetch comes first), pc at it, EC 0x30,
//     FAR 0. Resuming there hits it again, as on hardware: a debugger
//     disables it or steps over it.
//   - Watchpoint (DBGWCR.E, LSC bits 3-4: 01 load, 10 store, 11 both; BAS
//     bits 5-12: bytes from DBGWVR): a load / store touching a watched byte
//     stops before it happens (a fault: pc at the instruction, nothing
//     written, no register changed), EC 0x34 with WnR, FAR = the lowest
//     watched byte the access touches. LSC 00 or BAS 0 watch nothing.

import {
  ACCESS,
  type AddressSpace,
  type Core,
  type CoreMode,
  EXIT,
  type ExitReason,
  type IoAccess,
  type Page,
} from "../../cpu.ts";
import type { Arm64Registers } from "../arm64.ts";
import { ARM64_DEBUG_REGS } from "../regsets.ts";
import { r as bitsR, shl64, shr64 } from "./bits.ts";
import { decode } from "./decode.ts";
import { exec } from "./exec.ts";
import { HI_LIMIT, Mmu, TLB_MASK } from "./mmu.ts";
import { LS, MODE } from "./decode_ldst.ts";
import {
  ALIGN,
  COND_TABLE,
  CPSR,
  ENTRIES,
  F_D,
  F_I,
  F_J,
  F_K,
  F_M,
  F_N,
  JUMP,
  NEXT,
  OP,
  PC,
  PSTATE_IL,
  SP,
  STRIDE,
  TPIDR,
  ZR,
} from "./ops.ts";
import { VRegs } from "./vregs.ts";

const TWO32 = 4294967296;

/** u32 index of hw_bps[0].dbgbcr and hw_wps[0].dbgwcr in the debug regset (16 bytes each). */
const BCR0 = ARM64_DEBUG_REGS.offsetOf("hw_bps[0].dbgbcr") / 4;
const WCR0 = ARM64_DEBUG_REGS.offsetOf("hw_wps[0].dbgwcr") / 4;
/** Slots looked at (AARCH64_MAX_HW_BREAKPOINTS / _WATCHPOINTS; unused ones are zero). */
const DBG_SLOTS = 16;

/**
 * ESR_EL1 of the debug exceptions taken from EL0: EC << 26, IL (bit 25) and
 * the fault status code 0b100010 ("debug exception") in bits 5-0.
 */
export const ESR_BREAKPOINT = 0xc2000022; // EC 0x30
export const ESR_STEP = 0xca000022; // EC 0x32, ISV = 0
export const ESR_WATCHPOINT = 0xd2000022; // EC 0x34
/** Software step ISS: ISV (EX is valid), EX (a load-exclusive was stepped). */
export const ESR_STEP_ISV = 0x1000000;
export const ESR_STEP_EX = 0x40;
/** Watchpoint ISS: WnR, a write. */
export const ESR_WNR = 0x40;
/** HW_BREAKPOINT `detail`. */
export const HW_STEP = 0, HW_BREAKPOINT = 1, HW_WATCHPOINT = 2;

/** LDXR, LDAXR, LDXP, LDAXP (any size): load/store exclusive with o2 = 0, L = 1. */
function isLoadExclusive(word: number): boolean {
  return (word & 0x3fc00000) === 0x08400000;
}

/** The decoded instructions of one page (what this core keeps in Page.code). */
export class DecodedPage {
  readonly e: Int32Array;
  constructor() {
    this.e = new Int32Array(ENTRIES * STRIDE);
    this.e[(ENTRIES - 1) * STRIDE] = OP.PAGE_END;
  }
}

/**
 * The EL1 half of a guest CPU (arch/arm64/vcpu): the system registers and
 * the instructions only EL1 may execute. A core has one only when it runs a
 * VCPU; user cores (and bare guest-mode cores) keep `el1` null, and then
 * these instructions are UNDEFINED as at EL0. Each method returns NEXT,
 * JUMP (eret: pc already set) or an EXIT reason (detail set).
 */
export interface El1 {
  /** mrs of a register the EL0 table does not know (`c[b + F_K]` the number). */
  mrs(core: Arm64Core, c: Int32Array, b: number): number;
  /** msr of a register the EL0 table does not know. */
  msr(core: Arm64Core, c: Int32Array, b: number): number;
  /** msr daifset / daifclr / spsel, #imm. */
  pstate(core: Arm64Core, c: Int32Array, b: number): number;
  /** eret: pc and PSTATE from ELR_EL1 / SPSR_EL1. */
  eret(core: Arm64Core, c: Int32Array, b: number): number;
  /** The EL1 cache / TLB maintenance and address translation instructions (sys). */
  sys(core: Arm64Core, c: Int32Array, b: number): number;
  /** Whether PSTATE says EL0 (EL1-only instructions are UNDEFINED there). */
  atEl0(core: Arm64Core): boolean;
  /**
   * Whether sp as a base must be 16-byte aligned at the current EL:
   * SCTLR_EL1.SA at EL1, SA0 at EL0.
   */
  spAlignmentChecked(core: Arm64Core): boolean;
}

/** A virtual counter for CNTVCT_EL0 (Zircon lets EL0 read it); none by default. */
export interface Counter {
  readonly frequency: number;
  /** Current count (an integer below 2^53). */
  now(): number;
}

export class Arm64Core implements Core {
  retired = 0;
  faultAddress = 0n;
  faultAccess = 0;
  detail = 0;
  readonly io: IoAccess = { port: 0, size: 0, input: false, value: 0, instructionSize: 4 };

  readonly regs: Arm64Registers;
  readonly gpr: Uint32Array;
  readonly mmu: Mmu;
  readonly mode: CoreMode;
  readonly v: VRegs;
  /** CNTVCT_EL0 / CNTFRQ_EL0 source; reads are UNDEFINED_INSTRUCTION while null. */
  counter: Counter | null = null;
  /** A VCPU's EL1 state (see El1); null for user threads. */
  el1: El1 | null = null;
  /** EXIT.HYPERCALL came from smc (true) or hvc (false). */
  smc = false;

  /** NZCV as bits 3..0, while running (exec.ts reads and writes it). */
  nzcv = 0;
  /** tpidr_el0 while its gpr slot is lent out. */
  tpidrLo = 0;
  tpidrHi = 0;
  /**
   * The cpsr slot while running, NZCV aside (that is `nzcv`): a guest's
   * DAIF and mode bits live here (El1 reads and writes them).
   */
  cpsrLo = 0;
  private cpsrHi = 0;

  /** The thread's debug regset as u32 words. */
  private readonly dbg: Uint32Array;
  /** Breakpoint addresses armed for this run. */
  private readonly bpVa = new Float64Array(DBG_SLOTS);
  private bpN = 0;
  /** A stepped svc completed: the step exception is due before the next instruction. */
  private stepPending = false;

  /** Exclusive monitor (ldxr/stxr): address, size and the value loaded. */
  monValid = false;
  monLo = 0;
  monHi = 0;
  monSize = 0;
  readonly monValue = new Uint8Array(16);

  constructor(registers: Arm64Registers, memory: AddressSpace, mode: CoreMode) {
    this.regs = registers;
    this.gpr = registers.gpr;
    this.mmu = new Mmu(memory);
    this.mode = mode;
    this.v = new VRegs(registers.vec);
    const dbg = registers.dbg;
    this.dbg = new Uint32Array(dbg.buffer, dbg.byteOffset, dbg.length / 4);
  }

  run(budget: number): ExitReason {
    const g = this.gpr;
    this.mmu.sync();
    this.mmu.codeDirty = false;
    this.cpsrLo = g[CPSR];
    this.cpsrHi = g[CPSR + 1];
    this.tpidrLo = g[TPIDR];
    this.tpidrHi = g[TPIDR + 1];
    this.nzcv = this.cpsrLo >>> 28;
    g[ZR] = 0;
    g[ZR + 1] = 0;
    this.retired = 0;
    let reason: ExitReason;
    try {
      if (this.mode === "user" && this.debugging()) reason = this.debugLoop(budget);
      else {
        this.stepPending = false;
        reason = this.loop(budget);
      }
    } catch {
      // A bug in the core, not in the program: stop rather than throw out
      // of run(). pc is where the last exit or jump left it.
      this.detail = -1;
      reason = EXIT.UNDEFINED_INSTRUCTION;
    } finally {
      g[CPSR] = ((this.cpsrLo & 0x0fffffff) | (this.nzcv << 28)) >>> 0;
      g[CPSR + 1] = this.cpsrHi;
      g[TPIDR] = this.tpidrLo;
      g[TPIDR + 1] = this.tpidrHi;
    }
    if (reason === EXIT.PAGE_FAULT || (reason === EXIT.ALIGNMENT && this.detail === ALIGN.DATA)) {
      const m = this.mmu;
      this.faultAddress = (BigInt(m.faultHi) << 32n) | BigInt(m.faultLo);
      this.faultAccess = m.faultAccess;
    }
    // Zircon reports an SP alignment fault as ZX_EXCP_GENERAL, not UNALIGNED_ACCESS.
    if (reason === EXIT.ALIGNMENT && this.detail === ALIGN.SP) return EXIT.GENERAL_PROTECTION;
    return reason;
  }

  /** Single-stepping, or an enabled breakpoint or watchpoint. */
  private debugging(): boolean {
    if (this.regs.singleStepping) return true;
    const d = this.dbg;
    let e = 0;
    for (let i = 0; i < DBG_SLOTS; i++) e |= d[BCR0 + 4 * i] | d[WCR0 + 4 * i];
    return (e & 1) !== 0;
  }

  /** Reads the enabled breakpoints and watchpoints (the latter into the Mmu). */
  private arm(): void {
    const d = this.dbg, mmu = this.mmu;
    let bpN = 0, wpN = 0;
    for (let i = 0; i < DBG_SLOTS; i++) {
      const b = BCR0 + 4 * i;
      if ((d[b] & 1) !== 0) this.bpVa[bpN++] = d[b + 3] * TWO32 + d[b + 2];
      const w = WCR0 + 4 * i, wcr = d[w];
      const lsc = (wcr >>> 3) & 3, bas = (wcr >>> 5) & 0xff;
      if ((wcr & 1) !== 0 && lsc !== 0 && bas !== 0) {
        mmu.wpVa[wpN] = d[w + 3] * TWO32 + d[w + 2];
        mmu.wpBas[wpN] = bas;
        mmu.wpLsc[wpN++] = lsc;
      }
    }
    this.bpN = bpN;
    mmu.watch(wpN);
  }

  /**
   * loop() one instruction at a time, with the debug checks around each
   * (see the top of this file). Sets `retired` to the total.
   */
  private debugLoop(budget: number): ExitReason {
    const g = this.gpr, mmu = this.mmu;
    const step = this.regs.singleStepping;
    if (!step) this.stepPending = false;
    this.arm();
    let total = 0;
    let reason: ExitReason = EXIT.BUDGET;
    try {
      while (total < budget) {
        if (this.stepPending) {
          this.stepPending = false;
          reason = this.debugStop(ESR_STEP, 0n, HW_STEP);
          break;
        }
        const lo = g[PC], hi = g[PC + 1];
        const fetchable = (lo & 3) === 0 && hi < HI_LIMIT;
        const va = hi * TWO32 + lo;
        if (this.bpN !== 0 && fetchable) {
          let hit = false;
          for (let k = 0; k < this.bpN; k++) if (this.bpVa[k] === va) hit = true;
          if (hit && mmu.fetchPage(va) !== null) {
            reason = this.debugStop(ESR_BREAKPOINT, 0n, HW_BREAKPOINT);
            break;
          }
        }
        let esr = ESR_STEP | ESR_STEP_ISV;
        if (step && fetchable && this.loadsExclusive(va)) esr |= ESR_STEP_EX;
        if (mmu.watching) {
          // Watched pages stay out of the TLBs: their accesses take the checked paths.
          for (let k = 0; k < mmu.wpN; k++) {
            mmu.evict(Math.floor(mmu.wpVa[k] / 4096));
            mmu.evict(Math.floor((mmu.wpVa[k] + 7) / 4096));
          }
        }
        mmu.watchHit = false;
        const r = this.loop(1);
        total += this.retired;
        if (r !== EXIT.BUDGET) {
          if (r === EXIT.PAGE_FAULT && mmu.watchHit) {
            this.faultAddress = (BigInt(mmu.faultHi) << 32n) | BigInt(mmu.faultLo);
            this.faultAccess = mmu.faultAccess;
            const wnr = mmu.faultAccess === ACCESS.WRITE ? ESR_WNR : 0;
            reason = this.debugStop(ESR_WATCHPOINT | wnr, this.faultAddress, HW_WATCHPOINT);
          } else {
            if (r === EXIT.SYSCALL && step) this.stepPending = true;
            reason = r;
          }
          break;
        }
        if (step) {
          reason = this.debugStop(esr, 0n, HW_STEP);
          break;
        }
      }
    } finally {
      mmu.watch(0);
    }
    this.retired = total;
    return reason;
  }

  /** Whether the instruction at va (aligned, < 2^53) is a load-exclusive. */
  private loadsExclusive(va: number): boolean {
    const page = this.mmu.fetchPage(va);
    if (page === null) return false;
    const b = page.bytes, o = va % 4096;
    return isLoadExclusive(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
  }

  /** EXIT.HW_BREAKPOINT: ESR / FAR into the thread's debug state. */
  private debugStop(esr: number, far: bigint, kind: number): ExitReason {
    this.regs.esr = esr >>> 0;
    this.regs.far = far;
    this.detail = kind;
    return EXIT.HW_BREAKPOINT;
  }

  private stop(reason: ExitReason, n: number, nzcv: number): ExitReason {
    this.retired = n;
    this.nzcv = nzcv;
    return reason;
  }

  /**
   * Whether a misaligned sp used as a base faults now: always for user
   * threads (Zircon sets SCTLR_EL1.SA0) and bare guest-mode cores; a VCPU
   * as its SCTLR_EL1.SA / SA0 say. Asked only once sp is misaligned, so
   * the aligned paths never reach it.
   */
  spAlignmentChecked(): boolean {
    const el1 = this.el1;
    return el1 === null || el1.spAlignmentChecked(this);
  }

  /** pc = (pcLo + off, pcHi) as a 64-bit sum, for a branch leaving the page. */
  private jump(pcLo: number, pcHi: number, off: number): void {
    const t = pcLo + off;
    this.gpr[PC] = t >>> 0;
    this.gpr[PC + 1] = (pcHi + Math.floor(t / TWO32)) >>> 0;
  }

  private loop(budget: number): ExitReason {
    const g = this.gpr, mmu = this.mmu;
    const rTag = mmu.rTag, rView = mmu.rView, wTag = mmu.wTag, wView = mmu.wView;
    const wPage = mmu.wPage, w32 = mmu.w32;
    let nzcv = this.nzcv;
    let n = 0;
    outer: for (;;) {
      // Enter the page holding pc: check it, translate it, find its decodes.
      if (n >= budget) return this.stop(EXIT.BUDGET, n, nzcv);
      const pcHi = g[PC + 1];
      const pageLo = (g[PC] & 0xfffff000) >>> 0;
      if ((g[PC] & 3) !== 0) {
        this.detail = ALIGN.PC;
        return this.stop(EXIT.ALIGNMENT, n, nzcv);
      }
      if (pcHi >= HI_LIMIT) {
        mmu.fault(g[PC], pcHi, ACCESS.EXECUTE);
        return this.stop(EXIT.PAGE_FAULT, n, nzcv);
      }
      const page: Page | null = mmu.fetchPage(pcHi * TWO32 + pageLo);
      if (page === null) {
        mmu.fault(g[PC], pcHi, ACCESS.EXECUTE);
        return this.stop(EXIT.PAGE_FAULT, n, nzcv);
      }
      let code = page.code;
      if (!(code instanceof DecodedPage)) {
        code = new DecodedPage();
        page.code = code;
      }
      const c = (code as DecodedPage).e;
      const bytes = page.bytes;
      let idx = (g[PC] & 0xfff) >>> 2;

      inner: for (;;) {
        if (n >= budget) {
          g[PC] = pageLo + (idx << 2);
          return this.stop(EXIT.BUDGET, n, nzcv);
        }
        const b = idx * STRIDE;
        slow: {
          switch (c[b]) {
            case OP.UNDECODED: {
              const o = idx << 2;
              decode(
                bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24),
                c,
                b,
              );
              continue inner;
            }
            case OP.PAGE_END: {
              const next = pageLo + 4096;
              g[PC] = next;
              g[PC + 1] = next > 0xffffffff ? pcHi + 1 : pcHi;
              continue outer;
            }
            case OP.NOP:
              break;
            case OP.MOV64: {
              const d = c[b + F_D], s = c[b + F_N];
              g[d] = g[s];
              g[d + 1] = g[s + 1];
              break;
            }
            case OP.MOV32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]];
              g[d + 1] = 0;
              break;
            }
            case OP.MOVI: {
              const d = c[b + F_D];
              g[d] = c[b + F_I];
              g[d + 1] = c[b + F_J];
              break;
            }
            case OP.MOVK64:
            case OP.MOVK32: {
              const d = c[b + F_D], imm = c[b + F_I], hw = c[b + F_K];
              const at = d + (hw >> 1);
              g[at] = hw & 1 ? (g[at] & 0xffff) | (imm << 16) : (g[at] & 0xffff0000) | imm;
              if (c[b] === OP.MOVK32) g[d + 1] = 0;
              break;
            }
            case OP.ADDI64: {
              const s = c[b + F_N], d = c[b + F_D];
              const lo = g[s] + c[b + F_I];
              let hi = g[s + 1];
              if (lo > 0xffffffff) hi++;
              else if (lo < 0) hi--;
              g[d] = lo;
              g[d + 1] = hi;
              break;
            }
            case OP.ADDI32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]] + c[b + F_I];
              g[d + 1] = 0;
              break;
            }
            case OP.ADD64: {
              const s = c[b + F_N], m = c[b + F_M], d = c[b + F_D];
              const lo = g[s] + g[m];
              const hi = g[s + 1] + g[m + 1] + (lo > 0xffffffff ? 1 : 0);
              g[d] = lo;
              g[d + 1] = hi;
              break;
            }
            case OP.SUB64: {
              const s = c[b + F_N], m = c[b + F_M], d = c[b + F_D];
              const lo = g[s] - g[m];
              const hi = g[s + 1] - g[m + 1] - (lo < 0 ? 1 : 0);
              g[d] = lo;
              g[d + 1] = hi;
              break;
            }
            case OP.ADD32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]] + g[c[b + F_M]];
              g[d + 1] = 0;
              break;
            }
            case OP.SUB32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]] - g[c[b + F_M]];
              g[d + 1] = 0;
              break;
            }
            case OP.SUBSI64:
            case OP.SUBS64: {
              // a - b with the flags of a + ~b + 1.
              const s = c[b + F_N], d = c[b + F_D];
              let blo: number, bhi: number;
              if (c[b] === OP.SUBSI64) {
                blo = c[b + F_I];
                bhi = 0;
              } else {
                const m = c[b + F_M];
                blo = g[m];
                bhi = g[m + 1];
              }
              const ahi = g[s + 1];
              const lo = g[s] - blo;
              const hi = ahi - bhi - (lo < 0 ? 1 : 0);
              const rlo = lo >>> 0, rhi = hi >>> 0;
              nzcv = ((rhi >>> 31) << 3) | ((rlo | rhi) === 0 ? 4 : 0) | (hi >= 0 ? 2 : 0) |
                (((ahi ^ bhi) & (ahi ^ rhi)) >>> 31);
              g[d] = rlo;
              g[d + 1] = rhi;
              break;
            }
            case OP.SUBSI32:
            case OP.SUBS32: {
              const d = c[b + F_D];
              const a = g[c[b + F_N]];
              const bv = c[b] === OP.SUBSI32 ? c[b + F_I] : g[c[b + F_M]];
              const t = a - bv, res = t >>> 0;
              nzcv = ((res >>> 31) << 3) | (res === 0 ? 4 : 0) | (t >= 0 ? 2 : 0) |
                (((a ^ bv) & (a ^ res)) >>> 31);
              g[d] = res;
              g[d + 1] = 0;
              break;
            }
            case OP.ADDSI64:
            case OP.ADDS64: {
              const s = c[b + F_N], d = c[b + F_D];
              let blo: number, bhi: number;
              if (c[b] === OP.ADDSI64) {
                blo = c[b + F_I];
                bhi = 0;
              } else {
                const m = c[b + F_M];
                blo = g[m];
                bhi = g[m + 1];
              }
              const ahi = g[s + 1];
              const lo = g[s] + blo;
              const hi = ahi + bhi + (lo > 0xffffffff ? 1 : 0);
              const rlo = lo >>> 0, rhi = hi >>> 0;
              nzcv = ((rhi >>> 31) << 3) | ((rlo | rhi) === 0 ? 4 : 0) | (hi > 0xffffffff ? 2 : 0) |
                ((~(ahi ^ bhi) & (ahi ^ rhi)) >>> 31);
              g[d] = rlo;
              g[d + 1] = rhi;
              break;
            }
            case OP.ADDSI32:
            case OP.ADDS32: {
              const d = c[b + F_D];
              const a = g[c[b + F_N]];
              const bv = c[b] === OP.ADDSI32 ? c[b + F_I] : g[c[b + F_M]];
              const t = a + bv, res = t >>> 0;
              nzcv = ((res >>> 31) << 3) | (res === 0 ? 4 : 0) | (t > 0xffffffff ? 2 : 0) |
                ((~(a ^ bv) & (a ^ res)) >>> 31);
              g[d] = res;
              g[d + 1] = 0;
              break;
            }
            case OP.LOG64:
            case OP.LOGI64: {
              const s = c[b + F_N], d = c[b + F_D], k = c[b + F_K];
              let blo: number, bhi: number;
              if (c[b] === OP.LOGI64) {
                blo = c[b + F_I];
                bhi = c[b + F_J];
              } else {
                const m = c[b + F_M];
                blo = g[m];
                bhi = g[m + 1];
              }
              let lo: number, hi: number;
              if (k === 1) {
                lo = g[s] | blo;
                hi = g[s + 1] | bhi;
              } else if (k === 2) {
                lo = g[s] ^ blo;
                hi = g[s + 1] ^ bhi;
              } else {
                lo = g[s] & blo;
                hi = g[s + 1] & bhi;
                if (k === 3) nzcv = ((hi >>> 31) << 3) | ((lo | hi) === 0 ? 4 : 0);
              }
              g[d] = lo;
              g[d + 1] = hi;
              break;
            }
            case OP.LOG32:
            case OP.LOGI32: {
              const d = c[b + F_D], k = c[b + F_K], a = g[c[b + F_N]];
              const bv = c[b] === OP.LOGI32 ? c[b + F_I] : g[c[b + F_M]];
              const res = (k === 1 ? a | bv : k === 2 ? a ^ bv : a & bv) >>> 0;
              if (k === 3) nzcv = ((res >>> 31) << 3) | (res === 0 ? 4 : 0);
              g[d] = res;
              g[d + 1] = 0;
              break;
            }
            case OP.LSLI64: {
              const s = c[b + F_N], d = c[b + F_D];
              shl64(g[s], g[s + 1], c[b + F_K]);
              g[d] = bitsR.lo;
              g[d + 1] = bitsR.hi;
              break;
            }
            case OP.LSRI64: {
              const s = c[b + F_N], d = c[b + F_D];
              shr64(g[s], g[s + 1], c[b + F_K]);
              g[d] = bitsR.lo;
              g[d + 1] = bitsR.hi;
              break;
            }
            case OP.LSLI32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]] << c[b + F_K];
              g[d + 1] = 0;
              break;
            }
            case OP.LSRI32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]] >>> c[b + F_K];
              g[d + 1] = 0;
              break;
            }
            case OP.ASRI32: {
              const d = c[b + F_D];
              g[d] = g[c[b + F_N]] >> c[b + F_K];
              g[d + 1] = 0;
              break;
            }

            // Branches. A target inside this page just moves idx.
            case OP.B:
            case OP.BL:
            case OP.BCOND:
            case OP.CBZ64:
            case OP.CBNZ64:
            case OP.CBZ32:
            case OP.CBNZ32:
            case OP.TBZ:
            case OP.TBNZ: {
              let taken: boolean;
              switch (c[b]) {
                case OP.B:
                  taken = true;
                  break;
                case OP.BL: {
                  const lr = pageLo + (idx << 2) + 4;
                  g[60] = lr;
                  g[61] = lr > 0xffffffff ? pcHi + 1 : pcHi;
                  taken = true;
                  break;
                }
                case OP.BCOND:
                  taken = COND_TABLE[(nzcv << 4) | c[b + F_K]] === 1;
                  break;
                case OP.CBZ64: {
                  const s = c[b + F_N];
                  taken = (g[s] | g[s + 1]) === 0;
                  break;
                }
                case OP.CBNZ64: {
                  const s = c[b + F_N];
                  taken = (g[s] | g[s + 1]) !== 0;
                  break;
                }
                case OP.CBZ32:
                  taken = g[c[b + F_N]] === 0;
                  break;
                case OP.CBNZ32:
                  taken = g[c[b + F_N]] !== 0;
                  break;
                case OP.TBZ:
                  taken = (g[c[b + F_N]] & c[b + F_K]) === 0;
                  break;
                default:
                  taken = (g[c[b + F_N]] & c[b + F_K]) !== 0;
              }
              n++;
              if (!taken) {
                idx++;
                continue inner;
              }
              const t = (idx << 2) + c[b + F_I];
              if (t >= 0 && t < 4096) {
                idx = t >> 2;
                continue inner;
              }
              this.jump(pageLo, pcHi, t);
              continue outer;
            }
            case OP.BR:
            case OP.BLR: {
              const s = c[b + F_N];
              const tlo = g[s], thi = g[s + 1];
              if (c[b] === OP.BLR) {
                const lr = pageLo + (idx << 2) + 4;
                g[60] = lr;
                g[61] = lr > 0xffffffff ? pcHi + 1 : pcHi;
              }
              n++;
              if (thi === pcHi && (tlo & 0xfffff003) >>> 0 === pageLo) {
                idx = (tlo & 0xfff) >>> 2;
                continue inner;
              }
              g[PC] = tlo;
              g[PC + 1] = thi;
              continue outer;
            }

            // Loads and stores of general registers at base + immediate.
            case OP.LDRX:
            case OP.LDRW:
            case OP.LDRH:
            case OP.LDRB: {
              const s = c[b + F_N];
              if (s === SP && (g[SP] & 15) !== 0 && this.spAlignmentChecked()) {
                g[PC] = pageLo + (idx << 2);
                this.detail = ALIGN.SP;
                return this.stop(EXIT.ALIGNMENT, n, nzcv);
              }
              let lo = g[s] + c[b + F_I], hi = g[s + 1];
              if (lo > 0xffffffff) {
                lo -= TWO32;
                hi = (hi + 1) >>> 0;
              } else if (lo < 0) {
                lo += TWO32;
                hi = (hi - 1) >>> 0;
              }
              const op = c[b], d = c[b + F_D];
              const size = op === OP.LDRX ? 8 : op === OP.LDRW ? 4 : op === OP.LDRH ? 2 : 1;
              const e = (lo >>> 12) & TLB_MASK, off = lo & 0xfff;
              let vlo: number, vhi = 0;
              if (rTag[e] === hi * 1048576 + (lo >>> 12) && off <= 4096 - size) {
                const v = rView[e];
                if (size === 8) {
                  vlo = v.getUint32(off, true);
                  vhi = v.getUint32(off + 4, true);
                } else if (size === 4) vlo = v.getUint32(off, true);
                else if (size === 2) vlo = v.getUint16(off, true);
                else vlo = v.getUint8(off);
              } else {
                if (!mmu.load(lo, hi, size)) {
                  g[PC] = pageLo + (idx << 2);
                  return this.stop(EXIT.PAGE_FAULT, n, nzcv);
                }
                vlo = size === 8 || size === 4
                  ? w32[0]
                  : size === 2
                  ? w32[0] & 0xffff
                  : w32[0] & 0xff;
                if (size === 8) vhi = w32[1];
              }
              g[d] = vlo;
              g[d + 1] = vhi;
              break;
            }
            case OP.STRX:
            case OP.STRW:
            case OP.STRH:
            case OP.STRB: {
              const s = c[b + F_N];
              if (s === SP && (g[SP] & 15) !== 0 && this.spAlignmentChecked()) {
                g[PC] = pageLo + (idx << 2);
                this.detail = ALIGN.SP;
                return this.stop(EXIT.ALIGNMENT, n, nzcv);
              }
              let lo = g[s] + c[b + F_I], hi = g[s + 1];
              if (lo > 0xffffffff) {
                lo -= TWO32;
                hi = (hi + 1) >>> 0;
              } else if (lo < 0) {
                lo += TWO32;
                hi = (hi - 1) >>> 0;
              }
              const op = c[b], t = c[b + F_D];
              const size = op === OP.STRX ? 8 : op === OP.STRW ? 4 : op === OP.STRH ? 2 : 1;
              const e = (lo >>> 12) & TLB_MASK, off = lo & 0xfff;
              if (wTag[e] === hi * 1048576 + (lo >>> 12) && off <= 4096 - size) {
                const p = wPage[e];
                if (p.code !== null) {
                  p.written();
                  mmu.codeDirty = true;
                }
                const v = wView[e];
                if (size === 8) {
                  v.setUint32(off, g[t], true);
                  v.setUint32(off + 4, g[t + 1], true);
                } else if (size === 4) v.setUint32(off, g[t], true);
                else if (size === 2) v.setUint16(off, g[t], true);
                else v.setUint8(off, g[t]);
              } else {
                w32[0] = g[t];
                w32[1] = g[t + 1];
                if (!mmu.store(lo, hi, size)) {
                  g[PC] = pageLo + (idx << 2);
                  return this.stop(EXIT.PAGE_FAULT, n, nzcv);
                }
              }
              if (mmu.codeDirty) {
                // The store may have changed code of this very page: start over
                // at the next instruction with a fresh decode.
                mmu.codeDirty = false;
                if (page.code === null) {
                  n++;
                  this.jump(pageLo, pcHi, (idx << 2) + 4);
                  continue outer;
                }
              }
              break;
            }

            case OP.LDST: {
              // Loads / stores of general registers with writeback or a
              // register offset, inside one page through the TLB.
              const k = c[b + F_K], type = (k >> 3) & 7;
              if (type > LS.SX32) break slow;
              const s = c[b + F_N];
              if (s === SP && (g[SP] & 15) !== 0) break slow;
              const mode = (k >> 6) & 3, size = 1 << (k & 7);
              let olo: number, ohi: number;
              if (mode === MODE.REG) {
                const m = c[b + F_M], opt = (k >> 8) & 7, sh = (k >> 11) & 7;
                olo = g[m];
                ohi = opt === 2 ? 0 : opt === 6 ? (olo >> 31) >>> 0 : g[m + 1];
                if (sh !== 0) {
                  ohi = ((ohi << sh) | (olo >>> (32 - sh))) >>> 0;
                  olo = (olo << sh) >>> 0;
                }
              } else {
                olo = mode === MODE.POST ? 0 : c[b + F_I];
                ohi = olo < 0 ? 0xffffffff : 0;
                if (olo < 0) olo += TWO32;
              }
              let lo = g[s] + olo;
              const hi = (g[s + 1] + ohi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
              lo = lo >>> 0;
              const e = (lo >>> 12) & TLB_MASK, off = lo & 0xfff, t = c[b + F_D];
              if (off > 4096 - size) break slow;
              const vpn = hi * 1048576 + (lo >>> 12);
              let vlo = 0, vhi = 0;
              if (type === LS.STORE) {
                if (wTag[e] !== vpn || wPage[e].code !== null) break slow;
                const v = wView[e];
                if (size === 8) {
                  v.setUint32(off, g[t], true);
                  v.setUint32(off + 4, g[t + 1], true);
                } else if (size === 4) v.setUint32(off, g[t], true);
                else if (size === 2) v.setUint16(off, g[t], true);
                else v.setUint8(off, g[t]);
              } else {
                if (rTag[e] !== vpn) break slow;
                const v = rView[e];
                const sx = type !== LS.LOAD;
                if (size === 8) {
                  vlo = v.getUint32(off, true);
                  vhi = v.getUint32(off + 4, true);
                } else if (size === 4) vlo = v.getUint32(off, true);
                else if (size === 2) vlo = sx ? v.getInt16(off, true) : v.getUint16(off, true);
                else vlo = sx ? v.getInt8(off) : v.getUint8(off);
                if (type === LS.SX64 && size < 8) vhi = vlo >> 31;
              }
              if (mode === MODE.PRE || mode === MODE.POST) {
                const wl = g[s] + c[b + F_I];
                g[s + 1] = g[s + 1] + (wl > 0xffffffff ? 1 : wl < 0 ? -1 : 0);
                g[s] = wl;
              }
              if (type !== LS.STORE) {
                g[t] = vlo;
                g[t + 1] = vhi;
              }
              break;
            }
            case OP.LDSTP: {
              // ldp / stp of general registers inside one page through the TLB;
              // anything else (straddling, a miss, FP registers) goes to exec.ts.
              const k = c[b + F_K], type = (k >> 3) & 7;
              if (type > LS.SX64) break slow;
              const s = c[b + F_N];
              if (s === SP && (g[SP] & 15) !== 0) break slow;
              const mode = (k >> 6) & 3, size = 1 << (k & 7), imm = c[b + F_I];
              let lo = g[s] + (mode === MODE.POST ? 0 : imm), hi = g[s + 1];
              if (lo > 0xffffffff) {
                lo -= TWO32;
                hi = (hi + 1) >>> 0;
              } else if (lo < 0) {
                lo += TWO32;
                hi = (hi - 1) >>> 0;
              }
              const e = (lo >>> 12) & TLB_MASK, off = lo & 0xfff, t = c[b + F_D], t2 = c[b + F_M];
              const vpn = hi * 1048576 + (lo >>> 12);
              if (off > 4096 - 2 * size) break slow;
              if (type === LS.STORE) {
                if (wTag[e] !== vpn) break slow;
                const p = wPage[e];
                if (p.code !== null) break slow;
                const v = wView[e];
                if (size === 8) {
                  v.setUint32(off, g[t], true);
                  v.setUint32(off + 4, g[t + 1], true);
                  v.setUint32(off + 8, g[t2], true);
                  v.setUint32(off + 12, g[t2 + 1], true);
                } else {
                  v.setUint32(off, g[t], true);
                  v.setUint32(off + 4, g[t2], true);
                }
              } else {
                if (rTag[e] !== vpn) break slow;
                const v = rView[e];
                let a0: number, a1: number, b0: number, b1: number;
                if (size === 8) {
                  a0 = v.getUint32(off, true);
                  a1 = v.getUint32(off + 4, true);
                  b0 = v.getUint32(off + 8, true);
                  b1 = v.getUint32(off + 12, true);
                } else {
                  a0 = v.getUint32(off, true);
                  b0 = v.getUint32(off + 4, true);
                  a1 = type === LS.SX64 ? a0 >> 31 : 0;
                  b1 = type === LS.SX64 ? b0 >> 31 : 0;
                }
                if (mode !== MODE.OFF) {
                  const wl = g[s] + imm;
                  g[s + 1] = g[s + 1] + (wl > 0xffffffff ? 1 : wl < 0 ? -1 : 0);
                  g[s] = wl;
                }
                g[t] = a0;
                g[t + 1] = a1;
                g[t2] = b0;
                g[t2 + 1] = b1;
                break;
              }
              if (mode !== MODE.OFF) {
                const wl = g[s] + imm;
                g[s + 1] = g[s + 1] + (wl > 0xffffffff ? 1 : wl < 0 ? -1 : 0);
                g[s] = wl;
              }
              break;
            }

            default:
              break slow;
          }
          idx++;
          n++;
          continue inner;
        }
        // Everything else: exec.ts, on the registers and this.nzcv.
        const pcLo = pageLo + (idx << 2);
        this.nzcv = nzcv;
        const r = exec(this, c, b, pcLo, pcHi);
        nzcv = this.nzcv;
        if (r === NEXT) {
          n++;
          if (mmu.codeDirty) {
            // The instruction may have rewritten code of this very page:
            // go on at the next instruction with a fresh decode.
            mmu.codeDirty = false;
            if (page.code === null) {
              this.jump(pageLo, pcHi, (idx << 2) + 4);
              continue outer;
            }
          }
          idx++;
          continue;
        }
        if (r === JUMP) {
          // eret: the instruction set pc itself.
          n++;
          if ((this.cpsrLo & PSTATE_IL) !== 0) {
            // An illegal return (or SPSR.IL): the next instruction cannot run.
            this.detail = 0;
            return this.stop(EXIT.UNDEFINED_INSTRUCTION, n, nzcv);
          }
          continue outer;
        }
        if (r === EXIT.SYSCALL || r === EXIT.HYPERCALL || r === EXIT.HALT) {
          // Completed: pc moves past the instruction.
          n++;
          this.jump(pageLo, pcHi, (idx << 2) + 4);
        } else {
          g[PC] = pcLo;
          g[PC + 1] = pcHi;
        }
        return this.stop(r as ExitReason, n, nzcv);
      }
    }
  }
}
