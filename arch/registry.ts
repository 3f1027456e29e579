// Every architecture zxsim simulates, by name. A new architecture is one
// more entry here.

import type { Arch, ArchName } from "./arch.ts";
import { arm64 } from "./arm64/arm64.ts";
import { x64 } from "./x64/x64.ts";

const ARCHES: ReadonlyMap<string, Arch> = new Map<string, Arch>([
  [x64.name, x64],
  [arm64.name, arm64],
]);

/** The accepted architecture names, in a stable order ("x64" first). */
export const ARCH_NAMES: readonly ArchName[] = Object.freeze(
  [...ARCHES.values()].map((a) => a.name),
);

/** The architecture called `name` (exact, case-sensitive), or undefined. */
export function archByName(name: string): Arch | undefined {
  return ARCHES.get(name);
}
