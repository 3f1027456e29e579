// Tasks: zx_process_create, zx_thread_create, zx_thread_start,
// zx_task_suspend / zx_task_suspend_token and zx_task_kill, checked over
// HTTP against modern Zircon's results and check order.

import assert from "node:assert/strict";
import { archTest, assertStatus, type Json, send, TestKernel } from "./helpers.ts";

const RIGHT = {
  DUPLICATE: 0x1,
  TRANSFER: 0x2,
  READ: 0x4,
  WRITE: 0x8,
  GET_PROPERTY: 0x40,
  DESTROY: 0x200,
  WAIT: 0x4000,
  INSPECT: 0x8000,
  MANAGE_PROCESS: 0x2_0000,
  MANAGE_THREAD: 0x4_0000,
};
const PROCESS_RIGHTS = 0x6d3cf;
const THREAD_RIGHTS = 0x4d2cf;
const ROOT_VMAR_RIGHTS = 0x20801f;
const OBJ = { PROCESS: 1, THREAD: 2, JOB: 17, VMAR: 18, SUSPEND_TOKEN: 27 };
const STATE = { NEW: 0, RUNNING: 1, SUSPENDED: 2, DEAD: 5 };
const SIGNAL = { TERMINATED: 0x8, RUNNING: 0x10, SUSPENDED: 0x20 };
const FLAG = { STARTED: 1, EXITED: 2 };
const RETCODE_SYSCALL_KILL = -1024n;
const ENTRY = "0x1000000";
const STACK = "0x2000000";

async function threadInfo(k: TestKernel, thread: number): Promise<Json> {
  const body = await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_THREAD" });
  return body.info;
}

interface ProcessInfo {
  returnCode: bigint;
  startTime: bigint;
  flags: number;
}

async function processInfo(k: TestKernel, process: number): Promise<ProcessInfo> {
  const body = await k.ok("object_get_info", { handle: process, topic: "ZX_INFO_PROCESS" });
  const bytes = Uint8Array.fromBase64(body.buffer);
  assert.equal(bytes.length, 24);
  const view = new DataView(bytes.buffer);
  const info = {
    returnCode: view.getBigInt64(0, true),
    startTime: view.getBigInt64(8, true),
    flags: view.getUint32(16, true),
  };
  // The named view agrees with the raw record.
  assert.equal(BigInt(body.info.return_code), BigInt.asUintN(64, info.returnCode));
  assert.equal(BigInt(body.info.start_time), info.startTime);
  assert.equal(body.info.flags, info.flags);
  return info;
}

async function runState(k: TestKernel, thread: number): Promise<number> {
  return (await k.signals(thread)) & (SIGNAL.RUNNING | SIGNAL.SUSPENDED);
}

/**
 * A new process in the root job. Threads run code now: it gets the spinning
 * code at ENTRY and a stack below STACK (tests/helpers.ts), so that a thread
 * started there spins instead of faulting, which would kill the process.
 */
async function newProcess(
  k: TestKernel,
  name = "child",
  park = true,
): Promise<{ proc: number; vmar: number }> {
  const body = await k.ok("process_create", { job: k.handles.root_job, name });
  if (park) await k.parkIn(body.vmar_handle);
  return { proc: body.proc_handle, vmar: body.vmar_handle };
}

async function start(k: TestKernel, thread: number, entry: string | number = ENTRY) {
  return await k.call("thread_start", { handle: thread, thread_entry: entry, stack: STACK });
}

async function getName(k: TestKernel, handle: number): Promise<string> {
  return (await k.ok("object_get_property", { handle, property: "ZX_PROP_NAME" })).name;
}

/** A bad handle value: a live value with its low bits cleared. */
function badValue(k: TestKernel): number {
  return (k.handles.root_job & ~3) >>> 0;
}

// ---------------------------------------------------------------------------
// zx_process_create

archTest(
  "process_create: options other than 0 / ZX_PROCESS_SHARED are INVALID_ARGS, first",
  async (k) => {
    for (const options of [2, 4, 0x8000_0000, 3]) {
      // Even a bad handle and a NULL name lose to the options check.
      const reply = await k.call("process_create", { job: badValue(k), name: null, options });
      assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
      assertStatus(
        await k.call("process_create", { job: k.handles.root_job, name: "x", options }),
        "ZX_ERR_INVALID_ARGS",
        400,
      );
    }
    const shared = await k.ok("process_create", {
      job: k.handles.root_job,
      name: "shared",
      options: "ZX_PROCESS_SHARED",
    });
    assert.equal((await k.basic(shared.proc_handle)).type, OBJ.PROCESS);
    await k.ok("process_create", { job: k.handles.root_job, name: "one", options: 1 });
  },
);

