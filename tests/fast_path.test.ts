// The fast path (routes/fast_path.ts) changes nothing a client can see: for
// every syscall and a broad set of requests, valid and not, an app with it
// and an app without it (Hono's router, zod's interpreter, a new array per
// base64 decode) answer with the same status, the same headers (but Date)
// and the same body bytes. Both apps run real servers, so requests carry
// Content-Length as clients send them; a few go over raw sockets and through
// app.request (no Content-Length) too. Each syscall gets a pair of identical
// "manual" kernels (same handle values, same koids, no wall-clock effects).

import assert from "node:assert/strict";
import type { Abi } from "../arch/arch.ts";
import type { Syscall } from "../kernel/syscalls/define.ts";
import { syscallsOf } from "../kernel/syscalls/table.ts";
import { ABIS } from "../routes/abi.ts";
import { createApp } from "../routes/app.ts";
import { BODY_LIMIT } from "../routes/http.ts";
import { withSyscallFastPath } from "../routes/fast_path.ts";
import type { SyscallHandler } from "../routes/syscalls.ts";

/** What a client sees of a reply (Date aside, which only says when). */
interface Seen {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

async function seen(response: Response): Promise<Seen> {
  const body = await response.text();
  const headers = [...response.headers].filter(([name]) => name !== "date");
  return { status: response.status, headers, body };
}

/** One app on a real socket. */
class Side {
  readonly app;
  readonly #server;
  readonly base: string;

  constructor(readonly fastPath: boolean) {
    this.app = createApp({ fastPath, maxBlockMs: 50 }).app;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      this.app.fetch,
    );
    this.base = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async send(path: string, init: RequestInit): Promise<Seen> {
    return await seen(await fetch(this.base + path, init));
  }

  stop(): Promise<void> {
    return this.#server.shutdown();
  }
}

type Handles = Record<string, number>;

/** A kernel on each side, made by the same requests, hence the same. */
interface KernelPair {
  readonly tokens: Readonly<Record<"fast" | "slow", string>>;
  readonly ids: Readonly<Record<"fast" | "slow", string>>;
  readonly handles: Handles;
}

const json = (token?: string, type = "application/json"): Record<string, string> => ({
  "content-type": type,
  ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
});

class Pair {
  readonly fast = new Side(true);
  readonly slow = new Side(false);
  requests = 0;

  /** The same request on both sides (`init` gets that side's token); the replies must match. */
  async same(
    label: string,
    path: string,
    init: (token: string) => RequestInit,
    kernel?: KernelPair,
  ): Promise<Seen> {
    const fast = await this.fast.send(path, init(kernel?.tokens.fast ?? "no-kernel"));
    const slow = await this.slow.send(path, init(kernel?.tokens.slow ?? "no-kernel"));
    this.requests++;
    assert.deepEqual(fast, slow, `${label}: POST ${path}`);
    return fast;
  }

  /** A syscall both sides must answer 200; its body. */
  async ok(kernel: KernelPair, name: string, body: unknown, abi: Abi = "zx") {
    const reply = await this.same(name, `/v1/${abi}/${name}`, (token) => ({
      method: "POST",
      headers: json(token),
      body: JSON.stringify(body),
    }), kernel);
    assert.equal(reply.status, 200, `${name}: ${reply.body}`);
    return JSON.parse(reply.body);
  }

