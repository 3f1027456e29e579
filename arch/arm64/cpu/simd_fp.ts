// Floating point: scalar arithmetic, compares, conversions, fmov, and the
// common vector forms. JS numbers are IEEE doubles, so double precision is
// native and single precision is a double rounded with Math.fround (exact
// for + - * / sqrt). Not modelled: FPCR rounding modes other than
// round-to-nearest, FPSR exception flags, NaN payload propagation (results
// are the default NaN), half precision, and the single rounding of the
// fused multiply-adds (computed as a multiply then an add).

import type { Arm64Core } from "./core.ts";
import { V } from "./decode_simd.ts";
import { COND_TABLE, NEXT } from "./ops.ts";
import { commit, commitScalar, fpImm32, fpImm64Hi, rd, rm, rn, tb, ts, UNDEF } from "./lanes.ts";
import type { VRegs } from "./vregs.ts";

const TWO32 = 4294967296;
const tf32 = new Float32Array(tb.buffer);
const tf64 = new Float64Array(tb.buffer);

/** Scalar s or d register value. */
function getF(v: VRegs, reg: number, dbl: boolean): number {
  return dbl ? v.f64[reg * 2] : v.f32[reg * 4];
}

/** Writes a scalar s or d result (the rest of the register is zeroed). */
function setF(v: VRegs, reg: number, dbl: boolean, x: number): void {
  v.b.fill(0, reg * 16, reg * 16 + 16);
  if (dbl) v.f64[reg * 2] = x;
  else v.f32[reg * 4] = x;
}

/** A single result is the double result rounded to single precision. */
function round(dbl: boolean, x: number): number {
  return dbl ? x : Math.fround(x);
}

/** Lane i of v[reg] as a double or single. */
function fLane(v: VRegs, reg: number, i: number, dbl: boolean): number {
  return dbl ? v.f64[reg * 2 + i] : v.f32[reg * 4 + i];
}

/** frint opcodes 8..15 -> roundInt modes (n, p, m, z, a, -, x, i; x and i round to nearest). */
const FRINT_MODES = [0, 1, 2, 3, 4, 0, 0, 0];

/** Rounds to an integral value: 0 nearest-even, 1 +inf, 2 -inf, 3 zero, 4 nearest-away. */
function roundInt(x: number, mode: number): number {
  if (!Number.isFinite(x)) return x;
  switch (mode) {
    case 1:
      return Math.ceil(x);
    case 2:
      return Math.floor(x);
    case 3:
      return Math.trunc(x);
    default: {
      const t = Math.trunc(x), frac = Math.abs(x - t);
      const up = frac > 0.5 || (frac === 0.5 && (mode === 4 || Math.abs(t) % 2 === 1));
      const res = up ? t + Math.sign(x) : t;
      return res === 0 ? (x < 0 ? -0 : 0) : res;
    }
  }
}

/** x to an integer register value with saturation (NaN -> 0), into [lo, hi]. */
const out = [0, 0];
function toInt(x: number, mode: number, bits: number, unsigned: boolean): number[] {
  let t = Number.isNaN(x) ? 0 : roundInt(x, mode);
  const max = unsigned ? 2 ** bits - 1 : 2 ** (bits - 1) - 1,
    min = unsigned ? 0 : -(2 ** (bits - 1));
  if (t >= max) {
    out[0] = bits === 64 ? 0xffffffff : max >>> 0;
    out[1] = bits === 64 ? (unsigned ? 0xffffffff : 0x7fffffff) : 0;
    return out;
  }
  if (t < min) t = min;
  const hi = Math.floor(t / TWO32);
  out[0] = (t - hi * TWO32) >>> 0;
  out[1] = bits === 64 ? hi >>> 0 : 0;
  return out;
}

/** A general register (Rn 31 = zero register) as a signed or unsigned number. */
function intValue(g: Uint32Array, n: number, sf: number, unsigned: boolean): number {
  if (n === 31) return 0;
  const lo = g[2 * n], hi = g[2 * n + 1];
  if (!sf) return unsigned ? lo : lo | 0;
  return (unsigned ? hi : hi | 0) * TWO32 + lo;
}

const COMPARE_UNORDERED = 0b0011;

function compare(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return COMPARE_UNORDERED;
  return a === b ? 0b0110 : a < b ? 0b1000 : 0b0010;
}

function maxnm(a: number, b: number, max: boolean): number {
  if (Number.isNaN(a) && !Number.isNaN(b)) return b;
  if (Number.isNaN(b) && !Number.isNaN(a)) return a;
  return max ? Math.max(a, b) : Math.min(a, b);
}

