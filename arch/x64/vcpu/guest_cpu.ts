// An x86-64 guest CPU (arch/vcpu.ts GuestCpu): the interpreter core in
// guest mode over the guest's own page walk (paging.ts), with the system
// state of guest_state.ts, and the exit helpers the kernel's vcpu_enter
// uses (I/O completion, MEM trap packets, interrupts and exceptions
// delivered through the guest's IDT).
//
// Starting state, as Zircon's vmcs_init sets up the boot VCPU: 64-bit long
// mode (CS.L, EFER = the host's: SCE | LME | LMA | NXE), CR0 as the 2023
// setup leaves it (read by the guest as PE | ET | WP | PG; see guest_state.ts), CR4 = PAE
// (VMXE hidden), CR3 = 0, rip = entry, rsp = 0, rflags = 0x2, every general
// register 0, all selectors 0, GDTR and IDTR base 0 limit 0xffff.
// Zircon starts the other VCPUs (vpid > 1) in a real-mode-like state (CS
// base = entry, rip 0, no paging); this simulator starts them in long mode
// at `entry` like the boot VCPU, since the core has no real mode.
//
// Interrupts and exceptions (see interrupt(), guestException() and
// raise()): a delivery that cannot go through the IDT (vector past the
// limit, gate not present or not an interrupt / trap gate, IDT or stack not
// mapped) raises #GP / #NP / #SS / #PF, which is delivered or becomes #DF
// as Intel SDM table 6-5 says; a #DF that cannot be delivered is a triple
// fault. From
// guestException() that is `false` (vcpu_enter: NOT_SUPPORTED, as Zircon
// treats a triple-fault exit). From interrupt(), which cannot fail, the CPU
// shuts down: interruptible() is false from then on and the next run stops
// at once with GENERAL_PROTECTION, for which guestException() says false.

import { ACCESS, type AddressSpace, EXIT, type ExitReason, type IoAccess } from "../../cpu.ts";
import type { GuestCpu, GuestFault, Hypercall, VcpuArch } from "../../vcpu.ts";
import { ERR, ZX_OK, type ZxStatus } from "../../../kernel/status.ts";
import { X64_DEBUG_REGS, X64_GENERAL_REGS, X64_VECTOR_REGS } from "../regsets.ts";
import { undefinedOp } from "../cpu/control.ts";
import { X64Core } from "../cpu/core.ts";
import { decode, MAX_LENGTH, newInsn } from "../cpu/decode.ts";
import { IF } from "../cpu/flags.ts";
import { deliver, deliveryFault, gateTarget, hasErrorCode } from "../cpu/guest_ops.ts";
import { GuestState } from "../cpu/guest_state.ts";
import { GPR, RFLAGS, RIP } from "../cpu/insn.ts";
import { GuestSpace, PF_W } from "./paging.ts";
import {
  readVcpuState,
  writeVcpuIo,
  writeVcpuState,
  X64_GUEST_MEM,
  X64_VCPU_STATE,
} from "./vcpu_state.ts";

const TWO32 = 4294967296;
const RAX = GPR[0];
/** KVM's hypercall numbers and results that Zircon's vmcall handler uses. */
const CLOCK_PAIRING = 9, UNKNOWN_HYPERCALL = -1000;
/** Vectors: #DF. */
const DOUBLE_FAULT = 8;
/** default_operand_size of a MEM packet: 4 in 64-bit mode (and with CS.D). */
const DEFAULT_OPERAND_SIZE = 4;
const MEM_ADDR = X64_GUEST_MEM.offsetOf("addr");
const MEM_CR3 = X64_GUEST_MEM.offsetOf("cr3");
const MEM_RIP = X64_GUEST_MEM.offsetOf("rip");
const MEM_SIZE = X64_GUEST_MEM.offsetOf("instruction_size");
const MEM_OPERAND_SIZE = X64_GUEST_MEM.offsetOf("default_operand_size");

/** Register storage of a VCPU: the layouts the core computes on, no thread around them. */
/** X86_INT_NMI. */
const NMI = 2;
/** X86_INT_PLATFORM_BASE: the first vector that is an external interrupt. */
const PLATFORM_BASE = 32;

