// mul, imul (one, two and three operands), div, idiv: wide products and
// quotients built from u32 words, with no BigInt. For mul/imul CF = OF = 1
// when the upper half of the product is significant (SDM); SF ZF PF are
// undefined there and taken from the low half of the result, AF = 0.

import { setCO } from "./flags.ts";
import { CONTINUE, type Insn, RAX, RDX } from "./insn.ts";
import { ea, getReg, setReg } from "./operand.ts";
import { type Cpu, TWO32 } from "./state.ts";
import { EXIT } from "../../cpu.ts";

// Results of the helpers: a 128-bit product p3:p2:p1:p0, a quotient and remainder.
let p0 = 0, p1 = 0, p2 = 0, p3 = 0;
let qlo = 0, qhi = 0, rlo = 0, rhi = 0;
let mulHi = 0;

/** Unsigned 32 x 32 -> 64: returns the low word, high word in mulHi. */
function mul32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const low = a0 * b0;
  const mid = a1 * b0 + a0 * b1 + (low >>> 16); // < 2^34, exact
  mulHi = a1 * b1 + Math.floor(mid / 65536);
  return ((mid << 16) | (low & 0xffff)) >>> 0;
}

/** Unsigned 64 x 64 -> 128 into p3:p2:p1:p0. */
function mul64(al: number, ah: number, bl: number, bh: number): void {
  const w0 = mul32(al, bl), c0 = mulHi;
  const x0 = mul32(al, bh), x1 = mulHi;
  const y0 = mul32(ah, bl), y1 = mulHi;
  const z0 = mul32(ah, bh), z1 = mulHi;
  const s1 = c0 + x0 + y0;
  const k1 = Math.floor(s1 / TWO32);
  const s2 = x1 + y1 + z0 + k1;
  const k2 = Math.floor(s2 / TWO32);
  p0 = w0;
  p1 = s1 >>> 0;
  p2 = s2 >>> 0;
  p3 = (z1 + k2) >>> 0;
}

/** Signed 64 x 64 -> 128: the unsigned product with the high half corrected. */
function imul64(al: number, ah: number, bl: number, bh: number): void {
  mul64(al, ah, bl, bh);
  if ((ah | 0) < 0) sub64FromHigh(bl, bh);
  if ((bh | 0) < 0) sub64FromHigh(al, ah);
}

function sub64FromHigh(l: number, h: number): void {
  const s = p2 - l;
  p2 = s >>> 0;
  p3 = (p3 - h - (s < 0 ? 1 : 0)) >>> 0;
}

/** Signed 32 x 32 -> 64: low word returned, high in mulHi. */
function imul32(a: number, b: number): number {
  const lo = mul32(a >>> 0, b >>> 0);
  let hi = mulHi;
  if ((a | 0) < 0) hi -= b >>> 0;
  if ((b | 0) < 0) hi -= a >>> 0;
  mulHi = hi >>> 0;
  return lo;
}

function sext(v: number, bits: number): number {
  return bits === 32 ? v | 0 : (v << (32 - bits)) >> (32 - bits);
}

/** The r/m source of a one-operand or two-operand form. */
function source(c: Cpu, i: Insn): number {
  if (i.m >= 0) return getReg(c, i.m, i.ms, i.sz);
  return c.load(ea(c, i), i.sz);
}

/** mul (op 4) / imul (op 5) r/m: rdx:rax = rax * r/m (ax = al * r/m8). */
export function mulOne(c: Cpu, i: Insn): number {
  const sz = i.sz, signed = i.op === 5, g = c.g;
  const b = source(c, i), bh = sz === 8 ? c.hi : 0;
  let lo: number, hi: number, big: boolean;
  switch (sz) {
    case 1: {
      const a = g[RAX] & 0xff;
      const p = signed ? sext(a, 8) * sext(b, 8) : a * b;
      lo = p & 0xffff;
      big = signed ? p !== sext(p & 0xff, 8) : p > 0xff;
      setReg(c, RAX, 0, 2, lo, 0);
      setCO(c, 1, lo & 0xff, 0, big ? 1 : 0, big ? 1 : 0);
      return CONTINUE;
    }
    case 2: {
      const a = g[RAX] & 0xffff;
      const p = signed ? sext(a, 16) * sext(b, 16) : a * b;
      lo = p & 0xffff;
      hi = (p >>> 16) & 0xffff;
      big = signed ? p !== sext(lo, 16) : hi !== 0;
      setReg(c, RAX, 0, 2, lo, 0);
      setReg(c, RDX, 0, 2, hi, 0);
      break;
    }
    case 4:
      lo = signed ? imul32(g[RAX], b) : mul32(g[RAX], b);
      hi = mulHi;
      big = signed ? hi !== ((lo | 0) >> 31) >>> 0 : hi !== 0;
      setReg(c, RAX, 0, 4, lo, 0);
      setReg(c, RDX, 0, 4, hi, 0);
      break;
    default: {
      if (signed) imul64(g[RAX], g[RAX + 1], b, bh);
      else mul64(g[RAX], g[RAX + 1], b, bh);
      const ext = signed ? ((p1 | 0) >> 31) >>> 0 : 0;
      big = p2 !== ext || p3 !== ext;
      lo = p0;
      setReg(c, RDX, 0, 8, p2, p3);
      setReg(c, RAX, 0, 8, p0, p1);
      setCO(c, 8, p0, p1, big ? 1 : 0, big ? 1 : 0);
      return CONTINUE;
    }
  }
  setCO(c, sz, lo, 0, big ? 1 : 0, big ? 1 : 0);
  return CONTINUE;
}

