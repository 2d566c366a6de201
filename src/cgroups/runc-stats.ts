// The cgroup figures in runc's own shape: `runc events`'s "stats" data (runc's types.Stats,
// libcontainer/cgroups' stats converted the way runc's events.go converts them), read from the
// v1 hierarchies or the v2 directory as runc's fs and fs2 managers read them. Integers are
// bigints: the kernel's "no limit" (2^63 rounded to pages, 2^64-1) does not fit a double.
import { readdirSync } from 'node:fs';
import { readOptional, parseKeyed } from './files.js';

type N = bigint;
export interface MemoryEntry { limit: N; usage?: N; max?: N; failcnt: N }
export interface BlkioEntry { major?: N; minor?: N; op?: string; value?: N }
export interface RuncStats {
  cpu: {
    usage: { total?: N; percpu?: N[]; percpu_kernel?: N[]; percpu_user?: N[]; kernel: N; user: N };
    throttling: { periods?: N; throttledPeriods?: N; throttledTime?: N };
  };
  cpuset: Record<string, N | N[]>;
  memory: { cache?: N; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw?: Record<string, N> };
  pids: { current?: N; limit?: N };
  blkio: Partial<Record<BlkioKey, BlkioEntry[]>>;
  hugetlb: Record<string, { usage?: N; max?: N; failcnt: N }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}
export type BlkioKey = 'ioServiceBytesRecursive' | 'ioServicedRecursive' | 'ioQueueRecursive' | 'ioServiceTimeRecursive'
  | 'ioWaitTimeRecursive' | 'ioMergedRecursive' | 'ioTimeRecursive' | 'sectorsRecursive';

const MAX_U64 = 2n ** 64n - 1n;

function big(text: string | undefined): N | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  if (t === 'max') return MAX_U64;
  return /^-?\d+$/.test(t) ? BigInt(t) : undefined;
}

/** Go's omitempty: zero numbers, empty lists and maps, undefined are left out. */
function omit<T extends object>(o: T): T {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === 0n || (Array.isArray(v) && v.length === 0)) delete (o as Record<string, unknown>)[k];
    else if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 && k === 'raw') delete (o as Record<string, unknown>)[k];
  }
  return o;
}

function keyed(dir: string | undefined, file: string): Map<string, N> {
  const out = new Map<string, N>();
  if (dir === undefined) return out;
  for (const [k, v] of parseKeyed(readOptional(dir, file))) {
    const n = big(v);
    if (n !== undefined) out.set(k, n);
  }
  return out;
}

const words = (text: string | undefined): N[] => (text ?? '').trim().split(/\s+/).filter(Boolean).map((w) => BigInt(w));

/** "0-2,5" → [0, 1, 2, 5] */
function cpuList(text: string | undefined): N[] {
  const out: N[] = [];
  for (const part of (text ?? '').trim().split(',')) {
    if (!part) continue;
    const [a = '0', b = a] = part.split('-');
    for (let c = BigInt(a); c <= BigInt(b); c++) out.push(c);
  }
  return out;
}

/** v1 blkio lines "MAJ:MIN Op value" (Total lines skipped). */
function blkioV1(dir: string, file: string): BlkioEntry[] | undefined {
  const text = readOptional(dir, file);
  if (text === undefined) return undefined;
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const e: BlkioEntry = { major: BigInt(dev[1]!), minor: BigInt(dev[2]!) };
    if (f.length === 3) { e.op = f[1]; e.value = big(f[2]); } else e.value = big(f[1]);
    out.push(omit(e));
  }
  return out;
}

/** A memory entry: limit and failcnt always, usage and max when not zero (runc's omitempty). */
function entry(limit: N | undefined, usage: N | undefined, max: N | undefined, failcnt: N | undefined): MemoryEntry {
  return { limit: limit ?? 0n, ...(usage ? { usage } : {}), ...(max ? { max } : {}), failcnt: failcnt ?? 0n };
}

function entryV1(dir: string | undefined, prefix: string): MemoryEntry {
  const get = (f: string) => (dir === undefined ? undefined : big(readOptional(dir, `${prefix}.${f}`)));
  return entry(get('limit_in_bytes'), get('usage_in_bytes'), get('max_usage_in_bytes'), get('failcnt'));
}

const CLK_TCK = 100n; // USER_HZ, as runc assumes on Linux

