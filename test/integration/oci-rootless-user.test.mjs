// hako as a plain user without root (runc's rootless mode): the config has a user namespace of its
// own (`hako spec --rootless`), whose maps hako writes itself when they hold only the user's own
// ids (after setgroups "deny", as user_namespaces(7) requires) and through newuidmap/newgidmap
// (the user's /etc/subuid and /etc/subgid ranges) when they are wider. The container's cgroup,
// which the user cannot make, is skipped as runc's rootless cgroup manager skips it. runc, as the
// same user on the same bundle, is the control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cgroupDirs, HAKO, lines, NO_RUNC, oneLineError, RUNC, runSync, scoped, show, waitUntil } from './oci-util.mjs';
import { createUser, removeUser } from './util.mjs';

const NOBODY = 65534;
const HAS_TOOLS = ['/usr/bin/setpriv', '/usr/bin/newuidmap', '/usr/bin/newgidmap'].every((f) => existsSync(f));
const skip = NO_RUNC || (!HAS_TOOLS && 'setpriv (util-linux) and newuidmap/newgidmap (uidmap) are needed');

/** An XDG_RUNTIME_DIR of the user's own under the scope's dir. */
function xdgDir(s, uid = NOBODY, gid = NOBODY) {
  const dir = s.path(`xdg-${Math.random().toString(16).slice(2, 8)}`);
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, uid, gid);
  return dir;
}

/** `hako spec --rootless` for the user uid:gid (root in the container is that user), on the
 * scope's busybox rootfs. */
function rootlessBundle(s, uid, gid, fn) {
  return s.bundle((c) => {
    c.linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
    c.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
    delete c.linux.resources;
    c.mounts = c.mounts.map((m) => m.destination === '/sys' ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : m.destination === '/dev/pts' ? { ...m, options: m.options.filter((o) => o !== 'gid=5') } : m);
    fn?.(c);
  });
}

/** FILE ARGS as uid:gid (no supplementary groups), in the bundle's dir, with XDG_RUNTIME_DIR. */
function asUser(s, uid, gid, xdg, file, args, { cwd } = {}) {
  return runSync('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', file, ...args], { env: s.env({ XDG_RUNTIME_DIR: xdg }), cwd });
}

const PROBE = 'id -u; id -g; cat /proc/self/setgroups; cat /proc/self/uid_map | tr -s " " | sed "s/^ //"; grep -c " /dev/null " /proc/self/mountinfo';

test('a user without root runs a container of its own ids (setgroups denied, no cgroup, devices bound), as runc', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = rootlessBundle(s, NOBODY, NOBODY).sh(PROBE);
  const id = s.id();
  const r = asUser(s, NOBODY, NOBODY, xdg, HAKO, ['run', id], { cwd: b.dir });
  assert.equal(r.status, 0, show(r));
  const expected = ['0', '0', 'deny', `0 ${NOBODY} 1`, '1'];
  assert.deepEqual(lines(r.stdout), expected, show(r));
  assert.match(r.stderr, /^hako: rootless: the container runs without a cgroup/, show(r));
  // the host: the state root is the user's ($XDG_RUNTIME_DIR/hako), empty again; no cgroup
  assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
  assert.deepEqual(cgroupDirs(id), []);
  // runc, the control: the same bundle, the same user, the same output
  const rc = asUser(s, NOBODY, NOBODY, xdg, RUNC, ['run', s.runcId()], { cwd: b.dir });
  assert.equal(rc.status, 0, show(rc));
  assert.deepEqual(lines(rc.stdout), expected, show(rc));
}));

