// zx_channel_create, zx_channel_write, zx_channel_read: modern Zircon's
// checks in its order (lib/syscalls/channel.cc). zx_channel_call is in
// channel_call.ts.

import { z } from "zod";
import { Channel, CHANNEL_MAX_MSG_BYTES, CHANNEL_MAX_MSG_HANDLES } from "../channel.ts";
import { deliverHandles, destroyMessage } from "../message.ts";
import { DEFAULT_RIGHTS, RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { CHANNEL_OPTION } from "../types.ts";
import {
  checkFull,
  closeUserHandles,
  newMessageBytes,
  noIovecs,
  putHandles,
  reserveFor,
} from "./channel_message.ts";
import { defineSyscall } from "./define.ts";
import { handleList } from "./ipc_params.ts";
import { bytes, flags, handle, size } from "./params.ts";

const { READ_MAY_DISCARD, WRITE_USE_IOVEC } = CHANNEL_OPTION;

export const channelCreate = defineSyscall({
  name: "channel_create",
  abis: ["zx", "mx"],
  summary: "Create a channel: two connected endpoints",
  description: "`options` must be 0. Both handles get ZX_DEFAULT_CHANNEL_RIGHTS (0xF00E: " +
    "TRANSFER, WAIT, INSPECT, READ, WRITE, SIGNAL, SIGNAL_PEER; no DUPLICATE), and both " +
    "endpoints start with ZX_CHANNEL_WRITABLE asserted.",
  params: z.strictObject({ options: flags("options", "must be 0").default(0) }),
  outs: z.object({ out0: handle(), out1: handle() }),
  errors: ["INVALID_ARGS", "NO_MEMORY"],
  example: () => ({ options: 0 }),
  errorExample: () => ({ options: 1 }),
  c: [
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "out0", type: "u32" },
    { kind: "out_value", name: "out1", type: "u32" },
  ],
  impl(caller, { options }) {
    if (options !== 0) throw new ZxError(ERR.INVALID_ARGS, "options must be 0");
    caller.handles.reserve(2);
    caller.kernel.reserveObjects(2);
    const [end0, end1] = Channel.pair(() => caller.kernel.nextKoid()).map((end) =>
      caller.kernel.objects.track(end)
    );
    const out0 = caller.handles.add(end0, DEFAULT_RIGHTS.channel).value;
    const out1 = caller.handles.add(end1, DEFAULT_RIGHTS.channel).value;
    return { out0, out1 };
  },
});

export const channelWrite = defineSyscall({
  name: "channel_write",
  abis: ["zx", "mx"],
  summary: "Write a message to a channel",
  description: "Needs ZX_RIGHT_WRITE. `bytes` (base64) and `handles` (handle values) form the " +
    "message the peer endpoint reads; at most 65536 bytes and 64 handles (else OUT_OF_RANGE). " +
    "The handles are moved: they leave the caller whatever happens, also when the call fails " +
    "(each needs ZX_RIGHT_TRANSFER, else ACCESS_DENIED; the channel's own handle is " +
    "NOT_SUPPORTED and is closed with the rest; an invalid or repeated value is BAD_HANDLE). " +
    "Order: options (only ZX_CHANNEL_WRITE_USE_IOVEC is known, else INVALID_ARGS; zxsim does " +
    "not support iovecs: NOT_SUPPORTED), handle, sizes, the handles, then PEER_CLOSED if the " +
    "peer has gone. A write leaving more than 3500 unread messages still succeeds but raises " +
    "ZX_EXCP_POLICY_ERROR (ZX_EXCP_POLICY_CODE_CHANNEL_FULL_WRITE) on the writer, as Zircon " +
    "does; unhandled, it kills the writer's process.",
  params: z.strictObject({
    handle: handle(),
    options: flags("options", "0 (or ZX_CHANNEL_WRITE_USE_IOVEC)").default(0),
    bytes: bytes().optional().describe("the message's bytes (base64); default none"),
    num_bytes: size().optional().describe("defaults to the length of bytes"),
    handles: handleList("handles to move into the message; default none").optional(),
    num_handles: size().optional().describe("defaults to the length of handles"),
  }),
  outs: z.object({}),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "OUT_OF_RANGE",
    "NOT_SUPPORTED",
    "PEER_CLOSED",
    "NO_MEMORY",
  ],
  example: (h) => ({ handle: h.channel, bytes: "aGVsbG8=", handles: [h.new_thread] }),
  errorExample: (h) => ({ handle: h.channel, bytes: "aGVsbG8=", handles: [h.channel] }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "in", name: "bytes", size: "num_bytes" },
    { kind: "value", name: "num_bytes", type: "u32" },
    { kind: "in", name: "handles", size: "num_handles", elements: "u32" },
    { kind: "value", name: "num_handles", type: "u32" },
  ],
  impl(caller, args) {
    const data = args.bytes ?? new Uint8Array(0);
    const values = args.handles ?? [];
    const numBytes = args.num_bytes ?? data.length;
    const numHandles = args.num_handles ?? values.length;
    let channel: Channel;
    let messageBytes: Uint8Array;
    try {
      if ((args.options & ~WRITE_USE_IOVEC) !== 0) {
        throw new ZxError(ERR.INVALID_ARGS, "options may only be ZX_CHANNEL_WRITE_USE_IOVEC");
      }
      channel = caller.handles.lookupAs(args.handle, Channel, RIGHT.WRITE);
      if (args.options & WRITE_USE_IOVEC) throw noIovecs();
      messageBytes = newMessageBytes(data, numBytes, numHandles);
    } catch (error) {
      closeUserHandles(caller, values, numHandles);
      throw error;
    }
    const handles = numHandles > 0 ? putHandles(caller, channel, values, numHandles) : [];
    const message = { bytes: messageBytes, handles };
    const peer = channel.peer;
    if (!peer) {
      destroyMessage(message);
      throw new ZxError(ERR.PEER_CLOSED, "the other endpoint has been closed");
    }
    checkFull(caller, peer, peer.enqueue(message));
    return {};
  },
});

