// IPIs and VCPU startup packets (ZX_PKT_TYPE_GUEST_VCPU), and the x2APIC
// MSRs, as Zircon's 2023 exit handlers make them, over HTTP on the real app.
// Guests: tests/fixtures/guest-ipi-x64/ipi.s, guest-ipi-arm64/sgi.s.
//
// Sources (facts only): gnoliyil/fuchsia zircon/kernel/arch/x86/hypervisor/
// vmexit.cc (handle_rdmsr, handle_wrmsr, handle_apic_rdmsr,
// handle_apic_wrmsr, ipi_target_mask, handle_ipi) and vmexit_priv.h
// (commit 2d425a62d388077667a9fb4be2358d57766337d9), guest.cc (the MSR
// bitmap), zircon/kernel/arch/arm64/hypervisor/vmexit.cc (ICC_SGI1R_EL1 in
// handle_system_instruction, SgiRegister; commit
// 5d758dcbc6b84007a7febf46be2dea2efca7b282) and vcpu.cc (vmpidr_of).
// Fuchsia's VcpuIpi test (src/virtualization/tests/hypervisor/arch/x64/
// arch_tests.cc, guest_code.S vcpu_ipi, INT_IPI_VECTOR 0x66 in
// arch/x64/constants.h) is ported as "VcpuIpi" with its masks, here in full
// 64 bits rather than the test's low 4.

import assert from "node:assert/strict";
import { createGuest } from "../client/guest.ts";
import type { KernelSession } from "../client/zxsim.ts";
import {
  enter,
  enterFails,
  type Exit,
  type GuestArch,
  guestProgram,
  ioOf,
  n,
  PKT,
} from "./guest_helpers.ts";
import { session } from "./program_helpers.ts";

const ALL = 0xffffffffffffffffn;
const TABLE = 0x20000;
const ARM64_EXIT = 0x9000000;

function program(arch: GuestArch) {
  return guestProgram(arch, arch === "x64" ? "ipi" : "sgi", `guest-ipi-${arch}`);
}

interface Machine {
  readonly k: KernelSession;
  readonly guest: number;
  readonly memory: number;
  readonly sym: Record<string, number>;
}

/** A guest with the IPI program loaded and its exit trap (x64 IO port 0x10, arm64 MEM). */
async function machine(arch: GuestArch): Promise<Machine> {
  const k = await session(arch);
  const { bytes, sym } = program(arch);
  const vm = await createGuest(k, { image: bytes });
  if (arch === "x64") {
    await k.zx.guest_set_trap({
      handle: vm.guest,
      kind: "ZX_GUEST_TRAP_IO",
      addr: 0x10,
      size: 1,
      port_handle: 0,
      key: 7,
    });
  } else {
    await k.zx.guest_set_trap({
      handle: vm.guest,
      kind: "ZX_GUEST_TRAP_MEM",
      addr: ARM64_EXIT,
      size: 0x1000,
      port_handle: 0,
      key: 7,
    });
  }
  return { k, guest: vm.guest, memory: vm.memory, sym };
}

async function vcpuAt(m: Machine, label: string, k: KernelSession = m.k): Promise<number> {
  const entry = m.sym[label];
  assert.notEqual(entry, undefined, label);
  const { out } = await k.zx.vcpu_create({ guest: m.guest, options: 0, entry });
  return out as number;
}

/**
 * A VCPU of vpid 2 (the second one made), on a thread of its own; the first
 * is made on the bootstrap thread unless `made` says it has one.
 */
async function secondVcpu(m: Machine, label: string, made = false) {
  if (!made) await vcpuAt(m, label); // vpid 1
  const { out: thread } = await m.k.zx.thread_create({
    process: m.k.handles!.process,
    name: "vcpu-2",
    options: 0,
  });
  const other = await m.k.asThread(thread as number);
  return { k: other, vcpu: await vcpuAt(m, label, other) };
}

