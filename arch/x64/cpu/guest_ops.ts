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
import type { Hypercall } from "../../vcpu.ts";
import { ERR } from "../../../kernel/status.ts";
import { jumpTo, syscall, undefinedOp } from "./control.ts";
import { ARITH, flags, IF, TF, X86_FLAGS_USER } from "./flags.ts";
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
  TF_SET,
} from "./insn.ts";
import { ea, getReg, setReg } from "./operand.ts";
import { type Cpu, FAULT, USER_TOP } from "./state.ts";
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
const IRET_MASK = X86_FLAGS_USER | 0x3200 | 0x10000;
/** Cleared on the way into a handler: TF, NT, RF, VM. */
const ENTRY_CLEAR = TF | 0x4000 | 0x10000 | 0x20000;

/** Where the last successful deliver() jumps: the gate's 64-bit offset. */
export const gateTarget = { lo: 0, hi: 0 };

/**
 * The exception that made the last deliver() fail (Intel SDM vol. 2 INT n,
 * IA-32e mode, and vol. 3 6.14): #GP / #NP / #SS with its error code, or
 * vector -1 when an access of the core faulted (a #PF on the IDT or the
 * stack, or a guest-physical fault: Cpu.exitReason and the address space
 * say which).
 */
export const deliveryFault = { vector: -1, error: 0 };

/** Vectors a failed delivery raises. */
const GP = 13, NP = 11, SS = 12;

function failDelivery(vector: number, error: number): number {
  deliveryFault.vector = vector;
  deliveryFault.error = error;
  return -1;
}

/** Exception vectors that push an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

/**
 * Delivers `vector` through the guest's IDT: reads the 16-byte gate,
 * aligns rsp down to 16 and pushes SS, RSP, RFLAGS, CS, RIP (ripLo:ripHi)
 * and, when error >= 0, the error code; CS becomes the gate's selector.
 * Returns the handler's rflags (IF cleared by an interrupt gate, TF / NT /
 * RF / VM cleared) with gateTarget holding its address, or -1 with
 * deliveryFault saying why (nothing changed). The checks in the SDM's
 * order, an IDT error code being (vector << 3) | 2 | ext: the gate past the
 * IDT limit, #GP; not an interrupt or trap gate, #GP; (a gate DPL below
 * CPL cannot be: a guest runs at CPL 0); not present, #NP; a non-canonical
 * handler, #GP(ext); a non-canonical stack, #SS(ext); the IDT or the stack
 * not writable / mapped: the core's fault. `ext` is 1 for an event from
 * outside the program (an interrupt, an earlier exception), 0 for int n.
 * The gate's code segment is not looked up (segments are not modeled).
 */
