// The dashboard at GET /: how its files are served (in-process), then the
// page itself in Chromium against a real server, driven by clicks and typing
// and checked against independent API calls.

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { DEFAULT_RIGHTS, RIGHT } from "../kernel/rights.ts";
import { changedPaths, displayName, flattenRegs, fullName } from "../dashboard/regs.js";
import { generalAliases } from "../routes/dashboard.ts";
import { browserTest, screenshot } from "./browser.ts";
import { inProcess, type Json, send, TestKernel } from "./helpers.ts";
import { freePort, startServer } from "./real_server.ts";

const DIR = new URL("../dashboard/", import.meta.url);
const GENERAL_REGS = "ZX_THREAD_STATE_GENERAL_REGS";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** Rights as the page must name them, from kernel/rights.ts itself. */
function rightsNames(bits: number): string {
  if (bits === 0) return "NONE";
  return Object.entries(RIGHT)
    .filter(([, v]) => v !== 0 && v !== RIGHT.SAME_RIGHTS && (bits & v) >>> 0 === v)
    .map(([name]) => name)
    .join("|");
}

function expectNotFound(response: Response, body: Json): void {
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(body.status, "ZX_ERR_NOT_FOUND");
  assert.equal(body.code, -25);
  assert.equal(typeof body.message, "string");
}

Deno.test("dashboard files: GET / and every file in dashboard/ with its content type", async () => {
  const fetcher = inProcess();
  const index = await fetcher("/");
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-type"), TYPES.html);
  assert.equal(index.headers.get("x-content-type-options"), "nosniff");
  assert.match(index.headers.get("content-security-policy")!, /default-src 'self'/);
  const html = await index.text();
  assert.match(html, /<script type="module" src="\/dashboard\/dashboard\.js"><\/script>/);
  assert.match(html, /href="\/dashboard\/dashboard\.css"/);

  for await (const entry of Deno.readDir(DIR)) {
    const response = await fetcher(`/dashboard/${entry.name}`);
    assert.equal(response.status, 200, entry.name);
    assert.equal(response.headers.get("content-type"), TYPES[entry.name.split(".").pop()!]);
    const served = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual(served, await Deno.readFile(new URL(entry.name, DIR)), entry.name);
  }
  const head = await fetcher("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
});

Deno.test("dashboard files: every module the page imports is served", async () => {
  const fetcher = inProcess();
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.name.endsWith(".js")) continue;
    const source = await Deno.readTextFile(new URL(entry.name, DIR));
    for (const [, target] of source.matchAll(/^import .* from "\.\/([^"]+)";$/gm)) {
      const response = await fetcher(`/dashboard/${target}`);
      await response.body?.cancel();
      assert.equal(response.status, 200, `${entry.name} imports ${target}`);
    }
  }
});

Deno.test("dashboard files: constants.js carries kernel/rights.ts's table exactly", async () => {
  const response = await inProcess()("/dashboard/constants.js");
  assert.equal(response.headers.get("content-type"), TYPES.js);
  const source = await response.text();
  const module = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  assert.deepEqual(module.RIGHT, RIGHT);
  // The register aliases the API takes, from the arch layouts.
  assert.deepEqual(module.GENERAL_ALIASES, generalAliases());
  assert.deepEqual(module.GENERAL_ALIASES.arm64["r[0]"], ["x0"]);
  assert.deepEqual(module.GENERAL_ALIASES.arm64["r[29]"], ["x29", "fp"]);
  assert.deepEqual(module.GENERAL_ALIASES.arm64.lr, ["x30"]);
  assert.deepEqual(module.GENERAL_ALIASES.x64, {});
});

Deno.test("dashboard files: unknown names and path traversal are the JSON 404", async () => {
  const fetcher = inProcess();
  for (
    const path of [
      "/dashboard/nope.js",
      "/dashboard/",
      "/dashboard/..%2Fdeno.json",
      "/dashboard/..%2F..%2FREADME.md",
      "/dashboard/%2e%2e%2fkernel%2frights.ts",
      "/dashboard/%2e%2e/deno.json",
      "/dashboard/dashboard.js%00.html",
      "/dashboard/index.html/x",
    ]
  ) {
    const response = await fetcher(path);
    expectNotFound(response, await response.json());
  }
});

