// The arm64 architecture: register storage and the write rules Zircon
// applies to thread state (the rules are summarised in README.md, "Which Zircon").
//
// /v1/zx follows the 2022-2023 kernel; /v1/mx follows Magenta of mid-2017,
// which only had the 272-byte general register set.

import { ERR, ZX_OK, type ZxStatus } from "../../kernel/status.ts";
import { Arm64Core } from "./cpu/core.ts";
import type { AddressSpace, Core, CoreMode } from "../cpu.ts";
import { ARM64_TRAP_FILL, arm64VdsoStub } from "./vdso.ts";
import { arm64ExceptionContext } from "./exception_context.ts";
import { arm64VcpuArch } from "./vcpu/guest_cpu.ts";
import type { Abi, Arch, ThreadRegisters, WriteContext } from "../arch.ts";
import { getU32, setU32, ZX_THREAD_STATE } from "../layout.ts";
import {
  ARM64_DEBUG_REGS,
  ARM64_GENERAL_REGS,
  ARM64_GENERAL_REGS_MX,
  ARM64_REGSETS,
  ARM64_VECTOR_REGS,
} from "./regsets.ts";

// ---------------------------------------------------------------------------
// Architectural constants

/** The only PSTATE bits user code can see or change: N Z C V (31..28). */
export const ARM64_USER_VISIBLE_FLAGS = 0xf0000000;

/**
 * Hardware breakpoint / watchpoint counts zxsim's CPU reports, those of a
 * typical Cortex-A53 (ID_AA64DFR0_EL1.BRPs = 5, WRPs = 3).
 */
export const ARM64_HW_BREAKPOINT_COUNT = 6;
export const ARM64_HW_WATCHPOINT_COUNT = 4;

/** DBGBCR/DBGWCR enable bit. */
export const ARM64_DBG_E = 0x1;
/**
 * What an enabled breakpoint's DBGBCR becomes: E, PMC = 0b10 (EL0 only,
 * bits 1-2), BAS = 0xf (bits 5-8). Every other bit the caller sent is dropped.
 */
export const ARM64_DBGBCR_ACTIVE = 0x1e5;
/** DBGWCR bits kept from the caller when enabled: E, LSC (3-4), BAS (5-12). */
export const ARM64_DBGWCR_USER_MASK = 0x1ff9;
/** DBGWCR bits forced on when enabled: PAC = 0b10 (EL0, bits 1-2), SSC = 0b01 (bits 14-15). */
export const ARM64_DBGWCR_FORCED = 0x4004;
/** DBGBVR/DBGWVR keep bits 2..47: word aligned, user range. */
export const ARM64_DBG_ADDR_MASK = 0xffff_ffff_fffcn;

/** Lowest kernel address (KERNEL_ASPACE_BASE); the kernel half spans 2^48 bytes up to 2^64. */
export const ARM64_KERNEL_ASPACE_BASE = 0xffff_0000_0000_0000n;

/** [USER_ASPACE_BASE, USER_ASPACE_BASE + USER_ASPACE_SIZE) of a process. */
export const ARM64_USER_ASPACE = { base: 0x200000n, end: 0xffff_ff00_0000n } as const;

/**
 * arch_is_valid_user_pc, as in the 2023 kernel: 0 is allowed (a thread that
 * faults at once); otherwise bit 55 must be clear (with top-byte-ignore
 * that bit selects the kernel's TTBR1 half) and the address must not be a
 * kernel address. So 1<<55 and 0xffffff8000000000 are refused while
 * 1<<47 is accepted; the top byte (a tag) is not looked at otherwise.
 */
export function arm64IsValidUserPc(pc: bigint): boolean {
  const p = BigInt.asUintN(64, pc);
  if (p === 0n) return true;
  return (p & (1n << 55n)) === 0n && p < ARM64_KERNEL_ASPACE_BASE;
}

// ---------------------------------------------------------------------------
// Offsets, derived from the layouts

const GEN_SIZE = ARM64_GENERAL_REGS.size;
const MX_GEN_SIZE = ARM64_GENERAL_REGS_MX.size;
const X0 = ARM64_GENERAL_REGS.offsetOf("r[0]");
const X1 = ARM64_GENERAL_REGS.offsetOf("r[1]");
const X16 = ARM64_GENERAL_REGS.offsetOf("r[16]");
const SP = ARM64_GENERAL_REGS.offsetOf("sp");
const PC = ARM64_GENERAL_REGS.offsetOf("pc");
const CPSR = ARM64_GENERAL_REGS.offsetOf("cpsr");

