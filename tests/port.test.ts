// Ports through HTTP: create, queue, wait (blocking, deadlines, several
// waiters, suspension), cancel, and object_wait_async's signal packets
// (level, edge, one-shot, timestamps, cancelation), byte for byte.

import assert from "node:assert/strict";
import { archTest, expectErr, inProcess, TestKernel, u64At } from "./helpers.ts";
import {
  channel,
  fails,
  inMs,
  otherProcess,
  port,
  text,
  untilState,
  write,
} from "./ipc_helpers.ts";

const READABLE = 1 << 0;
const WRITABLE = 1 << 1;
const PEER_CLOSED = 1 << 2;
const TERMINATED = 1 << 3;
const RIGHT = { READ: 1 << 2, WRITE: 1 << 3, WAIT: 1 << 14 };
const DEFAULT_PORT_RIGHTS = 0x800f;
const BLOCKED_PORT = 0x403;

/** A port_wait that polls; its packet's bytes, or null when there is none. */
async function poll(k: TestKernel, handle: number, token = k.token) {
  const reply = await k.call("port_wait", { handle, deadline: 0 }, token);
  if (reply.body.status === "ZX_ERR_TIMED_OUT") return null;
  assert.equal(reply.body.code, 0, JSON.stringify(reply.body));
  return { bytes: Uint8Array.fromBase64(reply.body.packet), view: reply.body.view };
}

/** A 48-byte user packet with `key` and u64 payload words. */
function userPacket(key: bigint, status: number, ...words: bigint[]): Uint8Array {
  const bytes = new Uint8Array(48);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, key, true);
  view.setInt32(12, status, true);
  words.forEach((w, i) => view.setBigUint64(16 + 8 * i, w, true));
  return bytes;
}

Deno.test("port_create: options 0 or BIND_TO_INTERRUPT, rights 0x800F, not waitable", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const info = await k.basic(p);
  assert.equal(info.type, 6, "ZX_OBJ_TYPE_PORT");
  assert.equal(info.rights, DEFAULT_PORT_RIGHTS);
  await k.ok("port_create", { options: "ZX_PORT_BIND_TO_INTERRUPT" });
  expectErr(await k.call("port_create", { options: 2 }), "INVALID_ARGS");
  // No ZX_RIGHT_WAIT: a port cannot be waited on.
  expectErr(
    await k.call("object_wait_one", { handle: p, signals: 1, deadline: 0 }),
    "ACCESS_DENIED",
  );
});

Deno.test("port_queue / port_wait: user packets, FIFO, bytes kept, type made USER", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const first = userPacket(0x1122334455667788n, -23, 1n, 2n, 3n, 0xffff_ffff_ffff_ffffn);
  first[8] = 0x05; // a type other than USER: the kernel makes it USER
  await k.ok("port_queue", { handle: p, packet: first.toBase64() });
  await k.ok("port_queue", {
    handle: p,
    packet: { key: "0x2a", type: "ZX_PKT_TYPE_USER", status: 5, user: { c8: [104, 105] } },
  });
  await k.ok("port_queue", { handle: p, packet: { user: { u32: [1, 2] } } });
  const one = await poll(k, p);
  const expected = first.slice();
  expected[8] = 0;
  assert.deepEqual(one!.bytes, expected);
  assert.deepEqual(one!.view, {
    key: "0x1122334455667788",
    type: 0,
    status: -23,
    user: {
      u64: [
        "0x0000000000000001",
        "0x0000000000000002",
        "0x0000000000000003",
        "0xffffffffffffffff",
      ],
    },
  });
  const two = await poll(k, p);
  assert.equal(u64At(two!.bytes, 0), 42n);
  assert.deepEqual([...two!.bytes.subarray(12, 18)], [5, 0, 0, 0, 104, 105]);
  const three = await poll(k, p);
  assert.deepEqual([...three!.bytes.subarray(16, 24)], [1, 0, 0, 0, 2, 0, 0, 0]);
  assert.equal(await poll(k, p), null, "empty: TIMED_OUT");
});