/** FP data processing, 2 sources (opcode 0..8). */
function fp2(op: number, a: number, b: number): number {
  switch (op) {
    case 0:
      return a * b;
    case 1:
      return a / b;
    case 2:
      return a + b;
    case 3:
      return a - b;
    case 4:
      return Math.max(a, b);
    case 5:
      return Math.min(a, b);
    case 6:
      return maxnm(a, b, true);
    case 7:
      return maxnm(a, b, false);
    case 8:
      return -(a * b);
    default:
      return NaN;
  }
}

export function execFp(core: Arm64Core, w: number, group: number): number {
  const v = core.v, ftype = (w >>> 22) & 3, d = rd(w), n = rn(w);
  if ((w >>> 29) & 1) return UNDEF; // S
  if (group === V.FP_INT) return fpInt(core, w);
  if (group === V.FP_FIXED) return fpFixed(core, w);
  if (ftype > 1) return UNDEF; // half precision and reserved
  const dbl = ftype === 1;
  switch (group) {
    case V.FP_1: {
      const op = (w >>> 15) & 63;
      if (op <= 2) {
        // fmov / fabs / fneg act on the bits.
        const top = n * 4 + (dbl ? 1 : 0);
        const lo = dbl ? v.s[n * 4] : 0;
        let hi = v.s[top];
        hi = op === 1 ? hi & 0x7fffffff : op === 2 ? hi ^ 0x80000000 : hi;
        v.b.fill(0, d * 16, d * 16 + 16);
        if (dbl) v.s[d * 4] = lo;
        v.s[d * 4 + (dbl ? 1 : 0)] = hi;
        return NEXT;
      }
      const x = getF(v, n, dbl);
      if (op === 3) setF(v, d, dbl, round(dbl, Math.sqrt(x)));
      else if (op === 4) setF(v, d, false, Math.fround(x));
      else if (op === 5) setF(v, d, true, x);
      else if (op >= 8 && op <= 15 && op !== 13) {
        setF(v, d, dbl, roundInt(x, FRINT_MODES[op - 8]));
      } else return UNDEF;
      return NEXT;
    }
    case V.FP_CMP: {
      if (((w >>> 14) & 3) !== 0) return UNDEF;
      const zero = (w >>> 3) & 1;
      core.nzcv = compare(getF(v, n, dbl), zero ? 0 : getF(v, rm(w), dbl));
      return NEXT;
    }
    case V.FP_IMM: {
      if (((w >>> 5) & 31) !== 0) return UNDEF;
      const imm8 = (w >>> 13) & 0xff;
      v.b.fill(0, d * 16, d * 16 + 16);
      if (dbl) v.s[d * 4 + 1] = fpImm64Hi(imm8);
      else v.s[d * 4] = fpImm32(imm8);
      return NEXT;
    }
    case V.FP_CCMP:
      if (COND_TABLE[(core.nzcv << 4) | ((w >>> 12) & 15)]) {
        core.nzcv = compare(getF(v, n, dbl), getF(v, rm(w), dbl));
      } else core.nzcv = w & 15;
      return NEXT;
    case V.FP_2: {
      const op = (w >>> 12) & 15;
      if (op > 8) return UNDEF;
      setF(v, d, dbl, round(dbl, fp2(op, getF(v, n, dbl), getF(v, rm(w), dbl))));
      return NEXT;
    }
    case V.FP_CSEL: {
      const src = COND_TABLE[(core.nzcv << 4) | ((w >>> 12) & 15)] ? n : rm(w);
      const lo = v.s[src * 4], hi = v.s[src * 4 + 1];
      v.b.fill(0, d * 16, d * 16 + 16);
      v.s[d * 4] = lo;
      if (dbl) v.s[d * 4 + 1] = hi;
      return NEXT;
    }
    case V.FP_3: {
      const a = getF(v, (w >>> 10) & 31, dbl), p = getF(v, n, dbl) * getF(v, rm(w), dbl);
      const o1 = (w >>> 21) & 1, o0 = (w >>> 15) & 1;
      const x = o1 ? (o0 ? -a + p : -a - p) : (o0 ? a - p : a + p);
      setF(v, d, dbl, round(dbl, x));
      return NEXT;
    }
    default:
      return UNDEF;
  }
}

