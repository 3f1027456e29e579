// deno task example:magenta — the 2017 Magenta ABI on /v1/mx: REGSET0 with
// an explicit `len`, MX_ status names, rights checked before the type.

import { ZxError } from "../client/zxsim.ts";
import { ENTRY, mapSpinCode, runExample, STACK } from "./connect.ts";

await runExample(async (client) => {
  for (const arch of ["x64", "arm64"] as const) {
    const k = await client.createKernel({ arch });
    try {
      // Memory came after Magenta: the code for the thread is mapped through /v1/zx.
      await mapSpinCode(k);
      const { out: thread } = await k.mx.thread_create({
        process: k.handles!.process,
        name: "old",
      });
      const { token } = await k.mx.task_suspend({ handle: thread });
      await k.mx.thread_start({ handle: thread, thread_entry: ENTRY, stack: STACK });

      const regset = await k.mx.thread_read_state({
        handle: thread,
        kind: "MX_THREAD_STATE_REGSET0",
      });
      console.log(`${arch}: REGSET0 is ${regset.actual} bytes`);
      // Write the same bytes back, with the exact length Magenta insisted on.
      await k.mx.thread_write_state({
        handle: thread,
        kind: "MX_THREAD_STATE_REGSET0",
        buffer: regset.buffer,
        len: regset.actual,
      });
      try {
        await k.mx.thread_write_state({
          handle: thread,
          kind: "MX_THREAD_STATE_REGSET0",
          buffer: regset.buffer,
          len: regset.actual - 8,
        });
      } catch (error) {
        if (!(error instanceof ZxError)) throw error;
        console.log(`${arch}: a short len: ${error.message}`);
      }
      await k.mx.handle_close({ handle: token });
    } finally {
      await k.delete();
    }
  }
});
