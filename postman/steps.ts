// The Postman scenario as data: folders of ordered steps, each one request
// with its body, the variables it stores and what its tests assert. build.ts
// turns this into the collection; the syscall descriptions, status codes
// and HTTP statuses come from the syscall table and the status table, not
// from here, so they cannot drift from the server.

/** Whose bearer token a request carries: one variable per kernel of the scenario. */
export type KernelName = "x64" | "arm64" | "nodebug";

/** One pm.test: a sentence for the runner's report and the JavaScript that checks it. */
export interface Check {
  readonly that: string;
  readonly js: string;
}

/** What the reply must be, before the step's own checks. */
export type Reply =
  /** 200 with status ZX_OK / MX_OK and code 0. */
  | "ok"
  /** A failure by its suffix after ZX_ERR_ / MX_ERR_; `http` only where a route overrides it. */
  | { readonly error: string; readonly http?: number }
  /** A kernels route's plain HTTP status (a 204 has no body to look at). */
  | { readonly http: number };

interface StepBase {
  readonly name: string;
  /** What this request demonstrates; shown above the syscall's own description. */
  readonly shows: string;
  /** The token the request is made with (none for POST /v1/kernels). */
  readonly as?: KernelName;
  readonly body?: Record<string, unknown>;
  readonly reply: Reply;
  readonly checks?: readonly Check[];
  /** Variables to store from the reply: variable name -> path in the reply body. */
  readonly save?: Readonly<Record<string, string>>;
  /** Pre-request script lines, e.g. to patch a register buffer before sending it. */
  readonly prerequest?: readonly string[];
}

/** POST /v1/{abi}/{syscall}: the syscall must exist in the table for that ABI. */
export interface SyscallStep extends StepBase {
  readonly abi: "zx" | "mx";
  readonly syscall: string;
}

/** One of the /v1/kernels routes. */
export interface RouteStep extends StepBase {
  readonly method: "GET" | "POST" | "DELETE";
  readonly path: string;
}

export type Step = SyscallStep | RouteStep;

export interface Folder {
  readonly name: string;
  readonly description: string;
  readonly steps: readonly Step[];
}

// ---------------------------------------------------------------------------
// Helpers that keep the data below short

/**
 * A variable used where the body needs a JSON number (a handle): build.ts
 * writes it unquoted, `{{name}}`. A plain "{{name}}" string stays a string.
 */
export const num = (name: string): string => `<num:${name}>`;
export const NUM_MARKER = /"<num:([A-Za-z0-9_]+)>"/g;

const js = (value: unknown) => JSON.stringify(value);

/** The JavaScript for a path in the reply body ("" is the body itself). */
const at = (path: string) => (path === "" ? "body" : `body.${path}`);

/** body.<path> equals `value`. */
export function eq(that: string, path: string, value: unknown): Check {
  return { that, js: `pm.expect(${at(path)}).to.eql(${js(value)});` };
}

/** body.<path> equals a variable stored earlier. */
export function eqVar(that: string, path: string, variable: string): Check {
  return { that, js: `pm.expect(${at(path)}).to.eql(pm.environment.get(${js(variable)}));` };
}

/** body.<path> is base64 of exactly `size` bytes. */
export function bytes(that: string, path: string, size: number): Check {
  return { that, js: `pm.expect(atob(${at(path)}).length).to.equal(${size});` };
}

/** body.<path> is a handle value: a positive integer with its two low bits set. */
export function isHandle(that: string, path: string): Check {
  return {
    that,
    js: `pm.expect(${at(path)}).to.be.a("number").and.satisfy((h) => h > 0 && (h & 3) === 3);`,
  };
}

/** body.<path> has no property `name`. */
export function lacks(that: string, path: string, name: string): Check {
  return { that, js: `pm.expect(${at(path)}).to.not.have.property(${js(name)});` };
}

/** The error message mentions `text`. */
export function says(text: string): Check {
  return {
    that: `the message mentions "${text}"`,
    js: `pm.expect(body.message).to.include(${js(text)});`,
  };
}

/**
 * Pre-request lines: take the base64 register buffer stored in `from`,
 * overwrite the little-endian u64 at byte `offset` with `hex` (16 hex
 * digits) and store the result in `to`. atob/btoa work on byte strings in
 * the Postman sandbox, which is all this needs.
 */
