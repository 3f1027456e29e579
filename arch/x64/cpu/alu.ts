// add/or/adc/sbb/and/sub/xor/cmp/test, inc/dec, neg/not. Values are u32
// halves; a narrow (8/16/32-bit) operand has its whole value in the low word.

import {
  getCF,
  L_ADC,
  L_ADD,
  L_DEC,
  L_INC,
  L_SBB,
  L_SUB,
  MASK,
  setLazy,
  setLogic,
} from "./flags.ts";
import { CONTINUE, type Insn } from "./insn.ts";
import { ea, getReg, setReg } from "./operand.ts";
import { type Cpu, TWO32 } from "./state.ts";

/** ALU operation numbers: the reg field of group 1 / bits 3-5 of opcodes 00-3F. */
export const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7, TEST = 8;

/** a op b of `sz` bytes: returns the low word (high in c.hi) and records the flags. */
export function alu(c: Cpu, op: number, sz: number, a: number, ah: number, b: number, bh: number) {
  let r: number, rh = 0;
  if (sz === 8) {
    switch (op) {
      case ADD:
      case ADC: {
        const s = a + b + (op === ADC ? (c.lcf = getCF(c)) : 0);
        r = s >>> 0;
        rh = (ah + bh + (s >= TWO32 ? 1 : 0)) >>> 0;
        setLazy(c, op === ADD ? L_ADD : L_ADC, 8, a, ah, b, bh, r, rh);
        break;
      }
      case SUB:
      case CMP:
      case SBB: {
        const s = a - b - (op === SBB ? (c.lcf = getCF(c)) : 0);
        r = s >>> 0;
        rh = (ah - bh - (s < 0 ? 1 : 0)) >>> 0;
        setLazy(c, op === SBB ? L_SBB : L_SUB, 8, a, ah, b, bh, r, rh);
        break;
      }
      case OR:
        r = (a | b) >>> 0;
        rh = (ah | bh) >>> 0;
        setLogic(c, 8, r, rh);
        break;
      case XOR:
        r = (a ^ b) >>> 0;
        rh = (ah ^ bh) >>> 0;
        setLogic(c, 8, r, rh);
        break;
      default: // AND, TEST
        r = (a & b) >>> 0;
        rh = (ah & bh) >>> 0;
        setLogic(c, 8, r, rh);
    }
  } else {
    const mask = MASK[sz];
    switch (op) {
      case ADD:
        r = ((a + b) & mask) >>> 0;
        setLazy(c, L_ADD, sz, a, 0, b, 0, r, 0);
        break;
      case ADC:
        r = ((a + b + (c.lcf = getCF(c))) & mask) >>> 0;
        setLazy(c, L_ADC, sz, a, 0, b, 0, r, 0);
        break;
      case SUB:
      case CMP:
        r = ((a - b) & mask) >>> 0;
        setLazy(c, L_SUB, sz, a, 0, b, 0, r, 0);
        break;
      case SBB:
        r = ((a - b - (c.lcf = getCF(c))) & mask) >>> 0;
        setLazy(c, L_SBB, sz, a, 0, b, 0, r, 0);
        break;
      case OR:
        r = (a | b) >>> 0;
        setLogic(c, sz, r, 0);
        break;
      case XOR:
        r = (a ^ b) >>> 0;
        setLogic(c, sz, r, 0);
        break;
      default:
        r = (a & b) >>> 0;
        setLogic(c, sz, r, 0);
    }
  }
  c.hi = rh;
  return r;
}

/** op E, G: the r/m operand is the destination (00, 01, 08, ..., 38, 39, 84, 85). */
export function aluEG(c: Cpu, i: Insn): number {
  const sz = i.sz, op = i.op;
  const b = getReg(c, i.r, i.rs, sz), bh = sz === 8 ? c.hi : 0;
  if (i.m >= 0) {
    const a = getReg(c, i.m, i.ms, sz), ah = sz === 8 ? c.hi : 0;
    const r = alu(c, op, sz, a, ah, b, bh);
    if (op < CMP) setReg(c, i.m, i.ms, sz, r, c.hi);
    return CONTINUE;
  }
  const va = ea(c, i);
  if (op >= CMP) {
    const a = c.load(va, sz);
    alu(c, op, sz, a, sz === 8 ? c.hi : 0, b, bh);
    return CONTINUE;
  }
  const a = c.loadW(va, sz);
  const r = alu(c, op, sz, a, sz === 8 ? c.hi : 0, b, bh);
  c.store(va, sz, r, c.hi);
  return CONTINUE;
}

