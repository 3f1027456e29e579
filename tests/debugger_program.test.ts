// A debugger written as a program (tests/fixtures/debug/debugger.c): it gets
// a handle to the debuggee's process as its arg1, creates a debugger
// exception channel on it, and fixes the debuggee's register at its
// breakpoint with syscalls from code alone, while HTTP only starts the two
// and reads what they printed.

import assert from "node:assert/strict";
import { loadElf, startProgram } from "../client/loader.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { ARCHES } from "./helpers.ts";
import { returnCode, session, terminated } from "./program_helpers.ts";

const DEBUG_FIXTURES = new URL("./fixtures/debug/", import.meta.url);
const fixture = (arch: string, name: string) =>
  Deno.readFileSync(new URL(`${arch}/${name}.elf`, DEBUG_FIXTURES));

async function koid(k: KernelSession, handle: number): Promise<number> {
  // deno-lint-ignore no-explicit-any
  const { info } = await k.zx.object_get_info({ handle, topic: "ZX_INFO_HANDLE_BASIC" }) as any;
  return Number(BigInt(info.koid));
}

/** What each process printed, by its koid. */
async function outputs(k: KernelSession): Promise<Map<number, string>> {
  const byPid = new Map<number, string>();
  for (const record of (await k.debuglog()).records) {
    const pid = record.pid as number;
    byPid.set(pid, (byPid.get(pid) ?? "") + record.text);
  }
  return byPid;
}

/** Polls the debug log until `text` appears (at most 20 s). */
async function untilLogged(k: KernelSession, text: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await k.debuglog()).text.includes(text)) {
    assert.ok(Date.now() < end, `"${text.trim()}" never appeared in the debug log`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

for (const arch of ARCHES) {
  const reg = arch === "x64" ? "rbx" : "x19";

  Deno.test(`[${arch}] a debugger program patches a register at another process's breakpoint`, async () => {
    const k = await session(arch);
    const debuggee = await loadElf(k, fixture(arch, "debuggee"), {
      name: "debuggee",
      start: false,
    });
    const debugger_ = await loadElf(k, fixture(arch, "debugger"), {
      name: "debugger",
      start: false,
    });
    // The debugger's arg1: a handle to the debuggee's process (moved into the debugger).
    const { out: target } = await k.zx.handle_duplicate({
      handle: debuggee.process,
      rights: "ZX_RIGHT_SAME_RIGHTS",
    });
    await k.zx.process_start({
      handle: debugger_.process,
      thread: debugger_.thread,
      entry: Number(debugger_.entry),
      stack: Number(debugger_.sp),
      arg1: target,
    });
    // Its channel is bound before the debuggee starts, so it sees it from its first instruction.
    await untilLogged(k, "debugger: ready\n");
    await startProgram(k, debuggee);

    await terminated(k, debugger_.process);
    await terminated(k, debuggee.process);
    const printed = await outputs(k);
    assert.equal(
      printed.get(await koid(k, debugger_.process)),
      "debugger: ready\n" +
        "debugger: thread starting\n" +
        `debugger: read ${reg} = 5\n` +
        `debugger: wrote ${reg} = 42\n`,
    );
    // (42 + 1) * 2 = 86, hw_target(86) = 259, + 1 = 260.
    assert.equal(
      printed.get(await koid(k, debuggee.process)),
      "result: 86\ncalled: 259\nwatched: 260\n",
    );
    assert.equal(await returnCode(k, debugger_.process), 0);
    assert.equal(await returnCode(k, debuggee.process), 260);
  });
}
