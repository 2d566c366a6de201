// Layout detection, cgroupsPath resolution, the conversions and the validation: from fixed
// mountinfo and /proc/PID/cgroup texts, no cgroup is touched (managers are only constructed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  cgroupManager, detectCgroups, layoutFrom, parseMountinfo, parseProcCgroup, mountedDir, parseCgroupsPath,
  sharesToWeight, blkioToIoWeight, swapToV2, normalizeResources,
} from '../../dist/src/cgroups/index.js';

function throwsMessage(fn, re) {
  assert.throws(fn, (err) => {
    assert.equal(err.name === 'HakoError' || err.name === 'CgroupError', true, `a HakoError, not ${err.name}`);
    assert.match(err.message, re);
    return true;
  });
}

// this kind of host: v1 controllers each on its own, cpu and cpuacct apart, v2 at .../unified
const HYBRID_SPLIT = {
  mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
  cgroup: `9:name=systemd:/
8:pids:/
4:memory:/process_api/a71b
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`,
};

// a systemd hybrid host (Debian 10 style): comounted cpu,cpuacct and net_cls,net_prio
const HYBRID_SYSTEMD = {
  mountinfo: `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
`,
  cgroup: `12:memory:/user.slice
4:net_cls,net_prio:/
3:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice/user-1000.slice/session-2.scope
0::/user.slice/user-1000.slice/session-2.scope
`,
};

const UNIFIED = {
  mountinfo: `22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw
29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`,
  cgroup: '0::/user.slice/user-1000.slice/session-1.scope\n',
};

