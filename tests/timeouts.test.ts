// Time limits on a request's body (ZXSIM_BODY_TIMEOUT_MS) against a real
// server, with raw TCP clients that stop half way: a slow client gets a 408
// or a closed connection, never a slot held forever; a normal request is
// unaffected. The limit is 500 ms here; the margins are generous for a
// noisy machine.

import assert from "node:assert/strict";
import { TestKernel } from "./helpers.ts";
import { freePort, startServer } from "./real_server.ts";
import { DEFAULT_HEADER_TIMEOUT_MS, defaultHeaderTimeoutMs } from "../routes/http.ts";

const LIMIT_MS = 500;
/** How long past the limit a reply may take on a busy machine. */
const SLACK_MS = 4000;

/** Sends `head` then waits for the reply or the close; returns what came back and when. */
async function sendPartial(port: number, text: string): Promise<{ reply: string; ms: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const start = performance.now();
  try {
    await conn.write(new TextEncoder().encode(text));
    const decoder = new TextDecoder();
    let reply = "";
    const buffer = new Uint8Array(4096);
    const timer = setTimeout(() => conn.close(), LIMIT_MS + SLACK_MS + 2000);
    try {
      while (true) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        reply += decoder.decode(buffer.subarray(0, n), { stream: true });
        // A whole reply (the JSON error body ends with "}") is enough.
        if (/\r\n\r\n[\s\S]*\}\s*$/.test(reply)) break;
      }
    } finally {
      clearTimeout(timer);
    }
    return { reply, ms: performance.now() - start };
  } finally {
    try {
      conn.close();
    } catch {
      // closed above
    }
  }
}

Deno.test("timeouts: half a body gets 408 within the limit; whole requests are unaffected", async () => {
  const port = freePort();
  const server = await startServer(["--port", String(port)], {
    ZXSIM_BODY_TIMEOUT_MS: String(LIMIT_MS),
  });
  try {
    // Through Hono's router: POST /v1/kernels.
    const router = await sendPartial(
      port,
      "POST /v1/kernels HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
        'content-length: 100\r\n\r\n{"arch":',
    );
    assert.match(router.reply, /^HTTP\/1\.1 408 /, router.reply);
    assert.match(router.reply, /"status":"ZX_ERR_TIMED_OUT"/, router.reply);
    assert.ok(router.ms >= LIMIT_MS - 50, `408 after ${router.ms} ms, before the limit`);
    assert.ok(router.ms < LIMIT_MS + SLACK_MS, `408 after ${router.ms} ms`);

    // Through the syscall fast path, and a chunked body that never ends.
    const k = await TestKernel.create(server.fetcher, { arch: "x64" });
    for (
      const body of [
        'content-length: 50\r\n\r\n{"handle":',
        'transfer-encoding: chunked\r\n\r\n5\r\n{"han\r\n',
      ]
    ) {
      const fast = await sendPartial(
        port,
        `POST /v1/zx/handle_close HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${k.token}\r\n` +
          `content-type: application/json\r\n${body}`,
      );
      assert.match(fast.reply, /^HTTP\/1\.1 408 /, fast.reply);
      assert.ok(fast.ms < LIMIT_MS + SLACK_MS, `408 after ${fast.ms} ms`);
    }

    // A body that arrives slowly but within the limit is read as usual.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const body = '{"arch":"arm64"}';
      const encoder = new TextEncoder();
      await conn.write(encoder.encode(
        "POST /v1/kernels HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body.slice(0, 5)}`,
      ));
      await new Promise((resolve) => setTimeout(resolve, LIMIT_MS / 5));
      await conn.write(encoder.encode(body.slice(5)));
      let reply = "";
      const buffer = new Uint8Array(4096);
      for (let n; (n = await conn.read(buffer)) !== null;) {
        reply += new TextDecoder().decode(buffer.subarray(0, n));
      }
      assert.match(reply, /^HTTP\/1\.1 201 /, reply);
    } finally {
      conn.close();
    }

    // The server still answers normally afterwards, with a kept-alive request after a wait.
    await new Promise((resolve) => setTimeout(resolve, LIMIT_MS * 2));
    const again = await TestKernel.create(server.fetcher, { arch: "arm64" });
    assert.ok(again.token);
  } finally {
    await server.stop();
  }
});

