// The API docs: /openapi.json validates as OpenAPI 3.1, every operation has
// a description and a worked example (request and reply) that is really what
// zxsim answers, the error table matches the HTTP mapping, and /docs serves
// Swagger UI from zxsim itself.

import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import { createApp } from "../routes/app.ts";
import { HTTP_STATUS_TABLE } from "../routes/abi.ts";
import { SYSCALLS } from "../kernel/syscalls/table.ts";
import { ERR, statusName } from "../kernel/status.ts";
import { kernelSummarySchema } from "../routes/kernels.ts";
import { type Json, send, TestKernel } from "./helpers.ts";

const { app } = createApp();
const doc: Json = await (await app.request("/openapi.json")).json();

/** Every operation in the document with its path and method. */
function operations(document: Json = doc): { path: string; method: string; op: Json }[] {
  return Object.entries(document.paths as Json).flatMap(([path, methods]) =>
    Object.entries(methods as Json).map(([method, op]) => ({ path, method, op }))
  );
}

function examplesOf(content: Json | undefined): Json {
  return content?.["application/json"]?.examples ?? {};
}

Deno.test("openapi: the document validates as OpenAPI 3.1 (swagger-parser)", async () => {
  const api = await SwaggerParser.validate(structuredClone(doc) as never);
  assert.equal(Object.keys(api.paths ?? {}).length, Object.keys(doc.paths).length);
});

Deno.test("openapi: the validator does reject a broken document", async () => {
  const broken = structuredClone(doc);
  broken.paths["/v1/zx/thread_write_state"].post.responses = "none";
  await assert.rejects(() => SwaggerParser.validate(broken as never), /responses must be object/);
  const noInfo = structuredClone(doc);
  delete noInfo.info;
  await assert.rejects(() => SwaggerParser.validate(noInfo as never));
});

Deno.test("openapi: one operation per syscall and ABI, plus the kernel routes", () => {
  const ids = new Set(operations().map(({ op }) => op.operationId));
  const expected = [
    "list_kernels",
    "create_kernel",
    "get_kernel",
    "delete_kernel",
    "create_token",
    "get_debuglog",
    "advance_kernel",
  ];
  for (const syscall of SYSCALLS) {
    for (const abi of syscall.abis) expected.push(`${abi}_${syscall.name}`);
  }
  // Routes that are not syscalls under /v1/{abi}/ (the batch route).
  for (const path of Object.keys(doc.paths)) {
    const route = /^\/v1\/(zx|mx)\/(\w+)$/.exec(path);
    if (route && !SYSCALLS.some((s) => s.name === route[2])) {
      expected.push(`${route[1]}_${route[2]}`);
    }
  }
  assert.deepEqual([...ids].sort(), expected.sort());
});

Deno.test("openapi: every operation has a summary, a description and a failure example", () => {
  for (const { path, method, op } of operations()) {
    const where = `${method.toUpperCase()} ${path}`;
    assert.ok(op.summary?.length > 5, `${where} summary`);
    assert.ok(op.description?.length > 20, `${where} description`);
    const failures = Object.entries(op.responses as Json).filter(([, r]) =>
      examplesOf(r.content).error
    );
    assert.equal(failures.length, 1, `${where}: one failure example`);
    const [http, response] = failures[0];
    assert.ok(Number(http) >= 400, `${where}: the failure is an HTTP error`);
    const reply = examplesOf(response.content).error.value;
    assert.match(reply.status, /^(ZX|MX)_ERR_/, where);
    assert.equal(typeof reply.message, "string", where);
  }
});

