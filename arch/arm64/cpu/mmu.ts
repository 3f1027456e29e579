// The core's view of an AddressSpace: small direct-mapped TLBs of page
// translations (one for reads, one for writes, one for fetches), flushed
// whenever the address space's generation moves, and the general load/store
// paths (any size up to 64 bytes, unaligned, straddling two pages).
//
// Addresses are (lo, hi) u32 pairs. An address at or above 2^53 (hi >=
// 2^21) can never be mapped: it faults without asking the address space.
// Every access that can fault is checked in full before a byte is written,
// so a faulting store changes no memory and a faulting load no register.
//
// Watchpoints (armed by the core's debug loop with watch()): while
// `watching`, load() and store() first compare the whole access with the
// armed watchpoints; a hit refuses the access like a fault (nothing read or
// written) with `watchHit` set and the fault fields holding FAR and the
// access. loadView() and storeView() then take their buffered paths (their
// page-direct path is for accesses up to `direct` bytes into a page, which
// becomes 0), so they come there too, without a test of their own in the
// hot path. The core keeps watched pages out of the TLBs, so the inline
// paths in core.ts miss and come to load() / store() as well.

import { ACCESS, type AddressSpace, Page, PAGE_SIZE } from "../../cpu.ts";

/** Entries in each data TLB (a power of two). */
export const TLB_SIZE = 64;
export const TLB_MASK = TLB_SIZE - 1;
const CODE_TLB = 16;
const TWO32 = 4294967296;
/** hi words at or above this put an address beyond 2^53. */
export const HI_LIMIT = 0x200000;

const NO_VIEW = new DataView(new ArrayBuffer(PAGE_SIZE));
const NO_PAGE = new Page();

export class Mmu {
  readonly memory: AddressSpace;
  private generation: number;

  /** Read TLB: virtual page number (hi * 2^20 + lo >>> 12) -> a view of the page. */
  readonly rTag = new Float64Array(TLB_SIZE).fill(-1);
  readonly rView: DataView[] = new Array(TLB_SIZE).fill(NO_VIEW);
  /** Write TLB: as rTag/rView, plus the page (to drop its decoded code on a write). */
  readonly wTag = new Float64Array(TLB_SIZE).fill(-1);
  readonly wView: DataView[] = new Array(TLB_SIZE).fill(NO_VIEW);
  readonly wPage: Page[] = new Array(TLB_SIZE).fill(NO_PAGE);
  private readonly xTag = new Float64Array(CODE_TLB).fill(-1);
  private readonly xPage: Page[] = new Array(CODE_TLB).fill(NO_PAGE);

  /** Bytes of the last general load, or to be written by the next store (up to 64). */
  readonly buf = new Uint8Array(64);
  /** The same bytes as little-endian u32 words. */
  readonly w32 = new Uint32Array(this.buf.buffer);

  /** buf as a DataView (what loadView / storeView return for a straddling access). */
  readonly bufView = new DataView(this.buf.buffer);
  /** Offset of the access's first byte in the view the last loadView / storeView returned. */
  at = 0;
  private pending = false;
  private pendingLo = 0;
  private pendingHi = 0;
  private pendingSize = 0;

  /** Set when a store dropped decoded code of some page (self-modifying code). */
  codeDirty = false;

  faultLo = 0;
  faultHi = 0;
  faultAccess = 0;

  /** Armed watchpoints: base address (DBGWVR), byte mask (BAS), 1 load / 2 store (LSC). */
  watching = false;
  /** loadView / storeView use the page itself when the access ends this far into it. */
  private direct = PAGE_SIZE;
  wpN = 0;
  readonly wpVa = new Float64Array(16);
  readonly wpBas = new Uint8Array(16);
  readonly wpLsc = new Uint8Array(16);
  /** The last refused access hit a watchpoint (not a translation fault). */
  watchHit = false;

  constructor(memory: AddressSpace) {
    this.memory = memory;
    this.generation = memory.generation;
  }

  /** Drops every translation if the address space changed since they were made. */
  sync(): void {
    if (this.memory.generation === this.generation) return;
    this.generation = this.memory.generation;
    this.rTag.fill(-1);
    this.wTag.fill(-1);
    this.xTag.fill(-1);
    this.rView.fill(NO_VIEW);
    this.wView.fill(NO_VIEW);
    this.wPage.fill(NO_PAGE);
    this.xPage.fill(NO_PAGE);
  }

