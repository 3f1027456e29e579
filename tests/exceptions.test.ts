// Exceptions over HTTP: a program stops in a breakpoint or a fault, a
// handler reads the exception from its channel, looks at and changes the
// thread, and answers by closing the exception (HANDLED, TRY_NEXT,
// THREAD_EXIT). Handlers are tried in Zircon's order.

import assert from "node:assert/strict";
import { type LoadedProgram, startProgram } from "../client/loader.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { ARCHES } from "./helpers.ts";
import { load, returnCode, session, terminated } from "./program_helpers.ts";
import { receive } from "./exception_helpers.ts";

const EXCP = { SW_BREAKPOINT: 0x308, FATAL_PAGE_FAULT: 0x108, THREAD_STARTING: 0x8008 };
const EXCP_THREAD_EXITING = 0x8108;
const EXCP_PROCESS_STARTING = 0x8308;
const CHANNEL_TYPE = { DEBUGGER: 1, THREAD: 2, PROCESS: 3, JOB: 4, JOB_DEBUGGER: 5 };
const STATE = { TRY_NEXT: 0, HANDLED: 1, THREAD_EXIT: 2 };
const BLOCKED_EXCEPTION = 0x103;

async function answer(k: KernelSession, exception: number, state: number): Promise<void> {
  if (state !== STATE.TRY_NEXT) {
    await k.zx.object_set_property({
      handle: exception,
      property: "ZX_PROP_EXCEPTION_STATE",
      u32: state,
    });
  }
  await k.zx.handle_close({ handle: exception });
}

// deno-lint-ignore no-explicit-any
async function threadInfo(k: KernelSession, thread: number): Promise<any> {
  return (await k.zx.object_get_info({ handle: thread, topic: "ZX_INFO_THREAD" })).info;
}

async function koid(k: KernelSession, handle: number): Promise<number> {
  // deno-lint-ignore no-explicit-any
  const { info } = await k.zx.object_get_info({ handle, topic: "ZX_INFO_HANDLE_BASIC" }) as any;
  return Number(BigInt(info.koid));
}

/** A fault program, loaded but not started, with a channel on its process (or `options`). */
async function armed(
  k: KernelSession,
  name: string,
  options: number | string = 0,
): Promise<{ program: LoadedProgram; channel: number }> {
  const program = await load(k, name, { start: false });
  const { out: channel } = await k.zx.task_create_exception_channel({
    handle: program.process,
    options,
  });
  return { program, channel: channel as number };
}

