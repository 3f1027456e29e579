// Loads a program into a zxsim process the way Fuchsia does, from userspace
// with syscalls only (here: the HTTP client of client/zxsim.ts):
//
//   const k = await new ZxsimClient(url).createKernel({ arch: "x64" });
//   const program = await loadElf(k, await Deno.readFile("tests/fixtures/programs/x64/loop.elf"));
//   // program.process, program.thread, program.entry, program.sp, ...
//
// For an ELF file (client/elf.ts reads it): process_create (or a process you
// give), then for each PT_LOAD segment vmo_create of its pages, vmo_write of
// its file bytes (the rest, .bss, stays zero), for an executable one
// vmo_replace_as_executable (a new VMO has no ZX_RIGHT_EXECUTE, as in
// Zircon), and vmar_map at its address (ZX_VM_SPECIFIC, vmar_offset = its
// page - the root VMAR's base, which object_get_info ZX_INFO_VMAR gives) with
// the permissions of its p_flags. A flat binary (loadFlat) is one R+X
// mapping wherever the kernel puts it.
// Then a stack VMO mapped R+W, thread_create, handle_duplicate of the process
// handle and process_start(process, thread, entry, sp, that duplicate, 0):
// the program starts as `_start(process handle, vDSO base)` (zxsim passes the
// vDSO base when arg2 is 0). The initial sp is the stack top - 8 on x64 (as
// if _start had been called) and the top on arm64; both 16-byte aligned.

import { type ElfArch, type ElfImage, parseElf, PF_R, PF_W, PF_X } from "./elf.ts";

export { ElfError, type ElfImage, type ElfSegment, parseElf } from "./elf.ts";

/** ZX_VM_* options of vmar_map. */
export const ZX_VM_PERM_READ = 1 << 0;
export const ZX_VM_PERM_WRITE = 1 << 1;
export const ZX_VM_PERM_EXECUTE = 1 << 2;
export const ZX_VM_SPECIFIC = 1 << 4;
export const ZX_RIGHT_SAME_RIGHTS = 0x8000_0000;

export const PAGE_SIZE = 4096;
export const DEFAULT_STACK_SIZE = 64 * 1024;
/** vmo_write sends at most this many bytes per request. */
export const WRITE_CHUNK = 256 * 1024;

/** A loader's mistake or a file it refuses (ElfError, from client/elf.ts, for ELF contents). */
export class LoaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LoaderError";
  }
}

// The syscalls the loader makes, as the typed client's `session.zx` has them.
// Declared here rather than taken from the syscall table's types so that the
// loader does not depend on which syscalls a given server build declares.
type U64 = number | string;
type Outs = Record<string, unknown>;
interface LoaderSyscalls {
  process_create(args: { job: number; name: string }): Promise<Outs>;
  thread_create(args: { process: number; name: string }): Promise<Outs>;
  vmo_create(args: { size: U64 }): Promise<Outs>;
  vmo_write(args: { handle: number; buffer: string; offset: U64 }): Promise<Outs>;
  vmo_replace_as_executable(args: { handle: number; vmex: number }): Promise<Outs>;
  vmar_map(args: {
    handle: number;
    options: number;
    vmar_offset: U64;
    vmo: number;
    vmo_offset: U64;
    len: U64;
  }): Promise<Outs>;
  object_get_info(args: { handle: number; topic: string }): Promise<Outs>;
  handle_duplicate(args: { handle: number; rights: number }): Promise<Outs>;
  process_start(args: {
    handle: number;
    thread: number;
    entry: U64;
    stack: U64;
    arg1: number;
    arg2: U64;
  }): Promise<Outs>;
}

/** What the loader needs of a session: a KernelSession (client/zxsim.ts) has all of it. */
export interface LoaderTarget {
  /** The kernel's arch: "x64" or "arm64". */
  readonly arch: string;
  /** The syscalls, as `k.zx`. */
  readonly zx: unknown;
  /** The bootstrap handles; root_job is the default job for process_create. */
  readonly handles?: { readonly root_job: number };
}

export interface LoadOptions {
  /** Load into this process (its handle and its root VMAR's) instead of creating one. */
  readonly process?: { readonly process: number; readonly vmar: number };
  /** The job for process_create; default: the session's root job. */
  readonly job?: number;
  /** The process's name (default "program") and its thread's (default "initial-thread"). */
  readonly name?: string;
  readonly threadName?: string;
  /** The stack's size in bytes, rounded up to pages; default 64 KiB. */
  readonly stackSize?: number;
  /** The root VMAR's base; default: asked with object_get_info ZX_INFO_VMAR. */
  readonly vmarBase?: bigint;
  /** process_start's arg2; default 0 (zxsim passes the vDSO base). */
  readonly arg2?: bigint | number;
  /**
   * false: map everything and create the thread, but leave the start to
   * startProgram (e.g. to suspend the thread first); default true.
   */
  readonly start?: boolean;
}

