// x86-64 decoder: bytes -> Insn (handler + operands), run once per
// instruction address and cached per page. Covers legacy prefixes (66, 67,
// F2/F3, FS/GS overrides, LOCK and null segment overrides ignored), REX,
// ModRM/SIB/disp/RIP-relative and immediates. Whatever is not decoded here
// gets the undefined-instruction handler, so it stops the core (never throws).

import { aluEG, aluEI, aluGE, incDec, negNot, TEST } from "./alu.ts";
import { fastAlu, incDec32, incDec64, jzNz } from "./fast.ts";
import {
  callIndirect,
  callRel,
  cliSti,
  hlt,
  inOut,
  int3,
  intN,
  jcc,
  jmpIndirect,
  jmpRel,
  leave,
  loop,
  nop,
  popf,
  popMem,
  popReg,
  privilegedOp,
  pushf,
  pushImm,
  pushMem,
  pushReg,
  ret,
  syscall,
  undefinedOp,
} from "./control.ts";
import { FS_BASE, GPR, GS_BASE, type Handler, Insn, RAX } from "./insn.ts";
import {
  bswap,
  cmov,
  cmpxchg,
  convert,
  flagOp,
  lea,
  load32,
  load64,
  movEG,
  movEI,
  movExtend,
  movGE,
  movMoffs,
  movRR32,
  movRR64,
  setcc,
  store32,
  store64,
  xadd,
  xchg,
} from "./move.ts";
import { divide, imulTwo, mulOne } from "./muldiv.ts";
import { bitScan, bitTest, shiftDouble, shiftGroup } from "./shift.ts";
import { movdFromXmm, movdToXmm, pmovmskb, SSE, sseAlu, sseMov, sseShift } from "./sse.ts";
import { stringOp } from "./string.ts";
import { EXIT } from "../../cpu.ts";
import type { Cpu } from "./state.ts";

/** The longest legal instruction; longer ones are #GP. */
export const MAX_LENGTH = 15;

/** An instruction longer than 15 bytes. */
function tooLong(_c: Cpu, _i: Insn): number {
  return EXIT.GENERAL_PROTECTION;
}

// Reader state (decoding is not re-entered).
let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
/** Set when the decoder needed a byte at or past `end`. */
let short = false;

function next(): number {
  if (pos >= end) {
    short = true;
    pos++;
    return 0;
  }
  return buf[pos++];
}

function imm8(): number {
  return (next() << 24) >> 24;
}

function imm16(): number {
  return next() | (next() << 8);
}

function imm32(): number {
  return next() | (next() << 8) | (next() << 16) | (next() << 24);
}

// Prefix and ModRM state of the instruction being decoded.
let rex = 0;
let p66 = 0;
let p67 = 0;
let rep = 0;
let seg = -1;
/** ModRM fields: mod, reg (0-7, no REX), reg with REX.R, rm with REX.B (registers only). */
let mod = 0;
let reg = 0;
let regNum = 0;
let rmNum = 0;

/** u32 index and byte shift of x86 register `n` as an operand of size `sz`. */
function regIndex(n: number, sz: number): number {
  return sz === 1 && rex === 0 && n >= 4 && n < 8 ? GPR[n - 4] : GPR[n];
}

function regShift(n: number, sz: number): number {
  return sz === 1 && rex === 0 && n >= 4 && n < 8 ? 8 : 0;
}

/**
 * Reads ModRM (+ SIB + displacement). `regSz` / `rmSz` are the sizes of the
 * reg and r/m operands (for the AH..BH rule); 0 when the field is not a
 * general register (opcode extension, xmm).
 */
