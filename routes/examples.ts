// Worked examples for the API docs, made by really running each syscall's
// example request in a fresh kernel of a scratch app: the replies shown in
// /docs are what zxsim answers, so they cannot drift from the code.

import type { Abi } from "../arch/arch.ts";
import type { Example, ExampleHandles, Syscall } from "../kernel/syscalls/define.ts";
import { SYSCALLS } from "../kernel/syscalls/table.ts";
import { ipcExampleHandles } from "./example_ipc.ts";
import { BODY_LIMIT } from "./http.ts";
import { ABIS } from "./abi.ts";
import { BATCH_NAME } from "./batch.ts";

/** Answers a Request: the scratch app's `fetch`. */
export type Handler = (request: Request) => Response | Promise<Response>;

export type Json = Record<string, unknown>;

export interface Exchange {
  readonly request: Json | undefined;
  readonly http: number;
  readonly reply: Json | undefined;
}

/** A success and a failure for one operation (`zx_thread_read_state`, `create_kernel`, ...). */
export interface WorkedExample {
  readonly ok: Exchange;
  readonly error: Exchange;
  /** Real replies for other errors the operation documents (401, 413, ...), without requests. */
  readonly more?: readonly Exchange[];
}

class ExampleClient {
  constructor(readonly handler: Handler) {}

