// SIMD&FP execution: dispatch on the encoding group (decode_simd.ts), plus
// the lane helpers every group uses and the groups that only move bits
// (dup, ins, umov, movi, ext, zip/uzp/trn, tbl).
//
// Results are built in a 16-byte scratch register and copied to the
// destination at the end, so a source that is also the destination is read
// before it is overwritten. A 64-bit (Q = 0) vector or scalar result clears
// the rest of the 128-bit register, as A64 does.

import { EXIT } from "../../cpu.ts";
import type { Arm64Core } from "./core.ts";
import { V } from "./decode_simd.ts";
import { F_K, F_RAW, NEXT } from "./ops.ts";
import { execByElement } from "./simd_elem.ts";
import { execFp } from "./simd_fp.ts";
import {
  execAcross,
  execScalarInt,
  execShiftImm,
  execThreeDiff,
  execThreeSame,
  execTwoMisc,
} from "./simd_int.ts";
import { execLdstMulti, execLdstSingle } from "./simd_mem.ts";
import {
  commit,
  commitScalar,
  copyBytes,
  fpImm32,
  fpImm64Hi,
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
import type { VRegs } from "./vregs.ts";

export function execSimd(core: Arm64Core, c: Int32Array, b: number): number {
  const w = c[b + F_RAW] >>> 0;
  let res: number;
  switch (c[b + F_K]) {
    case V.THREE_SAME:
      res = execThreeSame(core, w);
      break;
    case V.THREE_DIFF:
      res = execThreeDiff(core, w);
      break;
    case V.TWO_MISC:
      res = execTwoMisc(core, w, false);
      break;
    case V.S_TWO_MISC:
      res = execTwoMisc(core, w, true);
      break;
    case V.ACROSS:
      res = execAcross(core, w);
      break;
    case V.SHIFT_IMM:
      res = execShiftImm(core, w, false);
      break;
    case V.S_SHIFT_IMM:
      res = execShiftImm(core, w, true);
      break;
    case V.S_THREE_SAME:
    case V.S_PAIRWISE:
      res = execScalarInt(core, w, c[b + F_K] === V.S_PAIRWISE);
      break;
    case V.COPY:
    case V.S_COPY:
      res = execCopy(core, w, c[b + F_K] === V.S_COPY);
      break;
    case V.MOD_IMM:
      res = execModImm(core, w);
      break;
    case V.EXT:
      res = execExt(core, w);
      break;
    case V.PERMUTE:
      res = execPermute(core, w);
      break;
    case V.TBL:
      res = execTbl(core, w);
      break;
    case V.BY_ELEM:
    case V.S_BY_ELEM:
      res = execByElement(core, w, c[b + F_K] === V.S_BY_ELEM);
      break;
    case V.LDST_MULTI:
      res = execLdstMulti(core, w);
      break;
    case V.LDST_SINGLE:
      res = execLdstSingle(core, w);
      break;
    default:
      res = execFp(core, w, c[b + F_K]);
  }
  if (res === UNDEF) {
    core.detail = w;
    return EXIT.UNDEFINED_INSTRUCTION;
  }
  return res;
}

/** DUP, INS, SMOV, UMOV (vector) and DUP (scalar, element). */
function execCopy(core: Arm64Core, w: number, scalar: boolean): number {
  const v = core.v, g = core.gpr;
  const q = (w >>> 30) & 1, op = (w >>> 29) & 1, imm5 = (w >>> 16) & 31, imm4 = (w >>> 11) & 15;
  if ((imm5 & 15) === 0) return UNDEF;
  const size = 31 - Math.clz32(imm5 & -imm5);
  const esize = 8 << size, index = imm5 >>> (size + 1), d = rd(w), n = rn(w);
  const count = (q ? 128 : 64) / esize;
  const gn = 2 * n; // Rn as a general register (31 = zr)
  const rlo = n === 31 ? 0 : g[gn], rhi = n === 31 ? 0 : g[gn + 1];
  if (scalar) {
    if (op !== 0 || imm4 !== 0) return UNDEF;
    tb.fill(0);
    copyLane(v, n, index, esize, 0);
    commitScalar(v, d, esize / 8);
    return NEXT;
  }
  if (op === 1) {
    // INS (element): mov vd.T[index], vn.T[imm4 >> size]
    if (!q) return UNDEF;
    copyBytes(v.b, d * 16, tb, 0, 16);
    copyLane(v, n, imm4 >>> size, esize, index);
    commit(v, d, 1);
    return NEXT;
  }
  switch (imm4) {
    case 0: // DUP (element)
      if (size === 3 && !q) return UNDEF;
      for (let i = 0; i < count; i++) copyLane(v, n, index, esize, i);
      commit(v, d, q);
      return NEXT;
    case 1: // DUP (general)
      if (size === 3 && !q) return UNDEF;
      for (let i = 0; i < count; i++) {
        if (esize === 64) {
          ts[2 * i] = rlo;
          ts[2 * i + 1] = rhi;
        } else setT(i, esize, rlo);
      }
      commit(v, d, q);
      return NEXT;
    case 3: { // INS (general)
      copyBytes(v.b, d * 16, tb, 0, 16);
      if (esize === 64) {
        ts[2 * index] = rlo;
        ts[2 * index + 1] = rhi;
      } else setT(index, esize, rlo);
      commit(v, d, 1);
      return NEXT;
    }
    case 5: // SMOV
    case 7: { // UMOV
      if (imm4 === 7 ? (q ? size !== 3 : size === 3) : (size === 3 || (!q && size === 2))) {
        return UNDEF;
      }
      if (d === 31) return NEXT; // the zero register
      let lo: number, hi = 0;
      if (esize === 64) {
        lo = v.s[n * 4 + 2 * index];
        hi = v.s[n * 4 + 2 * index + 1];
      } else {
        lo = lane(v, n, index, esize);
        if (imm4 === 5) {
          lo = sx(lo, esize);
          hi = q ? lo >> 31 : 0;
        }
      }
      g[2 * d] = lo;
      g[2 * d + 1] = hi;
      return NEXT;
    }
    default:
      return UNDEF;
  }
}

/** Scratch lane `to` = lane `from` of v[n] (any esize up to 64). */
function copyLane(v: VRegs, n: number, from: number, esize: number, to: number): void {
  const bytes = esize / 8;
  copyBytes(v.b, n * 16 + from * bytes, tb, to * bytes, bytes);
}

/** MOVI, MVNI, ORR, BIC (vector, immediate) and FMOV (vector, immediate). */
function execModImm(core: Arm64Core, w: number): number {
  const v = core.v;
  const q = (w >>> 30) & 1, op = (w >>> 29) & 1, cmode = (w >>> 12) & 15, d = rd(w);
  if ((w >>> 11) & 1) return UNDEF; // o2 (half-precision fmov)
  const imm8 = (((w >>> 16) & 7) << 5) | ((w >>> 5) & 31);
  let lo: number, hi: number;
  // The 64-bit pattern that is repeated across the register.
  switch (cmode >> 1) {
    case 0:
    case 1:
    case 2:
    case 3:
      lo = hi = imm8 << (8 * (cmode >> 1));
      break;
    case 4:
    case 5: {
      const h = imm8 << (8 * ((cmode >> 1) & 1));
      lo = hi = h | (h << 16);
      break;
    }
    case 6:
      lo = hi = cmode & 1 ? (imm8 << 16) | 0xffff : (imm8 << 8) | 0xff;
      break;
    default:
      if ((cmode & 1) === 0 && op === 0) {
        lo = hi = imm8 * 0x01010101;
      } else if ((cmode & 1) === 0) {
        lo = hi = 0;
        for (let i = 0; i < 8; i++) {
          if ((imm8 >> i) & 1) {
            if (i < 4) lo |= 0xff << (8 * i);
            else hi |= 0xff << (8 * (i - 4));
          }
        }
      } else if (op === 0) {
        lo = hi = fpImm32(imm8);
      } else {
        if (!q) return UNDEF;
        hi = fpImm64Hi(imm8);
        lo = 0;
      }
      return movi(v, d, q, lo, hi);
  }
  // cmode bit 0 selects ORR/BIC (except for the "msl" forms, 110x).
  const logical = (cmode & 1) === 1 && cmode < 12;
  if (!logical) return movi(v, d, q, op ? ~lo : lo, op ? ~hi : hi);
  const base = d * 4;
  for (let i = 0; i < (q ? 4 : 2); i++) {
    const pat = i & 1 ? hi : lo;
    ts[i] = op ? v.s[base + i] & ~pat : v.s[base + i] | pat;
  }
  commit(v, d, q);
  return NEXT;
}

function movi(v: VRegs, d: number, q: number, lo: number, hi: number): number {
  ts[0] = lo;
  ts[1] = hi;
  ts[2] = lo;
  ts[3] = hi;
  commit(v, d, q);
  return NEXT;
}

function execExt(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, pos = (w >>> 11) & 15;
  const bytes = q ? 16 : 8, n = rn(w), m = rm(w);
  if (!q && pos >= 8) return UNDEF;
  for (let i = 0; i < bytes; i++) {
    const at = i + pos;
    tb[i] = at < bytes ? v.b[n * 16 + at] : v.b[m * 16 + at - bytes];
  }
  commit(v, rd(w), q);
  return NEXT;
}

/** UZP1/2, TRN1/2, ZIP1/2. */
function execPermute(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, size = (w >>> 22) & 3, opcode = (w >>> 12) & 7;
  if (size === 3 && !q) return UNDEF;
  const esize = 8 << size, bytes = esize / 8, count = (q ? 128 : 64) / esize;
  const n = rn(w), m = rm(w), part = opcode >> 2;
  if ((opcode & 3) === 0) return UNDEF;
  for (let i = 0; i < count; i++) {
    let reg: number, elem: number;
    switch (opcode & 3) {
      case 1: { // uzp: even (part 0) or odd elements of n:m
        const src = 2 * i + part;
        reg = src < count ? n : m;
        elem = src % count;
        break;
      }
      case 2: // trn
        reg = i & 1 ? m : n;
        elem = (i & ~1) + part;
        break;
      default: // zip: interleave the low (part 0) or high halves
        reg = i & 1 ? m : n;
        elem = (i >> 1) + part * (count / 2);
    }
    copyBytes(v.b, reg * 16 + elem * bytes, tb, i * bytes, bytes);
  }
  commit(v, rd(w), q);
  return NEXT;
}

/** TBL / TBX with 1..4 table registers. */
function execTbl(core: Arm64Core, w: number): number {
  const v = core.v, q = (w >>> 30) & 1, len = ((w >>> 13) & 3) + 1, tbx = (w >>> 12) & 1;
  const d = rd(w), n = rn(w), m = rm(w), bytes = q ? 16 : 8;
  for (let i = 0; i < bytes; i++) {
    const idx = v.b[m * 16 + i];
    if (idx < 16 * len) tb[i] = v.b[((n + (idx >> 4)) % 32) * 16 + (idx & 15)];
    else tb[i] = tbx ? v.b[d * 16 + i] : 0;
  }
  commit(v, d, q);
  return NEXT;
}
