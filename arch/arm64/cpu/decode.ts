// A64 decoding, top level: the instruction word's major group (bits 28..25)
// picks a group decoder; each writes one entry of a decoded page (ops.ts).
// Anything not recognised becomes OP.UNDEF, which the core reports as
// EXIT.UNDEFINED_INSTRUCTION, so decoding never throws.

import { decodeDataImm, decodeDataReg } from "./decode_dp.ts";
import { decodeLoadStore } from "./decode_ldst.ts";
import { decodeSimd } from "./decode_simd.ts";
import { put, rz, sext, wz } from "./fields.ts";
import { F_OP, F_RAW, OP } from "./ops.ts";

/** Fills entry `b` of `e` with the decoded form of instruction word `w`. */
export function decode(w: number, e: Int32Array, b: number): void {
  e.fill(0, b, b + 8);
  e[b + F_RAW] = w | 0;
  e[b + F_OP] = OP.UNDEF;
  switch ((w >>> 25) & 0xf) {
    case 0b1000:
    case 0b1001:
      return decodeDataImm(w, e, b);
    case 0b1010:
    case 0b1011:
      return decodeBranchSystem(w, e, b);
    case 0b0101:
    case 0b1101:
      return decodeDataReg(w, e, b);
    case 0b0111:
    case 0b1111:
      return decodeSimd(w, e, b);
    case 0b0100:
    case 0b0110:
    case 0b1100:
    case 0b1110:
      return decodeLoadStore(w, e, b);
    default:
      return; // udf, SVE and reserved space
  }
}

function decodeBranchSystem(w: number, e: Int32Array, b: number): void {
  // Unconditional branch (immediate): B / BL, imm26 words.
  if ((w & 0x7c000000) === 0x14000000) {
    put(e, b, w >>> 31 ? OP.BL : OP.B, 0, 0, 0, sext(w & 0x3ffffff, 26) * 4);
    return;
  }
  // Compare and branch: CBZ / CBNZ.
  if ((w & 0x7e000000) === 0x34000000) {
    const sf = w >>> 31, nz = (w >>> 24) & 1;
    const op = sf ? (nz ? OP.CBNZ64 : OP.CBZ64) : (nz ? OP.CBNZ32 : OP.CBZ32);
    put(e, b, op, 0, rz(w, 0), 0, sext((w >>> 5) & 0x7ffff, 19) * 4);
    return;
  }
  // Test and branch: TBZ / TBNZ; the bit becomes (word index, mask).
  if ((w & 0x7e000000) === 0x36000000) {
    const bit = ((w >>> 31) << 5) | ((w >>> 19) & 31);
    const n = rz(w, 0) + (bit >= 32 ? 1 : 0);
    const op = (w >>> 24) & 1 ? OP.TBNZ : OP.TBZ;
    put(e, b, op, 0, n, 0, sext((w >>> 5) & 0x3fff, 14) * 4, 0, 1 << (bit & 31));
    return;
  }
  // Conditional branch: B.cond.
  if (((w & 0xff000010) >>> 0) === 0x54000000) {
    put(e, b, OP.BCOND, 0, 0, 0, sext((w >>> 5) & 0x7ffff, 19) * 4, 0, w & 15);
    return;
  }
  // Exception generation.
  if (((w & 0xff000000) >>> 0) === 0xd4000000) {
    const opc = (w >>> 21) & 7, ll = w & 3, imm = (w >>> 5) & 0xffff;
    if (((w >>> 2) & 7) !== 0) return;
    if (opc === 0 && ll === 1) put(e, b, OP.SVC, 0, 0, 0, imm);
    else if (opc === 0 && ll === 2) put(e, b, OP.HVC, 0, 0, 0, imm);
    else if (opc === 1 && ll === 0) put(e, b, OP.BRK, 0, 0, 0, imm);
    else if (opc === 0 && ll === 3) put(e, b, OP.SMC, 0, 0, 0, imm); // UNDEFINED at EL0
    // hlt and dcps are undefined at EL0 (and not modelled for guests)
    return;
  }
  // Unconditional branch (register): BR, BLR, RET (no pointer authentication).
  if (((w & 0xfe000000) >>> 0) === 0xd6000000) {
    const opc = (w >>> 21) & 15;
    if (((w >>> 16) & 31) !== 31 || ((w >>> 10) & 63) !== 0 || (w & 31) !== 0) return;
    if (opc === 0 || opc === 2) put(e, b, OP.BR, 0, rz(w, 5));
    else if (opc === 1) put(e, b, OP.BLR, 0, rz(w, 5));
    else if (opc === 4 && ((w >>> 5) & 31) === 31) put(e, b, OP.ERET); // UNDEFINED at EL0
    return;
  }
  if (((w & 0xffc00000) >>> 0) === 0xd5000000) decodeSystem(w, e, b);
}

