// /v1/kernels: create, inspect and delete kernels, and mint tokens for
// threads that a client wants to drive.

import { z } from "zod";
import { ARCH_NAMES } from "../arch/registry.ts";
import type { Job } from "../kernel/job.ts";
import type { Process } from "../kernel/process.ts";
import { startClientThread } from "../kernel/syscalls/task.ts";
import { ERR, ZxError } from "../kernel/status.ts";
import { typeName } from "../kernel/names.ts";
import {
  bearerToken,
  errorResponse,
  jsonResponse,
  parseWith,
  readJson,
  RequestError,
} from "./http.ts";
import { callerOf, type KernelRegistry, type Session } from "./registry.ts";

export const createKernelSchema = z.strictObject({
  arch: z.enum(ARCH_NAMES as [string, ...string[]]).default("x64"),
  boot_options: z
    .strictObject({ enable_debugging_syscalls: z.boolean().default(true) })
    .default({ enable_debugging_syscalls: true }),
});

export const createTokenSchema = z.strictObject({
  thread: z.number().int().min(0).max(0xffff_ffff).describe("a NEW thread's handle (needs WRITE)"),
});

const koid = z.number().int().describe("kernel object id");

const threadSummarySchema = z.strictObject({
  koid,
  name: z.string(),
  state: z.number().int().describe("ZX_THREAD_STATE_* as ZX_INFO_THREAD reports it"),
  lifecycle: z.enum(["INITIALIZED", "RUNNING", "SUSPENDED", "DYING", "DEAD"]),
  suspend_count: z.number().int(),
  driven_by_client: z.boolean().describe("a token makes this thread's syscalls"),
});

const handleSummarySchema = z.strictObject({
  handle: z.number().int().describe("the value, meaningful only in this process"),
  koid,
  type: z.number().int().describe("ZX_OBJ_TYPE_*"),
  type_name: z.string(),
  rights: z.number().int().describe("ZX_RIGHT_* bits"),
});

const processSummarySchema = z.strictObject({
  koid,
  name: z.string(),
  state: z.enum(["INITIAL", "RUNNING", "DYING", "DEAD"]),
  threads: z.array(threadSummarySchema),
  handles: z.array(handleSummarySchema),
});

const jobSummarySchema = z.strictObject({
  koid,
  name: z.string(),
  dead: z.boolean(),
  get jobs() {
    return z.array(jobSummarySchema);
  },
  processes: z.array(processSummarySchema),
}).meta({ id: "JobSummary" }); // recursive: the docs refer to it by this name

/** GET /v1/kernels/{id}, described for the docs (and checked against replies by the tests). */
export const kernelSummarySchema = z.strictObject({
  kernel: z.string(),
  arch: z.enum(ARCH_NAMES as [string, ...string[]]),
  boot_options: z.strictObject({ enable_debugging_syscalls: z.boolean() }),
  now: z.number().describe("the kernel's monotonic clock, ns"),
  caller: z.strictObject({ thread: koid, process: koid })
    .describe("the thread the token makes syscalls as, and its process"),
  root_job: jobSummarySchema,
});

function processSummary(process: Process): z.output<typeof processSummarySchema> {
  return {
    koid: process.koid,
    name: process.name,
    state: process.state,
    threads: [...process.createdThreads].map((thread) => ({
      koid: thread.koid,
      name: thread.name,
      state: thread.infoState,
      lifecycle: thread.lifecycle,
      suspend_count: thread.suspendCount,
      driven_by_client: thread.driver === "client",
    })),
    handles: [...process.handles.handles()].map((h) => ({
      handle: h.value,
      koid: h.object.koid,
      type: h.object.type,
      type_name: typeName(h.object.type),
      rights: h.rights,
    })),
  };
}

function jobSummary(job: Job): z.output<typeof jobSummarySchema> {
  return {
    koid: job.koid,
    name: job.name,
    dead: job.dead,
    jobs: [...job.childJobs].map(jobSummary),
    processes: [...job.processes].map(processSummary),
  };
}

/** The kernel's object tree, and which thread the asking token makes syscalls as. */
function kernelSummary(session: Session): z.output<typeof kernelSummarySchema> {
  const { kernel, thread } = session;
  return {
    kernel: kernel.id,
    arch: kernel.arch.name,
    boot_options: kernel.bootOptions,
    now: Number(kernel.now()),
    caller: { thread: thread.koid, process: thread.process.koid },
    root_job: jobSummary(kernel.rootJob),
  };
}

export function kernelRoutes(registry: KernelRegistry) {
  /** The kernel named in the path, if the request carries one of its tokens. */
  function authorize(request: Request, id: string) {
    const token = bearerToken(request);
    const session = token === undefined ? undefined : registry.session(token);
    if (!session || session.kernel.id !== id) {
      throw new RequestError(
        401,
        ERR.ACCESS_DENIED,
        "missing or unknown bearer token for this kernel",
      );
    }
    return session;
  }

  async function create(request: Request): Promise<Response> {
    const { arch, boot_options } = parseWith(createKernelSchema, await readJson(request));
    if (registry.full) {
      throw new RequestError(
        503,
        ERR.NO_RESOURCES,
        `this server already hosts ${registry.limits.maxKernels} kernels; delete one first`,
      );
    }
    const { kernel, token } = registry.create(arch as "x64" | "arm64", boot_options);
    return jsonResponse(
      JSON.stringify({
        kernel: kernel.id,
        arch: kernel.arch.name,
        token,
        handles: kernel.bootstrapHandles,
      }),
      201,
    );
  }

  function get(request: Request, id: string): Response {
    return jsonResponse(JSON.stringify(kernelSummary(authorize(request, id))));
  }

  function remove(request: Request, id: string): Response {
    authorize(request, id);
    registry.delete(id);
    return new Response(null, { status: 204 });
  }

  async function issueToken(request: Request, id: string): Promise<Response> {
    const session = authorize(request, id);
    const { thread } = parseWith(createTokenSchema, await readJson(request));
    try {
      if (!session.thread.alive) throw new ZxError(ERR.BAD_STATE, "the calling thread is dead");
      const started = startClientThread(callerOf(session, "zx", 0), thread);
      return jsonResponse(
        JSON.stringify({ token: registry.issueToken(session.kernel, started) }),
        201,
      );
    } catch (error) {
      if (error instanceof ZxError) return errorResponse("zx", error.status, error.message);
      throw error;
    }
  }

  return { create, get, remove, issueToken };
}
