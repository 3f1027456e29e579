// A port (ZX_OBJ_TYPE_PORT), after Zircon's PortDispatcher: a FIFO of
// 48-byte zx_port_packet_t that zx_port_wait takes from, fed by
// zx_port_queue (user packets), by object_wait_async observers (signal
// packets) and by the kernel (queue(), e.g. guest traps). A port cannot be
// waited on (no ZX_RIGHT_WAIT). When its last handle closes, queued packets
// are dropped and its observers removed; a thread blocked in port_wait
// waits on until its deadline, as in Zircon.

import type { Handle } from "./handle_table.ts";
import { KernelObject, type SignalObserver } from "./object.ts";
import { packetKey, PORT_PACKET_SIZE, signalPacket } from "./port_packet.ts";
import { DEFAULT_RIGHTS } from "./rights.ts";
import { ERR, ZX_OK, type ZxStatus } from "./status.ts";
import { OBJ_TYPE, PKT_TYPE, WAIT_ASYNC } from "./types.ts";

/**
 * kMaxAllocatedPacketCountPerPort: a port_queue finding more user packets
 * than this queued is refused with SHOULD_WAIT, and the caller gets
 * ZX_EXCP_POLICY_CODE_PORT_TOO_MANY_PACKETS.
 */
export const MAX_USER_PACKETS_PER_PORT = 4096;

interface QueuedPacket {
  readonly bytes: Uint8Array;
  /** Signal packets: the handle waited on (port_cancel removes by handle and key). */
  readonly source: Handle | null;
  /** User packets count against the port's limit; the kernel's and observers' do not. */
  readonly user: boolean;
  /** Told when the packet leaves the queue (dequeued or dropped): a guest trap's packet count. */
  readonly onFree?: () => void;
  /** The kernel object that queued it (a guest trap), for cancelQueued(). */
  readonly owner?: object;
}

/** Something blocked in port_wait: given the packet it dequeued. */
export type PortWaiter = (packet: Uint8Array) => void;

export class Port extends KernelObject {
  readonly type = OBJ_TYPE.PORT;
  readonly defaultRights = DEFAULT_RIGHTS.port;
  readonly #packets: QueuedPacket[] = [];
  readonly #waiters: PortWaiter[] = [];
  readonly #observers = new Set<PortObserver>();
  #userPackets = 0;
  #zeroHandles = false;

  constructor(koid: number, readonly options: number) {
    super(koid);
  }

  /** Packets waiting to be dequeued. */
  get pending(): number {
    return this.#packets.length;
  }

  /**
   * Queues a packet the kernel made (any type, not counted against the
   * user-packet limit). BAD_HANDLE once the port's last handle has closed.
   * `onFree` is told when the packet is dequeued or dropped; `owner` names
   * who queued it, for cancelQueued().
   */
  queue(packet: Uint8Array, onFree?: () => void, owner?: object): ZxStatus {
    const bytes = new Uint8Array(PORT_PACKET_SIZE);
    bytes.set(packet.subarray(0, PORT_PACKET_SIZE));
    return this.#queue({ bytes, source: null, user: false, onFree, owner });
  }

  /**
   * PortDispatcher::CancelQueued for a packet source that goes away (a
   * guest trap): drops the packets `owner` queued and nobody dequeued.
   * Other packets, a user packet with the same key included, stay.
   */
  cancelQueued(owner: object): void {
    for (let i = this.#packets.length - 1; i >= 0; i--) {
      const packet = this.#packets[i];
      if (packet.owner !== owner) continue;
      this.#packets.splice(i, 1);
      packet.onFree?.();
    }
  }

  /** QueueUser: the packet's type becomes ZX_PKT_TYPE_USER; key, status and union stay. */
  queueUser(packet: Uint8Array): ZxStatus {
    const bytes = packet.slice(0, PORT_PACKET_SIZE);
    new DataView(bytes.buffer).setUint32(8, PKT_TYPE.USER, true);
    return this.#queue({ bytes, source: null, user: true });
  }

