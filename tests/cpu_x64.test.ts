// The x86-64 interpreter core, on bytes assembled by GNU as / clang from the
// sources in tests/fixtures/cpu-x64 (the .bin files are committed; build.sh
// remakes them). Each fixture snippet ends in int3, so a run that completes
// stops with SW_BREAKPOINT.

import assert from "node:assert/strict";
import { ACCESS, EXIT, PAGE_SIZE } from "../arch/cpu.ts";
import { x64, X64Registers } from "../arch/x64/x64.ts";
import { X64Core } from "../arch/x64/cpu/core.ts";
import { FlatMemory } from "./flat_memory.ts";
import { CODE, DATA, fixture, RW, RX, STACK_TOP, type Values, X64Rig } from "./cpu_x64_rig.ts";
import { BENCH_PROGRAMS } from "../bench/cpu_x64.bench.ts";

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400;
const ARITH = CF | PF | AF | ZF | SF | OF;
const M64 = (1n << 64n) - 1n;
const MIN64 = 1n << 63n;

/** A thread of one fixture, with the flags and xmm registers the core tests read. */
class Vm extends X64Rig {
  flags(): number {
    return Number(this.get("rflags")) & ARITH;
  }

  /** Runs from `label` (rip set) with `init` registers; returns the exit reason. */
  run(label: string, init: Values = {}, budget = 100_000): number {
    this.set({ rip: this.at(label), ...init });
    return this.core.run(budget);
  }

  xmm(n: number): bigint {
    const vec = new Uint8Array(x64.regsets.zx.get(2)!.size);
    this.regs.read("zx", 2, vec);
    const v = new DataView(vec.buffer, n * 64);
    return v.getBigUint64(0, true) | (v.getBigUint64(8, true) << 64n);
  }

  setXmm(n: number, value: bigint): void {
    const vec = new Uint8Array(x64.regsets.zx.get(2)!.size);
    this.regs.read("zx", 2, vec);
    const v = new DataView(vec.buffer, n * 64);
    v.setBigUint64(0, value & M64, true);
    v.setBigUint64(8, (value >> 64n) & M64, true);
    assert.equal(this.regs.write("zx", 2, vec, { stoppedInSyscall: false }), 0);
  }
}

const hex = (v: bigint | number) => "0x" + v.toString(16);

/**
 * One snippet: runs `label` with `init` (rflags may be given), expects the
 * int3 at its end, then compares `expect` registers and the flags in `mask`.
 */
interface Case {
  label: string;
  init?: Values;
  expect?: Values;
  flags?: number;
  mask?: number;
}

function check(vm: Vm, c: Case): void {
  const what = `${c.label} ${
    JSON.stringify(c.init ?? {}, (_k, v) => typeof v === "bigint" ? hex(v) : v)
  }`;
  const exit = vm.run(c.label, { rflags: 0x202, ...c.init });
  assert.equal(exit, EXIT.SW_BREAKPOINT, `${what}: exit ${exit}`);
  for (const [name, v] of Object.entries(c.expect ?? {})) {
    assert.equal(hex(vm.get(name)), hex(BigInt.asUintN(64, BigInt(v))), `${what}: ${name}`);
  }
  if (c.flags !== undefined) {
    const mask = c.mask ?? ARITH;
    assert.equal(hex(vm.flags() & mask), hex(c.flags & mask), `${what}: flags`);
  }
}

function runCases(name: string, cases: Case[], setup?: (vm: Vm) => void): void {
  const vm = new Vm(name);
  for (const c of cases) {
    setup?.(vm);
    check(vm, c);
  }
}

// ---------------------------------------------------------------------------
// Data movement

Deno.test("x64 core: mov immediates and register sizes", () => {
  const junk = 0xa5a5a5a5a5a5a5a5n;
  runCases("mov", [
    { label: "movabs_r64", expect: { rax: 0x1122334455667788n } },
    { label: "mov_r32_imm", init: { rcx: junk }, expect: { rcx: 0xffffffffn } },
    { label: "mov_r16_imm", init: { rdx: junk }, expect: { rdx: 0xa5a5a5a5a5a51234n } },
    { label: "mov_r8_imm", init: { rbx: junk }, expect: { rbx: 0xa5a5a5a5a5a5a556n } },
    { label: "mov_ah_imm", init: { rax: junk }, expect: { rax: 0xa5a5a5a5a5a59aa5n } },
    {
      label: "mov_sil_imm",
      init: { rsi: junk, rdx: 0 },
      expect: { rsi: 0xa5a5a5a5a5a5a577n, rdx: 0 },
    },
    { label: "mov_r8b_imm", init: { r8: junk }, expect: { r8: 0xa5a5a5a5a5a5a57fn } },
    { label: "mov_r15_imm", expect: { r15: -5 } },
    { label: "mov_rr64", init: { rbx: junk }, expect: { rax: junk } },
    { label: "mov_rr64_8b", init: { rbx: 7 }, expect: { rax: 7 } },
    { label: "mov_rr32", init: { rax: junk, rbx: junk }, expect: { rax: 0xa5a5a5a5n } },
    { label: "mov_rr16", init: { rax: 0, rbx: junk }, expect: { rax: 0xa5a5n } },
    { label: "mov_rr8", init: { rax: 0x1111, rbx: 0x2233 }, expect: { rax: 0x1122 } },
    { label: "mov_r9_r10", init: { r10: -2 }, expect: { r9: -2 } },
  ]);
});

Deno.test("x64 core: loads and stores of each size and addressing mode", () => {
  const vm = new Vm("mov");
  const fill = () => {
    const b = new Uint8Array(64);
    for (let k = 0; k < 64; k++) b[k] = k + 1;
    vm.mem.load(DATA, b);
    vm.setU64(DATA + 0x1000, 0xdeadbeefn);
  };
  const cases: Case[] = [
    { label: "ld64", init: { rdi: DATA }, expect: { rax: 0x0807060504030201n } },
    { label: "ld32", init: { rdi: DATA, rax: -1 }, expect: { rax: 0x08070605n } },
    { label: "ld16", init: { rdi: DATA, rax: -1 }, expect: { rax: 0xffffffffffff0403n } },
    { label: "ld8", init: { rdi: DATA, rax: -1 }, expect: { rax: 0xffffffffffffff02n } },
    { label: "ld8h", init: { rdi: DATA, rax: 0 }, expect: { rax: 0x0100 } },
    { label: "ld_sib", init: { rdi: DATA, rcx: 1 }, expect: { rax: 0x1817161514131211n } },
    { label: "ld_sib_neg", init: { rdi: DATA + 8, rcx: -1 }, expect: { rax: 0x0807060504030201n } },
    { label: "ld_nobase", init: { rcx: 2 }, expect: { rax: 0x1817161514131211n } },
    { label: "ld_disp32", init: { rdi: DATA }, expect: { rax: 0xdeadbeefn } },
    { label: "ld_rbp", init: { rbp: DATA }, expect: { rax: 0x0807060504030201n } },
    { label: "ld_r13", init: { r13: DATA }, expect: { rax: 0x0807060504030201n } },
    { label: "ld_r12", init: { r12: DATA }, expect: { rax: 0x100f0e0d0c0b0a09n } },
    { label: "ld_r12_index", init: { rdi: DATA, r12: 4 }, expect: { rax: 0x100f0e0d0c0b0a09n } },
    { label: "ld_abs32", expect: { rax: 0x0807060504030201n } },
    { label: "ld_moffs", expect: { rax: 0x0807060504030201n } },
    { label: "ld_rip", expect: { rax: 0x0123456789abcdefn } },
    {
      label: "ld_addr32",
      init: { rdi: 0xffffffff00000000n + BigInt(DATA) },
      expect: { rax: 0x08070605n },
    },
  ];
  for (const c of cases) {
    fill();
    check(vm, c);
  }
  // lea of the rip-relative constant: the address itself.
  check(vm, { label: "lea_rip", expect: { rax: vm.at("quad_value") } });
  // rsp-based.
  vm.setU64(STACK_TOP - 256 + 8, 42n);
  check(vm, { label: "ld_rsp", init: { rsp: STACK_TOP - 256 }, expect: { rax: 42 } });

  const stores: [string, bigint][] = [
    ["st64", 0x8877665544332211n],
    ["st32", 0x44332211n],
    ["st16", 0x2211n],
    ["st8", 0x11n],
    ["st8h", 0x22n],
  ];
  for (const [label, want] of stores) {
    vm.setU64(DATA + 16, 0n);
    check(vm, { label, init: { rdi: DATA, rax: 0x8877665544332211n } });
    assert.equal(hex(vm.u64(DATA + 16)), hex(want), label);
  }
  vm.setU64(DATA, 0n);
  vm.setU64(DATA + 8, 0n);
  for (const label of ["mov_m64_imm", "mov_m32_imm", "mov_m16_imm", "mov_m8_imm"]) {
    check(vm, { label, init: { rdi: DATA } });
  }
  assert.deepEqual([...vm.mem.read(DATA, 4)], [0x78, 0xef, 0xcd, 0xab]);
  assert.equal(vm.u64(DATA + 8), M64);
  check(vm, { label: "st_moffs", init: { rax: 0x12345678 } });
  assert.deepEqual([...vm.mem.read(DATA + 8, 4)], [0x78, 0x56, 0x34, 0x12]);
});

Deno.test("x64 core: fs/gs segment overrides add the bases", () => {
  const vm = new Vm("mov");
  vm.setU64(DATA + 0x10, 0x1111n);
  vm.setU64(DATA + 0x28, 0x2222n);
  check(vm, { label: "ld_fs", init: { fs_base: DATA }, expect: { rax: 0x1111 } });
  check(vm, { label: "ld_gs", init: { gs_base: DATA + 0x20, rcx: 8 }, expect: { rax: 0x2222 } });
});

Deno.test("x64 core: movzx, movsx, movsxd, lea", () => {
  const vm = new Vm("mov");
  vm.setU64(DATA, 0x80008001n);
  for (
    const c of <Case[]> [
      { label: "movzx_r8", init: { rax: -1, rbx: 0x1ff }, expect: { rax: 0xff } },
      { label: "movzx_ah", init: { rax: 0xab00, rcx: -1 }, expect: { rcx: 0xab } },
      { label: "movzx_m16", init: { rdi: DATA, rax: -1 }, expect: { rax: 0x8001 } },
      { label: "movsx_r8", init: { rbx: 0x80 }, expect: { rax: -128 } },
      { label: "movsx_r16", init: { rax: -1, rbx: 0x8000 }, expect: { rax: 0xffff8000n } },
      {
        label: "movsx_16_8",
        init: { rax: 0x1234567890n, rbx: 0xff },
        expect: { rax: 0x123456ffffn },
      },
      { label: "movsxd_r", init: { rbx: 0x80000000 }, expect: { rax: 0xffffffff80000000n } },
      { label: "movsxd_m", init: { rdi: DATA }, expect: { rax: 0xffffffff80008001n } },
      { label: "lea_sib", init: { rbx: 100, rcx: 3 }, expect: { rax: 122 } },
      { label: "lea_32", init: { rax: -1, rbx: 0xffffffff, rcx: 2 }, expect: { rax: 1 } },
      { label: "lea_16", init: { rax: -1, rbx: 0xffff }, expect: { rax: 0xffffffffffff0000n } },
      { label: "lea_wrap", init: { rbx: 0 }, expect: { rax: -1 } },
    ]
  ) check(vm, c);
});

