// Execution of the ops the core's loop does not inline: the general forms
// of the integer instructions, exceptions, and (through exec_mem.ts,
// exec_sys.ts and simd.ts) the rest. exec() returns NEXT when the
// instruction completed and pc simply advances, or an EXIT reason (the core
// then sets pc: after the instruction for SYSCALL / HYPERCALL / HALT, at it
// otherwise).

import { EXIT } from "../../cpu.ts";
import type { Arm64Core } from "./core.ts";
import {
  cls32,
  extendReg,
  mul64,
  ones64,
  r,
  rbit32,
  rev16x2,
  rev32,
  ror32,
  ror64,
  sar64,
  sdiv32,
  sdiv64,
  shift32,
  shift64,
  shl64,
  shr64,
  smulh64,
  udiv64,
  umulh64,
} from "./bits.ts";
import { ALU } from "./decode_dp.ts";
import {
  execAtomic,
  execDcZva,
  execExclusive,
  execLdst,
  execLdstp,
  execLiteral,
} from "./exec_mem.ts";
import { execMrs, execMsr } from "./exec_sys.ts";
import { COND_TABLE, F_D, F_I, F_J, F_K, F_M, F_N, F_RAW, NEXT, OP } from "./ops.ts";

import { execSimd } from "./simd.ts";

const TWO32 = 4294967296;