/** runc's stats from v1 hierarchies (dirOf: a controller's directory of this cgroup). */
export function runcStatsV1(dirOf: (controller: string) => string | undefined): RuncStats {
  const acct = dirOf('cpuacct');
  const cpuDir = dirOf('cpu');
  const usageAll = acct === undefined ? [] : (readOptional(acct, 'cpuacct.usage_all') ?? '').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const tick = keyed(acct, 'cpuacct.stat');
  const throttle = keyed(cpuDir, 'cpu.stat');
  const cpu: RuncStats['cpu'] = {
    usage: {
      ...omit({
        total: acct === undefined ? undefined : big(readOptional(acct, 'cpuacct.usage')),
        percpu: acct === undefined ? undefined : words(readOptional(acct, 'cpuacct.usage_percpu')),
        percpu_kernel: usageAll.filter((r) => r.length === 3).map((r) => BigInt(r[2]!)),
        percpu_user: usageAll.filter((r) => r.length === 3).map((r) => BigInt(r[1]!)),
      }),
      // no omitempty on these two in runc: always there
      kernel: ((tick.get('system') ?? 0n) * 1_000_000_000n) / CLK_TCK,
      user: ((tick.get('user') ?? 0n) * 1_000_000_000n) / CLK_TCK,
    },
    throttling: omit({ periods: throttle.get('nr_periods'), throttledPeriods: throttle.get('nr_throttled'), throttledTime: throttle.get('throttled_time') }),
  };
  const cs = dirOf('cpuset');
  const cpuset: RuncStats['cpuset'] = {};
  if (cs !== undefined) {
    cpuset.cpus = cpuList(readOptional(cs, 'cpuset.cpus'));
    for (const k of ['cpu_exclusive']) cpuset[k] = big(readOptional(cs, `cpuset.${k}`)) ?? 0n;
    cpuset.mems = cpuList(readOptional(cs, 'cpuset.mems'));
    for (const k of ['mem_hardwall', 'mem_exclusive', 'memory_migrate', 'memory_spread_page', 'memory_spread_slab', 'memory_pressure', 'sched_load_balance', 'sched_relax_domain_level']) {
      cpuset[k] = big(readOptional(cs, `cpuset.${k}`)) ?? 0n;
    }
  }
  const mem = dirOf('memory');
  const raw = Object.fromEntries(keyed(mem, 'memory.stat'));
  const memory: RuncStats['memory'] = omit({
    cache: raw.cache,
    usage: entryV1(mem, 'memory'),
    swap: entryV1(mem, 'memory.memsw'),
    kernel: entryV1(mem, 'memory.kmem'),
    kernelTCP: entryV1(mem, 'memory.kmem.tcp'),
    raw,
  });
  const pidsDir = dirOf('pids');
  const pids = omit({
    current: pidsDir === undefined ? undefined : big(readOptional(pidsDir, 'pids.current')),
    limit: pidsDir === undefined ? undefined : (() => { const m = big(readOptional(pidsDir, 'pids.max')); return m === MAX_U64 ? 0n : m; })(),
  });
  const blkioDir = dirOf('blkio');
  const blkio: RuncStats['blkio'] = {};
  if (blkioDir !== undefined) {
    const set = (key: BlkioKey, ...files: string[]) => {
      for (const f of files) {
        const e = blkioV1(blkioDir, f);
        if (e !== undefined) { if (e.length) blkio[key] = e; return; }
      }
    };
    // as runc: CFQ's files, else BFQ's, else the throttle's
    if (readOptional(blkioDir, 'blkio.io_serviced_recursive') !== undefined) {
      set('sectorsRecursive', 'blkio.sectors_recursive');
      set('ioServiceBytesRecursive', 'blkio.io_service_bytes_recursive');
      set('ioServicedRecursive', 'blkio.io_serviced_recursive');
      set('ioQueueRecursive', 'blkio.io_queued_recursive');
      set('ioServiceTimeRecursive', 'blkio.io_service_time_recursive');
      set('ioWaitTimeRecursive', 'blkio.io_wait_time_recursive');
      set('ioMergedRecursive', 'blkio.io_merged_recursive');
      set('ioTimeRecursive', 'blkio.time_recursive');
    } else if (readOptional(blkioDir, 'blkio.bfq.io_serviced_recursive') !== undefined) {
      set('ioServiceBytesRecursive', 'blkio.bfq.io_service_bytes_recursive');
      set('ioServicedRecursive', 'blkio.bfq.io_serviced_recursive');
    } else {
      set('ioServiceBytesRecursive', 'blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes');
      set('ioServicedRecursive', 'blkio.throttle.io_serviced_recursive', 'blkio.throttle.io_serviced');
    }
  }
  const hugetlb: RuncStats['hugetlb'] = {};
  const hdir = dirOf('hugetlb');
  if (hdir !== undefined) {
    for (const size of hugePageSizes(hdir, /^hugetlb\.(\d+[KMG]B)\.usage_in_bytes$/)) {
      hugetlb[size] = omit({
        usage: big(readOptional(hdir, `hugetlb.${size}.usage_in_bytes`)),
        max: big(readOptional(hdir, `hugetlb.${size}.max_usage_in_bytes`)),
        failcnt: big(readOptional(hdir, `hugetlb.${size}.failcnt`)) ?? 0n,
      });
    }
  }
  return { cpu, cpuset, memory, pids, blkio, hugetlb, intel_rdt: {}, network_interfaces: null };
}