/** A mapping the loader made. */
export interface LoadedMapping {
  /** Its first address (page-aligned) and size in bytes (whole pages). */
  readonly addr: bigint;
  readonly size: number;
  /** ZX_VM_PERM_* bits it was mapped with. */
  readonly perms: number;
  /** The VMO behind it; the handle stays open in the caller's process (close it at will). */
  readonly vmo: number;
}

export interface LoadedProgram {
  readonly arch: ElfArch;
  /** Handles in the caller's process. */
  readonly process: number;
  readonly vmar: number;
  readonly thread: number;
  /** The root VMAR's base. */
  readonly vmarBase: bigint;
  /** The entry pc and the initial stack pointer given to process_start. */
  readonly entry: bigint;
  readonly sp: bigint;
  /** The program's mappings: one per PT_LOAD segment, or the flat binary's one. */
  readonly mappings: readonly LoadedMapping[];
  readonly stack: LoadedMapping;
  /** Whether process_start has been called (false with `start: false`). */
  readonly started: boolean;
}

/** Loads a static ELF64 executable (x86-64 or AArch64, as the kernel) and starts it. */
export async function loadElf(
  target: LoaderTarget,
  bytes: Uint8Array,
  options: LoadOptions = {},
): Promise<LoadedProgram> {
  const arch = kernelArch(target);
  const image: ElfImage = parseElf(bytes, { arch });
  return await load(target, arch, options, async (sys, vmar, vmarBase) => {
    const mappings: LoadedMapping[] = [];
    for (const segment of image.segments) {
      const vmarOffset = segment.pageStart - vmarBase;
      if (vmarOffset < 0n) {
        throw new LoaderError(
          `segment ${segment.index} at 0x${segment.vaddr.toString(16)} is below the root ` +
            `VMAR's base 0x${vmarBase.toString(16)}`,
        );
      }
      const data = bytes.subarray(segment.offset, segment.offset + segment.filesz);
      const perms = permsOf(segment.flags);
      const vmo = await vmoWith(sys, segment.pageSize, data, segment.pageOffset, perms);
      const addr = await map(sys, {
        vmar,
        options: perms | ZX_VM_SPECIFIC,
        vmarOffset,
        vmo,
        len: segment.pageSize,
      });
      if (addr !== segment.pageStart) {
        throw new LoaderError(
          `segment ${segment.index} was mapped at 0x${addr.toString(16)}, not at ` +
            `0x${segment.pageStart.toString(16)}`,
        );
      }
      mappings.push({ addr, size: segment.pageSize, perms, vmo });
    }
    return { entry: image.entry, mappings };
  });
}

/**
 * Loads a flat binary: `bytes` mapped read+execute wherever the kernel
 * places them, entered at `entryOffset` from their start. The code must be
 * position-independent and write nothing but its stack.
 */
export async function loadFlat(
  target: LoaderTarget,
  bytes: Uint8Array,
  options: LoadOptions & { readonly entryOffset?: number } = {},
): Promise<LoadedProgram> {
  const arch = kernelArch(target);
  const entryOffset = options.entryOffset ?? 0;
  if (bytes.length === 0) throw new LoaderError("an empty flat binary");
  if (!Number.isSafeInteger(entryOffset) || entryOffset < 0 || entryOffset >= bytes.length) {
    throw new LoaderError(
      `entry offset ${entryOffset} is not inside the ${bytes.length}-byte binary`,
    );
  }
  return await load(target, arch, options, async (sys, vmar) => {
    const size = roundUpToPage(bytes.length);
    const perms = ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE;
    const vmo = await vmoWith(sys, size, bytes, 0, perms);
    const addr = await map(sys, { vmar, options: perms, vmarOffset: 0n, vmo, len: size });
    return { entry: addr + BigInt(entryOffset), mappings: [{ addr, size, perms, vmo }] };
  });
}

/**
 * process_start of a program loaded with `start: false`: duplicates the
 * process handle for arg1 and starts the thread at the entry with the sp.
 */
export async function startProgram(
  target: LoaderTarget,
  program: LoadedProgram,
  arg2: bigint | number = 0,
): Promise<LoadedProgram> {
  if (program.started) throw new LoaderError("the program has already been started");
  const sys = syscalls(target);
  const { out: arg1 } = await sys.handle_duplicate({
    handle: program.process,
    rights: ZX_RIGHT_SAME_RIGHTS,
  });
  await sys.process_start({
    handle: program.process,
    thread: program.thread,
    entry: u64(program.entry),
    stack: u64(program.sp),
    arg1: handleOut(arg1, "handle_duplicate"),
    arg2: u64(BigInt(arg2)),
  });
  return { ...program, started: true };
}

/** ZX_VM_PERM_* for ELF p_flags (PF_R/W/X). */
export function permsOf(flags: number): number {
  return (flags & PF_R ? ZX_VM_PERM_READ : 0) | (flags & PF_W ? ZX_VM_PERM_WRITE : 0) |
    (flags & PF_X ? ZX_VM_PERM_EXECUTE : 0);
}

/** The initial stack pointer for a stack whose top (one past its end) is `top`. */
export function initialSp(arch: ElfArch, top: bigint): bigint {
  return arch === "x64" ? top - 8n : top;
}

