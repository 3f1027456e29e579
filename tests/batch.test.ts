// POST /v1/{abi}/batch: every result is byte for byte the body (and HTTP
// status) the single route answers for the same call at the same point. The
// proof: a sequence of calls made one at a time in a manual kernel, and the
// same calls as one batch in a fresh kernel created the same way (manual
// kernels repeat themselves, handle values and koids included), must give
// the same bytes; failures of every kind, blocking calls and the caller's
// death included. Then the batch's own rules: modes, limits, request-level
// errors and the one-request-at-a-time rule.

import assert from "node:assert/strict";
import { ZxsimClient, ZxsimError } from "../client/zxsim.ts";
import { ERR } from "../kernel/status.ts";
import { syscallsOf } from "../kernel/syscalls/table.ts";
import { buildCollection } from "../postman/build.ts";
import type { Folder } from "../postman/steps.ts";
import { ABIS } from "../routes/abi.ts";
import { createApp } from "../routes/app.ts";
import { BATCH_NAME, batchReplySchema, MAX_BATCH_CALLS } from "../routes/batch.ts";
import { BODY_LIMIT } from "../routes/http.ts";
import { type Fetcher, inProcess, type Json } from "./helpers.ts";

interface Raw {
  readonly http: number;
  readonly text: string;
}

async function post(fetcher: Fetcher, path: string, body: unknown, token?: string): Promise<Raw> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetcher(path, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { http: response.status, text: await response.text() };
}

interface Kernel {
  readonly id: string;
  readonly token: string;
  readonly handles: Json;
}

const MANUAL = { arch: "x64", boot_options: { scheduler: "manual" } };

async function kernel(fetcher: Fetcher, body: Json = MANUAL): Promise<Kernel> {
  const reply = await post(fetcher, "/v1/kernels", body);
  assert.equal(reply.http, 201, reply.text);
  const { kernel: id, token, handles } = JSON.parse(reply.text);
  return { id, token, handles };
}

interface Call {
  readonly name: string;
  readonly args?: unknown;
}

/** One call of a sequence, given the bootstrap handles and the earlier replies (parsed). */
type Step = (handles: Json, replies: Json[]) => Call;

const call = (name: string, args?: unknown): Call => args === undefined ? { name } : { name, args };

/**
 * Runs `steps` one request each as `k`'s bootstrap thread: the calls made
 * (their arguments resolved from earlier replies) and each raw reply.
 */
async function oneAtATime(fetcher: Fetcher, k: Kernel, abi: string, steps: readonly Step[]) {
  const calls: Call[] = [];
  const replies: Raw[] = [];
  const parsed: Json[] = [];
  for (const step of steps) {
    const made = step(k.handles, parsed);
    // Left out, `args` stands for an empty body.
    const body = made.args === undefined ? "" : JSON.stringify(made.args);
    const reply = await post(fetcher, `/v1/${abi}/${made.name}`, body, k.token);
    calls.push(made);
    replies.push(reply);
    parsed.push(JSON.parse(reply.text));
  }
  return { calls, replies };
}

/** The batch reply text that `results` (single replies) make, as the server must spell it. */
function expectedBatch(abi: string, ended: string, results: readonly Raw[]): string {
  const items = results.map((r) => `{"http":${r.http},"body":${r.text}}`).join(",");
  return `{"status":"${abi.toUpperCase()}_OK","code":0,"ended":"${ended}","results":[${items}]}`;
}

const ENTRY = "0x1000000", STACK = "0x2000000";
const rw = ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_SPECIFIC"];
const rx = ["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE", "ZX_VM_SPECIFIC"];

// Reply indexes the later steps name (the test checks each names the call it should).
const VMO = 1,
  EXEC = 3,
  STACK_VMO = 5,
  WORKER = 7,
  SUSPEND = 8,
  READ_ONLY = 22,
  CRASHER = 32,
  CRASHER_THREAD = 33,
  CRASHER_WAIT = 35;

