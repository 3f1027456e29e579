// Guests over HTTP, as a VMM runs them: the real programs of
// tests/fixtures/guest-<arch>/ (their sources say what each does) in a
// guest with RAM at guest-physical 0, traps, one VCPU and vcpu_enter's
// packets. The VMM answers an x64 `in` with vcpu_write_state(ZX_VCPU_IO)
// and an arm64 load with vcpu_write_state(ZX_VCPU_STATE); a halted guest
// wakes for vcpu_interrupt (its handler runs) or gives up its vcpu_enter to
// vcpu_kick; BELL packets arrive on a port while the guest goes on; and the
// exits the VMM cannot handle give vcpu_enter Zircon's statuses.

import assert from "node:assert/strict";
import {
  createGuest,
  identityPageTables,
  largePageEntry,
  X64_PAGE_TABLES,
} from "../client/guest.ts";
import { type KernelSession, ZxsimClient, ZxsimError } from "../client/zxsim.ts";
import { createApp } from "../routes/app.ts";
import {
  answerLoad,
  ARCHES,
  ARM64_BELL,
  ARM64_MMIO,
  arm64MemOf,
  bootGuest,
  enter,
  enterFails,
  type Exit,
  type GuestArch,
  ioOf,
  n,
  otherThread,
  PKT,
  readState,
  reg,
  settle,
  trap,
  vcpuIo,
  X64_MMIO,
  X64_PORT_IN,
  X64_PORT_OUT,
} from "./guest_helpers.ts";
import { session } from "./program_helpers.ts";

const KEY = 0x5eed;
/** rax's index in the x64 zx_vcpu_state_t. */
const RAX = 0;

/** Runs `body` on a fresh kernel of `arch` and deletes the kernel afterwards. */
async function withKernel(
  arch: GuestArch,
  body: (k: KernelSession) => Promise<void>,
  scheduler: "free" | "manual" = "free",
): Promise<void> {
  const k = await session(arch, { scheduler });
  try {
    await body(k);
  } finally {
    await k.delete();
  }
}

// ---------------------------------------------------------------------------
// The VMM answers: x64 in/out on an IO trap, arm64 store/load on a MEM trap

/** The io guest's packets, answered with `answer`: what a second run must repeat. */
async function runIo(k: KernelSession, answer: number): Promise<Exit[]> {
  const vm = await bootGuest(k, "io");
  await trap(k, vm.guest, "ZX_GUEST_TRAP_IO", X64_PORT_OUT, 2, KEY);
  const exits: Exit[] = [];

  const first = await enter(k, vm.vcpu);
  exits.push(first);
  assert.equal(first.key, BigInt(KEY), "the trap's key");
  assert.equal(first.view.status, 0);
  assert.deepEqual(ioOf(first), { port: X64_PORT_OUT, access_size: 1, input: 0, data: 7 });

  const asked = await enter(k, vm.vcpu);
  exits.push(asked);
  assert.deepEqual(ioOf(asked), { port: X64_PORT_IN, access_size: 2, input: 1, data: 0 });
  // The answer: the low two bytes of rax (the guest set rax to 0xabcd0000).
  await k.zx.vcpu_write_state({
    handle: vm.vcpu,
    kind: "ZX_VCPU_IO",
    buffer_size: 8,
    buffer: vcpuIo(2, answer),
  });
  assert.equal(reg(await readState(k, vm.vcpu), RAX), 0xabcd0000n | BigInt(answer));

  const result = await enter(k, vm.vcpu);
  exits.push(result);
  const expected = (Math.imul(0xabcd0000 | answer, 3) + 7) >>> 0;
  assert.deepEqual(ioOf(result), { port: X64_PORT_OUT, access_size: 4, input: 0, data: expected });
  assert.equal(reg(await readState(k, vm.vcpu), RAX), BigInt(expected));
  return exits;
}

Deno.test("guest x64: out and in on an IO-trapped port; ZX_VCPU_IO answers the in", async () => {
  await withKernel("x64", async (k) => {
    await runIo(k, 0x1234);
  });
});

