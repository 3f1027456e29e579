// A process's address space (Zircon's VmAspace): its root VMAR, and the
// translation from a user address to a VMO page that the interpreter cores,
// the kernel's user copies and the debugger syscalls all go through.
//
// Translations are cached per page until the next change (map, unmap,
// protect, destroy, a resize of a mapped VMO), which also bumps
// `generation` so a core drops what it cached.

import { type AddressSpace, type Page, PAGE_SIZE } from "../../arch/cpu.ts";
import { VM } from "../types.ts";
import { Vmar } from "../vmar.ts";
import type { Vmo } from "../vmo.ts";
import { createMapping } from "./create_region.ts";
import { CAN_MAP_RWX, Mapping } from "./mapping.ts";

/** A mapping kernel code makes (see ProcessAddressSpace.mapVmo). */
export interface KernelMapping {
  /** ZX_VM_PERM_* bits; they are also the most it may ever be protected to. */
  readonly perms: number;
  /** An absolute, page-aligned address (as ZX_VM_SPECIFIC); else the lowest free spot. */
  readonly address?: number;
  /** Page-aligned offset in the VMO (default 0). */
  readonly vmoOffset?: number;
  /** Bytes to map, rounded up to pages (default: the VMO's size from vmoOffset). */
  readonly length?: number;
}

/** One cached page translation; `vmo` null means nothing is mapped there. */
interface Translation {
  readonly vmo: Vmo | null;
  readonly index: number;
  readonly perms: number;
  page: Page | null;
}

const UNMAPPED: Translation = { vmo: null, index: 0, perms: 0, page: null };

export class ProcessAddressSpace implements AddressSpace {
  #generation = 0;
  readonly #translations = new Map<number, Translation>();
  readonly root: Vmar;
  /** The one executable mapping of the vDSO's code, once made. */
  vdsoCodeMapping: Mapping | null = null;
  destroyed = false;

  /**
   * `name` is the aspace's name in ZX_INFO_PROCESS_MAPS ("proc:<koid>");
   * the root VMAR spans [base, base + size) and may map anything anywhere
   * (CAN_MAP_READ | WRITE | EXECUTE | SPECIFIC), as Zircon's does.
   */
  constructor(readonly name: string, rootKoid: number, base: number, size: number) {
    const flags = CAN_MAP_RWX | VM.CAN_MAP_SPECIFIC;
    this.root = new Vmar(rootKoid, this, null, base, size, flags, "root");
  }

  get generation(): number {
    return this.#generation;
  }

  /** Something that translations depend on changed. */
  invalidate(): void {
    this.#generation++;
    this.#translations.clear();
  }

  /** AddressSpace.page: the VMO page behind `va` if mapped with all of `access`; commits it. */
  page(va: number, access: number): Page | null {
    const vpn = Math.floor(va / PAGE_SIZE);
    let t = this.#translations.get(vpn);
    if (t === undefined) {
      t = this.#translate(vpn * PAGE_SIZE);
      this.#translations.set(vpn, t);
    }
    if (t.vmo === null || (t.perms & access) !== access) return null;
    return t.page ??= t.vmo.commit(t.index);
  }

  /**
   * Maps `vmo` into the root VMAR from kernel code (the vDSO at process
   * start, an image a test loads): vmar_map's placement and checks, without
   * handles or rights. A VMO with `vdsoCode` set mapped executable becomes
   * the process's one vDSO code mapping (it must cover exactly that range),
   * which vmar_unmap / vmar_protect then refuse to touch. Returns the address;
   * throws ZxError as vmar_map would (ALREADY_EXISTS, NO_RESOURCES, ...).
   */
  mapVmo(vmo: Vmo, m: KernelMapping): number {
    const vmoOffset = BigInt(m.vmoOffset ?? 0);
    const specific = m.address !== undefined;
    const mapping = createMapping(this.root, {
      offset: specific ? BigInt.asUintN(64, BigInt(m.address! - this.root.base)) : 0n,
      alignLog2: 0,
      flags: specific ? VM.SPECIFIC : 0,
      len: m.length !== undefined ? BigInt(m.length) : vmo.size - vmoOffset,
      vmo,
      vmoOffset,
      perms: m.perms,
    });
    return mapping.base;
  }

