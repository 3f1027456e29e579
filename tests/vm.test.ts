// VMOs through HTTP: zx_vmo_create / read / write / get_size / set_size,
// with Zircon's order of checks, lazily committed pages, the kernel's
// memory budget and ZX_INFO_VMO.

import assert from "node:assert/strict";
import { bytesOf, expectZx, newVmo, PAGE, textOf, vmKernel, vmoInfo } from "./vm_helpers.ts";

const VMO_RIGHTS = 0xd0ef;
const RIGHT = { READ: 0x4, WRITE: 0x8, MAP: 0x20, RESIZE: 0x40_0000 };
const U64_MAX = (1n << 64n) - 1n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

Deno.test("vmo_create: sizes round up to pages, 0 is allowed, rights and type", async () => {
  const { k } = await vmKernel();
  for (const [size, rounded] of [[0, 0], [1, PAGE], [PAGE, PAGE], [PAGE + 1, 2 * PAGE]]) {
    const vmo = await newVmo(k, size);
    assert.equal((await k.ok("vmo_get_size", { handle: vmo })).size, rounded);
  }
  const plain = await k.basic(await newVmo(k, PAGE));
  assert.deepEqual([plain.type, plain.rights], [3, VMO_RIGHTS]);
  const resizable = await k.basic(await newVmo(k, PAGE, "ZX_VMO_RESIZABLE"));
  assert.equal(resizable.rights, VMO_RIGHTS | RIGHT.RESIZE);
  // ZX_VMO_ZERO_CHILDREN is asserted from the start.
  assert.equal((await k.signals(await newVmo(k, PAGE))) & 0x8, 0x8);
  // The largest size there is: 2^64 - 2^17, committed lazily like any other.
  const huge = await newVmo(k, hex((1n << 64n) - (1n << 17n)));
  assert.equal((await k.ok("vmo_get_size", { handle: huge })).size, "0xfffffffffffe0000");
});

Deno.test("vmo_create: options are checked before the size", async () => {
  const { k } = await vmKernel();
  for (const options of [1, 3, 8, 0x8000_0000]) {
    expectZx(await k.call("vmo_create", { size: hex(U64_MAX), options }), "INVALID_ARGS");
  }
  await k.ok("vmo_create", { size: PAGE, options: ["ZX_VMO_RESIZABLE", "ZX_VMO_DISCARDABLE"] });
  for (const size of [U64_MAX, (1n << 64n) - (1n << 17n) + 1n, U64_MAX - 4094n]) {
    expectZx(await k.call("vmo_create", { size: hex(size) }), "OUT_OF_RANGE", hex(size));
  }
});

Deno.test("vmo_read / vmo_write: a round trip; untouched bytes read as zeros", async () => {
  const { k } = await vmKernel();
  const vmo = await newVmo(k, 3 * PAGE);
  await k.ok("vmo_write", { handle: vmo, offset: PAGE - 3, buffer: bytesOf("across pages") });
  const read = await k.ok("vmo_read", { handle: vmo, offset: PAGE - 3, buffer_size: 12 });
  assert.equal(textOf(read.buffer), "across pages");
  const zeros = await k.ok("vmo_read", { handle: vmo, offset: 2 * PAGE, buffer_size: PAGE });
  assert.deepEqual(Uint8Array.fromBase64(zeros.buffer), new Uint8Array(PAGE));
  // buffer_size shorter than the bytes sent writes only that many.
  await k.ok("vmo_write", { handle: vmo, buffer: bytesOf("abcdef"), buffer_size: 2 });
  const start = await k.ok("vmo_read", { handle: vmo, buffer_size: 4 });
  assert.deepEqual([...Uint8Array.fromBase64(start.buffer)], [0x61, 0x62, 0, 0]);
});