/** The GUEST_VCPU INTERRUPT packet's {mask, vector}, from its bytes (checked against the view). */
function interruptOf(exit: Exit): { mask: bigint; vector: number } {
  assert.equal(exit.type, PKT.GUEST_VCPU, `GUEST_VCPU: ${JSON.stringify(exit.view)}`);
  assert.equal(exit.key, 0n);
  const data = new DataView(exit.bytes.buffer);
  assert.equal(data.getUint32(16, true), 0, "ZX_PKT_GUEST_VCPU_INTERRUPT");
  assert.equal(data.getUint32(12, true), 0, "packet status");
  const out = { mask: data.getBigUint64(24, true), vector: data.getUint8(32) };
  // The rest of the union and the reserved word are zero.
  assert.deepEqual([...exit.bytes.subarray(33, 48)], new Array(15).fill(0));
  assert.deepEqual([...exit.bytes.subarray(20, 24)], [0, 0, 0, 0]);
  const member = exit.member as { type: number; interrupt: { mask: string; vector: number } };
  assert.equal(member.type, 0);
  assert.equal(BigInt(member.interrupt.mask), out.mask, "the view's mask is the packet's");
  assert.equal(member.interrupt.vector, out.vector);
  return out;
}

function startupOf(exit: Exit): { id: bigint; entry: bigint } {
  assert.equal(exit.type, PKT.GUEST_VCPU, `GUEST_VCPU: ${JSON.stringify(exit.view)}`);
  assert.equal(exit.key, 0n);
  const data = new DataView(exit.bytes.buffer);
  assert.equal(data.getUint32(16, true), 1, "ZX_PKT_GUEST_VCPU_STARTUP");
  const out = { id: data.getBigUint64(24, true), entry: data.getBigUint64(32, true) };
  const member = exit.member as { startup: { id: string; entry: string } };
  assert.equal(BigInt(member.startup.id), out.id);
  assert.equal(BigInt(member.startup.entry), out.entry);
  return out;
}

async function exitsCleanly(k: KernelSession, vcpu: number, arch: GuestArch): Promise<void> {
  const exit = await enter(k, vcpu);
  if (arch === "x64") assert.equal(ioOf(exit).port, 0x10, JSON.stringify(exit.view));
  else {
    assert.equal(exit.type, PKT.GUEST_MEM, JSON.stringify(exit.view));
    assert.equal(n(exit.member.addr), ARM64_EXIT);
  }
}

/** `count` u64 pairs of the results table. */
async function table(m: Machine, count: number): Promise<[bigint, bigint][]> {
  const { buffer } = await m.k.zx.vmo_read({
    handle: m.memory,
    offset: TABLE,
    buffer_size: 16 * count,
  });
  const data = new DataView(Uint8Array.fromBase64(buffer as string).buffer);
  return Array.from(
    { length: count },
    (_, i) => [data.getBigUint64(16 * i, true), data.getBigUint64(16 * i + 8, true)],
  );
}

// Fuchsia's VcpuIpi: FIXED to each shorthand, CPU 2, broadcast, CPU 64, then
// NMI the same ways. Zircon's masks are computed with 32-bit shifts: "all
// excluding self" is ~(1u << self), a 32-bit value; an NMI's mask drops self
// with ~(1 << self) sign-extended.
const VCPU_IPI_VPID1: [bigint, number][] = [
  [ALL, 0x66], // all including self
  [0b1n, 0x66], // self
  [0xfffffffen, 0x66], // all excluding self
  [0b100n, 0x66], // CPU 2
  [ALL, 0x66], // broadcast
  [0n, 0x66], // CPU 64
  [0xfffffffffffffffen, 2], // NMI all including self
  [0n, 2], // NMI self
  [0xfffffffen, 2], // NMI all excluding self
  [0b100n, 2], // NMI CPU 2
];

Deno.test("VcpuIpi (x64): each ICR write is a GUEST_VCPU INTERRUPT packet with Zircon's mask", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "vcpu_ipi");
  // As Fuchsia's test: 3 more VCPUs, so the guest has 4 (they are not run).
  for (let i = 0; i < 3; i++) {
    const { out: thread } = await m.k.zx.thread_create({
      process: m.k.handles!.process,
      name: `vcpu-${i + 2}`,
      options: 0,
    });
    await vcpuAt(m, "vcpu_ipi", await m.k.asThread(thread as number));
  }
  for (const [mask, vector] of VCPU_IPI_VPID1) {
    const got = interruptOf(await enter(m.k, vcpu));
    assert.deepEqual(got, { mask, vector });
    assert.equal(got.mask & 0b1111n, mask & 0b1111n); // Fuchsia's own check
  }
  // Then the clean exit: each packet left rip after its wrmsr.
  await exitsCleanly(m.k, vcpu, "x64");
});