Deno.test("timeouts: ZXSIM_HEADER_TIMEOUT_MS closes a connection whose header stops half way", async () => {
  const port = freePort();
  const server = await startServer(["--port", String(port)], {
    ZXSIM_HEADER_TIMEOUT_MS: String(LIMIT_MS),
    ZXSIM_BODY_TIMEOUT_MS: String(LIMIT_MS),
  });
  try {
    const half = await sendPartial(port, "POST /v1/kernels HTTP/1.1\r\nhost: x\r\ncontent-");
    assert.equal(half.reply, "", "no reply, just a close");
    assert.ok(half.ms >= LIMIT_MS - 50, `closed after ${half.ms} ms, before the limit`);
    assert.ok(half.ms < LIMIT_MS + SLACK_MS, `closed after ${half.ms} ms`);

    // Requests through the front work as usual, kept alive, and half a body still gets 408.
    const k = await TestKernel.create(server.fetcher, { arch: "x64" });
    assert.ok((await k.basic(k.handles.process)).koid > 0);
    const body = await sendPartial(
      port,
      "POST /v1/kernels HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
        'content-length: 100\r\n\r\n{"arch":',
    );
    assert.match(body.reply, /^HTTP\/1\.1 408 /, body.reply);
    const again = await TestKernel.create(server.fetcher, { arch: "arm64" });
    assert.ok(again.token);
  } finally {
    await server.stop();
  }
});

Deno.test("timeouts: behind the header front, a kept-alive connection gone quiet mid-header is closed", async () => {
  const port = freePort();
  // The idle limit is the header limit plus the cap on one blocking call.
  const server = await startServer(["--port", String(port)], {
    ZXSIM_HEADER_TIMEOUT_MS: String(LIMIT_MS),
    ZXSIM_MAX_BLOCK_MS: String(LIMIT_MS),
  });
  try {
    // One whole request (answered), then half of the next one's header.
    const whole = "GET /v1/kernels/none HTTP/1.1\r\nhost: x\r\n\r\n";
    const first = await sendPartial(port, whole + "GET /v1/kernels/none HTTP/1.1\r\nhost: x\r\n");
    assert.match(first.reply, /^HTTP\/1\.1 4\d\d /, first.reply);
    // sendPartial returned at the first whole reply; time the close on a fresh connection.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const start = performance.now();
    await conn.write(
      new TextEncoder().encode(whole + "GET /v1/kernels/none HTTP/1.1\r\nhost: x\r\n"),
    );
    const buffer = new Uint8Array(4096);
    let text = "";
    const guard = setTimeout(() => conn.close(), 2 * LIMIT_MS + SLACK_MS + 2000);
    try {
      for (let n; (n = await conn.read(buffer).catch(() => null)) !== null;) {
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } finally {
      clearTimeout(guard);
    }
    const ms = performance.now() - start;
    assert.match(text, /^HTTP\/1\.1 4\d\d /, "the whole request was answered");
    assert.equal(text.match(/HTTP\/1\.1/g)?.length, 1, "the half request was not");
    assert.ok(ms >= 2 * LIMIT_MS - 50, `closed after ${ms} ms, before the idle limit`);
    assert.ok(ms < 2 * LIMIT_MS + SLACK_MS, `closed after ${ms} ms`);
  } finally {
    await server.stop();
  }
});

Deno.test("timeouts: the header front is on by default off loopback, off on loopback", () => {
  assert.equal(defaultHeaderTimeoutMs("127.0.0.1"), 0);
  assert.equal(defaultHeaderTimeoutMs("127.1.2.3"), 0);
  assert.equal(defaultHeaderTimeoutMs("localhost"), 0);
  assert.equal(defaultHeaderTimeoutMs("::1"), 0);
  assert.equal(defaultHeaderTimeoutMs("0.0.0.0"), DEFAULT_HEADER_TIMEOUT_MS);
  assert.equal(defaultHeaderTimeoutMs("192.168.1.5"), DEFAULT_HEADER_TIMEOUT_MS);
  assert.equal(defaultHeaderTimeoutMs("::"), DEFAULT_HEADER_TIMEOUT_MS);
});
