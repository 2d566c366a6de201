// linux.resources → cgroup v1 files. Planning refuses what cannot be applied; the returned steps write.
import { posix } from 'node:path';
import { HakoError } from '../errors.js';
import { planHugetlbV2, planUnifiedV2, type Step } from './apply-v2.js';
import { hasFile, int, readCgroupFile, writeCgroupFile, CgroupError } from './files.js';
import type { Wanted, WantedBlockIO } from './validate.js';
import type { V2Tree } from './v2tree.js';

const P = 'linux.resources';

export interface V1Target {
  /** The directory of this cgroup in the hierarchy holding the controller, if it is mounted. */
  dirOf(controller: string): string | undefined;
  /** On a hybrid host: the same cgroup in the v2 hierarchy (for controllers bound to v2, and `unified`). */
  v2: V2Tree | undefined;
}

function controllerDir(t: V1Target, controller: string, what: string): string {
  const dir = t.dirOf(controller);
  if (dir === undefined) throw new HakoError(`hako: cgroup: ${what} needs the ${controller} controller, which is not mounted as cgroup v1 on this host (see /proc/self/mountinfo)`, { code: 'unsupported' });
  return dir;
}

/** Values the memory controller rounds to whole pages: the same value, up to one page less. -1: unlimited. */
function verifyBytes(dir: string, file: string, wanted: number, note?: string): void {
  const got = BigInt(readCgroupFile(dir, file).trim());
  const ok = wanted === -1 ? got >= 2n ** 62n : got <= BigInt(wanted) && BigInt(wanted) - got < 65536n;
  if (!ok) {
    throw new CgroupError(`hako: cgroup: ${file}: the kernel took ${wanted} but keeps ${got}${note ? ` (${note})` : ''} [${dir}]`, `${dir}/${file}`);
  }
}

function setBytes(dir: string, file: string, value: number, note?: string): void {
  writeCgroupFile(dir, file, int(value), (errno) => {
    if (errno === 'EBUSY' && file === 'memory.limit_in_bytes') return 'the cgroup already uses more than that and the kernel could not reclaim it';
    if (errno === 'EINVAL' && file === 'memory.limit_in_bytes') return 'it must not be above memory.memsw.limit_in_bytes';
    if (errno === 'EINVAL' && file === 'memory.memsw.limit_in_bytes') return 'it must not be below memory.limit_in_bytes';
    return undefined;
  });
  verifyBytes(dir, file, value, note);
}

function planMemory(m: NonNullable<Wanted['memory']>, t: V1Target): Step[] {
  const what = `${P}.memory`;
  const dir = controllerDir(t, 'memory', what);
  const memsw = 'memory.memsw.limit_in_bytes';
  const hasSwapFile = hasFile(dir, memsw);
  if (m.swap !== undefined && m.swap !== -1 && !hasSwapFile) {
    throw new HakoError(`hako: cgroup: ${what}.swap: this kernel does not account swap (no ${memsw}; boot with swapaccount=1)`, { code: 'unsupported' });
  }
  if (m.swap !== undefined && m.limit !== undefined && m.swap !== -1 && (m.limit === -1 || m.swap < m.limit)) {
    throw new HakoError(`hako: cgroup: ${what}.swap (memory+swap, ${m.swap}) must be at least the memory limit (${m.limit})`, { code: 'bad-config' });
  }
  return [() => {
    if (m.checkBeforeUpdate && m.limit !== undefined && m.limit > 0) {
      const usage = Number(readCgroupFile(dir, 'memory.usage_in_bytes').trim());
      if (usage > m.limit) throw new HakoError(`hako: cgroup: ${what}.limit: ${m.limit} is below the current usage (${usage} bytes) and checkBeforeUpdate is set`, { code: 'bad-config' });
    }
    // runc's order: memory+swap must never be below memory, so raise memsw first when it grows
    let swap = m.swap;
    if (m.limit === -1 && swap === undefined && hasSwapFile) swap = -1;
    if (swap === -1 && !hasSwapFile) swap = undefined;
    const swapFirst = m.limit !== undefined && swap !== undefined
      && (swap === -1 || BigInt(readCgroupFile(dir, 'memory.limit_in_bytes').trim()) < BigInt(swap));
    if (swapFirst && swap !== undefined) setBytes(dir, memsw, swap);
    if (m.limit !== undefined) setBytes(dir, 'memory.limit_in_bytes', m.limit);
    if (!swapFirst && swap !== undefined) setBytes(dir, memsw, swap);
    if (m.reservation !== undefined) setBytes(dir, 'memory.soft_limit_in_bytes', m.reservation);
    if (m.kernel !== undefined) setBytes(dir, 'memory.kmem.limit_in_bytes', m.kernel, 'kernel memory limits are gone since Linux 6.1 and the spec deprecates them: leave linux.resources.memory.kernel out');
    if (m.kernelTCP !== undefined) setBytes(dir, 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP);
    if (m.swappiness !== undefined) writeCgroupFile(dir, 'memory.swappiness', String(m.swappiness));
    if (m.disableOOMKiller !== undefined) writeCgroupFile(dir, 'memory.oom_control', m.disableOOMKiller ? '1' : '0');
    if (m.useHierarchy !== undefined) {
      writeCgroupFile(dir, 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', (errno) => errno === 'EINVAL' && !m.useHierarchy
        ? 'memory accounting is always hierarchical on this kernel' : undefined);
    }
  }];
}

