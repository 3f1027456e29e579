// Cost of the register-write hot path: x64 GENERAL_REGS on /v1/zx.
// Run: deno bench bench/arch.bench.ts

import { x64 } from "../arch/x64/x64.ts";
import { arm64 } from "../arch/arm64/arm64.ts";

const ctx = { stoppedInSyscall: false };

// A valid 160-byte x64 general-regs image: byte pattern, canonical rip/fs/gs.
const x64Input = new Uint8Array(160);
for (let i = 0; i < x64Input.length; i++) x64Input[i] = i + 1;
const x64View = new DataView(x64Input.buffer);
x64View.setBigUint64(128, 0x401000n, true); // rip
x64View.setBigUint64(136, 0x244ed7n, true); // rflags
x64View.setBigUint64(144, 0n, true); // fs_base
x64View.setBigUint64(152, 0n, true); // gs_base
const x64Regs = x64.newRegisters();
const x64Out = new Uint8Array(160);

Deno.bench("x64 write GENERAL_REGS (zx)", { baseline: true }, () => {
  x64Regs.write("zx", 0, x64Input, ctx);
});

Deno.bench("x64 read GENERAL_REGS (zx)", () => {
  x64Regs.read("zx", 0, x64Out);
});

const arm64Input = new Uint8Array(280);
for (let i = 0; i < arm64Input.length; i++) arm64Input[i] = i + 1;
const arm64Regs = arm64.newRegisters();

Deno.bench("arm64 write GENERAL_REGS (zx)", () => {
  arm64Regs.write("zx", 0, arm64Input, ctx);
});

// The same write from a view into a larger request body (extra bytes ignored).
const x64Body = new Uint8Array(4096);
x64Body.set(x64Input, 0);

Deno.bench("x64 write GENERAL_REGS (zx, 4096-byte input)", () => {
  x64Regs.write("zx", 0, x64Body, ctx);
});

// A rejected write (rip in the kernel half): the error path.
const x64Bad = x64Input.slice();
new DataView(x64Bad.buffer).setBigUint64(128, 0xffffff8000000000n, true);

Deno.bench("x64 write GENERAL_REGS (zx, rejected)", () => {
  x64Regs.write("zx", 0, x64Bad, ctx);
});
