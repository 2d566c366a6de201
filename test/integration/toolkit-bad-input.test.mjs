// Bad input: each is refused with one line on stderr and a non-zero exit, and leaves nothing
// behind (no helper or other process, no mount). The unprivileged case is in toolkit-user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { assertNoLeaks, assertOneLineError, hako, hostHostname, procStat, show, snapshot } from './util.mjs';

// pid_max itself is never handed out: no process can have it
const NO_SUCH_PID = String(Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')));

const CASES = [
  { name: 'unknown long option', args: ['unshare', '--no-such-option', 'true'], match: /--no-such-option/ },
  { name: 'unknown short option', args: ['unshare', '-Z', 'true'], match: /-Z/ },
  { name: 'unknown verb', args: ['no-such-verb'], match: /no-such-verb/ },
  { name: 'map with a non-number', args: ['unshare', '--map-users', '0:x:1', 'true'], match: /'x'/ },
  { name: 'map with two fields', args: ['unshare', '--map-users', '1:2', 'true'], match: /1:2/ },
  { name: 'map with a zero count', args: ['unshare', '--map-groups', '0:1000:0', 'true'] },
  { name: 'maps that overlap inside', args: ['unshare', '--map-users', '0:100000:10', '--map-users', '5:200000:10', 'true'], match: /overlap/ },
  { name: 'maps that overlap outside', args: ['unshare', '--map-groups', '0:100000:10', '--map-groups', '100:100005:10', 'true'], match: /overlap/ },
  { name: 'map id out of range', args: ['unshare', '--map-users', '0:4294967295:1', 'true'], match: /4294967295/ },
  { name: 'map running past the largest id', args: ['unshare', '--map-users', '0:4294967290:10', 'true'] },
  { name: 'nsenter to a pid that does not exist', args: ['nsenter', '-t', NO_SUCH_PID, '-u', 'true'], match: new RegExp(NO_SUCH_PID) },
  { name: 'nsenter with nothing to enter', args: ['nsenter', '-t', String(process.pid), 'true'] },
  { name: 'a command that does not exist', args: ['unshare', '-u', 'hako-it-no-such-command'], status: 127, match: /not found/ },
  { name: '--hostname of 65 bytes', args: ['unshare', '--hostname', 'h'.repeat(65), 'true'], match: /64/ },
  { name: '--root that does not exist', args: ['unshare', '-m', '--root', '/nonexistent', 'true'], match: /\/nonexistent/ },
  // these two fail inside the helper, after the namespaces were made
  { name: '--wd that does not exist', args: ['unshare', '-m', '--wd', '/nonexistent', 'true'], match: /\/nonexistent/ },
  { name: '--mount-proc on a directory that does not exist', args: ['unshare', '-p', '--mount-proc=/nonexistent', 'true'], match: /\/nonexistent/ },
  { name: 'unknown --propagation', args: ['unshare', '-m', '--propagation', 'sideways', 'true'], match: /sideways/ },
  { name: 'unknown --kill-child signal', args: ['unshare', '--kill-child=SIGNOPE', 'true'], match: /SIGNOPE/ },
];

describe('bad input', () => {
  for (const c of CASES) {
    it(`${c.name}: one line, non-zero exit, nothing left behind`, async () => {
      assert.equal(procStat(Number(NO_SUCH_PID)), undefined);
      const snap = snapshot();
      const host = hostHostname();
      const r = hako(c.args);
      const line = assertOneLineError(r);
      if (c.status !== undefined) assert.equal(r.status, c.status, show(r));
      if (c.match) assert.match(line, c.match, show(r));
      assert.equal(r.stdout, '', show(r));
      assert.equal(hostHostname(), host);
      await assertNoLeaks(snap);
    });
  }
});
