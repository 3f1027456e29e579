// A syscall is declared once, as data: its Zircon name, the ABIs it appears
// in, its parameters (a zod schema), its outs and its implementation. The
// HTTP routes, the OpenAPI document and the client are derived from these.

import type { z } from "zod";
import type { Abi } from "../../arch/arch.ts";
import type { HandleTable } from "../handle_table.ts";
import type { Kernel } from "../kernel.ts";
import type { Process } from "../process.ts";
import type { Thread } from "../thread.ts";

/** The thread making the call, and where it is. */
export interface Caller {
  readonly kernel: Kernel;
  readonly thread: Thread;
  readonly process: Process;
  readonly handles: HandleTable;
  readonly abi: Abi;
  /** How long one call may block before the server gives up on it (ms). */
  readonly maxBlockMs: number;
}

/**
 * Handles a documentation example may name. The docs run every example in a
 * fresh kernel: the bootstrap handles, plus `worker` (a started thread held
 * suspended by `suspend_token`), `new_thread` (created, never started), `job`
 * (a child of the root job) and `closed` (a handle value that was valid and has
 * been closed).
 */
export interface ExampleHandles {
  readonly root_job: number;
  readonly hypervisor_resource: number;
  readonly process: number;
  readonly vmar: number;
  readonly thread: number;
  readonly worker: number;
  readonly suspend_token: number;
  readonly new_thread: number;
  readonly job: number;
  readonly closed: number;
  /**
   * An exception handle: a thread of `crashed_process` stopped in a page
   * fault, as its process's exception channel delivered it.
   */
  readonly exception: number;
  /** A process that has not started, and a NEW thread of it. */
  readonly new_process: number;
  readonly new_process_thread: number;
  /** A resizable 16 KiB VMO, mapped read-write into the root VMAR at `vmo_addr`. */
  readonly vmo: number;
  readonly vmo_addr: number;
  /** A 64 KiB sub-VMAR of the root VMAR (CAN_MAP_READ). */
  readonly child_vmar: number;
  /**
   * A channel pair, "hello" written through `channel` waiting in
   * `channel_peer`; `port`, holding a signal packet (key 1: a wait for
   * ZX_CHANNEL_READABLE on `channel_peer`) then a user packet (key 42); and
   * `echo_channel`, whose other end a program serves by writing back every
   * message it reads (routes/example_ipc.ts).
   */
  readonly channel: number;
  readonly channel_peer: number;
  readonly port: number;
  readonly echo_channel: number;
  /**
   * A guest (`guest_vmar` its guest-physical VMAR) whose memory holds
   * identity page tables at 0 and, at 0x4000, code that writes 42 to I/O
   * port 0x80 (trapped, key 1) and then spins; `vcpu` is its VCPU, made by
   * the bootstrap thread, entry 0x4000, never entered.
   */
  readonly guest: number;
  readonly guest_vmar: number;
  readonly vcpu: number;
}

/** A request body for the docs, in terms of the example kernel's handles. */
export type Example = (handles: ExampleHandles) => Record<string, unknown>;

/** How a C integer parameter is read from its register (or written to memory). */
export type CType = "u32" | "i32" | "u64" | "i64" | "usize";

/**
 * One C parameter of a syscall, in the order code passes them (x64 rdi, rsi,
 * rdx, r10, r8, r9, r12, r13; arm64 x0-x7). From code, the same impl runs as
 * from HTTP: these say how registers and pointers become its `args` and how
 * its outs are written back to the caller's memory.
 * - `value`: params field `name` is the register, as `type` (u32 values keep
 *   the low 32 bits, as the C ABI passes them).
 * - `in`: a `const void*` (or `const char*`); params field `name` gets the
 *   bytes it points to; their count is the C parameter named by `size`, or
 *   a fixed number. `elements: "u32"` reads an array of 32-bit words
 *   (zx_handle_t*) as numbers instead.
 * - `out`: a `void*` buffer of `size` bytes; outs field `name` (bytes) is
 *   written there. With `elements: "u32"` the buffer holds `size` 32-bit
 *   words (zx_handle_t*) and the outs field is an array of numbers.
 * - `out_value`: a `T*` where outs field `name` is written as `type`.
 * - `struct`: a `const T*` to a C struct whose members are `fields`, in
 *   order, laid out as the C ABI does (pointers 8 bytes, each member
 *   naturally aligned): params field `name` gets an object of the members,
 *   read as above from the struct's memory (an `in` member's `size` names a
 *   `value` member), or null if the struct cannot be read; its `out`
 *   members are written from the outs field of the same name. Only
 *   `value`, `in` and `out` members are allowed.
 * A NULL out pointer is skipped; a pointer the caller cannot access is
 * INVALID_ARGS, as Zircon's user-copy helpers report it.
 */
export type CParam =
  | { readonly kind: "value"; readonly name: string; readonly type: CType }
  | {
    readonly kind: "in";
    readonly name: string;
    readonly size: string | number;
    readonly elements?: "u32";
  }
  | {
    readonly kind: "out";
    readonly name: string;
    readonly size: string | number;
    readonly elements?: "u32";
  }
  | { readonly kind: "out_value"; readonly name: string; readonly type: CType }
  | { readonly kind: "struct"; readonly name: string; readonly fields: readonly CParam[] };

/** Out parameters by their Zircon names; Uint8Array values are byte buffers. */
export type Outs = Record<string, unknown>;

/**
 * One syscall. The type parameters keep its literal name, ABIs, parameter
 * schema and outs schema, so the typed client can be derived from the table.
 */
export interface Syscall<
  // deno-lint-ignore no-explicit-any
  P extends z.ZodType = z.ZodType<any, any>,
  O extends z.ZodType = z.ZodType,
  N extends string = string,
  A extends Abi = Abi,
> {
  /** Name without the zx_/mx_ prefix, e.g. "thread_write_state". */
  readonly name: N;
  readonly abis: readonly A[];
  readonly summary: string;
  readonly description: string;
  readonly params: P;
  /** The outs as they appear in the JSON reply (buffers base64, u64 as number or "0x..."). */
  readonly outs: O;
  /** Status suffixes (after ZX_ERR_) the call can return, for the docs. */
  readonly errors: readonly string[];
  /** A call that succeeds, run for the docs to show its request and reply. */
  readonly example: Example;
  /** A call that fails, for the docs (default: the example with a closed handle). */
  readonly errorExample?: Example;
  /**
   * Who makes the success example: the bootstrap thread (default), or
   * `new_thread` started as a client thread with a token of its own (for a
   * call the bootstrap thread cannot make twice, as vcpu_create: one VCPU
   * per thread).
   */
  readonly exampleThread?: "new_thread";
  /**
   * The C signature, for calls made by code through the vDSO. A syscall
   * without one cannot be called from code: its number is treated as
   * unknown (Zircon's bad-syscall policy).
   */
  readonly c?: readonly CParam[];
  /**
   * For the few calls whose C function returns a value rather than a
   * zx_status_t (zx_clock_get_monotonic): the out that goes in rax / x0.
   */
  readonly cReturn?: string;
  readonly impl: (caller: Caller, args: z.output<P>) => Outs | Promise<Outs>;
}

/** Declares a syscall, keeping the impl's argument type tied to the schema. */
export function defineSyscall<
  P extends z.ZodType,
  O extends z.ZodType,
  const N extends string,
  const A extends Abi,
>(syscall: Syscall<P, O, N, A>): Syscall<P, O, N, A> {
  return syscall;
}
