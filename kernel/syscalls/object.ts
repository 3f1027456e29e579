// zx_object_get_info, zx_object_get_property, zx_object_set_property,
// zx_object_wait_one, and zx_clock_get_monotonic (the clock deadlines use).

import { z } from "zod";
import type { StructLayout } from "../../arch/layout.ts";
import { badHandle, type Handle, requireRights } from "../handle_table.ts";
import {
  handleBasicInfo,
  INFO_EXCEPTION_REPORT,
  INFO_HANDLE_BASIC,
  INFO_PROCESS,
  INFO_THREAD,
  INFO_VCPU,
  processInfo,
  threadInfo,
} from "../info.ts";
import type { SignalObserver } from "../object.ts";
import { Process } from "../process.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZX_OK, ZxError, type ZxStatus } from "../status.ts";
import { Thread } from "../thread.ts";
import { INFO, INFO_VCPU_FLAG_KICKED, MAX_NAME_LEN, PROP, SIGNAL, THREAD_STATE } from "../types.ts";
import { Vcpu } from "../vcpu.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { bytes, deadline, flags, handle, size, text, u64Out } from "./params.ts";
import { VM_INFO_TOPICS, vmInfo } from "./vm_info.ts";
import {
  getExceptionProperty,
  isExceptionProperty,
  setExceptionProperty,
  uint32Bytes,
} from "./exception_props.ts";

/** single_record_result: one record if it fits, else BUFFER_TOO_SMALL with actual 0. */
function singleRecord(layout: StructLayout, record: () => Uint8Array, bufferSize: number) {
  if (bufferSize < layout.size) {
    throw new ZxError(
      ERR.BUFFER_TOO_SMALL,
      `buffer_size ${bufferSize} is smaller than ${layout.name} (${layout.size} bytes)`,
      { actual: 0, avail: 1 },
    );
  }
  const buffer = record();
  return { buffer, actual: 1, avail: 1, info: layout.toNamed(buffer) };
}

const infoLayouts = new Map<number, StructLayout>([
  [INFO.HANDLE_BASIC, INFO_HANDLE_BASIC],
  [INFO.THREAD, INFO_THREAD],
  [INFO.PROCESS, INFO_PROCESS],
  [INFO.VCPU, INFO_VCPU],
]);

