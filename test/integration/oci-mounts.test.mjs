// The OCI runtime: config.json's mounts (tmpfs options, binds ro/rw/recursive, a bind onto a file,
// propagation, rro, mqueue, devpts, sysfs, proc), destinations through symlinks that point out of
// the rootfs, root.readonly, rootfsPropagation and --no-pivot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NO_RUNC, hakoRun, lines, mountInfo, ok, removeContainer, runDetached, runSync, runcRun, scoped, show, sleeper,
  waitUntil,
} from './oci-util.mjs';

/** The mountinfo line of mount point `target` in a mountinfo text (the last one: the top of the stack). */
function mountAt(text, target) {
  const found = lines(text).filter((l) => l.split(' ')[4] === target);
  assert.ok(found.length, `nothing is mounted at ${target}:\n${text}`);
  const l = found[found.length - 1];
  const f = l.split(' ');
  const sep = f.indexOf('-');
  return { line: l, options: f[5].split(','), optional: f.slice(6, sep), fstype: f[sep + 1], source: f[sep + 2], superOptions: f[sep + 3].split(',') };
}

/** Mounts a tmpfs at dir on the host (for sources with submounts); returns an undo function. */
function hostTmpfs(s, dir, options = 'size=1m') {
  mkdirSync(dir, { recursive: true });
  ok(runSync('mount', ['-t', 'tmpfs', '-o', options, `hako-oci-${s.token}`, dir]));
  return () => { runSync('umount', ['-l', dir]); };
}

