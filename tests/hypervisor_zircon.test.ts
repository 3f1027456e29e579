// Zircon's own hypervisor tests, ported to HTTP: the same guests (rewritten
// in GNU as: tests/fixtures/guest-zircon-x64/, guest-zircon-arm64/), the same
// VMM steps and the same expectations, against zxsim.
//
// The tests found (Fuchsia sources, read in the public mirrors):
// - vsrinivas/fuchsia zircon/system/utest/hypervisor/guest.cc (2019-20,
//   vcpu_resume; commit 11ac53d31b0914f48a5ec3d03a651e53d9c07f02) with
//   x64.S / arm64.S: vcpu_resume, vcpu_read_write_state, vcpu_interrupt,
//   guest_set_trap_with_mem, _with_bell, _with_bell_drop, _with_bell_and_user,
//   _with_bell_and_max_user, guest_set_trap_close_port; arm64 vcpu_wfi,
//   vcpu_wfi_pending_interrupt, vcpu_wfi_aarch32, vcpu_fp, vcpu_fp_aarch32,
//   vcpu_write_state_io_aarch32; x64 vcpu_interrupt_priority, vcpu_nmi,
//   vcpu_nmi_priority, vcpu_exception, vcpu_hlt, vcpu_pause, vcpu_write_cr0,
//   vcpu_write_invalid_cr0, vcpu_compat_mode, vcpu_syscall, vcpu_sysenter,
//   vcpu_sysenter_compat, vcpu_vmcall_invalid_number, vcpu_vmcall_invalid_cpl,
//   vcpu_extended_registers, vcpu_write_state_io_invalid_size,
//   guest_set_trap_with_io.
// - gnoliyil/fuchsia src/virtualization/tests/hypervisor/common_tests.cc
//   (2023, vcpu_enter; commit 85c3f29b041f81f71b0ff5e33b3d5a85623373c3):
//   VcpuEnter, VcpuKick, VcpuSuspendThread, VcpuProcessDestruction,
//   VcpuInvalidThreadReuse, GuestSetTrapWithMem, GuestSetTrapWithBell,
//   GuestSetTrapWithBellDrop, GuestSetTrapWithBellAndUser,
//   GuestSetTrapClosePort, VcpuUseAfterThreadExits, VcpuDeleteFromOtherThread,
//   VmarProtect.
// - gnoliyil/fuchsia src/virtualization/tests/hypervisor/arch/x64/arch_tests.cc
//   (same commit): VcpuReadWriteState, VcpuInterrupt, VcpuInterruptPriority,
//   VcpuNmi, VcpuNmiPriority, VcpuException, VcpuIpi, VcpuHlt, VcpuPause,
//   VcpuWriteCr0, VcpuWriteInvalidCr0, VcpuCompatMode, VcpuSyscall,
//   VcpuSysenter, VcpuSysenterCompat, VcpuVmcallInvalidNumber,
//   VcpuVmcallInvalidCpl, VcpuExtendedRegisters, VcpuWriteStateIoInvalidSize,
//   GuestSetTrapWithIo, CpuidFeatures.
// - gnoliyil/fuchsia src/virtualization/tests/hypervisor/arch/arm64/arch_tests.cc
//   (commit a48ba1c079e11b78e24f922f74f70cffa2fb0e97): VcpuReadWriteState,
//   VcpuInterrupt, VcpuWfi, VcpuWfiPendingInterrupt, VcpuWfiAarch32, VcpuFp,
//   VcpuFpAarch32, VcpuPsciSystemOff, VcpuPsciSystemRestart,
//   VcpuWriteStateIoAarch32, DataCacheSetWayOperations, EnableMmu, DisableMmu.
// - Their harness: vsrinivas/fuchsia src/virtualization/tests/hypervisor/
//   main.cc (SetupGuest, EnterAndCleanExit), constants.h, arch/*/arch.cc,
//   arch/*/constants.h, arch/*/guest_code.S.
//
// The harness, as there: 16 MiB of guest RAM at 0 (x64: PML4 at 0, one
// 1 GiB page in the PDPT at 0x1000, code at 0x2000; arm64: code at 0), a
// MEM trap with key 0 on the last page (EXIT_ADDR), and a VCPU of the calling
// thread. A run ends cleanly with a GUEST_MEM packet at EXIT_ADDR (x64:
// default_operand_size 4, and a 12-byte instruction, the exit's own store).

