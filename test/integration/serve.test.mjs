// hako serve and bin/hako's native front (issue 10, docs/SERVER.md): the same commands, output and
// exit statuses through a warm server as without one; the container's processes stay descendants
// of the caller; no server, a stale socket, another user's socket or another build: Node as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Background, cmdline, NODE, REPO, runSync, scoped, show, sleep, waitUntil } from './oci-util.mjs';

let dir;
let socket;

/** Whether process pid is the front (bin/hako, the helper, serving a command), not Node: without a
 * server the front execs Node. */
function isFront(pid) {
  return readlinkSync(`/proc/${pid}/exe`).endsWith('/hako-helper');
}
let server;

function startServer(path) {
  const p = spawn(NODE, [join(REPO, 'bin', 'start.cjs'), 'serve', '--socket', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderrText = '';
  p.stderr.setEncoding('utf8').on('data', (d) => { p.stderrText += d; });
  return p;
}

async function stopServer(p) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([gone, sleep(5000)]);
}

before(async () => {
  dir = mkdtempSync('/tmp/hako-it-serve-test-');
  socket = join(dir, 'hako.sock');
  server = startServer(socket);
  await waitUntil(() => existsSync(socket), { what: 'hako serve to listen' });
});

after(async () => {
  await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
});

const warm = (s) => s.env({ HAKO_SOCKET: socket });
const cold = (s) => s.env({ HAKO_SOCKET: '' });

function ppid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** pid's ancestors, nearest first. */
function ancestors(pid) {
  const out = [];
  for (let p = ppid(pid), n = 0; p > 1 && n < 64; p = ppid(p), n++) out.push(p);
  return out;
}

/** The pids.max file of pid's cgroup (v1 pids controller, or v2). */
function pidsMax(pid) {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?pids(,[^:]*)?:/.test(l));
  if (v1) return join('/sys/fs/cgroup/pids', v1.split(':')[2], 'pids.max');
  return join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::')).slice(3), 'pids.max');
}

function listPids() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** The host pid of the process whose command line is `sleep MARKER`, once it exists. */
function sleeperPid(s) {
  return waitUntil(() => listPids().find((p) => cmdline(p).join(' ') === `sleep ${s.marker}`), { what: `a process sleep ${s.marker}` });
}

test('run through the server: the same output and exit status as without it', scoped(async (s) => {
  const b = s.bundle().sh('echo out; echo err >&2; exit 7');
  const w = s.hako(['run', '-b', b.dir, s.id()], { env: warm(s) });
  const c = s.hako(['run', '-b', b.dir, s.id()], { env: cold(s) });
  assert.equal(w.status, 7, show(w));
  assert.deepEqual([w.status, w.stdout, w.stderr], [c.status, c.stdout, c.stderr]);
  // a failure of hako itself: the same one line and exit code
  const wf = s.hako(['run', '-b', join(s.dir, 'none'), s.id()], { env: warm(s) });
  const cf = s.hako(['run', '-b', join(s.dir, 'none'), s.id()], { env: cold(s) });
  assert.notEqual(wf.status, 0);
  assert.deepEqual([wf.status, wf.stdout, wf.stderr], [cf.status, cf.stdout, cf.stderr]);
  for (const args of [['--version'], ['list'], ['nosuchverb'], ['state', 'nosuch']]) {
    const a = s.hako(args, { env: warm(s) });
    const z = s.hako(args, { env: cold(s) });
    assert.deepEqual([a.status, a.stdout, a.stderr], [z.status, z.stdout, z.stderr], args.join(' '));
  }
}));

test("through the server the container's processes are the caller's descendants, and signals are relayed", scoped(async (s) => {
  const b = s.bundle().sh(`trap 'exit 9' TERM; sleep ${s.marker} & wait`);
  for (const [mode, env] of [['warm', warm(s)], ['cold', cold(s)]]) {
    const bg = s.spawnHako(['run', '-b', b.dir, s.id()], { env });
    const pid = await sleeperPid(s);
    assert.ok(ancestors(pid).includes(bg.pid), `${mode}: sleep ${pid} descends from the caller ${bg.pid} (${ancestors(pid)})`);
    const front = isFront(bg.pid);
    assert.equal(front, mode === 'warm', `${mode}: the caller runs ${cmdline(bg.pid).join(' ')}`);
    bg.child.kill('SIGTERM');
    const r = await bg.wait();
    assert.equal(r.status, 9, `${mode}: ${JSON.stringify(r)}`);
    await waitUntil(() => !listPids().some((p) => cmdline(p).join(' ') === `sleep ${s.marker}`), { what: 'the sleep to end' });
  }
}));

