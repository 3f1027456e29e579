// What a new user tripped over, each now fixed: register names as people
// write them (arm64 x0, x30, fp; x64 dr0), error messages that say what to
// do, 405 with Allow for a wrong method, GET /v1/kernels, an example for
// every documented error reply, and the optional access log.

import assert from "node:assert/strict";
import { createApp } from "../routes/app.ts";
import { withAccessLog } from "../main.ts";
import { ARM64_GENERAL_REGS } from "../arch/arm64/regsets.ts";
import { X64_DEBUG_REGS, X64_GENERAL_REGS } from "../arch/x64/regsets.ts";
import { HTTP_STATUS_TABLE } from "../routes/abi.ts";
import { expectErr, inProcess, type Json, send, TestKernel } from "./helpers.ts";
import { freePort, root, START_ARGS } from "./real_server.ts";

const GENERAL = "ZX_THREAD_STATE_GENERAL_REGS";
const DEBUG = "ZX_THREAD_STATE_DEBUG_REGS";

async function stopped(arch: string) {
  const k = await TestKernel.create(inProcess(), { arch });
  const { thread } = await k.suspendedThread();
  const read = async (
    kind = GENERAL,
  ) => (await k.ok("thread_read_state", { handle: thread, kind }));
  return { k, thread, read };
}

// ---------------------------------------------------------------------------
// 1. Register names

Deno.test("names: arm64 writes take x0..x30 and fp; reads keep Zircon's names", async () => {
  const { k, thread, read } = await stopped("arm64");
  await k.ok("thread_write_state", {
    handle: thread,
    kind: GENERAL,
    regs: { x0: 7, x17: "0x11", x30: "0x1234", fp: 9, sp: "0x2000000", pc: "0x1000004" },
  });
  const { regs, buffer } = await read();
  assert.equal(regs.r[0], "0x0000000000000007");
  assert.equal(regs.r[17], "0x0000000000000011");
  assert.equal(regs.r[29], "0x0000000000000009");
  assert.equal(regs.lr, "0x0000000000001234");
  assert.equal(regs.pc, "0x0000000001000004");
  // The named view is unchanged: Zircon's fields, no aliases.
  assert.deepEqual(Object.keys(regs), ["r", "lr", "sp", "pc", "cpsr", "tpidr"]);
  assert.equal(Uint8Array.fromBase64(buffer).length, 280);
  // Magenta's REGSET0 takes them too.
  await k.ok(
    "thread_write_state",
    {
      handle: thread,
      kind: "MX_THREAD_STATE_REGSET0",
      regs: { x1: 5 },
    },
    k.token,
    "mx",
  );
  assert.equal((await read()).regs.r[1], "0x0000000000000005");
});

Deno.test("names: one field named twice in one write is INVALID_ARGS naming both", async () => {
  const { k, thread, read } = await stopped("arm64");
  const before = await read();
  for (
    const [regs, first, second, field] of [
      [{ x29: 1, fp: 2 }, "x29", "fp", "r[29]"],
      [{ "r[0]": 1, x0: 2 }, "r[0]", "x0", "r[0]"],
      [{ r: [1], x0: 2 }, "r[0]", "x0", "r[0]"],
      [{ lr: 1, x30: 2 }, "lr", "x30", "lr"],
    ] as const
  ) {
    const reply = await k.call("thread_write_state", { handle: thread, kind: GENERAL, regs });
    expectErr(reply, "INVALID_ARGS");
    assert.equal(
      reply.body.message,
      `regs: "${first}" and "${second}" both name ${field}: give it once`,
    );
  }
  // A null element means "keep": r[0] is not written twice there.
  await k.ok("thread_write_state", { handle: thread, kind: GENERAL, regs: { r: [null], x0: 3 } });
  assert.equal((await read()).regs.r[0], "0x0000000000000003");
  assert.equal((await read()).regs.pc, before.regs.pc);
});

