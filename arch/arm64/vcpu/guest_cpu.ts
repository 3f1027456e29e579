// An arm64 VCPU: the interpreter core in guest mode with EL1 state
// (sysregs.ts), started as Zircon's Vcpu::Create leaves a guest: ELR_EL2 =
// entry and SPSR_EL2 = DAIF masked | EL1h, so the guest begins at EL1 on
// SP_EL1 with interrupts masked, its MMU off, every x register and sp 0;
// MPIDR_EL1 reads Zircon's VMPIDR, (vpid - 1) | bit 31.
//
// The guest's own exceptions (taken here, never by the kernel): an IRQ goes
// to VBAR_EL1 + 0x80 / 0x280 / 0x480 (from EL1t / EL1h / EL0), a
// synchronous one to + 0x000 / 0x200 / 0x400, with ELR_EL1, SPSR_EL1 (NZCV,
// DAIF, mode), ESR_EL1 and FAR_EL1 set and PSTATE = EL1h, DAIF masked. A
// VBAR_EL1 of 0 is taken to mean "no vector table yet": guestException()
// then says false and the kernel fails vcpu_enter, where hardware would jump
// to address 0x200 (a guest that really puts its table at 0 is not
// supported). svc is such an exception (EC 0x15) and is taken inside run().

import { ERR, ZX_OK, type ZxStatus } from "../../../kernel/status.ts";
import { ACCESS, type AddressSpace, EXIT, type ExitReason, type IoAccess } from "../../cpu.ts";
import type { GuestCpu, GuestFault, Hypercall, VcpuArch } from "../../vcpu.ts";
import type { Arm64Registers } from "../arm64.ts";
import { Arm64Core, type Counter } from "../cpu/core.ts";
import { ALIGN, CPSR, PC, PSTATE_IL, SP } from "../cpu/ops.ts";
import { psciCall } from "./psci.ts";
import { dataAbortSyndrome, EC, esr, FSC, ISS_WNR } from "./syndrome.ts";
import {
  EL1_SYSREG as R,
  El1State,
  MODE_EL0T,
  MODE_EL1H,
  MODE_EL1T,
  priorityOf,
  PSTATE_DAIF,
  PSTATE_I,
  PSTATE_KEPT,
} from "./sysregs.ts";
import { ARM64_GUEST_MEM, ARM64_VCPU_STATE, SPSR_NZCV } from "./vcpu_state.ts";

const TWO32 = 4294967296;
/** Bytes of x0..x30 at the start of both zx_vcpu_state_t and the core's gpr. */
const X_BYTES = ARM64_VCPU_STATE.offsetOf("sp");
const STATE_SP = ARM64_VCPU_STATE.offsetOf("sp");
const STATE_CPSR = ARM64_VCPU_STATE.offsetOf("cpsr");
const MEM_ADDR = ARM64_GUEST_MEM.offsetOf("addr");
const MEM_SIZE = ARM64_GUEST_MEM.offsetOf("access_size");
const MEM_SX = ARM64_GUEST_MEM.offsetOf("sign_extend");
const MEM_XT = ARM64_GUEST_MEM.offsetOf("xt");
const MEM_READ = ARM64_GUEST_MEM.offsetOf("read");
const MEM_DATA = ARM64_GUEST_MEM.offsetOf("data");

/** Vector offsets: the table's quarter by where the exception comes from, then the kind. */
const FROM_EL1T = 0x000, FROM_EL1H = 0x200, FROM_EL0 = 0x400;
const SYNC = 0x00, IRQ = 0x80;

/** CNTVCT_EL0 / CNTFRQ_EL0 of guests: the host's monotonic clock in nanoseconds. */
const GUEST_COUNTER: Counter = {
  frequency: 1_000_000_000,
  now: () => Math.floor(performance.now() * 1e6),
};

export class Arm64GuestCpu implements GuestCpu {
  readonly core: Arm64Core;
  readonly el1: El1State;
  retired = 0;
  private readonly g: Uint32Array;
  private readonly physical: AddressSpace;

  constructor(regs: Arm64Registers, physical: AddressSpace, entry: bigint, vpid: number) {
    this.physical = physical;
    this.core = new Arm64Core(regs, physical, "guest");
    this.el1 = new El1State(vpid);
    this.core.el1 = this.el1;
    this.core.counter = GUEST_COUNTER;
    const g = regs.gpr;
    this.g = g;
    g[PC] = Number(BigInt.asUintN(32, entry));
    g[PC + 1] = Number(BigInt.asUintN(32, entry >> 32n));
    g[CPSR] = PSTATE_DAIF | MODE_EL1H;
  }

  get io(): IoAccess {
    return this.core.io;
  }

