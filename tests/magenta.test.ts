// mx_thread_read_state / mx_thread_write_state: the Magenta (mid-2017) ABI
// on /v1/mx, on both architectures. Every sentence of the seed man page
// (the Magenta mx_thread_write_state man page)
// is checked here, with the rules decisions.md ("Magenta ABI") settles:
// REGSET0 only (x64 144 bytes, arm64 272), Magenta's order of checks
// (rights before type, len > 4096, BAD_STATE before kind, exact len on
// write), MX_ names.

import assert from "node:assert/strict";
import {
  ARCHES,
  expectErr,
  type Json,
  newKernel,
  type Reply,
  send,
  STATUS,
  TestKernel,
} from "./helpers.ts";

type Arch = (typeof ARCHES)[number];

const MX_SIZE: Record<Arch, number> = { x64: 144, arm64: 272 };
const ZX_SIZE: Record<Arch, number> = { x64: 160, arm64: 280 };

// x64 offsets (shared by mx_x86_64_general_regs_t and the zx struct's head).
const X_NAMES = [
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
];
const X_RAX = 0, X_RSP = 56, X_RIP = 128, X_RFLAGS = 136, X_FS_BASE = 144, X_GS_BASE = 152;
// arm64 offsets.
const A_LR = 240, A_SP = 248, A_PC = 256, A_CPSR = 264, A_TPIDR = 272;

// ---------------------------------------------------------------------------
// Helpers

/** A failure spelled the Magenta way: MX_ERR_<suffix>, its number, its HTTP status. */
function expectMxErr(reply: Reply, suffix: string): void {
  expectErr(reply, suffix, "MX");
  assert.ok(reply.body.code < 0, "a failure is a negative error value");
}

function expectMxOk(reply: Reply): void {
  assert.equal(reply.body.status, "MX_OK", JSON.stringify(reply.body));
  assert.equal(reply.body.code, 0);
  assert.equal(reply.http, 200);
}

function mxRead(k: TestKernel, handle: number, kind: number | string, extra: Json = {}) {
  return k.mx("thread_read_state", { handle, kind, ...extra });
}

function mxWrite(
  k: TestKernel,
  handle: number,
  kind: number | string,
  bytes: Uint8Array | undefined,
  extra: Json = {},
): Promise<Reply> {
  const body: Json = { handle, kind, ...extra };
  if (bytes !== undefined) body.buffer = bytes.toBase64();
  return k.mx("thread_write_state", body);
}

async function mxReadBytes(k: TestKernel, handle: number): Promise<Uint8Array> {
  const reply = await mxRead(k, handle, "MX_THREAD_STATE_REGSET0");
  expectMxOk(reply);
  assert.equal(reply.body.actual, MX_SIZE[k.arch as Arch]);
  return Uint8Array.fromBase64(reply.body.buffer);
}

async function mxWriteOk(k: TestKernel, handle: number, bytes: Uint8Array) {
  expectMxOk(await mxWrite(k, handle, "MX_THREAD_STATE_REGSET0", bytes));
}

/** GENERAL_REGS through /v1/zx (sees fs_base / gs_base / tpidr too). */
async function zxGeneral(k: TestKernel, handle: number): Promise<Uint8Array> {
  const body = await k.ok("thread_read_state", { handle, kind: 0 });
  return Uint8Array.fromBase64(body.buffer);
}

/** Everything visible about a thread's registers: zx general, vector, debug, single step. */
async function snapshot(k: TestKernel, thread: number): Promise<string[]> {
  const out: string[] = [];
  for (const kind of [0, 2, 4, 5]) {
    out.push((await k.ok("thread_read_state", { handle: thread, kind })).buffer);
  }
  return out;
}

/** A write through /v1/mx that must fail with `suffix` and leave every register alone. */
async function rejectedMxWrite(
  k: TestKernel,
  thread: number,
  kind: number | string,
  bytes: Uint8Array | undefined,
  suffix: string,
  extra: Json = {},
): Promise<Reply> {
  const before = await snapshot(k, thread);
  const reply = await mxWrite(k, thread, kind, bytes, extra);
  expectMxErr(reply, suffix);
  assert.deepEqual(await snapshot(k, thread), before, "a rejected write changed state");
  return reply;
}

function u64(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}
function setU64(b: Uint8Array, off: number, v: bigint): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(off, BigInt.asUintN(64, v), true);
}
const hex64 = (v: bigint) => "0x" + BigInt.asUintN(64, v).toString(16).padStart(16, "0");

function bytePattern(size: number, seed = 1, step = 1): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * step + seed) & 0xff;
  return b;
}

