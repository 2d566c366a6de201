// The image store (issue 12, "Images"): import of OCI layouts, oci-archives and docker-archives,
// digests checked, layers unpacked once and shared, whiteouts and opaque dirs that overlayfs
// honours, hostile layers that must not write outside their directory, ls/inspect/rm/prune, and
// two processes importing into one store at once. Every image is made here; nothing is downloaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HAKO, ok, oneLineError, runSync, scoped, show } from './oci-util.mjs';
import { busyboxEntries, busyboxLayout, tarOf, tarOfDir, writeLayout } from './image-util.mjs';

const img = (scope, store, ...args) => scope.hako(['image', '--image-root', store, ...args]);
const index = (store) => (existsSync(join(store, 'images.json')) ? JSON.parse(readFileSync(join(store, 'images.json'), 'utf8')) : { images: [] });
const layerDirs = (store) => (existsSync(join(store, 'layers', 'sha256')) ? readdirSync(join(store, 'layers', 'sha256')) : []);
const blobs = (store) => (existsSync(join(store, 'blobs', 'sha256')) ? readdirSync(join(store, 'blobs', 'sha256')) : []);

test('import of an OCI layout, an oci-archive (gzip layers) and ls/inspect/rm/prune; a layer shared by two images is unpacked once', scoped(async (scope) => {
  const store = scope.path('store');
  const layout = scope.path('bb');
  const d = await busyboxLayout(layout, { refName: 'localhost/bb:1', config: { WorkingDir: '/root', User: '65534', Entrypoint: ['/bin/sh', '-c'] } });
  const out = ok(img(scope, store, 'import', layout));
  assert.equal(out, `localhost/bb:1 ${d.config}\n`);
  const ls = JSON.parse(ok(img(scope, store, 'ls', '--format', 'json')));
  assert.equal(ls.length, 1);
  assert.deepEqual(ls[0].names, ['localhost/bb:1']);
  assert.equal(ls[0].digest, d.manifest);
  // the same layer again, gzip-compressed, in an oci-archive under another name: one layer dir
  const layout2 = scope.path('bb2');
  const d2 = await busyboxLayout(layout2, { gzip: true, config: { Env: ['A=1'] } });
  writeFileSync(scope.path('bb2.tar'), await tarOfDir(layout2));
  ok(img(scope, store, 'import', scope.path('bb2.tar'), '--tag', 'other:2'));
  assert.deepEqual(layerDirs(store), [d.diffIds[0].slice(7)]);
  const table = ok(img(scope, store, 'ls'));
  assert.match(table, /^REPOSITORY\s+TAG\s+IMAGE ID/);
  assert.match(table, /docker\.io\/library\/other\s+2\s+/);
  // inspect: by name (short and long), by id prefix, by digest
  for (const ref of ['localhost/bb:1', d.config.slice(7, 19), d.manifest, `localhost/bb@${d.manifest}`]) {
    const i = JSON.parse(ok(img(scope, store, 'inspect', ref, '--format', 'json')));
    assert.equal(i.id, d.config, ref);
    assert.equal(i.config.workingDir, '/root');
    assert.equal(i.config.user, '65534');
    assert.deepEqual(i.config.entrypoint, ['/bin/sh', '-c']);
    assert.equal(i.layers[0].dir, join(store, 'layers', 'sha256', d.diffIds[0].slice(7)));
  }
  const i2 = JSON.parse(ok(img(scope, store, 'inspect', 'other:2', '--format', 'json')));
  assert.equal(i2.digest, d2.manifest);
  assert.deepEqual(i2.config.env, ['A=1']);
  // the unpacked layer: busybox as it was, symlinks, modes, times
  const root = i2.layers[0].dir;
  // the store's directories are the owner's only: a layer's setuid-root program is out of others' reach
  for (const d of ['layers', 'blobs', 'tmp']) assert.equal(statSync(join(store, d)).mode & 0o777, 0o700, d);
  assert.deepEqual(readFileSync(join(root, 'bin', 'busybox')), readFileSync('/bin/busybox'));
  assert.equal(statSync(join(root, 'bin', 'busybox')).mode & 0o7777, 0o755);
  assert.ok(lstatSync(join(root, 'bin', 'sh')).isSymbolicLink());
  assert.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(statSync(join(root, 'etc', 'passwd')).mtimeMs, 1_600_000_000_000);
  // the library: resolve gives the layers and the config's defaults
  const { ImageStore } = await import('../../dist/index.js');
  const r = await new ImageStore({ root: store }).resolve('other:2');
  assert.deepEqual(r, { ref: 'docker.io/library/other:2', digest: d2.manifest, layers: [root], config: { env: ['A=1'], cmd: ['/bin/sh'] } });
  // rm of one image keeps the shared layer; rm of the other removes it and every blob
  ok(img(scope, store, 'rm', 'localhost/bb:1'));
  assert.deepEqual(layerDirs(store), [d.diffIds[0].slice(7)]);
  oneLineError(img(scope, store, 'inspect', 'localhost/bb:1'), { match: /^hako: image: no image 'localhost\/bb:1' in the store/ });
  ok(img(scope, store, 'rm', 'other:2'));
  assert.deepEqual(layerDirs(store), []);
  assert.deepEqual(blobs(store), []);
  assert.deepEqual(index(store).images, []);
  assert.match(ok(img(scope, store, 'prune')), /^removed 0 layers, 0 blobs/);
  // $HAKO_IMAGE_ROOT names the store too
  ok(img(scope, store, 'import', layout));
  const viaEnv = scope.hako(['image', 'ls', '-q'], { env: scope.env({ HAKO_IMAGE_ROOT: store }) });
  assert.equal(ok(viaEnv), `${d.config.slice(7, 19)}\n`);
}));

