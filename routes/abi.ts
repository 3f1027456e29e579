// How replies are spelled per ABI: status names (ZX_ vs MX_), the HTTP
// status for each Zircon status, and the JSON form of out parameters.

import type { Abi } from "../arch/arch.ts";
import { ERR, statusName, ZX_OK } from "../kernel/status.ts";

export const ABIS: readonly Abi[] = ["zx", "mx"];

/** The HTTP status each Zircon status is reported with (anything else: 400). */
export const HTTP_STATUS_TABLE: ReadonlyArray<readonly [code: number, http: number]> = [
  [ERR.INVALID_ARGS, 400],
  [ERR.OUT_OF_RANGE, 400],
  [ERR.BUFFER_TOO_SMALL, 400],
  [ERR.BAD_HANDLE, 400],
  [ERR.WRONG_TYPE, 400],
  [ERR.ACCESS_DENIED, 403],
  [ERR.NOT_FOUND, 404],
  [ERR.BAD_SYSCALL, 404],
  [ERR.BAD_STATE, 409],
  [ERR.ALREADY_EXISTS, 409],
  [ERR.ALREADY_BOUND, 409],
  [ERR.SHOULD_WAIT, 409],
  [ERR.CANCELED, 409],
  [ERR.INTERNAL_INTR_KILLED, 409],
  [ERR.NOT_SUPPORTED, 501],
  [ERR.UNAVAILABLE, 503],
  [ERR.NO_MEMORY, 503],
  [ERR.NO_RESOURCES, 503],
  [ERR.TIMED_OUT, 504],
];

const HTTP_BY_STATUS = new Map<number, number>(HTTP_STATUS_TABLE);

/** The HTTP status a failed syscall is reported with. */
export function httpStatusFor(code: number): number {
  return HTTP_BY_STATUS.get(code) ?? (code === ZX_OK ? 200 : 400);
}

export function prefixOf(abi: Abi): "ZX" | "MX" {
  return abi === "mx" ? "MX" : "ZX";
}

/** JSON form of an out value: bytes as base64, wide integers as numbers or "0x..." strings. */
function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return value.toBase64();
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : `0x${BigInt.asUintN(64, value).toString(16)}`;
  }
  return value;
}

const okBody = { zx: '{"status":"ZX_OK","code":0', mx: '{"status":"MX_OK","code":0' };

/** The body of a successful reply: status, code and the outs. */
export function successBody(abi: Abi, outs: Record<string, unknown>): string {
  let body = okBody[abi];
  for (const key in outs) body += `,${JSON.stringify(key)}:${JSON.stringify(toJson(outs[key]))}`;
  return body + "}";
}

/** The body of a failed call: status, code, message and any outs Zircon writes anyway. */
export function errorBody(
  abi: Abi,
  code: number,
  message: string,
  outs: Readonly<Record<string, unknown>> = {},
): string {
  const body: Record<string, unknown> = { status: statusName(code, prefixOf(abi)), code, message };
  for (const key in outs) body[key] = toJson(outs[key]);
  return JSON.stringify(body);
}
