// The scheduler with running code: a spinning program suspended at an
// instruction boundary and steered with thread_write_state (the seed
// document's point, on a running program); manual kernels that repeat
// themselves byte for byte; POST /v1/kernels/{id}/advance; virtual time.

import assert from "node:assert/strict";
import { startProgram } from "../client/loader.ts";
import { ZxsimClient } from "../client/zxsim.ts";
import { createApp } from "../routes/app.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { ARCHES } from "./helpers.ts";
import { load, programBytes, returnCode, session, symbol, terminated } from "./program_helpers.ts";

/** The watched register and the loop counter of the spin program (spin_loop.S). */
const WATCHED = { x64: "rbx", arm64: "r[19]" } as const;
const COUNTER = { x64: "r12", arm64: "r[20]" } as const;
const PC = { x64: "rip", arm64: "pc" } as const;

type Arch = keyof typeof WATCHED;

async function suspend(k: KernelSession, thread: number): Promise<number> {
  const { token } = await k.zx.task_suspend_token({ handle: thread });
  await k.zx.object_wait_one({
    handle: thread,
    signals: ["ZX_THREAD_SUSPENDED"],
    deadline: "ZX_TIME_INFINITE",
  });
  return token as number;
}

/** A register of the named view: "rbx", or "r[19]" (arm64 x19, an array element). */
// deno-lint-ignore no-explicit-any
function reg(view: any, name: string): bigint {
  const element = /^(\w+)\[(\d+)\]$/.exec(name);
  return BigInt(element ? view[element[1]][Number(element[2])] : view[name]);
}

// deno-lint-ignore no-explicit-any
async function regs(k: KernelSession, thread: number): Promise<any> {
  return (await k.zx.thread_read_state({ handle: thread, kind: "ZX_THREAD_STATE_GENERAL_REGS" }))
    .regs;
}

for (const arch of ARCHES) {
  Deno.test(`[${arch}] a spinning program is suspended in its loop and steered`, async () => {
    const k = await session(arch);
    const bytes = programBytes(arch, "spin");
    const program = await load(k, "spin");
    const loop = symbol(bytes, "spin_loop");
    const done = symbol(bytes, "spin_done");
    // Let it spin until the counter has moved.
    let token = await suspend(k, program.thread);
    for (let i = 0; i < 100 && reg(await regs(k, program.thread), COUNTER[arch]) === 0n; i++) {
      await k.zx.handle_close({ handle: token });
      await new Promise((r) => setTimeout(r, 10));
      token = await suspend(k, program.thread);
    }
    const first = await regs(k, program.thread);
    const pc = BigInt(first[PC[arch]]);
    assert.ok(pc >= loop && pc < done, `pc 0x${pc.toString(16)} inside the loop`);
    assert.ok(reg(first, COUNTER[arch]) > 0n, "the loop has run");
    // Suspended: it does not move.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await regs(k, program.thread), first);
    // The seed's point: a register written while suspended changes what it computes.
    await k.zx.thread_write_state({
      handle: program.thread,
      kind: "ZX_THREAD_STATE_GENERAL_REGS",
      regs: { [WATCHED[arch as Arch]]: 42 },
    });
    await k.zx.handle_close({ handle: token });
    await terminated(k, program.process);
    assert.equal((await k.debuglog()).text, "steered: 42\n");
    assert.equal(await returnCode(k, program.process), 42);
  });

  Deno.test(`[${arch}] x64 rflags shows bit 1 once the thread has run`, async () => {
    if (arch !== "x64") return;
    const k = await session(arch);
    const program = await load(k, "spin", { start: false });
    const { token: early } = await k.zx.task_suspend_token({ handle: program.thread });
    await startProgram(k, program);
    assert.equal(BigInt((await regs(k, program.thread)).rflags), 0x200n, "not run yet");
    await k.zx.handle_close({ handle: early });
    await new Promise((r) => setTimeout(r, 10));
    const token = await suspend(k, program.thread);
    assert.equal(BigInt((await regs(k, program.thread)).rflags) & 0x202n, 0x202n);
    await k.zx.handle_close({ handle: token });
    await k.zx.task_kill({ handle: program.process });
  });

  Deno.test(`[${arch}] manual kernels run only when advanced, and repeat byte for byte`, async () => {
    const snapshot = async () => {
      const k = await session(arch, { scheduler: "manual" });
      const program = await load(k, "spin");
      const idle = await k.advance({ instructions: 0 });
      assert.equal(idle.retired, 0);
      const token = await suspend(k, program.thread); // nothing ran yet: stopped at the entry
      const atEntry = await regs(k, program.thread);
      assert.equal(BigInt(atEntry[PC[arch]]), program.entry);
      await k.zx.handle_close({ handle: token });
      const step = await k.advance({ instructions: 12345 });
      assert.equal(step.retired, 12345);
      assert.equal(step.now, 12345 + idle.now, "1 ns per instruction");
      assert.equal(step.runnable, true);
      const again = await suspend(k, program.thread);
      const { buffer } = await k.zx.thread_read_state({
        handle: program.thread,
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
      });
      const stack = await k.zx.process_read_memory({
        handle: program.process,
        vaddr: Number(program.stack.addr) + program.stack.size - 256,
        buffer_size: 256,
      });
      await k.zx.handle_close({ handle: again });
      return { regs: buffer, stack: stack.buffer, handles: [program.process, program.thread] };
    };
    const a = await snapshot();
    const b = await snapshot();
    assert.deepEqual(a, b);
    assert.ok(a.regs.length > 0 && a.stack.length > 0);
  });

  Deno.test(`[${arch}] a manual kernel runs while a client waits, on virtual time`, async () => {
    const k = await session(arch, { scheduler: "manual" });
    const program = await load(k, "sleep");
    // Three 1 ms sleeps: the clock jumps to each deadline once nothing else can run.
    await terminated(k, program.process);
    assert.equal((await k.debuglog()).text, "slept\n");
    const { time } = await k.zx.clock_get_monotonic();
    assert.ok(BigInt(time) >= 3_000_000n);
    assert.ok(BigInt(time) < 4_000_000n, `virtual time ${time} ns is about 3 ms of sleeping`);
  });

  Deno.test(`[${arch}] advance by time moves the clock and stops there`, async () => {
    const k = await session(arch, { scheduler: "manual" });
    const program = await load(k, "spin");
    const before = await k.advance({ instructions: 0 });
    const after = await k.advance({ time_ns: 100_000 });
    assert.equal(after.now, before.now + 100_000);
    assert.equal(after.retired, 100_000);
    await k.zx.task_kill({ handle: program.process });
    const idle = await k.advance({ time_ns: 5_000 });
    assert.equal(idle.retired, 0);
    assert.equal(idle.runnable, false);
    assert.equal(idle.now, after.now + 5_000, "time still passes with nothing to run");
  });
}

