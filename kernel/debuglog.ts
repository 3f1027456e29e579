// The kernel's debug log: what zx_debug_write prints and what the kernel
// reports (crashes), readable over HTTP. Bounded, so a chatty program cannot
// grow the server without limit: the oldest records are dropped first.

export interface LogRecord {
  /** Monotonic ns when it was written. */
  readonly time: bigint;
  readonly pid: number;
  readonly tid: number;
  readonly text: string;
}

/** Bytes of text the log keeps; older records go first. */
export const DEBUGLOG_CAPACITY = 1 << 20;

export class DebugLog {
  readonly #records: LogRecord[] = [];
  #bytes = 0;
  /** Records ever written, so a reader can ask for what is new since its last read. */
  #sequence = 0;

  write(record: LogRecord): void {
    this.#records.push(record);
    this.#bytes += record.text.length;
    this.#sequence++;
    while (this.#bytes > DEBUGLOG_CAPACITY && this.#records.length > 1) {
      this.#bytes -= this.#records.shift()!.text.length;
    }
  }

  /** Sequence number of the next record; records before `from` are not returned. */
  get next(): number {
    return this.#sequence;
  }

  /** Records numbered `from` and later that are still kept, with their numbers. */
  since(from = 0): { first: number; records: readonly LogRecord[] } {
    const first = this.#sequence - this.#records.length;
    const skip = Math.max(0, from - first);
    return { first: first + skip, records: this.#records.slice(skip) };
  }
}
