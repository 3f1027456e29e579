// The arm64 guest CPU (arch/arm64/vcpu) on real machine code: the snippets
// in tests/fixtures/cpu-arm64-guest were made by GNU as (build.sh there).
// A guest runs over a flat guest-physical memory with the MMU off, as
// arm64.vcpu.createGuestCpu starts it; registers go in and out through
// zx_vcpu_state_t (readState / writeState), as the kernel moves them.

import assert from "node:assert/strict";
import { arm64 } from "../arch/arm64/arm64.ts";
import { Arm64Core } from "../arch/arm64/cpu/core.ts";
import type { Arm64GuestCpu } from "../arch/arm64/vcpu/guest_cpu.ts";
import { EL1_SYSREG, MIDR_EL1, SCTLR_EL1_RESET } from "../arch/arm64/vcpu/sysregs.ts";
import { ARM64_GUEST_MEM } from "../arch/arm64/vcpu/vcpu_state.ts";
import { EXIT } from "../arch/cpu.ts";
import type { GuestCpu } from "../arch/vcpu.ts";
import { ERR, ZX_OK } from "../kernel/status.ts";
import { ACCESS, FlatMemory } from "./flat_memory.ts";
import { cappedKernel, makeVm } from "./hypervisor_helpers.ts";

const DIR = new URL("./fixtures/cpu-arm64-guest/", import.meta.url);
const IMAGE = Deno.readFileSync(new URL("guest.bin", DIR));
const SYM = new Map<string, number>(
  Deno.readTextFileSync(new URL("guest.sym", DIR)).trim().split("\n").map((line) => {
    const [name, hex] = line.trim().split(/\s+/);
    return [name, parseInt(hex, 16)];
  }),
);

/** Guest-physical layout: RAM [0, 0x20000) with the image at LOAD; MMIO unmapped. */
const RAM = 0x20000;
const LOAD = 0x10000;
const MMIO = 0x40000;
const STATE = arm64.vcpu.stateLayout;
const SP_OFF = STATE.offsetOf("sp");
const CPSR_OFF = STATE.offsetOf("cpsr");

function at(label: string): number {
  const off = SYM.get(label);
  if (off === undefined) throw new Error(`no label ${label}`);
  return LOAD + off;
}

function newGuest(label: string, vpid = 1): { cpu: GuestCpu; el1: Arm64GuestCpu["el1"] } {
  const mem = new FlatMemory();
  mem.map(0, RAM, ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE);
  mem.load(LOAD, IMAGE);
  const cpu = arm64.vcpu.createGuestCpu(mem, BigInt(at(label)), vpid);
  return { cpu, el1: (cpu as Arm64GuestCpu).el1 };
}

interface State {
  x: bigint[];
  sp: bigint;
  cpsr: number;
  bytes: Uint8Array;
}

function read(cpu: GuestCpu): State {
  const bytes = new Uint8Array(STATE.size).fill(0xee);
  cpu.readState(bytes);
  const v = new DataView(bytes.buffer);
  const x = Array.from({ length: 31 }, (_, i) => v.getBigUint64(8 * i, true));
  return { x, sp: v.getBigUint64(SP_OFF, true), cpsr: v.getUint32(CPSR_OFF, true), bytes };
}

/** Sets some x registers (and sp / cpsr bits) through writeState. */
function write(cpu: GuestCpu, x: Record<number, bigint | number>, sp?: bigint, cpsr = 0): void {
  const s = read(cpu);
  const v = new DataView(s.bytes.buffer);
  for (const [i, value] of Object.entries(x)) v.setBigUint64(8 * Number(i), BigInt(value), true);
  if (sp !== undefined) v.setBigUint64(SP_OFF, sp, true);
  v.setUint32(CPSR_OFF, cpsr, true);
  cpu.writeState(s.bytes);
}

/** pc, read the way the kernel cannot: through the stored ELR the exception would save. */
function pcOf(cpu: GuestCpu): number {
  const core = (cpu as Arm64GuestCpu).core;
  return core.gpr[65] * 2 ** 32 + core.gpr[64];
}

const PATTERN = 0x1234_5678_9abc_d9f9n;

Deno.test("arm64 guest: VcpuArch facts and the initial state (EL1h, DAIF masked, registers 0)", () => {
  assert.equal(STATE.name, "zx_vcpu_state_t");
  assert.equal(STATE.size, 264);
  assert.equal(STATE.offsetOf("x[30]"), 240);
  assert.equal(SP_OFF, 248);
  assert.equal(CPSR_OFF, 256);
  assert.equal(arm64.vcpu.maxVcpus, 8);
  assert.equal(arm64.vcpu.vectors, 256);
  assert.equal(arm64.vcpu.ioTraps, false);
  assert.equal(arm64.vcpu.invalidInterrupt(25), false);
  const { cpu, el1 } = newGuest("sysregs");
  const s = read(cpu);
  assert.deepEqual(s.x, new Array(31).fill(0n));
  assert.equal(s.sp, 0n);
  assert.equal(s.cpsr, 0);
  assert.deepEqual([...s.bytes.subarray(260)], [0, 0, 0, 0]); // padding written as zeros
  assert.equal(cpu.interruptible(42), false); // DAIF masked
  assert.equal(pcOf(cpu), at("sysregs"));
  assert.equal(el1.get(EL1_SYSREG.SCTLR_EL1), BigInt(SCTLR_EL1_RESET));
  assert.equal(SCTLR_EL1_RESET & 1, 0); // MMU off
  assert.equal(el1.get(EL1_SYSREG.VBAR_EL1), 0n);
});