  fault(lo: number, hi: number, access: number): void {
    this.faultLo = lo >>> 0;
    this.faultHi = hi >>> 0;
    this.faultAccess = access;
  }

  /**
   * Whether the access of `size` bytes at (lo, hi) touches a byte an armed
   * watchpoint of that kind (ACCESS.READ / WRITE) watches. If so it is
   * recorded as the fault: address = the lowest watched byte accessed (FAR).
   */
  watched(lo: number, hi: number, size: number, access: number): boolean {
    if (hi >= HI_LIMIT) return false;
    const va = hi * TWO32 + lo, end = va + size, kind = access === ACCESS.WRITE ? 2 : 1;
    let first = -1;
    for (let k = 0; k < this.wpN; k++) {
      if ((this.wpLsc[k] & kind) === 0) continue;
      const base = this.wpVa[k], bas = this.wpBas[k];
      for (let j = 0; j < 8; j++) {
        const a = base + j;
        if ((bas & (1 << j)) !== 0 && a >= va && a < end && (first < 0 || a < first)) first = a;
      }
    }
    if (first < 0) return false;
    this.fault(first >>> 0, Math.floor(first / TWO32), access);
    this.watchHit = true;
    return true;
  }

  /** Arms (the first `wpN` of wpVa / wpBas / wpLsc) or disarms the watchpoints. */
  watch(wpN: number): void {
    this.wpN = wpN;
    this.watching = wpN !== 0;
    this.direct = wpN !== 0 ? 0 : PAGE_SIZE;
  }

  /** Drops the data TLB entries of the page numbered `vpn` (a watched page). */
  evict(vpn: number): void {
    const e = vpn & TLB_MASK;
    if (this.rTag[e] === vpn) this.rTag[e] = -1;
    if (this.wTag[e] === vpn) this.wTag[e] = -1;
  }

  /** The page to fetch instructions from at va (< 2^53), or null (fault recorded). */
  fetchPage(va: number): Page | null {
    const vpn = Math.floor(va / PAGE_SIZE);
    const e = vpn & (CODE_TLB - 1);
    if (this.xTag[e] === vpn) return this.xPage[e];
    const page = this.memory.page(va, ACCESS.EXECUTE);
    if (page === null) {
      this.fault(va >>> 0, Math.floor(va / TWO32), ACCESS.EXECUTE);
      return null;
    }
    this.xTag[e] = vpn;
    this.xPage[e] = page;
    return page;
  }

  /** Fills the read TLB entry for the page holding (lo, hi); false if it faults. */
  fillRead(lo: number, hi: number): boolean {
    if (hi >= HI_LIMIT) {
      this.fault(lo, hi, ACCESS.READ);
      return false;
    }
    const va = hi * TWO32 + lo;
    const page = this.memory.page(va, ACCESS.READ);
    if (page === null) {
      this.fault(lo, hi, ACCESS.READ);
      return false;
    }
    const e = (lo >>> 12) & TLB_MASK;
    this.rTag[e] = hi * 1048576 + (lo >>> 12);
    this.rView[e] = new DataView(page.bytes.buffer, page.bytes.byteOffset, PAGE_SIZE);
    return true;
  }

  fillWrite(lo: number, hi: number): boolean {
    if (hi >= HI_LIMIT) {
      this.fault(lo, hi, ACCESS.WRITE);
      return false;
    }
    const va = hi * TWO32 + lo;
    const page = this.memory.page(va, ACCESS.WRITE);
    if (page === null) {
      this.fault(lo, hi, ACCESS.WRITE);
      return false;
    }
    const e = (lo >>> 12) & TLB_MASK;
    this.wTag[e] = hi * 1048576 + (lo >>> 12);
    this.wView[e] = new DataView(page.bytes.buffer, page.bytes.byteOffset, PAGE_SIZE);
    this.wPage[e] = page;
    return true;
  }

  /** A translated view for reading (lo, hi), or null with the fault recorded. */
  readView(lo: number, hi: number): DataView | null {
    const e = (lo >>> 12) & TLB_MASK;
    if (this.rTag[e] !== hi * 1048576 + (lo >>> 12) && !this.fillRead(lo, hi)) return null;
    return this.rView[e];
  }

  /** A translated view for writing (lo, hi), its decoded code dropped; or null. */
  writeView(lo: number, hi: number): DataView | null {
    const e = (lo >>> 12) & TLB_MASK;
    if (this.wTag[e] !== hi * 1048576 + (lo >>> 12) && !this.fillWrite(lo, hi)) return null;
    const page = this.wPage[e];
    if (page.code !== null) {
      page.written();
      this.codeDirty = true;
    }
    return this.wView[e];
  }