import assert from "node:assert/strict";
import { type KernelSession, ZxsimError } from "../client/zxsim.ts";
import {
  enter,
  enterFails,
  type Exit,
  type GuestArch,
  n,
  PKT,
  readState,
  reg,
  settle,
} from "./guest_helpers.ts";
import { session } from "./program_helpers.ts";

const RAM_SIZE = 0x1000000;
const PAGE = 0x1000;
const TRAP_ADDR = RAM_SIZE - 2 * PAGE;
const EXIT_ADDR = RAM_SIZE - PAGE;
const TRAP_PORT = 0x11;
const TRAP_KEY = 0x1234;
/** The first vector above the x64 exceptions, the one Zircon's tests inject. */
const INTERRUPT_VECTOR = 32;
const ENTRY: Record<GuestArch, number> = { x64: 0x2000, arm64: 0 };
const STATE_SIZE: Record<GuestArch, number> = { x64: 136, arm64: 264 };

/** One guest, as Zircon's TestCase holds it. */
interface TestCase {
  readonly k: KernelSession;
  readonly guest: number;
  readonly vmar: number;
  readonly vcpu: number;
  readonly sym: Readonly<Record<string, number>>;
}

const u64 = (value: number) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes.toBase64();
};

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** A guest program of tests/fixtures/guest-zircon-<arch>/: its bytes and its labels. */
function zirconProgram(arch: GuestArch, name: string) {
  const folder = new URL(`guest-zircon-${arch}/`, FIXTURES);
  const bytes = Deno.readFileSync(new URL(`${name}.bin`, folder));
  const sym: Record<string, number> = {};
  for (const line of Deno.readTextFileSync(new URL(`${name}.sym`, folder)).split("\n")) {
    const [label, address] = line.split(" ");
    if (label) sym[label] = parseInt(address, 16);
  }
  return { bytes, sym };
}

/** SetupGuest: RAM, page tables (x64), program `name` (or none), the exit trap and a VCPU. */
async function setupGuest(
  k: KernelSession,
  name: string | null,
  resource: number = k.handles!.hypervisor_resource,
): Promise<TestCase> {
  const arch = k.arch as GuestArch;
  const { out: ram } = await k.zx.vmo_create({ size: RAM_SIZE, options: 0 });
  if (arch === "x64") {
    // PML4[0] -> 0x1000 (P | RW | U); PDPT[0]: a 1 GiB page at 0 (P | RW | U | PS).
    await k.zx.vmo_write({ handle: ram, buffer: u64(PAGE | 0x7), offset: 0 });
    await k.zx.vmo_write({ handle: ram, buffer: u64(0x87), offset: PAGE });
  }
  let sym = {};
  if (name !== null) {
    const program = zirconProgram(arch, name);
    await k.zx.vmo_write({ handle: ram, buffer: program.bytes.toBase64(), offset: ENTRY[arch] });
    sym = program.sym;
  }
  const { out: exec } = await k.zx.vmo_replace_as_executable({ handle: ram, vmex: 0 });
  const created = await k.zx.guest_create({
    resource,
    options: 0,
  });
  const guest = created.guest_handle as number, vmar = created.vmar_handle as number;
  await k.zx.vmar_map({
    handle: vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_PERM_EXECUTE", "ZX_VM_SPECIFIC"],
    vmar_offset: 0,
    vmo: exec,
    vmo_offset: 0,
    len: RAM_SIZE,
  });
  await k.zx.handle_close({ handle: exec });
  await k.zx.guest_set_trap({
    handle: guest,
    kind: "ZX_GUEST_TRAP_MEM",
    addr: EXIT_ADDR,
    size: PAGE,
    port_handle: 0,
    key: 0,
  });
  const { out: vcpu } = await k.zx.vcpu_create({ guest, options: 0, entry: ENTRY[arch] });
  return { k, guest, vmar, vcpu, sym };
}

