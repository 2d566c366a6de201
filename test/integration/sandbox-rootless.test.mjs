// Sandboxes for a user without root (issue 12): each test runs a small Node program as a throw-away
// user (createUser: a /etc/subuid and /etc/subgid range of its own) through setpriv. The sandbox's
// disk and overlay live in a keeper process's user and mount namespaces; limits go through a
// delegated cgroup when the user has one (simulated here as root: a cgroup chowned to the user in
// every hierarchy, the user's process in it), otherwise through rlimits, and a limit asked for that
// cannot be held is refused unless bestEffort. Each test asserts nothing is left: no process of the
// user (the keeper), no state, no cgroup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { makeRootfs, REPO, runSync, scoped, waitUntil } from './oci-util.mjs';
import { createUser, NODE, removeUser } from './util.mjs';

const HAS_TOOLS = ['/usr/bin/setpriv', '/usr/bin/newuidmap', '/usr/bin/newgidmap', '/usr/bin/unshare'].every((f) => existsSync(f));
const skip = !HAS_TOOLS && 'setpriv and unshare (util-linux) and newuidmap/newgidmap (uidmap) are needed';

let user;
before(async () => { if (!skip) user = await createUser(); });
after(async () => { if (user) await removeUser(user); });

/** The user's processes (the keeper is one). */
function userProcesses() {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return statSync(`/proc/${p}`).uid === user.uid && readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z'; } catch { return false; }
  });
}

/** A rootfs, a sandbox root and an XDG_RUNTIME_DIR the user can use, under the scope's dir. */
function setUp(s) {
  const top = s.path('rootless');
  mkdirSync(top, { mode: 0o755 });
  const rootfs = join(top, 'rootfs');
  makeRootfs(rootfs);
  for (const a of ['yes', 'seq']) symlinkSync('busybox', join(rootfs, 'bin', a));
  mkdirSync(join(rootfs, 'box'));
  // the user's own base, as an image store of the user's unpacks it (files of ids the sandbox's
  // user namespace does not map could not be written even by its root)
  runSync('chown', ['-R', '-h', `${user.uid}:${user.gid}`, rootfs]);
  const root = join(top, 'sb');
  const xdg = join(top, 'xdg');
  for (const d of [root, xdg]) { mkdirSync(d, { mode: 0o700 }); chownSync(d, user.uid, user.gid); }
  return { rootfs, root, xdg };
}

/** Runs `body` (an async function's text; `Sandbox`, `out`, `rootfs` and `root` in scope) as the
 * user, inside the cgroups `cgroups` (host dirs) when given; returns `out` as the program left it. */
