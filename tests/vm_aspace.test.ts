// A process's address space as the cores and the kernel use it (page(),
// generation, readUser / writeUser) and as debuggers do
// (zx_process_read_memory / zx_process_write_memory): one set of pages.

import assert from "node:assert/strict";
import { ACCESS } from "../arch/cpu.ts";
import { ERR, type ZxError } from "../kernel/status.ts";
import { VM } from "../kernel/types.ts";
import { Vmo } from "../kernel/vmo.ts";
import {
  ASPACE,
  bytesOf,
  expectZx,
  freshProcess,
  map,
  newVmo,
  PAGE,
  peek,
  textOf,
  vmKernel,
  vmoInfo,
} from "./vm_helpers.ts";

const R = "ZX_VM_PERM_READ", W = "ZX_VM_PERM_WRITE";
const BASE = ASPACE.x64.base;
const MIB64 = 64 * 1024 * 1024;

async function setup(options = {}, boot = {}) {
  const vk = await vmKernel("x64", options, boot);
  return { ...vk, ...(await freshProcess(vk)) };
}

Deno.test("page(): permissions, unmapped addresses, the VMO's end", async () => {
  const { k, vmar, process } = await setup();
  const aspace = process.aspace;
  const vmo = await newVmo(k, PAGE);
  const ro = await map(k, vmar, vmo, 2 * PAGE, [R]); // the second page is past the VMO's end
  assert.ok(aspace.page(ro + 5, ACCESS.READ));
  assert.equal(aspace.page(ro, ACCESS.WRITE), null);
  assert.equal(aspace.page(ro, ACCESS.READ | ACCESS.EXECUTE), null);
  assert.equal(aspace.page(ro + PAGE, ACCESS.READ), null); // past the end: a fault
  assert.equal(aspace.page(ro + 2 * PAGE, ACCESS.READ), null); // unmapped
  assert.equal(aspace.page(0x1000, ACCESS.READ), null); // below the user address space
  assert.equal(aspace.page(ASPACE.x64.base + ASPACE.x64.size, ACCESS.READ), null);
  const none = await map(k, vmar, vmo, PAGE, 0);
  assert.equal(aspace.page(none, ACCESS.READ), null);
  // One page object for every mapping of the same VMO page.
  assert.equal(aspace.page(ro, ACCESS.READ), aspace.page(ro + 100, ACCESS.READ));
});

Deno.test("page(): a store through the page is what vmo_read and process_read_memory see", async () => {
  const { k, vmar, proc, process } = await setup();
  const vmo = await newVmo(k, 2 * PAGE);
  const va = await map(k, vmar, vmo, 2 * PAGE);
  const page = process.aspace.page(va + PAGE, ACCESS.WRITE)!;
  page.bytes.set(new TextEncoder().encode("from a core"), 16);
  page.written();
  const read = await k.ok("vmo_read", { handle: vmo, offset: PAGE + 16, buffer_size: 11 });
  assert.equal(textOf(read.buffer), "from a core");
  assert.equal(
    new TextDecoder().decode((await peek(k, proc, va + PAGE + 16, 11)).bytes),
    "from a core",
  );
  // And the other way round: vmo_write lands in the page a core holds, dropping its decodes.
  page.code = "decoded";
  await k.ok("vmo_write", { handle: vmo, offset: PAGE, buffer: bytesOf("X") });
  assert.equal(page.bytes[0], 0x58);
  assert.equal(page.code, null);
});

