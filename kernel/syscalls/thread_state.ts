// zx_thread_read_state / zx_thread_write_state (modern Zircon) and the
// Magenta mx_thread_read_state / mx_thread_write_state ABI, which reach the
// same registers with Magenta's layouts, sizes and order of checks.

import { z } from "zod";
import type { Abi } from "../../arch/arch.ts";
import { type StructLayout, ZX_THREAD_STATE } from "../../arch/layout.ts";
import { ARCH_NAMES, archByName } from "../../arch/registry.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZX_OK, ZxError, type ZxStatus } from "../status.ts";
import { Thread } from "../thread.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { bytes, flags, handle, namedFields, size } from "./params.ts";

/** ZX_THREAD_STATE_DEBUG_REGS: the bit the debugging-syscalls gate tests in `kind`. */
const DEBUG_KIND_BIT = 4;
/** MX_MAX_THREAD_STATE_SIZE. */
const MX_MAX_STATE_SIZE = 4096;
/** Magenta's regsets are numbered 0..9; only 0 was ever implemented. */
const MX_REGSET_COUNT = 10;

/** "x64 DEBUG_REGS: dr0..dr3 = dr[0..3]; arm64 GENERAL_REGS: …", from the layouts' aliases. */
function aliasesText(): string {
  const kindNames = new Map<number, string>(
    Object.entries(ZX_THREAD_STATE).map(([name, kind]) => [kind, name]),
  );
  const parts: string[] = [];
  for (const name of ARCH_NAMES) {
    for (const [kind, layout] of archByName(name)!.regsets.zx) {
      const aliases = layout.describeAliases();
      if (aliases) parts.push(`${name} ${kindNames.get(kind)}: ${aliases}`);
    }
  }
  return parts.join("; ");
}

const regsView = z
  .record(z.string(), z.unknown())
  .describe(
    "the named view: every field of the struct by its Zircon name (x64 rax … gs_base; arm64 " +
      "r[0..29] for x0..x29, then lr, sp, pc, cpsr, tpidr); u64 values as 0x strings, " +
      "narrower ones as numbers",
  );

const regsInput = namedFields(
  "regs must be an object of named registers",
  'named registers instead of `buffer`, e.g. {"rax":42,"rip":"0x1000000"} on x64 or ' +
    '{"x0":42,"pc":"0x1000000"} on arm64; fields not named keep their value. Keys are the ' +
    'struct\'s field names as reads return them ("r[3]", "zmm[2].v[0]", or a JSON array ' +
    `"r":[…]). Aliases, accepted on write only: ${aliasesText()} (arm64 REGSET0 alike). ` +
    'Values: JSON integers up to 2^53, beyond that "0x…" hex or decimal strings; negative ' +
    "values are stored as two's complement.",
);

function layoutFor(caller: Caller, abi: Abi, kind: number): StructLayout | undefined {
  return caller.kernel.arch.regsets[abi].get(kind);
}

function kindError(caller: Caller, kind: number): ZxError {
  return new ZxError(
    ERR.INVALID_ARGS,
    `kind ${kind} is not a thread state kind on ${caller.kernel.arch.name}`,
  );
}

function badState(thread: Thread): ZxError {
  return new ZxError(
    ERR.BAD_STATE,
    `thread ${thread.koid} is ${thread.lifecycle.toLowerCase()}: its state can be read or ` +
      "written only while it is suspended or stopped in an exception",
  );
}

/**
 * SuspendedOrInExceptionLocked, then the frame: a thread stopped in
 * THREAD_EXITING or a policy exception has no registers to show.
 */
function checkAccessible(thread: Thread): void {
  if (!thread.stateAccessible) throw badState(thread);
  if (thread.registersUnavailable) {
    throw new ZxError(
      ERR.NOT_SUPPORTED,
      `thread ${thread.koid} is stopped in an exception that has no registers (thread exiting ` +
        "or a policy exception)",
    );
  }
}

function throwIfFailed(
  status: ZxStatus,
  thread: Thread,
  layout: StructLayout,
  abi: Abi,
  verb: string,
): void {
  if (status === ZX_OK) return;
  const why = status === ERR.NOT_SUPPORTED
    ? `${layout.name} is not supported on this architecture`
    : `${layout.name} refused (nothing was changed): ${thread.registers.rejection}`;
  throw new ZxError(status, `${abi}_thread_${verb}_state: ${why}`);
}

