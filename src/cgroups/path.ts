// OCI linux.cgroupsPath: which cgroup a container gets.
import { posix } from 'node:path';
import { HakoError } from '../errors.js';
import { mountedDir } from './detect.js';

export interface CgroupsPath {
  /** absolute: from the root of each hierarchy; relative: from the caller's own cgroup. */
  kind: 'absolute' | 'relative';
  /** Normalized: "/hako/<id>" when absolute, "a/b" when relative. */
  path: string;
}

/**
 * Resolve linux.cgroupsPath. Unset (or empty): "/hako/<id>". Systemd's "slice:prefix:name" form
 * is refused: hako has no systemd cgroup driver.
 */
export function parseCgroupsPath(cgroupsPath: string | undefined | null, id: string): CgroupsPath {
  if (typeof id !== 'string' || id === '' || id === '.' || id === '..' || id.includes('/') || id.includes('\0')) {
    throw new HakoError(`hako: cgroup: '${String(id)}' cannot name a cgroup (a container id is one path component)`, { code: 'bad-option' });
  }
  if (cgroupsPath === undefined || cgroupsPath === null || cgroupsPath === '') return { kind: 'absolute', path: `/hako/${id}` };
  if (typeof cgroupsPath !== 'string') throw new HakoError('hako: cgroup: linux.cgroupsPath must be a string', { code: 'bad-config' });
  if (cgroupsPath.includes('\0')) throw new HakoError('hako: cgroup: linux.cgroupsPath must not contain a NUL byte', { code: 'bad-config' });
  if (!cgroupsPath.startsWith('/') && cgroupsPath.split(':').length === 3) {
    throw new HakoError(`hako: cgroup: linux.cgroupsPath '${cgroupsPath}' is a systemd "slice:prefix:name" path, and hako has no systemd cgroup driver (this needs systemd); give a cgroupfs path such as /hako/${id} (podman: --cgroup-manager=cgroupfs; containerd: SystemdCgroup = false)`, { code: 'unsupported' });
  }
  if (cgroupsPath.split('/').includes('..')) throw new HakoError(`hako: cgroup: linux.cgroupsPath '${cgroupsPath}' must not contain '..'`, { code: 'bad-config' });
  const absolute = cgroupsPath.startsWith('/');
  const path = posix.normalize(cgroupsPath).replace(/\/+$/, '');
  if (absolute && (path === '' || path === '/')) throw new HakoError(`hako: cgroup: linux.cgroupsPath '${cgroupsPath}' names the root cgroup; a container needs a cgroup of its own`, { code: 'bad-config' });
  if (!absolute && (path === '' || path === '.')) throw new HakoError(`hako: cgroup: linux.cgroupsPath '${cgroupsPath}' names the caller's own cgroup; a container needs a cgroup of its own`, { code: 'bad-config' });
  return { kind: absolute ? 'absolute' : 'relative', path: absolute ? path : path.replace(/^\.\//, '') };
}

/** The key of the cgroup v2 directory in a manager's dirs. */
export const UNIFIED = 'unified';

/** The directory of the wanted cgroup in one hierarchy, and the path /proc/PID/cgroup will show. */
export function placeIn(mount: { mountPoint: string; root: string }, own: string | undefined, where: CgroupsPath, label: string): { dir: string; path: string } {
  if (where.kind === 'absolute') return { dir: posix.join(mount.mountPoint, where.path), path: posix.join(mount.root, where.path) };
  if (own === undefined) throw new HakoError(`hako: cgroup: /proc/self/cgroup does not say which ${label} cgroup this process is in, so the relative linux.cgroupsPath '${where.path}' has no base`, { code: 'cgroup' });
  const base = mountedDir(mount, own);
  if (base === undefined) throw new HakoError(`hako: cgroup: this process's ${label} cgroup (${own}) is outside what ${mount.mountPoint} shows, so the relative linux.cgroupsPath '${where.path}' cannot be placed`, { code: 'cgroup' });
  return { dir: posix.join(base, where.path), path: posix.join(own, where.path) };
}

