// Byte layouts of the C structs zxsim exchanges with callers (register sets
// for now), written down once as data. Everything else -- the flat field
// list, the JSON view, applying JSON edits, offset lookups -- is derived
// from that description, so a layout is checked in exactly one place.
//
// All multi-byte values are little endian, as on both supported CPUs.

/** Scalar member types, named after the C fixed-width unsigned integers. */
export type ScalarType = "u8" | "u16" | "u32" | "u64";

/** Width in bytes of each scalar type. */
export const SCALAR_SIZE: Readonly<Record<ScalarType, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };

/** A scalar member, or an array of `count` scalars. */
export interface ScalarMember {
  readonly kind: "scalar";
  readonly name: string;
  readonly offset: number;
  readonly type: ScalarType;
  /** Present for arrays: number of elements. */
  readonly count?: number;
  /** Documented as output only (e.g. arm64 `far`); writes are the arch's business. */
  readonly readOnly: boolean;
}

/** A nested struct member, or an array of `count` of them. */
export interface StructMember {
  readonly kind: "struct";
  readonly name: string;
  readonly offset: number;
  readonly layout: StructLayout;
  readonly count?: number;
  readonly readOnly: boolean;
}

/** Explicit padding bytes: never shown, never writable. */
export interface PaddingMember {
  readonly kind: "padding";
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

export type Member = ScalarMember | StructMember | PaddingMember;

/** One scalar leaf of a flattened layout (padding is never a leaf). */
export interface FieldInfo {
  /** Path as users spell it: "rax", "zmm[3].v[2]", "hw_bps[0].dbgbcr". */
  readonly path: string;
  /** Byte offset from the start of the outermost struct. */
  readonly offset: number;
  readonly type: ScalarType;
  readonly readOnly: boolean;
}

/** A padding run of a flattened layout. */
export interface PaddingInfo {
  readonly path: string;
  readonly offset: number;
  readonly size: number;
}

// ---------------------------------------------------------------------------
// Member constructors (the vocabulary used by the regsets.ts files)

export interface MemberOptions {
  readonly readOnly?: boolean;
}

/** A single scalar at `offset`. */
export function scalar(
  name: string,
  offset: number,
  type: ScalarType,
  opts: MemberOptions = {},
): ScalarMember {
  return { kind: "scalar", name, offset, type, readOnly: opts.readOnly ?? false };
}

/** An array of `count` scalars or structs starting at `offset`. */
export function array(
  name: string,
  offset: number,
  elem: ScalarType | StructLayout,
  count: number,
  opts: MemberOptions = {},
): ScalarMember | StructMember {
  const readOnly = opts.readOnly ?? false;
  return typeof elem === "string"
    ? { kind: "scalar", name, offset, type: elem, count, readOnly }
    : { kind: "struct", name, offset, layout: elem, count, readOnly };
}

/** A single nested struct at `offset`. */
export function nested(
  name: string,
  offset: number,
  layout: StructLayout,
  opts: MemberOptions = {},
): StructMember {
  return { kind: "struct", name, offset, layout, readOnly: opts.readOnly ?? false };
}

/** `size` bytes of explicit padding at `offset`. */
export function padding(name: string, offset: number, size: number): PaddingMember {
  return { kind: "padding", name, offset, size };
}

/** Consecutive u64 scalars starting at `offset`, 8 bytes apart. */
export function u64Run(offset: number, names: readonly string[]): ScalarMember[] {
  return names.map((name, i) => scalar(name, offset + 8 * i, "u64"));
}

/**
 * Another name for a field, accepted wherever named values are given
 * (applyNamed) but never produced: reads keep the struct's own names.
 */
export interface FieldAlias {
  /** The name people use: "x0", "fp", "dr0". */
  readonly alias: string;
  /** The field it stands for, as the layout spells its path: "r[0]", "lr". */
  readonly path: string;
}

/** `alias` for the field at `path`. */
export function alias(alias: string, path: string): FieldAlias {
  return { alias, path };
}

/** `prefix`0 .. `prefix`(count-1) for the elements `array`[0] .. `array`[count-1]. */
export function aliasRun(prefix: string, array: string, count: number): FieldAlias[] {
  return Array.from({ length: count }, (_, i) => alias(`${prefix}${i}`, `${array}[${i}]`));
}

// ---------------------------------------------------------------------------
// Byte helpers

/** Little-endian u64 at `offset` of `bytes`. */
export function getU64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);
}

