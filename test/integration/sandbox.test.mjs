// The sandbox (issue 12): real sandboxes on a busybox rootfs made from the host's static busybox,
// hostile commands, verdicts and usage; each test checks that nothing was left behind (processes,
// cgroups, mounts, state).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Sandbox, SandboxPool, imageStore } from '../../dist/index.js';
import { busyboxEntries, tarOf, writeLayout } from './image-util.mjs';
import { haveTools, hostNetwork, TestHost } from './net-util.mjs';
import { Background } from './util.mjs';
import { HAKO, MARK_VAR, NODE, REPO, makeRootfs, processesWith, runSync, scoped, sleep, waitUntil } from './oci-util.mjs';

const EXTRA_APPLETS = ['yes', 'unshare', 'wget', 'ip', 'nc', 'find', 'cp', 'ping'];

function cgroupLeftovers(ids) {
  const found = [];
  for (const base of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', base, 'hako');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (ids.some((id) => name.startsWith(`${id}-`))) found.push(join(dir, name));
    }
  }
  return found;
}

/**
 * A scoped test with a rootfs, a sandbox root under the scope's dir and `create(options)` that
 * makes sandboxes there (closed at the end if the test did not). Afterwards the sandbox root
 * must hold nothing but the runtime's empty container store, and no cgroup of its runs remains.
 */
