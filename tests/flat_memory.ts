// A minimal address space for core tests: pages with permissions in a Map,
// no VMOs. Kernel tests use the real VM; this keeps the cores' tests free of
// the kernel, as the cores themselves are.

import { ACCESS, type AddressSpace, Page, PAGE_SHIFT, PAGE_SIZE } from "../arch/cpu.ts";

export class FlatMemory implements AddressSpace {
  generation = 0;
  readonly #pages = new Map<number, { page: Page; perms: number }>();

  /** Maps [va, va + size) with `perms` (ACCESS bits), zero-filled. */
  map(va: number, size: number, perms: number = ACCESS.READ | ACCESS.WRITE): void {
    for (let at = va - (va % PAGE_SIZE); at < va + size; at += PAGE_SIZE) {
      if (!this.#pages.has(Math.floor(at / PAGE_SIZE))) {
        this.#pages.set(Math.floor(at / PAGE_SIZE), { page: new Page(), perms });
      }
    }
    this.generation++;
  }

  protect(va: number, size: number, perms: number): void {
    for (let at = va - (va % PAGE_SIZE); at < va + size; at += PAGE_SIZE) {
      const entry = this.#pages.get(Math.floor(at / PAGE_SIZE));
      if (entry) entry.perms = perms;
    }
    this.generation++;
  }

  page(va: number, access: number): Page | null {
    const entry = this.#pages.get(Math.floor(va / PAGE_SIZE));
    if (entry === undefined || (entry.perms & access) !== access) return null;
    return entry.page;
  }

  /** Copies `bytes` in at `va` (which must be mapped), ignoring permissions. */
  load(va: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const entry = this.#pages.get(Math.floor((va + i) / PAGE_SIZE))!;
      entry.page.bytes[(va + i) % PAGE_SIZE] = bytes[i];
      entry.page.written();
    }
  }

  read(va: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.#pages.get(Math.floor((va + i) / PAGE_SIZE))!.page.bytes[(va + i) % PAGE_SIZE];
    }
    return out;
  }
}

export { ACCESS, PAGE_SHIFT };
