// Shifts and rotates (group 2), shld/shrd, and the bit instructions
// (bt/bts/btr/btc, bsf/bsr, tzcnt/lzcnt, popcnt).
//
// Flags follow the SDM where it defines them. Where it leaves them
// undefined we choose, always the same way: AF = 0; OF of a multi-bit shift
// is computed as for a 1-bit one (shl: MSB(r) ^ CF, shr: the two top bits
// of r, sar: 0); CF of shl/shr by at least the operand width is 0.

import { CF, flags, OF, setCO, setFlags, ZF } from "./flags.ts";
import { CONTINUE, type Insn, RCX } from "./insn.ts";
import { ea, getReg, setReg } from "./operand.ts";
import { type Cpu, TWO32 } from "./state.ts";

export const ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAR = 7;

/** High word of the last 64-bit helper result. */
let outHi = 0;

/** Bit k (0-63) of (hi, lo). */
function bit64(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** (hi, lo) << n for 0 <= n <= 63; the result's high word in outHi. */
function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    outHi = hi;
    return lo;
  }
  if (n < 32) {
    outHi = ((hi << n) | (lo >>> (32 - n))) >>> 0;
    return (lo << n) >>> 0;
  }
  outHi = (lo << (n - 32)) >>> 0;
  return 0;
}

/** (hi, lo) >>> n (logical) for 0 <= n <= 63. */
function shr64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    outHi = hi;
    return lo;
  }
  if (n < 32) {
    outHi = hi >>> n;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  outHi = 0;
  return hi >>> (n - 32);
}

/** (hi, lo) >> n (arithmetic) for 0 <= n <= 63. */
function sar64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    outHi = hi;
    return lo;
  }
  if (n < 32) {
    outHi = ((hi | 0) >> n) >>> 0;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  outHi = ((hi | 0) >> 31) >>> 0;
  return ((hi | 0) >> (n - 32)) >>> 0;
}

/** Sign-extends the low `bits` bits of v to an int32. */
function sext(v: number, bits: number): number {
  return bits === 32 ? v | 0 : (v << (32 - bits)) >> (32 - bits);
}

/** Group 2: op in i.op, count in i.imm (-1: cl). */
export function shiftGroup(c: Cpu, i: Insn): number {
  const sz = i.sz, w = sz * 8, op = i.op;
  const n = (i.imm >= 0 ? i.imm : c.g[RCX]) & (sz === 8 ? 63 : 31);
  let va = 0, lo: number;
  if (i.m >= 0) lo = getReg(c, i.m, i.ms, sz);
  else lo = c.loadW(va = ea(c, i), sz);
  let hi = sz === 8 ? c.hi : 0;
  if (n === 0) {
    // No flags change; a 32-bit register is still written (zero-extended).
    if (i.m >= 0 && sz === 4) setReg(c, i.m, 0, 4, lo, 0);
    return CONTINUE;
  }
  let cf = 0, of = 0;
  switch (op) {
    case ROL:
    case ROR: {
      const k = n % w;
      const left = op === ROL ? k : (w - k) % w;
      if (w === 64) {
        if (left !== 0) {
          const l1 = shl64(lo, hi, left), h1 = outHi;
          const l2 = shr64(lo, hi, 64 - left), h2 = outHi;
          lo = (l1 | l2) >>> 0;
          hi = (h1 | h2) >>> 0;
        }
      } else if (left !== 0) {
        lo = (((lo << left) | (lo >>> (w - left))) & mask(w)) >>> 0;
      }
      if (op === ROL) {
        cf = lo & 1;
        of = msbOf(lo, hi, w) ^ cf;
      } else {
        cf = msbOf(lo, hi, w);
        of = cf ^ (w === 64 ? (hi >>> 30) & 1 : (lo >>> (w - 2)) & 1);
      }
      return rotateDone(c, i, va, lo, hi, cf, of);
    }
    case RCL:
    case RCR: {
      // Rotate through CF one bit at a time: rare, and the count is small.
      const k = w === 8 ? n % 9 : w === 16 ? n % 17 : n;
      cf = flags(c) & CF;
      const ofBefore = msbOf(lo, hi, w) ^ cf;
      for (let j = 0; j < k; j++) {
        if (op === RCL) {
          const out = msbOf(lo, hi, w);
          lo = (shl64(lo, hi, 1) | cf) >>> 0;
          hi = outHi;
          if (w < 64) {
            lo = (lo & mask(w)) >>> 0;
            hi = 0;
          }
          cf = out;
        } else {
          const out = lo & 1;
          lo = shr64(lo, hi, 1);
          hi = outHi;
          if (w === 64) hi = (hi | (cf << 31)) >>> 0;
          else lo = (lo | (cf << (w - 1))) >>> 0;
          cf = out;
        }
      }
      of = op === RCL ? msbOf(lo, hi, w) ^ cf : ofBefore;
      return rotateDone(c, i, va, lo, hi, cf, of);
    }
    case SHL:
    case 6: {
      if (w === 64) {
        cf = bit64(lo, hi, 64 - n);
        lo = shl64(lo, hi, n);
        hi = outHi;
      } else {
        cf = n <= w ? (lo >>> (w - n)) & 1 : 0;
        lo = n >= w ? 0 : ((lo << n) & mask(w)) >>> 0;
      }
      of = msbOf(lo, hi, w) ^ cf;
      break;
    }
    case SHR: {
      if (w === 64) {
        cf = bit64(lo, hi, n - 1);
        lo = shr64(lo, hi, n);
        hi = outHi;
        of = (hi >>> 31) ^ ((hi >>> 30) & 1);
      } else {
        cf = n <= w ? (lo >>> (n - 1)) & 1 : 0;
        lo = n >= w ? 0 : lo >>> n;
        of = ((lo >>> (w - 1)) ^ (lo >>> (w - 2))) & 1;
      }
      break;
    }
    default: { // SAR
      if (w === 64) {
        cf = bit64(lo, hi, n - 1);
        lo = sar64(lo, hi, n);
        hi = outHi;
      } else {
        const s = sext(lo, w);
        cf = (s >> Math.min(n - 1, 31)) & 1;
        lo = ((s >> Math.min(n, 31)) & mask(w)) >>> 0;
      }
      of = 0;
    }
  }
  if (i.m >= 0) setReg(c, i.m, i.ms, sz, lo, hi);
  else c.store(va, sz, lo, hi);
  setCO(c, sz, lo, hi, cf, of);
  return CONTINUE;
}

