// A guest and its VCPU made over HTTP for the hypervisor syscall tests:
// 64 KiB of guest RAM at guest-physical 0 (x64: client/guest.ts's identity
// page tables there, PML4 @0, PDPT @0x1000, PD @0x2000), a few bytes of
// code at ENTRY, and a VCPU of the bootstrap thread starting there.
//
// The code snippets are GNU as output (x86_64-linux-gnu-as /
// aarch64-linux-gnu-as), checked with objdump; the source is beside each.

import assert from "node:assert/strict";
import { identityPageTables } from "../client/guest.ts";
import { type Fetcher, inProcess, type Json, TestKernel } from "./helpers.ts";

export type Arch = "x64" | "arm64";
export const ENTRY = 0x4000;
export const RAM_SIZE = 0x10000;
/** A MEM trap address for arm64 snippets (x1 = 0x10000000). */
export const MEM_TRAP = 0x1000_0000;

const le32 = (...words: number[]) => new Uint8Array(Uint32Array.from(words).buffer);

/** Guest programs, per arch. */
export const CODE = {
  /** `jmp .` / `b .`: spins until kicked. */
  spin: { x64: Uint8Array.of(0xeb, 0xfe), arm64: le32(0x14000000) },
  /** x64 `mov $42, %al; out %al, $0x80; jmp .` */
  out: { x64: Uint8Array.of(0xb0, 0x2a, 0xe6, 0x80, 0xeb, 0xfe) },
  /** x64 `in $0x81, %al; out %al, $0x80; jmp .` */
  inOut: { x64: Uint8Array.of(0xe4, 0x81, 0xe6, 0x80, 0xeb, 0xfe) },
  /**
   * Waits for an interrupt, then leaves: x64 `hlt; out %al, $0x80; jmp .`
   * (IF is clear: a pending interrupt ends the hlt without being taken);
   * arm64 `wfi; mov x1, #0x10000000; str x0, [x1]; b .` (a MEM trap store).
   */
  halt: {
    x64: Uint8Array.of(0xf4, 0xe6, 0x80, 0xeb, 0xfe),
    arm64: le32(0xd503207f, 0xd2a20001, 0xf9000020, 0x14000000),
  },
  /** arm64 `mov x1, #0x10000000; ldr x2, [x1]; b .` (a MEM trap load into x2). */
  load: { arm64: le32(0xd2a20001, 0xf9400022, 0x14000000) },
  /** arm64 `mov x1, #0x1000000000; ldr x2, [x1]`: past the 2^36-byte guest-physical space. */
  outOfRange: { arm64: le32(0xd2c00201, 0xf9400022) },
  /**
   * A load from guest-physical 0x100000, inside the space but not mapped:
   * arm64 `mov x1, #0x20000; ldr x2, [x1]`; x64 `mov 0x100000, %rax`.
   */
  unmapped: {
    arm64: le32(0xd2a00041, 0xf9400022),
    x64: Uint8Array.of(0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00),
  },
  /** arm64 `mov w0, #8; movk w0, #0x8400, lsl #16; smc #0`: PSCI SYSTEM_OFF. */
  systemOff: { arm64: le32(0x52800100, 0x72b08000, 0xd4000003) },
  /** arm64 `hvc #0`: not a call Zircon handles. */
  hvc: { arm64: le32(0xd4000002) },
} as const;

export interface Vm {
  readonly k: TestKernel;
  readonly guest: number;
  readonly vmar: number;
  readonly vcpu: number;
}

/** A guest with RAM, `code` at ENTRY and (unless `vcpu` is false) a VCPU of the bootstrap thread. */
export async function makeVm(
  k: TestKernel,
  code: Uint8Array = CODE.spin[k.arch as Arch],
  vcpu = true,
): Promise<Vm> {
  const created = await k.ok("guest_create", { resource: k.handles.hypervisor_resource });
  const guest = created.guest_handle as number, vmar = created.vmar_handle as number;
  const { out: ram } = await k.ok("vmo_create", { size: RAM_SIZE });
  if (k.arch === "x64") {
    await k.ok("vmo_write", { handle: ram, buffer: identityPageTables().toBase64(), offset: 0 });
  }
  await k.ok("vmo_write", { handle: ram, buffer: code.toBase64(), offset: ENTRY });
  const { out: exec } = await k.ok("vmo_replace_as_executable", { handle: ram, vmex: 0 });
  await k.ok("vmar_map", {
    handle: vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_PERM_EXECUTE", "ZX_VM_SPECIFIC"],
    vmar_offset: 0,
    vmo: exec,
    vmo_offset: 0,
    len: RAM_SIZE,
  });
  await k.ok("handle_close", { handle: exec });
  const made = vcpu ? (await k.ok("vcpu_create", { guest, entry: ENTRY })).out as number : 0;
  return { k, guest, vmar, vcpu: made };
}

/** A kernel whose blocking requests are capped at `maxBlockMs` (the kick at the cap). */
export function cappedKernel(arch: Arch, maxBlockMs = 400, body: Json = {}): Promise<TestKernel> {
  const fetcher: Fetcher = inProcess({ maxBlockMs });
  return TestKernel.create(fetcher, { arch, ...body }, false);
}

/** Registers `fn` once per arch with a fresh capped kernel. */
export function hvTest(
  name: string,
  fn: (k: TestKernel, arch: Arch) => Promise<void>,
  arches: readonly Arch[] = ["x64", "arm64"],
): void {
  for (const arch of arches) {
    Deno.test(`[${arch}] ${name}`, async () => await fn(await cappedKernel(arch), arch));
  }
}

/** Waits until `check` holds (a few ms at a time), or fails after `ms`. */
export async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    assert.ok(performance.now() < end, "timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** zx_info_vcpu_t.flags of `vcpu`. */
export async function vcpuFlags(k: TestKernel, vcpu: number): Promise<number> {
  return (await k.ok("object_get_info", { handle: vcpu, topic: "ZX_INFO_VCPU" })).info.flags;
}
