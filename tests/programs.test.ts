// Real programs (tests/fixtures/programs) run to completion on both arches,
// loaded with the client's loader through HTTP: output through
// zx_debug_write, exit codes through zx_process_exit, faults killing the
// process as Zircon does when no handler takes the exception.

import assert from "node:assert/strict";
import { ARCHES } from "./helpers.ts";
import { load, returnCode, run, session, terminated } from "./program_helpers.ts";

/** ZX_TASK_RETCODE_EXCEPTION_KILL. */
const EXCEPTION_KILL = -1028;
const THREAD_DEAD = 5;

const OUTPUTS: Record<string, { text: string; code: number }> = {
  loop: { text: "sum: 500500\n", code: 500500 & 0xff },
  fib: { text: "fib(20) = 6765\n", code: 6765 & 0xff },
  memcpy: { text: "memcpy ok\n", code: 0 },
  sieve: {
    text: "2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71 73 79 83 89 97 101 103 107 " +
      "109 113 127 131 137 139 149 151 157 163 167 173 179 181 191 193 197 199\n" +
      "primes below 200: 46\n",
    code: 46,
  },
  sleep: { text: "slept\n", code: 0 },
};

for (const arch of ARCHES) {
  for (const [name, want] of Object.entries(OUTPUTS)) {
    Deno.test(`[${arch}] program ${name} runs to completion`, async () => {
      const k = await session(arch);
      const { text, code, program } = await run(k, name);
      assert.equal(text, want.text);
      assert.equal(code, want.code);
      const { info } = await k.zx.object_get_info({
        handle: program.thread,
        topic: "ZX_INFO_THREAD",
      });
      assert.equal((info as { state: number }).state, THREAD_DEAD);
    });
  }

  Deno.test(`[${arch}] a debugger written as a program steers its sibling thread`, async () => {
    const k = await session(arch);
    const { text, code } = await run(k, "debugger");
    const register = arch === "x64" ? "rbx" : "x19";
    assert.equal(text, `debugger: wrote ${register} = 7\nsteered: 7\n`);
    assert.equal(code, 7);
  });
}

/** Each fault program's exception, as the kernel summary and the debug log name it. */
const FAULTS: Record<string, Record<string, { type: string; pc?: string; address?: string }>> = {
  x64: {
    fault_read: { type: "ZX_EXCP_FATAL_PAGE_FAULT", pc: "0x1000000", address: "0x10" },
    fault_write: { type: "ZX_EXCP_FATAL_PAGE_FAULT", address: "0x1000000" },
    fault_exec: { type: "ZX_EXCP_FATAL_PAGE_FAULT", pc: "0x1020000", address: "0x1020000" },
    fault_undefined: { type: "ZX_EXCP_UNDEFINED_INSTRUCTION", pc: "0x1000000" },
    // int3 is a trap: rip is already past it when the exception is taken.
    fault_breakpoint: { type: "ZX_EXCP_SW_BREAKPOINT", pc: "0x1000001" },
    fault_gp: { type: "ZX_EXCP_GENERAL", pc: "0x1000000" },
    fault_noncanonical: { type: "ZX_EXCP_GENERAL" },
    raw_syscall: { type: "ZX_EXCP_POLICY_ERROR" },
  },
  arm64: {
    fault_read: { type: "ZX_EXCP_FATAL_PAGE_FAULT", pc: "0x1000004", address: "0x10" },
    fault_write: { type: "ZX_EXCP_FATAL_PAGE_FAULT", address: "0x1000000" },
    fault_exec: { type: "ZX_EXCP_FATAL_PAGE_FAULT", pc: "0x1020000", address: "0x1020000" },
    fault_undefined: { type: "ZX_EXCP_UNDEFINED_INSTRUCTION", pc: "0x1000000" },
    // brk reports the address of the brk itself (ELR_EL1).
    fault_breakpoint: { type: "ZX_EXCP_SW_BREAKPOINT", pc: "0x1000000" },
    // A privileged system register at EL0 is an undefined instruction.
    fault_gp: { type: "ZX_EXCP_UNDEFINED_INSTRUCTION", pc: "0x1000000" },
    raw_syscall: { type: "ZX_EXCP_POLICY_ERROR" },
  },
};

for (const arch of ARCHES) {
  for (const [name, want] of Object.entries(FAULTS[arch])) {
    Deno.test(`[${arch}] ${name}: the exception nobody handles kills the process`, async () => {
      const k = await session(arch);
      const { text, code, program } = await run(k, name);
      assert.equal(code, EXCEPTION_KILL);
      assert.match(text, new RegExp(`fatal exception ${want.type}`));
      assert.match(text, /killed \(ZX_TASK_RETCODE_EXCEPTION_KILL\)\n$/);
      // The crash line names where it happened (and, for page faults, the address).
      if (want.address) assert.match(text, new RegExp(` at address ${want.address}, `));
      if (want.pc) assert.match(text, new RegExp(`, pc ${want.pc}: process ${name}\\[`));
      // A dead process leaves its job: the summary no longer lists it.
      const summary = await k.summary();
      // deno-lint-ignore no-explicit-any
      assert.ok(!(summary.root_job as any).processes.some((p: any) => p.name === name));
      const { info } = await k.zx.object_get_info({
        handle: program.thread,
        topic: "ZX_INFO_THREAD",
      });
      assert.equal((info as { state: number }).state, THREAD_DEAD);
      const signals = await k.zx.object_wait_one({
        handle: program.process,
        signals: ["ZX_TASK_TERMINATED"],
        deadline: 0,
      });
      assert.equal(signals.observed & (1 << 3), 1 << 3);
    });
  }
}

Deno.test("[x64] a raw syscall names its number in the crash report", async () => {
  const k = await session("x64");
  const { text } = await run(k, "raw_syscall");
  assert.match(text, /ZX_EXCP_POLICY_ERROR \(bad syscall 96\)/);
});

Deno.test("processes run side by side and each ends on its own", async () => {
  const k = await session("x64");
  const a = await load(k, "sieve");
  const b = await load(k, "fib");
  await terminated(k, a.process);
  await terminated(k, b.process);
  assert.equal(await returnCode(k, a.process), 46);
  assert.equal(await returnCode(k, b.process), 6765 & 0xff);
  const text = (await k.debuglog()).text;
  assert.ok(text.includes("primes below 200: 46\n"));
  assert.ok(text.includes("fib(20) = 6765\n"));
});
