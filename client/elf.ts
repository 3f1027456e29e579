// Reads a static ELF64 executable for the loader (client/loader.ts): which
// machine it is for, its entry point and the segments to map. Pure: bytes in,
// a description out, nothing else. Anything a loader working only with
// vmo_create / vmo_write / vmar_map could not load as it asks is refused with
// an ElfError that says why: 32-bit or big-endian files, anything but
// ET_EXEC (PIE and shared objects need relocation), other machines,
// dynamically linked executables (PT_INTERP / PT_DYNAMIC), truncated files,
// segments sharing a page, an entry point outside every executable segment.

/** e_machine values. */
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

/** p_type values. */
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;

/** p_flags bits. */
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const PAGE_SIZE = 4096;

/** The machines zxsim runs, by its arch names. */
export type ElfArch = "x64" | "arm64";

const MACHINES: Readonly<Record<number, ElfArch>> = { [EM_X86_64]: "x64", [EM_AARCH64]: "arm64" };
const MACHINE_NAMES: Readonly<Record<ElfArch, string>> = { x64: "x86-64", arm64: "AArch64" };

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const ET_NAMES: Readonly<Record<number, string>> = {
  0: "ET_NONE (no file type)",
  1: "ET_REL (a relocatable object file; link it first)",
  3: "ET_DYN (a position-independent executable or a shared object; link a static, " +
    "non-PIE executable instead)",
  4: "ET_CORE (a core dump)",
};

/** A file the loader cannot load, and why. */
export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElfError";
  }
}

/** One PT_LOAD segment with memory to map (empty ones are left out). */
export interface ElfSegment {
  /** Its index in the program header table. */
  readonly index: number;
  /** p_vaddr: where its first byte goes. */
  readonly vaddr: bigint;
  /** p_offset and p_filesz: the bytes of the file it starts with. */
  readonly offset: number;
  readonly filesz: number;
  /** p_memsz: its size in memory; bytes past filesz are zero (.bss). */
  readonly memsz: number;
  /** p_flags: PF_R, PF_W, PF_X. */
  readonly flags: number;
  /** The pages it covers: [pageStart, pageStart + pageSize). */
  readonly pageStart: bigint;
  readonly pageSize: number;
  /** vaddr - pageStart: where its bytes start in its first page. */
  readonly pageOffset: number;
}

export interface ElfImage {
  readonly arch: ElfArch;
  /** e_machine: EM_X86_64 or EM_AARCH64. */
  readonly machine: number;
  /** e_entry. */
  readonly entry: bigint;
  /** The PT_LOAD segments with a non-zero memory size, in program header order. */
  readonly segments: readonly ElfSegment[];
}

export interface ParseOptions {
  /** The kernel's arch: a file for another machine is refused. */
  readonly arch?: ElfArch;
}

const hex = (value: bigint | number) => `0x${value.toString(16)}`;

