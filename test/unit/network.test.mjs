// The pure parts of networking: --network and --publish values, conflist checks (one line naming
// the file and the field), subnets, the resolv.conf and hosts made from a CNI result.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  builtinBridge, cidrOverlap, hostsFile, parseCidr, parseConfList, parseNetworkMode, parsePublish, resolvConf, subnetsOf,
} from '../../dist/src/network/index.js';

test('--network modes and --publish specs', () => {
  assert.deepEqual(parseNetworkMode('slirp4netns'), { kind: 'slirp4netns' });
  assert.deepEqual(parseNetworkMode('pasta', 'hako', 1000), { kind: 'pasta' });
  assert.throws(() => parseNetworkMode('pasta', 'hako', 0), (e) => e.code === 'unsupported' && /pasta does not serve root's containers/.test(e.message));
  assert.deepEqual(parseNetworkMode('none'), { kind: 'none' });
  assert.deepEqual(parseNetworkMode('host'), { kind: 'host' });
  assert.deepEqual(parseNetworkMode('ns:/run/netns/x'), { kind: 'ns', path: '/run/netns/x' });
  assert.deepEqual(parseNetworkMode('bridge'), { kind: 'cni', name: 'bridge' });
  assert.throws(() => parseNetworkMode('ns:rel'), /not an absolute path/);
  assert.throws(() => parseNetworkMode('-x'), /not none, host, ns:PATH, slirp4netns, pasta or a network name/);
  assert.deepEqual(parsePublish('8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePublish('127.0.0.1:53:5353/udp'), { hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1' });
  for (const bad of ['80', '0:80', '70000:80', '1:2/sctp', 'x:1:2', '1:2:3:4']) assert.throws(() => parsePublish(bad), /--publish/, bad);
});

test('a conflist is checked field by field; errors name the file and the field', () => {
  const ok = parseConfList(JSON.stringify(builtinBridge()), '/x/bridge.conflist');
  assert.equal(ok.name, 'bridge');
  assert.deepEqual(subnetsOf(ok), ['10.89.0.0/16']);
  const cases = [
    ['{', /^hako: \/f: not JSON/],
    ['[]', /\/f: \(top level\): must be an object/],
    ['{"name":"a","plugins":[{"type":"bridge"}]}', /\/f: cniVersion: must be a string/],
    ['{"cniVersion":"9.9.9","name":"a","plugins":[{"type":"bridge"}]}', /\/f: cniVersion: '9.9.9' is not one hako reads/],
    ['{"cniVersion":"1.0.0","name":"a b","plugins":[{"type":"bridge"}]}', /\/f: name: must be a network name/],
    ['{"cniVersion":"1.0.0","name":"a","plugins":[]}', /\/f: plugins: must be a non-empty array/],
    ['{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"../x"}]}', /\/f: plugins\[0\]\.type: must be a plugin name/],
    ['{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge","ipam":{}}]}', /\/f: plugins\[0\]\.ipam\.type: must be a plugin name/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseConfList(text, '/f'), (e) => e.code === 'bad-config' && re.test(e.message) && !e.message.includes('\n'), text);
  }
});

test('subnets overlap as CIDR ranges do', () => {
  assert.deepEqual(parseCidr('10.89.3.7/16'), { base: parseCidr('10.89.0.0/16').base, bits: 16 });
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0/8'), undefined);
  assert.ok(cidrOverlap(parseCidr('10.89.0.0/16'), parseCidr('10.89.3.0/24')));
  assert.ok(!cidrOverlap(parseCidr('10.89.0.0/16'), parseCidr('10.90.0.0/24')));
});

test('resolv.conf: the network DNS, else the host resolvers without loopback ones; hosts: the name with the address', () => {
  const result = { cniVersion: '1.0.0', ips: [{ address: '10.89.0.5/16' }] };
  const files = { '/etc/resolv.conf': 'nameserver 127.0.0.53\noptions edns0\n', '/run/systemd/resolve/resolv.conf': 'nameserver 192.0.2.1\nnameserver 127.0.0.1\n' };
  assert.equal(resolvConf(result, (p) => files[p]), 'nameserver 192.0.2.1\n');
  assert.equal(resolvConf({ ...result, dns: { nameservers: ['192.0.2.9'], search: ['lan'] } }, () => ''), 'nameserver 192.0.2.9\nsearch lan\n');
  assert.match(hostsFile(result, 'box'), /^10\.89\.0\.5\tbox$/m);
});
