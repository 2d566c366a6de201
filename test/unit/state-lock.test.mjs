// The per-container lock: exclusion across processes, stale-lock recovery, bounded waiting.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  withLock, withLockSync, lockHolder, lockPath, procStat, processAlive, ownerToken, parseOwnerToken, LOCKS_DIR,
} from '../../dist/src/runtime/lock.js';

const LOCK_URL = new URL('../../dist/src/runtime/lock.js', import.meta.url).href;
const roots = [];

function tempRoot() {
  const root = mkdtempSync(join(tmpdir(), 'hako-state-lock-'));
  roots.push(root);
  return root;
}

test.after(() => {
  for (const root of roots) {
    rmSync(root, { recursive: true, force: true });
    assert.equal(existsSync(root), false, `${root} was not removed`);
  }
});

/** Runs an ESM snippet in a new node; resolves with its exit code and output. `ready` resolves on its first line. */
function node(code, env = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onReady;
  const ready = new Promise((resolve) => { onReady = resolve; });
  child.stdout.on('data', (d) => {
    stdout += d;
    if (stdout.includes('\n')) onReady(stdout.split('\n')[0]);
  });
  child.stderr.on('data', (d) => { stderr += d; });
  child.on('close', () => onReady(undefined)); // a child that dies before its first line must not hang the test
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ready, done };
}

/** A dead pid: one of a process that has exited (and been reaped). */
async function deadPid() {
  const p = node('');
  await p.done;
  assert.equal(procStat(p.child.pid), undefined);
  return p.child.pid;
}

/** Plants the lock of id under root as if held by owner { pid, startTime }. */
function plantLock(root, id, pid, startTime) {
  const dir = lockPath(root, id);
  mkdirSync(dir, { recursive: true });
  const token = `${pid}.${startTime}.deadbeef`;
  writeFileSync(join(dir, token), '');
  return token;
}

function lockDirEntries(root) {
  const dir = join(root, LOCKS_DIR);
  return existsSync(dir) ? readdirSync(dir) : [];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('8 processes doing 50 read-modify-write increments each under the lock count to 400', async () => {
  const root = tempRoot();
  const counter = join(root, 'counter');
  writeFileSync(counter, '0');
  const code = `
    import { withLock, withLockSync } from ${JSON.stringify(LOCK_URL)};
    import { readFileSync, writeFileSync } from 'node:fs';
    const { ROOT, COUNTER, SYNC } = process.env;
    console.log('ready');
    await new Promise((go) => process.stdin.once('data', go));
    for (let i = 0; i < 50; i++) {
      if (SYNC === '1') {
        withLockSync(ROOT, 'counter', () => {
          const n = Number(readFileSync(COUNTER, 'utf8'));
          for (let j = 0; j < 2000; j++); // widen the window between read and write
          writeFileSync(COUNTER, String(n + 1));
        });
      } else {
        await withLock(ROOT, 'counter', async () => {
          const n = Number(readFileSync(COUNTER, 'utf8'));
          await new Promise((r) => setImmediate(r)); // widen it across a turn of the event loop
          writeFileSync(COUNTER, String(n + 1));
        });
      }
    }
    process.exit(0);
  `;
  // half of them wait asynchronously, half synchronously: both must exclude each other
  const procs = Array.from({ length: 8 }, (_, i) => node(code, { ROOT: root, COUNTER: counter, SYNC: String(i % 2) }));
  await Promise.all(procs.map((p) => p.ready));
  for (const p of procs) p.child.stdin.end('go\n');
  const results = await Promise.all(procs.map((p) => p.done));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(counter, 'utf8'), '400');
  assert.deepEqual(lockDirEntries(root), [], 'every lock was given back and nothing was left behind');
});

test('without the lock the same increments do lose updates (the test above can fail)', async () => {
  const root = tempRoot();
  const counter = join(root, 'counter');
  writeFileSync(counter, '0');
  const code = `
    import { readFileSync, writeFileSync } from 'node:fs';
    console.log('ready');
    await new Promise((go) => process.stdin.once('data', go));
    for (let i = 0; i < 50; i++) {
      const n = Number(readFileSync(process.env.COUNTER, 'utf8'));
      await new Promise((r) => setTimeout(r, 1)); // every process is in here for ~50 ms: they overlap
      writeFileSync(process.env.COUNTER, String(n + 1));
    }
  `;
  const procs = Array.from({ length: 8 }, () => node(code, { COUNTER: counter }));
  await Promise.all(procs.map((p) => p.ready));
  for (const p of procs) p.child.stdin.end('go\n');
  await Promise.all(procs.map((p) => p.done));
  const n = Number(readFileSync(counter, 'utf8'));
  assert.ok(n < 400, `expected lost updates without a lock, got ${n}`);
});