/** FMOV (general), SCVTF / UCVTF (scalar, integer), FCVT[NPMZA][SU] (scalar, to integer). */
function fpInt(core: Arm64Core, w: number): number {
  const v = core.v, g = core.gpr, d = rd(w), n = rn(w);
  const sf = w >>> 31, ftype = (w >>> 22) & 3, rmode = (w >>> 19) & 3, op = (w >>> 16) & 7;
  if (op === 6 || op === 7) {
    // FMOV between a general register and s / d / v.d[1].
    let at: number;
    if (!sf && ftype === 0 && rmode === 0) at = 0;
    else if (sf && ftype === 1 && rmode === 0) at = 0;
    else if (sf && ftype === 2 && rmode === 1) at = 2;
    else return UNDEF;
    if (op === 6) {
      if (d !== 31) {
        g[2 * d] = v.s[n * 4 + at];
        g[2 * d + 1] = sf ? v.s[n * 4 + at + 1] : 0;
      }
    } else {
      const lo = n === 31 ? 0 : g[2 * n], hi = n === 31 ? 0 : g[2 * n + 1];
      if (at === 0) v.b.fill(0, d * 16, d * 16 + 16);
      v.s[d * 4 + at] = lo;
      if (sf) v.s[d * 4 + at + 1] = hi;
    }
    return NEXT;
  }
  if (ftype > 1) return UNDEF;
  const dbl = ftype === 1;
  if ((op === 2 || op === 3) && rmode === 0) {
    const x = intValue(g, n, sf, op === 3);
    setF(v, d, dbl, dbl ? x : Math.fround(x));
    return NEXT;
  }
  let mode: number;
  if (op <= 1) mode = rmode; // n, p, m, z: the roundInt modes 0..3
  else if ((op === 4 || op === 5) && rmode === 0) mode = 4;
  else return UNDEF;
  const res = toInt(getF(v, n, dbl), mode, sf ? 64 : 32, (op & 1) === 1);
  if (d !== 31) {
    g[2 * d] = res[0];
    g[2 * d + 1] = res[1];
  }
  return NEXT;
}

/** SCVTF / UCVTF / FCVTZS / FCVTZU with a fixed-point scale (fbits fraction bits). */
function fpFixed(core: Arm64Core, w: number): number {
  const v = core.v, g = core.gpr, d = rd(w), n = rn(w);
  const sf = w >>> 31, ftype = (w >>> 22) & 3, rmode = (w >>> 19) & 3, op = (w >>> 16) & 7;
  const fbits = 64 - ((w >>> 10) & 63);
  if (ftype > 1 || (!sf && fbits > 32)) return UNDEF;
  const dbl = ftype === 1, scale = 2 ** fbits;
  if (rmode === 0 && (op === 2 || op === 3)) {
    const x = intValue(g, n, sf, op === 3) / scale;
    setF(v, d, dbl, dbl ? x : Math.fround(x));
    return NEXT;
  }
  if (rmode !== 3 || op > 1) return UNDEF;
  const res = toInt(getF(v, n, dbl) * scale, 3, sf ? 64 : 32, op === 1);
  if (d !== 31) {
    g[2 * d] = res[0];
    g[2 * d + 1] = res[1];
  }
  return NEXT;
}

/** Vector three-same FP: fadd, fsub, fmul, fdiv, fmax(nm), fmin(nm), fmla, fmls, compares, faddp, fabd. */
export function execFpVec3(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, u = (w >>> 29) & 1, a = (w >>> 23) & 1;
  const dbl = ((w >>> 22) & 1) === 1, op = (w >>> 11) & 31, d = rd(w), n = rn(w), m = rm(w);
  if (dbl && !q) return UNDEF;
  const count = (q ? 128 : 64) / (dbl ? 64 : 32);
  const key = (u << 6) | (a << 5) | op;
  for (let i = 0; i < count; i++) {
    let x: number, mask = -1;
    const pairwise = key === 0b1011010 || key === 0b1011110 || key === 0b1111110;
    let p: number, r: number;
    if (pairwise) {
      const j = 2 * i, src = j < count ? n : m;
      p = fLane(v, src, j % count, dbl);
      r = fLane(v, src, (j + 1) % count, dbl);
    } else {
      p = fLane(v, n, i, dbl);
      r = fLane(v, m, i, dbl);
    }
    switch (key) {
      case 0b0011010:
      case 0b1011010:
        x = p + r;
        break;
      case 0b0111010:
        x = p - r;
        break;
      case 0b1011011:
      case 0b0011011:
        x = p * r;
        break;
      case 0b1011111:
        x = p / r;
        break;
      case 0b0011110:
      case 0b1011110:
        x = Math.max(p, r);
        break;
      case 0b0111110:
      case 0b1111110:
        x = Math.min(p, r);
        break;
      case 0b0011000:
        x = maxnm(p, r, true);
        break;
      case 0b0111000:
        x = maxnm(p, r, false);
        break;
      case 0b0011001:
        x = fLane(v, d, i, dbl) + p * r;
        break;
      case 0b0111001:
        x = fLane(v, d, i, dbl) - p * r;
        break;
      case 0b1111010:
        x = Math.abs(p - r);
        break;
      case 0b0011100:
        mask = p === r ? 1 : 0;
        break;
      case 0b1011100:
        mask = p >= r ? 1 : 0;
        break;
      case 0b1111100:
        mask = p > r ? 1 : 0;
        break;
      default:
        return UNDEF;
    }
    if (mask >= 0) setMask(i, dbl, mask === 1);
    else if (dbl) tf64[i] = x!;
    else tf32[i] = Math.fround(x!);
  }
  commit(v, d, q);
  return NEXT;
}