export function deliver(
  c: Cpu,
  s: GuestState,
  vector: number,
  rflags: number,
  ripLo: number,
  ripHi: number,
  error: number,
  ext: number,
): number {
  const idtError = (vector << 3) | 2 | ext;
  if (vector * 16 + 15 > s.idtLimit) return failDelivery(GP, idtError);
  const g = c.g;
  deliveryFault.vector = -1;
  try {
    const idt = c.addr(s.idtLo, s.idtHi);
    const gate = idt < 0 ? -1 : idt + vector * 16;
    const w0 = c.ld32(gate), w1 = c.ld32(gate + 4), w2 = c.ld32(gate + 8);
    const type = (w1 >>> 8) & 0x1f; // with bit 12 (S), which must be 0
    if (type !== 0xe && type !== 0xf) return failDelivery(GP, idtError);
    if ((w1 & 0x8000) === 0) return failDelivery(NP, idtError);
    if (w2 >= 0x8000 && w2 < 0xffff8000) return failDelivery(GP, ext); // non-canonical handler
    const top = c.addr((g[RSP] & ~15) >>> 0, g[RSP + 1]);
    const n = error >= 0 ? 48 : 40;
    const frame = top - n;
    // Non-canonical (or crossing out of the upper half): #SS.
    if (top < n || (top >= USER_TOP && frame < USER_TOP)) return failDelivery(SS, ext);
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
    g[RSP] = c.splitVa(frame);
    g[RSP + 1] = c.hi;
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
      // Bits 32-63 are reserved; long mode needs paging (and PG needs PE).
      if (hi !== 0 || ((lo & CR0_PG) !== 0 && (lo & CR0_PE) === 0)) {
        return EXIT.GENERAL_PROTECTION;
      }
      if (lma && (lo & CR0_PG) === 0) return EXIT.GENERAL_PROTECTION;
      // NW without CD is not a valid combination: Zircon's CR0 exit handler
      // queues a #GP (as vcpu_interrupt would) and still moves rip past the
      // mov, so the guest's handler sees rip after it. CR0 is unchanged.
      if ((lo & CR0_NW) !== 0 && (lo & CR0_CD) === 0) return kernelExit(s, i, INJECT_GP, false);
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
// MSRs: wrmsr (0F 30, op 0) / rdmsr (0F 32, op 1), as a VCPU under Zircon's
// 2023 VMX code sees them (gnoliyil/fuchsia zircon/kernel/arch/x86/
// hypervisor/guest.cc and vmexit.cc):
// - The MSRs Zircon's MSR bitmap lets through (EFER, PAT, FS/GS_BASE,
//   KERNEL_GS_BASE, STAR, LSTAR, FMASK, TSC_AUX, SYSENTER_CS/ESP/EIP) behave
//   as the hardware does, a bad value being a real #GP at the instruction
//   (GENERAL_PROTECTION).
// - Every other MSR exits to Zircon's handle_rdmsr / handle_wrmsr. What it
//   answers in place is done here (rip moves on); the rest is an
//   EXIT.HYPERCALL with GuestState.exit saying what the kernel does
//   (arch/vcpu.ts Hypercall): an IPI's packet, a vector raised on this VCPU
//   (a self IPI; the #GP Zircon injects for an MSR it refuses, queued like
//   vcpu_interrupt's with rip left at the instruction), or a status that
//   ends vcpu_enter (rip left at the instruction).

const MSR_APIC_BASE = 0x1b, MSR_PAT = 0x277, MSR_MISC_ENABLE = 0x1a0;
const MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;
const MSR_TSC_DEADLINE = 0x6e0;
const MSR_EFER = 0xc0000080, MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082;
const MSR_CSTAR = 0xc0000083, MSR_FMASK = 0xc0000084, MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101, MSR_KERNEL_GS_BASE = 0xc0000102, MSR_TSC_AUX = 0xc0000103;
/**
 * IA32_APIC_BASE as Zircon answers it (kLocalApicPhysBase): the default
 * base 0xfee00000 with xAPIC enable (bit 11) and x2APIC enable (bit 10); the
 * boot VCPU (vpid 1) adds BSP (bit 8). A write of anything else (BSP aside)
 * ends vcpu_enter with INVALID_ARGS.
 */
const APIC_BASE = 0xfee00c00, APIC_BASE_BSP = 0x100;

/** Inclusive ranges of MSR numbers. */
function inRanges(n: number, ranges: readonly (readonly [number, number])[]): boolean {
  for (const [lo, hi] of ranges) if (n >= lo && n <= hi) return true;
  return false;
}
/** The MTRRs (Zircon: they have no effect on guest memory types; read 0, writes ignored). */
const MTRRS = [
  [0xfe, 0xfe], // MTRRCAP
  [0x2ff, 0x2ff], // MTRR_DEF_TYPE
  [0x250, 0x250], // FIX64K_00000
  [0x258, 0x259], // FIX16K_80000 .. FIX16K_A0000
  [0x268, 0x26f], // FIX4K_C0000 .. FIX4K_F8000
  [0x200, 0x213], // PHYSBASE0 .. PHYSMASK9
] as const;
/** MSRs handle_rdmsr answers with 0 (besides the MTRRs). */
const READ_ZERO = new Set([
  0x619, // DRAM_ENERGY_STATUS
  0x618, // DRAM_POWER_LIMIT
  0x17, // IA32_PLATFORM_ID
  0x8b, // IA32_BIOS_SIGN_ID
  0x179, // IA32_MCG_CAP
  0x17a, // IA32_MCG_STATUS
  0x1a2, // IA32_TEMPERATURE_TARGET
  0x611, // PKG_ENERGY_STATUS
  0x64d, // PLATFORM_ENERGY_COUNTER
  0x65c, // PLATFORM_POWER_LIMIT
  0x639, // PP0_ENERGY_STATUS
  0x638, // PP0_POWER_LIMIT
  0x641, // PP1_ENERGY_STATUS
  0x640, // PP1_POWER_LIMIT
  0x606, // RAPL_POWER_UNIT
  0x64e, // PPERF
  0x34, // SMI_COUNT
]);
/** MSRs handle_wrmsr accepts and ignores (besides the MTRRs). */
const WRITE_IGNORED = new Set([
  0x8b, // IA32_BIOS_SIGN_ID
  0x618, // DRAM_POWER_LIMIT
  0x638, // PP0_POWER_LIMIT
  0x640, // PP1_POWER_LIMIT
  0x65c, // PLATFORM_POWER_LIMIT
  0x48, // IA32_SPEC_CTRL
  0x49, // IA32_PRED_CMD
  MSR_CSTAR, // unused outside compatibility mode; Linux sets it anyway
]);

// The x2APIC registers (MSRs 0x800-0x83f, Intel SDM vol. 3 10.12.1.2).
const X2APIC_FIRST = 0x800, X2APIC_LAST = 0x83f;
const APIC_ID = 0x802, APIC_VERSION = 0x803, APIC_TPR = 0x808, APIC_EOI = 0x80b;
const APIC_LDR = 0x80d, APIC_SVR = 0x80f, APIC_ISR0 = 0x810, APIC_IRR7 = 0x827;
const APIC_ESR = 0x828, APIC_LVT_CMCI = 0x82f, APIC_ICR = 0x830, APIC_LVT_TIMER = 0x832;
const APIC_LVT_THERMAL = 0x833, APIC_LVT_MONITOR = 0x834, APIC_LVT_LINT0 = 0x835;
const APIC_LVT_LINT1 = 0x836, APIC_LVT_ERROR = 0x837, APIC_INITIAL_COUNT = 0x838;
const APIC_DCR = 0x83e, APIC_SELF_IPI = 0x83f;
/** An LVT entry's mask bit: the LVTs read masked after reset. */
const LVT_MASKED = 0x10000;
/**
 * The version register: version 0x15, 7 LVT entries (max LVT 6), no
 * EOI-broadcast suppression.
 */
const APIC_VERSION_VALUE = 0x15 | (6 << 16);
/** The LVT timer mode (bits 18:17): 3 is reserved, 2 is TSC-deadline. */
const TIMER_MODE_SHIFT = 17, TIMER_MODE_TSC_DEADLINE = 2, TIMER_MODE_RESERVED = 3;

/** #GP queued on this VCPU (InterruptTracker::Interrupt(X86_INT_GP_FAULT)), rip at the instruction. */
const INJECT_GP: Hypercall = Object.freeze({ kind: "raise", vector: 13 });
const ALL = 0xffffffffffffffffn;
/** X86_INT_NMI. */
const NMI_VECTOR = 2;

/**
 * Leaves `exit` for the kernel (EXIT.HYPERCALL: the core moves rip past
 * the instruction); `atInstruction`: Zircon does not call next_rip, so rip
 * is moved back to the instruction first.
 */
function kernelExit(s: GuestState, i: Insn, exit: Hypercall, atInstruction: boolean): number {
  s.exit = exit;
  s.exitRewind = atInstruction ? i.len : 0;
  return EXIT.HYPERCALL;
}

/** A canonical 64-bit address given as its high word. */
function canonical(hi: number): boolean {
  return hi < 0x8000 || hi >= 0xffff8000;
}

/**
 * `1u << n` as the compiled C++ computes it: a 32-bit shift, whose count
 * x86 takes mod 32 (n >= 32 is undefined in C++; the shl instruction masks it).
 */
function bit32(n: number): number {
  return (1 << (n & 31)) >>> 0;
}

/**
 * ipi_target_mask: the VCPUs an ICR names, a bit each, with the 32-bit
 * arithmetic of Zircon's code: NO_SHORTHAND destination 0xffffffff is all
 * (UINT64_MAX), one of 64 or more is none, else 1u << destination; SELF
 * 1u << self; ALL_INCLUDING_SELF UINT64_MAX; ALL_EXCLUDING_SELF
 * ~(1u << self), a 32-bit value (so only VCPUs 0-31 are named).
 */
function ipiTargets(shorthand: number, destination: number, self: number): bigint {
  switch (shorthand) {
    case 0:
      if (destination === 0xffffffff) return ALL;
      if (destination >= 64) return 0n;
      return BigInt(bit32(destination));
    case 1:
      return BigInt(bit32(self));
    case 2:
      return ALL;
    default:
      return BigInt((~bit32(self)) >>> 0);
  }
}

/**
 * handle_ipi: a write of the ICR (edx the destination, eax the command).
 * Logical destination mode: NOT_SUPPORTED (before the delivery mode is
 * looked at). FIXED: an INTERRUPT packet {mask, vector}. NMI: an INTERRUPT
 * packet with vector 2 and the mask without this VCPU (`& ~(1 << self)`, an
 * int sign-extended to 64 bits). INIT: ignored. STARTUP: a STARTUP packet
 * {id = destination, entry = vector << 12}. Any other delivery mode:
 * NOT_SUPPORTED. The shorthand matters to FIXED and NMI only.
 */
function writeIcr(s: GuestState, i: Insn, lo: number, hi: number): number {
  if ((lo & 0x800) !== 0) {
    return kernelExit(s, i, {
      kind: "unsupported",
      reason: "the guest sent an IPI in logical destination mode (ICR bit 11), which Zircon " +
        "does not support",
    }, true);
  }
  const vector = lo & 0xff, shorthand = (lo >>> 18) & 3, self = s.apicId;
  switch ((lo >>> 8) & 7) {
    case 0: // FIXED
      return kernelExit(s, i, {
        kind: "interrupt",
        mask: ipiTargets(shorthand, hi >>> 0, self),
        vector,
      }, false);
    case 4: { // NMI
      const notSelf = BigInt.asUintN(64, BigInt(~(1 << (self & 31))));
      return kernelExit(s, i, {
        kind: "interrupt",
        mask: ipiTargets(shorthand, hi >>> 0, self) & notSelf,
        vector: NMI_VECTOR,
      }, false);
    }
    case 5: // INIT: ignored, only STARTUP starts a VCPU
      return CONTINUE;
    case 6: // STARTUP
      return kernelExit(s, i, {
        kind: "startup",
        id: BigInt(hi >>> 0),
        entry: BigInt(vector << 12),
      }, false);
    default:
      return kernelExit(s, i, {
        kind: "unsupported",
        reason: `the guest sent an IPI with delivery mode ${
          (lo >>> 8) & 7
        } (ICR bits 10:8), which Zircon does not support (only FIXED, NMI, INIT and STARTUP)`,
      }, true);
  }
}

/** handle_apic_rdmsr: the register's value (rax only; rdx is left as it was), or -1 for #GP. */
function readApic(s: GuestState, n: number): number {
  switch (n) {
    case APIC_ID:
      return s.apicId;
    case APIC_VERSION:
      return APIC_VERSION_VALUE;
    case APIC_SVR:
      return 0xff; // the spurious vector's reset value
    case APIC_TPR:
    case APIC_LDR:
    case APIC_ESR:
    case APIC_LVT_MONITOR:
      return 0;
    case APIC_LVT_LINT0:
    case APIC_LVT_LINT1:
    case APIC_LVT_THERMAL:
    case APIC_LVT_CMCI:
      return LVT_MASKED;
    case APIC_LVT_TIMER:
      return s.lvtTimer;
  }
  if (n >= APIC_ISR0 && n <= APIC_IRR7) return 0; // ISR, TMR, IRR
  return -1; // write-only (EOI, ICR, SELF_IPI) or not implemented (LVT error, counts, DCR)
}

/** handle_apic_wrmsr. */
function writeApic(s: GuestState, i: Insn, n: number, lo: number, hi: number): number {
  // The upper 32 bits of every x2APIC register but the ICR are reserved.
  if (hi !== 0 && n !== APIC_ICR) return kernelExit(s, i, INJECT_GP, true);
  switch (n) {
    case APIC_EOI:
    case APIC_ESR:
      // A non-zero write is #GP(0).
      return lo !== 0 ? kernelExit(s, i, INJECT_GP, true) : CONTINUE;
    case APIC_TPR:
    case APIC_SVR:
    case APIC_LVT_MONITOR:
    case APIC_LVT_ERROR:
    case APIC_LVT_LINT0:
    case APIC_LVT_LINT1:
    case APIC_LVT_THERMAL:
    case APIC_LVT_CMCI:
      return CONTINUE; // accepted and ignored
    case APIC_LVT_TIMER:
      if (((lo >>> TIMER_MODE_SHIFT) & 3) === TIMER_MODE_RESERVED) {
        return kernelExit(s, i, {
          kind: "status",
          status: ERR.INVALID_ARGS,
          reason: "the guest wrote the x2APIC LVT timer with the reserved timer mode (3)",
        }, true);
      }
      s.lvtTimer = lo >>> 0;
      return CONTINUE;
    case APIC_INITIAL_COUNT:
      s.lvtInitialCount = lo >>> 0;
      return CONTINUE;
    case APIC_DCR:
      s.lvtDivideConfig = lo >>> 0;
      return CONTINUE;
    case APIC_SELF_IPI:
      // Raised on this VCPU directly, as vcpu_interrupt would; no packet.
      return kernelExit(s, i, { kind: "raise", vector: lo & 0xff }, false);
    case APIC_ICR:
      return writeIcr(s, i, lo, hi);
  }
  return kernelExit(s, i, INJECT_GP, true); // read-only or not implemented
}

export function msr(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return EXIT.GENERAL_PROTECTION;
  const g = c.g;
  const n = g[RCX];
  if (i.op === 1) {
    if (n >= X2APIC_FIRST && n <= X2APIC_LAST) {
      const v = readApic(s, n);
      if (v < 0) return kernelExit(s, i, INJECT_GP, true);
      g[RAX] = v >>> 0; // Zircon sets rax only
      g[RAX + 1] = 0;
      return CONTINUE;
    }
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
      case MSR_SYSENTER_CS:
        lo = s.sysenterCs;
        break;
      case MSR_SYSENTER_ESP:
        lo = s.sysenterEspLo;
        hi = s.sysenterEspHi;
        break;
      case MSR_SYSENTER_EIP:
        lo = s.sysenterEipLo;
        hi = s.sysenterEipHi;
        break;
      case MSR_APIC_BASE:
        lo = s.bsp ? APIC_BASE | APIC_BASE_BSP : APIC_BASE;
        break;
      case MSR_MISC_ENABLE:
        lo = 1; // the host's value masked to fast strings (a Zircon host has them on)
        break;
      default:
        if (!READ_ZERO.has(n) && !inRanges(n, MTRRS)) return kernelExit(s, i, INJECT_GP, true);
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
      if (!canonical(hi)) return EXIT.GENERAL_PROTECTION;
      s.lstarLo = lo;
      s.lstarHi = hi;
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
    case MSR_SYSENTER_CS:
      s.sysenterCs = lo;
      return CONTINUE;
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP:
      if (!canonical(hi)) return EXIT.GENERAL_PROTECTION;
      if (n === MSR_SYSENTER_ESP) {
        s.sysenterEspLo = lo;
        s.sysenterEspHi = hi;
      } else {
        s.sysenterEipLo = lo;
        s.sysenterEipHi = hi;
      }
      return CONTINUE;
    case MSR_APIC_BASE:
      if (hi !== 0 || (lo & ~APIC_BASE_BSP) >>> 0 !== APIC_BASE) {
        return kernelExit(s, i, {
          kind: "status",
          status: ERR.INVALID_ARGS,
          reason: "the guest wrote IA32_APIC_BASE with a value other than the x2APIC at " +
            "0xfee00000 (0xfee00c00, BSP aside): Zircon's wrmsr handler refuses it",
        }, true);
      }
      return CONTINUE;
    case MSR_TSC_DEADLINE:
      if (((s.lvtTimer >>> TIMER_MODE_SHIFT) & 3) !== TIMER_MODE_TSC_DEADLINE) {
        return kernelExit(s, i, {
          kind: "status",
          status: ERR.INVALID_ARGS,
          reason:
            "the guest wrote IA32_TSC_DEADLINE while the LVT timer is not in TSC-deadline mode",
        }, true);
      }
      return CONTINUE; // the deadline is accepted; zxsim's APIC timer does not fire
  }
  if (n >= X2APIC_FIRST && n <= X2APIC_LAST) return writeApic(s, i, n, lo, hi);
  if (WRITE_IGNORED.has(n) || inRanges(n, MTRRS)) return CONTINUE;
  return kernelExit(s, i, INJECT_GP, true);
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
  g[RSP] = c.splitVa(va);
  g[RSP + 1] = c.hi;
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
  const old = rflagsOf(c);
  const rf = ((old & ~IRET_MASK) | (POP[4] & IRET_MASK) | 2) >>> 0;
  setRflags(c, rf);
  const g = c.g;
  g[RSP] = POP[6];
  g[RSP + 1] = POP[7];
  s.ss = POP[8] & 0xffff;
  // TF restored: the core steps from the next instruction on.
  return (rf & ~old & TF) !== 0 ? TF_SET : CONTINUE;
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
 * faults at the instruction as deliver() says: #GP / #NP / #SS leave the
 * core with GENERAL_PROTECTION and the exception in GuestState.raised
 * (guestException delivers it); a #PF on the IDT or the stack is the
 * core's PAGE_FAULT. User code: #GP as before.
 */
export function intGuest(c: Cpu, i: Insn): number {
  const s = guest(c);
  if (s === null) return EXIT.GENERAL_PROTECTION;
  const lo = c.splitVa(c.pc), hi = c.hi;
  const rf = deliver(c, s, i.imm, rflagsOf(c), lo, hi, -1, 0);
  if (rf < 0) {
    if (deliveryFault.vector < 0) throw FAULT; // the core's own fault, as recorded
    s.raisedVector = deliveryFault.vector;
    s.raisedError = deliveryFault.error;
    return EXIT.GENERAL_PROTECTION;
  }
  setRflags(c, rf);
  jumpTo(c, gateTarget.lo, gateTarget.hi);
  c.noStep = 1; // the gate cleared TF: no single-step trap after int n
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
  g[RCX] = c.splitVa(c.pc);
  g[RCX + 1] = c.hi;
  const rf = rflagsOf(c);
  g[R11] = (rf & ~0x10000) >>> 0;
  g[R11 + 1] = 0;
  setRflags(c, (rf & ~s.fmask & ~0x10000) >>> 0 | 2);
  if ((s.fmask & TF) !== 0) c.noStep = 1; // FMASK cleared TF: no trap into the handler
  // CS = STAR[47:32] & ~3, SS = STAR[47:32] + 8 (its RPL bits kept; SDM vol. 2 SYSCALL).
  s.cs = (s.starHi & 0xfffc) >>> 0;
  s.ss = ((s.starHi & 0xffff) + 8) & 0xffff;
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
