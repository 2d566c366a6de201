// Containers runc runs, hako runs the same way: a minimal seccomp allow-list without close_range,
// hostname in a uts namespace joined by path, every rootfsPropagation, devices in subdirectories
// of /dev, and lo up in a new network namespace. Each is compared with runc where runc can run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Background, NO_RUNC, hakoRun, hostHostname, lines, mountInfo, nsLink, ok, oneLineError, removeContainer, runcRun, runDetached, runSync, scoped, show, sleeper, waitUntil,
} from './oci-util.mjs';

/** Adds busybox applets the default rootfs does not link. */
function applets(b, ...names) {
  for (const a of names) symlinkSync('busybox', join(b.rootfs, 'bin', a));
  return b;
}

// What busybox echo and runc 1.1's init need after its filter (found by removing names one at a
// time while runc still ran the container, with and without noNewPrivileges). No close_range,
// no setresuid/setresgid: runc's init uses neither.
const MINIMAL_X86_64 = [
  'execve', 'read', 'write', 'mmap', 'arch_prctl', 'openat', 'close', 'getdents64', 'fstat', 'newfstatat', 'futex',
  'rt_sigreturn', 'prctl', 'capget', 'capset', 'setgroups', 'setgid', 'setuid', 'getppid', 'mprotect', 'exit',
  'getcwd', 'fstatfs', 'chdir', 'getegid',
];

test('a minimal seccomp allow-list without close_range: hako runs it as runc does, with and without noNewPrivileges', { skip: process.arch !== 'x64' ? 'the minimal syscall list is x86_64\'s' : NO_RUNC }, scoped(async (s) => {
  for (const nnp of [false, true]) {
    const b = s.bundle((c) => {
      c.process.noNewPrivileges = nnp;
      c.process.args = ['echo', 'hello'];
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: MINIMAL_X86_64, action: 'SCMP_ACT_ALLOW' }],
      };
    });
    const runc = runcRun(s, b);
    assert.equal(runc.status, 0, `runc (noNewPrivileges ${nnp}) cannot run the profile: the test's list is wrong\n${show(runc)}`);
    const hako = hakoRun(s, b);
    assert.equal(hako.status, 0, `noNewPrivileges ${nnp}\n${show(hako)}`);
    assert.equal(hako.stdout, runc.stdout);
    assert.equal(hako.stdout, 'hello\n');
  }
}));

test('create + start with a minimal allow-list (no statfs) and noNewPrivileges false: the filter is loaded before the wait on exec.fifo, which must not need more than runc\'s init does', { skip: process.arch !== 'x64' ? 'the minimal syscall list is x86_64\'s' : NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.noNewPrivileges = false;
    c.process.args = ['echo', 'hello'];
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: MINIMAL_X86_64, action: 'SCMP_ACT_ALLOW' }] };
  });
  assert.ok(!MINIMAL_X86_64.includes('statfs'));
  for (const rt of ['runc', 'hako']) {
    const id = rt === 'runc' ? s.runcId() : s.id();
    const files = s.outputFiles();
    let created;
    try {
      created = rt === 'runc'
        ? s.runc(['create', '-b', b.dir, id], { stdio: ['ignore', ...files.fds] })
        : s.hako(['create', '-b', b.dir, id], { stdio: ['ignore', ...files.fds] });
    } finally {
      files.close();
    }
    assert.equal(created.status, 0, `${rt} create\n${show({ ...created, ...files.read() })}`);
    ok(rt === 'runc' ? s.runc(['start', id]) : s.hako(['start', id]));
    await waitUntil(() => files.read().stdout === 'hello\n', { timeoutMs: 10_000, what: () => `${rt}'s container to print hello (stdout ${JSON.stringify(files.read().stdout)}, stderr ${JSON.stringify(files.read().stderr)})` });
    await waitUntil(() => JSON.parse((rt === 'runc' ? s.runc(['state', id]) : s.hako(['state', id])).stdout).status === 'stopped', { what: `${rt}'s container to stop` });
    ok(rt === 'runc' ? s.runc(['delete', id]) : s.hako(['delete', id]));
  }
}));

