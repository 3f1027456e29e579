// AdvSIMD "by element" multiplies, vector and scalar: MUL, MLA, MLS on 16-
// and 32-bit lanes, FMUL, FMLA, FMLS on single and double lanes, each lane
// of Vn combined with one lane of Vm.

import type { Arm64Core } from "./core.ts";
import { commit, commitScalar, lane, rd, rn, setT, tb, UNDEF } from "./lanes.ts";
import { NEXT } from "./ops.ts";

const tf32 = new Float32Array(tb.buffer);
const tf64 = new Float64Array(tb.buffer);

export function execByElement(core: Arm64Core, w: number, scalar: boolean): number {
  const v = core.v, u = (w >>> 29) & 1, size = (w >>> 22) & 3, op = (w >>> 12) & 15;
  const q = scalar ? 0 : (w >>> 30) & 1, h = (w >>> 11) & 1, l = (w >>> 21) & 1;
  const mbit = (w >>> 20) & 1, rmLow = (w >>> 16) & 15, d = rd(w), n = rn(w);
  const fp = !u && (op === 0b0001 || op === 0b0101 || op === 0b1001);
  if (fp) {
    if (size < 2) return UNDEF; // half precision
    const dbl = size === 3;
    if (dbl && (l || (!q && !scalar))) return UNDEF;
    const idx = dbl ? h : (h << 1) | l, m = (mbit << 4) | rmLow;
    const x = dbl ? v.f64[m * 2 + idx] : v.f32[m * 4 + idx];
    const count = scalar ? 1 : (q ? 128 : 64) / (dbl ? 64 : 32);
    for (let i = 0; i < count; i++) {
      const a = dbl ? v.f64[n * 2 + i] : v.f32[n * 4 + i];
      const acc = dbl ? v.f64[d * 2 + i] : v.f32[d * 4 + i];
      const p = a * x;
      const r = op === 0b1001 ? p : op === 0b0001 ? acc + p : acc - p;
      if (dbl) tf64[i] = r;
      else tf32[i] = Math.fround(r);
    }
    if (scalar) commitScalar(v, d, dbl ? 8 : 4);
    else commit(v, d, q);
    return NEXT;
  }
  // Integer: MUL (U = 0), MLA, MLS (U = 1); vector only.
  const kind = !u && op === 0b1000 ? 0 : u && op === 0b0000 ? 1 : u && op === 0b0100 ? 2 : -1;
  if (kind < 0 || scalar || size === 0 || size === 3) return UNDEF;
  const esize = 8 << size;
  const idx = size === 1 ? (h << 2) | (l << 1) | mbit : (h << 1) | l;
  const m = size === 1 ? rmLow : (mbit << 4) | rmLow;
  const x = lane(v, m, idx, esize);
  const count = (q ? 128 : 64) / esize;
  for (let i = 0; i < count; i++) {
    const p = Math.imul(lane(v, n, i, esize), x);
    const acc = lane(v, d, i, esize);
    setT(i, esize, kind === 0 ? p : kind === 1 ? acc + p : acc - p);
  }
  commit(v, d, q);
  return NEXT;
}
