// The HTTP contract: kernels, tokens, authentication, isolation, body
// handling, reply shapes, and the OpenAPI document.

import assert from "node:assert/strict";
import { assertStatus, inProcess, type Json, send, TestKernel } from "./helpers.ts";

Deno.test("POST /v1/kernels: defaults to x64 with debugging syscalls on", async () => {
  const fetcher = inProcess();
  const reply = await send(fetcher, "/v1/kernels", undefined);
  assert.equal(reply.http, 201);
  assert.equal(reply.body.arch, "x64");
  assert.equal(typeof reply.body.kernel, "string");
  for (const name of ["root_job", "hypervisor_resource", "process", "vmar", "thread"]) {
    const value = reply.body.handles[name];
    assert.equal(typeof value, "number", name);
    assert.equal(value & 3, 3, `${name} has its two low bits set`);
    assert.notEqual(value, 0);
  }
  const k = new TestKernel(fetcher, reply.body.kernel, "x64", reply.body.token, reply.body.handles);
  const summary = await send(fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  assert.equal(summary.http, 200);
  assert.deepEqual(summary.body.boot_options, {
    enable_debugging_syscalls: true,
    scheduler: "free",
  });
});

Deno.test("POST /v1/kernels: arm64 and boot options; bad bodies are 400 naming the field", async () => {
  const fetcher = inProcess();
  const arm = await send(fetcher, "/v1/kernels", {
    arch: "arm64",
    boot_options: { enable_debugging_syscalls: false },
  });
  assert.equal(arm.http, 201);
  assert.equal(arm.body.arch, "arm64");
  const summary = await send(
    fetcher,
    `/v1/kernels/${arm.body.kernel}`,
    undefined,
    arm.body.token,
    "GET",
  );
  assert.deepEqual(summary.body.boot_options, {
    enable_debugging_syscalls: false,
    scheduler: "free",
  });

  const badArch = await send(fetcher, "/v1/kernels", { arch: "riscv64" });
  assertStatus(badArch, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(badArch.body.message, /^arch:/);
  const unknown = await send(fetcher, "/v1/kernels", { arch: "x64", colour: "red" });
  assertStatus(unknown, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(unknown.body.message, /colour/);
  const badOption = await send(fetcher, "/v1/kernels", {
    boot_options: { enable_debugging_syscalls: "yes" },
  });
  assertStatus(badOption, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(badOption.body.message, /enable_debugging_syscalls/);
  const malformed = await send(fetcher, "/v1/kernels", "{not json");
  assertStatus(malformed, "ZX_ERR_INVALID_ARGS", 400);
});

Deno.test("tokens are unguessable and differ per kernel", async () => {
  const fetcher = inProcess();
  const tokens = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const { token } = await TestKernel.create(fetcher);
    // 128 bits need at least 22 base64 characters.
    assert.ok(token.length >= 22, token);
    tokens.add(token);
  }
  assert.equal(tokens.size, 5);
});

Deno.test("GET and DELETE /v1/kernels/{id} need a token of that kernel", async () => {
  const fetcher = inProcess();
  const a = await TestKernel.create(fetcher);
  const b = await TestKernel.create(fetcher);
  assertStatus(
    await send(fetcher, `/v1/kernels/${a.id}`, undefined, undefined, "GET"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
  assertStatus(
    await send(fetcher, `/v1/kernels/${a.id}`, undefined, b.token, "GET"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
  assertStatus(
    await send(fetcher, `/v1/kernels/${a.id}`, undefined, b.token, "DELETE"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
  assertStatus(
    await send(fetcher, `/v1/kernels/nope`, undefined, a.token, "GET"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );

  const summary = await send(fetcher, `/v1/kernels/${a.id}`, undefined, a.token, "GET");
  assert.equal(summary.http, 200);
  assert.equal(summary.body.kernel, a.id);
  assert.equal(summary.body.arch, "x64");
  const boot = summary.body.root_job.processes[0];
  assert.equal(boot.name, "bootstrap");
  assert.equal(boot.threads[0].state, 1, "the bootstrap thread is RUNNING");
  assert.ok(boot.threads[0].driven_by_client);
  assert.deepEqual(
    boot.handles.map((h: Json) => h.handle).sort(),
    Object.values(a.handles).sort(),
  );
  // `caller` says which thread (and process) this token makes syscalls as.
  assert.deepEqual(summary.body.caller, { thread: boot.threads[0].koid, process: boot.koid });

  const deleted = await fetcher(`/v1/kernels/${a.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${a.token}` },
  });
  assert.equal(deleted.status, 204);
  await deleted.body?.cancel();
  assertStatus(
    await send(fetcher, `/v1/kernels/${a.id}`, undefined, a.token, "GET"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
  assertStatus(await a.call("handle_close", { handle: 0 }), "ZX_ERR_ACCESS_DENIED", 401);
  // The other kernel is untouched.
  await b.ok("handle_close", { handle: 0 });
});

Deno.test("syscalls without a valid bearer token are 401", async () => {
  const k = await TestKernel.create();
  const variants: Record<string, string>[] = [
    {},
    { authorization: "Bearer" },
    { authorization: "Basic abc" },
    { authorization: "Bearer not-a-token" },
  ];
  for (const headers of variants) {
    const response = await k.fetcher("/v1/zx/handle_close", {
      method: "POST",
      headers,
      body: '{"handle":0}',
    });
    assert.equal(response.status, 401);
    const body = await response.json();
    assert.equal(body.status, "ZX_ERR_ACCESS_DENIED");
    assert.equal(typeof body.message, "string");
  }
  const mx = await send(k.fetcher, "/v1/mx/handle_close", { handle: 0 }, "nope");
  assertStatus(mx, "MX_ERR_ACCESS_DENIED", 401);
});

Deno.test("unknown syscalls and routes are 404", async () => {
  const k = await TestKernel.create();
  const zx = await k.call("thread_frobnicate", {});
  assertStatus(zx, "ZX_ERR_BAD_SYSCALL", 404);
  assert.equal(zx.body.code, -13);
  assertStatus(await k.mx("thread_frobnicate", {}), "MX_ERR_BAD_SYSCALL", 404);
  const route = await send(k.fetcher, "/v2/whatever", {}, k.token);
  assert.equal(route.http, 404);
  assert.equal(route.body.status, "ZX_ERR_NOT_FOUND");
});

Deno.test("bodies: malformed JSON, wrong types, unknown fields, and the 1 MiB limit", async () => {
  const k = await TestKernel.create();
  const malformed = await send(k.fetcher, "/v1/zx/handle_close", "{", k.token);
  assertStatus(malformed, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(malformed.body.message, /JSON/);
  const mxMalformed = await send(k.fetcher, "/v1/mx/handle_close", "[", k.token);
  assertStatus(mxMalformed, "MX_ERR_INVALID_ARGS", 400);

  const wrongType = await k.call("handle_close", { handle: "seven" });
  assertStatus(wrongType, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(wrongType.body.message, /^handle:/);
  const negative = await k.call("handle_close", { handle: -1 });
  assertStatus(negative, "ZX_ERR_INVALID_ARGS", 400);
  const tooWide = await k.call("handle_close", { handle: 2 ** 32 });
  assertStatus(tooWide, "ZX_ERR_INVALID_ARGS", 400);
  const unknown = await k.call("handle_close", { handle: 0, hnadle: 1 });
  assertStatus(unknown, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(unknown.body.message, /hnadle/);
  const notObject = await send(k.fetcher, "/v1/zx/handle_close", "[1,2]", k.token);
  assertStatus(notObject, "ZX_ERR_INVALID_ARGS", 400);
  const badBase64 = await k.call("thread_write_state", { handle: 3, kind: 0, buffer: "***" });
  assertStatus(badBase64, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(badBase64.body.message, /^buffer:/);
  const badName = await k.call("thread_write_state", { handle: 3, kind: "ZX_THREAD_STATE_BOGUS" });
  assertStatus(badName, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(badName.body.message, /ZX_THREAD_STATE_BOGUS/);

  const huge = JSON.stringify({ handle: 0, pad: "x".repeat(1024 * 1024) });
  const tooLarge = await send(k.fetcher, "/v1/zx/handle_close", huge, k.token);
  assert.equal(tooLarge.http, 413);
  assert.equal(tooLarge.body.status, "ZX_ERR_OUT_OF_RANGE");
  // The same limit holds for a body sent without Content-Length (chunked).
  const chunked = await k.fetcher("/v1/zx/handle_close", {
    method: "POST",
    headers: { authorization: `Bearer ${k.token}` },
    body: ReadableStream.from([new TextEncoder().encode(huge)]),
  });
  assert.equal(chunked.status, 413);
  await chunked.body?.cancel();
  // An empty body is an empty parameter list.
  const empty = await send(k.fetcher, "/v1/zx/clock_get_monotonic", undefined, k.token);
  assert.equal(empty.body.status, "ZX_OK");
});

Deno.test("replies: ZX_OK/MX_OK with outs; wide integers as numbers or 0x strings; flags by name", async () => {
  const k = await TestKernel.create();
  const ok = await k.call("handle_duplicate", {
    handle: k.handles.thread,
    rights: ["ZX_RIGHT_READ", "ZX_RIGHT_WRITE", "ZX_RIGHT_DUPLICATE"],
  });
  assert.equal(ok.http, 200);
  assert.deepEqual(Object.keys(ok.body).sort(), ["code", "out", "status"]);
  assert.equal(ok.body.status, "ZX_OK");
  assert.equal(ok.body.code, 0);
  const basic = await k.ok("object_get_info", {
    handle: ok.body.out,
    topic: "ZX_INFO_HANDLE_BASIC",
  });
  assert.equal(basic.info.rights, 0x4 | 0x8 | 0x1);
  const byNumber = await k.ok("object_get_info", { handle: ok.body.out, topic: 2 });
  assert.equal(byNumber.info.rights, 0xd);
  const mxName = await k.ok("handle_duplicate", { handle: ok.body.out, rights: "MX_RIGHT_READ" });
  assert.equal(typeof mxName.out, "number");
  const mxOk = await k.mx("handle_close", { handle: mxName.out });
  assert.deepEqual(mxOk.body, { status: "MX_OK", code: 0 });

  const thread = await k.newThread();
  for (const entry of ["0x1000000", 0x1000000, "16777216"]) {
    const t = await k.newThread();
    await k.ok("thread_start", { handle: t, thread_entry: entry, stack: "0x0" });
  }
  const bad = await k.call("thread_start", { handle: thread, thread_entry: "0xzz", stack: 0 });
  assertStatus(bad, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(bad.body.message, /^thread_entry:/);
  const over = await k.call("thread_start", {
    handle: thread,
    thread_entry: "0x10000000000000000",
    stack: 0,
  });
  assertStatus(over, "ZX_ERR_INVALID_ARGS", 400);
});

Deno.test("HTTP status per Zircon status", async () => {
  const k = await TestKernel.create();
  const thread = await k.runningThread();
  assertStatus(await k.call("handle_close", { handle: 7 }), "ZX_ERR_BAD_HANDLE", 400);
  assertStatus(
    await k.call("thread_start", { handle: k.handles.process, thread_entry: 0, stack: 0 }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  const noRights = (await k.ok("handle_duplicate", { handle: thread, rights: 0 })).out;
  assertStatus(
    await k.call("thread_read_state", { handle: noRights, kind: 0 }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  assertStatus(
    await k.call("thread_read_state", { handle: thread, kind: 0 }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  assertStatus(
    await k.call("thread_read_state", { handle: thread, kind: 0, buffer_size: 1 }),
    "ZX_ERR_BUFFER_TOO_SMALL",
    400,
  );
  assertStatus(
    await k.call("task_suspend", { handle: k.handles.thread }),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  assertStatus(
    await k.call("object_wait_one", {
      handle: thread,
      signals: "ZX_THREAD_SUSPENDED",
      deadline: 0,
    }),
    "ZX_ERR_TIMED_OUT",
    504,
  );
});

Deno.test("isolation: handles and tokens of kernel A mean nothing in kernel B", async () => {
  const fetcher = inProcess();
  const a = await TestKernel.create(fetcher);
  const b = await TestKernel.create(fetcher, { arch: "arm64" });
  const threadA = await a.newThread();
  // A's handle value, presented by B's thread, is not a handle in B.
  for (const value of [threadA, ...Object.values(a.handles)]) {
    if (Object.values(b.handles).includes(value)) continue;
    assertStatus(
      await b.call("object_get_info", { handle: value, topic: "ZX_INFO_HANDLE_VALID" }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
  }
  // The same objects have different handle values in different kernels.
  assert.notDeepEqual(a.handles, b.handles);
  // A's token cannot see or delete B.
  assertStatus(
    await send(fetcher, `/v1/kernels/${b.id}`, undefined, a.token, "GET"),
    "ZX_ERR_ACCESS_DENIED",
    401,
  );
  // Koids are per kernel: both kernels number their objects from the same start.
  const infoA = await a.ok("object_get_info", {
    handle: a.handles.root_job,
    topic: "ZX_INFO_HANDLE_BASIC",
  });
  const infoB = await b.ok("object_get_info", {
    handle: b.handles.root_job,
    topic: "ZX_INFO_HANDLE_BASIC",
  });
  assert.equal(infoA.info.koid, infoB.info.koid);
  // Deleting A leaves B working.
  await send(fetcher, `/v1/kernels/${a.id}`, undefined, a.token, "DELETE");
  await b.ok("object_get_info", { handle: b.handles.thread, topic: "ZX_INFO_THREAD" });
});

Deno.test("a second client thread: tokens act as their thread", async () => {
  const k = await TestKernel.create();
  const thread = await k.newThread();
  const reply = await send(k.fetcher, `/v1/kernels/${k.id}/tokens`, { thread }, k.token);
  assert.equal(reply.http, 201);
  const second = reply.body.token as string;
  assert.notEqual(second, k.token);
  const info = await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_THREAD" });
  assert.equal(info.info.state, 1, "RUNNING");
  // The new token's calls are made by that thread: it cannot suspend itself...
  assertStatus(
    await k.call("task_suspend", { handle: thread }, second),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  // ...but can suspend the bootstrap thread, whose token then gets 409.
  const { token } = await k.ok("task_suspend", { handle: k.handles.thread }, second);
  const busy = await k.call("handle_close", { handle: 0 });
  assertStatus(busy, "ZX_ERR_BAD_STATE", 409);
  assert.match(busy.body.message, /suspended/);
  await k.ok("handle_close", { handle: token }, second);
  await k.ok("handle_close", { handle: 0 });
  // Both tokens work on the kernel routes too.
  const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, second, "GET");
  assert.equal(summary.http, 200);
  const { koid } =
    (await k.ok("object_get_info", { handle: thread, topic: "ZX_INFO_HANDLE_BASIC" }))
      .info;
  assert.equal(
    summary.body.caller.thread,
    Number(koid),
    "the summary names the second token's thread",
  );
  // A token of another kernel cannot mint tokens here.
  const other = await TestKernel.create(k.fetcher);
  const foreign = await send(k.fetcher, `/v1/kernels/${k.id}/tokens`, { thread }, other.token);
  assertStatus(foreign, "ZX_ERR_ACCESS_DENIED", 401);
});

Deno.test("never a 500: junk bodies for every syscall get a Zircon status", async () => {
  const k = await TestKernel.create();
  const doc = await (await k.fetcher("/openapi.json")).json();
  const junk: unknown[] = [
    {},
    { handle: null },
    { handle: 1.5, kind: [] },
    { handle: k.handles.thread, kind: 0, buffer: 12, regs: "x", len: -1 },
    { handle: 0xffffffff, topic: {}, signals: ["NOPE"], deadline: "soon" },
    { handles: "all", num_handles: 1e20 },
    { job: k.handles.root_job, name: 5, options: "ZX_RIGHT_READ" },
    [],
    "text",
    null,
  ];
  for (const path of Object.keys(doc.paths).filter((p) => /^\/v1\/(zx|mx)\//.test(p))) {
    for (const body of junk) {
      const reply = await send(k.fetcher, path, JSON.stringify(body), k.token);
      assert.ok(reply.http < 500, `${path} ${JSON.stringify(body)} -> ${reply.http}`);
      assert.match(reply.body.status, /^(ZX|MX)_/);
      if (reply.body.status !== "ZX_OK" && reply.body.status !== "MX_OK") {
        assert.equal(typeof reply.body.message, "string");
      }
    }
  }
});

Deno.test("GET /openapi.json describes every syscall in both ABIs and the kernel routes", async () => {
  const k = await TestKernel.create();
  const response = await k.fetcher("/openapi.json");
  assert.equal(response.status, 200);
  const doc = await response.json();
  assert.equal(doc.openapi, "3.1.0");
  const kernelRoutes = Object.entries(doc.paths as Json)
    .filter(([path]) => path.startsWith("/v1/kernels"))
    .flatMap(([path, methods]) =>
      Object.entries(methods as Json).map(([method, op]) =>
        `${op.operationId}: ${method.toUpperCase()} ${path}`
      )
    );
  assert.deepEqual(kernelRoutes.sort(), [
    "advance_kernel: POST /v1/kernels/{id}/advance",
    "create_kernel: POST /v1/kernels",
    "create_token: POST /v1/kernels/{id}/tokens",
    "delete_kernel: DELETE /v1/kernels/{id}",
    "get_debuglog: GET /v1/kernels/{id}/debuglog",
    "get_kernel: GET /v1/kernels/{id}",
    "list_kernels: GET /v1/kernels",
  ]);
  const names = [
    "handle_close",
    "handle_close_many",
    "handle_duplicate",
    "handle_replace",
    "object_get_info",
    "object_get_property",
    "object_set_property",
    "object_wait_one",
    "process_create",
    "thread_create",
    "thread_start",
    "task_suspend",
    "task_suspend_token",
    "task_kill",
    "thread_read_state",
    "thread_write_state",
    "process_start",
    "process_exit",
    "thread_exit",
    "nanosleep",
    "debug_write",
  ];
  // The memory syscalls came after Magenta's 2017 ABI: /v1/zx only.
  const zxOnly = [
    "vmo_create",
    "vmo_read",
    "vmo_write",
    "vmo_get_size",
    "vmo_set_size",
    "vmo_replace_as_executable",
    "vmar_allocate",
    "vmar_map",
    "vmar_unmap",
    "vmar_protect",
    "vmar_destroy",
    "process_read_memory",
    "process_write_memory",
  ];
  for (const name of zxOnly) assert.equal(doc.paths[`/v1/mx/${name}`], undefined, name);
  for (const abi of ["zx", "mx"]) {
    for (const name of abi === "zx" ? [...names, ...zxOnly] : names) {
      const op = doc.paths[`/v1/${abi}/${name}`]?.post;
      assert.ok(op, `${abi}/${name}`);
      assert.equal(op.operationId, `${abi}_${name}`);
      const schema = op.requestBody.content["application/json"].schema;
      assert.equal(schema.type, "object");
      assert.ok(op.responses["200"]);
      assert.ok(op.responses["400"]);
      assert.equal(
        op.responses["400"].content["application/json"].schema.$ref,
        "#/components/schemas/Error",
      );
    }
  }
  const write = doc.paths["/v1/zx/thread_write_state"].post;
  const props = write.requestBody.content["application/json"].schema.properties;
  assert.deepEqual(Object.keys(props).sort(), ["buffer", "buffer_size", "handle", "kind", "regs"]);
  assert.ok(write.responses["409"].description.includes("ZX_ERR_BAD_STATE"));
  assert.ok(write.responses["501"].description.includes("ZX_ERR_NOT_SUPPORTED"));
  const mxWrite = doc.paths["/v1/mx/thread_write_state"].post;
  assert.ok("len" in mxWrite.requestBody.content["application/json"].schema.properties);
  assert.match(mxWrite.description, /MX_ERR_INVALID_ARGS/);
});

Deno.test("refused register writes say which value was refused", async () => {
  const x64 = await TestKernel.create();
  const { thread } = await x64.suspendedThread();
  const rip = await x64.call("thread_write_state", {
    handle: thread,
    kind: 0,
    regs: { rip: "0xffffff8000000000" },
  });
  assertStatus(rip, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(rip.body.message, /rip .*0xffffff8000000000/);
  const gs = await x64.call("thread_write_state", {
    handle: thread,
    kind: 0,
    regs: { gs_base: "0x0000800000000000" },
  });
  assert.match(gs.body.message, /gs_base is not canonical/);
  const step = await x64.call("thread_write_state", {
    handle: thread,
    kind: "ZX_THREAD_STATE_SINGLE_STEP",
    regs: { value: 2 },
  });
  assert.match(step.body.message, /0 or 1, not 2/);
  const dr = await x64.call("thread_write_state", {
    handle: thread,
    kind: "ZX_THREAD_STATE_DEBUG_REGS",
    regs: { "dr[1]": "0x1000" },
  });
  assert.match(dr.body.message, /dr\[1\] 0x1000/);

  const arm = await TestKernel.create(inProcess(), { arch: "arm64" });
  const stopped = await arm.suspendedThread();
  const bvr = await arm.call("thread_write_state", {
    handle: stopped.thread,
    kind: "ZX_THREAD_STATE_DEBUG_REGS",
    regs: { "hw_bps[0].dbgbvr": "0xffffffffffffffff" },
  });
  assertStatus(bvr, "ZX_ERR_INVALID_ARGS", 400);
  assert.match(bvr.body.message, /hw_bps\[0\]\.dbgbvr/);
  const fp = await arm.call("thread_read_state", { handle: stopped.thread, kind: 1 });
  assertStatus(fp, "ZX_ERR_NOT_SUPPORTED", 501);
  assert.match(fp.body.message, /not supported/);
});

Deno.test("integers in strings are spelled one way everywhere: 0x or decimal, _ between digits", async () => {
  const k = await TestKernel.create();
  const thread = await k.newThread();
  const { token } = await k.ok("task_suspend", { handle: thread });
  // A parameter and a register field refuse the same spellings...
  for (const bad of [" 0x1000", "0x1000 ", "1e3", "0x", "_1", "0x_10", "+5"]) {
    const start = await k.call("thread_start", { handle: thread, thread_entry: bad, stack: 0 });
    assertStatus(start, "ZX_ERR_INVALID_ARGS", 400);
  }
  await k.ok("thread_start", { handle: thread, thread_entry: "0x10_00", stack: "8_192" });
  const read = await k.ok("thread_read_state", { handle: thread, kind: 0 });
  assert.equal(read.regs.rip, "0x0000000000001000");
  assert.equal(read.regs.rsp, "0x0000000000002000");
  for (const bad of [" 42", "42 ", "1e3", "0x", "_1", "0x_10", "+5"]) {
    const write = await k.call("thread_write_state", {
      handle: thread,
      kind: 0,
      regs: { rax: bad },
    });
    assertStatus(write, "ZX_ERR_INVALID_ARGS", 400);
  }
  // ...and accept the same ones.
  await k.ok("thread_write_state", {
    handle: thread,
    kind: 0,
    regs: { rax: "0x2_a", rbx: "1_000" },
  });
  const back = await k.ok("thread_read_state", { handle: thread, kind: 0 });
  assert.equal(back.regs.rax, "0x000000000000002a");
  assert.equal(back.regs.rbx, "0x00000000000003e8");
  await k.ok("handle_close", { handle: token });
});
