// Generates the Postman collection and environment from the scenario in
// steps.ts and the syscall table: `deno task postman`. Every syscall step is
// checked against the table (the syscall exists for its ABI, the body names
// only its parameters, an expected error is one it documents), and every
// variable a request uses must have been stored by an earlier one, so a
// mistake fails here rather than halfway through someone's Postman run.

import type { Syscall } from "../kernel/syscalls/define.ts";
import { syscallsOf } from "../kernel/syscalls/table.ts";
import { ERR, statusName } from "../kernel/status.ts";
import { httpStatusFor } from "../routes/abi.ts";
import {
  type BatchCall,
  type BatchStep,
  type Check,
  type Folder,
  NUM_MARKER,
  SCENARIO,
  type Step,
  type SyscallStep,
} from "./steps.ts";

export const COLLECTION_FILE = new URL("./zxsim.postman_collection.json", import.meta.url);
export const ENVIRONMENT_FILE = new URL("./zxsim.postman_environment.json", import.meta.url);

export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
const SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
// Fixed ids, so that importing a regenerated file replaces the earlier import.
const COLLECTION_ID = "6d1f8a52-3c4b-4e7a-9f0d-2b8c5e1a7d34";
const ENVIRONMENT_ID = "0b7e4c91-5a2d-4f3e-8c6b-9d1a2e3f4c58";

// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

const js = (value: unknown) => JSON.stringify(value);

function isSyscallStep(step: Step): step is SyscallStep {
  return "syscall" in step;
}

function isBatchStep(step: Step): step is BatchStep {
  return "batch" in step;
}

/** The ZX_/MX_ prefix of a step's replies. */
function prefixOf(step: Step): "ZX" | "MX" {
  return (isSyscallStep(step) || isBatchStep(step)) && step.abi === "mx" ? "MX" : "ZX";
}

/** The request body: a step's own, or a batch step's calls (and mode). */
function bodyOf(step: Step): Record<string, unknown> | undefined {
  if (!isBatchStep(step)) return step.body;
  const calls = step.batch.map((call) => ({
    name: call.syscall,
    ...(call.args ? { args: call.args } : {}),
  }));
  return step.mode ? { calls, mode: step.mode } : { calls };
}

function fail(step: Step, why: string): never {
  throw new Error(`postman scenario, step "${step.name}": ${why}`);
}

/** The table entry a step calls, or a loud failure. */
function syscallOf(step: SyscallStep): Syscall {
  const syscall = syscallsOf(step.abi).get(step.syscall);
  if (!syscall) {
    fail(step, `${step.abi}_${step.syscall} is not in the syscall table for /v1/${step.abi}`);
  }
  const shape = (syscall.params as { shape?: Record<string, unknown> }).shape;
  for (const key of Object.keys(step.body ?? {})) {
    if (shape && !(key in shape)) fail(step, `${step.abi}_${step.syscall} has no parameter ${key}`);
  }
  return syscall;
}

const pmTest = (that: string, body: string) => `pm.test(${js(that)}, () => { ${body} });`;

/** A batch's call: its syscall is in the table (or, for BAD_SYSCALL, not), its error documented. */
function checkBatchCall(step: BatchStep, call: BatchCall): void {
  const syscall = syscallsOf(step.abi).get(call.syscall);
  const error = typeof call.reply === "object" ? call.reply.error : undefined;
  if (error === "BAD_SYSCALL") {
    if (syscall) fail(step, `${step.abi}_${call.syscall} exists: it cannot be BAD_SYSCALL`);
    return;
  }
  syscallOf({ ...step, syscall: call.syscall, body: call.args });
  if (error !== undefined && !syscall!.errors.includes(error)) {
    fail(step, `${step.abi}_${call.syscall} does not document ${error}`);
  }
}

