// Speed of the x86-64 interpreter core on three small programs from
// tests/fixtures/cpu-x64/programs.s (their bytes are copied below so that
// `deno task bench` needs no read permission; cpu_x64.test.ts checks they
// still match the fixture).
//   deno task bench                     (time per iteration)
//   deno run bench/cpu_x64.bench.ts     (millions of instructions per second)

import { ACCESS, EXIT } from "../arch/cpu.ts";
import { ZX_THREAD_STATE } from "../arch/layout.ts";
import { X64Core } from "../arch/x64/cpu/core.ts";
import { X64Registers } from "../arch/x64/x64.ts";
import { FlatMemory } from "../tests/flat_memory.ts";

/** Labelled code of programs.s, and the registers each loop starts with. */
export const BENCH_PROGRAMS = {
  /** add rax, rbx; xor rbx, rax; sub rdx, 3; dec rcx; jnz: rcx iterations. */
  alu_loop: Uint8Array.of(
    0x48,
    0x01,
    0xd8,
    0x48,
    0x31,
    0xc3,
    0x48,
    0x83,
    0xea,
    0x03,
    0x48,
    0xff,
    0xc9,
    0x75,
    0xf1,
    0xcc,
  ),
  /** mov rax, [rdi]; add rax, rcx; mov [rdi + 8], rax; dec rcx; jnz: rcx iterations. */
  ldst_loop: Uint8Array.of(
    0x48,
    0x8b,
    0x07,
    0x48,
    0x01,
    0xc8,
    0x48,
    0x89,
    0x47,
    0x08,
    0x48,
    0xff,
    0xc9,
    0x75,
    0xf1,
    0xcc,
  ),
  /** call fib(rdi), recursive with a frame per call; then syscall. */
  fib_main: Uint8Array.of(
    0xe8,
    0x02,
    0x00,
    0x00,
    0x00,
    0x0f,
    0x05,
    0x55,
    0x48,
    0x89,
    0xe5,
    0x53,
    0x48,
    0x83,
    0xec,
    0x08,
    0x48,
    0x89,
    0x7d,
    0xf0,
    0x48,
    0x83,
    0xff,
    0x02,
    0x72,
    0x1e,
    0x48,
    0x8d,
    0x7f,
    0xff,
    0xe8,
    0xe4,
    0xff,
    0xff,
    0xff,
    0x48,
    0x89,
    0xc3,
    0x48,
    0x8b,
    0x7d,
    0xf0,
    0x48,
    0x83,
    0xef,
    0x02,
    0xe8,
    0xd4,
    0xff,
    0xff,
    0xff,
    0x48,
    0x01,
    0xd8,
    0xeb,
    0x03,
    0x48,
    0x89,
    0xf8,
    0x48,
    0x83,
    0xc4,
    0x08,
    0x5b,
    0x5d,
    0xc3,
  ),
};

const CODE = 0x1000000, DATA = 0x2000000, STACK_TOP = 0x3000000;
// u32 indices of the registers in X64Registers.gpr.
const RAX = 0, RBX = 2, RCX = 4, RDX = 6, RDI = 10;

/** A core with `code` at CODE, a data page and a stack. */
function machine(code: Uint8Array) {
  const mem = new FlatMemory();
  mem.map(CODE, code.length, ACCESS.READ | ACCESS.EXECUTE);
  mem.load(CODE, code);
  mem.map(DATA, 4096);
  mem.map(STACK_TOP - 0x10000, 0x10000);
  const regs = new X64Registers();
  const core = new X64Core(regs, mem, "user");
  return { regs, core };
}

/** Runs one program to its end in slices of `slice` instructions; returns the count. */
function runProgram(
  m: ReturnType<typeof machine>,
  init: (g: Uint32Array) => void,
  slice: number,
): number {
  m.regs.setStart(BigInt(CODE), BigInt(STACK_TOP - 64), 0n, 0n);
  init(m.regs.gpr);
  let total = 0;
  for (;;) {
    const exit = m.core.run(slice);
    total += m.core.retired;
    if (exit !== EXIT.BUDGET) return total;
  }
}

const ITERATIONS = 100_000;
const alu = machine(BENCH_PROGRAMS.alu_loop);
const ldst = machine(BENCH_PROGRAMS.ldst_loop);
const fib = machine(BENCH_PROGRAMS.fib_main);
// The same loop with a data breakpoint armed on the stack (never hit): the
// core's debug loop, one instruction at a time, every access checked.
const ldstDebug = machine(BENCH_PROGRAMS.ldst_loop);
{
  const dbg = new Uint8Array(48), v = new DataView(dbg.buffer);
  v.setBigUint64(0, BigInt(STACK_TOP - 8), true);
  v.setBigUint64(40, 0xd0001n, true); // L0, R/W0 = write, LEN0 = 4 bytes
  const ok = ldstDebug.regs.write("zx", ZX_THREAD_STATE.DEBUG_REGS, dbg, {
    stoppedInSyscall: false,
  });
  if (ok !== 0) throw new Error("debug regs refused");
}
const cases = [
  {
    name: `alu loop (add/xor/sub/dec/jnz), ${5 * ITERATIONS} instructions`,
    m: alu,
    init: (g: Uint32Array) => {
      g[RCX] = ITERATIONS;
      g[RAX] = 1;
      g[RBX] = 2;
      g[RDX] = 3;
    },
  },
  {
    name: `load/store loop (mov/add/mov/dec/jnz), ${5 * ITERATIONS} instructions`,
    m: ldst,
    init: (g: Uint32Array) => {
      g[RCX] = ITERATIONS;
      g[RDI] = DATA;
    },
  },
  {
    name: `load/store loop, a data breakpoint armed elsewhere, ${5 * ITERATIONS} instructions`,
    m: ldstDebug,
    init: (g: Uint32Array) => {
      g[RCX] = ITERATIONS;
      g[RDI] = DATA;
    },
  },
  {
    name: "recursive fib(20) (call/ret/push/pop/memory), 339309 instructions",
    m: fib,
    init: (g: Uint32Array) => {
      g[RDI] = 20;
    },
  },
];

for (const c of cases) {
  Deno.bench(c.name, () => {
    runProgram(c.m, c.init, 1_000_000);
  });
  // Time slices as a scheduler would run them.
  Deno.bench(`${c.name}, run(10000) slices`, () => {
    runProgram(c.m, c.init, 10_000);
  });
}

if (import.meta.main) {
  for (let round = 0; round < 5; round++) {
    const line = cases.map((c) => {
      const t0 = performance.now();
      let n = 0;
      for (let k = 0; k < 10; k++) n += runProgram(c.m, c.init, 10_000);
      const mips = n / (performance.now() - t0) / 1000;
      return `${c.name.split(" (")[0]}: ${mips.toFixed(1)}M/s`;
    });
    console.log(line.join("   "));
  }
}
