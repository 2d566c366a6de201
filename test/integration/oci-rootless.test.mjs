// hako as root of a user namespace that is not the host's: how rootless podman's conmon runs it
// (and `unshare -r hako ...`). Here an unprivileged user (nobody) enters a user namespace mapping
// itself to root with `unshare -r`, then runs hako, with runc as the control on the same bundle:
// the state goes to $XDG_RUNTIME_DIR/hako (runc: $XDG_RUNTIME_DIR/runc), the container's cgroup,
// which it cannot make, is skipped as runc's rootless cgroup manager skips it (limits are refused),
// devices are bound from the host instead of made, setgroups (denied there) is left out as runc
// does, and a state root it cannot read is an error, never "already exists".
// Also: a net.* sysctl in a network namespace joined by path (podman's slirp4netns one) is allowed
// unless that namespace is the host's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cgroupDirs, HAKO, hakoRun, lines, NO_RUNC, ok, oneLineError, removeContainer, RUNC, runDetached, runSync, scoped, show,
} from './oci-util.mjs';

const NOBODY = 65534;
const HAS_TOOLS = ['/usr/bin/setpriv', '/usr/bin/unshare'].every((f) => existsSync(f));
const skip = NO_RUNC || (!HAS_TOOLS && 'setpriv and unshare (util-linux) are needed');

/** The user's own XDG_RUNTIME_DIR under the scope's dir. */
function xdgDir(s) {
  const dir = s.path(`xdg-${Math.random().toString(16).slice(2, 8)}`);
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/** A bundle fit for a user namespace that maps only root: no user namespace of its own (the
 * caller's is it, as under podman), devpts without gid=5 (unmapped there), as `runc spec --rootless`. */
function userNsBundle(s, fn) {
  return s.bundle((c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'user');
    for (const m of c.mounts) if (m.destination === '/dev/pts') m.options = m.options.filter((o) => o !== 'gid=5');
    fn?.(c);
  });
}

/** FILE ARGS as root of a new user namespace of nobody, in the bundle's dir, with XDG_RUNTIME_DIR. */
function asUserNsRoot(s, xdg, file, args, { cwd } = {}) {
  return runSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--',
    'unshare', '--user', '--map-root-user', '--', file, ...args], { env: s.env({ XDG_RUNTIME_DIR: xdg }), cwd });
}

const PROBE = 'echo hi; grep -c " /dev/null " /proc/self/mountinfo; cat /proc/self/uid_map | wc -l';

test('root of a user namespace: state in $XDG_RUNTIME_DIR/hako, no cgroup (one warning), devices bound; as runc', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = userNsBundle(s).sh(PROBE);
  const id = s.id();
  const r = asUserNsRoot(s, xdg, HAKO, ['run', id], { cwd: b.dir });
  assert.equal(r.status, 0, show(r));
  // inside: the program ran, /dev/null is a bind of the host's (no mknod in a user namespace)
  assert.deepEqual(lines(r.stdout), ['hi', '1', '1'], show(r));
  assert.deepEqual(lines(r.stderr), [`hako: rootless: the container runs without a cgroup (cgroup: cannot create /sys/fs/cgroup/${lines(r.stderr)[0]?.match(/cannot create \/sys\/fs\/cgroup\/(.*) \(/)?.[1]} (EACCES)), as with runc's rootless cgroup manager`], show(r));
  // the host: the state root is the user's, empty again; no cgroup was made
  assert.deepEqual(readdirSync(join(xdg, 'hako')), ['@locks'], 'the state root is not $XDG_RUNTIME_DIR/hako');
  assert.deepEqual(readdirSync(join(xdg, 'hako', '@locks')), []);
  assert.deepEqual(cgroupDirs(id), []);
  // runc, the control: the same bundle, the same output
  const rc = asUserNsRoot(s, xdg, RUNC, ['run', s.runcId()], { cwd: b.dir });
  assert.equal(rc.status, 0, show(rc));
  assert.deepEqual(lines(rc.stdout), ['hi', '1', '1'], show(rc));
  assert.ok(existsSync(join(xdg, 'runc')), 'runc did not use $XDG_RUNTIME_DIR/runc');
}));

