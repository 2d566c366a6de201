// Small facts about processes and the caller, read from /proc.
import { readFileSync } from 'node:fs';

/** The effective capability mask of a process. */
export function effectiveCaps(pid: number | 'self' = 'self'): bigint {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m?.[1] ? BigInt(`0x${m[1]}`) : 0n;
}

export const CAP_SYS_ADMIN = 21;

export function hasCap(cap: number, pid: number | 'self' = 'self'): boolean {
  return (effectiveCaps(pid) & (1n << BigInt(cap))) !== 0n;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat). */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function processExists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
