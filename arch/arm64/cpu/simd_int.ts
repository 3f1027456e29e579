// AdvSIMD integer arithmetic: three-same, three-different (long / wide),
// two-register misc, across-lanes, shift by immediate, and their scalar
// forms. Lanes of up to 32 bits are JS numbers (typed-array stores wrap
// them); 64-bit lanes are (lo, hi) pairs.

import type { Arm64Core } from "./core.ts";
import { r, sar64, shl64, shr64 } from "./bits.ts";
import { NEXT } from "./ops.ts";
import {
  commit,
  commitScalar,
  copyBytes,
  lane,
  rd,
  rm,
  rn,
  setT,
  sx,
  tb,
  ts,
  UNDEF,
} from "./lanes.ts";
import { execFpMisc, execFpScalarPair, execFpVec3 } from "./simd_fp.ts";
import type { VRegs } from "./vregs.ts";

const TWO32 = 4294967296;

/** Lane i of a register as a 64-bit pair, into r. */
function lane64(v: VRegs, reg: number, i: number): void {
  r.lo = v.s[reg * 4 + 2 * i];
  r.hi = v.s[reg * 4 + 2 * i + 1];
}

function setT64(i: number, lo: number, hi: number): void {
  ts[2 * i] = lo;
  ts[2 * i + 1] = hi;
}

/** A signed JS integer (|x| < 2^53) as a 64-bit lane of the scratch. */
function setT64Num(i: number, x: number): void {
  const hi = Math.floor(x / TWO32);
  setT64(i, x - hi * TWO32, hi);
}

function cmp64(alo: number, ahi: number, blo: number, bhi: number, signed: boolean): number {
  const ah = signed ? ahi | 0 : ahi, bh = signed ? bhi | 0 : bhi;
  if (ah !== bh) return ah < bh ? -1 : 1;
  return alo < blo ? -1 : alo > blo ? 1 : 0;
}

function saturate(x: number, esize: number, unsigned: boolean): number {
  const lo = unsigned ? 0 : -(2 ** (esize - 1)),
    hi = unsigned ? 2 ** esize - 1 : 2 ** (esize - 1) - 1;
  return x < lo ? lo : x > hi ? hi : x;
}

/** One lane of a three-same integer op (esize <= 32); NaN when not allocated. */
function int3(op: number, u: number, a: number, b: number, acc: number, esize: number): number {
  const sa = u ? a : sx(a, esize), sb = u ? b : sx(b, esize);
  switch (op) {
    case 0b10000:
      return u ? a - b : a + b;
    case 0b10011:
      return u ? NaN : Math.imul(a, b);
    case 0b10010:
      return u ? acc - Math.imul(a, b) : acc + Math.imul(a, b);
    case 0b10001:
      return (u ? a === b : (a & b) !== 0) ? -1 : 0;
    case 0b00110:
      return sa > sb ? -1 : 0;
    case 0b00111:
      return sa >= sb ? -1 : 0;
    case 0b01100:
      return sa >= sb ? a : b;
    case 0b01101:
      return sa <= sb ? a : b;
    case 0b01110:
      return Math.abs(sa - sb);
    case 0b01111:
      return acc + Math.abs(sa - sb);
    case 0b00000:
      return Math.floor((sa + sb) / 2);
    case 0b00010:
      return Math.floor((sa + sb + 1) / 2);
    case 0b00100:
      return Math.floor((sa - sb) / 2);
    case 0b00001:
      return saturate(sa + sb, esize, u === 1);
    case 0b00101:
      return saturate(sa - sb, esize, u === 1);
    case 0b01000: { // sshl / ushl by the signed low byte of b
      const s = sx(b & 0xff, 8);
      if (s >= 0) return s >= esize ? 0 : a << s;
      return -s >= esize ? (u || sa >= 0 ? 0 : -1) : Math.floor(sa / 2 ** -s);
    }
    default:
      return NaN;
  }
}