Deno.test("x64 core: xchg, cmov, setcc, sign extensions, bswap, cmpxchg, xadd", () => {
  const vm = new Vm("mov");
  const cases: Case[] = [
    { label: "xchg_rr64", init: { rax: 1, rbx: 2 }, expect: { rax: 2, rbx: 1 } },
    { label: "xchg_rr8", init: { rax: 0x11, rbx: 0x2200 }, expect: { rax: 0x22, rbx: 0x1100 } },
    { label: "xchg_eax_ecx", init: { rax: -1, rcx: 5 }, expect: { rax: 5, rcx: 0xffffffff } },
    { label: "xchg_rax_r8", init: { rax: 1, r8: 2 }, expect: { rax: 2, r8: 1 } },
    { label: "cmove_r64", init: { rax: 1, rbx: 2, rflags: ZF }, expect: { rax: 2 } },
    { label: "cmove_r64", init: { rax: 1, rbx: 2, rflags: 0 }, expect: { rax: 1 } },
    // A 32-bit cmov writes its destination even when the condition is false.
    { label: "cmovne_r32", init: { rax: -1, rbx: 2, rflags: ZF }, expect: { rax: 0xffffffff } },
    { label: "cmovne_r32", init: { rax: -1, rbx: 2, rflags: 0 }, expect: { rax: 2 } },
    { label: "setb_r8", init: { rax: -1, rflags: CF }, expect: { rax: 0xffffffffffffff01n } },
    { label: "setb_r8", init: { rax: -1, rflags: 0 }, expect: { rax: 0xffffffffffffff00n } },
    { label: "setg_r8", init: { rbx: 0, rflags: SF | OF }, expect: { rbx: 0x100 } },
    { label: "cbw_s", init: { rax: 0x1280 }, expect: { rax: 0xff80 } },
    { label: "cwde_s", init: { rax: 0x123458000n }, expect: { rax: 0xffff8000n } },
    { label: "cdqe_s", init: { rax: 0x80000000 }, expect: { rax: 0xffffffff80000000n } },
    { label: "cwd_s", init: { rax: 0x8000, rdx: 0x12340000 }, expect: { rdx: 0x1234ffff } },
    { label: "cdq_s", init: { rax: 0x80000000, rdx: -1 }, expect: { rdx: 0xffffffff } },
    { label: "cqo_s", init: { rax: MIN64, rdx: 0 }, expect: { rdx: -1 } },
    { label: "cqo_s", init: { rax: 1, rdx: 5 }, expect: { rdx: 0 } },
    {
      label: "bswap_r64",
      init: { rax: 0x0102030405060708n },
      expect: { rax: 0x0807060504030201n },
    },
    { label: "bswap_r32", init: { rbx: 0xff11223344n }, expect: { rbx: 0x44332211 } },
    {
      label: "cmpxchg_r32",
      init: { rax: 5, rcx: 5, rbx: 9 },
      expect: { rcx: 9, rax: 5 },
      flags: ZF | PF,
    },
    {
      label: "cmpxchg_r32",
      init: { rax: 5, rcx: 6, rbx: 9 },
      expect: { rcx: 6, rax: 6 },
      flags: CF | PF | AF | SF,
    },
    { label: "xadd_r32", init: { rax: 1, rbx: 2 }, expect: { rax: 3, rbx: 1 }, flags: PF },
  ];
  for (const c of cases) check(vm, c);
  vm.setU64(DATA, 7n);
  check(vm, { label: "cmovl_m64", init: { rdi: DATA, rax: 0, rflags: SF }, expect: { rax: 7 } });
  check(vm, { label: "xchg_m64", init: { rdi: DATA, rcx: 9 }, expect: { rcx: 7 } });
  assert.equal(vm.u64(DATA), 9n);
  check(vm, { label: "sete_m8", init: { rdi: DATA, rflags: ZF } });
  assert.equal(vm.u64(DATA), 1n);
  check(vm, { label: "cmpxchg_m64", init: { rdi: DATA, rax: 1, rbx: 42 }, flags: ZF, mask: ZF });
  assert.equal(vm.u64(DATA), 42n);
  check(vm, { label: "cmpxchg_m64", init: { rdi: DATA, rax: 1, rbx: 43 }, expect: { rax: 42 } });
  assert.equal(vm.u64(DATA), 42n);
  check(vm, { label: "xadd_m64", init: { rdi: DATA, rax: 8 }, expect: { rax: 42 } });
  assert.equal(vm.u64(DATA), 50n);
});

Deno.test("x64 core: flag instructions and every nop form", () => {
  const vm = new Vm("mov");
  check(vm, { label: "stc_s", init: { rflags: ZF }, flags: ZF | CF });
  check(vm, { label: "clc_s", init: { rflags: CF | SF }, flags: SF });
  check(vm, { label: "cmc_s", init: { rflags: CF }, flags: 0 });
  check(vm, { label: "std_s" });
  assert.equal(Number(vm.get("rflags")) & DF, DF);
  check(vm, { label: "cld_s", init: { rflags: 0x202 | DF } });
  assert.equal(Number(vm.get("rflags")) & DF, 0);
  check(vm, { label: "lahf_s", init: { rax: 0, rflags: SF | ZF | CF }, expect: { rax: 0xc300 } });
  check(vm, {
    label: "sahf_s",
    init: { rax: 0xd500, rflags: OF },
    flags: OF | SF | ZF | AF | PF | CF,
  });
  for (
    const label of [
      "nop1",
      "nop_long",
      "nop_66",
      "nop_cs",
      "endbr",
      "pause_s",
      "nops15",
      "mfence_s",
    ]
  ) {
    check(vm, { label, init: { rax: 3, rflags: CF }, expect: { rax: 3 }, flags: CF });
    assert.equal(vm.core.retired, 2, label); // the nop and the int3
  }
  // A prefetch of an unmapped address does not fault.
  check(vm, { label: "prefetch_s", init: { rdi: 0x10 } });
});

// ---------------------------------------------------------------------------
// Arithmetic