export const objectGetInfo = defineSyscall({
  name: "object_get_info",
  abis: ["zx", "mx"],
  summary: "Query information about an object",
  description: "Topics: ZX_INFO_HANDLE_VALID (no buffer), ZX_INFO_HANDLE_BASIC (no rights " +
    "needed), ZX_INFO_THREAD and ZX_INFO_PROCESS (ZX_RIGHT_INSPECT), " +
    "ZX_INFO_THREAD_EXCEPTION_REPORT (40-byte zx_exception_report_t, or _V1: 32 bytes) of a " +
    "thread stopped in an exception (else BAD_STATE; ZX_RIGHT_INSPECT), ZX_INFO_VCPU (4-byte " +
    "zx_info_vcpu_t: flags, ZX_INFO_VCPU_FLAG_KICKED 1 while a kick is pending; " +
    "ZX_RIGHT_INSPECT), ZX_INFO_VMAR " +
    "(ZX_RIGHT_INSPECT), ZX_INFO_VMO (no rights needed) and ZX_INFO_PROCESS_MAPS " +
    "(ZX_RIGHT_INSPECT on a process). An unknown topic is NOT_SUPPORTED before the handle is " +
    "looked at. The reply has the raw record in `buffer` and a named view in `info`; a " +
    "too-small buffer gives BUFFER_TOO_SMALL with actual 0, avail 1. ZX_INFO_PROCESS_MAPS " +
    "returns as many 96-byte zx_info_maps_t records as fit (all of them without buffer_size), " +
    "named in `records`, with `actual` written of `avail`; never BUFFER_TOO_SMALL.",
  params: z.strictObject({
    handle: handle(),
    topic: flags("topic", "the ZX_INFO_* topic"),
    buffer_size: size().optional().describe(
      "the caller's buffer size; defaults to the record size",
    ),
  }),
  outs: z.object({
    buffer: z.string().optional(),
    actual: z.number().optional(),
    avail: z.number().optional(),
    info: z.record(z.string(), z.unknown()).optional(),
    records: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
  errors: [
    "NOT_SUPPORTED",
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "BUFFER_TOO_SMALL",
    "BAD_STATE",
  ],
  example: (h) => ({ handle: h.worker, topic: "ZX_INFO_THREAD" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "topic", type: "u32" },
    { kind: "out", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
    { kind: "out_value", name: "actual", type: "usize" },
    { kind: "out_value", name: "avail", type: "usize" },
  ],
  impl(caller, { handle, topic, buffer_size }) {
    if (VM_INFO_TOPICS.has(topic)) return vmInfo(caller, handle, topic, buffer_size);
    const layout = infoLayouts.get(topic);
    const bufferSize = buffer_size ?? layout?.size ?? 0;
    switch (topic) {
      case INFO.HANDLE_VALID:
        caller.handles.lookup(handle);
        return {};
      case INFO.HANDLE_BASIC: {
        const h = caller.handles.lookup(handle);
        return singleRecord(
          INFO_HANDLE_BASIC,
          () => handleBasicInfo(h.object, h.rights),
          bufferSize,
        );
      }
      case INFO.THREAD: {
        const thread = caller.handles.lookupAs(handle, Thread, RIGHT.INSPECT);
        return singleRecord(INFO_THREAD, () => threadInfo(thread), bufferSize);
      }
      case INFO.THREAD_EXCEPTION_REPORT:
      case INFO.THREAD_EXCEPTION_REPORT_V1: {
        const thread = caller.handles.lookupAs(handle, Thread, RIGHT.INSPECT);
        const layouts = INFO_EXCEPTION_REPORT[caller.kernel.arch.name];
        const layout = topic === INFO.THREAD_EXCEPTION_REPORT ? layouts.current : layouts.v1;
        const exception = thread.currentException;
        if (exception === null) {
          throw new ZxError(ERR.BAD_STATE, `thread ${thread.koid} is not in an exception`);
        }
        // The v1 record is the first 32 bytes: the header keeps saying 40, as Zircon copies it.
        const record = () => exception.report.slice(0, layout.size);
        return singleRecord(layout, record, buffer_size ?? layout.size);
      }
      case INFO.PROCESS: {
        const process = caller.handles.lookupAs(handle, Process, RIGHT.INSPECT);
        return singleRecord(INFO_PROCESS, () => processInfo(process), bufferSize);
      }
      case INFO.VCPU: {
        const vcpu = caller.handles.lookupAs(handle, Vcpu, RIGHT.INSPECT);
        const flags = vcpu.kicked ? INFO_VCPU_FLAG_KICKED : 0;
        return singleRecord(
          INFO_VCPU,
          () => new Uint8Array(Uint32Array.of(flags).buffer),
          bufferSize,
        );
      }
      default:
        throw new ZxError(ERR.NOT_SUPPORTED, `topic 0x${topic.toString(16)} is not supported`);
    }
  },
});

/** get_name / set_name: only named objects, and a dead thread has lost its name. */
function namedObject(caller: Caller, value: number) {
  const object = caller.handles.lookup(value).object;
  if (!object.hasName) {
    throw new ZxError(ERR.WRONG_TYPE, "this kind of object has no ZX_PROP_NAME");
  }
  if (object instanceof Thread && object.lifecycle === "DEAD") {
    throw new ZxError(ERR.BAD_STATE, `thread ${object.koid} is dead`);
  }
  return object;
}

function unknownProperty(property: number): ZxError {
  return new ZxError(ERR.NOT_SUPPORTED, `property ${property} is not supported`);
}

export const objectGetProperty = defineSyscall({
  name: "object_get_property",
  abis: ["zx", "mx"],
  summary: "Read a property of an object",
  description: "Needs ZX_RIGHT_GET_PROPERTY. ZX_PROP_NAME returns ZX_MAX_NAME_LEN (32) bytes, " +
    "NUL padded, in `value` and as a string in `name`. Objects without names (VMARs, suspend " +
    "tokens) give WRONG_TYPE.",
  params: z.strictObject({
    handle: handle(),
    property: flags("property", "the ZX_PROP_* property"),
    value_size: size().optional().describe("the caller's buffer size; defaults to 32"),
  }),
  outs: z.object({
    value: z.string(),
    name: z.string().optional().describe("ZX_PROP_NAME: the name as a string"),
    u32: z.number().optional().describe("the uint32_t properties: the value as a number"),
  }),
  errors: [
    "BAD_HANDLE",
    "ACCESS_DENIED",
    "NOT_SUPPORTED",
    "BUFFER_TOO_SMALL",
    "WRONG_TYPE",
    "BAD_STATE",
  ],
  example: (h) => ({ handle: h.worker, property: "ZX_PROP_NAME" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "property", type: "u32" },
    { kind: "out", name: "value", size: "value_size" },
    { kind: "value", name: "value_size", type: "usize" },
  ],
  impl(caller, { handle, property, value_size = MAX_NAME_LEN }) {
    requireRights(caller.handles.lookup(handle), RIGHT.GET_PROPERTY);
    if (isExceptionProperty(property)) {
      return getExceptionProperty(caller, handle, property, value_size);
    }
    if (property !== PROP.NAME) throw unknownProperty(property);
    if (value_size < MAX_NAME_LEN) {
      throw new ZxError(ERR.BUFFER_TOO_SMALL, `value_size must be at least ${MAX_NAME_LEN}`);
    }
    const object = namedObject(caller, handle);
    return { value: object.nameBytes(), name: object.name };
  },
});

export const objectSetProperty = defineSyscall({
  name: "object_set_property",
  abis: ["zx", "mx"],
  summary: "Set a property of an object",
  description: "Needs ZX_RIGHT_SET_PROPERTY. For ZX_PROP_NAME give the bytes in `value` " +
    "(base64) or, more simply, a string in `name`; names are cut to 31 bytes.",
  params: z.strictObject({
    handle: handle(),
    property: flags("property", "the ZX_PROP_* property"),
    value: bytes().nullable().optional().describe("the bytes (base64); null is a NULL pointer"),
    name: text().optional().describe("for ZX_PROP_NAME: the name as a string, instead of value"),
    u32: z.number().int().min(0).max(0xffff_ffff).optional().describe(
      "for the uint32_t properties (ZX_PROP_EXCEPTION_STATE, _STRATEGY): the value as a number",
    ),
    value_size: size().optional().describe("defaults to the value's length"),
  }).refine(
    (args) => [args.value, args.name, args.u32].filter((v) => v !== undefined).length <= 1,
    { message: "give one of value, name or u32" },
  ),
  outs: z.object({}),
  errors: [
    "INVALID_ARGS",
    "BAD_HANDLE",
    "ACCESS_DENIED",
    "NOT_SUPPORTED",
    "WRONG_TYPE",
    "BAD_STATE",
  ],
  example: (h) => ({ handle: h.worker, property: "ZX_PROP_NAME", name: "worker-1" }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "property", type: "u32" },
    { kind: "in", name: "value", size: "value_size" },
    { kind: "value", name: "value_size", type: "usize" },
  ],
  impl(caller, { handle, property, value, name, u32, value_size }) {
    const data = value ?? name ?? (u32 === undefined ? null : uint32Bytes(u32));
    if (data === null) throw new ZxError(ERR.INVALID_ARGS, "value is a NULL pointer");
    requireRights(caller.handles.lookup(handle), RIGHT.SET_PROPERTY);
    if (isExceptionProperty(property)) {
      setExceptionProperty(caller, handle, property, data, value_size ?? data.length);
      return {};
    }
    if (property !== PROP.NAME) throw unknownProperty(property);
    const wanted = Math.min(value_size ?? data.length, MAX_NAME_LEN - 1);
    if (wanted > data.length) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        `value is an invalid pointer: value_size asks for ${wanted} bytes, ${data.length} were sent`,
      );
    }
    namedObject(caller, handle).setNameBytes(data.subarray(0, wanted));
    return {};
  },
});