  run(budget: number): ExitReason {
    this.el1.exit = null;
    if ((this.g[CPSR] & PSTATE_IL) !== 0) {
      // PSTATE.IL (an illegal eret not yet taken): no instruction can run.
      this.retired = 0;
      this.core.detail = 0;
      return EXIT.UNDEFINED_INSTRUCTION;
    }
    let total = 0;
    let reason: ExitReason;
    for (;;) {
      reason = this.core.run(budget - total);
      total += this.core.retired;
      // svc is the guest's own business: its EL1 takes it (pc is already after it).
      if (reason !== EXIT.SYSCALL || !this.take(SYNC, esr(EC.SVC64, this.core.detail))) break;
      if (total >= budget) {
        reason = EXIT.BUDGET;
        break;
      }
    }
    this.retired = total;
    return reason;
  }

  fault(): GuestFault {
    return { kind: "physical", gpa: Number(this.core.faultAddress), access: this.core.faultAccess };
  }

  hypercall(): Hypercall {
    const el1 = this.el1, exit = el1.exit;
    if (exit !== null) {
      // An msr Zircon's EL2 answers (ICC_SGI1R_EL1); the core stepped past it.
      el1.exit = null;
      if (el1.exitAtInstruction) {
        const g = this.g, lo = g[PC] - 4;
        g[PC] = lo >>> 0;
        if (lo < 0) g[PC + 1] = (g[PC + 1] - 1) >>> 0;
      }
      return exit;
    }
    return psciCall(this.g, this.core.smc, this.core.detail);
  }

  readState(out: Uint8Array): void {
    const g = this.g;
    out.fill(0, 0, ARM64_VCPU_STATE.size);
    out.set(new Uint8Array(g.buffer, g.byteOffset, X_BYTES), 0);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const onSp1 = (g[CPSR] & 0xf) === MODE_EL1H;
    v.setUint32(STATE_SP, onSp1 ? g[SP] : this.el1.spEl1Lo, true);
    v.setUint32(STATE_SP + 4, onSp1 ? g[SP + 1] : this.el1.spEl1Hi, true);
    v.setUint32(STATE_CPSR, (g[CPSR] & SPSR_NZCV) >>> 0, true);
  }

  writeState(input: Uint8Array): void {
    const g = this.g;
    new Uint8Array(g.buffer, g.byteOffset, X_BYTES).set(input.subarray(0, X_BYTES));
    const v = new DataView(input.buffer, input.byteOffset, input.byteLength);
    const lo = v.getUint32(STATE_SP, true), hi = v.getUint32(STATE_SP + 4, true);
    if ((g[CPSR] & 0xf) === MODE_EL1H) {
      g[SP] = lo;
      g[SP + 1] = hi;
    } else {
      this.el1.spEl1Lo = lo;
      this.el1.spEl1Hi = hi;
    }
    // Zircon ORs the new NZCV in: a write can set flags but never clear them.
    g[CPSR] = (g[CPSR] | (v.getUint32(STATE_CPSR, true) & SPSR_NZCV)) >>> 0;
  }

  writeIo(_input: Uint8Array): ZxStatus {
    return ERR.INVALID_ARGS; // ZX_VCPU_IO does not exist on arm64
  }

  completeIo(): void {
    // arm64 guests have no port I/O: EXIT.IO never happens, nothing to complete.
  }

