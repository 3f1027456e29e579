// ZX_PROP_EXCEPTION_STATE and ZX_PROP_EXCEPTION_STRATEGY: how a handler
// answers an exception it holds (kernel/lib/syscalls/object.cc's checks, in
// its order: the size, then the type, then the value).

import { Exception, EXCEPTION_STATE, EXCEPTION_STRATEGY } from "../exception.ts";
import { CHANNEL_TYPE } from "../exceptionate.ts";
import { ERR, ZxError } from "../status.ts";
import { PROP } from "../types.ts";
import type { Caller } from "./define.ts";

export function isExceptionProperty(property: number): boolean {
  return property === PROP.EXCEPTION_STATE || property === PROP.EXCEPTION_STRATEGY;
}

function exceptionOf(caller: Caller, handle: number, size: number): Exception {
  if (size < 4) throw new ZxError(ERR.BUFFER_TOO_SMALL, "the value is a uint32_t: 4 bytes");
  const object = caller.handles.lookup(handle).object;
  if (!(object instanceof Exception)) {
    throw new ZxError(ERR.WRONG_TYPE, "only exception handles have this property");
  }
  return object;
}

/** A uint32_t as the 4 little-endian bytes a pointer to it holds. */
export function uint32Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

export function getExceptionProperty(
  caller: Caller,
  handle: number,
  property: number,
  size: number,
) {
  const exception = exceptionOf(caller, handle, size);
  const value = property === PROP.EXCEPTION_STATE
    ? exception.state
    : exception.secondChance
    ? EXCEPTION_STRATEGY.SECOND_CHANCE
    : EXCEPTION_STRATEGY.FIRST_CHANCE;
  return { value: uint32Bytes(value), u32: value };
}

export function setExceptionProperty(
  caller: Caller,
  handle: number,
  property: number,
  data: Uint8Array,
  size: number,
): void {
  const exception = exceptionOf(caller, handle, size);
  if (data.length < 4) {
    throw new ZxError(ERR.INVALID_ARGS, "value is an invalid pointer: fewer than 4 bytes sent");
  }
  const value = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
  if (property === PROP.EXCEPTION_STATE) {
    if (value > EXCEPTION_STATE.THREAD_EXIT) {
      throw new ZxError(ERR.INVALID_ARGS, `exception state ${value} is not 0, 1 or 2`);
    }
    exception.state = value;
    return;
  }
  // Only a debugger holding the exception may ask for a second chance.
  if (exception.thread.waitChannelType !== CHANNEL_TYPE.DEBUGGER) {
    throw new ZxError(
      ERR.BAD_STATE,
      "the exception strategy can be set only by the process's debugger channel",
    );
  }
  if (value > EXCEPTION_STRATEGY.SECOND_CHANCE) {
    throw new ZxError(ERR.INVALID_ARGS, `exception strategy ${value} is not 0 or 1`);
  }
  exception.secondChance = value === EXCEPTION_STRATEGY.SECOND_CHANCE;
}