function modrm(i: Insn, regSz: number, rmSz: number): void {
  const m = next();
  mod = m >>> 6;
  reg = (m >>> 3) & 7;
  regNum = reg | ((rex & 4) << 1);
  const rm = m & 7;
  rmNum = rm | ((rex & 1) << 3);
  if (regSz !== 0) {
    i.r = regIndex(regNum, regSz);
    i.rs = regShift(regNum, regSz);
  }
  if (mod === 3) {
    if (rmSz !== 0) {
      i.m = regIndex(rmNum, rmSz);
      i.ms = regShift(rmNum, rmSz);
    }
    return;
  }
  i.m = -1;
  i.seg = seg;
  i.addr32 = p67;
  let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
  if (rm === 4) {
    const sib = next();
    const idx = ((sib >>> 3) & 7) | ((rex & 2) << 2);
    if (idx !== 4) {
      i.index = GPR[idx];
      i.scale = sib >>> 6;
    }
    if ((sib & 7) === 5 && mod === 0) dispSize = 4;
    else i.base = GPR[(sib & 7) | ((rex & 1) << 3)];
  } else if (rm === 5 && mod === 0) {
    i.ripRel = 1;
    dispSize = 4;
  } else {
    i.base = GPR[rmNum];
  }
  i.disp = dispSize === 1 ? imm8() : dispSize === 4 ? imm32() : 0;
}

/** Sets the immediate `v` (a signed int32) extended to operand size `sz`. */
function setImm(i: Insn, v: number, sz: number): void {
  if (sz === 8) {
    i.imm = v >>> 0;
    i.immHi = v < 0 ? 0xffffffff : 0;
  } else {
    i.imm = (sz === 4 ? v : v & (sz === 2 ? 0xffff : 0xff)) >>> 0;
    i.immHi = 0;
  }
}

/** imm8 / imm16 / imm32 by operand size, never 64 (the "Iz" operand). */
function immZ(i: Insn, sz: number): void {
  setImm(i, sz === 1 ? imm8() : sz === 2 ? imm16() : imm32(), sz);
}

function set(i: Insn, fn: Handler, op: number, sz: number): void {
  i.fn = fn;
  i.op = op;
  i.sz = sz;
}

/**
 * Decodes the instruction at bytes[at], reading no further than `limit`.
 * Returns false when it needed bytes at or past `limit` (the caller fetches
 * the next page or faults); `i` is filled either way.
 */
export function decode(bytes: Uint8Array, at: number, limit: number, i: Insn): boolean {
  buf = bytes;
  pos = at;
  end = limit;
  short = false;
  rex =
    p66 =
    p67 =
    rep =
      0;
  seg = -1;
  let b: number;
  for (;;) {
    b = next();
    if (pos - at > MAX_LENGTH) break;
    if ((b & 0xf0) === 0x40) {
      rex = b;
      continue;
    }
    if (b === 0x66) p66 = 1;
    else if (b === 0x67) p67 = 1;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else if (b === 0x64) seg = FS_BASE;
    else if (b === 0x65) seg = GS_BASE;
    else if (b !== 0xf0 && b !== 0x2e && b !== 0x36 && b !== 0x3e && b !== 0x26) break;
    rex = 0; // a REX not directly before the opcode is ignored
  }
  i.fn = undefinedOp;
  if (pos - at <= MAX_LENGTH) {
    if (b === 0x0f) twoByte(i, next());
    else oneByte(i, b);
  }
  const len = pos - at;
  i.len = len;
  let raw = 0;
  for (let k = Math.min(len, 4, limit - at) - 1; k >= 0; k--) raw = raw * 256 + bytes[at + k];
  i.raw = raw;
  if (len > MAX_LENGTH) i.fn = tooLong;
  return !short;
}

function opSize(): number {
  return (rex & 8) !== 0 ? 8 : p66 !== 0 ? 2 : 4;
}

