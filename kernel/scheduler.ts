// The one place where task states change. Threads that run code do so in
// turns between requests (kernel/runner.ts), never in the middle of one, so
// a transition takes effect at once and always between two instructions: a
// suspended thread is SUSPENDED as soon as zx_task_suspend returns, with the
// registers of the next instruction it would run.

import { killedThreadExiting } from "./exceptions.ts";
import { ERR, ZxError } from "./status.ts";
import { SIGNAL } from "./types.ts";
import type { Job } from "./job.ts";
import type { Process } from "./process.ts";
import type { Lifecycle, Thread } from "./thread.ts";

const { THREAD_RUNNING, THREAD_SUSPENDED, TASK_TERMINATED } = SIGNAL;

/** Moves a thread to `next`, raising and clearing signals as ThreadDispatcher does. */
function setLifecycle(thread: Thread, next: Lifecycle): void {
  thread.lifecycle = next;
  switch (next) {
    case "RUNNING":
      thread.updateSignals(THREAD_SUSPENDED, THREAD_RUNNING);
      thread.wakeResumeWaiters();
      thread.runner?.wake();
      break;
    case "SUSPENDED":
      thread.updateSignals(THREAD_RUNNING, THREAD_SUSPENDED);
      for (const listener of [...thread.suspendListeners]) listener();
      break;
    case "DEAD":
      thread.exceptionate.shutdown();
      thread.updateSignals(THREAD_RUNNING | THREAD_SUSPENDED, TASK_TERMINATED);
      thread.wakeResumeWaiters();
      for (const listener of [...thread.deathListeners]) listener();
      // Nobody holds it any more: nothing is left to see.
      if (thread.handleCount === 0) thread.destroy();
      break;
    default:
      break;
  }
}

/**
 * Makes a NEW thread runnable (the caller has done every check). A thread
 * whose process is suspended inherits one suspension; a suspended thread
 * reports RUNNING and then SUSPENDED before it executes anything.
 */
export function startThread(thread: Thread, now: bigint): void {
  const process = thread.process;
  if (process.state === "INITIAL") {
    process.state = "RUNNING";
    process.startTime = now;
    process.onStart();
  }
  process.threads.add(thread);
  if (process.suspendCount > 0) thread.suspendCount++;
  setLifecycle(thread, "RUNNING");
  if (thread.suspendCount > 0) setLifecycle(thread, "SUSPENDED");
}

/** ThreadDispatcher::Suspend. A NEW thread only counts the suspension. */
export function suspendThread(thread: Thread): void {
  if (!thread.alive) {
    throw new ZxError(ERR.BAD_STATE, `thread ${thread.koid} is ${thread.lifecycle.toLowerCase()}`);
  }
  thread.suspendCount++;
  if (thread.lifecycle === "RUNNING") setLifecycle(thread, "SUSPENDED");
}

/** ThreadDispatcher::Resume: the thread runs again when the last suspension goes. */
export function resumeThread(thread: Thread): void {
  if (thread.suspendCount > 0) thread.suspendCount--;
  if (thread.suspendCount === 0 && thread.lifecycle === "SUSPENDED") {
    setLifecycle(thread, "RUNNING");
  }
}

/** ProcessDispatcher::Suspend: counted; the first one suspends every started thread. */
export function suspendProcess(process: Process): void {
  if (process.state === "DYING" || process.state === "DEAD") {
    throw new ZxError(ERR.BAD_STATE, `process ${process.koid} is ${process.state.toLowerCase()}`);
  }
  if (process.suspendCount++ === 0) {
    for (const thread of process.threads) if (thread.alive) suspendThread(thread);
  }
}

export function resumeProcess(process: Process): void {
  if (process.state === "DYING" || process.state === "DEAD") return;
  if (process.suspendCount > 0 && --process.suspendCount === 0) {
    for (const thread of process.threads) resumeThread(thread);
  }
}

/** Kills every started thread, then the process: DEAD, TERMINATED, handles closed. */
export function killProcess(process: Process, returnCode: number): void {
  if (process.state === "DEAD") return;
  process.state = "DYING";
  process.returnCode = returnCode;
  for (const thread of process.threads) {
    if (thread.lifecycle === "DEAD") continue;
    killedThreadExiting(thread);
    setLifecycle(thread, "DEAD");
  }
  finishDeadTransition(process);
}

/** A process that dies closes its handle table and leaves its job. */
export function finishDeadTransition(process: Process): void {
  process.state = "DEAD";
  process.exceptionate.shutdown();
  process.debugExceptionate.shutdown();
  process.job.processes.delete(process);
  process.updateSignals(0, TASK_TERMINATED);
  process.handles.clear();
  process.job.releaseIfUnused();
}

/**
 * zx_thread_exit: the thread dies; a process whose last running thread is
 * gone exits with return code 0 (unless zx_process_exit set one).
 */
export function exitThread(thread: Thread): void {
  if (thread.lifecycle === "DEAD") return;
  setLifecycle(thread, "DEAD");
  const process = thread.process;
  if (process.state !== "RUNNING") return;
  for (const other of process.threads) if (other.alive) return;
  process.state = "DYING";
  finishDeadTransition(process);
}

/** Kills a job's processes and child jobs, then the job itself. */
export function killJob(job: Job, returnCode: number): void {
  if (job.dead) return;
  job.dead = true;
  for (const child of [...job.childJobs]) killJob(child, returnCode);
  for (const process of [...job.processes]) killProcess(process, returnCode);
  job.exceptionate.shutdown();
  for (const debuggers of job.debugExceptionates) debuggers.shutdown();
  job.updateSignals(0, TASK_TERMINATED);
}
