// deno task example:vmm [--arch x64|arm64] — a tiny virtual machine monitor
// over HTTP. It creates a guest, gives it 1 MiB of RAM at guest-physical 0,
// loads the hello guest of tests/fixtures/guest-<arch>/ and traps its UART:
// x64 a 16550 at IO ports 0x3f8-0x3ff (plus port 0x604, where the guest
// says it is done), arm64 a PL011 in the MMIO page at 0x9000000. Then it
// runs the VCPU: each vcpu_enter returns the next access the guest made to
// a trapped address; a write to the UART's data register is a byte of
// output, a read of its status register is answered "ready" (x64 with
// vcpu_write_state(ZX_VCPU_IO), arm64 by writing the load's register with
// vcpu_write_state(ZX_VCPU_STATE)), and the guest's power-off (x64 the
// port 0x604 write, arm64 PSCI SYSTEM_OFF: vcpu_enter says
// ZX_ERR_UNAVAILABLE) ends the run.

import { createGuest, GUEST_LOAD_ADDRESS, GUEST_MEMORY_SIZE } from "../client/guest.ts";
import { type KernelSession, ZxsimError } from "../client/zxsim.ts";
import { runExample } from "./connect.ts";

type Arch = "x64" | "arm64";

/** The x64 16550 UART's registers and QEMU's ACPI power-off port. */
const COM1 = 0x3f8, LSR = COM1 + 5, LSR_THRE = 0x20, POWER_OFF = 0x604;
/** The arm64 PL011's page, its data and flag registers; TXFF clear is "ready". */
const PL011 = 0x9000000, UARTDR = 0x0, UARTFR = 0x18;
/** zx_port_packet_t types (zircon/syscalls/port.h). */
const ZX_PKT_TYPE_GUEST_MEM = 4, ZX_PKT_TYPE_GUEST_IO = 5;
const KEY_UART = 1, KEY_POWER = 2;
/** How many exits the example prints in full. */
const SHOWN = 2;

type Packet = Record<string, unknown>;
/** A packet member's fields as JSON, without its reserved ones. */
const fieldsOf = (member: unknown) =>
  JSON.stringify(
    Object.fromEntries(
      Object.entries(member as Packet).filter(([name]) => !name.startsWith("reserved")),
    ),
  );
const num = (value: unknown) => typeof value === "string" ? Number(BigInt(value)) : Number(value);
const hex = (value: number) => `0x${value.toString(16)}`;

/** Sets up the guest's traps: where its UART is. */
async function trapUart(k: KernelSession, guest: number, arch: Arch) {
  if (arch === "x64") {
    await k.zx.guest_set_trap({
      handle: guest,
      kind: "ZX_GUEST_TRAP_IO",
      addr: COM1,
      size: 8,
      port_handle: 0,
      key: KEY_UART,
    });
    await k.zx.guest_set_trap({
      handle: guest,
      kind: "ZX_GUEST_TRAP_IO",
      addr: POWER_OFF,
      size: 1,
      port_handle: 0,
      key: KEY_POWER,
    });
    console.log(
      `${arch}: traps: IO ${hex(COM1)}-${hex(COM1 + 7)} (UART), IO ${hex(POWER_OFF)} ` +
        "(power off)",
    );
  } else {
    await k.zx.guest_set_trap({
      handle: guest,
      kind: "ZX_GUEST_TRAP_MEM",
      addr: PL011,
      size: 0x1000,
      port_handle: 0,
      key: KEY_UART,
    });
    console.log(`${arch}: traps: MEM ${hex(PL011)}-${hex(PL011 + 0xfff)} (UART)`);
  }
}

/**
 * One exit: what the guest wrote (a byte, or null), or "off". A read of the
 * UART's status is answered here so that the guest goes on.
 */