function sandboxTest(name, fn, options = {}) {
  test(name, options, scoped(async (s, t) => {
    const before = process.env[MARK_VAR];
    process.env[MARK_VAR] = s.token;
    const rootfs = s.path('rootfs');
    makeRootfs(rootfs);
    for (const a of EXTRA_APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    mkdirSync(join(rootfs, 'box'));
    const root = s.path('sb');
    const made = [];
    const base = { rootfs, root, env: { [MARK_VAR]: s.token } };
    const create = async (o = {}) => {
      const sb = await Sandbox.create({ ...base, ...o, env: { ...base.env, ...o.env } });
      made.push(sb);
      return sb;
    };
    try {
      await fn({ s, t, create, base, rootfs, root, made });
    } finally {
      await Promise.all(made.map((sb) => sb.close()));
      if (before === undefined) delete process.env[MARK_VAR];
      else process.env[MARK_VAR] = before;
    }
    const left = [];
    for (const n of existsSync(root) ? readdirSync(root) : []) {
      if (n !== 'containers') left.push(`sandbox state ${join(root, n)}`);
    }
    const store = join(root, 'containers');
    for (const n of existsSync(store) ? readdirSync(store) : []) {
      if (n === '@locks') {
        const locks = readdirSync(join(store, n));
        if (locks.length) left.push(`locks ${locks.join(', ')}`);
      } else left.push(`container state ${n}`);
    }
    left.push(...cgroupLeftovers(made.map((sb) => sb.id)));
    assert.deepEqual(left, [], 'the sandboxes left these behind');
  }));
}

sandboxTest('a run: status, exit code, stdout, stderr, stdin and usage', async ({ create }) => {
  const sb = await create();
  const r = await sb.run(['sh', '-c', 'echo out; echo err >&2; cat; exit 3'], { stdin: 'in\n' });
  assert.equal(r.status, 'exit');
  assert.equal(r.exitCode, 3);
  assert.equal(r.signal, null);
  assert.equal(r.stdout.toString(), 'out\nin\n');
  assert.equal(r.stderr.toString(), 'err\n');
  for (const k of ['wallMs', 'cpuUserMs', 'cpuSystemMs', 'maxRssBytes', 'pidsPeak', 'writtenBytes']) assert.equal(typeof r.usage[k], 'number', k);
  assert.ok(r.usage.maxRssBytes > 0 && r.usage.pidsPeak >= 1);
  const ok = await sb.run(['id']);
  assert.equal(ok.status, 'ok');
  assert.match(ok.stdout.toString(), /uid=0/);
  // no capabilities, no new privileges, a seccomp filter, a stdin that is /dev/null
  const st = await sb.run(['sh', '-c', 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; readlink /proc/self/fd/0']);
  assert.match(st.stdout.toString(), /CapEff:\s+0000000000000000/);
  assert.match(st.stdout.toString(), /CapBnd:\s+0000000000000000/);
  assert.match(st.stdout.toString(), /NoNewPrivs:\s+1/);
  assert.match(st.stdout.toString(), /Seccomp:\s+2/);
  assert.match(st.stdout.toString(), /\/dev\/null/);
  const missing = await sb.run(['/nonexistent']);
  assert.equal(missing.status, 'error');
  assert.match(missing.error, /nonexistent/);
});

sandboxTest('a fork bomb is stopped by pids', async ({ create }) => {
  const sb = await create({ limits: { pids: 24, wallTimeMs: 1500, cpus: 0.5 } });
  const r = await sb.run(['sh', '-c', 'b() { b | b & }; b; sleep 5']);
  assert.ok(['timeout', 'exit', 'ok', 'signal'].includes(r.status), r.status);
  assert.ok(r.usage.pidsPeak <= 24, `pidsPeak ${r.usage.pidsPeak}`);
  assert.ok(r.usage.pidsPeak >= 10, `the bomb did fork: pidsPeak ${r.usage.pidsPeak}`);
  // the sandbox works after it
  assert.equal((await sb.run(['true'])).status, 'ok');
});

sandboxTest("a memory hog gets 'memory', from the cgroup's OOM counter", async ({ create }) => {
  const sb = await create({ limits: { memoryBytes: 32 << 20, wallTimeMs: 20_000 } });
  const r = await sb.run(['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done']);
  assert.equal(r.status, 'memory', JSON.stringify(r));
  assert.ok(r.usage.maxRssBytes > 16 << 20 && r.usage.maxRssBytes <= (32 << 20) + (1 << 20), `maxRssBytes ${r.usage.maxRssBytes}`);
});

sandboxTest("an infinite loop gets 'cpu-time', from the cgroup's CPU usage", async ({ create }) => {
  const sb = await create({ limits: { cpuTimeMs: 300, wallTimeMs: 20_000 } });
  const r = await sb.run(['sh', '-c', 'while :; do :; done']);
  assert.equal(r.status, 'cpu-time');
  const cpu = r.usage.cpuUserMs + r.usage.cpuSystemMs;
  assert.ok(cpu >= 300, JSON.stringify(r.usage));
  // stopped by hako's watch of the cgroup, not by the RLIMIT_CPU backstop (2 s for this limit)
  assert.ok(cpu < 1500, `stopped after ${cpu} ms of CPU`);
  assert.equal(r.signal, 'SIGKILL');
});

sandboxTest("sleep gets 'timeout', and its background processes go with it", async ({ s, create }) => {
  const sb = await create();
  const t0 = Date.now();
  const r = await sb.run(['sh', '-c', `sleep ${s.marker} & sleep ${s.marker}`], { timeoutMs: 300 });
  assert.equal(r.status, 'timeout');
  assert.ok(Date.now() - t0 < 5000);
  assert.ok(r.usage.wallMs >= 300);
  assert.deepEqual(processesWith({ text: `sleep ${s.marker}` }), []);
});

sandboxTest("an output flood gets 'output-limit', capped, without hako's memory growing", async ({ create }) => {
  const sb = await create({ limits: { outputBytes: 64 << 10, wallTimeMs: 30_000 } });
  const rss = process.memoryUsage().rss;
  const r = await sb.run(['sh', '-c', 'yes flood & yes flood >&2']);
  assert.equal(r.status, 'output-limit');
  assert.equal(r.signal, 'SIGKILL', 'killed at the cap');
  assert.ok(r.usage.wallMs < 10_000, `killed at the cap, not at the wall-time limit: ${r.usage.wallMs} ms`);
  assert.equal(r.stdout.length + r.stderr.length, 64 << 10);
  const big = await sb.run(['sh', '-c', 'while :; do cat /bin/busybox; done'], { limits: { outputBytes: 8 << 20 } });
  assert.equal(big.status, 'output-limit');
  assert.equal(big.stdout.length, 8 << 20);
  assert.ok(process.memoryUsage().rss - rss < 96 << 20, `rss grew by ${(process.memoryUsage().rss - rss) >> 20} MiB`);
  // the streaming path is capped too
  const p = sb.spawn(['yes'], { limits: { outputBytes: 10_000 } });
  let n = 0;
  p.stdout.on('data', (c) => { n += c.length; });
  p.stdin.end();
  const pr = await p.result;
  assert.equal(pr.status, 'output-limit');
  assert.equal(pr.signal, 'SIGKILL');
  assert.equal(n, 10_000);
});

sandboxTest('filling the disk is ENOSPC inside; the host and the rootfs are untouched', async ({ create, rootfs, s }) => {
  const sb = await create({ limits: { diskBytes: 8 << 20, fileSizeBytes: 64 << 20 } });
  const hostFree = statfsSync(s.dir).bfree * statfsSync(s.dir).bsize;
  for (const where of ['/big', '/tmp/big', '/dev/shm/big']) {
    const r = await sb.run(['dd', 'if=/dev/zero', `of=${where}`, 'bs=1M', 'count=32']);
    assert.equal(r.status, 'exit', where);
    assert.match(r.stderr.toString(), /No space left on device/, where);
  }
  const hostNow = statfsSync(s.dir).bfree * statfsSync(s.dir).bsize;
  assert.ok(Math.abs(hostNow - hostFree) < 4 << 20, 'the host disk did not fill');
  assert.ok(!existsSync(join(rootfs, 'big')), 'the base is never written');
  // the writable layer keeps files between runs of a session
  await sb.run(['rm', '/big']);
  const fsize = await sb.run(['dd', 'if=/dev/zero', 'of=/tmp/f', 'bs=1M', 'count=4'], { limits: { fileSizeBytes: 1 << 20 } });
  assert.match(fsize.stderr.toString(), /File too large/, 'fileSizeBytes is RLIMIT_FSIZE');
  assert.equal((await sb.run(['sh', '-c', 'echo kept > /box/f'])).status, 'ok');
  assert.equal((await sb.run(['cat', '/box/f'])).stdout.toString(), 'kept\n');
  assert.ok(!existsSync(join(rootfs, 'box', 'f')));
});

sandboxTest('filling the inodes is ENOSPC inside, and the sandbox still runs', async ({ create }) => {
  const sb = await create({ limits: { diskBytes: 4 << 20 } });
  const r = await sb.run(['sh', '-c', 'i=0; while mkdir /box/d$i 2>/dev/null; do i=$((i+1)); done; echo $i; mkdir /box/last'], { timeoutMs: 60_000 });
  assert.match(r.stderr.toString(), /No space left on device/);
  assert.ok(Number(r.stdout.toString()) < 5000, `inodes are bounded: ${r.stdout}`);
  const clean = await sb.run(['sh', '-c', 'rm -r /box/d*; echo cleaned'], { timeoutMs: 60_000 });
  assert.equal(clean.stdout.toString(), 'cleaned\n', clean.error);
});

sandboxTest("no network: only lo, nothing reachable", async ({ create }) => {
  const sb = await create();
  const links = await sb.run(['cat', '/proc/net/dev']);
  const names = links.stdout.toString().split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean);
  assert.deepEqual(names, ['lo']);
  // a link-local metadata address and the host's own services: no route to anything
  const r = await sb.run(['sh', '-c', 'nc -w 2 169.254.169.254 80 </dev/null; nc -w 2 127.0.0.53 53 </dev/null; cat /proc/net/route'], { timeoutMs: 10_000 });
  assert.equal(r.status, 'ok');
  assert.match(r.stderr.toString(), /169\.254\.169\.254\): Network is unreachable/);
  assert.match(r.stderr.toString(), /127\.0\.0\.53\): Connection refused/, "the sandbox's own lo, not the host's");
  assert.equal(r.stdout.toString().trim().split('\n').length, 1, 'no route but the header');
});

