import assert from "node:assert/strict";
import { ERR, ZX_OK } from "../kernel/status.ts";
import type { Abi, ThreadRegisters } from "../arch/arch.ts";
import { getU32, getU64, setU32, setU64 } from "../arch/layout.ts";
import {
  arm64,
  ARM64_HW_BREAKPOINT_COUNT,
  ARM64_HW_WATCHPOINT_COUNT,
} from "../arch/arm64/arm64.ts";

const GENERAL = 0, FP = 1, VECTOR = 2, DEBUG = 4, SINGLE_STEP = 5;
const ctx = { stoppedInSyscall: false };

// Offsets (from the header, written out here on purpose).
const X0 = 0, X1 = 8, LR = 240, SP = 248, PC = 256, CPSR = 264, TPIDR = 272;
const FAR = 512, ESR = 520, BPS_COUNT = 524, WPS_COUNT = 525;
const bcr = (i: number) => 16 * i;
const bvr = (i: number) => 16 * i + 8;
const wcr = (i: number) => 256 + 16 * i;
const wvr = (i: number) => 256 + 16 * i + 8;

function read(r: ThreadRegisters, kind: number, abi: Abi = "zx"): Uint8Array {
  const out = new Uint8Array(arm64.regsets[abi].get(kind)!.size);
  assert.equal(r.read(abi, kind, out), ZX_OK);
  return out;
}

