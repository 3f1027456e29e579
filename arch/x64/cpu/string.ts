// String instructions: movs, stos, lods, cmps, scas, with rep / repe /
// repne. A rep instruction retires once per iteration (budget 1 runs one
// iteration and leaves rip at the instruction, as TF single-stepping traps
// after each iteration; Cpu.partial then says the instruction goes on), and
// registers are updated after every iteration, so a fault in the middle
// leaves exactly the completed iterations behind.

import { ACCESS, PAGE_SIZE } from "../../cpu.ts";
import { alu, CMP } from "./alu.ts";
import { DF, getZF } from "./flags.ts";
import { CONTINUE, type Insn, RAX, RCX, RDI, RSI } from "./insn.ts";
import { getReg, setReg } from "./operand.ts";
import { type Cpu, TWO32 } from "./state.ts";

export const MOVS = 0, STOS = 1, LODS = 2, CMPS = 3, SCAS = 4;

/** Adds `delta` to the 64-bit register at index r. */
function bump(g: Uint32Array, r: number, delta: number): void {
  const s = g[r] + delta;
  g[r] = s >>> 0;
  if (s < 0 || s >= TWO32) g[r + 1] = (g[r + 1] + Math.floor(s / TWO32)) >>> 0;
}

/** The va of register r (plus a segment base for the source operand), or -1. */
function regVa(c: Cpu, r: number, seg: number): number {
  const g = c.g;
  let lo = g[r], hi = g[r + 1];
  if (seg >= 0) {
    const s = lo + g[seg];
    lo = s >>> 0;
    hi = (hi + g[seg + 1] + (s >= TWO32 ? 1 : 0)) >>> 0;
  }
  return c.addr(lo, hi);
}

/** One string instruction (i.op), with or without a rep prefix (i.rep). */
export function stringOp(c: Cpu, i: Insn): number {
  const g = c.g, sz = i.sz, op = i.op;
  const step = (c.rfo & DF) !== 0 ? -sz : sz;
  if (i.rep === 0) {
    once(c, i, op, sz, step);
    return CONTINUE;
  }
  // rep: up to the remaining budget, one retirement per iteration.
  const room = c.budget - c.count;
  let done = 0;
  while ((g[RCX] | g[RCX + 1]) !== 0) {
    if (done === room) {
      c.pc = c.cur; // not finished: resume here next time
      c.partial = 1;
      break;
    }
    if (step > 0 && (op === MOVS || op === STOS) && g[RCX + 1] === 0 && g[RCX] > 1) {
      const n = bulk(c, i, op, sz, Math.min(g[RCX], room - done));
      if (n > 0) {
        done += n;
        c.count += n;
        continue;
      }
    }
    once(c, i, op, sz, step);
    bump(g, RCX, -1);
    done++;
    c.count++;
    // repe stops when ZF = 0, repne when ZF = 1 (cmps, scas only).
    if ((op === CMPS || op === SCAS) && (getZF(c) === 0) === (i.rep === 0xf3)) break;
  }
  if (done > 0) c.count--; // the interpreter loop counts the last one
  return CONTINUE;
}

/** One iteration without touching rcx. */
function once(c: Cpu, i: Insn, op: number, sz: number, step: number): void {
  const g = c.g;
  switch (op) {
    case MOVS: {
      const v = c.load(regVa(c, RSI, i.seg), sz), vh = c.hi;
      c.store(regVa(c, RDI, -1), sz, v, vh);
      bump(g, RSI, step);
      bump(g, RDI, step);
      return;
    }
    case STOS:
      c.store(regVa(c, RDI, -1), sz, getReg(c, RAX, 0, sz), c.hi);
      bump(g, RDI, step);
      return;
    case LODS: {
      const v = c.load(regVa(c, RSI, i.seg), sz);
      setReg(c, RAX, 0, sz, v, c.hi);
      bump(g, RSI, step);
      return;
    }
    case CMPS: {
      const a = c.load(regVa(c, RSI, i.seg), sz), ah = sz === 8 ? c.hi : 0;
      const b = c.load(regVa(c, RDI, -1), sz), bh = sz === 8 ? c.hi : 0;
      alu(c, CMP, sz, a, ah, b, bh);
      bump(g, RSI, step);
      bump(g, RDI, step);
      return;
    }
    default: { // SCAS
      const b = c.load(regVa(c, RDI, -1), sz), bh = sz === 8 ? c.hi : 0;
      const a = getReg(c, RAX, 0, sz), ah = sz === 8 ? c.hi : 0;
      alu(c, CMP, sz, a, ah, b, bh);
      bump(g, RDI, step);
    }
  }
}

/**
 * Forward rep movs/stos of up to `max` elements that stay inside one source
 * and one destination page: a plain byte loop on the page bytes. Returns
 * how many elements it did (0: take the one-at-a-time path).
 */
function bulk(c: Cpu, i: Insn, op: number, sz: number, max: number): number {
  if (c.watch !== 0) return 0; // data breakpoints see every access
  const g = c.g;
  const dva = regVa(c, RDI, -1);
  if (dva < 0) return 0;
  const doff = dva % PAGE_SIZE;
  let n = Math.min(max, Math.floor((PAGE_SIZE - doff) / sz));
  if (n <= 1) return 0;
  const dst = c.pageAt(dva, ACCESS.WRITE);
  if (op === STOS) {
    if (dst.code !== null) dst.written();
    const lo = g[RAX], hi = g[RAX + 1], b = dst.bytes;
    if (sz === 1) {
      b.fill(lo & 0xff, doff, doff + n);
    } else {
      for (let k = 0; k < n * sz; k++) {
        const j = k % sz;
        b[doff + k] = (j < 4 ? lo >>> (8 * j) : hi >>> (8 * (j - 4))) & 0xff;
      }
    }
    bump(g, RDI, n * sz);
    bump(g, RCX, -n);
    return n;
  }
  const sva = regVa(c, RSI, i.seg);
  if (sva < 0) return 0;
  const soff = sva % PAGE_SIZE;
  n = Math.min(n, Math.floor((PAGE_SIZE - soff) / sz));
  if (n <= 1) return 0;
  const src = c.pageAt(sva, ACCESS.READ);
  // Element-wise forward copy equals a forward byte copy unless the
  // destination starts inside the first element's source bytes.
  if (src === dst && doff > soff && doff - soff < sz) return 0;
  if (dst.code !== null) dst.written();
  const s = src.bytes, d = dst.bytes, bytes = n * sz;
  for (let k = 0; k < bytes; k++) d[doff + k] = s[soff + k];
  bump(g, RSI, bytes);
  bump(g, RDI, bytes);
  bump(g, RCX, -n);
  return n;
}
