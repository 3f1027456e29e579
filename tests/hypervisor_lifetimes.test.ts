// How guests and VCPUs live and die, over HTTP on both arches: a vcpu_enter
// whose thread is killed (its process or its job) or whose kernel is
// deleted ends with a clean reply; a VCPU's last handle frees its thread
// (and its VPID) for another vcpu_create, at once when not entered, when
// the enter ends otherwise; the VCPU holds its guest, so the guest works on
// with no guest handle left and goes only with its last VCPU; the kernel
// summary and ZX_INFO_HANDLE_BASIC show guests (type 20) and VCPUs (21)
// until they are destroyed, and the object count goes back to where it was.

import assert from "node:assert/strict";
import { type Json, PARK_ENTRY, PARK_STACK, type Reply, send, TestKernel } from "./helpers.ts";
import { type Arch, cappedKernel, CODE, ENTRY, makeVm, MEM_TRAP } from "./hypervisor_helpers.ts";

const ARCHES: readonly Arch[] = ["x64", "arm64"];
const OBJ_TYPE = { CHANNEL: 4, GUEST: 20, VCPU: 21 } as const;
const TRAP = { MEM: 1, IO: 2 } as const;
const KEY = 0x77;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (value: bigint) => `0x${value.toString(16)}`;

/**
 * Leaves the guest at once with a packet keyed KEY: x64 `mov $42, %al; out
 * %al, $0x80; jmp .` (an IO trap on port 0x80); arm64 `mov x1, #0x10000000;
 * str x0, [x1]; b .` (a MEM trap at MEM_TRAP).
 */
const EXIT_NOW = {
  x64: CODE.out.x64,
  arm64: new Uint8Array(Uint32Array.of(0xd2a20001, 0xf9000020, 0x14000000).buffer),
};

/** The trap EXIT_NOW and CODE.halt leave through, keyed KEY. */
async function exitTrap(k: TestKernel, guest: number): Promise<void> {
  const trap = k.arch === "x64"
    ? { kind: TRAP.IO, addr: 0x80, size: 1 }
    : { kind: TRAP.MEM, addr: MEM_TRAP, size: 4096 };
  await k.ok("guest_set_trap", { handle: guest, port_handle: 0, key: KEY, ...trap });
}

/** A failed reply: its status, with a real message and never a server error. */
function failed(reply: Reply, status: string, http: number): void {
  assert.equal(reply.body.status, status, JSON.stringify(reply.body));
  assert.equal(reply.http, http, JSON.stringify(reply.body));
  assert.equal(typeof reply.body.message, "string");
}

function summary(k: TestKernel): Promise<Reply> {
  return send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
}

// deno-lint-ignore no-explicit-any
function* processesOf(job: any): Generator<Json> {
  yield* job.processes;
  for (const child of job.jobs) yield* processesOf(child);
}

/** The summary's entry for the process of koid `koid`. */
async function processEntry(k: TestKernel, koid: number): Promise<Json> {
  const reply = await summary(k);
  assert.equal(reply.http, 200, JSON.stringify(reply.body));
  const found = [...processesOf(reply.body.root_job)].find((p) => p.koid === koid);
  assert.ok(found, `process ${koid} is in the summary`);
  return found;
}

/** limits.objects.used of the summary: live kernel objects (a sweep runs first). */
async function objectsUsed(k: TestKernel): Promise<number> {
  const reply = await summary(k);
  assert.equal(reply.http, 200, JSON.stringify(reply.body));
  return reply.body.limits.objects.used;
}

/**
 * A VMM thread in a process of its own (in a job of its own): a new thread
 * of a new process, driven by a token, with the hypervisor resource moved
 * into that process through a channel (the channel's end reaches it as
 * process_start's arg1, for the process's first thread, which parks). The
 * returned TestKernel makes its syscalls, with that resource as its
 * `hypervisor_resource`.
 */
