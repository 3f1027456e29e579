// Small pieces every route shares: reading a JSON body within the size
// limit, turning zod issues into one readable message, building replies.

import type { z } from "zod";
import type { Abi } from "../arch/arch.ts";
import { ERR } from "../kernel/status.ts";
import { errorBody, httpStatusFor } from "./abi.ts";

export const BODY_LIMIT = 1024 * 1024;

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

export function jsonResponse(body: string, status = 200): Response {
  return new Response(body, { status, headers: JSON_HEADERS });
}

export function errorResponse(
  abi: Abi,
  code: number,
  message: string,
  http = httpStatusFor(code),
  outs?: Readonly<Record<string, unknown>>,
): Response {
  return jsonResponse(errorBody(abi, code, message, outs), http);
}

/** A request that failed before reaching the kernel. */
export class RequestError extends Error {
  constructor(readonly http: number, readonly code: number, message: string) {
    super(message);
  }
}

/** The reply to an error no route answered: a RequestError's own, anything else a logged 500. */
export function uncaughtErrorResponse(error: unknown): Response {
  if (error instanceof RequestError) {
    return errorResponse("zx", error.code, error.message, error.http);
  }
  // A bug in zxsim, not in the request: say so without leaking a stack trace.
  console.error(error);
  return errorResponse("zx", ERR.INTERNAL, "internal error in zxsim (logged on the server)", 500);
}

/** How long a request's body may take to arrive by default: 10 s. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

let bodyTimeoutMs = DEFAULT_BODY_TIMEOUT_MS;

/**
 * Bodies still arriving, each with the watchdog tick it started at and how
 * to fail it. One unref'd interval (a quarter of the limit) counts ticks and
 * fails the bodies 4 ticks old: between the limit and 1.25 times the limit
 * after they started. (A timer per request would cost the hot path more.)
 */
const pendingBodies = new Set<PendingBody>();
let watchdog: ReturnType<typeof setInterval> | undefined;
let tick = 0;
const TICKS_PER_LIMIT = 4;

class PendingBody {
  readonly start = tick;
  constructor(
    readonly request: Request,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** Sets the body time limit (ZXSIM_BODY_TIMEOUT_MS; 0: none) for every later request. */
export function setBodyTimeout(ms: number): void {
  bodyTimeoutMs = ms;
  if (watchdog !== undefined) clearInterval(watchdog);
  watchdog = undefined;
}

function startWatchdog(): void {
  const timer = setInterval(() => {
    tick++;
    for (const body of pendingBodies) {
      if (tick - body.start < TICKS_PER_LIMIT) continue;
      pendingBodies.delete(body);
      body.reject(timedOut());
      // Stop reading if the stream allows it; the connection is closed after the 408.
      body.request.body?.cancel().catch(() => {});
    }
  }, Math.max(5, Math.ceil(bodyTimeoutMs / TICKS_PER_LIMIT)));
  Deno.unrefTimer(timer);
  watchdog = timer;
}

/**
 * The JSON body ({} when empty), or a RequestError for 413 / malformed JSON,
 * or 408 when it has not all arrived within the body time limit.
 */
export function readJson(request: Request): Promise<unknown> {
  const length = request.headers.get("content-length");
  if (length !== null) {
    if (Number(length) > BODY_LIMIT) return Promise.reject(tooLarge());
    if (length === "0") return Promise.resolve({});
  }
  if (bodyTimeoutMs === 0) return readBody(request, length);
  if (watchdog === undefined) startWatchdog();
  return new Promise((resolve, reject) => {
    const body = new PendingBody(request, resolve, reject);
    pendingBodies.add(body);
    readBody(request, length).then(settled(body, resolve), settled(body, reject));
  });
}

function settled(body: PendingBody, then: (value: unknown) => void): (value: unknown) => void {
  return (value) => {
    pendingBodies.delete(body);
    then(value);
  };
}

async function readBody(request: Request, length: string | null): Promise<unknown> {
  if (length === null) return parseJson(await readChunked(request));
  // Request.json() is measurably faster than text() + JSON.parse in Deno.
  try {
    return await request.json();
  } catch (error) {
    throw malformed(error);
  }
}

/** A body without Content-Length, read as text but never past the limit. */
async function readChunked(request: Request): Promise<string> {
  if (!request.body) return "";
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw tooLarge();
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw malformed(error);
  }
}

function malformed(error: unknown): RequestError {
  return new RequestError(
    400,
    ERR.INVALID_ARGS,
    `the body is not valid JSON: ${(error as Error).message}`,
  );
}

function timedOut(): RequestError {
  return new RequestError(
    408,
    ERR.TIMED_OUT,
    `the body did not arrive within ${bodyTimeoutMs} ms (ZXSIM_BODY_TIMEOUT_MS)`,
  );
}

function tooLarge(): RequestError {
  return new RequestError(413, ERR.OUT_OF_RANGE, `the body is larger than ${BODY_LIMIT} bytes`);
}

/** Validates `body` with `schema`, or a RequestError naming the first bad field. */
export function parseWith<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.length ? issue.path.join(".") : "body";
  const message = issue.code === "unrecognized_keys"
    ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
    : issue.message;
  throw new RequestError(400, ERR.INVALID_ARGS, `${field}: ${message}`);
}