function oneByte(i: Insn, b: number): void {
  const sz = opSize();
  if (b < 0x40) {
    const form = b & 7;
    if (form >= 6) return; // segment push/pop, daa/das/aaa/aas: invalid in 64-bit mode
    aluForm(i, b >>> 3, form, sz);
    return;
  }
  if (b >= 0x50 && b <= 0x5f) {
    i.m = GPR[(b & 7) | ((rex & 1) << 3)];
    set(i, b < 0x58 ? pushReg : popReg, 0, p66 !== 0 ? 2 : 8);
    return;
  }
  if (b >= 0x70 && b <= 0x7f) {
    set(i, (b & 0xe) === 4 ? jzNz : jcc, b & 0xf, 8);
    i.imm = imm8();
    return;
  }
  if (b >= 0x91 && b <= 0x97) {
    i.r = RAX;
    i.m = GPR[(b & 7) | ((rex & 1) << 3)];
    set(i, xchg, 0, sz);
    return;
  }
  if (b >= 0xb0 && b <= 0xbf) {
    const n = (b & 7) | ((rex & 1) << 3);
    const s = b < 0xb8 ? 1 : sz;
    i.m = regIndex(n, s);
    i.ms = regShift(n, s);
    set(i, movEI, 0, s);
    if (s === 8) {
      i.imm = imm32() >>> 0;
      i.immHi = imm32() >>> 0;
    } else {
      immZ(i, s);
    }
    return;
  }
  switch (b) {
    case 0x63: // movsxd Gv, Ed (a plain 32-bit mov without REX.W)
      modrm(i, sz, 4);
      set(i, movExtend, sz === 8 ? 1 : 0, sz);
      i.imm2 = sz === 8 ? 4 : sz;
      return;
    case 0x68:
    case 0x6a: {
      const s = p66 !== 0 ? 2 : 8;
      set(i, pushImm, 0, s);
      setImm(i, b === 0x6a ? imm8() : s === 2 ? (imm16() << 16) >> 16 : imm32(), 8);
      return;
    }
    case 0x69:
    case 0x6b:
      modrm(i, sz, sz);
      set(i, imulTwo, 0, sz);
      setImm(i, b === 0x6b ? imm8() : sz === 2 ? (imm16() << 16) >> 16 : imm32(), sz);
      i.imm2 = 1;
      return;
    case 0x6c:
    case 0x6d:
    case 0x6e:
    case 0x6f: // ins/outs
      set(i, privilegedOp, 0, sz);
      return;
    case 0x80:
    case 0x81:
    case 0x83: {
      const s = b === 0x80 ? 1 : sz;
      modrm(i, 0, s);
      set(i, aluEI, reg, s);
      if (b === 0x81) immZ(i, s);
      else setImm(i, imm8(), s);
      specializeEI(i);
      return;
    }
    case 0x84:
    case 0x85:
      aluForm(i, TEST, b & 1, sz);
      return;
    case 0x86:
    case 0x87: {
      const s = b === 0x86 ? 1 : sz;
      modrm(i, s, s);
      set(i, xchg, 0, s);
      return;
    }
    case 0x88:
    case 0x89:
    case 0x8a:
    case 0x8b: {
      const s = (b & 1) === 0 ? 1 : sz;
      modrm(i, s, s);
      set(i, b < 0x8a ? movEG : movGE, 0, s);
      specializeMov(i, b >= 0x8a);
      return;
    }
    case 0x8d:
      modrm(i, sz, 0);
      if (mod !== 3) set(i, lea, 0, sz);
      return;
    case 0x8f:
      modrm(i, 0, p66 !== 0 ? 2 : 8);
      if (reg === 0) set(i, mod === 3 ? popReg : popMem, 0, p66 !== 0 ? 2 : 8);
      return;
    case 0x90:
      if ((rex & 1) !== 0) {
        i.r = RAX;
        i.m = GPR[8];
        set(i, xchg, 0, sz);
      } else {
        set(i, nop, 0, sz); // nop, xchg ax,ax (66 90), pause (F3 90)
      }
      return;
    case 0x98:
    case 0x99:
      set(i, convert, b & 1, sz);
      return;
    case 0x9b: // fwait: no x87 exceptions pending, ever
      set(i, nop, 0, sz);
      return;
    case 0x9c:
    case 0x9d:
      set(i, b === 0x9c ? pushf : popf, 0, p66 !== 0 ? 2 : 8);
      return;
    case 0x9e:
    case 0x9f:
      set(i, flagOp, b === 0x9e ? 6 : 5, 1);
      return;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      set(i, movMoffs, b >= 0xa2 ? 1 : 0, (b & 1) === 0 ? 1 : sz);
      i.seg = seg;
      if (p67 !== 0) {
        i.imm = imm32() >>> 0;
      } else {
        i.imm = imm32() >>> 0;
        i.immHi = imm32() >>> 0;
      }
      return;
    }
    case 0xa4:
    case 0xa5:
    case 0xa6:
    case 0xa7:
    case 0xaa:
    case 0xab:
    case 0xac:
    case 0xad:
    case 0xae:
    case 0xaf: {
      const kind = b <= 0xa5 ? 0 : b <= 0xa7 ? 3 : b <= 0xab ? 1 : b <= 0xad ? 2 : 4;
      set(i, stringOp, kind, (b & 1) === 0 ? 1 : sz);
      i.seg = seg;
      i.addr32 = p67;
      i.rep = rep;
      return;
    }
    case 0xa8:
    case 0xa9: {
      const s = b === 0xa8 ? 1 : sz;
      i.m = RAX;
      set(i, aluEI, TEST, s);
      immZ(i, s);
      return;
    }
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const s = (b & 1) === 0 ? 1 : sz;
      modrm(i, 0, s);
      set(i, shiftGroup, reg, s);
      i.imm = b <= 0xc1 ? next() : b <= 0xd1 ? 1 : -1;
      return;
    }
    case 0xc2:
      set(i, ret, 0, 8);
      i.imm = imm16();
      return;
    case 0xc3:
      set(i, ret, 0, 8);
      return;
    case 0xc6:
    case 0xc7: {
      const s = b === 0xc6 ? 1 : sz;
      modrm(i, 0, s);
      if (reg !== 0) return;
      set(i, movEI, 0, s);
      immZ(i, s);
      return;
    }
    case 0xc9:
      set(i, leave, 0, 8);
      return;
    case 0xcc:
      set(i, int3, 0, 8);
      return;
    case 0xcd:
      next();
      set(i, intN, 0, 8);
      return;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3:
      set(i, loop, b & 3, 8);
      i.imm = imm8();
      i.addr32 = p67;
      return;
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef:
      set(i, inOut, (b & 2) === 0 ? 1 : 0, (b & 1) === 0 ? 1 : p66 !== 0 ? 2 : 4);
      i.imm = b < 0xe8 ? next() : -1;
      return;
    case 0xe8:
      set(i, callRel, 0, 8);
      i.imm = imm32();
      return;
    case 0xe9:
    case 0xeb:
      set(i, jmpRel, 0, 8);
      i.imm = b === 0xe9 ? imm32() : imm8();
      return;
    case 0xf4:
      set(i, hlt, 0, 8);
      return;
    case 0xf5:
      set(i, flagOp, 2, 8);
      return;
    case 0xf6:
    case 0xf7: {
      const s = b === 0xf6 ? 1 : sz;
      modrm(i, 0, s);
      if (reg <= 1) {
        set(i, aluEI, TEST, s);
        immZ(i, s);
      } else if (reg <= 3) {
        set(i, negNot, reg, s);
      } else if (reg <= 5) {
        set(i, mulOne, reg, s);
      } else {
        set(i, divide, reg, s);
      }
      return;
    }
    case 0xf8:
    case 0xf9:
    case 0xfc:
    case 0xfd:
      set(i, flagOp, b <= 0xf9 ? b - 0xf8 : b - 0xf9, 8);
      return;
    case 0xfa:
    case 0xfb:
      set(i, cliSti, b - 0xfa, 8);
      return;
    case 0xfe:
      modrm(i, 0, 1);
      if (reg <= 1) set(i, incDec, reg, 1);
      return;
    case 0xff:
      groupFF(i, sz);
      return;
  }
}