async function vmmProcess(k: TestKernel) {
  const { out: job } = await k.ok("job_create", { parent_job: k.handles.root_job });
  const { proc_handle: process, vmar_handle: vmar } = await k.ok("process_create", {
    job,
    name: "vmm",
  });
  await k.parkIn(vmar);
  const { out0, out1 } = await k.ok("channel_create", {});
  const resource = await k.dup(k.handles.hypervisor_resource);
  await k.ok("channel_write", { handle: out0, handles: [resource] });
  const { out: first } = await k.ok("thread_create", { process, name: "parked" });
  await k.ok("process_start", {
    handle: process,
    thread: first,
    entry: hex(PARK_ENTRY),
    stack: hex(PARK_STACK),
    arg1: out1,
    arg2: 0,
  });
  const { out: thread } = await k.ok("thread_create", { process, name: "vmm" });
  const token = await k.clientToken(thread);
  // The channel's end is the only channel in the new process's table.
  const koid = (await k.basic(process)).koid;
  const channels = (await processEntry(k, koid)).handles.filter(
    (h: Json) => h.type === OBJ_TYPE.CHANNEL,
  );
  assert.equal(channels.length, 1);
  const read = await k.ok("channel_read", { handle: channels[0].handle, num_handles: 1 }, token);
  const vmm = new TestKernel(k.fetcher, k.id, k.arch, token, {
    ...k.handles,
    hypervisor_resource: read.handles[0],
  });
  return { vmm, job: job as number, process: process as number, thread: thread as number, koid };
}

// ---------------------------------------------------------------------------
// The thread dies while its vcpu_enter is in flight

for (const arch of ARCHES) {
  for (const victim of ["process", "job"] as const) {
    for (
      const [guest, scheduler] of [
        ["halted", "free"],
        ["spinning", "free"],
        ["halted", "manual"],
        ["spinning", "manual"],
      ] as const
    ) {
      Deno.test(`[${arch}] killing the ${victim} of a thread in vcpu_enter (${guest} guest, ${scheduler} kernel) ends the call`, async () => {
        const k = await cappedKernel(arch, 5000, { boot_options: { scheduler } });
        await k.parkIn(k.handles.vmar);
        const vmm = await vmmProcess(k);
        const vm = await makeVm(vmm.vmm, guest === "halted" ? CODE.halt[arch] : CODE.spin[arch]);
        await exitTrap(vmm.vmm, vm.guest);
        const start = performance.now();
        const entered = vmm.vmm.call("vcpu_enter", { handle: vm.vcpu });
        await sleep(50);
        const live = await objectsUsed(k);
        await k.ok("task_kill", { handle: vmm[victim] });
        const reply = await entered;
        // zxsim's reply for a call whose thread was killed (Zircon's thread
        // never returns to user space): INTERNAL_INTR_KILLED, at once.
        failed(reply, "ZX_ERR_INTERNAL_INTR_KILLED", 409);
        assert.ok(performance.now() - start < 2000, "the kill ended the call, not the cap");
        // The kernel goes on: the VMM's process is dead, its token is refused.
        const TASK_TERMINATED = 1 << 3;
        assert.ok((await k.signals(vmm.process)) & TASK_TERMINATED, "the process is dead");
        // Its handles closed, the VCPU, the guest and the guest's RAM went with it.
        assert.ok(live - (await objectsUsed(k)) >= 3, "the VCPU, its guest and its RAM are gone");
        const after = await vmm.vmm.call("vcpu_enter", { handle: vm.vcpu });
        assert.ok(after.http === 401 || after.http === 409, JSON.stringify(after));
        assert.equal((await k.ok("clock_get_monotonic")).code, 0);
      });
    }
  }

  Deno.test(`[${arch}] deleting the kernel while vcpu_enter waits ends the call cleanly`, async () => {
    for (const code of [CODE.halt[arch], CODE.spin[arch]]) {
      const k = await cappedKernel(arch, 5000);
      const vm = await makeVm(k, code);
      const { token } = await k.clientThread("other");
      const entered = k.call("vcpu_enter", { handle: vm.vcpu });
      await sleep(50);
      const deleted = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, token, "DELETE");
      assert.ok(deleted.http < 300, JSON.stringify(deleted));
      const reply = await entered;
      failed(reply, "ZX_ERR_INTERNAL_INTR_KILLED", 409);
      assert.equal((await summary(k)).http, 401, "the kernel is gone");
    }
  });
}

// ---------------------------------------------------------------------------
// The VCPU's last handle

