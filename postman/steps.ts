// The Postman scenario as data: folders of ordered steps, each one request
// with its body, the variables it stores and what its tests assert. build.ts
// turns this into the collection; the syscall descriptions, status codes
// and HTTP statuses come from the syscall table and the status table, not
// from here, so they cannot drift from the server.
//
// The flows that run on both x64 and arm64 are one function each, given an
// Arch that holds only what differs between the two (register names, struct
// sizes, masks, the values written), so the two runs cannot drift apart
// either. Steps are made by a few builders (`ok`, `fails`, `threadIs`, ...)
// over calls named after their syscall (`zx64.read("x64_worker")`), so each
// step reads as what it sends and what it expects.

/** Whose bearer token a request carries: one variable per kernel of the scenario. */
export type KernelName =
  | "x64"
  | "arm64"
  | "nodebug"
  | "batch"
  /** A second thread of the x64 / arm64 kernel's bootstrap process: not its VCPU's thread. */
  | "x64_other"
  | "arm64_other";

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

/** One call in a batch step: checked against the syscall table like a syscall step. */
export interface BatchCall {
  readonly syscall: string;
  readonly args?: Record<string, unknown>;
  /**
   * What this call's result must be: "ok" or an error the syscall documents
   * (BAD_SYSCALL for a name that is not in the table: the one way to name one).
   */
  readonly reply: "ok" | { readonly error: string };
}

/**
 * POST /v1/{abi}/batch: `calls` in order as one request. The request's own
 * reply is `reply` (normally "ok": 200 and ZX_OK); then come the checks that
 * the batch `ended` as said and of each call's result, in order.
 */
export interface BatchStep extends StepBase {
  readonly abi: "zx" | "mx";
  readonly batch: readonly BatchCall[];
  readonly mode?: "stop_on_error" | "continue";
  /** How the batch ends; build.ts checks it against the calls' replies and `runs`. */
  readonly ended: "complete" | "error" | "thread_dead";
  /** How many calls run before the batch ends (default: all of them). */
  readonly runs?: number;
}

export type Step = SyscallStep | RouteStep | BatchStep;

export interface Folder {
  readonly name: string;
  readonly description: string;
  readonly steps: readonly Step[];
}

// ---------------------------------------------------------------------------
// Checks: one pm.test each

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
  // require("atob"): the sandbox's global atob is a deprecated legacy API that warns.
  return { that, js: `pm.expect(require("atob")(${at(path)}).length).to.equal(${size});` };
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

/** A register: its name in prose and checks, and its path in the reply's `regs`. */
interface Reg {
  readonly name: string;
  readonly path: string;
}

const reg = (name: string, path = name): Reg => ({ name, path });

/** How the server writes a u64: "0x" and 16 hex digits. */
const hex64 = (value: bigint) => "0x" + value.toString(16).padStart(16, "0");
/** How people write one: no leading zeros. */
const hex = (value: bigint) => "0x" + value.toString(16);

/** A register value as the checks say it: small ones in decimal, others in hex. */
const say = (value: bigint) => (value < 0x100n ? String(value) : hex(value));

/** regs.<register> holds `value`; the check says "<register> is <said>". */
function regIs(r: Reg, value: bigint, said = say(value)): Check {
  return eq(`${r.name} is ${said}`, `regs.${r.path}`, hex64(value));
}

/**
 * Pre-request lines: take the base64 register buffer stored in `from`,
 * overwrite the little-endian u64 at byte `offset` with `value` and store
 * the result in `to`. atob/btoa work on byte strings in the Postman
 * sandbox, which is all this needs (required as modules: the sandbox's
 * globals of those names are deprecated legacy APIs that warn).
 */
export function patchU64(from: string, to: string, offset: number, value: bigint): string[] {
  if (value < 0n || value >= 1n << 64n) throw new Error(`patchU64: ${value} is not a u64`);
  const digits = value.toString(16).padStart(16, "0");
  return [
    `// Overwrite the 8 bytes at offset ${offset} with 0x${digits}, little-endian.`,
    `const decode = require("atob"), encode = require("btoa");`,
    `const regs = decode(pm.environment.get(${js(from)}));`,
    `const value = ${js(digits)}.match(/../g).reverse()`,
    `  .map((pair) => String.fromCharCode(parseInt(pair, 16))).join("");`,
    `pm.environment.set(${js(to)}, encode(regs.slice(0, ${offset}) + value + ` +
    `regs.slice(${offset + 8})));`,
  ];
}

// ---------------------------------------------------------------------------
// Calls: what a syscall step sends

/** A handle in a body: a variable stored earlier, or 0 (ZX_HANDLE_INVALID). */
type HandleRef = string | 0;
const handle = (ref: HandleRef) => (ref === 0 ? 0 : num(ref));

type Body = Record<string, unknown>;
type Call = Pick<SyscallStep, "abi" | "syscall" | "as" | "body">;

/** Where every started thread starts: thread_start's entry point and stack. */
const ENTRY = 0x1000000n, STACK = 0x2000000n;
/** Where a process's root VMAR begins: vmar_map's offsets count from here. */
const ROOT_VMAR_BASE = 0x200000n;
const PAGE = 4096, STACK_SIZE = 0x10000;
/** ZX_TIME_INFINITE: a deadline that never passes. */
const INFINITE = "0x7fffffffffffffff";

/**
 * The thread-state calls read and write the general registers unless a step
 * asks for another kind: that is what almost every step looks at.
 */
const GENERAL_KIND = { zx: "ZX_THREAD_STATE_GENERAL_REGS", mx: "MX_THREAD_STATE_REGSET0" };

/**
 * The syscalls the scenario makes, through one ABI with one kernel's token.
 * `fields` adds to a thread-state body or overrides its kind, keeping the
 * body's order: handle, kind, then the rest.
 */
function caller(abi: "zx" | "mx", as: KernelName) {
  const call = (syscall: string, body: Body): Call => ({ abi, syscall, as, body });
  const state = (syscall: string) => (thread: HandleRef, fields: Body = {}) =>
    call(syscall, { handle: handle(thread), kind: GENERAL_KIND[abi], ...fields });
  const onHandle = (syscall: string) => (target: string) => call(syscall, { handle: num(target) });
  return {
    call,
    read: state("thread_read_state"),
    write: state("thread_write_state"),
    suspend: onHandle("task_suspend"),
    kill: onHandle("task_kill"),
    close: onHandle("handle_close"),
    duplicate: (target: string, rights: string) =>
      call("handle_duplicate", { handle: num(target), rights }),
    createThread: (process: string, name: string) =>
      call("thread_create", { process: num(process), name }),
    start: (thread: string, args: Body = {}) =>
      call("thread_start", {
        handle: num(thread),
        thread_entry: hex(ENTRY),
        stack: hex(STACK),
        ...args,
      }),
    threadInfo: (thread: string) =>
      call("object_get_info", { handle: num(thread), topic: "ZX_INFO_THREAD" }),
  };
}

const zx64 = caller("zx", "x64"), mx64 = caller("mx", "x64");
const zxArm64 = caller("zx", "arm64"), mxArm64 = caller("mx", "arm64");

// ---------------------------------------------------------------------------
// Steps: a name, what it shows, a call and what the reply must be

type More = Pick<StepBase, "checks" | "save" | "prerequest">;

/** A step whose call succeeds (ZX_OK / MX_OK), then its own checks. */
function ok(name: string, shows: string, call: Call, more: More = {}): SyscallStep {
  return { name, shows, ...call, reply: "ok", ...more };
}

/**
 * A step whose call fails with ZX_ERR_<error> / MX_ERR_<error> (build.ts
 * checks the syscall documents it); every error reply is checked for its
 * HTTP status, status, code and message before `checks`.
 */
function refused(
  name: string,
  shows: string,
  call: Call,
  error: string,
  ...checks: Check[]
): SyscallStep {
  return { name, shows, ...call, reply: { error }, ...(checks.length > 0 ? { checks } : {}) };
}

