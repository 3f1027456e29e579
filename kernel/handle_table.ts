// A process's handle table. Values follow modern Zircon: a per-table random
// mask XOR ((id << 2) | 0b11), so the low two bits are always 1, 0 is never a
// handle, and a value copied from another process or kernel finds nothing.

import { ERR, ZxError } from "./status.ts";
import type { KernelObject } from "./object.ts";
import { hasRights } from "./rights.ts";
import { typeName } from "./names.ts";

export class Handle {
  /** Called when this handle is closed while someone waits on it. */
  readonly closeListeners = new Set<() => void>();
  constructor(
    readonly object: KernelObject,
    readonly rights: number,
    readonly value: number,
    readonly table: HandleTable,
  ) {}
}

/** kMaxHandleCount: how many handles may be alive at once (per kernel here). */
export const MAX_LIVE_HANDLES = 256 * 1024;

/**
 * A kernel's handle ids: never reused (so stale values stay invalid) and
 * limited in number like Zircon's handle arena.
 */
export class HandleIdSource {
  #next = 1;
  #live = 0;
  /** xorshift32 state for the table masks when they must repeat (manual kernels). */
  #seed: number;

  /** `seed` makes every table's mask a fixed sequence; 0 draws them at random. */
  constructor(readonly limit = MAX_LIVE_HANDLES, seed = 0) {
    this.#seed = seed >>> 0;
  }

  /** A new table's secret: random, or the next of the seeded sequence. */
  secret(): number {
    if (this.#seed === 0) return crypto.getRandomValues(new Uint32Array(1))[0];
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return this.#seed = x >>> 0;
  }

  /** Throws NO_MEMORY unless `count` more handles fit; call before any side effect. */
  reserve(count: number): void {
    if (this.#live + count > this.limit || this.#next + count >= 1 << 30) {
      throw new ZxError(
        ERR.NO_MEMORY,
        `out of handles: this kernel already has ${this.#live} of ${this.limit}`,
      );
    }
  }

  next(): number {
    this.reserve(1);
    this.#live++;
    return this.#next++;
  }

  release(): void {
    this.#live--;
  }
}

export class HandleTable {
  readonly #mask: number;
  readonly #byValue = new Map<number, Handle>();

  constructor(private readonly ids: HandleIdSource) {
    this.#mask = (ids.secret() << 2) >>> 0;
  }

  /** Throws NO_MEMORY unless `count` more handles can be made. */
  reserve(count: number): void {
    this.ids.reserve(count);
  }

  handles(): IterableIterator<Handle> {
    return this.#byValue.values();
  }

  /** Makes a new handle to `object` with `rights` in this table. */
  add(object: KernelObject, rights: number): Handle {
    const value = (this.#mask ^ ((this.ids.next() << 2) | 0b11)) >>> 0;
    const handle = new Handle(object, rights >>> 0, value, this);
    this.#byValue.set(value, handle);
    object.handleCount++;
    return handle;
  }

  get(value: number): Handle | undefined {
    return this.#byValue.get(value);
  }

  /** Removes a handle; the object hears about its last handle going away. */
  remove(value: number): Handle | undefined {
    const handle = this.#byValue.get(value);
    if (!handle) return undefined;
    this.#byValue.delete(value);
    this.ids.release();
    for (const listener of handle.closeListeners) listener();
    handle.closeListeners.clear();
    if (--handle.object.handleCount === 0) handle.object.onZeroHandles();
    return handle;
  }

  /** Closes every handle (a process died). */
  clear(): void {
    for (const value of [...this.#byValue.keys()]) this.remove(value);
  }

  /** Looks up a live handle or throws BAD_HANDLE. */
  lookup(value: number): Handle {
    const handle = this.#byValue.get(value);
    if (!handle) throw badHandle(value);
    return handle;
  }

  /**
   * GetDispatcherWithRights for a typed syscall, in the modern order:
   * BAD_HANDLE, then WRONG_TYPE, then ACCESS_DENIED. Magenta and Zircon
   * before 2019 checked rights before type ("rights-first").
   */
  lookupAs<T extends KernelObject>(
    value: number,
    type: abstract new (...args: never[]) => T,
    rights: number,
    order: "type-first" | "rights-first" = "type-first",
  ): T {
    const handle = this.lookup(value);
    if (order === "rights-first") requireRights(handle, rights);
    if (!(handle.object instanceof type)) {
      throw new ZxError(
        ERR.WRONG_TYPE,
        `handle ${hex(value)} is a ${
          typeName(handle.object.type)
        }, not a ${type.name.toLowerCase()}`,
      );
    }
    requireRights(handle, rights);
    return handle.object;
  }
}

/** Throws ACCESS_DENIED naming the missing rights. */
export function requireRights(handle: Handle, rights: number): void {
  if (!hasRights(handle.rights, rights)) {
    throw new ZxError(
      ERR.ACCESS_DENIED,
      `handle ${hex(handle.value)} lacks rights 0x${
        ((rights & ~handle.rights) >>> 0).toString(16)
      } (has 0x${handle.rights.toString(16)})`,
    );
  }
}

export function badHandle(value: number): ZxError {
  return new ZxError(
    ERR.BAD_HANDLE,
    `${hex(value)} is not a valid handle in the calling process`,
  );
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}
