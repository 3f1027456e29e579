// The OpenAPI 3.1 document, generated from the same zod schemas that
// validate requests, so the document cannot drift from the server. Worked
// examples (routes/examples.ts) are real replies, attached when given.

import { z } from "zod";
import { SYSCALLS } from "../kernel/syscalls/table.ts";
import { ERR, statusName } from "../kernel/status.ts";
import { ABIS, errorBody, HTTP_STATUS_TABLE, httpStatusFor, prefixOf } from "./abi.ts";
import type { Exchange, WorkedExample } from "./examples.ts";
import { BODY_LIMIT } from "./http.ts";
import {
  advanceReplySchema,
  advanceSchema,
  createKernelSchema,
  createTokenSchema,
  debuglogSchema,
  kernelSummarySchema,
} from "./kernels.ts";
import { BATCH_NAME, batchReplySchema, batchSchema, MAX_BATCH_CALLS } from "./batch.ts";

type Json = Record<string, unknown>;
interface Operation extends Json {
  operationId: string;
  requestBody?: { required?: boolean; content: Record<string, Json> };
  responses: Record<string, Json>;
}

/** Named schemas that schemas refer to (recursive ones), for components/schemas. */
const sharedSchemas: Record<string, Json> = {};

function schemaOf(schema: z.ZodType, io: "input" | "output"): Json {
  const json: Json = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    target: "draft-2020-12",
  });
  delete json.$schema;
  // "#/$defs/..." would resolve against the whole OpenAPI document, which has
  // no $defs: move definitions to components/schemas and point there instead.
  const defs = (json.$defs ?? {}) as Record<string, Json>;
  delete json.$defs;
  const relink = (value: Json): Json =>
    JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/'));
  for (const [name, def] of Object.entries(defs)) sharedSchemas[name] = relink(def);
  return relink(json);
}

const errorRef = { $ref: "#/components/schemas/Error" };
const json = (schema: Json) => ({ "application/json": { schema } });

/** The statuses each error response documents, for its examples (kept out of the JSON). */
const statusesOf = new WeakMap<Json, number[]>();

function errorResponses(codes: readonly number[]): Record<string, Json> {
  const responses: Record<string, Json> = {
    "400": { description: "INVALID_ARGS (malformed body or field) and other argument errors" },
    "401": { description: "missing or unknown bearer token" },
    "413": { description: "OUT_OF_RANGE: body larger than 1 MiB" },
  };
  statusesOf.set(responses["400"], [ERR.INVALID_ARGS]);
  statusesOf.set(responses["401"], [ERR.ACCESS_DENIED]);
  statusesOf.set(responses["413"], [ERR.OUT_OF_RANGE]);
  for (const code of codes) {
    const http = String(httpStatusFor(code));
    const existing = responses[http];
    const name = statusName(code);
    const statuses = existing ? [...(statusesOf.get(existing) ?? []), code] : [code];
    responses[http] = {
      description: existing ? `${existing.description}; ${name}` : name,
    };
    statusesOf.set(responses[http], [...new Set(statuses)]);
  }
  for (const key of Object.keys(responses)) responses[key].content = json(errorRef);
  return responses;
}

function syscallPaths(): Record<string, { post: Operation }> {
  const paths: Record<string, { post: Operation }> = {};
  for (const syscall of SYSCALLS) {
    for (const abi of ABIS.filter((a) => syscall.abis.includes(a))) {
      const prefix = prefixOf(abi);
      const codes = syscall.errors.map((suffix) => ERR[suffix as keyof typeof ERR]);
      const outs = schemaOf(syscall.outs, "output");
      paths[`/v1/${abi}/${syscall.name}`] = {
        post: {
          operationId: `${abi}_${syscall.name}`,
          tags: [abi],
          summary: syscall.summary,
          description: `${syscall.description}\n\nErrors: ${
            syscall.errors.map((e) => `${prefix}_ERR_${e}`).join(", ") || "none"
          }.`,
          security: [{ bearer: [] }],
          requestBody: {
            required: false,
            content: json(schemaOf(syscall.params, "input")),
          },
          responses: {
            "200": {
              description: `${prefix}_OK with the out parameters`,
              content: json({ allOf: [{ $ref: "#/components/schemas/Ok" }, outs] }),
            },
            ...errorResponses(codes),
          },
        },
      };
    }
  }
  return paths;
}

