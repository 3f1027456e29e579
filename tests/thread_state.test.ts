// zx_thread_read_state / zx_thread_write_state through the HTTP surface
// (/v1/zx), on both architectures: the order of checks, the struct sizes,
// the start registers, byte-exact round trips with every masking rule,
// rejected writes changing nothing, and named `regs` writes.
//
// Expectations follow Zircon's kernel sources (2022-2023) and its own core
// tests (threads.cc, register-set.cc).

import assert from "node:assert/strict";
import {
  ARCHES,
  expectErr,
  inProcess,
  type Json,
  newKernel,
  type Reply,
  TestKernel,
} from "./helpers.ts";

type Arch = (typeof ARCHES)[number];

// ---------------------------------------------------------------------------
// Constants (written out from the headers on purpose)

const GENERAL = 0, FP = 1, VECTOR = 2, DEBUG = 4, SINGLE_STEP = 5;
const KINDS = [GENERAL, FP, VECTOR, DEBUG, SINGLE_STEP] as const;

const SIZES: Record<Arch, Record<number, number>> = {
  x64: { [GENERAL]: 160, [FP]: 160, [VECTOR]: 2120, [DEBUG]: 48, [SINGLE_STEP]: 4 },
  arm64: { [GENERAL]: 280, [FP]: 4, [VECTOR]: 520, [DEBUG]: 528, [SINGLE_STEP]: 4 },
};

// x64 zx_thread_state_general_regs_t offsets.
const X = {
  RAX: 0,
  RBX: 8,
  RCX: 16,
  RDX: 24,
  RSI: 32,
  RDI: 40,
  RBP: 48,
  RSP: 56,
  R8: 64,
  R15: 120,
  RIP: 128,
  RFLAGS: 136,
  FS_BASE: 144,
  GS_BASE: 152,
} as const;
// x64 fp / vector / debug offsets.
const X_FP_RESERVED = 5, X_FP_PADDING = 24;
const X_MXCSR = 2112, X_OPMASK = 2048;
const zmm = (i: number, lane: number) => 64 * i + 8 * lane;
const X_DR = (i: number) => 8 * i, X_DR6 = 32, X_DR7 = 40;

// arm64 offsets.
const A = { LR: 240, SP: 248, PC: 256, CPSR: 264, TPIDR: 272 } as const;
const A_R = (i: number) => 8 * i;
const A_BCR = (i: number) => 16 * i, A_BVR = (i: number) => 16 * i + 8;
const A_WCR = (i: number) => 256 + 16 * i, A_WVR = (i: number) => 256 + 16 * i + 8;
const A_FAR = 512, A_ESR = 520, A_BPS_COUNT = 524, A_WPS_COUNT = 525;

const X86_FLAGS_USER = 0x244dd5n;

// ---------------------------------------------------------------------------
// Helpers

function expectOk(reply: Reply): void {
  assert.equal(reply.body.status, "ZX_OK", JSON.stringify(reply.body));
  assert.equal(reply.body.code, 0);
  assert.equal(reply.http, 200);
}

function readReq(k: TestKernel, handle: number, kind: number, extra: Json = {}): Promise<Reply> {
  return k.call("thread_read_state", { handle, kind, ...extra });
}

async function readState(
  k: TestKernel,
  handle: number,
  kind: number,
  extra: Json = {},
): Promise<Uint8Array> {
  const body = await k.ok("thread_read_state", { handle, kind, ...extra });
  return Uint8Array.fromBase64(body.buffer);
}

function writeReq(
  k: TestKernel,
  handle: number,
  kind: number,
  bytes: Uint8Array,
  extra: Json = {},
): Promise<Reply> {
  return k.call("thread_write_state", { handle, kind, buffer: bytes.toBase64(), ...extra });
}

async function writeOk(k: TestKernel, handle: number, kind: number, bytes: Uint8Array) {
  expectOk(await writeReq(k, handle, kind, bytes));
}

/** Every readable regset of the thread (arm64 FP_REGS is not readable). */
async function snapshot(k: TestKernel, thread: number): Promise<Record<number, Uint8Array>> {
  const out: Record<number, Uint8Array> = {};
  for (const kind of KINDS) {
    if (k.arch === "arm64" && kind === FP) continue;
    out[kind] = await readState(k, thread, kind);
  }
  return out;
}

/** Does a write that must fail with `suffix`, and proves that nothing changed. */
async function rejectedWrite(
  k: TestKernel,
  thread: number,
  kind: number,
  bytes: Uint8Array,
  suffix = "INVALID_ARGS",
  extra: Json = {},
): Promise<Reply> {
  const before = await snapshot(k, thread);
  const reply = await writeReq(k, thread, kind, bytes, extra);
  expectErr(reply, suffix);
  assert.deepEqual(
    await snapshot(k, thread),
    before,
    `kind ${kind}: a rejected write changed state`,
  );
  return reply;
}

function u64(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}
function setU64(b: Uint8Array, off: number, v: bigint): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(off, BigInt.asUintN(64, v), true);
}
function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}
function setU32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(off, v >>> 0, true);
}
function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  setU32(b, 0, v);
  return b;
}
const hex64 = (v: bigint) => "0x" + BigInt.asUintN(64, v).toString(16).padStart(16, "0");

/** The core-test byte pattern: byte[i] = (i + 1) & 0xff. */
function bytePattern(size: number, seed = 1, step = 1): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * step + seed) & 0xff;
  return b;
}

/** general_regs_fill_test_values (core tests §1a / §1g). */
function coreGeneral(arch: Arch): Uint8Array {
  if (arch === "x64") {
    const b = bytePattern(160);
    setU64(b, X.RIP, 0n);
    setU64(b, X.RFLAGS, 0x244ed7n);
    setU64(b, X.FS_BASE, 0n);
    setU64(b, X.GS_BASE, 0n);
    return b;
  }
  const b = bytePattern(280);
  setU64(b, A.CPSR, 0xf0000000n);
  setU64(b, A.TPIDR, 0n);
  return b;
}

/** Another valid general-register image, different in every register from coreGeneral. */
function otherGeneral(arch: Arch): Uint8Array {
  const b = bytePattern(SIZES[arch][GENERAL], 0x37, 7);
  if (arch === "x64") {
    setU64(b, X.RIP, 0x1234_5678n);
    setU64(b, X.RFLAGS, 0x8c5n); // CF PF SF DF OF
    setU64(b, X.FS_BASE, 0x7000_0000n);
    setU64(b, X.GS_BASE, 0xffff_8000_0000_1000n);
  } else {
    setU64(b, A.CPSR, 0x60000000n);
  }
  return b;
}

/** A valid x64 vector image: pattern with a legal mxcsr. */
function x64Vector(seed = 1): Uint8Array {
  const b = bytePattern(2120, seed);
  setU32(b, X_MXCSR, 0x1f80 | (seed & 0x3f));
  return b;
}

/** A thread with non-trivial state in every regset, so that "nothing changed" means something. */
async function primedThread(k: TestKernel): Promise<number> {
  const { thread } = await k.suspendedThread("0x1000000", "0x2000000", 7, 9);
  await writeOk(k, thread, GENERAL, coreGeneral(k.arch as Arch));
  if (k.arch === "x64") {
    await writeOk(k, thread, FP, bytePattern(160, 3));
    await writeOk(k, thread, VECTOR, x64Vector(5));
    const dbg = new Uint8Array(48);
    setU64(dbg, X_DR(0), 0x200000n);
    setU64(dbg, X_DR(1), 0x300000n);
    setU64(dbg, X_DR(3), 0x7fff_ffff_e000n);
    setU64(dbg, X_DR7, 0x33n);
    await writeOk(k, thread, DEBUG, dbg);
  } else {
    await writeOk(k, thread, VECTOR, bytePattern(520, 5));
    const dbg = new Uint8Array(528);
    setU32(dbg, A_BCR(0), 1);
    setU64(dbg, A_BVR(0), 0x200000n);
    setU32(dbg, A_WCR(1), 0x1f9);
    setU64(dbg, A_WVR(1), 0x400000n);
    await writeOk(k, thread, DEBUG, dbg);
  }
  await writeOk(k, thread, SINGLE_STEP, u32Bytes(1));
  return thread;
}

async function duplicate(k: TestKernel, handle: number, rights: number | string | string[]) {
  return (await k.ok("handle_duplicate", { handle, rights })).out as number;
}

/** A process handle with no rights at all (handle_replace down to 0). */
async function rightlessProcess(k: TestKernel): Promise<number> {
  const dup = await duplicate(k, k.handles.process, "ZX_RIGHT_SAME_RIGHTS");
  return (await k.ok("handle_replace", { handle: dup, rights: 0 })).out as number;
}

