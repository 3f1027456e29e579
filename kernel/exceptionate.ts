// An exception "slot" of a task (Zircon's Exceptionate): the kernel's end of
// the channel a handler made with zx_task_create_exception_channel, and the
// task rights the handler gets through exception_get_thread / _process.

import { Channel } from "./channel.ts";
import type { Exception } from "./exception.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { ERR, ZxError } from "./status.ts";

/** ZX_EXCEPTION_CHANNEL_TYPE_*, as zx_info_thread_t.wait_exception_channel_type reports them. */
export const CHANNEL_TYPE = {
  NONE: 0,
  DEBUGGER: 1,
  THREAD: 2,
  PROCESS: 3,
  JOB: 4,
  JOB_DEBUGGER: 5,
} as const;

export class Exceptionate {
  /** The endpoint the kernel keeps (no handle); its peer is the handler's. */
  #kernelEnd: Channel | null = null;
  #shutdown = false;
  threadRights = 0;
  processRights = 0;

  constructor(readonly channelType: number) {}

  /** A handler's channel is bound and its end is still open. */
  get bound(): boolean {
    return this.#kernelEnd !== null && this.#kernelEnd.peer !== null;
  }

  /**
   * Exceptionate::SetChannel: a dead task's slot is BAD_STATE; a slot whose
   * handler is still listening is ALREADY_BOUND (a closed one is replaced).
   * Returns the endpoint for the handler.
   */
  bind(nextKoid: () => number, threadRights: number, processRights: number): Channel {
    if (this.#shutdown) throw new ZxError(ERR.BAD_STATE, "the task is dying or dead");
    if (this.bound) {
      throw new ZxError(
        ERR.ALREADY_BOUND,
        "this task already has an exception channel of that kind",
      );
    }
    this.#dropKernelEnd();
    const [kernelEnd, userEnd] = Channel.pair(nextKoid);
    this.#kernelEnd = kernelEnd;
    this.threadRights = threadRights;
    this.processRights = processRights;
    return userEnd;
  }

  /**
   * Sends one exception message: the 24-byte zx_exception_info_t and the
   * exception's handle. False when no handler listens (the next one is tried).
   */
  send(info: Uint8Array, exception: Exception): boolean {
    const userEnd = this.#kernelEnd?.peer;
    if (!userEnd) return false;
    exception.threadRights = this.threadRights;
    exception.processRights = this.processRights;
    // A handle in transit counts: the exception lives while the message does.
    exception.handleCount++;
    userEnd.enqueue({
      bytes: info,
      handles: [{ object: exception, rights: DEFAULT_RIGHTS.exception }],
    });
    return true;
  }

  /** The task died: the handler's end sees PEER_CLOSED; binding again is BAD_STATE. */
  shutdown(): void {
    this.#shutdown = true;
    this.#dropKernelEnd();
  }

  #dropKernelEnd(): void {
    const end = this.#kernelEnd;
    this.#kernelEnd = null;
    // The kernel's end never had a handle: the kernel closes it itself.
    end?.close();
  }
}
