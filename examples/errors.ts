// deno task example:errors — every failure is a ZxError carrying Zircon's
// status, checked in Zircon's order: handle, type, rights, then state.

import { ZxError } from "../client/zxsim.ts";
import { ERR } from "../kernel/status.ts";
import { ENTRY, mapSpinCode, runExample, STACK } from "./connect.ts";

/** Runs `call` and prints the status it fails with (or that it succeeded). */
async function attempt(what: string, call: () => Promise<unknown>) {
  try {
    await call();
    console.log(`${what}: ok`);
  } catch (error) {
    if (!(error instanceof ZxError)) throw error;
    console.log(`${what}: ${error.message}`);
    return error.status;
  }
}

await runExample(async (client) => {
  const k = await client.createKernel({ arch: "x64" });
  try {
    const { process } = k.handles!;
    await mapSpinCode(k); // code for the thread to run once it is resumed
    const { out: thread } = await k.zx.thread_create({ process, name: "target" });
    const read = (handle: number) => k.zx.thread_read_state({ handle, kind: 0 });

    await attempt("read a closed handle", async () => {
      const { out } = await k.zx.handle_duplicate({
        handle: thread,
        rights: "ZX_RIGHT_SAME_RIGHTS",
      });
      await k.zx.handle_close({ handle: out });
      await read(out);
    });
    await attempt("read a process's registers", () => read(process));
    const { out: noRead } = await k.zx.handle_duplicate({
      handle: thread,
      rights: "ZX_RIGHT_WRITE",
    });
    await attempt("read through a handle without ZX_RIGHT_READ", () => read(noRead));
    const status = await attempt("read a thread that is not suspended", () => read(thread));
    if (status === ERR.BAD_STATE) console.log("-> suspend it first (task_suspend)");

    const { token } = await k.zx.task_suspend({ handle: thread });
    await k.zx.thread_start({ handle: thread, thread_entry: ENTRY, stack: STACK });
    await attempt(
      "write a kernel address to rip",
      () =>
        k.zx.thread_write_state({ handle: thread, kind: 0, regs: { rip: "0xffffff8000000000" } }),
    );
    await attempt(
      "write a 3-byte buffer",
      () => k.zx.thread_write_state({ handle: thread, kind: 0, buffer: "AAAA" }),
    );
    await attempt(
      "claim 160 bytes but send 3",
      () => k.zx.thread_write_state({ handle: thread, kind: 0, buffer: "AAAA", buffer_size: 160 }),
    );
    await attempt("read it while suspended", () => read(thread));
    await k.zx.handle_close({ handle: token });
  } finally {
    await k.delete();
  }
});
