// Hostile images and configs against /proc: a mount that lands on procfs (through an image's
// symlink or a destination inside /proc) must be refused; the capability bounding set must not
// depend on anything the image controls; readonlyPaths are the container's own paths, applied
// before the masks. Each test is a real container; the host must be as it was.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  capHex, hakoRun, lines, ok, oneLineError, removeContainer, runDetached, scoped, show, sleeper, statusField,
} from './oci-util.mjs';

const BOUNDING = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

function withCaps(c) {
  c.process.capabilities = { bounding: BOUNDING, effective: BOUNDING, permitted: BOUNDING, inheritable: [], ambient: [] };
}

test('an image /etc/hostname -> /proc/sys/kernel/cap_last_cap cannot take the bind of a hostname file', scoped(async (s) => {
  const hostFile = s.path('hostname');
  writeFileSync(hostFile, '0\n');
  const b = s.bundle(withCaps).sh('grep ^CapBnd /proc/self/status');
  rmSync(join(b.rootfs, 'etc', 'hostname'), { force: true });
  symlinkSync('/proc/sys/kernel/cap_last_cap', join(b.rootfs, 'etc', 'hostname'));
  b.addMount({ destination: '/etc/hostname', type: 'bind', source: hostFile, options: ['rbind', 'rprivate'] });
  const id = s.id();
  const r = s.hakoDetached(['create', '-b', b.dir, id]);
  if (r.status === 0) {
    // not refused: at least the bounding set must be the configured one
    ok(s.hako(['start', id]));
    removeContainer(s, id);
    assert.fail(`create accepted a bind that lands on procfs\n${show(r)}`);
  }
  oneLineError(r, { match: /^hako: create: .*\/etc\/hostname.*procfs/ });
  assert.equal(readFileSync(hostFile, 'utf8'), '0\n');
}));

test('without a /proc mount, an image\'s own proc/sys/kernel/cap_last_cap does not shrink the capabilities dropped', scoped(async (s) => {
  const b = s.bundle((c) => {
    withCaps(c);
    c.mounts = c.mounts.filter((m) => m.destination !== '/proc');
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
    c.process.args = sleeper(s);
  });
  mkdirSync(join(b.rootfs, 'proc', 'sys', 'kernel'), { recursive: true });
  writeFileSync(join(b.rootfs, 'proc', 'sys', 'kernel', 'cap_last_cap'), '0\n');
  const { id, pid } = runDetached(s, b);
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.equal(statusField(status, 'CapBnd'), capHex(BOUNDING), status);
    assert.equal(statusField(status, 'CapEff'), capHex(BOUNDING), status);
  } finally {
    removeContainer(s, id);
  }
}));

