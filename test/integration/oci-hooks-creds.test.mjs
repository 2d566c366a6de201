// Who the hooks of a container are: startContainer hooks are programs of the image and run as the
// container's process would (its uid, its capabilities, after the credential drop, as runc runs
// them), with their stdio only: no fd of the runtime's or of hako's caller's. And the caller's
// stray fds never reach the helper at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAKO, MARK_VAR, capHex, ok, scoped, show, sleeper, waitUntil } from './oci-util.mjs';
import { spawnSync } from 'node:child_process';

const CAPS = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
// high: Node, which hako runs in, takes fds 3-9 or so for itself at its start (a stray fd 5 is gone
// before hako spawns anything), and passes the others on to what it spawns
const STRAY_FD = 100;

/** hako ARGS with the host's "/" open as fd STRAY_FD (an fd its caller forgot: not --preserve-fds). */
function hakoWithStrayFd(s, args) {
  const slash = openSync('/', 'r');
  // files, not pipes: a created container keeps its stdio
  const files = s.outputFiles();
  try {
    const r = spawnSync(HAKO, ['--root', s.root, ...args], {
      env: s.env(), timeout: 30_000, killSignal: 'SIGKILL', stdio: ['ignore', ...files.fds, ...Array(STRAY_FD - 3).fill('ignore'), slash],
    });
    return { cmd: `hako ${args.join(' ')}`, status: r.status, signal: r.signal, ...files.read() };
  } finally {
    closeSync(slash);
    files.close();
  }
}

/** Whether fd of pid is the host's "/" (the same directory, by device and inode). */
function isHostRoot(pid, fd) {
  try {
    const a = statSync(`/proc/${pid}/fd/${fd}`);
    const root = statSync('/');
    return a.dev === root.dev && a.ino === root.ino;
  } catch {
    return false;
  }
}

/** What a hook saw: its uid, its Cap* lines and its fds (number -> target), as its script wrote. */
function readReport(file) {
  const text = readFileSync(file, 'utf8');
  const uid = /^uid=(\d+)$/m.exec(text)?.[1];
  const caps = Object.fromEntries([...text.matchAll(/^(Cap\w+):\s*(\w+)$/gm)].map((m) => [m[1], m[2]]));
  const fds = Object.fromEntries([...text.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => [m[1], m[2]]));
  return { text, uid, caps, fds };
}

const REPORT = `#!/bin/sh
exec >"$1" 2>&1
echo "uid=$(id -u)"
grep '^Cap' /proc/self/status
/bin/busybox ls -l /proc/self/fd/
`;

test('startContainer hooks run with the process\'s uid and capabilities, and only their stdio', scoped(async (s) => {
  const dir = s.path('report');
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  const b = s.bundle();
  writeFileSync(join(b.rootfs, 'report.sh'), REPORT, { mode: 0o755 });
  b.edit((c) => {
    c.process.args = sleeper(s);
    c.process.user = { uid: 1000, gid: 1000 };
    c.process.capabilities = { bounding: CAPS, effective: CAPS, permitted: CAPS, inheritable: CAPS, ambient: CAPS };
    c.hooks = { startContainer: [{ path: '/report.sh', args: ['report.sh', '/report/start'], env: ['PATH=/bin', `${MARK_VAR}=${s.token}`] }] };
    c.mounts.push({ destination: '/report', type: 'bind', source: dir, options: ['rbind', 'rw'] });
  });
  const id = s.id();
  const created = hakoWithStrayFd(s, ['create', '-b', b.dir, id]);
  assert.equal(created.status, 0, show(created));
  const started = hakoWithStrayFd(s, ['start', id]);
  assert.equal(started.status, 0, show(started));
  await waitUntil(() => existsSync(join(dir, 'start')) && readFileSync(join(dir, 'start'), 'utf8').includes(' -> '), { what: 'the startContainer hook\'s report' });
  const r = readReport(join(dir, 'start'));
  assert.equal(r.uid, '1000', `the hook ran as uid ${r.uid}\n${r.text}`);
  const mask = capHex(CAPS);
  for (const set of ['CapBnd', 'CapEff', 'CapPrm']) assert.equal(r.caps[set], mask, `${set} of the hook\n${r.text}`);
  // 0-2, and the one ls opens to list /proc/self/fd
  assert.deepEqual(Object.keys(r.fds).filter((fd) => Number(fd) <= 2), ['0', '1', '2'], r.text);
  const extra = Object.keys(r.fds).filter((fd) => Number(fd) > 2);
  assert.ok(extra.length <= 1 && extra.every((fd) => r.fds[fd].startsWith('/proc/')), `the hook had fds beyond its stdio:\n${r.text}`);
  ok(s.hako(['delete', '--force', id]));
}));