test('root of a user namespace: run -d, exec, kill --all and delete work without a cgroup', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = userNsBundle(s).args('sleep', s.marker);
  const id = s.id();
  // one user namespace for every call, as podman's (its pause process keeps it): a container's
  // init is reachable (its /proc/PID/root) from its own user namespace only
  const script = [
    `${HAKO} run -d ${id} </dev/null >/dev/null 2>${xdg}/run-d.err || { echo run-d-failed; cat ${xdg}/run-d.err; exit 1; }`,
    `rm ${xdg}/run-d.err`,
    `${HAKO} state ${id} | grep -o '"status": *"[a-z]*"'`,
    `${HAKO} exec ${id} sh -c 'echo in-exec'`,
    `${HAKO} ps ${id} | tail -n +2 | wc -l`,
    `${HAKO} kill --all ${id} KILL`,
    `i=0; while [ $i -lt 200 ] && ! ${HAKO} state ${id} | grep -q '"stopped"'; do sleep 0.05; i=$((i+1)); done`,
    `${HAKO} delete ${id} && echo deleted`,
  ].join('\n');
  const r = asUserNsRoot(s, xdg, 'sh', ['-c', script], { cwd: b.dir });
  assert.equal(r.status, 0, show(r));
  const out = lines(r.stdout);
  assert.match(out[0] ?? '', /"status": *"running"/, show(r));
  assert.deepEqual(out.slice(1), ['in-exec', '1', 'deleted'], show(r));
  assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
  assert.deepEqual(cgroupDirs(id), []);
}));

test('root of a user namespace: limits that need the cgroup it cannot make are refused naming the field', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = userNsBundle(s, (c) => { c.linux.resources = { memory: { limit: 64 * 1024 * 1024 } }; }).args('true');
  const id = s.id();
  oneLineError(asUserNsRoot(s, xdg, HAKO, ['run', id], { cwd: b.dir }), { match: /^hako: config\.json: linux\.resources\.memory: cannot be applied: hako runs rootless and cannot create the container's cgroup/ });
  assert.deepEqual(readdirSync(join(xdg, 'hako')).filter((n) => n !== '@locks'), []);
}));

test('root of a user namespace: additionalGids are refused where setgroups is denied (as runc)', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const b = userNsBundle(s, (c) => { c.process.user.additionalGids = [0]; }).args('true');
  oneLineError(asUserNsRoot(s, xdg, HAKO, ['run', s.id()], { cwd: b.dir }), { match: /process\.user\.additionalGids: cannot be set: setgroups is denied/ });
}));

test('a state root this user cannot read is an error naming it, never "already exists"', { skip }, scoped(async (s) => {
  const xdg = xdgDir(s);
  const root = s.path('root-only');
  mkdirSync(root, { mode: 0o700 }); // root's, as /run/hako is: nobody's root of a user namespace cannot search it
  const b = userNsBundle(s).args('true');
  const r = asUserNsRoot(s, xdg, HAKO, ['--root', root, 'run', s.id()], { cwd: b.dir });
  const line = oneLineError(r);
  assert.doesNotMatch(line, /already exists/, show(r));
  assert.match(line, new RegExp(`${root}.*EACCES`), show(r));
}));

test('a net.* sysctl goes into a network namespace joined by path, never into the host\'s', scoped(async (s) => {
  const hostValue = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8');
  const { id, pid } = runDetached(s, s.bundle((c) => { c.process.args = ['sleep', s.marker]; }));
  const joined = s.bundle((c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network');
    c.linux.namespaces.push({ type: 'network', path: `/proc/${pid}/ns/net` });
    c.linux.sysctl = { 'net.ipv4.ping_group_range': '0 2147483647' };
  }).sh('cat /proc/sys/net/ipv4/ping_group_range');
  const r = hakoRun(s, joined);
  assert.deepEqual(lines(ok(r))[0]?.split(/\s+/), ['0', '2147483647'], show(r));
  assert.equal(readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8'), hostValue, 'the host\'s value changed');
  const host = s.bundle((c) => {
    c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network');
    c.linux.namespaces.push({ type: 'network', path: '/proc/self/ns/net' });
    c.linux.sysctl = { 'net.ipv4.ping_group_range': '0 2147483647' };
  }).args('true');
  oneLineError(hakoRun(s, host), { match: /linux\.sysctl: net\.ipv4\.ping_group_range: needs a new net namespace or one joined by path \(not the host's\)/ });
  assert.equal(readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8'), hostValue, 'the host\'s value changed');
  removeContainer(s, id);
}));
