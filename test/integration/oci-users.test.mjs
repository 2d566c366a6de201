// A container's /etc/passwd and /etc/group (HOME, exec --user NAME) are read inside the container's
// root, never through the host's: an image whose /etc is a symlink to /etc must not make hako read
// the host's users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hakoRun, ok, oneLineError, removeContainer, runDetached, runSync, scoped, show, sleeper } from './oci-util.mjs';

/** A user of the host that the test images do not have (their passwd has root and user only). */
function hostOnlyUser() {
  const names = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).filter((f) => f[0] && f[5]);
  return names.find((f) => f[0] !== 'root' && f[0] !== 'user' && f[2] !== '0' && f[2] !== '1000');
}

/** A bundle whose rootfs has /etc as an absolute symlink to /etc (the host's, read from the host). */
function etcLinkedToHost(s, edit) {
  const b = s.bundle(edit);
  rmSync(join(b.rootfs, 'etc'), { recursive: true });
  symlinkSync('/etc', join(b.rootfs, 'etc'));
  return b;
}

const hostRootHome = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('root:'))?.split(':')[5];

test('run: an image whose /etc links to /etc gets HOME "/", not the host root\'s home', scoped(async (s) => {
  assert.notEqual(hostRootHome, '/', 'the host root\'s home must differ from "/" for this test to mean something');
  const b = etcLinkedToHost(s).sh('echo "HOME=$HOME"');
  assert.ok(!b.config.process.env.some((e) => e.startsWith('HOME=')), 'the config sets no HOME');
  assert.equal(ok(hakoRun(s, b)), 'HOME=/\n');
}));

test('exec: an image whose /etc links to /etc gets HOME "/", and host-only user names are unknown', scoped(async (s, t) => {
  const other = hostOnlyUser();
  if (!other) return t.skip('the host has no user other than root to try');
  const b = etcLinkedToHost(s).args(...sleeper(s));
  const { id } = runDetached(s, b);
  assert.equal(ok(s.hako(['exec', id, 'sh', '-c', 'echo "HOME=$HOME"'])), 'HOME=/\n');
  assert.equal(ok(s.hako(['exec', '-u', '0', id, 'sh', '-c', 'echo "HOME=$HOME"'])), 'HOME=/\n');
  // a name only the host has is not resolved from the host's passwd (nor a group from its group)
  oneLineError(s.hako(['exec', '-u', other[0], id, 'id', '-u']), { status: 255, match: new RegExp(`no user '${other[0]}' in the container`) });
  oneLineError(s.hako(['exec', '-u', '0:root', id, 'id', '-g']), { status: 255, match: /no group 'root' in the container/ });
  removeContainer(s, id);
}));

test('exec: a normal image\'s /etc/passwd gives HOME and resolves user and group names', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const { id } = runDetached(s, b);
  assert.equal(ok(s.hako(['exec', id, 'sh', '-c', 'echo "HOME=$HOME"'])), 'HOME=/root\n');
  assert.equal(ok(s.hako(['exec', '-u', 'user', id, 'sh', '-c', 'echo "HOME=$HOME $(id)"'])), 'HOME=/home/user uid=1000(user) gid=1000(user)\n');
  assert.equal(ok(s.hako(['exec', '-u', '1000:extra', id, 'sh', '-c', 'echo "HOME=$HOME $(id)"'])), 'HOME=/home/user uid=1000(user) gid=2000(extra)\n');
  // the config's HOME wins over the passwd's
  assert.equal(ok(s.hako(['exec', '-e', 'HOME=/elsewhere', '-u', 'user', id, 'sh', '-c', 'echo "HOME=$HOME"'])), 'HOME=/elsewhere\n');
  oneLineError(s.hako(['exec', '-u', 'nosuchuser', id, 'true']), { status: 255, match: /no user 'nosuchuser' in the container/ });
  removeContainer(s, id);
}));

test('exec: the container\'s own /etc/passwd is read as its init sees it (its mounts), not the bundle\'s', scoped(async (s) => {
  // a passwd bind-mounted over the image's: only the container's view has uid 1000 at /mounted
  const alt = s.path('passwd-alt');
  writeFileSync(alt, 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/mounted:/bin/sh\n');
  const b = s.bundle().args(...sleeper(s));
  b.addMount({ destination: '/etc/passwd', type: 'bind', source: alt, options: ['bind', 'ro'] });
  const { id } = runDetached(s, b);
  assert.equal(ok(s.hako(['exec', '-u', 'user', id, 'sh', '-c', 'echo "HOME=$HOME"'])), 'HOME=/mounted\n');
  removeContainer(s, id);
}));

test('an image whose /etc/passwd links to a host file, or is a FIFO, gets HOME "/" (and run does not hang)', scoped(async (s) => {
  const hostFile = s.path('host-passwd');
  writeFileSync(hostFile, 'root:x:0:0:root:/leaked:/bin/sh\n');
  const linked = s.bundle().sh('echo "HOME=$HOME"');
  rmSync(join(linked.rootfs, 'etc', 'passwd'));
  symlinkSync(hostFile, join(linked.rootfs, 'etc', 'passwd'));
  assert.equal(ok(hakoRun(s, linked)), 'HOME=/\n');
  const fifo = s.bundle().sh('echo "HOME=$HOME"');
  rmSync(join(fifo.rootfs, 'etc', 'passwd'));
  const r = runSync('mkfifo', [join(fifo.rootfs, 'etc', 'passwd')]);
  assert.equal(r.status, 0, show(r));
  assert.equal(ok(hakoRun(s, fifo)), 'HOME=/\n');
}));