/** Forms 0-5 of the ALU rows 00-3F (and 84/85 for test). */
function aluForm(i: Insn, op: number, form: number, sz: number): void {
  const s = (form & 1) === 0 ? 1 : sz;
  if (form <= 1) {
    modrm(i, s, s);
    set(i, aluEG, op, s);
    if (mod === 3) specializeRR(i);
  } else if (form <= 3) {
    modrm(i, s, s);
    set(i, aluGE, op, s);
    if (mod === 3 && fastAlu(op, s) !== null) {
      // The fast handlers write i.m: swap so that m is the destination.
      const r = i.r;
      i.r = i.m;
      i.m = r;
      specializeRR(i);
    }
  } else {
    i.m = RAX;
    set(i, aluEI, op, s);
    immZ(i, s);
    specializeEI(i);
  }
}

/** op reg, imm: a fast handler (fast.ts) when there is one; it takes i.r = -1. */
function specializeEI(i: Insn): void {
  const fast = i.m >= 0 ? fastAlu(i.op, i.sz) : null;
  if (fast !== null) {
    i.fn = fast;
    i.r = -1;
  }
}

/** op reg, reg with i.m the destination: a fast handler when there is one. */
function specializeRR(i: Insn): void {
  const fast = fastAlu(i.op, i.sz);
  if (fast !== null) i.fn = fast;
}