/** The calls that run (the first `runs`), checked against `ended` and the mode. */
function callsRun(step: BatchStep): BatchCall[] {
  step.batch.forEach((call) => checkBatchCall(step, call));
  const runs = step.runs ?? step.batch.length;
  if (runs < 1 || runs > step.batch.length) fail(step, `runs must be 1..${step.batch.length}`);
  const run = step.batch.slice(0, runs);
  const failed = (call: BatchCall) => typeof call.reply === "object";
  const stops = step.mode !== "continue";
  const last = run[run.length - 1];
  const ends = {
    complete: runs === step.batch.length && !(stops && run.some(failed)),
    error: stops && failed(last) && !run.slice(0, -1).some(failed),
    thread_dead: !failed(last) && !(stops && run.some(failed)),
  };
  if (!ends[step.ended]) {
    fail(step, `${runs} calls with these replies do not end the batch as "${step.ended}"`);
  }
  return run;
}

/** A batch step's checks: how it ended, how many calls ran and each one's result. */
function batchChecks(step: BatchStep, prefix: "ZX" | "MX"): string[] {
  const run = callsRun(step);
  const lines = [
    pmTest(`ended is "${step.ended}"`, `pm.expect(body.ended).to.equal(${js(step.ended)});`),
    pmTest(
      `${run.length} of ${step.batch.length} calls ran`,
      `pm.expect(body.results.length).to.equal(${run.length});`,
    ),
  ];
  run.forEach((call, i) => {
    const code = typeof call.reply === "object"
      ? (ERR as Record<string, number>)[call.reply.error]
      : 0;
    if (code === undefined) {
      fail(step, `there is no status ${(call.reply as { error: string }).error}`);
    }
    const name = statusName(code, prefix);
    const http = httpStatusFor(code);
    lines.push(pmTest(
      `call ${i + 1}, ${call.syscall}: HTTP ${http}, ${name}`,
      `pm.expect(body.results[${i}].http).to.equal(${http}); ` +
        `pm.expect(body.results[${i}].body.status).to.equal(${js(name)}); ` +
        `pm.expect(body.results[${i}].body.code).to.equal(${code});`,
    ));
  });
  return lines;
}

/** The test script: the reply's HTTP status and status/code/message, then the step's checks. */
function testScript(step: Step, syscall: Syscall | undefined): string[] {
  const prefix = prefixOf(step);
  const reply = step.reply;
  const lines: string[] = [];
  if (reply === "ok") {
    lines.push(
      "const body = pm.response.json();",
      pmTest("HTTP 200", "pm.response.to.have.status(200);"),
      pmTest(
        `${prefix}_OK (code 0)`,
        `pm.expect(body.status).to.equal("${prefix}_OK"); pm.expect(body.code).to.equal(0);`,
      ),
    );
  } else if ("error" in reply) {
    const code = (ERR as Record<string, number>)[reply.error];
    if (code === undefined) fail(step, `there is no status ${reply.error}`);
    if (syscall && !syscall.errors.includes(reply.error)) {
      fail(step, `${prefix.toLowerCase()}_${syscall.name} does not document ${reply.error}`);
    }
    const http = reply.http ?? httpStatusFor(code);
    const name = statusName(code, prefix);
    lines.push(
      "const body = pm.response.json();",
      pmTest(`HTTP ${http}`, `pm.response.to.have.status(${http});`),
      pmTest(`status is ${name}`, `pm.expect(body.status).to.equal(${js(name)});`),
      pmTest(`code is ${code}`, `pm.expect(body.code).to.equal(${code});`),
      pmTest("a message says why", 'pm.expect(body.message).to.be.a("string").and.not.empty;'),
    );
  } else {
    lines.push(
      ...(reply.http === 204 ? [] : ["const body = pm.response.json();"]),
      pmTest(`HTTP ${reply.http}`, `pm.response.to.have.status(${reply.http});`),
    );
    if (reply.http === 204) {
      lines.push(pmTest("the reply has no body", 'pm.expect(pm.response.text()).to.equal("");'));
    }
  }
  if (isBatchStep(step) && reply === "ok") lines.push(...batchChecks(step, prefix));
  lines.push(...(step.checks ?? []).map((check: Check) => pmTest(check.that, check.js)));
  for (const [variable, path] of Object.entries(step.save ?? {})) {
    lines.push(`pm.environment.set(${js(variable)}, body.${path});`);
  }
  return lines;
}

