// Constant names by namespace, so that clients can write "ZX_RIGHT_READ" or
// ["ZX_RIGHT_READ","ZX_RIGHT_WRITE"] wherever Zircon takes a number. Names are
// accepted with the ZX_ prefix or the Magenta MX_ prefix.

import { RIGHT, RIGHTS_BASIC, RIGHTS_IO, RIGHTS_POLICY, RIGHTS_PROPERTY } from "./rights.ts";
import {
  CHANNEL_OPTION,
  GUEST_TRAP,
  INFO,
  OBJ_TYPE,
  PKT_TYPE,
  PORT_BIND_TO_INTERRUPT,
  PROCESS_SHARED,
  PROP,
  SIGNAL,
  VCPU_KIND,
  VM,
  VM_ALIGN,
  VMO_OPTION,
  VMO_ZERO_CHILDREN,
  WAIT_ASYNC,
} from "./types.ts";

type Table = Readonly<Record<string, number>>;

function prefixed(prefix: string, table: Table): Record<string, number> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [`${prefix}${k}`, v]));
}

const userSignals = Object.fromEntries(
  Array.from({ length: 8 }, (_, i) => [`USER_SIGNAL_${i}`, 1 << (24 + i)]),
);

/** Each namespace maps a name without its ZX_/MX_ prefix to its value. */
export const CONSTANTS = {
  rights: {
    ...prefixed("RIGHT_", RIGHT),
    RIGHTS_BASIC,
    RIGHTS_IO,
    RIGHTS_PROPERTY,
    RIGHTS_POLICY,
  },
  kind: {
    THREAD_STATE_GENERAL_REGS: 0,
    THREAD_STATE_FP_REGS: 1,
    THREAD_STATE_VECTOR_REGS: 2,
    THREAD_STATE_DEBUG_REGS: 4,
    THREAD_STATE_SINGLE_STEP: 5,
    ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`THREAD_STATE_REGSET${i}`, i])),
    ...prefixed("VCPU_", VCPU_KIND),
    ...prefixed("GUEST_TRAP_", GUEST_TRAP),
  },
  topic: prefixed("INFO_", INFO),
  property: prefixed("PROP_", PROP),
  signals: {
    TASK_TERMINATED: SIGNAL.TASK_TERMINATED,
    JOB_TERMINATED: SIGNAL.TASK_TERMINATED,
    PROCESS_TERMINATED: SIGNAL.TASK_TERMINATED,
    THREAD_TERMINATED: SIGNAL.TASK_TERMINATED,
    THREAD_RUNNING: SIGNAL.THREAD_RUNNING,
    THREAD_SUSPENDED: SIGNAL.THREAD_SUSPENDED,
    SIGNAL_HANDLE_CLOSED: SIGNAL.HANDLE_CLOSED,
    SIGNAL_NONE: 0,
    CHANNEL_READABLE: SIGNAL.CHANNEL_READABLE,
    CHANNEL_WRITABLE: SIGNAL.CHANNEL_WRITABLE,
    CHANNEL_PEER_CLOSED: SIGNAL.CHANNEL_PEER_CLOSED,
    VMO_ZERO_CHILDREN,
    ...userSignals,
  },
  options: {
    PROCESS_SHARED,
    EXCEPTION_CHANNEL_DEBUGGER: 1,
    ...prefixed("VM_", VM),
    ...prefixed("VM_", VM_ALIGN),
    ...prefixed("VMO_", VMO_OPTION),
    ...prefixed("CHANNEL_", CHANNEL_OPTION),
    ...prefixed("WAIT_ASYNC_", WAIT_ASYNC),
    PORT_BIND_TO_INTERRUPT,
  },
  packet_type: prefixed("PKT_TYPE_", PKT_TYPE),
} as const satisfies Record<string, Table>;

export type Namespace = keyof typeof CONSTANTS;

/** The value of a constant name in `namespace`, or undefined. */
export function constantValue(namespace: Namespace, name: string): number | undefined {
  const bare = name.replace(/^(ZX|MX)_/, "");
  const table = CONSTANTS[namespace] as Table;
  // Own names only: "ZX_toString" must not find Object.prototype.toString.
  if (bare === name || !Object.hasOwn(table, bare)) return undefined;
  return table[bare];
}

const typeNames = new Map<number, string>(
  Object.entries(OBJ_TYPE).map(([name, value]) => [value, name.toLowerCase().replace("_", " ")]),
);

/** "thread", "suspend token", ... for messages. */
export function typeName(type: number): string {
  return typeNames.get(type) ?? `object type ${type}`;
}