/** A TCP server on the host that says `text` to whoever connects: its port. */
async function hostServer(host, text, servers) {
  const srv = createServer((c) => c.end(`${text}\n`));
  await new Promise((resolve) => srv.listen(0, host, resolve));
  servers.push(srv);
  return srv.address().port;
}

sandboxTest("network slirp4netns: out through the host's sockets; the host's loopback, its own addresses and link-local ones unreachable unless host: true opens the host's", async ({ create, t }) => {
  if (!existsSync('/usr/bin/slirp4netns')) return t.skip('needs slirp4netns');
  const external = Object.values(networkInterfaces()).flat().find((a) => a.family === 'IPv4' && !a.internal)?.address;
  if (!external) return t.skip('the host has no non-loopback IPv4 address');
  const servers = [];
  try {
    const loopback = await hostServer('127.0.0.1', 'loopback', servers);
    const any = await hostServer('0.0.0.0', 'host-service', servers);
    const probe = ['sh', '-c', `cat /proc/net/dev | grep -c tap0; ip route | grep ^default; for a in 10.0.2.2:${loopback} ${external}:${any} 169.254.169.254:80; do nc -w 3 \${a%:*} \${a#*:} </dev/null 2>&1; done; true`];
    const closed = await create({ network: 'slirp4netns' });
    const r = await closed.run(probe, { timeoutMs: 20_000 });
    assert.equal(r.status, 'ok', r.error);
    const out = r.stdout.toString();
    assert.match(out, /^1\ndefault via 10\.0\.2\.2 dev tap0/, out);
    assert.match(out, /10\.0\.2\.2\): Network is unreachable/, "the host's loopback (slirp4netns's 10.0.2.2) is closed");
    assert.match(out, new RegExp(`${external.replace(/\./g, '\\.')}\\): No route to host`), "the host's own address is unreachable");
    assert.match(out, /169\.254\.169\.254\): No route to host/, 'a link-local metadata address is unreachable');
    assert.doesNotMatch(out, /host-service|loopback/);
    // the routes are the sandbox's: without CAP_NET_ADMIN, code cannot remove them
    const del = await closed.run(['ip', 'route', 'del', '169.254.0.0/16']);
    assert.notEqual(del.exitCode, 0);
    const open = await create({ network: { mode: 'slirp4netns', host: true } });
    const o = (await open.run(probe, { timeoutMs: 20_000 })).stdout.toString();
    assert.match(o, /^host-service$/m, "host: true reaches the host's own address");
    assert.doesNotMatch(o, /^loopback$/m, 'a loopback-bound service stays out of reach (slirp4netns --disable-host-loopback)');
    assert.match(o, /169\.254\.169\.254\): No route to host/, 'link-local addresses stay unreachable with host: true');
  } finally {
    for (const srv of servers) srv.close();
  }
}, { timeout: 120_000 });

sandboxTest("network: the option's shapes are checked; a pool keeps its runs' networks made ahead", async ({ create, base, t }) => {
  for (const bad of ['bridge', { mode: 'slirp4netns', name: 'x' }, {}, { name: 'none' }, { mode: 'tap' }, { mode: 'pasta', netDir: '/x' }, { name: 'n', other: 1 }]) {
    await assert.rejects(create({ network: bad }), /^\w+Error: hako: Sandbox.create: options.network/, JSON.stringify(bad));
  }
  // pasta cannot serve root's sandboxes: refused at create (the scope checks that nothing was made)
  await assert.rejects(create({ network: 'pasta' }), (e) => e.code === 'unsupported' && /--network pasta: pasta does not serve root's containers/.test(e.message));
  if (!existsSync('/usr/bin/slirp4netns')) return t.skip('needs slirp4netns');
  const pool = new SandboxPool({ size: 2, ...base, network: 'slirp4netns' });
  try {
    await pool.ready();
    const r = await pool.run(['sh', '-c', 'grep -c tap0 /proc/net/dev; ip route | grep -c "^unreachable 169.254.0.0/16"']);
    assert.equal(r.status, 'ok', r.error);
    assert.equal(r.stdout.toString(), '1\n1\n');
    // a run that found its network ready paid for the exec only
    assert.ok(r.usage.wallMs < 1000, `wallMs ${r.usage.wallMs}`);
  } finally {
    await pool.close();
  }
});

sandboxTest("network NAME (the bridge, in a test host's network namespace): an address and a route out; the host's addresses unreachable unless --network-host; link-local never", async ({ s, rootfs, root, t }) => {
  if (!haveTools) return t.skip('needs containernetworking-plugins, busybox and ip netns');
  const before = hostNetwork();
  const host = new TestHost();
  const server = new Background('nsenter', [`--net=/run/netns/${host.name}`, NODE, '-e',
    "const n = require('net'); n.createServer((c) => c.end('lo-service\\n')).listen(8081, '127.0.0.1'); n.createServer((c) => c.end('host-service\\n')).listen(8080, '0.0.0.0', () => console.log('listening'))"], { env: host.env });
  try {
    await server.waitFor(/listening/);
    const probe = 'ip -4 -o addr show dev eth0; ip route | grep ^default; for a in 10.89.0.1:8080 10.89.0.1:8081 169.254.169.254:80; do nc -w 3 ${a%:*} ${a#*:} </dev/null 2>&1; done; true';
    const sandbox = (extra) => runSync('nsenter', [`--net=/run/netns/${host.name}`, HAKO, 'sandbox', 'run', '--sandbox-root', root, '--rootfs', rootfs, '--network', 'bridge', ...extra,
      '--env', `${MARK_VAR}=${s.token}`, '--', 'sh', '-c', probe], { env: { ...host.env, [MARK_VAR]: s.token } });
    const closed = sandbox([]);
    assert.equal(closed.status, 0, closed.stderr);
    assert.match(closed.stdout, /eth0\s+inet 10\.89\./);
    assert.match(closed.stdout, /^default via 10\.89\.0\.1 dev eth0/m);
    assert.match(closed.stdout, /10\.89\.0\.1:8080\): No route to host|10\.89\.0\.1\): No route to host/, "the host's own address (the bridge's) is unreachable");
    assert.match(closed.stdout, /169\.254\.169\.254\): No route to host/);
    assert.doesNotMatch(closed.stdout, /service/);
    const open = sandbox(['--network-host']);
    assert.equal(open.status, 0, open.stderr);
    assert.match(open.stdout, /^host-service$/m, "--network-host reaches the host's address");
    assert.doesNotMatch(open.stdout, /lo-service/, 'a loopback-bound service of the host stays out of reach');
    assert.match(open.stdout, /169\.254\.169\.254\): No route to host/, 'link-local addresses stay unreachable');
    const bad = runSync(HAKO, ['sandbox', 'run', '--rootfs', rootfs, '--net-dir', '/x', '--', 'true']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^hako sandbox run: --net-dir: only with --network NAME/);
    host.assertClean();
  } finally {
    server.child.kill();
    await server.closed;
    host.cleanup();
  }
  assert.equal(hostNetwork(), before, "the real host's network changed");
}, { timeout: 120_000 });

