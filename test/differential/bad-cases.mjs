// The bad-input corpus (issue 9): configs runc refuses. Each is { name, where, patch } (patch as in
// cases.mjs); `where` is the JSON path hako's one-line error must name, as
//   hako: config.json: WHERE: ...
// or, for what only the kernel refuses (a mount's options, a namespace path), as
//   hako: create: config.json: WHERE: ...
// (a config that is not JSON at all: where is 'config.json' and the line names the position).
// (named: the line need only name WHERE somewhere). Configs runc accepts belong in the differential corpus (cases.mjs): relative mount destinations
// and device paths, id mappings without a user namespace are there.
const ns = (c, type, extra = {}) => { c.linux.namespaces.push({ type, ...extra }); };
const mount = (c, m) => { c.mounts.push(m); };
/** The index the next mount gets (for `where`): the default config has 7. */
const M = 7;

export const BAD_CASES = [
  { name: 'not-json', where: 'config.json', patch: () => '{ "ociVersion": "1.0.2", "process": ' },
  { name: 'process-args-not-array', where: 'process.args', patch: (c) => { c.process.args = '/bin/sh'; } },
  { name: 'process-args-empty', where: 'process.args', patch: (c) => { c.process.args = []; } },
  { name: 'process-env-not-array', where: 'process.env', patch: (c) => { c.process.env = 'A=B'; } },
  { name: 'process-cwd-relative', where: 'process.cwd', patch: (c) => { c.process.cwd = 'tmp'; } },
  { name: 'process-user-uid-string', where: 'process.user.uid', patch: (c) => { c.process.user.uid = '0'; } },
  { name: 'process-user-uid-negative', where: 'process.user.uid', patch: (c) => { c.process.user.uid = -1; } },
  { name: 'process-capabilities-not-array', where: 'process.capabilities.bounding', patch: (c) => { c.process.capabilities.bounding = 'CAP_KILL'; } },
  { name: 'process-rlimit-unknown-type', where: 'process.rlimits[0].type', patch: (c) => { c.process.rlimits[0].type = 'RLIMIT_BOGUS'; } },
  { name: 'process-rlimit-soft-above-hard', where: 'process.rlimits[0]', patch: (c) => { c.process.rlimits[0] = { type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }; } },
  { name: 'process-oom-score-adj-out-of-range', where: 'process.oomScoreAdj', patch: (c) => { c.process.oomScoreAdj = 5000; } },
  { name: 'root-path-number', where: 'root.path', patch: (c) => { c.root.path = 5; } },
  { name: 'root-path-missing-dir', where: 'root.path', patch: (c) => { c.root.path = 'no-such-rootfs'; } },
  { name: 'namespace-unknown-type', where: 'linux.namespaces[5].type', patch: (c) => ns(c, 'bogus') },
  { name: 'namespace-duplicate', where: 'linux.namespaces[5].type', patch: (c) => ns(c, 'pid') },
  { name: 'namespace-path-relative', where: 'linux.namespaces[4].path', patch: (c) => { c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'uts'); ns(c, 'uts', { path: 'proc/1/ns/uts' }); } },
  { name: 'namespace-path-missing', where: 'linux.namespaces[4].path', patch: (c) => { c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'ipc'); ns(c, 'ipc', { path: '/proc/999999999/ns/ipc' }); } },
  { name: 'hostname-without-uts', where: 'hostname', patch: (c) => { c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'uts'); } },
  { name: 'userns-without-mappings', where: 'linux.uidMappings', patch: (c) => ns(c, 'user') },
  { name: 'mount-tmpfs-negative-size', where: `mounts[${M}]`, patch: (c) => mount(c, { destination: '/mnt/neg', type: 'tmpfs', source: 'tmpfs', options: ['size=-1'] }) },
  { name: 'mount-options-not-array', where: `mounts[${M}].options`, patch: (c) => mount(c, { destination: '/mnt/x', type: 'tmpfs', source: 'tmpfs', options: 'ro' }) },
  { name: 'mount-unknown-fstype', where: `mounts[${M}]`, patch: (c) => mount(c, { destination: '/mnt/x', type: 'nosuchfs', source: 'none' }) },
  { name: 'mounts-not-array', where: 'mounts', patch: (c) => { c.mounts = { destination: '/proc' }; } },
  { name: 'rootfs-propagation-unknown', where: 'linux.rootfsPropagation', patch: (c) => { c.linux.rootfsPropagation = 'sideways'; } },
  { name: 'seccomp-bad-action', where: 'linux.seccomp.syscalls[0].action', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_BOGUS' }] }; } },
  { name: 'seccomp-bad-default-action', where: 'linux.seccomp.defaultAction', patch: (c) => { c.linux.seccomp = { defaultAction: 'ALLOW' }; } },
  { name: 'seccomp-bad-arch', where: 'linux.seccomp.architectures[0]', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_BOGUS'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }; } },
  { name: 'seccomp-bad-operator', where: 'linux.seccomp.syscalls[0].args[0].op', patch: (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 1, op: 'SCMP_CMP_BOGUS' }] }] }; } },
  { name: 'memory-limit-string', where: 'linux.resources.memory.limit', patch: (c) => { c.linux.resources.memory = { limit: '64m' }; } },
  { name: 'memory-swap-below-limit', where: 'linux.resources.memory.swap', patch: (c) => { c.linux.resources.memory = { limit: 67108864, swap: 33554432 }; } },
  { name: 'cpu-shares-string', where: 'linux.resources.cpu.shares', patch: (c) => { c.linux.resources.cpu = { shares: '512' }; } },
  { name: 'cpuset-cpus-garbage', where: 'linux.resources.cpu.cpus', patch: (c) => { c.linux.resources.cpu = { cpus: 'abc' }; } },
  { name: 'pids-limit-string', where: 'linux.resources.pids.limit', patch: (c) => { c.linux.resources.pids = { limit: 'many' }; } },
  { name: 'device-bad-type', where: 'linux.devices[0].type', patch: (c) => { c.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 3 }]; } },
  { name: 'sysctl-not-namespaced', where: 'linux.sysctl', patch: (c) => { c.linux.sysctl = { 'vm.swappiness': '10' }; } },
  { name: 'sysctl-net-without-netns', where: 'linux.sysctl', patch: (c) => { c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network'); c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; } },
  { name: 'hook-path-relative', where: 'hooks.prestart[0].path', patch: (c) => { c.hooks = { prestart: [{ path: 'bin/true' }] }; } },
  // only the kernel says it (the init is OOM-killed): the one line names the field, not as config.json's
  { name: 'memory-limit-too-small', where: 'linux.resources.memory.limit', named: true, patch: (c) => { c.linux.resources.memory = { limit: 4096 }; } },
  { name: 'hostname-too-long', where: 'hostname', patch: (c) => { c.hostname = 'h'.repeat(100); } },
];