Deno.test("names: x64 debug regs take dr0..dr3 for dr[0..3]", async () => {
  const { k, thread, read } = await stopped("x64");
  await k.ok("thread_write_state", {
    handle: thread,
    kind: DEBUG,
    regs: { dr0: "0x1000000", dr3: "0x1000008", dr7: 1 },
  });
  const { regs } = await read(DEBUG);
  assert.equal(regs.dr[0], "0x0000000001000000");
  assert.equal(regs.dr[3], "0x0000000001000008");
  assert.equal(regs.dr7, "0x0000000000000701");
  assert.deepEqual(Object.keys(regs), ["dr", "dr6", "dr7"]);
  const twice = await k.call("thread_write_state", {
    handle: thread,
    kind: DEBUG,
    regs: { dr0: 0, "dr[0]": 0 },
  });
  expectErr(twice, "INVALID_ARGS");
  assert.match(twice.body.message, /"dr0" and "dr\[0\]" both name dr\[0\]/);
});

Deno.test("names: the aliases are data next to the layouts", () => {
  assert.equal(ARM64_GENERAL_REGS.aliasOf("x0"), "r[0]");
  assert.equal(ARM64_GENERAL_REGS.aliasOf("x30"), "lr");
  assert.equal(ARM64_GENERAL_REGS.aliasOf("fp"), "r[29]");
  assert.equal(ARM64_GENERAL_REGS.aliasOf("x31"), undefined);
  assert.equal(
    ARM64_GENERAL_REGS.describeAliases(),
    "x0..x29 = r[0..29], x30 = lr, fp = r[29]",
  );
  assert.equal(X64_DEBUG_REGS.describeAliases(), "dr0..dr3 = dr[0..3]");
  assert.equal(X64_GENERAL_REGS.describeAliases(), "");
  assert.equal(ARM64_GENERAL_REGS.describeNames(), "r[0..29], lr, sp, pc, cpsr, tpidr");
});

// ---------------------------------------------------------------------------
// 2. Messages that say what to do (statuses unchanged)

Deno.test("messages: an unknown register lists the names and aliases there are", async () => {
  const arm = await stopped("arm64");
  const reply = await arm.k.call("thread_write_state", {
    handle: arm.thread,
    kind: GENERAL,
    regs: { x31: 1 },
  });
  expectErr(reply, "INVALID_ARGS");
  assert.equal(
    reply.body.message,
    'regs: unknown field "x31": zx_arm64_thread_state_general_regs_t has r[0..29], lr, sp, pc, ' +
      "cpsr, tpidr (also accepted: x0..x29 = r[0..29], x30 = lr, fp = r[29])",
  );
  const x64 = await stopped("x64");
  const wrongArch = await x64.k.call("thread_write_state", {
    handle: x64.thread,
    kind: GENERAL,
    regs: { x0: 1 },
  });
  expectErr(wrongArch, "INVALID_ARGS");
  assert.match(
    wrongArch.body.message,
    /unknown field "x0": .* has rax, rbx, .*, fs_base, gs_base$/,
  );
});

Deno.test("messages: a write with neither buffer nor regs says to give one", async () => {
  const { k, thread } = await stopped("x64");
  const hint = "give `buffer` (the struct, base64) or `regs` (named registers): neither was sent";
  const zx = await k.call("thread_write_state", { handle: thread, kind: GENERAL });
  expectErr(zx, "BUFFER_TOO_SMALL"); // Zircon's status for an empty buffer
  assert.equal(
    zx.body.message,
    `${hint}, so buffer_size 0 is smaller than zx_x86_64_thread_state_general_regs_t (160 bytes)`,
  );
  const sized = await k.call("thread_write_state", {
    handle: thread,
    kind: GENERAL,
    buffer_size: 160,
  });
  expectErr(sized, "INVALID_ARGS");
  assert.ok(sized.body.message.startsWith(`${hint}, so buffer is an invalid pointer`));
  const mx = await k.mx("thread_write_state", { handle: thread, kind: "MX_THREAD_STATE_REGSET0" });
  expectErr(mx, "INVALID_ARGS", "MX");
  assert.equal(mx.body.message, `${hint}, so len 0 must be exactly the 144-byte register set`);
  // A buffer that is too small says nothing about regs.
  const small = await k.call("thread_write_state", {
    handle: thread,
    kind: GENERAL,
    buffer: "AA==",
  });
  expectErr(small, "BUFFER_TOO_SMALL");
  assert.ok(small.body.message.startsWith("buffer_size 1 is smaller"));
});

