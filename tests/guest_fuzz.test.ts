// Property-based fuzzing of the guest CPUs (arch/vcpu.ts GuestCpu) of both
// arches with fast-check: random code (random bytes / words mixed with the
// instructions a guest kernel uses to reach the hypervisor: x64 in/out, hlt,
// sti, iretq, vmcall, rdmsr/wrmsr, mov to CRs, lidt, string I/O; arm64 msr /
// mrs, smc, hvc, svc, eret, wfi, dc set/way, loads and stores), random
// registers, a random IDT (x64, loaded by a `lidt` prologue) or vector table
// (arm64 VBAR_EL1), then a bounded number of exit rounds answered as the
// kernel would (kernel/vcpu_exits.ts): guestException, memTrap on a MEM trap
// page, skipInstruction on a BELL page, completeIo / writeIo on trapped
// ports, hypercall, interruptible / interrupt for pending vectors, state
// writes between entries. Properties: no JavaScript exception escapes (and
// the arm64 core's own catch-all, detail -1, never fires), run() honours its
// budget (0 <= retired <= budget), readState / memTrap write exactly their
// struct's bytes, and hypercall() answers a known kind.
//
// GUEST_FUZZ_SEED replays a run, GUEST_FUZZ_RUNS sets the programs per arch
// (default 300); a failure prints its seed and the counterexample path
// (GUEST_FUZZ_PATH replays just that case with the same seed).

import assert from "node:assert/strict";
import fc from "fast-check";
import { ACCESS, EXIT, type ExitReason } from "../arch/cpu.ts";
import type { GuestCpu, VcpuArch } from "../arch/vcpu.ts";
import { arm64 } from "../arch/arm64/arm64.ts";
import type { Arm64GuestCpu } from "../arch/arm64/vcpu/guest_cpu.ts";
import { EL1_SYSREG } from "../arch/arm64/vcpu/sysregs.ts";
import { x64 } from "../arch/x64/x64.ts";
import { identityPageTables } from "../client/guest.ts";
import { ZX_OK } from "../kernel/status.ts";
import { FlatMemory } from "./flat_memory.ts";

const seed = Number(Deno.env.get("GUEST_FUZZ_SEED") ?? Date.now() % 2 ** 31);
const runs = Number(Deno.env.get("GUEST_FUZZ_RUNS") ?? 300);
const path = Deno.env.get("GUEST_FUZZ_PATH");

type Arch = "x64" | "arm64";
const RWX = ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE;
/** Guest-physical layout: RAM [0, RAM) (x64 page tables at 0..0x3000). */
const RAM = 0x40000;
const CODE = 0x4000;
/** x64: the IDT and the lidt operand; arm64: VBAR_EL1. */
const IDT = 0x6000, IDTR = 0x5ff0, VECTORS = 0x8000;
/** Pages the kernel would find a MEM / BELL trap on (not RAM: an access exits). */
const MEM_PAGE = 0x100000, BELL_PAGE = 0x102000;
/** x64 ports with an IO trap. */
const IO_PORTS = new Set([0x10, 0x11, 0x80]);
const GUARD = 32;

const le32 = (...words: number[]) => new Uint8Array(Uint32Array.from(words).buffer);

// --- Generators ----------------------------------------------------------------------