/** Magenta REGSET0 with the core-test pattern (x64 rip 0, rflags 0x244ED7; arm64 cpsr NZCV). */
function mxPattern(arch: Arch, seed = 1, step = 1): Uint8Array {
  const b = bytePattern(MX_SIZE[arch], seed, step);
  if (arch === "x64") {
    setU64(b, X_RIP, 0n);
    setU64(b, X_RFLAGS, 0x244ed7n);
  } else {
    setU64(b, A_CPSR, 0xf0000000n);
  }
  return b;
}

async function duplicate(k: TestKernel, handle: number, rights: number | string | string[]) {
  return (await k.ok("handle_duplicate", { handle, rights })).out as number;
}

/** A thread handle of `thread`'s kernel that was valid once and is now closed. */
async function closedHandle(k: TestKernel, thread: number): Promise<number> {
  const dup = await duplicate(k, thread, "ZX_RIGHT_SAME_RIGHTS");
  await k.ok("handle_close", { handle: dup });
  return dup;
}

/** A suspended thread whose zx-only registers (fs_base/gs_base or tpidr) are set. */
async function threadWithTls(k: TestKernel): Promise<number> {
  const { thread } = await k.suspendedThread("0x1000000", "0x2000000", 5, 6);
  const regs = k.arch === "x64"
    ? { fs_base: "0x7000_1000", gs_base: "0xffff800000002000" }
    : { tpidr: "0xdead_beef_0000" };
  await k.ok("thread_write_state", { handle: thread, kind: 0, regs });
  return thread;
}

// ---------------------------------------------------------------------------
// Layouts and the seed's "regset 0" convention

for (const arch of ARCHES) {
  Deno.test(`${arch}: mx REGSET0 read: ${MX_SIZE[arch]} bytes, actual = sizeof, MX_OK`, async () => {
    const k = await newKernel(arch);
    const thread = await threadWithTls(k);
    const reply = await mxRead(k, thread, "MX_THREAD_STATE_REGSET0");
    expectMxOk(reply);
    assert.equal(reply.body.actual, MX_SIZE[arch]);
    const bytes = Uint8Array.fromBase64(reply.body.buffer);
    assert.equal(bytes.length, MX_SIZE[arch]);
    // Same registers as the modern struct, minus its tail (fs_base/gs_base or tpidr).
    const zx = await zxGeneral(k, thread);
    assert.equal(zx.length, ZX_SIZE[arch]);
    assert.deepEqual(bytes, zx.subarray(0, MX_SIZE[arch]));
    assert.notDeepEqual(zx.subarray(MX_SIZE[arch]), new Uint8Array(ZX_SIZE[arch] - MX_SIZE[arch]));
    // Kind 0 by number is the same.
    const byNumber = await mxRead(k, thread, 0);
    assert.equal(byNumber.body.buffer, reply.body.buffer);
  });

  Deno.test(`${arch}: seed: "regset 0 contains the general purpose integer registers, stack pointer, program counter, and ALU flags"`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread(
      "0x1000000",
      "0x2000000",
      "0x1111222233334444",
      "0x5555666677778888",
    );
    const reply = await mxRead(k, thread, "MX_THREAD_STATE_REGSET0");
    expectMxOk(reply);
    const regs = reply.body.regs;
    if (arch === "x64") {
      // Exactly mx_x86_64_general_regs_t: 16 GPRs, rip, rflags; no fs_base/gs_base.
      assert.deepEqual(Object.keys(regs), X_NAMES);
      assert.equal(regs.rsp, "0x0000000002000000"); // stack pointer
      assert.equal(regs.rip, "0x0000000001000000"); // program counter
      assert.equal(regs.rflags, "0x0000000000000200"); // ALU flags
      assert.equal(regs.rdi, "0x1111222233334444");
      assert.equal(regs.rsi, "0x5555666677778888");
    } else {
      // Exactly mx_arm64_general_regs_t: r[30], lr, sp, pc, cpsr; no tpidr.
      assert.deepEqual(Object.keys(regs), ["r", "lr", "sp", "pc", "cpsr"]);
      assert.equal(regs.r.length, 30);
      assert.equal(regs.sp, "0x0000000002000000");
      assert.equal(regs.pc, "0x0000000001000000");
      assert.equal(regs.cpsr, hex64(0n));
      assert.equal(regs.r[0], "0x1111222233334444");
      assert.equal(regs.r[1], "0x5555666677778888");
    }
    for (const [name, value] of Object.entries(regs)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        assert.match(v as string, /^0x[0-9a-f]{16}$/, name);
      }
    }
  });

  Deno.test(`${arch}: seed: "each register set's contents is defined by a struct" (field order)`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    // Field k holds 0x1000 + k: rip/pc 0x1010 is a fine address on either ABI.
    const b = new Uint8Array(MX_SIZE[arch]);
    for (let f = 0; f < MX_SIZE[arch] / 8; f++) setU64(b, 8 * f, 0x1000n + BigInt(f));
    if (arch === "x64") setU64(b, X_RFLAGS, 0x1n); // CF
    else setU64(b, A_CPSR, 0x8000_0000n); // N
    await mxWriteOk(k, thread, b);
    const zx = await k.ok("thread_read_state", { handle: thread, kind: 0 });
    if (arch === "x64") {
      X_NAMES.slice(0, 17).forEach((name, f) =>
        assert.equal(zx.regs[name], hex64(0x1000n + BigInt(f)))
      );
      assert.equal(zx.regs.rflags, hex64(0x201n)); // IF kept, CF from the write
    } else {
      for (let i = 0; i < 30; i++) assert.equal(zx.regs.r[i], hex64(0x1000n + BigInt(i)));
      assert.equal(zx.regs.lr, hex64(0x101en));
      assert.equal(zx.regs.sp, hex64(0x101fn));
      assert.equal(zx.regs.pc, hex64(0x1020n));
      assert.equal(zx.regs.cpsr, hex64(0x8000_0000n));
    }
  });

  Deno.test(`${arch}: seed: "writes one aspect of state of the thread" -- a round trip`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const written = mxPattern(arch);
    await mxWriteOk(k, thread, written);
    const expected = written.slice();
    // x64: 0x244ED7 reads back 0x244ED5 on a thread that has never run: only
    // the user bits 0x244DD5 are written; bit 1 keeps its old value (0, the
    // thread's rflags was 0x200) and IF stays set.
    if (arch === "x64") setU64(expected, X_RFLAGS, 0x244ed5n);
    assert.deepEqual(await mxReadBytes(k, thread), expected);
    // And the same through /v1/zx.
    assert.deepEqual((await zxGeneral(k, thread)).subarray(0, MX_SIZE[arch]), expected);
  });

  Deno.test(`${arch}: an mx write leaves the zx-only registers (fs_base/gs_base, tpidr) untouched`, async () => {
    const k = await newKernel(arch);
    const thread = await threadWithTls(k);
    const before = await zxGeneral(k, thread);
    const written = mxPattern(arch, 0x40, 3);
    await mxWriteOk(k, thread, written);
    const after = await zxGeneral(k, thread);
    assert.deepEqual(after.subarray(MX_SIZE[arch]), before.subarray(MX_SIZE[arch]));
    if (arch === "x64") {
      assert.equal(u64(after, X_FS_BASE), 0x7000_1000n);
      assert.equal(u64(after, X_GS_BASE), 0xffff_8000_0000_2000n);
      assert.deepEqual(after.subarray(0, X_RFLAGS), written.subarray(0, X_RFLAGS));
    } else {
      assert.equal(u64(after, A_TPIDR), 0xdead_beef_0000n);
      assert.deepEqual(after.subarray(0, MX_SIZE[arch]), written);
    }
  });
}

