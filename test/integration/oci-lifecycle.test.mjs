// The OCI runtime's lifecycle through the CLI: create, start, state, kill, delete, run (foreground
// and -d), list, ps, exec, pause, resume, update, kill --all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cmdline, hakoRun, isAlive, lines, nsLink, ok, oneLineError, removeContainer, runDetached, scoped, show, sleeper,
  v1CgroupDir, waitStatus, waitUntil,
} from './oci-util.mjs';

const STATE_KEYS = ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner'];

test('create -> created (init waits) -> start -> running -> kill -> stopped -> delete', scoped(async (s) => {
  const b = s.bundle().sh(`touch /tmp/started; exec sleep ${s.marker}`);
  const id = s.id();
  const pidFile = s.path('create.pid');
  ok(s.hakoDetached(['create', '--pid-file', pidFile, '-b', b.dir, id]));

  const created = s.state(id);
  assert.deepEqual(Object.keys(created).filter((k) => k !== 'annotations'), STATE_KEYS);
  assert.equal(created.id, id);
  assert.equal(created.status, 'created');
  assert.equal(created.bundle, b.dir);
  assert.equal(created.rootfs, b.rootfs);
  assert.equal(created.ociVersion, b.config.ociVersion);
  assert.ok(!Number.isNaN(Date.parse(created.created)), `created is not a date: ${created.created}`);
  assert.equal(Number(readFileSync(pidFile, 'utf8')), created.pid, 'the pid file names the init');
  const pid = created.pid;
  assert.ok(isAlive(pid), `the init ${pid} should exist on the host`);
  // the init exists but has not run the process yet
  assert.notDeepEqual(cmdline(pid), sleeper(s), 'the process ran before start');
  assert.ok(!existsSync(join(b.rootfs, 'tmp', 'started')), 'the process ran before start');

  ok(s.hako(['start', id]));
  await waitUntil(() => existsSync(join(b.rootfs, 'tmp', 'started')), { what: 'the process to run after start' });
  await waitUntil(() => cmdline(pid).join(' ') === sleeper(s).join(' '), { what: () => `pid ${pid} to exec sleep (${cmdline(pid)})` });
  const running = s.state(id);
  assert.equal(running.status, 'running');
  assert.equal(running.pid, pid);

  ok(s.hako(['kill', id, 'KILL']));
  const stopped = await waitStatus(s, id, 'stopped');
  assert.equal(stopped.pid, 0, 'a stopped container has pid 0 in its state (as runc)');
  assert.ok(!isAlive(pid));

  ok(s.hako(['delete', id]));
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('run in the foreground passes the exit status through', scoped(async (s) => {
  const b = s.bundle();
  for (const code of [0, 1, 3, 42, 255]) {
    const r = hakoRun(s, b.sh(`exit ${code}`));
    assert.equal(r.status, code, show(r));
  }
  // a process that is not found or not executable: run fails and leaves nothing
  const r = hakoRun(s, b.args('/no/such/program'));
  assert.notEqual(r.status, 0, show(r));
  assert.match(r.stderr, /no\/such\/program/);
}));

test('run in the foreground: death by a signal gives 128+N', scoped(async (s) => {
  // without a pid namespace the shell is no namespace init and can kill itself
  const b = s.bundle().namespace('pid', { remove: true }).sh('kill -TERM $$; sleep 5');
  const r = hakoRun(s, b);
  assert.equal(r.status, 128 + 15, show(r));
  b.sh('kill -KILL $$; sleep 5');
  const k = hakoRun(s, b);
  assert.equal(k.status, 128 + 9, show(k));
}));

test('run in the foreground ends with 137 when `kill ID KILL` comes from another hako', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  const fg = s.spawnHako(['run', '-b', b.dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitUntil(() => s.hako(['state', id]).status === 0 && s.state(id).status === 'running', { what: () => `${id} to run\n${fg.describe()}` });
  ok(s.hako(['kill', id, 'KILL']));
  const r = await fg.wait();
  assert.equal(r.status, 137, show(r));
  // a foreground run deletes its container when it ends
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('run -d with --pid-file: returns at once, the container runs, list and ps show it', scoped(async (s) => {
  const b = s.bundle().sh(`sleep ${s.marker} & exec sleep ${s.marker}`);
  const { id, pid } = runDetached(s, b);
  const st = s.state(id);
  assert.equal(st.status, 'running');
  assert.equal(st.pid, pid);

  // list: a table with a header, --format json, -q
  const table = lines(ok(s.hako(['list'])));
  assert.match(table[0], /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
  assert.equal(table.length, 2, table.join('\n'));
  assert.deepEqual(table[1].split(/\s+/).slice(0, 4), [id, String(pid), 'running', b.dir]);
  const json = JSON.parse(ok(s.hako(['list', '--format', 'json'])));
  assert.equal(json.length, 1);
  assert.equal(json[0].id, id);
  assert.equal(json[0].pid, pid);
  assert.equal(json[0].status, 'running');
  assert.equal(ok(s.hako(['list', '-q'])), `${id}\n`);

  // ps: the init and its child, both in the container's cgroup
  const psPids = await waitUntil(() => {
    const p = JSON.parse(ok(s.hako(['ps', '--format', 'json', id])));
    return p.length === 2 ? p : undefined;
  }, { what: 'two processes in ps' });
  assert.ok(psPids.includes(pid), `ps ${JSON.stringify(psPids)} lacks the init ${pid}`);
  for (const p of psPids) assert.deepEqual(cmdline(p), sleeper(s));
  const table2 = lines(ok(s.hako(['ps', id])));
  // runc's table: the host's `ps -ef` header and the container's lines
  assert.deepEqual(table2[0].trim().split(/\s+/).slice(0, 2), ['UID', 'PID']);
  for (const p of psPids) assert.ok(table2.some((l) => l.trim().split(/\s+/)[1] === String(p)), `ps lacks ${p}:\n${table2.join('\n')}`);
  assert.equal(table2.length, 3, table2.join('\n'));

  removeContainer(s, id);
  assert.equal(ok(s.hako(['list', '-q'])), '');
  assert.ok(!isAlive(pid));
}));

test('list of an empty or missing root prints only the header; --format json prints []', scoped(async (s) => {
  assert.match(ok(s.hako(['list'])), /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n$/);
  assert.equal(ok(s.hako(['list', '--format', 'json'])).trim(), '[]');
  assert.equal(ok(s.hako(['list', '-q'])), '');
}));

test('exec: args, env, cwd and user flags; exit status passes through', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.env.push('BASE=from-config'); }).args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  assert.equal(ok(s.hako(['exec', id, 'sh', '-c', 'echo "$BASE|$EXTRA"; pwd; id'])), 'from-config|\n/\nuid=0(root) gid=0(root)\n');
  const out = ok(s.hako(['exec', '--env', 'EXTRA=x y', '--cwd', '/tmp', '--user', '1000:1000', '--additional-gids', '2000', id,
    'sh', '-c', 'echo "$BASE|$EXTRA"; pwd; id']));
  assert.equal(out, 'from-config|x y\n/tmp\nuid=1000(user) gid=1000(user) groups=2000(extra)\n');
  // names from the container's /etc/passwd and /etc/group; --env replaces a variable of the config
  assert.equal(ok(s.hako(['exec', '-u', 'user', id, 'id'])), 'uid=1000(user) gid=1000(user)\n');
  assert.equal(ok(s.hako(['exec', '-u', 'user:extra', id, 'id'])), 'uid=1000(user) gid=2000(extra)\n');
  assert.equal(ok(s.hako(['exec', '-e', 'BASE=replaced', id, 'sh', '-c', 'echo $BASE; env | grep -c ^BASE='])), 'replaced\n1\n');
  // exit status
  const r = s.hako(['exec', id, 'sh', '-c', 'exit 7']);
  assert.equal(r.status, 7, show(r));
  // the exec'd process is in the container's namespaces
  for (const ns of ['pid', 'net', 'mnt', 'uts', 'ipc']) {
    assert.equal(ok(s.hako(['exec', id, 'readlink', `/proc/self/ns/${ns}`])).trim(), nsLink(pid, ns), `${ns} namespace`);
  }
  assert.equal(ok(s.hako(['exec', id, 'cat', '/proc/1/cmdline'])), `${sleeper(s).join('\0')}\0`);
  removeContainer(s, id);
}));

test('exec --process FILE runs that process.json', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const { id } = runDetached(s, b);
  const file = s.path('process.json');
  writeFileSync(file, JSON.stringify({
    terminal: false, user: { uid: 1000, gid: 1000, additionalGids: [5] }, cwd: '/home/user',
    env: ['PATH=/bin', 'ONLY=this'], args: ['sh', '-c', 'echo "$ONLY|$BASE"; pwd; id; env | grep -c .'],
  }));
  const out = lines(ok(s.hako(['exec', '--process', file, id])));
  assert.deepEqual(out.slice(0, 3), ['this|', '/home/user', 'uid=1000(user) gid=1000(user) groups=5(tty)']);
  removeContainer(s, id);
}));

test('exec -d with --pid-file: the process runs on in the container', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const { id, pid: init } = runDetached(s, b);
  const pidFile = s.path('exec.pid');
  const r = s.hakoDetached(['exec', '-d', '--pid-file', pidFile, id, 'sh', '-c', `echo exec-ran > /tmp/exec-mark; exec sleep ${s.marker}`]);
  ok(r);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 1 && pid !== init, `pid file: ${pid}`);
  await waitUntil(() => cmdline(pid).join(' ') === sleeper(s).join(' '), { what: `exec'd pid ${pid} to run sleep` });
  assert.equal(readFileSync(join(b.rootfs, 'tmp', 'exec-mark'), 'utf8'), 'exec-ran\n');
  assert.ok(JSON.parse(ok(s.hako(['ps', '--format', 'json', id]))).includes(pid), 'the exec -d process is in the container');
  removeContainer(s, id);
  await waitUntil(() => !isAlive(pid), { what: `the exec'd ${pid} to die with the container` });
}));

