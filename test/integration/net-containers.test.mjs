// Containers on networks (issue 11): the library's `network`, `none` with lo up, names between
// the containers of one network, `net inspect CONTAINER`, --explain, and what is left after
// crashes and bad input. As in net-cni.test.mjs, every test has its own "host" network namespace
// (TestHost) and the real host's network is compared byte for byte before and after the file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertOneLineError, lines, NODE, ok, ROOT, run } from './util.mjs';
import { Bundle } from './oci-util.mjs';
import { eth0Address, guardHostNetwork, skip, TestHost, withTestHost } from './net-util.mjs';

guardHostNetwork();

/** A bounded HTTP GET (10 tries, 2 s each) inside a container's shell, with busybox nc (its wget
 * crashes in getaddrinfo when built static, as Debian's is; nc resolves through /etc/hosts). */
function fetchLoop(host, port, path = '/index.html') {
  return `ok=; for i in 1 2 3 4 5 6 7 8 9 10; do if printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${host} ${port} > /tmp/got; then grep -q '200 OK' /tmp/got && { cat /tmp/got; ok=1; break; }; fi; sleep 0.2; done; [ -n "$ok" ]`;
}

/** Runs a script of the library (dist/src/index.js as LIB) in the test host's network namespace. */
function library(host, body) {
  const file = join(host.dir, `lib-${Math.random().toString(16).slice(2)}.mjs`);
  writeFileSync(file, `import * as LIB from ${JSON.stringify(join(ROOT, 'dist', 'src', 'index.js'))};\n${body}\n`);
  return run('nsenter', [`--net=/run/netns/${host.name}`, NODE, file], { env: host.env });
}