test('tmpfs with options: mode, size, nosuid/nodev/noexec are in the mountinfo inside', scoped(async (s) => {
  const b = s.bundle().addMount({ destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=1750', 'size=2m'] })
    .sh('cat /proc/self/mountinfo; echo ---; stat -c %a /mnt/t; cp /bin/busybox /mnt/t/bb && /mnt/t/bb true; echo exec=$?');
  const [info, rest] = ok(hakoRun(s, b)).split('---\n');
  const m = mountAt(info, '/mnt/t');
  assert.equal(m.fstype, 'tmpfs');
  for (const o of ['nosuid', 'nodev', 'noexec', 'rw']) assert.ok(m.options.includes(o), `${o} missing: ${m.line}`);
  assert.ok(m.superOptions.includes('size=2048k'), m.line);
  assert.ok(m.superOptions.includes('mode=1750'), m.line);
  assert.match(rest, /^1750\n/);
  assert.match(rest, /exec=126$/m, 'exec on a noexec tmpfs must fail');
}));

test('bind ro: reads work, writes fail with EROFS, the host file is unchanged', scoped(async (s) => {
  const src = s.path('ro-src');
  mkdirSync(src);
  writeFileSync(join(src, 'file'), 'from the host\n');
  const b = s.bundle().addMount({ destination: '/data', type: 'bind', source: src, options: ['bind', 'ro'] })
    .sh('cat /data/file; echo changed > /data/file; echo w1=$?; echo new > /data/new; echo w2=$?; grep " /data " /proc/self/mountinfo');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  assert.match(r.stdout, /^from the host\nw1=1\nw2=1\n/);
  assert.match(r.stderr, /Read-only file system/);
  assert.ok(mountAt(r.stdout, '/data').options.includes('ro'));
  assert.equal(readFileSync(join(src, 'file'), 'utf8'), 'from the host\n');
  assert.deepEqual(readdirSync(src), ['file']);
}));

test('bind rw: writes inside reach the host directory', scoped(async (s) => {
  const src = s.path('rw-src');
  mkdirSync(src);
  const b = s.bundle().addMount({ destination: '/data', type: 'none', source: src, options: ['rbind', 'rw'] })
    .sh('echo written-inside > /data/new; grep " /data " /proc/self/mountinfo');
  assert.ok(mountAt(ok(hakoRun(s, b)), '/data').options.includes('rw'));
  assert.equal(readFileSync(join(src, 'new'), 'utf8'), 'written-inside\n');
}));

test('a bind source relative to the bundle', scoped(async (s) => {
  const b = s.bundle();
  mkdirSync(join(b.dir, 'shared-data'));
  writeFileSync(join(b.dir, 'shared-data', 'f'), 'relative source\n');
  b.addMount({ destination: '/data', type: 'bind', source: 'shared-data', options: ['rbind', 'ro'] }).args('cat', '/data/f');
  // hako's cwd is not the bundle: the source is taken from the bundle, not from the cwd
  assert.equal(ok(hakoRun(s, b, { cwd: '/' })), 'relative source\n');
}));

test('bind takes only the top mount; rbind takes the mounts below it too', scoped(async (s) => {
  const src = s.path('tree');
  mkdirSync(join(src, 'sub'), { recursive: true });
  const undo = hostTmpfs(s, join(src, 'sub'));
  try {
    writeFileSync(join(src, 'sub', 'in-submount'), 'x');
    const plain = s.bundle().addMount({ destination: '/t', type: 'bind', source: src, options: ['bind'] }).sh('ls /t/sub');
    assert.equal(ok(hakoRun(s, plain)), '');
    const rec = s.bundle().addMount({ destination: '/t', type: 'bind', source: src, options: ['rbind'] }).sh('ls /t/sub');
    assert.equal(ok(hakoRun(s, rec)), 'in-submount\n');
  } finally {
    undo();
  }
}));

test('rro makes a recursive bind read-only all the way down', scoped(async (s) => {
  const src = s.path('tree');
  mkdirSync(join(src, 'sub'), { recursive: true });
  const undo = hostTmpfs(s, join(src, 'sub'));
  try {
    const b = s.bundle().addMount({ destination: '/t', type: 'bind', source: src, options: ['rbind', 'rro'] })
      .sh('touch /t/top; echo top=$?; touch /t/sub/below; echo below=$?; grep -E " /t(/sub)? " /proc/self/mountinfo');
    const out = ok(hakoRun(s, b));
    assert.match(out, /^top=1$/m);
    assert.match(out, /^below=1$/m);
    assert.ok(mountAt(out, '/t').options.includes('ro'));
    assert.ok(mountAt(out, '/t/sub').options.includes('ro'));
    // ro alone is not recursive
    const flat = s.bundle().addMount({ destination: '/t', type: 'bind', source: src, options: ['rbind', 'ro'] })
      .sh('touch /t/top; echo top=$?; touch /t/sub/below; echo below=$?');
    const out2 = ok(hakoRun(s, flat));
    assert.match(out2, /^top=1$/m);
    assert.match(out2, /^below=0$/m);
    assert.deepEqual(readdirSync(src).sort(), ['sub']);
  } finally {
    undo();
  }
}));

test('a bind onto a file', scoped(async (s) => {
  const file = s.path('hosts-file');
  writeFileSync(file, '10.0.0.1 inside.example\n');
  const b = s.bundle().addMount({ destination: '/etc/hosts', type: 'bind', source: file, options: ['bind', 'ro'] })
    .sh('cat /etc/hosts; test -f /etc/hosts && echo is-file');
  assert.equal(ok(hakoRun(s, b)), '10.0.0.1 inside.example\nis-file\n');
  assert.ok(!existsSync(join(b.rootfs, 'etc', 'hosts')) || readFileSync(join(b.rootfs, 'etc', 'hosts'), 'utf8') === '');
}));

test('bind propagation: rslave sees host mounts appear below, rprivate does not; mountinfo shows it', scoped(async (s) => {
  const shared = s.path('shared');
  const undo = hostTmpfs(s, shared);
  const later = join(shared, 'later');
  let undoLater = () => {};
  try {
    ok(runSync('mount', ['--make-shared', shared]));
    mkdirSync(later);
    const slave = s.bundle().addMount({ destination: '/slave', type: 'bind', source: shared, options: ['rbind', 'rslave'] })
      .addMount({ destination: '/private', type: 'bind', source: shared, options: ['rbind', 'rprivate'] })
      .args(...sleeper(s));
    const { id, pid } = runDetached(s, slave);
    const info = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    assert.ok(mountAt(info, '/slave').optional.some((o) => o.startsWith('master:')), `rslave: ${mountAt(info, '/slave').line}`);
    assert.deepEqual(mountAt(info, '/private').optional, [], `rprivate: ${mountAt(info, '/private').line}`);
    // a mount made on the host afterwards reaches the slave only
    undoLater = hostTmpfs(s, later);
    writeFileSync(join(later, 'late-file'), 'x');
    await waitUntil(() => ok(s.hako(['exec', id, 'ls', '/slave/later'])) === 'late-file\n', { what: 'the host mount to reach /slave' });
    assert.equal(ok(s.hako(['exec', id, 'ls', '/private/later'])), '');
    removeContainer(s, id);
  } finally {
    undoLater();
    undo();
  }
}));

test('mqueue, devpts, shm, sysfs and proc from the default config', scoped(async (s) => {
  const b = s.bundle().sh('cat /proc/self/mountinfo; echo ---; touch /sys/x; echo sys=$?; readlink /dev/ptmx; stat -c %a /dev/shm; cat /proc/1/cmdline | tr "\\0" " "; echo');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  const [info, rest] = r.stdout.split('---\n');
  const mq = mountAt(info, '/dev/mqueue');
  assert.equal(mq.fstype, 'mqueue');
  for (const o of ['nosuid', 'nodev', 'noexec']) assert.ok(mq.options.includes(o), mq.line);
  const pts = mountAt(info, '/dev/pts');
  assert.equal(pts.fstype, 'devpts');
  assert.ok(pts.superOptions.includes('ptmxmode=666') && pts.superOptions.includes('mode=620') && pts.superOptions.includes('gid=5'), pts.line);
  const shm = mountAt(info, '/dev/shm');
  assert.equal(shm.fstype, 'tmpfs');
  assert.ok(shm.superOptions.includes('size=65536k'), shm.line);
  for (const o of ['nosuid', 'nodev', 'noexec']) assert.ok(shm.options.includes(o), shm.line);
  const sys = mountAt(info, '/sys');
  assert.equal(sys.fstype, 'sysfs');
  assert.ok(sys.options.includes('ro'), sys.line);
  assert.equal(mountAt(info, '/proc').fstype, 'proc');
  assert.match(r.stderr, /Read-only file system/);
  // the container's init is pid 1 of its own /proc (tr leaves a space for the last NUL)
  assert.deepEqual(lines(rest), ['sys=1', 'pts/ptmx', '1777', `sh -c ${b.config.process.args[2]} `]);
}));

test('the cgroup mount shows the container\'s own cgroups, read-only', scoped(async (s) => {
  const b = s.bundle().sh('ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/cgroup.procs; mkdir /sys/fs/cgroup/pids/x; echo mkdir=$?');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  const out = lines(r.stdout);
  for (const ctrl of ['memory', 'pids', 'freezer']) assert.ok(out.includes(ctrl), `${ctrl} missing:\n${r.stdout}`);
  assert.ok(out.includes('1'), `the container's init should be in its pids cgroup:\n${r.stdout}`);
  assert.ok(out.includes('mkdir=1'), r.stdout);
}));

/** A rootfs symlink /evil pointing at a host directory (absolute or with ..), and that directory. */
function evilBundle(s, relative) {
  const hostTarget = s.path(`host-target-${s.token}`);
  mkdirSync(hostTarget);
  const b = s.bundle();
  symlinkSync(relative ? `../../../../../../../..${hostTarget}` : hostTarget, join(b.rootfs, 'evil'));
  b.addMount({ destination: '/evil', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] })
    .sh(`echo inside > /evil/written; grep " ${hostTarget} " /proc/self/mountinfo`);
  return { b, hostTarget };
}

function assertHostTargetUntouched(hostTarget) {
  assert.deepEqual(readdirSync(hostTarget), [], `the host directory ${hostTarget} was written`);
  assert.ok(!mountInfo().includes(` ${hostTarget} `), `${hostTarget} is mounted on the host`);
}

for (const relative of [false, true]) {
  const kind = relative ? 'a relative symlink with ..' : 'an absolute symlink';
  test(`a mount through ${kind} out of the rootfs lands inside the rootfs (target inside exists)`, scoped(async (s) => {
    const { b, hostTarget } = evilBundle(s, relative);
    mkdirSync(join(b.rootfs, hostTarget), { recursive: true });
    for (const args of [[], ['--no-pivot']]) {
      const out = ok(hakoRun(s, b, { args }));
      assert.equal(mountAt(out, hostTarget).fstype, 'tmpfs', `${args}: the tmpfs is not at ${hostTarget} inside the root`);
      assertHostTargetUntouched(hostTarget);
      // the file went to the tmpfs inside, not to the rootfs directory under it
      assert.deepEqual(readdirSync(join(b.rootfs, hostTarget)), []);
    }
  }));

  test(`a mount through ${kind} out of the rootfs creates the target inside the rootfs, as runc`, scoped(async (s) => {
    const { b, hostTarget } = evilBundle(s, relative);
    let r;
    try {
      r = hakoRun(s, b);
    } finally {
      assertHostTargetUntouched(hostTarget);
    }
    assert.equal(mountAt(ok(r), hostTarget).fstype, 'tmpfs');
    assert.ok(existsSync(join(b.rootfs, hostTarget)), 'the target was not made inside the rootfs');
  }));
}

test('a mount destination with .. stays inside the rootfs', scoped(async (s) => {
  const hostTarget = s.path(`dotdot-${s.token}`);
  mkdirSync(hostTarget);
  const b = s.bundle().addMount({ destination: `/../../../../..${hostTarget}`, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] })
    .sh(`echo inside > ${hostTarget}/f; grep " ${hostTarget} " /proc/self/mountinfo`);
  assert.equal(mountAt(ok(hakoRun(s, b)), hostTarget).fstype, 'tmpfs');
  assertHostTargetUntouched(hostTarget);
}));

