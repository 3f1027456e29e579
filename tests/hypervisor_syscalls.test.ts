// The hypervisor syscalls over HTTP on both arches: guest_create,
// guest_set_trap, vcpu_create, vcpu_enter / vcpu_resume, vcpu_kick,
// vcpu_interrupt and ZX_INFO_VCPU, each in Zircon's order of checks, and the
// exits vcpu_enter handles or returns.

import assert from "node:assert/strict";
import { expectErr, type Reply, type TestKernel } from "./helpers.ts";
import {
  type Arch,
  cappedKernel,
  CODE,
  ENTRY,
  hvTest,
  makeVm,
  MEM_TRAP,
  vcpuFlags,
} from "./hypervisor_helpers.ts";

const TRAP = { BELL: 0, MEM: 1, IO: 2 } as const;
const PKT_GUEST_IO = 5, PKT_GUEST_MEM = 4, PKT_GUEST_BELL = 3;
const GUEST_RIGHTS = 0x4800b;

function expectStatus(reply: Reply, status: string, http?: number): void {
  assert.equal(reply.body.status, `ZX_ERR_${status}`, JSON.stringify(reply.body));
  if (http !== undefined) assert.equal(reply.http, http);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- guest_create ------------------------------------------------------------------

hvTest("guest_create: a guest (0x4800B) and its guest-physical VMAR at 0", async (k, arch) => {
  const created = await k.ok("guest_create", { resource: k.handles.hypervisor_resource });
  const guest = await k.basic(created.guest_handle);
  assert.equal(guest.type, 20);
  assert.equal(guest.rights, GUEST_RIGHTS);
  const vmar = await k.basic(created.vmar_handle);
  assert.equal(vmar.type, 18);
  // The default VMAR rights plus READ, WRITE, EXECUTE (its CAN_MAP_* flags).
  assert.equal(vmar.rights, 0x20801f);
  const info = await k.ok("object_get_info", {
    handle: created.vmar_handle,
    topic: "ZX_INFO_VMAR",
  });
  assert.equal(BigInt(info.info.base), 0n);
  assert.equal(BigInt(info.info.len), arch === "x64" ? 1n << 48n : 1n << 36n);
});

hvTest("guest_create: the resource first (WRONG_TYPE, BAD_HANDLE), then options", async (k) => {
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  expectErr(await k.call("guest_create", { resource: vmo, options: 1 }), "WRONG_TYPE");
  expectErr(await k.call("guest_create", { resource: 0x7777_7777, options: 1 }), "BAD_HANDLE");
  expectErr(
    await k.call("guest_create", { resource: k.handles.hypervisor_resource, options: 1 }),
    "INVALID_ARGS",
  );
  // No rights are needed on the resource.
  const bare = await k.reduced(k.handles.hypervisor_resource, 0);
  assert.equal((await k.call("guest_create", { resource: bare })).body.code, 0);
});

// --- guest_set_trap --------------------------------------------------------------

function setTrap(k: TestKernel, guest: number, body: Record<string, unknown>): Promise<Reply> {
  return k.call("guest_set_trap", { handle: guest, port_handle: 0, key: 0, ...body });
}

hvTest("guest_set_trap: guest WRITE, then port WRITE, then the trap rules", async (k) => {
  const vm = await makeVm(k, undefined, false);
  const { out: port } = await k.ok("port_create", {});
  const noWrite = await k.reduced(vm.guest, GUEST_RIGHTS & ~0x8);
  expectErr(await setTrap(k, noWrite, { kind: 7, addr: 1, size: 0 }), "ACCESS_DENIED");
  const portNoWrite = await k.reduced(port, 0x800f & ~0x8);
  expectErr(
    await setTrap(k, vm.guest, { kind: 7, addr: 1, size: 0, port_handle: portNoWrite }),
    "ACCESS_DENIED",
  );
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.BELL, addr: 0, size: 4096, port_handle: vm.vmar }),
    "WRONG_TYPE",
  );
  expectErr(await setTrap(k, vm.vmar, { kind: TRAP.MEM, addr: 0, size: 4096 }), "WRONG_TYPE");
  expectErr(await setTrap(k, vm.guest, { kind: 3, addr: 0x10000000, size: 4096 }), "INVALID_ARGS");
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: 0x10000000, size: 4096, port_handle: port }),
    "INVALID_ARGS",
  );
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.BELL, addr: 0x10000000, size: 4096 }),
    "INVALID_ARGS",
  );
  // Page alignment of addr and size (MEM and BELL).
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: 0x10000001, size: 4096 }),
    "INVALID_ARGS",
  );
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: 0x10000000, size: 100 }),
    "INVALID_ARGS",
  );
  // Size 0 and a range past the guest-physical space: the unmap refuses them first.
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: 0x10000000, size: 0 }),
    "INVALID_ARGS",
  );
  expectErr(
    await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: "0xfffffffffffff000", size: 0x2000 }),
    "INVALID_ARGS",
  );
  // Overlap: BELL and MEM share one space.
  await k.ok("guest_set_trap", {
    handle: vm.guest,
    kind: "ZX_GUEST_TRAP_MEM",
    addr: 0x10000000,
    size: 0x2000,
  });
  expectStatus(
    await setTrap(k, vm.guest, {
      kind: TRAP.BELL,
      addr: 0x10001000,
      size: 4096,
      port_handle: port,
    }),
    "ALREADY_EXISTS",
  );
  expectStatus(
    await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: 0xffff000, size: 0x2000 }),
    "ALREADY_EXISTS",
  );
  assert.equal(
    (await setTrap(k, vm.guest, {
      kind: TRAP.BELL,
      addr: 0x10002000,
      size: 4096,
      port_handle: port,
    }))
      .body.code,
    0,
  );
});