/** The mem guest's packets, its load answered with `answer`. */
async function runMem(k: KernelSession, answer: number): Promise<Exit[]> {
  const vm = await bootGuest(k, "mem");
  await trap(k, vm.guest, "ZX_GUEST_TRAP_MEM", ARM64_MMIO, 0x1000, KEY);
  const exits: Exit[] = [];

  const stored = await enter(k, vm.vcpu);
  exits.push(stored);
  assert.equal(stored.key, BigInt(KEY), "the trap's key");
  assert.deepEqual(arm64MemOf(stored), {
    addr: ARM64_MMIO,
    access_size: 4,
    sign_extend: 0,
    xt: 2,
    read: 0,
    data: 7n,
  });

  const loaded = await enter(k, vm.vcpu);
  exits.push(loaded);
  const mem = arm64MemOf(loaded);
  assert.deepEqual(mem, {
    addr: ARM64_MMIO + 4,
    access_size: 4,
    sign_extend: 0,
    xt: 3,
    read: 1,
    data: 0n,
  });
  // ZX_VCPU_IO does not exist on arm64: the load is answered through x3.
  await assert.rejects(
    k.zx.vcpu_write_state({
      handle: vm.vcpu,
      kind: "ZX_VCPU_IO",
      buffer_size: 8,
      buffer: vcpuIo(4, answer),
    }),
    /ZX_ERR_INVALID_ARGS/,
  );
  await answerLoad(k, vm.vcpu, mem, BigInt(answer));
  assert.equal(reg(await readState(k, vm.vcpu), 3), BigInt(answer));

  const result = await enter(k, vm.vcpu);
  exits.push(result);
  const expected = BigInt((Math.imul(answer, 3) + 7) >>> 0);
  assert.deepEqual(arm64MemOf(result), {
    addr: ARM64_MMIO + 8,
    access_size: 4,
    sign_extend: 0,
    xt: 3,
    read: 0,
    data: expected,
  });
  return exits;
}

Deno.test("guest arm64: store and load on a MEM-trapped page; ZX_VCPU_STATE answers the load", async () => {
  await withKernel("arm64", async (k) => {
    await runMem(k, 0x1234);
  });
});

Deno.test("guest x64: a MEM exit reports the page, cr3, the instruction's rip and size", async () => {
  await withKernel("x64", async (k) => {
    const port = await k.zx.port_create({ options: 0 });
    const vm = await bootGuest(k, "bell");
    await k.zx.guest_set_trap({
      handle: vm.guest,
      kind: "ZX_GUEST_TRAP_BELL",
      addr: X64_MMIO,
      size: 0x1000,
      port_handle: port.out,
      key: 1,
    });
    await trap(k, vm.guest, "ZX_GUEST_TRAP_MEM", X64_MMIO + 0x1000, 0x1000, KEY);
    const exit = await enter(k, vm.vcpu);
    assert.equal(exit.type, PKT.GUEST_MEM);
    const data = new DataView(exit.bytes.buffer);
    // 2023 layout: addr, cr3, rip, instruction_size, default_operand_size.
    const mem = {
      addr: Number(data.getBigUint64(16, true)),
      cr3: Number(data.getBigUint64(24, true)),
      rip: Number(data.getBigUint64(32, true)),
      instruction_size: data.getUint8(40),
      default_operand_size: data.getUint8(41),
    };
    assert.deepEqual(mem, {
      addr: X64_MMIO + 0x1000,
      cr3: 0,
      rip: vm.program.sym.mem_store,
      // mov dword ptr [rbx + 0x1000], 3: C7 83 disp32 imm32.
      instruction_size: 10,
      default_operand_size: 4,
    });
    assert.deepEqual(
      Object.fromEntries(Object.keys(mem).map((name) => [name, n(exit.member[name])])),
      mem,
      "the view's guest_mem is the packet's bytes",
    );
  });
});

// ---------------------------------------------------------------------------
// Halted guests: vcpu_interrupt wakes them, vcpu_kick cancels the enter

/** The ZxsimError a call fails with. */
async function rejection(call: Promise<unknown>): Promise<ZxsimError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ZxsimError) return error;
    throw error;
  }
  assert.fail("the call succeeded");
}

/** The halt guest's interrupt vector and what its handler reports. */
const HALT = {
  x64: {
    vector: 32,
    traps: (k: KernelSession, guest: number) =>
      trap(k, guest, "ZX_GUEST_TRAP_IO", X64_PORT_OUT, 1, KEY),
  },
  arm64: {
    vector: 32,
    traps: (k: KernelSession, guest: number) =>
      trap(k, guest, "ZX_GUEST_TRAP_MEM", ARM64_MMIO, 0x1000, KEY),
  },
};

/** What the handler reported: [first value, second value] from its two exits. */
async function handlerReports(k: KernelSession, vcpu: number, pending: Promise<Exit>) {
  const first = await pending;
  const second = await enter(k, vcpu);
  const value = (exit: Exit) => k.arch === "x64" ? BigInt(ioOf(exit).data) : arm64MemOf(exit).data;
  return [value(first), value(second)];
}

