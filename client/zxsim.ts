// A small typed client for zxsim's HTTP API, for deno task scripts:
//
//   const zx = new ZxsimClient("http://127.0.0.1:8000");
//   const k = await zx.createKernel({ arch: "x64" });
//   const { out: thread } = await k.zx.thread_create({ process: k.handles.process, name: "w" });
//
// Syscalls are typed async functions. Their argument and result types come
// from the syscall table's zod schemas (the same ones the server validates
// with), so the client cannot drift from the server. A failure throws a
// ZxError carrying the Zircon status.

import type { z } from "zod";
import type { Abi } from "../arch/arch.ts";
import type { SYSCALL_ENTRIES } from "../kernel/syscalls/table.ts";
import type { BootstrapHandles } from "../kernel/kernel.ts";
import { ZxError, type ZxStatus } from "../kernel/status.ts";

type Entry = (typeof SYSCALL_ENTRIES)[number];
type EntryOf<A extends Abi> = Entry extends infer E
  ? E extends { readonly abis: readonly (infer B)[] } ? A extends B ? E : never : never
  : never;

/** Request body of a syscall: its parameters as JSON (buffers base64, u64 number or "0x..."). */
export type Args<E extends Entry> = z.input<E["params"]>;
/** Reply of a syscall without `status` and `code`: its out parameters. */
export type Outs<E extends Entry> = z.output<E["outs"]>;

/** The syscalls of one ABI, as typed async functions named as in Zircon (without zx_/mx_). */
export type Syscalls<A extends Abi> = {
  [E in EntryOf<A> as E["name"]]: Record<string, never> extends Args<E>
    ? (args?: Args<E>) => Promise<Outs<E>>
    : (args: Args<E>) => Promise<Outs<E>>;
};

type OutsOf<A extends Abi, N> = Outs<Extract<EntryOf<A>, { readonly name: N }>>;

/** One call of a batch: a syscall of the ABI by name and its arguments (as `k.zx.<name>` takes). */
export type BatchCall<A extends Abi = "zx"> = {
  [E in EntryOf<A> as E["name"]]: Record<string, never> extends Args<E>
    ? { readonly name: E["name"]; readonly args?: Args<E> }
    : { readonly name: E["name"]; readonly args: Args<E> };
}[EntryOf<A>["name"]];

/**
 * One call's result: its outs, as `k.zx.<name>` returns them, or the
 * ZxsimError it would have thrown. `http` is the status the single route
 * would have answered.
 */
export type BatchResult<O = Record<string, unknown>> =
  | { readonly ok: true; readonly http: number; readonly outs: O }
  | { readonly ok: false; readonly http: number; readonly error: ZxsimError };

type BatchResults<A extends Abi, C extends readonly { name: string }[]> = {
  -readonly [I in keyof C]: BatchResult<OutsOf<A, C[I]["name"]>>;
};

/**
 * A batch's reply: every call's result when `ended` is "complete"; when a
 * call failed in stop_on_error mode ("error", the last result) or the
 * thread died ("thread_dead"), the results stop there.
 */
export type BatchReply<A extends Abi, C extends readonly { name: string }[]> =
  | { readonly ended: "complete"; readonly results: BatchResults<A, C> }
  | { readonly ended: "error" | "thread_dead"; readonly results: Partial<BatchResults<A, C>> };

export interface BatchOptions<A extends Abi> {
  /** "stop_on_error" (the server's default) or "continue". */
  readonly mode?: "stop_on_error" | "continue";
  /** POST /v1/zx/batch (default) or /v1/mx/batch. */
  readonly abi?: A;
}

export interface KernelOptions {
  readonly arch?: "x64" | "arm64";
  readonly boot_options?: {
    readonly enable_debugging_syscalls?: boolean;
    /** "free" (default): threads run on their own; "manual": only when driven. */
    readonly scheduler?: "free" | "manual";
  };
}