/** A handle value that was valid once and has been closed (ids are never reused). */
async function closedHandle(k: TestKernel, thread: number): Promise<number> {
  const dup = await duplicate(k, thread, ["ZX_RIGHT_SAME_RIGHTS"]);
  await k.ok("handle_close", { handle: dup });
  return dup;
}

// ---------------------------------------------------------------------------
// Order of checks

for (const arch of ARCHES) {
  Deno.test(`${arch}: write gate off: kind & 4 is NOT_SUPPORTED before the handle is looked up`, async () => {
    const k = await newKernel(arch, false);
    const { thread, token } = await k.suspendedThread();
    const running = await k.runningThread();
    const processNoRights = await rightlessProcess(k);
    const noWrite = await duplicate(k, thread, ["ZX_RIGHT_READ"]);
    for (const kind of [4, 5, 6, 7, 12, 0xffff_ffff]) {
      // A bad handle, no buffer at all: every later check would fail too.
      expectErr(await k.call("thread_write_state", { handle: 0, kind }), "NOT_SUPPORTED");
      expectErr(
        await k.call("thread_write_state", { handle: 0, kind, buffer: "", buffer_size: 0 }),
        "NOT_SUPPORTED",
      );
      // Wrong type, missing rights, running thread, suspend token: still the gate.
      for (const handle of [processNoRights, noWrite, running, token]) {
        expectErr(await k.call("thread_write_state", { handle, kind }), "NOT_SUPPORTED");
      }
    }
    // Perfectly valid debug-register and single-step writes are refused too, changing nothing.
    const before = await snapshot(k, thread);
    expectErr(
      await writeReq(k, thread, DEBUG, new Uint8Array(SIZES[arch][DEBUG])),
      "NOT_SUPPORTED",
    );
    expectErr(await writeReq(k, thread, SINGLE_STEP, u32Bytes(1)), "NOT_SUPPORTED");
    expectErr(
      await k.call("thread_write_state", {
        handle: thread,
        kind: SINGLE_STEP,
        regs: { value: 1 },
      }),
      "NOT_SUPPORTED",
    );
    assert.deepEqual(await snapshot(k, thread), before);
    assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
  });

  Deno.test(`${arch}: write gate off: reads are never gated, writes without bit 2 still work`, async () => {
    const k = await newKernel(arch, false);
    const { thread } = await k.suspendedThread();
    // Reads of DEBUG_REGS / SINGLE_STEP work.
    assert.equal((await readState(k, thread, DEBUG)).length, SIZES[arch][DEBUG]);
    assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
    // Reads of kinds with bit 2 set go through the normal checks, not the gate.
    expectErr(await readReq(k, 0, 6), "BAD_HANDLE");
    expectErr(await readReq(k, thread, 6), "INVALID_ARGS");
    expectErr(await readReq(k, thread, 12), "INVALID_ARGS");
    // Kind 3 and 8 have no bit 2: INVALID_ARGS, not NOT_SUPPORTED.
    expectErr(await k.call("thread_write_state", { handle: thread, kind: 3 }), "INVALID_ARGS");
    expectErr(await k.call("thread_write_state", { handle: 0, kind: 8 }), "BAD_HANDLE");
    expectErr(await k.call("thread_write_state", { handle: thread, kind: 8 }), "INVALID_ARGS");
    // GENERAL_REGS and VECTOR_REGS writes work with the gate off.
    const gen = coreGeneral(arch);
    await writeOk(k, thread, GENERAL, gen);
    if (arch === "arm64") {
      assert.deepEqual(await readState(k, thread, GENERAL), gen);
      const vec = bytePattern(520, 9);
      await writeOk(k, thread, VECTOR, vec);
      assert.deepEqual(await readState(k, thread, VECTOR), vec);
    } else {
      assert.equal(u64(await readState(k, thread, GENERAL), X.RAX), 0x0807060504030201n);
      await writeOk(k, thread, VECTOR, x64Vector(9));
      await writeOk(k, thread, FP, bytePattern(160, 2));
    }
  });

  Deno.test(`${arch}: write gate on (default): kind 4 goes on to the handle check`, async () => {
    const k = await TestKernel.create(inProcess(), { arch });
    expectErr(await k.call("thread_write_state", { handle: 0, kind: DEBUG }), "BAD_HANDLE");
    expectErr(await k.call("thread_write_state", { handle: 0, kind: 12 }), "BAD_HANDLE");
  });

  Deno.test(`${arch}: BAD_HANDLE comes before the kind, the size and the state`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const stale = await closedHandle(k, thread);
    for (const handle of [0, stale, 0xffff_ffff]) {
      expectErr(await readReq(k, handle, 3, { buffer_size: 0 }), "BAD_HANDLE");
      expectErr(
        await k.call("thread_write_state", { handle, kind: 3, buffer: "", buffer_size: 0 }),
        "BAD_HANDLE",
      );
      expectErr(await readReq(k, handle, GENERAL), "BAD_HANDLE");
      expectErr(await writeReq(k, handle, GENERAL, coreGeneral(arch)), "BAD_HANDLE");
    }
  });

  Deno.test(`${arch}: WRONG_TYPE comes before ACCESS_DENIED (modern order)`, async () => {
    const k = await newKernel(arch);
    const { token } = await k.suspendedThread();
    const noRights = await rightlessProcess(k);
    // A rights-0 process handle: wrong type AND no rights AND bad kind AND size 0.
    expectErr(await readReq(k, noRights, 3, { buffer_size: 0 }), "WRONG_TYPE");
    expectErr(
      await k.call("thread_write_state", { handle: noRights, kind: 3, buffer: "", buffer_size: 0 }),
      "WRONG_TYPE",
    );
    // Other object types, with their full default rights.
    for (const handle of [k.handles.process, k.handles.root_job, k.handles.vmar, token]) {
      expectErr(await readReq(k, handle, GENERAL), "WRONG_TYPE");
      expectErr(await writeReq(k, handle, GENERAL, coreGeneral(arch)), "WRONG_TYPE");
    }
  });

  Deno.test(`${arch}: ACCESS_DENIED (READ to read, WRITE to write) comes before the kind, size, state`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const { thread } = await k.suspendedThread();
    const runningNoRead = await duplicate(k, running, ["ZX_RIGHT_WRITE", "ZX_RIGHT_DUPLICATE"]);
    const runningNoWrite = await duplicate(k, running, ["ZX_RIGHT_READ", "ZX_RIGHT_DUPLICATE"]);
    const runningNone = await duplicate(k, running, 0);
    // Running thread, kind 3, size 0: the rights check still comes first.
    for (const h of [runningNoRead, runningNone]) {
      expectErr(await readReq(k, h, 3, { buffer_size: 0 }), "ACCESS_DENIED");
    }
    for (const h of [runningNoWrite, runningNone]) {
      expectErr(
        await k.call("thread_write_state", { handle: h, kind: 3, buffer: "", buffer_size: 0 }),
        "ACCESS_DENIED",
      );
    }
    // On a suspended thread with valid arguments.
    const readOnly = await duplicate(k, thread, ["ZX_RIGHT_READ"]);
    const writeOnly = await duplicate(k, thread, ["ZX_RIGHT_WRITE"]);
    const before = await snapshot(k, thread);
    expectErr(await readReq(k, writeOnly, GENERAL), "ACCESS_DENIED");
    expectErr(await writeReq(k, readOnly, GENERAL, coreGeneral(arch)), "ACCESS_DENIED");
    assert.deepEqual(await snapshot(k, thread), before);
    // READ alone is enough to read, WRITE alone to write.
    assert.deepEqual(await readState(k, readOnly, GENERAL), before[GENERAL]);
    await writeOk(k, writeOnly, GENERAL, coreGeneral(arch));
    assert.equal(u64(await readState(k, thread, GENERAL), 0), 0x0807060504030201n);
  });

  Deno.test(`${arch}: unknown kinds are INVALID_ARGS before the size and the state`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const { thread } = await k.suspendedThread();
    for (const kind of [3, 6, 7, 8, 9, 100, 0xffff_ffff]) {
      // Running thread and buffer_size 0: fails the size and the state too.
      expectErr(await readReq(k, running, kind, { buffer_size: 0 }), "INVALID_ARGS");
      expectErr(
        await k.call("thread_write_state", { handle: running, kind, buffer: "", buffer_size: 0 }),
        "INVALID_ARGS",
      );
      // Suspended thread, generous buffer.
      expectErr(await readReq(k, thread, kind, { buffer_size: 4096 }), "INVALID_ARGS");
      await rejectedWrite(k, thread, kind, new Uint8Array(4096));
    }
  });

  Deno.test(`${arch}: BUFFER_TOO_SMALL before BAD_STATE, for every kind, read and write`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const { thread } = await k.suspendedThread();
    for (const kind of KINDS) {
      const size = SIZES[arch][kind];
      for (const small of [0, 1, size - 1]) {
        if (small >= size) continue;
        expectErr(await readReq(k, running, kind, { buffer_size: small }), "BUFFER_TOO_SMALL");
        expectErr(await readReq(k, thread, kind, { buffer_size: small }), "BUFFER_TOO_SMALL");
        expectErr(await writeReq(k, running, kind, new Uint8Array(small)), "BUFFER_TOO_SMALL");
        await rejectedWrite(k, thread, kind, new Uint8Array(small), "BUFFER_TOO_SMALL");
        // buffer_size decides, even when enough bytes are sent.
        expectErr(
          await writeReq(k, running, kind, new Uint8Array(size), { buffer_size: small }),
          "BUFFER_TOO_SMALL",
        );
        await rejectedWrite(k, thread, kind, new Uint8Array(size), "BUFFER_TOO_SMALL", {
          buffer_size: small,
        });
      }
      // No buffer at all: a size of 0.
      expectErr(await k.call("thread_write_state", { handle: running, kind }), "BUFFER_TOO_SMALL");
    }
  });

  Deno.test(`${arch}: fewer bytes sent than buffer_size >= sizeof is an invalid pointer (before BAD_STATE)`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    const thread = await primedThread(k);
    for (const kind of KINDS) {
      const size = SIZES[arch][kind];
      const short = new Uint8Array(size - 1);
      expectErr(await writeReq(k, running, kind, short, { buffer_size: size }), "INVALID_ARGS");
      await rejectedWrite(k, thread, kind, short, "INVALID_ARGS", { buffer_size: size });
      await rejectedWrite(k, thread, kind, new Uint8Array(0), "INVALID_ARGS", {
        buffer_size: size + 10,
      });
    }
  });

  Deno.test(`${arch}: a running thread is BAD_STATE (409), checked before the value rules`, async () => {
    const k = await newKernel(arch);
    const running = await k.runningThread();
    for (const kind of KINDS) {
      const size = SIZES[arch][kind];
      expectErr(await readReq(k, running, kind), "BAD_STATE");
      expectErr(await readReq(k, running, kind, { buffer_size: size + 100 }), "BAD_STATE");
      expectErr(await writeReq(k, running, kind, new Uint8Array(size)), "BAD_STATE");
    }
    // Writes whose values are also invalid: the state is checked first.
    const badGeneral = coreGeneral(arch);
    const badDebug = new Uint8Array(SIZES[arch][DEBUG]);
    if (arch === "x64") {
      setU64(badGeneral, X.RIP, 0xffff_ff80_0000_0000n);
      setU64(badDebug, X_DR(0), 0xffff_0000_0000n);
      const badVector = x64Vector();
      setU32(badVector, X_MXCSR, 0xffff_ffff);
      expectErr(await writeReq(k, running, VECTOR, badVector), "BAD_STATE");
    } else {
      setU64(badDebug, A_BVR(0), 0xffff_ffff_ffff_ffffn);
    }
    expectErr(await writeReq(k, running, GENERAL, badGeneral), "BAD_STATE");
    expectErr(await writeReq(k, running, DEBUG, badDebug), "BAD_STATE");
    expectErr(await writeReq(k, running, SINGLE_STEP, u32Bytes(2)), "BAD_STATE");
    const sp = arch === "x64" ? "rsp" : "sp";
    expectErr(
      await k.call("thread_write_state", { handle: running, kind: GENERAL, regs: { [sp]: 1 } }),
      "BAD_STATE",
    );
  });

  Deno.test(`${arch}: state access follows suspension: resumed is BAD_STATE, re-suspended works`, async () => {
    const k = await newKernel(arch);
    const { thread, token } = await k.suspendedThread();
    const gen = await readState(k, thread, GENERAL);
    await k.ok("handle_close", { handle: token });
    expectErr(await readReq(k, thread, GENERAL), "BAD_STATE");
    expectErr(await writeReq(k, thread, GENERAL, gen), "BAD_STATE");
    await k.ok("task_suspend", { handle: thread });
    // Meanwhile it may have run its spin loop: the same registers, except that
    // x64 sets rflags bit 1 (always 1 on the CPU) once the thread has run.
    const again = await readState(k, thread, GENERAL);
    if (arch === "x64") {
      assert.equal(u64(again, X.RFLAGS) & ~2n, u64(gen, X.RFLAGS));
      setU64(again, X.RFLAGS, u64(gen, X.RFLAGS));
    }
    assert.deepEqual(again, gen);
    await writeOk(k, thread, GENERAL, gen);
  });

  Deno.test(`${arch}: a NEW thread (never started) is BAD_STATE even when suspended`, async () => {
    const k = await newKernel(arch);
    const fresh = await k.newThread();
    const suspendedNew = await k.newThread();
    await k.ok("task_suspend", { handle: suspendedNew });
    for (const thread of [fresh, suspendedNew]) {
      for (const kind of KINDS) {
        const size = SIZES[arch][kind];
        expectErr(await readReq(k, thread, kind), "BAD_STATE");
        expectErr(await writeReq(k, thread, kind, new Uint8Array(size)), "BAD_STATE");
      }
    }
  });

  Deno.test(`${arch}: a dead thread is BAD_STATE`, async () => {
    const k = await newKernel(arch);
    const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
    const thread = await k.newThread(proc_handle);
    await k.ok("task_suspend", { handle: thread });
    await k.ok("thread_start", { handle: thread, thread_entry: "0x1000000", stack: "0x2000000" });
    await readState(k, thread, GENERAL);
    await k.ok("task_kill", { handle: proc_handle });
    expectErr(await readReq(k, thread, GENERAL), "BAD_STATE");
    expectErr(await writeReq(k, thread, GENERAL, coreGeneral(arch)), "BAD_STATE");
  });

  Deno.test(`${arch}: larger buffers: read returns exactly sizeof, write ignores extra bytes sent`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    for (const kind of KINDS) {
      if (arch === "arm64" && kind === FP) continue;
      const size = SIZES[arch][kind];
      const exact = await readState(k, thread, kind);
      assert.equal(exact.length, size);
      for (const bigger of [size + 1, 4096, 1 << 20]) {
        const body = await k.ok("thread_read_state", { handle: thread, kind, buffer_size: bigger });
        assert.deepEqual(Uint8Array.fromBase64(body.buffer), exact);
      }
    }
    // Write: the struct followed by garbage; only sizeof bytes count.
    const gen = coreGeneral(arch);
    const tail = new Uint8Array(gen.length + 37).fill(0xee);
    tail.set(gen);
    await writeOk(k, thread, GENERAL, tail);
    const expected = gen.slice();
    if (arch === "x64") setU64(expected, X.RFLAGS, 0x244ed5n); // see the round-trip test
    assert.deepEqual(await readState(k, thread, GENERAL), expected);
    // Single step with 5 bytes (core test WritingSingleStepState).
    const five = new Uint8Array([1, 0, 0, 0, 0xff]);
    await writeOk(k, thread, SINGLE_STEP, five);
    assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 1);
    // An explicit buffer_size larger than sizeof: fine when the bytes sent
    // cover it (the pointer is valid for all of it); only sizeof bytes count.
    const other = otherGeneral(arch);
    const page = new Uint8Array(4096).fill(0xee);
    page.set(other);
    expectOk(await writeReq(k, thread, GENERAL, page, { buffer_size: 4096 }));
    assert.equal(u64(await readState(k, thread, GENERAL), 8), u64(other, 8));
    const step = Uint8Array.of(0, 0, 0, 0, 0xff);
    expectOk(await writeReq(k, thread, SINGLE_STEP, step, { buffer_size: 5 }));
    assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
    // buffer_size larger than the bytes sent is an invalid pointer, even with
    // sizeof bytes sent: INVALID_ARGS, and nothing changes.
    const invalid = await rejectedWrite(k, thread, GENERAL, coreGeneral(arch), "INVALID_ARGS", {
      buffer_size: 4096,
    });
    assert.match(invalid.body.message, /invalid pointer/);
    await rejectedWrite(k, thread, SINGLE_STEP, u32Bytes(1), "INVALID_ARGS", { buffer_size: 5 });
  });

  Deno.test(`${arch}: mx: len larger than the bytes sent is an invalid pointer, more sent is len !== sizeof`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const size = SIZES[arch][GENERAL] - (arch === "x64" ? 16 : 8); // REGSET0: no fs/gs_base, tpidr
    const mxWrite = (bytes: Uint8Array, len?: number) =>
      k.mx("thread_write_state", {
        handle: thread,
        kind: 0,
        buffer: bytes.toBase64(),
        ...(len === undefined ? {} : { len }),
      });
    const regset = Uint8Array.fromBase64(
      (await k.ok("thread_read_state", { handle: thread, kind: 0 }, k.token, "mx")).buffer,
    );
    assert.equal(regset.length, size);
    const before = await snapshot(k, thread);
    // Exactly sizeof sent, len larger: the copy from user memory fails.
    const short = await mxWrite(regset, size + 8);
    expectErr(short, "INVALID_ARGS", "MX");
    assert.match(short.body.message, /invalid pointer/);
    // The bytes cover len: the copy works, then Magenta wants len == sizeof.
    const padded = new Uint8Array(size + 8);
    padded.set(regset);
    const long = await mxWrite(padded, size + 8);
    expectErr(long, "INVALID_ARGS", "MX");
    assert.match(long.body.message, new RegExp(`exactly the ${size}-byte`));
    assert.deepEqual(await snapshot(k, thread), before);
    // More bytes than len: len decides, the rest is never read.
    const ok = await mxWrite(padded, size);
    assert.equal(ok.body.status, "MX_OK", JSON.stringify(ok.body));
    assert.equal(ok.http, 200);
  });

  Deno.test(`${arch}: sizes of every kind`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    for (const kind of KINDS) {
      const size = SIZES[arch][kind];
      expectErr(await readReq(k, thread, kind, { buffer_size: size - 1 }), "BUFFER_TOO_SMALL");
      if (arch === "arm64" && kind === FP) {
        // sizeof is 4: 3 is too small, 4 reaches the arch (which has no FP_REGS).
        expectErr(await readReq(k, thread, kind, { buffer_size: size }), "NOT_SUPPORTED");
        continue;
      }
      const body = await k.ok("thread_read_state", { handle: thread, kind, buffer_size: size });
      assert.equal(Uint8Array.fromBase64(body.buffer).length, size, `kind ${kind}`);
      // Same by name.
      const names = ["GENERAL_REGS", "FP_REGS", "VECTOR_REGS", "", "DEBUG_REGS", "SINGLE_STEP"];
      const named = await k.ok("thread_read_state", {
        handle: thread,
        kind: `ZX_THREAD_STATE_${names[kind]}`,
      });
      assert.equal(named.buffer, body.buffer);
    }
  });
}

