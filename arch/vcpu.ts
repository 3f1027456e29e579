// What an architecture gives the hypervisor: a guest CPU on the same
// interpreter core as user threads, in guest mode, plus zx_vcpu_state_t and
// its write rules. The kernel (kernel/vcpu.ts) owns the trap map, the
// pending interrupts and the packets' common header; the arch owns the
// registers, the guest's own address translation and the arch-specific
// halves of the packets. Nothing here knows handles, ports or HTTP.

import type { ZxStatus } from "../kernel/status.ts";
import type { AddressSpace, ExitReason, IoAccess } from "./cpu.ts";
import type { StructLayout } from "./layout.ts";

/**
 * Why the last EXIT.PAGE_FAULT of a guest happened.
 * - `physical`: the access reached guest-physical address `gpa` (arm64: the
 *   address itself, the MMU is off; x64: after the guest's own page walk, or
 *   the page-table entry the walk itself read) and the guest-physical space
 *   had nothing there with `access` (ACCESS.*): an EPT violation / stage-2
 *   abort, the kernel's business (trap, OUT_OF_RANGE, ...).
 * - `guest`: the guest's own translation failed (x64: a not-present or
 *   read-only entry in its page tables): a #PF the guest handles itself,
 *   through guestException().
 */
export type GuestFault =
  | { readonly kind: "physical"; readonly gpa: number; readonly access: number }
  | { readonly kind: "guest" };

/**
 * What an EXIT.HYPERCALL asks of the kernel. It comes from a hypercall (x64
 * vmcall, arm64 smc: PSCI, hvc) or from an instruction Zircon's exit
 * handlers answer with the kernel's help: x64 rdmsr / wrmsr of an MSR that
 * exits (x2APIC registers, IA32_APIC_BASE, ...), arm64 msr ICC_SGI1R_EL1.
 * The core has moved pc past the instruction; the GuestCpu moves it back
 * where Zircon leaves it at the instruction (an error, an injected #GP).
 */
export type Hypercall =
  /** Handled inside the guest (a result in x0); the guest goes on. */
  | { readonly kind: "continue" }
  /** PSCI SYSTEM_OFF: vcpu_enter returns ZX_ERR_UNAVAILABLE. */
  | { readonly kind: "off" }
  /**
   * A ZX_PKT_TYPE_GUEST_VCPU STARTUP packet for the VMM (key 0): arm64 PSCI
   * CPU_ON, x64 an ICR write of delivery mode STARTUP.
   */
  | { readonly kind: "startup"; readonly id: bigint; readonly entry: bigint }
  /**
   * An IPI: a ZX_PKT_TYPE_GUEST_VCPU INTERRUPT packet {mask, vector} for the
   * VMM (key 0), which forwards it to the VCPUs in `mask`. x64 an ICR write
   * (FIXED, NMI), arm64 an ICC_SGI1R_EL1 write.
   */
  | { readonly kind: "interrupt"; readonly mask: bigint; readonly vector: number }
  /**
   * The exit handler raises `vector` on this VCPU (InterruptTracker::Interrupt,
   * as vcpu_interrupt does) and the guest goes on: x64 a self IPI, or the
   * #GP (13) Zircon injects for an MSR access it refuses.
   */
  | { readonly kind: "raise"; readonly vector: number }
  /**
   * Not a call or access the kernel handles: vcpu_enter returns
   * ZX_ERR_NOT_SUPPORTED (`reason` says what, for the message).
   */
  | { readonly kind: "unsupported"; readonly reason?: string }
  /**
   * vcpu_enter returns `status` (arm64 PSCI CPU_OFF: ZX_ERR_STOP; PSCI
   * SYSTEM_RESET: ZX_ERR_CANCELED, as Zircon's smc handler does; x64 an
   * IA32_APIC_BASE write other than the x2APIC base: ZX_ERR_INVALID_ARGS).
   */
  | { readonly kind: "status"; readonly status: ZxStatus; readonly reason?: string };

/** One guest CPU: its registers, its guest-mode core and the arch's exit helpers. */
export interface GuestCpu {
  /**
   * Runs guest code for at most `budget` instructions (the core's run, in
   * guest mode). Interrupts are not taken here: the kernel offers them with
   * interruptible() / interrupt() between runs.
   */
  run(budget: number): ExitReason;
  /** Instructions completed by the last run. */
  readonly retired: number;
  /** EXIT.IO: the access (x64); pc is still at the in/out. */
  readonly io: IoAccess;
  /** EXIT.PAGE_FAULT: what kind of fault (see GuestFault). */
  fault(): GuestFault;
  /**
   * EXIT.HYPERCALL: what the guest asked for (see Hypercall; arm64 PSCI
   * reads x0..x2 and writes x0 for "continue").
   */
  hypercall(): Hypercall;

  /** zx_vcpu_state_t: fills `out` (exactly stateLayout.size bytes), with Zircon's read masks. */
  readState(out: Uint8Array): void;
  /**
   * zx_vcpu_state_t write with Zircon's rules (x64: rflags only when bit 1
   * is set, and then only X86_FLAGS_USER; arm64: cpsr's NZCV OR-ed in).
   * `input` is exactly stateLayout.size bytes; a write cannot fail.
   */
  writeState(input: Uint8Array): void;
  /**
   * zx_vcpu_io_t write (8 bytes): x64 checks access_size is 1, 2 or 4
   * (else INVALID_ARGS, nothing changed) and replaces that many low bytes
   * of rax; arm64 returns INVALID_ARGS always.
   */
  writeIo(input: Uint8Array): ZxStatus;