Deno.test("arm64 guest: msr / mrs of the EL1 registers, daifset / daifclr, no-op barriers and maintenance", () => {
  const { cpu, el1 } = newGuest("sysregs", 3);
  write(cpu, { 0: PATTERN });
  assert.equal(cpu.run(1000), EXIT.SW_BREAKPOINT);
  const x = read(cpu).x;
  assert.equal(x[1], PATTERN, "tpidr_el1");
  assert.equal(x[2], PATTERN, "elr_el1");
  assert.equal(x[3], PATTERN & 0xffff_ffffn, "sctlr_el1 keeps 32 bits (M set: MMU stays off)");
  assert.equal(x[4], 4n, "CurrentEL = EL1");
  assert.equal(x[5], 0x8000_0002n, "MPIDR_EL1 = (vpid - 1) | bit 31");
  assert.equal(x[6], 0x3c0n, "DAIF masked at start");
  assert.equal(x[7], 0x340n, "daifclr #2 unmasks I");
  assert.equal(x[8], 1023n, "ICC_IAR1_EL1 with nothing pending");
  assert.equal(x[9], 0xf9n, "ICC_PMR_EL1 has 8 bits");
  assert.equal(x[10], PATTERN, "ttbr0_el1");
  assert.equal(x[11], BigInt(MIDR_EL1));
  assert.equal(x[12], PATTERN & ~0x7ffn, "vbar_el1 bits 10..0 are RES0");
  assert.equal(x[13], PATTERN, "sp_el0");
  assert.equal(x[14], PATTERN, "mair_el1");
  assert.equal(x[15], PATTERN & 0xffff_ffffn, "spsr_el1 is 32 bits");
  assert.equal(x[16], 1_000_000_000n, "CNTFRQ_EL0");
  assert.equal(x[17], 0n, "OSLSR_EL1 reads as zero");
  assert.equal(el1.get(EL1_SYSREG.TCR_EL1), PATTERN);
  assert.equal(el1.get(EL1_SYSREG.TTBR1_EL1), PATTERN);
  assert.equal(cpu.interruptible(42), false); // daifset #0xf masked all again
  assert.equal(pcOf(cpu), at("sysregs") + 4 * 40);
});

Deno.test("arm64 guest: unknown and read-only system registers are UNDEFINED with pc at the instruction", () => {
  for (const label of ["unknown_mrs", "readonly_msr"]) {
    const { cpu } = newGuest(label);
    assert.equal(cpu.run(10), EXIT.UNDEFINED_INSTRUCTION, label);
    assert.equal(cpu.retired, 0);
    assert.equal(pcOf(cpu), at(label));
    // Without a vector table there is nowhere to deliver it.
    assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), false);
    assert.equal(pcOf(cpu), at(label));
  }
});

Deno.test("arm64 guest: daifclr + wfi halts; interrupt() runs the handler at VBAR_EL1 + 0x280, which reads ICC_IAR1_EL1 and erets", () => {
  const { cpu, el1 } = newGuest("irq_main");
  write(cpu, {}, 0n, 0x6000_0000); // Z and C set: SPSR_EL1 must carry them
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(pcOf(cpu), at("irq_wfi") + 4); // after the wfi
  assert.equal(cpu.interruptible(42), true);
  cpu.interrupt(42);
  assert.equal(pcOf(cpu), at("vectors") + 0x280);
  assert.equal(cpu.interruptible(42), false);
  assert.equal(el1.get(EL1_SYSREG.ELR_EL1), BigInt(at("irq_wfi") + 4));
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  const x = read(cpu).x;
  assert.equal(x[19], 42n, "INTID acknowledged");
  assert.equal(x[20], 42n, "back after the wfi");
  assert.equal(x[28], 1023n, "a second acknowledge finds nothing");
  assert.equal(x[24], 0x6000_0345n, "SPSR_EL1: NZCV, D A F (I clear), EL1h");
  assert.equal(x[25], BigInt(at("irq_wfi") + 4), "ELR_EL1");
  assert.equal(x[26], 0x3c0n, "DAIF masked in the handler");
  assert.equal(x[27], 0x340n, "eret restored DAIF");
  assert.equal(read(cpu).cpsr, 0x6000_0000);
  assert.equal(cpu.interruptible(42), true);
});

