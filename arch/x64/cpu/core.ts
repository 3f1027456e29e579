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
//
// Debug exceptions (#DB, EXIT.HW_BREAKPOINT): when a run starts with TF set
// or (user mode only) any of dr7's L0-3/G0-3 enables set, it goes through
// executeDebug, which runs one instruction at a time around the same loop;
// otherwise nothing costs more than that one test per run.
//   - TF (single step): a trap after every instruction that started with TF
//     set (every rep iteration), rip = the next instruction, DR6.BS. TF
//     stays set. syscall and int3 report their own exit and no step: the
//     CPU clears TF on the way into the kernel (Zircon's IA32_FMASK has TF)
//     and sysret / iret restore it, so the next trap follows the instruction
//     after the syscall, as on hardware.
//   - dr0-3 with R/W = 00: an instruction breakpoint at that address (LEN
//     is ignored), a fault before the instruction, rip = it, DR6.Bn for
//     every breakpoint at that address. RF is emulated: the instruction the
//     thread goes on with is not checked again (the CPU also sets RF for a
//     fault, and between the iterations of a rep string instruction).
//   - R/W = 01 (write) / 11 (read or write), LEN 00/01/11/10 = 1/2/4/8 bytes
//     at the address rounded down to that size: a trap after the
//     instruction whose access touched one of those bytes (after that rep
//     iteration), rip = next, DR6.Bn for each one hit (and BS if TF was set
//     too). R/W = 10 (I/O) is ignored. faultAddress: the first watched byte
//     of the first access that hit; faultAccess READ or WRITE (WRITE for a
//     read-modify-write).
// A guest (a VCPU) single-steps the same way with its own TF: the step
// stops the core with HW_BREAKPOINT and the VCPU delivers #DB (vector 1, a
// trap: rip = the next instruction) through the guest's IDT, whose gate
// clears TF; iretq restores it, and the instruction after the iretq traps
// (none follows the instruction that set TF). An int n whose gate cleared
// TF, or a syscall whose FMASK did, is not followed by a trap (Intel SDM
// vol. 3 17.3.1.4: int n clears TF, so debuggers emulate it); nor is an
// instruction Zircon emulates on an exit (in/out, vmcall, MEM traps, hlt),
// whose handlers move rip on without raising #DB. Guest debug registers
// (dr0-7) are not modeled: the guest's DR6 is not readable.
// DR6 (the thread's saved copy, as Zircon reads it from the CPU in its #DB
// handler) shows its reserved bits as ones (0xffff0ff0); B0-B3 are replaced
// by each event's hits; BS (and BD, BT) stay set until the kernel clears
// them (Zircon does when the exception is handled).

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
import { ARITH, flags, TF } from "./flags.ts";
import { CONTINUE, type Insn, REFETCH, RFLAGS, RIP, TF_SET } from "./insn.ts";
import { Cpu, FAULT, TWO32 } from "./state.ts";

/** The decoded instructions of one page, indexed by byte offset. */
class X64Code {
  readonly insns: (Insn | undefined)[] = new Array(PAGE_SIZE);
}

const NO_INSNS: (Insn | undefined)[] = [];

/** Exits after which the instruction is complete (rip after it, retired). */
function completes(exit: number): boolean {
  return exit === EXIT.SYSCALL || exit === EXIT.SW_BREAKPOINT || exit === EXIT.HALT ||
    exit === TF_SET || exit === REFETCH || exit === EXIT.HYPERCALL;
}

/** u32 indices of dr0 (low word), dr6 and dr7 in the debug regset. */
const DR0 = 0, DR6 = 8, DR7 = 10;
/** DR6.BS: the #DB is (also) a single step. */
export const DR6_BS = 0x4000;
/** DR6's reserved bits, which read as ones (X86_DR6_RESET): Zircon saves the real register. */
const DR6_FIXED = 0xffff0ff0;
/** Bytes of a data breakpoint per dr7 LEN field value. */
const LEN_BYTES = [1, 2, 8, 4];
/** HW_BREAKPOINT `detail`. */
export const HW_STEP = 0, HW_BREAKPOINT = 1, HW_WATCHPOINT = 2;

/**
 * What the core computes on: a thread's X64Registers, or a VCPU's own
 * storage of the same layouts (arch/x64/vcpu/guest_cpu.ts).
 */
export type CoreRegisters = Pick<X64Registers, "gpr" | "vec" | "dbg" | "noteUserExecution">;

/** The xmm registers: the zmm slots of the thread's vector regset, so thread_read_state shows them. */
function xmmOf(regs: CoreRegisters): Uint32Array {
  return new Uint32Array(regs.vec.buffer, regs.vec.byteOffset, 256);
}

export class X64Core extends Cpu implements Core {
  retired = 0;
  private readonly regs: CoreRegisters;
  /** The thread's debug regset (dr0-3, dr6, dr7) as u32 halves. */
  private readonly dr: Uint32Array;
  /** Instruction breakpoints armed for this run: address and DR6 bit. */
  private readonly bpVa = new Float64Array(4);
  private readonly bpBit = new Uint8Array(4);
  private bpN = 0;
  /** RF: the next instruction to start is not checked for instruction breakpoints. */
  private resume = false;
  /** Scratch decode of an instruction that straddles two pages. */
  private readonly scratch = newInsn();
  private readonly tail = new Uint8Array(2 * MAX_LENGTH);

