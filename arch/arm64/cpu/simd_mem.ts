// AdvSIMD structure loads and stores: LD1-LD4 / ST1-ST4 of whole
// registers (interleaving 2-4 structures), of single lanes, and LD1R-LD4R
// (load and replicate), with optional post-index. The whole transfer (at
// most 64 bytes) is one Mmu access, so a fault changes nothing.

import { EXIT } from "../../cpu.ts";
import type { Arm64Core } from "./core.ts";
import { ALIGN, NEXT, SP } from "./ops.ts";
import { copyBytes, rd, rm, rn, UNDEF } from "./lanes.ts";

/**
 * opcode -> repeats << 4 | structure elements for the multiple-structure
 * forms (0 = unallocated).
 */
const MULTI = [0x14, 0, 0x41, 0, 0x13, 0, 0x31, 0x11, 0x12, 0, 0x21, 0, 0, 0, 0, 0];

/** SP as the base (Rn = 31) must be 16-byte aligned when the core checks it. */
function spMisaligned(core: Arm64Core, n: number): boolean {
  if (n !== 31 || (core.gpr[SP] & 15) === 0 || !core.spAlignmentChecked()) return false;
  core.detail = ALIGN.SP;
  return true;
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
  if (shape === 0) return UNDEF;
  const rpt = shape >> 4, selem = shape & 15;
  if (size === 3 && !q && selem !== 1) return UNDEF;
  const eb = 1 << size, elements = (q ? 16 : 8) / eb, total = rpt * selem * elements * eb;
  const n = rn(w), g = core.gpr, at = n === 31 ? SP : 2 * n;
  if (spMisaligned(core, n)) return EXIT.ALIGNMENT;
  const lo = g[at], hi = g[at + 1];
  if (!load) {
    let off = 0;
    for (let r = 0; r < rpt; r++) {
      for (let e = 0; e < elements; e++) {
        for (let s = 0; s < selem; s++) {
          const reg = (t + r + s) % 32;
          copyBytes(v.b, reg * 16 + e * eb, buf, off, eb);
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
          copyBytes(buf, off, v.b, reg * 16 + e * eb, eb);
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
  const n = rn(w), g = core.gpr, at = n === 31 ? SP : 2 * n;
  if (spMisaligned(core, n)) return EXIT.ALIGNMENT;
  const lo = g[at], hi = g[at + 1];
  if (!load) {
    for (let e = 0; e < selem; e++) {
      const reg = (t + e) % 32;
      copyBytes(v.b, reg * 16 + index * eb, buf, e * eb, eb);
    }
    if (!mmu.store(lo, hi, total)) return EXIT.PAGE_FAULT;
  } else {
    if (!mmu.load(lo, hi, total)) return EXIT.PAGE_FAULT;
    for (let e = 0; e < selem; e++) {
      const reg = (t + e) % 32;
      if (replicate) {
        const bytes = q ? 16 : 8;
        for (let to = 0; to < bytes; to += eb) copyBytes(buf, e * eb, v.b, reg * 16 + to, eb);
        if (!q) v.clearFrom(reg, 8);
      } else copyBytes(buf, e * eb, v.b, reg * 16 + index * eb, eb);
    }
  }
  writeback(core, w, lo, hi, total);
  return NEXT;
}
