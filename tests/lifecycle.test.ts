// Lifecycle rules that span several objects.

import assert from "node:assert/strict";
import { archTest, assertStatus, inProcess, type Json, send, TestKernel } from "./helpers.ts";

Deno.test("closing the last handle of a never-started process ends it", async () => {
  const k = await TestKernel.create();
  const { proc_handle, vmar_handle } = await k.ok("process_create", {
    job: k.handles.root_job,
    name: "orphan",
  });
  const thread = await k.newThread(proc_handle);
  await k.ok("handle_close", { handle: proc_handle });
  // The process is gone from its job, and its thread can no longer start.
  const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  const names = summary.body.root_job.processes.map((p: Json) => p.name);
  assert.deepEqual(names, ["bootstrap"]);
  assertStatus(
    await k.call("thread_start", { handle: thread, thread_entry: 0, stack: 0 }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  // Handles to its other objects stay valid.
  await k.ok("object_get_info", { handle: vmar_handle, topic: "ZX_INFO_HANDLE_VALID" });
});

Deno.test("a started process outlives its handles", async () => {
  const k = await TestKernel.create();
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  const thread = await k.newThread(proc_handle);
  await k.ok("thread_start", { handle: thread, thread_entry: 0, stack: 0 });
  await k.ok("handle_close", { handle: proc_handle });
  const info = await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_THREAD" });
  assert.equal(info.info.state, 1);
  const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  assert.ok(summary.body.root_job.processes.some((p: Json) => p.name === "p"));
});

Deno.test("deleting a kernel ends a blocked call of one of its threads", async () => {
  const k = await TestKernel.create();
  const waiter = await k.newThread();
  const target = await k.runningThread();
  const minted = await send(k.fetcher, `/v1/kernels/${k.id}/tokens`, { thread: waiter }, k.token);
  const pending = k.call("object_wait_one", {
    handle: target,
    signals: "ZX_THREAD_SUSPENDED",
  }, minted.body.token);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "DELETE");
  const reply = await pending;
  assertStatus(reply, "ZX_ERR_INTERNAL_INTR_KILLED", 409);
});

Deno.test("limits: kernels per server", async () => {
  const fetcher = inProcess({ maxKernels: 2 });
  const a = await TestKernel.create(fetcher);
  await TestKernel.create(fetcher);
  const third = await send(fetcher, "/v1/kernels", {});
  assertStatus(third, "ZX_ERR_NO_RESOURCES", 503);
  await send(fetcher, `/v1/kernels/${a.id}`, undefined, a.token, "DELETE");
  await TestKernel.create(fetcher);
});

Deno.test("limits: live handles per kernel give NO_MEMORY with nothing half-done", async () => {
  // The bootstrap process starts with 5 handles; allow 3 more.
  const k = await TestKernel.create(inProcess({ maxHandles: 8 }));
  const thread = await k.newThread();
  await k.newThread();
  // process_create needs two handles (process and root VMAR): refused whole.
  const process = await k.call("process_create", { job: k.handles.root_job, name: "big" });
  assertStatus(process, "ZX_ERR_NO_MEMORY", 503);
  const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  assert.equal(summary.body.root_job.processes.length, 1);
  await k.newThread();
  // The arena is full: a suspend that cannot return its token suspends nothing.
  await k.ok("thread_start", { handle: thread, thread_entry: 0, stack: 0 });
  assertStatus(await k.call("task_suspend", { handle: thread }), "ZX_ERR_NO_MEMORY", 503);
  const info = await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_THREAD" });
  assert.equal(info.info.state, 1, "still RUNNING");
  assertStatus(
    await k.call("handle_duplicate", { handle: thread, rights: 0 }),
    "ZX_ERR_NO_MEMORY",
    503,
  );
  // handle_replace keeps its source when it cannot make the new handle.
  assertStatus(
    await k.call("handle_replace", { handle: thread, rights: 0 }),
    "ZX_ERR_NO_MEMORY",
    503,
  );
  await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_HANDLE_VALID" });
  // Closing a handle makes room again.
  await k.ok("handle_close", { handle: k.handles.vmar });
  const { token } = await k.ok("task_suspend", { handle: thread });
  assert.equal(typeof token, "number");
});

Deno.test("job_create: child jobs, rights, order of checks, depth", async () => {
  const k = await TestKernel.create();
  const root = await k.basic(k.handles.root_job);
  const child = (await k.ok("job_create", { parent_job: k.handles.root_job })).out;
  const info = await k.basic(child);
  assert.equal(info.type, 17);
  assert.equal(info.rights, 0x7dfcf);
  assert.equal(info.related, root.koid);
  // options are checked before the handle.
  assertStatus(
    await k.call("job_create", { parent_job: 4, options: 1 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(await k.call("job_create", { parent_job: 4 }), "ZX_ERR_BAD_HANDLE", 400);
  assertStatus(
    await k.call("job_create", { parent_job: k.handles.process }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  // WRITE is accepted in place of MANAGE_JOB; neither is ACCESS_DENIED.
  const writeOnly = await k.reduced(child, 0x8);
  await k.ok("job_create", { parent_job: writeOnly });
  const neither = await k.reduced(child, 0x1);
  assertStatus(await k.call("job_create", { parent_job: neither }), "ZX_ERR_ACCESS_DENIED", 403);
  // 32 levels below the root at most.
  let parent = child;
  for (let depth = 2; depth <= 32; depth++) {
    parent = (await k.ok("job_create", { parent_job: parent })).out;
  }
  assertStatus(await k.call("job_create", { parent_job: parent }), "ZX_ERR_OUT_OF_RANGE", 400);
});

Deno.test("a killed job takes its processes with it and accepts no new children", async () => {
  const k = await TestKernel.create();
  const job = (await k.ok("job_create", { parent_job: k.handles.root_job })).out;
  const grandchild = (await k.ok("job_create", { parent_job: job })).out;
  const { proc_handle } = await k.ok("process_create", { job: grandchild, name: "p" });
  const thread = await k.newThread(proc_handle);
  await k.ok("thread_start", { handle: thread, thread_entry: 0, stack: 0 });
  await k.ok("task_kill", { handle: job });
  for (const task of [job, grandchild, proc_handle, thread]) {
    const seen = await k.ok("object_wait_one", {
      handle: task,
      signals: "ZX_TASK_TERMINATED",
      deadline: 0,
    });
    assert.equal(seen.observed & 0x8, 0x8);
  }
  assert.equal(await k.threadState(thread), 5);
  assertStatus(await k.call("job_create", { parent_job: job }), "ZX_ERR_BAD_STATE", 409);
  assertStatus(await k.call("process_create", { job: grandchild }), "ZX_ERR_BAD_STATE", 409);
  // The bootstrap process, in the root job, lives on.
  assert.equal(await k.threadState(k.handles.thread), 1);
});

archTest("a NEW thread whose last handle is closed is destroyed", async (k) => {
  const thread = await k.newThread(k.handles.process, "ephemeral");
  const koid = (await k.basic(thread)).koid;
  const listed = async () => {
    const { body } = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
    // deno-lint-ignore no-explicit-any
    return body.root_job.processes[0].threads.some((t: any) => t.koid === koid);
  };
  assert.ok(await listed());
  await k.ok("handle_close", { handle: thread });
  assert.equal(await listed(), false, "gone from the summary");
});

archTest("a dead thread goes once nobody holds it; a running one lives on", async (k) => {
  const running = await k.runningThread();
  const koid = (await k.basic(running)).koid;
  const threads = async () => {
    const { body } = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
    // deno-lint-ignore no-explicit-any
    return body.root_job.processes[0].threads.map((t: any) => t.koid);
  };
  // Closing the only handle of a running thread does not stop it: the kernel holds it.
  const spare = await k.dup(running);
  await k.ok("handle_close", { handle: running });
  assert.ok((await threads()).includes(koid));
  assert.equal(await k.threadState(spare), 1, "still RUNNING");
  await k.ok("handle_close", { handle: spare });
  assert.ok((await threads()).includes(koid), "running, held by the kernel");
  // A thread that died is listed (DEAD) while a handle holds it, and goes with the last one.
  const { thread: leaver, token } = await k.clientThread("leaver");
  const leaverKoid = (await k.basic(leaver)).koid;
  await k.ok("thread_exit", {}, token);
  assert.ok((await threads()).includes(leaverKoid));
  await k.ok("handle_close", { handle: leaver });
  assert.equal((await threads()).includes(leaverKoid), false);
});

Deno.test("a job nobody holds and with nothing in it is destroyed and leaves its parent", async () => {
  const k = await TestKernel.create();
  const childNames = async () => {
    const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
    return summary.body.root_job.jobs.map((j: Json) => j.koid);
  };
  const koidOf = async (handle: number) =>
    Number((await k.ok("object_get_info", { handle, topic: "ZX_INFO_HANDLE_BASIC" })).info.koid);

  // An empty job goes with its last handle.
  const { out: empty } = await k.ok("job_create", { parent_job: k.handles.root_job, options: 0 });
  const emptyKoid = await koidOf(empty);
  assert.ok((await childNames()).includes(emptyKoid));
  await k.ok("handle_close", { handle: empty });
  assert.ok(!(await childNames()).includes(emptyKoid));

  // A job with a child job lives until the child goes; then both go.
  const { out: outer } = await k.ok("job_create", { parent_job: k.handles.root_job, options: 0 });
  const { out: inner } = await k.ok("job_create", { parent_job: outer, options: 0 });
  const outerKoid = await koidOf(outer);
  await k.ok("handle_close", { handle: outer });
  assert.ok((await childNames()).includes(outerKoid), "held by its child");
  await k.ok("handle_close", { handle: inner });
  assert.ok(!(await childNames()).includes(outerKoid), "gone with its child");

  // A job holding a live process stays; when the process dies, the job goes.
  const { out: holder } = await k.ok("job_create", { parent_job: k.handles.root_job, options: 0 });
  const holderKoid = await koidOf(holder);
  const { proc_handle } = await k.ok("process_create", { job: holder, name: "p" });
  const thread = await k.newThread(proc_handle);
  await k.ok("thread_start", { handle: thread, thread_entry: 0, stack: 0 });
  await k.ok("handle_close", { handle: holder });
  assert.ok((await childNames()).includes(holderKoid), "held by its process");
  await k.ok("task_kill", { handle: proc_handle });
  assert.ok(!(await childNames()).includes(holderKoid), "gone once its process died");
});
