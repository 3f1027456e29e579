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
import { ZX_THREAD_STATE } from "../arch/layout.ts";
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
  const rbit64 = (v: bigint) =>
    BigInt("0b" + v.toString(2).padStart(64, "0").split("").reverse().join(""));
  const bytes = (v: bigint, n: number) =>
    Array.from({ length: n }, (_, i) => (v >> BigInt(8 * i)) & 0xffn);
  const fromBytes = (b: bigint[]) => b.reduce((acc, x, i) => acc | (x << BigInt(8 * i)), 0n);
  for (const a of [...EDGES64, 0x0000_0080_0000_0000n, 0x00f0_0000_0000_0001n]) {
    const clz = a === 0n ? 64n : BigInt(64 - a.toString(2).length);
    assert.equal(alu("clz", { x1: a }), clz);
    const a32 = a & M32;
    assert.equal(alu("clz32", { x1: a }), a32 === 0n ? 32n : BigInt(32 - a32.toString(2).length));
    const sx = signed64(a) < 0n ? ~a & M64 : a;
    assert.equal(
      alu("cls", { x1: a }),
      (sx === 0n ? 64n : BigInt(64 - sx.toString(2).length)) - 1n,
    );
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
  const conds = [
    "eq",
    "ne",
    "cs",
    "cc",
    "mi",
    "pl",
    "vs",
    "vc",
    "hi",
    "ls",
    "ge",
    "lt",
    "gt",
    "le",
  ];
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

// ---------------------------------------------------------------------------
// Loads and stores

const PATTERN = Uint8Array.from({ length: 64 }, (_, i) => (i * 0x11 + 0x80) & 0xff);
const le = (bytes: Uint8Array, at: number, n: number) =>
  [...bytes.subarray(at, at + n)].reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);

/** A fresh ldst rig with PATTERN at `addr`. */
function ldst(addr = DATA + 0x100): Rig {
  const r = rig("ldst");
  r.poke(DATA, new Uint8Array(0x1000));
  r.poke(addr, PATTERN);
  return r;
}

Deno.test("arm64 core: loads of every size, zero- and sign-extended", () => {
  const A = DATA + 0x100;
  const r = ldst(A);
  const load = (label: string, x1 = A) => r.step1(label, { x0: M64, x1 }).x(0);
  assert.equal(load("ldr_x"), le(PATTERN, 8, 8));
  assert.equal(load("ldr_w"), le(PATTERN, 4, 4));
  assert.equal(load("ldrh"), le(PATTERN, 2, 2));
  assert.equal(load("ldrb"), le(PATTERN, 1, 1));
  assert.equal(load("ldrsb_w"), u64(BigInt.asIntN(8, le(PATTERN, 0, 1))) & M32);
  assert.equal(load("ldrsb_x"), u64(BigInt.asIntN(8, le(PATTERN, 0, 1))));
  assert.equal(load("ldrsh_w"), u64(BigInt.asIntN(16, le(PATTERN, 0, 2))) & M32);
  assert.equal(load("ldrsh_x"), u64(BigInt.asIntN(16, le(PATTERN, 0, 2))));
  assert.equal(load("ldrsw"), u64(BigInt.asIntN(32, le(PATTERN, 4, 4))));
  assert.equal(load("ldrsb_x", A + 0x10), u64(BigInt.asIntN(8, le(PATTERN, 0x10, 1))));
  r.poke64(DATA + 32760, 0x0102_0304_0506_0708n);
  assert.equal(load("ldr_x_max", DATA), 0x0102_0304_0506_0708n);
  assert.equal(load("ldur_neg", A + 8), le(PATTERN, 0, 8));
  assert.equal(load("ldur_odd"), le(PATTERN, 3, 4));
  assert.equal(load("ldursb", A + 1), u64(BigInt.asIntN(8, le(PATTERN, 0, 1))));
  assert.equal(load("ldr_xzr"), M64, "a load into xzr is discarded");
  assert.equal(load("ldar"), le(PATTERN, 0, 8));
  assert.equal(load("ldarb"), le(PATTERN, 0, 1));
  assert.equal(load("prfm"), M64);
});

