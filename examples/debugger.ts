// deno task example:debugger — a debugger over HTTP, on x64 and arm64: load
// the debuggee program (tests/fixtures/debug/), stop it at its software
// breakpoint through a debugger exception channel, show its registers,
// change one, single-step one instruction, let it run and read what it
// printed. Untouched it would print "result: 12"; with rbx (arm64 x19) set
// from 5 to 42 at the breakpoint it prints (42 + 1) * 2 = 86.

import { loadElf, startProgram } from "../client/loader.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { runExample } from "./connect.ts";

const EXCP_NAMES: Record<number, string> = {
  0x308: "ZX_EXCP_SW_BREAKPOINT",
  0x408: "ZX_EXCP_HW_BREAKPOINT",
  0x8008: "ZX_EXCP_THREAD_STARTING",
  0x8108: "ZX_EXCP_THREAD_EXITING",
};
const ZX_EXCEPTION_STATE_HANDLED = 1;

/** The names this example uses: the pc and the register the program keeps its 5 in. */
const NAMES = {
  x64: { pc: "rip", reg: "rbx", read: (regs: Regs) => regs.rbx },
  arm64: { pc: "pc", reg: "x19", read: (regs: Regs) => (regs.r as string[])[19] },
} as const;
type Regs = Record<string, unknown>;

/** Waits for the next exception message: its type and the exception handle. */
async function nextException(k: KernelSession, channel: number) {
  await k.zx.object_wait_one({
    handle: channel,
    signals: ["ZX_CHANNEL_READABLE"],
    deadline: "ZX_TIME_INFINITE",
  });
  const message = await k.zx.channel_read({ handle: channel, num_bytes: 24, num_handles: 1 });
  // zx_exception_info_t: pid (u64), tid (u64), type (u32), padding.
  const info = new DataView(Uint8Array.fromBase64(message.bytes as string).buffer);
  return { type: info.getUint32(16, true), exception: (message.handles as number[])[0] };
}

/** Resumes the thread: HANDLED, then closing the exception handle answers. */
async function resume(k: KernelSession, exception: number) {
  await k.zx.object_set_property({
    handle: exception,
    property: "ZX_PROP_EXCEPTION_STATE",
    u32: ZX_EXCEPTION_STATE_HANDLED,
  });
  await k.zx.handle_close({ handle: exception });
}

async function debug(k: KernelSession, arch: "x64" | "arm64") {
  const { pc, reg, read } = NAMES[arch];
  const elf = await Deno.readFile(
    new URL(`../tests/fixtures/debug/${arch}/debuggee.elf`, import.meta.url),
  );
  // Loaded but not started, so that the debugger is there from its first instruction.
  const program = await loadElf(k, elf, { name: "debuggee", start: false });
  const { out: channel } = await k.zx.task_create_exception_channel({
    handle: program.process,
    options: "ZX_EXCEPTION_CHANNEL_DEBUGGER",
  });
  await startProgram(k, program);

  // A debugger channel first hears the thread start; closing the exception lets it go on.
  const starting = await nextException(k, channel);
  console.log(`${arch}: ${EXCP_NAMES[starting.type]}`);
  await k.zx.handle_close({ handle: starting.exception });

  // The breakpoint. The exception hands out the thread it stopped.
  const bp = await nextException(k, channel);
  const { out: thread } = await k.zx.exception_get_thread({ handle: bp.exception });
  const general = () =>
    k.zx.thread_read_state({ handle: thread, kind: "ZX_THREAD_STATE_GENERAL_REGS" });
  const { regs } = await general();
  console.log(
    `${arch}: stopped at ${EXCP_NAMES[bp.type]}: ${pc} = ${regs[pc]}, ${reg} = ${read(regs)}`,
  );
  const all = Object.entries(regs).flatMap(([name, value]) =>
    Array.isArray(value) ? value.map((v, i) => `${name}[${i}]=${v}`) : [`${name}=${value}`]
  );
  for (let i = 0; i < all.length; i += 4) {
    console.log(`${arch}:   ${all.slice(i, i + 4).join(" ")}`);
  }

  // Change the register. arm64 reports the brk at its own address: step the pc over it.
  const write: Regs = { [reg]: 42 };
  if (arch === "arm64") write.pc = `0x${(BigInt(regs.pc as string) + 4n).toString(16)}`;
  await k.zx.thread_write_state({
    handle: thread,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
    regs: write,
  });
  const changed = (await general()).regs;
  console.log(`${arch}: ${reg} ${read(regs)} -> ${read(changed)}`);
  if (arch === "arm64") console.log(`${arch}: pc ${regs.pc} -> ${changed.pc} (past the brk)`);

  // One instruction (add reg, 1), then a HW_BREAKPOINT exception again.
  await k.zx.thread_write_state({
    handle: thread,
    kind: "ZX_THREAD_STATE_SINGLE_STEP",
    regs: { value: 1 },
  });
  await resume(k, bp.exception);
  const step = await nextException(k, channel);
  const stepped = (await general()).regs;
  const advance = BigInt(stepped[pc] as string) - BigInt(changed[pc] as string);
  console.log(
    `${arch}: single step (${EXCP_NAMES[step.type]}): ${pc} ${changed[pc]} -> ${stepped[pc]} ` +
      `(+${advance}, one instruction), ${reg} = ${read(stepped)}`,
  );

  // Let it run to its end: no more stepping.
  await k.zx.thread_write_state({
    handle: thread,
    kind: "ZX_THREAD_STATE_SINGLE_STEP",
    regs: { value: 0 },
  });
  await resume(k, step.exception);
  await k.zx.object_wait_one({
    handle: program.process,
    signals: ["ZX_TASK_TERMINATED"],
    deadline: "ZX_TIME_INFINITE",
  });
  const { text } = await k.debuglog();
  for (const line of text.trimEnd().split("\n")) {
    console.log(`${arch}: the program printed: ${line}`);
  }
  const { info } = await k.zx.object_get_info({
    handle: program.process,
    topic: "ZX_INFO_PROCESS",
  });
  console.log(`${arch}: exit code ${BigInt.asIntN(64, BigInt(info?.return_code as string))}`);
}

await runExample(async (client) => {
  for (const arch of ["x64", "arm64"] as const) {
    const k = await client.createKernel({ arch });
    try {
      await debug(k, arch);
    } finally {
      await k.delete();
    }
  }
});
