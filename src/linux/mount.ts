// mount(2) flags, and their names for explain output.

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64,
  DIRSYNC: 128, NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192,
  REC: 16384, SILENT: 32768, UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19,
  SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

export function mountFlagNames(flags: number): string {
  const names = Object.entries(MS).filter(([, bit]) => (flags & bit) !== 0).map(([name]) => `MS_${name}`);
  return names.length ? names.join('|') : '0';
}
