// The cgroup v2 backend on real cgroups, as root: on a unified host the real thing; on a hybrid
// host the v2 tree (forced with { version: 2 }), where most controllers are bound to v1 and the
// limits that need them must be refused clearly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupManager, detectCgroups } from '../../dist/src/cgroups/index.js';

const layout = (() => {
  try {
    return detectCgroups();
  } catch {
    return undefined;
  }
})();
const skip = process.getuid?.() !== 0 ? 'needs root' : !layout?.v2 ? 'no cgroup v2 on this host' : false;
const top = layout?.v2?.mountPoint;
const read = (dir, file) => readFileSync(join(dir, file), 'utf8').trim();
const offered = top ? read(top, 'cgroup.controllers').split(' ').filter(Boolean) : [];
const MiB = 1024 * 1024;

let n = 0;
const newId = () => `hako-test-${process.pid}-v2-${++n}`;

function leftovers(id) {
  const r = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-name', id], { encoding: 'utf8' });
  return r.stdout.trim();
}

function throwsMessage(fn, re) {
  assert.throws(fn, (err) => {
    assert.match(err.message, re);
    return true;
  });
}

async function exited(child, ms = 10000) {
  if (child.exitCode !== null || child.signalCode !== null) return [child.exitCode, child.signalCode];
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`process ${child.pid} still running after ${ms} ms`)), ms); });
  try {
    return await Promise.race([once(child, 'exit'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function withCgroup(body, { cgroupsPath, id = newId() } = {}) {
  const m = cgroupManager(cgroupsPath, id, { version: 2 });
  const children = [];
  const track = (c) => { children.push(c); return c; };
  try {
    m.create();
    await body(m, track, id);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    m.destroy();
    assert.equal(leftovers(id), '', `cgroup directories named ${id} left behind`);
  }
}

// create() enables the controllers v2 offers on the way down (as runc does); on a hybrid host
// put the v2 root's subtree_control back as it was (best effort)
const subtreeBefore = top ? read(top, 'cgroup.subtree_control') : undefined;
after(() => {
  if (!top || subtreeBefore === undefined || layout.mode === 'unified') return;
  for (const c of read(top, 'cgroup.subtree_control').split(' ').filter(Boolean)) {
    if (subtreeBefore.split(' ').includes(c)) continue;
    // only when no other cgroup under /hako (a concurrent test, a container) may be using it
    const hako = join(top, 'hako');
    if (existsSync(hako) && readdirSync(hako, { withFileTypes: true }).some((e) => e.isDirectory())) return;
    for (const dir of [hako, top]) {
      try { writeFileSync(join(dir, 'cgroup.subtree_control'), `-${c}`); } catch { /* in use elsewhere */ }
    }
  }
});

test('create, addProcess, pids: /proc/PID/cgroup shows the v2 path; destroy kills and removes', { skip }, async () => {
  await withCgroup(async (m, track, id) => {
    assert.equal(m.version, 2);
    assert.equal(m.path, `/hako/${id}`);
    assert.equal(m.dirs.unified, join(top, 'hako', id));
    assert.deepEqual(m.mountInfo(), { cgroupV2: true });
    const child = track(spawn('sleep', ['60']));
    m.addProcess(child.pid);
    const line = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    assert.equal(line, `0::/hako/${id}`);
    assert.deepEqual(m.pids(), [child.pid]);
    assert.equal(read(m.dirs.unified, 'cgroup.procs'), String(child.pid));
    // as the process itself sees it
    const sh = track(spawn('sh', ['-c', 'read go; grep ^0:: /proc/self/cgroup'], { stdio: ['pipe', 'pipe', 'inherit'] }));
    let out = '';
    sh.stdout.on('data', (d) => { out += d; });
    m.addProcess(sh.pid);
    sh.stdin.end('go\n');
    assert.deepEqual(await exited(sh), [0, null]);
    assert.equal(out.trim(), `0::/hako/${id}`);
    m.destroy();
    assert.deepEqual(await exited(child), [null, 'SIGKILL']);
    assert.equal(existsSync(m.dirs.unified), false);
    m.destroy();
    throwsMessage(() => m.state(), /does not exist/);
    throwsMessage(() => m.set({ pids: { limit: 5 } }), /does not exist/);
  });
});

test('freeze and thaw through cgroup.freeze / cgroup.events', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const busy = track(spawn('sh', ['-c', 'while :; do :; done']));
    m.addProcess(busy.pid);
    const utime = () => Number(readFileSync(`/proc/${busy.pid}/stat`, 'utf8').split(') ')[1].split(' ')[11]);
    assert.equal(m.state(), 'thawed');
    m.freeze();
    assert.equal(m.state(), 'frozen');
    assert.equal(read(m.dirs.unified, 'cgroup.freeze'), '1');
    assert.match(read(m.dirs.unified, 'cgroup.events'), /^frozen 1$/m);
    const t0 = utime();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(utime(), t0, 'no CPU time while frozen');
    m.thaw();
    assert.equal(m.state(), 'thawed');
    assert.match(read(m.dirs.unified, 'cgroup.events'), /^frozen 0$/m);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(utime() > t0);
  });
});

test('killAll: SIGKILL through cgroup.kill, other signals one by one; a frozen cgroup too', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const a = track(spawn('sleep', ['60']));
    m.addProcess(a.pid);
    m.killAll('SIGTERM');
    assert.deepEqual(await exited(a), [null, 'SIGTERM']);
    const b = track(spawn('sleep', ['60']));
    const c = track(spawn('sleep', ['60']));
    m.addProcess(b.pid);
    m.addProcess(c.pid);
    m.freeze();
    m.killAll();
    assert.deepEqual(await exited(b), [null, 'SIGKILL']);
    assert.deepEqual(await exited(c), [null, 'SIGKILL']);
    assert.equal(m.state(), 'frozen', 'a v2 frozen cgroup need not be thawed for SIGKILL');
  });
});