test('a config mount inside /proc is refused, except the lxcfs files (/proc/uptime)', scoped(async (s) => {
  const hostFile = s.path('file');
  writeFileSync(hostFile, '|/bin/sh -c id\n');
  for (const destination of ['/proc/sys/kernel/core_pattern', '/proc/self/oom_score_adj', '/proc/sys', '/proc/1/../sys/kernel/core_pattern']) {
    const b = s.bundle().args('true');
    b.addMount({ destination, type: 'bind', source: hostFile, options: ['bind'] });
    oneLineError(hakoRun(s, b), { match: /inside \/proc/ });
  }
  // a fresh tmpfs in /proc is as bad as a bind
  const t = s.bundle().args('true');
  t.addMount({ destination: '/proc/sys/kernel', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  oneLineError(hakoRun(s, t), { match: /inside \/proc/ });
  // /proc itself takes only a procfs
  const p = s.bundle((c) => { c.mounts = c.mounts.map((m) => (m.destination === '/proc' ? { destination: '/proc', type: 'tmpfs', source: 'tmpfs' } : m)); }).args('true');
  oneLineError(hakoRun(s, p), { match: /\/proc cannot be mounted because it is not of type proc/ });
  // lxcfs-style: a host file on /proc/uptime
  const uptime = s.path('uptime');
  writeFileSync(uptime, '12345.67 89.01\n');
  const b = s.bundle().args('cat', '/proc/uptime');
  b.addMount({ destination: '/proc/uptime', type: 'bind', source: uptime, options: ['bind', 'ro'] });
  assert.equal(ok(hakoRun(s, b)), '12345.67 89.01\n');
  assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8').includes('/bin/sh -c id'), false);
}));

test('a mount destination that an image symlink sends into /proc is refused by where it resolves', scoped(async (s) => {
  const b = s.bundle().args('true');
  mkdirSync(join(b.rootfs, 'mnt'), { recursive: true });
  symlinkSync('/proc/sys/kernel', join(b.rootfs, 'mnt', 'x'));
  b.addMount({ destination: '/mnt/x', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  oneLineError(hakoRun(s, b), { match: /^hako: run: .*\/mnt\/x.*procfs/ });
  // a bind of a host file through a symlink to a procfs file, too
  const file = s.path('pattern');
  writeFileSync(file, '|/bin/sh -c id\n');
  const c = s.bundle().args('true');
  symlinkSync('/proc/sys/kernel/core_pattern', join(c.rootfs, 'etc', 'pattern'));
  c.addMount({ destination: '/etc/pattern', type: 'bind', source: file, options: ['bind'] });
  oneLineError(hakoRun(s, c), { match: /^hako: run: .*\/etc\/pattern.*procfs/ });
}));

test('a sysctl that an image symlink sends out of procfs is refused', scoped(async (s) => {
  // no /proc mount: the image's own proc/sys/... would take the write
  const b = s.bundle((c) => {
    c.mounts = c.mounts.filter((m) => m.destination !== '/proc');
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
    c.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  }).args('true');
  mkdirSync(join(b.rootfs, 'proc', 'sys', 'net', 'ipv4'), { recursive: true });
  writeFileSync(join(b.rootfs, 'proc', 'sys', 'net', 'ipv4', 'ip_forward'), '0\n');
  oneLineError(hakoRun(s, b), { match: /net\.ipv4\.ip_forward.*procfs/ });
  assert.equal(readFileSync(join(b.rootfs, 'proc', 'sys', 'net', 'ipv4', 'ip_forward'), 'utf8'), '0\n');
}));

test('process.oomScoreAdj is written to procfs, never to an image file at /proc/self/oom_score_adj', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.mounts = c.mounts.filter((m) => m.destination !== '/proc');
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
    c.process.oomScoreAdj = 123;
  }).args('true');
  mkdirSync(join(b.rootfs, 'proc', 'self'), { recursive: true });
  writeFileSync(join(b.rootfs, 'proc', 'self', 'oom_score_adj'), 'image\n');
  oneLineError(hakoRun(s, b), { match: /oom_score_adj.*procfs/ });
  assert.equal(readFileSync(join(b.rootfs, 'proc', 'self', 'oom_score_adj'), 'utf8'), 'image\n');
}));

test('a FIFO of the image where a sysctl or oom_score_adj is written fails at once, never hangs', scoped(async (s) => {
  for (const [dir, file, edit] of [
    [['proc', 'sys', 'net', 'ipv4'], 'ip_forward', (c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; }],
    [['proc', 'self'], 'oom_score_adj', (c) => { c.process.oomScoreAdj = 5; }],
  ]) {
    const b = s.bundle((c) => {
      c.mounts = c.mounts.filter((m) => m.destination !== '/proc');
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      edit(c);
    }).args('true');
    mkdirSync(join(b.rootfs, ...dir), { recursive: true });
    const fifo = join(b.rootfs, ...dir, file);
    const made = spawnSync('mkfifo', [fifo]);
    assert.equal(made.status, 0, String(made.stderr));
    // without O_NONBLOCK the open blocks until the setup timeout (10 s) ends it as a "hang"
    const t0 = Date.now();
    oneLineError(hakoRun(s, b), { match: new RegExp(`${file}.*not on procfs`) });
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
  }
}));

test('create without a proc mount on /proc is refused: the image\'s proc/self/fd could start the process before `start`', scoped(async (s) => {
  const marker = '/ran-before-start';
  const b = s.bundle((c) => {
    c.mounts = c.mounts.filter((m) => m.destination !== '/proc');
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
  }).sh(`echo ran > ${marker}`);
  // what the init reopens as exec.fifo: plain files of the image
  mkdirSync(join(b.rootfs, 'proc', 'self', 'fd'), { recursive: true });
  for (let fd = 0; fd < 64; fd++) writeFileSync(join(b.rootfs, 'proc', 'self', 'fd', String(fd)), '');
  const id = s.id();
  const r = s.hakoDetached(['create', '-b', b.dir, id]);
  if (r.status === 0) removeContainer(s, id);
  oneLineError(r, { match: /^hako: config\.json: mounts: create needs a proc mount on \/proc/ });
  assert.equal(existsSync(join(b.rootfs, marker)), false, 'the process ran before start');
}));

