// The x86-64 architecture: register storage and the write rules Zircon
// applies to thread state (the rules are summarised in README.md, "Which Zircon").
//
// /v1/zx follows the 2022-2023 kernel; /v1/mx follows Magenta of mid-2017,
// which only had the 144-byte general register set.

import { ERR, ZX_OK, type ZxStatus } from "../../kernel/status.ts";
import { X64_TRAP_FILL, x64VdsoStub } from "./vdso.ts";
import { x64ExceptionContext, x64ExceptionHandled } from "./exception_context.ts";
import { createX64Core } from "./cpu/core.ts";
import { X86_FLAGS_ALWAYS_ONE, X86_FLAGS_USER } from "./cpu/flags.ts";
import { x64Vcpu } from "./vcpu/guest_cpu.ts";
import type { Abi, Arch, ThreadRegisters, WriteContext } from "../arch.ts";
import { getU32, setU32, ZX_THREAD_STATE } from "../layout.ts";
import {
  X64_DEBUG_REGS,
  X64_FP_REGS,
  X64_GENERAL_REGS,
  X64_GENERAL_REGS_MX,
  X64_REGSETS,
  X64_VECTOR_REGS,
} from "./regsets.ts";

// ---------------------------------------------------------------------------
// Architectural constants

// X86_FLAGS_USER (what a debugger may change; the rest keeps its value on
// write, silently) and X86_FLAGS_ALWAYS_ONE live with the core's flags.
export { X86_FLAGS_ALWAYS_ONE, X86_FLAGS_USER };
/** Trap flag: the single-step bit. */
export const X86_FLAGS_TF = 0x100;
/** Interrupt enable: the only flag set in a freshly started thread. */
export const X86_FLAGS_IF = 0x200;

/**
 * What DR6 holds when no debug event is pending: the CPU reads its reserved
 * bits (4-11, 16-31) back as ones. A write of the debug registers leaves
 * DR6 alone apart from making those bits show, since the state makes a round
 * trip through the real register.
 */
export const X86_DR6_RESET = 0xffff0ff0;
/** DR7 bits the kernel always sets: LE, GE and reserved bit 10. */
export const X86_DR7_FIXED = 0x700;
/** DR7 bits a debugger may set: L0-3/G0-3 (0-7) and R/W, LEN (16-31). */
export const X86_DR7_USER_MASK = 0xffff00ff;

/**
 * MXCSR bits that may be set: the default MXCSR_MASK the kernel assumes
 * when the CPU reports none (all but DAZ and the reserved upper half).
 */
export const X86_MXCSR_MASK = 0xffbf;

/**
 * Initial x87 control word and MXCSR of a new thread. The kernel seeds a
 * thread's extended state from the processor's init values: FNINIT leaves
 * FCW = 0x037f (all x87 exceptions masked, 64-bit precision, round to
 * nearest) and reset leaves MXCSR = 0x1f80 (all SIMD exceptions masked).
 * The other FP and vector registers start at zero.
 */
export const X86_FCW_INIT = 0x037f;
export const X86_MXCSR_INIT = 0x1f80;

/** [USER_ASPACE_BASE, USER_ASPACE_BASE + USER_ASPACE_SIZE) of a process. */
export const X64_USER_ASPACE = { base: 0x200000n, end: (1n << 47n) - 4096n } as const;

/**
 * arch_is_valid_user_pc: 0 (a thread that will fault at once, used by
 * tests) or any address in the lower canonical half, i.e. bits 47-63 all
 * clear. The kernel half and non-canonical values are refused.
 */
export function x64IsValidUserPc(pc: bigint): boolean {
  return BigInt.asUintN(64, pc) < 1n << 47n;
}

// ---------------------------------------------------------------------------
// Offsets, derived from the layouts

