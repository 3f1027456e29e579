// The state an x86-64 core computes on, and its memory path.
//
// Registers live in the thread's own storage (X64Registers.gpr), so a
// debugger sees exactly what the core computed. Addresses are JS numbers
// (doubles): a canonical lower-half address is below 2^47, hence exact. Any
// other address is represented by -1 with its two halves kept in ealo/eahi,
// and every access to -1 faults (#GP when non-canonical, #PF for the upper
// half, which no user AddressSpace maps).
//
// A guest kernel (guest mode) also has the canonical upper half: there an
// address 0xffff_8xxx_xxxx_xxxx is folded to its low 48 bits, a number in
// [2^47, 2^48), still exact. That is the address the TLBs, the AddressSpace
// (the guest's page walk: PML4 entries 256-511) and pc use; whatever turns
// an address back into a register value (a pushed rip, rsp, CR2) unfolds it
// (splitVa). User mode never sees a number at or above 2^47, so its paths
// are unchanged. A sum that crosses 2^47 from below (a non-canonical
// address on hardware, #GP) reads as an upper-half one in guest mode.
//
// Translations are cached in three small direct-mapped TLBs (read, write,
// execute) keyed by page number and dropped whenever memory.generation moves.
// Faults unwind the handler with `throw FAULT` (a preallocated object, no
// stack capture): handlers compute, do their memory accesses, and only then
// write registers, so a faulting instruction leaves registers unchanged.
//
// Data breakpoints (armed by the core's debug loop, see core.ts): while
// `watch` is 1 the read and write TLBs take no entries, so every load and
// store goes through slowLoad / slowStore, which compare it with the armed
// ranges once its pages are known to be accessible (x86 reports a data
// breakpoint after the access, as a trap).

import { ACCESS, type AddressSpace, EXIT, type Page, PAGE_SIZE } from "../../cpu.ts";
import type { GuestState } from "./guest_state.ts";

/** Thrown by a handler that stopped the core; the reason is in Cpu.exitReason. */
export const FAULT: { readonly stop: true } = Object.freeze({ stop: true });

export const TWO32 = 4294967296;
/** 2^47: the first non-user address. */
export const USER_TOP = 140737488355328;
/** 2^48: the top of a folded guest address (see above). */
export const FOLD_TOP = 281474976710656;
/** 2^64 - 2^48: folded + this = the canonical upper-half address, as u32 halves 0xffff0000 apart. */
const UPPER_HI = 0xffff0000;
const INV_PAGE = 1 / PAGE_SIZE;
const TLB_SIZE = 256;
const TLB_MASK = TLB_SIZE - 1;

/** One direct-mapped translation cache: page number -> page bytes. */
class Tlb {
  readonly tag = new Float64Array(TLB_SIZE).fill(NaN);
  readonly page: (Page | null)[] = new Array(TLB_SIZE).fill(null);
  readonly bytes: Uint8Array[] = new Array(TLB_SIZE).fill(new Uint8Array(0));
  readonly view: DataView[] = new Array(TLB_SIZE).fill(new DataView(new ArrayBuffer(0)));

  flush(): void {
    this.tag.fill(NaN);
  }

  insert(pn: number, page: Page): void {
    const k = pn & TLB_MASK;
    this.tag[k] = pn;
    if (this.page[k] !== page) {
      this.page[k] = page;
      this.bytes[k] = page.bytes;
      this.view[k] = new DataView(page.bytes.buffer, page.bytes.byteOffset, PAGE_SIZE);
    }
  }
}

export class Cpu {
  /** General registers, zx layout as u32 halves (see insn.ts GPR). */
  readonly g: Uint32Array;
  /** xmm0-15: register n is x[16n .. 16n+3] (the zmm slots of the vector regset). */
  readonly x: Uint32Array;
  readonly mem: AddressSpace;
  /** 1 for a guest kernel (VCPU), 0 for user code. */
  readonly guest: number;
  /** The first address no access may reach: 2^47 for user code, 2^48 (folded upper half) for a guest. */
  readonly top: number;
  /** A guest's control registers, descriptor tables and MSRs (guest_state.ts); null for user code. */
  sys: GuestState | null = null;

  /** Address of the instruction being executed. */
  cur = 0;
  /** Address of the next instruction; NaN when it is in the upper half (farLo/farHi). */
  pc = 0;
  farLo = 0;
  farHi = 0;
  /** Instructions retired in this run, and the limit. */
  count = 0;
  budget = 0;