async function handle(
  k: KernelSession,
  vcpu: number,
  arch: Arch,
  view: Packet,
): Promise<number | null | "off"> {
  if (arch === "x64") {
    if (view.type !== ZX_PKT_TYPE_GUEST_IO) {
      throw new Error(`unexpected exit ${JSON.stringify(view)}`);
    }
    const io = view.guest_io as Packet;
    const port = num(io.port);
    if (port === POWER_OFF) return "off";
    if (port === LSR && num(io.input)) {
      // zx_vcpu_io_t: the value the guest's `in` receives (the low byte of rax).
      await k.zx.vcpu_write_state({
        handle: vcpu,
        kind: "ZX_VCPU_IO",
        buffer_size: 8,
        regs: { access_size: 1, data: LSR_THRE },
      });
      return null;
    }
    return port === COM1 && !num(io.input) ? num(io.data) & 0xff : null;
  }
  if (view.type !== ZX_PKT_TYPE_GUEST_MEM) {
    throw new Error(`unexpected exit ${JSON.stringify(view)}`);
  }
  const mem = view.guest_mem as Packet;
  const offset = num(mem.addr) - PL011;
  if (!num(mem.read)) return offset === UARTDR ? num(mem.data) & 0xff : null;
  // A load: the VMM completes it by writing the value into its register
  // x[xt] (xt 31 is the zero register). UARTFR 0: TXFF clear, ready; any
  // other register of the UART reads as 0 too.
  const xt = num(mem.xt);
  if (offset !== UARTFR) console.log(`${arch}: a read of UART register ${hex(offset)}: 0`);
  if (xt < 31) {
    await k.zx.vcpu_write_state({
      handle: vcpu,
      kind: "ZX_VCPU_STATE",
      buffer_size: 264,
      regs: { [`x[${xt}]`]: 0 },
    });
  }
  return null;
}

async function vmm(k: KernelSession, arch: Arch) {
  const image = await Deno.readFile(
    new URL(`../tests/fixtures/guest-${arch}/hello.bin`, import.meta.url),
  );
  const vm = await createGuest(k, { image });
  const tables = arch === "x64" ? ", identity page tables at 0x0-0x2fff" : "";
  console.log(
    `${arch}: guest with ${GUEST_MEMORY_SIZE >> 20} MiB of RAM at guest-physical 0${tables}, ` +
      `hello.bin (${image.length} bytes) at ${hex(GUEST_LOAD_ADDRESS[arch])}`,
  );
  await trapUart(k, vm.guest, arch);
  const { out: vcpu } = await k.zx.vcpu_create({ guest: vm.guest, options: 0, entry: vm.entry });

  const bytes: number[] = [];
  let exits = 0;
  for (;;) {
    let view: Packet;
    try {
      view = (await k.zx.vcpu_enter({ handle: vcpu })).view as Packet;
    } catch (error) {
      // PSCI SYSTEM_OFF: the guest is done.
      if (error instanceof ZxsimError && error.statusName === "ZX_ERR_UNAVAILABLE") break;
      throw error;
    }
    exits++;
    const byte = await handle(k, vcpu, arch, view);
    // The first exits in full: a status read the VMM answers, then a byte written.
    if (exits <= SHOWN) {
      const member = arch === "x64" ? "guest_io" : "guest_mem";
      const what = byte === null
        ? "answered: ready"
        : `a byte: ${JSON.stringify(String.fromCharCode(byte as number))}`;
      console.log(`${arch}: exit ${exits}: ${member} ${fieldsOf(view[member])} -> ${what}`);
      if (exits === SHOWN) console.log(`${arch}: ... and so on, byte by byte`);
    }
    if (byte === "off") break;
    if (byte !== null) bytes.push(byte);
  }
  const text = new TextDecoder().decode(new Uint8Array(bytes));
  for (const line of text.trimEnd().split("\n")) console.log(`${arch}: the guest wrote: ${line}`);
  const how = arch === "x64" ? `a write to port ${hex(POWER_OFF)}` : "PSCI SYSTEM_OFF";
  console.log(`${arch}: powered off (${how}) after ${exits} exits`);
}

/** --arch x64 (the default) or --arch arm64 (also --arch=arm64). */
function archOf(args: string[]): Arch {
  const at = args.findIndex((a) => a === "--arch" || a.startsWith("--arch="));
  const value = at < 0 ? "x64" : args[at].includes("=") ? args[at].slice(7) : args[at + 1];
  if (value !== "x64" && value !== "arm64") {
    console.error(`usage: deno task example:vmm [--arch x64|arm64] (not ${value})`);
    Deno.exit(2);
  }
  return value;
}
const arch = archOf(Deno.args);

await runExample(async (client) => {
  const k = await client.createKernel({ arch });
  try {
    await vmm(k, arch);
  } finally {
    await k.delete();
  }
});
