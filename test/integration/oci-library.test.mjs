// The OCI runtime as a library: Runtime's run, create, start, state, list, ps, kill, pause, resume,
// update, exec and delete, called from this process (no CLI), with the same leak checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../../dist/src/runtime/runtime.js';
import { HakoError } from '../../dist/src/errors.js';
import {
  MARK_VAR, cmdline, isAlive, libraryTest as sharedLibraryTest, scoped, sleeper, v1CgroupDir, waitUntil,
} from './oci-util.mjs';

const libraryTest = (name, fn) => sharedLibraryTest(Runtime, name, fn);

/** Asserts fn rejects (or throws) a HakoError whose message matches re. */
async function rejectsHako(fn, re) {
  await assert.rejects(async () => fn(), (e) => {
    assert.ok(e instanceof HakoError, `not a HakoError: ${e?.stack ?? e}`);
    assert.match(e.message, re);
    assert.equal(e.exitCode, 1);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    return true;
  });
}

libraryTest('run returns the exit code and the captured stdout and stderr', async (s, rt) => {
  const b = s.bundle().sh('echo "out $0"; echo err >&2; exit 3');
  const id = s.id();
  const r = await rt.run(id, { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(r.exitCode, 3);
  assert.equal(r.status, 3);
  assert.equal(r.signal, null);
  assert.equal(r.stdout.toString(), 'out sh\n');
  assert.equal(r.stderr.toString(), 'err\n');
  assert.ok(r.pid > 1);
  assert.deepEqual(rt.list(), [], 'a foreground run removes its container');
  await rejectsHako(() => rt.state(id), /does not exist/);
});

libraryTest('run: a process killed by a signal gives 128+N and signal N', async (s, rt) => {
  const b = s.bundle().namespace('pid', { remove: true }).sh('kill -USR1 $$; sleep 5');
  const r = await rt.run(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(r.signal, 10);
  assert.equal(r.exitCode, 138);
});

libraryTest('create, state, start, ps, kill, delete', async (s, rt) => {
  const b = s.bundle().sh(`echo started > /tmp/started; exec sleep ${s.marker}`);
  const id = s.id();
  await rt.create(id, { bundle: b.dir, stdio: 'ignore' });
  const created = rt.state(id);
  assert.equal(created.status, 'created');
  assert.equal(created.id, id);
  assert.equal(created.bundle, b.dir);
  assert.ok(isAlive(created.pid));
  assert.deepEqual(rt.list().map((c) => [c.id, c.status]), [[id, 'created']]);
  assert.deepEqual(rt.ps(id), [created.pid]);

  await rt.start(id);
  await waitUntil(() => cmdline(created.pid).join(' ') === sleeper(s).join(' '), { what: 'the process to run' });
  assert.equal(readFileSync(join(b.rootfs, 'tmp', 'started'), 'utf8'), 'started\n');
  assert.equal(rt.state(id).status, 'running');
  await rejectsHako(() => rt.start(id), /running/);
  await rejectsHako(() => rt.delete(id), /not stopped/);

  rt.kill(id, 'SIGKILL');
  await waitUntil(() => rt.state(id).status === 'stopped', { what: 'stopped' });
  assert.equal(rt.state(id).pid, 0);
  await rt.delete(id);
  await rejectsHako(() => rt.state(id), /does not exist/);
  assert.deepEqual(rt.list(), []);
});

libraryTest('run detached, exec, pause, resume, update, kill by number, delete with force', async (s, rt) => {
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  const r = await rt.run(id, { bundle: b.dir, detach: true, stdio: 'ignore' });
  assert.equal(r.exitCode, 0);
  const { pid } = rt.state(id);
  assert.equal(pid, r.pid);

  const e = await rt.exec(id, { args: ['sh', '-c', 'id -u; cat /proc/1/cmdline'], cwd: '/', env: ['PATH=/bin'], user: { uid: 1000, gid: 1000 } }, { stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(e.exitCode, 0);
  assert.equal(e.stdout.toString(), `1000\n${sleeper(s).join('\0')}\0`);

  await rt.pause(id);
  assert.equal(rt.state(id).status, 'paused');
  assert.equal(readFileSync(join(v1CgroupDir(pid, 'freezer'), 'freezer.state'), 'utf8').trim(), 'FROZEN');
  await rt.resume(id);
  assert.equal(rt.state(id).status, 'running');

  rt.update(id, { memory: { limit: 32 * 1024 * 1024 } });
  assert.equal(readFileSync(join(v1CgroupDir(pid, 'memory'), 'memory.limit_in_bytes'), 'utf8').trim(), String(32 * 1024 * 1024));

  assert.throws(() => rt.kill(id, 'SIGNOPE'), /unknown signal/);
  rt.kill(id, 9);
  await waitUntil(() => !isAlive(pid), { what: 'kill 9 to end the init' });
  await rt.delete(id, true);
  await rt.delete(id, true); // a second forced delete of a gone id is fine
  await rejectsHako(() => rt.delete(id), /does not exist/);
});

libraryTest('failing poststart hooks go to the warn callback', async (s, rt, warnings) => {
  const b = s.bundle((c) => { c.hooks = { poststart: [{ path: '/bin/false' }] }; }).args('true');
  const r = await rt.run(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(r.exitCode, 0);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0], /poststart.*\/bin\/false/);
});

libraryTest('a bad config rejects with a HakoError naming the JSON path, and leaves nothing', async (s, rt) => {
  const b = s.bundle((c) => { c.process.args = [42]; });
  const id = s.id();
  await rejectsHako(() => rt.run(id, { bundle: b.dir, stdio: 'ignore' }), /process\.args\[0\]/);
  await rejectsHako(() => rt.create(id, { bundle: b.dir, stdio: 'ignore' }), /process\.args\[0\]/);
  await rejectsHako(() => rt.state(id), /does not exist/);
});

libraryTest('20 sequential runs leave nothing behind', async (s, rt) => {
  const b = s.bundle().sh('echo "run $RUN_N"; cat /proc/self/oom_score_adj');
  b.edit((c) => { c.process.oomScoreAdj = 100; });
  for (let i = 0; i < 20; i++) {
    b.edit((c) => { c.process.env = [...c.process.env.filter((e) => !e.startsWith('RUN_N=')), `RUN_N=${i}`]; });
    const r = await rt.run(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(r.exitCode, 0, r.stderr?.toString());
    assert.equal(r.stdout.toString(), `run ${i}\n100\n`);
  }
  assert.deepEqual(rt.list(), []);
});
