// zx_port_create, zx_port_queue, zx_port_wait, zx_port_cancel and
// zx_object_wait_async: modern Zircon's checks in its order
// (lib/syscalls/port.cc, object_wait.cc, object/port_dispatcher.cc).

import { z } from "zod";
import { requireRights } from "../handle_table.ts";
import { POLICY_CODE, policyException } from "../policy.ts";
import { MAX_USER_PACKETS_PER_PORT, Port } from "../port.ts";
import { PORT_PACKET_SIZE, portPacketView } from "../port_packet.ts";
import { DEFAULT_RIGHTS, RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { PORT_BIND_TO_INTERRUPT, THREAD_STATE, TIME_INFINITE, WAIT_ASYNC } from "../types.ts";
import { block } from "./blocking.ts";
import { defineSyscall } from "./define.ts";
import { portPacket } from "./ipc_params.ts";
import { deadline, flags, handle, u64 } from "./params.ts";

export const portCreate = defineSyscall({
  name: "port_create",
  abis: ["zx", "mx"],
  summary: "Create a port",
  description: "`options` is 0 or ZX_PORT_BIND_TO_INTERRUPT (accepted; zxsim has no " +
    "interrupts to bind); anything else is INVALID_ARGS. The handle gets " +
    "ZX_DEFAULT_PORT_RIGHTS (0x800F: DUPLICATE, TRANSFER, READ, WRITE, INSPECT; no WAIT, so a " +
    "port cannot be waited on).",
  params: z.strictObject({
    options: flags("options", "0 or ZX_PORT_BIND_TO_INTERRUPT").default(0),
  }),
  outs: z.object({ out: handle() }),
  errors: ["INVALID_ARGS", "NO_MEMORY"],
  example: () => ({ options: 0 }),
  errorExample: () => ({ options: 2 }),
  c: [
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "out", type: "u32" },
  ],
  impl(caller, { options }) {
    if (options !== 0 && options !== PORT_BIND_TO_INTERRUPT) {
      throw new ZxError(ERR.INVALID_ARGS, "options must be 0 or ZX_PORT_BIND_TO_INTERRUPT");
    }
    caller.handles.reserve(1);
    caller.kernel.reserveObjects(1);
    const port = caller.kernel.objects.track(new Port(caller.kernel.nextKoid(), options));
    return { out: caller.handles.add(port, DEFAULT_RIGHTS.port).value };
  },
});

export const portQueue = defineSyscall({
  name: "port_queue",
  abis: ["zx", "mx"],
  summary: "Queue a user packet to a port",
  description: "Needs ZX_RIGHT_WRITE. `packet` is the 48-byte zx_port_packet_t as base64, or " +
    "its fields {key, type, status, user: {u64: [...]}} (user may also be given as u32, u16 " +
    "or c8). Its type becomes ZX_PKT_TYPE_USER whatever it was, as the kernel sets it; key, " +
    "status and the union are kept. Fewer than 48 bytes is INVALID_ARGS (an invalid pointer). " +
    "A port already holding more than 4096 user packets refuses it with SHOULD_WAIT and " +
    "raises ZX_EXCP_POLICY_ERROR (ZX_EXCP_POLICY_CODE_PORT_TOO_MANY_PACKETS) on the caller, as " +
    "Zircon does; unhandled, it kills the caller's process.",
  params: z.strictObject({ handle: handle(), packet: portPacket() }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "INVALID_ARGS", "SHOULD_WAIT"],
  example: (h) => ({ handle: h.port, packet: { key: 7, user: { u64: [1, 2, 3, 4] } } }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "in", name: "packet", size: PORT_PACKET_SIZE },
  ],
  impl(caller, { handle, packet }) {
    const port = caller.handles.lookupAs(handle, Port, RIGHT.WRITE);
    if (packet.length < PORT_PACKET_SIZE) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        `packet is an invalid pointer: ${packet.length} of its ${PORT_PACKET_SIZE} bytes were sent`,
      );
    }
    const status = port.queueUser(packet);
    if (status === ERR.SHOULD_WAIT) {
      policyException(
        caller.kernel,
        caller.thread,
        POLICY_CODE.PORT_TOO_MANY_PACKETS,
        `port (${port.koid}) has ${MAX_USER_PACKETS_PER_PORT + 1} packets (${caller.process.name})`,
      );
      throw new ZxError(status, `the port already holds ${port.pending} packets`);
    }
    return {};
  },
});