/** POST /v1/{abi}/batch: many calls of the token's thread in one request (routes/batch.ts). */
function batchPaths(): Record<string, { post: Operation }> {
  const paths: Record<string, { post: Operation }> = {};
  for (const abi of ABIS) {
    const prefix = prefixOf(abi);
    const responses = errorResponses([ERR.BAD_STATE]);
    responses["400"].description = "INVALID_ARGS: malformed JSON or a batch of the wrong " +
      "shape (the first bad field named, e.g. calls.3.name, or more than " +
      `${MAX_BATCH_CALLS} calls); no call ran`;
    responses["409"].description = "BAD_STATE: another request of the token's thread is in " +
      "progress (a blocking call); no call ran";
    paths[`/v1/${abi}/${BATCH_NAME}`] = {
      post: {
        operationId: `${abi}_${BATCH_NAME}`,
        tags: [abi],
        summary: "Make many syscalls in one request, in order",
        description: "The token's thread makes `calls` in order, each exactly as " +
          `POST /v1/${abi}/{name} with \`args\` as its body would at that point (the same ` +
          "checks in the same order: the name, the arguments, the thread's state, the call). " +
          "Each result is `{http, body}`: the HTTP status and the body that route would have " +
          'answered, byte for byte, failures included. `mode` "stop_on_error" (the default) ' +
          'ends the batch after the first call that fails; "continue" runs every call. A call ' +
          "that ends the calling thread (thread_exit, process_exit, a kill of its process) " +
          "ends the batch, as does the thread's death while a call blocks. `ended` says why " +
          'the batch ended: "complete", "error" or "thread_dead"; the reply is ' +
          `${prefix}_OK whatever its calls answered.\n\n` +
          "A blocking call (object_wait_one, nanosleep) blocks the batch, with the server's " +
          "usual cap per call; the thread is busy for the whole batch, so other requests with " +
          "its token get 409 BAD_STATE meanwhile. A bad batch (its JSON, its shape, more than " +
          `${MAX_BATCH_CALLS} calls, no token, a body over 1 MiB) is one error for the whole ` +
          "request, and no call runs. The 1 MiB body limit holds for the whole batch: about " +
          "3,500 thread_write_state calls with a 160-byte buffer. No syscall is called " +
          `"${BATCH_NAME}".`,
        security: [{ bearer: [] }],
        requestBody: { required: true, content: json(schemaOf(batchSchema, "input")) },
        responses: {
          "200": {
            description: `${prefix}_OK: the batch ran; each call's own status is in results`,
            content: json(schemaOf(batchReplySchema, "output")),
          },
          ...responses,
        },
      },
    };
  }
  return paths;
}