Deno.test("generation: every map, unmap, protect, destroy and resize changes it", async () => {
  const { k, vmar, process } = await setup();
  const aspace = process.aspace;
  const vmo = await newVmo(k, 2 * PAGE, "ZX_VMO_RESIZABLE");
  const steps: [string, () => Promise<unknown>][] = [];
  let va = 0;
  steps.push(["map", async () => va = await map(k, vmar, vmo, 2 * PAGE, [R])]);
  steps.push([
    "protect",
    () => k.ok("vmar_protect", { handle: vmar, options: [R, W], addr: va, len: PAGE }),
  ]);
  steps.push(["resize", () => k.ok("vmo_set_size", { handle: vmo, size: PAGE })]);
  steps.push(["unmap", () => k.ok("vmar_unmap", { handle: vmar, addr: va + PAGE, len: PAGE })]);
  const { child_vmar } = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: ["ZX_VM_CAN_MAP_READ"],
    size: PAGE,
  });
  await map(k, child_vmar, vmo, PAGE, [R]);
  steps.push(["destroy", () => k.ok("vmar_destroy", { handle: child_vmar })]);
  for (const [name, step] of steps) {
    const before = aspace.generation;
    await step();
    assert.ok(aspace.generation > before, name);
  }
  // The translations follow: write access after protect, nothing after the shrink.
  assert.ok(aspace.page(va, ACCESS.WRITE));
  await k.ok("vmo_set_size", { handle: vmo, size: 0 });
  assert.equal(aspace.page(va, ACCESS.READ), null);
  await k.ok("vmo_set_size", { handle: vmo, size: PAGE });
  const fresh = aspace.page(va, ACCESS.READ)!;
  assert.deepEqual(fresh.bytes, new Uint8Array(PAGE));
  // Reading never changes the generation.
  const g = aspace.generation;
  await k.ok("vmo_read", { handle: vmo, buffer_size: 1 });
  assert.equal(aspace.generation, g);
});

Deno.test("page() commits on touch and fails (null) over the memory budget", async () => {
  const { k, kernel, vmar, process } = await setup({ maxCommittedBytes: 8 * PAGE });
  const vmo = await newVmo(k, 1 << 30);
  const va = await map(k, vmar, vmo, 1 << 30);
  const free = 8 - kernel.memory.committedBytes / PAGE;
  for (let i = 0; i < free; i++) assert.ok(process.aspace.page(va + i * 1000 * PAGE, ACCESS.READ));
  assert.equal(Number((await vmoInfo(k, vmo)).committed_bytes), free * PAGE);
  assert.equal(process.aspace.page(va + 5_000_000, ACCESS.READ), null);
  assert.ok(process.aspace.page(va, ACCESS.WRITE)); // already committed
});

Deno.test("readUser / writeUser: Zircon's user copies, with the mappings' permissions", async () => {
  const { k, vmar, process } = await setup();
  const aspace = process.aspace;
  const vmo = await newVmo(k, 4 * PAGE);
  const rw = await map(k, vmar, vmo, 2 * PAGE);
  const ro = await map(k, vmar, vmo, PAGE, [R], { vmo_offset: 2 * PAGE });
  assert.equal(ro, rw + 2 * PAGE);
  const text = new TextEncoder().encode("spans two pages");
  assert.equal(aspace.writeUser(rw + PAGE - 4, text), true);
  assert.equal(
    new TextDecoder().decode(aspace.readUser(rw + PAGE - 4, text.length)!),
    "spans two pages",
  );
  // Reading untouched memory gives zeros and commits nothing.
  const committed = Number((await vmoInfo(k, vmo)).committed_bytes);
  assert.deepEqual(aspace.readUser(ro, 16), new Uint8Array(16));
  assert.equal(Number((await vmoInfo(k, vmo)).committed_bytes), committed);
  // Read-only, unmapped, outside the user range: refused.
  assert.equal(aspace.writeUser(ro, text), false);
  assert.equal(aspace.writeUser(rw + 2 * PAGE - 2, text), false); // runs into the read-only page
  assert.equal(aspace.readUser(ro + PAGE - 1, 2), null); // runs into nothing
  assert.equal(aspace.readUser(0x1000, 1), null);
  await k.ok("vmar_protect", { handle: vmar, options: 0, addr: rw, len: PAGE });
  assert.equal(aspace.readUser(rw, 1), null);
  assert.deepEqual(aspace.readUser(rw, 0), new Uint8Array(0));
});

