// Helpers the group decoders share: writing an entry, and register fields
// turned into gpr indexes with the right meaning of register 31.

import { F_D, F_I, F_J, F_K, F_M, F_N, F_OP, SP, X, ZR, ZW } from "./ops.ts";

/** Stores op and fields of entry `b`; unspecified fields become 0. */
export function put(
  e: Int32Array,
  b: number,
  op: number,
  d = 0,
  n = 0,
  m = 0,
  i = 0,
  j = 0,
  k = 0,
): void {
  e[b + F_OP] = op;
  e[b + F_D] = d;
  e[b + F_N] = n;
  e[b + F_M] = m;
  e[b + F_I] = i;
  e[b + F_J] = j;
  e[b + F_K] = k;
}

/** Register field at `shift` as a gpr index, 31 meaning the zero register (read side). */
export function rz(w: number, shift: number): number {
  const r = (w >>> shift) & 31;
  return r === 31 ? ZR : X(r);
}

/** As rz, for a destination: register 31 writes nowhere. */
export function wz(w: number, shift: number): number {
  const r = (w >>> shift) & 31;
  return r === 31 ? ZW : X(r);
}

/** Register field at `shift`, 31 meaning SP (either side). */
export function rsp(w: number, shift: number): number {
  const r = (w >>> shift) & 31;
  return r === 31 ? SP : X(r);
}

/** The register number (0..31) at `shift`. */
export function reg(w: number, shift: number): number {
  return (w >>> shift) & 31;
}

/** Sign-extends the low `bits` bits of v. */
export function sext(v: number, bits: number): number {
  return (v << (32 - bits)) >> (32 - bits);
}