/** Every readable regset of both ABIs, concatenated (FP_REGS is not readable). */
function snapshot(r: ThreadRegisters): Uint8Array {
  const parts = [GENERAL, VECTOR, DEBUG, SINGLE_STEP].map((k) => read(r, k));
  parts.push(read(r, 0, "mx"));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

function expectWrite(
  r: ThreadRegisters,
  kind: number,
  input: Uint8Array,
  status: number,
  abi: Abi = "zx",
): void {
  const before = snapshot(r);
  assert.equal(r.write(abi, kind, input, ctx), status);
  if (status !== ZX_OK) assert.deepEqual(snapshot(r), before, "a rejected write changed the state");
}

/** general_regs_fill_test_values for arm64: byte[i] = i + 1 (wrapping), cpsr NZCV, tpidr 0. */
function corePattern(): Uint8Array {
  const b = new Uint8Array(280);
  for (let i = 0; i < b.length; i++) b[i] = (i + 1) & 0xff;
  setU64(b, CPSR, 0xf0000000n);
  setU64(b, TPIDR, 0n);
  return b;
}

function started(): ThreadRegisters {
  const r = arm64.newRegisters();
  r.setStart(0x401000n, 0x7fff0000n, 1n, 2n);
  return r;
}

Deno.test("arm64: fresh registers", () => {
  const r = arm64.newRegisters();
  assert.deepEqual(read(r, GENERAL), new Uint8Array(280));
  assert.deepEqual(read(r, 0, "mx"), new Uint8Array(272));
  assert.deepEqual(read(r, VECTOR), new Uint8Array(520));
  const d = read(r, DEBUG);
  assert.equal(d[BPS_COUNT], 6);
  assert.equal(d[WPS_COUNT], 4);
  assert.equal(ARM64_HW_BREAKPOINT_COUNT, 6);
  assert.equal(ARM64_HW_WATCHPOINT_COUNT, 4);
  d[BPS_COUNT] = d[WPS_COUNT] = 0;
  assert.deepEqual(d, new Uint8Array(528));
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
});

Deno.test("arm64: setStart", () => {
  const r = arm64.newRegisters();
  assert.equal(r.write("zx", GENERAL, corePattern(), ctx), ZX_OK);
  assert.equal(r.write("zx", SINGLE_STEP, new Uint8Array([1, 0, 0, 0]), ctx), ZX_OK);
  r.setStart(0x1000_2000n, 0x7fff_0000_0000n, 0xaaaan, 0xbbbbn);
  const expect = new Uint8Array(280);
  setU64(expect, PC, 0x1000_2000n);
  setU64(expect, SP, 0x7fff_0000_0000n);
  setU64(expect, X0, 0xaaaan);
  setU64(expect, X1, 0xbbbbn);
  assert.deepEqual(read(r, GENERAL), expect); // cpsr 0, tpidr 0, lr 0
  assert.deepEqual(read(r, 0, "mx"), expect.subarray(0, 272));
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
});

Deno.test("arm64: core-test pattern accepted and read back", () => {
  const r = started();
  const p = corePattern();
  assert.equal(getU64(p, PC), 0x0807060504030201n); // garbage pc: no check on arm64
  assert.equal(getU64(p, SP), 0x00fffefdfcfbfaf9n);
  assert.equal(getU64(p, LR), 0xf8f7f6f5f4f3f2f1n);
  expectWrite(r, GENERAL, p, ZX_OK);
  assert.deepEqual(read(r, GENERAL), p);
});

Deno.test("arm64: general round trip with tpidr, no pc/sp/tpidr checks", () => {
  const r = started();
  const b = new Uint8Array(280);
  for (let i = 0; i < 280; i++) b[i] = (i * 11 + 5) & 0xff;
  setU64(b, PC, 0xffffffff_ffffffffn);
  setU64(b, SP, 0xffff0000_00000000n);
  setU64(b, TPIDR, 0xdead_beef_0000_1234n);
  setU64(b, CPSR, 0x90000000n);
  expectWrite(r, GENERAL, b, ZX_OK);
  assert.deepEqual(read(r, GENERAL), b);
  assert.deepEqual(read(r, 0, "mx"), b.subarray(0, 272));
});

Deno.test("arm64: cpsr only NZCV (WritingArmFlagsRegister)", () => {
  const r = started();
  const g = read(r, GENERAL);
  assert.equal(getU64(g, CPSR) & ~0xf0000000n, 0n);
  const orig = getU64(g, CPSR);
  setU64(g, CPSR, getU64(g, CPSR) | ~0xf0000000n);
  expectWrite(r, GENERAL, g, ZX_OK);
  assert.equal(getU64(read(r, GENERAL), CPSR), orig);
  for (
    const [written, seen] of [
      [0xffffffff_ffffffffn, 0xf0000000n],
      [0x0fffffffn, 0n],
      [0x60000000n, 0x60000000n],
      [0x1_8000_03c5n, 0x80000000n],
    ]
  ) {
    setU64(g, CPSR, written);
    expectWrite(r, GENERAL, g, ZX_OK);
    assert.equal(getU64(read(r, GENERAL), CPSR), seen);
    assert.equal(getU64(read(r, 0, "mx"), CPSR), seen);
  }
});

Deno.test("arm64: Magenta general regs (272 bytes, tpidr untouched)", () => {
  const r = started();
  const zx = corePattern();
  setU64(zx, TPIDR, 0x5555n);
  assert.equal(r.write("zx", GENERAL, zx, ctx), ZX_OK);
  const mx = new Uint8Array(272);
  for (let i = 0; i < 272; i++) mx[i] = 0xff - (i & 0xff);
  setU64(mx, CPSR, 0xffffffff_ffffffffn);
  expectWrite(r, 0, mx, ZX_OK, "mx");
  const m = read(r, 0, "mx");
  assert.deepEqual(m.subarray(0, CPSR), mx.subarray(0, CPSR));
  assert.equal(getU64(m, CPSR), 0xf0000000n);
  assert.equal(getU64(read(r, GENERAL), TPIDR), 0x5555n);
  const longer = new Uint8Array(300).fill(0x77);
  longer.set(mx);
  expectWrite(r, 0, longer, ZX_OK, "mx");
  assert.equal(getU64(read(r, GENERAL), TPIDR), 0x5555n);
  expectWrite(r, 0, mx.subarray(0, 271), ERR.BUFFER_TOO_SMALL, "mx");
  for (let kind = 1; kind <= 9; kind++) {
    expectWrite(r, kind, new Uint8Array(4096), ERR.INVALID_ARGS, "mx");
    assert.equal(r.read("mx", kind, new Uint8Array(4096)), ERR.INVALID_ARGS);
  }
});

Deno.test("arm64: FP regs not supported", () => {
  const r = started();
  const out = new Uint8Array(4).fill(0xab);
  assert.equal(r.read("zx", FP, out), ERR.NOT_SUPPORTED);
  expectWrite(r, FP, new Uint8Array(4), ERR.NOT_SUPPORTED);
  expectWrite(r, FP, new Uint8Array(16).fill(1), ERR.NOT_SUPPORTED);
});

Deno.test("arm64: vector regs verbatim", () => {
  const r = started();
  const b = new Uint8Array(520);
  for (let i = 0; i < 520; i++) b[i] = (i * 29 + 7) & 0xff;
  expectWrite(r, VECTOR, b, ZX_OK);
  assert.deepEqual(read(r, VECTOR), b);
  // fill_test_values: v[i].low = i, v[i].high = i << 8, fpcr = fpsr = 0.
  const t = new Uint8Array(520);
  for (let i = 0; i < 32; i++) {
    setU64(t, 8 + 16 * i, BigInt(i));
    setU64(t, 16 + 16 * i, BigInt(i) << 8n);
  }
  const longer = new Uint8Array(600).fill(0xcc);
  longer.set(t);
  expectWrite(r, VECTOR, longer, ZX_OK);
  assert.deepEqual(read(r, VECTOR), t);
  expectWrite(r, VECTOR, t.subarray(0, 519), ERR.BUFFER_TOO_SMALL);
});

function dbg(): Uint8Array {
  return new Uint8Array(528);
}

Deno.test("arm64: breakpoint control masking", () => {
  const r = started();
  const base = 0x0000_0012_3450_0000n;
  // DebugRegistersValidation, second write.
  const d = dbg();
  setU32(d, bcr(0), 0xfffffffe);
  setU64(d, bvr(0), 0n);
  setU32(d, bcr(1), 0x1);
  setU64(d, bvr(1), base);
  d[BPS_COUNT] = 6;
  expectWrite(r, DEBUG, d, ZX_OK);
  const got = read(r, DEBUG);
  assert.equal(getU32(got, bcr(0)), 0);
  assert.equal(getU64(got, bvr(0)), 0n);
  assert.equal(getU32(got, bcr(1)), 0x1e5);
  assert.equal(getU64(got, bvr(1)), base);
  assert.equal(got[BPS_COUNT], 6);
  // Any enabled control collapses to 0x1e5.
  setU32(d, bcr(1), 0xffffffff);
  expectWrite(r, DEBUG, d, ZX_OK);
  assert.equal(getU32(read(r, DEBUG), bcr(1)), 0x1e5);
});

Deno.test("arm64: watchpoint control masking", () => {
  const r = started();
  const base = 0x0000_0012_3450_0000n;
  // WriteReadDebugRegisterState (§1e): two breakpoints, two watchpoints.
  const d = dbg();
  setU32(d, bcr(0), 1);
  setU64(d, bvr(0), base);
  setU32(d, bcr(1), 1);
  setU64(d, bvr(1), base + 0x4000n);
  setU32(d, wcr(0), 0x1f9); // E, LSC=0b11, BAS=0xf
  setU64(d, wvr(0), base);
  setU32(d, wcr(1), 0x1e01); // E, BAS=0xf0
  setU64(d, wvr(1), base + 0x4000n);
  expectWrite(r, DEBUG, d, ZX_OK);
  const expect = dbg();
  setU32(expect, bcr(0), 0x1e5);
  setU64(expect, bvr(0), base);
  setU32(expect, bcr(1), 0x1e5);
  setU64(expect, bvr(1), base + 0x4000n);
  setU32(expect, wcr(0), 0x41fd);
  setU64(expect, wvr(0), base);
  setU32(expect, wcr(1), 0x5e05);
  setU64(expect, wvr(1), base + 0x4000n);
  expect[BPS_COUNT] = 6;
  expect[WPS_COUNT] = 4;
  assert.deepEqual(read(r, DEBUG), expect);
  // Other bits (HMC, LBN, WT, MSK, and a PAC/SSC the caller chose) are dropped.
  setU32(d, wcr(0), 0xffffffff);
  expectWrite(r, DEBUG, d, ZX_OK);
  assert.equal(getU32(read(r, DEBUG), wcr(0)), 0x5ffd);
  // Disabled: Zircon leaves a disabled watchpoint's control word as given.
  setU32(d, wcr(0), 0xfffffffe);
  expectWrite(r, DEBUG, d, ZX_OK);
  assert.equal(getU32(read(r, DEBUG), wcr(0)), 0xfffffffe);
  // WatchpointTest: E, BAS=0xff, LSC=0b11.
  setU32(d, wcr(0), 1 | (0xff << 5) | (3 << 3));
  expectWrite(r, DEBUG, d, ZX_OK);
  assert.equal(getU32(read(r, DEBUG), wcr(0)), 0x1ff9 | 0x4004);
});

Deno.test("arm64: debug addresses", () => {
  const { base, end } = arm64.userAspace;
  assert.equal(base, 0x200000n);
  assert.equal(end, 0xffff_ff00_0000n);
  // Accepted, and masked to bits 2..47.
  for (const [a, stored] of [[base, base], [base + 3n, base], [end - 1n, end - 4n], [0n, 0n]]) {
    for (let i = 0; i < 6; i++) {
      const r = started();
      const d = dbg();
      setU64(d, bvr(i), a);
      expectWrite(r, DEBUG, d, ZX_OK);
      assert.equal(getU64(read(r, DEBUG), bvr(i)), stored);
    }
    for (let i = 0; i < 4; i++) {
      const r = started();
      const d = dbg();
      setU64(d, wvr(i), a);
      setU32(d, wcr(i), 1);
      expectWrite(r, DEBUG, d, ZX_OK);
      assert.equal(getU64(read(r, DEBUG), wvr(i)), stored);
    }
  }
  const bad = [0xffffffff_ffffffffn, 0x1000n, base - 1n, end, 1n << 48n, 0xffff0000_00000000n];
  for (const a of bad) {
    for (let i = 0; i < 6; i++) {
      const r = started();
      const d = dbg();
      setU32(d, bcr(0), 1);
      setU64(d, bvr(0), base);
      assert.equal(r.write("zx", DEBUG, d, ctx), ZX_OK);
      setU64(d, bvr(i), a);
      expectWrite(r, DEBUG, d, ERR.INVALID_ARGS);
    }
    for (let i = 0; i < 4; i++) {
      const r = started();
      const d = dbg();
      setU64(d, wvr(i), a);
      expectWrite(r, DEBUG, d, ERR.INVALID_ARGS);
    }
  }
});

Deno.test("arm64: debug entries past the counts, read-only fields, padding", () => {
  const r = started();
  const d = new Uint8Array(528).fill(0xff);
  // Only the implemented entries need valid addresses.
  for (let i = 0; i < 6; i++) setU64(d, bvr(i), 0x400000n + BigInt(i) * 0x1000n);
  for (let i = 0; i < 4; i++) setU64(d, wvr(i), 0x800000n + BigInt(i) * 0x1000n);
  expectWrite(r, DEBUG, d, ZX_OK);
  const got = read(r, DEBUG);
  const expect = dbg();
  for (let i = 0; i < 6; i++) {
    setU32(expect, bcr(i), 0x1e5);
    setU64(expect, bvr(i), 0x400000n + BigInt(i) * 0x1000n);
  }
  for (let i = 0; i < 4; i++) {
    setU32(expect, wcr(i), 0x5ffd);
    setU64(expect, wvr(i), 0x800000n + BigInt(i) * 0x1000n);
  }
  expect[BPS_COUNT] = 6;
  expect[WPS_COUNT] = 4;
  assert.deepEqual(got, expect);
  assert.equal(getU64(got, FAR), 0n);
  assert.equal(getU32(got, ESR), 0);
});

Deno.test("arm64: single step is its own flag", () => {
  const r = started();
  const one = new Uint8Array([1, 0, 0, 0]);
  expectWrite(r, SINGLE_STEP, one, ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), one);
  assert.equal(getU64(read(r, GENERAL), CPSR), 0n); // SPSR.SS is not NZCV
  // General-regs writes do not touch it.
  expectWrite(r, GENERAL, corePattern(), ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), one);
  for (const v of [2, 0xffffffff]) {
    const b = new Uint8Array(4);
    setU32(b, 0, v);
    expectWrite(r, SINGLE_STEP, b, ERR.INVALID_ARGS);
  }
  expectWrite(r, SINGLE_STEP, new Uint8Array(5), ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
  expectWrite(r, SINGLE_STEP, new Uint8Array(3), ERR.BUFFER_TOO_SMALL);
});

