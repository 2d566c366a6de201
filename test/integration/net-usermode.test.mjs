// User-mode networks for users without root (issue 11, rootless): slirp4netns and pasta give a
// network namespace of a user's own outbound connectivity and published ports, through ordinary
// sockets of the host. The real host's network is never touched: each test makes a test "host"
// network namespace (ip netns add, lo up, a link with an address and a default route, as a
// real host has), with a busybox httpd on that address, and runs everything else in it as nobody.
// This machine's /dev/net/tun may be 0600 (Debian's udev makes it 0666): then the user's commands
// run in a private mount namespace where a 0666 node of the same device is bound over it.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NODE, ok, ROOT as REPO, run, unique, waitUntil } from './util.mjs';

const NOBODY = 65534;
const tools = ['/usr/bin/slirp4netns', '/usr/bin/pasta', '/usr/bin/setpriv', '/usr/bin/busybox'];
const skip = tools.every((t) => existsSync(t)) && run('ip', ['netns', 'list']).status === 0 ? false
  : `needs ${tools.join(', ')} (Debian: slirp4netns passt util-linux busybox-static) and ip netns`;

/** A test host: a netns with lo and hk0 (10.250.0.1/24, default route), and httpd on port 8088. */
function testHost() {
  const name = unique('hako-um');
  const dir = mkdtempSync(join(tmpdir(), 'hako-um-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'index.html'), `hello from ${name}\n`);
  ok(run('ip', ['netns', 'add', name]));
  const cleanup = () => {
    run('ip', ['netns', 'pids', name]).stdout.split('\n').filter(Boolean).forEach((p) => { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } });
    run('ip', ['netns', 'del', name]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    setUp(name, dir);
  } catch (e) {
    cleanup();
    throw e;
  }
  return { name, dir, cleanup };
}

function setUp(name, dir) {
  const ip = (...args) => ok(run('ip', ['-n', name, ...args]));
  ip('link', 'set', 'lo', 'up');
  // (a veth pair, both ends in the test host: this kernel may have no dummy links)
  ip('link', 'add', 'hk0', 'type', 'veth', 'peer', 'name', 'hk1');
  ip('addr', 'add', '10.250.0.1/24', 'dev', 'hk0');
  ip('link', 'set', 'hk0', 'up');
  ip('link', 'set', 'hk1', 'up');
  ip('route', 'add', 'default', 'via', '10.250.0.254', 'dev', 'hk0', 'onlink');
  ok(run('ip', ['netns', 'exec', name, 'busybox', 'httpd', '-p', '8088', '-h', dir]));
}

/**
 * The driver as nobody: a user+net namespace of nobody's (util-linux unshare), the driver started
 * for it through hako's library (dist/src/network/usermode.js), then from inside: `ip` and a wget
 * to the test host's httpd; from the host side: a wget to the published port, served by an httpd
 * inside the namespace. Prints one JSON line.
 */
const SCRIPT = `
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startUserMode } from '${REPO}/dist/src/network/usermode.js';
const [driver, runDir, www] = process.argv.slice(2);
const ns = spawn('unshare', ['-U', '-r', '-n', 'sleep', '60'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 200));
const inside = (...args) => spawnSync('nsenter', ['--preserve-credentials', '-U', '-n', '-t', String(ns.pid), ...args], { encoding: 'utf8', timeout: 10000 });
const out = {};
const servers = [];
try {
  const net = await startUserMode(driver, { pid: ns.pid, ports: [{ hostPort: 18099, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }], runDir });
  out.driver = net.driver; out.pid = net.pid; out.address = net.address;
  out.links = inside('ip', '-o', 'link').stdout;
  out.route = inside('ip', 'route').stdout;
  // the test host: its own address through slirp4netns; through pasta, whose namespace has the
  // host's own address, the gateway's address, which pasta maps to the host (--map-gw)
  const target = driver === 'pasta' ? /^default via (\\S+)/m.exec(out.route)?.[1] : '10.250.0.1';
  out.fetched = inside('busybox', 'wget', '-q', '-O', '-', 'http://' + target + ':8088/').stdout;
  // in the foreground (-f), as a child of this script: ended below, never left running
  const httpd = spawn('nsenter', ['--preserve-credentials', '-U', '-n', '-t', String(ns.pid), 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
  servers.push(httpd);
  await new Promise((r) => setTimeout(r, 300));
  out.published = spawnSync('busybox', ['wget', '-q', '-O', '-', 'http://127.0.0.1:18099/'], { encoding: 'utf8', timeout: 10000 }).stdout;
  await net.stop();
  // gone, or a zombie waiting for its reaper (pasta runs in the background: PID 1 reaps it)
  let state = 'gone';
  try { state = readFileSync('/proc/' + net.pid + '/stat', 'utf8').split(') ')[1][0] === 'Z' ? 'gone' : 'running'; } catch {}
  out.stopped = state;
} catch (e) {
  out.error = e.message;
} finally {
  for (const p of servers) p.kill('SIGKILL');
  ns.kill('SIGKILL');
}
console.log(JSON.stringify(out));
`;

function asNobodyInHost(host, script, args) {
  const file = join(host.dir, 'driver.mjs');
  writeFileSync(file, script);
  chmodSync(file, 0o644);
  const tun = join(host.dir, 'tun');
  const user = `setpriv --reuid ${NOBODY} --regid ${NOBODY} --clear-groups ${NODE} ${file} ${args.join(' ')}`;
  // a 0666 tun node bound over /dev/net/tun in a private mount namespace, when the host's is not
  const shell = `[ "$(stat -c %a /dev/net/tun)" = 666 ] || { mkdir ${tun} && mount -t tmpfs -o size=16k,mode=755 tmpfs ${tun} && mknod -m 666 ${tun}/tun c 10 200 && mount --bind ${tun}/tun /dev/net/tun; } && exec ${user}`;
  return run('ip', ['netns', 'exec', host.name, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', shell], { timeout: 60_000 });
}

for (const driver of ['slirp4netns', 'pasta']) {
  test(`${driver}: a user without root gets outbound connectivity and a published port, and nothing is left`, { skip }, async () => {
    const host = testHost();
    try {
      const runDir = join(host.dir, 'run');
      mkdirSync(runDir, { mode: 0o700 });
      chownSync(runDir, NOBODY, NOBODY);
      const r = asNobodyInHost(host, SCRIPT, [driver, runDir, host.dir]);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      assert.equal(out.error, undefined, JSON.stringify(out));
      assert.match(out.links, driver === 'slirp4netns' ? /tap0/ : /eth0/, out.links);
      assert.match(out.route, /^default via /m, out.route);
      assert.equal(out.fetched, `hello from ${host.name}\n`, 'the test host was not reached from inside');
      assert.equal(out.published, `hello from ${host.name}\n`, 'the published port did not reach the namespace');
      assert.equal(out.stopped, 'gone');
      await waitUntil(() => run('pgrep', ['-u', String(NOBODY), '-x', '-r', 'R,S,D,T', driver]).status !== 0, { what: `${driver} to end` });
      // nothing of the test's left running: its servers and namespace holder
      await waitUntil(() => run('pgrep', ['-u', String(NOBODY), '-f', '-r', 'R,S,D,T', host.dir]).status !== 0, { what: 'the test\'s processes to end' });
    } finally {
      host.cleanup();
    }
  });
}

test('a missing driver and an unusable /dev/net/tun are named in one line', { skip }, async () => {
  const { checkTun, startUserMode } = await import(`${REPO}/dist/src/network/usermode.js`);
  assert.throws(() => checkTun(false, '/nonexistent/tun'), /^HakoError: hako: network: \/nonexistent\/tun cannot be opened by you \(ENOENT\): a user-mode network needs it/);
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(startUserMode('slirp4netns', { pid: process.pid, ports: [], runDir: tmpdir() }), /hako: network: slirp4netns is not installed \(apt-get install slirp4netns\)/);
  } finally {
    process.env.PATH = saved;
  }
});
