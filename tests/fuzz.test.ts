// Property-based fuzzing of every route in /openapi.json (each syscall of both
// ABIs, the batch routes, the /v1/kernels routes) with fast-check: bodies made
// from the documented schemas, then mutated (see tests/fuzz_support.ts). Every
// reply must be below 500 (a 5xx only as a Zircon status mapped there), carry
// {status, code, message} when it is not 2xx, and a refused call must change
// nothing: the kernel summary, the suspended thread's registers, a VMO (the
// calls Zircon lets close their handles on failure may close only those).
//
// FUZZ_SEED replays a run and FUZZ_RUNS sets how many requests (default
// 3,000; `deno task fuzz` makes 100,000). A failure is shrunk by fast-check and
// printed with its seed and path: FUZZ_SEED with FUZZ_PATH replays that case
// (one that needs the requests before it to fail may not recur alone). Keep
// each one found in tests/fuzz_regressions.test.ts. FUZZ_VERBOSE=1 also lists
// the routes that never answered 2xx.

import assert from "node:assert/strict";
import fc from "fast-check";
import { caseArb, Fuzzer } from "./fuzz_support.ts";

const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
const long = Deno.env.get("FUZZ_LONG") === "1";
const runs = Number(Deno.env.get("FUZZ_RUNS") ?? (long ? 100_000 : 3_000));
/** With FUZZ_SEED, replays the (shrunk) case a failure printed. */
const path = Deno.env.get("FUZZ_PATH");

Deno.test(`fuzz: ${runs} generated requests over every route of /openapi.json`, async () => {
  const fuzzer = await Fuzzer.create();
  const started = performance.now();
  const statuses = new Map<number, number>();
  const succeeded = new Set<string>();
  console.log(`fuzz: seed ${seed}, ${runs} runs (FUZZ_SEED=${seed} FUZZ_RUNS=${runs} to replay)`);
  const details = await fc.check(
    fc.asyncProperty(caseArb(fuzzer.ops), async (c) => {
      const outcome = await fuzzer.run(c);
      if (outcome.http) statuses.set(outcome.http, (statuses.get(outcome.http) ?? 0) + 1);
      if (outcome.http >= 200 && outcome.http < 300) succeeded.add(outcome.route);
    }),
    { seed, numRuns: runs, ...(path ? { path } : {}) },
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const histogram = [...statuses].sort(([a], [b]) => a - b).map(([h, n]) => `${h}:${n}`).join(" ");
  console.log(
    `fuzz: ${details.numRuns} runs, ${fuzzer.requests} fuzzed requests in ${seconds}s, ` +
      `${fuzzer.rebuilds} kernels built, ${fuzzer.skipped} skipped (known bugs); HTTP ${histogram}; ` +
      `${succeeded.size} of ${fuzzer.ops.length} routes answered 2xx at least once`,
  );
  if (details.failed) {
    const replay = `replay: FUZZ_SEED=${seed} FUZZ_PATH=${details.counterexamplePath}`;
    assert.fail(
      `fuzz failed after ${details.numRuns} runs, ${details.numShrinks} shrinks; ${replay}\n` +
        `${
          details.errorInstance instanceof Error
            ? details.errorInstance.stack
            : String(details.errorInstance)
        }`,
    );
  }
  await fuzzer.checkStillWorks();
  if (Deno.env.get("FUZZ_VERBOSE")) {
    const never = fuzzer.ops.map((op) => `${op.method} ${op.path}`).filter((r) =>
      !succeeded.has(r)
    );
    console.log(`fuzz: never 2xx: ${never.join(", ")}`);
  }
});
