// The cgroup v2 device controller: linux.resources.devices compiled to an eBPF program that the
// helper attaches. On this hybrid host the v1 device cgroup enforces the same rules, so these tests
// run the container on the v2 cgroup alone (Runtime cgroupVersion 2), where only the program does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Runtime } from '../../dist/src/lifecycle/runtime.js';
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
