// The general load/store paths: every addressing mode, sign extension,
// pairs, FP/SIMD registers, literals, exclusives and LSE atomics. Each
// computes the address, does the whole access through Mmu (which faults
// before changing anything), and only then writes registers and the base.

import { ACCESS, EXIT } from "../../cpu.ts";
import { extendReg, r } from "./bits.ts";
import type { Arm64Core } from "./core.ts";
import { ATOM, EXCL, LS, MODE } from "./decode_ldst.ts";
import { ALIGN, F_D, F_I, F_J, F_K, F_M, F_N, NEXT, SP } from "./ops.ts";

const TWO32 = 4294967296;

/** The address (r.lo, r.hi) = gpr[n] + off, off a JS number (|off| < 2^53). */
function addOff(g: Uint32Array, n: number, off: number): void {
  const t = g[n] + off;
  r.lo = t >>> 0;
  r.hi = (g[n + 1] + Math.floor(t / TWO32)) >>> 0;
}

/**
 * SP as a base must be 16-byte aligned when the core checks it (user
 * threads: Zircon sets SCTLR_EL1.SA0; a VCPU: its SCTLR_EL1.SA / SA0).
 */
function spMisaligned(core: Arm64Core, n: number): boolean {
  if (n !== SP || (core.gpr[SP] & 15) === 0 || !core.spAlignmentChecked()) return false;
  core.detail = ALIGN.SP;
  return true;
}

/** Writes the loaded value at view[at] to register t, per type and size. */
function loadReg(core: Arm64Core, t: number, type: number, size: number, v: DataView, at: number) {
  const g = core.gpr;
  let lo: number, hi = 0;
  switch (size) {
    case 1:
      lo = type === LS.LOAD ? v.getUint8(at) : v.getInt8(at);
      break;
    case 2:
      lo = type === LS.LOAD ? v.getUint16(at, true) : v.getInt16(at, true);
      break;
    case 4:
      lo = v.getUint32(at, true);
      break;
    default:
      lo = v.getUint32(at, true);
      hi = v.getUint32(at + 4, true);
  }
  if (type === LS.SX64 && size < 8) hi = lo >> 31;
  g[t] = lo;
  g[t + 1] = hi;
}

/** Puts register t's low `size` bytes at view[at]. */
function storeReg(core: Arm64Core, t: number, size: number, v: DataView, at: number): void {
  const g = core.gpr;
  if (size === 8) {
    v.setUint32(at, g[t], true);
    v.setUint32(at + 4, g[t + 1], true);
  } else if (size === 4) v.setUint32(at, g[t], true);
  else if (size === 2) v.setUint16(at, g[t], true);
  else v.setUint8(at, g[t]);
}

/** v[reg] = `size` bytes at view[at], the rest of the register zeroed. */
function loadVec(core: Arm64Core, reg: number, size: number, v: DataView, at: number): void {
  const vs = core.v.s, vb = core.v.b, base = reg * 4;
  if (size >= 4) {
    for (let k = 0; k < 4; k++) vs[base + k] = k < size >> 2 ? v.getUint32(at + 4 * k, true) : 0;
  } else {
    vs[base] =
      vs[base + 1] =
      vs[base + 2] =
      vs[base + 3] =
        0;
    vb[reg * 16] = v.getUint8(at);
    if (size === 2) vb[reg * 16 + 1] = v.getUint8(at + 1);
  }
}

/** The low `size` bytes of v[reg] to view[at]. */
function storeVec(core: Arm64Core, reg: number, size: number, v: DataView, at: number): void {
  const vs = core.v.s, vb = core.v.b;
  if (size >= 4) {
    for (let k = 0; k < size >> 2; k++) v.setUint32(at + 4 * k, vs[reg * 4 + k], true);
  } else {
    v.setUint8(at, vb[reg * 16]);
    if (size === 2) v.setUint8(at + 1, vb[reg * 16 + 1]);
  }
}

/** Writes back base register n = n + off (pre / post index), after the access succeeded. */
function writeback(g: Uint32Array, n: number, off: number): void {
  addOff(g, n, off);
  g[n] = r.lo;
  g[n + 1] = r.hi;
}