export function patchU64(from: string, to: string, offset: number, hex: string): string[] {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new Error(`patchU64: ${hex} is not 16 hex digits`);
  return [
    `// Overwrite the 8 bytes at offset ${offset} with 0x${hex}, little-endian.`,
    `const regs = atob(pm.environment.get(${js(from)}));`,
    `const value = ${js(hex)}.match(/../g).reverse()`,
    `  .map((pair) => String.fromCharCode(parseInt(pair, 16))).join("");`,
    `pm.environment.set(${js(to)}, btoa(regs.slice(0, ${offset}) + value + ` +
    `regs.slice(${offset + 8})));`,
  ];
}

/** POST /v1/kernels and store what the later steps need. */
function createKernel(
  kernel: KernelName,
  name: string,
  shows: string,
  body: { arch: string; boot_options?: object },
): Step {
  return {
    name,
    shows,
    method: "POST",
    path: "/v1/kernels",
    body,
    reply: { http: 201 },
    checks: [
      eq(`the kernel is ${body.arch}`, "arch", body.arch),
      {
        that: "a bearer token came back",
        js: `pm.expect(body.token).to.be.a("string").and.not.empty;`,
      },
      isHandle("the bootstrap process handle is a handle value", "handles.process"),
      isHandle("the bootstrap thread handle is a handle value", "handles.thread"),
    ],
    save: {
      [`${kernel}_kernel`]: "kernel",
      [`${kernel}_token`]: "token",
      [`${kernel}_process`]: "handles.process",
      [`${kernel}_root_job`]: "handles.root_job",
    },
  };
}

const ENTRY = "0x1000000";
const STACK = "0x2000000";
const hex64 = (value: bigint) => "0x" + value.toString(16).padStart(16, "0");

/** ZX_INFO_THREAD's state values (zircon/syscalls/object.h). */
const THREAD_RUNNING = 1, THREAD_SUSPENDED = 2, THREAD_DEAD = 5;

const X64_GENERAL_SIZE = 160, ARM64_GENERAL_SIZE = 280;
const X64_REGSET0_SIZE = 144, ARM64_REGSET0_SIZE = 272;

// ---------------------------------------------------------------------------
// The scenario

const bootX64: Folder = {
  name: "1. Boot an x64 kernel",
  description: "Every kernel is independent. Creating one returns a bearer token for its " +
    "bootstrap thread (the caller of every syscall made with it) and the handles that thread " +
    "starts with; the requests below store them in the environment.",
  steps: [
    createKernel(
      "x64",
      "Create an x64 kernel",
      "Creates a kernel and stores its id, token, bootstrap process and root job.",
      { arch: "x64" },
    ),
    {
      name: "Look at the kernel's summary",
      shows: "The object tree of the kernel: jobs, processes, threads and handle tables, " +
        "and which thread the token makes syscalls as.",
      method: "GET",
      path: "/v1/kernels/{{x64_kernel}}",
      as: "x64",
      reply: { http: 200 },
      checks: [
        eqVar("it is the kernel just created", "kernel", "x64_kernel"),
        eq("the bootstrap process is there", "root_job.processes[0].name", "bootstrap"),
        {
          that: "the caller is the bootstrap thread",
          js: "pm.expect(body.caller.thread).to.eql(body.root_job.processes[0].threads[0].koid);",
        },
      ],
    },
  ],
};

const suspendBeforeStart: Folder = {
  name: "2. Suspend a thread before it starts",
  description: "A thread suspended while NEW stops before its first instruction as soon as " +
    "it is started: no wait is needed, and its start registers are readable at once.",
  steps: [
    {
      name: "Create a worker thread",
      shows: "Creates a NEW thread in the bootstrap process and stores it as x64_worker.",
      abi: "zx",
      syscall: "thread_create",
      as: "x64",
      body: { process: num("x64_process"), name: "worker" },
      reply: "ok",
      checks: [isHandle("out is the new thread's handle", "out")],
      save: { x64_worker: "out" },
    },
    {
      name: "Suspend it (keep the suspend token)",
      shows: "The thread stays suspended while the token is open; closing it resumes the thread.",
      abi: "zx",
      syscall: "task_suspend",
      as: "x64",
      body: { handle: num("x64_worker") },
      reply: "ok",
      checks: [isHandle("token is a handle", "token")],
      save: { x64_suspend: "token" },
    },
    {
      name: "Start it: entry, stack and two arguments",
      shows: "Starting the suspended thread leaves it stopped before its first instruction " +
        "with rip = entry, rsp = stack, rdi = arg1, rsi = arg2.",
      abi: "zx",
      syscall: "thread_start",
      as: "x64",
      body: { handle: num("x64_worker"), thread_entry: ENTRY, stack: STACK, arg1: 1, arg2: 2 },
      reply: "ok",
    },
    {
      name: "ZX_INFO_THREAD says SUSPENDED",
      shows: "zx_info_thread_t.state is ZX_THREAD_STATE_SUSPENDED (2) right after the start.",
      abi: "zx",
      syscall: "object_get_info",
      as: "x64",
      body: { handle: num("x64_worker"), topic: "ZX_INFO_THREAD" },
      reply: "ok",
      checks: [eq("state is ZX_THREAD_STATE_SUSPENDED", "info.state", THREAD_SUSPENDED)],
    },
  ],
};

