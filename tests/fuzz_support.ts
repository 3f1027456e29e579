// Support for the property-based fuzz test (tests/fuzz.test.ts): requests
// generated with fast-check from the JSON schemas in /openapi.json, then
// mutated (wrong types, huge and negative numbers, numbers past 2^53,
// prototype keys, bad base64, deep nesting, unicode, missing and extra
// fields, empty and non-JSON bodies), sent in-process to two "manual" kernels
// (x64 and arm64) with a few live objects, and checked: never a 500, a JSON
// error body whenever the reply is not 2xx, and a refused call changes no
// state (the kernel summary, the registers of a suspended thread, a VMO).

import assert from "node:assert/strict";
import fc from "fast-check";
import { createApp } from "../routes/app.ts";
import { httpStatusFor } from "../routes/abi.ts";
import { BODY_LIMIT } from "../routes/http.ts";
import { CONSTANTS } from "../kernel/names.ts";
import { type Fetcher, type Json, send, TestKernel } from "./helpers.ts";

// ---------------------------------------------------------------------------
// A JSON model that can say what JSON.stringify cannot: "__proto__" and
// repeated keys, numbers past 2^53 as written, and handles picked at run time.

/** A number written as is in the JSON text ("9007199254740993", "1e400", "-0"). */
export class RawNum {
  constructor(readonly text: string) {}
}

/** A handle of the world, chosen when the request is sent: index into its handle list. */
export class HandleRef {
  /** `type`: a ZX_OBJ_TYPE name ("thread") the call likely wants, picked from first. */
  constructor(readonly index: number, readonly type?: string) {}
}

export class JObj {
  constructor(readonly entries: readonly (readonly [string, JVal])[]) {}
}

export class JArr {
  constructor(readonly items: readonly JVal[]) {}
}

/** `inner` wrapped `depth` times in arrays or {"a": ...} objects (a leaf to mutations). */
export class Nested {
  constructor(readonly depth: number, readonly object: boolean, readonly inner: JVal) {}
}

export type JVal = null | boolean | number | string | RawNum | HandleRef | JObj | JArr | Nested;