Deno.test("process_read_memory: size and handle checks, in Zircon's order", async () => {
  const { k, proc } = await setup();
  const read = (body: Record<string, unknown>) =>
    k.call("process_read_memory", { handle: proc, vaddr: BASE, buffer_size: 1, ...body });
  // The size is checked before the handle.
  expectZx(await read({ handle: 0x7, buffer_size: 0 }), "INVALID_ARGS");
  expectZx(await read({ handle: 0x7, buffer_size: MIB64 + 1 }), "INVALID_ARGS");
  expectZx(await read({ handle: 0x7 }), "BAD_HANDLE");
  expectZx(await read({ handle: k.handles.vmar }), "WRONG_TYPE");
  for (const rights of [0x4, 0x8]) {
    expectZx(await read({ handle: await k.reduced(proc, rights) }), "ACCESS_DENIED");
  }
  expectZx(await read({}), "NO_MEMORY"); // nothing mapped
  expectZx(await read({ vaddr: 0x1000 }), "NO_MEMORY"); // outside the root VMAR
  expectZx(await read({ vaddr: "0xffffffffffffffff" }), "NO_MEMORY");
  expectZx(await read({ buffer_size: MIB64 }), "NO_MEMORY"); // 64 MiB itself is allowed
});

Deno.test("process_read_memory: one mapping at a time, any permissions, the VMO's range", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, PAGE, "ZX_VMO_RESIZABLE");
  await k.ok("vmo_write", { handle: vmo, buffer: bytesOf("hidden") });
  const va = await map(k, vmar, vmo, 3 * PAGE, 0); // no permissions at all
  const other = await newVmo(k, PAGE);
  await map(k, vmar, other, PAGE, [R]); // right after it
  const { bytes, actual } = await peek(k, proc, va + 2, PAGE - 2);
  assert.equal(actual, PAGE - 2);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "dden");
  // The mapping runs past the VMO's end: the copy is OUT_OF_RANGE, as a whole.
  expectZx(
    await k.call("process_read_memory", { handle: proc, vaddr: va + PAGE - 1, buffer_size: 2 }),
    "OUT_OF_RANGE",
  );
  // Clipped at the end of the one mapping, though the next is adjacent.
  await k.ok("vmo_set_size", { handle: vmo, size: 3 * PAGE });
  assert.equal((await peek(k, proc, va + 3 * PAGE - 8, 64)).actual, 8);
});

Deno.test("process_write_memory: the debugging gate first, then NULL, size, handle", async () => {
  const off = await setup({}, { enable_debugging_syscalls: false });
  expectZx(
    await off.k.call("process_write_memory", {
      handle: 0x7,
      vaddr: 0,
      buffer: null,
      buffer_size: 0,
    }),
    "NOT_SUPPORTED",
  );
  const { k, vmar, proc, process } = await setup();
  const write = (body: Record<string, unknown>) =>
    k.call("process_write_memory", { handle: proc, vaddr: BASE, buffer: "AQ==", ...body });
  expectZx(await write({ handle: 0x7, buffer: null }), "INVALID_ARGS");
  expectZx(await write({ handle: 0x7, buffer: "" }), "INVALID_ARGS");
  expectZx(await write({ handle: 0x7, buffer_size: MIB64 + 1 }), "INVALID_ARGS");
  expectZx(await write({ handle: 0x7 }), "BAD_HANDLE");
  expectZx(await write({ handle: await k.reduced(proc, 0x4) }), "ACCESS_DENIED");
  expectZx(await write({}), "NO_MEMORY");
  // WRITE alone suffices; a read-only mapping (code, say) is written all the same.
  const vmo = await newVmo(k, PAGE);
  const va = await map(k, vmar, vmo, PAGE, [R]);
  const writeOnly = await k.reduced(proc, 0x8);
  const done = await k.ok("process_write_memory", {
    handle: writeOnly,
    vaddr: va + PAGE - 2,
    buffer: bytesOf("int3"),
  });
  assert.equal(done.actual, 2); // clipped at the mapping's end
  const seen = await k.ok("vmo_read", { handle: vmo, offset: PAGE - 2, buffer_size: 2 });
  assert.equal(textOf(seen.buffer), "in");
  assert.equal(process.aspace.page(va, ACCESS.READ)!.bytes[PAGE - 1], 0x6e);
  // buffer_size beyond the bytes sent is an invalid pointer only if those bytes are needed.
  await k.ok("process_write_memory", {
    handle: proc,
    vaddr: va + PAGE - 1,
    buffer: "AQ==",
    buffer_size: 8,
  });
  expectZx(
    await k.call("process_write_memory", {
      handle: proc,
      vaddr: va,
      buffer: "AQ==",
      buffer_size: 8,
    }),
    "INVALID_ARGS",
  );
});