// ---------------------------------------------------------------------------
// Start registers and the named view

Deno.test("x64: start registers: rip, rsp, rdi=arg1, rsi=arg2, rflags 0x200, all else 0", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread(
    "0x1000000",
    "0x2000000",
    "0x1111222233334444",
    "0x5555666677778888",
  );
  const expected = new Uint8Array(160);
  setU64(expected, X.RIP, 0x1000000n);
  setU64(expected, X.RSP, 0x2000000n);
  setU64(expected, X.RDI, 0x1111222233334444n);
  setU64(expected, X.RSI, 0x5555666677778888n);
  setU64(expected, X.RFLAGS, 0x200n);
  const body = await k.ok("thread_read_state", { handle: thread, kind: GENERAL });
  assert.deepEqual(Uint8Array.fromBase64(body.buffer), expected);
  assert.deepEqual(body.regs, {
    rax: hex64(0n),
    rbx: hex64(0n),
    rcx: hex64(0n),
    rdx: hex64(0n),
    rsi: "0x5555666677778888",
    rdi: "0x1111222233334444",
    rbp: hex64(0n),
    rsp: "0x0000000002000000",
    r8: hex64(0n),
    r9: hex64(0n),
    r10: hex64(0n),
    r11: hex64(0n),
    r12: hex64(0n),
    r13: hex64(0n),
    r14: hex64(0n),
    r15: hex64(0n),
    rip: "0x0000000001000000",
    rflags: "0x0000000000000200",
    fs_base: hex64(0n),
    gs_base: hex64(0n),
  });
  // Not single-stepping; no debug registers set.
  assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
  const dbg = await readState(k, thread, DEBUG);
  for (let i = 0; i < 4; i++) assert.equal(u64(dbg, X_DR(i)), 0n);
});