const VEC_SIZE = ARM64_VECTOR_REGS.size;

const DBG_SIZE = ARM64_DEBUG_REGS.size;
const BP0 = ARM64_DEBUG_REGS.offsetOf("hw_bps[0].dbgbcr");
const BP_STRIDE = ARM64_DEBUG_REGS.offsetOf("hw_bps[1].dbgbcr") - BP0;
const BVR = ARM64_DEBUG_REGS.offsetOf("hw_bps[0].dbgbvr") - BP0;
const WP0 = ARM64_DEBUG_REGS.offsetOf("hw_wps[0].dbgwcr");
const WP_STRIDE = ARM64_DEBUG_REGS.offsetOf("hw_wps[1].dbgwcr") - WP0;
const WVR = ARM64_DEBUG_REGS.offsetOf("hw_wps[0].dbgwvr") - WP0;
const FAR = ARM64_DEBUG_REGS.offsetOf("far");
const ESR = ARM64_DEBUG_REGS.offsetOf("esr");
const BPS_COUNT = ARM64_DEBUG_REGS.offsetOf("hw_bps_count");
const WPS_COUNT = ARM64_DEBUG_REGS.offsetOf("hw_wps_count");

function isUserAddress(a: bigint): boolean {
  return a >= ARM64_USER_ASPACE.base && a < ARM64_USER_ASPACE.end;
}

/** Leaves only NZCV in the u64 cpsr slot at `off` of `b`. */
function maskCpsr(b: Uint8Array, off: number): void {
  b[off] = 0;
  b[off + 1] = 0;
  b[off + 2] = 0;
  b[off + 3] &= ARM64_USER_VISIBLE_FLAGS >>> 24;
  b.fill(0, off + 4, off + 8);
}

// ---------------------------------------------------------------------------

/** Register state of one arm64 thread. */
export class Arm64Registers implements ThreadRegisters {
  rejection = "";
  // General registers in the zx layout, except that the cpsr slot holds the
  // whole saved SPSR; reads show only its NZCV bits.
  private readonly gen: Uint8Array;
  private readonly genView: DataView;
  /**
   * The general registers as 32-bit halves (x[i] is gpr[2i] low, gpr[2i+1]
   * high; then lr, sp, pc, cpsr, tpidr): the very storage the interpreter
   * core computes on. The cpsr slot holds the whole SPSR.
   */
  readonly gpr: Uint32Array;
  /** The vector regset (fpcr, fpsr, v[32]): the core computes on it directly. */
  readonly vec: Uint8Array;
  /**
   * Breakpoints/watchpoints as accepted (normalised); far, esr and the
   * counts are not stored here but filled in on read. The interpreter core
   * reads the enabled ones at the start of every run.
   */
  readonly dbg: Uint8Array;
  private readonly dbgView: DataView;
  /** Single-step request (MDSCR_EL1.SS together with SPSR.SS). */
  private singleStep = false;
  /**
   * FAR_EL1 / ESR_EL1 of the thread's last exception, as Zircon keeps them in
   * its debug state (arch_install_exception_context): the core writes them
   * on a debug exception (EXIT.HW_BREAKPOINT); none yet.
   */
  far = 0n;
  esr = 0;

  /** Whether single-stepping is requested (what ZX_THREAD_STATE_SINGLE_STEP reads). */
  get singleStepping(): boolean {
    return this.singleStep;
  }

  constructor() {
    const buf = new ArrayBuffer(GEN_SIZE + VEC_SIZE + DBG_SIZE);
    this.gen = new Uint8Array(buf, 0, GEN_SIZE);
    this.gpr = new Uint32Array(buf, 0, GEN_SIZE / 4);
    this.vec = new Uint8Array(buf, GEN_SIZE, VEC_SIZE);
    this.dbg = new Uint8Array(buf, GEN_SIZE + VEC_SIZE, DBG_SIZE);
    this.genView = new DataView(buf, 0, GEN_SIZE);
    this.dbgView = new DataView(buf, GEN_SIZE + VEC_SIZE, DBG_SIZE);
  }

  setStart(entry: bigint, stack: bigint, arg1: bigint, arg2: bigint): void {
    this.gen.fill(0); // also spsr = 0 and tpidr = 0
    const v = this.genView;
    v.setBigUint64(PC, BigInt.asUintN(64, entry), true);
    v.setBigUint64(SP, BigInt.asUintN(64, stack), true);
    v.setBigUint64(X0, BigInt.asUintN(64, arg1), true);
    v.setBigUint64(X1, BigInt.asUintN(64, arg2), true);
    this.singleStep = false;
  }