/** The usual error step, named after its error: "ZX_ERR_BAD_HANDLE: handle 0". */
function fails(error: string, what: string, shows: string, call: Call, ...checks: Check[]) {
  return refused(`${call.abi.toUpperCase()}_ERR_${error}: ${what}`, shows, call, error, ...checks);
}

/** ZX_INFO_THREAD's state values (zircon/syscalls/object.h). */
const THREAD_STATE = { RUNNING: 1, SUSPENDED: 2, DEAD: 5 };

/** zx_object_get_info(ZX_INFO_THREAD) says the thread is in `state`; `why` ends the sentence. */
function threadIs(
  as: KernelName,
  thread: string,
  state: keyof typeof THREAD_STATE,
  { tag = "", why = "" } = {},
): SyscallStep {
  const name = `ZX_THREAD_STATE_${state}`, value = THREAD_STATE[state];
  return ok(
    `ZX_INFO_THREAD says ${state}${tag}`,
    `zx_info_thread_t.state is ${name} (${value})${why}.`,
    caller("zx", as).threadInfo(thread),
    { checks: [eq(`state is ${name}`, "info.state", value)] },
  );
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
      [`${kernel}_vmar`]: "handles.vmar",
      [`${kernel}_hypervisor`]: "handles.hypervisor_resource",
    },
  };
}

// ---------------------------------------------------------------------------
// The two architectures: all that differs between their runs of one flow

interface Arch {
  readonly kernel: "x64" | "arm64";
  /**
   * Added to the names of steps that would otherwise read the same as x64's,
   * so a runner's report tells them apart; x64 came first and has none.
   */
  readonly tag: string;
  /** zx_thread_read_state's ZX_THREAD_STATE_GENERAL_REGS struct. */
  readonly general: { readonly struct: string; readonly size: number };
  /** Magenta's MX_THREAD_STATE_REGSET0: its size, and a modern register it lacks. */
  readonly regset0: { readonly size: number; readonly lacks: string };
  /** Where zx_thread_start puts the entry point, the stack and the two arguments. */
  readonly startRegs: {
    readonly pc: Reg;
    readonly sp: Reg;
    readonly arg1: Reg;
    readonly arg2: Reg;
  };
  /** A plain register the tour writes 42 into by name. */
  readonly scratch: Reg;
  /** The flags register, which keeps only some bits of a write of (nearly) all ones. */
  readonly flags: {
    readonly reg: Reg;
    /** The value written: every bit, except x64's trap flag (it would single-step the thread). */
    readonly write: string;
    /** Its value before the thread has run, and that value as the check says it. */
    readonly start: bigint;
    readonly startSaid: string;
    /** The bits a write may change, in prose. */
    readonly takes: string;
    /** What the write becomes, and why. */
    readonly masked: bigint;
    readonly why: string;
  };
  /** The register the pre-request script patches in the whole-buffer write. */
  readonly patch: { readonly reg: Reg; readonly offset: number; readonly value: bigint };
  /** An instruction that jumps to itself: what the started threads run. */
  readonly spin: { readonly asm: string; readonly bytes: string; readonly base64: string };
  /**
   * The first run (x64) shows each point on its own: the flags get a write of
   * their own, so the first named write shows that only the named register
   * changes and the second shows the mask, and the last read-back checks the
   * scratch register again, to show that a whole-buffer write carries the
   * earlier named writes along. The repeat (arm64) makes both writes in one
   * request and does not check the same thing twice.
   */
  readonly detailed: boolean;
}

const X64: Arch = {
  kernel: "x64",
  tag: "",
  general: { struct: "zx_x86_64_thread_state_general_regs_t", size: 160 },
  regset0: { size: 144, lacks: "fs_base" },
  startRegs: { pc: reg("rip"), sp: reg("rsp"), arg1: reg("rdi"), arg2: reg("rsi") },
  scratch: reg("rax"),
  flags: {
    reg: reg("rflags"),
    write: "0xfffffeff",
    start: 0x200n,
    startSaid: "0x200 (IF)",
    takes: "the user bits 0x244DD5 (CF PF AF ZF SF TF DF OF NT AC ID)",
    masked: 0x244ed5n,
    why: "0x200 (IF, kept) | 0x244CD5 (the user bits written: all but TF, 0x100, which would " +
      "make the thread trap after every instruction once it runs) = 0x244ED5.",
  },
  patch: { reg: reg("rbx"), offset: 8, value: 0x1122334455667788n },
  spin: { asm: "`jmp .`", bytes: "EB FE", base64: "6/4=" },
  detailed: true,
};

const ARM64: Arch = {
  kernel: "arm64",
  tag: " (arm64)",
  general: { struct: "zx_arm64_thread_state_general_regs_t", size: 280 },
  regset0: { size: 272, lacks: "tpidr" },
  // x0..x29 are the elements of the array r in `regs`.
  startRegs: { pc: reg("pc"), sp: reg("sp"), arg1: reg("x0", "r[0]"), arg2: reg("x1", "r[1]") },
  scratch: reg("x2", "r[2]"),
  flags: {
    reg: reg("cpsr"),
    write: "0xffffffff",
    start: 0n,
    startSaid: "0",
    takes: "NZCV (0xF0000000)",
    masked: 0xf0000000n,
    why: "Only NZCV (0xF0000000) took.",
  },
  patch: { reg: reg("lr"), offset: 240, value: 0x1000040n },
  spin: { asm: "`b .`", bytes: "00 00 00 14", base64: "AAAAFA==" },
  detailed: false,
};

/**
 * Code for the kernel's threads to run, in its bootstrap process: a page
 * holding a spin loop, mapped read+execute at ENTRY, and a 64 KiB stack that
 * ends at STACK. Threads execute real code, and one started where nothing is
 * mapped faults at once, which kills its process (here the token's own).
 */
function mapCode(a: Arch): Step[] {
  const zx = caller("zx", a.kernel), k = a.kernel;
  const vmar = num(`${k}_vmar`), offset = (address: bigint) => hex(address - ROOT_VMAR_BASE);
  const stackBase = STACK - BigInt(STACK_SIZE);
  const map = (perms: string[], at: bigint, vmo: string, len: number) =>
    zx.call("vmar_map", {
      handle: vmar,
      options: [...perms, "ZX_VM_SPECIFIC"],
      vmar_offset: offset(at),
      vmo: num(vmo),
      vmo_offset: 0,
      len,
    });
  const mappedAt = (at: bigint) => eq(`mapped_addr is ${hex(at)}`, "mapped_addr", Number(at));
  return [
    ok(
      `Create a one-page VMO for code${a.tag}`,
      "A VMO is memory: its pages are zero and cost nothing until touched.",
      zx.call("vmo_create", { size: PAGE }),
      { save: { [`${k}_code_vmo`]: "out" } },
    ),
    ok(
      `Write a spin loop into it${a.tag}`,
      `${a.spin.asm} (bytes ${a.spin.bytes}) jumps to itself: a thread started there runs and ` +
        "stays RUNNING.",
      zx.call("vmo_write", { handle: num(`${k}_code_vmo`), buffer: a.spin.base64, offset: 0 }),
    ),
    ok(
      `Make it executable${a.tag}`,
      "A new handle with ZX_RIGHT_EXECUTE, which mapping it executable needs; the old handle " +
        "is closed.",
      zx.call("vmo_replace_as_executable", { handle: num(`${k}_code_vmo`), vmex: 0 }),
      { save: { [`${k}_code`]: "out" } },
    ),
    ok(
      `Map it read+execute at ${hex(ENTRY)}${a.tag}`,
      `ZX_VM_SPECIFIC places it at vmar_offset from the root VMAR's base ` +
        `(${hex(ROOT_VMAR_BASE)}): ${offset(ENTRY)} + ${hex(ROOT_VMAR_BASE)} = ${hex(ENTRY)}, ` +
        "where the threads below start.",
      map(["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE"], ENTRY, `${k}_code`, PAGE),
      { checks: [mappedAt(ENTRY)] },
    ),
    ok(
      `Create a 64 KiB VMO for a stack${a.tag}`,
      "The threads' stack.",
      zx.call("vmo_create", { size: STACK_SIZE }),
      { save: { [`${k}_stack_vmo`]: "out" } },
    ),
    ok(
      `Map it read+write below ${hex(STACK)}${a.tag}`,
      `At ${hex(stackBase)}, so that it ends at ${hex(STACK)}, the stack pointer the threads ` +
        "get.",
      map(["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"], stackBase, `${k}_stack_vmo`, STACK_SIZE),
      { checks: [mappedAt(stackBase)] },
    ),
    ...(a.detailed
      ? [
        ok(
          "Read the code back with process_read_memory",
          "A debugger's view of a process's memory: the two bytes at the entry point.",
          zx.call("process_read_memory", {
            handle: num(`${k}_process`),
            vaddr: hex(ENTRY),
            buffer_size: 2,
          }),
          {
            checks: [
              eq(`the bytes are ${a.spin.bytes}`, "buffer", a.spin.base64),
              eq("actual is 2", "actual", 2),
            ],
          },
        ),
      ]
      : []),
  ];
}

