// The cgroup delegated to a user without root, if any: the caller's own cgroup (v1: in every
// hierarchy) or its parent (v2), writable by the caller, as systemd delegates one. A rootless
// sandbox's runs and a rootless `hako run` without cgroupsPath make their cgroups there.
import { accessSync, constants as fsc, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { detectCgroups, type CgroupLayout } from './detect.js';
import { cgroupManager } from './index.js';
import { V1Manager } from './v1.js';

export interface Delegation {
  /** linux.cgroupsPath of a cgroup named `name` there (absolute where the caller's own cgroup is
   * the same path in every hierarchy, else relative to it). */
  cgroupsPath(name: string): string;
  /** Where, for people. */
  where: string;
}

function writable(path: string, dir = true): boolean {
  try { accessSync(path, dir ? fsc.W_OK | fsc.X_OK : fsc.W_OK); return true; } catch { return false; }
}

let cached: { layout?: CgroupLayout; delegation?: Delegation; why: string } | undefined;

/**
 * The caller's delegated cgroup, or why there is none. cgroup v1: the caller's own cgroup in every
 * mounted hierarchy, each writable with its cgroup.procs (a run's cgroup is made in each). cgroup
 * v2: the parent of the caller's own cgroup (the caller's process is in a leaf, as the
 * no-internal-processes rule wants), writable, with memory and pids in its cgroup.subtree_control.
 */
export function delegatedCgroup(): { layout?: CgroupLayout; delegation?: Delegation; why: string } {
  if (cached) return cached;
  let layout: CgroupLayout;
  try { layout = detectCgroups(); } catch (e) { return (cached = { why: (e as Error).message.replace(/^hako: /, '') }); }
  if (layout.mode === 'unified') {
    const own = layout.self.v2;
    const mount = layout.v2?.mountPoint;
    if (!own || !mount || own === '/') return (cached = { layout, why: 'this process is in the root cgroup (v2): no cgroup is delegated to it' });
    const parent = posix.dirname(own);
    const dir = join(mount, parent);
    if (parent === '/' || !writable(dir) || !writable(join(dir, 'cgroup.procs'), false)) return (cached = { layout, why: `no delegated cgroup: ${dir} (the parent of this process's cgroup) is not writable by uid ${process.geteuid?.()}` });
    let ctl = '';
    try { ctl = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8'); } catch { /* none */ }
    const missing = ['memory', 'pids'].filter((c) => !ctl.split(/\s+/).includes(c));
    if (missing.length) return (cached = { layout, why: `no delegated cgroup: ${dir} does not enable ${missing.join(' and ')} for its children (cgroup.subtree_control)` });
    return (cached = { layout, why: `the delegated cgroup ${dir} (v2)`, delegation: { cgroupsPath: (name) => `${parent}/${name}`, where: dir } });
  }
  // v1: the run's cgroup is the caller's own + hako-sb-ID in every hierarchy (relative cgroupsPath)
  let dirs: string[];
  try { const m = cgroupManager('hako-sb-probe', 'probe', { layout }); dirs = m instanceof V1Manager ? Object.values(m.dirs).map((d) => dirname(d)) : []; } catch (e) { return (cached = { layout, why: (e as Error).message.replace(/^hako: /, '') }); }
  const bad = dirs.find((d) => !writable(d) || !writable(join(d, 'cgroup.procs'), false));
  if (bad !== undefined || dirs.length === 0) return (cached = { layout, why: `no delegated cgroup: ${bad ?? 'no hierarchy'} (this process's own cgroup) is not writable by uid ${process.geteuid?.()}` });
  const own = new Set([...layout.self.v1.values(), ...(layout.v2 && layout.self.v2 !== undefined ? [layout.self.v2] : [])]);
  const same = own.size === 1 ? [...own][0] : undefined;
  const base = same !== undefined && same !== '/' ? same : undefined;
  return (cached = { layout, why: `the delegated cgroups ${dirs.join(', ')} (v1)`, delegation: { cgroupsPath: (name) => (base !== undefined ? `${base}/${name}` : name), where: dirs.join(', ') } });
}

/** For tests of this process: detect again. */
export function forgetDelegation(): void { cached = undefined; }