// ---------------------------------------------------------------------------
// Kinds

for (const arch of ARCHES) {
  Deno.test(`${arch}: kinds: MX_THREAD_STATE_REGSET0..9 by name; only REGSET0 exists`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const regs = mxPattern(arch);
    for (let n = 0; n <= 9; n++) {
      const kind = `MX_THREAD_STATE_REGSET${n}`;
      if (n === 0) {
        expectMxOk(await mxRead(k, thread, kind));
        expectMxOk(await mxWrite(k, thread, kind, regs));
        continue;
      }
      // The right size for REGSET0, a suspended thread: only the kind is wrong.
      const read = await mxRead(k, thread, kind);
      expectMxErr(read, "INVALID_ARGS");
      assert.equal(read.body.actual, undefined);
      expectMxErr(await mxRead(k, thread, n, { len: 4096 }), "INVALID_ARGS");
      await rejectedMxWrite(k, thread, kind, mxPattern(arch, 9), "INVALID_ARGS");
      await rejectedMxWrite(k, thread, n, new Uint8Array(0), "INVALID_ARGS");
    }
    for (const kind of [10, 11, 15, 16, 100, 0x7fff_ffff, 0xffff_ffff]) {
      expectMxErr(await mxRead(k, thread, kind), "INVALID_ARGS");
      await rejectedMxWrite(k, thread, kind, mxPattern(arch, 9), "INVALID_ARGS");
    }
  });

  Deno.test(`${arch}: kinds 0..15 never give MX_ERR_NOT_SUPPORTED, UNAVAILABLE or NO_MEMORY`, async () => {
    // The seed documents NOT_SUPPORTED ("a register set not supported by the
    // h/w"), UNAVAILABLE ("a regset requires the chip to be in a specific
    // mode") and NO_MEMORY; decisions.md: no Magenta kernel returned them for
    // these calls (only REGSET0 existed; the others are INVALID_ARGS).
    for (const debugging of [true, false]) {
      const k = await newKernel(arch, debugging);
      const { thread } = await k.suspendedThread();
      for (let kind = 0; kind <= 15; kind++) {
        const replies = [
          await mxRead(k, thread, kind),
          await mxRead(k, thread, kind, { len: 4096 }),
          await mxWrite(k, thread, kind, mxPattern(arch)),
          await mxWrite(k, thread, kind, new Uint8Array(4)),
        ];
        for (const r of replies) {
          for (const never of ["NOT_SUPPORTED", "UNAVAILABLE", "NO_MEMORY"]) {
            assert.notEqual(r.body.status, `MX_ERR_${never}`, `kind ${kind}`);
            assert.notEqual(r.body.code, STATUS[never].code, `kind ${kind}`);
          }
        }
        if (kind === 0) {
          expectMxOk(replies[0]);
          expectMxOk(replies[1]);
          expectMxOk(replies[2]);
          expectMxErr(replies[3], "INVALID_ARGS"); // 4 bytes != sizeof
        } else {
          // No debugging-syscalls gate in Magenta: kinds 4..7 and 12..15 with the
          // gate off are plain INVALID_ARGS, as with it on.
          for (const r of replies) expectMxErr(r, "INVALID_ARGS");
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Order of checks

for (const arch of ARCHES) {
  Deno.test(`${arch}: MX_ERR_BAD_HANDLE: "handle is not a valid handle" -- checked first`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const stale = await closedHandle(k, thread);
    for (const handle of [0, stale, 0xffff_ffff]) {
      // Also wrong kind, len too large, fewer bytes than len.
      expectMxErr(await mxRead(k, handle, 100, { len: 5000 }), "BAD_HANDLE");
      expectMxErr(await mxWrite(k, handle, 100, undefined, { len: 5000 }), "BAD_HANDLE");
      expectMxErr(await mxRead(k, handle, 0), "BAD_HANDLE");
      expectMxErr(await mxWrite(k, handle, 0, mxPattern(arch)), "BAD_HANDLE");
    }
  });

  Deno.test(`${arch}: MX_ERR_ACCESS_DENIED before MX_ERR_WRONG_TYPE (Magenta checked rights first)`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const procNoWrite = await duplicate(k, k.handles.process, [
      "ZX_RIGHT_READ",
      "ZX_RIGHT_DUPLICATE",
    ]);
    const procNoRead = await duplicate(k, k.handles.process, [
      "ZX_RIGHT_WRITE",
      "ZX_RIGHT_DUPLICATE",
    ]);
    const procNone = await duplicate(k, k.handles.process, 0);
    // mx: a process handle lacking the right is ACCESS_DENIED ...
    for (const h of [procNoWrite, procNone]) {
      expectMxErr(await mxWrite(k, h, 100, undefined, { len: 5000 }), "ACCESS_DENIED");
      expectMxErr(await mxWrite(k, h, 0, mxPattern(arch)), "ACCESS_DENIED");
    }
    for (const h of [procNoRead, procNone]) {
      expectMxErr(await mxRead(k, h, 100, { len: 5000 }), "ACCESS_DENIED");
    }
    // ... while modern zx checks the type first: WRONG_TYPE for the same handles.
    for (const h of [procNoWrite, procNone]) {
      expectErr(
        await k.call("thread_write_state", { handle: h, kind: 3, buffer: "", buffer_size: 0 }),
        "WRONG_TYPE",
      );
    }
    for (const h of [procNoRead, procNone]) {
      expectErr(await k.call("thread_read_state", { handle: h, kind: 3 }), "WRONG_TYPE");
    }
    // MX_ERR_WRONG_TYPE: "handle is not that of a thread" -- with the right it needs.
    for (const h of [k.handles.process, k.handles.root_job, procNoRead]) {
      expectMxErr(await mxWrite(k, h, 100, undefined, { len: 5000 }), "WRONG_TYPE");
      expectMxErr(await mxWrite(k, h, 0, mxPattern(arch)), "WRONG_TYPE");
    }
    for (const h of [k.handles.process, procNoWrite]) {
      expectMxErr(await mxRead(k, h, 100, { len: 5000 }), "WRONG_TYPE");
    }
    // MX_ERR_ACCESS_DENIED: "handle lacks MX_RIGHT_WRITE" (read needs MX_RIGHT_READ).
    const threadNoWrite = await duplicate(k, thread, ["ZX_RIGHT_READ"]);
    const threadNoRead = await duplicate(k, thread, ["ZX_RIGHT_WRITE"]);
    const before = await snapshot(k, thread);
    expectMxErr(await mxWrite(k, threadNoWrite, 100, undefined, { len: 5000 }), "ACCESS_DENIED");
    expectMxErr(await mxWrite(k, threadNoWrite, 0, mxPattern(arch)), "ACCESS_DENIED");
    expectMxErr(await mxRead(k, threadNoRead, 100, { len: 5000 }), "ACCESS_DENIED");
    assert.deepEqual(await snapshot(k, thread), before);
    // The one right each needs is enough.
    expectMxOk(await mxRead(k, threadNoWrite, 0));
    expectMxOk(await mxWrite(k, threadNoRead, 0, mxPattern(arch)));
  });

  Deno.test(`${arch}: MX_ERR_INVALID_ARGS: "the provided len is too large" (> 4096), before BAD_STATE`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const { thread } = await k.suspendedThread();
    for (const len of [4097, 5000, 0xffff_ffff]) {
      expectMxErr(await mxRead(k, running, 0, { len }), "INVALID_ARGS");
      expectMxErr(await mxRead(k, thread, 0, { len }), "INVALID_ARGS");
      expectMxErr(await mxWrite(k, running, 0, undefined, { len }), "INVALID_ARGS");
      expectMxErr(await mxWrite(k, running, 0, mxPattern(arch), { len }), "INVALID_ARGS");
      await rejectedMxWrite(k, thread, 0, mxPattern(arch), "INVALID_ARGS", { len });
    }
    // Even when all the bytes are sent, and the kind is wrong too.
    const big = new Uint8Array(4097);
    expectMxErr(await mxWrite(k, running, 7, big), "INVALID_ARGS");
    // 4096 itself is not too large: the running thread is what fails.
    expectMxErr(await mxRead(k, running, 0, { len: 4096 }), "BAD_STATE");
    expectMxErr(await mxWrite(k, running, 0, new Uint8Array(4096)), "BAD_STATE");
    // ... and on a suspended thread a 4096-byte read is fine.
    const r = await mxRead(k, thread, 0, { len: 4096 });
    expectMxOk(r);
    assert.equal(Uint8Array.fromBase64(r.body.buffer).length, MX_SIZE[arch]);
  });

  Deno.test(`${arch}: MX_ERR_INVALID_ARGS: "buffer is an invalid pointer" (fewer bytes than len), before BAD_STATE`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const { thread } = await k.suspendedThread();
    await mxWriteOk(k, thread, mxPattern(arch, 7, 5));
    const size = MX_SIZE[arch];
    for (
      const [bytes, len] of [
        [new Uint8Array(10), size],
        [undefined, size],
        [mxPattern(arch), size + 56],
        [new Uint8Array(size - 1), size],
      ] as Array<[Uint8Array | undefined, number]>
    ) {
      expectMxErr(await mxWrite(k, running, 0, bytes, { len }), "INVALID_ARGS");
      expectMxErr(await mxWrite(k, running, 3, bytes, { len }), "INVALID_ARGS");
      await rejectedMxWrite(k, thread, 0, bytes, "INVALID_ARGS", { len });
    }
    // More bytes than len: only len bytes count (here exactly sizeof: OK). The
    // bytes past sizeof must not leak into fs_base / tpidr (zx-only registers).
    const tailBefore = (await zxGeneral(k, thread)).subarray(size);
    const extra = new Uint8Array(size + 8).fill(0xcc);
    const written = mxPattern(arch, 3, 11);
    extra.set(written);
    expectMxOk(await mxWrite(k, thread, 0, extra, { len: size }));
    assert.deepEqual(
      (await mxReadBytes(k, thread)).subarray(0, arch === "x64" ? X_RFLAGS : size),
      written.subarray(0, arch === "x64" ? X_RFLAGS : size),
    );
    assert.deepEqual((await zxGeneral(k, thread)).subarray(size), tailBefore);
  });

  Deno.test(`${arch}: MX_ERR_BAD_STATE: "the thread is not stopped" -- before the kind and len checks`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const fresh = await k.newThread();
    const suspendedNew = await k.newThread();
    await k.ok("task_suspend", { handle: suspendedNew });
    const size = MX_SIZE[arch];
    for (const t of [running, fresh, suspendedNew]) {
      for (const kind of [0, 1, 5, 9, 10, 100]) {
        const read = await mxRead(k, t, kind);
        expectMxErr(read, "BAD_STATE");
        assert.equal(read.body.actual, undefined);
        expectMxErr(await mxRead(k, t, kind, { len: 0 }), "BAD_STATE");
        expectMxErr(await mxRead(k, t, kind, { len: size - 1 }), "BAD_STATE");
        expectMxErr(await mxWrite(k, t, kind, mxPattern(arch)), "BAD_STATE");
        for (const len of [0, size - 1, size + 1, 4096]) {
          expectMxErr(await mxWrite(k, t, kind, new Uint8Array(len)), "BAD_STATE");
        }
      }
      const sp = arch === "x64" ? "rsp" : "sp";
      expectMxErr(
        await k.mx("thread_write_state", { handle: t, kind: 0, regs: { [sp]: 1 } }),
        "BAD_STATE",
      );
    }
    // A resumed thread is not stopped either; suspended again, it is.
    const { thread, token } = await k.suspendedThread();
    await k.ok("handle_close", { handle: token });
    expectMxErr(await mxRead(k, thread, 0), "BAD_STATE");
    await k.ok("task_suspend", { handle: thread });
    expectMxOk(await mxRead(k, thread, 0));
  });

  Deno.test(`${arch}: write len must be exactly sizeof (too small and too large: INVALID_ARGS)`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    await mxWriteOk(k, thread, mxPattern(arch, 5, 3));
    const size = MX_SIZE[arch];
    for (const len of [0, 1, 8, size - 8, size - 1, size + 1, size + 8, ZX_SIZE[arch], 4096]) {
      const bytes = new Uint8Array(len);
      bytes.set(mxPattern(arch, 9).subarray(0, Math.min(len, size)));
      await rejectedMxWrite(k, thread, 0, bytes, "INVALID_ARGS");
      await rejectedMxWrite(k, thread, 0, bytes, "INVALID_ARGS", { len });
    }
    // The kind is checked before the length.
    await rejectedMxWrite(k, thread, 1, new Uint8Array(size - 1), "INVALID_ARGS");
    expectMxOk(await mxWrite(k, thread, 0, mxPattern(arch), { len: size }));
  });

  Deno.test(`${arch}: read len smaller than sizeof: MX_ERR_BUFFER_TOO_SMALL with actual; larger is fine`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const size = MX_SIZE[arch];
    for (const len of [0, 1, 8, size - 1]) {
      const r = await mxRead(k, thread, 0, { len });
      expectMxErr(r, "BUFFER_TOO_SMALL");
      assert.equal(r.body.actual, size);
      assert.equal(r.body.buffer, undefined);
    }
    const exact = await mxReadBytes(k, thread);
    for (const len of [size, size + 1, ZX_SIZE[arch], 4096]) {
      const r = await mxRead(k, thread, 0, { len });
      expectMxOk(r);
      assert.equal(r.body.actual, size);
      assert.deepEqual(Uint8Array.fromBase64(r.body.buffer), exact);
    }
    // The kind is checked before the length: REGSET1 with len 0 is INVALID_ARGS.
    const r = await mxRead(k, thread, 1, { len: 0 });
    expectMxErr(r, "INVALID_ARGS");
    assert.equal(r.body.actual, undefined);
  });
}

