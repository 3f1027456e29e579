// A channel endpoint (ZX_OBJ_TYPE_CHANNEL), after Zircon's ChannelDispatcher:
// two endpoints made together, each with a queue of the messages its peer
// wrote. READABLE while the queue holds a message, WRITABLE while the peer
// exists, PEER_CLOSED once it has gone. The kernel may hold an endpoint with
// no handle (exception channels): it writes with enqueue() on the peer and
// ends it with close().

import { destroyMessage, type Message } from "./message.ts";
import { KernelObject } from "./object.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { ERR, ZX_OK } from "./status.ts";
import { OBJ_TYPE, SIGNAL } from "./types.ts";

export type { InTransitHandle, Message } from "./message.ts";

/** ZX_CHANNEL_MAX_MSG_BYTES and ZX_CHANNEL_MAX_MSG_HANDLES. */
export const CHANNEL_MAX_MSG_BYTES = 65536;
export const CHANNEL_MAX_MSG_HANDLES = 64;

/**
 * kMaxPendingMessageCount: a write that leaves more unread messages than
 * this raises ZX_EXCP_POLICY_CODE_CHANNEL_FULL_WRITE on the writer (the
 * message is queued and the write still returns ZX_OK).
 */
export const CHANNEL_MAX_PENDING_MESSAGES = 3500;

/** kMinKernelGeneratedTxid: zx_channel_call's txids; userspace uses those below. */
export const MIN_KERNEL_TXID = 0x8000_0000;

const { CHANNEL_READABLE, CHANNEL_WRITABLE, CHANNEL_PEER_CLOSED } = SIGNAL;

/** How a zx_channel_call's wait for its reply ended. */
export type CallResult =
  | { readonly status: typeof ZX_OK; readonly reply: Message }
  | { readonly status: typeof ERR.PEER_CLOSED | typeof ERR.CANCELED };

/** A zx_channel_call waiting on this endpoint for the reply with its txid. */
export interface CallWaiter {
  readonly txid: number;
  settle(result: CallResult): void;
}

/** The txid a message carries: its first four bytes, or 0 when it is shorter. */
export function txidOf(bytes: Uint8Array): number {
  if (bytes.length < 4) return 0;
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
}

export class Channel extends KernelObject {
  readonly type = OBJ_TYPE.CHANNEL;
  readonly defaultRights = DEFAULT_RIGHTS.channel;
  /** The other endpoint; null once it has gone (or this one has). */
  peer: Channel | null = null;
  /** Called once when the peer goes away. */
  readonly peerClosedListeners = new Set<() => void>();
  /** Messages the peer wrote, oldest first. */
  readonly #messages: Message[] = [];
  readonly #callWaiters: CallWaiter[] = [];
  #peerKoid = 0;
  #txid = 0;
  #closed = false;

  /** One endpoint, without a peer: endpoints are made in pairs by Channel.pair. */
  constructor(koid: number) {
    super(koid);
    this.updateSignals(0, CHANNEL_WRITABLE);
  }

  /** ChannelDispatcher::Create: two endpoints, each the other's peer. */
  static pair(nextKoid: () => number): [Channel, Channel] {
    const a = new Channel(nextKoid());
    const b = new Channel(nextKoid());
    a.peer = b;
    b.peer = a;
    a.#peerKoid = b.koid;
    b.#peerKoid = a.koid;
    return [a, b];
  }

  /** The peer's koid, as ZX_INFO_HANDLE_BASIC reports it even after the peer has gone. */
  override get relatedKoid(): number {
    return this.#peerKoid;
  }

  /** Messages waiting to be read. */
  get pending(): number {
    return this.#messages.length;
  }

  /** The next message, left in the queue. */
  front(): Message | undefined {
    return this.#messages[0];
  }