test('a lock whose owner pid is dead is taken over', async () => {
  const root = tempRoot();
  const pid = await deadPid();
  const stale = plantLock(root, 'c1', pid, 12345);
  assert.deepEqual(lockHolder(root, 'c1'), { pid, startTime: 12345 });
  const me = procStat(process.pid);
  await withLock(root, 'c1', () => {
    assert.deepEqual(lockHolder(root, 'c1'), { pid: process.pid, startTime: me.startTime });
    assert.equal(existsSync(join(lockPath(root, 'c1'), stale)), false);
  }, { timeoutMs: 2000 });
  assert.equal(lockHolder(root, 'c1'), undefined);
  assert.deepEqual(lockDirEntries(root), []);
});

test('a lock whose owner pid is alive but started at another time (a reused pid) is taken over', async () => {
  const root = tempRoot();
  const me = procStat(process.pid);
  // our own pid: alive, but not the process that took the lock
  plantLock(root, 'c1', process.pid, me.startTime + 1);
  let ran = false;
  withLockSync(root, 'c1', () => { ran = true; }, { timeoutMs: 2000 });
  assert.equal(ran, true);
  assert.deepEqual(lockDirEntries(root), []);
});

test('a lock whose owner is a zombie is taken over', async () => {
  const root = tempRoot();
  // sh forks a short-lived child and execs sleep, which never reaps it: a zombie (once it exits,
  // 0.2 s later, when sh has surely become sleep) until sleep is killed
  const sh = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = Number(await new Promise((resolve) => sh.stdout.once('data', (d) => resolve(String(d).trim()))));
  try {
    let st;
    for (let i = 0; i < 200 && (st = procStat(zombie))?.state !== 'Z'; i++) await sleep(10);
    assert.equal(st?.state, 'Z');
    assert.equal(processAlive(zombie, st.startTime), false);
    plantLock(root, 'c1', zombie, st.startTime);
    await withLock(root, 'c1', () => {}, { timeoutMs: 2000 });
    assert.deepEqual(lockDirEntries(root), []);
  } finally {
    sh.kill('SIGKILL');
  }
});

