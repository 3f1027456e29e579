// What the x64 core tests share: the committed fixtures (bytes and labels)
// and a thread of one fixture with its registers by name. The register names
// are listed here, not taken from the layout, so the layout is checked too.

import { ACCESS, type CoreMode, PAGE_SIZE } from "../arch/cpu.ts";
import { X64Core } from "../arch/x64/cpu/core.ts";
import { X64Registers } from "../arch/x64/x64.ts";
import { FlatMemory } from "./flat_memory.ts";

/** Where the tests put things (compiled.c is linked at CODE). */
export const CODE = 0x1000000, DATA = 0x2000000, STACK_TOP = 0x3000000;
export const RX = ACCESS.READ | ACCESS.EXECUTE, RW = ACCESS.READ | ACCESS.WRITE;

/** zx_x86_64_thread_state_general_regs_t's registers, in order. */
export const SLOTS = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rbp",
  "rsp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
  "fs_base",
  "gs_base",
];

export interface Fixture {
  bin: Uint8Array;
  sym: Map<string, number>;
}

const fixtures = new Map<string, Fixture>();

/** tests/fixtures/cpu-x64/<name>.bin and its labels (<name>.sym), read once. */
export function fixture(name: string): Fixture {
  let f = fixtures.get(name);
  if (f === undefined) {
    const dir = new URL("./fixtures/cpu-x64/", import.meta.url);
    const bin = Deno.readFileSync(new URL(`${name}.bin`, dir));
    const sym = new Map<string, number>();
    for (const line of Deno.readTextFileSync(new URL(`${name}.sym`, dir)).split("\n")) {
      const [label, hex] = line.split(" ");
      if (label) sym.set(label, parseInt(hex, 16));
    }
    f = { bin, sym };
    fixtures.set(name, f);
  }
  return f;
}

export type Values = Record<string, bigint | number>;

/** A thread of one fixture: code at CODE, two data pages at DATA, a stack below STACK_TOP. */
export class X64Rig {
  readonly regs = new X64Registers();
  readonly mem = new FlatMemory();
  readonly core: X64Core;
  readonly fx: Fixture;

  constructor(name: string, mode: CoreMode = "user", codePerms: number = RX) {
    this.fx = fixture(name);
    this.mem.map(CODE, this.fx.bin.length, codePerms);
    this.mem.load(CODE, this.fx.bin);
    this.mem.map(DATA, 2 * PAGE_SIZE, RW);
    this.mem.map(STACK_TOP - 4 * PAGE_SIZE, 4 * PAGE_SIZE, RW);
    this.regs.setStart(BigInt(CODE), BigInt(STACK_TOP - 256), 0n, 0n);
    this.core = new X64Core(this.regs, this.mem, mode);
  }

  at(label: string, plus = 0): number {
    const off = this.fx.sym.get(label);
    if (off === undefined) throw new Error(`no label ${label}`);
    return CODE + off + plus;
  }

  set(values: Values): void {
    for (const [name, v] of Object.entries(values)) {
      const slot = SLOTS.indexOf(name);
      if (slot < 0) throw new Error(`no register ${name}`);
      const u = BigInt.asUintN(64, BigInt(v));
      this.regs.gpr[2 * slot] = Number(u & 0xffffffffn);
      this.regs.gpr[2 * slot + 1] = Number(u >> 32n);
    }
  }

  get(name: string): bigint {
    const slot = SLOTS.indexOf(name);
    return BigInt(this.regs.gpr[2 * slot]) | (BigInt(this.regs.gpr[2 * slot + 1]) << 32n);
  }

  u64(va: number): bigint {
    return new DataView(this.mem.read(va, 8).buffer).getBigUint64(0, true);
  }

  setU64(va: number, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.mem.load(va, b);
  }
}
