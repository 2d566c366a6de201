// Cgroups for containers: one interface, a cgroup v1 backend (legacy and hybrid hosts) and a
// cgroup v2 backend (unified hosts), chosen from what /proc/self/mountinfo shows.
import { HakoError } from '../errors.js';
import type { ManagerOptions } from './base.js';
import { detectCgroups, type CgroupLayout } from './detect.js';
import type { CgroupManager } from './manager.js';
import { parseCgroupsPath } from './path.js';
import { V1Manager } from './v1.js';
import { V2Manager } from './v2.js';

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

export type { CgroupJoinPlan, CgroupManager, CgroupMountInfo, CgroupSteps, KillSignal } from './manager.js';
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
