// Ways out of a container that runtimes have had, tried from the config a container image or a
// client controls: each must fail, and the host must be as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hakoRun, scoped } from './oci-util.mjs';

test('CVE-2024-21626: a cwd through /proc/self/fd/N never starts a process outside the root', scoped(async (s) => {
  // whatever fd the runtime still had open while it set the working directory
  for (let fd = 3; fd <= 16; fd++) {
    const b = s.bundle().sh('pwd; ls /.. >/dev/null; cat /proc/self/mountinfo | head -1');
    b.config.process.cwd = `/proc/self/fd/${fd}`;
    b.save();
    const r = hakoRun(s, b);
    if (r.status === 0) {
      // it may start only if that cwd is inside the container's root
      assert.doesNotMatch(r.stdout, /unreachable/, `fd ${fd}: started outside the root:\n${r.stdout}`);
      assert.match(r.stdout.split('\n')[0] ?? '', /^\//, `fd ${fd}: cwd ${r.stdout}`);
    } else {
      assert.match(r.stderr, /^hako: /m, `fd ${fd}: ${r.stderr}`);
    }
  }
}));

test('a /proc mount at a symlink target cannot land on the host\'s /proc', scoped(async (s) => {
  const b = s.bundle().args('true');
  // the image's /proc is a symlink to the host's /proc, as in CVE-2019-19921's family
  const { symlinkSync, rmSync } = await import('node:fs');
  rmSync(`${b.rootfs}/proc`, { recursive: true, force: true });
  symlinkSync('/proc', `${b.rootfs}/proc`);
  const before = (await import('node:fs')).readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / \/proc /.test(l)).length;
  const r = hakoRun(s, b);
  const after = (await import('node:fs')).readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / \/proc /.test(l)).length;
  assert.equal(after, before, "the host's /proc mounts changed");
  // inside the root, /proc -> /proc is a loop: refused with one line (never a mount elsewhere)
  if (r.status !== 0) assert.match(r.stderr, /^hako: run: .*\/proc.*(ELOOP|symbolic links)/m, r.stderr);
}));
