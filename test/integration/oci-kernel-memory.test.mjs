// linux.resources.memory.kernel and kernelTCP: Linux 6.1 removed kernel memory limits and runc
// 1.1+ ignores them with a warning; configs of older generators still carry them. hako warns
// once (one line naming the field) and goes on, writing nothing for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hakoRun, lines, scoped, show } from './oci-util.mjs';

const MiB = 1024 * 1024;

test('a config with memory.kernel and kernelTCP runs: one warning line each, nothing written for them', scoped(async (s) => {
  const b = s.bundle();
  b.edit((c) => { c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB, kernel: 32 * MiB, kernelTCP: 16 * MiB } }; });
  // v1: the container's own memory cgroup (cgroup namespace); v2 has no kmem files at all
  b.sh('d=/sys/fs/cgroup/memory; [ -d $d ] || d=/sys/fs/cgroup; cat $d/memory.limit_in_bytes $d/memory.max 2>/dev/null; '
    + 'cat $d/memory.kmem.limit_in_bytes $d/memory.kmem.tcp.limit_in_bytes 2>/dev/null; true');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  const warnings = lines(r.stderr);
  assert.deepEqual(warnings, [
    'hako: config.json: linux.resources.memory.kernel: is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)',
    'hako: config.json: linux.resources.memory.kernelTCP: is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)',
  ], show(r));
  const [limit, ...kmem] = lines(r.stdout);
  assert.equal(limit, String(64 * MiB), show(r));
  for (const v of kmem) assert.ok(v !== String(32 * MiB) && v !== String(16 * MiB), `a kernel memory limit was written: ${show(r)}`);
}));

// Under containerd's shim (and conmon) the runtime's stderr during create IS the container's stderr:
// a warning written there lands in `docker logs` / `crictl logs` as if the container had said it.
// runc writes its warnings to --log when one is given; so does hako.
test('with --log, the warning goes to the log (level warning), not to stderr (the container\'s stderr under a shim)', scoped(async (s) => {
  const b = s.bundle();
  b.edit((c) => { c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB, kernel: 32 * MiB } }; });
  b.sh('echo ran');
  const log = s.path('hako.log');
  const r = hakoRun(s, b, { globals: ['--log', log, '--log-format', 'json'] });
  assert.equal(r.status, 0, show(r));
  assert.deepEqual(lines(r.stdout), ['ran'], show(r));
  assert.deepEqual(lines(r.stderr), [], `a warning reached stderr although --log was given\n${show(r)}`);
  const records = lines(readFileSync(log, 'utf8')).map((l) => JSON.parse(l)).filter((x) => x.level === 'warning');
  assert.deepEqual(records.map((x) => x.msg), [
    'config.json: linux.resources.memory.kernel: is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)',
  ], readFileSync(log, 'utf8'));
}));
