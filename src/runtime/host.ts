// The facts about the host the create planner needs (src/plan reads no file itself): gathered
// here, once per create or run, before the plan is made.
import { existsSync, readFileSync, statfsSync, statSync } from 'node:fs';
import type { Spec } from '../config/types.js';
import { runningInUserNs } from './rootless.js';
import { type BindSource, bindSources, type HostFacts } from '../plan/plan.js';

const PROC_SUPER_MAGIC = 0x9fa0;

function hostHas(file: string, content?: string): boolean {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return content === undefined || text === content;
  } catch {
    return false;
  }
}

function bindSource(source: string): BindSource {
  let kind: BindSource['kind'];
  try { kind = statSync(source).isDirectory() ? 'dir' : 'file'; } catch { return { kind: 'missing', procfs: false }; }
  let procfs = false;
  try { procfs = statfsSync(source).type === PROC_SUPER_MAGIC; } catch { /* as not a procfs */ }
  return { kind, procfs };
}

const NS_FILE: Record<string, string> = { pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time' };

/** The namespace paths of the config that name hako's own namespace of their type (or cannot be
 * read: then they count as the host's, the safe side). */
function joinedHostNamespaces(spec: Spec): Set<string> {
  const out = new Set<string>();
  for (const n of spec.linux?.namespaces ?? []) {
    if (!n.path) continue;
    try {
      const a = statSync(n.path);
      // hako's own, or PID 1's (hako may itself run in a private one)
      for (const owner of ['self', '1']) {
        let b;
        try { b = statSync(`/proc/${owner}/ns/${NS_FILE[n.type] ?? n.type}`); } catch { continue; }
        if (a.dev === b.dev && a.ino === b.ino) out.add(n.path);
      }
    } catch {
      out.add(n.path);
    }
  }
  return out;
}

/** The host as the plan for this config sees it: AppArmor and SELinux are read only when the
 * config asks for a profile or a label (otherwise the planner does not look). */
export function hostFacts(spec: Spec, bundle: string): HostFacts {
  const p = spec.process;
  return {
    kcore: existsSync('/proc/kcore'),
    inUserNs: runningInUserNs(),
    joinedHostNs: joinedHostNamespaces(spec),
    apparmor: !!p?.apparmorProfile && hostHas('/sys/module/apparmor/parameters/enabled', 'Y'),
    selinux: !!(p?.selinuxLabel || spec.linux?.mountLabel) && hostHas('/sys/fs/selinux/enforce'),
    bindSources: new Map(bindSources(spec, bundle).map((s) => [s, bindSource(s)])),
  };
}

/** The bounding set hako runs with (CapBnd of /proc/self/status); undefined if unreadable. */
export function ownBoundingSet(): bigint | undefined {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}