/** True when `bytes` starts with the ELF magic (\x7fELF). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c &&
    bytes[3] === 0x46;
}

/** Reads a static ELF64 executable, or throws an ElfError saying why it cannot be loaded. */
export function parseElf(bytes: Uint8Array, options: ParseOptions = {}): ElfImage {
  if (!isElf(bytes)) throw new ElfError("not an ELF file (no \\x7fELF magic)");
  const elfClass = bytes[4];
  if (elfClass === undefined) throw new ElfError("truncated: only the 4-byte ELF magic");
  if (elfClass === 1) throw new ElfError("a 32-bit ELF file (ELFCLASS32); only ELF64 is loaded");
  if (elfClass !== 2) throw new ElfError(`unknown ELF class ${elfClass}`);
  if (bytes.length < EHDR_SIZE) {
    throw new ElfError(`truncated: ${bytes.length} bytes, shorter than the 64-byte ELF64 header`);
  }
  if (bytes[5] === 2) throw new ElfError("a big-endian ELF file (ELFDATA2MSB); only little-endian");
  if (bytes[5] !== 1) throw new ElfError(`unknown ELF data encoding ${bytes[5]}`);
  if (bytes[6] !== 1) throw new ElfError(`unknown ELF identification version ${bytes[6]}`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  if (type !== 2) {
    throw new ElfError(`not an executable: e_type ${ET_NAMES[type] ?? type}; expected ET_EXEC`);
  }
  const machine = view.getUint16(18, true);
  const arch = MACHINES[machine];
  if (arch === undefined) {
    throw new ElfError(
      `e_machine ${machine} is neither x86-64 (${EM_X86_64}) nor AArch64 (${EM_AARCH64})`,
    );
  }
  if (options.arch !== undefined && options.arch !== arch) {
    throw new ElfError(
      `an ${MACHINE_NAMES[arch]} executable cannot run on an ${options.arch} kernel`,
    );
  }
  const version = view.getUint32(20, true);
  if (version !== 1) throw new ElfError(`unknown e_version ${version}`);
  const entry = view.getBigUint64(24, true);
  const phoff = view.getBigUint64(32, true);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);

  if (phnum === 0) throw new ElfError("no program headers");
  if (phnum === 0xffff) throw new ElfError("more than 65534 program headers (PN_XNUM)");
  if (phentsize !== PHDR_SIZE) {
    throw new ElfError(`e_phentsize ${phentsize}; ELF64 program headers are ${PHDR_SIZE} bytes`);
  }
  const tableEnd = phoff + BigInt(phnum * PHDR_SIZE);
  if (tableEnd > BigInt(bytes.length)) {
    throw new ElfError(
      `truncated: the ${phnum} program headers at ${hex(phoff)} end at ${hex(tableEnd)}, ` +
        `past the end of the ${bytes.length}-byte file`,
    );
  }

  const segments: ElfSegment[] = [];
  for (let index = 0; index < phnum; index++) {
    const at = Number(phoff) + index * PHDR_SIZE;
    const pType = view.getUint32(at, true);
    if (pType === PT_INTERP) {
      throw new ElfError(`program header ${index} is PT_INTERP: dynamically linked, not static`);
    }
    if (pType === PT_DYNAMIC) {
      throw new ElfError(`program header ${index} is PT_DYNAMIC: dynamically linked, not static`);
    }
    if (pType !== PT_LOAD) continue;
    const segment = loadSegment(view, at, index, bytes.length);
    if (segment) segments.push(segment);
  }
  if (segments.length === 0) throw new ElfError("no PT_LOAD segment with memory to map");

  const byAddress = [...segments].sort((a, b) => (a.pageStart < b.pageStart ? -1 : 1));
  for (let i = 1; i < byAddress.length; i++) {
    const [before, after] = [byAddress[i - 1], byAddress[i]];
    if (after.pageStart < before.pageStart + BigInt(before.pageSize)) {
      throw new ElfError(
        `segments ${before.index} and ${after.index} share the page at ` +
          `${hex(after.pageStart)}; each segment needs pages of its own`,
      );
    }
  }

  const runsEntry = segments.some((s) =>
    (s.flags & PF_X) !== 0 && entry >= s.vaddr && entry < s.vaddr + BigInt(s.memsz)
  );
  if (!runsEntry) {
    throw new ElfError(`the entry point ${hex(entry)} is not in an executable segment`);
  }
  return { arch, machine, entry, segments };
}

function loadSegment(
  view: DataView,
  at: number,
  index: number,
  fileSize: number,
): ElfSegment | null {
  const flags = view.getUint32(at + 4, true);
  const offset = view.getBigUint64(at + 8, true);
  const vaddr = view.getBigUint64(at + 16, true);
  const filesz = view.getBigUint64(at + 32, true);
  const memsz = view.getBigUint64(at + 40, true);
  const what = `PT_LOAD segment ${index}`;
  if (filesz > memsz) {
    throw new ElfError(`${what}: p_filesz ${hex(filesz)} is larger than p_memsz ${hex(memsz)}`);
  }
  if (offset + filesz > BigInt(fileSize)) {
    throw new ElfError(
      `truncated: ${what} (${hex(filesz)} bytes at offset ${hex(offset)}) ends past the end ` +
        `of the ${fileSize}-byte file`,
    );
  }
  if (memsz === 0n) return null;
  const page = BigInt(PAGE_SIZE);
  const pageStart = vaddr - vaddr % page;
  const end = vaddr + memsz;
  const pageEnd = (end + page - 1n) / page * page;
  if (pageEnd > 1n << 64n) {
    throw new ElfError(`${what}: ${hex(vaddr)} + ${hex(memsz)} wraps past 2^64`);
  }
  if (pageEnd - pageStart > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfError(`${what}: p_memsz ${hex(memsz)} is too large to load`);
  }
  return {
    index,
    vaddr,
    offset: Number(offset),
    filesz: Number(filesz),
    memsz: Number(memsz),
    flags,
    pageStart,
    pageSize: Number(pageEnd - pageStart),
    pageOffset: Number(vaddr - pageStart),
  };
}

/** The file bytes of `segment` (its first filesz bytes in memory). */
export function segmentFileBytes(bytes: Uint8Array, segment: ElfSegment): Uint8Array {
  return bytes.subarray(segment.offset, segment.offset + segment.filesz);
}

/** "R-X" style text for p_flags, for messages and listings. */
export function flagsText(flags: number): string {
  return `${flags & PF_R ? "R" : "-"}${flags & PF_W ? "W" : "-"}${flags & PF_X ? "X" : "-"}`;
}
