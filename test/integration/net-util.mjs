// Shared by the networking tests: the real host's network as text (compared before and after each
// file), and a test "host": a network namespace of the test's own, with hako's network config and
// state directories for it. Nothing here touches the real host's network.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { assertNoLeaks, HAKO, lines, ok, run, Background, snapshot, testEnv, unique } from './util.mjs';

export const PLUGINS = '/usr/lib/cni';
export const haveTools = existsSync(`${PLUGINS}/bridge`) && existsSync('/usr/bin/busybox') && run('ip', ['netns', 'list']).status === 0;
export const skip = haveTools ? false : 'needs containernetworking-plugins, busybox and ip netns';

/** The real host's network, as text: compared byte for byte before and after this file. */
export function hostNetwork() {
  const out = (file, args) => {
    const r = run(file, args);
    return `$ ${file} ${args.join(' ')} (${r.status})\n${r.stdout}`;
  };
  return [
    out('ip', ['-o', 'link', 'show']).replace(/ state \S+/g, ''),
    out('ip', ['-o', 'addr', 'show']).replace(/valid_lft \S+ preferred_lft \S+/g, ''),
    out('ip', ['route', 'show', 'table', 'all']),
    out('ip', ['-6', 'route', 'show', 'table', 'all']).replace(/ expires \S+/g, ''),
    out('iptables-save', []).replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, ''),
    out('nft', ['list', 'ruleset']).replace(/counter packets \d+ bytes \d+/g, 'counter'),
    `ip_forward ${readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')}`,
  ].join('\n');
}

/** For a whole test file: the real host's network is byte-identical after the file as before. */
export function guardHostNetwork() {
  let hostBefore;
  before(() => { if (haveTools) hostBefore = hostNetwork(); });
  after(() => {
    if (!haveTools) return;
    assert.equal(hostNetwork(), hostBefore, "the real host's network changed during the networking tests");
  });
}

/**
 * Runs fn(host, root) in a test host of its own (root: a hako state root in it). Whatever way fn
 * ends, `containers` are deleted (--force) and the test host removed; when fn succeeded and
 * `leaks` is set, the processes and mounts are compared with those from before (assertNoLeaks).
 */
export async function withTestHost(fn, { containers = [], leaks = false } = {}) {
  const snap = leaks ? snapshot() : undefined;
  const host = new TestHost();
  const root = join(host.dir, 'root');
  let value;
  try {
    value = await fn(host, root);
  } finally {
    for (const id of containers) host.nsHako(['--root', root, 'delete', '--force', id]);
    host.cleanup();
  }
  if (snap) await assertNoLeaks(snap);
  return value;
}

/** A test "host": a network namespace with lo up, and hako's network dirs for it. */
export class TestHost {
  constructor() {
    this.name = unique('hako-nt');
    this.dir = mkdtempSync(join(tmpdir(), 'hako-net-test-'));
    this.netDir = join(this.dir, 'net.d');
    this.stateDir = join(this.dir, 'state');
    this.www = join(this.dir, 'www');
    mkdirSync(this.www);
    writeFileSync(join(this.www, 'index.html'), `hello from ${this.name}\n`);
    ok(run('ip', ['netns', 'add', this.name]));
    ok(run('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']));
    this.env = testEnv({ HAKO_NET_DIR: this.netDir, HAKO_NET_STATE: this.stateDir });
  }

  /** Runs a command in the test host. */
  exec(file, args, options = {}) {
    return run('ip', ['netns', 'exec', this.name, file, ...args], { env: this.env, ...options });
  }

  hako(args, options) {
    return this.exec(HAKO, args, options);
  }

  /** hako in the test host's network namespace only (ip netns exec remounts /sys, hiding the cgroups a container needs). */
  nsHako(args, options) {
    return run('nsenter', [`--net=/run/netns/${this.name}`, HAKO, ...args], { env: this.env, ...options });
  }

  spawnHako(args) {
    return new Background('ip', ['netns', 'exec', this.name, HAKO, ...args], { env: this.env });
  }

  /** As spawnHako, in the host's mount namespace (what hako keeps mounted outlives the command). */
  nsSpawnHako(args) {
    return new Background('nsenter', [`--net=/run/netns/${this.name}`, HAKO, ...args], { env: this.env });
  }

  links() {
    return lines(ok(run('ip', ['-n', this.name, '-o', 'link', 'show']))).map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]);
  }

  /** host-local's lease files (one per address handed out) of a network. */
  leases(network = 'bridge') {
    const d = join(this.stateDir, 'ipam', network);
    return existsSync(d) ? readdirSync(d).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  }

  attachments() {
    const d = join(this.stateDir, 'attachments');
    return existsSync(d) ? readdirSync(d) : [];
  }

  iptables() {
    return this.exec('iptables-save', []).stdout.replace(/^#.*\n/gm, '');
  }

  /** Nothing of an attachment is left: no veth, no lease, no record, no rule naming the address. */
  assertClean(addresses = []) {
    assert.deepEqual(this.links().filter((l) => l !== 'lo' && !/^hako\d+$/.test(l) && !l.startsWith('hk-')), [], 'a veth was left in the test host');
    assert.deepEqual(this.leases(), [], 'an IPAM lease was not returned');
    assert.deepEqual(this.attachments(), [], 'an attachment record was left');
    for (const d of ['files', 'netns']) {
      const dir = join(this.stateDir, d);
      assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], `something was left in ${dir}`);
    }
    const rules = this.iptables();
    for (const a of addresses) assert.ok(!rules.includes(a), `an iptables rule still names ${a}:\n${rules}`);
    assert.ok(!/unshare-[0-9a-f]{12}/.test(rules), `an iptables rule still names a container:\n${rules}`);
  }

  cleanup() {
    // a namespace hako kept as a file and failed to let go (a failing test) must not outlive it
    const kept = join(this.stateDir, 'netns');
    if (existsSync(kept)) for (const f of readdirSync(kept)) run('umount', [join(kept, f)]);
    run('ip', ['netns', 'del', this.name]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An address of eth0 printed by `ip -4 -o addr show dev eth0`. */
export function eth0Address(text) {
  const m = /eth0\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(text);
  assert.ok(m, `no eth0 address in:\n${text}`);
  return m[1];
}

