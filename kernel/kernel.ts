// One simulated kernel: its architecture, boot options, koid counter and the
// objects a bootstrap thread starts with. Kernels share nothing.

import type { Arch } from "../arch/arch.ts";
import { HandleIdSource, MAX_LIVE_HANDLES } from "./handle_table.ts";
import { Job } from "./job.ts";
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
import { Vmar } from "./vmar.ts";

export interface BootOptions {
  /** kernel.enable-debugging-syscalls: gates debug-register and single-step writes. */
  readonly enable_debugging_syscalls: boolean;
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
  readonly #bootMs = performance.now();
  readonly handleIds: HandleIdSource;
  readonly rootJob: Job;
  readonly hypervisorResource: Resource;
  readonly bootThread: Thread;
  readonly bootstrapHandles: BootstrapHandles;

  constructor(
    readonly id: string,
    readonly arch: Arch,
    readonly bootOptions: BootOptions,
    maxHandles = MAX_LIVE_HANDLES,
  ) {
    this.handleIds = new HandleIdSource(maxHandles);
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

  nextKoid(): number {
    return this.#nextKoid++;
  }

  /** Monotonic time in ns since this kernel booted (zx_clock_get_monotonic). */
  now(): bigint {
    return BigInt(Math.floor((performance.now() - this.#bootMs) * 1e6));
  }

  createProcess(job: Job, name: Uint8Array): Process {
    const { base, end } = this.arch.userAspace;
    const koid = this.nextKoid();
    const vmar = new Vmar(this.nextKoid(), base, end - base);
    const process = new Process(koid, job, vmar, this.handleIds);
    process.setNameBytes(name);
    return process;
  }

  createThread(process: Process, name: Uint8Array): Thread {
    const thread = new Thread(this.nextKoid(), process, this.arch.newRegisters());
    thread.setNameBytes(name);
    return thread;
  }

  /** Deleting a kernel kills everything in it, ending any blocked calls. */
  shutdown(): void {
    killJob(this.rootJob, TASK_RETCODE_SYSCALL_KILL);
  }
}