/** A suspended NEW thread, started: stopped before its first instruction, registers readable. */
function suspendedWorker(a: Arch): Step[] {
  const zx = caller("zx", a.kernel), worker = `${a.kernel}_worker`;
  const { pc, sp, arg1, arg2 } = a.startRegs;
  return [
    ok(
      `Create a worker thread${a.tag}`,
      `Creates a NEW thread in the ${a.kernel} kernel's bootstrap process and stores it as ` +
        `${worker}.`,
      zx.createThread(`${a.kernel}_process`, "worker"),
      { checks: [isHandle("out is the new thread's handle", "out")], save: { [worker]: "out" } },
    ),
    ok(
      `Suspend it, keeping the suspend token${a.tag}`,
      "The thread stays suspended while the token is open; closing it resumes the thread.",
      zx.suspend(worker),
      {
        checks: [isHandle("token is a handle", "token")],
        save: { [`${a.kernel}_suspend`]: "token" },
      },
    ),
    ok(
      `Start it: entry, stack and two arguments${a.tag}`,
      "Starting the suspended thread leaves it stopped before its first instruction with " +
        `${pc.name} = entry, ${sp.name} = stack, ${arg1.name} = arg1, ${arg2.name} = arg2.`,
      zx.start(worker, { arg1: 1, arg2: 2 }),
    ),
    threadIs(a.kernel, worker, "SUSPENDED", { tag: a.tag, why: " right after the start" }),
  ];
}

/** Read the start registers, write some by name, then the whole struct as a buffer. */
function registerTour(a: Arch): Step[] {
  const zx = caller("zx", a.kernel), worker = `${a.kernel}_worker`;
  const { pc, sp, arg1, arg2 } = a.startRegs, { scratch, patch } = a;
  const flags = a.flags.reg.name, size = a.general.size;
  const general = `${a.kernel}_general`, patched = `${a.kernel}_patched`;
  // The read-back just before the buffer write stores the buffer it patches.
  const readBack = (name: string, shows: string, checks: Check[], save?: StepBase["save"]) =>
    ok(name, shows, zx.read(worker), { checks, ...(save ? { save } : {}) });
  const stored = `The buffer is stored as ${general} for the next request.`;
  const is42 = regIs(scratch, 42n), masked = regIs(a.flags.reg, a.flags.masked);
  const pcStill = regIs(pc, ENTRY, "still the entry point");
  // Written by the name people use (arm64 x2), read back by Zircon's (r[2]).
  const set42 = { [scratch.name]: 42 }, setFlags = { [a.flags.reg.path]: a.flags.write };
  const byIndex = scratch.path === scratch.name
    ? ""
    : ` Writes take ${scratch.name}; reads answer with Zircon's name for it, ${scratch.path}.`;
  const namedWrites = a.detailed
    ? [
      ok(
        `Write ${scratch.name} = 42 by name`,
        `Named registers: only ${scratch.name} changes.${byIndex}`,
        zx.write(worker, { regs: set42 }),
      ),
      readBack(
        `Read back: ${scratch.name} is 42, ${pc.name} unchanged`,
        `The named write changed ${scratch.name} and nothing else.`,
        [is42, pcStill],
      ),
      ok(
        `Write ${flags} = ${a.flags.write}`,
        `${flags} takes only ${a.flags.takes}; the other bits keep their value and the write ` +
          "still succeeds.",
        zx.write(worker, { regs: setFlags }),
      ),
      readBack(
        `Read back: ${flags} is masked to ${hex(a.flags.masked)}`,
        `${a.flags.why} ${stored}`,
        [masked],
        { [general]: "buffer" },
      ),
    ]
    : [
      ok(
        `Write ${scratch.name} = 42 and ${flags} = ${a.flags.write} by name`,
        `One named write sets both; ${flags} takes only ${a.flags.takes}.${byIndex}`,
        zx.write(worker, { regs: { ...set42, ...setFlags } }),
      ),
      readBack(
        `Read back: ${scratch.name} is 42, ${flags} is masked to ${hex(a.flags.masked)}`,
        `${a.flags.why} ${stored}`,
        [is42, masked, pcStill],
        { [general]: "buffer" },
      ),
    ];
  return [
    readBack(
      `Read the general registers${a.tag}`,
      `${a.general.struct} is ${size} bytes; ${pc.name}, ${sp.name}, ${arg1.name} and ` +
        `${arg2.name} hold the start values.`,
      [
        bytes(`the buffer is ${size} bytes`, "buffer", size),
        regIs(pc, ENTRY, "the entry point"),
        regIs(sp, STACK, "the stack"),
        regIs(arg1, 1n, "arg1"),
        regIs(arg2, 2n, "arg2"),
        regIs(a.flags.reg, a.flags.start, `${a.flags.startSaid} on a thread that has not run`),
      ],
    ),
    ...namedWrites,
    ok(
      `Write the whole struct as a buffer (${patch.reg.name} patched)`,
      `The pre-request script takes the buffer just read, puts ${hex(patch.value)} in ` +
        `${patch.reg.name} (bytes ${patch.offset}..${patch.offset + 7}) and sends all ${size} ` +
        "bytes back.",
      zx.write(worker, { buffer: `{{${patched}}}` }),
      { prerequest: patchU64(general, patched, patch.offset, patch.value) },
    ),
    readBack(
      `Read back: the same ${size} bytes`,
      "The registers are byte for byte what was written.",
      [
        eqVar("the buffer is the one written", "buffer", patched),
        regIs(patch.reg, patch.value),
        ...(a.detailed ? [regIs(scratch, 42n, "still 42")] : []),
      ],
    ),
  ];
}

/** mx_thread_read_state of REGSET0: Magenta's size, with what was `written` through /v1/zx. */
function readRegset0(a: Arch, written: [Reg, bigint][], save?: StepBase["save"]): SyscallStep {
  const { size, lacks: missing } = a.regset0;
  return ok(
    `Read REGSET0 through /v1/mx (${a.kernel})`,
    `${size} bytes and \`actual\` = ${size}: the registers written through /v1/zx above, ` +
      `without ${missing}.`,
    caller("mx", a.kernel).read(`${a.kernel}_worker`),
    {
      checks: [
        bytes(`the buffer is ${size} bytes`, "buffer", size),
        eq(`actual is ${size}`, "actual", size),
        ...written.map(([r, value]) => regIs(r, value, `${say(value)} (written through /v1/zx)`)),
        lacks(`there is no ${missing} in Magenta's struct`, "regs", missing),
      ],
      ...(save ? { save } : {}),
    },
  );
}

// ---------------------------------------------------------------------------
// The scenario

