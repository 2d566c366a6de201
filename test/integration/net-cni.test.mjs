// Networking through CNI (issue 11): hako unshare --network, --publish and hako net, with Debian's
// containernetworking-plugins. The real host's network is never touched: every test makes its own
// "host" as a network namespace (ip netns add), runs hako inside it (ip netns exec) with its own
// network config and state directories, and deletes it at the end. The whole file checks that the
// real host's links, addresses, routes, iptables/nft rules and ip_forward are byte-identical after.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertNoLeaks, assertOneLineError, HAKO, lines, ok, run, snapshot, unique } from './util.mjs';
import { Bundle } from './oci-util.mjs';
import { eth0Address, guardHostNetwork, skip, TestHost, withTestHost } from './net-util.mjs';

guardHostNetwork();

/** Ends a `hako unshare` as kill would: SIGTERM to hako (ip netns exec execs it), which passes it on. */
async function terminate(bg) {
  process.kill(bg.pid, 'SIGTERM');
  return bg.wait();
}

describe('hako unshare --network (CNI)', { skip }, () => {
  it('two commands on the bridge network exchange TCP by address; everything is gone after', async () => {
    const snap = snapshot();
    const host = new TestHost();
    let server;
    try {
      server = host.spawnHako(['unshare', '--network', 'bridge', '--', 'sh', '-c',
        `ip -4 -o addr show dev eth0; echo READY; exec busybox httpd -f -p 8080 -h ${host.www}`]);
      await server.waitFor(/READY\n/);
      const addr = eth0Address(server.stdout);
      assert.match(addr, /^10\.89\./);
      assert.equal(host.leases().length, 1);
      // the client: a second namespace on the same bridge, a bounded wget (the server is up: READY came first)
      const client = host.hako(['unshare', '--network', 'bridge', '--', 'sh', '-c',
        `ip -4 -o addr show dev eth0; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 --tries=1 http://${addr}:8080/index.html && exit 0; sleep 0.2; done; exit 1`]);
      ok(client);
      assert.match(client.stdout, new RegExp(`hello from ${host.name}`));
      const clientAddr = eth0Address(client.stdout);
      assert.notEqual(clientAddr, addr);
      // the client's attachment is gone already, the server's is there
      assert.equal(host.leases().length, 1);
      assert.deepEqual(await terminate(server), { code: 143, signal: null }, server.describe());
      host.assertClean([addr, clientAddr]);
    } finally {
      await server?.stop();
      host.cleanup();
    }
    await assertNoLeaks(snap);
  });

  it('--network none has only lo, up; ns:PATH sees the joined namespace\'s links; the files are the network\'s', async () => {
    const host = new TestHost();
    const other = unique('hako-nj');
    try {
      const none = host.hako(['unshare', '--network', 'none', '--', 'ip', '-o', 'link']);
      ok(none);
      const names = lines(none.stdout).map((l) => /^\d+:\s+([^:@\s]+):\s+<([^>]*)>/.exec(l));
      assert.deepEqual(names.map((m) => m[1]), ['lo']);
      assert.ok(names[0][2].split(',').includes('UP'));

      ok(run('ip', ['netns', 'add', other]));
      ok(run('ip', ['-n', other, 'link', 'add', 'hk-dummy0', 'type', 'veth', 'peer', 'name', 'hk-dummy1']));
      const joined = host.hako(['unshare', '--network', `ns:/run/netns/${other}`, '--', 'ip', '-o', 'link']);
      ok(joined);
      assert.match(joined.stdout, /hk-dummy0/);

      // resolv.conf and hosts: bind-mounted in the command's mount namespace only
      const hostsBefore = readFileSync('/etc/hosts', 'utf8');
      const files = host.hako(['unshare', '--network', 'bridge', '--hostname', 'box', '--', 'sh', '-c', 'ip -4 -o addr show dev eth0; cat /etc/hosts; echo --; cat /etc/resolv.conf']);
      ok(files);
      const addr = eth0Address(files.stdout);
      assert.match(files.stdout, new RegExp(`^${addr.replace(/\./g, '\\.')}\\tbox$`, 'm'));
      assert.ok(!/^nameserver 127\./m.test(files.stdout), 'a loopback resolver was kept');
      assert.equal(readFileSync('/etc/hosts', 'utf8'), hostsBefore);
      host.assertClean([addr]);
    } finally {
      run('ip', ['netns', 'del', other]);
      host.cleanup();
    }
  });

  it('a published port reaches the command from the test host\'s 127.0.0.1 and its own address; the same port twice is refused', async () => {
    const host = new TestHost();
    let server;
    try {
      // the test host's own address, on a dummy link inside it
      ok(run('ip', ['-n', host.name, 'link', 'add', 'hk-up0', 'type', 'veth', 'peer', 'name', 'hk-up1']));
      ok(run('ip', ['-n', host.name, 'addr', 'add', '192.0.2.10/24', 'dev', 'hk-up0']));
      ok(run('ip', ['-n', host.name, 'link', 'set', 'hk-up0', 'up']));
      ok(run('ip', ['-n', host.name, 'link', 'set', 'hk-up1', 'up']));
      server = host.spawnHako(['unshare', '--network', 'bridge', '--publish', '8081:8080', '--', 'sh', '-c',
        `ip -4 -o addr show dev eth0; echo READY; exec busybox httpd -f -p 8080 -h ${host.www}`]);
      await server.waitFor(/READY\n/);
      const addr = eth0Address(server.stdout);
      for (const target of ['127.0.0.1', '192.0.2.10']) {
        const r = host.exec('sh', ['-c', `for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 --tries=1 http://${target}:8081/index.html && exit 0; sleep 0.2; done; exit 1`]);
        ok(r);
        assert.match(r.stdout, new RegExp(`hello from ${host.name}`), target);
      }
      const twice = host.hako(['unshare', '--network', 'bridge', '--publish', '8081:9090', '--', 'true']);
      assertOneLineError(twice);
      assert.match(twice.stderr, /8081\/tcp: the host port is already published by hako unshare/);
      assert.equal(host.leases().length, 1, 'the refused attach took a lease');
      await terminate(server);
      host.assertClean([addr]);
      assert.ok(!/8081/.test(host.iptables()), 'a port rule is left');
    } finally {
      await server?.stop();
      host.cleanup();
    }
  });

  it('hako SIGKILLed with its command attached: net prune detaches it (DEL in the kept namespace) and leaves nothing', async () => {
    const host = new TestHost();
    let bg;
    try {
      bg = host.nsSpawnHako(['unshare', '--network', 'bridge', '--', 'sh', '-c', 'ip -4 -o addr show dev eth0; echo READY; exec sleep 60']);
      await bg.waitFor(/READY\n/);
      const addr = eth0Address(bg.stdout);
      bg.killTree(); // hako and its command, with no chance to DEL
      await bg.wait({ output: false });
      assert.equal(host.attachments().length, 1);
      const pruned = host.nsHako(['net', 'prune']);
      assert.match(ok(pruned), /^detached hako unshare \(pid \d+\): bridge$/m);
      host.assertClean([addr]);
      assert.deepEqual(readdirSync(join(host.stateDir, 'netns')), []);
    } finally {
      await bg?.stop();
      host.cleanup();
    }
  });

  it('50 attach and detach cycles return every lease', { timeout: 240_000 }, () => withTestHost(async (host) => {
    const r = host.exec('sh', ['-c', `i=0; while [ $i -lt 50 ]; do ${HAKO} unshare --network bridge -- true || exit 1; i=$((i+1)); done`], { timeout: 230_000 });
    ok(r);
    host.assertClean();
  }));

  it('--explain shows the network steps: ADD of each plugin, the address, the bind mounts, DEL', () => withTestHost(async (host) => {
    const r = host.hako(['unshare', '--explain', '--network', 'bridge', '--', 'true']);
    ok(r);
    for (const re of [/CNI bridge ADD: .*hako0.*address 10\.89\.\d+\.\d+\/16 gateway 10\.89\.0\.1/, /CNI portmap ADD/, /CNI CHECK: ok/,
      /MS_BIND\): the network's resolv\.conf/, /CNI bridge DEL: ok/]) assert.match(r.stderr, re);
    assert.ok(r.stderr.indexOf('CNI bridge DEL') > r.stderr.indexOf('CNI tuning DEL'), 'DEL is not in reverse order');
    host.assertClean();
  }));
});

describe('hako run/create --network (CNI)', { skip }, () => {
  it('run --network bridge: eth0 with an address, the hosts file; nothing left after the run', () => withTestHost(async (host) => {
    const b = new Bundle(join(host.dir, 'b1'), 'x').sh('busybox ip -4 -o addr show dev eth0; cat /etc/hosts');
    const root = join(host.dir, 'root');
    const r = host.nsHako(['--root', root, 'run', '--network', 'bridge', '-b', b.dir, 'c1']);
    ok(r);
    const addr = eth0Address(r.stdout);
    assert.match(addr, /^10\.89\./);
    assert.match(r.stdout, new RegExp(`^${addr.replace(/\./g, '\\.')}\\t`, 'm'));
    host.assertClean([addr]);
    assert.deepEqual(readdirSync(join(host.stateDir, 'netns')), []);
    // without --network the config decides, as before: runc's default config has a new network namespace, only lo
    const plain = host.nsHako(['--root', root, 'run', '-b', b.edit((c) => { c.process.args = ['busybox', 'ip', '-o', 'link']; }).dir, 'c2']);
    ok(plain);
    assert.deepEqual(lines(plain.stdout).map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]), ['lo']);
  }, { leaks: true }));

  it('create -p, start, a published port reaches the container from 127.0.0.1; delete --force leaves nothing', () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b2'), 'x').sh('mkdir -p /tmp/www && echo container-page > /tmp/www/index.html && exec busybox httpd -f -p 8080 -h /tmp/www');
    ok(host.nsHako(['--root', root, 'create', '--network', 'bridge', '-p', '8084:8080', '-b', b.dir, 'c3']));
    const inspect = JSON.parse(ok(host.hako(['net', 'inspect', 'bridge', '--format', 'json'])));
    assert.equal(inspect.attached.length, 1);
    assert.deepEqual(inspect.attached[0].ports, [{ hostPort: 8084, containerPort: 8080, protocol: 'tcp' }]);
    ok(host.nsHako(['--root', root, 'start', 'c3']));
    const r = host.exec('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- -T 2 --tries=1 http://127.0.0.1:8084/index.html && exit 0; sleep 0.2; done; exit 1']);
    assert.match(ok(r), /container-page/);
    ok(host.nsHako(['--root', root, 'delete', '--force', 'c3']));
    host.assertClean([inspect.attached[0].addresses[0].split('/')[0]]);
    assert.ok(!/8084/.test(host.iptables()), 'a port rule is left');
    assert.deepEqual(readdirSync(join(host.stateDir, 'netns')), []);
  }, { containers: ['c3'], leaks: true }));

  it('a failure after the attach (a prestart hook) and an unknown network leave nothing: one line each', () => withTestHost(async (host, root) => {
    const b = new Bundle(join(host.dir, 'b3'), 'x');
    const unknown = host.nsHako(['--root', root, 'run', '--network', 'nosuch', '-b', b.dir, 'c4']);
    assertOneLineError(unknown);
    assert.match(unknown.stderr, /no network 'nosuch'/);
    b.edit((c) => { c.hooks = { prestart: [{ path: '/bin/false' }] }; });
    const failed = host.nsHako(['--root', root, 'run', '--network', 'bridge', '-p', '8085:80', '-b', b.dir, 'c5']);
    assertOneLineError(failed);
    assert.match(failed.stderr, /prestart/);
    host.assertClean();
    assert.ok(!/8085/.test(host.iptables()), 'a port rule is left');
    assert.deepEqual(readdirSync(join(host.stateDir, 'netns')), []);
    assert.ok(!existsSync(join(root, 'c5')), 'the state is left');
  }, { leaks: true }));
});

