// The SSE2 integer subset that compiled C uses for copies, fills and
// vectorized loops: 128-bit moves, movd/movq, movss/movsd, logic, packed
// add/sub/compare, unpacks, pshufd, pmovmskb, pminub/pmaxub, immediate
// shifts. No floating-point arithmetic. xmm n is c.x[16n .. 16n+3] (i.r, i.m
// hold 16n); lanes are viewed through little-endian typed arrays.

import { EXIT } from "../../cpu.ts";
import { CONTINUE, type Insn } from "./insn.ts";
import { ea, getReg, setReg } from "./operand.ts";
import type { Cpu } from "./state.ts";

export const SSE = {
  MOVU_LOAD: 0,
  MOVA_LOAD: 1,
  MOVU_STORE: 2,
  MOVA_STORE: 3,
  PXOR: 4,
  POR: 5,
  PAND: 6,
  PANDN: 7,
  PADDB: 8,
  PADDW: 9,
  PADDD: 10,
  PADDQ: 11,
  PSUBB: 12,
  PSUBW: 13,
  PSUBD: 14,
  PSUBQ: 15,
  PCMPEQB: 16,
  PCMPEQW: 17,
  PCMPEQD: 18,
  PCMPGTB: 19,
  PCMPGTW: 20,
  PCMPGTD: 21,
  PUNPCKLBW: 22,
  PUNPCKLWD: 23,
  PUNPCKLDQ: 24,
  PUNPCKLQDQ: 25,
  PUNPCKHBW: 26,
  PUNPCKHWD: 27,
  PUNPCKHDQ: 28,
  PUNPCKHQDQ: 29,
  PSHUFD: 30,
  PMINUB: 31,
  PMAXUB: 32,
  MOVQ_LOAD: 33,
  MOVQ_STORE: 34,
  MOVSS_LOAD: 35,
  MOVSS_STORE: 36,
  MOVSD_LOAD: 37,
  MOVSD_STORE: 38,
  PSHUFLW: 39,
  PSHUFHW: 40,
} as const;

// Scratch operands (no allocation per instruction): a = destination, b = source.
const a32 = new Uint32Array(4), a8 = new Uint8Array(a32.buffer), a16 = new Uint16Array(a32.buffer);
const b32 = new Uint32Array(4), b8 = new Uint8Array(b32.buffer), b16 = new Uint16Array(b32.buffer);
const r32 = new Uint32Array(4), r8 = new Uint8Array(r32.buffer), r16 = new Uint16Array(r32.buffer);

/** Loads `n` (4, 8, 16) bytes at the memory operand into b32 (rest zero). */
function loadMem(c: Cpu, i: Insn, n: number, aligned: boolean): void {
  const va = ea(c, i);
  if (aligned && va >= 0 && (va & 15) !== 0) c.stop(EXIT.GENERAL_PROTECTION);
  b32.fill(0);
  if (n === 4) {
    b32[0] = c.ld32(va);
    return;
  }
  b32[0] = c.ld64(va);
  b32[1] = c.hi;
  if (n === 16) {
    const va2 = va < 0 ? va : c.va(va + 8);
    b32[2] = c.ld64(va2);
    b32[3] = c.hi;
  }
}

/** Stores the low `n` bytes of xmm at index `x` to the memory operand; both pages checked first. */
function storeMem(c: Cpu, i: Insn, x: number, n: number, aligned: boolean): void {
  const va = ea(c, i);
  if (aligned && va >= 0 && (va & 15) !== 0) c.stop(EXIT.GENERAL_PROTECTION);
  const xs = c.x;
  if (n === 4) {
    c.st32(va, xs[x]);
    return;
  }
  if (n === 8) {
    c.st64(va, xs[x], xs[x + 1]);
    return;
  }
  c.probeWrite(va, 16);
  c.st64(va, xs[x], xs[x + 1]);
  c.st64(c.va(va + 8), xs[x + 2], xs[x + 3]);
}

