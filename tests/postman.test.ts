// The Postman collection: the committed JSON is what postman/build.ts makes
// from the scenario and the syscall table, newman runs it against a real
// server without a single failure or skipped request, and a collection
// whose expectations are wrong does fail (so the run proves something).

import assert from "node:assert/strict";
import newman from "newman";
import {
  buildCollection,
  buildEnvironment,
  COLLECTION_FILE,
  countCollection,
  ENVIRONMENT_FILE,
  type Json,
  render,
} from "../postman/build.ts";
import type { Folder, Step } from "../postman/steps.ts";
import { freePort, startServer } from "./real_server.ts";

/** Where two texts first differ, as "line N: <committed> / <generated>". */
function firstDifference(committed: string, generated: string): string {
  const a = committed.split("\n"), b = generated.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}:\n  committed: ${a[i]}\n  generated: ${b[i]}`;
  }
  return "no difference";
}

const GENERATED = [
  { file: COLLECTION_FILE, build: buildCollection },
  { file: ENVIRONMENT_FILE, build: buildEnvironment },
];

for (const { file, build } of GENERATED) {
  const name = file.pathname.split("/").pop();
  Deno.test(`postman: the committed ${name} is what build.ts generates`, async () => {
    const committed = await Deno.readTextFile(file);
    const generated = render(build());
    assert.ok(
      committed === generated,
      `postman/${name} is stale: run \`deno task postman\` and commit the result ` +
        `(${firstDifference(committed, generated)})`,
    );
  });
}

Deno.test("postman: build.ts refuses steps the syscall table or earlier steps do not back", () => {
  const folder = (
    step: object,
  ): Folder[] => [{ name: "f", description: "d", steps: [step as Step] }];
  const step = { name: "s", shows: "x", abi: "zx", as: "x64", reply: "ok" };
  assert.throws(
    () => buildCollection(folder({ ...step, syscall: "thread_frobnicate" })),
    /zx_thread_frobnicate is not in the syscall table/,
  );
  assert.throws(
    () => buildCollection(folder({ ...step, syscall: "handle_close", body: { handle: 1, x: 2 } })),
    /has no parameter x/,
  );
  assert.throws(
    () => buildCollection(folder({ ...step, syscall: "handle_close", body: { handle: 1 } })),
    /uses \{\{x64_token\}\} before any earlier request stores it/,
  );
  const closeZero = {
    name: "s",
    shows: "x",
    abi: "zx",
    syscall: "handle_close",
    body: { handle: 0 },
  };
  assert.throws(
    () => buildCollection(folder({ ...closeZero, reply: { error: "WRONG_TYPE" } })),
    /zx_handle_close does not document WRONG_TYPE/,
  );
  assert.equal(countCollection(buildCollection(folder({ ...closeZero, reply: "ok" }))).tests, 2);
});

interface Failure {
  source?: { name?: string };
  error?: { test?: string; message?: string };
}

// deno-lint-ignore no-explicit-any
type Summary = any;

/**
 * Runs `collection` with newman against `baseUrl`, no reporters. What the
 * scripts log (pm's console, and the sandbox's deprecation warnings) comes
 * back in `summary.logged` as "level: text", so a test can see it.
 */
function runNewman(collection: Json, baseUrl: string): Promise<Summary> {
  const environment = JSON.parse(Deno.readTextFileSync(ENVIRONMENT_FILE));
  const logged: string[] = [];
  return new Promise((resolve, reject) => {
    newman.run(
      { collection, environment, envVar: [{ key: "baseUrl", value: baseUrl }], reporters: [] },
      (error: Error | null, summary: Summary) =>
        error ? reject(error) : resolve(Object.assign(summary, { logged })),
    ).on("console", (_error: unknown, event: { level: string; messages: unknown[] }) => {
      logged.push(`${event.level}: ${event.messages.join(" ")}`);
    });
  });
}

const describeFailures = (failures: Failure[]) =>
  failures.map((f) => `${f.source?.name}: ${f.error?.test ?? ""} ${f.error?.message}`).join("\n");

/** The names of the collection's requests, in run order. */
function requestNames(items: Json[]): string[] {
  return items.flatMap((item) => item.item ? requestNames(item.item) : [item.name]);
}

const committedCollection = (): Json => JSON.parse(Deno.readTextFileSync(COLLECTION_FILE));

/** Runs `collection` against a fresh real server. */
async function runAgainstServer(collection: Json): Promise<Summary> {
  const server = await startServer(["--port", String(freePort())]);
  try {
    return await runNewman(collection, server.url);
  } finally {
    await server.stop();
  }
}

Deno.test("postman: newman runs the committed collection against a real server, all green", async () => {
  const collection = committedCollection();
  const { requests, tests } = countCollection(collection);
  const summary = await runAgainstServer(collection);
  const failures: Failure[] = summary.run.failures;
  assert.equal(failures.length, 0, `newman failures:\n${describeFailures(failures)}`);
  // Every request ran, in order, and every pm.test in them ran: a request
  // skipped or a script that stopped early would show here.
  const executed = summary.run.executions.map((e: Json) => e.item.name);
  assert.deepEqual(executed, requestNames(collection.item));
  assert.equal(summary.run.stats.requests.total, requests);
  assert.equal(summary.run.stats.assertions.total, tests);
  assert.equal(summary.run.stats.assertions.failed, 0);
  // The scripts use no deprecated sandbox API (atob/btoa globals warn): nothing is logged.
  assert.deepEqual(summary.logged, []);
});

/** The committed collection with one request changed by `edit`. */
function tampered(name: string, edit: (item: Json) => void): Json {
  const collection = committedCollection();
  const item = collection.item.flatMap((folder: Json) => folder.item)
    .find((i: Json) => i.name === name);
  assert.ok(item, `no request named ${name}`);
  edit(item);
  return collection;
}

Deno.test("postman: the collection's tests do fail when the server's answers differ", async () => {
  // An arm64 kernel where the collection expects x64: the x64 checks fail.
  const wrongArch = tampered("Create an x64 kernel", (item) => {
    item.request.body.raw = JSON.stringify({ arch: "arm64" });
  });
  const failed = (await runAgainstServer(wrongArch)).run.failures as Failure[];
  const tests = failed.map((f) => f.error?.test);
  assert.ok(tests.includes("the kernel is x64"), describeFailures(failed));
  assert.ok(tests.includes("the buffer is 160 bytes"), describeFailures(failed));

  // One expectation changed (rflags unmasked): exactly that assertion fails.
  const wrongValue = tampered("Read back: rflags is masked to 0x244ed5", (item) => {
    const script = item.event.find((e: Json) => e.listen === "test").script;
    script.exec = script.exec.map((line: string) =>
      line.replace('"0x0000000000244ed5"', '"0x00000000ffffffff"')
    );
  });
  const one = (await runAgainstServer(wrongValue)).run.failures as Failure[];
  assert.deepEqual(
    one.map((f) => [f.source?.name, f.error?.test]),
    [["Read back: rflags is masked to 0x244ed5", "rflags is 0x244ed5"]],
    describeFailures(one),
  );
});