test('a uts namespace joined by path gets the hostname (and domainname); the host\'s is unchanged', scoped(async (s) => {
  const before = hostHostname();
  const holder = new Background('unshare', ['--uts', 'sleep', s.marker], { env: s.env() });
  s.background.push(holder);
  await waitUntil(() => nsLink(holder.pid, 'uts') && nsLink(holder.pid, 'uts') !== nsLink('self', 'uts'), { timeoutMs: 5000, what: 'the holder\'s uts namespace' });
  const path = `/proc/${holder.pid}/ns/uts`;
  const b = s.bundle((c) => { c.hostname = 'joined'; c.domainname = 'joined.dom'; })
    .namespace('uts', { path })
    .sh('hostname; cat /proc/sys/kernel/domainname; readlink /proc/self/ns/uts');
  assert.deepEqual(lines(ok(hakoRun(s, b))), ['joined', 'joined.dom', nsLink(holder.pid, 'uts')]);
  assert.equal(ok(runSync('nsenter', [`--uts=${path}`, 'hostname'])), 'joined\n');
  assert.equal(hostHostname(), before);
}));

/** The optional fields (shared:N, master:N, unbindable) of the mounts at / and /proc, from inside. */
const PROPAGATION = 'while read -r id parent dev root point opts rest; do case $point in /|/proc) echo "$point ${rest%% - *}";; esac; done < /proc/self/mountinfo';

function propagation(out) {
  // "/ shared:1 master:2 - ..." -> { '/': 'shared master', ... } (the numbers vary)
  return Object.fromEntries(lines(out).map((l) => {
    const [point, ...fields] = l.split(' ');
    const kinds = fields.filter((f) => f && f !== '-' && /^(shared|master|propagate_from|unbindable)/.test(f)).map((f) => f.split(':')[0]);
    return [point, kinds.sort().join(' ')];
  }));
}

test('every linux.rootfsPropagation: the propagation of / seen from inside, as runc gives it (or the spec says where runc fails); the host\'s / is unchanged', scoped(async (s) => {
  const hostRoot = () => lines(mountInfo()).find((l) => l.split(' ')[4] === '/');
  const before = hostRoot();
  // spec meaning: shared makes / shared, unbindable makes it unbindable; the r forms reach the
  // mounts under it (/proc); slave and private leave no shared peer inside (the host's / here
  // may be private, when slave shows nothing either)
  const want = {
    shared: { '/': 'shared' }, rshared: { '/': 'shared', '/proc': 'shared' },
    unbindable: { '/': 'unbindable', '/proc': '' }, runbindable: { '/': 'unbindable', '/proc': 'unbindable' },
  };
  for (const value of ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'unbindable', 'runbindable']) {
    const b = s.bundle((c) => { c.linux.rootfsPropagation = value; }).sh(PROPAGATION);
    const r = hakoRun(s, b);
    assert.equal(r.status, 0, `${value}\n${show(r)}`);
    const got = propagation(r.stdout);
    if (want[value]) {
      for (const [point, kinds] of Object.entries(want[value])) {
        assert.equal(got[point].replace(/ ?master/, ''), kinds, `${value}: ${point}: ${r.stdout}`);
      }
    } else {
      assert.ok(!got['/'].includes('shared') && !got['/'].includes('unbindable'), `${value}: /: ${r.stdout}`);
      if (!NO_RUNC) assert.deepEqual(got, propagation(ok(runcRun(s, b))), `${value}: hako and runc differ`);
    }
    assert.equal(hostRoot(), before, `${value} changed the host's /`);
  }
}));