Deno.test("arm64 core: stores of every size (only those bytes change)", () => {
  const A = DATA + 0x100;
  const r = ldst(A);
  const v = 0x1122_3344_5566_7788n;
  const store = (label: string, at: number, n: number, x1 = A) => {
    r.poke(A - 16, new Uint8Array(48).fill(0xee));
    r.step1(label, { x0: v, x1 });
    const got = r.peek(A - 16, 48);
    const want = new Uint8Array(48).fill(0xee);
    for (let i = 0; i < n; i++) want[16 + at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
    assert.deepEqual([...got], [...want], label);
  };
  store("str_x", 8, 8);
  store("str_w", 4, 4);
  store("strh", 2, 2);
  store("strb", 1, 1);
  store("stur_neg", -4, 4);
  store("stlr", 0, 4);
  r.poke(A, new Uint8Array(8).fill(0xff));
  r.step1("str_xzr", { x1: A });
  assert.equal(r.peek64(A), 0n);
});

Deno.test("arm64 core: pre- and post-index write the base back", () => {
  const A = DATA + 0x200;
  const r = ldst(A);
  r.step1("ldr_pre", { x1: A });
  assert.equal(r.x(0), le(PATTERN, 16, 8));
  assert.equal(r.x(1), BigInt(A + 16));
  r.step1("ldr_post", { x1: A });
  assert.equal(r.x(0), le(PATTERN, 0, 8));
  assert.equal(r.x(1), BigInt(A - 16));
  r.step1("str_pre", { x0: 0xabn, x1: A });
  assert.equal(r.x(1), BigInt(A - 8));
  assert.equal(r.peek64(A - 8), 0xabn);
  r.step1("str_post", { x0: 0xcdn, x1: A });
  assert.equal(r.x(1), BigInt(A + 4));
  assert.equal(r.peek32(A), 0xcd);
  r.step1("ldrb_post", { x1: A + 5 });
  assert.equal(r.x(0), le(PATTERN, 5, 1));
  assert.equal(r.x(1), BigInt(A + 6));
  // Post-index across the 4 GiB line carries into the high word.
  const m = new Rig("ldst");
  m.mem.map(0x7fff_ffff_f000, 0x2000);
  m.poke(0x7fff_ffff_fff8, PATTERN);
  m.step1("ldp_post", { x1: 0x7fff_ffff_fff8 });
  assert.equal(m.x(1), 0x8000_0000_0008n);
});

Deno.test("arm64 core: register-offset addressing (lsl, uxtw, sxtw)", () => {
  const A = DATA + 0x400;
  const r = ldst(A);
  assert.equal(r.step1("ldr_reg", { x1: A, x2: 8 }).x(0), le(PATTERN, 8, 8));
  assert.equal(r.step1("ldr_reg", { x1: A + 16, x2: -8 }).x(0), le(PATTERN, 8, 8));
  assert.equal(r.step1("ldr_reg_lsl", { x1: A, x2: 2 }).x(0), le(PATTERN, 16, 8));
  assert.equal(r.step1("ldr_uxtw", { x1: A, x2: 0xffff_ffff_0000_0003n }).x(0), le(PATTERN, 12, 4));
  assert.equal(r.step1("ldr_sxtw", { x1: A + 16, x2: 0xffff_fffen }).x(0), le(PATTERN, 8, 4));
  assert.equal(r.step1("ldrb_reg", { x1: A, x2: 9 }).x(0), le(PATTERN, 9, 1));
  const sw = u64(BigInt.asIntN(32, le(PATTERN, 8, 4)));
  assert.equal(r.step1("ldrsw_reg", { x1: A, x2: 2 }).x(0), sw);
  assert.equal(r.step1("ldrh_reg", { x1: A, x2: 3 }).x(0), le(PATTERN, 6, 2));
  r.step1("strb_sxtw", { x0: 0x5a, x1: A + 8, x2: 0xffff_ffffn });
  assert.equal(r.peek(A + 7, 1)[0], 0x5a);
  r.step1("str_reg", { x0: 0x1234n, x1: A, x2: 24 });
  assert.equal(r.peek64(A + 24), 0x1234n);
});

Deno.test("arm64 core: ldp/stp, ldpsw, ldnp and writeback forms", () => {
  const A = DATA + 0x800;
  const r = ldst(A);
  r.step1("ldp_x", { x1: A });
  assert.deepEqual([r.x(0), r.x(3)], [le(PATTERN, 0, 8), le(PATTERN, 8, 8)]);
  r.step1("ldp_w", { x0: M64, x3: M64, x1: A });
  assert.deepEqual([r.x(0), r.x(3)], [le(PATTERN, 8, 4), le(PATTERN, 12, 4)]);
  r.step1("ldpsw", { x1: A });
  assert.deepEqual([r.x(0), r.x(3)], [
    u64(BigInt.asIntN(32, le(PATTERN, 0, 4))),
    u64(BigInt.asIntN(32, le(PATTERN, 4, 4))),
  ]);
  r.step1("ldp_pre", { x1: A });
  assert.deepEqual([r.x(0), r.x(3), r.x(1)], [
    le(PATTERN, 16, 8),
    le(PATTERN, 24, 8),
    BigInt(A + 16),
  ]);
  r.step1("ldp_post", { x1: A });
  assert.deepEqual([r.x(0), r.x(3), r.x(1)], [
    le(PATTERN, 0, 8),
    le(PATTERN, 8, 8),
    BigInt(A + 16),
  ]);
  r.step1("ldnp", { x1: A });
  assert.deepEqual([r.x(0), r.x(3)], [le(PATTERN, 16, 8), le(PATTERN, 24, 8)]);
  r.step1("stp_pre", { x0: 1n, x3: 2n, x1: A + 0x100 });
  assert.deepEqual([r.peek64(A + 0xf0), r.peek64(A + 0xf8), r.x(1)], [1n, 2n, BigInt(A + 0xf0)]);
  r.step1("stp_post", { x0: 0x1_0000_0003n, x3: 4n, x1: A + 0x100 });
  assert.deepEqual([r.peek32(A + 0x100), r.peek32(A + 0x104), r.x(1)], [3, 4, BigInt(A + 0x108)]);
  r.step1("stp_x", { x0: 5n, x3: 6n, x1: A + 0x100 });
  assert.deepEqual([r.peek64(A + 0xe0), r.peek64(A + 0xe8)], [5n, 6n]);
  r.poke(A + 0x200, new Uint8Array(16).fill(0xff));
  r.step1("stp_xzr", { x1: A + 0x200 });
  assert.deepEqual([r.peek64(A + 0x200), r.peek64(A + 0x208)], [0n, 0n]);
  r.step1("ldp_same", { x1: A });
  assert.deepEqual([r.x(0), r.x(1)], [le(PATTERN, 0, 8), le(PATTERN, 8, 8)]);
});

Deno.test("arm64 core: sp as a base: aligned works, misaligned is ZX_EXCP_GENERAL's exit", () => {
  const r = rig("ldst");
  const S = STACK_TOP - 0x100;
  r.poke64(S + 8, 0x77n);
  assert.equal(r.step1("ldr_sp", { sp: S }).x(0), 0x77n);
  r.step1("str_sp", { x0: 0x99n, sp: S });
  assert.deepEqual([r.sp, r.peek64(S - 16)], [BigInt(S - 16), 0x99n]);
  r.step1("ldp_sp", { sp: S });
  assert.equal(r.sp, BigInt(S + 16));
  r.step1("ldr_sp_reg", { sp: S, x2: 8 });
  assert.equal(r.x(0), 0x77n);
  for (const label of ["ldr_sp", "str_sp", "ldp_sp", "ldr_sp_reg"]) {
    r.start(label, { sp: S + 8, x0: 5n, x2: 8 });
    const before = r.snapshot();
    // An SP alignment fault, which Zircon reports as ZX_EXCP_GENERAL.
    assert.equal(r.run(), EXIT.GENERAL_PROTECTION, label);
    assert.equal(r.core.detail, ALIGN.SP);
    assert.equal(r.pc, r.at(label));
    assert.deepEqual(r.snapshot(), before, `${label}: nothing changed`);
  }
  // Misaligned sp is fine when it is not used as a base.
  const a = rig("alu").step1("add_sp_imm", { sp: 0x7000_0001n });
  assert.equal(a.sp, 0x7000_0021n);
});

Deno.test("arm64 core: unaligned and page-straddling accesses", () => {
  const r = rig("ldst");
  const P = DATA + 0x1000; // a page boundary inside DATA
  r.poke(P - 8, PATTERN.subarray(0, 16));
  for (let off = 1; off < 8; off++) {
    assert.equal(r.step1("ldr_x", { x1: P - 8 - 8 + off }).x(0), le(PATTERN, off, 8), `ldr ${off}`);
  }
  assert.equal(r.step1("ldr_w", { x1: P - 4 - 2 }).x(0), le(PATTERN, 6, 4));
  assert.equal(r.step1("ldrh", { x1: P - 3 }).x(0), le(PATTERN, 7, 2));
  r.step1("str_x", { x0: 0x0102_0304_0506_0708n, x1: P - 8 - 5 });
  assert.equal(r.peek64(P - 5), 0x0102_0304_0506_0708n);
  r.step1("ldp_x", { x1: P - 12 });
  assert.equal(r.x(0), le(r.peek(P - 12, 8), 0, 8));
  r.step1("stp_x", { x0: 1n, x3: 2n, x1: P - 8 + 32 });
  assert.deepEqual([r.peek64(P - 8), r.peek64(P)], [1n, 2n]);
});

Deno.test("arm64 core: a faulting load or store changes no register and no memory", () => {
  const r = new Rig("ldst");
  const RO = DATA + DATA_SIZE; // just past DATA: a read-only page, then nothing
  r.mem.map(RO, 0x1000, ACCESS.READ);
  r.poke(RO, PATTERN);
  const fault = (label: string, inputs: Inputs, addr: bigint, access: number) => {
    r.start(label, inputs);
    const before = r.snapshot();
    const mem = r.peek(RO - 0x100, 0x200);
    assert.equal(r.run(), EXIT.PAGE_FAULT, label);
    assert.equal(r.pc, r.at(label));
    assert.equal(r.core.retired, 0);
    assert.equal(r.core.faultAddress, addr, label);
    assert.equal(r.core.faultAccess, access);
    assert.deepEqual(r.snapshot(), before, `${label}: registers unchanged`);
    assert.deepEqual(r.peek(RO - 0x100, 0x200), mem, `${label}: memory unchanged`);
  };
  const NONE = RO + 0x1000;
  fault("ldr_x", { x1: NONE }, BigInt(NONE + 8), ACCESS.READ);
  fault("ldr_pre", { x1: NONE }, BigInt(NONE + 16), ACCESS.READ);
  fault("ldr_post", { x1: NONE }, BigInt(NONE), ACCESS.READ);
  fault("str_x", { x0: 1n, x1: RO }, BigInt(RO + 8), ACCESS.WRITE);
  fault("str_pre", { x0: 1n, x1: RO + 8 }, BigInt(RO), ACCESS.WRITE);
  fault("stp_pre", { x0: 1n, x3: 2n, x1: RO + 16 }, BigInt(RO), ACCESS.WRITE);
  fault("ldp_post", { x1: NONE - 8 }, BigInt(NONE), ACCESS.READ);
  // A store straddling a writable page and a read-only one writes neither.
  fault("str_x", { x0: M64, x1: RO - 12 }, BigInt(RO), ACCESS.WRITE);
  fault("stp_x", { x0: M64, x3: M64, x1: RO + 24 }, BigInt(RO), ACCESS.WRITE);
  fault("ldr_reg", { x1: NONE, x2: 0 }, BigInt(NONE), ACCESS.READ);
  fault("ldxr_x", { x1: NONE }, BigInt(NONE), ACCESS.READ);
  fault("ldadd_x", { x1: RO, x2: 1n }, BigInt(RO), ACCESS.WRITE);
  fault("swp", { x1: NONE, x2: 1n }, BigInt(NONE), ACCESS.READ);
  // Addresses at or above 2^53 (and "negative" ones) can never be mapped.
  fault("ldr_x", { x1: 0x0020_0000_0000_0000n }, 0x0020_0000_0000_0008n, ACCESS.READ);
  fault("ldr_x", { x1: 0xffff_ffff_ffff_fff0n }, 0xffff_ffff_ffff_fff8n, ACCESS.READ);
  fault("ldur_neg", { x1: 0n }, 0xffff_ffff_ffff_fff8n, ACCESS.READ);
  fault("str_w", { x1: 0xffff_0000_0000_0000n }, 0xffff_0000_0000_0004n, ACCESS.WRITE);
  fault("ldr_x", { x1: 0x001f_ffff_ffff_fff0n }, 0x001f_ffff_ffff_fff8n, ACCESS.READ);
});

Deno.test("arm64 core: instruction fetch needs EXECUTE; misaligned targets are PC alignment faults", () => {
  const r = rig("branch");
  r.start("br_x1", { x1: DATA });
  assert.equal(r.run(), EXIT.PAGE_FAULT, "DATA is mapped read/write, not executable");
  assert.equal(r.pc, DATA);
  assert.equal(r.core.faultAddress, BigInt(DATA));
  assert.equal(r.core.faultAccess, ACCESS.EXECUTE);
  assert.equal(r.core.retired, 1, "the br itself completed");
  r.start("br_x1", { x1: 0x7fff_0000_0000 });
  assert.equal(r.run(), EXIT.PAGE_FAULT);
  assert.equal(r.core.faultAddress, 0x7fff_0000_0000n);
  r.start("br_x1", { x1: 0xffff_ffff_ffff_0000n });
  assert.equal(r.run(), EXIT.PAGE_FAULT);
  assert.equal(r.x(32), 0xffff_ffff_ffff_0000n);
  assert.equal(r.core.faultAddress, 0xffff_ffff_ffff_0000n);
  r.start("br_x1", { x1: r.at("landing") + 2 });
  assert.equal(r.run(), EXIT.ALIGNMENT);
  assert.equal(r.pc, r.at("landing") + 2);
  assert.equal(r.core.detail, ALIGN.PC);
  // A debugger may leave pc anywhere.
  r.start(r.at("landing") + 1);
  assert.equal(r.run(), EXIT.ALIGNMENT);
  r.start(0x0040_0000_0000_0000);
  assert.equal(r.run(), EXIT.PAGE_FAULT);
  assert.equal(r.core.faultAddress, 0x0040_0000_0000_0000n);
  // Budget 0 at a bad pc reports nothing but the budget.
  assert.equal(r.run(0), EXIT.BUDGET);
  // Running off the end of the mapped code faults at the next page.
  const end = CODE + Math.ceil(r.fix.bytes.length / 4096) * 4096 + 4096;
  r.mem.load(end - 4, new Uint8Array([0x1f, 0x20, 0x03, 0xd5])); // nop
  r.start(end - 4);
  assert.equal(r.run(), EXIT.PAGE_FAULT);
  assert.equal(r.pc, end);
  assert.equal(r.core.retired, 1);
});

Deno.test("arm64 core: literal loads", () => {
  const r = rig("ldst");
  assert.equal(r.step1("ldr_lit_x", { x0: 1n }).x(0), 0x8877_6655_4433_2211n);
  assert.equal(r.step1("ldr_lit_w", { x0: M64 }).x(0), 0x4433_2211n);
  assert.equal(r.step1("ldrsw_lit").x(0), 0xffff_ffff_8000_0001n);
  assert.equal(r.step1("ldr_lit_back").x(0), 0x0123_4567_89ab_cdefn);
  assert.equal(r.step1("prfm_lit", { x0: 3n }).x(0), 3n);
});

Deno.test("arm64 core: exclusives (monitor compares the value) and LSE atomics", () => {
  const A = DATA + 0x600;
  const r = ldst(A);
  r.poke(A, [41, 0, 0, 0]);
  r.start("atomic_inc", { x1: A });
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.peek32(A), 42);
  assert.equal(r.x(4), 1n, "no retry");
  // Single-stepping through the loop still makes progress.
  r.start("atomic_inc", { x1: A });
  let steps = 0;
  while (r.run(1) === EXIT.BUDGET) steps++;
  assert.equal(r.peek32(A), 43);
  assert.equal(steps, 6);
  // Another thread changes the word between ldaxr and stlxr: stlxr fails once.
  r.start("atomic_inc", { x1: A });
  assert.equal(r.run(2), EXIT.BUDGET);
  r.poke(A, [100, 0, 0, 0]);
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.peek32(A), 101);
  assert.equal(r.x(4), 2n, "one retry");
  // stxr without a matching ldxr fails and stores nothing.
  r.step1("clrex");
  r.step1("stxr_x", { x0: 5n, x1: A });
  assert.deepEqual([r.x(5), r.peek32(A)], [1n, 101]);
  r.step1("ldxr_x", { x1: A });
  r.step1("stxr_x", { x0: 5n, x1: A + 8 });
  assert.equal(r.x(5), 1n, "a different address fails");
  r.step1("ldxr_x", { x1: A });
  r.step1("stxr_x", { x0: 5n, x1: A });
  assert.deepEqual([r.x(5), r.peek64(A)], [0n, 5n]);
  r.poke64(A, 1n);
  r.poke64(A + 8, 2n);
  r.step1("ldxp", { x1: A });
  assert.deepEqual([r.x(0), r.x(3)], [1n, 2n]);
  r.step1("stxp", { x0: 3n, x3: 4n, x1: A });
  assert.deepEqual([r.x(5), r.peek64(A), r.peek64(A + 8)], [0n, 3n, 4n]);
  // Exclusives must be aligned.
  r.start("ldxr_x", { x1: A + 4 });
  assert.equal(r.run(), EXIT.ALIGNMENT);
  assert.equal(r.core.detail, ALIGN.DATA);
  assert.deepEqual([r.core.faultAddress, r.core.faultAccess], [BigInt(A + 4), ACCESS.READ]);
  r.start("ldadd_x", { x1: A + 2 });
  assert.equal(r.run(), EXIT.ALIGNMENT);
  assert.deepEqual([r.core.faultAddress, r.core.faultAccess], [BigInt(A + 2), ACCESS.WRITE]);
  // LSE: the old value comes back, memory gets the result.
  const atom = (label: string, mem: bigint, x2: bigint, size = 8) => {
    r.poke64(A, mem);
    r.step1(label, { x0: 0xdeadn, x1: A, x2 });
    return [r.x(0), size === 8 ? r.peek64(A) : BigInt(r.peek32(A))];
  };
  assert.deepEqual(atom("ldaddal", 0xffff_fffen, 3n, 4), [0xffff_fffen, 1n]);
  assert.deepEqual(atom("ldadd_x", M64, 2n), [M64, 1n]);
  assert.deepEqual(atom("ldclr", 0xffn, 0x0fn), [0xffn, 0xf0n]);
  assert.deepEqual(atom("ldeor", 0xffn, 0x0fn, 4), [0xffn, 0xf0n]);
  assert.deepEqual(atom("ldset", 0xf0n, 0x0fn, 4), [0xf0n, 0xffn]);
  assert.deepEqual(atom("ldsmax", 0xffff_fff0n, 5n, 4), [0xffff_fff0n, 5n]);
  assert.deepEqual(atom("ldumin", M64, 5n), [M64, 5n]);
  assert.deepEqual(atom("swp", 7n, 9n), [7n, 9n]);
  r.poke64(A, 0x1122n);
  r.step1("swpb", { x1: A, x2: 0x1ffn });
  assert.deepEqual([r.x(0), r.peek64(A)], [0x22n, 0x11ffn]);
  r.poke64(A, 10n);
  r.step1("cas", { x1: A, x2: 10n, x3: 20n });
  assert.deepEqual([r.x(2), r.peek64(A)], [10n, 20n], "cas succeeds");
  r.step1("cas", { x1: A, x2: 10n, x3: 30n });
  assert.deepEqual([r.x(2), r.peek64(A)], [20n, 20n], "cas fails, x2 = the old value");
  r.poke64(A, 0xffff_ffff_0000_0005n);
  r.step1("casal_w", { x1: A, x2: 0x1_0000_0005n, x3: 6n });
  assert.deepEqual([r.x(2), r.peek64(A)], [5n, 0xffff_ffff_0000_0006n]);
});

