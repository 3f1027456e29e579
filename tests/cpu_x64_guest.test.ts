// The x64 guest CPU (arch/x64/vcpu/): real assembled guest snippets
// (tests/fixtures/cpu-x64-guest/guest.s) run on x64.vcpu.createGuestCpu over
// a flat guest-physical memory with identity page tables built here.

import assert from "node:assert/strict";
import { ACCESS, EXIT, PAGE_SIZE } from "../arch/cpu.ts";
import type { GuestCpu } from "../arch/vcpu.ts";
import { x64, X64Registers } from "../arch/x64/x64.ts";
import { X64Core } from "../arch/x64/cpu/core.ts";
import { GuestSpace } from "../arch/x64/vcpu/paging.ts";
import { GuestState } from "../arch/x64/cpu/guest_state.ts";
import { ERR, ZX_OK } from "../kernel/status.ts";
import { FlatMemory } from "./flat_memory.ts";

const RWX = ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE;
/** Where guest.bin goes, the IDT the tests fill, the stack top, the MMIO address. */
const CODE = 0x100000, IDT = 0x10000, STACK = 0x80000, MMIO = 0x30000000;
/** Page tables: PML4 @0, PDPT @0x1000, PD @0x2000, a PT for 2-4 MiB @0x3000. */
const PML4 = 0x0, PDPT = 0x1000, PD = 0x2000, PT = 0x3000;
const P_RW = 0x3, PS = 0x80;

const dir = new URL("./fixtures/cpu-x64-guest/", import.meta.url);
const BIN = Deno.readFileSync(new URL("guest.bin", dir));
const SYM = new Map<string, number>();
for (const line of Deno.readTextFileSync(new URL("guest.sym", dir)).split("\n")) {
  const [label, hex] = line.split(" ");
  if (label) SYM.set(label, parseInt(hex, 16));
}
function at(label: string): number {
  const off = SYM.get(label);
  assert.notEqual(off, undefined, label);
  return CODE + off!;
}

const STATE = x64.vcpu.stateLayout;
const NAMES = STATE.fields.map((f) => f.path);

function setU64(mem: FlatMemory, addr: number, v: number | bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  mem.load(addr, b);
}

/** 4 MiB of guest-physical memory, identity-mapped (2 MiB page, then 4 KiB pages), guest.bin at CODE. */
function machine(): FlatMemory {
  const mem = new FlatMemory();
  mem.map(0, 4 << 20, RWX);
  setU64(mem, PML4, PDPT | P_RW);
  setU64(mem, PDPT, PD | P_RW);
  setU64(mem, PD, 0 | P_RW | PS);
  setU64(mem, PD + 8, PT | P_RW);
  for (let i = 0; i < 512; i++) setU64(mem, PT + 8 * i, (0x200000 + i * PAGE_SIZE) | P_RW);
  // linear MMIO (a 2 MiB page) -> guest-physical MMIO, where nothing is mapped.
  setU64(mem, PD + 8 * (MMIO / (2 << 20)), MMIO | P_RW | PS);
  mem.load(CODE, BIN);
  return mem;
}

/** An interrupt gate (type 0xE) or trap gate (0xF) for `vector` to `handler`. */
function gate(
  mem: FlatMemory,
  vector: number,
  handler: number,
  type = 0xe,
  present = true,
  idt = IDT,
): void {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, handler & 0xffff, true);
  v.setUint16(2, 0x08, true);
  v.setUint8(5, (present ? 0x80 : 0) | type);
  v.setUint16(6, handler >>> 16, true);
  mem.load(idt + 16 * vector, b);
}

/** The registers as named numbers (all fit: the tests keep them small). */
function regs(cpu: GuestCpu): Record<string, number> {
  const out = new Uint8Array(STATE.size);
  cpu.readState(out);
  const v = new DataView(out.buffer);
  return Object.fromEntries(NAMES.map((n) => [n, Number(v.getBigUint64(STATE.offsetOf(n), true))]));
}

/** rax, all 64 bits. */
function rax(cpu: GuestCpu): bigint {
  const out = new Uint8Array(STATE.size);
  cpu.readState(out);
  return new DataView(out.buffer).getBigUint64(STATE.offsetOf("rax"), true);
}

function setRegs(cpu: GuestCpu, values: Record<string, number | bigint>): void {
  const buf = new Uint8Array(STATE.size);
  cpu.readState(buf);
  const v = new DataView(buf.buffer);
  for (const [n, x] of Object.entries(values)) {
    v.setBigUint64(STATE.offsetOf(n), BigInt(x), true);
  }
  cpu.writeState(buf);
}

/** A VCPU at `label` with rsp = STACK. */
function start(label: string, mem = machine()): { cpu: GuestCpu; mem: FlatMemory } {
  const cpu = x64.vcpu.createGuestCpu(mem, BigInt(at(label)), 1);
  setRegs(cpu, { rsp: STACK });
  return { cpu, mem };
}

Deno.test("x64 vcpu arch: constants", () => {
  const a = x64.vcpu;
  assert.equal(a.stateLayout.name, "zx_vcpu_state_t");
  assert.equal(a.stateLayout.size, 136);
  assert.deepEqual(NAMES, [
    "rax",
    "rcx",
    "rdx",
    "rbx",
    "rsp",
    "rbp",
    "rsi",
    "rdi",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "rflags",
  ]);
  assert.equal(a.maxVcpus, 64);
  assert.equal(a.vectors, 256);
  assert.equal(a.ioTraps, true);
  assert.deepEqual(
    [20, 21, 31, 32, 0, 255].map((v) => a.invalidInterrupt(v)),
    [false, true, true, false, false, false],
  );
});

