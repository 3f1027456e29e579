// A virtual memory object: a page-rounded size and the pages committed so
// far. Pages are the only copy of their bytes: vmo_read / vmo_write, the
// kernel's user copies, process_read_memory and the interpreter cores all
// read and write the same Page objects.

import { Page, PAGE_SHIFT, PAGE_SIZE } from "../arch/cpu.ts";
import { NamedObject } from "./object.ts";
import { DEFAULT_RIGHTS, RIGHT } from "./rights.ts";
import { OBJ_TYPE, VMO_ZERO_CHILDREN } from "./types.ts";
import type { MemoryBudget } from "./vm/memory_budget.ts";
import type { Mapping } from "./vm/mapping.ts";

const PAGE = BigInt(PAGE_SIZE);
const SHIFT = BigInt(PAGE_SHIFT);
const U64_LIMIT = 1n << 64n;

/** VmObject::MAX_SIZE: 2^64 - 2^17, the largest size a VMO can have. */
export const VMO_MAX_SIZE = U64_LIMIT - (1n << 17n);

/** ROUNDUP(size, PAGE_SIZE) on a uint64: null where Zircon sees the rounding overflow. */
export function roundUpToPage(size: bigint): bigint | null {
  const rounded = (size + PAGE - 1n) & ~(PAGE - 1n);
  return rounded >= U64_LIMIT ? null : rounded;
}

/** Where the vDSO's code lies in its VMO: an executable mapping must cover exactly this. */
export interface VdsoCode {
  readonly offset: number;
  readonly size: number;
}

export class Vmo extends NamedObject {
  readonly type = OBJ_TYPE.VMO;
  readonly defaultRights = DEFAULT_RIGHTS.vmo;
  /** Committed pages by page index; a missing page reads as zeros. */
  readonly #pages = new Map<number, Page>();
  #sizePages: number;
  /** Every live mapping of this VMO, in any process. */
  readonly mappings = new Set<Mapping>();
  /** Set on the vDSO's VMO (see VDso::valid_code_mapping); null for every other VMO. */
  vdsoCode: VdsoCode | null = null;
  /** A VMO the kernel itself holds (the vDSO) keeps its pages with no handle or mapping left. */
  retainedByKernel = false;

  /** `size` must already be page-rounded and at most VMO_MAX_SIZE. */
  constructor(
    koid: number,
    readonly budget: MemoryBudget,
    size: bigint,
    readonly resizable = false,
    readonly discardable = false,
  ) {
    super(koid);
    this.#sizePages = Number(size >> SHIFT);
    this.updateSignals(0, VMO_ZERO_CHILDREN);
  }

  /** The page-rounded size in bytes. */
  get size(): bigint {
    return BigInt(this.#sizePages) << SHIFT;
  }

  get sizePages(): number {
    return this.#sizePages;
  }

  get committedPages(): number {
    return this.#pages.size;
  }

  /** Rights of the handle vmo_create returns: the defaults, plus RESIZE if resizable. */
  get handleRights(): number {
    return this.defaultRights | (this.resizable ? RIGHT.RESIZE : 0);
  }

  /** How many of the `count` pages from `first` are committed. */
  committedInRange(first: number, count: number): number {
    if (count < this.#pages.size) {
      let n = 0;
      for (let i = first; i < first + count; i++) if (this.#pages.has(i)) n++;
      return n;
    }
    let n = 0;
    for (const index of this.#pages.keys()) if (index >= first && index < first + count) n++;
    return n;
  }

  /** The committed page at `index`, without committing one. */
  peek(index: number): Page | undefined {
    return this.#pages.get(index);
  }

  /** The page at `index`, committed (zero-filled) on first touch; null past the end or over budget. */
  commit(index: number): Page | null {
    const page = this.#pages.get(index);
    if (page) return page;
    if (index >= this.#sizePages || !this.budget.take(1)) return null;
    const fresh = new Page();
    this.#pages.set(index, fresh);
    return fresh;
  }

  /** `length` bytes from `offset` (the caller checked the range); commits nothing. */
  read(offset: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.#eachPage(offset, length, (index, at, start, count) => {
      const page = this.#pages.get(index);
      if (page) out.set(page.bytes.subarray(at, at + count), start);
    });
    return out;
  }

  /**
   * Writes `bytes` at `offset` (the caller checked the range). If committing
   * the untouched pages would exceed the budget, nothing is written: false.
   */
  write(offset: bigint, bytes: Uint8Array): boolean {
    let missing = 0;
    this.#eachPage(offset, bytes.length, (index) => {
      if (!this.#pages.has(index)) missing++;
    });
    if (!this.budget.take(missing)) return false;
    this.#eachPage(offset, bytes.length, (index, at, start, count) => {
      let page = this.#pages.get(index);
      if (!page) this.#pages.set(index, page = new Page());
      page.bytes.set(bytes.subarray(start, start + count), at);
      page.written();
    });
    return true;
  }

  /**
   * VmObjectPaged::Resize to `size` (page-rounded, checked by the caller),
   * then zero the bytes from `contentSize` to the end of its page. Pages past
   * the new end are dropped, so growing again shows zeros; every address
   * space mapping this VMO sees a new generation.
   */
  resize(size: bigint, contentSize: bigint): void {
    const pages = Number(size >> SHIFT);
    if (pages < this.#sizePages) {
      let dropped = 0;
      for (const index of [...this.#pages.keys()]) {
        if (index >= pages) {
          this.#pages.delete(index);
          dropped++;
        }
      }
      this.budget.give(dropped);
    }
    this.#sizePages = pages;
    const tail = Number(contentSize & (PAGE - 1n));
    const last = tail === 0 ? undefined : this.#pages.get(Number(contentSize >> SHIFT));
    if (last) {
      last.bytes.fill(0, tail);
      last.written();
    }
    for (const mapping of this.mappings) mapping.parent.aspace.invalidate();
  }

  /** A mapping of this VMO went away: the pages go too once nothing refers to it. */
  unmapped(mapping: Mapping): void {
    this.mappings.delete(mapping);
    this.#releaseIfUnused();
  }

  override onZeroHandles(): void {
    this.#releaseIfUnused();
  }

  #releaseIfUnused(): void {
    if (this.handleCount > 0 || this.mappings.size > 0 || this.retainedByKernel) return;
    this.budget.give(this.#pages.size);
    this.#pages.clear();
  }

  /** Calls `fn(pageIndex, offsetInPage, offsetInBuffer, count)` for each page of a range. */
  #eachPage(
    offset: bigint,
    length: number,
    fn: (index: number, at: number, start: number, count: number) => void,
  ): void {
    let index = Number(offset >> SHIFT);
    let at = Number(offset & (PAGE - 1n));
    for (let start = 0; start < length; index++, at = 0) {
      const count = Math.min(PAGE_SIZE - at, length - start);
      fn(index, at, start, count);
      start += count;
    }
  }
}
