// Creating, starting, suspending and killing tasks.

import { z } from "zod";
import { Job } from "../job.ts";
import { Process } from "../process.ts";
import { DEFAULT_RIGHTS, RIGHT } from "../rights.ts";
import {
  killJob,
  killProcess,
  resumeProcess,
  resumeThread,
  startThread,
  suspendProcess,
  suspendThread,
} from "../scheduler.ts";
import { ERR, ZxError } from "../status.ts";
import { SuspendToken } from "../suspend_token.ts";
import { Thread } from "../thread.ts";
import { MAX_NAME_LEN, PROCESS_SHARED, TASK_RETCODE_SYSCALL_KILL } from "../types.ts";
import { requireRights } from "../handle_table.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { flags, handle, size, text, u64 } from "./params.ts";

/**
 * copy_user_string as the task syscalls use it: the size is silently cut to
 * ZX_MAX_NAME_LEN, a NULL pointer is INVALID_ARGS, and reading past what the
 * caller sent is the invalid-pointer case.
 */
function copyName(name: Uint8Array | null, nameSize: number | undefined): Uint8Array {
  if (name === null) throw new ZxError(ERR.INVALID_ARGS, "name is a NULL pointer");
  const wanted = Math.min(nameSize ?? name.length, MAX_NAME_LEN);
  if (wanted > name.length) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      `name is an invalid pointer: name_size asks for ${wanted} bytes but the name has ${name.length}`,
    );
  }
  return name.subarray(0, wanted);
}

const nameParams = {
  name: text().optional().describe("the object's name (at most 31 bytes are kept)"),
  name_size: size().optional().describe("defaults to the name's length in bytes"),
};

/** JobDispatcher's kMaxHeight: how deep the job tree may grow below the root. */
const MAX_JOB_HEIGHT = 32;

export const jobCreate = defineSyscall({
  name: "job_create",
  abis: ["zx", "mx"],
  summary: "Create a child job",
  description: "Needs ZX_RIGHT_MANAGE_JOB on the parent (ZX_RIGHT_WRITE is accepted instead, as " +
    "in Zircon). A killed parent gives BAD_STATE; a tree deeper than 32 jobs OUT_OF_RANGE.",
  params: z.strictObject({
    parent_job: handle(),
    options: flags("options", "must be 0").default(0),
  }),
  outs: z.object({ out: handle() }),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "BAD_STATE",
    "OUT_OF_RANGE",
  ],
  example: (h) => ({ parent_job: h.root_job }),
  errorExample: (h) => ({ parent_job: h.process }),
  c: [
    { kind: "value", name: "parent_job", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { parent_job, options }) {
    if (options !== 0) {
      throw new ZxError(ERR.INVALID_ARGS, `options must be 0, got 0x${options.toString(16)}`);
    }
    const parent = lookupWithWriteFallback(caller, parent_job, RIGHT.MANAGE_JOB);
    if (parent.depth >= MAX_JOB_HEIGHT) {
      throw new ZxError(ERR.OUT_OF_RANGE, `the job tree may not be deeper than ${MAX_JOB_HEIGHT}`);
    }
    if (parent.dead) throw new ZxError(ERR.BAD_STATE, `job ${parent.koid} has been killed`);
    caller.handles.reserve(1);
    caller.kernel.reserveObjects(1);
    const job = caller.kernel.objects.track(new Job(caller.kernel.nextKoid(), parent));
    return { out: caller.handles.add(job, DEFAULT_RIGHTS.job).value };
  },
});

/**
 * The job lookup of job_create / process_create: Zircon retries with WRITE
 * when the MANAGE_* right fails for any reason and reports the second status.
 */
function lookupWithWriteFallback(caller: Caller, value: number, rights: number): Job {
  try {
    return caller.handles.lookupAs(value, Job, rights);
  } catch (error) {
    if (!(error instanceof ZxError)) throw error;
    return caller.handles.lookupAs(value, Job, RIGHT.WRITE);
  }
}