Deno.test("x64 guest: starting state (Zircon's vmcs_init)", () => {
  const { cpu, mem } = start("system_state");
  const r0 = regs(cpu);
  assert.equal(r0.rflags, 0); // 0x2 & X86_FLAGS_USER
  assert.equal(r0.rax, 0);
  assert.equal(cpu.run(100), EXIT.HALT);
  const r = regs(cpu);
  assert.equal(r.r8, 0xd01); // EFER: SCE | LME | LMA | NXE
  assert.equal(r.rax, 0x80010011); // CR0 as read: PE | ET | WP | PG (2023)
  assert.equal(r.rbx, 0x20); // CR4: PAE
  assert.equal(r.rcx, 0); // CR3
  const idtr = new DataView(mem.read(0x20000, 10).buffer);
  assert.equal(idtr.getUint16(0, true), 0xffff);
  assert.equal(idtr.getBigUint64(2, true), 0n);
  const gdtr = new DataView(mem.read(0x20010, 10).buffer);
  assert.equal(gdtr.getUint16(0, true), 0xffff);
  assert.equal(cpu.interruptible(0x30), false); // IF clear
});

Deno.test("x64 guest: readState / writeState rules", () => {
  const { cpu } = start("sti_hlt");
  const buf = new Uint8Array(136);
  for (let i = 0; i < 128; i++) buf[i] = (i * 7 + 1) & 0xff;
  const v = new DataView(buf.buffer);
  // bit 1 clear: rflags ignored (CF would have been set).
  v.setBigUint64(128, 0x1n, true);
  cpu.writeState(buf);
  const back = new Uint8Array(136);
  cpu.readState(back);
  assert.deepEqual(back.subarray(0, 128), buf.subarray(0, 128)); // every GPR incl. rsp
  assert.equal(new DataView(back.buffer).getBigUint64(128, true), 0n);
  // bit 1 set: only the user bits (CF, TF, DF, AC, ...) change; IF (0x200) and bit 63 do not.
  v.setBigUint64(128, 0x8000_0000_0024_0ed7n, true);
  cpu.writeState(buf);
  cpu.readState(back);
  assert.equal(new DataView(back.buffer).getBigUint64(128, true), 0x240cd5n & 0x244dd5n);
  assert.equal(cpu.interruptible(0x30), false); // IF was not written
  // Round trip: writing what was read changes nothing.
  const again = new Uint8Array(136);
  cpu.writeState(back);
  cpu.readState(again);
  assert.deepEqual(again, back);
});

Deno.test("x64 guest: writeIo sizes", () => {
  const { cpu } = start("sti_hlt");
  setRegs(cpu, { rax: 0x1122334455667788n });
  const io = (size: number, data: number) => {
    const b = new Uint8Array(8);
    b[0] = size;
    new DataView(b.buffer).setUint32(4, data, true);
    return b;
  };
  for (const bad of [0, 3, 5, 255]) {
    assert.equal(cpu.writeIo(io(bad, 0xaabbccdd)), ERR.INVALID_ARGS);
    assert.equal(rax(cpu), 0x1122334455667788n);
  }
  assert.equal(cpu.writeIo(io(1, 0xaabbccdd)), ZX_OK);
  assert.equal(rax(cpu), 0x11223344556677ddn);
  assert.equal(cpu.writeIo(io(2, 0xaabbccdd)), ZX_OK);
  assert.equal(rax(cpu), 0x112233445566ccddn);
  assert.equal(cpu.writeIo(io(4, 0xaabbccdd)), ZX_OK);
  assert.equal(rax(cpu), 0x11223344aabbccddn); // no zero-extension
});

Deno.test("x64 guest: tables and frames at or above 2 GiB guest-physical (no sign from bit 31)", () => {
  const mem = machine();
  const s = new GuestState();
  const space = new GuestSpace(mem, s);
  const HIGH = 0x8400_0000; // bit 31 set
  mem.map(HIGH, 0x4000, RWX);
  mem.map(HIGH + 0x20_0000, PAGE_SIZE, RWX);
  // (+, not |: a JS | on these would make them negative int32s.)
  setU64(mem, HIGH, HIGH + 0x1000 + P_RW); // PML4[0] -> PDPT
  setU64(mem, HIGH + 0x1000, HIGH + 0x2000 + P_RW); // PDPT[0] -> PD
  setU64(mem, HIGH + 0x2000 + 8, HIGH + 0x20_0000 + P_RW + PS); // PD[1]: 2 MiB at HIGH + 2 MiB
  s.cr3Lo = HIGH;
  space.flushAll();
  assert.equal(space.page(0x20_0010, ACCESS.READ), mem.page(HIGH + 0x20_0000, ACCESS.READ));
  // A table entry pointing past memory: the physical fault names the real address.
  setU64(mem, HIGH + 0x2000 + 16, 0x9000_0000 + P_RW);
  assert.equal(space.page(0x40_0000, ACCESS.READ), null);
  assert.deepEqual(space.last?.fault, { kind: "physical", gpa: 0x9000_0000, access: ACCESS.READ });
});