async function asUser(s, env, body, { cgroups = [], onLine, tun = false, fuse = false } = {}) {
  const dist = join(dirname(dirname(user.hako)), 'dist', 'index.js');
  const script = `const { Sandbox } = await import(${JSON.stringify(dist)});
    const rootfs = ${JSON.stringify(env.rootfs)}; const root = ${JSON.stringify(env.root)}; const out = {};
    const fail = (e) => ({ code: e.code, message: e.message });
    try { ${body} } catch (e) { out.thrown = fail(e); }
    console.log(JSON.stringify(out));`;
  const enter = cgroups.map((d) => `echo $$ > ${d}/cgroup.procs`).join('; ');
  const command = `${enter}${enter ? '; ' : ''}exec setpriv --reuid ${user.uid} --regid ${user.gid} --clear-groups -- "$0" --input-type=module -e "$1"`;
  // tun: a 0666 /dev/net/tun for the user (Debian's default mode; this machine's may be 0600),
  // bound in a private mount namespace the program runs in
  // fuse: a 0666 /dev/fuse (Debian's default mode) the same way
  const devDir = s.path('dev');
  const binds = [tun && `mknod -m 666 ${devDir}/tun c 10 200 && mount --bind ${devDir}/tun /dev/net/tun`,
    fuse && `mknod -m 666 ${devDir}/fuse c 10 229 && mount --bind ${devDir}/fuse /dev/fuse`].filter(Boolean);
  const shell = binds.length ? ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mkdir ${devDir} && mount -t tmpfs -o size=16k,mode=755 tmpfs ${devDir} && ${binds.join(' && ')} && ${command}`]] : ['sh', ['-c', command]];
  const child = spawn(shell[0], [...shell[1], NODE, script],
    { cwd: '/', env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: env.xdg, HOME: user.home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; onLine?.(stdout, child); });
  child.stderr.on('data', (c) => { stderr += c; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const status = await new Promise((r) => child.on('exit', (c, sig) => r(c ?? sig)));
  clearTimeout(timer);
  if (onLine) return { status, stdout, stderr };
  assert.equal(status, 0, `${stderr}\n${stdout}`);
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** Nothing of the user's sandboxes is left: no process of the user, nothing in the sandbox root. */
async function assertNothingLeft(env) {
  await waitUntil(() => userProcesses().length === 0, { timeoutMs: 5000, what: "the user's processes (keepers) to end" });
  const left = readdirSync(env.root).filter((n) => n !== 'containers');
  const store = join(env.root, 'containers');
  if (existsSync(store)) left.push(...readdirSync(store).filter((n) => n !== '@locks').map((n) => `container ${n}`));
  assert.deepEqual(left, [], 'sandbox state left behind');
}

test('rootless: verdicts, a session, files, symlinks refused, rlimits, refused and best-effort limits, ENOSPC; nothing left', { skip }, scoped(async (s) => {
  const env = setUp(s);
  const hostFree = statfsSync(env.root).bfree;
  const out = await asUser(s, env, `
    out.caps = await Sandbox.capabilities();
    try { await Sandbox.create({ rootfs, root, limits: { memoryBytes: 64 << 20 } }); } catch (e) { out.memRefused = fail(e); }
    const sb = await Sandbox.create({ rootfs, root, limits: { diskBytes: 8 << 20, fileSizeBytes: 64 << 20 } });
    out.keeper = JSON.parse(await (await import('node:fs/promises')).readFile(root + '/' + sb.id + '/keeper', 'utf8')).pid;
    const r1 = await sb.run(['sh', '-c', 'echo out; echo err >&2; id -u; cat /proc/self/uid_map | tr -s " "; echo kept > /box/f; exit 3']);
    out.r1 = { status: r1.status, exitCode: r1.exitCode, stdout: r1.stdout.toString(), stderr: r1.stderr.toString(), notEnforced: r1.notEnforced };
    out.session = (await sb.run(['cat', '/box/f'])).stdout.toString();
    await sb.writeFile('/box/in.txt', 'from the host\\n');
    out.wrote = (await sb.run(['sh', '-c', 'cat /box/in.txt; stat -c %u /box/in.txt'])).stdout.toString();
    out.read = (await sb.readFile('/box/f')).toString();
    await sb.run(['sh', '-c', 'ln -s /etc/passwd /box/l; ln -s / /box/d']);
    for (const p of ['/box/l', '/box/d/etc/passwd']) { try { await sb.readFile(p); out[p] = 'read'; } catch (e) { out[p] = e.code; } }
    out.timeout = (await sb.run(['sleep', '5'], { timeoutMs: 300 })).status;
    out.output = (await sb.run(['yes'], { limits: { outputBytes: 1000 } })).status;
    out.cpu = (await sb.run(['sh', '-c', 'while :; do :; done'], { limits: { cpuTimeMs: 1000, wallTimeMs: 10000 } })).status;
    // RLIMIT_NPROC counts the sandbox's user namespace only: the user's host processes do not count
    const { spawn } = await import('node:child_process');
    const host = Array.from({ length: 8 }, () => spawn('sleep', ['20'], { stdio: 'ignore' }));
    const small = await sb.run(['sh', '-c', 'sleep 1 & sleep 1 & wait; echo forked'], { limits: { pids: 5 } });
    out.small = small.stdout.toString();
    const bomb = await sb.run(['sh', '-c', '(i=0; while [ $i -lt 40 ]; do sleep 3 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#'], { limits: { pids: 16 } });
    out.bomb = bomb.stdout.toString().trim();
    for (const h of host) h.kill('SIGKILL');
    try { await sb.run(['true'], { limits: { cpus: 0.5 } }); out.cpusRun = 'ran'; } catch (e) { out.cpusRun = fail(e); }
    const full = await sb.run(['dd', 'if=/dev/zero', 'of=/big', 'bs=1M', 'count=32']);
    out.full = full.stderr.toString();
    await sb.close();
    const be = await Sandbox.create({ rootfs, root, bestEffort: true, limits: { memoryBytes: 64 << 20 } });
    const r2 = await be.run(['true']);
    out.bestEffort = { status: r2.status, notEnforced: r2.notEnforced };
    await be.close();`);
  assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
  // what it says it enforces here (no delegated cgroup)
  assert.equal(out.caps.memoryBytes.enforced, false, JSON.stringify(out.caps.memoryBytes));
  assert.match(out.caps.memoryBytes.how, /no delegated cgroup/);
  assert.equal(out.caps.pids.enforced, true);
  assert.match(out.caps.pids.how, /RLIMIT_NPROC/);
  assert.match(out.caps.cpuTimeMs.how, /RLIMIT_CPU, per process/);
  assert.equal(out.caps.overlay.enforced, true);
  assert.equal(out.caps.userNamespace.enforced, true);
  // an explicit limit that cannot be held: refused, naming it; with bestEffort it runs, and says so
  assert.equal(out.memRefused.code, 'unsupported');
  assert.match(out.memRefused.message, /^hako: sandbox: limits\.memoryBytes: cannot be enforced for a user without root here .*bestEffort/);
  assert.equal(out.cpusRun.code, 'unsupported');
  assert.match(out.cpusRun.message, /limits\.cpus/);
  assert.deepEqual(out.bestEffort, { status: 'ok', notEnforced: ['memoryBytes'] });
  // verdicts; uid 0 is the user, its subordinate range above it
  assert.equal(out.r1.status, 'exit');
  assert.equal(out.r1.exitCode, 3);
  assert.equal(out.r1.stdout, `out\n0\n 0 ${user.uid} 1\n 1 ${user.subStart} ${user.subCount}\n`);
  assert.equal(out.r1.stderr, 'err\n');
  assert.deepEqual(out.r1.notEnforced, ['memoryBytes'], 'the default memory limit is left out, and reported');
  assert.equal(out.session, 'kept\n');
  assert.equal(out.wrote, 'from the host\n0\n');
  assert.equal(out.read, 'kept\n');
  assert.equal(out['/box/l'], 'permission');
  assert.equal(out['/box/d/etc/passwd'], 'permission');
  assert.equal(out.timeout, 'timeout');
  assert.equal(out.output, 'output-limit');
  assert.equal(out.cpu, 'cpu-time');
  assert.equal(out.small, 'forked\n', 'pids 5 with 8 host processes of the user: counted in the user namespace');
  const n = Number(out.bomb);
  assert.ok(n >= 8 && n <= 17, `the bomb forked up to the limit: ${out.bomb} processes`);
  assert.match(out.full, /No space left on device/);
  assert.ok(Math.abs(statfsSync(env.root).bfree - hostFree) * statfsSync(env.root).bsize < 4 << 20, 'the host disk did not fill');
  assert.ok(!existsSync(`/proc/${out.keeper}`) || readFileSync(`/proc/${out.keeper}/stat`, 'utf8').includes(') Z'), 'the keeper is gone');
  await assertNothingLeft(env);
}));

/** A cgroup delegated to the user in every hierarchy (as systemd delegates one), for `fn`. */
async function withDelegation(s, fn) {
  const name = `hako-deleg-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' '))
    .filter((f) => f.length > 9 && ['cgroup', 'cgroup2'].includes(f[f.indexOf('-') + 1])).map((f) => f[4]);
  const dirs = mounts.map((m) => join(m, name));
  for (const d of dirs) {
    mkdirSync(d);
    // a new cpuset cgroup takes no process until it has CPUs and memory nodes
    for (const f of ['cpuset.cpus', 'cpuset.mems']) if (existsSync(join(d, f))) writeFileSync(join(d, f), readFileSync(join(dirname(d), f)));
    chownSync(d, user.uid, user.gid);
    for (const f of readdirSync(d)) { try { chownSync(join(d, f), user.uid, user.gid); } catch { /* read-only file */ } }
  }
  try {
    await fn(dirs);
  } finally {
    await waitUntil(() => userProcesses().length === 0, { timeoutMs: 5000, what: "the user's processes to end" });
    const children = dirs.flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name)));
    for (const d of dirs) { try { rmdirSync(d); } catch { /* reported below */ } }
    assert.deepEqual(children, [], "runs' cgroups left in the delegated cgroup");
    assert.deepEqual(dirs.filter((d) => existsSync(d)), []);
  }
}

