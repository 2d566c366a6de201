// Cgroups for containers: one interface, a cgroup v1 backend (legacy and hybrid hosts) and a
// cgroup v2 backend (unified hosts), chosen from what /proc/self/mountinfo shows.
import { HakoError } from '../errors.js';
import type { ManagerOptions } from './base.js';
import { detectCgroups, type CgroupLayout } from './detect.js';
import type { FreezerState } from './freezer.js';
import { parseCgroupsPath } from './path.js';
import type { LinuxResources } from './resources.js';
import type { CgroupStats } from './stats.js';
import { V1Manager } from './v1.js';
import { V2Manager } from './v2.js';

export type KillSignal = NodeJS.Signals | number;

export interface CgroupManager {
  /** 1 on legacy and hybrid hosts (v1 enforces the limits), 2 on unified ones. */
  readonly version: 1 | 2;
  /** The cgroup as /proc/PID/cgroup shows it, e.g. /hako/<id>. */
  readonly path: string;
  /** Make the cgroup (and its parents) in every hierarchy. Harmless when it exists. */
  create(): void;
  /** Move a process in, in every hierarchy. */
  addProcess(pid: number): void;
  /** Apply linux.resources; refuses (HakoError) what it cannot apply, naming the file and errno. */
  set(resources: LinuxResources): void;
  freeze(): void;
  thaw(): void;
  state(): FreezerState;
  /** Every process in the cgroup and below it, in any hierarchy. */
  pids(): number[];
  stats(): CgroupStats;
  /** Whether the OOM killer has killed a process in this cgroup. */
  oomKilled(): boolean;
  /** Signal every process in the cgroup (default SIGKILL). */
  killAll(signal?: KillSignal): void;
  /** The cgroup's directories that exist now (in any hierarchy). */
  existingDirs(): string[];
  /** Remove, without signalling anything, this cgroup's directories except those in `keep` (which
   * existed before hako): waits (bounded) for them to empty. For a cgroup hako did not create. */
  removeCreated(keep: string[]): void;
  /** Kill what is left, wait (bounded), remove the cgroup leaf-first everywhere. Idempotent. */
  destroy(): void;
  /** destroy(), with the common case (nothing left inside) off the event loop. */
  destroyAsync(): Promise<void>;
  /** What a `cgroup` mount inside the container needs (see src/oci/plan.ts). */
  mountInfo(): CgroupMountInfo;
  /** The files and directory a process uses to join by itself (see BaseManager.joinPlan). */
  joinPlan(): CgroupJoinPlan;
}

export interface CgroupJoinPlan {
  /** v1 `tasks` files: the process writes "0" to each. */
  tasks: string[];
  /** The v2 directory to be forked into (clone3 CLONE_INTO_CGROUP). */
  v2?: string;
}

/**
 * For a container's /sys/fs/cgroup: v2 mounts a fresh cgroup2 (in the container's cgroup
 * namespace); v1 binds this cgroup's directory of each hierarchy under the name its host mount
 * point has (as runc does: "memory", "cpu,cpuacct", "systemd", and "unified" on a hybrid host).
 */
export interface CgroupMountInfo {
  cgroupV1Dirs?: Array<{ name: string; host: string }>;
  cgroupV2?: boolean;
}

export interface CgroupManagerOptions extends ManagerOptions {
  /** The host's layout (default: detected from /proc/self/mountinfo and /proc/self/cgroup). */
  layout?: CgroupLayout;
  /** Force a backend: 2 uses only the v2 hierarchy even on a hybrid host. */
  version?: 1 | 2;
}

/**
 * The manager of a container's cgroup. cgroupsPath is OCI linux.cgroupsPath: an absolute path is
 * taken from the root of each hierarchy, a relative one from the caller's own cgroup, and unset
 * means /hako/<id>. Systemd "slice:prefix:name" paths are refused. Nothing is touched until create().
 */
export function cgroupManager(cgroupsPath: string | undefined, id: string, options: CgroupManagerOptions = {}): CgroupManager {
  const where = parseCgroupsPath(cgroupsPath, id);
  if (cgroupsPath === undefined || cgroupsPath === null || cgroupsPath === '') options = { ...options, ownParent: true };
  const layout = options.layout ?? detectCgroups();
  const version = options.version ?? (layout.mode === 'unified' ? 2 : 1);
  if (version === 2) {
    if (!layout.v2) throw new HakoError('hako: cgroup: cgroup v2 is not mounted on this host (see /proc/self/mountinfo)', { code: 'unsupported' });
    return new V2Manager(layout, where, options);
  }
  if (layout.mode === 'unified') throw new HakoError('hako: cgroup: this host has only cgroup v2; there is no cgroup v1 hierarchy to use', { code: 'unsupported' });
  return new V1Manager(layout, where, options);
}

export { V1Manager } from './v1.js';
export { V2Manager } from './v2.js';
export { detectCgroups, layoutFrom, parseMountinfo, parseProcCgroup, mountedDir, type CgroupLayout, type CgroupMode, type V1Hierarchy, type V2Hierarchy, type SelfCgroups, type MountEntry } from './detect.js';
export { parseCgroupsPath, type CgroupsPath } from './path.js';
export { CgroupError } from './files.js';
export { sharesToWeight, blkioToIoWeight, swapToV2 } from './convert.js';
export { normalizeResources } from './validate.js';
export type { FreezerState } from './freezer.js';
export type { CgroupStats, MemoryStats, PidsStats, CpuStats } from './stats.js';
export type * from './resources.js';
