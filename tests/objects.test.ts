// Objects: zx_object_get_info, zx_object_get_property,
// zx_object_set_property, zx_object_wait_one, zx_clock_get_monotonic, and
// the client-thread tokens (POST /v1/kernels/{id}/tokens) that blocking
// calls are tested with.

import assert from "node:assert/strict";
import {
  archTest,
  assertStatus,
  inProcess,
  type Json,
  type Reply,
  send,
  TestKernel,
} from "./helpers.ts";

const RIGHT = {
  DUPLICATE: 0x1,
  TRANSFER: 0x2,
  READ: 0x4,
  WRITE: 0x8,
  GET_PROPERTY: 0x40,
  SET_PROPERTY: 0x80,
  WAIT: 0x4000,
  INSPECT: 0x8000,
};
const DEFAULT_RIGHTS = {
  job: 0x7dfcf,
  resource: 0x800b,
  process: 0x6d3cf,
  vmar: 0x20801f,
  thread: 0x4d2cf,
};
const OBJ = { PROCESS: 1, THREAD: 2, RESOURCE: 15, JOB: 17, VMAR: 18, SUSPEND_TOKEN: 27 };
const INFO = { HANDLE_VALID: 1, HANDLE_BASIC: 2, THREAD: 10, PROCESS: 0x1000_0003 };
const STATE = { NEW: 0, RUNNING: 1, SUSPENDED: 2, DEAD: 5, BLOCKED_WAIT_ONE: 0x0603 };
const SIGNAL = { TERMINATED: 0x8, RUNNING: 0x10, SUSPENDED: 0x20, HANDLE_CLOSED: 0x80_0000 };
const NAME_LEN = 32;
const encoder = new TextEncoder();

function badValue(k: TestKernel): number {
  return (k.handles.thread & ~3) >>> 0;
}

function info(
  k: TestKernel,
  handle: number,
  topic: Json[string],
  extra: Json = {},
  token = k.token,
) {
  return k.call("object_get_info", { handle, topic, ...extra }, token);
}

async function koidOf(k: TestKernel, handle: number): Promise<number> {
  return Number(BigInt((await info(k, handle, "ZX_INFO_HANDLE_BASIC")).body.info.koid));
}

