// Test helpers: a zxsim app driven through app.request (no network), a
// kernel per test, and a thread made ready for register access.

import assert from "node:assert/strict";
import { createApp } from "../routes/app.ts";

// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

export interface Reply {
  readonly http: number;
  readonly body: Json;
}

export interface BootHandles {
  root_job: number;
  hypervisor_resource: number;
  process: number;
  vmar: number;
  thread: number;
}

const PAGE = 4096;
/** USER_ASPACE_BASE on both arches: where the root VMAR begins. */
const USER_BASE = 0x200000n;
/** Where tests start threads: a loop that jumps to itself (x64 `jmp .`, arm64 `b .`). */
export const PARK_ENTRY = 0x1000000n;
export const PARK_STACK = 0x2000000n;
const PARK_STACK_SIZE = 64 * 1024;
const SPIN = {
  x64: Uint8Array.of(0xeb, 0xfe),
  arm64: Uint8Array.of(0x00, 0x00, 0x00, 0x14),
};

/** Something that answers HTTP requests: the in-process app or a real server. */
export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>;

export function inProcess(options: Parameters<typeof createApp>[0] = {}): Fetcher {
  const { app } = createApp(options);
  return async (path, init) => await app.request(path, init);
}

export async function send(
  fetcher: Fetcher,
  path: string,
  body?: unknown,
  token?: string,
  method = "POST",
): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetcher(path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { http: response.status, body: text ? JSON.parse(text) : {} };
}

/** A kernel plus a way to make syscalls as its bootstrap thread (or another token). */
export class TestKernel {
  constructor(
    readonly fetcher: Fetcher,
    readonly id: string,
    readonly arch: string,
    readonly token: string,
    readonly handles: BootHandles,
  ) {}

  /**
   * A new kernel. Unless `park` is false, its bootstrap process gets code at
   * PARK_ENTRY that spins in place and a stack below PARK_STACK, so threads
   * the tests start there run (and stay RUNNING) instead of faulting.
   */
  static async create(
    fetcher: Fetcher = inProcess(),
    body: Json = {},
    park = true,
  ): Promise<TestKernel> {
    const reply = await send(fetcher, "/v1/kernels", body);
    assert.equal(reply.http, 201, JSON.stringify(reply.body));
    const { kernel, arch, token, handles } = reply.body;
    const k = new TestKernel(fetcher, kernel, arch, token, handles);
    if (park) await k.mapParkingCode();
    return k;
  }

  /**
   * Maps `code` read+execute at `address` in the bootstrap process, or in the
   * process whose root VMAR is `vmar` (handles closed after).
   */
  async mapCode(address: bigint, code: Uint8Array, vmar = this.handles.vmar): Promise<void> {
    const { out: vmo } = await this.ok("vmo_create", { size: PAGE });
    await this.ok("vmo_write", { handle: vmo, buffer: code.toBase64(), offset: 0 });
    const { out: exec } = await this.ok("vmo_replace_as_executable", { handle: vmo, vmex: 0 });
    await this.mapAt(vmar, address, exec, ["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE"], PAGE);
  }

