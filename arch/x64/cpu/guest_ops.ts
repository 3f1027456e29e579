// Instructions only a guest kernel (a VCPU, Cpu.sys set) may run: descriptor
// tables (lgdt/lidt/sgdt/sidt, ltr), control registers (mov cr, invlpg,
// clts), MSRs, cpuid, segment loads, iretq / lret, int n, syscall with
// EFER.SCE, swapgs; and the interrupt delivery through the IDT that int n,
// the kernel's interrupts and the guest's own exceptions share.
//
// User code keeps exactly what it had before these existed: #GP where the
// old decode said "privileged", an undefined instruction elsewhere.
//
// Simplifications (a guest kernel runs at CPL 0 only): no privilege levels,
// so interrupt gates never switch stacks (IST and the TSS are not read) and
// DPL is not checked; segment loads keep the selector and touch no
// descriptor (segments are flat in long mode); a change of translations
// (mov cr0/cr3/cr4, invlpg, wrmsr EFER) returns REFETCH so the core fetches
// the next instruction through the new translations.

import { EXIT } from "../../cpu.ts";
import { jumpTo, syscall, undefinedOp } from "./control.ts";
import { ARITH, flags, IF, TF } from "./flags.ts";
import {
  CONTINUE,
  FS_BASE,
  GS_BASE,
  type Insn,
  R11,
  RAX,
  RBX,
  RCX,
  RDX,
  REFETCH,
  RSP,
} from "./insn.ts";
import { ea, getReg, setReg } from "./operand.ts";
import { type Cpu, FAULT, TWO32 } from "./state.ts";
import {
  CR0_CD,
  CR0_NW,
  CR0_PE,
  CR0_PG,
  CR4_PAE,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  EFER_SCE,
  type GuestState,
} from "./guest_state.ts";

/** rflags bits iretq may change at CPL 0 (popf's plus RF). */
const IRET_MASK = 0x244dd5 | 0x3200 | 0x10000;
/** Cleared on the way into a handler: TF, NT, RF, VM. */
const ENTRY_CLEAR = TF | 0x4000 | 0x10000 | 0x20000;

/** Where the last successful deliver() jumps: the gate's 64-bit offset. */
export const gateTarget = { lo: 0, hi: 0 };

/** Exception vectors that push an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/**
 * Delivers `vector` through the guest's IDT: reads the 16-byte gate,
 * aligns rsp down to 16 and pushes SS, RSP, RFLAGS, CS, RIP (ripLo:ripHi)
 * and, when error >= 0, the error code; CS becomes the gate's selector.
 * Returns the handler's rflags (IF cleared by an interrupt gate, TF / NT /
 * RF / VM cleared) with gateTarget holding its address, or -1 when the
 * gate is outside the IDT limit, not present, not an interrupt or trap
 * gate, unreadable, or the frame cannot be written (the CPU would raise
 * #GP / #NP / #PF in turn): then nothing changed.
 */
export function deliver(
  c: Cpu,
  s: GuestState,
  vector: number,
  rflags: number,
  ripLo: number,
  ripHi: number,
  error: number,
): number {
  if (vector * 16 + 15 > s.idtLimit) return -1;
  const g = c.g;
  try {
    const idt = c.addr(s.idtLo, s.idtHi);
    if (idt < 0) return -1;
    const gate = idt + vector * 16;
    const w0 = c.ld32(gate), w1 = c.ld32(gate + 4), w2 = c.ld32(gate + 8);
    const type = (w1 >>> 8) & 0x1f; // with bit 12 (S), which must be 0
    if ((w1 & 0x8000) === 0 || (type !== 0xe && type !== 0xf)) return -1;
    if (w2 >= 0x8000 && w2 < 0xffff8000) return -1; // non-canonical handler
    const top = c.addr((g[RSP] & ~15) >>> 0, g[RSP + 1]);
    const n = error >= 0 ? 48 : 40;
    if (top < n) return -1;
    const frame = top - n;
    c.probeWrite(frame, n);
    let at = frame;
    if (error >= 0) {
      c.st64(at, error >>> 0, 0);
      at += 8;
    }
    c.st64(at, ripLo, ripHi);
    c.st64(at + 8, s.cs, 0);
    c.st64(at + 16, rflags >>> 0, 0);
    c.st64(at + 24, g[RSP], g[RSP + 1]);
    c.st64(at + 32, s.ss, 0);
    g[RSP] = frame >>> 0;
    g[RSP + 1] = (frame - (frame >>> 0)) / TWO32;
    s.cs = w0 >>> 16;
    gateTarget.lo = ((w1 & 0xffff0000) | (w0 & 0xffff)) >>> 0;
    gateTarget.hi = w2;
    let out = rflags & ~ENTRY_CLEAR;
    if (type === 0xe) out &= ~IF;
    return out >>> 0;
  } catch (e) {
    if (e !== FAULT) throw e;
    return -1;
  }
}