/** Checks named registers against the layout before the thread is touched. */
function checkNamed(layout: StructLayout, regs: Record<string, unknown>): void {
  const error = layout.applyNamed(new Uint8Array(layout.size), regs);
  if (error) throw new ZxError(ERR.INVALID_ARGS, `regs: ${error}`);
}

/** The current registers with the named ones replaced (state already checked). */
function mergeNamed(
  thread: Thread,
  abi: Abi,
  kind: number,
  layout: StructLayout,
  regs: Record<string, unknown>,
): Uint8Array {
  const merged = new Uint8Array(layout.size);
  throwIfFailed(thread.registers.read(abi, kind, merged), thread, layout, abi, "write");
  layout.applyNamed(merged, regs);
  return merged;
}

/** A write takes its values from `buffer` or from `regs`, never both. */
function checkOneSource(buffer: unknown, regs: unknown): void {
  if (buffer !== undefined && regs !== undefined) {
    throw new ZxError(ERR.INVALID_ARGS, "give either buffer or regs, not both");
  }
}

const IN_SYSCALL = Object.freeze({ stoppedInSyscall: true });
const BETWEEN_INSTRUCTIONS = Object.freeze({ stoppedInSyscall: false });

/** The architecture's value checks, then the store (or nothing at all). */
function applyWrite(
  thread: Thread,
  abi: Abi,
  kind: number,
  layout: StructLayout,
  input: Uint8Array,
) {
  const context = thread.blockedReason !== 0 ? IN_SYSCALL : BETWEEN_INSTRUCTIONS;
  throwIfFailed(thread.registers.write(abi, kind, input, context), thread, layout, abi, "write");
}

/**
 * Said first when a write sent neither `buffer` nor `regs`: the status stays
 * Zircon's for an empty buffer, the message says what was missing.
 */
function noSource(buffer: unknown): string {
  return buffer === undefined
    ? "give `buffer` (the struct, base64) or `regs` (named registers): neither was sent, so "
    : "";
}

const invalidPointer = (what: string, wanted: number, sent: number, buffer: unknown) =>
  new ZxError(
    ERR.INVALID_ARGS,
    `${noSource(buffer)}buffer is an invalid pointer: ${what} is ${wanted} bytes but only ` +
      `${sent} were sent`,
  );

export const threadReadState = defineSyscall({
  name: "thread_read_state",
  abis: ["zx"],
  summary: "Read one register set of a suspended thread",
  description: "Needs ZX_RIGHT_READ. Kinds: ZX_THREAD_STATE_GENERAL_REGS 0, FP_REGS 1, " +
    "VECTOR_REGS 2, DEBUG_REGS 4, SINGLE_STEP 5. Order of checks: handle, type, rights, kind " +
    "(INVALID_ARGS), buffer_size smaller than the struct (BUFFER_TOO_SMALL; larger is fine), " +
    "thread neither suspended nor in an exception (BAD_STATE). arm64 FP_REGS is NOT_SUPPORTED. " +
    "The reply carries the struct's bytes in `buffer` and a named view in `regs`.",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "the ZX_THREAD_STATE_* kind"),
    buffer_size: size().optional().describe(
      "the caller's buffer size; defaults to the struct size",
    ),
  }),
  outs: z.object({ buffer: z.string(), regs: regsView }),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "INVALID_ARGS",
    "BUFFER_TOO_SMALL",
    "BAD_STATE",
    "NOT_SUPPORTED",
  ],
  example: (h) => ({ handle: h.worker, kind: "ZX_THREAD_STATE_GENERAL_REGS" }),
  errorExample: (h) => ({ handle: h.new_thread, kind: "ZX_THREAD_STATE_GENERAL_REGS" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "kind", type: "u32" },
    { kind: "out", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, { handle, kind, buffer_size }) {
    const thread = caller.handles.lookupAs(handle, Thread, RIGHT.READ);
    const layout = layoutFor(caller, "zx", kind);
    if (!layout) throw kindError(caller, kind);
    if ((buffer_size ?? layout.size) < layout.size) {
      throw new ZxError(
        ERR.BUFFER_TOO_SMALL,
        `buffer_size ${buffer_size} is smaller than ${layout.name} (${layout.size} bytes)`,
      );
    }
    checkAccessible(thread);
    const buffer = new Uint8Array(layout.size);
    throwIfFailed(thread.registers.read("zx", kind, buffer), thread, layout, "zx", "read");
    return { buffer, regs: layout.toNamed(buffer) };
  },
});

