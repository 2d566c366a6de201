// mount(2) flags, and their names for explain output; mount_setattr(2) attributes.

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64,
  DIRSYNC: 128, NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192,
  REC: 16384, SILENT: 32768, UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19,
  SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

const flagNames = new Map<number, string>();

/** The names of flags (MS_BIND|MS_REC), each set of flags named once per process (a plan names
 * some for each of its mounts, for explain output and errors). */
export function mountFlagNames(flags: number): string {
  let text = flagNames.get(flags);
  if (text === undefined) {
    const names = Object.entries(MS).filter(([, bit]) => (flags & bit) !== 0).map(([name]) => `MS_${name}`);
    text = names.length ? names.join('|') : '0';
    if (flagNames.size < 1024) flagNames.set(flags, text);
  }
  return text;
}

/** mount_setattr(2) attributes (MOUNT_ATTR_*). */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME_MASK: 0x70, RELATIME: 0x0,
  NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

/** mount_setattr(2) on the whole tree under the target. */
export const AT_RECURSIVE = 0x8000;