/** The translations changed: the core drops its TLBs and fetches anew. */
function refetch(c: Cpu): number {
  c.syncTlb();
  return REFETCH;
}

/** The state of a guest, or null for user code (which gets `userExit`). */
function guest(c: Cpu): GuestState | null {
  return c.guest !== 0 ? c.sys : null;
}

/** The instruction's full rflags (arithmetic flags made current). */
function rflagsOf(c: Cpu): number {
  return (c.rfo | flags(c)) >>> 0;
}

function setRflags(c: Cpu, v: number): void {
  c.rfo = (v & ~ARITH) >>> 0;
  c.fl = v & ARITH;
  c.lop = 0;
}

// ---------------------------------------------------------------------------
// 0F 01: sgdt /0, sidt /1, lgdt /2, lidt /3, smsw /4, lmsw /6, invlpg /7;
// register forms: vmcall (C1), clac (CA), stac (CB), swapgs (F8). i.op: the
// reg field for memory forms, 8 + reg * 8 + rm for register forms.

export const OP01_VMCALL = 8 + 0 * 8 + 1;
export const OP01_CLAC = 8 + 1 * 8 + 2;
export const OP01_STAC = 8 + 1 * 8 + 3;
export const OP01_SWAPGS = 8 + 7 * 8 + 0;
/** RFLAGS.AC (alignment check / SMAP access): set by stac, cleared by clac. */
const AC = 0x40000;

export function system01(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return EXIT.GENERAL_PROTECTION;
  const g = c.g;
  switch (i.op) {
    case 0:
    case 1: {
      const va = ea(c, i);
      const idt = i.op === 1;
      c.probeWrite(va, 10);
      c.st16(va, idt ? s.idtLimit : s.gdtLimit);
      c.st64(va + 2, idt ? s.idtLo : s.gdtLo, idt ? s.idtHi : s.gdtHi);
      return CONTINUE;
    }
    case 2:
    case 3: {
      const va = ea(c, i);
      const limit = c.ld16(va);
      const lo = c.ld64(va + 2), hi = c.hi;
      if (i.op === 3) {
        s.idtLimit = limit;
        s.idtLo = lo;
        s.idtHi = hi;
      } else {
        s.gdtLimit = limit;
        s.gdtLo = lo;
        s.gdtHi = hi;
      }
      return CONTINUE;
    }
    case 4:
      // smsw: the low word of CR0 (zero-extended into a register).
      if (i.m >= 0) setReg(c, i.m, 0, i.sz, s.cr0 & 0xffff, 0);
      else c.st16(ea(c, i), s.cr0 & 0xffff);
      return CONTINUE;
    case 6: {
      // lmsw: PE, MP, EM, TS only, and PE cannot be cleared.
      const v = i.m >= 0 ? getReg(c, i.m, 0, 2) : c.ld16(ea(c, i));
      s.cr0 = ((s.cr0 & ~0xe) | (v & 0xf) | (s.cr0 & CR0_PE)) >>> 0;
      return CONTINUE;
    }
    case 7:
      s.tlb.flushPage(ea(c, i));
      return refetch(c);
    case OP01_VMCALL:
      return EXIT.HYPERCALL;
    case OP01_CLAC:
      c.rfo = (c.rfo & ~AC) >>> 0;
      return CONTINUE;
    case OP01_STAC:
      c.rfo = (c.rfo | AC) >>> 0;
      return CONTINUE;
    case OP01_SWAPGS: {
      const lo = g[GS_BASE], hi = g[GS_BASE + 1];
      g[GS_BASE] = s.kgsLo;
      g[GS_BASE + 1] = s.kgsHi;
      s.kgsLo = lo;
      s.kgsHi = hi;
      return CONTINUE;
    }
  }
  return undefinedOp(c, i);
}

