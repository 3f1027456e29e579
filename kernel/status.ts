// Zircon status codes (zircon/errors.h). The numbers are the ABI; the names
// are spelled ZX_* on /v1/zx and MX_* on the Magenta ABI (same numbers).

export const ZX_OK = 0;

/** Every status zxsim can report, by its suffix after `ZX_ERR_`. */
export const ERR = {
  INTERNAL: -1,
  NOT_SUPPORTED: -2,
  NO_RESOURCES: -3,
  NO_MEMORY: -4,
  INTERNAL_INTR_RETRY: -6,
  INVALID_ARGS: -10,
  BAD_HANDLE: -11,
  WRONG_TYPE: -12,
  BAD_SYSCALL: -13,
  OUT_OF_RANGE: -14,
  BUFFER_TOO_SMALL: -15,
  BAD_STATE: -20,
  TIMED_OUT: -21,
  SHOULD_WAIT: -22,
  CANCELED: -23,
  PEER_CLOSED: -24,
  NOT_FOUND: -25,
  ALREADY_EXISTS: -26,
  ALREADY_BOUND: -27,
  UNAVAILABLE: -28,
  ACCESS_DENIED: -30,
  IO: -40,
  IO_REFUSED: -41,
  IO_DATA_INTEGRITY: -42,
  IO_DATA_LOSS: -43,
  IO_NOT_PRESENT: -44,
  IO_OVERRUN: -45,
  IO_MISSED_DEADLINE: -46,
  IO_INVALID: -47,
  BAD_PATH: -50,
  NOT_DIR: -51,
  NOT_FILE: -52,
  FILE_BIG: -53,
  NO_SPACE: -54,
  NOT_EMPTY: -55,
  STOP: -60,
  NEXT: -61,
  ASYNC: -62,
  PROTOCOL_NOT_SUPPORTED: -70,
  ADDRESS_UNREACHABLE: -71,
  ADDRESS_IN_USE: -72,
  NOT_CONNECTED: -73,
  CONNECTION_REFUSED: -74,
  CONNECTION_RESET: -75,
  CONNECTION_ABORTED: -76,
  INTERNAL_INTR_KILLED: -502,
} as const;

/** A Zircon status: 0 (OK) or one of the negative codes above. */
export type ZxStatus = typeof ZX_OK | (typeof ERR)[keyof typeof ERR];

const suffixByCode = new Map<number, string>(
  Object.entries(ERR).map(([suffix, code]) => [code, suffix]),
);

/** Status name in the given spelling: "ZX_ERR_BAD_HANDLE" or "MX_ERR_BAD_HANDLE". */
export function statusName(code: number, prefix: "ZX" | "MX" = "ZX"): string {
  if (code === ZX_OK) return `${prefix}_OK`;
  let suffix = suffixByCode.get(code);
  // Magenta called -6 INTERRUPTED_RETRY; Zircon renamed it.
  if (prefix === "MX" && code === ERR.INTERNAL_INTR_RETRY) suffix = "INTERRUPTED_RETRY";
  return suffix ? `${prefix}_ERR_${suffix}` : `${prefix}_ERR_UNKNOWN(${code})`;
}

/** A syscall failure: the status Zircon would return plus words for a human. */
export class ZxError extends Error {
  constructor(
    readonly status: ZxStatus,
    message: string,
    /** Out parameters Zircon writes even on failure (e.g. get_info's actual/avail). */
    readonly outs?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "ZxError";
  }
}

/** Throws a ZxError unless `status` is ZX_OK. */
export function check(status: ZxStatus, message: string | (() => string)): void {
  if (status !== ZX_OK) {
    throw new ZxError(status, typeof message === "string" ? message : message());
  }
}
