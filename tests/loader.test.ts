// The ELF reader (client/elf.ts) against the committed test programs and
// broken copies of them, and the loader (client/loader.ts) against a fake
// kernel that records its syscalls and keeps VMO bytes, so that the memory a
// program would see can be compared with its file. A last test loads every
// program into a real in-process kernel once it has the VM syscalls.

import assert from "node:assert/strict";
import {
  ElfError,
  type ElfImage,
  flagsText,
  parseElf,
  PF_R,
  PF_W,
  PF_X,
  segmentFileBytes,
} from "../client/elf.ts";
import {
  DEFAULT_STACK_SIZE,
  loadElf,
  LoaderError,
  loadFlat,
  permsOf,
  startProgram,
  ZX_VM_PERM_EXECUTE,
  ZX_VM_PERM_READ,
  ZX_VM_PERM_WRITE,
  ZX_VM_SPECIFIC,
} from "../client/loader.ts";
import { ZxsimClient } from "../client/zxsim.ts";

const PROGRAMS = new URL("./fixtures/programs/", import.meta.url);
const ARCHES = ["x64", "arm64"] as const;
type Arch = (typeof ARCHES)[number];

/** Every ELF program of both arches, by "<arch>/<name>". */
const ELF_FILES: ReadonlyMap<string, Uint8Array> = new Map(
  ARCHES.flatMap((arch) =>
    [...Deno.readDirSync(new URL(`${arch}/`, PROGRAMS))]
      .filter((entry) => entry.name.endsWith(".elf"))
      .map((entry) => `${arch}/${entry.name}`)
      .sort()
      .map((path) => [path, Deno.readFileSync(new URL(path, PROGRAMS))] as const)
  ),
);

function program(arch: Arch, name: string): Uint8Array {
  const bytes = ELF_FILES.get(`${arch}/${name}.elf`);
  assert.ok(bytes, `no ${arch}/${name}.elf`);
  return bytes;
}

/** A copy of `bytes` with `edit` applied through a little-endian DataView. */
function patched(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer));
  return copy;
}