Deno.test("x64 IPIs from VCPU 1 (vpid 2): self is bit 1", async () => {
  const m = await machine("x64");
  const { k, vcpu } = await secondVcpu(m, "vcpu_ipi");
  const expected: [bigint, number][] = [
    [ALL, 0x66],
    [0b10n, 0x66],
    [0xfffffffdn, 0x66],
    [0b100n, 0x66],
    [ALL, 0x66],
    [0n, 0x66],
    [0xfffffffffffffffdn, 2],
    [0n, 2],
    [0xfffffffdn, 2],
    [0b100n, 2],
  ];
  for (const [mask, vector] of expected) {
    assert.deepEqual(interruptOf(await enter(k, vcpu)), { mask, vector });
  }
  await exitsCleanly(k, vcpu, "x64");
});

Deno.test("x64 IPIs: destination 33 is bit 1 (Zircon's 32-bit shift), past 63 none", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "ipi_more");
  assert.deepEqual(interruptOf(await enter(m.k, vcpu)), { mask: 0b10n, vector: 0x30 });
  assert.deepEqual(interruptOf(await enter(m.k, vcpu)), { mask: 0n, vector: 0xff });
  await exitsCleanly(m.k, vcpu, "x64");
});

Deno.test("x64 IPIs: INIT is ignored, STARTUP is {id = destination, entry = vector << 12}", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "startup");
  assert.deepEqual(startupOf(await enter(m.k, vcpu)), { id: 3n, entry: 0x9a000n });
  // The shorthand does not matter to STARTUP.
  assert.deepEqual(startupOf(await enter(m.k, vcpu)), { id: 5n, entry: 0x10000n });
  await exitsCleanly(m.k, vcpu, "x64");
});

Deno.test("x64 IPIs: logical destination mode, lowest priority and SMI are NOT_SUPPORTED, rip kept", async () => {
  const m = await machine("x64");
  for (const label of ["logical_init", "lowest_priority", "smi"]) {
    const { out: thread } = await m.k.zx.thread_create({
      process: m.k.handles!.process,
      name: label,
      options: 0,
    });
    const k = await m.k.asThread(thread as number);
    const vcpu = await vcpuAt(m, label, k);
    const error = await enterFails(k, vcpu);
    assert.equal(error.statusName, "ZX_ERR_NOT_SUPPORTED", label);
    assert.match(error.message, /IPI/);
    // rip stayed at the wrmsr: the next enter fails the same way.
    assert.equal((await enterFails(k, vcpu)).statusName, "ZX_ERR_NOT_SUPPORTED", label);
  }
});

Deno.test("x64 x2APIC reads: Zircon's values, rdx untouched; IA32_APIC_BASE and friends", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "apic_reads");
  await exitsCleanly(m.k, vcpu, "x64");
  const KEEP = 0x5a5an; // rdx as the guest set it
  assert.deepEqual(await table(m, 19), [
    [0n, KEEP], // ID: vpid - 1
    [0x60015n, KEEP], // version 0x15, max LVT 6
    [0n, KEEP], // TPR
    [0n, KEEP], // LDR
    [0xffn, KEEP], // SVR
    [0n, KEEP], // ISR
    [0n, KEEP], // TMR
    [0n, KEEP], // IRR
    [0n, KEEP], // ESR
    [0x10000n, KEEP], // LVT CMCI: masked
    [0x10000n, KEEP], // LVT timer: masked at reset
    [0x10000n, KEEP], // LVT thermal
    [0n, KEEP], // LVT monitor
    [0x10000n, KEEP], // LVT LINT0
    [0x10000n, KEEP], // LVT LINT1
    [0xfee00d00n, 0n], // IA32_APIC_BASE: x2APIC at 0xfee00000, BSP
    [1n, 0n], // IA32_MISC_ENABLE: fast strings
    [0n, 0n], // IA32_MTRRCAP
    [0n, 0n], // IA32_PLATFORM_ID
  ]);
  // The second VCPU: ID 1, no BSP bit.
  const { k, vcpu: second } = await secondVcpu(m, "apic_reads", true);
  await exitsCleanly(k, second, "x64");
  const rows = await table(m, 19);
  assert.deepEqual(rows[0], [1n, KEEP]);
  assert.deepEqual(rows[15], [0xfee00c00n, 0n]);
});