/** A session's worth of calls: set-up, successes, failures of every kind, blocking, death. */
const SEQUENCE: readonly Step[] = [
  () => call("clock_get_monotonic"),
  () => call("vmo_create", { size: 4096 }),
  (_, r) => call("vmo_write", { handle: r[VMO].out, buffer: "6/4=" }),
  (_, r) => call("vmo_replace_as_executable", { handle: r[VMO].out, vmex: 0 }),
  (h, r) =>
    call("vmar_map", {
      handle: h.vmar,
      options: rx,
      vmar_offset: "0xe00000",
      vmo: r[EXEC].out,
      vmo_offset: 0,
      len: 4096,
    }),
  () => call("vmo_create", { size: 65536 }),
  (h, r) =>
    call("vmar_map", {
      handle: h.vmar,
      options: rw,
      vmar_offset: "0x1df0000",
      vmo: r[STACK_VMO].out,
      vmo_offset: 0,
      len: 65536,
    }),
  (h) => call("thread_create", { process: h.process, name: "worker" }),
  (_, r) => call("task_suspend", { handle: r[WORKER].out }),
  (_, r) =>
    call("thread_start", {
      handle: r[WORKER].out,
      thread_entry: ENTRY,
      stack: STACK,
      arg1: 1,
      arg2: 2,
    }),
  (_, r) => call("thread_write_state", { handle: r[WORKER].out, kind: 0, regs: { rax: 42 } }),
  (_, r) =>
    call("thread_read_state", { handle: r[WORKER].out, kind: "ZX_THREAD_STATE_GENERAL_REGS" }),
  // 12: failures of every kind. An unknown name (404).
  () => call("thread_frobnicate", {}),
  () => call("vmo_create"),
  // Bad arguments (400): a wrong type, an unknown field, not an object, null, bad base64.
  () => call("handle_close", { handle: "seven" }),
  () => call("handle_close", { handle: 0, hnadle: 1 }),
  () => call("handle_close", [1, 2]),
  () => call("handle_close", null),
  (_, r) => call("thread_write_state", { handle: r[WORKER].out, kind: 0, buffer: "***" }),
  // Zircon statuses: INVALID_ARGS, WRONG_TYPE, BAD_HANDLE, ACCESS_DENIED, BUFFER_TOO_SMALL.
  (_, r) =>
    call("thread_write_state", {
      handle: r[WORKER].out,
      kind: 0,
      regs: { rip: "0xffffff8000000000" },
    }),
  (h) => call("thread_read_state", { handle: h.process, kind: 0 }),
  () => call("handle_close", { handle: 12 }),
  (_, r) => call("handle_duplicate", { handle: r[WORKER].out, rights: "ZX_RIGHT_READ" }),
  (_, r) => call("thread_write_state", { handle: r[READ_ONLY].out, kind: 0, regs: { rax: 1 } }),
  (_, r) => call("thread_read_state", { handle: r[WORKER].out, kind: 0, buffer_size: 8 }),
  // The worker resumes (its spin loop runs whenever the kernel is driven): BAD_STATE.
  (_, r) => call("handle_close", { handle: r[SUSPEND].token }),
  (_, r) => call("thread_read_state", { handle: r[WORKER].out, kind: 0 }),
  (_, r) => call("task_kill", { handle: r[WORKER].out }),
  () => call("vmo_create", { size: "0xffffffffffffffff" }),
  (h) => call("task_suspend", { handle: h.thread }),
  // Blocking calls: the manual kernel runs its threads while the caller waits.
  () => call("nanosleep", { deadline: 100_000 }),
  (_, r) =>
    call("object_wait_one", {
      handle: r[WORKER].out,
      signals: "ZX_THREAD_TERMINATED",
      deadline: 200_000,
    }),
  (h) => call("process_create", { job: h.root_job, name: "crasher" }),
  (_, r) => call("thread_create", { process: r[CRASHER].proc_handle, name: "main" }),
  (_, r) =>
    call("process_start", {
      handle: r[CRASHER].proc_handle,
      thread: r[CRASHER_THREAD].out,
      entry: "0x3000000",
      stack: STACK,
    }),
  (_, r) =>
    call("object_wait_one", {
      handle: r[CRASHER].proc_handle,
      signals: "ZX_TASK_TERMINATED",
      deadline: "ZX_TIME_INFINITE",
    }),
  (_, r) => call("object_get_info", { handle: r[CRASHER].proc_handle, topic: "ZX_INFO_PROCESS" }),
  () => call("debug_write", { buffer: btoa("hello from a batch\n") }),
  () => call("clock_get_monotonic"),
  // The caller dies: one at a time, the next call is 409; a batch ends here.
  () => call("thread_exit"),
  () => call("clock_get_monotonic"),
];
const EXIT = SEQUENCE.length - 2;

