// The library as a user meets it: Runtime's options checked before anything is created, Spec
// objects and overrides instead of bundle directories, stats and oomKilled, and error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { HakoError, OptionError, ConfigError, Runtime } from '../../dist/index.js';
import { MARK_VAR, libraryTest as sharedLibraryTest, oneLineError, scoped, sleeper, waitUntil } from './oci-util.mjs';

const piped = { stdio: ['ignore', 'pipe', 'pipe'] };

const libraryTest = (name, fn) => sharedLibraryTest(Runtime, name, fn);

/** Asserts fn rejects with a one-line HakoError of `code` whose message is `expected` (string: exact). */
async function refused(fn, code, expected) {
  await assert.rejects(async () => fn(), (e) => {
    assert.ok(e instanceof HakoError, `not a HakoError: ${e?.stack ?? e}`);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    if (typeof expected === 'string') assert.equal(e.message, expected);
    else assert.match(e.message, expected);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

libraryTest('bad options of every Runtime call are refused before anything is created', async (s, rt) => {
  const b = s.bundle();
  const id = s.id();
  const table = [
    [() => rt.run(id, { bundle: b.dir, detatch: true }), /^hako: run: options\.detatch: unknown option \(known: .*\bdetach\b.*\)$/],
    [() => rt.run(id, {}), 'hako: run: options: needs a bundle directory (bundle) or a Spec object (spec)'],
    [() => rt.run(id, { bundle: 1 }), 'hako: run: options.bundle: must be a path (got 1)'],
    [() => rt.run(42, { bundle: b.dir }), 'hako: run: id: must be a string (got 42)'],
    [() => rt.run(id, { bundle: b.dir, args: 'echo hi' }), "hako: run: options.args: must be an array (got 'echo hi')"],
    [() => rt.run(id, { bundle: b.dir, env: { A: 'b' } }), 'hako: run: options.env: must be an array (got an object)'],
    [() => rt.run(id, { bundle: b.dir, keep: 'yes' }), "hako: run: options.keep: must be true or false (got 'yes')"],
    [() => rt.run(id, { spec: 'config.json' }), "hako: run: options.spec: must be an object (got 'config.json')"],
    [() => rt.create(id, { bundle: b.dir, stdio: 'pipes' }), "hako: create: options.stdio: unknown stdio 'pipes' (one of inherit, pipe, ignore)"],
    [() => rt.create(id, { bundle: b.dir, detach: true }), /^hako: create: options\.detach: unknown option/],
    [() => rt.create(id, { bundle: b.dir, forwardSignals: ['SIGTERM'] }), /^hako: create: options\.forwardSignals: unknown option/],
    [() => rt.create(id, { bundle: b.dir, preserveFds: -1 }), 'hako: create: options.preserveFds: must be a non-negative integer (got -1)'],
    [() => rt.exec(id, { args: ['true'], cwd: '/' }, { tty: 'yes' }), "hako: exec: options.tty: must be true or false (got 'yes')"],
    [() => rt.exec(id, { args: ['true'], cwd: '/' }, { usr: 'root' }), /^hako: exec: options\.usr: unknown option/],
    [() => rt.kill(id, { name: 'TERM' }), 'hako: kill: signal: must be a signal name or number (got object)'],
    [() => rt.kill(id, 'TERM', 'yes'), "hako: kill: all: must be true or false (got 'yes')"],
    [() => rt.delete(id, 'force'), "hako: delete: force: must be true or false (got 'force')"],
    [() => rt.update(id, null), 'hako: update: resources: must be an object (got null)'],
    [() => rt.state(7), 'hako: state: id: must be a string (got 7)'],
    [() => rt.stats(undefined), 'hako: stats: id: must be a string (got undefined)'],
  ];
  for (const [call, expected] of table) {
    await refused(call, 'bad-option', expected);
    assert.deepEqual(rt.list(), [], 'nothing may be created');
  }
  // 'bad-option' errors are OptionErrors with the path
  await assert.rejects(rt.run(id, { bundle: b.dir, cwd: 5 }), (e) => e instanceof OptionError && e.path === 'options.cwd');
});

libraryTest('overrides and Spec objects are checked as config.json is, naming the JSON path', async (s, rt) => {
  const b = s.bundle();
  const id = s.id();
  const table = [
    [{ bundle: b.dir, env: ['=x'] }, 'hako: run: spec: process.env[0]: must be KEY=value with a non-empty KEY'],
    [{ bundle: b.dir, cwd: 'tmp' }, 'hako: run: spec: process.cwd: must be an absolute path'],
    [{ bundle: b.dir, resources: { memory: { limit: 'lots' } } }, 'hako: run: spec: linux.resources.memory.limit: must be an integer'],
    [{ bundle: b.dir, user: { uid: -1, gid: 0 } }, 'hako: run: spec: process.user.uid: must be a non-negative integer'],
    [{ spec: { ...b.config, ociVersion: '2.0.0' }, rootfs: b.rootfs }, 'hako: run: spec: ociVersion: must be a 1.x version (hako implements runtime-spec 1.2)'],
    [{ spec: b.config }, 'hako: run: spec: root.path: must be an absolute path when there is no bundle directory (or give options.rootfs)'],
    [{ spec: b.config, rootfs: s.path('no-such-rootfs') }, `hako: run: spec: root.path: ${s.path('no-such-rootfs')} does not exist`],
    [{ spec: { ...b.config, process: { ...b.config.process, args: [] } }, rootfs: b.rootfs }, 'hako: run: spec: process.args: must have at least one entry'],
  ];
  for (const [options, expected] of table) {
    await refused(() => rt.run(id, { ...options, ...piped }), 'bad-config', expected);
    assert.deepEqual(rt.list(), [], 'nothing may be created');
  }
  await assert.rejects(rt.run(id, { bundle: b.dir, cwd: 'tmp' }), (e) => e instanceof ConfigError && e.path === 'process.cwd');
});

libraryTest('twenty concurrent runs over one rootfs from one Spec object, each with its own args and env', async (s, rt) => {
  const b = s.bundle();
  rmSync(b.configPath); // no config file is read or needed
  const spec = structuredClone(b.config);
  const runs = Array.from({ length: 20 }, (_, i) => rt.run(s.id(), {
    spec, rootfs: b.rootfs, args: ['sh', '-c', `echo "$N $0 $(hostname)"; echo "e$1" >&2`, 'arg0', String(i)],
    env: ['PATH=/bin', `N=${i}`, `${MARK_VAR}=${s.token}`], hostname: `h${i}`, ...piped,
  }));
  const results = await Promise.all(runs);
  results.forEach((r, i) => {
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), `${i} arg0 h${i}\n`);
    assert.equal(r.stderr.toString(), `e${i}\n`);
    assert.equal(r.oomKilled, false);
  });
  assert.deepEqual(spec, b.config, 'the Spec object is not changed');
  // the state's config snapshot holds the effective spec
  const id = s.id();
  await rt.create(id, { spec, rootfs: b.rootfs, args: ['sleep', '7'], cwd: '/tmp', env: ['A=1'], stdio: 'ignore' });
  const snapshot = JSON.parse(readFileSync(rt.store.read(id).config, 'utf8'));
  assert.deepEqual([snapshot.process.args, snapshot.process.cwd, snapshot.process.env, snapshot.root.path], [['sleep', '7'], '/tmp', ['A=1'], b.rootfs]);
  assert.equal(rt.state(id).status, 'created');
  await rt.delete(id, true);
});

libraryTest('overrides over a bundle: args, env, cwd, user (by name) and resources', async (s, rt) => {
  const b = s.bundle();
  const r = await rt.run(s.id(), {
    bundle: b.dir, args: ['sh', '-c', 'echo "$X $(pwd) $(id -un)"; cat /sys/fs/cgroup/pids/pids.max'], env: ['X=over', 'PATH=/bin', `${MARK_VAR}=${s.token}`],
    cwd: '/tmp', user: 'user', resources: { pids: { limit: 42 } }, ...piped,
  });
  assert.equal(r.stdout.toString(), 'over /tmp user\n42\n', r.stderr.toString());
  assert.equal(JSON.parse(readFileSync(b.configPath, 'utf8')).process.args[0], 'true', 'config.json is not changed');
});

libraryTest('stats of a running container show its memory and pids (runc events --stats shape)', async (s, rt) => {
  const b = s.bundle().sh(`sleep ${s.marker} & sleep ${s.marker} & wait`);
  const id = s.id();
  await rt.run(id, { bundle: b.dir, detach: true, stdio: 'ignore', resources: { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } } });
  await waitUntil(() => rt.ps(id).length >= 3, { what: 'three processes in the container' });
  const st = rt.stats(id);
  assert.equal(st.type, 'stats');
  assert.equal(st.id, id);
  assert.ok(st.data.memory.usage.usage > 0, JSON.stringify(st));
  assert.equal(st.data.memory.usage.limit, 64 * 1024 * 1024);
  assert.equal(st.data.memory.oomKills, 0);
  assert.equal(st.data.pids.current, 3);
  assert.equal(st.data.pids.limit, 50);
  assert.ok(st.data.cpu.usage.total >= 0);
  await rt.delete(id, true);
  await refused(() => rt.stats(id), 'not-found', `hako: container ${id} does not exist`);
});

