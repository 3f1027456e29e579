// /v1/kernels: create, inspect and delete kernels, and mint tokens for
// threads that a client wants to drive.

import { z } from "zod";
import { ARCH_NAMES } from "../arch/registry.ts";
import type { Job } from "../kernel/job.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { KernelLimits } from "../kernel/limits.ts";
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
  limits: z.strictObject({
    objects: z.number().int().min(1).optional().describe(
      "live kernel objects (jobs, processes, threads, VMOs, channel endpoints, ports, suspend " +
        "tokens); more is NO_MEMORY",
    ),
    threads_per_process: z.number().int().min(1).optional().describe(
      "threads of one process, created and not destroyed; more is NO_MEMORY",
    ),
    handles: z.number().int().min(5).optional().describe(
      "live handles (at least the bootstrap thread's 5); more is NO_MEMORY",
    ),
    committed_bytes: z.number().int().min(0).optional().describe(
      "bytes the kernel's VMOs may commit; more is NO_MEMORY",
    ),
  }).optional().describe(
    "lower this kernel's caps below the server's (a value above the server's is 400); " +
      "GET /v1/kernels/{id} shows them with their use",
  ),
});

/** How many threads, handles, processes or child jobs the summary lists per parent by default. */
export const SUMMARY_DEFAULT_LIMIT = 1000;
/** The most `?limit=` may ask for. */
export const SUMMARY_MAX_LIMIT = 10_000;

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

const countOf = (what: string) =>
  z.number().int().describe(`how many ${what} there are in all (the list may hold fewer)`);
const truncated = z.boolean().describe(
  "a list here was cut by ?offset= / ?limit= (compare the lists with the counts)",
);

const processSummarySchema = z.strictObject({
  koid,
  name: z.string(),
  state: z.enum(["INITIAL", "RUNNING", "DYING", "DEAD"]),
  return_code: z.number().int().describe("as ZX_INFO_PROCESS reports it"),
  vdso_base: z.string().nullable().describe("where the vDSO is mapped (hex), once started"),
  thread_count: countOf("threads (created, not destroyed)"),
  threads: z.array(threadSummarySchema),
  handle_count: countOf("handles in its table"),
  handles: z.array(handleSummarySchema),
  truncated,
});

const jobSummarySchema = z.strictObject({
  koid,
  name: z.string(),
  dead: z.boolean(),
  job_count: countOf("child jobs"),
  get jobs() {
    return z.array(jobSummarySchema);
  },
  process_count: countOf("processes"),
  processes: z.array(processSummarySchema),
  truncated,
}).meta({ id: "JobSummary" }); // recursive: the docs refer to it by this name

const limitUse = (what: string) =>
  z.strictObject({
    limit: z.number().int().describe(`the most ${what} allowed`),
    used: z.number().int().describe("how many now"),
  }).describe(what);

/** A kernel's caps and their use: GET /v1/kernels/{id} `limits`. */
export const limitsSummarySchema = z.strictObject({
  objects: limitUse("live kernel objects in this kernel"),
  threads_per_process: limitUse(
    "threads per process (created, not destroyed); used: the most any process has",
  ),
  handles: limitUse("live handles in this kernel's handle tables"),
  committed_bytes: limitUse("bytes this kernel's VMOs have committed"),
  kernels: limitUse("kernels on this server"),
  blocked_calls: limitUse("requests blocked in a syscall on this server"),
  kernel_ttl_ms: z.number().int().describe(
    "this server deletes a kernel no request has used for this long (0: never)",
  ),
});

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
  limits: limitsSummarySchema,
  page: z.strictObject({
    offset: z.number().int().describe(
      "the first entry listed of each process's threads and handles (?offset=)",
    ),
    limit: z.number().int().describe("the most entries listed per list (?limit=)"),
  }).describe(
    "each process's threads and handles show entries offset to offset + limit - 1; a job's " +
      "jobs and processes show the first limit; counts give the totals",
  ),
  root_job: jobSummarySchema,
});

/** Which entries of each list a summary shows. */
interface Page {
  readonly offset: number;
  readonly limit: number;
}