test('a user without root where no cgroup filesystem is visible: the container runs without a cgroup, not "no cgroup filesystem is mounted"', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = rootlessBundle(s, NOBODY, NOBODY).sh('id -u; ls -A /sys/fs/cgroup | wc -l');
  const id = s.id();
  // a mount namespace of its own (private: the host's mounts are untouched) without /sys/fs/cgroup
  const run = (file) => runSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount -R /sys/fs/cgroup && exec "$@"', 'sh',
    'setpriv', '--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', file, 'run', file === RUNC ? s.runcId() : id], { env: s.env({ XDG_RUNTIME_DIR: xdg }), cwd: b.dir });
  const r = run(HAKO);
  assert.equal(r.status, 0, show(r));
  assert.deepEqual(lines(r.stdout), ['0', '0'], show(r));
  assert.match(r.stderr, /^hako: rootless: the container runs without a cgroup \(no cgroup filesystem is mounted/, show(r));
  assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
  // runc (1.1) refuses here ("no cgroup mount found in mountinfo"): docs/differences-from-runc.md
  const rc = run(RUNC);
  assert.notEqual(rc.status, 0, show(rc));
}));

test('a user without root with a delegated cgroup: the container\'s cgroup goes there, with its limits (as runc\'s path relative to its own cgroup)', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const id = s.id();
  // the delegation, as systemd makes one: a cgroup of the user's in every hierarchy, the user's process in it
  const name = `hako-deleg-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
    .filter((f) => f.length > 9 && ['cgroup', 'cgroup2'].includes(f[f.indexOf('-') + 1])).map((f) => f[4]);
  const dirs = mounts.map((m) => join(m, name));
  try {
    for (const d of dirs) {
      mkdirSync(d);
      for (const f of ['cpuset.cpus', 'cpuset.mems']) if (existsSync(join(d, f))) writeFileSync(join(d, f), readFileSync(join(dirname(d), f)));
      chownSync(d, NOBODY, NOBODY);
      for (const f of readdirSync(d)) { try { chownSync(join(d, f), NOBODY, NOBODY); } catch { /* read-only */ } }
    }
    const memory = dirs.find((d) => existsSync(join(d, 'memory.limit_in_bytes')) || existsSync(join(d, 'memory.max')));
    const limitFile = existsSync(join(memory, 'memory.max')) ? 'memory.max' : 'memory.limit_in_bytes';
    const b = rootlessBundle(s, NOBODY, NOBODY, (c) => { c.linux.resources = { memory: { limit: 64 << 20 } }; })
      .sh(`cat /sys/fs/cgroup/${limitFile === 'memory.max' ? '' : `${memory.split('/')[4]}/`}${limitFile}; grep -c ':/${name}/${id}$' /proc/self/cgroup`);
    const enter = dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join('; ');
    const r = runSync('sh', ['-c', `${enter}; exec setpriv --reuid ${NOBODY} --regid ${NOBODY} --clear-groups -- "$0" run ${id}`, HAKO], { env: s.env({ XDG_RUNTIME_DIR: xdg }), cwd: b.dir });
    assert.equal(r.status, 0, show(r));
    // the limit, in the container's cgroup (its cgroup mount shows it), which is in the delegated one
    assert.equal(lines(r.stdout)[0], String(64 << 20), show(r));
    assert.equal(lines(r.stdout)[1], String(dirs.length), show(r));
    assert.doesNotMatch(r.stderr, /without a cgroup/, show(r));
    assert.deepEqual(dirs.flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)), [], 'the container\'s cgroup is removed');
  } finally {
    for (const d of dirs) { try { rmdirSync(d); } catch { /* reported by the scope */ } }
  }
  assert.deepEqual(dirs.filter((d) => existsSync(d)), []);
}));

test('a user without root: create, start, exec, ps, kill and delete', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = rootlessBundle(s, NOBODY, NOBODY).args('sleep', s.marker);
  const id = s.id();
  const hako = (...args) => asUser(s, NOBODY, NOBODY, xdg, HAKO, args, { cwd: b.dir });
  // the init keeps its stdio: /dev/null, so that the call's pipes close when hako leaves
  const created = asUser(s, NOBODY, NOBODY, xdg, 'sh', ['-c', `"$0" create ${id} </dev/null >/dev/null 2>/dev/null`, HAKO], { cwd: b.dir });
  assert.equal(created.status, 0, show(created));
  assert.equal(hako('start', id).status, 0);
  const state = JSON.parse(hako('state', id).stdout);
  assert.equal(state.status, 'running');
  // from the host: the init runs as nobody, in a user namespace of its own
  assert.equal(readFileSync(`/proc/${state.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], String(NOBODY));
  assert.notEqual(readFileSync(`/proc/${state.pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), '0 0 4294967295');
  const exec = hako('exec', id, 'sh', '-c', 'id -u; cat /proc/self/setgroups');
  assert.deepEqual(lines(exec.stdout), ['0', 'deny'], show(exec));
  assert.equal(lines(hako('ps', id).stdout).length, 2);
  assert.equal(hako('kill', id, 'KILL').status, 0);
  await waitUntil(() => JSON.parse(hako('state', id).stdout).status === 'stopped', { what: 'the container to stop' });
  assert.equal(hako('delete', id).status, 0);
  assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
}));

test('a user without root: a config without a user namespace is refused in one line, nothing made', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = s.bundle((c) => { c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network'); delete c.linux.resources; }).args('true');
  oneLineError(asUser(s, NOBODY, NOBODY, xdg, HAKO, ['run', s.id()], { cwd: b.dir }), { match: /^hako: config\.json: linux\.namespaces: hako runs as uid 65534, not root: a rootless container needs a user namespace/ });
  assert.deepEqual(existsSync(join(xdg, 'hako')) ? readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks') : [], []);
}));

test('a user without root maps its /etc/subuid range through newuidmap: a process as uid 1000 with groups', { skip }, scoped(async (s) => {
  const user = await createUser();
  try {
    const xdg = xdgDir(s, user.uid, user.gid);
    const b = rootlessBundle(s, user.uid, user.gid, (c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: user.uid, size: 1 }, { containerID: 1, hostID: user.subStart, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: user.gid, size: 1 }, { containerID: 1, hostID: user.subStart, size: 65536 }];
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [2000] };
    });
    b.sh('id -u; id -G; cat /proc/self/setgroups; sleep 0.5 & wait');
    chmodSync(b.dir, 0o755);
    const r = asUser(s, user.uid, user.gid, xdg, user.hako, ['run', s.id()], { cwd: b.dir });
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(lines(r.stdout), ['1000', '1000 2000', 'allow'], show(r));
    assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
  } finally {
    await removeUser(user);
  }
}));

test('a host that refuses user namespaces is named with the setting to change (run and unshare)', { skip: !existsSync('/usr/bin/unshare') && 'unshare (util-linux) is needed' }, scoped(async (s) => {
  // user.max_user_namespaces is per user namespace: 0 in one of the test's own refuses every
  // nested one there, and changes nothing on the host
  // (nobody's, mapped to root there, as the other tests here; its own state root)
  const xdg = xdgDir(s);
  const b = rootlessBundle(s, 0, 0).args('true');
  const refuse = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"';
  const inRefusingNs = (...args) => asUser(s, NOBODY, NOBODY, xdg, 'unshare', ['-U', '-r', 'sh', '-c', refuse, 'sh', HAKO, ...args]);
  // (after the one warning that the cgroup, which it cannot make, is skipped)
  const r = inRefusingNs('run', '--bundle', b.dir, s.id());
  assert.equal(r.status, 1, show(r));
  const line = lines(r.stderr).at(-1);
  assert.match(line, /^hako: run: unshare\(CLONE_NEWUSER\).*\(ENOSPC\): this host allows no user namespaces \(user\.max_user_namespaces = 0\): raise it with `sysctl -w user\.max_user_namespaces=15000` as root$/, show(r));
  oneLineError(inRefusingNs('unshare', '--user', 'true'), { match: /\(ENOSPC\): this host allows no user namespaces \(user\.max_user_namespaces = 0\)/ });
  assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
}));
