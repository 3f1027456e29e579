import assert from "node:assert/strict";
import {
  array,
  getU32,
  getU64,
  hex64,
  nested,
  padding,
  scalar,
  setU32,
  setU64,
  SINGLE_STEP_REGS,
  struct,
  StructLayout,
  u64Run,
} from "../arch/layout.ts";
import { ARCH_NAMES, archByName } from "../arch/registry.ts";
import { x64 } from "../arch/x64/x64.ts";
import { arm64 } from "../arch/arm64/arm64.ts";
import {
  X64_DEBUG_REGS,
  X64_FP_REGS,
  X64_GENERAL_REGS,
  X64_GENERAL_REGS_MX,
  X64_VECTOR_REGS,
} from "../arch/x64/regsets.ts";
import {
  ARM64_DEBUG_REGS,
  ARM64_FP_REGS,
  ARM64_GENERAL_REGS,
  ARM64_GENERAL_REGS_MX,
  ARM64_VECTOR_REGS,
} from "../arch/arm64/regsets.ts";

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(n: number, seed = 0x12345678): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** `bytes` with every padding run of `layout` zeroed. */
function withoutPadding(layout: StructLayout, bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  for (const p of layout.paddings) copy.fill(0, p.offset, p.offset + p.size);
  return copy;
}

const ALL = [
  X64_GENERAL_REGS,
  X64_GENERAL_REGS_MX,
  X64_FP_REGS,
  X64_VECTOR_REGS,
  X64_DEBUG_REGS,
  ARM64_GENERAL_REGS,
  ARM64_GENERAL_REGS_MX,
  ARM64_FP_REGS,
  ARM64_VECTOR_REGS,
  ARM64_DEBUG_REGS,
  SINGLE_STEP_REGS,
];

Deno.test("layout: C sizes", () => {
  const sizes = ALL.map((l) => [l.name, l.size]);
  assert.deepEqual(sizes, [
    ["zx_x86_64_thread_state_general_regs_t", 160],
    ["mx_x86_64_general_regs_t", 144],
    ["zx_x86_64_thread_state_fp_regs_t", 160],
    ["zx_x86_64_thread_state_vector_regs_t", 2120],
    ["zx_x86_64_thread_state_debug_regs_t", 48],
    ["zx_arm64_thread_state_general_regs_t", 280],
    ["mx_arm64_general_regs_t", 272],
    ["zx_arm64_thread_state_fp_regs_t", 4],
    ["zx_arm64_thread_state_vector_regs_t", 520],
    ["zx_arm64_thread_state_debug_regs_t", 528],
    ["zx_thread_state_single_step_t", 4],
  ]);
});

Deno.test("layout: leaves and padding tile every struct exactly", () => {
  for (const l of ALL) {
    const owner = new Array<string | undefined>(l.size);
    const runs = [
      ...l.fields.map((f) => ({
        path: f.path,
        offset: f.offset,
        size: { u8: 1, u16: 2, u32: 4, u64: 8 }[f.type],
      })),
      ...l.paddings,
    ];
    for (const r of runs) {
      for (let b = r.offset; b < r.offset + r.size; b++) {
        assert.equal(owner[b], undefined, `${l.name}: ${r.path} overlaps ${owner[b]}`);
        owner[b] = r.path;
      }
    }
    assert.equal(owner.filter((o) => o !== undefined).length, l.size, l.name);
    // Leaves come in offset order, paths unique.
    const offs = l.fields.map((f) => f.offset);
    assert.deepEqual(offs, [...offs].sort((a, b) => a - b));
    assert.equal(new Set(l.fields.map((f) => f.path)).size, l.fields.length);
  }
});

