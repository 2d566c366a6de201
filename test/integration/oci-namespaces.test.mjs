// The OCI runtime: linux.namespaces (each type created, joined by path), user namespaces with id
// maps, time offsets, hostname and domainname, and linux.sysctl, seen from inside and from the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  Background, NO_RUNC, hakoRun, hostHostname, lines, mountInfo, nsLink, ok, oneLineError, removeContainer, runDetached, runcRun, scoped,
  show, sleeper, statusField,
} from './oci-util.mjs';

const SPEC_NS = { pid: 'pid', network: 'net', ipc: 'ipc', uts: 'uts', mount: 'mnt', cgroup: 'cgroup' };

/** A script that prints "TYPE LINK" for each namespace of the shell. */
const printNs = (types) => types.map((t) => `echo "${t} $(readlink /proc/self/ns/${t})"`).join('; ');

function parseNs(out) {
  return Object.fromEntries(lines(out).filter((l) => /^\w+ \w+:\[\d+\]$/.test(l)).map((l) => l.split(' ')));
}

test('each namespace in linux.namespaces is new; those left out are the host\'s', scoped(async (s) => {
  const types = Object.values(SPEC_NS);
  const b = s.bundle((c) => { c.linux.namespaces.push({ type: 'cgroup' }); }).sh(printNs(types));
  const inside = parseNs(ok(hakoRun(s, b)));
  for (const t of types) assert.notEqual(inside[t], nsLink('self', t), `${t} namespace is the host's`);

  // without network and ipc: those two are the host's, the rest still new
  b.namespace('network', { remove: true }).namespace('ipc', { remove: true });
  const partial = parseNs(ok(hakoRun(s, b)));
  assert.equal(partial.net, nsLink('self', 'net'));
  assert.equal(partial.ipc, nsLink('self', 'ipc'));
  for (const t of ['pid', 'uts', 'mnt', 'cgroup']) assert.notEqual(partial[t], nsLink('self', t), t);
}));

test('the namespaces seen from the host: the init\'s /proc/PID/ns differ from the host\'s', scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.namespaces.push({ type: 'cgroup' }); }).args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  for (const t of Object.values(SPEC_NS)) assert.notEqual(nsLink(pid, t), nsLink('self', t), t);
  // pid: the init is pid 1 inside; net: only lo; cgroup: its cgroup is the root
  assert.equal(statusField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'NSpid').split(/\s+/).pop(), '1');
  assert.equal(ok(s.hako(['exec', id, 'ls', '/sys/class/net'])), 'lo\n');
  for (const l of lines(ok(s.hako(['exec', id, 'cat', '/proc/self/cgroup'])))) assert.match(l, /:\/$/, l);
  removeContainer(s, id);
}));

test('joining namespaces by path: a second container shares the first one\'s network and uts', scoped(async (s) => {
  const first = s.bundle((c) => { c.hostname = `first-${s.token}`; }).args(...sleeper(s));
  const a = runDetached(s, first);
  const second = s.bundle((c) => { delete c.hostname; })
    .namespace('network', { path: `/proc/${a.pid}/ns/net` })
    .namespace('uts', { path: `/proc/${a.pid}/ns/uts` })
    .sh(`${printNs(['net', 'uts', 'pid', 'mnt'])}; hostname`);
  const out = ok(hakoRun(s, second));
  const inside = parseNs(out);
  assert.equal(inside.net, nsLink(a.pid, 'net'));
  assert.equal(inside.uts, nsLink(a.pid, 'uts'));
  assert.notEqual(inside.pid, nsLink(a.pid, 'pid'));
  assert.notEqual(inside.mnt, nsLink(a.pid, 'mnt'));
  assert.equal(lines(out).pop(), `first-${s.token}`);
  removeContainer(s, a.id);
}));