/** Entries offset .. offset + limit - 1 of `items`, and how many there are, in one pass. */
function pageOf<T>(items: Iterable<T>, page: Page): { count: number; listed: T[] } {
  const listed: T[] = [];
  let count = 0;
  const end = page.offset + page.limit;
  for (const item of items) {
    if (count >= page.offset && count < end) listed.push(item);
    count++;
  }
  return { count, listed };
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

function processSummary(process: Process, page: Page): z.output<typeof processSummarySchema> {
  const threads = pageOf(process.createdThreads, page);
  const handles = pageOf(process.handles.handles(), page);
  return {
    koid: process.koid,
    name: process.name,
    state: process.state,
    return_code: process.returnCode,
    vdso_base: process.vdsoBase === null ? null : hex(BigInt(process.vdsoBase)),
    thread_count: threads.count,
    threads: threads.listed.map((thread) => ({
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
    handle_count: handles.count,
    handles: handles.listed.map((h) => ({
      handle: h.value,
      koid: h.object.koid,
      type: h.object.type,
      type_name: typeName(h.object.type),
      rights: h.rights,
    })),
    truncated: threads.listed.length < threads.count || handles.listed.length < handles.count,
  };
}

function jobSummary(job: Job, page: Page): z.output<typeof jobSummarySchema> {
  // ?offset= pages a process's threads and handles; a job's lists start at 0.
  const first = { offset: 0, limit: page.limit };
  const jobs = pageOf(job.childJobs, first);
  const processes = pageOf(job.processes, first);
  return {
    koid: job.koid,
    name: job.name,
    dead: job.dead,
    job_count: jobs.count,
    jobs: jobs.listed.map((child) => jobSummary(child, page)),
    process_count: processes.count,
    processes: processes.listed.map((process) => processSummary(process, page)),
    truncated: jobs.listed.length < jobs.count || processes.listed.length < processes.count,
  };
}

/** Every process of the kernel (live or not yet destroyed), depth first. */
function* allProcesses(job: Job): Generator<Process> {
  yield* job.processes;
  for (const child of job.childJobs) yield* allProcesses(child);
}

function limitsSummary(kernel: Kernel, registry: KernelRegistry) {
  let handles = 0;
  let threads = 0;
  for (const process of allProcesses(kernel.rootJob)) {
    for (const _ of process.handles.handles()) handles++;
    threads = Math.max(threads, process.createdThreads.size);
  }
  const { limits } = kernel;
  const reply: z.output<typeof limitsSummarySchema> = {
    objects: { limit: limits.objects, used: kernel.objects.count },
    threads_per_process: { limit: limits.threads_per_process, used: threads },
    handles: { limit: limits.handles, used: handles },
    committed_bytes: { limit: limits.committed_bytes, used: kernel.memory.committedBytes },
    kernels: { limit: registry.limits.maxKernels, used: registry.size },
    blocked_calls: { limit: registry.blocked.limit, used: registry.blocked.count },
    kernel_ttl_ms: registry.limits.kernelTtlMs,
  };
  return reply;
}

/** `?offset=` and `?limit=` of a summary request, or a 400. */
function pageFrom(request: Request): Page {
  const query = new URL(request.url).searchParams;
  const read = (name: string, fallback: number, max: number) => {
    const text = query.get(name);
    if (text === null) return fallback;
    const value = Number(text);
    if (!/^[0-9]{1,15}$/.test(text) || value > max) {
      throw new RequestError(
        400,
        ERR.INVALID_ARGS,
        `${name} must be an integer from 0 to ${max}, not "${text}"`,
      );
    }
    return value;
  };
  return {
    offset: read("offset", 0, Number.MAX_SAFE_INTEGER),
    limit: read("limit", SUMMARY_DEFAULT_LIMIT, SUMMARY_MAX_LIMIT),
  };
}

/** The kernel's object tree, and which thread the asking token makes syscalls as. */
function kernelSummary(
  session: Session,
  registry: KernelRegistry,
  page: Page,
): z.output<typeof kernelSummarySchema> {
  const { kernel, thread } = session;
  return {
    kernel: kernel.id,
    arch: kernel.arch.name,
    boot_options: kernel.bootOptions,
    now: Number(kernel.now()),
    caller: { thread: thread.koid, process: thread.process.koid },
    limits: limitsSummary(kernel, registry),
    page,
    root_job: jobSummary(kernel.rootJob, page),
  };
}

/** Constant-time string comparison, for the create credential. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export interface KernelRouteOptions {
  /** When set, POST /v1/kernels needs `Authorization: Bearer <createToken>` (401 otherwise). */
  readonly createToken?: string;
}

export function kernelRoutes(registry: KernelRegistry, options: KernelRouteOptions = {}) {
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
    if (options.createToken !== undefined) {
      const presented = bearerToken(request);
      if (presented === undefined || !sameSecret(presented, options.createToken)) {
        throw new RequestError(
          401,
          ERR.ACCESS_DENIED,
          "this server needs its create credential to make kernels: " +
            "Authorization: Bearer <ZXSIM_CREATE_TOKEN>",
        );
      }
    }
    const { arch, boot_options, limits = {} } = parseWith(
      createKernelSchema,
      await readJson(request),
    );
    for (const [name, value] of Object.entries(limits) as [keyof KernelLimits, number][]) {
      const most = registry.limits.kernel[name];
      if (value > most) {
        throw new RequestError(
          400,
          ERR.INVALID_ARGS,
          `limits.${name}: ${value} is above this server's ${most}; a kernel may only lower it`,
        );
      }
    }
    if (registry.full) {
      throw new RequestError(
        503,
        ERR.NO_RESOURCES,
        `this server already hosts ${registry.limits.maxKernels} kernels; delete one first`,
      );
    }
    let created;
    try {
      created = registry.create(arch as "x64" | "arm64", boot_options, limits);
    } catch (error) {
      // Limits too small for the kernel's own boot (its bootstrap handles, the vDSO).
      if (!(error instanceof ZxError)) throw error;
      throw new RequestError(
        503,
        error.status,
        `a kernel cannot boot within these limits: ${error.message}`,
      );
    }
    const { kernel, token } = created;
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
    const session = authorize(request, id);
    return jsonResponse(JSON.stringify(kernelSummary(session, registry, pageFrom(request))));
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
