// zx_vcpu_read_state and zx_vcpu_write_state, in the order of checks of
// Zircon 2020-2023 (lib/syscalls/hypervisor.cc, then the arch Vcpu):
// handle, type, rights, kind, buffer_size, the copy-in, then the thread.

import { z } from "zod";
import { padding, scalar, struct, type StructLayout } from "../../arch/layout.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZX_OK, ZxError } from "../status.ts";
import { VCPU_KIND } from "../types.ts";
import { Vcpu } from "../vcpu.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { checkVcpuThread } from "./hypervisor_vcpu.ts";
import { bytes, flags, handle, namedFields, size } from "./params.ts";

/** zx_vcpu_io_t: what the guest's `in` receives (8 bytes; the union read as a u32). */
export const VCPU_IO = struct("zx_vcpu_io_t", 8, [
  scalar("access_size", 0, "u8"),
  padding("padding1", 1, 3),
  scalar("data", 4, "u32"),
]);

/** The struct of each kind: zx_vcpu_state_t is the arch's. */
function layoutOf(vcpu: Vcpu, kind: number): StructLayout | undefined {
  if (kind === VCPU_KIND.STATE) return vcpu.guest.arch.stateLayout;
  if (kind === VCPU_KIND.IO) return VCPU_IO;
  return undefined;
}

function kindError(kind: number, allowed: string): ZxError {
  return new ZxError(
    ERR.INVALID_ARGS,
    `kind ${kind} does not name a known VCPU state (${allowed})`,
  );
}

function sizeError(bufferSize: number, layout: StructLayout): ZxError {
  return new ZxError(
    ERR.INVALID_ARGS,
    `buffer_size ${bufferSize} does not match the size of ${layout.name} (${layout.size} bytes)`,
  );
}

const regsView = z
  .record(z.string(), z.unknown())
  .describe(
    "zx_vcpu_state_t by field name (x64 rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15, " +
      "rflags; arm64 x[0..30], sp, cpsr); u64 values as 0x strings",
  );

const regsInput = namedFields(
  "regs must be an object of named fields",
  "named fields instead of `buffer`: for ZX_VCPU_STATE those of zx_vcpu_state_t (fields " +
    'not named keep their value, e.g. {"rax":42}); for ZX_VCPU_IO those of zx_vcpu_io_t ' +
    '({"access_size":1,"data":65}; unnamed fields are 0). Values: JSON integers up to ' +
    '2^53, beyond that "0x…" strings',
);

export const vcpuReadState = defineSyscall({
  name: "vcpu_read_state",
  abis: ["zx"],
  summary: "Read the state of a VCPU",
  description: "Reads the state of `handle` as `kind` says. It is only valid to read it while " +
    "the VCPU's execution is paused: vcpu_read_state must be called on the same thread the " +
    "VCPU was created on, which cannot be inside vcpu_enter at the same time (another thread, " +
    "or the thread's own token while its enter is in flight: BAD_STATE). `kind` must be " +
    "ZX_VCPU_STATE. Needs ZX_RIGHT_READ. Order: handle, type (WRONG_TYPE), rights " +
    "(ACCESS_DENIED), then `kind` not ZX_VCPU_STATE or `buffer_size` (default: the struct's " +
    "size) not exactly sizeof(zx_vcpu_state_t), x64 136 / arm64 264 (INVALID_ARGS, before the " +
    "thread), then the thread (BAD_STATE). The reply has the struct in `buffer` (base64) and " +
    "named in `regs`; x64 rflags shows only the user bits (& 0x244DD5), arm64 cpsr only NZCV. " +
    "Before the first enter: the starting state (x64 rflags 0x2 reads as 0).",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "ZX_VCPU_STATE"),
    buffer_size: size().optional().describe("the caller's buffer size; defaults to the struct's"),
  }),
  outs: z.object({ buffer: z.string(), regs: regsView }),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "BAD_STATE"],
  example: (h) => ({ handle: h.vcpu, kind: "ZX_VCPU_STATE" }),
  errorExample: (h) => ({ handle: h.vcpu, kind: "ZX_VCPU_STATE", buffer_size: 135 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "kind", type: "u32" },
    { kind: "out", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, { handle, kind, buffer_size }) {
    const vcpu = caller.handles.lookupAs(handle, Vcpu, RIGHT.READ);
    const layout = vcpu.guest.arch.stateLayout;
    if (kind !== VCPU_KIND.STATE) throw kindError(kind, "vcpu_read_state takes ZX_VCPU_STATE (0)");
    const bufferSize = buffer_size ?? layout.size;
    if (bufferSize !== layout.size) throw sizeError(bufferSize, layout);
    checkVcpuThread(caller, vcpu, "vcpu_read_state");
    const buffer = new Uint8Array(layout.size);
    vcpu.cpu.readState(buffer);
    return { buffer, regs: layout.toNamed(buffer) };
  },
});

