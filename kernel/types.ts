// Numeric constants of the Zircon ABI that are not statuses or rights:
// object types, signals, thread states, info topics, properties.

export const OBJ_TYPE = {
  NONE: 0,
  PROCESS: 1,
  THREAD: 2,
  VMO: 3,
  CHANNEL: 4,
  EVENT: 5,
  PORT: 6,
  RESOURCE: 15,
  JOB: 17,
  VMAR: 18,
  GUEST: 20,
  VCPU: 21,
  SUSPEND_TOKEN: 27,
  EXCEPTION: 29,
} as const;
export type ObjType = (typeof OBJ_TYPE)[keyof typeof OBJ_TYPE];

/** Signals (zircon/types.h). TERMINATED is the same bit for jobs, processes, threads. */
export const SIGNAL = {
  CHANNEL_READABLE: 1 << 0,
  CHANNEL_WRITABLE: 1 << 1,
  CHANNEL_PEER_CLOSED: 1 << 2,
  TASK_TERMINATED: 1 << 3,
  THREAD_RUNNING: 1 << 4,
  THREAD_SUSPENDED: 1 << 5,
  HANDLE_CLOSED: 1 << 23,
} as const;

/** zx_info_thread_t.state values. BLOCKED carries its reason in the high byte. */
export const THREAD_STATE = {
  NEW: 0x0000,
  RUNNING: 0x0001,
  SUSPENDED: 0x0002,
  BLOCKED: 0x0003,
  DYING: 0x0004,
  DEAD: 0x0005,
  BLOCKED_EXCEPTION: 0x0103,
  BLOCKED_SLEEPING: 0x0203,
  BLOCKED_FUTEX: 0x0303,
  BLOCKED_PORT: 0x0403,
  BLOCKED_CHANNEL: 0x0503,
  BLOCKED_WAIT_ONE: 0x0603,
  BLOCKED_WAIT_MANY: 0x0703,
  BLOCKED_INTERRUPT: 0x0803,
  BLOCKED_PAGER: 0x0903,
} as const;

/** zx_object_get_info topics (modern numbering: ZX_INFO_PROCESS is version 1). */
export const INFO = {
  NONE: 0,
  HANDLE_VALID: 1,
  HANDLE_BASIC: 2,
  PROCESS: 0x1000_0003,
  VMAR: 7,
  THREAD: 10,
  THREAD_EXCEPTION_REPORT_V1: 11,
  THREAD_EXCEPTION_REPORT: 0x1000_000b,
  PROCESS_MAPS: 13,
  VMO: 0x1000_0017,
  VCPU: 32,
} as const;

/** zx_info_vcpu_t.flags: a kick is pending (not yet consumed by an enter). */
export const INFO_VCPU_FLAG_KICKED = 1 << 0;

/** zx_guest_set_trap kinds (zircon/syscalls/hypervisor.h). */
export const GUEST_TRAP = { BELL: 0, MEM: 1, IO: 2 } as const;

/** zx_vcpu_read_state / zx_vcpu_write_state kinds. */
export const VCPU_KIND = { STATE: 0, IO: 1 } as const;

/** zx_packet_guest_vcpu_t.type (2023: uint32_t). */
export const PKT_GUEST_VCPU = { INTERRUPT: 0, STARTUP: 1, EXIT: 2 } as const;

export const PROP = {
  NAME: 3,
  EXCEPTION_STATE: 16,
  EXCEPTION_STRATEGY: 18,
} as const;

/** ZX_MAX_NAME_LEN: names are at most 31 bytes plus a NUL. */
export const MAX_NAME_LEN = 32;

/** ZX_TASK_RETCODE_SYSCALL_KILL: the return code of a process killed by zx_task_kill. */
export const TASK_RETCODE_SYSCALL_KILL = -1024;

export const PROCESS_SHARED = 1 << 0;

/** zx_time_t limits: a deadline of INFINITE never expires. */
export const TIME_INFINITE = 0x7fff_ffff_ffff_ffffn;
export const TIME_INFINITE_PAST = -0x8000_0000_0000_0000n;

/** zx_vm_option_t bits of vmar_map, vmar_allocate and vmar_protect (zircon/types.h). */
export const VM = {
  PERM_READ: 1 << 0,
  PERM_WRITE: 1 << 1,
  PERM_EXECUTE: 1 << 2,
  COMPACT: 1 << 3,
  SPECIFIC: 1 << 4,
  SPECIFIC_OVERWRITE: 1 << 5,
  CAN_MAP_SPECIFIC: 1 << 6,
  CAN_MAP_READ: 1 << 7,
  CAN_MAP_WRITE: 1 << 8,
  CAN_MAP_EXECUTE: 1 << 9,
  MAP_RANGE: 1 << 10,
  REQUIRE_NON_RESIZABLE: 1 << 11,
  ALLOW_FAULTS: 1 << 12,
  OFFSET_IS_UPPER_LIMIT: 1 << 13,
  PERM_READ_IF_XOM_UNSUPPORTED: 1 << 14,
} as const;

/** ZX_VM_ALIGN_BASE: the top byte of the options holds log2 of the alignment (10..32). */
export const VM_ALIGN_BASE = 24;

/** ZX_VM_ALIGN_1KB (10 << 24) .. ZX_VM_ALIGN_4GB (32 << 24), by name. */
export const VM_ALIGN: Readonly<Record<string, number>> = Object.fromEntries(
  Array.from({ length: 23 }, (_, i) => {
    const log2 = 10 + i;
    const unit = ["KB", "MB", "GB"][Math.floor(log2 / 10) - 1];
    return [`ALIGN_${1 << (log2 % 10)}${unit}`, (log2 << VM_ALIGN_BASE) >>> 0];
  }),
);

/** zx_vmo_create options. */
export const VMO_OPTION = { RESIZABLE: 1 << 1, DISCARDABLE: 1 << 2 } as const;

/** ZX_VMO_ZERO_CHILDREN: asserted while a VMO has no children (always, in zxsim). */
export const VMO_ZERO_CHILDREN = 1 << 3;

export const RSRC_KIND_SYSTEM = 5;
export const RSRC_SYSTEM_HYPERVISOR_BASE = 0;

/** zx_channel_read / zx_channel_write options (zircon/types.h). */
export const CHANNEL_OPTION = { READ_MAY_DISCARD: 1 << 0, WRITE_USE_IOVEC: 1 << 1 } as const;

/** zx_object_wait_async options; ONCE (0) is what every wait is now (zircon/syscalls/port.h). */
export const WAIT_ASYNC = { ONCE: 0, TIMESTAMP: 1 << 0, EDGE: 1 << 1 } as const;

/** zx_port_create option. */
export const PORT_BIND_TO_INTERRUPT = 1 << 0;

/** zx_port_packet_t.type values (0x02, once SIGNAL_REP, is unused). */
export const PKT_TYPE = {
  USER: 0x00,
  SIGNAL_ONE: 0x01,
  GUEST_BELL: 0x03,
  GUEST_MEM: 0x04,
  GUEST_IO: 0x05,
  GUEST_VCPU: 0x06,
  INTERRUPT: 0x07,
  PAGE_REQUEST: 0x09,
} as const;