  /**
   * EXIT.IO (x64): Zircon's handling before the packet goes out: pc moves
   * past the instruction and an `in` of 4 bytes zeroes rax.
   */
  completeIo(): void;
  /**
   * EXIT.PAGE_FAULT on a MEM trap at `gpa`: fills `out` with the 32-byte
   * zx_packet_guest_mem_t (x64 2023 layout: addr, cr3, rip of the
   * instruction, instruction_size, default_operand_size; arm64: addr,
   * access_size, sign_extend, xt, read, data) and moves pc past the
   * instruction. Returns ZX_OK, or the status vcpu_enter returns instead
   * (arm64 IO_DATA_INTEGRITY when the instruction has no syndrome, ISV = 0;
   * x64 INTERNAL for an instruction it cannot size). On error nothing moved,
   * except on arm64, where Zircon steps past the instruction before it
   * looks at ISV (so IO_DATA_INTEGRITY leaves pc after it, as in Zircon).
   */
  memTrap(gpa: number, out: Uint8Array): ZxStatus;
  /** EXIT.PAGE_FAULT on a BELL trap (a write): moves pc past the instruction. */
  skipInstruction(): void;

  /**
   * May interrupt `vector` be delivered now? x64 (as Zircon's
   * local_apic_maybe_interrupt): a vector of 32 or more needs IF set and
   * no sti shadow; the NMI (2) needs no NMI in service (one delivered and
   * not yet ended by iretq); the other vectors below 32 are exceptions,
   * which IF does not mask. arm64: PSTATE.I clear and the GIC CPU
   * interface signalling it (ICC_IGRPEN1_EL1 on, its priority above
   * ICC_PMR_EL1 and above the running priority of an acknowledged INTID
   * not yet ended).
   */
  interruptible(vector: number): boolean;
  /**
   * Delivers external interrupt `vector` as the hardware would: x64 through
   * the IDT gate (push SS, RSP, RFLAGS, CS, RIP; clear IF for an interrupt
   * gate); arm64 an IRQ to VBAR_EL1 + 0x280 (ELR_EL1, SPSR_EL1 saved, DAIF
   * masked), the INTID then read from ICC_IAR1_EL1. Only called when
   * interruptible(vector).
   */
  interrupt(vector: number): void;
  /**
   * A synchronous exception the guest itself must handle (an exit that is
   * not the VMM's: undefined instruction, #GP, #DE, a guest page fault,
   * breakpoint, alignment). Delivers it to the guest's handler if it has
   * one (x64: an IDT covering the vector; arm64: VBAR_EL1 set) and returns
   * true; false: it has none (a triple fault: vcpu_enter returns
   * ZX_ERR_NOT_SUPPORTED, nothing changed).
   */
  guestException(exit: ExitReason): boolean;
}

/** One check of vcpu_create after the handle lookup (see VcpuArch.createOrder). */
export type VcpuCreateCheck = "vpid" | "entry" | "thread";

/** The hypervisor part of an architecture. */
export interface VcpuArch {
  /** zx_vcpu_state_t (x64 136 bytes, arm64 264). */
  readonly stateLayout: StructLayout;
  /** zx_packet_guest_mem_t, the union member memTrap() fills (it differs per arch). */
  readonly guestMemLayout: StructLayout;
  /**
   * kMaxGuestVcpus: x64 64, arm64 8. VPIDs come from Zircon's IdAllocator
   * over [1, kMaxGuestVcpus), so a guest has at most 63 / 7 VCPUs.
   */
  readonly maxVcpus: number;
  /**
   * The order Vcpu::Create makes its checks in (2023): x64 takes a VPID
   * first (NormalVcpu::Create), then checks the entry and the thread;
   * arm64 checks the entry, the thread, then takes the VPID.
   */
  readonly createOrder: readonly VcpuCreateCheck[];
  /**
   * The priority an interrupt is signalled with, lower first (arm64: the
   * GIC priority Zircon's list registers give it), or null: the highest
   * pending vector goes first (x64, after the urgent one).
   */
  readonly interruptPriority: ((vector: number) => number) | null;
  /** Interrupt vectors 0..vectors-1 (256 on both): others are OUT_OF_RANGE. */
  readonly vectors: number;
  /** ZX_GUEST_TRAP_IO exists (x64); elsewhere guest_set_trap says NOT_SUPPORTED. */
  readonly ioTraps: boolean;
  /**
   * x64: a pending vector in (X86_INT_VIRT, X86_INT_PLATFORM_BASE) = 21..31
   * makes the next vcpu_enter fail with NOT_SUPPORTED (Zircon's check).
   */
  invalidInterrupt(vector: number): boolean;
  /** A vector taken before any other when pending (x64: the NMI, 2), or null. */
  readonly urgentVector: number | null;
  /**
   * Pending vectors dropped once a vector is delivered (x64: the exceptions
   * 0-1 and 3-20: lower-priority exceptions are discarded, and re-raised by
   * the code when the handler returns, Intel SDM vol. 3 6.9; Zircon clears
   * them after every injection).
   */
  discardedOnDelivery(vector: number): boolean;
  /**
   * A VCPU in the state Zircon's vcpu setup gives it: x64 64-bit long
   * mode, paging on, CR3 = 0, rip = entry, rflags 0x2, rsp 0; arm64 EL1h,
   * MMU off, DAIF masked, pc = entry. `physical` is the guest-physical
   * address space; `vpid` is 1-based (1 is the boot CPU).
   */
  createGuestCpu(physical: AddressSpace, entry: bigint, vpid: number): GuestCpu;
}
