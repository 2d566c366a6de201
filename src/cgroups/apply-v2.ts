// linux.resources → cgroup v2 files. Planning refuses what cannot be applied; the returned steps write.
import { readFileSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { blkioToIoWeight, sharesToWeight, swapInUse, swapToV2 } from './convert.js';
import { hasFile, int, readCgroupFile, writeCgroupFile, CgroupError } from './files.js';
import { controllerOfFile, type Wanted, type WantedBlockIO } from './validate.js';
import type { V2Tree } from './v2tree.js';

export type Step = () => void;
const P = 'linux.resources';

function hostHasSwap(): boolean {
  try {
    return swapInUse(readFileSync('/proc/swaps', 'utf8'));
  } catch {
    return true;
  }
}

/** hugetlb.<size>.max for each limit (shared with the hybrid v1 backend). */
export function planHugetlbV2(limits: Wanted['hugepageLimits'], tree: V2Tree): Step[] {
  if (limits.length === 0) return [];
  tree.check('hugetlb', `${P}.hugepageLimits`);
  return [() => {
    tree.need('hugetlb', `${P}.hugepageLimits`);
    for (const { size, limit } of limits) {
      const file = `hugetlb.${size}.max`;
      if (!hasFile(tree.dir, file)) throw new HakoError(`hako: cgroup: ${P}.hugepageLimits: this host has no ${size} huge pages (no ${file})`, { code: 'unsupported' });
      writeCgroupFile(tree.dir, file, int(limit));
    }
  }];
}

/** linux.resources.unified, written last so that it overrides (shared with the hybrid v1 backend). */
export function planUnifiedV2(entries: Wanted['unified'], tree: V2Tree): Step[] {
  for (const [key] of entries) {
    const c = controllerOfFile(key);
    if (c !== undefined) tree.check(c, `${P}.unified["${key}"]`);
  }
  return entries.map(([key, value]) => () => {
    const c = controllerOfFile(key);
    if (c !== undefined) tree.need(c, `${P}.unified["${key}"]`);
    if (!hasFile(tree.dir, key)) throw new CgroupError(`hako: cgroup: ${P}.unified: there is no file '${key}' in ${tree.dir}`, `${tree.dir}/${key}`, 'ENOENT');
    writeCgroupFile(tree.dir, key, value);
  });
}

function planIo(b: WantedBlockIO, tree: V2Tree): Step[] {
  tree.check('io', `${P}.blockIO`);
  if (b.leafWeight !== undefined || b.weightDevice.some((d) => d.leafWeight !== undefined)) {
    throw new HakoError(`hako: cgroup: ${P}.blockIO.leafWeight has no cgroup v2 equivalent`, { code: 'unsupported' });
  }
  return [() => {
    const dir = tree.dir;
    tree.need('io', `${P}.blockIO`);
    // BFQ takes the v1 weights as they are; otherwise io.weight on its 1..10000 scale
    const bfq = hasFile(dir, 'io.bfq.weight');
    const weightFile = bfq ? 'io.bfq.weight' : 'io.weight';
    const conv = (w: number) => String(bfq ? w : blkioToIoWeight(w));
    if (b.weight !== undefined) {
      if (!hasFile(dir, weightFile)) throw new HakoError(`hako: cgroup: ${P}.blockIO.weight: neither io.bfq.weight nor io.weight exists in ${dir} (no proportional I/O control here)`, { code: 'unsupported' });
      writeCgroupFile(dir, weightFile, bfq ? conv(b.weight) : `default ${conv(b.weight)}`);
    }
    for (const d of b.weightDevice) {
      if (d.weight !== undefined) writeCgroupFile(dir, weightFile, `${d.major}:${d.minor} ${conv(d.weight)}`);
    }
    const key = { read_bps: 'rbps', write_bps: 'wbps', read_iops: 'riops', write_iops: 'wiops' } as const;
    for (const t of b.throttle) {
      for (const d of t.devices) writeCgroupFile(dir, 'io.max', `${d.major}:${d.minor} ${key[t.kind]}=${d.rate === 0 ? 'max' : d.rate}`);
    }
  }];
}

export function planV2(w: Wanted, tree: V2Tree): Step[] {
  const steps: Step[] = [];
  const dir = tree.dir;

  if (w.memory) {
    const m = w.memory;
    const what = `${P}.memory`;
    tree.check('memory', what);
    for (const [k, v] of [['kernel', m.kernel], ['kernelTCP', m.kernelTCP], ['swappiness', m.swappiness]] as const) {
      if (v !== undefined) throw new HakoError(`hako: cgroup: ${what}.${k} has no cgroup v2 equivalent`, { code: 'unsupported' });
    }
    if (m.disableOOMKiller === true) throw new HakoError(`hako: cgroup: ${what}.disableOOMKiller has no cgroup v2 equivalent (cgroup v2 cannot turn the OOM killer off)`, { code: 'unsupported' });
    if (m.useHierarchy === false) throw new HakoError(`hako: cgroup: ${what}.useHierarchy false is impossible on cgroup v2 (memory accounting is always hierarchical)`, { code: 'unsupported' });
    let swap: string | undefined;
    try {
      swap = swapToV2(m.swap, m.limit);
    } catch (reason) {
      throw new HakoError(`hako: cgroup: ${what}.swap: ${String(reason)}`, { code: 'bad-config' });
    }
    steps.push(() => {
      tree.need('memory', what);
      if (m.checkBeforeUpdate && m.limit !== undefined && m.limit > 0) {
        const current = Number(readCgroupFile(dir, 'memory.current').trim());
        if (current > m.limit) throw new HakoError(`hako: cgroup: ${what}.limit: ${m.limit} is below the current usage (${current} bytes) and checkBeforeUpdate is set`, { code: 'bad-config' });
      }
      if (swap !== undefined) {
        if (hasFile(dir, 'memory.swap.max')) writeCgroupFile(dir, 'memory.swap.max', swap);
        // without swap accounting: "max" asks for nothing, and "0" holds when no swap exists
        else if (!(swap === 'max' || (swap === '0' && !hostHasSwap()))) {
          throw new HakoError(`hako: cgroup: ${what}.swap: this kernel does not account swap (no memory.swap.max in ${dir})`, { code: 'unsupported' });
        }
      }
      if (m.limit !== undefined) writeCgroupFile(dir, 'memory.max', m.limit === -1 ? 'max' : int(m.limit));
      if (m.reservation !== undefined) writeCgroupFile(dir, 'memory.low', m.reservation === -1 ? 'max' : int(m.reservation));
    });
  }

  if (w.cpu) {
    const c = w.cpu;
    const what = `${P}.cpu`;
    if (c.realtimeRuntime !== undefined || c.realtimePeriod !== undefined) {
      throw new HakoError(`hako: cgroup: ${what}.realtimeRuntime/realtimePeriod have no cgroup v2 equivalent`, { code: 'unsupported' });
    }
    const needCpu = c.shares !== undefined || c.quota !== undefined || c.period !== undefined || c.burst !== undefined || c.idle !== undefined;
    const needCpuset = c.cpus !== undefined || c.mems !== undefined;
    if (needCpu) tree.check('cpu', what);
    if (needCpuset) tree.check('cpuset', `${what}.cpus/mems`);
    steps.push(() => {
      if (needCpu) tree.need('cpu', what);
      if (c.shares !== undefined) writeCgroupFile(dir, 'cpu.weight', String(sharesToWeight(c.shares)));
      if (c.quota !== undefined || c.period !== undefined) {
        // keep whichever half is not given
        const [curQuota = 'max', curPeriod = '100000'] = readCgroupFile(dir, 'cpu.max').trim().split(/\s+/);
        const quota = c.quota === undefined ? curQuota : c.quota === -1 ? 'max' : int(c.quota);
        const period = c.period === undefined ? curPeriod : int(c.period);
        writeCgroupFile(dir, 'cpu.max', `${quota} ${period}`);
      }
      if (c.burst !== undefined) writeCgroupFile(dir, 'cpu.max.burst', int(c.burst));
      if (c.idle !== undefined) writeCgroupFile(dir, 'cpu.idle', String(c.idle));
      if (needCpuset) tree.need('cpuset', `${what}.cpus/mems`);
      if (c.cpus !== undefined) writeCgroupFile(dir, 'cpuset.cpus', c.cpus);
      if (c.mems !== undefined) writeCgroupFile(dir, 'cpuset.mems', c.mems);
    });
  }

  if (w.pidsLimit !== undefined) {
    const n = w.pidsLimit;
    tree.check('pids', `${P}.pids`);
    steps.push(() => {
      tree.need('pids', `${P}.pids`);
      writeCgroupFile(dir, 'pids.max', n === -1 ? 'max' : int(n));
    });
  }

  if (w.blockIO) steps.push(...planIo(w.blockIO, tree));
  steps.push(...planHugetlbV2(w.hugepageLimits, tree));
  if (w.network) throw new HakoError(`hako: cgroup: ${P}.network (net_cls classID, net_prio priorities) has no cgroup v2 equivalent`, { code: 'unsupported' });
  steps.push(...planUnifiedV2(w.unified, tree));
  return steps;
}
