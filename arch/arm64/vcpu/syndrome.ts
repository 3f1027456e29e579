// Exception syndromes of a guest: the data-abort ISS a stage-2 fault would
// carry (what a ZX_GUEST_TRAP_MEM packet is made of) and the ESR_EL1 values
// of the synchronous exceptions the guest takes itself.
//
// The hardware gives a valid instruction syndrome (ISV = 1) only for loads
// and stores of a single general register without writeback: ldr / str of
// every size, ldrs*, the unscaled (ldur / stur), unprivileged (ldtr / sttr),
// register-offset and literal forms, and the acquire / release ones (ldar /
// stlr). Pairs, pre / post-index writeback, SIMD and FP registers,
// exclusives, atomics and prefetches have none (ISV = 0): Zircon then fails
// vcpu_enter with ZX_ERR_IO_DATA_INTEGRITY.

/** What a data abort on one of the instructions above reports. */
export interface DataAbortSyndrome {
  /** 1, 2, 4 or 8 (SAS). */
  readonly accessSize: number;
  /** SSE: a sign-extending load. */
  readonly signExtend: boolean;
  /** SRT: the transfer register (31 is xzr / wzr). */
  readonly xt: number;
  /** !WnR. */
  readonly read: boolean;
}

/** The syndrome of the load / store `w`, or null when it has none (ISV = 0). */
export function dataAbortSyndrome(w: number): DataAbortSyndrome | null {
  w = w >>> 0;
  const rt = w & 31;
  const size = w >>> 30;
  // Load register (literal), general registers: opc in bits 31..30.
  if ((w & 0x3f000000) === 0x18000000) {
    if (size === 3) return null; // prfm
    return {
      accessSize: size === 1 ? 8 : 4,
      signExtend: size === 2,
      xt: rt,
      read: true,
    };
  }
  // Load-acquire / store-release of one register (ldar, stlr, ldlar, stllr; o2 = 1, o1 = 0).
  if ((w & 0x3fa00000) === 0x08800000) {
    return { accessSize: 1 << size, signExtend: false, xt: rt, read: ((w >>> 22) & 1) === 1 };
  }
  // Single register, general, unsigned offset (bits 29..24 = 111001) or the
  // 111000 group: unscaled (bits 11..10 = 00), unprivileged (10) and
  // register offset (bit 21 set, 10); 01 and 11 are post / pre-index.
  const unsignedOffset = (w & 0x3f000000) === 0x39000000;
  const other = (w & 0x3f000000) === 0x38000000;
  if (!unsignedOffset && !other) return null;
  if (other) {
    const bit21 = (w >>> 21) & 1, mode = (w >>> 10) & 3;
    if (bit21 === 0 ? mode !== 0 && mode !== 2 : mode !== 2) return null;
  }
  const opc = (w >>> 22) & 3;
  if (opc === 0) return { accessSize: 1 << size, signExtend: false, xt: rt, read: false };
  if (opc === 1) return { accessSize: 1 << size, signExtend: false, xt: rt, read: true };
  // opc 2: sign-extend to 64 bits (prfm for size 3); opc 3: to 32 bits (sizes 0 and 1 only).
  if (size === 3 || (opc === 3 && size === 2)) return null;
  return { accessSize: 1 << size, signExtend: true, xt: rt, read: true };
}

/** ESR_ELx exception classes the guest's own exceptions use. */
export const EC = {
  UNKNOWN: 0x00,
  ILLEGAL_STATE: 0x0e,
  SVC64: 0x15,
  INSTRUCTION_ABORT_LOWER: 0x20,
  INSTRUCTION_ABORT_SAME: 0x21,
  PC_ALIGNMENT: 0x22,
  DATA_ABORT_LOWER: 0x24,
  DATA_ABORT_SAME: 0x25,
  SP_ALIGNMENT: 0x26,
  BRK64: 0x3c,
} as const;

/** Fault status codes (IFSC / DFSC). */
export const FSC = {
  /** Translation fault, level 0: the guest-physical address has nothing behind it. */
  TRANSLATION_L0: 0x04,
  ALIGNMENT: 0x21,
} as const;

/** IL: a 32-bit instruction. */
const IL = 1 << 25;
/** WnR in a data abort's ISS. */
export const ISS_WNR = 1 << 6;

/** ESR_EL1 for class `ec` with `iss` (always a 32-bit instruction). */
export function esr(ec: number, iss: number): number {
  return ((ec << 26) | IL | (iss & 0x1ffffff)) >>> 0;
}