  /** Takes the next message; READABLE goes with the last one. */
  take(): Message | undefined {
    const message = this.#messages.shift();
    if (this.#messages.length === 0) this.updateSignals(CHANNEL_READABLE, 0);
    return message;
  }

  /**
   * Puts a message in this endpoint's read queue as if its peer had written
   * it (Write on the peer: a zx_channel_call waiting here for the message's
   * txid gets it instead). The handles it carries already count in their
   * objects. Returns how many messages are queued now (0 when a call took
   * it). An endpoint that has gone destroys the message.
   */
  enqueue(message: Message): number {
    if (this.#closed) {
      destroyMessage(message);
      return 0;
    }
    if (this.#deliverToCall(message)) return 0;
    return this.#writeSelf(message);
  }

  /** WriteSelf: the message joins the queue and READABLE is asserted. */
  #writeSelf(message: Message): number {
    this.#messages.push(message);
    this.updateSignals(0, CHANNEL_READABLE);
    return this.#messages.length;
  }

  /** TryWriteToMessageWaiter: only kernel txids are ever waited for. */
  #deliverToCall(message: Message): boolean {
    if (this.#callWaiters.length === 0) return false;
    const txid = txidOf(message.bytes);
    if (txid < MIN_KERNEL_TXID) return false;
    const index = this.#callWaiters.findIndex((w) => w.txid === txid);
    if (index < 0) return false;
    const [waiter] = this.#callWaiters.splice(index, 1);
    waiter.settle({ status: ZX_OK, reply: message });
    return true;
  }

  /**
   * ChannelDispatcher::Call: a txid no call on this endpoint uses goes in the
   * message's first four bytes, the waiter is registered, and the message
   * goes to the peer's queue (never to a call waiting there: the txids of
   * the two endpoints' calls may be equal). Null, and the message destroyed,
   * if the peer has gone.
   */
  call(message: Message, settle: (result: CallResult) => void): CallWaiter | null {
    const peer = this.peer;
    if (!peer) {
      destroyMessage(message);
      return null;
    }
    let txid: number;
    do {
      this.#txid = (this.#txid + 1) >>> 0;
      txid = (this.#txid | MIN_KERNEL_TXID) >>> 0;
    } while (this.#callWaiters.some((w) => w.txid === txid));
    new DataView(message.bytes.buffer, message.bytes.byteOffset).setUint32(0, txid, true);
    const waiter = { txid, settle };
    this.#callWaiters.push(waiter);
    peer.#writeSelf(message);
    return waiter;
  }

  /** A call gave up (its deadline passed): a later reply goes to the queue. */
  endCall(waiter: CallWaiter): void {
    const index = this.#callWaiters.indexOf(waiter);
    if (index >= 0) this.#callWaiters.splice(index, 1);
  }

  #cancelCalls(status: typeof ERR.PEER_CLOSED | typeof ERR.CANCELED): void {
    for (const waiter of this.#callWaiters.splice(0)) waiter.settle({ status });
  }

  /** The last handle is gone: the endpoint goes. */
  override onZeroHandles(): void {
    this.close();
  }

  /**
   * The endpoint goes (its last handle closed, or the kernel dropped the end
   * it held): calls waiting here are CANCELED, the peer loses WRITABLE, gets
   * PEER_CLOSED and its calls end with PEER_CLOSED; the messages still queued
   * here are destroyed and the handles they carry closed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelCalls(ERR.CANCELED);
    const peer = this.peer;
    this.peer = null;
    if (peer) {
      peer.peer = null;
      peer.#peerClosed();
    }
    const messages = this.#messages.splice(0);
    if (messages.length > 0) this.updateSignals(CHANNEL_READABLE, 0);
    for (const message of messages) destroyMessage(message);
  }

  /** OnPeerZeroHandlesLocked. */
  #peerClosed(): void {
    this.updateSignals(CHANNEL_WRITABLE, CHANNEL_PEER_CLOSED);
    this.#cancelCalls(ERR.PEER_CLOSED);
    for (const listener of [...this.peerClosedListeners]) listener();
  }
}
