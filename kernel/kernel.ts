// One simulated kernel: its architecture, boot options, koid counter and the
// objects a bootstrap thread starts with. Kernels share nothing.

import type { Arch } from "../arch/arch.ts";
import { KernelClock, type SchedulerMode } from "./clock.ts";
import { DebugLog } from "./debuglog.ts";
import { threadStarting } from "./exceptions.ts";
import { Runner } from "./runner.ts";
import { HandleIdSource } from "./handle_table.ts";
import { Job } from "./job.ts";
import { DEFAULT_KERNEL_LIMITS, type KernelLimits, ObjectLedger, outOfMemory } from "./limits.ts";
import { Process } from "./process.ts";
import { Resource } from "./resource.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { killJob, startThread } from "./scheduler.ts";
import { Thread } from "./thread.ts";
import {
  RSRC_KIND_SYSTEM,
  RSRC_SYSTEM_HYPERVISOR_BASE,
  TASK_RETCODE_SYSCALL_KILL,
} from "./types.ts";
import { ProcessAddressSpace } from "./vm/address_space.ts";
import { MemoryBudget } from "./vm/memory_budget.ts";
import { mapVdso } from "./vdso/map.ts";

export interface BootOptions {
  /** kernel.enable-debugging-syscalls: gates debug-register and single-step writes. */
  readonly enable_debugging_syscalls: boolean;
  /**
   * zxsim's own: "free" runs threads on their own against wall time, like
   * hardware; "manual" runs them only while a client waits or advances the
   * kernel, on virtual time, so runs repeat byte for byte.
   */
  readonly scheduler: SchedulerMode;
}

/** The handle values the bootstrap thread finds in its process. */
export interface BootstrapHandles {
  readonly root_job: number;
  readonly hypervisor_resource: number;
  readonly process: number;
  readonly vmar: number;
  readonly thread: number;
}

/** ZX_KOID_FIRST: koids below it are reserved (0 invalid, 1 the kernel). */
const KOID_FIRST = 1024;

const encoder = new TextEncoder();

export class Kernel {
  #nextKoid = KOID_FIRST;
  readonly clock: KernelClock;
  readonly runner: Runner;
  readonly debuglog = new DebugLog();
  readonly handleIds: HandleIdSource;
  readonly rootJob: Job;
  readonly hypervisorResource: Resource;
  readonly bootThread: Thread;
  readonly bootstrapHandles: BootstrapHandles;
  /** The bytes this kernel's VMOs may commit (ZXSIM_MAX_COMMITTED_BYTES). */
  readonly memory: MemoryBudget;
  /** Its caps (kernel/limits.ts): objects, threads per process, handles, memory. */
  readonly limits: KernelLimits;
  /** The live objects its syscalls created, against limits.objects. */
  readonly objects: ObjectLedger;

  constructor(
    readonly id: string,
    readonly arch: Arch,
    readonly bootOptions: BootOptions,
    limits: Partial<KernelLimits> = {},
  ) {
    this.limits = { ...DEFAULT_KERNEL_LIMITS, ...limits };
    this.objects = new ObjectLedger(this.limits.objects);
    this.memory = new MemoryBudget(this.limits.committed_bytes);
    this.clock = new KernelClock(bootOptions.scheduler);
    this.runner = new Runner(this, this.clock);
    // A manual kernel repeats itself byte for byte, handle values included.
    this.handleIds = new HandleIdSource(
      this.limits.handles,
      bootOptions.scheduler === "manual" ? 0x2f6b_1d35 : 0,
    );
    this.rootJob = new Job(this.nextKoid(), null);
    this.rootJob.setNameBytes(encoder.encode("root"));
    this.hypervisorResource = new Resource(
      this.nextKoid(),
      RSRC_KIND_SYSTEM,
      RSRC_SYSTEM_HYPERVISOR_BASE,
      1,
    );
    this.hypervisorResource.setNameBytes(encoder.encode("hypervisor"));
    const process = this.createProcess(this.rootJob, encoder.encode("bootstrap"));
    this.bootThread = this.createThread(process, encoder.encode("bootstrap"));
    startThread(this.bootThread, this.now());
    this.bootThread.driver = "client";
    const add = (object: Job | Resource | Process | Thread, rights: number) =>
      process.handles.add(object, rights).value;
    this.bootstrapHandles = {
      root_job: add(this.rootJob, DEFAULT_RIGHTS.job),
      hypervisor_resource: add(this.hypervisorResource, DEFAULT_RIGHTS.resource),
      process: add(process, DEFAULT_RIGHTS.process),
      vmar: process.handles.add(process.rootVmar, process.rootVmar.handleRights).value,
      thread: add(this.bootThread, DEFAULT_RIGHTS.thread),
    };
  }

  /** False once the kernel has been deleted (its root job killed). */
  get alive(): boolean {
    return !this.rootJob.dead;
  }

  nextKoid(): number {
    return this.#nextKoid++;
  }

  /** Monotonic time in ns since this kernel booted (zx_clock_get_monotonic). */
  now(): bigint {
    return this.clock.now();
  }

  /**
   * Throws NO_MEMORY unless `objects` more objects fit in this kernel and, for
   * a thread, one more in `process`; call before any side effect.
   */
  reserveObjects(objects: number, process?: Process): void {
    if (process && process.createdThreads.size >= this.limits.threads_per_process) {
      throw outOfMemory(
        `process ${process.koid} already has ${process.createdThreads.size} threads, this ` +
          `kernel's limit (threads_per_process ${this.limits.threads_per_process})`,
      );
    }
    this.objects.reserve(objects);
  }

  createProcess(job: Job, name: Uint8Array): Process {
    const { base, end } = this.arch.userAspace;
    const koid = this.nextKoid();
    const aspace = new ProcessAddressSpace(
      `proc:${koid}`,
      this.nextKoid(),
      Number(base),
      Number(end - base),
    );
    const process = new Process(koid, job, aspace, this.handleIds);
    process.ledger = this.objects;
    this.objects.track(process);
    process.setNameBytes(name);
    process.onStart = () => this.#mapVdso(process);
    return process;
  }

  createThread(process: Process, name: Uint8Array): Thread {
    const thread = new Thread(this.nextKoid(), process, this.arch.newRegisters());
    this.objects.track(thread);
    thread.setNameBytes(name);
    return thread;
  }

  /** Every process gets the vDSO when it starts: code makes syscalls only through it. */
  #mapVdso(process: Process): void {
    process.vdsoBase = mapVdso(this, process);
  }

  /**
   * A NEW thread starts running its code (the caller has done every check).
   * `arg2` "vdso" passes the vDSO's base, known once the process has started.
   */
  startCodeThread(
    thread: Thread,
    entry: bigint,
    stack: bigint,
    arg1: bigint,
    arg2: bigint | "vdso",
  ): void {
    thread.registers.setStart(entry, stack, arg1, arg2 === "vdso" ? 0n : arg2);
    thread.driver = "code";
    thread.runner = this.runner;
    const initial = thread.process.state === "INITIAL";
    startThread(thread, this.now());
    if (arg2 === "vdso") {
      thread.registers.setStart(entry, stack, arg1, BigInt(thread.process.vdsoBase ?? 0));
    }
    // Debuggers see it start before its first instruction.
    threadStarting(this, thread, initial);
    this.runner.add(thread);
  }

  /** Deleting a kernel kills everything in it, ending any blocked calls. */
  shutdown(): void {
    killJob(this.rootJob, TASK_RETCODE_SYSCALL_KILL);
  }
}