Deno.test("arm64: start registers: pc, sp, r[0]=arg1, r[1]=arg2, cpsr 0, tpidr 0, all else 0", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread(
    "0x1000000",
    "0x2000000",
    "0x1111222233334444",
    "0x5555666677778888",
  );
  const expected = new Uint8Array(280);
  setU64(expected, A.PC, 0x1000000n);
  setU64(expected, A.SP, 0x2000000n);
  setU64(expected, A_R(0), 0x1111222233334444n);
  setU64(expected, A_R(1), 0x5555666677778888n);
  const body = await k.ok("thread_read_state", { handle: thread, kind: GENERAL });
  assert.deepEqual(Uint8Array.fromBase64(body.buffer), expected);
  const r = Array.from({ length: 30 }, () => hex64(0n));
  r[0] = "0x1111222233334444";
  r[1] = "0x5555666677778888";
  assert.deepEqual(body.regs, {
    r,
    lr: hex64(0n),
    sp: "0x0000000002000000",
    pc: "0x0000000001000000",
    cpsr: hex64(0n),
    tpidr: hex64(0n),
  });
  assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
});

// ---------------------------------------------------------------------------
// x64 round trips and value rules

Deno.test("x64: general regs round trip with the core-test pattern", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  const written = coreGeneral("x64");
  await writeOk(k, thread, GENERAL, written);
  // Every byte comes back, except rflags: 0x244ED7 was written and 0x244ED5
  // is read. Only the user bits 0x244DD5 are taken from the write; the others
  // keep their value. This thread has never run, so its rflags was 0x200 (IF
  // only): IF stays set, and bit 1 (reserved, "always 1") is not
  // user-writable and was 0 -- the CPU sets it only once the thread runs.
  // (0x200 & ~0x244DD5) | (0x244ED7 & 0x244DD5) = 0x244ED5.
  const expected = written.slice();
  setU64(expected, X.RFLAGS, 0x244ed5n);
  const body = await k.ok("thread_read_state", { handle: thread, kind: GENERAL });
  assert.deepEqual(Uint8Array.fromBase64(body.buffer), expected);
  assert.equal(body.regs.rflags, "0x0000000000244ed5");
  assert.equal(body.regs.rax, "0x0807060504030201");
  assert.equal(body.regs.rsp, "0x403f3e3d3c3b3a39"); // non-canonical rsp is not checked
  assert.equal(body.regs.r15, "0x807f7e7d7c7b7a79");
  // Writing it again changes nothing.
  await writeOk(k, thread, GENERAL, written);
  assert.deepEqual(await readState(k, thread, GENERAL), expected);
});

Deno.test("x64: rflags takes only the user bits 0x244DD5, silently", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  let current = 0x200n; // a started thread that has not run
  const cases = [
    0xffff_ffff_ffff_ffffn,
    0n,
    0x244ed7n,
    0x2n,
    0x40000n, // AC
    0x3000n, // IOPL: not user-writable
    0xffff_ffff_0000_0000n,
    0x100n, // TF
    0x10000n, // RF: not user-writable
  ];
  for (const v of cases) {
    const gen = await readState(k, thread, GENERAL);
    const written = gen.slice();
    setU64(written, X.RFLAGS, v);
    setU64(written, X.RBX, v ^ 0x5a5an); // something else changes too
    await writeOk(k, thread, GENERAL, written);
    current = (current & ~X86_FLAGS_USER) | (v & X86_FLAGS_USER);
    const expected = written.slice();
    setU64(expected, X.RFLAGS, current);
    assert.deepEqual(await readState(k, thread, GENERAL), expected, `rflags ${hex64(v)}`);
  }
  // The first case, computed by hand: (0x200 & ~0x244DD5) | 0x244DD5.
  assert.equal((0x200n & ~X86_FLAGS_USER) | (0xffff_ffff_ffff_ffffn & X86_FLAGS_USER), 0x244fd5n);
  const k2 = await newKernel("x64");
  const { thread: t2 } = await k2.suspendedThread();
  const g = await readState(k2, t2, GENERAL);
  setU64(g, X.RFLAGS, 0xffff_ffff_ffff_ffffn);
  await writeOk(k2, t2, GENERAL, g);
  assert.equal(u64(await readState(k2, t2, GENERAL), X.RFLAGS), 0x244fd5n);
  // Clearing everything keeps IF (not user-writable).
  setU64(g, X.RFLAGS, 0n);
  await writeOk(k2, t2, GENERAL, g);
  assert.equal(u64(await readState(k2, t2, GENERAL), X.RFLAGS), 0x200n);
});