Deno.test("batch: every result is byte for byte the single route's reply at that point", async () => {
  const fetcher = inProcess();
  const single = await oneAtATime(fetcher, await kernel(fetcher), "zx", SEQUENCE);
  const { calls, replies } = single;
  // The sequence does what it says: every kind of failure is in it.
  const statuses = new Set(replies.map((r) => `${r.http} ${JSON.parse(r.text).status}`));
  for (
    const expected of [
      "200 ZX_OK",
      "404 ZX_ERR_BAD_SYSCALL",
      "400 ZX_ERR_INVALID_ARGS",
      "400 ZX_ERR_WRONG_TYPE",
      "400 ZX_ERR_BAD_HANDLE",
      "403 ZX_ERR_ACCESS_DENIED",
      "400 ZX_ERR_BUFFER_TOO_SMALL",
      "409 ZX_ERR_BAD_STATE",
      "504 ZX_ERR_TIMED_OUT",
      "400 ZX_ERR_OUT_OF_RANGE",
      "501 ZX_ERR_NOT_SUPPORTED",
    ]
  ) {
    assert.ok(statuses.has(expected), `${expected} not in ${[...statuses]}`);
  }
  const named = [[VMO, "vmo_create"], [EXEC, "vmo_replace_as_executable"], [
    STACK_VMO,
    "vmo_create",
  ]];
  named.push([WORKER, "thread_create"], [SUSPEND, "task_suspend"], [READ_ONLY, "handle_duplicate"]);
  named.push([CRASHER, "process_create"], [CRASHER_THREAD, "thread_create"]);
  named.push([CRASHER_WAIT, "object_wait_one"], [EXIT, "thread_exit"]);
  for (const [index, name] of named) assert.equal(calls[index as number].name, name, `${index}`);
  assert.equal(JSON.parse(replies[EXIT].text).status, "ZX_OK");
  assert.match(replies[EXIT + 1].text, /"ZX_ERR_BAD_STATE".*is dead/);
  const crash = JSON.parse(replies[CRASHER_WAIT].text);
  assert.equal(crash.observed & 8, 8, "the crasher terminated while its waiter was driven");

  // Continue: every call runs until the caller dies.
  const k2 = await kernel(fetcher);
  const batch = await post(fetcher, "/v1/zx/batch", { calls, mode: "continue" }, k2.token);
  assert.equal(batch.http, 200);
  assert.equal(batch.text, expectedBatch("zx", "thread_dead", replies.slice(0, EXIT + 1)));

  // Stop on error (the default): up to and including the first failure.
  const k3 = await kernel(fetcher);
  const stopped = await post(fetcher, "/v1/zx/batch", { calls }, k3.token);
  const firstFailure = replies.findIndex((r) => r.http !== 200);
  assert.equal(firstFailure, 12);
  assert.equal(stopped.http, 200);
  assert.equal(stopped.text, expectedBatch("zx", "error", replies.slice(0, firstFailure + 1)));
  // Its kernel was left where the single run was after those calls: carry on one at a time.
  const next = await post(fetcher, `/v1/zx/${calls[13].name}`, calls[13].args, k3.token);
  assert.deepEqual(next, replies[13]);

  // The debug logs agree too: the same crash report, the same line.
  const log = async (k: Kernel) =>
    (await fetcher(`/v1/kernels/${k.id}/debuglog`, {
      headers: { authorization: `Bearer ${k.token}` },
    })).text();
  assert.equal(await log(k2), await log(await kernelAfterSingles()));

  async function kernelAfterSingles() {
    const k = await kernel(fetcher);
    await oneAtATime(fetcher, k, "zx", SEQUENCE);
    return k;
  }
});

