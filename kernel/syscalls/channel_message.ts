// Making and taking channel messages for channel_write, channel_read and
// channel_call: the limits and the bytes (MessagePacket::Create), the
// handles moved out of the caller (msg_put_handles, RemoveUserHandles: every
// handle named is consumed whether the call succeeds or not), room for the
// handles a read delivers, and the pending-message limit.

import {
  type Channel,
  CHANNEL_MAX_MSG_BYTES,
  CHANNEL_MAX_MSG_HANDLES,
  CHANNEL_MAX_PENDING_MESSAGES,
} from "../channel.ts";
import { closeInTransit, detachHandle, type InTransitHandle, type Message } from "../message.ts";
import { POLICY_CODE, policyException } from "../policy.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import type { Caller } from "./define.ts";

/** RemoveUserHandles copies and closes the list in chunks of this many. */
const CHUNK = 64;

/**
 * A call failed before its handles went into a message: they are closed
 * anyway. A chunk of the list that cannot be read (fewer values than the
 * count) stops it, as the user copy of that chunk would fail.
 */
export function closeUserHandles(caller: Caller, values: readonly number[], count: number): void {
  for (let start = 0; start < count; start += CHUNK) {
    const end = Math.min(start + CHUNK, count);
    if (end > values.length) return;
    for (let i = start; i < end; i++) caller.handles.remove(values[i]);
  }
}

/**
 * msg_put_handles: takes each handle out of the caller's table, then checks
 * it: no ZX_RIGHT_TRANSFER is ACCESS_DENIED, the channel's own handle
 * NOT_SUPPORTED, and a value that is not (or no longer, for a duplicate in
 * the list) a handle BAD_HANDLE. Those handles are closed; the first error
 * is thrown after the whole list was consumed, and the handles already
 * taken are closed with it.
 */
export function putHandles(
  caller: Caller,
  channel: Channel,
  values: readonly number[],
  count: number,
): InTransitHandle[] {
  if (values.length < count) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      `handles is an invalid pointer: ${count} handles were named, ${values.length} sent`,
    );
  }
  const moved: InTransitHandle[] = [];
  let error: ZxError | undefined;
  const fail = (status: ZxError["status"], message: string) => {
    error ??= new ZxError(status, message);
  };
  for (const value of values.slice(0, count)) {
    const handle = caller.handles.get(value);
    if (!handle) {
      fail(ERR.BAD_HANDLE, `0x${value.toString(16)} in handles is not a valid handle`);
      continue;
    }
    if ((handle.rights & RIGHT.TRANSFER) === 0) {
      caller.handles.remove(value);
      fail(ERR.ACCESS_DENIED, `handle 0x${value.toString(16)} lacks ZX_RIGHT_TRANSFER`);
    } else if (handle.object === channel) {
      caller.handles.remove(value);
      fail(ERR.NOT_SUPPORTED, "a channel's own handle cannot be written to it (it was closed)");
    } else {
      moved.push(detachHandle(caller.handles, handle));
    }
  }
  if (error) {
    for (const handle of moved) closeInTransit(handle);
    throw error;
  }
  return moved;
}

/** ZX_CHANNEL_WRITE_USE_IOVEC: zxsim takes a message's bytes as they are, never as iovecs. */
export function noIovecs(): ZxError {
  return new ZxError(
    ERR.NOT_SUPPORTED,
    "ZX_CHANNEL_WRITE_USE_IOVEC is not supported by zxsim: give the bytes themselves",
  );
}

/** MessagePacket::Create: the limits, then the bytes copied in. */
export function newMessageBytes(
  data: Uint8Array,
  numBytes: number,
  numHandles: number,
): Uint8Array {
  if (numBytes > CHANNEL_MAX_MSG_BYTES || numHandles > CHANNEL_MAX_MSG_HANDLES) {
    throw new ZxError(
      ERR.OUT_OF_RANGE,
      `a message holds at most ${CHANNEL_MAX_MSG_BYTES} bytes and ${CHANNEL_MAX_MSG_HANDLES} ` +
        `handles (${numBytes} bytes and ${numHandles} handles given)`,
    );
  }
  if (data.length < numBytes) {
    throw new ZxError(
      ERR.INVALID_ARGS,
      `bytes is an invalid pointer: ${numBytes} bytes were named, ${data.length} sent`,
    );
  }
  return data.slice(0, numBytes);
}

/** A write that leaves the reader more than kMaxPendingMessageCount messages. */
export function checkFull(caller: Caller, peer: Channel, depth: number): void {
  if (depth <= CHANNEL_MAX_PENDING_MESSAGES) return;
  policyException(
    caller.kernel,
    caller.thread,
    POLICY_CODE.CHANNEL_FULL_WRITE,
    `channel (${peer.koid}) has ${depth} messages (${caller.process.name}) (write)`,
  );
}

/** Room in the caller's table for a message's handles, before it is taken. */
export function reserveFor(caller: Caller, message: Message): void {
  if (message.handles.length > 0) caller.handles.reserve(message.handles.length);
}
