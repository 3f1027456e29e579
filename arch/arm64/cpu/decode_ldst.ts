// Decoding of loads and stores. Plain `ldr/str [xn, #imm]` of general
// registers get their own ops (the interpreter inlines them); every other
// form is LDST / LDSTP with the access described in K:
//   bits 0..2 log2(size), 3..5 type (LS), 6..7 mode (MODE),
//   8..10 extend option and 11..13 shift of a register offset.

import { decodeSimd } from "./decode_simd.ts";
import { put, reg, rsp, rz, sext, wz } from "./fields.ts";
import { OP } from "./ops.ts";

/** What an access does with its register. */
export const LS = {
  STORE: 0,
  /** Load, zero-extended. */
  LOAD: 1,
  /** Load, sign-extended to 64 bits. */
  SX64: 2,
  /** Load, sign-extended to 32 bits (upper half zeroed). */
  SX32: 3,
  FP_LOAD: 4,
  FP_STORE: 5,
  /** Prefetch: no access at all. */
  PRFM: 6,
} as const;

/** Addressing modes: base + offset, pre-index, post-index, base + register. */
export const MODE = { OFF: 0, PRE: 1, POST: 2, REG: 3 } as const;

/** Kinds of EXCL (K bits 3..): exclusive and pair forms. */
export const EXCL = { LDXR: 0, STXR: 1, LDXP: 2, STXP: 3 } as const;

/** Kinds of ATOMIC (K bits 3..): the eight LD<op>, then SWP, CAS. */
export const ATOM = { SWP: 8, CAS: 9 } as const;

const HOT_LOAD = [OP.LDRB, OP.LDRH, OP.LDRW, OP.LDRX];
const HOT_STORE = [OP.STRB, OP.STRH, OP.STRW, OP.STRX];

export function decodeLoadStore(w: number, e: Int32Array, b: number): void {
  if ((w & 0x3f000000) === 0x08000000) return decodeExclusive(w, e, b);
  if ((w & 0x3b000000) === 0x18000000) return decodeLiteral(w, e, b);
  if ((w & 0x3a000000) === 0x28000000) return decodePair(w, e, b);
  if ((w & 0x3a000000) === 0x38000000) return decodeRegister(w, e, b);
  decodeSimd(w, e, b); // AdvSIMD structure loads / stores
}

/** Transfer register: gpr index (31 = zero register) or, for FP, the vector register number. */
function rt(w: number, shift: number, type: number): number {
  if (type === LS.FP_LOAD || type === LS.FP_STORE) return reg(w, shift);
  return type === LS.STORE ? rz(w, shift) : wz(w, shift);
}

function decodeRegister(w: number, e: Int32Array, b: number): void {
  const size = w >>> 30, v = (w >>> 26) & 1, opc = (w >>> 22) & 3;
  // LSE atomics share the space; their bits 23..22 are acquire/release, not opc.
  if ((w & 0x05200c00) === 0x00200000) {
    decodeAtomic(w, e, b);
    return;
  }
  let log = size, type: number;
  if (!v) {
    if (opc === 0) type = LS.STORE;
    else if (opc === 1) type = LS.LOAD;
    else if (opc === 2) type = size === 3 ? LS.PRFM : LS.SX64;
    else if (size < 2) type = LS.SX32;
    else return;
  } else {
    if (opc & 2) {
      if (size !== 0) return;
      log = 4;
    }
    type = opc & 1 ? LS.FP_LOAD : LS.FP_STORE;
  }
  const n = rsp(w, 5), t = rt(w, 0, type);
  if ((w >>> 24) & 1) {
    // Unsigned, scaled 12-bit offset.
    emit(e, b, type, log, MODE.OFF, t, n, 0, ((w >>> 10) & 0xfff) << log, 0);
    return;
  }
  if (((w >>> 21) & 1) === 0) {
    // 9-bit signed byte offset: unscaled (ldur), post-index, unprivileged, pre-index.
    const imm = sext((w >>> 12) & 0x1ff, 9), op = (w >>> 10) & 3;
    const mode = op === 1 ? MODE.POST : op === 3 ? MODE.PRE : MODE.OFF;
    if (type === LS.PRFM && op !== 0) return;
    emit(e, b, type, log, mode, t, n, 0, imm, 0);
    return;
  }
  const op = (w >>> 10) & 3;
  if (op === 2) {
    // Register offset, extended (uxtw / sxtw / sxtx) or lsl, scaled by the size or not.
    const option = (w >>> 13) & 7;
    if ((option & 2) === 0) return;
    const shift = (w >>> 12) & 1 ? log : 0;
    emit(e, b, type, log, MODE.REG, t, n, rz(w, 16), 0, (option << 8) | (shift << 11));
  }
}

