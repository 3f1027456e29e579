// Runs the code of a kernel's threads on the arch's interpreter cores, in
// turns of a fixed number of instructions, round robin. A turn ends early
// when its thread stops being runnable (a blocking syscall, a fault, death,
// suspension); a core only ever stops between two instructions, so a
// suspended thread's registers are those of the next instruction to run.
//
// Free kernels share one server-wide loop that runs in slices of about two
// milliseconds, so HTTP stays responsive while threads spin; a kernel with
// nothing runnable is not in the loop and costs nothing. Manual kernels run
// only when driven (a client blocked waiting, or POST .../advance), with the
// same turns in the same order, so the same requests give the same bytes.

import { setImmediate } from "node:timers";
import { EXIT, type ExitReason } from "../arch/cpu.ts";
import type { KernelClock } from "./clock.ts";
import { coreException } from "./exceptions.ts";
import { syscallFromCode } from "./code_syscall.ts";
import type { Kernel } from "./kernel.ts";
import type { Thread } from "./thread.ts";

/** Instructions one thread runs before the next runnable thread gets its turn. */
export const QUANTUM = 4096;

/** Wall time one slice of the free loop may hold the event loop. */
const SLICE_MS = 2;

/** Instructions a manual kernel runs between two looks at the event loop. */
const DRIVE_CHUNK = 50_000;

let yields = 0;

/**
 * Lets promises settle and requests in. setImmediate comes back at once but
 * lets little I/O in; every fourth time a timer's turn of the loop polls sockets.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (++yields % 4 === 0) setTimeout(resolve, 0);
    else setImmediate(resolve);
  });
}

export class Runner {
  /** Started threads whose code runs here, in turn order. */
  #threads: Thread[] = [];
  #next = 0;
  /** Instructions retired by this kernel's threads since boot. */
  retired = 0;

  constructor(readonly kernel: Kernel, readonly clock: KernelClock) {}

  /** A thread began running code (zx_thread_start / zx_process_start). */
  add(thread: Thread): void {
    this.#threads.push(thread);
    this.wake();
  }

  /**
   * A thread entered a guest (vcpu_enter): its turns run the guest. A
   * client thread joins the turn order here; a code thread is already in it.
   */
  addGuest(thread: Thread): void {
    const joining = !this.#threads.includes(thread);
    if (joining) this.#threads.push(thread);
    // A client's vcpu_enter in a free kernel: the guest's first turn runs
    // now, so an exit that comes at once (most do: an out, a trapped store)
    // answers without waiting for the shared loop's next slice (~0.6 ms
    // per round trip otherwise). One quantum, as any turn; never inside a
    // run of this kernel (a code thread's vcpu_resume comes from one).
    if (this.clock.mode === "free" && !this.#running && runnable(thread)) {
      this.#turn(thread, QUANTUM);
    }
    this.wake();
  }

  /** Inside run(): turns are being given out. */
  #running = false;

  /** A manual kernel's drive waiting for a halted guest to be woken. */
  readonly #idle = new Set<() => void>();

  /** Something may have become runnable: a free kernel rejoins the loop. */
  wake(): void {
    if (this.clock.mode === "free" && this.hasRunnable()) freeLoop.join(this);
    for (const waiter of [...this.#idle]) waiter();
  }

  hasRunnable(): boolean {
    return this.#threads.some(runnable);
  }

  /**
   * Gives turns to runnable threads until `budget` instructions have run
   * or nothing is runnable. `stopOnEvent` ends it after the first turn in
   * which a thread did something the kernel sees (a syscall, a fault).
   */
  run(budget: number, stopOnEvent = false): { retired: number; events: number } {
    let retired = 0;
    let events = 0;
    this.#threads = this.#threads.filter((t) => t.alive);
    this.#running = true;
    try {
      for (let idle = 0; retired < budget && idle < this.#threads.length;) {
        if (this.#next >= this.#threads.length) this.#next = 0;
        const thread = this.#threads[this.#next++];
        if (!runnable(thread)) {
          idle++;
          continue;
        }
        idle = 0;
        const turn = this.#turn(thread, Math.min(QUANTUM, budget - retired));
        retired += turn.retired;
        events += turn.events;
        if (stopOnEvent && events > 0) break;
      }
    } finally {
      this.#running = false;
    }
    return { retired, events };
  }

  /**
   * Manual kernels: runs threads while `pending` (a client's blocking call)
   * has not settled, jumping virtual time to the next timer whenever
   * nothing can run. Free kernels run on their own; this only waits.
   */
  async driveWhile<T>(pending: Promise<T>): Promise<T> {
    if (this.clock.mode === "free") return await pending;
    let settled = false;
    pending.then(() => settled = true, () => settled = true);
    await yieldToEventLoop();
    while (!settled && this.kernel.alive) {
      if (!this.#step(DRIVE_CHUNK)) {
        // Nothing can happen on its own. A guest halted in vcpu_enter may
        // still be woken from outside (vcpu_interrupt, vcpu_kick, the cap):
        // wait for that; anything else only the server's cap ends.
        if (!this.#threads.some((t) => t.guestRun !== null)) break;
        await new Promise<void>((resolve) => {
          const done = () => {
            this.#idle.delete(done);
            resolve();
          };
          this.#idle.add(done);
          pending.then(done, done);
        });
        continue;
      }
      await yieldToEventLoop();
    }
    return await pending;
  }

  /**
   * Manual kernels: POST /v1/kernels/{id}/advance. Runs until `instructions`
   * more have retired or the clock reaches `untilNs`, whichever comes first,
   * jumping to timers while nothing can run. Stops early if nothing is left
   * to happen, or at `capMs` of wall time.
   */
  async advance(instructions: number, untilNs: number, capMs: number): Promise<number> {
    const start = this.retired;
    const wallEnd = performance.now() + capMs;
    while (this.retired - start < instructions && this.kernel.alive) {
      // One instruction is one ns: a run never overshoots the time asked for.
      const budget = Math.min(
        DRIVE_CHUNK,
        instructions - (this.retired - start),
        untilNs - this.clock.nowNs(),
      );
      if (budget <= 0) break;
      if (!this.#step(budget, untilNs)) break;
      if (performance.now() >= wallEnd) break;
      await yieldToEventLoop();
    }
    if (
      this.clock.nowNs() < untilNs && untilNs !== Number.MAX_SAFE_INTEGER && !this.hasRunnable()
    ) {
      this.clock.advanceTo(untilNs);
    }
    return this.retired - start;
  }

  /**
   * One step of a manual kernel: a run that ends at the first event, or, when
   * nothing is runnable, a jump to the next timer (not past `limitNs`).
   * False when nothing can happen any more without the outside world.
   */
  #step(budget: number, limitNs = Number.MAX_SAFE_INTEGER): boolean {
    if (this.hasRunnable()) {
      this.run(budget, true);
      return true;
    }
    const next = this.clock.nextTimer();
    if (next === undefined || next > limitNs) return false;
    this.clock.advanceTo(next);
    return true;
  }

  /** Counts instructions a guest retired, as #turn counts a thread's. */
  readonly #retire = (instructions: number): void => {
    this.retired += instructions;
    this.clock.retire(instructions);
  };

  /** Runs one thread (or the guest it has entered) for up to `budget` instructions. */
  #turn(thread: Thread, budget: number): { retired: number; events: number } {
    if (thread.guestRun) return thread.guestRun.turn(budget, this.#retire);
    const core = thread.core ??= this.#newCore(thread);
    let retired = 0;
    let events = 0;
    while (retired < budget && runnable(thread)) {
      const exit = core.run(budget - retired);
      retired += core.retired;
      this.retired += core.retired;
      this.clock.retire(core.retired);
      if (exit === EXIT.BUDGET) break;
      events++;
      this.#handleExit(thread, exit);
      // The syscall entered a guest (vcpu_resume from code): the thread is
      // runnable again, but what runs next is the guest, from the next turn,
      // not the code after the syscall instruction.
      if (thread.guestRun !== null) break;
    }
    return { retired, events };
  }

  #newCore(thread: Thread) {
    thread.registers.noteUserExecution();
    return this.kernel.arch.createCore(thread.registers, thread.process.aspace, "user");
  }

  #handleExit(thread: Thread, exit: ExitReason): void {
    if (exit === EXIT.SYSCALL) {
      syscallFromCode(this.kernel, thread);
      return;
    }
    coreException(this.kernel, thread, exit, thread.core!);
  }
}