export function execLdst(core: Arm64Core, c: Int32Array, b: number): number {
  const g = core.gpr, mmu = core.mmu;
  const t = c[b + F_D], n = c[b + F_N], k = c[b + F_K];
  const size = 1 << (k & 7), type = (k >> 3) & 7, mode = (k >> 6) & 3;
  if (spMisaligned(core, n)) return EXIT.ALIGNMENT;
  if (mode === MODE.REG) {
    const m = c[b + F_M];
    extendReg(g[m], g[m + 1], (k >> 8) & 7, (k >> 11) & 7);
    const lo = g[n] + r.lo;
    r.hi = (g[n + 1] + r.hi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    r.lo = lo >>> 0;
  } else addOff(g, n, mode === MODE.POST ? 0 : c[b + F_I]);
  const alo = r.lo, ahi = r.hi;
  if (type === LS.STORE || type === LS.FP_STORE) {
    const v = mmu.storeView(alo, ahi, size);
    if (v === null) return EXIT.PAGE_FAULT;
    if (type === LS.STORE) storeReg(core, t, size, v, mmu.at);
    else storeVec(core, t, size, v, mmu.at);
    mmu.commit();
    if (mode === MODE.PRE || mode === MODE.POST) writeback(g, n, c[b + F_I]);
    return NEXT;
  }
  const v = mmu.loadView(alo, ahi, size);
  if (v === null) return EXIT.PAGE_FAULT;
  // The base is written back first, so a load into the base register keeps
  // the loaded value.
  if (mode === MODE.PRE || mode === MODE.POST) writeback(g, n, c[b + F_I]);
  if (type === LS.FP_LOAD) loadVec(core, t, size, v, mmu.at);
  else {
    loadReg(core, t, type, size, v, mmu.at);
    if (type === LS.SX32) g[t + 1] = 0;
  }
  return NEXT;
}

export function execLdstp(core: Arm64Core, c: Int32Array, b: number): number {
  const g = core.gpr, mmu = core.mmu;
  const t = c[b + F_D], t2 = c[b + F_M], n = c[b + F_N], k = c[b + F_K];
  const size = 1 << (k & 7), type = (k >> 3) & 7, mode = (k >> 6) & 3;
  if (spMisaligned(core, n)) return EXIT.ALIGNMENT;
  addOff(g, n, mode === MODE.POST ? 0 : c[b + F_I]);
  const alo = r.lo, ahi = r.hi;
  if (type === LS.STORE || type === LS.FP_STORE) {
    const v = mmu.storeView(alo, ahi, 2 * size);
    if (v === null) return EXIT.PAGE_FAULT;
    const at = mmu.at;
    if (type === LS.STORE) {
      storeReg(core, t, size, v, at);
      storeReg(core, t2, size, v, at + size);
    } else {
      storeVec(core, t, size, v, at);
      storeVec(core, t2, size, v, at + size);
    }
    mmu.commit();
  } else {
    const v = mmu.loadView(alo, ahi, 2 * size);
    if (v === null) return EXIT.PAGE_FAULT;
    const at = mmu.at;
    if (mode !== MODE.OFF) writeback(g, n, c[b + F_I]);
    if (type === LS.FP_LOAD) {
      loadVec(core, t, size, v, at);
      loadVec(core, t2, size, v, at + size);
    } else {
      loadReg(core, t, type, size, v, at);
      loadReg(core, t2, type, size, v, at + size);
    }
    return NEXT;
  }
  if (mode !== MODE.OFF) writeback(g, n, c[b + F_I]);
  return NEXT;
}

/** LDR (literal): K 0 w, 1 x, 2 sw, 4 s, 5 d, 6 q. */
export function execLiteral(
  core: Arm64Core,
  c: Int32Array,
  b: number,
  pcLo: number,
  pcHi: number,
): number {
  const k = c[b + F_K], t = c[b + F_D], mmu = core.mmu;
  const size = k === 1 || k === 5 ? 8 : k === 6 ? 16 : 4;
  const a = pcLo + c[b + F_I];
  const v = mmu.loadView(a >>> 0, (pcHi + Math.floor(a / TWO32)) >>> 0, size);
  if (v === null) return EXIT.PAGE_FAULT;
  if (k >= 4) loadVec(core, t, size, v, mmu.at);
  else loadReg(core, t, k === 2 ? LS.SX64 : LS.LOAD, size, v, mmu.at);
  return NEXT;
}

/**
 * Exclusives and atomics must be naturally aligned: otherwise an alignment
 * fault (Zircon: ZX_EXCP_UNALIGNED_ACCESS) with the address, as on hardware.
 */
function misaligned(core: Arm64Core, lo: number, hi: number, size: number, access: number) {
  if ((lo & (size - 1)) === 0) return false;
  core.detail = ALIGN.DATA;
  core.mmu.fault(lo, hi, access);
  return true;
}

/**
 * LDXR / STXR and pairs. One core has no other observer, but other threads
 * of the process run between two runs of this one: a store-exclusive
 * succeeds only if the monitored address still holds the value the
 * load-exclusive saw (so an update made by another thread in between makes
 * it fail and the program retry, while single-stepping still progresses).
 */
export function execExclusive(core: Arm64Core, c: Int32Array, b: number): number {
  const g = core.gpr, mmu = core.mmu;
  const t = c[b + F_D], n = c[b + F_N], k = c[b + F_K];
  const kind = k >> 3, log = k & 7, pair = kind === EXCL.LDXP || kind === EXCL.STXP;
  const size = (1 << log) * (pair ? 2 : 1);
  if (spMisaligned(core, n)) return EXIT.ALIGNMENT;
  const alo = g[n], ahi = g[n + 1];
  const load = kind === EXCL.LDXR || kind === EXCL.LDXP;
  if (misaligned(core, alo, ahi, size, load ? ACCESS.READ : ACCESS.WRITE)) return EXIT.ALIGNMENT;
  if (load) {
    if (!mmu.load(alo, ahi, size)) return EXIT.PAGE_FAULT;
    core.monValid = true;
    core.monLo = alo;
    core.monHi = ahi;
    core.monSize = size;
    for (let i = 0; i < size; i++) core.monValue[i] = mmu.buf[i];
    const each = 1 << log;
    loadReg(core, t, LS.LOAD, each, mmu.bufView, 0);
    if (pair) loadReg(core, c[b + F_J], LS.LOAD, each, mmu.bufView, each);
    return NEXT;
  }
  // Store exclusive: status 0 on success, 1 on failure, into Ws.
  const s = c[b + F_M];
  let ok = core.monValid && core.monLo === alo && core.monHi === ahi && core.monSize === size;
  if (ok) {
    // The monitor's own look at memory, not a load a watchpoint could see.
    const watching = mmu.watching;
    mmu.watching = false;
    const read = mmu.load(alo, ahi, size);
    mmu.watching = watching;
    if (!read) return EXIT.PAGE_FAULT;
    for (let i = 0; i < size; i++) if (mmu.buf[i] !== core.monValue[i]) ok = false;
  }
  if (ok) {
    const each = 1 << log;
    storeReg(core, t, each, mmu.bufView, 0);
    if (pair) storeReg(core, c[b + F_J], each, mmu.bufView, each);
    if (!mmu.store(alo, ahi, size)) return EXIT.PAGE_FAULT;
  }
  core.monValid = false;
  g[s] = ok ? 0 : 1;
  g[s + 1] = 0;
  return NEXT;
}

/** LSE atomics: LDADD, LDCLR, LDEOR, LDSET, LDSMAX, LDSMIN, LDUMAX, LDUMIN, SWP, CAS. */
export function execAtomic(core: Arm64Core, c: Int32Array, b: number): number {
  const g = core.gpr, mmu = core.mmu;
  const n = c[b + F_N], k = c[b + F_K], log = k & 7, kind = k >> 3, size = 1 << log;
  if (spMisaligned(core, n)) return EXIT.ALIGNMENT;
  const alo = g[n], ahi = g[n + 1];
  if (misaligned(core, alo, ahi, size, ACCESS.WRITE)) return EXIT.ALIGNMENT;
  // Both accesses must be allowed before anything changes.
  if (!mmu.load(alo, ahi, size)) return EXIT.PAGE_FAULT;
  const w = mmu.w32;
  const mask = size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
  const olo = (w[0] & mask) >>> 0, ohi = size === 8 ? w[1] : 0;
  const m = c[b + F_M];
  const slo = (g[m] & mask) >>> 0, shi = size === 8 ? g[m + 1] : 0;
  let nlo: number, nhi: number, store = true;
  if (kind === ATOM.CAS) {
    const j = c[b + F_J];
    store = olo === slo && ohi === shi;
    nlo = g[j];
    nhi = g[j + 1];
  } else if (kind === ATOM.SWP) {
    nlo = slo;
    nhi = shi;
  } else {
    atomicOp(kind, olo, ohi, slo, shi, size);
    nlo = r.lo;
    nhi = r.hi;
  }
  if (store) {
    w[0] = nlo;
    w[1] = nhi;
    if (!mmu.store(alo, ahi, size)) return EXIT.PAGE_FAULT;
  } else if (!mmu.probeWrite(alo, ahi)) {
    return EXIT.PAGE_FAULT; // a failed CAS still needs write permission
  }
  const d = c[b + F_D];
  g[d] = olo;
  g[d + 1] = ohi;
  return NEXT;
}

/** old <op> s for the eight LD<op> kinds, into r (values already size-masked). */
function atomicOp(kind: number, olo: number, ohi: number, slo: number, shi: number, size: number) {
  const bits = size * 8;
  switch (kind) {
    case 0: { // add
      const lo = olo + slo;
      r.lo = lo >>> 0;
      r.hi = (ohi + shi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
      return;
    }
    case 1: // clr
      r.lo = (olo & ~slo) >>> 0;
      r.hi = (ohi & ~shi) >>> 0;
      return;
    case 2: // eor
      r.lo = (olo ^ slo) >>> 0;
      r.hi = (ohi ^ shi) >>> 0;
      return;
    case 3: // set
      r.lo = (olo | slo) >>> 0;
      r.hi = (ohi | shi) >>> 0;
      return;
    default: {
      // max / min, signed (4, 5) or unsigned (6, 7), at the access size.
      const signed = kind < 6;
      const cmp = compare(olo, ohi, slo, shi, bits, signed);
      const wantMax = kind === 4 || kind === 6;
      const takeOld = wantMax ? cmp >= 0 : cmp <= 0;
      r.lo = takeOld ? olo : slo;
      r.hi = takeOld ? ohi : shi;
    }
  }
}

/** Compares two values of `bits` bits: -1, 0 or 1. */
function compare(
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
  bits: number,
  signed: boolean,
) {
  if (bits <= 32) {
    const sh = 32 - bits;
    const a = signed ? (alo << sh) >> sh : alo, bv = signed ? (blo << sh) >> sh : blo;
    return a < bv ? -1 : a > bv ? 1 : 0;
  }
  const ah = signed ? ahi | 0 : ahi, bh = signed ? bhi | 0 : bhi;
  if (ah !== bh) return ah < bh ? -1 : 1;
  return alo < blo ? -1 : alo > blo ? 1 : 0;
}

/** DC ZVA: zeroes the 64-byte block holding Xn (DCZID_EL0 says 64). */
export function execDcZva(core: Arm64Core, n: number): number {
  const g = core.gpr, mmu = core.mmu;
  const lo = (g[n] & ~63) >>> 0, hi = g[n + 1];
  // A store of the whole block for watchpoints: none of it is written on a hit.
  if (mmu.watching && mmu.watched(lo, hi, 64, ACCESS.WRITE)) return EXIT.PAGE_FAULT;
  mmu.buf.fill(0);
  if (!mmu.store(lo, hi, 32)) return EXIT.PAGE_FAULT;
  if (!mmu.store(lo + 32, hi, 32)) return EXIT.PAGE_FAULT;
  return NEXT;
}