sandboxTest('host files, /proc and /sys secrets are out of reach', async ({ create, s }) => {
  writeFileSync(s.path('host-secret'), 'secret');
  const sb = await create();
  const r = await sb.run(['sh', '-c', [
    `cat ${s.path('host-secret')} 2>/dev/null && echo LEAK-host`,
    // proc files say size 0: a byte read is what counts
    'for f in /proc/kcore /proc/keys /proc/kallsyms /proc/timer_list /proc/sched_debug; do [ -n "$(head -c 1 $f 2>/dev/null)" ] && echo LEAK-$f; done',
    'ls /sys/firmware 2>/dev/null | grep -q . && echo LEAK-firmware',
    'echo b > /proc/sysrq-trigger 2>/dev/null && echo LEAK-sysrq',
    'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo LEAK-sysctl',
    'touch /sys/x 2>/dev/null && echo LEAK-sys',
    'cat /proc/1/cmdline | tr "\\0" " "; echo',
    'ls /proc | grep -cE "^[0-9]+$"',
  ].join('; ')]);
  const out = r.stdout.toString();
  assert.doesNotMatch(out, /^LEAK-/m);
  assert.match(out, /^sh -c /m, 'pid 1 is the run itself');
});

sandboxTest('io_uring, keyctl, bpf, userfaultfd, perf, ptrace, new user namespaces and the 32-bit ABI fail', async ({ create, s, t }) => {
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libc.a') || process.arch !== 'x64') return t.skip('needs x86-64 and a static libc (libc6-dev) to build the probe');
  const bin = s.path('probe');
  execFileSync('cc', ['-static', '-O1', '-o', bin, join(REPO, 'test/integration/sandbox-syscalls.c')]);
  const sb = await create();
  await sb.copyIn(bin, '/box/probe');
  const r = await sb.run(['/box/probe']);
  const got = Object.fromEntries(r.stdout.toString().trim().split('\n').map((l) => { const [k, ...v] = l.split(' '); return [k, v.join(' ')]; }));
  for (const k of ['io_uring_setup', 'keyctl', 'add_key', 'bpf', 'userfaultfd', 'perf_event_open', 'ptrace', 'unshare_user', 'clone_user']) {
    assert.equal(got[k], 'EPERM', `${k}: ${got[k]}`);
  }
  assert.equal(got.int80, 'killed 31', 'a 32-bit syscall kills the process (SIGSYS)');
  const u = await sb.run(['unshare', '-U', 'true']);
  assert.notEqual(u.exitCode, 0);
});

/** The hostile programs of sandbox-hostile.c, built static (undefined where that cannot be done). */
function hostileProgram(s, t) {
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libc.a') && !existsSync('/usr/lib/aarch64-linux-gnu/libc.a')) {
    t.skip('needs a static libc (libc6-dev) to build the hostile programs');
    return undefined;
  }
  const bin = s.path('hostile');
  execFileSync('cc', ['-static', '-pthread', '-O1', '-o', bin, join(REPO, 'test/integration/sandbox-hostile.c')]);
  return bin;
}

sandboxTest('a thread bomb is stopped by pids (threads count), and leaves nothing running', async ({ create, s, t }) => {
  const bin = hostileProgram(s, t);
  if (!bin) return;
  const sb = await create({ limits: { pids: 32, wallTimeMs: 1500 } });
  await sb.copyIn(bin, '/box/hostile');
  const r = await sb.run(['/box/hostile', 'threads'], { env: { M: s.marker } });
  assert.equal(r.status, 'timeout', JSON.stringify({ ...r, stdout: undefined }));
  assert.match(r.stderr.toString(), /^threads: \d+: EAGAIN$/m, 'thread creation failed at the limit');
  assert.ok(r.usage.pidsPeak <= 32 && r.usage.pidsPeak >= 24, `pidsPeak ${r.usage.pidsPeak}`);
  assert.deepEqual(processesWith({ text: s.marker }), [], 'no thread or process of the bomb is left');
  assert.equal((await sb.run(['true'])).status, 'ok', 'the sandbox works after it');
});