for (const arch of ARCHES) {
  Deno.test(`guest ${arch}: halted, vcpu_interrupt from another thread runs its handler`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await bootGuest(k, "halt");
      await HALT[arch].traps(k, vm.guest);
      const other = await otherThread(k);
      const { vector } = HALT[arch];
      const wake = vm.program.sym[arch === "x64" ? "after_hlt" : "after_wfi"];

      // vcpu_enter blocks while the guest waits; the interrupt comes from elsewhere.
      const pending = enter(k, vm.vcpu);
      await settle();
      // Meanwhile the VCPU is running: no state calls. Its own thread is busy in
      // vcpu_enter (409), another thread is not the VCPU's (BAD_STATE).
      const size = arch === "x64" ? 136 : 264;
      const busy = await rejection(
        k.zx.vcpu_read_state({ handle: vm.vcpu, kind: "ZX_VCPU_STATE", buffer_size: size }),
      );
      assert.deepEqual([busy.statusName, busy.http], ["ZX_ERR_BAD_STATE", 409]);
      const elsewhere = await rejection(
        other.zx.vcpu_write_state({
          handle: vm.vcpu,
          kind: "ZX_VCPU_STATE",
          buffer_size: size,
          buffer: new Uint8Array(size).toBase64(),
        }),
      );
      assert.equal(elsewhere.statusName, "ZX_ERR_BAD_STATE");
      await other.zx.vcpu_interrupt({ handle: vm.vcpu, vector });
      assert.deepEqual(await handlerReports(k, vm.vcpu, pending), [BigInt(vector), BigInt(wake)]);

      // The handler returned to the loop: the guest waits again, and wakes again.
      const again = enter(k, vm.vcpu);
      await settle();
      await other.zx.vcpu_interrupt({ handle: vm.vcpu, vector });
      assert.deepEqual(await handlerReports(k, vm.vcpu, again), [BigInt(vector), BigInt(wake)]);
    });
  });

  Deno.test(`guest ${arch}: halted, vcpu_kick makes vcpu_enter return ZX_ERR_CANCELED`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await bootGuest(k, "halt");
      await HALT[arch].traps(k, vm.guest);
      const other = await otherThread(k);

      const pending = enterFails(k, vm.vcpu);
      await settle();
      await other.zx.vcpu_kick({ handle: vm.vcpu });
      const canceled = await pending;
      assert.equal(canceled.statusName, "ZX_ERR_CANCELED");
      assert.equal(canceled.http, 409);
      // One kick cancels one enter; the kicked flag is gone.
      const { info } = await k.zx.object_get_info({ handle: vm.vcpu, topic: "ZX_INFO_VCPU" });
      assert.equal(n((info as Record<string, unknown>).flags), 0);

      // A kick before an enter cancels that enter at once; ZX_INFO_VCPU shows it pending.
      await other.zx.vcpu_kick({ handle: vm.vcpu });
      const kicked = await k.zx.object_get_info({ handle: vm.vcpu, topic: "ZX_INFO_VCPU" });
      assert.equal(
        n((kicked.info as Record<string, unknown>).flags),
        1,
        "ZX_INFO_VCPU_FLAG_KICKED",
      );
      assert.equal((await enterFails(k, vm.vcpu)).statusName, "ZX_ERR_CANCELED");

      // After a cancel the guest goes on where it was: still halted, and an interrupt wakes it.
      const resumed = enter(k, vm.vcpu);
      await settle();
      await other.zx.vcpu_interrupt({ handle: vm.vcpu, vector: HALT[arch].vector });
      const [vector] = await handlerReports(k, vm.vcpu, resumed);
      assert.equal(vector, BigInt(HALT[arch].vector));
    });
  });
}

// ---------------------------------------------------------------------------
// BELL traps: packets on the port, the VCPU goes on

const BELL = {
  x64: { bell: X64_MMIO, mem: X64_MMIO + 0x1000 },
  arm64: { bell: ARM64_BELL, mem: ARM64_MMIO },
};

for (const arch of ARCHES) {
  Deno.test(`guest ${arch}: BELL packets arrive on the trap's port while the VCPU goes on`, async () => {
    await withKernel(arch, async (k) => {
      const { out: port } = await k.zx.port_create({ options: 0 });
      const vm = await bootGuest(k, "bell");
      const { bell, mem } = BELL[arch];
      await k.zx.guest_set_trap({
        handle: vm.guest,
        kind: "ZX_GUEST_TRAP_BELL",
        addr: bell,
        size: 0x1000,
        port_handle: port,
        key: 0xbe11,
      });
      await trap(k, vm.guest, "ZX_GUEST_TRAP_MEM", mem, 0x1000, KEY);

      // vcpu_enter returns at the MEM store, after both bell writes.
      const exit = await enter(k, vm.vcpu);
      assert.equal(exit.type, PKT.GUEST_MEM);
      assert.equal(exit.key, BigInt(KEY));
      assert.equal(n(exit.member.addr), mem);

      for (const offset of [0, 0x10]) {
        const { packet } = await k.zx.port_wait({ handle: port, deadline: 0 });
        const bytes = Uint8Array.fromBase64(packet as string);
        const data = new DataView(bytes.buffer);
        assert.deepEqual(
          {
            key: data.getBigUint64(0, true),
            type: data.getUint32(8, true),
            status: data.getInt32(12, true),
            addr: Number(data.getBigUint64(16, true)),
          },
          { key: 0xbe11n, type: PKT.GUEST_BELL, status: 0, addr: bell + offset },
        );
      }
      await assert.rejects(k.zx.port_wait({ handle: port, deadline: 0 }), /ZX_ERR_TIMED_OUT/);
    });
  });
}

