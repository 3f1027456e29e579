// zx_task_create_exception_channel and the exception handle's two queries,
// with Zircon's order of checks (kernel/lib/syscalls/exceptions.cc).

import { z } from "zod";
import { Exception } from "../exception.ts";
import { CHANNEL_TYPE, Exceptionate } from "../exceptionate.ts";
import { Job } from "../job.ts";
import { Process } from "../process.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { Thread } from "../thread.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { flags, handle } from "./params.ts";
import { requireRights } from "../handle_table.ts";

/** ZX_EXCEPTION_CHANNEL_DEBUGGER. */
export const EXCEPTION_CHANNEL_DEBUGGER = 1;
/** ZX_EXCEPTION_CHANNEL_JOB_DEBUGGER_MAX_COUNT. */
const MAX_JOB_DEBUGGERS = 32;
/** "Exception channels are read-only from userspace": TRANSFER | READ | WAIT. */
const EXCEPTION_CHANNEL_RIGHTS = RIGHT.TRANSFER | RIGHT.READ | RIGHT.WAIT;

/** The slot a handle and options name, or the status Zircon gives. */
function exceptionateFor(task: Job | Process | Thread, forDebugger: boolean): Exceptionate {
  if (task instanceof Thread) {
    if (forDebugger) {
      throw new ZxError(ERR.INVALID_ARGS, "threads have no debugger exception channel");
    }
    return task.exceptionate;
  }
  if (task instanceof Process) return forDebugger ? task.debugExceptionate : task.exceptionate;
  if (!forDebugger) return task.exceptionate;
  // A job has a list of debugger slots: closed ones are dropped, a new one is added.
  const live = task.debugExceptionates.filter((e) => e.bound);
  task.debugExceptionates.splice(0, task.debugExceptionates.length, ...live);
  if (live.length >= MAX_JOB_DEBUGGERS) {
    throw new ZxError(
      ERR.ALREADY_BOUND,
      `a job has at most ${MAX_JOB_DEBUGGERS} debugger exception channels`,
    );
  }
  return new Exceptionate(CHANNEL_TYPE.JOB_DEBUGGER);
}

export const taskCreateExceptionChannel = defineSyscall({
  name: "task_create_exception_channel",
  abis: ["zx"],
  summary: "Create a channel that receives a task's exceptions",
  description: "Options: 0, or ZX_EXCEPTION_CHANNEL_DEBUGGER (1) for a process's or a job's " +
    "debugger channel (a thread has none: INVALID_ARGS). The handle needs ZX_RIGHT_INSPECT, " +
    "DUPLICATE, TRANSFER and MANAGE_THREAD (checked before its type), a job or process also " +
    "ENUMERATE. A task that already has a live channel of that kind gives ALREADY_BOUND (a job " +
    "may have up to 32 debugger channels); a dead task BAD_STATE. The returned channel is " +
    "read-only (TRANSFER | READ | WAIT): each exception arrives as a 24-byte " +
    "zx_exception_info_t {pid, tid, type} and one exception handle. Handlers are tried in " +
    "Zircon's order: the process's debugger, the thread, the process, the debugger again (second " +
    "chance), then the job and its parents.",
  params: z.strictObject({
    handle: handle(),
    options: flags("options", "0 or ZX_EXCEPTION_CHANNEL_DEBUGGER").default(0),
  }),
  outs: z.object({ out: handle() }),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "ACCESS_DENIED",
    "WRONG_TYPE",
    "ALREADY_BOUND",
    "BAD_STATE",
  ],
  example: (h) => ({ handle: h.process, options: "ZX_EXCEPTION_CHANNEL_DEBUGGER" }),
  errorExample: (h) => ({ handle: h.worker, options: "ZX_EXCEPTION_CHANNEL_DEBUGGER" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { handle, options }) {
    if ((options & ~EXCEPTION_CHANNEL_DEBUGGER) !== 0) {
      throw new ZxError(ERR.INVALID_ARGS, `options 0x${options.toString(16)} are not supported`);
    }
    const h = caller.handles.lookup(handle);
    requireRights(h, RIGHT.INSPECT | RIGHT.DUPLICATE | RIGHT.TRANSFER | RIGHT.MANAGE_THREAD);
    const task = h.object;
    if (!(task instanceof Job || task instanceof Process || task instanceof Thread)) {
      throw new ZxError(ERR.WRONG_TYPE, "only jobs, processes and threads have exceptions");
    }
    const forDebugger = options === EXCEPTION_CHANNEL_DEBUGGER;
    const exceptionate = exceptionateFor(task, forDebugger);
    if (!(task instanceof Thread)) requireRights(h, RIGHT.ENUMERATE);
    caller.handles.reserve(1);
    const processRights = task instanceof Thread ? 0 : h.rights;
    const userEnd = exceptionate.bind(() => caller.kernel.nextKoid(), h.rights, processRights);
    if (task instanceof Job && forDebugger) task.debugExceptionates.push(exceptionate);
    return { out: caller.handles.add(userEnd, EXCEPTION_CHANNEL_RIGHTS).value };
  },
});

function exceptionOf(caller: Caller, value: number): Exception {
  const object = caller.handles.lookup(value).object;
  if (!(object instanceof Exception)) {
    throw new ZxError(ERR.WRONG_TYPE, "this is not an exception handle");
  }
  return object;
}

function taskQuery<const N extends string>(name: N, which: "thread" | "process") {
  return defineSyscall({
    name,
    abis: ["zx"],
    summary: `A handle to the ${which} an exception happened in`,
    description: `The new handle has the rights of the task handle the current handler's ` +
      "channel was made from. No right is needed on the exception handle. " +
      (which === "process"
        ? "An exception received on a thread's channel gives ACCESS_DENIED."
        : "It works even after the thread was killed."),
    params: z.strictObject({ handle: handle() }),
    outs: z.object({ out: handle() }),
    errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED"],
    example: (h) => ({ handle: h.exception }),
    errorExample: (h) => ({ handle: h.thread }),
    c: [
      { kind: "value", name: "handle", type: "u32" },
      { kind: "out_value", name: "out", type: "u32" },
    ],
    impl(caller, { handle }) {
      const exception = exceptionOf(caller, handle);
      const rights = which === "thread" ? exception.threadRights : exception.processRights;
      if (rights === 0) {
        throw new ZxError(
          ERR.ACCESS_DENIED,
          `this exception came through a thread's channel: its ${which} is out of reach`,
        );
      }
      caller.handles.reserve(1);
      const task = which === "thread" ? exception.thread : exception.thread.process;
      return { out: caller.handles.add(task, rights).value };
    },
  });
}

export const exceptionGetThread = taskQuery("exception_get_thread", "thread");
export const exceptionGetProcess = taskQuery("exception_get_process", "process");