async function now(k: TestKernel): Promise<bigint> {
  return BigInt((await k.ok("clock_get_monotonic")).time);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every millisecond for up to `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > until) throw new Error("condition not reached in time");
    await sleep(1);
  }
}

/**
 * Starts a 2-second object_wait_one by client thread `waiter` (token) on
 * `handle`; returns its pending reply (and deadline) once the waiter is
 * BLOCKED_WAIT_ONE.
 */
async function blockedWait(
  k: TestKernel,
  token: string,
  waiter: number,
  handle: number,
  signals: string,
): Promise<{ pending: Promise<Reply>; deadline: bigint }> {
  const deadline = (await now(k)) + 2_000_000_000n;
  const pending = k.call(
    "object_wait_one",
    { handle, signals, deadline: `0x${deadline.toString(16)}` },
    token,
  );
  await eventually(async () => (await k.threadState(waiter)) === STATE.BLOCKED_WAIT_ONE);
  return { pending, deadline };
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

async function tokenFor(k: TestKernel, thread: number, token = k.token): Promise<Reply> {
  return await send(k.fetcher, `/v1/kernels/${k.id}/tokens`, { thread }, token);
}

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset, true);
}

function u64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(offset, true);
}

// ---------------------------------------------------------------------------
// zx_object_get_info

archTest(
  "get_info: an unknown topic is NOT_SUPPORTED before the handle is looked at",
  async (k) => {
    for (const topic of [0xdead, 0x7fff_ffff, 0x2000_0003]) {
      for (const handle of [0, badValue(k), 0x1234_5677, k.handles.thread]) {
        const reply = await info(k, handle, topic);
        assertStatus(reply, "ZX_ERR_NOT_SUPPORTED", 501);
        assert.equal(reply.body.code, -2);
      }
    }
  },
);

archTest("get_info: ZX_INFO_HANDLE_VALID", async (k) => {
  for (const topic of ["ZX_INFO_HANDLE_VALID", INFO.HANDLE_VALID, ["ZX_INFO_HANDLE_VALID"]]) {
    for (const handle of Object.values(k.handles)) {
      const reply = await info(k, handle, topic);
      assert.equal(reply.http, 200);
      assert.equal(reply.body.status, "ZX_OK");
      assert.equal(reply.body.buffer, undefined);
    }
    // Needs no rights at all.
    assert.equal((await info(k, await k.reduced(k.handles.thread, 0), topic)).http, 200);
    assertStatus(await info(k, badValue(k), topic), "ZX_ERR_BAD_HANDLE", 400);
    assertStatus(await info(k, 0, topic), "ZX_ERR_BAD_HANDLE", 400);
  }
});

archTest("get_info: ZX_INFO_HANDLE_BASIC of the bootstrap handles", async (k) => {
  const basic = async (handle: number) =>
    (await k.ok("object_get_info", { handle, topic: 2 })).info;
  const job = await basic(k.handles.root_job);
  const resource = await basic(k.handles.hypervisor_resource);
  const process = await basic(k.handles.process);
  const vmar = await basic(k.handles.vmar);
  const thread = await basic(k.handles.thread);
  assert.deepEqual([job.type, job.rights], [OBJ.JOB, DEFAULT_RIGHTS.job]);
  assert.deepEqual([resource.type, resource.rights], [OBJ.RESOURCE, DEFAULT_RIGHTS.resource]);
  assert.deepEqual([process.type, process.rights], [OBJ.PROCESS, DEFAULT_RIGHTS.process]);
  assert.deepEqual([vmar.type, vmar.rights], [OBJ.VMAR, DEFAULT_RIGHTS.vmar]);
  assert.deepEqual([thread.type, thread.rights], [OBJ.THREAD, DEFAULT_RIGHTS.thread]);
  // related_koid: the root job has no parent, a process its job, a thread its process.
  assert.equal(BigInt(job.related_koid), 0n);
  assert.equal(BigInt(resource.related_koid), 0n);
  assert.equal(BigInt(process.related_koid), BigInt(job.koid));
  assert.equal(BigInt(vmar.related_koid), 0n);
  assert.equal(BigInt(thread.related_koid), BigInt(process.koid));
  const koids = [job, resource, process, vmar, thread].map((i) => BigInt(i.koid));
  assert.equal(new Set(koids).size, 5);
  for (const koid of koids) assert.ok(koid > 0n);
  for (const i of [job, resource, process, vmar, thread]) assert.equal(i.reserved, 0);
});

archTest("get_info: ZX_INFO_HANDLE_BASIC needs no rights; the record is 32 bytes", async (k) => {
  const none = await k.reduced(k.handles.thread, 0);
  const body = await k.ok("object_get_info", { handle: none, topic: "ZX_INFO_HANDLE_BASIC" });
  assert.equal(body.actual, 1);
  assert.equal(body.avail, 1);
  const bytes = Uint8Array.fromBase64(body.buffer);
  assert.equal(bytes.length, 32);
  const threadKoid = BigInt(await koidOf(k, k.handles.thread));
  const processKoid = BigInt(await koidOf(k, k.handles.process));
  assert.equal(u64(bytes, 0), threadKoid);
  assert.equal(u32(bytes, 8), 0);
  assert.equal(u32(bytes, 12), OBJ.THREAD);
  assert.equal(u64(bytes, 16), processKoid);
  assert.equal(u32(bytes, 24), 0);
  assert.equal(u32(bytes, 28), 0);
  assert.equal(BigInt(body.info.koid), threadKoid);
  assert.equal(body.info.rights, 0);
  assert.equal(body.info.type, OBJ.THREAD);
  assert.equal(BigInt(body.info.related_koid), processKoid);
  assertStatus(await info(k, badValue(k), "ZX_INFO_HANDLE_BASIC"), "ZX_ERR_BAD_HANDLE", 400);
});

archTest("get_info: THREAD and PROCESS need ZX_RIGHT_INSPECT", async (k) => {
  const thread = await k.reduced(k.handles.thread, DEFAULT_RIGHTS.thread & ~RIGHT.INSPECT);
  const process = await k.reduced(k.handles.process, DEFAULT_RIGHTS.process & ~RIGHT.INSPECT);
  assertStatus(await info(k, thread, "ZX_INFO_THREAD"), "ZX_ERR_ACCESS_DENIED", 403);
  assertStatus(await info(k, process, "ZX_INFO_PROCESS"), "ZX_ERR_ACCESS_DENIED", 403);
  // INSPECT alone is enough.
  assert.equal((await info(k, await k.reduced(k.handles.thread, RIGHT.INSPECT), 10)).http, 200);
  assert.equal(
    (await info(k, await k.reduced(k.handles.process, RIGHT.INSPECT), INFO.PROCESS)).http,
    200,
  );
});

archTest("get_info: a handle of the wrong type is WRONG_TYPE, before the rights", async (k) => {
  const processNoRights = await k.reduced(k.handles.process, 0);
  const threadNoRights = await k.reduced(k.handles.thread, 0);
  assertStatus(await info(k, processNoRights, "ZX_INFO_THREAD"), "ZX_ERR_WRONG_TYPE", 400);
  assertStatus(await info(k, threadNoRights, "ZX_INFO_PROCESS"), "ZX_ERR_WRONG_TYPE", 400);
  for (const handle of [k.handles.root_job, k.handles.vmar, k.handles.hypervisor_resource]) {
    assertStatus(await info(k, handle, "ZX_INFO_THREAD"), "ZX_ERR_WRONG_TYPE", 400);
    assertStatus(await info(k, handle, "ZX_INFO_PROCESS"), "ZX_ERR_WRONG_TYPE", 400);
  }
  assertStatus(await info(k, badValue(k), "ZX_INFO_THREAD"), "ZX_ERR_BAD_HANDLE", 400);
  assertStatus(await info(k, badValue(k), "ZX_INFO_PROCESS"), "ZX_ERR_BAD_HANDLE", 400);
});

archTest(
  "get_info: a too-small buffer is BUFFER_TOO_SMALL with actual 0 and avail 1",
  async (k) => {
    const cases: [number, string, number][] = [
      [k.handles.thread, "ZX_INFO_THREAD", 72],
      [k.handles.process, "ZX_INFO_PROCESS", 24],
      [k.handles.thread, "ZX_INFO_HANDLE_BASIC", 32],
    ];
    for (const [handle, topic, size] of cases) {
      for (const buffer_size of [0, 1, size - 1]) {
        const reply = await info(k, handle, topic, { buffer_size });
        assertStatus(reply, "ZX_ERR_BUFFER_TOO_SMALL", 400);
        assert.equal(reply.body.code, -15);
        assert.equal(reply.body.actual, 0);
        assert.equal(reply.body.avail, 1);
        assert.equal(reply.body.buffer, undefined);
      }
      // Exactly the size, or larger: one record of exactly sizeof bytes.
      for (const buffer_size of [size, size + 1, 4096]) {
        const reply = await info(k, handle, topic, { buffer_size });
        assert.equal(reply.http, 200);
        assert.equal(reply.body.actual, 1);
        assert.equal(reply.body.avail, 1);
        assert.equal(Uint8Array.fromBase64(reply.body.buffer).length, size);
      }
    }
    // The handle is checked before the size.
    assertStatus(
      await info(k, badValue(k), "ZX_INFO_THREAD", { buffer_size: 0 }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
    assertStatus(
      await info(k, k.handles.process, "ZX_INFO_THREAD", { buffer_size: 0 }),
      "ZX_ERR_WRONG_TYPE",
      400,
    );
    const noInspect = await k.reduced(k.handles.thread, RIGHT.DUPLICATE);
    assertStatus(
      await info(k, noInspect, "ZX_INFO_THREAD", { buffer_size: 0 }),
      "ZX_ERR_ACCESS_DENIED",
      403,
    );
  },
);

archTest("get_info: topics by name, by number and as a one-name array", async (k) => {
  const process = [
    await info(k, k.handles.process, "ZX_INFO_PROCESS"),
    await info(k, k.handles.process, INFO.PROCESS),
    await info(k, k.handles.process, 268435459),
    await info(k, k.handles.process, ["ZX_INFO_PROCESS"]),
  ];
  for (const reply of process) {
    assert.equal(reply.http, 200);
    assert.equal(Uint8Array.fromBase64(reply.body.buffer).length, 24);
    assert.equal(reply.body.info.flags, 1);
    assert.ok(BigInt(reply.body.info.start_time) >= 0n);
    assert.equal(BigInt(reply.body.info.return_code), 0n);
  }
  const thread = [
    await info(k, k.handles.thread, "ZX_INFO_THREAD"),
    await info(k, k.handles.thread, 10),
    await info(k, k.handles.thread, ["ZX_INFO_THREAD"]),
  ];
  for (const reply of thread) {
    assert.equal(reply.http, 200);
    const bytes = Uint8Array.fromBase64(reply.body.buffer);
    assert.equal(bytes.length, 72);
    assert.equal(u32(bytes, 0), STATE.RUNNING);
    assert.equal(reply.body.info.state, STATE.RUNNING);
    assert.equal(u64(bytes, 8), 0xffff_ffffn);
  }
  for (const topic of ["ZX_INFO_HANDLE_BASIC", 2, ["ZX_INFO_HANDLE_BASIC"]]) {
    const reply = await info(k, k.handles.vmar, topic);
    assert.equal(reply.body.info.type, OBJ.VMAR);
  }
});

// ---------------------------------------------------------------------------
// zx_object_get_property / zx_object_set_property (ZX_PROP_NAME)

function nameBytes(reply: Reply): Uint8Array {
  return Uint8Array.fromBase64(reply.body.value);
}

function padded(name: string | Uint8Array): Uint8Array {
  const out = new Uint8Array(NAME_LEN);
  out.set(typeof name === "string" ? encoder.encode(name) : name);
  return out;
}

archTest("property: set and get ZX_PROP_NAME by name, number and array", async (k) => {
  const t = await k.newThread(k.handles.process, "before");
  for (const property of ["ZX_PROP_NAME", 3, ["ZX_PROP_NAME"]]) {
    const name = `thread-${JSON.stringify(property).length}`;
    await k.ok("object_set_property", { handle: t, property, name });
    const reply = await k.call("object_get_property", { handle: t, property });
    assert.equal(reply.http, 200);
    assert.equal(reply.body.name, name);
    assert.deepEqual(nameBytes(reply), padded(name));
  }
  // Jobs, processes and threads carry names; a duplicate sees the same name.
  for (const handle of [k.handles.root_job, k.handles.process, k.handles.thread]) {
    await k.ok("object_set_property", { handle, property: "ZX_PROP_NAME", name: "renamed" });
    const copy = await k.dup(handle);
    const reply = await k.call("object_get_property", { handle: copy, property: "ZX_PROP_NAME" });
    assert.equal(reply.body.name, "renamed");
  }
});

archTest("property: set with base64 bytes; cut to 31 bytes, to value_size, at a NUL", async (k) => {
  const t = await k.newThread();
  const get = async () =>
    await k.call("object_get_property", { handle: t, property: "ZX_PROP_NAME" });
  const set = (args: Json) =>
    k.ok("object_set_property", { handle: t, property: "ZX_PROP_NAME", ...args });

  await set({ value: encoder.encode("from-bytes").toBase64() });
  assert.equal((await get()).body.name, "from-bytes");

  const long = "0123456789abcdefghijklmnopqrstuvwxyzABCD"; // 40 bytes
  await set({ name: long });
  assert.equal((await get()).body.name, long.slice(0, 31));
  assert.deepEqual(nameBytes(await get()), padded(long.slice(0, 31)));
  assert.equal(nameBytes(await get())[31], 0);

  await set({ value: encoder.encode(long).toBase64(), value_size: 40 });
  assert.equal((await get()).body.name, long.slice(0, 31));

  await set({ name: "truncated", value_size: 5 });
  assert.equal((await get()).body.name, "trunc");
  assert.deepEqual(nameBytes(await get()), padded("trunc"));

  await set({ name: "ab\u0000cd" });
  assert.equal((await get()).body.name, "ab");
  assert.deepEqual(nameBytes(await get()), padded("ab"));

  await set({ value: new Uint8Array([0x78, 0, 0x79]).toBase64() });
  assert.equal((await get()).body.name, "x");

  await set({ name: "anything", value_size: 0 });
  assert.equal((await get()).body.name, "");
  assert.deepEqual(nameBytes(await get()), new Uint8Array(NAME_LEN));
});

archTest("property: set needs a value (checked before the handle)", async (k) => {
  for (const handle of [badValue(k), k.handles.vmar, k.handles.thread]) {
    for (const args of [{ value: null }, { name: null }, {}]) {
      const reply = await k.call("object_set_property", {
        handle,
        property: "ZX_PROP_NAME",
        ...args,
      });
      assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
    }
    // Also for a property that does not exist.
    assertStatus(
      await k.call("object_set_property", { handle, property: 0xdead, value: null }),
      "ZX_ERR_INVALID_ARGS",
      400,
    );
  }
});

archTest(
  "property: value_size past the sent bytes is INVALID_ARGS and keeps the name",
  async (k) => {
    const t = await k.newThread(k.handles.process, "kept");
    const reply = await k.call("object_set_property", {
      handle: t,
      property: "ZX_PROP_NAME",
      name: "short",
      value_size: 10,
    });
    assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
    const got = await k.call("object_get_property", { handle: t, property: "ZX_PROP_NAME" });
    assert.equal(got.body.name, "kept");
  },
);

archTest("property: GET_PROPERTY / SET_PROPERTY rights", async (k) => {
  const t = await k.newThread(k.handles.process, "guarded");
  const noGet = await k.reduced(t, DEFAULT_RIGHTS.thread & ~RIGHT.GET_PROPERTY);
  const noSet = await k.reduced(t, DEFAULT_RIGHTS.thread & ~RIGHT.SET_PROPERTY);
  assertStatus(
    await k.call("object_get_property", { handle: noGet, property: "ZX_PROP_NAME" }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  assertStatus(
    await k.call("object_set_property", { handle: noSet, property: "ZX_PROP_NAME", name: "x" }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  // Each needs only its own right.
  await k.ok("object_set_property", { handle: noGet, property: "ZX_PROP_NAME", name: "set" });
  const got = await k.ok("object_get_property", { handle: noSet, property: "ZX_PROP_NAME" });
  assert.equal(got.name, "set");
  const getOnly = await k.reduced(t, RIGHT.GET_PROPERTY);
  assert.equal((await k.ok("object_get_property", { handle: getOnly, property: 3 })).name, "set");
  // Rights are checked before the property and the size.
  assertStatus(
    await k.call("object_get_property", { handle: noGet, property: 0xdead }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  assertStatus(
    await k.call("object_get_property", { handle: noGet, property: 3, value_size: 1 }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  assertStatus(
    await k.call("object_set_property", { handle: noSet, property: 0xdead, name: "x" }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
});

archTest("property: an unknown property is NOT_SUPPORTED, after the handle check", async (k) => {
  for (const property of [0xdead, 0x7fff_ffff]) {
    assertStatus(
      await k.call("object_get_property", { handle: k.handles.thread, property }),
      "ZX_ERR_NOT_SUPPORTED",
      501,
    );
    assertStatus(
      await k.call("object_set_property", { handle: k.handles.thread, property, name: "x" }),
      "ZX_ERR_NOT_SUPPORTED",
      501,
    );
    assertStatus(
      await k.call("object_get_property", { handle: badValue(k), property }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
    assertStatus(
      await k.call("object_set_property", { handle: badValue(k), property, name: "x" }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
    // The property is looked at before the buffer size.
    assertStatus(
      await k.call("object_get_property", { handle: k.handles.thread, property, value_size: 1 }),
      "ZX_ERR_NOT_SUPPORTED",
      501,
    );
  }
});

archTest("property: get with value_size below 32 is BUFFER_TOO_SMALL", async (k) => {
  await k.ok("object_set_property", { handle: k.handles.thread, property: 3, name: "main" });
  for (const value_size of [0, 1, 31]) {
    const reply = await k.call("object_get_property", {
      handle: k.handles.thread,
      property: "ZX_PROP_NAME",
      value_size,
    });
    assertStatus(reply, "ZX_ERR_BUFFER_TOO_SMALL", 400);
    assert.equal(reply.body.code, -15);
  }
  assertStatus(
    await k.call("object_get_property", { handle: badValue(k), property: 3, value_size: 0 }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  for (const value_size of [32, 33, 1024]) {
    const reply = await k.call("object_get_property", {
      handle: k.handles.thread,
      property: "ZX_PROP_NAME",
      value_size,
    });
    assert.equal(reply.http, 200);
    assert.equal(reply.body.name, "main");
    assert.equal(nameBytes(reply).length, NAME_LEN);
  }
});

archTest("property: VMARs, suspend tokens and resources lack the property rights", async (k) => {
  const t = await k.runningThread();
  const { token } = await k.ok("task_suspend", { handle: t });
  for (const handle of [k.handles.vmar, token, k.handles.hypervisor_resource]) {
    assertStatus(
      await k.call("object_get_property", { handle, property: "ZX_PROP_NAME" }),
      "ZX_ERR_ACCESS_DENIED",
      403,
    );
    assertStatus(
      await k.call("object_set_property", { handle, property: "ZX_PROP_NAME", name: "x" }),
      "ZX_ERR_ACCESS_DENIED",
      403,
    );
  }
});

archTest("property: a dead thread has no name any more (BAD_STATE)", async (k) => {
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  const t = await k.newThread(proc_handle, "doomed");
  const unstarted = await k.newThread(proc_handle, "never-ran");
  assert.equal(
    (await k.call("thread_start", { handle: t, thread_entry: 0, stack: 0 })).http,
    200,
  );
  await k.ok("task_kill", { handle: proc_handle });
  assert.equal(await k.threadState(t), STATE.DEAD);
  assertStatus(
    await k.call("object_get_property", { handle: t, property: "ZX_PROP_NAME" }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  assertStatus(
    await k.call("object_set_property", { handle: t, property: "ZX_PROP_NAME", name: "x" }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  // The never-started thread and the dead process keep theirs.
  const got = await k.ok("object_get_property", { handle: unstarted, property: 3 });
  assert.equal(got.name, "never-ran");
  assert.equal((await k.ok("object_get_property", { handle: proc_handle, property: 3 })).name, "p");
});

// ---------------------------------------------------------------------------
// zx_object_wait_one

archTest("wait_one: BAD_HANDLE, then the WAIT right", async (k) => {
  assertStatus(
    await k.call("object_wait_one", { handle: badValue(k), signals: 0x10, deadline: 0 }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  const noWait = await k.reduced(k.handles.thread, DEFAULT_RIGHTS.thread & ~RIGHT.WAIT);
  const denied = await k.call("object_wait_one", { handle: noWait, signals: 0x10, deadline: 0 });
  assertStatus(denied, "ZX_ERR_ACCESS_DENIED", 403);
  // VMARs, resources and suspend tokens have no WAIT right.
  const t = await k.runningThread();
  const { token } = await k.ok("task_suspend", { handle: t });
  for (const handle of [k.handles.vmar, k.handles.hypervisor_resource, token]) {
    assertStatus(
      await k.call("object_wait_one", { handle, signals: 0xffff_ffff, deadline: 0 }),
      "ZX_ERR_ACCESS_DENIED",
      403,
    );
  }
  // WAIT alone is enough.
  const waitOnly = await k.reduced(k.handles.thread, RIGHT.WAIT);
  const ok = await k.call("object_wait_one", { handle: waitOnly, signals: 0x10, deadline: 0 });
  assert.equal(ok.http, 200);
});

archTest("wait_one: an asserted signal returns at once with observed", async (k) => {
  for (const deadline of [0, "ZX_TIME_INFINITE", "ZX_TIME_INFINITE_PAST", -1]) {
    for (
      const signals of ["ZX_THREAD_RUNNING", SIGNAL.RUNNING, [
        "ZX_THREAD_RUNNING",
        "ZX_THREAD_SUSPENDED",
      ]]
    ) {
      const reply = await k.call("object_wait_one", {
        handle: k.handles.thread,
        signals,
        deadline,
      });
      assert.equal(reply.http, 200);
      assert.deepEqual(reply.body, { status: "ZX_OK", code: 0, observed: SIGNAL.RUNNING });
    }
  }
});

archTest("wait_one: a deadline in the past polls: TIMED_OUT (504) with observed", async (k) => {
  const t = await k.runningThread();
  const current = await now(k);
  for (const deadline of [0, -1, "ZX_TIME_INFINITE_PAST", `0x${current.toString(16)}`]) {
    const reply = await k.call("object_wait_one", {
      handle: t,
      signals: "ZX_THREAD_SUSPENDED",
      deadline,
    });
    assertStatus(reply, "ZX_ERR_TIMED_OUT", 504);
    assert.equal(reply.body.code, -21);
    assert.equal(reply.body.observed, SIGNAL.RUNNING);
  }
  // No signals at all: nothing can match.
  const none = await k.call("object_wait_one", { handle: t, signals: 0, deadline: 0 });
  assertStatus(none, "ZX_ERR_TIMED_OUT", 504);
  assert.equal(none.body.observed, SIGNAL.RUNNING);
  // A NEW thread asserts nothing.
  const fresh = await k.newThread();
  const nothing = await k.call("object_wait_one", {
    handle: fresh,
    signals: 0xffff_ffff,
    deadline: 0,
  });
  assertStatus(nothing, "ZX_ERR_TIMED_OUT", 504);
  assert.equal(nothing.body.observed, 0);
});

archTest("wait_one: a short deadline expires on the monotonic clock", async (k) => {
  const t = await k.runningThread();
  const deadline = (await now(k)) + 30_000_000n;
  const reply = await k.call("object_wait_one", {
    handle: t,
    signals: "ZX_THREAD_SUSPENDED",
    deadline: `0x${deadline.toString(16)}`,
  });
  assertStatus(reply, "ZX_ERR_TIMED_OUT", 504);
  assert.equal(reply.body.observed, SIGNAL.RUNNING);
  assert.ok((await now(k)) >= deadline);
  assert.equal(await k.threadState(k.handles.thread), STATE.RUNNING);
});

archTest(
  "wait_one: the server cap ends an infinite wait with TIMED_OUT",
  async (k) => {
    const t = await k.runningThread();
    const before = await now(k);
    const reply = await k.call("object_wait_one", {
      handle: t,
      signals: "ZX_THREAD_SUSPENDED",
      deadline: "ZX_TIME_INFINITE",
    });
    assertStatus(reply, "ZX_ERR_TIMED_OUT", 504);
    assert.equal(reply.body.observed, SIGNAL.RUNNING);
    const waited = (await now(k)) - before;
    assert.ok(waited >= 90_000_000n, `waited ${waited} ns`);
    assert.ok(waited < 2_000_000_000n, `waited ${waited} ns`);
    assert.equal(await k.threadState(k.handles.thread), STATE.RUNNING);
  },
  () => inProcess({ maxBlockMs: 100 }),
);

archTest("wait_one: a blocked client thread is woken when the signal is asserted", async (k) => {
  const b = await k.clientThread("waiter");
  const c = await k.runningThread();
  const { pending, deadline } = await blockedWait(k, b.token, b.thread, c, "ZX_THREAD_SUSPENDED");
  const blocked = await k.ok("object_get_info", { handle: b.thread, topic: "ZX_INFO_THREAD" });
  assert.equal(blocked.info.state, 0x0603);
  // Blocked threads still assert RUNNING.
  const sig = await k.call("object_wait_one", { handle: b.thread, signals: 0x10, deadline: 0 });
  assert.equal(sig.body.observed & (SIGNAL.RUNNING | SIGNAL.SUSPENDED), SIGNAL.RUNNING);
  // One syscall at a time per thread.
  const busy = await k.call("clock_get_monotonic", {}, b.token);
  assertStatus(busy, "ZX_ERR_BAD_STATE", 409);
  assert.equal(await settlesWithin(pending, 20), false);

  await k.ok("task_suspend", { handle: c });
  const reply = await pending;
  assert.equal(reply.http, 200);
  assert.equal(reply.body.status, "ZX_OK");
  assert.equal(reply.body.observed & SIGNAL.SUSPENDED, SIGNAL.SUSPENDED);
  assert.equal(reply.body.observed & SIGNAL.RUNNING, 0);
  assert.ok((await now(k)) < deadline);
  assert.equal(await k.threadState(b.thread), STATE.RUNNING);
  await k.ok("clock_get_monotonic", {}, b.token);
});

archTest("wait_one: closing the waited-on handle cancels the wait", async (k) => {
  const b = await k.clientThread("waiter");
  const c = await k.runningThread();
  const watched = await k.dup(c);
  const other = await k.dup(c);
  const { pending } = await blockedWait(k, b.token, b.thread, watched, "ZX_THREAD_SUSPENDED");
  // Closing another handle to the same object does not matter.
  await k.ok("handle_close", { handle: other });
  assert.equal(await settlesWithin(pending, 20), false);
  // The bootstrap thread is in the same process and closes the handle B waits on.
  await k.ok("handle_close", { handle: watched });
  const reply = await pending;
  assertStatus(reply, "ZX_ERR_CANCELED", 409);
  assert.equal(reply.body.code, -23);
  assert.equal(reply.body.observed & SIGNAL.HANDLE_CLOSED, SIGNAL.HANDLE_CLOSED);
  assert.equal(reply.body.observed & SIGNAL.RUNNING, SIGNAL.RUNNING);
  assert.equal(await k.threadState(b.thread), STATE.RUNNING);
  // The object itself is untouched.
  assert.equal(await k.threadState(c), STATE.RUNNING);
});

archTest("wait_one: a wait on a process ends when the process is killed", async (k) => {
  const b = await k.clientThread("waiter");
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  const { pending } = await blockedWait(k, b.token, b.thread, proc_handle, "ZX_PROCESS_TERMINATED");
  await k.ok("task_kill", { handle: proc_handle });
  const reply = await pending;
  assert.equal(reply.http, 200);
  assert.equal(reply.body.observed & SIGNAL.TERMINATED, SIGNAL.TERMINATED);
});

archTest("wait_one: a waiter suspended meanwhile replies only once resumed", async (k) => {
  const b = await k.clientThread("waiter");
  const c = await k.runningThread();
  const { pending } = await blockedWait(k, b.token, b.thread, c, "ZX_THREAD_SUSPENDED");
  const { token } = await k.ok("task_suspend", { handle: b.thread });
  assert.equal(await k.threadState(b.thread), STATE.SUSPENDED);
  await k.ok("task_suspend", { handle: c });
  assert.equal(await settlesWithin(pending, 30), false);
  await k.ok("handle_close", { handle: token });
  const reply = await pending;
  assert.equal(reply.http, 200);
  assert.equal(reply.body.observed & SIGNAL.SUSPENDED, SIGNAL.SUSPENDED);
  assert.equal(await k.threadState(b.thread), STATE.RUNNING);
});

archTest(
  "wait_one: killing the waiter's process ends the wait with INTERNAL_INTR_KILLED",
  async (k) => {
    const b = await k.clientThread("waiter");
    const c = await k.runningThread();
    const { pending } = await blockedWait(k, b.token, b.thread, c, "ZX_THREAD_SUSPENDED");
    // B and the bootstrap thread share the process; killing it kills B.
    const kill = await k.call("task_kill", { handle: k.handles.process });
    assert.equal(kill.http, 200);
    const reply = await pending;
    assert.equal(reply.body.status, "ZX_ERR_INTERNAL_INTR_KILLED");
    assert.equal(reply.body.code, -502);
    assert.equal(reply.http, 409);
    assertStatus(await k.call("clock_get_monotonic", {}, b.token), "ZX_ERR_BAD_STATE", 409);
  },
);

// ---------------------------------------------------------------------------
// zx_clock_get_monotonic

archTest("clock_get_monotonic: non-negative and increasing", async (k) => {
  const first = await k.ok("clock_get_monotonic");
  assert.equal(typeof first.time, "number");
  assert.ok(first.time >= 0);
  await sleep(3);
  const second = await k.ok("clock_get_monotonic");
  assert.ok(second.time > first.time, `${first.time} then ${second.time}`);
  assert.ok(second.time - first.time >= 2_000_000);
});

// ---------------------------------------------------------------------------
// POST /v1/kernels/{id}/tokens

archTest("tokens: a NEW thread becomes a client thread that can make syscalls", async (k) => {
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  const t = await k.newThread(proc_handle, "client");
  assert.equal(await k.threadState(t), STATE.NEW);
  const reply = await tokenFor(k, t);
  assert.equal(reply.http, 201);
  const token = reply.body.token as string;
  assert.ok(token.length >= 32);
  assert.notEqual(token, k.token);
  assert.equal(await k.threadState(t), STATE.RUNNING);
  // The token's thread started its process.
  const process = await k.ok("object_get_info", { handle: proc_handle, topic: "ZX_INFO_PROCESS" });
  assert.equal(process.info.flags, 1);
  await k.ok("clock_get_monotonic", {}, token);
  // It lives in the other process: the bootstrap values mean nothing there.
  assertStatus(
    await k.call(
      "object_get_info",
      { handle: k.handles.thread, topic: "ZX_INFO_HANDLE_VALID" },
      token,
    ),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  // A second token for the same (now running) thread is refused.
  assertStatus(await tokenFor(k, t), "ZX_ERR_BAD_STATE", 409);
});

archTest("tokens: error paths", async (k) => {
  // Not a thread.
  for (const handle of [k.handles.process, k.handles.root_job, k.handles.vmar]) {
    assertStatus(await tokenFor(k, handle), "ZX_ERR_WRONG_TYPE", 400);
  }
  // Type before rights.
  assertStatus(await tokenFor(k, await k.reduced(k.handles.process, 0)), "ZX_ERR_WRONG_TYPE", 400);
  // A thread handle without WRITE.
  const t = await k.newThread();
  const noWrite = await k.reduced(t, DEFAULT_RIGHTS.thread & ~RIGHT.WRITE);
  assertStatus(await tokenFor(k, noWrite), "ZX_ERR_ACCESS_DENIED", 403);
  assert.equal(await k.threadState(t), STATE.NEW);
  // Already started.
  assertStatus(await tokenFor(k, k.handles.thread), "ZX_ERR_BAD_STATE", 409);
  assertStatus(await tokenFor(k, await k.runningThread()), "ZX_ERR_BAD_STATE", 409);
  // Not a handle.
  assertStatus(await tokenFor(k, badValue(k)), "ZX_ERR_BAD_HANDLE", 400);
  // A thread of a killed process.
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  const orphan = await k.newThread(proc_handle);
  await k.ok("task_kill", { handle: proc_handle });
  assertStatus(await tokenFor(k, orphan), "ZX_ERR_BAD_STATE", 409);
  // WRITE alone is enough.
  const writeOnly = await k.reduced(t, RIGHT.WRITE);
  assert.equal((await tokenFor(k, writeOnly)).http, 201);
});

Deno.test("tokens: another kernel's token, or none, is 401", async () => {
  const fetcher = inProcess();
  const a = await TestKernel.create(fetcher);
  const b = await TestKernel.create(fetcher);
  const t = await a.newThread();
  const foreign = await send(fetcher, `/v1/kernels/${a.id}/tokens`, { thread: t }, b.token);
  assert.equal(foreign.http, 401);
  assert.equal(foreign.body.status, "ZX_ERR_ACCESS_DENIED");
  const none = await send(fetcher, `/v1/kernels/${a.id}/tokens`, { thread: t });
  assert.equal(none.http, 401);
  const made = await send(fetcher, `/v1/kernels/${a.id}/tokens`, { thread: t }, "not-a-token");
  assert.equal(made.http, 401);
  // The thread was not started by any of those.
  assert.equal(await a.threadState(t), STATE.NEW);
  assert.equal((await tokenFor(a, t)).http, 201);
});
