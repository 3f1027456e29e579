// Per-kernel and per-server limits (README "Limits"): objects, threads per
// process, blocked calls, the create credential, and a summary that stays
// bounded however large a kernel grows.

import assert from "node:assert/strict";
import { assertStatus, inProcess, type Json, send, TestKernel } from "./helpers.ts";
import { kernelSummarySchema } from "../routes/kernels.ts";

async function summary(k: TestKernel, query = ""): Promise<Json> {
  const reply = await send(k.fetcher, `/v1/kernels/${k.id}${query}`, undefined, k.token, "GET");
  assert.equal(reply.http, 200, JSON.stringify(reply.body));
  return reply.body;
}

/** One batch of calls; every one must succeed. Returns each call's reply body. */
async function batch(k: TestKernel, calls: Json[]): Promise<Json[]> {
  const reply = await send(k.fetcher, "/v1/zx/batch", { calls }, k.token);
  assert.equal(reply.http, 200, JSON.stringify(reply.body).slice(0, 300));
  assert.equal(reply.body.ended, "complete", JSON.stringify(reply.body.results.at(-1)));
  return reply.body.results.map((r: Json) => r.body);
}

function bootstrap(s: Json): Json {
  return s.root_job.processes.find((p: Json) => p.name === "bootstrap");
}

Deno.test("limits: 20,000 create-then-close threads leave no trace (probe finding 4)", async () => {
  const k = await TestKernel.create();
  const before = await summary(k);
  const create = Array.from({ length: 1000 }, () => ({
    name: "thread_create",
    args: { process: k.handles.process, name: "t" },
  }));
  for (let round = 0; round < 20; round++) {
    const outs = await batch(k, create);
    await batch(k, outs.map((o) => ({ name: "handle_close", args: { handle: o.out } })));
  }
  const after = await summary(k);
  assert.equal(bootstrap(after).thread_count, bootstrap(before).thread_count);
  assert.equal(bootstrap(after).threads.length, bootstrap(before).threads.length);
  assert.equal(after.limits.objects.used, before.limits.objects.used);
  assert.equal(after.limits.handles.used, before.limits.handles.used);
  assert.equal(after.limits.committed_bytes.used, before.limits.committed_bytes.used);
  assert.equal(after.limits.threads_per_process.used, before.limits.threads_per_process.used);
});

Deno.test("limits: threads per process give NO_MEMORY with nothing half-done (finding 5)", async () => {
  const k = await TestKernel.create(inProcess(), { limits: { threads_per_process: 4 } });
  const s = await summary(k);
  assert.deepEqual(s.limits.threads_per_process, { limit: 4, used: 1 });
  const threads = [await k.newThread(), await k.newThread(), await k.newThread()];
  const handlesBefore = (await summary(k)).limits.handles.used;
  const objectsBefore = (await summary(k)).limits.objects.used;
  const refused = await k.call("thread_create", { process: k.handles.process, name: "fifth" });
  assertStatus(refused, "ZX_ERR_NO_MEMORY", 503);
  const after = await summary(k);
  assert.equal(after.limits.handles.used, handlesBefore);
  assert.equal(after.limits.objects.used, objectsBefore);
  assert.equal(bootstrap(after).thread_count, 4);
  // Another process has its own count.
  const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "p" });
  await k.newThread(proc_handle);
  // A destroyed thread makes room.
  await k.ok("handle_close", { handle: threads[0] });
  await k.newThread();
});

Deno.test("limits: live objects per kernel give NO_MEMORY; closing frees them", async () => {
  const k = await TestKernel.create(inProcess({ maxObjects: 40 }), { limits: { objects: 10 } });
  const s = await summary(k);
  assert.equal(s.limits.objects.limit, 10);
  const room = 10 - s.limits.objects.used;
  assert.ok(room >= 4, `room ${room}`);
  const vmos: number[] = [];
  for (let i = 0; i < room - 1; i++) vmos.push((await k.ok("vmo_create", { size: 4096 })).out);
  // A channel is two objects: refused whole, no handle made.
  const handles = (await summary(k)).limits.handles.used;
  assertStatus(await k.call("channel_create", {}), "ZX_ERR_NO_MEMORY", 503);
  assert.equal((await summary(k)).limits.handles.used, handles);
  await k.ok("port_create", {});
  assertStatus(await k.call("vmo_create", { size: 4096 }), "ZX_ERR_NO_MEMORY", 503);
  assertStatus(await k.call("port_create", {}), "ZX_ERR_NO_MEMORY", 503);
  assertStatus(
    await k.call("job_create", { parent_job: k.handles.root_job }),
    "ZX_ERR_NO_MEMORY",
    503,
  );
  assertStatus(
    await k.call("process_create", { job: k.handles.root_job, name: "p" }),
    "ZX_ERR_NO_MEMORY",
    503,
  );
  assertStatus(
    await k.call("thread_create", { process: k.handles.process, name: "t" }),
    "ZX_ERR_NO_MEMORY",
    503,
  );
  assert.equal((await summary(k)).limits.objects.used, 10);
  // A VMO goes when its last handle does: room for the channel again.
  await k.ok("handle_close", { handle: vmos.pop()! });
  await k.ok("handle_close", { handle: vmos.pop()! });
  await k.ok("channel_create", {});
});