/**
 * imul r, r/m (0F AF: i.imm = -1, the destination is also a factor) and
 * imul r, r/m, imm (69, 6B): the product truncated to the operand size.
 */
export function imulTwo(c: Cpu, i: Insn): number {
  const sz = i.sz;
  const b = source(c, i), bh = sz === 8 ? c.hi : 0;
  let a: number, ah: number;
  if (i.imm2 === 0) {
    a = getReg(c, i.r, 0, sz);
    ah = sz === 8 ? c.hi : 0;
  } else {
    a = i.imm;
    ah = i.immHi;
  }
  let lo: number, hi = 0, big: boolean;
  if (sz === 2) {
    const p = sext(a, 16) * sext(b, 16);
    lo = p & 0xffff;
    big = p !== sext(lo, 16);
  } else if (sz === 4) {
    lo = imul32(a, b);
    big = mulHi !== ((lo | 0) >> 31) >>> 0;
  } else {
    imul64(a, ah, b, bh);
    lo = p0;
    hi = p1;
    const ext = ((p1 | 0) >> 31) >>> 0;
    big = p2 !== ext || p3 !== ext;
  }
  setReg(c, i.r, 0, sz, lo, hi);
  setCO(c, sz, lo, hi, big ? 1 : 0, big ? 1 : 0);
  return CONTINUE;
}

/**
 * Unsigned (n3:n2:n1:n0) / (dh:dl) into qhi:qlo, rhi:rlo. False when the
 * quotient does not fit in 64 bits (n3:n2 >= d) or d is 0.
 */
function udiv128(n3: number, n2: number, n1: number, n0: number, dh: number, dl: number): boolean {
  if ((dh | dl) === 0 || n3 > dh || (n3 === dh && n2 >= dl)) return false;
  if ((n3 | n2) === 0 && n1 < 0x200000 && dh < 0x200000) {
    // Both below 2^53: exact in doubles.
    const n = n1 * TWO32 + n0, d = dh * TWO32 + dl;
    const q = Math.floor(n / d), r = n - q * d;
    qlo = q >>> 0;
    qhi = (q - qlo) / TWO32;
    rlo = r >>> 0;
    rhi = (r - rlo) / TWO32;
    return true;
  }
  if (dh === 0) {
    // A 32-bit divisor: n3 is 0 and n2 < dl, so the remainder starts as n2;
    // long division by 16-bit digits keeps every step below 2^48.
    rem = n2;
    const q1 = digits(n1, dl);
    const q0 = digits(n0, dl);
    qlo = q0;
    qhi = q1;
    rlo = rem;
    rhi = 0;
    return true;
  }
  // Shift-subtract over the low 64 bits; the remainder starts as n3:n2 (< d).
  let rh = n3, rl = n2, qh = 0, ql = 0;
  for (let bit = 63; bit >= 0; bit--) {
    const inBit = bit >= 32 ? (n1 >>> (bit - 32)) & 1 : (n0 >>> bit) & 1;
    const carry = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = ((rl << 1) | inBit) >>> 0;
    if (carry !== 0 || rh > dh || (rh === dh && rl >= dl)) {
      const s = rl - dl;
      rl = s >>> 0;
      rh = (rh - dh - (s < 0 ? 1 : 0)) >>> 0;
      if (bit >= 32) qh |= 1 << (bit - 32);
      else ql |= 1 << bit;
    }
  }
  qlo = ql >>> 0;
  qhi = qh >>> 0;
  rlo = rl;
  rhi = rh;
  return true;
}

/** Running remainder of `digits`. */
let rem = 0;

/** Divides rem:word by d (rem < d < 2^32): the quotient word; rem updated. */
function digits(word: number, d: number): number {
  const a = rem * 65536 + (word >>> 16);
  const qa = Math.floor(a / d);
  const b = (a - qa * d) * 65536 + (word & 0xffff);
  const qb = Math.floor(b / d);
  rem = b - qb * d;
  return (qa * 65536 + qb) >>> 0;
}