/** Intel SDM vol. 3 table 6-4: the classes of exceptions for #DF. */
const BENIGN = 0, CONTRIBUTORY = 1, PAGE_FAULTS = 2;
function exceptionClass(vector: number): number {
  if (vector === 0 || (vector >= 10 && vector <= 13) || vector === 21) return CONTRIBUTORY;
  if (vector === 14 || vector === 20) return PAGE_FAULTS;
  return BENIGN; // #DB, NMI, #BP, #OF, #BR, #UD, #NM, #MF, #AC, #MC, #XM, INT n, interrupts
}

class GuestRegisters {
  readonly gpr = new Uint32Array(X64_GENERAL_REGS.size / 4);
  readonly vec = new Uint8Array(X64_VECTOR_REGS.size);
  readonly dbg = new Uint8Array(X64_DEBUG_REGS.size);
  /** A user-mode hook of the core; a guest's rflags are its own. */
  noteUserExecution(): void {}
}

class X64GuestCpu implements GuestCpu {
  private readonly sys = new GuestState();
  private readonly space: GuestSpace;
  private readonly core: X64Core;
  private readonly g: Uint32Array;
  /** sti's interrupt shadow is still on (sti was the last instruction run). */
  private shadow = false;
  /** A triple fault while delivering an interrupt: the CPU is shut down. */
  private shutdown = false;

  constructor(physical: AddressSpace, entry: bigint, vpid: number) {
    const regs = new GuestRegisters();
    this.g = regs.gpr;
    this.sys.bsp = vpid === 1;
    this.sys.apicId = vpid - 1;
    this.space = new GuestSpace(physical, this.sys);
    this.sys.tlb = this.space;
    this.core = new X64Core(regs, this.space, "guest");
    this.core.sys = this.sys;
    const g = this.g;
    g[RIP] = Number(entry & 0xffffffffn);
    g[RIP + 1] = Number((entry >> 32n) & 0xffffffffn);
    g[RFLAGS] = 0x2;
  }

  get retired(): number {
    return this.core.retired;
  }

  get io(): IoAccess {
    return this.core.io;
  }

  run(budget: number): ExitReason {
    if (this.shutdown) {
      this.core.retired = 0;
      return EXIT.GENERAL_PROTECTION;
    }
    const s = this.sys;
    this.space.last = null;
    s.stiAt = -1;
    s.stringIo = 0;
    s.exit = null;
    s.raisedVector = -1;
    const exit = this.core.run(budget);
    this.shadow = exit === EXIT.BUDGET && s.stiAt >= 0 && this.core.retired === s.stiAt + 1;
    return exit;
  }

  fault(): GuestFault {
    return this.space.last?.fault ?? { kind: "guest" };
  }

  /**
   * vmcall (the core has already stepped rip past it, as Zircon's handler
   * does first): rax gets the result and the guest goes on. The guest is
   * always at CPL 0 here (Zircon: NOT_PERMITTED, -1, from any other CPL).
   * The call number is rax (KVM's ABI); Zircon knows only CLOCK_PAIRING (9),
   * which needs its paravirtual clock (not modeled: vcpu_enter fails with
   * NOT_SUPPORTED); any other number gets UNKNOWN_HYPERCALL (-1000).
   * An rdmsr / wrmsr (or mov to CR0) that stopped with HYPERCALL left its
   * answer in GuestState.exit: that is returned instead, with rip moved back
   * to the instruction where Zircon does not step past it.
   */
  hypercall(): Hypercall {
    const s = this.sys;
    const exit = s.exit;
    if (exit !== null) {
      // An MSR access Zircon's exit handler answers (guest_ops.ts msr()).
      s.exit = null;
      if (s.exitRewind > 0) this.retreat(s.exitRewind);
      s.exitRewind = 0;
      return exit;
    }
    const g = this.g;
    if (g[RAX] === CLOCK_PAIRING && g[RAX + 1] === 0) return { kind: "unsupported" };
    g[RAX] = UNKNOWN_HYPERCALL >>> 0;
    g[RAX + 1] = 0xffffffff;
    return { kind: "continue" };
  }

  readState(out: Uint8Array): void {
    readVcpuState(this.g, out);
  }

  writeState(input: Uint8Array): void {
    writeVcpuState(this.g, input);
  }

  writeIo(input: Uint8Array): ZxStatus {
    return writeVcpuIo(this.g, input);
  }

