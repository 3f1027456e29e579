// Control flow and the stack: jmp/jcc/call/ret/loop, push/pop/leave,
// pushf/popf, and the instructions that stop the core (syscall, int3, ud2,
// hlt, in/out, cli/sti, privileged ones).

import { EXIT } from "../../cpu.ts";
import { cond, flags, IF, TF, X86_FLAGS_USER } from "./flags.ts";
import { CONTINUE, type Insn, R11, RAX, RBP, RCX, RDX, RSP, TF_SET } from "./insn.ts";
import { ea, getReg, getRm, setReg } from "./operand.ts";
import { type Cpu, TWO32, USER_TOP } from "./state.ts";

/** rflags bits popf may change in user mode (CF PF AF ZF SF TF DF OF NT AC ID). */
const POPF_USER = X86_FLAGS_USER;
/** ... and in a guest kernel (CPL 0): IF and IOPL too. */
const POPF_GUEST = POPF_USER | 0x3200;

/** Sets the next rip to the 64-bit value hi:lo, or #GP when it is not canonical. */
export function jumpTo(c: Cpu, lo: number, hi: number): void {
  if (hi < 0x8000) {
    c.pc = hi * TWO32 + lo;
  } else if (hi >= 0xffff8000) {
    // Canonical upper half: a guest goes there (folded, see state.ts); for
    // user code the jump happens and the fetch there faults.
    if (c.guest !== 0) {
      c.pc = c.addr(lo, hi);
      return;
    }
    c.pc = NaN;
    c.farLo = lo;
    c.farHi = hi;
  } else {
    c.stop(EXIT.GENERAL_PROTECTION);
  }
}

/** Checks a jump target given as pc + displacement (a double). */
function jumpRel(c: Cpu, target: number): void {
  if (target >= 0 && target < USER_TOP && c.pc < USER_TOP) {
    c.pc = target;
    return;
  }
  const hi = Math.floor(target / TWO32);
  if (c.pc >= USER_TOP) {
    // From a folded guest pc: fold the target back to 64 bits first.
    jumpTo(c, (target - hi * TWO32) >>> 0, (hi + UPPER_HI_FOLD) >>> 0);
    return;
  }
  jumpTo(c, (target - hi * TWO32) >>> 0, hi >>> 0);
}
/** What folding took off a guest upper-half address's high word. */
const UPPER_HI_FOLD = 0xffff0000;

/** Stops the core unless it is a guest kernel (CPL 0); returns the exit or CONTINUE. */
function privileged(c: Cpu): number {
  return c.guest !== 0 ? CONTINUE : EXIT.GENERAL_PROTECTION;
}

// ---------------------------------------------------------------------------
// Branches

/** jmp rel8/rel32 (EB, E9). */
export function jmpRel(c: Cpu, i: Insn): number {
  const t = c.pc + i.imm;
  if (t >= 0 && t < USER_TOP) c.pc = t;
  else jumpRel(c, t);
  return CONTINUE;
}

/** jcc rel8/rel32 (70-7F, 0F 80-8F). */
export function jcc(c: Cpu, i: Insn): number {
  if (cond(c, i.op)) {
    const t = c.pc + i.imm;
    if (t >= 0 && t < USER_TOP) c.pc = t;
    else jumpRel(c, t);
  }
  return CONTINUE;
}

/** loopnz (op 0), loopz (1), loop (2), jrcxz (3): E0-E3. */
export function loop(c: Cpu, i: Insn): number {
  const g = c.g;
  let lo = g[RCX], hi = g[RCX + 1];
  let taken: boolean;
  if (i.op === 3) {
    taken = (i.addr32 !== 0 ? lo : lo | hi) === 0;
  } else {
    if (i.addr32 !== 0) {
      lo = (lo - 1) >>> 0;
    } else {
      const s = lo - 1;
      lo = s >>> 0;
      hi = (hi - (s < 0 ? 1 : 0)) >>> 0;
    }
    const nonzero = (i.addr32 !== 0 ? lo : lo | hi) !== 0;
    taken = i.op === 2 ? nonzero : nonzero && cond(c, i.op === 1 ? 4 : 5);
  }
  if (taken) jumpRel(c, c.pc + i.imm);
  if (i.op !== 3) {
    g[RCX] = lo;
    if (i.addr32 === 0) g[RCX + 1] = hi;
  }
  return CONTINUE;
}

/** jmp r/m64 (FF /4). */
export function jmpIndirect(c: Cpu, i: Insn): number {
  const lo = getRm(c, i);
  jumpTo(c, lo, c.hi);
  return CONTINUE;
}

/** The pc after this instruction as u32 halves: low returned, high in c.hi. */
function nextPc(c: Cpu): number {
  return c.splitVa(c.pc);
}