Deno.test("x64: rip must be a canonical user address; rejected writes change nothing", async () => {
  const k = await newKernel("x64");
  const thread = await primedThread(k);
  for (
    const rip of [
      1n << 47n,
      0xffff_ff80_0000_0000n,
      0xffff_8000_0000_0000n,
      0xffff_ffff_ffff_ffffn,
      0x0807_0605_0403_0201n,
      1n << 63n,
    ]
  ) {
    const bad = otherGeneral("x64");
    setU64(bad, X.RIP, rip);
    await rejectedWrite(k, thread, GENERAL, bad);
  }
  for (const rip of [0x7fff_ffff_ffffn, 0n, 0x1000n, 0x1000000n]) {
    const good = otherGeneral("x64");
    setU64(good, X.RIP, rip);
    await writeOk(k, thread, GENERAL, good);
    assert.equal(u64(await readState(k, thread, GENERAL), X.RIP), rip);
  }
});

Deno.test("x64: fs_base and gs_base must be canonical (either half)", async () => {
  const k = await newKernel("x64");
  const thread = await primedThread(k);
  for (const field of [X.FS_BASE, X.GS_BASE]) {
    for (
      const v of [0x0000_8000_0000_0000n, 0x0807_0605_0403_0201n, 0xfffe_8000_0000_0000n, 1n << 63n]
    ) {
      const bad = otherGeneral("x64");
      setU64(bad, field, v);
      await rejectedWrite(k, thread, GENERAL, bad);
    }
    for (
      const v of [0xffff_8000_0000_0000n, 0x7fff_ffff_ffffn, 0xffff_ffff_ffff_ffffn, 0n, 0x1234n]
    ) {
      const good = otherGeneral("x64");
      setU64(good, field, v);
      await writeOk(k, thread, GENERAL, good);
      const back = await readState(k, thread, GENERAL);
      assert.equal(u64(back, field), v);
      assert.deepEqual(back.subarray(0, X.RFLAGS), good.subarray(0, X.RFLAGS));
    }
  }
});

Deno.test("x64: fp regs round trip; the reserved byte and the padding read 0", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  const written = bytePattern(160);
  await writeOk(k, thread, FP, written);
  const expected = written.slice();
  expected[X_FP_RESERVED] = 0;
  expected.fill(0, X_FP_PADDING, X_FP_PADDING + 8);
  const body = await k.ok("thread_read_state", { handle: thread, kind: FP });
  assert.deepEqual(Uint8Array.fromBase64(body.buffer), expected);
  assert.equal(body.regs.fcw, 0x0201);
  assert.equal(body.regs.st[7].high, "0xa09f9e9d9c9b9a99"); // bytes 153..160
});

Deno.test("x64: vector regs round trip: zmm0-15 v[0..3] and mxcsr kept, AVX-512 parts ignored", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  const written = bytePattern(2120);
  setU32(written, X_MXCSR, 0xffbf);
  await writeOk(k, thread, VECTOR, written);
  // What the kernel keeps: xmm/ymm 0-15 (v[0..3]) and mxcsr. zmm[0..15].v[4..7],
  // zmm[16..31] and opmask are ignored on write and read as 0; padding is 0.
  const expected = new Uint8Array(2120);
  for (let i = 0; i < 16; i++) expected.set(written.subarray(zmm(i, 0), zmm(i, 4)), zmm(i, 0));
  setU32(expected, X_MXCSR, 0xffbf);
  const back = await readState(k, thread, VECTOR);
  assert.deepEqual(back, expected);
  for (let i = 0; i < 16; i++) {
    for (let lane = 4; lane < 8; lane++) assert.equal(u64(back, zmm(i, lane)), 0n);
  }
  for (let i = 16; i < 32; i++) {
    for (let lane = 0; lane < 8; lane++) assert.equal(u64(back, zmm(i, lane)), 0n);
  }
  for (let i = 0; i < 8; i++) assert.equal(u64(back, X_OPMASK + 8 * i), 0n);

  // WritingVectorRegisterState_UnsupportedFieldsIgnored: all-ones in the
  // unsupported parts is not an error and still reads 0.
  const ones = new Uint8Array(2120);
  for (let i = 0; i < 16; i++) {
    setU64(ones, zmm(i, 0), BigInt(i));
    setU64(ones, zmm(i, 1), BigInt(i) << 8n);
    for (let lane = 5; lane < 8; lane++) setU64(ones, zmm(i, lane), 0xffff_ffff_ffff_ffffn);
  }
  for (let i = 16; i < 32; i++) {
    for (let lane = 0; lane < 8; lane++) setU64(ones, zmm(i, lane), 0xffff_ffff_ffff_ffffn);
  }
  ones.fill(0xff, X_OPMASK, X_OPMASK + 64);
  setU32(ones, X_MXCSR, 0x1f80);
  await writeOk(k, thread, VECTOR, ones);
  const back2 = await readState(k, thread, VECTOR);
  const expected2 = new Uint8Array(2120);
  for (let i = 0; i < 16; i++) {
    setU64(expected2, zmm(i, 0), BigInt(i));
    setU64(expected2, zmm(i, 1), BigInt(i) << 8n);
  }
  setU32(expected2, X_MXCSR, 0x1f80);
  assert.deepEqual(back2, expected2);
});

Deno.test("x64: mxcsr outside 0xFFBF is INVALID_ARGS and nothing changes", async () => {
  const k = await newKernel("x64");
  const thread = await primedThread(k);
  // 0x40 is DAZ: outside the default MXCSR_MASK 0xFFBF that decisions.md fixes.
  for (const mxcsr of [0xffff_ffff, 0x1_0000, 0x40, 0x8000_0000]) {
    const bad = x64Vector(11);
    setU32(bad, X_MXCSR, mxcsr);
    await rejectedWrite(k, thread, VECTOR, bad);
  }
  for (const mxcsr of [0xffbf, 0, 0x1f80]) {
    const good = x64Vector(13);
    setU32(good, X_MXCSR, mxcsr);
    await writeOk(k, thread, VECTOR, good);
    const back = await readState(k, thread, VECTOR);
    assert.equal(u32(back, X_MXCSR), mxcsr);
    assert.deepEqual(back.subarray(zmm(3, 0), zmm(3, 4)), good.subarray(zmm(3, 0), zmm(3, 4)));
  }
});

Deno.test("x64: debug regs: dr6 read-only, dr7 masked, dr0-3 zero or user addresses", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  const dbg = (dr: bigint[], dr6: bigint, dr7: bigint) => {
    const b = new Uint8Array(48);
    dr.forEach((v, i) => setU64(b, X_DR(i), v));
    setU64(b, X_DR6, dr6);
    setU64(b, X_DR7, dr7);
    return b;
  };
  // DebugRegistersValidation: all zero -> dr6 0xffff0ff0, dr7 0x700.
  await writeOk(k, thread, DEBUG, new Uint8Array(48));
  assert.deepEqual(await readState(k, thread, DEBUG), dbg([0n, 0n, 0n, 0n], 0xffff0ff0n, 0x700n));
  // WriteReadDebugRegisterState: dr7 0x33 -> 0x733; dr6 0 is ignored.
  const base = 0x200000n;
  await writeOk(k, thread, DEBUG, dbg([base, base + 0x4000n, base + 0x8000n, 0n], 0n, 0x33n));
  assert.deepEqual(
    await readState(k, thread, DEBUG),
    dbg([base, base + 0x4000n, base + 0x8000n, 0n], 0xffff0ff0n, 0x733n),
  );
  // dr6 = ~0xffff0ff0, dr7 = ~0x700 -> dr6 0xffff0ff0, dr7 0xffff07ff.
  await writeOk(
    k,
    thread,
    DEBUG,
    dbg([0n, 0n, 0n, 0n], 0xffff_ffff_0000_f00fn, 0xffff_ffff_ffff_f8ffn),
  );
  const body = await k.ok("thread_read_state", { handle: thread, kind: DEBUG });
  assert.deepEqual(
    Uint8Array.fromBase64(body.buffer),
    dbg([0n, 0n, 0n, 0n], 0xffff0ff0n, 0xffff07ffn),
  );
  assert.deepEqual(body.regs, {
    dr: [hex64(0n), hex64(0n), hex64(0n), hex64(0n)],
    dr6: "0x00000000ffff0ff0",
    dr7: "0x00000000ffff07ff",
  });
  // A full pattern buffer with user addresses: dr6 ignored, dr7 = 0x700 | (v & 0xffff00ff).
  const full = bytePattern(48);
  const addrs = [0x200000n, 0x7fff_ffff_efffn, 0x1234_5678n, 0n];
  addrs.forEach((v, i) => setU64(full, X_DR(i), v));
  await writeOk(k, thread, DEBUG, full);
  const dr7 = 0x700n | (u64(full, X_DR7) & 0xffff00ffn);
  assert.equal(dr7, 0x2c2b0729n);
  assert.deepEqual(await readState(k, thread, DEBUG), dbg(addrs, 0xffff0ff0n, dr7));
});