function kernelPaths(): Record<string, Record<string, Operation>> {
  const idParam = [{ name: "id", in: "path", required: true, schema: { type: "string" } }];
  // A function: each operation gets its own object, since examples are added per operation.
  const unauthorized = () => ({ description: "no token of this kernel", content: json(errorRef) });
  return {
    "/v1/kernels": {
      get: {
        operationId: "list_kernels",
        tags: ["kernels"],
        summary: "The caller's kernels: the one its token belongs to",
        description: "A token belongs to exactly one kernel, so the list has one entry: the " +
          "kernel's id and arch. Without a valid token: 401. Kernels are never listed across " +
          "tokens (each token sees only its own kernel).",
        security: [{ bearer: [] }],
        responses: {
          "200": {
            description: "the kernel of the token",
            content: json({
              type: "object",
              required: ["kernels"],
              properties: {
                kernels: {
                  type: "array",
                  items: {
                    type: "object",
                    required: ["kernel", "arch"],
                    properties: {
                      kernel: { type: "string" },
                      arch: { type: "string", enum: ["x64", "arm64"] },
                    },
                  },
                },
              },
            }),
          },
          "401": { description: "missing or unknown bearer token", content: json(errorRef) },
        },
      },
      post: {
        operationId: "create_kernel",
        tags: ["kernels"],
        summary: "Create a kernel; returns a bootstrap token and handles",
        description: "Kernels share nothing. The token is a bearer credential of the kernel's " +
          "bootstrap thread, which is RUNNING and makes every syscall sent with it; `handles` " +
          "are the values that thread starts with, valid only in its process. `limits` may lower " +
          "this kernel's caps below the server's (see GET /v1/kernels/{id}). When the server " +
          "has ZXSIM_CREATE_TOKEN set, this call needs `Authorization: Bearer <that token>` " +
          "(401 otherwise); without it, anyone may create. A kernel no request has used for " +
          "ZXSIM_KERNEL_TTL_MS (default one hour) is deleted.",
        // Open, or with the server's create credential when it has one.
        security: [{}, { bearer: [] }],
        requestBody: { content: json(schemaOf(createKernelSchema, "input")) },
        responses: {
          "201": { description: "created", content: json({ $ref: "#/components/schemas/Kernel" }) },
          "400": {
            description: "bad body, or a limit above the server's",
            content: json(errorRef),
          },
          "401": {
            description: "the server needs its create credential (ZXSIM_CREATE_TOKEN)",
            content: json(errorRef),
          },
          "503": {
            description: "NO_RESOURCES: the server hosts its maximum of kernels " +
              "(ZXSIM_MAX_KERNELS; expired kernels are deleted first)",
            content: json(errorRef),
          },
        },
      },
    },
    "/v1/kernels/{id}": {
      get: {
        operationId: "get_kernel",
        tags: ["kernels"],
        summary: "Summary of a kernel's objects (jobs, processes, threads, handles)",
        description: "The job tree with each process's threads (state, lifecycle, suspend " +
          "count) and handle table (value, koid, type, rights), and `caller`: the koids of the " +
          "thread the token acts as and of its process. `limits`: each of the kernel's and the " +
          "server's caps with its current use. Every list (a job's jobs and processes, a " +
          "process's threads and handles) shows at most `?limit=` entries (default 1000, at " +
          "most 10000), a process's threads and handles from `?offset=` (default 0), with each " +
          "list's full count beside it and `truncated` set where one was cut, so a large " +
          "kernel's summary stays small and fast.",
        parameters: [
          ...idParam,
          { name: "offset", in: "query", required: false, schema: { type: "integer", minimum: 0 } },
          {
            name: "limit",
            in: "query",
            required: false,
            schema: { type: "integer", minimum: 0, maximum: 10000, default: 1000 },
          },
        ],
        security: [{ bearer: [] }],
        responses: {
          "200": {
            description: "summary",
            content: json(schemaOf(kernelSummarySchema, "output")),
          },
          "400": { description: "bad `offset` or `limit`", content: json(errorRef) },
          "401": unauthorized(),
        },
      },
      delete: {
        operationId: "delete_kernel",
        tags: ["kernels"],
        summary: "Delete a kernel; its tokens stop working",
        description: "Kills everything in the kernel. Any token of the kernel may delete it.",
        parameters: idParam,
        security: [{ bearer: [] }],
        responses: { "204": { description: "deleted" }, "401": unauthorized() },
      },
    },
    "/v1/kernels/{id}/debuglog": {
      get: {
        operationId: "get_debuglog",
        tags: ["kernels"],
        summary: "The kernel's debug log: zx_debug_write output and crash reports",
        description: "Records oldest first (the log keeps the newest 1 MiB of text). " +
          "`?from=N` returns only records numbered N and later; `next` is the number to pass " +
          "next time. A process killed by an exception nobody handled leaves a line here.",
        parameters: [
          ...idParam,
          { name: "from", in: "query", required: false, schema: { type: "integer", minimum: 0 } },
        ],
        security: [{ bearer: [] }],
        responses: {
          "200": { description: "the records", content: json(schemaOf(debuglogSchema, "output")) },
          "400": { description: "bad `from`", content: json(errorRef) },
          "401": unauthorized(),
        },
      },
    },
    "/v1/kernels/{id}/advance": {
      post: {
        operationId: "advance_kernel",
        tags: ["kernels"],
        summary: "Run a manual kernel's threads for some instructions or virtual time",
        description: 'Only for kernels booted with `"scheduler": "manual"` (others: 409 ' +
          "BAD_STATE). Threads take turns of 4096 instructions, round robin; the virtual clock " +
          "moves 1 ns per instruction and jumps to the next timer (a sleep, a deadline) when " +
          "nothing can run. Ends when `instructions` have retired or `time_ns` has passed, " +
          "when nothing is left to run, or at the server's cap on one request.",
        parameters: idParam,
        security: [{ bearer: [] }],
        requestBody: { content: json(schemaOf(advanceSchema, "input")) },
        responses: {
          "200": {
            description: "what ran",
            content: json(schemaOf(advanceReplySchema, "output")),
          },
          "400": { description: "bad body", content: json(errorRef) },
          "401": unauthorized(),
          "409": { description: "BAD_STATE: not a manual kernel", content: json(errorRef) },
        },
      },
    },
    "/v1/kernels/{id}/tokens": {
      post: {
        operationId: "create_token",
        tags: ["kernels"],
        summary: "Start a NEW thread driven by the client holding the returned token",
        description: "`thread` is a handle, in the caller's process, to a thread (of any " +
          "process) that was created and never started, with ZX_RIGHT_WRITE. The thread becomes " +
          "RUNNING and the new token makes its syscalls, one at a time, in the thread's own " +
          "process.",
        parameters: idParam,
        security: [{ bearer: [] }],
        requestBody: { content: json(schemaOf(createTokenSchema, "input")) },
        responses: {
          "201": {
            description: "the thread is RUNNING",
            content: json({ type: "object", properties: { token: { type: "string" } } }),
          },
          ...errorResponses([ERR.BAD_HANDLE, ERR.WRONG_TYPE, ERR.ACCESS_DENIED, ERR.BAD_STATE]),
        },
      },
    },
  };
}