const GEN_SIZE = X64_GENERAL_REGS.size;
const MX_GEN_SIZE = X64_GENERAL_REGS_MX.size;
const RIP = X64_GENERAL_REGS.offsetOf("rip");
const RAX = X64_GENERAL_REGS.offsetOf("rax");
/** Where the x86-64 Zircon syscall convention passes arguments 1-8 (the vDSO moves 7-8). */
const SYSCALL_ARGS = ["rdi", "rsi", "rdx", "r10", "r8", "r9", "r12", "r13"].map((r) =>
  X64_GENERAL_REGS.offsetOf(r)
);
const RSP = X64_GENERAL_REGS.offsetOf("rsp");
const RDI = X64_GENERAL_REGS.offsetOf("rdi");
const RSI = X64_GENERAL_REGS.offsetOf("rsi");
const RFLAGS = X64_GENERAL_REGS.offsetOf("rflags");
const FS_BASE = X64_GENERAL_REGS.offsetOf("fs_base");
const GS_BASE = X64_GENERAL_REGS.offsetOf("gs_base");

const FP_SIZE = X64_FP_REGS.size;
const FCW = X64_FP_REGS.offsetOf("fcw");
const FP_RESERVED = X64_FP_REGS.offsetOf("reserved");

const VEC_SIZE = X64_VECTOR_REGS.size;
const MXCSR = X64_VECTOR_REGS.offsetOf("mxcsr");
const ZMM_STRIDE = X64_VECTOR_REGS.offsetOf("zmm[1].v[0]");
/** Registers kept: xmm/ymm 0-15 (an AVX machine without AVX-512). */
const VEC_REGS_KEPT = 16;
/** Bytes kept per register: lanes v[0..3], the 256-bit YMM. */
const VEC_BYTES_KEPT = X64_VECTOR_REGS.offsetOf("zmm[0].v[4]");

const DBG_SIZE = X64_DEBUG_REGS.size;
const DR0 = X64_DEBUG_REGS.offsetOf("dr[0]");
const DR6 = X64_DEBUG_REGS.offsetOf("dr6");
const DR7 = X64_DEBUG_REGS.offsetOf("dr7");

/** The top 17 bits (47..63) of the u64 at `off`; 0 or 0x1ffff when canonical. */
function top17(b: Uint8Array, off: number): number {
  return getU32(b, off + 4) >>> 15;
}

/** What "canonical" allows, for messages: bits 47-63 all clear or all set. */
const CANONICAL_RANGES = "0 to 0x7fffffffffff or 0xffff800000000000 to 0xffffffffffffffff";

function isCanonicalAt(b: Uint8Array, off: number): boolean {
  const t = top17(b, off);
  return t === 0 || t === 0x1ffff;
}

/** A copy source of exactly `size` bytes (no new view when none is needed). */
function head(input: Uint8Array, size: number): Uint8Array {
  return input.length === size ? input : input.subarray(0, size);
}

// ---------------------------------------------------------------------------

/** Register state of one x86-64 thread. */
export class X64Registers implements ThreadRegisters {
  rejection = "";
  // General registers as the zx layout; rflags is the full value.
  private readonly gen: Uint8Array;
  private readonly genView: DataView;
  // FP regs in the zx layout; `reserved` and padding stay zero.
  private readonly fp: Uint8Array;
  /**
   * Vector regs in the zx layout; only zmm0-15 v[0..3] and mxcsr ever
   * non-zero. The core computes on the xmm part of it directly.
   */
  readonly vec: Uint8Array;
  /**
   * dr0-3, dr6, dr7 in the zx layout. The interpreter core reads dr0-3 and
   * dr7 at the start of every run and sets dr6's status bits on a debug
   * exception (single step, breakpoint, watchpoint).
   */
  readonly dbg: Uint8Array;
  /**
   * The general registers as 32-bit halves (register i of the zx layout is
   * gpr[2i] low, gpr[2i+1] high): the very storage the interpreter core
   * computes on, so reads and writes of thread state see what it sees.
   */
  readonly gpr: Uint32Array;
  private readonly dbgView: DataView;