Deno.test("vmo_read / vmo_write: the range must lie inside the page-rounded size", async () => {
  const { k } = await vmKernel();
  const vmo = await newVmo(k, 100); // 4096 bytes
  await k.ok("vmo_read", { handle: vmo, offset: 100, buffer_size: 200 }); // past 100, inside 4096
  await k.ok("vmo_read", { handle: vmo, offset: PAGE, buffer_size: 0 });
  await k.ok("vmo_write", { handle: vmo, offset: PAGE, buffer: "" });
  for (const name of ["vmo_read", "vmo_write"]) {
    const io = (offset: number | string, size: number | string) =>
      k.call(
        name,
        name === "vmo_read"
          ? { handle: vmo, offset, buffer_size: size }
          : { handle: vmo, offset, buffer: "AA==", buffer_size: size },
      );
    expectZx(await io(PAGE + 1, 0), "OUT_OF_RANGE", name);
    expectZx(await io(PAGE - 1, 2), "OUT_OF_RANGE", name);
    expectZx(await io(hex(U64_MAX), 2), "OUT_OF_RANGE", name); // overflow
    expectZx(await io(0, hex(U64_MAX - 4096n)), "OUT_OF_RANGE", name);
    expectZx(await io(0, hex(U64_MAX - 2048n)), "OUT_OF_RANGE", name);
  }
});

Deno.test("vmo_read / vmo_write: handle, type, then rights; the write's invalid pointer last", async () => {
  const { k } = await vmKernel();
  const vmo = await newVmo(k, PAGE);
  const noRead = await k.reduced(vmo, VMO_RIGHTS & ~RIGHT.READ);
  const noWrite = await k.reduced(vmo, VMO_RIGHTS & ~RIGHT.WRITE);
  expectZx(await k.call("vmo_read", { handle: noRead, buffer_size: 1 }), "ACCESS_DENIED");
  await k.ok("vmo_read", { handle: noWrite, buffer_size: 1 });
  expectZx(await k.call("vmo_write", { handle: noWrite, buffer: "AA==" }), "ACCESS_DENIED");
  await k.ok("vmo_write", { handle: noRead, buffer: "AA==" });
  // A VMAR (or a rights-less handle of the wrong type) is WRONG_TYPE before rights.
  const vmarNoRights = await k.reduced(k.handles.vmar, 0);
  expectZx(await k.call("vmo_read", { handle: vmarNoRights, buffer_size: 1 }), "WRONG_TYPE");
  expectZx(await k.call("vmo_write", { handle: k.handles.process, buffer: "" }), "WRONG_TYPE");
  expectZx(await k.call("vmo_read", { handle: 0x7, buffer_size: 1 }), "BAD_HANDLE");
  // buffer_size beyond the bytes sent is an invalid pointer, after the range checks.
  const bad = { handle: vmo, buffer: bytesOf("abc"), buffer_size: 4 };
  expectZx(await k.call("vmo_write", bad), "INVALID_ARGS");
  expectZx(await k.call("vmo_write", { ...bad, offset: PAGE - 2 }), "OUT_OF_RANGE");
  expectZx(await k.call("vmo_write", { ...bad, handle: noWrite }), "ACCESS_DENIED");
  const untouched = await k.ok("vmo_read", { handle: vmo, buffer_size: 3 });
  assert.deepEqual([...Uint8Array.fromBase64(untouched.buffer)], [0, 0, 0]);
});

Deno.test("vmo_get_size: needs no rights, only a VMO", async () => {
  const { k } = await vmKernel();
  const vmo = await k.reduced(await newVmo(k, 5000), 0);
  assert.equal((await k.ok("vmo_get_size", { handle: vmo })).size, 2 * PAGE);
  expectZx(await k.call("vmo_get_size", { handle: k.handles.vmar }), "WRONG_TYPE");
  expectZx(await k.call("vmo_get_size", { handle: 3 }), "BAD_HANDLE");
});