test('joining a mount namespace by path: the rootfs is prepared and pivoted into there (as runc), the host\'s mounts unchanged', scoped(async (s) => {
  const hostRoot = () => lines(mountInfo()).find((l) => l.split(' ')[4] === '/');
  const rootBefore = hostRoot();
  // a mount namespace that sees the host's files (the rootfs path must resolve in it, as with runc)
  const holder = new Background('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'echo up; exec sleep 600']);
  try {
    await holder.waitFor(/up/);
    const second = s.bundle()
      .namespace('mount', { path: `/proc/${holder.pid}/ns/mnt` })
      .sh(`${printNs(['mnt'])}; echo "root $(stat -c %i /)"; ls /proc/1/ >/dev/null && echo proc-ok`);
    const out = ok(hakoRun(s, second));
    assert.equal(parseNs(out).mnt, nsLink(holder.pid, 'mnt'), 'the container is in the joined mount namespace');
    // its / is its own rootfs (by inode), not the holder's
    assert.match(out, new RegExp(`^root ${statSync(second.rootfs).ino}$`, 'm'), out);
    assert.match(out, /^proc-ok$/m);
  } finally {
    await holder.stop();
  }
  assert.equal(hostRoot(), rootBefore, 'the host\'s / changed');
  assert.deepEqual(lines(mountInfo()).filter((l) => l.includes(s.dir)), [], 'a mount of the test is left on the host');
}));

test('the host\'s own mount namespace joined by path is refused (it would pivot the host\'s root), leaving nothing', scoped(async (s) => {
  const b = s.bundle().namespace('mount', { path: '/proc/1/ns/mnt' }).sh('true');
  oneLineError(hakoRun(s, b), { match: /config\.json: linux\.namespaces\[\d+\]\.path: \/proc\/1\/ns\/mnt is the host's mount namespace/ });
}));

test('joining a namespace path that does not exist fails with one line and leaves nothing', scoped(async (s) => {
  const b = s.bundle().namespace('network', { path: '/proc/999999999/ns/net' });
  const id = s.id();
  oneLineError(hakoRun(s, b, { id }), { match: /999999999/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

/** A config with a user namespace mapping container 0..65535 to host 100000.. (and optionally only /proc). */
function userNsBundle(s, { minimalMounts }) {
  return s.bundle((c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    if (minimalMounts) c.mounts = c.mounts.filter((m) => m.destination === '/proc');
  }).sh('id; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox');
}

function checkUserNs(s, b) {
  const out = lines(ok(hakoRun(s, b)));
  assert.equal(out[0], 'uid=0(root) gid=0(root)');
  assert.deepEqual(out[1].trim().split(/\s+/), ['0', '100000', '65536']);
  assert.deepEqual(out[2].trim().split(/\s+/), ['0', '100000', '65536']);
  assert.equal(out[3], '65534:65534', 'host root owns the rootfs: unmapped inside, so nobody');
  b.args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.equal(statusField(status, 'Uid'), '100000\t100000\t100000\t100000');
  assert.equal(statusField(status, 'Gid'), '100000\t100000\t100000\t100000');
  assert.notEqual(nsLink(pid, 'user'), nsLink('self', 'user'));
  removeContainer(s, id);
}

test('user namespace with id maps (only /proc mounted): root inside, the mapped uid on the host', scoped(async (s) => {
  checkUserNs(s, userNsBundle(s, { minimalMounts: true }));
}));

test('user namespace with id maps and the default mounts (/dev tmpfs, devpts, ...), as runc', scoped(async (s) => {
  const b = userNsBundle(s, { minimalMounts: false });
  if (!NO_RUNC) ok(runcRun(s, b));
  checkUserNs(s, b);
}));

test('time namespace offsets: boottime and monotonic inside, the host unchanged', scoped(async (s) => {
  const DAY = 86400;
  const b = s.bundle((c) => {
    c.linux.namespaces.push({ type: 'time' });
    c.linux.timeOffsets = { boottime: { secs: 1000 * DAY, nanosecs: 0 }, monotonic: { secs: 3600 } };
  }).sh('cat /proc/uptime; cat /proc/self/timens_offsets');
  const hostBefore = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const out = lines(ok(hakoRun(s, b)));
  const hostAfter = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const inside = Number(out[0].split(' ')[0]);
  assert.ok(inside >= hostBefore + 1000 * DAY && inside <= hostAfter + 1000 * DAY, `uptime inside ${inside}, host ${hostBefore}..${hostAfter}`);
  assert.ok(hostAfter < 1000 * DAY, 'the host\'s uptime moved');
  const offsets = Object.fromEntries(out.slice(1).map((l) => { const [clock, secs] = l.trim().split(/\s+/); return [clock, Number(secs)]; }));
  assert.deepEqual(offsets, { monotonic: 3600, boottime: 1000 * DAY });
}));

test('timeOffsets without a time namespace is refused', scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.timeOffsets = { boottime: { secs: 10 } }; });
  oneLineError(hakoRun(s, b), { match: /timeOffsets/ });
}));

test('hostname and domainname inside; the host\'s are unchanged', scoped(async (s) => {
  const hostDomain = readFileSync('/proc/sys/kernel/domainname', 'utf8');
  const b = s.bundle((c) => { c.hostname = `box-${s.token}`; c.domainname = `dom-${s.token}.example`; })
    .sh('hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname');
  assert.deepEqual(lines(ok(hakoRun(s, b))), [`box-${s.token}`, `box-${s.token}`, `dom-${s.token}.example`]);
  assert.notEqual(hostHostname(), `box-${s.token}`);
  assert.equal(readFileSync('/proc/sys/kernel/domainname', 'utf8'), hostDomain);
}));

test('a hostname without a new uts namespace is refused (the host\'s is unchanged)', scoped(async (s) => {
  const b = s.bundle((c) => { c.hostname = `leak-${s.token}`; }).namespace('uts', { remove: true });
  oneLineError(hakoRun(s, b), { match: /hostname/ });
  if (!NO_RUNC) assert.notEqual(runcRun(s, b).status, 0);
}));

/** Runs fn, then puts the host sysctl at path back if it changed. */
async function keepingHostSysctl(path, fn) {
  const before = readFileSync(path, 'utf8');
  try {
    await fn(before);
  } finally {
    const now = readFileSync(path, 'utf8');
    if (now !== before) writeFileSync(path, before);
    assert.equal(now, before, `the host's ${path} changed from ${before.trim()} to ${now.trim()}`);
  }
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

test('sysctl in a new network namespace: set inside, the host unchanged', scoped(async (s) => {
  await keepingHostSysctl(IP_FORWARD, async (before) => {
    const want = before.trim() === '1' ? '0' : '1';
    const b = s.bundle((c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': want }; c.linux.readonlyPaths = []; })
      .args('cat', IP_FORWARD);
    assert.equal(ok(hakoRun(s, b)), `${want}\n`);
  });
}));

test('sysctl with the default readonlyPaths (/proc/sys read-only) is still applied, as runc', scoped(async (s) => {
  await keepingHostSysctl(IP_FORWARD, async (before) => {
    const want = before.trim() === '1' ? '0' : '1';
    const b = s.bundle((c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': want }; }).args('cat', IP_FORWARD);
    if (!NO_RUNC) assert.equal(ok(runcRun(s, b)), `${want}\n`);
    assert.equal(ok(hakoRun(s, b)), `${want}\n`);
  });
}));

test('a net.* sysctl without a new network namespace is refused and the host is unchanged', scoped(async (s) => {
  await keepingHostSysctl(IP_FORWARD, async (before) => {
    const want = before.trim() === '1' ? '0' : '1';
    const b = s.bundle((c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': want }; c.linux.readonlyPaths = []; })
      .namespace('network', { remove: true }).args('cat', IP_FORWARD);
    oneLineError(hakoRun(s, b), { match: /net\.ipv4\.ip_forward/ });
  });
}));

test('a sysctl that no namespace isolates (vm.*) is refused', scoped(async (s) => {
  // the host's own value: were it written, nothing changes
  const path = '/proc/sys/vm/swappiness';
  await keepingHostSysctl(path, async (before) => {
    const b = s.bundle((c) => { c.linux.sysctl = { 'vm.swappiness': before.trim() }; c.linux.readonlyPaths = []; }).args('true');
    oneLineError(hakoRun(s, b), { match: /vm\.swappiness/ });
  });
}));

test('sysctl kernel.domainname in the uts namespace; the host unchanged', scoped(async (s) => {
  const hostDomain = readFileSync('/proc/sys/kernel/domainname', 'utf8');
  const b = s.bundle((c) => { c.linux.sysctl = { 'kernel.domainname': `sysctl-${s.token}` }; c.linux.readonlyPaths = []; })
    .args('cat', '/proc/sys/kernel/domainname');
  const r = hakoRun(s, b);
  assert.equal(ok(r), `sysctl-${s.token}\n`, show(r));
  assert.equal(readFileSync('/proc/sys/kernel/domainname', 'utf8'), hostDomain);
}));