/**
 * May the thread's code run now? A thread inside vcpu_enter runs its guest
 * instead, unless the guest waits (hlt / wfi); a client thread runs nothing else.
 */
function runnable(thread: Thread): boolean {
  if (thread.lifecycle !== "RUNNING" || thread.inException) return false;
  const guest = thread.guestRun;
  if (guest !== null) return guest.runnable;
  return !thread.inSyscall && thread.driver === "code";
}

/** The server-wide loop that runs free kernels' threads, fairly, in short slices. */
class FreeLoop {
  readonly #active = new Set<Runner>();
  #scheduled = false;

  join(runner: Runner): void {
    this.#active.add(runner);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#active.size === 0) return;
    this.#scheduled = true;
    yieldToEventLoop().then(this.#slice);
  }

  #slice = (): void => {
    this.#scheduled = false;
    const until = performance.now() + SLICE_MS;
    while (this.#active.size > 0 && performance.now() < until) {
      for (const runner of this.#active) {
        if (!runner.hasRunnable()) {
          this.#active.delete(runner);
          continue;
        }
        runner.run(QUANTUM);
        // To the back of the queue: the next slice starts with another kernel.
        this.#active.delete(runner);
        this.#active.add(runner);
        if (performance.now() >= until) break;
      }
    }
    this.#schedule();
  };
}

const freeLoop = new FreeLoop();