/** The TestCase going out of scope: its handles closed. */
async function teardown(t: TestCase): Promise<void> {
  for (const handle of [t.vcpu, t.vmar, t.guest]) await t.k.zx.handle_close({ handle });
}

/** The x64 guest_mem member (2023 layout), from the packet's bytes, checked against the view. */
function x64MemOf(exit: Exit) {
  assert.equal(exit.type, PKT.GUEST_MEM, `a GUEST_MEM packet: ${JSON.stringify(exit.view)}`);
  const data = new DataView(exit.bytes.buffer);
  const mem = {
    addr: Number(data.getBigUint64(16, true)),
    cr3: Number(data.getBigUint64(24, true)),
    rip: Number(data.getBigUint64(32, true)),
    instruction_size: data.getUint8(40),
    default_operand_size: data.getUint8(41),
  };
  assert.deepEqual(
    {
      addr: n(exit.member.addr),
      cr3: n(exit.member.cr3),
      rip: n(exit.member.rip),
      instruction_size: n(exit.member.instruction_size),
      default_operand_size: n(exit.member.default_operand_size),
    },
    mem,
    "the view's guest_mem is the packet's bytes",
  );
  return mem;
}

/** EnterAndCleanExit: vcpu_enter ends at the exit store, with no exception on the way. */
async function enterAndCleanExit(t: TestCase, interruptsEnabled = false): Promise<Exit> {
  const exit = await enter(t.k, t.vcpu);
  assert.equal(exit.type, PKT.GUEST_MEM, `GUEST_MEM: ${JSON.stringify(exit.view)}`);
  assert.equal(exit.key, 0n);
  assert.equal(n(exit.member.addr), EXIT_ADDR);
  if (t.k.arch === "x64") {
    const mem = x64MemOf(exit);
    assert.equal(mem.default_operand_size, 4);
    // A handler's store would be the same 12 bytes; the tests tell them apart by rax.
    if (interruptsEnabled) assert.equal(mem.instruction_size, 12);
  }
  return exit;
}

async function rejection(promise: Promise<unknown>): Promise<ZxsimError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ZxsimError) return error;
    throw error;
  }
  assert.fail("the call succeeded");
}

/** A new thread of k's process (its handle) and a session acting as it. */
async function newThread(k: KernelSession, name: string) {
  const { out: thread } = await k.zx.thread_create({
    process: k.handles!.process,
    name,
    options: 0,
  });
  return { thread: thread as number, session: await k.asThread(thread as number) };
}

/** SetupGuest made by `other` (handles are the process's: the resource is k's). */
function setupGuestOn(
  k: KernelSession,
  other: { session: KernelSession },
  name: string,
): Promise<TestCase> {
  return setupGuest(other.session, name, k.handles!.hypervisor_resource);
}

/** Registers `body` once per arch, each on a fresh kernel, deleted afterwards. */
function zxTest(
  name: string,
  body: (k: KernelSession, arch: GuestArch) => Promise<void>,
  arches: readonly GuestArch[] = ["x64", "arm64"],
): void {
  for (const arch of arches) {
    Deno.test(`[${arch}] Guest.${name}`, async () => {
      const k = await session(arch);
      try {
        await body(k, arch);
      } finally {
        await k.delete();
      }
    });
  }
}

// ---------------------------------------------------------------------------
// State read and write

