// Lazy arithmetic flags. An instruction that sets flags records what it did
// (operation, size, operands, result) in a few fields instead of computing
// six bits; a jcc/setcc/cmovcc asks for just the condition it needs, and
// `flags()` rebuilds CF PF AF ZF SF OF exactly when rflags must be shown.
// Values are stored as u32 halves already reduced to the operand size.

import type { Cpu } from "./state.ts";

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
export const DF = 0x400, IF = 0x200, TF = 0x100;
/**
 * RFLAGS bits user code (popf, a debugger's write, a VMM's
 * zx_vcpu_state_t) may change: CF PF AF ZF SF TF DF OF NT AC ID. Everything
 * else (bit 1, IF, IOPL, RF, VM, VIF, VIP, reserved bits) keeps its value.
 */
export const X86_FLAGS_USER = 0x244dd5;
/** Bit 1 of RFLAGS, reserved, which the CPU always stores as one. */
export const X86_FLAGS_ALWAYS_ONE = 0x2;
/** The six flags computed by arithmetic. */
export const ARITH = CF | PF | AF | ZF | SF | OF;

/** Lazy operations. INC/DEC keep CF (held in lcf); SETCO gives CF=lcf, OF=la, AF=0. */
export const L_NONE = 0,
  L_ADD = 1,
  L_ADC = 2,
  L_SUB = 3,
  L_SBB = 4,
  L_LOGIC = 5,
  L_INC = 6,
  L_DEC = 7,
  L_SETCO = 8;

/** Mask and sign bit of the low word for each operand size (index: bytes). */
export const MASK = [0, 0xff, 0xffff, 0, 0xffffffff, 0, 0, 0, 0xffffffff];
export const SIGN = [0, 0x80, 0x8000, 0, 0x80000000, 0, 0, 0, 0x80000000];

/** PARITY[b] is PF for a result whose low byte is b (even number of ones). */
const PARITY = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let ones = 0;
  for (let v = b; v !== 0; v >>= 1) ones += v & 1;
  PARITY[b] = (ones & 1) === 0 ? PF : 0;
}

/** Records a flag-setting operation of size `sz` (bytes). */
export function setLazy(
  c: Cpu,
  op: number,
  sz: number,
  a: number,
  ah: number,
  b: number,
  bh: number,
  r: number,
  rh: number,
): void {
  c.lop = op;
  c.lsz = sz;
  c.la = a;
  c.lah = ah;
  c.lb = b;
  c.lbh = bh;
  c.lr = r;
  c.lrh = rh;
}

/** The result of a logic op (CF = OF = AF = 0). */
export function setLogic(c: Cpu, sz: number, r: number, rh: number): void {
  c.lop = L_LOGIC;
  c.lsz = sz;
  c.lr = r;
  c.lrh = rh;
}

/** Explicit CF and OF (0/1) with ZF SF PF from the result, AF = 0 (shifts, multiplies). */
export function setCO(c: Cpu, sz: number, r: number, rh: number, cf: number, of: number): void {
  c.lop = L_SETCO;
  c.lsz = sz;
  c.lr = r;
  c.lrh = rh;
  c.lcf = cf;
  c.la = of;
}

/** Unsigned a < b over (hi, lo) pairs. */
function below(ah: number, a: number, bh: number, b: number): boolean {
  return ah < bh || (ah === bh && a < b);
}

/** CF as 0/1. */
export function getCF(c: Cpu): number {
  switch (c.lop) {
    case L_NONE:
      return c.fl & CF;
    case L_ADD:
      return below(c.lrh, c.lr, c.lah, c.la) ? 1 : 0;
    case L_ADC:
      return (c.lcf === 0 ? below(c.lrh, c.lr, c.lah, c.la) : !below(c.lah, c.la, c.lrh, c.lr))
        ? 1
        : 0;
    case L_SUB:
      return below(c.lah, c.la, c.lbh, c.lb) ? 1 : 0;
    case L_SBB:
      return (c.lcf === 0 ? below(c.lah, c.la, c.lbh, c.lb) : !below(c.lbh, c.lb, c.lah, c.la))
        ? 1
        : 0;
    case L_LOGIC:
      return 0;
    default: // INC, DEC, SETCO
      return c.lcf;
  }
}