  constructor() {
    const buf = new ArrayBuffer(GEN_SIZE + FP_SIZE + VEC_SIZE + DBG_SIZE);
    let at = 0;
    const region = (size: number) => {
      const r = new Uint8Array(buf, at, size);
      at += size;
      return r;
    };
    this.gen = region(GEN_SIZE);
    this.gpr = new Uint32Array(buf, 0, GEN_SIZE / 4);
    this.fp = region(FP_SIZE);
    this.vec = region(VEC_SIZE);
    this.dbg = region(DBG_SIZE);
    this.genView = new DataView(buf, this.gen.byteOffset, GEN_SIZE);
    this.dbgView = new DataView(buf, this.dbg.byteOffset, DBG_SIZE);
    this.fp[FCW] = X86_FCW_INIT & 0xff;
    this.fp[FCW + 1] = X86_FCW_INIT >>> 8;
    setU32(this.vec, MXCSR, X86_MXCSR_INIT);
  }

  setStart(entry: bigint, stack: bigint, arg1: bigint, arg2: bigint): void {
    this.gen.fill(0);
    const v = this.genView;
    v.setBigUint64(RIP, BigInt.asUintN(64, entry), true);
    v.setBigUint64(RSP, BigInt.asUintN(64, stack), true);
    v.setBigUint64(RDI, BigInt.asUintN(64, arg1), true);
    v.setBigUint64(RSI, BigInt.asUintN(64, arg2), true);
    v.setUint32(RFLAGS, X86_FLAGS_IF, true);
  }

  /**
   * The thread has executed user code: the saved rflags now shows what the
   * CPU keeps set in user mode, the always-one bit 1 and IF. A thread that
   * has only been started reads 0x200; once it has run, a write of
   * 0x244ed7 reads back unchanged. The interpreter core will call this.
   */
  noteUserExecution(): void {
    const v = this.genView;
    v.setUint32(RFLAGS, v.getUint32(RFLAGS, true) | X86_FLAGS_ALWAYS_ONE | X86_FLAGS_IF, true);
  }

  setSyscallArgs(args: readonly bigint[]): void {
    const v = this.genView;
    args.forEach((arg, i) => v.setBigUint64(SYSCALL_ARGS[i], BigInt.asUintN(64, arg), true));
  }

  pc(): bigint {
    return this.genView.getBigUint64(RIP, true);
  }

  syscallNumber(): bigint {
    return this.genView.getBigUint64(RAX, true);
  }

  syscallArg(i: number): bigint {
    return this.genView.getBigUint64(SYSCALL_ARGS[i], true);
  }

  syscallResult(): number {
    return this.genView.getInt32(RAX, true);
  }

  /** rax = the status, sign-extended as the 64-bit register holds it. */
  setReturnValue(value: bigint): void {
    this.genView.setBigUint64(RAX, BigInt.asUintN(64, value), true);
  }

  setSyscallResult(status: number): void {
    this.genView.setBigInt64(RAX, BigInt(status), true);
  }

  read(abi: Abi, kind: number, out: Uint8Array): ZxStatus {
    const layout = X64_REGSETS[abi].get(kind);
    if (layout === undefined) return ERR.INVALID_ARGS;
    if (out.length < layout.size) return ERR.BUFFER_TOO_SMALL;
    if (abi === "mx") {
      out.set(this.gen.subarray(0, MX_GEN_SIZE));
      return ZX_OK;
    }
    switch (kind) {
      case ZX_THREAD_STATE.GENERAL_REGS:
        out.set(this.gen);
        return ZX_OK;
      case ZX_THREAD_STATE.FP_REGS:
        out.set(this.fp);
        return ZX_OK;
      case ZX_THREAD_STATE.VECTOR_REGS:
        out.set(this.vec);
        return ZX_OK;
      case ZX_THREAD_STATE.DEBUG_REGS:
        out.set(this.dbg);
        return ZX_OK;
      default: // SINGLE_STEP: the trap flag
        setU32(out, 0, (this.genView.getUint32(RFLAGS, true) & X86_FLAGS_TF) === 0 ? 0 : 1);
        return ZX_OK;
    }
  }

