// zx_nanosleep and zx_debug_write: what a small program needs to pass time
// and to be heard.

import { z } from "zod";
import { THREAD_STATE } from "../types.ts";
import { ERR, ZxError } from "../status.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { bytes, deadline, size } from "./params.ts";

/** kMaxDebugWriteSize: zx_debug_write prints at most this many bytes of a call. */
export const MAX_DEBUG_WRITE = 256;

const decoder = new TextDecoder();

export const debugWrite = defineSyscall({
  name: "debug_write",
  abis: ["zx", "mx"],
  summary: "Write to the kernel's debug log",
  description: "Appends `buffer` to the kernel's debug log, which GET /v1/kernels/{id}/debuglog " +
    "returns. As Zircon, at most 256 bytes of one call are written (the rest is dropped); " +
    "buffer_size larger than the bytes sent is the invalid-pointer case, INVALID_ARGS.",
  params: z.strictObject({
    buffer: bytes(),
    buffer_size: size().optional().describe("defaults to the buffer's length"),
  }),
  outs: z.object({}),
  errors: ["INVALID_ARGS"],
  example: () => ({ buffer: "aGVsbG8K" }),
  errorExample: () => ({ buffer: "aGVsbG8K", buffer_size: 64 }),
  c: [
    { kind: "in", name: "buffer", size: "buffer_size" },
    { kind: "value", name: "buffer_size", type: "usize" },
  ],
  impl(caller, { buffer, buffer_size = buffer.length }) {
    const length = Math.min(buffer_size, MAX_DEBUG_WRITE);
    if (length > buffer.length) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        `buffer is an invalid pointer: buffer_size asks for ${length} bytes but ` +
          `${buffer.length} were sent`,
      );
    }
    caller.kernel.debuglog.write({
      time: caller.kernel.now(),
      pid: caller.process.koid,
      tid: caller.thread.koid,
      text: decoder.decode(buffer.subarray(0, length)),
    });
    return {};
  },
});

/** Sleeps until `until` (kernel clock) and until the thread may run again. */
async function sleepUntil(caller: Caller, until: bigint): Promise<"slept" | "cap"> {
  const { kernel, thread } = caller;
  const capMs = caller.maxBlockMs;
  const end = await new Promise<"slept" | "cap">((resolve) => {
    const finish = (how: "slept" | "cap") => {
      cancel();
      clearTimeout(cap);
      thread.deathListeners.delete(onDeath);
      resolve(how);
    };
    const onDeath = () => finish("slept");
    const cancel = kernel.clock.at(until, () => finish("slept"));
    const cap = Number.isFinite(capMs) ? setTimeout(() => finish("cap"), capMs) : undefined;
    thread.deathListeners.add(onDeath);
  });
  await thread.untilRunnable();
  return end;
}

export const nanosleep = defineSyscall({
  name: "nanosleep",
  abis: ["zx", "mx"],
  summary: "Sleep until a deadline",
  description: "Blocks the calling thread until `deadline` on the kernel's monotonic clock " +
    "(virtual in a manual kernel); a deadline already past returns at once. A suspended " +
    "sleeper returns only once resumed. Over HTTP the server's cap on one blocking request " +
    "applies: at the cap the call returns TIMED_OUT (zxsim's own; Zircon's nanosleep never fails).",
  params: z.strictObject({ deadline: deadline() }),
  outs: z.object({}),
  errors: ["TIMED_OUT"],
  example: () => ({ deadline: 0 }),
  errorExample: () => ({ deadline: "soon" }),
  c: [{ kind: "value", name: "deadline", type: "i64" }],
  async impl(caller, { deadline }) {
    if (deadline <= caller.kernel.now()) return {};
    const thread = caller.thread;
    thread.blockedReason = THREAD_STATE.BLOCKED_SLEEPING;
    try {
      if (await sleepUntil(caller, deadline) === "cap") {
        throw new ZxError(
          ERR.TIMED_OUT,
          `the server's cap of ${caller.maxBlockMs} ms for one blocking request was reached`,
        );
      }
      if (!thread.alive) {
        throw new ZxError(ERR.INTERNAL_INTR_KILLED, "the calling thread was killed");
      }
      return {};
    } finally {
      thread.blockedReason = 0;
    }
  },
});
