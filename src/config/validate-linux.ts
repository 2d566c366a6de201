// Checks for the "linux" object of config.json (config-linux.md, runtime-spec 1.2).
import {
  type Check, absolutePath, array, boolean, fail, int64, integer, keyPath, nonEmpty, object, oneOf, opt, range,
  record, string, text, uint16, uint32, uint64,
} from './check.js';
import {
  CGROUP_DEVICE_TYPES, DEVICE_TYPES, NAMESPACE_TYPES, PERSONALITY_DOMAINS, PERSONALITY_FLAGS, ROOTFS_PROPAGATIONS, SECCOMP_ACTIONS,
  SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS, TIME_CLOCKS,
} from './known.js';
import type {
  BlockIO, CPU, Device, DeviceCgroup, HugepageLimit, IDMapping, IntelRdt, InterfacePriority, Linux, Memory,
  Namespace, NetDevice, Network, Personality, Pids, Rdma, Resources, Seccomp, SeccompArg, Syscall, ThrottleDevice, TimeOffset,
  WeightDevice,
} from './types.js';

export const idMapping = object<IDMapping>({
  containerID: uint32,
  hostID: uint32,
  size: integer('a positive integer', 1, 0xffffffff),
});

/** "0-3,7"; empty means the default. */
export const cpuList = text((s) => /^(\d+(-\d+)?(,\d+(-\d+)?)*)?$/.test(s), 'a CPU list like 0-3,7');
/** A CPU list hako hands to sched_setaffinity: ranges ascending, CPUs below 8192 (the kernel's NR_CPUS at most). */
export const affinityList = text((s) => /^(\d+(-\d+)?(,\d+(-\d+)?)*)?$/.test(s) && s.split(',').every((r) => {
  if (!r) return true;
  const [a = 0, b = a] = r.split('-').map(Number);
  return a <= b && b < 8192;
}), 'a CPU list like 0-3,7 (ranges ascending, CPUs below 8192)');

/** A network interface name, as the kernel takes it (dev_valid_name). */
const IFNAME = /^(?!\.{1,2}$)[^/:\s]{1,15}$/;

const namespace = object<Namespace>({ type: oneOf(NAMESPACE_TYPES), path: opt(absolutePath) });

const timeOffset = object<TimeOffset>({ secs: opt(int64), nanosecs: opt(range(0, 999_999_999)) });
const clock = (k: string, path: string): void => {
  if (!(TIME_CLOCKS as readonly string[]).includes(k)) fail(path, `key must be ${TIME_CLOCKS.join(' or ')}`);
};

const device = object<Device>(
  {
    type: oneOf(DEVICE_TYPES),
    path: absolutePath,
    major: opt(int64),
    minor: opt(int64),
    fileMode: opt(uint32),
    uid: opt(uint32),
    gid: opt(uint32),
  },
  (d, path) => {
    if (d.type === 'p') return;
    for (const k of ['major', 'minor'] as const) if (d[k] == null) fail(keyPath(path, k), 'is required unless type is p');
  },
);

const deviceCgroup = object<DeviceCgroup>({
  allow: boolean,
  type: opt(oneOf(CGROUP_DEVICE_TYPES)),
  major: opt(int64),
  minor: opt(int64),
  access: opt(text((s) => /^[rwm]*$/.test(s), 'made of the letters r, w and m')),
});

const memory = object<Memory>({
  limit: opt(int64),
  reservation: opt(int64),
  swap: opt(int64),
  kernel: opt(int64),
  kernelTCP: opt(int64),
  swappiness: opt(range(0, 100)),
  disableOOMKiller: opt(boolean),
  useHierarchy: opt(boolean),
  checkBeforeUpdate: opt(boolean),
}, (m, path, ctx) => {
  // runc 1.1+ ignores them with a warning (Linux 6.1 removed kernel memory limits; the spec
  // deprecates them) and configs of older generators still carry them: warned, then dropped
  // (withoutKernelMemory) so nothing is written for them
  for (const k of KERNEL_MEMORY) {
    if (m[k] != null) ctx.warn(keyPath(path, k), 'is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)');
  }
  // swap is memory+swap (both cgroup versions): below the memory limit it means nothing (runc refuses it too)
  if (m.swap != null && m.limit != null && m.swap !== -1 && m.limit > 0 && m.swap < m.limit) {
    fail(keyPath(path, 'swap'), `memory+swap (${m.swap}) must be at least the memory limit (${m.limit})`);
  }
});

/** The memory fields runtimes no longer apply. */
export const KERNEL_MEMORY = ['kernel', 'kernelTCP'] as const;

/** resources without the kernel memory limits (a copy when there were some). */
export function withoutKernelMemory<R extends { memory?: Partial<Record<(typeof KERNEL_MEMORY)[number], unknown>> | null }>(r: R): R {
  const m = r.memory;
  if (!m || KERNEL_MEMORY.every((k) => m[k] === undefined)) return r;
  const { kernel: _k, kernelTCP: _t, ...rest } = m;
  return { ...r, memory: rest };
}

const cpu = object<CPU>({
  shares: opt(uint64),
  quota: opt(int64),
  burst: opt(uint64),
  period: opt(uint64),
  realtimeRuntime: opt(int64),
  realtimePeriod: opt(uint64),
  cpus: opt(cpuList),
  mems: opt(cpuList),
  idle: opt(int64),
});

const throttle = array(object<ThrottleDevice>({ major: int64, minor: int64, rate: uint64 }));
const weightDevice = object<WeightDevice>(
  { major: int64, minor: int64, weight: opt(uint16), leafWeight: opt(uint16) },
  (w, path) => {
    if (w.weight == null && w.leafWeight == null) fail(path, 'must set weight or leafWeight');
  },
);
const blockIO = object<BlockIO>({
  weight: opt(uint16),
  leafWeight: opt(uint16),
  weightDevice: opt(array(weightDevice)),
  throttleReadBpsDevice: opt(throttle),
  throttleWriteBpsDevice: opt(throttle),
  throttleReadIOPSDevice: opt(throttle),
  throttleWriteIOPSDevice: opt(throttle),
});

