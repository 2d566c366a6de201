// UTS namespace: the hostname set inside is seen inside only (the study's first experiment).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import {
  assertNoLeaks, findDescendant, hako, hostHostname, lines, nsLink, ok, restoreHostname, run, show, snapshot,
  spawnHako, unique,
} from './util.mjs';

describe('hako unshare -u (UTS namespace)', () => {
  it('--hostname is seen inside; the host keeps its hostname while the command runs and after', async () => {
    const snap = snapshot();
    const host = hostHostname();
    const name = unique('hako-uts');
    // the command reports, then blocks on stdin until the test has looked at the host
    const bg = spawnHako(['unshare', '-u', '--hostname', name, 'sh', '-c',
      'hostname; uname -n; readlink /proc/self/ns/uts; echo READY; read line; echo "after:$(hostname)"']);
    try {
      await bg.waitFor(/READY\n/);
      const [h, u, ns] = lines(bg.stdout);
      assert.equal(h, name, bg.describe());
      assert.equal(u, name, bg.describe());
      assert.notEqual(ns, nsLink('self', 'uts'), 'the command should be in another UTS namespace');

      // the host, while the command still runs
      assert.equal(hostHostname(), host);
      assert.equal(hostname(), host);
      assert.equal(ok(run('hostname')).trim(), host);
      // and the command's namespace, looked at from the host
      const sh = await findDescendant(bg, 'sh');
      assert.equal(nsLink(sh.pid, 'uts'), ns);
      assert.equal(ok(run('nsenter', ['-t', String(sh.pid), '-u', 'hostname'])).trim(), name);

      bg.child.stdin.end('go\n');
      const status = await bg.wait();
      assert.deepEqual(status, { code: 0, signal: null }, bg.describe());
      assert.match(bg.stdout, new RegExp(`^after:${name}$`, 'm'));
    } finally {
      await bg.stop();
      restoreHostname(host);
    }
    assert.equal(hostHostname(), host, 'the host hostname changed');
    await assertNoLeaks(snap);
  });

  it('sethostname inside (the command itself) does not reach the host', async () => {
    const snap = snapshot();
    const host = hostHostname();
    const name = unique('set-inside');
    try {
      const r = hako(['unshare', '-u', 'sh', '-c', `hostname; hostname ${name} && hostname`]);
      const [before, after] = lines(ok(r));
      assert.equal(before, host, `a new UTS namespace starts with a copy of the host's name\n${show(r)}`);
      assert.equal(after, name, show(r));
      assert.equal(hostHostname(), host, 'the host hostname changed');
    } finally {
      restoreHostname(host);
    }
    await assertNoLeaks(snap);
  });

  it('--hostname and --domainname take up to 64 bytes (counted in bytes, not characters)', async () => {
    const snap = snapshot();
    const host = hostHostname();
    const name = 'h'.repeat(64);
    const domain = 'é'.repeat(32); // 64 bytes
    const domain0 = readFileSync('/proc/sys/kernel/domainname', 'utf8');
    try {
      const r = hako(['unshare', '--hostname', name, '--domainname', domain, 'sh', '-c', 'hostname; cat /proc/sys/kernel/domainname']);
      assert.deepEqual(lines(ok(r)), [name, domain], show(r));
      const tooLong = hako(['unshare', '--hostname', 'é'.repeat(33), 'true']);
      assert.notEqual(tooLong.status, 0, `66 bytes should be refused\n${show(tooLong)}`);
      assert.equal(hostHostname(), host);
      assert.equal(readFileSync('/proc/sys/kernel/domainname', 'utf8'), domain0, 'the host domain name changed');
    } finally {
      restoreHostname(host);
      if (readFileSync('/proc/sys/kernel/domainname', 'utf8') !== domain0) writeFileSync('/proc/sys/kernel/domainname', domain0.trim());
    }
    await assertNoLeaks(snap);
  });
});
