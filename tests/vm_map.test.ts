// zx_vmar_map through HTTP: placement (deterministic first fit), every
// error in Zircon's order of checks, SPECIFIC_OVERWRITE, merging, and
// ZX_INFO_VMAR of the root VMAR.

import assert from "node:assert/strict";
import { ARCHES } from "./helpers.ts";
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

const R = "ZX_VM_PERM_READ", W = "ZX_VM_PERM_WRITE", X = "ZX_VM_PERM_EXECUTE";
const RIGHT = { READ: 0x4, WRITE: 0x8, EXECUTE: 0x10, MAP: 0x20, OP_CHILDREN: 0x20_0000 };
const VMO_RIGHTS = 0xd0ef;
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

for (const arch of ARCHES) {
  Deno.test(`[${arch}] the root VMAR: ZX_INFO_VMAR, rights, and nothing mapped yet`, async () => {
    const vk = await vmKernel(arch);
    const { k } = vk;
    const { proc, vmar } = await freshProcess(vk);
    const info = (await k.ok("object_get_info", { handle: vmar, topic: "ZX_INFO_VMAR" })).info;
    assert.deepEqual([Number(info.base), Number(info.len)], [ASPACE[arch].base, ASPACE[arch].size]);
    assert.equal((await k.basic(vmar)).rights, 0x20801f);
    const records = await mapsOf(k, proc);
    assert.deepEqual(
      records.map((r) => [r.name, Number(r.base), Number(r.size), Number(r.depth), r.type]),
      [
        [`proc:${(await k.basic(proc)).koid}`, ASPACE[arch].base, ASPACE[arch].size, 0, 1],
        ["root", ASPACE[arch].base, ASPACE[arch].size, 1, 2],
      ],
    );
    // SPECIFIC at offset 0 of a root VMAR is the base itself.
    const vmo = await newVmo(k, PAGE);
    const at = await map(k, vmar, vmo, PAGE, [R, "ZX_VM_SPECIFIC"], { vmar_offset: 0 });
    assert.equal(at, ASPACE[arch].base);
    const last = ASPACE[arch].size - PAGE;
    assert.equal(
      await map(k, vmar, vmo, PAGE, [R, "ZX_VM_SPECIFIC"], { vmar_offset: last }),
      ASPACE[arch].base + last,
    );
    const info2 = await k.call("object_get_info", {
      handle: await k.reduced(vmar, RIGHT.READ),
      topic: "ZX_INFO_VMAR",
    });
    expectZx(info2, "ACCESS_DENIED");
  });
}

Deno.test("vmar_map: lowest free address first, aligned, len rounded up", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar } = await freshProcess(vk);
  const base = ASPACE.x64.base;
  const vmo = await newVmo(k, 4 * PAGE);
  assert.equal(await map(k, vmar, vmo, 4 * PAGE - 1), base); // rounded up to 4 pages
  assert.equal(await map(k, vmar, vmo, PAGE), base + 4 * PAGE);
  // A gap left by an unmap is reused; an aligned request skips to the boundary.
  await k.ok("vmar_unmap", { handle: vmar, addr: base, len: PAGE });
  assert.equal(await map(k, vmar, vmo, PAGE, [R]), base);
  const aligned = await map(k, vmar, vmo, PAGE, [R, "ZX_VM_ALIGN_1MB"]);
  assert.equal(aligned, 0x300000);
  // Mapping past the VMO's end is allowed; touching it is another matter.
  const far = await map(k, vmar, vmo, PAGE, [R], { vmo_offset: hex((1n << 64n) - 2n * 4096n) });
  assert.ok(far > base);
});