export function execThreeSame(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, u = (w >>> 29) & 1, size = (w >>> 22) & 3;
  const op = (w >>> 11) & 31, d = rd(w), n = rn(w), m = rm(w);
  if (op >= 0b11000) return execFpVec3(core, w);
  if (op === 0b00011) {
    // Bitwise: and, bic, orr, orn (U = 0); eor, bsl, bit, bif (U = 1).
    for (let i = 0; i < (q ? 4 : 2); i++) {
      const a = v.s[n * 4 + i], b = v.s[m * 4 + i], x = v.s[d * 4 + i];
      const sel = (u << 2) | size;
      ts[i] = sel === 0
        ? a & b
        : sel === 1
        ? a & ~b
        : sel === 2
        ? a | b
        : sel === 3
        ? a | ~b
        : sel === 4
        ? a ^ b
        : sel === 5
        ? (x & a) | (~x & b)
        : sel === 6
        ? (x & ~b) | (a & b)
        : (x & b) | (a & ~b);
    }
    commit(v, d, q);
    return NEXT;
  }
  if (size === 3 && !q) return UNDEF;
  const esize = 8 << size, count = (q ? 128 : 64) / esize;
  const pairwise = (op === 0b10111 && !u) || op === 0b10100 || op === 0b10101;
  if (esize === 64) return threeSame64(v, u, op, d, n, m, count, pairwise);
  for (let i = 0; i < count; i++) {
    let a: number, b: number, x: number;
    if (pairwise) {
      const j = 2 * i, src = j < count ? n : m;
      a = lane(v, src, j % count, esize);
      b = lane(v, src, (j + 1) % count, esize);
      x = op === 0b10111 ? a + b : int3(op === 0b10100 ? 0b01100 : 0b01101, u, a, b, 0, esize);
    } else {
      a = lane(v, n, i, esize);
      b = lane(v, m, i, esize);
      x = int3(op, u, a, b, lane(v, d, i, esize), esize);
    }
    if (Number.isNaN(x)) return UNDEF;
    setT(i, esize, x);
  }
  commit(v, d, q);
  return NEXT;
}

function threeSame64(
  v: VRegs,
  u: number,
  op: number,
  d: number,
  n: number,
  m: number,
  count: number,
  pairwise: boolean,
): number {
  for (let i = 0; i < count; i++) {
    let alo: number, ahi: number, blo: number, bhi: number;
    if (pairwise) {
      if (op !== 0b10111) return UNDEF;
      const src = i === 0 ? n : m;
      lane64(v, src, 0);
      alo = r.lo;
      ahi = r.hi;
      lane64(v, src, 1);
      blo = r.lo;
      bhi = r.hi;
    } else {
      lane64(v, n, i);
      alo = r.lo;
      ahi = r.hi;
      lane64(v, m, i);
      blo = r.lo;
      bhi = r.hi;
    }
    if (!op64(u, pairwise ? 0b10000 : op, alo, ahi, blo, bhi)) return UNDEF;
    setT64(i, r.lo, r.hi);
  }
  commit(v, d, 1);
  return NEXT;
}