test('pause and resume: the freezer cgroup on the host and the state follow', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const freezer = v1CgroupDir(pid, 'freezer');
  assert.ok(freezer.includes(id), `the container's freezer cgroup ${freezer} should be named after it`);
  assert.equal(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim(), 'THAWED');
  ok(s.hako(['pause', id]));
  assert.equal(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim(), 'FROZEN');
  assert.equal(s.state(id).status, 'paused');
  oneLineError(s.hako(['pause', id]));
  ok(s.hako(['resume', id]));
  assert.equal(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim(), 'THAWED');
  assert.equal(s.state(id).status, 'running');
  oneLineError(s.hako(['resume', id]));
  // a paused container is deleted with --force
  ok(s.hako(['pause', id]));
  oneLineError(s.hako(['delete', id]));
  removeContainer(s, id);
}));

test('update --memory changes memory.limit_in_bytes on the host', scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.resources.memory = { limit: 256 * 1024 * 1024 }; }).args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const memory = v1CgroupDir(pid, 'memory');
  assert.ok(memory.includes(id));
  assert.equal(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(256 * 1024 * 1024));
  ok(s.hako(['update', '--memory', String(64 * 1024 * 1024), id]));
  assert.equal(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
  // --resources FILE
  const file = s.path('resources.json');
  writeFileSync(file, JSON.stringify({ memory: { limit: 96 * 1024 * 1024 }, pids: { limit: 50 } }));
  ok(s.hako(['update', '--resources', file, id]));
  assert.equal(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 * 1024));
  assert.equal(readFileSync(join(v1CgroupDir(pid, 'pids'), 'pids.max'), 'utf8').trim(), '50');
  oneLineError(s.hako(['update', '--memory', 'lots', id]), { match: /memory/ });
  assert.equal(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 * 1024));
  removeContainer(s, id);
}));

