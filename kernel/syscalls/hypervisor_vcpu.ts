// zx_vcpu_create, zx_vcpu_enter (and its 2019 name zx_vcpu_resume),
// zx_vcpu_kick and zx_vcpu_interrupt: Zircon's checks in its order (2023
// lib/syscalls/hypervisor.cc and arch hypervisor vcpu.cc).

import { z } from "zod";
import { Guest } from "../guest.ts";
import { PORT_PACKET_SIZE, portPacketView } from "../port_packet.ts";
import { DEFAULT_RIGHTS, RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { enterVcpu, Vcpu } from "../vcpu.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { flags, handle, size, u64 } from "./params.ts";

const hex = (value: number | bigint) => `0x${value.toString(16)}`;

/** Every VCPU call but kick and interrupt: only the creating thread may make it. */
export function checkVcpuThread(caller: Caller, vcpu: Vcpu, call: string): void {
  if (caller.thread === vcpu.thread) return;
  throw new ZxError(
    ERR.BAD_STATE,
    `${call} must be called on the thread that created the VCPU (koid ${vcpu.thread.koid}); ` +
      `the caller is thread ${caller.thread.koid}`,
  );
}

export const vcpuCreate = defineSyscall({
  name: "vcpu_create",
  abis: ["zx"],
  summary: "Create a VCPU of a guest, bound to the calling thread",
  description: "Order: `options` not 0 (INVALID_ARGS), the guest handle (ZX_RIGHT_MANAGE_THREAD, " +
    "2023), `entry` at or past the guest-physical size (INVALID_ARGS), a VPID (the guest " +
    "already has its most VCPUs, x64 64, arm64 8: NO_RESOURCES), the calling thread already " +
    "has a VCPU (BAD_STATE: one per thread; it may create another once the first is " +
    "destroyed, i.e. its last handle closed). The VCPU is bound to the calling thread (the " +
    "token's): every VCPU call but vcpu_kick and vcpu_interrupt must come from it. It starts " +
    "as Zircon's setup leaves it: x64 64-bit long mode, paging on, CR3 = 0 (so page tables " +
    "must be at guest-physical 0 before the first enter), rip = entry, rflags 0x2, other " +
    "registers 0; arm64 EL1h, MMU off, DAIF masked, pc = entry. `out` gets " +
    "ZX_DEFAULT_VCPU_RIGHTS (0xD01F).",
  params: z.strictObject({
    guest: handle(),
    options: flags("options", "0").default(0),
    entry: u64("the guest-physical address of the first instruction"),
  }),
  outs: z.object({ out: handle() }),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "NO_RESOURCES",
    "BAD_STATE",
    "NO_MEMORY",
  ],
  example: (h) => ({ guest: h.guest, options: 0, entry: "0x4000" }),
  exampleThread: "new_thread",
  errorExample: (h) => ({ guest: h.guest, options: 0, entry: "0x4000" }),
  c: [
    { kind: "value", name: "guest", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "value", name: "entry", type: "u64" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { guest: guestHandle, options, entry }) {
    if (options !== 0) throw new ZxError(ERR.INVALID_ARGS, "options must be 0");
    const guest = caller.handles.lookupAs(guestHandle, Guest, RIGHT.MANAGE_THREAD);
    const thread = caller.thread;
    const kernel = caller.kernel;
    // Vcpu::Create's checks in this arch's order; the VPID is only looked
    // at here and taken once nothing else can fail: nothing to give back.
    for (const check of guest.arch.createOrder) {
      if (check === "vpid") guest.requireFreeVpid();
      else if (check === "entry" && entry >= BigInt(guest.physicalSize)) {
        throw new ZxError(
          ERR.INVALID_ARGS,
          `entry ${hex(entry)} is outside guest-physical memory (${hex(guest.physicalSize)} bytes)`,
        );
      } else if (check === "thread" && thread.vcpu !== null) {
        throw new ZxError(
          ERR.BAD_STATE,
          `the calling thread already has a VCPU (koid ${thread.vcpu.koid}): close it first`,
        );
      }
    }
    caller.handles.reserve(1);
    kernel.reserveObjects(1);
    const vpid = guest.allocVpid();
    const cpu = guest.arch.createGuestCpu(guest.physical, entry, vpid);
    const vcpu = kernel.objects.track(new Vcpu(kernel.nextKoid(), guest, thread, vpid, cpu));
    return { out: caller.handles.add(vcpu, DEFAULT_RIGHTS.vcpu).value };
  },
});

const enterDescription = (name: string) =>
  `Needs ZX_RIGHT_EXECUTE; must be called on the thread that created the VCPU (else ` +
  "BAD_STATE). Runs the guest until an exit the VMM must see, and returns it as a " +
  "zx_port_packet_t (zero-initialised, then filled): base64 in `packet`, named in `view` " +
  "(key, type, status and guest_io {port, access_size, input, data: the value an `out` " +
  "wrote}, guest_mem (x64: addr, cr3, rip, instruction_size, default_operand_size; arm64: " +
  "addr, access_size, sign_extend, xt, read, data) or guest_vcpu {type, startup: {id, " +
  "entry}}). Before every entry into the guest, including the first, a pending kick is " +
  "consumed and the call returns CANCELED (409). Handled inside the call, as in Zircon: hlt " +
  "/ wfi (the call waits, costing nothing, until vcpu_interrupt or a kick), BELL traps, the " +
  "guest's own exceptions (delivered through its IDT / VBAR_EL1). Errors from the guest: an " +
  "I/O port no trap covers NOT_FOUND; a guest-physical address past the guest's memory " +
  "OUT_OF_RANGE, an unmapped one inside it NOT_FOUND (GuestPhysicalAddressSpace::PageFault); " +
  "a reserved x64 vector pending NOT_SUPPORTED; an exception the guest has no handler for " +
  "(a triple fault; an undefined instruction goes to the guest's #UD / unknown-reason " +
  "handler when it has one), string I/O, a BELL read, an arm64 hvc, an x2APIC ICR write in " +
  "logical mode or an arm64 SGI with affinity bits NOT_SUPPORTED; arm64 PSCI (smc #0) " +
  "SYSTEM_OFF UNAVAILABLE, CPU_OFF STOP, SYSTEM_RESET CANCELED; an x64 write of " +
  "IA32_APIC_BASE other than the x2APIC base, of TSC_DEADLINE outside TSC-deadline mode or " +
  "of a reserved LVT timer mode INVALID_ARGS; an x64 instruction it cannot size at a MEM trap " +
  "INTERNAL; a closed BELL port BAD_STATE; an arm64 MEM access without syndrome " +
  "IO_DATA_INTEGRITY. IPIs (x64 ICR writes, arm64 ICC_SGI1R_EL1) and PSCI CPU_ON return " +
  "GUEST_VCPU packets (key 0). A page mapped without the access made (a " +
  "write to a read-only mapping) faults again and again as in Zircon: only a kick ends it. " +
  "Over HTTP the call long-polls; at the server's cap the VCPU is kicked and the call " +
  "returns CANCELED; a second request with the same thread token meanwhile is 409 (the " +
  "thread is busy). While in the call the thread reports ZX_THREAD_STATE_RUNNING (it runs " +
  "the guest); suspending it pauses the guest, which goes on when it resumes (a suspended " +
  "thread does not return from the call, even when kicked or at the cap, until resumed); " +
  "killing it, or deleting the kernel, ends the call with INTERNAL_INTR_KILLED. STOP, " +
  `INTERNAL and IO_DATA_INTEGRITY are HTTP 400, as any status without a row of its own. ${name}`;

/** vcpu_enter and vcpu_resume are one call (Vcpu::Enter). */
function enterImpl(caller: Caller, { handle }: { handle: number }) {
  const vcpu = caller.handles.lookupAs(handle, Vcpu, RIGHT.EXECUTE);
  checkVcpuThread(caller, vcpu, "vcpu_enter");
  const guestMem = vcpu.guest.arch.guestMemLayout;
  return enterVcpu(caller.kernel, vcpu, caller.maxBlockMs).then((packet) => ({
    packet,
    view: portPacketView(packet, guestMem),
  }));
}

const enterParams = z.strictObject({ handle: handle() });
const enterOuts = z.object({ packet: z.string(), view: z.record(z.string(), z.unknown()) });
const enterErrors = [
  "BAD_HANDLE",
  "WRONG_TYPE",
  "ACCESS_DENIED",
  "BAD_STATE",
  "CANCELED",
  "NOT_FOUND",
  "OUT_OF_RANGE",
  "NOT_SUPPORTED",
  "UNAVAILABLE",
  "STOP",
  "INVALID_ARGS",
  "IO_DATA_INTEGRITY",
  "INTERNAL",
  "INTERNAL_INTR_KILLED",
];
const enterC = [
  { kind: "value", name: "handle", type: "u32" },
  { kind: "out", name: "packet", size: PORT_PACKET_SIZE },
] as const;

export const vcpuEnter = defineSyscall({
  name: "vcpu_enter",
  abis: ["zx"],
  summary: "Run a VCPU until the guest exits to the VMM",
  description: enterDescription("vcpu_resume is the same call under its 2019 name."),
  params: enterParams,
  outs: enterOuts,
  errors: enterErrors,
  example: (h) => ({ handle: h.vcpu }),
  c: enterC,
  impl: enterImpl,
});

export const vcpuResume = defineSyscall({
  name: "vcpu_resume",
  abis: ["zx"],
  summary: "Run a VCPU until the guest exits to the VMM (2019 name of vcpu_enter)",
  description: enterDescription(
    "The 2019 name of vcpu_enter (syscall number 133 from code); same call, same rules.",
  ),
  params: enterParams,
  outs: enterOuts,
  errors: enterErrors,
  example: (h) => ({ handle: h.vcpu }),
  c: enterC,
  impl: enterImpl,
});

export const vcpuKick = defineSyscall({
  name: "vcpu_kick",
  abis: ["zx"],
  summary: "Make the current or next vcpu_enter of a VCPU return CANCELED",
  description: "Needs ZX_RIGHT_EXECUTE; any thread may call it. Sets a one-shot flag: the " +
    "vcpu_enter in flight returns ZX_ERR_CANCELED before its next entry into the guest (a " +
    "guest waiting in hlt / wfi stops waiting), or, if none is, the next one does at once. " +
    "Kicks do not accumulate. object_get_info ZX_INFO_VCPU shows ZX_INFO_VCPU_FLAG_KICKED " +
    "while the flag is set.",
  params: z.strictObject({ handle: handle() }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED"],
  example: (h) => ({ handle: h.vcpu }),
  c: [{ kind: "value", name: "handle", type: "u32" }],
  impl(caller, { handle }) {
    caller.handles.lookupAs(handle, Vcpu, RIGHT.EXECUTE).kick();
    return {};
  },
});

export const vcpuInterrupt = defineSyscall({
  name: "vcpu_interrupt",
  abis: ["zx"],
  summary: "Raise an interrupt on a VCPU",
  description: "Needs ZX_RIGHT_SIGNAL; any thread may call it, also after the VCPU's thread " +
    "has died. Marks `vector` pending; a guest waiting in hlt / wfi wakes. Before its next " +
    "entry the highest pending vector is delivered as the hardware would, if the guest " +
    "accepts interrupts (x64: IF set and an IDT loaded: through the IDT gate; arm64: PSTATE.I " +
    "clear: an IRQ to VBAR_EL1 + 0x280, the vector then read from ICC_IAR1_EL1); otherwise it " +
    "stays pending. A vector of 256 or more is OUT_OF_RANGE as the documentation says " +
    "(release Zircon kernels ignore it silently). On x64 a pending vector 21..31 (reserved " +
    "by Zircon) makes the next vcpu_enter fail with NOT_SUPPORTED.",
  params: z.strictObject({
    handle: handle(),
    vector: size(0xffff_ffff).describe("the interrupt vector (0..255)"),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "OUT_OF_RANGE"],
  example: (h) => ({ handle: h.vcpu, vector: 32 }),
  errorExample: (h) => ({ handle: h.vcpu, vector: 256 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "vector", type: "u32" },
  ],
  impl(caller, { handle, vector }) {
    const vcpu = caller.handles.lookupAs(handle, Vcpu, RIGHT.SIGNAL);
    if (vector >= vcpu.guest.arch.vectors) {
      throw new ZxError(
        ERR.OUT_OF_RANGE,
        `vector ${vector} is outside this arch's interrupt vectors (0..${
          vcpu.guest.arch.vectors - 1
        })`,
      );
    }
    vcpu.interrupt(vector);
    return {};
  },
});