// ---------------------------------------------------------------------------
// Values

Deno.test("x64: mx rflags takes only the user bits 0x244DD5", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  let current = 0x200n;
  for (const v of [0xffff_ffff_ffff_ffffn, 0n, 0x244ed7n, 0x3202n, 0x40000n]) {
    const b = mxPattern("x64", 2, 5);
    setU64(b, X_RFLAGS, v);
    await mxWriteOk(k, thread, b);
    current = (current & ~0x244dd5n) | (v & 0x244dd5n);
    const back = await mxReadBytes(k, thread);
    assert.equal(u64(back, X_RFLAGS), current, `rflags ${hex64(v)}`);
    assert.deepEqual(back.subarray(0, X_RFLAGS), b.subarray(0, X_RFLAGS));
  }
  // Spot values: all ones -> (0x200 & ~0x244DD5) | 0x244DD5.
  const k2 = await newKernel("x64");
  const { thread: t2 } = await k2.suspendedThread();
  const b = mxPattern("x64");
  setU64(b, X_RFLAGS, 0xffff_ffff_ffff_ffffn);
  await mxWriteOk(k2, t2, b);
  assert.equal(u64(await mxReadBytes(k2, t2), X_RFLAGS), 0x244fd5n);
  setU64(b, X_RFLAGS, 0n);
  await mxWriteOk(k2, t2, b);
  assert.equal(u64(await zxGeneral(k2, t2), X_RFLAGS), 0x200n);
});