  /** High word returned beside a 64-bit result (loads, ALU). */
  hi = 0;
  /** Halves of the last address that is not a user address (see -1 above). */
  ealo = 0;
  eahi = 0;

  // Lazy arithmetic flags: `lop` names the operation (flags.ts) whose
  // operands a, b, result r (size lsz bytes) and carry-in lcf give CF PF AF
  // ZF SF OF; when lop is 0 the flags are the bits in `fl`.
  lop = 0;
  lsz = 4;
  la = 0;
  lah = 0;
  lb = 0;
  lbh = 0;
  lr = 0;
  lrh = 0;
  lcf = 0;
  fl = 0;
  /** rflags low word except the six arithmetic flags (DF, IF, TF, bit 1, ...). */
  rfo = 0;

  // Why the core stopped (set before `throw FAULT`).
  exitReason = 0;
  faultLo = 0;
  faultHi = 0;
  faultAccess = 0;
  detail = 0;
  ioPort = 0;
  ioSize = 0;
  ioInput = false;
  ioValue = 0;
  ioLength = 0;

  /** 1: the last rep string iteration left the instruction unfinished (rip at it). */
  partial = 0;
  /** 1: the instruction delivered an event that cleared TF (guest int n, syscall): no step trap. */
  noStep = 0;
  /** 1 while data breakpoints are armed (no data TLB fills; every access is checked). */
  watch = 0;
  /** Armed data breakpoints: [wpLo, wpEnd), write-only (R/W 01) or not, DR6 bit. */
  wpN = 0;
  readonly wpLo = new Float64Array(4);
  readonly wpEnd = new Float64Array(4);
  readonly wpWrite = new Uint8Array(4);
  readonly wpBit = new Uint8Array(4);
  /** DR6 B0-B3 bits hit by the current instruction; the first hit's address and access. */
  hits = 0;
  hitVa = 0;
  hitAccess = 0;

  private gen = -1;
  private readonly rt = new Tlb();
  private readonly wt = new Tlb();
  private readonly xt = new Tlb();

  constructor(g: Uint32Array, x: Uint32Array, mem: AddressSpace, guest: boolean) {
    this.g = g;
    this.x = x;
    this.mem = mem;
    this.guest = guest ? 1 : 0;
    this.top = guest ? FOLD_TOP : USER_TOP;
  }

  /**
   * An address as u32 halves: the low word returned, the high in `hi`; a
   * folded guest address (2^47 and above) becomes its canonical upper-half
   * value again.
   */
  splitVa(va: number): number {
    const lo = va >>> 0;
    const hi = (va - lo) / TWO32;
    this.hi = hi < 0x8000 ? hi : (hi | UPPER_HI) >>> 0;
    return lo;
  }

  /** Drops the data translations (data breakpoints are being armed). */
  flushDataTlb(): void {
    this.rt.flush();
    this.wt.flush();
  }

  /** Records which armed data breakpoints the access [va, va + n) hits. */
  watchCheck(va: number, n: number, access: number): void {
    const end = va + n;
    for (let k = 0; k < this.wpN; k++) {
      if (this.wpWrite[k] !== 0 && access !== ACCESS.WRITE) continue;
      const lo = this.wpLo[k];
      if (va < this.wpEnd[k] && end > lo) {
        if (this.hits === 0) {
          this.hitVa = va > lo ? va : lo;
          this.hitAccess = access;
        }
        this.hits |= this.wpBit[k];
      }
    }
  }

  /** Drops cached translations if the address space changed since they were made. */
  syncTlb(): void {
    if (this.mem.generation !== this.gen) {
      this.gen = this.mem.generation;
      this.rt.flush();
      this.wt.flush();
      this.xt.flush();
    }
  }

  // -------------------------------------------------------------------------
  // Stopping

  stop(reason: number): never {
    this.exitReason = reason;
    throw FAULT;
  }

  pageFault(va: number, access: number): never {
    this.faultLo = this.splitVa(va);
    this.faultHi = this.hi;
    this.faultAccess = access;
    return this.stop(EXIT.PAGE_FAULT);
  }

  /** An access to the address in ealo/eahi: #PF in the upper half, else #GP. */
  badAddress(access: number): never {
    if (this.eahi >= 0xffff8000) {
      this.faultLo = this.ealo;
      this.faultHi = this.eahi;
      this.faultAccess = access;
      return this.stop(EXIT.PAGE_FAULT);
    }
    return this.stop(EXIT.GENERAL_PROTECTION);
  }

