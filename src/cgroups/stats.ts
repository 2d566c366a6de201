// Usage figures, read the same way from either version. A section is null when its controller
// is not available to this cgroup; a limit is null when there is none.
import { parseKeyed, readOptional } from './files.js';

export interface MemoryStats {
  /** Bytes in use now. */
  usage: number;
  /** The highest usage seen (v1 memory.max_usage_in_bytes, v2 memory.peak), when the kernel keeps it. */
  maxUsage: number | null;
  limit: number | null;
  /** Processes the OOM killer killed in this cgroup. */
  oomKills: number;
}

export interface PidsStats {
  current: number;
  limit: number | null;
}

export interface CpuStats {
  usageNs: number;
  userNs: number | null;
  systemNs: number | null;
  /** CFS bandwidth: periods, periods throttled, time throttled. */
  periods: number;
  throttledPeriods: number;
  throttledNs: number;
}

export interface CgroupStats {
  memory: MemoryStats | null;
  pids: PidsStats | null;
  cpu: CpuStats | null;
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** v1 writes "no limit" as a huge number (PAGE_COUNTER_MAX pages); v2 as "max". */
function limitOf(text: string | undefined): number | null {
  const n = num(text);
  return n === undefined || n >= 2 ** 62 ? null : n;
}

const orNull = (n: number | undefined) => (n === undefined ? null : n);

export function statsV1(dirOf: (controller: string) => string | undefined): CgroupStats {
  const memDir = dirOf('memory');
  const pidsDir = dirOf('pids');
  const acctDir = dirOf('cpuacct');
  const cpuDir = dirOf('cpu');
  let memory: MemoryStats | null = null;
  const usage = memDir === undefined ? undefined : num(readOptional(memDir, 'memory.usage_in_bytes'));
  if (memDir !== undefined && usage !== undefined) {
    memory = {
      usage,
      maxUsage: orNull(num(readOptional(memDir, 'memory.max_usage_in_bytes'))),
      limit: limitOf(readOptional(memDir, 'memory.limit_in_bytes')),
      oomKills: Number(parseKeyed(readOptional(memDir, 'memory.oom_control')).get('oom_kill') ?? 0),
    };
  }
  const current = pidsDir === undefined ? undefined : num(readOptional(pidsDir, 'pids.current'));
  const pids = pidsDir !== undefined && current !== undefined ? { current, limit: limitOf(readOptional(pidsDir, 'pids.max')) } : null;
  let cpu: CpuStats | null = null;
  const usageNs = acctDir === undefined ? undefined : num(readOptional(acctDir, 'cpuacct.usage'));
  if (acctDir !== undefined && usageNs !== undefined) {
    const stat = parseKeyed(cpuDir === undefined ? undefined : readOptional(cpuDir, 'cpu.stat'));
    cpu = {
      usageNs,
      userNs: orNull(num(readOptional(acctDir, 'cpuacct.usage_user'))),
      systemNs: orNull(num(readOptional(acctDir, 'cpuacct.usage_sys'))),
      periods: Number(stat.get('nr_periods') ?? 0),
      throttledPeriods: Number(stat.get('nr_throttled') ?? 0),
      throttledNs: Number(stat.get('throttled_time') ?? 0),
    };
  }
  return { memory, pids, cpu };
}

export function statsV2(dir: string): CgroupStats {
  const usage = num(readOptional(dir, 'memory.current'));
  const memory = usage === undefined ? null : {
    usage,
    maxUsage: orNull(num(readOptional(dir, 'memory.peak'))),
    limit: limitOf(readOptional(dir, 'memory.max')),
    oomKills: Number(parseKeyed(readOptional(dir, 'memory.events')).get('oom_kill') ?? 0),
  };
  const current = num(readOptional(dir, 'pids.current'));
  const pids = current === undefined ? null : { current, limit: limitOf(readOptional(dir, 'pids.max')) };
  const stat = parseKeyed(readOptional(dir, 'cpu.stat'));
  const usec = (k: string) => (stat.has(k) ? Number(stat.get(k)) * 1000 : undefined);
  const usageNs = usec('usage_usec');
  const cpu = usageNs === undefined ? null : {
    usageNs,
    userNs: orNull(usec('user_usec')),
    systemNs: orNull(usec('system_usec')),
    periods: Number(stat.get('nr_periods') ?? 0),
    throttledPeriods: Number(stat.get('nr_throttled') ?? 0),
    throttledNs: usec('throttled_usec') ?? 0,
  };
  return { memory, pids, cpu };
}

/** Usage figures in the shape of runc's `events --stats` data (libcontainer/types Stats): a
 * section is left out when its controller is not there, a figure when the kernel has none. */
export interface StatsData {
  /** CPU time, in nanoseconds. */
  cpu?: {
    usage: { /** All CPU time. */ total: number; /** In user mode. */ user?: number; /** In kernel mode. */ kernel?: number };
    /** CFS bandwidth throttling: periods, periods throttled, nanoseconds throttled. */
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  /** Memory, in bytes. */
  memory?: {
    usage: { /** In use now. */ usage: number; /** The highest usage seen. */ max?: number; /** The limit (absent: none). */ limit?: number };
    /** Processes the OOM killer killed in the container's cgroup. */
    oomKills: number;
  };
  /** Processes (and threads). */
  pids?: { /** How many now. */ current: number; /** The limit (absent: none). */ limit?: number };
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === null || o[k] === undefined) delete o[k];
  return o;
}

/** CgroupStats as runc's `events --stats` data. */
export function statsData(s: CgroupStats): StatsData {
  const out: StatsData = {};
  if (s.cpu) {
    out.cpu = {
      usage: defined({ total: s.cpu.usageNs, user: s.cpu.userNs ?? undefined, kernel: s.cpu.systemNs ?? undefined }),
      throttling: { periods: s.cpu.periods, throttledPeriods: s.cpu.throttledPeriods, throttledTime: s.cpu.throttledNs },
    };
  }
  if (s.memory) {
    out.memory = { usage: defined({ usage: s.memory.usage, max: s.memory.maxUsage ?? undefined, limit: s.memory.limit ?? undefined }), oomKills: s.memory.oomKills };
  }
  if (s.pids) out.pids = defined({ current: s.pids.current, limit: s.pids.limit ?? undefined });
  return out;
}