/** mov with a fixed size: register-register, load and store forms. */
function specializeMov(i: Insn, toReg: boolean): void {
  if (i.sz < 4) return;
  if (i.m >= 0) {
    if (toReg) {
      const r = i.r;
      i.r = i.m;
      i.m = r;
    }
    i.fn = i.sz === 8 ? movRR64 : movRR32;
  } else if (toReg) {
    i.fn = i.sz === 8 ? load64 : load32;
  } else {
    i.fn = i.sz === 8 ? store64 : store32;
  }
}

function groupFF(i: Insn, sz: number): void {
  const m = next();
  pos--; // re-read by modrm
  const r = (m >>> 3) & 7;
  // call/jmp/push take 64-bit operands in 64-bit mode (push: 16 with 66).
  const s = r === 2 || r === 4 ? 8 : r === 6 ? (p66 !== 0 ? 2 : 8) : sz;
  modrm(i, 0, s);
  switch (r) {
    case 0:
    case 1:
      set(i, incDec, r, s);
      if (mod === 3 && s >= 4) i.fn = s === 8 ? incDec64 : incDec32;
      return;
    case 2:
      set(i, callIndirect, 0, 8);
      return;
    case 4:
      set(i, jmpIndirect, 0, 8);
      return;
    case 6:
      set(i, mod === 3 ? pushReg : pushMem, 0, s);
      return;
  }
}

// ---------------------------------------------------------------------------