hvTest(
  "guest_set_trap IO (x64): no alignment, ports must end below 0xFFFF, own space",
  async (k) => {
    const vm = await makeVm(k, undefined, false);
    const { out: port } = await k.ok("port_create", {});
    expectErr(
      await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0x80, size: 1, port_handle: port }),
      "INVALID_ARGS",
    );
    expectStatus(
      await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0x80, size: 0 }),
      "OUT_OF_RANGE",
    );
    expectStatus(
      await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0xffff, size: 1 }),
      "OUT_OF_RANGE",
    );
    assert.equal(
      (await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0xfffe, size: 1 })).body.code,
      0,
    );
    assert.equal(
      (await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0x3f8, size: 8 })).body.code,
      0,
    );
    expectStatus(
      await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0x3ff, size: 1 }),
      "ALREADY_EXISTS",
    );
    // The same numbers as memory are another space.
    assert.equal(
      (await setTrap(k, vm.guest, { kind: TRAP.MEM, addr: 0x3000_0000, size: 4096 })).body.code,
      0,
    );
  },
  ["x64"],
);

hvTest("guest_set_trap IO on arm64 is NOT_SUPPORTED, after the kind's port rule", async (k) => {
  const vm = await makeVm(k, undefined, false);
  expectStatus(
    await setTrap(k, vm.guest, { kind: TRAP.IO, addr: 0x80, size: 1 }),
    "NOT_SUPPORTED",
    501,
  );
}, ["arm64"]);

hvTest("a MEM trap unmaps its range from guest-physical memory", async (k) => {
  const vm = await makeVm(k, undefined, false);
  const maps = async () =>
    (await k.ok("object_get_info", { handle: vm.vmar, topic: "ZX_INFO_VMAR" })).info;
  assert.ok(await maps());
  await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.MEM, addr: 0x8000, size: 0x1000 });
  // Mapping over the trap's page works again only with SPECIFIC_OVERWRITE-free space: it is free now.
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  assert.equal(
    (await k.call("vmar_map", {
      handle: vm.vmar,
      options: ["ZX_VM_PERM_READ", "ZX_VM_SPECIFIC"],
      vmar_offset: 0x8000,
      vmo,
      vmo_offset: 0,
      len: 4096,
    })).body.code,
    0,
    "the trapped page was unmapped",
  );
});

