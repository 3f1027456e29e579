// zx_vmar_allocate / unmap / protect / destroy through HTTP, in Zircon's
// order of checks, and ZX_INFO_PROCESS_MAPS with its actual/avail counts.

import assert from "node:assert/strict";
import {
  ASPACE,
  expectZx,
  freshProcess,
  map,
  mappingsIn,
  mapsOf,
  newVmo,
  PAGE,
  peek,
  vmKernel,
  vmoInfo,
} from "./vm_helpers.ts";

const R = "ZX_VM_PERM_READ", W = "ZX_VM_PERM_WRITE";
const CAN_R = "ZX_VM_CAN_MAP_READ", CAN_W = "ZX_VM_CAN_MAP_WRITE";
const RIGHT = { READ: 0x4, WRITE: 0x8, EXECUTE: 0x10, MAP: 0x20, OP_CHILDREN: 0x20_0000 };
const VMAR_DEFAULT = 0x208003;
const BASE = ASPACE.x64.base;
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

async function setup() {
  const vk = await vmKernel();
  const fresh = await freshProcess(vk);
  return { ...vk, ...fresh };
}

Deno.test("vmar_allocate: rights per CAN_MAP flag, options, size, placement", async () => {
  const { k, vmar } = await setup();
  const call = (body: Record<string, unknown>) =>
    k.call("vmar_allocate", { parent_vmar: vmar, options: [CAN_R], size: 4 * PAGE, ...body });
  const noExec = await k.reduced(vmar, VMAR_DEFAULT | RIGHT.READ | RIGHT.WRITE);
  expectZx(
    await call({ parent_vmar: noExec, options: ["ZX_VM_CAN_MAP_EXECUTE"] }),
    "ACCESS_DENIED",
  );
  expectZx(await call({ parent_vmar: 0x7 }), "BAD_HANDLE");
  expectZx(await call({ parent_vmar: await newVmo(k, PAGE) }), "WRONG_TYPE");
  expectZx(await call({ options: [CAN_R, R] }), "INVALID_ARGS");
  expectZx(await call({ options: [CAN_R, "ZX_VM_MAP_RANGE"] }), "INVALID_ARGS");
  expectZx(await call({ options: (1 << 15) | 0x80 }), "INVALID_ARGS");
  expectZx(await call({ options: 0x0900_0080 }), "INVALID_ARGS"); // alignment 2^9
  expectZx(await call({ size: 4 * PAGE - 1 }), "INVALID_ARGS"); // not rounded, unlike map
  expectZx(await call({ size: hex((1n << 64n) - 4096n + 2n) }), "INVALID_ARGS");
  expectZx(await call({ size: 0 }), "INVALID_ARGS");
  for (
    const flag of ["ZX_VM_SPECIFIC_OVERWRITE", "ZX_VM_REQUIRE_NON_RESIZABLE", "ZX_VM_ALLOW_FAULTS"]
  ) {
    expectZx(await call({ options: [CAN_R, flag] }), "INVALID_ARGS", flag);
  }
  expectZx(await call({ size: hex(ASPACE.x64.size + PAGE) }), "INVALID_ARGS");
  const a = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: [CAN_R, CAN_W],
    size: 4 * PAGE,
  });
  assert.equal(Number(a.child_addr), BASE);
  assert.equal((await k.basic(a.child_vmar)).rights, VMAR_DEFAULT | RIGHT.READ | RIGHT.WRITE);
  const b = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: ["ZX_VM_CAN_MAP_SPECIFIC", "ZX_VM_COMPACT", "ZX_VM_ALIGN_64KB"],
    size: PAGE,
  });
  assert.equal(Number(b.child_addr), 0x210000);
  assert.equal((await k.basic(b.child_vmar)).rights, VMAR_DEFAULT);
  const info =
    (await k.ok("object_get_info", { handle: a.child_vmar, topic: "ZX_INFO_VMAR" })).info;
  assert.deepEqual([Number(info.base), Number(info.len)], [BASE, 4 * PAGE]);
  // SPECIFIC on top of something: ALREADY_EXISTS; no room: NO_RESOURCES.
  expectZx(await call({ options: [CAN_R, "ZX_VM_SPECIFIC"], offset: 2 * PAGE }), "ALREADY_EXISTS");
  const nested = await k.ok("vmar_allocate", {
    parent_vmar: a.child_vmar,
    options: [CAN_R],
    size: 4 * PAGE,
  });
  expectZx(
    await call({ parent_vmar: a.child_vmar, options: [CAN_R], size: PAGE }),
    "NO_RESOURCES",
  );
  // A child may not map more than its parent allows; SPECIFIC needs CAN_MAP_SPECIFIC.
  expectZx(await call({ parent_vmar: nested.child_vmar, options: [CAN_W] }), "ACCESS_DENIED");
  expectZx(
    await call({ parent_vmar: nested.child_vmar, options: [CAN_R, "ZX_VM_SPECIFIC"], size: PAGE }),
    "ACCESS_DENIED",
  );
  expectZx(
    await call({ parent_vmar: nested.child_vmar, options: [CAN_R], offset: PAGE, size: PAGE }),
    "INVALID_ARGS",
  );
});

