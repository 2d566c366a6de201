// The CLI around a real container as a user meets it: hako run under timeout(1), whose SIGTERM
// reaches hako's whole process group, and update with sizes written as runc takes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAKO, ok, oneLineError, removeContainer, runDetached, runSync, scoped, show, sleeper, v1CgroupDir } from './oci-util.mjs';

const skip = process.getuid?.() !== 0 ? 'needs root (real containers)' : false;

test('timeout -s TERM: hako run says it was stopped by SIGTERM and exits 128+15, leaving nothing', { skip }, scoped(async (s) => {
  // sleep as the PID namespace's init ignores SIGTERM: what ends the run is the signal on the group
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  const t0 = Date.now();
  const r = runSync('timeout', ['--preserve-status', '-s', 'TERM', '2', HAKO, '--root', s.root, 'run', '-b', b.dir, id], { env: s.env() });
  assert.equal(r.status, 143, show(r));
  assert.equal(r.stderr, 'hako: stopped by SIGTERM\n', show(r));
  assert.ok(Date.now() - t0 < 15_000, 'hako ended soon after the signal');
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('SIGTERM to hako alone is passed on: hako exits as the container did', { skip }, scoped(async (s) => {
  // an init that handles SIGTERM, so the forwarded signal ends it with a status of its own
  const b = s.bundle().sh(`trap 'exit 7' TERM; sleep ${s.marker} & wait`);
  const id = s.id();
  const r = runSync('sh', ['-c', `"$1" --root "$2" run -b "$3" "$4" & pid=$!; sleep 1.5; kill -TERM $pid; wait $pid`, 'sh', HAKO, s.root, b.dir, id], { env: s.env() });
  assert.equal(r.status, 7, show(r));
  assert.equal(r.stderr, '', show(r));
}));

/** The memory limit file of the cgroup pid is in (v2 memory.max, or v1 memory.limit_in_bytes). */
function memoryLimitFile(pid) {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const path = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    return join('/sys/fs/cgroup', path ?? '/', 'memory.max');
  }
  return join(v1CgroupDir(pid, 'memory'), 'memory.limit_in_bytes');
}

test('update --memory takes sizes with units as runc does (50M, 64m, 1g, 96MiB)', { skip }, scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.resources = { ...(c.linux.resources ?? {}), memory: { limit: 256 * 1024 * 1024 } }; }).args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const file = memoryLimitFile(pid);
  assert.equal(readFileSync(file, 'utf8').trim(), String(256 * 1024 * 1024));
  for (const [text, bytes] of [['50M', 50 * 1024 * 1024], ['64m', 64 * 1024 * 1024], ['96MiB', 96 * 1024 * 1024], ['1g', 1024 ** 3]]) {
    ok(s.hako(['update', '--memory', text, id]));
    assert.equal(readFileSync(file, 'utf8').trim(), String(bytes), `--memory ${text}`);
  }
  oneLineError(s.hako(['update', '--memory', '50Q', id]), { match: /--memory: '50Q' is not a size/ });
  assert.equal(readFileSync(file, 'utf8').trim(), String(1024 ** 3));
  removeContainer(s, id);
}));