zxTest("VcpuReadWriteState", async (k, arch) => {
  const t = await setupGuest(k, "read_write_state");
  const state = new Uint8Array(STATE_SIZE[arch]);
  const view = new DataView(state.buffer);
  if (arch === "x64") {
    // rax..r15 = 1..16, rflags 0 (bit 1 clear: Zircon leaves rflags alone).
    for (let i = 0; i < 16; i++) view.setBigUint64(8 * i, BigInt(i + 1), true);
  } else {
    for (let i = 0; i < 31; i++) view.setBigUint64(8 * i, BigInt(i), true);
    view.setBigUint64(248, 64n, true); // sp
  }
  await k.zx.vcpu_write_state({
    handle: t.vcpu,
    kind: "ZX_VCPU_STATE",
    buffer_size: state.length,
    buffer: state.toBase64(),
  });
  await enterAndCleanExit(t);
  const after = await readState(k, t.vcpu);
  const got = new DataView(after.buffer);
  if (arch === "x64") {
    for (let i = 0; i < 16; i++) assert.equal(reg(after, i), BigInt(2 * (i + 1)), `register ${i}`);
    assert.equal(got.getBigUint64(128, true), (1n << 0n) | (1n << 18n), "rflags == CF | AC");
  } else {
    assert.equal(reg(after, 0), BigInt(EXIT_ADDR), "x0 holds the exit address");
    for (let i = 1; i < 31; i++) assert.equal(reg(after, i), BigInt(2 * i), `x${i}`);
    assert.equal(got.getBigUint64(248, true), 128n, "sp");
    assert.equal(got.getUint32(256, true), 0b0110 << 28, "cpsr == Z | C");
  }
});

zxTest("VcpuWriteStateIoInvalidSize", async (k) => {
  // No code: the VCPU never runs. Zircon checks access_size, not the last exit.
  const t = await setupGuest(k, null);
  const io = (size: number) => {
    const bytes = new Uint8Array(8);
    bytes[0] = size;
    return { handle: t.vcpu, kind: "ZX_VCPU_IO", buffer_size: 8, buffer: bytes.toBase64() };
  };
  for (const size of [1, 2, 4]) await k.zx.vcpu_write_state(io(size));
  for (const size of [0, 3, 5, 255]) {
    const error = await rejection(k.zx.vcpu_write_state(io(size)));
    assert.equal(error.statusName, "ZX_ERR_INVALID_ARGS", `access_size ${size}`);
  }
}, ["x64"]);

zxTest("VcpuWriteStateIoAarch32", async (k) => {
  const t = await setupGuest(k, null);
  const bytes = new Uint8Array(8);
  bytes[0] = 1;
  const error = await rejection(
    k.zx.vcpu_write_state({
      handle: t.vcpu,
      kind: "ZX_VCPU_IO",
      buffer_size: 8,
      buffer: bytes.toBase64(),
    }),
  );
  assert.equal(error.statusName, "ZX_ERR_INVALID_ARGS", "ZX_VCPU_IO is not supported on arm64");
}, ["arm64"]);

// ---------------------------------------------------------------------------
// Running, traps and their packets

zxTest("VcpuEnter", async (k) => {
  const t = await setupGuest(k, "enter");
  await enterAndCleanExit(t);
});

zxTest("GuestSetTrapWithMem", async (k, arch) => {
  const t = await setupGuest(k, "set_trap");
  await k.zx.guest_set_trap({
    handle: t.guest,
    kind: "ZX_GUEST_TRAP_MEM",
    addr: TRAP_ADDR,
    size: PAGE,
    port_handle: 0,
    key: TRAP_KEY,
  });
  const exit = await enter(k, t.vcpu);
  assert.equal(exit.key, BigInt(TRAP_KEY));
  assert.equal(exit.type, PKT.GUEST_MEM);
  assert.equal(n(exit.view.status), 0);
  if (arch === "x64") {
    // 2023 layout: the address, the guest's CR3 (0 here), the instruction's own
    // rip and size (movq $0, TRAP_ADDR: 12 bytes), 64-bit code's operand size 4.
    assert.deepEqual(x64MemOf(exit), {
      addr: TRAP_ADDR,
      cr3: 0,
      rip: t.sym.trap_store,
      instruction_size: 12,
      default_operand_size: 4,
    });
  } else {
    const data = new DataView(exit.bytes.buffer);
    assert.equal(Number(data.getBigUint64(16, true)), TRAP_ADDR);
    assert.deepEqual(
      [data.getUint8(24), data.getUint8(25), data.getUint8(26), data.getUint8(27)],
      [8, 0, 31, 0],
      "str xzr: 8 bytes, no sign extension, xt 31, a write",
    );
    assert.equal(data.getBigUint64(32, true), 0n, "data: xzr");
  }
  await enterAndCleanExit(t);
});

