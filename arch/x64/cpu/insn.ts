// One decoded x86-64 instruction. The decoder fills it once per page offset;
// the interpreter then calls `fn` on it every time it runs. All fields are
// plain numbers so every instance has the same shape (one hidden class), and
// register operands are already turned into indices of the register file.

import type { Cpu } from "./state.ts";

/** Executes one instruction; returns CONTINUE or an EXIT reason. */
export type Handler = (c: Cpu, i: Insn) => number;

/** A handler's "go on with the next instruction". */
export const CONTINUE = -1;

/**
 * popf set TF: the instruction is complete, and the instructions after it
 * must run in the core's debug loop (single-stepping starts after the next
 * one). Never leaves the core.
 */
export const TF_SET = -2;

/**
 * A guest changed its translations (mov cr3, invlpg, ...): the instruction
 * is complete and the core must fetch the next one through the new
 * translations instead of the page it holds. Never leaves the core.
 */
export const REFETCH = -3;

/**
 * Index of the low word of each x86 register number (0=rax, 1=rcx, 2=rdx,
 * 3=rbx, 4=rsp, 5=rbp, 6=rsi, 7=rdi, 8..15=r8..r15) in the zx general-regs
 * layout (rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8..r15) seen as u32 halves.
 */
export const GPR = [0, 4, 6, 2, 14, 12, 8, 10, 16, 18, 20, 22, 24, 26, 28, 30] as const;

/** u32 indices of the other slots of the layout. */
export const RAX = 0, RCX = 4, RDX = 6, RBX = 2, RSP = 14, RBP = 12, RSI = 8, RDI = 10, R11 = 22;
export const RIP = 32, RFLAGS = 34, FS_BASE = 36, GS_BASE = 38;

export class Insn {
  fn: Handler;
  /** Length in bytes. */
  len = 0;
  /** Sub-operation: ALU op, condition code, shift kind, port, ... */
  op = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  sz = 4;
  /** ModRM.reg (or opcode) register: u32 index of its low word. */
  r = 0;
  /** 8 when `r` is AH/CH/DH/BH (bits 8-15 of the word), else 0. */
  rs = 0;
  /** ModRM.rm register index, or -1 when the operand is in memory. */
  m = -1;
  /** 8 when `m` is AH/CH/DH/BH. */
  ms = 0;
  // Memory operand: seg + base + (index << scale) + disp, or rip + len + disp.
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** fs_base / gs_base index when a segment override applies, else -1. */
  seg = -1;
  /** 1: rip-relative. */
  ripRel = 0;
  /** 1: 0x67 prefix, the address is truncated to 32 bits. */
  addr32 = 0;
  /** Immediate, low word (already sign- or zero-extended to the operand size). */
  imm = 0;
  /** Immediate, high word (64-bit operand size only). */
  immHi = 0;
  /** Second immediate or extra operand (enter, 3-operand forms, ...). */
  imm2 = 0;
  /** 0xf3 / 0xf2 prefix when it means rep/repne for a string instruction, else 0. */
  rep = 0;
  /** The first four bytes, little-endian: `detail` of an undefined instruction. */
  raw = 0;

  constructor(fn: Handler) {
    this.fn = fn;
  }

  /** Back to the state of a fresh instruction (the reused scratch decode). */
  reset(fn: Handler): void {
    this.fn = fn;
    this.len = 0;
    this.op = 0;
    this.sz = 4;
    this.r = 0;
    this.rs = 0;
    this.m = -1;
    this.ms = 0;
    this.base = -1;
    this.index = -1;
    this.scale = 0;
    this.disp = 0;
    this.seg = -1;
    this.ripRel = 0;
    this.addr32 = 0;
    this.imm = 0;
    this.immHi = 0;
    this.imm2 = 0;
    this.rep = 0;
    this.raw = 0;
  }
}
