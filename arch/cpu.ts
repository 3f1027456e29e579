// What an interpreter core sees and what it returns. A core knows registers
// and an address space, nothing of the kernel: it runs until its budget is
// spent or something needs the kernel (a syscall, a fault, a breakpoint),
// and says why it stopped. The scheduler turns that into syscalls,
// exceptions and state changes; the hypervisor will run VCPUs on the same
// cores.

import { pageBytes } from "../kernel/vm/page_pool.ts";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/**
 * One committed 4 KiB page of a VMO: the only copy of those bytes. Cores read
 * and write `bytes` directly and keep their decoded instructions in `code`.
 * Every writer (a core's store, vmo_write, process_write_memory, a resize
 * that zeroes the tail) calls `written()` so stale decodes are never run.
 */
export class Page {
  /** A 4 KiB slot of a shared slab (kernel/vm/page_pool.ts), zeroed, freed when the Page is. */
  readonly bytes: Uint8Array = pageBytes(this);
  /** Decoded instructions of this page, private to the core that made them. */
  code: unknown = null;

  written(): void {
    this.code = null;
  }
}

/** The access a core asks a page for (bit values as Zircon's mmu flags). */
export const ACCESS = { READ: 1, WRITE: 2, EXECUTE: 4 } as const;

/**
 * A process's (or a guest's) view of memory, as the core uses it. Addresses
 * are JS numbers: exact below 2^53, which covers every user and guest
 * address; a core turns a wider 64-bit address into a fault itself.
 */
export interface AddressSpace {
  /**
   * The page that holds `va`, if it is mapped with every bit of `access`
   * (ACCESS.*); null when it is not mapped, the mapping lacks the
   * permission, or committing the page failed. Commits on first touch.
   */
  page(va: number, access: number): Page | null;
  /**
   * Changes whenever a translation may have changed (map, unmap, protect,
   * destroy, resize): a core that caches translations drops them when this
   * differs from the value it saw.
   */
  readonly generation: number;
}

/** Why `Core.run` returned. Registers are always complete and current. */
export const EXIT = {
  /** The instruction budget is spent; pc is the next instruction. */
  BUDGET: 0,
  /**
   * x64 `syscall` / arm64 `svc`: pc is the instruction after it (as the
   * hardware leaves rip / ELR_EL1); x64 has also set rcx and r11 as the
   * hardware does. The kernel reads the number and arguments from registers.
   */
  SYSCALL: 1,
  /** A load, store or fetch the address space refused; pc is the instruction. */
  PAGE_FAULT: 2,
  /** An encoding the core does not implement or that is undefined; pc is it. */
  UNDEFINED_INSTRUCTION: 3,
  /**
   * x64 int3 (pc after it, as the #BP trap leaves rip) / arm64 brk (pc at it,
   * as ELR_EL1 points). `Core.detail` holds the brk immediate on arm64.
   */
  SW_BREAKPOINT: 4,
  /**
   * A fault Zircon reports as ZX_EXCP_GENERAL; pc is the instruction. x64 #GP
   * in user mode: hlt, in/out, cli/sti, a privileged instruction or a
   * non-canonical address. arm64: wfi at EL0 (Zircon traps it) and an sp that
   * is not 16-byte aligned used as a base (SCTLR_EL1.SA0).
   */
  GENERAL_PROTECTION: 5,
  /** Guest mode only: hlt / wfi; pc is after the instruction. */
  HALT: 6,
  /** Guest mode only: x64 in/out; pc is at the instruction (see `Core.io`). */
  IO: 7,
  /** Guest mode only: arm64 hvc; pc is after it; `detail` holds the immediate. */
  HYPERCALL: 8,
  /**
   * arm64 misaligned pc, or an unaligned exclusive / atomic access (then
   * faultAddress and faultAccess are set); pc is the instruction.
   */
  ALIGNMENT: 9,
  /** x64 divide error (#DE); pc is the instruction. */
  DIVIDE_ERROR: 10,
  /**
   * A single step completed, an instruction breakpoint hit or a data
   * watchpoint hit (Zircon reports all three as ZX_EXCP_HW_BREAKPOINT).
   * `detail`: 0 single step, 1 breakpoint, 2 watchpoint (then faultAddress and
   * faultAccess are the data access: its first watched byte, READ or WRITE).
   * Single step: pc is the next instruction (x64 #DB trap with DR6.BS; arm64
   * software step). Breakpoint: pc is the instruction, not executed (x64 #DB
   * fault with DR6.Bn; arm64 EC 0x30). Watchpoint: x64 is a trap, after the
   * access and the instruction completed (pc next, DR6.Bn); arm64 is a fault
   * before the access (pc at the instruction, nothing changed, EC 0x34).
   * The core records the status itself: x64 in the thread's dr6, arm64 in
   * the thread's esr / far (the conventions are at the top of each core.ts).
   */
  HW_BREAKPOINT: 11,
} as const;
export type ExitReason = (typeof EXIT)[keyof typeof EXIT];

/** Whether the core runs user code (a thread) or a guest's kernel (a VCPU). */
export type CoreMode = "user" | "guest";

/** A guest port access that stopped the core (EXIT.IO). */
export interface IoAccess {
  port: number;
  /** 1, 2 or 4 bytes. */
  size: number;
  input: boolean;
  /** For out: the value written. */
  value: number;
  /** Length of the in/out instruction, so the VMM can step over it. */
  instructionSize: number;
}

export interface Core {
  /**
   * Executes at most `budget` instructions on the registers it was made
   * with. Everything it caches from them (lazy flags, decoded pc) is loaded
   * at entry and written back before it returns, so a debugger may change
   * registers between two runs.
   */
  run(budget: number): ExitReason;
  /** Instructions completed by the last run (a faulting one does not count). */
  readonly retired: number;
  /** PAGE_FAULT: the faulting address (full 64 bits) and the ACCESS bit. */
  readonly faultAddress: bigint;
  readonly faultAccess: number;
  /**
   * SW_BREAKPOINT / HYPERCALL: the instruction's immediate (arm64 brk / hvc
   * imm16; 0 for x64 int3). UNDEFINED_INSTRUCTION: the raw encoding (arm64
   * the 32-bit word, x64 the first four bytes little-endian).
   */
  readonly detail: number;
  /** IO (guest mode). */
  readonly io: IoAccess;
}