export const processCreate = defineSyscall({
  name: "process_create",
  abis: ["zx", "mx"],
  summary: "Create a new process in a job",
  description: "Needs ZX_RIGHT_MANAGE_PROCESS on the job (ZX_RIGHT_WRITE is accepted instead, " +
    "as in Zircon). Returns the process handle and its root VMAR handle. The process starts " +
    "when its first thread is started.",
  params: z.strictObject({
    job: handle(),
    ...nameParams,
    options: flags("options", "0 or ZX_PROCESS_SHARED").default(0),
  }),
  outs: z.object({ proc_handle: handle(), vmar_handle: handle() }),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "BAD_STATE"],
  example: (h) => ({ job: h.root_job, name: "app" }),
  errorExample: (h) => ({ job: h.root_job, name: "app", options: 4 }),
  c: [
    { kind: "value", name: "job", type: "u32" },
    { kind: "in", name: "name", size: "name_size" },
    { kind: "value", name: "name_size", type: "usize" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "proc_handle", type: "u32" },
    { kind: "out_value", name: "vmar_handle", type: "u32" },
  ],
  impl(caller, { job, name = new Uint8Array(), name_size, options }) {
    if ((options & ~PROCESS_SHARED) !== 0) {
      throw new ZxError(ERR.INVALID_ARGS, `options 0x${options.toString(16)} are not supported`);
    }
    const nameBytes = copyName(name, name_size);
    const parent = lookupWithWriteFallback(caller, job, RIGHT.MANAGE_PROCESS);
    if (parent.dead) throw new ZxError(ERR.BAD_STATE, `job ${parent.koid} has been killed`);
    caller.handles.reserve(2);
    caller.kernel.reserveObjects(1);
    const process = caller.kernel.createProcess(parent, nameBytes);
    const proc = caller.handles.add(process, DEFAULT_RIGHTS.process);
    const vmar = caller.handles.add(process.rootVmar, process.rootVmar.handleRights);
    return { proc_handle: proc.value, vmar_handle: vmar.value };
  },
});

export const threadCreate = defineSyscall({
  name: "thread_create",
  abis: ["zx", "mx"],
  summary: "Create a thread in a process",
  description: "Needs ZX_RIGHT_MANAGE_THREAD on the process. The thread is NEW until " +
    "zx_thread_start (or a client token) starts it.",
  params: z.strictObject({
    process: handle(),
    ...nameParams,
    options: flags("options", "must be 0").default(0),
  }),
  outs: z.object({ out: handle() }),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS"],
  example: (h) => ({ process: h.process, name: "worker-2" }),
  errorExample: (h) => ({ process: h.closed, name: "worker-2" }),
  c: [
    { kind: "value", name: "process", type: "u32" },
    { kind: "in", name: "name", size: "name_size" },
    { kind: "value", name: "name_size", type: "usize" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { process, name = new Uint8Array(), name_size, options }) {
    if (options !== 0) {
      throw new ZxError(ERR.INVALID_ARGS, `options must be 0, got 0x${options.toString(16)}`);
    }
    const nameBytes = copyName(name, name_size);
    const target = caller.handles.lookupAs(process, Process, RIGHT.MANAGE_THREAD);
    caller.handles.reserve(1);
    caller.kernel.reserveObjects(1, target);
    const thread = caller.kernel.createThread(target, nameBytes);
    return { out: caller.handles.add(thread, DEFAULT_RIGHTS.thread).value };
  },
});

/**
 * ProcessDispatcher::AddInitializedThread's checks: the first thread started
 * in a process starts the process, later ones need it running.
 */
function checkProcessAcceptsThread(thread: Thread): void {
  const process = thread.process;
  const initial = process.threads.size === 0;
  if (initial ? process.state !== "INITIAL" : process.state !== "RUNNING") {
    throw new ZxError(
      ERR.BAD_STATE,
      `process ${process.koid} is ${process.state.toLowerCase()} and cannot start this thread`,
    );
  }
}

function checkThreadIsNew(thread: Thread): void {
  if (thread.lifecycle !== "INITIALIZED") {
    throw new ZxError(ERR.BAD_STATE, `thread ${thread.koid} has already been started`);
  }
}

export const threadStart = defineSyscall({
  name: "thread_start",
  abis: ["zx", "mx"],
  summary: "Start a NEW thread",
  description: "Needs ZX_RIGHT_MANAGE_THREAD. Starting the first thread of a never-started " +
    "process starts the process. The entry must be a user address (0 is allowed). A thread " +
    "suspended before it starts stops before its first instruction, its start registers " +
    "readable: x64 rip=entry, rsp=stack, rdi=arg1, rsi=arg2, rflags=0x200; arm64 pc, sp, x0, x1.",
  params: z.strictObject({
    handle: handle(),
    thread_entry: u64("the entry pc"),
    stack: u64("the initial stack pointer"),
    arg1: u64("the first argument").default(0n),
    arg2: u64("the second argument").default(0n),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "BAD_STATE"],
  example: (h) => ({
    handle: h.new_thread,
    thread_entry: "0x1000000",
    stack: "0x2000000",
    arg1: 1,
    arg2: 2,
  }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "thread_entry", type: "u64" },
    { kind: "value", name: "stack", type: "u64" },
    { kind: "value", name: "arg1", type: "u64" },
    { kind: "value", name: "arg2", type: "u64" },
  ],
  impl(caller, { handle, thread_entry, stack, arg1, arg2 }) {
    const thread = caller.handles.lookupAs(handle, Thread, RIGHT.MANAGE_THREAD);
    checkThreadStart(caller, thread, thread_entry);
    caller.kernel.startCodeThread(thread, thread_entry, stack, arg1, arg2);
    return {};
  },
});

/** ThreadDispatcher::Start's checks, in its order: the process, the pc, the thread. */
export function checkThreadStart(caller: Caller, thread: Thread, entry: bigint): void {
  checkProcessAcceptsThread(thread);
  if (!caller.kernel.arch.isValidUserPc(entry)) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      `entry 0x${entry.toString(16)} is not a valid user pc on ${caller.kernel.arch.name}`,
    );
  }
  checkThreadIsNew(thread);
}