/** x64 fragments (GNU as output, checked with objdump). */
const X64_FRAGMENTS: readonly Uint8Array[] = [
  Uint8Array.of(0xec), // in (%dx), %al
  Uint8Array.of(0xed), // in (%dx), %eax
  Uint8Array.of(0xee), // out %al, (%dx)
  Uint8Array.of(0xef), // out %eax, (%dx)
  Uint8Array.of(0xe4, 0x10), // in $0x10, %al
  Uint8Array.of(0xe6, 0x80), // out %al, $0x80
  Uint8Array.of(0xf4), // hlt
  Uint8Array.of(0xfb), // sti
  Uint8Array.of(0xfa), // cli
  Uint8Array.of(0x48, 0xcf), // iretq
  Uint8Array.of(0xcc), // int3
  Uint8Array.of(0x0f, 0x0b), // ud2
  Uint8Array.of(0x0f, 0x01, 0xc1), // vmcall
  Uint8Array.of(0x0f, 0x32), // rdmsr
  Uint8Array.of(0x0f, 0x30), // wrmsr
  Uint8Array.of(0x0f, 0x22, 0xd8), // mov %rax, %cr3
  Uint8Array.of(0x0f, 0x20, 0xc0), // mov %cr0, %rax
  Uint8Array.of(0x0f, 0x22, 0xc0), // mov %rax, %cr0
  Uint8Array.of(0x0f, 0x22, 0xe0), // mov %rax, %cr4
  Uint8Array.of(0x48, 0xf7, 0xf1), // div %rcx
  Uint8Array.of(0x48, 0x89, 0x18), // mov %rbx, (%rax)
  Uint8Array.of(0x48, 0x8b, 0x18), // mov (%rax), %rbx
  Uint8Array.of(0x0f, 0x01, 0x18), // lidt (%rax)
  Uint8Array.of(0x6c), // insb
  Uint8Array.of(0x6e), // outsb
  Uint8Array.of(0xf3, 0xa4), // rep movsb
  Uint8Array.of(0x0f, 0x05), // syscall
  Uint8Array.of(0x0f, 0xa2), // cpuid
  Uint8Array.of(0xcd, 0x40), // int $0x40
];
/** lidt 0x5ff0 (the prologue that loads the random IDT). */
const X64_LIDT = Uint8Array.of(0x0f, 0x01, 0x1c, 0x25, 0xf0, 0x5f, 0x00, 0x00);
const X64_STI = Uint8Array.of(0xfb);

const x64Code = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...X64_FRAGMENTS) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }) },
  ),
  { minLength: 1, maxLength: 48 },
).map((parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
});

/** arm64 words (checked with objdump): exception-generating, system, eret, wfi, dc set/way. */
const ARM64_WORDS: readonly number[] = [
  0xd50342ff, // msr daifclr, #2
  0xd5034fdf, // msr daifset, #0xf
  0xd50040bf, // msr spsel, #0
  0xd69f03e0, // eret
  0xd503207f, // wfi
  0xd4000003, // smc #0
  0xd4000002, // hvc #0
  0xd4000001, // svc #0
  0xd4200000, // brk #0
  0xd65f03c0, // ret
  0xd518c000, // msr vbar_el1, x0
  0xd5181000, // msr sctlr_el1, x0
  0xd538cc00, // mrs x0, icc_iar1_el1
  0xd518cc20, // msr icc_eoir1_el1, x0
  0xd518cba0, // msr icc_sgi1r_el1, x0
  0xd5087640, // dc isw, x0
  0x00000000, // udf #0
];
/** Top bytes of load / store classes (single, pair, SIMD, exclusive, atomic). */
const ARM64_LDST_TOPS = [
  0x38,
  0x39,
  0x78,
  0x79,
  0xb8,
  0xb9,
  0xf8,
  0xf9,
  0x28,
  0x29,
  0xa8,
  0xa9,
  0x3c,
  0x3d,
  0xad,
  0x4c,
  0x0d,
  0x88,
  0xc8,
];

const arm64Word = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ARM64_WORDS) },
  // Any system instruction: msr / mrs / sys / hints / barriers / pstate.
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0x3fffff }).map((r) => 0xd5000000 | r) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...ARM64_LDST_TOPS), fc.integer({ min: 0, max: 0xffffff }))
      .map(([top, r]) => (top << 24) | r),
  },
  // Short branches (b, bl, b.cond, cbz) either way.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(0x14, 0x94, 0x54, 0xb4), fc.integer({ min: -16, max: 16 }))
      .map(([top, off]) =>
        ((top << 24) | (top === 0x54 || top === 0xb4 ? (off & 0x7ffff) << 5 : off & 0xffffff)) >>> 0
      ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const arm64Code = fc.array(arm64Word, { minLength: 1, maxLength: 40 }).map((w) =>
  le32(...w.map((x) => x >>> 0))
);

/** A register value: often an address that matters, a PSCI id or a small number. */
const regValue = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.integer({ min: 0, max: RAM - 1 }).map(BigInt),
  fc.integer({ min: 0, max: 0x2fff }).map((o) => BigInt(MEM_PAGE + o)),
  fc.constantFrom(
    0x84000000n,
    0x84000008n,
    0x84000009n,
    0x84000002n,
    0xc4000003n,
    0x80n,
    0x10n,
    0x11n,
    0x1bn,
    0x800n,
    0x830n,
    0x838n,
    0xfee00000n,
    0x1000000000n,
    1n << 48n,
  ),
  fc.integer({ min: 0, max: 255 }).map(BigInt),
);

