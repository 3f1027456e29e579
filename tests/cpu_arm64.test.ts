// The AArch64 interpreter core on real machine code: the bytes in
// tests/fixtures/cpu-arm64 were made by GNU as / clang (build.sh there);
// these tests only read them. Most fixtures are one instruction under a
// label followed by `brk #0`: a test sets registers, runs from the label and
// reads the result when the core stops at the brk. Expected values come
// from BigInt reference formulas (tests may use BigInt; the core may not).

import assert from "node:assert/strict";
import { Arm64Registers } from "../arch/arm64/arm64.ts";
import { arm64 } from "../arch/arm64/arm64.ts";
import { Arm64Core } from "../arch/arm64/cpu/core.ts";
import { ALIGN } from "../arch/arm64/cpu/ops.ts";
import { EXIT } from "../arch/cpu.ts";
import { ACCESS, FlatMemory } from "./flat_memory.ts";

// ---------------------------------------------------------------------------
// Fixtures and a test rig

interface Fixture {
  readonly bytes: Uint8Array;
  readonly sym: ReadonlyMap<string, number>;
}

const DIR = new URL("./fixtures/cpu-arm64/", import.meta.url);
const fixtures = new Map<string, Fixture>();

function fixture(name: string): Fixture {
  let f = fixtures.get(name);
  if (f === undefined) {
    const bytes = Deno.readFileSync(new URL(`${name}.bin`, DIR));
    const sym = new Map<string, number>();
    for (const line of Deno.readTextFileSync(new URL(`${name}.sym`, DIR)).split("\n")) {
      const [label, hex] = line.trim().split(/\s+/);
      if (label && hex) sym.set(label, parseInt(hex, 16));
    }
    f = { bytes, sym };
    fixtures.set(name, f);
  }
  return f;
}

/** Code, data and stack at addresses with a non-zero high word. */
const CODE = 0x7f12_3456_0000;
const DATA = 0x7f12_3500_0000;
const DATA_SIZE = 0x10000;
const STACK_TOP = 0x7f12_3600_0000;
/** A page holding `brk #0x99`: the return address of C calls. */
const RET = 0x7f12_3700_0000;

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;
const u64 = (v: bigint | number) => BigInt.asUintN(64, BigInt(v));

type Inputs = Record<string, bigint | number>;

class Rig {
  readonly mem = new FlatMemory();
  readonly regs = new Arm64Registers();
  readonly core: Arm64Core;
  readonly fix: Fixture;
  private readonly view: DataView;

  constructor(name: string, mode: "user" | "guest" = "user", codePerms?: number) {
    this.fix = fixture(name);
    const size = Math.ceil(this.fix.bytes.length / 4096) * 4096 + 4096;
    this.mem.map(CODE, size, codePerms ?? (ACCESS.READ | ACCESS.EXECUTE));
    this.mem.load(CODE, this.fix.bytes);
    this.mem.map(DATA, DATA_SIZE);
    this.mem.map(STACK_TOP - 0x10000, 0x10000);
    this.mem.map(RET, 4096, ACCESS.READ | ACCESS.EXECUTE);
    this.mem.load(RET, new Uint8Array([0x20, 0x13, 0x20, 0xd4])); // brk #0x99
    this.core = new Arm64Core(this.regs, this.mem, mode);
    this.view = new DataView(this.regs.gpr.buffer, 0, 280);
  }

  at(label: string): number {
    const off = this.fix.sym.get(label);
    if (off === undefined) throw new Error(`no label ${label}`);
    return CODE + off;
  }

  /** x0..x30; 31 = sp, 32 = pc, 33 = cpsr, 34 = tpidr. */
  x(i: number): bigint {
    return this.view.getBigUint64(8 * i, true);
  }

  setX(i: number, v: bigint | number): void {
    this.view.setBigUint64(8 * i, u64(v), true);
  }

  get pc(): number {
    return Number(this.x(32));
  }

  get sp(): bigint {
    return this.x(31);
  }

  get nzcv(): number {
    return Number(this.x(33) >> 28n) & 15;
  }

  set nzcv(f: number) {
    this.setX(33, BigInt(f) << 28n);
  }

  /** Sets pc to `label` (or an address) and the named registers (x0.., sp, nzcv). */
  start(label: string | number, inputs: Inputs = {}): this {
    this.regs.setStart(BigInt(typeof label === "number" ? label : this.at(label)), 0n, 0n, 0n);
    this.setX(31, STACK_TOP);
    this.setX(30, RET);
    for (const [k, v] of Object.entries(inputs)) {
      if (k === "sp") this.setX(31, v);
      else if (k === "nzcv") this.nzcv = Number(v);
      else this.setX(Number(k.slice(1)), v);
    }
    return this;
  }

  run(budget = 100_000): number {
    return this.core.run(budget);
  }

  /** Runs a one-instruction fixture and checks it stopped at the brk after it. */
  step1(label: string, inputs: Inputs = {}): this {
    this.start(label, inputs);
    const r = this.run();
    assert.equal(r, EXIT.SW_BREAKPOINT, `${label}: exit ${r} detail ${this.core.detail}`);
    assert.equal(this.pc, this.at(label) + 4, `${label}: pc`);
    assert.equal(this.core.retired, 1);
    return this;
  }

  /** A copy of the general registers (to prove an instruction changed nothing). */
  snapshot(): Uint32Array {
    return this.regs.gpr.slice(0, 70);
  }

  poke(addr: number, bytes: number[] | Uint8Array): void {
    this.mem.load(addr, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  }

  peek(addr: number, n: number): Uint8Array {
    return this.mem.read(addr, n);
  }

  poke64(addr: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, u64(v), true);
    this.poke(addr, b);
  }

  peek64(addr: number): bigint {
    return new DataView(this.peek(addr, 8).buffer).getBigUint64(0, true);
  }