/** The bearer token of a request, if any. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (!header || header.length < 8 || header.slice(0, 7).toLowerCase() !== "bearer ") {
    return undefined;
  }
  return header.slice(7).trim() || undefined;
}

// ---------------------------------------------------------------------------
// Header time limit (opt-in: ZXSIM_HEADER_TIMEOUT_MS)

/** Bytes of header a connection may send before its first request's header ends. */
const HEADER_LIMIT = 64 * 1024;
const CRLFCRLF = [13, 10, 13, 10];

/**
 * Deno.serve has no time limit on reading a request's header (denoland/deno
 * #3515), and node:http's headersTimeout is not honoured by Deno's node
 * compat layer: a client that sends half a header holds its connection
 * forever. This front accepts the connections itself, closes any whose first
 * request's header has not ended within `headerTimeoutMs` (or is over 64
 * KiB), and pipes the others, bytes unchanged, to `handler` served by
 * Deno.serve on a loopback port of its own. Later requests on a kept-alive
 * connection are not parsed, so a half header there is caught by silence
 * instead: nothing moving either way for `idleMs` (longer than any call may
 * block) closes both sides; one sweep checks every piped connection. It
 * costs CPU on every request (each byte crosses two sockets), so main.ts
 * turns it on by default only off loopback.
 */
export async function serveWithHeaderTimeout(
  options: { hostname: string; port: number; onListen?: (addr: Deno.NetAddr) => void },
  handler: Deno.ServeHandler<Deno.NetAddr>,
  headerTimeoutMs: number,
  idleMs: number,
): Promise<void> {
  const backend = await new Promise<Deno.NetAddr>((resolve) => {
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: resolve }, handler);
  });
  const piped = new Set<Piped>();
  setInterval(() => {
    const now = performance.now();
    for (const connection of piped) {
      if (now - connection.lastActive < idleMs) continue;
      piped.delete(connection);
      closeQuietly(...connection.sides);
    }
  }, Math.max(10, Math.min(idleMs / 4, 1000)));
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  options.onListen?.(listener.addr);
  for await (const conn of listener) {
    frontConnection(conn, backend, headerTimeoutMs, piped).catch(() => {});
  }
}

/** A connection being piped, and when a byte last moved on it. */
interface Piped {
  lastActive: number;
  readonly sides: readonly Deno.Conn[];
}

function closeQuietly(...sides: Deno.Conn[]): void {
  for (const side of sides) {
    try {
      side.close();
    } catch {
      // already closed
    }
  }
}

async function frontConnection(
  conn: Deno.TcpConn,
  backend: Deno.NetAddr,
  headerTimeoutMs: number,
  piped: Set<Piped>,
): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), headerTimeoutMs);
  const head: Uint8Array[] = [];
  let size = 0;
  let matched = 0; // bytes of CRLFCRLF seen in a row
  try {
    const buffer = new Uint8Array(16 * 1024);
    for (let ended = false; !ended;) {
      const n = await conn.read(buffer);
      if (n === null || size + n > HEADER_LIMIT) throw new Error("no header");
      for (let i = 0; i < n && !ended; i++) {
        const byte = buffer[i];
        matched = byte === CRLFCRLF[matched] ? matched + 1 : byte === 13 ? 1 : 0;
        ended = matched === 4;
      }
      head.push(buffer.slice(0, n));
      size += n;
    }
  } catch {
    clearTimeout(timer);
    closeQuietly(conn);
    return;
  }
  clearTimeout(timer);
  conn.setNoDelay(true);
  const upstream = await Deno.connect({ hostname: backend.hostname, port: backend.port });
  upstream.setNoDelay(true);
  const connection: Piped = { lastActive: performance.now(), sides: [conn, upstream] };
  const active = () => connection.lastActive = performance.now();
  piped.add(connection);
  try {
    for (const chunk of head) await upstream.write(chunk);
    // Plain read/write loops: several times cheaper than pipeTo between the streams.
    // The client's end of input is passed on; the connection ends when the server's side does.
    pump(conn, upstream, active).then(() => upstream.closeWrite()).catch(() => {});
    await pump(upstream, conn, active);
  } catch {
    // either side went away: close both below
  } finally {
    piped.delete(connection);
    closeQuietly(conn, upstream);
  }
}

/** Copies `from` to `to` until `from` ends, calling `active` for every chunk. */
async function pump(from: Deno.Conn, to: Deno.Conn, active: () => void): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (let n; (n = await from.read(buffer)) !== null;) {
    active();
    for (let at = 0; at < n;) at += await to.write(buffer.subarray(at, n));
  }
}

/**
 * The header time limit when ZXSIM_HEADER_TIMEOUT_MS is not set: on for a
 * server reachable from other machines (where slow clients are a threat and
 * the front's CPU is worth paying), off on loopback, where only the user's
 * own programs connect.
 */
export function defaultHeaderTimeoutMs(hostname: string): number {
  const loopback = hostname === "localhost" || hostname === "::1" || hostname === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname);
  return loopback ? 0 : DEFAULT_HEADER_TIMEOUT_MS;
}

export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