Deno.test("vmar_map: handles, MAP right, then protection, then the handles' rights", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar, proc } = await freshProcess(vk);
  const vmo = await newVmo(k, PAGE);
  const call = (body: Record<string, unknown>) =>
    k.call("vmar_map", { handle: vmar, options: [R], vmo, len: PAGE, ...body });
  expectZx(await call({ handle: 0x7 }), "BAD_HANDLE");
  expectZx(await call({ handle: vmo }), "WRONG_TYPE");
  expectZx(await call({ vmo: 0x7 }), "BAD_HANDLE");
  expectZx(await call({ vmo: proc }), "WRONG_TYPE");
  const noMap = await k.reduced(vmo, VMO_RIGHTS & ~RIGHT.MAP);
  // MAP is checked before the options make sense.
  expectZx(await call({ vmo: noMap, options: [W] }), "ACCESS_DENIED");
  expectZx(await call({ options: [W] }), "INVALID_ARGS");
  expectZx(await call({ options: [X] }), "INVALID_ARGS");
  await k.ok("vmar_map", { handle: vmar, options: 0, vmo, len: PAGE }); // no access at all is fine
  expectZx(
    await call({ options: [R, "ZX_VM_MAP_RANGE", "ZX_VM_SPECIFIC_OVERWRITE"] }),
    "INVALID_ARGS",
  );
  expectZx(await call({ options: [R, "ZX_VM_CAN_MAP_EXECUTE"] }), "INVALID_ARGS");
  // The VMO has no EXECUTE right; the VMAR handle may lack WRITE.
  expectZx(await call({ options: [R, X] }), "ACCESS_DENIED");
  const readOnlyVmar = await k.reduced(vmar, 0x208003 | RIGHT.READ);
  expectZx(await call({ handle: readOnlyVmar, options: [R, W] }), "ACCESS_DENIED");
  const readOnlyVmo = await k.reduced(vmo, RIGHT.READ | RIGHT.MAP);
  expectZx(await call({ vmo: readOnlyVmo, options: [R, W] }), "ACCESS_DENIED");
  // READ_IF_XOM_UNSUPPORTED adds READ: X alone then needs EXECUTE, not READ.
  expectZx(await call({ options: [X, "ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED"] }), "ACCESS_DENIED");
  await k.ok("vmar_map", {
    handle: vmar,
    options: ["ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED"],
    vmo,
    len: PAGE,
  });
});

Deno.test("vmar_map: unknown bits, alignment, resizability, flags for VMARs only", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar } = await freshProcess(vk);
  const vmo = await newVmo(k, PAGE);
  const call = (options: unknown, body: Record<string, unknown> = {}) =>
    k.call("vmar_map", { handle: vmar, options, vmo, len: PAGE, ...body });
  // Unknown bits below the alignment byte; alignments 2^9 and 2^33; bit 31.
  for (const options of [1 | 1 << 15, 1 | 1 << 23, 1 | 9 << 24, 1 | 33 << 24, 0x8000_0001]) {
    expectZx(await call(options >>> 0), "INVALID_ARGS", hex(options >>> 0));
  }
  expectZx(await call([R, "ZX_VM_COMPACT"]), "INVALID_ARGS");
  expectZx(await call([R, "ZX_VM_CAN_MAP_SPECIFIC"]), "INVALID_ARGS");
  const resizable = await newVmo(k, PAGE, "ZX_VMO_RESIZABLE");
  const nonResizable = [R, "ZX_VM_REQUIRE_NON_RESIZABLE"];
  expectZx(await call(nonResizable, { vmo: resizable }), "NOT_SUPPORTED");
  await k.ok("vmar_map", { handle: vmar, options: [R], vmo: resizable, len: PAGE });
  await k.ok("vmar_map", { handle: vmar, options: nonResizable, vmo, len: PAGE });
  const discardable = await newVmo(k, PAGE, "ZX_VMO_DISCARDABLE");
  expectZx(await call([R], { vmo: discardable }), "NOT_SUPPORTED");
  await k.ok("vmar_map", {
    handle: vmar,
    options: [R, "ZX_VM_ALLOW_FAULTS"],
    vmo: discardable,
    len: PAGE,
  });
});

Deno.test("vmar_map: offsets and lengths", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar } = await freshProcess(vk);
  const vmo = await newVmo(k, 4 * PAGE);
  const call = (body: Record<string, unknown>) =>
    k.call("vmar_map", { handle: vmar, options: [R], vmo, len: PAGE, ...body });
  expectZx(await call({ len: 0 }), "INVALID_ARGS");
  expectZx(await call({ vmo_offset: 1 }), "INVALID_ARGS");
  expectZx(await call({ len: hex((1n << 64n) - 4096n + 2n) }), "OUT_OF_RANGE");
  expectZx(await call({ vmo_offset: hex((1n << 64n) - 4096n) }), "OUT_OF_RANGE");
  expectZx(await call({ vmar_offset: PAGE }), "INVALID_ARGS"); // needs SPECIFIC
  const specific = [R, "ZX_VM_SPECIFIC"];
  expectZx(await call({ options: [...specific, "ZX_VM_OFFSET_IS_UPPER_LIMIT"] }), "INVALID_ARGS");
  expectZx(await call({ options: specific, vmar_offset: 1 }), "INVALID_ARGS");
  expectZx(await call({ options: specific, vmar_offset: hex(ASPACE.x64.size) }), "INVALID_ARGS");
  expectZx(
    await call({ options: specific, vmar_offset: hex(ASPACE.x64.size - PAGE), len: 2 * PAGE }),
    "INVALID_ARGS",
  );
  expectZx(
    await call({ options: [...specific, "ZX_VM_ALIGN_64KB"], vmar_offset: PAGE }),
    "INVALID_ARGS",
  );
  await k.ok("vmar_map", {
    handle: vmar,
    options: specific,
    vmar_offset: 0x10000,
    vmo,
    len: 2 * PAGE,
  });
  for (
    const [offset, len] of [[0x10000, PAGE], [0x11000, PAGE], [0xf000, 2 * PAGE], [
      0xf000,
      4 * PAGE,
    ]]
  ) {
    expectZx(await call({ options: specific, vmar_offset: offset, len }), "ALREADY_EXISTS");
  }
  await k.ok("vmar_map", { handle: vmar, options: specific, vmar_offset: 0xf000, vmo, len: PAGE });
});

