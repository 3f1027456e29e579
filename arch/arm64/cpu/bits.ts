// 64-bit integer arithmetic on (lo, hi) u32 pairs, without BigInt: the
// interpreter's registers are pairs of u32, and so are its results. A helper
// that produces a 64-bit value leaves it in `r.lo` / `r.hi` (one shared
// scratch object: JS is single-threaded and no helper calls back into the
// interpreter), so nothing is allocated per instruction.

const TWO32 = 4294967296;

/** The result of the last pair helper. */
export const r = { lo: 0, hi: 0 };

export function shl64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    r.lo = lo >>> 0;
    r.hi = hi >>> 0;
  } else if (s < 32) {
    r.hi = ((hi << s) | (lo >>> (32 - s))) >>> 0;
    r.lo = (lo << s) >>> 0;
  } else {
    r.hi = (lo << (s - 32)) >>> 0;
    r.lo = 0;
  }
}

export function shr64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    r.lo = lo >>> 0;
    r.hi = hi >>> 0;
  } else if (s < 32) {
    r.lo = ((lo >>> s) | (hi << (32 - s))) >>> 0;
    r.hi = hi >>> s;
  } else {
    r.lo = hi >>> (s - 32);
    r.hi = 0;
  }
}

export function sar64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    r.lo = lo >>> 0;
    r.hi = hi >>> 0;
  } else if (s < 32) {
    r.lo = ((lo >>> s) | (hi << (32 - s))) >>> 0;
    r.hi = (hi >> s) >>> 0;
  } else {
    r.lo = (hi >> (s - 32)) >>> 0;
    r.hi = (hi >> 31) >>> 0;
  }
}

export function ror64(lo: number, hi: number, s: number): void {
  s &= 63;
  if (s === 0) {
    r.lo = lo >>> 0;
    r.hi = hi >>> 0;
    return;
  }
  if (s >= 32) {
    const t = lo;
    lo = hi;
    hi = t;
    s -= 32;
    if (s === 0) {
      r.lo = lo >>> 0;
      r.hi = hi >>> 0;
      return;
    }
  }
  r.lo = ((lo >>> s) | (hi << (32 - s))) >>> 0;
  r.hi = ((hi >>> s) | (lo << (32 - s))) >>> 0;
}

export function ror32(v: number, s: number): number {
  s &= 31;
  return s === 0 ? v >>> 0 : ((v >>> s) | (v << (32 - s))) >>> 0;
}

/** Shift by type 0 lsl, 1 lsr, 2 asr, 3 ror (the A64 `shift` field). */
export function shift64(lo: number, hi: number, type: number, s: number): void {
  switch (type) {
    case 0:
      return shl64(lo, hi, s);
    case 1:
      return shr64(lo, hi, s);
    case 2:
      return sar64(lo, hi, s);
    default:
      return ror64(lo, hi, s);
  }
}

export function shift32(v: number, type: number, s: number): number {
  s &= 31;
  switch (type) {
    case 0:
      return (v << s) >>> 0;
    case 1:
      return v >>> s;
    case 2:
      return (v >> s) >>> 0;
    default:
      return ror32(v, s);
  }
}

/** The high 32 bits of the unsigned 64-bit product a * b. */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/** Low 64 bits of a * b. */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  const hi = mulhu32(alo, blo) + Math.imul(alo, bhi) + Math.imul(ahi, blo);
  r.lo = Math.imul(alo, blo) >>> 0;
  r.hi = hi >>> 0;
}

/** High 64 bits of the unsigned 128-bit product a * b. */
export function umulh64(alo: number, ahi: number, blo: number, bhi: number): void {
  // Column sums of the four 32x32 products, each split into (lo, hi).
  const ll_hi = mulhu32(alo, blo);
  const lh_lo = Math.imul(alo, bhi) >>> 0, lh_hi = mulhu32(alo, bhi);
  const hl_lo = Math.imul(ahi, blo) >>> 0, hl_hi = mulhu32(ahi, blo);
  const hh_lo = Math.imul(ahi, bhi) >>> 0, hh_hi = mulhu32(ahi, bhi);
  // Word 1: ll_hi + lh_lo + hl_lo; only its carry matters.
  const w1 = ll_hi + lh_lo + hl_lo;
  const c1 = Math.floor(w1 / TWO32);
  const w2 = lh_hi + hl_hi + hh_lo + c1;
  r.lo = w2 >>> 0;
  r.hi = (hh_hi + Math.floor(w2 / TWO32)) >>> 0;
}

/** High 64 bits of the signed 128-bit product a * b. */
export function smulh64(alo: number, ahi: number, blo: number, bhi: number): void {
  umulh64(alo, ahi, blo, bhi);
  let lo = r.lo, hi = r.hi;
  // Signed = unsigned - (a < 0 ? b << 64 : 0) - (b < 0 ? a << 64 : 0).
  if (ahi >>> 31) {
    const l = lo - blo;
    hi = (hi - bhi - (l < 0 ? 1 : 0)) >>> 0;
    lo = l >>> 0;
  }
  if (bhi >>> 31) {
    const l = lo - alo;
    hi = (hi - ahi - (l < 0 ? 1 : 0)) >>> 0;
    lo = l >>> 0;
  }
  r.lo = lo >>> 0;
  r.hi = hi >>> 0;
}