// --- vcpu_create ---------------------------------------------------------------

hvTest(
  "vcpu_create: options, guest (MANAGE_THREAD), entry, then one VCPU per thread",
  async (k) => {
    const vm = await makeVm(k, undefined, false);
    const noManage = await k.reduced(vm.guest, GUEST_RIGHTS & ~(1 << 18));
    expectErr(
      await k.call("vcpu_create", { guest: noManage, options: 1, entry: 0 }),
      "INVALID_ARGS",
    );
    expectErr(await k.call("vcpu_create", { guest: noManage, entry: 0 }), "ACCESS_DENIED");
    expectErr(await k.call("vcpu_create", { guest: vm.vmar, entry: 0 }), "WRONG_TYPE");
    const size = k.arch === "x64" ? 1n << 48n : 1n << 36n;
    expectErr(
      await k.call("vcpu_create", { guest: vm.guest, entry: `0x${size.toString(16)}` }),
      "INVALID_ARGS",
    );
    const first = await k.ok("vcpu_create", {
      guest: vm.guest,
      entry: `0x${(size - 1n).toString(16)}`,
    });
    const info = await k.basic(first.out);
    assert.equal(info.type, 21);
    assert.equal(info.rights, 0xd01f);
    // A second VCPU on the same thread: BAD_STATE, whatever the guest.
    const other = await makeVm(k, undefined, false);
    expectErr(await k.call("vcpu_create", { guest: other.guest, entry: ENTRY }), "BAD_STATE");
    // A duplicate keeps it alive; closing every handle destroys it and frees the thread.
    const dup = await k.dup(first.out);
    await k.ok("handle_close", { handle: first.out });
    expectErr(await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }), "BAD_STATE");
    await k.ok("handle_close", { handle: dup });
    assert.equal((await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY })).body.code, 0);
  },
);

hvTest(
  "vcpu_create: another thread gets a VCPU of its own; NO_RESOURCES past VPID kMaxGuestVcpus - 1; each arch's order",
  async (k, arch) => {
    const vm = await makeVm(k, undefined, false);
    // IdAllocator hands out VPIDs 1 .. kMaxGuestVcpus - 1 (x64 64, arm64 8).
    const max = arch === "x64" ? 63 : 7;
    for (let i = 0; i < max; i++) {
      const { token } = await k.clientThread(`vcpu${i}`);
      await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY }, token);
    }
    const { token } = await k.clientThread("one too many");
    const reply = await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }, token);
    expectStatus(reply, "NO_RESOURCES");
    // A full guest with a bad entry: x64 takes the VPID first (NormalVcpu::Create),
    // arm64 checks the entry first.
    expectStatus(
      await k.call("vcpu_create", { guest: vm.guest, entry: "0x1000000000000" }, token),
      arch === "x64" ? "NO_RESOURCES" : "INVALID_ARGS",
    );
    // A full guest and a thread that has a VCPU already: x64 NO_RESOURCES
    // (the VPID first), arm64 BAD_STATE (the thread before the VPID).
    const again = await k.ok("vcpu_create", {
      guest: (await makeVm(k, undefined, false)).guest,
      entry: ENTRY,
    });
    assert.ok(again.out);
    expectStatus(
      await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }),
      arch === "x64" ? "NO_RESOURCES" : "BAD_STATE",
    );
  },
);

// --- vcpu_enter: kick, cap, packets -----------------------------------------------

