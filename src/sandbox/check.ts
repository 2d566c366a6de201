// What a sandbox can enforce on this host, and why (`hako sandbox check`, Sandbox.capabilities()).
import { existsSync, readFile } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { detectCgroups } from '../cgroups/index.js';
import { userNsRestriction } from '../runtime/rootless.js';
import { keeperMaps } from './keeper.js';
import { delegatedCgroup } from './rootless.js';

export interface LimitSupport {
  enforced: boolean;
  /** How it is enforced, or why not. */
  how: string;
}

/** Each limit and safeguard: enforced here or not, and how or why. */
export async function sandboxCapabilities(): Promise<Record<string, LimitSupport>> {
  const root = (process.geteuid?.() ?? 0) === 0;
  const out: Record<string, LimitSupport> = {};
  const deleg = root ? undefined : delegatedCgroup();
  if (!root && !deleg?.delegation) {
    const why = deleg?.why ?? 'no delegated cgroup';
    const no = (what: string) => ({ enforced: false, how: `${why}: ${what}` });
    out.memoryBytes = no('a memory limit needs a cgroup (an address-space rlimit would break a JVM or Go program): refused when asked, unless best effort; the default is left out');
    out.cpus = no('a CPU quota needs a cgroup: refused when asked, unless best effort; the default is left out');
    out.pids = { enforced: true, how: "RLIMIT_NPROC, counted per uid of the sandbox's user namespace (Linux 5.14+): the sandbox's concurrent runs share it" };
    out.cpuTimeMs = { enforced: true, how: 'RLIMIT_CPU, per process and in whole seconds (not the total of the run): SIGXCPU gives the verdict cpu-time' };
    out.maxRssBytes = no('not measured (undefined)');
    out.pidsPeak = no('not measured (undefined)');
    out.cpuUsage = no('cpuUserMs and cpuSystemMs are not measured (0)');
    out.diskBytes = { enforced: true, how: "a tmpfs of that size, mounted in the sandbox's user namespace, holds the writable layer, /tmp and /dev/shm: ENOSPC inside" };
  } else {
    if (!root) out.cgroups = { enforced: true, how: `${deleg?.why}: each run gets a child cgroup there` };
    let layout;
    try { layout = detectCgroups(); } catch (e) { layout = undefined; out.cgroups = { enforced: false, how: (e as Error).message }; }
    const v2 = layout?.mode === 'unified';
    const dirOf = (c: string) => (v2 ? layout?.v2?.mountPoint : layout?.v1.find((h) => h.controllers.includes(c))?.mountPoint);
    const ctl = async (c: string, file: string, what: string): Promise<LimitSupport> => {
      const d = dirOf(c);
      if (d === undefined) return { enforced: false, how: `no ${c} controller is mounted (cgroup ${v2 ? 'v2' : 'v1'})` };
      if (v2) {
        const text = await promisify(readFile)(`${d}/cgroup.controllers`, 'utf8').catch(() => '');
        if (!text.split(/\s+/).includes(c)) return { enforced: false, how: `the ${c} controller is not enabled in ${d}` };
      }
      return { enforced: true, how: `${what} (cgroup ${v2 ? 'v2' : 'v1'} ${file})` };
    };
    out.memoryBytes = await ctl('memory', v2 ? 'memory.max, memory.swap.max' : 'memory.limit_in_bytes, memory.memsw.limit_in_bytes', 'the cgroup limit; OOM kills give the verdict memory');
    out.pids = await ctl('pids', 'pids.max', 'the cgroup limit: fork fails with EAGAIN past it');
    out.cpus = await ctl('cpu', v2 ? 'cpu.max' : 'cpu.cfs_quota_us', 'CFS bandwidth');
    out.cpuTimeMs = await ctl(v2 ? 'cpu' : 'cpuacct', v2 ? 'cpu.stat usage_usec' : 'cpuacct.usage', "hako polls the cgroup's CPU time and kills the run past it; RLIMIT_CPU per process as a backstop");
    out.diskBytes = { enforced: true, how: 'a tmpfs of that size holds the writable layer, /tmp and /dev/shm: ENOSPC inside' };
    const peak = v2 ? 'memory.peak' : 'memory.max_usage_in_bytes';
    out.maxRssBytes = dirOf('memory') ? { enforced: true, how: `reported from ${peak}` } : { enforced: false, how: 'no memory controller' };
    // pids.peak is in every cgroup but the root on kernels that have it (6.1+ on v1 too)
    const pd = dirOf('pids');
    out.pidsPeak = pd && await kernelAtLeast(6, 1) ? { enforced: true, how: 'reported from pids.peak' } : { enforced: false, how: 'this kernel has no pids.peak (Linux 6.1+): pidsPeak is undefined' };
  }
  out.wallTimeMs = { enforced: true, how: "hako's timer kills the run (its pid namespace's init, so every process)" };
  out.outputBytes = { enforced: true, how: "hako counts stdout and stderr, keeps at most the limit and kills the run at it" };
  out.fileSizeBytes = { enforced: true, how: 'RLIMIT_FSIZE' };
  out.openFiles = { enforced: true, how: 'RLIMIT_NOFILE' };
  out.network = { enforced: true, how: "'none': a new network namespace with only lo" };
  out.seccomp = { enforced: true, how: 'a filter that denies io_uring, keyrings, bpf, userfaultfd, perf_event_open, ptrace, mount, new user namespaces, and every foreign ABI (32-bit, x32)' };
  const maps = root ? undefined : keeperMaps();
  const kernelOverlay = (await promisify(readFile)('/proc/filesystems', 'utf8').catch(() => '')).includes('\toverlay\n');
  const fuse = root ? false : (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, 'fuse-overlayfs')));
  out.overlay = { enforced: kernelOverlay || fuse,
    how: root ? 'kernel overlayfs over the read-only base'
      : `kernel overlayfs over the read-only base, mounted in the user namespace of the sandbox (its keeper process); where the kernel refuses it there, fuse-overlayfs (${fuse ? 'installed' : 'not installed'}, needs /dev/fuse)` };
  if (maps) {
    out.userNamespace = {
      enforced: userNsRestriction() === undefined,
      how: userNsRestriction() ?? (maps.single ? `only uid and gid 0 (this user's own ids): /etc/subuid and /etc/subgid have no range for uid ${process.geteuid?.()}, so user must be 0` : `0 is this user, 1 up its first /etc/subuid and /etc/subgid ranges (newuidmap, newgidmap)`),
    };
  }
  return out;
}

async function kernelAtLeast(major: number, minor: number): Promise<boolean> {
  const text = await promisify(readFile)('/proc/sys/kernel/osrelease', 'utf8').catch(() => '0.0');
  const [a = 0, b = 0] = text.split('.').map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}
