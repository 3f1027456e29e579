// zod schemas for syscall parameters as they travel in JSON. Each schema
// turns the JSON form into the value the kernel works with (numbers,
// bigints, bytes) and says in words what it expected when it can't.

import { z } from "zod";
import { parseIntegerText } from "../../arch/layout.ts";
import { constantValue, type Namespace } from "../names.ts";

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** A zx_handle_t: a uint32 JSON number. */
export const handle = () =>
  z.number().int().min(0).max(U32_MAX).describe("a handle value (uint32) in the caller's process");

/** A uint32 flag word: a number, a constant name, or an array of names OR-ed together. */
export function flags(namespace: Namespace, what: string) {
  const name = z.string().describe(`a ${namespace} constant name, e.g. ZX_... or MX_...`);
  return z
    .union([z.number().int().min(0).max(U32_MAX), name, z.array(name)])
    .describe(`${what}: a uint32, a constant name, or an array of names (OR-ed)`)
    .transform((value, ctx) => {
      if (typeof value === "number") return value;
      let result = 0;
      for (const item of typeof value === "string" ? [value] : value) {
        const bits = constantValue(namespace, item);
        if (bits === undefined) {
          ctx.addIssue({ code: "custom", message: `unknown ${namespace} constant "${item}"` });
          return z.NEVER;
        }
        result |= bits;
      }
      return result >>> 0;
    });
}

/** Parses a JSON number or a "0x..."/decimal string as a BigInt, or undefined. */
function toBigInt(value: number | string): bigint | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : undefined;
  return parseIntegerText(value);
}

function wideInteger(
  description: string,
  min: bigint,
  max: bigint,
  names: Readonly<Record<string, bigint>> = {},
) {
  return z
    .union([z.number().int(), z.string()])
    .describe(description)
    .transform((value, ctx) => {
      // Own names only: "toString" must not find Object.prototype.toString.
      const named = typeof value === "string" && Object.hasOwn(names, value)
        ? names[value]
        : undefined;
      const parsed = named ?? toBigInt(value);
      if (parsed === undefined || parsed < min || parsed > max) {
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)} is not ${description}` });
        return z.NEVER;
      }
      return parsed;
    });
}

/** A uint64 / uintptr_t: a JSON number or a "0x..." string. */
export const u64 = (what = "a uint64") =>
  wideInteger(`${what} (JSON number or "0x..." string)`, 0n, U64_MAX);

/** A 64-bit out value as replies spell it: a number, or a "0x..." string beyond 2^53. */
export const u64Out = () =>
  z.union([z.number().int(), z.string()]).describe(
    'a 64-bit value: a JSON number, or a "0x..." string when above 2^53',
  );

/** An int64: a JSON number or a "0x..."/decimal string (negative allowed). */
export const i64 = (what = "an int64") =>
  wideInteger(`${what} (JSON number or string)`, I64_MIN, I64_MAX);

/** A zx_time_t deadline in ns; ZX_TIME_INFINITE and ZX_TIME_INFINITE_PAST by name. */
export const deadline = () =>
  wideInteger(
    'a zx_time_t in ns (int64: number, "0x..." string, or ZX_TIME_INFINITE)',
    I64_MIN,
    I64_MAX,
    {
      ZX_TIME_INFINITE: I64_MAX,
      MX_TIME_INFINITE: I64_MAX,
      ZX_TIME_INFINITE_PAST: I64_MIN,
      MX_TIME_INFINITE_PAST: I64_MIN,
    },
  );

/** A size_t / uint32 size, as a JSON number. */
export const size = (max = Number.MAX_SAFE_INTEGER) => z.number().int().min(0).max(max);

function bytesSchema(decode: (text: string) => Uint8Array) {
  return z
    .string()
    .describe("bytes as standard base64")
    .transform((text, ctx) => {
      try {
        return decode(text);
      } catch {
        ctx.addIssue({ code: "custom", message: "is not valid standard base64" });
        return z.NEVER;
      }
    });
}

const made = new WeakSet<z.ZodType>();

/** Input bytes as standard base64, in a new array. */
export const bytes = () => {
  const schema = bytesSchema((text) => Uint8Array.fromBase64(text));
  made.add(schema);
  return schema;
};

/** Whether `schema` is one bytes() made (not a copy: .describe() and the like make new ones). */
export const isBytes = (schema: z.ZodType): boolean => made.has(schema);

/**
 * Scratch for scratchBytes(): a new array per decode costs more than the
 * decode itself (an ArrayBuffer outside the JS heap, freed by the GC).
 */
const scratch = new Uint8Array(4096);

/** Base64 text into `scratch`: the same bytes, or the same error, as Uint8Array.fromBase64. */
function intoScratch(text: string): Uint8Array {
  // 4 characters make at most 3 bytes, so the decode never runs out of room
  // (setFromBase64 would stop there without reading the rest).
  if (text.length > scratch.length) return Uint8Array.fromBase64(text);
  const { read, written } = scratch.setFromBase64(text);
  if (read !== text.length) return Uint8Array.fromBase64(text);
  return scratch.subarray(0, written);
}

/**
 * bytes(), decoding into one buffer shared by every scratchBytes() schema:
 * the array is valid only until the next such decode. Only for a call that
 * copies its bytes before it returns and runs nothing in between (one such
 * field per schema); routes/fast_path.ts says which calls.
 */
export const scratchBytes = () => bytesSchema(intoScratch);

const encoder = new TextEncoder();

/** An input string; null stands for a NULL pointer (which Zircon refuses). */
export const text = () =>
  z
    .string()
    .nullable()
    .describe("a UTF-8 string; null is a NULL pointer")
    .transform((value) => (value === null ? null : encoder.encode(value)));

/**
 * A JSON object of a struct's fields by name, taken as it came: z.record
 * would silently drop a "__proto__" key, and a refused key must be refused,
 * not ignored. `message` is the error for anything that is not an object.
 */
export function namedFields(message: string, description: string) {
  return z
    .custom<Record<string, unknown>>(
      (v) => typeof v === "object" && v !== null && !Array.isArray(v),
      { message },
    )
    .meta({ type: "object", additionalProperties: {} })
    .describe(description);
}
