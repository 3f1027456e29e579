// A VCPU (ZX_OBJ_TYPE_VCPU, Zircon's VcpuDispatcher and arch Vcpu): one
// guest CPU bound to the thread that created it, its pending interrupts and
// kick flag, and the run of a vcpu_enter in flight (GuestRun), which the
// kernel's Runner gives turns like any thread's code.

import { EXIT } from "../arch/cpu.ts";
import type { GuestCpu } from "../arch/vcpu.ts";
import type { Guest } from "./guest.ts";
import type { Kernel } from "./kernel.ts";
import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { ERR, ZxError } from "./status.ts";
import { killedWhileBlocked } from "./syscalls/blocking.ts";
import type { Thread } from "./thread.ts";
import { OBJ_TYPE } from "./types.ts";
import { type ExitOutcome, handleExit, queueBell } from "./vcpu_exits.ts";

export class Vcpu extends KernelObject {
  readonly type = OBJ_TYPE.VCPU;
  readonly defaultRights = DEFAULT_RIGHTS.vcpu;
  /** Vcpu::kicked_: the current or next enter returns CANCELED once. */
  kicked = false;
  /** The vcpu_enter in flight, if any. */
  run: GuestRun | null = null;
  /**
   * A BELL write whose packet was still waiting for a free one of its trap
   * when the server's cap ended the enter: the next enter queues it (and
   * waits again if need be) before the guest runs on, so none is lost.
   */
  pendingBell: BellWait | null = null;
  /** Pending interrupt vectors, a bit each (InterruptTracker's bitmap). */
  readonly #pending: Uint32Array;
  #pendingCount = 0;
  #destroyed = false;

  constructor(
    koid: number,
    readonly guest: Guest,
    /** The creating thread: the only one that may enter it or read and write its state. */
    readonly thread: Thread,
    readonly vpid: number,
    readonly cpu: GuestCpu,
  ) {
    super(koid);
    this.#pending = new Uint32Array(Math.ceil(guest.arch.vectors / 32));
    thread.vcpu = this;
    guest.vcpuCreated();
  }

  get hasPendingInterrupt(): boolean {
    return this.#pendingCount > 0;
  }

  /** Vcpu::Interrupt: marks `vector` pending and wakes a guest waiting in hlt / wfi. */
  interrupt(vector: number): void {
    const word = vector >>> 5, bit = 1 << (vector & 31);
    if ((this.#pending[word] & bit) === 0) {
      this.#pending[word] |= bit;
      this.#pendingCount++;
    }
    this.run?.wake();
  }

  /** Vcpu::Kick: a one-shot flag; a guest waiting in hlt / wfi stops waiting. */
  kick(): void {
    this.kicked = true;
    this.run?.kicked();
  }

  #isPending(vector: number): boolean {
    return (this.#pending[vector >>> 5] & (1 << (vector & 31))) !== 0;
  }

  /**
   * The pending vector offered next: the arch's urgent one (x64 NMI), else
   * the best priority (arm64 GIC; lower first), the highest vector among
   * equals; -1 when none is pending.
   */
  #nextPending(): number {
    const arch = this.guest.arch;
    const urgent = arch.urgentVector;
    if (urgent !== null && this.#isPending(urgent)) return urgent;
    const priorityOf = arch.interruptPriority;
    let best = -1, bestPriority = Infinity;
    for (let word = this.#pending.length - 1; word >= 0; word--) {
      const bits = this.#pending[word];
      for (let bit = 31; bits !== 0 && bit >= 0; bit--) {
        if ((bits & (1 << bit)) === 0) continue;
        const vector = word * 32 + bit;
        if (priorityOf === null) return vector;
        const priority = priorityOf(vector);
        if (priority < bestPriority) [best, bestPriority] = [vector, priority];
      }
    }
    return best;
  }

  #clearPending(vector: number): void {
    this.#pending[vector >>> 5] &= ~(1 << (vector & 31));
    this.#pendingCount--;
  }