export const threadWriteState = defineSyscall({
  name: "thread_write_state",
  abis: ["zx"],
  summary: "Write one register set of a suspended thread",
  description: "Needs ZX_RIGHT_WRITE. Give the struct as base64 `buffer` (buffer_size defaults " +
    "to its length; a larger buffer is fine, extra bytes are ignored) or named `regs` (the " +
    "others keep their values). The bytes sent are the memory `buffer` points to: a " +
    "buffer_size larger than them is the invalid-pointer case (INVALID_ARGS). Order: " +
    "debugging-syscalls gate (kind & 4 while the boot option enable_debugging_syscalls is " +
    "false: NOT_SUPPORTED, before the handle), handle, type, rights, kind, BUFFER_TOO_SMALL, " +
    "invalid pointer, BAD_STATE, then the architecture's value rules " +
    "(INVALID_ARGS, nothing changed). x64: rflags takes only the user bits 0x244DD5; rip must " +
    "be a canonical user address; fs_base/gs_base canonical; mxcsr within 0xFFBF; dr7 is " +
    "stored as 0x700 | (v & 0xFFFF00FF), dr6 is read-only. arm64: cpsr takes only NZCV; " +
    "FP_REGS is NOT_SUPPORTED.",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "the ZX_THREAD_STATE_* kind"),
    buffer: bytes().optional(),
    buffer_size: size().optional().describe("defaults to the decoded length of `buffer`"),
    regs: regsInput.optional(),
  }),
  outs: z.object({}),
  errors: [
    "NOT_SUPPORTED",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "INVALID_ARGS",
    "BUFFER_TOO_SMALL",
    "BAD_STATE",
  ],
  example: (h) => ({
    handle: h.worker,
    kind: "ZX_THREAD_STATE_GENERAL_REGS",
    regs: { rax: "0x2a" },
  }),
  errorExample: (h) => ({ handle: h.worker, kind: 0, regs: { rip: "0xffffff8000000000" } }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "kind", type: "u32" },
    { kind: "in", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, { handle, kind, buffer, buffer_size, regs }) {
    checkOneSource(buffer, regs);
    if ((kind & DEBUG_KIND_BIT) !== 0 && !caller.kernel.bootOptions.enable_debugging_syscalls) {
      throw new ZxError(
        ERR.NOT_SUPPORTED,
        "writing debug registers and single-step state needs the boot option " +
          "enable_debugging_syscalls",
      );
    }
    const thread = caller.handles.lookupAs(handle, Thread, RIGHT.WRITE);
    const layout = layoutFor(caller, "zx", kind);
    if (!layout) throw kindError(caller, kind);
    let input: Uint8Array;
    if (regs !== undefined) {
      checkNamed(layout, regs);
      checkAccessible(thread);
      input = mergeNamed(thread, "zx", kind, layout, regs);
    } else {
      const sent = buffer ?? new Uint8Array();
      const bufferSize = buffer_size ?? sent.length;
      if (bufferSize < layout.size) {
        throw new ZxError(
          ERR.BUFFER_TOO_SMALL,
          `${noSource(buffer)}buffer_size ${bufferSize} is smaller than ${layout.name} ` +
            `(${layout.size} bytes)`,
        );
      }
      // The pointer must cover the buffer_size bytes it claims: over HTTP the
      // bytes sent are the memory it points to. (The kernel copies in exactly
      // sizeof(struct) bytes of them.)
      if (sent.length < bufferSize) {
        throw invalidPointer("buffer_size", bufferSize, sent.length, buffer);
      }
      checkAccessible(thread);
      input = sent;
    }
    applyWrite(thread, "zx", kind, layout, input);
    return {};
  },
});

/** Magenta looked the handle up checking rights before type. */
function magentaThread(caller: Caller, value: number, rights: number): Thread {
  return caller.handles.lookupAs(value, Thread, rights, "rights-first");
}

function magentaLayout(caller: Caller, kind: number): StructLayout {
  if (kind >= MX_REGSET_COUNT) throw kindError(caller, kind);
  const layout = layoutFor(caller, "mx", kind);
  if (!layout) {
    throw new ZxError(ERR.INVALID_ARGS, `MX_THREAD_STATE_REGSET${kind} is not implemented`);
  }
  return layout;
}

function checkMagentaLen(len: number): void {
  if (len > MX_MAX_STATE_SIZE) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      `len ${len} is larger than MX_MAX_THREAD_STATE_SIZE (4096)`,
    );
  }
}

