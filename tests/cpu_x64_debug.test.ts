// The x86-64 core's debug exceptions (EXIT.HW_BREAKPOINT): single step (TF),
// instruction breakpoints and data breakpoints (dr0-3, dr7), set up through
// the thread's write rules (ZX_THREAD_STATE_SINGLE_STEP / DEBUG_REGS) and
// run on tests/fixtures/cpu-x64/debug.s (assembled by build.sh there).

import assert from "node:assert/strict";
import { ACCESS, EXIT } from "../arch/cpu.ts";
import { ZX_THREAD_STATE } from "../arch/layout.ts";
import { DR6_BS, HW_BREAKPOINT, HW_STEP, HW_WATCHPOINT } from "../arch/x64/cpu/core.ts";
import { x64, X64Registers } from "../arch/x64/x64.ts";
import { FlatMemory } from "./flat_memory.ts";
import { CODE, DATA, fixture, RX, STACK_TOP, X64Rig } from "./cpu_x64_rig.ts";

/** DR6 with no event: the reserved bits read as ones. */
const DR6_RESET = 0xffff0ff0;
const TF = 0x100;

/** One data breakpoint / instruction breakpoint: dr7's R/W (0 exec, 1 write, 3 r/w) and LEN (bytes). */
interface Bp {
  va: number;
  rw?: 0 | 1 | 2 | 3;
  len?: 1 | 2 | 4 | 8;
}

const LEN_CODE: Record<number, number> = { 1: 0, 2: 1, 8: 2, 4: 3 };

/** A thread of debug.s, set up through the thread's write rules. */
class Vm extends X64Rig {
  constructor() {
    super("debug");
  }

  get rip(): number {
    return Number(this.get("rip"));
  }

  /** ZX_THREAD_STATE_SINGLE_STEP, through the write rules. */
  step(on: boolean): void {
    const b = new Uint8Array(4);
    b[0] = on ? 1 : 0;
    assert.equal(this.regs.write("zx", ZX_THREAD_STATE.SINGLE_STEP, b, NOT_IN_SYSCALL), 0);
  }

  /** ZX_THREAD_STATE_DEBUG_REGS with these breakpoints in dr0.. (L bits set), through the write rules. */
  debug(bps: Bp[], extraDr7 = 0): void {
    const b = new Uint8Array(48);
    const v = new DataView(b.buffer);
    let dr7 = extraDr7;
    bps.forEach((bp, i) => {
      v.setBigUint64(8 * i, BigInt(bp.va), true);
      dr7 |= (1 << (2 * i)) | ((bp.rw ?? 0) << (16 + 4 * i)) |
        (LEN_CODE[bp.len ?? 1] << (18 + 4 * i));
    });
    v.setBigUint64(40, BigInt(dr7 >>> 0), true);
    assert.equal(this.regs.write("zx", ZX_THREAD_STATE.DEBUG_REGS, b, NOT_IN_SYSCALL), 0);
  }

  /** dr6 as ZX_THREAD_STATE_DEBUG_REGS reads it. */
  dr6(): number {
    const b = new Uint8Array(48);
    assert.equal(this.regs.read("zx", ZX_THREAD_STATE.DEBUG_REGS, b), 0);
    return Number(new DataView(b.buffer).getBigUint64(32, true));
  }

  run(budget = 1000): number {
    return this.core.run(budget);
  }

  from(label: string, init: Record<string, number | bigint> = {}, budget = 1000): number {
    this.set({ rip: this.at(label), ...init });
    return this.core.run(budget);
  }
}

const NOT_IN_SYSCALL = { stoppedInSyscall: false };

Deno.test("x64 debug: single step through four instructions (TF stays set, DR6.BS)", () => {
  const vm = new Vm();
  vm.set({ rip: vm.at("step_seq") });
  vm.step(true);
  const after = [5, 9, 13, 14]; // offsets of the next instruction after each step
  const rax = [1n, 3n, 3n, 3n];
  for (let k = 0; k < 4; k++) {
    assert.equal(vm.run(), EXIT.HW_BREAKPOINT, `step ${k}`);
    assert.equal(vm.core.retired, 1);
    assert.equal(vm.core.detail, HW_STEP);
    assert.equal(vm.rip, vm.at("step_seq", after[k]));
    assert.equal(vm.get("rax"), rax[k]);
    assert.equal(vm.dr6(), (DR6_RESET | DR6_BS) >>> 0);
    assert.notEqual(Number(vm.get("rflags")) & TF, 0, "TF stays set");
  }
  assert.equal(vm.get("rbx"), 7n);
  // int3 reports itself, not a step; rip after it.
  assert.equal(vm.run(), EXIT.SW_BREAKPOINT);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.rip, vm.at("step_seq", 15));
  // Budget 1 with TF: the instruction and its trap.
  vm.set({ rip: vm.at("step_seq") });
  assert.equal(vm.run(1), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.retired, 1);
  // Budget 0: nothing.
  assert.equal(vm.run(0), EXIT.BUDGET);
  assert.equal(vm.core.retired, 0);
  assert.equal(vm.rip, vm.at("step_seq", 5));
  // TF cleared: straight to the int3.
  vm.step(false);
  assert.equal(vm.run(), EXIT.SW_BREAKPOINT);
  assert.equal(vm.core.retired, 4);
});