sandboxTest('a JVM-style program reserving 8 GiB of address space runs under a 64 MiB limit; touching past it is \'memory\'', async ({ create, s, t }) => {
  const bin = hostileProgram(s, t);
  if (!bin) return;
  const sb = await create({ limits: { memoryBytes: 64 << 20, wallTimeMs: 20_000 } });
  await sb.copyIn(bin, '/box/hostile');
  // memory limits are the cgroup's, never RLIMIT_AS: a reservation costs nothing
  const ok = await sb.run(['/box/hostile', 'reserve', '8', '16']);
  assert.equal(ok.status, 'ok', JSON.stringify({ ...ok, stdout: ok.stdout.toString(), stderr: ok.stderr.toString() }));
  assert.equal(ok.stdout.toString(), 'reserved 8\ntouched 16\n');
  assert.ok(ok.usage.maxRssBytes >= 16 << 20 && ok.usage.maxRssBytes < 64 << 20, `maxRssBytes ${ok.usage.maxRssBytes}`);
  const hog = await sb.run(['/box/hostile', 'reserve', '8', '256']);
  assert.equal(hog.status, 'memory', JSON.stringify({ ...hog, stdout: hog.stdout.toString() }));
  assert.equal(hog.stdout.toString(), 'reserved 8\n');
  assert.equal(hog.signal, 'SIGKILL');
});

sandboxTest("hako's processes are out of sight and out of reach (ptrace, signals)", async ({ create }) => {
  const sb = await create();
  const r = await sb.run(['sh', '-c', `ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; kill -0 ${process.pid} 2>&1; kill -0 ${process.ppid} 2>&1; echo end`]);
  const [pids, ...rest] = r.stdout.toString().split('\n');
  // pid 1 (sh), ls, grep and tr: nothing of the host, of hako's helpers or of Node
  for (const p of pids.trim().split(' ')) assert.ok(Number(p) <= 8, `a process of the host is visible: ${pids}`);
  if (process.pid > 8) assert.match(rest.join('\n'), new RegExp(`can't kill pid ${process.pid}: No such process`));
  // ptrace is denied outright (the seccomp filter): see the syscalls test for PTRACE_ATTACH of pid 1
  const p = await sb.run(['sh', '-c', 'cat /proc/1/status | grep TracerPid']);
  assert.match(p.stdout.toString(), /TracerPid:\s+0/);
});

sandboxTest("symlinks in the base (image) lead nowhere outside: mounts, workdir and files stay inside", async ({ create, rootfs, s }) => {
  const host = s.path('host-dir');
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), 'host secret');
  mkdirSync(s.path('src'));
  writeFileSync(s.path('src', 'f'), 'bound');
  // the image's links: absolute and relative, to a host directory
  symlinkSync(host, join(rootfs, 'abs'));
  symlinkSync(`../../../../../../../../..${host}`, join(rootfs, 'box', 'rel'));
  const sb = await create({ mounts: [{ source: s.path('src'), target: '/abs/m' }, { source: s.path('src'), target: '/box/rel/m2' }], workdir: '/abs' });
  const r = await sb.run(['sh', '-c', 'pwd; cat /abs/secret /box/rel/secret 2>&1; cat /abs/m/f /box/rel/m2/f; echo; echo x > /abs/written; echo x > /box/rel/written; echo done']);
  assert.equal(r.status, 'ok', JSON.stringify({ ...r, stdout: r.stdout.toString(), stderr: r.stderr.toString() }));
  assert.doesNotMatch(r.stdout.toString(), /host secret/);
  assert.match(r.stdout.toString(), /^bound\s*bound$/m, 'the mounts are inside the sandbox');
  assert.deepEqual(readdirSync(host), ['secret'], 'nothing was mounted or written on the host');
  await assert.rejects(sb.readFile('/abs/secret'), /symbolic link/);
});

sandboxTest("a run's /tmp files and processes are gone for the next run and other sandboxes", async ({ create, s }) => {
  const a = await create();
  const b = await create();
  const r1 = await a.run(['sh', '-c', `echo x > /tmp/left; echo y > /dev/shm/left; echo z > /box/kept; (sleep ${s.marker} &) ; echo started`]);
  assert.equal(r1.status, 'ok');
  assert.deepEqual(processesWith({ text: `sleep ${s.marker}` }), [], 'the background process died with its run');
  const look = 'ls /tmp/left /dev/shm/left 2>&1; echo sleeping $(cat /proc/[0-9]*/comm | grep -c sleep); cat /box/kept 2>&1';
  const r2 = await a.run(['sh', '-c', look]);
  assert.match(r2.stdout.toString(), /\/tmp\/left: No such file/);
  assert.match(r2.stdout.toString(), /\/dev\/shm\/left: No such file/);
  assert.match(r2.stdout.toString(), /^sleeping 0$/m, 'no process of the run before');
  assert.match(r2.stdout.toString(), /^z$/m, 'the writable layer is kept within the sandbox');
  const r3 = await b.run(['sh', '-c', look]);
  assert.match(r3.stdout.toString(), /'\/box\/kept': No such file/, 'another sandbox sees none of it');
  assert.match(r3.stdout.toString(), /^sleeping 0$/m);
});