Deno.test("vmar_unmap: checks, holes, partial unmaps splitting a mapping", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, 8 * PAGE);
  await k.ok("vmo_write", { handle: vmo, offset: 5 * PAGE, buffer: "BQ==" });
  await map(k, vmar, vmo, 8 * PAGE);
  const call = (addr: number | string, len: number | string, handle = vmar) =>
    k.call("vmar_unmap", { handle, addr, len });
  expectZx(await call(0, 0, vmo), "WRONG_TYPE"); // the handle first, even with len 0
  expectZx(await call(BASE + 1, PAGE), "INVALID_ARGS");
  expectZx(await call(BASE, 0), "INVALID_ARGS");
  expectZx(await call(BASE, hex((1n << 64n) - 1n)), "INVALID_ARGS"); // rounds to 0
  expectZx(await call(BASE - PAGE, 2 * PAGE), "INVALID_ARGS");
  expectZx(await call(BASE, hex(ASPACE.x64.size + PAGE)), "INVALID_ARGS");
  // Unmap pages 2 and 3 (len rounded up): two mappings remain.
  await k.ok("vmar_unmap", { handle: vmar, addr: BASE + 2 * PAGE, len: PAGE + 1 });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), [
    [BASE, 2 * PAGE, 3, 0],
    [BASE + 4 * PAGE, 4 * PAGE, 3, 4 * PAGE],
  ]);
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 2);
  expectZx(
    await k.call("process_read_memory", { handle: proc, vaddr: BASE + 2 * PAGE, buffer_size: 1 }),
    "NO_MEMORY",
  );
  assert.equal((await peek(k, proc, BASE + 5 * PAGE, 1)).bytes[0], 5);
  // Trim both ends over a hole: fine.
  await k.ok("vmar_unmap", { handle: vmar, addr: BASE + PAGE, len: 4 * PAGE });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), [
    [BASE, PAGE, 3, 0],
    [BASE + 5 * PAGE, 3 * PAGE, 3, 5 * PAGE],
  ]);
  await k.ok("vmar_unmap", { handle: vmar, addr: BASE + 64 * PAGE, len: PAGE }); // nothing there
  await k.ok("vmar_unmap", { handle: vmar, addr: BASE, len: 8 * PAGE });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), []);
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 0);
});

