// A container made ahead of time (Runtime's lateExec): set up entirely (namespaces, mounts, cgroup,
// credentials), its init waits for its command (EXEC_WAIT), which the caller gives whenever it
// needs it: the command, its whole environment and its working directory. The sandbox's pool
// keeps such containers ready. Checked from inside (what the command sees) and from the host (the
// init waits in the container's cgroup and namespaces before the command comes; nothing left).
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { Runtime } from '../../dist/src/runtime/runtime.js';
import { HakoError } from '../../dist/src/errors.js';
import { libraryTest as sharedLibraryTest, v1CgroupDir } from './oci-util.mjs';

const libraryTest = (name, fn) => sharedLibraryTest(Runtime, name, fn);

/** spawn with lateExec: `asked` resolves when the init waits for its command; give(cmd) sends it. */
function armed(rt, id, options) {
  let give;
  let asked;
  const command = new Promise((resolve, reject) => { give = { resolve, reject }; });
  const waiting = new Promise((resolve) => { asked = resolve; });
  const handle = rt.spawn(id, { stdio: ['ignore', 'pipe', 'pipe'], ...options, lateExec: () => { asked(); return command; } });
  let out = '';
  let err = '';
  handle.stdout?.on('data', (b) => { out += b; });
  handle.stderr?.on('data', (b) => { err += b; });
  return { handle, waiting, give, output: () => ({ out, err }) };
}

libraryTest('lateExec: the container waits set up, then runs the command, environment and directory it is given', async (s, rt) => {
  const b = s.bundle((c) => { c.hostname = 'made-ahead'; c.process.args = ['false']; c.process.cwd = '/'; });
  const id = s.id();
  const a = armed(rt, id, { bundle: b.dir });
  await a.waiting;
  // from the host: the init exists, in its own pid namespace and in the container's cgroup, and
  // has not run anything of the config's process
  const state = rt.state(id);
  assert.equal(state.status, 'running');
  assert.notEqual(readlinkSync(`/proc/${state.pid}/ns/pid`), readlinkSync('/proc/self/ns/pid'));
  const memory = v1CgroupDir(state.pid, 'memory');
  if (memory) assert.match(readFileSync(`/proc/${state.pid}/cgroup`, 'utf8'), new RegExp(id));
  a.give.resolve({ args: ['sh', '-c', 'echo "$(hostname) $(pwd) $FOO $0"; exit 3'], env: ['FOO=bar', 'PATH=/bin'], cwd: '/tmp' });
  const r = await a.handle.result;
  assert.equal(r.exitCode, 3);
  assert.equal(a.output().out, 'made-ahead /tmp bar sh\n');
  assert.deepEqual(rt.list(), []);
});

libraryTest('lateExec: a command that is not there, and a directory that is not, fail as a run would', async (s, rt) => {
  const b = s.bundle();
  const missing = armed(rt, s.id(), { bundle: b.dir });
  await missing.waiting;
  missing.give.resolve({ args: ['no-such-program'], env: ['PATH=/bin'], cwd: '/' });
  // as a run's: one line naming the program, code 'exec'
  await assert.rejects(missing.handle.result, (e) => e instanceof HakoError && /^hako: run: no-such-program: command not found$/.test(e.message) && e.code === 'exec');
  const nodir = armed(rt, s.id(), { bundle: b.dir });
  await nodir.waiting;
  nodir.give.resolve({ args: ['true'], env: ['PATH=/bin'], cwd: '/no/such/dir' });
  await assert.rejects(nodir.handle.result, (e) => e instanceof HakoError && /\/no\/such\/dir/.test(e.message) && /ENOENT/.test(e.message));
  assert.deepEqual(rt.list(), []);
});

libraryTest('lateExec: a container killed, or refused its command, while it waits leaves nothing', async (s, rt) => {
  const b = s.bundle();
  const killed = armed(rt, s.id(), { bundle: b.dir });
  await killed.waiting;
  killed.handle.kill('SIGKILL');
  const r = await killed.handle.result.catch((e) => e);
  assert.ok(r.signal === 9 || r instanceof HakoError, `unexpected ${JSON.stringify(r)}`);
  const refused = armed(rt, s.id(), { bundle: b.dir });
  await refused.waiting;
  refused.give.reject(new Error('not needed after all'));
  await assert.rejects(refused.handle.result, HakoError);
  assert.deepEqual(rt.list(), []);
});

libraryTest('lateExec is for a foreground run only', async (s, rt) => {
  const b = s.bundle();
  await assert.rejects(rt.create(s.id(), { bundle: b.dir, lateExec: () => ({ args: ['true'], env: [], cwd: '/' }) }), /options\.lateExec: unknown option/);
  await assert.rejects(rt.run(s.id(), { bundle: b.dir, detach: true, stdio: 'ignore', lateExec: () => ({ args: ['true'], env: [], cwd: '/' }) }), /lateExec: only a foreground run/);
  assert.deepEqual(rt.list(), []);
});