Deno.test("port_queue and port_wait: handle, type, rights, then the packet", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const packet = new Uint8Array(48).toBase64();
  expectErr(await k.call("port_queue", { handle: 0x1233, packet }), "BAD_HANDLE");
  expectErr(await k.call("port_queue", { handle: k.handles.thread, packet }), "WRONG_TYPE");
  const noWrite = await k.reduced(p, DEFAULT_PORT_RIGHTS & ~RIGHT.WRITE);
  expectErr(await k.call("port_queue", { handle: noWrite, packet }), "ACCESS_DENIED");
  expectErr(
    await k.call("port_queue", { handle: p, packet: new Uint8Array(47).toBase64() }),
    "INVALID_ARGS",
  );
  expectErr(
    await k.call("port_queue", { handle: p, packet: { user: { u8: [1] } } }),
    "INVALID_ARGS",
  );
  expectErr(await k.call("port_wait", { handle: 0x1233, deadline: 0 }), "BAD_HANDLE");
  const [a] = await channel(k);
  expectErr(await k.call("port_wait", { handle: a, deadline: 0 }), "WRONG_TYPE");
  const noRead = await k.reduced(p, DEFAULT_PORT_RIGHTS & ~RIGHT.READ);
  await k.ok("port_queue", { handle: p, packet });
  expectErr(await k.call("port_wait", { handle: noRead, deadline: 0 }), "ACCESS_DENIED");
  assert.notEqual(await poll(k, p), null);
});

Deno.test("port_wait blocks until another thread queues, or until its deadline", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const { thread, token } = await k.clientThread("waiter");
  const wait = k.call("port_wait", { handle: p }, token);
  await untilState(k, thread, BLOCKED_PORT);
  await k.ok("port_queue", { handle: p, packet: { key: 7 } });
  const woken = await wait;
  assert.equal(woken.body.code, 0);
  assert.equal(woken.body.view.key, "0x0000000000000007");
  assert.equal(await k.threadState(thread), 1, "RUNNING again");

  const started = performance.now();
  fails(await k.call("port_wait", { handle: p, deadline: await inMs(k, 30) }, token), "TIMED_OUT");
  assert.ok(performance.now() - started >= 25);
  // A deadline in the past polls.
  fails(await k.call("port_wait", { handle: p, deadline: "ZX_TIME_INFINITE_PAST" }), "TIMED_OUT");
});

Deno.test("several waiters get one packet each, the first to wait first", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const waiters = [await k.clientThread("one"), await k.clientThread("two")];
  const waits = [];
  for (const { thread, token } of waiters) {
    waits.push(k.call("port_wait", { handle: p }, token));
    await untilState(k, thread, BLOCKED_PORT);
  }
  await k.ok("port_queue", { handle: p, packet: { key: 1 } });
  await k.ok("port_queue", { handle: p, packet: { key: 2 } });
  const [one, two] = await Promise.all(waits);
  assert.equal(one.body.view.key, "0x0000000000000001");
  assert.equal(two.body.view.key, "0x0000000000000002");
});

archTest(
  "a thread blocked in port_wait is interrupted by a suspension and waits again",
  async (k) => {
    const p = await port(k);
    const { thread, token } = await k.clientThread("waiter");
    const wait = k.call("port_wait", { handle: p }, token);
    await untilState(k, thread, BLOCKED_PORT);
    const { token: suspension } = await k.ok("task_suspend", { handle: thread });
    await untilState(k, thread, 2);
    const { regs } = await k.ok("thread_read_state", { handle: thread, kind: 0 });
    const result = k.arch === "x64" ? regs.rax : regs.r[0];
    assert.equal(BigInt.asIntN(64, BigInt(result)), -6n, "ZX_ERR_INTERNAL_INTR_RETRY");
    // The packet queued while it is suspended stays in the port until it waits again.
    await k.ok("port_queue", { handle: p, packet: { key: 3 } });
    await new Promise((resolve) => setTimeout(resolve, 10));
    await k.ok("handle_close", { handle: suspension });
    const woken = await wait;
    assert.equal(woken.body.code, 0, JSON.stringify(woken.body));
    assert.equal(woken.body.view.key, "0x0000000000000003");
  },
);

archTest("a debugger's status in the return register ends an interrupted port_wait", async (k) => {
  const p = await port(k);
  const { thread, token } = await k.clientThread("waiter");
  const wait = k.call("port_wait", { handle: p }, token);
  await untilState(k, thread, BLOCKED_PORT);
  const { token: suspension } = await k.ok("task_suspend", { handle: thread });
  await untilState(k, thread, 2);
  const register = k.arch === "x64" ? { rax: -23 } : { r: [-23] };
  await k.ok("thread_write_state", { handle: thread, kind: 0, regs: register });
  await k.ok("handle_close", { handle: suspension });
  fails(await wait, "CANCELED");
});

