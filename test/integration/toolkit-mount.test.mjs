// Mount namespace: mounts made inside stay inside, also under a shared host mount, and the host's
// mount table is byte-identical afterwards (the study's fourth experiment).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  assertNoLeaks, findDescendant, mountTable, nsLink, ok, run, snapshot, spawnHako, unique, unmountLeaked,
} from './util.mjs';

/** Runs `hako unshare ARGS sh -c 'mount -t tmpfs SOURCE TARGET; ...'` and keeps it running. */
async function mountInside(args, source, target) {
  const bg = spawnHako(['unshare', ...args, 'sh', '-c',
    `mount -t tmpfs ${source} ${target} && grep -F ' ${target} ' /proc/self/mountinfo && echo READY && read line`]);
  await bg.waitFor(/READY\n/);
  return bg;
}

async function finish(bg) {
  bg.child.stdin.end('\n');
  assert.deepEqual(await bg.wait(), { code: 0, signal: null }, bg.describe());
}

describe('hako unshare -m (mount namespace)', () => {
  it('a tmpfs mounted inside is in the mount table inside, not on the host', async () => {
    const snap = snapshot();
    const source = unique('hako-it-tmpfs');
    const bg = await mountInside(['-m'], source, '/mnt');
    try {
      assert.match(bg.stdout, new RegExp(` /mnt .* - tmpfs ${source} `), bg.describe());
      assert.ok(!mountTable().includes(source), 'the tmpfs is in the host mount table');
      // the host can see it in the command's own table
      const sh = await findDescendant(bg, 'sh');
      assert.notEqual(nsLink(sh.pid, 'mnt'), nsLink('self', 'mnt'));
      assert.ok(readFileSync(`/proc/${sh.pid}/mountinfo`, 'utf8').includes(source), "the command's mount table lacks the tmpfs");
      await finish(bg);
    } finally {
      await bg.stop();
      unmountLeaked(source, '/mnt'); // only if hako failed to make a mount namespace
    }
    await assertNoLeaks(snap); // includes: the mount table is byte-identical to the one before
  });

  it('under a shared host mount: private (the default) and slave keep mounts inside, shared lets them out', async () => {
    const snap = snapshot();
    // A shared mount of our own, so that propagation matters (the host's mounts here may be
    // private, where any mode would pass). Never --propagation unchanged: that would leak.
    const dir = mkdtempSync('/tmp/hako-it-shared-');
    const outer = unique('hako-it-outer');
    let mounted = false;
    try {
      ok(run('mount', ['-t', 'tmpfs', outer, dir]));
      mounted = true;
      ok(run('mount', ['--make-shared', dir]));
      mkdirSync(`${dir}/sub`);
      assert.match(mountTable(), new RegExp(` ${dir} [^\\n]* shared:\\d+[^\\n]* - tmpfs ${outer} `), 'the test mount is not shared');

      for (const args of [['-m'], ['-m', '--propagation', 'private'], ['-m', '--propagation', 'slave']]) {
        const source = unique('hako-it-inner');
        const bg = await mountInside(args, source, `${dir}/sub`);
        try {
          assert.ok(bg.stdout.includes(source), bg.describe());
          assert.ok(!mountTable().includes(source), `unshare ${args.join(' ')}: the inner mount reached the host`);
          await finish(bg);
        } finally {
          await bg.stop();
        }
      }

      // the control: with shared propagation the same mount does reach the host
      const source = unique('hako-it-leak');
      const bg = await mountInside(['-m', '--propagation', 'shared'], source, `${dir}/sub`);
      try {
        assert.ok(mountTable().includes(source), 'with --propagation shared the mount should reach the host');
        await finish(bg);
      } finally {
        await bg.stop();
      }
    } finally {
      if (mounted) ok(run('umount', ['-R', dir]));
      rmdirSync(dir);
    }
    await assertNoLeaks(snap);
  });
});
