// The library never blocks Node's event loop: 16 containers created, started, paused, resumed
// and deleted at once from one process, under CPU load, while another process holds their locks
// for HOLD ms. A heartbeat timer runs throughout: a path that waited by blocking the thread
// (Atomics.wait, a busy poll) would stop it for about HOLD; the library's waits are timers and
// events, so its longest gap stays far below that. Not a timing benchmark: the bound is HOLD/2,
// against a blocking path's HOLD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Runtime } from '../../dist/src/runtime/runtime.js';
import { MARK_VAR, REPO, ok, scoped, show, sleeper } from './oci-util.mjs';
import { waitUntil } from './util.mjs';
import { setTimeout as delay } from 'node:timers/promises';

const N = 16;
const HOLD = 3000;

/** Two busy loops (killed after seconds at the latest), stopped by the returned function. */
function loadCpu(seconds = 120) {
  const loops = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', timeout: seconds * 1000, killSignal: 'SIGKILL' }));
  return async () => {
    for (const p of loops) p.kill('SIGKILL');
    await Promise.all(loops.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
  };
}

/** The longest gap between the ticks of a 5 ms timer, since the last reset. */
function heartbeat() {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 5);
  return {
    max: () => Math.max(max, performance.now() - last),
    reset: () => { last = performance.now(); max = 0; },
    stop: () => clearInterval(timer),
  };
}

/** Another process holding the locks of ids under root for ms: resolves once it holds them all. */
async function holdLocks(root, ids, ms) {
  const code = `
    import { withLock } from ${JSON.stringify(`${REPO}/dist/src/runtime/lock.js`)};
    const [root, ms, ...ids] = process.argv.slice(1);
    const hold = (i) => i === ids.length
      ? (process.stdout.write('held\\n'), new Promise((r) => setTimeout(r, Number(ms))))
      : withLock(root, ids[i], () => hold(i + 1));
    await hold(0);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, root, String(ms), ...ids], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 60_000, killSignal: 'SIGKILL' });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', () => { if (out.includes('held')) resolve(); });
    child.once('exit', () => reject(new Error(`the lock holder exited before it held the locks: ${out}`)));
  });
  return child;
}

test(`${N} containers at once under CPU load: every verb overlaps, and the event loop keeps running while another process holds their locks`, { timeout: 120_000 }, scoped(async (s, t) => {
  const before = process.env[MARK_VAR];
  process.env[MARK_VAR] = s.token;
  const stopLoad = loadCpu();
  const beat = heartbeat();
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const ids = Array.from({ length: N }, () => s.id());
  let holder;
  try {
    const b = s.bundle().args(...sleeper(s));
    await Promise.all(ids.map((id) => rt.create(id, { bundle: b.dir, stdio: 'ignore' })));
    await Promise.all(ids.map((id) => rt.start(id)));
    assert.deepEqual(ids.map((id) => rt.state(id).status), ids.map(() => 'running'));
    const launching = beat.max();

    // another process holds every container's lock: pause must wait for it, without blocking
    holder = await holdLocks(s.root, ids, HOLD);
    beat.reset();
    const t0 = performance.now();
    await Promise.all(ids.map((id) => rt.pause(id)));
    const waited = performance.now() - t0;
    const whileLocked = beat.max();
    if (holder.exitCode === null && holder.signalCode === null) await once(holder, 'exit');
    assert.deepEqual(ids.map((id) => rt.state(id).status), ids.map(() => 'paused'));
    assert.ok(waited >= HOLD / 2, `pause did not wait for the locks another process held (${Math.round(waited)} ms): the test proves nothing`);
    assert.ok(whileLocked < HOLD / 2, `the event loop stopped for ${Math.round(whileLocked)} ms while pause waited ${Math.round(waited)} ms for locks held ${HOLD} ms: a wait blocks the thread`);

    beat.reset();
    await Promise.all(ids.map((id) => rt.resume(id)));
    await Promise.all(ids.map((id) => rt.delete(id, true)));
    const ending = beat.max();
    t.diagnostic(`longest event-loop gaps: ${Math.round(launching)} ms (create, start), ${Math.round(whileLocked)} ms (pause, waiting ${Math.round(waited)} ms for the locks), ${Math.round(ending)} ms (resume, delete)`);
    assert.deepEqual(rt.list(), []);
    assert.ok(launching < HOLD / 2 && ending < HOLD / 2, `the event loop stopped for ${Math.round(Math.max(launching, ending))} ms while ${N} containers were created, started, resumed or deleted`);
  } finally {
    beat.stop();
    holder?.kill('SIGKILL');
    await stopLoad();
    for (const id of ids) { try { await rt.delete(id, true); } catch { /* never created */ } }
    if (before === undefined) delete process.env[MARK_VAR];
    else process.env[MARK_VAR] = before;
  }
}));

test('a foreground run returns before its container is removed: the id is free again at once, and the container is gone for this process', scoped(async (s) => {
  const rt = new Runtime({ root: s.root, warn: (m) => { throw new Error(`unexpected warning: ${m}`); } });
  const b = s.bundle().args('true');
  const id = s.id();
  for (let i = 0; i < 10; i++) {
    const r = await rt.run(id, { bundle: b.dir, stdio: 'ignore' });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(rt.list(), []);
    assert.throws(() => rt.state(id), /does not exist/);
  }
  // a handle still gets its streams when the call returns, the removal of the last run pending
  const h = rt.spawn(id, { bundle: b.dir, stdio: ['pipe', 'pipe', 'ignore'], args: ['cat'] });
  assert.ok(h.stdin && h.stdout);
  h.stdin.end('reused');
  let out = '';
  h.stdout.on('data', (d) => { out += d; });
  assert.equal((await h.result).exitCode, 0);
  assert.equal(out, 'reused');
}));

test('a process that exits (process.exit) as soon as run returns leaves nothing behind', scoped(async (s) => {
  const b = s.bundle().args('true');
  const ids = [s.id(), s.id(), s.id()];
  const code = `
    import { Runtime } from ${JSON.stringify(`${REPO}/dist/src/runtime/runtime.js`)};
    const [root, bundle, ...ids] = process.argv.slice(1);
    const rt = new Runtime({ root });
    const rs = await Promise.all(ids.map((id) => rt.run(id, { bundle, stdio: 'ignore' })));
    process.exit(rs.every((r) => r.exitCode === 0) ? 0 : 1);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, s.root, b.dir, ...ids], { stdio: ['ignore', 'inherit', 'inherit'], env: s.env(), timeout: 60_000, killSignal: 'SIGKILL' });
  const [status] = await once(child, 'exit');
  assert.equal(status, 0);
  // nothing to wait for: the scope's leak check runs now, and must find nothing even at once
  assert.deepEqual(s.leftovers(), []);
}));

