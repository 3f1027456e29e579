// The real server, started the way `deno task start` starts it, on a free
// port: the same contract over a socket.

import assert from "node:assert/strict";
import { SYSCALLS } from "../kernel/syscalls/table.ts";
import { assertStatus, expectErr, type Fetcher, send, TestKernel } from "./helpers.ts";
import { freePort, root, START_ARGS, startServer } from "./real_server.ts";
import { walkIpc } from "./ipc_helpers.ts";
import { CODE, makeVm, MEM_TRAP } from "./hypervisor_helpers.ts";

Deno.test("real server: --port, and a register round trip on both arches", async () => {
  const port = freePort();
  const server = await startServer(["--port", String(port)]);
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    for (const arch of ["x64", "arm64"]) {
      const k = await TestKernel.create(server.fetcher, { arch });
      const { thread, token } = await k.suspendedThread("0x1000000", "0x2000000", 7, 8);
      const pc = arch === "x64" ? "rip" : "pc";
      const read = await k.ok("thread_read_state", { handle: thread, kind: 0 });
      assert.equal(read.regs[pc], "0x0000000001000000");
      await k.ok("thread_write_state", { handle: thread, kind: 0, regs: { [pc]: "0x3000000" } });
      const back = await k.ok("thread_read_state", { handle: thread, kind: 0 });
      assert.equal(back.regs[pc], "0x0000000003000000");
      const bytes = Uint8Array.fromBase64(back.buffer);
      assert.equal(bytes.length, arch === "x64" ? 160 : 280);
      // Nothing is mapped at 0x3000000: back to the spin loop before it runs.
      await k.ok("thread_write_state", { handle: thread, kind: 0, regs: { [pc]: "0x1000000" } });
      await k.ok("handle_close", { handle: token });
      assertStatus(
        await k.call("thread_read_state", { handle: thread, kind: 0 }),
        "ZX_ERR_BAD_STATE",
        409,
      );
      const mx = await k.mx("thread_read_state", { handle: thread, kind: 0, len: 4 });
      assertStatus(mx, "MX_ERR_BAD_STATE", 409);
      // It has been running its loop since: suspended again, it is still there.
      await k.ok("task_suspend", { handle: thread });
      const again = await k.ok("thread_read_state", { handle: thread, kind: 0 });
      assert.equal(again.regs[pc], "0x0000000001000000");
    }
    const openapi = await server.fetcher("/openapi.json");
    assert.equal((await openapi.json()).openapi, "3.1.0");
    const huge = await send(
      server.fetcher,
      "/v1/kernels",
      JSON.stringify({ pad: "x".repeat(1 << 20) }),
    );
    assert.equal(huge.http, 413);
  } finally {
    await server.stop();
  }
});