  /**
   * What Vcpu::Enter does before each entry into the guest: the kick flag
   * (test-and-clear: CANCELED), then the urgent or highest pending interrupt (x64: a
   * vector Zircon reserves is NOT_SUPPORTED), delivered if the guest
   * accepts interrupts now, else left pending.
   */
  beforeEntry(): ZxError | null {
    if (this.kicked) {
      this.kicked = false;
      return new ZxError(ERR.CANCELED, "the VCPU was kicked (zx_vcpu_kick)");
    }
    if (this.#pendingCount === 0) return null;
    const arch = this.guest.arch;
    const vector = this.#nextPending();
    if (arch.invalidInterrupt(vector)) {
      this.#clearPending(vector);
      return new ZxError(
        ERR.NOT_SUPPORTED,
        `interrupt vector ${vector} is reserved (between X86_INT_VIRT and X86_INT_PLATFORM_BASE)`,
      );
    }
    if (this.cpu.interruptible(vector)) {
      this.#clearPending(vector);
      this.cpu.interrupt(vector);
      for (let v = 0; v < arch.vectors && this.#pendingCount > 0; v++) {
        if (this.#isPending(v) && arch.discardedOnDelivery(v)) this.#clearPending(v);
      }
    }
    return null;
  }

  /** The last handle is gone: the VCPU goes once no vcpu_enter holds it. */
  override onZeroHandles(): void {
    if (this.run === null) this.destroy();
  }

  /** ~Vcpu: the thread may create another; the VPID is free again. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.thread.vcpu === this) this.thread.vcpu = null;
    this.guest.vcpuDestroyed(this.vpid);
  }
}

/** A BELL packet waiting for its trap to have a free packet. */
type BellWait = Extract<ExitOutcome, { kind: "bell_full" }>;

/**
 * One vcpu_enter in flight: the loop of Vcpu::Enter, run in the Runner's
 * turns. It ends with a packet (resolve) or a status (reject).
 */
export class GuestRun {
  /** In hlt / wfi with nothing pending: not runnable until an interrupt or a kick. */
  halted = false;
  /** Waiting for a BELL packet to be freed: stops that wait. */
  #bellWait: (() => void) | null = null;
  /** The BELL write that waits. */
  #bellPending: BellWait | null = null;
  #done = false;
  #capTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onDeath = () => this.#fail(killedWhileBlocked());
  /**
   * Suspended, the thread's guest pauses (the Runner skips it); resumed, it
   * goes on, as Zircon restarts the enter transparently. A client thread has
   * no runner of its own to tell, so the run tells the kernel's.
   */
  readonly #onSuspend = () => {
    void this.vcpu.thread.untilRunnable().then(() => this.kernel.runner.wake());
  };

  constructor(
    readonly vcpu: Vcpu,
    readonly kernel: Kernel,
    maxBlockMs: number,
    readonly resolve: (packet: Uint8Array) => void,
    readonly reject: (error: unknown) => void,
  ) {
    // The server's cap on one request: the VCPU is kicked, so the call
    // returns CANCELED (decisions.md). Code threads have no cap.
    if (Number.isFinite(maxBlockMs)) {
      this.#capTimer = setTimeout(() => this.#capReached(), Math.max(0, maxBlockMs));
    }
    vcpu.thread.deathListeners.add(this.#onDeath);
    vcpu.thread.suspendListeners.add(this.#onSuspend);
  }

  get runnable(): boolean {
    return !this.#done && !this.halted && this.#bellWait === null;
  }

  /** An interrupt arrived: a halted guest runs again. */
  wake(): void {
    if (this.#done || !this.halted) return;
    this.halted = false;
    this.kernel.runner.wake();
  }

  /**
   * The server's cap: the VCPU is kicked. A BELL write waiting for a packet
   * is not lost: the VCPU keeps it for its next enter.
   */
  #capReached(): void {
    const bell = this.#bellPending;
    if (this.#done || bell === null) {
      this.vcpu.kick();
      return;
    }
    this.vcpu.pendingBell = bell;
    this.#fail(
      new ZxError(
        ERR.CANCELED,
        "the server's cap on one request was reached while the guest waited for a free BELL " +
          "packet (the next vcpu_enter queues it first)",
      ),
    );
  }

  /**
   * A kick: a running guest sees it before its next entry; one in hlt / wfi
   * stops waiting and the call returns CANCELED, consuming the kick. A VCPU
   * waiting for a free BELL packet goes on waiting (Zircon's wait on the
   * trap's packet semaphore is not interrupted by a kick) and sees the kick
   * once the packet is queued.
   */
  kicked(): void {
    if (this.#bellWait !== null) return;
    if (this.#done || this.runnable) {
      this.kernel.runner.wake();
      return;
    }
    if (this.vcpu.thread.lifecycle === "SUSPENDED") {
      // The thread cannot return from its syscall while suspended: the
      // guest stops waiting and the kick is seen once it is resumed.
      this.halted = false;
      return;
    }
    this.vcpu.kicked = false;
    this.#fail(new ZxError(ERR.CANCELED, "the VCPU was kicked while the guest waited"));
  }

  /**
   * Runs the guest for up to `budget` instructions; `retire` counts them on
   * the kernel's clock. An exit the kernel handles counts as an event.
   */
  turn(budget: number, retire: (instructions: number) => void) {
    let retired = 0;
    let events = 0;
    const cpu = this.vcpu.cpu;
    const thread = this.vcpu.thread;
    const bell = this.vcpu.pendingBell;
    if (bell !== null) {
      // The write an earlier enter left waiting for a packet (the cap ended it).
      this.vcpu.pendingBell = null;
      events++;
      this.#apply(queueBell(bell.trap, bell.packet));
    }
    while (retired < budget && this.runnable && thread.lifecycle === "RUNNING") {
      const refused = this.vcpu.beforeEntry();
      if (refused) {
        events++;
        this.#fail(refused);
        break;
      }
      const exit = cpu.run(budget - retired);
      retired += cpu.retired;
      retire(cpu.retired);
      if (exit === EXIT.BUDGET) continue;
      events++;
      if (this.#apply(handleExit(this.vcpu, exit))) retired++;
    }
    return { retired, events };
  }

  /** Acts on an exit's outcome; true if it made no progress (charged to the turn). */
  #apply(outcome: ExitOutcome): boolean {
    switch (outcome.kind) {
      case "continue":
        return false;
      case "refault":
        return true;
      case "halt":
        this.halted = true;
        return false;
      case "packet":
        this.#finish(() => this.resolve(outcome.packet));
        return false;
      case "bell_full":
        this.#waitForBellPacket(outcome);
        return false;
      case "error":
        this.#fail(outcome.error);
        return false;
    }
  }

  /** Every packet of the trap is queued: the VCPU waits until one is dequeued. */
  #waitForBellPacket(outcome: BellWait): void {
    this.#bellPending = outcome;
    const stop = outcome.trap.onFreed(() => {
      this.#bellWait = null;
      this.#bellPending = null;
      if (this.#done) return;
      this.#apply(queueBell(outcome.trap, outcome.packet));
      this.kernel.runner.wake();
    });
    this.#bellWait = stop;
  }

  #fail(error: unknown): void {
    this.#finish(() => this.reject(error));
  }

  #finish(settle: () => void): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#capTimer);
    this.#bellWait?.();
    this.#bellWait = null;
    this.#bellPending = null;
    const vcpu = this.vcpu;
    vcpu.thread.deathListeners.delete(this.#onDeath);
    vcpu.thread.suspendListeners.delete(this.#onSuspend);
    if (vcpu.thread.guestRun === this) vcpu.thread.guestRun = null;
    vcpu.run = null;
    if (vcpu.handleCount === 0) vcpu.destroy();
    settle();
  }
}

/**
 * Vcpu::Enter from the calling thread (already checked to be the VCPU's):
 * resolves with the packet of the exit that ends it. A kick made before
 * the call cancels it at once; everything else happens in the Runner's turns.
 */
export function enterVcpu(kernel: Kernel, vcpu: Vcpu, maxBlockMs: number): Promise<Uint8Array> {
  if (vcpu.kicked) {
    vcpu.kicked = false;
    throw new ZxError(ERR.CANCELED, "the VCPU was kicked (zx_vcpu_kick) before this enter");
  }
  return new Promise((resolve, reject) => {
    const run = new GuestRun(vcpu, kernel, maxBlockMs, resolve, reject);
    vcpu.run = run;
    vcpu.thread.guestRun = run;
    kernel.runner.addGuest(vcpu.thread);
  });
}
