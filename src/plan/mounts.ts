// config.json mounts → helper ops: each resolved in the root by fd (MKPATH, MOUNT_IN_ROOT,
// SETATTR), and the cgroup mount (cgroup2, or v1 hierarchies bound into a tmpfs, as runc does).
import { isAbsolute, posix, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import { ops, PATH_KIND, PROCFS, type Procfs } from '../helper/ops.js';
import { AT_RECURSIVE, MOUNT_ATTR, MS, mountFlagNames } from '../linux/mount.js';
import type { IDMapping, Mount, Spec } from '../config/types.js';
import type { PlanBuilder } from '../helper/plan-builder.js';
import { planMountOptions } from './mountopts.js';
import { SLOT } from './fields.js';
import type { CreatePlanInput } from './input.js';

function mountSource(m: Mount, bundle: string): string | undefined {
  if (m.source === undefined) return undefined;
  return isAbsolute(m.source) ? m.source : resolve(bundle, m.source);
}

/** The sources of the config's bind mounts, absolute: what the runtime looks up on the host
 * (HostFacts.bindSources) before planning. A mount whose options are wrong is left to the planner,
 * which refuses it in its turn. */
export function bindSources(spec: Spec, bundle: string): string[] {
  const out: string[] = [];
  (spec.mounts ?? []).forEach((m, i) => {
    let bind: boolean;
    try { bind = planMountOptions(m.options, m.type, `mounts[${i}]`).bind; } catch { return; }
    const source = bind ? mountSource(m, bundle) : undefined;
    if (source !== undefined) out.push(source);
  });
  return out;
}

/** The files in /proc that lxcfs emulates: the only destinations inside /proc allowed (as runc). */
const PROC_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

/**
 * runc's checkProcMount: /proc itself takes only a procfs (a proc mount, or a bind of a procfs);
 * nothing else may go inside /proc but the lxcfs files. Returns the check the helper makes on the
 * resolved target: anything but an lxcfs file must not land on procfs, whatever symlink of the
 * image it went through (e.g. /etc/hostname -> /proc/sys/kernel/cap_last_cap).
 */
function procCheck(m: Mount, dest: string, where: string, bind: boolean, source: string | undefined, input: CreatePlanInput): Procfs | undefined {
  const path = posix.normalize(dest).replace(/(.)\/+$/, '$1');
  const notOnProc = PROCFS.MUST_NOT_BE;
  if (path === '/proc') {
    let isProc = !bind && m.type === 'proc';
    // a source that is missing fails later, with its own error
    if (bind && source) isProc = input.host.bindSources.get(source)?.procfs ?? false;
    if (!isProc) throw new HakoError(`hako: config.json: ${where}: ${dest} cannot be mounted because it is not of type proc`, { code: 'bad-config' });
    return notOnProc;
  }
  if (!path.startsWith('/proc/')) return notOnProc;
  if (PROC_ALLOWED.has(path)) return undefined;
  throw new HakoError(`hako: config.json: ${where}.destination: ${dest} cannot be mounted because it is inside /proc`, { code: 'bad-config' });
}

/** The uid_map and gid_map texts of an id-mapped mount (its own mappings, or with the idmap
 * option alone the container's, as runc), or undefined for a plain bind. */
function idMapping(m: Mount, i: number, idmapOption: boolean, input: CreatePlanInput): { uid: string; gid: string } | undefined {
  const text = (maps: IDMapping[]) => maps.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join('');
  if (m.uidMappings && m.gidMappings) return { uid: text(m.uidMappings), gid: text(m.gidMappings) };
  if (!idmapOption) return undefined;
  const linux = input.spec.linux;
  if (!linux?.uidMappings?.length || !linux.gidMappings?.length) {
    throw new HakoError(`hako: config.json: mounts[${i}].options: 'idmap' without uidMappings and gidMappings of the mount takes the container's (linux.uidMappings and linux.gidMappings), which are not set`, { code: 'bad-config' });
  }
  return { uid: text(linux.uidMappings), gid: text(linux.gidMappings) };
}

export function addMount(b: PlanBuilder, m: Mount, i: number, input: CreatePlanInput): void {
  const where = `mounts[${i}]`;
  const dest = m.destination.startsWith('/') ? m.destination : `/${m.destination}`;
  const opts = planMountOptions(m.options, m.type, where);
  const root = SLOT.ROOT;
  const target = dest;
  const check = procCheck(m, dest, where, opts.bind, opts.bind ? mountSource(m, input.bundle) : undefined, input);
  if (m.type === 'cgroup' || m.type === 'cgroup2') {
    addCgroupMount(b, dest, opts.flags, input, check);
    return;
  }
  if (opts.bind) {
    const source = mountSource(m, input.bundle);
    if (!source) throw new HakoError(`hako: config.json: ${where}.source: a bind mount needs a source`, { code: 'bad-config' });
    const kind = input.host.bindSources.get(source)?.kind ?? 'missing';
    if (kind === 'missing') throw new HakoError(`hako: config.json: ${where}.source: ${source} does not exist`, { code: 'bad-config' });
    const isDir = kind === 'dir';
    b.init(ops.mkpath({ root, path: dest, kind: isDir ? PATH_KIND.DIR : PATH_KIND.FILE }), `create ${dest} in the rootfs`);
    const idmap = idMapping(m, i, opts.idmap, input);
    if (idmap) {
      // made on the host by H0 (see IDMAP_TREE in docs/PROTOCOL.md), put in place here
      const slot = SLOT.IDMAP_FIRST + (input.spec.mounts ?? []).slice(0, i).filter((o, j) => idMapping(o, j, planMountOptions(o.options, o.type, `mounts[${j}]`).idmap, input)).length;
      if (slot > SLOT.IDMAP_LAST) throw new HakoError(`hako: config.json: ${where}: hako makes at most ${SLOT.IDMAP_LAST - SLOT.IDMAP_FIRST + 1} id-mapped mounts per container`, { code: 'unsupported' });
      const recursive = opts.recursive || opts.ridmap;
      b.host(ops.idmapTree({ source, slot, maps: [idmap.uid, idmap.gid], flags: recursive ? AT_RECURSIVE : undefined }),
        `an id-mapped ${recursive ? 'tree' : 'copy'} of ${source} (uid_map ${idmap.uid.trim().replace(/\n/g, ', ')}; gid_map ${idmap.gid.trim().replace(/\n/g, ', ')})`);
      b.init(ops.attach({ root, target, slot, procfs: check }), `move the id-mapped ${source} onto ${dest}`);
    } else {
      const flags = MS.BIND | (opts.recursive ? MS.REC : 0);
      // the config's field in the descriptions: a failure names it (config.json: mounts[N])
      b.init(ops.mountInRoot({ root, source, target, flags, procfs: check }),
        `config.json: ${where}: mount(${JSON.stringify(source)}, ${JSON.stringify(dest)}, ${mountFlagNames(flags)})`);
    }
  } else {
    const type = m.type ?? 'none';
    b.init(ops.mkpath({ root, path: dest, kind: PATH_KIND.DIR }), `create ${dest} in the rootfs`);
    // tmpcopyup: the image's directory stays open under the tmpfs, whose tree is then copied in
    // (mounted writable, and made read-only once filled, as runc does)
    if (opts.copyUp) b.init(ops.keepDir({ root, path: dest, slot: SLOT.COPYUP }), `open the image's ${dest} to copy it into the tmpfs (tmpcopyup)`);
    const flags = opts.copyUp ? opts.flags & ~MS.RDONLY : opts.flags;
    b.init(ops.mountInRoot({ root, source: m.source ?? type, target, fstype: type, flags, procfs: check, data: opts.data || undefined }), `config.json: ${where}: mount(${JSON.stringify(m.source ?? type)}, ${JSON.stringify(dest)}, ${JSON.stringify(type)}, ${mountFlagNames(flags)}${opts.data ? `, ${JSON.stringify(opts.data)}` : ''})`);
    if (opts.copyUp) {
      b.init(ops.copyTree({ root, path: dest, slot: SLOT.COPYUP }), `copy the image's ${dest} into its tmpfs (tmpcopyup)`);
      if (opts.flags & MS.RDONLY) b.init(ops.setattr({ root, target, set: MOUNT_ATTR.RDONLY }), `read-only ${dest}`);
    }
  }
  if (opts.bind && (opts.attrSet || opts.attrClear)) {
    b.init(ops.setattr({ root, target, set: opts.attrSet, clear: opts.attrClear }), `set the options of ${dest} (${(m.options ?? []).join(',')})`);
  }
  if (opts.recursiveSet || opts.recursiveClear) {
    b.init(ops.setattr({ root, target, set: opts.recursiveSet, clear: opts.recursiveClear, flags: AT_RECURSIVE }),
      `set the recursive options of ${dest}`);
  }
  for (const prop of opts.propagation) {
    b.init(ops.mountInRoot({ root, target, flags: prop }), `mount propagation of ${dest}: ${mountFlagNames(prop)}`);
  }
}

function addCgroupMount(b: PlanBuilder, dest: string, flags: number, input: CreatePlanInput, check: Procfs | undefined): void {
  const root = SLOT.ROOT;
  const ro = (flags & MS.RDONLY) !== 0;
  const base = flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  b.init(ops.mkpath({ root, path: dest, kind: PATH_KIND.DIR }), `create ${dest} in the rootfs`);
  if (input.cgroupV2) {
    b.init(ops.mountInRoot({ root, source: 'cgroup2', target: dest, fstype: 'cgroup2', flags: base, procfs: check }), `mount cgroup2 on ${dest}`);
    return;
  }
  // v1: a tmpfs with each hierarchy's directory of this container bound into it (as runc does)
  b.init(ops.mountInRoot({ root, source: 'tmpfs', target: dest, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'mode=755', procfs: check }), `mount tmpfs on ${dest}`);
  for (const dir of input.cgroupV1Dirs ?? []) {
    const target = `${dest}/${dir.name}`;
    b.init(ops.mkpath({ root, path: target, kind: PATH_KIND.DIR }), `create ${target}`);
    b.init(ops.mountInRoot({ root, source: dir.host, target, flags: MS.BIND }), `bind the container's ${dir.name} cgroup on ${target}`);
    const set = (ro ? MOUNT_ATTR.RDONLY : 0) | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC;
    b.init(ops.setattr({ root, target, set }), `${ro ? 'read-only, ' : ''}nosuid, nodev, noexec ${target}`);
  }
  if (ro) b.init(ops.setattr({ root, target: dest, set: MOUNT_ATTR.RDONLY }), `read-only ${dest}`);
}

