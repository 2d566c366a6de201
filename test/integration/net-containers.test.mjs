// Containers on networks (issue 11): the library's `network`, `none` with lo up, names between
// the containers of one network, `net inspect CONTAINER`, --explain, and what is left after
// crashes and bad input. As in net-cni.test.mjs, every test has its own "host" network namespace
// (TestHost) and the real host's network is compared byte for byte before and after the file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertNoLeaks, assertOneLineError, lines, NODE, ok, ROOT, run, snapshot } from './util.mjs';
import { Bundle } from './oci-util.mjs';
import { eth0Address, haveTools, hostNetwork, skip, TestHost } from './net-util.mjs';

let hostBefore;
before(() => { if (haveTools) hostBefore = hostNetwork(); });
after(() => {
  if (!haveTools) return;
  assert.equal(hostNetwork(), hostBefore, "the real host's network changed during the networking tests");
});

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
  it('the library: Runtime.run with network bridge and none, Runtime.create with publish; nothing left', async () => {
    const snap = snapshot();
    const host = new TestHost();
    const root = join(host.dir, 'root');
    try {
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
    } finally {
      host.cleanup();
    }
    await assertNoLeaks(snap);
  });

  it('run --network none: a new network namespace with only lo, up', () => {
    const host = new TestHost();
    try {
      const b = new Bundle(join(host.dir, 'b'), 'none').edit((c) => {
        c.process.args = ['busybox', 'ip', '-o', 'link'];
        c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network'); // the option adds it
      });
      const r = host.nsHako(['--root', join(host.dir, 'root'), 'run', '--network', 'none', '-b', b.dir, 'n1']);
      const links = lines(ok(r)).map((l) => /^\d+:\s+([^:@\s]+):\s+<([^>]*)>/.exec(l));
      assert.deepEqual(links.map((m) => m[1]), ['lo']);
      assert.ok(links[0][2].split(',').includes('UP'), `lo is not up: ${r.stdout}`);
    } finally {
      host.cleanup();
    }
  });

  it('two containers of one network reach each other by name (id and --hostname); net inspect CONTAINER; --explain', async () => {
    const snap = snapshot();
    const host = new TestHost();
    const root = join(host.dir, 'root');
    try {
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
    } finally {
      host.nsHako(['--root', root, 'delete', '--force', 'srv1']);
      host.cleanup();
    }
    await assertNoLeaks(snap);
  });
});