Deno.test("x64: debug address rules: kernel and below-base addresses rejected, nothing changes", async () => {
  const k = await newKernel("x64");
  const thread = await primedThread(k);
  const bad: Array<[number, bigint]> = [
    [2, 0xffff_0000_0000n], // core test: "kernel address"
    [1, 0x1000n], // below USER_ASPACE_BASE 0x200000
    [0, 0x1f_ffffn],
    [3, 0x7fff_ffff_f000n], // USER_ASPACE end (exclusive): (1<<47) - 4096
    [0, 1n << 47n],
    [1, 0xffff_ffff_ffff_ffffn],
    [2, 0xffff_8000_0000_0000n],
  ];
  for (const [i, v] of bad) {
    const b = new Uint8Array(48);
    setU64(b, X_DR((i + 1) % 4), 0x400000n); // a valid one next to it
    setU64(b, X_DR(i), v);
    setU64(b, X_DR7, 0xffn);
    await rejectedWrite(k, thread, DEBUG, b);
  }
  for (
    const [i, v] of [[0, 0x200000n], [3, 0x7fff_ffff_efffn], [1, 0n]] as Array<[number, bigint]>
  ) {
    const b = new Uint8Array(48);
    setU64(b, X_DR(i), v);
    await writeOk(k, thread, DEBUG, b);
    assert.equal(u64(await readState(k, thread, DEBUG), X_DR(i)), v);
  }
});

// ---------------------------------------------------------------------------
// Single step (both arches)

for (const arch of ARCHES) {
  Deno.test(`${arch}: single step: 0 and 1 only; 5 bytes OK, 3 bytes BUFFER_TOO_SMALL`, async () => {
    const k = await newKernel(arch);
    const thread = await primedThread(k);
    await writeOk(k, thread, SINGLE_STEP, u32Bytes(0));
    assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
    await writeOk(k, thread, SINGLE_STEP, u32Bytes(1));
    const body = await k.ok("thread_read_state", { handle: thread, kind: SINGLE_STEP });
    assert.deepEqual(Uint8Array.fromBase64(body.buffer), u32Bytes(1));
    assert.deepEqual(body.regs, { value: 1 });
    for (const v of [2, 3, 0x100, 0xffff_ffff]) {
      await rejectedWrite(k, thread, SINGLE_STEP, u32Bytes(v));
    }
    expectOk(await writeReq(k, thread, SINGLE_STEP, new Uint8Array([0, 0, 0, 0, 7])));
    assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
    await rejectedWrite(k, thread, SINGLE_STEP, new Uint8Array([1, 0, 0]), "BUFFER_TOO_SMALL");
  });
}

Deno.test("x64: single step is rflags TF (0x100) in GENERAL_REGS", async () => {
  const k = await newKernel("x64");
  const { thread } = await k.suspendedThread();
  await writeOk(k, thread, SINGLE_STEP, u32Bytes(1));
  assert.equal(u64(await readState(k, thread, GENERAL), X.RFLAGS), 0x300n);
  await writeOk(k, thread, SINGLE_STEP, u32Bytes(0));
  assert.equal(u64(await readState(k, thread, GENERAL), X.RFLAGS), 0x200n);
  // And the other way round: TF written through rflags is the single-step state.
  const gen = await readState(k, thread, GENERAL);
  setU64(gen, X.RFLAGS, 0x100n);
  await writeOk(k, thread, GENERAL, gen);
  assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 1);
});

// ---------------------------------------------------------------------------
// arm64 round trips and value rules

Deno.test("arm64: general regs round trip with the core-test pattern (garbage pc accepted)", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  const written = coreGeneral("arm64");
  await writeOk(k, thread, GENERAL, written);
  const body = await k.ok("thread_read_state", { handle: thread, kind: GENERAL });
  assert.deepEqual(Uint8Array.fromBase64(body.buffer), written);
  assert.equal(body.regs.pc, "0x0807060504030201");
  assert.equal(body.regs.sp, "0x00fffefdfcfbfaf9");
  assert.equal(body.regs.lr, "0xf8f7f6f5f4f3f2f1");
  assert.equal(body.regs.r[29], "0xf0efeeedecebeae9");
  assert.equal(body.regs.cpsr, "0x00000000f0000000");
  // tpidr is not validated either.
  const tls = written.slice();
  setU64(tls, A.TPIDR, 0xffff_ffff_ffff_fff0n);
  await writeOk(k, thread, GENERAL, tls);
  assert.deepEqual(await readState(k, thread, GENERAL), tls);
});

Deno.test("arm64: cpsr reads and writes only NZCV", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  const cases: Array<[bigint, bigint]> = [
    [0xffff_ffffn, 0xf000_0000n],
    [0xffff_ffff_0fff_ffffn, 0n],
    [0xffff_ffff_ffff_ffffn, 0xf000_0000n],
    [0x6000_03c5n, 0x6000_0000n], // DAIF + EL bits dropped
    [0n, 0n],
  ];
  for (const [v, want] of cases) {
    const gen = otherGeneral("arm64");
    setU64(gen, A.CPSR, v);
    await writeOk(k, thread, GENERAL, gen);
    const expected = gen.slice();
    setU64(expected, A.CPSR, want);
    assert.deepEqual(await readState(k, thread, GENERAL), expected, `cpsr ${hex64(v)}`);
  }
});

Deno.test("arm64: FP_REGS is NOT_SUPPORTED, after the size and state checks", async () => {
  const k = await newKernel("arm64");
  const thread = await primedThread(k);
  const running = await k.runningThread();
  expectErr(await readReq(k, thread, FP), "NOT_SUPPORTED");
  expectErr(await readReq(k, thread, FP, { buffer_size: 100 }), "NOT_SUPPORTED");
  await rejectedWrite(k, thread, FP, u32Bytes(0), "NOT_SUPPORTED");
  await rejectedWrite(k, thread, FP, new Uint8Array(64), "NOT_SUPPORTED");
  expectErr(await readReq(k, thread, FP, { buffer_size: 3 }), "BUFFER_TOO_SMALL");
  await rejectedWrite(k, thread, FP, new Uint8Array(3), "BUFFER_TOO_SMALL");
  expectErr(await readReq(k, running, FP), "BAD_STATE");
  expectErr(await writeReq(k, running, FP, u32Bytes(0)), "BAD_STATE");
  expectErr(await readReq(k, running, FP, { buffer_size: 3 }), "BUFFER_TOO_SMALL");
});

Deno.test("arm64: vector regs round trip verbatim", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  for (const seed of [1, 0x80]) {
    const written = bytePattern(520, seed);
    await writeOk(k, thread, VECTOR, written);
    const body = await k.ok("thread_read_state", { handle: thread, kind: VECTOR });
    assert.deepEqual(Uint8Array.fromBase64(body.buffer), written);
    assert.equal(body.regs.fpcr, u32(written, 0));
    assert.equal(body.regs.v[31].high, hex64(u64(written, 8 + 31 * 16 + 8)));
  }
  const ones = new Uint8Array(520).fill(0xff);
  await writeOk(k, thread, VECTOR, ones);
  assert.deepEqual(await readState(k, thread, VECTOR), ones);
});

