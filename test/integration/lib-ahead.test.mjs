// Namespaces made ahead of the plan (docs/PROTOCOL.md "Namespaces made ahead"): a helper started
// with --ahead makes the network, mount, uts and ipc namespaces while P builds the plan, and H1
// joins them only when the plan says so and nothing they copied has changed; its holder never
// outlives the helper's session. Real helpers, checked from the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../../dist/index.js';
import { HelperSession } from '../../dist/src/helper/session.js';
import { PlanBuilder } from '../../dist/src/helper/plan-builder.js';
import { ops } from '../../dist/src/helper/ops.js';
import { planAhead } from '../../dist/src/helper/ahead.js';
import { isAlive, scoped, waitUntil } from './oci-util.mjs';

const NET = 0x40000000, MNT = 0x00020000, UTS = 0x04000000, IPC = 0x08000000, PID = 0x20000000;
const AHEAD = NET | MNT | UTS | IPC;

/** A plan that makes PID plus the namespaces made ahead, and runs script in them (host files). */
function plan(script) {
  const b = new PlanBuilder();
  b.ns(ops.unshare({ flags: AHEAD | PID }), 'unshare');
  b.init(ops.exec({ args: ['/bin/sh', '-c', script], env: ['PATH=/usr/bin:/bin'] }), 'exec');
  return { explain: false, nsOps: b.nsOps, initOps: b.initOps, ahead: true };
}