hvTest(
  "a kick before vcpu_enter cancels it once (ZX_INFO_VCPU shows it), then enter runs",
  async (k, arch) => {
    const code = arch === "x64" ? CODE.out.x64 : CODE.halt.arm64;
    const vm = await makeVm(k, code);
    if (arch === "arm64") {
      await k.ok("guest_set_trap", {
        handle: vm.guest,
        kind: TRAP.MEM,
        addr: MEM_TRAP,
        size: 4096,
        key: 9,
      });
    } else {
      await k.ok("guest_set_trap", {
        handle: vm.guest,
        kind: TRAP.IO,
        addr: 0x80,
        size: 1,
        key: 9,
      });
    }
    assert.equal(await vcpuFlags(k, vm.vcpu), 0);
    await k.ok("vcpu_kick", { handle: vm.vcpu });
    await k.ok("vcpu_kick", { handle: vm.vcpu }); // kicks do not accumulate
    assert.equal(await vcpuFlags(k, vm.vcpu), 1);
    const canceled = await k.call("vcpu_enter", { handle: vm.vcpu });
    expectStatus(canceled, "CANCELED", 409);
    assert.equal(await vcpuFlags(k, vm.vcpu), 0);
    if (arch === "arm64") await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 40 }); // ends the wfi
    const entered = await k.ok("vcpu_resume", { handle: vm.vcpu });
    assert.equal(entered.view.key, "0x0000000000000009");
    assert.equal(entered.view.type, arch === "x64" ? PKT_GUEST_IO : PKT_GUEST_MEM);
    assert.equal(Uint8Array.fromBase64(entered.packet).length, 48);
  },
);

hvTest(
  "x64 IO: an `out` packet; an `in` answered with ZX_VCPU_IO; an untrapped port NOT_FOUND",
  async (k) => {
    const vm = await makeVm(k, CODE.inOut.x64);
    expectStatus(await k.call("vcpu_enter", { handle: vm.vcpu }), "NOT_FOUND");
    await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.IO, addr: 0x80, size: 2, key: 5 });
    const input = await k.ok("vcpu_enter", { handle: vm.vcpu });
    const zero = "0x0000000000000000";
    assert.deepEqual(input.view.guest_io, {
      port: 0x81,
      access_size: 1,
      input: 1,
      data: 0,
      reserved0: zero,
      reserved1: zero,
      reserved2: zero,
    });
    assert.equal(input.view.status, 0);
    await k.ok("vcpu_write_state", {
      handle: vm.vcpu,
      kind: "ZX_VCPU_IO",
      regs: { access_size: 1, data: 0x5a },
    });
    const output = await k.ok("vcpu_enter", { handle: vm.vcpu });
    assert.equal(output.view.guest_io.port, 0x80);
    assert.equal(output.view.guest_io.input, 0);
    assert.equal(output.view.guest_io.data, 0x5a);
    const packet = Uint8Array.fromBase64(output.packet);
    assert.equal(packet[8], PKT_GUEST_IO);
    assert.deepEqual([...packet.subarray(16, 24)], [0x80, 0, 1, 0, 0x5a, 0, 0, 0]);
  },
  ["x64"],
);

hvTest("arm64 MEM: a load's packet, completed by writing x[xt] with ZX_VCPU_STATE", async (k) => {
  const vm = await makeVm(k, CODE.load.arm64);
  await k.ok("guest_set_trap", {
    handle: vm.guest,
    kind: TRAP.MEM,
    addr: MEM_TRAP,
    size: 4096,
    key: 3,
  });
  const exit = await k.ok("vcpu_enter", { handle: vm.vcpu });
  assert.equal(exit.view.type, PKT_GUEST_MEM);
  assert.equal(BigInt(exit.view.guest_mem.addr), BigInt(MEM_TRAP));
  assert.equal(exit.view.guest_mem.xt, 2);
  assert.equal(exit.view.guest_mem.read, 1);
  assert.equal(exit.view.guest_mem.access_size, 8);
  await k.ok("vcpu_write_state", { handle: vm.vcpu, kind: 0, regs: { "x[2]": "0x1234" } });
  const state = await k.ok("vcpu_read_state", { handle: vm.vcpu, kind: 0 });
  assert.equal(BigInt(state.regs.x[2]), 0x1234n);
}, ["arm64"]);

hvTest(
  "guest-physical faults: unmapped NOT_FOUND, past the space OUT_OF_RANGE",
  async (k, arch) => {
    const vm = await makeVm(k, CODE.unmapped[arch]);
    expectStatus(await k.call("vcpu_enter", { handle: vm.vcpu }), "NOT_FOUND");
    if (arch === "arm64") {
      const far = await makeVmOnOwnThread(k, CODE.outOfRange.arm64);
      expectStatus(await k.call("vcpu_enter", { handle: far.vcpu }, far.token), "OUT_OF_RANGE");
    }
  },
);

