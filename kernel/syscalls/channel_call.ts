// zx_channel_call (zx_channel_call_noretry from code): a channel_write, a
// wait for the reply with the txid the kernel chose, and a channel_read of
// it, in modern Zircon's order (lib/syscalls/channel.cc, ChannelDispatcher::Call).

import { z } from "zod";
import { type CallResult, Channel } from "../channel.ts";
import { deliverHandles, destroyMessage, type Message } from "../message.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZX_OK, ZxError } from "../status.ts";
import { CHANNEL_OPTION, THREAD_STATE, TIME_INFINITE } from "../types.ts";
import { block } from "./blocking.ts";
import {
  checkFull,
  closeUserHandles,
  newMessageBytes,
  noIovecs,
  putHandles,
  reserveFor,
} from "./channel_message.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { callArgs } from "./ipc_params.ts";
import { deadline, flags, handle } from "./params.ts";

const { WRITE_USE_IOVEC } = CHANNEL_OPTION;

/** The reply goes to the caller as channel_read would give it (channel_read_out). */
function replyOuts(
  caller: Caller,
  reply: Message,
  room: { rd_num_bytes: number; rd_num_handles: number },
) {
  if (reply.bytes.length > room.rd_num_bytes || reply.handles.length > room.rd_num_handles) {
    destroyMessage(reply);
    throw new ZxError(
      ERR.BUFFER_TOO_SMALL,
      `the reply had ${reply.bytes.length} bytes and ${reply.handles.length} handles; room ` +
        `was given for ${room.rd_num_bytes} and ${room.rd_num_handles} (it was discarded)`,
    );
  }
  try {
    reserveFor(caller, reply);
  } catch (error) {
    destroyMessage(reply);
    throw error;
  }
  return {
    rd_bytes: reply.bytes,
    rd_handles: deliverHandles(caller.handles, reply.handles),
    actual_bytes: reply.bytes.length,
    actual_handles: reply.handles.length,
  };
}