test('prune removes layers and blobs no image uses, and what a killed import left', scoped(async (scope) => {
  const store = scope.path('store');
  await busyboxLayout(scope.path('bb'), { refName: 'localhost/bb:1' });
  ok(img(scope, store, 'import', scope.path('bb')));
  // leftovers: an orphan blob, an orphan layer, a staging dir of a dead process
  writeFileSync(join(store, 'blobs', 'sha256', 'a'.repeat(64)), 'x');
  mkdirSync(join(store, 'layers', 'sha256', 'b'.repeat(64)));
  mkdirSync(join(store, 'tmp', '999999999-.tmp-import-999999999-00000000'), { recursive: true });
  const r = JSON.parse(ok(img(scope, store, 'prune', '--format', 'json')));
  assert.deepEqual(r, { layers: 1, blobs: 1, tmp: 1 });
  assert.equal(layerDirs(store).length, 1);
  assert.equal(blobs(store).length, 3);
  ok(img(scope, store, 'inspect', 'localhost/bb:1'));
}));

test('a blob whose sha256 is not its name, and a layer whose diff id is not the config\'s, are refused; nothing is stored', scoped(async (scope) => {
  const store = scope.path('store');
  const layer = await tarOf(busyboxEntries(['sh']));
  writeLayout(scope.path('bad-blob'), [layer], { corrupt: 'blob', refName: 'localhost/bad:1' });
  oneLineError(img(scope, store, 'import', scope.path('bad-blob')), { match: /^hako: image: .*layer 1: its sha256 is sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}: refused$/ });
  writeLayout(scope.path('bad-diff'), [layer], { corrupt: 'diffid', refName: 'localhost/bad:2' });
  oneLineError(img(scope, store, 'import', scope.path('bad-diff')), { match: /^hako: image: .*layer 1 \(sha256:[0-9a-f]+\) unpacks to sha256:[0-9a-f]+, but the config says sha256:[0-9a-f]+: refused$/ });
  assert.deepEqual(index(store).images, []);
  assert.deepEqual(layerDirs(store), []);
  assert.deepEqual(blobs(store), []);
  // a zstd layer, on a Node without zstd in node:zlib: one line (the magic is enough to tell)
  const { constants } = await import('node:zlib');
  writeLayout(scope.path('zstd'), [Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(60)])], { refName: 'localhost/z:1' });
  if (constants.ZSTD_e_continue === undefined) {
    oneLineError(img(scope, store, 'import', scope.path('zstd')), { match: /^hako: image: layer sha256:[0-9a-f]{64} is zstd-compressed, which this Node \(v[\d.]+\) cannot decompress \(Node 22\.15 or later can\)$/ });
  } else oneLineError(img(scope, store, 'import', scope.path('zstd')), { match: /^hako: image: layer sha256:[0-9a-f]{64}: / });
  // not an image at all; a missing file
  writeFileSync(scope.path('junk.tar'), await tarOf([{ name: 'hello', data: 'x' }]));
  oneLineError(img(scope, store, 'import', scope.path('junk.tar')), { match: /neither an OCI layout \(index\.json\) nor a docker-archive \(manifest\.json\)$/ });
  oneLineError(img(scope, store, 'import', scope.path('nothing')), { match: /^hako: image: cannot import .*: no such file or directory$/ });
  oneLineError(img(scope, store, 'inspect', 'Bad Name'), { match: /^hako: image: 'Bad Name' is not an image reference/ });
  assert.deepEqual(readdirSync(join(store, 'tmp')), []);
}));