Deno.test("limits: a kernel may lower the server's limits, never raise them", async () => {
  const fetcher = inProcess({ maxObjects: 500, maxThreadsPerProcess: 50 });
  const raised = await send(fetcher, "/v1/kernels", { limits: { objects: 501 } });
  assertStatus(raised, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(raised.body.message, /limits\.objects/);
  const unknown = await send(fetcher, "/v1/kernels", { limits: { bogus: 1 } });
  assertStatus(unknown, "ZX_ERR_INVALID_ARGS", 400);
  const tooFew = await send(fetcher, "/v1/kernels", { limits: { handles: 4 } });
  assertStatus(tooFew, "ZX_ERR_INVALID_ARGS", 400);
  const k = await TestKernel.create(fetcher, { limits: { handles: 100 } });
  const s = await summary(k);
  assert.equal(s.limits.objects.limit, 500);
  assert.equal(s.limits.threads_per_process.limit, 50);
  assert.equal(s.limits.handles.limit, 100);
  assert.equal(s.limits.kernels.used, 1);
  assert.equal(s.limits.blocked_calls.used, 0);
  assert.ok(kernelSummarySchema.safeParse(s).success);
});

Deno.test("limits: blocked calls per server give NO_RESOURCES before the call runs", async () => {
  const fetcher = inProcess({ maxBlockedCalls: 1 });
  const k = await TestKernel.create(fetcher);
  const other = await TestKernel.create(fetcher);
  const { token } = await k.clientThread();
  const pending = k.call("object_wait_one", {
    handle: k.handles.root_job,
    signals: "ZX_JOB_TERMINATED",
  }, token);
  // Wait (generously) until the first call is counted as blocked.
  for (let i = 0; i < 200 && (await summary(k)).limits.blocked_calls.used === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal((await summary(k)).limits.blocked_calls.used, 1);
  // Any kernel's call that may block is refused whole; others go on.
  const refused = await other.call("nanosleep", { deadline: 0 });
  assertStatus(refused, "ZX_ERR_NO_RESOURCES", 503);
  // vcpu_enter may block too (a guest waiting in hlt): refused before it checks its handle.
  const enter = await other.call("vcpu_enter", { handle: other.handles.root_job });
  assertStatus(enter, "ZX_ERR_NO_RESOURCES", 503);
  await other.ok("clock_get_monotonic");
  const batched = await send(other.fetcher, "/v1/zx/batch", {
    calls: [{ name: "object_wait_one", args: { handle: other.handles.root_job, signals: 8 } }],
  }, other.token);
  assert.equal(batched.body.results[0].http, 503);
  // The blocked call ends (its kernel is deleted): room again.
  await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "DELETE");
  assertStatus(await pending, "ZX_ERR_INTERNAL_INTR_KILLED", 409);
  await other.ok("nanosleep", { deadline: 0 });
});

Deno.test("limits: ZXSIM_CREATE_TOKEN keeps strangers from creating kernels (finding 7)", async () => {
  const fetcher = inProcess({ createToken: "s3cret-create" });
  assertStatus(await send(fetcher, "/v1/kernels", {}), "ZX_ERR_ACCESS_DENIED", 401);
  assertStatus(await send(fetcher, "/v1/kernels", {}, "guess"), "ZX_ERR_ACCESS_DENIED", 401);
  assertStatus(
    await send(fetcher, "/v1/kernels", {}, "s3cret-create!"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
  const created = await send(fetcher, "/v1/kernels", {}, "s3cret-create");
  assert.equal(created.http, 201);
  // The kernel's own token works as usual; it is not a create credential.
  assertStatus(
    await send(fetcher, "/v1/kernels", {}, created.body.token),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
});

Deno.test("limits: a huge handle table gives a bounded summary, quickly (finding 7)", async () => {
  const k = await TestKernel.create();
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  const dup = { name: "handle_duplicate", args: { handle: vmo, rights: "ZX_RIGHT_SAME_RIGHTS" } };
  for (let i = 0; i < 10; i++) await batch(k, Array.from({ length: 10_000 }, () => dup));
  const start = performance.now();
  const s = await summary(k);
  const ms = performance.now() - start;
  const boot = bootstrap(s);
  assert.ok(boot.handle_count > 100_000, `${boot.handle_count}`);
  assert.equal(boot.handles.length, 1000);
  assert.equal(boot.truncated, true);
  assert.equal(s.page.limit, 1000);
  assert.ok(ms < 5000, `the summary took ${ms} ms`);
  assert.ok(kernelSummarySchema.safeParse(s).success);
  // Paging: another window of the same table.
  const page = bootstrap(await summary(k, "?offset=1000&limit=10"));
  assert.equal(page.handles.length, 10);
  assert.equal(page.handle_count, boot.handle_count);
  assert.notEqual(page.handles[0].handle, boot.handles[0].handle);
  const tail = bootstrap(await summary(k, `?offset=${boot.handle_count - 3}`));
  assert.equal(tail.handles.length, 3);
  for (const bad of ["?limit=10001", "?offset=-1", "?limit=x"]) {
    const reply = await send(k.fetcher, `/v1/kernels/${k.id}${bad}`, undefined, k.token, "GET");
    assertStatus(reply, "ZX_ERR_INVALID_ARGS", 400);
  }
});