const bootX64: Folder = {
  name: "1. Boot an x64 kernel and map code for its threads",
  description: "Every kernel is independent. Creating one returns a bearer token for its " +
    "bootstrap thread (the caller of every syscall made with it) and the handles that thread " +
    "starts with; the requests below store them in the environment. Threads execute real " +
    "machine code, so the folder then maps a spin loop where they will start, and a stack.",
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
        eq("threads run on their own (scheduler free)", "boot_options.scheduler", "free"),
        eq(
          "the process's vDSO is at the root VMAR's base",
          "root_job.processes[0].vdso_base",
          hex(ROOT_VMAR_BASE),
        ),
      ],
    },
    ...mapCode(X64),
  ],
};

const suspendBeforeStart: Folder = {
  name: "2. Suspend a thread before it starts",
  description: "A thread suspended while NEW stops before its first instruction as soon as " +
    "it is started: no wait is needed, and its start registers are readable at once.",
  steps: suspendedWorker(X64),
};

const x64Registers: Folder = {
  name: "3. Read and write x64 registers",
  description: "zx_thread_read_state returns the struct's bytes (base64 `buffer`) and a named " +
    "view (`regs`); zx_thread_write_state takes either named `regs` (the others keep their " +
    "values) or a whole `buffer`.",
  steps: registerTour(X64),
};

const arm64Registers: Folder = {
  name: "4. The same on an arm64 kernel",
  description: "Zircon's arm64 struct names its registers r[0..29], lr, sp, pc, cpsr and tpidr, " +
    "and reads answer with those names; writes also take x0..x29, x30 (lr) and fp (r[29]); " +
    `${ARM64.general.struct} is ${ARM64.general.size} bytes and cpsr keeps only NZCV.`,
  steps: [
    createKernel(
      "arm64",
      "Create an arm64 kernel",
      "A second kernel, independent of the first, with its own token and handles.",
      { arch: "arm64" },
    ),
    ...mapCode(ARM64),
    ...suspendedWorker(ARM64),
    ...registerTour(ARM64),
  ],
};

const magenta: Folder = {
  name: "5. The Magenta ABI (/v1/mx)",
  description: "The mid-2017 Magenta calls reach the same registers with Magenta's layouts: " +
    "MX_THREAD_STATE_REGSET0 is 144 bytes on x64 (no fs_base/gs_base) and 272 on arm64 (no " +
    "tpidr), a write must send exactly that many bytes, and replies say MX_OK / MX_ERR_*.",
  steps: [
    // Stored as x64_regset0: a well-formed REGSET0 for the writes here and in folder 7.
    readRegset0(X64, [[X64.scratch, 42n], [X64.patch.reg, X64.patch.value]], {
      x64_regset0: "buffer",
    }),
    ok(
      "Write REGSET0 as a buffer (rcx patched)",
      "The pre-request script puts 0xc0ffee00 in rcx (bytes 16..23) of the 144 bytes.",
      mx64.write("x64_worker", { buffer: "{{x64_regset0_patched}}" }),
      { prerequest: patchU64("x64_regset0", "x64_regset0_patched", 16, 0xc0ffee00n) },
    ),
    ok(
      "Read through /v1/zx: the same registers",
      "Both ABIs see one register file: rcx changed, fs_base/gs_base are still there.",
      zx64.read("x64_worker"),
      { checks: [regIs(reg("rcx"), 0xc0ffee00n), regIs(reg("fs_base"), 0n, "untouched")] },
    ),
    refused(
      "A 3-byte buffer: MX_ERR_INVALID_ARGS",
      "Magenta wants exactly the 144-byte register set on write.",
      mx64.write("x64_worker", { buffer: "AAAA" }),
      "INVALID_ARGS",
      says("144"),
    ),
    refused(
      "Read with len 16: MX_ERR_BUFFER_TOO_SMALL and the size needed",
      "A read into a short buffer fails and `actual` says how large it must be.",
      mx64.read("x64_worker", { len: 16 }),
      "BUFFER_TOO_SMALL",
      eq("actual is 144", "actual", X64.regset0.size),
      lacks("no buffer came back", "", "buffer"),
    ),
    readRegset0(ARM64, [[ARM64.patch.reg, ARM64.patch.value]]),
    refused(
      `Write the ${ARM64.general.size}-byte zx struct to REGSET0: MX_ERR_INVALID_ARGS`,
      "The modern struct is 8 bytes longer (tpidr); Magenta refuses any other length.",
      mxArm64.write("arm64_worker", { buffer: "{{arm64_patched}}" }),
      "INVALID_ARGS",
      says(String(ARM64.regset0.size)),
    ),
  ],
};

/** A duplicate of the x64 worker with one right only, stored as x64_read_only / x64_write_only. */
function workerWithOnly(right: "READ" | "WRITE"): Step {
  const [may, mayNot] = right === "READ" ? ["read", "write"] : ["write", "read"];
  return ok(
    `Duplicate the worker with ZX_RIGHT_${right} only`,
    `A thread handle that may ${may} registers but not ${mayNot} them.`,
    zx64.duplicate("x64_worker", `ZX_RIGHT_${right}`),
    { save: { [`x64_${may}_only`]: "out" } },
  );
}

/**
 * Two x64 steps: create a thread in `process`, stored as `saveAs`, and start
 * it without suspending it first, so it is RUNNING; `said` names and
 * explains the two steps.
 */
function runningThread(
  process: string,
  thread: string,
  saveAs: string,
  said: [create: [string, string], start: [string, string]],
): Step[] {
  const [[createName, createShows], [startName, startShows]] = said;
  return [
    ok(createName, createShows, zx64.createThread(process, thread), { save: { [saveAs]: "out" } }),
    ok(startName, startShows, zx64.start(saveAs)),
  ];
}

const zxErrors: Folder = {
  name: "6. zx_thread_read_state / zx_thread_write_state errors",
  description: "Each documented failure, in the modern order of checks: debugging-syscalls " +
    "gate (write), handle, type, rights, kind, buffer size, thread state, register values. " +
    "Every error reply carries status, code and a message.",
  steps: [
    ok(
      "Duplicate the worker handle, to close it",
      "A second handle to the worker; the next request closes it.",
      zx64.duplicate("x64_worker", "ZX_RIGHT_SAME_RIGHTS"),
      { save: { x64_closed: "out" } },
    ),
    ok("Close the duplicate", "Its value is now stale.", zx64.close("x64_closed")),
    fails(
      "BAD_HANDLE",
      "handle 0",
      "0 (ZX_HANDLE_INVALID) is never a valid handle.",
      zx64.read(0),
    ),
    fails(
      "BAD_HANDLE",
      "a closed handle",
      "A value that was valid once and has been closed.",
      zx64.write("x64_closed", { regs: { rax: 1 } }),
    ),
    fails(
      "WRONG_TYPE",
      "a process handle",
      "The handle is valid but is not a thread.",
      zx64.read("x64_process"),
    ),
    workerWithOnly("READ"),
    workerWithOnly("WRITE"),
    fails(
      "ACCESS_DENIED",
      "writing without ZX_RIGHT_WRITE",
      "zx_thread_write_state needs ZX_RIGHT_WRITE.",
      zx64.write("x64_read_only", { regs: { rax: 1 } }),
    ),
    fails(
      "ACCESS_DENIED",
      "reading without ZX_RIGHT_READ",
      "zx_thread_read_state needs ZX_RIGHT_READ.",
      zx64.read("x64_write_only"),
    ),
    fails(
      "INVALID_ARGS",
      "kind 3 is not a kind",
      "The kinds are 0, 1, 2, 4 and 5; 3 was never used.",
      zx64.read("x64_worker", { kind: 3 }),
    ),
    fails(
      "INVALID_ARGS",
      "rip outside user space",
      "rip must be a canonical user address; a refused write changes nothing.",
      zx64.write("x64_worker", { regs: { rip: "0xffffff8000000000", rax: 7 } }),
      says("rip"),
    ),
    ok(
      "Read back: the refused write changed nothing",
      "Neither rip nor rax (named in the same write) changed.",
      zx64.read("x64_worker"),
      {
        checks: [
          regIs(X64.startRegs.pc, ENTRY, "still the entry point"),
          regIs(X64.scratch, 42n, "still 42"),
        ],
      },
    ),
    fails(
      "BUFFER_TOO_SMALL",
      "read with buffer_size 8",
      "The caller's buffer must hold the whole struct (a larger one is fine).",
      zx64.read("x64_worker", { buffer_size: 8 }),
    ),
    fails(
      "BUFFER_TOO_SMALL",
      "write 8 bytes",
      "A write of fewer bytes than the struct.",
      zx64.write("x64_worker", { buffer: "AAAAAAAAAAA=" }),
    ),
    ...runningThread("x64_process", "runner", "x64_runner", [
      ["Create a thread that will run", "A second thread, started without being suspended."],
      ["Start it running", "It is RUNNING: its registers cannot be looked at."],
    ]),
    fails(
      "BAD_STATE",
      "a running thread",
      "Registers are readable only while the thread is suspended or in an exception.",
      zx64.read("x64_runner"),
    ),
    fails(
      "NOT_SUPPORTED",
      "FP_REGS on arm64",
      "arm64 keeps its floating-point state in the vector registers.",
      zxArm64.read("arm64_worker", { kind: "ZX_THREAD_STATE_FP_REGS" }),
    ),
    createKernel(
      "nodebug",
      "Boot a kernel without debugging syscalls",
      "The boot option enable_debugging_syscalls = false gates debug-register and " +
        "single-step writes.",
      { arch: "x64", boot_options: { enable_debugging_syscalls: false } },
    ),
    fails(
      "NOT_SUPPORTED",
      "DEBUG_REGS write with the gate closed",
      "The gate is checked before the handle: even handle 0 gives NOT_SUPPORTED.",
      caller("zx", "nodebug").write(0, { kind: "ZX_THREAD_STATE_DEBUG_REGS", buffer: "" }),
      says("enable_debugging_syscalls"),
    ),
  ],
};