/** Stores `value` (taken modulo 2^64) little endian at `offset` of `bytes`. */
export function setU64(bytes: Uint8Array, offset: number, value: bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .setBigUint64(offset, BigInt.asUintN(64, value), true);
}

/** Little-endian u32 at `offset` of `bytes`, without allocating. */
export function getU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
    (bytes[offset + 3] << 24)) >>> 0;
}

/** Stores the low 32 bits of `value` little endian at `offset`, without allocating. */
export function setU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

/** "0x" followed by 16 lowercase hex digits: how u64 values appear in JSON. */
export function hex64(value: bigint): string {
  return "0x" + BigInt.asUintN(64, value).toString(16).padStart(16, "0");
}

// ---------------------------------------------------------------------------
// The layout itself

/** A pending store collected while validating applyNamed input. */
interface PendingWrite {
  /** The field as the caller named it (an alias stays an alias), for messages. */
  readonly path: string;
  readonly offset: number;
  readonly type: ScalarType;
  readonly value: bigint;
}

/** Where a (partial) path points inside a layout. */
type Target =
  | { readonly kind: "struct"; readonly layout: StructLayout; readonly offset: number }
  | {
    readonly kind: "array";
    readonly member: ScalarMember | StructMember;
    readonly offset: number;
  }
  | { readonly kind: "leaf"; readonly type: ScalarType; readonly offset: number }
  | { readonly kind: "padding" };

/** Raised internally while validating; converted to the returned message. */
class NamedError extends Error {}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const HEX = /^(-?)0x([0-9a-f]+(?:_[0-9a-f]+)*)$/i;
const DEC = /^(-?)([0-9]+(?:_[0-9]+)*)$/;

/**
 * An integer as JSON strings spell it everywhere in zxsim: decimal or "0x"
 * hex, an optional "-", underscores allowed between digits, nothing else (no
 * spaces). Undefined when the text is not such an integer.
 */
export function parseIntegerText(text: string): bigint | undefined {
  const h = HEX.exec(text);
  const d = h === null ? DEC.exec(text) : null;
  if (h === null && d === null) return undefined;
  const magnitude = h !== null
    ? BigInt("0x" + h[2].replaceAll("_", ""))
    : BigInt(d![2].replaceAll("_", ""));
  return (h ?? d)![1] === "-" ? -magnitude : magnitude;
}

/** The description of one C struct, checked when it is built. */
export class StructLayout {
  /** Members as declared, sorted by offset. */
  readonly members: readonly Member[];
  /** Every scalar leaf, in offset order (padding excluded). */
  readonly fields: readonly FieldInfo[];
  /** Every padding run, in offset order. */
  readonly paddings: readonly PaddingInfo[];
  /** Largest scalar alignment inside (the C alignment of the struct). */
  readonly align: number;
  /** Other names for fields, accepted on input only (see FieldAlias). */
  readonly aliases: readonly FieldAlias[];
  private readonly byName: ReadonlyMap<string, Member>;
  private readonly byPath: ReadonlyMap<string, FieldInfo>;
  private readonly byOffset: ReadonlyMap<number, FieldInfo>;
  private readonly aliasPaths: ReadonlyMap<string, string>;