export const channelRead = defineSyscall({
  name: "channel_read",
  abis: ["zx", "mx"],
  summary: "Read the next message from a channel",
  description: "Needs ZX_RIGHT_READ. Returns the bytes (base64) and the handle values, now the " +
    "caller's, with the rights they were sent with. `num_bytes` and `num_handles` are the room " +
    "the caller has (default 65536 and 64). Order: handle, options (anything but " +
    "ZX_CHANNEL_READ_MAY_DISCARD is NOT_SUPPORTED), then an empty queue is SHOULD_WAIT, or " +
    "PEER_CLOSED once the peer has gone. A message that does not fit gives BUFFER_TOO_SMALL " +
    "with its sizes in `actual_bytes` and `actual_handles` and stays queued, unless " +
    "ZX_CHANNEL_READ_MAY_DISCARD is given: then it is dropped and its handles closed. " +
    "ZX_CHANNEL_READABLE goes when the last message is read.",
  params: z.strictObject({
    handle: handle(),
    options: flags("options", "0 or ZX_CHANNEL_READ_MAY_DISCARD").default(0),
    num_bytes: size(0xffff_ffff).default(CHANNEL_MAX_MSG_BYTES)
      .describe("room for bytes (default ZX_CHANNEL_MAX_MSG_BYTES)"),
    num_handles: size(0xffff_ffff).default(CHANNEL_MAX_MSG_HANDLES)
      .describe("room for handles (default ZX_CHANNEL_MAX_MSG_HANDLES)"),
  }),
  outs: z.object({
    bytes: z.string(),
    handles: z.array(handle()),
    actual_bytes: z.number(),
    actual_handles: z.number(),
  }),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "NOT_SUPPORTED",
    "SHOULD_WAIT",
    "PEER_CLOSED",
    "BUFFER_TOO_SMALL",
    "NO_MEMORY",
  ],
  example: (h) => ({ handle: h.channel_peer }),
  errorExample: (h) => ({ handle: h.channel }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out", name: "bytes", size: "num_bytes" },
    { kind: "out", name: "handles", size: "num_handles", elements: "u32" },
    { kind: "value", name: "num_bytes", type: "u32" },
    { kind: "value", name: "num_handles", type: "u32" },
    { kind: "out_value", name: "actual_bytes", type: "u32" },
    { kind: "out_value", name: "actual_handles", type: "u32" },
  ],
  impl(caller, { handle, options, num_bytes, num_handles }) {
    const channel = caller.handles.lookupAs(handle, Channel, RIGHT.READ);
    if ((options & ~READ_MAY_DISCARD) !== 0) {
      throw new ZxError(ERR.NOT_SUPPORTED, "options may only be ZX_CHANNEL_READ_MAY_DISCARD");
    }
    const next = channel.front();
    if (!next) {
      if (channel.peer === null) {
        throw new ZxError(ERR.PEER_CLOSED, "no message, and the other endpoint has been closed");
      }
      throw new ZxError(ERR.SHOULD_WAIT, "no message is queued");
    }
    const actual = { actual_bytes: next.bytes.length, actual_handles: next.handles.length };
    if (actual.actual_bytes > num_bytes || actual.actual_handles > num_handles) {
      const discard = (options & READ_MAY_DISCARD) !== 0;
      if (discard) destroyMessage(channel.take()!);
      throw new ZxError(
        ERR.BUFFER_TOO_SMALL,
        `the next message has ${actual.actual_bytes} bytes and ${actual.actual_handles} ` +
          `handles; room was given for ${num_bytes} and ${num_handles}` +
          (discard ? " (it was discarded)" : ""),
        actual,
      );
    }
    reserveFor(caller, next);
    const message = channel.take()!;
    return {
      bytes: message.bytes,
      handles: deliverHandles(caller.handles, message.handles),
      ...actual,
    };
  },
});
