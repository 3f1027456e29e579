// Speed of guest code (a VCPU's core, arch/vcpu.ts) against the same loops
// run as a user thread: the x64 guest's fetches and data accesses go through
// its own 4-level page walk (identity page tables at guest-physical 0, 2 MiB
// pages, as a VMM sets them up), cached in the core's TLBs; the arm64
// guest's MMU is off. Each run is a fixed budget of instructions in slices
// of 10,000 (as the kernel's Runner gives them), the loops never ending.
//   deno task bench                  (time per 500,000 instructions)
//   deno run bench/guest.bench.ts    (millions of instructions per second, user vs guest)

import { arm64, Arm64Registers } from "../arch/arm64/arm64.ts";
import { Arm64Core } from "../arch/arm64/cpu/core.ts";
import { ACCESS, EXIT } from "../arch/cpu.ts";
import type { GuestCpu } from "../arch/vcpu.ts";
import { X64Core } from "../arch/x64/cpu/core.ts";
import { x64, X64Registers } from "../arch/x64/x64.ts";
import { identityPageTables } from "../client/guest.ts";
import { FlatMemory } from "../tests/flat_memory.ts";
import benchImage from "../tests/fixtures/cpu-arm64/bench.json" with { type: "json" };
import { BENCH_PROGRAMS } from "./cpu_x64.bench.ts";

const BUDGET = 500_000;
const SLICE = 10_000;
const RWX = ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE;
/** More iterations than any run takes: the loops never end. */
const FOREVER = 0x7fff_ffff;

interface Runner {
  run(budget: number): number;
  readonly retired: number;
}

/** Runs `budget` instructions in slices; throws if the loop stopped. */
function spin(core: Runner, budget = BUDGET): number {
  let total = 0;
  while (total < budget) {
    const exit = core.run(Math.min(SLICE, budget - total));
    total += core.retired;
    if (exit !== EXIT.BUDGET) throw new Error(`the loop stopped: exit ${exit}`);
  }
  return total;
}

/** zx_vcpu_state_t with some registers set, by field name. */
function vcpuState(cpu: GuestCpu, size: number, values: Record<string, number>): void {
  const bytes = new Uint8Array(size);
  cpu.readState(bytes);
  const view = new DataView(bytes.buffer);
  const fields = (size === x64.vcpu.stateLayout.size ? x64 : arm64).vcpu.stateLayout.fields;
  for (const [name, value] of Object.entries(values)) {
    const field = fields.find((f) => f.path === name)!;
    view.setBigUint64(field.offset, BigInt(value), true);
  }
  cpu.writeState(bytes);
}

// --- x64 ----------------------------------------------------------------------

const X64_CODE = 0x100000, X64_DATA = 0x200000;

function x64User(code: Uint8Array, rdi: number) {
  const mem = new FlatMemory();
  mem.map(X64_CODE, 4096, ACCESS.READ | ACCESS.EXECUTE);
  mem.load(X64_CODE, code);
  mem.map(X64_DATA, 4096);
  const regs = new X64Registers();
  regs.setStart(BigInt(X64_CODE), 0n, 0n, 0n);
  const g = regs.gpr;
  g[4] = FOREVER; // rcx
  g[10] = rdi; // rdi
  return new X64Core(regs, mem, "user");
}

function x64Guest(code: Uint8Array, rdi: number): GuestCpu {
  const mem = new FlatMemory();
  mem.map(0, 4 << 20, RWX);
  mem.load(0, identityPageTables()); // the first GiB in 2 MiB pages, as a VMM sets them up
  mem.load(X64_CODE, code);
  const cpu = x64.vcpu.createGuestCpu(mem, BigInt(X64_CODE), 1);
  vcpuState(cpu, x64.vcpu.stateLayout.size, { rcx: FOREVER, rdi });
  return cpu;
}

// --- arm64 --------------------------------------------------------------------

const A64_CODE = 0x80000, A64_DATA = 0x400000;
const image = Uint8Array.from(benchImage.hex.match(/../g)!, (h) => parseInt(h, 16));
const symbol = (label: string) => parseInt((benchImage.sym as Record<string, string>)[label], 16);

function arm64User(label: string, x0: number, x1: number) {
  const mem = new FlatMemory();
  mem.map(A64_CODE, image.length, ACCESS.READ | ACCESS.EXECUTE);
  mem.load(A64_CODE, image);
  mem.map(A64_DATA, 1 << 20);
  const regs = new Arm64Registers();
  regs.setStart(BigInt(A64_CODE + symbol(label)), 0n, 0n, 0n);
  const view = new DataView(regs.gpr.buffer);
  view.setBigUint64(0, BigInt(x0), true);
  view.setBigUint64(8, BigInt(x1), true);
  return new Arm64Core(regs, mem, "user");
}

function arm64Guest(label: string, x0: number, x1: number): GuestCpu {
  const mem = new FlatMemory();
  mem.map(0, 8 << 20, RWX);
  mem.load(A64_CODE, image);
  const cpu = arm64.vcpu.createGuestCpu(mem, BigInt(A64_CODE + symbol(label)), 1);
  vcpuState(cpu, arm64.vcpu.stateLayout.size, { "x[0]": x0, "x[1]": x1 });
  return cpu;
}

const cases: Array<[string, Runner, Runner]> = [
  [
    "x64 ALU loop (add/xor/sub/dec/jnz)",
    x64User(BENCH_PROGRAMS.alu_loop, X64_DATA),
    x64Guest(BENCH_PROGRAMS.alu_loop, X64_DATA),
  ],
  [
    "x64 load/store loop (mov/add/mov/dec/jnz)",
    x64User(BENCH_PROGRAMS.ldst_loop, X64_DATA),
    x64Guest(BENCH_PROGRAMS.ldst_loop, X64_DATA),
  ],
  [
    "arm64 ALU loop (add/eor/subs/b.ne)",
    arm64User("alu_loop", 0, FOREVER),
    arm64Guest("alu_loop", 0, FOREVER),
  ],
  [
    "arm64 load/store loop (ldr/str/subs/b.ne)",
    arm64User("ls_loop", A64_DATA, FOREVER),
    arm64Guest("ls_loop", A64_DATA, FOREVER),
  ],
];

for (const [name, user, guest] of cases) {
  Deno.bench(
    `${name}, user thread, ${BUDGET} instructions`,
    { group: name, baseline: true },
    () => {
      spin(user);
    },
  );
  Deno.bench(`${name}, guest (VCPU), ${BUDGET} instructions`, { group: name }, () => {
    spin(guest);
  });
}

if (import.meta.main) {
  const mips = (core: Runner) => {
    spin(core); // warm up
    const t0 = performance.now();
    const n = spin(core, 10 * BUDGET);
    return n / (performance.now() - t0) / 1000;
  };
  for (let round = 0; round < 3; round++) {
    for (const [name, user, guest] of cases) {
      const u = mips(user), g = mips(guest);
      console.log(
        `${name.padEnd(44)} user ${u.toFixed(1).padStart(6)} M/s   guest ${
          g.toFixed(1).padStart(6)
        } M/s   guest/user ${(g / u).toFixed(2)}`,
      );
    }
  }
}
