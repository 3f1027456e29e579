// Decoding of the integer data-processing groups (immediate and register).
// Common shapes get their own ops (plain register add, mov, cmp, lsl #n...)
// so the interpreter's hot paths do no field unpacking; the rest share a
// generic op whose K field packs what exec.ts needs.

import { decodeLogicalImm, r } from "./bits.ts";
import { put, rsp, rz, sext, wz } from "./fields.ts";
import { OP, ZR } from "./ops.ts";

export function decodeDataImm(w: number, e: Int32Array, b: number): void {
  const sf = w >>> 31;
  switch ((w >>> 23) & 7) {
    case 0:
    case 1: {
      // ADR / ADRP: a 21-bit signed immediate (bytes, or 4 KiB pages).
      const imm = sext((((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3), 21);
      put(e, b, sf ? OP.ADRP : OP.ADR, wz(w, 0), 0, 0, imm);
      return;
    }
    case 2: {
      // ADD/SUB (immediate), optionally shifted left by 12.
      const sub = (w >>> 30) & 1, s = (w >>> 29) & 1;
      const imm = ((w >>> 10) & 0xfff) << ((w >>> 22) & 1 ? 12 : 0);
      const n = rsp(w, 5);
      if (s) {
        const op = sub ? (sf ? OP.SUBSI64 : OP.SUBSI32) : (sf ? OP.ADDSI64 : OP.ADDSI32);
        put(e, b, op, wz(w, 0), n, 0, imm);
      } else {
        put(e, b, sf ? OP.ADDI64 : OP.ADDI32, rsp(w, 0), n, 0, sub ? -imm : imm);
      }
      return;
    }
    case 4: {
      // Logical (immediate): AND / ORR / EOR / ANDS with a bitmask immediate.
      const opc = (w >>> 29) & 3, nbit = (w >>> 22) & 1;
      if (!sf && nbit) return;
      if (!decodeLogicalImm(nbit, (w >>> 16) & 63, (w >>> 10) & 63, sf === 1)) return;
      const d = opc === 3 ? wz(w, 0) : rsp(w, 0), n = rz(w, 5);
      if (opc === 1 && n === ZR) put(e, b, OP.MOVI, d, 0, 0, r.lo, r.hi);
      else put(e, b, sf ? OP.LOGI64 : OP.LOGI32, d, n, 0, r.lo, r.hi, opc);
      return;
    }
    case 5: {
      // Move wide: MOVN / MOVZ / MOVK.
      const opc = (w >>> 29) & 3, hw = (w >>> 21) & 3, imm = (w >>> 5) & 0xffff;
      if (opc === 1 || (!sf && hw >= 2)) return;
      const d = wz(w, 0);
      if (opc === 3) {
        put(e, b, sf ? OP.MOVK64 : OP.MOVK32, d, 0, 0, imm, 0, hw);
        return;
      }
      let lo = hw === 0 ? imm : hw === 1 ? imm << 16 : 0;
      let hi = hw === 2 ? imm : hw === 3 ? imm << 16 : 0;
      if (opc === 0) {
        lo = ~lo;
        hi = sf ? ~hi : 0;
      }
      put(e, b, OP.MOVI, d, 0, 0, lo >>> 0, hi >>> 0);
      return;
    }
    case 6: {
      // Bitfield: SBFM / BFM / UBFM and their aliases.
      const opc = (w >>> 29) & 3, nbit = (w >>> 22) & 1;
      const immr = (w >>> 16) & 63, imms = (w >>> 10) & 63;
      if (opc === 3 || nbit !== sf || (!sf && (immr >= 32 || imms >= 32))) return;
      const d = wz(w, 0), n = rz(w, 5), top = sf ? 63 : 31;
      if (opc === 2 && imms === top) {
        put(e, b, sf ? OP.LSRI64 : OP.LSRI32, d, n, 0, 0, 0, immr);
      } else if (opc === 2 && imms + 1 === immr) {
        put(e, b, sf ? OP.LSLI64 : OP.LSLI32, d, n, 0, 0, 0, top - imms);
      } else if (opc === 0 && imms === top) {
        put(e, b, sf ? OP.ASRI64 : OP.ASRI32, d, n, 0, 0, 0, immr);
      } else {
        put(e, b, OP.BFM, d, n, 0, 0, 0, sf | (opc << 1) | (immr << 3) | (imms << 9));
      }
      return;
    }
    case 7: {
      // EXTR (ROR by immediate when both sources are the same register).
      const imms = (w >>> 10) & 63;
      if (((w >>> 29) & 3) !== 0 || ((w >>> 22) & 1) !== sf || ((w >>> 21) & 1) !== 0) return;
      if (!sf && imms >= 32) return;
      put(e, b, OP.EXTR, wz(w, 0), rz(w, 5), rz(w, 16), 0, 0, sf | (imms << 1));
      return;
    }
    default:
      return; // add/sub immediate with tags (MTE)
  }
}

/** Kinds of ALU_SHIFTED (K bits 9..12). */
export const ALU = {
  AND: 0,
  BIC: 1,
  ORR: 2,
  ORN: 3,
  EOR: 4,
  EON: 5,
  ANDS: 6,
  BICS: 7,
  ADD: 8,
  ADDS: 9,
  SUB: 10,
  SUBS: 11,
} as const;

export function decodeDataReg(w: number, e: Int32Array, b: number): void {
  const sf = w >>> 31, op2 = (w >>> 21) & 15;
  const d = wz(w, 0), n = rz(w, 5), m = rz(w, 16);
  if (((w >>> 28) & 1) === 0) {
    const imm6 = (w >>> 10) & 63, shift = (w >>> 22) & 3;
    if ((op2 & 8) === 0) {
      // Logical (shifted register).
      if (!sf && imm6 >= 32) return;
      const kind = (((w >>> 29) & 3) << 1) | ((w >>> 21) & 1);
      if (kind === ALU.ORR && imm6 === 0 && n === ZR) {
        put(e, b, sf ? OP.MOV64 : OP.MOV32, d, m);
      } else if (imm6 === 0 && (kind & 1) === 0) {
        put(e, b, sf ? OP.LOG64 : OP.LOG32, d, n, m, 0, 0, kind >> 1);
      } else {
        put(e, b, OP.ALU_SHIFTED, d, n, m, 0, 0, sf | (shift << 1) | (imm6 << 3) | (kind << 9));
      }
      return;
    }
    const sub = (w >>> 30) & 1, s = (w >>> 29) & 1;
    if ((op2 & 1) === 0) {
      // Add/subtract (shifted register); register 31 is the zero register.
      if (shift === 3 || (!sf && imm6 >= 32)) return;
      if (imm6 === 0) {
        const ops = sf
          ? [OP.ADD64, OP.ADDS64, OP.SUB64, OP.SUBS64]
          : [OP.ADD32, OP.ADDS32, OP.SUB32, OP.SUBS32];
        put(e, b, ops[(sub << 1) | s], d, n, m);
      } else {
        const kind = ALU.ADD + ((sub << 1) | s);
        put(e, b, OP.ALU_SHIFTED, d, n, m, 0, 0, sf | (shift << 1) | (imm6 << 3) | (kind << 9));
      }
      return;
    }
    // Add/subtract (extended register); Rn (and Rd unless setting flags) may be SP.
    const option = (w >>> 13) & 7, imm3 = (w >>> 10) & 7;
    if (shift !== 0 || imm3 > 4) return;
    const dd = s ? d : rsp(w, 0);
    const k = sf | (option << 1) | (imm3 << 4) | (((sub << 1) | s) << 7);
    put(e, b, OP.ADDSUB_EXT, dd, rsp(w, 5), m, 0, 0, k);
    return;
  }
  const s = (w >>> 29) & 1, cond = (w >>> 12) & 15;
  switch (op2) {
    case 0: // ADC / ADCS / SBC / SBCS
      if (((w >>> 10) & 63) !== 0) return;
      put(e, b, OP.ADC, d, n, m, 0, 0, sf | (((w >>> 30) & 1) << 1) | (s << 2));
      return;
    case 2: {
      // CCMN / CCMP, register or 5-bit immediate.
      if (!s || ((w >>> 10) & 1) || ((w >>> 4) & 1)) return;
      const isImm = (w >>> 11) & 1;
      const k = sf | (cond << 1) | ((w & 15) << 5) | (isImm << 9) | (((w >>> 30) & 1) << 10);
      put(e, b, OP.CCMP, 0, n, isImm ? 0 : m, (w >>> 16) & 31, 0, k);
      return;
    }
    case 4: {
      // CSEL / CSINC / CSINV / CSNEG.
      if (s || ((w >>> 11) & 1)) return;
      const kind = (((w >>> 30) & 1) << 1) | ((w >>> 10) & 1);
      put(e, b, OP.CSEL, d, n, m, 0, 0, sf | (cond << 1) | (kind << 5));
      return;
    }
    case 6: {
      const opcode = (w >>> 10) & 63;
      if (s) return;
      if (((w >>> 30) & 1) === 0) {
        // Two sources: UDIV, SDIV, LSLV, LSRV, ASRV, RORV.
        if (opcode === 2 || opcode === 3 || (opcode >= 8 && opcode <= 11)) {
          put(e, b, OP.DP2, d, n, m, 0, 0, sf | (opcode << 1));
        } else if (opcode >= 0x10 && opcode <= 0x17 && ((opcode & 3) === 3) === (sf === 1)) {
          // CRC32{B,H,W,X} and CRC32C{B,H,W,X}.
          put(e, b, OP.DP2, d, n, m, 0, 0, sf | (opcode << 1));
        }
        return;
      }
      // One source: RBIT, REV16, REV32 / REV, REV, CLZ, CLS.
      if (((w >>> 16) & 31) !== 0 || opcode > 5 || (!sf && opcode === 3)) return;
      put(e, b, OP.DP1, d, n, 0, 0, 0, sf | (opcode << 1));
      return;
    }
    default: {
      if ((op2 & 8) === 0 || ((w >>> 29) & 3) !== 0) return;
      // Three sources: MADD, MSUB and the long / high multiplies.
      const key = (((w >>> 21) & 7) << 1) | ((w >>> 15) & 1);
      const kind = DP3_KINDS[key];
      if (kind < 0 || (!sf && kind >= 2)) return;
      put(e, b, OP.DP3, d, n, m, 0, rz(w, 10), sf | (kind << 1));
      return;
    }
  }
}

/**
 * op31:o0 -> DP3 kind: 0 madd, 1 msub, 2 smaddl, 3 smsubl, 4 smulh,
 * 5 umaddl, 6 umsubl, 7 umulh; -1 unallocated.
 */
const DP3_KINDS = [0, 1, 2, 3, 4, -1, -1, -1, -1, -1, 5, 6, 7, -1, -1, -1];