test('devices in subdirectories of /dev (/dev/net/tun, /dev/a/b/c/null) are made with their parents, also in a user namespace', scoped(async (s) => {
  const stat = 'stat -c "%n %F %t:%T %a" /dev/net /dev/net/tun /dev/a/b/c /dev/a/b/c/null && echo ok > /dev/a/b/c/null';
  const b = s.bundle((c) => {
    c.linux.devices = [
      { path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666 },
      { path: '/dev/a/b/c/null', type: 'c', major: 1, minor: 3, fileMode: 0o666 },
    ];
    c.linux.resources.devices.push({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
  }).sh(stat);
  assert.deepEqual(lines(ok(hakoRun(s, b))), [
    '/dev/net directory 0:0 755', '/dev/net/tun character special file a:c8 666',
    '/dev/a/b/c directory 0:0 755', '/dev/a/b/c/null character special file 1:3 666',
  ]);
  // in a user namespace the devices are the host's, bound (only /dev/net/tun exists on the host)
  const u = s.bundle((c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.devices = [{ path: '/dev/net/tun', type: 'c', major: 10, minor: 200 }];
  }).sh('stat -c "%n %F %t:%T" /dev/net /dev/net/tun');
  assert.deepEqual(lines(ok(hakoRun(s, u))), ['/dev/net directory 0:0', '/dev/net/tun character special file a:c8']);
}));

test('lo is up in a new network namespace (a connection to 127.0.0.1 works), as with runc; a joined one is left as it is', scoped(async (s) => {
  // a listener on 127.0.0.1 and a client that sends it a line (bounded: -w2, the listener ends
  // with the connection)
  const script = 'ip link show lo | head -1 | grep -o "<[^>]*>"; nc -l -p 5555 127.0.0.1 > /tmp/got & sleep 0.3; '
    + 'echo through-lo | nc -w2 127.0.0.1 5555; wait; cat /tmp/got';
  const b = applets(s.bundle(), 'ip', 'nc').sh(script);
  const out = lines(ok(hakoRun(s, b)));
  assert.match(out[0], /[<,]UP[,>]/, out.join('\n'));
  assert.equal(out[1], 'through-lo');
  if (!NO_RUNC) assert.deepEqual(out, lines(ok(runcRun(s, b))));
  // a network namespace joined by path is not touched: lo stays down there
  const holder = new Background('unshare', ['--net', 'sleep', s.marker], { env: s.env() });
  s.background.push(holder);
  await waitUntil(() => nsLink(holder.pid, 'net') && nsLink(holder.pid, 'net') !== nsLink('self', 'net'), { timeoutMs: 5000, what: 'the holder\'s network namespace' });
  b.namespace('network', { path: `/proc/${holder.pid}/ns/net` }).sh('ip link show lo | head -1 | grep -o "<[^>]*>"');
  assert.doesNotMatch(ok(hakoRun(s, b)), /[<,]UP[,>]/);
}));

// found by the differential corpus (test/differential: caps-absent, caps-unknown-name)
test('no process.capabilities: the process has none (as runc), and exec --process without them gets the container\'s', { skip: NO_RUNC }, scoped(async (s) => {
  const caps = 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status';
  const b = s.bundle((c) => { delete c.process.capabilities; }).sh(caps);
  const runc = ok(runcRun(s, b));
  assert.match(runc, /CapBnd:\s*0{16}/, 'runc gives no capabilities: the test\'s premise is wrong');
  assert.equal(ok(hakoRun(s, b)), runc);
  // exec with a process.json without capabilities: the container's (runc's rule)
  const withCaps = s.bundle((c) => { c.process.capabilities = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] }; }).args(...sleeper(s));
  const { id } = runDetached(s, withCaps);
  const proc = s.path('process.json');
  writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', caps], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }));
  const out = ok(s.hako(['exec', '--process', proc, id]));
  assert.match(out, /CapBnd:\s*0{14}20\n/, out);
  assert.match(out, /CapEff:\s*0{14}20\n/, out);
  removeContainer(s, id);
}));

test('an unknown capability name is ignored with a warning, as runc does', { skip: NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => { c.process.capabilities.bounding.push('CAP_NO_SUCH_THING'); }).sh('grep ^CapBnd /proc/self/status');
  const runc = runcRun(s, b);
  assert.equal(runc.status, 0, show(runc));
  const hako = hakoRun(s, b);
  assert.equal(hako.status, 0, show(hako));
  assert.equal(hako.stdout, runc.stdout);
  assert.match(hako.stderr, /^hako: config\.json: process\.capabilities\.bounding\[\d+\]: unknown capability "CAP_NO_SUCH_THING" is ignored\n$/);
}));