archTest("process_create: the name is checked before the handle", async (k) => {
  assertStatus(
    await k.call("process_create", { job: badValue(k), name: null }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(
    await k.call("process_create", { job: k.handles.root_job, name: null }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  // name_size larger than what was sent reads past the caller's buffer.
  assertStatus(
    await k.call("process_create", { job: badValue(k), name: "abc", name_size: 4 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(
    await k.call("process_create", { job: k.handles.root_job, name: "abc", name_size: 10 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  // With a good name, the bad handle is what fails.
  assertStatus(
    await k.call("process_create", { job: badValue(k), name: "abc" }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
});

archTest("process_create: names are cut to 31 bytes, to name_size, and at a NUL", async (k) => {
  const long = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"; // 40 bytes
  const cases: [Json, string][] = [
    [{ name: long }, long.slice(0, 31)],
    [{ name: long.slice(0, 32) }, long.slice(0, 31)],
    [{ name: long.slice(0, 31) }, long.slice(0, 31)],
    // name_size is cut to 32 before the copy, so 35 sent bytes are enough for 50.
    [{ name: long.slice(0, 35), name_size: 50 }, long.slice(0, 31)],
    [{ name: "abcdef", name_size: 3 }, "abc"],
    [{ name: "abcdef", name_size: 0 }, ""],
    [{ name: "ab\u0000cd" }, "ab"],
    [{ name: "" }, ""],
    [{}, ""],
  ];
  for (const [args, expected] of cases) {
    const body = await k.ok("process_create", { job: k.handles.root_job, ...args });
    assert.equal(await getName(k, body.proc_handle), expected, JSON.stringify(args));
  }
});

archTest("process_create: the job needs MANAGE_PROCESS or WRITE", async (k) => {
  const job = k.handles.root_job;
  const writeOnly = await k.reduced(job, RIGHT.WRITE);
  await k.ok("process_create", { job: writeOnly, name: "via-write" });
  const manageOnly = await k.reduced(job, RIGHT.MANAGE_PROCESS);
  await k.ok("process_create", { job: manageOnly, name: "via-manage" });
  for (const rights of [0, RIGHT.DUPLICATE | RIGHT.INSPECT | RIGHT.READ | RIGHT.DESTROY]) {
    const neither = await k.reduced(job, rights);
    const reply = await k.call("process_create", { job: neither, name: "denied" });
    assertStatus(reply, "ZX_ERR_ACCESS_DENIED", 403);
    assert.equal(reply.body.proc_handle, undefined);
  }
});

archTest("process_create: a non-job handle is WRONG_TYPE, even without rights", async (k) => {
  for (const handle of [k.handles.thread, k.handles.process, k.handles.vmar]) {
    assertStatus(
      await k.call("process_create", { job: handle, name: "x" }),
      "ZX_ERR_WRONG_TYPE",
      400,
    );
    assertStatus(
      await k.call("process_create", { job: await k.reduced(handle, 0), name: "x" }),
      "ZX_ERR_WRONG_TYPE",
      400,
    );
  }
  assertStatus(
    await k.call("process_create", { job: badValue(k), name: "x" }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
});

archTest("process_create: process and root VMAR handles, rights and koids", async (k) => {
  const job = await k.basic(k.handles.root_job);
  assert.equal(job.type, OBJ.JOB);
  const { proc, vmar } = await newProcess(k, "p");
  assert.notEqual(proc, vmar);
  const p = await k.basic(proc);
  assert.equal(p.type, OBJ.PROCESS);
  assert.equal(p.rights, PROCESS_RIGHTS);
  assert.equal(p.related, job.koid);
  const v = await k.basic(vmar);
  assert.equal(v.type, OBJ.VMAR);
  assert.equal(v.rights, ROOT_VMAR_RIGHTS);
  assert.equal(v.related, 0);
  assert.notEqual(p.koid, v.koid);
  // A second process is a different object.
  const other = await k.basic((await newProcess(k, "q")).proc);
  assert.notEqual(other.koid, p.koid);
  // Not started yet.
  assert.deepEqual(await processInfo(k, proc), { returnCode: 0n, startTime: 0n, flags: 0 });
  assert.equal(await k.signals(proc), 0);
});

// ---------------------------------------------------------------------------
// zx_thread_create

archTest("thread_create: options != 0 is INVALID_ARGS before anything else", async (k) => {
  for (const options of [1, 2, 0x8000_0000]) {
    assertStatus(
      await k.call("thread_create", { process: badValue(k), name: null, options }),
      "ZX_ERR_INVALID_ARGS",
      400,
    );
    assertStatus(
      await k.call("thread_create", { process: k.handles.process, name: "t", options }),
      "ZX_ERR_INVALID_ARGS",
      400,
    );
  }
});

archTest("thread_create: a NULL or short name is INVALID_ARGS before the handle", async (k) => {
  for (const process of [badValue(k), k.handles.thread, k.handles.process]) {
    assertStatus(
      await k.call("thread_create", { process, name: null }),
      "ZX_ERR_INVALID_ARGS",
      400,
    );
    assertStatus(
      await k.call("thread_create", { process, name: "ab", name_size: 3 }),
      "ZX_ERR_INVALID_ARGS",
      400,
    );
  }
  const long = "0123456789abcdefghijklmnopqrstuvwxyz";
  const t = (await k.ok("thread_create", { process: k.handles.process, name: long })).out;
  assert.equal(await getName(k, t), long.slice(0, 31));
  const cut = (await k.ok("thread_create", {
    process: k.handles.process,
    name: "worker-7",
    name_size: 6,
  })).out;
  assert.equal(await getName(k, cut), "worker");
});

archTest("thread_create: needs MANAGE_THREAD on a process (WRITE is not enough)", async (k) => {
  const process = k.handles.process;
  const writeOnly = await k.reduced(process, PROCESS_RIGHTS & ~RIGHT.MANAGE_THREAD);
  assertStatus(
    await k.call("thread_create", { process: writeOnly, name: "t" }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  const manageOnly = await k.reduced(process, RIGHT.MANAGE_THREAD);
  const t = (await k.ok("thread_create", { process: manageOnly, name: "t" })).out;
  assert.equal((await k.basic(t)).type, OBJ.THREAD);
  // Wrong type beats missing rights.
  for (const handle of [k.handles.root_job, k.handles.thread, k.handles.vmar]) {
    assertStatus(
      await k.call("thread_create", { process: handle, name: "t" }),
      "ZX_ERR_WRONG_TYPE",
      400,
    );
    assertStatus(
      await k.call("thread_create", { process: await k.reduced(handle, 0), name: "t" }),
      "ZX_ERR_WRONG_TYPE",
      400,
    );
  }
  assertStatus(
    await k.call("thread_create", { process: badValue(k), name: "t" }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
});

archTest("thread_create: a NEW thread, its info, rights and related koid", async (k) => {
  const { proc } = await newProcess(k);
  for (const process of [k.handles.process, proc]) {
    const t = await k.newThread(process, "fresh");
    const b = await k.basic(t);
    assert.equal(b.type, OBJ.THREAD);
    assert.equal(b.rights, THREAD_RIGHTS);
    assert.equal(b.related, (await k.basic(process)).koid);
    const body = await k.ok("object_get_info", { handle: t, topic: "ZX_INFO_THREAD" });
    assert.equal(Uint8Array.fromBase64(body.buffer).length, 72);
    assert.equal(body.info.state, STATE.NEW);
    assert.equal(body.info.wait_exception_channel_type, 0);
    const mask = body.info.cpu_affinity_mask.mask.map((w: string) => BigInt(w));
    assert.deepEqual(mask, [0xffff_ffffn, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
    // A NEW thread asserts neither RUNNING nor SUSPENDED.
    assert.equal(await k.signals(t), 0);
    assert.equal(await getName(k, t), "fresh");
  }
  // Creating threads does not start the process.
  assert.equal((await processInfo(k, proc)).flags, 0);
});

archTest(
  "thread_create in a killed process succeeds; starting the thread is BAD_STATE",
  async (k) => {
    for (const startFirst of [false, true]) {
      const { proc } = await newProcess(k);
      if (startFirst) assert.equal((await start(k, await k.newThread(proc))).http, 200);
      await k.ok("task_kill", { handle: proc });
      const t = await k.newThread(proc, "late");
      assert.equal(await k.threadState(t), STATE.NEW);
      assertStatus(await start(k, t), "ZX_ERR_BAD_STATE", 409);
      // The process check comes before the entry check.
      assertStatus(await start(k, t, "0xffffff8000000000"), "ZX_ERR_BAD_STATE", 409);
      assert.equal(await k.threadState(t), STATE.NEW);
    }
  },
);

// ---------------------------------------------------------------------------
// zx_thread_start

archTest("thread_start: handle, type, then MANAGE_THREAD", async (k) => {
  const t = await k.newThread();
  assertStatus(
    await k.call("thread_start", { handle: badValue(k), thread_entry: ENTRY, stack: STACK }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  for (const handle of [k.handles.process, k.handles.root_job]) {
    assertStatus(await start(k, handle), "ZX_ERR_WRONG_TYPE", 400);
    assertStatus(
      await start(k, await k.reduced(handle, 0), "0x80000000000000"),
      "ZX_ERR_WRONG_TYPE",
      400,
    );
  }
  const noManage = await k.reduced(t, THREAD_RIGHTS & ~RIGHT.MANAGE_THREAD);
  // Rights are checked before the entry.
  assertStatus(await start(k, noManage, "0xffffff8000000000"), "ZX_ERR_ACCESS_DENIED", 403);
  assertStatus(await start(k, noManage), "ZX_ERR_ACCESS_DENIED", 403);
  assert.equal(await k.threadState(t), STATE.NEW);
  const manageOnly = await k.reduced(t, RIGHT.MANAGE_THREAD);
  assert.equal((await start(k, manageOnly)).http, 200);
  assert.equal(await k.threadState(t), STATE.RUNNING);
});

archTest("thread_start: kernel and non-user entries are INVALID_ARGS; 0 is valid", async (k) => {
  const bad = ["0x80000000000000", "0xffffff8000000000", "0xffffffffffffffff"];
  if (k.arch === "x64") bad.push("0x800000000000", "0xffff800000000000");
  for (const entry of bad) {
    const t = await k.newThread();
    const reply = await start(k, t, entry);
    assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
    assert.equal(reply.body.code, -10);
    // The thread is still NEW and can be started properly.
    assert.equal(await k.threadState(t), STATE.NEW);
    assert.equal((await start(k, t)).http, 200);
  }
  // A refused first thread does not start its process.
  const { proc } = await newProcess(k);
  const first = await k.newThread(proc);
  assertStatus(await start(k, first, "0xffffff8000000000"), "ZX_ERR_INVALID_ARGS", 400);
  assert.deepEqual(await processInfo(k, proc), { returnCode: 0n, startTime: 0n, flags: 0 });
  assert.equal((await start(k, first)).http, 200);
  assert.equal((await processInfo(k, proc)).flags, FLAG.STARTED);

  // Nothing is mapped at these (0x1000 and below lie under the root VMAR):
  // each thread is suspended before it starts, so it stops before its first
  // instruction instead of faulting, which would kill the caller's process.
  const good: (string | number)[] = [0, "0x0", "0x7fffffffffff", "0x1000"];
  if (k.arch === "arm64") good.push("0x800000000000", "0xffff00000000");
  const pc = k.arch === "x64" ? "rip" : "pc";
  for (const entry of good) {
    const t = await k.newThread();
    await k.ok("task_suspend", { handle: t });
    const reply = await start(k, t, entry);
    assert.equal(reply.http, 200, `${entry}: ${JSON.stringify(reply.body)}`);
    assert.equal(await k.threadState(t), STATE.SUSPENDED);
    const { regs } = await k.ok("thread_read_state", { handle: t, kind: 0 });
    assert.equal(BigInt(regs[pc]), BigInt(entry));
  }
  // Where code is mapped, a started thread runs.
  const t = await k.newThread();
  assert.equal((await start(k, t, ENTRY)).http, 200);
  assert.equal(await k.threadState(t), STATE.RUNNING);
  assert.equal(await runState(k, t), SIGNAL.RUNNING);
});

archTest("thread_start: starting twice is BAD_STATE, after the entry check", async (k) => {
  const t = await k.runningThread();
  assertStatus(await start(k, t), "ZX_ERR_BAD_STATE", 409);
  assertStatus(await start(k, t, 0), "ZX_ERR_BAD_STATE", 409);
  assertStatus(await start(k, t, "0x80000000000000"), "ZX_ERR_INVALID_ARGS", 400);
  // The bootstrap thread is running too.
  assertStatus(await start(k, k.handles.thread), "ZX_ERR_BAD_STATE", 409);
  assert.equal(await k.threadState(t), STATE.RUNNING);
});

archTest(
  "thread_start: the first thread of a never-started process starts the process",
  async (k) => {
    const { proc } = await newProcess(k);
    const first = await k.newThread(proc, "first");
    const second = await k.newThread(proc, "second");
    assert.deepEqual(await processInfo(k, proc), { returnCode: 0n, startTime: 0n, flags: 0 });
    const before = BigInt((await k.ok("clock_get_monotonic")).time);
    assert.equal((await start(k, first)).http, 200);
    const after = BigInt((await k.ok("clock_get_monotonic")).time);
    const info = await processInfo(k, proc);
    assert.equal(info.flags, FLAG.STARTED);
    assert.equal(info.returnCode, 0n);
    assert.ok(info.startTime > 0n);
    assert.ok(
      before <= info.startTime && info.startTime <= after,
      `${before} ${info.startTime} ${after}`,
    );
    assert.equal(await k.threadState(first), STATE.RUNNING);
    // Later threads join the running process; start_time stays.
    assert.equal((await start(k, second)).http, 200);
    assert.equal(await k.threadState(second), STATE.RUNNING);
    assert.equal((await processInfo(k, proc)).startTime, info.startTime);
    // A running process has not terminated.
    assert.equal(await k.signals(proc) & SIGNAL.TERMINATED, 0);
  },
);

archTest(
  "thread_start where nothing is mapped: the page fault kills the process (-1028), logged",
  async (k) => {
    const { proc } = await newProcess(k, "crasher", false);
    const t = await k.newThread(proc, "main");
    assert.equal((await start(k, t)).http, 200);
    // The thread faults on its first instruction fetch; nobody handles it.
    const waited = await k.ok("object_wait_one", {
      handle: proc,
      signals: "ZX_TASK_TERMINATED",
      deadline: "0x7fffffffffffffff",
    });
    assert.equal(waited.observed & SIGNAL.TERMINATED, SIGNAL.TERMINATED);
    const info = await processInfo(k, proc);
    assert.equal(info.returnCode, -1028n); // ZX_TASK_RETCODE_EXCEPTION_KILL
    assert.equal(info.flags, FLAG.STARTED | FLAG.EXITED);
    assert.equal(await k.threadState(t), STATE.DEAD);
    const log = await send(k.fetcher, `/v1/kernels/${k.id}/debuglog`, undefined, k.token, "GET");
    assert.equal(log.http, 200);
    const [record] = log.body.records;
    assert.equal(record.pid, (await k.basic(proc)).koid);
    assert.equal(record.tid, (await k.basic(t)).koid);
    assert.match(record.text, /ZX_EXCP_FATAL_PAGE_FAULT at address 0x1000000, pc 0x1000000/);
    assert.match(record.text, /ZX_TASK_RETCODE_EXCEPTION_KILL/);
    // Only that process: the caller's own lives on.
    await k.ok("clock_get_monotonic");
  },
);

// ---------------------------------------------------------------------------
// zx_task_suspend / zx_task_suspend_token

for (const call of ["task_suspend", "task_suspend_token"]) {
  archTest(`${call}: BAD_HANDLE, then WRITE, then the object type`, async (k) => {
    assertStatus(await k.call(call, { handle: badValue(k) }), "ZX_ERR_BAD_HANDLE", 400);
    const t = await k.runningThread();
    const noWrite = await k.reduced(t, THREAD_RIGHTS & ~RIGHT.WRITE);
    const denied = await k.call(call, { handle: noWrite });
    assertStatus(denied, "ZX_ERR_ACCESS_DENIED", 403);
    assert.equal(denied.body.token, undefined);
    assert.equal(await k.threadState(t), STATE.RUNNING);
    // Jobs, VMARs and resources have WRITE but cannot be suspended.
    for (const handle of [k.handles.root_job, k.handles.vmar, k.handles.hypervisor_resource]) {
      assertStatus(await k.call(call, { handle }), "ZX_ERR_WRONG_TYPE", 400);
    }
    // The generic lookup checks rights before the type switch.
    const jobNoWrite = await k.reduced(k.handles.root_job, RIGHT.INSPECT);
    assertStatus(await k.call(call, { handle: jobNoWrite }), "ZX_ERR_ACCESS_DENIED", 403);
    const { token } = await k.ok(call, { handle: t });
    assertStatus(await k.call(call, { handle: token }), "ZX_ERR_ACCESS_DENIED", 403);
  });

  archTest(`${call}: the calling thread or process cannot suspend itself`, async (k) => {
    for (const handle of [k.handles.thread, await k.dup(k.handles.thread)]) {
      assertStatus(await k.call(call, { handle }), "ZX_ERR_NOT_SUPPORTED", 501);
    }
    for (const handle of [k.handles.process, await k.dup(k.handles.process)]) {
      assertStatus(await k.call(call, { handle }), "ZX_ERR_NOT_SUPPORTED", 501);
    }
    // Rights come first.
    const noWrite = await k.reduced(k.handles.thread, RIGHT.INSPECT);
    assertStatus(await k.call(call, { handle: noWrite }), "ZX_ERR_ACCESS_DENIED", 403);
    // Still running and able to call.
    assert.equal(await k.threadState(k.handles.thread), STATE.RUNNING);
    // Another thread of the caller's own process can be suspended.
    const t = await k.runningThread();
    const { token } = await k.ok(call, { handle: t });
    assert.equal(await k.threadState(t), STATE.SUSPENDED);
    await k.ok("handle_close", { handle: token });
  });
}

archTest(
  "task_suspend: a suspended thread is SUSPENDED with ZX_THREAD_SUSPENDED, not RUNNING",
  async (k) => {
    const t = await k.runningThread();
    assert.equal(await runState(k, t), SIGNAL.RUNNING);
    const { token } = await k.ok("task_suspend", { handle: t });
    assert.equal(await k.threadState(t), STATE.SUSPENDED);
    const suspended = await k.call("object_wait_one", {
      handle: t,
      signals: "ZX_THREAD_SUSPENDED",
      deadline: 0,
    });
    assert.equal(suspended.http, 200);
    assert.equal(suspended.body.observed & SIGNAL.SUSPENDED, SIGNAL.SUSPENDED);
    assert.equal(suspended.body.observed & SIGNAL.RUNNING, 0);
    const running = await k.call("object_wait_one", {
      handle: t,
      signals: "ZX_THREAD_RUNNING",
      deadline: 0,
    });
    assertStatus(running, "ZX_ERR_TIMED_OUT", 504);
    assert.equal(running.body.observed & (SIGNAL.RUNNING | SIGNAL.SUSPENDED), SIGNAL.SUSPENDED);
    // The token.
    const b = await k.basic(token);
    assert.equal(b.type, OBJ.SUSPEND_TOKEN);
    assert.equal(b.rights, 0x8002);
    assert.equal(b.related, 0);
    assert.notEqual(b.koid, (await k.basic(t)).koid);
    await k.ok("handle_close", { handle: token });
    assert.equal(await k.threadState(t), STATE.RUNNING);
    assert.equal(await runState(k, t), SIGNAL.RUNNING);
  },
);

archTest("task_suspend: tokens nest; closing the last one resumes", async (k) => {
  const t = await k.runningThread();
  const tokens = [];
  for (let i = 0; i < 3; i++) tokens.push((await k.ok("task_suspend", { handle: t })).token);
  assert.equal(new Set(tokens).size, 3);
  for (const token of tokens.slice(0, 2)) {
    await k.ok("handle_close", { handle: token });
    assert.equal(await k.threadState(t), STATE.SUSPENDED);
    assert.equal(await runState(k, t), SIGNAL.SUSPENDED);
  }
  await k.ok("handle_close", { handle: tokens[2] });
  assert.equal(await k.threadState(t), STATE.RUNNING);
  assert.equal(await runState(k, t), SIGNAL.RUNNING);
});

archTest("task_suspend: a NEW thread may be suspended and starts SUSPENDED", async (k) => {
  const t = await k.newThread();
  const { token } = await k.ok("task_suspend", { handle: t });
  // Nothing happens until it starts.
  assert.equal(await k.threadState(t), STATE.NEW);
  assert.equal(await k.signals(t), 0);
  assert.equal((await start(k, t)).http, 200);
  assert.equal(await k.threadState(t), STATE.SUSPENDED);
  assert.equal(await runState(k, t), SIGNAL.SUSPENDED);
  await k.ok("handle_close", { handle: token });
  assert.equal(await k.threadState(t), STATE.RUNNING);
  // Suspended and resumed before the start: starts running.
  const u = await k.newThread();
  await k.ok("handle_close", { handle: (await k.ok("task_suspend", { handle: u })).token });
  assert.equal((await start(k, u)).http, 200);
  assert.equal(await k.threadState(u), STATE.RUNNING);
});

archTest(
  "task_suspend: a process suspends its started threads and those started later",
  async (k) => {
    const { proc } = await newProcess(k);
    const first = await k.newThread(proc, "first");
    const waiting = await k.newThread(proc, "not-started");
    assert.equal((await start(k, first)).http, 200);
    const { token } = await k.ok("task_suspend", { handle: proc });
    assert.equal(await k.threadState(first), STATE.SUSPENDED);
    assert.equal(await runState(k, first), SIGNAL.SUSPENDED);
    // A NEW thread of the process is not affected until it starts...
    assert.equal(await k.threadState(waiting), STATE.NEW);
    // ...and then starts suspended.
    assert.equal((await start(k, waiting)).http, 200);
    assert.equal(await k.threadState(waiting), STATE.SUSPENDED);
    const late = await k.newThread(proc, "late");
    assert.equal((await start(k, late)).http, 200);
    assert.equal(await k.threadState(late), STATE.SUSPENDED);
    // The process itself keeps running (no process-level suspended state).
    assert.equal((await processInfo(k, proc)).flags, FLAG.STARTED);
    await k.ok("handle_close", { handle: token });
    for (const t of [first, waiting, late]) {
      assert.equal(await k.threadState(t), STATE.RUNNING);
      assert.equal(await runState(k, t), SIGNAL.RUNNING);
    }
  },
);

archTest(
  "task_suspend: a process suspended before it starts starts its threads suspended",
  async (k) => {
    const { proc } = await newProcess(k);
    const first = (await k.ok("task_suspend", { handle: proc })).token;
    const second = (await k.ok("task_suspend", { handle: proc })).token;
    const t = await k.newThread(proc);
    assert.equal((await start(k, t)).http, 200);
    assert.equal((await processInfo(k, proc)).flags, FLAG.STARTED);
    assert.equal(await k.threadState(t), STATE.SUSPENDED);
    await k.ok("handle_close", { handle: first });
    assert.equal(await k.threadState(t), STATE.SUSPENDED);
    await k.ok("handle_close", { handle: second });
    assert.equal(await k.threadState(t), STATE.RUNNING);
  },
);

archTest("task_suspend: process and thread tokens are independent counts", async (k) => {
  const { proc } = await newProcess(k);
  const t = await k.newThread(proc);
  assert.equal((await start(k, t)).http, 200);
  // Process first, closed first.
  let processToken = (await k.ok("task_suspend", { handle: proc })).token;
  let threadToken = (await k.ok("task_suspend", { handle: t })).token;
  await k.ok("handle_close", { handle: processToken });
  assert.equal(await k.threadState(t), STATE.SUSPENDED);
  await k.ok("handle_close", { handle: threadToken });
  assert.equal(await k.threadState(t), STATE.RUNNING);
  // Thread first, thread closed first.
  threadToken = (await k.ok("task_suspend", { handle: t })).token;
  processToken = (await k.ok("task_suspend", { handle: proc })).token;
  await k.ok("handle_close", { handle: threadToken });
  assert.equal(await k.threadState(t), STATE.SUSPENDED);
  assert.equal(await runState(k, t), SIGNAL.SUSPENDED);
  await k.ok("handle_close", { handle: processToken });
  assert.equal(await k.threadState(t), STATE.RUNNING);
  // Thread and process suspended before the start.
  const u = await k.newThread(proc);
  threadToken = (await k.ok("task_suspend", { handle: u })).token;
  processToken = (await k.ok("task_suspend", { handle: proc })).token;
  assert.equal((await start(k, u)).http, 200);
  assert.equal(await k.threadState(u), STATE.SUSPENDED);
  await k.ok("handle_close", { handle: processToken });
  assert.equal(await k.threadState(u), STATE.SUSPENDED);
  assert.equal(await k.threadState(t), STATE.RUNNING);
  await k.ok("handle_close", { handle: threadToken });
  assert.equal(await k.threadState(u), STATE.RUNNING);
});

archTest(
  "task_suspend: after death is BAD_STATE (a NEW thread can still be suspended)",
  async (k) => {
    const { proc } = await newProcess(k);
    const t = await k.newThread(proc);
    const unstarted = await k.newThread(proc);
    assert.equal((await start(k, t)).http, 200);
    await k.ok("task_kill", { handle: proc });
    for (const call of ["task_suspend", "task_suspend_token"]) {
      const dead = await k.call(call, { handle: t });
      assertStatus(dead, "ZX_ERR_BAD_STATE", 409);
      assert.equal(dead.body.token, undefined);
      assertStatus(await k.call(call, { handle: proc }), "ZX_ERR_BAD_STATE", 409);
    }
    // ThreadDispatcher::Suspend only counts a suspension on a never-started thread.
    const { token } = await k.ok("task_suspend", { handle: unstarted });
    assert.equal(await k.threadState(unstarted), STATE.NEW);
    await k.ok("handle_close", { handle: token });
    // A never-started process that was killed cannot be suspended either.
    const other = (await newProcess(k)).proc;
    await k.ok("task_kill", { handle: other });
    assertStatus(await k.call("task_suspend", { handle: other }), "ZX_ERR_BAD_STATE", 409);
  },
);

Deno.test("task_suspend: a client thread can suspend the bootstrap thread of its process", async () => {
  const k = await TestKernel.create();
  const worker = await k.newThread();
  const workerToken = await k.clientToken(worker);
  // Same process: the bootstrap process's handle values work for the worker.
  const { token } = await k.ok("task_suspend", { handle: k.handles.thread }, workerToken);
  assert.equal(
    (await k.ok(
      "object_get_info",
      { handle: k.handles.thread, topic: "ZX_INFO_THREAD" },
      workerToken,
    ))
      .info.state,
    STATE.SUSPENDED,
  );
  // The suspended bootstrap thread cannot make calls.
  assertStatus(await k.call("clock_get_monotonic"), "ZX_ERR_BAD_STATE", 409);
  // But the worker cannot suspend itself.
  assertStatus(
    await k.call("task_suspend", { handle: worker }, workerToken),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  await k.ok("handle_close", { handle: token }, workerToken);
  assert.equal(await k.threadState(k.handles.thread), STATE.RUNNING);
});

// ---------------------------------------------------------------------------
// zx_task_kill

archTest("task_kill: DESTROY is checked before the type; threads are WRONG_TYPE", async (k) => {
  assertStatus(await k.call("task_kill", { handle: badValue(k) }), "ZX_ERR_BAD_HANDLE", 400);
  const { proc } = await newProcess(k);
  const noDestroy = await k.reduced(proc, PROCESS_RIGHTS & ~RIGHT.DESTROY);
  assertStatus(await k.call("task_kill", { handle: noDestroy }), "ZX_ERR_ACCESS_DENIED", 403);
  assert.equal((await processInfo(k, proc)).flags, 0);
  const t = await k.runningThread();
  assertStatus(await k.call("task_kill", { handle: t }), "ZX_ERR_WRONG_TYPE", 400);
  assert.equal(await k.threadState(t), STATE.RUNNING);
  const threadNoDestroy = await k.reduced(t, THREAD_RIGHTS & ~RIGHT.DESTROY);
  assertStatus(await k.call("task_kill", { handle: threadNoDestroy }), "ZX_ERR_ACCESS_DENIED", 403);
  // VMARs, resources and tokens carry no DESTROY right.
  const { token } = await k.ok("task_suspend", { handle: t });
  for (const handle of [k.handles.vmar, k.handles.hypervisor_resource, token]) {
    assertStatus(await k.call("task_kill", { handle }), "ZX_ERR_ACCESS_DENIED", 403);
  }
  const jobNoDestroy = await k.reduced(k.handles.root_job, RIGHT.INSPECT | RIGHT.WRITE);
  assertStatus(await k.call("task_kill", { handle: jobNoDestroy }), "ZX_ERR_ACCESS_DENIED", 403);
  // The caller is unharmed.
  await k.ok("clock_get_monotonic");
});

archTest(
  "task_kill: a process with started threads: threads DEAD, TERMINATED, -1024",
  async (k) => {
    const { proc } = await newProcess(k);
    const running = await k.newThread(proc, "running");
    const suspended = await k.newThread(proc, "suspended");
    const unstarted = await k.newThread(proc, "unstarted");
    assert.equal((await start(k, running)).http, 200);
    assert.equal((await start(k, suspended)).http, 200);
    const { token } = await k.ok("task_suspend", { handle: suspended });
    const startTime = (await processInfo(k, proc)).startTime;
    assert.ok(startTime > 0n);

    const reply = await k.call("task_kill", { handle: proc });
    assert.equal(reply.http, 200);
    assert.deepEqual(reply.body, { status: "ZX_OK", code: 0 });

    for (const t of [running, suspended]) {
      const info = await threadInfo(k, t);
      assert.equal(info.state, STATE.DEAD);
      assert.deepEqual(
        info.cpu_affinity_mask.mask.map((w: string) => BigInt(w)),
        new Array(8).fill(0n),
      );
      assert.equal(await k.signals(t), SIGNAL.TERMINATED);
    }
    // A thread that never started is left alone.
    assert.equal(await k.threadState(unstarted), STATE.NEW);
    assert.equal(await k.signals(proc) & SIGNAL.TERMINATED, SIGNAL.TERMINATED);
    const waited = await k.call("object_wait_one", {
      handle: proc,
      signals: "ZX_PROCESS_TERMINATED",
      deadline: 0,
    });
    assert.equal(waited.http, 200);
    const body = await k.ok("object_get_info", { handle: proc, topic: "ZX_INFO_PROCESS" });
    assert.equal(body.info.return_code, "0xfffffffffffffc00");
    const info = await processInfo(k, proc);
    assert.equal(info.returnCode, RETCODE_SYSCALL_KILL);
    assert.equal(info.flags, FLAG.STARTED | FLAG.EXITED);
    assert.equal(info.startTime, startTime);
    // The dead thread's token can still be closed.
    await k.ok("handle_close", { handle: token });
    assert.equal(await k.threadState(suspended), STATE.DEAD);
  },
);

archTest("task_kill: a never-started process dies at once with start_time 0", async (k) => {
  const { proc } = await newProcess(k);
  await k.newThread(proc);
  await k.ok("task_kill", { handle: proc });
  assert.equal(await k.signals(proc), SIGNAL.TERMINATED);
  assert.deepEqual(await processInfo(k, proc), {
    returnCode: RETCODE_SYSCALL_KILL,
    startTime: 0n,
    flags: FLAG.STARTED | FLAG.EXITED,
  });
});

archTest("task_kill: killing a dead process again is OK and changes nothing", async (k) => {
  const { proc } = await newProcess(k);
  assert.equal((await start(k, await k.newThread(proc))).http, 200);
  await k.ok("task_kill", { handle: proc });
  const first = await processInfo(k, proc);
  await k.ok("task_kill", { handle: proc });
  await k.ok("task_kill", { handle: await k.dup(proc) });
  assert.deepEqual(await processInfo(k, proc), first);
});

archTest(
  "task_kill: a killed process's handles are closed (its suspend token resumes)",
  async (k) => {
    // A thread of another process, driven by a client.
    const { proc } = await newProcess(k);
    const worker = await k.newThread(proc, "worker");
    const workerToken = await k.clientToken(worker);
    await k.ok("clock_get_monotonic", {}, workerToken);
    // The bootstrap process holds a token suspending the worker...
    await k.ok("task_suspend", { handle: worker });
    assertStatus(await k.call("clock_get_monotonic", {}, workerToken), "ZX_ERR_BAD_STATE", 409);
    // ...and then kills itself: its handle table is emptied, the token's last handle goes.
    const reply = await k.call("task_kill", { handle: k.handles.process });
    assert.equal(reply.http, 200);
    assert.equal(reply.body.status, "ZX_OK");
    await k.ok("clock_get_monotonic", {}, workerToken);
    const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, workerToken, "GET");
    const processes: Json[] = summary.body.root_job.processes;
    const listed = processes.flatMap((p) => p.threads).find((t: Json) => t.name === "worker");
    assert.equal(listed.lifecycle, "RUNNING");
    assert.equal(listed.suspend_count, 0);
  },
);

archTest(
  "task_kill: killing the caller's own process succeeds; its threads then get BAD_STATE",
  async (k) => {
    const sibling = await k.newThread(k.handles.process, "sibling");
    const siblingToken = await k.clientToken(sibling);
    const reply = await k.call("task_kill", { handle: k.handles.process });
    assert.equal(reply.http, 200);
    assert.deepEqual(reply.body, { status: "ZX_OK", code: 0 });
    for (const token of [k.token, siblingToken]) {
      const after = await k.call("clock_get_monotonic", {}, token);
      assertStatus(after, "ZX_ERR_BAD_STATE", 409);
      assert.equal(after.body.code, -20);
      assertStatus(await k.call("handle_close", { handle: 0 }, token), "ZX_ERR_BAD_STATE", 409);
    }
  },
);

archTest("task_kill: killing a job kills its processes", async (k) => {
  const { proc } = await newProcess(k);
  const worker = await k.newThread(proc, "worker");
  const workerToken = await k.clientToken(worker);
  await k.ok("clock_get_monotonic", {}, workerToken);
  // The only job is the root job, which also holds the caller's process.
  const reply = await k.call("task_kill", { handle: k.handles.root_job });
  assert.equal(reply.http, 200);
  assert.equal(reply.body.status, "ZX_OK");
  assertStatus(await k.call("clock_get_monotonic", {}, workerToken), "ZX_ERR_BAD_STATE", 409);
  assertStatus(await k.call("clock_get_monotonic"), "ZX_ERR_BAD_STATE", 409);
  const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  assert.equal(summary.http, 200);
  assert.equal(summary.body.root_job.dead, true);
  assert.deepEqual(summary.body.root_job.processes, []);
});
