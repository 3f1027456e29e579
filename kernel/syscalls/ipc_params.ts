// zod schemas for the IPC syscalls' parameters: handle lists, port packets
// (base64 or named) and channel_call's argument struct, in the style of
// params.ts.

import { z } from "zod";
import { CHANNEL_MAX_MSG_BYTES, CHANNEL_MAX_MSG_HANDLES } from "../channel.ts";
import { constantValue } from "../names.ts";
import { PORT_PACKET_SIZE, USER_ARRAY_NAMES, USER_PACKET, type UserArray } from "../port_packet.ts";
import { bytes, handle, size } from "./params.ts";

/** A zx_handle_t array, as a JSON array of handle values. */
export const handleList = (what: string) => z.array(handle()).describe(what);

const wide = z.union([z.number().int(), z.string()]);

/** A packet given by its fields, as zx_port_packet_t names them. */
const namedPacket = z.strictObject({
  key: wide.optional().describe('uint64 (number or "0x...")'),
  type: z.union([z.number().int().min(0).max(0xffff_ffff), z.string()]).optional()
    .describe("a uint32 or a ZX_PKT_TYPE_* name (port_queue makes it ZX_PKT_TYPE_USER)"),
  status: z.number().int().min(-0x8000_0000).max(0x7fff_ffff).optional()
    .describe("a zx_status_t (int32)"),
  user: z.record(z.string(), z.array(wide)).optional()
    .describe(
      "zx_packet_user_t as one of its arrays: {u64: [...4]}, {u32: [...8]}, " +
        "{u16: [...16]} or {c8: [...32]}",
    ),
}).transform((named, ctx) => {
  const packet = new Uint8Array(PORT_PACKET_SIZE);
  const user = Object.entries(named.user ?? {});
  if (user.length > 1) {
    ctx.addIssue({ code: "custom", message: "user: give one of u64, u32, u16 or c8" });
    return z.NEVER;
  }
  const [array, values] = user[0] ?? ["u64", []];
  if (!USER_ARRAY_NAMES.includes(array as UserArray)) {
    ctx.addIssue({ code: "custom", message: `user: unknown member "${array}"` });
    return z.NEVER;
  }
  let type = named.type;
  if (typeof type === "string") {
    type = constantValue("packet_type", type);
    if (type === undefined) {
      ctx.addIssue({ code: "custom", message: `unknown packet type "${named.type}"` });
      return z.NEVER;
    }
  }
  const error = USER_PACKET[array as UserArray].applyNamed(packet, {
    key: named.key,
    type,
    status: named.status,
    user: { [array]: values },
  });
  if (error) {
    ctx.addIssue({ code: "custom", message: error });
    return z.NEVER;
  }
  return packet;
});

/** A zx_port_packet_t: its 48 bytes as base64, or its fields by name. */
export const portPacket = () =>
  z.union([bytes(), namedPacket]).describe(
    "the 48-byte zx_port_packet_t as base64, or {key, type, status, user: {u64: [...]}}",
  );

/** zx_channel_call_args_t, its pointers given as the data they point to. */
export const callArgs = () =>
  z.strictObject({
    wr_bytes: bytes().optional().describe("the message (base64); its first 4 bytes are the txid"),
    wr_handles: handleList("handles to move into the message").optional(),
    wr_num_bytes: size().optional().describe("defaults to the length of wr_bytes"),
    wr_num_handles: size().optional().describe("defaults to the length of wr_handles"),
    rd_num_bytes: size().default(CHANNEL_MAX_MSG_BYTES)
      .describe("room for the reply's bytes (default ZX_CHANNEL_MAX_MSG_BYTES)"),
    rd_num_handles: size().default(CHANNEL_MAX_MSG_HANDLES)
      .describe("room for the reply's handles (default ZX_CHANNEL_MAX_MSG_HANDLES)"),
  });
