// Cases the fuzz test (tests/fuzz.test.ts) found, kept as plain tests: each
// request exactly as shrunk, and what the server must answer. A test that
// still fails is disabled (`ignore`) with the bug it shows, and the fuzz test
// skips that class of cases meanwhile (an entry in KNOWN_BUGS in
// tests/fuzz_support.ts); enable it with the fix and drop the entry.

import assert from "node:assert/strict";
import { inProcess, send } from "./helpers.ts";

/** Asserts a refusal in the documented form: below 500, {status, code, message}. */
function assertRefusal(reply: { http: number; body: Record<string, unknown> }): void {
  assert.ok(reply.http >= 400 && reply.http < 500 || reply.http === 503, `HTTP ${reply.http}`);
  assert.equal(typeof reply.body.status, "string");
  assert.equal(typeof reply.body.code, "number");
  assert.notEqual(reply.body.code, 0);
  assert.equal(typeof reply.body.message, "string");
}

// Found with FUZZ_SEED=2 (and 3, 4, 6) while the per-kernel limits were new,
// shrunk to these bodies: the server threw ZxError NO_MEMORY while it booted
// the kernel ("out of handles: this kernel already has 4 of 4", "no memory for
// the vDSO") and answered 500 ZX_ERR_INTERNAL. Limits too small to boot a
// kernel are refused (400 INVALID_ARGS or 503 NO_MEMORY), like any bad body.
Deno.test("fuzz regression: POST /v1/kernels with limits too small to boot is refused, not a 500", async () => {
  const fetcher = inProcess();
  for (
    const body of [
      { limits: { handles: 1 } },
      { limits: { handles: 4 } },
      { limits: { committed_bytes: 0 } },
      { limits: { committed_bytes: 4096 } },
    ]
  ) {
    const reply = await send(fetcher, "/v1/kernels", body);
    assertRefusal(reply);
  }
});