export function exec(
  core: Arm64Core,
  c: Int32Array,
  b: number,
  pcLo: number,
  pcHi: number,
): number {
  const g = core.gpr;
  const d = c[b + F_D], n = c[b + F_N], m = c[b + F_M], k = c[b + F_K];
  switch (c[b]) {
    case OP.UNDEF:
      core.detail = c[b + F_RAW] >>> 0;
      return EXIT.UNDEFINED_INSTRUCTION;
    case OP.ASRI64:
      sar64(g[n], g[n + 1], k);
      set64(g, d);
      return NEXT;
    case OP.ALU_SHIFTED:
      aluShifted(core, d, n, m, k);
      return NEXT;
    case OP.ADDSUB_EXT:
      addSubExtended(core, d, n, m, k);
      return NEXT;
    case OP.ADC: {
      const sf = k & 1, sub = (k >> 1) & 1, s = (k >> 2) & 1, cin = (core.nzcv >> 1) & 1;
      let blo = g[m], bhi = g[m + 1];
      if (sub) {
        blo = ~blo >>> 0;
        bhi = ~bhi >>> 0;
      }
      if (sf) {
        add64(core, g[n], g[n + 1], blo, bhi, cin, s);
        set64(g, d);
      } else set32(g, d, add32(core, g[n], blo, cin, s));
      return NEXT;
    }
    case OP.CSEL:
      condSelect(core, d, n, m, k);
      return NEXT;
    case OP.CCMP: {
      const sf = k & 1, cond = (k >> 1) & 15;
      if (COND_TABLE[(core.nzcv << 4) | cond] === 0) {
        core.nzcv = (k >> 5) & 15;
        return NEXT;
      }
      const isImm = (k >> 9) & 1, cmp = (k >> 10) & 1;
      let blo = isImm ? c[b + F_I] : g[m], bhi = isImm ? 0 : g[m + 1];
      if (cmp) {
        blo = ~blo >>> 0;
        bhi = ~bhi >>> 0;
      }
      if (sf) add64(core, g[n], g[n + 1], blo, bhi, cmp, 1);
      else add32(core, g[n], blo, cmp, 1);
      return NEXT;
    }
    case OP.BFM:
      bitfield(g, d, n, k);
      return NEXT;
    case OP.EXTR: {
      const lsb = (k >> 1) & 63;
      if (k & 1) {
        if (lsb === 0) {
          r.lo = g[m];
          r.hi = g[m + 1];
        } else {
          shl64(g[n], g[n + 1], 64 - lsb);
          const lo = r.lo, hi = r.hi;
          shr64(g[m], g[m + 1], lsb);
          r.lo = (r.lo | lo) >>> 0;
          r.hi = (r.hi | hi) >>> 0;
        }
        set64(g, d);
      } else {
        set32(g, d, lsb === 0 ? g[m] : (g[m] >>> lsb) | (g[n] << (32 - lsb)));
      }
      return NEXT;
    }
    case OP.DP1:
      dataProc1(g, d, n, k);
      return NEXT;
    case OP.DP2:
      dataProc2(g, d, n, m, k);
      return NEXT;
    case OP.DP3:
      dataProc3(g, d, n, m, c[b + F_J], k);
      return NEXT;
    case OP.ADR:
    case OP.ADRP: {
      const t = c[b] === OP.ADR
        ? pcLo + c[b + F_I]
        : ((pcLo & 0xfffff000) >>> 0) + c[b + F_I] * 4096;
      g[d] = t >>> 0;
      g[d + 1] = pcHi + Math.floor(t / TWO32);
      return NEXT;
    }
    case OP.LDST:
      return execLdst(core, c, b);
    case OP.LDSTP:
      return execLdstp(core, c, b);
    case OP.LDLIT:
      return execLiteral(core, c, b, pcLo, pcHi);
    case OP.EXCL:
      return execExclusive(core, c, b);
    case OP.ATOMIC:
      return execAtomic(core, c, b);
    case OP.DC_ZVA:
      return execDcZva(core, n);
    case OP.SVC:
      core.detail = c[b + F_I];
      return EXIT.SYSCALL;
    case OP.HVC:
    case OP.SMC:
      if (core.mode !== "guest" || (core.el1 !== null && core.el1.atEl0(core))) {
        core.detail = c[b + F_RAW] >>> 0;
        return EXIT.UNDEFINED_INSTRUCTION; // EL0 cannot make hypercalls
      }
      if (c[b] === OP.SMC && core.el1 === null) {
        core.detail = c[b + F_RAW] >>> 0;
        return EXIT.UNDEFINED_INSTRUCTION; // as before VCPUs had EL1 state
      }
      core.smc = c[b] === OP.SMC;
      core.detail = c[b + F_I];
      return EXIT.HYPERCALL;
    case OP.ERET:
    case OP.MSR_PSTATE:
    case OP.SYS_EL1: {
      // EL1-only instructions: UNDEFINED unless a VCPU runs at EL1.
      const el1 = core.el1;
      if (el1 === null || el1.atEl0(core)) {
        core.detail = c[b + F_RAW] >>> 0;
        return EXIT.UNDEFINED_INSTRUCTION;
      }
      if (c[b] === OP.ERET) return el1.eret(core, c, b);
      if (c[b] === OP.MSR_PSTATE) return el1.pstate(core, c, b);
      return el1.sys(core, c, b);
    }
    case OP.BRK:
      core.detail = c[b + F_I];
      return EXIT.SW_BREAKPOINT;
    case OP.WFI:
      // A guest's kernel halts until an interrupt. Zircon clears
      // SCTLR_EL1.nTWI, so WFI at EL0 traps (ESR class "WFx", which Zircon
      // reports as ZX_EXCP_GENERAL) with pc at the instruction.
      return core.mode === "guest" ? EXIT.HALT : EXIT.GENERAL_PROTECTION;
    case OP.MRS:
      return execMrs(core, c, b);
    case OP.MSR:
      return execMsr(core, c, b);
    case OP.CFINV:
      core.nzcv ^= 2;
      return NEXT;
    case OP.CLREX:
      core.monValid = false;
      return NEXT;
    case OP.SIMD:
      return execSimd(core, c, b);
    default:
      // Ops the core inlines never get here; anything else is a decoder gap.
      core.detail = c[b + F_RAW] >>> 0;
      return EXIT.UNDEFINED_INSTRUCTION;
  }
}

/** Writes r as the 64-bit register d. */
function set64(g: Uint32Array, d: number): void {
  g[d] = r.lo;
  g[d + 1] = r.hi;
}

