// The OCI runtime's errors: a bad config or a bad request fails as runc does (exit 1, one line
// naming the problem and, for a config, its JSON path), and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  hakoRun, isAlive, lines, ok, oneLineError, rand, removeContainer, runDetached, scoped, show, sleeper, waitStatus,
} from './oci-util.mjs';

/** Both create and run fail with one line matching re; the id is never left behind. */
function failsEverywhere(s, b, re) {
  for (const verb of ['create', 'run']) {
    const id = s.id();
    const r = verb === 'create' ? s.hakoDetached(['create', '-b', b.dir, id]) : hakoRun(s, b, { id });
    oneLineError(r, { match: re });
    oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  }
}

test('a config.json that is not JSON fails with its position', scoped(async (s) => {
  const b = s.bundle();
  writeFileSync(b.configPath, '{"ociVersion": "1.0.2",\n  "root": {"path": "rootfs"},\n  oops\n}\n');
  failsEverywhere(s, b, /config\.json.*JSON.*line 3/);
}));

test('a bundle without config.json fails naming it', scoped(async (s) => {
  const b = s.bundle();
  rmSync(b.configPath);
  failsEverywhere(s, b, /config\.json/);
}));

test('wrong types fail with the JSON path of the value', scoped(async (s) => {
  const cases = [
    [(c) => { c.process.args = 'sh'; }, /process\.args\b/],
    [(c) => { c.process.args = ['sh', 1]; }, /process\.args\[1\]/],
    [(c) => { c.process.user.uid = '0'; }, /process\.user\.uid/],
    [(c) => { c.process.env = ['A=b', 7]; }, /process\.env\[1\]/],
    [(c) => { c.process.terminal = 'no'; }, /process\.terminal/],
    [(c) => { c.mounts[1].destination = 5; }, /mounts\[1\]\.destination/],
    [(c) => { c.mounts[2].options = 'nosuid'; }, /mounts\[2\]\.options/],
    [(c) => { c.linux.namespaces[0].type = 'bogus'; }, /linux\.namespaces\[0\]\.type/],
    [(c) => { c.hostname = 42; }, /hostname/],
    [(c) => { c.root.readonly = 'yes'; }, /root\.readonly/],
    [(c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: -1, hard: 10 }]; }, /process\.rlimits\[0\]\.soft/],
  ];
  for (const [edit, re] of cases) {
    const b = s.bundle((c) => { c.process.args = sleeper(s); edit(c); });
    failsEverywhere(s, b, re);
  }
}));

test('missing required fields fail naming them', scoped(async (s) => {
  const cases = [
    [(c) => { delete c.process.args; }, /process\.args/],
    [(c) => { c.process.args = []; }, /process\.args/],
    [(c) => { delete c.process.cwd; }, /process\.cwd/],
    [(c) => { delete c.root; }, /\broot\b/],
    [(c) => { delete c.root.path; }, /root\.path/],
    [(c) => { delete c.process.user.uid; }, /process\.user\.uid/],
    [(c) => { delete c.mounts[0].destination; }, /mounts\[0\]\.destination/],
  ];
  for (const [edit, re] of cases) failsEverywhere(s, s.bundle(edit), re);
}));

test('a rootfs that does not exist fails naming root.path', scoped(async (s) => {
  const b = s.bundle((c) => { c.root.path = 'no-such-rootfs'; });
  failsEverywhere(s, b, /root\.path.*no-such-rootfs.*does not exist/);
  b.edit((c) => { c.root.path = 'rootfs/etc/passwd'; });
  failsEverywhere(s, b, /root\.path.*not a directory/);
}));

test('a relative root.path that leaves the bundle is refused', scoped(async (s) => {
  const other = s.bundle();
  const b = s.bundle((c) => { c.root.path = `../${other.dir.split('/').pop()}/rootfs`; });
  failsEverywhere(s, b, /root\.path/);
  b.edit((c) => { c.root.path = 'rootfs/../../x'; });
  failsEverywhere(s, b, /root\.path/);
}));

test('invalid container ids are refused', scoped(async (s) => {
  const b = s.bundle();
  for (const id of ['a/b', '..', 'with space', '']) {
    oneLineError(s.hakoDetached(['create', '-b', b.dir, id]), { match: /container id/ });
  }
}));

test('a failing mount stops create after the cgroup and the state exist: nothing is left', scoped(async (s) => {
  const b = s.bundle().addMount({ destination: '/bad', type: 'tmpfs', source: 'tmpfs', options: ['size=not-a-size'] });
  failsEverywhere(s, b, /\/bad/);
  const missing = s.bundle().addMount({ destination: '/m', type: 'bind', source: s.path('no-such-source'), options: ['bind'] });
  failsEverywhere(s, missing, /mounts\[\d+\]\.source.*no-such-source/);
}));