Deno.test("x64 x2APIC writes Zircon accepts; the LVT timer reads back", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "apic_writes");
  await exitsCleanly(m.k, vcpu, "x64");
  assert.deepEqual(await table(m, 3), [
    [0x20040n, 0x5a5an], // LVT timer as written (periodic, vector 0x40)
    [0x10n, 0n], // IA32_SYSENTER_CS
    [0x40040n, 0x5a5an], // TSC-deadline mode, after an accepted IA32_TSC_DEADLINE
  ]);
});

Deno.test("x64 MSR writes Zircon refuses end vcpu_enter with INVALID_ARGS, rip kept", async () => {
  const m = await machine("x64");
  for (const label of ["bad_apic_base", "bad_timer_mode", "bad_tsc_deadline"]) {
    const { out: thread } = await m.k.zx.thread_create({
      process: m.k.handles!.process,
      name: label,
      options: 0,
    });
    const k = await m.k.asThread(thread as number);
    const vcpu = await vcpuAt(m, label, k);
    assert.equal((await enterFails(k, vcpu)).statusName, "ZX_ERR_INVALID_ARGS", label);
    assert.equal((await enterFails(k, vcpu)).statusName, "ZX_ERR_INVALID_ARGS", label);
  }
});

Deno.test("x64 #GP Zircon injects for MSR accesses it refuses: error code 0, rip at the instruction", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "gp");
  await exitsCleanly(m.k, vcpu, "x64");
  const at = (label: string) => BigInt(m.sym[label]); // the rdmsr / wrmsr itself
  const expected = [
    "gp_icr_read",
    "gp_eoi_read",
    "gp_lvt_error_read",
    "gp_count_read",
    "gp_id_write",
    "gp_eoi_write",
    "gp_tpr_high",
    "gp_self_ipi_high",
    "gp_unknown_read",
    "gp_misc_enable_write",
    "gp_cstar_read",
    "gp_tsc_deadline_read",
  ].map((label): [bigint, bigint] => [0n, at(label)]);
  // mov to CR0 with NW and not CD: Zircon queues the #GP and still steps over the mov.
  expected.push([0n, BigInt(m.sym.gp_cr0_after)]);
  assert.deepEqual(await table(m, expected.length), expected);
});

Deno.test("x64 self IPI: the vector is raised on the VCPU itself (no packet)", async () => {
  const m = await machine("x64");
  const vcpu = await vcpuAt(m, "self_ipi");
  await exitsCleanly(m.k, vcpu, "x64");
  assert.deepEqual(await table(m, 1), [[0x41n, BigInt(m.sym.self_ipi_after)]]);
});

Deno.test("arm64 SGIs: ICC_SGI1R_EL1 writes are GUEST_VCPU INTERRUPT packets", async () => {
  const m = await machine("arm64");
  const vcpu = await vcpuAt(m, "sgi");
  assert.deepEqual(interruptOf(await enter(m.k, vcpu)), { mask: 0xfn, vector: 1 });
  // Zircon keeps the target list in a uint8_t: target 8 is lost.
  assert.deepEqual(interruptOf(await enter(m.k, vcpu)), { mask: 0xffn, vector: 15 });
  // IRM: every VCPU but this one (vpid 1: bit 0), over 64 bits.
  assert.deepEqual(interruptOf(await enter(m.k, vcpu)), { mask: 0xfffffffffffffffen, vector: 3 });
  assert.deepEqual(interruptOf(await enter(m.k, vcpu)), { mask: 0n, vector: 0 });
  await exitsCleanly(m.k, vcpu, "arm64");

  const { k, vcpu: second } = await secondVcpu(m, "sgi_irm", true);
  assert.deepEqual(interruptOf(await enter(k, second)), { mask: 0xfffffffffffffffdn, vector: 7 });
  await exitsCleanly(k, second, "arm64");
});

Deno.test("arm64 SGIs outside affinity 0.0.0 (Aff1, RS) are NOT_SUPPORTED, pc kept", async () => {
  const m = await machine("arm64");
  for (const label of ["sgi_aff1", "sgi_rs"]) {
    const { out: thread } = await m.k.zx.thread_create({
      process: m.k.handles!.process,
      name: label,
      options: 0,
    });
    const k = await m.k.asThread(thread as number);
    const vcpu = await vcpuAt(m, label, k);
    assert.equal((await enterFails(k, vcpu)).statusName, "ZX_ERR_NOT_SUPPORTED", label);
    assert.equal((await enterFails(k, vcpu)).statusName, "ZX_ERR_NOT_SUPPORTED", label);
  }
});
