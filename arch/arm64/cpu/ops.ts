// The decoded form of an A64 instruction. Each page of code is decoded once
// into an Int32Array of fixed-size entries (STRIDE ints per instruction), so
// running an instruction is a switch on its op number and a few array reads:
// no objects per instruction, no re-decoding of the 32-bit word.
//
// Register operands are stored as indexes into Arm64Registers.gpr (two u32
// halves per register). Register 31 becomes SP, or one of two slots that the
// core lends for the zero register while it runs (see core.ts): ZR reads as
// 0 and ZW swallows writes, so the hot paths never test for register 31.

/** Ints per decoded instruction. */
export const STRIDE = 8;
/** Entries per page: 1024 instructions, then a sentinel that moves to the next page. */
export const ENTRIES = 1025;

// Field offsets inside an entry.
export const F_OP = 0;
/** Destination (or the transferred register of a store). */
export const F_D = 1;
/** First source / base register. */
export const F_N = 2;
/** Second source / index register / second register of a pair. */
export const F_M = 3;
/** Immediate (low word), offset or branch displacement. */
export const F_I = 4;
/** Immediate high word, or a third register. */
export const F_J = 5;
/** Packed small fields (condition, shift, size, kind...). */
export const F_K = 6;
/** The instruction word itself (for `detail` and rare paths). */
export const F_RAW = 7;

// gpr indexes.
export const X = (r: number): number => 2 * r;
export const SP = 62;
export const PC = 64;
/** cpsr slot, lent to the zero register during a run: always reads 0. */
export const ZR = 66;
/** tpidr slot, lent as the sink of writes to the zero register during a run. */
export const ZW = 68;
export const CPSR = 66;
export const TPIDR = 68;

// Op numbers: dense, so the interpreter's switch becomes a jump table.
let next = 0;
const op = (): number => next++;

export const OP = {
  UNDECODED: op(),
  PAGE_END: op(),
  UNDEF: op(),
  NOP: op(),
  // Moves and constants.
  MOV64: op(),
  MOV32: op(),
  MOVI: op(),
  MOVK64: op(),
  MOVK32: op(),
  // Add/sub immediate (I signed), register without shift; flag setting forms.
  ADDI64: op(),
  ADDI32: op(),
  ADD64: op(),
  ADD32: op(),
  SUB64: op(),
  SUB32: op(),
  ADDSI64: op(),
  ADDSI32: op(),
  SUBSI64: op(),
  SUBSI32: op(),
  ADDS64: op(),
  ADDS32: op(),
  SUBS64: op(),
  SUBS32: op(),
  // Logical, register without shift (K: 0 and, 1 orr, 2 eor, 3 ands).
  LOG64: op(),
  LOG32: op(),
  // Logical immediate (I/J the mask; K as LOG).
  LOGI64: op(),
  LOGI32: op(),
  // Shifts by immediate (K the amount).
  LSLI64: op(),
  LSRI64: op(),
  ASRI64: op(),
  LSLI32: op(),
  LSRI32: op(),
  ASRI32: op(),
  // Generic data processing (see exec.ts for the K layouts).
  ALU_SHIFTED: op(),
  ADDSUB_EXT: op(),
  ADC: op(),
  CSEL: op(),
  CCMP: op(),
  BFM: op(),
  EXTR: op(),
  DP1: op(),
  DP2: op(),
  DP3: op(),
  ADR: op(),
  ADRP: op(),
  // Branches (I the byte displacement).
  B: op(),
  BL: op(),
  BCOND: op(),
  CBZ64: op(),
  CBNZ64: op(),
  CBZ32: op(),
  CBNZ32: op(),
  TBZ: op(),
  TBNZ: op(),
  BR: op(),
  BLR: op(),
  // Loads and stores: base + immediate, no writeback.
  LDRX: op(),
  LDRW: op(),
  LDRH: op(),
  LDRB: op(),
  STRX: op(),
  STRW: op(),
  STRH: op(),
  STRB: op(),
  // Everything else that moves memory.
  LDST: op(),
  LDSTP: op(),
  LDLIT: op(),
  EXCL: op(),
  ATOMIC: op(),
  // Exceptions and system.
  SVC: op(),
  HVC: op(),
  BRK: op(),
  WFI: op(),
  MRS: op(),
  MSR: op(),
  CFINV: op(),
  CLREX: op(),
  DC_ZVA: op(),
  // Guest (EL1) only; UNDEFINED at EL0 as before: smc (I the immediate),
  // eret, msr to a PSTATE field (K = op1 << 3 | op2, I = CRm), and the
  // privileged cache / TLB / address-translation system instructions.
  SMC: op(),
  ERET: op(),
  MSR_PSTATE: op(),
  SYS_EL1: op(),
  // SIMD and floating point (simd.ts; K selects the operation).
  SIMD: op(),
} as const;

/** Number of ops; the decoder's self-test checks the table stays dense. */
export const OP_COUNT = next;

/** What exec() returns, besides an EXIT reason, when an instruction completed. */
export const NEXT = -1;
/** exec(): the instruction completed and set pc itself (eret). */
export const JUMP = -2;
/**
 * PSTATE.IL (the SPSR bit 20), kept in a guest's cpsr slot: set by an
 * illegal exception return, it makes the next instruction an Illegal
 * Execution state exception (the core stops with UNDEFINED_INSTRUCTION
 * before running it; a VCPU takes it as EC 0x0e).
 */
export const PSTATE_IL = 1 << 20;

/** Why an ALIGNMENT exit happened (in `detail`): Zircon reports them differently. */
export const ALIGN = { PC: 0, SP: 1, DATA: 2 } as const;

// Condition codes.
export const COND_AL = 14;

/**
 * COND_TABLE[(nzcv << 4) | cond] is 1 when `cond` holds for the flags
 * `nzcv` (N bit 3 .. V bit 0): one load instead of a switch per b.cond.
 */
export const COND_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let f = 0; f < 16; f++) {
    const n = (f >> 3) & 1, z = (f >> 2) & 1, c = (f >> 1) & 1, v = f & 1;
    const base = [
      z === 1,
      c === 1,
      n === 1,
      v === 1,
      c === 1 && z === 0,
      n === v,
      n === v && z === 0,
    ];
    for (let cond = 0; cond < 16; cond++) {
      const r = cond >> 1 === 7 ? true : base[cond >> 1];
      t[(f << 4) | cond] = ((cond & 1) === 1 && cond !== 15 ? !r : r) ? 1 : 0;
    }
  }
  return t;
})();