// The REGSET0 bytes read in folder 5: a well-formed buffer, so that each
// write below fails for the one reason it is there to show.
const REGSET0 = { buffer: "{{x64_regset0}}" };

const mxWriteErrors: Folder = {
  name: "7. mx_thread_write_state errors (the Magenta man page)",
  description: "Every error of the Magenta mx_thread_write_state man page. Magenta checked the " +
    "rights before the type, the length limit (4096) and the bytes sent before the thread's " +
    "state, and the kind after it.",
  steps: [
    fails("BAD_HANDLE", "handle is not a valid handle", "Handle 0.", mx64.write(0, REGSET0)),
    fails(
      "WRONG_TYPE",
      "handle is not that of a thread",
      "The bootstrap process handle, which has MX_RIGHT_WRITE.",
      mx64.write("x64_process", REGSET0),
    ),
    fails(
      "ACCESS_DENIED",
      "handle lacks MX_RIGHT_WRITE",
      "The read-only duplicate of the worker made in folder 6.",
      mx64.write("x64_read_only", REGSET0),
    ),
    ok(
      "Duplicate the process with ZX_RIGHT_READ only",
      "Not a thread, and no write right either.",
      zx64.duplicate("x64_process", "ZX_RIGHT_READ"),
      { save: { x64_process_read_only: "out" } },
    ),
    refused(
      "MX_ERR_ACCESS_DENIED before MX_ERR_WRONG_TYPE",
      "Magenta checked rights before type (/v1/zx says ZX_ERR_WRONG_TYPE here).",
      mx64.write("x64_process_read_only", REGSET0),
      "ACCESS_DENIED",
    ),
    fails(
      "INVALID_ARGS",
      "kind is not valid",
      "Only REGSET0 exists; REGSET1..9 are INVALID_ARGS.",
      mx64.write("x64_worker", { kind: "MX_THREAD_STATE_REGSET1", ...REGSET0 }),
    ),
    fails(
      "INVALID_ARGS",
      "buffer is an invalid pointer",
      "len says 144 bytes but only 3 are sent: the copy from user memory fails.",
      mx64.write("x64_worker", { buffer: "AAAA", len: X64.regset0.size }),
      says("invalid pointer"),
    ),
    fails(
      "INVALID_ARGS",
      "len is too large",
      "More than MX_MAX_THREAD_STATE_SIZE (4096).",
      mx64.write("x64_worker", { len: 5000 }),
      says("4096"),
    ),
    fails(
      "BAD_STATE",
      "the thread is not stopped",
      "The running thread from folder 6.",
      mx64.write("x64_runner", REGSET0),
    ),
    refused(
      "REGSET9: INVALID_ARGS, never NOT_SUPPORTED or UNAVAILABLE",
      "The man page also lists MX_ERR_NOT_SUPPORTED, MX_ERR_UNAVAILABLE and " +
        "MX_ERR_NO_MEMORY, but Magenta implemented only REGSET0 and no kernel returned " +
        "them for these calls: a register set no hardware has is simply not a valid kind.",
      mx64.write("x64_worker", { kind: "MX_THREAD_STATE_REGSET9", ...REGSET0 }),
      "INVALID_ARGS",
    ),
  ],
};

/** ZX_INFO_PROCESS says the process died with `code` (a negative i64, shown as its u64). */
function returnCode(process: string, code: number, why: string): SyscallStep {
  const u64 = hex64(BigInt.asUintN(64, BigInt(code)));
  return ok(
    `ZX_INFO_PROCESS: return code ${code}`,
    `zx_info_process_t.return_code is ${code} (${why}), shown as the u64 ${u64}; the flags ` +
      "say STARTED | EXITED.",
    zx64.call("object_get_info", { handle: num(process), topic: "ZX_INFO_PROCESS" }),
    {
      checks: [
        eq(`return_code is ${code}`, "info.return_code", u64),
        eq("flags are STARTED | EXITED (3)", "info.flags", 3),
      ],
    },
  );
}

const fault: Folder = {
  name: "8. A fault kills its process",
  description: "A thread started where nothing is mapped takes a page fault on its first " +
    "instruction. Nothing handles exceptions yet, so Zircon's rule for an unhandled one " +
    "applies: the kernel writes a crash line to its debug log and kills the whole process " +
    "with ZX_TASK_RETCODE_EXCEPTION_KILL (-1028).",
  steps: [
    ok(
      "Write a line to the kernel's debug log",
      'zx_debug_write over HTTP: the bytes (base64 of "hello from Postman\\n") join the ' +
        "kernel's debug log, as a program's would.",
      zx64.call("debug_write", { buffer: btoa("hello from Postman\n") }),
    ),
    ok(
      "Create a process with nothing mapped",
      "A new process's address space holds nothing until it starts (then the vDSO).",
      zx64.call("process_create", { job: num("x64_root_job"), name: "crasher" }),
      { save: { x64_crasher: "proc_handle" } },
    ),
    ok(
      "Create its first thread",
      "process_start needs the process's first thread.",
      zx64.createThread("x64_crasher", "main"),
      { save: { x64_crasher_thread: "out" } },
    ),
    ok(
      `Start the process at ${hex(ENTRY)}, where nothing is mapped`,
      "process_start maps the vDSO into the process and starts the thread; arg1 is a handle " +
        "moved into the process (0: none) and, with arg2 0, the thread gets the vDSO's base " +
        "in its second argument register. Its first instruction fetch faults.",
      zx64.call("process_start", {
        handle: num("x64_crasher"),
        thread: num("x64_crasher_thread"),
        entry: hex(ENTRY),
        stack: hex(STACK),
        arg1: 0,
        arg2: 0,
      }),
    ),
    ok(
      "Wait until the process has terminated",
      "object_wait_one for ZX_TASK_TERMINATED with an infinite deadline: it returns as soon " +
        "as the kernel has killed the process.",
      zx64.call("object_wait_one", {
        handle: num("x64_crasher"),
        signals: "ZX_TASK_TERMINATED",
        deadline: INFINITE,
      }),
      {
        checks: [{
          that: "ZX_TASK_TERMINATED (0x8) is observed",
          js: "pm.expect(body.observed & 8).to.equal(8);",
        }],
      },
    ),
    returnCode("x64_crasher", -1028, "ZX_TASK_RETCODE_EXCEPTION_KILL: an exception nobody handled"),
    threadIs("x64", "x64_crasher_thread", "DEAD", { tag: " (the crasher's thread)" }),
    {
      name: "Read the kernel's debug log",
      shows: "The line written above, then the kernel's crash report: the exception, the " +
        "faulting address and pc, and the process and thread (name[koid]) it killed.",
      method: "GET",
      path: "/v1/kernels/{{x64_kernel}}/debuglog",
      as: "x64",
      reply: { http: 200 },
      checks: [
        eq("two records", "records.length", 2),
        eq("the first is the line written", "records[0].text", "hello from Postman\n"),
        {
          that: "the second reports the page fault",
          js: `pm.expect(body.records[1].text).to.include(` +
            `"ZX_EXCP_FATAL_PAGE_FAULT at address 0x1000000, pc 0x1000000");`,
        },
        {
          that: "and names the crasher and ZX_TASK_RETCODE_EXCEPTION_KILL",
          js: 'pm.expect(body.records[1].text).to.include("process crasher[")' +
            '.and.include("ZX_TASK_RETCODE_EXCEPTION_KILL");',
        },
        {
          that: "text is the records' text, joined",
          js: 'pm.expect(body.text).to.equal(body.records.map((r) => r.text).join(""));',
        },
      ],
    },
  ],
};

