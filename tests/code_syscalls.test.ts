// Syscalls made by code: the vDSO every process gets, the entry point each
// number must be called from, bad pointers, calls zxsim does not implement,
// and a thread blocked in a syscall as a debugger sees it.

import assert from "node:assert/strict";
import { startProgram } from "../client/loader.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { ARCHES } from "./helpers.ts";
import { returnCode, session, symbol, terminated } from "./program_helpers.ts";
import { loadElf } from "../client/loader.ts";
import { codeSyscallNumber } from "../kernel/code_syscall.ts";
import { SYSCALLS } from "../kernel/syscalls/table.ts";
import { syscallName, syscallNumber } from "../kernel/vdso/numbers.ts";

const FIXTURES = new URL("./fixtures/syscalls/", import.meta.url);
const fixture = (arch: string, name: string) =>
  Deno.readFileSync(new URL(`${arch}/${name}.elf`, FIXTURES));

/** Where the kernel mapped the vDSO of the live process called `name`. */
async function vdsoBase(k: KernelSession, name: string): Promise<number> {
  const summary = await k.summary();
  // deno-lint-ignore no-explicit-any
  const process = (summary.root_job as any).processes.find((p: any) => p.name === name);
  return Number(process.vdso_base);
}

/** Runs case `which` of the abi program; its return code is what it observed. */
async function abiCase(
  k: KernelSession,
  which: number,
  arg1: "process" | "vmar" = "process",
): Promise<{ code: number; text: string }> {
  const bytes = fixture(k.arch, "abi");
  const program = await loadElf(k, bytes, { name: `abi-${which}`, start: false });
  const value = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, BigInt(which), true);
  await k.zx.process_write_memory({
    handle: program.process,
    vaddr: Number(symbol(bytes, "which")),
    buffer: value.toBase64(),
  });
  if (arg1 === "vmar") {
    const { out } = await k.zx.handle_duplicate({
      handle: program.vmar,
      rights: "ZX_RIGHT_SAME_RIGHTS",
    });
    await k.zx.process_start({
      handle: program.process,
      thread: program.thread,
      entry: Number(program.entry),
      stack: Number(program.sp),
      arg1: out,
    });
  } else {
    await startProgram(k, program);
  }
  await terminated(k, program.process);
  return { code: await returnCode(k, program.process), text: (await k.debuglog()).text };
}

const STUB_X64 = (n: number) => [0x49, 0x89, 0xca, 0xb8, n, 0, 0, 0, 0x0f, 0x05, 0xc3];
const STUB_ARM64 = (n: number) => {
  const movz = (0xd2800010 | (n << 5)) >>> 0;
  const words = [movz, 0xd4000001, 0xd65f03c0];
  return words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
};

