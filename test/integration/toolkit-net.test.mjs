// Network namespace: only lo, and it is up; the host's links are invisible and unchanged.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { assertNoLeaks, findDescendant, lines, nsLink, ok, run, snapshot, spawnHako } from './util.mjs';

/** `ip -o link` rows: name and flags. */
function links(text) {
  return lines(text).map((l) => {
    const m = /^\d+:\s+([^:@\s]+)(?:@[^:]+)?:\s+<([^>]*)>/.exec(l);
    assert.ok(m, `cannot parse ip -o link line: ${l}`);
    return { name: m[1], flags: m[2].split(',') };
  });
}

/** Interface names in a /proc/PID/net/dev. */
function netDevNames(pid) {
  return lines(readFileSync(`/proc/${pid}/net/dev`, 'utf8')).slice(2).map((l) => l.split(':')[0].trim());
}

describe('hako unshare -n (network namespace)', () => {
  it('lo is the only link inside and it is UP; host links are invisible and unchanged', async () => {
    const snap = snapshot();
    const hostBefore = links(ok(run('ip', ['-o', 'link'])));
    assert.ok(hostBefore.some((l) => l.name !== 'lo'), 'the host has only lo: this test could not tell the namespaces apart');

    const bg = spawnHako(['unshare', '-n', 'sh', '-c', 'readlink /proc/self/ns/net; ip -o link; echo READY; read line']);
    try {
      await bg.waitFor(/READY\n/);
      const [ns, ...rest] = lines(bg.stdout);
      assert.notEqual(ns, nsLink('self', 'net'), 'the command is in the host network namespace');
      const inside = links(rest.slice(0, -1).join('\n'));
      assert.deepEqual(inside.map((l) => l.name), ['lo'], bg.describe());
      assert.ok(inside[0].flags.includes('UP'), `lo is not up inside: ${inside[0].flags}`);
      for (const l of hostBefore.filter((h) => h.name !== 'lo')) {
        assert.ok(!bg.stdout.includes(`${l.name}:`), `host link ${l.name} is visible inside`);
      }

      // from the host: the command's namespace has only lo; the host's links are as they were
      const sh = await findDescendant(bg, 'sh');
      assert.equal(nsLink(sh.pid, 'net'), ns);
      assert.deepEqual(netDevNames(sh.pid), ['lo']);
      assert.deepEqual(links(ok(run('ip', ['-o', 'link']))), hostBefore);

      bg.child.stdin.end('\n');
      assert.deepEqual(await bg.wait(), { code: 0, signal: null }, bg.describe());
    } finally {
      await bg.stop();
    }
    assert.deepEqual(links(ok(run('ip', ['-o', 'link']))), hostBefore, 'the host links changed');
    await assertNoLeaks(snap);
  });
});
