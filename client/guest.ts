// What a VMM built on the typed client (client/zxsim.ts) needs to start a
// guest, with syscalls only:
//
//   const k = await new ZxsimClient(url).createKernel({ arch: "x64" });
//   const vm = await createGuest(k, { image, loadAddress: GUEST_LOAD_ADDRESS.x64 });
//   await k.zx.guest_set_trap({ handle: vm.guest, kind: "ZX_GUEST_TRAP_IO", ... });
//   const { out: vcpu } = await k.zx.vcpu_create({ guest: vm.guest, options: 0, entry: vm.entry });
//   const { view } = await k.zx.vcpu_enter({ handle: vcpu });
//
// guest_create with the kernel's hypervisor resource gives a guest and its
// guest-physical address space (a VMAR based at 0); guest RAM is a VMO made
// executable (vmo_replace_as_executable: a new VMO has no ZX_RIGHT_EXECUTE,
// as in Zircon) and mapped read, write and execute at guest-physical 0.
//
// An x64 VCPU starts as Zircon's VMCS setup leaves it: in 64-bit long mode
// with paging on and CR3 = 0, so its very first instruction fetch walks page
// tables at guest-physical 0. Fuchsia's VMM writes them there before the
// first vcpu_enter, and so does createGuest: an identity map of the first
// GiB in 2 MiB pages (PML4 at 0x0, PDPT at 0x1000, PD at 0x2000). arm64
// starts at EL1 with the MMU off: addresses are guest-physical, nothing to
// write.

/** Where the guests of tests/fixtures/guest-<arch>/ are linked (their first byte runs first). */
export const GUEST_LOAD_ADDRESS = { x64: 0x8000, arm64: 0x80000 } as const;

/** The guest RAM createGuest maps at guest-physical 0 unless told otherwise: 1 MiB. */
export const GUEST_MEMORY_SIZE = 0x100000;

const PAGE_SIZE = 4096;
/** The x64 page tables' entries: present, writable; PS makes a PD entry a 2 MiB page. */
const PTE_P = 1, PTE_RW = 2, PTE_PS = 0x80;
/** Where identityPageTables puts each level. */
export const X64_PAGE_TABLES = { pml4: 0x0, pdpt: 0x1000, pd: 0x2000, size: 0x3000 } as const;

/**
 * x64 page tables that map guest-virtual = guest-physical for the first GiB
 * in 2 MiB pages, to be written at guest-physical 0 (CR3 = 0): PML4[0] ->
 * PDPT at 0x1000, PDPT[0] -> PD at 0x2000, PD[i] -> i * 2 MiB.
 */
export function identityPageTables(): Uint8Array {
  const bytes = new Uint8Array(X64_PAGE_TABLES.size);
  const view = new DataView(bytes.buffer);
  // Every address here is below 4 GiB: the high halves of the entries stay 0.
  view.setUint32(X64_PAGE_TABLES.pml4, X64_PAGE_TABLES.pdpt | PTE_P | PTE_RW, true);
  view.setUint32(X64_PAGE_TABLES.pdpt, X64_PAGE_TABLES.pd | PTE_P | PTE_RW, true);
  for (let i = 0; i < 512; i++) {
    view.setUint32(X64_PAGE_TABLES.pd + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS, true);
  }
  return bytes;
}

/**
 * One x64 PD entry (8 bytes, to be written at X64_PAGE_TABLES.pd + 8 * index)
 * mapping the 2 MiB guest-virtual page index * 2 MiB to guest-physical
 * `physical` (2 MiB aligned, below 2^52): for a guest that must reach an
 * address identityPageTables does not map.
 */
export function largePageEntry(physical: bigint): Uint8Array {
  if (physical % 0x200000n !== 0n || physical < 0n || physical >= 1n << 52n) {
    throw new RangeError(`largePageEntry: 0x${physical.toString(16)} is not a 2 MiB page`);
  }
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, physical | BigInt(PTE_P | PTE_RW | PTE_PS), true);
  return bytes;
}