// ---------------------------------------------------------------------------
// 0F 00: sldt /0, str /1, lldt /2, ltr /3 (user code: undefined, as before).

export function system00(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null || i.op > 3) return undefinedOp(c, i);
  if (i.op <= 1) {
    const v = i.op === 0 ? s.ldtr : s.tr;
    if (i.m >= 0) setReg(c, i.m, 0, i.sz, v, 0);
    else c.st16(ea(c, i), v);
    return CONTINUE;
  }
  const v = i.m >= 0 ? getReg(c, i.m, 0, 2) : c.ld16(ea(c, i));
  if (i.op === 2) s.ldtr = v;
  else s.tr = v;
  return CONTINUE;
}

// ---------------------------------------------------------------------------
// mov to / from control registers (0F 22 / 0F 20): i.op the CR number,
// i.imm2 1 for a write, i.m the general register.

export function movCr(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return EXIT.GENERAL_PROTECTION;
  const g = c.g;
  if (i.imm2 === 0) {
    let lo: number, hi = 0;
    switch (i.op) {
      case 0:
        lo = s.cr0;
        break;
      case 2:
        lo = s.cr2Lo;
        hi = s.cr2Hi;
        break;
      case 3:
        lo = s.cr3Lo;
        hi = s.cr3Hi;
        break;
      case 4:
        lo = s.cr4;
        break;
      case 8:
        lo = s.cr8;
        break;
      default:
        return undefinedOp(c, i);
    }
    g[i.m] = lo >>> 0;
    g[i.m + 1] = hi >>> 0;
    return CONTINUE;
  }
  const lo = g[i.m], hi = g[i.m + 1];
  const lma = (s.efer & EFER_LMA) !== 0;
  switch (i.op) {
    case 0:
      // Bits 32-63 are reserved; long mode needs paging (and PG needs PE);
      // NW without CD is not a valid combination.
      if (
        hi !== 0 || ((lo & CR0_PG) !== 0 && (lo & CR0_PE) === 0) ||
        ((lo & CR0_NW) !== 0 && (lo & CR0_CD) === 0)
      ) {
        return EXIT.GENERAL_PROTECTION;
      }
      if (lma && (lo & CR0_PG) === 0) return EXIT.GENERAL_PROTECTION;
      s.cr0 = lo >>> 0;
      s.tlb.flushAll();
      return refetch(c);
    case 2:
      s.cr2Lo = lo;
      s.cr2Hi = hi;
      return CONTINUE;
    case 3:
      // Bits 52-62 are reserved; bit 63 (no-flush with PCIDE) is not stored.
      if ((hi & 0x7ff00000) !== 0) return EXIT.GENERAL_PROTECTION;
      s.cr3Lo = lo;
      s.cr3Hi = hi & 0xfffff;
      s.tlb.flushAll();
      return refetch(c);
    case 4:
      if (hi !== 0 || (lma && (lo & CR4_PAE) === 0)) return EXIT.GENERAL_PROTECTION;
      s.cr4 = lo >>> 0;
      s.tlb.flushAll();
      return refetch(c);
    case 8:
      if (hi !== 0 || lo > 15) return EXIT.GENERAL_PROTECTION;
      s.cr8 = lo;
      return CONTINUE;
  }
  return undefinedOp(c, i);
}

/** clts (0F 06): clears CR0.TS. */
export function clts(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return c.guest === 0 ? EXIT.GENERAL_PROTECTION : undefinedOp(c, i);
  s.cr0 = (s.cr0 & ~0x8) >>> 0;
  return CONTINUE;
}

