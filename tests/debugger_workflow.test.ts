// A debugger's whole session over HTTP, on the debuggee program of
// tests/fixtures/debug/ (its source says what it does and prints): stop at
// its software breakpoint, read the exception and the registers, change a
// register, single-step, set a hardware breakpoint and a watchpoint, catch
// each, and see every change in what the program prints and its exit code.
// Then the rules around it: no register access while the thread runs, a
// refused write changes nothing, THREAD_EXITING has no registers, and a
// thread both suspended and in an exception runs only once both are over.

import assert from "node:assert/strict";
import { type LoadedProgram, loadElf, startProgram } from "../client/loader.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { ARCHES } from "./helpers.ts";
import { load, returnCode, session, symbol, terminated } from "./program_helpers.ts";
import { receive } from "./exception_helpers.ts";

const DEBUG_FIXTURES = new URL("./fixtures/debug/", import.meta.url);
const fixture = (arch: string, name: string) =>
  Deno.readFileSync(new URL(`${arch}/${name}.elf`, DEBUG_FIXTURES));

const EXCP = {
  SW_BREAKPOINT: 0x308,
  HW_BREAKPOINT: 0x408,
  THREAD_STARTING: 0x8008,
  THREAD_EXITING: 0x8108,
};
const HANDLED = 1;
const CHANNEL_TYPE_DEBUGGER = 1;
const THREAD_STATE = { SUSPENDED: 0x2, DYING: 0x4, BLOCKED_EXCEPTION: 0x103 };
const GENERAL = "ZX_THREAD_STATE_GENERAL_REGS";
const DEBUG = "ZX_THREAD_STATE_DEBUG_REGS";
const SINGLE_STEP = "ZX_THREAD_STATE_SINGLE_STEP";

// x64 DR6: reserved bits read as ones; B0-B3 which breakpoint hit; BS a single step.
const DR6_RESET = 0xffff0ff0n;
const DR6_BS = 0x4000n;
// arm64 ESR_EL1 of the debug exceptions from EL0 (EC, IL, ISS).
const ESR = {
  BRK0: 0xf2000000, // EC 0x3C brk #0
  STEP: 0xcb000022, // EC 0x32 software step, ISV
  BREAKPOINT: 0xc2000022, // EC 0x30
  WATCHPOINT_WRITE: 0xd2000062, // EC 0x34, WnR
};
/** A kernel address: never a valid user pc or breakpoint address. */
const KERNEL_ADDRESS = "0xffffff8000001000";

// deno-lint-ignore no-explicit-any
type Any = any;

const hex = (value: bigint) => `0x${value.toString(16)}`;

/** Receives the next message and checks its type. */
async function expect(k: KernelSession, channel: number, type: number) {
  const got = await receive(k, channel);
  assert.equal(got.type.toString(16), type.toString(16), "exception type");
  return got;
}

/** The answer: HANDLED, then closing the exception handle. */
async function handled(k: KernelSession, exception: number): Promise<void> {
  await k.zx.object_set_property({
    handle: exception,
    property: "ZX_PROP_EXCEPTION_STATE",
    u32: HANDLED,
  });
  await k.zx.handle_close({ handle: exception });
}

async function koid(k: KernelSession, handle: number): Promise<number> {
  const { info } = await k.zx.object_get_info({ handle, topic: "ZX_INFO_HANDLE_BASIC" }) as Any;
  return Number(BigInt(info.koid));
}

async function threadInfo(k: KernelSession, thread: number): Promise<Any> {
  return (await k.zx.object_get_info({ handle: thread, topic: "ZX_INFO_THREAD" })).info;
}

async function report(k: KernelSession, thread: number): Promise<Any> {
  return (await k.zx.object_get_info({
    handle: thread,
    topic: "ZX_INFO_THREAD_EXCEPTION_REPORT",
  })).info;
}

/** The registers a debugger of `arch` talks about, by the names people use. */
function registers(arch: string) {
  return arch === "x64"
    ? { pc: "rip", watched: "rbx", arg0: "rdi", read: (regs: Any, name: string) => regs[name] }
    : {
      pc: "pc",
      watched: "x19",
      arg0: "x0",
      // Reads answer with Zircon's names: x0..x29 are the array r.
      read: (regs: Any, name: string) =>
        /^x\d+$/.test(name) ? regs.r[Number(name.slice(1))] : regs[name],
    };
}

