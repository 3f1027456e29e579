// zx_guest_create and zx_guest_set_trap: Zircon's checks in its order (2023
// lib/syscalls/hypervisor.cc, object/resource.cc, arch hypervisor guest.cc,
// hypervisor/trap_map.cc).

import { z } from "zod";
import { Guest, GUEST_PHYSICAL_SIZE } from "../guest.ts";
import { Port } from "../port.ts";
import { Resource } from "../resource.ts";
import { DEFAULT_RIGHTS, RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { RSRC_KIND_SYSTEM, RSRC_SYSTEM_HYPERVISOR_BASE } from "../types.ts";
import { type Caller, defineSyscall } from "./define.ts";
import { flags, handle, u64 } from "./params.ts";

/** ZX_RSRC_KIND_ROOT (2023 numbering) stands in for every kind. */
const RSRC_KIND_ROOT = 3;

/**
 * validate_ranged_resource(resource, ZX_RSRC_KIND_SYSTEM,
 * ZX_RSRC_SYSTEM_HYPERVISOR_BASE, 1): no rights are needed; a handle that is
 * not a resource, or a resource of another kind, is WRONG_TYPE; a system
 * resource that does not cover the hypervisor base is OUT_OF_RANGE.
 */
function checkHypervisorResource(caller: Caller, value: number): void {
  const resource = caller.handles.lookupAs(value, Resource, RIGHT.NONE);
  if (resource.kind === RSRC_KIND_ROOT) return;
  if (resource.kind !== RSRC_KIND_SYSTEM) {
    throw new ZxError(ERR.WRONG_TYPE, "resource is not a system resource");
  }
  const base = RSRC_SYSTEM_HYPERVISOR_BASE;
  if (base < resource.base || base + 1 > resource.base + resource.size) {
    throw new ZxError(
      ERR.OUT_OF_RANGE,
      "resource does not grant ZX_RSRC_SYSTEM_HYPERVISOR_BASE",
    );
  }
}

export const guestCreate = defineSyscall({
  name: "guest_create",
  abis: ["zx"],
  summary: "Create a guest (a virtual machine) and its guest-physical address space",
  description: "`resource` must be the kernel's hypervisor resource (bootstrap handle " +
    "`hypervisor_resource`: ZX_RSRC_KIND_SYSTEM with base ZX_RSRC_SYSTEM_HYPERVISOR_BASE; no " +
    "rights needed): another resource kind or a handle that is not a resource is WRONG_TYPE. " +
    "Then `options` (2023: checked after the resource): only 0 (ZX_GUEST_OPT_NORMAL); zxsim " +
    "has no direct-mode guests, so anything else is INVALID_ARGS. `guest_handle` gets " +
    "ZX_DEFAULT_GUEST_RIGHTS (0x4800B: TRANSFER, DUPLICATE, WRITE to set traps, INSPECT, " +
    "MANAGE_THREAD to create VCPUs). `vmar_handle` is the root VMAR of guest-physical memory, " +
    "based at 0 and 2^48 bytes on x64 (2^36 on arm64), with the default VMAR rights plus READ, " +
    "WRITE and EXECUTE: give the guest memory by vmar_map-ping VMOs into it at their " +
    "guest-physical address (vmar_offset) and fill them with vmo_write.",
  params: z.strictObject({
    resource: handle(),
    options: flags("options", "0 (ZX_GUEST_OPT_NORMAL)").default(0),
  }),
  outs: z.object({ guest_handle: handle(), vmar_handle: handle() }),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "OUT_OF_RANGE",
    "INVALID_ARGS",
    "NOT_SUPPORTED",
    "NO_MEMORY",
  ],
  example: (h) => ({ resource: h.hypervisor_resource, options: 0 }),
  errorExample: (h) => ({ resource: h.vmo, options: 0 }),
  c: [
    { kind: "value", name: "resource", type: "u32" },
    { kind: "value", name: "options", type: "u32" },
    { kind: "out_value", name: "guest_handle", type: "u32" },
    { kind: "out_value", name: "vmar_handle", type: "u32" },
  ],
  impl(caller, { resource, options }) {
    checkHypervisorResource(caller, resource);
    if (options !== 0) {
      throw new ZxError(
        ERR.INVALID_ARGS,
        "options must be 0 (ZX_GUEST_OPT_NORMAL): zxsim has no direct-mode guests",
      );
    }
    const kernel = caller.kernel;
    const vcpuArch = kernel.arch.vcpu;
    if (!vcpuArch || GUEST_PHYSICAL_SIZE[kernel.arch.name] === undefined) {
      throw new ZxError(
        ERR.NOT_SUPPORTED,
        `the hypervisor is not supported on ${kernel.arch.name}`,
      );
    }
    caller.handles.reserve(2);
    kernel.reserveObjects(1);
    const guest = kernel.objects.track(
      new Guest(kernel.nextKoid(), kernel.nextKoid(), kernel.arch.name, vcpuArch),
    );
    const root = guest.physical.root;
    return {
      guest_handle: caller.handles.add(guest, DEFAULT_RIGHTS.guest).value,
      vmar_handle: caller.handles.add(root, root.handleRights).value,
    };
  },
});