  peek32(addr: number): number {
    return new DataView(this.peek(addr, 4).buffer).getUint32(0, true);
  }
}

/** One rig per fixture for the one-instruction tests (they reset pc and registers). */
const rigs = new Map<string, Rig>();
function rig(name: string): Rig {
  let r = rigs.get(name);
  if (r === undefined) {
    r = new Rig(name);
    rigs.set(name, r);
  }
  return r;
}

/** Runs a one-instruction alu fixture; returns x0. */
function alu(label: string, inputs: Inputs = {}): bigint {
  return rig("alu").step1(label, inputs).x(0);
}

const signed64 = (v: bigint) => BigInt.asIntN(64, v);
const signed32 = (v: bigint) => BigInt.asIntN(32, v);

/** Reference NZCV and result of a + b + cin on `bits` bits. */
function addRef(a: bigint, b: bigint, cin: bigint, bits: bigint): { res: bigint; nzcv: number } {
  const mask = (1n << bits) - 1n;
  a &= mask;
  b &= mask;
  const usum = a + b + cin;
  const res = usum & mask;
  const ssum = BigInt.asIntN(Number(bits), a) + BigInt.asIntN(Number(bits), b) + cin;
  const n = res >> (bits - 1n) === 1n ? 8 : 0;
  const z = res === 0n ? 4 : 0;
  const c = usum > mask ? 2 : 0;
  const v = BigInt.asIntN(Number(bits), res) !== ssum ? 1 : 0;
  return { res, nzcv: n | z | c | v };
}

const subRef = (a: bigint, b: bigint, bits: bigint, cin = 1n) =>
  addRef(a, ~b & ((1n << bits) - 1n), cin, bits);

const EDGES64 = [
  0n,
  1n,
  2n,
  0x7fff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n,
  0x8000_0000_0000_0001n,
  0xffff_ffff_ffff_ffffn,
  0xffff_ffff_ffff_fffen,
  0x0000_0000_ffff_ffffn,
  0x0000_0001_0000_0000n,
  0x1234_5678_9abc_def0n,
];
const EDGES32 = [0n, 1n, 0x7fff_ffffn, 0x8000_0000n, 0x8000_0001n, 0xffff_ffffn, 0xffff_fffen];

// ---------------------------------------------------------------------------
// Moves, add/sub, logic, shifts, bitfields, multiply/divide, bit ops, csel

Deno.test("arm64 core: mov forms, wide immediates and bitmask immediates", () => {
  const big = 0x8899_aabb_ccdd_eeffn;
  assert.equal(alu("mov_reg", { x1: big }), big);
  assert.equal(alu("mov_reg32", { x0: -1n, x1: big }), 0xccdd_eeffn, "32-bit write zeroes the top");
  assert.equal(alu("mov_from_sp", { sp: 0x7f00_0000_1230n }), 0x7f00_0000_1230n);
  const r = rig("alu").step1("mov_to_sp", { x1: 0x7f00_0000_4560n });
  assert.equal(r.sp, 0x7f00_0000_4560n);
  assert.equal(alu("mov_xzr", { x0: 5n }), 0n);
  assert.equal(alu("movz"), 0x1234n);
  assert.equal(alu("movz_hw3", { x0: -1n }), 0xbeef_0000_0000_0000n);
  assert.equal(alu("movn"), M64 - 1n);
  assert.equal(alu("movn32", { x0: -1n }), 0xffff_fffen);
  assert.equal(alu("movk", { x0: 0x1111_2222_3333_4444n }), 0x1111_beef_3333_4444n);
  assert.equal(alu("movk32", { x0: 0x1111_2222_3333_4444n }), 0xbeef_4444n);
  assert.equal(alu("mov_bitmask"), 0x00ff_00ff_00ff_00ffn);
});

Deno.test("arm64 core: add/sub immediate, with lsl #12, 32-bit forms and sp", () => {
  assert.equal(alu("add_imm", { x1: 0xffff_ffff_ffff_ff00n }), 0x23n, "carries out of 64 bits");
  assert.equal(alu("add_imm", { x1: 0xffff_fff0n }), 0x1_0000_0113n, "carries into the top half");
  assert.equal(alu("add_imm_lsl12", { x1: 1n }), 0x123001n);
  assert.equal(alu("sub_imm", { x1: 0x1_0000_0000n }), 0xffff_fff0n, "borrows from the top half");
  assert.equal(alu("sub_imm", { x1: 0n }), M64 - 15n);
  assert.equal(alu("add_imm32", { x1: 0xffff_ffffn }), 0n);
  assert.equal(alu("add_imm32", { x1: 0x1_7fff_ffffn }), 0x8000_0000n);
  assert.equal(alu("sub_imm32", { x1: 0n }), 0xffff_ffffn);
  let r = rig("alu").step1("add_sp_imm", { sp: 0x7fff_ffe0n });
  assert.equal(r.sp, 0x8000_0000n);
  r = rig("alu").step1("sub_sp_imm", { sp: 0x1_0000_0000n });
  assert.equal(r.sp, 0xffff_ffe0n);
  // Register 31 as the destination of a shifted-register add is the zero register.
  r = rig("alu").step1("add_to_xzr", { x1: 1n, x2: 2n, sp: 0x7000n });
  assert.equal(r.sp, 0x7000n);
});