  /** A 64-bit address as a va (folded in the upper half for a guest), or -1 (recorded in ealo/eahi). */
  addr(lo: number, hi: number): number {
    if (hi < 0x8000) return hi * TWO32 + lo;
    if (hi >= 0xffff8000 && this.guest !== 0) return (hi - UPPER_HI) * TWO32 + lo;
    this.ealo = lo;
    this.eahi = hi;
    return -1;
  }

  /** An address computed as a double (base + small offset) as a va, or -1. */
  va(v: number): number {
    if (v >= 0 && v < USER_TOP) return v;
    if (v >= 0 && v < this.top) return v; // a folded guest address
    const hi = Math.floor(v / TWO32);
    this.ealo = (v - hi * TWO32) >>> 0;
    this.eahi = hi >>> 0;
    return -1;
  }

  // -------------------------------------------------------------------------
  // Translation

  private fill(tlb: Tlb, va: number, access: number): Page {
    this.syncTlb();
    const page = this.mem.page(va, access);
    if (page === null) return this.pageFault(va, access);
    this.syncTlb(); // committing may have moved the generation
    if (this.watch === 0 || tlb === this.xt) tlb.insert(Math.floor(va * INV_PAGE), page);
    return page;
  }

  /** The page holding instruction byte `va` (execute permission). */
  fetchPage(va: number): Page {
    const pn = Math.floor(va * INV_PAGE);
    const k = pn & TLB_MASK;
    if (this.xt.tag[k] === pn) return this.xt.page[k]!;
    if (va < 0 || va >= this.top) return this.pageFault(va, ACCESS.EXECUTE);
    return this.fill(this.xt, va, ACCESS.EXECUTE);
  }

  // -------------------------------------------------------------------------
  // Loads (READ), loads for read-modify-write (WRITE), stores (WRITE).
  // Each has an inline fast path for a TLB hit inside one page.

  ld8(va: number): number {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK;
    if (this.rt.tag[k] === pn) return this.rt.bytes[k][va - pn * PAGE_SIZE];
    return this.slowLoad(this.rt, va, 1, ACCESS.READ);
  }

