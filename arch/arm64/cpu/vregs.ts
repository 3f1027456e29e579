// The SIMD&FP registers v0..v31 (16 bytes each) and FPCR/FPSR, as typed
// views of the thread's own vector regset (zx_arm64_thread_state_vector_regs_t:
// fpcr, fpsr, v[32]), so ZX_THREAD_STATE_VECTOR_REGS shows what the core
// computes.

import { ARM64_VECTOR_REGS } from "../regsets.ts";

const V0 = ARM64_VECTOR_REGS.offsetOf("v[0].low");

export class VRegs {
  /** v registers as bytes (v[i] at 16 * i). */
  readonly b: Uint8Array;
  readonly h: Uint16Array;
  readonly s: Uint32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  /** fpcr, fpsr. */
  readonly ctl: Uint32Array;
  /** `vec`: the thread's vector regset bytes (Arm64Registers.vec). */
  constructor(vec: Uint8Array) {
    const store = vec.buffer as ArrayBuffer;
    const base = vec.byteOffset;
    this.ctl = new Uint32Array(store, base, 2);
    this.b = new Uint8Array(store, base + V0, 512);
    this.h = new Uint16Array(store, base + V0, 256);
    this.s = new Uint32Array(store, base + V0, 128);
    this.f32 = new Float32Array(store, base + V0, 128);
    this.f64 = new Float64Array(store, base + V0, 64);
  }

  /** Zeroes v[reg] from byte `from` (a scalar or 64-bit vector write clears the rest). */
  clearFrom(reg: number, from: number): void {
    this.b.fill(0, reg * 16 + from, reg * 16 + 16);
  }
}
