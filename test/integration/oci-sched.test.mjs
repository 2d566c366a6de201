// The OCI runtime: what runc supports and hako refused until now, each seen from inside a real
// container and from the host: process.scheduler (sched_setattr), process.ioPriority
// (ioprio_set), process.execCPUAffinity (an exec's CPUs), linux.personality (domain and flags),
// and id-mapped mounts (mounts[].uidMappings/gidMappings, and runc's idmap/ridmap options).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  hakoRun, lines, ok, oneLineError, removeContainer, runDetached, runSync, scoped, sleeper, statusField, waitUntil,
} from './oci-util.mjs';

/** Fields of /proc/PID/stat after the command (field 3 is [0]): nice, rt_priority, policy. */
function statFields(text) {
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  return { nice: Number(rest[19 - 3]), rtPriority: Number(rest[40 - 3]), policy: Number(rest[41 - 3]) };
}

/** `ionice -p PID` (util-linux, on the host): e.g. "best-effort: prio 6". */
function hostIonice(pid) {
  return ok(runSync('ionice', ['-p', String(pid)])).trim();
}

test('process.scheduler and process.ioPriority: the init runs with them (inside: /proc/self/stat, ionice; host: /proc/PID/stat)', scoped(async (s) => {
  const rtId = s.id();
  const runningId = s.id();
  const b = s.bundle((c) => {
    // right under the root cpu cgroup, whose real-time budget it can share (hako's own has none)
    c.linux.cgroupsPath = `/${rtId}`;
    c.process.scheduler = { policy: 'SCHED_RR', priority: 7 };
    c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 };
    // real-time tasks need real-time CPU time in their cgroup (v1 cpu.rt_runtime_us), as with runc
    c.linux.resources = { ...c.linux.resources, cpu: { realtimeRuntime: 10000, realtimePeriod: 1000000 } };
  }).sh('cat /proc/self/stat; ionice');
  const [stat, ionice] = lines(ok(hakoRun(s, b, { id: rtId })));
  assert.deepEqual(statFields(stat), { nice: 0, rtPriority: 7, policy: 2 }, stat);
  assert.match(ionice, /best-effort: prio 6/);

  // a batch policy with a nice value, idle I/O, seen from the host on a running init
  b.edit((c) => {
    c.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 };
    c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 };
    c.process.args = sleeper(s);
    c.linux.cgroupsPath = `/${runningId}`;
  });
  const { id, pid } = runDetached(s, b, { id: runningId });
  assert.deepEqual(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8')), { nice: 7, rtPriority: 0, policy: 3 });
  assert.match(hostIonice(pid), /^idle/);

  // an exec with its own (process.json): applied to that process only
  const proc = s.path('process.json');
  writeFileSync(proc, JSON.stringify({
    args: ['sh', '-c', 'cat /proc/self/stat; ionice'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 },
    scheduler: { policy: 'SCHED_FIFO', priority: 3 }, ioPriority: { class: 'IOPRIO_CLASS_RT', priority: 2 },
  }));
  const [execStat, execIonice] = lines(ok(s.hako(['exec', '--process', proc, id])));
  assert.deepEqual(statFields(execStat), { nice: 0, rtPriority: 3, policy: 1 }, execStat);
  assert.match(execIonice, /realtime: prio 2/);
  assert.deepEqual(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8')), { nice: 7, rtPriority: 0, policy: 3 }, 'the init keeps its own');
  removeContainer(s, id);
}));

test('process.scheduler: a deadline policy (runc\'s own test values) and a bad one refused before the container exists', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.scheduler = { policy: 'SCHED_DEADLINE', runtime: 42000, deadline: 1000000, period: 1000000, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
  }).args('cat', '/proc/self/sched');
  assert.match(ok(hakoRun(s, b)), /^policy\s+:\s+6\s*$/m);
  // from the host, on a running init: chrt shows the three parameters (runc's test checks the same)
  b.args(...sleeper(s));
  const { id: running, pid } = runDetached(s, b);
  const chrt = ok(runSync('chrt', ['-p', String(pid)]));
  assert.match(chrt, /scheduling policy: SCHED_DEADLINE/, chrt);
  assert.match(chrt, /runtime\/deadline\/period parameters: 42000\/1000000\/1000000/, chrt);
  removeContainer(s, running);
  // runc's checks, as JSON paths
  b.edit((c) => { c.process.scheduler = { policy: 'SCHED_OTHER', priority: 3 }; });
  const id = s.id();
  oneLineError(hakoRun(s, b, { id }), { match: /^hako: config\.json: process\.scheduler\.priority: can only be set with SCHED_FIFO or SCHED_RR \(policy is SCHED_OTHER\)$/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  // what the kernel refuses (a real-time priority out of its range) fails the create, naming the call
  b.edit((c) => { c.process.scheduler = { policy: 'SCHED_FIFO', priority: 100 }; });
  const id2 = s.id();
  oneLineError(hakoRun(s, b, { id: id2 }), { match: /sched_setattr.*EINVAL/ });
  oneLineError(s.hako(['state', id2]), { match: /does not exist/ });
}));

