// Channels through HTTP: create, write, read and call, their rights,
// signals and order of checks as modern Zircon has them, handles moved
// between processes, and a program that serves and calls from code.

import assert from "node:assert/strict";
import { loadElf } from "../client/loader.ts";
import { ARCHES, archTest, expectErr, TestKernel } from "./helpers.ts";
import {
  base64,
  bytesOf,
  channel,
  fails,
  inMs,
  koidOf,
  otherProcess,
  text,
  until,
  untilState,
  write,
} from "./ipc_helpers.ts";
import { returnCode, session, terminated } from "./program_helpers.ts";

const READABLE = 1 << 0;
const WRITABLE = 1 << 1;
const PEER_CLOSED = 1 << 2;
const RIGHT = { TRANSFER: 1 << 1, READ: 1 << 2, WRITE: 1 << 3, WAIT: 1 << 14 };
const DEFAULT_CHANNEL_RIGHTS = 0xf00e;

/** An endpoint of a new channel with only `rights` (channels cannot be duplicated). */
async function replaced(k: TestKernel, rights: number): Promise<number> {
  const [end] = await channel(k);
  return (await k.ok("handle_replace", { handle: end, rights })).out;
}

Deno.test("channel_create: two endpoints, peers of each other, rights 0xF00E, WRITABLE", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  const infoA = await k.basic(a);
  const infoB = await k.basic(b);
  assert.equal(infoA.type, 4, "ZX_OBJ_TYPE_CHANNEL");
  assert.equal(infoA.rights, DEFAULT_CHANNEL_RIGHTS);
  assert.equal(infoB.rights, DEFAULT_CHANNEL_RIGHTS);
  assert.equal(infoA.related, infoB.koid);
  assert.equal(infoB.related, infoA.koid);
  assert.equal(await k.signals(a), WRITABLE);
  // Options must be 0; no DUPLICATE right, so no second handle.
  expectErr(await k.call("channel_create", { options: 1 }), "INVALID_ARGS");
  expectErr(await k.call("handle_duplicate", { handle: a, rights: 0x8000_0000 }), "ACCESS_DENIED");
});

Deno.test("channel_write / channel_read: bytes and handles, in order, READABLE while queued", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  const vmoKoid = await koidOf(k, vmo);
  const reduced = await k.reduced(vmo, RIGHT.TRANSFER | RIGHT.READ);
  await write(k, a, { bytes: text("first"), handles: [vmo, reduced] });
  await write(k, a, { bytes: text("second") });
  assert.equal(await k.signals(b), READABLE | WRITABLE);
  assert.equal(await k.signals(a), WRITABLE, "the writer's end is not readable");
  // The handles left the writer.
  expectErr(await k.call("handle_close", { handle: vmo }), "BAD_HANDLE");
  expectErr(await k.call("handle_close", { handle: reduced }), "BAD_HANDLE");

  const first = await k.ok("channel_read", { handle: b });
  assert.equal(first.bytes, text("first"));
  assert.equal(first.actual_bytes, 5);
  assert.equal(first.actual_handles, 2);
  assert.equal(first.handles.length, 2);
  const [got, gotReduced] = first.handles;
  assert.equal(await koidOf(k, got), vmoKoid, "the same VMO");
  assert.equal((await k.basic(got)).rights, 0xd0ef, "ZX_DEFAULT_VMO_RIGHTS, as sent");
  assert.equal((await k.basic(gotReduced)).rights, RIGHT.TRANSFER | RIGHT.READ, "rights kept");
  assert.equal(await k.signals(b), READABLE | WRITABLE, "one message is left");
  const second = await k.ok("channel_read", { handle: b });
  assert.equal(second.bytes, text("second"));
  assert.deepEqual(second.handles, []);
  assert.equal(await k.signals(b), WRITABLE, "READABLE went with the last message");
  fails(await k.call("channel_read", { handle: b }), "SHOULD_WAIT");
  // An empty message is a message.
  await write(k, b, {});
  const empty = await k.ok("channel_read", { handle: a, num_bytes: 0, num_handles: 0 });
  assert.equal(empty.bytes, "");
  assert.equal(empty.actual_bytes, 0);
});