/** A 64-bit lane op (add, sub, cmtst, cmeq, cmgt, cmhi, cmge, cmhs) into r. */
function op64(u: number, op: number, alo: number, ahi: number, blo: number, bhi: number): boolean {
  let t: boolean;
  switch (op) {
    case 0b10000: {
      const lo = u ? alo - blo : alo + blo;
      r.lo = lo >>> 0;
      r.hi = (u ? ahi - bhi - (lo < 0 ? 1 : 0) : ahi + bhi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
      return true;
    }
    case 0b10001:
      t = u ? alo === blo && ahi === bhi : ((alo & blo) | (ahi & bhi)) !== 0;
      break;
    case 0b00110:
      t = cmp64(alo, ahi, blo, bhi, !u) > 0;
      break;
    case 0b00111:
      t = cmp64(alo, ahi, blo, bhi, !u) >= 0;
      break;
    default:
      return false;
  }
  r.lo = r.hi = t ? 0xffffffff : 0;
  return true;
}

/** Opcodes 0, 1, 2, 3, 5, 7, 8, 10, 12 of the three-different group, as a bit set. */
const THREE_DIFF_OPS = 0b1_0101_1010_1111;

/** The long and wide forms: xADDL, xADDW, xSUBL, xSUBW, xABAL, xABDL, xMLAL, xMLSL, xMULL. */
export function execThreeDiff(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, u = (w >>> 29) & 1, size = (w >>> 22) & 3;
  const op = (w >>> 12) & 15, d = rd(w), n = rn(w), m = rm(w);
  if (size === 3 || ((THREE_DIFF_OPS >> op) & 1) === 0) return UNDEF;
  const esize = 8 << size, dsize = 2 * esize, count = 64 / esize, off = q ? count : 0;
  const wide = op === 1 || op === 3;
  for (let i = 0; i < count; i++) {
    const bl = lane(v, m, i + off, esize), b = u ? bl : sx(bl, esize);
    // The first operand: wide (already dsize bits) or widened; as a number.
    let a: number;
    if (!wide) {
      const al = lane(v, n, i + off, esize);
      a = u ? al : sx(al, esize);
    } else if (dsize < 64) a = lane(v, n, i, dsize);
    else a = 0; // 64-bit wide lanes are added as pairs below
    let x: number;
    switch (op) {
      case 0:
      case 1:
        x = a + b;
        break;
      case 2:
      case 3:
        x = a - b;
        break;
      case 7:
        x = Math.abs(a - b);
        break;
      case 12:
        x = a * b;
        break;
      default:
        x = op === 5 ? Math.abs(a - b) : op === 8 ? a * b : -(a * b);
    }
    const accumulate = op === 5 || op === 8 || op === 10;
    if (dsize < 64) {
      setT(i, dsize, accumulate ? lane(v, d, i, dsize) + x : x);
      continue;
    }
    // 64-bit results: |x| < 2^64 may not be exact as a number when it is
    // a product; products of 32-bit lanes are formed exactly as pairs.
    let lo: number, hi: number;
    if (op === 8 || op === 10 || op === 12) {
      const p = productPair(a, b);
      lo = p[0];
      hi = p[1];
      if (op === 10) {
        const l = (~lo >>> 0) + 1;
        lo = l >>> 0;
        hi = ((~hi >>> 0) + (l > 0xffffffff ? 1 : 0)) >>> 0;
      }
    } else {
      const hx = Math.floor(x / TWO32);
      lo = x - hx * TWO32;
      hi = hx >>> 0;
    }
    if (wide || accumulate) {
      lane64(v, wide ? n : d, i);
      const wl = r.lo + lo;
      lo = wl >>> 0;
      hi = (r.hi + hi + (wl > 0xffffffff ? 1 : 0)) >>> 0;
    }
    setT64(i, lo, hi);
  }
  commit(v, d, 1);
  return NEXT;
}

const pair = [0, 0];

/** The exact 64-bit product of two signed or unsigned 32-bit integers, as [lo, hi]. */
function productPair(a: number, b: number): number[] {
  const neg = (a < 0) !== (b < 0);
  const x = Math.abs(a), y = Math.abs(b);
  const x0 = x % 65536, x1 = Math.floor(x / 65536), y0 = y % 65536, y1 = Math.floor(y / 65536);
  const mid = x0 * y1 + x1 * y0; // < 2^49
  let lo = x0 * y0 + (mid % 65536) * 65536; // < 2^49
  let hi = x1 * y1 + Math.floor(mid / 65536) + Math.floor(lo / TWO32);
  lo = lo % TWO32;
  if (neg) {
    const l = (~lo >>> 0) + 1;
    lo = l >>> 0;
    hi = (~hi >>> 0) + (l > 0xffffffff ? 1 : 0);
  }
  pair[0] = lo >>> 0;
  pair[1] = hi >>> 0;
  return pair;
}

/** Two-register misc, vector or scalar. */
export function execTwoMisc(core: Arm64Core, w: number, scalar: boolean): number {
  const v = core.v, u = (w >>> 29) & 1, size = (w >>> 22) & 3, op = (w >>> 12) & 31;
  const q = scalar ? 0 : (w >>> 30) & 1, d = rd(w), n = rn(w);
  if (op >= 0b01100 && op !== 0b10010 && op !== 0b10100 && op !== 0b10011) {
    return execFpMisc(core, w, scalar);
  }
  const esize = 8 << size, count = scalar ? 1 : (q ? 128 : 64) / esize;
  if (scalar && size !== 3) return UNDEF;
  if (esize === 64 && !q && !scalar) return UNDEF;
  if (op === 0b10010 && !u && !scalar) {
    // XTN / XTN2: narrow each 2*esize lane of n; XTN2 keeps the low half of d.
    if (size === 3) return UNDEF;
    const c = 64 / esize, off = q ? c : 0;
    copyBytes(v.b, d * 16, tb, 0, 16);
    for (let i = 0; i < c; i++) {
      setT(i + off, esize, esize === 32 ? v.s[n * 4 + 2 * i] : lane(v, n, i, 2 * esize));
    }
    commit(v, d, q);
    return NEXT;
  }
  if (op === 0b00010 || op === 0b00110) {
    // xADDLP / xADALP: add adjacent pairs into lanes twice as wide.
    if (size === 3) return UNDEF;
    const dsize = 2 * esize, c = (q ? 128 : 64) / dsize;
    for (let i = 0; i < c; i++) {
      const a = lane(v, n, 2 * i, esize), b = lane(v, n, 2 * i + 1, esize);
      const x = u ? a + b : sx(a, esize) + sx(b, esize);
      if (dsize === 64) {
        let hi = Math.floor(x / TWO32), lo = x - hi * TWO32;
        if (op === 0b00110) {
          lane64(v, d, i);
          const l = r.lo + lo;
          lo = l;
          hi = r.hi + hi + (l > 0xffffffff ? 1 : 0);
        }
        setT64(i, lo >>> 0, hi >>> 0);
      } else setT(i, dsize, op === 0b00110 ? lane(v, d, i, dsize) + x : x);
    }
    commit(v, d, q);
    return NEXT;
  }
  if (op <= 0b00001) {
    // REV64 / REV32 / REV16: reverse esize elements within each container.
    const container = op === 1 ? 2 : u ? 4 : 8, eb = esize / 8;
    if (eb >= container) return UNDEF;
    const bytes = q ? 16 : 8;
    for (let i = 0; i < bytes; i++) {
      const base = i - (i % container), within = i % container;
      const elem = Math.floor(within / eb);
      tb[i] = v.b[n * 16 + base + (container / eb - 1 - elem) * eb + (within % eb)];
    }
    commit(v, d, q);
    return NEXT;
  }
  for (let i = 0; i < count; i++) {
    if (esize === 64) {
      lane64(v, n, i);
      if (!misc64(u, op, r.lo, r.hi)) return UNDEF;
      setT64(i, r.lo, r.hi);
      continue;
    }
    const a = lane(v, n, i, esize), s = sx(a, esize);
    let x: number;
    switch (op) {
      case 0b00100:
        x = u ? Math.clz32(a) - (32 - esize) : Math.clz32((s ^ (s >> 31)) >>> 0) - (32 - esize) - 1;
        break;
      case 0b00101:
        if (size !== 0 && !(u && size === 1)) return UNDEF;
        if (!u) x = popcount8(a);
        else if (size === 0) x = ~a;
        else return rbitBytes(v, d, n, q);
        break;
      case 0b01000:
        x = (u ? s >= 0 : s > 0) ? -1 : 0;
        break;
      case 0b01001:
        x = (u ? s <= 0 : s === 0) ? -1 : 0;
        break;
      case 0b01010:
        if (u) return UNDEF;
        x = s < 0 ? -1 : 0;
        break;
      case 0b01011:
        x = u ? -s : Math.abs(s);
        break;
      default:
        return UNDEF;
    }
    setT(i, esize, x);
  }
  if (scalar) commitScalar(v, d, 8);
  else commit(v, d, q);
  return NEXT;
}

/** cmgt/cmge/cmeq/cmle/cmlt against zero, abs, neg on a 64-bit lane, into r. */
function misc64(u: number, op: number, lo: number, hi: number): boolean {
  const neg = (hi >>> 31) === 1, zero = (lo | hi) === 0;
  let t: boolean;
  switch (op) {
    case 0b01000:
      t = u ? !neg : !neg && !zero;
      break;
    case 0b01001:
      t = u ? neg || zero : zero;
      break;
    case 0b01010:
      if (u) return false;
      t = neg;
      break;
    case 0b01011: {
      if (!u && !neg) {
        r.lo = lo;
        r.hi = hi;
        return true;
      }
      const l = (~lo >>> 0) + 1;
      r.lo = l >>> 0;
      r.hi = ((~hi >>> 0) + (l > 0xffffffff ? 1 : 0)) >>> 0;
      return true;
    }
    default:
      return false;
  }
  r.lo = r.hi = t ? 0xffffffff : 0;
  return true;
}

function popcount8(x: number): number {
  x = x - ((x >> 1) & 0x55);
  x = (x & 0x33) + ((x >> 2) & 0x33);
  return (x + (x >> 4)) & 0x0f;
}

function rbitBytes(v: VRegs, d: number, n: number, q: number): number {
  for (let i = 0; i < (q ? 16 : 8); i++) {
    let x = v.b[n * 16 + i], y = 0;
    for (let k = 0; k < 8; k++, x >>= 1) y = (y << 1) | (x & 1);
    tb[i] = y;
  }
  commit(v, d, q);
  return NEXT;
}

/** ADDV, xADDLV, xMAXV, xMINV. */
export function execAcross(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, u = (w >>> 29) & 1, size = (w >>> 22) & 3;
  const op = (w >>> 12) & 31, d = rd(w), n = rn(w);
  if (size === 3 || (size === 2 && !q)) return UNDEF;
  const esize = 8 << size, count = (q ? 128 : 64) / esize;
  let acc = u ? lane(v, n, 0, esize) : sx(lane(v, n, 0, esize), esize);
  for (let i = 1; i < count; i++) {
    const x = u ? lane(v, n, i, esize) : sx(lane(v, n, i, esize), esize);
    switch (op) {
      case 0b00011:
        acc += x;
        break;
      case 0b01010:
        acc = Math.max(acc, x);
        break;
      case 0b11010:
        acc = Math.min(acc, x);
        break;
      case 0b11011:
        if (u) return UNDEF;
        acc += x;
        break;
      default:
        return UNDEF;
    }
  }
  if (op !== 0b00011 && op !== 0b01010 && op !== 0b11010 && op !== 0b11011) return UNDEF;
  tb.fill(0);
  const rsize = op === 0b00011 ? 2 * esize : esize;
  if (rsize === 64) setT64Num(0, acc);
  else setT(0, rsize, acc);
  commitScalar(v, d, rsize / 8);
  return NEXT;
}

/** Shifts by immediate: xSHR, xSRA, SHL, SLI, SRI, xSHLL, SHRN (vector and scalar). */
export function execShiftImm(core: Arm64Core, w: number, scalar: boolean): number {
  const v = core.v, u = (w >>> 29) & 1, immh = (w >>> 19) & 15, op = (w >>> 11) & 31;
  const q = scalar ? 1 : (w >>> 30) & 1, d = rd(w), n = rn(w);
  if (immh === 0) return UNDEF;
  const esize = 8 << (31 - Math.clz32(immh)), immhb = (w >>> 16) & 127;
  const rshift = 2 * esize - immhb, lshift = immhb - esize;
  if (scalar && esize !== 64) return UNDEF;
  if (op === 0b10100 || op === 0b10000) {
    if (scalar || esize === 64) return UNDEF;
    const c = 64 / esize, off = q ? c : 0;
    if (op === 0b10000) {
      // SHRN / SHRN2: narrow (n's lanes are 2 * esize) after a right shift.
      if (u) return UNDEF;
      copyBytes(v.b, d * 16, tb, 0, 16);
      for (let i = 0; i < c; i++) {
        if (esize === 32) {
          lane64(v, n, i);
          shr64(r.lo, r.hi, rshift);
          setT(i + off, 32, r.lo);
        } else setT(i + off, esize, lane(v, n, i, 2 * esize) >>> rshift);
      }
      commit(v, d, q);
      return NEXT;
    }
    // SSHLL / USHLL (sxtl / uxtl): widen the low (or high) half, then shift left.
    for (let i = 0; i < c; i++) {
      const a = lane(v, n, i + off, esize);
      if (esize === 32) {
        shl64(a, u ? 0 : (a >> 31) >>> 0, lshift);
        setT64(i, r.lo, r.hi);
      } else setT(i, 2 * esize, (u ? a : sx(a, esize)) << lshift);
    }
    commit(v, d, 1);
    return NEXT;
  }
  if (esize === 64 && !q) return UNDEF;
  const count = scalar ? 1 : (q ? 128 : 64) / esize;
  for (let i = 0; i < count; i++) {
    if (esize === 64) {
      if (!shift64Lane(v, u, op, n, d, i, rshift, lshift)) return UNDEF;
      continue;
    }
    const a = lane(v, n, i, esize), old = lane(v, d, i, esize);
    const right = rshift >= esize
      ? (u ? 0 : sx(a, esize) < 0 ? -1 : 0)
      : u
      ? a >>> rshift
      : sx(a, esize) >> rshift;
    const ones = esize === 32 ? 0xffffffff : (1 << esize) - 1;
    let x: number;
    switch (op) {
      case 0b00000:
        x = right;
        break;
      case 0b00010:
        x = old + right;
        break;
      case 0b01010:
        x = u ? (a << lshift) | (old & ((1 << lshift) - 1)) : a << lshift;
        break;
      case 0b01000: {
        if (!u) return UNDEF;
        const keep = rshift >= esize ? ones : ~(ones >>> rshift) & ones;
        x = (rshift >= esize ? 0 : a >>> rshift) | (old & keep);
        break;
      }
      default:
        return UNDEF;
    }
    setT(i, esize, x);
  }
  if (scalar) commitScalar(v, d, 8);
  else commit(v, d, q);
  return NEXT;
}

function shift64Lane(
  v: VRegs,
  u: number,
  op: number,
  n: number,
  d: number,
  i: number,
  rshift: number,
  lshift: number,
): boolean {
  lane64(v, n, i);
  const alo = r.lo, ahi = r.hi;
  let lo: number, hi: number;
  if (op === 0b01010) {
    shl64(alo, ahi, lshift);
    lo = r.lo;
    hi = r.hi;
    if (u) {
      // SLI keeps the destination's low lshift bits.
      lane64(v, d, i);
      const mlo = lshift >= 32 ? 0xffffffff : (1 << lshift) - 1;
      const mhi = lshift > 32 ? (1 << (lshift - 32)) - 1 : 0;
      lo = (lo | (r.lo & mlo)) >>> 0;
      hi = (hi | (r.hi & mhi)) >>> 0;
    }
  } else {
    if (rshift === 64) {
      lo = hi = u ? 0 : (ahi >> 31) >>> 0;
    } else {
      if (u) shr64(alo, ahi, rshift);
      else sar64(alo, ahi, rshift);
      lo = r.lo;
      hi = r.hi;
    }
    if (op === 0b00010) {
      lane64(v, d, i);
      const l = r.lo + lo;
      hi = (r.hi + hi + (l > 0xffffffff ? 1 : 0)) >>> 0;
      lo = l >>> 0;
    } else if (op === 0b01000) {
      if (!u) return false;
      // SRI keeps the destination's top rshift bits: keep = ~(ones >>> rshift).
      let klo = 0xffffffff, khi = 0xffffffff;
      if (rshift < 64) {
        shr64(0xffffffff, 0xffffffff, rshift);
        klo = ~r.lo;
        khi = ~r.hi;
      }
      lo = (lo | (v.s[d * 4 + 2 * i] & klo)) >>> 0;
      hi = (hi | (v.s[d * 4 + 2 * i + 1] & khi)) >>> 0;
    } else if (op !== 0b00000) return false;
  }
  setT64(i, lo, hi);
  return true;
}

/** Scalar three-same (64-bit add, sub, compares) and scalar pairwise (addp, faddp). */
export function execScalarInt(core: Arm64Core, w: number, pairwise: boolean): number {
  const v = core.v, u = (w >>> 29) & 1, size = (w >>> 22) & 3, d = rd(w), n = rn(w);
  if (pairwise) {
    const op = (w >>> 12) & 31;
    if (u) return execFpScalarPair(core, w);
    if (op !== 0b11011 || size !== 3) return UNDEF;
    lane64(v, n, 0);
    const lo = r.lo, hi = r.hi;
    lane64(v, n, 1);
    op64(0, 0b10000, lo, hi, r.lo, r.hi);
  } else {
    const op = (w >>> 11) & 31;
    if (size !== 3 || op >= 0b11000) return UNDEF;
    lane64(v, n, 0);
    const lo = r.lo, hi = r.hi;
    lane64(v, rm(w), 0);
    if (!op64(u, op, lo, hi, r.lo, r.hi)) return UNDEF;
  }
  setT64(0, r.lo, r.hi);
  commitScalar(v, d, 8);
  return NEXT;
}