// ---------------------------------------------------------------------------
// A guest's VCPU: zx_vcpu_read_state / zx_vcpu_write_state and their errors

/** What differs between the x64 and arm64 runs of the VCPU flow. */
interface VcpuArch {
  readonly kernel: "x64" | "arm64";
  readonly other: KernelName;
  readonly tag: string;
  /** sizeof(zx_vcpu_state_t). */
  readonly size: number;
  /** A plain register the flow writes 42 into by name. */
  readonly scratch: Reg;
  /** The entry point vcpu_create gets: where the guests of tests/fixtures/guest-<arch> start. */
  readonly entry: bigint;
  /** The flags register's write rule, shown with two writes and their read-backs. */
  readonly flags: {
    readonly reg: Reg;
    /** A u32 field (arm64 cpsr): the view shows it as a number, not a "0x…" string. */
    readonly u32: boolean;
    readonly writes: readonly {
      readonly value: bigint;
      readonly reads: bigint;
      readonly why: string;
    }[];
  };
}

const VCPU_X64: VcpuArch = {
  kernel: "x64",
  other: "x64_other",
  tag: "",
  size: 136,
  scratch: reg("rax"),
  entry: 0x8000n,
  flags: {
    reg: reg("rflags"),
    u32: false,
    writes: [
      {
        value: 0x1n,
        reads: 0n,
        why: "Bit 1 (0x2) is clear, so Zircon ignores the whole rflags field: CF stays clear.",
      },
      {
        value: 0x3n,
        reads: 0x1n,
        why: "Bit 1 is set: the user bits of the value (0x244DD5) are applied, so CF (0x1) is " +
          "set; reads show rflags & 0x244DD5, never bit 1 itself.",
      },
    ],
  },
};

const VCPU_ARM64: VcpuArch = {
  kernel: "arm64",
  other: "arm64_other",
  tag: " (arm64)",
  size: 264,
  // x0..x30 are the elements of the array x in `regs`.
  scratch: reg("x0", "x[0]"),
  entry: 0x80000n,
  flags: {
    reg: reg("cpsr"),
    u32: true,
    writes: [
      {
        value: 0xf0000000n,
        reads: 0xf0000000n,
        why: "NZCV (0xF0000000) is OR-ed in: all four are set.",
      },
      {
        value: 0n,
        reads: 0xf0000000n,
        why: "A write ORs NZCV in and never clears a flag: writing 0 leaves all four set.",
      },
    ],
  },
};

/** base64 of `size` zero bytes: a buffer of a wrong size. */
const zeros = (size: number) => btoa("\0".repeat(size));

