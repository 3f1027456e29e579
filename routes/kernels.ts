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

function processSummary(process: Process) {
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

function jobSummary(job: Job): Record<string, unknown> {
  return {
    koid: job.koid,
    name: job.name,
    dead: job.dead,
    jobs: [...job.childJobs].map(jobSummary),
    processes: [...job.processes].map(processSummary),
  };
}

/** The kernel's object tree, and which thread the asking token makes syscalls as. */
function kernelSummary(session: Session) {
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
