// What one kernel may hold, and the count of its live objects. Zircon runs
// out of kernel memory (ZX_ERR_NO_MEMORY) long before any fixed table fills;
// zxsim gives each kernel explicit caps instead, so one kernel cannot take
// the memory its server shares with the others. Every cap is checked before
// anything is created: a call over a limit changes nothing.

import type { KernelObject } from "./object.ts";
import { ERR, ZxError } from "./status.ts";
import { OBJ_TYPE } from "./types.ts";
import { MAX_LIVE_HANDLES } from "./handle_table.ts";
import { DEFAULT_MAX_COMMITTED_BYTES } from "./vm/memory_budget.ts";

/**
 * Live kernel objects per kernel. An object costs well under 2 KiB of heap
 * (a NEW thread with its handle measured about 0.5 KiB), so 65,536 objects
 * stay under about 100 MiB: with the 256 MiB memory budget a kernel at every
 * cap is under 0.5 GiB, and a 24 GiB server holds dozens of full kernels and
 * many hundreds of ordinary ones (ZXSIM_MAX_OBJECTS).
 */
export const DEFAULT_MAX_OBJECTS = 65_536;
/** Threads per process, created and not yet destroyed (ZXSIM_MAX_THREADS_PER_PROCESS). */
export const DEFAULT_MAX_THREADS_PER_PROCESS = 4_096;

/** A kernel's caps, by the names POST /v1/kernels `limits` and the summary use. */
export interface KernelLimits {
  /** Live jobs, processes, threads, VMOs, channel endpoints, ports and suspend tokens. */
  readonly objects: number;
  /** Threads of one process, created and not destroyed. */
  readonly threads_per_process: number;
  /** Live handles (Zircon's handle arena). */
  readonly handles: number;
  /** Bytes its VMOs may commit. */
  readonly committed_bytes: number;
}

export const DEFAULT_KERNEL_LIMITS: KernelLimits = {
  objects: DEFAULT_MAX_OBJECTS,
  threads_per_process: DEFAULT_MAX_THREADS_PER_PROCESS,
  handles: MAX_LIVE_HANDLES,
  committed_bytes: DEFAULT_MAX_COMMITTED_BYTES,
};

/** NO_MEMORY, as Zircon fails a create when the kernel is out of memory. */
export function outOfMemory(message: string): ZxError {
  return new ZxError(ERR.NO_MEMORY, message);
}

// Shapes of the objects the ledger looks into (structural, to keep imports one way).
interface ThreadLike {
  readonly lifecycle: string;
  readonly process: { readonly createdThreads: ReadonlySet<unknown> };
}
interface ProcessLike {
  readonly state: string;
}
interface JobLike {
  readonly dead: boolean;
  readonly childJobs: ReadonlySet<unknown>;
  readonly processes: ReadonlySet<unknown>;
}
interface VmoLike {
  readonly mappings: { readonly size: number };
  readonly retainedByKernel: boolean;
}

/**
 * Whether the kernel model has let go of `object`: a thread once destroyed
 * (it left its process), a process once dead with no handle, a job with no
 * handle and no children, a VMO with no handle, mapping or kernel use, and
 * anything else (channel endpoints, ports, suspend tokens) once its last
 * handle is gone, whether from a handle table or a message in a channel.
 */
export function released(object: KernelObject): boolean {
  switch (object.type) {
    case OBJ_TYPE.THREAD: {
      const thread = object as unknown as ThreadLike;
      return !thread.process.createdThreads.has(object);
    }
    case OBJ_TYPE.PROCESS:
      return object.handleCount === 0 && (object as unknown as ProcessLike).state === "DEAD";
    case OBJ_TYPE.JOB: {
      const job = object as unknown as JobLike;
      return object.handleCount === 0 && job.childJobs.size === 0 &&
        (job.dead || job.processes.size === 0);
    }
    case OBJ_TYPE.VMO: {
      const vmo = object as unknown as VmoLike;
      return object.handleCount === 0 && vmo.mappings.size === 0 && !vmo.retainedByKernel;
    }
    default:
      return object.handleCount === 0;
  }
}

/**
 * The objects a kernel's syscalls have created and the model still holds.
 * Threads leave as they are destroyed; anything else is found released by a
 * sweep, run when the count reaches the limit and when the count is read.
 */
export class ObjectLedger {
  readonly #live = new Set<KernelObject>();

  constructor(readonly limit: number) {}

  /** Live objects right now (sweeps first). */
  get count(): number {
    this.sweep();
    return this.#live.size;
  }

  /** Throws NO_MEMORY unless `count` more objects fit; call before any side effect. */
  reserve(count: number): void {
    if (this.#live.size + count <= this.limit) return;
    this.sweep();
    if (this.#live.size + count > this.limit) {
      throw outOfMemory(
        `out of kernel objects: this kernel already has ${this.#live.size} of ${this.limit} ` +
          "(close handles, or lower use; see limits in GET /v1/kernels/{id})",
      );
    }
  }

  /** Counts `object` as live; returns it. */
  track<T extends KernelObject>(object: T): T {
    this.#live.add(object);
    return object;
  }

  /** `object` is gone (a destroyed thread). */
  untrack(object: KernelObject): void {
    this.#live.delete(object);
  }

  sweep(): void {
    for (const object of this.#live) if (released(object)) this.#live.delete(object);
  }
}