zxTest("GuestSetTrapWithBell", async (k) => {
  const t = await setupGuest(k, "set_trap");
  const { out: port } = await k.zx.port_create({ options: 0 });
  await k.zx.guest_set_trap({
    handle: t.guest,
    kind: "ZX_GUEST_TRAP_BELL",
    addr: TRAP_ADDR,
    size: PAGE,
    port_handle: port,
    key: TRAP_KEY,
  });
  await enterAndCleanExit(t);
  const { packet } = await k.zx.port_wait({ handle: port, deadline: 0 });
  const bytes = Uint8Array.fromBase64(packet as string);
  const data = new DataView(bytes.buffer);
  assert.equal(data.getBigUint64(0, true), BigInt(TRAP_KEY), "key");
  assert.equal(data.getUint32(8, true), PKT.GUEST_BELL, "type");
  assert.equal(data.getInt32(12, true), 0, "status");
  assert.equal(data.getBigUint64(16, true), BigInt(TRAP_ADDR), "guest_bell.addr");
});

zxTest("GuestSetTrapWithBellDrop", async (k) => {
  // The port outlives the guest, which goes with one packet still queued.
  const { out: port } = await k.zx.port_create({ options: 0 });
  const t = await setupGuest(k, "set_trap");
  await k.zx.guest_set_trap({
    handle: t.guest,
    kind: "ZX_GUEST_TRAP_BELL",
    addr: TRAP_ADDR,
    size: PAGE,
    port_handle: port,
    key: TRAP_KEY,
  });
  await enterAndCleanExit(t);
  await teardown(t);
  await k.zx.port_create({ options: 0 }); // the kernel goes on
});

// Zircon's Trap destructor cancels the packets its trap queued and not yet
// read (port CancelQueued with the trap's allocator and key; trap_map.cc,
// Trap::~Trap).
Deno.test({
  name: "[x64] Guest.GuestSetTrapWithBellDrop: the trap's packet goes with the guest",
  fn: async () => {
    const k = await session("x64");
    try {
      const { out: port } = await k.zx.port_create({ options: 0 });
      const t = await setupGuest(k, "set_trap");
      await k.zx.guest_set_trap({
        handle: t.guest,
        kind: "ZX_GUEST_TRAP_BELL",
        addr: TRAP_ADDR,
        size: PAGE,
        port_handle: port,
        key: TRAP_KEY,
      });
      await enterAndCleanExit(t);
      await teardown(t);
      const empty = await rejection(k.zx.port_wait({ handle: port, deadline: 0 }));
      assert.equal(empty.statusName, "ZX_ERR_TIMED_OUT");
    } finally {
      await k.delete();
    }
  },
});