// ---------------------------------------------------------------------------
// Exits the VMM cannot handle

Deno.test("guest x64: no page tables at guest-physical 0 -> vcpu_enter is ZX_ERR_NOT_SUPPORTED", async () => {
  await withKernel("x64", async (k) => {
    // CR3 = 0 and zero RAM there: the first fetch finds PML4[0] not present, a
    // #PF with no IDT to deliver it through, a triple fault.
    const vm = await bootGuest(k, "io", { pageTables: false });
    await trap(k, vm.guest, "ZX_GUEST_TRAP_IO", X64_PORT_OUT, 2, KEY);
    assert.equal((await enterFails(k, vm.vcpu)).statusName, "ZX_ERR_NOT_SUPPORTED");
    // With the tables written the same VCPU runs.
    await k.zx.vmo_write({ handle: vm.memory, buffer: identityPageTables().toBase64(), offset: 0 });
    assert.equal(ioOf(await enter(k, vm.vcpu)).data, 7);
  });
});

Deno.test("guest x64: an out to a port without a trap -> vcpu_enter is ZX_ERR_NOT_FOUND", async () => {
  await withKernel("x64", async (k) => {
    const vm = await bootGuest(k, "io");
    // A trap elsewhere: the guest's port 0x10 is not covered.
    await trap(k, vm.guest, "ZX_GUEST_TRAP_IO", 0x3f8, 8, KEY);
    assert.equal((await enterFails(k, vm.vcpu)).statusName, "ZX_ERR_NOT_FOUND");
  });
});

/** The first guest-physical address past the guest's address space (ZX_INFO_VMAR's len). */
async function pastGuestMemory(k: KernelSession, vmar: number): Promise<bigint> {
  const { info } = await k.zx.object_get_info({ handle: vmar, topic: "ZX_INFO_VMAR" });
  const { base, len } = info as { base: string; len: string };
  assert.equal(BigInt(base), 0n, "guest-physical memory starts at 0");
  return BigInt(len);
}

Deno.test("guest x64: a load past guest-physical memory -> vcpu_enter is ZX_ERR_OUT_OF_RANGE", async () => {
  await withKernel("x64", async (k) => {
    const vm = await bootGuest(k, "oob");
    await trap(k, vm.guest, "ZX_GUEST_TRAP_IO", X64_PORT_OUT, 1, KEY);
    // The last 2 MiB page of the first GiB now maps the first byte past the address space.
    const past = await pastGuestMemory(k, vm.vmar);
    await k.zx.vmo_write({
      handle: vm.memory,
      buffer: largePageEntry(past).toBase64(),
      offset: X64_PAGE_TABLES.pd + 8 * 511,
    });
    const state = await readState(k, vm.vcpu);
    new DataView(state.buffer).setBigUint64(8 * 3, 511n << 21n, true); // rbx
    await k.zx.vcpu_write_state({
      handle: vm.vcpu,
      kind: "ZX_VCPU_STATE",
      buffer_size: 136,
      buffer: state.toBase64(),
    });
    assert.equal((await enterFails(k, vm.vcpu)).statusName, "ZX_ERR_OUT_OF_RANGE");
  });
});

Deno.test("guest arm64: a load past guest-physical memory -> vcpu_enter is ZX_ERR_OUT_OF_RANGE", async () => {
  await withKernel("arm64", async (k) => {
    const vm = await bootGuest(k, "oob");
    await trap(k, vm.guest, "ZX_GUEST_TRAP_MEM", ARM64_MMIO, 0x1000, KEY);
    const past = await pastGuestMemory(k, vm.vmar);
    const state = await readState(k, vm.vcpu);
    new DataView(state.buffer).setBigUint64(8 * 1, past, true); // x1
    await k.zx.vcpu_write_state({
      handle: vm.vcpu,
      kind: "ZX_VCPU_STATE",
      buffer_size: 264,
      buffer: state.toBase64(),
    });
    assert.equal((await enterFails(k, vm.vcpu)).statusName, "ZX_ERR_OUT_OF_RANGE");
  });
});

