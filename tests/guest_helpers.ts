// Running the guests of tests/fixtures/guest-<arch>/ through HTTP, as a VMM
// does: a guest with RAM and the program loaded (client/guest.ts), traps, a
// VCPU, then vcpu_enter and the packets it returns.

import assert from "node:assert/strict";
import { createGuest, type Guest, type GuestOptions } from "../client/guest.ts";
import { type KernelSession, ZxsimError } from "../client/zxsim.ts";

export type GuestArch = "x64" | "arm64";
export const ARCHES: readonly GuestArch[] = ["x64", "arm64"];

/** zx_port_packet_t types of guest packets (zircon/syscalls/port.h). */
export const PKT = { GUEST_BELL: 3, GUEST_MEM: 4, GUEST_IO: 5, GUEST_VCPU: 6 } as const;

/** Where the guests report (tests/fixtures/guest-<arch>/guest.inc). */
export const X64_PORT_OUT = 0x10, X64_PORT_IN = 0x11, X64_MMIO = 0x10000000;
export const ARM64_MMIO = 0x9000000, ARM64_BELL = 0xa000000;

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** A guest program: its flat bytes and its labels' guest-physical addresses. */
export interface GuestProgram {
  readonly bytes: Uint8Array;
  readonly sym: Readonly<Record<string, number>>;
}

/** NAME.bin and NAME.sym of a fixture folder (by default the guest-ARCH programs). */
export function guestProgram(
  arch: GuestArch,
  name: string,
  folderName = `guest-${arch}`,
): GuestProgram {
  const folder = new URL(`${folderName}/`, FIXTURES);
  const bytes = Deno.readFileSync(new URL(`${name}.bin`, folder));
  const sym: Record<string, number> = {};
  for (const line of Deno.readTextFileSync(new URL(`${name}.sym`, folder)).split("\n")) {
    const [label, address] = line.split(" ");
    if (label) sym[label] = parseInt(address, 16);
  }
  return { bytes, sym };
}

export interface BootedGuest extends Guest {
  readonly vcpu: number;
  readonly program: GuestProgram;
}

/** A guest running program `name` of k's arch: RAM, tables, the image, and a VCPU at its start. */
export async function bootGuest(
  k: KernelSession,
  name: string,
  options: Omit<GuestOptions, "image"> = {},
): Promise<BootedGuest> {
  const program = guestProgram(k.arch as GuestArch, name);
  const vm = await createGuest(k, { image: program.bytes, ...options });
  const { out: vcpu } = await k.zx.vcpu_create({ guest: vm.guest, options: 0, entry: vm.entry });
  return { ...vm, vcpu, program };
}

/** A trap: kind by name, no port (MEM / IO). */
export async function trap(
  k: KernelSession,
  guest: number,
  kind: "ZX_GUEST_TRAP_MEM" | "ZX_GUEST_TRAP_IO",
  addr: number,
  size: number,
  key: number,
): Promise<void> {
  await k.zx.guest_set_trap({ handle: guest, kind, addr, size, port_handle: 0, key });
}

/** One zx_port_packet_t as vcpu_enter returns it: the 48 bytes and the named view. */
export interface Exit {
  readonly bytes: Uint8Array;
  readonly view: Record<string, unknown>;
  readonly key: bigint;
  readonly type: number;
  /** The union member of the packet's type (view.guest_io, view.guest_mem, ...). */
  readonly member: Record<string, unknown>;
}

const MEMBER: Record<number, string> = {
  [PKT.GUEST_BELL]: "guest_bell",
  [PKT.GUEST_MEM]: "guest_mem",
  [PKT.GUEST_IO]: "guest_io",
  [PKT.GUEST_VCPU]: "guest_vcpu",
};

/** A packet's bytes and view, checked against each other. */
export function exitOf(reply: { packet: unknown; view: unknown }): Exit {
  const bytes = Uint8Array.fromBase64(reply.packet as string);
  assert.equal(bytes.length, 48, "a zx_port_packet_t is 48 bytes");
  const data = new DataView(bytes.buffer);
  const view = reply.view as Record<string, unknown>;
  const key = data.getBigUint64(0, true), type = data.getUint32(8, true);
  assert.equal(BigInt(view.key as string), key, "view.key is the packet's key");
  assert.equal(view.type, type, "view.type is the packet's type");
  assert.equal(view.status, data.getInt32(12, true), "view.status is the packet's status");
  const member = (view[MEMBER[type]] ?? {}) as Record<string, unknown>;
  return { bytes, view, key, type, member };
}

/** vcpu_enter: the packet of the exit it returns. */
export async function enter(k: KernelSession, vcpu: number): Promise<Exit> {
  return exitOf(await k.zx.vcpu_enter({ handle: vcpu }));
}

/** vcpu_enter must fail: its ZxsimError. */
export async function enterFails(k: KernelSession, vcpu: number): Promise<ZxsimError> {
  try {
    const reply = await k.zx.vcpu_enter({ handle: vcpu });
    assert.fail(`vcpu_enter returned ZX_OK: ${JSON.stringify(reply.view)}`);
  } catch (error) {
    if (!(error instanceof ZxsimError)) throw error;
    return error;
  }
}

