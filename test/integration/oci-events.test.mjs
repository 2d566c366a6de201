// `hako events`: runc's stats events (the same JSON shape as runc's, the numbers the cgroup's files
// hold) and oom events (the kernel's OOM notification for the container's cgroup), and an init
// OOM-killed during create reported as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NO_RUNC, lines, ok, oneLineError, removeContainer, runDetached, scoped, sleeper, v1CgroupDir, waitUntil,
} from './oci-util.mjs';

const LIMIT = 32 << 20;

/** The shape of a JSON value: objects' keys (recursively), arrays and scalars by type. */
function shape(v) {
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape(v[k])]));
  return v === null ? null : typeof v;
}

test('events --stats: one stats event in runc\'s shape, its numbers those of the container\'s cgroup files', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.args = sleeper(s);
    c.linux.resources = { ...c.linux.resources, memory: { limit: LIMIT }, pids: { limit: 50 } };
  });
  const { id, pid } = runDetached(s, b);
  const out = ok(s.hako(['events', '--stats', id]));
  assert.equal(lines(out).length, 1, out);
  const e = JSON.parse(out);
  assert.equal(e.type, 'stats');
  assert.equal(e.id, id);
  const mem = v1CgroupDir(pid, 'memory');
  assert.equal(e.data.memory.usage.limit, Number(readFileSync(join(mem, 'memory.limit_in_bytes'), 'utf8')));
  assert.equal(e.data.memory.usage.limit, LIMIT);
  assert.ok(e.data.memory.usage.usage > 0, 'memory in use');
  assert.equal(typeof e.data.memory.raw.rss, 'number');
  assert.equal(e.data.memory.cache ?? 0, e.data.memory.raw.cache, 'cache is memory.stat\'s, left out when 0 (omitempty)');
  assert.deepEqual(e.data.pids, { current: 1, limit: 50 });
  assert.ok(e.data.cpu.usage.total > 0, 'cpu time used');
  assert.equal(e.data.cpu.usage.percpu.length, Number(readFileSync(join(v1CgroupDir(pid, 'cpuacct'), 'cpuacct.usage_percpu'), 'utf8').trim().split(/\s+/).length));
  assert.deepEqual(e.data.cpuset.cpus, [...Array(e.data.cpuset.cpus.length).keys()].map((i) => e.data.cpuset.cpus[0] + i));
  // the kernel's "no limit" is printed whole, as runc's Go prints a uint64
  assert.match(out, /"kernel":\{"limit":\d{19},/);
  if (!NO_RUNC) {
    // the same container under runc: the same keys at every level (the numbers differ)
    const rid = s.runcId();
    // its stdio on files: a pipe would stay open in the container, and the call would wait for it
    const files = s.outputFiles();
    try {
      ok(s.runc(['run', '-d', '-b', b.dir, rid], { stdio: ['ignore', ...files.fds] }));
    } finally {
      files.close();
    }
    const r = JSON.parse(ok(s.runc(['events', '--stats', rid])));
    ok(s.runc(['delete', '-f', rid]));
    // raw: the kernel's own list; blkio's lists have entries only when the container read from
    // the disk, and memory.cache (omitempty, as runc's) only when it was charged page cache: the
    // page cache decides both (runc's run read a file hako's found cached, or the reverse)
    const norm = (d) => { delete d.memory.raw; delete d.memory.cache; delete d.blkio; return shape(d); };
    assert.deepEqual(norm(e.data), norm(r.data));
  }
  removeContainer(s, id);
}));

test('events: stats every --interval and an oom event when the OOM killer acts in the container; it ends when the container is deleted', scoped(async (s) => {
  const b = s.bundle((c) => {
    // waits for the host's go, then makes tail hold 100 MiB (no newline) under a 32 MiB limit;
    // head and tail first in the OOM killer's line (oom_score_adj 1000): CI once saw head's next
    // allocation, as tail was dying, OOM-kill the init sh instead, and 'survived' never came
    c.process.args = ['sh', '-c', `while [ ! -e /tmp/go ]; do sleep 0.05; done; (echo 1000 > /proc/self/oom_score_adj && head -c 100m /dev/zero | tail); echo survived; exec sleep ${s.marker}`];
    c.linux.resources = { ...c.linux.resources, memory: { limit: LIMIT, swap: LIMIT } };
  });
  const { id, pid, outFile } = runDetached(s, b);
  const events = s.spawnHako(['events', '--interval', '200ms', id], { toFiles: true });
  // a few stats ticks first: the OOM watch is registered by then
  await new Promise((r) => setTimeout(r, 700));
  writeFileSync(join(b.rootfs, 'tmp', 'go'), '');
  await waitUntil(() => readFileSync(outFile, 'utf8').includes('survived'), { timeoutMs: 15_000, what: 'the allocation to be OOM-killed' });
  const mem = v1CgroupDir(pid, 'memory');
  assert.match(readFileSync(join(mem, 'memory.oom_control'), 'utf8'), /oom_kill [1-9]/);
  await new Promise((r) => setTimeout(r, 400)); // a stats tick after the OOM
  removeContainer(s, id);
  const r = await events.result();
  assert.equal(r.status, 0, r.stderr);
  const evs = lines(r.stdout).map((l) => JSON.parse(l));
  assert.ok(evs.some((e) => e.type === 'oom' && e.id === id && !('data' in e)), r.stdout);
  const stats = evs.filter((e) => e.type === 'stats');
  assert.ok(stats.length >= 3, `stats every 200ms:\n${r.stdout}`);
  assert.equal(stats.at(-1).data.memory.usage.max, LIMIT, `the usage peaked at the limit: ${JSON.stringify(evs.map((e) => [e.type, e.data?.memory.usage]))}`);
}));

test('events refuses a stopped container, a missing one and a bad --interval, with one line', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.args = ['true']; });
  const id = s.id();
  ok(s.hako(['run', '-d', '-b', b.dir, id], { stdio: ['ignore', 'ignore', 'pipe'] }));
  await waitUntil(() => s.state(id).status === 'stopped', { what: 'the container to stop' });
  oneLineError(s.hako(['events', '--stats', id]), { match: /is not running/ });
  oneLineError(s.hako(['events', id]), { match: /is not running/ });
  removeContainer(s, id);
  oneLineError(s.hako(['events', 'nope-no-such']), { match: /does not exist/ });
  oneLineError(s.hako(['events', '--interval', 'soon', 'x']), { match: /--interval: 'soon' is not a duration/ });
}));

test('an init OOM-killed during create is reported as such, and nothing is left behind', scoped(async (s) => {
  // 64 KiB: the init cannot even finish its setup
  const b = s.bundle((c) => { c.linux.resources = { ...c.linux.resources, memory: { limit: 65536 } }; });
  const id = s.id();
  oneLineError(s.hako(['create', '-b', b.dir, id], { stdio: ['ignore', 'ignore', 'pipe'] }),
    { match: new RegExp(`^hako: create: container ${id}: container init was OOM-killed: memory limit too low\\? \\(linux\\.resources\\.memory\\.limit is 65536 bytes`) });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  oneLineError(s.hako(['run', '-b', b.dir, s.id()]), { match: /container init was OOM-killed: memory limit too low\?/ });
}));