// Each hostile layer sits above a busybox layer; a canary directory outside must stay empty.
const HOSTILE = [
  { name: '../ climbs out', refused: /climbs out with '\.\.'/, entries: (c) => [{ name: `../../../../../../../..${c}/dotdot`, data: 'x' }] },
  { name: 'a symlink to outside, then a file through it', refused: /parent 'a' is a symlink/, entries: (c) => [{ name: 'a', type: 'symlink', linkname: c }, { name: 'a/file', data: 'x' }] },
  { name: 'a nested symlinked parent', refused: /parent 'd\/l' is a symlink/, entries: (c) => [{ name: 'd/', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: c }, { name: 'd/l/sub/file', data: 'x' }] },
  { name: 'a hardlink to /etc/passwd', refused: /'\/etc\/passwd': parent 'etc' is missing/, entries: () => [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }] },
  { name: 'a hardlink through a symlinked parent', refused: /parent 'a' is a symlink/, entries: (c) => [{ name: 'a', type: 'symlink', linkname: c }, { name: 'h', type: 'link', linkname: 'a/secret' }] },
  { name: 'a whiteout through a symlinked parent', refused: /parent 'a' is a symlink/, entries: (c) => [{ name: 'a', type: 'symlink', linkname: c }, { name: 'a/.wh.secret', data: '' }] },
  { name: "a whiteout of '..' (.wh...)", refused: /whiteout '\.wh\.\.\.' names no file/, entries: () => [{ name: '.wh...', data: '' }] },
  { name: "a whiteout of '.' in a dir", refused: /whiteout 'd\/\.wh\.\.' names no file/, entries: () => [{ name: 'd/', type: 'directory' }, { name: 'd/.wh..', data: '' }] },
  // allowed, but inside: the leading '/' is stripped; a dir replaces the symlink of its name
  { name: 'an absolute path', inside: ['CANARY/abs'], entries: (c) => [{ name: `${c}/abs`, data: 'x' }] },
  { name: 'a symlink, then a dir of the same name', inside: ['a/file'], entries: (c) => [{ name: 'a', type: 'symlink', linkname: c }, { name: 'a/', type: 'directory' }, { name: 'a/file', data: 'x' }] },
  // o/canary is opaque (an xattr set at the end), then o becomes a symlink to the canary's parent
  { name: 'an opaque dir, then its parent replaced by a symlink to outside', inside: ['o'], entries: (c) => [{ name: 'o/canary/', type: 'directory' }, { name: 'o/canary/.wh..wh..opq', data: '' }, { name: 'o', type: 'symlink', linkname: dirname(c) }] },
  { name: 'a dir with an xattr, then its parent replaced by a symlink to outside', inside: ['a'], entries: (c) => [{ name: 'a/canary/', type: 'directory', pax: { 'SCHILY.xattr.user.evil': 'yes' } }, { name: 'a', type: 'symlink', linkname: dirname(c) }] },
  { name: 'overlay xattrs from the tar', inside: ['f'], xattrs: true, entries: () => [{ name: 'f', data: 'x', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.user.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': 'yes' } }] },
];

for (const h of HOSTILE) {
  test(`a hostile layer: ${h.name}: nothing written outside the layer`, scoped(async (scope) => {
    const canary = scope.path('canary');
    mkdirSync(canary);
    const store = scope.path('store');
    const layout = scope.path('evil');
    writeLayout(layout, [await tarOf(busyboxEntries(['sh'])), await tarOf(h.entries(canary))], { refName: 'localhost/evil:1' });
    const r = img(scope, store, 'import', layout);
    assert.deepEqual(readdirSync(canary), [], `the canary got files\n${show(r)}`);
    const cx = runSync('getfattr', ['-d', '-m', '-', canary]);
    assert.equal(cx.stdout, '', `the canary got xattrs\n${show(cx)}\n${show(r)}`);
    if (h.refused) {
      oneLineError(r, { match: new RegExp(`^hako: image: layer sha256:[0-9a-f]{64}: .*${h.refused.source}.*: refused \\(it would write outside the layer\\)$`) });
      assert.deepEqual(index(store).images, []);
      // nothing stays: not the busybox layer, not the hostile one's temp dir, no blob
      assert.deepEqual(readdirSync(join(store, 'layers', 'sha256')), []);
      assert.deepEqual(blobs(store), []);
      return;
    }
    ok(r);
    const dir = JSON.parse(ok(img(scope, store, 'inspect', 'localhost/evil:1'))).layers[1].dir;
    for (const p of h.inside) {
      const st = lstatSync(join(dir, p.replace('CANARY', canary)));
      assert.ok(st.isFile() || st.isSymbolicLink(), p);
    }
    if (h.xattrs) {
      const x = runSync('getfattr', ['-d', '-m', '-', join(dir, 'f')]);
      assert.match(x.stdout, /user\.ok="yes"/, show(x));
      assert.doesNotMatch(x.stdout, /^(trusted|user)\.overlay/m, show(x));
    }
  }));
}

test('whiteouts and opaque dirs become overlayfs\'s: the resolved layers, mounted as lowerdirs, hide what the upper layer deleted', scoped(async (scope) => {
  const store = scope.path('store');
  const lower = await tarOf([
    ...busyboxEntries(['sh']),
    { name: 'd/', type: 'directory' }, { name: 'd/gone', data: 'old' }, { name: 'd/kept', data: 'kept' },
    { name: 'f', data: 'file' }, { name: 'o/', type: 'directory' }, { name: 'o/old', data: 'old' }, { name: 'o/sub/', type: 'directory' },
    { name: 'fifo', type: 'fifo' }, { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'hard', type: 'link', linkname: 'd/kept' },
    { name: 'owned', data: 'x', uid: 1234, gid: 5678, mode: 0o4750 }, { name: 'link', type: 'symlink', linkname: 'owned', uid: 42, gid: 43 },
  ]);
  const upper = await tarOf([
    { name: 'd/.wh.gone', data: '' }, { name: '.wh.f', data: '' },
    { name: 'o/', type: 'directory' }, { name: 'o/.wh..wh..opq', data: '' }, { name: 'o/new', data: 'new' },
  ]);
  writeLayout(scope.path('wh'), [lower, upper], { refName: 'localhost/wh:1', gzip: true });
  ok(img(scope, store, 'import', scope.path('wh')));
  const { ImageStore } = await import('../../dist/index.js');
  const r = await new ImageStore({ root: store }).resolve('localhost/wh:1');
  assert.equal(r.layers.length, 2);
  // progress events of the library: bytes of each blob and layer n of m, then done
  const events = [];
  const s2 = new ImageStore({ root: scope.path('store2'), onProgress: (e) => events.push(e) });
  await s2.import(scope.path('wh'));
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['blob', 'unpack', 'done']);
  const unpacked = events.filter((e) => e.phase === 'unpack');
  assert.deepEqual([...new Set(unpacked.map((e) => `${e.layer}/${e.layers}`))], ['1/2', '2/2']);
  const last1 = unpacked.filter((e) => e.layer === 1).at(-1);
  assert.equal(last1.bytes, last1.total);
  assert.equal(events.at(-1).image, 'localhost/wh:1');
  const [l0, l1] = r.layers;
  assert.ok(lstatSync(join(l0, 'fifo')).isFIFO());
  const dev = lstatSync(join(l0, 'null'));
  assert.ok(dev.isCharacterDevice());
  assert.equal(dev.rdev, (1 << 8) | 3);
  assert.equal(lstatSync(join(l0, 'hard')).ino, lstatSync(join(l0, 'd', 'kept')).ino);
  const owned = lstatSync(join(l0, 'owned'));
  assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1234, 5678, 0o4750], 'owner, then the setuid mode (chown clears it)');
  const link = lstatSync(join(l0, 'link'));
  assert.deepEqual([link.uid, link.gid], [42, 43], 'a symlink gets its own owner (lchown)');
  const wh = lstatSync(join(l1, 'd', 'gone'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a whiteout is a 0:0 char device');
  const opq = runSync('getfattr', ['-n', 'trusted.overlay.opaque', '--only-values', join(l1, 'o')]);
  assert.equal(opq.stdout, 'y', show(opq));
  const mnt = scope.path('mnt');
  mkdirSync(mnt);
  // overlay's lowerdir lists the top layer first
  ok(runSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...r.layers].reverse().join(':')}`, mnt]));
  try {
    assert.equal(existsSync(join(mnt, 'd', 'gone')), false);
    assert.equal(readFileSync(join(mnt, 'd', 'kept'), 'utf8'), 'kept');
    assert.equal(existsSync(join(mnt, 'f')), false);
    assert.deepEqual(readdirSync(join(mnt, 'o')).sort(), ['new']);
    assert.ok(existsSync(join(mnt, 'bin', 'busybox')));
  } finally {
    ok(runSync('umount', [mnt]));
  }
}));

test('two processes importing into one store at once: both images are there, each layer once', scoped(async (scope) => {
  const store = scope.path('store');
  const names = [];
  for (let i = 0; i < 4; i++) {
    await busyboxLayout(scope.path(`l${i}`), { refName: `localhost/c${i}:1`, config: { Env: [`N=${i}`] } });
    names.push(`localhost/c${i}:1`);
  }
  const runs = await Promise.all([0, 1, 2, 3].map((i) => new Promise((done) => {
    const p = spawn(HAKO, ['image', '--image-root', store, 'import', scope.path(`l${i}`)], { env: scope.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => { err += c; });
    p.on('close', (code) => done({ code, err }));
  })));
  for (const r of runs) assert.equal(r.code, 0, r.err);
  assert.deepEqual(index(store).images.flatMap((i) => i.names).sort(), names);
  assert.equal(layerDirs(store).length, 1);
  // an import waits while another process holds the store's lock (here: this test)
  const { withLock } = await import('../../dist/src/runtime/lock.js');
  await busyboxLayout(scope.path('late'), { refName: 'localhost/late:1', config: { Env: ['LATE=1'] } });
  let finished = false;
  let child;
  await withLock(store, 'images', async () => {
    child = new Promise((done) => {
      const p = spawn(HAKO, ['image', '--image-root', store, 'import', scope.path('late')], { env: scope.env(), stdio: 'ignore' });
      p.on('close', (code) => { finished = true; done(code); });
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(finished, false, 'the import went on while the store was locked');
    assert.equal(index(store).images.length, 4);
  });
  assert.equal(await child, 0);
  assert.equal(index(store).images.length, 5);
}));

test('a docker-archive (manifest.json, config, layer tars, a symlinked duplicate layer) imports with its RepoTags', scoped(async (scope) => {
  const store = scope.path('store');
  const layer = await tarOf(busyboxEntries(['sh', 'true']));
  const top = await tarOf([{ name: 'etc/hello', data: 'hi' }]);
  const { createHash } = await import('node:crypto');
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [layer, top, layer].map((b) => `sha256:${sha(b)}`) } }));
  const entries = [
    { name: `${sha(config)}.json`, data: config },
    { name: `${sha(layer)}/`, type: 'directory' }, { name: `${sha(layer)}/layer.tar`, data: layer },
    { name: `${sha(top)}.tar`, data: gzipSync(top) },
    { name: 'dup/', type: 'directory' }, { name: 'dup/layer.tar', type: 'symlink', linkname: `../${sha(layer)}/layer.tar` },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: ['localhost/dock:3'], Layers: [`${sha(layer)}/layer.tar`, `${sha(top)}.tar`, 'dup/layer.tar'] }]) },
  ];
  writeFileSync(scope.path('dock.tar'), await tarOf(entries));
  assert.equal(ok(img(scope, store, 'import', scope.path('dock.tar'))), `localhost/dock:3 sha256:${sha(config)}\n`);
  const i = JSON.parse(ok(img(scope, store, 'inspect', 'localhost/dock:3')));
  assert.equal(i.layers.length, 3);
  assert.deepEqual(i.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar']);
  assert.equal(readFileSync(join(i.layers[1].dir, 'etc', 'hello'), 'utf8'), 'hi');
  assert.equal(layerDirs(store).length, 2);
  // its manifest (made here, OCI) is a stored blob named by its digest
  const m = JSON.parse(readFileSync(join(store, 'blobs', 'sha256', i.digest.slice(7)), 'utf8'));
  assert.equal(m.config.digest, i.id);
  // `docker save | gzip`: the same image
  writeFileSync(scope.path('dock.tar.gz'), gzipSync(readFileSync(scope.path('dock.tar'))));
  ok(img(scope, scope.path('store2'), 'import', scope.path('dock.tar.gz')));
  assert.equal(JSON.parse(ok(img(scope, scope.path('store2'), 'inspect', 'localhost/dock:3'))).digest, i.digest);
}));

const userns = runSync('runuser', ['-u', 'nobody', '--', 'unshare', '-Urm', 'true']);
test('unpacked by a user without root: whiteouts (0:0, allowed since Linux 5.8) and user.overlay.opaque, honoured by overlay with userxattr in a user namespace and by fuse-overlayfs', { skip: userns.status === 0 ? false : `this host does not let nobody make a user namespace: ${userns.stderr.trim()}` }, scoped(async (scope) => {
  const { chmodSync, chownSync } = await import('node:fs');
  const lower = await tarOf([...busyboxEntries(['sh']), { name: 'd/', type: 'directory' }, { name: 'd/gone', data: 'old' }, { name: 'd/kept', data: 'k' }, { name: 'o/', type: 'directory' }, { name: 'o/old', data: 'x' }]);
  const upper = await tarOf([{ name: 'd/.wh.gone', data: '' }, { name: 'o/', type: 'directory' }, { name: 'o/.wh..wh..opq', data: '' }, { name: 'o/new', data: 'n' }]);
  const layout = scope.path('wh');
  writeLayout(layout, [lower, upper], { refName: 'localhost/wh:1' });
  runSync('chmod', ['-R', 'a+rX', layout]);
  const store = scope.path('store');
  const mnt = scope.path('mnt');
  for (const d of [store, mnt]) {
    mkdirSync(d);
    chownSync(d, 65534, 65534);
  }
  chmodSync(scope.dir, 0o711);
  const as = (args) => runSync('runuser', ['-u', 'nobody', '--', ...args], { env: scope.env({ HOME: '/nonexistent' }) });
  ok(as([HAKO, 'image', '--image-root', store, 'import', layout]));
  const layers = JSON.parse(ok(as([HAKO, 'image', '--image-root', store, 'inspect', 'localhost/wh:1']))).layers.map((l) => l.dir);
  const wh = lstatSync(join(layers[1], 'd', 'gone'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
  assert.equal(runSync('getfattr', ['-n', 'user.overlay.opaque', '--only-values', join(layers[1], 'o')]).stdout, 'y');
  const r = as(['unshare', '-Urm', 'sh', '-c', `mount -t overlay overlay -o userxattr,lowerdir=${layers[1]}:${layers[0]} ${mnt} && ls ${mnt}/d ${mnt}/o && umount ${mnt}`]);
  assert.equal(ok(r), `${mnt}/d:\nkept\n\n${mnt}/o:\nnew\n`);
  // fuse-overlayfs (where the kernel refuses overlay) reads the same marks; run as root here, as
  // /dev/fuse may be root's only
  if (existsSync('/usr/bin/fuse-overlayfs') && existsSync('/dev/fuse')) {
    ok(runSync('/usr/bin/fuse-overlayfs', ['-o', `lowerdir=${layers[1]}:${layers[0]}`, mnt]));
    try {
      assert.deepEqual([readdirSync(join(mnt, 'd')), readdirSync(join(mnt, 'o'))], [['kept'], ['new']]);
    } finally {
      ok(runSync('fusermount3', ['-u', mnt]));
    }
  }
}));

test('an import killed with SIGKILL mid-unpack: its lock is taken over, prune removes what it left, the import then works', scoped(async (scope) => {
  const { randomBytes } = await import('node:crypto');
  const store = scope.path('store');
  const big = await tarOf(Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, data: randomBytes(256 << 10) })));
  writeLayout(scope.path('big'), [big], { refName: 'localhost/big:1' });
  const p = spawn(HAKO, ['image', '--image-root', store, 'import', scope.path('big')], { env: scope.env(), stdio: 'ignore' });
  const closed = new Promise((done) => p.on('close', done));
  const tmpLayers = () => (existsSync(join(store, 'layers', 'sha256')) ? readdirSync(join(store, 'layers', 'sha256')).filter((n) => n.startsWith('.tmp-')) : []);
  const { waitUntil } = await import('./oci-util.mjs');
  await waitUntil(() => tmpLayers().length > 0, { timeoutMs: 20_000, intervalMs: 5, what: 'the import to start unpacking' });
  p.kill('SIGKILL');
  await closed;
  assert.equal(tmpLayers().length, 1, 'the killed import left its temporary layer');
  assert.deepEqual(index(store).images, []);
  const r = JSON.parse(ok(img(scope, store, 'prune', '--format', 'json')));
  assert.ok(r.tmp >= 1 && r.blobs >= 1, JSON.stringify(r));
  assert.deepEqual(tmpLayers(), []);
  assert.deepEqual(blobs(store), []);
  assert.deepEqual(readdirSync(join(store, 'tmp')), []);
  ok(img(scope, store, 'import', scope.path('big')));
  assert.equal(layerDirs(store).length, 1);
}));