function planCpu(c: NonNullable<Wanted['cpu']>, t: V1Target): Step[] {
  const what = `${P}.cpu`;
  const steps: Step[] = [];
  const needCpu = c.shares !== undefined || c.quota !== undefined || c.period !== undefined || c.burst !== undefined
    || c.realtimeRuntime !== undefined || c.realtimePeriod !== undefined || c.idle !== undefined;
  if (needCpu) {
    const dir = controllerDir(t, 'cpu', what);
    steps.push(() => {
      if (c.shares !== undefined) {
        writeCgroupFile(dir, 'cpu.shares', String(c.shares));
        const got = readCgroupFile(dir, 'cpu.shares').trim();
        if (got !== String(c.shares)) throw new CgroupError(`hako: cgroup: cpu.shares: the kernel took ${c.shares} but keeps ${got} [${dir}]`, `${dir}/cpu.shares`);
      }
      // runc's order: a shorter period can be refused (EINVAL) until the quota fits it; then retry
      let periodPending = false;
      if (c.period !== undefined) {
        try {
          writeCgroupFile(dir, 'cpu.cfs_period_us', int(c.period));
        } catch (err) {
          if (c.quota === undefined || (err as CgroupError).errno !== 'EINVAL') throw err;
          periodPending = true;
        }
      }
      // the burst may not exceed the quota: when the new quota is below the old burst, burst goes first
      let burstPending = c.burst !== undefined;
      if (c.quota !== undefined) {
        const quotaHint = (errno: string | undefined) => errno === 'EINVAL' ? 'the quota must be at least 1000 and not below cpu.cfs_burst_us' : undefined;
        try {
          writeCgroupFile(dir, 'cpu.cfs_quota_us', int(c.quota), quotaHint);
        } catch (err) {
          if (c.burst === undefined || (err as CgroupError).errno !== 'EINVAL') throw err;
          writeCgroupFile(dir, 'cpu.cfs_burst_us', int(c.burst));
          burstPending = false;
          writeCgroupFile(dir, 'cpu.cfs_quota_us', int(c.quota), quotaHint);
        }
      }
      if (periodPending && c.period !== undefined) writeCgroupFile(dir, 'cpu.cfs_period_us', int(c.period));
      if (burstPending && c.burst !== undefined) writeCgroupFile(dir, 'cpu.cfs_burst_us', int(c.burst));
      const rtHint = (errno: string | undefined) => errno === 'ENOENT' ? 'this kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)'
        : errno === 'EINVAL' ? `more than the parent cgroup grants (its cpu.rt_runtime_us is ${readCgroupFile(posix.dirname(dir), 'cpu.rt_runtime_us').trim()}; each ancestor must be given a realtime budget first)` : undefined;
      if (c.realtimePeriod !== undefined) writeCgroupFile(dir, 'cpu.rt_period_us', int(c.realtimePeriod), rtHint);
      if (c.realtimeRuntime !== undefined) writeCgroupFile(dir, 'cpu.rt_runtime_us', int(c.realtimeRuntime), rtHint);
      if (c.idle !== undefined) writeCgroupFile(dir, 'cpu.idle', String(c.idle));
    });
  }
  if (c.cpus !== undefined || c.mems !== undefined) {
    const dir = controllerDir(t, 'cpuset', `${what}.cpus/mems`);
    const parentHas = (file: string) => (errno: string | undefined) => errno === 'EINVAL' || errno === 'ERANGE'
      ? `not within what the parent cgroup has (${readCgroupFile(posix.dirname(dir), file).trim() || 'none'})` : undefined;
    steps.push(() => {
      if (c.cpus !== undefined) writeCgroupFile(dir, 'cpuset.cpus', c.cpus, parentHas('cpuset.cpus'));
      if (c.mems !== undefined) writeCgroupFile(dir, 'cpuset.mems', c.mems, parentHas('cpuset.mems'));
    });
  }
  return steps;
}

