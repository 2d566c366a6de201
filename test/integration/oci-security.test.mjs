// The helper inside a container, seen from the container (CVE-2019-5736): while the init waits
// for `start`, another process of the container must not be able to reach the helper's binary.
// Whatever the capabilities, the helper runs from a sealed copy (oci-escape-exe.test.mjs shows
// why: a #!/proc/self/exe program needs no ptrace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, REPO, scoped, sleeper } from './oci-util.mjs';

const HELPER = join(REPO, 'native', 'hako-helper');
const digest = () => createHash('sha256').update(readFileSync(HELPER)).digest('hex');
// a sealed copy's /proc/PID/exe: a read-only overlay mounted nowhere (its name at its own root), or
// a sealed memfd (native/sealed.c)
const SEALED = /^\/(memfd:)?hako-helper(\s|$)/;

test('a container that keeps CAP_SYS_PTRACE sees a sealed copy of the helper, and cannot write to it', scoped(async (s) => {
  const before = digest();
  const b = s.bundle().args(...sleeper(s));
  for (const set of ['bounding', 'effective', 'permitted']) b.config.process.capabilities[set].push('CAP_SYS_PTRACE');
  b.save();
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  const pid = s.state(id).pid;
  assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Name:\s+/m);
  const exe = (await import('node:fs')).readlinkSync(`/proc/${pid}/exe`);
  assert.match(exe, SEALED, `the waiting init runs from ${exe}`);
  // from inside: PID 1 is the waiting init; its exe is the sealed copy, and writing to it fails
  const r = s.hako(['exec', id, 'sh', '-c', 'readlink /proc/1/exe; echo pwned >/proc/1/exe && echo WROTE; true']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0], SEALED);
  assert.doesNotMatch(r.stdout, /WROTE/);
  assert.equal(digest(), before, 'the helper on disk is unchanged');
  ok(s.hako(['delete', '--force', id]));
}));

test('as root the sealed copy is a read-only overlay mounted nowhere: nothing copied, and not even the host\'s root can write through it', scoped(async (s) => {
  const fs = await import('node:fs');
  const before = digest();
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  const pid = s.state(id).pid;
  // its path is its name at the root of a mount that no mount table lists (native/sealed.c)
  assert.equal(fs.readlinkSync(`/proc/${pid}/exe`), '/hako-helper');
  assert.equal(fs.statfsSync(`/proc/${pid}/exe`).type, 0x794c7630, 'an overlayfs');
  assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes('hako-helper'), 'not in the host mount table');
  assert.throws(() => fs.openSync(`/proc/${pid}/exe`, 'r+'), { code: 'EROFS' });
  assert.equal(digest(), before, 'the helper on disk is unchanged');
  ok(s.hako(['delete', '--force', id]));
}));

test('a default container (no CAP_SYS_PTRACE) cannot open the non-dumpable helper at all, which runs from a sealed copy too', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  const exe = (await import('node:fs')).readlinkSync(`/proc/${s.state(id).pid}/exe`);
  assert.match(exe, SEALED, `the waiting init runs from ${exe}`);
  const r = s.hako(['exec', id, 'sh', '-c', 'cat /proc/1/exe >/dev/null && echo READ; readlink /proc/1/exe || echo DENIED']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /READ/);
  assert.match(r.stdout, /DENIED/);
  ok(s.hako(['delete', '--force', id]));
}));
