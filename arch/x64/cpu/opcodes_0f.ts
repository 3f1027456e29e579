// The two-byte (0F xx) opcode map, SSE included.

import { jcc, nop, privilegedOp } from "./control.ts";
import { jzNz } from "./fast.ts";
import {
  cacheOp,
  clts,
  cpuid,
  movCr,
  msr,
  OP01_CLAC,
  OP01_STAC,
  OP01_SWAPGS,
  OP01_VMCALL,
  syscallAny,
  system00,
  system01,
} from "./guest_ops.ts";
import { GPR, type Insn } from "./insn.ts";
import { bswap, cmov, cmpxchg, movExtend, setcc, xadd } from "./move.ts";
import { imulTwo } from "./muldiv.ts";
import { d, imm32, modrm, next, opSize, set } from "./reader.ts";
import { bitScan, bitTest, shiftDouble } from "./shift.ts";
import { movdFromXmm, movdToXmm, pmovmskb, SSE, sseAlu, sseMov, sseShift } from "./sse.ts";

export function twoByte(i: Insn, b: number): void {
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
    i.r = GPR[(b & 7) | ((d.rex & 1) << 3)];
    set(i, bswap, 0, sz);
    return;
  }
  if (b >= 0x18 && b <= 0x1f) {
    modrm(i, 0, 0); // hint nops, prefetches, endbr64 (F3 0F 1E FA)
    set(i, nop, 0, sz);
    return;
  }
  // System instructions (guest_ops.ts): a guest kernel runs them; user code
  // gets #GP (or an undefined instruction) exactly as before they existed.
  switch (b) {
    case 0x00:
      modrm(i, 0, sz);
      set(i, system00, d.reg, sz);
      return;
    case 0x01:
      modrm(i, 0, sz);
      if (d.mod !== 3 || d.reg === 4 || d.reg === 6) {
        set(i, system01, d.reg, sz);
      } else {
        const op = 8 + d.reg * 8 + (d.rmNum & 7);
        const system = op === OP01_VMCALL || op === OP01_SWAPGS || op === OP01_CLAC ||
          op === OP01_STAC;
        set(i, system ? system01 : privilegedOp, op, sz);
      }
      return;
    case 0x06:
      set(i, clts, 0, sz);
      return;
    case 0x08:
    case 0x09:
      set(i, cacheOp, 0, sz);
      return;
    case 0x20:
    case 0x22:
      // mov from / to CRn: the r/m operand is always a register.
      modrm(i, 0, 8);
      if (d.mod === 3) {
        set(i, movCr, d.regNum, 8);
        i.imm2 = b === 0x22 ? 1 : 0;
      } else {
        set(i, privilegedOp, 0, sz);
      }
      return;
    case 0x30:
    case 0x32:
      set(i, msr, b === 0x32 ? 1 : 0, sz);
      return;
    case 0x07:
    case 0x21:
    case 0x23:
    case 0x33:
    case 0x35:
      if (b === 0x21 || b === 0x23) modrm(i, 0, 0);
      set(i, privilegedOp, 0, sz);
      return;
    case 0xa2:
      set(i, cpuid, 0, sz);
      return;
    case 0x05:
      set(i, syscallAny, 0, 8);
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
      if (d.reg < 4) return;
      set(i, bitTest, d.reg, sz);
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
      if (d.mod === 3 && d.reg >= 5 && d.rep === 0) set(i, nop, 0, sz);
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
      if (d.rep === 0xf3) set(i, bitScan, 4, sz);
      return;
    case 0xbc:
    case 0xbd:
      modrm(i, sz, sz);
      set(i, bitScan, (b - 0xbc) + (d.rep === 0xf3 ? 2 : 0), sz);
      return;
  }
  sseOp(i, b);
}

/** xmm index of xmm register n. */
function xmm(n: number): number {
  return n * 16;
}

/** ModRM with xmm operands: i.r = xmm(d.reg), i.m = xmm(rm) or memory. */
function modrmX(i: Insn): void {
  modrm(i, 0, 0);
  i.r = xmm(d.regNum);
  if (d.mod === 3) i.m = xmm(d.rmNum);
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
    const op = d.rep === 0xf3
      ? (load ? SSE.MOVSS_LOAD : SSE.MOVSS_STORE)
      : d.rep === 0xf2
      ? (load ? SSE.MOVSD_LOAD : SSE.MOVSD_STORE)
      : (load ? SSE.MOVU_LOAD : SSE.MOVU_STORE);
    set(i, sseMov, op, 16);
    return;
  }
  if ((b === 0x28 || b === 0x29 || b === 0x2b) && d.rep === 0) {
    modrmX(i);
    if (b === 0x2b && d.mod === 3) return;
    set(i, sseMov, b === 0x28 ? SSE.MOVA_LOAD : SSE.MOVA_STORE, 16);
    return;
  }
  if (b in LOGIC_PS && d.rep === 0) {
    modrmX(i);
    set(i, sseAlu, LOGIC_PS[b], 16);
    return;
  }
  if (b === 0x70 && d.p66 === 0 && d.rep !== 0) {
    modrmX(i);
    set(i, sseAlu, d.rep === 0xf2 ? SSE.PSHUFLW : SSE.PSHUFHW, 16);
    i.imm = next();
    return;
  }
  if (d.p66 === 0 && d.rep === 0xf3) {
    if (b === 0x6f || b === 0x7f) {
      modrmX(i);
      set(i, sseMov, b === 0x6f ? SSE.MOVU_LOAD : SSE.MOVU_STORE, 16);
    } else if (b === 0x7e) {
      modrmX(i);
      set(i, sseMov, SSE.MOVQ_LOAD, 16);
    }
    return;
  }
  if (d.p66 === 0 || d.rep !== 0) return; // MMX and other prefixed forms: not implemented
  if (b in PACKED_66) {
    modrmX(i);
    set(i, sseAlu, PACKED_66[b], 16);
    return;
  }
  switch (b) {
    case 0x6e:
      modrm(i, 0, (d.rex & 8) !== 0 ? 8 : 4);
      i.r = xmm(d.regNum);
      set(i, movdToXmm, 0, (d.rex & 8) !== 0 ? 8 : 4);
      return;
    case 0x7e:
      modrm(i, 0, (d.rex & 8) !== 0 ? 8 : 4);
      i.r = xmm(d.regNum);
      set(i, movdFromXmm, 0, (d.rex & 8) !== 0 ? 8 : 4);
      return;
    case 0x6f:
    case 0x7f:
    case 0xe7:
      modrmX(i);
      if (b === 0xe7 && d.mod === 3) return;
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
      if (d.mod !== 3) return;
      i.m = xmm(d.rmNum);
      set(i, pmovmskb, 0, 4);
      return;
    case 0x71:
    case 0x72:
    case 0x73: {
      modrm(i, 0, 0);
      if (d.mod !== 3) return;
      i.m = xmm(d.rmNum);
      const bits = b === 0x71 ? 16 : b === 0x72 ? 32 : 64;
      // /2 logical right, /4 arithmetic right, /6 left; 73 /3, /7: whole-register bytes.
      let op = -1;
      if (d.reg === 2) op = bits * 4;
      else if (d.reg === 4 && bits !== 64) op = bits * 4 + 1;
      else if (d.reg === 6) op = bits * 4 + 2;
      else if (b === 0x73 && d.reg === 3) op = 128 * 4;
      else if (b === 0x73 && d.reg === 7) op = 128 * 4 + 2;
      if (op < 0) return;
      set(i, sseShift, op, 16);
      i.imm = next();
      return;
    }
  }
}