test('the removal after a foreground run never removes a new container another process made with the same id', scoped(async (s) => {
  const b = s.bundle().args('true');
  const id = s.id();
  // process A: a foreground run, whose removal (after run returned) stops in onRemove until told to go on
  const code = `
    import { Runtime } from ${JSON.stringify(`${REPO}/dist/src/runtime/runtime.js`)};
    const [root, bundle, id] = process.argv.slice(1);
    const rt = new Runtime({ root, onRemove: async () => {
      process.stdout.write('removing\\n');
      await new Promise((go) => process.stdin.once('data', go));
    } });
    const r = await rt.run(id, { bundle, stdio: 'ignore' });
    process.stdin.resume();
    if (r.exitCode !== 0) process.exit(1);
  `;
  const a = spawn(process.execPath, ['--input-type=module', '-e', code, s.root, b.dir, id], { stdio: ['pipe', 'pipe', 'inherit'], env: s.env(), timeout: 60_000, killSignal: 'SIGKILL' });
  let out = '';
  a.stdout.on('data', (d) => { out += d; });
  await waitUntil(() => out.includes('removing'), { what: 'A in its removal' });
  // process B: deletes that id and creates a new container with it while A's removal is under way
  const sleeping = s.bundle().args(...sleeper(s));
  const del = s.spawnHako(['delete', '--force', id]);
  const create = () => {
    const r = s.hako(['create', '--bundle', sleeping.dir, id]);
    assert.equal(r.status, 0, show(r));
  };
  // A holds the container's lock through its removal, so B's delete waits for A; were it not
  // held, the delete would be done at once and B's new container made before A goes on
  const deletedAtOnce = await Promise.race([del.wait().then(() => true), delay(2000).then(() => false)]);
  if (deletedAtOnce) create();
  a.stdin.write('go\n');
  a.stdin.end();
  assert.equal((await del.wait()).status, 0);
  if (!deletedAtOnce) create();
  const [status] = a.exitCode !== null ? [a.exitCode] : await once(a, 'exit');
  assert.equal(status, 0);
  // B's container is whole: its state, and its init waiting in `created`
  const st = s.hako(['state', id]);
  assert.equal(st.status, 0, show(st));
  assert.equal(JSON.parse(st.stdout).status, 'created');
  ok(s.hako(['delete', '--force', id]));
}));
