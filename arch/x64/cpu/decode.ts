// x86-64 decoder: bytes -> Insn (handler + operands), run once per
// instruction address and cached per page. Covers legacy prefixes (66, 67,
// F2/F3, FS/GS overrides; LOCK and the null segment overrides are ignored),
// REX, ModRM/SIB/disp/RIP-relative and immediates. The opcode maps are in
// opcodes.ts (one byte) and opcodes_0f.ts (0F xx, SSE); whatever they do not
// decode keeps the undefined-instruction handler, so it stops the core.

import { EXIT } from "../../cpu.ts";
import { undefinedOp } from "./control.ts";
import { FS_BASE, GS_BASE, Insn } from "./insn.ts";
import { oneByte } from "./opcodes.ts";
import { twoByte } from "./opcodes_0f.ts";
import { begin, d, next, position, ranShort, release } from "./reader.ts";
import type { Cpu } from "./state.ts";

/** The longest legal instruction; longer ones are #GP. */
export const MAX_LENGTH = 15;

/** An instruction longer than 15 bytes. */
function tooLong(_c: Cpu, _i: Insn): number {
  return EXIT.GENERAL_PROTECTION;
}

/**
 * Decodes the instruction at bytes[at], reading no further than `limit`.
 * Returns false when it needed bytes at or past `limit` (the caller fetches
 * the next page or faults); `i` is filled either way.
 */
export function decode(bytes: Uint8Array, at: number, limit: number, i: Insn): boolean {
  begin(bytes, at, limit);
  let b: number;
  for (;;) {
    b = next();
    if (position() - at > MAX_LENGTH) break;
    if ((b & 0xf0) === 0x40) {
      d.rex = b;
      continue;
    }
    if (b === 0x66) d.p66 = 1;
    else if (b === 0x67) d.p67 = 1;
    else if (b === 0xf2 || b === 0xf3) d.rep = b;
    else if (b === 0x64) d.seg = FS_BASE;
    else if (b === 0x65) d.seg = GS_BASE;
    else if (b !== 0xf0 && b !== 0x2e && b !== 0x36 && b !== 0x3e && b !== 0x26) break;
    d.rex = 0; // a REX not directly before the opcode is ignored
  }
  i.fn = undefinedOp;
  if (position() - at <= MAX_LENGTH) {
    if (b === 0x0f) twoByte(i, next());
    else oneByte(i, b);
  }
  const len = position() - at;
  i.len = len;
  let raw = 0;
  for (let k = Math.min(len, 4, limit - at) - 1; k >= 0; k--) raw = raw * 256 + bytes[at + k];
  i.raw = raw;
  if (len > MAX_LENGTH) i.fn = tooLong;
  release();
  return !ranShort();
}

/** A fresh Insn for the cache. */
export function newInsn(): Insn {
  return new Insn(undefinedOp);
}