Deno.test("openapi: every syscall's worked example shows the request and a real OK reply", () => {
  for (const { path, op } of operations().filter(({ path }) => /^\/v1\/(zx|mx)\//.test(path))) {
    const abi = path.split("/")[2].toUpperCase();
    const request = examplesOf(op.requestBody.content).ok?.value;
    assert.ok(request, `${path}: request example`);
    const reply = examplesOf(op.responses["200"].content).ok?.value;
    assert.equal(reply?.status, `${abi}_OK`, `${path}: ${JSON.stringify(reply)}`);
    assert.equal(reply.code, 0);
    assert.ok(examplesOf(op.requestBody.content).error, `${path}: failing request example`);
  }
});

Deno.test("openapi: a failure example's status is one the syscall declares, at its HTTP code", () => {
  for (const syscall of SYSCALLS) {
    for (const abi of syscall.abis) {
      const op = doc.paths[`/v1/${abi}/${syscall.name}`].post;
      for (const [http, response] of Object.entries(op.responses as Json)) {
        const reply = examplesOf(response.content).error?.value;
        if (!reply) continue;
        const suffix = reply.status.replace(/^(ZX|MX)_ERR_/, "");
        assert.ok(
          syscall.errors.includes(suffix) || suffix === "INVALID_ARGS",
          `${abi}_${syscall.name}: ${reply.status} is not among its documented errors`,
        );
        const mapped = HTTP_STATUS_TABLE.find(([code]) => code === reply.code)?.[1] ?? 400;
        assert.equal(Number(http), mapped, `${abi}_${syscall.name}: ${reply.status}`);
      }
    }
  }
});

Deno.test("openapi: the worked examples are true: replaying one gives the same kind of reply", async () => {
  // Handle values differ between kernels, so replay the documented
  // thread_write_state failure in a kernel set up the same way.
  const documented = examplesOf(
    doc.paths["/v1/zx/thread_write_state"].post.responses["400"].content,
  ).error.value;
  const k = await TestKernel.create();
  const { thread } = await k.suspendedThread("0x1000000", "0x2000000", 1, 2);
  const reply = await k.call("thread_write_state", {
    handle: thread,
    kind: 0,
    regs: { rip: "0xffffff8000000000" },
  });
  assert.deepEqual(reply.body, documented);
  // The read example shows the registers of a thread that was started suspended.
  const read = examplesOf(doc.paths["/v1/zx/thread_read_state"].post.responses["200"].content);
  assert.equal(read.ok.value.regs.rip, "0x0000000001000000");
  assert.equal(read.ok.value.regs.rdi, "0x0000000000000001");
  assert.equal(Uint8Array.fromBase64(read.ok.value.buffer).length, 160);
});

Deno.test("openapi: the description carries the status table, matching the HTTP mapping", () => {
  const text: string = doc.info.description;
  for (const [code, http] of HTTP_STATUS_TABLE) {
    assert.ok(text.includes(`| ${statusName(code)} | ${code} | ${http} |`), statusName(code));
  }
  assert.ok(text.includes(`| -30 | 401 |`));
  assert.ok(text.includes(`| ${ERR.NOT_SUPPORTED} | 405 |`));
  assert.ok(text.includes(`| ${ERR.OUT_OF_RANGE} | 413 |`));
});

Deno.test("openapi: worked examples run in a scratch app, not in the server's kernels", async () => {
  const { app, registry } = createApp({ maxKernels: 1 });
  const response = await app.request("/openapi.json");
  assert.equal(response.status, 200);
  const first = await response.text();
  assert.equal(registry.full, false);
  const created = await send((p, i) => Promise.resolve(app.request(p, i)), "/v1/kernels", {});
  assert.equal(created.http, 201);
  // Built once: a second request gets the same document, handle values and all.
  assert.equal(await (await app.request("/openapi.json")).text(), first);
});

Deno.test("GET /docs: Swagger UI over /openapi.json, its files served by zxsim", async () => {
  const page = await app.request("/docs");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  const html = await page.text();
  assert.match(html, /url: "\/openapi.json"/);
  // Nothing from another host: the page must work offline.
  assert.doesNotMatch(html, /https?:\/\//);
  for (
    const [file, type] of [
      ["swagger-ui.css", /^text\/css/],
      ["swagger-ui-bundle.js", /^text\/javascript/],
      ["favicon-32x32.png", /^image\/png/],
    ] as const
  ) {
    assert.ok(html.includes(`/docs/assets/${file}`), file);
    const asset = await app.request(`/docs/assets/${file}`);
    assert.equal(asset.status, 200, file);
    assert.match(asset.headers.get("content-type")!, type);
    assert.ok((await asset.arrayBuffer()).byteLength > 500, file);
  }
});

Deno.test("GET /docs/assets: only the page's own files, as a Zircon-style 404", async () => {
  for (const file of ["package.json", "..%2Fpackage.json", "index.html", "x.js"]) {
    const reply = await send(
      (p, i) => Promise.resolve(app.request(p, i)),
      `/docs/assets/${file}`,
      undefined,
      undefined,
      "GET",
    );
    assert.equal(reply.http, 404, file);
    assert.equal(reply.body.status, "ZX_ERR_NOT_FOUND");
    assert.match(reply.body.message, /no docs asset/);
  }
});

Deno.test("openapi: every OK example's reply has the shape of the syscall's outs schema", () => {
  for (const syscall of SYSCALLS) {
    for (const abi of syscall.abis) {
      const op = doc.paths[`/v1/${abi}/${syscall.name}`].post;
      const { status: _status, code: _code, ...outs } =
        examplesOf(op.responses["200"].content).ok.value;
      const parsed = syscall.outs.safeParse(outs);
      assert.ok(parsed.success, `${abi}_${syscall.name}: ${JSON.stringify(outs)}`);
      // Nothing in the reply that the schema (and so the docs) leaves out.
      const shape = (syscall.outs as unknown as { shape?: Json }).shape ?? {};
      for (const key of Object.keys(outs)) {
        assert.ok(key in shape, `${abi}_${syscall.name}: undocumented out ${key}`);
      }
    }
  }
});

Deno.test("openapi: every $ref points at something in the document", () => {
  const refs: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "$ref" && typeof value === "string") refs.push(value);
        else walk(value);
      }
    }
  };
  walk(doc);
  assert.ok(refs.length > 0);
  for (const ref of refs) {
    assert.match(ref, /^#\//, ref);
    let target: unknown = doc;
    for (const part of ref.slice(2).split("/")) target = (target as Json)?.[part];
    assert.ok(target && typeof target === "object", `${ref} resolves`);
  }
});

Deno.test("openapi: a real kernel summary matches the documented schema, nested jobs and all", async () => {
  const k = await TestKernel.create();
  const { out: job } = await k.ok("job_create", { parent_job: k.handles.root_job });
  const { out: child } = await k.ok("job_create", { parent_job: job });
  await k.ok("process_create", { job: child, name: "deep" });
  await k.suspendedThread("0x1000", "0x2000", 0, 0);
  const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
  assert.equal(summary.http, 200);
  const parsed = kernelSummarySchema.safeParse(summary.body);
  assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  assert.equal(summary.body.root_job.jobs[0].jobs[0].processes[0].name, "deep");
  const documented = doc.paths["/v1/kernels/{id}"].get.responses["200"].content["application/json"];
  assert.equal(documented.schema.properties.root_job.$ref, "#/components/schemas/JobSummary");
});