Deno.test("advance: a free kernel is 409 BAD_STATE; bad bodies are 400", async () => {
  const k = await session("x64");
  const free = await k.advance({ instructions: 1 }).catch((e) => e);
  assert.equal(free.statusName, "ZX_ERR_BAD_STATE");
  assert.equal(free.http, 409);
  const manual = await session("x64", { scheduler: "manual" });
  for (const body of [{}, { instructions: -1 }, { time_ns: "soon" }, { steps: 1 }]) {
    // deno-lint-ignore no-explicit-any
    const error = await manual.advance(body as any).catch((e) => e);
    assert.equal(error.http, 400, JSON.stringify(body));
    assert.equal(error.statusName, "ZX_ERR_INVALID_ARGS");
  }
});

Deno.test("debuglog: ?from= reads only newer records; a bad from is 400", async () => {
  const k = await session("x64");
  await k.zx.debug_write({ buffer: btoa("one\n") });
  const first = await k.debuglog();
  assert.equal(first.text, "one\n");
  await k.zx.debug_write({ buffer: btoa("two\n") });
  const newer = await k.debuglog(first.next);
  assert.equal(newer.text, "two\n");
  assert.equal(newer.records.length, 1);
  // deno-lint-ignore no-explicit-any
  assert.equal(newer.records[0].tid, ((await k.summary()) as any).caller.thread);
  const bad = await k.client.request(
    "GET",
    `/v1/kernels/${k.id}/debuglog?from=x`,
    undefined,
    k.token,
  )
    .catch((e) => e);
  assert.equal(bad.http, 400);
  // Zircon prints at most 256 bytes of one zx_debug_write.
  await k.zx.debug_write({ buffer: btoa("y".repeat(300)) });
  assert.equal((await k.debuglog(newer.next)).text, "y".repeat(256));
  // A buffer_size beyond the bytes sent is the invalid-pointer case.
  const short = await k.zx.debug_write({ buffer: btoa("abc"), buffer_size: 4 }).catch((e) => e);
  assert.equal(short.statusName, "ZX_ERR_INVALID_ARGS");
});

Deno.test("nanosleep over HTTP sleeps until the deadline on the kernel's clock", async () => {
  const k = await session("x64");
  const { time } = await k.zx.clock_get_monotonic();
  const deadline = BigInt(time) + 20_000_000n;
  await k.zx.nanosleep({ deadline: `0x${deadline.toString(16)}` });
  assert.ok(BigInt((await k.zx.clock_get_monotonic()).time) >= deadline);
  // A deadline in the past returns at once.
  await k.zx.nanosleep({ deadline: 0 });
});

Deno.test("spinning threads in two kernels both progress, and requests still flow", async () => {
  const kernels = [await session("x64"), await session("arm64")];
  const programs = [await load(kernels[0], "spin"), await load(kernels[1], "spin")];
  // Requests answer while both spin (a generous bound: this is not a benchmark).
  const started = performance.now();
  for (let i = 0; i < 20; i++) await kernels[i % 2].zx.clock_get_monotonic();
  assert.ok(performance.now() - started < 5_000);
  await new Promise((r) => setTimeout(r, 50));
  for (const [i, k] of kernels.entries()) {
    const token = await suspend(k, programs[i].thread);
    const counter = reg(await regs(k, programs[i].thread), COUNTER[k.arch as Arch]);
    assert.ok(counter > 1000n, `kernel ${i} ran (${counter} iterations)`);
    await k.zx.handle_close({ handle: token });
    await k.zx.task_kill({ handle: programs[i].process });
  }
});

Deno.test("deleting a kernel stops its threads", async () => {
  const { app, registry } = createApp();
  const client = new ZxsimClient(
    "http://zxsim",
    async (input, init) => await app.request(input, init),
  );
  const k = await client.createKernel({ arch: "x64" });
  await load(k, "spin");
  const kernel = registry.get(k.id)!;
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(kernel.runner.retired > 0, "it was running");
  await k.delete();
  assert.equal(kernel.alive, false);
  assert.equal(kernel.runner.hasRunnable(), false);
  const retired = kernel.runner.retired;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(kernel.runner.retired, retired, "nothing of it runs any more");
  const gone = await k.zx.clock_get_monotonic().catch((e) => e);
  assert.equal(gone.http, 401);
});