Deno.test("channel_read: a message too big is BUFFER_TOO_SMALL with its sizes, and stays", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  const [c, d] = await channel(k);
  await write(k, a, { bytes: text("0123456789"), handles: [c] });
  const small = await k.call("channel_read", { handle: b, num_bytes: 9 });
  fails(small, "BUFFER_TOO_SMALL");
  assert.equal(small.body.actual_bytes, 10);
  assert.equal(small.body.actual_handles, 1);
  const noRoom = await k.call("channel_read", { handle: b, num_handles: 0 });
  fails(noRoom, "BUFFER_TOO_SMALL");
  assert.deepEqual([noRoom.body.actual_bytes, noRoom.body.actual_handles], [10, 1]);
  // Still there: read in full.
  const read = await k.ok("channel_read", { handle: b, num_bytes: 10, num_handles: 1 });
  assert.equal(read.bytes, text("0123456789"));
  // With ZX_CHANNEL_READ_MAY_DISCARD it is dropped, and the handles it carries are closed:
  // the endpoint it carried goes, so its peer sees PEER_CLOSED.
  const [e, f] = await channel(k);
  await write(k, a, { bytes: text("dropped"), handles: [e] });
  await write(k, a, { bytes: text("next") });
  const discarded = await k.call("channel_read", {
    handle: b,
    options: "ZX_CHANNEL_READ_MAY_DISCARD",
    num_bytes: 2,
  });
  fails(discarded, "BUFFER_TOO_SMALL");
  assert.deepEqual([discarded.body.actual_bytes, discarded.body.actual_handles], [7, 1]);
  assert.equal(await k.signals(f), PEER_CLOSED);
  assert.equal((await k.ok("channel_read", { handle: b })).bytes, text("next"));
  assert.equal(await k.signals(d), WRITABLE, "the endpoint read earlier is alive");
});

Deno.test("channel_read: checks the handle, then options, then the queue", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  expectErr(await k.call("channel_read", { handle: 0x1233 }), "BAD_HANDLE");
  expectErr(await k.call("channel_read", { handle: 0x1233, options: 2 }), "BAD_HANDLE");
  expectErr(await k.call("channel_read", { handle: k.handles.thread }), "WRONG_TYPE");
  const noRead = await k.ok("handle_replace", {
    handle: b,
    rights: DEFAULT_CHANNEL_RIGHTS & ~RIGHT.READ,
  });
  // Type before rights: a thread handle without READ is still WRONG_TYPE.
  const thread = await k.reduced(k.handles.thread, RIGHT.WAIT);
  expectErr(await k.call("channel_read", { handle: thread }), "WRONG_TYPE");
  expectErr(await k.call("channel_read", { handle: noRead.out }), "ACCESS_DENIED");
  fails(await k.call("channel_read", { handle: a, options: 2 }), "NOT_SUPPORTED");
  fails(await k.call("channel_read", { handle: a, options: 3 }), "NOT_SUPPORTED");
  fails(await k.call("channel_read", { handle: a, options: 1 }), "SHOULD_WAIT");
});

Deno.test("PEER_CLOSED: queued messages stay readable, then reads and writes fail", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  await write(k, a, { bytes: text("last words") });
  await k.ok("handle_close", { handle: a });
  assert.equal(await k.signals(b), READABLE | PEER_CLOSED, "WRITABLE is gone");
  assert.equal((await k.ok("channel_read", { handle: b })).bytes, text("last words"));
  assert.equal(await k.signals(b), PEER_CLOSED);
  fails(await k.call("channel_read", { handle: b }), "PEER_CLOSED");
  // A write to a closed peer consumes its handles all the same.
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  fails(
    await k.call("channel_write", { handle: b, bytes: text("x"), handles: [vmo] }),
    "PEER_CLOSED",
  );
  expectErr(await k.call("handle_close", { handle: vmo }), "BAD_HANDLE");
});