Deno.test("messages: values out of range say the range", async () => {
  const x64 = await stopped("x64");
  const write = (kind: string, regs: Json) =>
    x64.k.call("thread_write_state", { handle: x64.thread, kind, regs });
  const rip = await write(GENERAL, { rip: "0xffffff8000000000" });
  expectErr(rip, "INVALID_ARGS");
  assert.match(rip.body.message, /rip is not a canonical user address .*0 to 0x7fffffffffff/);
  const fs = await write(GENERAL, { fs_base: "0x800000000000" });
  assert.match(
    fs.body.message,
    /fs_base is not canonical \(0 to 0x7fffffffffff or 0xffff800000000000 to 0xffffffffffffffff\)/,
  );
  const dr = await write(DEBUG, { dr1: "0x1000" });
  expectErr(dr, "INVALID_ARGS");
  assert.match(dr.body.message, /dr\[1\] 0x1000 is neither 0 nor a user address \(0x200000 up/);
  assert.match(dr.body.message, /0x7ffffffff000\)/);
  const arm = await stopped("arm64");
  const bvr = await arm.k.call("thread_write_state", {
    handle: arm.thread,
    kind: DEBUG,
    regs: { "hw_bps[0].dbgbvr": "0xffff000000000000" },
  });
  expectErr(bvr, "INVALID_ARGS");
  assert.match(bvr.body.message, /0x200000 up to, not including, 0xffffff000000\)/);
  const narrow = await x64.k.call("thread_write_state", {
    handle: x64.thread,
    kind: "ZX_THREAD_STATE_FP_REGS",
    regs: { ftw: 256 },
  });
  assert.match(narrow.body.message, /256 does not fit in u8 \(0 to 0xff;/);
});

Deno.test('messages: a number past 2^53 suggests the "0x…" form', async () => {
  const { k, thread } = await stopped("x64");
  // Sent as raw JSON text: the number is already rounded when the server parses it.
  const reply = await send(
    k.fetcher,
    "/v1/zx/thread_write_state",
    `{"handle":${thread},"kind":0,"regs":{"rax":18446744073709551615}}`,
    k.token,
  );
  expectErr(reply, "INVALID_ARGS");
  assert.match(reply.body.message, /field "rax": .* beyond 2\^53/);
  assert.match(reply.body.message, /"0x…" hex or decimal/);
});

// ---------------------------------------------------------------------------
// 3. Methods

Deno.test("HTTP: a wrong method on an existing path is 405 with Allow", async () => {
  const fetcher = inProcess();
  for (
    const [method, path, allow] of [
      ["GET", "/v1/zx/thread_write_state", "POST"],
      ["GET", "/v1/mx/thread_read_state", "POST"],
      ["PUT", "/v1/kernels/some-id", "GET, HEAD, DELETE"],
      ["GET", "/v1/kernels/some-id/tokens", "POST"],
      ["DELETE", "/v1/kernels", "GET, HEAD, POST"],
      ["POST", "/docs", "GET, HEAD"],
      ["POST", "/openapi.json", "GET, HEAD"],
      ["PATCH", "/", "GET, HEAD"],
      ["POST", "/dashboard/dashboard.js", "GET, HEAD"],
    ] as const
  ) {
    const response = await fetcher(path, { method });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
    const body = await response.json();
    assert.equal(body.status, "ZX_ERR_NOT_SUPPORTED");
    assert.equal(body.code, -2);
    assert.equal(body.message, `${path} does not take ${method}; it takes ${allow}`);
  }
  // A path that does not exist at all is still 404.
  const missing = await fetcher("/v1/nothing", { method: "GET" });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("allow"), null);
  assert.equal((await missing.json()).status, "ZX_ERR_NOT_FOUND");
});