/** Magenta spellings and layouts, and a syscall of the other ABI. */
const MX_SEQUENCE: readonly Step[] = [
  (h) => call("thread_create", { process: h.process, name: "worker" }),
  (_, r) => call("task_suspend", { handle: r[0].out }),
  (_, r) => call("thread_start", { handle: r[0].out, thread_entry: ENTRY, stack: STACK }),
  (_, r) => call("thread_read_state", { handle: r[0].out, kind: "MX_THREAD_STATE_REGSET0" }),
  (_, r) => call("thread_write_state", { handle: r[0].out, kind: 0, buffer: "AAAA" }),
  (_, r) => call("thread_write_state", { handle: r[0].out, kind: "MX_THREAD_STATE_REGSET1" }),
  () => call("vmo_create", { size: 4096 }),
  () => call("handle_close", { handle: 12 }),
  () => call("clock_get_monotonic", { extra: true }),
  (h) => call("task_suspend", { handle: h.thread }),
  () => call("clock_get_monotonic"),
];

Deno.test("batch: /v1/mx/batch answers with MX_ spellings, byte for byte as /v1/mx/{name}", async () => {
  const fetcher = inProcess();
  const { calls, replies } = await oneAtATime(fetcher, await kernel(fetcher), "mx", MX_SEQUENCE);
  assert.match(replies[4].text, /"MX_ERR_INVALID_ARGS"/);
  assert.equal(replies[6].http, 404);
  assert.match(replies[6].text, /"MX_ERR_BAD_SYSCALL".*mx_vmo_create/);
  assert.match(replies[9].text, /"MX_ERR_NOT_SUPPORTED"/);
  const k2 = await kernel(fetcher);
  const batch = await post(fetcher, "/v1/mx/batch", { calls, mode: "continue" }, k2.token);
  assert.equal(batch.text, expectedBatch("mx", "complete", replies));
});

Deno.test("batch: no syscall is called batch, and the route is not a syscall", async () => {
  for (const abi of ABIS) assert.equal(syscallsOf(abi).has(BATCH_NAME), false, abi);
  const fetcher = inProcess();
  const k = await kernel(fetcher);
  const empty = await post(fetcher, "/v1/zx/batch", { calls: [] }, k.token);
  assert.equal(empty.text, expectedBatch("zx", "complete", []));
  // Batches do not nest: inside one, "batch" is an unknown syscall like any other.
  const nested = await post(fetcher, "/v1/mx/batch", { calls: [{ name: BATCH_NAME }] }, k.token);
  const unknown = await post(fetcher, "/v1/mx/thread_frobnicate", {}, k.token);
  assert.equal(
    nested.text,
    expectedBatch("mx", "error", [{
      http: 404,
      text: unknown.text.replace("mx_thread_frobnicate", "mx_batch"),
    }]),
  );
  // An empty body has no `calls`: the batch's own 400.
  const noCalls = await post(fetcher, "/v1/zx/batch", "", k.token);
  assert.equal(noCalls.http, 400);
  assert.match(JSON.parse(noCalls.text).message, /^calls: /);
});

