// A VMM in code: tests/fixtures/vmm-code/vmm.c, a program that makes the
// hypervisor syscalls through the vDSO (guest_create with the hypervisor
// resource it is started with, RAM with vmo_create / vmo_write /
// vmo_replace_as_executable / vmar_map, guest_set_trap, vcpu_create and
// vcpu_resume, number 133) and runs a tiny guest that leaves through an x64
// `out` / an arm64 MEM-trapped store. It writes the 48-byte packet it got,
// in hex, to the debug log and exits with the guest's value; the same guest
// run over HTTP gives the same bytes.

import assert from "node:assert/strict";
import { loadElf } from "../client/loader.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { type Arch, makeVm, MEM_TRAP } from "./hypervisor_helpers.ts";
import { inProcess, TestKernel } from "./helpers.ts";
import { returnCode, session, symbol, terminated } from "./program_helpers.ts";

const FIXTURE = new URL("./fixtures/vmm-code/", import.meta.url);
const KEY = 0x5eedn;
const VALUE = 0x12345678;
const PKT_GUEST_MEM = 4, PKT_GUEST_IO = 5;

/** The guest vmm.c runs (the same bytes, at the same entry): see its source. */
const GUEST = {
  // mov eax, 0x12345678; out 0x80, eax; jmp .
  x64: Uint8Array.of(0xb8, 0x78, 0x56, 0x34, 0x12, 0xe7, 0x80, 0xeb, 0xfe),
  // mov w0, #0x5678; movk w0, #0x1234, lsl #16; mov x1, #0x10000000; str w0, [x1]; b .
  arm64: new Uint8Array(
    Uint32Array.of(0x528acf00, 0x72a24680, 0xd2a20001, 0xb9000020, 0x14000000).buffer,
  ),
};

/** Runs vmm.elf with `resource` as its arg1: its return code and debug log. */
async function runVmm(k: KernelSession, resource: number) {
  const bytes = Deno.readFileSync(new URL(`${k.arch}/vmm.elf`, FIXTURE));
  const program = await loadElf(k, bytes, { name: "vmm", start: false });
  await k.zx.process_start({
    handle: program.process,
    thread: program.thread,
    entry: `0x${program.entry.toString(16)}`,
    stack: `0x${program.sp.toString(16)}`,
    arg1: resource,
    arg2: 0,
  });
  await terminated(k, program.process);
  return { code: await returnCode(k, program.process), log: (await k.debuglog()).text };
}

/** The packet the program logged. */
function loggedPacket(log: string): Uint8Array {
  const match = log.match(/^packet ([0-9a-f]{96})$/m);
  assert.ok(match, `the program logged its packet: ${JSON.stringify(log)}`);
  return Uint8Array.fromHex(match[1]);
}

/** The same guest's packet from vcpu_enter over HTTP. */
async function packetOverHttp(arch: Arch): Promise<Uint8Array> {
  const k = await TestKernel.create(inProcess(), { arch }, false);
  const vm = await makeVm(k, GUEST[arch]);
  const trap = arch === "x64"
    ? { kind: 2, addr: 0x80, size: 1 }
    : { kind: 1, addr: MEM_TRAP, size: 0x1000 };
  await k.ok("guest_set_trap", {
    handle: vm.guest,
    port_handle: 0,
    key: `0x${KEY.toString(16)}`,
    ...trap,
  });
  const { packet } = await k.ok("vcpu_enter", { handle: vm.vcpu });
  return Uint8Array.fromBase64(packet);
}