/** Puts one exchange into an operation: its request body and the reply under its HTTP code. */
function attach(operation: Operation, key: "ok" | "error", exchange: Exchange) {
  const status = exchange.reply?.status ?? `HTTP ${exchange.http}`;
  const label = key === "ok"
    ? `worked example: ${status}`
    : `worked example of a failure: ${status}`;
  if (exchange.request !== undefined && operation.requestBody) {
    const media = operation.requestBody.content["application/json"];
    const examples = (media.examples ??= {}) as Json;
    examples[key] = { summary: label, value: exchange.request };
  }
  const response = operation.responses[String(exchange.http)] ??= {
    description: statusName(Number(exchange.reply?.code ?? 0)),
    content: json(errorRef),
  };
  if (exchange.reply === undefined) return;
  response.content ??= json({ type: "object" });
  const media = (response.content as Record<string, Json>)["application/json"];
  const examples = (media.examples ??= {}) as Json;
  examples[key] = { summary: label, value: exchange.reply };
}

/** The status codes a response's examples already show. */
function codesShown(examples: Json): Set<number> {
  return new Set(
    Object.values(examples).map((e) => Number(((e as Json).value as Json | undefined)?.code)),
  );
}

/** Adds `exchange`'s reply as an example of the response for its HTTP code, if documented. */
function attachReply(operation: Operation, exchange: Exchange, summary: string): void {
  const response = operation.responses[String(exchange.http)];
  if (!response || exchange.reply === undefined) return;
  const media = (response.content as Record<string, Json> | undefined)?.["application/json"];
  if (!media) return;
  const examples = (media.examples ??= {}) as Json;
  const code = Number(exchange.reply.code);
  if (codesShown(examples).has(code)) return;
  examples[String(exchange.reply.status).toLowerCase()] = { summary, value: exchange.reply };
}