function planBlkio(b: WantedBlockIO, t: V1Target): Step[] {
  const what = `${P}.blockIO`;
  const dir = controllerDir(t, 'blkio', what);
  // blkio.weight was CFQ's; with BFQ the files are blkio.bfq.*; with neither there is no weight to set
  const weightFile = ['blkio.weight', 'blkio.bfq.weight'].find((f) => hasFile(dir, f));
  const wantsWeight = b.weight !== undefined || b.weightDevice.some((d) => d.weight !== undefined);
  if (wantsWeight && weightFile === undefined) {
    throw new HakoError(`hako: cgroup: ${what}.weight: this host has no proportional I/O control (neither blkio.weight nor blkio.bfq.weight in ${dir}: the BFQ I/O scheduler is not in use)`, { code: 'unsupported' });
  }
  const wantsLeaf = b.leafWeight !== undefined || b.weightDevice.some((d) => d.leafWeight !== undefined);
  if (wantsLeaf && !hasFile(dir, 'blkio.leaf_weight')) throw new HakoError(`hako: cgroup: ${what}.leafWeight: this kernel has no blkio.leaf_weight (it went with the CFQ scheduler)`, { code: 'unsupported' });
  return [() => {
    if (b.weight !== undefined && weightFile) writeCgroupFile(dir, weightFile, String(b.weight));
    if (b.leafWeight !== undefined) writeCgroupFile(dir, 'blkio.leaf_weight', String(b.leafWeight));
    for (const d of b.weightDevice) {
      if (d.weight !== undefined && weightFile) {
        writeCgroupFile(dir, `${weightFile}_device`, `${d.major}:${d.minor} ${d.weight}`, (errno) => errno === 'ENOTSUP' || errno === 'EOPNOTSUPP'
          ? `device ${d.major}:${d.minor} does not use the ${weightFile === 'blkio.bfq.weight' ? 'BFQ' : 'CFQ'} I/O scheduler` : undefined);
      }
      if (d.leafWeight !== undefined) writeCgroupFile(dir, 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`);
    }
    for (const th of b.throttle) {
      for (const d of th.devices) writeCgroupFile(dir, `blkio.throttle.${th.kind}_device`, `${d.major}:${d.minor} ${d.rate}`);
    }
  }];
}

function planHugetlb(limits: Wanted['hugepageLimits'], t: V1Target): Step[] {
  if (limits.length === 0) return [];
  const dir = t.dirOf('hugetlb');
  if (dir === undefined) {
    // a hybrid host may have hugetlb bound to cgroup v2 (not mounted as v1): use it there
    if (t.v2) return planHugetlbV2(limits, t.v2);
    controllerDir(t, 'hugetlb', `${P}.hugepageLimits`);
  }
  return [() => {
    for (const { size, limit } of limits) {
      const file = `hugetlb.${size}.limit_in_bytes`;
      if (!hasFile(dir!, file)) throw new HakoError(`hako: cgroup: ${P}.hugepageLimits: this host has no ${size} huge pages (no ${file})`, { code: 'unsupported' });
      writeCgroupFile(dir!, file, int(limit));
    }
  }];
}

function planNetwork(n: NonNullable<Wanted['network']>, t: V1Target): Step[] {
  const steps: Step[] = [];
  if (n.classID !== undefined) {
    const dir = controllerDir(t, 'net_cls', `${P}.network.classID`);
    const id = n.classID;
    steps.push(() => writeCgroupFile(dir, 'net_cls.classid', String(id)));
  }
  if (n.priorities.length > 0) {
    const dir = controllerDir(t, 'net_prio', `${P}.network.priorities`);
    steps.push(() => {
      for (const p of n.priorities) writeCgroupFile(dir, 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
    });
  }
  return steps;
}

export function planV1(w: Wanted, t: V1Target): Step[] {
  const steps: Step[] = [];
  if (w.memory) steps.push(...planMemory(w.memory, t));
  if (w.cpu) steps.push(...planCpu(w.cpu, t));
  if (w.pidsLimit !== undefined) {
    const dir = controllerDir(t, 'pids', `${P}.pids`);
    const n = w.pidsLimit;
    steps.push(() => writeCgroupFile(dir, 'pids.max', n === -1 ? 'max' : int(n)));
  }
  if (w.blockIO) steps.push(...planBlkio(w.blockIO, t));
  steps.push(...planHugetlb(w.hugepageLimits, t));
  if (w.network) steps.push(...planNetwork(w.network, t));
  if (w.unified.length > 0) {
    if (!t.v2) throw new HakoError(`hako: cgroup: ${P}.unified needs cgroup v2, and this host has only cgroup v1`, { code: 'unsupported' });
    steps.push(...planUnifiedV2(w.unified, t.v2));
  }
  return steps;
}