describe('hako net', { skip }, () => {
  it('create, ls, inspect, rm, prune; a created network carries traffic', () => withTestHost(async (host) => {
    ok(host.hako(['net', 'create', '--subnet', '10.91.0.0/24', 'backend']));
    const conf = JSON.parse(readFileSync(join(host.netDir, 'backend.conflist'), 'utf8'));
    assert.equal(conf.plugins[0].bridge, 'hako1');
    assert.deepEqual(conf.plugins[0].ipam.ranges, [[{ subnet: '10.91.0.0/24', gateway: '10.91.0.1' }]]);
    ok(host.hako(['net', 'create', 'spare']));
    const ls = ok(host.hako(['net', 'ls']));
    for (const n of ['bridge', 'backend', 'spare']) assert.match(ls, new RegExp(`^${n}\\b`, 'm'));
    const r = host.hako(['unshare', '--network', 'backend', '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    ok(r);
    assert.match(eth0Address(r.stdout), /^10\.91\.0\./);
    const inspect = JSON.parse(ok(host.hako(['net', 'inspect', 'backend', '--format', 'json'])));
    assert.equal(inspect.bridge, 'hako1');
    assert.deepEqual(inspect.attached, []);
    ok(host.hako(['net', 'rm', 'backend']));
    assert.equal(ok(host.hako(['net', 'prune'])), 'spare\n');
    assert.deepEqual(readdirSync(host.netDir), []);
    host.assertClean();
  }));

  it('bad input is one line each: overlapping subnet, gateway outside, unknown network, malformed conflist, missing plugin', () => withTestHost(async (host) => {
    const cases = [
      [['net', 'create', '--subnet', '10.89.3.0/24', 'x'], /overlaps 10\.89\.0\.0\/16 of network 'bridge'/],
      [['net', 'create', '--subnet', '10.92.0.0/24', '--gateway', '10.93.0.1', 'x'], /--gateway: 10\.93\.0\.1 is not a host address of the subnet 10\.92\.0\.0\/24/],
      [['net', 'create', '--subnet', 'ten', 'x'], /'ten' is not an IPv4 subnet/],
      [['unshare', '--network', 'nosuch', '--', 'true'], /no network 'nosuch'/],
      [['net', 'inspect', 'nosuch'], /'nosuch' is neither a network nor a container attached to one/],
      [['unshare', '--publish', '80', '--network', 'bridge', '--', 'true'], /--publish: '80' is not/],
    ];
    for (const [args, re] of cases) {
      const r = host.hako(args);
      assertOneLineError(r);
      assert.match(r.stderr, re, args.join(' '));
    }
    mkdirSync(host.netDir, { recursive: true });
    const bad = join(host.netDir, 'bad.conflist');
    writeFileSync(bad, JSON.stringify({ cniVersion: '1.0.0', name: 'bad', plugins: [{ type: 'bridge', ipam: { subnet: '10.94.0.0/24' } }] }));
    let r = host.hako(['net', 'ls']);
    assertOneLineError(r);
    assert.match(r.stderr, new RegExp(`${bad}: plugins\\[0\\]\\.ipam\\.type: must be a plugin name`));
    writeFileSync(bad, '{"cniVersion": "1.0.0", "name": ');
    r = host.hako(['unshare', '--network', 'bridge', '--', 'true']);
    assertOneLineError(r);
    assert.match(r.stderr, new RegExp(`${bad}: not JSON`));
    writeFileSync(bad, JSON.stringify({ cniVersion: '1.0.0', name: 'bad', plugins: [{ type: 'nosuchplugin' }] }));
    r = host.hako(['unshare', '--network', 'bad', '--', 'true']);
    assertOneLineError(r);
    assert.match(r.stderr, /CNI plugin 'nosuchplugin' not found in .*containernetworking-plugins/);
    rmSync(bad);
    host.assertClean();
  }));
});
