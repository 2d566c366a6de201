// --kill-child: when hako itself is killed, the command dies with it; without it, it lives on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoLeaks, findDescendant, isAlive, sleep, snapshot, spawnHako, waitUntil } from './util.mjs';

/** Starts `hako unshare ARGS sleep 300`, returns the CLI and the sleep (procStat). */
async function start(args) {
  const cli = spawnHako(['unshare', ...args, 'sleep', '300'], { stdio: 'ignore' });
  const command = await findDescendant(cli, 'sleep');
  return { cli, command };
}

describe('hako unshare --kill-child', () => {
  for (const args of [['--kill-child', '-u'], ['--kill-child', '-u', '-p', '--mount-proc'], ['--kill-child=TERM', '-u']]) {
    it(`kill -9 of hako ends the command (unshare ${args.join(' ')})`, async () => {
      const snap = snapshot();
      const { cli, command } = await start(args);
      try {
        cli.child.kill('SIGKILL');
        assert.equal((await cli.wait()).signal, 'SIGKILL');
        await waitUntil(() => !isAlive(command.pid, command.start), { what: `the command (pid ${command.pid}) to die` });
      } finally {
        if (isAlive(command.pid, command.start)) process.kill(command.pid, 'SIGKILL');
        await cli.stop();
      }
      await assertNoLeaks(snap);
    });
  }

  it('without --kill-child the command survives kill -9 of hako (the test then kills it)', async () => {
    const snap = snapshot();
    const { cli, command } = await start(['-u']);
    try {
      cli.child.kill('SIGKILL');
      assert.equal((await cli.wait()).signal, 'SIGKILL');
      // bounded: the command must still be there after a while (with --kill-child it dies at once)
      for (let i = 0; i < 20; i++) {
        assert.ok(isAlive(command.pid, command.start), 'the command died with hako');
        await sleep(50);
      }
    } finally {
      if (isAlive(command.pid, command.start)) process.kill(command.pid, 'SIGKILL');
    }
    await waitUntil(() => !isAlive(command.pid, command.start), { what: 'the command to die' });
    await assertNoLeaks(snap); // and its helper, which was waiting for it, is gone too
  });
});