/** The VCPU flow on one arch: a guest, a VCPU, its state, and every error of the seed documents. */
function vcpuFlow(a: VcpuArch): Step[] {
  const zx = caller("zx", a.kernel), k = a.kernel, vcpu = `${k}_vcpu`;
  const state = (syscall: string) => (target: HandleRef, fields: Body = {}) =>
    zx.call(syscall, {
      handle: handle(target),
      kind: "ZX_VCPU_STATE",
      buffer_size: a.size,
      ...fields,
    });
  const readVcpu = state("vcpu_read_state"), writeVcpu = state("vcpu_write_state");
  const vcpuInfo = (as: KernelName, flags: number, why: string) =>
    ok(
      `ZX_INFO_VCPU says flags = ${flags}${a.tag}`,
      `zx_info_vcpu_t.flags: ${why}`,
      caller("zx", as).call("object_get_info", { handle: num(vcpu), topic: "ZX_INFO_VCPU" }),
      { checks: [eq(`flags is ${flags}`, "info.flags", flags)] },
    );
  const other = caller("zx", a.other);
  return [
    ok(
      `Create a guest${a.tag}`,
      "guest_create with the kernel's hypervisor resource (a bootstrap handle): a guest and " +
        "its guest-physical address space, a VMAR based at 0 (RAM would be VMOs mapped into " +
        "it; this flow only needs the VCPU).",
      zx.call("guest_create", { resource: num(`${k}_hypervisor`), options: 0 }),
      {
        checks: [
          isHandle("guest_handle is a handle", "guest_handle"),
          isHandle("vmar_handle is a handle", "vmar_handle"),
        ],
        save: { [`${k}_guest`]: "guest_handle", [`${k}_guest_vmar`]: "vmar_handle" },
      },
    ),
    ok(
      `Create a VCPU${a.tag}`,
      `vcpu_create: the VCPU starts at guest-physical ${hex(a.entry)} and is bound to the ` +
        "calling thread (this token's: the bootstrap thread), the only one that may enter it " +
        "or read and write its state.",
      zx.call("vcpu_create", { guest: num(`${k}_guest`), options: 0, entry: hex(a.entry) }),
      { checks: [isHandle("out is the VCPU's handle", "out")], save: { [vcpu]: "out" } },
    ),
    ok(
      `Read its zx_vcpu_state_t${a.tag}`,
      `${a.size} bytes, in \`buffer\` and named in \`regs\`; a VCPU that has never run has ` +
        `${a.scratch.name} = 0.`,
      readVcpu(vcpu),
      { checks: [bytes(`buffer is ${a.size} bytes`, "buffer", a.size), regIs(a.scratch, 0n)] },
    ),
    ok(
      `Write ${a.scratch.name} = 42 by name${a.tag}`,
      "Named fields are merged into the current state, as thread_write_state's are.",
      writeVcpu(vcpu, { regs: { [a.scratch.name]: 42 } }),
    ),
    ok(
      `Read it back: ${a.scratch.name} is 42${a.tag}`,
      "The write took.",
      readVcpu(vcpu),
      { checks: [regIs(a.scratch, 42n)] },
    ),
    ...a.flags.writes.flatMap(({ value, reads, why }) => [
      ok(
        `Write ${a.flags.reg.name} = ${hex(value)}${a.tag}`,
        why,
        writeVcpu(vcpu, { regs: { [a.flags.reg.name]: hex(value) } }),
      ),
      ok(
        `Read it back: ${a.flags.reg.name} is ${hex(reads)}${a.tag}`,
        "Zircon's own rule, kept by zxsim.",
        readVcpu(vcpu),
        {
          checks: [
            a.flags.u32
              ? eq(
                `${a.flags.reg.name} is ${hex(reads)}`,
                `regs.${a.flags.reg.path}`,
                Number(reads),
              )
              : regIs(a.flags.reg, reads, hex(reads)),
            regIs(a.scratch, 42n),
          ],
        },
      ),
    ]),
    ok(
      `Duplicate the VCPU handle, then close the duplicate${a.tag}`,
      "A handle value that was valid and is not any more.",
      zx.duplicate(vcpu, "ZX_RIGHT_SAME_RIGHTS"),
      { save: { [`${vcpu}_closed`]: "out" } },
    ),
    ok(`Close the duplicate${a.tag}`, "Its value is now stale.", zx.close(`${vcpu}_closed`)),
    fails(
      "BAD_HANDLE",
      `a closed handle${a.tag}`,
      "The handle is checked first.",
      writeVcpu(`${vcpu}_closed`, { buffer: zeros(a.size) }),
    ),
    fails(
      "WRONG_TYPE",
      `a thread handle instead of a VCPU${a.tag}`,
      "Then its type: ZX_OBJ_TYPE_VCPU.",
      writeVcpu(`${k}_worker`, { buffer: zeros(a.size) }),
    ),
    ok(
      `Duplicate the VCPU with ZX_RIGHT_READ only${a.tag}`,
      "A VCPU handle without ZX_RIGHT_WRITE.",
      zx.duplicate(vcpu, "ZX_RIGHT_READ"),
      { save: { [`${vcpu}_read_only`]: "out" } },
    ),
    ok(
      `It can read the state${a.tag}`,
      "vcpu_read_state needs ZX_RIGHT_READ.",
      readVcpu(`${vcpu}_read_only`),
    ),
    fails(
      "ACCESS_DENIED",
      `a VCPU handle without ZX_RIGHT_WRITE${a.tag}`,
      "Then its rights: vcpu_write_state needs ZX_RIGHT_WRITE.",
      writeVcpu(`${vcpu}_read_only`, { buffer: zeros(a.size) }),
    ),
    fails(
      "INVALID_ARGS",
      `kind 2${a.tag}`,
      "Then the kind: ZX_VCPU_STATE (0) or ZX_VCPU_IO (1).",
      writeVcpu(vcpu, { kind: 2, buffer: zeros(a.size) }),
      says("kind 2"),
    ),
    fails(
      "INVALID_ARGS",
      `buffer_size ${a.size - 1}, one too small${a.tag}`,
      `Then the size: buffer_size must be exactly sizeof(zx_vcpu_state_t), ${a.size}.`,
      writeVcpu(vcpu, { buffer_size: a.size - 1, buffer: zeros(a.size - 1) }),
      says(`buffer_size ${a.size - 1}`),
    ),
    fails(
      "INVALID_ARGS",
      `buffer_size ${a.size + 1}, one too large${a.tag}`,
      "Larger is refused too.",
      writeVcpu(vcpu, { buffer_size: a.size + 1, buffer: zeros(a.size + 1) }),
      says(`buffer_size ${a.size + 1}`),
    ),
    fails(
      "INVALID_ARGS",
      `${a.size} bytes claimed, 8 sent${a.tag}`,
      "A base64 buffer shorter than buffer_size is zxsim's form of an invalid pointer: the " +
        "copy from user memory fails.",
      writeVcpu(vcpu, { buffer: zeros(8) }),
      says("invalid pointer"),
    ),
    ...(a.kernel === "x64"
      ? [
        ok(
          "ZX_VCPU_IO with access_size 1",
          "zx_vcpu_io_t (8 bytes) answers a guest's `in`: the low access_size bytes of rax. " +
            "Zircon does not check that the last exit was an `in`.",
          zx.call("vcpu_write_state", {
            handle: num(vcpu),
            kind: "ZX_VCPU_IO",
            buffer_size: 8,
            regs: { access_size: 1, data: 0x7f },
          }),
        ),
        ok(
          "Read it back: rax is 0x7f",
          "The low byte of rax (42) was replaced.",
          readVcpu(vcpu),
          { checks: [regIs(a.scratch, 0x7fn)] },
        ),
        fails(
          "INVALID_ARGS",
          "ZX_VCPU_IO with access_size 3",
          "access_size must be 1, 2 or 4.",
          zx.call("vcpu_write_state", {
            handle: num(vcpu),
            kind: "ZX_VCPU_IO",
            buffer_size: 8,
            regs: { access_size: 3, data: 0 },
          }),
        ),
      ]
      : [
        fails(
          "INVALID_ARGS",
          "ZX_VCPU_IO on arm64",
          "arm64 has no I/O ports: ZX_VCPU_IO is always INVALID_ARGS (a load from a MEM trap " +
            "is answered by writing its register with ZX_VCPU_STATE).",
          zx.call("vcpu_write_state", {
            handle: num(vcpu),
            kind: "ZX_VCPU_IO",
            buffer_size: 8,
            buffer: zeros(8),
          }),
          says("ZX_VCPU_IO is not supported on arm64"),
        ),
      ]),
    ok(
      `Create a second thread${a.tag}`,
      "Another thread of the same process: it holds the same handles.",
      zx.createThread(`${k}_process`, "other"),
      { save: { [`${k}_other_thread`]: "out" } },
    ),
    {
      name: `Get a token for it${a.tag}`,
      shows: "POST /v1/kernels/{id}/tokens starts the new thread as a client thread and returns " +
        "a token that makes requests as it.",
      method: "POST",
      path: `/v1/kernels/{{${k}_kernel}}/tokens`,
      as: a.kernel,
      body: { thread: num(`${k}_other_thread`) },
      reply: { http: 201 },
      save: { [`${a.other}_token`]: "token" },
    },
    fails(
      "BAD_STATE",
      `another thread writes the state${a.tag}`,
      "Last, the thread: only the VCPU's own thread may write its state.",
      { ...writeVcpu(vcpu, { buffer: zeros(a.size) }), as: a.other },
      says("must be called on the thread that created the VCPU"),
    ),
    fails(
      "BAD_STATE",
      `another thread reads the state${a.tag}`,
      "Or read it.",
      { ...readVcpu(vcpu), as: a.other },
      says("must be called on the thread that created the VCPU"),
    ),
    fails(
      "BAD_STATE",
      `another thread enters the VCPU${a.tag}`,
      "Or run it.",
      other.call("vcpu_enter", { handle: num(vcpu) }),
      says("must be called on the thread that created the VCPU"),
    ),
    ok(
      `Another thread kicks the VCPU${a.tag}`,
      "vcpu_kick works from any thread: the current or next vcpu_enter returns CANCELED.",
      other.call("vcpu_kick", { handle: num(vcpu) }),
    ),
    vcpuInfo(a.other, 1, "ZX_INFO_VCPU_FLAG_KICKED, a kick is pending."),
    refused(
      `ZX_ERR_CANCELED: the kicked VCPU's vcpu_enter${a.tag}`,
      "Its own thread enters it: the kick cancels this enter before the guest runs (HTTP 409).",
      zx.call("vcpu_enter", { handle: num(vcpu) }),
      "CANCELED",
    ),
    vcpuInfo(a.kernel, 0, "the kick was used up by that enter."),
  ];
}

const vcpu: Folder = {
  name: "9. A guest's VCPU (zx_vcpu_read_state / zx_vcpu_write_state)",
  description: "A guest and its VCPU on x64 and arm64: the zx_vcpu_state_t read and written " +
    "by name, Zircon's flags rules, and every error of the zx_vcpu_write_state seed documents " +
    "in Zircon's order of checks: the handle, its type, ZX_RIGHT_WRITE, the kind, the exact " +
    "buffer_size, the buffer, then the thread (only the VCPU's own may touch its state). The " +
    "last rule's other half, no state calls while the VCPU's thread is inside vcpu_enter, " +
    "needs two requests at once, which a collection run never makes: " +
    'tests/hypervisor_guest.test.ts and the README\'s "A VMM over HTTP" show it. The VCPU ' +
    "never runs guest code here (no memory is mapped): `deno task example:vmm` runs one.",
  steps: [...vcpuFlow(VCPU_X64), ...vcpuFlow(VCPU_ARM64)],
};