Deno.test("x64 guest: page walk through 4 KiB, 2 MiB and 1 GiB pages", () => {
  const mem = machine();
  const s = new GuestState();
  const space = new GuestSpace(mem, s);
  // 2 MiB page: linear CODE -> physical CODE.
  assert.equal(space.page(CODE + 5, ACCESS.READ), mem.page(CODE, ACCESS.READ));
  // 4 KiB page: remap linear 0x205000 to physical 0x300000.
  setU64(mem, PT + 8 * 5, 0x300000 | P_RW);
  assert.equal(space.page(0x205123, ACCESS.WRITE), mem.page(0x300000, ACCESS.READ));
  assert.equal(space.page(0x206000, ACCESS.READ), mem.page(0x206000, ACCESS.READ));
  // 1 GiB page: linear 1 GiB + x -> physical x.
  setU64(mem, PDPT + 8, 0 | P_RW | PS);
  assert.equal(space.page(0x40000000 + CODE + 0x10, ACCESS.EXECUTE), mem.page(CODE, ACCESS.READ));
  // Not present (PML4 entry 1): a guest #PF, error code 0 (read) / 2 (write).
  assert.equal(space.page(0x8000000000, ACCESS.READ), null);
  assert.deepEqual(space.last?.fault, { kind: "guest" });
  assert.equal(space.last?.errorCode, 0);
  assert.equal(space.page(0x8000000000 + 0x1234, ACCESS.WRITE), null);
  assert.equal(space.last?.errorCode, 2);
  assert.equal(space.last?.va, 0x8000001234);
  // A page-table entry pointing where nothing is mapped: a physical fault on the table.
  setU64(mem, PDPT + 16, 0x10000000 | P_RW);
  assert.equal(space.page(0x80000000, ACCESS.READ), null);
  assert.deepEqual(space.last?.fault, { kind: "physical", gpa: 0x10000000, access: ACCESS.READ });
  // Mapped by the tables, not in guest-physical memory: a physical fault on the data.
  assert.equal(space.page(MMIO + 8, ACCESS.WRITE), null);
  assert.deepEqual(space.last?.fault, { kind: "physical", gpa: MMIO + 8, access: ACCESS.WRITE });
  // Read-only page: supervisor writes go through unless CR0.WP (on at start, as
  // in Zircon's 2023 VMCS); NX only with EFER.NXE.
  setU64(mem, PT + 8 * 7, 0x8000_0000_0020_7001n); // P, NX, read-only
  s.cr0 &= ~0x10000; // WP off
  space.flushAll();
  assert.notEqual(space.page(0x207000, ACCESS.WRITE), null);
  assert.equal(space.page(0x207000, ACCESS.EXECUTE), null);
  assert.equal(space.last?.errorCode, 0x11); // present, instruction fetch
  s.cr0 |= 0x10000; // WP
  space.flushAll();
  assert.equal(space.page(0x207000, ACCESS.WRITE), null);
  assert.equal(space.last?.errorCode, 0x3);
  s.efer &= ~0x800; // NXE off: the NX bit is ignored
  space.flushAll();
  assert.notEqual(space.page(0x207000, ACCESS.EXECUTE), null);
});

Deno.test("x64 guest: a stale translation survives a PTE write until invlpg / a CR3 reload", () => {
  const { cpu, mem } = start("stale");
  const LINEAR = 0x208000, A = 0x208000, B = 0x309000;
  mem.load(A, Uint8Array.of(0xaa, 0, 0, 0));
  mem.load(B, Uint8Array.of(0xbb, 0, 0, 0));
  setRegs(cpu, {
    rsi: LINEAR,
    rdi: PT + 8 * 8,
    rdx: B | P_RW,
    r8: A | P_RW,
  });
  assert.equal(cpu.run(100), EXIT.HALT);
  const r = regs(cpu);
  assert.equal(r.rax, 0xaa);
  assert.equal(r.rbx, 0xaa); // PTE now says B; the old translation is still used
  assert.equal(r.rcx, 0xbb); // after invlpg
  assert.equal(r.r9, 0xbb); // PTE back to A, still the cached B
  assert.equal(r.r10, 0xaa); // after mov cr3
});

Deno.test("x64 guest: invlpg anywhere in a 2 MiB / 1 GiB page drops its translation", () => {
  // Intel SDM vol. 3 4.10.4.1: invlpg invalidates the whole large page that
  // holds the address, though the walks here are cached per 4 KiB page.
  const PD2 = 0x4000;
  const cases = [
    // linear 4 MiB + x: a 2 MiB page at physical 2 MiB, then at 0.
    {
      entry: PD + 8 * 2,
      old: 0x200000 | P_RW | PS,
      now: 0 | P_RW | PS,
      va: 0x450000,
      inv: 0x5ff000,
    },
    // linear 1 GiB + x: a 1 GiB page at 0, then a PD whose entry 1 maps 2 MiB + x to x.
    { entry: PDPT + 8, old: 0 | P_RW | PS, now: PD2 | P_RW, va: 0x40250000, inv: 0x70000000 },
  ];
  for (const c of cases) {
    const { cpu, mem } = start("stale_large");
    setU64(mem, PD2 + 8, 0 | P_RW | PS);
    setU64(mem, c.entry, c.old);
    mem.load(0x250000, Uint8Array.of(0xaa));
    mem.load(0x050000, Uint8Array.of(0xbb));
    setRegs(cpu, { rsi: c.va, rdi: c.entry, rdx: c.now, rbp: c.inv });
    assert.equal(cpu.run(100), EXIT.HALT);
    const r = regs(cpu);
    assert.equal(r.rax, 0xaa);
    assert.equal(r.rbx, 0xaa, "the entry changed, the cached walk is still used");
    assert.equal(r.rcx, 0xbb, "invlpg of another 4 KiB page of the same large page");
  }
});

