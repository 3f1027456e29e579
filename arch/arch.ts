// The one interface every architecture implements. kernel/ talks to an
// architecture only through this file; adding riscv64 means a new folder
// under arch/ that exports an `Arch` and one line in arch/registry.ts.

import type { ZxStatus } from "../kernel/status.ts";
import type { AddressSpace, Core, CoreMode, ExitReason } from "./cpu.ts";
import type { StructLayout } from "./layout.ts";
import type { VcpuArch } from "./vcpu.ts";

export type ArchName = "x64" | "arm64";

/** Which syscall ABI a regset belongs to: modern Zircon or Magenta (mid-2017). */
export type Abi = "zx" | "mx";

/** Facts about how the thread was stopped that change the write rules. */
export interface WriteContext {
  /** Stopped inside a syscall (Magenta refused a non-canonical rip there: SYSRET). */
  readonly stoppedInSyscall: boolean;
}

/**
 * The register state of one thread, owned by the thread object. Storage and
 * any hidden state (full spsr, TF, DR6 status, ...) live behind this.
 */
export interface ThreadRegisters {
  /** The registers of a thread about to run its first instruction. */
  setStart(entry: bigint, stack: bigint, arg1: bigint, arg2: bigint): void;
  /**
   * Copies regset `kind` of `abi` into `out` (exactly the layout's size).
   * Returns NOT_SUPPORTED where the architecture has no such state.
   * Callers have already checked the kind, the size and the thread state.
   */
  read(abi: Abi, kind: number, out: Uint8Array): ZxStatus;
  /**
   * Validates `input` (at least the layout's size; extra bytes ignored) and,
   * only if every check passes, applies it. A failed write changes nothing.
   */
  write(abi: Abi, kind: number, input: Uint8Array, ctx: WriteContext): ZxStatus;
  /**
   * A syscall is being made: its arguments are where the architecture's
   * syscall convention puts them (x64 rdi, rsi, rdx, r10, r8, r9; arm64
   * x0-x7), as a debugger sees them while the thread is stopped in it.
   */
  setSyscallArgs(args: readonly bigint[]): void;
  /**
   * The thread is about to run user code for the first time (x64: rflags
   * then shows the always-one bit 1 and IF, as the CPU keeps them).
   */
  noteUserExecution(): void;
  /** The program counter (x64 rip, arm64 pc). */
  pc(): bigint;
  /** The register a syscall instruction takes its number from (x64 rax, arm64 x16). */
  syscallNumber(): bigint;
  /**
   * Argument `i` (0-7) of a syscall made by code, where Zircon's kernel entry
   * takes it: x64 rdi, rsi, rdx, r10, r8, r9, r12, r13; arm64 x0-x7.
   */
  syscallArg(i: number): bigint;
  /** The syscall return register (x64 rax, arm64 x0) as a zx_status_t. */
  syscallResult(): number;
  setSyscallResult(status: number): void;
  /** A 64-bit return value in rax / x0 (calls that return a value, not a status). */
  setReturnValue(value: bigint): void;
  /** Why the last refused write was refused, in words (for error messages). */
  readonly rejection: string;
}

/** One syscall's entry point in the vDSO. */
export interface VdsoStub {
  readonly code: Uint8Array;
  /** Offset of the syscall instruction in `code`: the only place that syscall may be made from. */
  readonly syscallAt: number;
}

export interface Arch {
  readonly name: ArchName;
  /** kind -> struct layout, per ABI. A kind missing here is INVALID_ARGS. */
  readonly regsets: Readonly<Record<Abi, ReadonlyMap<number, StructLayout>>>;
  /** The user address space [base, end) of a process (USER_ASPACE_BASE/SIZE). */
  readonly userAspace: { readonly base: bigint; readonly end: bigint };
  /** arch_is_valid_user_pc: may zx_thread_start use this entry point? */
  isValidUserPc(pc: bigint): boolean;
  /** Fresh, all-zero register state for a new thread. */
  newRegisters(): ThreadRegisters;
  /**
   * An interpreter core that executes on `registers` (made by this arch's
   * newRegisters) in `memory`: what thread_read_state shows is exactly what
   * the core computes with.
   */
  createCore(registers: ThreadRegisters, memory: AddressSpace, mode: CoreMode): Core;
  /** Code of syscall `number`'s vDSO entry point (`stackArgs`: it has arguments 7-8). */
  vdsoStub(number: number, stackArgs: boolean): VdsoStub;
  /** Fills the vDSO between entry points: an instruction that traps. */
  readonly trapFill: Uint8Array;
  /** Length of the syscall instruction (x64 `syscall` 2, arm64 `svc` 4). */
  readonly syscallInstructionSize: number;
  /**
   * The arch part (24 bytes) of zx_exception_context_t for an exception a
   * core stopped with (x64 vector, err_code, cr2; arm64 esr, far). `present`:
   * a page fault hit a mapped page (a permission fault).
   */
  exceptionContext(
    registers: ThreadRegisters,
    exit: ExitReason,
    core: Core,
    present: boolean,
  ): Uint8Array;
  /**
   * A handler resumed the thread (ZX_EXCEPTION_STATE_HANDLED); `debug`: the
   * exception was ZX_EXCP_HW_BREAKPOINT (x64 then clears DR6's BD, BS, BT).
   */
  exceptionHandled?(registers: ThreadRegisters, debug: boolean): void;
  /** The hypervisor: guest CPUs on this arch's core (arch/vcpu.ts). */
  readonly vcpu: VcpuArch;
}