/** The JSON text of `value`, handles resolved by `handle`. */
export function toText(value: JVal, handle: (ref: HandleRef) => number): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : "null";
  if (typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (value instanceof RawNum) return value.text;
  if (value instanceof HandleRef) return String(handle(value));
  if (value instanceof Nested) {
    const inner = toText(value.inner, handle);
    return value.object
      ? `${'{"a":'.repeat(value.depth)}${inner}${"}".repeat(value.depth)}`
      : `${"[".repeat(value.depth)}${inner}${"]".repeat(value.depth)}`;
  }
  if (value instanceof JArr) return `[${value.items.map((v) => toText(v, handle)).join(",")}]`;
  return `{${
    value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toText(v, handle)}`).join(",")
  }}`;
}

// ---------------------------------------------------------------------------
// The operations of /openapi.json.

type Schema = Json;

export interface Operation {
  readonly method: string;
  /** "/v1/kernels/{id}/tokens", "/v1/zx/thread_read_state". */
  readonly path: string;
  readonly schema?: Schema;
  /** For syscalls and batches: the ABI and the syscall's name ("batch" for batches). */
  readonly abi?: string;
  readonly name?: string;
}

export function operationsOf(doc: Json): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(methods as Json)) {
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const m = /^\/v1\/(zx|mx)\/(\w+)$/.exec(path);
      ops.push({ method: method.toUpperCase(), path, schema, abi: m?.[1], name: m?.[2] });
    }
  }
  return ops.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

// ---------------------------------------------------------------------------
// Values from schemas.

const HANDLE_KEYS = new Set([
  "handle",
  "process",
  "thread",
  "job",
  "parent_job",
  "parent_vmar",
  "vmar",
  "vmo",
  "vmex",
  "port",
  "arg1",
]);

const U64_SPECIAL = [
  0n,
  1n,
  0x1000n,
  0x1000000n,
  0x2000000n,
  0xe00000n,
  0x7fff_ffff_ffffn,
  0x8000_0000_0000n,
  0xffff_ff80_0000_0000n,
  (1n << 53n) + 1n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
  1n << 64n,
];

const hexOf = (v: bigint) => `0x${v.toString(16)}`;

/** 64-bit values as the server takes them: numbers, "0x..." strings, decimal strings. */
const wideArb: fc.Arbitrary<JVal> = fc.oneof(
  fc.constantFrom(...U64_SPECIAL).map(hexOf),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(hexOf),
  fc.constantFrom(0, 1, 4096, 0x1000000, 0x2000000, -1, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.constantFrom("ZX_TIME_INFINITE", "0", "-1", "18446744073709551615"),
);

const base64Arb: fc.Arbitrary<JVal> = fc.oneof(
  fc.uint8Array({ maxLength: 48 }).map((b) => b.toBase64()),
  fc.constantFrom(0, 4, 144, 160, 512, 528, 4096).map((n) => new Uint8Array(n).toBase64()),
  fc.constantFrom("6/4=", "AAAUAA==", "aGVsbG8K"),
);

/** Register names both arches read or write, for `regs` objects. */
const REG_NAMES = [
  "rax",
  "rbx",
  "rip",
  "rsp",
  "rflags",
  "fs_base",
  "gs_base",
  "dr0",
  "dr7",
  "dr6",
  "dr[1]",
  "r[0]",
  "r[29]",
  "x0",
  "x30",
  "lr",
  "sp",
  "pc",
  "cpsr",
  "tpidr",
  "fp",
  "fcw",
  "fpcr",
  "zmm[2].v[0]",
  "v[0].low",
  "mxcsr",
  "step",
  "hw_bps[0].dbgbcr",
  "r",
];

function constantNames(description: string): string[] {
  const ns = /a (\w+) constant name/.exec(description)?.[1];
  const tables = ns && ns in CONSTANTS
    ? [CONSTANTS[ns as keyof typeof CONSTANTS]]
    : Object.values(CONSTANTS);
  const names = tables.flatMap((t) => Object.keys(t));
  return names.flatMap((n) => [`ZX_${n}`, `MX_${n}`]);
}

/** The object type a handle argument likely wants, from its name and the syscall's. */
function handleType(key: string, syscall: string): string | undefined {
  const byKey: Record<string, string> = {
    process: "process",
    thread: "thread",
    job: "job",
    parent_job: "job",
    vmar: "vmar",
    parent_vmar: "vmar",
    vmo: "vmo",
    port: "port",
  };
  if (byKey[key]) return byKey[key];
  if (key !== "handle") return undefined;
  const prefix = syscall.split("_")[0];
  if (syscall === "process_start" || syscall.startsWith("process_")) return "process";
  if (syscall.startsWith("task_")) return "thread";
  return ["thread", "vmo", "vmar", "channel", "port", "job"].includes(prefix) ? prefix : undefined;
}

/** Valid-looking values for `schema` (the key it sits under helps: handles, regs). */
export function arbFor(
  schema: Schema | undefined,
  key = "",
  depth = 0,
  syscall = "",
): fc.Arbitrary<JVal> {
  if (!schema || depth > 6) return fc.constant(null);
  const description = String(schema.description ?? "");
  if (schema.enum) return fc.constantFrom(...(schema.enum as JVal[]));
  if (schema.anyOf) {
    const branches = (schema.anyOf as Schema[]).map((s) =>
      arbFor({ description, ...s }, key, depth + 1, syscall)
    );
    // An integer|string pair is a 64-bit value: numbers and hex strings.
    const types = (schema.anyOf as Schema[]).map((s) => s.type).join();
    if (types === "integer,string") return wideArb;
    return fc.oneof(...branches);
  }
  const type = schema.type;
  if (Array.isArray(type)) {
    return fc.oneof(
      ...type.map((t: string) => arbFor({ ...schema, type: t }, key, depth + 1, syscall)),
    );
  }
  switch (type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer": {
      if (/handle value/.test(description) || HANDLE_KEYS.has(key)) {
        return fc.oneof(
          {
            weight: 8,
            arbitrary: fc.tuple(fc.nat({ max: 63 }), fc.nat({ max: 4 })).map(([i, typed]) =>
              new HandleRef(i, typed > 0 ? handleType(key, syscall) : undefined)
            ),
          },
          { weight: 1, arbitrary: fc.constantFrom(0, 1, 0xffff_ffff) },
          { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
        );
      }
      const min = Math.max(Number(schema.minimum ?? -(2 ** 53)), -(2 ** 53));
      const max = Math.min(Number(schema.maximum ?? 2 ** 53), 2 ** 53);
      const small = [0, 1, 2, 3, 4, 8, 16, 48, 144, 4096, 65536, 2 ** 31, 2 ** 32 - 1];
      return fc.oneof(
        fc.constantFrom(...small.filter((n) => n >= min && n <= max), min, max),
        fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }),
        fc.maxSafeInteger().filter((n) => n >= min && n <= max),
      );
    }
    case "number":
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case "string": {
      if (/constant name/.test(description)) return fc.constantFrom(...constantNames(description));
      if (/base64/.test(description) || ["bytes", "buffer", "packet"].includes(key)) {
        return base64Arb;
      }
      if (key === "name") return fc.oneof(fc.string({ maxLength: 40 }), fc.constant("worker"));
      return fc.oneof(fc.string({ maxLength: 12 }), wideArb);
    }
    case "array": {
      const item = arbFor(schema.items as Schema, key, depth + 1, syscall);
      const maxLength = Math.min(Number(schema.maxItems ?? 4), 4);
      return fc.array(item, { maxLength }).map((items) => new JArr(items));
    }
    case "object": {
      if (key === "regs") {
        return fc.uniqueArray(fc.tuple(fc.constantFrom(...REG_NAMES), wideArb), {
          maxLength: 4,
          selector: ([k]) => k,
        }).map((entries) => new JObj(entries));
      }
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const names = Object.keys(props);
      if (names.length === 0 && schema.additionalProperties) {
        const value = arbFor(schema.additionalProperties as Schema, key, depth + 1, syscall);
        return fc.array(fc.tuple(fc.constantFrom("u64", "u32", "u16", "c8"), value), {
          maxLength: 2,
        }).map((entries) => new JObj(entries));
      }
      return fc.tuple(
        ...names.map((name) =>
          fc.tuple(
            required.has(name) ? fc.constant(true) : fc.boolean(),
            arbFor(props[name], name, depth + 1, syscall),
          )
        ),
      ).map((fields) =>
        new JObj(
          fields.flatMap(([present, value], i) => present ? [[names[i], value] as const] : []),
        )
      );
    }
    default:
      // A schema with no type (a batch call's args): any JSON.
      return fc.oneof(fc.constant(new JObj([])), fc.jsonValue({ maxDepth: 2 }).map(fromJs));
  }
}

/** The model of a plain JS JSON value. */
export function fromJs(value: unknown): JVal {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return new JArr(value.map(fromJs));
  if (typeof value === "object") {
    return new JObj(Object.entries(value as Json).map(([k, v]) => [k, fromJs(v)]));
  }
  if (typeof value === "number" && Object.is(value, -0)) return new RawNum("-0");
  return value as JVal;
}

// ---------------------------------------------------------------------------
// Mutations.

export const PROTO_KEYS = [
  "__proto__",
  "toString",
  "constructor",
  "hasOwnProperty",
  "valueOf",
  "prototype",
  "__defineGetter__",
  "then",
];

/** Values no schema wants: wrong types, extremes, bad base64, prototype names, unicode. */
const wildArb: fc.Arbitrary<JVal> = fc.oneof(
  fc.constantFrom<JVal>(
    null,
    true,
    false,
    new RawNum("-0"),
    -1,
    1.5,
    -1.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    -(2 ** 53),
    new RawNum("9007199254740993"),
    new RawNum("18446744073709551616"),
    new RawNum("123456789012345678901234567890"),
    new RawNum("1e400"),
    new RawNum("-1e400"),
    new RawNum("1e-400"),
    new RawNum("0.1e1"),
    new RawNum("4294967296.0"),
    "",
    " ",
    "0x",
    "0x10000000000000000",
    "-0x1",
    "1_0",
    " 1",
    "NaN",
    "Infinity",
    "__proto__",
    "toString",
    "constructor",
    "ZX_NOPE",
    "ZX_RIGHT_READ",
    "AA!A",
    "A",
    "AAA",
    "====",
    "AAAA\n",
    "-_-_",
    "\u0000",
    "\ud800",
    "é\u{1f600}",
    new JArr([]),
    new JArr([null]),
    new JArr(["toString"]),
    new JObj([]),
    new JObj([["__proto__", new JObj([["rax", 1]])]]),
    new JObj([["toString", 1]]),
  ),
  fc.maxSafeInteger(),
  fc.double().map((d) =>
    Number.isFinite(d) ? d : new RawNum(String(d).replace("Infinity", "1e999"))
  ),
  fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }).map((b) => new RawNum(b.toString())),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ maxLength: 8 }).map((s) => `0x${s}`),
  fc.jsonValue({ maxDepth: 2 }).map(fromJs),
);

export type Mutation =
  | { readonly kind: "replace"; readonly at: number; readonly value: JVal }
  | { readonly kind: "delete"; readonly at: number }
  | { readonly kind: "extra"; readonly at: number; readonly key: string; readonly value: JVal }
  | { readonly kind: "nest"; readonly at: number; readonly depth: number; readonly object: boolean }
  | { readonly kind: "huge"; readonly at: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: wildArb }),
  },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("extra" as const),
      at: fc.nat(),
      key: fc.oneof(fc.constantFrom(...PROTO_KEYS, "x", "handle", ""), fc.string({ maxLength: 6 })),
      value: wildArb,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("nest" as const),
      at: fc.nat(),
      depth: fc.oneof(fc.integer({ min: 2, max: 64 }), fc.constantFrom(1000, 10_000, 100_000)),
      object: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("huge" as const), at: fc.nat() }) },
);

const HUGE = "A".repeat(BODY_LIMIT + 16);

/** Every place in `value` a mutation can go: a path of indices (into entries or items). */
function places(value: JVal, path: number[] = [], out: number[][] = []): number[][] {
  out.push(path);
  if (value instanceof JObj) value.entries.forEach(([, v], i) => places(v, [...path, i], out));
  if (value instanceof JArr) value.items.forEach((v, i) => places(v, [...path, i], out));
  return out;
}

function update(value: JVal, path: number[], f: (v: JVal) => JVal | undefined): JVal {
  if (path.length === 0) return f(value) ?? null;
  const [i, ...rest] = path;
  if (value instanceof JObj) {
    const entries = value.entries.flatMap(([k, v], j) => {
      if (j !== i) return [[k, v] as const];
      const next = rest.length === 0 ? f(v) : update(v, rest, f);
      return next === undefined ? [] : [[k, next] as const];
    });
    return new JObj(entries);
  }
  if (value instanceof JArr) {
    return new JArr(value.items.flatMap((v, j) => {
      if (j !== i) return [v];
      const next = rest.length === 0 ? f(v) : update(v, rest, f);
      return next === undefined ? [] : [next];
    }));
  }
  return value;
}

export function mutate(body: JVal, m: Mutation): JVal {
  const all = places(body);
  const path = all[m.at % all.length];
  switch (m.kind) {
    case "replace":
      return update(body, path, () => m.value);
    case "delete":
      return path.length === 0 ? body : update(body, path, () => undefined);
    case "extra": {
      // Onto the nearest object at or above the place.
      const objects = all.filter((p) => {
        let v: JVal = body;
        for (const i of p) v = v instanceof JObj ? v.entries[i][1] : (v as JArr).items[i];
        return v instanceof JObj;
      });
      if (objects.length === 0) return body;
      const at = objects[m.at % objects.length];
      return update(body, at, (v) => new JObj([...(v as JObj).entries, [m.key, m.value]]));
    }
    case "nest":
      return update(body, path, (v) => new Nested(m.depth, m.object, v));
    case "huge":
      return update(body, path, () => HUGE);
  }
}

// ---------------------------------------------------------------------------
// Requests.

export type Body =
  | { readonly kind: "json"; readonly value: JVal }
  | { readonly kind: "raw"; readonly text: string }
  | { readonly kind: "bytes"; readonly bytes: readonly number[] }
  | { readonly kind: "none" };

export interface Case {
  readonly op: number;
  readonly arch: "x64" | "arm64";
  readonly body: Body;
  /** The bearer token: the world's, none, junk, or the other world's. */
  readonly token: "good" | "none" | "junk" | "other";
  /** The {id} of kernel routes: the world's, the other world's, junk, or a deleted kernel's. */
  readonly id: "own" | "other" | "junk" | "deleted";
  /** Another method than the documented one (a 405, or a 404). */
  readonly method?: string;
  readonly contentType: "json" | "text" | "none";
  readonly query?: string;
}

const RAW_BODIES = [
  "",
  " ",
  "\n",
  "null",
  "0",
  "true",
  '"x"',
  "[]",
  "[{}]",
  "{",
  "}",
  '{"handle":',
  '{"handle":1,}',
  "{'handle':1}",
  "{handle:1}",
  '{"handle":1}{"handle":2}',
  "\ufeff{}",
  "NaN",
  '{"a":1e999999}',
  "[".repeat(100_000),
  `{"calls":${"[".repeat(50_000)}`,
];

export function caseArb(ops: readonly Operation[]): fc.Arbitrary<Case> {
  const perOp = ops.map((op) => {
    const valid = op.schema ? arbFor(op.schema, "", 0, op.name) : fc.constant(new JObj([]));
    const batch = op.name === "batch" && op.abi
      ? batchArb(ops.filter((o) => o.abi === op.abi && o.name !== "batch"))
      : undefined;
    const json = fc.tuple(
      batch ?? valid,
      fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) },
      ),
    ).map(
      ([value, mutations]) => mutations.reduce(mutate, value),
    );
    return fc.oneof(
      { weight: 12, arbitrary: json.map((value): Body => ({ kind: "json", value })) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...RAW_BODIES).map((text): Body => ({ kind: "raw", text })),
      },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.string({ unit: "binary", maxLength: 30 }).map((text): Body => ({ kind: "raw", text })),
          fc.array(fc.nat({ max: 255 }), { maxLength: 16 }).map((bytes): Body => ({
            kind: "bytes",
            bytes: [0xff, 0xfe, ...bytes],
          })),
          fc.constant<Body>({ kind: "none" }),
        ),
      },
    );
  });
  return fc.nat({ max: ops.length - 1 }).chain((op) =>
    fc.record({
      op: fc.constant(op),
      arch: fc.constantFrom("x64" as const, "arm64" as const),
      body: perOp[op],
      token: fc.oneof(
        { weight: 20, arbitrary: fc.constant("good" as const) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("none" as const, "junk" as const, "other" as const),
        },
      ),
      id: fc.oneof(
        { weight: 10, arbitrary: fc.constant("own" as const) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("other" as const, "junk" as const, "deleted" as const),
        },
      ),
      method: fc.oneof(
        { weight: 30, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("GET", "PUT", "PATCH", "DELETE", "POST", "OPTIONS"),
        },
      ),
      contentType: fc.oneof(
        { weight: 20, arbitrary: fc.constant("json" as const) },
        { weight: 1, arbitrary: fc.constantFrom("text" as const, "none" as const) },
      ),
      query: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "from=0",
            "from=-1",
            "from=x",
            "from=1e999",
            "from=2",
            "from=",
          ),
        },
      ),
    })
  );
}

function batchArb(ops: readonly Operation[]): fc.Arbitrary<JVal> {
  const call = fc.nat({ max: ops.length - 1 }).chain((i) =>
    fc.tuple(fc.constant(ops[i].name!), arbFor(ops[i].schema, "", 0, ops[i].name)).map((
      [name, args],
    ) => new JObj([["name", name], ["args", args]]))
  );
  return fc.tuple(
    fc.array(call, { maxLength: 4 }),
    fc.option(fc.constantFrom("stop_on_error", "continue"), { nil: undefined }),
  ).map(([calls, mode]) =>
    new JObj([["calls", new JArr(calls)], ...(mode ? [["mode", mode] as const] : [])])
  );
}

// ---------------------------------------------------------------------------
// The world: two manual kernels with live objects, and their snapshots.

/** Syscalls that close handles they are given even when they fail (as Zircon does). */
const CONSUMING = new Set([
  "handle_close_many",
  "handle_replace",
  "process_start",
  "channel_write",
  "channel_call",
  "vmo_replace_as_executable",
]);

/** What a refused call must leave as it was. */
interface Snapshot {
  /**
   * GET /v1/kernels/{id} without `now` (a refused blocking call lets virtual
   * time pass) and without the server-wide counts in `limits`.
   */
  readonly summary: Json;
  /** The suspended thread's registers of each kind (both ABIs), and the VMO. */
  readonly reads: readonly Json[];
  /** The suspended thread or the VMO is gone: the world is rebuilt before its next case. */
  readonly worn: boolean;
}

export class World {
  snapshot?: Snapshot;
  /** Requests this world has taken (rebuilt after 300, or when it broke down). */
  uses = 0;

  private constructor(
    readonly k: TestKernel,
    readonly suspended: number,
    readonly vmo: number,
  ) {}

  static async create(fetcher: Fetcher, arch: string): Promise<World> {
    const k = await TestKernel.create(fetcher, { arch, boot_options: { scheduler: "manual" } });
    const { thread } = await k.suspendedThread("0x1000000", "0x2000000", 1, 2);
    await k.runningThread();
    await k.newThread(k.handles.process, "new");
    const { out: vmo } = await k.ok("vmo_create", { size: 16384 });
    await k.ok("vmo_write", { handle: vmo, buffer: "aGVsbG8K", offset: 0 });
    await k.ok("vmo_create", { size: 4096, options: "ZX_VMO_RESIZABLE" });
    await k.ok("channel_create", {});
    await k.ok("port_create", {});
    const { proc_handle } = await k.ok("process_create", { job: k.handles.root_job, name: "app" });
    await k.newThread(proc_handle, "main");
    await k.ok("job_create", { parent_job: k.handles.root_job });
    const closed = await k.dup(thread);
    await k.ok("handle_close", { handle: closed });
    const world = new World(k, thread, vmo);
    world.snapshot = await world.take();
    assert.ok(world.snapshot && !world.snapshot.worn, "a new world answers its snapshot");
    return world;
  }

  /** The bootstrap process's handle values, sorted (what HandleRef indexes). */
  handles(): number[] {
    return this.typedHandles().map((h) => h.handle);
  }

  /** The bootstrap process's handles with their types, by value. */
  typedHandles(): { handle: number; type: string }[] {
    const procs: Json[] = this.snapshot?.summary.root_job.processes ?? [];
    const own = procs.find((p) => p.koid === this.snapshot?.summary.caller.process);
    const handles: { handle: number; type: string }[] = (own?.handles ?? []).map((h: Json) => ({
      handle: h.handle,
      type: h.type_name,
    }));
    return handles.sort((a, b) => a.handle - b.handle);
  }

  /**
   * Lets the kernel's threads run a while: in a manual kernel threads run only
   * when asked, so a thread a call started (and its fault, which kills its
   * process) would otherwise happen in the next blocking call, refused or not.
   */
  async settle(): Promise<void> {
    const k = this.k;
    await send(k.fetcher, `/v1/kernels/${k.id}/advance`, { instructions: 20_000 }, k.token);
  }

  /** The state, or undefined if the world can no longer answer (its token or kernel gone). */
  async take(): Promise<Snapshot | undefined> {
    const k = this.k;
    const summary = await send(k.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "GET");
    if (summary.http !== 200) return undefined;
    delete summary.body.now;
    // Server-wide counts (kernels, blocked requests) are not this kernel's state.
    delete summary.body.limits?.kernels;
    delete summary.body.limits?.blocked_calls;
    const reads: Json[] = [];
    for (const kind of [0, 1, 2, 4, 5]) {
      reads.push((await k.call("thread_read_state", { handle: this.suspended, kind })).body);
    }
    reads.push((await k.mx("thread_read_state", { handle: this.suspended, kind: 0 })).body);
    reads.push((await k.call("vmo_get_size", { handle: this.vmo })).body);
    reads.push((await k.call("vmo_read", { handle: this.vmo, offset: 0, buffer_size: 64 })).body);
    // A world whose suspended thread or VMO is gone is worn out: rebuild it.
    return { summary: summary.body, reads, worn: [0, 6, 7].some((i) => reads[i].code !== 0) };
  }
}

/**
 * Bugs found and not fixed yet: cases that would hit them are not sent, so the
 * suite stays green while tests/fuzz_regressions.test.ts keeps each one (its
 * test disabled until the fix). Remove an entry when its regression passes.
 */
export const KNOWN_BUGS: readonly {
  readonly name: string;
  readonly matches: (method: string, path: string, body: unknown) => boolean;
}[] = [];

/** A body for a message: long runs of one character shortened ("[" x 2500). */
function abridged(text: string): string {
  // A scan, not a regex: a backreference regex overflows the stack on 1 MiB bodies.
  let out = "";
  for (let i = 0; i < text.length && out.length <= 3000;) {
    let j = i + 1;
    while (j < text.length && text[j] === text[i]) j++;
    out += j - i >= 40 ? `${text[i].repeat(8)}…(${text[i]} x ${j - i})…` : text.slice(i, j);
    i = j;
  }
  return out.length > 3000 ? `${out.slice(0, 3000)}…` : out;
}

/** The integers anywhere in a request: the handles a consuming call may have closed. */
function integersIn(text: string): Set<number> {
  return new Set((text.match(/-?\d+/g) ?? []).map(Number));
}

export interface Outcome {
  /** The operation's "METHOD /path". */
  readonly route: string;
  readonly request: string;
  readonly http: number;
  readonly reply: string;
}

/** Runs cases against a fresh app and checks each reply and what it left behind. */
export class Fuzzer {
  readonly app;
  readonly fetcher: Fetcher;
  worlds = new Map<string, World>();
  deletedId = "";
  requests = 0;
  rebuilds = 0;
  /** Cases not sent because they hit a known bug (KNOWN_BUGS). */
  skipped = 0;
  /** The last requests and their replies (for failure messages). */
  history: string[] = [];

  constructor(readonly ops: readonly Operation[]) {
    this.app = createApp({ maxBlockMs: 5 }).app;
    this.fetcher = async (path, init) => await this.app.request(path, init);
  }

  static async create(): Promise<Fuzzer> {
    const { app } = createApp();
    const doc = await (await app.request("/openapi.json")).json();
    const fuzzer = new Fuzzer(operationsOf(doc));
    const gone = await TestKernel.create(fuzzer.fetcher, {}, false);
    await send(fuzzer.fetcher, `/v1/kernels/${gone.id}`, undefined, gone.token, "DELETE");
    fuzzer.deletedId = gone.id;
    return fuzzer;
  }

  async world(arch: string): Promise<World> {
    let world = this.worlds.get(arch);
    if (!world || !world.snapshot || world.snapshot.worn || world.uses >= 300) {
      if (world) {
        await send(this.fetcher, `/v1/kernels/${world.k.id}`, undefined, world.k.token, "DELETE");
      }
      world = await World.create(this.fetcher, arch);
      this.worlds.set(arch, world);
      this.rebuilds++;
    }
    return world;
  }

  /** The request a case makes, in the world it is made in. */
  build(
    c: Case,
    world: World,
    other: World | undefined,
    acting = world,
  ): { path: string; init: RequestInit } {
    const op = this.ops[c.op];
    const typed = acting.typedHandles();
    const handle = (ref: HandleRef) => {
      const ofType = typed.filter((h) => h.type === ref.type);
      const from = ofType.length ? ofType : typed;
      return from.length ? from[ref.index % from.length].handle : 0;
    };
    const id = {
      own: world.k.id,
      other: other?.k.id ?? "nope",
      junk: "%2e%2e",
      deleted: this.deletedId,
    }[c.id];
    let path = op.path.replace("{id}", id);
    if (c.query && path.endsWith("/debuglog")) path += `?${c.query}`;
    const method = c.method ?? op.method;
    const headers: Record<string, string> = {};
    if (c.contentType === "json") headers["content-type"] = "application/json";
    if (c.contentType === "text") headers["content-type"] = "text/plain";
    const token = {
      good: world.k.token,
      none: undefined,
      junk: "junk",
      other: other?.k.token ?? "x",
    }[c.token];
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let body: BodyInit | undefined;
    if (method !== "GET" && method !== "HEAD") {
      switch (c.body.kind) {
        case "json":
          body = toText(c.body.value, handle);
          break;
        case "raw":
          body = c.body.text;
          break;
        case "bytes":
          body = Uint8Array.from(c.body.bytes);
          break;
      }
    }
    return { path, init: { method, headers, body } };
  }

  /** One case: sends it, checks the reply and the state it leaves. Throws on a failure. */
  async run(c: Case): Promise<Outcome> {
    try {
      return await this.#run(c);
    } catch (error) {
      // A failed case starts the next (a shrink) in a new world.
      const world = this.worlds.get(c.arch);
      if (world) world.snapshot = undefined;
      throw error;
    }
  }

  async #run(c: Case): Promise<Outcome> {
    const home = await this.world(c.arch);
    const away = c.token === "other" || c.id === "other"
      ? await this.world(c.arch === "x64" ? "arm64" : "x64")
      : this.worlds.get(c.arch === "x64" ? "arm64" : "x64");
    // With the other world's token the call is that world's thread's: check that world.
    const world = c.token === "other" && away ? away : home;
    const other = world === home ? away : home;
    const op = this.ops[c.op];
    const before = world.snapshot!;
    const handlesBefore = world.handles();
    const { path, init } = this.build(c, home, away, world);
    const shown = `${init.method} ${path} ${
      typeof init.body === "string"
        ? abridged(init.body)
        : init.body
        ? `bytes ${JSON.stringify([...(init.body as Uint8Array)])}`
        : "(no body)"
    } [token ${c.token}, content-type ${c.contentType}]`;
    const route = `${op.method} ${op.path}`;
    const known = KNOWN_BUGS.find((bug) => bug.matches(init.method!, path, init.body));
    if (known) {
      this.skipped++;
      return { route, request: shown, http: 0, reply: `skipped: known bug, ${known.name}` };
    }
    let response: Response;
    let text: string;
    try {
      response = await this.fetcher(path, init);
      text = await response.text();
    } catch (error) {
      // The app itself threw: no reply at all (worse than a 500).
      throw new Error(`the request threw ${error}\n  request: ${shown}`);
    }
    this.requests++;
    world.uses++;
    const outcome = { route, request: shown, http: response.status, reply: text.slice(0, 2000) };
    const previous = this.history.join("\n    ");
    this.history = [
      ...this.history.slice(-5),
      `[${c.arch}] ${shown} -> ${response.status} ${abridged(text).slice(0, 300)}`,
    ];
    const fail = (why: string): never => {
      throw new Error(
        `${why}\n  request: ${shown}\n  reply: ${response.status} ${abridged(text)}\n` +
          `  (the requests before:\n    ${previous})`,
      );
    };

    // Never a 500; a 5xx only as a Zircon status documented there (501, 503, 504).
    if (response.status === 500 || response.status > 504) fail("a 5xx reply");
    let body: Json | undefined;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      if (response.ok && op.method === "GET" && (c.method ?? op.method) === "GET") {
        return outcome; // (no GET route in the fuzz list answers anything but JSON; kept lenient)
      }
      fail("a reply that is not JSON");
    }
    const ok = response.status >= 200 && response.status < 300;
    if (!ok) {
      if (!body || typeof body !== "object") fail("an error without a JSON body");
      if (typeof body!.status !== "string") fail("an error without status");
      if (typeof body!.code !== "number" || body!.code === 0) fail("an error without code");
      if (typeof body!.message !== "string" || body!.message === "") {
        fail("an error without message");
      }
      if (response.status >= 500 && httpStatusFor(body!.code) !== response.status) {
        fail("a 5xx that is not the HTTP status of its Zircon status");
      }
    }
    // Created kernels are cleaned up at once (the server caps how many exist).
    if (response.status === 201 && typeof body?.kernel === "string" && body.token) {
      await send(this.fetcher, `/v1/kernels/${body.kernel}`, undefined, body.token, "DELETE");
    }
    const refused = !ok || (typeof body?.code === "number" && body.code !== 0);
    // The case may have reached the other world too (its id, its token): a new baseline there.
    if (other && (c.token === "other" || c.id === "other")) {
      await other.settle();
      other.snapshot = await other.take();
    }
    if (!refused) await world.settle();
    const after = await world.take();
    if (!refused) {
      world.snapshot = after; // a new baseline, or a rebuild next time
      return outcome;
    }
    if (!after) fail("a refused call left the world unable to answer");
    world.snapshot = after;
    const consumer = refused && op.name !== undefined && CONSUMING.has(op.name) &&
      (c.method ?? op.method) === op.method;
    const handlesAfter = world.handles();
    const gone = handlesBefore.filter((h) => !handlesAfter.includes(h));
    if (consumer && gone.length > 0) {
      // Zircon closes the handles these calls were given, failure or not: only those.
      const named = integersIn(typeof init.body === "string" ? init.body : "");
      const added = handlesAfter.filter((h) => !handlesBefore.includes(h));
      if (added.length > 0) fail(`a refused call added handles ${added}`);
      const unnamed = gone.filter((h) => !named.has(h));
      if (unnamed.length > 0) fail(`a refused call closed handles it was not given: ${unnamed}`);
      return outcome;
    }
    try {
      assert.deepEqual(after!.summary, before.summary, "the kernel summary");
      assert.deepEqual(after!.reads, before.reads, "the registers and the VMO");
    } catch (error) {
      fail(`a refused call changed state: ${(error as Error).message.slice(0, 3000)}`);
    }
    return outcome;
  }

  /** Known-good calls after the run: a fresh kernel works, and so do the worlds. */
  async checkStillWorks(): Promise<void> {
    const k = await TestKernel.create(this.fetcher, { arch: "x64" });
    const { thread } = await k.suspendedThread("0x1000000", "0x2000000", 7, 8);
    const regs = (await k.ok("thread_read_state", { handle: thread, kind: 0 })).regs;
    assert.equal(regs.rip, "0x0000000001000000");
    assert.equal(regs.rdi, "0x0000000000000007");
    const { out: vmo } = await k.ok("vmo_create", { size: 4096 });
    await k.ok("vmo_write", { handle: vmo, buffer: "aGVsbG8K", offset: 0 });
    const read = await k.ok("vmo_read", { handle: vmo, offset: 0, buffer_size: 6 });
    assert.equal(read.buffer, "aGVsbG8K");
    const bad = await k.call("handle_close", { handle: 1.5 });
    assert.equal(bad.http, 400);
    assert.equal(bad.body.status, "ZX_ERR_INVALID_ARGS");
    await send(this.fetcher, `/v1/kernels/${k.id}`, undefined, k.token, "DELETE");
    for (const world of this.worlds.values()) {
      await send(this.fetcher, `/v1/kernels/${world.k.id}`, undefined, world.k.token, "DELETE");
    }
    this.worlds.clear();
  }
}
