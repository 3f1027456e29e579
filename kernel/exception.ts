// The exception object (ZX_OBJ_TYPE_EXCEPTION) a handler receives with each
// exception message. Its handle is the handler's answer: closing the last
// one responds with the disposition set in ZX_PROP_EXCEPTION_STATE.

import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import type { Thread } from "./thread.ts";
import { OBJ_TYPE } from "./types.ts";

/** ZX_EXCEPTION_STATE_*: what closing the exception handle does. */
export const EXCEPTION_STATE = { TRY_NEXT: 0, HANDLED: 1, THREAD_EXIT: 2 } as const;
/** ZX_EXCEPTION_STRATEGY_*. */
export const EXCEPTION_STRATEGY = { FIRST_CHANCE: 0, SECOND_CHANCE: 1 } as const;

export class Exception extends KernelObject {
  readonly type = OBJ_TYPE.EXCEPTION;
  readonly defaultRights = DEFAULT_RIGHTS.exception;
  /** ZX_PROP_EXCEPTION_STATE; back to TRY_NEXT each time a new handler gets it. */
  state: number = EXCEPTION_STATE.TRY_NEXT;
  /** Set by a debugger holding it: the debug channel gets it again after the process's. */
  secondChance = false;
  /** Rights of the task handle the current handler's channel was made from. */
  threadRights = 0;
  processRights = 0;
  /** The current handler answers by closing its handle. */
  #answer: ((state: number) => void) | null = null;

  constructor(
    koid: number,
    readonly thread: Thread,
    /** ZX_EXCP_*. */
    readonly excpType: number,
    /** The zx_exception_report_t (40 bytes) ZX_INFO_THREAD_EXCEPTION_REPORT returns. */
    readonly report: Uint8Array,
  ) {
    super(koid);
  }

  /** Resolves with the disposition when the handler closes its last handle to this. */
  awaitAnswer(): Promise<number> {
    return new Promise((resolve) => this.#answer = resolve);
  }

  override onZeroHandles(): void {
    const answer = this.#answer;
    this.#answer = null;
    answer?.(this.state);
  }
}
