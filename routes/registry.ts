// The kernels this server hosts and the bearer tokens that act as their
// threads. Tokens are an HTTP notion, so they live here, not in kernel/.

import type { Abi, ArchName } from "../arch/arch.ts";
import type { Caller } from "../kernel/syscalls/define.ts";
import { archByName } from "../arch/registry.ts";
import { type BootOptions, Kernel } from "../kernel/kernel.ts";
import type { KernelLimits } from "../kernel/limits.ts";
import { ERR, ZxError } from "../kernel/status.ts";
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

/**
 * The syscalls whose impl may block (return a promise): at the server's cap on
 * blocked calls they are refused before they run, so none is left half-done.
 */
export const MAY_BLOCK: ReadonlySet<string> = new Set([
  "object_wait_one",
  "port_wait",
  "channel_call",
  "nanosleep",
  "vcpu_enter",
  "vcpu_resume",
]);

/** How many requests are blocked in a syscall right now, server-wide, against a cap. */
export class BlockedCalls {
  #count = 0;
  constructor(readonly limit: number) {}

  get count(): number {
    return this.#count;
  }

  /** Throws NO_RESOURCES if `name` may block and the server is at its cap; call before impl. */
  admit(name: string): void {
    if (this.#count < this.limit || !MAY_BLOCK.has(name)) return;
    throw new ZxError(
      ERR.NO_RESOURCES,
      `this server already has ${this.#count} calls blocked, its limit ` +
        "(ZXSIM_MAX_BLOCKED_CALLS); try again once some return",
    );
  }

  /** Counts `pending` as blocked until it settles. */
  async hold<T>(pending: Promise<T>): Promise<T> {
    this.#count++;
    try {
      return await pending;
    } finally {
      this.#count--;
    }
  }
}

/** Server-wide caps: kernels, blocked calls, expiry, and each kernel's caps (the most it may ask). */
export interface Limits {
  readonly maxKernels: number;
  readonly maxBlockedCalls: number;
  /** A kernel no request has used for this long (ms) is deleted; 0 = never. */
  readonly kernelTtlMs: number;
  /** The most each kernel may have; POST /v1/kernels may lower them. */
  readonly kernel: KernelLimits;
  /** The clock expiry reads, in ms (tests inject one). Default performance.now. */
  readonly now?: () => number;
}

interface Entry {
  readonly kernel: Kernel;
  readonly tokens: Set<string>;
  /** When a request last used one of its tokens (the `now` clock, ms). */
  lastUsed: number;
}

/** How often (ms at most) token lookups look for expired kernels. */
const EXPIRY_SCAN_MS = 1000;

export class KernelRegistry {
  readonly blocked: BlockedCalls;
  readonly #now: () => number;
  #lastScan = -Infinity;

  constructor(readonly limits: Limits) {
    this.blocked = new BlockedCalls(limits.maxBlockedCalls);
    this.#now = limits.now ?? (() => performance.now());
  }

  readonly #kernels = new Map<string, Entry>();
  readonly #sessions = new Map<string, Session>();

  /** A new kernel with at most `limits` (each at most the server's; see KernelLimits). */
  create(
    arch: ArchName,
    bootOptions: BootOptions,
    limits: Partial<KernelLimits> = {},
  ): { kernel: Kernel; token: string } {
    const impl = archByName(arch);
    if (!impl) throw new Error(`unknown arch ${arch}`);
    const kernel = new Kernel(randomToken(9), impl, bootOptions, {
      ...this.limits.kernel,
      ...limits,
    });
    this.#kernels.set(kernel.id, { kernel, tokens: new Set(), lastUsed: this.#now() });
    return { kernel, token: this.issueToken(kernel, kernel.bootThread) };
  }

  /** How many kernels this server hosts now. */
  get size(): number {
    return this.#kernels.size;
  }

  /**
   * Deletes every kernel unused for the TTL, as DELETE would; returns how
   * many. Runs when the server is full (before refusing a create) and at
   * most once a second on token lookups.
   */
  expire(): number {
    const ttl = this.limits.kernelTtlMs;
    const now = this.#now();
    this.#lastScan = now;
    if (ttl <= 0) return 0;
    let deleted = 0;
    for (const [id, entry] of this.#kernels) {
      if (now - entry.lastUsed >= ttl && this.delete(id)) deleted++;
    }
    return deleted;
  }

  /** A new unguessable (256-bit) token acting as `thread`. */
  issueToken(kernel: Kernel, thread: Thread): string {
    const token = randomToken(32);
    this.#sessions.set(token, { kernel, thread });
    this.#kernels.get(kernel.id)?.tokens.add(token);
    return token;
  }

  /** The session of `token`, marking its kernel used (expired kernels go first). */
  session(token: string): Session | undefined {
    const now = this.#now();
    if (this.limits.kernelTtlMs > 0 && now - this.#lastScan >= EXPIRY_SCAN_MS) this.expire();
    const session = this.#sessions.get(token);
    if (!session) return undefined;
    const entry = this.#kernels.get(session.kernel.id);
    if (!entry) return session;
    const ttl = this.limits.kernelTtlMs;
    if (ttl > 0 && now - entry.lastUsed >= ttl) {
      this.delete(session.kernel.id); // expired since the last scan
      return undefined;
    }
    entry.lastUsed = now;
    return session;
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

  /** At the cap on kernels, once expired ones are gone. */
  get full(): boolean {
    if (this.#kernels.size < this.limits.maxKernels) return false;
    this.expire();
    return this.#kernels.size >= this.limits.maxKernels;
  }
}
