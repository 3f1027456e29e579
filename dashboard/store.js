// What the dashboard remembers between visits (localStorage): the kernels it
// opened, with their tokens, and the suspend tokens it holds per thread, so
// that a reload can still resume what it suspended.

const KEY = "zxsim.dashboard.kernels";

/** @returns {{id: string, token: string, arch: string, suspendTokens: Record<string, number[]>}[]} */
export function rememberedKernels() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(list) ? list.filter((k) => k && typeof k.id === "string") : [];
  } catch {
    return []; // storage disabled or edited by hand: start afresh rather than break the page
  }
}

function save(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    // Private mode or full: the page still works, it just forgets on reload.
  }
}

/** Adds or updates a kernel, most recent first; keeps its suspend tokens. */
export function rememberKernel({ id, token, arch }) {
  const list = rememberedKernels();
  const old = list.find((k) => k.id === id);
  const entry = { id, token, arch, suspendTokens: old?.suspendTokens ?? {} };
  save([entry, ...list.filter((k) => k.id !== id)]);
}

export function forgetKernel(id) {
  save(rememberedKernels().filter((k) => k.id !== id));
}

function update(id, change) {
  const list = rememberedKernels();
  const entry = list.find((k) => k.id === id);
  if (!entry) return;
  entry.suspendTokens ??= {};
  change(entry.suspendTokens);
  save(list);
}

/** Suspend-token handles held for thread `koid`, oldest first. */
export function suspendTokens(kernelId, koid) {
  const entry = rememberedKernels().find((k) => k.id === kernelId);
  return entry?.suspendTokens?.[koid] ?? [];
}

export function addSuspendToken(kernelId, koid, handle) {
  update(kernelId, (tokens) => {
    tokens[koid] = [...(tokens[koid] ?? []), handle];
  });
}

export function dropSuspendToken(kernelId, koid, handle) {
  update(kernelId, (tokens) => {
    const left = (tokens[koid] ?? []).filter((h) => h !== handle);
    if (left.length) tokens[koid] = left;
    else delete tokens[koid];
  });
}

/** `#kernel=<id>&token=<token>` → {id, token}, or null. */
export function kernelFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const id = params.get("kernel");
  const token = params.get("token");
  return id && token ? { id, token } : null;
}

export function hashFor({ id, token }) {
  return "#" + new URLSearchParams({ kernel: id, token }).toString();
}