// ---------------------------------------------------------------------------
// Self-modifying code and whole programs

Deno.test("arm64 core: self-modifying code runs the new bytes", () => {
  const r = new Rig("smc", "user", ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE);
  r.start("smc_store");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 2n);
  r.start("smc_pair");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.deepEqual([r.x(0), r.x(1)], [3n, 4n]);
  r.start("smc_later");
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 11n);
  // A write from outside (process_write_memory, vmo_write) between runs.
  const s = new Rig("programs");
  s.start("sum_to", { x0: 10n });
  assert.equal(s.run(), EXIT.SW_BREAKPOINT);
  assert.equal(s.x(0), 55n);
  s.poke(s.at("sum_to") + 8, [0x00, 0x00, 0x01, 0xcb]); // add -> sub x0, x0, x1
  s.start("sum_to", { x0: 10n });
  assert.equal(s.run(), EXIT.SW_BREAKPOINT);
  assert.equal(s.x(0), u64(-55n));
});

Deno.test("arm64 core: small programs (loop, recursion on the stack, memcpy, syscalls)", () => {
  const r = new Rig("programs");
  r.start("sum_to", { x0: 100_000n });
  assert.equal(r.run(10_000_000), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 5_000_050_000n);
  assert.equal(r.core.retired, 2 + 3 * 100_000);
  r.start("fib_main", { x0: 20n });
  assert.equal(r.run(10_000_000), EXIT.SYSCALL);
  assert.equal(r.x(0), 6765n);
  assert.equal(r.x(16), 1n);
  assert.equal(r.sp, BigInt(STACK_TOP), "the stack is balanced");
  for (const [n, srcOff, dstOff] of [[0, 0, 0], [1, 3, 5], [15, 1, 0], [16, 0, 0], [100, 7, 3]]) {
    const src = DATA + 0x1000 + srcOff, dst = DATA + 0x3000 + dstOff;
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
    r.poke(src, bytes);
    r.poke(dst - 1, new Uint8Array(n + 2).fill(0xcc));
    r.start("copy", { x0: dst, x1: src, x2: n });
    assert.equal(r.run(), EXIT.SW_BREAKPOINT);
    assert.deepEqual([...r.peek(dst, n)], [...bytes]);
    assert.deepEqual([r.peek(dst - 1, 1)[0], r.peek(dst + n, 1)[0]], [0xcc, 0xcc]);
  }
  // Two syscalls: the "kernel" returns a value in x0 in between.
  r.start("two_syscalls", { x0: 0n });
  assert.equal(r.run(), EXIT.SYSCALL);
  assert.equal(r.x(16), 7n);
  assert.equal(r.pc, r.at("two_syscalls") + 8);
  r.setX(0, 41n);
  assert.equal(r.run(), EXIT.SYSCALL);
  assert.deepEqual([r.x(16), r.x(0)], [8n, 42n]);
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
});

// ---------------------------------------------------------------------------
// SIMD & FP (v registers read and written through ZX_THREAD_STATE_VECTOR_REGS)

const VEC = 520;

function vecRegs(r: Rig): Uint8Array {
  const out = new Uint8Array(VEC);
  r.regs.read("zx", ZX_THREAD_STATE.VECTOR_REGS, out);
  return out;
}

/** Sets v[n] from lanes of `esize` bits (lane 0 first); missing lanes are 0. */
function vset(r: Rig, n: number, lanes: (bigint | number)[], esize = 8): void {
  const all = vecRegs(r);
  const v = new DataView(all.buffer, 8 + 16 * n, 16);
  for (let i = 0; i < 16; i++) v.setUint8(i, 0);
  lanes.forEach((x, i) => {
    const val = BigInt.asUintN(esize, BigInt(x));
    for (let k = 0; k < esize / 8; k++) {
      v.setUint8(i * (esize / 8) + k, Number((val >> BigInt(8 * k)) & 0xffn));
    }
  });
  r.regs.write("zx", ZX_THREAD_STATE.VECTOR_REGS, all, { stoppedInSyscall: false });
}

/** v[n] as lanes of `esize` bits. */
function vget(r: Rig, n: number, esize = 8): bigint[] {
  const b = vecRegs(r).subarray(8 + 16 * n, 24 + 16 * n);
  return Array.from({ length: 128 / esize }, (_, i) => le(b, i * (esize / 8), esize / 8));
}

const f64bits = (x: number) => new BigUint64Array(new Float64Array([x]).buffer)[0];
const f32bits = (x: number) => BigInt(new Uint32Array(new Float32Array([x]).buffer)[0]);
const fromF64 = (b: bigint) => new Float64Array(new BigUint64Array([b]).buffer)[0];
const fromF32 = (b: bigint) => new Float32Array(new Uint32Array([Number(b)]).buffer)[0];

function simd(label: string, inputs: Inputs = {}, v: Record<number, bigint[]> = {}): Rig {
  const r = rig("simd");
  for (let i = 0; i < 4; i++) {
    vset(r, i, v[i] ?? [0xdead_beef_dead_beefn, 0xdead_beef_dead_beefn], 64);
  }
  return r.step1(label, inputs);
}

const Q = (lo: bigint, hi: bigint) => [lo, hi];
const V1 = Q(0x0706_0504_0302_0100n, 0x0f0e_0d0c_0b0a_0908n);
const V2 = Q(0x8090_a0b0_c0d0_e0f0n, 0xff00_7f01_8002_0304n);

Deno.test("arm64 core: movi/mvni/orr/bic/fmov (vector immediate)", () => {
  assert.deepEqual(vget(simd("movi_2d_0"), 0, 64), [0n, 0n]);
  assert.deepEqual(vget(simd("movi_16b"), 0, 64), [0x4141_4141_4141_4141n, 0x4141_4141_4141_4141n]);
  assert.deepEqual(vget(simd("movi_8b"), 0, 64), [0x7f7f_7f7f_7f7f_7f7fn, 0n]);
  assert.deepEqual(vget(simd("movi_4s_lsl8"), 0, 32), [0x1200n, 0x1200n, 0x1200n, 0x1200n]);
  assert.deepEqual(vget(simd("mvni_4h"), 0, 16), [
    0xfffen,
    0xfffen,
    0xfffen,
    0xfffen,
    0n,
    0n,
    0n,
    0n,
  ]);
  assert.deepEqual(vget(simd("movi_d_mask"), 0, 64), [0xff00_ff00_00ff_00ffn, 0n]);
  const o = simd("orr_4s_imm", {}, { 0: Q(0x1n, 0x2_0000_0003n) });
  assert.deepEqual(vget(o, 0, 32), [0x8000_0001n, 0x8000_0000n, 0x8000_0003n, 0x8000_0002n]);
  const b = simd("bic_8h_imm", {}, { 0: Q(0x1234_5678_9abc_def0n, M64) });
  assert.deepEqual(vget(b, 0, 64), [0x1200_5600_9a00_de00n, 0xff00_ff00_ff00_ff00n]);
  assert.deepEqual(vget(simd("fmov_v4s"), 0, 32), new Array(4).fill(f32bits(1.5)));
  assert.deepEqual(vget(simd("fmov_v2d"), 0, 64), [f64bits(-2), f64bits(-2)]);
});