/** A VM whose VCPU belongs to a new client thread (the bootstrap thread has one already). */
async function makeVmOnOwnThread(k: TestKernel, code: Uint8Array) {
  const vm = await makeVm(k, code, false);
  const { token } = await k.clientThread("vmm");
  const { out: vcpu } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY }, token);
  return { ...vm, vcpu, token };
}

hvTest("an undefined instruction with no handler in the guest is NOT_SUPPORTED", async (k) => {
  // x64 `ud2` with no IDT (a triple fault); arm64 `udf #0` with VBAR_EL1 still 0.
  const code = k.arch === "x64" ? Uint8Array.of(0x0f, 0x0b) : new Uint8Array(4);
  const vm = await makeVm(k, code);
  expectStatus(await k.call("vcpu_enter", { handle: vm.vcpu }), "NOT_SUPPORTED", 501);
});

hvTest("arm64: an undefined instruction goes to the guest's own vector table", async (k) => {
  // At ENTRY: mov x0, #0x5000; msr vbar_el1, x0; udf #0; b .
  // At 0x5200 (current EL, SP_ELx, synchronous): mrs x0, esr_el1;
  // mov x1, #0x10000000; str x0, [x1]; b .  (a MEM trap store of ESR_EL1)
  const words = new Uint32Array((0x5210 - ENTRY) / 4);
  words.set([0xd28a0000, 0xd518c000, 0x00000000, 0x14000000]);
  words.set([0xd5385200, 0xd2a20001, 0xf9000020, 0x14000000], (0x5200 - ENTRY) / 4);
  const vm = await makeVm(k, new Uint8Array(words.buffer));
  await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.MEM, addr: MEM_TRAP, size: 4096 });
  const exit = await k.ok("vcpu_enter", { handle: vm.vcpu });
  assert.equal(exit.view.type, PKT_GUEST_MEM);
  // ESR_EL1: EC 0 (unknown reason), IL set.
  assert.equal(BigInt(exit.view.guest_mem.data), 0x2000000n);
}, ["arm64"]);

hvTest(
  "arm64: a MEM-trapped ldp has no syndrome: IO_DATA_INTEGRITY; PSCI CPU_OFF: STOP",
  async (k) => {
    // mov x1, #0x10000000; ldp x2, x3, [x1]; b .
    const pair = await makeVm(
      k,
      new Uint8Array(Uint32Array.of(0xd2a20001, 0xa9400c22, 0x14000000).buffer),
    );
    await k.ok("guest_set_trap", {
      handle: pair.guest,
      kind: TRAP.MEM,
      addr: MEM_TRAP,
      size: 4096,
    });
    expectStatus(await k.call("vcpu_enter", { handle: pair.vcpu }), "IO_DATA_INTEGRITY", 400);
    // mov w0, #2; movk w0, #0x8400, lsl #16; smc #0   (PSCI CPU_OFF, 0x84000002)
    const off = await makeVmOnOwnThread(
      k,
      new Uint8Array(Uint32Array.of(0x52800040, 0x72b08000, 0xd4000003).buffer),
    );
    expectStatus(await k.call("vcpu_enter", { handle: off.vcpu }, off.token), "STOP", 400);
  },
  ["arm64"],
);

hvTest("arm64 PSCI SYSTEM_OFF: UNAVAILABLE; an hvc: NOT_SUPPORTED", async (k) => {
  const vm = await makeVm(k, CODE.systemOff.arm64);
  expectStatus(await k.call("vcpu_enter", { handle: vm.vcpu }), "UNAVAILABLE", 503);
  const hvc = await makeVmOnOwnThread(k, CODE.hvc.arm64);
  expectStatus(await k.call("vcpu_enter", { handle: hvc.vcpu }, hvc.token), "NOT_SUPPORTED", 501);
}, ["arm64"]);