test('rootless with a delegated cgroup: memory and pids are cgroup limits, usage from the cgroup; nothing left', { skip }, scoped(async (s) => {
  const env = setUp(s);
  await withDelegation(s, async (cgroups) => {
    const out = await asUser(s, env, `
      out.caps = await Sandbox.capabilities();
      const sb = await Sandbox.create({ rootfs, root, limits: { memoryBytes: 32 << 20, pids: 24, wallTimeMs: 20000 } });
      const hog = await sb.run(['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done']);
      out.hog = { status: hog.status, error: hog.error, maxRssBytes: hog.usage.maxRssBytes, notEnforced: hog.notEnforced };
      const bomb = await sb.run(['sh', '-c', 'b() { b | b & }; b; sleep 5'], { limits: { wallTimeMs: 1500 } });
      out.bomb = { status: bomb.status, pidsPeak: bomb.usage.pidsPeak };
      const ok = await sb.run(['sh', '-c', 'cat /proc/self/cgroup | grep memory']);
      out.ok = { status: ok.status, stdout: ok.stdout.toString(), cpu: ok.usage.cpuUserMs + ok.usage.cpuSystemMs };
      await sb.close();`, { cgroups });
    assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
    assert.equal(out.caps.memoryBytes.enforced, true, JSON.stringify(out.caps));
    assert.match(out.caps.cgroups.how, /delegated/);
    assert.equal(out.hog.status, 'memory', JSON.stringify(out.hog));
    assert.ok(out.hog.maxRssBytes > 16 << 20 && out.hog.maxRssBytes <= (32 << 20) + (1 << 20), `maxRssBytes ${out.hog.maxRssBytes}`);
    assert.equal(out.hog.notEnforced, undefined);
    assert.ok(out.bomb.pidsPeak <= 24 && out.bomb.pidsPeak >= 10, `pidsPeak ${out.bomb.pidsPeak}`);
    assert.equal(out.ok.status, 'ok');
    assert.equal(out.ok.stdout.trim().split(':').pop(), '/', "the run is in a cgroup namespace of its own cgroup");
  });
  await assertNothingLeft(env);
}));

