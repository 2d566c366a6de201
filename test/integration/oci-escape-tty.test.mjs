// Hostile images against the container's terminal: H2 makes the pty inside the container, where
// the image (or a config without a /dev tmpfs, so /dev is the image's) decides what /dev/ptmx and
// /dev/pts/N are. The master must be a real pty multiplexer, and the slave the master's own peer
// (TIOCGPTPEER), never whatever /dev/pts/N names (runc's CVE-2025-52565). Real containers, run
// under script(1) (hako relays the pty) or with a --console-socket; the host must be as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAKO, oneLineError, removeContainer, runDetached, scoped, sleep } from './oci-util.mjs';

/** Runs `hako ARGS` under script(1), with `input` typed into the terminal; returns the transcript. */
function inTerminal(s, args, input = '') {
  const command = [HAKO, '--root', s.root, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { input, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL', env: s.env() });
  return { status: r.status, signal: r.signal, out: (r.stdout ?? '').replace(/\r/g, '') };
}

/** A config whose /dev is the image's (no /dev tmpfs), with a terminal. */
function imageDev(c) {
  c.mounts = c.mounts.filter((m) => m.destination !== '/dev');
  c.process.terminal = true;
}

/** /dev/pts/0..63 in the image: symlinks to /marker, a file holding MARKER. */
function plantSlaves(rootfs, pts = join(rootfs, 'dev', 'pts')) {
  writeFileSync(join(rootfs, 'marker'), 'MARKER\n');
  mkdirSync(pts, { recursive: true });
  for (let i = 0; i < 64; i++) symlinkSync('/marker', join(pts, String(i)));
}

/** A unix socket that accepts (and ignores) hako's connection: a console socket for create. */
async function consoleSocket(s) {
  const path = s.path('console.sock');
  const server = createServer((conn) => conn.on('error', () => {}));
  await new Promise((resolve, reject) => server.once('error', reject).listen(path, resolve));
  return { path, close: () => new Promise((resolve) => server.close(resolve)) };
}

for (const kind of ['FIFO', 'regular file']) {
  test(`an image /dev/ptmx that is a ${kind}: create with a terminal fails at once, in one line, and leaves nothing`, scoped(async (s) => {
    const b = s.bundle((c) => {
      imageDev(c);
      c.mounts = c.mounts.filter((m) => m.destination !== '/dev/pts');
    });
    const ptmx = join(b.rootfs, 'dev', 'ptmx');
    if (kind === 'FIFO') execFileSync('mkfifo', [ptmx]);
    else writeFileSync(ptmx, 'not a pty\n');
    const sock = await consoleSocket(s);
    try {
      const started = Date.now();
      const r = s.hakoDetached(['create', '--console-socket', sock.path, '-b', b.dir, s.id()]);
      oneLineError(r, { match: /^hako: create: .*\/dev\/ptmx in the container is not a pty multiplexer/ });
      assert.ok(Date.now() - started < 10_000, `create took ${Date.now() - started} ms`);
    } finally {
      await sock.close();
    }
  }));
}

test('an image /dev/pts/N -> /marker: run -t gets the pty\'s own slave, never the image\'s file', scoped(async (s) => {
  // the config's devpts is at /dev/pts2; the image points /dev/ptmx there and fills /dev/pts with
  // symlinks: a slave opened by name (/dev/pts/N) would be /marker
  const b = s.bundle(imageDev).sh('tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty; cat /marker');
  b.addMount({ destination: '/dev/pts2', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] });
  symlinkSync('pts2/ptmx', join(b.rootfs, 'dev', 'ptmx'));
  plantSlaves(b.rootfs);
  const r = inTerminal(s, ['run', '-b', b.dir, s.id()]);
  assert.equal(r.status, 0, r.out);
  // (script(1) types a NUL when its own stdin ends: a leading ^@ is its, not the container's)
  assert.match(r.out, /\/dev\/pts2\/\d+$/m);
  assert.match(r.out, /stdio-is-a-tty/);
  assert.equal(readFileSync(join(b.rootfs, 'marker'), 'utf8'), 'MARKER\n');
}));

test('exec -t into a container that replaced its /dev with symlinks gets the pty\'s own slave', scoped(async (s) => {
  // the container's process (root, no CAP_SYS_ADMIN) moves the image's /dev aside and plants a
  // /dev/ptmx -> the real one and /dev/pts/N -> /marker: the exec's slave must not be /marker
  const plant = 'busybox mv /dev /olddev && mkdir -p /dev/pts && ln -s /olddev/pts/ptmx /dev/ptmx && '
    + 'i=0; while [ $i -lt 64 ]; do ln -s /marker /dev/pts/$i; i=$((i+1)); done; echo MARKER > /marker; touch /planted; ';
  const b = s.bundle((c) => {
    imageDev(c);
    c.process.terminal = false;
    c.process.args = ['sh', '-c', `${plant}exec sleep ${s.marker}`];
  });
  const { id } = runDetached(s, b);
  for (let i = 0; i < 100 && spawnSync('test', ['-e', join(b.rootfs, 'planted')]).status !== 0; i++) await sleep(50);
  assert.equal(spawnSync('test', ['-e', join(b.rootfs, 'planted')]).status, 0, 'the container did not plant its /dev');
  try {
    const r = inTerminal(s, ['exec', '-t', id, 'sh', '-c', 'tty; [ -t 0 ] && echo stdin-is-a-tty; cat /marker']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /\/olddev\/pts\/\d+$/m);
    assert.match(r.out, /stdin-is-a-tty/);
    assert.equal(readFileSync(join(b.rootfs, 'marker'), 'utf8'), 'MARKER\n');
  } finally {
    removeContainer(s, id);
  }
}));

test('a normal terminal container: its tty is /dev/pts/N, what is typed reaches it and its output comes back', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.terminal = true; }).sh('read line; echo got-$line; tty; ls -l /proc/self/fd/0');
  const r = inTerminal(s, ['run', '-b', b.dir, s.id()], 'hello\n');
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /got-hello/);
  assert.match(r.out, /\/dev\/pts\/\d+$/m);
}));
