// The guest's own address translation: an AddressSpace over linear
// addresses that walks the guest's 4-level page tables (CR3 -> PML4 -> PDPT
// -> PD -> PT; 4 KiB pages, 2 MiB with PS in a PD entry, 1 GiB with PS in a
// PDPT entry) and hands the core the guest-physical page underneath.
//
// Walks are cached per 4 KiB linear page and kept, as a TLB keeps them,
// until the guest reloads CR3, runs invlpg (of any page: all walks go),
// writes CR0 / CR4 / EFER, or the guest-physical space itself changes (its
// generation): a guest that edits a page-table entry keeps using the old
// translation until it invalidates it, as on hardware. `generation` moves on every such flush
// so the core's own TLBs follow.
//
// Linear addresses in the upper half come folded to their low 48 bits
// (arch/x64/cpu/state.ts), so PML4 entries 256-511 walk like the others.
//
// Permissions are those of a CPL 0 access: R/W matters only for writes with
// CR0.WP set (on at start, as in Zircon's 2023 VMCS), U/S never, NX only with
// EFER.NXE. Accessed and dirty bits are not set (no guest we run reads
// them back); reserved bits are not checked.

import { ACCESS, type AddressSpace, type Page, PAGE_SIZE } from "../../cpu.ts";
import type { GuestFault } from "../../vcpu.ts";
import {
  CR0_PG,
  CR0_WP,
  CR4_SMEP,
  EFER_NXE,
  type GuestState,
  type GuestTlb,
} from "../cpu/guest_state.ts";

const TWO32 = 4294967296;
const P = 0x1, RW = 0x2, PS = 0x80;
/** Cached walk flags: writable, executable. */
const C_WRITE = 1, C_EXEC = 2;

/** #PF error code bits. */
export const PF_P = 0x1, PF_W = 0x2, PF_I = 0x10;

/** The last failed translation: what fault() reports and #PF delivers. */
export interface WalkFault {
  readonly fault: GuestFault;
  /** Guest faults: the #PF error code and the linear address (CR2). */
  readonly errorCode: number;
  readonly va: number;
}

export class GuestSpace implements AddressSpace, GuestTlb {
  /** The last failed page() (reset by the VCPU before each run). */
  last: WalkFault | null = null;
  private own = 0;
  private seen: number;
  /** Linear page number -> guest-physical page number * 4 + C_WRITE | C_EXEC. */
  private readonly walks = new Map<number, number>();

  constructor(readonly physical: AddressSpace, private readonly sys: GuestState) {
    this.seen = physical.generation;
  }

  get generation(): number {
    const g = this.physical.generation;
    if (g !== this.seen) {
      this.seen = g;
      this.walks.clear();
      this.own++;
    }
    return this.own;
  }

  flushAll(): void {
    this.walks.clear();
    this.own++;
  }

  /**
   * invlpg: the walks are cached per 4 KiB page, so an address inside a
   * 2 MiB / 1 GiB page would leave that page's other walks behind, while
   * the SDM (vol. 3 4.10.4.1) has invlpg invalidate the whole large page.
   * A processor may always invalidate more than asked, so every cached walk
   * goes (and the core's TLBs with them): correct and cheap.
   */
  flushPage(_va: number): void {
    this.walks.clear();
    this.own++;
  }

  page(va: number, access: number): Page | null {
    let gpa: number;
    if ((this.sys.cr0 & CR0_PG) === 0) {
      gpa = va;
    } else {
      const pn = Math.floor(va / PAGE_SIZE);
      let entry = this.walks.get(pn);
      if (entry === undefined) {
        const walked = this.walk(va, access);
        if (walked < 0) return null;
        entry = walked;
        this.walks.set(pn, entry);
      }
      const flags = entry & 3;
      const denied = (access & ACCESS.WRITE) !== 0 && (flags & C_WRITE) === 0 ||
        (access & ACCESS.EXECUTE) !== 0 && (flags & C_EXEC) === 0;
      if (denied) return this.guestFault(va, access, true);
      gpa = Math.floor(entry / 4) * PAGE_SIZE + (va % PAGE_SIZE);
    }
    const page = this.physical.page(gpa, access);
    if (page === null) this.last = { fault: { kind: "physical", gpa, access }, errorCode: 0, va };
    return page;
  }

  /**
   * Walks the tables for `va`: the cache entry, or -1 with `last` set (a
   * not-present entry: guest #PF; an entry's own address unmapped: a
   * physical fault).
   */
  private walk(va: number, access: number): number {
    const s = this.sys;
    const nxe = (s.efer & EFER_NXE) !== 0;
    let table = ((s.cr3Lo & 0xfffff000) >>> 0) + (s.cr3Hi & 0xfffff) * TWO32;
    let writable = true, executable = true;
    // Index shifts: PML4 39, PDPT 30, PD 21, PT 12.
    for (let level = 3; level >= 0; level--) {
      const index = Math.floor(va / 2 ** (12 + 9 * level)) % 512;
      const at = table + index * 8;
      const page = this.physical.page(at, ACCESS.READ);
      if (page === null) {
        this.last = { fault: { kind: "physical", gpa: at, access: ACCESS.READ }, errorCode: 0, va };
        return -1;
      }
      const b = page.bytes, o = at % PAGE_SIZE;
      const lo = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
      const hi = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0;
      if ((lo & P) === 0) {
        this.guestFault(va, access, false);
        return -1;
      }
      if ((lo & RW) === 0) writable = false;
      if (nxe && hi >>> 31 !== 0) executable = false;
      const base = ((lo & 0xfffff000) >>> 0) + (hi & 0xfffff) * TWO32;
      if (level === 0 || (level <= 2 && level >= 1 && (lo & PS) !== 0)) {
        // A 4 KiB page, or a 2 MiB (PD) / 1 GiB (PDPT) page: the frame's low
        // bits come from the linear address.
        const size = 2 ** (12 + 9 * level);
        const frame = level === 0 ? base : base - (base % size) + (va % size) - (va % PAGE_SIZE);
        const wp = (s.cr0 & CR0_WP) !== 0;
        return Math.floor(frame / PAGE_SIZE) * 4 + (writable || !wp ? C_WRITE : 0) +
          (executable ? C_EXEC : 0);
      }
      table = base;
    }
    return -1; // not reached
  }

  /** Records a guest #PF at `va` (present: a protection violation) and returns null. */
  private guestFault(va: number, access: number, present: boolean): null {
    const s = this.sys;
    const fetch = (access & ACCESS.EXECUTE) !== 0 &&
      ((s.efer & EFER_NXE) !== 0 || (s.cr4 & CR4_SMEP) !== 0);
    const errorCode = (present ? PF_P : 0) | ((access & ACCESS.WRITE) !== 0 ? PF_W : 0) |
      (fetch ? PF_I : 0);
    this.last = { fault: { kind: "guest" }, errorCode, va };
    return null;
  }
}