Deno.test("closing an endpoint closes the handles of the messages queued in it", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  const [c, d] = await channel(k);
  await write(k, a, { handles: [c] });
  await k.ok("handle_close", { handle: b });
  assert.equal(await k.signals(d), PEER_CLOSED, "c went with the message it was in");
});

Deno.test("channel_write: options, then the handle, then sizes; the handles go whatever fails", async () => {
  const k = await TestKernel.create();
  const [a] = await channel(k);
  const vmo = async () => (await k.ok("vmo_create", { size: 4096 })).out as number;
  const gone = async (handle: number) =>
    expectErr(await k.call("handle_close", { handle }), "BAD_HANDLE");

  // Options first: even a bad handle is INVALID_ARGS.
  let v = await vmo();
  expectErr(
    await k.call("channel_write", { handle: 0x1233, options: 4, handles: [v] }),
    "INVALID_ARGS",
  );
  await gone(v);
  v = await vmo();
  expectErr(await k.call("channel_write", { handle: 0x1233, handles: [v] }), "BAD_HANDLE");
  await gone(v);
  v = await vmo();
  expectErr(
    await k.call("channel_write", { handle: k.handles.thread, handles: [v] }),
    "WRONG_TYPE",
  );
  await gone(v);
  // The rights come before the sizes.
  const noWrite = await replaced(k, DEFAULT_CHANNEL_RIGHTS & ~RIGHT.WRITE);
  const big = new Uint8Array(65537).toBase64();
  expectErr(await k.call("channel_write", { handle: noWrite, bytes: big }), "ACCESS_DENIED");
  v = await vmo();
  fails(await k.call("channel_write", { handle: a, bytes: big, handles: [v] }), "OUT_OF_RANGE");
  await gone(v);
  fails(await k.call("channel_write", { handle: a, num_handles: 65 }), "OUT_OF_RANGE");
  // Exactly the limits fit.
  await write(k, a, { bytes: new Uint8Array(65536).toBase64() });
  v = await vmo();
  expectErr(
    await k.call("channel_write", { handle: a, bytes: text("ab"), num_bytes: 3, handles: [v] }),
    "INVALID_ARGS",
  );
  await gone(v);
  // zxsim has no iovecs.
  v = await vmo();
  fails(
    await k.call("channel_write", {
      handle: a,
      options: "ZX_CHANNEL_WRITE_USE_IOVEC",
      handles: [v],
    }),
    "NOT_SUPPORTED",
  );
  await gone(v);
});

Deno.test("channel_write: each handle needs TRANSFER, is not the channel, appears once", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  const vmo = async () => (await k.ok("vmo_create", { size: 4096 })).out as number;
  const gone = async (handle: number) =>
    expectErr(await k.call("handle_close", { handle }), "BAD_HANDLE");

  const good = await vmo();
  const noTransfer = await k.reduced(await vmo(), RIGHT.READ);
  expectErr(
    await k.call("channel_write", { handle: a, handles: [good, noTransfer] }),
    "ACCESS_DENIED",
  );
  await gone(good);
  await gone(noTransfer);
  fails(await k.call("channel_read", { handle: b }), "SHOULD_WAIT");

  // A bad value is BAD_HANDLE; the good ones are consumed all the same.
  const other = await vmo();
  expectErr(await k.call("channel_write", { handle: a, handles: [0x1233, other] }), "BAD_HANDLE");
  await gone(other);

  // The same handle twice: the second is no longer there.
  const twice = await vmo();
  expectErr(await k.call("channel_write", { handle: a, handles: [twice, twice] }), "BAD_HANDLE");
  await gone(twice);

  // The first error is the one reported.
  const first = await k.reduced(await vmo(), RIGHT.READ);
  expectErr(
    await k.call("channel_write", { handle: a, handles: [first, 0x1233] }),
    "ACCESS_DENIED",
  );

  // The channel's own handle: NOT_SUPPORTED, and that handle is closed too.
  fails(await k.call("channel_write", { handle: a, handles: [a] }), "NOT_SUPPORTED");
  await gone(a);
  assert.equal(await k.signals(b), PEER_CLOSED);
  fails(await k.call("channel_read", { handle: b }), "PEER_CLOSED");
});

