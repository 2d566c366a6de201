// config.json validation: every rule has a valid and an invalid input, and the invalid one's
// message names the exact JSON path of the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, ConfigError } from '../../dist/src/config/validate.js';

const hook = (path, extra = {}) => ({ path, args: [path.split('/').pop(), 'x'], env: ['A=1'], timeout: 5, ...extra });

/** A config that uses nearly every field the validator knows, all of them valid. */
function base() {
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: true,
      consoleSize: { height: 25, width: 80 },
      user: { uid: 1, gid: 1, umask: 0o22, additionalGids: [5, 6] },
      args: ['sh', '-c', 'true'],
      env: ['PATH=/usr/bin:/bin', 'TERM=xterm', 'EMPTY='],
      cwd: '/',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL'],
        effective: ['CAP_KILL'],
        inheritable: [],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL'],
        ambient: ['CAP_CHECKPOINT_RESTORE'],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }, { type: 'RLIMIT_CORE', hard: 0, soft: 0 }],
      noNewPrivileges: true,
      apparmorProfile: 'acme',
      selinuxLabel: 'system_u:system_r:svirt_lxc_net_t:s0:c124,c675',
      oomScoreAdj: 100,
      ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 4 },
      scheduler: { policy: 'SCHED_OTHER', nice: -5, priority: 0, flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 0 },
      execCPUAffinity: { initial: '7', final: '0-3,7' },
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'box',
    domainname: 'example.test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/data', type: 'none', source: '/volumes/data', options: ['rbind', 'rw', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] },
    ],
    hooks: {
      prestart: [hook('/usr/bin/fix-mounts')],
      createRuntime: [hook('/usr/bin/setup-network')],
      createContainer: [hook('/usr/bin/mount-hook')],
      startContainer: [{ path: '/usr/bin/refresh-ldcache' }],
      poststart: [hook('/usr/bin/notify-start')],
      poststop: [hook('/usr/sbin/cleanup.sh')],
    },
    annotations: { 'com.example.gpu-cores': '2', 'org.opencontainers.image.os': '' },
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/neta' }, { type: 'mount' },
        { type: 'ipc' }, { type: 'uts' }, { type: 'user' }, { type: 'cgroup' }, { type: 'time' }],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      timeOffsets: { monotonic: { secs: 172800, nanosecs: 0 }, boottime: { secs: -5 } },
      devices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
        { path: '/dev/sda', type: 'b', major: 8, minor: 0 },
        { path: '/dev/fifo', type: 'p' },
      ],
      cgroupsPath: '/myRuntime/myContainer',
      resources: {
        devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
        memory: { limit: 536870912, reservation: 536870912, swap: -1, swappiness: 0,
          disableOOMKiller: false, useHierarchy: true, checkBeforeUpdate: true },
        cpu: { shares: 1024, quota: 1000000, burst: 1000000, period: 500000, realtimeRuntime: 950000,
          realtimePeriod: 1000000, cpus: '2-3', mems: '0-7', idle: 0 },
        blockIO: { weight: 10, leafWeight: 10,
          weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }, { major: 8, minor: 16, weight: 500 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
          throttleWriteBpsDevice: [], throttleReadIOPSDevice: [],
          throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 300 }] },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }, { pageSize: '64KB', limit: 1000000 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        pids: { limit: 32771 },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1000 } },
        unified: { 'io.max': '259:0 rbps=2097152', 'hugetlb.1GB.max': '1073741824' },
      },
      intelRdt: { closID: 'guaranteed_group', l3CacheSchema: 'L3:0=7f0;1=1f', memBwSchema: 'MB:0=20;1=70',
        enableCMT: true, enableMBM: false },
      sysctl: { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '256' },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/run/seccomp-agent.socket',
        listenerMetadata: 'MKNOD=/dev/null',
        syscalls: [
          { names: ['getcwd', 'chmod'], action: 'SCMP_ACT_ALLOW' },
          { names: ['personality'], action: 'SCMP_ACT_ALLOW',
            args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' }] },
          { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
          { names: ['ptrace'], action: 'SCMP_ACT_NOTIFY' },
        ],
      },
      rootfsPropagation: 'slave',
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:svirt_sandbox_file_t:s0:c715,c811',
      personality: { domain: 'LINUX32', flags: [] },
    },
  };
}