for (const arch of ARCHES) {
  const pcName = arch === "x64" ? "rip" : "pc";

  Deno.test(`[${arch}] a breakpoint stops the thread; a handler resumes it past the brk`, async () => {
    const k = await session(arch);
    const { program, channel } = await armed(k, "fault_breakpoint");
    await startProgram(k, program);
    const got = await receive(k, channel);
    assert.equal(got.type, EXCP.SW_BREAKPOINT);
    assert.equal(got.pid, await koid(k, program.process));
    assert.equal(got.tid, await koid(k, program.thread));
    // The thread is stopped in the exception, held by a process channel.
    const info = await threadInfo(k, program.thread);
    assert.equal(info.state, BLOCKED_EXCEPTION);
    assert.equal(info.wait_exception_channel_type, CHANNEL_TYPE.PROCESS);
    // The report: x64 #BP is vector 3; arm64 brk #0 is ESR 0xF2000000.
    const report = await k.zx.object_get_info({
      handle: program.thread,
      topic: "ZX_INFO_THREAD_EXCEPTION_REPORT",
    });
    // deno-lint-ignore no-explicit-any
    const r = report.info as any;
    assert.equal(r.header.size, 40);
    assert.equal(r.header.type, EXCP.SW_BREAKPOINT);
    if (arch === "x64") assert.equal(BigInt(r.context.arch.vector), 3n);
    else assert.equal(r.context.arch.esr, 0xf2000000);
    // The handler gets the thread through the exception and reads its registers.
    const { out: thread } = await k.zx.exception_get_thread({ handle: got.exception });
    const { regs } = await k.zx.thread_read_state({
      handle: thread,
      kind: "ZX_THREAD_STATE_GENERAL_REGS",
    });
    // deno-lint-ignore no-explicit-any
    const pc = BigInt((regs as any)[pcName]);
    // x64: int3 is a trap, rip is already past it; arm64: pc is at the brk, step over it.
    assert.equal(pc, program.entry + (arch === "x64" ? 1n : 0n));
    if (arch === "arm64") {
      await k.zx.thread_write_state({
        handle: thread,
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        regs: { pc: `0x${(pc + 4n).toString(16)}` },
      });
    }
    await answer(k, got.exception, STATE.HANDLED);
    // The answer was the close: that exception handle is gone.
    const gone = await k.zx.exception_get_thread({ handle: got.exception }).catch((e) => e);
    assert.equal(gone.statusName, "ZX_ERR_BAD_HANDLE");
    await terminated(k, program.process);
    // Past its fault, a fault program exits with 1.
    assert.equal(await returnCode(k, program.process), 1);
  });

  Deno.test(`[${arch}] TRY_NEXT with no other handler kills the process`, async () => {
    const k = await session(arch);
    const { program, channel } = await armed(k, "fault_read");
    await startProgram(k, program);
    const got = await receive(k, channel);
    assert.equal(got.type, EXCP.FATAL_PAGE_FAULT);
    const report = await k.zx.object_get_info({
      handle: program.thread,
      topic: "ZX_INFO_THREAD_EXCEPTION_REPORT",
    });
    // deno-lint-ignore no-explicit-any
    const arch_ = (report.info as any).context.arch;
    if (arch === "x64") {
      assert.equal(BigInt(arch_.vector), 14n);
      assert.equal(BigInt(arch_.err_code), 4n, "user read of a page that is not present");
      assert.equal(BigInt(arch_.cr2), 0x10n);
    } else {
      assert.equal(arch_.esr, 0x92000007, "data abort, translation fault level 3, read");
      assert.equal(BigInt(arch_.far), 0x10n);
    }
    await answer(k, got.exception, STATE.TRY_NEXT);
    await terminated(k, program.process);
    assert.equal(await returnCode(k, program.process), -1028);
  });

  Deno.test(`[${arch}] THREAD_EXIT ends only the thread`, async () => {
    const k = await session(arch);
    const { program, channel } = await armed(k, "fault_undefined");
    await startProgram(k, program);
    const got = await receive(k, channel);
    await answer(k, got.exception, STATE.THREAD_EXIT);
    await terminated(k, program.thread);
    // Its process had no other thread: it exits with 0, not killed (-1028).
    await terminated(k, program.process);
    assert.equal(await returnCode(k, program.process), 0);
  });

  Deno.test(`[${arch}] handlers in order: debugger, thread, process, debugger again, jobs`, async () => {
    const k = await session(arch);
    const { out: job } = await k.zx.job_create({ parent_job: k.handles!.root_job });
    const program = await load(k, "fault_undefined", { start: false, job: job as number });
    const channels: [number, number][] = [];
    const bind = async (handle: number, options: number, type: number) => {
      const { out } = await k.zx.task_create_exception_channel({ handle, options });
      channels.push([out as number, type]);
    };
    await bind(program.process, 1, CHANNEL_TYPE.DEBUGGER);
    await bind(program.thread, 0, CHANNEL_TYPE.THREAD);
    await bind(program.process, 0, CHANNEL_TYPE.PROCESS);
    await bind(job as number, 0, CHANNEL_TYPE.JOB);
    await bind(k.handles!.root_job, 0, CHANNEL_TYPE.JOB);
    await startProgram(k, program);
    // A debugger first hears the thread start (a single shot: its answer does not matter).
    const starting = await receive(k, channels[0][0]);
    assert.equal(starting.type, EXCP.THREAD_STARTING);
    await answer(k, starting.exception, STATE.HANDLED);
    const seen: number[] = [];
    let secondChance = false;
    for (const [channel, type] of channels) {
      const got = await receive(k, channel);
      seen.push((await threadInfo(k, program.thread)).wait_exception_channel_type);
      assert.equal(seen.at(-1), type);
      if (type === CHANNEL_TYPE.DEBUGGER && !secondChance) {
        // The debugger asks to see it again after the process's handler.
        await k.zx.object_set_property({
          handle: got.exception,
          property: "ZX_PROP_EXCEPTION_STRATEGY",
          u32: 1,
        });
        secondChance = true;
      }
      // A thread channel's exception does not reach the process.
      if (type === CHANNEL_TYPE.THREAD) {
        const denied = await k.zx.exception_get_process({ handle: got.exception }).catch((e) => e);
        assert.equal(denied.statusName, "ZX_ERR_ACCESS_DENIED");
      }
      await answer(k, got.exception, STATE.TRY_NEXT);
      if (type === CHANNEL_TYPE.PROCESS) {
        // Second chance: the debugger channel again, before the jobs.
        const again = await receive(k, channels[0][0]);
        assert.equal(
          (await threadInfo(k, program.thread)).wait_exception_channel_type,
          CHANNEL_TYPE.DEBUGGER,
        );
        await answer(k, again.exception, STATE.TRY_NEXT);
      }
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 4]);
    await terminated(k, program.process);
    assert.equal(await returnCode(k, program.process), -1028);
  });

  Deno.test(`[${arch}] a debugger sees the process and its thread start, and exit`, async () => {
    const k = await session(arch);
    const { out: job } = await k.zx.job_create({ parent_job: k.handles!.root_job });
    const { out: jobDebugger } = await k.zx.task_create_exception_channel({
      handle: job as number,
      options: "ZX_EXCEPTION_CHANNEL_DEBUGGER",
    });
    const program = await load(k, "loop", { start: false, job: job as number });
    const { out: debuggerChannel } = await k.zx.task_create_exception_channel({
      handle: program.process,
      options: "ZX_EXCEPTION_CHANNEL_DEBUGGER",
    });
    await startProgram(k, program);
    const starting = await receive(k, jobDebugger as number);
    assert.equal(starting.type, EXCP_PROCESS_STARTING);
    await answer(k, starting.exception, STATE.TRY_NEXT);
    const threadStart = await receive(k, debuggerChannel as number);
    assert.equal(threadStart.type, EXCP.THREAD_STARTING);
    // Stopped before its first instruction, start registers readable.
    const { regs } = await k.zx.thread_read_state({
      handle: program.thread,
      kind: "ZX_THREAD_STATE_GENERAL_REGS",
    });
    // deno-lint-ignore no-explicit-any
    assert.equal(BigInt((regs as any)[pcName]), program.entry);
    await answer(k, threadStart.exception, STATE.TRY_NEXT);
    // The loop program exits through zx_process_exit: its thread is killed, and the
    // debugger still hears THREAD_EXITING (without the thread waiting for the answer).
    const exiting = await receive(k, debuggerChannel as number);
    assert.equal(exiting.type, EXCP_THREAD_EXITING);
    await terminated(k, program.process);
    assert.equal(await returnCode(k, program.process), 20);
    // The debugger channel's peer went with the process.
    const closed = await k.zx.object_wait_one({
      handle: debuggerChannel as number,
      signals: ["ZX_CHANNEL_PEER_CLOSED"],
      deadline: 0,
    });
    assert.ok(closed.observed & (1 << 2));
  });

  Deno.test(`[${arch}] closing the channel with the message unread moves on`, async () => {
    const k = await session(arch);
    const { program, channel } = await armed(k, "fault_breakpoint", 1);
    const { out: processChannel } = await k.zx.task_create_exception_channel({
      handle: program.process,
    });
    await startProgram(k, program);
    const starting = await receive(k, channel);
    assert.equal(starting.type, EXCP.THREAD_STARTING);
    await answer(k, starting.exception, STATE.TRY_NEXT);
    // The breakpoint's message waits in the debugger's channel: closing it unread moves on.
    await k.zx.object_wait_one({
      handle: channel,
      signals: ["ZX_CHANNEL_READABLE"],
      deadline: "ZX_TIME_INFINITE",
    });
    await k.zx.handle_close({ handle: channel });
    const got = await receive(k, processChannel as number);
    assert.equal(got.type, EXCP.SW_BREAKPOINT);
    await answer(k, got.exception, STATE.TRY_NEXT);
    await terminated(k, program.process);
  });
}