Deno.test("a handle moves to another process: written in one, read in the other", async () => {
  const k = await TestKernel.create();
  const other = await otherProcess(k);
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  const koid = await koidOf(k, vmo);
  await write(k, other.peer, { bytes: text("a vmo for you"), handles: [vmo] });
  const read = await k.ok("channel_read", { handle: other.end }, other.token);
  assert.equal(read.bytes, text("a vmo for you"));
  const [moved] = read.handles;
  assert.equal(await koidOf(k, moved, other.token), koid, "the same VMO, there");
  expectErr(await k.call("handle_close", { handle: vmo }), "BAD_HANDLE");
  // And back again, with a channel endpoint of the other process.
  const [mine, theirs] = await channel(k, other.token);
  await write(k, other.end, { handles: [theirs, moved] }, other.token);
  const back = await k.ok("channel_read", { handle: other.peer });
  assert.equal(await koidOf(k, back.handles[1]), koid);
  await write(k, mine, { bytes: text("over the moved channel") }, other.token);
  const over = await k.ok("channel_read", { handle: back.handles[0] });
  assert.equal(over.bytes, text("over the moved channel"));
});

Deno.test("a wait on a handle goes on while the handle travels, and ends when it lands", async () => {
  const k = await TestKernel.create();
  const [a, b] = await channel(k);
  const [c] = await channel(k);
  const { thread: waiter, token } = await k.clientThread("waiter");
  // The client waits on c (PEER_CLOSED); the bootstrap thread then sends c through a.
  const wait = k.call("object_wait_one", { handle: c, signals: "ZX_CHANNEL_PEER_CLOSED" }, token);
  await untilState(k, waiter, 0x603);
  await write(k, a, { handles: [c] });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await k.threadState(waiter), 0x603, "still waiting while c is in transit");
  await k.ok("channel_read", { handle: b });
  const ended = await wait;
  fails(ended, "CANCELED");
  assert.equal(ended.body.observed & (1 << 23), 1 << 23, "ZX_SIGNAL_HANDLE_CLOSED");
});

Deno.test("channel_call: a second client thread answers; the txid is the kernel's", async () => {
  const k = await TestKernel.create();
  const [client, server] = await channel(k);
  const { token } = await k.clientThread("server");
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  const vmoKoid = await koidOf(k, vmo);
  const call = k.call("channel_call", {
    handle: client,
    deadline: "ZX_TIME_INFINITE",
    args: { wr_bytes: base64(0xaa, 0xbb, 0xcc, 0xdd, 1, 2), wr_handles: [vmo] },
  });
  await k.ok("object_wait_one", { handle: server, signals: READABLE }, token);
  const request = await k.ok("channel_read", { handle: server }, token);
  const bytes = bytesOf(request.bytes);
  assert.deepEqual(bytes.slice(0, 4), [1, 0, 0, 0x80], "txid 0x80000001 replaced 0xddccbbaa");
  assert.deepEqual(bytes.slice(4), [1, 2]);
  assert.equal(request.handles.length, 1);
  // A message without the txid is an ordinary one: it waits in the queue.
  await write(k, server, { bytes: base64(9, 9, 9, 9, 9) }, token);
  await write(k, server, { bytes: base64(1, 0, 0, 0x80, 7), handles: request.handles }, token);
  const reply = await call;
  assert.equal(reply.body.code, 0, JSON.stringify(reply.body));
  assert.deepEqual(bytesOf(reply.body.rd_bytes), [1, 0, 0, 0x80, 7]);
  assert.equal(reply.body.actual_bytes, 5);
  assert.equal(reply.body.actual_handles, 1);
  assert.equal(await koidOf(k, reply.body.rd_handles[0]), vmoKoid, "the VMO came back");
  assert.equal((await k.ok("channel_read", { handle: client })).bytes, base64(9, 9, 9, 9, 9));
  // The next call gets the next txid.
  const again = k.call("channel_call", { handle: client, args: { wr_bytes: base64(0, 0, 0, 0) } });
  await k.ok("object_wait_one", { handle: server, signals: READABLE }, token);
  const next = await k.ok("channel_read", { handle: server }, token);
  assert.deepEqual(bytesOf(next.bytes), [2, 0, 0, 0x80]);
  await write(k, server, { bytes: next.bytes }, token);
  assert.equal((await again).body.code, 0);
});

