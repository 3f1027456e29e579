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
import { SYSCALL_COUNT, syscallName } from "./vdso/numbers.ts";

/** Names the 2019 number table uses for calls the table knows by a newer name. */
const RENAMED: Readonly<Record<string, string>> = { vcpu_resume: "vcpu_enter" };

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

/** The number a size names: a fixed count, or another C parameter's register. */
function sizeOf(size: string | number, c: readonly CParam[], regs: ThreadRegisters): number {
  if (typeof size === "number") return size;
  return Number(regs.syscallArg(c.findIndex((p) => p.name === size)));
}

/** Registers and the memory they point to, as the impl's `args`. */
function argsFrom(call: CodeSyscall, regs: ThreadRegisters, aspace: AddressSpace) {
  const args: Record<string, unknown> = {};
  call.c.forEach((param, i) => {
    const raw = regs.syscallArg(i);
    if (param.kind === "value") {
      args[param.name] = valueOf(raw, param.type);
    } else if (param.kind === "in") {
      if (raw === 0n && call.nullable.has(param.name)) {
        args[param.name] = null;
        return;
      }
      const width = param.elements === "u32" ? 4 : 1;
      const count = sizeOf(param.size, call.c, regs);
      // A pointer that cannot be read in full gives the readable prefix: the
      // impl's own length check then reports the invalid pointer in its order.
      const bytes = raw >= 1n << 53n
        ? new Uint8Array(0)
        : copyFromUser(aspace, Number(raw), count * width);
      args[param.name] = width === 1 ? bytes : Array.from(
        new Uint32Array(bytes.buffer, 0, Math.floor(bytes.length / 4)),
      );
    }
  });
  return args;
}

const ENCODED_SIZE: Record<CType, number> = { u32: 4, i32: 4, u64: 8, i64: 8, usize: 8 };

function encode(value: unknown, type: CType): Uint8Array {
  const out = new Uint8Array(ENCODED_SIZE[type]);
  const view = new DataView(out.buffer);
  const wide = typeof value === "bigint" ? value : BigInt(value as number);
  if (out.length === 4) view.setUint32(0, Number(BigInt.asUintN(32, wide)), true);
  else view.setBigUint64(0, BigInt.asUintN(64, wide), true);
  return out;
}

/** Writes the outs the C signature has pointers for; false if a pointer was bad. */
function writeOuts(call: CodeSyscall, outs: Outs, regs: ThreadRegisters, aspace: AddressSpace) {
  let ok = true;
  call.c.forEach((param, i) => {
    if (param.kind !== "out" && param.kind !== "out_value") return;
    const value = outs[param.name];
    const pointer = regs.syscallArg(i);
    if (value === undefined || pointer === 0n) return;
    let bytes: Uint8Array;
    if (param.kind === "out") {
      const all = value as Uint8Array;
      bytes = all.subarray(0, Math.min(all.length, sizeOf(param.size, call.c, regs)));
    } else {
      bytes = encode(value, param.type);
    }
    if (bytes.length === 0) return;
    if (pointer >= 1n << 53n || !copyToUser(aspace, Number(pointer), bytes)) ok = false;
  });
  return ok;
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