sandboxTest('readFile, writeFile, copyIn and copyOut never follow a planted symlink', async ({ create, s }) => {
  const victim = s.path('victim');
  writeFileSync(victim, 'host file\n');
  mkdirSync(s.path('victim-dir'));
  writeFileSync(s.path('victim-dir', 'f'), 'host dir file\n');
  const sb = await create();
  await sb.writeFile('/box/main.txt', 'hello');
  assert.equal((await sb.readFile('/box/main.txt')).toString(), 'hello');
  assert.equal((await sb.run(['cat', '/box/main.txt'])).stdout.toString(), 'hello');
  const plant = await sb.run(['sh', '-c', `ln -s ${victim} /box/link; ln -s ${s.path('victim-dir')} /box/dir; mkdir /box/d; ln -s ${victim} /box/d/inner`]);
  assert.equal(plant.status, 'ok');
  await assert.rejects(sb.readFile('/box/link'), /symbolic link/);
  await assert.rejects(sb.readFile('/box/dir/f'), /symbolic link/);
  await assert.rejects(sb.copyOut('/box/link', s.path('out1')), /symbolic link/);
  await assert.rejects(sb.copyOut('/box/d', s.path('out2')), /symbolic link/);
  await assert.rejects(sb.writeFile('/box/link', 'pwned'), /symbolic link/);
  await assert.rejects(sb.writeFile('/box/dir/f', 'pwned'), /symbolic link/);
  writeFileSync(s.path('payload'), 'pwned');
  await assert.rejects(sb.copyIn(s.path('payload'), '/box/link'), /symbolic link/);
  await assert.rejects(sb.copyIn(s.path('payload'), '/box/dir/new'), /symbolic link/);
  assert.equal(readFileSync(victim, 'utf8'), 'host file\n');
  assert.equal(readFileSync(s.path('victim-dir', 'f'), 'utf8'), 'host dir file\n');
  assert.ok(!existsSync(s.path('victim-dir', 'new')));
  assert.ok(!existsSync(s.path('out1')));
  // copyOut of a plain tree works
  await sb.writeFile('/box/t/a/b.txt', 'b');
  await sb.copyOut('/box/t', s.path('tree'));
  assert.equal(readFileSync(s.path('tree', 'a', 'b.txt'), 'utf8'), 'b');
});

sandboxTest('100 sandboxes at once from one process, the event loop never blocked', async ({ create }) => {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last - 10); last = now; }, 10);
  try {
    const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const sb = await create();
      try {
        return await sb.run(['sh', '-c', `echo ${i}`], { timeoutMs: 60_000 });
      } finally {
        await sb.close();
      }
    }));
    results.forEach((r, i) => {
      assert.equal(r.status, 'ok', `${i}: ${r.error ?? r.status}`);
      assert.equal(r.stdout.toString(), `${i}\n`);
    });
  } finally {
    clearInterval(timer);
  }
  // not a timing benchmark: each spawn of a helper costs the loop a few ms (a fork of Node), and
  // 100 come at once; a path that waited by blocking (a lock, Atomics.wait) would stop it for seconds
  assert.ok(worst < 1500, `the event loop was blocked for ${Math.round(worst)} ms`);
}, { timeout: 240_000 });

sandboxTest('a slow sandbox does not delay the others', async ({ create, s }) => {
  const slow = await Promise.all(Array.from({ length: 8 }, () => create()));
  const fast = await create();
  const running = slow.map((sb) => sb.run(['sleep', '3'], { env: { M: s.marker } }));
  await sleep(300);
  const t0 = performance.now();
  const r = await fast.run(['true']);
  const took = performance.now() - t0;
  assert.equal(r.status, 'ok');
  assert.ok(took < 2000, `a quick run took ${Math.round(took)} ms while others slept`);
  for (const x of await Promise.all(running)) assert.equal(x.status, 'ok');
});

sandboxTest('300 runs in a bounded loop leave nothing behind', async ({ create }) => {
  const sb = await create();
  for (let i = 0; i < 300; i++) {
    const r = await sb.run(['true']);
    assert.equal(r.status, 'ok', `run ${i}: ${r.error}`);
  }
}, { timeout: 240_000 });