function twoByte(i: Insn, b: number): void {
  const sz = opSize();
  if (b >= 0x40 && b <= 0x4f) {
    modrm(i, sz, sz);
    set(i, cmov, b & 0xf, sz);
    return;
  }
  if (b >= 0x80 && b <= 0x8f) {
    set(i, (b & 0xe) === 4 ? jzNz : jcc, b & 0xf, 8);
    i.imm = imm32();
    return;
  }
  if (b >= 0x90 && b <= 0x9f) {
    modrm(i, 0, 1);
    set(i, setcc, b & 0xf, 1);
    return;
  }
  if (b >= 0xc8 && b <= 0xcf) {
    i.r = GPR[(b & 7) | ((rex & 1) << 3)];
    set(i, bswap, 0, sz);
    return;
  }
  if (b >= 0x18 && b <= 0x1f) {
    modrm(i, 0, 0); // hint nops, prefetches, endbr64 (F3 0F 1E FA)
    set(i, nop, 0, sz);
    return;
  }
  switch (b) {
    case 0x01:
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x30:
    case 0x32:
    case 0x33:
    case 0x35:
      if (b === 0x01 || b >= 0x20 && b <= 0x23) modrm(i, 0, 0);
      set(i, privilegedOp, 0, sz);
      return;
    case 0x05:
      set(i, syscall, 0, 8);
      return;
    case 0x0b:
      return; // ud2
    case 0x0d: // prefetchw
      modrm(i, 0, 0);
      set(i, nop, 0, sz);
      return;
    case 0xa3:
    case 0xab:
    case 0xb3:
    case 0xbb:
      modrm(i, sz, sz);
      set(i, bitTest, b === 0xa3 ? 4 : b === 0xab ? 5 : b === 0xb3 ? 6 : 7, sz);
      i.imm = -1;
      return;
    case 0xba:
      modrm(i, 0, sz);
      if (reg < 4) return;
      set(i, bitTest, reg, sz);
      i.imm = next();
      return;
    case 0xa4:
    case 0xa5:
    case 0xac:
    case 0xad:
      modrm(i, sz, sz);
      set(i, shiftDouble, b >= 0xac ? 1 : 0, sz);
      i.imm = (b & 1) === 0 ? next() : -1;
      return;
    case 0xae:
      modrm(i, 0, 0);
      // lfence / mfence / sfence: memory is already sequentially consistent.
      if (mod === 3 && reg >= 5 && rep === 0) set(i, nop, 0, sz);
      return;
    case 0xaf:
      modrm(i, sz, sz);
      set(i, imulTwo, 0, sz);
      return;
    case 0xb0:
    case 0xb1: {
      const s = b === 0xb0 ? 1 : sz;
      modrm(i, s, s);
      set(i, cmpxchg, 0, s);
      return;
    }
    case 0xc0:
    case 0xc1: {
      const s = b === 0xc0 ? 1 : sz;
      modrm(i, s, s);
      set(i, xadd, 0, s);
      return;
    }
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf: {
      const from = (b & 1) === 0 ? 1 : 2;
      modrm(i, sz, from);
      set(i, movExtend, b >= 0xbe ? 1 : 0, sz);
      i.imm2 = from;
      return;
    }
    case 0xb8:
      modrm(i, sz, sz);
      if (rep === 0xf3) set(i, bitScan, 4, sz);
      return;
    case 0xbc:
    case 0xbd:
      modrm(i, sz, sz);
      set(i, bitScan, (b - 0xbc) + (rep === 0xf3 ? 2 : 0), sz);
      return;
  }
  sseOp(i, b);
}

/** xmm index of xmm register n. */
function xmm(n: number): number {
  return n * 16;
}

/** ModRM with xmm operands: i.r = xmm(reg), i.m = xmm(rm) or memory. */
function modrmX(i: Insn): void {
  modrm(i, 0, 0);
  i.r = xmm(regNum);
  if (mod === 3) i.m = xmm(rmNum);
}

const PACKED_66: Record<number, number> = {
  0x60: SSE.PUNPCKLBW,
  0x61: SSE.PUNPCKLWD,
  0x62: SSE.PUNPCKLDQ,
  0x64: SSE.PCMPGTB,
  0x65: SSE.PCMPGTW,
  0x66: SSE.PCMPGTD,
  0x68: SSE.PUNPCKHBW,
  0x69: SSE.PUNPCKHWD,
  0x6a: SSE.PUNPCKHDQ,
  0x6c: SSE.PUNPCKLQDQ,
  0x6d: SSE.PUNPCKHQDQ,
  0x74: SSE.PCMPEQB,
  0x75: SSE.PCMPEQW,
  0x76: SSE.PCMPEQD,
  0xd4: SSE.PADDQ,
  0xda: SSE.PMINUB,
  0xdb: SSE.PAND,
  0xde: SSE.PMAXUB,
  0xdf: SSE.PANDN,
  0xeb: SSE.POR,
  0xef: SSE.PXOR,
  0xf8: SSE.PSUBB,
  0xf9: SSE.PSUBW,
  0xfa: SSE.PSUBD,
  0xfb: SSE.PSUBQ,
  0xfc: SSE.PADDB,
  0xfd: SSE.PADDW,
  0xfe: SSE.PADDD,
};

/** andps/andnps/orps/xorps (and the 66 pd forms): bitwise, as their integer twins. */
const LOGIC_PS: Record<number, number> = {
  0x54: SSE.PAND,
  0x55: SSE.PANDN,
  0x56: SSE.POR,
  0x57: SSE.PXOR,
};

