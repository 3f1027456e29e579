// Helpers for the VM tests: a kernel reachable both over HTTP (as a client
// sees it) and as objects (as the cores and the kernel see it), fresh
// processes whose root VMAR holds nothing yet, and status assertions for the
// statuses the VM syscalls add.

import assert from "node:assert/strict";
import type { Kernel } from "../kernel/kernel.ts";
import type { Process } from "../kernel/process.ts";
import { createApp } from "../routes/app.ts";
import { assertStatus, type Json, type Reply, TestKernel } from "./helpers.ts";

export const PAGE = 4096;

/** The user address space per arch (2023 sources). */
export const ASPACE = {
  x64: { base: 0x200000, size: 0x7fff_ffdf_f000 },
  arm64: { base: 0x200000, size: 0xffff_fee0_0000 },
} as const;

export interface VmKernel {
  readonly k: TestKernel;
  readonly kernel: Kernel;
}

/** A kernel of `arch` served in-process, with its Kernel object at hand. */
export async function vmKernel(
  arch: "x64" | "arm64" = "x64",
  options: Parameters<typeof createApp>[0] = {},
  bootOptions: Json = {},
): Promise<VmKernel> {
  const { app, registry } = createApp(options);
  const fetcher = (path: string, init?: RequestInit) => Promise.resolve(app.request(path, init));
  const k = await TestKernel.create(fetcher, { arch, boot_options: bootOptions });
  return { k, kernel: registry.get(k.id)! };
}

/** A new, never started process: its root VMAR is empty. */
export async function freshProcess(
  { k, kernel }: VmKernel,
  name = "p",
): Promise<{ proc: number; vmar: number; process: Process }> {
  const { proc_handle, vmar_handle } = await k.ok("process_create", {
    job: k.handles.root_job,
    name,
  });
  const koid = (await k.basic(proc_handle)).koid;
  const process = [...kernel.rootJob.processes].find((p) => p.koid === koid)!;
  return { proc: proc_handle, vmar: vmar_handle, process };
}

const CODES: Record<string, { code: number; http: number }> = {
  NOT_SUPPORTED: { code: -2, http: 501 },
  NO_RESOURCES: { code: -3, http: 503 },
  NO_MEMORY: { code: -4, http: 503 },
  INVALID_ARGS: { code: -10, http: 400 },
  BAD_HANDLE: { code: -11, http: 400 },
  WRONG_TYPE: { code: -12, http: 400 },
  OUT_OF_RANGE: { code: -14, http: 400 },
  BUFFER_TOO_SMALL: { code: -15, http: 400 },
  BAD_STATE: { code: -20, http: 409 },
  NOT_FOUND: { code: -25, http: 404 },
  ALREADY_EXISTS: { code: -26, http: 409 },
  UNAVAILABLE: { code: -28, http: 503 },
  ACCESS_DENIED: { code: -30, http: 403 },
};

/** Asserts a ZX_ERR_<suffix> reply: name, code and HTTP status. */
export function expectZx(reply: Reply, suffix: string, context = ""): void {
  const want = CODES[suffix];
  assert.ok(want, `unknown status ${suffix}`);
  assert.equal(reply.body.status, `ZX_ERR_${suffix}`, `${context} ${JSON.stringify(reply.body)}`);
  assertStatus(reply, `ZX_ERR_${suffix}`, want.http);
  assert.equal(reply.body.code, want.code);
}

/** Creates a VMO of `size` bytes and returns its handle. */
export async function newVmo(k: TestKernel, size: number | string, options: Json[string] = 0) {
  return (await k.ok("vmo_create", { size, options })).out as number;
}

/** Maps `vmo` into `vmar` and returns the address. */
export async function map(
  k: TestKernel,
  vmar: number,
  vmo: number,
  len: number,
  options: Json[string] = ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"],
  extra: Json = {},
): Promise<number> {
  const body = { handle: vmar, options, vmo, len, ...extra };
  return Number((await k.ok("vmar_map", body)).mapped_addr);
}

/** ZX_INFO_PROCESS_MAPS of `proc` as named records. */
export async function mapsOf(k: TestKernel, proc: number): Promise<Json[]> {
  return (await k.ok("object_get_info", { handle: proc, topic: "ZX_INFO_PROCESS_MAPS" })).records;
}

/** ZX_INFO_VMO of `vmo`, named. */
export async function vmoInfo(k: TestKernel, vmo: number): Promise<Json> {
  return (await k.ok("object_get_info", { handle: vmo, topic: "ZX_INFO_VMO" })).info;
}

/** The mapping records of a PROCESS_MAPS reply as [base, size, mmu_flags, vmo_offset]. */
export function mappingsIn(records: Json[]): number[][] {
  return records.filter((r) => r.type === 3).map((r) => [
    Number(r.base),
    Number(r.size),
    r.u.mapping.mmu_flags,
    Number(r.u.mapping.vmo_offset),
  ]);
}

export function bytesOf(text: string): string {
  return new TextEncoder().encode(text).toBase64();
}

export function textOf(base64: string): string {
  return new TextDecoder().decode(Uint8Array.fromBase64(base64));
}

/** process_read_memory of `size` bytes at `vaddr` (must succeed). */
export async function peek(k: TestKernel, proc: number, vaddr: number, size: number) {
  const out = await k.ok("process_read_memory", { handle: proc, vaddr, buffer_size: size });
  return { bytes: Uint8Array.fromBase64(out.buffer), actual: out.actual as number };
}
