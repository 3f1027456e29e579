// The records zx_object_get_info returns, described once as layouts.

import { array, nested, padding, scalar, struct, type StructLayout } from "../arch/layout.ts";
import type { KernelObject } from "./object.ts";
import type { Process } from "./process.ts";
import type { Thread } from "./thread.ts";

export const INFO_HANDLE_BASIC = struct("zx_info_handle_basic_t", 32, [
  scalar("koid", 0, "u64"),
  scalar("rights", 8, "u32"),
  scalar("type", 12, "u32"),
  scalar("related_koid", 16, "u64"),
  scalar("reserved", 24, "u32"),
  padding("padding1", 28, 4),
]);

const CPU_SET = struct("zx_cpu_set_t", 64, [array("mask", 0, "u64", 8)]);

export const INFO_THREAD = struct("zx_info_thread_t", 72, [
  scalar("state", 0, "u32"),
  scalar("wait_exception_channel_type", 4, "u32"),
  nested("cpu_affinity_mask", 8, CPU_SET),
]);

export const INFO_PROCESS = struct("zx_info_process_t", 24, [
  scalar("return_code", 0, "u64"),
  scalar("start_time", 8, "u64"),
  scalar("flags", 16, "u32"),
  padding("padding1", 20, 4),
]);

/** zx_info_vcpu_t (ZX_INFO_VCPU): flags, ZX_INFO_VCPU_FLAG_KICKED while a kick is pending. */
export const INFO_VCPU = struct("zx_info_vcpu_t", 4, [scalar("flags", 0, "u32")]);

export const INFO_PROCESS_FLAG = { STARTED: 1 << 0, EXITED: 1 << 1, DEBUGGER_ATTACHED: 1 << 2 };

/** CPU_MASK_ALL: a live thread's default soft affinity (32-bit cpu_mask_t). */
const CPU_MASK_ALL = 0xffff_ffff;

function encode(layout: StructLayout, values: Record<string, unknown>): Uint8Array {
  const bytes = new Uint8Array(layout.size);
  const error = layout.applyNamed(bytes, values);
  if (error) throw new Error(`encoding ${layout.name}: ${error}`);
  return bytes;
}

export function handleBasicInfo(object: KernelObject, rights: number): Uint8Array {
  return encode(INFO_HANDLE_BASIC, {
    koid: object.koid,
    rights,
    type: object.type,
    related_koid: object.relatedKoid,
  });
}

export function threadInfo(thread: Thread): Uint8Array {
  return encode(INFO_THREAD, {
    state: thread.infoState,
    wait_exception_channel_type: thread.waitChannelType,
    cpu_affinity_mask: { mask: [thread.lifecycle === "DEAD" ? 0 : CPU_MASK_ALL] },
  });
}

export function processInfo(process: Process): Uint8Array {
  let flags = 0;
  if (process.state !== "INITIAL") flags |= INFO_PROCESS_FLAG.STARTED;
  if (process.state === "DYING" || process.state === "DEAD") flags |= INFO_PROCESS_FLAG.EXITED;
  return encode(INFO_PROCESS, {
    return_code: BigInt(process.returnCode),
    start_time: process.startTime,
    flags,
  });
}

const EXCEPTION_HEADER = struct("zx_exception_header_t", 8, [
  scalar("size", 0, "u32"),
  scalar("type", 4, "u32"),
]);

/** zx_exception_context_t.arch, named per architecture. */
const ARCH_EXCEPTION_DATA = {
  x64: struct("zx_x86_64_exc_data_t", 24, [
    scalar("vector", 0, "u64"),
    scalar("err_code", 8, "u64"),
    scalar("cr2", 16, "u64"),
  ]),
  arm64: struct("zx_arm64_exc_data_t", 24, [
    scalar("esr", 0, "u32"),
    padding("padding1", 4, 4),
    scalar("far", 8, "u64"),
    padding("padding2", 16, 8),
  ]),
} as const;

function exceptionReport(arch: keyof typeof ARCH_EXCEPTION_DATA, v1: boolean): StructLayout {
  const data = ARCH_EXCEPTION_DATA[arch];
  const context = v1
    ? struct("zx_exception_context_v1_t", 24, [nested("arch", 0, data)])
    : struct("zx_exception_context_t", 32, [
      nested("arch", 0, data),
      scalar("synth_code", 24, "u32"),
      scalar("synth_data", 28, "u32"),
    ]);
  return struct(v1 ? "zx_exception_report_v1_t" : "zx_exception_report_t", 8 + context.size, [
    nested("header", 0, EXCEPTION_HEADER),
    nested("context", 8, context),
  ]);
}

/** ZX_INFO_THREAD_EXCEPTION_REPORT (40 bytes) and its _V1 (32: no synth fields), per arch. */
export const INFO_EXCEPTION_REPORT = {
  x64: { current: exceptionReport("x64", false), v1: exceptionReport("x64", true) },
  arm64: { current: exceptionReport("arm64", false), v1: exceptionReport("arm64", true) },
} as const;
