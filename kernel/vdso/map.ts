// The vDSO's VMO (one per kernel, shared by every process, held by the
// kernel) and its mapping into a process when the process starts.

import { PAGE_SIZE } from "../../arch/cpu.ts";
import type { Kernel } from "../kernel.ts";
import { ERR, ZxError } from "../status.ts";
import type { Process } from "../process.ts";
import { VM } from "../types.ts";
import { Vmo } from "../vmo.ts";
import { vdsoImage } from "./image.ts";

const vdsoVmos = new WeakMap<Kernel, Vmo>();

/** The kernel's vDSO VMO, made on first use. */
export function vdsoVmo(kernel: Kernel): Vmo {
  let vmo = vdsoVmos.get(kernel);
  if (vmo) return vmo;
  const { bytes } = vdsoImage(kernel.arch);
  vmo = new Vmo(kernel.nextKoid(), kernel.memory, BigInt(bytes.length));
  vmo.setNameBytes(new TextEncoder().encode("vdso/zxsim"));
  vmo.retainedByKernel = true;
  if (!vmo.write(0n, bytes)) {
    throw new ZxError(ERR.NO_MEMORY, "the kernel's memory cap leaves no room for the vDSO");
  }
  vmo.vdsoCode = { offset: 0, size: bytes.length };
  vdsoVmos.set(kernel, vmo);
  return vmo;
}

/** Maps the vDSO's code read+execute at the lowest free spot; returns its base. */
export function mapVdso(kernel: Kernel, process: Process): number {
  const vmo = vdsoVmo(kernel);
  const base = process.aspace.mapVmo(vmo, { perms: VM.PERM_READ | VM.PERM_EXECUTE });
  if (base % PAGE_SIZE !== 0) throw new Error("the vDSO must be page aligned");
  return base;
}