  /** Arguments in x0-x7, as the arm64 Zircon syscall convention passes them. */
  setSyscallArgs(args: readonly bigint[]): void {
    const v = this.genView;
    args.forEach((arg, i) => v.setBigUint64(X0 + 8 * i, BigInt.asUintN(64, arg), true));
  }

  /** Nothing shows that an arm64 thread has run: cpsr keeps what it had. */
  noteUserExecution(): void {}

  pc(): bigint {
    return this.genView.getBigUint64(PC, true);
  }

  /** svc #0 takes the syscall number from x16. */
  syscallNumber(): bigint {
    return this.genView.getBigUint64(X16, true);
  }

  syscallArg(i: number): bigint {
    return this.genView.getBigUint64(X0 + 8 * i, true);
  }

  syscallResult(): number {
    return this.genView.getInt32(X0, true);
  }

  /** x0 = the status, sign-extended as the 64-bit register holds it. */
  setReturnValue(value: bigint): void {
    this.genView.setBigUint64(X0, BigInt.asUintN(64, value), true);
  }

  setSyscallResult(status: number): void {
    this.genView.setBigInt64(X0, BigInt(status), true);
  }

  read(abi: Abi, kind: number, out: Uint8Array): ZxStatus {
    const layout = ARM64_REGSETS[abi].get(kind);
    if (layout === undefined) return ERR.INVALID_ARGS;
    if (out.length < layout.size) return ERR.BUFFER_TOO_SMALL;
    if (abi === "mx") {
      out.set(this.gen.subarray(0, MX_GEN_SIZE));
      maskCpsr(out, CPSR);
      return ZX_OK;
    }
    switch (kind) {
      case ZX_THREAD_STATE.GENERAL_REGS:
        out.set(this.gen);
        maskCpsr(out, CPSR);
        return ZX_OK;
      case ZX_THREAD_STATE.FP_REGS:
        return ERR.NOT_SUPPORTED; // FP lives in the vector registers on arm64
      case ZX_THREAD_STATE.VECTOR_REGS:
        out.set(this.vec);
        return ZX_OK;
      case ZX_THREAD_STATE.DEBUG_REGS: {
        out.set(this.dbg);
        const v = new DataView(out.buffer, out.byteOffset, DBG_SIZE);
        v.setBigUint64(FAR, this.far, true);
        v.setUint32(ESR, this.esr, true);
        v.setUint8(BPS_COUNT, ARM64_HW_BREAKPOINT_COUNT);
        v.setUint8(WPS_COUNT, ARM64_HW_WATCHPOINT_COUNT);
        return ZX_OK;
      }
      default: // SINGLE_STEP
        setU32(out, 0, this.singleStep ? 1 : 0);
        return ZX_OK;
    }
  }

  write(abi: Abi, kind: number, input: Uint8Array, _ctx: WriteContext): ZxStatus {
    if (abi === "zx") {
      switch (kind) {
        case ZX_THREAD_STATE.GENERAL_REGS:
          return this.writeGeneral(input, GEN_SIZE);
        case ZX_THREAD_STATE.FP_REGS:
          return ERR.NOT_SUPPORTED;
        case ZX_THREAD_STATE.VECTOR_REGS:
          if (input.length < VEC_SIZE) return ERR.BUFFER_TOO_SMALL;
          this.vec.set(input.subarray(0, VEC_SIZE)); // no checks
          return ZX_OK;
        case ZX_THREAD_STATE.DEBUG_REGS:
          return this.writeDebug(input);
        case ZX_THREAD_STATE.SINGLE_STEP: {
          if (input.length < 4) return ERR.BUFFER_TOO_SMALL;
          const step = getU32(input, 0);
          if (step > 1) {
            this.rejection = `single step must be 0 or 1, not ${step}`;
            return ERR.INVALID_ARGS;
          }
          this.singleStep = step === 1;
          return ZX_OK;
        }
        default:
          return ERR.INVALID_ARGS;
      }
    }
    if (kind !== 0) return ERR.INVALID_ARGS;
    // Magenta: the same rules on 272 bytes; tpidr (beyond them) is untouched.
    return this.writeGeneral(input, MX_GEN_SIZE);
  }

