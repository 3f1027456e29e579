// The arm64 core's debug exceptions (EXIT.HW_BREAKPOINT): software step,
// hardware breakpoints and watchpoints, set up through the thread's write
// rules (ZX_THREAD_STATE_SINGLE_STEP / DEBUG_REGS) and run on
// tests/fixtures/cpu-arm64/debug.s (assembled by build.sh there). ESR and
// FAR are read back as ZX_THREAD_STATE_DEBUG_REGS shows them.

import assert from "node:assert/strict";
import { arm64, Arm64Registers } from "../arch/arm64/arm64.ts";
import {
  Arm64Core,
  ESR_BREAKPOINT,
  ESR_STEP,
  ESR_STEP_EX,
  ESR_STEP_ISV,
  ESR_WATCHPOINT,
  ESR_WNR,
  HW_BREAKPOINT,
  HW_STEP,
  HW_WATCHPOINT,
} from "../arch/arm64/cpu/core.ts";
import { ARM64_DEBUG_REGS } from "../arch/arm64/regsets.ts";
import { ACCESS, EXIT } from "../arch/cpu.ts";
import { ZX_THREAD_STATE } from "../arch/layout.ts";
import { FlatMemory } from "./flat_memory.ts";

const DIR = new URL("./fixtures/cpu-arm64/", import.meta.url);
const BIN = Deno.readFileSync(new URL("debug.bin", DIR));
const SYM = new Map<string, number>();
for (const line of Deno.readTextFileSync(new URL("debug.sym", DIR)).split("\n")) {
  const [label, hex] = line.trim().split(/\s+/);
  if (label && hex) SYM.set(label, parseInt(hex, 16));
}

/** Addresses with a non-zero high word, as in cpu_arm64.test.ts. */
const CODE = 0x7f12_3456_0000;
const DATA = 0x7f12_3500_0000;
const STACK_TOP = 0x7f12_3600_0000;
const RX = ACCESS.READ | ACCESS.EXECUTE;
const NOT_IN_SYSCALL = { stoppedInSyscall: false };

const DBG = ARM64_DEBUG_REGS;
const BP0 = DBG.offsetOf("hw_bps[0].dbgbcr");
const WP0 = DBG.offsetOf("hw_wps[0].dbgwcr");
const FAR = DBG.offsetOf("far");
const ESR = DBG.offsetOf("esr");

/** A watchpoint: DBGWVR, BAS (byte mask) and LSC (1 load, 2 store, 3 both). */
interface Wp {
  va: number;
  bas: number;
  lsc: number;
  enabled?: boolean;
}

class Rig {
  readonly regs = new Arm64Registers();
  readonly mem = new FlatMemory();
  readonly core: Arm64Core;
  readonly view: DataView;

  constructor() {
    this.mem.map(CODE, BIN.length, RX);
    this.mem.load(CODE, BIN);
    this.mem.map(DATA, 0x4000);
    this.mem.map(STACK_TOP - 0x4000, 0x4000);
    this.core = new Arm64Core(this.regs, this.mem, "user");
    this.view = new DataView(this.regs.gpr.buffer, 0, 280);
    this.regs.setStart(BigInt(CODE), BigInt(STACK_TOP), 0n, 0n);
  }

  at(label: string, plus = 0): number {
    const off = SYM.get(label);
    if (off === undefined) throw new Error(`no label ${label}`);
    return CODE + off + plus;
  }

  x(i: number): bigint {
    return this.view.getBigUint64(8 * i, true);
  }

  setX(i: number, v: bigint | number): void {
    this.view.setBigUint64(8 * i, BigInt.asUintN(64, BigInt(v)), true);
  }

  get pc(): number {
    return Number(this.x(32));
  }

  from(label: string, xs: Record<number, bigint | number> = {}, budget = 1000): number {
    this.setX(32, this.at(label));
    for (const [i, v] of Object.entries(xs)) this.setX(Number(i), v);
    return this.core.run(budget);
  }