Deno.test("arm64 core: dup, ins, umov, smov, fmov (general) and mov (vector)", () => {
  assert.deepEqual(vget(simd("dup_16b_w", { x1: 0x1_23ab }), 0, 64), [
    0xabab_abab_abab_ababn,
    0xabab_abab_abab_ababn,
  ]);
  assert.deepEqual(vget(simd("dup_8b_w", { x1: 0x5a }), 0, 64), [0x5a5a_5a5a_5a5a_5a5an, 0n]);
  assert.deepEqual(vget(simd("dup_2d_x", { x1: 0x1234_5678_9abc_def0n }), 0, 64), [
    0x1234_5678_9abc_def0n,
    0x1234_5678_9abc_def0n,
  ]);
  assert.deepEqual(
    vget(simd("dup_4s_elem", {}, { 1: V1 }), 0, 32),
    new Array(4).fill(0x0706_0504n),
  );
  assert.deepEqual(vget(simd("dup_scalar_s", {}, { 1: V1 }), 0, 64), [0x0f0e_0d0cn, 0n]);
  assert.deepEqual(vget(simd("ins_d1", { x1: 7n }, { 0: V1 }), 0, 64), [V1[0], 7n]);
  assert.deepEqual(vget(simd("ins_s2", { x1: 0xffff_ffff_1234_5678n }, { 0: V1 }), 0, 32), [
    0x0302_0100n,
    0x0706_0504n,
    0x1234_5678n,
    0x0f0e_0d0cn,
  ]);
  assert.deepEqual(vget(simd("ins_elem", {}, { 0: V1, 1: V2 }), 0, 16)[7], 0xe0f0n);
  assert.equal(simd("umov_b3", { x0: M64 }, { 1: V1 }).x(0), 3n);
  assert.equal(simd("umov_d1", {}, { 1: V1 }).x(0), V1[1]);
  assert.equal(simd("smov_h1", {}, { 1: V2 }).x(0), u64(BigInt.asIntN(16, 0xc0d0n)));
  assert.equal(simd("smov_b_w", { x0: M64 }, { 1: V2 }).x(0), 0xffff_fff0n);
  assert.deepEqual(vget(simd("fmov_d_x", { x1: 0x4000_0000_0000_0000n }, { 0: V1 }), 0, 64), [
    0x4000_0000_0000_0000n,
    0n,
  ]);
  assert.equal(simd("fmov_x_d", {}, { 1: V2 }).x(0), V2[0]);
  assert.deepEqual(vget(simd("fmov_s_w", { x1: 0xffff_ffff_3f80_0000n }, { 0: V1 }), 0, 64), [
    0x3f80_0000n,
    0n,
  ]);
  assert.equal(simd("fmov_w_s", { x0: M64 }, { 1: V2 }).x(0), 0xc0d0_e0f0n);
  assert.deepEqual(vget(simd("fmov_v_d1", { x1: 9n }, { 0: V1 }), 0, 64), [V1[0], 9n]);
  assert.equal(simd("fmov_x_v_d1", {}, { 1: V2 }).x(0), V2[1]);
  assert.deepEqual(vget(simd("mov_v16b", {}, { 1: V2 }), 0, 64), V2);
});

Deno.test("arm64 core: SIMD&FP loads and stores (q pairs, d/s/h/b, ld1/st1/ld2/st2, lanes, ld1r)", () => {
  const r = rig("simd");
  const A = DATA + 0x100;
  r.poke(A - 64, Uint8Array.from({ length: 160 }, (_, i) => i));
  const at = (off: number, n: number) => le(r.peek(A + off, n), 0, n);
  const bytesFrom = (off: number) => [at(off, 8), at(off + 8, 8)];
  let s = simd("ldp_q", { x1: A });
  assert.deepEqual([...vget(s, 0, 64), ...vget(s, 1, 64)], [...bytesFrom(0), ...bytesFrom(16)]);
  s = simd("ldp_q_neg", { x1: A });
  assert.deepEqual(vget(s, 1, 64), bytesFrom(-16));
  s = simd("ldr_q_reg", { x1: A - 64, x2: 3 });
  assert.deepEqual(vget(s, 0, 64), bytesFrom(-16));
  s = simd("ldur_q", { x1: A });
  assert.deepEqual(vget(s, 0, 64), bytesFrom(-1));
  s = simd("ldr_d_post", { x1: A });
  assert.deepEqual([...vget(s, 0, 64), s.x(1)], [at(0, 8), 0n, BigInt(A + 8)]);
  assert.deepEqual(vget(simd("ldr_s", { x1: A }), 0, 64), [at(4, 4), 0n]);
  assert.deepEqual(vget(simd("ldr_b", { x1: A }), 0, 64), [at(1, 1), 0n]);
  s = simd("ldp_d", { x1: A });
  assert.deepEqual([...vget(s, 0, 64), ...vget(s, 1, 64)], [at(0, 8), 0n, at(8, 8), 0n]);
  s = simd("ldp_s", { x1: A });
  assert.deepEqual([vget(s, 0, 64)[0], vget(s, 1, 64)[0]], [at(0, 4), at(4, 4)]);
  assert.deepEqual(vget(simd("ldr_q_lit"), 0, 64), [
    0x0706_0504_0302_0100n,
    0x0f0e_0d0c_0b0a_0908n,
  ]);
  // Stores.
  const B = DATA + 0x800;
  r.poke(B - 64, new Uint8Array(192));
  simd("stp_q", { x1: B }, { 0: V1, 1: V2 });
  assert.deepEqual([r.peek64(B), r.peek64(B + 8), r.peek64(B + 16), r.peek64(B + 24)], [
    ...V1,
    ...V2,
  ]);
  s = simd("stp_q_pre", { x1: B }, { 0: V2, 1: V1 });
  assert.deepEqual([r.peek64(B - 32), r.peek64(B - 8), s.x(1)], [V2[0], V1[1], BigInt(B - 32)]);
  simd("str_q", { x1: B }, { 0: V2 });
  assert.deepEqual([r.peek64(B + 16), r.peek64(B + 24)], V2);
  s = simd("str_d_post", { x1: B + 64 }, { 0: V1 });
  assert.deepEqual([r.peek64(B + 64), s.x(1)], [V1[0], BigInt(B + 72)]);
  r.poke(B + 100, [0xee, 0xee, 0xee]);
  simd("str_h", { x1: B + 100 }, { 0: V2 });
  assert.deepEqual([...r.peek(B + 100, 3)], [0xf0, 0xe0, 0xee]);
  // Structures.
  s = simd("ld1_16b", { x1: A });
  assert.deepEqual(vget(s, 0, 64), bytesFrom(0));
  s = simd("ld1_2r", { x1: A });
  assert.deepEqual([...vget(s, 0, 64), ...vget(s, 1, 64), s.x(1)], [
    ...bytesFrom(0),
    ...bytesFrom(16),
    BigInt(A + 32),
  ]);
  simd("st1_4r", { x1: B }, { 0: V1, 1: V2, 2: V2, 3: V1 });
  assert.deepEqual([r.peek64(B), r.peek64(B + 24), r.peek64(B + 56)], [V1[0], V2[1], V1[1]]);
  s = simd("ld2_8h", { x1: A });
  const h = (off: number) => at(off, 2);
  assert.deepEqual(vget(s, 0, 16).slice(0, 3), [h(0), h(4), h(8)]);
  assert.deepEqual(vget(s, 1, 16).slice(0, 3), [h(2), h(6), h(10)]);
  simd("st2_4s", { x1: B }, {
    0: Q(0x1111_1111_0000_0000n, 0x3333_3333_2222_2222n),
    1: Q(0xbbbb_bbbb_aaaa_aaaan, 0n),
  });
  assert.deepEqual([r.peek32(B), r.peek32(B + 4), r.peek32(B + 8), r.peek32(B + 12)], [
    0,
    0xaaaa_aaaa,
    0x1111_1111,
    0xbbbb_bbbb,
  ]);
  s = simd("ld1_lane", { x1: A }, { 0: V2 });
  assert.deepEqual(vget(s, 0, 32), [0xc0d0_e0f0n, at(0, 4), 0x8002_0304n, 0xff00_7f01n]);
  s = simd("st1_lane", { x1: B, x2: 5 }, { 0: V2 });
  assert.deepEqual([r.peek(B, 1)[0], s.x(1)], [0xff, BigInt(B + 5)]);
  assert.deepEqual(vget(simd("ld1r_4s", { x1: A }), 0, 32), new Array(4).fill(at(0, 4)));
});