function msbOf(lo: number, hi: number, w: number): number {
  return w === 64 ? hi >>> 31 : (lo >>> (w - 1)) & 1;
}

function mask(w: number): number {
  return w === 32 ? 0xffffffff : (1 << w) - 1;
}

/** Writes a rotate's result; rotates change only CF and OF. */
function rotateDone(
  c: Cpu,
  i: Insn,
  va: number,
  lo: number,
  hi: number,
  cf: number,
  of: number,
): number {
  if (i.m >= 0) setReg(c, i.m, i.ms, i.sz, lo, hi);
  else c.store(va, i.sz, lo, hi);
  setFlags(c, (flags(c) & ~(CF | OF)) | cf | (of !== 0 ? OF : 0));
  return CONTINUE;
}

/** shld (op 0) / shrd (op 1) r/m, reg, imm8 (i.imm) or cl (i.imm = -1). */
export function shiftDouble(c: Cpu, i: Insn): number {
  const sz = i.sz, w = sz * 8;
  const n = (i.imm >= 0 ? i.imm : c.g[RCX]) & (sz === 8 ? 63 : 31);
  const src = getReg(c, i.r, 0, sz), srcHi = sz === 8 ? c.hi : 0;
  let va = 0, lo: number;
  if (i.m >= 0) lo = getReg(c, i.m, 0, sz);
  else lo = c.loadW(va = ea(c, i), sz);
  let hi = sz === 8 ? c.hi : 0;
  if (n === 0) {
    if (i.m >= 0 && sz === 4) setReg(c, i.m, 0, 4, lo, 0);
    return CONTINUE;
  }
  const signBefore = w === 64 ? hi >>> 31 : (lo >>> (w - 1)) & 1;
  let cf: number;
  if (w === 64) {
    if (i.op === 0) {
      cf = bit64(lo, hi, 64 - n);
      const l1 = shl64(lo, hi, n), h1 = outHi;
      const l2 = shr64(src, srcHi, 64 - n), h2 = outHi;
      lo = (l1 | l2) >>> 0;
      hi = (h1 | h2) >>> 0;
    } else {
      cf = bit64(lo, hi, n - 1);
      const l1 = shr64(lo, hi, n), h1 = outHi;
      const l2 = shl64(src, srcHi, 64 - n), h2 = outHi;
      lo = (l1 | l2) >>> 0;
      hi = (h1 | h2) >>> 0;
    }
  } else {
    // dst:src as one 2w-bit value (w <= 32: a 64-bit pair), shifted, then w bits taken.
    const pl = w === 32 ? src : ((lo << w) | src) >>> 0, ph = w === 32 ? lo : 0;
    if (i.op === 0) {
      cf = n <= w ? (lo >>> (w - n)) & 1 : 0;
      const sl = shl64(pl, ph, n);
      lo = w === 32 ? outHi : (sl >>> w) & mask(w);
    } else {
      // shrd: src:dst, shifted right.
      const ql = w === 32 ? lo : ((src << w) | lo) >>> 0, qh = w === 32 ? src : 0;
      cf = (lo >>> Math.min(n - 1, 31)) & 1;
      lo = (shr64(ql, qh, n) & mask(w)) >>> 0;
    }
    lo >>>= 0;
    hi = 0;
  }
  if (i.m >= 0) setReg(c, i.m, 0, sz, lo, hi);
  else c.store(va, sz, lo, hi);
  const signAfter = w === 64 ? hi >>> 31 : (lo >>> (w - 1)) & 1;
  setCO(c, sz, lo, hi, cf, signBefore ^ signAfter);
  return CONTINUE;
}

