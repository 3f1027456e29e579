// The one-byte opcode map: which handler and operands each opcode gets.

import { aluEG, aluEI, aluGE, incDec, negNot, TEST } from "./alu.ts";
import {
  callIndirect,
  callRel,
  cliSti,
  hlt,
  inOut,
  int3,
  jcc,
  jmpIndirect,
  jmpRel,
  leave,
  loop,
  nop,
  popf,
  popMem,
  popReg,
  pushf,
  pushImm,
  pushMem,
  pushReg,
  ret,
} from "./control.ts";
import { fastAlu, incDec32, incDec64, jzNz } from "./fast.ts";
import { intGuest, iret, lret, movFromSreg, movToSreg, stringIo } from "./guest_ops.ts";
import { GPR, type Insn, RAX } from "./insn.ts";
import {
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
  store32,
  store64,
  xchg,
} from "./move.ts";
import { divide, imulTwo, mulOne } from "./muldiv.ts";
import {
  d,
  imm16,
  imm32,
  imm8,
  immZ,
  modrm,
  next,
  opSize,
  regIndex,
  regShift,
  set,
  setImm,
  unread,
} from "./reader.ts";
import { shiftGroup } from "./shift.ts";
import { stringOp } from "./string.ts";

export function oneByte(i: Insn, b: number): void {
  const sz = opSize();
  if (b < 0x40) {
    const form = b & 7;
    if (form >= 6) return; // segment push/pop, daa/das/aaa/aas: invalid in 64-bit mode
    aluForm(i, b >>> 3, form, sz);
    return;
  }
  if (b >= 0x50 && b <= 0x5f) {
    i.m = GPR[(b & 7) | ((d.rex & 1) << 3)];
    set(i, b < 0x58 ? pushReg : popReg, 0, d.p66 !== 0 ? 2 : 8);
    return;
  }
  if (b >= 0x70 && b <= 0x7f) {
    set(i, (b & 0xe) === 4 ? jzNz : jcc, b & 0xf, 8);
    i.imm = imm8();
    return;
  }
  if (b >= 0x91 && b <= 0x97) {
    i.r = RAX;
    i.m = GPR[(b & 7) | ((d.rex & 1) << 3)];
    set(i, xchg, 0, sz);
    return;
  }
  if (b >= 0xb0 && b <= 0xbf) {
    const n = (b & 7) | ((d.rex & 1) << 3);
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
      const s = d.p66 !== 0 ? 2 : 8;
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
      set(i, stringIo, 0, sz);
      return;
    case 0x80:
    case 0x81:
    case 0x83: {
      const s = b === 0x80 ? 1 : sz;
      modrm(i, 0, s);
      set(i, aluEI, d.reg, s);
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
    case 0x8c: // mov r/m, Sreg (a register gets the operand size)
      modrm(i, 0, sz);
      set(i, movFromSreg, d.reg, d.mod === 3 ? sz : 2);
      return;
    case 0x8e: // mov Sreg, r/m16
      modrm(i, 0, 2);
      set(i, movToSreg, d.reg, 2);
      return;
    case 0x8d:
      modrm(i, sz, 0);
      if (d.mod !== 3) set(i, lea, 0, sz);
      return;
    case 0x8f:
      modrm(i, 0, d.p66 !== 0 ? 2 : 8);
      if (d.reg === 0) set(i, d.mod === 3 ? popReg : popMem, 0, d.p66 !== 0 ? 2 : 8);
      return;
    case 0x90:
      if ((d.rex & 1) !== 0) {
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
      set(i, b === 0x9c ? pushf : popf, 0, d.p66 !== 0 ? 2 : 8);
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
      i.seg = d.seg;
      if (d.p67 !== 0) {
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
      i.seg = d.seg;
      i.addr32 = d.p67;
      i.rep = d.rep;
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
      set(i, shiftGroup, d.reg, s);
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
      if (d.reg !== 0) return;
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
    case 0xca:
    case 0xcb: // lret: 64-bit with REX.W
      set(i, lret, 0, (d.rex & 8) !== 0 ? 8 : 4);
      if (b === 0xca) i.imm = imm16();
      return;
    case 0xcd:
      set(i, intGuest, 0, 8); // #GP in user mode (the gates are kernel-only)
      i.imm = next();
      return;
    case 0xcf: // iretq with REX.W, iretd without; the 16-bit form is not decoded
      if (d.p66 === 0) set(i, iret, 0, (d.rex & 8) !== 0 ? 8 : 4);
      return;
    case 0xe0:
    case 0xe1:
    case 0xe2:
    case 0xe3:
      set(i, loop, b & 3, 8);
      i.imm = imm8();
      i.addr32 = d.p67;
      return;
    case 0xe4:
    case 0xe5:
    case 0xe6:
    case 0xe7:
    case 0xec:
    case 0xed:
    case 0xee:
    case 0xef:
      set(i, inOut, (b & 2) === 0 ? 1 : 0, (b & 1) === 0 ? 1 : d.p66 !== 0 ? 2 : 4);
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
      if (d.reg <= 1) {
        set(i, aluEI, TEST, s);
        immZ(i, s);
      } else if (d.reg <= 3) {
        set(i, negNot, d.reg, s);
      } else if (d.reg <= 5) {
        set(i, mulOne, d.reg, s);
      } else {
        set(i, divide, d.reg, s);
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
      if (d.reg <= 1) set(i, incDec, d.reg, 1);
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
    if (d.mod === 3) specializeRR(i);
  } else if (form <= 3) {
    modrm(i, s, s);
    set(i, aluGE, op, s);
    if (d.mod === 3 && fastAlu(op, s) !== null) {
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

/** op d.reg, imm: a fast handler (fast.ts) when there is one; it takes i.r = -1. */
function specializeEI(i: Insn): void {
  const fast = i.m >= 0 ? fastAlu(i.op, i.sz) : null;
  if (fast !== null) {
    i.fn = fast;
    i.r = -1;
  }
}

/** op d.reg, d.reg with i.m the destination: a fast handler when there is one. */
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
  unread(); // modrm reads it again
  const r = (m >>> 3) & 7;
  // call/jmp/push take 64-bit operands in 64-bit mode (push: 16 with 66).
  const s = r === 2 || r === 4 ? 8 : r === 6 ? (d.p66 !== 0 ? 2 : 8) : sz;
  modrm(i, 0, s);
  switch (r) {
    case 0:
    case 1:
      set(i, incDec, r, s);
      if (d.mod === 3 && s >= 4) i.fn = s === 8 ? incDec64 : incDec32;
      return;
    case 2:
      set(i, callIndirect, 0, 8);
      return;
    case 4:
      set(i, jmpIndirect, 0, 8);
      return;
    case 6:
      set(i, d.mod === 3 ? pushReg : pushMem, 0, s);
      return;
  }
}