Deno.test("x64 core: add/adc/sub/sbb/cmp results and flags at the edges", () => {
  const max = 0x7fffffffffffffffn;
  runCases("alu", [
    {
      label: "add_r64",
      init: { rax: max, rbx: 1 },
      expect: { rax: MIN64 },
      flags: PF | AF | SF | OF,
    },
    { label: "add_r64", init: { rax: -1, rbx: 1 }, expect: { rax: 0 }, flags: CF | PF | AF | ZF },
    {
      label: "add_r64",
      init: { rax: MIN64, rbx: MIN64 },
      expect: { rax: 0 },
      flags: CF | PF | ZF | OF,
    },
    {
      label: "add_r64",
      init: { rax: 0xffffffffn, rbx: 1 },
      expect: { rax: 0x100000000n },
      flags: PF | AF,
    },
    {
      label: "add_r32",
      init: { rax: 0x17fffffffn, rbx: 1 },
      expect: { rax: 0x80000000 },
      flags: PF | AF | SF | OF,
    },
    {
      label: "add_r16",
      init: { rax: 0x123456780000ffffn, rbx: 1 },
      expect: { rax: 0x1234567800000000n },
      flags: CF | PF | AF | ZF,
    },
    {
      label: "add_r8",
      init: { rax: 0xaaaaaaaaaaaaaa7fn, rbx: 1 },
      expect: { rax: 0xaaaaaaaaaaaaaa80n },
      flags: AF | SF | OF,
    },
    {
      label: "add_ah",
      init: { rax: 0xff00, rbx: 1 },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    { label: "add_g_e64", init: { rax: 2, rbx: 3 }, expect: { rax: 5 }, flags: PF },
    { label: "add_g_e32", init: { rax: -1, rbx: 1 }, expect: { rax: 0 }, flags: CF | PF | AF | ZF },
    {
      label: "adc_r64",
      init: { rax: -1, rbx: 0, rflags: CF },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    {
      label: "adc_r64",
      init: { rax: max, rbx: 0, rflags: CF },
      expect: { rax: MIN64 },
      flags: PF | AF | SF | OF,
    },
    {
      label: "adc_r64",
      init: { rax: -1, rbx: -1, rflags: CF },
      expect: { rax: -1 },
      flags: CF | PF | AF | SF,
    },
    {
      label: "adc_r32",
      init: { rax: 0xffffffff, rbx: 0xffffffff, rflags: CF },
      expect: { rax: 0xffffffff },
      flags: CF | PF | AF | SF,
    },
    {
      label: "adc_r8",
      init: { rax: 0x80, rbx: 0x7f, rflags: CF },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    { label: "sub_r64", init: { rax: 0, rbx: 1 }, expect: { rax: -1 }, flags: CF | PF | AF | SF },
    { label: "sub_r64", init: { rax: MIN64, rbx: 1 }, expect: { rax: max }, flags: PF | AF | OF },
    { label: "sub_r32", init: { rax: 5, rbx: 5 }, expect: { rax: 0 }, flags: ZF | PF },
    {
      label: "sub_r16",
      init: { rax: 0, rbx: 0x8000 },
      expect: { rax: 0x8000 },
      flags: CF | PF | SF | OF,
    },
    { label: "sub_r8", init: { rax: 0x80, rbx: 1 }, expect: { rax: 0x7f }, flags: AF | OF },
    {
      label: "sbb_r64",
      init: { rax: 0, rbx: 0, rflags: CF },
      expect: { rax: -1 },
      flags: CF | PF | AF | SF,
    },
    {
      label: "sbb_r64",
      init: { rax: 5, rbx: -1, rflags: CF },
      expect: { rax: 5 },
      flags: CF | PF | AF,
    },
    {
      label: "sbb_r32",
      init: { rax: 0x80000000, rbx: 0, rflags: CF },
      expect: { rax: 0x7fffffff },
      flags: PF | AF | OF,
    },
    {
      label: "sbb_r8",
      init: { rax: 0, rbx: 0xff, rflags: CF },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    { label: "cmp_r64", init: { rax: 1, rbx: 2 }, expect: { rax: 1 }, flags: CF | PF | AF | SF },
    // cmp writes nothing: the high half of rax survives a 32-bit compare.
    {
      label: "cmp_r32",
      init: { rax: 0xffffffff00000001n, rbx: 1 },
      expect: { rax: 0xffffffff00000001n },
      flags: ZF | PF,
    },
  ]);
});

Deno.test("x64 core: logic ops clear CF and OF; immediate forms", () => {
  const all = CF | OF | AF;
  runCases("alu", [
    {
      label: "and_r64",
      init: { rax: 0x8000000000000001n, rbx: 0x8000000000000003n, rflags: all },
      expect: { rax: 0x8000000000000001n },
      flags: SF,
    },
    { label: "and_r32", init: { rax: -1, rbx: 0x100000000n }, expect: { rax: 0 }, flags: ZF | PF },
    { label: "or_r64", init: { rax: 0, rbx: 0, rflags: all }, expect: { rax: 0 }, flags: ZF | PF },
    { label: "xor_r64", init: { rax: 0x1234, rbx: 0x1234 }, expect: { rax: 0 }, flags: ZF | PF },
    { label: "xor_r8", init: { rax: 0x1234, rbx: 0x34 }, expect: { rax: 0x1200 }, flags: ZF | PF },
    {
      label: "test_r64",
      init: { rax: MIN64, rbx: -1, rflags: all },
      expect: { rax: MIN64 },
      flags: SF | PF,
    },
    { label: "test_r8", init: { rax: 0x0f, rbx: 0xf0 }, flags: ZF | PF },
    { label: "xor_self32", init: { rax: -1 }, expect: { rax: 0 }, flags: ZF | PF },
    { label: "add_al_imm", init: { rax: 1 }, expect: { rax: 0x80 }, flags: AF | SF | OF },
    {
      label: "add_eax_imm",
      init: { rax: 0xedcba988 },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    {
      label: "add_rax_imm",
      init: { rax: -0x12345678 },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    { label: "or_al_imm", init: { rax: 0 }, expect: { rax: 0x80 }, flags: SF },
    { label: "add_r64_imm8", init: { rax: 0 }, expect: { rax: -1 }, flags: PF | SF },
    { label: "add_r64_imm32", init: { rbx: 1 }, expect: { rbx: 0x80000000 }, flags: PF | AF },
    {
      label: "sub_r32_imm8",
      init: { rcx: 0x500000000n },
      expect: { rcx: 0xffffffff },
      flags: CF | PF | AF | SF,
    },
    { label: "cmp_r64_imm8", init: { rdx: 5 }, expect: { rdx: 5 }, flags: ZF | PF },
    { label: "and_r8_imm", init: { rbx: 0x12ff }, expect: { rbx: 0x120f }, flags: PF },
    {
      label: "xor_r16_imm",
      init: { rbx: 0xffff000000001234n },
      expect: { rbx: 0xffff000000000000n },
      flags: ZF | PF,
    },
    {
      label: "adc_r64_imm8",
      init: { rax: -1, rflags: CF },
      expect: { rax: 0 },
      flags: CF | PF | AF | ZF,
    },
    {
      label: "sbb_r32_imm8",
      init: { rax: 0, rflags: CF },
      expect: { rax: 0xffffffff },
      flags: CF | PF | AF | SF,
    },
    { label: "test_al_imm", init: { rax: 0x80 }, flags: SF },
    { label: "test_eax_imm", init: { rax: 0x80000000 }, flags: SF | PF },
    { label: "test_r64_imm", init: { rbx: 2 }, flags: ZF | PF },
    { label: "test_r8_imm", init: { rbx: 0x100 }, flags: 0 },
  ]);
});

Deno.test("x64 core: neg, not, inc, dec (inc/dec keep CF)", () => {
  runCases("alu", [
    { label: "neg_r64", init: { rax: 1 }, expect: { rax: -1 }, flags: CF | PF | AF | SF },
    { label: "neg_r64", init: { rax: 0, rflags: CF }, expect: { rax: 0 }, flags: ZF | PF },
    { label: "neg_r64", init: { rax: MIN64 }, expect: { rax: MIN64 }, flags: CF | PF | SF | OF },
    {
      label: "neg_r32",
      init: { rax: 0x80000000 },
      expect: { rax: 0x80000000 },
      flags: CF | PF | SF | OF,
    },
    { label: "neg_r8", init: { rax: 0x80 }, expect: { rax: 0x80 }, flags: CF | SF | OF },
    {
      label: "not_r64",
      init: { rax: 0xff, rflags: CF | ZF },
      expect: { rax: 0xffffffffffffff00n },
      flags: CF | ZF,
    },
    { label: "not_r32", init: { rax: 0xffffffff0000ffffn }, expect: { rax: 0xffff0000 } },
    {
      label: "inc_r64",
      init: { rax: 0x7fffffffffffffffn, rflags: CF },
      expect: { rax: MIN64 },
      flags: CF | OF | SF | AF | PF,
    },
    { label: "inc_r32", init: { rax: 0xffffffff }, expect: { rax: 0 }, flags: ZF | PF | AF },
    { label: "inc_r8", init: { rax: 0x12ff }, expect: { rax: 0x1200 }, flags: ZF | PF | AF },
    { label: "inc_r16", init: { rax: 0x7fff }, expect: { rax: 0x8000 }, flags: OF | SF | AF | PF },
    {
      label: "dec_r64",
      init: { rax: 0, rflags: CF },
      expect: { rax: -1 },
      flags: CF | SF | PF | AF,
    },
    { label: "dec_r8", init: { rbx: 0x80 }, expect: { rbx: 0x7f }, flags: OF | AF },
  ]);
});

Deno.test("x64 core: ALU forms with memory operands", () => {
  const vm = new Vm("alu");
  const mem = (label: string, before: bigint, init: Values, after: bigint, flags?: number) => {
    vm.setU64(DATA, before);
    check(vm, { label, init: { rdi: DATA, ...init }, flags });
    assert.equal(hex(vm.u64(DATA)), hex(BigInt.asUintN(64, after)), label);
  };
  mem("add_m64_r", -1n, { rax: 1 }, 0n, CF | PF | AF | ZF);
  mem("add_m64_imm8", 0x7fffffffffffffffn, {}, MIN64, PF | AF | SF | OF);
  mem("sub_m32_imm8", 3n << 32n | 0x55n, {}, 0xfffffffen << 32n | 0x55n, CF | AF | SF);
  mem("add_m8_imm", 0x1180n, {}, 0x1100n, CF | PF | ZF | OF);
  mem("or_m16_r", 0x00ffn, { rbx: 0xff00 }, 0xffffn, SF | PF);
  mem("lock_add_m64", 1n, {}, 2n);
  mem("neg_m64", 5n, {}, -5n, CF | AF | SF);
  mem("not_m8", 0x0fn, {}, 0xf0n);
  mem("inc_m64", -1n, { rflags: CF }, 0n, CF | ZF | PF | AF);
  mem("dec_m8", 1n, {}, 0n, ZF | PF);
  vm.setU64(DATA, 10n);
  check(vm, { label: "add_r_m64", init: { rdi: DATA, rax: 5 }, expect: { rax: 15 }, flags: PF });
  // cmp and test only read: fine on a read-only page.
  vm.mem.protect(DATA, PAGE_SIZE, ACCESS.READ);
  vm.setU64(DATA, 7n);
  check(vm, { label: "cmp_m64_r", init: { rdi: DATA, rax: 7 }, flags: ZF | PF });
  check(vm, { label: "test_m32_imm", init: { rdi: DATA }, flags: 0 });
  assert.equal(vm.run("add_m64_r", { rdi: DATA, rax: 1 }), EXIT.PAGE_FAULT);
  assert.equal(vm.core.faultAccess, ACCESS.WRITE);
});

Deno.test("x64 core: shifts and rotates", () => {
  const noOF = ARITH & ~OF & ~AF, defined = ARITH & ~AF;
  runCases("shift", [
    {
      label: "shl1_64",
      init: { rax: 0x8000000000000001n },
      expect: { rax: 2 },
      flags: CF | OF,
      mask: defined,
    },
    {
      label: "shl1_64",
      init: { rax: 0x4000000000000000n },
      expect: { rax: MIN64 },
      flags: OF | SF | PF,
      mask: defined,
    },
    {
      label: "shl1_32",
      init: { rax: 0xffffffff80000000n },
      expect: { rax: 0 },
      flags: CF | ZF | PF | OF,
      mask: defined,
    },
    { label: "shl1_8", init: { rax: 0xc0 }, expect: { rax: 0x80 }, flags: CF | SF, mask: defined },
    {
      label: "shlcl_64",
      init: { rax: 1, rcx: 63 },
      expect: { rax: MIN64 },
      flags: SF | PF,
      mask: noOF,
    },
    // A count of 0 (after masking) changes no flags...
    {
      label: "shlcl_64",
      init: { rax: 1, rcx: 64, rflags: CF | ZF | OF },
      expect: { rax: 1 },
      flags: CF | ZF | OF,
    },
    // ... but a 32-bit register is still written, so its high half is cleared.
    {
      label: "shlcl_32",
      init: { rax: 0x100000001n, rcx: 32, rflags: SF },
      expect: { rax: 1 },
      flags: SF,
    },
    {
      label: "shlcl_8",
      init: { rax: 0x101, rcx: 9 },
      expect: { rax: 0x100 },
      flags: ZF | PF,
      mask: ZF | PF | SF,
    },
    {
      label: "shli_64",
      init: { rax: 0x0123456789abcdefn },
      expect: { rax: 0x123456789abcdef0n },
      flags: PF,
      mask: noOF,
    },
    {
      label: "shli_16",
      init: { rax: 0xffff1234n },
      expect: { rax: 0xffff2340n },
      flags: CF,
      mask: noOF,
    },
    {
      label: "shr1_64",
      init: { rax: 0x8000000000000001n },
      expect: { rax: 0x4000000000000000n },
      flags: CF | OF | PF,
      mask: defined,
    },
    { label: "shr1_8", init: { rax: 1 }, expect: { rax: 0 }, flags: CF | ZF | PF, mask: defined },
    { label: "shrcl_64", init: { rax: -1, rcx: 63 }, expect: { rax: 1 }, flags: CF, mask: noOF },
    { label: "shri_32", init: { rax: 0x180000000n }, expect: { rax: 1 }, flags: 0, mask: noOF },
    {
      label: "sar1_64",
      init: { rax: 0x8000000000000001n },
      expect: { rax: 0xc000000000000000n },
      flags: CF | SF | PF,
      mask: defined,
    },
    {
      label: "sar1_8",
      init: { rax: 0x81 },
      expect: { rax: 0xc0 },
      flags: CF | SF | PF,
      mask: defined,
    },
    {
      label: "sarcl_64",
      init: { rax: MIN64, rcx: 63 },
      expect: { rax: -1 },
      flags: SF | PF,
      mask: noOF,
    },
    { label: "sari_8", init: { rax: 0x80 }, expect: { rax: 0xf0 }, flags: SF | PF, mask: noOF },
    {
      label: "sari_32",
      init: { rax: 0x80000000 },
      expect: { rax: 0xff800000 },
      flags: SF | PF,
      mask: noOF,
    },
    // Rotates change CF (and OF for a count of 1) only.
    { label: "rol1_64", init: { rax: MIN64, rflags: ZF }, expect: { rax: 1 }, flags: CF | OF | ZF },
    {
      label: "rolcl_32",
      init: { rax: 0x80000001, rcx: 4, rflags: CF | SF },
      expect: { rax: 0x18 },
      flags: SF,
      mask: ARITH & ~OF,
    },
    { label: "roli_8", init: { rax: 0x12 }, expect: { rax: 0x21 }, flags: CF, mask: CF },
    { label: "ror1_8", init: { rax: 1 }, expect: { rax: 0x80 }, flags: CF | OF },
    {
      label: "rori_64",
      init: { rax: 0x0123456789abcdefn },
      expect: { rax: 0xef0123456789abcdn },
      flags: CF,
      mask: CF,
    },
    { label: "rcl1_64", init: { rax: MIN64 }, expect: { rax: 0 }, flags: CF | OF },
    { label: "rcr1_32", init: { rax: 1, rflags: CF }, expect: { rax: 0x80000000 }, flags: CF | OF },
    { label: "rcrcl_64", init: { rax: 1, rcx: 2 }, expect: { rax: MIN64 }, flags: 0, mask: CF },
    {
      label: "rclcl_8",
      init: { rax: 0x80, rcx: 9, rflags: CF },
      expect: { rax: 0x80 },
      flags: CF,
      mask: CF,
    },
  ]);
  const vm = new Vm("shift");
  vm.setU64(DATA, 0x20000001n);
  check(vm, { label: "shl_m32", init: { rdi: DATA }, flags: CF, mask: noOF });
  assert.equal(vm.u64(DATA), 8n);
  vm.setU64(DATA, -16n);
  check(vm, { label: "sar_m64_cl", init: { rdi: DATA, rcx: 2 }, flags: SF | PF, mask: noOF });
  assert.equal(vm.u64(DATA), BigInt.asUintN(64, -4n));
});

Deno.test("x64 core: shld/shrd and the bit instructions", () => {
  const noOF = ARITH & ~OF & ~AF;
  runCases("shift", [
    {
      label: "shld_i64",
      init: { rax: 0x0123456789abcdefn, rbx: 0xf000000000000000n },
      expect: { rax: 0x123456789abcdeffn },
      flags: PF,
      mask: noOF,
    },
    {
      label: "shld_cl32",
      init: { rax: 0x80000000, rbx: 0xffffffff, rcx: 1 },
      expect: { rax: 1 },
      flags: CF | OF,
      mask: ARITH & ~AF,
    },
    {
      label: "shrd_i64",
      init: { rax: 0xf000000000000000n, rbx: 1 },
      expect: { rax: 0x1f },
      flags: 0,
      mask: noOF,
    },
    {
      label: "shrd_cl32",
      init: { rax: 1, rbx: 1, rcx: 1 },
      expect: { rax: 0x80000000 },
      flags: CF | OF | SF | PF,
      mask: ARITH & ~AF,
    },
    {
      label: "shrd_i16",
      init: { rax: 0x1234, rbx: 0xabcd },
      expect: { rax: 0xd123 },
      flags: SF,
      mask: noOF,
    },
    { label: "bt_r64", init: { rax: MIN64, rbx: 63 }, flags: CF, mask: CF },
    { label: "bt_r64", init: { rax: MIN64, rbx: 127 }, flags: CF, mask: CF },
    { label: "bt_r64", init: { rax: MIN64, rbx: 62, rflags: CF }, flags: 0, mask: CF },
    { label: "bt_i32", init: { rax: 0x80000000 }, flags: CF, mask: CF },
    { label: "bts_i64", init: { rax: 0 }, expect: { rax: MIN64 }, flags: 0, mask: CF },
    {
      label: "btr_r32",
      init: { rax: 0xffffffff, rbx: 35 },
      expect: { rax: 0xfffffff7 },
      flags: CF,
      mask: CF,
    },
    { label: "btc_i16", init: { rax: 0 }, expect: { rax: 8 }, flags: 0, mask: CF },
    { label: "bsf_r64", init: { rbx: MIN64 }, expect: { rax: 63 }, flags: 0, mask: ZF },
    { label: "bsf_r64", init: { rax: 77, rbx: 0 }, expect: { rax: 77 }, flags: ZF, mask: ZF },
    { label: "bsr_r64", init: { rbx: 0x10 }, expect: { rax: 4 }, flags: 0, mask: ZF },
    { label: "bsr_r32", init: { rax: -1, rbx: 1 }, expect: { rax: 0 }, flags: 0, mask: ZF },
    { label: "tzcnt_r64", init: { rbx: 0 }, expect: { rax: 64 }, flags: CF, mask: CF | ZF },
    { label: "tzcnt_r64", init: { rbx: 1 }, expect: { rax: 0 }, flags: ZF, mask: CF | ZF },
    { label: "lzcnt_r32", init: { rbx: 1 }, expect: { rax: 31 }, flags: 0, mask: CF | ZF },
    { label: "lzcnt_r32", init: { rbx: 0 }, expect: { rax: 32 }, flags: CF, mask: CF | ZF },
    { label: "popcnt_r64", init: { rbx: -1 }, expect: { rax: 64 }, flags: 0 },
    { label: "popcnt_r64", init: { rbx: 0, rflags: CF | OF }, expect: { rax: 0 }, flags: ZF },
  ]);
  const vm = new Vm("shift");
  vm.setU64(DATA, 0x10000n);
  check(vm, { label: "bt_m_r64", init: { rdi: DATA, rbx: 16 }, flags: CF, mask: CF });
  // A register bit offset reaches outside the operand, backwards too.
  check(vm, { label: "bt_m_r64", init: { rdi: DATA + 8, rbx: -48 }, flags: CF, mask: CF });
  check(vm, { label: "bts_m_r32", init: { rdi: DATA, rbx: 100 }, flags: 0, mask: CF });
  assert.equal(vm.mem.read(DATA + 12, 1)[0], 0x10);
  vm.setU64(DATA, -1n);
  check(vm, { label: "btr_m_i", init: { rdi: DATA }, flags: CF, mask: CF });
  assert.equal(hex(vm.u64(DATA)), hex(M64 ^ (1n << 33n)));
});

Deno.test("x64 core: mul and imul (CF = OF = upper half significant)", () => {
  const CO = CF | OF;
  runCases("muldiv", [
    {
      label: "mul_r64",
      init: { rax: -1, rbx: -1 },
      expect: { rax: 1, rdx: 0xfffffffffffffffen },
      flags: CO,
      mask: CO,
    },
    {
      label: "mul_r64",
      init: { rax: 2, rbx: 3, rdx: 9 },
      expect: { rax: 6, rdx: 0 },
      flags: 0,
      mask: CO,
    },
    {
      label: "mul_r32",
      init: { rax: 0x1180000000n, rbx: 2, rdx: -1 },
      expect: { rax: 0, rdx: 1 },
      flags: CO,
      mask: CO,
    },
    {
      label: "mul_r16",
      init: { rax: 0x100, rbx: 0x100, rdx: 0xffff0000n },
      expect: { rax: 0, rdx: 0xffff0001n },
      flags: CO,
      mask: CO,
    },
    {
      label: "mul_r8",
      init: { rax: 0x10, rbx: 0x10 },
      expect: { rax: 0x100 },
      flags: CO,
      mask: CO,
    },
    { label: "mul_r8", init: { rax: 2, rbx: 3 }, expect: { rax: 6 }, flags: 0, mask: CO },
    {
      label: "imul1_r64",
      init: { rax: -1, rbx: -1 },
      expect: { rax: 1, rdx: 0 },
      flags: 0,
      mask: CO,
    },
    {
      label: "imul1_r64",
      init: { rax: MIN64, rbx: -1 },
      expect: { rax: MIN64, rdx: 0 },
      flags: CO,
      mask: CO,
    },
    {
      label: "imul1_r64",
      init: { rax: MIN64, rbx: 2 },
      expect: { rax: 0, rdx: -1 },
      flags: CO,
      mask: CO,
    },
    {
      label: "imul1_r32",
      init: { rax: -2, rbx: 3 },
      expect: { rax: 0xfffffffa, rdx: 0xffffffff },
      flags: 0,
      mask: CO,
    },
    {
      label: "imul1_r16",
      init: { rax: 0x4000, rbx: 2, rdx: 0 },
      expect: { rax: 0x8000, rdx: 0 },
      flags: CO,
      mask: CO,
    },
    {
      label: "imul1_r8",
      init: { rax: 0x80, rbx: 0xff },
      expect: { rax: 0x80 },
      flags: CO,
      mask: CO,
    },
    {
      label: "imul2_r64",
      init: { rax: 0x100000000n, rbx: 0x100000000n },
      expect: { rax: 0 },
      flags: CO,
      mask: CO,
    },
    { label: "imul2_r64", init: { rax: -3, rbx: 7 }, expect: { rax: -21 }, flags: 0, mask: CO },
    {
      label: "imul2_r32",
      init: { rax: 0x10000, rbx: 0x8000 },
      expect: { rax: 0x80000000 },
      flags: CO,
      mask: CO,
    },
    {
      label: "imul2_r16",
      init: { rax: 0xffff, rbx: 0xffff },
      expect: { rax: 1 },
      flags: 0,
      mask: CO,
    },
    { label: "imul3_i8_64", init: { rbx: 5 }, expect: { rax: -15 }, flags: 0, mask: CO },
    {
      label: "imul3_i32_32",
      init: { rbx: 100000 },
      expect: { rax: 0x540be400 },
      flags: CO,
      mask: CO,
    },
    {
      label: "imul3_i16_16",
      init: { rax: 0, rbx: 200 },
      expect: { rax: 0xea60 },
      flags: CO,
      mask: CO,
    },
  ]);
  const vm = new Vm("muldiv");
  vm.setU64(DATA, 1n << 32n);
  check(vm, { label: "mul_m64", init: { rdi: DATA, rax: 1n << 32n }, expect: { rax: 0, rdx: 1 } });
  vm.setU64(DATA, 5n);
  check(vm, { label: "imul2_m64", init: { rdi: DATA, rax: 6 }, expect: { rax: 30 } });
});

Deno.test("x64 core: div and idiv, and #DE", () => {
  runCases("muldiv", [
    { label: "div_r64", init: { rdx: 0, rax: 100, rbx: 7 }, expect: { rax: 14, rdx: 2 } },
    { label: "div_r64", init: { rdx: 1, rax: 0, rbx: 2 }, expect: { rax: MIN64, rdx: 0 } },
    {
      label: "div_r64",
      init: { rdx: 0x1234, rax: 0x5678, rbx: -1 },
      expect: { rax: 0x1234, rdx: 0x68ac },
    },
    {
      label: "div_r64",
      init: { rdx: 5, rax: 7, rbx: 0x123456789n },
      expect: { rax: 0x465000002n, rdx: 0xac7530f5n },
    },
    { label: "div_r32", init: { rdx: 1, rax: 0, rbx: 2 }, expect: { rax: 0x80000000, rdx: 0 } },
    { label: "div_r16", init: { rdx: 0, rax: 1000, rbx: 7 }, expect: { rax: 142, rdx: 6 } },
    { label: "div_r8", init: { rax: 1000, rbx: 7 }, expect: { rax: 0x068e } },
    { label: "idiv_r64", init: { rdx: -1, rax: -100, rbx: 7 }, expect: { rax: -14, rdx: -2 } },
    { label: "idiv_r64", init: { rdx: -1, rax: MIN64, rbx: 1 }, expect: { rax: MIN64, rdx: 0 } },
    {
      label: "idiv_r32",
      init: { rdx: 0xffffffff, rax: 0xfffffff9, rbx: 0xfffffffe },
      expect: { rax: 3, rdx: 0xffffffff },
    },
    { label: "idiv_r16", init: { rdx: 0, rax: 100, rbx: 0xfff9 }, expect: { rax: 0xfff2, rdx: 2 } },
    { label: "idiv_r8", init: { rax: 0xff9c, rbx: 7 }, expect: { rax: 0xfef2 } },
  ]);
  const vm = new Vm("muldiv");
  vm.setU64(DATA, 10n);
  check(vm, {
    label: "div_m64",
    init: { rdi: DATA, rdx: 0, rax: 101 },
    expect: { rax: 10, rdx: 1 },
  });
  const de: [string, Values][] = [
    ["div_r64", { rdx: 0, rax: 1, rbx: 0 }],
    ["div_r64", { rdx: 5, rax: 1, rbx: 5 }],
    ["idiv_r64", { rdx: -1, rax: MIN64, rbx: -1 }],
    ["idiv_r32", { rdx: 0, rax: 0x80000000, rbx: 1 }],
    ["div_r8", { rax: 0x1000, rbx: 0x10 }],
    ["idiv_r8", { rax: 0xff80, rbx: 0xff }],
  ];
  for (const [label, init] of de) {
    const exit = vm.run(label, { rflags: 0x202, ...init });
    assert.equal(exit, EXIT.DIVIDE_ERROR, label);
    assert.equal(vm.get("rip"), BigInt(vm.at(label)), label);
    assert.equal(vm.core.retired, 0);
    for (const [name, v] of Object.entries(init)) {
      assert.equal(vm.get(name), BigInt.asUintN(64, BigInt(v)), `${label} ${name}`);
    }
  }
});

// ---------------------------------------------------------------------------
// Control flow

const CONDITIONS = [
  "o",
  "no",
  "b",
  "ae",
  "e",
  "ne",
  "be",
  "a",
  "s",
  "ns",
  "p",
  "np",
  "l",
  "ge",
  "le",
  "g",
];

/** The SDM's definition of each condition, from flag bits. */
function holds(cc: number, f: number): boolean {
  const cf = (f & CF) !== 0, zf = (f & ZF) !== 0, sf = (f & SF) !== 0, of = (f & OF) !== 0;
  const pf = (f & PF) !== 0;
  const base = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of][cc >> 1];
  return (cc & 1) === 0 ? base : !base;
}

Deno.test("x64 core: jcc (short and near) on every condition and flag combination", () => {
  const vm = new Vm("control");
  const combos = [0, CF, ZF, SF, OF, PF, SF | OF, ZF | SF, CF | ZF, ZF | OF, ARITH];
  CONDITIONS.forEach((cc, n) => {
    for (const f of combos) {
      for (const form of ["jcc_", "jccn_"]) {
        check(vm, {
          label: form + cc,
          init: { rflags: 0x202 | f },
          expect: { rax: holds(n, f) ? 1 : 0 },
        });
      }
    }
  });
});

Deno.test("x64 core: conditions after cmp read the lazy flags", () => {
  // cmp rax, rbx then each setcc: compared with the SDM's signed/unsigned meaning.
  const vm = new Vm("alu");
  const values = [0n, 1n, -1n, MIN64, MIN64 - 1n, 0x80000000n, 5n];
  for (const a of values) {
    for (const b of values) {
      check(vm, { label: "cmp_r64", init: { rax: a, rbx: b } });
      const ua = BigInt.asUintN(64, a), ub = BigInt.asUintN(64, b);
      const sa = BigInt.asIntN(64, a), sb = BigInt.asIntN(64, b);
      const f = vm.flags();
      assert.equal((f & CF) !== 0, ua < ub);
      assert.equal((f & ZF) !== 0, ua === ub);
      assert.equal(holds(12, f), sa < sb, `l ${a} ${b}`);
      assert.equal(holds(14, f), sa <= sb, `le ${a} ${b}`);
      assert.equal(holds(7, f), ua > ub, `a ${a} ${b}`);
    }
  }
});

Deno.test("x64 core: jmp, call, ret, push, pop, leave, loop", () => {
  const vm = new Vm("control");
  const top = STACK_TOP - 256;
  check(vm, { label: "jmp_short", expect: { rax: 2 } });
  check(vm, { label: "jmp_near", expect: { rax: 3 } });
  check(vm, { label: "jmp_reg", expect: { rax: 4 } });
  check(vm, { label: "jmp_mem", init: { rdi: DATA }, expect: { rax: 5 } });
  check(vm, { label: "call_rel", init: { rsp: top }, expect: { rax: 7, rsp: top } });
  check(vm, { label: "call_reg", init: { rsp: top }, expect: { rax: 8, rsp: top } });
  check(vm, { label: "call_mem", init: { rsp: top, rdi: DATA }, expect: { rax: 9, rsp: top } });
  check(vm, { label: "ret_imm", init: { rsp: top }, expect: { rsp: top } });
  // The return address pushed by call is the next instruction.
  assert.equal(vm.run("call_rax", { rsp: top, rax: vm.at("ret_s") }), EXIT.SW_BREAKPOINT);
  assert.equal(vm.get("rip"), BigInt(vm.at("call_rax") + 3));
  assert.equal(vm.get("rsp"), BigInt(top));

  check(vm, { label: "push_r64", init: { rsp: top, rax: 0x1234 }, expect: { rsp: top - 8 } });
  assert.equal(vm.u64(top - 8), 0x1234n);
  check(vm, { label: "push_r12", init: { rsp: top, r12: -3 }, expect: { rsp: top - 8 } });
  assert.equal(vm.u64(top - 8), M64 - 2n);
  check(vm, { label: "push_imm8", init: { rsp: top }, expect: { rsp: top - 8 } });
  assert.equal(vm.u64(top - 8), M64 - 1n);
  check(vm, { label: "push_imm32", init: { rsp: top }, expect: { rsp: top - 8 } });
  assert.equal(vm.u64(top - 8), 0x12345678n);
  vm.setU64(DATA, 99n);
  check(vm, { label: "push_m64", init: { rsp: top, rdi: DATA }, expect: { rsp: top - 8 } });
  assert.equal(vm.u64(top - 8), 99n);
  vm.setU64(top - 8, 0n);
  check(vm, { label: "push_r16", init: { rsp: top, rax: 0xabcd }, expect: { rsp: top - 2 } });
  assert.equal(vm.u64(top - 8), 0xabcdn << 48n);
  vm.setU64(top, 0x55n);
  check(vm, { label: "pop_r64", init: { rsp: top }, expect: { rbx: 0x55, rsp: top + 8 } });
  check(vm, { label: "pop_r13", init: { rsp: top }, expect: { r13: 0x55, rsp: top + 8 } });
  check(vm, { label: "pop_m64", init: { rsp: top, rdi: DATA }, expect: { rsp: top + 8 } });
  assert.equal(vm.u64(DATA), 0x55n);
  // pop [rsp]: the address uses rsp after the pop.
  vm.setU64(top + 8, 0n);
  check(vm, { label: "pop_m_rsp", init: { rsp: top }, expect: { rsp: top + 8 } });
  assert.equal(vm.u64(top + 8), 0x55n);
  vm.setU64(top, 0x1000n);
  check(vm, { label: "pop_rsp", init: { rsp: top }, expect: { rsp: 0x1000 } });
  check(vm, { label: "pushf_s", init: { rsp: top, rflags: 0x202 | CF | SF } });
  assert.equal(vm.u64(top - 8), BigInt(0x202 | CF | SF));
  vm.setU64(top, BigInt(0x3000 | 0x200 | OF | ZF | DF));
  check(vm, { label: "popf_s", init: { rsp: top, rflags: 0x202 } });
  // User mode: IOPL stays 0 and IF stays set; OF ZF DF change.
  assert.equal(hex(vm.get("rflags")), hex(0x202 | OF | ZF | DF));
  check(vm, { label: "leave_s", init: { rsp: top, rbp: 0x77 }, expect: { rsp: top, rbp: 0x77 } });
  check(vm, { label: "loop_s", init: { rcx: -1 }, expect: { rax: 5, rcx: 0 } });
  check(vm, { label: "jrcxz_s", init: { rcx: 0 }, expect: { rax: 1 } });
  check(vm, { label: "jrcxz_s", init: { rcx: 0x100000000n }, expect: { rax: 0 } });
});

// ---------------------------------------------------------------------------
// Exits and faults

Deno.test("x64 core: syscall sets rcx and r11 and stops after it", () => {
  const vm = new Vm("exits");
  const exit = vm.run("syscall_s", { rflags: 0x202 | CF, rcx: 0, r11: 0 });
  assert.equal(exit, EXIT.SYSCALL);
  const next = BigInt(vm.at("syscall_s") + 2);
  assert.equal(vm.get("rip"), next);
  assert.equal(vm.get("rcx"), next);
  assert.equal(vm.get("r11"), BigInt(0x202 | CF));
  assert.equal(vm.core.retired, 1);
});

Deno.test("x64 core: int3, ud2 and undefined encodings", () => {
  const vm = new Vm("exits");
  assert.equal(vm.run("int3_s"), EXIT.SW_BREAKPOINT);
  assert.equal(vm.get("rip"), BigInt(vm.at("int3_s") + 2)); // after the int3
  assert.equal(vm.core.retired, 2);
  for (const label of ["ud2_s", "undefined_0f04", "undefined_d6", "vex_s", "x87_s"]) {
    assert.equal(vm.run(label), EXIT.UNDEFINED_INSTRUCTION, label);
    assert.equal(vm.get("rip"), BigInt(vm.at(label)), label);
    assert.equal(vm.core.retired, 0);
  }
  assert.equal(vm.run("ud2_s"), EXIT.UNDEFINED_INSTRUCTION);
  assert.equal(vm.core.detail & 0xffff, 0x0b0f); // the raw bytes, little-endian
});

Deno.test("x64 core: privileged instructions are #GP for user code", () => {
  const vm = new Vm("exits");
  for (
    const label of [
      "hlt_s",
      "in_al_imm",
      "in_eax_dx",
      "out_imm_al",
      "out_dx_ax",
      "cli_s",
      "sti_s",
      "int80",
      "mov_cr0",
      "wrmsr_s",
    ]
  ) {
    assert.equal(vm.run(label, { rax: 1 }), EXIT.GENERAL_PROTECTION, label);
    assert.equal(vm.get("rip"), BigInt(vm.at(label)), label);
    assert.equal(vm.core.retired, 0, label);
  }
});

Deno.test("x64 core: guest mode: hlt halts, in/out exit with the access, cli/sti change IF", () => {
  const vm = new Vm("exits", "guest");
  assert.equal(vm.run("hlt_s", { rflags: 0x2 }), EXIT.HALT);
  assert.equal(vm.get("rip"), BigInt(vm.at("hlt_s") + 1));
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.get("rflags"), 0x2n, "a guest's IF is its own");

  assert.equal(vm.run("in_al_imm"), EXIT.IO);
  assert.equal(vm.get("rip"), BigInt(vm.at("in_al_imm")));
  assert.deepEqual(vm.core.io, { port: 0x60, size: 1, input: true, value: 0, instructionSize: 2 });
  assert.equal(vm.run("in_eax_dx", { rdx: 0x3f8 }), EXIT.IO);
  assert.deepEqual(vm.core.io, { port: 0x3f8, size: 4, input: true, value: 0, instructionSize: 1 });
  assert.equal(vm.run("out_imm_al", { rax: 0x1234 }), EXIT.IO);
  assert.deepEqual(vm.core.io, {
    port: 0x80,
    size: 1,
    input: false,
    value: 0x34,
    instructionSize: 2,
  });
  assert.equal(vm.run("out_dx_ax", { rax: 0x1234abcd, rdx: 0x10080 }), EXIT.IO);
  assert.deepEqual(vm.core.io, {
    port: 0x80,
    size: 2,
    input: false,
    value: 0xabcd,
    instructionSize: 2,
  });

  check(vm, { label: "cli_s", init: { rflags: 0x202 } });
  assert.equal(vm.get("rflags") & 0x200n, 0n);
  check(vm, { label: "sti_s", init: { rflags: 0x2 } });
  assert.equal(vm.get("rflags") & 0x200n, 0x200n);
});

Deno.test("x64 core: page faults are precise: rip at the instruction, registers unchanged", () => {
  const vm = new Vm("exits");
  const unmapped = 0x5000000;
  const before = (init: Values) => {
    vm.set({ rflags: 0x202 | CF, ...init });
    return [...vm.regs.gpr].filter((_v, k) => k !== 32 && k !== 33);
  };
  const cases: [string, number, number][] = [
    ["load_rbx", unmapped + 4, ACCESS.READ],
    ["store_rbx", unmapped + 8, ACCESS.WRITE],
    ["rmw_rbx", unmapped, ACCESS.WRITE],
  ];
  for (const [label, addr, access] of cases) {
    const regs = before({ rax: 7, rbx: addr });
    assert.equal(vm.run(label), EXIT.PAGE_FAULT, label);
    assert.equal(vm.core.faultAddress, BigInt(addr));
    assert.equal(vm.core.faultAccess, access);
    assert.equal(vm.get("rip"), BigInt(vm.at(label)));
    assert.equal(vm.core.retired, 0);
    assert.deepEqual([...vm.regs.gpr].filter((_v, k) => k !== 32 && k !== 33), regs, label);
  }
  // A store to a read-only page.
  vm.mem.protect(DATA, PAGE_SIZE, ACCESS.READ);
  assert.equal(vm.run("store_rbx", { rbx: DATA }), EXIT.PAGE_FAULT);
  assert.equal(vm.core.faultAccess, ACCESS.WRITE);
  // push/pop/call with rsp pointing nowhere: rsp is not changed.
  for (const label of ["push_s", "pop_s", "call_s"]) {
    assert.equal(
      vm.run(label, { rsp: unmapped + 64, rax: vm.at("int3_s") }),
      EXIT.PAGE_FAULT,
      label,
    );
    assert.equal(vm.get("rsp"), BigInt(unmapped + 64), label);
  }
  // The first instruction completes, the second faults.
  assert.equal(vm.run("fault_after", { rflags: 0x202, rax: 1, rbx: unmapped }), EXIT.PAGE_FAULT);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.get("rax"), 2n);
  assert.equal(vm.get("rip"), BigInt(vm.at("fault_after") + 4));
  assert.equal(vm.flags(), 0);
  // Fetch from a page that is readable but not executable.
  vm.set({ rip: DATA });
  vm.mem.protect(DATA, PAGE_SIZE, RW);
  assert.equal(vm.core.run(10), EXIT.PAGE_FAULT);
  assert.equal(vm.core.faultAccess, ACCESS.EXECUTE);
  assert.equal(vm.core.faultAddress, BigInt(DATA));
});

Deno.test("x64 core: non-canonical addresses are #GP, the upper half is a page fault", () => {
  const vm = new Vm("exits");
  assert.equal(vm.run("load_rbx", { rbx: 0x0000800000000000n }), EXIT.GENERAL_PROTECTION);
  assert.equal(vm.get("rip"), BigInt(vm.at("load_rbx")));
  assert.equal(vm.run("load_rbx", { rbx: 0xffff800000000010n }), EXIT.PAGE_FAULT);
  assert.equal(vm.core.faultAddress, 0xffff800000000010n);
  assert.equal(vm.core.faultAccess, ACCESS.READ);
  // A jump to a non-canonical address faults at the jump; to the upper half, at the target.
  assert.equal(
    vm.run("call_s", { rax: 0x0000800000000000n, rsp: STACK_TOP - 256 }),
    EXIT.GENERAL_PROTECTION,
  );
  assert.equal(vm.get("rip"), BigInt(vm.at("call_s")));
  assert.equal(vm.get("rsp"), BigInt(STACK_TOP - 256));
  assert.equal(
    vm.run("call_s", { rax: 0xffffffff00000000n, rsp: STACK_TOP - 256 }),
    EXIT.PAGE_FAULT,
  );
  assert.equal(vm.get("rip"), 0xffffffff00000000n);
  assert.equal(vm.core.faultAccess, ACCESS.EXECUTE);
  assert.equal(vm.get("rsp"), BigInt(STACK_TOP - 264));
  assert.equal(vm.core.retired, 1);
});

Deno.test("x64 core: an instruction longer than 15 bytes is #GP", () => {
  const vm = new Vm("exits");
  assert.equal(vm.run("len15"), EXIT.SW_BREAKPOINT);
  assert.equal(vm.run("len16"), EXIT.GENERAL_PROTECTION);
  assert.equal(vm.get("rip"), BigInt(vm.at("len16")));
});

// ---------------------------------------------------------------------------
// Budget, straddling, self-modifying code

Deno.test("x64 core: budget and retired", () => {
  const vm = new Vm("programs");
  vm.set({ rip: vm.at("sum_loop"), rdi: 10 });
  assert.equal(vm.core.run(1), EXIT.BUDGET);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.get("rip"), BigInt(vm.at("sum_loop") + 2)); // xor eax, eax done
  let steps = 1;
  for (;;) {
    const exit = vm.core.run(1);
    steps += vm.core.retired;
    if (exit !== EXIT.BUDGET) {
      assert.equal(exit, EXIT.SW_BREAKPOINT);
      break;
    }
    assert.equal(vm.core.retired, 1);
  }
  assert.equal(vm.get("rax"), 55n);
  assert.equal(steps, 1 + 3 * 10 + 1);
  vm.set({ rip: vm.at("sum_loop"), rdi: 10 });
  assert.equal(vm.core.run(7), EXIT.BUDGET);
  assert.equal(vm.core.retired, 7);
  assert.equal(vm.core.run(0), EXIT.BUDGET);
  assert.equal(vm.core.retired, 0);
  assert.equal(vm.core.run(1000), EXIT.SW_BREAKPOINT);
  assert.equal(vm.core.retired, 1 + 3 * 10 + 1 - 7);
});

Deno.test("x64 core: rflags shows bit 1 and IF once code ran", () => {
  const vm = new Vm("mov");
  vm.regs.setStart(BigInt(vm.at("nop1")), BigInt(STACK_TOP - 256), 0n, 0n);
  assert.equal(vm.get("rflags"), 0x200n);
  assert.equal(vm.core.run(1), EXIT.BUDGET);
  assert.equal(vm.get("rflags"), 0x202n);
});

Deno.test("x64 core: loads, stores and instructions that straddle two pages", () => {
  const vm = new Vm("mov");
  const edge = DATA + PAGE_SIZE - 3;
  vm.mem.load(edge, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  check(vm, { label: "ld64", init: { rdi: edge }, expect: { rax: 0x0807060504030201n } });
  check(vm, { label: "st64", init: { rdi: edge - 16, rax: 0x1122334455667788n } });
  assert.deepEqual([...vm.mem.read(edge, 8)], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
  // The second page unmapped: the fault is at its first byte and nothing is written.
  const mem2 = new Vm("mov");
  const last = DATA + 2 * PAGE_SIZE - 4;
  assert.equal(mem2.run("st64", { rdi: last - 16, rax: -1 }), EXIT.PAGE_FAULT);
  assert.equal(mem2.core.faultAddress, BigInt(DATA + 2 * PAGE_SIZE));
  assert.deepEqual([...mem2.mem.read(last, 4)], [0, 0, 0, 0]);

  // An instruction split over two executable pages (movabs: 10 bytes).
  const code = new FlatMemory();
  const regs = new X64Registers();
  const base = 0x4000000;
  code.map(base, 2 * PAGE_SIZE, RX);
  const movabs = Uint8Array.of(0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0xcc);
  code.load(base + PAGE_SIZE - 4, movabs);
  regs.setStart(BigInt(base + PAGE_SIZE - 4), 0n, 0n, 0n);
  const core = new X64Core(regs, code, "user");
  for (let k = 0; k < 2; k++) {
    regs.setStart(BigInt(base + PAGE_SIZE - 4), 0n, 0n, 0n);
    assert.equal(core.run(10), EXIT.SW_BREAKPOINT);
    assert.equal(regs.gpr[0] + regs.gpr[1] * 2 ** 32, 0x0807060504030201);
  }
  // The bytes on the second page change: the next run sees them.
  code.load(base + PAGE_SIZE, Uint8Array.of(0x11));
  regs.setStart(BigInt(base + PAGE_SIZE - 4), 0n, 0n, 0n);
  assert.equal(core.run(10), EXIT.SW_BREAKPOINT);
  assert.equal(regs.gpr[0], 0x04110201);
  // The second page not executable: a fetch fault at its first byte, rip at the instruction.
  code.protect(base + PAGE_SIZE, PAGE_SIZE, ACCESS.READ);
  regs.setStart(BigInt(base + PAGE_SIZE - 4), 0n, 0n, 0n);
  assert.equal(core.run(10), EXIT.PAGE_FAULT);
  assert.equal(core.faultAddress, BigInt(base + PAGE_SIZE));
  assert.equal(core.faultAccess, ACCESS.EXECUTE);
  assert.equal(regs.pc(), BigInt(base + PAGE_SIZE - 4));
});

Deno.test("x64 core: self-modifying code runs the new bytes", () => {
  const vm = new Vm("programs", "user", RX | ACCESS.WRITE);
  check(vm, { label: "patch_me", expect: { rax: 1 } });
  // A store into the (already decoded) page, then a jump to the patched code.
  check(vm, { label: "self_modify", init: { rbx: vm.at("patch_me") }, expect: { rax: 2 } });
  // The instruction right after the store.
  check(vm, { label: "self_modify_next", expect: { rax: 9 } });
  // A write from outside the core (as vmo_write would do).
  vm.mem.load(vm.at("patch_me") + 1, Uint8Array.of(5));
  check(vm, { label: "patch_me", expect: { rax: 5 } });
});

// ---------------------------------------------------------------------------
// Strings and SSE

Deno.test("x64 core: string instructions with and without rep", () => {
  const vm = new Vm("string");
  const src = DATA, dst = DATA + 0x100;
  const bytes = new Uint8Array(64).map((_v, k) => k + 1);
  const reset = () => {
    vm.mem.load(src, bytes);
    vm.mem.load(dst, new Uint8Array(64));
  };
  reset();
  check(vm, {
    label: "movsb_s",
    init: { rsi: src, rdi: dst },
    expect: { rsi: src + 1, rdi: dst + 1 },
  });
  check(vm, {
    label: "movsq_s",
    init: { rsi: src, rdi: dst },
    expect: { rsi: src + 8, rdi: dst + 8 },
  });
  assert.deepEqual([...vm.mem.read(dst, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const [label, size] of [["rep_movsb", 1], ["rep_movsd", 4], ["rep_movsq", 8]] as const) {
    reset();
    check(vm, {
      label,
      init: { rsi: src, rdi: dst, rcx: 40 / size },
      expect: { rcx: 0, rsi: src + 40, rdi: dst + 40 },
    });
    assert.deepEqual(vm.mem.read(dst, 40), bytes.subarray(0, 40), label);
    assert.equal(vm.mem.read(dst + 40, 1)[0], 0);
  }
  // rep with rcx = 0 does nothing.
  check(vm, {
    label: "rep_movsb",
    init: { rsi: src, rdi: dst, rcx: 0 },
    expect: { rsi: src, rdi: dst },
  });
  // Overlapping forward copy replicates, byte by byte.
  reset();
  check(vm, { label: "rep_movsb", init: { rsi: src, rdi: src + 1, rcx: 8 } });
  assert.deepEqual([...vm.mem.read(src, 10)], [1, 1, 1, 1, 1, 1, 1, 1, 1, 10]);
  reset();
  check(vm, {
    label: "rep_stosb",
    init: { rdi: dst, rcx: 5, rax: 0x1ab },
    expect: { rdi: dst + 5, rcx: 0 },
  });
  assert.deepEqual([...vm.mem.read(dst, 6)], [0xab, 0xab, 0xab, 0xab, 0xab, 0]);
  check(vm, { label: "rep_stosq", init: { rdi: dst, rcx: 2, rax: 0x0102030405060708n } });
  assert.equal(vm.u64(dst + 8), 0x0102030405060708n);
  check(vm, { label: "stosw_s", init: { rdi: dst, rax: 0xbeef }, expect: { rdi: dst + 2 } });
  check(vm, {
    label: "lodsb_s",
    init: { rsi: src, rax: -1 },
    expect: { rax: 0xffffffffffffff01n, rsi: src + 1 },
  });
  check(vm, { label: "lodsq_s", init: { rsi: src }, expect: { rax: 0x0807060504030201n } });
  // repe cmpsb stops at the first difference.
  vm.mem.load(dst, bytes.subarray(0, 10));
  vm.mem.load(dst + 5, Uint8Array.of(99));
  check(vm, {
    label: "repe_cmpsb",
    init: { rsi: src, rdi: dst, rcx: 10 },
    expect: { rcx: 4, rsi: src + 6 },
    flags: 0,
    mask: ZF,
  });
  // repne scasb finds a byte.
  check(vm, {
    label: "repne_scasb",
    init: { rdi: src, rcx: 64, rax: 7 },
    expect: { rcx: 57, rdi: src + 7 },
    flags: ZF,
    mask: ZF,
  });
  check(vm, { label: "scasd_s", init: { rdi: src, rax: 0x04030201 }, flags: ZF | PF, mask: ARITH });
  // DF = 1: backwards.
  reset();
  check(vm, {
    label: "std_rep_movsb",
    init: { rsi: src + 3, rdi: dst + 3, rcx: 4 },
    expect: { rsi: src - 1, rdi: dst - 1 },
  });
  assert.deepEqual([...vm.mem.read(dst, 4)], [1, 2, 3, 4]);
  // A segment override on the source.
  reset();
  check(vm, { label: "fs_movsb", init: { fs_base: src, rsi: 4, rdi: dst } });
  assert.equal(vm.mem.read(dst, 1)[0], 5);
});

Deno.test("x64 core: rep retires once per iteration and resumes after the budget", () => {
  const vm = new Vm("string");
  vm.mem.load(DATA, new Uint8Array(16).fill(7));
  vm.set({ rip: vm.at("rep_movsb"), rsi: DATA, rdi: DATA + 0x100, rcx: 10, rflags: 0x202 });
  assert.equal(vm.core.run(1), EXIT.BUDGET);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.get("rcx"), 9n);
  assert.equal(vm.get("rip"), BigInt(vm.at("rep_movsb")));
  assert.equal(vm.core.run(4), EXIT.BUDGET);
  assert.equal(vm.get("rcx"), 5n);
  assert.equal(vm.core.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(vm.core.retired, 6);
  assert.equal(vm.get("rcx"), 0n);
  // A fault in the middle leaves the completed iterations.
  vm.set({ rip: vm.at("rep_stosq"), rdi: DATA + 2 * PAGE_SIZE - 16, rcx: 4, rax: 1 });
  assert.equal(vm.core.run(100), EXIT.PAGE_FAULT);
  assert.equal(vm.core.retired, 2);
  assert.equal(vm.get("rcx"), 2n);
  assert.equal(vm.get("rdi"), BigInt(DATA + 2 * PAGE_SIZE));
  assert.equal(vm.get("rip"), BigInt(vm.at("rep_stosq")));
});

Deno.test("x64 core: SSE2 integer subset", () => {
  const vm = new Vm("sse");
  const b = new Uint8Array(64).map((_v, k) => k);
  const X = (lo: bigint, hi: bigint) => (hi << 64n) | lo;
  const ramp = X(0x0706050403020100n, 0x0f0e0d0c0b0a0908n);
  vm.mem.load(DATA, b);
  check(vm, { label: "movdqu_ld", init: { rdi: DATA } });
  assert.equal(hex(vm.xmm(1)), hex(ramp));
  check(vm, { label: "movdqu_st", init: { rdi: DATA } });
  assert.deepEqual(vm.mem.read(DATA + 16, 16), b.subarray(0, 16));
  vm.mem.load(DATA, b);
  check(vm, { label: "movups_ld", init: { rdi: DATA } });
  assert.equal(hex(vm.xmm(2)), hex(X(0x0807060504030201n, 0x100f0e0d0c0b0a09n)));
  check(vm, { label: "movaps_ld", init: { rdi: DATA } });
  assert.equal(
    vm.run("movaps_ld", { rdi: DATA + 8 }),
    EXIT.GENERAL_PROTECTION,
    "misaligned movaps",
  );
  check(vm, { label: "movdqa_st", init: { rdi: DATA } });
  assert.deepEqual(vm.mem.read(DATA + 32, 16), b.subarray(0, 16));
  vm.setXmm(9, 12345n);
  check(vm, { label: "movaps_rr" });
  assert.equal(vm.xmm(4), 12345n);

  const A = X(0xff00ff007f800001n, 0x8000000000000001n),
    B = X(0x01ff00017f7f00ffn, 0x7fffffffffffffffn);
  const two = (label: string, want: bigint) => {
    vm.setXmm(1, A);
    vm.setXmm(2, B);
    check(vm, { label });
    assert.equal(hex(vm.xmm(1)), hex(want), label);
  };
  two("pxor_s", A ^ B);
  two("por_s", A | B);
  two("pand_s", A & B);
  two("pandn_s", ~A & B & ((1n << 128n) - 1n));
  two("paddb_s", laneOp(A, B, 8, (x, y) => x + y));
  two("paddw_s", laneOp(A, B, 16, (x, y) => x + y));
  two("paddd_s", laneOp(A, B, 32, (x, y) => x + y));
  two("paddq_s", laneOp(A, B, 64, (x, y) => x + y));
  two("psubb_s", laneOp(A, B, 8, (x, y) => x - y));
  two("psubd_s", laneOp(A, B, 32, (x, y) => x - y));
  two("psubq_s", laneOp(A, B, 64, (x, y) => x - y));
  two("pcmpeqb_s", laneOp(A, B, 8, (x, y, m) => (x === y ? m : 0n)));
  two("pcmpeqd_s", laneOp(A, B, 32, (x, y, m) => (x === y ? m : 0n)));
  two("pcmpgtb_s", laneOp(A, B, 8, (x, y, m) => (signed(x, 8) > signed(y, 8) ? m : 0n)));
  two("pminub_s", laneOp(A, B, 8, (x, y) => (x < y ? x : y)));
  two("pmaxub_s", laneOp(A, B, 8, (x, y) => (x > y ? x : y)));
  two(
    "pshufd_s",
    X(lane(B, 32, 3) | lane(B, 32, 2) << 32n, lane(B, 32, 1) | lane(B, 32, 0) << 32n),
  );
  two("punpcklqdq_s", X(A & M64, B & M64));
  two(
    "punpckhdq_s",
    X(lane(A, 32, 2) | lane(B, 32, 2) << 32n, lane(A, 32, 3) | lane(B, 32, 3) << 32n),
  );
  let bw = 0n;
  for (let k = 0; k < 8; k++) bw |= (lane(A, 8, k) | lane(B, 8, k) << 8n) << BigInt(16 * k);
  two("punpcklbw_s", bw);
  two("xorps_s", 0n);
  vm.setXmm(1, A);
  check(vm, { label: "pmovmskb_s", init: { rax: -1 } });
  let msk = 0n;
  for (let k = 0; k < 16; k++) msk |= (lane(A, 8, k) >> 7n) << BigInt(k);
  assert.equal(vm.get("rax"), msk);
  const shift = (label: string, want: bigint) => {
    vm.setXmm(1, A);
    check(vm, { label });
    assert.equal(hex(vm.xmm(1)), hex(want), label);
  };
  shift("psrldq_s", A >> 24n);
  shift("pslldq_s", (A << 40n) & ((1n << 128n) - 1n));
  shift("pslld_s", laneOp(A, 0n, 32, (x) => x << 4n));
  shift("psraw_s", laneOp(A, 0n, 16, (x, _y, m) => BigInt.asUintN(16, signed(x, 16) >> 3n) & m));
  shift("psrlq_s", laneOp(A, 0n, 64, (x) => x >> 36n));

  check(vm, { label: "movd_to", init: { rax: 0x1122334455667788n } });
  assert.equal(vm.xmm(1), 0x55667788n);
  check(vm, { label: "movq_to", init: { rax: 0x1122334455667788n } });
  assert.equal(vm.xmm(1), 0x1122334455667788n);
  vm.setXmm(1, A);
  check(vm, { label: "movd_from", init: { rax: -1 }, expect: { rax: 0x7f800001 } });
  check(vm, { label: "movq_from", expect: { rax: 0xff00ff007f800001n } });
  vm.mem.load(DATA, b);
  vm.setXmm(1, A);
  check(vm, { label: "movd_m", init: { rdi: DATA } });
  assert.equal(vm.xmm(1), 0x03020100n);
  check(vm, { label: "movq_ld", init: { rdi: DATA } });
  assert.equal(vm.xmm(1), 0x0706050403020100n);
  check(vm, { label: "movq_st", init: { rdi: DATA } });
  assert.equal(vm.u64(DATA + 8), 0x0706050403020100n);
  vm.setXmm(1, A);
  vm.setXmm(2, B);
  check(vm, { label: "movq_rr" });
  assert.equal(vm.xmm(1), B & M64);
  vm.setXmm(1, A);
  check(vm, { label: "movsd_rr" });
  assert.equal(hex(vm.xmm(1)), hex((A & ~M64) | (B & M64)));
  check(vm, { label: "movss_ld", init: { rdi: DATA } });
  assert.equal(vm.xmm(1), 0x03020100n);
  check(vm, { label: "movsd_st", init: { rdi: DATA } });
  assert.equal(vm.u64(DATA + 8), 0x03020100n);
  vm.mem.load(DATA, b);
  vm.setXmm(1, A);
  check(vm, { label: "paddd_m", init: { rdi: DATA } });
  assert.equal(hex(vm.xmm(1)), hex(laneOp(A, ramp, 32, (x, y) => x + y)));
});

/** Lane k (of `bits`) of a 128-bit value. */
function lane(v: bigint, bits: number, k: number): bigint {
  return (v >> BigInt(bits * k)) & ((1n << BigInt(bits)) - 1n);
}

function signed(v: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, v);
}

/** f applied lane by lane, each result reduced to the lane. */
function laneOp(
  a: bigint,
  b: bigint,
  bits: number,
  f: (x: bigint, y: bigint, m: bigint) => bigint,
): bigint {
  const m = (1n << BigInt(bits)) - 1n;
  let r = 0n;
  for (let k = 0; k < 128 / bits; k++) {
    r |= (f(lane(a, bits, k), lane(b, bits, k), m) & m) << BigInt(bits * k);
  }
  return r;
}

// ---------------------------------------------------------------------------
// Whole programs

Deno.test("x64 core: a summing loop, recursive fib, memcpy with rep movsb", () => {
  const vm = new Vm("programs");
  check(vm, { label: "sum_loop", init: { rdi: 1000 }, expect: { rax: 500500, rdi: 0 } });
  assert.equal(vm.core.retired, 1 + 3 * 1000 + 1);

  const top = STACK_TOP - 256;
  assert.equal(vm.run("fib_main", { rdi: 20, rsp: top }, 10_000_000), EXIT.SYSCALL);
  assert.equal(vm.get("rax"), 6765n);
  assert.equal(vm.get("rsp"), BigInt(top));
  assert.equal(vm.get("rip"), BigInt(vm.at("fib_main") + 7));

  const text = new TextEncoder().encode(
    "the quick brown fox jumps over the lazy dog, twice or more",
  );
  vm.mem.load(DATA, text);
  // The destination straddles the two data pages.
  const dst = DATA + PAGE_SIZE - 20;
  check(vm, {
    label: "memcpy_main",
    init: { rdi: dst, rsi: DATA, rdx: text.length },
    expect: { rax: dst },
  });
  assert.deepEqual(vm.mem.read(dst, text.length), text);
});

/** Calls a function of compiled.c with SysV arguments; returns rax. */
function call(vm: Vm, fn: string, args: (bigint | number)[], budget = 50_000_000): bigint {
  const ret = DATA + 2 * PAGE_SIZE - 1; // an int3 at the end of the data pages
  vm.mem.load(ret, Uint8Array.of(0xcc));
  vm.mem.protect(DATA + PAGE_SIZE, PAGE_SIZE, RW | ACCESS.EXECUTE);
  const sp = STACK_TOP - 4096;
  vm.setU64(sp, BigInt(ret));
  const names = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];
  const init: Values = { rsp: sp, rflags: 0x202 };
  args.forEach((a, k) => (init[names[k]] = a));
  const exit = vm.run(fn, init, budget);
  assert.equal(exit, EXIT.SW_BREAKPOINT, `${fn}: exit ${exit} at ${hex(vm.get("rip"))}`);
  assert.equal(vm.get("rip"), BigInt(ret + 1));
  assert.equal(vm.get("rsp"), BigInt(sp + 8), `${fn} balanced the stack`);
  return vm.get("rax");
}

Deno.test("x64 core: clang -O2 output runs (sieve, fib, memcpy, sort, 128-bit multiply, ...)", () => {
  const vm = new Vm("compiled");
  const buf = 0x5000000;
  vm.mem.map(buf, 64 * PAGE_SIZE, RW);
  assert.equal(call(vm, "sieve", [buf, 100_000]), 9592n);
  assert.equal(call(vm, "fib", [20]), 6765n);
  assert.equal(call(vm, "collatz", [27]), 111n);
  assert.equal(call(vm, "mulhi", [-1, -1]), M64 - 1n);
  assert.equal(call(vm, "divmod", [-1000003, 1000]), BigInt.asUintN(64, -1000n * 1000n - 3n));
  assert.equal(call(vm, "divmod", [1n << 40n, 3]), ((1n << 40n) / 3n) * 1000n + 1n);
  assert.equal(call(vm, "udivmod", [1000003, 1000]), 1000003n);
  assert.equal(call(vm, "classify", [3]), 44n);
  assert.equal(call(vm, "classify", [9]), 0xffffffffn);
  assert.equal(call(vm, "popcount_loop", [0xf0f0n << 40n]), 8n);

  // memcpy/memset of many sizes and alignments against a reference.
  const src = new Uint8Array(3000).map((_v, k) => (k * 7 + 3) & 0xff);
  vm.mem.load(buf, src);
  for (
    const [len, so, dof] of [[0, 0, 0], [1, 3, 5], [7, 1, 0], [33, 0, 16], [100, 5, 3], [
      1000,
      0,
      0,
    ], [2999, 1, 7]]
  ) {
    vm.mem.load(buf + 0x10000, new Uint8Array(3100));
    assert.equal(
      call(vm, "memcpy", [buf + 0x10000 + dof, buf + so, len]),
      BigInt(buf + 0x10000 + dof),
    );
    assert.deepEqual(
      vm.mem.read(buf + 0x10000 + dof, len),
      src.subarray(so, so + len),
      `memcpy ${len}`,
    );
    assert.equal(vm.mem.read(buf + 0x10000 + dof + len, 1)[0], 0);
    call(vm, "memset", [buf + 0x20000 + so, 0x5a, len]);
    assert.ok(vm.mem.read(buf + 0x20000 + so, len).every((x) => x === 0x5a));
  }
  const text = new TextEncoder().encode("hello, zircon\0");
  vm.mem.load(buf, text);
  assert.equal(call(vm, "strlen", [buf]), 13n);
  let h = 5381n;
  for (const c of text.subarray(0, 13)) h = BigInt.asUintN(64, h * 33n) ^ BigInt(c);
  assert.equal(call(vm, "hash", [buf]), h);
  assert.equal(call(vm, "count_byte", [buf, 13, "l".charCodeAt(0)]), 2n);

  const ints = new Int32Array(1000).map((_v, k) => k * 3 - 500);
  vm.mem.load(buf, new Uint8Array(ints.buffer));
  assert.equal(call(vm, "sum", [buf, 1000]), BigInt(ints.reduce((a, v) => a + v, 0)));

  const longs = new BigInt64Array(200).map((_v, k) => BigInt((k * 7919) % 1000) - 500n);
  vm.mem.load(buf, new Uint8Array(longs.buffer));
  call(vm, "insertion_sort", [buf, 200]);
  const sorted = [...longs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.deepEqual([...new BigInt64Array(vm.mem.read(buf, 1600).buffer)], sorted);

  const big = new BigInt64Array(9).map((_v, k) => BigInt(k + 1));
  vm.mem.load(buf + 0x1000, new Uint8Array(big.buffer));
  assert.equal(call(vm, "struct_copy", [buf + 0x2000, buf + 0x1000]), 46n);
});

Deno.test("x64 core: created through the x64 Arch", () => {
  const regs = x64.newRegisters();
  const mem = new FlatMemory();
  mem.map(CODE, PAGE_SIZE, RX);
  mem.load(CODE, Uint8Array.of(0x48, 0xc7, 0xc0, 42, 0, 0, 0, 0xcc)); // mov rax, 42; int3
  regs.setStart(BigInt(CODE), 0n, 0n, 0n);
  const core = x64.createCore(regs, mem, "user");
  assert.equal(core.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(core.retired, 2);
  assert.equal(regs.syscallResult(), 42);
});

Deno.test("x64 core: the benchmark's code is the fixture's", () => {
  const { bin, sym } = fixture("programs");
  for (const [label, code] of Object.entries(BENCH_PROGRAMS)) {
    const at = sym.get(label)!;
    assert.deepEqual(bin.subarray(at, at + code.length), code, label);
  }
});
