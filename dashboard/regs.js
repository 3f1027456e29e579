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

/** What people call a register: Zircon's arm64 struct keeps x0…x29 in an array `r`. */
export function displayName(arch, path) {
  const x = arch === "arm64" ? /^r\[(\d+)\]$/.exec(path) : null;
  return x ? `x${x[1]}` : path;
}

/** Paths whose value differs from the previous read (none on a first read). */
export function changedPaths(previous, rows) {
  if (!previous) return new Set();
  return new Set(rows.filter((r) => previous.get(r.path) !== r.value).map((r) => r.path));
}
