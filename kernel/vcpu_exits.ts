// What the kernel does with each exit of a guest's core, after Zircon's
// vmexit handlers: most exits are handled inside vcpu_enter (the guest goes
// on), a few end it with a packet for the VMM (MEM and IO traps, a VCPU
// startup) or with an error status. The arch's GuestCpu fills in what
// depends on the instruction set.

import { ACCESS, EXIT, type ExitReason } from "../arch/cpu.ts";
import {
  guestPacket,
  PACKET_GUEST_BELL,
  PACKET_GUEST_IO,
  PACKET_GUEST_VCPU,
} from "./port_packet.ts";
import { ERR, ZX_OK, ZxError } from "./status.ts";
import { GUEST_TRAP, PKT_GUEST_VCPU, PKT_TYPE } from "./types.ts";
import { MAX_PACKETS_PER_TRAP, type Trap } from "./guest_traps.ts";
import type { Vcpu } from "./vcpu.ts";

/** What the enter loop does next. */
export type ExitOutcome =
  /** Re-enter the guest. */
  | { readonly kind: "continue" }
  /**
   * Re-enter the guest, but the exit made no progress (a page the guest
   * space maps without the access: Zircon re-faults it forever): it costs a
   * step of the turn, so the loop stays preemptible and a kick ends it.
   */
  | { readonly kind: "refault" }
  /** hlt / wfi with nothing pending: wait for an interrupt or a kick. */
  | { readonly kind: "halt" }
  /** vcpu_enter returns ZX_OK with this packet. */
  | { readonly kind: "packet"; readonly packet: Uint8Array }
  /** A BELL trap's packets are all queued: wait for one to be dequeued, then queue this. */
  | { readonly kind: "bell_full"; readonly trap: Trap; readonly packet: Uint8Array }
  /** vcpu_enter fails with this status. */
  | { readonly kind: "error"; readonly error: ZxError };

const CONTINUE: ExitOutcome = Object.freeze({ kind: "continue" });
const REFAULT: ExitOutcome = Object.freeze({ kind: "refault" });
const HALT: ExitOutcome = Object.freeze({ kind: "halt" });

const fail = (status: number, message: string): ExitOutcome => ({
  kind: "error",
  error: new ZxError(status as never, message),
});

const hex = (value: number | bigint) => `0x${value.toString(16)}`;

export function handleExit(vcpu: Vcpu, exit: ExitReason): ExitOutcome {
  const cpu = vcpu.cpu;
  switch (exit) {
    case EXIT.HALT:
      return vcpu.hasPendingInterrupt ? CONTINUE : HALT;
    case EXIT.IO:
      return ioExit(vcpu);
    case EXIT.PAGE_FAULT: {
      const fault = cpu.fault();
      if (fault.kind === "guest") return guestException(vcpu, exit);
      return physicalFault(vcpu, fault.gpa, fault.access);
    }
    case EXIT.GENERAL_PROTECTION:
    case EXIT.DIVIDE_ERROR:
    case EXIT.SW_BREAKPOINT:
    case EXIT.HW_BREAKPOINT:
    case EXIT.ALIGNMENT:
      return guestException(vcpu, exit);
    case EXIT.UNDEFINED_INSTRUCTION:
      // The hardware raises #UD / an unknown-reason exception in the guest
      // itself: its handler runs if it has one (a deliberate ud2 works).
      if (vcpu.cpu.guestException(exit)) return CONTINUE;
      return fail(
        ERR.NOT_SUPPORTED,
        "the guest executed an instruction that is undefined, or that zxsim's guest core does " +
          "not implement (string I/O, a system register it does not model), with no handler of " +
          "its own to take it",
      );
    case EXIT.HYPERCALL:
      return hypercall(vcpu);
    default:
      // EXIT.SYSCALL cannot happen in guest mode; anything else is an exit
      // Zircon does not handle.
      return fail(ERR.NOT_SUPPORTED, `the guest stopped with an unhandled exit (${exit})`);
  }
}

/** #PF, #GP, #DE, breakpoints, alignment: the guest's own handler, or a triple fault. */
function guestException(vcpu: Vcpu, exit: ExitReason): ExitOutcome {
  if (vcpu.cpu.guestException(exit)) return CONTINUE;
  return fail(
    ERR.NOT_SUPPORTED,
    "the guest took an exception with no handler of its own to deliver it to (no IDT / " +
      "VBAR_EL1 covering it): a triple fault",
  );
}

/** x64 in/out: an IO trap's packet (the guest's `in` is answered with ZX_VCPU_IO). */
function ioExit(vcpu: Vcpu): ExitOutcome {
  const io = vcpu.cpu.io;
  const trap = vcpu.guest.traps.findIo(io.port);
  if (!trap) {
    return fail(ERR.NOT_FOUND, `the guest accessed I/O port ${hex(io.port)}, which no trap covers`);
  }
  vcpu.cpu.completeIo();
  const fields: Record<string, unknown> = {
    port: io.port,
    access_size: io.size,
    input: io.input ? 1 : 0,
  };
  if (!io.input) fields.data = io.value >>> 0;
  return {
    kind: "packet",
    packet: guestPacket(trap.key, PKT_TYPE.GUEST_IO, PACKET_GUEST_IO, fields),
  };
}

