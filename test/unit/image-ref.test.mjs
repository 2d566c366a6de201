// Image references normalized as podman and docker do them, and the tar names the unpacker takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidates, formatRef, parseRef } from '../../dist/src/image/ref.js';
import { cleanName, sniffCompression } from '../../dist/src/image/unpack.js';

const D = `sha256:${'ab'.repeat(32)}`;

test('references: short names are docker.io/library, a host (a dot, a port, localhost) stays, latest by default', () => {
  for (const [ref, want] of [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['me/app', 'docker.io/me/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/me/app:2', 'docker.io/me/app:2'],
    ['localhost/x:1', 'localhost/x:1'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['127.0.0.1:5000/a/b/c:t-1.0', '127.0.0.1:5000/a/b/c:t-1.0'],
    ['quay.io/org/img', 'quay.io/org/img:latest'],
    [`x@${D}`, `docker.io/library/x@${D}`],
    [`reg.io/x:1@${D}`, `reg.io/x:1@${D}`],
  ]) assert.equal(formatRef(parseRef(ref)), want, ref);
  assert.deepEqual(candidates('bb:1'), ['docker.io/library/bb:1', 'localhost/bb:1']);
  assert.deepEqual(candidates('localhost/bb:1'), ['localhost/bb:1']);
  assert.deepEqual(candidates('reg.io/bb'), ['reg.io/bb:latest']);
});

test('references: malformed ones are refused with the reason, as bad-option', () => {
  for (const [ref, why] of [
    ['', /no name/], ['Busybox', /'Busybox' is not a repository name part/], ['x:', /'' is not a tag/],
    ['x@sha256:12', /is not a sha256 digest/], ['a//b', /'' is not a repository name part/], ['x:a/b', /'x:a' is not a registry host\[:port\]/], ['-x.io/y', /not a repository name part|not a registry host/],
  ]) {
    assert.throws(() => parseRef(ref), (e) => e.code === 'bad-option' && why.test(e.message) && e.message.startsWith(`hako: image: '${ref}' is not an image reference`), ref);
  }
});

test('tar names: a leading / and . parts go, .. refuses', () => {
  assert.deepEqual(cleanName('/etc/passwd'), ['etc', 'passwd']);
  assert.deepEqual(cleanName('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(cleanName('./'), []);
  assert.equal(cleanName('a/../b'), undefined);
  assert.equal(cleanName('../x'), undefined);
  assert.deepEqual(cleanName('..a/b..'), ['..a', 'b..']);
});

test('compression from the first bytes: gzip, zstd, none', () => {
  assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(sniffCompression(Buffer.from('ustar')), 'none');
  assert.equal(sniffCompression(Buffer.alloc(0)), 'none');
});
