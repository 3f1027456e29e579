// The register table's data: thread_read_state's named view flattened into
// rows whose names are the keys thread_write_state accepts ("rax", "r[0]").

/**
 * @param {Record<string, unknown>} view e.g. {rax: "0x…"} or {r: ["0x…", …], pc: "0x…"}
 * @returns {{path: string, value: string}[]} in the struct's order
 */
export function flattenRegs(view, prefix = "") {
  const rows = [];
  for (const [name, value] of Object.entries(view)) {
    const path = prefix + name;
    if (Array.isArray(value)) {
      value.forEach((item, i) => rows.push(...flattenValue(`${path}[${i}]`, item)));
    } else {
      rows.push(...flattenValue(path, value));
    }
  }
  return rows;
}

function flattenValue(path, value) {
  if (value !== null && typeof value === "object") return flattenRegs(value, `${path}.`);
  return [{ path, value: typeof value === "number" ? `0x${value.toString(16)}` : String(value) }];
}

/**
 * What people call a register: an array element by its first alias (arm64
 * x0 for Zircon's r[0]), any other field by Zircon's name (lr, rax).
 * @param {Record<string, string[]> | undefined} aliases field path -> the other names
 *   thread_write_state takes for it (constants.js GENERAL_ALIASES[arch])
 * @param {string} path
 */
export function displayName(aliases, path) {
  const first = aliases?.[path]?.[0];
  return first !== undefined && path.includes("[") ? first : path;
}

/**
 * The display name with every other name the API takes for the field:
 * "x0 (r[0])", "x29 (r[29], fp)", "lr (x30)", "rax".
 */
export function fullName(aliases, path) {
  const shown = displayName(aliases, path);
  const others = [path, ...(aliases?.[path] ?? [])].filter((name) => name !== shown);
  return others.length ? `${shown} (${others.join(", ")})` : shown;
}

/** Paths whose value differs from the previous read (none on a first read). */
export function changedPaths(previous, rows) {
  if (!previous) return new Set();
  return new Set(rows.filter((r) => previous.get(r.path) !== r.value).map((r) => r.path));
}