Deno.test("arm64 core: add/sub shifted register, all edge pairs", () => {
  for (const a of EDGES64) {
    for (const b of EDGES64) {
      assert.equal(alu("add_reg", { x1: a, x2: b }), (a + b) & M64);
      assert.equal(alu("sub_reg", { x1: a, x2: b }), (a - b) & M64);
      assert.equal(alu("add_reg32", { x1: a, x2: b }), (a + b) & M32);
      assert.equal(alu("add_lsl", { x1: a, x2: b }), (a + (b << 3n)) & M64);
      assert.equal(alu("add_lsr", { x1: a, x2: b }), (a + (b >> 60n)) & M64);
      assert.equal(alu("add_asr", { x1: a, x2: b }), (a + u64(signed64(b) >> 4n)) & M64);
      const w = (a - u64(signed32(b & M32) >> 31n)) & M32;
      assert.equal(alu("sub_asr32", { x1: a, x2: b }), w);
    }
  }
});

Deno.test("arm64 core: add/sub extended register (uxtw, sxtw, uxtb, sxth, sxtx, sp)", () => {
  const a = 0x1000_0000_0000_0000n;
  assert.equal(alu("add_uxtw", { x1: a, x2: 0xffff_ffff_8000_0000n }), a + 0x8000_0000n);
  assert.equal(alu("add_sxtw2", { x1: a, x2: 0x8000_0000n }), (a - 0x2_0000_0000n) & M64);
  assert.equal(alu("add_sxtw2", { x1: 0n, x2: 0x7fff_ffffn }), 0x1_ffff_fffcn);
  assert.equal(alu("add_uxtb1", { x1: 1n, x2: 0x1ffn }), 1n + 0x1fen);
  assert.equal(alu("sub_sxth", { x1: 0n, x2: 0x8000n }), 0x8000n);
  assert.equal(alu("sub_sxth", { x1: 0n, x2: 0x7fffn }), (-0x7fffn) & M64);
  assert.equal(alu("add_sp_ext", { sp: 0x7f00_0000_0000n, x2: 3n }), 0x7f00_0000_0030n);
  const r = rig("alu").step1("sub_sp_ext", { sp: 0x7f00_0000_0000n, x2: 0x100n });
  assert.equal(r.sp, 0x7eff_ffff_ff00n);
  assert.equal(alu("add_ext32", { x1: 0xffff_ffffn, x2: 0x1_0000_0102n }), 0x1n);
  assert.equal(alu("add_sxtx", { x1: 1n, x2: M64 }), M64);
});

Deno.test("arm64 core: logical shifted register and negation", () => {
  for (const a of EDGES64) {
    for (const b of EDGES64) {
      const i = { x1: a, x2: b };
      assert.equal(alu("and_reg", i), a & b);
      assert.equal(alu("eor_reg", i), a ^ b);
      assert.equal(alu("bic", i), a & ~b & M64);
      assert.equal(alu("orn_lsl", i), (a | ~(b << 4n)) & M64);
      assert.equal(alu("eon", i), (a ^ ~b) & M64);
      const ror8 = ((b >> 8n) | (b << 56n)) & M64;
      assert.equal(alu("and_ror", i), a & ror8);
      assert.equal(alu("orr_reg32", i), (a | b) & M32);
      const b32 = b & M32, ror4 = ((b32 >> 4n) | (b32 << 28n)) & M32;
      assert.equal(alu("eor_ror32", i), (a ^ ror4) & M32);
      assert.equal(alu("orr_lsr32", i), (a | (b32 >> 16n)) & M32);
    }
    assert.equal(alu("neg", { x1: a }), (-a) & M64);
    assert.equal(alu("neg32", { x1: a }), (-a) & M32);
    assert.equal(alu("mvn", { x1: a }), ~a & M64);
  }
});

Deno.test("arm64 core: logical immediates (bitmask decoding) and sp destination", () => {
  const a = 0x1234_5678_9abc_def0n;
  assert.equal(alu("and_imm", { x1: a }), a & 0xff0n);
  assert.equal(alu("orr_imm32", { x1: 0xffff_0000_0000_0010n }), 0x8000_0011n);
  assert.equal(alu("eor_imm", { x1: a }), a ^ 0x5555_5555_5555_5555n);
  assert.equal(alu("and_imm_rot", { x1: M64 }), 0x8000_0000_0000_0001n);
  assert.equal(alu("eor_imm32_rep", { x1: 0xffn }), 0x0f0f_0ff0n);
  const r = rig("alu").step1("and_imm_sp", { x1: 0x7f00_0000_123fn });
  assert.equal(r.sp, 0x7f00_0000_1230n);
});

Deno.test("arm64 core: shifts by immediate and by register", () => {
  for (const a of EDGES64) {
    const s = signed64(a);
    assert.equal(alu("lsl_imm", { x1: a }), (a << 4n) & M64);
    assert.equal(alu("lsr_imm", { x1: a }), a >> 4n);
    assert.equal(alu("asr_imm", { x1: a }), u64(s >> 4n));
    const a32 = a & M32;
    assert.equal(alu("lsl_imm32", { x1: a }), (a32 << 31n) & M32);
    assert.equal(alu("lsr_imm32", { x1: a }), a32 >> 31n);
    assert.equal(alu("asr_imm32", { x1: a }), u64(signed32(a32) >> 31n) & M32);
    assert.equal(alu("ror_imm", { x1: a }), ((a >> 8n) | (a << 56n)) & M64);
    assert.equal(alu("ror_imm32", { x1: a }), ((a32 >> 8n) | (a32 << 24n)) & M32);
    for (const n of [0n, 1n, 31n, 32n, 33n, 63n, 64n, 65n, 0xffn]) {
      const k = n & 63n, k32 = n & 31n;
      assert.equal(alu("lslv", { x1: a, x2: n }), (a << k) & M64, `lslv ${a} ${n}`);
      assert.equal(alu("lsrv", { x1: a, x2: n }), a >> k);
      assert.equal(alu("asrv", { x1: a, x2: n }), u64(s >> k));
      assert.equal(alu("rorv", { x1: a, x2: n }), ((a >> k) | (a << ((64n - k) & 63n))) & M64);
      assert.equal(alu("lslv32", { x1: a, x2: n }), (a32 << k32) & M32);
      assert.equal(alu("asrv32", { x1: a, x2: n }), u64(signed32(a32) >> k32) & M32);
      const rot = ((a32 >> k32) | (a32 << ((32n - k32) & 31n))) & M32;
      assert.equal(alu("rorv32", { x1: a, x2: n }), rot);
    }
  }
  const a = 0x0123_4567_89ab_cdefn, b = 0xfedc_ba98_7654_3210n;
  assert.equal(alu("extr", { x1: a, x2: b }), ((b >> 12n) | (a << 52n)) & M64);
  assert.equal(alu("extr32", { x1: a, x2: b }), (((b & M32) >> 4n) | ((a & M32) << 28n)) & M32);
});