// readonlyPaths: the container's own path, bound onto itself, then read-only

test('readonlyPaths ["/etc"] is the image\'s /etc, read-only, never the host\'s', scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.readonlyPaths = ['/etc']; })
    .sh('cat /etc/marker; cat /etc/shadow >/dev/null 2>&1; echo shadow=$?; touch /etc/x 2>/dev/null; echo touch=$?');
  writeFileSync(join(b.rootfs, 'etc', 'marker'), `image-${s.token}\n`);
  const out = ok(hakoRun(s, b));
  assert.deepEqual(lines(out), [`image-${s.token}`, 'shadow=1', 'touch=1']);
  assert.ok(!existsSync(join(b.rootfs, 'etc', 'x')));
}));

test('readonlyPaths: a path only in the image works and is read-only', scoped(async (s) => {
  const only = `/only-${s.token}`;
  const b = s.bundle((c) => { c.linux.readonlyPaths = [...c.linux.readonlyPaths, only]; })
    .sh(`ls ${only}; touch ${only}/y 2>/dev/null; echo touch=$?`);
  mkdirSync(join(b.rootfs, only, 'inside'), { recursive: true });
  assert.deepEqual(lines(ok(hakoRun(s, b))), ['inside', 'touch=1']);
}));

test('a masked path under a read-only path stays masked, and /proc/sys is the container\'s procfs', scoped(async (s) => {
  assert.notEqual(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), '', 'the host core_pattern is empty: nothing to see');
  const b = s.bundle((c) => {
    c.hostname = `box-${s.token}`;
    c.linux.maskedPaths = [...c.linux.maskedPaths, '/proc/sys/kernel/core_pattern'];
    c.linux.readonlyPaths = [...new Set([...c.linux.readonlyPaths, '/proc/sys'])];
  }).sh('wc -c < /proc/sys/kernel/core_pattern; cat /proc/sys/kernel/hostname; grep -E " /proc(/sys)? " /proc/self/mountinfo');
  const out = lines(ok(hakoRun(s, b)));
  assert.equal(out[0].trim(), '0', `core_pattern is not masked:\n${out.join('\n')}`);
  assert.equal(out[1], `box-${s.token}`);
  // /proc and /proc/sys: the same procfs superblock (the container's), not the host's
  const dev = (mountPoint) => out.find((l) => l.split(' ')[4] === mountPoint)?.split(' ')[2];
  assert.ok(dev('/proc') && dev('/proc/sys'), out.join('\n'));
  assert.equal(dev('/proc/sys'), dev('/proc'), `/proc/sys is another procfs than /proc:\n${out.join('\n')}`);
}));

// Files of the image that hako reads on the host (HOME, exec --user): a symlink in the image is
// resolved on the host there, so it must never be followed

function hostHome(uid) {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[2] === String(uid));
  return line?.[5];
}

test('HOME never comes from the host\'s /etc/passwd through an image /etc -> /etc', scoped(async (s, t) => {
  const home = hostHome(1);
  if (!home || home === '/') return t.skip('the host has no uid 1 with a home other than /: nothing to tell apart');
  const b = s.bundle((c) => { c.process.user = { uid: 1, gid: 1 }; }).sh('echo $HOME');
  rmSync(join(b.rootfs, 'etc'), { recursive: true, force: true });
  symlinkSync('/etc', join(b.rootfs, 'etc'));
  assert.equal(ok(hakoRun(s, b)), '/\n');
}));

test('exec --user never resolves a name in the host\'s /etc/passwd through an image /etc -> /etc', scoped(async (s, t) => {
  const name = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[2] === '1')?.[0];
  if (!name) return t.skip('the host has no uid 1 to look up');
  const b = s.bundle((c) => { c.process.args = sleeper(s); });
  rmSync(join(b.rootfs, 'etc'), { recursive: true, force: true });
  symlinkSync('/etc', join(b.rootfs, 'etc'));
  const { id } = runDetached(s, b);
  try {
    oneLineError(s.hako(['exec', '--user', name, id, 'id', '-u']), { status: 255, match: /no user/ });
  } finally {
    removeContainer(s, id);
  }
}));
