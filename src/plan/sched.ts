// process.ioPriority, process.scheduler and process.execCPUAffinity → the values the helper's
// IOPRIO, SCHED and AFFINITY ops hand to the kernel (pure: numbers and bytes, no syscalls).
import type { IOPriority, Scheduler, SchedulerFlag, SchedulerPolicy } from '../config/types.js';

/** linux/ioprio.h: IOPRIO_CLASS_* and the value ioprio_set takes (class << 13 | level). */
const IOPRIO_CLASS = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 } as const;
export function ioprioValue(p: IOPriority): number {
  return (IOPRIO_CLASS[p.class] << 13) | p.priority;
}

/** linux/sched.h (SCHED_ISO is reserved: the kernel refuses it with EINVAL, as it does for runc). */
export const SCHED_POLICY: Record<SchedulerPolicy, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
export const SCHED_FLAG: Record<SchedulerFlag, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/** struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes), little-endian as the kernel reads it here. */
export function schedAttr(s: Scheduler): Buffer {
  const b = Buffer.alloc(48);
  b.writeUInt32LE(48, 0);
  b.writeUInt32LE(SCHED_POLICY[s.policy], 4);
  b.writeBigUInt64LE(BigInt((s.flags ?? []).reduce((m, f) => m | SCHED_FLAG[f], 0)), 8);
  b.writeInt32LE(s.nice ?? 0, 16);
  b.writeUInt32LE(s.priority ?? 0, 20);
  b.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  b.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  b.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return b;
}

/** The CPUs of a list like "0-3,7" (validated by config: ascending ranges). */
export function cpuSet(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    if (!part) continue;
    const [a = 0, b = a] = part.split('-').map(Number);
    for (let c = a; c <= b; c++) cpus.push(c);
  }
  return cpus;
}

/** A CPU list as a cpu_set_t for sched_setaffinity: bit n of byte n/8 is CPU n, whole 8-byte words. */
export function cpuMask(cpus: number[]): Buffer {
  const max = Math.max(...cpus, 0);
  const b = Buffer.alloc(Math.ceil((max + 1) / 64) * 8);
  for (const c of cpus) b.writeUInt8(b.readUInt8(c >> 3) | (1 << (c & 7)), c >> 3);
  return b;
}

/** The mask `final` falls back to when only `initial` is given: every CPU the kernel can have
 * (1024, glibc's CPU_SETSIZE); the kernel keeps those of the container's cpuset. */
export const ALL_CPUS = Buffer.alloc(128, 0xff);