Deno.test("x64 guest: lidt, sti; hlt, an interrupt runs the handler and iretq returns", () => {
  const { cpu, mem } = start("sti_hlt");
  gate(mem, 0x30, at("irq_handler"));
  // Two instructions: lidt, sti. sti's shadow: no interrupt yet.
  assert.equal(cpu.run(2), EXIT.BUDGET);
  assert.equal(cpu.interruptible(0x30), false);
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(cpu.interruptible(0x30), true);
  cpu.interrupt(0x30);
  assert.equal(cpu.interruptible(0x30), false); // the interrupt gate cleared IF
  // The frame: RIP after hlt, CS 0, RFLAGS with IF, RSP, SS.
  const frame = new DataView(mem.read(STACK - 40, 40).buffer);
  assert.equal(frame.getBigUint64(0, true), BigInt(at("after_hlt")));
  assert.equal(frame.getBigUint64(8, true), 0n);
  assert.equal(frame.getBigUint64(16, true) & 0x202n, 0x202n);
  assert.equal(frame.getBigUint64(24, true), BigInt(STACK));
  assert.equal(regs(cpu).rsp, STACK - 40);
  assert.equal(cpu.run(100), EXIT.HALT);
  const r = regs(cpu);
  assert.equal(r.rbx, 0x42);
  assert.equal(r.r15, 1);
  assert.equal(r.rsp, STACK);
  assert.equal(cpu.interruptible(0x30), true); // iretq restored IF
});

Deno.test("x64 guest: exceptions and the NMI ignore IF; an NMI in service holds the next until iretq", () => {
  const { cpu, mem } = start("sti_hlt");
  gate(mem, 2, at("irq_handler"));
  // Nothing ran yet: IF is clear, so only external vectors (32 and up) wait.
  assert.equal(cpu.interruptible(0x30), false);
  assert.equal(cpu.interruptible(6), true, "an exception vector is not masked by IF");
  assert.equal(cpu.interruptible(2), true, "nor is the NMI");
  assert.equal(cpu.run(100), EXIT.HALT); // lidt; sti; hlt
  cpu.interrupt(2);
  assert.equal(cpu.interruptible(2), false, "an NMI is in service");
  assert.equal(cpu.interruptible(6), true);
  assert.equal(cpu.run(100), EXIT.HALT); // the handler, iretq, then the second hlt
  assert.equal(regs(cpu).rbx, 0x42);
  assert.equal(cpu.interruptible(2), true, "iretq ended the NMI's blocking");
});

Deno.test("x64 guest: an interrupt with no usable gate shuts the CPU down", () => {
  const { cpu } = start("sti_hlt");
  assert.equal(cpu.run(100), EXIT.HALT);
  cpu.interrupt(0x40); // no gate: #NP, #DF, triple fault
  assert.equal(cpu.interruptible(0x30), false);
  assert.equal(cpu.run(100), EXIT.GENERAL_PROTECTION);
  assert.equal(cpu.retired, 0);
  assert.equal(cpu.guestException(EXIT.GENERAL_PROTECTION), false);
});

Deno.test("x64 guest: #UD through the IDT, and no IDT is a triple fault", () => {
  const { cpu, mem } = start("undefined");
  gate(mem, 6, at("ud_handler"));
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(regs(cpu).rcx, 7);
  assert.equal(regs(cpu).rdx, 8);

  const bare = start("no_idt");
  assert.equal(bare.cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  const before = regs(bare.cpu);
  assert.equal(bare.cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), false);
  assert.deepEqual(regs(bare.cpu), before);
});

Deno.test("x64 guest: int n delivers through the IDT", () => {
  const { cpu, mem } = start("software_int");
  gate(mem, 0x31, at("soft_handler"), 0xf);
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(regs(cpu).r12, 0x31);
  assert.equal(regs(cpu).rsp, STACK);
});

Deno.test("x64 guest: int n through a bad gate: #NP / #GP with the IDT error code, at the int", () => {
  // Intel SDM vol. 2 INT n (IA-32e mode): past the IDT limit #GP, not an
  // interrupt / trap gate #GP (checked before P), not present #NP; the error
  // code is (n << 3) | 2 (IDT) with EXT clear for a software interrupt.
  const cases = [
    { name: "not present", label: "software_int", type: 0xe, present: false, vector: 11 },
    { name: "call gate", label: "software_int", type: 0xc, present: true, vector: 13 },
    {
      name: "task gate, not present",
      label: "software_int",
      type: 0x5,
      present: false,
      vector: 13,
    },
    { name: "past the limit", label: "small_idt_int", type: 0xe, present: true, vector: 13 },
  ];
  for (const c of cases) {
    const { cpu, mem } = start(c.label);
    gate(mem, 11, at("np_handler"));
    gate(mem, 13, at("gp_handler"));
    gate(mem, 0x31, at("soft_handler"), c.type, c.present);
    assert.equal(cpu.run(100), EXIT.GENERAL_PROTECTION, c.name);
    assert.equal(cpu.guestException(EXIT.GENERAL_PROTECTION), true, c.name);
    assert.equal(cpu.run(100), EXIT.HALT, c.name);
    const r = regs(cpu);
    assert.equal(r.r14, c.vector, c.name);
    assert.equal(r.rax, (0x31 << 3) | 2, c.name);
    assert.equal(r.r12, 0, "the handler of 0x31 did not run");
    const rip = new DataView(mem.read(STACK - 40, 8).buffer).getBigUint64(0, true);
    assert.equal(rip, BigInt(at(c.label === "software_int" ? "int31" : "small_int31")), c.name);
  }
});