Deno.test("HTTP: GET /v1/kernels lists the token's kernel; no token is 401", async () => {
  const fetcher = inProcess();
  const k = await TestKernel.create(fetcher, { arch: "arm64" }, false);
  await TestKernel.create(fetcher, { arch: "x64" }, false); // another kernel, not listed
  const listed = await send(fetcher, "/v1/kernels", undefined, k.token, "GET");
  assert.equal(listed.http, 200);
  assert.deepEqual(listed.body, { kernels: [{ kernel: k.id, arch: "arm64" }] });
  const anonymous = await send(fetcher, "/v1/kernels", undefined, undefined, "GET");
  assert.equal(anonymous.http, 401);
  assert.equal(anonymous.body.status, "ZX_ERR_ACCESS_DENIED");
  const stale = await send(fetcher, "/v1/kernels", undefined, "not-a-token", "GET");
  assert.equal(stale.http, 401);
});

// ---------------------------------------------------------------------------
// 4. The docs: every documented error has an example reply

const { app } = createApp();
const doc: Json = await (await app.request("/openapi.json")).json();

Deno.test("docs: every documented error response has an example of each status, no placeholder", () => {
  const httpOf = new Map<number, number>(HTTP_STATUS_TABLE);
  httpOf.set(-30, 403);
  let count = 0;
  for (const [path, methods] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(methods as Json)) {
      for (const [http, response] of Object.entries(op.responses as Json)) {
        if (Number(http) < 400) continue;
        const where = `${method.toUpperCase()} ${path} ${http}`;
        const examples = response.content?.["application/json"]?.examples;
        assert.ok(examples && Object.keys(examples).length > 0, `${where}: no example`);
        for (const { value } of Object.values(examples as Json)) {
          count++;
          assert.match(value.status, /^(ZX|MX)_ERR_/, where);
          assert.equal(typeof value.code, "number", where);
          assert.ok(typeof value.message === "string" && value.message.length > 5, where);
          assert.equal(value.message === "string", false, where);
          // The status belongs at this HTTP code (401 and 413 are zxsim's own).
          if (http === "401") assert.equal(value.status.slice(3), "ERR_ACCESS_DENIED", where);
          else if (http === "413") assert.equal(value.status.slice(3), "ERR_OUT_OF_RANGE", where);
          else assert.equal(httpOf.get(value.code) ?? 400, Number(http), where);
          if (path.startsWith("/v1/mx/")) assert.match(value.status, /^MX_/, where);
        }
      }
    }
  }
  assert.ok(count > 200, `${count} examples`);
});

Deno.test("docs: the 401 and 413 examples are what the server really answers", async () => {
  const fetcher = inProcess();
  const op = doc.paths["/v1/zx/handle_close"].post;
  const example = (http: string) =>
    Object.values(op.responses[http].content["application/json"].examples as Json)[0].value;
  const noToken = await send(fetcher, "/v1/zx/handle_close", { handle: 1 });
  assert.deepEqual(noToken.body, example("401"));
  const k = await TestKernel.create(fetcher, {}, false);
  const big = await send(fetcher, "/v1/zx/handle_close", { pad: "x".repeat(1 << 20) }, k.token);
  assert.equal(big.http, 413);
  assert.deepEqual(big.body, example("413"));
  const full = doc.paths["/v1/kernels"].post.responses["503"].content["application/json"].examples;
  assert.match(Object.values(full as Json)[0].value.message, /already hosts \d+ kernels/);
});