  write(abi: Abi, kind: number, input: Uint8Array, ctx: WriteContext): ZxStatus {
    if (abi === "zx") {
      switch (kind) {
        case ZX_THREAD_STATE.GENERAL_REGS:
          return this.writeGeneral(input);
        case ZX_THREAD_STATE.FP_REGS:
          return this.writeFp(input);
        case ZX_THREAD_STATE.VECTOR_REGS:
          return this.writeVector(input);
        case ZX_THREAD_STATE.DEBUG_REGS:
          return this.writeDebug(input);
        case ZX_THREAD_STATE.SINGLE_STEP:
          return this.writeSingleStep(input);
        default:
          return ERR.INVALID_ARGS;
      }
    }
    if (kind !== 0) return ERR.INVALID_ARGS;
    return this.writeGeneralMx(input, ctx);
  }

  /** Records why a u64 register at `offset` of `input` was refused. */
  private reject(why: string, input: Uint8Array, offset: number): ZxStatus {
    const value = new DataView(input.buffer, input.byteOffset + offset, 8).getBigUint64(0, true);
    this.rejection = `${why}: 0x${value.toString(16).padStart(16, "0")}`;
    return ERR.INVALID_ARGS;
  }

  /** Copies the GPRs with rflags limited to the user bits. Hot path: no allocation. */
  private writeGeneral(input: Uint8Array): ZxStatus {
    if (input.length < GEN_SIZE) return ERR.BUFFER_TOO_SMALL;
    // The kernel would fault loading a non-canonical segment base.
    if (!isCanonicalAt(input, FS_BASE)) {
      return this.reject(`fs_base is not canonical (${CANONICAL_RANGES})`, input, FS_BASE);
    }
    if (!isCanonicalAt(input, GS_BASE)) {
      return this.reject(`gs_base is not canonical (${CANONICAL_RANGES})`, input, GS_BASE);
    }
    // rip must be a lower-half address (this also rules out non-canonical ones).
    if (top17(input, RIP) !== 0) {
      return this.reject(
        "rip is not a canonical user address (below 1<<47: 0 to 0x7fffffffffff)",
        input,
        RIP,
      );
    }
    this.copyWithUserFlags(head(input, GEN_SIZE));
    return ZX_OK;
  }

  /**
   * Magenta: 18 registers, fs/gs untouched. Its only rip check guarded the
   * SYSRET return of a thread stopped inside a syscall.
   */
  private writeGeneralMx(input: Uint8Array, ctx: WriteContext): ZxStatus {
    if (input.length < MX_GEN_SIZE) return ERR.BUFFER_TOO_SMALL;
    if (ctx.stoppedInSyscall && top17(input, RIP) !== 0) {
      return this.reject(
        "rip >= 1<<47 cannot be returned to from a syscall (SYSRET; 0 to 0x7fffffffffff)",
        input,
        RIP,
      );
    }
    this.copyWithUserFlags(input.subarray(0, MX_GEN_SIZE));
    return ZX_OK;
  }

  /** gen[0..src.length) = src, except rflags = (old & ~USER) | (new & USER). */
  private copyWithUserFlags(src: Uint8Array): void {
    const v = this.genView;
    const oldLo = v.getUint32(RFLAGS, true);
    const oldHi = v.getUint32(RFLAGS + 4, true);
    this.gen.set(src);
    const newLo = v.getUint32(RFLAGS, true);
    v.setUint32(RFLAGS, (oldLo & ~X86_FLAGS_USER) | (newLo & X86_FLAGS_USER), true);
    v.setUint32(RFLAGS + 4, oldHi, true); // no user bits up there
  }