Deno.test("x64 guest: TF single-steps through the guest's own #DB handler", () => {
  // Intel SDM vol. 3 17.3.1.4: a trap after each instruction that began
  // with TF set (not the one that set it); the gate clears TF, iretq
  // restores it; int n clears TF, so no trap follows it.
  const { cpu, mem } = start("step");
  gate(mem, 1, at("db_handler"));
  gate(mem, 0x31, at("soft_handler"));
  let steps = 0;
  for (;;) {
    const exit = cpu.run(100);
    if (exit === EXIT.HALT) break;
    assert.equal(exit, EXIT.HW_BREAKPOINT);
    assert.equal(cpu.guestException(exit), true);
    assert.ok(++steps < 20);
  }
  const r = regs(cpu);
  const traps = ["step_1", "step_2", "step_3", "step_4", "step_5", "step_6"];
  assert.equal(r.r13, traps.length);
  assert.equal(steps, traps.length);
  assert.equal(r.r12, 0x31, "int $0x31 ran its handler");
  assert.equal(r.rcx, 3);
  assert.equal(r.rflags & 0x100, 0, "the last popfq cleared TF");
  const rips = new DataView(mem.read(0x60000, 8 * traps.length).buffer);
  const flags = new DataView(mem.read(0x61000, 8 * traps.length).buffer);
  traps.forEach((label, k) => {
    assert.equal(rips.getBigUint64(8 * k, true), BigInt(at(label)), label);
    // TF in the pushed rflags, except after the popfq that cleared it.
    const tf = label === "step_6" ? 0n : 0x100n;
    assert.equal(flags.getBigUint64(8 * k, true) & 0x100n, tf, label);
  });
});

Deno.test("x64 guest: a fault while delivering a benign exception is delivered itself", () => {
  // Intel SDM vol. 3 table 6-5: #UD (benign) whose gate is not present
  // raises #NP, delivered as such (EXT set: an earlier exception).
  const { cpu, mem } = start("undefined");
  gate(mem, 6, at("ud_handler"), 0xe, false);
  gate(mem, 11, at("np_handler"));
  gate(mem, 8, at("df_handler"));
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), true);
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(regs(cpu).r14, 11);
  assert.equal(regs(cpu).rax, (6 << 3) | 2 | 1);
});

Deno.test("x64 guest: contributory on contributory, or on a #PF, is #DF", () => {
  // int $0x31 (not present) -> #NP (not present) -> #NP: contributory twice.
  const a = start("software_int");
  gate(a.mem, 0x31, at("soft_handler"), 0xe, false);
  gate(a.mem, 11, at("np_handler"), 0xe, false);
  gate(a.mem, 8, at("df_handler"));
  assert.equal(a.cpu.run(100), EXIT.GENERAL_PROTECTION);
  assert.equal(a.cpu.guestException(EXIT.GENERAL_PROTECTION), true);
  assert.equal(a.cpu.run(100), EXIT.HALT);
  assert.equal(regs(a.cpu).r14, 8);
  assert.equal(regs(a.cpu).rax, 0, "#DF's error code is 0");
  const rip = new DataView(a.mem.read(STACK - 40, 8).buffer).getBigUint64(0, true);
  assert.equal(rip, BigInt(at("int31")));
  // A #PF whose gate is not present: #NP on a #PF is #DF.
  const b = start("page_fault_read");
  gate(b.mem, 14, at("pf_handler"), 0xe, false);
  gate(b.mem, 11, at("np_handler"));
  gate(b.mem, 8, at("df_handler"));
  setRegs(b.cpu, { rsi: 0x8000000010 });
  assert.equal(b.cpu.run(100), EXIT.PAGE_FAULT);
  assert.equal(b.cpu.guestException(EXIT.PAGE_FAULT), true);
  assert.equal(b.cpu.run(100), EXIT.HALT);
  assert.equal(regs(b.cpu).r14, 8);
  assert.equal(regs(b.cpu).rbx, 0x8000000010, "CR2 from the first #PF");
});