test('process.execCPUAffinity: an exec runs on `final` (inside: Cpus_allowed_list), the init is not touched', { skip: availableParallelism() < 2 && 'needs two CPUs' }, scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.args = sleeper(s);
    // not applicable to the init, says the spec: accepted and left alone
    c.process.execCPUAffinity = { initial: '0', final: '0' };
  });
  const { id, pid } = runDetached(s, b);
  const hostCpus = statusField(readFileSync('/proc/self/status', 'utf8'), 'Cpus_allowed_list');
  assert.equal(statusField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'Cpus_allowed_list'), hostCpus);
  const proc = s.path('process.json');
  const exec = (affinity) => {
    writeFileSync(proc, JSON.stringify({ args: ['grep', 'Cpus_allowed_list', '/proc/self/status'], cwd: '/', user: { uid: 0, gid: 0 }, execCPUAffinity: affinity }));
    return ok(s.hako(['exec', '--process', proc, id])).trim().split(/\s+/)[1];
  };
  assert.equal(exec({ initial: '0', final: '1' }), '1');
  assert.equal(exec({ final: '0' }), '0');
  // initial alone: once in the cgroup, every CPU it allows again (as runc)
  assert.equal(exec({ initial: '1' }), hostCpus);
  // from the host, during a foreground exec: hako's helper (H0) runs on `initial`, the process on `final`
  writeFileSync(proc, JSON.stringify({ args: ['sleep', String(s.marker)], cwd: '/', user: { uid: 0, gid: 0 }, execCPUAffinity: { initial: '1', final: '0' } }));
  const bg = s.spawnHako(['exec', '--process', proc, id]);
  const childrenOf = (ppid) => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return statusField(readFileSync(`/proc/${d}/status`, 'utf8'), 'PPid') === String(ppid); } catch { return false; }
  });
  const h0 = await waitUntil(() => childrenOf(bg.pid)[0], { what: "hako's helper" });
  const execd = await waitUntil(() => childrenOf(h0).find((p) => {
    // (H1 is a child of H0 for a moment and may be gone by the time it is read)
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep'); } catch { return false; }
  }), { what: 'the exec\'d process' });
  assert.equal(statusField(readFileSync(`/proc/${h0}/status`, 'utf8'), 'Cpus_allowed_list'), '1', 'the runtime side runs on initial');
  assert.equal(statusField(readFileSync(`/proc/${execd}/status`, 'utf8'), 'Cpus_allowed_list'), '0', 'the process on final');
  process.kill(Number(execd), 'SIGKILL');
  await bg.wait();
  // a CPU the machine lacks: the exec fails with the call named, nothing runs
  writeFileSync(proc, JSON.stringify({ args: ['true'], cwd: '/', user: { uid: 0, gid: 0 }, execCPUAffinity: { final: '4000' } }));
  oneLineError(s.hako(['exec', '--process', proc, id]), { status: 255, match: /sched_setaffinity.*EINVAL/ });
  removeContainer(s, id);
}));

test('linux.personality: LINUX32 with flags (inside: /proc/self/personality and uname -m; host: /proc/PID/personality)', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.linux.personality = { domain: 'LINUX32', flags: ['ADDR_NO_RANDOMIZE'] };
  }).sh('cat /proc/self/personality; uname -m');
  const [persona, machine] = lines(ok(hakoRun(s, b)));
  assert.equal(persona, '00040008');
  assert.match(machine, /^i[3-6]86$/);
  b.edit((c) => { c.linux.personality = { domain: 'LINUX' }; c.process.args = sleeper(s); });
  const { id, pid } = runDetached(s, b);
  assert.equal(readFileSync(`/proc/${pid}/personality`, 'utf8').trim(), '00000000');
  removeContainer(s, id);
  b.edit((c) => { c.linux.personality = { domain: 'LINUX', flags: ['NO_ASLR'] }; });
  oneLineError(hakoRun(s, b), { match: /^hako: config\.json: linux\.personality\.flags\[0\]: must be one of/ });
}));