  /** The mapping holding `va` (VmAspace::FindRegion, when it finds a mapping). */
  findMapping(va: number): Mapping | null {
    if (!Number.isSafeInteger(va) || va < this.root.base || va >= this.root.end) return null;
    let region: Vmar | Mapping | undefined = this.root.alive ? this.root : undefined;
    while (region instanceof Vmar) region = region.childAt(va);
    return region ?? null;
  }

  /**
   * Zircon's copy_from_user for a syscall: `length` bytes at `va`, or null
   * if any of them is not mapped with READ, lies past its VMO's end, or is
   * not a user address. Untouched pages read as zeros and stay uncommitted.
   */
  readUser(va: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    for (let done = 0; done < length;) {
      const t = this.#userPage(va + done, VM.PERM_READ);
      if (t === null) return null;
      const at = (va + done) % PAGE_SIZE;
      const count = Math.min(PAGE_SIZE - at, length - done);
      const page = t.page ?? t.vmo!.peek(t.index);
      if (page) out.set(page.bytes.subarray(at, at + count), done);
      done += count;
    }
    return out;
  }

  /**
   * Zircon's copy_to_user: writes `bytes` at `va` page by page; false at the
   * first page not mapped with WRITE, past its VMO's end, or over the memory
   * budget (the pages before it are written, as a faulting copy leaves them).
   */
  writeUser(va: number, bytes: Uint8Array): boolean {
    for (let done = 0; done < bytes.length;) {
      const page = this.page(va + done, VM.PERM_WRITE);
      if (page === null) return false;
      const at = (va + done) % PAGE_SIZE;
      const count = Math.min(PAGE_SIZE - at, bytes.length - done);
      page.bytes.set(bytes.subarray(done, done + count), at);
      page.written();
      done += count;
    }
    return true;
  }

  /** Takes a mapping out of its VMAR and its VMO (an unmap that covers it, or a destroy). */
  dropMapping(mapping: Mapping): void {
    mapping.parent.remove(mapping);
    mapping.alive = false;
    mapping.vmo.unmapped(mapping);
    if (this.vdsoCodeMapping === mapping) this.vdsoCodeMapping = null;
    this.invalidate();
  }

  /** Whether [base, base + size) touches the vDSO's code mapping. */
  intersectsVdsoCode(base: number, size: number): boolean {
    const vdso = this.vdsoCodeMapping;
    return vdso !== null && base < vdso.end && vdso.base < base + size;
  }

  /** The process died: everything is unmapped and the root VMAR is dead. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.root.destroy();
    this.invalidate();
  }

  #isUser(va: number): boolean {
    return Number.isSafeInteger(va) && va >= this.root.base && va < this.root.end;
  }

  /** The translation of `va` for a user copy needing `perms`, or null (a fault). */
  #userPage(va: number, perms: number): Translation | null {
    if (!this.#isUser(va)) return null;
    const vpn = Math.floor(va / PAGE_SIZE);
    let t = this.#translations.get(vpn);
    if (t === undefined) {
      t = this.#translate(vpn * PAGE_SIZE);
      this.#translations.set(vpn, t);
    }
    if (t.vmo === null || (t.perms & perms) !== perms || t.index >= t.vmo.sizePages) return null;
    return t;
  }

  #translate(va: number): Translation {
    const mapping = this.findMapping(va);
    if (mapping === null) return UNMAPPED;
    return {
      vmo: mapping.vmo,
      index: mapping.vmoPageAt(va),
      perms: mapping.permsAt(va),
      page: null,
    };
  }
}