test('an fd the caller of hako left open reaches neither the helper nor the container', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  const created = hakoWithStrayFd(s, ['create', '-b', b.dir, id]);
  assert.equal(created.status, 0, show(created));
  // the init waits for start: it is the helper still, with what the helper kept open
  const pid = s.state(id).pid;
  const fds = readdirSync(`/proc/${pid}/fd`);
  const listing = fds.map((fd) => `${fd} -> ${readlinkSync(`/proc/${pid}/fd/${fd}`)}`).join('\n');
  assert.ok(!fds.some((fd) => isHostRoot(pid, fd)), `the waiting init holds the caller's fd on the host's /:\n${listing}`);
  ok(s.hako(['delete', '--force', id]));
}));

test('hooks hako runs itself (prestart, poststart, poststop) do not get the fds its caller left open', scoped(async (s) => {
  const dir = s.path('report');
  mkdirSync(dir);
  const hooks = {};
  for (const kind of ['prestart', 'poststart', 'poststop']) {
    const path = join(dir, `${kind}.sh`);
    writeFileSync(path, REPORT, { mode: 0o755 });
    hooks[kind] = [{ path, args: [path, join(dir, kind)], env: ['PATH=/usr/bin:/bin', `${MARK_VAR}=${s.token}`] }];
  }
  const b = s.bundle().edit((c) => { c.hooks = hooks; });
  const r = hakoWithStrayFd(s, ['run', '-b', b.dir, s.id()]);
  assert.equal(r.status, 0, show(r));
  for (const kind of ['prestart', 'poststart', 'poststop']) {
    const report = readReport(join(dir, kind));
    assert.equal(report.fds[String(STRAY_FD)], undefined, `the ${kind} hook got the caller's fd ${STRAY_FD}:\n${report.text}`);
  }
}));

test('a failing startContainer hook makes start (and run -d) fail with one line; poststart does not run', scoped(async (s) => {
  const dir = s.path('report');
  mkdirSync(dir);
  const b = s.bundle();
  writeFileSync(join(b.rootfs, 'fail.sh'), '#!/bin/sh\necho "startContainer says no" >&2\nexit 3\n', { mode: 0o755 });
  const poststart = join(dir, 'poststart.sh');
  writeFileSync(poststart, `#!/bin/sh\ntouch ${join(dir, 'poststart-ran')}\n`, { mode: 0o755 });
  b.edit((c) => {
    c.process.args = sleeper(s);
    c.hooks = { startContainer: [{ path: '/fail.sh' }], poststart: [{ path: poststart }] };
  });
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  const r = s.hako(['start', id]);
  assert.equal(r.status, 1, show(r));
  assert.match(r.stderr, /^hako: start: container .*: its init failed before it ran the process/, show(r));
  ok(s.hako(['delete', '--force', id]));
  const id2 = s.id();
  const d = s.hakoDetached(['run', '-d', '-b', b.dir, id2]);
  assert.equal(d.status, 1, show(d));
  assert.match(d.stderr, /^hako: run: container .*: its init failed before it ran the process/m, show(d));
  ok(s.hako(['delete', '--force', id2]));
  assert.equal(existsSync(join(dir, 'poststart-ran')), false, 'poststart ran although the process never started');
}));