Deno.test("x64 guest: #PF while delivering: after #DE it is delivered, after #PF it is #DF", () => {
  // The IDT straddles linear pages 0x210000 (A) and 0x211000 (B); one of
  // them is not present in the guest's tables (PT entries 0x10, 0x11).
  const IDTR = 0x20020;
  const setup = (base: number, absent: number) => {
    const { cpu, mem } = start("idt_fault");
    setU64(mem, PT + 8 * ((absent - 0x200000) / PAGE_SIZE), 0);
    const d = new Uint8Array(10);
    new DataView(d.buffer).setUint16(0, 0xfff, true);
    new DataView(d.buffer).setBigUint64(2, BigInt(base), true);
    mem.load(IDTR, d);
    for (const [v, h] of [[0, "gp_handler"], [8, "df_handler"], [14, "pf_handler"]] as const) {
      gate(mem, v, at(h), 0xe, true, base);
    }
    setRegs(cpu, { rdi: IDTR, rsi: CODE });
    return { cpu, mem };
  };
  // #DE (contributory) whose gate (0x210f20, page A) is not present: #PF, delivered.
  const e = setup(0x211000 - 0xe0, 0x210000);
  assert.equal(e.cpu.run(100), EXIT.DIVIDE_ERROR);
  assert.equal(e.cpu.guestException(EXIT.DIVIDE_ERROR), true);
  assert.equal(e.cpu.run(100), EXIT.HALT);
  let r = regs(e.cpu);
  assert.equal(r.r14, 14);
  assert.equal(r.rbx, 0x210f20, "CR2: the gate's address");
  assert.equal(r.rax, 0, "a supervisor read of a not-present page");
  // A #PF whose gate (0x211010, page B) is not present: #PF on #PF, #DF (gate in A).
  const f = setup(0x211000 - 0xd0, 0x211000);
  setRegs(f.cpu, { rsi: 0x8000000010 });
  assert.equal(f.cpu.run(100), EXIT.PAGE_FAULT);
  assert.equal(f.cpu.guestException(EXIT.PAGE_FAULT), true);
  assert.equal(f.cpu.run(100), EXIT.HALT);
  r = regs(f.cpu);
  assert.equal(r.r14, 8);
  assert.equal(r.rbx, 0x211010, "CR2: the second #PF's address");
  const rip = new DataView(f.mem.read(STACK - 40, 8).buffer).getBigUint64(0, true);
  assert.equal(rip, BigInt(at("idt_fault_load")));
});

Deno.test("x64 guest: a fault while delivering #DF is a triple fault", () => {
  // The stack is not mapped: #PF, then #PF pushing its frame (#DF), then
  // #PF pushing #DF's frame: shutdown, guestException false.
  const { cpu, mem } = start("page_fault_read");
  for (const v of [8, 11, 13, 14]) gate(mem, v, at("df_handler"));
  assert.equal(cpu.run(2), EXIT.BUDGET); // call with_idt; lidt
  assert.equal(cpu.run(1), EXIT.BUDGET); // ret
  setRegs(cpu, { rsi: 0x8000000010, rsp: 0x8000000100 });
  assert.equal(cpu.run(100), EXIT.PAGE_FAULT);
  const before = regs(cpu);
  assert.equal(cpu.guestException(EXIT.PAGE_FAULT), false);
  assert.deepEqual(regs(cpu), before);
});

Deno.test("x64 guest: a kernel in the upper half (PML4[511]): fetch, data, stack, interrupt, iretq", () => {
  const UPPER = 0xffffff8000000000n, PDPT2 = 0x5000;
  const up = (x: number) => UPPER + BigInt(x);
  const mem = machine();
  setU64(mem, PML4 + 8 * 511, PDPT2 | P_RW);
  setU64(mem, PDPT2, PD | P_RW); // upper 0 .. 4 MiB -> guest-physical 0 .. 4 MiB
  const cpu = x64.vcpu.createGuestCpu(mem, up(at("upper")), 1);
  setRegs(cpu, { rsp: up(STACK), r12: 0xffff800000000000n });
  // Gates with upper-half handlers.
  const gate64 = (vector: number, handler: bigint) => {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint16(0, Number(handler & 0xffffn), true);
    v.setUint16(2, 0x08, true);
    v.setUint8(5, 0x8e);
    v.setUint16(6, Number((handler >> 16n) & 0xffffn), true);
    v.setUint32(8, Number(handler >> 32n), true);
    mem.load(IDT + 16 * vector, b);
  };
  gate64(0x30, up(at("upper_irq")));
  gate64(14, up(at("pf_handler")));
  const reg = (name: string) => {
    const out = new Uint8Array(STATE.size);
    cpu.readState(out);
    return new DataView(out.buffer).getBigUint64(STATE.offsetOf(name), true);
  };
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(reg("rax"), 0x1235n);
  assert.equal(reg("rsi"), up(at("upper_data")));
  assert.equal(reg("rdi"), up(at("upper_data")), "pushed and popped on the upper-half stack");
  assert.equal(reg("rbp"), up(STACK - 8), "rsp inside the call");
  assert.equal(reg("rsp"), up(STACK));
  const data = new DataView(mem.read(at("upper_data"), 16).buffer);
  assert.equal(data.getBigUint64(8, true), 0x1235n, "the store went through PML4[511]");
  // An interrupt while halted: the frame on the upper-half stack.
  assert.equal(cpu.interruptible(0x30), true);
  cpu.interrupt(0x30);
  assert.equal(reg("rsp"), up(STACK - 40));
  const frame = new DataView(mem.read(STACK - 40, 40).buffer);
  assert.equal(frame.getBigUint64(0, true), up(at("upper_after")));
  assert.equal(frame.getBigUint64(24, true), up(STACK));
  // The handler, iretq back, then a load from an upper-half address with nothing mapped.
  assert.equal(cpu.run(100), EXIT.PAGE_FAULT);
  assert.equal(reg("r10"), up(STACK - 40));
  assert.equal(reg("rbx"), 0x42n);
  assert.equal(reg("r15"), 1n);
  assert.equal(reg("rsp"), up(STACK));
  assert.deepEqual(cpu.fault(), { kind: "guest" });
  assert.equal(cpu.guestException(EXIT.PAGE_FAULT), true);
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(reg("r14"), 14n);
  assert.equal(reg("rbx"), 0xffff800000000000n, "CR2: the canonical address");
  assert.equal(reg("rax"), 0n);
  const pf = new DataView(mem.read(STACK - 48, 16).buffer);
  assert.equal(pf.getBigUint64(8, true), up(at("upper_load")), "#PF's rip");
  // A non-canonical address is still #GP.
  const g = x64.vcpu.createGuestCpu(mem, up(at("upper_load")), 1);
  const buf = new Uint8Array(STATE.size);
  g.readState(buf);
  new DataView(buf.buffer).setBigUint64(STATE.offsetOf("r12"), 0x0000800000000000n, true);
  g.writeState(buf);
  assert.equal(g.run(100), EXIT.GENERAL_PROTECTION);
});