/** The sign bit of a value of the lazy size. */
function signOf(c: Cpu, lo: number, hi: number): number {
  return c.lsz === 8 ? hi >>> 31 : (lo & SIGN[c.lsz]) !== 0 ? 1 : 0;
}

/** OF as 0/1. */
export function getOF(c: Cpu): number {
  switch (c.lop) {
    case L_NONE:
      return (c.fl & OF) === 0 ? 0 : 1;
    case L_ADD:
    case L_ADC:
    case L_INC: // b = 1
      return signOf(c, (c.la ^ c.lr) & (c.lb ^ c.lr), (c.lah ^ c.lrh) & (c.lbh ^ c.lrh));
    case L_SUB:
    case L_SBB:
    case L_DEC: // b = 1
      return signOf(c, (c.la ^ c.lb) & (c.la ^ c.lr), (c.lah ^ c.lbh) & (c.lah ^ c.lrh));
    case L_LOGIC:
      return 0;
    default:
      return c.la;
  }
}

export function getZF(c: Cpu): number {
  if (c.lop === L_NONE) return (c.fl & ZF) === 0 ? 0 : 1;
  return (c.lr | c.lrh) === 0 ? 1 : 0;
}

export function getSF(c: Cpu): number {
  if (c.lop === L_NONE) return (c.fl & SF) === 0 ? 0 : 1;
  return signOf(c, c.lr, c.lrh);
}

export function getPF(c: Cpu): number {
  if (c.lop === L_NONE) return (c.fl & PF) === 0 ? 0 : 1;
  return PARITY[c.lr & 0xff] === 0 ? 0 : 1;
}

function getAF(c: Cpu): number {
  switch (c.lop) {
    case L_NONE:
      return c.fl & AF;
    case L_LOGIC:
    case L_SETCO:
      return 0;
    default:
      return (c.la ^ c.lb ^ c.lr) & AF;
  }
}

/** The six arithmetic flags as rflags bits; afterwards they are held in `fl`. */
export function flags(c: Cpu): number {
  if (c.lop === L_NONE) return c.fl;
  const bits = getCF(c) | (getPF(c) === 0 ? 0 : PF) | getAF(c) |
    (getZF(c) === 0 ? 0 : ZF) | (getSF(c) === 0 ? 0 : SF) | (getOF(c) === 0 ? 0 : OF);
  c.fl = bits;
  c.lop = L_NONE;
  return bits;
}

/** Replaces the arithmetic flags with `bits` (popf, sahf, rotates, bt). */
export function setFlags(c: Cpu, bits: number): void {
  c.fl = bits & ARITH;
  c.lop = L_NONE;
}

/**
 * Condition `cc` (the low nibble of jcc/setcc/cmovcc): O NO B AE E NE BE A
 * S NS P NP L GE LE G. After a cmp/sub the common ones read the operands
 * directly instead of rebuilding flags.
 */
export function cond(c: Cpu, cc: number): boolean {
  let t: boolean;
  if (c.lop === L_SUB) {
    switch (cc >>> 1) {
      case 1: // b
        t = below(c.lah, c.la, c.lbh, c.lb);
        break;
      case 2: // e
        t = (c.lr | c.lrh) === 0;
        break;
      case 3: // be
        t = !below(c.lbh, c.lb, c.lah, c.la);
        break;
      default:
        t = slowCond(c, cc >>> 1);
    }
  } else if (cc >>> 1 === 2) {
    t = getZF(c) !== 0;
  } else {
    t = slowCond(c, cc >>> 1);
  }
  return (cc & 1) === 0 ? t : !t;
}

function slowCond(c: Cpu, half: number): boolean {
  switch (half) {
    case 0:
      return getOF(c) !== 0;
    case 1:
      return getCF(c) !== 0;
    case 2:
      return getZF(c) !== 0;
    case 3:
      return (getCF(c) | getZF(c)) !== 0;
    case 4:
      return getSF(c) !== 0;
    case 5:
      return getPF(c) !== 0;
    case 6:
      return getSF(c) !== getOF(c);
    default:
      return getZF(c) !== 0 || getSF(c) !== getOF(c);
  }
}