Deno.test("arm64 core: integer vector arithmetic", () => {
  const a = [1n, 0xffff_ffffn, 0x8000_0000n, 5n], b = [2n, 1n, 0x8000_0000n, 0xffff_fffbn];
  const v = (lanes: bigint[], es: number) => {
    const out = [0n, 0n];
    lanes.forEach((x, i) => {
      const bit = BigInt(i * es);
      out[Number(bit / 64n)] |= BigInt.asUintN(es, x) << (bit % 64n);
    });
    return out;
  };
  const run = (label: string, es: number, x: bigint[], y: bigint[], d: bigint[] = [], out = es) =>
    vget(simd(label, {}, { 0: v(d, es), 1: v(x, es), 2: v(y, es) }), 0, out);
  assert.deepEqual(run("add_4s", 32, a, b), a.map((x, i) => (x + b[i]) & M32));
  assert.deepEqual(run("add_2d", 64, [M64, 5n], [1n, 7n]), [0n, 12n]);
  assert.deepEqual(run("sub_16b", 8, [0n, 5n], [1n, 3n]).slice(0, 3), [0xffn, 2n, 0n]);
  assert.deepEqual(run("sub_d", 64, [0n, 9n], [1n, 1n]), [M64, 0n]);
  assert.deepEqual(run("mul_8h", 16, [0x100n, 3n], [0x101n, 0xffffn]).slice(0, 2), [
    0x100n,
    0xfffdn,
  ]);
  assert.deepEqual(run("mla_4s", 32, [2n, 3n], [5n, 0xffff_ffffn], [1n, 1n]).slice(0, 2), [
    11n,
    0xffff_fffen,
  ]);
  const x = [0x0f0f_0f0f_f0f0_f0f0n, 0x1234n],
    y = [0x00ff_00ff_00ff_00ffn, M64],
    z = [0xffff_0000_ffff_0000n, 0n];
  const bitwise = (label: string) => vget(simd(label, {}, { 0: z, 1: x, 2: y }), 0, 64);
  assert.deepEqual(bitwise("and_16b"), [x[0] & y[0], x[1] & y[1]]);
  assert.deepEqual(bitwise("orr_8b"), [x[0] | y[0], 0n]);
  assert.deepEqual(bitwise("eor_16b"), [x[0] ^ y[0], x[1] ^ y[1]]);
  assert.deepEqual(bitwise("bic_16b"), [x[0] & ~y[0] & M64, 0n]);
  assert.deepEqual(bitwise("bsl"), [
    (z[0] & x[0]) | (~z[0] & y[0] & M64),
    (z[1] & x[1]) | (~z[1] & y[1] & M64),
  ]);
  assert.deepEqual(bitwise("bit"), [
    (z[0] & ~y[0] & M64) | (x[0] & y[0]),
    (z[1] & ~y[1] & M64) | (x[1] & y[1]),
  ]);
  assert.deepEqual(bitwise("bif"), [
    (z[0] & y[0]) | (x[0] & ~y[0] & M64),
    (z[1] & y[1]) | (x[1] & ~y[1] & M64),
  ]);
  assert.deepEqual(run("cmeq_16b", 8, [1n, 2n, 3n], [1n, 0n, 3n]).slice(0, 4), [
    0xffn,
    0n,
    0xffn,
    0xffn,
  ]);
  assert.deepEqual(run("cmeq_zero", 8, [0n, 2n], []).slice(0, 3), [0xffn, 0n, 0xffn]);
  assert.deepEqual(run("cmgt_4s", 32, [1n, 0x8000_0000n, 5n, 0n], [0n, 1n, 5n, 0xffff_ffffn]), [
    M32,
    0n,
    0n,
    M32,
  ]);
  assert.deepEqual(run("cmhi_8h", 16, [1n, 0x8000n], [0n, 1n]).slice(0, 3), [0xffffn, 0xffffn, 0n]);
  assert.deepEqual(run("cmhs_2d", 64, [5n, 1n], [5n, M64]), [M64, 0n]);
  assert.deepEqual(run("cmtst_4s", 32, [6n, 1n], [2n, 2n]).slice(0, 2), [M32, 0n]);
  assert.deepEqual(run("umax_16b", 8, [1n, 0xf0n], [0x80n, 0x10n]).slice(0, 2), [0x80n, 0xf0n]);
  assert.deepEqual(run("smin_4s", 32, [1n, 0xffff_fff0n], [0x8000_0000n, 0x10n]).slice(0, 2), [
    0x8000_0000n,
    0xffff_fff0n,
  ]);
  assert.deepEqual(run("addp_4s", 32, [1n, 2n, 3n, 4n], [10n, 20n, 30n, 40n]), [3n, 7n, 30n, 70n]);
  assert.deepEqual(vget(simd("addp_d", {}, { 1: [M64, 2n] }), 0, 64), [1n, 0n]);
  assert.deepEqual(run("uaddw_2d", 64, [M64, 10n], [0xffff_ffffn | (5n << 32n), 0n]), [
    0xffff_fffen,
    15n,
  ]);
  assert.deepEqual(
    vget(
      simd("uaddw2_4s", {}, {
        1: v([1n, 2n, 3n, 4n], 32),
        2: v([0n, 0n, 0n, 0n, 0xffffn, 1n, 2n, 3n], 16),
      }),
      0,
      32,
    ),
    [0x1_0000n, 3n, 5n, 7n],
  );
  assert.deepEqual(run("saddl_8h", 8, [0xffn, 0x7fn], [0xffn, 0x7fn], [], 16).slice(0, 2), [
    0xfffen,
    0xfen,
  ]);
  assert.deepEqual(run("umull_2d", 32, [0xffff_ffffn, 3n], [0xffff_ffffn, 5n], [], 64), [
    0xffff_fffe_0000_0001n,
    15n,
  ]);
  assert.deepEqual(
    vget(
      simd("smull2_2d", {}, {
        1: v([0n, 0n, 0xffff_ffffn, 0x8000_0000n], 32),
        2: v([0n, 0n, 2n, 0x8000_0000n], 32),
      }),
      0,
      64,
    ),
    [u64(-2n), 0x4000_0000_0000_0000n],
  );
  const bytes16 = Array.from({ length: 16 }, (_, i) => BigInt(200 + i));
  assert.deepEqual(vget(simd("uaddlv_h", {}, { 1: v(bytes16, 8) }), 0, 64), [
    bytes16.reduce((p, q) => p + q),
    0n,
  ]);
  assert.deepEqual(vget(simd("uaddlv_d", {}, { 1: v([M32, M32, M32, M32], 32) }), 0, 64), [
    4n * M32,
    0n,
  ]);
  assert.deepEqual(vget(simd("addv_b", {}, { 1: v(bytes16, 8) }), 0, 64), [
    bytes16.reduce((p, q) => p + q) & 0xffn,
    0n,
  ]);
  assert.deepEqual(vget(simd("umaxv_s", {}, { 1: v([1n, M32, 3n, 4n], 32) }), 0, 64), [M32, 0n]);
  assert.deepEqual(
    vget(simd("sminv_h", {}, { 1: v([1n, 0xffffn, 0x8000n, 4n, 0n, 0n, 0n, 0n], 16) }), 0, 64),
    [0x8000n, 0n],
  );
  assert.deepEqual(
    vget(simd("addv_h", {}, { 1: v([1n, 2n, 3n, 4n, 100n, 100n, 100n, 100n], 16) }), 0, 64),
    [10n, 0n],
  );
  assert.deepEqual(run("cnt_8b", 8, [0xffn, 0x81n, 0n, 7n], []).slice(0, 5), [8n, 2n, 0n, 3n, 0n]);
  assert.deepEqual(vget(simd("not_16b", {}, { 1: V1 }), 0, 64), [~V1[0] & M64, ~V1[1] & M64]);
  assert.deepEqual(run("neg_4s", 32, [1n, 0n, 0x8000_0000n, 5n], []), [
    M32,
    0n,
    0x8000_0000n,
    u64(-5n) & M32,
  ]);
  assert.deepEqual(run("abs_2d", 64, [u64(-7n), 7n], []), [7n, 7n]);
  assert.deepEqual(vget(simd("rev64_16b", {}, { 1: V1 }), 0, 64), [
    0x0001_0203_0405_0607n,
    0x0809_0a0b_0c0d_0e0fn,
  ]);
  assert.deepEqual(vget(simd("xtn_8b", {}, { 1: V1 }), 0, 64), [0x0e0c_0a08_0604_0200n, 0n]);
  assert.deepEqual(vget(simd("xtn2_4s", {}, { 0: V2, 1: V1 }), 0, 32), [
    0xc0d0_e0f0n,
    0x8090_a0b0n,
    0x0302_0100n,
    0x0b0a_0908n,
  ]);
  assert.deepEqual(run("uaddlp_8h", 8, [0xffn, 0xffn, 1n, 2n], [], [], 16).slice(0, 2), [
    0x1fen,
    3n,
  ]);
  assert.deepEqual(run("ushr_4s", 32, [0x8000_0000n, 7n], []).slice(0, 2), [0x1000_0000n, 0n]);
  assert.deepEqual(run("sshr_2d", 64, [u64(-5n), 5n], []), [M64, 0n]);
  assert.deepEqual(run("shl_8h", 16, [0x1234n], []).slice(0, 1), [0x2340n]);
  assert.deepEqual(vget(simd("ushr_d", {}, { 1: V1 }), 0, 64), [0x0706_0504n, 0n]);
  assert.deepEqual(run("ushll_8h", 8, [0xffn, 1n], [], [], 16).slice(0, 2), [0xffn, 1n]);
  assert.deepEqual(vget(simd("sshll2_2d", {}, { 1: v([0n, 0n, 0x8000_0000n, 3n], 32) }), 0, 64), [
    u64(-(1n << 32n)),
    6n,
  ]);
  assert.deepEqual(run("shrn_8b", 16, [0x1234n, 0xfff0n], [], [], 8).slice(0, 3), [
    0x23n,
    0xffn,
    0n,
  ]);
  assert.deepEqual(run("sli_4s", 32, [0x11n], [], [0xffff_ffffn]).slice(0, 1), [0x11ffn]);
  assert.deepEqual(run("sri_2d", 64, [0x1234_0000n], [], [M64]), [0xffff_0000_0000_1234n, 0n]);
  assert.deepEqual(run("usra_4s", 32, [0x8000_0000n], [], [5n]).slice(0, 1), [6n]);
  assert.deepEqual(vget(simd("ext_16b", {}, { 1: V1, 2: V2 }), 0, 64), [
    0x0a09_0807_0605_0403n,
    0xd0e0_f00f_0e0d_0c0bn,
  ]);
  assert.deepEqual(run("zip1_4s", 32, [1n, 2n, 3n, 4n], [5n, 6n, 7n, 8n]), [1n, 5n, 2n, 6n]);
  assert.deepEqual(run("zip2_16b", 8, bytes16, bytes16.map((q) => q + 50n)).slice(0, 2), [
    208n,
    258n & 0xffn,
  ]);
  assert.deepEqual(
    run("uzp1_8h", 16, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n], [9n, 10n, 11n, 12n, 13n, 14n, 15n, 16n]),
    [1n, 3n, 5n, 7n, 9n, 11n, 13n, 15n],
  );
  assert.deepEqual(run("uzp2_4s", 32, [1n, 2n, 3n, 4n], [5n, 6n, 7n, 8n]), [2n, 4n, 6n, 8n]);
  assert.deepEqual(run("trn1_16b", 8, bytes16, bytes16.map((q) => q + 50n)).slice(0, 4), [
    200n,
    250n,
    202n,
    252n,
  ]);
  assert.deepEqual(run("trn2_2d", 64, [1n, 2n], [3n, 4n]), [2n, 4n]);
  const tbl = vget(simd("tbl1", {}, { 1: V2, 2: v([0n, 15n, 16n, 255n, 8n], 8) }), 0, 8);
  assert.deepEqual(tbl.slice(0, 6), [0xf0n, 0xffn, 0n, 0n, 0x04n, 0xf0n]);
  const tbx = vget(simd("tbx2", {}, { 0: V1, 1: V2, 2: V1, 3: v([31n, 32n, 16n], 8) }), 0, 8);
  assert.deepEqual(tbx.slice(0, 4), [0x0fn, 0x01n, 0x00n, 0xf0n]);
  assert.deepEqual(run("uqadd_16b", 8, [250n, 1n], [10n, 1n]).slice(0, 2), [255n, 2n]);
  assert.deepEqual(run("sqsub_8h", 16, [0x8000n, 5n], [1n, 0xffffn]).slice(0, 2), [0x8000n, 6n]);
  assert.deepEqual(run("cmeq_d", 64, [5n, 1n], [5n, 2n]), [M64, 0n]);
});