function problem(fn) {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

function check(mutate, warnings = []) {
  const c = base();
  mutate(c);
  return validateConfig(c, (m) => warnings.push(m));
}

/** [rule, valid mutation, invalid mutation, path, what it must be] */
const RULES = [
  // top level
  ['ociVersion is required', (c) => c, (c) => delete c.ociVersion, 'ociVersion', 'is required'],
  ['ociVersion is a string', (c) => (c.ociVersion = '1.0.2-dev'), (c) => (c.ociVersion = 1.2), 'ociVersion', 'must be a string'],
  ['ociVersion is SemVer', (c) => (c.ociVersion = '1.1.0+build.5'), (c) => (c.ociVersion = '1.0'), 'ociVersion', 'must be a SemVer version like 1.2.0'],
  ['ociVersion is 1.x', (c) => (c.ociVersion = '1.3.0'), (c) => (c.ociVersion = '2.0.0'), 'ociVersion', 'must be a 1.x version (hako implements runtime-spec 1.2)'],
  ['root is required', (c) => c, (c) => delete c.root, 'root', 'is required'],
  ['root is an object', (c) => c, (c) => (c.root = 'rootfs'), 'root', 'must be an object'],
  ['root.path is required', (c) => (c.root = { path: '/abs/rootfs' }), (c) => delete c.root.path, 'root.path', 'is required'],
  ['root.path is not empty', (c) => (c.root.path = '.'), (c) => (c.root.path = ''), 'root.path', 'must be a non-empty string'],
  ['root.readonly is a boolean', (c) => (c.root.readonly = false), (c) => (c.root.readonly = 'yes'), 'root.readonly', 'must be a boolean'],
  ['hostname is a string', (c) => (c.hostname = ''), (c) => (c.hostname = 5), 'hostname', 'must be a string'],
  ['domainname is a string', (c) => delete c.domainname, (c) => (c.domainname = ['a']), 'domainname', 'must be a string'],
  ['annotations map to strings', (c) => (c.annotations = {}), (c) => (c.annotations.n = 2), 'annotations.n', 'must be a string'],
  ['annotation keys are not empty', (c) => (c.annotations.x = ''), (c) => (c.annotations[''] = 'v'), 'annotations[""]', 'key must not be empty'],

  // process
  ['process is optional', (c) => delete c.process, (c) => (c.process = []), 'process', 'must be an object'],
  ['process.args is required', (c) => c, (c) => delete c.process.args, 'process.args', 'is required'],
  ['process.args is not empty', (c) => (c.process.args = ['/bin/true']), (c) => (c.process.args = []), 'process.args', 'must have at least one entry'],
  ['process.args holds strings', (c) => c, (c) => (c.process.args = ['sh', 1]), 'process.args[1]', 'must be a string'],
  ['process.cwd is required', (c) => c, (c) => delete c.process.cwd, 'process.cwd', 'is required'],
  ['process.cwd is absolute', (c) => (c.process.cwd = '/root'), (c) => (c.process.cwd = 'root'), 'process.cwd', 'must be an absolute path'],
  ['process.env is KEY=value', (c) => c.process.env.push('A=b=c'), (c) => c.process.env.push('NOEQUALS'), 'process.env[3]', 'must be KEY=value with a non-empty KEY'],
  ['process.env KEY is not empty', (c) => c, (c) => (c.process.env[0] = '=x'), 'process.env[0]', 'must be KEY=value with a non-empty KEY'],
  ['process.terminal is a boolean', (c) => (c.process.terminal = false), (c) => (c.process.terminal = 1), 'process.terminal', 'must be a boolean'],
  ['process.commandLine is ignored but a string', (c) => (c.process.commandLine = 'sh -c true'), (c) => (c.process.commandLine = ['sh']), 'process.commandLine', 'must be a string'],
  ['consoleSize.height is required', (c) => c, (c) => delete c.process.consoleSize.height, 'process.consoleSize.height', 'is required'],
  ['consoleSize.width fits a winsize', (c) => (c.process.consoleSize.width = 65535), (c) => (c.process.consoleSize.width = 65536), 'process.consoleSize.width', 'must be at most 65535'],
  ['process.user is optional', (c) => delete c.process.user, (c) => (c.process.user = 0), 'process.user', 'must be an object'],
  ['user.uid is required', (c) => c, (c) => delete c.process.user.uid, 'process.user.uid', 'is required'],
  ['user.gid is required', (c) => c, (c) => delete c.process.user.gid, 'process.user.gid', 'is required'],
  ['user.uid is an integer', (c) => (c.process.user.uid = 0), (c) => (c.process.user.uid = 1.5), 'process.user.uid', 'must be a non-negative integer'],
  ['user.uid is not negative', (c) => c, (c) => (c.process.user.uid = -1), 'process.user.uid', 'must be a non-negative integer'],
  ['user.uid is 32-bit', (c) => (c.process.user.uid = 4294967295), (c) => (c.process.user.uid = 4294967296), 'process.user.uid', 'must be at most 4294967295'],
  ['user.umask is an integer', (c) => (c.process.user.umask = 0o77), (c) => (c.process.user.umask = '022'), 'process.user.umask', 'must be a non-negative integer'],
  ['user.additionalGids are integers', (c) => (c.process.user.additionalGids = []), (c) => (c.process.user.additionalGids = [5, -6]), 'process.user.additionalGids[1]', 'must be a non-negative integer'],
  ['capabilities are strings', (c) => c, (c) => (c.process.capabilities.permitted = ['CAP_KILL', 7]), 'process.capabilities.permitted[1]', 'must be a string'],
  ['capability sets are arrays', (c) => delete c.process.capabilities.ambient, (c) => (c.process.capabilities.ambient = 'CAP_KILL'), 'process.capabilities.ambient', 'must be an array'],
  ['rlimit type is known', (c) => (c.process.rlimits[1].type = 'RLIMIT_RTTIME'), (c) => (c.process.rlimits[1].type = 'RLIMIT_FOO'), 'process.rlimits[1].type', 'must be a resource name from getrlimit(2), like RLIMIT_NOFILE'],
  ['rlimit soft <= hard', (c) => (c.process.rlimits[0].soft = 512), (c) => (c.process.rlimits[0].soft = 2048), 'process.rlimits[0].soft', 'must be at most hard (1024)'],
  ['rlimit hard is an integer', (c) => (c.process.rlimits[0].hard = 2 ** 64), (c) => (c.process.rlimits[0].hard = 10.5), 'process.rlimits[0].hard', 'must be a non-negative integer'],
  ['rlimit soft is required', (c) => c, (c) => delete c.process.rlimits[1].soft, 'process.rlimits[1].soft', 'is required'],
  ['rlimit types do not repeat', (c) => c, (c) => (c.process.rlimits[1].type = 'RLIMIT_NOFILE'), 'process.rlimits[1].type', 'must not repeat "RLIMIT_NOFILE" (already at process.rlimits[0])'],
  ['noNewPrivileges is a boolean', (c) => (c.process.noNewPrivileges = false), (c) => (c.process.noNewPrivileges = 'true'), 'process.noNewPrivileges', 'must be a boolean'],
  ['apparmorProfile is a string', (c) => (c.process.apparmorProfile = 'unconfined'), (c) => (c.process.apparmorProfile = true), 'process.apparmorProfile', 'must be a string'],
  ['selinuxLabel is a string', (c) => delete c.process.selinuxLabel, (c) => (c.process.selinuxLabel = {}), 'process.selinuxLabel', 'must be a string'],
  ['oomScoreAdj is in range', (c) => (c.process.oomScoreAdj = -1000), (c) => (c.process.oomScoreAdj = 1001), 'process.oomScoreAdj', 'must be an integer from -1000 to 1000'],
  ['ioPriority.class is known', (c) => (c.process.ioPriority.class = 'IOPRIO_CLASS_RT'), (c) => (c.process.ioPriority.class = 'IOPRIO_CLASS_X'), 'process.ioPriority.class', 'must be one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE'],
  ['ioPriority.priority is 0-7', (c) => (c.process.ioPriority.priority = 7), (c) => (c.process.ioPriority.priority = 8), 'process.ioPriority.priority', 'must be an integer from 0 to 7'],
  ['scheduler.policy is known', (c) => (c.process.scheduler.policy = 'SCHED_DEADLINE'), (c) => (c.process.scheduler.policy = 'SCHED_NORMAL'), 'process.scheduler.policy', 'must be one of SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE'],
  ['scheduler.nice is int32', (c) => (c.process.scheduler.nice = 19), (c) => (c.process.scheduler.nice = 2 ** 31), 'process.scheduler.nice', 'must be a 32-bit integer'],
  ['scheduler.flags are known', (c) => (c.process.scheduler.flags = []), (c) => (c.process.scheduler.flags = ['SCHED_FLAG_X']), 'process.scheduler.flags[0]', 'must be one of SCHED_FLAG_RESET_ON_FORK, SCHED_FLAG_RECLAIM, SCHED_FLAG_DL_OVERRUN, SCHED_FLAG_KEEP_POLICY, SCHED_FLAG_KEEP_PARAMS, SCHED_FLAG_UTIL_CLAMP_MIN, SCHED_FLAG_UTIL_CLAMP_MAX'],
  ['scheduler.deadline is uint64', (c) => { c.process.scheduler.policy = 'SCHED_DEADLINE'; c.process.scheduler.deadline = 1e6; }, (c) => (c.process.scheduler.deadline = -1), 'process.scheduler.deadline', 'must be a non-negative integer'],
  // runc's own checks of the scheduler (libcontainer/configs/validate)
  ['scheduler.nice is -20 to 19', (c) => (c.process.scheduler.nice = -20), (c) => (c.process.scheduler.nice = 20), 'process.scheduler.nice', 'must be from -20 to 19 (got 20)'],
  ['scheduler.priority only for FIFO and RR', (c) => { c.process.scheduler.policy = 'SCHED_RR'; c.process.scheduler.priority = 5; }, (c) => (c.process.scheduler.priority = 5), 'process.scheduler.priority', 'can only be set with SCHED_FIFO or SCHED_RR (policy is SCHED_OTHER)'],
  ['scheduler.runtime only for DEADLINE', (c) => { c.process.scheduler.policy = 'SCHED_DEADLINE'; c.process.scheduler.runtime = 5; }, (c) => (c.process.scheduler.runtime = 5), 'process.scheduler.runtime', 'can only be set with SCHED_DEADLINE (policy is SCHED_OTHER)'],
  ['execCPUAffinity is a CPU list', (c) => (c.process.execCPUAffinity.final = ''), (c) => (c.process.execCPUAffinity.initial = '0-3;7'), 'process.execCPUAffinity.initial', 'must be a CPU list like 0-3,7 (ranges ascending, CPUs below 8192)'],
  ['execCPUAffinity ranges ascend', (c) => (c.process.execCPUAffinity.final = '8191'), (c) => (c.process.execCPUAffinity.final = '3-1'), 'process.execCPUAffinity.final', 'must be a CPU list like 0-3,7 (ranges ascending, CPUs below 8192)'],
  ['execCPUAffinity CPUs are below 8192', (c) => c, (c) => (c.process.execCPUAffinity.final = '0-8192'), 'process.execCPUAffinity.final', 'must be a CPU list like 0-3,7 (ranges ascending, CPUs below 8192)'],

  // mounts
  ['mounts is an array', (c) => (c.mounts = []), (c) => (c.mounts = {}), 'mounts', 'must be an array'],
  ['mount destination is required', (c) => c, (c) => delete c.mounts[1].destination, 'mounts[1].destination', 'is required'],
  ['mount destination is not empty', (c) => (c.mounts[0].destination = '/proc2'), (c) => (c.mounts[0].destination = ''), 'mounts[0].destination', 'must be a non-empty string'],
  ['mount source and type are optional strings', (c) => delete c.mounts[0].type, (c) => { c.mounts[0].source = null; c.mounts[0].type = 3; }, 'mounts[0].type', 'must be a string'],
  ['mount options are strings', (c) => (c.mounts[0].options = []), (c) => (c.mounts[0].options = ['ro', true]), 'mounts[0].options[1]', 'must be a string'],
  ['mount gidMappings come with uidMappings', (c) => { delete c.mounts[1].uidMappings; delete c.mounts[1].gidMappings; }, (c) => delete c.mounts[1].gidMappings, 'mounts[1].gidMappings', 'is required with uidMappings'],
  ['mount uidMappings come with gidMappings', (c) => c, (c) => delete c.mounts[1].uidMappings, 'mounts[1].uidMappings', 'is required with gidMappings'],
  ['mount mappings are not empty', (c) => c, (c) => (c.mounts[1].uidMappings = []), 'mounts[1].uidMappings', 'must not be empty (an id-mapped mount needs at least one mapping)'],
  ['id-mapped mounts are binds', (c) => c, (c) => { c.mounts[1].type = 'tmpfs'; c.mounts[1].options = []; }, 'mounts[1].uidMappings', 'id-mapped mounts are only supported for bind mounts (type "bind", or the bind or rbind option)'],
  ['mount mappings are id mappings', (c) => c, (c) => (c.mounts[1].uidMappings[0].size = 0), 'mounts[1].uidMappings[0].size', 'must be a positive integer'],

  // hooks
  ['hooks is an object', (c) => (c.hooks = {}), (c) => (c.hooks = []), 'hooks', 'must be an object'],
  ['hook lists are arrays', (c) => (c.hooks.poststop = []), (c) => (c.hooks.poststop = hook('/bin/x')), 'hooks.poststop', 'must be an array'],
  ['hook path is required', (c) => c, (c) => delete c.hooks.createRuntime[0].path, 'hooks.createRuntime[0].path', 'is required'],
  ['hook path is absolute', (c) => c, (c) => (c.hooks.createContainer[0].path = 'mount-hook'), 'hooks.createContainer[0].path', 'must be an absolute path'],
  ['hook timeout is positive', (c) => (c.hooks.poststart[0].timeout = 1), (c) => (c.hooks.poststart[0].timeout = 0), 'hooks.poststart[0].timeout', 'must be a positive integer'],
  ['hook timeout is an integer', (c) => c, (c) => (c.hooks.prestart[0].timeout = 1.5), 'hooks.prestart[0].timeout', 'must be a positive integer'],
  ['hook args are strings', (c) => (c.hooks.startContainer[0].args = []), (c) => (c.hooks.startContainer[0].args = [1]), 'hooks.startContainer[0].args[0]', 'must be a string'],
  ['hook env is strings', (c) => c, (c) => (c.hooks.poststop[0].env = 'A=1'), 'hooks.poststop[0].env', 'must be an array'],

  // linux
  ['linux is an object', (c) => delete c.linux, (c) => (c.linux = 'x'), 'linux', 'must be an object'],
  ['namespace type is known', (c) => c, (c) => (c.linux.namespaces[3].type = 'pid2'), 'linux.namespaces[3].type', 'must be one of pid, network, mount, ipc, uts, user, cgroup, time'],
  ['namespace type is required', (c) => c, (c) => delete c.linux.namespaces[0].type, 'linux.namespaces[0].type', 'is required'],
  ['namespace types do not repeat', (c) => c, (c) => c.linux.namespaces.push({ type: 'network' }), 'linux.namespaces[8].type', 'must not repeat "network" (already at linux.namespaces[1])'],
  ['namespace path is absolute', (c) => (c.linux.namespaces[0].path = '/proc/1/ns/pid'), (c) => (c.linux.namespaces[0].path = 'proc/1/ns/pid'), 'linux.namespaces[0].path', 'must be an absolute path'],
  ['uid mapping size is positive', (c) => (c.linux.uidMappings[0].size = 1), (c) => (c.linux.uidMappings[0].size = 0), 'linux.uidMappings[0].size', 'must be a positive integer'],
  ['uid mapping size is an integer', (c) => c, (c) => (c.linux.uidMappings[0].size = 1.5), 'linux.uidMappings[0].size', 'must be a positive integer'],
  ['uid mapping containerID is non-negative', (c) => (c.linux.uidMappings[0].containerID = 0), (c) => (c.linux.uidMappings[0].containerID = -1), 'linux.uidMappings[0].containerID', 'must be a non-negative integer'],
  ['gid mapping hostID is an integer', (c) => (c.linux.gidMappings[0].hostID = 0), (c) => (c.linux.gidMappings[0].hostID = '1000'), 'linux.gidMappings[0].hostID', 'must be a non-negative integer'],
  ['gid mapping size is required', (c) => c, (c) => delete c.linux.gidMappings[0].size, 'linux.gidMappings[0].size', 'is required'],
  ['timeOffsets keys are clocks', (c) => delete c.linux.timeOffsets.boottime, (c) => (c.linux.timeOffsets.realtime = { secs: 1 }), 'linux.timeOffsets.realtime', 'key must be monotonic or boottime'],
  ['timeOffsets secs is an integer', (c) => (c.linux.timeOffsets.monotonic.secs = -1), (c) => (c.linux.timeOffsets.monotonic.secs = 0.5), 'linux.timeOffsets.monotonic.secs', 'must be an integer'],
  ['timeOffsets nanosecs is below a second', (c) => (c.linux.timeOffsets.monotonic.nanosecs = 999999999), (c) => (c.linux.timeOffsets.monotonic.nanosecs = 1e9), 'linux.timeOffsets.monotonic.nanosecs', 'must be an integer from 0 to 999999999'],
  ['device type is c, b, u or p', (c) => (c.linux.devices[0].type = 'u'), (c) => (c.linux.devices[0].type = 'x'), 'linux.devices[0].type', 'must be one of c, b, u, p'],
  ['device path is absolute', (c) => c, (c) => (c.linux.devices[1].path = 'dev/sda'), 'linux.devices[1].path', 'must be an absolute path'],
  ['device major is an integer', (c) => (c.linux.devices[0].major = 0), (c) => (c.linux.devices[0].major = '10'), 'linux.devices[0].major', 'must be an integer'],
  ['device minor is required unless p', (c) => delete c.linux.devices[2].minor, (c) => delete c.linux.devices[1].minor, 'linux.devices[1].minor', 'is required unless type is p'],
  ['device fileMode is uint32', (c) => (c.linux.devices[0].fileMode = 0o20666), (c) => (c.linux.devices[0].fileMode = -438), 'linux.devices[0].fileMode', 'must be a non-negative integer'],
  ['device uid is uint32', (c) => (c.linux.devices[0].uid = 1000), (c) => (c.linux.devices[0].uid = 2 ** 32), 'linux.devices[0].uid', 'must be at most 4294967295'],
  ['cgroupsPath is a string', (c) => (c.linux.cgroupsPath = 'system.slice:hako:abc'), (c) => (c.linux.cgroupsPath = 1), 'linux.cgroupsPath', 'must be a string'],
  ['cgroup device allow is required', (c) => c, (c) => delete c.linux.resources.devices[1].allow, 'linux.resources.devices[1].allow', 'is required'],
  ['cgroup device type is a, c or b', (c) => (c.linux.resources.devices[1].type = 'a'), (c) => (c.linux.resources.devices[1].type = 'u'), 'linux.resources.devices[1].type', 'must be one of a, c, b'],
  ['cgroup device access is rwm', (c) => (c.linux.resources.devices[1].access = 'm'), (c) => (c.linux.resources.devices[1].access = 'rwx'), 'linux.resources.devices[1].access', 'must be made of the letters r, w and m'],
  ['memory limit is an integer', (c) => (c.linux.resources.memory.limit = -1), (c) => (c.linux.resources.memory.limit = '1g'), 'linux.resources.memory.limit', 'must be an integer'],
  ['memory swappiness is 0-100', (c) => (c.linux.resources.memory.swappiness = 100), (c) => (c.linux.resources.memory.swappiness = 200), 'linux.resources.memory.swappiness', 'must be an integer from 0 to 100'],
  ['cpu shares is uint64', (c) => (c.linux.resources.cpu.shares = 2), (c) => (c.linux.resources.cpu.shares = -2), 'linux.resources.cpu.shares', 'must be a non-negative integer'],
  ['cpu cpus is a CPU list', (c) => (c.linux.resources.cpu.cpus = ''), (c) => (c.linux.resources.cpu.cpus = 'all'), 'linux.resources.cpu.cpus', 'must be a CPU list like 0-3,7'],
  ['blockIO weight is uint16', (c) => (c.linux.resources.blockIO.weight = 1000), (c) => (c.linux.resources.blockIO.weight = 70000), 'linux.resources.blockIO.weight', 'must be at most 65535'],
  ['blockIO weightDevice sets a weight', (c) => delete c.linux.resources.blockIO.weightDevice[0].weight, (c) => delete c.linux.resources.blockIO.weightDevice[1].weight, 'linux.resources.blockIO.weightDevice[1]', 'must set weight or leafWeight'],
  ['blockIO throttle rate is required', (c) => c, (c) => delete c.linux.resources.blockIO.throttleReadBpsDevice[0].rate, 'linux.resources.blockIO.throttleReadBpsDevice[0].rate', 'is required'],
  ['hugepage pageSize has a unit', (c) => (c.linux.resources.hugepageLimits[0].pageSize = '1GB'), (c) => (c.linux.resources.hugepageLimits[0].pageSize = '2M'), 'linux.resources.hugepageLimits[0].pageSize', 'must be a page size like 2MB'],
  ['hugepage limit is required', (c) => c, (c) => delete c.linux.resources.hugepageLimits[1].limit, 'linux.resources.hugepageLimits[1].limit', 'is required'],
  ['network classID is uint32', (c) => delete c.linux.resources.network.classID, (c) => (c.linux.resources.network.classID = -1), 'linux.resources.network.classID', 'must be a non-negative integer'],
  ['network priority name is required', (c) => c, (c) => delete c.linux.resources.network.priorities[0].name, 'linux.resources.network.priorities[0].name', 'is required'],
  ['pids limit is required', (c) => (c.linux.resources.pids.limit = -1), (c) => (c.linux.resources.pids = {}), 'linux.resources.pids.limit', 'is required'],
  ['rdma entry sets a limit', (c) => delete c.linux.resources.rdma.mlx5_1.hcaObjects, (c) => (c.linux.resources.rdma.rxe3 = {}), 'linux.resources.rdma.rxe3', 'must set hcaHandles or hcaObjects'],
  ['unified keys are file names', (c) => (c.linux.resources.unified = {}), (c) => (c.linux.resources.unified['../x'] = '1'), 'linux.resources.unified["../x"]', 'key must be a cgroup file name'],
  ['unified values are strings', (c) => c, (c) => (c.linux.resources.unified['pids.max'] = 5), 'linux.resources.unified["pids.max"]', 'must be a string'],
  ['intelRdt memBwSchema starts with MB:', (c) => delete c.linux.intelRdt.memBwSchema, (c) => (c.linux.intelRdt.memBwSchema = 'L3:0=1'), 'linux.intelRdt.memBwSchema', 'must be one line starting with MB:'],
  ['sysctl keys are not empty', (c) => (c.linux.sysctl = {}), (c) => (c.linux.sysctl[''] = '1'), 'linux.sysctl[""]', 'key must not be empty'],
  ['sysctl values are strings', (c) => c, (c) => (c.linux.sysctl['net.ipv4.ip_forward'] = 1), 'linux.sysctl["net.ipv4.ip_forward"]', 'must be a string'],
  ['seccomp defaultAction is required', (c) => c, (c) => delete c.linux.seccomp.defaultAction, 'linux.seccomp.defaultAction', 'is required'],
  ['seccomp defaultAction is known', (c) => (c.linux.seccomp.defaultAction = 'SCMP_ACT_TRACE'), (c) => (c.linux.seccomp.defaultAction = 'SCMP_ACT_FOO'), 'linux.seccomp.defaultAction', 'must be one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY'],
  ['seccomp defaultErrnoRet only with an errno action', (c) => c, (c) => (c.linux.seccomp.defaultAction = 'SCMP_ACT_KILL_PROCESS'), 'linux.seccomp.defaultErrnoRet', 'must be set only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE'],
  ['seccomp architectures are known', (c) => c.linux.seccomp.architectures.push('SCMP_ARCH_RISCV64'), (c) => c.linux.seccomp.architectures.push('SCMP_ARCH_Z80'), 'linux.seccomp.architectures[3]', 'must be a libseccomp architecture like SCMP_ARCH_X86_64'],
  ['seccomp flags are known', (c) => c.linux.seccomp.flags.push('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'), (c) => c.linux.seccomp.flags.push('SECCOMP_FILTER_FLAG_FOO'), 'linux.seccomp.flags[1]', 'must be one of SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
  ['seccomp listenerMetadata needs listenerPath', (c) => { delete c.linux.seccomp.listenerMetadata; delete c.linux.seccomp.listenerPath; }, (c) => delete c.linux.seccomp.listenerPath, 'linux.seccomp.listenerMetadata', 'must be set only with listenerPath'],
  ['syscall action is known', (c) => (c.linux.seccomp.syscalls[0].action = 'SCMP_ACT_LOG'), (c) => (c.linux.seccomp.syscalls[0].action = 'SCMP_ACT_DENY'), 'linux.seccomp.syscalls[0].action', 'must be one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY'],
  ['syscall names are non-empty strings', (c) => c, (c) => (c.linux.seccomp.syscalls[3].names = ['']), 'linux.seccomp.syscalls[3].names[0]', 'must be a non-empty string'],
  ['syscall errnoRet only with an errno action', (c) => (c.linux.seccomp.syscalls[2].action = 'SCMP_ACT_TRACE'), (c) => (c.linux.seccomp.syscalls[2].action = 'SCMP_ACT_ALLOW'), 'linux.seccomp.syscalls[2].errnoRet', 'must be set only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE'],
  ['syscall arg index is 0-5', (c) => (c.linux.seccomp.syscalls[1].args[0].index = 5), (c) => (c.linux.seccomp.syscalls[1].args[0].index = 6), 'linux.seccomp.syscalls[1].args[0].index', 'must be an integer from 0 to 5'],
  ['syscall arg value is uint64', (c) => (c.linux.seccomp.syscalls[1].args[0].value = 2 ** 63), (c) => (c.linux.seccomp.syscalls[1].args[0].value = -1), 'linux.seccomp.syscalls[1].args[0].value', 'must be a non-negative integer'],
  ['syscall arg valueTwo is uint64', (c) => c, (c) => (c.linux.seccomp.syscalls[1].args[1].valueTwo = 0.5), 'linux.seccomp.syscalls[1].args[1].valueTwo', 'must be a non-negative integer'],
  ['syscall arg op is known', (c) => (c.linux.seccomp.syscalls[1].args[0].op = 'SCMP_CMP_NE'), (c) => (c.linux.seccomp.syscalls[1].args[0].op = 'SCMP_CMP_IN'), 'linux.seccomp.syscalls[1].args[0].op', 'must be one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ'],
  ['rootfsPropagation is known', (c) => (c.linux.rootfsPropagation = 'rprivate'), (c) => (c.linux.rootfsPropagation = 'bogus'), 'linux.rootfsPropagation', "must be shared, slave, private or unbindable (or runc's r-prefixed forms)"],
  ['maskedPaths are absolute', (c) => c.linux.maskedPaths.push('/sys/firmware'), (c) => c.linux.maskedPaths.push('proc/keys'), 'linux.maskedPaths[1]', 'must be an absolute path'],
  ['readonlyPaths are absolute', (c) => (c.linux.readonlyPaths = []), (c) => (c.linux.readonlyPaths = ['']), 'linux.readonlyPaths[0]', 'must be an absolute path'],
  ['mountLabel is a string', (c) => delete c.linux.mountLabel, (c) => (c.linux.mountLabel = false), 'linux.mountLabel', 'must be a string'],
  ['personality flags are the kernel\'s', (c) => (c.linux.personality.flags = ['ADDR_NO_RANDOMIZE', 'UNAME26']), (c) => (c.linux.personality.flags = ['NO_ASLR']), 'linux.personality.flags[0]', 'must be one of linux/personality.h\'s flags (UNAME26, ADDR_NO_RANDOMIZE, FDPIC_FUNCPTRS, MMAP_PAGE_ZERO, ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, SHORT_INODE, WHOLE_SECONDS, STICKY_TIMEOUTS, ADDR_LIMIT_3GB)'],
  ['personality domain is LINUX or LINUX32', (c) => (c.linux.personality.domain = 'LINUX'), (c) => (c.linux.personality.domain = 'LINUX64'), 'linux.personality.domain', 'must be one of LINUX, LINUX32'],
];

for (const [rule, ok, bad, path, what] of RULES) {
  test(`${rule}`, () => {
    assert.doesNotThrow(() => check(ok), 'the valid input is accepted');
    const err = problem(() => check(bad));
    assert.equal(err.message, `hako: config.json: ${path}: ${what}`);
    assert.equal(err.path, path);
  });
}

test('the base config is valid and comes back as given', () => {
  const c = base();
  const warnings = [];
  assert.equal(validateConfig(c, (m) => warnings.push(m)), c);
  assert.deepEqual(warnings, []);
});

test('the document must be an object', () => {
  const err = problem(() => validateConfig([]));
  assert.equal(err.message, 'hako: config.json: must be an object');
  assert.equal(err.path, '');
  assert.equal(problem(() => validateConfig(null)).message, 'hako: config.json: must be an object');
});

test('unknown fields are accepted and kept, at every level', () => {
  const spec = check((c) => {
    c.windows = { layerFolders: [] };
    c.vendorThing = 1;
    c.process.user.username = 'x';
    c.linux.netDevices = { eth0: { name: 'e' } };
    c.linux.resources.memory.extra = [1];
    c.linux.seccomp.syscalls[0].comment = 'ok';
  });
  assert.equal(spec.vendorThing, 1);
  assert.deepEqual(spec.linux.netDevices, { eth0: { name: 'e' } });
  assert.equal(spec.linux.seccomp.syscalls[0].comment, 'ok');
});

test('fields named like Object.prototype members are unknown fields, not checks', () => {
  assert.doesNotThrow(() => check((c) => {
    c.constructor = 1;
    c.process.toString = 'x';
    c.linux.hasOwnProperty = null;
  }));
});

test('null is taken as absent, as Go decodes it', () => {
  assert.doesNotThrow(() => check((c) => {
    c.process.capabilities = null;
    c.linux.seccomp = null;
    c.hostname = null;
  }));
  const err = problem(() => check((c) => (c.root.path = null)));
  assert.equal(err.message, 'hako: config.json: root.path: is required');
});

test('the first problem in document order is the one reported', () => {
  const err = problem(() => check((c) => {
    c.process.cwd = 'relative'; // process comes before linux in the document
    c.linux.uidMappings[0].size = 0;
  }));
  assert.equal(err.path, 'process.cwd');
  const later = problem(() => check((c) => {
    c.linux.namespaces.push({ type: 'pid' }); // the repeat at [8] is found before [9]'s bad type
    c.linux.namespaces.push({ type: 'nope' });
  }));
  assert.equal(later.path, 'linux.namespaces[8].type');
  const inArray = problem(() => check((c) => {
    c.process.rlimits[0].type = 'RLIMIT_X';
    c.process.rlimits[1].hard = -1;
  }));
  assert.equal(inArray.path, 'process.rlimits[0].type');
});

test('missing required fields are reported after the present fields of the same object', () => {
  const err = problem(() => check((c) => {
    delete c.process.cwd;
    c.process.env = 'x';
  }));
  assert.equal(err.path, 'process.env');
});

test('unknown capabilities are warnings with their path, not errors (config.md)', () => {
  const warnings = [];
  check((c) => c.process.capabilities.bounding.push('CAP_FOO', 'chown'), warnings);
  assert.deepEqual(warnings, [
    'hako: config.json: process.capabilities.bounding[2]: unknown capability "CAP_FOO" is ignored',
    'hako: config.json: process.capabilities.bounding[3]: unknown capability "chown" is ignored',
  ]);
  const none = [];
  check((c) => (c.process.capabilities.ambient = ['CAP_CHOWN', 'CAP_BPF', 'CAP_PERFMON']), none);
  assert.deepEqual(none, []);
});

test('memory.kernel and kernelTCP are warnings, one line each naming the field (runc 1.1+ ignores them)', () => {
  const warnings = [];
  check((c) => { c.linux.resources.memory.kernel = -1; c.linux.resources.memory.kernelTCP = 1024; }, warnings);
  assert.deepEqual(warnings, [
    'hako: config.json: linux.resources.memory.kernel: is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)',
    'hako: config.json: linux.resources.memory.kernelTCP: is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)',
  ]);
});

test('every capability up to CAP_CHECKPOINT_RESTORE (40) is known', () => {
  const all = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
    'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST',
    'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO',
    'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
    'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE',
    'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
    'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'];
  const warnings = [];
  check((c) => (c.process.capabilities.bounding = all), warnings);
  assert.deepEqual(warnings, []);
});

test('a relative mount destination is accepted with a deprecation warning (runtime-spec 1.2)', () => {
  const warnings = [];
  check((c) => (c.mounts[0].destination = 'proc'), warnings);
  assert.deepEqual(warnings, ['hako: config.json: mounts[0].destination: is relative (deprecated); it is taken relative to /']);
});

test('all 16 rlimit names are known', () => {
  const names = ['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS',
    'SIGPENDING', 'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME'];
  assert.doesNotThrow(() => check((c) => {
    c.process.rlimits = names.map((n) => ({ type: `RLIMIT_${n}`, hard: 10, soft: 1 }));
  }));
});

test('a minimal config (ociVersion and root only) is valid: process is optional for create', () => {
  assert.doesNotThrow(() => validateConfig({ ociVersion: '1.0.0', root: { path: 'rootfs' } }));
});

test('the error is a HakoError with exit code 1', async () => {
  const { HakoError } = await import('../../dist/src/errors.js');
  const err = problem(() => check((c) => delete c.root));
  assert.ok(err instanceof HakoError);
  assert.equal(err.exitCode, 1);
});

test('without a warning callback, warnings go to stderr', (t) => {
  const lines = [];
  t.mock.method(process.stderr, 'write', (s) => lines.push(String(s)) > 0);
  const c = base();
  c.process.capabilities.effective.push('CAP_NEW_THING');
  validateConfig(c);
  t.mock.restoreAll();
  assert.deepEqual(lines, ['hako: config.json: process.capabilities.effective[1]: unknown capability "CAP_NEW_THING" is ignored\n']);
});