Deno.test("a thread killed in port_wait gets INTERNAL_INTR_KILLED", async () => {
  const k = await TestKernel.create();
  const other = await otherProcess(k);
  const p = await port(k, other.token);
  const wait = k.call("port_wait", { handle: p }, other.token);
  await untilState(k, other.thread, BLOCKED_PORT);
  await k.ok("task_kill", { handle: other.process });
  fails(await wait, "INTERNAL_INTR_KILLED");
});

Deno.test("object_wait_async: level fires at once; the packet is exact", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  await write(k, a, { bytes: text("x") });
  await k.ok("object_wait_async", {
    handle: b,
    port: p,
    key: "0xfedcba9876543210",
    signals: ["ZX_CHANNEL_READABLE", "ZX_CHANNEL_PEER_CLOSED"],
  });
  const packet = await poll(k, p);
  const expected = new Uint8Array(48);
  const view = new DataView(expected.buffer);
  view.setBigUint64(0, 0xfedcba9876543210n, true);
  view.setUint32(8, 1, true); // ZX_PKT_TYPE_SIGNAL_ONE
  view.setUint32(16, READABLE | PEER_CLOSED, true); // trigger
  view.setUint32(20, READABLE | WRITABLE, true); // observed: every signal asserted
  view.setBigUint64(24, 1n, true); // count
  assert.deepEqual(packet!.bytes, expected);
  assert.deepEqual(packet!.view, {
    key: "0xfedcba9876543210",
    type: 1,
    status: 0,
    signal: {
      trigger: 5,
      observed: 3,
      count: "0x0000000000000001",
      timestamp: "0x0000000000000000",
      reserved1: "0x0000000000000000",
    },
  });
  // One-shot: nothing more, whatever happens next.
  await k.ok("channel_read", { handle: b });
  await write(k, a, { bytes: text("y") });
  assert.equal(await poll(k, p), null);
});

Deno.test("object_wait_async: a level wait not yet asserted fires on the change", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  await k.ok("object_wait_async", { handle: b, port: p, key: 1, signals: "ZX_CHANNEL_READABLE" });
  assert.equal(await poll(k, p), null);
  await write(k, a, {});
  const packet = await poll(k, p);
  assert.equal(packet!.view.signal.observed, READABLE | WRITABLE);
  await k.ok("handle_close", { handle: a });
  assert.equal(await poll(k, p), null, "one packet per wait");
});

Deno.test("object_wait_async: ZX_WAIT_ASYNC_EDGE waits for a signal to be newly asserted", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  await write(k, a, {});
  await k.ok("object_wait_async", {
    handle: b,
    port: p,
    key: 2,
    signals: "ZX_CHANNEL_READABLE",
    options: "ZX_WAIT_ASYNC_EDGE",
  });
  assert.equal(await poll(k, p), null, "already asserted: no packet");
  await write(k, a, {});
  assert.equal(await poll(k, p), null, "READABLE was already asserted: no edge");
  await k.ok("channel_read", { handle: b });
  await k.ok("channel_read", { handle: b });
  assert.equal(await poll(k, p), null, "clearing is no edge either");
  await write(k, a, {});
  const packet = await poll(k, p);
  assert.equal(packet!.view.key, "0x0000000000000002");
  assert.equal(packet!.view.signal.observed, READABLE | WRITABLE);
});

Deno.test("object_wait_async: an edge of another signal fires a wait whose trigger is asserted", async () => {
  // Dispatcher::UpdateStateLocked notifies when any signal is newly asserted,
  // and a wait matches if its trigger is asserted then.
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  await k.ok("object_wait_async", {
    handle: b,
    port: p,
    key: 3,
    signals: "ZX_CHANNEL_WRITABLE",
    options: "ZX_WAIT_ASYNC_EDGE",
  });
  await write(k, a, {});
  const packet = await poll(k, p);
  assert.equal(packet!.view.signal.observed, READABLE | WRITABLE);
});