function setMask(i: number, dbl: boolean, t: boolean): void {
  const m = t ? 0xffffffff : 0;
  if (dbl) {
    ts[2 * i] = m;
    ts[2 * i + 1] = m;
  } else ts[i] = m;
}

/** FP two-register misc (vector or scalar): fabs, fneg, fsqrt, conversions, compares with 0, frint. */
export function execFpMisc(core: Arm64Core, w: number, scalar: boolean): number {
  const v = core.v, u = (w >>> 29) & 1, a = (w >>> 23) & 1, dbl = ((w >>> 22) & 1) === 1;
  const op = (w >>> 12) & 31, q = scalar ? 1 : (w >>> 30) & 1, d = rd(w), n = rn(w);
  if (dbl && !q) return UNDEF;
  const count = scalar ? 1 : (q ? 128 : 64) / (dbl ? 64 : 32);
  const key = (u << 6) | (a << 5) | op;
  for (let i = 0; i < count; i++) {
    const x = dbl ? v.f64[n * 2 + i] : v.f32[n * 4 + i];
    let res: number, mask = -1;
    switch (key) {
      case 0b0101111:
        res = Math.abs(x);
        break;
      case 0b1101111:
        res = -x;
        break;
      case 0b1111111:
        res = Math.sqrt(x);
        break;
      case 0b0011101:
      case 0b1011101: {
        // scvtf / ucvtf on integer lanes
        const lo = dbl ? v.s[n * 4 + 2 * i] : v.s[n * 4 + i], hi = dbl ? v.s[n * 4 + 2 * i + 1] : 0;
        res = dbl ? (u ? hi : hi | 0) * TWO32 + lo : u ? lo : lo | 0;
        break;
      }
      case 0b0111011:
      case 0b1111011: {
        // fcvtzs / fcvtzu into integer lanes
        const o = toInt(x, 3, dbl ? 64 : 32, u === 1);
        if (dbl) {
          ts[2 * i] = o[0];
          ts[2 * i + 1] = o[1];
        } else ts[i] = o[0];
        continue;
      }
      case 0b0101100:
        mask = x > 0 ? 1 : 0;
        break;
      case 0b1101100:
        mask = x >= 0 ? 1 : 0;
        break;
      case 0b0101101:
        mask = x === 0 ? 1 : 0;
        break;
      case 0b1101101:
        mask = x <= 0 ? 1 : 0;
        break;
      case 0b0101110:
        mask = x < 0 ? 1 : 0;
        break;
      case 0b0011000: // frintn
        res = roundInt(x, 0);
        break;
      case 0b1011000: // frinta
        res = roundInt(x, 4);
        break;
      case 0b0111000: // frintp
        res = roundInt(x, 1);
        break;
      case 0b0011001: // frintm
        res = roundInt(x, 2);
        break;
      case 0b1011001: // frintx, frinti: the current mode, round to nearest
      case 0b1111001:
        res = roundInt(x, 0);
        break;
      case 0b0111001: // frintz
        res = roundInt(x, 3);
        break;
      default:
        return UNDEF;
    }
    if (mask >= 0) setMask(i, dbl, mask === 1);
    else if (dbl) tf64[i] = res!;
    else tf32[i] = Math.fround(res!);
  }
  if (scalar) commitScalar(v, d, dbl ? 8 : 4);
  else commit(v, d, q);
  return NEXT;
}

/** FADDP (scalar): the sum of the two lanes of n. */
export function execFpScalarPair(core: Arm64Core, w: number): number {
  const v = core.v, size = (w >>> 22) & 3, op = (w >>> 12) & 31, n = rn(w), d = rd(w);
  if (op !== 0b01101 || (size & 2)) return UNDEF;
  const dbl = (size & 1) === 1;
  const x = dbl ? v.f64[n * 2] + v.f64[n * 2 + 1] : Math.fround(v.f32[n * 4] + v.f32[n * 4 + 1]);
  setF(v, d, dbl, x);
  return NEXT;
}