/** What the kernel does between two runs of a round. */
const roundArb = fc.record({
  budget: fc.integer({ min: 0, max: 3000 }),
  /** A vcpu_interrupt before this run, if any. */
  interrupt: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  /** A vcpu_write_state after the exit (the whole struct, random). */
  state: fc.option(fc.uint8Array({ minLength: 264, maxLength: 264 }), { freq: 8, nil: undefined }),
  /** A load's answer / ZX_VCPU_IO's access size. */
  answer: regValue,
  ioSize: fc.constantFrom(0, 1, 2, 3, 4, 8),
});

const caseArb = (arch: Arch) =>
  fc.record({
    code: arch === "x64" ? x64Code : arm64Code,
    /** The x64 IDT / arm64 vector table's bytes (gates biased to valid ones). */
    table: arch === "x64"
      ? fc.array(
        fc.record({
          offset: fc.oneof(fc.integer({ min: CODE, max: CODE + 0x200 }), fc.nat(0xffffffff)),
          type: fc.constantFrom(0xe, 0xf, 0xe, 0x5, 0x0),
          present: fc.boolean(),
          selector: fc.constantFrom(0, 8, 0x10),
        }),
        { minLength: 0, maxLength: 256 },
      )
      : fc.array(arm64Word, { minLength: 0, maxLength: 512 }),
    /** Load the IDT (x64 lidt prologue) / set VBAR_EL1 (arm64). */
    handlers: fc.boolean(),
    /** Unmask interrupts first (x64 sti, arm64 msr daifclr, #2). */
    unmask: fc.boolean(),
    regs: fc.array(regValue, { minLength: 33, maxLength: 33 }),
    rounds: fc.array(roundArb, { minLength: 1, maxLength: 12 }),
  });

// --- The driver ----------------------------------------------------------------------

type Case = {
  code: Uint8Array;
  table: unknown[];
  handlers: boolean;
  unmask: boolean;
  regs: bigint[];
  rounds: {
    budget: number;
    interrupt?: number;
    state?: Uint8Array;
    answer: bigint;
    ioSize: number;
  }[];
};

const EXIT_NAMES = new Map<number, string>(Object.entries(EXIT).map(([k, v]) => [v, k]));

const HYPERCALL_KINDS = new Set([
  "continue",
  "off",
  "startup",
  "interrupt",
  "raise",
  "unsupported",
  "status",
]);

function build(arch: Arch, c: Case): { cpu: GuestCpu; vcpu: VcpuArch } {
  const vcpu = arch === "x64" ? x64.vcpu : arm64.vcpu;
  const mem = new FlatMemory();
  mem.map(0, RAM, RWX);
  let entry = CODE;
  if (arch === "x64") {
    mem.load(0, identityPageTables());
    const idt = new Uint8Array(4096);
    const v = new DataView(idt.buffer);
    (c.table as { offset: number; type: number; present: boolean; selector: number }[]).forEach(
      (g, i) => {
        v.setUint16(16 * i, g.offset & 0xffff, true);
        v.setUint16(16 * i + 2, g.selector, true);
        idt[16 * i + 5] = (g.present ? 0x80 : 0) | g.type;
        v.setUint16(16 * i + 6, (g.offset >>> 16) & 0xffff, true);
        v.setUint32(16 * i + 8, 0, true);
      },
    );
    mem.load(IDT, idt);
    const idtr = new Uint8Array(10);
    new DataView(idtr.buffer).setUint16(0, 16 * c.table.length - 1 & 0xffff, true);
    new DataView(idtr.buffer).setUint32(2, IDT, true);
    mem.load(IDTR, idtr);
    const prologue = [...(c.handlers ? X64_LIDT : []), ...(c.unmask ? X64_STI : [])];
    mem.load(CODE, Uint8Array.of(...prologue, ...c.code));
  } else {
    mem.load(VECTORS, le32(...(c.table as number[]).map((w) => w >>> 0)));
    mem.load(CODE, Uint8Array.of(...(c.unmask ? le32(0xd50342ff) : []), ...c.code));
    entry = CODE;
  }
  const cpu = vcpu.createGuestCpu(mem, BigInt(entry), 1);
  if (arch === "arm64" && c.handlers) {
    (cpu as Arm64GuestCpu).el1.set(EL1_SYSREG.VBAR_EL1, VECTORS, 0);
  }
  // The VMM's vcpu_write_state before the first enter.
  const size = vcpu.stateLayout.size;
  const state = new Uint8Array(size);
  const view = new DataView(state.buffer);
  for (let i = 0; i + 8 <= size && i / 8 < c.regs.length; i += 8) {
    view.setBigUint64(i, c.regs[i / 8], true);
  }
  if (arch === "x64") view.setBigUint64(size - 8, 0x2n | (c.regs[32] & 0x244dd5n), true);
  cpu.writeState(state);
  return { cpu, vcpu };
}