// found by the differential corpus (mount-bind-shared): the old root was made a slave through
// "." after pivot_root, which is the new root, so every mount of the container lost its peers
test('a bind mount with the shared (or rshared) option is shared inside the container, as runc makes it', { skip: NO_RUNC }, scoped(async (s) => {
  for (const opt of ['shared', 'rshared']) {
    const b = s.bundle((c) => { c.mounts.push({ destination: '/mnt', type: 'bind', source: s.dir, options: ['rbind', opt] }); })
      .sh('while read -r id parent dev root point opts rest; do [ "$point" = /mnt ] && echo "${rest%% - *}"; done < /proc/self/mountinfo; true');
    const kinds = (out) => out.trim().split(' ').filter((f) => f).map((f) => f.split(':')[0]).sort().join(' ');
    const runc = ok(runcRun(s, b));
    assert.match(runc, /shared:/, `runc's ${opt} bind mount is not shared: the test's premise is wrong`);
    assert.equal(kinds(ok(hakoRun(s, b))), kinds(runc), opt);
  }
}));

// found by the differential corpus (caps-lowercase-names)
test('lower-case capability names are unknown names: ignored with a warning, not granted (as runc)', { skip: NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => { c.process.capabilities = { bounding: ['cap_kill'], effective: ['cap_kill'], permitted: ['cap_kill'] }; })
    .sh('grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status');
  const runc = ok(runcRun(s, b));
  assert.match(runc, /CapBnd:\s*0{16}/, 'runc grants cap_kill: the test\'s premise is wrong');
  const hako = hakoRun(s, b);
  assert.equal(ok(hako), runc);
  assert.match(hako.stderr, /unknown capability "cap_kill" is ignored/);
}));

// found by the differential corpus (user-duplicate-additional-gids)
test('additionalGids listed twice are given once (as runc)', { skip: NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => { c.process.user = { uid: 1000, gid: 1000, additionalGids: [2000, 2000, 1000] }; }).sh('grep ^Groups /proc/self/status');
  const runc = ok(runcRun(s, b));
  assert.equal(ok(hakoRun(s, b)), runc);
  assert.match(runc, /^Groups:\s*1000 2000\s*$/m);
}));

// found by the differential corpus (devices-override-default)
test('a linux.devices entry at a default device\'s path replaces the default (as runc: it "MUST be available")', { skip: NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 5, fileMode: 0o600 }]; })
    .sh('stat -c "%t,%T %a" /dev/null');
  const runc = ok(runcRun(s, b));
  assert.equal(runc, '1,5 600\n');
  assert.equal(ok(hakoRun(s, b)), runc);
}));

// found by the differential corpus (apparmor-profile-on-a-host-without, selinux-*-on-a-host-without)
test('an AppArmor profile or SELinux label the host cannot apply is refused, naming the field (as runc), not ignored', { skip: NO_RUNC }, scoped(async (s, t) => {
  const enabled = (f) => { try { return readFileSync(f, 'utf8').trim().startsWith('Y') || readFileSync(f, 'utf8').trim() === '1'; } catch { return false; } };
  if (enabled('/sys/module/apparmor/parameters/enabled') || existsSync('/sys/fs/selinux/enforce')) {
    t.skip('AppArmor or SELinux is enabled here: the test needs a host without them (as CI\'s)');
    return;
  }
  for (const [edit, field] of [
    [(c) => { c.process.apparmorProfile = 'container-default'; }, 'process.apparmorProfile'],
    [(c) => { c.process.selinuxLabel = 'system_u:system_r:container_t:s0'; }, 'process.selinuxLabel'],
    [(c) => { c.linux.mountLabel = 'system_u:object_r:container_file_t:s0'; }, 'linux.mountLabel'],
  ]) {
    const b = s.bundle(edit).args('true');
    assert.notEqual(runcRun(s, b).status, 0, `runc runs ${field}: the test's premise is wrong`);
    oneLineError(hakoRun(s, b), { match: new RegExp(`^hako: config\\.json: ${field.replace('.', '\\.')}: .* is not enabled on this host`) });
  }
}));

// found by the differential corpus (seccomp-rule-without-names)
test('a seccomp rule that names no syscall is ignored with a warning, as runc loads the profile without it', { skip: NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => {
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }, { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
  }).sh('mkdir /tmp/x 2>/dev/null; echo mkdir=$?');
  const runc = ok(runcRun(s, b));
  assert.equal(runc, 'mkdir=1\n');
  const hako = hakoRun(s, b);
  assert.equal(ok(hako), runc);
  assert.match(hako.stderr, /^hako: config\.json: linux\.seccomp\.syscalls\[0\]\.names: names no syscall: the rule is ignored\n$/);
}));