/** invd / wbinvd (0F 08 / 0F 09): there are no caches to write back. */
export function cacheOp(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return c.guest === 0 ? EXIT.GENERAL_PROTECTION : undefinedOp(c, i);
  return CONTINUE;
}

// ---------------------------------------------------------------------------
// MSRs: wrmsr (0F 30, op 0) / rdmsr (0F 32, op 1). MSR numbers this guest
// CPU does not know are #GP (GENERAL_PROTECTION, rip at the instruction),
// which the VCPU layer delivers into the guest, as Zircon injects #GP for
// an MSR it does not handle.

const MSR_APIC_BASE = 0x1b, MSR_PAT = 0x277, MSR_MISC_ENABLE = 0x1a0;
const MSR_EFER = 0xc0000080, MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082;
const MSR_CSTAR = 0xc0000083, MSR_FMASK = 0xc0000084, MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101, MSR_KERNEL_GS_BASE = 0xc0000102, MSR_TSC_AUX = 0xc0000103;
/** The local APIC at its default address, enabled (and BSP on the boot VCPU). */
const APIC_BASE = 0xfee00800;

/** A canonical 64-bit address given as its high word. */
function canonical(hi: number): boolean {
  return hi < 0x8000 || hi >= 0xffff8000;
}

export function msr(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return EXIT.GENERAL_PROTECTION;
  const g = c.g;
  const n = g[RCX];
  if (i.op === 1) {
    let lo = 0, hi = 0;
    switch (n) {
      case MSR_EFER:
        lo = s.efer;
        break;
      case MSR_STAR:
        lo = s.starLo;
        hi = s.starHi;
        break;
      case MSR_LSTAR:
        lo = s.lstarLo;
        hi = s.lstarHi;
        break;
      case MSR_CSTAR:
        lo = s.cstarLo;
        hi = s.cstarHi;
        break;
      case MSR_FMASK:
        lo = s.fmask;
        break;
      case MSR_FS_BASE:
      case MSR_GS_BASE: {
        const at = n === MSR_FS_BASE ? FS_BASE : GS_BASE;
        lo = g[at];
        hi = g[at + 1];
        break;
      }
      case MSR_KERNEL_GS_BASE:
        lo = s.kgsLo;
        hi = s.kgsHi;
        break;
      case MSR_TSC_AUX:
        lo = s.tscAux;
        break;
      case MSR_PAT:
        lo = s.patLo;
        hi = s.patHi;
        break;
      case MSR_APIC_BASE:
        lo = s.bsp ? APIC_BASE | 0x100 : APIC_BASE;
        break;
      case MSR_MISC_ENABLE:
        lo = 1; // fast strings
        break;
      default:
        return EXIT.GENERAL_PROTECTION;
    }
    g[RAX] = lo >>> 0;
    g[RAX + 1] = 0;
    g[RDX] = hi >>> 0;
    g[RDX + 1] = 0;
    return CONTINUE;
  }
  const lo = g[RAX], hi = g[RDX];
  switch (n) {
    case MSR_EFER: {
      const writable = EFER_SCE | EFER_LME | EFER_NXE;
      if (hi !== 0 || (lo & ~(writable | EFER_LMA)) !== 0) return EXIT.GENERAL_PROTECTION;
      // LME may not change while paging is on; LMA is the CPU's.
      if (((lo ^ s.efer) & EFER_LME) !== 0 && (s.cr0 & CR0_PG) !== 0) {
        return EXIT.GENERAL_PROTECTION;
      }
      s.efer = (lo & writable) | (s.efer & EFER_LMA);
      s.tlb.flushAll();
      return refetch(c);
    }
    case MSR_STAR:
      s.starLo = lo;
      s.starHi = hi;
      return CONTINUE;
    case MSR_LSTAR:
    case MSR_CSTAR:
      if (!canonical(hi)) return EXIT.GENERAL_PROTECTION;
      if (n === MSR_LSTAR) {
        s.lstarLo = lo;
        s.lstarHi = hi;
      } else {
        s.cstarLo = lo;
        s.cstarHi = hi;
      }
      return CONTINUE;
    case MSR_FMASK:
      s.fmask = lo;
      return CONTINUE;
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE: {
      if (!canonical(hi)) return EXIT.GENERAL_PROTECTION;
      if (n === MSR_KERNEL_GS_BASE) {
        s.kgsLo = lo;
        s.kgsHi = hi;
      } else {
        const at = n === MSR_FS_BASE ? FS_BASE : GS_BASE;
        g[at] = lo;
        g[at + 1] = hi;
      }
      return CONTINUE;
    }
    case MSR_TSC_AUX:
      if (hi !== 0) return EXIT.GENERAL_PROTECTION;
      s.tscAux = lo;
      return CONTINUE;
    case MSR_PAT:
      s.patLo = lo;
      s.patHi = hi;
      return CONTINUE;
    case MSR_APIC_BASE:
    case MSR_MISC_ENABLE:
      return CONTINUE; // accepted and ignored
  }
  return EXIT.GENERAL_PROTECTION;
}