for (const arch of ARCHES) {
  Deno.test(`[${arch}] closing a VCPU's last handle frees its thread for another vcpu_create`, async () => {
    const k = await cappedKernel(arch);
    const vm = await makeVm(k, EXIT_NOW[arch]);
    await exitTrap(k, vm.guest);
    failed(
      await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }),
      "ZX_ERR_BAD_STATE",
      409,
    );
    // A duplicate keeps it alive: the thread still has its VCPU.
    const dup = await k.dup(vm.vcpu);
    await k.ok("handle_close", { handle: vm.vcpu });
    failed(
      await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }),
      "ZX_ERR_BAD_STATE",
      409,
    );
    await k.ok("handle_close", { handle: dup });
    const { out: again } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY });
    // A new VCPU, at the entry: it runs to the trap.
    const exit = await k.ok("vcpu_enter", { handle: again });
    assert.equal(BigInt(exit.view.key), BigInt(KEY));
  });

  Deno.test(`[${arch}] a VCPU closed while entered lives until its enter ends, then frees the thread`, async () => {
    // The cap (400 ms) kicks the guest: that is what ends this enter.
    const k = await cappedKernel(arch, 400);
    const vm = await makeVm(k, CODE.halt[arch]);
    const { token } = await k.clientThread("closer");
    const entered = k.call("vcpu_enter", { handle: vm.vcpu });
    await sleep(50);
    // The handle is in the bootstrap process's table; another thread closes it.
    await k.ok("handle_close", { handle: vm.vcpu }, token);
    failed(await entered, "ZX_ERR_CANCELED", 409);
    const { out: again } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY });
    assert.equal((await k.basic(again)).type, OBJ_TYPE.VCPU);
  });
}

// mrs x0, mpidr_el1; mov x1, #0x10000000; str x0, [x1]; b .  (the guest
// stores its MPIDR_EL1, (VPID - 1) | bit 31, to a MEM trap).
const MPIDR_STORE = new Uint8Array(
  Uint32Array.of(0xd53800a0, 0xd2a20001, 0xf9000020, 0x14000000).buffer,
);

Deno.test("[arm64] VPIDs 1 to 7 from a rotating hint (IdAllocator); a destroyed VCPU's VPID is free again", async () => {
  const k = await cappedKernel("arm64");
  const vm = await makeVm(k, MPIDR_STORE, false);
  await k.ok("guest_set_trap", { handle: vm.guest, kind: 1, addr: 0x10000000, size: 4096 });
  const vpidOf = async (vcpu: number, token?: string) => {
    const exit = await k.ok("vcpu_enter", { handle: vcpu }, token);
    return Number(BigInt(exit.view.guest_mem.data) & 0xffffn) + 1;
  };
  // The first VCPU is VPID 1; closed, the next gets VPID 2: the hint moved on.
  const { out: first } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY });
  assert.equal(await vpidOf(first), 1);
  await k.ok("handle_close", { handle: first });
  const { out: second } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY });
  assert.equal(await vpidOf(second), 2);
  await k.ok("handle_close", { handle: second });
  // Seven fit: VPIDs 3..7, then 1 and 2 again.
  const vcpus: { vcpu: number; token: string; vpid: number }[] = [];
  for (let i = 0; i < 7; i++) {
    const { token } = await k.clientThread(`vcpu${i}`);
    const { out } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY }, token);
    vcpus.push({ vcpu: out, token, vpid: await vpidOf(out, token) });
  }
  assert.deepEqual(vcpus.map((v) => v.vpid), [3, 4, 5, 6, 7, 1, 2]);
  failed(
    await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }),
    "ZX_ERR_NO_RESOURCES",
    503,
  );
  // The handles are all in the bootstrap process: any of its threads may close one.
  await k.ok("handle_close", { handle: vcpus[2].vcpu });
  const { out: replacement } = await k.ok("vcpu_create", { guest: vm.guest, entry: ENTRY });
  assert.equal(await vpidOf(replacement), 5, "the only free VPID");
  const { token } = await k.clientThread("eighth");
  failed(
    await k.call("vcpu_create", { guest: vm.guest, entry: ENTRY }, token),
    "ZX_ERR_NO_RESOURCES",
    503,
  );
});

// ---------------------------------------------------------------------------
// The guest lives while a VCPU holds it