  /**
   * A view holding the `size` bytes at (lo, hi), starting at `this.at`: the
   * page itself, or buf after gathering a straddling access. Null on a fault.
   */
  loadView(lo: number, hi: number, size: number): DataView | null {
    const off = lo & 0xfff;
    if (off + size <= this.direct) {
      this.at = off;
      return this.readView(lo, hi);
    }
    this.at = 0;
    return this.load(lo, hi, size) ? this.bufView : null;
  }

  /**
   * A view to write `size` bytes at (lo, hi) into, from `this.at`: the page
   * itself, or buf for a straddling access, whose pages are checked now and
   * written by commit(). Null on a fault (nothing is written then).
   */
  storeView(lo: number, hi: number, size: number): DataView | null {
    const off = lo & 0xfff;
    this.pending = false;
    if (off + size <= this.direct) {
      this.at = off;
      return this.writeView(lo, hi);
    }
    return this.storeLater(lo, hi, size);
  }

  /** storeView through buf: checks the access now; commit() writes it. */
  private storeLater(lo: number, hi: number, size: number): DataView | null {
    if (this.watching && this.watched(lo, hi, size, ACCESS.WRITE)) return null;
    const off = lo & 0xfff;
    if (off + size > PAGE_SIZE) {
      const lo2 = (lo + PAGE_SIZE - off) >>> 0;
      const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
      if (!this.probeWrite(lo, hi) || !this.probeWrite(lo2, hi2)) return null;
    } else if (!this.probeWrite(lo, hi)) return null;
    this.pending = true;
    this.pendingLo = lo;
    this.pendingHi = hi;
    this.pendingSize = size;
    this.at = 0;
    return this.bufView;
  }

  /** Finishes a store begun with storeView (cannot fault: its pages were checked). */
  commit(): void {
    if (this.pending) {
      this.pending = false;
      this.store(this.pendingLo, this.pendingHi, this.pendingSize);
    }
  }

  /** Loads `size` (1..64) bytes at (lo, hi) into buf / w32. */
  load(lo: number, hi: number, size: number): boolean {
    if (this.watching && this.watched(lo, hi, size, ACCESS.READ)) return false;
    const off = lo & 0xfff;
    if (off + size <= PAGE_SIZE) {
      const v = this.readView(lo, hi);
      if (v === null) return false;
      copyIn(v, off, this.buf, 0, size);
      return true;
    }
    // Straddles two pages: translate both before reading either.
    const first = PAGE_SIZE - off;
    const lo2 = (lo + first) >>> 0;
    const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
    const a = this.readView(lo, hi);
    if (a === null) return false;
    const b = this.readView(lo2, hi2);
    if (b === null) return false;
    copyIn(a, off, this.buf, 0, first);
    copyIn(b, 0, this.buf, first, size - first);
    return true;
  }

  /** Stores `size` (1..64) bytes of buf at (lo, hi). */
  store(lo: number, hi: number, size: number): boolean {
    if (this.watching && this.watched(lo, hi, size, ACCESS.WRITE)) return false;
    const off = lo & 0xfff;
    if (off + size <= PAGE_SIZE) {
      const v = this.writeView(lo, hi);
      if (v === null) return false;
      copyOut(this.buf, 0, v, off, size);
      return true;
    }
    const first = PAGE_SIZE - off;
    const lo2 = (lo + first) >>> 0;
    const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
    // Both translations first, so a fault on the second page writes nothing.
    if (!this.probeWrite(lo, hi) || !this.probeWrite(lo2, hi2)) return false;
    copyOut(this.buf, 0, this.writeView(lo, hi)!, off, first);
    copyOut(this.buf, first, this.writeView(lo2, hi2)!, 0, size - first);
    return true;
  }

  /** Whether (lo, hi) may be written (filling the TLB), without touching the page. */
  probeWrite(lo: number, hi: number): boolean {
    const e = (lo >>> 12) & TLB_MASK;
    return this.wTag[e] === hi * 1048576 + (lo >>> 12) || this.fillWrite(lo, hi);
  }
}

function copyIn(v: DataView, off: number, out: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) out[at + i] = v.getUint8(off + i);
}

function copyOut(inp: Uint8Array, at: number, v: DataView, off: number, n: number): void {
  for (let i = 0; i < n; i++) v.setUint8(off + i, inp[at + i]);
}