Deno.test("arm64 core: bitfield moves (ubfx, sbfx, ubfiz, sbfiz, bfi, bfxil, extends)", () => {
  const a = 0xfedc_ba98_7654_3210n;
  assert.equal(alu("ubfx", { x1: a }), (a >> 8n) & 0xfffn);
  assert.equal(alu("sbfx", { x1: a }), u64(BigInt.asIntN(12, a >> 8n)));
  assert.equal(alu("sbfx", { x1: 0x7ff00n }), 0x7ffn);
  assert.equal(alu("ubfiz", { x1: a }), (a & 0xffn) << 4n);
  assert.equal(alu("sbfiz", { x1: 0x80n }), u64(-0x80n << 4n));
  assert.equal(alu("sbfiz", { x1: 0x7fn }), 0x7f0n);
  assert.equal(alu("bfi", { x0: M64, x1: 0x1234n }), (M64 & ~0xffff00n) | (0x1234n << 8n));
  assert.equal(alu("bfxil", { x0: M64, x1: 0xabcdefn }), (M64 & ~0xffffn) | 0xabcdn);
  assert.equal(alu("bfi32", { x0: 0xffff_ffff_0fff_ffffn, x1: 0xan }), 0xafff_ffffn);
  assert.equal(alu("uxtb", { x1: 0x1234_5678_9abc_deffn }), 0xffn);
  assert.equal(alu("uxth", { x1: 0x1234_5678_9abc_deffn }), 0xdeffn);
  assert.equal(alu("sxtb", { x1: 0x80n }), u64(-128n));
  assert.equal(alu("sxth", { x1: 0x8001n }), u64(-0x7fffn));
  assert.equal(alu("sxtw", { x1: 0xffff_ffff_8000_0000n }), u64(-0x8000_0000n));
  assert.equal(alu("sxtw", { x1: 0xffff_ffff_7fff_ffffn }), 0x7fff_ffffn);
  assert.equal(alu("sxtb32", { x1: 0xffn }), 0xffff_ffffn);
  assert.equal(alu("sbfx_top", { x1: 0x8000_0000_0000_0000n }), u64(-0x8000_0000n));
});

Deno.test("arm64 core: multiplies (madd, msub, mul, mneg, long, high)", () => {
  const vals = [0n, 1n, 3n, M64, 0x8000_0000_0000_0000n, 0x1234_5678_9abc_def0n, 0xffff_ffffn];
  for (const a of vals) {
    for (const b of vals) {
      const c = 0x1111_2222_3333_4444n;
      const i = { x1: a, x2: b, x3: c };
      assert.equal(alu("madd", i), (c + a * b) & M64);
      assert.equal(alu("msub", i), (c - a * b) & M64);
      assert.equal(alu("mul", i), (a * b) & M64);
      assert.equal(alu("mneg", i), (-(a * b)) & M64);
      assert.equal(alu("mul32", i), (a * b) & M32);
      assert.equal(alu("madd32", i), (c + a * b) & M32);
      const sa = signed32(a & M32), sb = signed32(b & M32);
      assert.equal(alu("smull", i), u64(sa * sb));
      assert.equal(alu("umull", i), (a & M32) * (b & M32));
      assert.equal(alu("smaddl", i), u64(c + sa * sb));
      assert.equal(alu("umsubl", i), u64(c - (a & M32) * (b & M32)));
      assert.equal(alu("smulh", i), u64((signed64(a) * signed64(b)) >> 64n), `smulh ${a} ${b}`);
      assert.equal(alu("umulh", i), (a * b) >> 64n, `umulh ${a} ${b}`);
    }
  }
});

Deno.test("arm64 core: divides (by zero gives 0, MIN / -1 gives MIN)", () => {
  const vals = [0n, 1n, 7n, M64, 0x8000_0000_0000_0000n, 0x1234_5678_9abc_def0n, 0xffff_ffffn, 10n];
  for (const a of vals) {
    for (const b of vals) {
      const i = { x1: a, x2: b };
      assert.equal(alu("udiv", i), b === 0n ? 0n : a / b, `udiv ${a} ${b}`);
      const sa = signed64(a), sb = signed64(b);
      const sq = sb === 0n ? 0n : sa === -(1n << 63n) && sb === -1n ? sa : sa / sb;
      assert.equal(alu("sdiv", i), u64(sq), `sdiv ${a} ${b}`);
      const a32 = a & M32, b32 = b & M32;
      assert.equal(alu("udiv32", i), b32 === 0n ? 0n : a32 / b32);
      const s32a = signed32(a32), s32b = signed32(b32);
      const q32 = s32b === 0n ? 0n : s32a === -(1n << 31n) && s32b === -1n ? s32a : s32a / s32b;
      assert.equal(alu("sdiv32", i), u64(q32) & M32, `sdiv32 ${a} ${b}`);
    }
  }
  assert.equal(alu("udiv", { x1: 0xffff_ffff_ffff_fff0n, x2: 0x1_0000_0001n }), 0xffff_fffen);
});