/** The 128-bit source operand into b32. */
function source(c: Cpu, i: Insn, aligned: boolean): void {
  if (i.m >= 0) {
    const xs = c.x;
    b32[0] = xs[i.m];
    b32[1] = xs[i.m + 1];
    b32[2] = xs[i.m + 2];
    b32[3] = xs[i.m + 3];
  } else {
    loadMem(c, i, 16, aligned);
  }
}

function put(c: Cpu, x: number, v: Uint32Array): void {
  const xs = c.x;
  xs[x] = v[0];
  xs[x + 1] = v[1];
  xs[x + 2] = v[2];
  xs[x + 3] = v[3];
}

/** Moves: 128-bit, 64-bit (movq) and scalar (movss/movsd) loads and stores. */
export function sseMov(c: Cpu, i: Insn): number {
  const xs = c.x, d = i.r;
  switch (i.op) {
    case SSE.MOVU_LOAD:
    case SSE.MOVA_LOAD:
      source(c, i, i.op === SSE.MOVA_LOAD);
      put(c, d, b32);
      break;
    case SSE.MOVU_STORE:
    case SSE.MOVA_STORE:
      if (i.m >= 0) {
        for (let k = 0; k < 4; k++) xs[i.m + k] = xs[d + k];
      } else {
        storeMem(c, i, d, 16, i.op === SSE.MOVA_STORE);
      }
      break;
    case SSE.MOVQ_LOAD: // xmm = low 64 of xmm/m64, upper zeroed
      if (i.m >= 0) {
        b32[0] = xs[i.m];
        b32[1] = xs[i.m + 1];
        b32[2] = b32[3] = 0;
      } else {
        loadMem(c, i, 8, false);
      }
      put(c, d, b32);
      break;
    case SSE.MOVQ_STORE: // xmm/m64 = low 64 of xmm; a register destination's upper is zeroed
      if (i.m >= 0) {
        xs[i.m] = xs[d];
        xs[i.m + 1] = xs[d + 1];
        xs[i.m + 2] = xs[i.m + 3] = 0;
      } else {
        storeMem(c, i, d, 8, false);
      }
      break;
    case SSE.MOVSS_LOAD:
    case SSE.MOVSD_LOAD: {
      const n = i.op === SSE.MOVSS_LOAD ? 1 : 2;
      if (i.m >= 0) {
        for (let k = 0; k < n; k++) xs[d + k] = xs[i.m + k]; // register: merge
      } else {
        loadMem(c, i, n * 4, false); // memory: the rest is zeroed
        put(c, d, b32);
      }
      break;
    }
    default: { // MOVSS_STORE, MOVSD_STORE
      const n = i.op === SSE.MOVSS_STORE ? 1 : 2;
      if (i.m >= 0) {
        for (let k = 0; k < n; k++) xs[i.m + k] = xs[d + k];
      } else {
        storeMem(c, i, d, n * 4, false);
      }
    }
  }
  return CONTINUE;
}