describe('containers on networks', { skip }, () => {
  it('the library: Runtime.run with network bridge and none, Runtime.create with publish; nothing left', () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b'), 'lib');
    const r = library(host, `
      const rt = new LIB.Runtime({ root: ${JSON.stringify(root)} });
      const bridge = await rt.run('lib1', { bundle: ${JSON.stringify(b.dir)}, network: 'bridge', stdio: ['ignore', 'pipe', 'pipe'],
        args: ['sh', '-c', 'busybox ip -4 -o addr show dev eth0; busybox ip route; cat /etc/hosts'] });
      const none = await rt.run('lib2', { bundle: ${JSON.stringify(b.dir)}, network: 'none', stdio: ['ignore', 'pipe', 'pipe'], args: ['busybox', 'ip', '-o', 'link'] });
      await rt.create('lib3', { bundle: ${JSON.stringify(b.dir)}, network: 'bridge', publish: ['8090:80'], args: ['sleep', '30'] });
      const attached = (await import('node:fs')).readdirSync(${JSON.stringify(join(host.stateDir, 'attachments'))});
      await rt.delete('lib3', true);
      let refused = '';
      try { await rt.run('lib4', { bundle: ${JSON.stringify(b.dir)}, network: 'none', publish: ['80:80'] }); } catch (e) { refused = e.code + ' ' + e.message; }
      process.stdout.write(JSON.stringify({ bridge: bridge.stdout.toString(), bridgeExit: bridge.exitCode, none: none.stdout.toString(), attached, refused }));
    `);
    const out = JSON.parse(ok(r));
    assert.equal(out.bridgeExit, 0);
    const addr = eth0Address(out.bridge);
    assert.match(addr, /^10\.89\./);
    assert.match(out.bridge, /^default via 10\.89\.0\.1 dev eth0/m);
    assert.match(out.bridge, new RegExp(`^${addr.replace(/\./g, '\\.')}\\tlib1 runc$`, 'm'));
    const none = lines(out.none).map((l) => /^\d+:\s+([^:@\s]+):\s+<([^>]*)>/.exec(l));
    assert.deepEqual(none.map((m) => m[1]), ['lo']);
    assert.ok(none[0][2].split(',').includes('UP'), `lo is not up: ${out.none}`);
    assert.equal(out.attached.length, 1, 'create did not attach');
    assert.match(out.refused, /^bad-option .*--publish needs --network NAME/);
    host.assertClean([addr]);
    assert.deepEqual(readdirSync(root).filter((f) => f !== '@locks'), []);
  }, { leaks: true }));

  it('run --network none: a new network namespace with only lo, up', () => withTestHost(async (host) => {
    const b = new Bundle(join(host.dir, 'b'), 'none').edit((c) => {
      c.process.args = ['busybox', 'ip', '-o', 'link'];
      c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network'); // the option adds it
    });
    const r = host.nsHako(['--root', join(host.dir, 'root'), 'run', '--network', 'none', '-b', b.dir, 'n1']);
    const links = lines(ok(r)).map((l) => /^\d+:\s+([^:@\s]+):\s+<([^>]*)>/.exec(l));
    assert.deepEqual(links.map((m) => m[1]), ['lo']);
    assert.ok(links[0][2].split(',').includes('UP'), `lo is not up: ${r.stdout}`);
  }));

  it('run --net-dir DIR takes the network from DIR, not from $HAKO_NET_DIR; nothing left', () => withTestHost(async (host) => {
    const alt = join(host.dir, 'alt.d');
    ok(host.hako(['net', 'create', '--net-dir', alt, '--subnet', '10.93.7.0/24', 'altnet']));
    const b = new Bundle(join(host.dir, 'b'), 'netdir').edit((c) => {
      c.process.args = ['busybox', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'];
      c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network');
    });
    const root = join(host.dir, 'root');
    // not in $HAKO_NET_DIR: one line naming the network
    assertOneLineError(host.nsHako(['--root', root, 'run', '--network', 'altnet', '-b', b.dir, 'nd0']));
    const r = host.nsHako(['--root', root, 'run', '--net-dir', alt, '--network', 'altnet', '-b', b.dir, 'nd1']);
    assert.match(ok(r), /eth0\s+inet 10\.93\.7\.\d+\//);
    host.assertClean();
  }));

  it('two containers of one network reach each other by name (id and --hostname); net inspect CONTAINER; --explain', () => withTestHost(async (host, root) => {
    const srv = new Bundle(join(host.dir, 'srv'), 'names').edit((c) => { c.hostname = 'web'; })
      .sh('mkdir -p /tmp/www && echo page-of-web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www');
    const created = host.nsHako(['--root', root, 'create', '--explain', '--network', 'bridge', '-p', '8086:8080', '-b', srv.dir, 'srv1']);
    ok(created);
    for (const re of [/network bridge: the container's network namespace kept at /, /CNI bridge ADD: .*hako0.*address 10\.89\.\d+\.\d+\/16 gateway 10\.89\.0\.1/,
      /CNI portmap ADD/, /CNI CHECK: ok/, /srv1, web is 10\.89\.\d+\.\d+ in /]) assert.match(created.stderr, re);
    ok(host.nsHako(['--root', root, 'start', 'srv1']));
    const view = JSON.parse(ok(host.hako(['--root', root, 'net', 'inspect', 'srv1', '--format', 'json'])));
    assert.equal(view.network, 'bridge');
    assert.equal(view.container, 'srv1');
    assert.match(view.addresses[0], /^10\.89\.\d+\.\d+\/16$/);
    assert.match(view.macs[0], /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.deepEqual(view.gateways, ['10.89.0.1']);
    assert.deepEqual(view.ports, [{ hostPort: 8086, containerPort: 8080, protocol: 'tcp' }]);
    assert.deepEqual(view.names, ['srv1', 'web']);
    const text = ok(host.hako(['--root', root, 'net', 'inspect', 'srv1']));
    assert.match(text, /^network: bridge$/m);
    assert.match(text, /^ports: 8086:8080\/tcp$/m);
    const addr = view.addresses[0].split('/')[0];
    // a second container: by id and by hostname; its /etc/hosts has itself, the other, localhost
    const cli = new Bundle(join(host.dir, 'cli'), 'names').sh(`cat /etc/hosts; ${fetchLoop('srv1', 8080)} && ${fetchLoop('web', 8080)}`);
    const r = host.nsHako(['--root', root, 'run', '--network', 'bridge', '-b', cli.dir, 'cli1']);
    ok(r);
    assert.equal(r.stdout.match(/page-of-web/g)?.length, 2, r.stdout);
    assert.match(r.stdout, new RegExp(`^${addr.replace(/\./g, '\\.')}\\tsrv1 web$`, 'm'));
    assert.match(r.stdout, /^10\.89\.\d+\.\d+\tcli1 runc$/m); // runc spec's hostname
    assert.match(r.stdout, /^127\.0\.0\.1\tlocalhost$/m);
    // cli1 is gone from the network's hosts file, srv1 is still there (the same file, rewritten in place)
    const hosts = readFileSync(join(host.stateDir, 'hosts', 'bridge'), 'utf8');
    assert.ok(!/cli1/.test(hosts), hosts);
    assert.match(hosts, /\tsrv1 web$/m);
    // the container's /etc/hosts is read-only
    const w = host.nsHako(['--root', root, 'exec', 'srv1', 'sh', '-c', 'echo x >> /etc/hosts']);
    assert.notEqual(w.status, 0, 'the hosts file is writable from inside');
    ok(host.nsHako(['--root', root, 'delete', '--force', 'srv1']));
    assert.equal(readFileSync(join(host.stateDir, 'hosts', 'bridge'), 'utf8'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    host.assertClean([addr]);
  }, { containers: ['srv1'], leaks: true }));
});

describe('networks: isolation, crashes, loops, bad input', { skip }, () => {
  it('an --internal network has no route out; a container on another network cannot reach a container on bridge', () => withTestHost(async (host, root) => {
    // the test host's own address, on a veth pair inside it
    ok(run('ip', ['-n', host.name, 'link', 'add', 'hk-up0', 'type', 'veth', 'peer', 'name', 'hk-up1']));
    ok(run('ip', ['-n', host.name, 'addr', 'add', '192.0.2.10/24', 'dev', 'hk-up0']));
    ok(run('ip', ['-n', host.name, 'link', 'set', 'hk-up0', 'up']));
    ok(run('ip', ['-n', host.name, 'link', 'set', 'hk-up1', 'up']));
    ok(host.hako(['net', 'create', '--internal', '--subnet', '10.95.0.0/24', 'inner']));
    ok(host.hako(['net', 'create', '--subnet', '10.96.0.0/24', 'other']));
    const srv = new Bundle(join(host.dir, 'srv'), 'iso').sh('mkdir -p /tmp/www && echo page > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www');
    ok(host.nsHako(['--root', root, 'create', '--network', 'bridge', '-b', srv.dir, 'iso-srv']));
    ok(host.nsHako(['--root', root, 'start', 'iso-srv']));
    const addr = JSON.parse(ok(host.hako(['--root', root, 'net', 'inspect', 'iso-srv', '--format', 'json']))).addresses[0].split('/')[0];
    // from bridge itself it is reachable (the control), from `other` and from `inner` it is not
    const probe = (net, id) => host.nsHako(['--root', root, 'run', '--network', net, '-b',
      new Bundle(join(host.dir, id), 'iso').sh(`busybox ip route; echo ---; ${fetchLoop(addr, 8080)} && echo REACHED; nc -w 2 192.0.2.10 9 </dev/null; echo nc=$?`).dir, id]);
    const same = probe('bridge', 'iso-a');
    assert.match(ok(same), /REACHED/);
    const other = probe('other', 'iso-b');
    assert.match(ok(other), /^default via 10\.96\.0\.1/m);
    assert.ok(!/REACHED/.test(other.stdout), `a container on another network reached ${addr}:\n${other.stdout}`);
    const inner = probe('inner', 'iso-c');
    const routes = ok(inner).split('---')[0];
    assert.ok(!/default/.test(routes), `an internal network has a default route:\n${routes}`);
    assert.match(inner.stderr, /nc: can't connect to remote host \(192\.0\.2\.10\): Network is unreachable/);
    assert.ok(!/REACHED/.test(inner.stdout));
    ok(host.nsHako(['--root', root, 'delete', '--force', 'iso-srv']));
    host.assertClean([addr]);
    assert.ok(!/HAKO-ISOLATION/.test(host.iptables()), `the isolation chain is left:\n${host.iptables()}`);
  }, { containers: ['iso-srv'], leaks: true }));

  it('two containers cannot publish the same host port: one line, and the second leaves nothing', () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b'), 'port').args('sleep', '30');
    ok(host.nsHako(['--root', root, 'create', '--network', 'bridge', '-p', '8087:80', '-b', b.dir, 'p1']));
    const second = host.nsHako(['--root', root, 'create', '--network', 'bridge', '-p', '127.0.0.1:8087:81', '-b', b.dir, 'p2']);
    assertOneLineError(second);
    assert.match(second.stderr, /^hako: --publish 8087\/tcp: the host port is already published by container p1 \(root .*\) \(network bridge\)$/m);
    assert.ok(!existsSync(join(root, 'p2')), 'the refused container has state');
    assert.equal(host.leases().length, 1, 'the refused container kept a lease');
    assert.equal(host.attachments().length, 1);
    ok(host.nsHako(['--root', root, 'delete', '--force', 'p1']));
    host.assertClean();
    assert.ok(!/8087/.test(host.iptables()), 'a port rule is left');
  }, { containers: ['p1'], leaks: true }));

  // HAKO_TEST_KILL_AT=STEP makes hako SIGKILL itself at that step (src/network/testpoint.ts):
  // net-files (the files made, before the id is claimed), net-pinned (the namespace kept),
  // net-recorded (the attachment recorded, before CNI ADD), net-added (after ADD, before the files)
  for (const step of ['net-files', 'net-pinned', 'net-recorded', 'net-added']) {
    it(`hako SIGKILLed in the middle of create --network (at ${step}): delete --force leaves nothing`, () => withTestHost(async (host, root) => {
      const b = new Bundle(join(host.dir, 'b'), 'kill').args('sleep', '30');
      const killed = host.nsHako(['--root', root, 'create', '--network', 'bridge', '-p', '8088:80', '-b', b.dir, 'k1'], { env: { ...host.env, HAKO_TEST_KILL_AT: step } });
      assert.equal(killed.signal, 'SIGKILL', `hako did not stop at ${step}: ${killed.stderr}`);
      ok(host.nsHako(['--root', root, 'delete', '--force', 'k1']));
      host.assertClean();
      assert.ok(!/8088/.test(host.iptables()), 'a port rule is left');
      assert.ok(!existsSync(join(root, 'k1')), 'the state is left');
      // the id works again
      ok(host.nsHako(['--root', root, 'create', '--network', 'bridge', '-p', '8088:80', '-b', b.dir, 'k1']));
      ok(host.nsHako(['--root', root, 'delete', '--force', 'k1']));
      host.assertClean();
    }, { containers: ['k1'], leaks: true }));
  }

  it("the container's init crashing (SIGKILL from the host): delete leaves nothing", () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b'), 'crash').args('sleep', '30');
    ok(host.nsHako(['--root', root, 'run', '-d', '--network', 'bridge', '-p', '8089:80', '-b', b.dir, 'x1']));
    const state = JSON.parse(ok(host.nsHako(['--root', root, 'state', 'x1'])));
    process.kill(state.pid, 'SIGKILL');
    await waitFor(() => JSON.parse(ok(host.nsHako(['--root', root, 'state', 'x1']))).status === 'stopped');
    ok(host.nsHako(['--root', root, 'delete', 'x1']));
    host.assertClean();
    assert.ok(!/8089/.test(host.iptables()), 'a port rule is left');
  }, { containers: ['x1'], leaks: true }));

  it('50 containers created and removed in a loop return every lease', { timeout: 300_000 }, () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b'), 'loop');
    const r = run('nsenter', [`--net=/run/netns/${host.name}`, 'sh', '-c',
      `i=0; while [ $i -lt 50 ]; do "$HAKO" --root "${root}" create --network bridge -b "${b.dir}" l$i && "$HAKO" --root "${root}" delete --force l$i || exit 1; i=$((i+1)); done`],
    { env: { ...host.env, HAKO: join(ROOT, 'bin', 'hako') }, timeout: 290_000 });
    ok(r);
    host.assertClean();
    assert.equal(readFileSync(join(host.stateDir, 'hosts', 'bridge'), 'utf8').split('\n').length, 3, 'the hosts file still names a container');
  }));

  it('bad input on run: an unknown network, a malformed conflist (one line naming the file and the field), --publish without a network', () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b'), 'bad');
    mkdirSync(host.netDir, { recursive: true });
    const bad = join(host.netDir, 'bad.conflist');
    writeFileSync(bad, JSON.stringify({ cniVersion: '1.0.0', name: 'bad', plugins: [{ type: 'bridge', ipam: { type: 7 } }] }));
    for (const [args, re] of [
      [['run', '--network', 'bridge', '-b', b.dir, 'b1'], new RegExp(`^hako: ${bad}: plugins\\[0\\]\\.ipam\\.type: must be a plugin name`)],
      [['run', '--network', 'none', '-p', '80:80', '-b', b.dir, 'b2'], /--publish needs --network NAME/],
      [['run', '--network', 'ns:relative', '-b', b.dir, 'b3'], /--network ns:PATH: 'relative' is not an absolute path/],
      [['create', '--network', 'bridge', '-p', '99999:80', '-b', b.dir, 'b4'], /--publish: '99999:80' is not/],
      // Debian's pasta cannot join a root container's namespaces: refused before anything is made
      [['run', '--network', 'pasta', '-b', b.dir, 'b7'], /^hako run: --network pasta: pasta does not serve root's containers/],
    ]) {
      const r = host.nsHako(['--root', root, ...args]);
      assertOneLineError(r);
      assert.match(r.stderr, re, args.join(' '));
    }
    writeFileSync(bad, '{"cniVersion": "1.0.0", "name": ');
    const r = host.nsHako(['--root', root, 'run', '--network', 'nosuch', '-b', b.dir, 'b5']);
    assertOneLineError(r);
    assert.match(r.stderr, new RegExp(`${bad}: not JSON`));
    // a state directory that cannot be made: one line naming it, not an internal error
    rmSync(bad);
    const denied = host.nsHako(['--root', root, 'run', '--network', 'bridge', '-b', b.dir, 'b6'], { env: { ...host.env, HAKO_NET_STATE: '/sys/kernel/hako-net-state' } });
    assertOneLineError(denied);
    assert.match(denied.stderr, /^hako: network state directory \/sys\/kernel\/hako-net-state: cannot (write|make) it \(E[A-Z]+\): set \$HAKO_NET_STATE/);
    host.assertClean();
    assert.deepEqual(existsSync(root) ? readdirSync(root).filter((f) => f !== '@locks') : [], []);
  }));
});