  /** The handles the syscalls' examples name (see ExampleHandles), in a manual x64 kernel. */
  async kernel(): Promise<KernelPair> {
    const created = await Promise.all([this.fast, this.slow].map(async (side) => {
      const reply = await side.send("/v1/kernels", {
        method: "POST",
        headers: json(),
        body: JSON.stringify({ arch: "x64", boot_options: { scheduler: "manual" } }),
      });
      assert.equal(reply.status, 201, reply.body);
      return JSON.parse(reply.body);
    }));
    assert.deepEqual(created[0].handles, created[1].handles, "manual kernels repeat themselves");
    const k: KernelPair = {
      tokens: { fast: created[0].token, slow: created[1].token },
      ids: { fast: created[0].kernel, slow: created[1].kernel },
      handles: created[0].handles,
    };
    const boot = k.handles;
    const thread = async (name: string) =>
      (await this.ok(k, "thread_create", { process: boot.process, name })).out as number;
    const worker = await thread("worker");
    const suspended = await this.ok(k, "task_suspend", { handle: worker });
    await this.ok(k, "thread_start", {
      handle: worker,
      thread_entry: "0x1000000",
      stack: "0x2000000",
      arg1: 1,
      arg2: 2,
    });
    const closed = (await this.ok(k, "handle_duplicate", {
      handle: worker,
      rights: "ZX_RIGHT_SAME_RIGHTS",
    })).out;
    await this.ok(k, "handle_close", { handle: closed });
    const vmo = (await this.ok(k, "vmo_create", { size: 16384, options: 2 })).out;
    const fresh = await this.ok(k, "process_create", { job: boot.root_job, name: "app" });
    const handles: Handles = {
      ...boot,
      worker,
      suspend_token: suspended.token,
      closed,
      vmo,
      new_process: fresh.proc_handle,
      new_process_thread: (await this.ok(k, "thread_create", {
        process: fresh.proc_handle,
        name: "main",
      })).out,
      new_thread: await thread("new"),
      job: (await this.ok(k, "job_create", { parent_job: boot.root_job })).out,
      vmo_addr: (await this.ok(k, "vmar_map", {
        handle: boot.vmar,
        options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"],
        vmo,
        len: 16384,
      })).mapped_addr,
      child_vmar: (await this.ok(k, "vmar_allocate", {
        parent_vmar: boot.vmar,
        options: ["ZX_VM_CAN_MAP_READ"],
        size: 65536,
      })).child_vmar,
    };
    // Handles the examples may name that this file does not make: a closed one.
    return {
      ...k,
      handles: new Proxy(handles, { get: (target, name) => target[name as string] ?? closed }),
    };
  }

  async drop(k: KernelPair): Promise<void> {
    for (const side of ["fast", "slow"] as const) {
      await this[side].send(`/v1/kernels/${k.ids[side]}`, {
        method: "DELETE",
        headers: json(k.tokens[side]),
      });
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.fast.stop(), this.slow.stop()]);
  }
}

/** JSON texts put in place of each field: every kind of wrong (and right) value. */
const VALUES = [
  "null",
  "true",
  "false",
  "0",
  "-0",
  "1",
  "-1",
  "1.5",
  "2147483648",
  "4294967295",
  "4294967296",
  "9007199254740991",
  "9007199254740993",
  "1e400",
  "-1e400",
  "123456789012345678901234567890",
  '""',
  '"x"',
  '"0"',
  '"0x10"',
  '"0xffffffffffffffff"',
  '"0x10000000000000000"',
  '"-1"',
  '"1_0"',
  '" 1"',
  '"ZX_RIGHT_READ"',
  '"ZX_THREAD_STATE_GENERAL_REGS"',
  '"MX_THREAD_STATE_REGSET0"',
  '"ZX_TIME_INFINITE"',
  '"toString"',
  '"__proto__"',
  '"constructor"',
  "[]",
  "[1]",
  "[4294967296]",
  '["ZX_RIGHT_READ","ZX_RIGHT_WRITE"]',
  '["toString"]',
  "[null]",
  "{}",
  '{"a":{"b":[1,{"c":null}]}}',
  '{"__proto__":{"rax":1}}',
  '{"rip":"0x1000"}',
  '{"rax":1,"toString":2}',
  '"AAAA"',
  '"AA!A"',
  '"A"',
  '"AAA"',
  '"===="',
  '" AAAA"',
  '"AAAA\\n"',
  '"-_-_"',
  '"aGVsbG8K"',
  `"${"A".repeat(4096)}"`,
  `"${"A".repeat(4100)}"`,
  `"${"A".repeat(5464)}"`,
];

/** Keys no schema has, some of them on every object's prototype. */
const EXTRA_KEYS = ["x", "__proto__", "toString", "constructor", "hasOwnProperty", "valueOf"];

/** Whole bodies: empty, not JSON, not an object. */
const RAW_BODIES = [
  "",
  " ",
  "\n",
  "null",
  "[]",
  "[{}]",
  "1",
  '"s"',
  "true",
  "{",
  '{"handle":',
  "{}",
  '{"__proto__":{"handle":1}}',
  '{"handle":1,"handle":2}',
  "\u0000",
  "[".repeat(5000) + "]".repeat(5000),
];