test('root.readonly: writing to / fails, mounts on top stay writable', scoped(async (s) => {
  const b = s.bundle((c) => { c.root.readonly = true; })
    .addMount({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] })
    .sh('touch /x; echo root=$?; touch /tmp/x; echo tmp=$?; grep " / " /proc/self/mountinfo');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  assert.match(r.stdout, /^root=1$/m);
  assert.match(r.stdout, /^tmp=0$/m);
  assert.match(r.stderr, /Read-only file system/);
  assert.ok(mountAt(r.stdout, '/').options.includes('ro'));
  assert.ok(!existsSync(join(b.rootfs, 'x')));
  if (!NO_RUNC) {
    const rr = runcRun(s, b);
    assert.equal(rr.stdout.split('\n').slice(0, 2).join('\n'), r.stdout.split('\n').slice(0, 2).join('\n'), show(rr));
  }
}));

test('rootfsPropagation: the root mount has the propagation asked for', scoped(async (s) => {
  const b = s.bundle().sh('grep " / " /proc/self/mountinfo');
  for (const [prop, check] of [
    ['private', (o) => o.length === 0],
    ['rprivate', (o) => o.length === 0],
    ['shared', (o) => o.some((x) => x.startsWith('shared:'))],
    ['rshared', (o) => o.some((x) => x.startsWith('shared:'))],
  ]) {
    b.edit((c) => { c.linux.rootfsPropagation = prop; });
    const m = mountAt(ok(hakoRun(s, b)), '/');
    assert.ok(check(m.optional), `${prop}: ${m.line}`);
  }
}));

test('--no-pivot runs the container with the rootfs as / (and the host is unchanged)', scoped(async (s) => {
  const b = s.bundle().sh('ls /; cat /etc/passwd | wc -l; grep -c . /proc/self/mountinfo');
  const out = lines(ok(hakoRun(s, b, { args: ['--no-pivot'] })));
  assert.deepEqual(out.slice(0, -2).sort(), ['bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', 'tmp']);
  assert.equal(out[out.length - 2], '2');
}));