export const portWait = defineSyscall({
  name: "port_wait",
  abis: ["zx", "mx"],
  summary: "Wait for a packet on a port",
  description: "Needs ZX_RIGHT_READ. Takes the oldest packet, waiting for one until the " +
    "deadline (zx_clock_get_monotonic; at or before now polls) or the server's cap, both " +
    "TIMED_OUT. Several waiters get one packet each, the first to wait first. The reply has " +
    "the packet as base64 in `packet` and a named view in `view` (its union member named by " +
    "type: user, signal, ...). While blocked the thread's state is ZX_THREAD_STATE_BLOCKED_PORT; " +
    "suspending it interrupts the wait (ZX_ERR_INTERNAL_INTR_RETRY in its return register) and " +
    "the wait starts again when it resumes, as the vDSO retries it. Closing the port's last " +
    "handle does not end the wait (as in Zircon): the deadline does.",
  params: z.strictObject({
    handle: handle(),
    deadline: deadline().default(TIME_INFINITE),
  }),
  outs: z.object({ packet: z.string(), view: z.record(z.string(), z.unknown()) }),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "TIMED_OUT"],
  example: (h) => ({ handle: h.port, deadline: 0 }),
  errorExample: (h) => ({ handle: h.channel, deadline: 0 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "deadline", type: "i64" },
    { kind: "out", name: "packet", size: PORT_PACKET_SIZE },
  ],
  async impl(caller, { handle, deadline }) {
    let port = caller.handles.lookupAs(handle, Port, RIGHT.READ);
    const packet = await block<Uint8Array>(caller, {
      reason: THREAD_STATE.BLOCKED_PORT,
      args: [BigInt(handle), deadline],
      deadline,
      wake: (resolve) => port.wait(resolve),
      // The vDSO calls port_wait again: the handle is looked up again.
      onRetry: () => port = caller.handles.lookupAs(handle, Port, RIGHT.READ),
    });
    return { packet, view: portPacketView(packet) };
  },
});

export const portCancel = defineSyscall({
  name: "port_cancel",
  abis: ["zx", "mx"],
  summary: "Cancel a port's waits on a handle, by key",
  description: "Needs ZX_RIGHT_WRITE on the port and ZX_RIGHT_WAIT on `source`. Ends the " +
    "object_wait_async waits made through `source` on this port with `key`, and removes the " +
    "packets they already queued. NOT_FOUND if there was neither; NOT_SUPPORTED if `source` " +
    "cannot be waited on.",
  params: z.strictObject({ handle: handle(), source: handle(), key: u64("the key") }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "NOT_SUPPORTED", "NOT_FOUND"],
  example: (h) => ({ handle: h.port, source: h.channel_peer, key: 1 }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "source", type: "u32" },
    { kind: "value", name: "key", type: "u64" },
  ],
  impl(caller, { handle, source, key }) {
    const port = caller.handles.lookupAs(handle, Port, RIGHT.WRITE);
    const watched = caller.handles.lookup(source);
    requireRights(watched, RIGHT.WAIT);
    if (!watched.object.waitable) {
      throw new ZxError(ERR.NOT_SUPPORTED, "source is not an object that can be waited on");
    }
    if (!port.cancel(watched, key)) {
      throw new ZxError(ERR.NOT_FOUND, "no wait or packet of this port has that source and key");
    }
    return {};
  },
});

export const objectWaitAsync = defineSyscall({
  name: "object_wait_async",
  abis: ["zx", "mx"],
  summary: "Have a port told when an object's signals are asserted",
  description: "Needs ZX_RIGHT_WAIT on `handle` and ZX_RIGHT_WRITE on `port`. Order: options " +
    "(only ZX_WAIT_ASYNC_TIMESTAMP and ZX_WAIT_ASYNC_EDGE; else INVALID_ARGS), the port " +
    "(BAD_HANDLE, WRONG_TYPE, ACCESS_DENIED), the handle (BAD_HANDLE, ACCESS_DENIED), then " +
    "NOT_SUPPORTED for an object that cannot be waited on. One packet " +
    "(ZX_PKT_TYPE_SIGNAL_ONE, with `key`; trigger = `signals`, observed = every signal " +
    "asserted then, count 1, timestamp the monotonic time if ZX_WAIT_ASYNC_TIMESTAMP, else 0) " +
    "is queued when one of `signals` is asserted: at once if one already is, or with " +
    "ZX_WAIT_ASYNC_EDGE only on a later change that asserts a signal. Each call is one wait " +
    "(ZX_WAIT_ASYNC_ONCE is 0); closing `handle` ends it (a packet already queued stays); " +
    "port_cancel ends it by key.",
  params: z.strictObject({
    handle: handle(),
    port: handle(),
    key: u64("the packet's key"),
    signals: flags("signals", "the signals that trigger the packet"),
    options: flags("options", "0, ZX_WAIT_ASYNC_TIMESTAMP, ZX_WAIT_ASYNC_EDGE").default(0),
  }),
  outs: z.object({}),
  errors: ["INVALID_ARGS", "BAD_HANDLE", "WRONG_TYPE", "ACCESS_DENIED", "NOT_SUPPORTED"],
  example: (h) => ({
    handle: h.channel_peer,
    port: h.port,
    key: 1,
    signals: ["ZX_CHANNEL_READABLE", "ZX_CHANNEL_PEER_CLOSED"],
  }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "port", type: "u32" },
    { kind: "value", name: "key", type: "u64" },
    { kind: "value", name: "signals", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
  ],
  impl(caller, { handle, port: portHandle, key, signals, options }) {
    if ((options & ~(WAIT_ASYNC.TIMESTAMP | WAIT_ASYNC.EDGE)) !== 0) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        "options may only be ZX_WAIT_ASYNC_TIMESTAMP and ZX_WAIT_ASYNC_EDGE",
      );
    }
    const port = caller.handles.lookupAs(portHandle, Port, RIGHT.WRITE);
    const watched = caller.handles.lookup(handle);
    requireRights(watched, RIGHT.WAIT);
    if (!watched.object.waitable) {
      throw new ZxError(ERR.NOT_SUPPORTED, "this object cannot be waited on");
    }
    port.observe(watched, key, signals, options, () => caller.kernel.now());
    return {};
  },
});
