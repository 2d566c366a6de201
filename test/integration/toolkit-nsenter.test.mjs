// nsenter into, and ns listing of, a running `hako unshare --all` process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertNoLeaks, findDescendant, hako, hostHostname, isAlive, lines, NS_FLAG, NS_TYPES, nsInode, nsLink, ok,
  restoreHostname, show, snapshot, spawnHako,
} from './util.mjs';

describe('hako nsenter and hako ns, against a running unshare --all', () => {
  let snap;
  let target; // the CLI in the background
  let sleep; // procStat of the command: the namespaces' only process
  const host = hostHostname();

  before(async () => {
    snap = snapshot();
    // -r so that joining its user namespace can become root there (0 is mapped)
    target = spawnHako(['unshare', '--all', '-r', '--mount-proc', '--hostname', 'nsx', 'sleep', '300'], { stdio: 'ignore' });
    sleep = await findDescendant(target, 'sleep');
    for (const type of NS_TYPES) {
      assert.notEqual(nsLink(sleep.pid, type), nsLink('self', type), `the target is still in our ${type} namespace`);
    }
  });

  after(async () => {
    if (sleep && isAlive(sleep.pid, sleep.start)) process.kill(sleep.pid, 'SIGKILL');
    if (target) await target.stop();
    restoreHostname(host);
  });

  const enter = (args, command) => hako(['nsenter', '-t', String(sleep.pid), ...args, '--', ...command]);

  it('-u: the hostname is nsx', () => {
    const r = enter(['-u'], ['hostname']);
    assert.equal(ok(r), 'nsx\n', show(r));
  });

  it('-n: lo is the only link', () => {
    const r = enter(['-n'], ['ip', '-o', 'link']);
    const names = lines(ok(r)).map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1]);
    assert.deepEqual(names, ['lo'], show(r));
  });

  it('-p -m: ps shows only the small pid set of the namespace', () => {
    const r = enter(['-p', '-m'], ['ps', '-e', '-o', 'pid=,comm=']);
    const rows = lines(ok(r)).map((l) => l.trim().split(/\s+/));
    assert.deepEqual(rows[0], ['1', 'sleep'], show(r));
    assert.ok(rows.length <= 3 && rows.every(([pid]) => Number(pid) < 10), `not the namespace's pid set\n${show(r)}`);
  });

  it('-m: /proc is the one mounted inside (its PID 1 is the sleep)', () => {
    const r = enter(['-m'], ['cat', '/proc/1/comm']);
    assert.equal(ok(r), 'sleep\n', show(r));
  });

  it('-U: root of the joined user namespace', () => {
    const r = enter(['-U'], ['sh', '-c', 'id -u; id -g']);
    assert.deepEqual(lines(ok(r)), ['0', '0'], show(r));
  });

  for (const type of NS_TYPES) {
    // /proc/self needs a /proc of the pid namespace the reader is in: enter mnt with pid
    const args = type === 'mnt' ? ['-m', '-p'] : [NS_FLAG[type]];
    it(`${args.join(' ')}: /proc/self/ns/${type} is the target's`, () => {
      const r = enter(args, ['readlink', `/proc/self/ns/${type}`]);
      assert.equal(ok(r).trim(), nsLink(sleep.pid, type), show(r));
    });
  }

  it('--all: every namespace is the target\'s', () => {
    const r = enter(['--all'], ['sh', '-c', `for t in ${NS_TYPES.join(' ')}; do readlink /proc/self/ns/$t; done; hostname`]);
    assert.deepEqual(lines(ok(r)), [...NS_TYPES.map((t) => nsLink(sleep.pid, t)), 'nsx'], show(r));
  });

  it('hako ns --json lists each namespace of the target, with it as the lowest pid', () => {
    const r = hako(['ns', '--json']);
    const { namespaces } = JSON.parse(ok(r));
    const userNs = nsInode(sleep.pid, 'user');
    for (const type of NS_TYPES) {
      const entry = namespaces.find((n) => n.type === type && n.ns === nsInode(sleep.pid, type));
      assert.ok(entry, `hako ns --json lacks the ${type} namespace ${nsLink(sleep.pid, type)}`);
      assert.equal(entry.pid, sleep.pid, `${type}: lowest pid`);
      assert.equal(entry.nprocs, 1, `${type}: the sleep is its only process`);
      if (type === 'user') assert.equal(entry.parent, nsInode('self', 'user'), 'the parent of the new user namespace');
      else assert.equal(entry.owner, userNs, `${type} should be owned by the new user namespace`);
    }
  });

  it('hako ns PID marks with * each namespace that differs from the host\'s', () => {
    const r = hako(['ns', String(sleep.pid)]);
    const rows = lines(ok(r)).slice(1).map((l) => l.trim().split(/\s+/));
    assert.equal(rows.length, NS_TYPES.length, show(r));
    for (const type of NS_TYPES) {
      const row = rows.find((x) => x[1] === type);
      assert.ok(row, `no ${type} row\n${show(r)}`);
      assert.deepEqual(row.slice(0, 4), [String(sleep.pid), type, String(nsInode(sleep.pid, type)), '*'], `${type} row\n${show(r)}`);
    }
    // and this process, in the host's namespaces, gets no mark
    const mine = hako(['ns', String(process.pid)]);
    assert.ok(!lines(ok(mine)).slice(1).some((l) => l.includes('*')), `this test's namespaces are marked\n${show(mine)}`);
  });

  it('hako ns --tree shows the user namespace with the namespaces it owns below it', () => {
    const r = hako(['ns', '--tree']);
    const out = lines(ok(r));
    const at = (inode) => out.findIndex((l) => new RegExp(`(^|[\\s─])${inode}\\s`).test(l));
    const depth = (line) => line.search(/\d/); // where the NS column's number starts
    const userRow = at(nsInode(sleep.pid, 'user'));
    assert.ok(userRow >= 0, `the user namespace is not in the tree\n${show(r)}`);
    for (const type of NS_TYPES.filter((t) => t !== 'user')) {
      const row = at(nsInode(sleep.pid, type));
      assert.ok(row > userRow, `${type} should be listed below its user namespace\n${show(r)}`);
      assert.match(out[row], /[├└]─\d/, `${type} should be a branch\n${show(r)}`);
      assert.ok(depth(out[row]) > depth(out[userRow]), `${type} should be indented below its user namespace\n${show(r)}`);
    }
  });

  it('killing the target ends it and its helper, and leaves nothing behind', async () => {
    process.kill(sleep.pid, 'SIGKILL');
    const status = await target.wait();
    assert.deepEqual(status, { code: 128 + 9, signal: null }, target.describe());
    assert.ok(!isAlive(sleep.pid, sleep.start), 'the sleep still runs');
    assert.equal(hostHostname(), host, 'the host hostname changed');
    await assertNoLeaks(snap);
  });
});
