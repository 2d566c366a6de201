// The cgroup v2 device controller: linux.resources.devices compiled to an eBPF program that the
// helper attaches. On this hybrid host the v1 device cgroup enforces the same rules, so these tests
// run the container on the v2 cgroup alone (Runtime cgroupVersion 2), where only the program does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Runtime } from '../../dist/src/runtime/runtime.js';
import { detectCgroups } from '../../dist/src/cgroups/detect.js';
import { scoped } from './oci-util.mjs';

const v2 = detectCgroups().v2 ? false : 'no cgroup v2 on this host';

async function runV2(s, bundle, id) {
  const rt = new Runtime({ root: s.root, cgroupVersion: 2, warn: () => {} });
  return rt.run(id, { bundle: bundle.dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

const probe = 'head -c 1 /dev/zero >/dev/null 2>&1 && echo zero-ok || echo zero-denied; '
  + 'echo x >/dev/null 2>&1 && echo null-ok || echo null-denied; '
  + 'head -c 1 /dev/full >/dev/null 2>&1 && echo full-ok || echo full-denied';

test('v2: the default rules (deny all, then runc\'s standard devices) let the standard devices through', { skip: v2 }, scoped(async (s) => {
  const b = s.bundle().sh(probe);
  const r = await runV2(s, b, s.id());
  assert.equal(r.exitCode, 0, r.stderr?.toString());
  assert.deepEqual(r.stdout.toString().trim().split('\n'), ['zero-ok', 'null-ok', 'full-ok']);
}));

// /dev/fuse's numbers (10:229): a character device root may open, which no default rule allows;
// made in the container's /dev (the one tmpfs there without nodev) and only opened, never read
const FUSE = { major: 10, minor: 229 };
const openProbe = `mknod /dev/probe c ${FUSE.major} ${FUSE.minor} && ( (exec 3</dev/probe) 2>/dev/null && echo open-ok || echo open-denied )`;

function withMknod(b) {
  for (const set of ['bounding', 'effective', 'permitted']) b.config.process.capabilities[set].push('CAP_MKNOD');
}

test('v2: a device outside every allow rule can be made (c *:* m) but not opened', { skip: v2 }, scoped(async (s) => {
  const b = s.bundle().sh(openProbe);
  withMknod(b);
  b.save();
  const r = await runV2(s, b, s.id());
  assert.equal(r.exitCode, 0, r.stderr?.toString());
  assert.equal(r.stdout.toString().trim(), 'open-denied');
}));

test('v2: an allow rule for that device lets it be opened for what it allows', { skip: v2 }, scoped(async (s) => {
  const b = s.bundle().sh(openProbe);
  withMknod(b);
  b.config.linux.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: FUSE.major, minor: FUSE.minor, access: 'r' }] };
  b.save();
  const r = await runV2(s, b, s.id());
  assert.equal(r.exitCode, 0, r.stderr?.toString());
  assert.equal(r.stdout.toString().trim(), 'open-ok');
}));

test('v2: read and write allowed by two rules for one device open it for both (v1 merges them)', { skip: v2 }, scoped(async (s) => {
  const b = s.bundle().sh(`mknod /dev/probe c ${FUSE.major} ${FUSE.minor} && ( (exec 3<>/dev/probe) 2>/dev/null && echo rw-ok || echo rw-denied )`);
  withMknod(b);
  const dev = { allow: true, type: 'c', major: FUSE.major, minor: FUSE.minor };
  b.config.linux.resources = { devices: [{ allow: false, access: 'rwm' }, { ...dev, access: 'r' }, { ...dev, access: 'w' }] };
  b.save();
  const r = await runV2(s, b, s.id());
  assert.equal(r.exitCode, 0, r.stderr?.toString());
  assert.equal(r.stdout.toString().trim(), 'rw-ok');
}));

test('v2: an allow that would punch a hole in a wildcard deny is refused before the container runs, and nothing is left', { skip: v2 }, scoped(async (s) => {
  // in a default-allow cgroup, v1 keeps denying c 10:229 whatever the allow says; a filter that
  // let it through would give the container on v2 what it does not get on v1
  const b = s.bundle().sh(openProbe);
  withMknod(b);
  b.config.linux.resources = { devices: [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', access: 'rw' }, { allow: true, type: 'c', major: FUSE.major, minor: FUSE.minor, access: 'rw' }] };
  b.save();
  const id = s.id();
  await assert.rejects(runV2(s, b, id), (e) => e.code === 'bad-config'
    && /^hako: config\.json: linux\.resources\.devices\[2\]: 'c 10:229 rw' cannot take access away from the wider rule 'c \*:\* rw'/.test(e.message));
  const rt = new Runtime({ root: s.root, cgroupVersion: 2, warn: () => {} });
  assert.equal(rt.list().some((c) => c.id === id), false, 'no state left for the refused container');
}));

test('v1: the same hole in a wildcard deny is refused too (as runc), where the v1 kernel would ignore the allow silently', { skip: detectCgroups().mode === 'unified' ? 'a cgroup v2-only host has no v1 device cgroup' : false }, scoped(async (s) => {
  const b = s.bundle().sh(openProbe);
  withMknod(b);
  b.config.linux.resources = { devices: [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', access: 'rw' }, { allow: true, type: 'c', major: FUSE.major, minor: FUSE.minor, access: 'rw' }] };
  b.save();
  const id = s.id();
  const rt = new Runtime({ root: s.root, warn: () => {} });
  await assert.rejects(rt.run(id, { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] }), (e) => e.code === 'bad-config'
    && /^hako: config\.json: linux\.resources\.devices\[2\]: 'c 10:229 rw' cannot take access away from the wider rule 'c \*:\* rw'/.test(e.message));
  assert.equal(rt.list().some((c) => c.id === id), false, 'no state left for the refused container');
}));