  /** Maps a fresh zeroed read-write VMO of `size` bytes at `address` (bootstrap or `vmar`). */
  async mapData(address: bigint, size: number, vmar = this.handles.vmar): Promise<void> {
    const { out: vmo } = await this.ok("vmo_create", { size });
    await this.mapAt(vmar, address, vmo, ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"], size);
  }

  /**
   * The spinning code at PARK_ENTRY and a stack below PARK_STACK in another
   * process, given its root VMAR (process_create's vmar_handle), so threads
   * started there run instead of faulting (which would kill that process).
   */
  async parkIn(vmar: number): Promise<void> {
    await this.mapCode(PARK_ENTRY, SPIN[this.arch as keyof typeof SPIN], vmar);
    await this.mapData(PARK_STACK - BigInt(PARK_STACK_SIZE), PARK_STACK_SIZE, vmar);
  }

  private async mapAt(vmar: number, address: bigint, vmo: number, perms: string[], len: number) {
    await this.ok("vmar_map", {
      handle: vmar,
      options: [...perms, "ZX_VM_SPECIFIC"],
      vmar_offset: `0x${(address - USER_BASE).toString(16)}`,
      vmo,
      vmo_offset: 0,
      len,
    });
    await this.ok("handle_close", { handle: vmo });
  }

  private async mapParkingCode(): Promise<void> {
    await this.parkIn(this.handles.vmar);
  }

  /** POST /v1/{abi}/{name} as this kernel's bootstrap thread (or `token`). */
  call(name: string, body: Json = {}, token = this.token, abi = "zx"): Promise<Reply> {
    return send(this.fetcher, `/v1/${abi}/${name}`, body, token);
  }

  mx(name: string, body: Json = {}, token = this.token): Promise<Reply> {
    return this.call(name, body, token, "mx");
  }

  /** Makes a call that must succeed and returns its outs. */
  async ok(name: string, body: Json = {}, token = this.token, abi = "zx"): Promise<Json> {
    const reply = await this.call(name, body, token, abi);
    assert.equal(reply.body.code, 0, `${abi}_${name}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.http, 200);
    return reply.body;
  }

  async newThread(process = this.handles.process, name = "worker"): Promise<number> {
    return (await this.ok("thread_create", { process, name })).out;
  }

  /** A thread suspended before it starts, then started: stopped before its first instruction. */
  async suspendedThread(
    entry = "0x1000000",
    stack = "0x2000000",
    arg1: number | string = 0,
    arg2: number | string = 0,
  ): Promise<{ thread: number; token: number }> {
    const thread = await this.newThread();
    const { token } = await this.ok("task_suspend", { handle: thread });
    await this.ok("thread_start", { handle: thread, thread_entry: entry, stack, arg1, arg2 });
    return { thread, token };
  }

  /** ZX_INFO_HANDLE_BASIC of `handle`, koids as numbers. */
  async basic(handle: number, token = this.token): Promise<BasicInfo> {
    const body = await this.ok("object_get_info", { handle, topic: "ZX_INFO_HANDLE_BASIC" }, token);
    return {
      koid: Number(BigInt(body.info.koid)),
      rights: body.info.rights,
      type: body.info.type,
      related: Number(BigInt(body.info.related_koid)),
    };
  }

  /** zx_info_thread_t.state of `thread`. */
  async threadState(thread: number): Promise<number> {
    return (await this.ok("object_get_info", { handle: thread, topic: "ZX_INFO_THREAD" })).info
      .state;
  }

  /** A duplicate of `handle` (same rights unless given). */
  async dup(handle: number, rights: Json[string] = "ZX_RIGHT_SAME_RIGHTS"): Promise<number> {
    return (await this.ok("handle_duplicate", { handle, rights })).out;
  }

  /** A copy of `handle` reduced to `rights` (the original is kept). */
  async reduced(handle: number, rights: number): Promise<number> {
    return (await this.ok("handle_replace", { handle: await this.dup(handle), rights })).out;
  }

  /** Signals asserted on `handle`, read with a zero-deadline wait for every signal. */
  async signals(handle: number): Promise<number> {
    const reply = await this.call("object_wait_one", { handle, signals: 0xffff_ffff, deadline: 0 });
    assert.ok(reply.body.code === 0 || reply.body.status === "ZX_ERR_TIMED_OUT");
    return reply.body.observed;
  }

  /** Starts NEW `thread` as a client thread and returns its token. */
  async clientToken(thread: number): Promise<string> {
    const reply = await send(this.fetcher, `/v1/kernels/${this.id}/tokens`, { thread }, this.token);
    assert.equal(reply.http, 201, JSON.stringify(reply.body));
    assert.equal(typeof reply.body.token, "string");
    return reply.body.token;
  }

  /** A new thread of the bootstrap process, driven by its own token. */
  async clientThread(name = "client"): Promise<{ thread: number; token: string }> {
    const thread = await this.newThread(this.handles.process, name);
    return { thread, token: await this.clientToken(thread) };
  }

  /** A started thread that is running (not suspended). */
  async runningThread(): Promise<number> {
    const thread = await this.newThread();
    await this.ok("thread_start", {
      handle: thread,
      thread_entry: "0x1000000",
      stack: "0x2000000",
    });
    return thread;
  }
}

export interface BasicInfo {
  koid: number;
  rights: number;
  type: number;
  related: number;
}

/** Registers `fn` as one test per architecture, each with a fresh kernel. */
export function archTest(
  name: string,
  fn: (k: TestKernel) => Promise<void>,
  fetcher: () => Fetcher = () => inProcess(),
): void {
  for (const arch of ARCHES) {
    Deno.test(`[${arch}] ${name}`, async () => {
      const k = await TestKernel.create(fetcher(), { arch });
      assert.equal(k.arch, arch);
      await fn(k);
    });
  }
}

/** Expected code and HTTP status per status suffix, as the contract states them. */
export const STATUS: Record<string, { code: number; http: number }> = {
  NOT_SUPPORTED: { code: -2, http: 501 },
  NO_MEMORY: { code: -4, http: 503 },
  INVALID_ARGS: { code: -10, http: 400 },
  BAD_HANDLE: { code: -11, http: 400 },
  WRONG_TYPE: { code: -12, http: 400 },
  BUFFER_TOO_SMALL: { code: -15, http: 400 },
  BAD_STATE: { code: -20, http: 409 },
  UNAVAILABLE: { code: -28, http: 503 },
  ACCESS_DENIED: { code: -30, http: 403 },
};

/** Asserts a failure by its suffix ("INVALID_ARGS"): name, code and HTTP status. */
export function expectErr(reply: Reply, suffix: string, prefix = "ZX"): void {
  const want = STATUS[suffix];
  assert.ok(want, `unknown status ${suffix}`);
  assertStatus(reply, `${prefix}_ERR_${suffix}`, want.http);
  assert.equal(reply.body.code, want.code);
}

/** A kernel of `arch` with the debugging-syscalls boot option as given. */
export function newKernel(arch: string, debugging = true): Promise<TestKernel> {
  return TestKernel.create(inProcess(), {
    arch,
    boot_options: { enable_debugging_syscalls: debugging },
  });
}

/** Asserts a failed call's status name, code and HTTP status. */
export function assertStatus(reply: Reply, status: string, http?: number): void {
  assert.equal(reply.body.status, status, JSON.stringify(reply.body));
  assert.equal(typeof reply.body.message, "string");
  assert.ok(reply.body.message.length > 0);
  if (http !== undefined) assert.equal(reply.http, http);
}

export const ARCHES = ["x64", "arm64"] as const;

/** Little-endian u64 of `bytes` at `offset`. */
export function u64At(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);
}

export function setU64At(bytes: Uint8Array, offset: number, value: bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(
    offset,
    BigInt.asUintN(64, value),
    true,
  );
}