const x64Registers: Folder = {
  name: "3. Read and write x64 registers",
  description: "zx_thread_read_state returns the struct's bytes (base64 `buffer`) and a named " +
    "view (`regs`); zx_thread_write_state takes either named `regs` (the others keep their " +
    "values) or a whole `buffer`.",
  steps: [
    {
      name: "Read the general registers",
      shows: "zx_x86_64_thread_state_general_regs_t is 160 bytes; the start values are set.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        bytes("the buffer is 160 bytes", "buffer", X64_GENERAL_SIZE),
        eq("rip is the entry point", "regs.rip", hex64(0x1000000n)),
        eq("rsp is the stack", "regs.rsp", hex64(0x2000000n)),
        eq("rdi is arg1", "regs.rdi", hex64(1n)),
        eq("rsi is arg2", "regs.rsi", hex64(2n)),
        eq("rflags is 0x200 (IF) on a thread that has not run", "regs.rflags", hex64(0x200n)),
      ],
    },
    {
      name: "Write rax = 42 by name",
      shows: "Named registers: only rax changes.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS", regs: { rax: 42 } },
      reply: "ok",
    },
    {
      name: "Read back: rax is 42, rip unchanged",
      shows: "The named write changed rax and nothing else.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        eq("rax is 42", "regs.rax", hex64(42n)),
        eq("rip is still the entry point", "regs.rip", hex64(0x1000000n)),
      ],
    },
    {
      name: "Write rflags = 0xffffffff",
      shows: "rflags takes only the user bits 0x244DD5 (CF PF AF ZF SF TF DF OF NT AC ID); " +
        "the other bits keep their value and the write still succeeds.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_worker"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        regs: { rflags: "0xffffffff" },
      },
      reply: "ok",
    },
    {
      name: "Read back: rflags is masked to 0x244fd5",
      shows: "0x200 (IF, kept) | 0x244DD5 (the user bits written) = 0x244FD5. The buffer is " +
        "stored as x64_general for the next request.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [eq("rflags is 0x244fd5", "regs.rflags", hex64(0x244fd5n))],
      save: { x64_general: "buffer" },
    },
    {
      name: "Write the whole struct as a buffer (rbx patched)",
      shows: "The pre-request script takes the buffer just read, puts 0x1122334455667788 in " +
        "rbx (bytes 8..15) and sends all 160 bytes back.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      prerequest: patchU64("x64_general", "x64_patched", 8, "1122334455667788"),
      body: {
        handle: num("x64_worker"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        buffer: "{{x64_patched}}",
      },
      reply: "ok",
    },
    {
      name: "Read back: the same 160 bytes",
      shows: "The registers are byte for byte what was written.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        eqVar("the buffer is the one written", "buffer", "x64_patched"),
        eq("rbx is 0x1122334455667788", "regs.rbx", "0x1122334455667788"),
        eq("rax is still 42", "regs.rax", hex64(42n)),
      ],
    },
  ],
};