Deno.test("task_create_exception_channel: checks in Zircon's order", async () => {
  const k = await session("x64");
  const program = await load(k, "fault_breakpoint", { start: false });
  const fail = async (args: Record<string, unknown>, status: string) => {
    // deno-lint-ignore no-explicit-any
    const error = await k.zx.task_create_exception_channel(args as any).catch((e) => e);
    assert.equal(error.statusName, `ZX_ERR_${status}`, JSON.stringify(args));
  };
  await fail({ handle: 0x7fff_fff3, options: 2 }, "INVALID_ARGS"); // options before the handle
  await fail({ handle: 0x7fff_fff3 }, "BAD_HANDLE");
  // Rights before type: a VMO handle lacking MANAGE_THREAD is ACCESS_DENIED.
  await fail({ handle: program.mappings[0].vmo }, "ACCESS_DENIED");
  await fail({ handle: program.thread, options: 1 }, "INVALID_ARGS"); // threads have no debugger
  const { out: noEnumerate } = await k.zx.handle_duplicate({
    handle: program.process,
    rights: [
      "ZX_RIGHT_INSPECT",
      "ZX_RIGHT_DUPLICATE",
      "ZX_RIGHT_TRANSFER",
      "ZX_RIGHT_MANAGE_THREAD",
    ],
  });
  await fail({ handle: noEnumerate }, "ACCESS_DENIED");
  const { out: channel } = await k.zx.task_create_exception_channel({ handle: program.process });
  await fail({ handle: program.process }, "ALREADY_BOUND");
  // A closed channel is replaced.
  await k.zx.handle_close({ handle: channel });
  await k.zx.task_create_exception_channel({ handle: program.process });
  // A dead task's slot is BAD_STATE.
  await k.zx.task_kill({ handle: program.process });
  await fail({ handle: program.process, options: 1 }, "BAD_STATE");
});

Deno.test("ZX_INFO_THREAD_EXCEPTION_REPORT outside an exception is BAD_STATE", async () => {
  const k = await session("arm64");
  const program = await load(k, "spin");
  const error = await k.zx.object_get_info({
    handle: program.thread,
    topic: "ZX_INFO_THREAD_EXCEPTION_REPORT",
  }).catch((e) => e);
  assert.equal(error.statusName, "ZX_ERR_BAD_STATE");
  await k.zx.task_kill({ handle: program.process });
});