Deno.test("vmo_set_size: rights, RESIZE only for resizable VMOs, then UNAVAILABLE", async () => {
  const { k } = await vmKernel();
  const fixed = await newVmo(k, PAGE);
  // Not resizable: UNAVAILABLE, whether or not the handle has RESIZE (it never does).
  expectZx(await k.call("vmo_set_size", { handle: fixed, size: 2 * PAGE }), "UNAVAILABLE");
  expectZx(await k.call("vmo_set_size", { handle: fixed, size: 0 }), "UNAVAILABLE");
  // ... but the rounding overflow is found first, and WRITE before that.
  expectZx(await k.call("vmo_set_size", { handle: fixed, size: hex(U64_MAX) }), "OUT_OF_RANGE");
  const fixedNoWrite = await k.reduced(fixed, VMO_RIGHTS & ~RIGHT.WRITE);
  expectZx(await k.call("vmo_set_size", { handle: fixedNoWrite, size: 0 }), "ACCESS_DENIED");
  const vmo = await newVmo(k, PAGE, "ZX_VMO_RESIZABLE");
  const noResize = await k.reduced(vmo, VMO_RIGHTS); // everything but RESIZE
  expectZx(await k.call("vmo_set_size", { handle: noResize, size: 0 }), "ACCESS_DENIED");
  expectZx(await k.call("vmo_set_size", { handle: k.handles.vmar, size: 0 }), "WRONG_TYPE");
  expectZx(
    await k.call("vmo_set_size", { handle: vmo, size: hex((1n << 64n) - (1n << 17n) + 1n) }),
    "OUT_OF_RANGE",
  );
  await k.ok("vmo_set_size", { handle: vmo, size: 10_000 });
  assert.equal((await k.ok("vmo_get_size", { handle: vmo })).size, 3 * PAGE);
  await k.ok("vmo_set_size", { handle: vmo, size: 0 });
  assert.equal((await k.ok("vmo_get_size", { handle: vmo })).size, 0);
});

Deno.test("vmo_set_size: the tail of the last page is zeroed; dropped pages come back as zeros", async () => {
  const { k } = await vmKernel();
  const vmo = await newVmo(k, 2 * PAGE, "ZX_VMO_RESIZABLE");
  const ones = new Uint8Array(2 * PAGE).fill(0xff).toBase64();
  await k.ok("vmo_write", { handle: vmo, buffer: ones });
  await k.ok("vmo_set_size", { handle: vmo, size: 100 });
  assert.equal(Number((await vmoInfo(k, vmo)).committed_bytes), PAGE);
  await k.ok("vmo_set_size", { handle: vmo, size: 2 * PAGE });
  const all = Uint8Array.fromBase64(
    (await k.ok("vmo_read", { handle: vmo, buffer_size: 2 * PAGE })).buffer,
  );
  assert.deepEqual(all.subarray(0, 100), new Uint8Array(100).fill(0xff));
  assert.deepEqual(all.subarray(100), new Uint8Array(2 * PAGE - 100));
  expectZx(
    await k.call("vmo_read", { handle: vmo, offset: 2 * PAGE, buffer_size: 1 }),
    "OUT_OF_RANGE",
  );
});

Deno.test("VMOs commit pages lazily: a 1 GiB VMO costs one page after one write", async () => {
  const { k, kernel } = await vmKernel();
  const before = kernel.memory.committedBytes;
  const vmo = await newVmo(k, 1 << 30);
  assert.equal(kernel.memory.committedBytes, before);
  await k.ok("vmo_write", { handle: vmo, offset: (1 << 30) - 1, buffer: "Kg==" });
  const middle = await k.ok("vmo_read", { handle: vmo, offset: 1 << 29, buffer_size: PAGE });
  assert.deepEqual(Uint8Array.fromBase64(middle.buffer), new Uint8Array(PAGE));
  const info = await vmoInfo(k, vmo);
  assert.equal(Number(info.committed_bytes), PAGE);
  assert.equal(kernel.memory.committedBytes, before + PAGE);
  const last = await k.ok("vmo_read", { handle: vmo, offset: (1 << 30) - 1, buffer_size: 1 });
  assert.equal(last.buffer, "Kg==");
  // Closing the last handle gives the page back.
  await k.ok("handle_close", { handle: vmo });
  assert.equal(kernel.memory.committedBytes, before);
});

Deno.test("the memory budget: committing past it is NO_MEMORY and writes nothing", async () => {
  const { k, kernel } = await vmKernel("x64", { maxCommittedBytes: 16 * PAGE });
  const used = kernel.memory.committedBytes / PAGE;
  const vmo = await newVmo(k, 64 * PAGE);
  const page = new Uint8Array(PAGE).fill(7).toBase64();
  for (let i = 0; i < 16 - used; i++) {
    await k.ok("vmo_write", { handle: vmo, offset: i * PAGE, buffer: page });
  }
  const over = await k.call("vmo_write", { handle: vmo, offset: 40 * PAGE - 1, buffer: "AQI=" });
  expectZx(over, "NO_MEMORY");
  const info = await vmoInfo(k, vmo);
  assert.equal(Number(info.committed_bytes), (16 - used) * PAGE);
  // Rewriting committed pages costs nothing.
  await k.ok("vmo_write", { handle: vmo, offset: 0, buffer: page });
  // Pages come back when their VMO goes.
  const other = await newVmo(k, 2 * PAGE);
  expectZx(await k.call("vmo_write", { handle: other, buffer: "AQ==" }), "NO_MEMORY");
  await k.ok("handle_close", { handle: vmo });
  await k.ok("vmo_write", { handle: other, buffer: "AQ==" });
});

