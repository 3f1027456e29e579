// A channel message (Zircon's MessagePacket): its bytes and the handles it
// carries. A handle in transit is in no table, but it still counts in its
// object's handleCount, so nothing a message carries goes away while it is
// on the way; delivering it into a table moves that count to the new Handle,
// and destroying the message closes it.

import type { Handle, HandleTable } from "./handle_table.ts";
import type { KernelObject } from "./object.ts";

export interface InTransitHandle {
  readonly object: KernelObject;
  readonly rights: number;
  /**
   * What was waiting on the sender's handle (object_wait_one, wait_async
   * observers). Zircon cancels those only when the handle is delivered or
   * destroyed (Dispatcher::Cancel in msg_get_handles and Handle deletion),
   * so a wait begun before the write goes on while the message travels.
   */
  readonly cancel?: readonly (() => void)[];
}

export interface Message {
  readonly bytes: Uint8Array;
  readonly handles: readonly InTransitHandle[];
}

/** Takes `handle` out of `table` into transit, keeping its object's count. */
export function detachHandle(table: HandleTable, handle: Handle): InTransitHandle {
  const cancel = [...handle.closeListeners];
  handle.closeListeners.clear();
  handle.object.handleCount++;
  table.remove(handle.value);
  return { object: handle.object, rights: handle.rights, cancel };
}

function cancelWaits(handle: InTransitHandle): void {
  for (const cancel of handle.cancel ?? []) cancel();
}

/** Closes a handle in transit: its waits end and its object may hear its last handle go. */
export function closeInTransit(handle: InTransitHandle): void {
  cancelWaits(handle);
  if (--handle.object.handleCount === 0) handle.object.onZeroHandles();
}

/** A message nobody will read: every handle it carries is closed. */
export function destroyMessage(message: Message): void {
  for (const handle of message.handles) closeInTransit(handle);
}

/**
 * Installs the handles of a message into `table` (the caller reserved room
 * for them) and returns their values, in order.
 */
export function deliverHandles(table: HandleTable, handles: readonly InTransitHandle[]): number[] {
  return handles.map((handle) => {
    cancelWaits(handle);
    const value = table.add(handle.object, handle.rights).value;
    handle.object.handleCount--;
    return value;
  });
}
