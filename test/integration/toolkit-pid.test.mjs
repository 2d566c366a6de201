// PID namespace: the command is PID 1, sees only its own processes with --mount-proc, cannot
// signal host processes, and the host's /proc survives (the study's third and fourth experiments).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  assertNoLeaks, Background, findDescendant, hako, isAlive, lines, mountTable, nsLink, ok, procStat, run, show,
  snapshot, spawnHako,
} from './util.mjs';

/** `ps -e -o pid=,comm=` rows. */
function psRows(text) {
  return lines(text).map((l) => l.trim().split(/\s+/)).map(([pid, comm]) => ({ pid: Number(pid), comm }));
}

describe('hako unshare -p (PID namespace)', () => {
  it('the command is PID 1', async () => {
    const snap = snapshot();
    for (const args of [['-p', '--mount-proc'], ['-p']]) {
      const r = hako(['unshare', ...args, 'sh', '-c', 'echo $$']);
      assert.equal(ok(r), '1\n', show(r));
    }
    await assertNoLeaks(snap);
  });

  it("with --mount-proc, ps inside lists only the namespace's processes", async () => {
    const snap = snapshot();
    const r = hako(['unshare', '-p', '--mount-proc', 'sh', '-c', 'ps -e -o pid=,comm=; exit 0']);
    assert.deepEqual(psRows(ok(r)), [{ pid: 1, comm: 'sh' }, { pid: 2, comm: 'ps' }], show(r));
    const host = psRows(ok(run('ps', ['-e', '-o', 'pid=,comm='])));
    assert.ok(host.length > 5, 'the host shows more than a handful of processes');
    await assertNoLeaks(snap);
  });

  it('from the host, the command has an ordinary pid and NSpid ends in 1', async () => {
    const snap = snapshot();
    const bg = spawnHako(['unshare', '-p', '--mount-proc', 'sh', '-c', 'echo "inside:$$"; read line']);
    try {
      await bg.waitFor(/inside:1\n/);
      const sh = await findDescendant(bg, 'sh');
      assert.notEqual(sh.pid, 1);
      const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${sh.pid}/status`, 'utf8'))[1].split(/\s+/).map(Number);
      assert.deepEqual(nspid, [sh.pid, 1]);
      assert.notEqual(nsLink(sh.pid, 'pid'), nsLink('self', 'pid'));
      assert.ok(psRows(ok(run('ps', ['-e', '-o', 'pid=,comm=']))).some((p) => p.pid === sh.pid), 'host ps does not list the command');
      bg.child.stdin.end('\n');
      assert.deepEqual(await bg.wait(), { code: 0, signal: null }, bg.describe());
    } finally {
      await bg.stop();
    }
    await assertNoLeaks(snap);
  });

  it('kill -9 of a host process from inside fails, and the process keeps running', async () => {
    const snap = snapshot();
    const victim = new Background('sleep', ['300'], { stdio: 'ignore' });
    try {
      const start = procStat(victim.pid).start;
      for (const args of [['-p', '--mount-proc'], ['-p']]) {
        const r = hako(['unshare', ...args, 'sh', '-c', `kill -9 ${victim.pid}; echo "kill:$?"`]);
        assert.match(ok(r), /^kill:[1-9]\d*$/m, `kill of host pid ${victim.pid} should fail inside\n${show(r)}`);
        assert.ok(isAlive(victim.pid, start), `the host process died (unshare ${args.join(' ')})`);
      }
    } finally {
      await victim.stop();
    }
    assert.equal(victim.exitStatus.signal, 'SIGKILL', 'the sleep should have lived until the test killed it');
    assert.ok(!isAlive(victim.pid));
    await assertNoLeaks(snap);
  });

  it("after the command exits the host's /proc and ps still work", async () => {
    const snap = snapshot();
    const before = mountTable();
    const r = hako(['unshare', '-p', '--mount-proc', 'ps', '-e']);
    ok(r);
    assert.equal(mountTable(), before, 'the mount table changed');
    const host = psRows(ok(run('ps', ['-e', '-o', 'pid=,comm='])));
    assert.ok(host.length > 5, `host ps lists only ${host.length} processes`);
    assert.ok(host.some((p) => p.pid === process.pid), 'host ps does not list this test');
    // /proc is still the host's: our own pid is there, as seen from the host
    assert.equal(Number(/^Pid:\s*(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]), process.pid);
    await assertNoLeaks(snap);
  });
});