  ld16(va: number): number {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.rt.tag[k] === pn && off <= PAGE_SIZE - 2) return this.rt.view[k].getUint16(off, true);
    return this.slowLoad(this.rt, va, 2, ACCESS.READ);
  }

  ld32(va: number): number {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.rt.tag[k] === pn && off <= PAGE_SIZE - 4) return this.rt.view[k].getUint32(off, true);
    return this.slowLoad(this.rt, va, 4, ACCESS.READ);
  }

  /** Returns the low word; the high word is in `hi`. */
  ld64(va: number): number {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.rt.tag[k] === pn && off <= PAGE_SIZE - 8) {
      const v = this.rt.view[k];
      this.hi = v.getUint32(off + 4, true);
      return v.getUint32(off, true);
    }
    return this.slowLoad(this.rt, va, 8, ACCESS.READ);
  }

  /** Load of `sz` bytes (1, 2, 4, 8); 8 leaves the high word in `hi`. */
  load(va: number, sz: number): number {
    switch (sz) {
      case 1:
        return this.ld8(va);
      case 2:
        return this.ld16(va);
      case 4:
        return this.ld32(va);
      default:
        return this.ld64(va);
    }
  }

  /** Load for a read-modify-write: needs (and faults as) write access. */
  loadW(va: number, sz: number): number {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.wt.tag[k] === pn && off <= PAGE_SIZE - sz) {
      const v = this.wt.view[k];
      switch (sz) {
        case 1:
          return v.getUint8(off);
        case 2:
          return v.getUint16(off, true);
        case 4:
          return v.getUint32(off, true);
        default:
          this.hi = v.getUint32(off + 4, true);
          return v.getUint32(off, true);
      }
    }
    return this.slowLoad(this.wt, va, sz, ACCESS.WRITE);
  }

  st8(va: number, v: number): void {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK;
    if (this.wt.tag[k] === pn) {
      const p = this.wt.page[k]!;
      if (p.code !== null) p.written();
      p.bytes[va - pn * PAGE_SIZE] = v;
      return;
    }
    this.slowStore(va, 1, v, 0);
  }

  st16(va: number, v: number): void {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.wt.tag[k] === pn && off <= PAGE_SIZE - 2) {
      const p = this.wt.page[k]!;
      if (p.code !== null) p.written();
      this.wt.view[k].setUint16(off, v, true);
      return;
    }
    this.slowStore(va, 2, v, 0);
  }

  st32(va: number, v: number): void {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.wt.tag[k] === pn && off <= PAGE_SIZE - 4) {
      const p = this.wt.page[k]!;
      if (p.code !== null) p.written();
      this.wt.view[k].setUint32(off, v, true);
      return;
    }
    this.slowStore(va, 4, v, 0);
  }

  st64(va: number, lo: number, hi: number): void {
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK, off = va - pn * PAGE_SIZE;
    if (this.wt.tag[k] === pn && off <= PAGE_SIZE - 8) {
      const p = this.wt.page[k]!;
      if (p.code !== null) p.written();
      const view = this.wt.view[k];
      view.setUint32(off, lo, true);
      view.setUint32(off + 4, hi, true);
      return;
    }
    this.slowStore(va, 8, lo, hi);
  }

  /** Store of `sz` bytes; `hi` is used for 8. */
  store(va: number, sz: number, lo: number, hi: number): void {
    switch (sz) {
      case 1:
        return this.st8(va, lo);
      case 2:
        return this.st16(va, lo);
      case 4:
        return this.st32(va, lo);
      default:
        return this.st64(va, lo, hi);
    }
  }

  /** The page holding `va` for READ or WRITE access (bulk string operations). */
  pageAt(va: number, access: number): Page {
    if (va < 0) return this.badAddress(access);
    return this.pageFor(access === ACCESS.WRITE ? this.wt : this.rt, va, access);
  }

  /** Checks that [va, va + n) may be written (both pages of a straddle), faulting if not. */
  probeWrite(va: number, n: number): void {
    if (va < 0) this.badAddress(ACCESS.WRITE);
    this.pageFor(this.wt, va, ACCESS.WRITE);
    const last = va + n - 1;
    if (Math.floor(last * INV_PAGE) !== Math.floor(va * INV_PAGE)) {
      this.pageFor(this.wt, last, ACCESS.WRITE);
    }
  }

  private pageFor(tlb: Tlb, va: number, access: number): Page {
    if (va >= this.top) {
      this.ealo = va >>> 0;
      this.eahi = (va - this.ealo) / TWO32;
      return this.badAddress(access);
    }
    const pn = Math.floor(va * INV_PAGE), k = pn & TLB_MASK;
    if (tlb.tag[k] === pn) return tlb.page[k]!;
    return this.fill(tlb, va, access);
  }

  /** A miss or an access that straddles two pages: byte by byte. */
  private slowLoad(tlb: Tlb, va: number, n: number, access: number): number {
    if (va < 0) return this.badAddress(access);
    const first = this.pageFor(tlb, va, access);
    const off = va - Math.floor(va * INV_PAGE) * PAGE_SIZE;
    const second = off + n > PAGE_SIZE ? this.pageFor(tlb, va - off + PAGE_SIZE, access) : first;
    if (this.watch !== 0) this.watchCheck(va, n, access);
    let lo = 0, hi = 0;
    for (let j = n - 1; j >= 0; j--) {
      const at = off + j;
      const b = at < PAGE_SIZE ? first.bytes[at] : second.bytes[at - PAGE_SIZE];
      if (j >= 4) hi = (hi << 8) | b;
      else lo = (lo << 8) | b;
    }
    this.hi = hi >>> 0;
    return lo >>> 0;
  }

  /** Checks both pages before writing a byte, so a fault writes nothing. */
  private slowStore(va: number, n: number, lo: number, hi: number): void {
    if (va < 0) return this.badAddress(ACCESS.WRITE);
    const first = this.pageFor(this.wt, va, ACCESS.WRITE);
    const off = va - Math.floor(va * INV_PAGE) * PAGE_SIZE;
    const second = off + n > PAGE_SIZE
      ? this.pageFor(this.wt, va - off + PAGE_SIZE, ACCESS.WRITE)
      : first;
    if (this.watch !== 0) this.watchCheck(va, n, ACCESS.WRITE);
    if (first.code !== null) first.written();
    if (second.code !== null) second.written();
    for (let j = 0; j < n; j++) {
      const b = (j < 4 ? lo >>> (8 * j) : hi >>> (8 * (j - 4))) & 0xff;
      const at = off + j;
      if (at < PAGE_SIZE) first.bytes[at] = b;
      else second.bytes[at - PAGE_SIZE] = b;
    }
  }
}
