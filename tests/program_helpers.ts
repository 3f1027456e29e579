// Running the programs of tests/fixtures/programs through HTTP: load one with
// the client's loader, wait for its process to end, read what it printed.

import assert from "node:assert/strict";
import { type LoadedProgram, loadElf, type LoadOptions } from "../client/loader.ts";
import { ZxsimClient } from "../client/zxsim.ts";
import type { KernelSession } from "../client/zxsim.ts";
import { createApp } from "../routes/app.ts";

export const PROGRAMS = new URL("./fixtures/programs/", import.meta.url);

export function programBytes(arch: string, name: string): Uint8Array {
  return Deno.readFileSync(new URL(`${arch}/${name}.elf`, PROGRAMS));
}

/** A typed client over an in-process app (no network), and a kernel of `arch`. */
export async function session(
  arch: string,
  bootOptions: { scheduler?: "free" | "manual" } = {},
): Promise<KernelSession> {
  const { app } = createApp();
  const client = new ZxsimClient(
    "http://zxsim",
    async (input, init) => await app.request(input, init),
  );
  return await client.createKernel({ arch: arch as "x64" | "arm64", boot_options: bootOptions });
}

export async function load(
  k: KernelSession,
  name: string,
  options: LoadOptions = {},
): Promise<LoadedProgram> {
  return await loadElf(k, programBytes(k.arch, name), { name, ...options });
}

/** Waits (up to 20 s) for `handle`'s task to terminate. */
export async function terminated(k: KernelSession, handle: number): Promise<void> {
  const deadline = (await k.zx.clock_get_monotonic()).time;
  const reply = await k.zx.object_wait_one({
    handle,
    signals: ["ZX_TASK_TERMINATED"],
    deadline: `0x${(BigInt(deadline) + 20_000_000_000n).toString(16)}`,
  });
  assert.ok(reply.observed & (1 << 3), "the task terminated");
}

/** ZX_INFO_PROCESS return_code as a signed number. */
export async function returnCode(k: KernelSession, process: number): Promise<number> {
  const { info } = await k.zx.object_get_info({ handle: process, topic: "ZX_INFO_PROCESS" });
  return Number(BigInt.asIntN(64, BigInt((info as { return_code: string }).return_code)));
}

/** Runs a program to its end: what it printed and its return code. */
export async function run(
  k: KernelSession,
  name: string,
): Promise<{ text: string; code: number; program: LoadedProgram }> {
  const program = await load(k, name);
  await terminated(k, program.process);
  return {
    text: (await k.debuglog()).text,
    code: await returnCode(k, program.process),
    program,
  };
}

/** The address of symbol `name` in an ELF64 file (its .symtab), from its section headers. */
export function symbol(bytes: Uint8Array, name: string): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      type: view.getUint32(at + 4, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
      link: view.getUint32(at + 0x28, true),
    };
  };
  const SHT_SYMTAB = 2;
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB) continue;
    const strtab = section(symtab.link);
    for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 24) {
      const nameAt = strtab.offset + view.getUint32(at, true);
      const end = bytes.indexOf(0, nameAt);
      if (new TextDecoder().decode(bytes.subarray(nameAt, end)) === name) {
        return view.getBigUint64(at + 8, true);
      }
    }
  }
  throw new Error(`no symbol ${name}`);
}
