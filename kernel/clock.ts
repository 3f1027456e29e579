// A kernel's monotonic clock and its timers (zx_clock_get_monotonic,
// deadlines, nanosleep). Two modes, chosen when the kernel boots:
// - "free": like hardware, the clock is wall time since boot and threads run
//   on their own;
// - "manual": virtual time that moves only when the kernel runs code (one
//   nanosecond per instruction, a 1 GHz CPU retiring one instruction a cycle)
//   or jumps to the next timer when nothing can run, so the same requests
//   give the same results byte for byte.

export type SchedulerMode = "free" | "manual";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/** Largest delay setTimeout takes (about 24.8 days); later deadlines never fire. */
const MAX_TIMEOUT_MS = 0x7fff_ffff;

export class KernelClock {
  readonly #bootMs = performance.now();
  /** Manual mode: ns since boot. */
  #virtualNs = 0;
  /** Manual mode: pending timers, earliest first (then in the order they were set). */
  #timers: Timer[] = [];
  #seq = 0;

  constructor(readonly mode: SchedulerMode) {}

  /** ns since boot, as a JS number (exact for 104 days). */
  nowNs(): number {
    if (this.mode === "manual") return this.#virtualNs;
    return Math.floor((performance.now() - this.#bootMs) * 1e6);
  }

  now(): bigint {
    return BigInt(this.nowNs());
  }

  /** Calls `fire` once the clock reaches `deadline` (ns). Returns a function that cancels it. */
  at(deadline: bigint, fire: () => void): () => void {
    if (this.mode === "free") {
      let id: ReturnType<typeof setTimeout> | undefined;
      // Timers may fire a little early by this clock: re-arm for what is left.
      const arm = () => {
        const delayMs = Number(deadline - this.now()) / 1e6;
        if (delayMs > MAX_TIMEOUT_MS) return;
        if (delayMs <= 0) return fire();
        id = setTimeout(arm, Math.max(1, Math.ceil(delayMs)));
      };
      const delayMs = Number(deadline - this.now()) / 1e6;
      if (delayMs > MAX_TIMEOUT_MS) return () => {};
      id = setTimeout(arm, Math.max(0, Math.ceil(delayMs)));
      return () => clearTimeout(id);
    }
    const at = deadline > BigInt(Number.MAX_SAFE_INTEGER)
      ? Number.MAX_SAFE_INTEGER
      : Number(deadline);
    const timer: Timer = { at, seq: this.#seq++, fire };
    let i = this.#timers.length;
    while (i > 0 && this.#timers[i - 1].at > at) i--;
    this.#timers.splice(i, 0, timer);
    return () => {
      const index = this.#timers.indexOf(timer);
      if (index >= 0) this.#timers.splice(index, 1);
    };
  }

  /** Manual mode: the earliest pending timer's deadline, if any. */
  nextTimer(): number | undefined {
    return this.#timers[0]?.at;
  }

  /** Manual mode: moves virtual time forward to `ns`, firing every timer due by then. */
  advanceTo(ns: number): void {
    if (this.mode !== "manual" || ns < this.#virtualNs) return;
    this.#virtualNs = ns;
    while (this.#timers.length > 0 && this.#timers[0].at <= ns) {
      this.#timers.shift()!.fire();
    }
  }

  /** Manual mode: `instructions` retired move time on by as many ns. */
  retire(instructions: number): void {
    if (this.mode === "manual") this.advanceTo(this.#virtualNs + instructions);
  }
}