Deno.test("arm64 core: clz, cls, rbit, rev", () => {
  const rbit64 = (v: bigint) => BigInt("0b" + v.toString(2).padStart(64, "0").split("").reverse().join(""));
  const bytes = (v: bigint, n: number) =>
    Array.from({ length: n }, (_, i) => (v >> BigInt(8 * i)) & 0xffn);
  const fromBytes = (b: bigint[]) => b.reduce((acc, x, i) => acc | (x << BigInt(8 * i)), 0n);
  for (const a of [...EDGES64, 0x0000_0080_0000_0000n, 0x00f0_0000_0000_0001n]) {
    const clz = a === 0n ? 64n : BigInt(64 - a.toString(2).length);
    assert.equal(alu("clz", { x1: a }), clz);
    const a32 = a & M32;
    assert.equal(alu("clz32", { x1: a }), a32 === 0n ? 32n : BigInt(32 - a32.toString(2).length));
    const sx = signed64(a) < 0n ? ~a & M64 : a;
    assert.equal(alu("cls", { x1: a }), (sx === 0n ? 64n : BigInt(64 - sx.toString(2).length)) - 1n);
    const sx32 = signed32(a32) < 0n ? ~a32 & M32 : a32;
    const cls32 = (sx32 === 0n ? 32n : BigInt(32 - sx32.toString(2).length)) - 1n;
    assert.equal(alu("cls32", { x1: a }), cls32);
    assert.equal(alu("rbit", { x1: a }), rbit64(a));
    assert.equal(alu("rbit32", { x1: a }), rbit64(a32) >> 32n);
    assert.equal(alu("rev", { x1: a }), fromBytes(bytes(a, 8).reverse()));
    const lo = bytes(a, 4), hi = bytes(a >> 32n, 4);
    assert.equal(alu("rev32", { x1: a }), fromBytes([...lo.reverse(), ...hi.reverse()]));
    const b8 = bytes(a, 8);
    const r16 = [b8[1], b8[0], b8[3], b8[2], b8[5], b8[4], b8[7], b8[6]];
    assert.equal(alu("rev16", { x1: a }), fromBytes(r16));
    assert.equal(alu("rev_w", { x1: a }), fromBytes(bytes(a32, 4).reverse()));
  }
});

Deno.test("arm64 core: conditional select and its aliases", () => {
  const Z = 4, N = 8, C = 2, V = 1;
  const i = { x1: 0x1111n, x2: M64 };
  assert.equal(alu("csel", { ...i, nzcv: Z }), 0x1111n);
  assert.equal(alu("csel", { ...i, nzcv: 0 }), M64);
  assert.equal(alu("csel32", { ...i, nzcv: 0 }), 0x1111n);
  assert.equal(alu("csel32", { ...i, nzcv: Z }), M32);
  assert.equal(alu("csinc", { ...i, nzcv: 0 }), 0n, "m + 1 wraps");
  assert.equal(alu("csinc32", { x1: 0n, x2: M32, nzcv: 0 }), 0n);
  assert.equal(alu("csinv", { x1: 1n, x2: 0x5n, nzcv: 0 }), M64 - 5n);
  assert.equal(alu("csneg", { x1: 1n, x2: 0x5n, nzcv: 0 }), u64(-5n));
  assert.equal(alu("csneg", { x1: 1n, x2: 0x5n, nzcv: Z }), 1n);
  assert.equal(alu("cset", { nzcv: N }), 1n, "lt: N != V");
  assert.equal(alu("cset", { nzcv: N | V }), 0n);
  assert.equal(alu("csetm", { nzcv: C }), M64, "hi: C and not Z");
  assert.equal(alu("csetm", { nzcv: C | Z }), 0n);
  assert.equal(alu("cinc", { x1: 41n, nzcv: 0 }), 42n);
  assert.equal(alu("cinc", { x1: 41n, nzcv: N }), 41n);
  assert.equal(alu("cneg", { x1: 7n, nzcv: N }), u64(-7n));
  assert.equal(alu("cneg", { x1: 7n, nzcv: 0 }), 7n);
});

Deno.test("arm64 core: adr and adrp", () => {
  const r = rig("alu");
  assert.equal(alu("adr_fwd"), BigInt(r.at("adr_target")));
  assert.equal(alu("adr_back"), BigInt(r.at("mov_reg")));
  const page = (v: number) => BigInt(v) & ~0xfffn;
  assert.equal(alu("adrp_fwd"), page(r.at("adrp_target")));
});

// ---------------------------------------------------------------------------
// NZCV

/** Runs a flags fixture; returns [x0, nzcv]. */
function flags(label: string, inputs: Inputs = {}): [bigint, number] {
  const r = rig("flags").step1(label, inputs);
  return [r.x(0), r.nzcv];
}