/** The request body as Postman shows it, handles as bare `{{variable}}` numbers. */
function rawBody(body: Record<string, unknown>): string {
  return JSON.stringify(body, null, 2).replace(NUM_MARKER, "{{$1}}");
}

function description(step: Step, syscall: Syscall | undefined): string {
  if (isBatchStep(step)) {
    const calls = step.batch.map((call) => {
      const summary = syscallsOf(step.abi).get(call.syscall)?.summary ?? "not a syscall";
      return `- **${step.abi}_${call.syscall}**: ${summary}.`;
    });
    return `${step.shows}\n\n\`POST /v1/${step.abi}/batch\`, the calls in order:\n\n` +
      calls.join("\n");
  }
  if (!isSyscallStep(step) || !syscall) {
    const route = step as Extract<Step, { method: string }>;
    return `${step.shows}\n\n\`${route.method} ${route.path}\``;
  }
  return `${step.shows}\n\n**${step.abi}_${syscall.name}**: ${syscall.summary}.\n\n` +
    syscall.description;
}

/** The variables a step reads, in the order they appear. */
function variablesRead(step: Step, prerequest: readonly string[]): string[] {
  const text = [
    isSyscallStep(step) || isBatchStep(step) ? "" : step.path,
    bodyOf(step) ? rawBody(bodyOf(step)!) : "",
    ...prerequest,
    ...(step.checks ?? []).map((check) => check.js),
  ].join("\n");
  const names: string[] = [];
  for (const match of text.matchAll(/\{\{([A-Za-z0-9_]+)\}\}|pm\.environment\.get\("([^"]+)"\)/g)) {
    names.push(match[1] ?? match[2]);
  }
  if (step.as) names.push(`${step.as}_token`);
  return names;
}