Deno.test("layout: x64 offsets", () => {
  const g = X64_GENERAL_REGS;
  const names = [
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rbp",
    "rsp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "rip",
    "rflags",
    "fs_base",
    "gs_base",
  ];
  assert.deepEqual(g.fields.map((f) => f.path), names);
  assert.deepEqual(g.fields.map((f) => f.offset), names.map((_, i) => 8 * i));
  assert.equal(g.offsetOf("rip"), 128);
  assert.equal(g.offsetOf("rflags"), 136);
  assert.equal(g.offsetOf("fs_base"), 144);
  assert.equal(g.offsetOf("gs_base"), 152);
  assert.deepEqual(X64_GENERAL_REGS_MX.fields.map((f) => f.path), names.slice(0, 18));

  const fp = X64_FP_REGS;
  assert.deepEqual(
    ["fcw", "fsw", "ftw", "reserved", "fop", "fip", "fdp", "st[0].low", "st[0].high", "st[7].high"]
      .map((p) => [p, fp.offsetOf(p), fp.field(p)!.type]),
    [
      ["fcw", 0, "u16"],
      ["fsw", 2, "u16"],
      ["ftw", 4, "u8"],
      ["reserved", 5, "u8"],
      ["fop", 6, "u16"],
      ["fip", 8, "u64"],
      ["fdp", 16, "u64"],
      ["st[0].low", 32, "u64"],
      ["st[0].high", 40, "u64"],
      ["st[7].high", 152, "u64"],
    ],
  );
  assert.deepEqual(fp.paddings, [{ path: "padding1", offset: 24, size: 8 }]);

  const v = X64_VECTOR_REGS;
  assert.equal(v.offsetOf("zmm[0].v[0]"), 0);
  assert.equal(v.offsetOf("zmm[3].v[2]"), 3 * 64 + 16);
  assert.equal(v.offsetOf("zmm[31].v[7]"), 2040);
  assert.equal(v.offsetOf("opmask[0]"), 2048);
  assert.equal(v.offsetOf("opmask[7]"), 2104);
  assert.equal(v.offsetOf("mxcsr"), 2112);
  assert.equal(v.field("mxcsr")!.type, "u32");
  assert.deepEqual(v.paddings, [{ path: "padding1", offset: 2116, size: 4 }]);
  assert.equal(v.fields.length, 32 * 8 + 8 + 1);

  const d = X64_DEBUG_REGS;
  assert.deepEqual(d.fields.map((f) => [f.path, f.offset]), [
    ["dr[0]", 0],
    ["dr[1]", 8],
    ["dr[2]", 16],
    ["dr[3]", 24],
    ["dr6", 32],
    ["dr7", 40],
  ]);
});

Deno.test("layout: arm64 offsets", () => {
  const g = ARM64_GENERAL_REGS;
  assert.equal(g.offsetOf("r[0]"), 0);
  assert.equal(g.offsetOf("r[29]"), 232);
  assert.equal(g.offsetOf("lr"), 240);
  assert.equal(g.offsetOf("sp"), 248);
  assert.equal(g.offsetOf("pc"), 256);
  assert.equal(g.offsetOf("cpsr"), 264);
  assert.equal(g.offsetOf("tpidr"), 272);
  assert.equal(g.fields.length, 35);
  assert.equal(ARM64_GENERAL_REGS_MX.fields.length, 34);
  assert.equal(ARM64_GENERAL_REGS_MX.field("tpidr"), undefined);
  assert.equal(ARM64_GENERAL_REGS_MX.offsetOf("cpsr"), 264);

  assert.deepEqual(ARM64_FP_REGS.fields, [{
    path: "unused",
    offset: 0,
    type: "u32",
    readOnly: false,
  }]);

  const v = ARM64_VECTOR_REGS;
  assert.equal(v.offsetOf("fpcr"), 0);
  assert.equal(v.offsetOf("fpsr"), 4);
  assert.equal(v.offsetOf("v[0].low"), 8);
  assert.equal(v.offsetOf("v[0].high"), 16);
  assert.equal(v.offsetOf("v[31].high"), 512);

  const d = ARM64_DEBUG_REGS;
  assert.equal(d.offsetOf("hw_bps[0].dbgbcr"), 0);
  assert.equal(d.offsetOf("hw_bps[0].dbgbvr"), 8);
  assert.equal(d.offsetOf("hw_bps[15].dbgbvr"), 248);
  assert.equal(d.offsetOf("hw_wps[0].dbgwcr"), 256);
  assert.equal(d.offsetOf("hw_wps[0].dbgwvr"), 264);
  assert.equal(d.offsetOf("far"), 512);
  assert.equal(d.offsetOf("esr"), 520);
  assert.equal(d.offsetOf("hw_bps_count"), 524);
  assert.equal(d.offsetOf("hw_wps_count"), 525);
  assert.deepEqual(
    d.fields.filter((f) => f.readOnly).map((f) => f.path),
    ["far", "esr", "hw_bps_count", "hw_wps_count"],
  );
  assert.equal(d.paddings.length, 33);
  assert.deepEqual(d.paddings[0], { path: "hw_bps[0].padding1", offset: 4, size: 4 });
  assert.deepEqual(d.paddings[32], { path: "padding1", offset: 526, size: 2 });
});