/** A number from a view field: a JSON number, a u64 "0x…" string or a bool. */
export function n(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") return Number(BigInt(value));
  assert.equal(typeof value, "number", `a number: ${JSON.stringify(value)}`);
  return value as number;
}

/** The guest_io member of an IO exit, as numbers, from the packet's bytes (checked against the view). */
export function ioOf(
  exit: Exit,
): { port: number; access_size: number; input: number; data: number } {
  assert.equal(exit.type, PKT.GUEST_IO, `a GUEST_IO packet: ${JSON.stringify(exit.view)}`);
  const data = new DataView(exit.bytes.buffer);
  const io = {
    port: data.getUint16(16, true),
    access_size: data.getUint8(18),
    input: data.getUint8(19),
    data: data.getUint32(20, true),
  };
  assert.deepEqual(
    {
      port: n(exit.member.port),
      access_size: n(exit.member.access_size),
      input: n(exit.member.input),
      // An `in` has no data yet (the VMM answers it).
      data: io.input ? io.data : n(exit.member.data),
    },
    io,
    "the view's guest_io is the packet's bytes",
  );
  return io;
}

/** The arm64 guest_mem member of a MEM exit, from the packet's bytes (checked against the view). */
export function arm64MemOf(exit: Exit): {
  addr: number;
  access_size: number;
  sign_extend: number;
  xt: number;
  read: number;
  data: bigint;
} {
  assert.equal(exit.type, PKT.GUEST_MEM, `a GUEST_MEM packet: ${JSON.stringify(exit.view)}`);
  const data = new DataView(exit.bytes.buffer);
  const mem = {
    addr: Number(data.getBigUint64(16, true)),
    access_size: data.getUint8(24),
    sign_extend: data.getUint8(25),
    xt: data.getUint8(26),
    read: data.getUint8(27),
    data: data.getBigUint64(32, true),
  };
  assert.deepEqual(
    {
      addr: n(exit.member.addr),
      access_size: n(exit.member.access_size),
      sign_extend: n(exit.member.sign_extend),
      xt: n(exit.member.xt),
      read: n(exit.member.read),
      data: BigInt(exit.member.data as string),
    },
    mem,
    "the view's guest_mem is the packet's bytes",
  );
  return mem;
}

/** x64 zx_vcpu_io_t: access_size at 0, data at 4. */
export function vcpuIo(accessSize: number, value: number): string {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, accessSize);
  view.setUint32(4, value >>> 0, true);
  return bytes.toBase64();
}

/** zx_vcpu_state_t as bytes (vcpu_read_state's buffer). */
export async function readState(k: KernelSession, vcpu: number): Promise<Uint8Array> {
  const size = k.arch === "x64" ? 136 : 264;
  const { buffer } = await k.zx.vcpu_read_state({
    handle: vcpu,
    kind: "ZX_VCPU_STATE",
    buffer_size: size,
  });
  const bytes = Uint8Array.fromBase64(buffer as string);
  assert.equal(bytes.length, size);
  return bytes;
}

/** Register `index` (x64: rax 0, rcx 1, ...; arm64: x[index]) of a zx_vcpu_state_t. */
export function reg(state: Uint8Array, index: number): bigint {
  return new DataView(state.buffer, state.byteOffset).getBigUint64(8 * index, true);
}

/**
 * arm64: completes a trapped load as a VMM must (ZX_VCPU_IO is INVALID_ARGS
 * there): the value, sized and sign- or zero-extended as the packet says,
 * into x[xt] with vcpu_write_state(ZX_VCPU_STATE).
 */
export async function answerLoad(
  k: KernelSession,
  vcpu: number,
  mem: { access_size: number; sign_extend: number; xt: number },
  value: bigint,
): Promise<void> {
  const bits = BigInt(8 * mem.access_size);
  let x = BigInt.asUintN(Number(bits), value);
  if (mem.sign_extend) x = BigInt.asUintN(64, BigInt.asIntN(Number(bits), x));
  const state = await readState(k, vcpu);
  // xt 31 is the zero register: a load into it writes nothing.
  if (mem.xt < 31) new DataView(state.buffer).setBigUint64(8 * mem.xt, x, true);
  await k.zx.vcpu_write_state({
    handle: vcpu,
    kind: "ZX_VCPU_STATE",
    buffer_size: state.length,
    buffer: state.toBase64(),
  });
}

/** A session acting as a new thread of k's bootstrap process: kicks and interrupts from elsewhere. */
export async function otherThread(k: KernelSession): Promise<KernelSession> {
  const { out: thread } = await k.zx.thread_create({ process: k.handles!.process, name: "other" });
  return await k.asThread(thread);
}

/** Lets a blocked vcpu_enter's guest reach its hlt / wfi before the test acts. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