sandboxTest('10,000 runs (sessions and a pool) leave nothing behind: processes, cgroups, mounts, state, fds, memory', async ({ create, base, t }) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const fds = () => readdirSync('/proc/self/fd').length;
  const sessions = await Promise.all(Array.from({ length: 4 }, () => create()));
  const pool = new SandboxPool({ size: 2, ...base });
  let next = 0;
  const N = 10_000;
  const failures = [];
  const worker = async (run) => {
    while (next < N && failures.length < 5) {
      const i = next++;
      const r = await run();
      if (r.status !== 'ok') failures.push(`run ${i}: ${r.status} ${r.error ?? ''}`);
    }
  };
  const t0 = performance.now();
  try {
    // a warm-up (the zygote, the pool's sandboxes, code paths), then the counts to compare with
    await Promise.all([...sessions.map((sb) => sb.run(['/bin/true'])), pool.run(['/bin/true'])]);
    next = 0;
    gc();
    const before = { fds: fds(), heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
    await Promise.all([...sessions.map((sb) => worker(() => sb.run(['/bin/true']))), worker(() => pool.run(['/bin/true']))]);
    assert.deepEqual(failures, []);
    assert.equal(next, N);
    // what is removed after a run returns (its container's state, cgroup) is awaited by close()
    await Promise.all(sessions.map((sb) => sb.close()));
    await pool.close();
    gc();
    const after = { fds: fds(), heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
    t.diagnostic(`10,000 runs in ${Math.round(performance.now() - t0)} ms; ${JSON.stringify({ before, after })}`);
    assert.ok(after.fds <= before.fds, `fds grew: ${before.fds} -> ${after.fds}`);
    assert.ok(after.heap - before.heap < 16 << 20, `the heap grew by ${(after.heap - before.heap) >> 20} MiB`);
    assert.ok(after.rss - before.rss < 96 << 20, `rss grew by ${(after.rss - before.rss) >> 20} MiB`);
  } finally {
    await pool.close();
  }
  // the rest (processes, cgroups, mounts, state) is checked after the test, as for every test
}, { timeout: 600_000 });

sandboxTest('a pool gives each run a clean sandbox', async ({ base }) => {
  const pool = new SandboxPool({ size: 2, ...base });
  try {
    for (let i = 0; i < 4; i++) {
      const r = await pool.run(['sh', '-c', 'cat /box/mark 2>/dev/null; echo x > /box/mark']);
      assert.equal(r.status, 'ok');
      assert.equal(r.stdout.toString(), '', `run ${i} saw an earlier run's file`);
    }
  } finally {
    await pool.close();
  }
});

sandboxTest('prepare(): the next run\'s container is made ahead; the run brings its command, env, directory and stdin, and counts from them', async ({ create, root }) => {
  const sb = await create({ limits: { memoryBytes: 128 << 20 } });
  sb.prepare();
  const store = join(root, 'containers');
  const prepared = () => (existsSync(store) ? readdirSync(store) : []).filter((n) => n.startsWith(`${sb.id}-`));
  await waitUntil(() => prepared().length === 1, { what: 'the prepared container' });
  // the container exists, nothing of the sandbox runs in it: the files can be used meanwhile
  await sb.writeFile('/box/f', 'file-');
  await sleep(1500);
  const r = await sb.run(['sh', '-c', 'echo "$FOO $(pwd)"; cat /box/f; cat'], { env: { FOO: 'bar' }, workdir: '/box', stdin: 'in' });
  assert.equal(r.status, 'ok', r.error);
  assert.equal(r.stdout.toString(), 'bar /box\nfile-in');
  // its clock starts with its command, not when its container was made 1.5 s before
  assert.ok(r.usage.wallMs < 1500, `wallMs ${r.usage.wallMs} counts the wait before the command`);
  // a run with limits of its own gets a fresh container with them; the prepared one stays for the next
  sb.prepare();
  await waitUntil(() => prepared().length === 1, { what: 'the prepared container' });
  const hog = await sb.run(['sh', '-c', 'x=$(head -c 40000000 /dev/zero | tr "\\0" a); echo ${#x}'], { limits: { memoryBytes: 16 << 20 } });
  assert.equal(hog.status, 'memory', JSON.stringify(hog));
  const next = await sb.run(['sh', '-c', 'echo again']);
  assert.equal(next.stdout.toString(), 'again\n');
  // a prepared container is ended by reset() and close(), leaving nothing (checked after the test)
  sb.prepare();
  await waitUntil(() => prepared().length === 1, { what: 'the prepared container' });
  await sb.reset();
  sb.prepare();
  await waitUntil(() => prepared().length === 1, { what: 'the prepared container' });
});

sandboxTest('an image of the store: its layers are the base (whiteouts hide), its Env, WorkingDir and User the defaults; the CLI too', async ({ s, root, base }) => {
  const layout = s.path('layout');
  // two layers: busybox, then /app with a file, and a whiteout of bin/false
  writeLayout(layout, [await tarOf(busyboxEntries()), await tarOf([
    { name: 'app/', type: 'directory', mode: 0o777 }, { name: 'app/greeting', data: 'from the image\n' }, { name: 'bin/.wh.false' },
  ])], { refName: 'localhost/judge:1', config: { Env: ['PATH=/bin', 'LANG=C.UTF-8'], WorkingDir: '/app', User: '65534' } });
  const store = imageStore({ root: s.path('images') });
  await store.import(layout);
  const saved = Sandbox.imageResolver;
  Sandbox.imageResolver = (ref) => store.resolve(ref);
  try {
    const sb = await Sandbox.create({ image: 'localhost/judge:1', root, env: base.env });
    const r = await sb.run(['sh', '-c', 'echo "$LANG $(pwd) $(id -u)"; cat greeting; ls /bin/false 2>&1 || echo hidden']);
    assert.equal(r.status, 'ok', r.error);
    assert.equal(r.stdout.toString(), 'C.UTF-8 /app 65534\nfrom the image\nls: /bin/false: No such file or directory\nhidden\n');
    // the writable layer is the sandbox's: the image's layer is untouched
    // the image removed from the store while the sandbox uses it: its layers stay until it is closed
    const resolvedBefore = await store.resolve('localhost/judge:1');
    await store.remove('localhost/judge:1');
    assert.ok(resolvedBefore.layers.every((l) => existsSync(l)), 'a layer a sandbox has mounted was removed');
    const made = await sb.run(['sh', '-c', 'echo new > made']);
    assert.equal(made.status, 'ok', made.stderr.toString());
    assert.equal((await sb.readFile('/app/made')).toString(), 'new\n');
    assert.ok(!existsSync(join(resolvedBefore.layers[1], 'app', 'made')), 'the run wrote into the image\'s layer');
    await sb.close();
    await store.prune();
    assert.ok(resolvedBefore.layers.every((l) => !existsSync(l)), 'prune kept layers no sandbox uses any more');
    await store.import(layout);
  } finally {
    Sandbox.imageResolver = saved;
  }
  const cli = runSync(HAKO, ['sandbox', 'run', '--sandbox-root', root, '--image-root', s.path('images'), '--image', 'localhost/judge:1', '--env', `${MARK_VAR}=${s.token}`, '--json', '--', 'cat', 'greeting'], { env: s.env() });
  assert.equal(cli.status, 0, cli.stderr);
  const meta = JSON.parse(cli.stdout);
  assert.equal(meta.status, 'ok');
  assert.equal(meta.stdout, 'from the image\n');
});

sandboxTest('options: user, workdir, env, hostname, mounts (read-only unless told)', async ({ create, s }) => {
  mkdirSync(s.path('ro'));
  mkdirSync(s.path('rw'));
  chmodSync(s.path('rw'), 0o777);
  writeFileSync(s.path('ro', 'f'), 'from the host');
  const sb = await create({
    user: 1000, workdir: '/box', env: { A: 'a' }, hostname: 'judge',
    mounts: [{ source: s.path('ro'), target: '/ro' }, { source: s.path('rw'), target: '/rw', readonly: false }],
  });
  const r = await sb.run(['sh', '-c', 'id -u; pwd; echo $A $B; hostname; cat /ro/f; echo; touch /ro/x 2>/dev/null || echo ro; touch /rw/y && echo rw'], { env: { B: 'b' } });
  assert.equal(r.stdout.toString(), '1000\n/box\na b\njudge\nfrom the host\nro\nrw\n');
  const named = await create({ user: 'user' });
  assert.match((await named.run(['id'])).stdout.toString(), /uid=1000\(user\) gid=1000\(user\)/);
  // an image the store does not have: one line naming it (the default store's resolver)
  const saved = Sandbox.imageResolver;
  Sandbox.imageResolver = (ref) => imageStore({ root: s.path('no-images') }).resolve(ref);
  try {
    await assert.rejects(Sandbox.create({ image: 'localhost/x', root: s.path('sb') }), /^HakoError: hako: image: no image 'localhost\/x' in the store/);
  } finally {
    Sandbox.imageResolver = saved;
  }
  await assert.rejects(Sandbox.create({ rootfs: s.path('rootfs'), limits: { memoryBytes: 'lots' } }), /limits\.memoryBytes/);
});

sandboxTest('spawn: live streams, kill', async ({ create }) => {
  const sb = await create();
  const p = sb.spawn(['sh', '-c', 'read x; echo got $x; sleep 100']);
  let out = '';
  p.stdout.on('data', (c) => { out += c; });
  p.stdin.write('hi\n');
  await waitUntil(() => out.includes('got hi'), { timeoutMs: 5000, what: 'the echo' });
  p.kill();
  const r = await p.result;
  assert.equal(r.signal, 'SIGKILL');
});

sandboxTest('close kills what runs and removes everything', async ({ create, s }) => {
  const sb = await create();
  const running = sb.run(['sleep', s.marker]);
  await sleep(300);
  await sb.close();
  const r = await running;
  assert.equal(r.status, 'error');
  await assert.rejects(sb.run(['true']), /after close/);
});

sandboxTest('hako sandbox prune removes what a SIGKILLed Node process left mid-run', async ({ s, rootfs, root, create }) => {
  const alive = await create();
  const script = `
    const { Sandbox } = await import(${JSON.stringify(join(REPO, 'dist/index.js'))});
    const sb = await Sandbox.create({ rootfs: ${JSON.stringify(rootfs)}, root: ${JSON.stringify(root)}, env: { ${MARK_VAR}: ${JSON.stringify(s.token)} } });
    await sb.writeFile('/box/x', 'x');
    sb.run(['sleep', '${s.marker}']);
    setTimeout(() => console.log('running'), 500);
    setInterval(() => {}, 1000);`;
  const child = spawn(NODE, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, [MARK_VAR]: s.token } });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  await waitUntil(() => out.includes('running'), { timeoutMs: 20_000, what: 'the child to start a run' });
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  // the helper kills the run when its Node process hangs up; the mounts, cgroup and state stay
  await waitUntil(() => processesWith({ text: `sleep ${s.marker}` }).length === 0, { timeoutMs: 5000, what: 'the run to die' });
  const ids = readdirSync(root).filter((n) => n !== 'containers' && n !== alive.id);
  assert.equal(ids.length, 1);
  const r = runSync(HAKO, ['sandbox', 'prune', '--sandbox-root', root], { env: s.env() });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), ids[0]);
  assert.deepEqual(readdirSync(root).filter((n) => n !== 'containers'), [alive.id], "a live process's sandbox stays");
  assert.deepEqual(cgroupLeftovers(ids), []);
  assert.equal((await alive.run(['true'])).status, 'ok');
});