Deno.test("arm64 core: adds/subs/cmp/cmn set NZCV as the hardware does (64 and 32 bits)", () => {
  for (const a of EDGES64) {
    for (const b of EDGES64) {
      const i = { x1: a, x2: b, nzcv: 0b1111 };
      let ref = addRef(a, b, 0n, 64n);
      assert.deepEqual(flags("adds", i), [ref.res, ref.nzcv], `adds ${a} ${b}`);
      ref = subRef(a, b, 64n);
      assert.deepEqual(flags("subs", i), [ref.res, ref.nzcv], `subs ${a} ${b}`);
      assert.equal(flags("cmp_reg", i)[1], ref.nzcv);
      ref = subRef(a, (b << 1n) & M64, 64n);
      assert.equal(flags("cmp_lsl", i)[1], ref.nzcv);
      ref = subRef(a, u64(signed32(b & M32)), 64n);
      assert.equal(flags("cmp_sxtw", i)[1], ref.nzcv, `cmp sxtw ${a} ${b}`);
    }
    const ref = subRef(0n, a, 64n);
    assert.deepEqual(flags("negs", { x1: a }), [ref.res, ref.nzcv]);
    assert.equal(flags("cmp_imm", { x1: a })[1], subRef(a, 5n, 64n).nzcv);
    assert.equal(flags("cmn_imm", { x1: a })[1], addRef(a, 1n, 0n, 64n).nzcv);
    const ai = addRef(a, 1n, 0n, 64n);
    assert.deepEqual(flags("adds_imm", { x1: a }), [ai.res, ai.nzcv]);
    const sl = subRef(a, 0x1000n, 64n);
    assert.deepEqual(flags("subs_imm_lsl12", { x1: a }), [sl.res, sl.nzcv]);
  }
  for (const a of EDGES32) {
    for (const b of EDGES32) {
      // Garbage in the top halves must not leak into 32-bit flags.
      const i = { x1: a | 0xdead_0000_0000_0000n, x2: b | 0xbeef_0000_0000_0000n };
      let ref = addRef(a, b, 0n, 32n);
      assert.deepEqual(flags("adds32", i), [ref.res, ref.nzcv], `adds32 ${a} ${b}`);
      assert.equal(flags("cmn_reg32", i)[1], ref.nzcv);
      ref = subRef(a, b, 32n);
      assert.deepEqual(flags("subs32", i), [ref.res, ref.nzcv], `subs32 ${a} ${b}`);
      assert.equal(flags("cmp_reg32", i)[1], ref.nzcv);
    }
    assert.equal(flags("cmp_imm32", { x1: a })[1], subRef(a, 5n, 32n).nzcv);
    const s1 = subRef(a, 1n, 32n);
    assert.deepEqual(flags("subs_imm32", { x1: a }), [s1.res, s1.nzcv]);
  }
  // adds with sp as the first operand (extended form).
  const ref = addRef(0x7000n, M64, 0n, 64n);
  assert.deepEqual(flags("adds_ext_sp", { sp: 0x7000n, x2: M64 }), [ref.res, ref.nzcv]);
});

Deno.test("arm64 core: ands/bics/tst set N and Z, clear C and V", () => {
  for (const a of EDGES64) {
    for (const b of EDGES64) {
      const i = { x1: a, x2: b, nzcv: 0b0011 };
      const nz = (v: bigint, top: bigint) => ((v >> top) & 1n ? 8 : 0) | (v === 0n ? 4 : 0);
      assert.deepEqual(flags("ands", i), [a & b, nz(a & b, 63n)]);
      const w = a & b & M32;
      assert.deepEqual(flags("ands32", i), [w, nz(w, 31n)]);
      const bic = a & ~b & M64;
      assert.deepEqual(flags("bics", i), [bic, nz(bic, 63n)]);
      const bic32 = a & ~b & M32;
      assert.deepEqual(flags("bics32", i), [bic32, nz(bic32, 31n)]);
    }
    assert.equal(flags("tst_imm", { x1: a, nzcv: 3 })[1], a >> 63n ? 8 : 4);
    assert.equal(flags("tst32", { x1: a, nzcv: 3 })[1], a & 1n ? 0 : 4);
    assert.deepEqual(flags("ands_imm", { x1: a })[0], a & 0xffn);
  }
});

Deno.test("arm64 core: adc/adcs/sbc/sbcs/ngc use and set the carry", () => {
  for (const cin of [0n, 1n]) {
    const nzcv = cin ? 2 : 0;
    for (const a of EDGES64) {
      for (const b of EDGES64) {
        const i = { x1: a, x2: b, nzcv };
        const add = addRef(a, b, cin, 64n);
        assert.equal(flags("adc", i)[0], add.res);
        assert.equal(flags("adc", i)[1], nzcv, "adc leaves the flags alone");
        assert.deepEqual(flags("adcs", i), [add.res, add.nzcv], `adcs ${a} ${b} ${cin}`);
        const sub = subRef(a, b, 64n, cin);
        assert.equal(flags("sbc", i)[0], sub.res);
        assert.deepEqual(flags("sbcs", i), [sub.res, sub.nzcv], `sbcs ${a} ${b} ${cin}`);
      }
      assert.equal(flags("ngc", { x1: a, nzcv })[0], subRef(0n, a, 64n, cin).res);
    }
    for (const a of EDGES32) {
      for (const b of EDGES32) {
        const i = { x1: a, x2: b, nzcv };
        const add = addRef(a, b, cin, 32n);
        assert.deepEqual(flags("adcs32", i), [add.res, add.nzcv]);
        const sub = subRef(a, b, 32n, cin);
        assert.deepEqual(flags("sbcs32", i), [sub.res, sub.nzcv]);
      }
    }
  }
});

Deno.test("arm64 core: ccmp/ccmn compare when the condition holds, else set the immediate", () => {
  for (const a of EDGES64) {
    for (const b of EDGES64) {
      // ccmp x1, x2, #4, eq
      assert.equal(flags("ccmp_reg", { x1: a, x2: b, nzcv: 4 })[1], subRef(a, b, 64n).nzcv);
      assert.equal(flags("ccmp_reg", { x1: a, x2: b, nzcv: 0 })[1], 4);
      // ccmp w1, w2, #0, cs
      const r32 = subRef(a & M32, b & M32, 32n).nzcv;
      assert.equal(flags("ccmp_reg32", { x1: a, x2: b, nzcv: 2 })[1], r32);
      assert.equal(flags("ccmp_reg32", { x1: a, x2: b, nzcv: 8 })[1], 0);
    }
    // ccmp x1, #3, #2, ne
    assert.equal(flags("ccmp_imm", { x1: a, nzcv: 0 })[1], subRef(a, 3n, 64n).nzcv);
    assert.equal(flags("ccmp_imm", { x1: a, nzcv: 4 })[1], 2);
    // ccmn w1, #5, #8, ge
    assert.equal(flags("ccmn_imm32", { x1: a, nzcv: 0 })[1], addRef(a & M32, 5n, 0n, 32n).nzcv);
    assert.equal(flags("ccmn_imm32", { x1: a, nzcv: 8 })[1], 8);
  }
  assert.equal(flags("cfinv", { nzcv: 0b1010 })[1], 0b1000);
});

