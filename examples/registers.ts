// deno task example:registers — a debugger's first steps on x64 and arm64:
// make a thread, suspend it, read its registers, change some, read them
// back, and let it run from the new pc.

import type { KernelSession } from "../client/zxsim.ts";
import { ENTRY, mapSpinCode, runExample, STACK } from "./connect.ts";

const PC = { x64: "rip", arm64: "pc" } as const;
// rax, and arm64's x0 (x0..x29 are the array `r` of zx_arm64_thread_state_general_regs_t).
const ARG0 = { x64: "rax", arm64: "r[0]" } as const;

/** The named view flattened to "name" / "name[i]" keys, for comparing two reads. */
function flat(regs: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(regs)) {
    if (Array.isArray(value)) value.forEach((v, i) => out.set(`${name}[${i}]`, String(v)));
    else out.set(name, String(value));
  }
  return out;
}

async function registers(k: KernelSession, arch: "x64" | "arm64") {
  const pc = PC[arch];
  // Threads run real code: give this one a page of spin loops to run.
  await mapSpinCode(k);
  const { out: thread } = await k.zx.thread_create({
    process: k.handles!.process,
    name: "debuggee",
  });
  // Suspended before it starts, it stops before its first instruction.
  const { token } = await k.zx.task_suspend({ handle: thread });
  await k.zx.thread_start({
    handle: thread,
    thread_entry: ENTRY,
    stack: STACK,
    arg1: 7,
  });

  const before = await k.zx.thread_read_state({
    handle: thread,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
  });
  const size = Uint8Array.fromBase64(before.buffer).length;
  console.log(`${arch}: GENERAL_REGS is ${size} bytes; ${pc} = ${before.regs[pc]}`);

  await k.zx.thread_write_state({
    handle: thread,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
    regs: { [pc]: "0x1000040", [ARG0[arch]]: 42 },
  });
  const after = await k.zx.thread_read_state({
    handle: thread,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
  });
  const old = flat(before.regs);
  for (const [name, value] of flat(after.regs)) {
    if (value !== old.get(name)) console.log(`${arch}: ${name} ${old.get(name)} -> ${value}`);
  }

  // Closing the last suspend token resumes the thread: it runs from the new
  // pc (a spin loop too). Suspended again, it stops between two instructions.
  await k.zx.handle_close({ handle: token });
  const { info } = await k.zx.object_get_info({ handle: thread, topic: "ZX_INFO_THREAD" });
  console.log(`${arch}: resumed, ZX_INFO_THREAD state ${info?.state} (RUNNING)`);
  const again = await k.zx.task_suspend({ handle: thread });
  const { regs } = await k.zx.thread_read_state({ handle: thread, kind: 0 });
  console.log(`${arch}: suspended again: ${pc} = ${regs[pc]}`);
  await k.zx.handle_close({ handle: again.token });
}

await runExample(async (client) => {
  for (const arch of ["x64", "arm64"] as const) {
    const k = await client.createKernel({ arch });
    try {
      await registers(k, arch);
    } finally {
      await k.delete();
    }
  }
});
