// What every kernel object has: a koid, a type, default rights, a signal
// word with observers, a handle count and (for some types) a name.

import { RIGHT } from "./rights.ts";
import { MAX_NAME_LEN, type ObjType } from "./types.ts";

/** Someone waiting for any of `mask` to become asserted on an object. */
export interface SignalObserver {
  readonly mask: number;
  /** Called with the current signals when one of `mask` is asserted. */
  onSignals(signals: number): void;
}

export abstract class KernelObject {
  abstract readonly type: ObjType;
  abstract readonly defaultRights: number;
  /** Only some types have ZX_PROP_NAME (see NamedObject). */
  readonly hasName: boolean = false;
  /** The name's bytes, without the NUL padding. */
  #name = new Uint8Array(0);
  #signals = 0;
  #observers = new Set<SignalObserver>();
  handleCount = 0;

  constructor(readonly koid: number) {}

  /** koid of the object this one hangs off (process of a thread, job of a process). */
  get relatedKoid(): number {
    return 0;
  }

  get signals(): number {
    return this.#signals;
  }

  /** is_waitable(): objects whose default rights include WAIT. */
  get waitable(): boolean {
    return (this.defaultRights & RIGHT.WAIT) !== 0;
  }

  get name(): string {
    return new TextDecoder().decode(this.#name);
  }

  /** Stores at most MAX_NAME_LEN - 1 bytes, cut at the first NUL. */
  setNameBytes(bytes: Uint8Array): void {
    let end = Math.min(bytes.length, MAX_NAME_LEN - 1);
    const nul = bytes.subarray(0, end).indexOf(0);
    if (nul >= 0) end = nul;
    this.#name = bytes.slice(0, end);
  }

  /** The name as Zircon stores it: MAX_NAME_LEN bytes, NUL padded. */
  nameBytes(): Uint8Array {
    const out = new Uint8Array(MAX_NAME_LEN);
    out.set(this.#name);
    return out;
  }

  updateSignals(clear: number, set: number): void {
    const next = ((this.#signals & ~clear) | set) >>> 0;
    if (next === this.#signals) return;
    this.#signals = next;
    for (const observer of [...this.#observers]) {
      if (observer.mask & next) observer.onSignals(next);
    }
  }

  addObserver(observer: SignalObserver): void {
    this.#observers.add(observer);
  }

  removeObserver(observer: SignalObserver): void {
    this.#observers.delete(observer);
  }

  /** on_zero_handles(): the last handle to this object was closed. */
  onZeroHandles(): void {}
}

/** Base for the named task objects (jobs, processes, threads) and VMARs. */
export abstract class NamedObject extends KernelObject {
  override readonly hasName = true;
}
