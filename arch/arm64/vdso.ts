// arm64 vDSO entry points. AAPCS64 already passes arguments in x0-x7, where
// Zircon's kernel takes them, so an entry point only loads the number into
// x16 and traps: movz x16, #n; svc #0; ret.

import type { VdsoStub } from "../arch.ts";

function word(w: number): number[] {
  return [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24];
}

const MOVZ_X16 = 0xd2800010; // movz x16, #imm16 (imm16 in bits 5-20)
const SVC_0 = 0xd4000001;
const RET = 0xd65f03c0;

export function arm64VdsoStub(number: number, _stackArgs: boolean): VdsoStub {
  const code = [...word((MOVZ_X16 | (number << 5)) >>> 0), ...word(SVC_0), ...word(RET)];
  return { code: Uint8Array.from(code), syscallAt: 4 };
}

/** brk #0: a stray jump into the vDSO's padding stops with a breakpoint. */
export const ARM64_TRAP_FILL = Uint8Array.of(0x00, 0x00, 0x20, 0xd4);