// ---------------------------------------------------------------------------
// The hello guests, as examples/vmm.ts runs them, and repeatability

/** Runs the hello guest to its end: what it wrote to its UART, and how it stopped. */
async function runHello(k: KernelSession): Promise<{ text: string; exits: number }> {
  const vm = await bootGuest(k, "hello");
  let text = "", exits = 0;
  if (k.arch === "x64") {
    await trap(k, vm.guest, "ZX_GUEST_TRAP_IO", 0x3f8, 8, 1);
    await trap(k, vm.guest, "ZX_GUEST_TRAP_IO", 0x604, 1, 2);
    for (;;) {
      const io = ioOf(await enter(k, vm.vcpu));
      exits++;
      if (io.port === 0x604) break;
      if (io.port === 0x3fd) {
        // LSR: the transmit holding register is empty (bit 5).
        await k.zx.vcpu_write_state({
          handle: vm.vcpu,
          kind: "ZX_VCPU_IO",
          buffer_size: 8,
          buffer: vcpuIo(1, 0x20),
        });
      } else {
        assert.equal(io.port, 0x3f8);
        text += String.fromCharCode(io.data);
      }
    }
  } else {
    await trap(k, vm.guest, "ZX_GUEST_TRAP_MEM", ARM64_MMIO, 0x1000, 1);
    for (;;) {
      let exit: Exit;
      try {
        exit = await enter(k, vm.vcpu);
      } catch (error) {
        // PSCI SYSTEM_OFF.
        assert.match(String(error), /ZX_ERR_UNAVAILABLE/);
        break;
      }
      exits++;
      const mem = arm64MemOf(exit);
      if (mem.read) await answerLoad(k, vm.vcpu, mem, 0n); // UARTFR: TXFF clear
      else text += String.fromCharCode(Number(mem.data));
    }
  }
  return { text, exits };
}

for (const arch of ARCHES) {
  Deno.test(`guest ${arch}: hello writes its line through the trapped UART, then powers off`, async () => {
    await withKernel(arch, async (k) => {
      const { text, exits } = await runHello(k);
      assert.equal(text, "Hello from the guest\n");
      // Per byte one status read and one write; x64's power-off is one exit more.
      assert.equal(exits, 2 * text.length + (arch === "x64" ? 1 : 0));
    });
  });
}

Deno.test("guest: manual-scheduler kernels give the same packets, byte for byte, run after run", async () => {
  const runs: Record<GuestArch, string[][]> = { x64: [], arm64: [] };
  for (const arch of ARCHES) {
    for (let run = 0; run < 2; run++) {
      await withKernel(arch, async (k) => {
        const exits = arch === "x64" ? await runIo(k, 0x4321) : await runMem(k, 0x4321);
        runs[arch].push(exits.map((exit) => exit.bytes.toBase64()));
      }, "manual");
    }
    assert.equal(runs[arch][0].length, 3);
    assert.deepEqual(runs[arch][1], runs[arch][0], `${arch}: the second run's packets`);
  }
});

// ---------------------------------------------------------------------------
// BELL traps: a trap's 256 packets, a closed port, a read

/**
 * A guest of `code` (loaded where the fixture guests are) and its VCPU, in
 * a kernel of `k`'s session.
 */
async function snippetGuest(k: KernelSession, code: Uint8Array) {
  const vm = await createGuest(k, { image: code });
  const { out: vcpu } = await k.zx.vcpu_create({ guest: vm.guest, options: 0, entry: vm.entry });
  return { ...vm, vcpu: vcpu as number };
}

const le32 = (...words: number[]) => new Uint8Array(Uint32Array.from(words).buffer);

/** How many BELL writes RING_BELLS makes. */
const RINGS = 300;

/**
 * RINGS writes to the BELL page, one per word (packet i's addr is bell + 4 i),
 * then it reports the count on the exit trap (GNU as, checked with objdump):
 *
 * x64 (the bell page at X64_MMIO, the count on PORT_OUT):
 *   bb 00 00 00 10       mov ebx, 0x10000000
 *   31 c9                xor ecx, ecx
 * 1:89 0c 8b             mov [rbx + rcx*4], ecx
 *   ff c1                inc ecx
 *   81 f9 2c 01 00 00    cmp ecx, 300
 *   75 f3                jne 1b
 *   89 c8                mov eax, ecx
 *   e7 10                out 0x10, eax
 *   eb fe                jmp .
 *
 * arm64 (the bell page at ARM64_BELL, the count stored to ARM64_MMIO):
 *   d2a14001   mov x1, #0xa000000
 *   d2800002   mov x2, #0
 * 1:b8227822   str w2, [x1, x2, lsl #2]
 *   91000442   add x2, x2, #1
 *   f104b05f   cmp x2, #300
 *   54ffffa1   b.ne 1b
 *   d2a12003   mov x3, #0x9000000
 *   b9000062   str w2, [x3]
 *   14000000   b .
 */
