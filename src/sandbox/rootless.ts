// A sandbox's limits for a user without root: through a delegated cgroup when there is one (the
// caller's own cgroup, writable by the caller, as systemd delegates one; runs get child cgroups
// there), otherwise through rlimits where an rlimit can hold the limit, and never silently not at
// all: a limit the caller asked for that cannot be enforced is refused ('unsupported') unless
// the caller allows best effort; defaults that cannot be enforced are left out and reported.
import { HakoError } from '../errors.js';
import { delegatedCgroup } from '../cgroups/delegation.js';
import type { Resources, Rlimit } from '../config/types.js';
import { resourcesOf, type SandboxLimits } from './limits.js';

/** Limits that only a cgroup can hold (no rlimit can stand in: an address-space limit breaks a
 * JVM or a Go program, and there is no rlimit for a CPU quota). */
const CGROUP_ONLY = ['memoryBytes', 'cpus'] as const;

export { delegatedCgroup };

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
    return { resources, cgroupsPath: d.delegation.cgroupsPath(`hako-sb-${runId}`), rlimits: [], notEnforced: [] };
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
