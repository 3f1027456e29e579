// Starting a process's first thread, and ending threads and processes from
// their own code.

import { z } from "zod";
import { Process } from "../process.ts";
import { RIGHT } from "../rights.ts";
import { threadExiting } from "../exceptions.ts";
import { killProcess } from "../scheduler.ts";
import { ERR, ZxError } from "../status.ts";
import { Thread } from "../thread.ts";
import { defineSyscall } from "./define.ts";
import { checkThreadStart } from "./task.ts";
import { handle, i64, u64 } from "./params.ts";

export const processStart = defineSyscall({
  name: "process_start",
  abis: ["zx", "mx"],
  summary: "Start the first thread of a process, handing it a handle",
  description: "Needs ZX_RIGHT_WRITE on the process and the thread, which must belong to it " +
    "(else ACCESS_DENIED) and be its first. `arg1` is a handle of the caller's that is moved " +
    "into the new process (it needs ZX_RIGHT_TRANSFER): the thread finds its value there in its " +
    "first argument register. The handle leaves the caller whatever happens; if the start " +
    "fails it is closed. As Zircon, an invalid arg1 is passed on as ZX_HANDLE_INVALID. " +
    "When a process starts, zxsim maps the vDSO into it (read and execute); if `arg2` is 0 the " +
    "thread receives the vDSO's base there instead, as a Fuchsia launcher would pass it.",
  params: z.strictObject({
    handle: handle(),
    thread: handle(),
    entry: u64("the entry pc"),
    stack: u64("the initial stack pointer"),
    arg1: handle().default(0),
    arg2: u64("the second argument (0: the vDSO's base)").default(0n),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "BAD_STATE"],
  example: (h) => ({
    handle: h.new_process,
    thread: h.new_process_thread,
    entry: "0x1000000",
    stack: "0x2000000",
  }),
  errorExample: (h) => ({
    handle: h.new_process,
    thread: h.new_thread,
    entry: "0x1000000",
    stack: "0x2000000",
  }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "thread", type: "u32" },
    { kind: "value", name: "entry", type: "u64" },
    { kind: "value", name: "stack", type: "u64" },
    { kind: "value", name: "arg1", type: "u32" },
    { kind: "value", name: "arg2", type: "u64" },
  ],
  impl(caller, { handle, thread: threadHandle, entry, stack, arg1, arg2 }) {
    // The arg handle leaves the caller whatever happens: closed on failure.
    const closeArg = () => {
      if (arg1 !== 0) caller.handles.remove(arg1);
    };
    try {
      const process = caller.handles.lookupAs(handle, Process, RIGHT.WRITE);
      const thread = caller.handles.lookupAs(threadHandle, Thread, RIGHT.WRITE);
      const moved = arg1 === 0 ? undefined : caller.handles.get(arg1);
      if (thread.process !== process) {
        throw new ZxError(ERR.ACCESS_DENIED, "the thread does not belong to this process");
      }
      if (moved && (moved.rights & RIGHT.TRANSFER) === 0) {
        throw new ZxError(ERR.ACCESS_DENIED, "arg1 lacks ZX_RIGHT_TRANSFER");
      }
      if (process.threads.size !== 0 || process.state !== "INITIAL") {
        throw new ZxError(
          ERR.BAD_STATE,
          `process ${process.koid} is ${process.state.toLowerCase()}: it has already started`,
        );
      }
      checkThreadStart(caller, thread, entry);
      // Added to the new process before it leaves the caller, so the object
      // never sees its handle count reach zero on the way.
      const value = moved ? process.handles.add(moved.object, moved.rights).value : 0;
      if (moved) caller.handles.remove(arg1);
      caller.kernel.startCodeThread(
        thread,
        entry,
        stack,
        BigInt(value),
        arg2 === 0n ? "vdso" : arg2,
      );
    } catch (error) {
      closeArg();
      throw error;
    }
    return {};
  },
});

export const processExit = defineSyscall({
  name: "process_exit",
  abis: ["zx", "mx"],
  summary: "End the caller's process with a return code",
  description: "Every thread of the process dies and the process's return code " +
    "(ZX_INFO_PROCESS) is `retcode`. Over HTTP this ends the token's process, and the reply " +
    "is the one of a killed caller.",
  params: z.strictObject({ retcode: i64("the return code (int64)") }),
  outs: z.object({}),
  errors: [],
  example: () => ({ retcode: 0 }),
  errorExample: () => ({ retcode: "zero" }),
  c: [{ kind: "value", name: "retcode", type: "i64" }],
  impl(caller, { retcode }) {
    killProcess(caller.process, Number(retcode));
    return {};
  },
});

export const threadExit = defineSyscall({
  name: "thread_exit",
  abis: ["zx", "mx"],
  summary: "End the calling thread",
  description: "The thread dies (ZX_THREAD_TERMINATED). When the last thread of a process " +
    "exits, the process exits with return code 0.",
  params: z.strictObject({}),
  outs: z.object({}),
  errors: [],
  example: () => ({}),
  errorExample: () => ({ retcode: 1 }),
  c: [],
  impl(caller) {
    threadExiting(caller.kernel, caller.thread);
    return {};
  },
});