Deno.test("arm64 core: scalar and vector floating point", () => {
  const d = (x: number) => [f64bits(x), 0n];
  const s = (x: number) => [f32bits(x), 0n];
  const fd = (label: string, a: number, b = 0, c = 0) =>
    fromF64(vget(simd(label, {}, { 1: d(a), 2: d(b), 3: d(c) }), 0, 64)[0]);
  const fs = (label: string, a: number, b = 0, c = 0) =>
    fromF32(vget(simd(label, {}, { 1: s(a), 2: s(b), 3: s(c) }), 0, 32)[0]);
  assert.equal(fd("fadd_d", 0.1, 0.2), 0.1 + 0.2);
  assert.equal(fs("fsub_s", 1, 1e-8), Math.fround(1 - Math.fround(1e-8)));
  assert.equal(fd("fmul_d", 3, -0.5), -1.5);
  assert.equal(fs("fdiv_s", 1, 3), Math.fround(1 / 3));
  assert.equal(fd("fnmul_d", 2, 3), -6);
  assert.equal(fd("fmax_d", -0, 0), 0);
  assert.ok(Number.isNaN(fd("fmax_d", NaN, 1)));
  assert.equal(fd("fminnm_d", NaN, 1), 1);
  assert.equal(fd("fsqrt_d", 2), Math.SQRT2);
  assert.equal(fs("fabs_s", -3.5), 3.5);
  assert.equal(fd("fneg_d", 3.5), -3.5);
  assert.equal(fd("fmov_dd", 1.25), 1.25);
  assert.equal(fd("fmov_imm_d", 9), 0.125);
  assert.equal(fs("fmov_imm_s", 9), -31);
  assert.equal(fromF32(vget(simd("fcvt_sd", {}, { 1: d(1 / 3) }), 0, 32)[0]), Math.fround(1 / 3));
  assert.equal(fromF64(vget(simd("fcvt_ds", {}, { 1: s(0.1) }), 0, 64)[0]), Math.fround(0.1));
  assert.equal(fd("fmadd_d", 2, 3, 10), 16);
  assert.equal(fs("fmsub_s", 2, 3, 10), 4);
  assert.equal(fd("fnmadd_d", 2, 3, 10), -16);
  assert.deepEqual(
    vget(simd("fadd_d", {}, { 0: V1, 1: d(1), 2: d(2) }), 0, 64)[1],
    0n,
    "scalar write clears the top",
  );
  const cmp = (label: string, a: number, b: number, f = s) =>
    simd(label, { nzcv: 0 }, { 1: f(a), 2: f(b) }).nzcv;
  assert.equal(cmp("fcmp_d", 1, 2, d), 0b1000);
  assert.equal(cmp("fcmp_d", 2, 2, d), 0b0110);
  assert.equal(cmp("fcmp_d", 3, 2, d), 0b0010);
  assert.equal(cmp("fcmp_d", NaN, 2, d), 0b0011);
  assert.equal(cmp("fcmpe_d", 1, 2, d), 0b1000);
  assert.equal(cmp("fcmp_zero", -1, 0), 0b1000);
  assert.equal(simd("fccmp_d", { nzcv: 0 }, { 1: d(1), 2: d(1) }).nzcv, 0, "condition false: #0");
  assert.equal(simd("fccmp_d", { nzcv: 4 }, { 1: d(1), 2: d(1) }).nzcv, 0b0110);
  assert.equal(fromF64(vget(simd("fcsel_d", { nzcv: 0 }, { 1: d(1), 2: d(2) }), 0, 64)[0]), 1);
  assert.equal(fromF64(vget(simd("fcsel_d", { nzcv: 4 }, { 1: d(1), 2: d(2) }), 0, 64)[0]), 2);
  const cvt = (label: string, x1: bigint) => vget(simd(label, { x1 }), 0, 64)[0];
  assert.equal(fromF64(cvt("scvtf_dx", u64(-5n))), -5);
  assert.equal(fromF32(cvt("scvtf_sw", 0xffff_ffffn)), -1);
  assert.equal(fromF64(cvt("ucvtf_dx", M64)), 2 ** 64);
  const toInt = (label: string, x: number, f = d) => simd(label, { x0: 0x55n }, { 1: f(x) }).x(0);
  assert.equal(toInt("fcvtzs_xd", -2.9), u64(-2n));
  assert.equal(toInt("fcvtzs_xd", 1e300), 0x7fff_ffff_ffff_ffffn);
  assert.equal(toInt("fcvtzs_xd", -1e300), 0x8000_0000_0000_0000n);
  assert.equal(toInt("fcvtzs_xd", NaN), 0n);
  assert.equal(toInt("fcvtzs_ws", -2.5, s), u64(-2n) & M32);
  assert.equal(toInt("fcvtzu_xd", -1), 0n);
  assert.equal(toInt("fcvtzu_xd", 2 ** 63), 0x8000_0000_0000_0000n);
  assert.equal(toInt("fcvtzu_wd", 5e9), M32);
  assert.equal(toInt("fcvtms_xd", -2.5), u64(-3n));
  assert.equal(toInt("fcvtps_wd", 2.1), 3n);
  assert.equal(toInt("fcvtns_xd", 2.5), 2n);
  assert.equal(toInt("fcvtns_xd", 3.5), 4n);
  assert.equal(toInt("fcvtas_xd", -2.5), u64(-3n));
  assert.equal(fd("frintm_d", -1.5), -2);
  assert.equal(fs("frintp_s", 1.25), 2);
  assert.equal(fd("frintz_d", -1.75), -1);
  assert.equal(fd("frinta_d", 2.5), 3);
  assert.equal(fd("frintn_d", 2.5), 2);
  // Vectors.
  const v4 = (...xs: number[]) => {
    const b = new Float32Array(xs);
    const u = new BigUint64Array(b.buffer);
    return [u[0], u[1]];
  };
  const lanes4 = (q: bigint[]) => [...new Float32Array(new BigUint64Array(q).buffer)];
  const lanes2 = (q: bigint[]) => [...new Float64Array(new BigUint64Array(q).buffer)];
  assert.deepEqual(
    lanes4(vget(simd("fadd_4s", {}, { 1: v4(1, 2, 3, 4), 2: v4(0.5, 0.5, 0.5, 0.5) }), 0, 64)),
    [1.5, 2.5, 3.5, 4.5],
  );
  assert.deepEqual(
    lanes2(
      vget(
        simd("fmul_2d", {}, { 1: [f64bits(2), f64bits(3)], 2: [f64bits(4), f64bits(-1)] }),
        0,
        64,
      ),
    ),
    [8, -3],
  );
  assert.deepEqual(
    lanes2(
      vget(
        simd("fmla_2d", {}, {
          0: [f64bits(1), f64bits(1)],
          1: [f64bits(2), f64bits(3)],
          2: [f64bits(4), f64bits(-1)],
        }),
        0,
        64,
      ),
    ),
    [9, -2],
  );
  assert.deepEqual(lanes2(vget(simd("faddp_d", {}, { 1: [f64bits(2), f64bits(3)] }), 0, 64)), [
    5,
    0,
  ]);
  assert.deepEqual(
    lanes4(vget(simd("faddp_4s", {}, { 1: v4(1, 2, 3, 4), 2: v4(10, 20, 30, 40) }), 0, 64)),
    [3, 7, 30, 70],
  );
  assert.deepEqual(vget(simd("fcmgt_4s", {}, { 1: v4(1, 2, NaN, 4), 2: v4(0, 2, 1, 5) }), 0, 32), [
    M32,
    0n,
    0n,
    0n,
  ]);
  const ints = [1n | (u64(-2n) & M32) << 32n, 7n];
  assert.deepEqual(lanes4(vget(simd("scvtf_4s", {}, { 1: ints }), 0, 64)), [1, -2, 7, 0]);
  assert.deepEqual(vget(simd("fcvtzs_2d", {}, { 1: [f64bits(-1.5), f64bits(1e20)] }), 0, 64), [
    M64,
    0x7fff_ffff_ffff_ffffn,
  ]);
  assert.deepEqual(lanes2(vget(simd("fneg_2d", {}, { 1: [f64bits(1), f64bits(-0)] }), 0, 64)), [
    -1,
    0,
  ]);
  assert.deepEqual(vget(simd("fcmeq_zero", {}, { 1: v4(0, -0, 1, NaN) }), 0, 32), [
    M32,
    M32,
    0n,
    0n,
  ]);
  assert.equal(fromF64(vget(simd("scvtf_scalar_d", {}, { 1: [u64(-3n), 0n] }), 0, 64)[0]), -3);
});

// ---------------------------------------------------------------------------
// clang -O2 output (cprog.c): called like C functions, returning to a brk

/** Calls `fn` with integer arguments (x0..x7) and returns x0 (pc returns to RET's brk). */
function call(r: Rig, fn: string, ...args: (bigint | number)[]): bigint {
  const inputs: Inputs = {};
  args.forEach((a, i) => inputs[`x${i}`] = a);
  r.start(fn, inputs);
  const exit = r.run(50_000_000);
  assert.equal(
    exit,
    EXIT.SW_BREAKPOINT,
    `${fn}: exit ${exit} at ${r.pc.toString(16)} detail ${r.core.detail.toString(16)}`,
  );
  assert.equal(r.pc, RET, `${fn} returned`);
  assert.equal(r.core.detail, 0x99);
  assert.equal(r.sp, BigInt(STACK_TOP), `${fn}: stack balanced`);
  return r.x(0);
}

/** Writes little-endian integers of `size` bytes at addr. */
function pokeInts(r: Rig, addr: number, values: (bigint | number)[], size: number): void {
  const b = new Uint8Array(values.length * size);
  values.forEach((v, i) => {
    const x = BigInt.asUintN(size * 8, BigInt(v));
    for (let k = 0; k < size; k++) b[i * size + k] = Number((x >> BigInt(8 * k)) & 0xffn);
  });
  r.poke(addr, b);
}