/** Writes a 32-bit result: the upper half of the register becomes 0. */
function set32(g: Uint32Array, d: number, v: number): void {
  g[d] = v;
  g[d + 1] = 0;
}

/** a + b + cin (64 bits) into r; NZCV into core.nzcv when `flags`. */
export function add64(
  core: Arm64Core,
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
  cin: number,
  flags: number,
): void {
  const lo = alo + blo + cin;
  const hi = ahi + bhi + (lo > 0xffffffff ? 1 : 0);
  const rlo = lo >>> 0, rhi = hi >>> 0;
  if (flags) {
    core.nzcv = ((rhi >>> 31) << 3) | ((rlo | rhi) === 0 ? 4 : 0) | (hi > 0xffffffff ? 2 : 0) |
      ((~(ahi ^ bhi) & (ahi ^ rhi)) >>> 31);
  }
  r.lo = rlo;
  r.hi = rhi;
}

/** a + b + cin (32 bits); NZCV into core.nzcv when `flags`. */
export function add32(core: Arm64Core, a: number, b: number, cin: number, flags: number): number {
  const t = a + b + cin, res = t >>> 0;
  if (flags) {
    core.nzcv = ((res >>> 31) << 3) | (res === 0 ? 4 : 0) | (t > 0xffffffff ? 2 : 0) |
      ((~(a ^ b) & (a ^ res)) >>> 31);
  }
  return res;
}

function aluShifted(core: Arm64Core, d: number, n: number, m: number, k: number): void {
  const g = core.gpr;
  const sf = k & 1, type = (k >> 1) & 3, amt = (k >> 3) & 63, kind = (k >> 9) & 15;
  if (sf) {
    shift64(g[m], g[m + 1], type, amt);
    let blo = r.lo, bhi = r.hi;
    const alo = g[n], ahi = g[n + 1];
    if (kind >= ALU.ADD) {
      const sub = kind >= ALU.SUB ? 1 : 0;
      if (sub) {
        blo = ~blo >>> 0;
        bhi = ~bhi >>> 0;
      }
      add64(core, alo, ahi, blo, bhi, sub, kind & 1);
      set64(g, d);
      return;
    }
    if (kind & 1) {
      blo = ~blo;
      bhi = ~bhi;
    }
    const op = kind >> 1;
    const lo = (op === 1 ? alo | blo : op === 2 ? alo ^ blo : alo & blo) >>> 0;
    const hi = (op === 1 ? ahi | bhi : op === 2 ? ahi ^ bhi : ahi & bhi) >>> 0;
    if (op === 3) core.nzcv = ((hi >>> 31) << 3) | ((lo | hi) === 0 ? 4 : 0);
    g[d] = lo;
    g[d + 1] = hi;
    return;
  }
  let bv = shift32(g[m], type, amt);
  const a = g[n];
  if (kind >= ALU.ADD) {
    const sub = kind >= ALU.SUB ? 1 : 0;
    if (sub) bv = ~bv >>> 0;
    set32(g, d, add32(core, a, bv, sub, kind & 1));
    return;
  }
  if (kind & 1) bv = ~bv;
  const op = kind >> 1;
  const res = (op === 1 ? a | bv : op === 2 ? a ^ bv : a & bv) >>> 0;
  if (op === 3) core.nzcv = ((res >>> 31) << 3) | (res === 0 ? 4 : 0);
  set32(g, d, res);
}

function addSubExtended(core: Arm64Core, d: number, n: number, m: number, k: number): void {
  const g = core.gpr;
  const sf = k & 1, option = (k >> 1) & 7, shift = (k >> 4) & 7, kind = (k >> 7) & 3;
  extendReg(g[m], g[m + 1], option, shift);
  const sub = kind >> 1, s = kind & 1;
  let blo = r.lo, bhi = r.hi;
  if (sub) {
    blo = ~blo >>> 0;
    bhi = ~bhi >>> 0;
  }
  if (sf) {
    add64(core, g[n], g[n + 1], blo, bhi, sub, s);
    set64(g, d);
  } else set32(g, d, add32(core, g[n], blo, sub, s));
}