Deno.test("arm64: debug regs: counts, breakpoint and watchpoint control masking", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  const first = await readState(k, thread, DEBUG);
  const bps = first[A_BPS_COUNT], wps = first[A_WPS_COUNT];
  assert.ok(bps >= 2 && bps <= 16, `hw_bps_count ${bps}`);
  assert.ok(wps >= 2 && wps <= 16, `hw_wps_count ${wps}`);
  assert.equal(u64(first, A_FAR), 0n);
  assert.equal(u32(first, A_ESR), 0);

  // DebugRegistersValidation: disabled bp -> 0; enabled -> 0x1e5.
  const w = new Uint8Array(528);
  setU32(w, A_BCR(0), 0xffff_fffe);
  setU32(w, A_BCR(1), 0x1);
  setU64(w, A_BVR(1), 0x20_0000n);
  // WriteReadDebugRegisterState: watchpoints.
  setU32(w, A_WCR(0), 0x1f9);
  setU64(w, A_WVR(0), 0x20_0000n);
  setU32(w, A_WCR(1), 0x1e01);
  setU64(w, A_WVR(1), 0x20_4000n);
  // Disabled watchpoint: its control word is kept as written (arm64_validate_debug_state
  // rewrites only enabled ones); a disabled breakpoint's reads 0.
  setU32(w, A_WCR(2), 0xfffe);
  setU64(w, A_WVR(2), 0x20_8000n);
  // far, esr and the counts are read-only / ignored on write.
  setU64(w, A_FAR, 0x1234_5678n);
  setU32(w, A_ESR, 0x9abc);
  w[A_BPS_COUNT] = 0;
  w[A_WPS_COUNT] = 16;
  await writeOk(k, thread, DEBUG, w);
  const body = await k.ok("thread_read_state", { handle: thread, kind: DEBUG });
  const back = Uint8Array.fromBase64(body.buffer);
  const expected = new Uint8Array(528);
  setU32(expected, A_BCR(1), 0x1e5);
  setU64(expected, A_BVR(1), 0x20_0000n);
  setU32(expected, A_WCR(0), 0x41fd);
  setU64(expected, A_WVR(0), 0x20_0000n);
  setU32(expected, A_WCR(1), 0x5e05);
  setU64(expected, A_WVR(1), 0x20_4000n);
  setU32(expected, A_WCR(2), 0xfffe);
  setU64(expected, A_WVR(2), 0x20_8000n);
  expected[A_BPS_COUNT] = bps;
  expected[A_WPS_COUNT] = wps;
  assert.deepEqual(back, expected);
  assert.equal(body.regs.hw_bps[1].dbgbcr, 0x1e5);
  assert.equal(body.regs.hw_wps[0].dbgwcr, 0x41fd);
  assert.equal(body.regs.hw_wps[1].dbgwcr, 0x5e05);
  assert.equal(body.regs.hw_bps_count, bps);
  assert.equal(body.regs.far, hex64(0n));
  assert.equal(body.regs.esr, 0);
});

Deno.test("arm64: debug regs full-buffer round trip", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  const first = await readState(k, thread, DEBUG);
  const bps = first[A_BPS_COUNT], wps = first[A_WPS_COUNT];
  const w = bytePattern(528);
  // Addresses must be user addresses (or 0) for the entries the CPU has.
  for (let i = 0; i < 16; i++) {
    setU64(w, A_BVR(i), 0x20_0000n + 0x1000n * BigInt(i) + 3n);
    setU64(w, A_WVR(i), 0x40_0000n + 0x1000n * BigInt(i) + 1n);
  }
  // Entries past the CPU's counts are not looked at: a kernel address there is fine.
  setU64(w, A_BVR(15), 0xffff_0000_0000_0000n);
  setU64(w, A_WVR(15), 0xffff_ffff_ffff_ffffn);
  setU32(w, A_BCR(2), 0x1e4); // E clear: disabled
  setU32(w, A_WCR(1), 0x1e00); // E clear: disabled
  await writeOk(k, thread, DEBUG, w);
  const expected = new Uint8Array(528);
  for (let i = 0; i < bps; i++) {
    setU32(expected, A_BCR(i), (u32(w, A_BCR(i)) & 1) !== 0 ? 0x1e5 : 0);
    setU64(expected, A_BVR(i), u64(w, A_BVR(i)) & 0xffff_ffff_fffcn);
  }
  for (let i = 0; i < wps; i++) {
    // Zircon rewrites only enabled watchpoints; a disabled one keeps its
    // control word as written (unlike a disabled breakpoint, which reads 0).
    const wcr = u32(w, A_WCR(i));
    setU32(expected, A_WCR(i), (wcr & 1) !== 0 ? (wcr & 0x1ff9) | 0x4004 : wcr);
    setU64(expected, A_WVR(i), u64(w, A_WVR(i)) & 0xffff_ffff_fffcn);
  }
  expected[A_BPS_COUNT] = bps;
  expected[A_WPS_COUNT] = wps;
  assert.equal(u32(expected, A_BCR(2)), 0);
  assert.equal(u32(expected, A_WCR(1)), 0x1e00);
  assert.equal(u64(expected, A_BVR(0)), 0x20_0000n); // low two bits dropped
  assert.deepEqual(await readState(k, thread, DEBUG), expected);
});

Deno.test("arm64: debug address rules: dbgbvr/dbgwvr 0 or user, else INVALID_ARGS and nothing changes", async () => {
  const k = await newKernel("arm64");
  const thread = await primedThread(k);
  const bad = [
    0xffff_ffff_ffff_ffffn,
    0xffff_0000_0000_0000n,
    0xffff_ff00_0000n, // USER_ASPACE end (exclusive)
    0x1f_ffffn, // below USER_ASPACE_BASE
    0x1000n,
  ];
  for (const v of bad) {
    for (const [ctl, addr] of [[A_BCR(0), A_BVR(0)], [A_WCR(1), A_WVR(1)]]) {
      const b = new Uint8Array(528);
      setU32(b, A_BCR(1), 1);
      setU64(b, A_BVR(1), 0x30_0000n);
      setU32(b, ctl, 1);
      setU64(b, addr, v);
      await rejectedWrite(k, thread, DEBUG, b);
    }
  }
  for (const v of [0n, 0x20_0000n, 0xffff_feff_fffcn]) {
    const b = new Uint8Array(528);
    setU32(b, A_BCR(0), 1);
    setU64(b, A_BVR(0), v);
    await writeOk(k, thread, DEBUG, b);
    assert.equal(u64(await readState(k, thread, DEBUG), A_BVR(0)), v);
  }
});

Deno.test("arm64: single step leaves the visible cpsr alone", async () => {
  const k = await newKernel("arm64");
  const { thread } = await k.suspendedThread();
  const before = await readState(k, thread, GENERAL);
  await writeOk(k, thread, SINGLE_STEP, u32Bytes(1));
  assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 1);
  assert.deepEqual(await readState(k, thread, GENERAL), before);
  await writeOk(k, thread, SINGLE_STEP, u32Bytes(0));
  assert.equal(u32(await readState(k, thread, SINGLE_STEP), 0), 0);
});

// ---------------------------------------------------------------------------
// Named `regs` writes

function namedWrite(k: TestKernel, handle: number, kind: number, regs: Json): Promise<Reply> {
  return k.call("thread_write_state", { handle, kind, regs });
}

