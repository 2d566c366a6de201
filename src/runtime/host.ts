// The facts about the host the create planner needs (src/plan reads no file itself): gathered
// here, once per create or run, before the plan is made (what this process knows of itself: once
// per Runtime, OwnFacts).
import { existsSync, readFileSync, statfsSync, statSync } from 'node:fs';
import type { Spec } from '../config/types.js';
import { runningInUserNs, setgroupsDenied } from './rootless.js';
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

/**
 * What this process knows of itself, read once per Runtime (three /proc files a container
 * otherwise). Why each stays true for the Runtime's life:
 *  - its user namespace (uid_map) and whether setgroups is denied there: a process with more than
 *    one thread (Node always has them) can neither unshare nor setns a user namespace, an id map
 *    is written once, and "deny" cannot be undone; what can still change (a map not written yet,
 *    setgroups "allow" in a namespace whose gid_map is not written) is not kept, but read again;
 *  - its bounding set only shrinks, and only by prctl, which Node does not offer; the planner uses
 *    it only to name, in the error, the capabilities a failed capset asked for that it lacks.
 * A new Runtime reads them again.
 */
export class OwnFacts {
  private noSetgroups?: boolean;
  private bounding?: { value: bigint | undefined };
  private hasKcore?: boolean;

  /** The kernel has /proc/kcore (a build option: it does not come and go). */
  kcore(): boolean {
    this.hasKcore ??= existsSync('/proc/kcore');
    return this.hasKcore;
  }

  /** In a user namespace other than the initial one (rootless.ts runningInUserNs). */
  inUserNs(): boolean {
    return runningInUserNs(); // kept there once the map is written
  }

  /** setgroups(2) is denied in this process's user namespace (rootless.ts setgroupsDenied). */
  setgroupsDenied(): boolean {
    if (this.noSetgroups !== undefined) return this.noSetgroups;
    const denied = setgroupsDenied();
    // the initial namespace's "allow" is fixed; elsewhere "allow" holds once gid_map is written
    if (denied || !this.inUserNs() || mapWritten('/proc/self/gid_map')) this.noSetgroups = denied;
    return denied;
  }

  /** ownBoundingSet(), read once. */
  boundingSet(): bigint | undefined {
    this.bounding ??= { value: ownBoundingSet() };
    return this.bounding.value;
  }
}

function mapWritten(file: string): boolean {
  try { return readFileSync(file, 'utf8').trim() !== ''; } catch { return false; }
}

/** The host as the plan for this config sees it: AppArmor and SELinux are read only when the
 * config asks for a profile or a label (otherwise the planner does not look). */
export function hostFacts(spec: Spec, bundle: string, own: OwnFacts = new OwnFacts()): HostFacts {
  const p = spec.process;
  // the mounts are made in a mount namespace joined by path (/proc/PID/ns/mnt): their sources are its
  const joinedMnt = /^\/proc\/(\d+)\/ns\/mnt$/.exec((spec.linux?.namespaces ?? []).find((n) => n.type === 'mount')?.path ?? '');
  return {
    kcore: own.kcore(),
    inUserNs: own.inUserNs(),
    joinedHostNs: joinedHostNamespaces(spec),
    apparmor: !!p?.apparmorProfile && hostHas('/sys/module/apparmor/parameters/enabled', 'Y'),
    selinux: !!(p?.selinuxLabel || spec.linux?.mountLabel) && hostHas('/sys/fs/selinux/enforce'),
    bindSources: new Map(bindSources(spec, bundle).map((s) => [s, bindSource(joinedMnt ? `/proc/${joinedMnt[1]}/root${s}` : s)])),
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