export const guestSetTrap = defineSyscall({
  name: "guest_set_trap",
  abis: ["zx"],
  summary: "Trap a guest's accesses to a range of guest-physical memory or I/O ports",
  description: "Needs ZX_RIGHT_WRITE on the guest, and on `port_handle` unless it is 0 " +
    "(ZX_HANDLE_INVALID). Kinds: ZX_GUEST_TRAP_BELL (0: a write queues a " +
    "ZX_PKT_TYPE_GUEST_BELL packet on the port and the guest goes on; at most 256 of a trap's " +
    "packets may wait on the port, then the VCPU waits for one to be dequeued; a read of it " +
    "makes vcpu_enter fail with NOT_SUPPORTED), ZX_GUEST_TRAP_MEM (1: the access stops the " +
    "VCPU and vcpu_enter returns a ZX_PKT_TYPE_GUEST_MEM packet) and ZX_GUEST_TRAP_IO (2, x64 " +
    "only: in/out on the ports stop the VCPU with a ZX_PKT_TYPE_GUEST_IO packet). Order, as " +
    "Zircon 2022+: the kind (unknown: INVALID_ARGS; IO on arm64: NOT_SUPPORTED) with its port " +
    "rule (BELL needs a port, MEM and IO take none: INVALID_ARGS); BELL and MEM: addr and size " +
    "page-aligned (INVALID_ARGS), then the range is unmapped from guest-physical memory (a " +
    "size of 0 or a range outside it: INVALID_ARGS, as vmar_unmap); then the range (size 0, " +
    "addr + size overflowing, or IO ports ending past 0xFFFF: OUT_OF_RANGE) and overlap with " +
    "a trap already set (ALREADY_EXISTS; BELL and MEM share one space, IO has its own). The " +
    "unmap is not undone by a later error, as in Zircon.",
  params: z.strictObject({
    handle: handle(),
    kind: flags("kind", "ZX_GUEST_TRAP_BELL, ZX_GUEST_TRAP_MEM or ZX_GUEST_TRAP_IO"),
    addr: u64("the first guest-physical address or I/O port"),
    size: u64("the length in bytes or ports"),
    port_handle: handle().default(0).describe("a port for BELL traps; 0 for MEM and IO"),
    key: u64("the packets' key").default(0n),
  }),
  outs: z.object({}),
  errors: [
    "BAD_HANDLE",
    "WRONG_TYPE",
    "ACCESS_DENIED",
    "INVALID_ARGS",
    "NOT_SUPPORTED",
    "OUT_OF_RANGE",
    "ALREADY_EXISTS",
  ],
  example: (h) => ({
    handle: h.guest,
    kind: "ZX_GUEST_TRAP_MEM",
    addr: "0x10000000",
    size: 4096,
    port_handle: 0,
    key: 7,
  }),
  errorExample: (h) => ({
    handle: h.guest,
    kind: "ZX_GUEST_TRAP_MEM",
    addr: "0x10000000",
    size: 4096,
    port_handle: h.port,
    key: 7,
  }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
    { kind: "value", name: "kind", type: "u32" },
    { kind: "value", name: "addr", type: "u64" },
    { kind: "value", name: "size", type: "u64" },
    { kind: "value", name: "port_handle", type: "u32" },
    { kind: "value", name: "key", type: "u64" },
  ],
  impl(caller, { handle, kind, addr, size, port_handle, key }) {
    const guest = caller.handles.lookupAs(handle, Guest, RIGHT.WRITE);
    const port = port_handle === 0 ? null : caller.handles.lookupAs(port_handle, Port, RIGHT.WRITE);
    guest.setTrap({ kind, addr, size, port, key });
    return {};
  },
});