/** Packed integer operations: xmm(i.r) = xmm(i.r) op xmm/m128. */
export function sseAlu(c: Cpu, i: Insn): number {
  source(c, i, true);
  const xs = c.x, d = i.r;
  for (let k = 0; k < 4; k++) a32[k] = xs[d + k];
  switch (i.op) {
    case SSE.PXOR:
      for (let k = 0; k < 4; k++) r32[k] = a32[k] ^ b32[k];
      break;
    case SSE.POR:
      for (let k = 0; k < 4; k++) r32[k] = a32[k] | b32[k];
      break;
    case SSE.PAND:
      for (let k = 0; k < 4; k++) r32[k] = a32[k] & b32[k];
      break;
    case SSE.PANDN:
      for (let k = 0; k < 4; k++) r32[k] = ~a32[k] & b32[k];
      break;
    case SSE.PADDB:
      for (let k = 0; k < 16; k++) r8[k] = a8[k] + b8[k];
      break;
    case SSE.PADDW:
      for (let k = 0; k < 8; k++) r16[k] = a16[k] + b16[k];
      break;
    case SSE.PADDD:
      for (let k = 0; k < 4; k++) r32[k] = a32[k] + b32[k];
      break;
    case SSE.PSUBB:
      for (let k = 0; k < 16; k++) r8[k] = a8[k] - b8[k];
      break;
    case SSE.PSUBW:
      for (let k = 0; k < 8; k++) r16[k] = a16[k] - b16[k];
      break;
    case SSE.PSUBD:
      for (let k = 0; k < 4; k++) r32[k] = a32[k] - b32[k];
      break;
    case SSE.PADDQ:
    case SSE.PSUBQ:
      for (let k = 0; k < 4; k += 2) {
        const sub = i.op === SSE.PSUBQ;
        const s = sub ? a32[k] - b32[k] : a32[k] + b32[k];
        r32[k] = s;
        r32[k + 1] = a32[k + 1] + (sub ? -b32[k + 1] : b32[k + 1]) +
          (s < 0 ? -1 : s >= 4294967296 ? 1 : 0);
      }
      break;
    case SSE.PCMPEQB:
      for (let k = 0; k < 16; k++) r8[k] = a8[k] === b8[k] ? 0xff : 0;
      break;
    case SSE.PCMPEQW:
      for (let k = 0; k < 8; k++) r16[k] = a16[k] === b16[k] ? 0xffff : 0;
      break;
    case SSE.PCMPEQD:
      for (let k = 0; k < 4; k++) r32[k] = a32[k] === b32[k] ? 0xffffffff : 0;
      break;
    case SSE.PCMPGTB:
      for (let k = 0; k < 16; k++) r8[k] = (a8[k] << 24 >> 24) > (b8[k] << 24 >> 24) ? 0xff : 0;
      break;
    case SSE.PCMPGTW:
      for (let k = 0; k < 8; k++) r16[k] = (a16[k] << 16 >> 16) > (b16[k] << 16 >> 16) ? 0xffff : 0;
      break;
    case SSE.PCMPGTD:
      for (let k = 0; k < 4; k++) r32[k] = (a32[k] | 0) > (b32[k] | 0) ? 0xffffffff : 0;
      break;
    case SSE.PUNPCKLBW:
    case SSE.PUNPCKHBW: {
      const from = i.op === SSE.PUNPCKLBW ? 0 : 8;
      for (let k = 0; k < 8; k++) {
        r8[2 * k] = a8[from + k];
        r8[2 * k + 1] = b8[from + k];
      }
      break;
    }
    case SSE.PUNPCKLWD:
    case SSE.PUNPCKHWD: {
      const from = i.op === SSE.PUNPCKLWD ? 0 : 4;
      for (let k = 0; k < 4; k++) {
        r16[2 * k] = a16[from + k];
        r16[2 * k + 1] = b16[from + k];
      }
      break;
    }
    case SSE.PUNPCKLDQ:
    case SSE.PUNPCKHDQ: {
      const from = i.op === SSE.PUNPCKLDQ ? 0 : 2;
      r32[0] = a32[from];
      r32[1] = b32[from];
      r32[2] = a32[from + 1];
      r32[3] = b32[from + 1];
      break;
    }
    case SSE.PUNPCKLQDQ:
    case SSE.PUNPCKHQDQ: {
      const from = i.op === SSE.PUNPCKLQDQ ? 0 : 2;
      r32[0] = a32[from];
      r32[1] = a32[from + 1];
      r32[2] = b32[from];
      r32[3] = b32[from + 1];
      break;
    }
    case SSE.PSHUFD:
      for (let k = 0; k < 4; k++) r32[k] = b32[(i.imm >>> (2 * k)) & 3];
      break;
    case SSE.PSHUFLW:
    case SSE.PSHUFHW: {
      // Shuffle the words of one half (imm picks them), copy the other half.
      const h = i.op === SSE.PSHUFLW ? 0 : 4, keep = 4 - h;
      for (let k = 0; k < 4; k++) r16[h + k] = b16[h + ((i.imm >>> (2 * k)) & 3)];
      for (let k = 0; k < 4; k++) r16[keep + k] = b16[keep + k];
      break;
    }
    case SSE.PMINUB:
      for (let k = 0; k < 16; k++) r8[k] = Math.min(a8[k], b8[k]);
      break;
    default: // PMAXUB
      for (let k = 0; k < 16; k++) r8[k] = Math.max(a8[k], b8[k]);
  }
  put(c, d, r32);
  return CONTINUE;
}

