// AdvSIMD structure loads and stores: LD1-LD4 / ST1-ST4 of whole
// registers (interleaving 2-4 structures), of single lanes, and LD1R-LD4R
// (load and replicate), with optional post-index. The whole transfer (at
// most 64 bytes) is one Mmu access, so a fault changes nothing.

import { EXIT } from "../../cpu.ts";
import type { Arm64Core } from "./core.ts";
import { ALIGN, NEXT, SP } from "./ops.ts";
import { rd, rm, rn, UNDEF } from "./lanes.ts";

/** opcode -> [repeats, structure elements] for the multiple-structure forms. */
const MULTI: Record<number, readonly [number, number]> = {
  0b0000: [1, 4],
  0b0010: [4, 1],
  0b0100: [1, 3],
  0b0110: [3, 1],
  0b0111: [1, 1],
  0b1000: [1, 2],
  0b1010: [2, 1],
};

/** The base address (lo, hi) from Rn (31 = SP, which must be 16-byte aligned), or null. */
function base(core: Arm64Core, n: number): number[] | null {
  const g = core.gpr, at = n === 31 ? SP : 2 * n;
  if (n === 31 && (g[SP] & 15) !== 0) {
    core.detail = ALIGN.SP;
    return null;
  }
  return [g[at], g[at + 1]];
}

/** Post-index writeback: Rn += (Rm == 31 ? the transfer size : Xm). */
function writeback(core: Arm64Core, w: number, lo: number, hi: number, total: number): void {
  if (((w >>> 23) & 1) === 0) return;
  const g = core.gpr, n = rn(w), m = rm(w), at = n === 31 ? SP : 2 * n;
  const olo = m === 31 ? total : g[2 * m], ohi = m === 31 ? 0 : g[2 * m + 1];
  const sum = lo + olo;
  g[at] = sum >>> 0;
  g[at + 1] = hi + ohi + (sum > 0xffffffff ? 1 : 0);
}

export function execLdstMulti(core: Arm64Core, w: number): number {
  const v = core.v, mmu = core.mmu, buf = mmu.buf;
  const q = (w >>> 30) & 1, load = (w >>> 22) & 1, size = (w >>> 10) & 3, t = rd(w);
  const shape = MULTI[(w >>> 12) & 15];
  if (shape === undefined) return UNDEF;
  const [rpt, selem] = shape;
  if (size === 3 && !q && selem !== 1) return UNDEF;
  const eb = 1 << size, elements = (q ? 16 : 8) / eb, total = rpt * selem * elements * eb;
  const a = base(core, rn(w));
  if (a === null) return EXIT.ALIGNMENT;
  const [lo, hi] = a;
  if (!load) {
    let off = 0;
    for (let r = 0; r < rpt; r++) {
      for (let e = 0; e < elements; e++) {
        for (let s = 0; s < selem; s++) {
          const reg = (t + r + s) % 32;
          buf.set(v.b.subarray(reg * 16 + e * eb, reg * 16 + e * eb + eb), off);
          off += eb;
        }
      }
    }
    if (!mmu.store(lo, hi, total)) return EXIT.PAGE_FAULT;
  } else {
    if (!mmu.load(lo, hi, total)) return EXIT.PAGE_FAULT;
    if (!q) { for (let r = 0; r < rpt * selem; r++) v.clearFrom((t + r) % 32, 8); }
    let off = 0;
    for (let r = 0; r < rpt; r++) {
      for (let e = 0; e < elements; e++) {
        for (let s = 0; s < selem; s++) {
          const reg = (t + r + s) % 32;
          v.b.set(buf.subarray(off, off + eb), reg * 16 + e * eb);
          off += eb;
        }
      }
    }
  }
  writeback(core, w, lo, hi, total);
  return NEXT;
}

export function execLdstSingle(core: Arm64Core, w: number): number {
  const v = core.v, mmu = core.mmu, buf = mmu.buf;
  const q = (w >>> 30) & 1, load = (w >>> 22) & 1, r = (w >>> 21) & 1, opcode = (w >>> 13) & 7;
  const s = (w >>> 12) & 1, size = (w >>> 10) & 3, t = rd(w);
  let scale = opcode >> 1, index = 0;
  const selem = (((opcode & 1) << 1) | r) + 1;
  const replicate = scale === 3;
  switch (scale) {
    case 3:
      if (!load || s) return UNDEF;
      scale = size;
      break;
    case 0:
      index = (q << 3) | (s << 2) | size;
      break;
    case 1:
      if (size & 1) return UNDEF;
      index = (q << 2) | (s << 1) | (size >> 1);
      break;
    default:
      if (size & 2) return UNDEF;
      if ((size & 1) === 0) index = (q << 1) | s;
      else {
        if (s) return UNDEF;
        index = q;
        scale = 3;
      }
  }
  const eb = 1 << scale, total = selem * eb;
  const a = base(core, rn(w));
  if (a === null) return EXIT.ALIGNMENT;
  const [lo, hi] = a;
  if (!load) {
    for (let e = 0; e < selem; e++) {
      const reg = (t + e) % 32;
      buf.set(v.b.subarray(reg * 16 + index * eb, reg * 16 + index * eb + eb), e * eb);
    }
    if (!mmu.store(lo, hi, total)) return EXIT.PAGE_FAULT;
  } else {
    if (!mmu.load(lo, hi, total)) return EXIT.PAGE_FAULT;
    for (let e = 0; e < selem; e++) {
      const reg = (t + e) % 32, elem = buf.subarray(e * eb, e * eb + eb);
      if (replicate) {
        const bytes = q ? 16 : 8;
        for (let at = 0; at < bytes; at += eb) v.b.set(elem, reg * 16 + at);
        if (!q) v.clearFrom(reg, 8);
      } else v.b.set(elem, reg * 16 + index * eb);
    }
  }
  writeback(core, w, lo, hi, total);
  return NEXT;
}