export function roundUpToPage(size: number): number {
  return Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
}

// ---- Internals ----

type MapImage = (
  sys: LoaderSyscalls,
  vmar: number,
  vmarBase: bigint,
) => Promise<{ entry: bigint; mappings: LoadedMapping[] }>;

/** The steps every load shares around `mapImage`: process, stack, thread, start. */
async function load(
  target: LoaderTarget,
  arch: ElfArch,
  options: LoadOptions,
  mapImage: MapImage,
): Promise<LoadedProgram> {
  const sys = syscalls(target);
  const stackSize = roundUpToPage(options.stackSize ?? DEFAULT_STACK_SIZE);
  if (stackSize <= 0) throw new LoaderError(`stack size ${options.stackSize} is not positive`);

  let process: number;
  let vmar: number;
  if (options.process) {
    ({ process, vmar } = options.process);
  } else {
    const job = options.job ?? target.handles?.root_job;
    if (job === undefined) {
      throw new LoaderError("no job for process_create: pass `job` or a session with handles");
    }
    const created = await sys.process_create({ job, name: options.name ?? "program" });
    process = handleOut(created.proc_handle, "process_create");
    vmar = handleOut(created.vmar_handle, "process_create");
  }
  const vmarBase = options.vmarBase ?? await rootVmarBase(sys, vmar);

  const { entry, mappings } = await mapImage(sys, vmar, vmarBase);

  const stackPerms = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
  const stackVmo = await vmoWith(sys, stackSize, new Uint8Array(), 0, stackPerms);
  const stackBase = await map(sys, {
    vmar,
    options: stackPerms,
    vmarOffset: 0n,
    vmo: stackVmo,
    len: stackSize,
  });
  const stack = { addr: stackBase, size: stackSize, perms: stackPerms, vmo: stackVmo };
  const sp = initialSp(arch, stackBase + BigInt(stackSize));

  const { out: thread } = await sys.thread_create({
    process,
    name: options.threadName ?? "initial-thread",
  });
  const program: LoadedProgram = {
    arch,
    process,
    vmar,
    thread: handleOut(thread, "thread_create"),
    vmarBase,
    entry,
    sp,
    mappings,
    stack,
    started: false,
  };
  return options.start === false ? program : await startProgram(target, program, options.arg2);
}

function kernelArch(target: LoaderTarget): ElfArch {
  if (target.arch !== "x64" && target.arch !== "arm64") {
    throw new LoaderError(`unknown kernel arch "${target.arch}"`);
  }
  return target.arch;
}

function syscalls(target: LoaderTarget): LoaderSyscalls {
  return target.zx as LoaderSyscalls;
}

/**
 * A VMO of `size` bytes holding `data` at `offset` (zero elsewhere), its
 * handle made executable when `perms` has ZX_VM_PERM_EXECUTE.
 */
async function vmoWith(
  sys: LoaderSyscalls,
  size: number,
  data: Uint8Array,
  offset: number,
  perms: number,
): Promise<number> {
  const vmo = handleOut((await sys.vmo_create({ size })).out, "vmo_create");
  for (let done = 0; done < data.length; done += WRITE_CHUNK) {
    const chunk = data.subarray(done, done + WRITE_CHUNK);
    await sys.vmo_write({ handle: vmo, buffer: chunk.toBase64(), offset: offset + done });
  }
  if ((perms & ZX_VM_PERM_EXECUTE) === 0) return vmo;
  // vmex 0: the job's ambient policy, which lets every process map code.
  const { out } = await sys.vmo_replace_as_executable({ handle: vmo, vmex: 0 });
  return handleOut(out, "vmo_replace_as_executable");
}

async function map(
  sys: LoaderSyscalls,
  m: { vmar: number; options: number; vmarOffset: bigint; vmo: number; len: number },
): Promise<bigint> {
  const { mapped_addr } = await sys.vmar_map({
    handle: m.vmar,
    options: m.options,
    vmar_offset: u64(m.vmarOffset),
    vmo: m.vmo,
    vmo_offset: 0,
    len: m.len,
  });
  return bigOut(mapped_addr, "vmar_map mapped_addr");
}

async function rootVmarBase(sys: LoaderSyscalls, vmar: number): Promise<bigint> {
  const { info } = await sys.object_get_info({ handle: vmar, topic: "ZX_INFO_VMAR" });
  return bigOut((info as { base?: unknown } | undefined)?.base, "ZX_INFO_VMAR base");
}

/** A u64 for a request: a JSON number when exact, else "0x..." text. */
function u64(value: bigint): U64 {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : `0x${value.toString(16)}`;
}

/** A u64 out (a number, or "0x..." text above 2^53) as a bigint. */
function bigOut(value: unknown, what: string): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^(0x[0-9a-f]+|[0-9]+)$/i.test(value)) return BigInt(value);
  throw new LoaderError(`${what}: expected a 64-bit value, got ${JSON.stringify(value)}`);
}

function handleOut(value: unknown, what: string): number {
  if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  throw new LoaderError(`${what}: expected a handle, got ${JSON.stringify(value)}`);
}
