// Helpers of the channel and port tests: statuses by suffix, a second
// process driven by a token of its own that holds one end of a channel, and
// small waits.

import assert from "node:assert/strict";
import {
  assertStatus,
  type Json,
  PARK_ENTRY,
  PARK_STACK,
  type Reply,
  TestKernel,
} from "./helpers.ts";

/** Each status these tests expect, with the HTTP status it travels with. */
const HTTP: Record<string, number> = {
  BAD_HANDLE: 400,
  WRONG_TYPE: 400,
  INVALID_ARGS: 400,
  OUT_OF_RANGE: 400,
  BUFFER_TOO_SMALL: 400,
  PEER_CLOSED: 400,
  ACCESS_DENIED: 403,
  NOT_FOUND: 404,
  SHOULD_WAIT: 409,
  CANCELED: 409,
  BAD_STATE: 409,
  INTERNAL_INTR_KILLED: 409,
  NOT_SUPPORTED: 501,
  TIMED_OUT: 504,
};

/** Asserts a failure by its suffix ("PEER_CLOSED") and its HTTP status. */
export function fails(reply: Reply, suffix: string): void {
  assert.ok(suffix in HTTP, `unknown status ${suffix}`);
  assertStatus(reply, `ZX_ERR_${suffix}`, HTTP[suffix]);
}

/** A channel of the bootstrap process: [end0, end1]. */
export async function channel(k: TestKernel, token = k.token): Promise<[number, number]> {
  const { out0, out1 } = await k.ok("channel_create", {}, token);
  return [out0, out1];
}

export async function port(k: TestKernel, token = k.token): Promise<number> {
  return (await k.ok("port_create", {}, token)).out;
}

/** The koid of `handle` (in the process of `token`). */
export async function koidOf(k: TestKernel, handle: number, token = k.token): Promise<number> {
  return (await k.basic(handle, token)).koid;
}

/** A deadline `ms` milliseconds from the kernel's now, as a "0x..." string. */
export async function inMs(k: TestKernel, ms: number): Promise<string> {
  const { time } = await k.ok("clock_get_monotonic");
  return `0x${(BigInt(time) + BigInt(ms) * 1_000_000n).toString(16)}`;
}

/** Polls until `check` holds (every 2 ms, at most 5 s). */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Waits until `thread`'s ZX_INFO_THREAD state is `state`. */
export function untilState(k: TestKernel, thread: number, state: number): Promise<void> {
  return until(async () => await k.threadState(thread) === state, `state 0x${state.toString(16)}`);
}

/** Another process of the kernel, a client thread of it, and the end of a channel it holds. */
export interface OtherProcess {
  readonly process: number;
  /** A thread of that process (a handle of the bootstrap process) and its token. */
  readonly thread: number;
  readonly token: string;
  /** The process's end of the channel, a handle value in that process. */
  readonly end: number;
  /** The bootstrap process's end. */
  readonly peer: number;
}

/**
 * A process whose first thread spins (it received `end` with process_start)
 * and whose second thread a client drives. The value `end` got there is the
 * first thread's first argument, read from its registers.
 */
export async function otherProcess(k: TestKernel): Promise<OtherProcess> {
  const created = await k.ok("process_create", { job: k.handles.root_job, name: "other" });
  const process = created.proc_handle;
  await k.parkIn(created.vmar_handle);
  const first = await k.newThread(process, "first");
  const client = await k.newThread(process, "client");
  const [peer, end] = await channel(k);
  await k.ok("process_start", {
    handle: process,
    thread: first,
    entry: `0x${PARK_ENTRY.toString(16)}`,
    stack: `0x${PARK_STACK.toString(16)}`,
    arg1: end,
  });
  const { token: suspension } = await k.ok("task_suspend", { handle: first });
  const { regs } = await k.ok("thread_read_state", { handle: first, kind: 0 });
  await k.ok("handle_close", { handle: suspension });
  const arg1 = k.arch === "x64" ? regs.rdi : regs.r[0];
  const token = await k.clientToken(client);
  return { process, thread: client, token, end: Number(BigInt(arg1)), peer };
}

/** A channel_write that must succeed. */
export function write(k: TestKernel, handle: number, body: Json, token = k.token): Promise<Json> {
  return k.ok("channel_write", { handle, ...body }, token);
}

export function bytesOf(base64: string): number[] {
  return [...Uint8Array.fromBase64(base64)];
}

export function base64(...bytes: number[]): string {
  return Uint8Array.from(bytes).toBase64();
}

export function text(value: string): string {
  return new TextEncoder().encode(value).toBase64();
}

export { TestKernel };

/**
 * Every channel and port syscall once with success and once with an error,
 * for the real-server walk (tests/server.test.ts).
 */
export async function walkIpc(k: TestKernel): Promise<void> {
  const [a, b] = await channel(k);
  fails(await k.call("channel_create", { options: 1 }), "INVALID_ARGS");
  await write(k, a, { bytes: text("ping") });
  fails(await k.call("channel_write", { handle: a, handles: [a] }), "NOT_SUPPORTED");
  const read = await k.ok("channel_read", { handle: b });
  assert.equal(read.bytes, text("ping"));
  fails(await k.call("channel_read", { handle: b }), "PEER_CLOSED");
  const p = await port(k);
  fails(await k.call("port_create", { options: 2 }), "INVALID_ARGS");
  await k.ok("object_wait_async", {
    handle: b,
    port: p,
    key: 1,
    signals: "ZX_CHANNEL_PEER_CLOSED",
  });
  fails(
    await k.call("object_wait_async", { handle: b, port: b, key: 1, signals: 1 }),
    "WRONG_TYPE",
  );
  await k.ok("port_queue", { handle: p, packet: { key: 2 } });
  fails(await k.call("port_queue", { handle: p, packet: "AAAA" }), "INVALID_ARGS");
  assert.equal(
    (await k.ok("port_wait", { handle: p, deadline: 0 })).view.key,
    "0x0000000000000001",
  );
  await k.ok("object_wait_async", {
    handle: b,
    port: p,
    key: 3,
    signals: "ZX_CHANNEL_PEER_CLOSED",
  });
  await k.ok("port_cancel", { handle: p, source: b, key: 3 });
  fails(await k.call("port_cancel", { handle: p, source: b, key: 3 }), "NOT_FOUND");
  assert.equal(
    (await k.ok("port_wait", { handle: p, deadline: 0 })).view.key,
    "0x0000000000000002",
  );
  fails(await k.call("port_wait", { handle: p, deadline: 0 }), "TIMED_OUT");
  const [client, server] = await channel(k);
  const { token } = await k.clientThread("server");
  const call = k.call("channel_call", { handle: client, args: { wr_bytes: text("txid") } });
  await k.ok("object_wait_one", { handle: server, signals: "ZX_CHANNEL_READABLE" }, token);
  const request = await k.ok("channel_read", { handle: server }, token);
  await write(k, server, { bytes: request.bytes }, token);
  assert.equal((await call).body.code, 0);
  fails(await k.call("channel_call", { handle: client, args: { wr_bytes: "" } }), "INVALID_ARGS");
}