Deno.test("vmar_unmap: sub-VMARs go only whole, and only with OP_CHILDREN", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, PAGE);
  const { child_vmar } = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: [CAN_R, "ZX_VM_SPECIFIC"],
    offset: 4 * PAGE,
    size: 4 * PAGE,
  });
  await map(k, child_vmar, vmo, PAGE, [R]);
  await map(k, vmar, vmo, PAGE, [R]); // at BASE, before the sub-VMAR
  expectZx(await k.call("vmar_unmap", { handle: vmar, addr: BASE, len: 6 * PAGE }), "INVALID_ARGS");
  const noOp = await k.reduced(vmar, 0x8003 | RIGHT.READ);
  const whole = { addr: BASE, len: 8 * PAGE };
  expectZx(await k.call("vmar_unmap", { handle: noOp, ...whole }), "INVALID_ARGS");
  assert.equal(mappingsIn(await mapsOf(k, proc)).length, 2); // nothing changed
  await k.ok("vmar_unmap", { handle: vmar, ...whole });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), []);
  expectZx(
    await k.call("vmar_map", { handle: child_vmar, options: [R], vmo, len: PAGE }),
    "BAD_STATE",
  );
  expectZx(
    await k.call("vmar_unmap", { handle: child_vmar, addr: BASE + 4 * PAGE, len: PAGE }),
    "BAD_STATE",
  );
});

Deno.test("vmar_protect: rights first, then options, range, holes, maximum protection", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, 4 * PAGE);
  await map(k, vmar, vmo, 4 * PAGE);
  const call = (
    options: unknown,
    addr: number | string = BASE,
    len: number | string = PAGE,
    handle = vmar,
  ) => k.call("vmar_protect", { handle, options, addr, len });
  const readOnly = await k.reduced(vmar, VMAR_DEFAULT | RIGHT.READ);
  // The rights lookup comes before the protection's validity.
  expectZx(await call([W], BASE, PAGE, readOnly), "ACCESS_DENIED");
  expectZx(await call([W]), "INVALID_ARGS");
  expectZx(await call([R], BASE + 1), "INVALID_ARGS");
  expectZx(await call([R, CAN_W]), "INVALID_ARGS");
  expectZx(await call([R, "ZX_VM_SPECIFIC"]), "INVALID_ARGS");
  expectZx(await call([R, "ZX_VM_ALIGN_4KB"]), "INVALID_ARGS");
  expectZx(await call(0x8000_0001), "INVALID_ARGS");
  expectZx(await call([R], BASE, 0), "INVALID_ARGS");
  expectZx(await call([R], BASE - PAGE, 2 * PAGE), "INVALID_ARGS");
  expectZx(await call([R], BASE, 5 * PAGE), "NOT_FOUND"); // runs past the mapping
  expectZx(await call([R], BASE + 8 * PAGE, PAGE), "NOT_FOUND");
  expectZx(await call([R, "ZX_VM_PERM_EXECUTE"]), "ACCESS_DENIED"); // the VMO had no EXECUTE
  // Protect the middle to read-only (len rounded up): one mapping, three ranges.
  await k.ok("vmar_protect", { handle: vmar, options: [R], addr: BASE + PAGE, len: 2 * PAGE - 1 });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), [
    [BASE, PAGE, 3, 0],
    [BASE + PAGE, 2 * PAGE, 1, PAGE],
    [BASE + 3 * PAGE, PAGE, 3, 3 * PAGE],
  ]);
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 1);
  // Back up to read-write (allowed: the handles had WRITE when it was mapped), then none.
  await k.ok("vmar_protect", { handle: vmar, options: [R, W], addr: BASE, len: 4 * PAGE });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), [[BASE, 4 * PAGE, 3, 0]]);
  await k.ok("vmar_protect", { handle: vmar, options: 0, addr: BASE, len: PAGE });
  // The permissions do not matter to process_read_memory.
  assert.equal((await peek(k, proc, BASE, 8)).actual, 8);
});