Deno.test("arm64: sizes, unknown kinds, read buffers", () => {
  const r = started();
  for (const kind of [3, 6, 7, 8, 9, 100]) {
    expectWrite(r, kind, new Uint8Array(4096), ERR.INVALID_ARGS);
    assert.equal(r.read("zx", kind, new Uint8Array(4096)), ERR.INVALID_ARGS);
  }
  for (const kind of [GENERAL, VECTOR, DEBUG, SINGLE_STEP]) {
    const size = arm64.regsets.zx.get(kind)!.size;
    expectWrite(r, kind, new Uint8Array(size - 1), ERR.BUFFER_TOO_SMALL);
    assert.equal(r.read("zx", kind, new Uint8Array(size - 1)), ERR.BUFFER_TOO_SMALL);
    const out = new Uint8Array(size + 8).fill(0x99);
    assert.equal(r.read("zx", kind, out), ZX_OK);
    assert.deepEqual(out.subarray(size), new Uint8Array(8).fill(0x99));
  }
  // Longer general-regs input: extra bytes ignored.
  const longer = new Uint8Array(400).fill(0x42);
  longer.set(corePattern());
  expectWrite(r, GENERAL, longer, ZX_OK);
  assert.deepEqual(read(r, GENERAL), corePattern());
  const host = new Uint8Array(300);
  host.set(corePattern(), 7);
  setU64(host, 7 + X0, 0x1234n);
  expectWrite(r, GENERAL, host.subarray(7, 287), ZX_OK);
  assert.equal(getU64(read(r, GENERAL), X0), 0x1234n);
});

Deno.test("arm64: isValidUserPc", () => {
  const ok = [0n, 4n, 0x200000n, 1n << 47n, 0xffff_ff00_0000n, (1n << 55n) - 4n];
  const bad = [1n << 55n, 0xffffff80_00000000n, 0xffff0000_00000000n, 0xffffffff_ffffffffn, -4n];
  for (const pc of ok) assert.equal(arm64.isValidUserPc(pc), true, `0x${pc.toString(16)}`);
  for (const pc of bad) assert.equal(arm64.isValidUserPc(pc), false, `0x${pc.toString(16)}`);
  assert.equal(arm64.name, "arm64");
});