Deno.test("dashboard files: a raw request line with ../ reaches no file", async () => {
  // fetch() normalizes "..", so speak HTTP by hand to send the path as is.
  const server = await startServer(["--port", String(freePort())]);
  try {
    const { port } = new URL(server.url);
    for (const path of ["/dashboard/../deno.json", "/dashboard/..%2f..%2fdeno.json"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      await conn.write(
        new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
      );
      const reply = await new Response(conn.readable).text();
      assert.match(reply, /^HTTP\/1\.1 404/, path);
      assert.match(reply, /ZX_ERR_NOT_FOUND/);
      assert.doesNotMatch(reply, /"imports"/); // deno.json's content
    }
  } finally {
    await server.stop();
  }
});

Deno.test("dashboard regs.js: write keys from the named view, arm64 x names, changes", () => {
  const view = { r: ["0x1", "0x2"], lr: "0x0", v: [{ low: "0x3", high: "0x4" }], fpcr: 5 };
  const rows = flattenRegs(view);
  assert.deepEqual(rows.map((r) => r.path), [
    "r[0]",
    "r[1]",
    "lr",
    "v[0].low",
    "v[0].high",
    "fpcr",
  ]);
  assert.equal(rows.at(-1)!.value, "0x5");
  const arm64 = generalAliases().arm64, x64 = generalAliases().x64;
  assert.equal(displayName(arm64, "r[1]"), "x1");
  assert.equal(displayName(x64, "rax"), "rax");
  assert.equal(displayName(arm64, "lr"), "lr");
  assert.equal(fullName(arm64, "r[1]"), "x1 (r[1])");
  assert.equal(fullName(arm64, "r[29]"), "x29 (r[29], fp)");
  assert.equal(fullName(arm64, "lr"), "lr (x30)");
  assert.equal(fullName(x64, "rax"), "rax");
  assert.deepEqual(changedPaths(undefined, rows), new Set());
  const before = new Map(rows.map((r) => [r.path, r.value]));
  before.set("lr", "0x9");
  assert.deepEqual(changedPaths(before, rows), new Set(["lr"]));
});

// ---------------------------------------------------------------------------
// In Chromium

/** The register table's row for `name` (as displayed: rax, pc, x0). */
function reg(page: Page, name: string) {
  return page.locator(`#regs tbody tr[data-name="${name}"]`);
}

/** Waits until row `name` shows `value`. */
async function waitReg(page: Page, name: string, value: string, changed = false) {
  await page
    .locator(`#regs tbody tr${changed ? ".changed" : ""}[data-name="${name}"] code`)
    .filter({ hasText: new RegExp(`^${value}$`) })
    .waitFor();
}

function threadItem(page: Page, koid: number, lifecycle?: string) {
  const state = lifecycle ? `[data-lifecycle="${lifecycle}"]` : "";
  return page.locator(`[data-testid="thread-${koid}"]${state}`);
}

async function writeRegister(page: Page, register: string, value: string) {
  await page.getByLabel("Register", { exact: true }).selectOption(register);
  await page.getByLabel("Value (decimal or 0x hex)").fill(value);
  await page.getByRole("button", { name: "Write register" }).click();
}

function summaryOf(k: TestKernel): Promise<Json> {
  return send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET").then((r) => r.body);
}

browserTest("dashboard (x64): tree, suspend, read and write registers, resume", async (page) => {
  const server = await startServer(["--port", String(freePort())]);
  try {
    const elsewhere: string[] = [];
    page.on("request", (r) => r.url().startsWith(server.url) || elsewhere.push(r.url()));
    // TestKernel maps a spin loop at 0x1000000 and a stack below 0x2000000 for its threads.
    const k = await TestKernel.create(server.fetcher, { arch: "x64" });
    const { caller } = await summaryOf(k);
    await k.ok("debug_write", { buffer: btoa("hello from the test\n") });
    await page.goto(`${server.url}/#kernel=${k.id}&token=${k.token}`);
    await page.getByTestId("debuglog").filter({ hasText: /^hello from the test\n$/ }).waitFor();

    // The tree: the bootstrap thread, and each handle's rights by name.
    await threadItem(page, caller.thread, "RUNNING").waitFor();
    assert.equal(await page.getByTestId("kernel-arch").textContent(), "x64");
    const rightsCell = (h: number) => page.locator(`[data-testid="handle-${h}"] .rights`);
    assert.equal(
      await rightsCell(k.handles.thread).textContent(),
      rightsNames(DEFAULT_RIGHTS.thread),
    );
    assert.equal(
      await rightsCell(k.handles.thread).textContent(),
      "DUPLICATE|TRANSFER|READ|WRITE|GET_PROPERTY|SET_PROPERTY|DESTROY|SIGNAL|WAIT|INSPECT|" +
        "MANAGE_THREAD",
    );
    for (const process of (await summaryOf(k)).root_job.processes) {
      for (const h of process.handles) {
        assert.equal(await rightsCell(h.handle).textContent(), rightsNames(h.rights));
      }
    }

    // A running thread made through the API: its registers are refused until it is suspended.
    const worker = await k.newThread(k.handles.process, "api-worker");
    await k.ok("thread_start", {
      handle: worker,
      thread_entry: "0x1000000",
      stack: "0x2000000",
      arg1: 7,
      arg2: 9,
    });
    const workerKoid = (await k.basic(worker)).koid;
    await page.getByTestId("refresh").click();
    await page.getByRole("button", { name: `Select thread api-worker (koid ${workerKoid})` })
      .click();
    await page.getByTestId("regs-error").filter({ hasText: "409 ZX_ERR_BAD_STATE" }).waitFor();
    assert.equal(await page.getByTestId("regs").isHidden(), true);
    // It runs its code (the spin loop), and has raised no exception.
    assert.match((await page.getByTestId("thread-runs-code").textContent())!, /^yes/);
    assert.equal(await page.getByTestId("thread-exception").textContent(), "none");
    await threadItem(page, workerKoid).locator(".badge.code", { hasText: "runs code" }).waitFor();

    await page.getByTestId("suspend").click();
    await waitReg(page, "rip", "0x0000000001000000");
    await threadItem(page, workerKoid, "SUSPENDED").waitFor();
    await waitReg(page, "rsp", "0x0000000002000000");
    await waitReg(page, "rdi", "0x0000000000000007");
    await waitReg(page, "rsi", "0x0000000000000009");
    assert.equal(await page.locator("#regs tr.changed").count(), 0, "a first read marks nothing");
    assert.equal(await page.getByTestId("regs-error").isHidden(), true);

    // rax = 42 through the form: highlighted, and really written (an independent read).
    await writeRegister(page, "rax", "42");
    await waitReg(page, "rax", "0x000000000000002a", true);
    assert.equal(await page.locator("#regs tr.changed").count(), 1);
    const read = await k.ok("thread_read_state", { handle: worker, kind: GENERAL_REGS });
    assert.equal(read.regs.rax, "0x000000000000002a");

    // Hex input; the highlight follows the latest change only.
    await writeRegister(page, "rbx", "0xDEADBEEF");
    await waitReg(page, "rbx", "0x00000000deadbeef", true);
    assert.equal(await reg(page, "rax").getAttribute("class"), null);

    // A refused write shows the server's verdict and changes nothing.
    await writeRegister(page, "rip", "0xffffff8000000000");
    const error = page.getByTestId("error").filter({ hasText: "400 ZX_ERR_INVALID_ARGS" });
    await error.waitFor();
    assert.match((await error.textContent())!, /canonical/);
    const after = await k.ok("thread_read_state", { handle: worker, kind: GENERAL_REGS });
    assert.equal(after.regs.rip, "0x0000000001000000");

    // Resume closes the page's suspend token: running again, registers refused.
    await page.getByTestId("resume").click();
    await threadItem(page, workerKoid, "RUNNING").waitFor();
    await page.getByTestId("regs-error").filter({ hasText: "409 ZX_ERR_BAD_STATE" }).waitFor();
    assert.equal(await page.getByTestId("error").isHidden(), true);
    assert.equal(await k.threadState(worker), 1); // ZX_THREAD_STATE_RUNNING

    // A thread created from the page stops at its entry point. Code is mapped
    // there already, so the page maps nothing.
    await page.getByLabel("Name").fill("page-worker");
    await page.getByRole("button", { name: "Create thread" }).click();
    await page.getByRole("button", { name: /^Select thread page-worker/ }).waitFor();
    await waitReg(page, "rip", "0x0000000001000000");
    assert.match(
      (await page.getByTestId("notice").textContent())!,
      /suspended before its first instruction\.$/,
    );
    const created = (await summaryOf(k)).root_job.processes[0].threads
      .find((t: Json) => t.name === "page-worker");
    assert.equal(created.lifecycle, "SUSPENDED");
    assert.equal(created.suspend_count, 1);
    await threadItem(page, created.koid, "SUSPENDED").waitFor();

    // A process whose thread starts where nothing is mapped: the page fault
    // kills it, and the kernel's crash report shows in the debug log.
    const { proc_handle } = await k.ok("process_create", {
      job: k.handles.root_job,
      name: "crasher",
    });
    const main = await k.newThread(proc_handle, "main");
    await k.ok("process_start", {
      handle: proc_handle,
      thread: main,
      entry: "0x1000000",
      stack: "0x2000000",
      arg1: 0,
      arg2: 0,
    });
    await k.ok("object_wait_one", {
      handle: proc_handle,
      signals: "ZX_TASK_TERMINATED",
      deadline: "0x7fffffffffffffff",
    });
    await page.getByTestId("refresh").click();
    const crash = page.getByTestId("debuglog").filter({ hasText: "ZX_EXCP_FATAL_PAGE_FAULT" });
    await crash.waitFor();
    assert.match(
      (await crash.textContent())!,
      /^hello from the test\n<== fatal exception ZX_EXCP_FATAL_PAGE_FAULT at address 0x1000000, .*process crasher\[/,
    );

    await screenshot(page, "dashboard-x64");
    assert.deepEqual(elsewhere, [], "the page loads nothing from other origins");
  } finally {
    await server.stop();
  }
});

browserTest(
  "dashboard (arm64): create from the page, remember, reopen and resume",
  async (page) => {
    const server = await startServer(["--port", String(freePort())]);
    try {
      await page.goto(`${server.url}/`);
      await page.locator("body[data-ready=true]").waitFor();

      await page.getByLabel("Kernel id").fill("no-such-kernel");
      await page.getByLabel("Token").fill("bad");
      await page.getByRole("button", { name: "Open kernel" }).click();
      await page.getByTestId("error").filter({ hasText: /^401 ZX_ERR_ACCESS_DENIED: / }).waitFor();

      await page.getByLabel("Architecture").selectOption("arm64");
      await page.getByRole("button", { name: "Create kernel" }).click();
      await page.getByTestId("kernel-arch").filter({ hasText: "arm64" }).waitFor();
      const id = (await page.getByTestId("kernel-id").textContent())!;
      const stored = await page.evaluate(() => localStorage.getItem("zxsim.dashboard.kernels"));
      const [entry] = JSON.parse(stored!);
      assert.equal(entry.id, id);
      assert.equal(new URL(page.url()).hash, `#kernel=${id}&token=${entry.token}`);

      // Nothing is mapped in the new kernel: the page maps a spin loop and a stack first.
      await page.getByRole("button", { name: "Create thread" }).click();
      await waitReg(page, "pc", "0x0000000001000000");
      await waitReg(page, "sp", "0x0000000002000000");
      assert.match(
        (await page.getByTestId("notice").textContent())!,
        /Mapped a page of spin loops at 0x1000000 and a 64 KiB stack below 0x2000000 first\.$/,
      );
      const names = await page.locator("#regs tbody th").allTextContents();
      const xs = Array.from({ length: 30 }, (_, i) => `x${i}`);
      assert.deepEqual(names, [...xs, "lr", "sp", "pc", "cpsr", "tpidr"]);

      // The form names each register every way the API takes it; it sends Zircon's name.
      const option = page.getByLabel("Register", { exact: true }).locator('option[value="r[0]"]');
      assert.equal(await option.textContent(), "x0 (r[0])");
      await writeRegister(page, "r[0]", "0x10");
      await waitReg(page, "x0", "0x0000000000000010", true);
      assert.match((await page.getByTestId("notice").textContent())!, /Wrote x0 \(r\[0\]\) = 0x10/);
      const handle = Number(await page.getByTestId("thread-handle").textContent());
      const read = await send(server.fetcher, "/v1/zx/thread_read_state", {
        handle,
        kind: GENERAL_REGS,
      }, entry.token);
      assert.equal(read.body.code, 0, JSON.stringify(read.body));
      assert.equal(read.body.regs.r[0], "0x0000000000000010");

      await screenshot(page, "dashboard-arm64");

      // A second tab finds the kernel in the remembered list, with the suspend token to resume.
      const again = await page.context().newPage();
      await again.goto(`${server.url}/`);
      await again.getByRole("button", { name: `Open ${id} (arm64)` }).click();
      await again.getByRole("button", { name: /^Select thread worker/ }).click();
      await again.getByTestId("resume").click();
      await again.locator(`[data-testid^="thread-"][data-lifecycle="RUNNING"]`, {
        hasText: "worker",
      })
        .waitFor();
      assert.equal(await again.getByTestId("thread-tokens").textContent(), "none");
      assert.match((await again.getByTestId("thread-runs-code").textContent())!, /^yes/);

      // It really runs the mapped spin loop: the code is there, and suspended
      // again it stops in the loop (a fault would have killed the caller's process).
      const summary = await send(
        server.fetcher,
        `/v1/kernels/${id}`,
        undefined,
        entry.token,
        "GET",
      );
      const [bootstrap] = summary.body.root_job.processes;
      const self = bootstrap.handles.find((h: Json) => h.koid === bootstrap.koid).handle;
      const code = await send(server.fetcher, "/v1/zx/process_read_memory", {
        handle: self,
        vaddr: "0x1000000",
        buffer_size: 4,
      }, entry.token);
      assert.equal(code.body.buffer, "AAAAFA==", JSON.stringify(code.body)); // b .
      const suspended = await send(
        server.fetcher,
        "/v1/zx/task_suspend",
        { handle },
        entry.token,
      );
      assert.equal(suspended.body.code, 0, JSON.stringify(suspended.body));
      const stopped = await send(server.fetcher, "/v1/zx/thread_read_state", {
        handle,
        kind: GENERAL_REGS,
      }, entry.token);
      assert.equal(stopped.body.regs.pc, "0x0000000001000000");
    } finally {
      await server.stop();
    }
  },
);
