// The OpenAPI 3.1 document, generated from the same zod schemas that
// validate requests, so the document cannot drift from the server.

import { z } from "zod";
import { SYSCALLS } from "../kernel/syscalls/table.ts";
import { ERR, statusName } from "../kernel/status.ts";
import { ABIS, httpStatusFor, prefixOf } from "./abi.ts";
import { createKernelSchema, createTokenSchema } from "./kernels.ts";

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: "input" | "output"): Json {
  const json = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
  delete (json as Json).$schema;
  return json as Json;
}

const errorRef = { $ref: "#/components/schemas/Error" };

function errorResponses(codes: readonly number[]): Json {
  const responses: Json = {
    "400": { description: "INVALID_ARGS (malformed body or field) and other argument errors" },
    "401": { description: "missing or unknown bearer token" },
    "413": { description: "body larger than 1 MiB" },
  };
  for (const code of codes) {
    const http = String(httpStatusFor(code));
    const existing = (responses[http] as Json | undefined)?.description;
    const name = statusName(code);
    responses[http] = { description: existing ? `${existing}; ${name}` : name };
  }
  for (const key of Object.keys(responses)) {
    (responses[key] as Json).content = { "application/json": { schema: errorRef } };
  }
  return responses;
}

function syscallPaths(): Json {
  const paths: Json = {};
  for (const syscall of SYSCALLS) {
    for (const abi of ABIS.filter((a) => syscall.abis.includes(a))) {
      const prefix = prefixOf(abi);
      const codes = syscall.errors.map((suffix) => ERR[suffix as keyof typeof ERR]);
      const outs = schemaOf(syscall.outs, "output");
      paths[`/v1/${abi}/${syscall.name}`] = {
        post: {
          operationId: `${abi}_${syscall.name}`,
          tags: [abi === "zx" ? "zx syscalls (modern Zircon)" : "mx syscalls (Magenta ABI)"],
          summary: syscall.summary,
          description: `${syscall.description}\n\nErrors: ${
            syscall.errors.map((e) => `${prefix}_ERR_${e}`).join(", ") || "none"
          }.`,
          security: [{ bearer: [] }],
          requestBody: {
            required: false,
            content: {
              "application/json": {
                schema: schemaOf(syscall.params, "input"),
                example: syscall.example,
              },
            },
          },
          responses: {
            "200": {
              description: `${prefix}_OK with the out parameters`,
              content: {
                "application/json": {
                  schema: {
                    allOf: [{ $ref: "#/components/schemas/Ok" }, outs],
                  },
                },
              },
            },
            ...errorResponses(codes),
          },
        },
      };
    }
  }
  return paths;
}

function kernelPaths(): Json {
  const idParam = [{ name: "id", in: "path", required: true, schema: { type: "string" } }];
  const json = (schema: Json) => ({ "application/json": { schema } });
  return {
    "/v1/kernels": {
      post: {
        operationId: "create_kernel",
        tags: ["kernels"],
        summary: "Create a kernel; returns a bootstrap token and handles",
        security: [],
        requestBody: { content: json(schemaOf(createKernelSchema, "input")) },
        responses: {
          "201": { description: "created", content: json({ $ref: "#/components/schemas/Kernel" }) },
          "400": { description: "bad body", content: json(errorRef) },
        },
      },
    },
    "/v1/kernels/{id}": {
      get: {
        operationId: "get_kernel",
        tags: ["kernels"],
        summary: "Summary of a kernel's objects (jobs, processes, threads, handles)",
        parameters: idParam,
        security: [{ bearer: [] }],
        responses: {
          "200": { description: "summary", content: json({ type: "object" }) },
          "401": { description: "no token of this kernel", content: json(errorRef) },
        },
      },
      delete: {
        operationId: "delete_kernel",
        tags: ["kernels"],
        summary: "Delete a kernel; its tokens stop working",
        parameters: idParam,
        security: [{ bearer: [] }],
        responses: {
          "204": { description: "deleted" },
          "401": { description: "no token of this kernel", content: json(errorRef) },
        },
      },
    },
    "/v1/kernels/{id}/tokens": {
      post: {
        operationId: "create_token",
        tags: ["kernels"],
        summary: "Start a NEW thread driven by the client holding the returned token",
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

export function openApiDocument(): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "zxsim",
      version: "0.1.0",
      description: "A simulator of the Zircon microkernel over HTTP/JSON. /v1/zx follows modern " +
        "Zircon (2022-2023); /v1/mx follows Magenta (mid-2017) for thread_read_state and " +
        'thread_write_state. Integers are JSON numbers; 64-bit values may also be "0x..." ' +
        "strings; buffers are standard base64. Flag parameters take a number, a constant name " +
        "or an array of names.",
    },
    servers: [{ url: "http://127.0.0.1:8000", description: "deno task start" }],
    paths: { ...kernelPaths(), ...syscallPaths() },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
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