hvTest("vcpu_enter from another thread is BAD_STATE; EXECUTE is needed", async (k) => {
  const vm = await makeVm(k);
  const { token } = await k.clientThread("other");
  expectErr(await k.call("vcpu_enter", { handle: vm.vcpu }, token), "BAD_STATE");
  const noExecute = await k.reduced(vm.vcpu, 0xd01f & ~0x10);
  expectErr(await k.call("vcpu_enter", { handle: noExecute }), "ACCESS_DENIED");
  expectErr(await k.call("vcpu_kick", { handle: noExecute }), "ACCESS_DENIED");
  expectErr(await k.call("vcpu_enter", { handle: vm.guest }), "WRONG_TYPE");
});

hvTest("the server's cap kicks a running guest: CANCELED, and the next enter runs", async (k) => {
  const vm = await makeVm(k);
  const start = performance.now();
  const reply = await k.call("vcpu_enter", { handle: vm.vcpu });
  expectStatus(reply, "CANCELED", 409);
  assert.ok(performance.now() - start >= 350, "it ran until the cap");
  assert.equal(await vcpuFlags(k, vm.vcpu), 0, "the cap's kick was consumed");
});

// --- halt, interrupts --------------------------------------------------------------

hvTest("a halted guest waits; vcpu_interrupt from another thread wakes it", async (k, arch) => {
  const vm = await makeVm(k, CODE.halt[arch]);
  if (arch === "x64") {
    await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.IO, addr: 0x80, size: 1, key: 2 });
  } else {
    await k.ok("guest_set_trap", {
      handle: vm.guest,
      kind: TRAP.MEM,
      addr: MEM_TRAP,
      size: 4096,
      key: 2,
    });
  }
  const { token } = await k.clientThread("irq");
  const entered = k.call("vcpu_enter", { handle: vm.vcpu });
  await sleep(50);
  // Halted, the thread waits in vcpu_enter; it reports RUNNING (it is in the kernel running a guest).
  const info = await k.ok(
    "object_get_info",
    { handle: k.handles.thread, topic: "ZX_INFO_THREAD" },
    token,
  );
  assert.equal(info.info.state, 1);
  await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 64 }, token);
  const exit = await entered;
  assert.equal(exit.body.code, 0, JSON.stringify(exit.body));
  assert.equal(BigInt(exit.body.view.key), 2n);
});

hvTest("a halted guest and a kick: CANCELED", async (k, arch) => {
  const vm = await makeVm(k, CODE.halt[arch]);
  const { token } = await k.clientThread("kicker");
  const entered = k.call("vcpu_enter", { handle: vm.vcpu });
  await sleep(50);
  await k.ok("vcpu_kick", { handle: vm.vcpu }, token);
  expectStatus(await entered, "CANCELED", 409);
  assert.equal(await vcpuFlags(k, vm.vcpu), 0);
});

hvTest("vcpu_interrupt: SIGNAL, any thread, vector < 256 (else OUT_OF_RANGE)", async (k) => {
  const vm = await makeVm(k);
  const { token } = await k.clientThread("other");
  await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 255 }, token);
  expectStatus(await k.call("vcpu_interrupt", { handle: vm.vcpu, vector: 256 }), "OUT_OF_RANGE");
  const noSignal = await k.reduced(vm.vcpu, 0xd01f & ~0x1000);
  expectErr(await k.call("vcpu_interrupt", { handle: noSignal, vector: 256 }), "ACCESS_DENIED");
  expectErr(await k.call("vcpu_interrupt", { handle: vm.guest, vector: 1 }), "WRONG_TYPE");
});

hvTest("x64: a pending reserved vector (21..31) makes the next enter NOT_SUPPORTED", async (k) => {
  const vm = await makeVm(k);
  await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 25 });
  expectStatus(await k.call("vcpu_enter", { handle: vm.vcpu }), "NOT_SUPPORTED", 501);
}, ["x64"]);