Deno.test("arm64 guest: a synchronous exception goes through VBAR_EL1 + 0x200; none without a vector table", () => {
  const { cpu } = newGuest("undef_main");
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(pcOf(cpu), at("undef_at"));
  assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
  assert.equal(pcOf(cpu), at("vectors") + 0x200);
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  const x = read(cpu).x;
  assert.equal(x[21], 0x0200_0000n, "ESR_EL1: EC 0 (unknown), IL");
  assert.equal(x[22], BigInt(at("undef_at")), "ELR_EL1 = the faulting instruction");
  assert.equal(x[24], 0x3c5n, "SPSR_EL1: DAIF masked, EL1h");

  // brk, page faults, pc alignment: their classes, FAR where the architecture sets it.
  const brk = newGuest("undef_main");
  brk.cpu.run(100);
  brk.cpu.skipInstruction(); // onto brk #9
  assert.equal(brk.cpu.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(brk.cpu.guestException(EXIT.SW_BREAKPOINT), true);
  brk.cpu.run(100);
  assert.equal(read(brk.cpu).x[21], 0xf200_0009n, "EC 0x3c, imm16 9");

  const pf = newGuest("mem_str_w");
  write(pf.cpu, { 0: MMIO + 0x10, 1: 7 });
  pf.el1.set(EL1_SYSREG.VBAR_EL1, at("vectors"), 0);
  assert.equal(pf.cpu.run(10), EXIT.PAGE_FAULT);
  assert.equal(pf.cpu.guestException(EXIT.PAGE_FAULT), true);
  pf.cpu.run(10);
  const p = read(pf.cpu).x;
  assert.equal(p[21], 0x9600_0044n, "EC 0x25 (same EL), WnR, DFSC translation");
  assert.equal(p[23], BigInt(MMIO + 0x10), "FAR_EL1");

  const none = newGuest("mem_str_w");
  write(none.cpu, { 0: MMIO });
  assert.equal(none.cpu.run(10), EXIT.PAGE_FAULT);
  assert.equal(none.cpu.guestException(EXIT.PAGE_FAULT), false);
  assert.equal(pcOf(none.cpu), at("mem_str_w"));
  assert.equal(none.cpu.guestException(EXIT.HALT), false); // not an exception at all
});

Deno.test("arm64 guest: svc is taken by the guest's own vector inside run()", () => {
  const { cpu } = newGuest("svc_main");
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  const x = read(cpu).x;
  assert.equal(x[21], 0x5600_0042n, "EC 0x15, imm16");
  assert.equal(x[22], BigInt(at("svc_main") + 12), "ELR_EL1 after the svc");
  // Without a vector table the kernel gets EXIT.SYSCALL.
  const bare = newGuest("svc_main");
  assert.equal(bare.cpu.run(2), EXIT.BUDGET);
  bare.el1.set(EL1_SYSREG.VBAR_EL1, 0, 0);
  assert.equal(bare.cpu.run(10), EXIT.SYSCALL);
  assert.equal(bare.cpu.guestException(EXIT.SYSCALL), false);
});

Deno.test("arm64 guest: eret to EL0 on SP_EL0; EL0 cannot touch EL1 registers; exceptions from EL0 use VBAR_EL1 + 0x400", () => {
  const { cpu } = newGuest("el0_main");
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(read(cpu).x[4], 0x8000n, "EL0 runs on SP_EL0");
  assert.equal(read(cpu).sp, 0x9000n, "zx_vcpu_state_t.sp is SP_EL1");
  assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  let x = read(cpu).x;
  assert.equal(x[21], 0x0200_0000n);
  assert.equal(x[22], BigInt(at("el0_code") + 8));
  assert.equal(x[24], 0n, "SPSR_EL1: EL0t, nothing masked");
  assert.equal(x[25], 0x9000n, "the handler runs on SP_EL1");

  const svc = newGuest("el0_main");
  write(svc.cpu, { 5: 1 });
  assert.equal(svc.cpu.run(100), EXIT.SW_BREAKPOINT);
  x = read(svc.cpu).x;
  assert.equal(x[21], 0x5600_0007n);
  assert.equal(pcOf(svc.cpu), at("vectors") + 0x400 + 20);
});

Deno.test("arm64 guest: msr spsel, #0 moves EL1 onto SP_EL0; the state's sp stays SP_EL1", () => {
  const { cpu } = newGuest("spsel_main");
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  const s = read(cpu);
  assert.equal(s.x[3], 0n);
  assert.equal(s.sp, 0x3000n);
  // A write of sp goes to SP_EL1 while EL1t runs on SP_EL0.
  write(cpu, {}, 0x5000n);
  assert.equal(read(cpu).sp, 0x5000n);
  assert.equal((cpu as Arm64GuestCpu).core.gpr[62], 0x4000);
});

/** Runs the load / store at `label` against MMIO and returns the trap's packet. */
function trap(label: string, x: Record<number, bigint | number> = {}) {
  const { cpu } = newGuest(label);
  write(cpu, { 0: MMIO + 0x20, ...x });
  assert.equal(cpu.run(1), EXIT.PAGE_FAULT, label);
  const fault = cpu.fault();
  assert.equal(fault.kind, "physical");
  const out = new Uint8Array(ARM64_GUEST_MEM.size).fill(0xaa);
  const status = cpu.memTrap(fault.kind === "physical" ? fault.gpa : -1, out);
  const v = new DataView(out.buffer);
  return {
    cpu,
    fault,
    status,
    out,
    packet: {
      addr: v.getBigUint64(0, true),
      access_size: out[8],
      sign_extend: out[9],
      xt: out[10],
      read: out[11],
      data: v.getBigUint64(16, true),
      reserved: v.getBigUint64(24, true),
    },
    pcMoved: pcOf(cpu) - at(label),
  };
}

Deno.test("arm64 guest: memTrap packets carry the data-abort syndrome and step past the instruction", () => {
  const base = { addr: BigInt(MMIO + 0x20), reserved: 0n };
  const cases: [string, Record<number, bigint | number>, object, number][] = [
    ["mem_str_w", { 1: 0x1_cafe_f00dn }, {
      access_size: 4,
      sign_extend: 0,
      xt: 1,
      read: 0,
      data: 0x1_cafe_f00dn,
    }, 0x20],
    ["mem_ldr_x8", {}, { access_size: 8, sign_extend: 0, xt: 2, read: 1, data: 0n }, 0x28],
    ["mem_ldrsh", {}, { access_size: 2, sign_extend: 1, xt: 3, read: 1, data: 0n }, 0x22],
    ["mem_ldrsh_w", {}, { access_size: 2, sign_extend: 1, xt: 3, read: 1, data: 0n }, 0x22],
    ["mem_ldrb", {}, { access_size: 1, sign_extend: 0, xt: 4, read: 1, data: 0n }, 0x21],
    ["mem_strb_zr", {}, { access_size: 1, sign_extend: 0, xt: 31, read: 0, data: 0n }, 0x20],
    ["mem_ldur", {}, { access_size: 8, sign_extend: 0, xt: 5, read: 1, data: 0n }, 0x18],
    ["mem_ldr_reg", { 1: 4 }, { access_size: 4, sign_extend: 0, xt: 6, read: 1, data: 0n }, 0x24],
    ["mem_ldrsw", {}, { access_size: 4, sign_extend: 1, xt: 7, read: 1, data: 0n }, 0x20],
    [
      "mem_strh",
      { 8: 0xbeefn },
      { access_size: 2, sign_extend: 0, xt: 8, read: 0, data: 0xbeefn },
      0x20,
    ],
    ["mem_ldar", {}, { access_size: 4, sign_extend: 0, xt: 9, read: 1, data: 0n }, 0x20],
    ["mem_stlr", { 10: 5 }, { access_size: 8, sign_extend: 0, xt: 10, read: 0, data: 5n }, 0x20],
  ];
  for (const [label, x, expected, offset] of cases) {
    const r = trap(label, x);
    assert.equal(r.status, ZX_OK, label);
    const gpa = MMIO + offset;
    assert.deepEqual(r.fault, {
      kind: "physical",
      gpa,
      access: r.packet.read ? ACCESS.READ : ACCESS.WRITE,
    });
    assert.deepEqual(r.packet, { ...base, addr: BigInt(gpa), ...expected }, label);
    assert.deepEqual([...r.out.subarray(12, 16)], [0, 0, 0, 0], "padding");
    assert.equal(r.pcMoved, 4, label);
  }
});

Deno.test("arm64 guest: no syndrome (ISV = 0) for pairs, writeback, SIMD, exclusives and atomics: IO_DATA_INTEGRITY", () => {
  for (const label of ["mem_ldp", "mem_post", "mem_pre", "mem_simd", "mem_ldxr", "mem_ldadd"]) {
    const r = trap(label);
    assert.equal(r.status, ERR.IO_DATA_INTEGRITY, label);
    assert.ok(r.out.every((b) => b === 0xaa), `${label}: packet untouched`);
    // Zircon's handler has already stepped past the instruction (next_pc before the ISV check).
    assert.equal(r.pcMoved, 4, label);
    assert.equal(read(r.cpu).x[0], BigInt(MMIO + 0x20), `${label}: no writeback`);
  }
});

Deno.test("arm64 guest: a trapped read is completed through zx_vcpu_state_t and the guest goes on", () => {
  const r = trap("mem_ldr_x8");
  write(r.cpu, { 2: 0x1122_3344_5566_7788n });
  assert.equal(r.cpu.run(1), EXIT.PAGE_FAULT); // the next instruction, ldrsh, traps too
  assert.equal(read(r.cpu).x[2], 0x1122_3344_5566_7788n);
  assert.equal(pcOf(r.cpu), at("mem_ldrsh"));
  r.cpu.skipInstruction();
  assert.equal(pcOf(r.cpu), at("mem_ldrsh") + 4);
});

Deno.test("arm64 guest: PSCI over smc #0 (Zircon's handler); other smc immediates and hvc", () => {
  const call = (label: string, x: Record<number, bigint | number>) => {
    const { cpu } = newGuest(label);
    write(cpu, x);
    assert.equal(cpu.run(10), EXIT.HYPERCALL, label);
    assert.equal(pcOf(cpu), at(label) + 4);
    return { cpu, result: cpu.hypercall(), x: () => read(cpu).x };
  };
  let c = call("smc0", { 0: 0x8400_0000 });
  assert.deepEqual(c.result, { kind: "continue" });
  assert.equal(c.x()[0], 2n, "PSCI_VERSION: 0.2");
  assert.equal(c.cpu.run(10), EXIT.SW_BREAKPOINT); // it goes on

  c = call("smc0", { 0: 0xc400_0003, 1: 1, 2: 0x1_0000_2000n });
  assert.deepEqual(c.result, { kind: "startup", id: 1n, entry: 0x1_0000_2000n });
  assert.equal(c.x()[0], 0n, "PSCI_SUCCESS");

  assert.deepEqual(call("smc0", { 0: 0x8400_0008 }).result, { kind: "off" });
  assert.deepEqual(call("smc0", { 0: 0x8400_0002 }).result, { kind: "status", status: ERR.STOP });
  assert.deepEqual(call("smc0", { 0: 0x8400_0009 }).result, {
    kind: "status",
    status: ERR.CANCELED,
  });

  // Unknown functions (the 32-bit CPU_ON id among them) answer NOT_SUPPORTED (-1).
  for (const fn of [0x8400_0003n, 0x8400_000an, 0x1_8400_0000n]) {
    c = call("smc0", { 0: fn });
    assert.deepEqual(c.result, { kind: "continue" });
    assert.equal(c.x()[0], 0xffff_ffff_ffff_ffffn);
  }
  c = call("smc1", { 0: 0x8400_0008 });
  assert.deepEqual(c.result, { kind: "continue" });
  assert.equal(c.x()[0], 0xffff_ffff_ffff_ffffn, "smc #1: unknown SMC function");

  c = call("hvc0", { 0: 0x8400_0008 });
  assert.deepEqual(c.result, { kind: "unsupported" });
  assert.equal(c.x()[0], 0x8400_0008n);
});

Deno.test("arm64 guest: zx_vcpu_state_t round trip, NZCV OR-ed in, writeIo INVALID_ARGS", () => {
  const { cpu } = newGuest("sysregs");
  const input = new Uint8Array(STATE.size);
  const v = new DataView(input.buffer);
  for (let i = 0; i < 31; i++) {
    v.setBigUint64(8 * i, 0x0101_0101_0000_0000n * BigInt(i + 1) + BigInt(i), true);
  }
  v.setBigUint64(SP_OFF, 0xffff_0000_1234_5670n, true);
  v.setUint32(CPSR_OFF, 0x4000_03c5, true); // Z plus bits a write cannot touch
  input.fill(0x77, 260); // padding ignored
  cpu.writeState(input);
  const s = read(cpu);
  const expected = input.slice();
  new DataView(expected.buffer).setUint32(CPSR_OFF, 0x4000_0000, true);
  expected.fill(0, 260);
  assert.deepEqual(s.bytes, expected);
  assert.equal(cpu.interruptible(42), false, "DAIF untouched by the write");

  // OR: N can be added, Z cannot be cleared.
  write(cpu, {}, undefined, 0x8000_0000);
  assert.equal(read(cpu).cpsr, 0xc000_0000);
  write(cpu, {}, undefined, 0);
  assert.equal(read(cpu).cpsr, 0xc000_0000);

  const io = new Uint8Array([1, 0, 0, 0, 0x41, 0, 0, 0]);
  assert.equal(cpu.writeIo(io), ERR.INVALID_ARGS);
  assert.equal(read(cpu).x[0], 0x0101_0101_0000_0000n, "x0 untouched");
  cpu.completeIo(); // nothing to complete on arm64
  assert.deepEqual(read(cpu).bytes.subarray(0, 248), expected.subarray(0, 248));
});

Deno.test("arm64 guest: the EL1 instructions stay UNDEFINED in user mode and in a bare guest-mode core", () => {
  const mem = new FlatMemory();
  mem.map(0, RAM, ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE);
  mem.load(LOAD, IMAGE);
  const word = (pc: number) => new DataView(IMAGE.buffer).getUint32(pc - LOAD, true);
  // msr tpidr_el1, msr daifclr, tlbi, ic iallu, eret, msr spsel, smc, mrs icc_iar1_el1.
  const pcs = [
    at("sysregs"),
    at("sysregs") + 0x24,
    at("sysregs_tlbi"),
    at("sysregs_tlbi") + 4,
    at("el0_main") + 0x24,
    at("spsel_main") + 8,
    at("smc0"),
    at("vectors") + 0x280,
  ];
  for (const mode of ["user", "guest"] as const) {
    for (const pc of pcs) {
      const regs = arm64.newRegisters();
      const core = arm64.createCore(regs, mem, mode) as Arm64Core;
      core.gpr[64] = pc;
      assert.equal(core.run(10), EXIT.UNDEFINED_INSTRUCTION, `${mode} ${pc.toString(16)}`);
      assert.equal(core.detail, word(pc));
      assert.equal(core.gpr[64], pc);
    }
  }
  // hvc keeps its meaning: UNDEFINED for a thread, HYPERCALL in guest mode.
  const user = arm64.createCore(arm64.newRegisters(), mem, "user") as Arm64Core;
  user.gpr[64] = at("hvc0");
  assert.equal(user.run(10), EXIT.UNDEFINED_INSTRUCTION);
  const bare = arm64.createCore(arm64.newRegisters(), mem, "guest") as Arm64Core;
  bare.gpr[64] = at("hvc0");
  assert.equal(bare.run(10), EXIT.HYPERCALL);
  assert.equal(bare.smc, false);
});

Deno.test("arm64 guest: ICC_PMR_EL1, ICC_IGRPEN1_EL1 and an un-ended interrupt hold IRQs back", () => {
  const { cpu } = newGuest("gic_main");
  const stop = (imm: number) => {
    assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
    assert.equal((cpu as Arm64GuestCpu).core.detail, imm);
  };
  stop(0x10);
  let x = read(cpu).x;
  assert.equal(x[1], 0xffn, "ICC_PMR_EL1 starts open (Zircon's default VMCR)");
  assert.equal(x[2], 1n, "group 1 starts enabled");
  assert.equal(cpu.interruptible(7), false, "PMR 0 masks every priority");
  cpu.skipInstruction();
  stop(0x11);
  assert.equal(cpu.interruptible(7), false, "group 1 disabled");
  cpu.skipInstruction();
  stop(0x12);
  assert.equal(cpu.interruptible(7), true);
  cpu.interrupt(7);
  stop(0x12); // the handler acknowledged, ended and returned to the brk
  assert.equal(read(cpu).x[19], 7n);
  assert.equal(cpu.interruptible(7), true);
  cpu.skipInstruction();
  stop(0x13);
  cpu.interrupt(7);
  assert.equal(pcOf(cpu), at("vectors") + 0x080, "from EL1t: the SP_EL0 quarter");
  stop(0x13);
  x = read(cpu).x;
  assert.equal(x[19], 7n);
  assert.equal(cpu.interruptible(7), false, "INTID 7 (priority 0) is active");
  assert.equal(cpu.interruptible(40), false, "and an SPI (priority 0x10) is lower still");
  cpu.skipInstruction();
  stop(0x14);
  assert.equal(cpu.interruptible(7), true, "EOI dropped the running priority");
});

Deno.test("arm64 guest: sp alignment follows SCTLR_EL1.SA (EL1) and SA0 (EL0), both clear at reset", () => {
  assert.equal(SCTLR_EL1_RESET & 0x18, 0, "SA and SA0 clear");
  const { cpu } = newGuest("spalign_main");
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  let x = read(cpu).x;
  assert.equal(x[3], 0x77n, "str / ldr at a misaligned sp");
  assert.equal(x[4], 0x77n, "the pair read what the writeback store wrote");
  assert.equal(read(cpu).sp, 0x3008n, "writebacks moved sp back");
  assert.equal(x[8], 0x77n, "ldxr");
  assert.equal(x[9], 0x77n, "SA0 alone does not check EL1");
  cpu.skipInstruction();
  // SA set: the next base use of sp is an SP alignment fault, taken by the guest.
  assert.equal(cpu.run(100), EXIT.GENERAL_PROTECTION);
  assert.equal(pcOf(cpu), at("spalign_fault"));
  assert.equal(cpu.guestException(EXIT.GENERAL_PROTECTION), true);
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  x = read(cpu).x;
  assert.equal(x[21], 0x9a00_0000n, "ESR_EL1: EC 0x26 (SP alignment), IL");
  assert.equal(x[22], BigInt(at("spalign_fault")));

  // EL0: unchecked while SA0 is clear, an exception to VBAR_EL1 + 0x400 once set.
  const free = newGuest("spalign_el0");
  write(free.cpu, { 7: 0 });
  assert.equal(free.cpu.run(100), EXIT.SW_BREAKPOINT);
  assert.equal((free.cpu as Arm64GuestCpu).core.detail, 0x21, "brk #0x21 at EL0");
  assert.equal(read(free.cpu).x[4], 0n);
  const checked = newGuest("spalign_el0");
  write(checked.cpu, { 7: 0x10 });
  assert.equal(checked.cpu.run(100), EXIT.GENERAL_PROTECTION);
  assert.equal(pcOf(checked.cpu), at("spalign_el0_code"));
  assert.equal(checked.cpu.guestException(EXIT.GENERAL_PROTECTION), true);
  assert.equal(checked.cpu.run(100), EXIT.SW_BREAKPOINT);
  x = read(checked.cpu).x;
  assert.equal(x[21], 0x9a00_0000n);
  assert.equal(x[22], BigInt(at("spalign_el0_code")));
  assert.equal(x[24], 0n, "SPSR_EL1: from EL0t");
  assert.equal(pcOf(checked.cpu), at("vectors") + 0x400 + 20);
});

Deno.test("arm64 guest: user threads and bare guest-mode cores keep the sp alignment check on every form", () => {
  const mem = new FlatMemory();
  mem.map(0, RAM, ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE);
  mem.load(LOAD, IMAGE);
  // str, ldr, str pre-index, ldp post-index, ld1, ldxr at sp = 0x3008.
  for (const mode of ["user", "guest"] as const) {
    for (let k = 0; k < 6; k++) {
      const pc = at("spalign_main") + 0x14 + 4 * k;
      const core = arm64.createCore(arm64.newRegisters(), mem, mode) as Arm64Core;
      core.gpr[64] = pc;
      core.gpr[62] = 0x3008;
      assert.equal(core.run(10), EXIT.GENERAL_PROTECTION, `${mode} +${4 * k}`);
      assert.equal(core.gpr[64], pc);
      assert.equal(core.retired, 0);
    }
  }
});

/** SCTLR_EL1 values: the reset one with M (MMU), C (data caches) or both. */
const SCTLR_M = SCTLR_EL1_RESET | 1, SCTLR_C = SCTLR_EL1_RESET | 4, SCTLR_MC = SCTLR_EL1_RESET | 5;
const TVM_HANDLED = ["SCTLR_EL1", "TCR_EL1", "TTBR0_EL1", "TTBR1_EL1", "MAIR_EL1"] as const;
const TVM_REFUSED = [
  "ESR_EL1",
  "FAR_EL1",
  "AFSR0_EL1",
  "AFSR1_EL1",
  "AMAIR_EL1",
  "CONTEXTIDR_EL1",
] as const;

Deno.test("arm64 guest: HCR_EL2.TVM: SCTLR/TCR/TTBR0/TTBR1/MAIR writes handled, the others NOT_SUPPORTED at the msr", () => {
  for (const sctlr of [SCTLR_EL1_RESET, SCTLR_M, SCTLR_C]) {
    const { cpu, el1 } = newGuest("tvm_writes");
    assert.equal(el1.tvm, true, "every VCPU starts with TVM");
    write(cpu, { 0: PATTERN, 1: sctlr });
    for (const [i, name] of TVM_REFUSED.entries()) {
      const before = el1.get(EL1_SYSREG[name]);
      assert.equal(cpu.run(100), EXIT.HYPERCALL, name);
      assert.equal(cpu.retired, i === 0 ? 6 : 1, "the trapped msr counts, as any exit's");
      const h = cpu.hypercall();
      assert.equal(h.kind, "unsupported", name);
      assert.match((h as { reason: string }).reason, new RegExp(name));
      assert.equal(pcOf(cpu), at("tvm_esr") + 4 * i, `${name}: pc at the msr`);
      assert.equal(el1.get(EL1_SYSREG[name]), before, `${name} unchanged`);
      // A second vcpu_enter meets the same msr again.
      assert.equal(cpu.run(100), EXIT.HYPERCALL);
      assert.equal(cpu.hypercall().kind, "unsupported");
      assert.equal(pcOf(cpu), at("tvm_esr") + 4 * i);
      cpu.skipInstruction(); // (the test's own way past it)
    }
    assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
    assert.equal(el1.tvm, true, `M and C not both set (${sctlr.toString(16)}): TVM stays`);
    assert.equal(el1.get(EL1_SYSREG.SCTLR_EL1), BigInt(sctlr));
    for (const name of TVM_HANDLED.slice(1)) {
      assert.equal(el1.get(EL1_SYSREG[name]), PATTERN, `${name} written by the handler`);
    }
    for (const name of TVM_REFUSED) assert.equal(el1.get(EL1_SYSREG[name]), 0n, name);
  }
});

Deno.test("arm64 guest: SCTLR_EL1 with M and C clears TVM; every write then goes straight to its register", () => {
  const { cpu, el1 } = newGuest("tvm_writes");
  write(cpu, { 0: PATTERN, 1: 0xffff_0000_0000_0000n | BigInt(SCTLR_MC) });
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(cpu.retired, 11);
  assert.equal(el1.tvm, false);
  assert.equal(el1.get(EL1_SYSREG.SCTLR_EL1), BigInt(SCTLR_MC), "the low 32 bits");
  for (const name of [...TVM_HANDLED.slice(1), ...TVM_REFUSED]) {
    const want = name === "ESR_EL1" ? PATTERN & 0xffff_ffffn : PATTERN;
    assert.equal(el1.get(EL1_SYSREG[name]), want, name);
  }
});

Deno.test("arm64 guest: a dc set/way operation with the MMU or caches off turns TVM back on", () => {
  // MMU off again (a plain write now), then dc isw: the next esr write traps.
  const off = newGuest("tvm_dc");
  write(off.cpu, { 0: 0x96n, 1: SCTLR_MC, 2: SCTLR_C });
  assert.equal(off.cpu.run(100), EXIT.HYPERCALL);
  assert.equal(off.cpu.hypercall().kind, "unsupported");
  assert.equal(pcOf(off.cpu), at("tvm_dc_esr"));
  assert.equal(off.el1.get(EL1_SYSREG.ESR_EL1), 0x96n, "the write before dc isw was direct");
  assert.equal(off.el1.tvm, true);
  // MMU and caches still on: dc isw leaves TVM off.
  const on = newGuest("tvm_dc");
  write(on.cpu, { 0: 0x96n, 1: SCTLR_MC, 2: SCTLR_MC });
  assert.equal(on.cpu.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(on.el1.tvm, false);
});

Deno.test("arm64 guest over HTTP: a TVM-trapped FAR_EL1 write fails vcpu_enter with NOT_SUPPORTED, every time; after M and C it is a plain write", async () => {
  const le32 = (...words: number[]) => new Uint8Array(Uint32Array.from(words).buffer);
  const k = await cappedKernel("arm64");
  // msr far_el1, x0; b .
  const trapped = await makeVm(k, le32(0xd5186000, 0x14000000));
  for (let i = 0; i < 2; i++) {
    const reply = await k.call("vcpu_enter", { handle: trapped.vcpu });
    assert.equal(reply.body.status, "ZX_ERR_NOT_SUPPORTED", JSON.stringify(reply.body));
    assert.equal(reply.http, 501);
    assert.match(String(reply.body.message), /FAR_EL1/);
  }
  await k.ok("handle_close", { handle: trapped.vcpu });
  // mov x0, #5; msr sctlr_el1, x0; mov x0, #0x1234; msr far_el1, x0; mrs x2, far_el1;
  // mov w0, #8; movk w0, #0x8400, lsl #16; smc #0 (PSCI SYSTEM_OFF)
  const direct = await makeVm(
    k,
    le32(
      0xd28000a0,
      0xd5181000,
      0xd2824680,
      0xd5186000,
      0xd5386002,
      0x52800100,
      0x72b08000,
      0xd4000003,
    ),
  );
  const off = await k.call("vcpu_enter", { handle: direct.vcpu });
  assert.equal(off.body.status, "ZX_ERR_UNAVAILABLE", JSON.stringify(off.body));
  const state = await k.ok("vcpu_read_state", { handle: direct.vcpu, kind: 0 });
  assert.equal(BigInt(state.regs.x[2]), 0x1234n);
});

Deno.test("arm64 guest: eret to EL0t restores NZCV and DAIF and runs on SP_EL0", () => {
  const { cpu } = newGuest("eret_main");
  write(cpu, { 1: 0xf000_0000 }); // NZCV set, DAIF clear, EL0t
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(pcOf(cpu), at("eret_target") + 4);
  assert.equal(read(cpu).x[5], 0x8000n, "SP_EL0");
  assert.equal(read(cpu).sp, 0x9000n, "SP_EL1 kept for the state");
  assert.equal(read(cpu).cpsr, 0xf000_0000);
  assert.equal(cpu.interruptible(40), true, "DAIF from SPSR_EL1");
});

Deno.test("arm64 guest: an illegal eret sets PSTATE.IL; the next instruction is an Illegal Execution state exception", () => {
  // EL2h, EL2t, EL3h, AArch32, and the reserved EL0 / EL1 encodings: EL1h and SP_EL1 stay.
  for (const mode of [0x9, 0x8, 0xd, 0xc, 0x10, 0x13, 0x14, 0x1, 0x2, 0x6, 0x7]) {
    const { cpu, el1 } = newGuest("eret_main");
    write(cpu, { 1: 0x6000_0000 | 0x3c0 | mode });
    assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION, `mode ${mode}`);
    assert.equal(cpu.retired, 10, "the eret completed (the tenth instruction)");
    assert.equal(pcOf(cpu), at("eret_target"), "pc = ELR_EL1");
    assert.equal(read(cpu).cpsr, 0x6000_0000, "NZCV from SPSR_EL1");
    assert.equal(read(cpu).sp, 0x9000n, "still EL1h on SP_EL1");
    // Without a handler it fails every time, pc unmoved.
    el1.set(EL1_SYSREG.VBAR_EL1, 0, 0);
    assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), false);
    assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
    assert.equal(cpu.retired, 0);
    assert.equal(pcOf(cpu), at("eret_target"));
    el1.set(EL1_SYSREG.VBAR_EL1, at("vectors"), 0);
    assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
    assert.equal(pcOf(cpu), at("vectors") + 0x200, "current EL, SP_ELx");
    assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
    const x = read(cpu).x;
    assert.equal(x[21], 0x3a00_0000n, "ESR_EL1: EC 0x0e, IL");
    assert.equal(x[22], BigInt(at("eret_target")), "ELR_EL1: the instruction that could not run");
    assert.equal(x[24], 0x6010_03c5n, "SPSR_EL1: NZCV, IL, DAIF, EL1h");
  }
});