const LEGACY = {
  mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
`,
  cgroup: '3:freezer:/\n2:memory:/\n1:cpu,cpuacct:/\n',
};

// inside a container: hierarchies bind-mounted from a sub-cgroup, a mount point with a space
const CONTAINER = {
  mountinfo: `100 90 0:29 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
102 90 0:29 /docker/abc/sub /elsewhere ro,nosuid - cgroup cgroup rw,memory
101 90 0:40 /docker/abc /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw
`,
  cgroup: '5:memory:/docker/abc\n0::/docker/abc\n',
};

const layoutOf = (f) => layoutFrom(f.mountinfo, f.cgroup);

test('parseMountinfo: fields, optional fields, octal escapes', () => {
  const [m] = parseMountinfo('36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n');
  assert.equal(m.root, '/mnt1');
  assert.equal(m.mountPoint, '/mnt/a b');
  assert.equal(m.fsType, 'ext3');
  assert.equal(m.source, '/dev/root');
  assert.deepEqual(m.superOptions, ['rw', 'errors=continue']);
});

test('parseProcCgroup: v1 lines by controller list, the 0:: line, paths with colons', () => {
  const s = parseProcCgroup('3:cpu,cpuacct:/a:b\n1:name=systemd:/x\n0::/y\n');
  assert.equal(s.v1.get('cpu,cpuacct'), '/a:b');
  assert.equal(s.v1.get('name=systemd'), '/x');
  assert.equal(s.v2, '/y');
});

test('hybrid, cpu and cpuacct apart (this kind of host)', () => {
  const l = layoutOf(HYBRID_SPLIT);
  assert.equal(l.mode, 'hybrid');
  assert.deepEqual(l.v1.map((h) => h.key), ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'name=systemd']);
  assert.equal(l.v1.find((h) => h.key === 'name=systemd').name, 'systemd');
  assert.deepEqual(l.v1.find((h) => h.key === 'name=systemd').controllers, []);
  assert.deepEqual(l.v2, { mountPoint: '/sys/fs/cgroup/unified', root: '/' });
  assert.equal(l.self.v1.get('memory'), '/process_api/a71b');
});

test('hybrid with comounted cpu,cpuacct and net_cls,net_prio', () => {
  const l = layoutOf(HYBRID_SYSTEMD);
  assert.equal(l.mode, 'hybrid');
  const cpu = l.v1.find((h) => h.controllers.includes('cpu'));
  assert.equal(cpu.key, 'cpu,cpuacct');
  assert.deepEqual(cpu.controllers, ['cpu', 'cpuacct']);
  assert.equal(cpu.mountPoint, '/sys/fs/cgroup/cpu,cpuacct');
  assert.equal(l.v1.find((h) => h.controllers.includes('net_prio')).key, 'net_cls,net_prio');
  assert.equal(l.v1.find((h) => h.name === 'systemd').key, 'name=systemd', 'xattr is not a controller');
});

test('unified and legacy', () => {
  const u = layoutOf(UNIFIED);
  assert.equal(u.mode, 'unified');
  assert.deepEqual(u.v1, []);
  assert.deepEqual(u.v2, { mountPoint: '/sys/fs/cgroup', root: '/' });
  const l = layoutOf(LEGACY);
  assert.equal(l.mode, 'legacy');
  assert.equal(l.v2, undefined);
  assert.deepEqual(l.v1.map((h) => h.key), ['cpu,cpuacct', 'memory', 'freezer']);
  throwsMessage(() => layoutFrom('22 1 259:2 / / rw - ext4 /dev/root rw\n', '0::/\n'), /^hako: cgroup: no cgroup filesystem is mounted/);
});

test('a container view: mount roots that are not /, a hierarchy mounted twice', () => {
  const l = layoutOf(CONTAINER);
  assert.equal(l.v1.length, 1, 'one entry per hierarchy');
  assert.equal(l.v1[0].root, '/docker/abc');
  assert.equal(l.v2.mountPoint, '/mnt/my cgroups');
  assert.equal(mountedDir(l.v1[0], '/docker/abc'), '/sys/fs/cgroup/memory');
  assert.equal(mountedDir(l.v1[0], '/docker/abc/x/y'), '/sys/fs/cgroup/memory/x/y');
  assert.equal(mountedDir(l.v1[0], '/docker/abcd'), undefined);
  assert.equal(mountedDir(l.v1[0], '/other'), undefined);
  const m = cgroupManager('ctr', 'c1', { layout: l });
  assert.equal(m.dirs.memory, '/sys/fs/cgroup/memory/ctr');
  assert.equal(m.dirs.unified, '/mnt/my cgroups/ctr');
  assert.equal(m.path, '/docker/abc/ctr');
});

test('detectCgroups reads this host (and agrees with /proc/self/mountinfo)', () => {
  const l = detectCgroups();
  const mi = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.equal(!!l.v2, / - cgroup2 /.test(mi));
  if (l.mode !== 'unified') assert.ok(l.v1.length > 0 && / - cgroup /.test(mi));
  for (const h of l.v1) assert.ok(mi.includes(` ${h.mountPoint} `), h.mountPoint);
});

test('cgroupsPath: unset, absolute, relative; systemd, .. and the root refused', () => {
  assert.deepEqual(parseCgroupsPath(undefined, 'c1'), { kind: 'absolute', path: '/hako/c1' });
  assert.deepEqual(parseCgroupsPath('', 'c1'), { kind: 'absolute', path: '/hako/c1' });
  assert.deepEqual(parseCgroupsPath('/a//b/', 'c1'), { kind: 'absolute', path: '/a/b' });
  assert.deepEqual(parseCgroupsPath('./x/y', 'c1'), { kind: 'relative', path: 'x/y' });
  assert.deepEqual(parseCgroupsPath('/libpod_parent/libpod-abc', 'abc'), { kind: 'absolute', path: '/libpod_parent/libpod-abc' });
  throwsMessage(() => parseCgroupsPath('system.slice:podman:abc', 'abc'), /^hako: cgroup: linux\.cgroupsPath 'system\.slice:podman:abc' is a systemd "slice:prefix:name" path, and hako has no systemd cgroup driver/);
  throwsMessage(() => parseCgroupsPath('/a/../../etc', 'c1'), /must not contain '\.\.'/);
  throwsMessage(() => parseCgroupsPath('/', 'c1'), /names the root cgroup/);
  throwsMessage(() => parseCgroupsPath('.', 'c1'), /names the caller's own cgroup/);
  throwsMessage(() => parseCgroupsPath(undefined, 'a/b'), /cannot name a cgroup/);
});

test('cgroupManager picks the backend and the directories from the layout', () => {
  const h = cgroupManager(undefined, 'c1', { layout: layoutOf(HYBRID_SYSTEMD) });
  assert.equal(h.version, 1);
  assert.equal(h.path, '/hako/c1');
  assert.deepEqual(h.dirs, {
    'name=systemd': '/sys/fs/cgroup/systemd/hako/c1',
    'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/hako/c1',
    'net_cls,net_prio': '/sys/fs/cgroup/net_cls,net_prio/hako/c1',
    memory: '/sys/fs/cgroup/memory/hako/c1',
    unified: '/sys/fs/cgroup/unified/hako/c1',
  });
  assert.equal(h.dirOf('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct/hako/c1');
  assert.equal(h.dirOf('pids'), undefined);
  assert.deepEqual(h.mountInfo().cgroupV1Dirs.map((d) => d.name), ['systemd', 'cpu,cpuacct', 'net_cls,net_prio', 'memory', 'unified']);
  // relative: under the caller's cgroup of each hierarchy
  const r = cgroupManager('ctr/c1', 'c1', { layout: layoutOf(HYBRID_SYSTEMD) });
  assert.equal(r.dirs.memory, '/sys/fs/cgroup/memory/user.slice/ctr/c1');
  assert.equal(r.dirs['net_cls,net_prio'], '/sys/fs/cgroup/net_cls,net_prio/ctr/c1');
  assert.equal(r.dirs.unified, '/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-2.scope/ctr/c1');
  // legacy: no v2 directory
  assert.equal(cgroupManager(undefined, 'c1', { layout: layoutOf(LEGACY) }).dirs.unified, undefined);
  // unified
  const u = cgroupManager(undefined, 'c1', { layout: layoutOf(UNIFIED) });
  assert.equal(u.version, 2);
  assert.deepEqual(u.dirs, { unified: '/sys/fs/cgroup/hako/c1' });
  assert.equal(cgroupManager('x', 'c1', { layout: layoutOf(UNIFIED) }).dirs.unified, '/sys/fs/cgroup/user.slice/user-1000.slice/session-1.scope/x');
  throwsMessage(() => cgroupManager(undefined, 'c1', { layout: layoutOf(UNIFIED), version: 1 }), /only cgroup v2/);
  throwsMessage(() => cgroupManager(undefined, 'c1', { layout: layoutOf(LEGACY), version: 2 }), /cgroup v2 is not mounted/);
  // a hybrid host is never refused; version 2 picks its v2 tree
  assert.equal(cgroupManager(undefined, 'c1', { layout: layoutOf(HYBRID_SPLIT), version: 2 }).dirs.unified, '/sys/fs/cgroup/unified/hako/c1');
  throwsMessage(() => cgroupManager('machine.slice:libpod:c1', 'c1', { layout: layoutOf(HYBRID_SPLIT) }), /systemd/);
});

test('conversions: cpu.shares → cpu.weight, blkio → io weight, swap → memory.swap.max', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(blkioToIoWeight(10), 1);
  assert.equal(blkioToIoWeight(100), 910);
  assert.equal(blkioToIoWeight(1000), 10000);
  assert.equal(swapToV2(undefined, -1), 'max');
  assert.equal(swapToV2(undefined, 64), undefined);
  assert.equal(swapToV2(-1, 64), 'max');
  assert.equal(swapToV2(96, 64), '32');
  assert.equal(swapToV2(64, 64), '0');
  assert.throws(() => swapToV2(32, 64));
  assert.throws(() => swapToV2(64, undefined));
});

test('normalizeResources: unset spellings dropped, bad values and unknown fields refused', () => {
  assert.deepEqual(normalizeResources({}), { hugepageLimits: [], unified: [] });
  assert.deepEqual(normalizeResources(undefined), { hugepageLimits: [], unified: [] });
  const w = normalizeResources({ memory: { limit: 0, swappiness: 18446744073709551615 }, pids: { limit: 0 }, devices: [], rdma: {}, cpu: { cpus: '0-3,5', quota: 0 } });
  assert.equal(w.memory, undefined, 'limit 0 and swappiness 2^64-1 mean unset');
  assert.equal(w.pidsLimit, -1, 'pids limit 0: no limit');
  assert.deepEqual(w.cpu, { cpus: '0-3,5' });
  assert.deepEqual(normalizeResources({ hugepageLimits: [{ pageSize: '1GB', limit: 0 }] }).hugepageLimits, [{ size: '1GB', limit: 0 }]);
  throwsMessage(() => normalizeResources({ devices: [{ allow: false, access: 'rwm' }] }), /^hako: cgroup: linux\.resources\.devices is not supported yet/);
  throwsMessage(() => normalizeResources({ rdma: { mlx5_1: { hcaHandles: 3 } } }), /^hako: cgroup: linux\.resources\.rdma is not supported yet$/);
  throwsMessage(() => normalizeResources({ memroy: {} }), /linux\.resources\.memroy is not a field the OCI runtime-spec defines/);
  throwsMessage(() => normalizeResources({ memory: { limit: -5 } }), /linux\.resources\.memory\.limit must be a byte count or -1/);
  throwsMessage(() => normalizeResources({ memory: { limit: 1.5 } }), /must be an integer/);
  throwsMessage(() => normalizeResources({ memory: { swappiness: 101 } }), /between 0 and 100/);
  throwsMessage(() => normalizeResources({ cpu: { cpus: 'all' } }), /linux\.resources\.cpu\.cpus must be a list such as "0-3,5"/);
  throwsMessage(() => normalizeResources({ cpu: { shares: 300000 } }), /between 2 and 262144/);
  throwsMessage(() => normalizeResources({ blockIO: { weight: 5 } }), /linux\.resources\.blockIO\.weight must be between 10 and 1000/);
  throwsMessage(() => normalizeResources({ blockIO: { throttleReadBpsDevice: [{ major: 8 }] } }), /throttleReadBpsDevice\[0\]\.minor must be an integer/);
  throwsMessage(() => normalizeResources({ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }), /pageSize must be a size such as "2MB"/);
  throwsMessage(() => normalizeResources({ unified: { 'memory.max': 5 } }), /unified\["memory\.max"\] must be a string/);
  throwsMessage(() => normalizeResources({ unified: { '../../x': '1' } }), /is not a cgroup v2 file name/);
});