/**
 * What each error status means, for a response no request above shows: the
 * example is then built by the server's own errorBody, with this message.
 */
const STATUS_MEANINGS: Readonly<Record<string, string>> = {
  INVALID_ARGS: "an argument is not valid (the message names it)",
  OUT_OF_RANGE: "a value is out of the range the call accepts (the message says which)",
  BUFFER_TOO_SMALL: "the buffer is smaller than what the call must write or read",
  BAD_HANDLE: "the handle is not valid in the calling process",
  WRONG_TYPE: "the handle is not of the type this call takes",
  ACCESS_DENIED: "the handle lacks a right this call needs (the message names it)",
  NOT_FOUND: "what the call looks for does not exist",
  BAD_SYSCALL: "there is no such syscall",
  BAD_STATE: "the object is not in a state that allows this call (the message says why)",
  ALREADY_EXISTS: "what the call would create already exists",
  ALREADY_BOUND: "the object is already bound",
  SHOULD_WAIT: "nothing is ready yet; wait and try again",
  CANCELED: "the wait was canceled",
  INTERNAL_INTR_KILLED: "the calling thread was killed while it blocked",
  NOT_SUPPORTED: "the call or this use of it is not supported",
  UNAVAILABLE: "the resource is unavailable",
  NO_MEMORY: "the kernel is out of memory (or handles) for this",
  NO_RESOURCES: "the kernel or server is out of a resource this needs",
  TIMED_OUT: "the deadline (or the server's cap on one request) passed first",
};

/** The status behind the HTTP codes zxsim itself adds (no Zircon status maps to them). */
const BY_HTTP: Readonly<Record<string, number>> = {
  "401": ERR.ACCESS_DENIED,
  "413": ERR.OUT_OF_RANGE,
};
/** Their messages, as the server words them. */
const HTTP_MEANINGS: Readonly<Record<string, string>> = {
  "401": "missing or unknown bearer token",
  "413": `the body is larger than ${BODY_LIMIT} bytes`,
};

/** Every error response an operation documents gets an example of each status it lists. */
function fillErrorExamples(path: string, operation: Operation): void {
  const abi = path.startsWith("/v1/mx/") ? "mx" : "zx";
  for (const [http, response] of Object.entries(operation.responses)) {
    if (Number(http) < 400) continue;
    response.content ??= json(errorRef);
    const media = (response.content as Record<string, Json>)["application/json"];
    const examples = (media.examples ??= {}) as Json;
    const shown = codesShown(examples);
    const statuses = statusesOf.get(response) ?? [
      BY_HTTP[http] ?? HTTP_STATUS_TABLE.find(([, h]) => h === Number(http))?.[0] ??
        ERR.INVALID_ARGS,
    ];
    for (const code of statuses) {
      if (shown.has(code)) continue;
      const suffix = statusName(code).replace(/^ZX_ERR_/, "");
      const meaning = HTTP_MEANINGS[http] ?? STATUS_MEANINGS[suffix] ?? response.description;
      examples[statusName(code, prefixOf(abi)).toLowerCase()] = {
        summary: `${statusName(code, prefixOf(abi))}: the form of the reply (its message ` +
          "says what exactly was wrong)",
        value: JSON.parse(errorBody(abi, code, String(meaning))),
      };
    }
  }
}

function statusTable(): string {
  const rows = HTTP_STATUS_TABLE.map(([code, http]) =>
    `| ${statusName(code)} | ${code} | ${http} |`
  );
  return [
    "| status | code | HTTP |",
    "| --- | --- | --- |",
    "| ZX_OK | 0 | 200 (201 for created kernels and tokens, 204 for deletes) |",
    ...rows,
    "| (missing or unknown bearer token: ZX_ERR_ACCESS_DENIED) | -30 | 401 |",
    "| (a method the path does not take, with an `Allow` header: ZX_ERR_NOT_SUPPORTED) | -2 " +
    "| 405 |",
    "| (body over 1 MiB: ZX_ERR_OUT_OF_RANGE) | -14 | 413 |",
  ].join("\n");
}