  constructor(regs: CoreRegisters, memory: AddressSpace, mode: CoreMode) {
    super(regs.gpr, xmmOf(regs), memory, mode === "guest");
    this.regs = regs;
    this.dr = new Uint32Array(regs.dbg.buffer, regs.dbg.byteOffset, regs.dbg.length / 4);
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
    } else if (hi >= 0xffff8000 && this.guest !== 0) {
      this.pc = this.addr(lo, hi); // folded (state.ts)
    } else {
      this.pc = NaN;
      this.farLo = lo;
      this.farHi = hi;
    }

    this.partial = 0;
    // A guest single-steps with TF (its #DB goes through its own IDT, see
    // guestStep); its debug registers are its own kernel's business.
    const debug = (this.rfo & TF) !== 0 || (this.guest === 0 && (this.dr[DR7] & 0xff) !== 0);
    let exit = debug ? this.executeDebug(budget) : this.execute(budget);
    // A guest that changed its translations goes on through the new ones;
    // TF set by popf / iretq: one instruction at a time from here.
    while (exit === TF_SET || exit === REFETCH) {
      exit = exit === TF_SET ? this.executeDebug(budget) : this.execute(budget);
    }
    if (
      exit === EXIT.BUDGET || completes(exit) ||
      (exit === EXIT.HW_BREAKPOINT && this.detail !== HW_BREAKPOINT)
    ) {
      // An instruction completed last, unless a rep one is to go on.
      if (this.count > 0) this.resume = this.partial !== 0;
    } else {
      // A fault: the CPU restarts the instruction with RF set.
      this.resume = true;
    }
    const pc = this.pc;
    if (pc === pc) {
      g[RIP] = this.splitVa(pc);
      g[RIP + 1] = this.hi;
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

  /**
   * The interpreter loop one instruction (or rep iteration) at a time, with
   * the debug checks around each (see the top of this file).
   */
  private executeDebug(budget: number): number {
    this.arm();
    let exit: number = EXIT.BUDGET;
    try {
      while (this.count < budget) {
        if (this.bpN !== 0 && !this.resume) {
          const pc = this.pc;
          let hit = 0;
          for (let k = 0; k < this.bpN; k++) if (this.bpVa[k] === pc) hit |= this.bpBit[k];
          if (hit !== 0) return this.debugStop(hit, HW_BREAKPOINT);
        }
        const step = (this.rfo & TF) !== 0;
        const done = this.count;
        this.hits = 0;
        this.partial = 0;
        this.noStep = 0;
        this.budget = done + 1;
        const x = this.execute(done + 1);
        if (x !== EXIT.BUDGET && x !== TF_SET && x !== REFETCH) {
          exit = x; // a fault, or an exit to the kernel (syscall, int3): no trap
          break;
        }
        this.resume = this.partial !== 0;
        if (this.hits !== 0) {
          this.faultLo = this.hitVa >>> 0;
          this.faultHi = (this.hitVa - this.faultLo) / TWO32;
          this.faultAccess = this.hitAccess;
          return this.debugStop(this.hits | (step ? DR6_BS : 0), HW_WATCHPOINT);
        }
        if (step && this.noStep === 0) return this.debugStop(DR6_BS, HW_STEP);
      }
    } finally {
      this.watch = 0;
    }
    return exit;
  }

  /** Reads dr0-3 and dr7: the instruction breakpoints, and the data breakpoints into Cpu. */
  private arm(): void {
    const dr = this.dr, dr7 = dr[DR7];
    let bpN = 0, wpN = 0;
    for (let i = 0; i < 4; i++) {
      if (((dr7 >>> (2 * i)) & 3) === 0) continue;
      const va = dr[DR0 + 2 * i + 1] * TWO32 + dr[DR0 + 2 * i];
      const rw = (dr7 >>> (16 + 4 * i)) & 3;
      if (rw === 0) {
        this.bpVa[bpN] = va;
        this.bpBit[bpN++] = 1 << i;
      } else if (rw !== 2) {
        const len = LEN_BYTES[(dr7 >>> (18 + 4 * i)) & 3];
        const lo = va - (va % len);
        this.wpLo[wpN] = lo;
        this.wpEnd[wpN] = lo + len;
        this.wpWrite[wpN] = rw === 1 ? 1 : 0;
        this.wpBit[wpN++] = 1 << i;
      }
    }
    this.bpN = bpN;
    this.wpN = wpN;
    if (wpN !== 0) {
      this.watch = 1;
      this.flushDataTlb();
    }
  }

  /**
   * EXIT.HW_BREAKPOINT: DR6's B0-B3 become `bits` (low four), BS and the
   * reserved ones are or-ed in (the high word stays 0).
   */
  private debugStop(bits: number, kind: number): number {
    const dr = this.dr;
    dr[DR6] = ((dr[DR6] & ~0xf) | DR6_FIXED | bits) >>> 0;
    this.detail = kind;
    return EXIT.HW_BREAKPOINT;
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