/** readState into the middle of a guarded buffer: exactly `size` bytes written. */
function checkedRead(cpu: GuestCpu, size: number): Uint8Array {
  const buf = new Uint8Array(size + 2 * GUARD).fill(0xa5);
  cpu.readState(buf.subarray(GUARD, GUARD + size));
  for (let i = 0; i < GUARD; i++) {
    assert.equal(buf[i], 0xa5, "readState wrote before its buffer");
    assert.equal(buf[GUARD + size + i], 0xa5, "readState wrote past its buffer");
  }
  return buf.slice(GUARD, GUARD + size);
}

/** Picks the vector the kernel would offer next (urgent, then best priority, then highest). */
function nextPending(vcpu: VcpuArch, pending: Set<number>): number {
  if (vcpu.urgentVector !== null && pending.has(vcpu.urgentVector)) return vcpu.urgentVector;
  let best = -1, bestPriority = Infinity;
  for (const v of pending) {
    const p = vcpu.interruptPriority ? vcpu.interruptPriority(v) : 0;
    if (p < bestPriority || (p === bestPriority && v > best)) {
      best = v;
      bestPriority = p;
    }
  }
  return best;
}

/** Runs one case; throws (an assertion) on a broken property. Returns the exits seen. */
function runCase(arch: Arch, c: Case, seen: Map<string, number>): void {
  const { cpu, vcpu } = build(arch, c);
  const size = vcpu.stateLayout.size;
  const pending = new Set<number>();
  const note = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
  for (const round of c.rounds) {
    // vcpu_interrupt, then the kernel's beforeEntry().
    if (round.interrupt !== undefined) pending.add(round.interrupt);
    if (pending.size > 0) {
      const vector = nextPending(vcpu, pending);
      if (vcpu.invalidInterrupt(vector)) {
        pending.delete(vector); // vcpu_enter fails NOT_SUPPORTED; the next one goes on
        continue;
      }
      if (cpu.interruptible(vector)) {
        pending.delete(vector);
        cpu.interrupt(vector);
        for (const v of [...pending]) if (vcpu.discardedOnDelivery(v)) pending.delete(v);
        note("interrupt delivered");
      }
    }
    const exit: ExitReason = cpu.run(round.budget);
    const retired = cpu.retired;
    assert.ok(Number.isInteger(retired) && retired >= 0, `retired ${retired}`);
    assert.ok(retired <= round.budget, `retired ${retired} > budget ${round.budget} (${exit})`);
    if (arch === "arm64" && exit === EXIT.UNDEFINED_INSTRUCTION) {
      assert.notEqual((cpu as Arm64GuestCpu).core.detail, -1, "the arm64 core threw internally");
    }
    checkedRead(cpu, size);
    note(EXIT_NAMES.get(exit) ?? String(exit));
    const ended = handle(arch, cpu, exit, round, pending, note);
    if (round.state !== undefined) {
      const state = round.state.slice(0, size);
      cpu.writeState(state);
    }
    checkedRead(cpu, size);
    if (ended) return;
  }
}