function sseOp(i: Insn, b: number): void {
  if (b === 0x10 || b === 0x11) {
    modrmX(i);
    const load = b === 0x10;
    const op = rep === 0xf3
      ? (load ? SSE.MOVSS_LOAD : SSE.MOVSS_STORE)
      : rep === 0xf2
      ? (load ? SSE.MOVSD_LOAD : SSE.MOVSD_STORE)
      : (load ? SSE.MOVU_LOAD : SSE.MOVU_STORE);
    set(i, sseMov, op, 16);
    return;
  }
  if ((b === 0x28 || b === 0x29 || b === 0x2b) && rep === 0) {
    modrmX(i);
    if (b === 0x2b && mod === 3) return;
    set(i, sseMov, b === 0x28 ? SSE.MOVA_LOAD : SSE.MOVA_STORE, 16);
    return;
  }
  if (b in LOGIC_PS && rep === 0) {
    modrmX(i);
    set(i, sseAlu, LOGIC_PS[b], 16);
    return;
  }
  if (b === 0x70 && p66 === 0 && rep !== 0) {
    modrmX(i);
    set(i, sseAlu, rep === 0xf2 ? SSE.PSHUFLW : SSE.PSHUFHW, 16);
    i.imm = next();
    return;
  }
  if (p66 === 0 && rep === 0xf3) {
    if (b === 0x6f || b === 0x7f) {
      modrmX(i);
      set(i, sseMov, b === 0x6f ? SSE.MOVU_LOAD : SSE.MOVU_STORE, 16);
    } else if (b === 0x7e) {
      modrmX(i);
      set(i, sseMov, SSE.MOVQ_LOAD, 16);
    }
    return;
  }
  if (p66 === 0 || rep !== 0) return; // MMX and other prefixed forms: not implemented
  if (b in PACKED_66) {
    modrmX(i);
    set(i, sseAlu, PACKED_66[b], 16);
    return;
  }
  switch (b) {
    case 0x6e:
      modrm(i, 0, (rex & 8) !== 0 ? 8 : 4);
      i.r = xmm(regNum);
      set(i, movdToXmm, 0, (rex & 8) !== 0 ? 8 : 4);
      return;
    case 0x7e:
      modrm(i, 0, (rex & 8) !== 0 ? 8 : 4);
      i.r = xmm(regNum);
      set(i, movdFromXmm, 0, (rex & 8) !== 0 ? 8 : 4);
      return;
    case 0x6f:
    case 0x7f:
    case 0xe7:
      modrmX(i);
      if (b === 0xe7 && mod === 3) return;
      set(i, sseMov, b === 0x6f ? SSE.MOVA_LOAD : SSE.MOVA_STORE, 16);
      return;
    case 0xd6:
      modrmX(i);
      set(i, sseMov, SSE.MOVQ_STORE, 16);
      return;
    case 0x70:
      modrmX(i);
      set(i, sseAlu, SSE.PSHUFD, 16);
      i.imm = next();
      return;
    case 0xd7:
      modrm(i, 4, 0);
      if (mod !== 3) return;
      i.m = xmm(rmNum);
      set(i, pmovmskb, 0, 4);
      return;
    case 0x71:
    case 0x72:
    case 0x73: {
      modrm(i, 0, 0);
      if (mod !== 3) return;
      i.m = xmm(rmNum);
      const bits = b === 0x71 ? 16 : b === 0x72 ? 32 : 64;
      // /2 logical right, /4 arithmetic right, /6 left; 73 /3, /7: whole-register bytes.
      let op = -1;
      if (reg === 2) op = bits * 4;
      else if (reg === 4 && bits !== 64) op = bits * 4 + 1;
      else if (reg === 6) op = bits * 4 + 2;
      else if (b === 0x73 && reg === 3) op = 128 * 4;
      else if (b === 0x73 && reg === 7) op = 128 * 4 + 2;
      if (op < 0) return;
      set(i, sseShift, op, 16);
      i.imm = next();
      return;
    }
  }
}

/** A fresh Insn for the cache. */
export function newInsn(): Insn {
  return new Insn(undefinedOp);
}