Deno.test("x64 debug: a fault while stepping is the fault; the step follows the retry", () => {
  const vm = new Vm();
  vm.step(true);
  assert.equal(vm.from("fault_seq", { rbx: 0x5000000 }), EXIT.HW_BREAKPOINT);
  assert.equal(vm.run(), EXIT.PAGE_FAULT);
  assert.equal(vm.core.retired, 0);
  assert.equal(vm.rip, vm.at("fault_seq", 1));
  vm.set({ rbx: DATA });
  assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
  assert.equal(vm.rip, vm.at("fault_seq", 4));
});

Deno.test("x64 debug: stepping over syscall: the next trap follows the instruction after it", () => {
  const vm = new Vm();
  vm.step(true);
  assert.equal(vm.from("sys_seq"), EXIT.SYSCALL);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.rip, vm.at("sys_seq", 2));
  assert.equal(Number(vm.get("r11")) & TF, TF, "r11 holds rflags with TF");
  assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.get("rax"), 7n);
  assert.equal(vm.rip, vm.at("sys_seq", 7));
});

Deno.test("x64 debug: popf setting TF traps after the instruction after it", () => {
  const vm = new Vm();
  assert.equal(vm.from("popf_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.retired, 4);
  assert.equal(vm.core.detail, HW_STEP);
  assert.equal(vm.get("rax"), 1n);
  assert.equal(vm.rip, vm.at("popf_seq", 0x0f)); // the second mov
  const b = new Uint8Array(4);
  vm.regs.read("zx", ZX_THREAD_STATE.SINGLE_STEP, b);
  assert.equal(b[0], 1);
});

Deno.test("x64 debug: execute breakpoint is a fault before the instruction; RF on resume", () => {
  const vm = new Vm();
  const lea = vm.at("step_seq", 9);
  vm.debug([{ va: lea }]);
  assert.equal(vm.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.detail, HW_BREAKPOINT);
  assert.equal(vm.core.retired, 2);
  assert.equal(vm.rip, lea);
  assert.equal(vm.get("rbx"), 0n, "the lea has not run");
  assert.equal(vm.dr6(), 0xffff0ff1);
  // Resumed at the same rip: not reported again.
  assert.equal(vm.run(), EXIT.SW_BREAKPOINT);
  assert.equal(vm.core.retired, 3);
  assert.equal(vm.get("rbx"), 7n);
});

Deno.test("x64 debug: a breakpoint in a loop hits again once its instruction has run", () => {
  const vm = new Vm();
  const top = vm.at("bp_loop");
  vm.debug([{ va: top }]);
  assert.equal(vm.from("bp_loop", { rcx: 3, rax: 0 }), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.retired, 0);
  for (let k = 1; k <= 2; k++) {
    assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
    assert.equal(vm.core.retired, 3);
    assert.equal(vm.rip, top);
    assert.equal(vm.get("rax"), BigInt(k));
  }
  assert.equal(vm.run(), EXIT.SW_BREAKPOINT);
  assert.equal(vm.get("rax"), 3n);
  // Budget: stopping short of the breakpoint, then reaching it in a later run.
  vm.set({ rip: vm.at("step_seq") });
  vm.debug([{ va: vm.at("step_seq", 13) }]);
  assert.equal(vm.run(2), EXIT.BUDGET);
  assert.equal(vm.core.retired, 2);
  assert.equal(vm.run(1), EXIT.BUDGET);
  assert.equal(vm.core.retired, 1);
  assert.equal(vm.run(5), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.retired, 0);
  assert.equal(vm.rip, vm.at("step_seq", 13));
});

Deno.test("x64 debug: four breakpoints at one address set B0-B3 (dr6 0xffff0fff)", () => {
  const vm = new Vm();
  const at = vm.at("step_seq", 5);
  vm.debug([{ va: at }, { va: at }, { va: at }, { va: at }], 0xff);
  assert.equal(vm.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(vm.dr6(), 0xffff0fff);
  // Two of four at different addresses: only the one hit.
  vm.debug([{ va: vm.at("step_seq", 9) }, { va: vm.at("step_seq", 13) }]);
  assert.equal(vm.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(vm.rip, vm.at("step_seq", 9));
  assert.equal(vm.dr6(), 0xffff0ff1, "B0 only; the earlier B bits are gone");
  assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
  assert.equal(vm.rip, vm.at("step_seq", 13));
  assert.equal(vm.dr6(), 0xffff0ff2);
});

Deno.test("x64 debug: breakpoint and step together: the step first, then the breakpoint", () => {
  const vm = new Vm();
  vm.step(true);
  vm.debug([{ va: vm.at("step_seq", 5) }]);
  assert.equal(vm.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.detail, HW_STEP);
  assert.equal(vm.rip, vm.at("step_seq", 5));
  assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.detail, HW_BREAKPOINT);
  assert.equal(vm.core.retired, 0);
  assert.equal(vm.dr6() & 0xf, 1);
  assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.detail, HW_STEP);
  assert.equal(vm.rip, vm.at("step_seq", 9));
});

/** Loads / stores of every size at the edges of watched ranges of every size. */
Deno.test("x64 debug: data breakpoints of 1/2/4/8 bytes, hit and miss at the edges", () => {
  const W = DATA + 0x100;
  const loads: Record<number, string> = { 1: "ld8", 2: "ld16", 4: "ld32", 8: "ld64" };
  const stores: Record<number, string> = { 1: "st8", 2: "st16", 4: "st32", 8: "st64" };
  for (const len of [1, 2, 4, 8] as const) {
    for (const size of [1, 2, 4, 8]) {
      for (const at of [W - size, W - size + 1, W + len - 1, W + len]) {
        const hit = at + size > W && at < W + len;
        for (const rw of [1, 3] as const) {
          for (const store of [false, true]) {
            const vm = new Vm();
            vm.debug([{ va: W, rw, len }]);
            vm.setU64(at, 0x1122334455667788n);
            const label = store ? stores[size] : loads[size];
            const exit = vm.from(label, { rbx: at, rax: 0x0102030405060708n });
            const expectHit = hit && (store || rw === 3);
            const what = `len ${len} ${label} at W${at - W >= 0 ? "+" : ""}${at - W} rw ${rw}`;
            if (!expectHit) {
              assert.equal(exit, EXIT.SW_BREAKPOINT, what);
              continue;
            }
            assert.equal(exit, EXIT.HW_BREAKPOINT, what);
            assert.equal(vm.core.detail, HW_WATCHPOINT, what);
            assert.equal(vm.core.retired, 1, what);
            assert.equal(vm.rip, vm.at(label) + (size === 1 || size === 4 ? 2 : 3), what);
            assert.equal(vm.dr6(), 0xffff0ff1, what);
            assert.equal(vm.core.faultAddress, BigInt(Math.max(at, W)), what);
            assert.equal(vm.core.faultAccess, store ? ACCESS.WRITE : ACCESS.READ, what);
            // The access completed (a trap).
            if (store) {
              const v = vm.u64(at) & ((1n << BigInt(8 * size)) - 1n);
              assert.equal(v, 0x0102030405060708n & ((1n << BigInt(8 * size)) - 1n), what);
            } else {
              assert.notEqual(vm.get("rax"), 0x0102030405060708n, what);
            }
          }
        }
      }
    }
  }
});

Deno.test("x64 debug: the breakpoint address is rounded down to its length; I/O is ignored", () => {
  const vm = new Vm();
  vm.debug([{ va: DATA + 0x103, rw: 3, len: 4 }]);
  assert.equal(vm.from("ld8", { rbx: DATA + 0x100 }), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.faultAddress, BigInt(DATA + 0x100));
  assert.equal(vm.from("ld8", { rbx: DATA + 0x104 }), EXIT.SW_BREAKPOINT);
  vm.debug([{ va: DATA + 0x100, rw: 2, len: 8 }]);
  assert.equal(vm.from("st64", { rbx: DATA + 0x100 }), EXIT.SW_BREAKPOINT);
  assert.equal(vm.core.retired, 2);
});

Deno.test("x64 debug: read-modify-write, push, movsq; several data breakpoints hit at once", () => {
  const vm = new Vm();
  vm.debug([{ va: DATA, rw: 1, len: 8 }]);
  assert.equal(vm.from("rmw", { rbx: DATA, rax: 5 }), EXIT.HW_BREAKPOINT);
  assert.equal(vm.u64(DATA), 5n);
  assert.equal(vm.core.faultAccess, ACCESS.WRITE);
  // push writes the stack: rsp - 8.
  const sp = STACK_TOP - 256;
  vm.debug([{ va: sp - 8, rw: 1, len: 8 }]);
  assert.equal(vm.from("push_s", { rsp: sp, rax: 9 }), EXIT.HW_BREAKPOINT);
  assert.equal(vm.get("rsp"), BigInt(sp - 8));
  assert.equal(vm.rip, vm.at("push_s", 1));
  // movsq reads [rsi] and writes [rdi]: both breakpoints, and the first access (the read) is reported.
  vm.debug([{ va: DATA + 0x10, rw: 3, len: 4 }, { va: DATA + 0x20, rw: 1, len: 8 }, {
    va: DATA + 0x40,
    rw: 3,
    len: 8,
  }]);
  assert.equal(
    vm.from("movsq_s", { rsi: DATA + 0x10, rdi: DATA + 0x1c }),
    EXIT.HW_BREAKPOINT,
  );
  assert.equal(vm.dr6(), 0xffff0ff3);
  assert.equal(vm.core.faultAddress, BigInt(DATA + 0x10));
  assert.equal(vm.core.faultAccess, ACCESS.READ);
  assert.equal(vm.get("rsi"), BigInt(DATA + 0x18));
});

Deno.test("x64 debug: rep movsb traps after the iteration that wrote the watched byte", () => {
  const vm = new Vm();
  vm.mem.load(DATA, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  vm.debug([{ va: DATA + 0x103, rw: 1, len: 1 }]);
  assert.equal(
    vm.from("rep_movsb", { rsi: DATA, rdi: DATA + 0x100, rcx: 8 }),
    EXIT.HW_BREAKPOINT,
  );
  assert.equal(vm.core.retired, 4);
  assert.equal(vm.rip, vm.at("rep_movsb"), "rip stays at the unfinished rep movsb");
  assert.equal(vm.get("rcx"), 4n);
  assert.deepEqual([...vm.mem.read(DATA + 0x100, 8)], [1, 2, 3, 4, 0, 0, 0, 0]);
  // An instruction breakpoint on the rep movsb is not reported between iterations.
  vm.debug([{ va: DATA + 0x103, rw: 1, len: 1 }, { va: vm.at("rep_movsb") }]);
  assert.equal(vm.run(), EXIT.SW_BREAKPOINT);
  assert.equal(vm.get("rcx"), 0n);
  assert.deepEqual([...vm.mem.read(DATA + 0x100, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
  // Stepping: one trap per iteration.
  vm.debug([]);
  vm.step(true);
  vm.set({ rsi: DATA, rdi: DATA + 0x200, rcx: 3, rip: vm.at("rep_movsb") });
  for (const rcx of [2n, 1n]) {
    assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
    assert.equal(vm.get("rcx"), rcx);
    assert.equal(vm.rip, vm.at("rep_movsb"));
  }
  assert.equal(vm.run(), EXIT.HW_BREAKPOINT);
  assert.equal(vm.get("rcx"), 0n);
  assert.equal(vm.rip, vm.at("rep_movsb", 2));
});

Deno.test("x64 debug: a watch on a page the core has cached; with TF, BS and the B bit", () => {
  const vm = new Vm();
  assert.equal(vm.from("ld64", { rbx: DATA + 8 }), EXIT.SW_BREAKPOINT); // page now in the TLB
  vm.debug([{ va: DATA + 8, rw: 3, len: 8 }]);
  assert.equal(vm.from("ld64", { rbx: DATA + 8 }), EXIT.HW_BREAKPOINT);
  vm.step(true);
  assert.equal(vm.from("ld64", { rbx: DATA + 8 }), EXIT.HW_BREAKPOINT);
  assert.equal(vm.core.detail, HW_WATCHPOINT);
  assert.equal(vm.dr6(), (0xffff0ff1 | DR6_BS) >>> 0);
  // Breakpoints cleared, TF off: runs as before.
  vm.step(false);
  vm.debug([]);
  assert.equal(vm.from("ld64", { rbx: DATA + 8 }), EXIT.SW_BREAKPOINT);
});

Deno.test("x64 debug: a guest single-steps with its own TF (its #DB is the VCPU's)", () => {
  const { bin } = fixture("debug");
  const regs = new X64Registers();
  const mem = new FlatMemory();
  mem.map(CODE, bin.length, RX);
  mem.load(CODE, bin);
  regs.setStart(BigInt(CODE), 0n, 0n, 0n);
  const b = new Uint8Array(4);
  b[0] = 1;
  regs.write("zx", ZX_THREAD_STATE.SINGLE_STEP, b, NOT_IN_SYSCALL);
  const core = x64.createCore(regs, mem, "guest");
  // A trap after the first instruction, which the VCPU delivers as #DB
  // through the guest's IDT (tests/cpu_x64_guest.test.ts).
  assert.equal(core.run(100), EXIT.HW_BREAKPOINT);
  assert.equal(core.retired, 1);
});