/** An access the guest-physical space refused (an EPT violation / stage-2 abort). */
function physicalFault(vcpu: Vcpu, gpa: number, access: number): ExitOutcome {
  const guest = vcpu.guest;
  const trap = guest.traps.findMemory(gpa);
  if (trap?.kind === GUEST_TRAP.MEM) {
    const packet = guestPacket(trap.key, PKT_TYPE.GUEST_MEM);
    const status = vcpu.cpu.memTrap(gpa, packet.subarray(16));
    if (status !== ZX_OK) {
      return fail(status, `the access to MEM trap ${hex(gpa)} could not be decoded`);
    }
    return { kind: "packet", packet };
  }
  if (trap) return bell(vcpu, trap, gpa, access);
  if (gpa >= guest.physicalSize) {
    return fail(
      ERR.OUT_OF_RANGE,
      `the guest accessed ${hex(gpa)}, past its guest-physical space (${
        hex(guest.physicalSize)
      } bytes)`,
    );
  }
  const mapping = guest.physical.findMapping(gpa);
  if (!mapping) {
    return fail(
      ERR.NOT_FOUND,
      `the guest accessed guest-physical ${hex(gpa)}, where nothing is mapped and no trap is set`,
    );
  }
  // Mapped, but not with this access: Zircon faults the page in with the
  // mapping's own permissions and re-enters, and the guest faults again.
  if ((mapping.permsAt(gpa) & access) !== access) return REFAULT;
  return fail(ERR.NO_MEMORY, `guest-physical ${hex(gpa)} could not be committed`);
}

/** A BELL trap: a write becomes a packet on its port and the guest goes on. */
function bell(vcpu: Vcpu, trap: Trap, gpa: number, access: number): ExitOutcome {
  // Zircon steps past the access before it looks at it (x64 handle_trap,
  // arm64 handle_data_abort): a refused read does not repeat on the next enter.
  vcpu.cpu.skipInstruction();
  if (access !== ACCESS.WRITE) {
    return fail(
      ERR.NOT_SUPPORTED,
      `the guest read BELL trap address ${hex(gpa)}: only writes ring a bell (the guest ` +
        "goes on after the read on the next vcpu_enter)",
    );
  }
  return queueBell(
    trap,
    guestPacket(trap.key, PKT_TYPE.GUEST_BELL, PACKET_GUEST_BELL, { addr: gpa }),
  );
}

/** Trap::Queue: its packet goes on the port, or the VCPU waits for a free one. */
export function queueBell(trap: Trap, packet: Uint8Array): ExitOutcome {
  if (trap.outstanding >= MAX_PACKETS_PER_TRAP) return { kind: "bell_full", trap, packet };
  const status = trap.port!.queue(packet, () => trap.packetFreed(), trap);
  if (status !== ZX_OK) {
    return fail(ERR.BAD_STATE, "the BELL trap's port has been closed (its last handle is gone)");
  }
  trap.outstanding++;
  return CONTINUE;
}

/**
 * An exit the kernel answers for the guest (Hypercall): arm64 smc (PSCI)
 * and msr ICC_SGI1R_EL1; x64 vmcall and the rdmsr / wrmsr Zircon's exit
 * handlers take (x2APIC, IA32_APIC_BASE, ...).
 */
function hypercall(vcpu: Vcpu): ExitOutcome {
  const call = vcpu.cpu.hypercall();
  switch (call.kind) {
    case "continue":
      return CONTINUE;
    case "off":
      return fail(ERR.UNAVAILABLE, "the guest called PSCI SYSTEM_OFF");
    case "startup": {
      const startup = { id: BigInt.asUintN(64, call.id), entry: BigInt.asUintN(64, call.entry) };
      return {
        kind: "packet",
        packet: guestPacket(0n, PKT_TYPE.GUEST_VCPU, PACKET_GUEST_VCPU.startup, {
          type: PKT_GUEST_VCPU.STARTUP,
          startup,
        }),
      };
    }
    case "interrupt": {
      const interrupt = { mask: BigInt.asUintN(64, call.mask), vector: call.vector & 0xff };
      return {
        kind: "packet",
        packet: guestPacket(0n, PKT_TYPE.GUEST_VCPU, PACKET_GUEST_VCPU.interrupt, {
          type: PKT_GUEST_VCPU.INTERRUPT,
          interrupt,
        }),
      };
    }
    case "raise":
      vcpu.interrupt(call.vector);
      return CONTINUE;
    case "status":
      return fail(
        call.status,
        call.reason ??
          "the guest's PSCI call ends vcpu_enter with this status (Zircon's smc handler)",
      );
    default:
      return fail(
        ERR.NOT_SUPPORTED,
        call.reason ??
          "the guest made a hypercall the kernel does not know (hvc, or an smc other than #0)",
      );
  }
}
