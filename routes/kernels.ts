// /v1/kernels: create, inspect and delete kernels, and mint tokens for
// threads that a client wants to drive.

import { z } from "zod";
import { ARCH_NAMES } from "../arch/registry.ts";
import type { Job } from "../kernel/job.ts";
import type { Process } from "../kernel/process.ts";
import { startClientThread } from "../kernel/syscalls/task.ts";
import { ERR, ZxError } from "../kernel/status.ts";
import { typeName } from "../kernel/names.ts";
import { EXCP_NAMES } from "../kernel/exceptions.ts";
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
    .strictObject({
      enable_debugging_syscalls: z.boolean().default(true),
      scheduler: z.enum(["free", "manual"]).default("free").describe(
        '"free": threads run on their own against wall time, like hardware. "manual": ' +
          "threads run only while a client is blocked in a call or through " +
          "POST /v1/kernels/{id}/advance, on virtual time (1 ns per instruction), so the " +
          "same requests give the same results byte for byte.",
      ),
    })
    .default({ enable_debugging_syscalls: true, scheduler: "free" }),
});

export const advanceSchema = z.strictObject({
  instructions: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe(
    "run until this many more instructions have retired (across all threads)",
  ),
  time_ns: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe(
    "move the virtual clock on by this many ns, running threads meanwhile",
  ),
}).refine((v) => v.instructions !== undefined || v.time_ns !== undefined, {
  message: "give instructions, time_ns or both",
});

export const advanceReplySchema = z.strictObject({
  retired: z.number().int().describe("instructions retired by this call"),
  now: z.number().int().describe("the kernel's virtual clock afterwards, ns"),
  runnable: z.boolean().describe("whether any thread could still run"),
});

export const debuglogSchema = z.strictObject({
  text: z.string().describe("the records' text, concatenated"),
  records: z.array(z.strictObject({
    seq: z.number().int(),
    time: z.number().describe("monotonic ns when written"),
    pid: koidSchema(),
    tid: koidSchema(),
    text: z.string(),
  })),
  next: z.number().int().describe("pass as ?from= to read only newer records"),
});

export const createTokenSchema = z.strictObject({
  thread: z.number().int().min(0).max(0xffff_ffff).describe("a NEW thread's handle (needs WRITE)"),
});

function koidSchema() {
  return z.number().int().describe("kernel object id");
}
const koid = koidSchema();

const threadSummarySchema = z.strictObject({
  koid,
  name: z.string(),
  state: z.number().int().describe("ZX_THREAD_STATE_* as ZX_INFO_THREAD reports it"),
  lifecycle: z.enum(["INITIALIZED", "RUNNING", "SUSPENDED", "DYING", "DEAD"]),
  suspend_count: z.number().int(),
  driven_by_client: z.boolean().describe("a token makes this thread's syscalls"),
  runs_code: z.boolean().describe("started with thread_start / process_start: it runs its code"),
  exception: z.strictObject({
    type: z.number().int().describe("ZX_EXCP_*"),
    type_name: z.string(),
    pc: z.string().describe("where it was raised, hex"),
    fault_address: z.string().optional().describe("page faults: the address, hex"),
  }).nullable().describe("the last exception the thread raised (a fatal one killed its process)"),
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
  return_code: z.number().int().describe("as ZX_INFO_PROCESS reports it"),
  vdso_base: z.string().nullable().describe("where the vDSO is mapped (hex), once started"),
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
  boot_options: z.strictObject({
    enable_debugging_syscalls: z.boolean(),
    scheduler: z.enum(["free", "manual"]),
  }),
  now: z.number().describe("the kernel's monotonic clock, ns"),
  caller: z.strictObject({ thread: koid, process: koid })
    .describe("the thread the token makes syscalls as, and its process"),
  root_job: jobSummarySchema,
});

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

function processSummary(process: Process): z.output<typeof processSummarySchema> {
  return {
    koid: process.koid,
    name: process.name,
    state: process.state,
    return_code: process.returnCode,
    vdso_base: process.vdsoBase === null ? null : hex(BigInt(process.vdsoBase)),
    threads: [...process.createdThreads].map((thread) => ({
      koid: thread.koid,
      name: thread.name,
      state: thread.infoState,
      lifecycle: thread.lifecycle,
      suspend_count: thread.suspendCount,
      driven_by_client: thread.driver === "client",
      runs_code: thread.driver === "code",
      exception: thread.exception && {
        type: thread.exception.type,
        type_name: EXCP_NAMES[thread.exception.type] ?? "unknown",
        pc: hex(thread.exception.pc),
        ...(thread.exception.faultAddress === undefined
          ? {}
          : { fault_address: hex(thread.exception.faultAddress) }),
      },
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

  /** GET /v1/kernels/{id}/debuglog?from=N: what zx_debug_write printed, and crash reports. */
  function debuglog(request: Request, id: string): Response {
    const { kernel } = authorize(request, id);
    const fromText = new URL(request.url).searchParams.get("from") ?? "0";
    const from = Number(fromText);
    if (!/^[0-9]{1,15}$/.test(fromText) || !Number.isSafeInteger(from)) {
      throw new RequestError(
        400,
        ERR.INVALID_ARGS,
        `from must be a record number, not "${fromText}"`,
      );
    }
    const { first, records } = kernel.debuglog.since(from);
    const reply: z.output<typeof debuglogSchema> = {
      text: records.map((r) => r.text).join(""),
      records: records.map((r, i) => ({
        seq: first + i,
        time: Number(r.time),
        pid: r.pid,
        tid: r.tid,
        text: r.text,
      })),
      next: kernel.debuglog.next,
    };
    return jsonResponse(JSON.stringify(reply));
  }

  /** POST /v1/kernels/{id}/advance: runs a manual kernel's threads on virtual time. */
  async function advance(request: Request, id: string, capMs: number): Promise<Response> {
    const { kernel } = authorize(request, id);
    const { instructions, time_ns } = parseWith(advanceSchema, await readJson(request));
    if (kernel.clock.mode !== "manual") {
      throw new RequestError(
        409,
        ERR.BAD_STATE,
        'only a kernel booted with scheduler "manual" is advanced by hand; free kernels run ' +
          "on their own",
      );
    }
    const until = time_ns === undefined
      ? Number.MAX_SAFE_INTEGER
      : Math.min(kernel.clock.nowNs() + time_ns, Number.MAX_SAFE_INTEGER);
    const retired = await kernel.runner.advance(
      instructions ?? Number.MAX_SAFE_INTEGER,
      until,
      capMs,
    );
    const reply: z.output<typeof advanceReplySchema> = {
      retired,
      now: kernel.clock.nowNs(),
      runnable: kernel.runner.hasRunnable(),
    };
    return jsonResponse(JSON.stringify(reply));
  }

  return { create, get, remove, issueToken, debuglog, advance };
}