Deno.test("x64: mx has no rip check for a thread stopped between instructions; zx rejects", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  for (
    const rip of [0xffff_ff80_0000_0000n, 1n << 47n, 0xffff_8000_0000_0000n, 0x0807_0605_0403_0201n]
  ) {
    // /v1/zx refuses it ...
    const zx = new Uint8Array(160);
    zx.set(await zxGeneral(k, thread));
    setU64(zx, X_RIP, rip);
    const before = await snapshot(k, thread);
    expectErr(
      await k.call("thread_write_state", { handle: thread, kind: 0, buffer: zx.toBase64() }),
      "INVALID_ARGS",
    );
    assert.deepEqual(await snapshot(k, thread), before);
    // ... /v1/mx takes it (Magenta only guarded SYSRET, for threads stopped in a syscall).
    const mx = mxPattern("x64", 4, 7);
    setU64(mx, X_RIP, rip);
    await mxWriteOk(k, thread, mx);
    assert.equal(u64(await mxReadBytes(k, thread), X_RIP), rip);
    assert.equal(u64(await zxGeneral(k, thread), X_RIP), rip);
  }
  // Named too.
  expectMxOk(
    await k.mx("thread_write_state", {
      handle: thread,
      kind: "MX_THREAD_STATE_REGSET0",
      regs: { rip: "0xffffff8000000000", rax: 1 },
    }),
  );
  const back = await mxReadBytes(k, thread);
  assert.equal(u64(back, X_RIP), 0xffff_ff80_0000_0000n);
  assert.equal(u64(back, X_RAX), 1n);
});

