// zx_port_packet_t (zircon/syscalls/port.h): 48 bytes, a key, a type, a
// status and a 32-byte union whose member the type names. The layouts are
// data (arch/layout.ts); each packet type has its own view of the union.

import { array, nested, padding, scalar, struct, type StructLayout } from "../arch/layout.ts";
import { PKT_TYPE } from "./types.ts";

export const PORT_PACKET_SIZE = 48;

const header = [scalar("key", 0, "u64"), scalar("type", 8, "u32"), scalar("status", 12, "u32")];

/** zx_packet_user_t is a union of four arrays; each has a layout of its own. */
const USER_ARRAYS = {
  u64: struct("zx_packet_user_t", 32, [array("u64", 0, "u64", 4)]),
  u32: struct("zx_packet_user_t", 32, [array("u32", 0, "u32", 8)]),
  u16: struct("zx_packet_user_t", 32, [array("u16", 0, "u16", 16)]),
  c8: struct("zx_packet_user_t", 32, [array("c8", 0, "u8", 32)]),
} as const;

export type UserArray = keyof typeof USER_ARRAYS;
export const USER_ARRAY_NAMES = Object.keys(USER_ARRAYS) as UserArray[];

/** zx_packet_signal_t: what object_wait_async's packets carry. */
export const PACKET_SIGNAL = struct("zx_packet_signal_t", 32, [
  scalar("trigger", 0, "u32"),
  scalar("observed", 4, "u32"),
  scalar("count", 8, "u64"),
  scalar("timestamp", 16, "u64"),
  scalar("reserved1", 24, "u64"),
]);

/** zx_packet_interrupt_t. */
const PACKET_INTERRUPT = struct("zx_packet_interrupt_t", 32, [
  scalar("timestamp", 0, "u64"),
  scalar("reserved0", 8, "u64"),
  scalar("reserved1", 16, "u64"),
  scalar("reserved2", 24, "u64"),
]);

function portPacket(member: string, union: StructLayout): StructLayout {
  return struct("zx_port_packet_t", PORT_PACKET_SIZE, [...header, nested(member, 16, union)]);
}

/** A user packet, its union seen as one of zx_packet_user_t's arrays. */
export const USER_PACKET: Readonly<Record<UserArray, StructLayout>> = {
  u64: portPacket("user", USER_ARRAYS.u64),
  u32: portPacket("user", USER_ARRAYS.u32),
  u16: portPacket("user", USER_ARRAYS.u16),
  c8: portPacket("user", USER_ARRAYS.c8),
};

/** zx_packet_guest_bell_t: a BELL trap's write, queued on its port. */
export const PACKET_GUEST_BELL = struct("zx_packet_guest_bell_t", 32, [
  scalar("addr", 0, "u64"),
  scalar("reserved0", 8, "u64"),
  scalar("reserved1", 16, "u64"),
  scalar("reserved2", 24, "u64"),
]);

/** zx_packet_guest_io_t: an x64 in/out on an IO trap (`data`: the union as a u32). */
export const PACKET_GUEST_IO = struct("zx_packet_guest_io_t", 32, [
  scalar("port", 0, "u16"),
  scalar("access_size", 2, "u8"),
  scalar("input", 3, "u8"),
  scalar("data", 4, "u32"),
  scalar("reserved0", 8, "u64"),
  scalar("reserved1", 16, "u64"),
  scalar("reserved2", 24, "u64"),
]);

/** zx_packet_guest_vcpu_t (2023): a u32 type, then the union its type names. */
const GUEST_VCPU_UNIONS = {
  interrupt: struct("zx_packet_guest_vcpu_interrupt_t", 16, [
    scalar("mask", 0, "u64"),
    scalar("vector", 8, "u8"),
    padding("padding1", 9, 7),
  ]),
  startup: struct("zx_packet_guest_vcpu_startup_t", 16, [
    scalar("id", 0, "u64"),
    scalar("entry", 8, "u64"),
  ]),
  exit: struct("zx_packet_guest_vcpu_exit_t", 16, [
    scalar("retcode", 0, "u64"),
    scalar("reserved", 8, "u64"),
  ]),
} as const;

function guestVcpu(member: keyof typeof GUEST_VCPU_UNIONS): StructLayout {
  return struct("zx_packet_guest_vcpu_t", 32, [
    scalar("type", 0, "u32"),
    padding("padding1", 4, 4),
    nested(member, 8, GUEST_VCPU_UNIONS[member]),
    scalar("reserved", 24, "u64"),
  ]);
}

