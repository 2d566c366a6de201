// The OCI runtime-spec 1.2 config.json, Linux parts, as TypeScript types (config.md, config-linux.md).
// Field names and optionality follow the spec; integer widths are noted where the spec gives them.
// Unknown properties are allowed by the spec and kept on the parsed objects, so they are not typed.
import type {
  CAPABILITIES, CGROUP_DEVICE_TYPES, DEVICE_TYPES, HOOK_NAMES, IO_PRIORITY_CLASSES, NAMESPACE_TYPES,
  PERSONALITY_DOMAINS, PERSONALITY_FLAGS, RLIMITS, ROOTFS_PROPAGATIONS, SCHED_FLAGS, SCHED_POLICIES, SECCOMP_ACTIONS, SECCOMP_ARCHS,
  SECCOMP_FLAGS, SECCOMP_OPERATORS, TIME_CLOCKS,
} from './known.js';

export type LinuxNamespaceType = (typeof NAMESPACE_TYPES)[number];
export type KnownCapability = (typeof CAPABILITIES)[number];
export type RlimitType = (typeof RLIMITS)[number];
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];
export type SeccompArch = (typeof SECCOMP_ARCHS)[number];
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];
export type HookName = (typeof HOOK_NAMES)[number];
export type DeviceType = (typeof DEVICE_TYPES)[number];
export type CgroupDeviceType = (typeof CGROUP_DEVICE_TYPES)[number];
export type RootfsPropagation = (typeof ROOTFS_PROPAGATIONS)[number];
export type TimeClock = (typeof TIME_CLOCKS)[number];
export type PersonalityDomain = (typeof PERSONALITY_DOMAINS)[number];
export type IOPriorityClass = (typeof IO_PRIORITY_CLASSES)[number];
export type SchedulerPolicy = (typeof SCHED_POLICIES)[number];
export type SchedulerFlag = (typeof SCHED_FLAGS)[number];

export interface Spec {
  ociVersion: string;
  /** REQUIRED on Linux. */
  root: Root;
  mounts?: Mount[];
  /** Optional for create; required by start. */
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  /** Absolute, or relative to the bundle. */
  path: string;
  readonly?: boolean;
}

export interface IDMapping {
  /** uint32 */
  containerID: number;
  /** uint32 */
  hostID: number;
  /** uint32, at least 1 */
  size: number;
}

export interface Mount {
  /** Should be absolute; a relative one (deprecated) is relative to "/". */
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  /** The spec requires uid and gid inside user; runc takes a missing user as 0:0. */
  user?: User;
  /** At least one entry (non-Windows). */
  args: string[];
  /** Windows only: ignored on Linux. */
  commandLine?: string;
  /** KEY=value entries. */
  env?: string[];
  /** Absolute. */
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  selinuxLabel?: string;
  /** -1000 … 1000 */
  oomScoreAdj?: number;
  ioPriority?: IOPriority;
  scheduler?: Scheduler;
  execCPUAffinity?: CPUAffinity;
}

export interface ConsoleSize {
  height: number;
  width: number;
}

export interface User {
  /** uint32 */
  uid: number;
  /** uint32 */
  gid: number;
  /** uint32 */
  umask?: number;
  additionalGids?: number[];
}

/** Names are strings: unknown ones are warned about and ignored, as the spec asks. */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Rlimit {
  type: RlimitType;
  /** uint64 */
  hard: number;
  /** uint64, at most hard */
  soft: number;
}

export interface IOPriority {
  class: IOPriorityClass;
  /** 0 (highest) … 7 (lowest) */
  priority: number;
}

export interface Scheduler {
  policy: SchedulerPolicy;
  /** int32 */
  nice?: number;
  /** int32 */
  priority?: number;
  flags?: SchedulerFlag[];
  /** uint64 nanoseconds */
  runtime?: number;
  /** uint64 nanoseconds */
  deadline?: number;
  /** uint64 nanoseconds */
  period?: number;
}

/** CPU lists like "0-3,7". */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

export interface Hook {
  /** Absolute. */
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, greater than zero. */
  timeout?: number;
}

export type Hooks = { [K in HookName]?: Hook[] };

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  timeOffsets?: { [K in TimeClock]?: TimeOffset };
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  intelRdt?: IntelRdt;
  sysctl?: Record<string, string>;
  seccomp?: Seccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: Personality;
  /** Host network devices moved into the container's network namespace (runtime-spec "Network
   * Devices"): key the host's name, `name` the name inside (default the same). */
  netDevices?: Record<string, NetDevice>;
}

export interface NetDevice {
  name?: string;
}

export interface Namespace {
  type: LinuxNamespaceType;
  /** Absolute: join this namespace instead of creating one. */
  path?: string;
}

export interface TimeOffset {
  /** int64 */
  secs?: number;
  /** uint32, below 1e9 */
  nanosecs?: number;
}

export interface Device {
  type: DeviceType;
  /** Absolute path inside the container. */
  path: string;
  /** int64; required unless type is p. */
  major?: number;
  /** int64; required unless type is p. */
  minor?: number;
  /** uint32 */
  fileMode?: number;
  /** uint32 */
  uid?: number;
  /** uint32 */
  gid?: number;
}

export interface Resources {
  devices?: DeviceCgroup[];
  memory?: Memory;
  cpu?: CPU;
  blockIO?: BlockIO;
  hugepageLimits?: HugepageLimit[];
  network?: Network;
  pids?: Pids;
  rdma?: Record<string, Rdma>;
  unified?: Record<string, string>;
}

export interface DeviceCgroup {
  allow: boolean;
  type?: CgroupDeviceType;
  /** int64 */
  major?: number;
  /** int64 */
  minor?: number;
  /** Letters from r, w, m. */
  access?: string;
}

/** Bytes (int64), -1 for unlimited. */
export interface Memory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  /** 0 … 100 */
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CPU {
  /** uint64 */
  shares?: number;
  /** int64 */
  quota?: number;
  /** uint64 */
  burst?: number;
  /** uint64 */
  period?: number;
  /** int64 */
  realtimeRuntime?: number;
  /** uint64 */
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  /** int64 */
  idle?: number;
}

export interface BlockIO {
  /** uint16 */
  weight?: number;
  /** uint16 */
  leafWeight?: number;
  weightDevice?: WeightDevice[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface WeightDevice {
  major: number;
  minor: number;
  /** uint16; at least one of weight and leafWeight. */
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  /** uint64 */
  rate: number;
}

export interface HugepageLimit {
  /** "<size><unit-prefix>B", e.g. 2MB */
  pageSize: string;
  /** uint64 bytes */
  limit: number;
}

export interface Network {
  /** uint32 */
  classID?: number;
  priorities?: InterfacePriority[];
}

export interface InterfacePriority {
  name: string;
  /** uint32 */
  priority: number;
}

export interface Pids {
  /** int64 */
  limit: number;
}

/** At least one of the two. */
export interface Rdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface IntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  /** Starts with "MB:", no newlines. */
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

export interface Seccomp {
  defaultAction: SeccompAction;
  /** uint */
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  listenerPath?: string;
  /** Only with listenerPath. */
  listenerMetadata?: string;
  syscalls?: Syscall[];
}

export interface Syscall {
  /** At least one. */
  names: string[];
  action: SeccompAction;
  /** uint */
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompArg {
  /** 0 … 5 */
  index: number;
  /** uint64 */
  value: number;
  /** uint64 */
  valueTwo?: number;
  op: SeccompOperator;
}

export interface Personality {
  domain: PersonalityDomain;
  flags?: Array<keyof typeof PERSONALITY_FLAGS>;
}
