// The library as a Node developer meets it: piped stdin (input, or closed), create with 'pipe'
// refused, live handles (Runtime.spawn, execSpawn, unshareSpawn, nsenterSpawn), AbortSignal and
// timeoutMs, and a foreground run that dies with its caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as lib from '../../dist/index.js';
import { MARK_VAR, NODE, REPO, cmdline, isAlive, scoped, sleeper, waitUntil } from './oci-util.mjs';

const { Runtime, HakoError, unshare, nsenter } = lib;

function libraryTest(name, fn, options = {}) {
  test(name, { timeout: 60_000, ...options }, scoped(async (s) => {
    const before = process.env[MARK_VAR];
    process.env[MARK_VAR] = s.token;
    try {
      await fn(s, new Runtime({ root: s.root, warn: () => {} }));
    } finally {
      if (before === undefined) delete process.env[MARK_VAR];
      else process.env[MARK_VAR] = before;
    }
  }));
}

/** p, or a failure after ms (a call that hangs fails the test instead of stalling it). */
function within(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** Asserts p rejects with a HakoError of this code. */
async function rejectsCode(p, code, re) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof HakoError, `not a HakoError: ${e?.stack ?? e}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), e.message);
    return true;
  });
}

const PIPES = ['pipe', 'pipe', 'pipe'];
const proc = (...args) => ({ args, cwd: '/', env: ['PATH=/bin'] });

libraryTest('a piped stdin is closed when there is no input, and written then closed with input: run, exec, unshare', async (s, rt) => {
  const b = s.bundle().args('cat');
  try {
    const empty = await within(rt.run(s.id(), { bundle: b.dir, stdio: PIPES }), 15_000, 'run with a piped stdin');
    assert.equal(empty.exitCode, 0);
    assert.equal(empty.stdout.toString(), '');
    const fed = await within(rt.run(s.id(), { bundle: b.dir, stdio: PIPES, input: 'hello\n' }), 15_000, 'run with input');
    assert.equal(fed.stdout.toString(), 'hello\n');
    // input alone pipes stdin (stdout piped too, to see it)
    // input pipes stdin whatever stdio[0] says (as execSync's)
    const buf = await within(rt.run(s.id(), { bundle: b.dir, stdio: ['inherit', 'pipe', 'inherit'], input: Buffer.from('bytes') }), 15_000, 'run with a Buffer');
    assert.equal(buf.stdout.toString(), 'bytes');

    const svc = s.id('svc');
    const sb = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
    await rt.create(svc, { bundle: sb.dir, stdio: 'ignore' });
    await rt.start(svc);
    const e1 = await within(rt.exec(svc, proc('cat'), { stdio: PIPES }), 15_000, 'exec with a piped stdin');
    assert.equal(e1.stdout.toString(), '');
    const e2 = await within(rt.exec(svc, proc('cat'), { stdio: PIPES, input: 'into exec' }), 15_000, 'exec with input');
    assert.equal(e2.stdout.toString(), 'into exec');
    await rt.delete(svc, true);

    const u1 = await within(unshare({ command: ['cat'], stdio: PIPES }), 15_000, 'unshare with a piped stdin');
    assert.equal(u1.stdout.toString(), '');
    const u2 = await within(unshare({ command: ['cat'], stdio: PIPES, input: 'into unshare' }), 15_000, 'unshare with input');
    assert.equal(u2.stdout.toString(), 'into unshare');
    const u3 = await within(unshare({ command: ['cat'], stdio: ['ignore', 'pipe', 'pipe'], input: 'over ignore' }), 15_000, 'unshare with input over ignore');
    assert.equal(u3.stdout.toString(), 'over ignore');
  } finally {
    for (const c of rt.list()) await rt.delete(c.id, true);
  }
});

libraryTest('create, run -d and exec -d refuse stdio pipe (nothing would read it) and point to the handles; nothing left', async (s, rt) => {
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const refused = async (p, re) => {
    await assert.rejects(within(p, 15_000, 'the call'), (e) => {
      assert.ok(e instanceof HakoError, String(e));
      assert.match(e.message, re);
      return true;
    });
  };
  await refused(rt.create(s.id(), { bundle: b.dir, stdio: 'pipe' }), /create: stdio 'pipe' .*Runtime\.spawn/);
  await refused(rt.create(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'inherit'] }), /Runtime\.spawn/);
  await refused(rt.run(s.id(), { bundle: b.dir, detach: true, stdio: ['pipe', 'ignore', 'ignore'] }), /run -d: stdio 'pipe'/);
  assert.deepEqual(rt.list(), []);
  const svc = s.id('svc');
  await rt.run(svc, { bundle: b.dir, detach: true, stdio: 'ignore' });
  await refused(rt.exec(svc, proc('true'), { detach: true, stdio: PIPES }), /exec -d: .*Runtime\.execSpawn/);
  await rt.delete(svc, true);
});

libraryTest('Runtime.spawn: pid as soon as the init exists, stdin and stdout as streams, kill, result as run', async (s, rt) => {
  const b = s.bundle().sh(`read x; echo "got $x"; exec ${sleeper(s).join(' ')}`);
  const id = s.id();
  const h = rt.spawn(id, { bundle: b.dir, stdio: ['pipe', 'pipe', 'inherit'] });
  assert.equal(h.pid, undefined);
  assert.ok(h.stdin && h.stdout, 'piped streams at once');
  assert.equal(h.stderr, null);
  const fromEvent = new Promise((r) => h.once('spawn', r));
  const pid = await h.spawned;
  assert.ok(pid > 1);
  assert.equal(h.pid, pid);
  assert.equal(await fromEvent, pid);
  h.stdin.end('line\n');
  let out = '';
  h.stdout.setEncoding('utf8');
  await new Promise((resolve) => h.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(); }));
  assert.equal(out, 'got line\n');
  await waitUntil(() => cmdline(pid).join(' ') === sleeper(s).join(' '), { what: 'the sleep' });
  assert.equal(rt.state(id).status, 'running');
  assert.equal(h.kill('SIGKILL'), true);
  const r = await h.result;
  assert.equal(r.signal, 9);
  assert.equal(r.exitCode, 137);
  assert.equal(r.pid, pid);
  assert.equal(r.stdout, undefined, 'a handle leaves the output to its streams');
  assert.equal(h.kill(), false, 'kill after the exit');
  assert.deepEqual(rt.list(), [], 'the container is removed as by run');
});

libraryTest('execSpawn, unshareSpawn and nsenterSpawn handles: pid, streams, kill, result', async (s, rt) => {
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const svc = s.id('svc');
  await rt.run(svc, { bundle: b.dir, detach: true, stdio: 'ignore' });
  try {
    const e = rt.execSpawn(svc, proc('sh', '-c', 'echo $$; cat'), { stdio: PIPES });
    const pid = await e.spawned;
    let out = '';
    e.stdout.on('data', (d) => { out += d; });
    e.stdin.end('piped\n');
    const r = await e.result;
    assert.equal(r.exitCode, 0);
    assert.equal(r.pid, pid);
    await waitUntil(() => out.endsWith('piped\n'), { what: 'the exec output' });

    const u = lib.unshareSpawn({ namespaces: ['uts'], hostname: 'handle', command: ['sh', '-c', 'hostname; exec sleep 1000'], stdio: ['ignore', 'pipe', 'inherit'], env: s.env() });
    assert.ok(u instanceof lib.HakoProcess);
    const upid = await u.spawned;
    let uout = '';
    u.stdout.on('data', (d) => { uout += d; });
    await waitUntil(() => uout === 'handle\n', { what: 'the hostname' });
    u.kill('SIGTERM');
    const ur = await u.result;
    assert.equal(ur.signal, 15);
    assert.equal(ur.pid, upid);

    const n = lib.nsenterSpawn({ target: rt.state(svc).pid, namespaces: ['uts', 'mnt'], command: ['cat', '/etc/hostname'], stdio: ['ignore', 'pipe', 'pipe'], env: s.env() });
    const nr = await n.result;
    assert.equal(typeof nr.exitCode, 'number');
    // a handle whose call fails: result rejects, spawned too
    const bad = lib.unshareSpawn({ namespaces: ['uts'], command: ['no-such-command-here'], stdio: 'ignore' });
    await assert.rejects(bad.result, /command not found/);
    const never = lib.nsenterSpawn({ target: -1, namespaces: ['uts'] });
    assert.equal(never.stdin, null);
    await assert.rejects(never.result, /options\.target: must be an integer from 1/);
    await assert.rejects(never.spawned);
    assert.equal(never.pid, undefined);
  } finally {
    await rt.delete(svc, true);
  }
});

libraryTest('timeoutMs and AbortSignal kill what runs and reject with code timeout / aborted; nothing left', async (s, rt) => {
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const t0 = Date.now();
  await rejectsCode(rt.run(s.id(), { bundle: b.dir, stdio: 'ignore', timeoutMs: 700 }), 'timeout', /^hako: run: container \S+: timed out after 700 ms/);
  assert.ok(Date.now() - t0 < 10_000);
  assert.deepEqual(rt.list(), []);

  const ac = new AbortController();
  const h = rt.spawn(s.id(), { bundle: b.dir, stdio: 'ignore', signal: ac.signal });
  const pid = await h.spawned;
  ac.abort();
  await rejectsCode(h.result, 'aborted', /aborted/);
  assert.ok(!isAlive(pid));
  assert.deepEqual(rt.list(), []);

  const svc = s.id('svc');
  await rt.run(svc, { bundle: b.dir, detach: true, stdio: 'ignore', signal: AbortSignal.timeout(60_000) });
  await rejectsCode(rt.exec(svc, proc('sleep', '1000'), { timeoutMs: 500 }), 'timeout');
  const ac2 = new AbortController();
  const ex = rt.execSpawn(svc, proc('sleep', '1000'), { signal: ac2.signal });
  const epid = await ex.spawned;
  ac2.abort(new Error('mine'));
  await assert.rejects(ex.result, (e) => e.code === 'aborted' && e.cause?.message === 'mine');
  await waitUntil(() => !isAlive(epid), { what: 'the exec to die' });
  assert.equal(rt.state(svc).status, 'running', 'the container stays');

  await rejectsCode(unshare({ command: ['sleep', '1000'], stdio: 'ignore', timeoutMs: 500, env: s.env() }), 'timeout', /^hako: unshare: timed out/);
  await rejectsCode(nsenter({ target: rt.state(svc).pid, namespaces: ['uts'], command: ['sleep', '1000'], stdio: 'ignore', signal: AbortSignal.timeout(300), env: s.env() }), 'aborted');
  await rejectsCode(rt.create(s.id(), { bundle: b.dir, stdio: 'ignore', signal: AbortSignal.abort() }), 'aborted');
  await assert.rejects(rt.run(s.id(), { bundle: b.dir, timeoutMs: -1 }), /timeoutMs/);
  await rt.delete(svc, true);
  assert.deepEqual(rt.list(), []);
});

/** A child Node process that starts a foreground run of sleep and says "running" once it runs. */
function childRun(s, b, id, mode) {
  const file = s.path(`child-${mode}.mjs`);
  writeFileSync(file, `
import { Runtime } from ${JSON.stringify(join(REPO, 'dist', 'src', 'runtime', 'runtime.js'))};
const rt = new Runtime({ root: ${JSON.stringify(s.root)} });
rt.run(${JSON.stringify(id)}, { bundle: ${JSON.stringify(b.dir)}, stdio: 'ignore' }).catch((e) => console.error(e.message));
const t = setInterval(() => {
  try {
    if (rt.state(${JSON.stringify(id)}).status !== 'running') return;
  } catch { return; }
  clearInterval(t);
  console.log('running ' + rt.state(${JSON.stringify(id)}).pid);
  if (${JSON.stringify(mode)} === 'exit') process.exit(0);
}, 20);
`);
  const child = spawn(NODE, [file], { env: s.env(), stdio: ['ignore', 'pipe', 'inherit'] });
  const running = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; const m = /running (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.once('exit', () => reject(new Error(`the child exited before the container ran: ${out}`)));
  });
  const exited = new Promise((r) => child.once('exit', () => r()));
  return { child, running: within(running, 20_000, 'the child run'), exited };
}

libraryTest('a foreground run dies with its caller: SIGKILL of the caller kills the container, its state stays stopped for delete', async (s, rt) => {
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const id = s.id();
  const { child, running, exited } = childRun(s, b, id, 'kill');
  const pid = await running;
  assert.ok(isAlive(pid));
  child.kill('SIGKILL');
  await exited;
  await waitUntil(() => !isAlive(pid), { timeoutMs: 5000, what: 'the container to die with its caller' });
  if (rt.list().length) {
    assert.equal(rt.state(id).status, 'stopped');
    await rt.delete(id);
  }
  assert.deepEqual(rt.list(), []);
});

libraryTest('a foreground run whose caller calls process.exit: the container is killed and its state removed', async (s, rt) => {
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const id = s.id();
  const { running, exited } = childRun(s, b, id, 'exit');
  const pid = await running;
  await within(exited, 10_000, 'the child exit');
  assert.ok(!isAlive(pid), 'the container died with the process');
  assert.deepEqual(rt.list(), [], 'its state was removed on exit');
});

libraryTest('a process left behind holding the captured stdout does not hold the result (STREAM_GRACE_MS), and its output so far is kept', async (s, rt) => {
  // the old code hung here (it waited for the helper's stdio to close); the new one waits for the
  // captured streams, bounded after the exit
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const svc = s.id('svc');
  await rt.run(svc, { bundle: b.dir, detach: true, stdio: 'ignore' });
  try {
    const t0 = Date.now();
    const r = await within(rt.exec(svc, proc('sh', '-c', `echo before; (exec ${sleeper(s).join(' ')}) & echo after`), { stdio: ['ignore', 'pipe', 'pipe'] }), 15_000, 'the exec');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString(), 'before\nafter\n');
    assert.ok(Date.now() - t0 < 10_000);
  } finally {
    await rt.delete(svc, true);
  }
});

libraryTest('run -d with killOnExit: the container dies when its caller exits; without it, it runs on', async (s, rt) => {
  const b = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
  const runDetached = async (id, killOnExit) => {
    const file = s.path(`child-d-${id}.mjs`);
    writeFileSync(file, `
import { Runtime } from ${JSON.stringify(join(REPO, 'dist', 'src', 'runtime', 'runtime.js'))};
const rt = new Runtime({ root: ${JSON.stringify(s.root)} });
await rt.run(${JSON.stringify(id)}, { bundle: ${JSON.stringify(b.dir)}, stdio: 'ignore', detach: true, killOnExit: ${killOnExit} });
console.log(rt.state(${JSON.stringify(id)}).pid);
`);
    const child = spawn(NODE, [file], { env: s.env(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    await within(new Promise((r) => child.once('exit', r)), 20_000, 'the child');
    return Number(out.trim());
  };
  const kept = s.id();
  const keptPid = await runDetached(kept, false);
  const killed = s.id();
  const killedPid = await runDetached(killed, true);
  assert.ok(keptPid > 1 && killedPid > 1);
  await waitUntil(() => !isAlive(killedPid), { timeoutMs: 5000, what: 'the killOnExit container to die' });
  assert.equal(rt.state(killed).status, 'stopped');
  assert.ok(isAlive(keptPid), 'without killOnExit the container runs on');
  assert.equal(rt.state(kept).status, 'running');
  await rt.delete(killed);
  await rt.delete(kept, true);
});