  run(budget = 1000): number {
    return this.core.run(budget);
  }

  step(on: boolean): void {
    const b = new Uint8Array(4);
    b[0] = on ? 1 : 0;
    assert.equal(this.regs.write("zx", ZX_THREAD_STATE.SINGLE_STEP, b, NOT_IN_SYSCALL), 0);
  }

  /** ZX_THREAD_STATE_DEBUG_REGS: breakpoints (dbgbcr E = 1) at `bps`, and watchpoints. */
  debug(bps: number[], wps: Wp[] = []): void {
    const b = new Uint8Array(DBG.size);
    const v = new DataView(b.buffer);
    bps.forEach((va, i) => {
      v.setUint32(BP0 + 16 * i, 1, true);
      v.setBigUint64(BP0 + 16 * i + 8, BigInt(va), true);
    });
    wps.forEach((wp, i) => {
      const wcr = (wp.enabled === false ? 0 : 1) | (wp.lsc << 3) | (wp.bas << 5);
      v.setUint32(WP0 + 16 * i, wcr, true);
      v.setBigUint64(WP0 + 16 * i + 8, BigInt(wp.va), true);
    });
    assert.equal(this.regs.write("zx", ZX_THREAD_STATE.DEBUG_REGS, b, NOT_IN_SYSCALL), 0);
  }

  /** esr and far as ZX_THREAD_STATE_DEBUG_REGS reads them. */
  syndrome(): { esr: number; far: bigint } {
    const b = new Uint8Array(DBG.size);
    assert.equal(this.regs.read("zx", ZX_THREAD_STATE.DEBUG_REGS, b), 0);
    const v = new DataView(b.buffer);
    return { esr: v.getUint32(ESR, true), far: v.getBigUint64(FAR, true) };
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

const STEP_DONE = (ESR_STEP | ESR_STEP_ISV) >>> 0;

Deno.test("arm64 debug: software step through four instructions (ESR EC 0x32, EX on ldxr)", () => {
  const r = new Rig();
  r.setX(1, DATA);
  r.setU64(DATA, 0x55n);
  r.setX(32, r.at("step_seq"));
  r.step(true);
  const esr = [STEP_DONE, STEP_DONE, (STEP_DONE | ESR_STEP_EX) >>> 0, STEP_DONE];
  assert.equal(esr[0], 0xcb000022);
  assert.equal(esr[2], 0xcb000062);
  for (let k = 0; k < 4; k++) {
    assert.equal(r.run(), EXIT.HW_BREAKPOINT, `step ${k}`);
    assert.equal(r.core.retired, 1);
    assert.equal(r.core.detail, HW_STEP);
    assert.equal(r.pc, r.at("step_seq", 4 * (k + 1)));
    assert.deepEqual(r.syndrome(), { esr: esr[k], far: 0n });
  }
  assert.equal(r.x(0), 3n);
  assert.equal(r.x(3), 0x55n);
  // brk reports itself (pc at it).
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.core.retired, 0);
  assert.equal(r.pc, r.at("step_seq", 16));
  // Budget 1: the instruction and the step; budget 0: nothing.
  r.setX(32, r.at("step_seq"));
  assert.equal(r.run(1), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.retired, 1);
  assert.equal(r.run(0), EXIT.BUDGET);
  assert.equal(r.core.retired, 0);
  // Stepping off: runs to the brk.
  r.step(false);
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.core.retired, 3);
});