Deno.test("vmar_protect: all or nothing across mappings; a read-only VMO handle caps it", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, 4 * PAGE);
  const readOnlyVmo = await k.reduced(vmo, RIGHT.READ | RIGHT.MAP);
  await map(k, vmar, vmo, PAGE, [R]);
  await map(k, vmar, readOnlyVmo, PAGE, [R], { vmo_offset: 2 * PAGE });
  await map(k, vmar, vmo, PAGE, [R], { vmo_offset: 3 * PAGE });
  const before = mappingsIn(await mapsOf(k, proc));
  const wide = { handle: vmar, options: [R, W], addr: BASE, len: 3 * PAGE };
  expectZx(await k.call("vmar_protect", wide), "ACCESS_DENIED");
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), before);
  // Closing the VMO handles does not raise the cap.
  await k.ok("handle_close", { handle: readOnlyVmo });
  expectZx(
    await k.call("vmar_protect", { ...wide, addr: BASE + PAGE, len: PAGE }),
    "ACCESS_DENIED",
  );
  await k.ok("vmar_protect", { ...wide, len: PAGE });
});

Deno.test("vmar_protect: mappings in sub-VMARs need OP_CHILDREN and may only lose permissions", async () => {
  const { k, vmar } = await setup();
  const vmo = await newVmo(k, PAGE);
  const { child_vmar, child_addr } = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: [CAN_R, CAN_W],
    size: 2 * PAGE,
  });
  const addr = Number(child_addr);
  await map(k, child_vmar, vmo, PAGE, [R]);
  const noOp = await k.reduced(vmar, 0x8003 | RIGHT.READ | RIGHT.WRITE);
  expectZx(
    await k.call("vmar_protect", { handle: noOp, options: 0, addr, len: PAGE }),
    "INVALID_ARGS",
  );
  expectZx(
    await k.call("vmar_protect", { handle: vmar, options: [R, W], addr, len: PAGE }),
    "ACCESS_DENIED",
  );
  await k.ok("vmar_protect", { handle: child_vmar, options: [R, W], addr, len: PAGE }); // its own
  await k.ok("vmar_protect", { handle: vmar, options: [R], addr, len: PAGE });
  // The empty part of the sub-VMAR is a hole; an empty VMAR is all hole.
  expectZx(
    await k.call("vmar_protect", { handle: vmar, options: [R], addr, len: 2 * PAGE }),
    "NOT_FOUND",
  );
  const { child_vmar: empty, child_addr: emptyAddr } = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: [CAN_R],
    size: PAGE,
  });
  expectZx(
    await k.call("vmar_protect", { handle: empty, options: [R], addr: emptyAddr, len: PAGE }),
    "NOT_FOUND",
  );
  await k.ok("vmar_destroy", { handle: empty });
  expectZx(
    await k.call("vmar_protect", { handle: empty, options: [R], addr: emptyAddr, len: PAGE }),
    "BAD_STATE",
  );
});

Deno.test("vmar_destroy: OP_CHILDREN, not the root, once; everything below is unmapped", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, PAGE);
  const outer = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: [CAN_R, CAN_W, "ZX_VM_CAN_MAP_SPECIFIC"],
    size: 16 * PAGE,
  });
  const inner = await k.ok("vmar_allocate", {
    parent_vmar: outer.child_vmar,
    options: [CAN_R],
    size: 4 * PAGE,
  });
  const a = await map(k, outer.child_vmar, vmo, PAGE);
  const b = await map(k, inner.child_vmar, vmo, PAGE, [R]);
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 2);
  const weak = await k.reduced(outer.child_vmar, 0x8003 | RIGHT.READ);
  expectZx(await k.call("vmar_destroy", { handle: weak }), "ACCESS_DENIED");
  expectZx(await k.call("vmar_destroy", { handle: vmar }), "NOT_SUPPORTED");
  expectZx(await k.call("vmar_destroy", { handle: vmo }), "WRONG_TYPE");
  await k.ok("vmar_destroy", { handle: outer.child_vmar });
  expectZx(await k.call("vmar_destroy", { handle: outer.child_vmar }), "BAD_STATE");
  expectZx(await k.call("vmar_destroy", { handle: inner.child_vmar }), "BAD_STATE");
  for (const va of [a, b]) {
    expectZx(
      await k.call("process_read_memory", { handle: proc, vaddr: va, buffer_size: 1 }),
      "NO_MEMORY",
    );
  }
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 0);
  expectZx(
    await k.call("vmar_allocate", { parent_vmar: inner.child_vmar, options: [CAN_R], size: PAGE }),
    "BAD_STATE",
  );
  // Its range is free again in the parent.
  const again = await map(k, vmar, vmo, PAGE, [R, "ZX_VM_SPECIFIC"], {
    vmar_offset: Number(outer.child_addr) - BASE,
  });
  assert.equal(again, Number(outer.child_addr));
  // The handle still answers ZX_INFO_VMAR.
  const info = (await k.ok("object_get_info", { handle: outer.child_vmar, topic: "ZX_INFO_VMAR" }))
    .info;
  assert.equal(Number(info.len), 16 * PAGE);
});