const cleanUp: Folder = {
  name: "10. Resume, kill and clean up",
  description: "Closing the last suspend token resumes a thread; killing a process kills its " +
    "threads; deleting a kernel ends everything in it, tokens included.",
  steps: [
    ok(
      "Close the suspend token: the worker resumes",
      "The last token closed, the thread runs again.",
      zx64.close("x64_suspend"),
    ),
    threadIs("x64", "x64_worker", "RUNNING"),
    fails(
      "BAD_STATE",
      "the resumed thread",
      "Once resumed its registers are out of reach again.",
      zx64.read("x64_worker"),
    ),
    fails(
      "WRONG_TYPE",
      "a thread cannot be killed",
      "Modern Zircon kills jobs and processes only.",
      zx64.kill("x64_worker"),
    ),
    ok(
      "Create a process to kill",
      "A new process in the root job.",
      zx64.call("process_create", { job: num("x64_root_job"), name: "victim" }),
      {
        checks: [isHandle("proc_handle is a handle", "proc_handle")],
        save: { x64_victim: "proc_handle" },
      },
    ),
    ok(
      "Create a thread in it",
      "The process's first thread.",
      zx64.createThread("x64_victim", "doomed"),
      { save: { x64_victim_thread: "out" } },
    ),
    ok(
      "Suspend it before it starts",
      "Nothing is mapped in this process: suspended, the thread never runs (and so never " +
        "faults).",
      zx64.suspend("x64_victim_thread"),
    ),
    ok(
      "Start it (this starts the process)",
      "The first thread started in a process starts the process; this one stops before its " +
        "first instruction.",
      zx64.start("x64_victim_thread"),
    ),
    ok("Kill the process", "Its threads die with it.", zx64.kill("x64_victim")),
    threadIs("x64", "x64_victim_thread", "DEAD"),
    returnCode("x64_victim", -1024, "ZX_TASK_RETCODE_SYSCALL_KILL: killed by zx_task_kill"),
    ok(
      "Resume the arm64 worker",
      "Closes the arm64 suspend token.",
      zxArm64.close("arm64_suspend"),
    ),
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

/** A batch step of the "batch" kernel's bootstrap thread. */
function batchOf(
  name: string,
  shows: string,
  calls: readonly BatchCall[],
  ended: BatchStep["ended"],
  more: More & Pick<BatchStep, "mode" | "runs"> = {},
): BatchStep {
  return { name, shows, abi: "zx", as: "batch", batch: calls, ended, reply: "ok", ...more };
}

const okCall = (syscall: string, args?: Record<string, unknown>): BatchCall => ({
  syscall,
  ...(args ? { args } : {}),
  reply: "ok",
});
const failingCall = (
  syscall: string,
  args: Record<string, unknown> | undefined,
  error: string,
): BatchCall => ({ syscall, ...(args ? { args } : {}), reply: { error } });

/** The calls of the failing batch, sent once with each mode. */
const MIXED: readonly BatchCall[] = [
  okCall("clock_get_monotonic"),
  failingCall("thread_read_state", { handle: 0, kind: GENERAL_KIND.zx }, "BAD_HANDLE"),
  failingCall("thread_frobnicate", {}, "BAD_SYSCALL"),
  failingCall("thread_read_state", { handle: num("batch_process"), kind: 0 }, "WRONG_TYPE"),
  okCall("object_get_info", { handle: num("batch_worker"), topic: "ZX_INFO_THREAD" }),
];

const batches: Folder = {
  name: "11. Batches: many syscalls in one request",
  description: "POST /v1/zx/batch makes a list of syscalls in order as the token's thread, " +
    "in one request. Each result is `{http, body}`: exactly what POST /v1/zx/{name} would " +
    'have answered. "stop_on_error" (the default) ends the batch at the first failure, ' +
    '"continue" runs every call; a call that ends the calling thread ends the batch. A call ' +
    "cannot use an earlier call's outs: its arguments are fixed when the batch is sent.",
  steps: [
    createKernel(
      "batch",
      "Boot a kernel for the batches",
      "An x64 kernel of its own: the batches below end its bootstrap thread.",
      { arch: "x64" },
    ),
    batchOf(
      "Batch: create a thread and a VMO, read the clock",
      "Three calls in one request; each result is the single call's reply. The thread is " +
        "stored as batch_worker from results[0].body.out.",
      [
        okCall("thread_create", { process: num("batch_process"), name: "worker" }),
        okCall("vmo_create", { size: PAGE }),
        okCall("clock_get_monotonic"),
      ],
      "complete",
      {
        checks: [isHandle("the thread's handle came back", "results[0].body.out")],
        save: { batch_worker: "results[0].body.out" },
      },
    ),
    batchOf(
      "Batch: suspend, start, write rax = 42 and read it back",
      "A whole register round trip in one request: the thread is suspended before it starts, " +
        "so it stops before its first instruction and its registers can be read and written.",
      [
        okCall("task_suspend", { handle: num("batch_worker") }),
        okCall("thread_start", {
          handle: num("batch_worker"),
          thread_entry: hex(ENTRY),
          stack: hex(STACK),
        }),
        okCall("thread_write_state", {
          handle: num("batch_worker"),
          kind: GENERAL_KIND.zx,
          regs: { rax: 42 },
        }),
        okCall("thread_read_state", { handle: num("batch_worker"), kind: GENERAL_KIND.zx }),
      ],
      "complete",
      {
        checks: [
          eq("the read-back says rax is 42", "results[3].body.regs.rax", hex64(42n)),
          eq("and rip is the entry point", "results[3].body.regs.rip", hex64(ENTRY)),
        ],
      },
    ),
    batchOf(
      "Batch (continue): failures of every kind, and the calls after them",
      'With "continue" every call runs: a Zircon error (400 BAD_HANDLE), an unknown syscall ' +
        "(404 BAD_SYSCALL), another Zircon error (WRONG_TYPE), each as its own result, and the " +
        "calls around them succeed.",
      MIXED,
      "complete",
      {
        mode: "continue",
        checks: [
          mentions("results[2].body.message", "zx_thread_frobnicate"),
          eq("the worker is suspended", "results[4].body.info.state", THREAD_STATE.SUSPENDED),
        ],
      },
    ),
    batchOf(
      "Batch (stop_on_error): the same calls stop at the first failure",
      'The default mode: the batch ends after the BAD_HANDLE; `ended` is "error" and the ' +
        "three calls after it do not run.",
      MIXED,
      "error",
      { runs: 2 },
    ),
    {
      name: "A batch of the wrong shape is one 400",
      shows: "A misspelt field in one call (arg for args) refuses the whole batch, naming the " +
        "field: nothing runs.",
      method: "POST",
      path: "/v1/zx/batch",
      as: "batch",
      body: { calls: [{ name: "handle_close", arg: { handle: 0 } }] },
      reply: { error: "INVALID_ARGS", http: 400 },
      checks: [says('calls.0: unknown field(s) "arg"')],
    },
    batchOf(
      "Batch: thread_exit ends the batch",
      "The calling thread exits in the second call: the batch ends there " +
        '(`ended` is "thread_dead") and the third call never runs.',
      [okCall("clock_get_monotonic"), okCall("thread_exit"), okCall("clock_get_monotonic")],
      "thread_dead",
      { mode: "continue", runs: 2 },
    ),
    {
      name: "Delete the batch kernel",
      shows: "Any token of a kernel may delete it, even a dead thread's.",
      method: "DELETE",
      path: "/v1/kernels/{{batch_kernel}}",
      as: "batch",
      reply: { http: 204 },
    },
  ],
};

/** body.<path> (a string) mentions `text`. */
function mentions(path: string, text: string): Check {
  return {
    that: `${path} mentions "${text}"`,
    js: `pm.expect(${at(path)}).to.include(${js(text)});`,
  };
}

export const SCENARIO: readonly Folder[] = [
  bootX64,
  suspendBeforeStart,
  x64Registers,
  arm64Registers,
  magenta,
  zxErrors,
  mxWriteErrors,
  fault,
  vcpu,
  cleanUp,
  batches,
];