/** call rel32 (E8): the target is checked before anything is pushed. */
export function callRel(c: Cpu, i: Insn): number {
  const t = c.pc + i.imm;
  if (t >= 0 && t < USER_TOP && c.pc < USER_TOP) {
    const lo = nextPc(c);
    push(c, 8, lo, c.hi);
    c.pc = t;
    return CONTINUE;
  }
  if (c.pc >= USER_TOP) {
    // A guest in the upper half (folded pc): the target as 64 bits.
    const th = Math.floor(t / TWO32);
    const tlo = (t - th * TWO32) >>> 0, thi = (th + UPPER_HI_FOLD) >>> 0;
    if (thi >= 0x8000 && thi < 0xffff8000) return c.stop(EXIT.GENERAL_PROTECTION);
    const lo = nextPc(c);
    push(c, 8, lo, c.hi);
    jumpTo(c, tlo, thi);
    return CONTINUE;
  }
  if (t >= 0 && t < USER_TOP) {
    const lo = nextPc(c);
    push(c, 8, lo, c.hi);
    c.pc = t;
    return CONTINUE;
  }
  const hi = Math.floor(t / TWO32) >>> 0;
  if (hi < 0xffff8000) return c.stop(EXIT.GENERAL_PROTECTION);
  const lo = nextPc(c);
  push(c, 8, lo, c.hi);
  jumpTo(c, (t - Math.floor(t / TWO32) * TWO32) >>> 0, hi);
  return CONTINUE;
}

/** call r/m64 (FF /2). */
export function callIndirect(c: Cpu, i: Insn): number {
  const tlo = getRm(c, i), thi = c.hi;
  if (thi >= 0x8000 && thi < 0xffff8000) return c.stop(EXIT.GENERAL_PROTECTION);
  const lo = nextPc(c);
  push(c, 8, lo, c.hi);
  jumpTo(c, tlo, thi);
  return CONTINUE;
}

/** ret (C3) / ret imm16 (C2): pops rip, then releases imm16 more bytes. */
export function ret(c: Cpu, i: Insn): number {
  const lo = c.ld64(stackVa(c, 0)), hi = c.hi;
  jumpTo(c, lo, hi);
  addRsp(c, 8 + i.imm);
  return CONTINUE;
}

// ---------------------------------------------------------------------------
// Stack

/** The va of rsp + delta (delta may be negative), or -1. */
function stackVa(c: Cpu, delta: number): number {
  const g = c.g;
  const s = g[RSP] + delta;
  const lo = s >>> 0;
  const hi = (g[RSP + 1] + Math.floor(s / TWO32)) >>> 0;
  return c.addr(lo, hi);
}

function addRsp(c: Cpu, delta: number): void {
  const g = c.g;
  const s = g[RSP] + delta;
  g[RSP] = s >>> 0;
  g[RSP + 1] = (g[RSP + 1] + Math.floor(s / TWO32)) >>> 0;
}

/** Pushes `sz` (2 or 8) bytes: the store first, rsp only once it succeeded. */
export function push(c: Cpu, sz: number, lo: number, hi: number): void {
  const va = stackVa(c, -sz);
  if (sz === 8) c.st64(va, lo, hi);
  else c.st16(va, lo);
  addRsp(c, -sz);
}

/** push reg (50+r, and FF /6 with a register): i.m is the register. */
export function pushReg(c: Cpu, i: Insn): number {
  const g = c.g;
  if (i.sz === 8) push(c, 8, g[i.m], g[i.m + 1]);
  else push(c, 2, g[i.m] & 0xffff, 0);
  return CONTINUE;
}

/** push r/m (FF /6) with a memory operand. */
export function pushMem(c: Cpu, i: Insn): number {
  const lo = c.load(ea(c, i), i.sz);
  push(c, i.sz, lo, c.hi);
  return CONTINUE;
}

/** push imm8/imm32 (6A, 68), sign-extended. */
export function pushImm(c: Cpu, i: Insn): number {
  push(c, i.sz, i.sz === 8 ? i.imm : i.imm & 0xffff, i.immHi);
  return CONTINUE;
}

/** pop reg (58+r, 8F /0 with a register). */
export function popReg(c: Cpu, i: Insn): number {
  const va = stackVa(c, 0);
  const lo = i.sz === 8 ? c.ld64(va) : c.ld16(va), hi = c.hi;
  addRsp(c, i.sz);
  setReg(c, i.m, 0, i.sz, lo, hi); // pop rsp: the popped value wins
  return CONTINUE;
}

/** pop r/m (8F /0) to memory: the address is computed with rsp already incremented. */
export function popMem(c: Cpu, i: Insn): number {
  const g = c.g;
  const va = stackVa(c, 0);
  const lo = c.load(va, i.sz), hi = c.hi;
  const oldLo = g[RSP], oldHi = g[RSP + 1];
  addRsp(c, i.sz);
  try {
    c.store(ea(c, i), i.sz, lo, hi);
  } catch (e) {
    g[RSP] = oldLo;
    g[RSP + 1] = oldHi;
    throw e;
  }
  return CONTINUE;
}