libraryTest('a container that allocates past its memory limit: oomKilled is true', async (s, rt) => {
  const b = s.bundle();
  // the string doubles until the cgroup's limit (32 MiB, no swap) stops it
  const r = await rt.run(s.id(), {
    bundle: b.dir, args: ['sh', '-c', 's=xxxxxxxx; i=0; while [ $i -lt 40 ]; do s="$s$s"; i=$((i+1)); done; echo survived'],
    resources: { memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } }, ...piped,
  });
  assert.equal(r.signal, 9, `${r.exitCode} ${r.stdout} ${r.stderr}`);
  assert.equal(r.oomKilled, true);
  const fine = await rt.run(s.id(), { bundle: b.dir, args: ['true'], resources: { memory: { limit: 32 * 1024 * 1024 } }, ...piped });
  assert.equal(fine.oomKilled, false);
});

libraryTest('failures carry a stable code', async (s, rt) => {
  const b = s.bundle();
  await refused(() => rt.state('nope'), 'not-found', 'hako: container nope does not exist');
  await refused(() => rt.delete('nope'), 'not-found', 'hako: container nope does not exist');
  await refused(() => rt.run('a/b', { bundle: b.dir }), 'bad-option', /invalid container id/);
  // a running container
  const id = s.id();
  await rt.run(id, { bundle: b.dir, detach: true, stdio: 'ignore', args: sleeper(s) });
  await refused(() => rt.run(id, { bundle: b.dir, args: ['true'], stdio: 'ignore' }), 'exists', `hako: container with id ${id} already exists`);
  await refused(() => rt.start(id), 'bad-state', 'hako: cannot start an already running container');
  await refused(() => rt.delete(id), 'bad-state', `hako: cannot delete container ${id} that is not stopped: running`);
  await refused(() => rt.resume(id), 'bad-state', `hako: container ${id} is not paused (running)`);
  await refused(() => rt.exec(id, { args: ['no-such-command'], cwd: '/' }, { stdio: 'ignore' }), 'exec', 'hako: exec: find "no-such-command" in the container: executable file not found in $PATH (ENOENT)');
  await refused(() => rt.exec(id, { args: ['true'], cwd: 'relative' }, { stdio: 'ignore' }), 'bad-config', 'hako: exec: process.cwd: must be an absolute path');
  rt.kill(id, 'KILL');
  await waitUntil(() => rt.state(id).status === 'stopped', { what: 'the container to stop' });
  await refused(() => rt.kill(id, 'TERM'), 'not-running', 'hako: container not running');
  await refused(() => rt.start(id), 'not-running', 'hako: cannot start a container that has stopped');
  await refused(() => rt.stats(id), 'not-running', `hako: stats: container ${id} is not running`);
  await rt.delete(id);
  // a bad config.json
  b.edit((c) => { c.process.cwd = 'relative'; });
  await refused(() => rt.run(s.id(), { bundle: b.dir }), 'bad-config', 'hako: config.json: process.cwd: must be an absolute path');
  await refused(() => rt.run(s.id(), { bundle: s.path('nowhere') }), 'not-found', `hako: config.json: not found in ${s.path('nowhere')}`);
});