  #queue(packet: QueuedPacket): ZxStatus {
    if (this.#zeroHandles) return ERR.BAD_HANDLE;
    if (packet.user) {
      if (this.#userPackets > MAX_USER_PACKETS_PER_PORT) return ERR.SHOULD_WAIT;
      this.#userPackets++;
    }
    this.#packets.push(packet);
    this.#wake();
    return ZX_OK;
  }

  /** Takes the oldest packet, if any. */
  dequeue(): Uint8Array | undefined {
    const packet = this.#packets.shift();
    if (packet?.user) this.#userPackets--;
    packet?.onFree?.();
    return packet?.bytes;
  }

  /**
   * Waits for a packet: `waiter` gets the next one dequeued for it (at once
   * if one is queued). Returns a function that stops waiting.
   */
  wait(waiter: PortWaiter): () => void {
    this.#waiters.push(waiter);
    this.#wake();
    return () => {
      const index = this.#waiters.indexOf(waiter);
      if (index >= 0) this.#waiters.splice(index, 1);
    };
  }

  /** Each queued packet goes to one waiter, oldest waiter first. */
  #wake(): void {
    while (this.#waiters.length > 0 && this.#packets.length > 0) {
      const waiter = this.#waiters.shift()!;
      waiter(this.dequeue()!);
    }
  }

  /**
   * MakeObserver + AddObserver: a one-shot wait for `signals` on `handle`'s
   * object that queues a ZX_PKT_TYPE_SIGNAL_ONE packet. Level-triggered
   * (the default) fires at once if a signal is already asserted;
   * ZX_WAIT_ASYNC_EDGE only on a later change that asserts a new signal.
   */
  observe(handle: Handle, key: bigint, signals: number, options: number, now: () => bigint): void {
    const observer = new PortObserver(this, handle, key, signals, options, now);
    const object = handle.object;
    if ((options & WAIT_ASYNC.EDGE) === 0 && (object.signals & signals) !== 0) {
      observer.fire(object.signals);
      return;
    }
    this.#observers.add(observer);
    observer.attach();
  }

  /** The observer fired or was canceled: the port forgets it. */
  forget(observer: PortObserver): void {
    this.#observers.delete(observer);
  }

  /** PortObserver::OnMatch: the packet goes in the queue (lost if the port has closed). */
  queueSignal(observer: PortObserver, bytes: Uint8Array): void {
    this.#queue({ bytes, source: observer.handle, user: false });
  }

  /**
   * zx_port_cancel: ends this port's waits on `handle` with `key` and drops
   * their queued packets. False if there was neither.
   */
  cancel(handle: Handle, key: bigint): boolean {
    let found = false;
    for (const observer of [...this.#observers]) {
      if (observer.handle === handle && observer.key === key) {
        observer.detach();
        found = true;
      }
    }
    for (let i = this.#packets.length - 1; i >= 0; i--) {
      const packet = this.#packets[i];
      if (packet.source === handle && packetKey(packet.bytes) === key) {
        this.#packets.splice(i, 1);
        found = true;
      }
    }
    return found;
  }

  /** on_zero_handles: queued packets are freed and every observer removed. */
  override onZeroHandles(): void {
    this.#zeroHandles = true;
    for (const packet of this.#packets.splice(0)) packet.onFree?.();
    this.#userPackets = 0;
    for (const observer of [...this.#observers]) observer.detach();
  }
}

/**
 * One object_wait_async: watches the object behind `handle` until one of
 * `trigger` is asserted by a change that asserts a signal that was not
 * (Dispatcher::UpdateStateLocked), then queues its packet once. Closing the
 * handle cancels it; a packet already queued stays.
 */
export class PortObserver implements SignalObserver {
  /** Every change is looked at: whether a signal was newly asserted needs the one before. */
  readonly mask = 0xffff_ffff;
  #last: number;
  readonly #onClose = () => this.detach();

  constructor(
    readonly port: Port,
    readonly handle: Handle,
    readonly key: bigint,
    readonly trigger: number,
    readonly options: number,
    readonly now: () => bigint,
  ) {
    this.#last = handle.object.signals;
  }

  attach(): void {
    this.handle.object.addObserver(this);
    this.handle.closeListeners.add(this.#onClose);
  }

  /**
   * A change of the object's signals. KernelObject does not call observers
   * when the signals drop to none at all, so a signal asserted again after
   * such a change is not seen as new; no object of zxsim's does that today.
   */
  onSignals(signals: number): void {
    const newlyAsserted = signals & ~this.#last;
    this.#last = signals;
    if (newlyAsserted === 0 || (signals & this.trigger) === 0) return;
    this.detach();
    this.fire(signals);
  }

  fire(observed: number): void {
    const timestamp = (this.options & WAIT_ASYNC.TIMESTAMP) !== 0 ? this.now() : 0n;
    this.port.queueSignal(
      this,
      signalPacket({ key: this.key, trigger: this.trigger, observed, timestamp }),
    );
  }

  /** Stops watching (fired, canceled, the handle closed or the port gone). */
  detach(): void {
    this.handle.object.removeObserver(this);
    this.handle.closeListeners.delete(this.#onClose);
    this.port.forget(this);
  }
}