test('rootless: a SIGKILLed Node process leaves what `hako sandbox prune`, as the user, removes', { skip }, scoped(async (s) => {
  const env = setUp(s);
  const r = await asUser(s, env, `
    const sb = await Sandbox.create({ rootfs, root });
    await sb.writeFile('/box/x', 'x');
    sb.run(['sleep', '30']);
    setTimeout(() => console.log('running'), 500);
    await new Promise(() => {});`, { onLine: (text, child) => { if (text.includes('running')) child.kill('SIGKILL'); } });
  assert.equal(r.status, 'SIGKILL', r.stderr);
  // the keeper reads EOF and goes, and the run with its helper: no process of the user is left
  await waitUntil(() => userProcesses().length === 0, { timeoutMs: 5000, what: 'the keeper and the run to end' });
  assert.equal(readdirSync(env.root).filter((n) => n !== 'containers').length, 1, 'the state is left for prune');
  const p = runSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--', user.hako, 'sandbox', 'prune', '--sandbox-root', env.root],
    { env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: env.xdg }, cwd: '/' });
  assert.equal(p.status, 0, p.stderr);
  assert.match(p.stdout, /^[0-9a-f]{12}\n$/);
  await assertNothingLeft(env);
  // `hako sandbox check` as the user says what is enforced, with --json
  const c = runSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--', user.hako, 'sandbox', 'check', '--json'],
    { env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: env.xdg }, cwd: '/' });
  assert.equal(c.status, 0, c.stderr);
  assert.equal(JSON.parse(c.stdout).memoryBytes.enforced, false);
}));

test('rootless without /etc/subuid ranges: a single-id map (setgroups denied), and a user other than 0 refused', { skip }, scoped(async (s) => {
  const env = setUp(s);
  const range = `${user.subStart}-${user.subStart + user.subCount - 1}`;
  assert.equal(runSync('usermod', ['--del-subuids', range, '--del-subgids', range, user.name]).status, 0);
  try {
    const out = await asUser(s, env, `
      try { await Sandbox.create({ rootfs, root, user: 1000 }); } catch (e) { out.refused = fail(e); }
      const sb = await Sandbox.create({ rootfs, root });
      const r = await sb.run(['sh', '-c', 'id -u; cat /proc/self/setgroups; cat /proc/self/uid_map | tr -s " "; echo x > /box/x; cat /box/x']);
      out.r = { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
      out.caps = (await Sandbox.capabilities()).userNamespace;
      await sb.close();`);
    assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
    assert.equal(out.refused.code, 'unsupported');
    assert.match(out.refused.message, /user 1000: without a range in \/etc\/subuid/);
    assert.deepEqual(out.r, { status: 'ok', stdout: `0\ndeny\n 0 ${user.uid} 1\nx\n`, stderr: '' });
    assert.match(out.caps.how, /only uid and gid 0/);
  } finally {
    assert.equal(runSync('usermod', ['--add-subuids', range, '--add-subgids', range, user.name]).status, 0);
  }
  await assertNothingLeft(env);
}));

test('rootless on slirp4netns: tap0 and a route out; link-local and the host\'s own addresses unreachable (the guard joins the keeper\'s user namespace)', { skip: skip || (!existsSync('/usr/bin/slirp4netns') && 'needs slirp4netns') }, scoped(async (s) => {
  const env = setUp(s);
  const out = await asUser(s, env, `
    const sb = await Sandbox.create({ rootfs, root, network: 'slirp4netns' });
    const r = await sb.run(['sh', '-c', 'grep -c tap0 /proc/net/dev; ip route']);
    out.r = { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString(), error: r.error };
    await sb.close();`, { tun: true });
  assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
  assert.equal(out.r.status, 'ok', JSON.stringify(out.r));
  assert.match(out.r.stdout, /^1\n/);
  assert.match(out.r.stdout, /^default via 10\.0\.2\.2 dev tap0/m);
  assert.match(out.r.stdout, /^unreachable 169\.254\.0\.0\/16/m);
  await assertNothingLeft(env);
}));