test('a lock held by a live process makes waiting fail after the timeout, naming its pid', async () => {
  const root = tempRoot();
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    let st;
    for (let i = 0; i < 200 && !(st = procStat(sleeper.pid)); i++) await sleep(5);
    plantLock(root, 'c1', sleeper.pid, st.startTime);
    const expected = `hako: container c1 is locked by pid ${sleeper.pid} (another hako command is working on it)`;
    const t0 = Date.now();
    await assert.rejects(withLock(root, 'c1', () => assert.fail('ran without the lock'), { timeoutMs: 300 }), (e) => {
      assert.equal(e.name, 'HakoError');
      assert.equal(e.exitCode, 1);
      assert.equal(e.message, expected);
      return true;
    });
    const waited = Date.now() - t0;
    assert.ok(waited >= 290 && waited < 3000, `waited ${waited} ms`);
    assert.throws(() => withLockSync(root, 'c1', () => assert.fail('ran without the lock'), { timeoutMs: 100 }), { message: expected });
    // the live owner's lock is left alone, and the waiters left nothing behind
    assert.deepEqual(lockHolder(root, 'c1'), { pid: sleeper.pid, startTime: st.startTime });
    assert.deepEqual(lockDirEntries(root), ['c1']);
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('a lock held by a process that is killed is recovered by the next command', async () => {
  const root = tempRoot();
  const holder = node(`
    import { withLock } from ${JSON.stringify(LOCK_URL)};
    await withLock(process.env.ROOT, 'c1', async () => {
      console.log('held');
      await new Promise(() => setInterval(() => {}, 1000)); // hold it until killed
    });
  `, { ROOT: root });
  try {
    assert.equal(await holder.ready, 'held');
    await assert.rejects(withLock(root, 'c1', () => {}, { timeoutMs: 150 }), {
      message: `hako: container c1 is locked by pid ${holder.child.pid} (another hako command is working on it)`,
    });
  } finally {
    holder.child.kill('SIGKILL'); // no chance to give the lock back
    await holder.done;
  }
  assert.equal(lockHolder(root, 'c1')?.pid, holder.child.pid);
  assert.equal(await withLock(root, 'c1', () => 'mine', { timeoutMs: 2000 }), 'mine');
  assert.deepEqual(lockDirEntries(root), []);
});

test('several processes breaking one stale lock at once: still exactly one holder at a time', async () => {
  const root = tempRoot();
  const counter = join(root, 'counter');
  writeFileSync(counter, '0');
  plantLock(root, 'counter', await deadPid(), 1);
  const code = `
    import { withLock } from ${JSON.stringify(LOCK_URL)};
    import { readFileSync, writeFileSync } from 'node:fs';
    console.log('ready');
    await new Promise((go) => process.stdin.once('data', go));
    for (let i = 0; i < 10; i++) {
      await withLock(process.env.ROOT, 'counter', async () => {
        const n = Number(readFileSync(process.env.COUNTER, 'utf8'));
        await new Promise((r) => setImmediate(r));
        writeFileSync(process.env.COUNTER, String(n + 1));
      });
    }
  `;
  const procs = Array.from({ length: 6 }, () => node(code, { ROOT: root, COUNTER: counter }));
  await Promise.all(procs.map((p) => p.ready));
  for (const p of procs) p.child.stdin.end('go\n');
  for (const r of await Promise.all(procs.map((p) => p.done))) assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(counter, 'utf8'), '60');
  assert.deepEqual(lockDirEntries(root), []);
});

test('a swarm whose holders die holding the lock: stale locks are broken without ever removing a live one', async () => {
  // 24 processes, each doing 5 increments and killing itself (SIGKILL) inside its last critical
  // section, after its write: every death leaves a stale lock that several waiters race to break.
  // Breaking by "remove whatever lock is there" instead of by the stale token loses increments here.
  const root = tempRoot();
  const counter = join(root, 'counter');
  writeFileSync(counter, '0');
  const code = `
    import { withLock } from ${JSON.stringify(LOCK_URL)};
    import { readFileSync, writeFileSync } from 'node:fs';
    for (let i = 0; i < 5; i++) {
      await withLock(process.env.ROOT, 'counter', async () => {
        const n = Number(readFileSync(process.env.COUNTER, 'utf8'));
        await new Promise((r) => setImmediate(r));
        writeFileSync(process.env.COUNTER, String(n + 1));
        if (i === 4) process.kill(process.pid, 'SIGKILL');
      });
    }
  `;
  const results = await Promise.all(Array.from({ length: 24 }, () => node(code, { ROOT: root, COUNTER: counter }).done));
  for (const r of results) assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.equal(readFileSync(counter, 'utf8'), '120');
  // the last one's lock is still there, stale; the next command takes it over and cleans up
  await withLock(root, 'counter', () => {}, { timeoutMs: 2000 });
  assert.deepEqual(lockDirEntries(root), []);
});

test('private directories of waiters that died are swept when a stale lock is broken', async () => {
  const root = tempRoot();
  const pid = await deadPid();
  plantLock(root, 'c1', pid, 7);
  const leftover = join(root, LOCKS_DIR, `@${pid}.7.abc123`);
  mkdirSync(leftover);
  writeFileSync(join(leftover, `${pid}.7.abc123`), '');
  await withLock(root, 'c1', () => {}, { timeoutMs: 2000 });
  assert.deepEqual(lockDirEntries(root), []);
});

test('two async flows in one process exclude each other', async () => {
  const root = tempRoot();
  let inside = 0;
  let max = 0;
  const flow = async () => {
    for (let i = 0; i < 10; i++) {
      await withLock(root, 'c1', async () => {
        inside++;
        max = Math.max(max, inside);
        await sleep(1);
        inside--;
      });
    }
  };
  await Promise.all([flow(), flow(), flow()]);
  assert.equal(max, 1);
  assert.deepEqual(lockDirEntries(root), []);
});

test('the lock is re-entrant along one call chain, async and sync', async () => {
  const root = tempRoot();
  const out = await withLock(root, 'c1', async () => {
    await sleep(1);
    const inner = await withLock(root, 'c1', async () => withLockSync(root, 'c1', () => 'deep', { timeoutMs: 0 }), { timeoutMs: 0 });
    // another container's lock is a different lock
    const other = withLockSync(root, 'c2', () => lockHolder(root, 'c2')?.pid);
    return [inner, other];
  });
  assert.deepEqual(out, ['deep', process.pid]);
  assert.deepEqual(lockDirEntries(root), []);
});

test('the lock is given back when fn throws or rejects', async () => {
  const root = tempRoot();
  await assert.rejects(withLock(root, 'c1', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(lockHolder(root, 'c1'), undefined);
  assert.throws(() => withLockSync(root, 'c1', () => { throw new Error('bang'); }), /bang/);
  assert.equal(lockHolder(root, 'c1'), undefined);
  assert.deepEqual(lockDirEntries(root), []);
  assert.equal(withLockSync(root, 'c1', () => 42, { timeoutMs: 0 }), 42);
});

test('the lock checks the id, so it never names a path outside the root', async () => {
  const root = tempRoot();
  await assert.rejects(withLock(root, '../x', () => {}), { message: /^hako: invalid container id '\.\.\/x'/ });
  assert.throws(() => withLockSync(root, '..', () => {}), { message: /^hako: invalid container id '\.\.'/ });
  assert.deepEqual(lockDirEntries(root), []);
});

test('owner tokens name this process and are unique', () => {
  const a = ownerToken();
  const b = ownerToken();
  assert.notEqual(a, b);
  assert.deepEqual(parseOwnerToken(a), { pid: process.pid, startTime: procStat(process.pid).startTime });
  assert.equal(parseOwnerToken('junk'), undefined);
  assert.equal(parseOwnerToken('1.2.xyz'), undefined);
  assert.equal(processAlive(process.pid, procStat(process.pid).startTime), true);
  assert.equal(processAlive(process.pid, procStat(process.pid).startTime + 1), false);
  assert.equal(processAlive(0, 0), false);
});

// keep the path helpers honest: this file lives where the build puts its modules' tests
assert.ok(fileURLToPath(LOCK_URL).endsWith(join('dist', 'src', 'runtime', 'lock.js')));