  completeIo(): void {
    const io = this.core.io;
    this.advance(io.instructionSize);
    if (io.input && io.size === 4) {
      this.g[RAX] = 0;
      this.g[RAX + 1] = 0;
    }
  }

  memTrap(gpa: number, out: Uint8Array): ZxStatus {
    const len = this.instructionLength();
    if (len < 0) return ERR.INTERNAL;
    const g = this.g, s = this.sys;
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    out.fill(0, 0, X64_GUEST_MEM.size);
    const lo = gpa >>> 0;
    v.setUint32(MEM_ADDR, lo, true);
    v.setUint32(MEM_ADDR + 4, (gpa - lo) / TWO32, true);
    v.setUint32(MEM_CR3, s.cr3Lo, true);
    v.setUint32(MEM_CR3 + 4, s.cr3Hi, true);
    v.setUint32(MEM_RIP, g[RIP], true);
    v.setUint32(MEM_RIP + 4, g[RIP + 1], true);
    out[MEM_SIZE] = len;
    out[MEM_OPERAND_SIZE] = DEFAULT_OPERAND_SIZE;
    this.advance(len);
    return ZX_OK;
  }

  skipInstruction(): void {
    const len = this.instructionLength();
    if (len > 0) this.advance(len);
  }

  interruptible(vector: number): boolean {
    if (this.shutdown) return false;
    if (vector === NMI) return !this.sys.nmiBlocked;
    if (vector < PLATFORM_BASE) return true; // an exception: IF does not mask it
    return !this.shadow && (this.g[RFLAGS] & IF) !== 0;
  }

  interrupt(vector: number): void {
    // AutoVmcs::IssueInterrupt: the exceptions that have an error code get 0.
    if (!this.raise(vector, hasErrorCode(vector) ? 0 : -1, 1)) this.shutdown = true;
    else if (vector === NMI) this.sys.nmiBlocked = true;
  }

  guestException(exit: ExitReason): boolean {
    if (this.shutdown) return false;
    const s = this.sys;
    let vector: number, error = -1, ext = 1;
    switch (exit) {
      case EXIT.UNDEFINED_INSTRUCTION:
        if (s.stringIo !== 0) return false; // ins/outs: Zircon says NOT_SUPPORTED
        vector = 6;
        break;
      case EXIT.GENERAL_PROTECTION:
        // An int n whose gate faulted says which exception; else #GP(0).
        vector = s.raisedVector >= 0 ? s.raisedVector : 13;
        if (s.raisedVector >= 0) error = s.raisedError;
        s.raisedVector = -1;
        break;
      case EXIT.DIVIDE_ERROR:
        vector = 0;
        break;
      case EXIT.SW_BREAKPOINT:
        vector = 3;
        ext = 0; // int3 is the program's own: its delivery faults have EXT clear
        break;
      case EXIT.HW_BREAKPOINT:
        vector = 1;
        break;
      case EXIT.ALIGNMENT:
        vector = 17;
        break;
      case EXIT.PAGE_FAULT: {
        error = this.pageFault();
        if (error < 0) return false;
        vector = 14;
        break;
      }
      default:
        return false;
    }
    if (error < 0 && hasErrorCode(vector)) error = 0;
    return this.raise(vector, error, ext);
  }

  /**
   * The core stopped with PAGE_FAULT: a guest #PF sets CR2 and gives its
   * error code; -1 for a guest-physical fault (not the guest's to handle).
   */
  private pageFault(): number {
    const last = this.space.last;
    if (last !== null && last.fault.kind === "physical") return -1;
    const s = this.sys, core = this.core;
    if (last !== null) {
      s.cr2Lo = core.splitVa(last.va); // a folded upper-half address unfolded
      s.cr2Hi = core.hi;
      return last.errorCode;
    }
    // An address outside the lower half: the core faulted without a walk.
    s.cr2Lo = core.faultLo;
    s.cr2Hi = core.faultHi;
    return (core.faultAccess & ACCESS.WRITE) !== 0 ? PF_W : 0;
  }