/** Unsigned 64-bit division; quotient in r (0 when dividing by zero, as A64 does). */
export function udiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (bhi === 0 && blo === 0) {
    r.lo = 0;
    r.hi = 0;
    return;
  }
  if (ahi === 0 && bhi === 0) {
    r.lo = Math.floor(alo / blo) >>> 0;
    r.hi = 0;
    return;
  }
  if (bhi === 0) {
    // Schoolbook by 16-bit digits: every partial dividend stays below 2^48,
    // and a quotient digit below 2^16 is never rounded up by the division.
    const qh = Math.floor(ahi / blo);
    let rem = ahi - qh * blo;
    let q = 0;
    for (let s = 16; s >= 0; s -= 16) {
      const cur = rem * 65536 + ((alo >>> s) & 0xffff);
      const d = Math.floor(cur / blo);
      rem = cur - d * blo;
      q = q * 65536 + d;
    }
    r.lo = q >>> 0;
    r.hi = qh >>> 0;
    return;
  }
  // Shift-and-subtract, one quotient bit per step.
  let qlo = 0, qhi = 0, rlo = 0, rhi = 0;
  for (let i = 63; i >= 0; i--) {
    // rem = rem << 1 | bit i of a
    rhi = ((rhi << 1) | (rlo >>> 31)) >>> 0;
    const bit = i >= 32 ? (ahi >>> (i - 32)) & 1 : (alo >>> i) & 1;
    rlo = ((rlo << 1) | bit) >>> 0;
    if (rhi > bhi || (rhi === bhi && rlo >= blo)) {
      const l = rlo - blo;
      rhi = (rhi - bhi - (l < 0 ? 1 : 0)) >>> 0;
      rlo = l >>> 0;
      if (i >= 32) qhi |= 1 << (i - 32);
      else qlo |= 1 << i;
    }
  }
  r.lo = qlo >>> 0;
  r.hi = qhi >>> 0;
}

/** The extended register operand (option: uxtb..sxtx) shifted left, into r. */
export function extendReg(lo: number, hi: number, option: number, shift: number): void {
  switch (option) {
    case 0:
      lo &= 0xff;
      hi = 0;
      break;
    case 1:
      lo &= 0xffff;
      hi = 0;
      break;
    case 2:
      hi = 0;
      break;
    case 4:
      lo = (lo << 24) >> 24;
      hi = lo >> 31;
      break;
    case 5:
      lo = (lo << 16) >> 16;
      hi = lo >> 31;
      break;
    case 6:
      hi = lo >> 31;
      break;
    default: // uxtx, sxtx
  }
  shl64(lo, hi, shift);
}

/** Two's complement negation of a pair, into r. */
export function neg64(lo: number, hi: number): void {
  const l = (~lo >>> 0) + 1;
  r.lo = l >>> 0;
  r.hi = ((~hi >>> 0) + (l > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Signed 64-bit division, truncating; x / 0 = 0 and MIN / -1 = MIN as on A64. */
export function sdiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  const an = ahi >>> 31, bn = bhi >>> 31;
  if (an) {
    neg64(alo, ahi);
    alo = r.lo;
    ahi = r.hi;
  }
  if (bn) {
    neg64(blo, bhi);
    blo = r.lo;
    bhi = r.hi;
  }
  udiv64(alo, ahi, blo, bhi);
  if (an !== bn) neg64(r.lo, r.hi);
}

export function sdiv32(a: number, b: number): number {
  if (b === 0) return 0;
  a |= 0;
  b |= 0;
  if (a === -2147483648 && b === -1) return 0x80000000;
  return Math.trunc(a / b) >>> 0;
}

export function rbit32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

export function rev32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

export function rev16x2(v: number): number {
  return (((v & 0x00ff00ff) << 8) | ((v >>> 8) & 0x00ff00ff)) >>> 0;
}

/** Count leading sign bits (excluding the sign bit itself) of a 32-bit value. */
export function cls32(v: number): number {
  return Math.clz32((v ^ (v >> 31)) >>> 0) - 1;
}

/** A mask of `w` ones (0..64) at bit 0, into r. */
export function ones64(w: number): void {
  if (w >= 64) {
    r.lo = 0xffffffff;
    r.hi = 0xffffffff;
  } else if (w >= 32) {
    r.lo = 0xffffffff;
    r.hi = w === 32 ? 0 : (0xffffffff >>> (64 - w));
  } else {
    r.lo = w === 0 ? 0 : 0xffffffff >>> (32 - w);
    r.hi = 0;
  }
}

/**
 * DecodeBitMasks for a logical immediate (N:immr:imms), into r; returns
 * false for a reserved encoding. `sf` selects 64 bits (else the result is
 * the 32-bit mask with hi = 0).
 */
export function decodeLogicalImm(n: number, immr: number, imms: number, sf: boolean): boolean {
  const lenBits = (n << 6) | (~imms & 0x3f);
  if (lenBits === 0) return false;
  const len = 31 - Math.clz32(lenBits);
  if (len < 1 || (!sf && len > 5)) return false;
  const levels = (1 << len) - 1;
  const s = imms & levels;
  if (s === levels) return false;
  const rot = immr & levels;
  const esize = 1 << len;
  if (esize === 64) {
    ones64(s + 1);
    ror64(r.lo, r.hi, rot);
    return true;
  }
  // An element of at most 32 bits: rotate within it, then replicate.
  const emask = esize === 32 ? 0xffffffff : (1 << esize) - 1;
  const welem = s + 1 === 32 ? 0xffffffff : (1 << (s + 1)) - 1;
  let e = rot === 0 ? welem : ((welem >>> rot) | (welem << (esize - rot))) & emask;
  for (let w = esize; w < 32; w *= 2) e = e | (e << w);
  r.lo = e >>> 0;
  r.hi = sf ? e >>> 0 : 0;
  return true;
}

/** A 64-bit value as a JS number when it is below 2^53, else -1. */
export function toNumber(lo: number, hi: number): number {
  return hi < 0x200000 ? hi * TWO32 + lo : -1;
}