/** The page sizes a hugetlb directory has files for. */
function hugePageSizes(dir: string, pattern: RegExp): string[] {
  try {
    return readdirSync(dir).map((f) => pattern.exec(f)?.[1]).filter((s): s is string => s !== undefined);
  } catch {
    return [];
  }
}

/** runc's stats from a v2 directory (runc's fs2: no per-CPU figures, no cpuset, io.stat as blkio). */
export function runcStatsV2(dir: string): RuncStats {
  const stat = keyed(dir, 'cpu.stat');
  const us = (k: string) => { const v = stat.get(k); return v === undefined ? undefined : v * 1000n; };
  const cpu: RuncStats['cpu'] = {
    usage: { ...omit({ total: us('usage_usec') }), kernel: us('system_usec') ?? 0n, user: us('user_usec') ?? 0n },
    throttling: omit({ periods: stat.get('nr_periods'), throttledPeriods: stat.get('nr_throttled'), throttledTime: us('throttled_usec') }),
  };
  const raw = Object.fromEntries(keyed(dir, 'memory.stat'));
  const events = keyed(dir, 'memory.events');
  const usage = entry(big(readOptional(dir, 'memory.max')) ?? MAX_U64, big(readOptional(dir, 'memory.current')), big(readOptional(dir, 'memory.peak')), events.get('max'));
  const swapLimit = big(readOptional(dir, 'memory.swap.max'));
  // as runc: swap figures include memory (v1's memsw meaning)
  const swap = entry(
    swapLimit === undefined || swapLimit === MAX_U64 || usage.limit === MAX_U64 ? MAX_U64 : swapLimit + usage.limit,
    (big(readOptional(dir, 'memory.swap.current')) ?? 0n) + (usage.usage ?? 0n), undefined,
    keyed(dir, 'memory.swap.events').get('max'),
  );
  const memory: RuncStats['memory'] = omit({ cache: raw.file, usage, swap, kernel: { limit: 0n, failcnt: 0n }, kernelTCP: { limit: 0n, failcnt: 0n }, raw });
  const pidsMax = big(readOptional(dir, 'pids.max'));
  const pids = omit({ current: big(readOptional(dir, 'pids.current')), limit: pidsMax === MAX_U64 ? 0n : pidsMax });
  const blkio: RuncStats['blkio'] = {};
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (readOptional(dir, 'io.stat') ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const f = new Map(kv.map((p) => p.split('=') as [string, string]));
    const e = (op: string, v: string | undefined) => omit({ major: BigInt(m[1]!), minor: BigInt(m[2]!), op, value: big(v) });
    bytes.push(e('Read', f.get('rbytes')), e('Write', f.get('wbytes')));
    ios.push(e('Read', f.get('rios')), e('Write', f.get('wios')));
  }
  if (bytes.length) blkio.ioServiceBytesRecursive = bytes;
  if (ios.length) blkio.ioServicedRecursive = ios;
  const hugetlb: RuncStats['hugetlb'] = {};
  for (const size of hugePageSizes(dir, /^hugetlb\.(\d+[KMG]B)\.current$/)) {
    hugetlb[size] = omit({ usage: big(readOptional(dir, `hugetlb.${size}.current`)), failcnt: keyed(dir, `hugetlb.${size}.events`).get('max') ?? 0n });
  }
  return { cpu, cpuset: {}, memory, pids, blkio, hugetlb, intel_rdt: {}, network_interfaces: null };
}

/** JSON with the bigints as plain numbers (what runc's Go prints for uint64). */
export function runcJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}\u0000` : v)).replace(/"\\u0000(-?\d+)\\u0000"/g, '$1');
}
