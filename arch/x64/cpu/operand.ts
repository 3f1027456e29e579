// Operands: effective addresses, and register reads/writes with x86's
// size rules (a 32-bit write zeroes the high half, 8/16-bit writes merge,
// AH/CH/DH/BH are bits 8-15 of a word).

import type { Insn } from "./insn.ts";
import { type Cpu, TWO32 } from "./state.ts";

/**
 * The 64-bit effective address of `i`'s memory operand, wrapped as hardware
 * does, in c.ealo / c.eahi (lea uses it without any check).
 */
export function eaRaw(c: Cpu, i: Insn): void {
  const g = c.g;
  let lo = i.disp, hi = 0; // a negative lo borrows from hi when normalized below
  if (i.ripRel !== 0) {
    const pc = c.pc; // the next instruction, as the rip-relative base is
    lo += c.splitVa(pc);
    hi += c.hi;
  } else if (i.base >= 0) {
    lo += g[i.base];
    hi += g[i.base + 1];
  }
  if (i.index >= 0) {
    const s = i.scale, il = g[i.index], ih = g[i.index + 1];
    if (s === 0) {
      lo += il;
      hi += ih;
    } else {
      lo += (il << s) >>> 0;
      hi += (ih << s) | (il >>> (32 - s));
    }
  }
  if (lo < 0 || lo >= TWO32) {
    const carry = Math.floor(lo / TWO32);
    lo -= carry * TWO32;
    hi += carry;
  }
  if (i.addr32 !== 0) hi = 0;
  if (i.seg >= 0) {
    lo += g[i.seg];
    hi += g[i.seg + 1];
    if (lo >= TWO32) {
      lo -= TWO32;
      hi++;
    }
  }
  c.ealo = lo;
  c.eahi = hi >>> 0;
}

/** The memory operand's address as a user va, or -1 when it must fault (see state.ts). */
export function ea(c: Cpu, i: Insn): number {
  // Fast path: a base register (or none), no index, no segment.
  if (i.index < 0 && i.seg < 0 && i.ripRel === 0 && i.addr32 === 0 && i.base >= 0) {
    const g = c.g;
    const hi = g[i.base + 1];
    if (hi < 0x7fff) {
      const va = hi * TWO32 + g[i.base] + i.disp;
      if (va >= 0) return va;
    }
  }
  eaRaw(c, i);
  return c.addr(c.ealo, c.eahi);
}

/** Reads register `r` (u32 index, byte shift `s` for AH..BH) of `sz` bytes; 8 sets c.hi. */
export function getReg(c: Cpu, r: number, s: number, sz: number): number {
  const g = c.g;
  switch (sz) {
    case 1:
      return (g[r] >>> s) & 0xff;
    case 2:
      return g[r] & 0xffff;
    case 4:
      return g[r];
    default:
      c.hi = g[r + 1];
      return g[r];
  }
}

/** Writes register `r` with x86's size rules. */
export function setReg(c: Cpu, r: number, s: number, sz: number, lo: number, hi: number): void {
  const g = c.g;
  switch (sz) {
    case 1:
      g[r] = (g[r] & ~(0xff << s)) | ((lo & 0xff) << s);
      return;
    case 2:
      g[r] = (g[r] & 0xffff0000) | (lo & 0xffff);
      return;
    case 4:
      g[r] = lo;
      g[r + 1] = 0;
      return;
    default:
      g[r] = lo;
      g[r + 1] = hi;
  }
}

/** The r/m operand (register or memory, read access). */
export function getRm(c: Cpu, i: Insn): number {
  if (i.m >= 0) return getReg(c, i.m, i.ms, i.sz);
  return c.load(ea(c, i), i.sz);
}

/** Stores into the r/m operand (register or memory). */
export function setRm(c: Cpu, i: Insn, lo: number, hi: number): void {
  if (i.m >= 0) setReg(c, i.m, i.ms, i.sz, lo, hi);
  else c.store(ea(c, i), i.sz, lo, hi);
}