hvTest("vcpu_interrupt works after the VCPU's thread died", async (k) => {
  const vm = await makeVm(k, undefined, false);
  const { thread, token } = await k.clientThread("short-lived");
  const { out: vcpu } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY }, token);
  await k.ok("thread_exit", {}, token);
  assert.equal((await k.basic(thread)).type, 2);
  await k.ok("vcpu_interrupt", { handle: vcpu, vector: 40 });
  await k.ok("vcpu_kick", { handle: vcpu });
  expectErr(await k.call("vcpu_read_state", { handle: vcpu, kind: 0 }), "BAD_STATE");
});

// --- BELL traps ---------------------------------------------------------------------

hvTest("BELL: a write queues a packet on the port and the guest goes on", async (k, arch) => {
  // x64: `movl $1, 0x20000` then out; arm64: str to the bell then a MEM store.
  const code = arch === "x64"
    ? Uint8Array.of(
      0xc7,
      0x04,
      0x25,
      0x00,
      0x00,
      0x02,
      0x00,
      0x01,
      0x00,
      0x00,
      0x00,
      0xe6,
      0x80,
      0xeb,
      0xfe,
    )
    : new Uint8Array(
      Uint32Array.of(0xd2a00041, 0xf9000020, 0xd2a20001, 0xf9000020, 0x14000000).buffer,
    );
  const vm = await makeVm(k, code);
  const { out: port } = await k.ok("port_create", {});
  await k.ok("guest_set_trap", {
    handle: vm.guest,
    kind: TRAP.BELL,
    addr: 0x20000,
    size: 4096,
    port_handle: port,
    key: 11,
  });
  if (arch === "x64") {
    await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.IO, addr: 0x80, size: 1, key: 12 });
  } else {
    await k.ok("guest_set_trap", {
      handle: vm.guest,
      kind: TRAP.MEM,
      addr: MEM_TRAP,
      size: 4096,
      key: 12,
    });
  }
  const exit = await k.ok("vcpu_enter", { handle: vm.vcpu });
  assert.equal(BigInt(exit.view.key), 12n);
  const bell = await k.ok("port_wait", { handle: port, deadline: 0 });
  assert.equal(bell.view.type, PKT_GUEST_BELL);
  assert.equal(BigInt(bell.view.key), 11n);
  assert.equal(BigInt(bell.view.guest_bell.addr), 0x20000n);
});

hvTest("BELL with its port closed: enter BAD_STATE, then goes on past the write", async (k) => {
  const code = Uint8Array.of(
    0xc7,
    0x04,
    0x25,
    0x00,
    0x00,
    0x02,
    0x00,
    0x01,
    0x00,
    0x00,
    0x00,
    0xe6,
    0x80,
    0xeb,
    0xfe,
  );
  const vm = await makeVm(k, code);
  const { out: port } = await k.ok("port_create", {});
  await k.ok("guest_set_trap", {
    handle: vm.guest,
    kind: TRAP.BELL,
    addr: 0x20000,
    size: 4096,
    port_handle: port,
  });
  await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.IO, addr: 0x80, size: 1, key: 12 });
  await k.ok("handle_close", { handle: port });
  expectErr(await k.call("vcpu_enter", { handle: vm.vcpu }), "BAD_STATE");
  assert.equal(BigInt((await k.ok("vcpu_enter", { handle: vm.vcpu })).view.key), 12n);
}, ["x64"]);

// --- manual kernels ----------------------------------------------------------------

for (const arch of ["x64", "arm64"] as Arch[]) {
  Deno.test(`[${arch}] manual kernel: enter runs while driven; a halted guest is woken from outside`, async () => {
    const k = await cappedKernel(arch, 2000, { boot_options: { scheduler: "manual" } });
    const vm = await makeVm(k, CODE.halt[arch]);
    if (arch === "x64") {
      await k.ok("guest_set_trap", {
        handle: vm.guest,
        kind: TRAP.IO,
        addr: 0x80,
        size: 1,
        key: 4,
      });
    } else {
      await k.ok("guest_set_trap", {
        handle: vm.guest,
        kind: TRAP.MEM,
        addr: MEM_TRAP,
        size: 4096,
        key: 4,
      });
    }
    const { token } = await k.clientThread("irq");
    const entered = k.call("vcpu_enter", { handle: vm.vcpu });
    await sleep(30);
    await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 48 }, token);
    const exit = await entered;
    assert.equal(exit.body.code, 0, JSON.stringify(exit.body));
    assert.equal(BigInt(exit.body.view.key), 4n);
  });
}

