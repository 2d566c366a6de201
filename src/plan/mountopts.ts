// OCI mount options → what the helper does: mount(2) flags, data, propagation, and the
// mount_setattr(2) attributes for bind mounts and the recursive (r*) options.
import { HakoError } from '../errors.js';
import { MOUNT_ATTR as ATTR, MS } from '../linux/mount.js';

export interface MountPlan {
  /** Flags for the mount(2) call itself (without MS_BIND/MS_REC for binds). */
  flags: number;
  /** Comma-joined data options (filesystem specific, e.g. mode=755,size=65536k). */
  data: string;
  bind: boolean;
  recursive: boolean;
  /** tmpcopyup (runc's extension, podman's tmpfs mounts): the image's directory is copied into the tmpfs. */
  copyUp: boolean;
  /** idmap / ridmap (runc's options): an id-mapped mount, with the container's maps unless the
   * mount has its own; ridmap maps the whole tree. */
  idmap: boolean;
  ridmap: boolean;
  /** Propagation type flags to apply after mounting (MS_PRIVATE ... with MS_REC for r*). */
  propagation: number[];
  /** Attributes to set and clear on the mount, and whether on the whole tree. */
  attrSet: number;
  attrClear: number;
  recursiveSet: number;
  recursiveClear: number;
}

type FlagEffect = { set?: number; clear?: number; attr?: number; clearAttr?: number };

/** mount(2) flags linux/mount.ts does not name (only acl/noacl and iversion/noiversion use them). */
const MS_POSIXACL = 1 << 16;
const MS_I_VERSION = 1 << 23;

const FLAGS: Record<string, FlagEffect> = {
  ro: { set: MS.RDONLY, attr: ATTR.RDONLY }, rw: { clear: MS.RDONLY, clearAttr: ATTR.RDONLY },
  nosuid: { set: MS.NOSUID, attr: ATTR.NOSUID }, suid: { clear: MS.NOSUID, clearAttr: ATTR.NOSUID },
  nodev: { set: MS.NODEV, attr: ATTR.NODEV }, dev: { clear: MS.NODEV, clearAttr: ATTR.NODEV },
  noexec: { set: MS.NOEXEC, attr: ATTR.NOEXEC }, exec: { clear: MS.NOEXEC, clearAttr: ATTR.NOEXEC },
  sync: { set: MS.SYNCHRONOUS }, async: { clear: MS.SYNCHRONOUS },
  dirsync: { set: MS.DIRSYNC }, mand: { set: MS.MANDLOCK }, nomand: { clear: MS.MANDLOCK },
  atime: { clear: MS.NOATIME }, noatime: { set: MS.NOATIME, attr: ATTR.NOATIME },
  diratime: { clear: MS.NODIRATIME }, nodiratime: { set: MS.NODIRATIME, attr: ATTR.NODIRATIME },
  relatime: { set: MS.RELATIME }, norelatime: { clear: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME, attr: ATTR.STRICTATIME }, nostrictatime: { clear: MS.STRICTATIME },
  lazytime: { set: MS.LAZYTIME }, nolazytime: { clear: MS.LAZYTIME },
  nosymfollow: { set: MS.NOSYMFOLLOW, attr: ATTR.NOSYMFOLLOW }, symfollow: { clear: MS.NOSYMFOLLOW, clearAttr: ATTR.NOSYMFOLLOW },
  acl: { set: MS_POSIXACL }, noacl: { clear: MS_POSIXACL },
  iversion: { set: MS_I_VERSION }, noiversion: { clear: MS_I_VERSION },
  defaults: {}, remount: { set: MS.REMOUNT }, silent: { set: MS.SILENT }, loud: { clear: MS.SILENT },
};

