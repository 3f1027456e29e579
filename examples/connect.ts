// Shared by the examples: the server to talk to (ZXSIM_URL, default the
// address `deno task start` serves on), a clear word when it is not up, and
// code for the examples' threads to run.

import { type KernelSession, ZxsimClient } from "../client/zxsim.ts";

/** Runs an example against the server; exits 1 with a hint if there is none. */
export async function runExample(example: (client: ZxsimClient) => Promise<void>) {
  const url = Deno.env.get("ZXSIM_URL") ?? "http://127.0.0.1:8000";
  try {
    await example(new ZxsimClient(url));
  } catch (error) {
    // fetch rejects with a TypeError when nothing listens there.
    if (!(error instanceof TypeError)) throw error;
    console.error(
      `no zxsim server at ${url} (${error.message}): start one with \`deno task start\`, ` +
        "or set ZXSIM_URL",
    );
    Deno.exit(1);
  }
}

/** Where the examples start their threads, and the top of their stacks. */
export const ENTRY = "0x1000000";
export const STACK = "0x2000000";

const PAGE = 4096;
const STACK_SIZE = 64 * 1024;
/** A process's root VMAR begins here; vmar_map offsets count from it. */
const ROOT_VMAR_BASE = 0x200000n;

/** An instruction that jumps to itself: x64 `jmp .` (EB FE), arm64 `b .` (00 00 00 14). */
const SPIN: Record<string, number[]> = { x64: [0xeb, 0xfe], arm64: [0x00, 0x00, 0x00, 0x14] };

/** The vmar_map offset of `address` in a root VMAR, as a "0x…" string. */
const offsetOf = (address: bigint) => `0x${(address - ROOT_VMAR_BASE).toString(16)}`;

/**
 * Threads execute their code, and one started where nothing is mapped
 * faults at once, which kills its process (here the client's own). So map
 * code first: a page of spin loops at ENTRY (every instruction slot jumps to
 * itself, so a thread spins wherever in the page its pc is set) and a 64 KiB
 * stack that ends at STACK, in the bootstrap process of `k`.
 */
export async function mapSpinCode(k: KernelSession): Promise<void> {
  const vmar = k.handles!.vmar;
  const spin = SPIN[k.arch];
  const page = Uint8Array.from({ length: PAGE }, (_, i) => spin[i % spin.length]);
  const { out: vmo } = await k.zx.vmo_create({ size: PAGE });
  await k.zx.vmo_write({ handle: vmo, buffer: page.toBase64(), offset: 0 });
  const { out: code } = await k.zx.vmo_replace_as_executable({ handle: vmo, vmex: 0 });
  await k.zx.vmar_map({
    handle: vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_EXECUTE", "ZX_VM_SPECIFIC"],
    vmar_offset: offsetOf(BigInt(ENTRY)),
    vmo: code,
    vmo_offset: 0,
    len: PAGE,
  });
  const { out: stack } = await k.zx.vmo_create({ size: STACK_SIZE });
  await k.zx.vmar_map({
    handle: vmar,
    options: ["ZX_VM_PERM_READ", "ZX_VM_PERM_WRITE", "ZX_VM_SPECIFIC"],
    vmar_offset: offsetOf(BigInt(STACK) - BigInt(STACK_SIZE)),
    vmo: stack,
    vmo_offset: 0,
    len: STACK_SIZE,
  });
  // The mappings keep the VMOs alive.
  await k.zx.handle_close_many({ handles: [code, stack] });
}