hvTest(
  "a kick while the thread in vcpu_enter is suspended and its guest halted: CANCELED once resumed",
  async (k, arch) => {
    const vm = await makeVm(k, CODE.halt[arch]);
    const { token } = await k.clientThread("debugger");
    const entered = k.call("vcpu_enter", { handle: vm.vcpu });
    await sleep(30);
    const { token: suspension } = await k.ok("task_suspend", { handle: k.handles.thread }, token);
    await k.ok("vcpu_kick", { handle: vm.vcpu }, token);
    let settled = false;
    void entered.then(() => settled = true);
    await sleep(60);
    assert.equal(settled, false, "a suspended thread does not return from its syscall");
    await k.ok("handle_close", { handle: suspension }, token);
    expectStatus(await entered, "CANCELED", 409);
    assert.equal(await vcpuFlags(k, vm.vcpu), 0, "the kick was consumed");
  },
);

hvTest("arm64: the best-priority pending INTID the GIC would signal is taken first", async (k) => {
  // At ENTRY: mov x0, #0x5000; msr vbar_el1, x0; mov x0, #0x10;
  // msr icc_pmr_el1, x0 (SPIs, priority 0x10, masked); msr daifclr, #2; 1: wfi; b 1b
  // At 0x5280 (IRQ, current EL, SP_ELx): mrs x0, icc_iar1_el1;
  // mov x1, #0x10000000; str x0, [x1] (a MEM trap); msr icc_eoir1_el1, x0; eret
  const words = new Uint32Array((0x5300 - ENTRY) / 4);
  words.set([0xd28a0000, 0xd518c000, 0xd2800200, 0xd5184600, 0xd50342ff, 0xd503207f, 0x17ffffff]);
  words.set([0xd538cc00, 0xd2a20001, 0xf9000020, 0xd518cc20, 0xd69f03e0], (0x5280 - ENTRY) / 4);
  const vm = await makeVm(k, new Uint8Array(words.buffer));
  await k.ok("guest_set_trap", { handle: vm.guest, kind: TRAP.MEM, addr: MEM_TRAP, size: 4096 });
  // An SPI (40) and an SGI (5): the SPI is higher but masked by the priority mask.
  await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 40 });
  await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 5 });
  const exit = await k.ok("vcpu_enter", { handle: vm.vcpu });
  assert.equal(exit.view.type, PKT_GUEST_MEM);
  assert.equal(BigInt(exit.view.guest_mem.data), 5n, "the SGI, priority 0, went first");
}, ["arm64"]);

hvTest(
  "suspending the thread in vcpu_enter pauses the guest; resumed, it goes on",
  async (k, arch) => {
    const vm = await makeVm(k, CODE.halt[arch]);
    if (arch === "x64") {
      await k.ok("guest_set_trap", {
        handle: vm.guest,
        kind: TRAP.IO,
        addr: 0x80,
        size: 1,
        key: 6,
      });
    } else {
      await k.ok("guest_set_trap", {
        handle: vm.guest,
        kind: TRAP.MEM,
        addr: MEM_TRAP,
        size: 4096,
        key: 6,
      });
    }
    const { token } = await k.clientThread("debugger");
    const entered = k.call("vcpu_enter", { handle: vm.vcpu });
    await sleep(30);
    const { token: suspension } = await k.ok("task_suspend", { handle: k.handles.thread }, token);
    await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 40 }, token);
    await sleep(30);
    let settled = false;
    void entered.then(() => settled = true);
    await sleep(30);
    assert.equal(settled, false, "a suspended thread's guest does not run");
    await k.ok("handle_close", { handle: suspension }, token);
    const exit = await entered;
    assert.equal(exit.body.code, 0, JSON.stringify(exit.body));
    assert.equal(BigInt(exit.body.view.key), 6n);
  },
);