const RING_BELLS = {
  x64: Uint8Array.of(
    ...[0xbb, 0x00, 0x00, 0x00, 0x10, 0x31, 0xc9, 0x89, 0x0c, 0x8b, 0xff, 0xc1],
    ...[0x81, 0xf9, 0x2c, 0x01, 0x00, 0x00, 0x75, 0xf3, 0x89, 0xc8, 0xe7, 0x10, 0xeb, 0xfe],
  ),
  arm64: le32(
    0xd2a14001,
    0xd2800002,
    0xb8227822,
    0x91000442,
    0xf104b05f,
    0x54ffffa1,
    0xd2a12003,
    0xb9000062,
    0x14000000,
  ),
};

/**
 * A read of the BELL page, then an exit: x64 `mov ebx, 0x10000000; mov eax,
 * [rbx]; mov al, 0x2a; out %al, $0x10` (bb 00 00 00 10, 8b 03, b0 2a, e6
 * 10); arm64 `mov x1, #0xa000000; ldr w2, [x1]; mov x3, #0x9000000; str x2,
 * [x3]; b .` (a store to the MEM trap).
 */
const READ_BELL = {
  x64: Uint8Array.of(0xbb, 0x00, 0x00, 0x00, 0x10, 0x8b, 0x03, 0xb0, 0x2a, 0xe6, 0x10),
  arm64: le32(0xd2a14001, 0xb9400022, 0xd2a12003, 0xf9000062, 0x14000000),
};

/**
 * The BELL trap (key 0xbe11, on a new port) and the trap the guest exits
 * through: RING_BELLS's (x64 an IO trap), or with `fixture` the bell
 * fixture's (a MEM trap on both).
 */
async function bellTraps(k: KernelSession, guest: number, fixture = false): Promise<number> {
  const { out: port } = await k.zx.port_create({ options: 0 });
  await k.zx.guest_set_trap({
    handle: guest,
    kind: "ZX_GUEST_TRAP_BELL",
    addr: BELL[k.arch as GuestArch].bell,
    size: 0x1000,
    port_handle: port,
    key: 0xbe11,
  });
  if (fixture) {
    await trap(k, guest, "ZX_GUEST_TRAP_MEM", BELL[k.arch as GuestArch].mem, 0x1000, KEY);
  } else if (k.arch === "x64") await trap(k, guest, "ZX_GUEST_TRAP_IO", X64_PORT_OUT, 1, KEY);
  else await trap(k, guest, "ZX_GUEST_TRAP_MEM", ARM64_MMIO, 0x1000, KEY);
  return port as number;
}

/** The value the guest reported on its exit trap. */
function reported(exit: Exit): bigint {
  return exit.type === PKT.GUEST_IO ? BigInt(ioOf(exit).data) : arm64MemOf(exit).data;
}

/**
 * port_wait for the next BELL packet (waiting up to 5 s), by `k`, a thread
 * other than the VCPU's (that one is busy in vcpu_enter): its guest_bell.addr.
 */
async function nextBell(k: KernelSession, port: number): Promise<number> {
  const now = BigInt((await k.zx.clock_get_monotonic()).time as string | number);
  const { packet } = await k.zx.port_wait({
    handle: port,
    deadline: `0x${(now + 5_000_000_000n).toString(16)}`,
  });
  const bytes = Uint8Array.fromBase64(packet as string);
  const data = new DataView(bytes.buffer);
  assert.equal(data.getBigUint64(0, true), 0xbe11n, "the BELL trap's key");
  assert.equal(data.getUint32(8, true), PKT.GUEST_BELL);
  assert.equal(data.getInt32(12, true), 0);
  return Number(data.getBigUint64(16, true));
}

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}