// ---------------------------------------------------------------------------
// cpuid (0F A2): a small, fixed CPU (the simulator's own values; Zircon
// passes filtered host values through). User code: undefined, as before.

/** "GenuineIntel" as ebx, edx, ecx. */
const VENDOR = [0x756e6547, 0x49656e69, 0x6c65746e];
/** Leaf 1 edx: FPU TSC MSR PAE CX8 PGE CMOV PAT FXSR SSE SSE2. */
const LEAF1_EDX = 0x1 | 0x10 | 0x20 | 0x40 | 0x100 | 0x2000 | 0x8000 | 0x10000 | 0x1000000 |
  0x2000000 | 0x4000000;
/** Leaf 1 ecx: the hypervisor-present bit. */
const LEAF1_ECX = 0x80000000;
/** Leaf 0x80000001 edx: SYSCALL, NX, LM. */
const EXT1_EDX = 0x800 | 0x100000 | 0x20000000;

export function cpuid(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return undefinedOp(c, i);
  const g = c.g;
  const leaf = g[RAX];
  let a = 0, b = 0, cx = 0, dx = 0;
  if (leaf === 0) {
    a = 1;
    b = VENDOR[0];
    dx = VENDOR[1];
    cx = VENDOR[2];
  } else if (leaf === 1) {
    a = 0x600; // family 6
    dx = LEAF1_EDX;
    cx = LEAF1_ECX;
  } else if (leaf === 0x80000000) {
    a = 0x80000001;
  } else if (leaf === 0x80000001) {
    dx = EXT1_EDX;
  }
  g[RAX] = a >>> 0;
  g[RBX] = b >>> 0;
  g[RCX] = cx >>> 0;
  g[RDX] = dx >>> 0;
  g[RAX + 1] =
    g[RBX + 1] =
    g[RCX + 1] =
    g[RDX + 1] =
      0;
  return CONTINUE;
}

// ---------------------------------------------------------------------------
// Segment registers: mov Sreg, r/m16 (8E, op = sreg), mov r/m, Sreg (8C).

export function movToSreg(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null || i.op === 1 || i.op > 5) return undefinedOp(c, i);
  const v = i.m >= 0 ? getReg(c, i.m, 0, 2) : c.ld16(ea(c, i));
  switch (i.op) {
    case 0:
      s.es = v;
      break;
    case 2:
      s.ss = v;
      break;
    case 3:
      s.ds = v;
      break;
    case 4:
      s.fs = v;
      break;
    default:
      s.gs = v;
  }
  return CONTINUE;
}

export function movFromSreg(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null || i.op > 5) return undefinedOp(c, i);
  const v = [s.es, s.cs, s.ss, s.ds, s.fs, s.gs][i.op];
  if (i.m >= 0) setReg(c, i.m, 0, i.sz, v, 0);
  else c.st16(ea(c, i), v);
  return CONTINUE;
}

// ---------------------------------------------------------------------------
// Returns and interrupts.