Deno.test("real server: PORT and HOST from the environment; isolation across kernels", async () => {
  const port = freePort();
  const server = await startServer([], { PORT: String(port), HOST: "127.0.0.1" });
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    const a = await TestKernel.create(server.fetcher);
    const b = await TestKernel.create(server.fetcher);
    const thread = await a.newThread();
    assertStatus(
      await b.call("object_get_info", { handle: thread, topic: "ZX_INFO_HANDLE_VALID" }),
      "ZX_ERR_BAD_HANDLE",
      400,
    );
    assertStatus(
      await send(server.fetcher, `/v1/kernels/${a.id}`, undefined, b.token, "GET"),
      "ZX_ERR_ACCESS_DENIED",
      401,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("real server: a bad PORT is refused with a message, not a stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...START_ARGS],
    cwd: root,
    env: { PORT: "eighty" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stderr, /port must be a non-negative integer/);
  assert.doesNotMatch(stderr, /at .*\.ts:\d+/);
});

/** Every syscall's success and its errors, over a real socket, on one arch. */
async function walkEverySyscall(k: TestKernel): Promise<void> {
  const pc = k.arch === "x64" ? "rip" : "pc";
  // handle_duplicate / handle_replace / handle_close / handle_close_many
  const dup =
    (await k.ok("handle_duplicate", { handle: k.handles.thread, rights: "ZX_RIGHT_SAME_RIGHTS" }))
      .out;
  assertStatus(
    await k.call("handle_duplicate", { handle: 7, rights: 0 }),
    "ZX_ERR_BAD_HANDLE",
    400,
  );
  const weak = (await k.ok("handle_replace", { handle: dup, rights: "ZX_RIGHT_READ" })).out;
  assertStatus(
    await k.call("handle_duplicate", { handle: weak, rights: 0 }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  assertStatus(
    await k.call("handle_replace", { handle: weak, rights: "ZX_RIGHT_WRITE" }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(await k.call("handle_close", { handle: weak }), "ZX_ERR_BAD_HANDLE", 400);
  const a = (await k.ok("handle_duplicate", { handle: k.handles.thread, rights: 0 })).out;
  assertStatus(await k.call("handle_close_many", { handles: [a, a, 0] }), "ZX_ERR_BAD_HANDLE", 400);
  await k.ok("handle_close_many", { handles: [0] });
  // process_create / thread_create / thread_start (the process gets code to run at 0x1000000)
  const { proc_handle, vmar_handle } = await k.ok("process_create", {
    job: k.handles.root_job,
    name: "p",
  });
  await k.parkIn(vmar_handle);
  assertStatus(
    await k.call("process_create", { job: k.handles.root_job, options: 2 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(await k.call("process_create", { job: k.handles.thread }), "ZX_ERR_WRONG_TYPE", 400);
  const t = (await k.ok("thread_create", { process: proc_handle, name: "t" })).out;
  assertStatus(
    await k.call("thread_create", { process: k.handles.vmar }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  assertStatus(
    await k.call("thread_start", { handle: t, thread_entry: "0xffffff8000000000", stack: 0 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  // task_suspend / task_suspend_token
  const { token } = await k.ok("task_suspend", { handle: t });
  assertStatus(
    await k.call("task_suspend_token", { handle: k.handles.thread }),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  assertStatus(
    await k.call("task_suspend", { handle: k.handles.root_job }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  await k.ok("thread_start", { handle: t, thread_entry: "0x1000000", stack: "0x2000000", arg1: 1 });
  assertStatus(
    await k.call("thread_start", { handle: t, thread_entry: 0, stack: 0 }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  // object_get_info / object_get_property / object_set_property / object_wait_one
  const info = await k.ok("object_get_info", { handle: t, topic: "ZX_INFO_THREAD" });
  assert.equal(info.info.state, 2);
  assertStatus(
    await k.call("object_get_info", { handle: t, topic: 99 }),
    "ZX_ERR_NOT_SUPPORTED",
    501,
  );
  assertStatus(
    await k.call("object_get_info", { handle: t, topic: "ZX_INFO_PROCESS" }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  await k.ok("object_set_property", { handle: t, property: "ZX_PROP_NAME", name: "renamed" });
  assert.equal(
    (await k.ok("object_get_property", { handle: t, property: "ZX_PROP_NAME" })).name,
    "renamed",
  );
  assertStatus(
    await k.call("object_get_property", { handle: t, property: "ZX_PROP_NAME", value_size: 8 }),
    "ZX_ERR_BUFFER_TOO_SMALL",
    400,
  );
  const seen = await k.ok("object_wait_one", {
    handle: t,
    signals: "ZX_THREAD_SUSPENDED",
    deadline: 0,
  });
  assert.equal(seen.observed & 0x20, 0x20);
  assertStatus(
    await k.call("object_wait_one", { handle: t, signals: "ZX_THREAD_RUNNING", deadline: 0 }),
    "ZX_ERR_TIMED_OUT",
    504,
  );
  assert.ok((await k.ok("clock_get_monotonic")).time > 0);
  // thread_read_state / thread_write_state, zx and mx
  const regs = await k.ok("thread_read_state", { handle: t, kind: "ZX_THREAD_STATE_GENERAL_REGS" });
  assert.equal(regs.regs[pc], "0x0000000001000000");
  assertStatus(
    await k.call("thread_read_state", { handle: t, kind: 3 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  assertStatus(
    await k.call("thread_read_state", { handle: t, kind: 0, buffer_size: 8 }),
    "ZX_ERR_BUFFER_TOO_SMALL",
    400,
  );
  await k.ok("thread_write_state", { handle: t, kind: 0, buffer: regs.buffer });
  assertStatus(
    await k.call("thread_write_state", { handle: proc_handle, kind: 0, buffer: regs.buffer }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  const fp = await k.call("thread_read_state", { handle: t, kind: "ZX_THREAD_STATE_FP_REGS" });
  if (k.arch === "arm64") assertStatus(fp, "ZX_ERR_NOT_SUPPORTED", 501);
  else assert.equal(fp.body.status, "ZX_OK");
  const mx = await k.ok(
    "thread_read_state",
    { handle: t, kind: "MX_THREAD_STATE_REGSET0" },
    k.token,
    "mx",
  );
  assert.equal(mx.status, "MX_OK");
  assert.equal(mx.actual, k.arch === "x64" ? 144 : 272);
  assertStatus(
    await k.mx("thread_write_state", { handle: t, kind: 0, buffer: regs.buffer }),
    "MX_ERR_INVALID_ARGS",
    400,
  );
  await k.ok("thread_write_state", { handle: t, kind: 0, buffer: mx.buffer }, k.token, "mx");
  await k.ok("handle_close", { handle: token });
  // Resumed, it runs its spin loop: RUNNING, its registers out of reach.
  assert.equal(
    (await k.ok("object_get_info", { handle: t, topic: "ZX_INFO_THREAD" })).info.state,
    1,
  );
  assertStatus(
    await k.call("thread_write_state", { handle: t, kind: 0, buffer: regs.buffer }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  assertStatus(await k.mx("thread_read_state", { handle: t, kind: 0 }), "MX_ERR_BAD_STATE", 409);
  // task_kill
  assertStatus(await k.call("task_kill", { handle: t }), "ZX_ERR_WRONG_TYPE", 400);
  await k.ok("task_kill", { handle: proc_handle });
  assert.equal(
    (await k.ok("object_get_info", { handle: t, topic: "ZX_INFO_THREAD" })).info.state,
    5,
  );
}

/** The memory syscalls and those that start and end tasks, over a real socket. */
async function walkMemoryAndLifecycle(k: TestKernel): Promise<void> {
  const PAGE = 4096;
  // job_create
  const { out: job } = await k.ok("job_create", { parent_job: k.handles.root_job });
  assertStatus(
    await k.call("job_create", { parent_job: k.handles.thread }),
    "ZX_ERR_WRONG_TYPE",
    400,
  );
  await k.ok("handle_close", { handle: job });
  // vmo_create / vmo_write / vmo_read / vmo_get_size / vmo_set_size
  const { out: vmo } = await k.ok("vmo_create", { size: 5000, options: "ZX_VMO_RESIZABLE" });
  assertStatus(await k.call("vmo_create", { size: 1, options: 1 }), "ZX_ERR_INVALID_ARGS", 400);
  assert.equal((await k.ok("vmo_get_size", { handle: vmo })).size, 2 * PAGE);
  await k.ok("vmo_write", { handle: vmo, buffer: btoa("zxsim"), offset: 10 });
  assert.equal(
    (await k.ok("vmo_read", { handle: vmo, offset: 10, buffer_size: 5 })).buffer,
    "enhzaW0=",
  );
  assertStatus(
    await k.call("vmo_read", { handle: vmo, offset: 2 * PAGE, buffer_size: 1 }),
    "ZX_ERR_OUT_OF_RANGE",
    400,
  );
  assertStatus(
    await k.call("vmo_write", { handle: vmo, buffer: "AA==", buffer_size: 2 }),
    "ZX_ERR_INVALID_ARGS",
    400,
  );
  await k.ok("vmo_set_size", { handle: vmo, size: 3 * PAGE });
  // vmar_allocate / vmar_map / vmar_protect / vmar_unmap / vmar_destroy
  const { child_vmar, child_addr } = await k.ok("vmar_allocate", {
    parent_vmar: k.handles.vmar,
    options: ["ZX_VM_CAN_MAP_READ", "ZX_VM_CAN_MAP_WRITE"],
    size: 16 * PAGE,
  });
  const rw = ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"];
  const { mapped_addr } = await k.ok("vmar_map", {
    handle: child_vmar,
    options: rw,
    vmo,
    vmo_offset: 0,
    len: 2 * PAGE,
  });
  assert.equal(mapped_addr, child_addr); // lowest free address first
  // Executable needs ZX_RIGHT_EXECUTE on the VMO and the VMAR: neither has it.
  const rx = ["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE"];
  assertStatus(
    await k.call("vmar_map", { handle: child_vmar, options: rx, vmo, len: PAGE }),
    "ZX_ERR_ACCESS_DENIED",
    403,
  );
  await k.ok("vmar_protect", {
    handle: child_vmar,
    options: "ZX_VM_PERM_READ",
    addr: mapped_addr,
    len: PAGE,
  });
  // process_read_memory / process_write_memory: whatever the mapping's permissions.
  const self = k.handles.process;
  await k.ok("process_write_memory", { handle: self, vaddr: mapped_addr, buffer: btoa("ok") });
  const read = await k.ok("process_read_memory", {
    handle: self,
    vaddr: mapped_addr + 10,
    buffer_size: 5,
  });
  assert.deepEqual([read.buffer, read.actual], ["enhzaW0=", 5]);
  assertStatus(
    await k.call("process_read_memory", { handle: self, vaddr: "0x1000", buffer_size: 1 }),
    "ZX_ERR_NO_MEMORY",
    503,
  );
  await k.ok("vmar_unmap", { handle: child_vmar, addr: mapped_addr, len: PAGE });
  await k.ok("vmar_destroy", { handle: child_vmar });
  assertStatus(await k.call("vmar_destroy", { handle: child_vmar }), "ZX_ERR_BAD_STATE", 409);
  // vmo_replace_as_executable, then a process started on that code.
  const { out: code } = await k.ok("vmo_replace_as_executable", { handle: vmo, vmex: 0 });
  assertStatus(await k.call("vmo_get_size", { handle: vmo }), "ZX_ERR_BAD_HANDLE", 400);
  await k.ok("handle_close", { handle: code });
  const { proc_handle, vmar_handle } = await k.ok("process_create", {
    job: k.handles.root_job,
    name: "started",
  });
  await k.parkIn(vmar_handle);
  const main = await k.newThread(proc_handle, "main");
  await k.ok("process_start", {
    handle: proc_handle,
    thread: main,
    entry: "0x1000000",
    stack: "0x2000000",
    arg1: 0,
    arg2: 0,
  });
  assertStatus(
    await k.call("process_start", {
      handle: proc_handle,
      thread: main,
      entry: "0x1000000",
      stack: "0x2000000",
      arg1: 0,
      arg2: 0,
    }),
    "ZX_ERR_BAD_STATE",
    409,
  );
  // nanosleep / debug_write, and the debug log over HTTP.
  await k.ok("nanosleep", { deadline: 0 });
  await k.ok("debug_write", { buffer: btoa("over a socket\n") });
  const log = await send(k.fetcher, `/v1/kernels/${k.id}/debuglog`, undefined, k.token, "GET");
  assert.equal(log.body.text, "over a socket\n");
  // thread_exit by a client thread, then process_exit by the bootstrap thread, last.
  const { token: clientToken } = await k.clientThread("leaving");
  await k.ok("thread_exit", {}, clientToken);
  assertStatus(await k.call("clock_get_monotonic", {}, clientToken), "ZX_ERR_BAD_STATE", 409);
  await k.ok("process_exit", { retcode: 7 });
  assertStatus(await k.call("clock_get_monotonic"), "ZX_ERR_BAD_STATE", 409);
}

/** A fetcher that notes which syscalls went through it. */
function recording(fetcher: Fetcher, called: Set<string>): Fetcher {
  return (path, init) => {
    const syscall = /^\/v1\/(zx|mx)\/(\w+)$/.exec(path);
    if (syscall) called.add(`${syscall[1]}_${syscall[2]}`);
    return fetcher(path, init);
  };
}

/** An exception handler's calls: the channel, the exception's thread and process, its answer. */
async function walkExceptions(k: TestKernel): Promise<void> {
  const { proc_handle: process } = await k.ok("process_create", {
    job: k.handles.root_job,
    name: "crasher",
  });
  expectErr(
    await k.call("task_create_exception_channel", { handle: process, options: 2 }),
    "INVALID_ARGS",
  );
  const { out: channel } = await k.ok("task_create_exception_channel", { handle: process });
  const { out: thread } = await k.ok("thread_create", { process, name: "main" });
  // Nothing is mapped at 0: the first instruction faults.
  await k.ok("process_start", { handle: process, thread, entry: 0, stack: 0 });
  await k.ok("object_wait_one", {
    handle: channel,
    signals: "ZX_CHANNEL_READABLE",
    deadline: "ZX_TIME_INFINITE",
  });
  const { handles: [exception] } = await k.ok("channel_read", { handle: channel });
  const { out: faulted } = await k.ok("exception_get_thread", { handle: exception });
  assert.equal((await k.basic(faulted)).koid, (await k.basic(thread)).koid);
  const { out: owner } = await k.ok("exception_get_process", { handle: exception });
  assert.equal((await k.basic(owner)).koid, (await k.basic(process)).koid);
  expectErr(await k.call("exception_get_thread", { handle: channel }), "WRONG_TYPE");
  await k.ok("object_set_property", {
    handle: exception,
    property: "ZX_PROP_EXCEPTION_STATE",
    u32: 0,
  });
  await k.ok("handle_close", { handle: exception });
  await k.ok("object_wait_one", {
    handle: process,
    signals: "ZX_TASK_TERMINATED",
    deadline: "ZX_TIME_INFINITE",
  });
}

/** The hypervisor calls: a guest that exits once to the VMM, and the VCPU's errors. */
async function walkHypervisor(k: TestKernel): Promise<void> {
  const x64 = k.arch === "x64";
  const vm = await makeVm(k, x64 ? CODE.out.x64 : CODE.load.arm64);
  expectErr(await k.call("guest_create", { resource: k.handles.vmar }), "WRONG_TYPE");
  await k.ok("guest_set_trap", {
    handle: vm.guest,
    kind: x64 ? "ZX_GUEST_TRAP_IO" : "ZX_GUEST_TRAP_MEM",
    addr: x64 ? 0x80 : MEM_TRAP,
    size: x64 ? 1 : 4096,
    port_handle: 0,
    key: 1,
  });
  expectErr(
    await k.call("guest_set_trap", { handle: vm.guest, kind: 9, addr: 0, size: 0 }),
    "INVALID_ARGS",
  );
  expectErr(await k.call("vcpu_create", { guest: vm.guest, entry: 0x4000 }), "BAD_STATE");
  const exit = await k.ok("vcpu_enter", { handle: vm.vcpu });
  assert.equal(exit.view.type, x64 ? 5 : 4);
  await k.ok("vcpu_kick", { handle: vm.vcpu });
  assertStatus(await k.call("vcpu_resume", { handle: vm.vcpu }), "ZX_ERR_CANCELED", 409);
  await k.ok("vcpu_interrupt", { handle: vm.vcpu, vector: 64 });
  expectErr(await k.call("vcpu_kick", { handle: vm.guest }), "WRONG_TYPE");
  expectErr(await k.call("vcpu_interrupt", { handle: 7, vector: 1 }), "BAD_HANDLE");
  const state = await k.ok("vcpu_read_state", { handle: vm.vcpu, kind: "ZX_VCPU_STATE" });
  await k.ok("vcpu_write_state", { handle: vm.vcpu, kind: "ZX_VCPU_STATE", buffer: state.buffer });
  expectErr(
    await k.call("vcpu_read_state", { handle: vm.vcpu, kind: 0, buffer_size: 1 }),
    "INVALID_ARGS",
  );
  expectErr(
    await k.call("vcpu_write_state", { handle: vm.vcpu, kind: 0, buffer: "AAAA" }),
    "INVALID_ARGS",
  );
}

Deno.test("real server: every syscall, success and errors, on both arches", async () => {
  const server = await startServer(["--port", String(freePort())]);
  try {
    for (const arch of ["x64", "arm64"]) {
      const called = new Set<string>();
      const fetcher = recording(server.fetcher, called);
      await walkEverySyscall(await TestKernel.create(fetcher, { arch }));
      await walkMemoryAndLifecycle(await TestKernel.create(fetcher, { arch }));
      await walkIpc(await TestKernel.create(fetcher, { arch }));
      await walkExceptions(await TestKernel.create(fetcher, { arch }));
      await walkHypervisor(await TestKernel.create(fetcher, { arch }, false));
      const zx = SYSCALLS.filter((s) => s.abis.includes("zx")).map((s) => `zx_${s.name}`);
      assert.deepEqual(zx.filter((name) => !called.has(name)), [], `${arch}: not walked`);
    }
  } finally {
    await server.stop();
  }
});