Deno.test("arm64 debug: a stepped svc: the step exception comes on return, before anything runs", () => {
  const r = new Rig();
  r.step(true);
  assert.equal(r.from("sys_seq"), EXIT.SYSCALL);
  assert.equal(r.core.retired, 1);
  assert.equal(r.pc, r.at("sys_seq", 4));
  assert.equal(r.run(), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.retired, 0);
  assert.equal(r.pc, r.at("sys_seq", 4));
  assert.deepEqual(r.syndrome(), { esr: ESR_STEP, far: 0n }, "ISV = 0");
  assert.equal(r.run(), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.retired, 1);
  assert.equal(r.x(0), 7n);
  assert.equal(r.pc, r.at("sys_seq", 8));
  // Single step turned off while in the syscall: no step exception is left.
  assert.equal(r.from("sys_seq"), EXIT.SYSCALL);
  r.step(false);
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.core.retired, 2);
});

Deno.test("arm64 debug: breakpoint before the instruction (EC 0x30); it hits again on resume", () => {
  const r = new Rig();
  r.setX(1, DATA);
  const at = r.at("step_seq", 4);
  r.debug([at]);
  assert.equal(r.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.detail, HW_BREAKPOINT);
  assert.equal(r.core.retired, 1);
  assert.equal(r.pc, at);
  assert.equal(r.x(0), 1n, "the add has not run");
  assert.deepEqual(r.syndrome(), { esr: ESR_BREAKPOINT, far: 0n });
  assert.equal(ESR_BREAKPOINT, 0xc2000022);
  assert.equal(r.run(), EXIT.HW_BREAKPOINT, "as on hardware");
  assert.equal(r.core.retired, 0);
  r.debug([]);
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(0), 3n);
  // Two breakpoints: the first reached; a loop reaches its own again.
  r.debug([r.at("step_seq", 12), r.at("step_seq", 8)]);
  assert.equal(r.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(r.pc, r.at("step_seq", 8));
  r.debug([r.at("bp_loop", 4)]);
  assert.equal(r.from("bp_loop", { 0: 0, 2: 3 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.retired, 1);
  r.debug([r.at("bp_loop")]);
  assert.equal(r.run(), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.retired, 2);
  assert.equal(r.pc, r.at("bp_loop"));
  assert.equal(r.x(2), 2n);
  // Budget ends short of it; a later run reaches it.
  r.debug([r.at("step_seq", 12)]);
  r.setX(32, r.at("step_seq"));
  assert.equal(r.run(2), EXIT.BUDGET);
  assert.equal(r.core.retired, 2);
  assert.equal(r.run(5), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.retired, 1);
});

Deno.test("arm64 debug: step and breakpoint; an instruction abort comes before a breakpoint", () => {
  const r = new Rig();
  r.setX(1, DATA);
  r.step(true);
  r.debug([r.at("step_seq", 4)]);
  assert.equal(r.from("step_seq"), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.detail, HW_STEP);
  assert.equal(r.run(), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.detail, HW_BREAKPOINT);
  assert.equal(r.pc, r.at("step_seq", 4));
  r.step(false);
  // A breakpoint on a page that cannot be fetched: the abort wins.
  r.debug([DATA]);
  r.setX(32, DATA);
  assert.equal(r.run(), EXIT.PAGE_FAULT);
  assert.equal(r.core.faultAccess, ACCESS.EXECUTE);
});

Deno.test("arm64 debug: watchpoints of 1/2/4/8 bytes: loads and stores at the edges", () => {
  const W = DATA + 0x100;
  const loads: Record<number, string> = { 1: "ld8", 2: "ld16", 4: "ld32", 8: "ld64" };
  const stores: Record<number, string> = { 1: "st8", 2: "st16", 4: "st32", 8: "st64" };
  // (DBGWVR, BAS): L bytes from an 8-aligned address, and 4 from a 4-aligned one.
  const ranges = [
    { va: W, bas: 0x1, first: W, len: 1 },
    { va: W, bas: 0x3, first: W, len: 2 },
    { va: W, bas: 0xf, first: W, len: 4 },
    { va: W, bas: 0xff, first: W, len: 8 },
    { va: W + 4, bas: 0xf, first: W + 4, len: 4 },
    { va: W, bas: 0x18, first: W + 3, len: 2 },
  ];
  for (const w of ranges) {
    for (const size of [1, 2, 4, 8]) {
      for (const at of [w.first - size, w.first - size + 1, w.first + w.len - 1, w.first + w.len]) {
        const hit = at + size > w.first && at < w.first + w.len;
        for (const lsc of [1, 2, 3]) {
          for (const store of [false, true]) {
            const r = new Rig();
            r.debug([], [{ va: w.va, bas: w.bas, lsc }]);
            r.setU64(at, 0x1122334455667788n);
            const label = store ? stores[size] : loads[size];
            const exit = r.from(label, { 0: 0x0102030405060708n, 1: at });
            const what = `${w.va - W}/${w.bas.toString(16)} ${label} at ${at - W} lsc ${lsc}`;
            if (!(hit && (lsc & (store ? 2 : 1)) !== 0)) {
              assert.equal(exit, EXIT.SW_BREAKPOINT, what);
              continue;
            }
            assert.equal(exit, EXIT.HW_BREAKPOINT, what);
            assert.equal(r.core.detail, HW_WATCHPOINT, what);
            assert.equal(r.core.retired, 0, what);
            assert.equal(r.pc, r.at(label), what);
            const far = BigInt(Math.max(at, w.first));
            assert.deepEqual(r.syndrome(), {
              esr: (ESR_WATCHPOINT | (store ? ESR_WNR : 0)) >>> 0,
              far,
            }, what);
            assert.equal(r.core.faultAddress, far, what);
            assert.equal(r.core.faultAccess, store ? ACCESS.WRITE : ACCESS.READ, what);
            // Before the access: nothing changed.
            assert.equal(r.x(0), 0x0102030405060708n, what);
            assert.equal(r.u64(at), 0x1122334455667788n, what);
          }
        }
      }
    }
  }
});

Deno.test("arm64 debug: ldp/stp, post-index, q and ld1 loads, ldadd, dc zva, exclusives", () => {
  const W = DATA + 0x200;
  const r = new Rig();
  // ldp of 16 bytes from W - 8: the watched doubleword is its second half.
  r.debug([], [{ va: W, bas: 0xff, lsc: 1 }]);
  assert.equal(r.from("ldp_s", { 1: W - 8, 2: 1, 3: 2 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.syndrome().far, BigInt(W));
  assert.equal(r.x(2), 1n);
  assert.equal(r.x(3), 2n);
  // stp: WnR, nothing written.
  r.debug([], [{ va: W + 8, bas: 0x80, lsc: 2 }]);
  assert.equal(r.from("stp_s", { 1: W, 2: 5, 3: 6 }), EXIT.HW_BREAKPOINT);
  assert.deepEqual(r.syndrome(), { esr: 0xd2000062, far: BigInt(W + 15) });
  assert.equal(r.u64(W), 0n);
  // Post-index store: no writeback.
  assert.equal(r.from("str_post", { 1: W + 8, 2: 5 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.x(1), BigInt(W + 8));
  // A q register load and a four-register ld1 (64 bytes) through exec.ts.
  r.debug([], [{ va: W + 40, bas: 0x1, lsc: 3 }]);
  assert.equal(r.from("ldr_q", { 1: W + 32 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.syndrome().far, BigInt(W + 40));
  assert.equal(r.from("ld1_4", { 1: W }), EXIT.HW_BREAKPOINT);
  assert.equal(r.from("ld1_4", { 1: W + 41 }), EXIT.SW_BREAKPOINT);
  // An atomic add on a store-only watchpoint: the store half; nothing changes.
  r.setU64(W, 10n);
  r.debug([], [{ va: W, bas: 0xff, lsc: 2 }]);
  assert.equal(r.from("ldadd_s", { 1: W, 2: 5, 3: 0 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.syndrome().esr, 0xd2000062);
  assert.equal(r.u64(W), 10n);
  assert.equal(r.x(3), 0n);
  // dc zva of the 64-byte block: nothing zeroed on a hit in its last bytes.
  r.setU64(W + 0x40, 0x77n);
  r.debug([], [{ va: W + 0x78, bas: 0x80, lsc: 2 }]);
  assert.equal(r.from("dczva", { 1: W + 0x41 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.syndrome().far, BigInt(W + 0x7f));
  assert.equal(r.u64(W + 0x40), 0x77n);
  // Exclusives: ldxr is a load; the stxr's check of the monitor is not one.
  r.debug([], [{ va: W, bas: 0xff, lsc: 1 }]);
  assert.equal(r.from("excl_pair", { 1: W, 2: 9, 4: 0x33 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.pc, r.at("excl_pair"));
  r.debug([], [{ va: W, bas: 0xff, lsc: 2 }]);
  assert.equal(r.from("excl_pair", { 1: W, 2: 9, 4: 0x33 }), EXIT.HW_BREAKPOINT);
  assert.equal(r.pc, r.at("excl_pair", 4));
  assert.equal(r.core.retired, 1);
  assert.equal(r.syndrome().esr, 0xd2000062);
  assert.equal(r.x(4), 0x33n, "the status register is not written");
  assert.equal(r.u64(W), 10n);
  r.debug([]);
  assert.equal(r.run(), EXIT.SW_BREAKPOINT);
  assert.equal(r.x(4), 0n);
  assert.equal(r.u64(W), 9n);
});

Deno.test("arm64 debug: disabled watchpoints, LSC 0; a page the TLB holds; step + watch", () => {
  const r = new Rig();
  const W = DATA + 0x300;
  r.debug([], [{ va: W, bas: 0xff, lsc: 3, enabled: false }, { va: W, bas: 0xff, lsc: 0 }]);
  assert.equal(r.from("ld64", { 1: W }), EXIT.SW_BREAKPOINT);
  // The page is in the core's TLB now; the watchpoint still sees the load.
  r.debug([], [{ va: W, bas: 0xff, lsc: 1 }]);
  assert.equal(r.from("ld64", { 1: W }), EXIT.HW_BREAKPOINT);
  // Stepping onto a watched load: the watchpoint (the instruction does not complete).
  r.step(true);
  assert.equal(r.from("ld64", { 1: W }), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.detail, HW_WATCHPOINT);
  r.debug([]);
  assert.equal(r.run(), EXIT.HW_BREAKPOINT);
  assert.equal(r.core.detail, HW_STEP);
  assert.equal(r.pc, r.at("ld64", 4));
});

Deno.test("arm64 debug: a guest ignores the thread's debug state; the Arch makes debugging cores", () => {
  const regs = new Arm64Registers();
  const mem = new FlatMemory();
  mem.map(CODE, BIN.length, RX);
  mem.load(CODE, BIN);
  regs.setStart(BigInt(CODE + SYM.get("bp_loop")!), 0n, 0n, 0n);
  new DataView(regs.gpr.buffer).setBigUint64(16, 2n, true); // x2 = 2
  const b = new Uint8Array(4);
  b[0] = 1;
  regs.write("zx", ZX_THREAD_STATE.SINGLE_STEP, b, NOT_IN_SYSCALL);
  const guest = arm64.createCore(regs, mem, "guest");
  assert.equal(guest.run(100), EXIT.SW_BREAKPOINT);
  assert.equal(guest.retired, 6);
  regs.setStart(BigInt(CODE + SYM.get("bp_loop")!), 0n, 0n, 0n); // also ends stepping
  regs.write("zx", ZX_THREAD_STATE.SINGLE_STEP, b, NOT_IN_SYSCALL);
  const user = arm64.createCore(regs, mem, "user");
  assert.equal(user.run(100), EXIT.HW_BREAKPOINT);
  assert.equal(user.retired, 1);
});
