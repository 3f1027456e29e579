// zx_handle_close, zx_handle_close_many, zx_handle_duplicate, zx_handle_replace.

import { z } from "zod";
import { badHandle, requireRights } from "../handle_table.ts";
import { hasRights, RIGHT } from "../rights.ts";
import { ERR, ZxError } from "../status.ts";
import { defineSyscall } from "./define.ts";
import { flags, handle, size } from "./params.ts";

/** zx_handle_close_many copies the array in chunks of this many handles. */
const CLOSE_MANY_CHUNK = 64;

export const handleClose = defineSyscall({
  name: "handle_close",
  abis: ["zx", "mx"],
  summary: "Close a handle",
  description: "Closing ZX_HANDLE_INVALID (0) succeeds and does nothing. No rights are needed. " +
    "Closing the last handle to a suspend token resumes its task.",
  params: z.strictObject({ handle: handle() }),
  outs: z.object({}),
  errors: ["BAD_HANDLE"],
  example: (h) => ({ handle: h.suspend_token }),
  c: [
    { kind: "value", name: "handle", type: "u32" },
  ],
  impl(caller, { handle }) {
    if (handle === 0) return {};
    if (!caller.handles.remove(handle)) throw badHandle(handle);
    return {};
  },
});

export const handleCloseMany = defineSyscall({
  name: "handle_close_many",
  abis: ["zx", "mx"],
  summary: "Close a list of handles",
  description: "ZX_HANDLE_INVALID entries are skipped. Every valid handle is closed even when " +
    "another entry is bad; the call then reports BAD_HANDLE. As in Zircon the array is " +
    "processed in chunks of 64 and the status of the last chunk is the one returned.",
  params: z.strictObject({
    handles: z.array(handle()),
    num_handles: size().optional().describe("defaults to the length of `handles`"),
  }),
  outs: z.object({}),
  errors: ["BAD_HANDLE", "INVALID_ARGS"],
  example: (h) => ({ handles: [h.suspend_token, h.new_thread] }),
  errorExample: (h) => ({ handles: [h.new_thread, h.closed] }),
  c: [
    { kind: "in", name: "handles", size: "num_handles", elements: "u32" },
    { kind: "value", name: "num_handles", type: "usize" },
  ],
  impl(caller, { handles, num_handles = handles.length }) {
    let failed = -1;
    for (let start = 0; start < num_handles; start += CLOSE_MANY_CHUNK) {
      const end = Math.min(start + CLOSE_MANY_CHUNK, num_handles);
      if (end > handles.length) {
        throw new ZxError(
          ERR.INVALID_ARGS,
          `handles is an invalid pointer: num_handles is ${num_handles} but only ` +
            `${handles.length} values were sent`,
        );
      }
      failed = -1;
      for (let i = start; i < end; i++) {
        if (handles[i] !== 0 && !caller.handles.remove(handles[i])) failed = handles[i];
      }
    }
    if (failed !== -1) throw badHandle(failed);
    return {};
  },
});

function duplicateOrReplace(replace: boolean) {
  return defineSyscall({
    name: replace ? "handle_replace" : "handle_duplicate",
    abis: ["zx", "mx"],
    summary: replace
      ? "Replace a handle with a new one with the same or fewer rights"
      : "Duplicate a handle with the same or fewer rights",
    description: replace
      ? "No rights are needed. The source handle is closed, also when the requested rights " +
        "are not a subset of its rights (INVALID_ARGS)."
      : "The source handle needs ZX_RIGHT_DUPLICATE. ZX_RIGHT_SAME_RIGHTS keeps its rights.",
    params: z.strictObject({
      handle: handle(),
      rights: flags("rights", "the new handle's rights"),
    }),
    outs: z.object({ out: handle() }),
    errors: replace
      ? ["BAD_HANDLE", "INVALID_ARGS"]
      : ["BAD_HANDLE", "ACCESS_DENIED", "INVALID_ARGS"],
    example: (h) => ({ handle: h.worker, rights: ["ZX_RIGHT_READ", "ZX_RIGHT_WAIT"] }),
    c: [
      { kind: "value", name: "handle", type: "u32" },
      { kind: "value", name: "rights", type: "u32" },
      { kind: "out_value", name: "out", type: "u32" },
    ],
    impl(caller, { handle, rights }) {
      const source = caller.handles.lookup(handle);
      if (!replace) requireRights(source, RIGHT.DUPLICATE);
      const newRights = rights === RIGHT.SAME_RIGHTS ? source.rights : rights;
      if (!hasRights(source.rights, newRights)) {
        if (replace) caller.handles.remove(handle);
        throw new ZxError(
          ERR.INVALID_ARGS,
          `rights 0x${newRights.toString(16)} are not a subset of the handle's rights ` +
            `0x${source.rights.toString(16)}${replace ? " (the source handle was closed)" : ""}`,
        );
      }
      caller.handles.reserve(1);
      const out = caller.handles.add(source.object, newRights);
      if (replace) caller.handles.remove(handle);
      return { out: out.value };
    },
  });
}

export const handleDuplicate = duplicateOrReplace(false);
export const handleReplace = duplicateOrReplace(true);