function emit(
  e: Int32Array,
  b: number,
  type: number,
  log: number,
  mode: number,
  t: number,
  n: number,
  m: number,
  imm: number,
  extra: number,
): void {
  if (mode === MODE.OFF && log <= 3 && (type === LS.LOAD || type === LS.STORE)) {
    put(e, b, (type === LS.LOAD ? HOT_LOAD : HOT_STORE)[log], t, n, 0, imm);
    return;
  }
  if (type === LS.PRFM) {
    put(e, b, OP.NOP);
    return;
  }
  put(e, b, OP.LDST, t, n, m, imm, 0, log | (type << 3) | (mode << 6) | extra);
}

function decodePair(w: number, e: Int32Array, b: number): void {
  const opc = w >>> 30, v = (w >>> 26) & 1, l = (w >>> 22) & 1, enc = (w >>> 23) & 3;
  let log: number, type: number;
  if (!v) {
    if (opc === 0) log = 2;
    else if (opc === 2) log = 3;
    else if (opc === 1 && l && enc !== 0) log = 2; // ldpsw
    else return;
    type = l ? (opc === 1 ? LS.SX64 : LS.LOAD) : LS.STORE;
  } else {
    if (opc === 3) return;
    log = 2 + opc;
    type = l ? LS.FP_LOAD : LS.FP_STORE;
  }
  const mode = enc === 1 ? MODE.POST : enc === 3 ? MODE.PRE : MODE.OFF;
  const imm = sext((w >>> 15) & 0x7f, 7) * (1 << log);
  const k = log | (type << 3) | (mode << 6);
  put(e, b, OP.LDSTP, rt(w, 0, type), rsp(w, 5), rt(w, 10, type), imm, 0, k);
}

function decodeLiteral(w: number, e: Int32Array, b: number): void {
  const opc = w >>> 30, v = (w >>> 26) & 1;
  const imm = sext((w >>> 5) & 0x7ffff, 19) * 4;
  if (!v) {
    if (opc === 3) put(e, b, OP.NOP); // prfm (literal)
    else put(e, b, OP.LDLIT, wz(w, 0), 0, 0, imm, 0, opc); // 0 w, 1 x, 2 sw
    return;
  }
  if (opc === 3) return;
  put(e, b, OP.LDLIT, reg(w, 0), 0, 0, imm, 0, 4 + opc); // 4 s, 5 d, 6 q
}

function decodeExclusive(w: number, e: Int32Array, b: number): void {
  const size = w >>> 30, o2 = (w >>> 23) & 1, l = (w >>> 22) & 1, o1 = (w >>> 21) & 1;
  const n = rsp(w, 5);
  if (!o2 && !o1) {
    // LDXR / LDAXR, STXR / STLXR: K = size | kind << 3; M = status register.
    const kind = l ? EXCL.LDXR : EXCL.STXR;
    put(e, b, OP.EXCL, l ? wz(w, 0) : rz(w, 0), n, wz(w, 16), 0, 0, size | (kind << 3));
    return;
  }
  if (!o2 && o1) {
    if (size < 2) return; // casp (not modelled)
    const kind = l ? EXCL.LDXP : EXCL.STXP;
    const t = l ? wz(w, 0) : rz(w, 0), t2 = l ? wz(w, 10) : rz(w, 10);
    put(e, b, OP.EXCL, t, n, wz(w, 16), 0, t2, size | (kind << 3));
    return;
  }
  if (o2 && !o1) {
    // LDAR / LDLAR, STLR / STLLR: ordinary accesses for a single core.
    const type = l ? LS.LOAD : LS.STORE;
    put(e, b, (l ? HOT_LOAD : HOT_STORE)[size], rt(w, 0, type), n, 0, 0);
    return;
  }
  // CAS / CASA / CASL / CASAL: D = old-value destination (Rs), M = compare
  // value (Rs), J = new value (Rt).
  put(e, b, OP.ATOMIC, wz(w, 16), n, rz(w, 16), 0, rz(w, 0), size | (ATOM.CAS << 3));
}

function decodeAtomic(w: number, e: Int32Array, b: number): void {
  // LSE: LDADD, LDCLR, LDEOR, LDSET, LDSMAX, LDSMIN, LDUMAX, LDUMIN, SWP.
  const size = w >>> 30, o3 = (w >>> 15) & 1, opc = (w >>> 12) & 7;
  let kind: number;
  if (!o3) kind = opc;
  else if (opc === 0) kind = ATOM.SWP;
  else if (opc === 4 && ((w >>> 16) & 31) === 31) {
    // LDAPR: a load-acquire (RCpc), an ordinary load on one core.
    put(e, b, HOT_LOAD[size], wz(w, 0), rsp(w, 5), 0, 0);
    return;
  } else return;
  put(e, b, OP.ATOMIC, wz(w, 0), rsp(w, 5), rz(w, 16), 0, 0, size | (kind << 3));
}