// containerd's CRI plugin sends the container's whole linux.resources on every
// UpdateContainerResources (the kubelet's CPU manager, in-place resize, `crictl update`), device
// rules included; runc's update never changes device rules and applies the rest.
test('update --resources with device rules (as containerd\'s CRI sends them) applies the rest and keeps the device rules', scoped(async (s) => {
  const b = s.bundle((c) => { c.linux.resources.memory = { limit: 256 * 1024 * 1024 }; }).args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const memory = v1CgroupDir(pid, 'memory');
  const devicesList = () => readFileSync(join(v1CgroupDir(pid, 'devices'), 'devices.list'), 'utf8');
  const before = devicesList();
  const file = s.path('resources.json');
  writeFileSync(file, JSON.stringify({
    devices: [{ allow: false, access: 'rwm' }],
    memory: { limit: 100 * 1024 * 1024 }, cpu: { shares: 512, quota: 0, period: 0 },
  }));
  const log = s.path('update.log');
  const r = s.hako(['update', '--resources', file, id], { globals: ['--log', log, '--log-format', 'json'] });
  ok(r);
  assert.equal(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim(), String(100 * 1024 * 1024), show(r));
  assert.equal(readFileSync(join(v1CgroupDir(pid, 'cpu'), 'cpu.shares'), 'utf8').trim(), '512');
  assert.equal(devicesList(), before, 'the device rules changed');
  ok(s.hako(['exec', id, 'sh', '-c', 'echo x > /dev/null']));
  assert.match(readFileSync(log, 'utf8'), /"level":"warning","msg":"update: linux\.resources\.devices is ignored/);
  removeContainer(s, id);
}));

test('kill takes signal names with and without SIG, and numbers', scoped(async (s) => {
  for (const signal of ['KILL', 'SIGKILL', '9']) {
    const b = s.bundle().args(...sleeper(s));
    const { id, pid } = runDetached(s, b);
    ok(s.hako(['kill', id, signal]));
    await waitUntil(() => !isAlive(pid), { what: `kill ${signal} to end ${pid}` });
    assert.equal((await waitStatus(s, id, 'stopped')).status, 'stopped');
    ok(s.hako(['delete', id]));
  }
}));

test('kill with the default signal (TERM) reaches a handler in the container', scoped(async (s) => {
  const b = s.bundle().sh(`trap 'echo got-term > /tmp/term; exit 0' TERM; sleep ${s.marker} & wait`);
  const { id } = runDetached(s, b);
  // the trap is set before the shell starts sleep
  await waitUntil(() => JSON.parse(ok(s.hako(['ps', '--format', 'json', id]))).length === 2, { what: 'the sleep to start' });
  ok(s.hako(['kill', id]));
  await waitStatus(s, id, 'stopped');
  assert.equal(readFileSync(join(b.rootfs, 'tmp', 'term'), 'utf8'), 'got-term\n');
  ok(s.hako(['delete', id]));
}));

test('kill --all signals every process in the container', scoped(async (s) => {
  // no pid namespace: the init dying does not take the others with it, so --all must reach them
  const b = s.bundle().namespace('pid', { remove: true }).sh(`sleep ${s.marker} & sleep ${s.marker} & exec sleep ${s.marker}`);
  const { id } = runDetached(s, b);
  const all = await waitUntil(() => {
    const p = JSON.parse(ok(s.hako(['ps', '--format', 'json', id])));
    return p.length === 3 ? p : undefined;
  }, { what: 'three processes' });
  ok(s.hako(['kill', '--all', id, 'KILL']));
  await waitUntil(() => all.every((p) => !isAlive(p)), { what: `all of ${all} to die` });
  await waitStatus(s, id, 'stopped');
  ok(s.hako(['delete', id]));
}));

test('a foreground run passes SIGTERM on to the container (signal proxy)', scoped(async (s) => {
  const b = s.bundle().sh(`trap 'echo got-term; exit 7' TERM; echo ready; sleep ${s.marker} & wait`);
  const id = s.id();
  const fg = s.spawnHako(['run', '-b', b.dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  await fg.waitFor(/ready\n/);
  fg.child.kill('SIGTERM');
  const r = await fg.wait();
  assert.equal(r.status, 7, show(r));
  assert.equal(r.stdout, 'ready\ngot-term\n');
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('run --keep keeps the stopped container until delete; the id is free again afterwards', scoped(async (s) => {
  const b = s.bundle().sh('exit 4');
  const id = s.id();
  const r = hakoRun(s, b, { id, args: ['--keep'] });
  assert.equal(r.status, 4, show(r));
  const st = s.state(id);
  assert.equal(st.status, 'stopped');
  assert.equal(st.pid, 0);
  assert.equal(ok(s.hako(['list', '-q'])), `${id}\n`);
  ok(s.hako(['delete', id]));
  // the same id again
  assert.equal(hakoRun(s, b.sh('echo again'), { id }).stdout, 'again\n');
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('delete of a stopped container without a pid namespace kills what its init left in the cgroup', scoped(async (s) => {
  const b = s.bundle().namespace('pid', { remove: true }).sh(`sleep ${s.marker} & exec sleep ${s.marker}`);
  const { id, pid } = runDetached(s, b);
  const all = await waitUntil(() => {
    const p = JSON.parse(ok(s.hako(['ps', '--format', 'json', id])));
    return p.length === 2 ? p : undefined;
  }, { what: 'two processes' });
  ok(s.hako(['kill', id, 'KILL']));
  await waitStatus(s, id, 'stopped');
  const orphan = all.find((p) => p !== pid);
  assert.ok(isAlive(orphan), 'the other process outlives the init (no pid namespace)');
  ok(s.hako(['delete', id]));
  assert.ok(!isAlive(orphan), `delete left ${orphan} running`);
}));

test('--preserve-fds passes extra descriptors to the container process', scoped(async (s) => {
  const file = s.path('fd3.txt');
  writeFileSync(file, 'through fd 3\n');
  const b = s.bundle().sh('cat <&3; ls /proc/self/fd | wc -l');
  const fd = openSync(file, 'r');
  try {
    const r = hakoRun(s, b, { args: ['--preserve-fds', '1'], stdio: ['ignore', 'pipe', 'pipe', fd] });
    assert.equal(r.status, 0, show(r));
    // 0, 1, 2, 3 and the one ls reads /proc/self/fd through
    assert.equal(r.stdout, 'through fd 3\n5\n');
    // without --preserve-fds the container gets 0, 1 and 2 only
    const none = hakoRun(s, b, { stdio: ['ignore', 'pipe', 'pipe', fd] });
    assert.equal(none.stdout, '4\n', show(none));
    assert.match(none.stderr, /Bad file descriptor/, show(none));
  } finally {
    closeSync(fd);
  }
}));
