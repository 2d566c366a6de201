// The container state store: exclusive create, atomic writes, list, remove, live status, runc's state format.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore, liveStatus, ociState, formatOciState, STATE_FILE } from '../../dist/src/runtime/state.js';
import { withLock, procStat, LOCKS_DIR } from '../../dist/src/runtime/lock.js';

const STATE_URL = new URL('../../dist/src/runtime/state.js', import.meta.url).href;
const roots = [];

function tempRoot() {
  const root = mkdtempSync(join(tmpdir(), 'hako-state-store-'));
  roots.push(root);
  return root;
}

test.after(() => {
  for (const root of roots) {
    rmSync(root, { recursive: true, force: true });
    assert.equal(existsSync(root), false, `${root} was not removed`);
  }
});

function node(code, env = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
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
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, ready, done };
}

async function deadPid() {
  const p = node('');
  await p.done;
  assert.equal(procStat(p.child.pid), undefined);
  return p.child.pid;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const me = () => procStat(process.pid);

function sample(id, over = {}) {
  return {
    ociVersion: '1.0.2-dev',
    id,
    status: 'created',
    pid: process.pid,
    pidStartTime: me().startTime,
    bundle: '/srv/bundles/' + id,
    rootfs: '/srv/bundles/' + id + '/rootfs',
    created: '2024-05-01T10:20:30.123Z',
    owner: '',
    annotations: {},
    cgroup: { path: '/hako/' + id },
    config: '/run/hako/' + id + '/config.json',
    ...over,
  };
}

test('create writes ROOT/ID/state.json atomically, with runc\'s modes, and read gives it back', () => {
  const root = join(tempRoot(), 'nested', 'root'); // made on demand
  const store = new StateStore(root);
  const written = store.create('c1', sample('c1'));
  assert.deepEqual(store.read('c1'), written);
  assert.deepEqual(written, sample('c1'));
  assert.equal(statSync(root).mode & 0o777, 0o700);
  assert.equal(statSync(join(root, 'c1')).mode & 0o777, 0o700);
  assert.equal(statSync(join(root, 'c1', STATE_FILE)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(root), ['c1']);
  assert.deepEqual(readdirSync(join(root, 'c1')), [STATE_FILE]);
  assert.equal(store.exists('c1'), true);
  assert.equal(store.exists('c2'), false);
  assert.equal(store.dir('c1'), join(root, 'c1'));
  assert.equal(store.file('c1', 'exec.fifo'), join(root, 'c1', 'exec.fifo'));
  assert.throws(() => store.file('c1', '../x'));
  // the id argument is the id recorded
  assert.equal(store.create('c2', sample('other')).id, 'c2');
  assert.equal(store.read('c2').id, 'c2');
});

test('a second create of one id fails as runc does, and changes nothing', () => {
  const store = new StateStore(tempRoot());
  store.create('c1', sample('c1'));
  assert.throws(() => store.create('c1', sample('c1', { bundle: '/elsewhere' })), (e) => {
    assert.equal(e.name, 'HakoError');
    assert.equal(e.message, 'hako: container with id c1 already exists');
    assert.equal(e.exitCode, 1);
    return true;
  });
  assert.equal(store.read('c1').bundle, '/srv/bundles/c1');
  assert.deepEqual(readdirSync(store.root), ['c1']);
});

test('create refuses an id whose directory is there, even without a state (as runc does)', () => {
  const store = new StateStore(tempRoot());
  mkdirSync(join(store.root, 'half'));
  assert.throws(() => store.create('half', sample('half')), { message: 'hako: container with id half already exists' });
  assert.equal(store.remove('half'), true); // remove clears it, and the id can be used again
  store.create('half', sample('half'));
  assert.equal(store.read('half').id, 'half');
});

test('N processes creating one id at once: exactly one succeeds, every time', async () => {
  const root = tempRoot();
  const N = 8;
  const ROUNDS = 10;
  const code = `
    import { StateStore } from ${JSON.stringify(STATE_URL)};
    const store = new StateStore(process.env.ROOT);
    console.log('ready');
    await new Promise((go) => process.stdin.once('data', go));
    const won = [];
    for (let r = 0; r < ${ROUNDS}; r++) {
      const id = 'race-' + r;
      try {
        store.create(id, { ociVersion: '1.0.2', id, status: 'creating', pid: 0, pidStartTime: 0, bundle: '/b/' + process.pid,
          rootfs: '/b/rootfs', created: new Date().toISOString(), owner: '', annotations: {}, cgroup: null, config: '' });
        won.push(id);
      } catch (e) {
        if (e.message !== 'hako: container with id ' + id + ' already exists' || e.exitCode !== 1) throw e;
      }
    }
    console.log(JSON.stringify(won));
  `;
  const procs = Array.from({ length: N }, () => node(code, { ROOT: root }));
  await Promise.all(procs.map((p) => p.ready));
  for (const p of procs) p.child.stdin.end('go\n');
  const results = await Promise.all(procs.map((p) => p.done));
  const winners = new Map();
  results.forEach((r, i) => {
    assert.equal(r.code, 0, r.stderr);
    for (const id of JSON.parse(r.stdout.split('\n')[1])) {
      assert.equal(winners.has(id), false, `${id} was created twice`);
      winners.set(id, procs[i].child.pid);
    }
  });
  const store = new StateStore(root);
  for (let r = 0; r < ROUNDS; r++) {
    const id = `race-${r}`;
    assert.ok(winners.has(id), `${id} was created by nobody`);
    assert.equal(store.read(id).bundle, `/b/${winners.get(id)}`, 'the state is the winner\'s');
  }
  assert.deepEqual(store.ids(), Array.from({ length: ROUNDS }, (_, r) => `race-${r}`).sort());
  assert.deepEqual(readdirSync(root).filter((n) => n.includes('@')), [], 'the losers left nothing behind');
});

test('read of a missing container says "does not exist", as clients of runc expect', () => {
  const store = new StateStore(tempRoot());
  for (const fn of [() => store.read('nope'), () => store.update('nope', () => {}), () => store.write('nope', sample('nope'))]) {
    assert.throws(fn, (e) => {
      assert.equal(e.message, 'hako: container nope does not exist');
      assert.equal(e.exitCode, 1);
      return true;
    });
  }
  assert.equal(existsSync(join(store.root, 'nope')), false, 'write does not bring a container back');
  assert.throws(() => new StateStore(join(store.root, 'absent')).read('nope'), { message: 'hako: container nope does not exist' });
  assert.throws(() => store.read('../etc'), { message: /^hako: invalid container id '\.\.\/etc'/ });
});

test('update changes the state under the lock; a failing fn changes nothing', () => {
  const store = new StateStore(tempRoot());
  store.create('c1', sample('c1'));
  const a = store.update('c1', (s) => { s.status = 'running'; });
  assert.equal(a.status, 'running');
  const b = store.update('c1', (s) => ({ ...s, status: 'paused', annotations: { k: 'v' } }));
  assert.equal(b.status, 'paused');
  assert.deepEqual(store.read('c1'), b);
  assert.throws(() => store.update('c1', () => { throw new Error('boom'); }), /boom/);
  assert.deepEqual(store.read('c1'), b);
  assert.deepEqual(readdirSync(join(store.root, LOCKS_DIR)), [], 'the lock was given back');
});

test('update waits for the lock: another holder keeps it out until the timeout', async () => {
  const store = new StateStore(tempRoot(), { timeoutMs: 100 });
  store.create('c1', sample('c1'));
  const holder = node(`
    import { withLock } from ${JSON.stringify(new URL('../../dist/src/runtime/lock.js', import.meta.url).href)};
    await withLock(process.env.ROOT, 'c1', async () => { console.log('held'); await new Promise((r) => process.stdin.once('data', r)); });
  `, { ROOT: store.root });
  try {
    assert.equal(await holder.ready, 'held');
    const locked = `hako: container c1 is locked by pid ${holder.child.pid} (another hako command is working on it)`;
    assert.throws(() => store.update('c1', (s) => { s.status = 'running'; }), { message: locked });
    assert.throws(() => store.remove('c1'), { message: locked });
    assert.equal(store.read('c1').status, 'created', 'reads need no lock');
    holder.child.stdin.end('done\n');
    assert.equal((await holder.done).code, 0);
  } finally {
    holder.child.kill('SIGKILL');
  }
  assert.equal(store.update('c1', (s) => { s.status = 'running'; }).status, 'running');
});

test('update and remove inside withLock (re-entrant on one call chain)', async () => {
  const store = new StateStore(tempRoot(), { timeoutMs: 0 });
  store.create('c1', sample('c1'));
  await withLock(store.root, 'c1', async () => {
    await sleep(1);
    store.update('c1', (s) => { s.status = 'stopped'; });
    assert.equal(store.read('c1').status, 'stopped');
    assert.equal(store.remove('c1'), true);
  });
  assert.equal(store.exists('c1'), false);
});

test('writes leave no temporary files: after many updates the directory holds only its files', () => {
  const store = new StateStore(tempRoot());
  store.create('c1', sample('c1'));
  writeFileSync(store.file('c1', 'exec.fifo'), '');
  for (let i = 0; i < 50; i++) store.update('c1', (s) => { s.annotations = { n: String(i) }; });
  assert.deepEqual(readdirSync(store.dir('c1')).sort(), ['exec.fifo', STATE_FILE]);
  assert.equal(store.read('c1').annotations.n, '49');
  assert.deepEqual(store.ids(), ['c1']);
});

test('list sees only whole containers: not half-made directories, temporary files, locks or strays', async () => {
  const root = tempRoot();
  const store = new StateStore(root);
  store.create('b', sample('b'));
  store.create('a', sample('a'));
  store.create('.dot', sample('.dot'));
  const dead = await deadPid();
  mkdirSync(join(root, 'half'));                                              // mkdir'd, no state yet
  mkdirSync(join(root, `@${dead}.5.abcdef.new`));                             // a create that died mid-way
  writeFileSync(join(root, `@${dead}.5.abcdef.new`, STATE_FILE), JSON.stringify(sample('c')));
  writeFileSync(join(root, 'a', `${STATE_FILE}@${dead}.5.abcdef.tmp`), '{"trunc'); // a writer killed mid-way
  writeFileSync(join(root, 'stray-file'), 'x');                                 // a file, not a directory
  mkdirSync(join(root, 'broken'));
  writeFileSync(join(root, 'broken', STATE_FILE), '{"half": ');                 // not hako's
  await withLock(root, 'a', () => {
    assert.deepEqual(store.ids(), ['.dot', 'a', 'b']);
  });
  assert.deepEqual(store.list().map((s) => s.id), ['.dot', 'a', 'b']);
  assert.deepEqual(store.read('a'), sample('a'), 'a leftover temporary file does not disturb the state');
  // what dead processes left is swept by the next write (temporaries) and the next create (staged dirs)
  store.update('a', (s) => { s.status = 'running'; });
  assert.deepEqual(readdirSync(join(root, 'a')), [STATE_FILE]);
  store.create('d', sample('d'));
  assert.equal(existsSync(join(root, `@${dead}.5.abcdef.new`)), false);
  // work in progress of a live process is left alone
  const mine = `${STATE_FILE}@${process.pid}.${me().startTime}.abcdef.tmp`;
  writeFileSync(join(root, 'a', mine), '{');
  store.update('a', (s) => { s.status = 'paused'; });
  assert.ok(readdirSync(join(root, 'a')).includes(mine));
  assert.deepEqual(store.ids(), ['.dot', 'a', 'b', 'd']);
  assert.deepEqual(new StateStore(join(root, 'no-such-root')).list(), []);
});

test('remove deletes the directory and everything in it, is idempotent, and frees the id', () => {
  const store = new StateStore(tempRoot());
  store.create('c1', sample('c1'));
  writeFileSync(store.file('c1', 'exec.fifo'), '');
  mkdirSync(store.file('c1', 'sub'));
  writeFileSync(join(store.dir('c1'), 'sub', 'f'), 'x');
  assert.equal(store.remove('c1'), true);
  assert.equal(existsSync(store.dir('c1')), false);
  assert.equal(store.remove('c1'), false);
  assert.equal(store.remove('never-was'), false);
  assert.throws(() => store.read('c1'), { message: 'hako: container c1 does not exist' });
  assert.deepEqual(readdirSync(store.root).sort(), [LOCKS_DIR]);
  assert.deepEqual(readdirSync(join(store.root, LOCKS_DIR)), []);
  store.create('c1', sample('c1', { bundle: '/again' }));
  assert.equal(store.read('c1').bundle, '/again');
  assert.throws(() => store.remove('..'), { message: /^hako: invalid container id/ });
});

test('liveStatus: the stored status holds only while the init process is the same process', async () => {
  const start = me().startTime;
  for (const status of ['created', 'running', 'paused']) {
    assert.equal(liveStatus(sample('c', { status })), status);
    // a live pid with another start time is a reused pid: never the container
    assert.equal(liveStatus(sample('c', { status, pidStartTime: start + 1 })), 'stopped');
    assert.equal(liveStatus(sample('c', { status, pid: 0 })), 'stopped');
  }
  const dead = await deadPid();
  assert.equal(liveStatus(sample('c', { status: 'running', pid: dead })), 'stopped');
  assert.equal(liveStatus(sample('c', { status: 'stopped' })), 'stopped');
  assert.equal(liveStatus(sample('c', { status: 'creating', pid: 0, pidStartTime: 0 })), 'creating');
  assert.equal(liveStatus(sample('c', { status: 'creating' })), 'creating');
  assert.equal(liveStatus(sample('c', { status: 'creating', pid: dead })), 'stopped');
});

test('liveStatus: a zombie init process is stopped', async () => {
  // a child of sh, which execs sleep and so never reaps it: a zombie once it exits (0.2 s later)
  const sh = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = Number(await new Promise((resolve) => sh.stdout.once('data', (d) => resolve(String(d).trim()))));
  try {
    let st;
    for (let i = 0; i < 200 && (st = procStat(zombie))?.state !== 'Z'; i++) await sleep(10);
    assert.equal(st?.state, 'Z');
    assert.equal(liveStatus(sample('c', { status: 'running', pid: zombie, pidStartTime: st.startTime })), 'stopped');
    // while the same pid and start time with a live process is running
    assert.equal(liveStatus(sample('c', { status: 'running', pid: sh.pid, pidStartTime: procStat(sh.pid).startTime })), 'running');
  } finally {
    sh.kill('SIGKILL');
  }
});

test('ociState has the fields of `runc state`, in its order, and no hako-only fields', () => {
  const s = sample('c1', { status: 'running', owner: 'root' });
  const o = ociState(s);
  assert.deepEqual(Object.keys(o), ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner']);
  assert.deepEqual(o, {
    ociVersion: '1.0.2-dev', id: 'c1', pid: process.pid, status: 'running', bundle: '/srv/bundles/c1',
    rootfs: '/srv/bundles/c1/rootfs', created: '2024-05-01T10:20:30.123Z', owner: 'root',
  });
  // annotations only when there are some, sorted, between created and owner (Go's map order)
  const withA = ociState(sample('c1', { annotations: { 'org.z': '1', a: '2', 'org.a': '3' } }));
  assert.deepEqual(Object.keys(withA), ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'annotations', 'owner']);
  assert.deepEqual(Object.keys(withA.annotations), ['a', 'org.a', 'org.z']);
  // a stopped container shows pid 0, as runc does
  const stopped = ociState(sample('c1', { status: 'running', pidStartTime: me().startTime + 1 }));
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.pid, 0);
  assert.equal(ociState(s, 'paused').status, 'paused');
});

test('formatOciState prints as runc prints: two-space indent, no final newline, <>& escaped', () => {
  const text = formatOciState(ociState(sample('c1', { annotations: { html: '<a&b>' } })));
  assert.equal(text, [
    '{',
    '  "ociVersion": "1.0.2-dev",',
    '  "id": "c1",',
    `  "pid": ${process.pid},`,
    '  "status": "created",',
    '  "bundle": "/srv/bundles/c1",',
    '  "rootfs": "/srv/bundles/c1/rootfs",',
    '  "created": "2024-05-01T10:20:30.123Z",',
    '  "annotations": {',
    '    "html": "\\u003ca\\u0026b\\u003e"',
    '  },',
    '  "owner": ""',
    '}',
  ].join('\n'));
  assert.deepEqual(JSON.parse(text).annotations, { html: '<a&b>' });
});

test('fields a newer hako added survive a read and an update', () => {
  const store = new StateStore(tempRoot());
  store.create('c1', { ...sample('c1'), future: { x: 1 } });
  assert.deepEqual(store.read('c1').future, { x: 1 });
  store.update('c1', (s) => { s.status = 'running'; });
  assert.deepEqual(JSON.parse(readFileSync(join(store.dir('c1'), STATE_FILE), 'utf8')).future, { x: 1 });
});

test('the longest id (255 characters) works through create, update, lock, list and remove', async () => {
  const store = new StateStore(tempRoot());
  const id = 'x'.repeat(255);
  store.create(id, sample(id));
  store.update(id, (s) => { s.status = 'running'; });
  await withLock(store.root, id, () => { assert.equal(store.read(id).status, 'running'); });
  assert.deepEqual(store.ids(), [id]);
  assert.equal(store.remove(id), true);
  assert.deepEqual(store.ids(), []);
  assert.throws(() => store.create('x'.repeat(256), sample('x')), { message: /^hako: invalid container id '.*': 256 characters, the limit is 255$/ });
});

test('prepareWrite: the file is made first, commit writes it over state.json whole; a write never committed, or of a container deleted meanwhile, leaves nothing', async () => {
  const store = new StateStore(tempRoot());
  store.create('c', sample('c'));
  const w = await store.prepareWrite('c');
  // made, not yet the state: readers still see the old record
  assert.equal(readdirSync(store.dir('c')).length, 2);
  assert.equal(store.read('c').status, 'created');
  assert.equal(w.commit({ ...sample('c'), status: 'running', pid: 7 }).status, 'running');
  assert.deepEqual(readdirSync(store.dir('c')), [STATE_FILE]);
  assert.equal(store.read('c').status, 'running');
  assert.equal(store.read('c').pid, 7);
  assert.throws(() => w.commit(sample('c')), /committed once/);
  // abandoned: its file goes, the state stays
  const a = await store.prepareWrite('c');
  a.abandon();
  assert.deepEqual(readdirSync(store.dir('c')), [STATE_FILE]);
  assert.equal(store.read('c').status, 'running');
  // deleted, and a new container with the id made, before the commit: the new one is left as it is
  const late = await store.prepareWrite('c');
  assert.equal(store.remove('c'), true);
  store.create('c', sample('c', { bundle: '/new' }));
  assert.throws(() => late.commit({ ...sample('c'), status: 'running' }), { message: 'hako: container c does not exist' });
  assert.equal(store.read('c').bundle, '/new');
  assert.equal(store.read('c').status, 'created');
  assert.deepEqual(readdirSync(store.dir('c')), [STATE_FILE]);
  await assert.rejects(store.prepareWrite('gone'), { message: 'hako: container gone does not exist' });
});