test('terminal: true without --console-socket is refused by create and run -d', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.terminal = true; }).args(...sleeper(s));
  for (const args of [['create'], ['run', '-d']]) {
    const id = s.id();
    oneLineError(s.hakoDetached([...args, '-b', b.dir, id]), { match: /console-socket|tty/ });
    oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  }
  // and --console-socket without a terminal
  const plain = s.bundle().args(...sleeper(s));
  oneLineError(s.hakoDetached(['create', '--console-socket', s.path('sock'), '-b', plain.dir, s.id()]), { match: /console-socket/ });
}));

test('a process that is not found fails with one line naming it, as runc (exit 1)', scoped(async (s) => {
  const b = s.bundle().args('/no/such/program');
  const id = s.id();
  oneLineError(hakoRun(s, b, { id }), { match: /\/no\/such\/program/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('create fails for a program missing from the container\'s PATH (as runc: at create, not at start)', scoped(async (s) => {
  const b = s.bundle().args('no-such-program');
  const id = s.id();
  oneLineError(s.hakoDetached(['create', '-b', b.dir, id]), { match: /no-such-program.*not found in \$PATH/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('a process that is not executable fails naming it and leaves nothing', scoped(async (s) => {
  const b = s.bundle().args('/etc/passwd');
  const id = s.id();
  const r = hakoRun(s, b, { id });
  assert.notEqual(r.status, 0, show(r));
  assert.match(r.stderr, /\/etc\/passwd/, show(r));
  assert.match(r.stderr, /permission denied|EACCES/i, `not executable is no "not found"\n${show(r)}`);
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('a second create of one id fails; the first container is unharmed', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  const first = s.state(id);
  const other = s.bundle().args('true');
  oneLineError(s.hakoDetached(['create', '-b', other.dir, id]), { match: /already exists/ });
  oneLineError(hakoRun(s, other, { id }), { match: /already exists/ });
  assert.deepEqual(s.state(id), first);
  assert.ok(isAlive(first.pid));
  ok(s.hako(['start', id]));
  assert.equal((await waitStatus(s, id, 'running')).pid, first.pid);
  removeContainer(s, id);
}));

test('two concurrent creates of one id make exactly one container', scoped(async (s) => {
  for (let round = 0; round < 3; round++) {
    const id = s.id();
    const bundles = [s.bundle().args(...sleeper(s)), s.bundle().args(...sleeper(s))];
    const runs = bundles.map((b) => s.spawnHako(['create', '-b', b.dir, id], { toFiles: true }));
    const results = await Promise.all(runs.map((r) => r.result()));
    const wins = results.filter((r) => r.status === 0);
    assert.equal(wins.length, 1, results.map(show).join('\n'));
    oneLineError(results.find((r) => r.status !== 0), { match: /already exists/ });
    assert.equal(ok(s.hako(['list', '-q'])), `${id}\n`);
    const st = s.state(id);
    assert.equal(st.status, 'created');
    assert.ok(isAlive(st.pid));
    assert.ok(bundles.some((b) => b.dir === st.bundle));
    removeContainer(s, id);
  }
}));

test('kill with an unknown signal fails; the container runs on', scoped(async (s) => {
  const { id, pid } = runDetached(s, s.bundle().args(...sleeper(s)));
  for (const sig of ['BOGUS', 'SIGBOGUS', 'SIG', '99999', '9x']) oneLineError(s.hako(['kill', id, sig]), { match: /signal/ });
  assert.ok(isAlive(pid));
  assert.equal(s.state(id).status, 'running');
  removeContainer(s, id);
}));

test('kill ID 0 checks that the container runs, as runc', scoped(async (s) => {
  const { id, pid } = runDetached(s, s.bundle().args(...sleeper(s)));
  try {
    ok(s.hako(['kill', id, '0']));
    assert.ok(isAlive(pid));
  } finally {
    removeContainer(s, id);
  }
}));

test('start of a running container and of a stopped one fail', scoped(async (s) => {
  const { id, pid } = runDetached(s, s.bundle().args(...sleeper(s)));
  oneLineError(s.hako(['start', id]), { match: /running/ });
  assert.ok(isAlive(pid));
  ok(s.hako(['kill', id, 'KILL']));
  await waitStatus(s, id, 'stopped');
  oneLineError(s.hako(['start', id]), { match: /stopped/ });
  ok(s.hako(['delete', id]));
}));

test('delete of a running container fails without --force and works with it', scoped(async (s) => {
  const { id, pid } = runDetached(s, s.bundle().args(...sleeper(s)));
  oneLineError(s.hako(['delete', id]), { match: /not stopped/ });
  assert.ok(isAlive(pid));
  assert.equal(s.state(id).status, 'running');
  ok(s.hako(['delete', '--force', id]));
  assert.ok(!isAlive(pid));
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('delete of a created container kills its init, with or without --force (as runc)', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  for (const args of [['delete'], ['delete', '--force']]) {
    const id = s.id();
    ok(s.hakoDetached(['create', '-b', b.dir, id]));
    const { pid } = s.state(id);
    assert.ok(isAlive(pid));
    ok(s.hako([...args, id]));
    assert.ok(!isAlive(pid), `${args.join(' ')}: the init ${pid} lives on`);
    oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  }
}));

test('delete --force of an id that does not exist exits 0 quietly; without --force it fails', scoped(async (s) => {
  const id = s.id();
  const r = s.hako(['delete', '--force', id]);
  assert.equal(r.status, 0, show(r));
  assert.equal(r.stdout + r.stderr, '');
  oneLineError(s.hako(['delete', id]), { match: /does not exist/ });
}));

test('state, kill, start, exec, pause and ps of a container that does not exist fail with "does not exist"', scoped(async (s) => {
  const id = s.id();
  for (const args of [['state', id], ['kill', id, 'KILL'], ['start', id], ['exec', id, 'true'], ['pause', id], ['resume', id], ['ps', id]]) {
    // runc: every failed exec exits 255
    oneLineError(s.hako(args), { status: args[0] === 'exec' ? 255 : 1, match: new RegExp(`container ${id} does not exist`) });
  }
}));

test('exec into a stopped container fails and leaves it as it was', scoped(async (s) => {
  const { id } = runDetached(s, s.bundle().args(...sleeper(s)));
  ok(s.hako(['kill', id, 'KILL']));
  await waitStatus(s, id, 'stopped');
  const r = s.hako(['exec', id, 'true']);
  assert.notEqual(r.status, 0, show(r));
  oneLineError(r, { status: r.status, match: /stopped/ });
  assert.equal(s.state(id).status, 'stopped');
  ok(s.hako(['delete', id]));
}));

test('a failing exec exits 255 as runc does, so it differs from the process exiting 1', scoped(async (s) => {
  const { id } = runDetached(s, s.bundle().args(...sleeper(s)));
  try {
    oneLineError(s.hako(['exec', id, '/no/such/program']), { status: 255 });
    ok(s.hako(['kill', id, 'KILL']));
    await waitStatus(s, id, 'stopped');
    oneLineError(s.hako(['exec', id, 'true']), { status: 255 });
  } finally {
    removeContainer(s, id);
  }
}));

test('--log FILE --log-format json records a failing command as a JSON error line', scoped(async (s) => {
  const log = s.path('hako.log');
  const id = s.id();
  oneLineError(s.hako(['state', id], { globals: ['--log', log, '--log-format', 'json'] }), { match: /does not exist/ });
  const b = s.bundle((c) => { c.process.args = 'not-an-array'; });
  oneLineError(s.hakoDetached(['create', '-b', b.dir, s.id()], { globals: ['--log', log, '--log-format', 'json'] }), { match: /process\.args/ });
  const records = lines(readFileSync(log, 'utf8')).map((l) => JSON.parse(l));
  assert.equal(records.length, 2, JSON.stringify(records));
  for (const r of records) {
    assert.equal(r.level, 'error');
    assert.ok(!Number.isNaN(Date.parse(r.time)), `time: ${r.time}`);
  }
  assert.match(records[0].msg, new RegExp(`${id} does not exist`));
  assert.match(records[1].msg, /process\.args/);
  // text format: one logfmt line
  const textLog = s.path('hako-text.log');
  oneLineError(s.hako(['state', id], { globals: ['--log', textLog] }));
  assert.match(readFileSync(textLog, 'utf8'), /^time="[^"]+" level=error msg=".*does not exist"\n$/);
}));

test('unknown verbs and options fail with one line', scoped(async (s) => {
  oneLineError(s.hako(['frobnicate']), { match: /frobnicate/ });
  oneLineError(s.hako(['create', '--no-such-option', 'x']), { match: /no-such-option/ });
  oneLineError(s.hako(['kill']), { match: /kill/ });
}));

test('exec into a paused container fails; the container stays paused', scoped(async (s) => {
  const { id } = runDetached(s, s.bundle().args(...sleeper(s)));
  ok(s.hako(['pause', id]));
  const r = s.hako(['exec', id, 'true']);
  assert.notEqual(r.status, 0, show(r));
  assert.match(r.stderr, /paused/, show(r));
  assert.equal(s.state(id).status, 'paused');
  removeContainer(s, id);
}));

test('a container left half-created (pid 0) is never signalled: kill refuses, delete needs --force', scoped(async (s) => {
  const id = s.id();
  // what a create killed before its init existed leaves: state "creating" with pid 0
  mkdirSync(join(s.root, id), { recursive: true });
  writeFileSync(join(s.root, id, 'state.json'), JSON.stringify({
    ociVersion: '1.0.2', id, status: 'creating', pid: 0, pidStartTime: 0, bundle: s.dir, rootfs: s.dir,
    created: new Date().toISOString(), owner: '', annotations: {}, cgroup: null, config: join(s.dir, 'none.json'),
  }));
  // (process.kill(0, …) would signal this test's own process group: that it is still here says no)
  oneLineError(s.hako(['kill', id, 'KILL']), { match: /not running/ });
  oneLineError(s.hako(['delete', id]), { match: /being created/ });
  ok(s.hako(['delete', '--force', id]));
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

/** The inotify events in dirs (of names that match `only`) while fn runs. */
async function watched(dirs, only, fn) {
  const events = [];
  const watchers = dirs.map((d) => watch(d, (type, name) => { if (only(d, String(name))) events.push(`${type} ${join(d, String(name))}`); }));
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 200)); // inotify's queue, read by this loop
  } finally {
    for (const w of watchers) w.close();
  }
  return events;
}

test('a config the planner or the cgroup checks refuse creates nothing, not even for a moment', scoped(async (s) => {
  mkdirSync(s.root, { recursive: true, mode: 0o700 });
  // the hierarchies a container's cgroup goes in: its directory is never made (inotify sees a
  // mkdir however quickly it is undone)
  const hierarchies = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup']
    : readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d)).filter((d) => existsSync(join(d, 'cgroup.procs')));
  const refusals = [
    ['a hostname without a uts namespace', (c) => { c.hostname = 'box'; c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'uts'); }, /hostname: setting it needs a new uts namespace/],
    ['a sysctl of the host', (c) => { c.linux.sysctl = { 'vm.swappiness': '10' }; }, /not a namespaced sysctl/],
    ['seccomp notify', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY' }; }, /SCMP_ACT_NOTIFY/],
    ['a create without /proc', (c) => { c.mounts = c.mounts.filter((m) => m.destination !== '/proc'); }, /create needs a proc mount on \/proc/],
    ['rdma limits', (c) => { c.linux.resources = { ...c.linux.resources, rdma: { mlx5_0: { hcaHandles: 1 } } }; }, /rdma is not supported yet/],
  ];
  for (const [what, edit, re] of refusals) {
    const cgroup = `hako-refused-${s.token}-${rand(4)}`;
    const b = s.bundle().edit((c) => { c.linux.cgroupsPath = `/${cgroup}`; edit(c); });
    const id = s.id();
    let r;
    // in a hierarchy, only this cgroup's name (other tests may run beside this one)
    const events = await watched([s.root, ...hierarchies], (d, name) => d === s.root || name === cgroup, async () => {
      r = await s.spawnHako(['create', '-b', b.dir, id], { toFiles: true }).result();
    });
    oneLineError(r, { match: re });
    assert.deepEqual(events, [], `${what}: refused, yet something was made and undone:\n${events.join('\n')}`);
    assert.deepEqual(readdirSync(s.root), [], what);
  }
}));

// found by the bad-input corpus (test/differential/bad-cases.mjs): each config runc refuses too,
// where hako failed deep in create without naming the field
test('what only the kernel or the cgroup refuses still names the JSON path (hostname length, a user namespace without mappings, swap below the limit, a mount, a namespace path)', scoped(async (s) => {
  const cases = [
    [(c) => { c.hostname = 'h'.repeat(65); }, /^hako: config\.json: hostname: must be at most 64 bytes/],
    [(c) => { c.domainname = 'd'.repeat(65); }, /^hako: config\.json: domainname: must be at most 64 bytes/],
    [(c) => { c.linux.namespaces.push({ type: 'user' }); }, /^hako: config\.json: linux\.uidMappings: a new user namespace/],
    [(c) => { c.linux.resources.memory = { limit: 67108864, swap: 33554432 }; }, /^hako: config\.json: linux\.resources\.memory\.swap: memory\+swap \(33554432\) must be at least the memory limit/],
    [(c) => { c.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['size=-1'] }); }, /^hako: (create|run): config\.json: mounts\[7\]: mount\("tmpfs", "\/mnt".*EINVAL/],
    [(c) => { c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'ipc'); c.linux.namespaces.push({ type: 'ipc', path: '/proc/999999999/ns/ipc' }); }, /^hako: (create|run): config\.json: linux\.namespaces\[4\]\.path: setns\(\/proc\/999999999\/ns\/ipc.*ENOENT/],
  ];
  for (const [edit, re] of cases) failsEverywhere(s, s.bundle(edit), re);
}));