Deno.test("batch: a bad request is one 400, 401 or 413 for the whole batch, nothing run", async () => {
  const fetcher = inProcess();
  const k = await kernel(fetcher);
  const vmo = { name: "vmo_create", args: { size: 4096 } };
  const refused = async (body: unknown, http: number, message: RegExp, token = k.token) => {
    for (const abi of ABIS) {
      const reply = await post(fetcher, `/v1/${abi}/batch`, body, token);
      assert.equal(reply.http, http, reply.text);
      const parsed = JSON.parse(reply.text);
      assert.deepEqual(Object.keys(parsed), ["status", "code", "message"]);
      assert.match(parsed.status, new RegExp(`^${abi.toUpperCase()}_ERR_`));
      assert.match(parsed.message, message);
    }
  };
  await refused({ calls: [vmo] }, 401, /bearer token/, "nope");
  await refused("{", 400, /not valid JSON/);
  await refused([vmo], 400, /^body: /);
  await refused({ calls: vmo }, 400, /^calls: /);
  await refused({ calls: [vmo, { name: 7 }] }, 400, /^calls\.1\.name: /);
  await refused(
    { calls: [vmo, { name: "x", arg: {} }] },
    400,
    /^calls\.1: unknown field\(s\) "arg"/,
  );
  await refused({ calls: [vmo], mode: "stop" }, 400, /^mode: .*stop_on_error.*continue/);
  await refused({ calls: [vmo], extra: 1 }, 400, /^body: unknown field\(s\) "extra"/);
  const tooMany = Array.from({ length: MAX_BATCH_CALLS + 1 }, () => ({ name: "handle_close" }));
  await refused({ calls: tooMany }, 400, new RegExp(`^calls: .*${MAX_BATCH_CALLS}`));
  const huge = { calls: [{ name: "debug_write", args: { buffer: "A".repeat(BODY_LIMIT) } }] };
  await refused(huge, 413, /larger than/);
  // None of them ran a call: the first VMO of this kernel is still to come.
  const first = await post(fetcher, "/v1/zx/vmo_create", { size: 1 }, k.token);
  const k2 = await kernel(fetcher);
  assert.deepEqual(first, await post(fetcher, "/v1/zx/vmo_create", { size: 1 }, k2.token));
});

Deno.test("batch: the cap is 10,000 calls in one request", async () => {
  const fetcher = inProcess();
  const k = await kernel(fetcher);
  const calls = Array.from({ length: MAX_BATCH_CALLS }, () => ({
    name: "handle_close",
    args: { handle: 0 },
  }));
  const reply = await post(fetcher, "/v1/zx/batch", { calls }, k.token);
  assert.equal(reply.http, 200);
  const { ended, results } = JSON.parse(reply.text);
  assert.equal(ended, "complete");
  assert.equal(results.length, MAX_BATCH_CALLS);
  assert.deepEqual(results[9_999], { http: 200, body: { status: "ZX_OK", code: 0 } });
});

/** Resolves after `ms` of wall time. */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("batch: the thread is busy for the whole batch; other requests with its token get 409", async () => {
  const fetcher = inProcess();
  const k = await kernel(fetcher, { arch: "x64" });
  const other = JSON.parse(
    (await post(
      fetcher,
      "/v1/zx/thread_create",
      { process: k.handles.process, name: "other" },
      k.token,
    ))
      .text,
  ).out;
  const issued = await post(fetcher, `/v1/kernels/${k.id}/tokens`, { thread: other }, k.token);
  const otherToken = JSON.parse(issued.text).token;
  const { time } = JSON.parse(
    (await post(fetcher, "/v1/zx/clock_get_monotonic", {}, k.token)).text,
  );
  const soon = time + 300_000_000;
  const running = post(fetcher, "/v1/zx/batch", {
    calls: [
      { name: "vmo_create", args: { size: 4096 } },
      { name: "nanosleep", args: { deadline: soon } },
      { name: "clock_get_monotonic" },
    ],
  }, k.token);
  await sleep(50);
  const single = await post(fetcher, "/v1/zx/clock_get_monotonic", {}, k.token);
  assert.equal(single.http, 409);
  assert.match(single.text, /"ZX_ERR_BAD_STATE".*is busy: one syscall at a time per thread/);
  const second = await post(fetcher, "/v1/zx/batch", { calls: [{ name: "vmo_create" }] }, k.token);
  assert.equal(second.http, 409);
  assert.match(second.text, /"ZX_ERR_BAD_STATE".*is busy/);
  // Another thread's token is not held up.
  const free = await post(fetcher, "/v1/zx/clock_get_monotonic", {}, otherToken);
  assert.equal(free.http, 200);
  const done = JSON.parse((await running).text);
  assert.equal(done.ended, "complete");
  assert.deepEqual(done.results.map((r: Json) => r.http), [200, 200, 200]);
  assert.ok(done.results[2].body.time >= soon);

  // The other way round: a blocking single call holds the thread; a batch is refused whole.
  const blocking = post(fetcher, "/v1/zx/nanosleep", { deadline: soon + 200_000_000 }, k.token);
  await sleep(50);
  const refused = await post(
    fetcher,
    "/v1/zx/batch",
    { calls: [{ name: "thread_exit" }] },
    k.token,
  );
  assert.equal(refused.http, 409);
  assert.equal((await blocking).http, 200);
  // The refused batch ran nothing: the thread is alive.
  assert.equal((await post(fetcher, "/v1/zx/clock_get_monotonic", {}, k.token)).http, 200);
});

