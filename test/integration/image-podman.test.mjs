// Images from a real builder (issue 12): a busybox rootfs made here is `podman import`ed, a
// Containerfile adds a layer and then deletes files (whiteouts), `podman save` writes a
// docker-archive and `skopeo copy` turns it into an oci-archive (gzip layers). hako imports both:
// the same config and layers (unpacked once), and mounted as overlay lowerdirs the deleted files
// are gone. podman runs with its own root, runroot and tmpdir under the test's dir (storage
// driver vfs), so the host's podman storage is untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, runSync, scoped, show } from './oci-util.mjs';
import { busyboxEntries, tarOf } from './image-util.mjs';

const PODMAN = '/usr/bin/podman';
const SKOPEO = '/usr/bin/skopeo';
const missing = !existsSync(PODMAN) ? `${PODMAN} is not installed (scripts/setup.sh --test)` : !existsSync(SKOPEO) ? `${SKOPEO} is not installed (scripts/setup.sh --test)` : false;

test('a podman-built multi-layer image with whiteouts, as docker-archive and oci-archive: one set of layers, deletions hidden under overlay', { skip: missing, timeout: 180_000 }, scoped(async (scope) => {
  // podman refuses a runroot longer than 50 characters: a short dir of its own, removed at the end
  const pdir = mkdtempSync('/tmp/hako-pm-');
  try {
    await withPodman(scope, pdir);
  } finally {
    rmSync(pdir, { recursive: true, force: true });
  }
}));

async function withPodman(scope, pdir) {
  const tmp = join(pdir, 'tmp');
  mkdirSync(tmp);
  const env = scope.env({ TMPDIR: tmp });
  const podman = (...args) => runSync(PODMAN, ['--root', join(pdir, 'root'), '--runroot', join(pdir, 'run'), '--storage-driver', 'vfs',
    '--events-backend', 'none', '--cgroup-manager', 'cgroupfs', '--tmpdir', tmp, ...args], { env, timeout: 120_000 });
  writeFileSync(scope.path('bb.tar'), await tarOf(busyboxEntries(['sh', 'mkdir', 'rm', 'echo', 'cat', 'ls', 'true'])));
  ok(podman('import', scope.path('bb.tar'), 'localhost/bb:1'));
  const ctx = scope.path('ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Containerfile'), [
    'FROM localhost/bb:1',
    'ENV GREETING=hello',
    'WORKDIR /d',
    'RUN mkdir -p /d /o && echo gone > /d/gone && echo kept > /d/kept && echo f > /f && echo old > /o/old',
    'RUN rm /d/gone /f && rm -rf /o && mkdir /o && echo new > /o/new',
    'CMD ["cat", "/d/kept"]',
  ].join('\n'));
  ok(podman('build', '--isolation', 'chroot', '-t', 'localhost/multi:1', '-f', join(ctx, 'Containerfile'), ctx));
  ok(podman('save', '--format', 'docker-archive', '-o', scope.path('multi.tar'), 'localhost/multi:1'));
  ok(runSync(SKOPEO, ['copy', '--quiet', `docker-archive:${scope.path('multi.tar')}`, `oci-archive:${scope.path('multi-oci.tar')}:localhost/multi-oci:1`], { env }));
  const id = JSON.parse(ok(podman('image', 'inspect', 'localhost/multi:1')))[0].Id;

  const store = scope.path('store');
  assert.equal(ok(scope.hako(['image', '--image-root', store, 'import', scope.path('multi.tar')])), `localhost/multi:1 sha256:${id}\n`);
  assert.equal(ok(scope.hako(['image', '--image-root', store, 'import', scope.path('multi-oci.tar')])), `localhost/multi-oci:1 sha256:${id}\n`);
  const a = JSON.parse(ok(scope.hako(['image', '--image-root', store, 'inspect', 'localhost/multi:1'])));
  const b = JSON.parse(ok(scope.hako(['image', '--image-root', store, 'inspect', 'localhost/multi-oci:1'])));
  assert.equal(a.layers.length, 3);
  assert.deepEqual(b.layers.map((l) => l.diffId), a.layers.map((l) => l.diffId));
  assert.ok(b.layers.every((l) => l.mediaType.endsWith('+gzip')), 'skopeo compressed the layers');
  assert.equal(readdirSync(join(store, 'layers', 'sha256')).length, 3);
  assert.deepEqual(a.config.env.filter((e) => e.startsWith('GREETING')), ['GREETING=hello']);
  assert.equal(a.config.workingDir, '/d');
  assert.deepEqual(a.config.cmd, ['cat', '/d/kept']);

  const { ImageStore } = await import('../../dist/index.js');
  const r = await new ImageStore({ root: store }).resolve('localhost/multi-oci:1');
  const mnt = scope.path('mnt');
  mkdirSync(mnt);
  ok(runSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...r.layers].reverse().join(':')}`, mnt]));
  try {
    assert.equal(readFileSync(join(mnt, 'd', 'kept'), 'utf8'), 'kept\n');
    assert.equal(existsSync(join(mnt, 'd', 'gone')), false);
    assert.equal(existsSync(join(mnt, 'f')), false);
    assert.deepEqual(readdirSync(join(mnt, 'o')), ['new']);
    const cat = runSync('chroot', [mnt, '/bin/cat', '/d/kept']);
    assert.equal(cat.stdout, 'kept\n', show(cat));
  } finally {
    ok(runSync('umount', [mnt]));
  }
}