/** The variables a pre-request script stores before the request is sent. */
function variablesSetBefore(prerequest: readonly string[]): string[] {
  return [...prerequest.join("\n").matchAll(/pm\.environment\.set\("([^"]+)"/g)].map((m) => m[1]);
}

/** Steps in order, with the variables each one defines, checked for use before definition. */
function variablesInOrder(folders: readonly Folder[]): string[] {
  const defined = new Set<string>(["baseUrl"]);
  const order: string[] = [];
  const define = (name: string) => {
    if (!defined.has(name)) order.push(name);
    defined.add(name);
  };
  for (const step of folders.flatMap((folder) => folder.steps)) {
    const prerequest = step.prerequest ?? [];
    const before = variablesSetBefore(prerequest);
    for (const name of variablesRead(step, prerequest)) {
      if (!defined.has(name) && !before.includes(name)) {
        fail(step, `uses {{${name}}} before any earlier request stores it`);
      }
    }
    before.forEach(define);
    Object.keys(step.save ?? {}).forEach(define);
  }
  return order;
}

function requestItem(step: Step): Json {
  const syscall = isSyscallStep(step) ? syscallOf(step) : undefined;
  const method = isSyscallStep(step) || isBatchStep(step) ? "POST" : step.method;
  const path = isSyscallStep(step)
    ? `/v1/${step.abi}/${step.syscall}`
    : isBatchStep(step)
    ? `/v1/${step.abi}/batch`
    : step.path;
  const body = bodyOf(step);
  const event: Json[] = [];
  if (step.prerequest) {
    event.push({
      listen: "prerequest",
      script: { type: "text/javascript", exec: [...step.prerequest] },
    });
  }
  event.push({
    listen: "test",
    script: { type: "text/javascript", exec: testScript(step, syscall) },
  });
  const request: Json = {
    method,
    header: body ? [{ key: "Content-Type", value: "application/json" }] : [],
    auth: step.as
      ? {
        type: "bearer",
        bearer: [{ key: "token", value: `{{${step.as}_token}}`, type: "string" }],
      }
      : { type: "noauth" },
  };
  if (body) {
    request.body = {
      mode: "raw",
      raw: rawBody(body),
      options: { raw: { language: "json" } },
    };
  }
  request.url = {
    raw: `{{baseUrl}}${path}`,
    host: ["{{baseUrl}}"],
    path: path.split("/").filter((part) => part !== ""),
  };
  request.description = description(step, syscall);
  return { name: step.name, event, request };
}

const COLLECTION_DESCRIPTION = [
  "A guided tour of zxsim, the HTTP/JSON Zircon simulator: kernels, code mapped for their",
  "threads to run (a VMO, made executable and mapped into the root VMAR, and a stack), a",
  "thread suspended before it starts, its registers read and written on x64 and arm64",
  "through the modern (/v1/zx) and Magenta (/v1/mx) ABIs, every documented error of the",
  "thread-state calls, a thread that faults where nothing is mapped (the crash in the debug",
  "log, the process's return code), a guest and its VCPU (the state calls' rules and every",
  "documented error of zx_vcpu_write_state), the clean-up, and batches: many syscalls in one",
  "request. Start the server (`deno task start`), import this collection and",
  "zxsim.postman_environment.json, select the environment and run the collection from the",
  "top: each request stores the handles and tokens the next ones use.",
  "",
  "Generated by `deno task postman` from postman/steps.ts and the syscall table: edit those,",
  "not this file.",
].join("\n");

/** The Postman collection (v2.1), as the committed JSON must be. */
export function buildCollection(folders: readonly Folder[] = SCENARIO): Json {
  // A folder without steps (none today) would only be a heading: leave it out.
  const item = folders.filter((folder) => folder.steps.length > 0).map((folder) => ({
    name: folder.name,
    description: folder.description,
    item: folder.steps.map(requestItem),
  }));
  variablesInOrder(folders);
  return {
    info: {
      _postman_id: COLLECTION_ID,
      name: "zxsim: thread state tour",
      description: COLLECTION_DESCRIPTION,
      schema: SCHEMA,
    },
    item,
  };
}

/** The environment: the server's address and an empty slot for each stored variable. */
export function buildEnvironment(folders: readonly Folder[] = SCENARIO): Json {
  const slot = (key: string, value: string) => ({ key, value, type: "default", enabled: true });
  return {
    id: ENVIRONMENT_ID,
    name: "zxsim (local)",
    values: [
      slot("baseUrl", DEFAULT_BASE_URL),
      ...variablesInOrder(folders).map((name) => slot(name, "")),
    ],
    _postman_variable_scope: "environment",
  };
}

/** The file text: 2-space JSON and a final newline, which is also what `deno fmt` keeps. */
export function render(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** How many requests and pm.test calls a collection holds. */
export function countCollection(collection: Json): { requests: number; tests: number } {
  let requests = 0, tests = 0;
  const walk = (items: Json[]) => {
    for (const item of items) {
      if (item.item) walk(item.item);
      if (!item.request) continue;
      requests++;
      for (const event of item.event ?? []) {
        for (const line of event.script.exec as string[]) {
          tests += line.match(/\bpm\.test\(/g)?.length ?? 0;
        }
      }
    }
  };
  walk(collection.item);
  return { requests, tests };
}

if (import.meta.main) {
  const collection = buildCollection();
  await Deno.writeTextFile(COLLECTION_FILE, render(collection));
  await Deno.writeTextFile(ENVIRONMENT_FILE, render(buildEnvironment()));
  const { requests, tests } = countCollection(collection);
  console.log(`wrote ${COLLECTION_FILE.pathname}: ${requests} requests, ${tests} pm.test calls`);
  console.log(`wrote ${ENVIRONMENT_FILE.pathname}`);
}
