// A Runtime's resident helper (the zygote, native/zygote.c): containers whose helpers it forks
// give what spawned helpers give (output, exit codes, signals, input, timeouts, create+start,
// exec), from one sealed zygote that stays across runs, comes back after it is killed, passes
// no fd of its own to a container, and never keeps Node alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../../dist/index.js';
import { Zygote } from '../../dist/src/helper/zygote.js';
import { MARK_VAR, NODE, REPO, cmdline, isAlive, pids, scoped, sleeper, waitUntil } from './oci-util.mjs';

function libraryTest(name, fn) {
  test(name, { timeout: 90_000 }, scoped(async (s) => {
    const before = process.env[MARK_VAR];
    process.env[MARK_VAR] = s.token;
    try {
      await fn(s);
    } finally {
      if (before === undefined) delete process.env[MARK_VAR];
      else process.env[MARK_VAR] = before;
    }
  }));
}

const ppid = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);

/** The helper (H0) of a running container, and that helper's parent. */
function helperOf(containerPid) {
  const h0 = ppid(containerPid);
  return { h0, parent: ppid(h0) };
}

/** Runs a container with a live handle and returns its helper's parent (read while it runs). */
async function parentOfHelper(s, rt, b) {
  const h = rt.spawn(s.id(), { bundle: b.dir, stdio: ['pipe', 'ignore', 'ignore'] });
  const pid = await h.spawned;
  const { h0, parent } = helperOf(pid);
  h.stdin.end();
  const r = await h.result;
  assert.equal(r.exitCode, 0);
  return { h0, parent };
}

const PIPES = ['pipe', 'pipe', 'pipe'];

/** Asserts rt forks its helpers from a zygote (a child of this process run with --zygote). */
async function assertZygote(s, rt) {
  const { parent } = await parentOfHelper(s, rt, s.bundle().args('cat'));
  assert.notEqual(parent, process.pid, 'the helper was spawned by this process, not forked by a zygote');
  assert.equal(ppid(parent), process.pid);
  assert.ok(cmdline(parent).includes('--zygote'), cmdline(parent).join(' '));
  return parent;
}

libraryTest('runs through the zygote give what spawned helpers give: output, exit codes, signals, input, timeouts, create+start, exec', async (s) => {
  const results = {};
  for (const zygote of [true, false]) {
    const rt = new Runtime({ root: s.root, warn: () => {}, zygote });
    if (zygote) await assertZygote(s, rt);
    const out = {};
    const b = s.bundle().sh('echo out; echo err >&2; exit 3');
    const r1 = await rt.run(s.id(), { bundle: b.dir, stdio: PIPES });
    out.output = [r1.exitCode, r1.status, r1.signal, r1.stdout.toString(), r1.stderr.toString()];
    const h = rt.spawn(s.id(), { bundle: s.bundle().args(...sleeper(s)).dir, stdio: 'ignore' });
    const pid = await h.spawned;
    // killed at once, while the helper may still set the init up: signal 9 all the same
    h.kill('SIGKILL');
    const r2 = await h.result;
    out.signal = [r2.exitCode, r2.status, r2.signal];
    const r3 = await rt.run(s.id(), { bundle: s.bundle().args('cat').dir, stdio: PIPES, input: 'in put\n' });
    out.input = [r3.exitCode, r3.stdout.toString()];
    const slow = s.bundle().args(...sleeper(s));
    const t0 = Date.now();
    await assert.rejects(rt.run(s.id(), { bundle: slow.dir, stdio: 'ignore', timeoutMs: 300 }), (e) => { out.timeout = [e.code, e.exitCode]; return true; });
    assert.ok(Date.now() - t0 < 10_000);
    // create, exec into it, start, wait for its end
    const id = s.id();
    const w = s.bundle().sh('read x </dev/null; sleep 0.2; exit 7');
    await rt.create(id, { bundle: w.dir, stdio: 'ignore' });
    const e1 = await rt.exec(id, { args: ['sh', '-c', 'echo exec; exit 5'], cwd: '/', env: ['PATH=/bin'] }, { stdio: PIPES });
    out.exec = [e1.exitCode, e1.stdout.toString()];
    await rt.start(id);
    await waitUntil(() => rt.state(id).status === 'stopped', { timeoutMs: 10_000, what: `${id} to stop` });
    await rt.delete(id);
    const d = s.bundle().args(...sleeper(s));
    const did = s.id();
    const r4 = await rt.run(did, { bundle: d.dir, stdio: 'ignore', detach: true });
    out.detach = [r4.exitCode, rt.state(did).status];
    await rt.delete(did, true);
    results[zygote] = out;
  }
  assert.deepEqual(results[true], results[false]);
  assert.deepEqual(results[true].output, [3, 3, null, 'out\n', 'err\n']);
  assert.deepEqual(results[true].signal, [137, null, 9]);
  assert.deepEqual(results[true].input, [0, 'in put\n']);
  assert.deepEqual(results[true].timeout, ['timeout', 124]);
  assert.deepEqual(results[true].exec, [5, 'exec\n']);
  assert.deepEqual(results[true].detach, [0, 'running']);
});