Deno.test("ZX_INFO_VMO: koid, name, sizes, flags, the handle's rights", async () => {
  const { k } = await vmKernel();
  const vmo = await newVmo(k, 3 * PAGE, "ZX_VMO_RESIZABLE");
  await k.ok("object_set_property", { handle: vmo, property: "ZX_PROP_NAME", name: "heap" });
  await k.ok("vmo_write", { handle: vmo, buffer: "AQ==" });
  const weak = await k.reduced(vmo, RIGHT.READ | RIGHT.MAP);
  const reply = await k.ok("object_get_info", { handle: weak, topic: "ZX_INFO_VMO" });
  assert.equal(Uint8Array.fromBase64(reply.buffer).length, 120);
  assert.deepEqual([reply.actual, reply.avail], [1, 1]);
  const info = reply.info;
  assert.equal(Number(info.koid), (await k.basic(vmo)).koid);
  assert.equal(info.name, "heap");
  assert.equal(Number(info.size_bytes), 3 * PAGE);
  assert.equal(Number(info.parent_koid), 0);
  assert.equal(Number(info.num_children), 0);
  assert.equal(Number(info.num_mappings), 0);
  assert.equal(Number(info.share_count), 1);
  assert.equal(info.flags, 1 | 2 | 8); // PAGED | RESIZABLE | VIA_HANDLE
  assert.equal(Number(info.committed_bytes), PAGE);
  assert.equal(info.handle_rights, RIGHT.READ | RIGHT.MAP);
  assert.equal(info.cache_policy, 0);
  // No rights needed; too small a buffer; the topic by number.
  await k.ok("object_get_info", { handle: await k.reduced(vmo, 0), topic: 0x1000_0017 });
  const small = await k.call("object_get_info", {
    handle: vmo,
    topic: "ZX_INFO_VMO",
    buffer_size: 119,
  });
  expectZx(small, "BUFFER_TOO_SMALL");
  assert.deepEqual([small.body.actual, small.body.avail], [0, 1]);
  expectZx(
    await k.call("object_get_info", { handle: k.handles.vmar, topic: "ZX_INFO_VMO" }),
    "WRONG_TYPE",
  );
  const discardable = await newVmo(k, PAGE, "ZX_VMO_DISCARDABLE");
  assert.equal((await vmoInfo(k, discardable)).flags, 1 | 8 | 0x80);
});

Deno.test("vmo_replace_as_executable: the same rights plus EXECUTE, the old handle closed", async () => {
  const { k } = await vmKernel();
  const vmo = await newVmo(k, PAGE);
  const weak = await k.reduced(vmo, RIGHT.READ | RIGHT.MAP);
  const { out } = await k.ok("vmo_replace_as_executable", { handle: weak });
  assert.equal((await k.basic(out)).rights, RIGHT.READ | RIGHT.MAP | 0x10);
  expectZx(await k.call("handle_close", { handle: weak }), "BAD_HANDLE");
  expectZx(await k.call("vmo_replace_as_executable", { handle: 0x7 }), "BAD_HANDLE");
  // Not a VMO: BAD_HANDLE (not WRONG_TYPE), and the handle is gone all the same.
  const thread = await k.dup(k.handles.thread);
  expectZx(await k.call("vmo_replace_as_executable", { handle: thread }), "BAD_HANDLE");
  expectZx(await k.call("handle_close", { handle: thread }), "BAD_HANDLE");
  // A resource that does not grant VMEX (the hypervisor one covers base 0 only).
  const other = await newVmo(k, PAGE);
  const hv = k.handles.hypervisor_resource;
  expectZx(await k.call("vmo_replace_as_executable", { handle: other, vmex: hv }), "OUT_OF_RANGE");
  expectZx(await k.call("handle_close", { handle: other }), "BAD_HANDLE");
  expectZx(
    await k.call("vmo_replace_as_executable", { handle: vmo, vmex: k.handles.thread }),
    "WRONG_TYPE",
  );
});