/** How one blocking attempt of a wait ended. */
type WaitEnd = "signaled" | "deadline" | "cap" | "closed" | "killed" | "suspended";

/** The status each ending leaves in the syscall return register. */
const STATUS_OF_END: Record<Exclude<WaitEnd, "killed">, ZxStatus> = {
  signaled: ZX_OK,
  deadline: ERR.TIMED_OUT,
  cap: ERR.TIMED_OUT,
  closed: ERR.CANCELED,
  // A suspension interrupts the wait; the vDSO retries it once resumed.
  suspended: ERR.INTERNAL_INTR_RETRY,
};

/**
 * Blocks until one of `signals` is asserted on the handle's object, the
 * deadline or the server's cap passes, the handle is closed, or the calling
 * thread is suspended or dies. Level-triggered: asserted signals end it at once.
 */
function waitOnce(
  caller: Caller,
  h: Handle,
  signals: number,
  deadline: bigint,
  capAt: number,
): Promise<{ end: WaitEnd; observed: number }> {
  const { object } = h;
  const thread = caller.thread;
  if (object.signals & signals) {
    return Promise.resolve({ end: "signaled", observed: object.signals });
  }
  const clock = caller.kernel.clock;
  const untilCapMs = capAt - performance.now();
  if (deadline <= clock.now() || untilCapMs <= 0) {
    const end = deadline <= clock.now() ? "deadline" : "cap";
    return Promise.resolve({ end, observed: object.signals });
  }
  return new Promise((resolve) => {
    const finish = (end: WaitEnd, observed = object.signals) => {
      cancelDeadline();
      clearTimeout(capTimer);
      object.removeObserver(observer);
      h.closeListeners.delete(onClose);
      thread.deathListeners.delete(onDeath);
      thread.suspendListeners.delete(onSuspend);
      resolve({ end, observed });
    };
    const observer: SignalObserver = { mask: signals, onSignals: (now) => finish("signaled", now) };
    const onClose = () => finish("closed", (object.signals | SIGNAL.HANDLE_CLOSED) >>> 0);
    const onDeath = () => finish("killed");
    const onSuspend = () => finish("suspended");
    // The deadline is on the kernel's clock (virtual in manual mode); the
    // server's cap on one request is wall time. Code threads have no cap.
    const cancelDeadline = clock.at(deadline, () => finish("deadline"));
    const capTimer = Number.isFinite(untilCapMs)
      ? setTimeout(() => finish("cap"), untilCapMs)
      : undefined;
    object.addObserver(observer);
    h.closeListeners.add(onClose);
    thread.deathListeners.add(onDeath);
    thread.suspendListeners.add(onSuspend);
  });
}