libraryTest('one zygote per Runtime, sealed, across runs; killed, the next run starts a new one', async (s) => {
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const b = s.bundle().args('cat');
  const first = await parentOfHelper(s, rt, b);
  const zygote = first.parent;
  assert.notEqual(zygote, process.pid, 'the helper is not forked by a zygote');
  assert.equal(ppid(zygote), process.pid);
  assert.ok(cmdline(zygote).includes('--zygote'), cmdline(zygote).join(' '));
  // it runs from the sealed copy, and so does every helper it forks (CVE-2019-5736)
  assert.match(readlinkSync(`/proc/${zygote}/exe`), /^\/(memfd:)?hako-helper(\s|$)/);
  // a terminal's ^C and ^\ (to this process group) are not for it
  process.kill(zygote, 'SIGINT');
  process.kill(zygote, 'SIGQUIT');
  const second = await parentOfHelper(s, rt, b);
  assert.equal(second.parent, zygote, 'a second run has the same zygote');
  assert.notEqual(second.h0, first.h0);
  // another Runtime has its own; zygote: false spawns from this process
  const other = await parentOfHelper(s, new Runtime({ root: s.root, warn: () => {} }), b);
  assert.notEqual(other.parent, zygote);
  assert.equal((await parentOfHelper(s, new Runtime({ root: s.root, warn: () => {}, zygote: false }), b)).parent, process.pid);
  // killed between runs: the next run works, from a new zygote (at once: before this process
  // has seen it die, and after)
  process.kill(zygote, 'SIGKILL');
  const r = await rt.run(s.id(), { bundle: s.bundle().sh('echo again').dir, stdio: PIPES });
  assert.equal(r.stdout.toString(), 'again\n');
  const third = await parentOfHelper(s, rt, b);
  assert.notEqual(third.parent, zygote);
  assert.ok(cmdline(third.parent).includes('--zygote'));
  await waitUntil(() => !isAlive(zygote), { timeoutMs: 5000, what: 'the killed zygote to be reaped' });
});

libraryTest('a container and its helper through the zygote get no fd of the zygote or of Node, and the signal state a spawned helper gives', async (s) => {
  const b = s.bundle().sh('ls -l /proc/self/fd/ | sed -n "s/.* \\([0-9]*\\) -> .*/\\1/p" | sort -n | tr "\\n" " "; grep -E "^Sig(Ign|Blk|Cgt)" /proc/self/status');
  const sigs = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter((l) => /^Sig(Ign|Blk|Cgt)/.test(l)).join(' ');
  const seen = {};
  for (const zygote of [true, false]) {
    const rt = new Runtime({ root: s.root, warn: () => {}, zygote });
    if (zygote) await assertZygote(s, rt);
    const got = seen[zygote] = [];
    for (const stdio of [PIPES, ['ignore', 'pipe', 'ignore']]) {
      const r = await rt.run(s.id(), { bundle: b.dir, stdio });
      assert.equal(r.exitCode, 0, r.stderr?.toString());
      got.push(r.stdout.toString());
    }
    // the helper itself, while its container runs: its fds and signal state
    const h = rt.spawn(s.id(), { bundle: s.bundle().args('cat').dir, stdio: ['pipe', 'ignore', 'ignore'] });
    const { h0 } = helperOf(await h.spawned);
    // (its pid pipe from H1, and the cgroup directory it forks H1 into with clone3, are there or
    // not, as H0 has closed them after the fork or not yet: H1 may say SPAWNED first; one listed
    // and closed before it is read is left out too)
    const target = (fd) => { try { return readlinkSync(`/proc/${h0}/fd/${fd}`); } catch (e) { if (e.code === 'ENOENT') return undefined; throw e; } };
    const fds = readdirSync(`/proc/${h0}/fd`).map((fd) => [fd, target(fd)]).filter(([, t]) => t !== undefined)
      .map(([fd, t]) => `${fd}:${t.replace(/\[\d+\]$/, '')}`)
      .filter((l) => !l.includes('pipe:') && !l.includes(':/sys/fs/cgroup/'));
    got.push(fds.join(' '), sigs(h0));
    h.stdin.end();
    assert.equal((await h.result).exitCode, 0);
  }
  assert.deepEqual(seen[true], seen[false]);
  // 0-2 alone in the container; the helper has its stdio, its control socket and its signalfd
  assert.match(seen[true][0], /^0 1 2 Sig/);
  assert.equal(seen[true][2], '0:socket: 1:/dev/null 2:/dev/null 3:socket: 4:anon_inode:[signalfd]');
});

