// The OCI runtime-spec `linux.resources` shape, self-contained so that src/cgroups depends on
// nothing but itself. Every field is optional (and null is taken as "not set"), so the full
// config types in src/config/ are assignable to these.

export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

export interface LinuxMemory {
  /** Bytes; -1 is unlimited. */
  limit?: number | null;
  reservation?: number | null;
  /** Memory plus swap, in bytes (the v1 meaning); -1 is unlimited. */
  swap?: number | null;
  /** Deprecated by the spec, and ignored by Linux 6.1 and later. */
  kernel?: number | null;
  kernelTCP?: number | null;
  swappiness?: number | null;
  disableOOMKiller?: boolean | null;
  useHierarchy?: boolean | null;
  checkBeforeUpdate?: boolean | null;
}

export interface LinuxCPU {
  shares?: number | null;
  quota?: number | null;
  burst?: number | null;
  period?: number | null;
  realtimeRuntime?: number | null;
  realtimePeriod?: number | null;
  cpus?: string | null;
  mems?: string | null;
  idle?: number | null;
}

export interface LinuxPids {
  /** 0 or negative: no limit. */
  limit?: number | null;
}

export interface LinuxBlockIODevice {
  major: number;
  minor: number;
}

export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number | null;
  leafWeight?: number | null;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number | null;
  leafWeight?: number | null;
  weightDevice?: LinuxWeightDevice[] | null;
  throttleReadBpsDevice?: LinuxThrottleDevice[] | null;
  throttleWriteBpsDevice?: LinuxThrottleDevice[] | null;
  throttleReadIOPSDevice?: LinuxThrottleDevice[] | null;
  throttleWriteIOPSDevice?: LinuxThrottleDevice[] | null;
}

export interface LinuxHugepageLimit {
  /** "2MB", "1GB", "64KB". */
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number | null;
  priorities?: LinuxInterfacePriority[] | null;
}

export interface LinuxRdma {
  hcaHandles?: number | null;
  hcaObjects?: number | null;
}

export interface LinuxResources {
  /** Device cgroup rules. Not applied by CgroupManager.set (see its notes). */
  devices?: LinuxDeviceCgroup[] | null;
  memory?: LinuxMemory | null;
  cpu?: LinuxCPU | null;
  pids?: LinuxPids | null;
  blockIO?: LinuxBlockIO | null;
  hugepageLimits?: LinuxHugepageLimit[] | null;
  network?: LinuxNetwork | null;
  rdma?: Record<string, LinuxRdma> | null;
  /** cgroup v2 files and their values, e.g. { "memory.high": "100M" }. */
  unified?: Record<string, string> | null;
}

/** Every key the spec defines, per object: anything else is refused rather than dropped. */
export const KNOWN_KEYS = {
  resources: ['devices', 'memory', 'cpu', 'pids', 'blockIO', 'hugepageLimits', 'network', 'rdma', 'unified'],
  memory: ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate'],
  cpu: ['shares', 'quota', 'burst', 'period', 'realtimeRuntime', 'realtimePeriod', 'cpus', 'mems', 'idle'],
  pids: ['limit'],
  blockIO: ['weight', 'leafWeight', 'weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'],
  network: ['classID', 'priorities'],
} as const;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/** Compile-time: each KNOWN_KEYS list names exactly its interface's fields (a field added to one
 * and not the other fails the typecheck). */
export type KnownKeysMatch = Assert<[
  Same<keyof LinuxResources, (typeof KNOWN_KEYS.resources)[number]>,
  Same<keyof LinuxMemory, (typeof KNOWN_KEYS.memory)[number]>,
  Same<keyof LinuxCPU, (typeof KNOWN_KEYS.cpu)[number]>,
  Same<keyof LinuxPids, (typeof KNOWN_KEYS.pids)[number]>,
  Same<keyof LinuxBlockIO, (typeof KNOWN_KEYS.blockIO)[number]>,
  Same<keyof LinuxNetwork, (typeof KNOWN_KEYS.network)[number]>,
] extends [true, true, true, true, true, true] ? true : false>;
