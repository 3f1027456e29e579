// Throughput of the AArch64 interpreter core on real machine code (the
// loops of tests/fixtures/cpu-arm64/bench.s and clang -O2 output of
// cprog.c, imported as JSON so `deno task bench` needs no read permission).
//
// Each bench runs a fixed number of instructions, given in its name:
// instructions per second = that count / the reported time per iteration.

import { Arm64Registers } from "../arch/arm64/arm64.ts";
import { Arm64Core } from "../arch/arm64/cpu/core.ts";
import { ARM64_DEBUG_REGS } from "../arch/arm64/regsets.ts";
import { ACCESS, type AddressSpace, EXIT, Page, PAGE_SIZE } from "../arch/cpu.ts";
import { ZX_THREAD_STATE } from "../arch/layout.ts";
import benchImage from "../tests/fixtures/cpu-arm64/bench.json" with { type: "json" };
import cprogImage from "../tests/fixtures/cpu-arm64/cprog.json" with { type: "json" };

interface Image {
  hex: string;
  sym: Record<string, string>;
}

/** A flat address space: a Map of pages with permissions (as tests/flat_memory.ts). */
class Memory implements AddressSpace {
  generation = 0;
  readonly #pages = new Map<number, { page: Page; perms: number }>();

  map(va: number, size: number, perms: number): void {
    for (let at = va; at < va + size; at += PAGE_SIZE) {
      this.#pages.set(at / PAGE_SIZE, { page: new Page(), perms });
    }
    this.generation++;
  }

  page(va: number, access: number): Page | null {
    const e = this.#pages.get(Math.floor(va / PAGE_SIZE));
    return e !== undefined && (e.perms & access) === access ? e.page : null;
  }

  load(va: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      this.page(va + i, 0)!.bytes[(va + i) % PAGE_SIZE] = bytes[i];
    }
  }
}

const CODE = 0x7f00_0000_0000;
const DATA = 0x7f00_1000_0000;
const STACK_TOP = 0x7f00_2000_0000;
const RET = 0x7f00_3000_0000;

/** A core with `image` loaded at CODE, 1 MiB of data, a stack, and `brk` at RET. */
function machine(image: Image) {
  const mem = new Memory();
  const bytes = Uint8Array.from(image.hex.match(/../g)!, (h) => parseInt(h, 16));
  mem.map(CODE, Math.ceil(bytes.length / PAGE_SIZE) * PAGE_SIZE, ACCESS.READ | ACCESS.EXECUTE);
  mem.load(CODE, bytes);
  mem.map(DATA, 1 << 20, ACCESS.READ | ACCESS.WRITE);
  mem.map(STACK_TOP - (1 << 20), 1 << 20, ACCESS.READ | ACCESS.WRITE);
  mem.map(RET, PAGE_SIZE, ACCESS.READ | ACCESS.EXECUTE);
  mem.load(RET, new Uint8Array([0x00, 0x00, 0x20, 0xd4])); // brk #0
  const regs = new Arm64Registers();
  const core = new Arm64Core(regs, mem, "user");
  const view = new DataView(regs.gpr.buffer, 0, 280);
  /** Calls `label` with x0..; runs to the final brk; returns the instructions retired. */
  const call = (label: string, ...args: number[]): number => {
    regs.setStart(BigInt(CODE + parseInt(image.sym[label], 16)), BigInt(STACK_TOP), 0n, 0n);
    args.forEach((a, i) => view.setBigUint64(8 * i, BigInt(a), true));
    view.setBigUint64(8 * 30, BigInt(RET), true);
    let total = 0, exit: number;
    do {
      exit = core.run(10_000_000);
      total += core.retired;
    } while (exit === EXIT.BUDGET);
    if (exit !== EXIT.SW_BREAKPOINT) throw new Error(`${label}: exit ${exit}`);
    return total;
  };
  return { call, mem, regs };
}

const loops = machine(benchImage);
const c = machine(cprogImage);
// The loops again with a watchpoint armed on the stack (never hit): the
// core's debug loop, one instruction at a time, every access checked.
const watched = machine(benchImage);
{
  const dbg = new Uint8Array(ARM64_DEBUG_REGS.size), v = new DataView(dbg.buffer);
  const wp = ARM64_DEBUG_REGS.offsetOf("hw_wps[0].dbgwcr");
  v.setUint32(wp, 1 | (2 << 3) | (0xff << 5), true); // E, stores, 8 bytes
  v.setBigUint64(wp + 8, BigInt(STACK_TOP - 8), true);
  const ok = watched.regs.write("zx", ZX_THREAD_STATE.DEBUG_REGS, dbg, {
    stoppedInSyscall: false,
  });
  if (ok !== 0) throw new Error("debug regs refused");
}

// Instruction counts per call (checked once, so the names stay true).
const COUNTS: Record<string, [() => number, number]> = {
  "ALU loop: add, eor, add #imm, subs, b.ne": [() => loops.call("alu_loop", 0, 200_000), 1_000_000],
  "load/store loop: ldr, str (x and w) + add, subs, b.ne": [
    () => loops.call("ls_loop", DATA, 125_000),
    1_000_000,
  ],
  "load/store loop, a watchpoint armed elsewhere (debug loop)": [
    () => watched.call("ls_loop", DATA, 125_000),
    1_000_000,
  ],
  "copy loop: ldp/stp post-index, ldrb/strb": [
    () => loops.call("copy_loop", DATA, DATA + 0x80000, 16_384),
    98_304,
  ],
  "recursive fib(20): bl, ret, stp/ldp on sp": [() => loops.call("fib_entry", 20), 0],
  "clang -O2 sieve(10000)": [() => c.call("sieve", DATA, 10_000), 0],
  "clang -O2 memcpy 64 KiB (SIMD ldp/stp q)": [
    () => c.call("memcpy", DATA, DATA + 0x80000, 65536),
    0,
  ],
};

for (const [name, [run, expected]] of Object.entries(COUNTS)) {
  const n = run();
  if (expected !== 0 && n !== expected + 1 && n !== expected) {
    throw new Error(`${name}: ${n} instructions, expected ${expected}`);
  }
  Deno.bench(`arm64 core: ${name} (${n.toLocaleString("en-US")} instructions)`, () => {
    run();
  });
}