export const channelCall = defineSyscall({
  name: "channel_call",
  abis: ["zx", "mx"],
  summary: "Write a message and wait for its reply",
  description: "Needs ZX_RIGHT_WRITE and ZX_RIGHT_READ. `args` is zx_channel_call_args_t with " +
    "its pointers as data: `wr_bytes` (base64, at least 4 bytes, else INVALID_ARGS) and " +
    "`wr_handles` are written as channel_write would (the handles always leave the caller); " +
    "the kernel puts a txid of its own (0x80000000 and up) in the first four bytes. The call " +
    "blocks until a message with that txid arrives at this endpoint (it is not queued; a " +
    "server replies by echoing the txid it read), the deadline or the server's cap passes " +
    "(TIMED_OUT; a later reply is queued as an ordinary message), the peer goes (PEER_CLOSED) " +
    "or this endpoint's handle is closed (CANCELED). The reply comes back as `rd_bytes` and " +
    "`rd_handles` with `actual_bytes` / `actual_handles`; one larger than `rd_num_bytes` / " +
    "`rd_num_handles` (default 65536 / 64) is discarded with BUFFER_TOO_SMALL (no sizes are " +
    "reported). Suspending the caller interrupts the wait (ZX_ERR_INTERNAL_INTR_RETRY in its " +
    "return register) and it goes on when the thread resumes, as channel_call_finish does. " +
    "From code this is zx_channel_call_noretry (number 25).",
  params: z.strictObject({
    handle: handle(),
    options: flags("options", "must be 0").default(0),
    deadline: deadline().default(TIME_INFINITE),
    args: callArgs().nullable().describe("zx_channel_call_args_t; null is a NULL pointer"),
  }),
  outs: z.object({
    rd_bytes: z.string(),
    rd_handles: z.array(handle()),
    actual_bytes: z.number(),
    actual_handles: z.number(),
  }),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "OUT_OF_RANGE",
    "NOT_SUPPORTED",
    "PEER_CLOSED",
    "TIMED_OUT",
    "CANCELED",
    "BUFFER_TOO_SMALL",
    "NO_MEMORY",
  ],
  example: (h) => ({
    handle: h.echo_channel,
    deadline: "ZX_TIME_INFINITE",
    args: { wr_bytes: "AAAAAGhpIQ==", rd_num_bytes: 64, rd_num_handles: 0 },
  }),
  errorExample: (h) => ({ handle: h.channel, args: { wr_bytes: "aGk=" } }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "value", name: "deadline", type: "i64" },
    {
      kind: "struct",
      name: "args",
      fields: [
        { kind: "in", name: "wr_bytes", size: "wr_num_bytes" },
        { kind: "in", name: "wr_handles", size: "wr_num_handles", elements: "u32" },
        { kind: "out", name: "rd_bytes", size: "rd_num_bytes" },
        { kind: "out", name: "rd_handles", size: "rd_num_handles", elements: "u32" },
        { kind: "value", name: "wr_num_bytes", type: "u32" },
        { kind: "value", name: "wr_num_handles", type: "u32" },
        { kind: "value", name: "rd_num_bytes", type: "u32" },
        { kind: "value", name: "rd_num_handles", type: "u32" },
      ],
    },
    { kind: "out_value", name: "actual_bytes", type: "u32" },
    { kind: "out_value", name: "actual_handles", type: "u32" },
  ],
  async impl(caller, { handle, options, deadline, args }) {
    if (args === null) throw new ZxError(ERR.INVALID_ARGS, "args is an invalid pointer");
    const data = args.wr_bytes ?? new Uint8Array(0);
    const values = args.wr_handles ?? [];
    const numBytes = args.wr_num_bytes ?? data.length;
    const numHandles = args.wr_num_handles ?? values.length;
    let channel: Channel;
    let messageBytes: Uint8Array;
    try {
      if ((options & ~WRITE_USE_IOVEC) !== 0) {
        throw new ZxError(ERR.INVALID_ARGS, "options may only be ZX_CHANNEL_WRITE_USE_IOVEC");
      }
      channel = caller.handles.lookupAs(handle, Channel, RIGHT.WRITE | RIGHT.READ);
      if (options & WRITE_USE_IOVEC) throw noIovecs();
      messageBytes = newMessageBytes(data, numBytes, numHandles);
      if (messageBytes.length < 4) {
        throw new ZxError(ERR.INVALID_ARGS, "the message must hold at least its 4-byte txid");
      }
    } catch (error) {
      closeUserHandles(caller, values, numHandles);
      throw error;
    }
    const handles = numHandles > 0 ? putHandles(caller, channel, values, numHandles) : [];
    // The reply (or why there is none), and whether this call has given it up.
    const call: { result: CallResult | null; dropped: boolean } = { result: null, dropped: false };
    let notify: ((result: CallResult) => void) | null = null;
    const waiter = channel.call({ bytes: messageBytes, handles }, (settled) => {
      call.result = settled;
      notify?.(settled);
    });
    if (!waiter) throw new ZxError(ERR.PEER_CLOSED, "the other endpoint has been closed");
    const peer = channel.peer;
    if (peer) checkFull(caller, peer, peer.pending);
    let ended: CallResult | null = null;
    try {
      ended = await block<CallResult>(caller, {
        reason: THREAD_STATE.BLOCKED_CHANNEL,
        args: [BigInt(handle), BigInt(options), deadline],
        deadline,
        wake: (resolve) => {
          if (call.result === null) notify = resolve;
          else if (!call.dropped) resolve(call.result);
          return () => notify = null;
        },
        // A debugger's status replaced the reply's: it is not delivered.
        discard: () => call.dropped = true,
      });
    } finally {
      if (call.result === null) {
        // Timed out or killed: a reply that comes later is an ordinary message.
        channel.endCall(waiter);
      } else if (ended === null && call.result.status === ZX_OK) {
        destroyMessage(call.result.reply);
      }
    }
    if (ended.status !== ZX_OK) {
      throw new ZxError(
        ended.status,
        ended.status === ERR.PEER_CLOSED
          ? "the other endpoint was closed before it replied"
          : "this endpoint's handle was closed during the call",
      );
    }
    return replyOuts(caller, ended.reply, args);
  },
});
