// A syscall made by a thread's code, end to end: the core stopped after a
// `syscall` / `svc #0`; the kernel checks that it came from that number's
// own vDSO entry point, turns registers and pointers into the arguments the
// table's C signature describes, runs the very impl an HTTP request runs,
// writes the outs back to the caller's memory and the status into rax / x0.

import type { ThreadRegisters } from "../arch/arch.ts";
import type { AddressSpace } from "../arch/cpu.ts";
import { badSyscall } from "./exceptions.ts";
import type { Kernel } from "./kernel.ts";
import { ERR, ZX_OK, ZxError, type ZxStatus } from "./status.ts";
import type { Caller, CParam, CType, Outs, Syscall } from "./syscalls/define.ts";
import { syscallsOf } from "./syscalls/table.ts";
import type { Thread } from "./thread.ts";
import { copyFromUser, copyToUser } from "./user_copy.ts";
import { vdsoImage } from "./vdso/image.ts";
import { SYSCALL_COUNT, syscallName, syscallNumber } from "./vdso/numbers.ts";

/** Names the 2019 number table uses for calls the table knows by a newer name. */
const RENAMED: Readonly<Record<string, string>> = {
  vcpu_resume: "vcpu_enter",
  // zx_channel_call's vDSO wrapper calls this one; the kernel waits out a
  // suspension itself, so channel_call_finish is never needed.
  channel_call_noretry: "channel_call",
};

/** The number code calls the table's syscall `name` by (through a renamed entry if need be). */
export function codeSyscallNumber(name: string): number | undefined {
  const renamed = Object.entries(RENAMED).find(([, to]) => to === name)?.[0];
  return syscallNumber(name) ?? (renamed === undefined ? undefined : syscallNumber(renamed));
}

interface CodeSyscall {
  readonly syscall: Syscall;
  readonly c: readonly CParam[];
  /** Params fields whose schema takes null (a NULL `const char*` name). */
  readonly nullable: ReadonlySet<string>;
}

let byNumber: (CodeSyscall | undefined)[] | undefined;

/** The table's syscalls by number, built on first use (the table imports the kernel). */
function codeSyscalls(): (CodeSyscall | undefined)[] {
  if (byNumber) return byNumber;
  const table = syscallsOf("zx");
  byNumber = Array.from({ length: SYSCALL_COUNT }, (_, n) => {
    const name = syscallName(n)!;
    const syscall = table.get(name) ?? table.get(RENAMED[name] ?? "");
    if (!syscall?.c) return undefined;
    // deno-lint-ignore no-explicit-any
    const shape = (syscall.params as any).shape ?? {};
    const nullable = new Set(
      syscall.c.filter((p) => p.kind === "in" && shape[p.name]?.safeParse(null).success)
        .map((p) => p.name),
    );
    return { syscall, c: syscall.c, nullable };
  });
  return byNumber;
}

function valueOf(raw: bigint, type: CType): number | bigint {
  switch (type) {
    case "u32":
      return Number(raw & 0xffff_ffffn);
    case "i32":
      return Number(BigInt.asIntN(32, raw));
    case "u64":
      return raw;
    case "i64":
      return BigInt.asIntN(64, raw);
    default: // usize: a count; beyond 2^53 it can only be refused, so precision does not matter
      return Number(raw);
  }
}

/**
 * Where a C parameter list's raw values come from: the syscall's argument
 * registers, or the memory of a struct a `struct` parameter points to.
 */
interface ParamSource {
  raw(index: number): bigint;
}

const ENCODED_SIZE: Record<CType, number> = { u32: 4, i32: 4, u64: 8, i64: 8, usize: 8 };

/** Member offsets and sizeof of a `struct` parameter's C struct (pointers are 8 bytes). */
function structLayout(
  fields: readonly CParam[],
): { offsets: number[]; widths: number[]; size: number } {
  let at = 0;
  let align = 1;
  const widths = fields.map((f) => f.kind === "value" ? ENCODED_SIZE[f.type] : 8);
  const offsets = widths.map((width) => {
    at = Math.ceil(at / width) * width;
    align = Math.max(align, width);
    const offset = at;
    at += width;
    return offset;
  });
  return { offsets, widths, size: Math.ceil(at / align) * align };
}

/** The struct a `struct` parameter points to, as a source of its members; null if unreadable. */
function structSource(
  fields: readonly CParam[],
  pointer: bigint,
  aspace: AddressSpace,
): ParamSource | null {
  const { offsets, widths, size } = structLayout(fields);
  if (pointer === 0n || pointer >= 1n << 53n) return null;
  const bytes = copyFromUser(aspace, Number(pointer), size);
  if (bytes.length < size) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    raw: (i) =>
      widths[i] === 4
        ? BigInt(view.getUint32(offsets[i], true))
        : view.getBigUint64(offsets[i], true),
  };
}

/** The number a size names: a fixed count, or another parameter's value. */
function sizeOf(size: string | number, params: readonly CParam[], source: ParamSource): number {
  if (typeof size === "number") return size;
  return Number(source.raw(params.findIndex((p) => p.name === size)));
}