Deno.test("layout: definition-time checks", () => {
  const sub = struct("pair", 16, [scalar("a", 0, "u64"), scalar("b", 8, "u64")]);
  // A correct description builds.
  const ok = struct("ok", 40, [
    scalar("x", 0, "u32"),
    padding("pad", 4, 4),
    nested("p", 8, sub),
    array("w", 24, "u16", 4),
    u64Run(32, ["z"])[0],
  ]);
  assert.equal(ok.fields.length, 8);
  assert.equal(ok.offsetOf("p.b"), 16);
  assert.throws(
    () => struct("overlap", 8, [scalar("a", 0, "u64"), scalar("b", 4, "u32")]),
    /overlaps/,
  );
  assert.throws(() => struct("gap", 16, [scalar("a", 0, "u64")]), /no member/);
  assert.throws(() => struct("big", 4, [scalar("a", 0, "u64")]), /past sizeof/);
  assert.throws(
    () =>
      struct("misaligned", 16, [scalar("a", 4, "u64"), padding("p", 0, 4), padding("q", 12, 4)]),
    /aligned/,
  );
  assert.throws(
    () => struct("dup", 16, [scalar("a", 0, "u64"), scalar("a", 8, "u64")]),
    /duplicate/,
  );
  assert.throws(() => struct("bad", 8, [scalar("a b", 0, "u64")]), /bad member name/);
  assert.throws(() => struct("zero", 8, [array("a", 0, "u64", 0)]), /count/);
  assert.throws(() => ok.offsetOf("nope"), /no field/);
});

Deno.test("layout: byte helpers", () => {
  const b = new Uint8Array(16);
  setU64(b, 8, -6n);
  assert.equal(getU64(b, 8), 0xfffffffffffffffan);
  setU32(b, 0, 0xdeadbeef);
  assert.equal(getU32(b, 0), 0xdeadbeef);
  assert.deepEqual([...b.subarray(0, 4)], [0xef, 0xbe, 0xad, 0xde]);
  assert.equal(hex64(1n), "0x0000000000000001");
  assert.equal(hex64(-1n), "0xffffffffffffffff");
  // Views with an offset work too.
  const inner = new Uint8Array(b.buffer, 8, 8);
  assert.equal(getU64(inner, 0), 0xfffffffffffffffan);
});

Deno.test("toNamed: shape and number formats", () => {
  const bytes = new Uint8Array(X64_FP_REGS.size);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, 0x37f, true);
  v.setUint8(4, 0xff);
  v.setBigUint64(8, 0x123456789abcdefn, true);
  v.setBigUint64(32 + 16 * 7 + 8, 0xffffffffffffffffn, true);
  bytes.fill(0xaa, 24, 32); // padding: never shown
  const named = X64_FP_REGS.toNamed(bytes);
  assert.deepEqual(Object.keys(named), [
    "fcw",
    "fsw",
    "ftw",
    "reserved",
    "fop",
    "fip",
    "fdp",
    "st",
  ]);
  assert.equal(named.fcw, 0x37f);
  assert.equal(named.ftw, 255);
  assert.equal(named.fip, "0x0123456789abcdef");
  assert.equal(named.fdp, "0x0000000000000000");
  const st = named.st as { low: string; high: string }[];
  assert.equal(st.length, 8);
  assert.deepEqual(st[7], { low: "0x0000000000000000", high: "0xffffffffffffffff" });
  // It is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(named)), named);

  const dbg = ARM64_DEBUG_REGS.toNamed(new Uint8Array(528).fill(0xff));
  assert.deepEqual((dbg.hw_bps as unknown[])[0], {
    dbgbcr: 0xffffffff,
    dbgbvr: "0xffffffffffffffff",
  });
  assert.equal(dbg.hw_bps_count, 255);
  assert.equal("padding1" in dbg, false);

  const vec = X64_VECTOR_REGS.toNamed(new Uint8Array(2120));
  assert.equal((vec.zmm as { v: string[] }[])[31].v.length, 8);
  assert.equal((vec.opmask as string[]).length, 8);
  assert.equal(vec.mxcsr, 0);

  assert.throws(() => X64_FP_REGS.toNamed(new Uint8Array(10)), RangeError);
});