for (const arch of ARCHES) {
  const bell = BELL[arch].bell;

  Deno.test(`guest ${arch}: 256 BELL packets outstanding make the VCPU wait until port_wait takes one`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await snippetGuest(k, RING_BELLS[arch]);
      const port = await bellTraps(k, vm.guest);
      const vmm = await otherThread(k);
      const entered = enter(k, vm.vcpu);
      // The 257th write finds every packet of the trap queued: the VCPU waits.
      assert.ok(await pendingAfter(entered, 150), "the VCPU waits for a free packet");
      assert.ok(await pendingAfter(entered, 100), "... and goes on waiting");
      // Each packet taken lets one more write through; all arrive, in order.
      for (let i = 0; i < RINGS; i++) assert.equal(await nextBell(vmm, port), bell + 4 * i);
      assert.equal(reported(await entered), BigInt(RINGS));
      await assert.rejects(k.zx.port_wait({ handle: port, deadline: 0 }), /ZX_ERR_TIMED_OUT/);
    });
  });

  Deno.test(`guest ${arch}: a kick while the VCPU waits for a BELL packet cancels once one is taken; none is lost`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await snippetGuest(k, RING_BELLS[arch]);
      const port = await bellTraps(k, vm.guest);
      const other = await otherThread(k);
      const entered = enterFails(k, vm.vcpu);
      assert.ok(await pendingAfter(entered, 150));
      // Zircon's VCPU waits on the trap's packet semaphore, which a kick does
      // not interrupt: the enter sees the kick once the write has its packet.
      await other.zx.vcpu_kick({ handle: vm.vcpu });
      assert.ok(await pendingAfter(entered, 100), "a kick does not end the wait");
      assert.equal(await nextBell(other, port), bell);
      assert.equal((await entered).statusName, "ZX_ERR_CANCELED");
      // The enter goes on; every write made a packet, exactly once, in order.
      const resumed = enter(k, vm.vcpu);
      for (let i = 1; i < RINGS; i++) assert.equal(await nextBell(other, port), bell + 4 * i);
      assert.equal(reported(await resumed), BigInt(RINGS));
      await assert.rejects(k.zx.port_wait({ handle: port, deadline: 0 }), /ZX_ERR_TIMED_OUT/);
    });
  });

  Deno.test(`guest ${arch}: the server's cap ends a wait for a BELL packet; the next enter delivers it`, async () => {
    const { app } = createApp({ maxBlockMs: 300 });
    const client = new ZxsimClient(
      "http://zxsim",
      async (input, init) => await app.request(input, init),
    );
    const k = await client.createKernel({ arch });
    try {
      const vm = await snippetGuest(k, RING_BELLS[arch]);
      const port = await bellTraps(k, vm.guest);
      const other = await otherThread(k);
      assert.equal((await enterFails(k, vm.vcpu)).statusName, "ZX_ERR_CANCELED");
      // Still full: the next enter waits again, for the same write.
      const resumed = enter(k, vm.vcpu);
      assert.ok(await pendingAfter(resumed, 100));
      for (let i = 0; i < RINGS; i++) assert.equal(await nextBell(other, port), bell + 4 * i);
      assert.equal(reported(await resumed), BigInt(RINGS));
      await assert.rejects(k.zx.port_wait({ handle: port, deadline: 0 }), /ZX_ERR_TIMED_OUT/);
    } finally {
      await k.delete();
    }
  });

  Deno.test(`guest ${arch}: a BELL trap whose port is closed: enter BAD_STATE per write, and the guest goes on`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await bootGuest(k, "bell");
      const port = await bellTraps(k, vm.guest, true);
      await k.zx.handle_close({ handle: port });
      // Fuchsia's GuestSetTrapClosePort: each write's enter is BAD_STATE, with
      // the pc already past it, so the next enter goes on to the next write.
      for (let write = 0; write < 2; write++) {
        const failed = await enterFails(k, vm.vcpu);
        assert.deepEqual([failed.statusName, failed.http], ["ZX_ERR_BAD_STATE", 409]);
      }
      const exit = await enter(k, vm.vcpu);
      assert.equal(exit.type, PKT.GUEST_MEM);
      assert.equal(n(exit.member.addr), BELL[arch].mem);
    });
  });

  Deno.test(`guest ${arch}: a read of a BELL trap's page: vcpu_enter is ZX_ERR_NOT_SUPPORTED, and the next goes on after it`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await snippetGuest(k, READ_BELL[arch]);
      const port = await bellTraps(k, vm.guest, arch === "arm64");
      const failed = await enterFails(k, vm.vcpu);
      assert.deepEqual([failed.statusName, failed.http], ["ZX_ERR_NOT_SUPPORTED", 501]);
      await assert.rejects(k.zx.port_wait({ handle: port, deadline: 0 }), /ZX_ERR_TIMED_OUT/);
      // Zircon stepped past the read before refusing it: the guest goes on.
      const exit = await enter(k, vm.vcpu);
      assert.equal(exit.type, arch === "x64" ? PKT.GUEST_IO : PKT.GUEST_MEM);
    });
  });
}

// ---------------------------------------------------------------------------
// Interrupts in a row, and interrupts raised while the guest masks them

/** The halt guest's next report: the value its handler (or its masked path) wrote. */
async function nextReport(k: KernelSession, vcpu: number): Promise<bigint> {
  return reported(await enter(k, vcpu));
}