export const mxThreadReadState = defineSyscall({
  name: "thread_read_state",
  abis: ["mx"],
  summary: "Magenta: read register set 0 of a stopped thread",
  description: "Magenta (mid-2017) ABI. Kinds MX_THREAD_STATE_REGSET0..9; only REGSET0 (general " +
    "registers: x64 144 bytes, arm64 272) exists. Order: handle, rights (MX_RIGHT_READ), type, " +
    "len > 4096 (INVALID_ARGS), BAD_STATE, kind (INVALID_ARGS), len smaller than the struct " +
    "(BUFFER_TOO_SMALL, with the needed size in `actual`).",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "MX_THREAD_STATE_REGSET0..9"),
    len: size(0xffff_ffff).optional().describe(
      "the caller's buffer size; defaults to the struct size",
    ),
  }),
  outs: z.object({ buffer: z.string(), regs: regsView, actual: z.number() }),
  errors: [
    "BAD_HANDLE",
    "ACCESS_DENIED",
    "WRONG_TYPE",
    "INVALID_ARGS",
    "BAD_STATE",
    "BUFFER_TOO_SMALL",
  ],
  example: (h) => ({ handle: h.worker, kind: "MX_THREAD_STATE_REGSET0" }),
  errorExample: (h) => ({ handle: h.worker, kind: "MX_THREAD_STATE_REGSET0", len: 100 }),
  impl(caller, { handle, kind, len }) {
    const thread = magentaThread(caller, handle, RIGHT.READ);
    if (len !== undefined) checkMagentaLen(len);
    checkAccessible(thread);
    const layout = magentaLayout(caller, kind);
    if ((len ?? layout.size) < layout.size) {
      throw new ZxError(
        ERR.BUFFER_TOO_SMALL,
        `len ${len} is smaller than the ${layout.size}-byte register set`,
        { actual: layout.size },
      );
    }
    const buffer = new Uint8Array(layout.size);
    throwIfFailed(thread.registers.read("mx", kind, buffer), thread, layout, "mx", "read");
    return { buffer, regs: layout.toNamed(buffer), actual: layout.size };
  },
});

export const mxThreadWriteState = defineSyscall({
  name: "thread_write_state",
  abis: ["mx"],
  summary: "Magenta: write register set 0 of a stopped thread",
  description:
    "Magenta (mid-2017) ABI, as its mx_thread_write_state man page describes. Order: handle, " +
    "rights (MX_RIGHT_WRITE), type, len > 4096 (INVALID_ARGS), buffer invalid (INVALID_ARGS), " +
    "BAD_STATE, kind (INVALID_ARGS), len != sizeof (INVALID_ARGS, too small and too large), " +
    "values: x64 rflags takes only the user bits 0x244DD5 (rip >= 1<<47 is refused only for a " +
    "thread stopped inside a syscall); arm64 cpsr takes only NZCV. `regs` may replace `buffer`.",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "MX_THREAD_STATE_REGSET0..9"),
    buffer: bytes().optional(),
    len: size(0xffff_ffff).optional().describe("defaults to the decoded length of `buffer`"),
    regs: regsInput.optional(),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "ACCESS_DENIED", "WRONG_TYPE", "INVALID_ARGS", "BAD_STATE"],
  example: (h) => ({ handle: h.worker, kind: "MX_THREAD_STATE_REGSET0", regs: { rax: "0x2a" } }),
  errorExample: (h) => ({ handle: h.worker, kind: "MX_THREAD_STATE_REGSET0", buffer: "AAAA" }),
  impl(caller, { handle, kind, buffer, len, regs }) {
    checkOneSource(buffer, regs);
    const thread = magentaThread(caller, handle, RIGHT.WRITE);
    if (regs !== undefined) {
      if (len !== undefined) checkMagentaLen(len);
      checkAccessible(thread);
      const layout = magentaLayout(caller, kind);
      checkNamed(layout, regs);
      const merged = mergeNamed(thread, "mx", kind, layout, regs);
      applyWrite(thread, "mx", kind, layout, merged);
      return {};
    }
    const sent = buffer ?? new Uint8Array();
    const bufferLen = len ?? sent.length;
    checkMagentaLen(bufferLen);
    // Magenta copied in all `len` bytes before looking at the thread.
    if (sent.length < bufferLen) throw invalidPointer("len", bufferLen, sent.length, buffer);
    checkAccessible(thread);
    const layout = magentaLayout(caller, kind);
    if (bufferLen !== layout.size) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        `${noSource(buffer)}len ${bufferLen} must be exactly the ${layout.size}-byte register set`,
      );
    }
    applyWrite(thread, "mx", kind, layout, sent);
    return {};
  },
});
