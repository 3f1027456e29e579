// Every syscall zxsim implements. Adding one is one entry here.

import type { Abi } from "../../arch/arch.ts";
import type { Syscall } from "./define.ts";
import { debugWrite, nanosleep } from "./debug.ts";
import {
  exceptionGetProcess,
  exceptionGetThread,
  taskCreateExceptionChannel,
} from "./exception.ts";
import { processExit, processStart, threadExit } from "./lifecycle.ts";
import { handleClose, handleCloseMany, handleDuplicate, handleReplace } from "./handle.ts";
import {
  clockGetMonotonic,
  objectGetInfo,
  objectGetProperty,
  objectSetProperty,
  objectWaitOne,
} from "./object.ts";
import {
  jobCreate,
  processCreate,
  taskKill,
  taskSuspend,
  taskSuspendToken,
  threadCreate,
  threadStart,
} from "./task.ts";
import {
  mxThreadReadState,
  mxThreadWriteState,
  threadReadState,
  threadWriteState,
} from "./thread_state.ts";
import { vmarAllocate, vmarDestroy, vmarMap, vmarProtect, vmarUnmap } from "./vmar.ts";
import {
  vmoCreate,
  vmoGetSize,
  vmoRead,
  vmoReplaceAsExecutable,
  vmoSetSize,
  vmoWrite,
} from "./vmo.ts";
import { processReadMemory, processWriteMemory } from "./process_memory.ts";
import { channelCreate, channelRead, channelWrite } from "./channel.ts";
import { channelCall } from "./channel_call.ts";
import { objectWaitAsync, portCancel, portCreate, portQueue, portWait } from "./port.ts";
import { guestCreate, guestSetTrap } from "./hypervisor_guest.ts";
import { vcpuCreate, vcpuEnter, vcpuInterrupt, vcpuKick, vcpuResume } from "./hypervisor_vcpu.ts";
import { vcpuReadState, vcpuWriteState } from "./vcpu_state.ts";

/** The table, with each entry's own types (for the typed client). */
export const SYSCALL_ENTRIES = [
  handleClose,
  handleCloseMany,
  handleDuplicate,
  handleReplace,
  objectGetInfo,
  objectGetProperty,
  objectSetProperty,
  objectWaitOne,
  clockGetMonotonic,
  jobCreate,
  processCreate,
  threadCreate,
  threadStart,
  taskSuspend,
  taskSuspendToken,
  taskKill,
  threadReadState,
  threadWriteState,
  mxThreadReadState,
  mxThreadWriteState,
  processStart,
  processExit,
  threadExit,
  nanosleep,
  debugWrite,
  taskCreateExceptionChannel,
  exceptionGetThread,
  exceptionGetProcess,
  vmoCreate,
  vmoRead,
  vmoWrite,
  vmoGetSize,
  vmoSetSize,
  vmoReplaceAsExecutable,
  vmarAllocate,
  vmarMap,
  vmarUnmap,
  vmarProtect,
  vmarDestroy,
  processReadMemory,
  processWriteMemory,
  channelCreate,
  channelRead,
  channelWrite,
  channelCall,
  portCreate,
  portQueue,
  portWait,
  portCancel,
  objectWaitAsync,
  guestCreate,
  guestSetTrap,
  vcpuCreate,
  vcpuEnter,
  vcpuResume,
  vcpuKick,
  vcpuInterrupt,
  vcpuReadState,
  vcpuWriteState,
] as const;

export const SYSCALLS: readonly Syscall[] = SYSCALL_ENTRIES;

/** The syscalls of one ABI, by name (without the zx_/mx_ prefix). */
export function syscallsOf(abi: Abi): ReadonlyMap<string, Syscall> {
  return new Map(SYSCALLS.filter((s) => s.abis.includes(abi)).map((s) => [s.name, s]));
}
