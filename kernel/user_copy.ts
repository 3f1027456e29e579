// Copies between the kernel and a process's memory for syscalls made by
// code, with the permissions the mappings give (Zircon's user copies: a
// pointer the process cannot read or write is ZX_ERR_INVALID_ARGS).

import { ACCESS, type AddressSpace, PAGE_SIZE } from "../arch/cpu.ts";

/** Largest single copy in: a bigger size is refused as an invalid pointer would be. */
export const MAX_USER_COPY = 64 << 20;

/**
 * The bytes at [va, va + length) that can be read, stopping at the first
 * page that cannot: a short result tells the syscall its pointer was bad at
 * the point where it would have copied, in its own order of checks.
 */
export function copyFromUser(aspace: AddressSpace, va: number, length: number): Uint8Array {
  const wanted = Math.min(length, MAX_USER_COPY);
  if (wanted <= 0 || va + wanted > Number.MAX_SAFE_INTEGER) return new Uint8Array(0);
  const out = new Uint8Array(wanted);
  let done = 0;
  while (done < wanted) {
    const at = va + done;
    const page = aspace.page(at, ACCESS.READ);
    if (page === null) return out.subarray(0, done);
    const offset = at % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - offset, wanted - done);
    out.set(page.bytes.subarray(offset, offset + n), done);
    done += n;
  }
  return out;
}

/** Writes `bytes` at `va` if every byte is writable; nothing is written otherwise. */
export function copyToUser(aspace: AddressSpace, va: number, bytes: Uint8Array): boolean {
  if (va + bytes.length > Number.MAX_SAFE_INTEGER) return false;
  const pages = [];
  for (let done = 0; done < bytes.length;) {
    const at = va + done;
    const page = aspace.page(at, ACCESS.WRITE);
    if (page === null) return false;
    const n = Math.min(PAGE_SIZE - (at % PAGE_SIZE), bytes.length - done);
    pages.push({ page, offset: at % PAGE_SIZE, from: done, n });
    done += n;
  }
  for (const { page, offset, from, n } of pages) {
    page.bytes.set(bytes.subarray(from, from + n), offset);
    page.written();
  }
  return true;
}