/** The kernel's handleExit; true when vcpu_enter would fail (the program ends here). */
function handle(
  arch: Arch,
  cpu: GuestCpu,
  exit: ExitReason,
  round: Case["rounds"][number],
  pending: Set<number>,
  note: (what: string) => void,
): boolean {
  switch (exit) {
    case EXIT.BUDGET:
      return false;
    case EXIT.HALT:
      return pending.size === 0; // would wait; a kick ends it
    case EXIT.IO: {
      const io = cpu.io;
      assert.ok([1, 2, 4].includes(io.size), `io size ${io.size}`);
      if (!IO_PORTS.has(io.port)) return true;
      cpu.completeIo();
      if (io.input) {
        const bytes = new Uint8Array(8);
        const v = new DataView(bytes.buffer);
        v.setUint8(0, round.ioSize);
        v.setUint32(4, Number(round.answer & 0xffffffffn), true);
        cpu.writeIo(bytes);
      }
      note("io trap");
      return false;
    }
    case EXIT.PAGE_FAULT: {
      const fault = cpu.fault();
      if (fault.kind === "guest") return !cpu.guestException(exit);
      // (arm64 addresses of 2^53 and up are rounded: all past any guest-physical space.)
      assert.ok(
        Number.isInteger(fault.gpa) && fault.gpa >= 0 && fault.gpa <= 2 ** 64,
        `gpa ${fault.gpa}`,
      );
      const page = fault.gpa - (fault.gpa % 4096);
      if (page === MEM_PAGE) {
        const buf = new Uint8Array(32 + 2 * GUARD).fill(0x5a);
        const status = cpu.memTrap(fault.gpa, buf.subarray(GUARD, GUARD + 32));
        for (let i = 0; i < GUARD; i++) {
          assert.equal(buf[i], 0x5a, "memTrap wrote before its packet");
          assert.equal(buf[GUARD + 32 + i], 0x5a, "memTrap wrote past its packet");
        }
        if (status !== ZX_OK) return true;
        note("mem trap");
        if (arch === "arm64" && buf[GUARD + 19] === 1) {
          // A load: the VMM answers in x[xt] through zx_vcpu_state_t.
          const xt = buf[GUARD + 18];
          const state = checkedRead(cpu, arm64.vcpu.stateLayout.size);
          if (xt < 31) new DataView(state.buffer).setBigUint64(8 * xt, round.answer, true);
          cpu.writeState(state);
        }
        return false;
      }
      if (page === BELL_PAGE) {
        cpu.skipInstruction();
        note("bell");
        return fault.access !== ACCESS.WRITE;
      }
      return true; // NOT_FOUND / OUT_OF_RANGE / a re-fault the kernel would charge
    }
    case EXIT.GENERAL_PROTECTION:
    case EXIT.DIVIDE_ERROR:
    case EXIT.SW_BREAKPOINT:
    case EXIT.HW_BREAKPOINT:
    case EXIT.ALIGNMENT:
    case EXIT.UNDEFINED_INSTRUCTION:
      return !cpu.guestException(exit);
    case EXIT.HYPERCALL: {
      const call = cpu.hypercall();
      assert.ok(HYPERCALL_KINDS.has(call.kind), `hypercall kind ${call.kind}`);
      note(`hypercall ${call.kind}`);
      if (call.kind === "raise") pending.add(call.vector);
      // continue, raise and the packets (startup, interrupt) go on; the rest fail the enter.
      return !["continue", "raise", "startup", "interrupt"].includes(call.kind);
    }
    default:
      return true;
  }
}

for (const arch of ["x64", "arm64"] as const) {
  Deno.test(`guest fuzz ${arch}: ${runs} random programs keep the GuestCpu contract`, () => {
    const seen = new Map<string, number>();
    const started = performance.now();
    console.log(
      `guest fuzz ${arch}: seed ${seed}, ${runs} runs ` +
        `(GUEST_FUZZ_SEED=${seed} GUEST_FUZZ_RUNS=${runs} to replay)`,
    );
    const details = fc.check(
      fc.property(caseArb(arch), (c) => runCase(arch, c as Case, seen)),
      { seed, numRuns: runs, ...(path ? { path } : {}) },
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const exits = [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}:${n}`);
    console.log(`guest fuzz ${arch}: ${details.numRuns} runs in ${seconds}s; ${exits.join(" ")}`);
    if (details.failed) {
      assert.fail(
        `guest fuzz ${arch} failed after ${details.numRuns} runs, ${details.numShrinks} shrinks; ` +
          `replay: GUEST_FUZZ_SEED=${seed} GUEST_FUZZ_PATH=${details.counterexamplePath}\n` +
          `counterexample: ${fc.stringify(details.counterexample)}\n${
            details.errorInstance instanceof Error
              ? details.errorInstance.stack
              : String(details.errorInstance)
          }`,
      );
    }
  });
}