Deno.test("docs: the description is short on top; conventions and statuses are folded", () => {
  const text: string = doc.info.description;
  const firstFold = text.indexOf("<details>");
  assert.ok(firstFold > 0 && firstFold < 300, `the description opens with ${firstFold} chars`);
  assert.match(text, /<summary>Statuses and HTTP codes<\/summary>/);
  assert.match(text, /\| -2 \| 405 \|/);
  assert.ok(text.trimEnd().endsWith("</details>"));
  const regs = doc.paths["/v1/zx/thread_write_state"].post.requestBody.content["application/json"]
    .schema.properties.regs.description;
  assert.match(regs, /arm64 GENERAL_REGS: x0\.\.x29 = r\[0\.\.29\], x30 = lr, fp = r\[29\]/);
  assert.match(regs, /x64 DEBUG_REGS: dr0\.\.dr3 = dr\[0\.\.3\]/);
  assert.ok(doc.paths["/v1/kernels"].get, "GET /v1/kernels is documented");
});

// ---------------------------------------------------------------------------
// 7. The access log

Deno.test("access log: one line per request: method, path, status, ms", async () => {
  const lines: string[] = [];
  const { app } = createApp();
  const handler = withAccessLog(app.fetch, (line) => lines.push(line));
  const info = {} as Deno.ServeHandlerInfo<Deno.NetAddr>;
  await (await handler(new Request("http://x/v1/kernels", { method: "POST", body: "{}" }), info))
    .body?.cancel();
  await (await handler(new Request("http://x/v1/zx/handle_close?x=1", { method: "GET" }), info))
    .body?.cancel();
  await (await handler(new Request("http://x/nothing", { method: "GET" }), info)).body?.cancel();
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^POST \/v1\/kernels 201 \d+\.\dms$/);
  assert.match(lines[1], /^GET \/v1\/zx\/handle_close\?x=1 405 \d+\.\dms$/);
  assert.match(lines[2], /^GET \/nothing 404 \d+\.\dms$/);
});

/** Runs main.ts with `args` and `env`, makes two requests, and returns what it printed. */
async function serverOutput(args: string[], env: Record<string, string>): Promise<string[]> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...START_ARGS, "--port", String(port), ...args],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited: ${seen}`);
    seen += value;
  }
  const base = `http://127.0.0.1:${port}`;
  await (await fetch(`${base}/v1/kernels`, { method: "POST", body: "{}" })).body?.cancel();
  await (await fetch(`${base}/v1/zx/handle_close`, { method: "POST", body: "{}" })).body?.cancel();
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await child.status;
  return seen.split("\n").filter((line) => line !== "");
}

Deno.test("access log: off by default, on with --log or ZXSIM_LOG=1", async () => {
  const quiet = await serverOutput([], {});
  assert.equal(quiet.length, 2, quiet.join("\n"));
  assert.match(quiet[0], /^zxsim listening on /);
  assert.equal(quiet[1], "zxsim: stopping (SIGTERM)");
  for (const [args, env] of [[["--log"], {}], [[], { ZXSIM_LOG: "1" }]] as const) {
    const lines = await serverOutput([...args], env);
    assert.equal(lines.length, 4, lines.join("\n"));
    assert.match(lines[1], /^POST \/v1\/kernels 201 \d+\.\dms$/);
    assert.match(lines[2], /^POST \/v1\/zx\/handle_close 401 \d+\.\dms$/);
  }
});

// ---------------------------------------------------------------------------
// 6. A clean first run prints no warning

/** `deno cache` of swagger-ui-dist (which pulls in @scarf/scarf) into a fresh DENO_DIR. */
async function freshInstall(config: Json): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "zxsim-install-" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config));
    await Deno.writeTextFile(`${dir}/main.ts`, 'import "swagger-ui-dist";\n');
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["cache", "main.ts"],
      cwd: dir,
      env: { DENO_DIR: `${dir}/cache`, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.ok(success, text);
    return text;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("clean run: installing the dependencies prints no build-script warning", async () => {
  const project = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const imports = { "swagger-ui-dist": project.imports["swagger-ui-dist"] };
  // Without the setting Deno warns about @scarf/scarf's install script (so the check sees it)…
  assert.match(await freshInstall({ imports }), /Ignored build scripts[\s\S]*@scarf\/scarf/);
  // …with deno.json's allowScripts it says nothing.
  const quiet = await freshInstall({ imports, allowScripts: project.allowScripts });
  assert.doesNotMatch(quiet, /Warning|Ignored build scripts/);
});