// ---------------------------------------------------------------------------
// Branches

function condHolds(cond: string, f: number): boolean {
  const n = (f >> 3) & 1, z = (f >> 2) & 1, c = (f >> 1) & 1, v = f & 1;
  const t: Record<string, boolean> = {
    eq: z === 1,
    ne: z === 0,
    cs: c === 1,
    cc: c === 0,
    mi: n === 1,
    pl: n === 0,
    vs: v === 1,
    vc: v === 0,
    hi: c === 1 && z === 0,
    ls: !(c === 1 && z === 0),
    ge: n === v,
    lt: n !== v,
    gt: z === 0 && n === v,
    le: !(z === 0 && n === v),
    al: true,
    nv: true,
  };
  return t[cond];
}

Deno.test("arm64 core: b.cond for every condition and every NZCV", () => {
  const r = rig("branch");
  const conds = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"];
  for (const cond of [...conds, "al", "nv"]) {
    for (let f = 0; f < 16; f++) {
      r.start(`b_${cond}`, { nzcv: f });
      assert.equal(r.run(), EXIT.SW_BREAKPOINT);
      assert.equal(r.x(0), condHolds(cond, f) ? 1n : 0n, `b.${cond} with ${f.toString(2)}`);
      assert.equal(r.nzcv, f, "b.cond leaves NZCV alone");
    }
  }
});

Deno.test("arm64 core: cbz/cbnz/tbz/tbnz on 64 and 32 bits", () => {
  const r = rig("branch");
  const taken = (label: string, x1: bigint) => {
    r.start(label, { x1 });
    assert.equal(r.run(), EXIT.SW_BREAKPOINT);
    assert.equal(r.core.retired, label.length > 0 ? r.core.retired : 0);
    return r.x(0) === 1n;
  };
  assert.equal(taken("cbz_x", 0n), true);
  assert.equal(taken("cbz_x", 1n << 40n), false);
  assert.equal(taken("cbnz_x", 1n << 40n), true);
  assert.equal(taken("cbz_w", 1n << 40n), true, "cbz w ignores the top half");
  assert.equal(taken("cbnz_w", 1n << 40n), false);
  assert.equal(taken("cbnz_w", 0x8000_0000n), true);
  assert.equal(taken("tbz_0", 2n), true);
  assert.equal(taken("tbz_0", 1n), false);
  assert.equal(taken("tbnz_0", 1n), true);
  assert.equal(taken("tbz_63", 1n << 63n), false);
  assert.equal(taken("tbz_63", (1n << 63n) - 1n), true);
  assert.equal(taken("tbnz_33", 1n << 33n), true);
  assert.equal(taken("tbnz_33", 1n << 1n), false);
  assert.equal(taken("tbnz_w31", 0x8000_0000n), true);
});

Deno.test("arm64 core: b, bl/ret, br, blr, ret xN and far branches across pages", () => {
  const r = rig("branch");
  r.start("b_fwd", { x0: 9n });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 9n);
  r.start("call");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 8n);
  assert.equal(r.x(30), BigInt(r.at("call") + 8), "lr = the instruction after bl");
  r.start("br_x1", { x1: r.at("landing") });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 42n);
  r.start("blr_x1", { x1: r.at("landing") });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 42n);
  assert.equal(r.x(30), BigInt(r.at("blr_x1") + 4));
  r.start("ret_x1", { x1: r.at("landing") });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 42n);
  r.start("blr_x30", { x30: r.at("landing") });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 42n, "blr x30 jumps to the old x30");
  assert.equal(r.x(30), BigInt(r.at("blr_x30") + 4));
  r.start("cross_page");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 2n);
  assert.equal(r.core.retired, 4);
  r.start("far_jump", { x0: 0n });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 101n);
  assert.equal(r.pc, r.at("far_back") + 4);
});

Deno.test("arm64 core: budget and retired; registers written between runs take effect", () => {
  const r = rig("branch");
  r.start("loop", { x0: 0n, x1: 1000n });
  assert.equal(r.run(0), EXIT.BUDGET);
  assert.equal(r.core.retired, 0);
  assert.equal(r.pc, r.at("loop"));
  for (let i = 1; i <= 5; i++) {
    assert.equal(r.run(1), EXIT.BUDGET, "budget 1 is a single step");
    assert.equal(r.core.retired, 1);
    assert.equal(r.pc, r.at("loop") + 4 * (i % 3));
  }
  assert.equal(r.x(0), 2n);
  assert.equal(r.x(1), 998n);
  // 5 steps ended just after `subs` (998, no borrow: C): flags are in cpsr.
  // Make b.ne fall through.
  assert.equal(r.nzcv, 0b0010);
  r.nzcv = 0b0100;
  assert.equal(r.run(1), EXIT.BUDGET);
  assert.equal(r.pc, r.at("loop") + 12, "b.ne saw the Z written by the debugger");
  // Resume in the loop with a new count.
  r.start("loop", { x0: 0n, x1: 100n });
  assert.equal(r.run(150), EXIT.BUDGET);
  assert.equal(r.core.retired, 150);
  assert.equal(r.x(0), 50n);
  assert.equal(r.run(1000), EXIT.SW_BREAKPOINT);
  assert.equal(r.core.retired, 150, "the brk itself is not retired");
  assert.equal(r.x(0), 100n);
  assert.equal(r.x(1), 0n);
  // A huge budget on an endless loop is cut only by the budget.
  r.start("loop", { x0: 0n, x1: 0n });
  assert.equal(r.run(10_000), EXIT.BUDGET);
  assert.equal(r.core.retired, 10_000);
});

