// The vDSO's code: one entry point per syscall number, each at a fixed
// stride, so code finds zx_<name> at vdso_base + VDSO_ENTRY_STRIDE * ZX_SYS_<name>.
// The kernel accepts a syscall only from the syscall instruction of that
// number's own entry point, as Zircon checks the vDSO's per-syscall PC.

import type { Arch } from "../../arch/arch.ts";
import { PAGE_SIZE } from "../../arch/cpu.ts";
import { STACK_ARGUMENT_SYSCALLS, SYSCALL_COUNT, syscallName } from "./numbers.ts";

export const VDSO_ENTRY_STRIDE = 32;

export interface VdsoImage {
  /** The code, page-rounded; unused bytes trap. */
  readonly bytes: Uint8Array;
  /** Offset of each number's syscall instruction. */
  readonly syscallSites: Int32Array;
}

const images = new WeakMap<Arch, VdsoImage>();

export function vdsoImage(arch: Arch): VdsoImage {
  let image = images.get(arch);
  if (image) return image;
  const codeSize = SYSCALL_COUNT * VDSO_ENTRY_STRIDE;
  const bytes = new Uint8Array(Math.ceil(codeSize / PAGE_SIZE) * PAGE_SIZE);
  for (let at = 0; at < bytes.length; at += arch.trapFill.length) bytes.set(arch.trapFill, at);
  const syscallSites = new Int32Array(SYSCALL_COUNT);
  for (let n = 0; n < SYSCALL_COUNT; n++) {
    const stub = arch.vdsoStub(n, STACK_ARGUMENT_SYSCALLS.has(syscallName(n)!));
    if (stub.code.length > VDSO_ENTRY_STRIDE) throw new Error(`vDSO stub ${n} is too long`);
    bytes.set(stub.code, n * VDSO_ENTRY_STRIDE);
    syscallSites[n] = n * VDSO_ENTRY_STRIDE + stub.syscallAt;
  }
  image = { bytes, syscallSites };
  images.set(arch, image);
  return image;
}