Deno.test("batch: deleting the kernel under a blocked batch ends it: thread_dead", async () => {
  const fetcher = inProcess();
  const k = await kernel(fetcher, { arch: "x64" });
  const running = post(fetcher, "/v1/zx/batch", {
    calls: [
      {
        name: "object_wait_one",
        args: {
          handle: k.handles.process,
          signals: "ZX_TASK_TERMINATED",
          deadline: "ZX_TIME_INFINITE",
        },
      },
      { name: "clock_get_monotonic" },
    ],
    mode: "continue",
  }, k.token);
  await sleep(50);
  const deleted = await fetcher(`/v1/kernels/${k.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${k.token}` },
  });
  assert.equal(deleted.status, 204);
  const done = JSON.parse((await running).text);
  assert.equal(done.ended, "thread_dead");
  assert.equal(done.results.length, 1);
});

Deno.test("batch: stop_on_error stops at the first failure; continue runs on", async () => {
  const fetcher = inProcess();
  const k = await kernel(fetcher);
  const calls = [
    { name: "handle_close", args: { handle: 0 } },
    { name: "handle_close", args: { handle: 4 } },
    { name: "nope" },
    { name: "clock_get_monotonic" },
  ];
  const stop = JSON.parse(
    (await post(fetcher, "/v1/zx/batch", { calls, mode: "stop_on_error" }, k.token)).text,
  );
  assert.equal(stop.ended, "error");
  assert.deepEqual(stop.results.map((r: Json) => r.http), [200, 400]);
  const go = JSON.parse(
    (await post(fetcher, "/v1/zx/batch", { calls, mode: "continue" }, k.token)).text,
  );
  assert.equal(go.ended, "complete");
  assert.deepEqual(go.results.map((r: Json) => r.http), [200, 400, 404, 200]);
  assert.equal(go.results[2].body.status, "ZX_ERR_BAD_SYSCALL");
});