test('create, start, state, exec, kill, delete through the server', scoped(async (s) => {
  const b = s.bundle().args('sleep', s.marker);
  const id = s.id();
  const r = s.hakoDetached(['create', '-b', b.dir, id], { env: warm(s) });
  assert.equal(r.status, 0, show(r));
  const state = JSON.parse(s.hako(['state', id], { env: warm(s) }).stdout);
  const coldState = JSON.parse(s.hako(['state', id], { env: cold(s) }).stdout);
  assert.deepEqual(state, coldState);
  assert.equal(state.status, 'created');
  // the init was forked under the front, which has exited: not the server's child
  assert.notEqual(ppid(state.pid), server.pid);
  assert.equal(s.hako(['start', id], { env: warm(s) }).status, 0);
  await waitUntil(() => cmdline(state.pid).join(' ') === `sleep ${s.marker}`, { what: 'the init to run sleep' });
  const e = s.hako(['exec', id, 'sh', '-c', 'echo in; exit 3'], { env: warm(s) });
  const ec = s.hako(['exec', id, 'sh', '-c', 'echo in; exit 3'], { env: cold(s) });
  assert.deepEqual([e.status, e.stdout, e.stderr], [3, 'in\n', '']);
  assert.deepEqual([e.status, e.stdout, e.stderr], [ec.status, ec.stdout, ec.stderr]);
  // update --resources - reads hako's stdin: the front's, through the server
  const u = s.hako(['update', '-r', '-', id], { env: warm(s), input: '{"pids":{"limit":77}}' });
  assert.equal(u.status, 0, show(u));
  assert.equal(readFileSync(pidsMax(state.pid), 'utf8').trim(), '77');
  const bad = s.hako(['update', '-r', '-', id], { env: warm(s), input: 'nope' });
  const badCold = s.hako(['update', '-r', '-', id], { env: cold(s), input: 'nope' });
  assert.deepEqual([bad.status, bad.stderr], [badCold.status, badCold.stderr]);
  assert.equal(bad.status, 1);
  const ps = s.hako(['ps', id], { env: warm(s) });
  assert.deepEqual([ps.status, ps.stdout.split('\n')[0]], [0, s.hako(['ps', id], { env: cold(s) }).stdout.split('\n')[0]]);
  assert.equal(s.hako(['kill', id, 'KILL'], { env: warm(s) }).status, 0);
  await waitUntil(() => JSON.parse(s.hako(['state', id], { env: warm(s) }).stdout).status === 'stopped', { what: 'stopped' });
  assert.equal(s.hako(['delete', id], { env: warm(s) }).status, 0);
  const gone = s.hako(['state', id], { env: warm(s) });
  assert.deepEqual([gone.status, gone.stderr], [1, s.hako(['state', id], { env: cold(s) }).stderr]);
}));