  /** No checks. The reserved byte and the padding are not state: they read 0. */
  private writeFp(input: Uint8Array): ZxStatus {
    if (input.length < FP_SIZE) return ERR.BUFFER_TOO_SMALL;
    this.fp.set(head(input, FP_SIZE));
    this.fp[FP_RESERVED] = 0;
    for (const p of X64_FP_REGS.paddings) this.fp.fill(0, p.offset, p.offset + p.size);
    return ZX_OK;
  }

  /** mxcsr checked first; then only xmm/ymm 0-15 and mxcsr are taken. */
  private writeVector(input: Uint8Array): ZxStatus {
    if (input.length < VEC_SIZE) return ERR.BUFFER_TOO_SMALL;
    const mxcsr = getU32(input, MXCSR);
    if ((mxcsr & ~X86_MXCSR_MASK) !== 0) {
      this.rejection = `mxcsr 0x${mxcsr.toString(16)} sets bits outside 0x${
        X86_MXCSR_MASK.toString(16)
      }`;
      return ERR.INVALID_ARGS;
    }
    for (let i = 0; i < VEC_REGS_KEPT; i++) {
      const at = i * ZMM_STRIDE;
      this.vec.set(input.subarray(at, at + VEC_BYTES_KEPT), at);
    }
    setU32(this.vec, MXCSR, mxcsr);
    return ZX_OK;
  }

  /** dr0-3: 0 or a user address; dr6 not writable; dr7 forced through its mask. */
  private writeDebug(input: Uint8Array): ZxStatus {
    if (input.length < DBG_SIZE) return ERR.BUFFER_TOO_SMALL;
    const inView = new DataView(input.buffer, input.byteOffset, DBG_SIZE);
    const { base, end } = X64_USER_ASPACE;
    const dr: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const a = inView.getBigUint64(DR0 + 8 * i, true);
      if (a !== 0n && (a < base || a >= end)) {
        this.rejection = `dr[${i}] 0x${a.toString(16)} is neither 0 nor a user address ` +
          `(0x${base.toString(16)} up to, not including, 0x${end.toString(16)})`;
        return ERR.INVALID_ARGS;
      }
      dr.push(a);
    }
    const v = this.dbgView;
    dr.forEach((a, i) => v.setBigUint64(DR0 + 8 * i, a, true));
    v.setUint32(DR6, v.getUint32(DR6, true) | X86_DR6_RESET, true);
    // The user mask has no bits above 31, so the high word is always 0.
    v.setUint32(DR7, X86_DR7_FIXED | (inView.getUint32(DR7, true) & X86_DR7_USER_MASK), true);
    v.setUint32(DR7 + 4, 0, true);
    return ZX_OK;
  }

  /** 0 or 1: clears or sets TF in rflags. */
  private writeSingleStep(input: Uint8Array): ZxStatus {
    if (input.length < 4) return ERR.BUFFER_TOO_SMALL;
    const step = getU32(input, 0);
    if (step > 1) {
      this.rejection = `single step must be 0 or 1, not ${step}`;
      return ERR.INVALID_ARGS;
    }
    const v = this.genView;
    const lo = v.getUint32(RFLAGS, true);
    v.setUint32(RFLAGS, step === 1 ? lo | X86_FLAGS_TF : lo & ~X86_FLAGS_TF, true);
    return ZX_OK;
  }
}

export const x64: Arch = Object.freeze({
  exceptionContext: x64ExceptionContext,
  exceptionHandled: x64ExceptionHandled,
  vdsoStub: x64VdsoStub,
  trapFill: X64_TRAP_FILL,
  syscallInstructionSize: 2,
  name: "x64",
  regsets: X64_REGSETS,
  userAspace: X64_USER_ASPACE,
  isValidUserPc: x64IsValidUserPc,
  newRegisters: (): ThreadRegisters => new X64Registers(),
  createCore: createX64Core,
  vcpu: x64Vcpu,
});
