// A sandbox's limits for a user without root: through a delegated cgroup when there is one (the
// caller's own cgroup, writable by the caller, as systemd delegates one; runs get child cgroups
// there), otherwise through rlimits where an rlimit can hold the limit, and never silently not at
// all: a limit the caller asked for that cannot be enforced is refused ('unsupported') unless
// the caller allows best effort; defaults that cannot be enforced are left out and reported.
import { accessSync, constants as fsc, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { HakoError } from '../errors.js';
import { cgroupManager, detectCgroups, V1Manager, type CgroupLayout } from '../cgroups/index.js';
import type { Resources, Rlimit } from '../config/types.js';
import { resourcesOf, type SandboxLimits } from './limits.js';

export interface Delegation {
  /** linux.cgroupsPath of a run's cgroup (relative: under the caller's own cgroup). */
  cgroupsPath(runId: string): string;
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
    return (cached = { layout, why: `the delegated cgroup ${dir} (v2)`, delegation: { cgroupsPath: (id) => `${parent}/hako-sb-${id}`, where: dir } });
  }
  // v1: the run's cgroup is the caller's own + hako-sb-ID in every hierarchy (relative cgroupsPath)
  let dirs: string[];
  try { const m = cgroupManager('hako-sb-probe', 'probe', { layout }); dirs = m instanceof V1Manager ? Object.values(m.dirs).map((d) => dirname(d)) : []; } catch (e) { return (cached = { layout, why: (e as Error).message.replace(/^hako: /, '') }); }
  const bad = dirs.find((d) => !writable(d) || !writable(join(d, 'cgroup.procs'), false));
  if (bad !== undefined || dirs.length === 0) return (cached = { layout, why: `no delegated cgroup: ${bad ?? 'no hierarchy'} (this process's own cgroup) is not writable by uid ${process.geteuid?.()}` });
  return (cached = { layout, why: `the delegated cgroups ${dirs.join(', ')} (v1)`, delegation: { cgroupsPath: (id) => `hako-sb-${id}`, where: dirs.join(', ') } });
}

/** For tests of this process: detect again. */
export function forgetDelegation(): void { cached = undefined; }

/** Limits that only a cgroup can hold (no rlimit can stand in: an address-space limit breaks a
 * JVM or a Go program, and there is no rlimit for a CPU quota). */
const CGROUP_ONLY = ['memoryBytes', 'cpus'] as const;

export interface RootlessPlan {
  resources: Resources | undefined;
  cgroupsPath: string | undefined;
  rlimits: Rlimit[];
  /** Limits set (by default or asked with best effort) that are not enforced here. */
  notEnforced: string[];
}

/** What a rootless run's limits become; refuses a limit that was asked for and cannot be held. */
export function rootlessPlan(l: SandboxLimits, explicit: Set<string>, bestEffort: boolean, runId: string): RootlessPlan {
  const d = delegatedCgroup();
  if (d.delegation) {
    // device rules need CAP_SYS_ADMIN (v1) or a BPF program (v2): the user namespace's own /dev is bound devices anyway
    const { devices: _devices, ...resources } = resourcesOf(l);
    return { resources, cgroupsPath: d.delegation.cgroupsPath(runId), rlimits: [], notEnforced: [] };
  }
  const notEnforced: string[] = [];
  for (const k of CGROUP_ONLY) {
    if (l[k] === undefined) continue;
    if (explicit.has(k) && !bestEffort) {
      throw new HakoError(`hako: sandbox: limits.${k}: cannot be enforced for a user without root here (${d.why}; it needs a cgroup); allow best effort (bestEffort: true, --best-effort) to run without it`, { code: 'unsupported' });
    }
    notEnforced.push(k);
  }
  const rlimits: Rlimit[] = [];
  // the keeper is a process of uid 0 of the sandbox's user namespace too: one more
  if (l.pids !== undefined) rlimits.push({ type: 'RLIMIT_NPROC', soft: l.pids + 1, hard: l.pids + 1 });
  return { resources: undefined, cgroupsPath: undefined, rlimits, notEnforced };
}