  /**
   * @param name the C type name, used in messages
   * @param size the C sizeof; the members must cover exactly these bytes
   * @param members every field and padding run, with explicit offsets
   * @param aliases other names for some fields (input only)
   * @throws Error when the members overlap, leave a gap, are misaligned or
   *   do not add up to `size`, or an alias names no field or hides a member
   *   -- a mistake in the description, found at load.
   */
  constructor(
    readonly name: string,
    readonly size: number,
    members: readonly Member[],
    aliases: readonly FieldAlias[] = [],
  ) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`${name}: bad size ${size}`);
    const owner = new Array<string | undefined>(size);
    const byName = new Map<string, Member>();
    let align = 1;
    let end = 0;
    for (const m of members) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m.name)) {
        throw new Error(`${name}: bad member name "${m.name}"`);
      }
      if (byName.has(m.name)) throw new Error(`${name}: duplicate member "${m.name}"`);
      byName.set(m.name, m);
      const [elemSize, elemAlign] = m.kind === "scalar"
        ? [SCALAR_SIZE[m.type], SCALAR_SIZE[m.type]]
        : m.kind === "struct"
        ? [m.layout.size, m.layout.align]
        : [1, 1];
      const count = m.kind === "padding" ? m.size : (m.count ?? 1);
      if (!Number.isSafeInteger(count) || count <= 0) {
        throw new Error(`${name}.${m.name}: bad element count ${count}`);
      }
      if (!Number.isSafeInteger(m.offset) || m.offset < 0 || m.offset % elemAlign !== 0) {
        throw new Error(`${name}.${m.name}: offset ${m.offset} is not ${elemAlign}-aligned`);
      }
      align = Math.max(align, elemAlign);
      const memberEnd = m.offset + elemSize * count;
      end = Math.max(end, memberEnd);
      if (memberEnd > size) {
        throw new Error(`${name}.${m.name}: ends at ${memberEnd}, past sizeof ${size}`);
      }
      for (let b = m.offset; b < memberEnd; b++) {
        if (owner[b] !== undefined) {
          throw new Error(`${name}: "${m.name}" overlaps "${owner[b]}" at byte ${b}`);
        }
        owner[b] = m.name;
      }
    }
    for (let b = 0; b < size; b++) {
      if (owner[b] === undefined) {
        throw new Error(`${name}: byte ${b} belongs to no member (declare the padding)`);
      }
    }
    if (end !== size) throw new Error(`${name}: members end at ${end}, sizeof is ${size}`);
    if (size % align !== 0) throw new Error(`${name}: sizeof ${size} not a multiple of ${align}`);

    this.members = [...members].sort((a, b) => a.offset - b.offset);
    this.byName = byName;
    this.align = align;
    const fields: FieldInfo[] = [];
    const paddings: PaddingInfo[] = [];
    flatten(this, 0, "", false, fields, paddings);
    this.fields = fields;
    this.paddings = paddings;
    this.byPath = new Map(fields.map((f) => [f.path, f]));
    this.byOffset = new Map(fields.map((f) => [f.offset, f]));
    const aliasPaths = new Map<string, string>();
    for (const a of aliases) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.alias)) {
        throw new Error(`${name}: bad alias name "${a.alias}"`);
      }
      if (byName.has(a.alias)) throw new Error(`${name}: alias "${a.alias}" hides a member`);
      if (aliasPaths.has(a.alias)) throw new Error(`${name}: duplicate alias "${a.alias}"`);
      if (!this.byPath.has(a.path)) {
        throw new Error(`${name}: alias "${a.alias}" names no field "${a.path}"`);
      }
      aliasPaths.set(a.alias, a.path);
    }
    this.aliases = aliases;
    this.aliasPaths = aliasPaths;
  }

  /** The field path an alias stands for ("x0" -> "r[0]"), or undefined. */
  aliasOf(name: string): string | undefined {
    return this.aliasPaths.get(name);
  }

  /**
   * The names a caller may use, for messages and docs: "r[0..29], lr, sp,
   * pc, cpsr, tpidr" (nested structs as "st[0..7].{low, high}").
   */
  describeNames(): string {
    return this.members.filter((m) => m.kind !== "padding").map(describeMember).join(", ");
  }

  /** The aliases, runs folded: "x0..x29 = r[0..29], x30 = lr, fp = r[29]" ("" when none). */
  describeAliases(): string {
    return foldAliases(this.aliases).join(", ");
  }

  /** The leaf at `path` ("rip", "zmm[3].v[2]"), or undefined. */
  field(path: string): FieldInfo | undefined {
    return this.byPath.get(path);
  }

  /** Byte offset of the leaf at `path`; throws for an unknown path (a programming error). */
  offsetOf(path: string): number {
    const f = this.byPath.get(path);
    if (f === undefined) throw new Error(`${this.name}: no field "${path}"`);
    return f.offset;
  }

  /** The member called `name` (top level only). */
  member(name: string): Member | undefined {
    return this.byName.get(name);
  }

  /**
   * A JSON view of `bytes` (at least `size` long): structs become objects,
   * arrays JSON arrays, u64 values "0x%016x" strings, narrower integers
   * numbers. Padding does not appear.
   */
  toNamed(bytes: Uint8Array): Record<string, unknown> {
    if (bytes.length < this.size) {
      throw new RangeError(`${this.name}: ${bytes.length} bytes, need ${this.size}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return structToNamed(this, view, 0);
  }

  /**
   * Overlays the values in `named` onto `target` in place; fields not
   * mentioned keep their bytes. `named` is an object shaped like toNamed's
   * result (arrays may be shorter; a null element or value means "keep") or
   * uses flattened keys such as "zmm[3].v[2]"; both may be mixed. Values are
   * integers given as JSON numbers (safe integers), bigints, or strings of
   * decimal digits or "0x" hex (underscores allowed between digits). A
   * negative value is stored as its two's complement in the field's width,
   * so it must fit the signed range (rax = -6 gives 0xfffffffffffffffa).
   * The layout's aliases are accepted as keys ("x0" for "r[0]"); naming one
   * field twice in one write ("x29" and "fp", "r[0]" and "x0") is an error.
   *
   * @returns null on success, otherwise a message naming the offending field
   *   path; on error `target` is left exactly as it was.
   */
  applyNamed(target: Uint8Array, named: unknown): string | null {
    if (target.length < this.size) {
      return `${this.name}: buffer has ${target.length} bytes, need ${this.size}`;
    }
    const writes: PendingWrite[] = [];
    try {
      collect({ kind: "struct", layout: this, offset: 0 }, named, "", writes);
    } catch (e) {
      if (e instanceof NamedError) return e.message;
      throw e;
    }
    const twice = this.namedTwice(writes);
    if (twice !== null) return twice;
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    for (const w of writes) store(view, w.offset, w.type, w.value);
    return null;
  }

  /** Why one write names a field twice ("x29" and "fp", "r[0]" and "x0"), or null. */
  private namedTwice(writes: readonly PendingWrite[]): string | null {
    if (writes.length < 2) return null;
    const seen = new Map<number, string>();
    for (const w of writes) {
      const first = seen.get(w.offset);
      if (first !== undefined) {
        const field = this.byOffset.get(w.offset)?.path ?? w.path;
        return `"${first}" and "${w.path}" both name ${field}: give it once`;
      }
      seen.set(w.offset, w.path);
    }
    return null;
  }
}

/** Builds and checks a layout: `struct(cName, sizeof, members, aliases?)`. */
export function struct(
  name: string,
  size: number,
  members: readonly Member[],
  aliases: readonly FieldAlias[] = [],
): StructLayout {
  return new StructLayout(name, size, members, aliases);
}

// ---------------------------------------------------------------------------
// Internals

function elemSize(m: ScalarMember | StructMember): number {
  return m.kind === "scalar" ? SCALAR_SIZE[m.type] : m.layout.size;
}

/** "rax", "r[0..29]", "st[0..7].{low, high}". */
function describeMember(m: Member): string {
  if (m.kind === "padding") return "";
  const index = m.count === undefined ? "" : `[0..${m.count - 1}]`;
  return m.kind === "scalar" ? m.name + index : `${m.name}${index}.{${m.layout.describeNames()}}`;
}

const NUMBERED = /^(.*?)(\d+)$/;
const INDEXED = /^(.*)\[(\d+)\]$/;

/** Aliases as text, consecutive numbered ones folded: "x0..x29 = r[0..29]". */
function foldAliases(aliases: readonly FieldAlias[]): string[] {
  const out: string[] = [];
  let run: { a: string; p: string; from: number; to: number; n: number } | undefined;
  const flush = () => {
    if (run === undefined) return;
    const { a, p, from, to, n } = run;
    out.push(
      n === 1
        ? `${a}${from} = ${p}[${to}]`
        : `${a}${from}..${a}${from + n - 1} = ${p}[${to}..${to + n - 1}]`,
    );
    run = undefined;
  };
  for (const { alias, path } of aliases) {
    const a = NUMBERED.exec(alias), p = INDEXED.exec(path);
    if (a === null || p === null) {
      flush();
      out.push(`${alias} = ${path}`);
      continue;
    }
    const from = Number(a[2]), to = Number(p[2]);
    if (
      run && run.a === a[1] && run.p === p[1] && from === run.from + run.n && to === run.to + run.n
    ) {
      run.n++;
      continue;
    }
    flush();
    run = { a: a[1], p: p[1], from, to, n: 1 };
  }
  flush();
  return out;
}

/** `unknown field "x31"`, with the names (and aliases) the struct has. */
function unknownField(full: string, layout: StructLayout): NamedError {
  const aliases = layout.describeAliases();
  return new NamedError(
    `unknown field "${full}": ${layout.name} has ${layout.describeNames()}` +
      (aliases ? ` (also accepted: ${aliases})` : ""),
  );
}

function flatten(
  layout: StructLayout,
  base: number,
  prefix: string,
  readOnly: boolean,
  fields: FieldInfo[],
  paddings: PaddingInfo[],
): void {
  for (const m of layout.members) {
    const path = prefix + m.name;
    if (m.kind === "padding") {
      paddings.push({ path, offset: base + m.offset, size: m.size });
      continue;
    }
    const ro = readOnly || m.readOnly;
    const n = m.count ?? 1;
    for (let i = 0; i < n; i++) {
      const p = m.count === undefined ? path : `${path}[${i}]`;
      const off = base + m.offset + i * elemSize(m);
      if (m.kind === "scalar") fields.push({ path: p, offset: off, type: m.type, readOnly: ro });
      else flatten(m.layout, off, p + ".", ro, fields, paddings);
    }
  }
}

function load(view: DataView, offset: number, type: ScalarType): number | string {
  switch (type) {
    case "u8":
      return view.getUint8(offset);
    case "u16":
      return view.getUint16(offset, true);
    case "u32":
      return view.getUint32(offset, true);
    case "u64":
      return "0x" + view.getUint32(offset + 4, true).toString(16).padStart(8, "0") +
        view.getUint32(offset, true).toString(16).padStart(8, "0");
  }
}

function store(view: DataView, offset: number, type: ScalarType, value: bigint): void {
  switch (type) {
    case "u8":
      return view.setUint8(offset, Number(value));
    case "u16":
      return view.setUint16(offset, Number(value), true);
    case "u32":
      return view.setUint32(offset, Number(value), true);
    case "u64":
      return view.setBigUint64(offset, value, true);
  }
}

function structToNamed(
  layout: StructLayout,
  view: DataView,
  base: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of layout.members) {
    if (m.kind === "padding") continue;
    const one = (off: number): unknown =>
      m.kind === "scalar" ? load(view, off, m.type) : structToNamed(m.layout, view, off);
    if (m.count === undefined) {
      out[m.name] = one(base + m.offset);
    } else {
      const size = elemSize(m);
      const arr = new Array<unknown>(m.count);
      for (let i = 0; i < m.count; i++) arr[i] = one(base + m.offset + i * size);
      out[m.name] = arr;
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates `value` against `target`, queueing stores into `writes`. */
function collect(target: Target, value: unknown, path: string, writes: PendingWrite[]): void {
  const where = path === "" ? "the value" : `field "${path}"`;
  // A field left out (undefined) keeps its value, and so does a null array element
  // ("r":[null, 5] writes only r[1]); a null field is refused rather than ignored.
  if (value === undefined || (value === null && path.endsWith("]"))) return;
  if (value === null) {
    throw new NamedError(`${where} is null: give a value, or leave the field out to keep it`);
  }
  switch (target.kind) {
    case "padding":
      throw new NamedError(`field "${path}" is padding and cannot be set`);
    case "leaf":
      writes.push({
        path,
        offset: target.offset,
        type: target.type,
        value: parseValue(value, target.type, path),
      });
      return;
    case "array": {
      const m = target.member;
      if (!Array.isArray(value)) throw new NamedError(`${where} must be an array`);
      if (value.length > m.count!) {
        throw new NamedError(`${where} has ${value.length} elements; it holds ${m.count}`);
      }
      for (let i = 0; i < value.length; i++) {
        collect(element(m, target.offset, i), value[i], `${path}[${i}]`, writes);
      }
      return;
    }
    case "struct": {
      if (!isPlainObject(value)) throw new NamedError(`${where} must be an object`);
      for (const [key, v] of Object.entries(value)) {
        const full = path === "" ? key : `${path}.${key}`;
        // An alias ("x0") resolves like the path it stands for ("r[0]").
        const field = target.layout.aliasOf(key) ?? key;
        collect(resolve(target, field, path, full), v, full, writes);
      }
      return;
    }
  }
}

/** Element `i` of an array member whose first element is at `offset`. */
function element(m: ScalarMember | StructMember, offset: number, i: number): Target {
  const off = offset + i * elemSize(m);
  return m.kind === "scalar"
    ? { kind: "leaf", type: m.type, offset: off }
    : { kind: "struct", layout: m.layout, offset: off };
}

/**
 * Follows `key` (a member name, possibly with indexes and dots:
 * "zmm[3].v[2]") from the struct `from`. `full` is used in messages.
 */
function resolve(
  from: Target & { kind: "struct" },
  key: string,
  basePath: string,
  full: string,
): Target {
  let cur: Target = from;
  let within: StructLayout = from.layout; // the last struct reached, for messages
  let rest = key;
  let walked = basePath;
  for (;;) {
    if (cur.kind !== "struct") throw unknownField(full, within);
    within = cur.layout;
    const id = IDENT.exec(rest);
    if (id === null) throw unknownField(full, within);
    const name = id[0];
    rest = rest.slice(name.length);
    walked = walked === "" ? name : `${walked}.${name}`;
    const m = cur.layout.member(name);
    if (m === undefined) throw unknownField(full, within);
    if (m.kind === "padding") {
      throw new NamedError(`field "${walked}" is padding and cannot be set`);
    }
    const offset: number = cur.offset + m.offset;
    cur = m.count !== undefined
      ? { kind: "array", member: m, offset }
      : m.kind === "scalar"
      ? { kind: "leaf", type: m.type, offset }
      : { kind: "struct", layout: m.layout, offset };
    while (rest.startsWith("[")) {
      const idx = /^\[(\d+)\]/.exec(rest);
      if (idx === null || cur.kind !== "array") throw unknownField(full, within);
      const i = Number(idx[1]);
      if (i >= cur.member.count!) {
        throw new NamedError(
          `unknown field "${full}": index ${i} out of range (${cur.member.count} elements)`,
        );
      }
      walked += `[${i}]`;
      cur = element(cur.member, cur.offset, i);
      rest = rest.slice(idx[0].length);
    }
    if (rest === "") return cur;
    if (!rest.startsWith(".")) throw unknownField(full, within);
    rest = rest.slice(1);
  }
}

/** An integer for a `type` field from a JSON number, bigint or string. */
function parseValue(value: unknown, type: ScalarType, path: string): bigint {
  let v: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new NamedError(`field "${path}": ${value} is not an integer`);
    }
    if (!Number.isSafeInteger(value)) {
      // JSON numbers are doubles: past 2^53 the value sent is not the value written.
      throw new NamedError(
        `field "${path}": ${value} is beyond 2^53, so not an integer a JSON number holds ` +
          'exactly; send it as a string, "0x…" hex or decimal (e.g. "0xffffffffffffffff")',
      );
    }
    v = BigInt(value);
  } else if (typeof value === "bigint") {
    v = value;
  } else if (typeof value === "string") {
    const parsed = parseIntegerText(value);
    if (parsed === undefined) {
      throw new NamedError(
        `field "${path}": ${JSON.stringify(value)} is not an integer (decimal or 0x hex)`,
      );
    }
    v = parsed;
  } else {
    throw new NamedError(`field "${path}": expected an integer, got ${typeof value}`);
  }
  const bits = BigInt(SCALAR_SIZE[type] * 8);
  const max = (1n << bits) - 1n;
  const min = -(1n << (bits - 1n));
  if (v > max || v < min) {
    throw new NamedError(
      `field "${path}": ${value} does not fit in ${type} (0 to 0x${max.toString(16)}; ` +
        `negative values down to -0x${(-min).toString(16)} are stored as two's complement)`,
    );
  }
  return BigInt.asUintN(Number(bits), v);
}

// ---------------------------------------------------------------------------
// Shared by every architecture's regset tables

/** zx_thread_state_topic_t values on /v1/zx (3 is unused; 6 and 7 were dropped). */
export const ZX_THREAD_STATE = {
  GENERAL_REGS: 0,
  FP_REGS: 1,
  VECTOR_REGS: 2,
  DEBUG_REGS: 4,
  SINGLE_STEP: 5,
} as const;

/** Magenta's MX_THREAD_STATE_REGSET0: the only regset that ever existed there. */
export const MX_THREAD_STATE_REGSET0 = 0;

/** The register sets of one architecture, by ABI and kind. */
export interface RegsetTables {
  readonly zx: ReadonlyMap<number, StructLayout>;
  readonly mx: ReadonlyMap<number, StructLayout>;
}

/**
 * Builds an architecture's tables from its structs: the modern kinds on
 * /v1/zx (single step is the same uint32 everywhere) and Magenta's REGSET0.
 */
export function regsetTables(zx: {
  readonly general: StructLayout;
  readonly fp: StructLayout;
  readonly vector: StructLayout;
  readonly debug: StructLayout;
}, magentaGeneral: StructLayout): RegsetTables {
  return Object.freeze({
    zx: new Map([
      [ZX_THREAD_STATE.GENERAL_REGS, zx.general],
      [ZX_THREAD_STATE.FP_REGS, zx.fp],
      [ZX_THREAD_STATE.VECTOR_REGS, zx.vector],
      [ZX_THREAD_STATE.DEBUG_REGS, zx.debug],
      [ZX_THREAD_STATE.SINGLE_STEP, SINGLE_STEP_REGS],
    ]),
    mx: new Map([[MX_THREAD_STATE_REGSET0, magentaGeneral]]),
  });
}

/** zx_thread_state_single_step_t: a bare uint32_t, 0 or 1. */
export const SINGLE_STEP_REGS = struct("zx_thread_state_single_step_t", 4, [
  scalar("value", 0, "u32"),
]);