Deno.test("channel_call: concurrent callers each get the reply with their own txid", async () => {
  const k = await TestKernel.create();
  const [client, server] = await channel(k);
  const callers = [await k.clientThread("one"), await k.clientThread("two")];
  const calls = callers.map(({ token }, i) =>
    k.call("channel_call", { handle: client, args: { wr_bytes: base64(0, 0, 0, 0, i) } }, token)
  );
  await until(async () => (await k.signals(server) & READABLE) !== 0, "a request");
  const requests = [];
  for (let i = 0; i < 2; i++) {
    await k.ok("object_wait_one", { handle: server, signals: READABLE });
    requests.push(bytesOf((await k.ok("channel_read", { handle: server })).bytes));
  }
  // Answer in the other order, each with its caller's byte doubled.
  for (const request of requests.reverse()) {
    await write(k, server, { bytes: base64(...request.slice(0, 4), request[4] * 2 + 10) });
  }
  const replies = await Promise.all(calls);
  for (const [i, reply] of replies.entries()) {
    assert.equal(reply.body.code, 0);
    assert.equal(bytesOf(reply.body.rd_bytes)[4], i * 2 + 10);
  }
});

Deno.test("channel_call: deadline, PEER_CLOSED, CANCELED and a reply too big", async () => {
  const k = await TestKernel.create();
  const [client, server] = await channel(k);
  // The deadline passes: TIMED_OUT, and the late reply is an ordinary message.
  const started = performance.now();
  const late = await k.call("channel_call", {
    handle: client,
    deadline: await inMs(k, 30),
    args: { wr_bytes: base64(0, 0, 0, 0) },
  });
  fails(late, "TIMED_OUT");
  assert.ok(performance.now() - started >= 25);
  const request = await k.ok("channel_read", { handle: server });
  await write(k, server, { bytes: request.bytes });
  assert.equal((await k.ok("channel_read", { handle: client })).bytes, request.bytes);

  // A reply larger than rd_num_bytes is discarded, with its handles.
  const { token } = await k.clientThread("caller");
  const [e, f] = await channel(k);
  const tooBig = k.call("channel_call", {
    handle: client,
    args: { wr_bytes: base64(0, 0, 0, 0), rd_num_bytes: 4 },
  }, token);
  await k.ok("object_wait_one", { handle: server, signals: READABLE });
  const asked = await k.ok("channel_read", { handle: server });
  await write(k, server, { bytes: base64(...bytesOf(asked.bytes), 1), handles: [e] });
  const refused = await tooBig;
  fails(refused, "BUFFER_TOO_SMALL");
  assert.equal(refused.body.actual_bytes, undefined, "no sizes are reported");
  assert.equal(await k.signals(f), PEER_CLOSED, "the reply's handles were closed");
  fails(await k.call("channel_read", { handle: client }), "SHOULD_WAIT");

  // The caller's own handle closed during the call: CANCELED.
  const canceled = k.call("channel_call", {
    handle: client,
    args: { wr_bytes: base64(0, 0, 0, 0) },
  }, token);
  await k.ok("object_wait_one", { handle: server, signals: READABLE });
  await k.ok("handle_close", { handle: client });
  fails(await canceled, "CANCELED");

  // The peer closed during the call: PEER_CLOSED; and calling a closed peer at once too.
  const [c2, s2] = await channel(k);
  const orphan = k.call(
    "channel_call",
    { handle: c2, args: { wr_bytes: base64(0, 0, 0, 0) } },
    token,
  );
  await k.ok("object_wait_one", { handle: s2, signals: READABLE });
  await k.ok("handle_close", { handle: s2 });
  fails(await orphan, "PEER_CLOSED");
  const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
  fails(
    await k.call("channel_call", {
      handle: c2,
      args: { wr_bytes: base64(0, 0, 0, 0), wr_handles: [vmo] },
    }),
    "PEER_CLOSED",
  );
  expectErr(await k.call("handle_close", { handle: vmo }), "BAD_HANDLE");
});