/** Two's complement of the 128-bit n3:n2:n1:n0 into p3:p2:p1:p0. */
function neg128(n3: number, n2: number, n1: number, n0: number): void {
  let s = (~n0 >>> 0) + 1;
  p0 = s >>> 0;
  s = (~n1 >>> 0) + (s >= TWO32 ? 1 : 0);
  p1 = s >>> 0;
  s = (~n2 >>> 0) + (s >= TWO32 ? 1 : 0);
  p2 = s >>> 0;
  s = (~n3 >>> 0) + (s >= TWO32 ? 1 : 0);
  p3 = s >>> 0;
}

/** div (op 6) / idiv (op 7) r/m: #DE on a zero divisor or a quotient that does not fit. */
export function divide(c: Cpu, i: Insn): number {
  const sz = i.sz, signed = i.op === 7, g = c.g;
  const d = source(c, i), dHi = sz === 8 ? c.hi : 0;
  if ((d | dHi) === 0) return c.stop(EXIT.DIVIDE_ERROR);
  if (sz <= 2) {
    // Dividend ax (8-bit) or dx:ax (16-bit): small enough for doubles.
    const bits = sz * 8;
    const n = sz === 1
      ? (signed ? sext(g[RAX] & 0xffff, 16) : g[RAX] & 0xffff)
      : (signed
        ? ((g[RDX] << 16) | (g[RAX] & 0xffff))
        : ((g[RDX] & 0xffff) * 65536 + (g[RAX] & 0xffff)));
    const dv = signed ? sext(d, bits) : d;
    const q = Math.trunc(n / dv), r = n - q * dv;
    const fits = signed ? q >= -(1 << (bits - 1)) && q < 1 << (bits - 1) : q < 1 << bits;
    if (!fits) return c.stop(EXIT.DIVIDE_ERROR);
    if (sz === 1) setReg(c, RAX, 0, 2, (q & 0xff) | ((r & 0xff) << 8), 0);
    else {
      setReg(c, RAX, 0, 2, q & 0xffff, 0);
      setReg(c, RDX, 0, 2, r & 0xffff, 0);
    }
    return CONTINUE;
  }
  // 32-bit: edx:eax / r/m32; 64-bit: rdx:rax / r/m64. As 128 / 64 unsigned.
  let n3: number, n2: number, n1: number, n0: number, dh: number, dl: number;
  if (sz === 4) {
    n3 = 0;
    n2 = 0;
    n1 = g[RDX];
    n0 = g[RAX];
    dh = 0;
    dl = d;
  } else {
    n3 = g[RDX + 1];
    n2 = g[RDX];
    n1 = g[RAX + 1];
    n0 = g[RAX];
    dh = dHi;
    dl = d;
  }
  let negQ = false, negR = false;
  if (signed) {
    if (sz === 4) {
      if ((n1 | 0) < 0) {
        neg128(0xffffffff, 0xffffffff, n1, n0);
        n1 = p1;
        n0 = p0;
        negQ = negR = true;
      }
      if ((dl | 0) < 0) {
        dl = (-dl) >>> 0;
        negQ = !negQ;
      }
    } else {
      if ((n3 | 0) < 0) {
        neg128(n3, n2, n1, n0);
        n3 = p3;
        n2 = p2;
        n1 = p1;
        n0 = p0;
        negQ = negR = true;
      }
      if ((dh | 0) < 0) {
        const s = 0 - dl;
        dl = s >>> 0;
        dh = (0 - dh - (s < 0 ? 1 : 0)) >>> 0;
        negQ = !negQ;
      }
    }
  }
  if (!udiv128(n3, n2, n1, n0, dh, dl)) return c.stop(EXIT.DIVIDE_ERROR);
  if (sz === 4) {
    // The quotient must fit in 32 bits (signed: in -2^31 .. 2^31 - 1).
    const limit = signed ? (negQ ? 0x80000000 : 0x7fffffff) : 0xffffffff;
    if (qhi !== 0 || qlo > limit) return c.stop(EXIT.DIVIDE_ERROR);
    const q = negQ ? (-qlo) >>> 0 : qlo, r = negR ? (-rlo) >>> 0 : rlo;
    setReg(c, RAX, 0, 4, q, 0);
    setReg(c, RDX, 0, 4, r, 0);
    return CONTINUE;
  }
  if (signed) {
    // |q| <= 2^63 - 1, or 2^63 when the quotient is negative.
    if (qhi > 0x80000000 || (qhi === 0x80000000 && (qlo !== 0 || !negQ))) {
      return c.stop(EXIT.DIVIDE_ERROR);
    }
    if (negQ) negate64q();
    if (negR) negate64r();
  }
  setReg(c, RAX, 0, 8, qlo, qhi);
  setReg(c, RDX, 0, 8, rlo, rhi);
  return CONTINUE;
}

function negate64q(): void {
  const s = 0 - qlo;
  qlo = s >>> 0;
  qhi = (0 - qhi - (s < 0 ? 1 : 0)) >>> 0;
}

function negate64r(): void {
  const s = 0 - rlo;
  rlo = s >>> 0;
  rhi = (0 - rhi - (s < 0 ? 1 : 0)) >>> 0;
}
