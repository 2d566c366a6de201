// The cgroup v1 backend on real cgroups (legacy and hybrid hosts), as root. Each test makes a
// cgroup with its own id, destroys it, and checks that nothing named after it is left.
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
const skip = process.getuid?.() !== 0 ? 'needs root'
  : !layout || layout.mode === 'unified' ? 'no cgroup v1 on this host' : false;
const MiB = 1024 * 1024;

let n = 0;
const newId = () => `hako-test-${process.pid}-v1-${++n}`;

/** Anything named id under /sys/fs/cgroup (find exits non-zero when a directory vanishes under it: ignored). */
function leftovers(id) {
  const r = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-name', id], { encoding: 'utf8' });
  return r.stdout.trim();
}

function procCgroup(pid) {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => {
    const [, , ctrls, path] = /^(\d+):([^:]*):(.*)$/.exec(l);
    return { ctrls, path };
  });
}

/** fn throws an error whose message (not its String()) matches re. */
function throwsMessage(fn, re) {
  assert.throws(fn, (err) => {
    assert.match(err.message, re);
    return true;
  });
}

const read = (dir, file) => readFileSync(join(dir, file), 'utf8').trim();

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

/** A shell that waits for a line on stdin before it runs script: move it into the cgroup first. */
function gated(script) {
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.out = '';
  child.err = '';
  child.stdout.on('data', (d) => { child.out += d; });
  child.stderr.on('data', (d) => { child.err += d; });
  child.go = () => child.stdin.end('go\n');
  return child;
}