function condSelect(core: Arm64Core, d: number, n: number, m: number, k: number): void {
  const g = core.gpr;
  const sf = k & 1, cond = (k >> 1) & 15, kind = (k >> 5) & 3;
  if (COND_TABLE[(core.nzcv << 4) | cond] === 1) {
    const lo = g[n], hi = g[n + 1];
    g[d] = lo;
    g[d + 1] = sf ? hi : 0;
    return;
  }
  let lo = g[m], hi = sf ? g[m + 1] : 0;
  switch (kind) {
    case 1: { // csinc
      const t = lo + 1;
      lo = t >>> 0;
      if (t > 0xffffffff) hi = sf ? (hi + 1) >>> 0 : 0;
      break;
    }
    case 2: // csinv
      lo = ~lo >>> 0;
      hi = sf ? ~hi >>> 0 : 0;
      break;
    case 3: { // csneg
      const t = (~lo >>> 0) + 1;
      lo = t >>> 0;
      hi = sf ? ((~hi >>> 0) + (t > 0xffffffff ? 1 : 0)) >>> 0 : 0;
      break;
    }
  }
  g[d] = lo;
  g[d + 1] = hi;
}

/** SBFM / BFM / UBFM (and so sbfx, ubfx, bfi, bfxil, sxtb, uxth, asr...). */
function bitfield(g: Uint32Array, d: number, n: number, k: number): void {
  const sf = k & 1, opc = (k >> 1) & 3, immr = (k >> 3) & 63, imms = (k >> 9) & 63;
  const size = sf ? 64 : 32;
  const slo = g[n], shi = sf ? g[n + 1] : 0;
  let width: number, pos: number;
  if (imms >= immr) {
    width = imms - immr + 1;
    pos = 0;
    shr64(slo, shi, immr);
  } else {
    width = imms + 1;
    pos = size - immr;
    r.lo = slo;
    r.hi = shi;
  }
  const flo = r.lo, fhi = r.hi;
  ones64(width);
  const wlo = r.lo, whi = r.hi;
  // The field at bit 0, then moved to pos; and the mask of where it lands.
  shl64(flo & wlo, fhi & whi, pos);
  let lo = r.lo, hi = r.hi;
  shl64(wlo, whi, pos);
  const mlo = r.lo, mhi = r.hi;
  if (opc === 1) {
    lo = (g[d] & ~mlo) | lo;
    hi = sf ? (g[d + 1] & ~mhi) | hi : 0;
  } else if (opc === 0) {
    const top = pos + width;
    const signBit = width - 1 >= 32 ? (fhi >>> (width - 33)) & 1 : (flo >>> (width - 1)) & 1;
    if (signBit && top < size) {
      ones64(size - top);
      shl64(r.lo, r.hi, top);
      lo |= r.lo;
      hi |= r.hi;
    }
  }
  g[d] = lo;
  g[d + 1] = sf ? hi : 0;
}

function dataProc1(g: Uint32Array, d: number, n: number, k: number): void {
  const sf = k & 1, opcode = k >> 1;
  const lo = g[n], hi = g[n + 1];
  if (!sf) {
    let v: number;
    switch (opcode) {
      case 0:
        v = rbit32(lo);
        break;
      case 1:
        v = rev16x2(lo);
        break;
      case 2:
        v = rev32(lo);
        break;
      case 4:
        v = Math.clz32(lo);
        break;
      default:
        v = cls32(lo);
    }
    set32(g, d, v);
    return;
  }
  switch (opcode) {
    case 0:
      r.lo = rbit32(hi);
      r.hi = rbit32(lo);
      break;
    case 1:
      r.lo = rev16x2(lo);
      r.hi = rev16x2(hi);
      break;
    case 2:
      r.lo = rev32(lo);
      r.hi = rev32(hi);
      break;
    case 3:
      r.lo = rev32(hi);
      r.hi = rev32(lo);
      break;
    case 4:
      r.lo = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
      r.hi = 0;
      break;
    default: {
      const s = hi >> 31, xl = (lo ^ s) >>> 0, xh = (hi ^ s) >>> 0;
      r.lo = (xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl)) - 1;
      r.hi = 0;
    }
  }
  set64(g, d);
}

