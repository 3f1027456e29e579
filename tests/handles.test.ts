// Handles: zx_handle_close, zx_handle_close_many, zx_handle_duplicate,
// zx_handle_replace, handle values, and resuming a task by closing its
// suspend token. Everything goes through HTTP, as a client would.

import assert from "node:assert/strict";
import { ARCHES, assertStatus, inProcess, type Json, send, TestKernel } from "./helpers.ts";

const RIGHT = {
  DUPLICATE: 0x1,
  TRANSFER: 0x2,
  READ: 0x4,
  WRITE: 0x8,
  INSPECT: 0x8000,
  WAIT: 0x4000,
  SAME_RIGHTS: 0x8000_0000,
};
const THREAD_RIGHTS = 0x4d2cf;
const SUSPEND_TOKEN_RIGHTS = 0x8002;
const OBJ_TYPE_THREAD = 2;
const OBJ_TYPE_SUSPEND_TOKEN = 27;
const STATE_RUNNING = 1;
const STATE_SUSPENDED = 2;
const THREAD_RUNNING = 0x10;
const THREAD_SUSPENDED = 0x20;

/** ZX_INFO_HANDLE_VALID: true if `handle` is live in the caller's process. */
async function isValid(k: TestKernel, handle: number, token = k.token): Promise<boolean> {
  const reply = await k.call("object_get_info", { handle, topic: "ZX_INFO_HANDLE_VALID" }, token);
  if (reply.body.code === 0) return true;
  assertStatus(reply, "ZX_ERR_BAD_HANDLE", 400);
  return false;
}

async function kernelHandleValues(k: TestKernel): Promise<Set<number>> {
  const reply = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  assert.equal(reply.http, 200);
  const values = new Set<number>();
  const walk = (job: Json) => {
    for (const p of job.processes) for (const h of p.handles) values.add(h.handle);
    for (const j of job.jobs) walk(j);
  };
  walk(reply.body.root_job);
  return values;
}

// ---------------------------------------------------------------------------
// zx_handle_close

Deno.test("handle_close: ZX_HANDLE_INVALID (0) is OK and closes nothing", async () => {
  const k = await TestKernel.create();
  const reply = await k.call("handle_close", { handle: 0 });
  assert.equal(reply.http, 200);
  assert.deepEqual(reply.body, { status: "ZX_OK", code: 0 });
  for (const value of Object.values(k.handles)) assert.ok(await isValid(k, value));
});

Deno.test("handle_close: a closed value is BAD_HANDLE, also after new handles are made", async () => {
  const k = await TestKernel.create();
  const copy = await k.dup(k.handles.thread);
  await k.ok("handle_close", { handle: copy });
  assert.equal(await isValid(k, copy), false);
  const again = await k.call("handle_close", { handle: copy });
  assertStatus(again, "ZX_ERR_BAD_HANDLE", 400);
  assert.equal(again.body.code, -11);
  // Slots are never handed out again under the old value.
  const fresh: number[] = [];
  for (let i = 0; i < 20; i++) fresh.push(await k.dup(k.handles.thread));
  assert.ok(!fresh.includes(copy));
  assertStatus(await k.call("handle_close", { handle: copy }), "ZX_ERR_BAD_HANDLE", 400);
  // The source handle is untouched.
  assert.ok(await isValid(k, k.handles.thread));
});

Deno.test("handle_close: values whose low two bits are not 0b11 are BAD_HANDLE", async () => {
  const k = await TestKernel.create();
  const value = k.handles.thread;
  for (const bad of [value & ~3, value & ~1, value & ~2, (value ^ 3) >>> 0]) {
    assert.notEqual(bad & 3, 3);
    assertStatus(await k.call("handle_close", { handle: bad >>> 0 }), "ZX_ERR_BAD_HANDLE", 400);
  }
  // None of those closed the real handle.
  assert.ok(await isValid(k, value));
  assert.equal((await k.basic(value)).type, OBJ_TYPE_THREAD);
});

Deno.test("handle_close: made-up values are BAD_HANDLE", async () => {
  const k = await TestKernel.create();
  const live = await kernelHandleValues(k);
  const candidates = [0x1234_5677, 0xffff_ffff, 3, 7, 0x8000_0003, 0x7fff_ffff];
  for (const bad of candidates.filter((v) => !live.has(v))) {
    assertStatus(await k.call("handle_close", { handle: bad }), "ZX_ERR_BAD_HANDLE", 400);
  }
  for (const value of Object.values(k.handles)) assert.ok(await isValid(k, value));
});

