// Data movement: mov, movzx/movsx/movsxd, lea, xchg, cmovcc, setcc,
// cbw/cwd families, bswap, cmpxchg, xadd, and the flag instructions.

import { alu, CMP } from "./alu.ts";
import { AF, CF, cond, DF, flags, PF, setFlags, SF, ZF } from "./flags.ts";
import { CONTINUE, type Insn, RAX, RDX } from "./insn.ts";
import { ea, eaRaw, getReg, getRm, setReg, setRm } from "./operand.ts";
import { type Cpu, TWO32 } from "./state.ts";

/** mov r/m, reg (88, 89). */
export function movEG(c: Cpu, i: Insn): number {
  const sz = i.sz;
  const lo = getReg(c, i.r, i.rs, sz);
  if (i.m >= 0) setReg(c, i.m, i.ms, sz, lo, c.hi);
  else c.store(ea(c, i), sz, lo, c.hi);
  return CONTINUE;
}

/** mov reg, r/m (8A, 8B). */
export function movGE(c: Cpu, i: Insn): number {
  const lo = getRm(c, i);
  setReg(c, i.r, i.rs, i.sz, lo, c.hi);
  return CONTINUE;
}

/** mov r64, r64 (89/8B with REX.W and two registers): the commonest instruction. */
export function movRR64(c: Cpu, i: Insn): number {
  const g = c.g;
  g[i.m] = g[i.r];
  g[i.m + 1] = g[i.r + 1];
  return CONTINUE;
}

/** mov r32, r32 (zeroes the destination's high half). */
export function movRR32(c: Cpu, i: Insn): number {
  const g = c.g;
  g[i.m] = g[i.r];
  g[i.m + 1] = 0;
  return CONTINUE;
}

/** mov r64, [mem]. */
export function load64(c: Cpu, i: Insn): number {
  const lo = c.ld64(ea(c, i));
  const g = c.g;
  g[i.r] = lo;
  g[i.r + 1] = c.hi;
  return CONTINUE;
}

/** mov r32, [mem]. */
export function load32(c: Cpu, i: Insn): number {
  const lo = c.ld32(ea(c, i));
  const g = c.g;
  g[i.r] = lo;
  g[i.r + 1] = 0;
  return CONTINUE;
}

/** mov [mem], r64. */
export function store64(c: Cpu, i: Insn): number {
  const g = c.g;
  c.st64(ea(c, i), g[i.r], g[i.r + 1]);
  return CONTINUE;
}

/** mov [mem], r32. */
export function store32(c: Cpu, i: Insn): number {
  c.st32(ea(c, i), c.g[i.r]);
  return CONTINUE;
}

/** mov r/m, imm (C6, C7) and mov reg, imm (B0-BF, with m = the register). */
export function movEI(c: Cpu, i: Insn): number {
  setRm(c, i, i.imm, i.immHi);
  return CONTINUE;
}

/** mov al/ax/eax/rax <-> moffs (A0-A3): op 0 load, 1 store; the address is imm:immHi. */
export function movMoffs(c: Cpu, i: Insn): number {
  let lo = i.imm, hi = i.immHi;
  if (i.seg >= 0) {
    const s = lo + c.g[i.seg];
    lo = s >>> 0;
    hi = (hi + c.g[i.seg + 1] + (s >= TWO32 ? 1 : 0)) >>> 0;
  }
  const va = c.addr(lo, hi);
  if (i.op === 0) {
    const v = c.load(va, i.sz);
    setReg(c, RAX, 0, i.sz, v, c.hi);
  } else {
    c.store(va, i.sz, getReg(c, RAX, 0, i.sz), c.hi);
  }
  return CONTINUE;
}

/** lea reg, [mem]: the address itself, truncated to the operand size. */
export function lea(c: Cpu, i: Insn): number {
  eaRaw(c, i);
  setReg(c, i.r, 0, i.sz, i.sz === 2 ? c.ealo & 0xffff : c.ealo, c.eahi);
  return CONTINUE;
}

/**
 * movzx (op 0) / movsx (op 1) / movsxd (op 1, source 4 bytes): i.imm2 is
 * the source size, i.sz the destination size.
 */
export function movExtend(c: Cpu, i: Insn): number {
  const from = i.imm2;
  let v: number;
  if (i.m >= 0) v = getReg(c, i.m, i.ms, from);
  else v = c.load(ea(c, i), from);
  let hi = 0;
  if (i.op === 1) {
    const bits = from * 8;
    const s = bits === 32 ? v | 0 : (v << (32 - bits)) >> (32 - bits);
    v = s >>> 0;
    hi = s < 0 ? 0xffffffff : 0;
    if (i.sz === 2) v &= 0xffff;
  }
  setReg(c, i.r, 0, i.sz, v, hi);
  return CONTINUE;
}

/** xchg r/m, reg (86, 87) and xchg rax, reg (90+r with m = rax). */
export function xchg(c: Cpu, i: Insn): number {
  const sz = i.sz;
  const a = getReg(c, i.r, i.rs, sz), ah = c.hi;
  if (i.m >= 0) {
    const b = getReg(c, i.m, i.ms, sz), bh = c.hi;
    setReg(c, i.m, i.ms, sz, a, ah);
    setReg(c, i.r, i.rs, sz, b, bh);
  } else {
    const va = ea(c, i);
    const b = c.loadW(va, sz), bh = c.hi;
    c.store(va, sz, a, ah);
    setReg(c, i.r, i.rs, sz, b, bh);
  }
  return CONTINUE;
}