// The syscalls createGuest makes, as the typed client's `session.zx` has
// them; declared here (as client/loader.ts does) so that this file does not
// depend on which syscalls a given server build declares.
type Outs = Record<string, unknown>;
type U64 = number | string;
interface GuestSyscalls {
  guest_create(args: { resource: number; options: number }): Promise<Outs>;
  vmo_create(args: { size: U64 }): Promise<Outs>;
  vmo_write(args: { handle: number; buffer: string; offset: U64 }): Promise<Outs>;
  vmo_replace_as_executable(args: { handle: number; vmex: number }): Promise<Outs>;
  vmar_map(args: {
    handle: number;
    options: string[];
    vmar_offset: U64;
    vmo: number;
    vmo_offset: U64;
    len: U64;
  }): Promise<Outs>;
}

/** The part of a KernelSession createGuest uses. */
export interface GuestHost {
  readonly arch: string;
  readonly handles?: { readonly hypervisor_resource: number };
  readonly zx: unknown;
}

export interface GuestOptions {
  /** The guest's code, written at `loadAddress`. */
  readonly image?: Uint8Array;
  /** Guest-physical address of the image's first byte (the VCPU's entry). */
  readonly loadAddress?: number;
  /** Bytes of RAM at guest-physical 0 (a multiple of 4096; default GUEST_MEMORY_SIZE). */
  readonly memorySize?: number;
  /** x64: write identityPageTables() at 0 (default true; false leaves RAM zero there). */
  readonly pageTables?: boolean;
  /** The hypervisor resource (default: the session's bootstrap one). */
  readonly resource?: number;
}

export interface Guest {
  /** The guest handle: traps and VCPUs. */
  readonly guest: number;
  /** The guest-physical address space (a VMAR based at 0). */
  readonly vmar: number;
  /** The RAM VMO, mapped at guest-physical 0: vmo_write to change guest memory. */
  readonly memory: number;
  /** The entry point to give vcpu_create, "0x…". */
  readonly entry: string;
}

/** Writes `bytes` at `offset` of a VMO. */
export async function writeMemory(
  k: GuestHost,
  vmo: number,
  offset: number,
  bytes: Uint8Array,
): Promise<void> {
  const zx = k.zx as GuestSyscalls;
  await zx.vmo_write({ handle: vmo, buffer: bytes.toBase64(), offset });
}

/**
 * guest_create, then RAM: a VMO made executable and mapped at
 * guest-physical 0, x64 page tables at 0 and the image at its load address.
 */
export async function createGuest(k: GuestHost, options: GuestOptions = {}): Promise<Guest> {
  const zx = k.zx as GuestSyscalls;
  const memorySize = options.memorySize ?? GUEST_MEMORY_SIZE;
  if (memorySize <= 0 || memorySize % PAGE_SIZE !== 0) {
    throw new RangeError(`createGuest: memorySize ${memorySize} is not a multiple of 4096`);
  }
  const resource = options.resource ?? k.handles?.hypervisor_resource;
  if (resource === undefined) {
    throw new Error("createGuest: no hypervisor resource (give one for a session of a thread)");
  }
  const created = await zx.guest_create({ resource, options: 0 });
  const guest = created.guest_handle as number, vmar = created.vmar_handle as number;

  const { out: plain } = await zx.vmo_create({ size: memorySize });
  const { out: memory } = await zx.vmo_replace_as_executable({ handle: plain as number, vmex: 0 });
  await zx.vmar_map({
    handle: vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_PERM_EXECUTE", "ZX_VM_SPECIFIC"],
    vmar_offset: 0,
    vmo: memory as number,
    vmo_offset: 0,
    len: memorySize,
  });
  if (k.arch === "x64" && (options.pageTables ?? true)) {
    await writeMemory(k, memory as number, 0, identityPageTables());
  }
  const loadAddress = options.loadAddress ?? GUEST_LOAD_ADDRESS[k.arch as "x64" | "arm64"];
  if (options.image !== undefined) {
    if (loadAddress + options.image.length > memorySize) {
      throw new RangeError(
        `createGuest: the image does not fit below 0x${memorySize.toString(16)}`,
      );
    }
    await writeMemory(k, memory as number, loadAddress, options.image);
  }
  return { guest, vmar, memory: memory as number, entry: `0x${loadAddress.toString(16)}` };
}