/** Run body with a fresh manager; always kill the children, destroy, and check nothing is left. */
async function withCgroup(body, { cgroupsPath, id = newId() } = {}) {
  const m = cgroupManager(cgroupsPath, id);
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

// hugetlb limits on a hybrid host go through the v2 tree, which enables +hugetlb on the way
// down: put the v2 root's subtree_control back as it was (best effort)
const v2top = layout?.v2?.mountPoint;
const subtreeBefore = v2top && existsSync(join(v2top, 'cgroup.subtree_control')) ? read(v2top, 'cgroup.subtree_control') : undefined;
after(() => {
  if (!v2top || subtreeBefore === undefined) return;
  for (const c of read(v2top, 'cgroup.subtree_control').split(' ').filter(Boolean)) {
    if (subtreeBefore.split(' ').includes(c)) continue;
    // only when no other cgroup under /hako (a concurrent test, a container) may be using it
    const hako = join(v2top, 'hako');
    if (existsSync(hako) && readdirSync(hako, { withFileTypes: true }).some((e) => e.isDirectory())) return;
    for (const dir of [hako, v2top]) {
      try { writeFileSync(join(dir, 'cgroup.subtree_control'), `-${c}`); } catch { /* in use elsewhere */ }
    }
  }
});

test('create, addProcess: the process is in the cgroup in every hierarchy; destroy kills it and removes the dirs', { skip }, async () => {
  await withCgroup(async (m, track, id) => {
    assert.equal(m.version, 1);
    assert.equal(m.path, `/hako/${id}`);
    for (const dir of Object.values(m.dirs)) assert.ok(existsSync(dir), dir);
    const child = track(spawn('sleep', ['60']));
    m.addProcess(child.pid);
    const lines = procCgroup(child.pid);
    for (const h of layout.v1) {
      const line = lines.find((l) => l.ctrls === h.key);
      assert.ok(line, `no ${h.key} line in /proc/${child.pid}/cgroup`);
      assert.equal(line.path, `/hako/${id}`, h.key);
    }
    if (layout.mode === 'hybrid') assert.equal(lines.find((l) => l.ctrls === '')?.path, `/hako/${id}`, 'the v2 (0::) line');
    assert.deepEqual(m.pids(), [child.pid]);
    for (const dir of Object.values(m.dirs)) assert.match(read(dir, 'cgroup.procs'), new RegExp(`^${child.pid}$`, 'm'));
    // and as the process itself sees it (a child it forks is in there too)
    const sh = track(gated('cat /proc/self/cgroup'));
    m.addProcess(sh.pid);
    sh.go();
    assert.deepEqual(await exited(sh), [0, null]);
    const seen = sh.out.trim().split('\n');
    assert.equal(seen.length, layout.v1.length + (layout.mode === 'hybrid' ? 1 : 0));
    for (const l of seen) assert.match(l, new RegExp(`^\\d+:[^:]*:/hako/${id}$`));
    m.destroy();
    assert.deepEqual(await exited(child), [null, 'SIGKILL']);
    for (const dir of Object.values(m.dirs)) assert.equal(existsSync(dir), false, dir);
    m.destroy(); // idempotent
    assert.deepEqual(m.pids(), []);
    throwsMessage(() => m.freeze(), /^hako: cgroup: cannot freeze: the cgroup \/hako\/.* does not exist/);
    throwsMessage(() => m.set({ pids: { limit: 5 } }), /does not exist \(create\(\) it first/);
    throwsMessage(() => m.addProcess(child.pid), /^hako: cgroup: cannot move process \d+ into .* \((ENOENT|ESRCH)/);
  });
});

test('memory limit, reservation and swap read back from the v1 files', { skip }, async () => {
  await withCgroup(async (m) => {
    const dir = m.dirs.memory;
    const hasMemsw = existsSync(join(dir, 'memory.memsw.limit_in_bytes'));
    m.set({ memory: { limit: 64 * MiB, reservation: 32 * MiB, ...(hasMemsw ? { swap: 96 * MiB } : {}), swappiness: 10, disableOOMKiller: false } });
    assert.equal(read(dir, 'memory.limit_in_bytes'), String(64 * MiB));
    assert.equal(read(dir, 'memory.soft_limit_in_bytes'), String(32 * MiB));
    if (hasMemsw) assert.equal(read(dir, 'memory.memsw.limit_in_bytes'), String(96 * MiB));
    assert.equal(read(dir, 'memory.swappiness'), '10');
    // lowering both: the limit goes first, then memory+swap
    m.set({ memory: { limit: 16 * MiB, ...(hasMemsw ? { swap: 16 * MiB } : {}) } });
    assert.equal(read(dir, 'memory.limit_in_bytes'), String(16 * MiB));
    if (hasMemsw) assert.equal(read(dir, 'memory.memsw.limit_in_bytes'), String(16 * MiB));
    // raising both: memory+swap first
    m.set({ memory: { limit: 128 * MiB, ...(hasMemsw ? { swap: 256 * MiB } : {}) } });
    assert.equal(read(dir, 'memory.limit_in_bytes'), String(128 * MiB));
    assert.equal(m.stats().memory.limit, 128 * MiB);
    // unlimited
    m.set({ memory: { limit: -1 } });
    assert.equal(m.stats().memory.limit, null);
  });
});

test('a pids limit of 5 makes the 6th fork inside fail', { skip }, async () => {
  await withCgroup(async (m, track) => {
    m.set({ pids: { limit: 5 } });
    assert.equal(read(m.dirs.pids, 'pids.max'), '5');
    const sh = track(gated('for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait'));
    m.addProcess(sh.pid);
    sh.go();
    const [code] = await exited(sh);
    assert.notEqual(code, 0);
    assert.match(sh.err, /fork/i, `stderr: ${sh.err}`);
    const s = m.stats();
    assert.equal(s.pids.limit, 5);
    assert.ok(s.pids.current <= 5, `pids.current ${s.pids.current}`);
    assert.ok(m.pids().length >= 1 && m.pids().length <= 5);
  });
});

test('a memory limit of 32 MiB gets a 100 MiB allocation OOM-killed, and oomKilled() says so', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const hasMemsw = existsSync(join(m.dirs.memory, 'memory.memsw.limit_in_bytes'));
    m.set({ memory: { limit: 32 * MiB, ...(hasMemsw ? { swap: 32 * MiB } : {}) } });
    assert.equal(m.oomKilled(), false);
    // tail keeps a line in memory until it ends: 100 MiB of zeros without a newline; head and tail
    // first in the OOM killer's line (oom_score_adj 1000), so that a second OOM as tail dies takes
    // head, not the sh that reports
    const sh = track(gated('(echo 1000 > /proc/self/oom_score_adj && head -c 100M /dev/zero | tail >/dev/null); echo "status $?"'));
    m.addProcess(sh.pid);
    sh.go();
    const [code] = await exited(sh, 30000);
    assert.equal(code, 0);
    assert.match(sh.out, /status 137/, 'tail died of SIGKILL');
    assert.equal(m.oomKilled(), true);
    const s = m.stats();
    assert.ok(s.memory.oomKills >= 1);
    assert.equal(s.memory.limit, 32 * MiB);
    assert.ok(s.memory.maxUsage <= 32 * MiB && s.memory.maxUsage > 16 * MiB, `max usage ${s.memory.maxUsage}`);
  });
});