/** cmovcc reg, r/m (0F 40-4F): the source is read (and may fault) either way. */
export function cmov(c: Cpu, i: Insn): number {
  const lo = getRm(c, i), hi = c.hi;
  if (cond(c, i.op)) setReg(c, i.r, 0, i.sz, lo, hi);
  else if (i.sz === 4) c.g[i.r + 1] = 0; // a 32-bit destination is written even so
  return CONTINUE;
}

/** setcc r/m8 (0F 90-9F). */
export function setcc(c: Cpu, i: Insn): number {
  setRm(c, i, cond(c, i.op) ? 1 : 0, 0);
  return CONTINUE;
}

/** cbw/cwde/cdqe (98, op 0) and cwd/cdq/cqo (99, op 1) by operand size. */
export function convert(c: Cpu, i: Insn): number {
  const g = c.g, sz = i.sz;
  if (i.op === 0) {
    const v = g[RAX];
    if (sz === 2) setReg(c, RAX, 0, 2, ((v << 24) >> 24) & 0xffff, 0);
    else if (sz === 4) setReg(c, RAX, 0, 4, ((v << 16) >> 16) >>> 0, 0);
    else g[RAX + 1] = (v | 0) < 0 ? 0xffffffff : 0;
    return CONTINUE;
  }
  const top = sz === 2 ? (g[RAX] >>> 15) & 1 : sz === 4 ? g[RAX] >>> 31 : g[RAX + 1] >>> 31;
  const fill = top !== 0 ? 0xffffffff : 0;
  setReg(c, RDX, 0, sz, sz === 2 ? fill & 0xffff : fill, fill);
  return CONTINUE;
}

/** bswap reg (0F C8+r); the 16-bit form is undefined, we give 0 as CPUs do. */
export function bswap(c: Cpu, i: Insn): number {
  const g = c.g, r = i.r;
  if (i.sz === 8) {
    const lo = g[r];
    g[r] = swap(g[r + 1]);
    g[r + 1] = swap(lo);
  } else if (i.sz === 4) {
    g[r] = swap(g[r]);
    g[r + 1] = 0;
  } else {
    g[r] &= 0xffff0000;
  }
  return CONTINUE;
}

function swap(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** cmpxchg r/m, reg (0F B0, B1): compares with rax; ZF says whether it stored. */
export function cmpxchg(c: Cpu, i: Insn): number {
  const sz = i.sz;
  const acc = getReg(c, RAX, 0, sz), accHi = sz === 8 ? c.hi : 0;
  let va = 0, cur: number;
  if (i.m >= 0) cur = getReg(c, i.m, i.ms, sz);
  else cur = c.loadW(va = ea(c, i), sz);
  const curHi = sz === 8 ? c.hi : 0;
  const equal = cur === acc && curHi === accHi;
  if (equal) {
    const src = getReg(c, i.r, i.rs, sz);
    if (i.m >= 0) setReg(c, i.m, i.ms, sz, src, c.hi);
    else c.store(va, sz, src, c.hi);
  } else {
    // The destination is written back unchanged (a locked cycle), rax gets it.
    if (i.m < 0) c.store(va, sz, cur, curHi);
    setReg(c, RAX, 0, sz, cur, curHi);
  }
  alu(c, CMP, sz, acc, accHi, cur, curHi);
  return CONTINUE;
}

/** xadd r/m, reg (0F C0, C1): temp = dst + src; src = dst; dst = temp. */
export function xadd(c: Cpu, i: Insn): number {
  const sz = i.sz;
  const src = getReg(c, i.r, i.rs, sz), srcHi = sz === 8 ? c.hi : 0;
  let va = 0, dst: number;
  if (i.m >= 0) dst = getReg(c, i.m, i.ms, sz);
  else dst = c.loadW(va = ea(c, i), sz);
  const dstHi = sz === 8 ? c.hi : 0;
  const sum = alu(c, 0, sz, dst, dstHi, src, srcHi), sumHi = c.hi;
  if (i.m < 0) c.store(va, sz, sum, sumHi);
  setReg(c, i.r, i.rs, sz, dst, dstHi);
  if (i.m >= 0) setReg(c, i.m, i.ms, sz, sum, sumHi);
  return CONTINUE;
}

/**
 * Flag instructions by i.op: 0 clc, 1 stc, 2 cmc, 3 cld, 4 std, 5 lahf,
 * 6 sahf.
 */
export function flagOp(c: Cpu, i: Insn): number {
  const f = flags(c);
  switch (i.op) {
    case 0:
      setFlags(c, f & ~CF);
      break;
    case 1:
      setFlags(c, f | CF);
      break;
    case 2:
      setFlags(c, f ^ CF);
      break;
    case 3:
      c.rfo &= ~DF;
      break;
    case 4:
      c.rfo |= DF;
      break;
    case 5: // ah = SF ZF 0 AF 0 PF 1 CF
      c.g[RAX] = (c.g[RAX] & 0xffff00ff) | ((f & 0xd5) | 2) << 8;
      break;
    default: {
      const ah = (c.g[RAX] >>> 8) & 0xd5;
      setFlags(c, (f & ~(SF | ZF | AF | PF | CF)) | ah);
    }
  }
  return CONTINUE;
}