function peekInts(r: Rig, addr: number, n: number, size: number, signed = false): bigint[] {
  const b = r.peek(addr, n * size);
  return Array.from({ length: n }, (_, i) => {
    const v = le(b, i * size, size);
    return signed ? BigInt.asIntN(size * 8, v) : v;
  });
}

/** A deterministic pseudo-random sequence. */
function* rand(seed: number): Generator<number> {
  let x = seed >>> 0;
  for (;;) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    yield x;
  }
}

for (const build of ["cprog", "cprog_gpr"]) {
  Deno.test(`arm64 core: clang -O2 ${build}: fib, sieve, collatz, pick, divides, multiplies`, () => {
    const r = new Rig(build);
    assert.equal(call(r, "fib", 20), 6765n);
    r.poke(DATA, new Uint8Array(10_000));
    assert.equal(call(r, "sieve", DATA, 1000), 168n);
    assert.equal(call(r, "sieve", DATA, 10_000), 1229n);
    assert.equal(call(r, "collatz", 27), 111n);
    assert.equal(call(r, "collatz", 837799), 524n);
    const picks = [-1, 0, 1, 2, 3, 4, 5, 1000].map((x) => BigInt.asIntN(32, call(r, "pick", x)));
    assert.deepEqual(picks, [-1n, 5n, 7n, 11n, 13n, 99n, -1n, -1n]);
    for (
      const [a, b] of [[100n, 7n], [-100n, 7n], [1n << 62n, 3n], [-(1n << 63n), -1n], [5n, M64]]
    ) {
      const q = BigInt.asIntN(64, a) / BigInt.asIntN(64, b);
      const m = u64(a) % u64(b);
      assert.equal(call(r, "divmix", a, b), u64(q + m), `divmix ${a} ${b}`);
    }
    for (
      const [a, b] of [[M64, M64], [0x1234_5678_9abc_def0n, 0xfedc_ba98_7654_3210n], [
        1n << 63n,
        2n,
      ]]
    ) {
      assert.equal(call(r, "umulhi", a, b), (a * b) >> 64n);
    }
    for (const x of [0n, 1n, M64, 0x8000_0000_0000_0001n, 0x0f0f_0f0f_0f0f_0f0fn]) {
      assert.equal(call(r, "popc", x), BigInt(x.toString(2).split("1").length - 1));
    }
  });

  Deno.test(`arm64 core: clang -O2 ${build}: memcpy, memset, strlen, fnv at every size and alignment`, () => {
    const r = new Rig(build);
    const g = rand(7);
    for (const n of [0, 1, 2, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 100, 255, 1000]) {
      for (const [sa, da] of [[0, 0], [1, 0], [0, 3], [5, 7]]) {
        const src = DATA + 0x100 + sa, dst = DATA + 0x2000 + da;
        const bytes = Uint8Array.from({ length: n }, () => g.next().value & 0xff);
        r.poke(src, bytes);
        r.poke(dst - 16, new Uint8Array(n + 32).fill(0xcc));
        assert.equal(call(r, "memcpy", dst, src, n), BigInt(dst));
        assert.deepEqual(r.peek(dst, n), bytes, `memcpy ${n} ${sa} ${da}`);
        assert.deepEqual(
          [...r.peek(dst - 16, 16), ...r.peek(dst + n, 16)],
          new Array(32).fill(0xcc),
        );
        assert.equal(call(r, "memset", dst, 0x1a5, n), BigInt(dst));
        assert.deepEqual([...r.peek(dst, n)], new Array(n).fill(0xa5), `memset ${n}`);
        assert.equal(r.peek(dst + n, 1)[0], 0xcc);
      }
    }
    for (const s of ["", "a", "hello, world", "x".repeat(300)]) {
      r.poke(DATA, new TextEncoder().encode(s + "\0"));
      assert.equal(call(r, "str_len", DATA), BigInt(s.length));
      let h = 2166136261;
      for (const ch of new TextEncoder().encode(s)) h = Math.imul(h ^ ch, 16777619) >>> 0;
      assert.equal(call(r, "fnv", DATA, s.length), BigInt(h));
    }
  });

  Deno.test(`arm64 core: clang -O2 ${build}: array loops (sum, vadd, maxv, bubble sort, atomics)`, () => {
    const r = new Rig(build);
    const g = rand(11);
    for (const n of [0, 1, 3, 4, 5, 17, 100, 1001]) {
      const a = Array.from({ length: n }, () => g.next().value);
      pokeInts(r, DATA, a, 4);
      assert.equal(call(r, "sum32", DATA, n), a.reduce((s, x) => s + BigInt(x), 0n), `sum32 ${n}`);
      const b = Array.from({ length: n }, () => g.next().value | 0);
      pokeInts(r, DATA + 0x4000, b, 4);
      call(r, "vadd", DATA, DATA + 0x4000, n);
      const want = a.map((x, i) => BigInt.asIntN(32, BigInt(x + Math.imul(b[i], 3))));
      assert.deepEqual(peekInts(r, DATA, n, 4, true), want, `vadd ${n}`);
      if (n > 0) {
        const longs = Array.from(
          { length: n },
          () => BigInt.asIntN(64, BigInt(g.next().value) << 32n | BigInt(g.next().value)),
        );
        pokeInts(r, DATA, longs, 8);
        const max = longs.reduce((m, x) => (x > m ? x : m));
        assert.equal(BigInt.asIntN(64, call(r, "maxv", DATA, n)), max, `maxv ${n}`);
      }
      if (n <= 100) {
        const ints = Array.from({ length: n }, () => g.next().value | 0);
        pokeInts(r, DATA, ints, 4);
        call(r, "bubble", DATA, n);
        assert.deepEqual(
          peekInts(r, DATA, n, 4, true),
          ints.map(BigInt).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        );
      }
    }
    pokeInts(r, DATA, [41], 4);
    assert.equal(call(r, "fetch_inc", DATA), 41n);
    assert.deepEqual(peekInts(r, DATA, 1, 4), [42n]);
  });
}

Deno.test("arm64 core: clang -O2 floating point (dot, mean, to_fixed)", () => {
  const r = new Rig("cprog");
  const vsetF = (n: number, x: number) => vset(r, n, [f64bits(x), 0n], 64);
  for (const n of [0, 1, 2, 7, 64]) {
    const a = Array.from({ length: n }, (_, i) => (i % 7) - 3 + 0.5);
    const b = Array.from({ length: n }, (_, i) => (i % 5) * 0.25);
    r.poke(DATA, new Uint8Array(new Float64Array(a).buffer));
    r.poke(DATA + 0x1000, new Uint8Array(new Float64Array(b).buffer));
    call(r, "dot", DATA, DATA + 0x1000, n);
    const got = fromF64(vget(r, 0, 64)[0]);
    assert.equal(got, a.reduce((s, x, i) => s + x * b[i], 0), `dot ${n}`);
    const f = Array.from({ length: n }, (_, i) => i * 1.5);
    r.poke(DATA, new Uint8Array(new Float32Array(f).buffer));
    call(r, "mean", DATA, n);
    let s = 0;
    for (const x of f) s = Math.fround(s + x);
    assert.equal(fromF32(vget(r, 0, 32)[0]), n ? Math.fround(s / n) : 0, `mean ${n}`);
  }
  for (const x of [0, 1.5, -2.25, 12345.678]) {
    vsetF(0, x);
    assert.equal(BigInt.asIntN(64, call(r, "to_fixed")), BigInt(Math.trunc(x * 65536)));
  }
});

Deno.test("arm64 core: fixed-point conversions", () => {
  const d = (x: number) => [f64bits(x), 0n];
  const s = (x: number) => [f32bits(x), 0n];
  assert.equal(simd("fcvtzs_fixed", {}, { 1: d(-1.5) }).x(0), u64(-0x18000n));
  assert.equal(simd("fcvtzu_fixed_w", { x0: M64 }, { 1: s(2.5) }).x(0), 40n);
  assert.equal(fromF64(vget(simd("scvtf_fixed", { x1: u64(-0x180n) }), 0, 64)[0]), -1.5);
  assert.equal(
    fromF32(vget(simd("ucvtf_fixed_s", { x1: 0xffff_ffffn }), 0, 32)[0]),
    Math.fround(0xffff_ffff / 16),
  );
});

// ---------------------------------------------------------------------------
// The core and its surroundings

Deno.test("arm64 core: translations are dropped when the address space's generation moves", () => {
  const r = rig("ldst");
  const A = DATA + 0x100;
  r.step1("str_x", { x0: 1n, x1: A });
  r.step1("ldr_x", { x1: A });
  assert.equal(r.x(0), 1n);
  r.mem.protect(DATA, 0x1000, ACCESS.READ);
  r.start("str_x", { x0: 2n, x1: A });
  assert.equal(r.run(), EXIT.PAGE_FAULT, "the write translation is gone");
  assert.equal(r.core.faultAccess, ACCESS.WRITE);
  r.mem.protect(DATA, 0x1000, 0);
  r.start("ldr_x", { x1: A });
  assert.equal(r.run(), EXIT.PAGE_FAULT, "and so is the read one");
  r.mem.protect(DATA, 0x1000, ACCESS.READ | ACCESS.WRITE);
  r.step1("str_x", { x0: 3n, x1: A });
  assert.equal(r.peek64(A + 8), 3n);
  // Code: remove execute permission from the code page between runs.
  const p = new Rig("programs");
  p.start("sum_to", { x0: 3n });
  assert.equal(p.run(), EXIT.SW_BREAKPOINT);
  p.mem.protect(CODE, 0x1000, ACCESS.READ);
  p.start("sum_to", { x0: 3n });
  assert.equal(p.run(), EXIT.PAGE_FAULT);
  assert.equal(p.core.faultAccess, ACCESS.EXECUTE);
  assert.equal(p.core.faultAddress, BigInt(p.at("sum_to")));
});

Deno.test("arm64 core: two cores share a page's decoded code and run interleaved", () => {
  const a = new Rig("programs");
  const regs = new Arm64Registers();
  const other = new Arm64Core(regs, a.mem, "user");
  const view = new DataView(regs.gpr.buffer, 0, 280);
  a.start("sum_to", { x0: 1000n });
  regs.setStart(BigInt(a.at("sum_to")), 0n, 2000n, 0n);
  for (let i = 0; i < 1000; i++) {
    a.run(7);
    other.run(5);
  }
  assert.equal(a.run(), EXIT.SW_BREAKPOINT);
  assert.equal(other.run(100_000), EXIT.SW_BREAKPOINT);
  assert.equal(a.x(0), 500_500n);
  assert.equal(view.getBigUint64(0, true), 2_001_000n);
});

