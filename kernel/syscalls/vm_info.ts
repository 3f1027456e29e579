// The zx_object_get_info topics of the VM objects: ZX_INFO_VMAR (needs
// ZX_RIGHT_INSPECT), ZX_INFO_VMO (any VMO handle; reports its rights) and
// ZX_INFO_PROCESS_MAPS (ZX_RIGHT_INSPECT on a process; many records).

import type { StructLayout } from "../../arch/layout.ts";
import { Process } from "../process.ts";
import { RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { INFO } from "../types.ts";
import {
  INFO_MAPS,
  INFO_VMAR,
  INFO_VMO,
  namedRecord,
  processMaps,
  vmarInfo,
  vmoInfo,
} from "../vm/info.ts";
import { Vmar } from "../vmar.ts";
import { Vmo } from "../vmo.ts";
import type { Caller, Outs } from "./define.ts";

/** The topics this file answers. */
export const VM_INFO_TOPICS: ReadonlySet<number> = new Set([
  INFO.VMAR,
  INFO.VMO,
  INFO.PROCESS_MAPS,
]);

/** single_record_result, with the record's named view. */
function single(layout: StructLayout, bufferSize: number | undefined, record: () => Uint8Array) {
  if ((bufferSize ?? layout.size) < layout.size) {
    throw new ZxError(
      ERR.BUFFER_TOO_SMALL,
      `buffer_size ${bufferSize} is smaller than ${layout.name} (${layout.size} bytes)`,
      { actual: 0, avail: 1 },
    );
  }
  const buffer = record();
  return { buffer, actual: 1, avail: 1, info: namedRecord(layout, buffer) };
}

/**
 * ZX_INFO_PROCESS_MAPS: as many whole records as fit in `bufferSize` (all
 * of them when it is not given), `actual` of them written, `avail` in all.
 * A dead process (its address space destroyed) is BAD_STATE, with 0 and 0.
 */
function maps(process: Process, bufferSize: number | undefined): Outs {
  if (process.aspace.destroyed) {
    throw new ZxError(ERR.BAD_STATE, `process ${process.koid} has no address space left`, {
      actual: 0,
      avail: 0,
    });
  }
  const all = processMaps(process.aspace);
  const fit = Math.min(all.length, Math.floor((bufferSize ?? Infinity) / INFO_MAPS.size));
  const kept = all.slice(0, fit);
  const buffer = new Uint8Array(fit * INFO_MAPS.size);
  kept.forEach((record, i) => buffer.set(record, i * INFO_MAPS.size));
  return {
    buffer,
    actual: fit,
    avail: all.length,
    records: kept.map((record) => namedRecord(INFO_MAPS, record)),
  };
}

/** object_get_info for a VM topic (one of VM_INFO_TOPICS), after the topic check. */
export function vmInfo(
  caller: Caller,
  handle: number,
  topic: number,
  bufferSize: number | undefined,
): Outs {
  switch (topic) {
    case INFO.VMAR: {
      const vmar = caller.handles.lookupAs(handle, Vmar, RIGHT.INSPECT);
      return single(INFO_VMAR, bufferSize, () => vmarInfo(vmar));
    }
    case INFO.VMO: {
      const vmo = caller.handles.lookupAs(handle, Vmo, RIGHT.NONE);
      const rights = caller.handles.get(handle)!.rights;
      return single(INFO_VMO, bufferSize, () => vmoInfo(vmo, rights));
    }
    default:
      return maps(caller.handles.lookupAs(handle, Process, RIGHT.INSPECT), bufferSize);
  }
}
