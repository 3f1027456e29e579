// Reading exceptions from an exception channel, as a handler does over HTTP.

import assert from "node:assert/strict";
import type { KernelSession } from "../client/zxsim.ts";

/** Waits for a message on `channel` and reads it: the info record and the exception handle. */
export async function receive(k: KernelSession, channel: number) {
  await k.zx.object_wait_one({
    handle: channel,
    signals: ["ZX_CHANNEL_READABLE"],
    deadline: "ZX_TIME_INFINITE",
  });
  const message = await k.zx.channel_read({ handle: channel, num_bytes: 64, num_handles: 1 });
  const bytes = Uint8Array.fromBase64(message.bytes as string);
  assert.equal(bytes.length, 24, "one zx_exception_info_t");
  assert.equal((message.handles as number[]).length, 1, "one exception handle");
  const view = new DataView(bytes.buffer);
  return {
    pid: Number(view.getBigUint64(0, true)),
    tid: Number(view.getBigUint64(8, true)),
    type: view.getUint32(16, true),
    exception: (message.handles as number[])[0],
  };
}