/** leave (C9): rsp = rbp, then pop rbp. */
export function leave(c: Cpu, _i: Insn): number {
  const g = c.g;
  const bl = g[RBP], bh = g[RBP + 1];
  const va = c.addr(bl, bh);
  const lo = c.ld64(va), hi = c.hi;
  const s = bl + 8;
  g[RSP] = s >>> 0;
  g[RSP + 1] = (bh + (s >= TWO32 ? 1 : 0)) >>> 0;
  g[RBP] = lo;
  g[RBP + 1] = hi;
  return CONTINUE;
}

/** pushf (9C): rflags with RF and VM clear. */
export function pushf(c: Cpu, i: Insn): number {
  const v = ((c.rfo | flags(c)) & ~0x30000) >>> 0;
  push(c, i.sz, i.sz === 8 ? v : v & 0xffff, 0);
  return CONTINUE;
}

/**
 * popf (9D): only the bits the privilege level allows change. User code that
 * sets TF single-steps from the instruction after the next one (the trap
 * follows an instruction that started with TF set), in the debug loop.
 */
export function popf(c: Cpu, i: Insn): number {
  const va = stackVa(c, 0);
  const v = i.sz === 8 ? c.ld64(va) : c.ld16(va);
  addRsp(c, i.sz);
  const allowed = (c.guest !== 0 ? POPF_GUEST : POPF_USER) & (i.sz === 8 ? 0xffffffff : 0xffff);
  const old = (c.rfo | flags(c)) >>> 0;
  const merged = ((old & ~allowed) | (v & allowed)) >>> 0;
  c.rfo = merged & ~0x8d5;
  c.fl = merged & 0x8d5;
  c.lop = 0;
  return (merged & ~old & TF) !== 0 ? TF_SET : CONTINUE;
}

// ---------------------------------------------------------------------------
// Instructions that leave the core

/** syscall (0F 05): rcx = next rip, r11 = rflags, as the hardware does. */
export function syscall(c: Cpu, _i: Insn): number {
  const g = c.g;
  const lo = nextPc(c);
  g[RCX] = lo;
  g[RCX + 1] = c.hi;
  g[R11] = ((c.rfo | flags(c)) & ~0x10000) >>> 0; // RF reads as 0
  g[R11 + 1] = 0;
  return EXIT.SYSCALL;
}

/** int3 (CC): a trap, rip after it. */
export function int3(_c: Cpu, _i: Insn): number {
  return EXIT.SW_BREAKPOINT;
}

/** int n (CD): the IDT gates are kernel-only, so #GP in user mode. */
export function intN(_c: Cpu, _i: Insn): number {
  return EXIT.GENERAL_PROTECTION;
}

/** ud2 and every encoding we do not implement. */
export function undefinedOp(c: Cpu, i: Insn): number {
  c.detail = i.raw;
  return EXIT.UNDEFINED_INSTRUCTION;
}

/** nop, pause, endbr64, hint nops and prefetches. */
export function nop(_c: Cpu, _i: Insn): number {
  return CONTINUE;
}

/** hlt (F4): #GP for user code; a guest stops with rip after it. */
export function hlt(c: Cpu, _i: Insn): number {
  return c.guest !== 0 ? EXIT.HALT : EXIT.GENERAL_PROTECTION;
}

/** cli (op 0) / sti (op 1): a guest kernel changes IF; user code (IOPL 0) faults. */
export function cliSti(c: Cpu, i: Insn): number {
  const p = privileged(c);
  if (p !== CONTINUE) return p;
  if (i.op === 0) {
    c.rfo &= ~IF;
  } else {
    // sti that sets IF: no interrupt before the next instruction completes.
    if ((c.rfo & IF) === 0 && c.sys !== null) c.sys.stiAt = c.count;
    c.rfo |= IF;
  }
  return CONTINUE;
}

/** A privileged instruction we do not emulate: #GP for user code, undefined for a guest. */
export function privilegedOp(c: Cpu, i: Insn): number {
  if (c.guest === 0) return EXIT.GENERAL_PROTECTION;
  return undefinedOp(c, i);
}

/**
 * in/out (E4-E7 with the port in i.imm; EC-EF with i.imm = -1: port dx).
 * i.op: 1 in, 0 out. A guest stops with EXIT.IO at the instruction so the
 * VMM can perform it and step over.
 */
export function inOut(c: Cpu, i: Insn): number {
  if (c.guest === 0) return EXIT.GENERAL_PROTECTION;
  c.ioPort = i.imm >= 0 ? i.imm : c.g[RDX] & 0xffff;
  c.ioSize = i.sz;
  c.ioInput = i.op === 1;
  c.ioValue = i.op === 1 ? 0 : getReg(c, RAX, 0, i.sz);
  c.ioLength = i.len;
  return EXIT.IO;
}