// ---------------------------------------------------------------------------
// Exits

Deno.test("arm64 core: svc exits with pc after it; brk with pc at it and its immediate", () => {
  const r = rig("system");
  r.start("svc0");
  assert.equal(r.run(), EXIT.SYSCALL);
  assert.equal(r.pc, r.at("svc0") + 4);
  assert.equal(r.core.retired, 1);
  assert.equal(r.core.detail, 0);
  r.start("svc_imm");
  assert.equal(r.run(), EXIT.SYSCALL);
  assert.equal(r.core.detail, 0x1234);
  r.start("brk_imm");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.pc, r.at("brk_imm"));
  assert.equal(r.core.retired, 0);
  assert.equal(r.core.detail, 0xf00);
  // Running again stops at the same brk: the debugger must move pc.
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.pc, r.at("brk_imm"));
});

Deno.test("arm64 core: udf, unallocated and unimplemented encodings are UNDEFINED_INSTRUCTION", () => {
  const r = rig("system");
  const undef = (label: string, raw: number) => {
    r.start(label, { x0: 77n });
    const before = r.snapshot();
    assert.equal(r.run(), EXIT.UNDEFINED_INSTRUCTION, label);
    assert.equal(r.pc, r.at(label));
    assert.equal(r.core.retired, 0);
    assert.equal(r.core.detail, raw, label);
    assert.deepEqual(r.snapshot(), before, "nothing changed");
  };
  undef("udf", 0x00001234);
  undef("unallocated", 0xd4a00000);
  undef("smc", 0xd4000003);
  undef("hlt", 0xd4400000);
  undef("hvc", 0xd4000aa2); // EL0 cannot hvc
  undef("mrs_midr", 0xd5380000);
  undef("mrs_sctlr", 0xd5381000);
  undef("msr_daifset", 0xd50342df);
  undef("msr_tpidrro", 0xd51bd061);
  undef("retaa", 0xd65f0bff);
  undef("mrs_cntvct", 0xd53be040); // no counter attached
  const s = rig("simd");
  s.start("fadd_h");
  assert.equal(s.run(), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(s.core.detail, 0x1ee22820);
});

Deno.test("arm64 core: guest mode: hvc is HYPERCALL and wfi is HALT, both with pc after", () => {
  const r = new Rig("system", "guest");
  r.start("hvc");
  assert.equal(r.run(), EXIT.HYPERCALL);
  assert.equal(r.pc, r.at("hvc") + 4);
  assert.equal(r.core.detail, 0x55);
  assert.equal(r.core.retired, 1);
  r.start("wfi");
  assert.equal(r.run(), EXIT.HALT);
  assert.equal(r.pc, r.at("wfi") + 4);
  assert.equal(r.core.retired, 1);
});

Deno.test("arm64 core: user wfi traps (Zircon clears SCTLR_EL1.nTWI); other hints are nops", () => {
  const r = rig("system");
  r.start("wfi");
  assert.equal(r.run(), EXIT.GENERAL_PROTECTION);
  assert.equal(r.pc, r.at("wfi"));
  assert.equal(r.core.retired, 0);
  r.start("hints");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 11n);
  assert.equal(r.core.retired, 23);
});

Deno.test("arm64 core: mrs/msr of NZCV, TPIDR_EL0, FPCR and the EL0-readable ID registers", () => {
  const r = rig("system");
  r.step1("mrs_nzcv", { nzcv: 0b1010 });
  assert.equal(r.x(0), 0xa000_0000n);
  r.step1("msr_nzcv", { x1: 0xffff_ffff_6fff_ffffn });
  assert.equal(r.nzcv, 0b0110);
  assert.equal(r.x(33), 0x6000_0000n, "only NZCV reaches cpsr");
  r.step1("msr_tpidr", { x1: 0x1234_5678_9abc_def0n });
  assert.equal(r.x(34), 0x1234_5678_9abc_def0n, "tpidr is in the register file after the run");
  r.step1("mrs_tpidr", { x34: 0x1111_2222_3333_4444n });
  assert.equal(r.x(0), 0x1111_2222_3333_4444n);
  r.step1("mrs_tpidrro", { x0: 5n });
  assert.equal(r.x(0), 0n);
  r.step1("mrs_ctr");
  assert.equal(r.x(0), 0x8444_8004n);
  r.step1("mrs_dczid");
  assert.equal(r.x(0), 4n);
  r.step1("msr_fpcr", { x1: 0x0040_0000n });
  r.step1("mrs_fpcr");
  assert.equal(r.x(0), 0x0040_0000n);
  r.step1("mrs_fpsr", { x0: 9n });
  assert.equal(r.x(0), 0n);
  const g = new Rig("system");
  g.core.counter = { frequency: 24_000_000, now: () => 0x1_2345_6789 };
  g.step1("mrs_cntvct");
  assert.equal(g.x(0), 0x1_2345_6789n);
  g.step1("mrs_cntfrq");
  assert.equal(g.x(0), 24_000_000n);
});

Deno.test("arm64 core: dc zva zeroes its 64-byte block; cache maintenance runs as a nop", () => {
  const r = rig("system");
  r.poke(DATA + 0x100, new Uint8Array(192).fill(0xaa));
  r.step1("dc_zva", { x1: DATA + 0x150 });
  assert.deepEqual([...r.peek(DATA + 0x100, 192)], [
    ...new Array(0x40).fill(0xaa),
    ...new Array(0x40).fill(0),
    ...new Array(0x40).fill(0xaa),
  ]);
  for (const label of ["dc_civac", "dc_cvau", "ic_ivau"]) r.step1(label, { x1: DATA });
});
