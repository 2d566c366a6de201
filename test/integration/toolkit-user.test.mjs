// User namespace, as an unprivileged user made for this test (the study's sixth experiment):
// root inside, ids mapped, every capability inside and none outside.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  assertNoLeaks, assertOneLineError, caps, createUser, findDescendant, fullCapMask, hakoAs, hostHostname, lines,
  nsLink, ok, removeUser, runAs, show, snapshot, spawnHakoAs, unique,
} from './util.mjs';

/** uid_map / gid_map rows as numbers. */
function mapRows(text) {
  return lines(text).map((l) => l.trim().split(/\s+/).map(Number));
}

describe('hako unshare -U as an unprivileged user', () => {
  let user;

  before(async () => { user = await createUser(); });
  after(async () => { if (user) await removeUser(user); });

  it('-r makes the user uid 0 and gid 0 inside; the host still sees the user', async () => {
    const snap = snapshot();
    const bg = spawnHakoAs(user, ['unshare', '-U', '-r', 'sh', '-c', 'id -u; id -g; readlink /proc/self/ns/user; echo READY; read line']);
    try {
      await bg.waitFor(/READY\n/);
      const [uid, gid, ns] = lines(bg.stdout);
      assert.equal(uid, '0', bg.describe());
      assert.equal(gid, '0', bg.describe());
      assert.notEqual(ns, nsLink('self', 'user'));
      const sh = await findDescendant(bg, 'sh');
      const st = statSync(`/proc/${sh.pid}`);
      assert.equal(st.uid, user.uid, 'on the host the command runs as the user');
      assert.equal(st.gid, user.gid);
      assert.deepEqual(mapRows(readFileSync(`/proc/${sh.pid}/uid_map`, 'utf8')), [[0, user.uid, 1]]);
      assert.deepEqual(mapRows(readFileSync(`/proc/${sh.pid}/gid_map`, 'utf8')), [[0, user.gid, 1]]);
      bg.child.stdin.end('\n');
      assert.deepEqual(await bg.wait(), { code: 0, signal: null }, bg.describe());
    } finally {
      await bg.stop();
    }
    assert.equal(ok(runAs(user.name, 'id', ['-u'])).trim(), String(user.uid));
    await assertNoLeaks(snap);
  });

  it("a file the user owns is owned by root inside; root's files by the overflow id", async () => {
    const snap = snapshot();
    const dir = mkdtempSync('/tmp/hako-it-user-');
    try {
      chmodSync(dir, 0o755);
      const file = `${dir}/mine`;
      writeFileSync(file, 'x');
      chownSync(file, user.uid, user.gid);
      writeFileSync(`${dir}/roots`, 'x');
      const r = hakoAs(user, ['unshare', '-U', '-r', 'stat', '-c', '%u:%g', file, `${dir}/roots`]);
      assert.deepEqual(lines(ok(r)), ['0:0', '65534:65534'], show(r));
      assert.equal(ok(runAs(user.name, 'stat', ['-c', '%u:%g', file])).trim(), `${user.uid}:${user.gid}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await assertNoLeaks(snap);
  });

  it('--map-users/--map-groups map a /etc/subuid range through newuidmap/newgidmap', async () => {
    const snap = snapshot();
    const { subStart: s, subCount: n } = user;
    const r = hakoAs(user, ['unshare', '--map-users', `0:${s}:${n}`, '--map-groups', `0:${s}:${n}`,
      'sh', '-c', 'cat /proc/self/uid_map; echo ==; cat /proc/self/gid_map']);
    const [uidMap, gidMap] = ok(r).split('==\n');
    assert.deepEqual(mapRows(uidMap), [[0, s, n]], show(r));
    assert.deepEqual(mapRows(gidMap), [[0, s, n]], show(r));

    // with -r as well: the user is 0, the range follows from 1
    const both = hakoAs(user, ['unshare', '-r', '--map-users', `1:${s}:${n}`, '--map-groups', `1:${s}:${n}`,
      'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map']);
    const [uid, gid, ...rows] = lines(ok(both));
    assert.deepEqual([uid, gid], ['0', '0'], show(both));
    assert.deepEqual(mapRows(rows.join('\n')), [[0, user.uid, 1], [1, s, n]], show(both));

    // a range that is not the user's is refused by newuidmap, with one line
    const foreign = hakoAs(user, ['unshare', '--map-users', `0:${s + n}:${n}`, 'true']);
    assertOneLineError(foreign);
    await assertNoLeaks(snap);
  });

  it('--setgroups deny is honoured when the gid map goes through newgidmap', async () => {
    const snap = snapshot();
    const { subStart: s, subCount: n } = user;
    const r = hakoAs(user, ['unshare', '--setgroups', 'deny', '--map-users', `0:${s}:${n}`, '--map-groups', `0:${s}:${n}`,
      'cat', '/proc/self/setgroups']);
    assert.equal(ok(r).trim(), 'deny', show(r));
    await assertNoLeaks(snap);
  });

  it('every capability inside the namespace, none on the host', async () => {
    const snap = snapshot();
    const host = hostHostname();
    const inside = hakoAs(user, ['unshare', '-U', '-r', 'cat', '/proc/self/status']);
    const c = caps(ok(inside));
    assert.equal(c.bnd, fullCapMask(), `bounding set inside\n${show(inside)}`);
    assert.equal(c.eff, c.bnd, `CapEff inside should be the whole bounding set\n${show(inside)}`);
    assert.equal(c.prm, c.bnd);

    const shell = runAs(user.name, 'sh', ['-c', 'cat /proc/$$/status']);
    assert.equal(caps(ok(shell)).eff, 0n, `the user's own shell should have no capabilities\n${show(shell)}`);

    // no power over the host: not directly, and not from the user namespace either
    const direct = runAs(user.name, 'hostname', [unique('x')]);
    assert.notEqual(direct.status, 0, show(direct));
    const fromNs = hakoAs(user, ['unshare', '-U', '-r', 'hostname', unique('x')]);
    assert.notEqual(fromNs.status, 0, `the host's UTS namespace is not the user namespace's to change\n${show(fromNs)}`);
    // but a UTS namespace the user namespace owns is
    const name = unique('owned');
    const own = hakoAs(user, ['unshare', '-U', '-r', '-u', 'sh', '-c', `hostname ${name} && hostname`]);
    assert.equal(ok(own).trim(), name, show(own));
    assert.equal(hostHostname(), host, 'the host hostname changed');
    await assertNoLeaks(snap);
  });

  it('without -U, asking for a namespace fails with one line naming CAP_SYS_ADMIN and -U', async () => {
    const snap = snapshot();
    const host = hostHostname();
    const r = hakoAs(user, ['unshare', '-u', 'hostname', unique('x')]);
    const line = assertOneLineError(r);
    assert.match(line, /CAP_SYS_ADMIN/, show(r));
    assert.match(line, /-U\b/, show(r));
    assert.equal(r.stdout, '');
    assert.equal(hostHostname(), host);
    await assertNoLeaks(snap);
  });
});
