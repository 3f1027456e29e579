// zx_vcpu_read_state / zx_vcpu_write_state over HTTP, on both arches: every
// sentence and error of the zx_vcpu_write_state documents (seeds 001-003)
// in Zircon's order of checks (2020-2023: handle, type, rights, kind,
// buffer_size, copy-in, thread), the write rules, round trips, and
// ZX_VCPU_IO.

import assert from "node:assert/strict";
import { expectErr, type Reply, type TestKernel } from "./helpers.ts";
import { type Arch, CODE, hvTest, makeVm, type Vm } from "./hypervisor_helpers.ts";

const STATE = 0, IO = 1;
const STATE_SIZE: Record<Arch, number> = { x64: 136, arm64: 264 };
const IO_SIZE = 8;
/** x64 rflags offset; arm64 sp and cpsr offsets. */
const X64_RFLAGS = 128, ARM_SP = 248, ARM_CPSR = 256;

function u64s(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function readState(vm: Vm, token = vm.k.token): Promise<Uint8Array> {
  const body = await vm.k.ok("vcpu_read_state", { handle: vm.vcpu, kind: STATE }, token);
  return Uint8Array.fromBase64(body.buffer);
}

function write(vm: Vm, body: Record<string, unknown>, token?: string): Promise<Reply> {
  return vm.k.call("vcpu_write_state", { handle: vm.vcpu, ...body }, token);
}

/** A state buffer of the arch's size with every 64-bit word i set to i + 1. */
function pattern(arch: Arch): Uint8Array {
  const bytes = new Uint8Array(STATE_SIZE[arch]);
  const view = u64s(bytes);
  for (let i = 0; i + 8 <= bytes.length; i += 8) view.setBigUint64(i, BigInt(i / 8 + 1), true);
  return bytes;
}

/** A handle to another thread of the bootstrap process, with a token of its own. */
function otherThread(k: TestKernel) {
  return k.clientThread("other");
}

// --- "writes the state of handle as specified by kind from buffer" -----------

hvTest(
  "vcpu_write_state(ZX_VCPU_STATE) writes the registers, read back byte for byte",
  async (k, arch) => {
    const vm = await makeVm(k);
    const before = await readState(vm);
    assert.equal(before.length, STATE_SIZE[arch]);
    const input = pattern(arch);
    if (arch === "x64") u64s(input).setBigUint64(X64_RFLAGS, 0x2n | 0x1n, true); // CF, bit 1 set
    else u64s(input).setBigUint64(ARM_CPSR, 0n, true);
    const reply = await write(vm, { kind: STATE, buffer: input.toBase64() });
    assert.equal(reply.body.status, "ZX_OK", JSON.stringify(reply.body));
    const after = await readState(vm);
    const expected = input.slice();
    if (arch === "x64") u64s(expected).setBigUint64(X64_RFLAGS, 0x1n, true); // bit 1 never reads back
    assert.deepEqual(after, expected);
  },
);

hvTest("the named view: regs in, regs out (fields not named keep their value)", async (k, arch) => {
  const vm = await makeVm(k);
  const first = arch === "x64" ? "rax" : "x[0]";
  const second = arch === "x64" ? "rcx" : "x[1]";
  await k.ok("vcpu_write_state", { handle: vm.vcpu, kind: "ZX_VCPU_STATE", regs: { [first]: 42 } });
  await k.ok("vcpu_write_state", { handle: vm.vcpu, kind: STATE, regs: { [second]: "0x77" } });
  const { regs } = await k.ok("vcpu_read_state", { handle: vm.vcpu, kind: "ZX_VCPU_STATE" });
  const read = (name: string) => arch === "x64" ? regs[name] : regs.x[Number(name.slice(2, -1))];
  assert.equal(BigInt(read(first)), 42n);
  assert.equal(BigInt(read(second)), 0x77n);
  expectErr(await write(vm, { kind: STATE, regs: { no_such_register: 1 } }), "INVALID_ARGS");
});

hvTest(
  "a VCPU starts as Zircon sets it up: all zero, rflags reads 0 (0x2 & user bits)",
  async (k) => {
    const vm = await makeVm(k);
    const state = await readState(vm);
    assert.ok(state.every((b) => b === 0), `starting state: ${state}`);
  },
);

// --- write rules ---------------------------------------------------------------

hvTest("x64: rflags is applied only when bit 1 is set, and then only its user bits", async (k) => {
  const vm = await makeVm(k);
  const input = new Uint8Array(STATE_SIZE.x64);
  u64s(input).setBigUint64(X64_RFLAGS, 0xffff_ffff_ffff_fffdn, true); // bit 1 clear
  assert.equal((await write(vm, { kind: STATE, buffer: input.toBase64() })).body.code, 0);
  assert.equal(u64s(await readState(vm)).getBigUint64(X64_RFLAGS, true), 0n);
  u64s(input).setBigUint64(X64_RFLAGS, 0xffff_ffff_ffff_ffffn, true);
  assert.equal((await write(vm, { kind: STATE, buffer: input.toBase64() })).body.code, 0);
  assert.equal(u64s(await readState(vm)).getBigUint64(X64_RFLAGS, true), 0x244dd5n);
}, ["x64"]);

hvTest("arm64: cpsr's NZCV are OR-ed in (set, never cleared), other bits ignored", async (k) => {
  const vm = await makeVm(k);
  const input = new Uint8Array(STATE_SIZE.arm64);
  const view = u64s(input);
  view.setUint32(ARM_CPSR, 0x4000_03c5, true); // Z, plus DAIF and mode bits
  view.setBigUint64(ARM_SP, 0x8000n, true);
  assert.equal((await write(vm, { kind: STATE, buffer: input.toBase64() })).body.code, 0);
  let read = u64s(await readState(vm));
  assert.equal(read.getUint32(ARM_CPSR, true), 0x4000_0000);
  assert.equal(read.getBigUint64(ARM_SP, true), 0x8000n);
  view.setUint32(ARM_CPSR, 0x8000_0000, true); // N: Z stays
  assert.equal((await write(vm, { kind: STATE, buffer: input.toBase64() })).body.code, 0);
  read = u64s(await readState(vm));
  assert.equal(read.getUint32(ARM_CPSR, true), 0xc000_0000);
}, ["arm64"]);

// --- "kind may be ZX_VCPU_STATE or ZX_VCPU_IO" ------------------------------

hvTest(
  "x64 ZX_VCPU_IO: access_size 1, 2, 4 replace the low bytes of rax; others INVALID_ARGS",
  async (k) => {
    const vm = await makeVm(k);
    const rax = async () => u64s(await readState(vm)).getBigUint64(0, true);
    await k.ok("vcpu_write_state", {
      handle: vm.vcpu,
      kind: STATE,
      regs: { rax: "0x1122334455667788" },
    });
    const io = (accessSize: number, data: number) => {
      const bytes = new Uint8Array(IO_SIZE);
      bytes[0] = accessSize;
      u64s(bytes).setUint32(4, data, true);
      return write(vm, { kind: "ZX_VCPU_IO", buffer: bytes.toBase64() });
    };
    assert.equal((await io(1, 0xaabbccdd)).body.code, 0);
    assert.equal(await rax(), 0x11223344556677ddn);
    assert.equal((await io(2, 0xaabbccdd)).body.code, 0);
    assert.equal(await rax(), 0x112233445566ccddn);
    assert.equal((await io(4, 0xaabbccdd)).body.code, 0);
    assert.equal(await rax(), 0x11223344aabbccddn, "a 4-byte write keeps rax's upper half");
    for (const bad of [0, 3, 5, 255]) {
      expectErr(await io(bad, 0x12345678), "INVALID_ARGS");
      assert.equal(await rax(), 0x11223344aabbccddn, "a refused write changes nothing");
    }
    // Named: the fields of zx_vcpu_io_t.
    await k.ok("vcpu_write_state", {
      handle: vm.vcpu,
      kind: IO,
      regs: { access_size: 1, data: 0x41 },
    });
    assert.equal(await rax(), 0x11223344aabbcc41n);
  },
  ["x64"],
);

hvTest("arm64 ZX_VCPU_IO: INVALID_ARGS always, even from another thread", async (k) => {
  const vm = await makeVm(k);
  const bytes = new Uint8Array(IO_SIZE);
  bytes[0] = 1;
  const reply = await write(vm, { kind: IO, buffer: bytes.toBase64() });
  expectErr(reply, "INVALID_ARGS");
  const other = await otherThread(k);
  expectErr(await write(vm, { kind: IO, buffer: bytes.toBase64() }, other.token), "INVALID_ARGS");
  // With the wrong size it is the size that is refused, still INVALID_ARGS.
  expectErr(await write(vm, { kind: IO, buffer: "AAAAAAAAAAAA" }, other.token), "INVALID_ARGS");
}, ["arm64"]);

hvTest(
  "an unknown kind is INVALID_ARGS (write and read); read_state refuses ZX_VCPU_IO",
  async (k) => {
    const vm = await makeVm(k);
    expectErr(await write(vm, { kind: 2, buffer: new Uint8Array(8).toBase64() }), "INVALID_ARGS");
    expectErr(await k.call("vcpu_read_state", { handle: vm.vcpu, kind: 2 }), "INVALID_ARGS");
    expectErr(
      await k.call("vcpu_read_state", { handle: vm.vcpu, kind: "ZX_VCPU_IO", buffer_size: 8 }),
      "INVALID_ARGS",
    );
  },
);

// --- buffer_size, the invalid pointer -------------------------------------------

hvTest(
  "buffer_size one too small or one too large is INVALID_ARGS, nothing written",
  async (k, arch) => {
    const vm = await makeVm(k);
    const size = STATE_SIZE[arch];
    const before = await readState(vm);
    for (const wrong of [size - 1, size + 1]) {
      const buffer = pattern(arch).slice(0, Math.min(wrong, size));
      const padded = new Uint8Array(wrong);
      padded.set(buffer);
      expectErr(await write(vm, { kind: STATE, buffer: padded.toBase64() }), "INVALID_ARGS");
      expectErr(
        await write(vm, { kind: STATE, buffer: pattern(arch).toBase64(), buffer_size: wrong }),
        "INVALID_ARGS",
      );
      expectErr(
        await k.call("vcpu_read_state", { handle: vm.vcpu, kind: STATE, buffer_size: wrong }),
        "INVALID_ARGS",
      );
    }
    for (const wrong of [IO_SIZE - 1, IO_SIZE + 1]) {
      expectErr(
        await write(vm, { kind: IO, buffer: new Uint8Array(wrong).toBase64() }),
        "INVALID_ARGS",
      );
    }
    assert.deepEqual(await readState(vm), before);
  },
);

hvTest(
  "a base64 buffer shorter than buffer_size is an invalid pointer: INVALID_ARGS",
  async (k, arch) => {
    const vm = await makeVm(k);
    const size = STATE_SIZE[arch];
    const short = pattern(arch).slice(0, size - 8);
    const reply = await write(vm, { kind: STATE, buffer: short.toBase64(), buffer_size: size });
    expectErr(reply, "INVALID_ARGS");
    assert.match(reply.body.message, /invalid pointer/);
    // No buffer at all: buffer_size 0 does not match.
    expectErr(await write(vm, { kind: STATE }), "INVALID_ARGS");
  },
);

// --- handle, type, rights --------------------------------------------------------

hvTest(
  "a closed handle is BAD_HANDLE; a thread handle is WRONG_TYPE (before its rights)",
  async (k, arch) => {
    const vm = await makeVm(k);
    const buffer = pattern(arch).toBase64();
    const closed = await k.dup(vm.vcpu);
    await k.ok("handle_close", { handle: closed });
    expectErr(
      await k.call("vcpu_write_state", { handle: closed, kind: STATE, buffer }),
      "BAD_HANDLE",
    );
    expectErr(await k.call("vcpu_read_state", { handle: closed, kind: STATE }), "BAD_HANDLE");
    const thread = await k.reduced(k.handles.thread, 0);
    expectErr(
      await k.call("vcpu_write_state", { handle: thread, kind: STATE, buffer }),
      "WRONG_TYPE",
    );
    expectErr(await k.call("vcpu_read_state", { handle: thread, kind: STATE }), "WRONG_TYPE");
    expectErr(
      await k.call("vcpu_write_state", { handle: vm.guest, kind: STATE, buffer }),
      "WRONG_TYPE",
    );
  },
);

hvTest("without ZX_RIGHT_WRITE (READ) ACCESS_DENIED comes before kind and size", async (k) => {
  const vm = await makeVm(k);
  const info = await k.basic(vm.vcpu);
  assert.equal(info.rights, 0xd01f);
  assert.equal(info.type, 21);
  const noWrite = await k.reduced(vm.vcpu, 0xd01f & ~0x8);
  const noRead = await k.reduced(vm.vcpu, 0xd01f & ~0x4);
  expectErr(
    await k.call("vcpu_write_state", { handle: noWrite, kind: 7, buffer: "AAAA" }),
    "ACCESS_DENIED",
  );
  expectErr(await k.call("vcpu_read_state", { handle: noRead, kind: 7 }), "ACCESS_DENIED");
  // Either right alone is enough for its call.
  assert.equal((await k.call("vcpu_read_state", { handle: noWrite, kind: STATE })).body.code, 0);
  const regs = k.arch === "x64" ? { rax: 1 } : { "x[0]": 1 };
  assert.equal(
    (await k.call("vcpu_write_state", { handle: noRead, kind: STATE, regs })).body.code,
    0,
  );
});

// --- "must be called on the same thread handle was created on" ----------------

hvTest(
  "another thread gets BAD_STATE, after the kind, size and pointer checks",
  async (k, arch) => {
    const vm = await makeVm(k);
    const other = await otherThread(k);
    const buffer = pattern(arch).toBase64();
    const before = await readState(vm);
    const reply = await write(vm, { kind: STATE, buffer }, other.token);
    expectErr(reply, "BAD_STATE");
    expectErr(
      await k.call("vcpu_read_state", { handle: vm.vcpu, kind: STATE }, other.token),
      "BAD_STATE",
    );
    // INVALID_ARGS wins over the wrong thread: bad kind, bad size, short buffer.
    expectErr(await write(vm, { kind: 9, buffer }, other.token), "INVALID_ARGS");
    expectErr(
      await write(vm, { kind: STATE, buffer, buffer_size: STATE_SIZE[arch] + 1 }, other.token),
      "INVALID_ARGS",
    );
    expectErr(
      await write(vm, { kind: STATE, buffer: "AAAA", buffer_size: STATE_SIZE[arch] }, other.token),
      "INVALID_ARGS",
    );
    expectErr(
      await k.call(
        "vcpu_read_state",
        { handle: vm.vcpu, kind: STATE, buffer_size: 1 },
        other.token,
      ),
      "INVALID_ARGS",
    );
    assert.deepEqual(await readState(vm), before, "the refused writes changed nothing");
    // x64 ZX_VCPU_IO from another thread: BAD_STATE before access_size.
    if (arch === "x64") {
      const io = new Uint8Array(IO_SIZE);
      io[0] = 3;
      expectErr(await write(vm, { kind: IO, buffer: io.toBase64() }, other.token), "BAD_STATE");
    }
  },
);

// --- "only valid ... when execution has been paused" ---------------------------

hvTest(
  "while vcpu_enter is in flight: BAD_STATE from its own token (busy) and from others",
  async (k, arch) => {
    const vm = await makeVm(k, CODE.spin[arch]);
    const other = await otherThread(k);
    const before = await readState(vm);
    const entered = k.call("vcpu_enter", { handle: vm.vcpu });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const buffer = pattern(arch).toBase64();
    const busy = await write(vm, { kind: STATE, buffer });
    expectErr(busy, "BAD_STATE");
    assert.match(busy.body.message, /busy/);
    expectErr(await k.call("vcpu_read_state", { handle: vm.vcpu, kind: STATE }), "BAD_STATE");
    expectErr(await write(vm, { kind: STATE, buffer }, other.token), "BAD_STATE");
    // Kicked from the other thread, the enter ends (CANCELED) and the VCPU is paused again.
    assert.equal((await k.call("vcpu_kick", { handle: vm.vcpu }, other.token)).body.code, 0);
    const ended = await entered;
    assert.equal(ended.body.status, "ZX_ERR_CANCELED", JSON.stringify(ended.body));
    assert.equal(ended.http, 409);
    assert.deepEqual(await readState(vm), before, "a spinning guest changes no register");
    assert.equal((await write(vm, { kind: STATE, buffer })).body.code, 0);
  },
);