zxTest("GuestSetTrapWithBellAndUser", async (k) => {
  const { out: port } = await k.zx.port_create({ options: 0 });
  // A user packet with the trap's key, queued first.
  const user = new Uint8Array(48);
  new DataView(user.buffer).setBigUint64(0, BigInt(TRAP_KEY), true);
  await k.zx.port_queue({ handle: port, packet: user.toBase64() });
  {
    const t = await setupGuest(k, "set_trap");
    await k.zx.guest_set_trap({
      handle: t.guest,
      kind: "ZX_GUEST_TRAP_BELL",
      addr: TRAP_ADDR,
      size: PAGE,
      port_handle: port,
      key: TRAP_KEY,
    });
    await enterAndCleanExit(t);
    await teardown(t);
  }
  const { packet } = await k.zx.port_wait({ handle: port, deadline: 0 });
  const data = new DataView(Uint8Array.fromBase64(packet as string).buffer);
  assert.equal(data.getBigUint64(0, true), BigInt(TRAP_KEY));
  assert.equal(data.getUint32(8, true), 0, "ZX_PKT_TYPE_USER");
});

zxTest("GuestSetTrapClosePort", async (k) => {
  const { out: port } = await k.zx.port_create({ options: 0 });
  const t = await setupGuest(k, "set_trap");
  await k.zx.guest_set_trap({
    handle: t.guest,
    kind: "ZX_GUEST_TRAP_BELL",
    addr: TRAP_ADDR,
    size: PAGE,
    port_handle: port,
    key: TRAP_KEY,
  });
  await k.zx.handle_close({ handle: port });
  const error = await enterFails(k, t.vcpu);
  assert.equal(error.statusName, "ZX_ERR_BAD_STATE");
  // The store was stepped over before the port was found closed: the next run exits.
  await enterAndCleanExit(t);
});

zxTest("GuestSetTrapWithIo", async (k) => {
  const t = await setupGuest(k, "set_trap_with_io");
  await k.zx.guest_set_trap({
    handle: t.guest,
    kind: "ZX_GUEST_TRAP_IO",
    addr: TRAP_PORT,
    size: 1,
    port_handle: 0,
    key: TRAP_KEY,
  });
  const exit = await enter(k, t.vcpu);
  assert.equal(exit.key, BigInt(TRAP_KEY));
  assert.equal(exit.type, PKT.GUEST_IO);
  const data = new DataView(exit.bytes.buffer);
  assert.deepEqual(
    [data.getUint16(16, true), data.getUint8(18), data.getUint8(19), data.getUint8(20)],
    [TRAP_PORT, 1, 0, 0],
    "port, access_size 1, an out, al = 0",
  );
  await enterAndCleanExit(t);
}, ["x64"]);

zxTest("VmarProtect", async (k) => {
  const t = await setupGuest(k, "enter");
  await k.zx.vmar_protect({
    handle: t.vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_PERM_EXECUTE"],
    addr: 0,
    len: PAGE,
  });
  await enterAndCleanExit(t);
});

// ---------------------------------------------------------------------------
// Kicks and the VCPU's thread

zxTest("VcpuKick", async (k) => {
  // The VCPU is made and entered on another thread; this one kicks it.
  const other = await newThread(k, "vcpu");
  const t = await setupGuestOn(k, other, "wait");
  const pending = enterFails(other.session, t.vcpu);
  await settle();
  await k.zx.vcpu_kick({ handle: t.vcpu });
  assert.equal((await pending).statusName, "ZX_ERR_CANCELED");
});

zxTest("VcpuSuspendThread", async (k) => {
  const other = await newThread(k, "vcpu");
  const t = await setupGuestOn(k, other, "wait");
  const pending = enterFails(other.session, t.vcpu);
  await settle();
  // Suspend the VCPU's thread in its vcpu_enter, see it suspended, resume it.
  const { token } = await k.zx.task_suspend({ handle: other.thread });
  const { observed } = await k.zx.object_wait_one({
    handle: other.thread,
    signals: "ZX_THREAD_SUSPENDED",
    deadline: "0x7fffffffffffffff",
  });
  assert.ok((n(observed) & 0x20) !== 0, "ZX_THREAD_SUSPENDED");
  await k.zx.handle_close({ handle: token });
  // The enter goes on after the resume; the kick ends it.
  await k.zx.vcpu_kick({ handle: t.vcpu });
  assert.equal((await pending).statusName, "ZX_ERR_CANCELED");
});