Deno.test("batch: the typed client, k.batch, gives outs or the ZxsimError each call would have", async () => {
  const { app } = createApp();
  const client = new ZxsimClient(
    "http://zxsim.test",
    async (url, init) => await app.request(url, init),
  );
  const k = await client.createKernel();
  const reply = await k.batch([
    { name: "vmo_create", args: { size: 4096 } },
    { name: "thread_read_state", args: { handle: 0, kind: "ZX_THREAD_STATE_GENERAL_REGS" } },
    { name: "clock_get_monotonic" },
  ], { mode: "continue" });
  assert.equal(reply.ended, "complete");
  if (reply.ended !== "complete") return;
  const [vmo, read, clock] = reply.results;
  assert.ok(vmo.ok && clock.ok && !read.ok);
  const handle: number = vmo.outs.out; // typed from vmo_create's outs
  assert.equal(handle & 3, 3);
  assert.equal(typeof clock.outs.time, "number");
  assert.ok(read.error instanceof ZxsimError);
  assert.equal(read.error.status, ERR.BAD_HANDLE);
  assert.equal(read.error.statusName, "ZX_ERR_BAD_HANDLE");
  assert.equal(read.http, 400);
  // The same call alone throws the same error.
  await assert.rejects(
    () => k.zx.thread_read_state({ handle: 0, kind: "ZX_THREAD_STATE_GENERAL_REGS" }),
    (error: ZxsimError) => error.message === read.error.message,
  );

  // stop_on_error (the default) and the Magenta ABI.
  const stopped = await k.batch([
    { name: "handle_close", args: { handle: 4 } },
    { name: "thread_exit" },
  ], { abi: "mx" });
  assert.equal(stopped.ended, "error");
  assert.equal(stopped.results.length, 1);
  assert.equal(stopped.results[0]?.ok, false);
  if (stopped.results[0]?.ok === false) {
    assert.equal(stopped.results[0].error.statusName, "MX_ERR_BAD_HANDLE");
  }

  // A bad batch as a whole throws, like a failed call.
  await assert.rejects(
    () => k.batch(Array.from({ length: MAX_BATCH_CALLS + 1 }, () => ({ name: "thread_exit" }))),
    (error: ZxsimError) => error.status === ERR.INVALID_ARGS && error.http === 400,
  );

  // Names and arguments are typed from the syscall table (checked by deno check, never run).
  const _typed = () => {
    // @ts-expect-error: not a zx syscall
    k.batch([{ name: "thread_frobnicate" }]);
    // @ts-expect-error: vmo_create needs its args
    k.batch([{ name: "vmo_create" }]);
    // @ts-expect-error: a size is a number or a string
    k.batch([{ name: "vmo_create", args: { size: true } }]);
    // @ts-expect-error: no vmo_create in the Magenta ABI
    k.batch([{ name: "vmo_create", args: { size: 1 } }], { abi: "mx" });
  };
});

Deno.test("batch: the documented worked examples are real batch replies", async () => {
  const { app } = createApp();
  const doc = await (await app.request("/openapi.json")).json();
  for (const abi of ABIS) {
    const op = doc.paths[`/v1/${abi}/${BATCH_NAME}`].post;
    assert.equal(op.operationId, `${abi}_${BATCH_NAME}`);
    const ok = op.responses["200"].content["application/json"].examples.ok.value;
    const parsed = batchReplySchema.safeParse(ok);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(ok.status, `${abi.toUpperCase()}_OK`);
    // The example shows a success, a Zircon error and an unknown syscall.
    const https = ok.results.map((r: Json) => r.http);
    assert.ok(https.includes(200) && https.includes(400) && https.includes(404), `${https}`);
    const request = op.requestBody.content["application/json"].examples.ok.value;
    assert.equal(ok.results.length, request.calls.length);
    const error = op.responses["400"].content["application/json"].examples.error.value;
    assert.match(error.message, /^calls\.0: unknown field/);
  }
});

Deno.test("batch: postman/build.ts refuses batch steps the syscall table does not back", () => {
  const step = (batch: object[], more: object = {}) =>
    [{
      name: "f",
      description: "d",
      steps: [{
        name: "s",
        shows: "x",
        abi: "zx",
        as: "x64",
        reply: "ok",
        ended: "complete",
        batch,
        ...more,
      }],
    }] as unknown as Folder[];
  const clock = { syscall: "clock_get_monotonic", reply: "ok" };
  assert.throws(
    () => buildCollection(step([{ syscall: "thread_frobnicate", reply: "ok" }])),
    /zx_thread_frobnicate is not in the syscall table/,
  );
  assert.throws(
    () =>
      buildCollection(step([{ syscall: "clock_get_monotonic", reply: { error: "BAD_SYSCALL" } }])),
    /exists: it cannot be BAD_SYSCALL/,
  );
  assert.throws(
    () =>
      buildCollection(
        step([{ syscall: "handle_close", args: { handle: 0 }, reply: { error: "WRONG_TYPE" } }]),
      ),
    /does not document WRONG_TYPE/,
  );
  assert.throws(
    () =>
      buildCollection(step([clock, { syscall: "handle_close", args: { hnadle: 0 }, reply: "ok" }])),
    /has no parameter hnadle/,
  );
  // Two calls of which only one runs cannot be a "complete" batch.
  assert.throws(() => buildCollection(step([clock, clock], { runs: 1 })), /do not end the batch/);
});
