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
}

/** A request body for the docs, in terms of the example kernel's handles. */
export type Example = (handles: ExampleHandles) => Record<string, unknown>;

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
