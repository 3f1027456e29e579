// The one interface every architecture implements. kernel/ talks to an
// architecture only through this file; adding riscv64 means a new folder
// under arch/ that exports an `Arch` and one line in arch/registry.ts.

import type { ZxStatus } from "../kernel/status.ts";
import type { AddressSpace, Core, CoreMode } from "./cpu.ts";
import type { StructLayout } from "./layout.ts";

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
  /** The syscall return register (x64 rax, arm64 x0) as a zx_status_t. */
  syscallResult(): number;
  setSyscallResult(status: number): void;
  /** Why the last refused write was refused, in words (for error messages). */
  readonly rejection: string;
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
}