test('destroy removes child cgroups leaf-first, with processes in them', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const inner = join(m.dirs.unified, 'inner', 'deeper');
    mkdirSync(inner, { recursive: true });
    const child = track(spawn('sleep', ['60']));
    writeFileSync(join(inner, 'cgroup.procs'), String(child.pid));
    assert.deepEqual(m.pids(), [child.pid]);
    m.destroy();
    assert.deepEqual(await exited(child), [null, 'SIGKILL']);
    assert.equal(existsSync(m.dirs.unified), false);
  });
});

test('limits: applied when v2 has the controller, refused clearly when it does not', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const dir = m.dirs.unified;
    const refusal = (ctrl, what) => new RegExp(`^hako: cgroup: ${what.replace(/[.[\]"]/g, '\\$&')} needs the ${ctrl} controller, which cgroup v2 does not have here`);
    if (offered.includes('memory')) {
      m.set({ memory: { limit: 64 * MiB, reservation: 16 * MiB } });
      assert.equal(read(dir, 'memory.max'), String(64 * MiB));
      assert.equal(read(dir, 'memory.low'), String(16 * MiB));
      if (existsSync(join(dir, 'memory.swap.max'))) {
        m.set({ memory: { limit: 64 * MiB, swap: 96 * MiB } });
        assert.equal(read(dir, 'memory.swap.max'), String(32 * MiB), 'swap.max = swap - limit');
      }
      assert.equal(m.stats().memory.limit, 64 * MiB);
    } else {
      throwsMessage(() => m.set({ memory: { limit: 64 * MiB } }), refusal('memory', 'linux.resources.memory'));
      assert.equal(m.stats().memory, null);
      assert.equal(m.oomKilled(), false);
    }
    if (offered.includes('pids')) {
      m.set({ pids: { limit: 5 } });
      assert.equal(read(dir, 'pids.max'), '5');
      m.set({ pids: { limit: -1 } });
      assert.equal(read(dir, 'pids.max'), 'max');
    } else {
      throwsMessage(() => m.set({ pids: { limit: 5 } }), refusal('pids', 'linux.resources.pids'));
    }
    if (offered.includes('cpu')) {
      m.set({ cpu: { shares: 1024, quota: 50000, period: 100000 } });
      assert.equal(read(dir, 'cpu.weight'), '39', 'shares 1024 → weight 39');
      assert.equal(read(dir, 'cpu.max'), '50000 100000');
      m.set({ cpu: { quota: -1 } });
      assert.equal(read(dir, 'cpu.max'), 'max 100000', 'the period is kept');
    } else {
      throwsMessage(() => m.set({ cpu: { shares: 1024 } }), refusal('cpu', 'linux.resources.cpu'));
    }
    if (!offered.includes('cpuset')) throwsMessage(() => m.set({ cpu: { cpus: '0' } }), refusal('cpuset', 'linux.resources.cpu.cpus/mems'));
    if (offered.includes('hugetlb') && existsSync(join(dir, 'hugetlb.2MB.max'))) {
      m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 8 * MiB }] });
      assert.equal(read(dir, 'hugetlb.2MB.max'), String(8 * MiB));
      m.set({ unified: { 'hugetlb.2MB.max': String(4 * MiB) } });
      assert.equal(read(dir, 'hugetlb.2MB.max'), String(4 * MiB));
    }
    if (!offered.includes('memory')) {
      throwsMessage(() => m.set({ unified: { 'memory.high': '100M' } }), refusal('memory', 'linux.resources.unified["memory.high"]'));
    }
    // core files need no controller
    m.set({ unified: { 'cgroup.max.descendants': '3' } });
    assert.equal(read(dir, 'cgroup.max.descendants'), '3');
    throwsMessage(() => m.set({ unified: { 'no.such_file': '1' } }), /^hako: cgroup: linux\.resources\.unified(: there is no file 'no\.such_file'|\["no\.such_file"\] needs the no controller)/);
    throwsMessage(() => m.set({ unified: { '../escape': '1' } }), /is not a cgroup v2 file name/);
    throwsMessage(() => m.set({ unified: { 'cgroup.procs': '1' } }), /managed by hako itself/);
    // what only v1 has
    throwsMessage(() => m.set({ memory: { swappiness: 10 } }), /^hako: cgroup: linux\.resources\.memory(\.swappiness has no cgroup v2 equivalent| needs the memory controller)/);
    throwsMessage(() => m.set({ network: { classID: 1 } }), /^hako: cgroup: linux\.resources\.network .*has no cgroup v2 equivalent/);
    throwsMessage(() => m.set({ rdma: { mlx5_1: { hcaHandles: 3 } } }), /^hako: cgroup: linux\.resources\.rdma is not supported yet$/);
    assert.equal(typeof m.stats().cpu.usageNs, 'number', 'cpu.stat usage is core');
  });
});

test('OOM kill and pids limit inside, when v2 has memory and pids', { skip: skip || (!(offered.includes('memory') && offered.includes('pids')) && 'memory or pids is not a v2 controller here') }, async () => {
  await withCgroup(async (m, track) => {
    m.set({ memory: { limit: 32 * MiB, swap: 32 * MiB }, pids: { limit: 5 } });
    const sh = track(spawn('sh', ['-c', 'read go; (echo 1000 > /proc/self/oom_score_adj && head -c 100M /dev/zero | tail >/dev/null); echo "status $?"; for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait'], { stdio: ['pipe', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    sh.stdout.on('data', (d) => { out += d; });
    sh.stderr.on('data', (d) => { err += d; });
    m.addProcess(sh.pid);
    sh.stdin.end('go\n');
    const [code] = await exited(sh, 30000);
    assert.match(out, /status 137/);
    assert.equal(m.oomKilled(), true);
    assert.notEqual(code, 0);
    assert.match(err, /fork/i);
  });
});