  /**
   * Delivers exception or interrupt `vector` (error code `error`, -1 for
   * none) and whatever its delivery raises in turn, as Intel SDM vol. 3
   * 6.15 (table 6-5) has it: a fault while delivering a benign event is
   * delivered itself; a contributory one (#DE, #TS, #NP, #SS, #GP, #CP)
   * while delivering a contributory one, or a contributory one or a #PF
   * while delivering a #PF (or #VE), becomes #DF; a fault while delivering
   * #DF is a triple fault (false: nothing changed but CR2, as on
   * hardware). A guest-physical fault on the IDT or the stack is not the
   * guest's: false too. `ext`: EXT in the IDT error codes (0 for an int3's
   * own delivery; 1 once an earlier event is being delivered).
   */
  private raise(vector: number, error: number, ext: number): boolean {
    for (;;) {
      if (this.enter(vector, error, ext)) return true;
      if (vector === DOUBLE_FAULT) return false;
      let next = deliveryFault.vector, code = deliveryFault.error;
      if (next < 0) {
        // The core's own fault on the IDT or the stack.
        if (this.core.exitReason === EXIT.PAGE_FAULT) {
          code = this.pageFault();
          if (code < 0) return false;
          next = 14;
        } else {
          next = 13;
          code = 0;
        }
      }
      const first = exceptionClass(vector), second = exceptionClass(next);
      if (
        first === PAGE_FAULTS
          ? second !== BENIGN
          : first === CONTRIBUTORY && second === CONTRIBUTORY
      ) {
        next = DOUBLE_FAULT;
        code = 0;
      }
      vector = next;
      error = code;
      ext = 1;
    }
  }

  /** Delivers `vector` at the current rip and rflags; false: not deliverable (deliveryFault), nothing changed. */
  private enter(vector: number, error: number, ext: number): boolean {
    const g = this.g, core = this.core;
    core.syncTlb();
    const rf = deliver(core, this.sys, vector, g[RFLAGS], g[RIP], g[RIP + 1], error, ext);
    if (rf < 0) return false;
    g[RFLAGS] = rf;
    g[RIP] = gateTarget.lo;
    g[RIP + 1] = gateTarget.hi;
    this.shadow = false;
    return true;
  }

  private retreat(n: number): void {
    const g = this.g;
    const lo = g[RIP] - n;
    g[RIP] = lo >>> 0;
    if (lo < 0) g[RIP + 1] = (g[RIP + 1] - 1) >>> 0;
  }

  private advance(n: number): void {
    const g = this.g;
    const lo = g[RIP] + n;
    g[RIP] = lo >>> 0;
    if (lo >= TWO32) g[RIP + 1] = (g[RIP + 1] + 1) >>> 0;
  }

  /**
   * Length of the instruction at rip, read through the guest's translation
   * (as Zircon fetches it through the guest's CR3); -1 when its bytes cannot
   * be read or it does not decode.
   */
  private instructionLength(): number {
    const g = this.g;
    const rip = this.core.addr(g[RIP], g[RIP + 1]); // folded in the upper half
    if (rip < 0) return -1;
    const bytes = new Uint8Array(MAX_LENGTH);
    const saved = this.space.last;
    let n = 0;
    while (n < MAX_LENGTH) {
      const va = rip + n;
      const page = this.space.page(va, ACCESS.READ);
      if (page === null) break;
      const off = va % 4096;
      const take = Math.min(MAX_LENGTH - n, 4096 - off);
      bytes.set(page.bytes.subarray(off, off + take), n);
      n += take;
    }
    this.space.last = saved;
    const insn = newInsn();
    if (!decode(bytes, 0, n, insn) || insn.fn === undefinedOp || insn.len > MAX_LENGTH) return -1;
    return insn.len;
  }
}

/** The x64 hypervisor arch (arch/vcpu.ts VcpuArch). */
export const x64Vcpu: VcpuArch = Object.freeze({
  stateLayout: X64_VCPU_STATE,
  guestMemLayout: X64_GUEST_MEM,
  maxVcpus: 64,
  vectors: 256,
  ioTraps: true,
  /** X86_INT_VIRT (20) < vector < X86_INT_PLATFORM_BASE (32). */
  invalidInterrupt: (vector: number): boolean => vector > 20 && vector < PLATFORM_BASE,
  urgentVector: NMI,
  createOrder: ["vpid", "entry", "thread"] as const,
  interruptPriority: null,
  discardedOnDelivery: (vector: number): boolean => vector <= 20 && vector !== NMI,
  createGuestCpu: (physical: AddressSpace, entry: bigint, vpid: number): GuestCpu =>
    new X64GuestCpu(physical, entry, vpid),
});