Deno.test("channel_call: order of checks; every handle goes whatever fails", async () => {
  const k = await TestKernel.create();
  const [a] = await channel(k);
  const vmo = async () => (await k.ok("vmo_create", { size: 4096 })).out as number;
  const gone = async (handle: number) =>
    expectErr(await k.call("handle_close", { handle }), "BAD_HANDLE");
  const call = (handle: number, args: Record<string, unknown>, options = 0) =>
    k.call("channel_call", { handle, options, deadline: 0, args });

  expectErr(await k.call("channel_call", { handle: a, args: null }), "INVALID_ARGS");
  let v = await vmo();
  expectErr(await call(0x1233, { wr_bytes: "", wr_handles: [v] }, 8), "INVALID_ARGS");
  await gone(v);
  v = await vmo();
  expectErr(await call(0x1233, { wr_bytes: "", wr_handles: [v] }), "BAD_HANDLE");
  await gone(v);
  expectErr(await call(k.handles.thread, { wr_bytes: "" }), "WRONG_TYPE");
  // Both READ and WRITE are needed.
  for (const missing of [RIGHT.READ, RIGHT.WRITE]) {
    const reduced = await replaced(k, DEFAULT_CHANNEL_RIGHTS & ~missing);
    expectErr(await call(reduced, { wr_bytes: new Uint8Array(70000).toBase64() }), "ACCESS_DENIED");
  }
  v = await vmo();
  fails(
    await call(a, { wr_bytes: new Uint8Array(65537).toBase64(), wr_handles: [v] }),
    "OUT_OF_RANGE",
  );
  await gone(v);
  // Sizes before the txid's four bytes.
  v = await vmo();
  expectErr(await call(a, { wr_bytes: base64(1, 2, 3), wr_handles: [v] }), "INVALID_ARGS");
  await gone(v);
  fails(await call(a, { wr_bytes: base64(0, 0, 0, 0), wr_handles: [a] }), "NOT_SUPPORTED");
  await gone(a);
});