async function waitFor(check, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('linux.netDevices', { skip }, () => {
  // a veth end made in the test host stands for a host device (this kernel has no dummy links)
  it('a host device is moved into the container with its new name, and back with its own on delete', () => withTestHost(async (host, root) => {
    ok(run('ip', ['-n', host.name, 'link', 'add', 'hk-nd0', 'type', 'veth', 'peer', 'name', 'hk-nd1']));
    const b = new Bundle(join(host.dir, 'b'), 'dev').edit((c) => { c.linux.netDevices = { 'hk-nd0': { name: 'net1' } }; })
      .args('busybox', 'ip', '-o', 'link');
    // a foreground run: inside as net1, back as hk-nd0 once the run is over
    const r = ok(host.nsHako(['--root', root, 'run', '-b', b.dir, 'd1']));
    assert.match(r, /^\d+: net1@/m);
    assert.ok(!/hk-nd0/.test(r));
    assert.ok(host.links().includes('hk-nd0'), `hk-nd0 is not back: ${host.links()}`);
    // created, the init killed (its namespace would take the device with it), delete
    b.edit((c) => { c.process.args = ['sleep', '30']; });
    ok(host.nsHako(['--root', root, 'create', '--explain', '-b', b.dir, 'd2']));
    assert.ok(!host.links().includes('hk-nd0'), 'the device is still on the host');
    const state = JSON.parse(ok(host.nsHako(['--root', root, 'state', 'd2'])));
    const inside = ok(run('nsenter', [`--net=/proc/${state.pid}/ns/net`, 'ip', '-o', 'link']));
    assert.match(inside, /^\d+: net1@/m);
    process.kill(state.pid, 'SIGKILL');
    await waitFor(() => JSON.parse(ok(host.nsHako(['--root', root, 'state', 'd2']))).status === 'stopped');
    ok(host.nsHako(['--root', root, 'delete', 'd2']));
    assert.ok(host.links().includes('hk-nd0'), `hk-nd0 is not back after the init died: ${host.links()}`);
    // with a CNI network too, and a device that does not exist: one line, nothing moved or left
    b.edit((c) => { c.linux.netDevices = { 'hk-nd0': { name: 'net1' }, 'hk-nosuch': {} }; c.process.args = ['true']; });
    const bad = host.nsHako(['--root', root, 'run', '--network', 'bridge', '-b', b.dir, 'd3']);
    assertOneLineError(bad);
    assert.match(bad.stderr, /linux\.netDevices: ip link set dev hk-nosuch .*Cannot find device "hk-nosuch"/);
    assert.ok(host.links().includes('hk-nd0'), `hk-nd0 is not back after the failed create: ${host.links()}`);
    assert.deepEqual(readdirSync(join(host.stateDir, 'devices')), []);
    // refused before anything: no new network namespace, a bad name
    b.edit((c) => { c.linux.netDevices = { 'hk-nd0': {} }; c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network'); });
    let e = host.nsHako(['--root', root, 'run', '-b', b.dir, 'd4']);
    assertOneLineError(e);
    assert.match(e.stderr, /linux\.netDevices: needs a new network namespace/);
    b.edit((c) => { c.linux.netDevices = { 'hk-nd0': { name: 'a/b' } }; c.linux.namespaces.push({ type: 'network' }); });
    e = host.nsHako(['--root', root, 'run', '-b', b.dir, 'd5']);
    assertOneLineError(e);
    assert.match(e.stderr, /linux\.netDevices\["hk-nd0"\]\.name: must be an interface name/);
    host.assertClean();
  }, { leaks: true }));
});

describe('rootless: --network slirp4netns and pasta as a user without root', { skip: skip || (!existsSync('/usr/bin/slirp4netns') && 'needs slirp4netns') }, () => {
  it('unshare reaches a server in the test host and publishes a port (-p); slirp4netns ends with the command; a container of the user\'s on slirp4netns, published, until delete; unshare on pasta', { timeout: 120_000 }, async () => {
    const { createUser, removeUser, Background } = await import('./util.mjs');
    const host = new TestHost();
    const user = await createUser();
    let server;
    try {
      ok(run('ip', ['-n', host.name, 'link', 'add', 'hk-up0', 'type', 'veth', 'peer', 'name', 'hk-up1']));
      ok(run('ip', ['-n', host.name, 'addr', 'add', '192.0.2.10/24', 'dev', 'hk-up0']));
      ok(run('ip', ['-n', host.name, 'link', 'set', 'hk-up0', 'up']));
      ok(run('ip', ['-n', host.name, 'link', 'set', 'hk-up1', 'up']));
      server = new Background('ip', ['netns', 'exec', host.name, 'busybox', 'httpd', '-f', '-p', '192.0.2.10:8080', '-h', host.www]);
      // this machine's /dev/net/tun is 0600 (Debian's default is 0666, which slirp4netns needs for a
      // user): the user runs in ip netns exec's private mount namespace, where a 0666 node of the
      // same device is bound over it (the host's node is not changed)
      const tun = join(host.dir, 'tun');
      ok(run('mknod', [tun, 'c', '10', '200']));
      ok(run('chmod', ['666', tun]));
      const env = { ...host.env, ...(user.helper ? { HAKO_HELPER: user.helper } : {}) };
      const userArgv = (args) => ['netns', 'exec', host.name, 'sh', '-c', `mount --bind ${tun} /dev/net/tun && exec runuser -u ${user.name} -- "$@"`, 'sh', user.hako, ...args];
      const asUser = (args) => run('ip', userArgv(args), { env, timeout: 60_000 });
      // outbound: the command reaches the test host's server through slirp4netns
      const out = asUser(['unshare', '--network', 'slirp4netns', '--', 'sh', '-c',
        `ip -4 -o addr show dev tap0; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 http://192.0.2.10:8080/index.html && exit 0; sleep 0.2; done; exit 1`]);
      ok(out);
      assert.match(out.stdout, /tap0\s+inet 10\.0\.2\.100\/24/);
      assert.match(out.stdout, new RegExp(`hello from ${host.name}`));
      // published: the test host's 127.0.0.1:8095 reaches the command's port 8080
      const pub = new Background('ip', userArgv(['unshare', '--network', 'slirp4netns', '--publish', '8095:8080', '--', 'sh', '-c',
        `mkdir -p ${user.home}/www && echo hello-user > ${user.home}/www/index.html && echo READY && exec busybox httpd -f -p 8080 -h ${user.home}/www`]), { env });
      await pub.waitFor(/READY\n/);
      const got = host.exec('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 --tries=1 http://127.0.0.1:8095/index.html && exit 0; sleep 0.3; done; exit 1']);
      assert.match(ok(got), /hello-user/);
      process.kill(pub.pid, 'SIGTERM');
      await pub.wait({ output: false });
      await waitFor(() => !run('pgrep', ['-u', user.name, 'slirp4netns']).stdout.trim());
      // a container of the user's (runc's rootless mode) on slirp4netns, published, detached:
      // the driver outlives hako and goes with delete
      const b = new Bundle(join(host.dir, 'rl'), 'rootless').edit((c) => {
        c.linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
        c.linux.uidMappings = [{ containerID: 0, hostID: user.uid, size: 1 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: user.gid, size: 1 }];
        delete c.linux.resources;
        c.mounts = c.mounts.map((m) => m.destination === '/sys' ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
          : m.destination === '/dev/pts' ? { ...m, options: m.options.filter((o) => o !== 'gid=5') } : m);
        c.process.args = ['sh', '-c', 'mkdir -p /tmp/www && echo hello-container > /tmp/www/index.html && cat /etc/resolv.conf > /tmp/www/resolv && exec httpd -f -p 8080 -h /tmp/www'];
      });
      ok(run('chmod', ['-R', 'a+rX', host.dir]));
      ok(run('chown', ['-R', `${user.name}:`, b.rootfs])); // a rootless user's rootfs is its own
      const state = join(host.dir, 'rl-state');
      const netState = join(host.dir, 'rl-net');
      for (const d of [state, netState]) ok(run('install', ['-d', '-o', user.name, '-m', '700', d]));
      // (ip netns exec remounts /sys, hiding the cgroups: nsenter joins the test host's network only,
      // in a private mount namespace of its own for the tun node)
      // (create: the init keeps hako's stdio, so /dev/null, and stderr in a file)
      const asUserNet = (args, { quiet = false } = {}) => run('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
        `mount --bind ${tun} /dev/net/tun && exec nsenter --net=/run/netns/${host.name} runuser -u ${user.name} -- "$@"${quiet ? ` </dev/null >/dev/null 2>${host.dir}/create.err || { cat ${host.dir}/create.err >&2; exit 1; }` : ''}`, 'sh', user.hako, ...args],
      { env: { ...env, HAKO_NET_STATE: netState }, timeout: 60_000 });
      const created = asUserNet(['--root', state, 'create', '--network', 'slirp4netns', '-p', '8096:8080', '-b', b.dir, 'rl1'], { quiet: true });
      ok(created);
      ok(asUserNet(['--root', state, 'start', 'rl1']));
      const page = host.exec('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 --tries=1 http://127.0.0.1:8096/index.html && exit 0; sleep 0.3; done; exit 1']);
      assert.match(ok(page), /hello-container/);
      const resolv = host.exec('sh', ['-c', 'wget -qO- -T 2 --tries=1 http://127.0.0.1:8096/resolv']);
      assert.match(ok(resolv), /^nameserver 10\.0\.2\.3$/m);
      assert.ok(run('pgrep', ['-u', user.name, 'slirp4netns']).stdout.trim(), 'slirp4netns should outlive hako create');
      ok(asUserNet(['--root', state, 'delete', '--force', 'rl1']));
      assert.deepEqual(readdirSync(join(netState, 'files')), [], 'the container\'s network files were left');
      await waitFor(() => !run('pgrep', ['-u', user.name, '-r', 'R,S,D,T', 'slirp4netns']).stdout.trim());
      // pasta (Debian's passt) for unshare: eth0 with the host's address, a default route
      if (existsSync('/usr/bin/pasta')) {
        ok(run('ip', ['-n', host.name, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'hk-up0', 'onlink']));
        const pasta = asUser(['unshare', '--network', 'pasta', '--', 'sh', '-c', 'ip -4 -o addr show dev eth0; ip route']);
        ok(pasta);
        assert.match(pasta.stdout, /eth0\s+inet 192\.0\.2\.10\//);
        assert.match(pasta.stdout, /^default via 192\.0\.2\.1 /m);
        await waitFor(() => !run('pgrep', ['-u', user.name, '-r', 'R,S,D,T', 'pasta']).stdout.trim());
      }
      // a CNI network still needs root, said in one line
      const cni = asUser(['unshare', '--network', 'bridge', '--', 'true']);
      assertOneLineError(cni);
      assert.match(cni.stderr, /needs root; without root use --network none or ns:PATH/);
    } finally {
      await server?.stop();
      await removeUser(user);
      host.cleanup();
    }
  });
});