/**
 * A thread of the bootstrap process, driven by its own token, blocked in
 * object_wait_one, then suspended: stopped inside a syscall.
 */
async function threadInSyscall(k: TestKernel) {
  const thread = await k.newThread(k.handles.process, "blocked");
  const minted = await send(k.fetcher, `/v1/kernels/${k.id}/tokens`, { thread }, k.token);
  assert.equal(minted.http, 201, JSON.stringify(minted.body));
  const pending = k.call(
    "object_wait_one",
    { handle: k.handles.root_job, signals: "ZX_TASK_TERMINATED" },
    minted.body.token,
  );
  for (let i = 0;; i++) {
    const info = await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_THREAD" });
    if (info.info.state === 0x0603) break; // ZX_THREAD_STATE_BLOCKED_WAIT_ONE
    assert.ok(i < 1000, "the thread never blocked");
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const { token } = await k.ok("task_suspend", { handle: thread });
  const finish = async () => {
    // Deleting the kernel kills the thread, which ends its blocked call.
    const gone = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "DELETE");
    assert.equal(gone.http, 204);
    await pending;
  };
  return { thread, token, finish };
}

Deno.test("x64: mx refuses rip >= 1<<47 for a thread stopped inside a syscall (SYSRET guard)", async () => {
  const k = await newKernel("x64");
  const { thread, finish } = await threadInSyscall(k);
  try {
    for (const rip of [1n << 47n, 0xffff_ff80_0000_0000n, 0xffff_ffff_ffff_ffffn]) {
      const b = mxPattern("x64", 6, 3);
      setU64(b, X_RIP, rip);
      await rejectedMxWrite(k, thread, 0, b, "INVALID_ARGS");
    }
    const ok = mxPattern("x64", 6, 3);
    setU64(ok, X_RIP, 0x7fff_ffff_ffffn);
    await mxWriteOk(k, thread, ok);
    assert.equal(u64(await mxReadBytes(k, thread), X_RIP), 0x7fff_ffff_ffffn);
  } finally {
    await finish();
  }
});

