// Signals: a SIGTERM sent to the `hako unshare` process reaches the command.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertNoLeaks, snapshot, spawnHako } from './util.mjs';

// Traps TERM and exits 42; a background sleep (killed by the trap) keeps the shell waiting,
// and bounds the test if the signal never comes (then the exit is 9).
const SCRIPT = 'sleep 30 & child=$!; trap \'kill $child; echo got-TERM; exit 42\' TERM; echo ready; wait $child; echo no-signal; exit 9';

describe('signals sent to hako unshare', () => {
  // -p: the command is PID 1 of its namespace, which takes only signals it has a handler for
  for (const args of [['-u'], ['-u', '-p'], ['-u', '-p', '--mount-proc']]) {
    it(`SIGTERM reaches the command (unshare ${args.join(' ')})`, async () => {
      const snap = snapshot();
      const bg = spawnHako(['unshare', ...args, 'sh', '-c', SCRIPT]);
      try {
        await bg.waitFor(/ready\n/);
        bg.child.kill('SIGTERM');
        const status = await bg.wait();
        assert.deepEqual(status, { code: 42, signal: null }, bg.describe());
        assert.match(bg.stdout, /got-TERM/, bg.describe());
      } finally {
        await bg.stop();
      }
      await assertNoLeaks(snap);
    });
  }
});