const arm64Registers: Folder = {
  name: "4. The same on an arm64 kernel",
  description: "arm64 names its registers r[0..29], lr, sp, pc, cpsr and tpidr; " +
    "zx_arm64_thread_state_general_regs_t is 280 bytes and cpsr keeps only NZCV.",
  steps: [
    createKernel(
      "arm64",
      "Create an arm64 kernel",
      "A second kernel, independent of the first, with its own token and handles.",
      { arch: "arm64" },
    ),
    {
      name: "Create a worker thread (arm64)",
      shows: "Creates a NEW thread in the arm64 kernel's bootstrap process.",
      abi: "zx",
      syscall: "thread_create",
      as: "arm64",
      body: { process: num("arm64_process"), name: "worker" },
      reply: "ok",
      checks: [isHandle("out is the new thread's handle", "out")],
      save: { arm64_worker: "out" },
    },
    {
      name: "Suspend it (arm64)",
      shows: "Suspends the NEW thread and stores the suspend token.",
      abi: "zx",
      syscall: "task_suspend",
      as: "arm64",
      body: { handle: num("arm64_worker") },
      reply: "ok",
      checks: [isHandle("token is a handle", "token")],
      save: { arm64_suspend: "token" },
    },
    {
      name: "Start it (arm64)",
      shows: "pc = entry, sp = stack, x0 = arg1, x1 = arg2.",
      abi: "zx",
      syscall: "thread_start",
      as: "arm64",
      body: { handle: num("arm64_worker"), thread_entry: ENTRY, stack: STACK, arg1: 1, arg2: 2 },
      reply: "ok",
    },
    {
      name: "ZX_INFO_THREAD says SUSPENDED (arm64)",
      shows: "Suspended before the first instruction, as on x64.",
      abi: "zx",
      syscall: "object_get_info",
      as: "arm64",
      body: { handle: num("arm64_worker"), topic: "ZX_INFO_THREAD" },
      reply: "ok",
      checks: [eq("state is ZX_THREAD_STATE_SUSPENDED", "info.state", THREAD_SUSPENDED)],
    },
    {
      name: "Read the general registers (arm64)",
      shows: "280 bytes; pc, sp, x0 and x1 hold the start values, cpsr is 0.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "arm64",
      body: { handle: num("arm64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        bytes("the buffer is 280 bytes", "buffer", ARM64_GENERAL_SIZE),
        eq("pc is the entry point", "regs.pc", hex64(0x1000000n)),
        eq("sp is the stack", "regs.sp", hex64(0x2000000n)),
        eq("x0 is arg1", "regs.r[0]", hex64(1n)),
        eq("x1 is arg2", "regs.r[1]", hex64(2n)),
        eq("cpsr is 0", "regs.cpsr", hex64(0n)),
      ],
    },
    {
      name: "Write x2 = 42 and cpsr = 0xffffffff by name",
      shows: "Array elements are named like r[2]; cpsr takes only NZCV (0xF0000000).",
      abi: "zx",
      syscall: "thread_write_state",
      as: "arm64",
      body: {
        handle: num("arm64_worker"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        regs: { "r[2]": 42, cpsr: "0xffffffff" },
      },
      reply: "ok",
    },
    {
      name: "Read back: x2 is 42, cpsr is NZCV only",
      shows: "The buffer is stored as arm64_general for the next request.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "arm64",
      body: { handle: num("arm64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        eq("x2 is 42", "regs.r[2]", hex64(42n)),
        eq("cpsr is 0xf0000000", "regs.cpsr", hex64(0xf0000000n)),
        eq("pc is still the entry point", "regs.pc", hex64(0x1000000n)),
      ],
      save: { arm64_general: "buffer" },
    },
    {
      name: "Write the whole struct as a buffer (lr patched)",
      shows: "The pre-request script puts 0x1000040 in lr (bytes 240..247) and sends all " +
        "280 bytes back.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "arm64",
      prerequest: patchU64("arm64_general", "arm64_patched", 240, "0000000001000040"),
      body: {
        handle: num("arm64_worker"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        buffer: "{{arm64_patched}}",
      },
      reply: "ok",
    },
    {
      name: "Read back: the same 280 bytes",
      shows: "The registers are byte for byte what was written.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "arm64",
      body: { handle: num("arm64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        eqVar("the buffer is the one written", "buffer", "arm64_patched"),
        eq("lr is 0x1000040", "regs.lr", hex64(0x1000040n)),
      ],
    },
  ],
};

const magenta: Folder = {
  name: "5. The Magenta ABI (/v1/mx)",
  description: "The mid-2017 Magenta calls reach the same registers with Magenta's layouts: " +
    "MX_THREAD_STATE_REGSET0 is 144 bytes on x64 (no fs_base/gs_base) and 272 on arm64 (no " +
    "tpidr), a write must send exactly that many bytes, and replies say MX_OK / MX_ERR_*.",
  steps: [
    {
      name: "Read REGSET0 through /v1/mx (x64)",
      shows: "144 bytes, `actual` = 144, the registers written through /v1/zx above.",
      abi: "mx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "MX_THREAD_STATE_REGSET0" },
      reply: "ok",
      checks: [
        bytes("the buffer is 144 bytes", "buffer", X64_REGSET0_SIZE),
        eq("actual is 144", "actual", X64_REGSET0_SIZE),
        eq("rax is 42 (written through /v1/zx)", "regs.rax", hex64(42n)),
        eq("rbx is 0x1122334455667788", "regs.rbx", "0x1122334455667788"),
        lacks("there is no fs_base in Magenta's struct", "regs", "fs_base"),
      ],
      save: { x64_regset0: "buffer" },
    },
    {
      name: "Write REGSET0 as a buffer (rcx patched)",
      shows: "The pre-request script puts 0xc0ffee00 in rcx (bytes 16..23) of the 144 bytes.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      prerequest: patchU64("x64_regset0", "x64_regset0_patched", 16, "00000000c0ffee00"),
      body: {
        handle: num("x64_worker"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "{{x64_regset0_patched}}",
      },
      reply: "ok",
    },
    {
      name: "Read through /v1/zx: the same registers",
      shows: "Both ABIs see one register file: rcx changed, fs_base/gs_base are still there.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        eq("rcx is 0xc0ffee00", "regs.rcx", hex64(0xc0ffee00n)),
        eq("fs_base is untouched", "regs.fs_base", hex64(0n)),
      ],
    },
    {
      name: "A 3-byte buffer: MX_ERR_INVALID_ARGS",
      shows: "Magenta wants exactly the 144-byte register set on write.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "MX_THREAD_STATE_REGSET0", buffer: "AAAA" },
      reply: { error: "INVALID_ARGS" },
      checks: [says("144")],
    },
    {
      name: "Read with len 16: MX_ERR_BUFFER_TOO_SMALL and the size needed",
      shows: "A read into a short buffer fails and `actual` says how large it must be.",
      abi: "mx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "MX_THREAD_STATE_REGSET0", len: 16 },
      reply: { error: "BUFFER_TOO_SMALL" },
      checks: [
        eq("actual is 144", "actual", X64_REGSET0_SIZE),
        lacks("no buffer came back", "", "buffer"),
      ],
    },
    {
      name: "Read REGSET0 through /v1/mx (arm64)",
      shows: "272 bytes on arm64: r[30], lr, sp, pc, cpsr.",
      abi: "mx",
      syscall: "thread_read_state",
      as: "arm64",
      body: { handle: num("arm64_worker"), kind: "MX_THREAD_STATE_REGSET0" },
      reply: "ok",
      checks: [
        bytes("the buffer is 272 bytes", "buffer", ARM64_REGSET0_SIZE),
        eq("actual is 272", "actual", ARM64_REGSET0_SIZE),
        eq("lr is 0x1000040 (written through /v1/zx)", "regs.lr", hex64(0x1000040n)),
        lacks("there is no tpidr in Magenta's struct", "regs", "tpidr"),
      ],
    },
    {
      name: "Write the 280-byte zx struct to REGSET0: MX_ERR_INVALID_ARGS",
      shows: "The modern struct is 8 bytes longer (tpidr); Magenta refuses any other length.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "arm64",
      body: {
        handle: num("arm64_worker"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "{{arm64_patched}}",
      },
      reply: { error: "INVALID_ARGS" },
      checks: [says("272")],
    },
  ],
};

const zxErrors: Folder = {
  name: "6. zx_thread_read_state / zx_thread_write_state errors",
  description: "Each documented failure, in the modern order of checks: debugging-syscalls " +
    "gate (write), handle, type, rights, kind, buffer size, thread state, register values. " +
    "Every error reply carries status, code and a message.",
  steps: [
    {
      name: "Duplicate the worker handle, to close it",
      shows: "A second handle to the worker; the next request closes it.",
      abi: "zx",
      syscall: "handle_duplicate",
      as: "x64",
      body: { handle: num("x64_worker"), rights: "ZX_RIGHT_SAME_RIGHTS" },
      reply: "ok",
      save: { x64_closed: "out" },
    },
    {
      name: "Close the duplicate",
      shows: "Its value is now stale.",
      abi: "zx",
      syscall: "handle_close",
      as: "x64",
      body: { handle: num("x64_closed") },
      reply: "ok",
    },
    {
      name: "ZX_ERR_BAD_HANDLE: handle 0",
      shows: "0 (ZX_HANDLE_INVALID) is never a valid handle.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: 0, kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: { error: "BAD_HANDLE" },
    },
    {
      name: "ZX_ERR_BAD_HANDLE: a closed handle",
      shows: "A value that was valid once and has been closed.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      body: { handle: num("x64_closed"), kind: "ZX_THREAD_STATE_GENERAL_REGS", regs: { rax: 1 } },
      reply: { error: "BAD_HANDLE" },
    },
    {
      name: "ZX_ERR_WRONG_TYPE: a process handle",
      shows: "The handle is valid but is not a thread.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_process"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: { error: "WRONG_TYPE" },
    },
    {
      name: "Duplicate the worker with ZX_RIGHT_READ only",
      shows: "A thread handle that may read registers but not write them.",
      abi: "zx",
      syscall: "handle_duplicate",
      as: "x64",
      body: { handle: num("x64_worker"), rights: "ZX_RIGHT_READ" },
      reply: "ok",
      save: { x64_read_only: "out" },
    },
    {
      name: "Duplicate the worker with ZX_RIGHT_WRITE only",
      shows: "A thread handle that may write registers but not read them.",
      abi: "zx",
      syscall: "handle_duplicate",
      as: "x64",
      body: { handle: num("x64_worker"), rights: "ZX_RIGHT_WRITE" },
      reply: "ok",
      save: { x64_write_only: "out" },
    },
    {
      name: "ZX_ERR_ACCESS_DENIED: writing without ZX_RIGHT_WRITE",
      shows: "zx_thread_write_state needs ZX_RIGHT_WRITE.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_read_only"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        regs: { rax: 1 },
      },
      reply: { error: "ACCESS_DENIED" },
    },
    {
      name: "ZX_ERR_ACCESS_DENIED: reading without ZX_RIGHT_READ",
      shows: "zx_thread_read_state needs ZX_RIGHT_READ.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_write_only"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: { error: "ACCESS_DENIED" },
    },
    {
      name: "ZX_ERR_INVALID_ARGS: kind 3 is not a kind",
      shows: "The kinds are 0, 1, 2, 4 and 5; 3 was never used.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: 3 },
      reply: { error: "INVALID_ARGS" },
    },
    {
      name: "ZX_ERR_INVALID_ARGS: rip outside user space",
      shows: "rip must be a canonical user address; a refused write changes nothing.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_worker"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        regs: { rip: "0xffffff8000000000", rax: 7 },
      },
      reply: { error: "INVALID_ARGS" },
      checks: [says("rip")],
    },
    {
      name: "Read back: the refused write changed nothing",
      shows: "Neither rip nor rax (named in the same write) changed.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: "ok",
      checks: [
        eq("rip is still the entry point", "regs.rip", hex64(0x1000000n)),
        eq("rax is still 42", "regs.rax", hex64(42n)),
      ],
    },
    {
      name: "ZX_ERR_BUFFER_TOO_SMALL: read with buffer_size 8",
      shows: "The caller's buffer must hold the whole struct (a larger one is fine).",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS", buffer_size: 8 },
      reply: { error: "BUFFER_TOO_SMALL" },
    },
    {
      name: "ZX_ERR_BUFFER_TOO_SMALL: write 8 bytes",
      shows: "A write of fewer bytes than the struct.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_worker"),
        kind: "ZX_THREAD_STATE_GENERAL_REGS",
        buffer: "AAAAAAAAAAA=",
      },
      reply: { error: "BUFFER_TOO_SMALL" },
    },
    {
      name: "Create a thread that will run",
      shows: "A second thread, started without being suspended.",
      abi: "zx",
      syscall: "thread_create",
      as: "x64",
      body: { process: num("x64_process"), name: "runner" },
      reply: "ok",
      save: { x64_runner: "out" },
    },
    {
      name: "Start it running",
      shows: "It is RUNNING: its registers cannot be looked at.",
      abi: "zx",
      syscall: "thread_start",
      as: "x64",
      body: { handle: num("x64_runner"), thread_entry: ENTRY, stack: STACK },
      reply: "ok",
    },
    {
      name: "ZX_ERR_BAD_STATE: a running thread",
      shows: "Registers are readable only while the thread is suspended or in an exception.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_runner"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: { error: "BAD_STATE" },
    },
    {
      name: "ZX_ERR_NOT_SUPPORTED: FP_REGS on arm64",
      shows: "arm64 keeps its floating-point state in the vector registers.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "arm64",
      body: { handle: num("arm64_worker"), kind: "ZX_THREAD_STATE_FP_REGS" },
      reply: { error: "NOT_SUPPORTED" },
    },
    createKernel(
      "nodebug",
      "Boot a kernel without debugging syscalls",
      "The boot option enable_debugging_syscalls = false gates debug-register and " +
        "single-step writes.",
      { arch: "x64", boot_options: { enable_debugging_syscalls: false } },
    ),
    {
      name: "ZX_ERR_NOT_SUPPORTED: DEBUG_REGS write with the gate closed",
      shows: "The gate is checked before the handle: even handle 0 gives NOT_SUPPORTED.",
      abi: "zx",
      syscall: "thread_write_state",
      as: "nodebug",
      body: { handle: 0, kind: "ZX_THREAD_STATE_DEBUG_REGS", buffer: "" },
      reply: { error: "NOT_SUPPORTED" },
      checks: [says("enable_debugging_syscalls")],
    },
  ],
};

const mxWriteErrors: Folder = {
  name: "7. mx_thread_write_state errors (the Magenta man page)",
  description: "Every error of the Magenta mx_thread_write_state man page. Magenta checked the " +
    "rights before the type, the length limit (4096) and the bytes sent before the thread's " +
    "state, and the kind after it.",
  steps: [
    {
      name: "MX_ERR_BAD_HANDLE: handle is not a valid handle",
      shows: "Handle 0.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: { handle: 0, kind: "MX_THREAD_STATE_REGSET0", buffer: "{{x64_regset0}}" },
      reply: { error: "BAD_HANDLE" },
    },
    {
      name: "MX_ERR_WRONG_TYPE: handle is not that of a thread",
      shows: "The bootstrap process handle, which has MX_RIGHT_WRITE.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_process"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "{{x64_regset0}}",
      },
      reply: { error: "WRONG_TYPE" },
    },
    {
      name: "MX_ERR_ACCESS_DENIED: handle lacks MX_RIGHT_WRITE",
      shows: "The read-only duplicate of the worker made in folder 6.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_read_only"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "{{x64_regset0}}",
      },
      reply: { error: "ACCESS_DENIED" },
    },
    {
      name: "Duplicate the process with ZX_RIGHT_READ only",
      shows: "Not a thread, and no write right either.",
      abi: "zx",
      syscall: "handle_duplicate",
      as: "x64",
      body: { handle: num("x64_process"), rights: "ZX_RIGHT_READ" },
      reply: "ok",
      save: { x64_process_read_only: "out" },
    },
    {
      name: "MX_ERR_ACCESS_DENIED before MX_ERR_WRONG_TYPE",
      shows: "Magenta checked rights before type (/v1/zx says ZX_ERR_WRONG_TYPE here).",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_process_read_only"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "{{x64_regset0}}",
      },
      reply: { error: "ACCESS_DENIED" },
    },
    {
      name: "MX_ERR_INVALID_ARGS: kind is not valid",
      shows: "Only REGSET0 exists; REGSET1..9 are INVALID_ARGS.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_worker"),
        kind: "MX_THREAD_STATE_REGSET1",
        buffer: "{{x64_regset0}}",
      },
      reply: { error: "INVALID_ARGS" },
    },
    {
      name: "MX_ERR_INVALID_ARGS: buffer is an invalid pointer",
      shows: "len says 144 bytes but only 3 are sent: the copy from user memory fails.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_worker"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "AAAA",
        len: 144,
      },
      reply: { error: "INVALID_ARGS" },
      checks: [says("invalid pointer")],
    },
    {
      name: "MX_ERR_INVALID_ARGS: len is too large",
      shows: "More than MX_MAX_THREAD_STATE_SIZE (4096).",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "MX_THREAD_STATE_REGSET0", len: 5000 },
      reply: { error: "INVALID_ARGS" },
      checks: [says("4096")],
    },
    {
      name: "MX_ERR_BAD_STATE: the thread is not stopped",
      shows: "The running thread from folder 6.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_runner"),
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: "{{x64_regset0}}",
      },
      reply: { error: "BAD_STATE" },
    },
    {
      name: "REGSET9: INVALID_ARGS, never NOT_SUPPORTED or UNAVAILABLE",
      shows: "The man page also lists MX_ERR_NOT_SUPPORTED, MX_ERR_UNAVAILABLE and " +
        "MX_ERR_NO_MEMORY, but Magenta implemented only REGSET0 and no kernel returned " +
        "them for these calls: a register set no hardware has is simply not a valid kind.",
      abi: "mx",
      syscall: "thread_write_state",
      as: "x64",
      body: {
        handle: num("x64_worker"),
        kind: "MX_THREAD_STATE_REGSET9",
        buffer: "{{x64_regset0}}",
      },
      reply: { error: "INVALID_ARGS" },
    },
  ],
};