Deno.test("object_wait_async: ZX_WAIT_ASYNC_TIMESTAMP records when it fired", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  const before = BigInt((await k.ok("clock_get_monotonic")).time);
  await k.ok("object_wait_async", {
    handle: b,
    port: p,
    key: 4,
    signals: "ZX_CHANNEL_PEER_CLOSED",
    options: "ZX_WAIT_ASYNC_TIMESTAMP",
  });
  await k.ok("handle_close", { handle: a });
  const after = BigInt((await k.ok("clock_get_monotonic")).time);
  const packet = await poll(k, p);
  const timestamp = u64At(packet!.bytes, 32);
  assert.ok(timestamp >= before && timestamp <= after, `${before} <= ${timestamp} <= ${after}`);
  assert.equal(packet!.view.signal.observed, PEER_CLOSED);
});

Deno.test("object_wait_async: options, the port, then the handle", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a] = await channel(k);
  const body = (over: Record<string, unknown>) => ({
    handle: a,
    port: p,
    key: 0,
    signals: READABLE,
    ...over,
  });
  expectErr(
    await k.call("object_wait_async", body({ handle: 0x1233, port: 0x1233, options: 4 })),
    "INVALID_ARGS",
  );
  expectErr(
    await k.call("object_wait_async", body({ handle: 0x1233, port: 0x1233 })),
    "BAD_HANDLE",
  );
  expectErr(await k.call("object_wait_async", body({ handle: 0x1233, port: a })), "WRONG_TYPE");
  const noWrite = await k.reduced(p, DEFAULT_PORT_RIGHTS & ~RIGHT.WRITE);
  expectErr(
    await k.call("object_wait_async", body({ handle: 0x1233, port: noWrite })),
    "ACCESS_DENIED",
  );
  expectErr(await k.call("object_wait_async", body({ handle: 0x1233 })), "BAD_HANDLE");
  const noWait = await k.reduced(k.handles.thread, 0x8000);
  expectErr(await k.call("object_wait_async", body({ handle: noWait })), "ACCESS_DENIED");
  // A VMAR has no ZX_RIGHT_WAIT at all.
  expectErr(await k.call("object_wait_async", body({ handle: k.handles.vmar })), "ACCESS_DENIED");
  await k.ok(
    "object_wait_async",
    body({ options: ["ZX_WAIT_ASYNC_EDGE", "ZX_WAIT_ASYNC_TIMESTAMP"] }),
  );
});

Deno.test("closing the handle ends its waits; packets already queued stay", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const { proc_handle: process } = await k.ok("process_create", {
    job: k.handles.root_job,
    name: "victim",
  });
  const watched = await k.dup(process);
  await k.ok("object_wait_async", { handle: watched, port: p, key: 5, signals: TERMINATED });
  const [, b] = await channel(k);
  await k.ok("object_wait_async", { handle: b, port: p, key: 6, signals: WRITABLE });
  await k.ok("handle_close", { handle: watched });
  await k.ok("task_kill", { handle: process });
  await k.ok("handle_close", { handle: b });
  const packet = await poll(k, p);
  assert.equal(packet!.view.key, "0x0000000000000006", "the queued packet stayed");
  assert.equal(await poll(k, p), null, "the closed handle's wait is gone");
});

Deno.test("a wait goes on while its handle travels in a message, and ends when it lands", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  const [c, d] = await channel(k);
  await k.ok("object_wait_async", { handle: c, port: p, key: 7, signals: PEER_CLOSED });
  await write(k, a, { handles: [c] });
  await k.ok("handle_close", { handle: d });
  const packet = await poll(k, p);
  assert.equal(packet!.view.key, "0x0000000000000007");
  // Delivered, a handle's waits are over.
  const [e, f] = await channel(k);
  await k.ok("object_wait_async", { handle: e, port: p, key: 8, signals: PEER_CLOSED });
  await write(k, a, { handles: [e] });
  await k.ok("channel_read", { handle: b }); // c's message
  await k.ok("channel_read", { handle: b }); // e's
  await k.ok("handle_close", { handle: f });
  assert.equal(await poll(k, p), null);
});

