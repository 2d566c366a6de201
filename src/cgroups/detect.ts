// Where the cgroup hierarchies are: read from /proc/self/mountinfo and /proc/self/cgroup, never
// from hard-coded paths.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { HakoError } from '../errors.js';

/** unified: cgroup v2 only. hybrid: v1 controllers plus a v2 mount. legacy: v1 only. */
export type CgroupMode = 'unified' | 'hybrid' | 'legacy';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** major:minor of the filesystem: the same for every mount of one hierarchy. */
  device: string;
  /** The directory of the filesystem this mount shows (not "/" for a bind mount of a sub-cgroup). */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

export interface V1Hierarchy {
  /** How /proc/PID/cgroup names it: "memory", "cpu,cpuacct", "name=systemd". */
  key: string;
  /** Its controllers ("cpu", "cpuacct"); empty for a named hierarchy. */
  controllers: string[];
  /** The name of a named hierarchy ("systemd" for name=systemd). */
  name?: string;
  mountPoint: string;
  root: string;
}

export interface V2Hierarchy {
  mountPoint: string;
  root: string;
}

export interface CgroupLayout {
  mode: CgroupMode;
  /** Every mounted v1 hierarchy, controller and named ones. */
  v1: V1Hierarchy[];
  v2: V2Hierarchy | undefined;
  /** The caller's own cgroups, as /proc/self/cgroup has them. */
  self: SelfCgroups;
}

export interface SelfCgroups {
  /** v1 hierarchy key ("cpu,cpuacct", "name=systemd") → path. */
  v1: Map<string, string>;
  /** The "0::" line. */
  v2: string | undefined;
}

/** Controllers the kernel may have (merged with /proc/cgroups, which newer kernels may trim). */
const KNOWN_CONTROLLERS = ['cpuset', 'cpu', 'cpuacct', 'io', 'blkio', 'memory', 'devices', 'freezer', 'net_cls',
  'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma', 'misc', 'debug'];

/** Undo mountinfo's octal escapes (\040 for a space, ...). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 3) continue;
    out.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      device: fields[2] ?? '',
      root: unescape(fields[3] ?? ''),
      mountPoint: unescape(fields[4] ?? ''),
      mountOptions: (fields[5] ?? '').split(','),
      fsType: fields[dash + 1] ?? '',
      source: unescape(fields[dash + 2] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return out;
}

/** /proc/PID/cgroup: "ID:CONTROLLERS:PATH" lines (the path may itself hold colons). */
export function parseProcCgroup(text: string): SelfCgroups {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, id, ctrls, path] = m as unknown as [string, string, string, string];
    if (id === '0' && ctrls === '') v2 = path;
    else v1.set(ctrls, path);
  }
  return { v1, v2 };
}

/** Controller names from /proc/cgroups ("#subsys_name hierarchy num_cgroups enabled"). */
export function parseProcCgroups(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/)[0] ?? '').filter(Boolean);
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The layout from the text of /proc/self/mountinfo, /proc/self/cgroup and (optionally) /proc/cgroups. */
export function layoutFrom(mountinfo: string, selfCgroup: string, procCgroups?: string): CgroupLayout {
  const known = [...KNOWN_CONTROLLERS, ...(procCgroups ? parseProcCgroups(procCgroups) : [])];
  const self = parseProcCgroup(selfCgroup);
  const mounts = parseMountinfo(mountinfo);

  // one entry per hierarchy (a hierarchy can be mounted more than once): prefer a mount of its root
  const pick = (fsType: string): MountEntry[] => {
    const byDevice = new Map<string, MountEntry>();
    for (const m of mounts.filter((e) => e.fsType === fsType)) {
      const seen = byDevice.get(m.device);
      if (!seen || (seen.root !== '/' && m.root === '/')) byDevice.set(m.device, m);
    }
    return [...byDevice.values()];
  };

  const v1: V1Hierarchy[] = [];
  for (const m of pick('cgroup')) {
    const controllers = m.superOptions.filter((o) => known.includes(o));
    const name = m.superOptions.find((o) => o.startsWith('name='))?.slice(5);
    const names = [...controllers, ...(name !== undefined ? [`name=${name}`] : [])];
    if (names.length === 0) continue;
    // the key as /proc/self/cgroup spells it (kernel order), else the mount's own order
    const key = [...self.v1.keys()].find((k) => sameSet(k.split(','), names)) ?? names.join(',');
    v1.push({ key, controllers, ...(name !== undefined ? { name } : {}), mountPoint: m.mountPoint, root: m.root });
  }
  const v2mount = pick('cgroup2')[0];
  const v2 = v2mount ? { mountPoint: v2mount.mountPoint, root: v2mount.root } : undefined;

  const withControllers = v1.some((h) => h.controllers.length > 0);
  if (!v2 && v1.length === 0) throw new HakoError('hako: cgroup: no cgroup filesystem is mounted (nothing of type cgroup or cgroup2 in /proc/self/mountinfo)', { code: 'unsupported' });
  const mode: CgroupMode = !withControllers ? 'unified' : v2 ? 'hybrid' : 'legacy';
  if (mode === 'unified' && !v2) throw new HakoError('hako: cgroup: only named cgroup v1 hierarchies are mounted, with no controllers and no cgroup v2', { code: 'unsupported' });
  return { mode, v1: mode === 'unified' ? [] : v1, v2, self };
}

/** The layout of this host, as the calling process sees it. */
export function detectCgroups(): CgroupLayout {
  let procCgroups: string | undefined;
  try {
    procCgroups = readFileSync('/proc/cgroups', 'utf8');
  } catch {
    procCgroups = undefined;
  }
  return layoutFrom(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'), procCgroups);
}

/**
 * The directory of cgroup `cgPath` (a path as /proc/PID/cgroup shows it) under a mount, or
 * undefined when the mount does not show that part of the hierarchy.
 */
export function mountedDir(mount: { mountPoint: string; root: string }, cgPath: string): string | undefined {
  const root = posix.normalize(mount.root);
  const path = posix.normalize(cgPath);
  if (root === '/') return posix.join(mount.mountPoint, path);
  if (path === root) return mount.mountPoint;
  if (path.startsWith(`${root}/`)) return posix.join(mount.mountPoint, path.slice(root.length));
  return undefined;
}