sandboxTest('a process that exits with sandboxes open leaves no mount or state behind', async ({ s, rootfs, root }) => {
  const script = `
    const { Sandbox } = await import(${JSON.stringify(join(REPO, 'dist/index.js'))});
    const sb = await Sandbox.create({ rootfs: ${JSON.stringify(rootfs)}, root: ${JSON.stringify(root)} });
    await sb.run(['true']);
    process.exit(0);`;
  const r = runSync(NODE, ['--input-type=module', '-e', script], { env: s.env() });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(root).filter((n) => n !== 'containers'), []);
});

sandboxTest('hako sandbox run: the exit status, --json, limits', async ({ s, rootfs, root }) => {
  const run = (args, opts = {}) => runSync(HAKO, ['sandbox', 'run', '--sandbox-root', root, '--rootfs', rootfs, '--env', `${MARK_VAR}=${s.token}`, ...args], { env: s.env(), ...opts });
  const a = run(['--', 'sh', '-c', 'echo hi; exit 7']);
  assert.equal(a.status, 7);
  assert.equal(a.stdout, 'hi\n');
  const b = run(['--json', '--time', '300ms', '--', 'sh', '-c', 'while :; do :; done']);
  const j = JSON.parse(b.stdout);
  assert.equal(j.status, 'cpu-time');
  assert.equal(j.signal, 'SIGKILL');
  assert.equal(b.status, 137);
  for (const k of ['wallMs', 'cpuUserMs', 'cpuSystemMs', 'maxRssBytes', 'pidsPeak', 'writtenBytes']) assert.equal(typeof j.usage[k], 'number', k);
  const c = run(['--', 'cat'], { input: 'piped' });
  assert.equal(c.stdout, 'piped');
  const d = run(['--memory', 'lots', '--', 'true']);
  assert.equal(d.status, 1);
  assert.match(d.stderr, /^hako sandbox: --memory: 'lots' is not a size/);
  const check = runSync(HAKO, ['sandbox', 'check', '--json']);
  assert.equal(JSON.parse(check.stdout).memoryBytes.enforced, true);
});