/**
 * Immediate shifts (66 0F 71/72/73): i.op = lane bits (16, 32, 64) * 4 +
 * kind (0 logical right, 1 arithmetic right, 2 left), or 128 * 4 + kind for
 * the whole-register byte shifts psrldq (0) / pslldq (2). Count in i.imm.
 */
export function sseShift(c: Cpu, i: Insn): number {
  const xs = c.x, d = i.m, n = i.imm, kind = i.op & 3, bits = i.op >>> 2;
  for (let k = 0; k < 4; k++) a32[k] = xs[d + k];
  if (bits === 128) {
    const bytes = Math.min(n, 16);
    for (let k = 0; k < 16; k++) {
      const from = kind === 0 ? k + bytes : k - bytes;
      r8[k] = from >= 0 && from < 16 ? a8[from] : 0;
    }
  } else if (bits === 16) {
    for (let k = 0; k < 8; k++) {
      const v = a16[k];
      r16[k] = kind === 1
        ? (v << 16 >> 16) >> Math.min(n, 15)
        : n > 15
        ? 0
        : kind === 0
        ? v >>> n
        : v << n;
    }
  } else if (bits === 32) {
    for (let k = 0; k < 4; k++) {
      const v = a32[k];
      r32[k] = kind === 1 ? (v | 0) >> Math.min(n, 31) : n > 31 ? 0 : kind === 0 ? v >>> n : v << n;
    }
  } else {
    for (let k = 0; k < 4; k += 2) {
      const lo = a32[k], hi = a32[k + 1];
      if (n > 63) {
        r32[k] = r32[k + 1] = 0;
      } else if (kind === 0) {
        r32[k] = n === 0 ? lo : n < 32 ? (lo >>> n) | (hi << (32 - n)) : hi >>> (n - 32);
        r32[k + 1] = n < 32 ? hi >>> n : 0;
      } else {
        r32[k + 1] = n === 0 ? hi : n < 32 ? (hi << n) | (lo >>> (32 - n)) : lo << (n - 32);
        r32[k] = n < 32 ? lo << n : 0;
      }
    }
  }
  put(c, d, r32);
  return CONTINUE;
}

/** movd/movq xmm, r/m32/64 (66 0F 6E): the rest of the register is zeroed. */
export function movdToXmm(c: Cpu, i: Insn): number {
  let lo: number, hi = 0;
  if (i.m >= 0) lo = getReg(c, i.m, 0, i.sz);
  else lo = c.load(ea(c, i), i.sz);
  if (i.sz === 8) hi = c.hi;
  const xs = c.x, d = i.r;
  xs[d] = lo;
  xs[d + 1] = hi;
  xs[d + 2] = 0;
  xs[d + 3] = 0;
  return CONTINUE;
}

/** movd/movq r/m32/64, xmm (66 0F 7E). */
export function movdFromXmm(c: Cpu, i: Insn): number {
  const xs = c.x, s = i.r;
  if (i.m >= 0) setReg(c, i.m, 0, i.sz, xs[s], xs[s + 1]);
  else c.store(ea(c, i), i.sz, xs[s], xs[s + 1]);
  return CONTINUE;
}

/** pmovmskb r32, xmm (66 0F D7): the top bit of each byte. */
export function pmovmskb(c: Cpu, i: Insn): number {
  const xs = c.x, s = i.m;
  for (let k = 0; k < 4; k++) a32[k] = xs[s + k];
  let mask = 0;
  for (let k = 0; k < 16; k++) mask |= (a8[k] >>> 7) << k;
  setReg(c, i.r, 0, 4, mask, 0);
  return CONTINUE;
}
