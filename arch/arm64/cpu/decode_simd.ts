// Decoding of SIMD & floating point: the word is classified into an
// encoding group (V.*), stored as OP.SIMD with the group in K. The group's
// executor (simd*.ts) reads the few remaining fields from the raw word and
// reports UNDEFINED_INSTRUCTION for the encodings of a group it lacks.
// (Loads and stores of single SIMD&FP registers are plain LDST / LDSTP.)

import { put } from "./fields.ts";
import { OP } from "./ops.ts";

let next = 0;
const kind = (): number => next++;

/** SIMD&FP encoding groups. */
export const V = {
  // AdvSIMD vector.
  THREE_SAME: kind(),
  THREE_DIFF: kind(),
  TWO_MISC: kind(),
  ACROSS: kind(),
  COPY: kind(),
  MOD_IMM: kind(),
  SHIFT_IMM: kind(),
  EXT: kind(),
  PERMUTE: kind(),
  TBL: kind(),
  BY_ELEM: kind(),
  // AdvSIMD scalar.
  S_THREE_SAME: kind(),
  S_TWO_MISC: kind(),
  S_PAIRWISE: kind(),
  S_COPY: kind(),
  S_SHIFT_IMM: kind(),
  S_BY_ELEM: kind(),
  // Scalar floating point.
  FP_INT: kind(),
  FP_FIXED: kind(),
  FP_1: kind(),
  FP_CMP: kind(),
  FP_IMM: kind(),
  FP_CCMP: kind(),
  FP_2: kind(),
  FP_CSEL: kind(),
  FP_3: kind(),
  // Structure loads / stores (ld1..ld4, st1..st4, single lanes, ld1r).
  LDST_MULTI: kind(),
  LDST_SINGLE: kind(),
} as const;

/** [mask, value, group] in the order they must be tried. */
const TABLE: readonly (readonly [number, number, number])[] = [
  [0x9f200400, 0x0e200400, V.THREE_SAME],
  [0x9f3e0c00, 0x0e200800, V.TWO_MISC],
  [0x9f3e0c00, 0x0e300800, V.ACROSS],
  [0x9f200c00, 0x0e200000, V.THREE_DIFF],
  [0x9fe08400, 0x0e000400, V.COPY],
  [0x9ff80400, 0x0f000400, V.MOD_IMM],
  [0x9f800400, 0x0f000400, V.SHIFT_IMM], // immh != 0 (tried after MOD_IMM)
  [0xbfe08400, 0x2e000000, V.EXT],
  [0xbf208c00, 0x0e000800, V.PERMUTE],
  [0xbfe08c00, 0x0e000000, V.TBL],
  [0x9f000400, 0x0f000000, V.BY_ELEM],
  [0xdf200400, 0x5e200400, V.S_THREE_SAME],
  [0xdf3e0c00, 0x5e200800, V.S_TWO_MISC],
  [0xdf3e0c00, 0x5e300800, V.S_PAIRWISE],
  [0xdfe08400, 0x5e000400, V.S_COPY],
  [0xdf800400, 0x5f000400, V.S_SHIFT_IMM],
  [0xdf000400, 0x5f000000, V.S_BY_ELEM],
  [0x7f20fc00, 0x1e200000, V.FP_INT],
  [0x7f200000, 0x1e000000, V.FP_FIXED],
  [0x7f207c00, 0x1e204000, V.FP_1],
  [0x7f203c00, 0x1e202000, V.FP_CMP],
  [0x7f201c00, 0x1e201000, V.FP_IMM],
  [0x7f200c00, 0x1e200400, V.FP_CCMP],
  [0x7f200c00, 0x1e200800, V.FP_2],
  [0x7f200c00, 0x1e200c00, V.FP_CSEL],
  [0x7f000000, 0x1f000000, V.FP_3],
  [0xbfbf0000, 0x0c000000, V.LDST_MULTI],
  [0xbfa00000, 0x0c800000, V.LDST_MULTI],
  [0xbf9f0000, 0x0d000000, V.LDST_SINGLE],
  [0xbf800000, 0x0d800000, V.LDST_SINGLE],
];

/** Classifies w (SIMD&FP data processing, or an AdvSIMD structure load/store). */
export function decodeSimd(w: number, e: Int32Array, b: number): void {
  for (const [mask, value, group] of TABLE) {
    if (((w & mask) >>> 0) === value) {
      put(e, b, OP.SIMD, 0, 0, 0, 0, 0, group);
      return;
    }
  }
}
