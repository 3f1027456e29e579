// The IPC objects the documentation's examples use (see ExampleHandles):
// a channel pair with a message waiting, a port with packets queued, and a
// channel whose other end a small program serves, so zx_channel_call's
// example gets its reply for real.

type Json = Record<string, unknown>;
type Syscall = (name: string, body: Json) => Promise<Json>;

/**
 * The echo server (x64): `_start(channel, vdso_base)` waits for the channel
 * to be readable, reads a message of up to 64 bytes and no handles, writes
 * it back unchanged (a zx_channel_call's txid included) and waits again; it
 * exits with the status of the first call that fails.
 *
 *     mov ebx, edi ; mov rbp, rsi ; sub rsp, 88       # [rsp] [rsp+8]: args 7, 8
 *  1: mov edi, ebx ; mov esi, 5 ; movabs rdx, INF    # READABLE | PEER_CLOSED
 *     xor ecx, ecx ; lea rax, [rbp+32*10] ; call rax # zx_object_wait_one
 *     test eax, eax ; jnz 2f
 *     lea rax, [rsp+16] ; mov [rsp], rax ; mov qword ptr [rsp+8], 0
 *     mov edi, ebx ; xor esi, esi ; lea rdx, [rsp+24] ; xor ecx, ecx
 *     mov r8d, 64 ; xor r9d, r9d ; lea rax, [rbp+32*21] ; call rax  # zx_channel_read
 *     test eax, eax ; jnz 2f
 *     mov edi, ebx ; xor esi, esi ; lea rdx, [rsp+24] ; mov ecx, [rsp+16]
 *     xor r8d, r8d ; xor r9d, r9d ; lea rax, [rbp+32*23] ; call rax # zx_channel_write
 *     jmp 1b
 *  2: movsxd rdi, eax ; lea rax, [rbp+32*38] ; call rax            # zx_process_exit
 */
const ECHO_SERVER_X64 = Uint8Array.fromHex(
  "89fb4889f54883ec5889dfbe0500000048baffffffffffffff7f31c9488d8540010000ffd085c07551" +
    "488d4424104889042448c74424080000000089df31f6488d54241831c941b8400000004531c9488d85" +
    "a0020000ffd085c0751e89df31f6488d5424188b4c24104531c04531c9488d85e0020000ffd0eb8f48" +
    "63f8488d85c0040000ffd0",
);

const PAGE = 4096;

/** A process running the echo server on a new channel; returns the client's end. */
async function echoServer(syscall: Syscall, rootJob: number): Promise<number> {
  const created = await syscall("process_create", { job: rootJob, name: "echo" });
  const vmar = created.vmar_handle as number;
  const map = async (vmo: number, options: string[]) =>
    (await syscall("vmar_map", { handle: vmar, options, vmo, len: PAGE })).mapped_addr as number;
  const code = (await syscall("vmo_create", { size: PAGE })).out as number;
  await syscall("vmo_write", { handle: code, buffer: ECHO_SERVER_X64.toBase64() });
  const exec = (await syscall("vmo_replace_as_executable", { handle: code, vmex: 0 }))
    .out as number;
  const entry = await map(exec, ["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE"]);
  const stackVmo = (await syscall("vmo_create", { size: PAGE })).out as number;
  const stack = await map(stackVmo, ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE"]);
  await syscall("handle_close_many", { handles: [exec, stackVmo] });
  const process = created.proc_handle as number;
  const thread = (await syscall("thread_create", { process, name: "echo" })).out as number;
  const { out0: client, out1: server } = await syscall("channel_create", {});
  await syscall("process_start", {
    handle: process,
    thread,
    entry,
    stack: stack + PAGE - 8,
    arg1: server,
  });
  return client as number;
}

/**
 * `channel` and `channel_peer` (one message, "hello", waiting in
 * `channel_peer`), `port` (a signal packet with key 1 from a wait for
 * ZX_CHANNEL_READABLE on `channel_peer`, then a user packet with key 42) and
 * `echo_channel`, served by the echo program.
 */
export async function ipcExampleHandles(syscall: Syscall, rootJob: number) {
  const { out0: channel, out1: peer } = await syscall("channel_create", {});
  await syscall("channel_write", { handle: channel, bytes: "aGVsbG8=" });
  const port = (await syscall("port_create", {})).out as number;
  await syscall("object_wait_async", {
    handle: peer,
    port,
    key: 1,
    signals: "ZX_CHANNEL_READABLE",
  });
  await syscall("port_queue", { handle: port, packet: { key: 42, user: { u64: [1, 2, 3, 4] } } });
  return {
    channel: channel as number,
    channel_peer: peer as number,
    port,
    echo_channel: await echoServer(syscall, rootJob),
  };
}
