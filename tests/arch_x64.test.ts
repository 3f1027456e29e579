import assert from "node:assert/strict";
import { ERR, ZX_OK } from "../kernel/status.ts";
import type { Abi, ThreadRegisters } from "../arch/arch.ts";
import { getU32, getU64, setU32, setU64 } from "../arch/layout.ts";
import {
  x64,
  X64Registers,
  X86_DR6_RESET,
  X86_FLAGS_USER,
  X86_MXCSR_INIT,
} from "../arch/x64/x64.ts";

const GENERAL = 0, FP = 1, VECTOR = 2, DEBUG = 4, SINGLE_STEP = 5;
const ctx = { stoppedInSyscall: false };
const inSyscall = { stoppedInSyscall: true };

// Offsets (from the header, written out here on purpose).
const RAX = 0, RSP = 56, RSI = 32, RDI = 40, RIP = 128, RFLAGS = 136, FS_BASE = 144, GS_BASE = 152;
const MXCSR = 2112, DR6 = 32, DR7 = 40;

function read(r: ThreadRegisters, kind: number, abi: Abi = "zx"): Uint8Array {
  const size = x64.regsets[abi].get(kind)!.size;
  const out = new Uint8Array(size);
  assert.equal(r.read(abi, kind, out), ZX_OK);
  return out;
}

