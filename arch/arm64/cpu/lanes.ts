// What the SIMD&FP executors share: the scratch result register, lane
// access, committing a result to a v register, register fields, and the
// floating-point immediate expansion.

import type { VRegs } from "./vregs.ts";

/** The scratch result register, as bytes / halves / words. */
export const tb = new Uint8Array(16);
export const th = new Uint16Array(tb.buffer);
export const ts = new Uint32Array(tb.buffer);

/** Returned by group executors for an encoding they do not implement. */
export const UNDEF = -100;

/** Lane i (esize 8, 16 or 32 bits) of register `reg`, unsigned. */
export function lane(v: VRegs, reg: number, i: number, esize: number): number {
  if (esize === 8) return v.b[reg * 16 + i];
  if (esize === 16) return v.h[reg * 8 + i];
  return v.s[reg * 4 + i];
}

/** Stores lane i of the scratch result (esize 8, 16 or 32; the value wraps). */
export function setT(i: number, esize: number, value: number): void {
  if (esize === 8) tb[i] = value;
  else if (esize === 16) th[i] = value;
  else ts[i] = value;
}

/** Copies the scratch result to v[d]: all 16 bytes, or 8 and zeroes the rest. */
export function commit(v: VRegs, d: number, q: number): void {
  commitScalar(v, d, q ? 16 : 8);
}

/** Copies `bytes` bytes of the scratch to v[d] and zeroes the rest (a scalar write). */
export function commitScalar(v: VRegs, d: number, bytes: number): void {
  const vb = v.b, at = d * 16;
  for (let i = 0; i < 16; i++) vb[at + i] = i < bytes ? tb[i] : 0;
}

/** Copies n bytes between byte arrays (no views are made, unlike set(subarray())). */
export function copyBytes(from: Uint8Array, at: number, to: Uint8Array, dest: number, n: number) {
  for (let i = 0; i < n; i++) to[dest + i] = from[at + i];
}

/** Signed value of an esize-bit lane. */
export function sx(value: number, esize: number): number {
  return esize === 32 ? value | 0 : (value << (32 - esize)) >> (32 - esize);
}

/** Register fields of a SIMD&FP instruction. */
export const rd = (w: number): number => w & 31;
export const rn = (w: number): number => (w >>> 5) & 31;
export const rm = (w: number): number => (w >>> 16) & 31;

/** VFPExpandImm for single precision, as raw bits. */
export function fpImm32(imm8: number): number {
  const sign = (imm8 >> 7) & 1, b6 = (imm8 >> 6) & 1;
  const exp = ((b6 ^ 1) << 7) | (b6 ? 0x7c : 0) | ((imm8 >> 4) & 3);
  return ((sign << 31) | (exp << 23) | ((imm8 & 15) << 19)) >>> 0;
}

/** VFPExpandImm for double precision: the high word (the low word is 0). */
export function fpImm64Hi(imm8: number): number {
  const sign = (imm8 >> 7) & 1, b6 = (imm8 >> 6) & 1;
  const exp = ((b6 ^ 1) << 10) | (b6 ? 0x3fc : 0) | ((imm8 >> 4) & 3);
  return ((sign << 31) | (exp << 20) | ((imm8 & 15) << 16)) >>> 0;
}