/** Registers (or a struct) and the memory they point to, as the impl's `args`. */
function readParams(
  params: readonly CParam[],
  source: ParamSource,
  aspace: AddressSpace,
  nullable: ReadonlySet<string>,
): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  params.forEach((param, i) => {
    const raw = source.raw(i);
    if (param.kind === "value") {
      args[param.name] = valueOf(raw, param.type);
    } else if (param.kind === "in") {
      if (raw === 0n && nullable.has(param.name)) {
        args[param.name] = null;
        return;
      }
      const width = param.elements === "u32" ? 4 : 1;
      const count = sizeOf(param.size, params, source);
      // A pointer that cannot be read in full gives the readable prefix: the
      // impl's own length check then reports the invalid pointer in its order.
      const bytes = raw >= 1n << 53n
        ? new Uint8Array(0)
        : copyFromUser(aspace, Number(raw), count * width);
      args[param.name] = width === 1 ? bytes : Array.from(
        new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4)),
      );
    } else if (param.kind === "struct") {
      const members = structSource(param.fields, raw, aspace);
      args[param.name] = members && readParams(param.fields, members, aspace, new Set());
    }
  });
  return args;
}

function argsFrom(call: CodeSyscall, regs: ThreadRegisters, aspace: AddressSpace) {
  return readParams(call.c, { raw: (i) => regs.syscallArg(i) }, aspace, call.nullable);
}

function encode(value: unknown, type: CType): Uint8Array {
  const out = new Uint8Array(ENCODED_SIZE[type]);
  const view = new DataView(out.buffer);
  const wide = typeof value === "bigint" ? value : BigInt(value as number);
  if (out.length === 4) view.setUint32(0, Number(BigInt.asUintN(32, wide)), true);
  else view.setBigUint64(0, BigInt.asUintN(64, wide), true);
  return out;
}

/** An `out` buffer's bytes: at most `count` elements of the out value. */
function outBytes(value: unknown, count: number, elements: "u32" | undefined): Uint8Array {
  if (elements !== "u32") {
    const all = value as Uint8Array;
    return all.subarray(0, Math.min(all.length, count));
  }
  const words = (value as readonly number[]).slice(0, count);
  return new Uint8Array(Uint32Array.from(words, (w) => w >>> 0).buffer);
}

/** Writes the outs the parameters have pointers for; false if a pointer was bad. */
function writeParams(
  params: readonly CParam[],
  source: ParamSource,
  outs: Outs,
  aspace: AddressSpace,
): boolean {
  let ok = true;
  params.forEach((param, i) => {
    const pointer = source.raw(i);
    if (param.kind === "struct") {
      const members = structSource(param.fields, pointer, aspace);
      if (members && !writeParams(param.fields, members, outs, aspace)) ok = false;
      return;
    }
    if (param.kind !== "out" && param.kind !== "out_value") return;
    const value = outs[param.name];
    if (value === undefined || pointer === 0n) return;
    const bytes = param.kind === "out"
      ? outBytes(value, sizeOf(param.size, params, source), param.elements)
      : encode(value, param.type);
    if (bytes.length === 0) return;
    if (pointer >= 1n << 53n || !copyToUser(aspace, Number(pointer), bytes)) ok = false;
  });
  return ok;
}

function writeOuts(call: CodeSyscall, outs: Outs, regs: ThreadRegisters, aspace: AddressSpace) {
  return writeParams(call.c, { raw: (i) => regs.syscallArg(i) }, outs, aspace);
}

function codeCaller(kernel: Kernel, thread: Thread): Caller {
  const process = thread.process;
  return {
    kernel,
    thread,
    process,
    handles: process.handles,
    abi: "zx",
    maxBlockMs: Number.POSITIVE_INFINITY,
  };
}

/** Handles EXIT.SYSCALL for `thread`. */
export function syscallFromCode(kernel: Kernel, thread: Thread): void {
  const regs = thread.registers;
  const process = thread.process;
  const number = regs.syscallNumber();
  const site = Number(regs.pc()) - kernel.arch.syscallInstructionSize -
    (process.vdsoBase ?? Number.NaN);
  if (
    number >= BigInt(SYSCALL_COUNT) ||
    vdsoImage(kernel.arch).syscallSites[Number(number)] !== site
  ) {
    badSyscall(kernel, thread, number);
    return;
  }
  const call = codeSyscalls()[Number(number)];
  if (call === undefined) {
    // A real Zircon syscall that zxsim does not implement (yet).
    regs.setSyscallResult(ERR.NOT_SUPPORTED);
    return;
  }
  const finish = (status: ZxStatus, outs: Outs) => {
    if (!thread.alive) return;
    const returned = call.syscall.cReturn;
    if (returned !== undefined && status === ZX_OK) {
      regs.setReturnValue(BigInt(outs[returned] as bigint | number));
      return;
    }
    const wrote = writeOuts(call, outs, regs, process.aspace);
    regs.setSyscallResult(status === ZX_OK && !wrote ? ERR.INVALID_ARGS : status);
  };
  const fail = (error: unknown) => {
    if (error instanceof ZxError) return finish(error.status, error.outs ?? {});
    console.error(error); // a bug in zxsim: the program sees ZX_ERR_INTERNAL
    finish(ERR.INTERNAL, {});
  };
  let result: Outs | Promise<Outs>;
  try {
    result = call.syscall.impl(codeCaller(kernel, thread), argsFrom(call, regs, process.aspace));
  } catch (error) {
    fail(error);
    return;
  }
  if (!(result instanceof Promise)) {
    finish(ZX_OK, result);
    return;
  }
  // Blocked: the core does not run until the call returns.
  thread.inSyscall = true;
  result.then((outs) => finish(ZX_OK, outs), fail).finally(() => {
    thread.inSyscall = false;
    kernel.runner.wake();
  });
}