Deno.test("handle_close: a value of another process is BAD_HANDLE there", async () => {
  const k = await TestKernel.create();
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "other" });
  const thread = await k.newThread(proc_handle, "other-main");
  const reply = await send(k.fetcher, `/v1/kernels/${k.id}/tokens`, { thread }, k.token);
  assert.equal(reply.http, 201);
  const other = reply.body.token as string;
  // The other process's table is empty: none of the bootstrap values mean anything there.
  for (const value of Object.values(k.handles)) {
    assert.equal(await isValid(k, value, other), false);
    assertStatus(await k.call("handle_close", { handle: value }, other), "ZX_ERR_BAD_HANDLE", 400);
  }
  await k.ok("handle_close", { handle: 0 }, other);
  // And the bootstrap process still has them all.
  for (const value of Object.values(k.handles)) assert.ok(await isValid(k, value));
});

// ---------------------------------------------------------------------------
// Handle values

Deno.test("handle values: never 0, low two bits always 1, all distinct", async () => {
  for (const arch of ARCHES) {
    const k = await TestKernel.create(inProcess(), { arch });
    const values: number[] = Object.values(k.handles);
    for (let i = 0; i < 16; i++) values.push(await k.dup(k.handles.process));
    const { proc_handle, vmar_handle } = await k.ok("process_create", {
      job: k.handles.root_job,
      name: "p",
    });
    values.push(proc_handle, vmar_handle, await k.newThread());
    const running = await k.runningThread();
    values.push(running, (await k.ok("task_suspend", { handle: running })).token);
    for (const value of values) {
      assert.ok(Number.isInteger(value) && value > 0 && value <= 0xffff_ffff, `${value}`);
      assert.equal(value & 3, 3, `0x${value.toString(16)}`);
    }
    assert.equal(new Set(values).size, values.length);
  }
});