/** Where a write's bytes come from: `buffer` (checked against buffer_size) or named `regs`. */
function inputOf(
  caller: Caller,
  vcpu: Vcpu,
  kind: number,
  layout: StructLayout,
  args: { buffer?: Uint8Array; buffer_size?: number; regs?: Record<string, unknown> },
): Uint8Array {
  const { buffer, buffer_size, regs } = args;
  if (buffer !== undefined && regs !== undefined) {
    throw new ZxError(ERR.INVALID_ARGS, "give either buffer or regs, not both");
  }
  if (regs !== undefined) {
    const bufferSize = buffer_size ?? layout.size;
    if (bufferSize !== layout.size) throw sizeError(bufferSize, layout);
    const error = layout.applyNamed(new Uint8Array(layout.size), regs);
    if (error) throw new ZxError(ERR.INVALID_ARGS, `regs: ${error}`);
    const merged = new Uint8Array(layout.size);
    // Named STATE fields go over the current registers (read only once the
    // caller is known to be the VCPU's thread); IO has no current value.
    if (kind === VCPU_KIND.STATE) {
      checkVcpuThread(caller, vcpu, "vcpu_write_state");
      vcpu.cpu.readState(merged);
    }
    layout.applyNamed(merged, regs);
    return merged;
  }
  const sent = buffer ?? new Uint8Array();
  const bufferSize = buffer_size ?? sent.length;
  if (bufferSize !== layout.size) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      (buffer === undefined
        ? "give `buffer` (the struct, base64) or `regs`: neither was sent; "
        : "") +
        `buffer_size ${bufferSize} does not match the size of ${layout.name} (${layout.size} bytes)`,
    );
  }
  // The copy-in: over HTTP the bytes sent are the memory `buffer` points to.
  if (sent.length < bufferSize) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      `buffer is an invalid pointer: buffer_size is ${bufferSize} bytes but only ${sent.length} ` +
        "were sent",
    );
  }
  return sent.subarray(0, layout.size);
}

export const vcpuWriteState = defineSyscall({
  name: "vcpu_write_state",
  abis: ["zx"],
  summary: "Write the state of a VCPU",
  description: "Writes the state of `handle` as `kind` says, from `buffer`. It is only valid " +
    "to write it while the VCPU's execution is paused. `kind` may be ZX_VCPU_STATE or " +
    "ZX_VCPU_IO. vcpu_write_state must be called on the same thread the VCPU was created on. " +
    "Needs ZX_RIGHT_WRITE. Order (Zircon 2020-2023): handle (BAD_HANDLE), type (WRONG_TYPE), " +
    "rights (ACCESS_DENIED), `kind` not a known VCPU state (INVALID_ARGS), `buffer_size` not " +
    "exactly the size of that kind's struct (zx_vcpu_state_t: x64 136, arm64 264; " +
    "zx_vcpu_io_t: 8) (INVALID_ARGS), `buffer` an invalid pointer (fewer bytes sent than " +
    "buffer_size: INVALID_ARGS), then: ZX_VCPU_STATE: another thread (or the thread's own " +
    "token while its vcpu_enter is in flight) BAD_STATE; the registers are replaced, x64 " +
    "rflags only if the value has bit 1 (0x2) set and then only its user bits 0x244DD5 " +
    "(else rflags is ignored), arm64 cpsr's NZCV OR-ed in (a write can set them, never " +
    "clear them): Zircon's own rules. ZX_VCPU_IO (answers an `in` trapped by an IO trap): " +
    "x64 another thread BAD_STATE, access_size not 1, 2 or 4 INVALID_ARGS, then the low " +
    "access_size bytes of rax are replaced by data's (the rest of rax kept); arm64 " +
    "INVALID_ARGS always, before any thread check (complete an arm64 MEM read by writing " +
    "x[xt] with ZX_VCPU_STATE). Named `regs` may replace `buffer`. A refused write changes " +
    "nothing.",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "ZX_VCPU_STATE or ZX_VCPU_IO"),
    buffer: bytes().optional(),
    buffer_size: size().optional().describe(
      "defaults to the decoded length of `buffer` (with `regs`: the struct's size)",
    ),
    regs: regsInput.optional(),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "BAD_STATE"],
  example: (h) => ({ handle: h.vcpu, kind: "ZX_VCPU_STATE", regs: { rax: 42 } }),
  errorExample: (h) => ({
    handle: h.vcpu,
    kind: "ZX_VCPU_IO",
    regs: { access_size: 3, data: 65 },
  }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "kind", type: "u32" },
    { kind: "in", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, args) {
    const { handle, kind } = args;
    const vcpu = caller.handles.lookupAs(handle, Vcpu, RIGHT.WRITE);
    const layout = layoutOf(vcpu, kind);
    if (!layout) throw kindError(kind, "ZX_VCPU_STATE 0 or ZX_VCPU_IO 1");
    const input = inputOf(caller, vcpu, kind, layout, args);
    if (kind === VCPU_KIND.STATE) {
      checkVcpuThread(caller, vcpu, "vcpu_write_state");
      vcpu.cpu.writeState(input);
      return {};
    }
    // ZX_VCPU_IO: arm64's WriteState(zx_vcpu_io_t) refuses it without
    // looking at the thread; x64 checks the thread, then access_size.
    if (vcpu.guest.arch.ioTraps) checkVcpuThread(caller, vcpu, "vcpu_write_state");
    const status = vcpu.cpu.writeIo(input);
    if (status !== ZX_OK) {
      throw new ZxError(
        status,
        vcpu.guest.arch.ioTraps
          ? `zx_vcpu_io_t.access_size ${input[0]} must be 1, 2 or 4 (nothing was changed)`
          : "ZX_VCPU_IO is not supported on arm64: complete a MEM trap's load by writing " +
            "x[xt] with ZX_VCPU_STATE",
      );
    }
    return {};
  },
});
