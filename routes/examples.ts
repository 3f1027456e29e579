// Worked examples for the API docs, made by really running each syscall's
// example request in a fresh kernel of a scratch app: the replies shown in
// /docs are what zxsim answers, so they cannot drift from the code.

import type { Abi } from "../arch/arch.ts";
import type { Example, ExampleHandles, Syscall } from "../kernel/syscalls/define.ts";
import { SYSCALLS } from "../kernel/syscalls/table.ts";

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
    };
    return { id: created.kernel as string, token, handles };
  }

  /** Runs one example in a kernel of its own, so no example sees another's effects. */
  async run(abi: Abi, name: string, example: Example): Promise<Exchange> {
    const { id, token, handles } = await this.exampleKernel();
    try {
      return await this.send("POST", `/v1/${abi}/${name}`, example(handles), token);
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

async function syscallExamples(client: ExampleClient, syscall: Syscall, abi: Abi) {
  return checked(`${abi}_${syscall.name}`, {
    ok: await client.run(abi, syscall.name, syscall.example),
    error: await client.run(abi, syscall.name, syscall.errorExample ?? closedHandle(syscall)),
  });
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
  const deleted = await client.send("DELETE", `/v1/kernels/${id}`, undefined, token);
  const examples: Record<string, WorkedExample> = {
    create_kernel: {
      ok: await client.send("POST", "/v1/kernels", { arch: "x64" }),
      error: await noToken("POST", "/v1/kernels", { arch: "riscv64" }),
    },
    get_kernel: { ok: summary, error: await noToken("GET", `/v1/kernels/${id}`) },
    create_token: { ok: issued, error: issuedAgain },
    delete_kernel: { ok: deleted, error: await noToken("DELETE", `/v1/kernels/${id}`) },
  };
  for (const [operation, example] of Object.entries(examples)) checked(operation, example);
  return examples;
}

/**
 * Every operation's worked example, by OpenAPI operationId (`zx_<name>`,
 * `mx_<name>`, `create_kernel`, ...). `handler` must be a scratch app.
 */
export async function workedExamples(handler: Handler): Promise<Map<string, WorkedExample>> {
  const client = new ExampleClient(handler);
  const examples = new Map(Object.entries(await kernelExamples(client)));
  for (const syscall of SYSCALLS) {
    for (const abi of syscall.abis) {
      examples.set(`${abi}_${syscall.name}`, await syscallExamples(client, syscall, abi));
    }
  }
  return examples;
}
