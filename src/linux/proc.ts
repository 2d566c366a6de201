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
  return procStat(pid)?.startTime;
}

export function processExists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** The fields of /proc/PID/stat the lifecycle needs. */
export interface ProcStat {
  /** R, S, D, Z (zombie), T, t, X (dead), I ... */
  state: string;
  /** Start time in clock ticks since boot (field 22). */
  startTime: number;
}

/** State and start time of a process, from one read of /proc/PID/stat; undefined when there is no such process. */
export function procStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isFinite(startTime)) return undefined;
  return { state, startTime };
}

/**
 * Whether the process that was pid, started at startTime (ticks), is still running: the pid
 * exists, is not a zombie or dead, and has that start time (else the pid was reused).
 */
export function processAlive(pid: number, startTime: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTime === startTime;
}