for (const arch of ARCHES) {
  Deno.test(`[${arch}] the vDSO is mapped read+execute when a process starts`, async () => {
    const k = await session(arch);
    const created = await k.zx.process_create({ job: k.handles!.root_job, name: "p" });
    const before = await k.zx.object_get_info({
      handle: created.proc_handle,
      topic: "ZX_INFO_PROCESS_MAPS",
    });
    // deno-lint-ignore no-explicit-any
    const mappings = (records: any) => records.filter((r: any) => r.type === 3);
    assert.equal(mappings(before.records).length, 0, "nothing is mapped before the start");
    const program = await loadElf(k, fixture(arch, "block"), { name: "blocked" });
    const base = await vdsoBase(k, "blocked");
    assert.equal(base % 4096, 0);
    const maps = await k.zx.object_get_info({
      handle: program.process,
      topic: "ZX_INFO_PROCESS_MAPS",
    });
    // deno-lint-ignore no-explicit-any
    const vdso = mappings(maps.records).find((r: any) => BigInt(r.base) === BigInt(base));
    assert.ok(vdso, JSON.stringify(maps.records));
    assert.equal(vdso.u.mapping.mmu_flags, 1 | 4, "ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE");
    // Entry point N at base + 32 * N: debug_write (96) is the stub Zircon's vDSO has.
    const stub = await k.zx.process_read_memory({
      handle: program.process,
      vaddr: base + 32 * 96,
      buffer_size: arch === "x64" ? 11 : 12,
    });
    assert.deepEqual(
      [...Uint8Array.fromBase64(stub.buffer as string)],
      arch === "x64" ? STUB_X64(96) : STUB_ARM64(96),
    );
    // The vDSO is the kernel's: no debugger writes to it.
    const write = await k.zx.process_write_memory({
      handle: program.process,
      vaddr: base,
      buffer: "kJCQkA==",
    }).catch((e) => e);
    assert.equal(write.statusName, "ZX_ERR_ACCESS_DENIED");
    await k.zx.task_kill({ handle: program.process });
  });

  Deno.test(`[${arch}] a syscall from another number's entry point is a bad syscall`, async () => {
    const k = await session(arch);
    const { code, text } = await abiCase(k, 1);
    assert.equal(code, -1028);
    assert.match(text, /ZX_EXCP_POLICY_ERROR \(bad syscall 38\)/);
  });

  Deno.test(`[${arch}] a number past the table is a bad syscall`, async () => {
    const k = await session(arch);
    const { code, text } = await abiCase(k, 2);
    assert.equal(code, -1028);
    assert.match(text, /ZX_EXCP_POLICY_ERROR \(bad syscall 1000\)/);
  });

  Deno.test(`[${arch}] a Zircon syscall zxsim lacks returns NOT_SUPPORTED`, async () => {
    const k = await session(arch);
    assert.equal((await abiCase(k, 3)).code, -2);
  });

  Deno.test(`[${arch}] an input pointer to unmapped memory is INVALID_ARGS`, async () => {
    const k = await session(arch);
    assert.equal((await abiCase(k, 4)).code, -10);
  });

  Deno.test(`[${arch}] an out pointer to read-only memory is INVALID_ARGS`, async () => {
    const k = await session(arch);
    assert.equal((await abiCase(k, 5)).code, -10);
  });

  Deno.test(`[${arch}] clock_get_monotonic returns the time, across a 5 ms sleep`, async () => {
    const k = await session(arch);
    const { code } = await abiCase(k, 6);
    assert.ok(code >= 5_000_000, `slept ${code} ns`);
  });

  Deno.test(`[${arch}] an out value lands where the pointer says`, async () => {
    const k = await session(arch);
    assert.equal((await abiCase(k, 7)).code, 1);
  });

  Deno.test(`[${arch}] a seven-argument syscall (vmar_map) from code maps memory`, async () => {
    const k = await session(arch);
    assert.equal((await abiCase(k, 8, "vmar")).code, 1042);
  });

  Deno.test(
    `[${arch}] a thread blocked in a syscall is suspended inside it; its result can be changed`,
    async () => {
      const k = await session(arch);
      const program = await loadElf(k, fixture(arch, "block"), { name: "blocked" });
      // Let it reach the wait: it stays there, so this wait on it times out.
      const stateOf = async () =>
        // deno-lint-ignore no-explicit-any
        ((await k.zx.object_get_info({ handle: program.thread, topic: "ZX_INFO_THREAD" })) as any)
          .info.state;
      for (let i = 0; i < 200 && await stateOf() !== 0x603; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(await stateOf(), 0x603, "ZX_THREAD_STATE_BLOCKED_WAIT_ONE");
      const { token } = await k.zx.task_suspend_token({ handle: program.thread });
      await k.zx.object_wait_one({
        handle: program.thread,
        signals: ["ZX_THREAD_SUSPENDED"],
        deadline: "ZX_TIME_INFINITE",
      });
      const { regs, buffer } = await k.zx.thread_read_state({
        handle: program.thread,
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
      });
      // deno-lint-ignore no-explicit-any
      const r = regs as any;
      const vdsoWaitOne = await vdsoBase(k, "blocked") + 32 * 10;
      const pc = BigInt(arch === "x64" ? r.rip : r.pc);
      // The pc is in the vDSO, just past object_wait_one's syscall instruction.
      assert.equal(pc, BigInt(vdsoWaitOne + (arch === "x64" ? 10 : 8)));
      // The syscall's arguments are where the kernel took them.
      const args = arch === "x64" ? [r.rdi, r.rsi, r.rdx] : [r.r[0], r.r[1], r.r[2]];
      assert.equal(BigInt(args[1]), 1n << 3n, "signals = ZX_TASK_TERMINATED");
      assert.equal(BigInt(args[2]), (1n << 63n) - 1n, "deadline = ZX_TIME_INFINITE");
      // Suspension interrupted the wait: ZX_ERR_INTERNAL_INTR_RETRY in the result register.
      const result = BigInt.asIntN(64, BigInt(arch === "x64" ? r.rax : r.r[0]));
      assert.equal(result, -6n);
      // A debugger makes the call return ZX_ERR_CANCELED instead.
      const bytes = Uint8Array.fromBase64(buffer as string);
      new DataView(bytes.buffer).setBigInt64(0, -23n, true); // rax / x0 are at offset 0
      await k.zx.thread_write_state({
        handle: program.thread,
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        buffer: bytes.toBase64(),
      });
      await k.zx.handle_close({ handle: token });
      await terminated(k, program.process);
      assert.equal(await returnCode(k, program.process), -23);
    },
  );
}

Deno.test("every zx syscall can be called from code: a C signature and a number", () => {
  for (const syscall of SYSCALLS.filter((s) => s.abis.includes("zx"))) {
    assert.ok(syscall.c, `${syscall.name} has a C signature`);
    // zx_vcpu_kick (2022) is newer than the 2019 number table: no number.
    if (syscall.name === "vcpu_kick") continue;
    assert.notEqual(codeSyscallNumber(syscall.name), undefined, `${syscall.name} has a number`);
    // Every pointer size names a C parameter that exists.
    for (const param of syscall.c!) {
      if ("size" in param && typeof param.size === "string") {
        assert.ok(syscall.c!.some((p) => p.name === param.size), `${syscall.name}.${param.name}`);
      }
    }
    assert.ok(syscall.c!.length <= 8, "at most eight arguments reach the kernel");
  }
});

Deno.test("the programs' header numbers the syscalls as the kernel does", () => {
  const header = Deno.readTextFileSync(new URL("./fixtures/programs/zxsim.h", import.meta.url));
  const defines = [...header.matchAll(/#define ZX_SYS_(\w+) (\d+)/g)];
  assert.ok(defines.length > 20);
  for (const [, name, number] of defines) assert.equal(syscallNumber(name), Number(number), name);
  assert.equal(syscallName(96), "debug_write");
  assert.equal(syscallNumber("vcpu_resume"), 133);
});