Deno.test("port_cancel: by source and key, waits and queued packets; NOT_FOUND", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  await k.ok("object_wait_async", { handle: b, port: p, key: 1, signals: READABLE });
  await k.ok("object_wait_async", { handle: b, port: p, key: 2, signals: READABLE });
  await k.ok("object_wait_async", { handle: a, port: p, key: 1, signals: WRITABLE });
  await k.ok("port_queue", { handle: p, packet: { key: 1 } });
  // a's wait fired at once (WRITABLE) and is queued: cancel removes that packet.
  await k.ok("port_cancel", { handle: p, source: a, key: 1 });
  await k.ok("port_cancel", { handle: p, source: b, key: 1 });
  fails(await k.call("port_cancel", { handle: p, source: b, key: 1 }), "NOT_FOUND");
  await write(k, a, {});
  const user = await poll(k, p);
  assert.equal(user!.view.type, 0, "user packets are not the source's");
  const left = await poll(k, p);
  assert.equal(left!.view.key, "0x0000000000000002");
  assert.equal(await poll(k, p), null);
  // Order: the port (WRITE), then the source (BAD_HANDLE, WAIT).
  expectErr(await k.call("port_cancel", { handle: a, source: 0x1233, key: 1 }), "WRONG_TYPE");
  const noWrite = await k.reduced(p, DEFAULT_PORT_RIGHTS & ~RIGHT.WRITE);
  expectErr(
    await k.call("port_cancel", { handle: noWrite, source: 0x1233, key: 1 }),
    "ACCESS_DENIED",
  );
  expectErr(await k.call("port_cancel", { handle: p, source: 0x1233, key: 1 }), "BAD_HANDLE");
  expectErr(await k.call("port_cancel", { handle: p, source: p, key: 1 }), "ACCESS_DENIED");
  const noWait = await k.reduced(k.handles.thread, 0x8000);
  expectErr(await k.call("port_cancel", { handle: p, source: noWait, key: 1 }), "ACCESS_DENIED");
});

Deno.test("a port's last handle closed drops its packets and its waits", async () => {
  const k = await TestKernel.create();
  const p = await port(k);
  const [a, b] = await channel(k);
  await k.ok("object_wait_async", { handle: b, port: p, key: 1, signals: READABLE });
  await k.ok("port_queue", { handle: p, packet: { key: 2 } });
  await k.ok("handle_close", { handle: p });
  await write(k, a, {});
  assert.equal(await k.signals(b), READABLE | WRITABLE);
});

Deno.test("a port holding more than 4096 user packets refuses one and raises a policy exception", async () => {
  const k = await TestKernel.create();
  const other = await otherProcess(k);
  const p = await port(k, other.token);
  for (let i = 0; i <= 4096; i++) {
    await k.ok("port_queue", { handle: p, packet: { key: i } }, other.token);
  }
  fails(await k.call("port_queue", { handle: p, packet: { key: 0 } }, other.token), "SHOULD_WAIT");
  const info = await k.ok("object_get_info", { handle: other.process, topic: "ZX_INFO_PROCESS" });
  assert.equal(BigInt.asIntN(64, BigInt(info.info.return_code)), -1028n);
});

Deno.test("port_wait and channel_call end at the server's cap on one request: TIMED_OUT", async () => {
  const k = await TestKernel.create(inProcess({ maxBlockMs: 40 }));
  const p = await port(k);
  const waited = await k.call("port_wait", { handle: p });
  fails(waited, "TIMED_OUT");
  assert.match(waited.body.message, /cap of 40 ms/);
  const [client, server] = await channel(k);
  const called = await k.call("channel_call", { handle: client, args: { wr_bytes: "AAAAAA==" } });
  fails(called, "TIMED_OUT");
  // The call gave up: its reply, when it comes, is an ordinary message.
  const request = await k.ok("channel_read", { handle: server });
  await write(k, server, { bytes: request.bytes });
  assert.equal((await k.ok("channel_read", { handle: client })).bytes, request.bytes);
});

Deno.test("in a manual kernel a port_wait deadline passes on virtual time", async () => {
  const k = await TestKernel.create(inProcess(), { boot_options: { scheduler: "manual" } });
  const p = await port(k);
  const started = performance.now();
  const deadline = await inMs(k, 5_000);
  fails(await k.call("port_wait", { handle: p, deadline }), "TIMED_OUT");
  assert.ok(performance.now() - started < 2_000, "virtual seconds are not wall seconds");
  const { time } = await k.ok("clock_get_monotonic");
  assert.ok(BigInt(time) >= BigInt(deadline), "the clock reached the deadline");
});