for (const arch of ARCHES) {
  Deno.test(`${arch}: named regs write changes only the named fields`, async () => {
    const k = await newKernel(arch);
    const thread = await primedThread(k);
    const before = await snapshot(k, thread);
    const expected = before[GENERAL].slice();
    if (arch === "x64") {
      expectOk(await namedWrite(k, thread, GENERAL, { rax: "0x2a", r15: 7, rsp: "1234" }));
      setU64(expected, X.RAX, 0x2an);
      setU64(expected, X.R15, 7n);
      setU64(expected, X.RSP, 1234n);
    } else {
      expectOk(await namedWrite(k, thread, GENERAL, { "r[3]": "0x2a", lr: 7, r: [null, "0x11"] }));
      setU64(expected, A_R(3), 0x2an);
      setU64(expected, A_R(1), 0x11n);
      setU64(expected, A.LR, 7n);
    }
    const after = await snapshot(k, thread);
    assert.deepEqual(after[GENERAL], expected);
    for (const kind of KINDS) {
      if (kind !== GENERAL && after[kind]) assert.deepEqual(after[kind], before[kind]);
    }
    // An empty set of names changes nothing and succeeds.
    expectOk(await namedWrite(k, thread, GENERAL, {}));
    assert.deepEqual(await snapshot(k, thread), after);
  });

  Deno.test(`${arch}: named regs: unknown field, out of range, bad type -> INVALID_ARGS, nothing changes`, async () => {
    const k = await newKernel(arch);
    const thread = await primedThread(k);
    const before = await snapshot(k, thread);
    const first = arch === "x64" ? "rax" : "lr";
    const cases: Array<[number, Json, string]> = [
      [GENERAL, { [first]: 1, bogus: 2 }, "bogus"],
      [GENERAL, { [first]: "0x10000000000000000" }, first],
      [GENERAL, { [first]: "-0x8000000000000001" }, first],
      [GENERAL, { [first]: 1.5 }, first],
      [GENERAL, { [first]: "twelve" }, first],
      [GENERAL, { [first]: true }, first],
      [SINGLE_STEP, { value: "0x100000000" }, "value"],
      [SINGLE_STEP, { step: 1 }, "step"],
      [VECTOR, { padding1: 0 }, "padding1"],
    ];
    if (arch === "arm64") {
      cases.push([GENERAL, { r: Array(31).fill(0) }, "r"]);
      cases.push([GENERAL, { "r[30]": 0 }, "r[30]"]);
      cases.push([GENERAL, { rip: 0 }, "rip"]);
      cases.push([DEBUG, { "hw_bps[0].dbgbcr": "0x100000000" }, "hw_bps[0].dbgbcr"]);
      cases.push([DEBUG, { "hw_bps[0].padding1": 0 }, "padding1"]);
      cases.splice(cases.findIndex((c) => c[0] === VECTOR), 1); // arm64 vector has no padding
      cases.push([VECTOR, { fpcr: "0x100000000" }, "fpcr"]);
    } else {
      cases.push([GENERAL, { pc: 0 }, "pc"]);
      cases.push([VECTOR, { "zmm[32].v[0]": 0 }, "zmm[32]"]);
      cases.push([VECTOR, { mxcsr: "0x100000000" }, "mxcsr"]);
      cases.push([FP, { fcw: 0x10000 }, "fcw"]);
    }
    for (const [kind, regs, name] of cases) {
      const reply = await namedWrite(k, thread, kind, regs);
      expectErr(reply, "INVALID_ARGS");
      assert.ok(reply.body.message.includes(name), `${reply.body.message} should name ${name}`);
    }
    assert.deepEqual(await snapshot(k, thread), before);
  });

  Deno.test(`${arch}: named regs: the value rules apply`, async () => {
    const k = await newKernel(arch);
    const thread = await primedThread(k);
    if (arch === "x64") {
      const before = await snapshot(k, thread);
      for (
        const regs of [
          { rip: "0xffff800000000000", rax: 1 },
          { rip: "0x0000800000000000" },
          { fs_base: "0x0000800000000000" },
          { gs_base: "0x0000800000000000", rbx: 3 },
        ]
      ) {
        expectErr(await namedWrite(k, thread, GENERAL, regs), "INVALID_ARGS");
      }
      expectErr(await namedWrite(k, thread, VECTOR, { mxcsr: "0xffffffff" }), "INVALID_ARGS");
      expectErr(await namedWrite(k, thread, DEBUG, { dr: [0, "0x1000"] }), "INVALID_ARGS");
      expectErr(await namedWrite(k, thread, SINGLE_STEP, { value: 2 }), "INVALID_ARGS");
      assert.deepEqual(await snapshot(k, thread), before);
      // rflags through a name is masked like a buffer write (it is 0x244FD5 now: the
      // primed 0x244ED5 plus TF from single step 1).
      expectOk(await namedWrite(k, thread, GENERAL, { rflags: "0xffffffffffffffff" }));
      assert.equal(u64(await readState(k, thread, GENERAL), X.RFLAGS), 0x244fd5n);
      expectOk(await namedWrite(k, thread, GENERAL, { rflags: 0 }));
      assert.equal(u64(await readState(k, thread, GENERAL), X.RFLAGS), 0x200n);
      expectOk(await namedWrite(k, thread, DEBUG, { dr7: "0x33", dr6: 0 }));
      const dbg = await readState(k, thread, DEBUG);
      assert.equal(u64(dbg, X_DR7), 0x733n);
      assert.equal(u64(dbg, X_DR6), 0xffff0ff0n);
      assert.equal(u64(dbg, X_DR(0)), 0x200000n); // kept from the primed state
    } else {
      const before = await snapshot(k, thread);
      expectErr(
        await namedWrite(k, thread, DEBUG, { "hw_bps[0].dbgbvr": "0xffffffffffffffff" }),
        "INVALID_ARGS",
      );
      expectErr(await namedWrite(k, thread, SINGLE_STEP, { value: "0xffffffff" }), "INVALID_ARGS");
      assert.deepEqual(await snapshot(k, thread), before);
      expectOk(await namedWrite(k, thread, GENERAL, { cpsr: "0xffffffff" }));
      assert.equal(u64(await readState(k, thread, GENERAL), A.CPSR), 0xf0000000n);
      expectOk(await namedWrite(k, thread, GENERAL, { cpsr: "0xffffffff0fffffff" }));
      assert.equal(u64(await readState(k, thread, GENERAL), A.CPSR), 0n);
      expectOk(await namedWrite(k, thread, DEBUG, { "hw_bps[2].dbgbcr": 1 }));
      assert.equal(u32(await readState(k, thread, DEBUG), A_BCR(2)), 0x1e5);
      // far is read-only: naming it does not change it.
      expectOk(await namedWrite(k, thread, DEBUG, { far: "0x1234" }));
      assert.equal(u64(await readState(k, thread, DEBUG), A_FAR), 0n);
      expectErr(await namedWrite(k, thread, FP, { unused: 0 }), "NOT_SUPPORTED");
    }
  });

  Deno.test(`${arch}: named regs: negative values are two's complement (rax/r[0] = -6)`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const name = arch === "x64" ? "rax" : "r[0]";
    expectOk(await namedWrite(k, thread, GENERAL, { [name]: -6 }));
    const body = await k.ok("thread_read_state", { handle: thread, kind: GENERAL });
    assert.equal(u64(Uint8Array.fromBase64(body.buffer), 0), 0xffff_ffff_ffff_fffan);
    assert.equal(arch === "x64" ? body.regs.rax : body.regs.r[0], "0xfffffffffffffffa");
    expectOk(await namedWrite(k, thread, GENERAL, { [name]: "-0x17" }));
    assert.equal(u64(await readState(k, thread, GENERAL), 0), 0xffff_ffff_ffff_ffe9n);
  });

  Deno.test(`${arch}: named regs: nested and flattened vector names`, async () => {
    const k = await newKernel(arch);
    const { thread } = await k.suspendedThread();
    const before = await readState(k, thread, VECTOR);
    const expected = before.slice();
    if (arch === "x64") {
      expectOk(await namedWrite(k, thread, VECTOR, { "zmm[1].v[0]": "0x1111" }));
      expectOk(await namedWrite(k, thread, VECTOR, { zmm: [null, { v: [null, "0x2222"] }] }));
      expectOk(await namedWrite(k, thread, VECTOR, { "zmm[15].v[3]": 5, mxcsr: 0x1f80 }));
      // Unsupported lanes: accepted by name, ignored like in a buffer.
      expectOk(await namedWrite(k, thread, VECTOR, { "zmm[20].v[0]": 9, "zmm[2].v[7]": 9 }));
      setU64(expected, zmm(1, 0), 0x1111n);
      setU64(expected, zmm(1, 1), 0x2222n);
      setU64(expected, zmm(15, 3), 5n);
      setU32(expected, X_MXCSR, 0x1f80);
      const body = await k.ok("thread_read_state", { handle: thread, kind: VECTOR });
      assert.deepEqual(Uint8Array.fromBase64(body.buffer), expected);
      assert.equal(body.regs.zmm[1].v[0], "0x0000000000001111");
      assert.equal(body.regs.zmm[1].v[1], "0x0000000000002222");
    } else {
      expectOk(await namedWrite(k, thread, VECTOR, { "v[1].low": "0x1111" }));
      expectOk(await namedWrite(k, thread, VECTOR, { v: [null, { high: "0x2222" }], fpsr: 3 }));
      setU64(expected, 8 + 16 + 0, 0x1111n);
      setU64(expected, 8 + 16 + 8, 0x2222n);
      setU32(expected, 4, 3);
      const body = await k.ok("thread_read_state", { handle: thread, kind: VECTOR });
      assert.deepEqual(Uint8Array.fromBase64(body.buffer), expected);
      assert.deepEqual(body.regs.v[1], { low: "0x0000000000001111", high: "0x0000000000002222" });
    }
  });

  Deno.test(`${arch}: named regs: with a buffer too is INVALID_ARGS; on a running thread BAD_STATE`, async () => {
    const k = await newKernel(arch);
    const thread = await primedThread(k);
    const running = await k.runningThread();
    const before = await snapshot(k, thread);
    const reg = arch === "x64" ? "rax" : "lr";
    const both = await k.call("thread_write_state", {
      handle: thread,
      kind: GENERAL,
      buffer: coreGeneral(arch).toBase64(),
      regs: { [reg]: 1 },
    });
    expectErr(both, "INVALID_ARGS");
    assert.deepEqual(await snapshot(k, thread), before);
    expectErr(await namedWrite(k, running, GENERAL, { [reg]: 1 }), "BAD_STATE");
    expectErr(await namedWrite(k, running, SINGLE_STEP, { value: 1 }), "BAD_STATE");
    // The checks before the state still come first for a named write.
    expectErr(await namedWrite(k, 0, GENERAL, { [reg]: 1 }), "BAD_HANDLE");
    expectErr(await namedWrite(k, k.handles.process, GENERAL, { [reg]: 1 }), "WRONG_TYPE");
    const noWrite = await duplicate(k, thread, ["ZX_RIGHT_READ"]);
    expectErr(await namedWrite(k, noWrite, GENERAL, { [reg]: 1 }), "ACCESS_DENIED");
    expectErr(await namedWrite(k, running, 3, { [reg]: 1 }), "INVALID_ARGS");
    assert.deepEqual(await snapshot(k, thread), before);
  });
}