/** zx_packet_guest_vcpu_t with each member of its union. */
export const PACKET_GUEST_VCPU = {
  interrupt: guestVcpu("interrupt"),
  startup: guestVcpu("startup"),
  exit: guestVcpu("exit"),
} as const;

/** The guest_vcpu view by its `type` (ZX_PKT_GUEST_VCPU_INTERRUPT 0, STARTUP 1, EXIT 2). */
const GUEST_VCPU_VIEWS = [
  portPacket("guest_vcpu", PACKET_GUEST_VCPU.interrupt),
  portPacket("guest_vcpu", PACKET_GUEST_VCPU.startup),
  portPacket("guest_vcpu", PACKET_GUEST_VCPU.exit),
];

/** The union member each type names; other types show it as four u64 (`payload`). */
const VIEWS = new Map<number, StructLayout>([
  [PKT_TYPE.USER, USER_PACKET.u64],
  [PKT_TYPE.SIGNAL_ONE, portPacket("signal", PACKET_SIGNAL)],
  [PKT_TYPE.INTERRUPT, portPacket("interrupt", PACKET_INTERRUPT)],
  [PKT_TYPE.GUEST_BELL, portPacket("guest_bell", PACKET_GUEST_BELL)],
  [PKT_TYPE.GUEST_IO, portPacket("guest_io", PACKET_GUEST_IO)],
]);
/** GUEST_MEM views, made once per arch's zx_packet_guest_mem_t. */
const GUEST_MEM_VIEWS = new WeakMap<StructLayout, StructLayout>();

function guestMemView(guestMem: StructLayout): StructLayout {
  let view = GUEST_MEM_VIEWS.get(guestMem);
  if (!view) GUEST_MEM_VIEWS.set(guestMem, view = portPacket("guest_mem", guestMem));
  return view;
}
const PAYLOAD = portPacket("payload", USER_ARRAYS.u64);

function layoutOf(type: number, bytes: Uint8Array, guestMem?: StructLayout): StructLayout {
  if (type === PKT_TYPE.GUEST_MEM) return guestMem ? guestMemView(guestMem) : PAYLOAD;
  if (type === PKT_TYPE.GUEST_VCPU) {
    const subtype = new DataView(bytes.buffer, bytes.byteOffset).getUint32(16, true);
    return GUEST_VCPU_VIEWS[subtype] ?? PAYLOAD;
  }
  return VIEWS.get(type) ?? PAYLOAD;
}

/**
 * A named view of a packet: key, type, status (signed) and the union member
 * of its type. GUEST_MEM's member differs per arch: `guestMem` is the
 * arch's zx_packet_guest_mem_t (VcpuArch.guestMemLayout); without it the
 * member shows as `payload`.
 */
export function portPacketView(
  bytes: Uint8Array,
  guestMem?: StructLayout,
): Record<string, unknown> {
  const type = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const view = layoutOf(type, bytes, guestMem).toNamed(bytes);
  view.status = new DataView(bytes.buffer, bytes.byteOffset).getInt32(12, true);
  return view;
}

/**
 * A zero-initialised packet with its header and, given `member` (the union
 * member's layout), the named `fields` of it; the rest stays zero.
 */
export function guestPacket(
  key: bigint,
  type: number,
  member?: StructLayout,
  fields?: Record<string, unknown>,
): Uint8Array {
  const bytes = new Uint8Array(PORT_PACKET_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, key), true);
  view.setUint32(8, type, true);
  const refused = member?.applyNamed(bytes.subarray(16), fields ?? {}) ?? null;
  if (refused !== null) throw new Error(`a kernel-made packet: ${refused}`);
  return bytes;
}

export interface SignalPacket {
  readonly key: bigint;
  readonly trigger: number;
  readonly observed: number;
  readonly timestamp: bigint;
}

/** A ZX_PKT_TYPE_SIGNAL_ONE packet, status ZX_OK, count 1 (as Zircon now always reports). */
export function signalPacket(signal: SignalPacket): Uint8Array {
  const bytes = new Uint8Array(PORT_PACKET_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, signal.key), true);
  view.setUint32(8, PKT_TYPE.SIGNAL_ONE, true);
  view.setUint32(16, signal.trigger >>> 0, true);
  view.setUint32(20, signal.observed >>> 0, true);
  view.setBigUint64(24, 1n, true);
  view.setBigUint64(32, BigInt.asUintN(64, signal.timestamp), true);
  return bytes;
}

/** The key of a packet. */
export function packetKey(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
}