/** A failed request: the Zircon status (`status`), its name as sent, and the HTTP status. */
export class ZxsimError extends ZxError {
  constructor(
    status: ZxStatus,
    /** "ZX_ERR_BAD_STATE", or "MX_ERR_..." on the Magenta ABI. */
    readonly statusName: string,
    readonly http: number,
    message: string,
    outs?: Readonly<Record<string, unknown>>,
  ) {
    super(status, `${statusName}: ${message}`, outs);
    this.name = "ZxsimError";
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;
type Json = Record<string, unknown>;

/** The ZxsimError an error reply stands for. */
function errorOf(reply: Json, http: number): ZxsimError {
  const { status, code, message, ...outs } = reply;
  return new ZxsimError(
    code as ZxStatus,
    String(status),
    http,
    String(message),
    Object.keys(outs).length ? outs : undefined,
  );
}

/** Talks to one zxsim server. */
export class ZxsimClient {
  readonly #fetch: Fetch;

  constructor(readonly baseUrl = "http://127.0.0.1:8000", fetchFn: Fetch = fetch) {
    this.#fetch = fetchFn;
  }

  /** Sends one request and returns the JSON reply, or throws a ZxsimError. */
  async request(method: string, path: string, body?: unknown, token?: string): Promise<Json> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const response = await this.#fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.ok) return text ? JSON.parse(text) : {};
    let reply: Json;
    try {
      reply = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path}: HTTP ${response.status} with a non-JSON body`);
    }
    throw errorOf(reply, response.status);
  }

  /** POST /v1/kernels: a new kernel, driven as its bootstrap thread. */
  async createKernel(options: KernelOptions = {}): Promise<KernelSession> {
    const reply = await this.request("POST", "/v1/kernels", options);
    return new KernelSession(
      this,
      reply.kernel as string,
      reply.arch as string,
      reply.token as string,
      reply.handles as BootstrapHandles,
    );
  }

  /** A kernel someone else created, by its id and a token of one of its threads. */
  openKernel(id: string, arch: string, token: string, handles?: BootstrapHandles): KernelSession {
    return new KernelSession(this, id, arch, token, handles);
  }

  /** GET /openapi.json. */
  openapi(): Promise<Json> {
    return this.request("GET", "/openapi.json");
  }
}

/** One kernel, as seen by the thread a token acts as. */
export class KernelSession {
  /** Modern Zircon syscalls: POST /v1/zx/{name}. */
  readonly zx: Syscalls<"zx">;
  /** Magenta syscalls (MX_ statuses): POST /v1/mx/{name}. */
  readonly mx: Syscalls<"mx">;

  constructor(
    readonly client: ZxsimClient,
    readonly id: string,
    readonly arch: string,
    readonly token: string,
    /** The bootstrap handles, for a session made by createKernel. */
    readonly handles?: BootstrapHandles,
  ) {
    this.zx = this.#syscalls("zx") as Syscalls<"zx">;
    this.mx = this.#syscalls("mx") as Syscalls<"mx">;
  }

  /** Any property is a syscall: the server knows which exist (BAD_SYSCALL otherwise). */
  #syscalls(abi: Abi): Record<string, (args?: unknown) => Promise<Json>> {
    return new Proxy({}, {
      get: (_target, name) => {
        if (typeof name !== "string" || name === "then") return undefined;
        return async (args: unknown = {}) => {
          const { status: _status, code: _code, ...outs } = await this.client.request(
            "POST",
            `/v1/${abi}/${name}`,
            args,
            this.token,
          );
          return outs;
        };
      },
    });
  }

  /**
   * POST /v1/{abi}/batch: the calls in order as this session's thread, in one
   * request. Each result is what the call alone would have given: its outs or
   * the ZxsimError it would have thrown. Only a bad batch as a whole (its
   * shape, too many calls, a busy thread) throws.
   *
   *   const { ended, results } = await k.batch([
   *     { name: "vmo_create", args: { size: 4096 } },
   *     { name: "handle_close", args: { handle: 0 } },
   *   ], { mode: "continue" });
   */
  batch<C extends BatchCall<"zx">[]>(
    calls: [...C],
    options?: BatchOptions<"zx">,
  ): Promise<BatchReply<"zx", C>>;
  batch<C extends BatchCall<"mx">[]>(
    calls: [...C],
    options: BatchOptions<"mx"> & { readonly abi: "mx" },
  ): Promise<BatchReply<"mx", C>>;
  async batch(
    calls: { name: string; args?: unknown }[],
    options: BatchOptions<Abi> = {},
  ): Promise<BatchReply<Abi, { name: string }[]>> {
    const { abi = "zx", mode } = options;
    const reply = await this.client.request(
      "POST",
      `/v1/${abi}/batch`,
      mode === undefined ? { calls } : { calls, mode },
      this.token,
    );
    const results = (reply.results as { http: number; body: Json }[]).map(({ http, body }) => {
      if (body.code !== 0) return { ok: false, http, error: errorOf(body, http) };
      const { status: _status, code: _code, ...outs } = body;
      return { ok: true, http, outs };
    });
    return { ended: reply.ended, results } as BatchReply<Abi, { name: string }[]>;
  }

  /** GET /v1/kernels/{id}: jobs, processes, threads and handle tables. */
  summary(): Promise<Json> {
    return this.client.request("GET", `/v1/kernels/${this.id}`, undefined, this.token);
  }

  /** POST /v1/kernels/{id}/tokens: starts the NEW `thread` and returns a session acting as it. */
  async asThread(thread: number): Promise<KernelSession> {
    const reply = await this.client.request(
      "POST",
      `/v1/kernels/${this.id}/tokens`,
      { thread },
      this.token,
    );
    return new KernelSession(this.client, this.id, this.arch, reply.token as string);
  }

  /** GET /v1/kernels/{id}/debuglog: zx_debug_write output and crash reports since record `from`. */
  debuglog(from = 0): Promise<{ text: string; next: number; records: Json[] }> {
    return this.client.request(
      "GET",
      `/v1/kernels/${this.id}/debuglog?from=${from}`,
      undefined,
      this.token,
    ) as Promise<{ text: string; next: number; records: Json[] }>;
  }

  /** POST /v1/kernels/{id}/advance: runs a manual kernel's threads. */
  advance(
    by: { instructions?: number; time_ns?: number },
  ): Promise<{ retired: number; now: number; runnable: boolean }> {
    return this.client.request("POST", `/v1/kernels/${this.id}/advance`, by, this.token) as Promise<
      { retired: number; now: number; runnable: boolean }
    >;
  }

  /** DELETE /v1/kernels/{id}. */
  async delete(): Promise<void> {
    await this.client.request("DELETE", `/v1/kernels/${this.id}`, undefined, this.token);
  }
}

export { type BootstrapHandles, ZxError };
