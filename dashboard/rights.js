// Handle rights as names (READ|WRITE|…). The bit values come from the server
// (constants.js is generated from kernel/rights.ts), so they cannot drift.

import { RIGHT } from "./constants.js";

/** "DUPLICATE|TRANSFER|READ", "NONE", with any unknown bits appended in hex. */
export function rightsNames(bits) {
  let rest = bits >>> 0;
  if (rest === 0) return "NONE";
  const names = [];
  for (const [name, value] of Object.entries(RIGHT)) {
    // SAME_RIGHTS is an argument sentinel of handle_duplicate, never a held right.
    if (value === 0 || value === RIGHT.SAME_RIGHTS) continue;
    if ((rest & value) >>> 0 === value) {
      names.push(name);
      rest = (rest & ~value) >>> 0;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.join("|");
}
