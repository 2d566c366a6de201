// A config without a mount namespace (no "mount" in linux.namespaces): runc chroots into the
// rootfs in the host's mount namespace. hako does the same, but never changes the host's mount
// propagation and mounts nothing there; what would (the config's mounts, masked and read-only
// paths, rootfsPropagation, root.readonly, sysctls) is refused, each with one line naming the
// JSON path; create works (its init reopens exec.fifo through the /proc/self/fd it kept). Checked from inside (the root is the bundle's rootfs, for the init and
// for exec) and from the host (its mountinfo is the same before and after, line for line), and
// against runc run in a throwaway mount namespace (runc changes and leaves mounts in the one it runs in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import {
  hakoRun, lines, mountInfo, NO_RUNC, ok, oneLineError, removeContainer, RUNC, runDetached, runSync, scoped, show, waitStatus,
} from './oci-util.mjs';

/** A bundle whose config has no mount namespace and nothing that needs one. */
function noMountNs(s, fn) {
  return s.bundle((c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'mount');
    c.mounts = [];
    delete c.linux.maskedPaths;
    delete c.linux.readonlyPaths;
    c.hostname = 'nomnt';
    fn?.(c);
  });
}

/**
 * The host's mounts that this test could change: those on the bundle's path and its ancestors
 * (their propagation is in the line), and any under the scope's dir (other helpers' mounts elsewhere
 * may come and go meanwhile).
 */
function hostMounts(s) {
  return lines(mountInfo()).filter((l) => {
    const point = l.split(' ')[4];
    return point === '/' || s.dir === point || s.dir.startsWith(`${point}/`) || point.startsWith(`${s.dir}/`);
  }).join('\n');
}

const ROOT_PROBE = 'ls -di / | cut -d" " -f1; cat /etc/passwd | head -1; hostname; ls /proc | wc -l';

test('no mount namespace: run chroots into the rootfs; the host\'s mounts and propagation are unchanged', scoped(async (s) => {
  const before = hostMounts(s);
  const b = noMountNs(s).sh(ROOT_PROBE);
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  const [ino, passwd, hostname, procEntries] = lines(r.stdout);
  assert.equal(Number(ino), statSync(b.rootfs).ino, `the container's / is not the bundle's rootfs\n${show(r)}`);
  assert.equal(passwd, 'root:x:0:0:root:/root:/bin/sh', show(r));
  assert.equal(hostname, 'nomnt', show(r));
  assert.equal(procEntries, '0', `nothing is mounted on the rootfs's /proc\n${show(r)}`);
  assert.equal(hostMounts(s), before, 'the host\'s mountinfo changed');
}));

test('no mount namespace: exec joins the container\'s root, not the host\'s /', scoped(async (s) => {
  const before = hostMounts(s);
  const b = noMountNs(s);
  b.args('sleep', s.marker);
  const { id } = runDetached(s, b);
  const r = s.hako(['exec', id, 'sh', '-c', 'ls -di / | cut -d" " -f1; ls /']);
  const [ino, ...entries] = lines(ok(r));
  assert.equal(Number(ino), statSync(b.rootfs).ino, `exec's / is not the bundle's rootfs\n${show(r)}`);
  assert.ok(entries.includes('bin') && !entries.includes('usr') && !entries.includes('boot'), show(r));
  assert.equal(hostMounts(s), before, 'the host\'s mountinfo changed');
  removeContainer(s, id);
  assert.equal(hostMounts(s), before, 'the host\'s mountinfo changed after delete');
}));