Deno.test("ZX_INFO_PROCESS_MAPS: depth-first records, actual of avail, no BUFFER_TOO_SMALL", async () => {
  const { k, vmar, proc } = await setup();
  const vmo = await newVmo(k, 2 * PAGE);
  await k.ok("object_set_property", { handle: vmo, property: "ZX_PROP_NAME", name: "data" });
  await k.ok("vmo_write", { handle: vmo, buffer: "AQ==" });
  const { child_vmar } = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: [CAN_R],
    size: 4 * PAGE,
  });
  await map(k, child_vmar, vmo, 2 * PAGE, [R]);
  await map(k, vmar, vmo, PAGE, [R, W], { vmo_offset: PAGE });
  const all = await k.ok("object_get_info", { handle: proc, topic: "ZX_INFO_PROCESS_MAPS" });
  assert.deepEqual([all.actual, all.avail], [5, 5]);
  assert.equal(Uint8Array.fromBase64(all.buffer).length, 5 * 96);
  assert.deepEqual(
    all.records.map((
      r: Record<string, unknown>,
    ) => [r.name, Number(r.depth), r.type, Number(r.base)]),
    [
      [`proc:${(await k.basic(proc)).koid}`, 0, 1, BASE],
      ["root", 1, 2, BASE],
      ["useralloc", 2, 2, BASE],
      ["data", 3, 3, BASE],
      ["data", 2, 3, BASE + 4 * PAGE],
    ],
  );
  const mapping = all.records[3].u.mapping;
  assert.equal(Number(mapping.vmo_koid), (await k.basic(vmo)).koid);
  assert.equal(Number(mapping.committed_pages), 1);
  assert.equal(Number(all.records[4].u.mapping.committed_pages), 0);
  assert.equal(all.records[4].u.mapping.mmu_flags, 3);
  const partial = await k.ok("object_get_info", {
    handle: proc,
    topic: "ZX_INFO_PROCESS_MAPS",
    buffer_size: 2 * 96 + 95,
  });
  assert.deepEqual([partial.actual, partial.avail], [2, 5]);
  const none = await k.ok("object_get_info", { handle: proc, topic: 13, buffer_size: 0 });
  assert.deepEqual([none.actual, none.avail], [0, 5]);
  const noInspect = await k.reduced(proc, 0x4 | 0x8);
  expectZx(
    await k.call("object_get_info", { handle: noInspect, topic: "ZX_INFO_PROCESS_MAPS" }),
    "ACCESS_DENIED",
  );
  expectZx(await k.call("object_get_info", { handle: vmar, topic: 13 }), "WRONG_TYPE");
  // A dead process has no address space left: BAD_STATE, and its VMAR is dead too.
  await k.ok("task_kill", { handle: proc });
  const dead = await k.call("object_get_info", { handle: proc, topic: "ZX_INFO_PROCESS_MAPS" });
  expectZx(dead, "BAD_STATE");
  assert.deepEqual([dead.body.actual, dead.body.avail], [0, 0]);
  expectZx(await k.call("vmar_map", { handle: vmar, options: [R], vmo, len: PAGE }), "BAD_STATE");
  expectZx(await k.call("vmar_destroy", { handle: vmar }), "NOT_SUPPORTED");
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 0);
});
