// The x86-64 interpreter core: fetch (through a per-page cache of decoded
// instructions), call the instruction's handler, repeat until the budget is
// spent or a handler stops the core.
//
// Decoded instructions live in page.code (an X64Code: one slot per byte
// offset), so they are decoded once and dropped by page.written() when the
// page changes: self-modifying code sees its new bytes because the loop
// compares page.code with the cache it is using before every instruction.
// An instruction that straddles two pages is decoded on every execution
// into a scratch Insn (it depends on two pages, and is rare).

import {
  ACCESS,
  type AddressSpace,
  type Core,
  type CoreMode,
  EXIT,
  type ExitReason,
  type IoAccess,
  type Page,
  PAGE_SIZE,
} from "../../cpu.ts";
import type { ThreadRegisters } from "../../arch.ts";
import type { X64Registers } from "../x64.ts";
import { decode, MAX_LENGTH, newInsn } from "./decode.ts";
import { ARITH, flags } from "./flags.ts";
import { CONTINUE, type Insn, RFLAGS, RIP } from "./insn.ts";
import { Cpu, FAULT, TWO32 } from "./state.ts";

/** The decoded instructions of one page, indexed by byte offset. */
class X64Code {
  readonly insns: (Insn | undefined)[] = new Array(PAGE_SIZE);
}

const NO_INSNS: (Insn | undefined)[] = [];

/** Exits after which the instruction is complete (rip after it, retired). */
function completes(exit: number): boolean {
  return exit === EXIT.SYSCALL || exit === EXIT.SW_BREAKPOINT || exit === EXIT.HALT;
}

/** The xmm registers: the zmm slots of the thread's vector regset, so thread_read_state shows them. */
function xmmOf(regs: X64Registers): Uint32Array {
  return new Uint32Array(regs.vec.buffer, regs.vec.byteOffset, 256);
}

export class X64Core extends Cpu implements Core {
  retired = 0;
  private readonly regs: X64Registers;
  /** Scratch decode of an instruction that straddles two pages. */
  private readonly scratch = newInsn();
  private readonly tail = new Uint8Array(2 * MAX_LENGTH);

  constructor(regs: X64Registers, memory: AddressSpace, mode: CoreMode) {
    super(regs.gpr, xmmOf(regs), memory, mode === "guest");
    this.regs = regs;
  }

  get faultAddress(): bigint {
    return (BigInt(this.faultHi) << 32n) | BigInt(this.faultLo);
  }

  get io(): IoAccess {
    return {
      port: this.ioPort,
      size: this.ioSize,
      input: this.ioInput,
      value: this.ioValue,
      instructionSize: this.ioLength,
    };
  }

  run(budget: number): ExitReason {
    const g = this.g;
    this.count = 0;
    this.budget = budget;
    // A running CPU shows bit 1 of rflags set, and user code runs with IF.
    if (this.guest === 0) this.regs.noteUserExecution();
    else g[RFLAGS] |= 2;
    const rf = g[RFLAGS];
    this.fl = rf & ARITH;
    this.rfo = (rf & ~ARITH) >>> 0;
    this.lop = 0;
    this.syncTlb();
    const lo = g[RIP], hi = g[RIP + 1];
    if (hi < 0x8000) {
      this.pc = hi * TWO32 + lo;
    } else {
      this.pc = NaN;
      this.farLo = lo;
      this.farHi = hi;
    }

    const exit = this.execute(budget);
    const pc = this.pc;
    if (pc === pc) {
      const pl = pc >>> 0;
      g[RIP] = pl;
      g[RIP + 1] = (pc - pl) / TWO32;
    } else {
      g[RIP] = this.farLo;
      g[RIP + 1] = this.farHi;
    }
    g[RFLAGS] = (this.rfo | flags(this)) >>> 0;
    this.retired = this.count;
    return exit as ExitReason;
  }

  /**
   * The interpreter loop, apart from run() so that the optimizing compiler
   * sees a small function whose every path has run.
   */
  private execute(budget: number): number {
    let exit: number = EXIT.BUDGET;
    let page: Page | null = null, code: unknown = null;
    let base = NaN, insns = NO_INSNS;
    try {
      while (this.count < budget) {
        const pc = this.pc;
        this.cur = pc;
        let off = pc - base;
        if (!(off >= 0 && off < PAGE_SIZE) || page!.code !== code) {
          if (pc !== pc) this.fetchFar();
          page = this.fetchPage(pc);
          base = Math.floor(pc / PAGE_SIZE) * PAGE_SIZE;
          off = pc - base;
          let cache = page.code;
          if (!(cache instanceof X64Code)) page.code = cache = new X64Code();
          code = cache;
          insns = (cache as X64Code).insns;
        }
        const insn = insns[off] ?? this.decodeAt(page!, off, base, insns);
        this.pc = pc + insn.len;
        const x = insn.fn(this, insn);
        if (x !== CONTINUE) {
          exit = x;
          if (completes(x)) this.count++;
          else this.pc = pc;
          break;
        }
        this.count++;
      }
    } catch (e) {
      if (e !== FAULT) throw e;
      exit = this.exitReason;
      this.pc = this.cur;
    }
    return exit;
  }

  /** rip outside the user half: #PF in the canonical upper half, else #GP. */
  private fetchFar(): never {
    this.ealo = this.farLo;
    this.eahi = this.farHi;
    return this.badAddress(ACCESS.EXECUTE);
  }

  /** Decodes the instruction at `off` of `page` (at va base + off) and caches it if it fits. */
  private decodeAt(page: Page, off: number, base: number, insns: (Insn | undefined)[]): Insn {
    const bytes = page.bytes;
    const s = this.scratch;
    // Near the end of the page, find out first (without allocating) whether it fits.
    if (off > PAGE_SIZE - 2 * MAX_LENGTH) {
      s.reset(s.fn);
      if (!decode(bytes, off, PAGE_SIZE, s)) {
        // It continues on the next page, which must be executable too.
        const next = this.fetchPage(base + PAGE_SIZE);
        const tail = this.tail;
        const have = PAGE_SIZE - off;
        tail.set(bytes.subarray(off));
        tail.set(next.bytes.subarray(0, tail.length - have), have);
        s.reset(s.fn);
        decode(tail, 0, tail.length, s);
        return s;
      }
    }
    const insn = newInsn();
    decode(bytes, off, PAGE_SIZE, insn);
    insns[off] = insn;
    return insn;
  }
}

/** Arch.createCore for x64: `registers` must come from x64.newRegisters(). */
export function createX64Core(
  registers: ThreadRegisters,
  memory: AddressSpace,
  mode: CoreMode,
): Core {
  return new X64Core(registers as X64Registers, memory, mode);
}