/**
 * zxsim's own: starts a NEW thread whose syscalls an HTTP client will make
 * (POST /v1/kernels/{id}/tokens). Needs ZX_RIGHT_WRITE on the thread.
 */
export function startClientThread(caller: Caller, value: number): Thread {
  const thread = caller.handles.lookupAs(value, Thread, RIGHT.WRITE);
  checkProcessAcceptsThread(thread);
  checkThreadIsNew(thread);
  startThread(thread, caller.kernel.now());
  thread.driver = "client";
  return thread;
}

function suspend<const N extends string>(name: N, alias: boolean) {
  return defineSyscall({
    name,
    abis: ["zx", "mx"],
    summary: alias ? "Same as zx_task_suspend (older name)" : "Suspend a thread or process",
    description: "Needs ZX_RIGHT_WRITE. Returns a suspend token; the task stays suspended while " +
      "any token is open and resumes when the last one is closed. Tokens nest. A task cannot " +
      "suspend itself (NOT_SUPPORTED); a NEW thread may be suspended and then started.",
    params: z.strictObject({ handle: handle() }),
    outs: z.object({ token: handle() }),
    errors: ["BAD_HANDLE", "ACCESS_DENIED", "WRONG_TYPE", "NOT_SUPPORTED", "BAD_STATE"],
    example: (h) => ({ handle: h.worker }),
    c: [
      { kind: "value", name: "handle", type: "u32" },
      { kind: "out_value", name: "token", type: "u32" },
    ],
    impl(caller, { handle }) {
      const task = caller.handles.lookup(handle);
      requireRights(task, RIGHT.WRITE);
      const object = task.object;
      caller.handles.reserve(1);
      caller.kernel.reserveObjects(1);
      let resume: () => void;
      if (object instanceof Thread) {
        if (object === caller.thread) {
          throw new ZxError(ERR.NOT_SUPPORTED, "a thread cannot suspend itself");
        }
        suspendThread(object);
        resume = () => resumeThread(object);
      } else if (object instanceof Process) {
        if (object === caller.process) {
          throw new ZxError(ERR.NOT_SUPPORTED, "a process cannot suspend itself");
        }
        suspendProcess(object);
        resume = () => resumeProcess(object);
      } else {
        throw new ZxError(ERR.WRONG_TYPE, "only threads and processes can be suspended");
      }
      const token = caller.kernel.objects.track(new SuspendToken(caller.kernel.nextKoid(), resume));
      return { token: caller.handles.add(token, token.defaultRights).value };
    },
  });
}

export const taskSuspend = suspend("task_suspend", false);
export const taskSuspendToken = suspend("task_suspend_token", true);

export const taskKill = defineSyscall({
  name: "task_kill",
  abis: ["zx", "mx"],
  summary: "Kill a job or a process",
  description: "Needs ZX_RIGHT_DESTROY. Threads cannot be killed (WRONG_TYPE, as in modern " +
    "Zircon). A killed process's threads become DEAD, its handles are closed, " +
    "ZX_TASK_TERMINATED is raised and its return code is ZX_TASK_RETCODE_SYSCALL_KILL (-1024). " +
    "Killing the caller's own process succeeds and ends the caller: its token stops working.",
  params: z.strictObject({ handle: handle() }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "ACCESS_DENIED", "WRONG_TYPE"],
  example: (h) => ({ handle: h.job }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
  ],
  impl(caller, { handle }) {
    const task = caller.handles.lookup(handle);
    requireRights(task, RIGHT.DESTROY);
    const object = task.object;
    if (object instanceof Process) killProcess(object, TASK_RETCODE_SYSCALL_KILL);
    else if (object instanceof Job) killJob(object, TASK_RETCODE_SYSCALL_KILL);
    else throw new ZxError(ERR.WRONG_TYPE, "only jobs and processes can be killed");
    return {};
  },
});
