// Where a non-specific vmar_map / vmar_allocate lands. Zircon picks a random
// spot among the candidates (ASLR); zxsim takes the lowest-addressed gap
// that fits, so the same requests always give the same addresses and tests
// and examples can be written down. Callers may rely only on what Zircon
// promises: inside the VMAR, aligned, overlapping nothing.

/** Anything with a place in a VMAR. */
export interface Span {
  readonly base: number;
  readonly end: number;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/**
 * The lowest `align`-aligned address in [base, end) where `size` bytes fit
 * between the sorted, disjoint `children` and end at or below `limit`;
 * null when there is none (ZX_ERR_NO_RESOURCES).
 */
export function firstFit(
  children: readonly Span[],
  base: number,
  end: number,
  size: number,
  align: number,
  limit: number,
): number | null {
  const top = Math.min(end, limit);
  let cursor = base;
  for (const child of [...children, { base: end, end }]) {
    const spot = alignUp(cursor, align);
    if (spot + size > top) return null;
    if (spot + size <= child.base) return spot;
    cursor = Math.max(cursor, child.end);
  }
  return null;
}