Deno.test("arm64 guest: PSTATE.IL survives an interrupt and comes back with the handler's eret (SPSR_EL1.IL)", () => {
  const { cpu } = newGuest("eret_main");
  write(cpu, { 1: 0x10 }); // AArch32 user, DAIF clear: illegal
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(cpu.interruptible(40), true);
  cpu.interrupt(40); // the IRQ handler at + 0x280 saves SPSR_EL1, acknowledges, erets
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  let x = read(cpu).x;
  assert.equal(x[19], 40n);
  assert.equal(x[24], 0x10_0005n, "SPSR_EL1: IL, EL1h");
  assert.equal(x[26], 0x3c0n, "the handler runs with DAIF masked");
  assert.equal(pcOf(cpu), at("eret_target"), "IL again after the legal eret");
  assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
  assert.equal(cpu.run(100), EXIT.SW_BREAKPOINT);
  x = read(cpu).x;
  assert.equal(x[21], 0x3a00_0000n);
  // A legal eret to EL1h with SPSR.IL set faults the same way.
  const legal = newGuest("eret_main");
  write(legal.cpu, { 1: 0x10_03c5 });
  assert.equal(legal.cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(legal.cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
  assert.equal(legal.cpu.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(read(legal.cpu).x[21], 0x3a00_0000n);
});
