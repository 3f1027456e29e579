// The byte reader and operand decoding shared by the opcode maps: prefix
// state, ModRM/SIB/displacement, immediates. Decoding is not re-entered, so
// this state is module-wide and reset by begin() for every instruction.

import { GPR, type Handler, type Insn } from "./insn.ts";

/** Prefixes and ModRM fields of the instruction being decoded. */
export const d = {
  rex: 0,
  p66: 0,
  p67: 0,
  /** 0xf2 / 0xf3, the last one given, or 0. */
  rep: 0,
  /** fs_base / gs_base index of a segment override, or -1. */
  seg: -1,
  /** ModRM mod, reg (0-7, no REX), reg with REX.R, rm with REX.B. */
  mod: 0,
  reg: 0,
  regNum: 0,
  rmNum: 0,
};

const NO_BYTES = new Uint8Array(0);

// Bytes being read (a page's; dropped by release() so that a page of a
// deleted kernel is not kept alive, with its whole slab, by the decoder).
let buf: Uint8Array = NO_BYTES;
let pos = 0;
let end = 0;
/** Set when the decoder needed a byte at or past `end`. */
let short = false;

export function next(): number {
  if (pos >= end) {
    short = true;
    pos++;
    return 0;
  }
  return buf[pos++];
}

export function imm8(): number {
  return (next() << 24) >> 24;
}

export function imm16(): number {
  return next() | (next() << 8);
}

export function imm32(): number {
  return next() | (next() << 8) | (next() << 16) | (next() << 24);
}

/** u32 index and byte shift of x86 register `n` as an operand of size `sz`. */
export function regIndex(n: number, sz: number): number {
  return sz === 1 && d.rex === 0 && n >= 4 && n < 8 ? GPR[n - 4] : GPR[n];
}

export function regShift(n: number, sz: number): number {
  return sz === 1 && d.rex === 0 && n >= 4 && n < 8 ? 8 : 0;
}

/**
 * Reads ModRM (+ SIB + displacement). `regSz` / `rmSz` are the sizes of the
 * reg and r/m operands (for the AH..BH rule); 0 when the field is not a
 * general register (opcode extension, xmm).
 */
export function modrm(i: Insn, regSz: number, rmSz: number): void {
  const m = next();
  d.mod = m >>> 6;
  d.reg = (m >>> 3) & 7;
  d.regNum = d.reg | ((d.rex & 4) << 1);
  const rm = m & 7;
  d.rmNum = rm | ((d.rex & 1) << 3);
  if (regSz !== 0) {
    i.r = regIndex(d.regNum, regSz);
    i.rs = regShift(d.regNum, regSz);
  }
  if (d.mod === 3) {
    if (rmSz !== 0) {
      i.m = regIndex(d.rmNum, rmSz);
      i.ms = regShift(d.rmNum, rmSz);
    }
    return;
  }
  i.m = -1;
  i.seg = d.seg;
  i.addr32 = d.p67;
  let dispSize = d.mod === 1 ? 1 : d.mod === 2 ? 4 : 0;
  if (rm === 4) {
    const sib = next();
    const idx = ((sib >>> 3) & 7) | ((d.rex & 2) << 2);
    if (idx !== 4) {
      i.index = GPR[idx];
      i.scale = sib >>> 6;
    }
    if ((sib & 7) === 5 && d.mod === 0) dispSize = 4;
    else i.base = GPR[(sib & 7) | ((d.rex & 1) << 3)];
  } else if (rm === 5 && d.mod === 0) {
    i.ripRel = 1;
    dispSize = 4;
  } else {
    i.base = GPR[d.rmNum];
  }
  i.disp = dispSize === 1 ? imm8() : dispSize === 4 ? imm32() : 0;
}

/** Sets the immediate `v` (a signed int32) extended to operand size `sz`. */
export function setImm(i: Insn, v: number, sz: number): void {
  if (sz === 8) {
    i.imm = v >>> 0;
    i.immHi = v < 0 ? 0xffffffff : 0;
  } else {
    i.imm = (sz === 4 ? v : v & (sz === 2 ? 0xffff : 0xff)) >>> 0;
    i.immHi = 0;
  }
}

/** imm8 / imm16 / imm32 by operand size, never 64 (the "Iz" operand). */
export function immZ(i: Insn, sz: number): void {
  setImm(i, sz === 1 ? imm8() : sz === 2 ? imm16() : imm32(), sz);
}

export function set(i: Insn, fn: Handler, op: number, sz: number): void {
  i.fn = fn;
  i.op = op;
  i.sz = sz;
}

/** Starts reading an instruction at bytes[at], with no byte at or past `limit`. */
export function begin(bytes: Uint8Array, at: number, limit: number): void {
  buf = bytes;
  pos = at;
  end = limit;
  short = false;
  d.rex =
    d.p66 =
    d.p67 =
    d.rep =
      0;
  d.seg = -1;
}

/** Lets go of the bytes begin() was given. */
export function release(): void {
  buf = NO_BYTES;
}

/** Bytes read so far (the instruction's length once decoded). */
export function position(): number {
  return pos;
}

/** Steps back one byte (to re-read a ModRM byte that was peeked). */
export function unread(): void {
  pos--;
}

/** Whether a byte at or past the limit was needed. */
export function ranShort(): boolean {
  return short;
}

export function opSize(): number {
  return (d.rex & 8) !== 0 ? 8 : d.p66 !== 0 ? 2 : 4;
}