zxTest("VcpuInvalidThreadReuse", async (k) => {
  {
    const t = await setupGuest(k, "enter");
    const error = await rejection(k.zx.vcpu_create({ guest: t.guest, options: 0, entry: 0 }));
    assert.equal(error.statusName, "ZX_ERR_BAD_STATE", "one VCPU per thread");
    await teardown(t);
  }
  // With the first VCPU gone, the thread may have another.
  const t = await setupGuest(k, "enter");
  await enterAndCleanExit(t);
});

zxTest("VcpuUseAfterThreadExits", async (k) => {
  const other = await newThread(k, "vcpu");
  const t = await setupGuestOn(k, other, "enter");
  await other.session.zx.thread_exit({});
  // Interrupt the VCPU, then close it, after its thread is gone.
  await k.zx.vcpu_interrupt({ handle: t.vcpu, vector: INTERRUPT_VECTOR });
  await k.zx.handle_close({ handle: t.vcpu });
});

zxTest("VcpuDeleteFromOtherThread", async (k) => {
  const other = await newThread(k, "vcpu");
  const t = await setupGuestOn(k, other, "always_exit");
  await other.session.zx.guest_set_trap({
    handle: t.guest,
    kind: "ZX_GUEST_TRAP_MEM",
    addr: TRAP_ADDR,
    size: PAGE,
    port_handle: 0,
    key: TRAP_KEY,
  });
  for (let i = 0; i < 3; i++) {
    const exit = await enter(other.session, t.vcpu);
    assert.deepEqual([exit.type, exit.key], [PKT.GUEST_MEM, BigInt(TRAP_KEY)]);
  }
  // Deleted from this thread, not the one it ran on.
  await k.zx.handle_close({ handle: t.vcpu });
  // The other thread has no VCPU now: it may make another.
  await other.session.zx.vcpu_create({
    guest: t.guest,
    options: 0,
    entry: ENTRY[k.arch as GuestArch],
  });
});

// ---------------------------------------------------------------------------
// Interrupts and exceptions delivered to the guest

/** The interrupt guest after its first run: IDT / vectors ready, interrupts on. */
async function interruptGuest(k: KernelSession): Promise<TestCase> {
  const t = await setupGuest(k, "interrupt");
  if (k.arch === "x64") await enterAndCleanExit(t, true);
  return t;
}

async function rax(t: TestCase): Promise<bigint> {
  return reg(await readState(t.k, t.vcpu), 0);
}

zxTest("VcpuInterrupt", async (k, arch) => {
  const t = await interruptGuest(k);
  await k.zx.vcpu_interrupt({ handle: t.vcpu, vector: INTERRUPT_VECTOR });
  await enterAndCleanExit(t, true);
  if (arch === "x64") assert.equal(await rax(t), BigInt(INTERRUPT_VECTOR));
});

// x64: which of two pending vectors the guest takes first.
for (
  const [name, vectors, taken] of [
    ["VcpuInterruptPriority", [16, INTERRUPT_VECTOR], INTERRUPT_VECTOR],
    ["VcpuNmi", [2], 2],
    ["VcpuException", [16], 16],
  ] as const
) {
  zxTest(name, async (k) => {
    const t = await interruptGuest(k);
    for (const vector of vectors) await k.zx.vcpu_interrupt({ handle: t.vcpu, vector });
    await enterAndCleanExit(t, true);
    assert.equal(await rax(t), BigInt(taken));
  }, ["x64"]);
}

// Zircon takes a pending NMI before any other vector (VcpuNmiPriority: 32 then
// 2 pending, the guest's handler sees 2).
Deno.test({
  name: "[x64] Guest.VcpuNmiPriority",
  fn: async () => {
    const k = await session("x64");
    try {
      const t = await interruptGuest(k);
      await k.zx.vcpu_interrupt({ handle: t.vcpu, vector: INTERRUPT_VECTOR });
      await k.zx.vcpu_interrupt({ handle: t.vcpu, vector: 2 });
      await enterAndCleanExit(t, true);
      assert.equal(await rax(t), 2n);
    } finally {
      await k.delete();
    }
  },
});