for (const arch of ARCHES) {
  Deno.test(`[${arch}] with its guest handle closed the guest works on; it goes with its last VCPU`, async () => {
    const k = await cappedKernel(arch);
    const vm = await makeVm(k, EXIT_NOW[arch]);
    await exitTrap(k, vm.guest);
    await k.ok("handle_close", { handle: vm.guest });
    failed(
      await k.call("guest_set_trap", { handle: vm.guest, kind: TRAP.MEM, addr: 0, size: 4096 }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
    // Its memory and traps are there: the guest runs to the trap.
    const exit = await k.ok("vcpu_enter", { handle: vm.vcpu });
    assert.equal(BigInt(exit.view.key), BigInt(KEY));
    if (arch === "x64") assert.equal(exit.view.guest_io.data, 42);
    else assert.equal(BigInt(exit.view.guest_mem.addr), BigInt(MEM_TRAP));
    // The guest-physical VMAR (its handle still open) is alive while the VCPU is.
    const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
    const mapped = await k.call("vmar_map", {
      handle: vm.vmar,
      options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"],
      vmo,
      vmo_offset: 0,
      len: 4096,
    });
    assert.equal(mapped.body.code, 0, JSON.stringify(mapped.body));
    // The last VCPU goes, and the guest with it: its VMAR is dead.
    await k.ok("handle_close", { handle: vm.vcpu });
    failed(
      await k.call("vmar_map", {
        handle: vm.vmar,
        options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"],
        vmo,
        vmo_offset: 0,
        len: 4096,
      }),
      "ZX_ERR_BAD_STATE",
      409,
    );
  });
}

// ---------------------------------------------------------------------------
// Guests and VCPUs in the summary and in ZX_INFO_HANDLE_BASIC

for (const arch of ARCHES) {
  Deno.test(`[${arch}] the summary and HANDLE_BASIC show the guest (20) and VCPU (21) until destroyed`, async () => {
    const k = await cappedKernel(arch);
    const before = await objectsUsed(k);
    const vm = await makeVm(k, EXIT_NOW[arch]);
    const guest = await k.basic(vm.guest);
    const vcpu = await k.basic(vm.vcpu);
    assert.deepEqual([guest.type, guest.rights], [OBJ_TYPE.GUEST, 0x4800b]);
    assert.deepEqual([vcpu.type, vcpu.rights], [OBJ_TYPE.VCPU, 0xd01f]);
    assert.notEqual(guest.koid, vcpu.koid);

    const process = (await k.basic(k.handles.process)).koid;
    const listed = (await processEntry(k, process)).handles as Json[];
    const entry = (handle: number) => listed.find((h) => h.handle === handle);
    assert.deepEqual(entry(vm.guest), {
      handle: vm.guest,
      koid: guest.koid,
      type: OBJ_TYPE.GUEST,
      type_name: "guest",
      rights: 0x4800b,
    });
    assert.deepEqual(entry(vm.vcpu), {
      handle: vm.vcpu,
      koid: vcpu.koid,
      type: OBJ_TYPE.VCPU,
      type_name: "vcpu",
      rights: 0xd01f,
    });
    // The guest, its RAM's VMO (mapped in guest-physical memory) and the VCPU.
    assert.equal(await objectsUsed(k), before + 3);

    // The guest handle closed: the VCPU still holds the guest (and its RAM).
    await k.ok("handle_close", { handle: vm.guest });
    const afterGuest = (await processEntry(k, process)).handles as Json[];
    assert.equal(afterGuest.some((h) => h.type === OBJ_TYPE.GUEST), false);
    assert.equal(afterGuest.filter((h) => h.type === OBJ_TYPE.VCPU).length, 1);

    // The VCPU closed too, and the guest-physical VMAR: all of it is gone.
    await k.ok("handle_close", { handle: vm.vcpu });
    await k.ok("handle_close", { handle: vm.vmar });
    const afterAll = (await processEntry(k, process)).handles as Json[];
    assert.deepEqual(
      afterAll.filter((h) => [guest.koid, vcpu.koid].includes(h.koid)),
      [],
    );
    assert.equal(await objectsUsed(k), before);
    failed(
      await k.call("object_get_info", { handle: vm.vcpu, topic: "ZX_INFO_HANDLE_BASIC" }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
  });
}