test('a limit the kernel cannot apply is an error naming the file and the errno', { skip }, async () => {
  await withCgroup(async (m, track) => {
    // a node process that holds 48 MiB once it is inside
    const child = track(spawn(process.execPath, ['-e', `process.stdin.once('data', () => { globalThis.b = Buffer.alloc(48 << 20, 1); console.log('ready'); }); setInterval(() => {}, 1000);`], { stdio: ['pipe', 'pipe', 'inherit'] }));
    m.addProcess(child.pid);
    child.stdin.write('go\n');
    await once(child.stdout, 'data');
    assert.ok(m.stats().memory.usage >= 48 * MiB);
    // v1 reclaims and then gives up with EBUSY (no swap to push anonymous memory to)
    assert.throws(() => m.set({ memory: { limit: 1000 } }), (err) => {
      assert.equal(err.name, 'CgroupError');
      assert.match(err.message, /^hako: cgroup: memory\.limit_in_bytes: cannot set 1000 \(EBUSY\)/);
      return true;
    });
    assert.throws(() => m.set({ memory: { limit: 16 * MiB, checkBeforeUpdate: true } }), /hako: cgroup: linux\.resources\.memory\.limit: 16777216 is below the current usage/);
    assert.equal(m.stats().memory.limit, null, 'nothing was applied');
  });
});

test('freeze stops the processes (freezer.state FROZEN) and thaw lets them run again', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const busy = track(spawn('sh', ['-c', 'while :; do :; done']));
    m.addProcess(busy.pid);
    const utime = () => Number(readFileSync(`/proc/${busy.pid}/stat`, 'utf8').split(') ')[1].split(' ')[11]);
    const pstate = () => readFileSync(`/proc/${busy.pid}/stat`, 'utf8').split(') ')[1][0];
    assert.equal(m.state(), 'thawed');
    m.freeze();
    assert.equal(m.state(), 'frozen');
    const freezerDir = m.dirs.freezer;
    if (freezerDir) {
      assert.equal(read(freezerDir, 'freezer.state'), 'FROZEN');
      assert.equal(pstate(), 'D', 'a v1-frozen task shows as D in /proc/PID/stat');
    }
    const t0 = utime();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(utime(), t0, 'no CPU time while frozen');
    m.freeze(); // again: no-op
    m.thaw();
    assert.equal(m.state(), 'thawed');
    if (freezerDir) assert.equal(read(freezerDir, 'freezer.state'), 'THAWED');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(utime() > t0, 'runs again after thaw');
  });
});

test('destroy of a frozen cgroup with processes (and a child cgroup) kills them and removes everything', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const a = track(spawn('sleep', ['60']));
    const b = track(spawn('sleep', ['60']));
    m.addProcess(a.pid);
    m.addProcess(b.pid);
    // a child cgroup inside, in every hierarchy, holding b
    for (const dir of Object.values(m.dirs)) {
      mkdirSync(join(dir, 'inner'));
      if (existsSync(join(dir, 'cpuset.cpus'))) {
        writeFileSync(join(dir, 'inner', 'cpuset.cpus'), read(dir, 'cpuset.cpus'));
        writeFileSync(join(dir, 'inner', 'cpuset.mems'), read(dir, 'cpuset.mems'));
      }
      writeFileSync(join(dir, 'inner', 'cgroup.procs'), String(b.pid));
    }
    assert.deepEqual(m.pids(), [a.pid, b.pid].sort((x, y) => x - y));
    m.freeze();
    m.destroy();
    assert.deepEqual(await exited(a), [null, 'SIGKILL']);
    assert.deepEqual(await exited(b), [null, 'SIGKILL']);
    for (const dir of Object.values(m.dirs)) assert.equal(existsSync(dir), false, dir);
  });
});

test('killAll sends the signal to every process', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const kids = [track(spawn('sleep', ['60'])), track(spawn('sleep', ['60']))];
    for (const k of kids) m.addProcess(k.pid);
    m.killAll('SIGTERM');
    for (const k of kids) assert.deepEqual(await exited(k), [null, 'SIGTERM']);
    assert.equal(m.state(), 'thawed', 'killAll leaves the cgroup thawed');
    const k3 = track(spawn('sleep', ['60']));
    m.addProcess(k3.pid);
    m.killAll();
    assert.deepEqual(await exited(k3), [null, 'SIGKILL']);
  });
});

