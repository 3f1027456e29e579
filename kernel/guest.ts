// A guest (ZX_OBJ_TYPE_GUEST, Zircon's GuestDispatcher): a guest-physical
// address space, its traps and the VPIDs of its VCPUs. The guest-physical
// space is an address space like a process's, rooted at 0: the VMM maps
// VMOs into its root VMAR (guest_create's vmar_handle) with vmar_map, and
// the guest's cores translate through it exactly as user threads' do.

import type { VcpuArch } from "../arch/vcpu.ts";
import { TrapMap, type TrapRequest } from "./guest_traps.ts";
import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { ERR, ZxError } from "./status.ts";
import { OBJ_TYPE } from "./types.ts";
import { unmap } from "./vm/range_ops.ts";
import { ProcessAddressSpace } from "./vm/address_space.ts";

/**
 * GUEST_PHYSICAL_ASPACE_SIZE, 1 << MMU_GUEST_SIZE_SHIFT: x64 48 bits (256
 * TiB), arm64 36 bits (64 GiB: a 4 KiB granule starting at level 1 under a
 * 40-bit PARange).
 */
export const GUEST_PHYSICAL_SIZE: Readonly<Record<string, number>> = {
  x64: 2 ** 48,
  arm64: 2 ** 36,
};

export class Guest extends KernelObject {
  readonly type = OBJ_TYPE.GUEST;
  readonly defaultRights = DEFAULT_RIGHTS.guest;
  /** Guest-physical memory: its root VMAR spans [0, size). */
  readonly physical: ProcessAddressSpace;
  readonly traps: TrapMap;
  /** VPIDs in use: index n is VPID n (0 is never handed out). */
  readonly #vpids: boolean[];
  /** Where the next VPID search starts (IdAllocator's rotating hint). */
  #nextVpid = 1;
  /** VCPUs alive: the guest-physical space lives while they or a guest handle do. */
  #vcpus = 0;

  constructor(koid: number, vmarKoid: number, archName: string, readonly arch: VcpuArch) {
    super(koid);
    this.physical = new ProcessAddressSpace(
      `guest:${koid}`,
      vmarKoid,
      0,
      GUEST_PHYSICAL_SIZE[archName],
    );
    this.traps = new TrapMap(arch.ioTraps);
    this.#vpids = new Array(arch.maxVcpus).fill(false);
  }

  /** The guest-physical space's size: an entry at or past it is INVALID_ARGS. */
  get physicalSize(): number {
    return this.physical.root.size;
  }

  /** Guest::SetTrap (after the handle and port lookups). */
  setTrap(request: TrapRequest): void {
    this.traps.insert(request, (addr, size) => unmap(this.physical.root, addr, size, true));
  }

  /**
   * IdAllocator::TryAlloc over [1, kMaxGuestVcpus): the first free VPID
   * from the hint on, wrapping to 1; the hint then moves past it, so a
   * VCPU made after one is closed gets the next VPID, not the freed one.
   */
  allocVpid(): number {
    const vpid = this.#freeVpid();
    this.#vpids[vpid] = true;
    this.#nextVpid = (vpid + 1) % this.#vpids.length || 1;
    return vpid;
  }

  /** NO_RESOURCES unless a VPID is free (TryAlloc's failure, checked before anything changes). */
  requireFreeVpid(): void {
    this.#freeVpid();
  }

  #freeVpid(): number {
    const max = this.#vpids.length;
    for (let i = 0; i < max - 1; i++) {
      const vpid = 1 + (this.#nextVpid - 1 + i) % (max - 1);
      if (!this.#vpids[vpid]) return vpid;
    }
    throw new ZxError(
      ERR.NO_RESOURCES,
      `the guest already has ${max - 1} VCPUs, the most this arch allows (VPIDs 1 to ` +
        `kMaxGuestVcpus - 1 = ${max - 1})`,
    );
  }

  vcpuCreated(): void {
    this.#vcpus++;
  }

  /** A VCPU was destroyed: its VPID is free again. */
  vcpuDestroyed(vpid: number): void {
    this.#vpids[vpid] = false;
    this.#vcpus--;
    this.#maybeDestroy();
  }

  override onZeroHandles(): void {
    this.#maybeDestroy();
  }

  /**
   * Nothing refers to the guest any more: its guest-physical space goes
   * (the VMAR handle, if still open, then sees a dead VMAR), and its traps
   * with the BELL packets they left on ports.
   */
  #maybeDestroy(): void {
    if (this.handleCount !== 0 || this.#vcpus !== 0) return;
    this.physical.destroy();
    this.traps.destroy();
  }
}