function killedWhileBlocked(): ZxError {
  return new ZxError(ERR.INTERNAL_INTR_KILLED, "the calling thread was killed while blocked");
}

export const objectWaitOne = defineSyscall({
  name: "object_wait_one",
  abis: ["zx", "mx"],
  summary: "Wait for signals on an object",
  description: "Needs ZX_RIGHT_WAIT. Returns at once if any of `signals` is asserted; a " +
    "deadline at or before now (zx_clock_get_monotonic) polls. `observed` is returned in every " +
    "outcome. Closing the handle during the wait gives CANCELED. One request blocks at most " +
    "the server's cap (default 30 s) and then gives TIMED_OUT. While blocked, the calling " +
    "thread's registers hold the syscall's arguments (x64 rdi, rsi, rdx, r10; arm64 x0-x3); " +
    "suspending it interrupts the wait, leaving ZX_ERR_INTERNAL_INTR_RETRY (-6) in rax / x0, " +
    "and the wait resumes when the thread does, unless a debugger wrote another value there " +
    "with thread_write_state, which the call then returns. If the thread is killed, the reply " +
    "is ZX_ERR_INTERNAL_INTR_KILLED.",
  params: z.strictObject({
    handle: handle(),
    signals: flags("signals", "the signals to wait for"),
    deadline: deadline().default(0x7fff_ffff_ffff_ffffn),
  }),
  outs: z.object({ observed: z.number() }),
  errors: ["BAD_HANDLE", "ACCESS_DENIED", "NOT_SUPPORTED", "TIMED_OUT", "CANCELED"],
  example: (h) => ({ handle: h.worker, signals: ["ZX_THREAD_SUSPENDED"], deadline: 0 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "signals", type: "u32" },
    { kind: "value", name: "deadline", type: "i64" },
    { kind: "out_value", name: "observed", type: "u32" },
  ],
  async impl(caller, { handle, signals, deadline }) {
    const h = caller.handles.lookup(handle);
    requireRights(h, RIGHT.WAIT);
    const object = h.object;
    if (!object.waitable) throw new ZxError(ERR.NOT_SUPPORTED, "this object cannot be waited on");
    if (object.signals & signals) return { observed: object.signals };
    if (deadline <= caller.kernel.now()) {
      throw new ZxError(ERR.TIMED_OUT, "none of the signals is asserted", {
        observed: object.signals,
      });
    }

    const thread = caller.thread;
    const registers = thread.registers;
    const capAt = performance.now() + caller.maxBlockMs;
    // A client thread shows the call's arguments as a thread stopped in it would;
    // a code thread already has them (its observed pointer included).
    if (thread.driver !== "code") {
      registers.setSyscallArgs([BigInt(handle), BigInt(signals), deadline, 0n]);
    }
    thread.blockedReason = THREAD_STATE.BLOCKED_WAIT_ONE;
    try {
      for (;;) {
        const { end, observed } = await waitOnce(caller, h, signals, deadline, capAt);
        if (end === "killed") throw killedWhileBlocked();
        const status = STATUS_OF_END[end];
        registers.setSyscallResult(status);
        // A stopped thread returns from the syscall only once it runs again.
        await thread.untilRunnable();
        if (!thread.alive) throw killedWhileBlocked();
        const result = registers.syscallResult();
        if (result === ERR.INTERNAL_INTR_RETRY) {
          if (caller.handles.get(handle) !== h) throw badHandle(handle);
          continue;
        }
        if (result !== status) {
          if (result === ZX_OK) return { observed };
          throw new ZxError(
            result as ZxStatus,
            "the syscall's return register was set to this status while the thread was stopped",
            { observed },
          );
        }
        switch (end) {
          case "signaled":
            return { observed };
          case "closed":
            throw new ZxError(ERR.CANCELED, "the handle was closed during the wait", { observed });
          case "cap":
            throw new ZxError(
              ERR.TIMED_OUT,
              `the server's cap of ${caller.maxBlockMs} ms for one blocking request was reached`,
              { observed },
            );
          default:
            throw new ZxError(
              ERR.TIMED_OUT,
              "the deadline passed before any of the signals was asserted",
              { observed },
            );
        }
      }
    } finally {
      thread.blockedReason = 0;
    }
  },
});

export const clockGetMonotonic = defineSyscall({
  name: "clock_get_monotonic",
  abis: ["zx", "mx"],
  summary: "Read the kernel's monotonic clock (ns since the kernel was created)",
  description: "Deadlines (object_wait_one) are on this clock.",
  params: z.strictObject({}),
  outs: z.object({ time: u64Out() }),
  errors: [],
  example: () => ({}),
  errorExample: () => ({ clock: 1 }),
  c: [],
  cReturn: "time",
  impl(caller) {
    return { time: caller.kernel.now() };
  },
});