/** The debuggee's general registers, as bigints by the names of `registers`. */
async function general(k: KernelSession, thread: number) {
  const r = registers(k.arch);
  const { regs, buffer } = await k.zx.thread_read_state({ handle: thread, kind: GENERAL });
  return {
    pc: BigInt(r.read(regs, r.pc)),
    watched: BigInt(r.read(regs, r.watched)),
    arg0: BigInt(r.read(regs, r.arg0)),
    buffer: buffer as string,
  };
}

async function debugRegs(k: KernelSession, thread: number): Promise<Any> {
  return (await k.zx.thread_read_state({ handle: thread, kind: DEBUG })).regs;
}

async function setSingleStep(k: KernelSession, thread: number, on: boolean): Promise<void> {
  await k.zx.thread_write_state({ handle: thread, kind: SINGLE_STEP, regs: { value: on ? 1 : 0 } });
}

/** What the process printed: the debug log records with its koid. */
async function output(k: KernelSession, process: number): Promise<string> {
  const pid = await koid(k, process);
  const { records } = await k.debuglog();
  return records.filter((r) => r.pid === pid).map((r) => r.text).join("");
}

async function statusOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ZX_OK";
  } catch (error) {
    return (error as Any).statusName ?? String(error);
  }
}

/** The debuggee, loaded, a debugger channel on its process, started, stopped in THREAD_STARTING. */
async function attach(k: KernelSession, name = "debuggee") {
  const bytes = fixture(k.arch, name);
  const program = await loadElf(k, bytes, { name, start: false });
  const { out: channel } = await k.zx.task_create_exception_channel({
    handle: program.process,
    options: "ZX_EXCEPTION_CHANNEL_DEBUGGER",
  });
  await startProgram(k, program);
  const starting = await expect(k, channel as number, EXCP.THREAD_STARTING);
  return { bytes, program, channel: channel as number, starting };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const arch of ARCHES) {
  const x64 = arch === "x64";

  Deno.test(`[${arch}] debugger over HTTP: breakpoint, register, single step, hw breakpoint, watchpoint`, async () => {
    const k = await session(arch);
    const { bytes, program, channel, starting } = await attach(k);
    const at = (name: string) => symbol(bytes, name);
    const r = registers(arch);

    // THREAD_STARTING: stopped before its first instruction. Closing lets it go on.
    assert.equal((await general(k, program.thread)).pc, program.entry);
    await k.zx.handle_close({ handle: starting.exception });

    // 1. The software breakpoint.
    const bp = await expect(k, channel, EXCP.SW_BREAKPOINT);
    assert.equal(bp.pid, await koid(k, program.process));
    assert.equal(bp.tid, await koid(k, program.thread));
    const stopped = await threadInfo(k, program.thread);
    assert.equal(stopped.state, THREAD_STATE.BLOCKED_EXCEPTION);
    assert.equal(stopped.wait_exception_channel_type, CHANNEL_TYPE_DEBUGGER);
    const bpReport = await report(k, program.thread);
    assert.equal(bpReport.header.type, EXCP.SW_BREAKPOINT);
    if (x64) assert.equal(BigInt(bpReport.context.arch.vector), 3n, "#BP");
    else assert.equal(bpReport.context.arch.esr, ESR.BRK0);
    // The handler reaches the thread through the exception.
    const { out: thread } = await k.zx.exception_get_thread({ handle: bp.exception });
    assert.equal(await koid(k, thread as number), bp.tid);
    const atBreakpoint = await general(k, thread);
    // x64: int3 is a trap, rip is already past it; arm64: pc is at the brk.
    assert.equal(atBreakpoint.pc, x64 ? at("step_1") : at("sw_breakpoint"));
    assert.equal(atBreakpoint.watched, 5n, `${r.watched} holds the program's 5`);

    // A refused write (a kernel address as pc, or as a breakpoint address) changes nothing.
    const debugBefore = await k.zx.thread_read_state({ handle: thread, kind: DEBUG });
    if (x64) {
      assert.equal(
        await statusOf(k.zx.thread_write_state({
          handle: thread,
          kind: GENERAL,
          regs: { rip: KERNEL_ADDRESS, rbx: 1 },
        })),
        "ZX_ERR_INVALID_ARGS",
      );
      assert.equal(
        await statusOf(k.zx.thread_write_state({
          handle: thread,
          kind: DEBUG,
          regs: { dr0: KERNEL_ADDRESS, dr7: 1 },
        })),
        "ZX_ERR_INVALID_ARGS",
      );
    } else {
      assert.equal(
        await statusOf(k.zx.thread_write_state({
          handle: thread,
          kind: DEBUG,
          regs: { "hw_bps[0].dbgbcr": 1, "hw_bps[0].dbgbvr": KERNEL_ADDRESS },
        })),
        "ZX_ERR_INVALID_ARGS",
      );
    }
    assert.equal((await general(k, thread)).buffer, atBreakpoint.buffer, "general regs unchanged");
    assert.equal(
      (await k.zx.thread_read_state({ handle: thread, kind: DEBUG })).buffer,
      debugBefore.buffer,
      "debug regs unchanged",
    );

    // 2. Change the register (arm64: and step the pc over the brk), read it back.
    await k.zx.thread_write_state({
      handle: thread,
      kind: GENERAL,
      regs: x64 ? { rbx: 42 } : { x19: 42, pc: hex(at("step_1")) },
    });
    const changed = await general(k, thread);
    assert.equal(changed.watched, 42n);
    assert.equal(changed.pc, at("step_1"));

    // 3. Single steps: one HW_BREAKPOINT per instruction.
    await setSingleStep(k, thread, true);
    assert.equal(
      Uint8Array.fromBase64(
        (await k.zx.thread_read_state({ handle: thread, kind: SINGLE_STEP })).buffer as string,
      )[0],
      1,
    );
    await handled(k, bp.exception);
    const checkStep = async (pc: bigint, watched: bigint) => {
      const regs = await general(k, thread);
      assert.equal(hex(regs.pc), hex(pc), "pc advanced by exactly one instruction");
      assert.equal(regs.watched, watched);
      const dbg = await debugRegs(k, thread);
      const rep = await report(k, thread);
      assert.equal(rep.header.type, EXCP.HW_BREAKPOINT);
      if (x64) {
        assert.equal(hex(BigInt(dbg.dr6)), hex(DR6_RESET | DR6_BS), "dr6.BS: a single step");
        assert.equal(BigInt(rep.context.arch.vector), 1n, "#DB");
      } else {
        assert.equal(dbg.esr, ESR.STEP, "ESR EC 0x32: a software step");
        assert.equal(BigInt(dbg.far), 0n);
        assert.equal(rep.context.arch.esr, ESR.STEP);
      }
    };
    const step1 = await expect(k, channel, EXCP.HW_BREAKPOINT);
    await checkStep(at("step_2"), 43n); // add reg, 1
    await handled(k, step1.exception);
    const step2 = await expect(k, channel, EXCP.HW_BREAKPOINT);
    await checkStep(at("step_end"), 86n); // add reg, reg

    // Suspended while in the exception and then answered, it stays stopped
    // (suspended) until the token goes; x64 dr6 reads its reset value again:
    // the kernel cleared BS when the debug exception was handled.
    const { token } = await k.zx.task_suspend({ handle: thread });
    await handled(k, step2.exception);
    assert.equal((await threadInfo(k, thread)).state, THREAD_STATE.SUSPENDED);
    assert.equal((await general(k, thread)).pc, at("step_end"));
    if (x64) assert.equal(hex(BigInt((await debugRegs(k, thread)).dr6)), hex(DR6_RESET));

    // 4. A hardware breakpoint on hw_target and a watchpoint on `watched` (writes, 8 bytes).
    await setSingleStep(k, thread, false);
    const watched = at("watched");
    await k.zx.thread_write_state({
      handle: thread,
      kind: DEBUG,
      regs: x64
        ? {
          dr0: hex(at("hw_target")),
          dr1: hex(watched),
          // L0; L1, R/W1 = 01 (writes), LEN1 = 10 (8 bytes).
          dr7: 1 | (1 << 2) | (0b01 << 20) | (0b10 << 22),
        }
        : {
          "hw_bps[0].dbgbcr": 1,
          "hw_bps[0].dbgbvr": hex(at("hw_target")),
          // E; LSC = 10 (stores); BAS = all 8 bytes.
          "hw_wps[0].dbgwcr": 1 | (0b10 << 3) | (0xff << 5),
          "hw_wps[0].dbgwvr": hex(watched),
        },
    });
    await k.zx.handle_close({ handle: token });

    // The breakpoint: before hw_target's first instruction, its argument the result so far.
    const hw = await expect(k, channel, EXCP.HW_BREAKPOINT);
    const atTarget = await general(k, thread);
    assert.equal(hex(atTarget.pc), hex(at("hw_target")));
    assert.equal(atTarget.arg0, 86n);
    const hwDebug = await debugRegs(k, thread);
    if (x64) {
      assert.equal(hex(BigInt(hwDebug.dr6)), hex(DR6_RESET | 1n), "dr6.B0 alone, no BS");
    } else {
      assert.equal(hwDebug.esr, ESR.BREAKPOINT);
      assert.equal(BigInt(hwDebug.far), 0n);
      assert.equal((await report(k, thread)).context.arch.esr, ESR.BREAKPOINT);
    }
    // Change the argument: hw_target(100) = 301. arm64 resumed at an enabled
    // breakpoint hits it again: disable it (x64 resumes with RF, past it).
    await k.zx.thread_write_state({ handle: thread, kind: GENERAL, regs: { [r.arg0]: 100 } });
    if (!x64) {
      await k.zx.thread_write_state({
        handle: thread,
        kind: DEBUG,
        regs: { "hw_bps[0].dbgbcr": 0 },
      });
    }
    await handled(k, hw.exception);

    // The watchpoint.
    const wp = await expect(k, channel, EXCP.HW_BREAKPOINT);
    const memory = async () => {
      const { buffer } = await k.zx.process_read_memory({
        handle: program.process,
        vaddr: hex(watched),
        buffer_size: 8,
      });
      return new DataView(Uint8Array.fromBase64(buffer as string).buffer).getBigUint64(0, true);
    };
    const atWrite = await general(k, thread);
    const wpDebug = await debugRegs(k, thread);
    if (x64) {
      // A trap after the store: rip past it, the value written.
      assert.equal(hex(atWrite.pc), hex(at("watch_return")));
      assert.equal(hex(BigInt(wpDebug.dr6)), hex(DR6_RESET | 2n), "dr6.B1");
      assert.equal(await memory(), 302n);
      await handled(k, wp.exception);
    } else {
      // Before the store: pc at it, nothing written yet, FAR the address.
      assert.equal(hex(atWrite.pc), hex(at("watch_store")));
      assert.equal(wpDebug.esr, ESR.WATCHPOINT_WRITE);
      assert.equal(hex(BigInt(wpDebug.far)), hex(watched));
      const wpReport = await report(k, thread);
      assert.equal(wpReport.context.arch.esr, ESR.WATCHPOINT_WRITE);
      assert.equal(hex(BigInt(wpReport.context.arch.far)), hex(watched));
      assert.equal(await memory(), 0n);
      // Past it: disable, step the store, re-enable.
      const wcr = wpDebug.hw_wps[0].dbgwcr;
      await k.zx.thread_write_state({
        handle: thread,
        kind: DEBUG,
        regs: { "hw_wps[0].dbgwcr": 0 },
      });
      await setSingleStep(k, thread, true);
      await handled(k, wp.exception);
      const over = await expect(k, channel, EXCP.HW_BREAKPOINT);
      assert.equal(hex((await general(k, thread)).pc), hex(at("watch_return")));
      assert.equal((await debugRegs(k, thread)).esr, ESR.STEP);
      assert.equal(await memory(), 302n);
      await k.zx.thread_write_state({
        handle: thread,
        kind: DEBUG,
        regs: { "hw_wps[0].dbgwcr": wcr },
      });
      await setSingleStep(k, thread, false);
      await handled(k, over.exception);
    }

    // Every change shows: (42 + 1) * 2 = 86, hw_target(100) = 301, 301 + 1 = 302.
    await terminated(k, program.process);
    assert.equal(await output(k, program.process), "result: 86\ncalled: 301\nwatched: 302\n");
    assert.equal(await returnCode(k, program.process), 302);
    // zx_process_exit killed the thread: the debugger still hears it exit.
    const exiting = await expect(k, channel, EXCP.THREAD_EXITING);
    await k.zx.handle_close({ handle: exiting.exception });
  });

  Deno.test(`[${arch}] thread_write_state of a running thread is BAD_STATE`, async () => {
    const k = await session(arch);
    const spinner = await load(k, "spin");
    const regs = x64 ? { rbx: 7 } : { x19: 7 };
    assert.equal(
      await statusOf(k.zx.thread_write_state({ handle: spinner.thread, kind: GENERAL, regs })),
      "ZX_ERR_BAD_STATE",
    );
    assert.equal(
      await statusOf(k.zx.thread_write_state({
        handle: spinner.thread,
        kind: SINGLE_STEP,
        regs: { value: 1 },
      })),
      "ZX_ERR_BAD_STATE",
    );
    assert.equal(
      await statusOf(k.zx.thread_read_state({ handle: spinner.thread, kind: GENERAL })),
      "ZX_ERR_BAD_STATE",
    );
    // Nothing was written: still spinning, it never printed "steered".
    await k.zx.task_kill({ handle: spinner.process });
    await terminated(k, spinner.process);
    assert.equal(await output(k, spinner.process), "");
  });

  Deno.test({
    name: `[${arch}] THREAD_EXITING: no registers, and the exiting thread waits for the answer`,
  }, async () => {
    const k = await session(arch);
    const { program, channel, starting } = await attach(k, "exiter");
    await k.zx.handle_close({ handle: starting.exception });
    const exiting = await expect(k, channel, EXCP.THREAD_EXITING);
    assert.equal(await output(k, program.process), "exiter: bye\n");
    const { out: thread } = await k.zx.exception_get_thread({ handle: exiting.exception });
    // Thread exit exceptions carry no frame: reads and writes are NOT_SUPPORTED.
    for (const kind of [GENERAL, DEBUG]) {
      assert.equal(
        await statusOf(k.zx.thread_read_state({ handle: thread, kind })),
        "ZX_ERR_NOT_SUPPORTED",
        kind,
      );
    }
    assert.equal(
      await statusOf(k.zx.thread_write_state({
        handle: thread,
        kind: GENERAL,
        regs: x64 ? { rax: 1 } : { x0: 1 },
      })),
      "ZX_ERR_NOT_SUPPORTED",
    );
    assert.equal(
      await statusOf(
        k.zx.thread_write_state({ handle: thread, kind: SINGLE_STEP, regs: { value: 1 } }),
      ),
      "ZX_ERR_NOT_SUPPORTED",
    );
    // It waits, dying, for the answer.
    assert.equal((await threadInfo(k, thread)).state, THREAD_STATE.DYING);
    await sleep(50);
    assert.equal(
      await statusOf(k.zx.object_wait_one({
        handle: thread,
        signals: ["ZX_THREAD_TERMINATED"],
        deadline: 0,
      })),
      "ZX_ERR_TIMED_OUT",
    );
    await k.zx.handle_close({ handle: exiting.exception });
    await terminated(k, thread);
    // Its process had no other thread: it ends with 0.
    await terminated(k, program.process);
    assert.equal(await returnCode(k, program.process), 0);
  });

  Deno.test(`[${arch}] suspended and in an exception: it runs again only once both are resolved`, async () => {
    const k = await session(arch);
    const bytes = fixture(arch, "debuggee");
    const program: LoadedProgram = await loadElf(k, bytes, { name: "debuggee", start: false });
    // A process channel: no THREAD_STARTING to answer first.
    const { out: channel } = await k.zx.task_create_exception_channel({ handle: program.process });
    await startProgram(k, program);
    const bp = await expect(k, channel as number, EXCP.SW_BREAKPOINT);
    const thread = program.thread;
    const pc = symbol(bytes, "step_1");
    if (!x64) {
      await k.zx.thread_write_state({ handle: thread, kind: GENERAL, regs: { pc: hex(pc) } });
    }
    const stillStopped = async (state: number) => {
      await sleep(50);
      assert.equal((await threadInfo(k, thread)).state, state);
      assert.equal((await general(k, thread)).pc, pc);
      assert.equal(await output(k, program.process), "", "it has not run on");
    };

    // The suspension goes first: the thread is still in its exception.
    const first = await k.zx.task_suspend({ handle: thread });
    await k.zx.handle_close({ handle: first.token });
    await stillStopped(THREAD_STATE.BLOCKED_EXCEPTION);

    // The exception goes first: the thread is still suspended.
    const { token } = await k.zx.task_suspend({ handle: thread });
    await handled(k, bp.exception);
    await stillStopped(THREAD_STATE.SUSPENDED);

    // Both over: it runs to its end, untouched (5 at the breakpoint).
    await k.zx.handle_close({ handle: token });
    await terminated(k, program.process);
    assert.equal(await output(k, program.process), "result: 12\ncalled: 37\nwatched: 38\n");
    assert.equal(await returnCode(k, program.process), 38);
  });
}