  async send(method: string, path: string, body?: Json, token?: string): Promise<Exchange> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await this.handler(
      new Request(`http://zxsim${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return { request: body, http: response.status, reply: text ? JSON.parse(text) : undefined };
  }

  async syscall(token: string, name: string, body: Json): Promise<Json> {
    const { http, reply } = await this.send("POST", `/v1/zx/${name}`, body, token);
    if (http !== 200) throw new Error(`example set-up: ${name} failed: ${JSON.stringify(reply)}`);
    return reply!;
  }

  /** A fresh x64 kernel with the handles every example may name. */
  async exampleKernel(): Promise<{ id: string; token: string; handles: ExampleHandles }> {
    const created = (await this.send("POST", "/v1/kernels", { arch: "x64" })).reply!;
    const token = created.token as string;
    const boot = created.handles as Record<string, number>;
    const thread = (name: string) =>
      this.syscall(token, "thread_create", { process: boot.process, name }).then((r) =>
        r.out as number
      );
    const worker = await thread("worker");
    const suspended = await this.syscall(token, "task_suspend", { handle: worker });
    await this.syscall(token, "thread_start", {
      handle: worker,
      thread_entry: "0x1000000",
      stack: "0x2000000",
      arg1: 1,
      arg2: 2,
    });
    const closed = (await this.syscall(token, "handle_duplicate", {
      handle: worker,
      rights: "ZX_RIGHT_SAME_RIGHTS",
    })).out as number;
    await this.syscall(token, "handle_close", { handle: closed });
    const vmo = (await this.syscall(token, "vmo_create", { size: 16384, options: 2 }))
      .out as number;
    const rw = ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"];
    const map = { handle: boot.vmar, options: rw, vmo, len: 16384 };
    const allocate = { parent_vmar: boot.vmar, options: ["ZX_VM_CAN_MAP_READ"], size: 65536 };
    const fresh = await this.syscall(token, "process_create", { job: boot.root_job, name: "app" });
    const freshProcess = fresh.proc_handle as number;
    const freshThread = (await this.syscall(token, "thread_create", {
      process: freshProcess,
      name: "main",
    })).out as number;
    const handles: ExampleHandles = {
      exception: await this.exceptionHandle(token, boot.root_job),
      new_process: freshProcess,
      new_process_thread: freshThread,
      root_job: boot.root_job,
      hypervisor_resource: boot.hypervisor_resource,
      process: boot.process,
      vmar: boot.vmar,
      thread: boot.thread,
      worker,
      suspend_token: suspended.token as number,
      new_thread: await thread("new"),
      job: (await this.syscall(token, "job_create", { parent_job: boot.root_job })).out as number,
      closed,
      vmo,
      vmo_addr: (await this.syscall(token, "vmar_map", map)).mapped_addr as number,
      child_vmar: (await this.syscall(token, "vmar_allocate", allocate)).child_vmar as number,
      ...await ipcExampleHandles((name, body) => this.syscall(token, name, body), boot.root_job),
      ...await this.guestHandles(token, boot.hypervisor_resource),
    };
    return { id: created.kernel as string, token, handles };
  }

  /**
   * An x64 guest with identity page tables at 0 (PML4, PDPT, one 2 MiB page)
   * and, at 0x4000, `mov al, 42; out 0x80, al; jmp .` with port 0x80
   * trapped (key 1), and a VCPU of it the bootstrap thread made.
   */
  async guestHandles(token: string, resource: number) {
    const call = (name: string, body: Json) => this.syscall(token, name, body);
    const created = await call("guest_create", { resource, options: 0 });
    const guest = created.guest_handle as number;
    const guestVmar = created.vmar_handle as number;
    const ram = (await call("vmo_create", { size: 0x10000 })).out as number;
    const u64 = (value: number) => {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
      return bytes.toBase64();
    };
    await call("vmo_write", { handle: ram, buffer: u64(0x1003), offset: 0 });
    await call("vmo_write", { handle: ram, buffer: u64(0x2003), offset: 0x1000 });
    await call("vmo_write", { handle: ram, buffer: u64(0x83), offset: 0x2000 });
    const code = Uint8Array.of(0xb0, 0x2a, 0xe6, 0x80, 0xeb, 0xfe);
    await call("vmo_write", { handle: ram, buffer: code.toBase64(), offset: 0x4000 });
    const exec = (await call("vmo_replace_as_executable", { handle: ram, vmex: 0 })).out;
    await call("vmar_map", {
      handle: guestVmar,
      options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_PERM_EXECUTE", "ZX_VM_SPECIFIC"],
      vmar_offset: 0,
      vmo: exec,
      vmo_offset: 0,
      len: 0x10000,
    });
    await call("handle_close", { handle: exec });
    await call("guest_set_trap", {
      handle: guest,
      kind: "ZX_GUEST_TRAP_IO",
      addr: 0x80,
      size: 1,
      port_handle: 0,
      key: 1,
    });
    const vcpu = (await call("vcpu_create", { guest, options: 0, entry: "0x4000" })).out as number;
    return { guest, guest_vmar: guestVmar, vcpu };
  }

  /** A token for `new_thread`, which starts it as a client thread. */
  async threadToken(id: string, token: string, handles: ExampleHandles): Promise<string> {
    const path = `/v1/kernels/${id}/tokens`;
    const issued = await this.send("POST", path, { thread: handles.new_thread }, token);
    if (issued.http !== 201) throw new Error(`example set-up: ${JSON.stringify(issued.reply)}`);
    return issued.reply!.token as string;
  }

  /**
   * An exception handle: a process whose thread starts where nothing is
   * mapped takes a page fault, which its exception channel delivers.
   */
  async exceptionHandle(token: string, job: number): Promise<number> {
    const crasher = await this.syscall(token, "process_create", { job, name: "crasher" });
    const process = crasher.proc_handle as number;
    const channel = (await this.syscall(token, "task_create_exception_channel", {
      handle: process,
    })).out as number;
    const thread = (await this.syscall(token, "thread_create", { process, name: "main" }))
      .out as number;
    await this.syscall(token, "process_start", { handle: process, thread, entry: 0, stack: 0 });
    await this.syscall(token, "object_wait_one", {
      handle: channel,
      signals: "ZX_CHANNEL_READABLE",
      deadline: "ZX_TIME_INFINITE",
    });
    const message = await this.syscall(token, "channel_read", { handle: channel });
    return (message.handles as number[])[0];
  }

  /**
   * Runs one example in a kernel of its own, so no example sees another's
   * effects; as the bootstrap thread, or as `new_thread` with a token of its own.
   */
  async run(
    abi: Abi,
    name: string,
    example: Example,
    thread?: "new_thread",
  ): Promise<Exchange> {
    const { id, token, handles } = await this.exampleKernel();
    try {
      const caller = thread === undefined ? token : await this.threadToken(id, token, handles);
      return await this.send("POST", `/v1/${abi}/${name}`, example(handles), caller);
    } finally {
      await this.send("DELETE", `/v1/kernels/${id}`, undefined, token);
    }
  }
}

/** The default failure: the success example with its `handle` already closed. */
function closedHandle(syscall: Syscall): Example {
  return (handles) => {
    const body = syscall.example(handles);
    if (!("handle" in body)) throw new Error(`${syscall.name} needs an errorExample`);
    return { ...body, handle: handles.closed };
  };
}

async function syscallExamples(
  client: ExampleClient,
  syscall: Syscall,
  abi: Abi,
  more: readonly Exchange[],
) {
  return checked(`${abi}_${syscall.name}`, {
    ok: await client.run(abi, syscall.name, syscall.example, syscall.exampleThread),
    error: await client.run(abi, syscall.name, syscall.errorExample ?? closedHandle(syscall)),
    more,
  });
}

/** Only the reply: for errors that are the same whatever the request (its body would be noise). */
const replyOnly = (exchange: Exchange): Exchange => ({ ...exchange, request: undefined });

/**
 * The errors every syscall route gives the same way, really asked for:
 * no token (401) and a body over the limit (413).
 */
async function commonSyscallErrors(client: ExampleClient, abi: Abi): Promise<Exchange[]> {
  const path = `/v1/${abi}/clock_get_monotonic`;
  const created = (await client.send("POST", "/v1/kernels", { arch: "x64" })).reply!;
  const token = created.token as string;
  try {
    return [
      replyOnly(await client.send("POST", path, {})),
      replyOnly(await client.send("POST", path, { pad: "x".repeat(BODY_LIMIT) }, token)),
    ];
  } finally {
    await client.send("DELETE", `/v1/kernels/${created.kernel}`, undefined, token);
  }
}

/** POST /v1/kernels once the scratch server holds all the kernels it may: 503. */
async function noMoreKernels(client: ExampleClient): Promise<Exchange> {
  const made: Json[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      const reply = await client.send("POST", "/v1/kernels", { arch: "x64" });
      if (reply.http !== 201) return replyOnly(reply);
      made.push(reply.reply!);
    }
    throw new Error("example set-up: the scratch server never ran out of kernels");
  } finally {
    for (const k of made) {
      await client.send("DELETE", `/v1/kernels/${k.kernel}`, undefined, k.token as string);
    }
  }
}

/** A success example must succeed and a failure fail, or the docs would mislead. */
function checked(operation: string, example: WorkedExample): WorkedExample {
  if (example.ok.http >= 300 || example.error.http < 400) {
    throw new Error(`the worked example of ${operation} is wrong: ${JSON.stringify(example)}`);
  }
  return example;
}

async function kernelExamples(client: ExampleClient): Promise<Record<string, WorkedExample>> {
  const noToken = (method: string, path: string, body?: Json) => client.send(method, path, body);
  const { id, token, handles } = await client.exampleKernel();
  const summary = await client.send("GET", `/v1/kernels/${id}`, undefined, token);
  const tokens = `/v1/kernels/${id}/tokens`;
  const issued = await client.send("POST", tokens, { thread: handles.new_thread }, token);
  const issuedAgain = await client.send("POST", tokens, { thread: handles.new_thread }, token);
  const badThread = await client.send("POST", tokens, { thread: handles.closed }, token);
  const listed = await client.send("GET", "/v1/kernels", undefined, token);
  await client.syscall(token, "debug_write", { buffer: btoa("hello, debuglog\n") });
  const log = `/v1/kernels/${id}/debuglog`;
  const debuglog = await client.send("GET", `${log}?from=0`, undefined, token);
  const advance = `/v1/kernels/${id}/advance`;
  const notManual = await client.send("POST", advance, { instructions: 1000 }, token);
  const noAmount = await client.send("POST", advance, {}, token);
  const manual = (await client.send("POST", "/v1/kernels", {
    arch: "x64",
    boot_options: { scheduler: "manual" },
  })).reply!;
  const advanced = await client.send(
    "POST",
    `/v1/kernels/${manual.kernel}/advance`,
    { time_ns: 1_000_000 },
    manual.token as string,
  );
  await client.send("DELETE", `/v1/kernels/${manual.kernel}`, undefined, manual.token as string);
  const noKernelToken = replyOnly(await noToken("GET", log));
  const deleted = await client.send("DELETE", `/v1/kernels/${id}`, undefined, token);
  const created = await client.send("POST", "/v1/kernels", { arch: "x64" });
  await client.send(
    "DELETE",
    `/v1/kernels/${created.reply!.kernel}`,
    undefined,
    created.reply!.token as string,
  );
  const examples: Record<string, WorkedExample> = {
    create_kernel: {
      ok: created,
      error: await noToken("POST", "/v1/kernels", { arch: "riscv64" }),
      more: [await noMoreKernels(client)],
    },
    list_kernels: { ok: listed, error: await noToken("GET", "/v1/kernels") },
    get_kernel: { ok: summary, error: await noToken("GET", `/v1/kernels/${id}`) },
    create_token: {
      ok: issued,
      error: issuedAgain,
      more: [badThread, replyOnly(await noToken("POST", tokens, { thread: 1 }))],
    },
    delete_kernel: { ok: deleted, error: await noToken("DELETE", `/v1/kernels/${id}`) },
    get_debuglog: {
      ok: debuglog,
      error: await client.send("GET", `${log}?from=first`, undefined, token),
      more: [noKernelToken],
    },
    advance_kernel: { ok: advanced, error: notManual, more: [noAmount, noKernelToken] },
  };
  for (const [operation, example] of Object.entries(examples)) checked(operation, example);
  return examples;
}

/** POST /v1/{abi}/batch: calls that succeed and fail, then a batch of the wrong shape. */
async function batchExamples(client: ExampleClient, abi: Abi): Promise<WorkedExample> {
  const calls: Example = abi === "zx"
    ? (h) => ({
      calls: [
        {
          name: "thread_write_state",
          args: { handle: h.worker, kind: "ZX_THREAD_STATE_GENERAL_REGS", regs: { rax: "0x2a" } },
        },
        { name: "object_get_info", args: { handle: h.worker, topic: "ZX_INFO_THREAD" } },
        { name: "handle_close", args: { handle: h.closed } },
        { name: "thread_frobnicate" },
        { name: "clock_get_monotonic" },
      ],
      mode: "continue",
    })
    : (h) => ({
      calls: [
        { name: "object_get_info", args: { handle: h.worker, topic: "MX_INFO_THREAD" } },
        { name: "handle_close", args: { handle: h.closed } },
        { name: "vmo_create", args: { size: 4096 } },
      ],
      mode: "continue",
    });
  const misspelt: Example = (h) => ({
    calls: [{ name: "handle_close", arg: { handle: h.closed } }],
  });
  return checked(`${abi}_${BATCH_NAME}`, {
    ok: await client.run(abi, BATCH_NAME, calls),
    error: await client.run(abi, BATCH_NAME, misspelt),
  });
}

/**
 * Every operation's worked example, by OpenAPI operationId (`zx_<name>`,
 * `mx_<name>`, `create_kernel`, ...). `handler` must be a scratch app.
 */
export async function workedExamples(handler: Handler): Promise<Map<string, WorkedExample>> {
  const client = new ExampleClient(handler);
  const examples = new Map(Object.entries(await kernelExamples(client)));
  const common = {
    zx: await commonSyscallErrors(client, "zx"),
    mx: await commonSyscallErrors(client, "mx"),
  };
  for (const syscall of SYSCALLS) {
    for (const abi of syscall.abis) {
      const example = await syscallExamples(client, syscall, abi, common[abi]);
      examples.set(`${abi}_${syscall.name}`, example);
    }
  }
  for (const abi of ABIS) examples.set(`${abi}_${BATCH_NAME}`, await batchExamples(client, abi));
  return examples;
}