// Short on top: Swagger UI shows the description above "Authorize" and the
// operations, so the conventions and the status table are folded away.
const DESCRIPTION = `A simulator of the Zircon microkernel over HTTP/JSON. Create a kernel with
\`POST /v1/kernels\`, press **Authorize** and paste its \`token\`, then "Try it out" on any call.

<details>
<summary>Conventions</summary>

- \`/v1/zx\` follows modern Zircon (2022-2023); \`/v1/mx\` follows Magenta (mid-2017) for
  thread_read_state and thread_write_state, with \`MX_\` status names.
- Create a kernel with \`POST /v1/kernels\`, then send its \`token\` as \`Authorization: Bearer\`.
- Integers are JSON numbers; 64-bit values may also be \`"0x..."\` strings. Buffers are standard
  base64. Flag parameters (kind, options, rights, topic, property, signals) take a number, a
  constant name or an array of names OR-ed together. Unknown fields are refused.
- Replies are \`{"status":"ZX_OK","code":0,...outs}\` or
  \`{"status":"ZX_ERR_...","code":n,"message":"...",...outs Zircon writes anyway}\`.
- Every worked example below is a real reply: the server ran it in a fresh kernel whose
  bootstrap thread created a thread "worker" (started, held suspended) and a thread "new"
  (never started). Handle values differ from kernel to kernel.
- Register names in \`regs\` are Zircon's field names, as reads return them (arm64 \`r[0]\` for
  x0); writes also take the usual names: arm64 x0..x30, fp; x64 dr0..dr3 (see \`regs\`).

</details>

<details>
<summary>Statuses and HTTP codes</summary>

`;

/** The document; with `examples` (by operationId), each operation shows a real exchange. */
export function openApiDocument(examples?: ReadonlyMap<string, WorkedExample>): Json {
  const paths: Record<string, Record<string, Operation>> = {
    ...kernelPaths(),
    ...syscallPaths(),
    ...batchPaths(),
  };
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const example = examples?.get(operation.operationId);
      if (!example) continue;
      attach(operation, "ok", example.ok);
      attach(operation, "error", example.error);
      for (const other of example.more ?? []) {
        attachReply(operation, other, `${other.reply?.status}: a real reply`);
      }
    }
  }
  for (const [path, operations] of Object.entries(paths)) {
    for (const operation of Object.values(operations)) fillErrorExamples(path, operation);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "zxsim",
      version: "0.1.0",
      description: `${DESCRIPTION}${statusTable()}\n\n</details>\n`,
    },
    servers: [{ url: "/", description: "the server that serves this document" }],
    tags: [
      { name: "kernels", description: "Create, inspect and delete kernels; tokens for threads" },
      { name: "zx", description: "Syscalls with modern Zircon's ABI (2022-2023)" },
      { name: "mx", description: "Syscalls with the Magenta ABI (mid-2017), MX_ status names" },
    ],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        ...sharedSchemas,
        Ok: {
          type: "object",
          required: ["status", "code"],
          properties: {
            status: { type: "string", enum: ["ZX_OK", "MX_OK"] },
            code: { type: "integer", const: 0 },
          },
        },
        Error: {
          type: "object",
          required: ["status", "code", "message"],
          properties: {
            status: { type: "string", examples: ["ZX_ERR_BAD_HANDLE", "MX_ERR_INVALID_ARGS"] },
            code: { type: "integer", examples: [-11] },
            message: { type: "string" },
          },
          additionalProperties: true,
        },
        Kernel: {
          type: "object",
          properties: {
            kernel: { type: "string" },
            arch: { type: "string", enum: ["x64", "arm64"] },
            token: { type: "string" },
            handles: {
              type: "object",
              properties: Object.fromEntries(
                ["root_job", "hypervisor_resource", "process", "vmar", "thread"].map((k) => [
                  k,
                  { type: "integer" },
                ]),
              ),
            },
          },
        },
      },
    },
  };
}
