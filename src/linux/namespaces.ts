// The eight Linux namespace types: their clone flags and their /proc/PID/ns names.

export type NamespaceType = 'user' | 'mnt' | 'pid' | 'net' | 'uts' | 'ipc' | 'cgroup' | 'time';

export interface NamespaceKind {
  type: NamespaceType;
  /** CLONE_NEW* flag. */
  flag: number;
  flagName: string;
  /** util-linux's long option name. */
  option: string;
  short: string;
  /** What it isolates, for help and explain output. */
  isolates: string;
}

/** In the order they are joined: user first (it grants the rights to join the rest), mnt late. */
export const NAMESPACES: readonly NamespaceKind[] = [
  { type: 'user', flag: 0x10000000, flagName: 'CLONE_NEWUSER', option: 'user', short: 'U', isolates: 'user and group ids' },
  { type: 'cgroup', flag: 0x02000000, flagName: 'CLONE_NEWCGROUP', option: 'cgroup', short: 'C', isolates: 'the cgroup root' },
  { type: 'ipc', flag: 0x08000000, flagName: 'CLONE_NEWIPC', option: 'ipc', short: 'i', isolates: 'System V IPC and POSIX queues' },
  { type: 'uts', flag: 0x04000000, flagName: 'CLONE_NEWUTS', option: 'uts', short: 'u', isolates: 'hostname and domain name' },
  { type: 'net', flag: 0x40000000, flagName: 'CLONE_NEWNET', option: 'net', short: 'n', isolates: 'network devices, addresses, ports' },
  { type: 'pid', flag: 0x20000000, flagName: 'CLONE_NEWPID', option: 'pid', short: 'p', isolates: 'process ids' },
  { type: 'mnt', flag: 0x00020000, flagName: 'CLONE_NEWNS', option: 'mount', short: 'm', isolates: 'mount points' },
  { type: 'time', flag: 0x00000080, flagName: 'CLONE_NEWTIME', option: 'time', short: 'T', isolates: 'monotonic and boot-time clocks' },
];

export function namespaceKind(type: NamespaceType): NamespaceKind {
  const kind = NAMESPACES.find((k) => k.type === type);
  if (!kind) throw new RangeError(`unknown namespace type ${type}`);
  return kind;
}

/** "CLONE_NEWUSER|CLONE_NEWPID" for a flag mask. */
export function flagNames(mask: number): string {
  const names = NAMESPACES.filter((k) => (mask & k.flag) !== 0).map((k) => k.flagName);
  return names.length ? names.join('|') : '0';
}

/** The /proc/PID/ns entry for a type (pid and time are joined through *_for_children too). */
export function nsPath(pid: number | 'self', type: NamespaceType): string {
  return `/proc/${pid}/ns/${type}`;
}
