// Handle rights (zircon/rights.h). Bit n is 1 << n; SAME_RIGHTS is the
// "keep the source's rights" sentinel of handle_duplicate / handle_replace.

export const RIGHT = {
  NONE: 0,
  DUPLICATE: 1 << 0,
  TRANSFER: 1 << 1,
  READ: 1 << 2,
  WRITE: 1 << 3,
  EXECUTE: 1 << 4,
  MAP: 1 << 5,
  GET_PROPERTY: 1 << 6,
  SET_PROPERTY: 1 << 7,
  ENUMERATE: 1 << 8,
  DESTROY: 1 << 9,
  SET_POLICY: 1 << 10,
  GET_POLICY: 1 << 11,
  SIGNAL: 1 << 12,
  SIGNAL_PEER: 1 << 13,
  WAIT: 1 << 14,
  INSPECT: 1 << 15,
  MANAGE_JOB: 1 << 16,
  MANAGE_PROCESS: 1 << 17,
  MANAGE_THREAD: 1 << 18,
  APPLY_PROFILE: 1 << 19,
  MANAGE_SOCKET: 1 << 20,
  OP_CHILDREN: 1 << 21,
  RESIZE: 1 << 22,
  ATTACH_VMO: 1 << 23,
  MANAGE_VMO: 1 << 24,
  SAME_RIGHTS: 0x8000_0000,
} as const;

export const RIGHTS_BASIC = RIGHT.TRANSFER | RIGHT.DUPLICATE | RIGHT.WAIT | RIGHT.INSPECT;
export const RIGHTS_IO = RIGHT.READ | RIGHT.WRITE;
export const RIGHTS_PROPERTY = RIGHT.GET_PROPERTY | RIGHT.SET_PROPERTY;
export const RIGHTS_POLICY = RIGHT.GET_POLICY | RIGHT.SET_POLICY;

/** Default rights of a new handle, per object type (modern Zircon values). */
export const DEFAULT_RIGHTS = {
  job: RIGHTS_BASIC | RIGHTS_IO | RIGHTS_PROPERTY | RIGHTS_POLICY | RIGHT.ENUMERATE |
    RIGHT.DESTROY | RIGHT.SIGNAL | RIGHT.MANAGE_JOB | RIGHT.MANAGE_PROCESS | RIGHT.MANAGE_THREAD,
  process: RIGHTS_BASIC | RIGHTS_IO | RIGHTS_PROPERTY | RIGHT.ENUMERATE | RIGHT.DESTROY |
    RIGHT.SIGNAL | RIGHT.MANAGE_PROCESS | RIGHT.MANAGE_THREAD,
  thread: RIGHTS_BASIC | RIGHTS_IO | RIGHTS_PROPERTY | RIGHT.DESTROY | RIGHT.SIGNAL |
    RIGHT.MANAGE_THREAD,
  vmar: (RIGHTS_BASIC & ~RIGHT.WAIT) | RIGHT.OP_CHILDREN,
  /** ZX_DEFAULT_VMO_RIGHTS; a resizable VMO's handle also gets RESIZE, none gets EXECUTE. */
  vmo: RIGHTS_BASIC | RIGHTS_IO | RIGHTS_PROPERTY | RIGHT.MAP | RIGHT.SIGNAL,
  resource: RIGHT.TRANSFER | RIGHT.DUPLICATE | RIGHT.WRITE | RIGHT.INSPECT,
  suspendToken: RIGHT.TRANSFER | RIGHT.INSPECT,
  /** ZX_DEFAULT_CHANNEL_RIGHTS (0xF00E): no DUPLICATE. */
  channel: (RIGHTS_BASIC & ~RIGHT.DUPLICATE) | RIGHTS_IO | RIGHT.SIGNAL | RIGHT.SIGNAL_PEER,
  /** ZX_DEFAULT_PORT_RIGHTS (0x800F): no WAIT, so a port cannot be waited on. */
  port: (RIGHTS_BASIC & ~RIGHT.WAIT) | RIGHTS_IO,
  /** ZX_DEFAULT_EXCEPTION_RIGHTS: no DUPLICATE (one handler at a time), no WAIT. */
  exception: RIGHT.TRANSFER | RIGHTS_PROPERTY | RIGHT.INSPECT,
  /** ZX_DEFAULT_GUEST_RIGHTS (2023, 0x4800B): WRITE sets traps, MANAGE_THREAD creates VCPUs. */
  guest: RIGHT.TRANSFER | RIGHT.DUPLICATE | RIGHT.WRITE | RIGHT.INSPECT | RIGHT.MANAGE_THREAD,
  /** ZX_DEFAULT_VCPU_RIGHTS (0xD01F): BASIC | IO | EXECUTE | SIGNAL. */
  vcpu: RIGHTS_BASIC | RIGHTS_IO | RIGHT.EXECUTE | RIGHT.SIGNAL,
} as const;

/** Handle::HasRights: every requested bit must be present. */
export function hasRights(have: number, want: number): boolean {
  return ((have & want) >>> 0) === want >>> 0;
}