/** op G, E: the register is the destination (02, 03, ..., 3A, 3B). */
export function aluGE(c: Cpu, i: Insn): number {
  const sz = i.sz, op = i.op;
  let b: number;
  if (i.m >= 0) b = getReg(c, i.m, i.ms, sz);
  else b = c.load(ea(c, i), sz);
  const bh = sz === 8 ? c.hi : 0;
  const a = getReg(c, i.r, i.rs, sz);
  const r = alu(c, op, sz, a, sz === 8 ? c.hi : 0, b, bh);
  if (op < CMP) setReg(c, i.r, i.rs, sz, r, c.hi);
  return CONTINUE;
}

/** op E, imm (80, 81, 83, F6/F7 /0, and 04, 05, ..., A8, A9 with E = rax). */
export function aluEI(c: Cpu, i: Insn): number {
  const sz = i.sz, op = i.op;
  if (i.m >= 0) {
    const a = getReg(c, i.m, i.ms, sz), ah = sz === 8 ? c.hi : 0;
    const r = alu(c, op, sz, a, ah, i.imm, i.immHi);
    if (op < CMP) setReg(c, i.m, i.ms, sz, r, c.hi);
    return CONTINUE;
  }
  const va = ea(c, i);
  if (op >= CMP) {
    const a = c.load(va, sz);
    alu(c, op, sz, a, sz === 8 ? c.hi : 0, i.imm, i.immHi);
    return CONTINUE;
  }
  const a = c.loadW(va, sz);
  const r = alu(c, op, sz, a, sz === 8 ? c.hi : 0, i.imm, i.immHi);
  c.store(va, sz, r, c.hi);
  return CONTINUE;
}

// ---------------------------------------------------------------------------

/** inc/dec r/m (FE/FF /0 /1): CF is kept. `op` 0 inc, 1 dec. */
export function incDec(c: Cpu, i: Insn): number {
  const sz = i.sz;
  let va = 0, a: number;
  if (i.m >= 0) a = getReg(c, i.m, i.ms, sz);
  else a = c.loadW(va = ea(c, i), sz);
  const ah = sz === 8 ? c.hi : 0;
  let r: number, rh = 0;
  if (sz === 8) {
    const s = i.op === 0 ? a + 1 : a - 1;
    r = s >>> 0;
    rh = (ah + (s >= TWO32 ? 1 : s < 0 ? -1 : 0)) >>> 0;
  } else {
    r = ((i.op === 0 ? a + 1 : a - 1) & MASK[sz]) >>> 0;
  }
  if (i.m < 0) c.store(va, sz, r, rh);
  c.lcf = getCF(c);
  setLazy(c, i.op === 0 ? L_INC : L_DEC, sz, a, ah, 1, 0, r, rh);
  if (i.m >= 0) setReg(c, i.m, i.ms, sz, r, rh);
  return CONTINUE;
}

/** neg (F6/F7 /3) = 0 - x; not (/2) = ~x with no flags. `op` 3 neg, 2 not. */
export function negNot(c: Cpu, i: Insn): number {
  const sz = i.sz;
  let va = 0, a: number;
  if (i.m >= 0) a = getReg(c, i.m, i.ms, sz);
  else a = c.loadW(va = ea(c, i), sz);
  const ah = sz === 8 ? c.hi : 0;
  let r: number, rh = 0;
  if (i.op === 2) {
    r = (~a & MASK[sz]) >>> 0;
    if (sz === 8) rh = ~ah >>> 0;
  } else if (sz === 8) {
    r = (0 - a) >>> 0;
    rh = (0 - ah - (a !== 0 ? 1 : 0)) >>> 0;
    setLazy(c, L_SUB, 8, 0, 0, a, ah, r, rh);
  } else {
    r = ((0 - a) & MASK[sz]) >>> 0;
    setLazy(c, L_SUB, sz, 0, 0, a, 0, r, 0);
  }
  if (i.m >= 0) setReg(c, i.m, i.ms, sz, r, rh);
  else c.store(va, sz, r, rh);
  return CONTINUE;
}
