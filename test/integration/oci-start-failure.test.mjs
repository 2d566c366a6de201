// An init that fails after `start` (between the fifo and the program's exec: a startContainer
// hook failing, the exec failing) says so: one `hako: ...` line on the container's stderr (what
// conmon and containerd's shim show), start exits non-zero with that line, state says stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX, lines, ok, scoped, show, waitStatus } from './oci-util.mjs';

async function startFails(s, b, why) {
  const id = s.id();
  const c = s.hakoDetached(['create', '-b', b.dir, id]);
  ok(c);
  why?.();
  const r = s.hako(['start', id]);
  assert.equal(r.status, 1, show(r));
  const line = `hako: start: container ${id}: its init failed before it ran the process (a startContainer hook, or the exec of /prog)`;
  assert.deepEqual(lines(r.stderr), [line], show(r));
  // the container's own stderr (the file create was given) holds it too
  assert.deepEqual(lines(readFileSync(c.errFile, 'utf8')), [line], `the container's stderr (${c.errFile})`);
  await waitStatus(s, id, 'stopped');
  ok(s.hako(['delete', id]));
}

function withProgram(s) {
  const b = s.bundle();
  copyFileSync(BUSYBOX, join(b.rootfs, 'prog'));
  chmodSync(join(b.rootfs, 'prog'), 0o755);
  return b.args('/prog', 'true');
}

test('the program deleted from the rootfs between create and start: the container\'s stderr says so', scoped(async (s) => {
  const b = withProgram(s);
  await startFails(s, b, () => unlinkSync(join(b.rootfs, 'prog')));
}));

test('a startContainer hook that fails: the container\'s stderr says so', scoped(async (s) => {
  const b = withProgram(s);
  writeFileSync(join(b.rootfs, 'hook.sh'), '#!/bin/sh\nexit 3\n');
  chmodSync(join(b.rootfs, 'hook.sh'), 0o755);
  b.edit((c) => { c.hooks = { startContainer: [{ path: '/hook.sh' }] }; });
  await startFails(s, b);
}));