function dataProc2(g: Uint32Array, d: number, n: number, m: number, k: number): void {
  const sf = k & 1, kind = k >> 1;
  if (kind >= 0x10) {
    set32(g, d, crc32(g[n], g[m], g[m + 1], kind & 3, (kind & 4) !== 0));
    return;
  }
  if (!sf) {
    const a = g[n], bv = g[m];
    let v: number;
    switch (kind) {
      case 2:
        v = bv === 0 ? 0 : Math.floor(a / bv);
        break;
      case 3:
        v = sdiv32(a, bv);
        break;
      case 11:
        v = ror32(a, bv & 31);
        break;
      default:
        v = shift32(a, kind - 8, bv & 31);
    }
    set32(g, d, v);
    return;
  }
  const alo = g[n], ahi = g[n + 1], blo = g[m], bhi = g[m + 1];
  switch (kind) {
    case 2:
      udiv64(alo, ahi, blo, bhi);
      break;
    case 3:
      sdiv64(alo, ahi, blo, bhi);
      break;
    case 11:
      ror64(alo, ahi, blo & 63);
      break;
    default:
      shift64(alo, ahi, kind - 8, blo & 63);
  }
  set64(g, d);
}

function dataProc3(g: Uint32Array, d: number, n: number, m: number, a: number, k: number): void {
  const sf = k & 1, kind = k >> 1;
  if (!sf) {
    const p = Math.imul(g[n], g[m]);
    set32(g, d, kind === 0 ? g[a] + p : g[a] - p);
    return;
  }
  const nlo = g[n], mlo = g[m];
  switch (kind) {
    case 0:
    case 1:
      mul64(nlo, g[n + 1], mlo, g[m + 1]);
      break;
    case 2:
    case 3:
      mul64(nlo, (nlo >> 31) >>> 0, mlo, (mlo >> 31) >>> 0);
      break;
    case 4:
      smulh64(nlo, g[n + 1], mlo, g[m + 1]);
      set64(g, d);
      return;
    case 5:
    case 6:
      mul64(nlo, 0, mlo, 0);
      break;
    default:
      umulh64(nlo, g[n + 1], mlo, g[m + 1]);
      set64(g, d);
      return;
  }
  // Accumulate: kinds 0, 2, 5 add; 1, 3, 6 subtract.
  const plo = r.lo, phi = r.hi, alo = g[a], ahi = g[a + 1];
  if (kind === 1 || kind === 3 || kind === 6) {
    const lo = alo - plo;
    r.lo = lo >>> 0;
    r.hi = (ahi - phi - (lo < 0 ? 1 : 0)) >>> 0;
  } else {
    const lo = alo + plo;
    r.lo = lo >>> 0;
    r.hi = (ahi + phi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  }
  set64(g, d);
}

/** Byte tables of the reflected CRC-32 (0xedb88320) and CRC-32C (0x82f63b78) polynomials. */
const CRC_TABLES = [0xedb88320, 0x82f63b78].map((poly) => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c;
  }
  return t;
});

/**
 * CRC32* / CRC32C*: the accumulator updated with the low 1 << size bytes
 * of (lo, hi), least significant byte first, without inversions (as A64).
 */
function crc32(acc: number, lo: number, hi: number, size: number, castagnoli: boolean): number {
  const t = CRC_TABLES[castagnoli ? 1 : 0];
  let c = acc >>> 0;
  for (let i = 0; i < 1 << size; i++) {
    const byte = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
    c = (c >>> 8) ^ t[(c ^ byte) & 0xff];
  }
  return c >>> 0;
}