Deno.test("toNamed/applyNamed: round trip of every layout", () => {
  for (const l of ALL) {
    const src = withoutPadding(l, noise(l.size, l.size));
    const named = JSON.parse(JSON.stringify(l.toNamed(src)));
    const dst = new Uint8Array(l.size);
    assert.equal(l.applyNamed(dst, named), null, l.name);
    assert.deepEqual(dst, src, l.name);
  }
});

Deno.test("applyNamed: partial, nested, null keeps, flattened paths", () => {
  const l = X64_VECTOR_REGS;
  const t = noise(l.size);
  const before = t.slice();
  assert.equal(
    l.applyNamed(t, {
      zmm: [null, { v: ["0x1", null, 7] }],
      "zmm[3].v[2]": "0x1",
      "opmask[7]": "18446744073709551615",
      mxcsr: "0x1f80",
    }),
    null,
  );
  const expect = before.slice();
  setU64(expect, 64, 1n);
  setU64(expect, 64 + 16, 7n);
  setU64(expect, 3 * 64 + 16, 1n);
  setU64(expect, 2048 + 56, 0xffffffffffffffffn);
  setU32(expect, 2112, 0x1f80);
  assert.deepEqual(t, expect);

  // Path keys may also point at a sub-struct or an array, and nest.
  const d = new Uint8Array(528);
  assert.equal(
    ARM64_DEBUG_REGS.applyNamed(d, {
      "hw_wps[2]": { dbgwcr: 0x1f9, "dbgwvr": "0x20_0000" },
      hw_bps: [{ dbgbcr: 1 }],
      "hw_bps[1].dbgbvr": 0x400000,
      far: "0x10", // read-only fields are still written into the buffer
    }),
    null,
  );
  assert.equal(getU32(d, 256 + 32), 0x1f9);
  assert.equal(getU64(d, 256 + 32 + 8), 0x200000n);
  assert.equal(getU32(d, 0), 1);
  assert.equal(getU64(d, 24), 0x400000n);
  assert.equal(getU64(d, 512), 0x10n);

  // An empty object changes nothing.
  const g = noise(160);
  const g0 = g.slice();
  assert.equal(X64_GENERAL_REGS.applyNamed(g, {}), null);
  assert.deepEqual(g, g0);
});

Deno.test("applyNamed: number formats", () => {
  const l = X64_GENERAL_REGS;
  const t = new Uint8Array(160);
  assert.equal(
    l.applyNamed(t, {
      rax: -6, // two's complement
      rbx: "-1",
      rcx: "0xFFFF_FFFF",
      rdx: "1_000",
      rsi: 9007199254740991,
      rdi: 0x7fffffffffffffffn + 1n, // bigint
      rbp: "-0x8000000000000000",
      rsp: "0",
    }),
    null,
  );
  assert.equal(getU64(t, 0), 0xfffffffffffffffan);
  assert.equal(getU64(t, 8), 0xffffffffffffffffn);
  assert.equal(getU64(t, 16), 0xffffffffn);
  assert.equal(getU64(t, 24), 1000n);
  assert.equal(getU64(t, 32), 9007199254740991n);
  assert.equal(getU64(t, 40), 0x8000000000000000n);
  assert.equal(getU64(t, 48), 0x8000000000000000n);
  // Narrow fields: numbers, range by width, negatives as two's complement.
  const fp = new Uint8Array(160);
  assert.equal(X64_FP_REGS.applyNamed(fp, { fcw: 0xffff, ftw: -1, fsw: "0x10" }), null);
  assert.equal(new DataView(fp.buffer).getUint16(0, true), 0xffff);
  assert.equal(fp[4], 0xff);
  assert.equal(fp[2], 0x10);
});

