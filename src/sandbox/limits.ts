// A sandbox's limits: the options, their defaults, and what each becomes in a run's config
// (cgroup limits for memory, pids and cpus; rlimits for file size and open files; hako's own
// watch for wall time, CPU time and output).
import { array, boolean, checkOptions, either, envObject, integer, nonEmpty, number, object, path, record, SESSION_OPTIONS, string, type Check, type Shape } from '../options.js';
import type { Resources, Rlimit } from '../config/types.js';
import { NETWORK_OPTION } from './network.js';

export interface SandboxLimits {
  /** The cgroup's memory limit (swap included: none beyond it). Default 256 MiB. */
  memoryBytes?: number;
  /** Most processes and threads at once (cgroup pids.max). Default 128. */
  pids?: number;
  /** CPUs' worth of time per period (CFS quota): 0.5 is half a CPU. Default: no quota. */
  cpus?: number;
  /** Wall-clock time of a run; past it the run is killed: 'timeout'. Default 10 s. */
  wallTimeMs?: number;
  /** CPU time of a run (user + system, every process: the cgroup's usage); past it 'cpu-time'. Default: none. */
  cpuTimeMs?: number;
  /** stdout + stderr of a run; past it the run is killed: 'output-limit'. Default 1 MiB. */
  outputBytes?: number;
  /** The largest file a process may write (RLIMIT_FSIZE). Default: diskBytes. */
  fileSizeBytes?: number;
  /** The sandbox's writable layer, /tmp and /dev/shm together (a tmpfs). Default 64 MiB. Sandbox-wide. */
  diskBytes?: number;
  /** Open files per process (RLIMIT_NOFILE). Default 256. */
  openFiles?: number;
}

export const DEFAULT_LIMITS: Required<Omit<SandboxLimits, 'cpus' | 'cpuTimeMs' | 'fileSizeBytes'>> = {
  memoryBytes: 256 << 20, pids: 128, wallTimeMs: 10_000, outputBytes: 1 << 20, diskBytes: 64 << 20, openFiles: 256,
};

const positive = integer(1);
export const LIMITS_SHAPE: Shape = {
  memoryBytes: integer(1 << 20), pids: positive, cpus: number(0.01), wallTimeMs: positive, cpuTimeMs: positive,
  outputBytes: integer(0), fileSizeBytes: positive, diskBytes: integer(1 << 20), openFiles: integer(16, 1 << 20),
};
const RUN_LIMITS_SHAPE: Shape = Object.fromEntries(Object.entries(LIMITS_SHAPE).filter(([k]) => k !== 'diskBytes'));

const mount: Check = object({ source: path(true), target: path(true), readonly: boolean }, ['source', 'target']);
const user: Check = either('a uid (number) or "user[:group]"', [(v) => typeof v === 'number', integer(0, 0xfffffffe)], [(v) => typeof v === 'string', nonEmpty]);

export const SANDBOX_OPTIONS: Shape = {
  rootfs: path(true), image: nonEmpty, limits: object(LIMITS_SHAPE), network: NETWORK_OPTION,
  mounts: array(mount), env: record(string), user, workdir: path(true), root: path(true), hostname: nonEmpty, bestEffort: boolean,
};
export const POOL_OPTIONS: Shape = { ...SANDBOX_OPTIONS, size: integer(1, 1024) };
export const RUN_SHAPE: Shape = {
  stdin: either('a string or a Buffer', [(v) => typeof v === 'string' || Buffer.isBuffer(v), () => {}]),
  timeoutMs: positive, limits: object(RUN_LIMITS_SHAPE), env: envObject, workdir: path(true), signal: SESSION_OPTIONS.signal!,
};
export { checkOptions };

/** The effective limits of a run: the sandbox's, with the run's over them, and the defaults under. */
export function effectiveLimits(sandbox: SandboxLimits | undefined, run: SandboxLimits | undefined): SandboxLimits & typeof DEFAULT_LIMITS {
  const out = { ...DEFAULT_LIMITS, ...strip(sandbox), ...strip(run) };
  return out;
}

function strip(o: SandboxLimits | undefined): SandboxLimits {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as SandboxLimits;
}

/** linux.resources of a run. */
export function resourcesOf(l: SandboxLimits): Resources {
  const r: Resources = { devices: [{ allow: false, access: 'rwm' }] };
  if (l.memoryBytes !== undefined) r.memory = { limit: l.memoryBytes, swap: l.memoryBytes };
  if (l.pids !== undefined) r.pids = { limit: l.pids };
  if (l.cpus !== undefined) r.cpu = { quota: Math.max(1000, Math.round(l.cpus * 100_000)), period: 100_000 };
  return r;
}

/** process.rlimits of a run. RLIMIT_CPU is a backstop only (the cgroup's usage decides): one
 * process's CPU time, a second past the run's, then SIGKILL at the hard limit. */
export function rlimitsOf(l: SandboxLimits & typeof DEFAULT_LIMITS, cpuByRlimit = false): Rlimit[] {
  const fsize = l.fileSizeBytes ?? l.diskBytes;
  const out: Rlimit[] = [
    { type: 'RLIMIT_NOFILE', soft: l.openFiles, hard: l.openFiles },
    { type: 'RLIMIT_FSIZE', soft: fsize, hard: fsize },
    { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
  ];
  if (l.cpuTimeMs !== undefined) {
    // without a cgroup (rootless, none delegated) RLIMIT_CPU is the limit: whole seconds, per process
    const s = Math.ceil(l.cpuTimeMs / 1000) + (cpuByRlimit ? 0 : 1);
    out.push({ type: 'RLIMIT_CPU', soft: s, hard: s + 1 });
  }
  return out;
}

/**
 * A run's CPU time as user and system ms that add up to the cgroup's total (the counter the
 * 'cpu-time' verdict reads). On cgroup v1 (Linux 5.x+) cpuacct.usage_user and usage_sys are
 * sampled at ticks while cpuacct.usage is exact: they can fall short of it by a tick or more, so
 * the exact total is split in their proportion.
 */
export function cpuSplit(cpu: { usageNs?: number | null; userNs?: number | null; systemNs?: number | null } | null | undefined): { userMs: number; systemMs: number } {
  const total = cpu?.usageNs ?? undefined;
  const user = cpu?.userNs ?? null;
  const system = cpu?.systemNs ?? null;
  if (total === undefined) return { userMs: Math.round((user ?? 0) / 1e6), systemMs: Math.round((system ?? 0) / 1e6) };
  const totalMs = Math.round(total / 1e6);
  const share = user !== null && system !== null && user + system > 0 ? user / (user + system) : 1;
  const userMs = Math.min(totalMs, Math.round((total * share) / 1e6));
  return { userMs, systemMs: totalMs - userMs };
}