/** The holder a helper forked (its one child before the plan), once it has made its namespaces. */
async function holderOf(h0) {
  let holder;
  await waitUntil(() => {
    const kids = readFileSync(`/proc/${h0}/task/${h0}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (kids.length !== 1) return false;
    try {
      if (readlinkSync(`/proc/${kids[0]}/ns/net`) === readlinkSync('/proc/self/ns/net')) return false;
    } catch { return false; }
    holder = Number(kids[0]);
    return true;
  }, { timeoutMs: 5000, what: 'the helper to make its namespaces ahead' });
  return holder;
}

test('planAhead: the network, mount, uts and ipc namespaces of a plain UNSHARE; none for joins, user or time namespaces', () => {
  const b = new PlanBuilder();
  b.ns(ops.write({ path: '/sys/fs/cgroup/pids/x/tasks', data: '0' }), 'join');
  b.ns(ops.unshare({ flags: AHEAD | PID | 0x02000000 }), 'unshare');
  b.ns(ops.netWait(), 'net');
  assert.equal(planAhead(b.nsOps), AHEAD);
  const only = new PlanBuilder().ns(ops.unshare({ flags: UTS | PID }), 'unshare');
  assert.equal(planAhead(only.nsOps), UTS);
  for (const [what, extra] of [['user', 0x10000000], ['time', 0x80]]) {
    assert.equal(planAhead(new PlanBuilder().ns(ops.unshare({ flags: AHEAD | extra }), what).nsOps), 0, what);
  }
  const joins = new PlanBuilder().ns(ops.setns({ path: '/proc/1/ns/net', nstype: NET }), 'setns').ns(ops.unshare({ flags: MNT }), 'unshare');
  assert.equal(planAhead(joins.nsOps), 0);
  const after = new PlanBuilder().ns(ops.unshare({ flags: MNT }), 'unshare').ns(ops.write({ path: '/proc/self/timens_offsets', data: '' }), 'offsets');
  assert.equal(planAhead(after.nsOps), 0);
  assert.equal(planAhead([]), 0);
});

test('a mount made on the host after the namespaces were made ahead is seen by the container (they are not used)', scoped(async (s) => {
  // a private mount of our own: what is mounted under it reaches no copy made before, whatever
  // the host's propagation
  const dir = s.path('ahead-mnt');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  execFileSync('mount', ['--bind', dir, dir]);
  try {
    execFileSync('mount', ['--make-private', dir]);
    const helper = HelperSession.start({ stdio: ['ignore', 'pipe', 'pipe'], ahead: AHEAD, label: 'ahead test' });
    const h0 = helper.child.pid;
    const holder = await holderOf(h0);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'none', join(dir, 'sub')]);
    try {
      writeFileSync(join(dir, 'sub', 'marker'), 'x');
      const r = await helper.run(plan(`test -e ${join(dir, 'sub', 'marker')} && readlink /proc/self/ns/mnt`));
      assert.equal(r.status, 0, `the container did not see the mount made after its helper started: ${r.stderr}`);
      assert.notEqual(r.stdout.toString().trim(), readlinkSync('/proc/self/ns/mnt'));
      assert.ok(!isAlive(holder), 'the holder outlived the plan');
    } finally {
      execFileSync('umount', [join(dir, 'sub')]);
    }
  } finally {
    execFileSync('umount', [dir]);
  }
}));

test('the namespaces made ahead are the container\'s when nothing changed; unused ones (a plan without ahead, no plan) go with their holder', scoped(async (s) => {
  // used: the container is in the holder's network namespace, not the host's
  let helper = HelperSession.start({ stdio: ['ignore', 'pipe', 'pipe'], ahead: AHEAD, label: 'ahead test' });
  let holder = await holderOf(helper.child.pid);
  const made = readlinkSync(`/proc/${holder}/ns/net`);
  let r = await helper.run(plan('readlink /proc/self/ns/net; readlink /proc/self/ns/uts'));
  assert.equal(r.status, 0, String(r.stderr));
  const [net, uts] = r.stdout.toString().trim().split('\n');
  assert.equal(net, made);
  assert.notEqual(uts, readlinkSync('/proc/self/ns/uts'));
  assert.ok(!isAlive(holder));
  // not asked for by the plan: new ones, and the holder is gone
  helper = HelperSession.start({ stdio: ['ignore', 'pipe', 'pipe'], ahead: AHEAD, label: 'ahead test' });
  holder = await holderOf(helper.child.pid);
  const unused = readlinkSync(`/proc/${holder}/ns/net`);
  r = await helper.run({ ...plan('readlink /proc/self/ns/net'), ahead: false });
  assert.equal(r.status, 0, String(r.stderr));
  assert.notEqual(r.stdout.toString().trim(), unused);
  assert.notEqual(r.stdout.toString().trim(), readlinkSync('/proc/self/ns/net'));
  assert.ok(!isAlive(holder));
  // a host op that fails (H0 runs them while the holder makes the namespaces, before it takes
  // them): the plan fails with that op's error, and the holder goes with the helper's session
  helper = HelperSession.start({ stdio: ['ignore', 'pipe', 'pipe'], ahead: AHEAD, label: 'ahead test' });
  holder = await holderOf(helper.child.pid);
  const failing = new PlanBuilder();
  failing.host(ops.write({ path: join(s.dir, 'no-such-dir', 'file'), data: 'x' }), 'write');
  failing.ns(ops.unshare({ flags: AHEAD | PID }), 'unshare');
  failing.init(ops.exec({ args: ['/bin/true'], env: [] }), 'exec');
  r = await helper.run({ explain: false, hostOps: failing.hostOps, nsOps: failing.nsOps, initOps: failing.initOps, ahead: true });
  assert.ok(r.failure, `the plan ran: ${JSON.stringify(r)}`);
  assert.match(`${r.failure.stage} ${r.failure.op} ${r.failure.errname}`, /^host write ENOENT$/, JSON.stringify(r.failure));
  assert.ok(!isAlive(holder), 'the holder outlived the failed plan');
  // no plan at all (P failed before it had one, and ends the helper: SIGKILL): the helper and its
  // holder go (the holder by its parent-death signal, reaped by init as H1 would be)
  helper = HelperSession.start({ stdio: ['ignore', 'pipe', 'pipe'], ahead: AHEAD, label: 'ahead test' });
  const h0 = helper.child.pid;
  holder = await holderOf(h0);
  helper.abandon();
  await waitUntil(() => !existsSync(`/proc/${holder}`) && !isAlive(h0), { timeoutMs: 5000, what: 'the unused helper and its holder to go' });
}));

test('a Runtime\'s second container joins the namespaces its helper made ahead, and gets namespaces of its own', scoped(async (s) => {
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const b = s.bundle().sh('readlink /proc/self/ns/net; readlink /proc/self/ns/mnt; hostname; ls /sys/class/net | wc -l');
  const seen = [];
  for (let i = 0; i < 3; i++) {
    const r = await rt.run(s.id(), { bundle: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    seen.push(r.stdout.toString());
  }
  const host = [readlinkSync('/proc/self/ns/net'), readlinkSync('/proc/self/ns/mnt')];
  const nets = new Set(seen.map((o) => o.split('\n')[0]));
  assert.equal(nets.size, 3, `each container its own network namespace: ${seen}`);
  for (const o of seen) {
    const [net, mnt, hostname, links] = o.trim().split('\n');
    assert.ok(!host.includes(net) && !host.includes(mnt), o);
    assert.equal(hostname, b.config.hostname);
    assert.equal(links, '1', `only lo: ${o}`);
  }
  await rt.close?.();
}));