Deno.test("x64 guest: a not-present page is a guest #PF with CR2 and the error code", () => {
  for (const [label, code] of [["page_fault_read", 0], ["page_fault_write", 2]] as const) {
    const { cpu, mem } = start(label);
    gate(mem, 14, at("pf_handler"));
    setRegs(cpu, { rsi: 0x8000000010 });
    assert.equal(cpu.run(100), EXIT.PAGE_FAULT);
    assert.deepEqual(cpu.fault(), { kind: "guest" });
    assert.equal(cpu.guestException(EXIT.PAGE_FAULT), true);
    assert.equal(cpu.run(100), EXIT.HALT);
    const r = regs(cpu);
    assert.equal(r.r14, 14);
    assert.equal(r.rax, code);
    assert.equal(r.rbx, 0x8000000010);
  }
});

Deno.test("x64 guest: an unknown MSR is #GP into the guest", () => {
  const { cpu, mem } = start("bad_msr");
  gate(mem, 13, at("gp_handler"));
  // Zircon's rdmsr exit handler queues #GP (the kernel raises vector 13) and
  // leaves rip at the rdmsr; the injected #GP pushes error code 0.
  assert.equal(cpu.run(100), EXIT.HYPERCALL);
  assert.deepEqual(cpu.hypercall(), { kind: "raise", vector: 13 });
  assert.equal(cpu.interruptible(13), true);
  cpu.interrupt(13);
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(regs(cpu).r14, 13);
  assert.equal(regs(cpu).rax, 0); // error code
});

Deno.test("x64 guest: MSRs, swapgs, cpuid, vmcall, segments", () => {
  const m = start("msrs");
  assert.equal(m.cpu.run(100), EXIT.HALT);
  assert.equal(regs(m.cpu).r9, 0x1234); // KERNEL_GS_BASE swapped into GS_BASE

  const c = start("cpu_id");
  assert.equal(c.cpu.run(100), EXIT.HALT);
  const vendor = new Uint8Array(12);
  const r = regs(c.cpu);
  new DataView(vendor.buffer).setUint32(0, r.rbx, true);
  new DataView(vendor.buffer).setUint32(4, r.rdx, true);
  new DataView(vendor.buffer).setUint32(8, r.rcx, true);
  assert.equal(new TextDecoder().decode(vendor), "GenuineIntel");

  const h = start("hypercall");
  assert.equal(h.cpu.run(100), EXIT.HYPERCALL);
  // Zircon's vmcall: an unknown number (rax 0 here) gets -1000 in rax, rip past it.
  assert.deepEqual(h.cpu.hypercall(), { kind: "continue" });
  const after = new Uint8Array(STATE.size);
  h.cpu.readState(after);
  assert.equal(new DataView(after.buffer).getBigUint64(0, true), 0xfffffffffffffc18n);

  const s = start("segments");
  assert.equal(s.cpu.run(100), EXIT.HALT);
  assert.equal(regs(s.cpu).rbx, 0x08);
  assert.equal(regs(s.cpu).rcx, 0x10);
  assert.equal(regs(s.cpu).rdx, 0x28);
  assert.equal(regs(s.cpu).rsp, STACK);
});

Deno.test("x64 guest: syscall loads CS = STAR[47:32] & ~3, SS = STAR[47:32] + 8", () => {
  // Intel SDM vol. 2 SYSCALL: SS.Selector <- IA32_STAR[47:32] + 8, no RPL mask.
  const { cpu } = start("syscall_star");
  assert.equal(cpu.run(100), EXIT.HALT);
  const r = regs(cpu);
  assert.equal(r.rbx, 0x10);
  assert.equal(r.rcx, 0x1b);
  assert.equal(r.r11 & 0x2, 0x2); // rflags saved
});