  memTrap(gpa: number, out: Uint8Array): ZxStatus {
    const g = this.g;
    const pc = g[PC + 1] * TWO32 + g[PC];
    const page = this.physical.page(pc - (pc % 4096), ACCESS.EXECUTE);
    if (page === null) return ERR.INTERNAL; // it just ran from there
    const o = pc % 4096, b = page.bytes;
    const syn = dataAbortSyndrome(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
    // Zircon's data-abort handler steps past the instruction before it
    // looks at ISV, so even the failing exit leaves pc after it.
    this.skipInstruction();
    if (syn === null) return ERR.IO_DATA_INTEGRITY;
    out.fill(0, 0, ARM64_GUEST_MEM.size);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    v.setUint32(MEM_ADDR, gpa >>> 0, true);
    v.setUint32(MEM_ADDR + 4, Math.floor(gpa / TWO32), true);
    out[MEM_SIZE] = syn.accessSize;
    out[MEM_SX] = syn.signExtend ? 1 : 0;
    out[MEM_XT] = syn.xt;
    out[MEM_READ] = syn.read ? 1 : 0;
    if (!syn.read && syn.xt !== 31) {
      // The whole register, whatever the access size (guest_state->x[xt]).
      v.setUint32(MEM_DATA, g[2 * syn.xt], true);
      v.setUint32(MEM_DATA + 4, g[2 * syn.xt + 1], true);
    }
    return ZX_OK;
  }

  skipInstruction(): void {
    const g = this.g, lo = g[PC] + 4;
    g[PC] = lo >>> 0;
    if (lo > 0xffffffff) g[PC + 1] = (g[PC + 1] + 1) >>> 0;
  }

  interruptible(vector: number): boolean {
    return (this.g[CPSR] & PSTATE_I) === 0 && this.el1.signalable(priorityOf(vector));
  }

  interrupt(vector: number): void {
    this.el1.pending = vector;
    this.enter(IRQ);
  }

  guestException(exit: ExitReason): boolean {
    const core = this.core, g = this.g;
    const fromEl0 = (g[CPSR] & 0xc) === 0;
    switch (exit) {
      case EXIT.UNDEFINED_INSTRUCTION:
        // PSTATE.IL set: an Illegal Execution state exception, ELR at the
        // instruction that could not run.
        if ((g[CPSR] & PSTATE_IL) !== 0) return this.take(SYNC, esr(EC.ILLEGAL_STATE, 0));
        return this.take(SYNC, esr(EC.UNKNOWN, 0));
      case EXIT.SW_BREAKPOINT:
        return this.take(SYNC, esr(EC.BRK64, core.detail & 0xffff));
      case EXIT.SYSCALL:
        return this.take(SYNC, esr(EC.SVC64, core.detail & 0xffff));
      case EXIT.GENERAL_PROTECTION:
        // In a guest only a misaligned sp used as a base comes here (wfi is HALT).
        return this.take(SYNC, esr(EC.SP_ALIGNMENT, 0));
      case EXIT.ALIGNMENT:
        if (core.detail === ALIGN.PC) {
          return this.take(SYNC, esr(EC.PC_ALIGNMENT, 0), g[PC], g[PC + 1]);
        }
        return this.dataAbort(fromEl0, FSC.ALIGNMENT);
      case EXIT.PAGE_FAULT:
        if (core.faultAccess === ACCESS.EXECUTE) {
          const ec = fromEl0 ? EC.INSTRUCTION_ABORT_LOWER : EC.INSTRUCTION_ABORT_SAME;
          return this.take(SYNC, esr(ec, FSC.TRANSLATION_L0), ...this.faultWords());
        }
        return this.dataAbort(fromEl0, FSC.TRANSLATION_L0);
      default:
        return false;
    }
  }

  private dataAbort(fromEl0: boolean, fsc: number): boolean {
    const ec = fromEl0 ? EC.DATA_ABORT_LOWER : EC.DATA_ABORT_SAME;
    const wnr = this.core.faultAccess === ACCESS.WRITE ? ISS_WNR : 0;
    return this.take(SYNC, esr(ec, fsc | wnr), ...this.faultWords());
  }

  private faultWords(): [number, number] {
    const a = this.core.faultAddress;
    return [Number(a & 0xffffffffn), Number((a >> 32n) & 0xffffffffn)];
  }

  /**
   * Takes a synchronous exception with syndrome `syndrome` (and FAR when
   * given) if the guest has a vector table; false when it has none.
   */
  private take(kind: number, syndrome: number, farLo?: number, farHi?: number): boolean {
    if ((this.el1.lo(R.VBAR_EL1) | this.el1.hi(R.VBAR_EL1)) === 0) return false;
    this.el1.set(R.ESR_EL1, syndrome, 0);
    if (farLo !== undefined) this.el1.set(R.FAR_EL1, farLo, farHi ?? 0);
    this.enter(kind);
    return true;
  }

  /**
   * Exception entry to EL1h: ELR_EL1, SPSR_EL1 (with PSTATE.IL) saved, DAIF
   * masked, IL cleared, pc at the vector.
   */
  private enter(kind: number): void {
    const g = this.g, el1 = this.el1, cpsr = g[CPSR];
    const m = cpsr & 0xf;
    const from = m === MODE_EL0T ? FROM_EL0 : m === MODE_EL1T ? FROM_EL1T : FROM_EL1H;
    el1.set(R.SPSR_EL1, cpsr & (SPSR_NZCV | PSTATE_KEPT | PSTATE_IL), 0);
    el1.set(R.ELR_EL1, g[PC], g[PC + 1]);
    g[CPSR] = ((el1.switchMode(g, cpsr, MODE_EL1H) | PSTATE_DAIF) & ~PSTATE_IL) >>> 0;
    const lo = el1.lo(R.VBAR_EL1) + from + kind;
    g[PC] = lo >>> 0;
    g[PC + 1] = (el1.hi(R.VBAR_EL1) + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  }
}

/** The arm64 VcpuArch; `newRegisters` makes the register storage (Arm64Registers). */
export function arm64VcpuArch(newRegisters: () => Arm64Registers): VcpuArch {
  return Object.freeze({
    stateLayout: ARM64_VCPU_STATE,
    guestMemLayout: ARM64_GUEST_MEM,
    maxVcpus: 8,
    vectors: 256,
    ioTraps: false,
    invalidInterrupt: (_vector: number) => false,
    urgentVector: null,
    createOrder: ["entry", "thread", "vpid"] as const,
    interruptPriority: priorityOf,
    discardedOnDelivery: (_vector: number) => false,
    createGuestCpu: (physical: AddressSpace, entry: bigint, vpid: number): GuestCpu =>
      new Arm64GuestCpu(newRegisters(), physical, entry, vpid),
  });
}
