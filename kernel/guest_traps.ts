// A guest's traps (Zircon's hypervisor TrapMap and Guest::SetTrap, 2022+
// rules): ranges of guest-physical memory (BELL and MEM, one tree: a BELL
// may not overlap a MEM) or of x64 I/O ports (IO, a tree of its own) whose
// accesses leave the guest. MEM and IO accesses stop the VCPU and come back
// from vcpu_enter as a packet; BELL writes become packets queued on a port
// while the guest runs on.

import { PAGE_SIZE } from "../arch/cpu.ts";
import type { Port } from "./port.ts";
import { ERR, ZxError } from "./status.ts";
import { GUEST_TRAP } from "./types.ts";

/**
 * kMaxPacketsPerRange: a BELL trap has this many packets; with all of them
 * queued and not yet dequeued, the VCPU that rings it waits for one.
 */
export const MAX_PACKETS_PER_TRAP = 256;

/** UINT16_MAX: an IO trap must end at or below it (port 0xFFFF cannot be trapped). */
const IO_SPACE_END = 0xffff;
const U64_LIMIT = 1n << 64n;

export class Trap {
  /** BELL packets queued on the port and not yet dequeued. */
  outstanding = 0;
  /** A VCPU waiting for one of them to be dequeued. */
  readonly #freed = new Set<() => void>();

  constructor(
    readonly kind: number,
    readonly addr: number,
    readonly size: number,
    readonly port: Port | null,
    readonly key: bigint,
  ) {}

  get end(): number {
    return this.addr + this.size;
  }

  contains(address: number): boolean {
    return address >= this.addr && address < this.end;
  }

  /** One of its packets was dequeued (or dropped with its port). */
  packetFreed(): void {
    this.outstanding = Math.max(0, this.outstanding - 1);
    const waiters = [...this.#freed];
    this.#freed.clear();
    for (const waiter of waiters) waiter();
  }

  /** Calls `waiter` once a packet is freed; returns a function that stops waiting. */
  onFreed(waiter: () => void): () => void {
    this.#freed.add(waiter);
    return () => this.#freed.delete(waiter);
  }
}

function invalid(message: string): ZxError {
  return new ZxError(ERR.INVALID_ARGS, message);
}

const hex = (value: number | bigint) => `0x${value.toString(16)}`;

/** Traps sorted by address, never overlapping. */
class TrapTree {
  readonly #traps: Trap[] = [];

  /** The trap holding `address`, if any. */
  find(address: number): Trap | undefined {
    let lo = 0, hi = this.#traps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#traps[mid].end <= address) lo = mid + 1;
      else hi = mid;
    }
    const trap = this.#traps[lo];
    return trap && trap.addr <= address ? trap : undefined;
  }

  overlaps(addr: number, end: number): boolean {
    return this.#traps.some((t) => t.addr < end && addr < t.end);
  }

  insert(trap: Trap): void {
    const at = this.#traps.findIndex((t) => t.addr > trap.addr);
    this.#traps.splice(at < 0 ? this.#traps.length : at, 0, trap);
  }

  /** Forgets every trap, calling `each` for it. */
  clear(each: (trap: Trap) => void): void {
    for (const trap of this.#traps.splice(0)) each(trap);
  }
}

export interface TrapRequest {
  readonly kind: number;
  readonly addr: bigint;
  readonly size: bigint;
  readonly port: Port | null;
  readonly key: bigint;
}

export class TrapMap {
  readonly #memory = new TrapTree();
  readonly #io = new TrapTree();

  /** `ioTraps`: ZX_GUEST_TRAP_IO exists on this arch (x64). */
  constructor(readonly ioTraps: boolean) {}

  /**
   * The guest is gone (~Trap): each BELL trap's packets still on its port
   * and not dequeued are dropped, as Zircon cancels them; user packets stay.
   */
  destroy(): void {
    const drop = (trap: Trap) => trap.port?.cancelQueued(trap);
    this.#memory.clear(drop);
    this.#io.clear(drop);
  }

  /**
   * Guest::SetTrap's checks, in its order: the kind and its port rule,
   * MEM/BELL page alignment and the unmap of that range from the
   * guest-physical space (`unmap`, which throws as vmar_unmap would), then
   * TrapMap::InsertTrap's range (OUT_OF_RANGE) and overlap (ALREADY_EXISTS).
   */
  insert(request: TrapRequest, unmap: (addr: bigint, size: bigint) => void): Trap {
    const { kind, addr, size, port } = request;
    switch (kind) {
      case GUEST_TRAP.MEM:
        if (port) throw invalid("ZX_GUEST_TRAP_MEM takes no port: port_handle must be 0");
        break;
      case GUEST_TRAP.BELL:
        if (!port) throw invalid("ZX_GUEST_TRAP_BELL needs a port: port_handle is 0");
        break;
      case GUEST_TRAP.IO:
        if (!this.ioTraps) {
          throw new ZxError(ERR.NOT_SUPPORTED, "ZX_GUEST_TRAP_IO exists only on x64");
        }
        if (port) throw invalid("ZX_GUEST_TRAP_IO takes no port: port_handle must be 0");
        return this.#insert(this.#io, request);
      default:
        throw invalid(`kind ${kind} is not a trap kind (BELL 0, MEM 1, IO 2)`);
    }
    const page = BigInt(PAGE_SIZE);
    if (addr % page !== 0n || size % page !== 0n) {
      throw invalid(`addr ${hex(addr)} and size ${hex(size)} must both be page-aligned`);
    }
    // UnmapRange first, as Zircon: its own checks (a size of 0, a range
    // outside the guest-physical space: INVALID_ARGS) come before the trap
    // map's, and a later ALREADY_EXISTS does not bring the mappings back.
    unmap(addr, size);
    return this.#insert(this.#memory, request);
  }

  /** ValidRange: a length, no 64-bit overflow, and x64 ports below 0xFFFF. */
  #checkRange(kind: number, addr: bigint, size: bigint): void {
    if (size === 0n) throw new ZxError(ERR.OUT_OF_RANGE, "size is 0");
    if (addr + size >= U64_LIMIT) {
      throw new ZxError(ERR.OUT_OF_RANGE, `addr ${hex(addr)} + size ${hex(size)} overflows`);
    }
    if (kind === GUEST_TRAP.IO && addr + size > BigInt(IO_SPACE_END)) {
      throw new ZxError(
        ERR.OUT_OF_RANGE,
        `ports ${hex(addr)} + ${hex(size)} end past 0xffff (the last port cannot be trapped)`,
      );
    }
  }

  #insert(tree: TrapTree, request: TrapRequest): Trap {
    const { kind, addr, size, port, key } = request;
    this.#checkRange(kind, addr, size);
    // Past the range check both fit in a double exactly: ports are tiny and
    // memory traps lie where Number addresses do (below 2^53, and here 2^64
    // is the only bound: a trap beyond the guest-physical size is harmless).
    const start = Number(addr), length = Number(size);
    if (tree.overlaps(start, start + length)) {
      throw new ZxError(
        ERR.ALREADY_EXISTS,
        `${hex(addr)} + ${hex(size)} overlaps a trap already set` +
          (kind === GUEST_TRAP.IO ? "" : " (BELL and MEM traps share one address space)"),
      );
    }
    const trap = new Trap(kind, start, length, port, key);
    tree.insert(trap);
    return trap;
  }

  /** The BELL or MEM trap at guest-physical `gpa`. */
  findMemory(gpa: number): Trap | undefined {
    return this.#memory.find(gpa);
  }

  /** The IO trap covering `port`. */
  findIo(port: number): Trap | undefined {
    return this.#io.find(port);
  }
}