zxTest("VcpuHlt", async (k) => {
  const t = await setupGuest(k, "hlt");
  // The interrupt comes from another thread, before the first enter.
  const other = await newThread(k, "interrupter");
  await other.session.zx.vcpu_interrupt({ handle: t.vcpu, vector: INTERRUPT_VECTOR });
  await enterAndCleanExit(t, true);
  assert.equal(await rax(t), BigInt(INTERRUPT_VECTOR));
}, ["x64"]);

zxTest("VcpuWfiPendingInterrupt", async (k) => {
  const t = await setupGuest(k, "wfi_pending_interrupt");
  await k.zx.vcpu_interrupt({ handle: t.vcpu, vector: INTERRUPT_VECTOR });
  await k.zx.vcpu_interrupt({ handle: t.vcpu, vector: INTERRUPT_VECTOR + 1 });
  await enterAndCleanExit(t);
}, ["arm64"]);

// ---------------------------------------------------------------------------
// Instructions the hypervisor handles inside vcpu_enter

zxTest("VcpuPause", async (k) => {
  await enterAndCleanExit(await setupGuest(k, "pause"));
}, ["x64"]);

zxTest("VcpuWriteInvalidCr0", async (k) => {
  const t = await setupGuest(k, "write_invalid_cr0");
  await enterAndCleanExit(t, true);
  assert.equal(await rax(t), 13n, "#GP");
}, ["x64"]);

zxTest("VcpuVmcallInvalidNumber", async (k) => {
  const t = await setupGuest(k, "vmcall_invalid_number");
  await enterAndCleanExit(t);
  assert.equal(await rax(t), BigInt.asUintN(64, -1000n), "UNKNOWN_HYPERCALL");
}, ["x64"]);

zxTest("VcpuExtendedRegisters", async (k) => {
  const t = await setupGuest(k, "extended_registers");
  await enterAndCleanExit(t); // xmm0 set
  await enterAndCleanExit(t); // xmm0 read into rax:rbx
  const state = await readState(k, t.vcpu);
  assert.equal(reg(state, 0), 0x89abcdef01234567n);
  assert.equal(reg(state, 3), 0x76543210fedcba98n);
  await enterAndCleanExit(t); // SSE off
  await enterAndCleanExit(t); // and the guest runs on
}, ["x64"]);

zxTest("VcpuPsciSystemOff", async (k) => {
  const t = await setupGuest(k, "psci_system_off");
  assert.equal((await enterFails(k, t.vcpu)).statusName, "ZX_ERR_UNAVAILABLE");
}, ["arm64"]);

zxTest("VcpuPsciSystemRestart", async (k) => {
  const t = await setupGuest(k, "psci_system_reset");
  assert.equal((await enterFails(k, t.vcpu)).statusName, "ZX_ERR_CANCELED");
}, ["arm64"]);

zxTest("DataCacheSetWayOperations", async (k) => {
  await enterAndCleanExit(await setupGuest(k, "dc_set_way_ops"));
}, ["arm64"]);

zxTest("VcpuFp", async (k) => {
  await enterAndCleanExit(await setupGuest(k, "fp"));
}, ["arm64"]);

zxTest("VcpuWriteCr0", async (k) => {
  const t = await setupGuest(k, "write_cr0");
  await enterAndCleanExit(t);
  const state = await readState(k, t.vcpu);
  // CR0 as first read (rbx): the 2023 VMCS's PE | ET | WP | PG; as read after the
  // write (rax): the shadowed bits as written, NE on.
  assert.equal(reg(state, 3), 0x80010011n, "PE | ET | WP | PG");
  assert.equal(reg(state, 0), 0x80010031n, "PE | ET | NE | WP | PG");
}, ["x64"]);
