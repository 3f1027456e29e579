// How much VMO memory one kernel may commit. Creating a VMO costs nothing;
// each page costs 4 KiB from the first time it is written or touched by a
// core, until its VMO shrinks or dies. A kernel past its budget behaves like
// Zircon out of memory: vmo_write gives ZX_ERR_NO_MEMORY and a core's access
// faults.

import { PAGE_SIZE } from "../../arch/cpu.ts";

/**
 * The default cap per kernel: 256 MiB. A server with 24 GiB can host dozens
 * of busy kernels at that size; ZXSIM_MAX_COMMITTED_BYTES changes it.
 */
export const DEFAULT_MAX_COMMITTED_BYTES = 256 * 1024 * 1024;

export class MemoryBudget {
  #committedPages = 0;
  readonly #limitPages: number;

  /** `limit` in bytes; rounded down to whole pages. */
  constructor(readonly limit = DEFAULT_MAX_COMMITTED_BYTES) {
    this.#limitPages = Math.floor(limit / PAGE_SIZE);
  }

  /** Bytes committed to VMOs right now. */
  get committedBytes(): number {
    return this.#committedPages * PAGE_SIZE;
  }

  /** Takes `pages` pages from the budget, or nothing (false) if they do not all fit. */
  take(pages: number): boolean {
    if (this.#committedPages + pages > this.#limitPages) return false;
    this.#committedPages += pages;
    return true;
  }

  give(pages: number): void {
    this.#committedPages -= pages;
  }
}