Deno.test("a dead process: its memory is gone, its VMOs live on", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, PAGE);
  await k.ok("vmo_write", { handle: vmo, buffer: bytesOf("kept") });
  await map(k, vmar, vmo, PAGE);
  await k.ok("task_kill", { handle: proc });
  expectZx(
    await k.call("process_read_memory", { handle: proc, vaddr: BASE, buffer_size: 1 }),
    "NO_MEMORY",
  );
  expectZx(await k.call("vmar_unmap", { handle: vmar, addr: BASE, len: PAGE }), "BAD_STATE");
  expectZx(
    await k.call("vmar_allocate", { parent_vmar: vmar, options: 0, size: PAGE }),
    "BAD_STATE",
  );
  assert.equal(textOf((await k.ok("vmo_read", { handle: vmo, buffer_size: 4 })).buffer), "kept");
});

Deno.test("mapVmo: kernel code maps a VMO; the vDSO's code mapping is untouchable", async () => {
  const { k, kernel, vmar, proc, process } = await setup();
  const aspace = process.aspace;
  const vdso = new Vmo(kernel.nextKoid(), kernel.memory, BigInt(3 * PAGE));
  vdso.vdsoCode = { offset: PAGE, size: PAGE };
  vdso.retainedByKernel = true;
  assert.equal(vdso.write(BigInt(PAGE), new TextEncoder().encode("syscall stubs")), true);
  const data = aspace.mapVmo(vdso, { perms: VM.PERM_READ, length: PAGE });
  assert.equal(data, BASE);
  const code = aspace.mapVmo(vdso, {
    perms: VM.PERM_READ | VM.PERM_EXECUTE,
    address: BASE + 16 * PAGE,
    vmoOffset: PAGE,
    length: PAGE,
  });
  assert.equal(code, BASE + 16 * PAGE);
  assert.ok(aspace.page(code, ACCESS.READ | ACCESS.EXECUTE));
  assert.equal(aspace.page(code, ACCESS.WRITE), null);
  assert.equal(
    textOf(
      (await k.ok("process_read_memory", { handle: proc, vaddr: code, buffer_size: 13 })).buffer,
    ),
    "syscall stubs",
  );
  // One executable mapping of exactly the code range, per process.
  const again = { perms: VM.PERM_READ | VM.PERM_EXECUTE, vmoOffset: PAGE, length: PAGE };
  assert.throws(() => aspace.mapVmo(vdso, again), (e: ZxError) => e.status === ERR.ACCESS_DENIED);
  assert.throws(
    () => aspace.mapVmo(vdso, { perms: VM.PERM_READ, address: code }),
    (e: ZxError) => e.status === ERR.ALREADY_EXISTS,
  );
  // Neither unmap nor protect may touch it; a debugger may not write it.
  expectZx(
    await k.call("vmar_unmap", { handle: vmar, addr: code - PAGE, len: 2 * PAGE }),
    "ACCESS_DENIED",
  );
  expectZx(
    await k.call("vmar_protect", { handle: vmar, options: [R], addr: code, len: PAGE }),
    "ACCESS_DENIED",
  );
  expectZx(
    await k.call("process_write_memory", { handle: proc, vaddr: code, buffer: "AQ==" }),
    "ACCESS_DENIED",
  );
  await k.ok("vmar_unmap", { handle: vmar, addr: data, len: PAGE }); // the data mapping is ordinary
  // When the process dies its mappings go, but the kernel's VMO keeps its pages.
  await k.ok("task_kill", { handle: proc });
  assert.equal(aspace.vdsoCodeMapping, null);
  assert.equal(vdso.mappings.size, 0);
  assert.equal(new TextDecoder().decode(vdso.read(BigInt(PAGE), 7)), "syscall");
});
