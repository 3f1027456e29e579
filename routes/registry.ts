// The kernels this server hosts and the bearer tokens that act as their
// threads. Tokens are an HTTP notion, so they live here, not in kernel/.

import type { Abi, ArchName } from "../arch/arch.ts";
import type { Caller } from "../kernel/syscalls/define.ts";
import { archByName } from "../arch/registry.ts";
import { type BootOptions, Kernel } from "../kernel/kernel.ts";
import type { Thread } from "../kernel/thread.ts";

export interface Session {
  readonly kernel: Kernel;
  readonly thread: Thread;
}

/** The syscall caller a session's request acts as. */
export function callerOf(session: Session, abi: Abi, maxBlockMs: number): Caller {
  const { kernel, thread } = session;
  return {
    kernel,
    thread,
    process: thread.process,
    handles: thread.process.handles,
    abi,
    maxBlockMs,
  };
}

function randomToken(bytes: number): string {
  return crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** How many kernels one server hosts, and how many handles and committed bytes each may have. */
export interface Limits {
  readonly maxKernels: number;
  readonly maxHandles: number;
  readonly maxCommittedBytes?: number;
}

export class KernelRegistry {
  constructor(readonly limits: Limits) {}

  readonly #kernels = new Map<string, { kernel: Kernel; tokens: Set<string> }>();
  readonly #sessions = new Map<string, Session>();

  create(arch: ArchName, bootOptions: BootOptions): { kernel: Kernel; token: string } {
    const impl = archByName(arch);
    if (!impl) throw new Error(`unknown arch ${arch}`);
    const { maxHandles, maxCommittedBytes } = this.limits;
    const kernel = new Kernel(randomToken(9), impl, bootOptions, maxHandles, maxCommittedBytes);
    this.#kernels.set(kernel.id, { kernel, tokens: new Set() });
    return { kernel, token: this.issueToken(kernel, kernel.bootThread) };
  }

  /** A new unguessable (256-bit) token acting as `thread`. */
  issueToken(kernel: Kernel, thread: Thread): string {
    const token = randomToken(32);
    this.#sessions.set(token, { kernel, thread });
    this.#kernels.get(kernel.id)?.tokens.add(token);
    return token;
  }

  session(token: string): Session | undefined {
    return this.#sessions.get(token);
  }

  get(id: string): Kernel | undefined {
    return this.#kernels.get(id)?.kernel;
  }

  /** Deletes a kernel: everything in it dies and its tokens stop working. */
  delete(id: string): boolean {
    const entry = this.#kernels.get(id);
    if (!entry) return false;
    this.#kernels.delete(id);
    for (const token of entry.tokens) this.#sessions.delete(token);
    entry.kernel.shutdown();
    return true;
  }

  get full(): boolean {
    return this.#kernels.size >= this.limits.maxKernels;
  }
}