Deno.test("vmar_map: ZX_VM_OFFSET_IS_UPPER_LIMIT (and its vmo_offset quirk)", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar, proc } = await freshProcess(vk);
  const vmo = await newVmo(k, 4 * PAGE);
  await k.ok("vmo_write", { handle: vmo, buffer: "AQ==" });
  await k.ok("vmo_write", { handle: vmo, offset: PAGE, buffer: "Ag==" });
  const upper = [R, "ZX_VM_OFFSET_IS_UPPER_LIMIT"];
  const call = (vmar_offset: number | string, len: number | string, extra = {}) =>
    k.call("vmar_map", { handle: vmar, options: upper, vmo, vmar_offset, len, ...extra });
  expectZx(await call(hex(ASPACE.x64.size + PAGE), PAGE), "INVALID_ARGS");
  expectZx(await call(PAGE, 2 * PAGE), "INVALID_ARGS");
  expectZx(await call(hex(ASPACE.x64.size + PAGE), hex(ASPACE.x64.size + PAGE)), "INVALID_ARGS");
  // Zircon ignores vmo_offset here: the mapping starts at the VMO's first page.
  const first = await call(2 * PAGE, PAGE, { vmo_offset: PAGE });
  assert.equal(Number(first.body.mapped_addr), ASPACE.x64.base);
  assert.equal((await peek(k, proc, ASPACE.x64.base, 1)).bytes[0], 1);
  assert.equal(Number((await call(2 * PAGE, PAGE)).body.mapped_addr), ASPACE.x64.base + PAGE);
  expectZx(await call(2 * PAGE, PAGE), "NO_RESOURCES");
  // The whole VMAR: offset == len == size.
  const { vmar: other } = await freshProcess(vk);
  const whole = await k.call("vmar_map", {
    handle: other,
    options: upper,
    vmo,
    vmar_offset: ASPACE.x64.size,
    len: ASPACE.x64.size,
  });
  assert.equal(Number(whole.body.mapped_addr), ASPACE.x64.base);
});

Deno.test("vmar_map: SPECIFIC_OVERWRITE replaces mappings, never sub-VMARs", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar, proc } = await freshProcess(vk);
  const base = ASPACE.x64.base;
  const a = await newVmo(k, 3 * PAGE);
  const b = await newVmo(k, PAGE);
  await k.ok("vmo_write", { handle: a, buffer: new Uint8Array(3 * PAGE).fill(0xa).toBase64() });
  await k.ok("vmo_write", { handle: b, buffer: new Uint8Array(PAGE).fill(0xb).toBase64() });
  await map(k, vmar, a, 3 * PAGE);
  const overwrite = [R, W, "ZX_VM_SPECIFIC_OVERWRITE"];
  assert.equal(await map(k, vmar, b, PAGE, overwrite, { vmar_offset: PAGE }), base + PAGE);
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), [
    [base, PAGE, 3, 0],
    [base + PAGE, PAGE, 3, 0],
    [base + 2 * PAGE, PAGE, 3, 2 * PAGE],
  ]);
  assert.deepEqual([...(await peek(k, proc, base + PAGE - 1, 2)).bytes], [0xa]); // clipped
  assert.equal((await peek(k, proc, base + PAGE, 1)).bytes[0], 0xb);
  assert.equal((await peek(k, proc, base + 2 * PAGE, 1)).bytes[0], 0xa);
  assert.equal(Number((await vmoInfo(k, a)).num_mappings), 2);
  // A sub-VMAR in the way: INVALID_ARGS, and nothing changed.
  await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: ["ZX_VM_CAN_MAP_READ", "ZX_VM_SPECIFIC"],
    offset: 3 * PAGE,
    size: PAGE,
  });
  const both = { vmar_offset: 2 * PAGE };
  const refused = await k.call("vmar_map", {
    handle: vmar,
    options: overwrite,
    vmo: b,
    len: 2 * PAGE,
    ...both,
  });
  expectZx(refused, "INVALID_ARGS");
  assert.equal((await peek(k, proc, base + 2 * PAGE, 1)).bytes[0], 0xa);
  // Plain SPECIFIC on top of anything: ALREADY_EXISTS.
  const specific = await k.call("vmar_map", {
    handle: vmar,
    options: [R, "ZX_VM_SPECIFIC"],
    vmo: b,
    len: PAGE,
    vmar_offset: 3 * PAGE,
  });
  expectZx(specific, "ALREADY_EXISTS");
});