/** Every readable regset of both ABIs, concatenated: the whole visible state. */
function snapshot(r: ThreadRegisters): Uint8Array {
  const parts = [
    ...[GENERAL, FP, VECTOR, DEBUG, SINGLE_STEP].map((k) => read(r, k)),
    read(r, 0, "mx"),
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

function u64le(b: Uint8Array, off: number): bigint {
  return getU64(b, off);
}

/** general_regs_fill_test_values for x86-64 (core tests): byte[i] = i + 1, then overrides. */
function corePattern(): Uint8Array {
  const b = new Uint8Array(160);
  for (let i = 0; i < b.length; i++) b[i] = i + 1;
  setU64(b, RIP, 0n);
  setU64(b, RFLAGS, 0x244ed7n);
  setU64(b, FS_BASE, 0n);
  setU64(b, GS_BASE, 0n);
  return b;
}

/** A suspended thread that has run (as the Writing* core tests use). */
function runningThread(): X64Registers {
  const r = x64.newRegisters() as X64Registers;
  r.setStart(0x401000n, 0x7fff0000n, 1n, 2n);
  r.noteUserExecution();
  return r;
}

/** Writes `input` expecting `status`; on failure proves nothing changed. */
function expectWrite(
  r: ThreadRegisters,
  kind: number,
  input: Uint8Array,
  status: number,
  abi: Abi = "zx",
  c = ctx,
): void {
  const before = snapshot(r);
  assert.equal(r.write(abi, kind, input, c), status);
  if (status !== ZX_OK) assert.deepEqual(snapshot(r), before, "a rejected write changed the state");
}

Deno.test("x64: fresh registers", () => {
  const r = x64.newRegisters();
  assert.deepEqual(read(r, GENERAL), new Uint8Array(160));
  const fp = read(r, FP);
  assert.equal(new DataView(fp.buffer).getUint16(0, true), 0x037f);
  assert.deepEqual(fp.subarray(2), new Uint8Array(158));
  const vec = read(r, VECTOR);
  assert.equal(getU32(vec, MXCSR), 0x1f80);
  assert.equal(X86_MXCSR_INIT, 0x1f80);
  vec.fill(0, MXCSR, MXCSR + 4);
  assert.deepEqual(vec, new Uint8Array(2120));
  assert.deepEqual(read(r, DEBUG), new Uint8Array(48));
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
  assert.deepEqual(read(r, 0, "mx"), new Uint8Array(144));
});

Deno.test("x64: setStart", () => {
  const r = x64.newRegisters();
  assert.equal(r.write("zx", GENERAL, corePattern(), ctx), ZX_OK); // garbage that must vanish
  r.setStart(0x1000_2000n, 0x7fff_0000_0000n, 0xaaaan, 0xbbbbn);
  const g = read(r, GENERAL);
  const expect = new Uint8Array(160);
  setU64(expect, RIP, 0x1000_2000n);
  setU64(expect, RSP, 0x7fff_0000_0000n);
  setU64(expect, RDI, 0xaaaan);
  setU64(expect, RSI, 0xbbbbn);
  setU64(expect, RFLAGS, 0x200n);
  assert.deepEqual(g, expect);
  assert.deepEqual(read(r, 0, "mx"), expect.subarray(0, 144));
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
});

Deno.test("x64: core-test pattern accepted and read back", () => {
  const r = runningThread();
  const pattern = corePattern();
  assert.equal(u64le(pattern, RSP), 0x403f3e3d3c3b3a39n); // non-canonical rsp is fine
  expectWrite(r, GENERAL, pattern, ZX_OK);
  // Byte exact, rflags included (bit 1 and IF were already set by the CPU).
  assert.deepEqual(read(r, GENERAL), pattern);
  assert.equal(u64le(read(r, GENERAL), RAX), 0x0807060504030201n);
  assert.equal(u64le(read(r, GENERAL), 120), 0x807f7e7d7c7b7a79n);
  // A thread that has only been started has no bit 1 yet: IF kept, bit 1 not writable.
  const s = x64.newRegisters();
  s.setStart(0n, 0n, 0n, 0n);
  assert.equal(s.write("zx", GENERAL, pattern, ctx), ZX_OK);
  assert.equal(u64le(read(s, GENERAL), RFLAGS), 0x244ed5n);
});

Deno.test("x64: general round trip, every byte of every field", () => {
  const r = runningThread();
  const b = new Uint8Array(160);
  for (let i = 0; i < 160; i++) b[i] = (i * 7 + 3) & 0xff;
  setU64(b, RIP, 0x00007fff_ffffffffn);
  setU64(b, RFLAGS, 0x202n | 0x244dd5n);
  setU64(b, FS_BASE, 0xffff8000_00000000n); // canonical upper half: fine for fs/gs
  setU64(b, GS_BASE, 0x00007fff_ffffffffn);
  expectWrite(r, GENERAL, b, ZX_OK);
  assert.deepEqual(read(r, GENERAL), b);
  assert.deepEqual(read(r, 0, "mx"), b.subarray(0, 144));
});

Deno.test("x64: rip, fs_base, gs_base checks", () => {
  const ok = [0n, 1n, 0x401000n, 0x00007fff_ffffffffn];
  const badRip = [
    1n << 47n,
    0xffffff80_00000000n,
    0xffff8000_00000000n, // canonical, but kernel half
    0x00010000_00000000n,
    1n << 55n,
    0xffffffff_ffffffffn,
    0x80000000_00000000n,
  ];
  for (const rip of ok) {
    const r = runningThread();
    const b = corePattern();
    setU64(b, RIP, rip);
    expectWrite(r, GENERAL, b, ZX_OK);
    assert.equal(u64le(read(r, GENERAL), RIP), rip);
  }
  for (const rip of badRip) {
    const b = corePattern();
    setU64(b, RIP, rip);
    expectWrite(runningThread(), GENERAL, b, ERR.INVALID_ARGS);
  }
  const canonical = [0n, 0x00007fff_ffffffffn, 0xffff8000_00000000n, 0xffffffff_ffffffffn];
  const nonCanonical = [
    1n << 47n,
    0x80000000_00000000n,
    0x00010000_00000000n,
    0xfffe0000_00000000n,
  ];
  for (const off of [FS_BASE, GS_BASE]) {
    for (const v of canonical) {
      const r = runningThread();
      const b = corePattern();
      setU64(b, off, v);
      expectWrite(r, GENERAL, b, ZX_OK);
      assert.equal(u64le(read(r, GENERAL), off), v);
    }
    for (const v of nonCanonical) {
      const b = corePattern();
      setU64(b, off, v);
      expectWrite(runningThread(), GENERAL, b, ERR.INVALID_ARGS);
    }
  }
});

Deno.test("x64: rflags keeps non-user bits, read is unmasked", () => {
  const r = runningThread(); // rflags 0x202
  const b = corePattern();
  setU64(b, RFLAGS, 0xffffffff_ffffffffn);
  expectWrite(r, GENERAL, b, ZX_OK);
  assert.equal(u64le(read(r, GENERAL), RFLAGS), 0x202n | BigInt(X86_FLAGS_USER));
  assert.equal(u64le(read(r, GENERAL), RFLAGS), 0x244fd7n);
  setU64(b, RFLAGS, 0n);
  expectWrite(r, GENERAL, b, ZX_OK);
  assert.equal(u64le(read(r, GENERAL), RFLAGS), 0x202n); // IF and bit 1 stay
  // Fresh (all-zero) thread: rflags 0 accepted, nothing privileged gained.
  const z = x64.newRegisters();
  const zero = new Uint8Array(160);
  setU64(zero, RFLAGS, 0x3000n | 0x200n | 0x10000n); // IOPL, IF, RF
  expectWrite(z, GENERAL, zero, ZX_OK);
  assert.equal(u64le(read(z, GENERAL), RFLAGS), 0n);
});

Deno.test("x64: TLS bases (ThreadLocalRegisterState)", () => {
  const r = runningThread();
  const b = new Uint8Array(160);
  setU64(b, FS_BASE, 0x1234_5000n);
  setU64(b, GS_BASE, 0x5678_9000n);
  expectWrite(r, GENERAL, b, ZX_OK);
  const g = read(r, GENERAL);
  assert.equal(u64le(g, FS_BASE), 0x1234_5000n);
  assert.equal(u64le(g, GS_BASE), 0x5678_9000n);
});

Deno.test("x64: longer input accepted, shorter refused, offset views", () => {
  const r = runningThread();
  const big = new Uint8Array(4096).fill(0xee);
  big.set(corePattern(), 0);
  expectWrite(r, GENERAL, big, ZX_OK);
  assert.deepEqual(read(r, GENERAL), corePattern());
  expectWrite(r, GENERAL, corePattern().subarray(0, 159), ERR.BUFFER_TOO_SMALL);
  // The input may be a view into a larger buffer at an odd offset.
  const host = new Uint8Array(200).fill(0x55);
  const b = corePattern();
  setU64(b, RAX, 0x1122334455667788n);
  host.set(b, 3);
  expectWrite(r, GENERAL, host.subarray(3, 163), ZX_OK);
  assert.equal(u64le(read(r, GENERAL), RAX), 0x1122334455667788n);
  const badHost = host.slice();
  setU64(badHost, 3 + RIP, 1n << 47n);
  expectWrite(r, GENERAL, badHost.subarray(3), ERR.INVALID_ARGS);
  // Reads: a larger buffer gets exactly sizeof bytes; a smaller one nothing.
  const out = new Uint8Array(170).fill(0x99);
  assert.equal(r.read("zx", GENERAL, out), ZX_OK);
  assert.deepEqual(out.subarray(160), new Uint8Array(10).fill(0x99));
  const small = new Uint8Array(159);
  assert.equal(r.read("zx", GENERAL, small), ERR.BUFFER_TOO_SMALL);
  assert.deepEqual(small, new Uint8Array(159));
  for (const kind of [FP, VECTOR, DEBUG, SINGLE_STEP]) {
    const size = x64.regsets.zx.get(kind)!.size;
    expectWrite(r, kind, new Uint8Array(size - 1), ERR.BUFFER_TOO_SMALL);
  }
});

Deno.test("x64: unknown kinds", () => {
  const r = runningThread();
  for (const kind of [3, 6, 7, 8, 9, 100, -1]) {
    expectWrite(r, kind, new Uint8Array(4096), ERR.INVALID_ARGS);
    assert.equal(r.read("zx", kind, new Uint8Array(4096)), ERR.INVALID_ARGS);
  }
  for (let kind = 1; kind <= 9; kind++) {
    expectWrite(r, kind, new Uint8Array(4096), ERR.INVALID_ARGS, "mx");
    assert.equal(r.read("mx", kind, new Uint8Array(4096)), ERR.INVALID_ARGS);
  }
});

Deno.test("x64: Magenta general regs", () => {
  const r = runningThread();
  const zx = corePattern();
  setU64(zx, FS_BASE, 0x7000n);
  setU64(zx, GS_BASE, 0x8000n);
  assert.equal(r.write("zx", GENERAL, zx, ctx), ZX_OK);
  const mx = new Uint8Array(144);
  for (let i = 0; i < 144; i++) mx[i] = 0xff - i;
  setU64(mx, RFLAGS, 0xffffffff_ffffffffn);
  const ripHigh = u64le(mx, RIP);
  assert.ok(ripHigh >= 1n << 47n); // the pattern's rip is a kernel-half value
  // Between instructions Magenta did not check rip at all.
  expectWrite(r, 0, mx, ZX_OK, "mx", ctx);
  const m = read(r, 0, "mx");
  assert.deepEqual(m.subarray(0, RFLAGS), mx.subarray(0, RFLAGS));
  assert.equal(u64le(m, RFLAGS), 0x244fd7n);
  // fs/gs kept theirs.
  const g = read(r, GENERAL);
  assert.deepEqual(g.subarray(0, 144), m);
  assert.equal(u64le(g, FS_BASE), 0x7000n);
  assert.equal(u64le(g, GS_BASE), 0x8000n);
  // Stopped in a syscall: rip >= 1<<47 refused (SYSRET), below accepted.
  const s = runningThread();
  expectWrite(s, 0, mx, ERR.INVALID_ARGS, "mx", inSyscall);
  setU64(mx, RIP, 1n << 47n);
  expectWrite(s, 0, mx, ERR.INVALID_ARGS, "mx", inSyscall);
  setU64(mx, RIP, (1n << 47n) - 1n);
  expectWrite(s, 0, mx, ZX_OK, "mx", inSyscall);
  // Longer input: only 144 bytes matter; shorter: refused.
  const longer = new Uint8Array(200).fill(0x11);
  longer.set(mx);
  expectWrite(s, 0, longer, ZX_OK, "mx", inSyscall);
  assert.equal(u64le(read(s, GENERAL), FS_BASE), 0n);
  expectWrite(s, 0, mx.subarray(0, 143), ERR.BUFFER_TOO_SMALL, "mx");
});

Deno.test("x64: FP regs unchecked; reserved byte and padding read 0", () => {
  const r = runningThread();
  const b = new Uint8Array(160);
  for (let i = 0; i < 160; i++) b[i] = (i * 13 + 1) & 0xff;
  // fill_test_values: st[i].low = i, st[7].low = a quiet NaN.
  for (let i = 0; i < 7; i++) setU64(b, 32 + 16 * i, BigInt(i));
  setU64(b, 32 + 16 * 7, 0x7ff8000000000000n);
  expectWrite(r, FP, b, ZX_OK);
  const expect = b.slice();
  expect[5] = 0; // `reserved` is not state
  expect.fill(0, 24, 32); // padding1
  assert.deepEqual(read(r, FP), expect);
  // No value is refused.
  expectWrite(r, FP, new Uint8Array(160).fill(0xff), ZX_OK);
  const ff = new Uint8Array(160).fill(0xff);
  ff[5] = 0;
  ff.fill(0, 24, 32);
  assert.deepEqual(read(r, FP), ff);
});

Deno.test("x64: vector regs keep xmm/ymm 0-15 and mxcsr only", () => {
  const r = runningThread();
  const b = new Uint8Array(2120).fill(0xff); // every lane, opmask, padding all ones
  for (let i = 0; i < 16; i++) {
    setU64(b, 64 * i, BigInt(i));
    setU64(b, 64 * i + 8, BigInt(i) << 8n);
  }
  setU32(b, MXCSR, 0x1f80);
  expectWrite(r, VECTOR, b, ZX_OK);
  const got = read(r, VECTOR);
  const expect = new Uint8Array(2120);
  for (let i = 0; i < 16; i++) expect.set(b.subarray(64 * i, 64 * i + 32), 64 * i);
  setU32(expect, MXCSR, 0x1f80);
  assert.deepEqual(got, expect);
  for (let i = 0; i < 16; i++) {
    assert.equal(u64le(got, 64 * i), BigInt(i));
    assert.equal(u64le(got, 64 * i + 8), BigInt(i) << 8n);
    for (let lane = 2; lane < 4; lane++) {
      assert.equal(u64le(got, 64 * i + 8 * lane), 0xffffffff_ffffffffn);
    }
    for (let lane = 4; lane < 8; lane++) assert.equal(u64le(got, 64 * i + 8 * lane), 0n);
  }
  assert.deepEqual(got.subarray(16 * 64, 2112), new Uint8Array(2112 - 1024)); // zmm16-31, opmask
});

Deno.test("x64: mxcsr validation", () => {
  for (const m of [0xffbf, 0x1f80, 0, 0x003f, 0xff80]) {
    const r = runningThread();
    const b = new Uint8Array(2120);
    setU32(b, MXCSR, m);
    expectWrite(r, VECTOR, b, ZX_OK);
    assert.equal(getU32(read(r, VECTOR), MXCSR), m);
  }
  for (const m of [0xffffffff, 0x40, 0xffc0, 0x10000, 0x80000000]) {
    const r = runningThread();
    const b = new Uint8Array(2120);
    setU64(b, 0, 0x9999n); // would change xmm0
    setU32(b, MXCSR, m);
    expectWrite(r, VECTOR, b, ERR.INVALID_ARGS);
    assert.equal(getU32(read(r, VECTOR), MXCSR), 0x1f80);
    assert.equal(u64le(read(r, VECTOR), 0), 0n);
  }
});

function dbgInput(dr: bigint[], dr6: bigint, dr7: bigint): Uint8Array {
  const b = new Uint8Array(48);
  dr.forEach((v, i) => setU64(b, 8 * i, v));
  setU64(b, DR6, dr6);
  setU64(b, DR7, dr7);
  return b;
}

Deno.test("x64: debug regs masking", () => {
  assert.equal(X86_DR6_RESET, 0xffff0ff0);
  const r = runningThread();
  expectWrite(r, DEBUG, new Uint8Array(48), ZX_OK);
  assert.deepEqual(read(r, DEBUG), dbgInput([0n, 0n, 0n, 0n], 0xffff0ff0n, 0x700n));
  // WriteReadDebugRegisterState.
  const base = 0x0000_1234_5678_0000n;
  expectWrite(r, DEBUG, dbgInput([base, base + 0x4000n, base + 0x8000n, 0n], 0n, 0x33n), ZX_OK);
  assert.deepEqual(
    read(r, DEBUG),
    dbgInput([base, base + 0x4000n, base + 0x8000n, 0n], 0xffff0ff0n, 0x733n),
  );
  // DebugRegistersValidation: dr6 not writable, dr7 masked.
  expectWrite(
    r,
    DEBUG,
    dbgInput([0n, 0n, 0n, 0n], 0xffffffff_0000f00fn, 0xffffffff_fffff8ffn),
    ZX_OK,
  );
  assert.deepEqual(read(r, DEBUG), dbgInput([0n, 0n, 0n, 0n], 0xffff0ff0n, 0xffff07ffn));
  expectWrite(r, DEBUG, dbgInput([0n, 0n, 0n, 0n], 0n, 0x7ffn), ZX_OK);
  assert.equal(u64le(read(r, DEBUG), DR7), 0x7ffn);
  expectWrite(r, DEBUG, dbgInput([0n, 0n, 0n, 0n], 0n, 0xd0001n), ZX_OK);
  assert.equal(u64le(read(r, DEBUG), DR7), 0xd0701n);
  // The GD bit (13) and bits 11-15 are dropped.
  expectWrite(r, DEBUG, dbgInput([0n, 0n, 0n, 0n], 0n, 0x2000n), ZX_OK);
  assert.equal(u64le(read(r, DEBUG), DR7), 0x700n);
});

Deno.test("x64: debug address checks", () => {
  const { base, end } = x64.userAspace;
  assert.equal(base, 0x200000n);
  assert.equal(end, (1n << 47n) - 4096n);
  for (const a of [0n, base, end - 1n, 0x7fff_ffff_e000n]) {
    for (let i = 0; i < 4; i++) {
      const r = runningThread();
      const dr = [0n, 0n, 0n, 0n];
      dr[i] = a;
      expectWrite(r, DEBUG, dbgInput(dr, 0n, 0n), ZX_OK);
      assert.equal(u64le(read(r, DEBUG), 8 * i), a);
    }
  }
  // 0x1000 (below the base) and 0xffff_0000_0000 (past 1<<47) are the core tests' values.
  const bad = [
    0x1000n,
    base - 1n,
    end,
    1n << 47n,
    0xffff_0000_0000n,
    0xffffff80_00000000n,
    0xffffffff_ffffffffn,
  ];
  for (const a of bad) {
    for (let i = 0; i < 4; i++) {
      const r = runningThread();
      assert.equal(r.write("zx", DEBUG, new Uint8Array(48), ctx), ZX_OK);
      const dr = [base, base, base, base];
      dr[i] = a;
      expectWrite(r, DEBUG, dbgInput(dr, 0n, 0xffn), ERR.INVALID_ARGS);
    }
  }
});

Deno.test("x64: single step is rflags.TF", () => {
  const r = runningThread();
  const one = new Uint8Array([1, 0, 0, 0]);
  expectWrite(r, SINGLE_STEP, one, ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), one);
  assert.equal(u64le(read(r, GENERAL), RFLAGS), 0x302n);
  expectWrite(r, SINGLE_STEP, new Uint8Array(4), ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
  assert.equal(u64le(read(r, GENERAL), RFLAGS), 0x202n);
  for (const v of [2, 0xffffffff, 0x100]) {
    const b = new Uint8Array(4);
    setU32(b, 0, v);
    expectWrite(r, SINGLE_STEP, b, ERR.INVALID_ARGS);
  }
  // Larger buffer: extra bytes ignored. Smaller: refused.
  expectWrite(r, SINGLE_STEP, new Uint8Array([1, 0, 0, 0, 7]), ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), one);
  expectWrite(r, SINGLE_STEP, new Uint8Array([0, 0, 0]), ERR.BUFFER_TOO_SMALL);
  // TF is a user bit: general regs can set and clear it too.
  const g = read(r, GENERAL);
  setU64(g, RFLAGS, 0x202n);
  expectWrite(r, GENERAL, g, ZX_OK);
  assert.deepEqual(read(r, SINGLE_STEP), new Uint8Array(4));
});

Deno.test("x64: isValidUserPc and user aspace", () => {
  const ok = [0n, 1n, 0x1000n, 0x200000n, (1n << 47n) - 1n];
  const bad = [
    1n << 47n,
    1n << 55n,
    0xffffff80_00000000n,
    0xffff8000_00000000n,
    0xffffffff_ffffffffn,
    -1n,
  ];
  for (const pc of ok) assert.equal(x64.isValidUserPc(pc), true, `0x${pc.toString(16)}`);
  for (const pc of bad) assert.equal(x64.isValidUserPc(pc), false, `0x${pc.toString(16)}`);
  assert.equal(x64.name, "x64");
  assert.deepEqual(x64.userAspace, { base: 0x200000n, end: 0x7fff_ffff_f000n });
});

Deno.test("x64: threads do not share state", () => {
  const a = runningThread();
  const b = runningThread();
  assert.equal(a.write("zx", GENERAL, corePattern(), ctx), ZX_OK);
  assert.equal(u64le(read(b, GENERAL), RAX), 0n);
});
