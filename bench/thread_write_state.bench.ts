// In-process cost of zx_thread_write_state on x64 general registers: the
// syscall table entry as a plain function (handle lookup, kind, size and
// state checks, decode + validate + store), no HTTP.
//   deno task bench

import { x64 } from "../arch/x64/x64.ts";
import { Kernel } from "../kernel/kernel.ts";
import { startThread, suspendThread } from "../kernel/scheduler.ts";
import type { Caller } from "../kernel/syscalls/define.ts";
import { threadWriteState } from "../kernel/syscalls/thread_state.ts";
import { DEFAULT_RIGHTS } from "../kernel/rights.ts";

const kernel = new Kernel("bench", x64, { enable_debugging_syscalls: true, scheduler: "free" });
const caller: Caller = {
  kernel,
  thread: kernel.bootThread,
  process: kernel.bootThread.process,
  handles: kernel.bootThread.process.handles,
  abi: "zx",
  maxBlockMs: 0,
};
const target = kernel.createThread(caller.process, new Uint8Array());
startThread(target, 0n);
suspendThread(target);
const handle = caller.handles.add(target, DEFAULT_RIGHTS.thread).value;

// The core-test byte pattern with canonical rip/fs/gs and the test's rflags.
const buffer = Uint8Array.from({ length: 160 }, (_, i) => i + 1);
const view = new DataView(buffer.buffer);
view.setBigUint64(128, 0x1000n, true); // rip
view.setBigUint64(136, 0x244ed7n, true); // rflags
view.setBigUint64(144, 0n, true); // fs_base
view.setBigUint64(152, 0n, true); // gs_base
const args = { handle, kind: 0, buffer, buffer_size: undefined, regs: undefined };

Deno.bench("zx_thread_write_state x64 GENERAL_REGS (in-process)", () => {
  threadWriteState.impl(caller, args);
});

const parsed = { handle, kind: 0, buffer: buffer.toBase64() };
Deno.bench("zx_thread_write_state x64 GENERAL_REGS (zod parse + call)", () => {
  threadWriteState.impl(caller, threadWriteState.params.parse(parsed));
});