/** A host directory with a file owned by root and one by 1000:1000. */
function idmapSource(s) {
  const dir = s.path(`src-${Math.random().toString(16).slice(2, 8)}`);
  mkdirSync(dir, { mode: 0o777 });
  writeFileSync(`${dir}/root-file`, 'r');
  writeFileSync(`${dir}/user-file`, 'u');
  chownSync(`${dir}/user-file`, 1000, 1000);
  return dir;
}

test('id-mapped mounts: a bind with uidMappings shows the mapped owners inside; files made through it are the unmapped ids on the host', scoped(async (s) => {
  const src = idmapSource(s);
  const b = s.bundle((c) => {
    c.mounts.push({
      destination: '/data', type: 'bind', source: src, options: ['bind'],
      uidMappings: [{ containerID: 0, hostID: 4000, size: 1 }, { containerID: 1000, hostID: 5000, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: 4100, size: 1 }, { containerID: 1000, hostID: 5100, size: 1 }],
    });
    c.process.user = { uid: 4000, gid: 4100 };
    c.process.capabilities = undefined;
  }).sh('stat -c "%n %u:%g" /data/root-file /data/user-file; touch /data/made; stat -c "%n %u:%g" /data/made; grep /data /proc/self/mountinfo');
  const out = lines(ok(hakoRun(s, b)));
  assert.deepEqual(out.slice(0, 3), ['/data/root-file 4000:4100', '/data/user-file 5000:5100', '/data/made 4000:4100']);
  assert.match(out[3], /\bidmapped\b/, 'the mount is id-mapped');
  // on the host the file the container's 4000:4100 made is root's (0:0 on disk)
  const st = statSync(`${src}/made`);
  assert.deepEqual([st.uid, st.gid], [0, 0]);
  // the host's own view of the source is untouched
  assert.equal(statSync(`${src}/user-file`).uid, 1000);
}));

test('id-mapped mounts in a user namespace: the idmap option takes the container\'s maps (a root-owned host dir is root\'s inside)', scoped(async (s) => {
  const src = idmapSource(s);
  mkdirSync(`${src}/sub`);
  const b = s.bundle((c) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.mounts.push({ destination: '/data', type: 'bind', source: src, options: ['rbind', 'ridmap'] });
    // the default mounts a user namespace cannot make (as runc's rootless spec)
    c.mounts = c.mounts.filter((m) => !['/sys', '/sys/fs/cgroup'].includes(m.destination));
  });
  // the rootfs is the host's root's: the namespace's root cannot make the mount point in it
  mkdirSync(`${b.rootfs}/data`);
  b.sh('id -u; stat -c "%n %u:%g" /data/root-file /data/user-file; touch /data/made /data/sub/deep; echo ok');
  const out = lines(ok(hakoRun(s, b)));
  assert.deepEqual(out, ['0', '/data/root-file 0:0', '/data/user-file 1000:1000', 'ok']);
  assert.deepEqual([statSync(`${src}/made`).uid, statSync(`${src}/sub/deep`).uid], [0, 0], 'made as the host\'s root through the mapping');
  // without the option, the same namespace sees the host's root as nobody (overflow id)
  b.edit((c) => { c.mounts.find((m) => m.destination === '/data').options = ['rbind']; });
  b.sh('stat -c "%u" /data/root-file');
  assert.equal(ok(hakoRun(s, b)).trim(), '65534');
}));

test('id-mapped mounts: refused with a JSON path where they cannot be', scoped(async (s) => {
  const src = idmapSource(s);
  const b = s.bundle((c) => { c.mounts.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', uidMappings: [{ containerID: 0, hostID: 1, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }); });
  oneLineError(hakoRun(s, b), { match: /^hako: config\.json: mounts\[\d+\]\.uidMappings: id-mapped mounts are only supported for bind mounts/ });
  b.edit((c) => { c.mounts[c.mounts.length - 1] = { destination: '/data', source: src, options: ['bind', 'idmap'] }; });
  oneLineError(hakoRun(s, b), { match: /^hako: config\.json: mounts\[\d+\]\.options: 'idmap' without uidMappings and gidMappings of the mount takes the container's/ });
}));

test('hako features lists them: id-mapped mounts (and idmap, ridmap), the process fields as annotations', scoped(async (s) => {
  const doc = JSON.parse(ok(s.hako(['features'])));
  assert.deepEqual(doc.linux.mountExtensions, { idmap: { enabled: true } });
  for (const o of ['idmap', 'ridmap']) assert.ok(doc.mountOptions.includes(o), o);
  for (const k of ['io.hako.process.ioPriority', 'io.hako.process.scheduler', 'io.hako.process.execCPUAffinity', 'io.hako.linux.personality']) {
    assert.equal(doc.annotations[k], 'true', k);
  }
}));