Deno.test("handle values: per kernel; another kernel's value is BAD_HANDLE even with its token", async () => {
  const fetcher = inProcess();
  const a = await TestKernel.create(fetcher);
  const b = await TestKernel.create(fetcher);
  // The same kind of object at the same place in the boot sequence gets different values.
  for (const name of Object.keys(a.handles) as (keyof typeof a.handles)[]) {
    assert.notEqual(a.handles[name], b.handles[name], name);
  }
  const bValues = await kernelHandleValues(b);
  for (const value of Object.values(a.handles).filter((v) => !bValues.has(v))) {
    assert.equal(await isValid(b, value), false);
    assertStatus(await b.call("handle_close", { handle: value }), "ZX_ERR_BAD_HANDLE", 400);
    assertStatus(
      await b.call("handle_duplicate", { handle: value, rights: "ZX_RIGHT_SAME_RIGHTS" }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
  }
  // Kernel A still has its handles; B's token cannot have touched them.
  for (const value of Object.values(a.handles)) assert.ok(await isValid(a, value));
  const aThread = await a.basic(a.handles.thread);
  const bThread = await b.basic(b.handles.thread);
  assert.equal(aThread.type, bThread.type);
});

// ---------------------------------------------------------------------------
// zx_handle_close_many

Deno.test("handle_close_many: skips 0 and closes the rest", async () => {
  const k = await TestKernel.create();
  const h1 = await k.dup(k.handles.thread);
  const h2 = await k.dup(k.handles.process);
  await k.ok("handle_close_many", { handles: [0, h1, 0, h2, 0] });
  assert.equal(await isValid(k, h1), false);
  assert.equal(await isValid(k, h2), false);
  assert.ok(await isValid(k, k.handles.thread));
  await k.ok("handle_close_many", { handles: [] });
  await k.ok("handle_close_many", { handles: [0, 0] });
});

Deno.test("handle_close_many: a bad entry gives BAD_HANDLE but every valid one is closed", async () => {
  const k = await TestKernel.create();
  const h1 = await k.dup(k.handles.thread);
  const h2 = await k.dup(k.handles.thread);
  const h3 = await k.dup(k.handles.thread);
  await k.ok("handle_close", { handle: h3 });
  const reply = await k.call("handle_close_many", { handles: [h1, h3, h2, (h1 & ~3) >>> 0] });
  assertStatus(reply, "ZX_ERR_BAD_HANDLE", 400);
  assert.equal(await isValid(k, h1), false);
  assert.equal(await isValid(k, h2), false);
  assert.ok(await isValid(k, k.handles.thread));
});

Deno.test("handle_close_many: a handle listed twice is BAD_HANDLE the second time", async () => {
  const k = await TestKernel.create();
  const h1 = await k.dup(k.handles.thread);
  const h2 = await k.dup(k.handles.thread);
  assertStatus(
    await k.call("handle_close_many", { handles: [h1, h2, h1] }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  assert.equal(await isValid(k, h1), false);
  assert.equal(await isValid(k, h2), false);
});

Deno.test("handle_close_many: num_handles past the array is INVALID_ARGS; fewer closes fewer", async () => {
  const k = await TestKernel.create();
  const h1 = await k.dup(k.handles.thread);
  const h2 = await k.dup(k.handles.thread);
  const reply = await k.call("handle_close_many", { handles: [h1, h2], num_handles: 3 });
  assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
  // The array could not be copied in, so nothing was closed.
  assert.ok(await isValid(k, h1));
  assert.ok(await isValid(k, h2));
  await k.ok("handle_close_many", { handles: [h1, h2], num_handles: 1 });
  assert.equal(await isValid(k, h1), false);
  assert.ok(await isValid(k, h2));
  await k.ok("handle_close_many", { handles: [h2], num_handles: 0 });
  assert.ok(await isValid(k, h2));
});

Deno.test("handle_close_many: chunks of 64; only the last chunk's status is returned", async () => {
  const k = await TestKernel.create();
  const bad = (k.handles.thread & ~3) >>> 0;
  // A bad value in the first chunk, the second chunk fine: Zircon reports ZX_OK.
  const late = await k.dup(k.handles.thread);
  const early = await k.dup(k.handles.thread);
  const handles = [bad, early, ...new Array(62).fill(0), late];
  assert.equal(handles.length, 65);
  await k.ok("handle_close_many", { handles });
  assert.equal(await isValid(k, early), false);
  assert.equal(await isValid(k, late), false);
  // A bad value in the last chunk is reported.
  const h = await k.dup(k.handles.thread);
  const tail = [h, ...new Array(63).fill(0), bad];
  assertStatus(await k.call("handle_close_many", { handles: tail }), "ZX_ERR_BAD_HANDLE", 400);
  assert.equal(await isValid(k, h), false);
  // Past the array in the second chunk: the first chunk is closed, then INVALID_ARGS.
  const first = await k.dup(k.handles.thread);
  const second = await k.dup(k.handles.thread);
  const short = [first, ...new Array(63).fill(0), second];
  assertStatus(
    await k.call("handle_close_many", { handles: short, num_handles: 70 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assert.equal(await isValid(k, first), false);
  assert.ok(await isValid(k, second));
});

// ---------------------------------------------------------------------------
// zx_handle_duplicate

Deno.test("handle_duplicate: SAME_RIGHTS keeps the rights; the copy is a new value", async () => {
  const k = await TestKernel.create();
  const original = await k.basic(k.handles.thread);
  assert.equal(original.rights, THREAD_RIGHTS);
  for (const rights of ["ZX_RIGHT_SAME_RIGHTS", RIGHT.SAME_RIGHTS, ["ZX_RIGHT_SAME_RIGHTS"]]) {
    const copy = await k.dup(k.handles.thread, rights);
    assert.notEqual(copy, k.handles.thread);
    assert.deepEqual(await k.basic(copy), original);
  }
  assert.ok(await isValid(k, k.handles.thread));
});

Deno.test("handle_duplicate: a subset of the rights, or none at all", async () => {
  const k = await TestKernel.create();
  const original = await k.basic(k.handles.thread);
  const io = await k.dup(k.handles.thread, ["ZX_RIGHT_READ", "ZX_RIGHT_WRITE"]);
  assert.equal((await k.basic(io)).rights, RIGHT.READ | RIGHT.WRITE);
  assert.equal((await k.basic(io)).koid, original.koid);
  const numeric = await k.dup(k.handles.thread, RIGHT.DUPLICATE | RIGHT.INSPECT);
  assert.equal((await k.basic(numeric)).rights, RIGHT.DUPLICATE | RIGHT.INSPECT);
  for (const none of [0, "ZX_RIGHT_NONE"]) {
    const zero = await k.dup(k.handles.thread, none);
    assert.equal((await k.basic(zero)).rights, 0);
  }
  // Duplicating a copy that itself has DUPLICATE works, with a further subset.
  const again = await k.dup(numeric, RIGHT.INSPECT);
  assert.equal((await k.basic(again)).rights, RIGHT.INSPECT);
});

Deno.test("handle_duplicate: rights beyond the source are INVALID_ARGS and the source is kept", async () => {
  const k = await TestKernel.create();
  const small = await k.dup(k.handles.thread, RIGHT.DUPLICATE | RIGHT.READ);
  for (const rights of [RIGHT.DUPLICATE | RIGHT.WRITE, RIGHT.WAIT, 0x7fff_ffff]) {
    const reply = await k.call("handle_duplicate", { handle: small, rights });
    assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
    assert.equal(reply.body.code, -10);
    assert.equal(reply.body.out, undefined);
  }
  // SAME_RIGHTS combined with another bit is not the sentinel any more.
  assertStatus(
    await k.call("handle_duplicate", {
      handle: small,
      rights: ["ZX_RIGHT_SAME_RIGHTS", "ZX_RIGHT_READ"],
    }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assert.ok(await isValid(k, small));
  assert.equal((await k.basic(small)).rights, RIGHT.DUPLICATE | RIGHT.READ);
});

Deno.test("handle_duplicate: needs ZX_RIGHT_DUPLICATE (checked before the rights subset)", async () => {
  const k = await TestKernel.create();
  // handle_replace needs no rights, so it can take DUPLICATE away.
  const noDup = await k.reduced(k.handles.thread, THREAD_RIGHTS & ~RIGHT.DUPLICATE);
  assert.equal((await k.basic(noDup)).rights, THREAD_RIGHTS & ~RIGHT.DUPLICATE);
  for (const rights of ["ZX_RIGHT_SAME_RIGHTS", 0, RIGHT.READ, RIGHT.DUPLICATE | 0x100_0000]) {
    const reply = await k.call("handle_duplicate", { handle: noDup, rights });
    assertStatus(reply, "ZX_ERR_ACCESS_DENIED", 403);
    assert.equal(reply.body.code, -30);
  }
  assert.ok(await isValid(k, noDup));
  // An invalid value is BAD_HANDLE before anything else.
  const bad = (noDup & ~3) >>> 0;
  assertStatus(
    await k.call("handle_duplicate", { handle: bad, rights: 0x7fff_ffff }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
});

// ---------------------------------------------------------------------------
// zx_handle_replace

Deno.test("handle_replace: needs no rights; the source is closed and the new value differs", async () => {
  const k = await TestKernel.create();
  const original = await k.basic(k.handles.process);
  const zero = await k.reduced(k.handles.process, 0);
  assert.equal((await k.basic(zero)).rights, 0);
  // A handle with no rights at all can still be replaced.
  const same = (await k.ok("handle_replace", { handle: zero, rights: "ZX_RIGHT_SAME_RIGHTS" })).out;
  assert.notEqual(same, zero);
  assert.equal(await isValid(k, zero), false);
  assert.deepEqual(await k.basic(same), { ...original, rights: 0 });
  const copy = await k.dup(k.handles.process);
  const fewer = (await k.ok("handle_replace", { handle: copy, rights: RIGHT.INSPECT })).out;
  assert.notEqual(fewer, copy);
  assert.equal(await isValid(k, copy), false);
  assert.deepEqual(await k.basic(fewer), { ...original, rights: RIGHT.INSPECT });
  const kept = (await k.ok("handle_replace", { handle: fewer, rights: RIGHT.SAME_RIGHTS })).out;
  assert.equal((await k.basic(kept)).rights, RIGHT.INSPECT);
});

Deno.test("handle_replace: rights beyond the source are INVALID_ARGS and the source is closed anyway", async () => {
  const k = await TestKernel.create();
  const small = await k.reduced(k.handles.thread, RIGHT.INSPECT);
  const reply = await k.call("handle_replace", {
    handle: small,
    rights: RIGHT.INSPECT | RIGHT.WRITE,
  });
  assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
  assert.equal(reply.body.out, undefined);
  assert.equal(await isValid(k, small), false);
  assertStatus(await k.call("handle_close", { handle: small }), "ZX_ERR_BAD_HANDLE", 400);
  // A stale value is BAD_HANDLE.
  assertStatus(
    await k.call("handle_replace", { handle: small, rights: 0 }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  // The original is unaffected.
  assert.equal((await k.basic(k.handles.thread)).rights, THREAD_RIGHTS);
});

// ---------------------------------------------------------------------------
// Suspend tokens: closing the last handle resumes the task

for (const arch of ARCHES) {
  Deno.test(`[${arch}] closing the suspend token resumes the thread`, async () => {
    const k = await TestKernel.create(inProcess(), { arch });
    const thread = await k.runningThread();
    const { token } = await k.ok("task_suspend", { handle: thread });
    const info = await k.basic(token);
    assert.equal(info.type, OBJ_TYPE_SUSPEND_TOKEN);
    assert.equal(info.rights, SUSPEND_TOKEN_RIGHTS);
    assert.equal(await k.threadState(thread), STATE_SUSPENDED);
    assert.equal(await k.signals(thread) & (THREAD_RUNNING | THREAD_SUSPENDED), THREAD_SUSPENDED);
    await k.ok("handle_close", { handle: token });
    assert.equal(await k.threadState(thread), STATE_RUNNING);
    assert.equal(await k.signals(thread) & (THREAD_RUNNING | THREAD_SUSPENDED), THREAD_RUNNING);
  });

  Deno.test(`[${arch}] a replaced token keeps the thread suspended until it is closed`, async () => {
    const k = await TestKernel.create(inProcess(), { arch });
    const thread = await k.runningThread();
    const { token } = await k.ok("task_suspend", { handle: thread });
    // Tokens carry TRANSFER|INSPECT only: they cannot be duplicated.
    assertStatus(
      await k.call("handle_duplicate", { handle: token, rights: "ZX_RIGHT_SAME_RIGHTS" }),
      "ZX_ERR_ACCESS_DENIED",
      403,
    );
    // Replacing closes the old value, but the token object lives on.
    const moved = (await k.ok("handle_replace", { handle: token, rights: RIGHT.INSPECT })).out;
    assert.equal(await isValid(k, token), false);
    assert.equal(await k.threadState(thread), STATE_SUSPENDED);
    assert.equal((await k.basic(moved)).rights, RIGHT.INSPECT);
    // A failed replace closes the source: that is the last handle, so the thread resumes.
    assertStatus(
      await k.call("handle_replace", { handle: moved, rights: RIGHT.WRITE }),
      "ZX_ERR_INVALID_ARGS",
      400,
    );
    assert.equal(await k.threadState(thread), STATE_RUNNING);
  });

  Deno.test(`[${arch}] two tokens: the thread resumes only when both are closed`, async () => {
    const k = await TestKernel.create(inProcess(), { arch });
    const thread = await k.runningThread();
    const first = (await k.ok("task_suspend", { handle: thread })).token;
    const second = (await k.ok("task_suspend_token", { handle: thread })).token;
    assert.notEqual(first, second);
    assert.notEqual((await k.basic(first)).koid, (await k.basic(second)).koid);
    await k.ok("handle_close", { handle: first });
    assert.equal(await k.threadState(thread), STATE_SUSPENDED);
    assert.equal(await k.signals(thread) & THREAD_RUNNING, 0);
    // close_many closes the last one and resumes.
    await k.ok("handle_close_many", { handles: [0, second] });
    assert.equal(await k.threadState(thread), STATE_RUNNING);
  });
}

Deno.test("closing a token resumes a thread a client drives", async () => {
  const k = await TestKernel.create();
  const worker = await k.newThread();
  const workerToken = await k.clientToken(worker);
  await k.ok("clock_get_monotonic", {}, workerToken);
  const { token } = await k.ok("task_suspend", { handle: worker });
  // A suspended thread makes no syscalls.
  assertStatus(await k.call("clock_get_monotonic", {}, workerToken), "ZX_ERR_BAD_STATE", 409);
  await k.ok("handle_close", { handle: token });
  await k.ok("clock_get_monotonic", {}, workerToken);
});
