// /dev inside the container: the default devices every runtime makes, the config's devices,
// and the standard symlinks. In a user namespace devices cannot be made, so they are bound.
import { ops, PATH_KIND } from '../helper/ops.js';
import { MS } from '../linux/mount.js';
import type { Device } from '../config/types.js';
import type { PlanBuilder } from '../helper/plan-builder.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export const DEFAULT_DEVICES: Device[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
];

const LINKS: Array<[string, string]> = [
  ['/dev/fd', '/proc/self/fd'], ['/dev/stdin', '/proc/self/fd/0'],
  ['/dev/stdout', '/proc/self/fd/1'], ['/dev/stderr', '/proc/self/fd/2'],
];

function typeBits(type: Device['type']): number {
  return type === 'b' ? S_IFBLK : type === 'p' ? S_IFIFO : S_IFCHR;
}

/** Adds the ops that populate /dev: devices (mknod, or bind from the host in a user namespace), links. */
export function addDevices(b: PlanBuilder, root: number, devices: Device[], inUserNs: boolean, hasDevPts: boolean, hasProc: boolean): void {
  const seen = new Set<string>();
  const made = new Set<string>();
  // the config's devices first: one at a default's path replaces it ("MUST be available", as runc)
  for (const d of [...devices, ...DEFAULT_DEVICES]) {
    if (seen.has(d.path)) continue;
    seen.add(d.path);
    if (inUserNs) {
      b.init(ops.mkpath({ root, path: d.path, kind: PATH_KIND.FILE }), `create ${d.path}`);
      b.init(ops.mountInRoot({ root, source: d.path, target: d.path, flags: MS.BIND }),
        `bind the host's ${d.path} (no mknod in a user namespace)`);
      continue;
    }
    // a device in a subdirectory (/dev/net/tun, /dev/dri/card0): its parents first, as runc
    const parent = d.path.replace(/\/+[^/]*\/*$/, '');
    if (parent !== '/dev' && parent !== '' && !made.has(parent)) {
      made.add(parent);
      b.init(ops.mkpath({ root, path: parent, kind: PATH_KIND.DIR, mode: 0o755 }), `create ${parent}`);
    }
    const mode = typeBits(d.type) | (d.fileMode ?? 0o666);
    b.init(ops.mknod({ root, path: d.path, mode, major: d.major ?? 0, minor: d.minor ?? 0, uid: d.uid ?? 0, gid: d.gid ?? 0 }),
      `mknod ${d.path} ${d.type} ${d.major ?? 0}:${d.minor ?? 0}`);
  }
  const links = [...LINKS];
  if (hasProc) links.push(['/dev/core', '/proc/kcore']);
  if (hasDevPts) links.push(['/dev/ptmx', 'pts/ptmx']);
  for (const [path, target] of links) {
    b.init(ops.symlink({ root, path, target }), `symlink ${path} -> ${target}`);
  }
}