libraryTest('16 runs at once through one zygote', async (s) => {
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const zygote = await assertZygote(s, rt);
  const b = s.bundle().sh('echo $((6 * 7))');
  const runs = await Promise.all(Array.from({ length: 16 }, () => rt.run(s.id(), { bundle: b.dir, stdio: PIPES })));
  for (const r of runs) {
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString(), '42\n');
  }
  assert.equal(new Set(runs.map((r) => r.pid)).size, 16);
  assert.equal(await assertZygote(s, rt), zygote);
});

libraryTest('stopped before its helper answered (abort, a timeout of 1 ms): the same errors as with spawned helpers, and its helpers go', async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const outcome = {};
  for (const zygote of [true, false]) {
    const rt = new Runtime({ root: s.root, warn: () => {}, zygote });
    const z = zygote ? await assertZygote(s, rt) : undefined;
    const ac = new AbortController();
    const p = rt.run(s.id(), { bundle: b.dir, stdio: 'ignore', signal: ac.signal });
    ac.abort();
    const codes = [];
    await assert.rejects(p, (e) => { codes.push(e.code); return true; });
    await assert.rejects(rt.run(s.id(), { bundle: b.dir, stdio: 'ignore', timeoutMs: 1 }), (e) => { codes.push(e.code); return true; });
    outcome[zygote] = codes;
    // the helpers it forked for them are gone (killed: nothing would have ended them)
    if (z) await waitUntil(() => pids().every((p) => { try { return ppid(p) !== z; } catch { return true; } }), { timeoutMs: 5000, what: 'the zygote\'s helpers to go' });
    const r = await rt.run(s.id(), { bundle: s.bundle().sh('echo after').dir, stdio: PIPES });
    assert.equal(r.stdout.toString(), 'after\n');
  }
  assert.deepEqual(outcome[true], ['aborted', 'timeout']);
  assert.deepEqual(outcome[false], outcome[true]);
});

libraryTest('the zygote killed while a container runs: the run still ends with its result, and the next run has a new zygote', async (s) => {
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const b = s.bundle().sh('cat; echo tail; exit 4');
  const h = rt.spawn(s.id(), { bundle: b.dir, stdio: PIPES });
  const pid = await h.spawned;
  const { h0, parent: zygote } = helperOf(pid);
  assert.ok(cmdline(zygote).includes('--zygote'));
  let out = '';
  h.stdout.on('data', (d) => { out += d; });
  process.kill(zygote, 'SIGKILL');
  await waitUntil(() => !isAlive(zygote), { timeoutMs: 5000, what: 'the zygote to die' });
  assert.ok(isAlive(h0), 'the helper died with the zygote');
  h.stdin.end('head\n');
  const r = await h.result;
  assert.equal(r.exitCode, 4);
  await new Promise((resolve) => { if (h.stdout.readableEnded) resolve(); else h.stdout.once('end', resolve); });
  assert.equal(out, 'head\ntail\n');
  assert.notEqual(await assertZygote(s, rt), zygote);
});