/** The halt guest's traps (HALT[arch].traps) and a VCPU at `entry` (a label of halt). */
async function haltGuest(k: KernelSession, entry?: string) {
  const vm = await bootGuest(k, "halt");
  await HALT[k.arch as GuestArch].traps(k, vm.guest);
  if (entry === undefined) return vm;
  await k.zx.handle_close({ handle: vm.vcpu });
  const { out: vcpu } = await k.zx.vcpu_create({
    guest: vm.guest,
    options: 0,
    entry: vm.program.sym[entry],
  });
  return { ...vm, vcpu: vcpu as number };
}

for (const arch of ARCHES) {
  const wakeLabel = arch === "x64" ? "after_hlt" : "after_wfi";

  Deno.test(`guest ${arch}: interrupts raised during a handler are taken in a row after it returns, highest first`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await haltGuest(k);
      const wake = BigInt(vm.program.sym[wakeLabel]);
      const other = await otherThread(k);
      const first = enter(k, vm.vcpu);
      await settle();
      await other.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 33 });
      assert.equal(reported(await first), 33n);
      // Stopped in the handler (interrupts masked there: x64 the gate cleared
      // IF, arm64 the IRQ set PSTATE.I): two more arrive.
      await k.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 34 });
      await k.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 35 });
      const reports: bigint[] = [];
      for (let i = 0; i < 5; i++) reports.push(await nextReport(k, vm.vcpu));
      // 33's handler ends; then 35 and 34, each from the halt loop.
      assert.deepEqual(reports, [wake, 35n, wake, 34n, wake]);
      // Nothing is left pending: the guest waits in its loop until kicked.
      const idle = enterFails(k, vm.vcpu);
      await settle();
      await other.zx.vcpu_kick({ handle: vm.vcpu });
      assert.equal((await idle).statusName, "ZX_ERR_CANCELED");
    });
  });

  Deno.test(`guest ${arch}: interrupts raised before the guest unmasks them wait for it`, async () => {
    await withKernel(arch, async (k) => {
      // At reset interrupts are masked (x64 IF clear and no IDT; arm64 DAIF
      // masked): raised before the first enter, they wait for sti / daifclr.
      const vm = await haltGuest(k);
      const wake = BigInt(vm.program.sym[wakeLabel]);
      await k.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 36 });
      await k.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 32 });
      const reports: bigint[] = [];
      for (let i = 0; i < 4; i++) reports.push(await nextReport(k, vm.vcpu));
      assert.deepEqual(reports, [36n, wake, 32n, wake]);
    });
  });

  Deno.test(`guest ${arch}: interrupts raised while the guest masks them (${arch === "x64" ? "cli" : "DAIF.I"}) stay pending until it unmasks`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await haltGuest(k, "masked");
      const wake = BigInt(vm.program.sym[wakeLabel]);
      const MASKED = 0xaan;
      // Set up, masked, it reports; the VMM raises interrupts meanwhile.
      assert.equal(await nextReport(k, vm.vcpu), MASKED);
      await k.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 37 });
      await k.zx.vcpu_interrupt({ handle: vm.vcpu, vector: 38 });
      // Entered again with both pending, it is still masked: no interrupt is taken.
      assert.equal(await nextReport(k, vm.vcpu), MASKED);
      // It unmasks: both, highest first, each returning to the loop.
      const reports: bigint[] = [];
      for (let i = 0; i < 4; i++) reports.push(await nextReport(k, vm.vcpu));
      assert.deepEqual(reports, [38n, wake, 37n, wake]);
    });
  });
}

// ---------------------------------------------------------------------------
// Manual-scheduler kernels: a halted guest waits for a wake from another request

for (const arch of ARCHES) {
  Deno.test(`guest ${arch}: manual kernel, a halted guest woken by vcpu_interrupt from another request runs on`, async () => {
    await withKernel(arch, async (k) => {
      const vm = await haltGuest(k);
      const wake = BigInt(vm.program.sym[arch === "x64" ? "after_hlt" : "after_wfi"]);
      const other = await otherThread(k);
      for (const vector of [33, 34]) {
        // The enter drives the kernel until the guest halts, then waits for a wake.
        const entered = enter(k, vm.vcpu);
        assert.ok(await pendingAfter(entered, 100), "halted: the enter waits");
        const clock = BigInt((await other.zx.clock_get_monotonic()).time as number);
        await other.zx.vcpu_interrupt({ handle: vm.vcpu, vector });
        assert.equal(reported(await entered), BigInt(vector));
        assert.equal(await nextReport(k, vm.vcpu), wake);
        // Virtual time moved only with the instructions run: far less than the wall time waited.
        const after = BigInt((await other.zx.clock_get_monotonic()).time as number);
        assert.ok(after - clock < 50_000_000n, `${after - clock} ns`);
      }
    }, "manual");
  });
}