const object = (entries: readonly (readonly [string, string])[]) =>
  `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;

function shapeKeys(syscall: Syscall): string[] {
  const shape = (syscall.params as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** The bodies each syscall is tried with, its examples first. */
function bodiesFor(syscall: Syscall, handles: Handles): string[] {
  // deno-lint-ignore no-explicit-any
  const h = handles as any;
  const examples = [syscall.example(h), ...(syscall.errorExample ? [syscall.errorExample(h)] : [])];
  const fields = new Set([...shapeKeys(syscall), ...examples.flatMap((e) => Object.keys(e))]);
  const bodies = new Set<string>();
  for (const [i, example] of examples.entries()) {
    const entries = Object.entries(example).map(([k, v]) => [k, JSON.stringify(v)] as const);
    bodies.add(object(entries));
    for (const field of fields) {
      const others = entries.filter(([key]) => key !== field);
      bodies.add(object(others));
      // Every value in place of each field of the first example; a few in the second.
      for (const value of i === 0 ? VALUES : VALUES.slice(0, 8)) {
        bodies.add(object([...others, [field, value]]));
      }
    }
    for (const key of EXTRA_KEYS) bodies.add(object([...entries, [key, "1"]]));
    bodies.add(object([...entries, ["x", "1"], ["y", "2"]]));
  }
  for (const raw of RAW_BODIES) bodies.add(raw);
  return [...bodies];
}

const post = (body: string | undefined, headers: Record<string, string>): RequestInit => ({
  method: "POST",
  headers,
  body,
});

/** A body that arrives in chunks, without Content-Length. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const step = 64 * 1024;
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at += step));
    },
  });
}

const pair = new Pair();

/** The servers live across tests (one pair for the file), so their ops do too. */
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

for (const abi of ABIS) {
  for (const [name, syscall] of syscallsOf(abi)) {
    test(`fast path: ${abi}_${name} answers every body as the router and zod do`, async () => {
      const k = await pair.kernel();
      try {
        const path = `/v1/${abi}/${name}`;
        for (const body of bodiesFor(syscall, k.handles)) {
          await pair.same(body.slice(0, 200), path, (token) => post(body, json(token)), k);
        }
      } finally {
        await pair.drop(k);
      }
    });
  }
}

/** Requests that differ in all but the body: tokens, content types, framing, sizes. */
function requestVariants(body: string): [string, (token: string) => RequestInit][] {
  const padded = body + " ".repeat(BODY_LIMIT - body.length);
  return [
    ["no token", () => post(body, json())],
    ["unknown token", () => post(body, json("nope"))],
    ["empty token", () => post(body, { ...json(), authorization: "Bearer " })],
    ["lower-case scheme", (t) => post(body, { ...json(), authorization: `bearer ${t}` })],
    ["upper-case scheme", (t) => post(body, { ...json(), authorization: `BEARER ${t}` })],
    ["spaces", (t) => post(body, { ...json(), authorization: `Bearer   ${t}  ` })],
    ["no space", (t) => post(body, { ...json(), authorization: `Bearer${t}` })],
    ["basic", (t) => post(body, { ...json(), authorization: `Basic ${t}` })],
    ["two tokens", (t) => ({
      method: "POST",
      headers: [["authorization", `Bearer ${t}`], ["authorization", `Bearer ${t}`]],
      body,
    })],
    ["text/plain", (t) => post(body, json(t, "text/plain"))],
    ["no content type", (t) => post(body, { authorization: `Bearer ${t}` })],
    ["chunked", (t) => post(chunked(body) as unknown as string, json(t))],
    ["chunked, not JSON", (t) => post(chunked(body + "}") as unknown as string, json(t))],
    ["chunked, empty", (t) => post(chunked("") as unknown as string, json(t))],
    ["no body", (t) => post(undefined, json(t))],
    ["exactly the limit", (t) => post(padded, json(t))],
    ["one byte over", (t) => post(padded + " ", json(t))],
    ["chunked, one byte over", (t) => post(chunked(padded + " ") as unknown as string, json(t))],
    ["over, no token", () => post(padded + " ", json())],
  ];
}

test("fast path: tokens, content types, framing and the size limit as before", async () => {
  const k = await pair.kernel();
  try {
    for (const abi of ABIS) {
      for (const name of ["thread_write_state", "handle_close", "clock_get_monotonic"]) {
        const syscall = syscallsOf(abi).get(name)!;
        const body = JSON.stringify(syscall.example(k.handles as never));
        for (const [label, init] of requestVariants(body)) {
          await pair.same(`${abi}_${name}, ${label}`, `/v1/${abi}/${name}`, init, k);
        }
      }
    }
  } finally {
    await pair.drop(k);
  }
});

test("fast path: paths and methods that are not exactly a syscall go to the router", async () => {
  const k = await pair.kernel();
  try {
    const body = JSON.stringify({ handle: k.handles.closed });
    const paths = [
      "/v1/zx/handle_close?x=1",
      "/v1/zx/handle_close/",
      "/v1/zx/handle%5Fclose",
      "/v1/zx/handle_close%00",
      "//v1/zx/handle_close",
      "/v1/zx//handle_close",
      "/V1/ZX/HANDLE_CLOSE",
      "/v1/zx/Handle_close",
      "/v1/zx/nope",
      "/v1/zx/__proto__",
      "/v1/zx/toString",
      "/v1/zx/constructor",
      "/v1/zx/hasOwnProperty",
      "/v1/zx/",
      "/v1/zx",
      "/v1/xx/handle_close",
      "/v1/mx/vmo_create",
      "/v1/zx/batch",
      "/v1/kernels",
      "/",
    ];
    for (const path of paths) {
      await pair.same(path, path, (token) => post(body, json(token)), k);
      await pair.same(`${path} (no token)`, path, () => post(body, json()), k);
    }
    for (const method of ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]) {
      await pair.same(method, "/v1/zx/handle_close", (token) => ({
        method,
        headers: json(token),
        body: method === "GET" || method === "HEAD" ? undefined : body,
      }), k);
    }
  } finally {
    await pair.drop(k);
  }
});

/** One request written by hand; the reply as text, its Date line removed. */
async function raw(side: Side, request: string): Promise<string> {
  const port = Number(new URL(side.base).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text);
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) break;
    }
    return text.replace(/^date: .*\r\n/im, "");
  } finally {
    conn.close();
  }
}

test("fast path: hand-written requests (lying lengths, chunks) as before", async () => {
  const k = await pair.kernel();
  try {
    const body = JSON.stringify({ handle: k.handles.closed });
    const head = (side: "fast" | "slow", extra: string) =>
      `POST /v1/zx/handle_close HTTP/1.1\r\nhost: x\r\nconnection: close\r\n` +
      `authorization: Bearer ${k.tokens[side]}\r\ncontent-type: application/json\r\n${extra}\r\n`;
    const requests: [string, (side: "fast" | "slow") => string][] = [
      ["a huge Content-Length, a small body", (s) => head(s, "content-length: 2000000\r\n") + body],
      ["Content-Length 0", (s) => head(s, "content-length: 0\r\n")],
      ["Content-Length 0 then bytes", (s) => head(s, "content-length: 0\r\n") + body],
      [
        "chunked by hand",
        (s) =>
          head(s, "transfer-encoding: chunked\r\n") +
          `${(5).toString(16)}\r\n${body.slice(0, 5)}\r\n` +
          `${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`,
      ],
      ["a bad Content-Length", (s) => head(s, "content-length: abc\r\n") + body],
      ["Content-Length with a sign", (s) => head(s, "content-length: +12\r\n") + body],
    ];
    for (const [label, request] of requests) {
      const [fast, slow] = [
        await raw(pair.fast, request("fast")),
        await raw(pair.slow, request("slow")),
      ];
      assert.equal(fast, slow, label);
      assert.match(fast, /^HTTP\/1\.1 \d{3}/, label);
    }
  } finally {
    await pair.drop(k);
  }
});

test("fast path: app.request (no Content-Length, no socket) as before", async () => {
  const k = await pair.kernel();
  try {
    const syscall = syscallsOf("zx").get("thread_write_state")!;
    for (const body of bodiesFor(syscall, k.handles).slice(0, 300)) {
      const [fast, slow] = await Promise.all(
        (["fast", "slow"] as const).map(async (side) =>
          seen(
            await pair[side].app.request(
              "/v1/zx/thread_write_state",
              post(body, json(k.tokens[side])),
            ),
          )
        ),
      );
      assert.deepEqual(fast, slow, body.slice(0, 200));
    }
  } finally {
    await pair.drop(k);
  }
});

/** A general-regs buffer thread_write_state takes as it is (canonical rip, user flags). */
function registers(seed: number, size: number): string {
  const buffer = Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff);
  const view = new DataView(buffer.buffer);
  view.setBigUint64(128, 0x1000n + BigInt(seed), true); // rip
  view.setBigUint64(136, 0x244ed7n, true); // rflags
  if (size > 144) view.setBigUint64(144, 0n, true); // fs_base
  if (size > 152) view.setBigUint64(152, 0n, true); // gs_base
  return buffer.toBase64();
}

test("fast path: written registers are the bytes sent, never the reused decode buffer", async () => {
  const k = await pair.kernel();
  try {
    const read = async (abi: Abi, handle: number) =>
      abi === "zx"
        ? (await pair.ok(k, "thread_read_state", { handle, kind: 0 })).regs
        : (await pair.ok(k, "thread_read_state", { handle, kind: 0 }, "mx")).regs;
    // Threads suspended before their first instruction, each written concurrently.
    const threads: number[] = [];
    for (let i = 0; i < 8; i++) {
      const thread = (await pair.ok(k, "thread_create", { process: k.handles.process, name: "t" }))
        .out;
      await pair.ok(k, "task_suspend", { handle: thread });
      await pair.ok(k, "thread_start", {
        handle: thread,
        thread_entry: "0x1000000",
        stack: "0x2000000",
      });
      threads.push(thread);
    }
    for (const abi of ABIS) {
      // x64 general registers: 160 bytes, Magenta's 144 (no fs_base, gs_base).
      const size = abi === "zx" ? 160 : 144;
      const bodies = threads.map((handle, i) =>
        JSON.stringify({ handle, kind: 0, buffer: registers(i + (abi === "mx" ? 100 : 0), size) })
      );
      for (const side of [pair.fast, pair.slow]) {
        const token = side === pair.fast ? k.tokens.fast : k.tokens.slow;
        const replies = await Promise.all(
          bodies.map((body) => side.send(`/v1/${abi}/thread_write_state`, post(body, json(token)))),
        );
        for (const reply of replies) assert.equal(reply.status, 200, reply.body);
      }
      const written = await Promise.all(threads.map((t) => read(abi, t)));
      // Bytes decoded later (a refused write) must not show through an earlier write.
      const refused = JSON.stringify({
        handle: threads[0],
        kind: 0,
        buffer: registers(200, size),
        [abi === "zx" ? "buffer_size" : "len"]: 4000,
      });
      await pair.same("refused", `/v1/${abi}/thread_write_state`, (t) => post(refused, json(t)), k);
      assert.deepEqual(await Promise.all(threads.map((t) => read(abi, t))), written);
      const rips = new Set(written.map((regs: Record<string, unknown>) => regs.rip ?? regs.pc));
      assert.equal(rips.size, threads.length, "each thread has its own registers");
    }
  } finally {
    await pair.drop(k);
  }
});

test("fast path: a bug in a syscall (an exception it throws) is answered as the router does", async () => {
  const k = await pair.kernel();
  const syscall = syscallsOf("zx").get("clock_get_monotonic")! as { impl: unknown };
  const impl = syscall.impl;
  const error = console.error;
  console.error = () => {}; // both sides log the bug
  try {
    // Not an Error: Hono passes it on and Deno.serve answers (and logs it).
    for (const thrown of [new TypeError("a bug"), "(logged twice on purpose: not an Error)"]) {
      syscall.impl = () => {
        throw thrown;
      };
      const reply = await pair.same(
        String(thrown),
        "/v1/zx/clock_get_monotonic",
        (token) => post("{}", json(token)),
        k,
      );
      assert.equal(reply.status, 500);
    }
  } finally {
    syscall.impl = impl;
    console.error = error;
    await pair.drop(k);
  }
});

test("fast path: an app with middleware is refused (it would not run for syscalls)", async () => {
  const syscalls = {
    routeOf: () => undefined,
    call: () => Promise.reject(),
  } as unknown as SyscallHandler;
  const fetch = (_request: Request) => new Response("router");
  assert.throws(
    () => withSyscallFastPath(syscalls, { fetch, routes: [{ method: "ALL", path: "/*" }] }),
    /\/\* handles every method/,
  );
  const fast = withSyscallFastPath(syscalls, { fetch, routes: [{ method: "GET", path: "/*" }] });
  const reply = await fast(new Request("http://x/v1/zx/handle_close", { method: "POST" }));
  assert.equal(await reply.text(), "router");
});

test("fast path: stop the servers", async () => {
  await pair.stop();
});