libraryTest('the zygote keeps no Node process alive, and goes with it', async (s) => {
  const b = s.bundle().sh('echo done');
  // the child runs one container, says its zygote (its child with --zygote) and its output, and
  // then has nothing left to do: it must exit by itself
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    import { Runtime } from ${JSON.stringify(join(REPO, 'dist', 'index.js'))};
    const rt = new Runtime({ root: ${JSON.stringify(s.root)} });
    const r = await rt.run(${JSON.stringify(s.id())}, { bundle: ${JSON.stringify(b.dir)}, stdio: 'pipe' });
    const mine = readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)).filter((d) => {
      try {
        const stat = readFileSync('/proc/' + d + '/stat', 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid
          && readFileSync('/proc/' + d + '/cmdline', 'utf8').includes('--zygote');
      } catch { return false; }
    });
    process.stdout.write(JSON.stringify({ zygotes: mine.map(Number), out: r.stdout.toString() }));
  `;
  const child = spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('the Node process did not exit by itself within 15 s')); }, 15_000);
    child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  assert.equal(code, 0);
  const said = JSON.parse(out);
  assert.equal(said.out, 'done\n');
  assert.equal(said.zygotes.length, 1, out);
  await waitUntil(() => !isAlive(said.zygotes[0]), { timeoutMs: 5000, what: 'the zygote to exit with its Node process' });
});

test('a Zygote on its own: a kill asked before the pid is known reaches that helper; exits and signals come as a ChildProcess gives them', { timeout: 30_000 }, async () => {
  const helper = join(REPO, 'native', 'hako-helper');
  const z = new Zygote();
  const exit = (c) => new Promise((resolve) => c.once('exit', (code, signal) => resolve([code, signal])));
  // killed before its pid came back: SIGTERM ends a helper that waits for its plan
  const a = z.spawner(helper, ['--sealed'], ['ignore', 'ignore', 'ignore', 'pipe'], {}, 0);
  assert.ok(a.kill('SIGTERM'));
  assert.deepEqual(await exit(a), [null, 'SIGTERM']);
  assert.equal(a.kill('SIGTERM'), false);
  // its control socket closed before any request: it exits 2
  const b = z.spawner(helper, ['--sealed', '--exec-fd=4'], ['ignore', 'pipe', 'ignore', 'pipe', 'pipe'], {}, 0);
  assert.ok(b.stdout && b.stdio[3] && b.stdio[4] && !b.stdin && !b.stderr);
  b.stdio[3].end();
  assert.deepEqual(await exit(b), [2, null]);
  assert.equal(typeof b.pid, 'number');
  assert.equal(ppid(z.pid), process.pid);
  // what it cannot do is left to the caller: preserved fds, an environment, other arguments
  assert.equal(z.spawner(helper, ['4', '--sealed'], ['ignore', 'ignore', 'ignore', 'ignore', 'pipe'], {}, 1), undefined);
  assert.equal(z.spawner(helper, ['--sealed'], ['ignore', 'ignore', 'ignore', 'pipe'], { A: 'b' }, 0), undefined);
  assert.equal(z.spawner(helper, ['--other'], ['ignore', 'ignore', 'ignore', 'pipe'], {}, 0), undefined);
  const pid = z.pid;
  process.kill(pid, 'SIGKILL');
  await waitUntil(() => !isAlive(pid), { timeoutMs: 5000, what: 'the zygote to die' });
});

libraryTest('a live handle\'s output nobody listened to by the exit is dropped, as a ChildProcess drops it (flushStdio); one listened to, even paused, is all there', async (s) => {
  const b = s.bundle().sh('echo one; echo two >&2; echo three');
  const seen = {};
  const read = (stream) => new Promise((resolve, reject) => {
    if (stream.readableEnded || stream.destroyed) { resolve('<over>'); return; }
    let text = '';
    stream.on('data', (d) => { text += d; });
    stream.on('end', () => resolve(text));
    stream.on('close', () => resolve(`${text}<closed without its end>`));
    stream.on('error', reject);
  });
  for (const zygote of [true, false]) {
    const rt = new Runtime({ root: s.root, warn: () => {}, zygote });
    const h = rt.spawn(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const err = read(h.stderr);
    const r = await h.result;
    assert.equal(r.exitCode, 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // listened to but paused: kept until it is resumed
    const h2 = rt.spawn(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'ignore'] });
    const later = read(h2.stdout);
    h2.stdout.pause();
    assert.equal((await h2.result).exitCode, 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    h2.stdout.resume();
    seen[zygote] = [await read(h.stdout), await err, await later];
  }
  assert.deepEqual(seen[false], ['<over>', 'two\n', 'one\nthree\n']);
  assert.deepEqual(seen[true], seen[false]);
});

test('an idle zygote goes, and the next helper starts a new one', { timeout: 30_000 }, async () => {
  const helper = join(REPO, 'native', 'hako-helper');
  const z = new Zygote(300);
  const exit = (c) => new Promise((resolve) => c.once('exit', (code, signal) => resolve([code, signal])));
  const a = z.spawner(helper, ['--sealed'], ['ignore', 'ignore', 'ignore', 'pipe'], {}, 0);
  a.stdio[3].end();
  assert.deepEqual(await exit(a), [2, null]);
  const first = z.pid;
  assert.ok(first > 0 && isAlive(first));
  await waitUntil(() => !isAlive(first), { timeoutMs: 5000, what: 'the idle zygote to go' });
  assert.equal(z.pid, undefined);
  const b = z.spawner(helper, ['--sealed'], ['ignore', 'ignore', 'ignore', 'pipe'], {}, 0);
  b.stdio[3].end();
  assert.deepEqual(await exit(b), [2, null]);
  assert.ok(z.pid !== undefined && z.pid !== first);
  const second = z.pid;
  await waitUntil(() => !isAlive(second), { timeoutMs: 5000, what: 'the idle zygote to go' });
});