/** Pops `n` values of `sz` (4 or 8) bytes from rsp into POP (lo, hi pairs); rsp is not moved. */
const POP = new Float64Array(10);
function popValues(c: Cpu, n: number, sz: number): number {
  const g = c.g;
  const top = c.addr(g[RSP], g[RSP + 1]);
  for (let k = 0; k < n; k++) {
    const va = top < 0 ? -1 : top + k * sz;
    POP[2 * k] = sz === 8 ? c.ld64(va) : c.ld32(va);
    POP[2 * k + 1] = sz === 8 ? c.hi : 0;
  }
  return top;
}

function setRsp(c: Cpu, va: number): void {
  const g = c.g;
  g[RSP] = va >>> 0;
  g[RSP + 1] = (va - (va >>> 0)) / TWO32;
}

/** iretq (REX.W CF) / iretd (CF): pops RIP, CS, RFLAGS, RSP, SS. */
export function iret(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return undefinedOp(c, i);
  popValues(c, 5, i.sz);
  if (!canonical(POP[1])) return EXIT.GENERAL_PROTECTION;
  jumpTo(c, POP[0], POP[1]);
  s.nmiBlocked = false; // iret ends the NMI handler's blocking
  s.cs = POP[2] & 0xffff;
  setRflags(c, ((rflagsOf(c) & ~IRET_MASK) | (POP[4] & IRET_MASK) | 2) >>> 0);
  const g = c.g;
  g[RSP] = POP[6];
  g[RSP + 1] = POP[7];
  s.ss = POP[8] & 0xffff;
  return CONTINUE;
}

/** lret (CB, with REX.W 64-bit) / lret imm16 (CA): pops RIP and CS. */
export function lret(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return undefinedOp(c, i);
  const top = popValues(c, 2, i.sz);
  if (!canonical(POP[1])) return EXIT.GENERAL_PROTECTION;
  jumpTo(c, POP[0], POP[1]);
  s.cs = POP[2] & 0xffff;
  setRsp(c, top + 2 * i.sz + i.imm);
  return CONTINUE;
}

/**
 * int n (CD ib, the vector in i.imm) in a guest: a software interrupt
 * through the IDT, rip after the instruction. A gate it cannot go through
 * is #GP at the instruction (GENERAL_PROTECTION). User code: #GP as before.
 */
export function intGuest(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return EXIT.GENERAL_PROTECTION;
  const lo = c.pc >>> 0, hi = (c.pc - lo) / TWO32;
  const rf = deliver(c, s, i.imm, rflagsOf(c), lo, hi, -1);
  if (rf < 0) return EXIT.GENERAL_PROTECTION;
  setRflags(c, rf);
  jumpTo(c, gateTarget.lo, gateTarget.hi);
  return CONTINUE;
}

/**
 * syscall (0F 05) in a guest: with EFER.SCE as the CPU does it (rcx = next
 * rip, r11 = rflags, rip = LSTAR, rflags &= ~FMASK, CS / SS from STAR);
 * without it #UD. The guest stays at CPL 0 (no guest user mode here).
 */
export function syscallGuest(c: Cpu, i: Insn, s: GuestState): number {
  if ((s.efer & EFER_SCE) === 0) return undefinedOp(c, i);
  const g = c.g;
  const lo = c.pc >>> 0;
  g[RCX] = lo;
  g[RCX + 1] = (c.pc - lo) / TWO32;
  const rf = rflagsOf(c);
  g[R11] = (rf & ~0x10000) >>> 0;
  g[R11 + 1] = 0;
  setRflags(c, (rf & ~s.fmask & ~0x10000) >>> 0 | 2);
  s.cs = (s.starHi & 0xfffc) >>> 0;
  s.ss = (s.cs + 8) & 0xffff;
  jumpTo(c, s.lstarLo, s.lstarHi);
  return CONTINUE;
}

/** ins / outs (6C-6F): Zircon refuses string I/O; user code #GP as before. */
export function stringIo(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return c.guest === 0 ? EXIT.GENERAL_PROTECTION : undefinedOp(c, i);
  s.stringIo = 1;
  return undefinedOp(c, i);
}

/** syscall (0F 05): the user path (control.ts) or, in a guest, syscallGuest. */
export function syscallAny(c: Cpu, i: Insn): number {
  return c.sys !== null && c.guest !== 0 ? syscallGuest(c, i, c.sys) : syscall(c, i);
}