/**
 * bt/bts/btr/btc (op 4-7 as in group 8: test, set, reset, complement).
 * i.imm >= 0: immediate bit offset; -1: the offset is register i.r, which
 * for a memory operand may reach outside it (a bit string).
 */
export function bitTest(c: Cpu, i: Insn): number {
  const sz = i.sz, w = sz * 8, op = i.op;
  let cf: number;
  if (i.m >= 0) {
    const k = (i.imm >= 0 ? i.imm : c.g[i.r]) & (w - 1);
    let lo = getReg(c, i.m, 0, sz), hi = sz === 8 ? c.hi : 0;
    cf = bit64(lo, hi, k);
    if (op !== 4) {
      const want = op === 5 ? 1 : op === 6 ? 0 : cf ^ 1;
      if (want !== cf) {
        if (k < 32) lo = (lo ^ (1 << k)) >>> 0;
        else hi = (hi ^ (1 << (k - 32))) >>> 0;
      }
      setReg(c, i.m, 0, sz, lo, hi);
    }
  } else {
    // The bit offset: an immediate taken modulo the width, or a signed
    // register value that may address bytes outside the operand.
    const lo = c.g[i.r];
    const off = i.imm >= 0
      ? i.imm & (w - 1)
      : sz === 8
      ? (c.g[i.r + 1] | 0) * TWO32 + lo
      : sz === 4
      ? lo | 0
      : sext(lo, 16);
    const bytes = Math.floor(off / 8);
    const k = off - bytes * 8;
    let va = ea(c, i);
    if (va >= 0) va = c.va(va + bytes);
    const b = op === 4 ? c.ld8(va) : c.loadW(va, 1);
    cf = (b >>> k) & 1;
    if (op !== 4) {
      const want = op === 5 ? 1 : op === 6 ? 0 : cf ^ 1;
      c.st8(va, want !== 0 ? b | (1 << k) : b & ~(1 << k));
    }
  }
  setFlags(c, (flags(c) & ~CF) | cf);
  return CONTINUE;
}

/** bsf (op 0), bsr (1), tzcnt (2), lzcnt (3), popcnt (4): r = f(r/m). */
export function bitScan(c: Cpu, i: Insn): number {
  const sz = i.sz, w = sz * 8;
  let lo: number;
  if (i.m >= 0) lo = getReg(c, i.m, 0, sz);
  else lo = c.load(ea(c, i), sz);
  const hi = sz === 8 ? c.hi : 0;
  const zero = (lo | hi) === 0;
  let r: number;
  switch (i.op) {
    case 0:
    case 2: // lowest set bit
      r = zero ? w : lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
      break;
    case 1:
    case 3: // highest set bit / leading zeros
      r = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
      if (i.op === 3) r = zero ? w : w - 1 - r;
      break;
    default:
      r = popcount(lo) + popcount(hi);
  }
  if (i.op <= 1) {
    // bsf/bsr: a zero source leaves the destination alone and sets ZF.
    if (!zero) setReg(c, i.r, 0, sz, r, 0);
    setFlags(c, zero ? ZF : 0);
  } else if (i.op <= 3) {
    setReg(c, i.r, 0, sz, r, 0);
    setFlags(c, (zero ? CF : 0) | (r === 0 ? ZF : 0));
  } else {
    setReg(c, i.r, 0, sz, r, 0);
    setFlags(c, zero ? ZF : 0);
  }
  return CONTINUE;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}
