// --explain: a line for each step (unshare, id maps, mounts, exec), all before the command's output.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  assertNoLeaks, hako, HAKO, hostHostname, lines, NODE, ok, restoreHostname, run, show, snapshot,
} from './util.mjs';

const ARGS = ['unshare', '--explain', '-r', '-m', '-u', '-p', '--mount-proc', '--hostname', 'ex', 'sh', '-c', 'echo CMD-OUTPUT-MARK'];

/** Steps --explain must describe, each a substring of its own line. */
const STEPS = [
  'unshare(CLONE_NEWUSER)',
  'uid_map "0 0 1"',
  'gid_map "0 0 1"',
  'CLONE_NEWNS',
  'mount(none, "/", MS_REC|MS_PRIVATE)',
  'sethostname("ex")',
  'mount("proc", "/proc", "proc"',
  'execve("sh", "-c", "echo CMD-OUTPUT-MARK")',
];

describe('hako unshare --explain', () => {
  const host = hostHostname();
  afterEach(() => restoreHostname(host)); // were the namespace missing, --hostname would rename the host

  it('explains each step before the command writes to the same pipe', async () => {
    const snap = snapshot();
    // stdout and stderr are one pipe, as `2>&1 |` makes them
    const r = run('sh', ['-c', '"$@" 2>&1', 'sh', HAKO, ...ARGS]);
    const out = lines(r.stdout);
    const context = show(r);
    assert.equal(r.status, 0, context);
    const command = out.indexOf('CMD-OUTPUT-MARK');
    assert.ok(command > 0, `the command's output is missing\n${context}`);
    for (const step of STEPS) {
      const at = out.findIndex((l) => l.includes(step));
      assert.ok(at >= 0, `no explain line for ${step}\n${context}`);
      assert.ok(at < command, `the line for ${step} comes after the command's output\n${context}`);
    }
    assert.match(out.at(-1), /exited with status 0/, context);
    assert.ok(out.every((l, i) => i === command || l.startsWith('[')), `explain lines should all be tagged [..]\n${context}`);
    assert.equal(hostHostname(), host);
    await assertNoLeaks(snap);
  });

  it('goes to stderr: stdout has only the command\'s output', async () => {
    const snap = snapshot();
    const r = hako(ARGS);
    assert.equal(ok(r), 'CMD-OUTPUT-MARK\n', show(r));
    for (const step of STEPS) assert.ok(r.stderr.includes(step), `no explain line for ${step} on stderr\n${show(r)}`);
    await assertNoLeaks(snap);
  });
});