test("the CLI's errors name its flags, not the library's option paths", scoped(async (s) => {
  oneLineError(s.hako(['ns', '--type', 'network']), { match: /^hako ns: --type: unknown namespace type 'network' \(one of user, mnt, pid, net, uts, ipc, cgroup, time\)$/ });
  oneLineError(s.hako(['nsenter', '-t', '99999999999', '-u', 'true']), { match: /^hako nsenter: --target: '99999999999' is not a process id$/ });
  oneLineError(s.hako(['unshare', '--propagation', 'rprivate', 'true']), { match: /^hako unshare: --propagation: 'rprivate' is not private, shared, slave or unchanged$/ });
}));

libraryTest('exec builds its process from the container\'s own (read once, with the state), as hako exec does', async (s, rt) => {
  const b = s.bundle().edit((c) => { c.process.env.push('FROM_CONFIG=yes'); c.process.cwd = '/tmp'; });
  const id = s.id();
  await rt.run(id, { bundle: b.dir, detach: true, stdio: 'ignore', args: sleeper(s) });
  let seen;
  const r = await rt.exec(id, (base) => {
    seen = base;
    return { ...base, args: ['sh', '-c', 'echo "$FROM_CONFIG $EXTRA $(pwd)"'], env: [...base.env, 'EXTRA=added'] };
  }, piped);
  assert.equal(r.stdout.toString(), 'yes added /tmp\n', r.stderr.toString());
  assert.deepEqual(seen.args, sleeper(s), "the container's process as config.json had it");
  // what the function returns is checked as a Process is
  await refused(() => rt.exec(id, (base) => ({ ...base, args: ['true'], cwd: 'relative' }), { stdio: 'ignore' }), 'bad-config', 'hako: exec: process.cwd: must be an absolute path');
  await rt.delete(id, true);
});