for (const arch of ["x64", "arm64"] as const) {
  Deno.test(`[${arch}] a VMM program runs a guest through the vDSO and gets its packet`, async () => {
    const k = await session(arch);
    try {
      const { out: resource } = await k.zx.handle_duplicate({
        handle: k.handles!.hypervisor_resource,
        rights: "ZX_RIGHT_SAME_RIGHTS",
      });
      const { code, log } = await runVmm(k, resource as number);
      assert.doesNotMatch(log, /step \d status/, `every call succeeded: ${log}`);
      assert.equal(code, VALUE, "it exits with the value the guest wrote");

      const bytes = loggedPacket(log);
      const view = new DataView(bytes.buffer);
      assert.equal(view.getBigUint64(0, true), KEY, "the trap's key");
      assert.equal(view.getInt32(12, true), 0, "status");
      if (arch === "x64") {
        // zx_packet_guest_io_t: port, access_size, input, data; the rest zero.
        assert.equal(view.getUint32(8, true), PKT_GUEST_IO);
        assert.deepEqual(
          [view.getUint16(16, true), bytes[18], bytes[19], view.getUint32(20, true)],
          [0x80, 4, 0, VALUE],
        );
        assert.deepEqual([...bytes.subarray(24)], new Array(24).fill(0));
      } else {
        // zx_packet_guest_mem_t: addr, access_size, sign_extend, xt, read, data.
        assert.equal(view.getUint32(8, true), PKT_GUEST_MEM);
        assert.equal(view.getBigUint64(16, true), BigInt(MEM_TRAP));
        assert.deepEqual([...bytes.subarray(24, 32)], [4, 0, 0, 0, 0, 0, 0, 0]);
        assert.equal(view.getBigUint64(32, true), BigInt(VALUE));
        assert.deepEqual([...bytes.subarray(40)], new Array(8).fill(0));
      }
      // Code and HTTP are one kernel path: the same guest gives the same bytes.
      assert.deepEqual(bytes, await packetOverHttp(arch));
    } finally {
      await k.delete();
    }
  });

  Deno.test(`[${arch}] a VMM program given no hypervisor resource: guest_create fails, as in Zircon`, async () => {
    const k = await session(arch);
    try {
      // A VMO handle where the resource should be: WRONG_TYPE (-12) at step 1.
      const { out: vmo } = await k.zx.vmo_create({ size: 4096 });
      const { code, log } = await runVmm(k, vmo as number);
      assert.equal(code, -1);
      assert.match(log, /step 1 status -12\n/);
    } finally {
      await k.delete();
    }
  });
}

// ---------------------------------------------------------------------------
// Manual kernels: POST /advance runs the VMM program and its guest

for (const arch of ["x64", "arm64"] as const) {
  Deno.test(`[${arch}] manual kernel: advance runs a VMM program's guest, to its exit or while it spins`, async () => {
    for (const spin of [false, true]) {
      const k = await session(arch, { scheduler: "manual" });
      try {
        const bytes = Deno.readFileSync(new URL(`${arch}/vmm.elf`, FIXTURE));
        const program = await loadElf(k, bytes, { name: "vmm", start: false });
        if (spin) {
          // The guest's first instruction becomes a loop: x64 `jmp .` (eb fe), arm64 `b .`.
          const loop = arch === "x64" ? Uint8Array.of(0xeb, 0xfe) : GUEST.arm64.subarray(16, 20);
          await k.zx.process_write_memory({
            handle: program.process,
            vaddr: `0x${symbol(bytes, "guest_code").toString(16)}`,
            buffer: loop.toBase64(),
          });
        }
        const { out: resource } = await k.zx.handle_duplicate({
          handle: k.handles!.hypervisor_resource,
          rights: "ZX_RIGHT_SAME_RIGHTS",
        });
        await k.zx.process_start({
          handle: program.process,
          thread: program.thread,
          entry: `0x${program.entry.toString(16)}`,
          stack: `0x${program.sp.toString(16)}`,
          arg1: resource as number,
          arg2: 0,
        });
        const TERMINATED = 1 << 3;
        const signals = async () =>
          (await k.zx.object_wait_one({ handle: program.process, signals: TERMINATED, deadline: 0 })
            .catch((error) => error.outs)).observed as number;
        // Nothing runs on its own in a manual kernel.
        assert.equal((await signals()) & TERMINATED, 0);
        const before = (await k.zx.clock_get_monotonic()).time as number;
        const first = await k.advance({ instructions: 200_000 });
        if (!spin) {
          // Setup, the guest's two instructions, the report: well under the budget.
          assert.ok(first.retired < 200_000 && first.retired > 0, JSON.stringify(first));
          assert.equal(first.runnable, false);
          assert.ok((await signals()) & TERMINATED);
          assert.equal(await returnCode(k, program.process), VALUE);
          continue;
        }
        // The guest spins: every instruction asked for runs, in the guest, on virtual time.
        assert.deepEqual([first.retired, first.runnable], [200_000, true]);
        const second = await k.advance({ instructions: 100_000 });
        assert.deepEqual([second.retired, second.runnable], [100_000, true]);
        assert.ok(second.now - before >= 300_000, "1 ns per instruction");
        assert.equal((await signals()) & TERMINATED, 0, "still in vcpu_resume");
        await k.zx.task_kill({ handle: program.process });
        assert.ok((await signals()) & TERMINATED);
        assert.equal((await k.advance({ instructions: 1000 })).retired, 0, "nothing left to run");
      } finally {
        await k.delete();
      }
    }
  });
}
