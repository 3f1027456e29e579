// x86-64 vDSO entry points. Code calls a syscall like a C function (SysV:
// rdi, rsi, rdx, rcx, r8, r9, then the stack); the kernel takes arguments in
// rdi, rsi, rdx, r10, r8, r9, r12, r13 and the number in eax, because the
// `syscall` instruction itself overwrites rcx (return rip) and r11 (rflags).

import type { VdsoStub } from "../arch.ts";

const MOV_R10_RCX = [0x49, 0x89, 0xca];
const SYSCALL = [0x0f, 0x05];
const RET = [0xc3];
// Arguments 7 and 8 are at 8(%rsp) and 16(%rsp) on entry; after pushing
// r12 and r13 (callee-saved in SysV) they are at 24(%rsp) and 32(%rsp).
const SAVE_AND_LOAD_STACK_ARGS = [
  0x41,
  0x54, // push %r12
  0x41,
  0x55, // push %r13
  0x4c,
  0x8b,
  0x64,
  0x24,
  0x18, // mov 0x18(%rsp), %r12
  0x4c,
  0x8b,
  0x6c,
  0x24,
  0x20, // mov 0x20(%rsp), %r13
];
const RESTORE = [
  0x41,
  0x5d, // pop %r13
  0x41,
  0x5c, // pop %r12
];

function movEax(n: number): number[] {
  return [0xb8, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

export function x64VdsoStub(number: number, stackArgs: boolean): VdsoStub {
  const head = [...(stackArgs ? SAVE_AND_LOAD_STACK_ARGS : []), ...MOV_R10_RCX, ...movEax(number)];
  const code = [...head, ...SYSCALL, ...(stackArgs ? RESTORE : []), ...RET];
  return { code: Uint8Array.from(code), syscallAt: head.length };
}

/** int3: a stray jump into the vDSO's padding stops with a breakpoint. */
export const X64_TRAP_FILL = Uint8Array.of(0xcc);