test('a front killed just before its worker claims the id: the claim is undone, nothing is left for delete --force to miss', scoped(async (s) => {
  // as a CLI process would, the command dies with its caller: a worker learns of its front's death
  // only from its connection, later; HAKO_TEST_SERVE_PAUSE holds the worker just before the claim
  // (after its check that the front is there) until the front is dead and delete --force has run
  const b = s.bundle().args('sleep', s.marker);
  const id = s.id();
  const pause = join(s.dir, 'pause');
  mkdirSync(pause);
  const bg = s.spawnHako(['create', '-b', b.dir, id], { env: { ...warm(s), HAKO_TEST_SERVE_PAUSE: pause }, toFiles: true });
  const worker = Number(await waitUntil(() => existsSync(join(pause, 'paused')) && readFileSync(join(pause, 'paused'), 'utf8'), { what: 'the worker to pause before the claim' }));
  assert.equal(isFront(bg.pid), true);
  bg.child.kill('SIGKILL');
  await bg.wait();
  const d = s.hako(['delete', '--force', id], { env: warm(s) });
  assert.equal(d.status, 0, show(d));
  writeFileSync(join(pause, 'go'), '');
  // the worker claims, sees its front gone, and ends (as the killed CLI would have)
  await waitUntil(() => !existsSync(`/proc/${worker}`) || readFileSync(`/proc/${worker}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z', { what: `worker ${worker} to end` });
  assert.equal(existsSync(join(s.root, id)), false, `the state of ${id} is left`);
}));

test("the front's spare helper, forked while the worker works out the command: taken by a SPAWN of its layout, else killed; never left behind", scoped(async (s) => {
  // a package (and a server) of this test's own: its helpers are told apart by their command line
  const pkg = join(s.dir, 'pkg');
  for (const part of ['bin', 'dist/cli', 'native/hako-helper']) cpSync(join(REPO, part), join(pkg, part), { recursive: true, verbatimSymlinks: true });
  const sock = join(s.dir, 'spare.sock');
  const own = spawn(NODE, [join(pkg, 'bin', 'start.cjs'), 'serve', '--socket', sock], { stdio: ['ignore', 'ignore', 'pipe'] });
  own.stderrText = '';
  own.stderr.setEncoding('utf8').on('data', (d) => { own.stderrText += d; });
  try {
    await waitUntil(() => existsSync(sock), { what: 'the test\'s own server to listen' });
    const hako = join(pkg, 'bin', 'hako');
    const helper = join(pkg, 'native', 'hako-helper');
    const spares = () => listPids().filter((p) => cmdline(p).join(' ') === `${helper} --sealed`);
    const b = s.bundle().sh('echo out; echo err >&2; exit 5');
    const id = s.id();
    const cases = [
      // taken: the first helper of each is of the spare's layout
      [['unshare', '--pid', '--mount', '--uts', '--ipc', '--net', '--mount-proc', 'sh', '-c', 'echo $$; exit 3'], 3, '1\n'],
      [['run', '-b', b.dir, id], 5, 'out\n'],
      // no helper at all: killed
      [['unshare', '--help'], 0, null],
      [['run', '-b', join(s.dir, 'none'), id], 1, ''],
      [['exec', 'nosuch', 'true'], 255, ''],
    ];
    for (const [args, status, stdout] of cases) {
      const w = runSync(hako, ['--root', s.root, ...args], { env: s.env({ HAKO_SOCKET: sock }) });
      // the front killed and reaped an unused spare before it exited
      assert.deepEqual(spares(), [], `${args.join(' ')}: a spare helper is left`);
      const c = runSync(hako, ['--root', s.root, ...args], { env: s.env({ HAKO_SOCKET: '' }) });
      assert.equal(w.status, status, `${args.join(' ')}: ${show(w)}`);
      if (stdout !== null) assert.equal(w.stdout, stdout, args.join(' '));
      assert.deepEqual([w.status, w.stdout, w.stderr], [c.status, c.stdout, c.stderr], args.join(' '));
    }
  } finally {
    await stopServer(own);
  }
  assert.doesNotMatch(own.stderrText, /./, 'the server said nothing');
}));

test('the same unshare again through the server: the front makes its namespaces ahead (docs/SERVER.md), and every run says what it says without a server', scoped(async (s) => {
  const cwd = s.path('ahead-cwd');
  mkdirSync(cwd, { recursive: true });
  const host = readFileSync('/proc/sys/kernel/hostname', 'utf8');
  const script = 'pwd; cat /proc/sys/kernel/hostname; echo inside >/proc/sys/kernel/hostname; cat /proc/sys/kernel/hostname; ' +
    'grep -c : /proc/net/dev; ls /proc | grep -c "^[0-9]"; grep -c . /proc/self/mountinfo; exit 7';
  const args = ['unshare', '--pid', '--mount', '--uts', '--ipc', '--net', '--mount-proc', 'sh', '-c', script];
  const c = s.hako(args, { env: cold(s), cwd });
  assert.equal(c.status, 7, show(c));
  // (its own uts namespace, only lo, PID 1 and the two it runs; and as many mounts as the host and proc)
  assert.match(c.stdout, new RegExp(`^${cwd}\\n${host}inside\\n1\\n3\\n\\d+\\n$`));
  // the first run through the server teaches its worker the command's namespaces; the next ones
  // have them made ahead (serve-ahead.test.mjs shows they are joined)
  for (let i = 0; i < 4; i++) {
    const w = s.hako(args, { env: warm(s), cwd });
    assert.deepEqual([w.status, w.stdout, w.stderr], [c.status, c.stdout, c.stderr], `run ${i}`);
  }
  assert.equal(readFileSync('/proc/sys/kernel/hostname', 'utf8'), host);
}));

test('hako sandbox run passes the caller\'s stdin on through the server as without it', scoped(async (s) => {
  const { rootfs } = s.bundle();
  const sandbox = (env, opts) => s.hako(['sandbox', 'run', '--sandbox-root', s.path('sandboxes'), '--rootfs', rootfs, '--', 'sh', '-c', 'cat; echo end'], { env, ...opts });
  for (const [what, opts, out] of [['a pipe', { input: 'piped\n' }, 'piped\nend\n'], ['/dev/null', { stdio: ['ignore', 'pipe', 'pipe'] }, 'end\n']]) {
    const w = sandbox(warm(s), opts);
    const c = sandbox(cold(s), opts);
    assert.deepEqual([w.status, w.stdout, w.stderr], [0, out, ''], `${what}, through the server: ${show(w)}`);
    assert.deepEqual([c.status, c.stdout, c.stderr], [0, out, ''], `${what}, without: ${show(c)}`);
  }
}));

test("a worker keeps its Runtime between commands: a bundle's config changed between runs is the one run", scoped(async (s) => {
  // the same bundle, its config.json rewritten before each run (same size, so only the contents
  // and the times differ); the server's workers take the runs in turn, each several of them
  const b = s.bundle();
  for (let i = 1; i <= 6; i++) {
    b.sh(`echo run${i}`);
    const r = s.hako(['run', '-b', b.dir, s.id()], { env: warm(s) });
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, `run${i}\n`, ''], `run ${i}`);
  }
}));

/** Whether a foreground run with env went through a server (the caller is the front then). */
async function wentThroughServer(s, env, hako) {
  const b = s.bundle().sh(`trap 'exit 0' TERM; sleep ${s.marker} & wait`);
  const args = ['run', '-b', b.dir, s.id()];
  const bg = hako ? new Background(hako, ['--root', s.root, ...args], { env }) : s.spawnHako(args, { env });
  if (hako) s.background.push(bg);
  await sleeperPid(s);
  const front = isFront(bg.pid);
  bg.child.kill('SIGTERM');
  const r = await bg.wait();
  assert.equal(r.status, 0, JSON.stringify(r));
  await waitUntil(() => !listPids().some((p) => cmdline(p).join(' ') === `sleep ${s.marker}`), { what: 'the sleep to end' });
  return front;
}

test('a worker whose stderr is a pipe answers at once: a command that leaves nothing running is never taken for one that did (HAKO_SERVE_DEBUG says "the command left")', scoped(async (s) => {
  // node makes a worker's own process.stderr when first used; on a pipe it is a socket, which a
  // command's path made later was taken for work left running: the worker lingered 3 s, then ended
  const sock = join(dir, 'debug.sock');
  const p = spawn(NODE, [join(REPO, 'bin', 'start.cjs'), 'serve', '--socket', sock], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HAKO_SERVE_DEBUG: '1' } });
  p.stderrText = '';
  p.stderr.setEncoding('utf8').on('data', (d) => { p.stderrText += d; });
  try {
    await waitUntil(() => existsSync(sock), { what: 'hako serve to listen' });
    const env = s.env({ HAKO_SOCKET: sock });
    assert.ok(await wentThroughServer(s, env), 'the commands go through this server');
    for (let i = 0; i < 4; i++) {
      for (const args of [['list'], ['state', `nope-${i}`], ['list', '-q']]) runSync(join(REPO, 'bin', 'hako'), ['--root', s.root, ...args], { env });
    }
  } finally {
    await stopServer(p);
  }
  assert.doesNotMatch(p.stderrText, /the command left/, p.stderrText);
}));

test("a helper's last answer reaches the worker before its end: hako ns through the server answers every time", scoped(async (s) => {
  // the front saw a one-shot helper's end (SIGCHLD) and its last answer in one poll and sent
  // CHILD_EXIT first: the request waiting for that answer failed ("the helper ended before the
  // plan (exit 0)"), in ~6% of runs with a static helper
  for (let i = 0; i < 100; i++) {
    const r = s.hako(['ns', '--tree'], { env: warm(s) });
    assert.equal(r.status, 0, `run ${i}: ${show(r)}`);
  }
}));

test('no server, a stale socket, a socket of another user, another build: bin/hako runs Node as before', scoped(async (s) => {
  assert.equal(await wentThroughServer(s, warm(s)), true, 'the server is used when it answers');
  assert.equal(await wentThroughServer(s, warm(s), join(REPO, 'bin', 'hako.sh')), true, "npm's command, bin/hako.sh, execs the front too");
  assert.equal(await wentThroughServer(s, s.env({ HAKO_SOCKET: join(s.dir, 'none.sock') })), false, 'no socket');
  // a socket nobody listens on (its server was killed)
  const stale = join(s.dir, 'stale.sock');
  const dead = spawn(NODE, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)})`], { stdio: 'ignore' });
  await waitUntil(() => existsSync(stale), { what: 'the stale socket' });
  dead.kill('SIGKILL');
  await new Promise((r) => dead.once('exit', r));
  assert.equal(await wentThroughServer(s, s.env({ HAKO_SOCKET: stale })), false, 'a stale socket');
  // the server's socket, owned by another user: never used
  const owner = statSync(socket).uid;
  chownSync(socket, 65534, 65534);
  try {
    assert.equal(await wentThroughServer(s, warm(s)), false, "another user's socket");
  } finally {
    chownSync(socket, owner, owner);
  }
  // another build: a copy of the package, whose CLI bundle is not the one the server loaded
  const pkg = join(s.dir, 'pkg');
  for (const part of ['bin', 'dist/cli', 'native/hako-helper']) cpSync(join(REPO, part), join(pkg, part), { recursive: true, verbatimSymlinks: true });
  assert.equal(await wentThroughServer(s, warm(s), join(pkg, 'bin', 'hako')), false, 'another build');
  assert.equal(await wentThroughServer(s, warm(s)), true, 'the server still serves its own build');
}));
