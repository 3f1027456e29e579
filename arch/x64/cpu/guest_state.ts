// The system state of a guest kernel (a VCPU): control registers, descriptor
// table registers, segment selectors and the MSRs a small guest touches.
// User threads have none of it (Cpu.sys is null); the guest instructions in
// guest_ops.ts read and write it, and the VCPU layer (arch/x64/vcpu/) walks
// the guest's page tables with it.
//
// 64-bit values are kept as u32 halves (lo, hi) so nothing here needs
// BigInt. The segments are flat in long mode, so a selector is only a
// number the guest loaded, pushed in interrupt frames and popped by iretq.

import type { Hypercall } from "../../vcpu.ts";

/** CR0 bits. */
export const CR0_PE = 0x1, CR0_ET = 0x10, CR0_NE = 0x20, CR0_WP = 0x10000;
export const CR0_NW = 0x20000000, CR0_CD = 0x40000000, CR0_PG = 0x80000000;
/** CR4 bits. */
export const CR4_PAE = 0x20, CR4_PGE = 0x80, CR4_SMEP = 0x100000;
/** IA32_EFER bits. */
export const EFER_SCE = 0x1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

/**
 * What the VCPU layer does when the guest changes its translations: `all`
 * for a CR3 reload or a CR0 / CR4 / EFER write, `page` for invlpg.
 */
export interface GuestTlb {
  flushAll(): void;
  flushPage(va: number): void;
}

export class GuestState {
  /**
   * CR0 as the guest reads it. Zircon's 2023 VMCS gives the guest PE | PG |
   * NE | WP with ET, NE, NW and CD in the guest/host mask and a read shadow
   * of ET, so a guest that reads CR0 first sees PE | ET | WP | PG (Fuchsia's
   * VcpuWriteCr0 test); a write sets the shadow, so it reads back as
   * written.
   */
  cr0 = (CR0_PE | CR0_ET | CR0_WP | CR0_PG) >>> 0;
  cr2Lo = 0;
  cr2Hi = 0;
  /** CR3 (the PML4's guest-physical address and its PWT / PCD bits). */
  cr3Lo = 0;
  cr3Hi = 0;
  /** CR4 as the guest reads it: PAE (VMXE is set underneath and hidden by the read shadow). */
  cr4 = CR4_PAE;
  /** CR8: the task priority. */
  cr8 = 0;
  /**
   * IA32_EFER: Zircon copies the host's (a Zircon host runs with SCE, LME,
   * LMA and NXE).
   */
  efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

  // IDTR and GDTR: Zircon's VMCS sets base 0, limit 0xffff for both.
  idtLo = 0;
  idtHi = 0;
  idtLimit = 0xffff;
  gdtLo = 0;
  gdtHi = 0;
  gdtLimit = 0xffff;

  // Selectors: all 0 at start (CS base 0, 64-bit code).
  cs = 0;
  ss = 0;
  ds = 0;
  es = 0;
  fs = 0;
  gs = 0;
  tr = 0;
  ldtr = 0;

  // syscall MSRs and IA32_KERNEL_GS_BASE: 0 in Zircon's guest MSR list.
  starLo = 0;
  starHi = 0;
  lstarLo = 0;
  lstarHi = 0;
  fmask = 0;
  kgsLo = 0;
  kgsHi = 0;
  tscAux = 0;
  /** IA32_PAT: the power-on value (Zircon copies the host's). */
  patLo = 0x00070406;
  patHi = 0x00070406;

  /**
   * Retired-instruction count at which the last sti that set IF ran, in
   * this run (-1: none): the interrupt shadow lasts one instruction.
   */
  stiAt = -1;
  /** The boot VCPU (vpid 1): IA32_APIC_BASE shows the BSP bit. */
  bsp = true;
  /** The local APIC ID: vpid - 1 (the x2APIC ID register, an IPI's "self"). */
  apicId = 0;
  // The local APIC state Zircon keeps (LocalApicState): LVT timer (masked at
  // reset), initial count and divide configuration, stored and read back.
  lvtTimer = 0x10000;
  lvtInitialCount = 0;
  lvtDivideConfig = 0;
  // IA32_SYSENTER_CS / ESP / EIP: the guest's own (Zircon lets them through).
  sysenterCs = 0;
  sysenterEspLo = 0;
  sysenterEspHi = 0;
  sysenterEipLo = 0;
  sysenterEipHi = 0;
  /**
   * What the instruction that stopped the core with EXIT.HYPERCALL asks of
   * the kernel (an MSR access Zircon's exit handler answers); null: a vmcall.
   */
  exit: Hypercall | null = null;
  /** Bytes to move rip back by before `exit` is acted on (Zircon leaves rip at the wrmsr). */
  exitRewind = 0;
  /** An NMI was delivered and no iretq has ended it yet: NMIs wait (VMX NMI blocking). */
  nmiBlocked = false;
  /** 1: the last exit was a string in/out (ins/outs), which Zircon refuses. */
  stringIo = 0;
  /**
   * The exception behind the last GENERAL_PROTECTION exit when it is not a
   * plain #GP(0): an int n whose gate faulted (#GP / #NP / #SS with an IDT
   * error code). -1: none (reset by the VCPU before each run).
   */
  raisedVector = -1;
  raisedError = 0;

  /** Set by the VCPU layer: drops cached translations. */
  tlb: GuestTlb = { flushAll() {}, flushPage() {} };
}