Deno.test("arm64: mx has no pc check, also inside a syscall", async () => {
  const k = await newKernel("arm64");
  const { thread, finish } = await threadInSyscall(k);
  try {
    for (const pc of [0xffff_ff80_0000_0000n, 1n << 63n, 0x0807_0605_0403_0201n]) {
      const b = mxPattern("arm64", 8, 5);
      setU64(b, A_PC, pc);
      await mxWriteOk(k, thread, b);
      assert.deepEqual(await mxReadBytes(k, thread), b);
    }
  } finally {
    await finish();
  }
});

Deno.test("arm64: mx cpsr takes and shows only NZCV", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  const cases: Array<[bigint, bigint]> = [
    [0xffff_ffffn, 0xf000_0000n],
    [0xffff_ffff_0fff_ffffn, 0n],
    [0x6000_03c5n, 0x6000_0000n],
    [0xffff_ffff_ffff_ffffn, 0xf000_0000n],
  ];
  for (const [v, want] of cases) {
    const b = mxPattern("arm64", 3, 3);
    setU64(b, A_CPSR, v);
    await mxWriteOk(k, thread, b);
    const expected = b.slice();
    setU64(expected, A_CPSR, want);
    assert.deepEqual(await mxReadBytes(k, thread), expected, `cpsr ${hex64(v)}`);
    assert.equal(u64(await zxGeneral(k, thread), A_CPSR), want);
  }
  // lr / sp / pc: verbatim.
  const b = await mxReadBytes(k, thread);
  assert.equal(u64(b, A_LR), u64(mxPattern("arm64", 3, 3), A_LR));
  assert.equal(u64(b, A_SP), u64(mxPattern("arm64", 3, 3), A_SP));
});

