// IPC namespace: System V message queues on either side are invisible to the other.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertNoLeaks, findDescendant, hako, nsLink, ok, run, show, snapshot, spawnHako,
} from './util.mjs';

/** The rows of `ipcs -q`: key (hex text) and msqid. */
function queues(ipcsOutput) {
  return [...ipcsOutput.matchAll(/^(0x[0-9a-f]+)\s+(\d+)\s/gm)].map((m) => ({ key: m[1], id: Number(m[2]) }));
}

const hostQueues = () => queues(ok(run('ipcs', ['-q'])));
const has = (list, q) => list.some((x) => x.key === q.key && x.id === q.id);

describe('hako unshare -i (IPC namespace)', () => {
  let hostQueue;

  before(() => {
    const r = run('ipcmk', ['-Q']);
    const id = Number(/Message queue id: (\d+)/.exec(ok(r))?.[1]);
    assert.ok(Number.isInteger(id), show(r));
    hostQueue = hostQueues().find((q) => q.id === id);
    assert.ok(hostQueue, `ipcs -q does not list the queue ipcmk made (${id})`);
  });

  after(() => {
    if (!hostQueue) return;
    if (has(hostQueues(), hostQueue)) ok(run('ipcrm', ['-q', String(hostQueue.id)]));
    assert.ok(!has(hostQueues(), hostQueue), 'the host queue is still there');
  });

  it("the host's queue is invisible inside, and ipcrm inside cannot remove it", async () => {
    const snap = snapshot();
    const r = hako(['unshare', '-i', 'sh', '-c',
      `ipcs -q; echo ===; ipcrm -Q ${hostQueue.key} 2>/dev/null; echo "rm-key:$?"; ipcrm -q ${hostQueue.id} 2>/dev/null; echo "rm-id:$?"; readlink /proc/self/ns/ipc`]);
    const [inside, rest] = ok(r).split('===\n');
    assert.deepEqual(queues(inside), [], `a new IPC namespace has no queues\n${show(r)}`);
    assert.match(rest, /^rm-key:[1-9]\d*$/m, `ipcrm -Q of the host's key should fail inside\n${show(r)}`);
    assert.match(rest, /^rm-id:[1-9]\d*$/m, `ipcrm -q of the host's id should fail inside\n${show(r)}`);
    assert.notEqual(rest.trim().split('\n').pop(), nsLink('self', 'ipc'));
    assert.ok(has(hostQueues(), hostQueue), 'the host queue is gone');
    await assertNoLeaks(snap);
  });

  it('a queue made inside is invisible on the host while it exists', async () => {
    const snap = snapshot();
    const bg = spawnHako(['unshare', '-i', 'sh', '-c', 'ipcmk -Q >/dev/null && ipcs -q && echo READY && read line']);
    try {
      await bg.waitFor(/READY\n/);
      const made = queues(bg.stdout);
      assert.equal(made.length, 1, `exactly the queue made inside should be listed inside\n${bg.describe()}`);
      assert.ok(!has(made, hostQueue), 'the host queue is listed inside');
      const inner = made[0];

      const onHost = hostQueues();
      assert.ok(!onHost.some((q) => q.key === inner.key), `the inner queue ${inner.key} is listed on the host`);
      assert.ok(has(onHost, hostQueue), 'the host queue is gone');
      // from the host, through the command's namespace, the inner queue is there
      const sh = await findDescendant(bg, 'sh');
      assert.notEqual(nsLink(sh.pid, 'ipc'), nsLink('self', 'ipc'));
      const seen = queues(ok(run('nsenter', ['-t', String(sh.pid), '-i', 'ipcs', '-q'])));
      assert.deepEqual(seen, made);

      bg.child.stdin.end('done\n');
      assert.deepEqual(await bg.wait(), { code: 0, signal: null }, bg.describe());
    } finally {
      await bg.stop();
    }
    assert.ok(!hostQueues().some((q) => q.key === queues(bg.stdout)[0].key), 'the inner queue showed up on the host');
    assert.ok(has(hostQueues(), hostQueue), 'the host queue is gone');
    await assertNoLeaks(snap);
  });
});