const RECURSIVE: Record<string, { set?: number; clear?: number }> = {
  rro: { set: ATTR.RDONLY }, rrw: { clear: ATTR.RDONLY },
  rnosuid: { set: ATTR.NOSUID }, rsuid: { clear: ATTR.NOSUID },
  rnodev: { set: ATTR.NODEV }, rdev: { clear: ATTR.NODEV },
  rnoexec: { set: ATTR.NOEXEC }, rexec: { clear: ATTR.NOEXEC },
  rnodiratime: { set: ATTR.NODIRATIME }, rdiratime: { clear: ATTR.NODIRATIME },
  rrelatime: { set: ATTR.RELATIME, clear: ATTR.ATIME_MASK }, rnorelatime: { clear: ATTR.ATIME_MASK },
  rnoatime: { set: ATTR.NOATIME, clear: ATTR.ATIME_MASK }, ratime: { clear: ATTR.ATIME_MASK },
  rstrictatime: { set: ATTR.STRICTATIME, clear: ATTR.ATIME_MASK }, rnostrictatime: { clear: ATTR.ATIME_MASK },
  rnosymfollow: { set: ATTR.NOSYMFOLLOW }, rsymfollow: { clear: ATTR.NOSYMFOLLOW },
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** Every mount option name hako understands (features: mountOptions). */
export function supportedMountOptions(): string[] {
  return ['bind', 'rbind', 'tmpcopyup', 'idmap', 'ridmap', ...Object.keys(FLAGS), ...Object.keys(RECURSIVE), ...Object.keys(PROPAGATION)].sort();
}

export function planMountOptions(options: string[] | undefined, type: string | undefined, where: string): MountPlan {
  const plan: MountPlan = {
    flags: 0, data: '', bind: type === 'bind', recursive: false, copyUp: false, idmap: false, ridmap: false, propagation: [],
    attrSet: 0, attrClear: 0, recursiveSet: 0, recursiveClear: 0,
  };
  const data: string[] = [];
  for (const option of options ?? []) {
    if (option === 'bind' || option === 'rbind') {
      plan.bind = true;
      plan.recursive ||= option === 'rbind';
      continue;
    }
    if (option === 'tmpcopyup') {
      // runc's extension: never mount(2) data; it means something only to a tmpfs
      plan.copyUp = true;
      continue;
    }
    if (option === 'idmap' || option === 'ridmap') {
      plan.idmap = true;
      plan.ridmap ||= option === 'ridmap';
      continue;
    }
    const flag = FLAGS[option];
    if (flag) {
      if (flag.set) plan.flags |= flag.set;
      if (flag.clear) plan.flags &= ~flag.clear;
      if (flag.attr) { plan.attrSet |= flag.attr; plan.attrClear &= ~flag.attr; }
      if (flag.clearAttr) { plan.attrClear |= flag.clearAttr; plan.attrSet &= ~flag.clearAttr; }
      continue;
    }
    const rec = RECURSIVE[option];
    if (rec) {
      plan.recursiveSet |= rec.set ?? 0;
      plan.recursiveClear |= rec.clear ?? 0;
      continue;
    }
    const propagation = PROPAGATION[option];
    if (propagation !== undefined) {
      plan.propagation.push(propagation);
      continue;
    }
    data.push(option); // filesystem data (mode=, size=, newinstance, ptmxmode=, gid= ...)
  }
  // a relative atime choice replaces the default: the attr set carries it, the mask clears the old one
  if (plan.attrSet & (ATTR.NOATIME | ATTR.STRICTATIME)) plan.attrClear |= ATTR.ATIME_MASK;
  plan.data = data.join(',');
  if (plan.copyUp && (plan.bind || type !== 'tmpfs')) {
    throw new HakoError(`hako: config.json: ${where}: mount option 'tmpcopyup' is only for tmpfs mounts (this one is ${plan.bind ? 'a bind' : `of type ${type ?? 'none'}`})`, { code: 'bad-config' });
  }
  if (plan.idmap && !plan.bind) {
    throw new HakoError(`hako: config.json: ${where}: mount option 'idmap' is only for bind mounts (id-mapped mounts are binds)`, { code: 'bad-config' });
  }
  return plan;
}