function refuses(bytes: Uint8Array, pattern: RegExp, arch?: Arch): void {
  assert.throws(() => parseElf(bytes, { arch }), (error: unknown) => {
    assert.ok(error instanceof ElfError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

// Program header i's fields (ELF64): p_type +0, p_flags +4, p_offset +8,
// p_vaddr +16, p_filesz +32, p_memsz +40; e_phoff is at 32.
const phdr = (view: DataView, i: number) => Number(view.getBigUint64(32, true)) + 56 * i;

// ---- client/elf.ts ----

Deno.test("elf: every committed program is a static ELF64 executable for its arch", () => {
  assert.ok(ELF_FILES.size >= 2 * 14, `only ${ELF_FILES.size} programs`);
  for (const [path, bytes] of ELF_FILES) {
    const arch = path.split("/")[0] as Arch;
    const image = parseElf(bytes, { arch });
    assert.equal(image.arch, arch, path);
    assert.equal(image.machine, arch === "x64" ? 62 : 183, path);
    assert.equal(image.entry, 0x1000000n, `${path}: _start comes first in .text`);
    // link.ld's layout: R+X text, R rodata, R+W data/bss, each on pages of its own.
    const expected: Record<string, [bigint, number]> = {
      "R-X": [0x1000000n, PF_R | PF_X],
      "R--": [0x1010000n, PF_R],
      "RW-": [0x1020000n, PF_R | PF_W],
    };
    for (const segment of image.segments) {
      const [vaddr, flags] = expected[flagsText(segment.flags)];
      assert.equal(segment.vaddr, vaddr, `${path} segment ${segment.index}`);
      assert.equal(segment.flags, flags);
      assert.equal(segment.pageStart, vaddr);
      assert.equal(segment.pageOffset, 0);
      assert.equal(segment.pageSize % 4096, 0);
      assert.ok(segment.pageSize >= segment.memsz && segment.memsz >= segment.filesz);
    }
    assert.equal(flagsText(image.segments[0].flags), "R-X", path);
  }
});

Deno.test("elf: loop's segments, header by header", () => {
  for (const arch of ARCHES) {
    const bytes = program(arch, "loop");
    const image: ElfImage = parseElf(bytes);
    assert.deepEqual(
      image.segments.map((s) => [s.index, s.vaddr, s.offset, s.filesz, s.memsz, s.flags]),
      [
        [0, 0x1000000n, 0x1000, image.segments[0].filesz, image.segments[0].filesz, 5],
        [1, 0x1010000n, 0x2000, 5, 5, 4], // "sum: "
        [2, 0x1020000n, 0x3000, 0, 16, 6], // loop_sum and zx_vdso_base, all .bss
      ],
      arch,
    );
    assert.equal(new TextDecoder().decode(segmentFileBytes(bytes, image.segments[1])), "sum: ");
    // Its first instruction stores the vDSO base (rsi / x1).
    const text = segmentFileBytes(bytes, image.segments[0]);
    if (arch === "x64") assert.deepEqual([...text.subarray(0, 3)], [0x48, 0x89, 0x35]);
  }
});

Deno.test("elf: fault_exec has a R+W data segment with file bytes and no rodata", () => {
  for (const arch of ARCHES) {
    const image = parseElf(program(arch, "fault_exec"));
    assert.deepEqual(image.segments.map((s) => flagsText(s.flags)), ["R-X", "RW-"], arch);
    assert.equal(image.segments[1].vaddr, 0x1020000n);
    assert.equal(image.segments[1].filesz, arch === "x64" ? 2 : 4); // ud2 / udf #0
  }
});

Deno.test("elf: a program for the other machine is refused by name", () => {
  refuses(program("x64", "loop"), /an x86-64 executable cannot run on an arm64 kernel/, "arm64");
  refuses(program("arm64", "loop"), /an AArch64 executable cannot run on an x64 kernel/, "x64");
  // Without an arch both parse.
  assert.equal(parseElf(program("arm64", "loop")).arch, "arm64");
  // Neither x86-64 nor AArch64: EM_ARM (40), EM_RISCV (243).
  for (const machine of [40, 243]) {
    refuses(
      patched(program("x64", "loop"), (v) => v.setUint16(18, machine, true)),
      new RegExp(`e_machine ${machine} is neither x86-64 \\(62\\) nor AArch64 \\(183\\)`),
    );
  }
});

Deno.test("elf: ET_DYN, ET_REL and ET_CORE are refused; only ET_EXEC loads", () => {
  const loop = program("x64", "loop");
  refuses(patched(loop, (v) => v.setUint16(16, 3, true)), /ET_DYN .*position-independent/);
  refuses(patched(loop, (v) => v.setUint16(16, 1, true)), /ET_REL/);
  refuses(patched(loop, (v) => v.setUint16(16, 4, true)), /ET_CORE/);
  refuses(patched(loop, (v) => v.setUint16(16, 0xfe00, true)), /e_type 65024; expected ET_EXEC/);
});

Deno.test("elf: 32-bit, big-endian and non-ELF files are refused", () => {
  const loop = program("arm64", "loop");
  refuses(patched(loop, (v) => v.setUint8(4, 1)), /32-bit ELF file \(ELFCLASS32\)/);
  // A whole (tiny) ELF32 header is refused the same way, before its size matters.
  refuses(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, ...new Array(45).fill(0)), /32-bit/);
  refuses(patched(loop, (v) => v.setUint8(4, 3)), /unknown ELF class 3/);
  refuses(patched(loop, (v) => v.setUint8(5, 2)), /big-endian/);
  refuses(patched(loop, (v) => v.setUint8(6, 0)), /identification version 0/);
  refuses(patched(loop, (v) => v.setUint32(20, 2, true)), /e_version 2/);
  refuses(Deno.readFileSync(new URL("x64/hello.bin", PROGRAMS)), /not an ELF file/);
  refuses(new Uint8Array(), /not an ELF file/);
  refuses(new TextEncoder().encode("#!/bin/sh\n"), /not an ELF file/);
});

Deno.test("elf: truncated files are refused, wherever they are cut", () => {
  const loop = program("x64", "loop");
  refuses(loop.subarray(0, 4), /truncated: only the 4-byte ELF magic/);
  refuses(loop.subarray(0, 40), /truncated: 40 bytes, shorter than the 64-byte ELF64 header/);
  // In the program headers (3 of them at 64).
  refuses(loop.subarray(0, 64 + 56 + 10), /truncated: the 3 program headers at 0x40 end at 0xe8/);
  // In the text segment's bytes (at 0x1000).
  refuses(loop.subarray(0, 0x1010), /truncated: PT_LOAD segment 0 .* ends past the end/);
  // A table pointing past the end.
  refuses(patched(loop, (v) => v.setBigUint64(32, 0x100000n, true)), /truncated/);
});

Deno.test("elf: malformed program headers are refused", () => {
  const loop = program("x64", "loop");
  refuses(patched(loop, (v) => v.setUint16(54, 64, true)), /e_phentsize 64/);
  refuses(patched(loop, (v) => v.setUint16(56, 0, true)), /no program headers/);
  refuses(
    patched(loop, (v) => v.setBigUint64(phdr(v, 1) + 32, 0x10n, true)),
    /p_filesz 0x10 is larger than p_memsz 0x5/,
  );
  // Dynamically linked: PT_INTERP or PT_DYNAMIC.
  refuses(patched(loop, (v) => v.setUint32(phdr(v, 1), 3, true)), /header 1 is PT_INTERP/);
  refuses(patched(loop, (v) => v.setUint32(phdr(v, 2), 2, true)), /header 2 is PT_DYNAMIC/);
  // The rodata segment moved onto the text segment's page.
  refuses(
    patched(loop, (v) => v.setBigUint64(phdr(v, 1) + 16, 0x1000800n, true)),
    /segments 0 and 1 share the page at 0x1000000/,
  );
  // Wrapping past 2^64.
  refuses(
    patched(loop, (v) => v.setBigUint64(phdr(v, 2) + 16, 0xffff_ffff_ffff_fff8n, true)),
    /wraps past 2\^64/,
  );
  // No loadable segment: every PT_LOAD turned into PT_NOTE (4).
  refuses(
    patched(loop, (v) => [0, 1, 2].forEach((i) => v.setUint32(phdr(v, i), 4, true))),
    /no PT_LOAD segment/,
  );
});

Deno.test("elf: the entry point must be in an executable segment", () => {
  const loop = program("arm64", "loop");
  refuses(
    patched(loop, (v) => v.setBigUint64(24, 0x1010000n, true)),
    /entry point 0x1010000 is not in an executable segment/,
  );
  refuses(patched(loop, (v) => v.setBigUint64(24, 0n, true)), /entry point 0x0/);
  // The text segment made non-executable.
  refuses(patched(loop, (v) => v.setUint32(phdr(v, 0) + 4, PF_R, true)), /not in an executable/);
  // Empty segments (p_memsz 0) are left out, not refused.
  const image = parseElf(patched(loop, (v) => v.setBigUint64(phdr(v, 2) + 40, 0n, true)));
  assert.deepEqual(image.segments.map((s) => s.index), [0, 1]);
});

// ---- client/loader.ts, against a fake kernel ----

interface Call {
  name: string;
  args: Record<string, unknown>;
  outs?: unknown;
}

/**
 * Just enough of a kernel for the loader: handles count up from 0x101, VMOs
 * keep their bytes, SPECIFIC maps at base + offset, others from 0x40000000.
 * Non-SPECIFIC addresses come back as "0x..." text, the rest as numbers, as
 * replies may spell u64 either way.
 */
class FakeKernel {
  readonly calls: Call[] = [];
  readonly handles = { root_job: 0x11 };
  readonly vmos = new Map<number, Uint8Array>();
  /** VMO handles that may be mapped executable (from vmo_replace_as_executable). */
  readonly executable = new Set<number>();
  readonly mappings: { addr: bigint; size: number; vmo: number; options: number }[] = [];
  readonly zx: Record<string, (args: Record<string, unknown>) => Promise<unknown>>;
  #next = 0x101;
  #nextAddr = 0x4000_0000n;

  constructor(readonly arch: string, readonly vmarBase = 0x200000n) {
    this.zx = new Proxy({}, {
      get: (_target, name) => (args: Record<string, unknown>) =>
        Promise.resolve(this.#record(String(name), args)),
    });
  }

  #handle(): number {
    return this.#next++;
  }

  #record(name: string, args: Record<string, unknown>): unknown {
    const call: Call = { name, args };
    this.calls.push(call);
    call.outs = this.#call(name, args);
    return call.outs;
  }

  #call(name: string, args: Record<string, unknown>): unknown {
    switch (name) {
      case "process_create":
        return { proc_handle: this.#handle(), vmar_handle: this.#handle() };
      case "object_get_info":
        return { info: { base: Number(this.vmarBase), len: 0x7fff_0000_0000 } };
      case "vmo_create": {
        const out = this.#handle();
        this.vmos.set(out, new Uint8Array(Number(args.size)));
        return { out };
      }
      case "vmo_write": {
        const data = Uint8Array.fromBase64(args.buffer as string);
        this.vmos.get(args.handle as number)!.set(data, Number(args.offset));
        return {};
      }
      case "vmar_map": {
        const options = args.options as number;
        const size = Number(args.len);
        if ((options & ZX_VM_PERM_EXECUTE) && !this.executable.has(args.vmo as number)) {
          throw new Error("ZX_ERR_ACCESS_DENIED: the VMO handle lacks ZX_RIGHT_EXECUTE");
        }
        const specific = (options & ZX_VM_SPECIFIC) !== 0;
        const addr = specific ? this.vmarBase + BigInt(args.vmar_offset as number) : this.#nextAddr;
        if (!specific) this.#nextAddr += BigInt(size) + 0x10000n;
        this.mappings.push({ addr, size, vmo: args.vmo as number, options });
        return { mapped_addr: specific ? Number(addr) : `0x${addr.toString(16)}` };
      }
      case "vmo_replace_as_executable": {
        const out = this.#handle();
        this.vmos.set(out, this.vmos.get(args.handle as number)!);
        this.vmos.delete(args.handle as number);
        this.executable.add(out);
        return { out };
      }
      case "thread_create":
      case "handle_duplicate":
        return { out: this.#handle() };
      case "process_start":
        return {};
      default:
        throw new Error(`unexpected syscall ${name}`);
    }
  }

  /** `size` bytes of memory at `addr` as the mappings make it (throws where unmapped). */
  read(addr: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const va = addr + BigInt(i);
      const m = this.mappings.find((m) => va >= m.addr && va < m.addr + BigInt(m.size));
      if (!m) throw new Error(`0x${va.toString(16)} is not mapped`);
      out[i] = this.vmos.get(m.vmo)![Number(va - m.addr)];
    }
    return out;
  }

  names(): string[] {
    return this.calls.map((c) => c.name);
  }

  args(name: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.args);
  }

  /** The handle the last handle_duplicate made. */
  duplicate(): number {
    const call = this.calls.findLast((c) => c.name === "handle_duplicate");
    return (call!.outs as { out: number }).out;
  }
}

Deno.test("loader: loop.elf, syscall by syscall (x64)", async () => {
  const k = new FakeKernel("x64");
  const loaded = await loadElf(k, program("x64", "loop"), { name: "loop" });
  assert.deepEqual(k.names(), [
    "process_create",
    "object_get_info",
    ...["vmo_create", "vmo_write", "vmo_replace_as_executable", "vmar_map"], // text
    ...["vmo_create", "vmo_write", "vmar_map"], // rodata
    ...["vmo_create", "vmar_map"], // .bss only: nothing to write
    ...["vmo_create", "vmar_map"], // the stack
    "thread_create",
    "handle_duplicate",
    "process_start",
  ]);
  assert.deepEqual(k.calls[0].args, { job: 0x11, name: "loop" });
  assert.deepEqual(k.calls[1].args, { handle: 0x102, topic: "ZX_INFO_VMAR" });
  const R = ZX_VM_PERM_READ, W = ZX_VM_PERM_WRITE, X = ZX_VM_PERM_EXECUTE, S = ZX_VM_SPECIFIC;
  assert.deepEqual(
    k.args("vmar_map").map((a) => [a.handle, a.options, a.vmar_offset, a.vmo_offset, a.len]),
    [
      [0x102, R | X | S, 0x1000000 - 0x200000, 0, 4096],
      [0x102, R | S, 0x1010000 - 0x200000, 0, 4096],
      [0x102, R | W | S, 0x1020000 - 0x200000, 0, 4096],
      [0x102, R | W, 0, 0, DEFAULT_STACK_SIZE],
    ],
  );
  assert.deepEqual(k.args("vmo_create").map((a) => a.size), [4096, 4096, 4096, 65536]);
  assert.deepEqual(k.args("vmo_write").map((a) => a.offset), [0, 0]);
  assert.deepEqual(k.args("thread_create"), [{ process: 0x101, name: "initial-thread" }]);
  assert.deepEqual(k.args("handle_duplicate"), [{ handle: 0x101, rights: 0x8000_0000 }]);
  const stackBase = 0x4000_0000n;
  assert.deepEqual(k.args("process_start"), [{
    handle: 0x101,
    thread: loaded.thread,
    entry: 0x1000000,
    stack: Number(stackBase + 65536n - 8n), // as if _start had been called
    arg1: 0x109, // the duplicate: after 2 + 5 VMO handles and the thread's
    arg2: 0,
  }]);
  assert.equal(loaded.process, 0x101);
  assert.equal(loaded.vmar, 0x102);
  assert.equal(loaded.vmarBase, 0x200000n);
  assert.equal(loaded.entry, 0x1000000n);
  assert.equal(loaded.sp, stackBase + 65536n - 8n);
  assert.equal(loaded.started, true);
  assert.equal(k.duplicate(), 0x109);
  assert.deepEqual(loaded.stack, { addr: stackBase, size: 65536, perms: R | W, vmo: 0x107 });
  // The text VMO (0x103) was replaced by an executable handle (0x104).
  assert.deepEqual(k.args("vmo_replace_as_executable"), [{ handle: 0x103, vmex: 0 }]);
  assert.deepEqual(loaded.mappings.map((m) => m.vmo), [0x104, 0x105, 0x106]);
  assert.deepEqual(
    loaded.mappings.map((m) => [m.addr, m.size, m.perms]),
    [[0x1000000n, 4096, R | X], [0x1010000n, 4096, R], [0x1020000n, 4096, R | W]],
  );
});

Deno.test("loader: arm64 starts with sp at the 16-byte-aligned stack top", async () => {
  const k = new FakeKernel("arm64", 0x100000n);
  const loaded = await loadElf(k, program("arm64", "fib"), { stackSize: 5000 });
  assert.equal(loaded.stack.size, 8192, "rounded up to pages");
  assert.equal(loaded.sp, loaded.stack.addr + 8192n);
  assert.equal(loaded.sp % 16n, 0n);
  assert.equal(k.args("process_start")[0].stack, Number(loaded.sp));
  assert.equal(k.args("vmar_map")[0].vmar_offset, 0x1000000 - 0x100000);
});

Deno.test("loader: the memory each program sees is its file's view, .bss zero", async () => {
  for (const [path, bytes] of ELF_FILES) {
    const arch = path.split("/")[0] as Arch;
    const k = new FakeKernel(arch);
    await loadElf(k, bytes);
    for (const segment of parseElf(bytes).segments) {
      const memory = k.read(segment.pageStart, segment.pageSize);
      const expected = new Uint8Array(segment.pageSize);
      expected.set(segmentFileBytes(bytes, segment), segment.pageOffset);
      assert.deepEqual(memory, expected, `${path} segment ${segment.index}`);
    }
  }
});

Deno.test("loader: a program for the other arch is refused before any syscall", async () => {
  const k = new FakeKernel("arm64");
  await assert.rejects(loadElf(k, program("x64", "sieve")), (error: unknown) => {
    assert.ok(error instanceof ElfError);
    assert.match(error.message, /x86-64 executable cannot run on an arm64 kernel/);
    return true;
  });
  await assert.rejects(loadElf(new FakeKernel("riscv64"), program("x64", "sieve")), LoaderError);
  assert.deepEqual(k.calls, []);
});

Deno.test("loader: an existing process, a known VMAR base, start later", async () => {
  const k = new FakeKernel("x64");
  const loaded = await loadElf(k, program("x64", "spin"), {
    process: { process: 0x51, vmar: 0x52 },
    vmarBase: 0x200000n,
    start: false,
    threadName: "spinner",
  });
  assert.ok(!k.names().includes("process_create"));
  assert.ok(!k.names().includes("object_get_info"));
  assert.ok(!k.names().includes("process_start"));
  assert.equal(loaded.started, false);
  assert.deepEqual(k.args("thread_create"), [{ process: 0x51, name: "spinner" }]);

  const started = await startProgram(k, loaded, 0x7000);
  assert.equal(started.started, true);
  assert.deepEqual(k.names().slice(-2), ["handle_duplicate", "process_start"]);
  assert.deepEqual(k.args("handle_duplicate"), [{ handle: 0x51, rights: 0x8000_0000 }]);
  assert.deepEqual(k.args("process_start"), [{
    handle: 0x51,
    thread: loaded.thread,
    entry: 0x1000000,
    stack: Number(loaded.sp),
    arg1: k.duplicate(),
    arg2: 0x7000,
  }]);
  await assert.rejects(startProgram(k, started), /already been started/);
});

Deno.test("loader: a flat binary is mapped R+X anywhere and entered at its offset", async () => {
  for (const arch of ARCHES) {
    const bytes = Deno.readFileSync(new URL(`${arch}/hello.bin`, PROGRAMS));
    const k = new FakeKernel(arch);
    const loaded = await loadFlat(k, bytes, { name: "hello" });
    const [code, stack] = k.args("vmar_map");
    assert.equal(code.options, ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE);
    assert.equal(k.args("vmo_replace_as_executable").length, 1);
    assert.equal(code.vmo, loaded.mappings[0].vmo);
    assert.equal(code.vmar_offset, 0);
    assert.equal(stack.options, ZX_VM_PERM_READ | ZX_VM_PERM_WRITE);
    assert.equal(loaded.entry, 0x4000_0000n);
    assert.deepEqual(k.read(loaded.entry, bytes.length), bytes);
    assert.equal(k.args("process_start")[0].entry, 0x4000_0000);

    const k2 = new FakeKernel(arch);
    const at8 = await loadFlat(k2, bytes, { entryOffset: 8 });
    assert.equal(at8.entry, at8.mappings[0].addr + 8n);
  }
  const k = new FakeKernel("x64");
  await assert.rejects(loadFlat(k, new Uint8Array(16), { entryOffset: 16 }), /entry offset 16/);
  await assert.rejects(loadFlat(k, new Uint8Array()), /empty flat binary/);
  assert.deepEqual(k.calls, []);
});

Deno.test("loader: p_flags to ZX_VM_PERM_*", () => {
  assert.equal(permsOf(PF_R | PF_X), ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE);
  assert.equal(permsOf(PF_R | PF_W), ZX_VM_PERM_READ | ZX_VM_PERM_WRITE);
  assert.equal(permsOf(PF_R), ZX_VM_PERM_READ);
  assert.equal(permsOf(PF_X | 0xf0_0000), ZX_VM_PERM_EXECUTE, "OS/processor bits are ignored");
});

Deno.test("loader: unexpected replies are reported, not used", async () => {
  const k = new FakeKernel("x64");
  const zx = new Proxy(k.zx, {
    get: (target, name) =>
      name === "vmar_map"
        ? () => Promise.resolve({ mapped_addr: "somewhere" })
        : Reflect.get(target, name),
  });
  await assert.rejects(
    loadElf({ arch: "x64", zx, handles: k.handles }, program("x64", "loop")),
    /vmar_map mapped_addr: expected a 64-bit value, got "somewhere"/,
  );
});

// ---- Against the real kernel (in-process), once it has the VM syscalls ----
// Imported when this test runs, so that the tests above do not depend on the
// kernel's modules.

const NEEDED = [
  "process_create",
  "vmo_create",
  "vmo_write",
  "vmo_read",
  "vmar_map",
  "thread_create",
];
let skip = "";
try {
  const { syscallsOf } = await import("../kernel/syscalls/table.ts");
  const missing = NEEDED.filter((name) => !syscallsOf("zx").has(name));
  if (missing.length) skip = `no ${missing.join(", ")} yet`;
} catch (error) {
  skip = `the kernel does not load: ${error instanceof Error ? error.message : error}`;
}

Deno.test({
  name: "loader: every program loads into a real kernel (started later)" +
    (skip ? ` [skipped: ${skip}]` : ""),
  ignore: skip !== "",
  fn: async () => {
    const { createApp } = await import("../routes/app.ts");
    const { app } = createApp();
    const client = new ZxsimClient(
      "http://zxsim.test",
      async (url, init) => await app.request(url, init),
    );
    for (const arch of ARCHES) {
      const k = await client.createKernel({ arch });
      for (const [path, bytes] of ELF_FILES) {
        if (!path.startsWith(`${arch}/`)) continue;
        const loaded = await loadElf(k, bytes, { name: path, start: false });
        assert.equal(loaded.entry, 0x1000000n);
        for (const [i, segment] of parseElf(bytes).segments.entries()) {
          const mapping = loaded.mappings[i];
          assert.equal(mapping.addr, segment.pageStart, path);
          const zx = k.zx as unknown as Record<
            string,
            (args: unknown) => Promise<Record<string, unknown>>
          >;
          const { buffer } = await zx.vmo_read({
            handle: mapping.vmo,
            offset: 0,
            buffer_size: mapping.size,
          });
          const expected = new Uint8Array(mapping.size);
          expected.set(segmentFileBytes(bytes, segment), segment.pageOffset);
          assert.deepEqual(Uint8Array.fromBase64(buffer as string), expected, path);
        }
      }
      await k.delete();
    }
  },
});