Deno.test("applyNamed: errors name the field and leave the target unchanged", () => {
  const cases: [StructLayout, unknown, RegExp][] = [
    [X64_GENERAL_REGS, { rax: 1, bogus: 2 }, /unknown field "bogus"/],
    [X64_GENERAL_REGS, { "rax.x": 1 }, /unknown field "rax\.x"/],
    [X64_GENERAL_REGS, { "rax[0]": 1 }, /unknown field "rax\[0\]"/],
    [X64_VECTOR_REGS, { "zmm[32].v[0]": 1 }, /unknown field "zmm\[32\]\.v\[0\]".*out of range/],
    [X64_VECTOR_REGS, { zmm: [{ w: [] }] }, /unknown field "zmm\[0\]\.w"/],
    [X64_VECTOR_REGS, { zmm: [{ v: new Array(9).fill(0) }] }, /field "zmm\[0\]\.v" has 9 elements/],
    [X64_VECTOR_REGS, { padding1: 0 }, /field "padding1" is padding/],
    [ARM64_DEBUG_REGS, { "hw_bps[3].padding1": 0 }, /field "hw_bps\[3\]\.padding1" is padding/],
    [
      ARM64_DEBUG_REGS,
      { hw_wps: [null, { padding1: 0 }] },
      /field "hw_wps\[1\]\.padding1" is padding/,
    ],
    [X64_FP_REGS, { fcw: 0x10000 }, /field "fcw".*does not fit in u16/],
    [X64_FP_REGS, { ftw: 256 }, /field "ftw".*u8/],
    [X64_FP_REGS, { ftw: -129 }, /field "ftw".*u8/],
    [X64_VECTOR_REGS, { mxcsr: "0x100000000" }, /field "mxcsr".*u32/],
    [X64_GENERAL_REGS, { rip: "0x1_0000_0000_0000_0000" }, /field "rip".*u64/],
    [X64_GENERAL_REGS, { rip: "-0x8000000000000001" }, /field "rip".*u64/],
    [X64_GENERAL_REGS, { rip: 1.5 }, /field "rip".*not an integer/],
    [X64_GENERAL_REGS, { rip: 2 ** 53 }, /field "rip".*not an integer/],
    [X64_GENERAL_REGS, { rip: "12abc" }, /field "rip".*not an integer/],
    [X64_GENERAL_REGS, { rip: "0x" }, /field "rip".*not an integer/],
    [X64_GENERAL_REGS, { rip: " 1" }, /field "rip".*not an integer/],
    [X64_GENERAL_REGS, { rip: true }, /field "rip".*expected an integer/],
    [X64_GENERAL_REGS, { rip: { x: 1 } }, /field "rip".*expected an integer/],
    [X64_FP_REGS, { st: { low: 1 } }, /field "st" must be an array/],
    [X64_FP_REGS, { st: [5] }, /field "st\[0\]" must be an object/],
    [X64_GENERAL_REGS, [1, 2], /must be an object/],
    [X64_GENERAL_REGS, 5, /must be an object/],
  ];
  for (const [layout, named, re] of cases) {
    const t = noise(layout.size, 99);
    const before = t.slice();
    const err = layout.applyNamed(t, named);
    assert.ok(
      err !== null,
      `expected an error for ${
        JSON.stringify(named, (_k, v) => typeof v === "bigint" ? String(v) : v)
      }`,
    );
    assert.match(err, re);
    assert.deepEqual(t, before, `target changed by ${err}`);
  }
  // A valid field before the bad one is not written either.
  const t = new Uint8Array(160);
  assert.match(X64_GENERAL_REGS.applyNamed(t, { rax: 5, "zmm": 1 })!, /unknown field "zmm"/);
  assert.deepEqual(t, new Uint8Array(160));
  // Too short a target is reported, not thrown.
  assert.match(X64_GENERAL_REGS.applyNamed(new Uint8Array(10), {})!, /need 160/);
});

Deno.test("registry: names and regset maps", () => {
  assert.deepEqual(ARCH_NAMES, ["x64", "arm64"]);
  assert.equal(archByName("x64"), x64);
  assert.equal(archByName("arm64"), arm64);
  assert.equal(archByName("X64"), undefined);
  assert.equal(archByName("riscv64"), undefined);
  assert.equal(archByName(""), undefined);
  for (const a of [x64, arm64]) {
    assert.deepEqual([...a.regsets.zx.keys()], [0, 1, 2, 4, 5]);
    assert.deepEqual([...a.regsets.mx.keys()], [0]);
    for (const k of [3, 6, 7, 8, 9]) assert.equal(a.regsets.zx.get(k), undefined);
    for (let k = 1; k <= 9; k++) assert.equal(a.regsets.mx.get(k), undefined);
    assert.equal(a.regsets.zx.get(5)!.size, 4);
  }
  assert.deepEqual([0, 1, 2, 4, 5].map((k) => x64.regsets.zx.get(k)!.size), [
    160,
    160,
    2120,
    48,
    4,
  ]);
  assert.deepEqual([0, 1, 2, 4, 5].map((k) => arm64.regsets.zx.get(k)!.size), [
    280,
    4,
    520,
    528,
    4,
  ]);
  assert.equal(x64.regsets.mx.get(0)!.size, 144);
  assert.equal(arm64.regsets.mx.get(0)!.size, 272);
});