for (const arch of ARCHES) {
  Deno.test(`[${arch}] a program waits on a port, serves a request and makes a call, from code`, async () => {
    const k = await session(arch);
    const bytes = Deno.readFileSync(new URL(`./fixtures/ipc/${arch}/echo.elf`, import.meta.url));
    const program = await loadElf(k, bytes, { name: "echo", start: false });
    const { out0: mine, out1: theirs } = await k.zx.channel_create({});
    await k.zx.process_start({
      handle: program.process,
      thread: program.thread,
      entry: Number(program.entry),
      stack: Number(program.sp),
      arg1: theirs,
    });
    // It waits in zx_port_wait for its port to be told the channel is readable.
    await until(async () => {
      const { info } = await k.zx.object_get_info({
        handle: program.thread,
        topic: "ZX_INFO_THREAD",
      });
      return (info as { state: number }).state === 0x403;
    }, "the program waits");
    // 1. A request with a handle: the reply is "echo:" + the bytes, the handle back.
    const { out: vmo } = await k.zx.vmo_create({ size: 4096 });
    const koid = (await k.zx.object_get_info({ handle: vmo, topic: "ZX_INFO_HANDLE_BASIC" }))
      .info!.koid;
    await k.zx.channel_write({ handle: mine, bytes: text("hi there"), handles: [vmo] });
    await k.zx.object_wait_one({ handle: mine, signals: READABLE, deadline: "ZX_TIME_INFINITE" });
    const reply = await k.zx.channel_read({ handle: mine });
    assert.equal(new TextDecoder().decode(Uint8Array.fromBase64(reply.bytes)), "echo:hi there");
    assert.equal(reply.handles.length, 1);
    const back = await k.zx.object_get_info({
      handle: reply.handles[0],
      topic: "ZX_INFO_HANDLE_BASIC",
    });
    assert.equal(back.info!.koid, koid, "the VMO went there and back");
    // 2. Its call: "ping" after a kernel txid; it waits, ZX_THREAD_STATE_BLOCKED_CHANNEL, for
    // "pong" after the same txid.
    await until(async () => {
      const { info } = await k.zx.object_get_info({
        handle: program.thread,
        topic: "ZX_INFO_THREAD",
      });
      return (info as { state: number }).state === 0x503;
    }, "the program calls");
    await k.zx.object_wait_one({ handle: mine, signals: READABLE, deadline: "ZX_TIME_INFINITE" });
    const ping = bytesOf((await k.zx.channel_read({ handle: mine })).bytes);
    assert.deepEqual(ping.slice(0, 4), [1, 0, 0, 0x80]);
    assert.equal(new TextDecoder().decode(Uint8Array.from(ping.slice(4))), "ping");
    await k.zx.channel_write({
      handle: mine,
      bytes: base64(...ping.slice(0, 4), ...bytesOf(text("pong"))),
    });
    await terminated(k, program.process);
    assert.equal(await returnCode(k, program.process), 0);
  });
}

archTest(
  "a client blocked in channel_call is suspended, resumed, and gets its reply",
  async (k) => {
    const [client, server] = await channel(k);
    const { thread, token } = await k.clientThread("caller");
    const call = k.call(
      "channel_call",
      { handle: client, args: { wr_bytes: base64(0, 0, 0, 0) } },
      token,
    );
    await untilState(k, thread, 0x503);
    const { token: suspension } = await k.ok("task_suspend", { handle: thread });
    const { regs } = await k.ok("thread_read_state", { handle: thread, kind: 0 });
    const result = k.arch === "x64" ? regs.rax : regs.r[0];
    assert.equal(BigInt.asIntN(64, BigInt(result)), -6n, "ZX_ERR_INTERNAL_INTR_RETRY");
    // The reply arrives while it is suspended; it gets it once resumed.
    const request = await k.ok("channel_read", { handle: server });
    await write(k, server, { bytes: request.bytes });
    await k.ok("handle_close", { handle: suspension });
    const reply = await call;
    assert.equal(reply.body.code, 0);
    assert.equal(reply.body.rd_bytes, request.bytes);
  },
);

Deno.test("a write that leaves more than 3500 messages unread raises a policy exception", async () => {
  const k = await TestKernel.create();
  const other = await otherProcess(k);
  const [a] = await channel(k, other.token);
  for (let i = 0; i < 3500; i++) await write(k, a, {}, other.token);
  // The 3501st is queued and the write succeeds, but the writer takes
  // ZX_EXCP_POLICY_ERROR; nobody handles it, so its process dies.
  const last = await k.call("channel_write", { handle: a }, other.token);
  assert.equal(last.body.code, 0);
  const dead = await k.ok("object_wait_one", {
    handle: other.process,
    signals: "ZX_TASK_TERMINATED",
    deadline: 0,
  });
  assert.ok(dead.observed & (1 << 3));
  const info = await k.ok("object_get_info", { handle: other.process, topic: "ZX_INFO_PROCESS" });
  assert.equal(BigInt.asIntN(64, BigInt(info.info.return_code)), -1028n);
  const log = await (await k.fetcher(`/v1/kernels/${k.id}/debuglog`, {
    headers: { authorization: `Bearer ${k.token}` },
  })).json();
  assert.match(log.text, /KERN: channel \(\d+\) has 3501 messages \(other\) \(write\)\. Raising/);
});