/** System register numbers as the 16 bits op0:op1:CRn:CRm:op2 (bits 20..5 of mrs/msr). */
export const SYSREG = {
  NZCV: 0xda10,
  FPCR: 0xda20,
  FPSR: 0xda21,
  TPIDR_EL0: 0xde82,
  TPIDRRO_EL0: 0xde83,
  CTR_EL0: 0xd801,
  DCZID_EL0: 0xd807,
  CNTFRQ_EL0: 0xdf00,
  CNTVCT_EL0: 0xdf02,
} as const;

function decodeSystem(w: number, e: Int32Array, b: number): void {
  const l = (w >>> 21) & 1, op0 = (w >>> 19) & 3, op1 = (w >>> 16) & 7;
  const crn = (w >>> 12) & 15, crm = (w >>> 8) & 15, op2 = (w >>> 5) & 7, rt = w & 31;
  if (op0 >= 2) {
    // MRS / MSR (register); which registers EL0 may use is decided at run time.
    const reg = (w >>> 5) & 0xffff;
    if (l) put(e, b, OP.MRS, wz(w, 0), 0, 0, 0, 0, reg);
    else put(e, b, OP.MSR, 0, rz(w, 0), 0, 0, 0, reg);
    return;
  }
  if (l) return; // SYSL: nothing an EL0 program may use
  if (op0 === 0 && crn === 2 && op1 === 3 && rt === 31) {
    // Hint space: WFI traps (see core.ts); everything else (wfe, yield,
    // bti, paciasp / autiasp and the rest) runs as a nop.
    put(e, b, crm === 0 && op2 === 3 ? OP.WFI : OP.NOP);
    return;
  }
  if (op0 === 0 && crn === 3 && op1 === 3 && rt === 31) {
    // Barriers: a single core observes its own accesses in order anyway.
    if (op2 === 2) put(e, b, OP.CLREX);
    else if (op2 === 4 || op2 === 5 || op2 === 6) put(e, b, OP.NOP); // dsb, dmb, isb
    return;
  }
  if (op0 === 0 && crn === 4 && op1 === 0 && rt === 31 && crm === 0 && op2 === 0) {
    put(e, b, OP.CFINV);
    return;
  }
  if (
    op0 === 0 && crn === 4 && rt === 31 &&
    (op1 === 3 ? op2 === 6 || op2 === 7 : op1 === 0 && op2 === 5)
  ) {
    // msr daifset / daifclr / spsel, #imm: UNDEFINED at EL0 (SCTLR_EL1.UMA is clear).
    put(e, b, OP.MSR_PSTATE, 0, 0, 0, crm, 0, (op1 << 3) | op2);
    return;
  }
  if (op0 === 1 && op1 === 3 && crn === 7) {
    // DC / IC that Zircon lets EL0 use (SCTLR_EL1.UCI, DZE): cvau, cvac,
    // civac, cvap (no caches to maintain), ivau (decoded code is dropped
    // on every write anyway), zva (zeroes a block).
    if (crm === 4 && op2 === 1) put(e, b, OP.DC_ZVA, 0, rz(w, 0));
    else if (
      (crm === 11 && op2 === 1) || (crm === 10 && op2 === 1) || (crm === 14 && op2 === 1) ||
      (crm === 12 && op2 === 1) || (crm === 5 && op2 === 1)
    ) {
      put(e, b, OP.NOP);
    }
    return;
  }
  if (op0 === 1 && (crn === 7 || crn === 8)) {
    // Cache maintenance, address translation and TLB invalidation that only
    // EL1 may use: no-ops in a guest (no caches, and the guest's MMU is off).
    put(e, b, OP.SYS_EL1);
  }
}