const hugepageLimit = object<HugepageLimit>({
  pageSize: text((s) => /^\d+[KMGTPE]?B$/.test(s), 'a page size like 2MB'),
  limit: uint64,
});

const network = object<Network>({
  classID: opt(uint32),
  priorities: opt(array(object<InterfacePriority>({ name: nonEmpty, priority: uint32 }))),
});

const rdma = object<Rdma>({ hcaHandles: opt(uint32), hcaObjects: opt(uint32) }, (r, path) => {
  if (r.hcaHandles == null && r.hcaObjects == null) fail(path, 'must set hcaHandles or hcaObjects');
});

const resources = object<Resources>({
  devices: opt(array(deviceCgroup)),
  memory: opt(memory),
  cpu: opt(cpu),
  blockIO: opt(blockIO),
  hugepageLimits: opt(array(hugepageLimit)),
  network: opt(network),
  pids: opt(object<Pids>({ limit: int64 })),
  rdma: opt(record(rdma)),
  unified: opt(record(string, (k, path) => {
    if (k === '' || k.includes('/')) fail(path, 'key must be a cgroup file name');
  })),
});

const intelRdt = object<IntelRdt>({
  closID: opt(string),
  l3CacheSchema: opt(string),
  memBwSchema: opt(text((s) => s.startsWith('MB:') && !s.includes('\n'), 'one line starting with MB:')),
  enableCMT: opt(boolean),
  enableMBM: opt(boolean),
});

/** Only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return an errno (config-linux.md "Seccomp"). */
function errnoAction(action: string, errno: number | undefined, path: string): void {
  if (errno != null && action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') {
    fail(path, 'must be set only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE');
  }
}

const seccompAction = oneOf(SECCOMP_ACTIONS);
const seccompArg = object<SeccompArg>({
  index: range(0, 5),
  value: uint64,
  valueTwo: opt(uint64),
  op: oneOf(SECCOMP_OPERATORS),
});
const syscall = object<Syscall>(
  { names: array(nonEmpty), action: seccompAction, errnoRet: opt(uint32), args: opt(array(seccompArg)) },
  (s, path, ctx) => {
    errnoAction(s.action, s.errnoRet, keyPath(path, 'errnoRet'));
    // a rule for no syscall does nothing: runc loads the profile without it, so does hako
    if (s.names.length === 0) ctx.warn(keyPath(path, 'names'), 'names no syscall: the rule is ignored');
  },
);
const seccomp = object<Seccomp>(
  {
    defaultAction: seccompAction,
    defaultErrnoRet: opt(uint32),
    architectures: opt(array(oneOf(SECCOMP_ARCHS, 'a libseccomp architecture like SCMP_ARCH_X86_64'))),
    flags: opt(array(oneOf(SECCOMP_FLAGS))),
    listenerPath: opt(nonEmpty),
    listenerMetadata: opt(string),
    syscalls: opt(array(syscall)),
  },
  (s, path) => {
    errnoAction(s.defaultAction, s.defaultErrnoRet, keyPath(path, 'defaultErrnoRet'));
    if (s.listenerMetadata != null && s.listenerPath == null) {
      fail(keyPath(path, 'listenerMetadata'), 'must be set only with listenerPath');
    }
  },
);

export const linux: Check<Linux> = object<Linux>({
  namespaces: opt(array(namespace, { unique: 'type' })),
  uidMappings: opt(array(idMapping)),
  gidMappings: opt(array(idMapping)),
  timeOffsets: opt(record(timeOffset, clock)),
  devices: opt(array(device)),
  cgroupsPath: opt(string),
  resources: opt(resources),
  intelRdt: opt(intelRdt),
  sysctl: opt(record(string, (k, path) => {
    if (k === '') fail(path, 'key must not be empty');
  })),
  seccomp: opt(seccomp),
  rootfsPropagation: opt(oneOf(ROOTFS_PROPAGATIONS, 'shared, slave, private or unbindable (or runc\'s r-prefixed forms)')),
  maskedPaths: opt(array(absolutePath)),
  readonlyPaths: opt(array(absolutePath)),
  mountLabel: opt(string),
  netDevices: opt(record(object<NetDevice>({ name: opt(string) }, (d, path) => {
    if (d.name !== undefined && !IFNAME.test(d.name)) fail(keyPath(path, 'name'), 'must be an interface name (1 to 15 characters, no /, : or white space)');
  }), (k, path) => {
    if (!IFNAME.test(k)) fail(path, 'key must be an interface name (1 to 15 characters, no /, : or white space)');
  })),
  personality: opt(object<Personality>({
    domain: oneOf(PERSONALITY_DOMAINS),
    flags: opt(array(oneOf(Object.keys(PERSONALITY_FLAGS) as Array<keyof typeof PERSONALITY_FLAGS>, `one of linux/personality.h's flags (${Object.keys(PERSONALITY_FLAGS).join(', ')})`))),
  })),
}, (l, path) => {
  // as runc: a new user namespace without mappings would leave the container's root unmapped
  // (setgroups and setgid fail in it), so it is refused here, naming the field
  if (l.namespaces?.some((n) => n.type === 'user' && !n.path)) {
    for (const k of ['uidMappings', 'gidMappings'] as const) {
      if (!l[k]?.length) fail(keyPath(path, k), 'a new user namespace (linux.namespaces) needs uidMappings and gidMappings');
    }
  }
});