/**
 * Extend with the VCPU flow when the hypervisor syscalls exist (guest_create,
 * vcpu_create, vcpu_read_state / vcpu_write_state and the zx_vcpu_write_state
 * errors). build.ts leaves a folder without steps out of the collection.
 */
const vcpu: Folder = {
  name: "8. VCPU state (zx_vcpu_read_state / zx_vcpu_write_state)",
  description: "Guests and VCPUs: their state is read and written like a thread's.",
  steps: [],
};

const cleanUp: Folder = {
  name: "9. Resume, kill and clean up",
  description: "Closing the last suspend token resumes a thread; killing a process kills its " +
    "threads; deleting a kernel ends everything in it, tokens included.",
  steps: [
    {
      name: "Close the suspend token: the worker resumes",
      shows: "The last token closed, the thread runs again.",
      abi: "zx",
      syscall: "handle_close",
      as: "x64",
      body: { handle: num("x64_suspend") },
      reply: "ok",
    },
    {
      name: "ZX_INFO_THREAD says RUNNING",
      shows: "zx_info_thread_t.state is ZX_THREAD_STATE_RUNNING (1).",
      abi: "zx",
      syscall: "object_get_info",
      as: "x64",
      body: { handle: num("x64_worker"), topic: "ZX_INFO_THREAD" },
      reply: "ok",
      checks: [eq("state is ZX_THREAD_STATE_RUNNING", "info.state", THREAD_RUNNING)],
    },
    {
      name: "ZX_ERR_BAD_STATE: the resumed thread",
      shows: "Once resumed its registers are out of reach again.",
      abi: "zx",
      syscall: "thread_read_state",
      as: "x64",
      body: { handle: num("x64_worker"), kind: "ZX_THREAD_STATE_GENERAL_REGS" },
      reply: { error: "BAD_STATE" },
    },
    {
      name: "ZX_ERR_WRONG_TYPE: a thread cannot be killed",
      shows: "Modern Zircon kills jobs and processes only.",
      abi: "zx",
      syscall: "task_kill",
      as: "x64",
      body: { handle: num("x64_worker") },
      reply: { error: "WRONG_TYPE" },
    },
    {
      name: "Create a process to kill",
      shows: "A new process in the root job.",
      abi: "zx",
      syscall: "process_create",
      as: "x64",
      body: { job: num("x64_root_job"), name: "victim" },
      reply: "ok",
      checks: [isHandle("proc_handle is a handle", "proc_handle")],
      save: { x64_victim: "proc_handle" },
    },
    {
      name: "Create a thread in it",
      shows: "The process's first thread.",
      abi: "zx",
      syscall: "thread_create",
      as: "x64",
      body: { process: num("x64_victim"), name: "doomed" },
      reply: "ok",
      save: { x64_victim_thread: "out" },
    },
    {
      name: "Start it (this starts the process)",
      shows: "The first thread started in a process starts the process.",
      abi: "zx",
      syscall: "thread_start",
      as: "x64",
      body: { handle: num("x64_victim_thread"), thread_entry: ENTRY, stack: STACK },
      reply: "ok",
    },
    {
      name: "Kill the process",
      shows: "Its threads die with it.",
      abi: "zx",
      syscall: "task_kill",
      as: "x64",
      body: { handle: num("x64_victim") },
      reply: "ok",
    },
    {
      name: "ZX_INFO_THREAD says DEAD",
      shows: "zx_info_thread_t.state is ZX_THREAD_STATE_DEAD (5).",
      abi: "zx",
      syscall: "object_get_info",
      as: "x64",
      body: { handle: num("x64_victim_thread"), topic: "ZX_INFO_THREAD" },
      reply: "ok",
      checks: [eq("state is ZX_THREAD_STATE_DEAD", "info.state", THREAD_DEAD)],
    },
    {
      name: "Resume the arm64 worker",
      shows: "Closes the arm64 suspend token.",
      abi: "zx",
      syscall: "handle_close",
      as: "arm64",
      body: { handle: num("arm64_suspend") },
      reply: "ok",
    },
    ...(["x64", "arm64", "nodebug"] as const).map((kernel): Step => ({
      name: `Delete the ${kernel} kernel`,
      shows: "Kills everything in the kernel; its tokens stop working.",
      method: "DELETE",
      path: `/v1/kernels/{{${kernel}_kernel}}`,
      as: kernel,
      reply: { http: 204 },
    })),
    {
      name: "The deleted kernel's token is refused",
      shows: "401: the token is unknown now.",
      method: "GET",
      path: "/v1/kernels/{{x64_kernel}}",
      as: "x64",
      reply: { error: "ACCESS_DENIED", http: 401 },
    },
  ],
};

export const SCENARIO: readonly Folder[] = [
  bootX64,
  suspendBeforeStart,
  x64Registers,
  arm64Registers,
  magenta,
  zxErrors,
  mxWriteErrors,
  vcpu,
  cleanUp,
];
