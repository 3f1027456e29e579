// The zx_object_get_info records of the VM objects (2022-2023 layouts from
// zircon/syscalls/object.h): ZX_INFO_VMO (zx_info_vmo_t, 120 bytes),
// ZX_INFO_VMAR (zx_info_vmar_t) and ZX_INFO_PROCESS_MAPS (zx_info_maps_t,
// 96 bytes each).

import { PAGE_SIZE } from "../../arch/cpu.ts";
import { array, nested, padding, scalar, struct, type StructLayout } from "../../arch/layout.ts";
import { MAX_NAME_LEN } from "../types.ts";
import { Vmar } from "../vmar.ts";
import type { Vmo } from "../vmo.ts";
import type { ProcessAddressSpace } from "./address_space.ts";
import type { Mapping } from "./mapping.ts";

export const INFO_VMAR = struct("zx_info_vmar_t", 16, [
  scalar("base", 0, "u64"),
  scalar("len", 8, "u64"),
]);

export const INFO_VMO = struct("zx_info_vmo_t", 120, [
  scalar("koid", 0, "u64"),
  array("name", 8, "u8", MAX_NAME_LEN),
  scalar("size_bytes", 40, "u64"),
  scalar("parent_koid", 48, "u64"),
  scalar("num_children", 56, "u64"),
  scalar("num_mappings", 64, "u64"),
  scalar("share_count", 72, "u64"),
  scalar("flags", 80, "u32"),
  padding("padding1", 84, 4),
  scalar("committed_bytes", 88, "u64"),
  scalar("handle_rights", 96, "u32"),
  scalar("cache_policy", 100, "u32"),
  scalar("metadata_bytes", 104, "u64"),
  scalar("committed_change_events", 112, "u64"),
]);

const INFO_MAPS_MAPPING = struct("zx_info_maps_mapping_t", 32, [
  scalar("mmu_flags", 0, "u32"),
  padding("padding1", 4, 4),
  scalar("vmo_koid", 8, "u64"),
  scalar("vmo_offset", 16, "u64"),
  scalar("committed_pages", 24, "u64"),
]);

export const INFO_MAPS = struct("zx_info_maps_t", 96, [
  array("name", 0, "u8", MAX_NAME_LEN),
  scalar("base", 32, "u64"),
  scalar("size", 40, "u64"),
  scalar("depth", 48, "u64"),
  scalar("type", 56, "u32"),
  padding("padding1", 60, 4),
  nested("u", 64, struct("zx_info_maps_u", 32, [nested("mapping", 0, INFO_MAPS_MAPPING)])),
]);

/** zx_info_maps_t.type. */
export const INFO_MAPS_TYPE = { NONE: 0, ASPACE: 1, VMAR: 2, MAPPING: 3 } as const;

/** zx_info_vmo_t.flags. */
export const INFO_VMO_FLAG = {
  TYPE_PAGED: 1 << 0,
  RESIZABLE: 1 << 1,
  VIA_HANDLE: 1 << 3,
  DISCARDABLE: 1 << 7,
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encode(layout: StructLayout, values: Record<string, unknown>): Uint8Array {
  const bytes = new Uint8Array(layout.size);
  const error = layout.applyNamed(bytes, values);
  if (error) throw new Error(`encoding ${layout.name}: ${error}`);
  return bytes;
}

/** A C name field: at most 31 bytes and a NUL. */
function nameField(name: string | Uint8Array): number[] {
  const bytes = typeof name === "string" ? encoder.encode(name) : name;
  return [...bytes.subarray(0, MAX_NAME_LEN - 1)];
}

/** The named view of a record; a `name` char array becomes a string. */
export function namedRecord(layout: StructLayout, bytes: Uint8Array): Record<string, unknown> {
  const named = layout.toNamed(bytes);
  const at = layout.field("name[0]")?.offset;
  if (at === undefined) return named;
  const raw = bytes.subarray(at, at + MAX_NAME_LEN);
  const end = raw.indexOf(0);
  return { ...named, name: decoder.decode(raw.subarray(0, end < 0 ? raw.length : end)) };
}

/** VmObject::share_count: 1 below two mappings, else the number of address spaces. */
function shareCount(vmo: Vmo): number {
  if (vmo.mappings.size < 2) return 1;
  return new Set([...vmo.mappings].map((m) => m.parent.aspace)).size;
}

/** GetVmoInfo for a handle with `rights`. */
export function vmoInfo(vmo: Vmo, rights: number): Uint8Array {
  let flags = INFO_VMO_FLAG.TYPE_PAGED | INFO_VMO_FLAG.VIA_HANDLE;
  if (vmo.resizable) flags |= INFO_VMO_FLAG.RESIZABLE;
  if (vmo.discardable) flags |= INFO_VMO_FLAG.DISCARDABLE;
  return encode(INFO_VMO, {
    koid: vmo.koid,
    name: nameField(vmo.nameBytes()),
    size_bytes: vmo.size,
    num_mappings: vmo.mappings.size,
    share_count: shareCount(vmo),
    flags,
    committed_bytes: vmo.committedPages * PAGE_SIZE,
    handle_rights: rights,
  });
}

export function vmarInfo(vmar: Vmar): Uint8Array {
  return encode(INFO_VMAR, { base: vmar.base, len: vmar.size });
}

function committedIn(mapping: Mapping, base: number, size: number): number {
  return mapping.vmo.committedInRange(mapping.vmoPageAt(base), size / PAGE_SIZE);
}

/**
 * Every ZX_INFO_PROCESS_MAPS record in order: the address space (depth 0),
 * then depth-first by address the VMARs and, for each mapping, one record per
 * run of pages with the same protection.
 */
export function processMaps(aspace: ProcessAddressSpace): Uint8Array[] {
  const records = [encode(INFO_MAPS, {
    name: nameField(aspace.name),
    base: aspace.root.base,
    size: aspace.root.size,
    depth: 0,
    type: INFO_MAPS_TYPE.ASPACE,
  })];
  const visit = (vmar: Vmar, depth: number) => {
    records.push(encode(INFO_MAPS, {
      name: nameField(vmar.label),
      base: vmar.base,
      size: vmar.size,
      depth,
      type: INFO_MAPS_TYPE.VMAR,
    }));
    for (const child of vmar.children) {
      if (child instanceof Vmar) {
        visit(child, depth + 1);
        continue;
      }
      for (const range of child.protections()) {
        records.push(encode(INFO_MAPS, {
          name: nameField(child.vmo.nameBytes()),
          base: range.base,
          size: range.size,
          depth: depth + 1,
          type: INFO_MAPS_TYPE.MAPPING,
          u: {
            mapping: {
              mmu_flags: range.perms,
              vmo_koid: child.vmo.koid,
              vmo_offset: BigInt(child.vmoPageAt(range.base)) * BigInt(PAGE_SIZE),
              committed_pages: committedIn(child, range.base, range.size),
            },
          },
        }));
      }
    }
  };
  if (!aspace.destroyed) visit(aspace.root, 1);
  return records;
}