Deno.test("arm64 core: arm64.createCore computes on the thread's registers (thread_read_state sees it)", () => {
  const mem = new FlatMemory();
  const f = fixture("system");
  mem.map(CODE, 0x1000, ACCESS.READ | ACCESS.EXECUTE);
  mem.load(CODE, f.bytes);
  const regs = arm64.newRegisters();
  regs.setStart(BigInt(CODE + f.sym.get("msr_tpidr")!), 0x1234_5670n, 0n, 0x7777n);
  const core = arm64.createCore(regs, mem, "user");
  const out = new Uint8Array(280);
  regs.read("zx", ZX_THREAD_STATE.GENERAL_REGS, out);
  out.set(new Uint8Array(new BigUint64Array([0x8000_0000n]).buffer), 33 * 8); // cpsr: N
  assert.equal(regs.write("zx", ZX_THREAD_STATE.GENERAL_REGS, out, { stoppedInSyscall: false }), 0);
  assert.equal(core.run(10), EXIT.SW_BREAKPOINT);
  regs.read("zx", ZX_THREAD_STATE.GENERAL_REGS, out);
  const v = new DataView(out.buffer);
  assert.equal(v.getBigUint64(34 * 8, true), 0x7777n, "tpidr written by msr");
  assert.equal(v.getBigUint64(33 * 8, true), 0x8000_0000n, "cpsr keeps N");
  assert.equal(
    v.getBigUint64(32 * 8, true),
    BigInt(CODE + f.sym.get("msr_tpidr")! + 4),
    "pc at the brk",
  );
  assert.equal(v.getBigUint64(31 * 8, true), 0x1234_5670n, "sp");
  // The vector registers are the thread's own VECTOR_REGS storage.
  const g = arm64.createCore(regs, mem, "guest") as Arm64Core;
  assert.equal(g.v.b.buffer, (regs as Arm64Registers).vec.buffer);
  assert.equal(g.v.ctl.byteOffset, (regs as Arm64Registers).vec.byteOffset);
});

Deno.test("arm64 core: SIMD&FP faults change nothing; straddling q loads work", () => {
  const r = new Rig("simd");
  const RO = DATA + DATA_SIZE;
  r.mem.map(RO, 0x1000, ACCESS.READ);
  r.poke(RO - 16, PATTERN.subarray(0, 32));
  vset(r, 0, V1, 64);
  vset(r, 1, V2, 64);
  const fault = (label: string, inputs: Inputs, addr: number, access: number) => {
    r.start(label, inputs);
    const g = r.snapshot(), vec = vecRegs(r), mem = r.peek(RO - 64, 128);
    assert.equal(r.run(), EXIT.PAGE_FAULT, label);
    assert.equal(r.core.faultAddress, BigInt(addr));
    assert.equal(r.core.faultAccess, access);
    assert.deepEqual(r.snapshot(), g);
    assert.deepEqual(vecRegs(r), vec);
    assert.deepEqual(r.peek(RO - 64, 128), mem);
  };
  fault("stp_q", { x1: RO - 16 }, RO, ACCESS.WRITE);
  fault("stp_q_pre", { x1: RO + 16 }, RO, ACCESS.WRITE);
  fault("st1_4r", { x1: RO - 32 }, RO, ACCESS.WRITE);
  fault("ld1_2r", { x1: RO + 0xff0 }, RO + 0x1000, ACCESS.READ);
  fault("ldp_q", { x1: RO + 0xff0 }, RO + 0x1000, ACCESS.READ);
  fault("str_d_post", { x1: RO }, RO, ACCESS.WRITE);
  r.step1("ldr_q", { x1: RO - 5 });
  assert.deepEqual(vget(r, 0, 64), [le(PATTERN, 11, 8), le(PATTERN, 19, 8)]);
});

Deno.test("arm64 core: a fault after some instructions counts only those; single steps equal one run", () => {
  const r = new Rig("programs");
  r.start("copy", { x0: DATA, x1: 0x10_0000, x2: 64 });
  assert.equal(r.run(), EXIT.PAGE_FAULT);
  assert.equal(r.core.retired, 3);
  assert.equal(r.pc, r.at("copy") + 12);
  // fib(12) one instruction at a time reaches the same state as one run.
  const c = new Rig("cprog");
  c.start("fib", { x0: 12 });
  assert.equal(c.run(), EXIT.SW_BREAKPOINT);
  const total = (() => {
    let n = 0;
    c.start("fib", { x0: 12 });
    while (c.run(1) === EXIT.BUDGET) {
      assert.equal(c.core.retired, 1);
      n++;
    }
    return n;
  })();
  assert.equal(c.x(0), 144n);
  c.start("fib", { x0: 12 });
  let retired = 0;
  while (c.run(97) === EXIT.BUDGET) retired += c.core.retired;
  retired += c.core.retired;
  assert.equal(retired, total);
  assert.equal(c.x(0), 144n);
});

Deno.test("arm64 core: crc32 / crc32c (the zlib and iSCSI check values)", () => {
  const crcRef = (acc: number, bytes: number[], poly: number) => {
    let c = acc >>> 0;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    }
    return BigInt(c >>> 0);
  };
  const data = [..."123456789"].map((ch) => ch.charCodeAt(0));
  const word = (bytes: number[]) => bytes.reduceRight((a, b) => (a << 8n) | BigInt(b), 0n);
  let acc = alu("crc32x", { x1: 0xffff_ffffn, x2: word(data.slice(0, 8)) });
  acc = alu("crc32b", { x1: acc, x2: 0x3900n | BigInt(data[8]) });
  assert.equal(acc ^ M32, 0xcbf4_3926n);
  acc = alu("crc32cx", { x1: 0xffff_ffffn, x2: word(data.slice(0, 8)) });
  acc = alu("crc32cb", { x1: acc, x2: BigInt(data[8]) });
  assert.equal(acc ^ M32, 0xe306_9283n);
  const g = rand(3);
  for (let i = 0; i < 20; i++) {
    const a = g.next().value, v = BigInt(g.next().value) << 32n | BigInt(g.next().value);
    const bytes = Array.from({ length: 8 }, (_, k) => Number((v >> BigInt(8 * k)) & 0xffn));
    assert.equal(alu("crc32h", { x1: a, x2: v }), crcRef(a, bytes.slice(0, 2), 0xedb88320));
    assert.equal(alu("crc32w", { x1: a, x2: v }), crcRef(a, bytes.slice(0, 4), 0xedb88320));
    assert.equal(alu("crc32x", { x1: a, x2: v }), crcRef(a, bytes, 0xedb88320));
    assert.equal(alu("crc32cb", { x1: a, x2: v }), crcRef(a, bytes.slice(0, 1), 0x82f63b78));
  }
});

Deno.test("arm64 core: ldapr (RCpc load-acquire)", () => {
  const r = ldst(DATA + 0x100);
  assert.equal(r.step1("ldapr_w", { x0: M64, x1: DATA + 0x100 }).x(0), le(PATTERN, 0, 4));
  assert.equal(r.step1("ldapr_x", { x1: DATA + 0x100 }).x(0), le(PATTERN, 0, 8));
  assert.equal(r.step1("ldaprb", { x1: DATA + 0x101 }).x(0), le(PATTERN, 1, 1));
});

Deno.test("arm64 core: multiplies by element (mul, mla, mls, fmul, fmla, fmls)", () => {
  const w4 = (...xs: bigint[]) => [xs[0] | (xs[1] << 32n), xs[2] | (xs[3] << 32n)];
  const f4 = (...xs: number[]) => [...new BigUint64Array(new Float32Array(xs).buffer)];
  const f2 = (...xs: number[]) => [...new BigUint64Array(new Float64Array(xs).buffer)];
  const lanesF4 = (q: bigint[]) => [...new Float32Array(new BigUint64Array(q).buffer)];
  const lanesF2 = (q: bigint[]) => [...new Float64Array(new BigUint64Array(q).buffer)];
  let s = simd("mul_elem", {}, { 1: w4(1n, 2n, 3n, M32), 2: w4(0n, 5n, 0n, 0n) });
  assert.deepEqual(vget(s, 0, 32), [5n, 10n, 15n, (M32 * 5n) & M32]);
  const h8 = [[1n | (2n << 16n) | (3n << 32n) | (4n << 48n), 0n], [0n, 7n << 48n]];
  s = simd("mla_elem_8h", {}, { 0: [1n | (1n << 16n), 0n], 1: h8[0], 2: h8[1] });
  assert.deepEqual(vget(s, 0, 16).slice(0, 4), [8n, 15n, 21n, 28n]);
  s = simd("mls_elem", {}, {
    0: w4(100n, 100n, 0n, 0n),
    1: w4(1n, 2n, 1n, 0n),
    2: w4(0n, 0n, 0n, 10n),
  });
  assert.deepEqual(vget(s, 0, 32), [90n, 80n, (-10n) & M32, 0n]);
  s = simd("fmla_elem_2d", {}, { 0: f2(1, 2), 1: f2(3, 4), 2: f2(0, 0.5) });
  assert.deepEqual(lanesF2(vget(s, 0, 64)), [2.5, 4]);
  s = simd("fmul_elem_4s", {}, { 1: f4(1, 2, 3, 4), 2: f4(0, 0, -2, 0) });
  assert.deepEqual(lanesF4(vget(s, 0, 64)), [-2, -4, -6, -8]);
  s = simd("fmls_elem_4s", {}, { 0: f4(10, 10, 10, 10), 1: f4(1, 2, 3, 4), 2: f4(2, 0, 0, 0) });
  assert.deepEqual(lanesF4(vget(s, 0, 64)), [8, 6, 4, 2]);
  s = simd("fmul_elem_d", {}, { 1: f2(3, 99), 2: f2(0, 7) });
  assert.deepEqual(lanesF2(vget(s, 0, 64)), [21, 0]);
  s = simd("fmla_elem_s", {}, { 0: f4(1, 9, 9, 9), 1: f4(2, 9, 9, 9), 2: f4(0, 0, 0, 4) });
  assert.deepEqual(lanesF4(vget(s, 0, 64)), [9, 0, 0, 0]);
});
