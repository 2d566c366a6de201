// A terminal from the terminal hako runs in: `hako run -t` and `hako exec -t` without a console
// socket, where the helper makes the pty inside the container and relays it (script(1) gives
// hako a real terminal). The console-socket path is exercised by podman and containerd (clients).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { HAKO, ok, runDetached, scoped, sleeper } from './oci-util.mjs';

/** Runs `hako ARGS` under script(1), with `input` typed into the terminal; returns the transcript. */
function inTerminal(s, args, input = '') {
  const command = [HAKO, '--root', s.root, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { input, encoding: 'utf8', timeout: 30_000, env: s.env() });
  return { status: r.status, out: (r.stdout ?? '').replace(/\r/g, '') };
}

test('run -t: the process gets a pty as its terminal, and its exit status comes back', scoped(async (s) => {
  const b = s.bundle().sh('tty; [ -t 0 ] && echo stdin-is-a-tty; exit 7');
  b.config.process.terminal = true;
  b.save();
  const r = inTerminal(s, ['run', '-b', b.dir, s.id()]);
  assert.equal(r.status, 7, r.out);
  // (script(1) types a NUL when its own stdin ends: a leading ^@ is its, not the container's)
  assert.match(r.out, /\/dev\/pts\/\d+$/m);
  assert.match(r.out, /stdin-is-a-tty/);
}));

test('exec -t: a shell in a running container reads what is typed in the terminal', scoped(async (s) => {
  const { id } = runDetached(s, s.bundle().args(...sleeper(s)));
  const r = inTerminal(s, ['exec', '-t', id, 'sh'], 'echo typed-$((6*7))\nexit 3\n');
  assert.equal(r.status, 3, r.out);
  assert.match(r.out, /typed-42/);
  ok(s.hako(['delete', '--force', id]));
}));

test('run -t -d without --console-socket is refused, as runc does, and leaves nothing', scoped(async (s) => {
  const b = s.bundle().args('true');
  b.config.process.terminal = true;
  b.save();
  const r = s.hako(['run', '-d', '-b', b.dir, s.id()]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /console socket/);
}));

// found by the differential corpus (terminal-true, terminal-true-user-1000)
test('run -t: the terminal is also /dev/console, and belongs to the process\'s user (as runc gives it)', scoped(async (s) => {
  const b = s.bundle().sh('stat -c "%t,%T %u" /dev/console "$(tty)"; grep " /dev/console " /proc/self/mountinfo | cut -d" " -f4');
  b.config.process.terminal = true;
  b.config.process.user = { uid: 1000, gid: 1000 };
  b.save();
  const r = inTerminal(s, ['run', '-b', b.dir, s.id()]);
  assert.equal(r.status, 0, r.out);
  // (the terminal's stray NUL, echoed as ^@, can come before any line, not only the first)
  const [consoleLine, ttyLine, root] = r.out.replace(/\0|\^@/g, '').trim().split('\n');
  assert.equal(consoleLine, ttyLine, `/dev/console is not the terminal:\n${r.out}`);
  assert.match(consoleLine, /^88,\d+ 1000$/, r.out);
  assert.match(root, /^\/\d+$/, `/dev/console is no bind of the pty:\n${r.out}`);
}));