test('cpu shares, quota/period, burst and cpuset read back; a quota throttles a busy loop', { skip }, async () => {
  await withCgroup(async (m, track) => {
    const cpu = m.dirs[layout.v1.find((h) => h.controllers.includes('cpu')).key];
    const cpuset = m.dirs[layout.v1.find((h) => h.controllers.includes('cpuset')).key];
    // a new v1 cpuset cgroup got its parent's cpus and mems
    assert.notEqual(read(cpuset, 'cpuset.cpus'), '');
    assert.notEqual(read(cpuset, 'cpuset.mems'), '');
    m.set({ cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0', ...(existsSync(join(cpu, 'cpu.cfs_burst_us')) ? { burst: 10000 } : {}) } });
    assert.equal(read(cpu, 'cpu.shares'), '512');
    assert.equal(read(cpu, 'cpu.cfs_quota_us'), '50000');
    assert.equal(read(cpu, 'cpu.cfs_period_us'), '100000');
    if (existsSync(join(cpu, 'cpu.cfs_burst_us'))) assert.equal(read(cpu, 'cpu.cfs_burst_us'), '10000');
    assert.equal(read(cpuset, 'cpuset.cpus'), '0');
    assert.equal(read(cpuset, 'cpuset.mems'), '0');
    // a shorter period with a quota that does not fit the old one: runc's retry order
    m.set({ cpu: { quota: 5000, period: 10000, ...(existsSync(join(cpu, 'cpu.cfs_burst_us')) ? { burst: 0 } : {}) } });
    assert.equal(read(cpu, 'cpu.cfs_period_us'), '10000');
    assert.equal(read(cpu, 'cpu.cfs_quota_us'), '5000');
    m.set({ cpu: { quota: -1 } });
    assert.equal(read(cpu, 'cpu.cfs_quota_us'), '-1');
    // inside: a busy loop under 10% of a CPU gets throttled
    m.set({ cpu: { quota: 10000, period: 100000 } });
    const busy = track(spawn('sh', ['-c', 'while :; do :; done']));
    m.addProcess(busy.pid);
    await new Promise((r) => setTimeout(r, 700));
    const s = m.stats();
    assert.ok(s.cpu.throttledPeriods > 0, `throttled ${s.cpu.throttledPeriods} of ${s.cpu.periods} periods`);
    assert.ok(s.cpu.throttledNs > 0);
    assert.ok(s.cpu.usageNs > 0 && s.cpu.usageNs < 300e6, `used ${s.cpu.usageNs} ns in 700 ms at 10%`);
  });
});

test('a relative cgroupsPath is placed under the caller\'s own cgroup in each hierarchy', { skip }, async () => {
  const id = newId();
  await withCgroup(async (m, track) => {
    const child = track(spawn('sleep', ['60']));
    m.addProcess(child.pid);
    const own = new Map(procCgroup(process.pid).map((l) => [l.ctrls, l.path]));
    for (const l of procCgroup(child.pid)) {
      const base = own.get(l.ctrls);
      assert.equal(l.path, `${base === '/' ? '' : base}/${id}`, `hierarchy '${l.ctrls}'`);
    }
  }, { cgroupsPath: id, id });
});

test('what the host cannot do is refused clearly, before anything is written', { skip }, async () => {
  await withCgroup(async (m) => {
    const limitFile = join(m.dirs.memory, 'memory.limit_in_bytes');
    const before = readFileSync(limitFile, 'utf8');
    assert.throws(() => m.set({ memory: { limit: 64 * MiB }, rdma: { mlx5_1: { hcaHandles: 3 } } }), { message: 'hako: cgroup: linux.resources.rdma is not supported yet' });
    throwsMessage(() => m.set({ memory: { limit: 64 * MiB }, devices: [{ allow: false, access: 'rwm' }] }), /^hako: cgroup: linux\.resources\.devices is not supported yet/);
    assert.throws(() => m.set({ memory: { limit: 64 * MiB, nope: 1 } }), /linux\.resources\.memory\.nope is not a field/);
    assert.throws(() => m.set({ pids: { limit: 'many' } }), /linux\.resources\.pids\.limit must be an integer/);
    assert.throws(() => m.set({ cpu: { shares: 1 } }), /linux\.resources\.cpu\.shares must be between 2 and 262144/);
    assert.equal(readFileSync(limitFile, 'utf8'), before, 'the memory limit was not touched');
    if (layout.mode === 'hybrid') {
      const offered = read(layout.v2.mountPoint, 'cgroup.controllers').split(' ');
      if (!offered.includes('memory')) {
        throwsMessage(() => m.set({ unified: { 'memory.high': '100M' } }), /^hako: cgroup: linux\.resources\.unified\["memory\.high"\] needs the memory controller, which cgroup v2 does not have here/);
      }
    } else {
      assert.throws(() => m.set({ unified: { 'memory.high': '100M' } }), { message: 'hako: cgroup: linux.resources.unified needs cgroup v2, and this host has only cgroup v1' });
    }
    if (!layout.v1.some((h) => h.controllers.includes('net_cls'))) {
      throwsMessage(() => m.set({ network: { classID: 42 } }), /^hako: cgroup: linux\.resources\.network\.classID needs the net_cls controller, which is not mounted/);
    }
    const blkio = m.dirs.blkio;
    if (blkio && !existsSync(join(blkio, 'blkio.weight')) && !existsSync(join(blkio, 'blkio.bfq.weight'))) {
      throwsMessage(() => m.set({ blockIO: { weight: 500 } }), /^hako: cgroup: linux\.resources\.blockIO\.weight: this host has no proportional I\/O control/);
    }
    // kernel memory limits: gone in Linux 6.1, where the write "succeeds" and does nothing
    try {
      m.set({ memory: { kernel: 64 * MiB } });
      assert.equal(read(m.dirs.memory, 'memory.kmem.limit_in_bytes'), String(64 * MiB));
    } catch (err) {
      assert.match(err.message, /^hako: cgroup: memory\.kmem\.limit_in_bytes: (the kernel took 67108864 but keeps \d+|cannot set)/);
    }
  });
});

test('blkio throttling and weights read back', { skip: skip || (!layout?.v1.some((h) => h.controllers.includes('blkio')) && 'no blkio') }, async (t) => {
  // the first block device (any will do for the file format)
  const dev = spawnSync('sh', ['-c', 'for d in /sys/block/*; do cat $d/dev; break; done'], { encoding: 'utf8' }).stdout.trim();
  if (!/^\d+:\d+$/.test(dev)) return t.skip(`no block device in /sys/block to throttle (read '${dev}')`);
  const [major, minor] = dev.split(':').map(Number);
  await withCgroup(async (m) => {
    m.set({ blockIO: { throttleReadBpsDevice: [{ major, minor, rate: 1048576 }], throttleWriteIOPSDevice: [{ major, minor, rate: 100 }] } });
    assert.match(read(m.dirs.blkio, 'blkio.throttle.read_bps_device'), new RegExp(`^${major}:${minor} 1048576$`, 'm'));
    assert.match(read(m.dirs.blkio, 'blkio.throttle.write_iops_device'), new RegExp(`^${major}:${minor} 100$`, 'm'));
    // proportional weight: CFQ's blkio.weight or BFQ's blkio.bfq.weight, whichever this kernel has
    const weightFile = ['blkio.weight', 'blkio.bfq.weight'].find((f) => existsSync(join(m.dirs.blkio, f)));
    if (weightFile) {
      m.set({ blockIO: { weight: 500 } });
      assert.match(read(m.dirs.blkio, weightFile), /^(default )?500$/m);
      // a weight for one device needs that device to use the scheduler (the kernel says ENOTSUP)
      const scheduler = readFileSync(`/sys/dev/block/${major}:${minor}/queue/scheduler`, 'utf8');
      const set = () => m.set({ blockIO: { weightDevice: [{ major, minor, weight: 300 }] } });
      if (/\[(bfq|cfq)\]/.test(scheduler)) {
        set();
        assert.match(read(m.dirs.blkio, `${weightFile}_device`), new RegExp(`^${major}:${minor} 300$`, 'm'));
      } else {
        throwsMessage(set, new RegExp(`^hako: cgroup: ${weightFile.replace(/\./g, '\\.')}_device: cannot set ${major}:${minor} 300 \\((ENOTSUP|EOPNOTSUPP)\\): device ${major}:${minor} does not use the`));
      }
    } else {
      throwsMessage(() => m.set({ blockIO: { weight: 500 } }), /^hako: cgroup: linux\.resources\.blockIO\.weight: this host has no proportional I\/O control/);
    }
  });
});

test('hugepage limits apply (through the v2 tree when hugetlb is bound to cgroup v2)', { skip }, async (t) => {
  const v1Huge = layout.v1.find((h) => h.controllers.includes('hugetlb'));
  const v2Offers = layout.v2 && read(layout.v2.mountPoint, 'cgroup.controllers').split(' ').includes('hugetlb');
  await withCgroup(async (m) => {
    if (!v1Huge && !v2Offers) {
      assert.throws(() => m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 4 * 2 * MiB }] }), /needs the hugetlb controller/);
      return;
    }
    if (!existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB')) return t.skip('this host has no 2MB huge pages');
    m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 4 * 2 * MiB }] });
    if (v1Huge) assert.equal(read(m.dirs[v1Huge.key], 'hugetlb.2MB.limit_in_bytes'), String(8 * MiB));
    else assert.equal(read(m.dirs.unified, 'hugetlb.2MB.max'), String(8 * MiB));
    assert.throws(() => m.set({ hugepageLimits: [{ pageSize: '3MB', limit: 1 }] }), /this host has no 3MB huge pages/);
  });
});