// ---------------------------------------------------------------------------
// Named registers on /v1/mx, and the MX_ spelling

for (const arch of ARCHES) {
  Deno.test(`${arch}: mx named regs: Magenta's names only, same rules`, async () => {
    const k = await newKernel(arch);
    const thread = await threadWithTls(k);
    const before = await zxGeneral(k, thread);
    const sp = arch === "x64" ? "rsp" : "sp";
    expectMxOk(
      await k.mx("thread_write_state", { handle: thread, kind: 0, regs: { [sp]: "0x3000" } }),
    );
    const after = await zxGeneral(k, thread);
    const expected = before.slice();
    setU64(expected, arch === "x64" ? X_RSP : A_SP, 0x3000n);
    assert.deepEqual(after, expected);
    // The modern-only registers are unknown names on this ABI.
    const modernOnly = arch === "x64" ? ["fs_base", "gs_base"] : ["tpidr"];
    for (const name of modernOnly) {
      const r = await k.mx("thread_write_state", { handle: thread, kind: 0, regs: { [name]: 1 } });
      expectMxErr(r, "INVALID_ARGS");
      assert.ok(r.body.message.includes(name), r.body.message);
    }
    expectMxErr(
      await k.mx("thread_write_state", { handle: thread, kind: 0, regs: { bogus: 1 } }),
      "INVALID_ARGS",
    );
    expectMxErr(
      await k.mx("thread_write_state", { handle: thread, kind: 1, regs: { [sp]: 1 } }),
      "INVALID_ARGS",
    );
    expectMxErr(
      await k.mx("thread_write_state", {
        handle: thread,
        kind: 0,
        regs: { [sp]: 1 },
        buffer: mxPattern(arch).toBase64(),
      }),
      "INVALID_ARGS",
    );
    assert.deepEqual(await zxGeneral(k, thread), expected);
    // Masking applies to names as to buffers.
    const flags = arch === "x64" ? { rflags: "0xffffffffffffffff" } : { cpsr: "0xffffffff" };
    expectMxOk(await k.mx("thread_write_state", { handle: thread, kind: 0, regs: flags }));
    const back = await mxReadBytes(k, thread);
    if (arch === "x64") assert.equal(u64(back, X_RFLAGS), 0x244fd5n);
    else assert.equal(u64(back, A_CPSR), 0xf0000000n);
  });

  Deno.test(`${arch}: every mx reply is spelled MX_OK / MX_ERR_* with negative codes`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const running = await k.runningThread();
    const replies: Reply[] = [
      await mxRead(k, thread, 0),
      await mxWrite(k, thread, 0, mxPattern(arch)),
      await mxRead(k, 0, 0),
      await mxRead(k, k.handles.process, 0),
      await mxRead(k, thread, 3),
      await mxRead(k, thread, 0, { len: 1 }),
      await mxRead(k, running, 0),
      await mxWrite(k, thread, 0, new Uint8Array(1)),
      await mxWrite(k, await duplicate(k, thread, ["ZX_RIGHT_READ"]), 0, mxPattern(arch)),
    ];
    for (const r of replies) {
      if (r.body.code === 0) {
        assert.equal(r.body.status, "MX_OK");
      } else {
        assert.match(r.body.status, /^MX_ERR_[A-Z_]+$/);
        assert.ok(r.body.code < 0);
        assert.ok(r.http >= 400);
      }
      assert.ok(!JSON.stringify(r.body).includes("ZX_OK"));
      assert.ok(!JSON.stringify(r.body).includes("ZX_ERR"));
    }
    assert.deepEqual(
      replies.map((r) => r.body.status),
      [
        "MX_OK",
        "MX_OK",
        "MX_ERR_BAD_HANDLE",
        "MX_ERR_WRONG_TYPE",
        "MX_ERR_INVALID_ARGS",
        "MX_ERR_BUFFER_TOO_SMALL",
        "MX_ERR_BAD_STATE",
        "MX_ERR_INVALID_ARGS",
        "MX_ERR_ACCESS_DENIED",
      ],
    );
  });
}