Deno.test("vmar_map: contiguous mappings of one VMO merge, like Zircon's", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar, proc } = await freshProcess(vk);
  const base = ASPACE.x64.base;
  const vmo = await newVmo(k, 4 * PAGE);
  await map(k, vmar, vmo, 2 * PAGE);
  await map(k, vmar, vmo, 2 * PAGE, [R, W], { vmo_offset: 2 * PAGE });
  assert.deepEqual(mappingsIn(await mapsOf(k, proc)), [[base, 4 * PAGE, 3, 0]]);
  assert.equal(Number((await vmoInfo(k, vmo)).num_mappings), 1);
  assert.equal((await peek(k, proc, base, 4 * PAGE)).actual, 4 * PAGE);
  // Not contiguous in the VMO, or other permissions' maximum: separate mappings.
  const other = await newVmo(k, 4 * PAGE);
  await map(k, vmar, other, PAGE);
  await map(k, vmar, other, PAGE);
  const weak = await k.reduced(other, RIGHT.READ | RIGHT.MAP);
  await map(k, vmar, weak, PAGE, [R], { vmo_offset: 2 * PAGE });
  assert.equal(Number((await vmoInfo(k, other)).num_mappings), 3);
  assert.equal((await peek(k, proc, base + 4 * PAGE, 2 * PAGE)).actual, PAGE);
});

Deno.test("vmar_map: into a sub-VMAR, within its CAN_MAP flags and placement rights", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar } = await freshProcess(vk);
  const vmo = await newVmo(k, PAGE);
  const { child_vmar, child_addr } = await k.ok("vmar_allocate", {
    parent_vmar: vmar,
    options: ["ZX_VM_CAN_MAP_READ"],
    size: 16 * PAGE,
  });
  assert.equal(await map(k, child_vmar, vmo, PAGE, [R]), Number(child_addr));
  expectZx(
    await k.call("vmar_map", { handle: child_vmar, options: [R, W], vmo, len: PAGE }),
    "ACCESS_DENIED",
  );
  // No CAN_MAP_SPECIFIC: SPECIFIC and UPPER_LIMIT are ACCESS_DENIED.
  for (
    const flag of ["ZX_VM_SPECIFIC", "ZX_VM_SPECIFIC_OVERWRITE", "ZX_VM_OFFSET_IS_UPPER_LIMIT"]
  ) {
    const reply = await k.call("vmar_map", {
      handle: child_vmar,
      options: [R, flag],
      vmo,
      len: PAGE,
      vmar_offset: 8 * PAGE,
    });
    expectZx(reply, "ACCESS_DENIED", flag);
  }
  await k.ok("vmar_destroy", { handle: child_vmar });
  expectZx(
    await k.call("vmar_map", { handle: child_vmar, options: [R], vmo, len: PAGE }),
    "BAD_STATE",
  );
});

Deno.test("vmar_map: executable mappings need a VMO handle from vmo_replace_as_executable", async () => {
  const vk = await vmKernel();
  const { k } = vk;
  const { vmar, process } = await freshProcess(vk);
  const vmo = await newVmo(k, PAGE);
  expectZx(
    await k.call("vmar_map", { handle: vmar, options: [R, X], vmo, len: PAGE }),
    "ACCESS_DENIED",
  );
  const { out: exec } = await k.ok("vmo_replace_as_executable", { handle: vmo });
  const va = await map(k, vmar, exec, PAGE, [R, X]);
  assert.ok(process.aspace.page(va, 1 | 4));
  assert.equal(process.aspace.page(va, 2), null);
  // Mapped with EXECUTE allowed, it can later become writable too (both handles had WRITE).
  await k.ok("vmar_protect", { handle: vmar, options: [R, W, X], addr: va, len: PAGE });
  assert.ok(process.aspace.page(va, 1 | 2 | 4));
});