/** sandbox-syscalls.c and sandbox-hostile.c, built static into the user's rootfs (/box). */
function buildProbes(s, env) {
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libc.a') || process.arch !== 'x64') return false;
  for (const [name, src, extra] of [['probe', 'sandbox-syscalls.c', []], ['hostile', 'sandbox-hostile.c', ['-pthread']]]) {
    const bin = join(env.rootfs, 'box', name);
    execFileSync('cc', ['-static', ...extra, '-O1', '-o', bin, join(REPO, 'test/integration', src)]);
    chownSync(bin, user.uid, user.gid);
  }
  return true;
}

test('rootless hostile code: no network, /proc and /sys secrets, hako out of reach, seccomp, a thread bomb, inodes and /dev/shm, nothing kept between runs or sandboxes', { skip }, scoped(async (s, t) => {
  const env = setUp(s);
  for (const a of ['nc', 'find']) symlinkSync('busybox', join(env.rootfs, 'bin', a));
  if (!buildProbes(s, env)) return t.skip('needs x86-64 and a static libc (libc6-dev) to build the probes');
  writeFileSync(s.path('host-secret'), 'secret');
  // a service of the host on its loopback: a sandbox with network 'none' must not reach it
  const server = createServer((c) => c.end('host-service\n'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const hostFree = statfsSync(env.root).bfree;
  let out;
  try {
    out = await asUser(s, env, `
      const text = (r) => ({ status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString(), error: r.error, pidsPeak: r.usage.pidsPeak });
      const sb = await Sandbox.create({ rootfs, root, limits: { diskBytes: 8 << 20, fileSizeBytes: 64 << 20 } });
      out.keeper = JSON.parse(await (await import('node:fs/promises')).readFile(root + '/' + sb.id + '/keeper', 'utf8')).pid;
      out.net = text(await sb.run(['sh', '-c', 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; nc -w 2 169.254.169.254 80 </dev/null; nc -w 2 127.0.0.1 ${port} </dev/null; true'], { timeoutMs: 10000 }));
      out.secrets = text(await sb.run(['sh', '-c', [
        'cat ${s.path('host-secret')} 2>/dev/null && echo LEAK-host',
        'for f in /proc/kcore /proc/keys /proc/kallsyms /proc/timer_list /proc/sched_debug; do [ -n "$(head -c 1 $f 2>/dev/null)" ] && echo LEAK-$f; done',
        'echo b > /proc/sysrq-trigger 2>/dev/null && echo LEAK-sysrq',
        'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo LEAK-sysctl',
        'ls /sys/kernel 2>/dev/null | grep -q . && echo LEAK-sys-kernel',
        'touch /sys/x 2>/dev/null && echo LEAK-sys',
        'echo pid1 $(cat /proc/1/cmdline | tr "\\\\0" " ")',
        'echo pids $(ls /proc | grep -E "^[0-9]+$")',
        'kill -0 ' + out.keeper + ' 2>&1; kill -0 ' + process.pid + ' 2>&1; grep TracerPid /proc/1/status',
      ].join('; ')]));
      out.probe = text(await sb.run(['/box/probe']));
      out.unshare = (await sb.run(['unshare', '-U', 'true'])).exitCode;
      out.threads = text(await sb.run(['/box/hostile', 'threads'], { limits: { pids: 32, wallTimeMs: 1500 } }));
      out.after = (await sb.run(['true'])).status;
      out.reserve = text(await sb.run(['/box/hostile', 'reserve', '8', '16']));
      out.shm = text(await sb.run(['dd', 'if=/dev/zero', 'of=/dev/shm/big', 'bs=1M', 'count=32']));
      out.inodes = text(await sb.run(['sh', '-c', 'i=0; while mkdir /box/d$i 2>/dev/null; do i=$((i+1)); done; echo $i; mkdir /box/last'], { timeoutMs: 30000 }));
      out.clean = text(await sb.run(['sh', '-c', 'rm -r /box/d*; echo cleaned'], { timeoutMs: 30000 }));
      // what one run leaves: the next run and another sandbox look for it
      out.left = text(await sb.run(['sh', '-c', 'echo x > /tmp/left; echo y > /dev/shm/left; echo z > /box/kept; (sleep 3717 &); echo started']));
      const fs = await import('node:fs');
      out.sleeping = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'utf8') === 'sleep\\u00003717\\u0000'; } catch { return false; } }).length;
      const look = 'ls /tmp/left /dev/shm/left 2>&1; echo sleeping $(cat /proc/[0-9]*/comm | grep -c sleep); cat /box/kept 2>&1';
      out.next = text(await sb.run(['sh', '-c', look]));
      const other = await Sandbox.create({ rootfs, root });
      out.other = text(await other.run(['sh', '-c', look]));
      await other.close();
      await sb.close();`);
  } finally {
    server.close();
  }
  assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
  // network 'none': only lo; a link-local metadata address and the host's loopback service unreachable
  assert.equal(out.net.stdout.split('\n').filter(Boolean).join(' '), 'lo', JSON.stringify(out.net));
  assert.match(out.net.stderr, /169\.254\.169\.254\): Network is unreachable/);
  assert.match(out.net.stderr, /127\.0\.0\.1\)?:? ?.*Connection refused|can't connect to remote host \(127\.0\.0\.1\): Connection refused/);
  assert.doesNotMatch(out.net.stdout, /host-service/);
  // secrets: masked or unreadable; pid 1 is the run, no process of the host, hako or the keeper in sight
  assert.doesNotMatch(out.secrets.stdout, /^LEAK-/m, out.secrets.stdout);
  assert.match(out.secrets.stdout, /^pid1 sh -c /m);
  const pids = out.secrets.stdout.match(/^pids (.*)$/m)[1].split(' ').map(Number);
  // pid 1 (the run's sh) and the pipeline's sh, ls and grep: nothing of the host, of hako or of Node
  assert.ok(pids.length <= 4 && pids.every((p) => p < 100), `a process of the host is visible: ${pids}`);
  assert.match(out.secrets.stderr + out.secrets.stdout, new RegExp(`can't kill pid ${out.keeper}: No such process`), 'the keeper is out of reach');
  assert.match(out.secrets.stdout, /TracerPid:\s+0/);
  // seccomp: denied, the 32-bit ABI kills
  const got = Object.fromEntries(out.probe.stdout.trim().split('\n').map((l) => { const [k, ...v] = l.split(' '); return [k, v.join(' ')]; }));
  for (const k of ['io_uring_setup', 'keyctl', 'add_key', 'bpf', 'userfaultfd', 'perf_event_open', 'ptrace', 'unshare_user', 'clone_user']) {
    assert.equal(got[k], 'EPERM', `${k}: ${got[k]}`);
  }
  assert.equal(got.int80, 'killed 31', 'a 32-bit syscall kills the process (SIGSYS)');
  assert.notEqual(out.unshare, 0, 'unshare -U fails');
  // a thread bomb: RLIMIT_NPROC counts threads (pids 32: the keeper is one more)
  assert.equal(out.threads.status, 'timeout', JSON.stringify(out.threads));
  const made = Number(out.threads.stderr.match(/^threads: (\d+): EAGAIN$/m)?.[1]);
  // (the keeper and a run's helper count too, and under load a previous run's processes not yet reaped)
  assert.ok(made >= 8 && made <= 32, `threads made before EAGAIN: ${out.threads.stderr}`);
  assert.equal(out.after, 'ok', 'the sandbox works after it');
  // no address-space rlimit: a JVM-style reservation runs
  assert.equal(out.reserve.stdout, 'reserved 8\ntouched 16\n', JSON.stringify(out.reserve));
  // /dev/shm and the inodes are the sandbox's disk: ENOSPC inside, bounded, the sandbox still works
  assert.match(out.shm.stderr, /No space left on device/);
  assert.match(out.inodes.stderr, /No space left on device/);
  assert.ok(Number(out.inodes.stdout) > 100 && Number(out.inodes.stdout) < 10000, `inodes are bounded: ${out.inodes.stdout}`);
  assert.equal(out.clean.stdout, 'cleaned\n', JSON.stringify(out.clean));
  assert.ok(Math.abs(statfsSync(env.root).bfree - hostFree) * statfsSync(env.root).bsize < 4 << 20, 'the host disk did not fill');
  // leftovers: the run's background process died with it, its /tmp and /dev/shm are gone for the next run
  assert.equal(out.left.stdout, 'started\n');
  assert.equal(out.sleeping, 0, 'the background process died with its run');
  assert.match(out.next.stdout, /\/tmp\/left: No such file/);
  assert.match(out.next.stdout, /\/dev\/shm\/left: No such file/);
  assert.match(out.next.stdout, /^sleeping 0$/m);
  assert.match(out.next.stdout, /^z$/m, 'the writable layer is kept within the sandbox');
  assert.match(out.other.stdout, /\/tmp\/left: No such file/);
  assert.match(out.other.stdout, /'\/box\/kept': No such file/, 'another sandbox sees none of it');
  assert.match(out.other.stdout, /^sleeping 0$/m);
  await assertNothingLeft(env);
}));

test('rootless: 50 sandboxes at once from one process', { skip }, scoped(async (s) => {
  const env = setUp(s);
  const out = await asUser(s, env, `
    let worst = 0; let last = performance.now();
    const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last - 10); last = now; }, 10);
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const sb = await Sandbox.create({ rootfs, root });
      try { const r = await sb.run(['sh', '-c', 'echo ' + i + '; echo ' + i + ' > /box/mine; cat /box/*'], { timeoutMs: 60000 }); return r.status + ':' + r.stdout.toString().replace(/\\n/g, ' ').trim(); }
      finally { await sb.close(); }
    }));
    clearInterval(timer);
    out.results = results; out.worst = worst;`);
  assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
  assert.deepEqual(out.results, Array.from({ length: 50 }, (_, i) => `ok:${i} ${i}`), 'each sandbox ran, and saw only its own files');
  assert.ok(out.worst < 1500, `the event loop was blocked for ${Math.round(out.worst)} ms`);
  await assertNothingLeft(env);
}));

const HAS_FUSE = existsSync('/usr/bin/fuse-overlayfs') && existsSync('/dev/fuse');

test('rootless on fuse-overlayfs, asked for (HAKO_SANDBOX_OVERLAY=fuse) and where the kernel refuses overlayfs: runs, files kept across runs, close() leaves no fuse process or mount', { skip: skip || (!HAS_FUSE && 'needs fuse-overlayfs (scripts/setup.sh --test) and /dev/fuse') }, scoped(async (s) => {
  const env = setUp(s);
  // a mount(8) that refuses overlayfs as a kernel without it in user namespaces does (EPERM)
  const refusing = s.path('refusing');
  mkdirSync(refusing, { mode: 0o755 });
  writeFileSync(join(refusing, 'mount'), '#!/bin/sh\ncase " $* " in *" -t overlay "*) echo "mount: hako-sandbox: permission denied." >&2; exit 32;; esac\nexec /usr/bin/mount "$@"\n', { mode: 0o755 });
  const out = await asUser(s, env, `
    const fs = await import('node:fs');
    const keeperOf = (sb) => JSON.parse(fs.readFileSync(root + '/' + sb.id + '/keeper', 'utf8')).pid;
    const fuseOf = (pid) => fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => { try { return fs.readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].split(' ')[1] === String(pid) && fs.readFileSync('/proc/' + p + '/comm', 'utf8') === 'fuse-overlayfs\\n'; } catch { return false; } });
    const session = async (sb) => {
      const k = keeperOf(sb);
      const o = { keeper: k, fuse: fuseOf(k), mount: fs.readFileSync('/proc/' + k + '/mountinfo', 'utf8').split('\\n').filter((l) => l.includes(' ' + root + '/' + sb.id + '/rootfs ')).map((l) => l.split(' - ')[1].split(' ')[0]) };
      const r1 = await sb.run(['sh', '-c', 'echo kept > /box/f; mkdir /box/d; echo x > /tmp/t; cat /tmp/t; grep " / / " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1']);
      o.r1 = { status: r1.status, stdout: r1.stdout.toString(), stderr: r1.stderr.toString(), error: r1.error };
      o.r2 = (await sb.run(['cat', '/box/f'])).stdout.toString();
      await sb.writeFile('/box/in', 'from the host');
      o.r3 = (await sb.run(['cat', '/box/in'])).stdout.toString();
      o.read = (await sb.readFile('/box/f')).toString();
      o.base = fs.existsSync(rootfs + '/box/f');
      await sb.run(['ln', '-s', '/etc/passwd', '/box/l']);
      try { await sb.readFile('/box/l'); o.link = 'read'; } catch (e) { o.link = e.code; }
      const copy = root + '/../xdg/' + sb.id;
      await sb.copyOut('/box/f', copy);
      o.copied = fs.readFileSync(copy, 'utf8');
      await sb.close();
      o.fuseAfter = o.fuse.filter((p) => fs.existsSync('/proc/' + p));
      return o;
    };
    process.env.HAKO_SANDBOX_OVERLAY = 'fuse';
    out.asked = await session(await Sandbox.create({ rootfs, root }));
    process.env.HAKO_SANDBOX_OVERLAY = 'kernel';
    process.env.PATH = ${JSON.stringify(refusing)} + ':' + process.env.PATH;
    try { await Sandbox.create({ rootfs, root }); } catch (e) { out.kernelOnly = fail(e); }
    delete process.env.HAKO_SANDBOX_OVERLAY;
    out.fallback = await session(await Sandbox.create({ rootfs, root }));
    process.env.HAKO_SANDBOX_OVERLAY = 'bogus';
    try { await Sandbox.create({ rootfs, root }); } catch (e) { out.bogus = fail(e); }`, { fuse: true });
  assert.equal(out.thrown, undefined, JSON.stringify(out.thrown));
  for (const k of ['asked', 'fallback']) {
    const o = out[k];
    assert.deepEqual(o.mount, ['fuse.fuse-overlayfs'], `${k}: the keeper's rootfs is fuse-overlayfs`);
    assert.equal(o.fuse.length, 1, `${k}: one fuse-overlayfs, the keeper's child`);
    assert.deepEqual(o.r1, { status: 'ok', stdout: 'x\nfuse.fuse-overlayfs\n', stderr: '' }, k);
    assert.equal(o.r2, 'kept\n', `${k}: the writable layer is kept across runs`);
    assert.equal(o.r3, 'from the host');
    assert.equal(o.read, 'kept\n');
    assert.equal(o.base, false, 'the base is never written');
    assert.equal(o.link, 'permission', `${k}: a planted symbolic link is not followed`);
    assert.equal(o.copied, 'kept\n');
    assert.deepEqual(o.fuseAfter, [], `${k}: close() ended fuse-overlayfs`);
  }
  assert.equal(out.kernelOnly.code, 'io');
  assert.match(out.kernelOnly.message, /^hako: sandbox: mounting the disk and the kernel overlay in the user namespace failed: mount: hako-sandbox: permission denied\.$/);
  assert.equal(out.bogus.code, 'bad-option');
  assert.match(out.bogus.message, /^hako: sandbox: HAKO_SANDBOX_OVERLAY="bogus": auto, kernel or fuse$/);
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes('fuse-overlayfs'), 'no fuse mount on the host');
  // this machine's /dev/fuse as it is (root's only, unless Debian's 0666): a clear error, nothing left
  const denied = await asUser(s, env, `
    process.env.HAKO_SANDBOX_OVERLAY = 'fuse';
    try { await Sandbox.create({ rootfs, root }); } catch (e) { out.denied = fail(e); }
    delete process.env.HAKO_SANDBOX_OVERLAY;
    process.env.PATH = ${JSON.stringify(refusing)} + ':' + process.env.PATH;
    try { await Sandbox.create({ rootfs, root }); } catch (e) { out.neither = fail(e); }`);
  if (statSync('/dev/fuse').mode & 0o006) assert.equal(denied.denied, undefined);
  else {
    assert.deepEqual(denied.denied, { code: 'io', message: 'hako: sandbox: mounting the disk and fuse-overlayfs in the user namespace failed: hako-keeper: fuse-overlayfs: /dev/fuse is not readable and writable by the user' });
    // auto: the kernel's refusal and fuse-overlayfs's, both named
    assert.deepEqual(denied.neither, { code: 'io', message: "hako: sandbox: mounting the disk and the overlay in the user namespace failed (the kernel's, then fuse-overlayfs): mount: hako-sandbox: permission denied.; hako-keeper: fuse-overlayfs: /dev/fuse is not readable and writable by the user" });
  }
  await assertNothingLeft(env);
}));

test('rootless on fuse-overlayfs: a SIGKILLed Node process leaves no fuse-overlayfs, file proxy or keeper running', { skip: skip || (!HAS_FUSE && 'needs fuse-overlayfs (scripts/setup.sh --test) and /dev/fuse') }, scoped(async (s) => {
  const env = setUp(s);
  const r = await asUser(s, env, `
    process.env.HAKO_SANDBOX_OVERLAY = 'fuse';
    const sb = await Sandbox.create({ rootfs, root });
    await sb.writeFile('/box/x', 'x');
    sb.run(['sleep', '30']);
    setTimeout(() => console.log('running'), 500);
    await new Promise(() => {});`, { fuse: true, onLine: (text, child) => { if (text.includes('running')) child.kill('SIGKILL'); } });
  assert.equal(r.status, 'SIGKILL', r.stderr);
  await waitUntil(() => userProcesses().length === 0, { timeoutMs: 5000, what: 'fuse-overlayfs, the file proxy, the keeper and the run to end' });
  const p = runSync('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--', user.hako, 'sandbox', 'prune', '--sandbox-root', env.root],
    { env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: env.xdg }, cwd: '/' });
  assert.equal(p.status, 0, p.stderr);
  await assertNothingLeft(env);
}));