// what hako refuses without a mount namespace: each alone, one line naming the JSON path
const REFUSED = [
  ['a mount', (c) => { c.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]; }, /config\.json: mounts\[0\]: .*mount on \/proc would be made in the host's/],
  ['a bind mount', (c) => { c.mounts = [{ destination: '/mnt', type: 'bind', source: '/tmp', options: ['rbind'] }]; }, /config\.json: mounts\[0\]: /],
  ['rootfsPropagation', (c) => { c.linux.rootfsPropagation = 'private'; }, /config\.json: linux\.rootfsPropagation: .*propagation of the host's mounts/],
  ['root.readonly', (c) => { c.root.readonly = true; }, /config\.json: root\.readonly: .*read-only/],
  ['maskedPaths', (c) => { c.linux.maskedPaths = ['/proc/kcore']; }, /config\.json: linux\.maskedPaths: /],
  ['readonlyPaths', (c) => { c.linux.readonlyPaths = ['/proc/sys']; }, /config\.json: linux\.readonlyPaths: /],
  ['a sysctl', (c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; }, /config\.json: linux\.sysctl: /],
  ['a mount namespace joined by path', (c) => { c.linux.namespaces.push({ type: 'mount', path: '/proc/1/ns/mnt' }); }, /config\.json: linux\.namespaces\[\d+\]\.path: \/proc\/1\/ns\/mnt is the host's mount namespace/],
];

for (const [what, edit, match] of REFUSED) {
  test(`no mount namespace: ${what} is refused with one line naming it, leaving nothing`, scoped(async (s) => {
    const before = hostMounts(s);
    const b = noMountNs(s, edit).args('true');
    oneLineError(hakoRun(s, b), { match });
    assert.equal(hostMounts(s), before, 'the host\'s mountinfo changed');
  }));
}

test('no mount namespace: create waits for start (exec.fifo through the /proc/self/fd it kept), then runs in the rootfs', scoped(async (s) => {
  const before = hostMounts(s);
  const b = noMountNs(s).sh('ls -di / | cut -d" " -f1; echo started');
  const id = s.id();
  const c = s.hakoDetached(['create', '-b', b.dir, id]);
  ok(c);
  assert.equal(s.state(id).status, 'created');
  assert.equal(c.stdout, '', 'the process ran before start');
  ok(s.hako(['start', id]));
  await waitStatus(s, id, 'stopped');
  const [ino, started] = lines(readFileSync(c.outFile, 'utf8'));
  assert.equal(Number(ino), statSync(b.rootfs).ino, readFileSync(c.outFile, 'utf8'));
  assert.equal(started, 'started');
  ok(s.hako(['delete', id]));
  assert.equal(hostMounts(s), before, 'the host\'s mountinfo changed');
}));

// runc on the same configs, each run in a mount namespace of its own made for it (runc changes the
// propagation of / and leaves its mounts in the namespace it runs in: never the host's here)
function runcInThrowawayNs(s, b) {
  const id = s.runcId();
  const script = `mount --make-rprivate / && grep -c . /proc/self/mountinfo && ${RUNC} --root ${s.runcRoot} run -b ${b.dir} ${id}; echo "rc=$?"; grep -c . /proc/self/mountinfo; ${RUNC} --root ${s.runcRoot} delete -f ${id} 2>/dev/null; true`;
  return runSync('unshare', ['-m', 'sh', '-c', script], { env: s.env() });
}

test('runc on the same configs (in a throwaway mount namespace): what hako differs in is documented', { skip: NO_RUNC }, scoped(async (s) => {
  // no mounts at all: runc fails (it closes fds through /proc/self/fd); hako runs it
  const bare = noMountNs(s).args('true');
  let r = runcInThrowawayNs(s, bare);
  assert.match(r.stdout, /rc=[1-9]/, `runc ran a config without a proc mount\n${show(r)}`);
  assert.match(r.stderr, /\/proc\/self\/fd/, show(r));
  ok(hakoRun(s, bare));
  // a proc mount: runc runs it and leaves the rootfs bind and the proc mount behind; hako refuses
  const withProc = noMountNs(s, (c) => { c.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]; }).args('true');
  r = runcInThrowawayNs(s, withProc);
  const [n0, rc, n1] = lines(r.stdout);
  assert.equal(rc, 'rc=0', show(r));
  assert.ok(Number(n1) >= Number(n0) + 2, `runc left no mounts behind in its namespace\n${show(r)}`);
  oneLineError(hakoRun(s, withProc), { match: /mounts\[0\]/ });
  // masked paths: runc refuses too
  const masked = noMountNs(s, (c) => { c.linux.maskedPaths = ['/proc/kcore']; c.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]; }).args('true');
  r = runcInThrowawayNs(s, masked);
  assert.match(r.stderr, /without a private MNT namespace/, show(r));
  assert.match(r.stdout, /rc=[1-9]/, show(r));
}));
