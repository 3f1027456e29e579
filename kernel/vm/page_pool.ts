// Where the bytes of committed pages (arch/cpu.ts Page) come from: slabs of
// SLAB_PAGES pages, one ArrayBuffer each, so that memory freed by deleted
// kernels goes back to the operating system. A 4 KiB ArrayBuffer per page is
// malloc'd, and glibc keeps the memory of freed small blocks (a probe saw a
// server at 80 MB fresh stay at 447 MB once its kernels were all deleted).
// A slab is larger than glibc's largest mmap threshold (32 MiB on 64 bits),
// so it is always mmap'd and munmap'd as a whole; the kernel backs only the
// pages touched, so a slab costs RSS for the pages used, not its size.
//
// A page's slot goes back to its slab when the Page is garbage collected
// (FinalizationRegistry), never earlier: whoever still holds the Page may
// still use its bytes. A slab with no page left is dropped, and V8 frees its
// memory at a later GC.

/** arch/cpu.ts PAGE_SIZE (not imported: arch/cpu.ts imports this module). */
const PAGE_SIZE = 4096;

/**
 * Pages per slab: 33 MiB, just above glibc's largest dynamic mmap threshold
 * (smaller slabs come from the heap once one has been freed, and glibc keeps
 * those too). A slab holding one live page keeps every page of it that was
 * ever used resident, so smaller is better above that floor.
 */
export const SLAB_PAGES = 8448;

class Slab {
  readonly buffer: ArrayBuffer;
  /** Free slot indexes (the last freed is taken first). */
  readonly free: number[] = [];
  /** Slots never used yet start here (they are still untouched zeros). */
  fresh = 0;
  used = 0;

  constructor(readonly pages: number) {
    this.buffer = new ArrayBuffer(pages * PAGE_SIZE);
  }
}

/**
 * Whether a slab was ever made. The very first page gets a slab of its own:
 * it is the arm64 core's placeholder page, made at start-up and never freed,
 * and in a full-size slab it would keep every page of that slab ever used
 * resident for good.
 */
let madeOne = false;

/** Slabs with a free slot, in the order they were made (the first is filled first). */
const slabs: Slab[] = [];

interface Slot {
  readonly slab: Slab;
  readonly index: number;
}

/** Pages handed out and not yet collected, and slabs alive (for bench/soak.ts). */
export const poolStats = { pages: 0, slabs: 0 };

const registry = new FinalizationRegistry<Slot>(({ slab, index }) => {
  poolStats.pages--;
  new Uint8Array(slab.buffer, index * PAGE_SIZE, PAGE_SIZE).fill(0);
  slab.free.push(index);
  slab.used--;
  if (slab.used === 0) {
    // Empty: drop it (the memory goes back once V8 collects the buffer).
    const at = slabs.indexOf(slab);
    if (at >= 0) slabs.splice(at, 1);
    poolStats.slabs--;
  } else if (slab.free.length === 1 && slab.fresh === slab.pages && !slabs.includes(slab)) {
    slabs.push(slab); // it was full: it has room again
  }
});

/** Zeroed bytes for `owner`'s page; their slot is free again once `owner` is collected. */
export function pageBytes(owner: object): Uint8Array {
  let slab = slabs[0];
  if (slab === undefined) {
    slabs.push(slab = new Slab(madeOne ? SLAB_PAGES : 1));
    madeOne = true;
    poolStats.slabs++;
  }
  let index: number;
  if (slab.free.length > 0) {
    index = slab.free.pop()!;
  } else {
    index = slab.fresh++;
  }
  slab.used++;
  poolStats.pages++;
  if (slab.free.length === 0 && slab.fresh === slab.pages) slabs.shift(); // full
  registry.register(owner, { slab, index });
  return new Uint8Array(slab.buffer, index * PAGE_SIZE, PAGE_SIZE);
}