Deno.test("x64 guest: in/out exits and completeIo", () => {
  const { cpu } = start("port_io");
  assert.equal(cpu.run(100), EXIT.IO);
  assert.deepEqual(cpu.io, { port: 0x3f8, size: 1, input: false, value: 0x41, instructionSize: 1 });
  cpu.completeIo();
  setRegs(cpu, { rax: 0xffffffff_ffffffffn });
  assert.equal(cpu.run(100), EXIT.IO);
  assert.deepEqual(cpu.io, { port: 0x3f8, size: 4, input: true, value: 0, instructionSize: 1 });
  cpu.completeIo();
  assert.equal(regs(cpu).rax, 0); // a 4-byte in zeroes rax
  const io = new Uint8Array(8);
  io[0] = 4;
  new DataView(io.buffer).setUint32(4, 0x12345678, true);
  assert.equal(cpu.writeIo(io), ZX_OK);
  assert.equal(cpu.run(100), EXIT.IO);
  assert.equal(regs(cpu).rbx, 0x12345678);
  assert.deepEqual(cpu.io, { port: 0x60, size: 1, input: true, value: 0, instructionSize: 2 });
  setRegs(cpu, { rax: 0x1ff });
  cpu.completeIo();
  assert.equal(regs(cpu).rax, 0x1ff); // a 1-byte in leaves rax alone
  assert.equal(cpu.run(100), EXIT.HALT);
});

Deno.test("x64 guest: string I/O is refused (guestException false)", () => {
  const { cpu, mem } = start("string_io");
  gate(mem, 6, at("ud_handler"));
  assert.equal(cpu.run(100), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(cpu.guestException(EXIT.UNDEFINED_INSTRUCTION), false);
});

Deno.test("x64 guest: MEM trap packets and rip advance", () => {
  const { cpu } = start("mmio_load");
  setRegs(cpu, { rsi: MMIO, rbx: 0x55 });
  // movl 0x30000000, %eax: 8b 04 25 00 00 00 30 (objdump), 7 bytes.
  assert.equal(cpu.run(100), EXIT.PAGE_FAULT);
  assert.deepEqual(cpu.fault(), { kind: "physical", gpa: MMIO, access: ACCESS.READ });
  const out = new Uint8Array(32).fill(0xee);
  assert.equal(cpu.memTrap(MMIO, out), ZX_OK);
  const v = new DataView(out.buffer);
  assert.equal(v.getBigUint64(0, true), BigInt(MMIO));
  assert.equal(v.getBigUint64(8, true), 0n); // cr3
  assert.equal(v.getBigUint64(16, true), BigInt(at("mmio_load")));
  assert.equal(out[24], at("mmio_load_end") - at("mmio_load"));
  assert.equal(out[24], 7);
  assert.equal(out[25], 4);
  assert.deepEqual([...out.subarray(26)], [0, 0, 0, 0, 0, 0]);
  // mov %ebx, 4(%rsi): 89 5e 04 (objdump), 3 bytes.
  assert.equal(cpu.run(100), EXIT.PAGE_FAULT);
  assert.deepEqual(cpu.fault(), { kind: "physical", gpa: MMIO + 4, access: ACCESS.WRITE });
  assert.equal(cpu.memTrap(MMIO + 4, out), ZX_OK);
  assert.equal(v.getBigUint64(16, true), BigInt(at("mmio_store")));
  assert.equal(out[24], 3);
  assert.equal(at("mmio_store_end") - at("mmio_store"), 3);
  assert.equal(cpu.run(100), EXIT.HALT);
});

Deno.test("x64 guest: memTrap on bytes that do not decode is INTERNAL, nothing moved", () => {
  const mem = machine();
  mem.load(0x150000, Uint8Array.of(0x0f, 0xff)); // not an instruction
  const cpu = x64.vcpu.createGuestCpu(mem, 0x150000n, 1);
  const out = new Uint8Array(32);
  assert.equal(cpu.memTrap(MMIO, out), ERR.INTERNAL);
  assert.equal(cpu.run(1), EXIT.UNDEFINED_INSTRUCTION); // still at the same instruction
});

Deno.test("x64 guest: skipInstruction steps over a store (BELL)", () => {
  const { cpu } = start("mmio_store");
  setRegs(cpu, { rsi: MMIO });
  assert.equal(cpu.run(100), EXIT.PAGE_FAULT);
  cpu.skipInstruction();
  assert.equal(cpu.run(100), EXIT.HALT);
  assert.equal(cpu.retired, 1);
});

Deno.test("x64 user mode: system instructions keep their user exits", () => {
  const expected: [string, number][] = [
    ["u_movcr", EXIT.GENERAL_PROTECTION],
    ["u_lidt", EXIT.GENERAL_PROTECTION],
    ["u_iretq", EXIT.UNDEFINED_INSTRUCTION],
    ["u_int", EXIT.GENERAL_PROTECTION],
    ["u_outs", EXIT.GENERAL_PROTECTION],
    ["u_cpuid", EXIT.UNDEFINED_INSTRUCTION],
    ["u_ltr", EXIT.UNDEFINED_INSTRUCTION],
    ["u_movss", EXIT.UNDEFINED_INSTRUCTION],
    ["u_wrmsr", EXIT.GENERAL_PROTECTION],
    ["u_swapgs", EXIT.GENERAL_PROTECTION],
    ["u_vmcall", EXIT.GENERAL_PROTECTION],
    ["u_syscall", EXIT.SYSCALL],
  ];
  for (const [label, exit] of expected) {
    const mem = new FlatMemory();
    mem.map(CODE, BIN.length, ACCESS.READ | ACCESS.EXECUTE);
    mem.load(CODE, BIN);
    const regs = new X64Registers();
    regs.setStart(BigInt(at(label)), 0x10000n, 0n, 0n);
    const core = new X64Core(regs, mem, "user");
    assert.equal(core.run(1), exit, label);
    assert.equal(core.retired, exit === EXIT.SYSCALL ? 1 : 0, label);
  }
});