  /**
   * x0-x29, lr, sp, pc (and tpidr when size covers it) verbatim -- the
   * kernel validates none of them; of cpsr only NZCV reaches the SPSR.
   */
  private writeGeneral(input: Uint8Array, size: number): ZxStatus {
    if (input.length < size) return ERR.BUFFER_TOO_SMALL;
    const v = this.genView;
    const oldLo = v.getUint32(CPSR, true);
    const oldHi = v.getUint32(CPSR + 4, true);
    this.gen.set(input.length === size ? input : input.subarray(0, size));
    const newLo = v.getUint32(CPSR, true);
    v.setUint32(
      CPSR,
      (oldLo & ~ARM64_USER_VISIBLE_FLAGS) | (newLo & ARM64_USER_VISIBLE_FLAGS),
      true,
    );
    v.setUint32(CPSR + 4, oldHi, true);
    return ZX_OK;
  }

  /**
   * Only the first COUNT breakpoints / watchpoints are looked at; their
   * addresses must be 0 or user addresses. Accepted entries are normalised
   * (see the ARM64_DBG* constants); the rest of the struct is ignored.
   */
  private rejectAddress(field: string, address: bigint): ZxStatus {
    const { base, end } = ARM64_USER_ASPACE;
    this.rejection = `${field} 0x${address.toString(16)} is neither 0 nor a user address ` +
      `(0x${base.toString(16)} up to, not including, 0x${end.toString(16)})`;
    return ERR.INVALID_ARGS;
  }

  private writeDebug(input: Uint8Array): ZxStatus {
    if (input.length < DBG_SIZE) return ERR.BUFFER_TOO_SMALL;
    const inView = new DataView(input.buffer, input.byteOffset, DBG_SIZE);
    for (let i = 0; i < ARM64_HW_BREAKPOINT_COUNT; i++) {
      const a = inView.getBigUint64(BP0 + i * BP_STRIDE + BVR, true);
      if (a !== 0n && !isUserAddress(a)) return this.rejectAddress(`hw_bps[${i}].dbgbvr`, a);
    }
    for (let i = 0; i < ARM64_HW_WATCHPOINT_COUNT; i++) {
      const a = inView.getBigUint64(WP0 + i * WP_STRIDE + WVR, true);
      if (a !== 0n && !isUserAddress(a)) return this.rejectAddress(`hw_wps[${i}].dbgwvr`, a);
    }
    this.dbg.fill(0);
    const v = this.dbgView;
    for (let i = 0; i < ARM64_HW_BREAKPOINT_COUNT; i++) {
      const at = BP0 + i * BP_STRIDE;
      const bcr = inView.getUint32(at, true);
      v.setUint32(at, (bcr & ARM64_DBG_E) !== 0 ? ARM64_DBGBCR_ACTIVE : 0, true);
      v.setBigUint64(at + BVR, inView.getBigUint64(at + BVR, true) & ARM64_DBG_ADDR_MASK, true);
    }
    for (let i = 0; i < ARM64_HW_WATCHPOINT_COUNT; i++) {
      const at = WP0 + i * WP_STRIDE;
      const wcr = inView.getUint32(at, true);
      // Zircon rewrites only enabled watchpoints; a disabled one keeps the
      // control word as given (unlike breakpoints, which are zeroed).
      v.setUint32(
        at,
        (wcr & ARM64_DBG_E) !== 0 ? (wcr & ARM64_DBGWCR_USER_MASK) | ARM64_DBGWCR_FORCED : wcr,
        true,
      );
      v.setBigUint64(at + WVR, inView.getBigUint64(at + WVR, true) & ARM64_DBG_ADDR_MASK, true);
    }
    return ZX_OK;
  }
}

export const arm64: Arch = Object.freeze({
  exceptionContext: arm64ExceptionContext,
  vdsoStub: arm64VdsoStub,
  trapFill: ARM64_TRAP_FILL,
  syscallInstructionSize: 4,
  name: "arm64",
  regsets: ARM64_REGSETS,
  userAspace: ARM64_USER_ASPACE,
  isValidUserPc: arm64IsValidUserPc,
  newRegisters: (): ThreadRegisters => new Arm64Registers(),
  createCore: (registers: ThreadRegisters, memory: AddressSpace, mode: CoreMode): Core =>
    new Arm64Core(registers as Arm64Registers, memory, mode),
  vcpu: arm64VcpuArch(() => new Arm64Registers()),
});
