// Names that happen to be properties of every JS object ("toString",
// "constructor", ...) are not constants, deadlines or numbers: they are
// refused like any unknown name, never accepted as 0 or turned into a 500.

import assert from "node:assert/strict";
import { archTest, expectErr } from "./helpers.ts";

const PROTOTYPE_KEYS = ["toString", "constructor", "valueOf", "hasOwnProperty", "__proto__"];

archTest("prototype keys are not constant names", async (k) => {
  for (const key of PROTOTYPE_KEYS) {
    for (const rights of [`ZX_${key}`, [`MX_${key}`], key]) {
      const reply = await k.call("handle_duplicate", { handle: k.handles.thread, rights });
      expectErr(reply, "INVALID_ARGS");
      assert.match(reply.body.message, /unknown|not/);
    }
  }
});

archTest("prototype keys are not deadlines or 64-bit values", async (k) => {
  const thread = await k.newThread();
  for (const key of PROTOTYPE_KEYS) {
    const wait = await k.call("object_wait_one", {
      handle: k.handles.thread,
      signals: "ZX_THREAD_SUSPENDED",
      deadline: key,
    });
    expectErr(wait, "INVALID_ARGS");
    const start = await k.call("thread_start", { handle: thread, thread_entry: key, stack: 0 });
    expectErr(start, "INVALID_ARGS");
  }
  // The failed calls changed nothing: the thread is still NEW and startable.
  assert.equal(await k.threadState(thread), 0);
});

archTest("regs: a __proto__ key or a null value is refused and changes nothing", async (k) => {
  const { thread } = await k.suspendedThread();
  const read = async () =>
    (await k.ok("thread_read_state", { handle: thread, kind: "ZX_THREAD_STATE_GENERAL_REGS" }))
      .buffer;
  const before = await read();
  const pc = k.arch === "x64" ? "rip" : "pc";
  const sp = k.arch === "x64" ? "rsp" : "sp";
  for (
    const regs of ['{"__proto__":{"' + sp + '":5}}', `{"${pc}":null}`, `{"${sp}":7,"${pc}":null}`]
  ) {
    const response = await k.fetcher("/v1/zx/thread_write_state", {
      method: "POST",
      headers: { authorization: `Bearer ${k.token}`, "content-type": "application/json" },
      body: `{"handle":${thread},"kind":0,"regs":${regs}}`,
    });
    const body = await response.json();
    assert.equal(response.status, 400, regs);
    assert.equal(body.status, "ZX_ERR_INVALID_ARGS");
    assert.equal(await read(), before, `${regs} changed nothing`);
  }
});
