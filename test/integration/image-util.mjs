// Images for tests, made here from nothing downloaded: tars (tar-stream, so that hostile names
// can be written as they are), OCI image layouts and oci-archives, a one-layer busybox image from
// the host's static busybox. Also used by the sandbox's tests.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export const BUSYBOX = '/bin/busybox';
const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A tar (Buffer) of entries: { name, type = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo',
 * data, linkname, mode, uid, gid, mtime, devmajor, devminor, pax }.
 */
export async function tarOf(entries) {
  const p = pack();
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    p.on('data', (c) => chunks.push(c));
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    const header = {
      name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
    };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    if (e.devmajor !== undefined) header.devmajor = e.devmajor;
    if (e.devminor !== undefined) header.devminor = e.devminor;
    if (e.pax) header.pax = e.pax;
    const data = type === 'file' ? Buffer.from(e.data ?? '') : undefined;
    await new Promise((resolve, reject) => {
      if (data) p.entry({ ...header, size: data.length }, data, (err) => (err ? reject(err) : resolve()));
      else p.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The entries of a busybox root: the static busybox, applet symlinks, the usual directories. */
export function busyboxEntries(applets = ['sh', 'ls', 'cat', 'echo', 'true', 'false', 'sleep', 'id', 'stat', 'mount', 'env', 'touch', 'rm', 'mkdir', 'test', 'wc', 'head', 'dd', 'sync', 'ps']) {
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    ...['dev', 'proc', 'sys', 'etc', 'root', 'var'].map((d) => ({ name: `${d}/`, type: 'directory' })),
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
}

/**
 * Writes an OCI image layout at dir holding one image of these layer tars (Buffers, lowest first;
 * gzip: compress them). config: fields of the image config's `config` (Env, Cmd, WorkingDir...).
 * refName: index.json's org.opencontainers.image.ref.name. Returns the digests.
 */
export function writeLayout(dir, layers, { gzip = false, config = {}, refName, corrupt } = {}) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes) => {
    const d = sha(bytes);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), bytes);
    return { digest: d, size: bytes.length };
  };
  const diffIds = layers.map(sha);
  const layerDescs = layers.map((l) => ({
    mediaType: gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
    ...put(gzip ? gzipSync(l) : l),
  }));
  const cfg = {
    created: '2026-01-01T00:00:00Z', architecture: 'amd64', os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], ...config },
    rootfs: { type: 'layers', diff_ids: corrupt === 'diffid' ? diffIds.map(() => sha(Buffer.from('other'))) : diffIds },
    history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'image-util' })),
  };
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(Buffer.from(JSON.stringify(cfg))) };
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: layerDescs };
  const manifestDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(Buffer.from(JSON.stringify(manifest))) };
  if (corrupt === 'blob') writeFileSync(join(dir, 'blobs', 'sha256', layerDescs[0].digest.slice(7)), Buffer.concat([gzip ? gzipSync(layers[0]) : layers[0], Buffer.from('x')]));
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...manifestDesc, ...(refName ? { annotations: { 'org.opencontainers.image.ref.name': refName } } : {}) }] };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { manifest: manifestDesc.digest, config: configDesc.digest, diffIds, layers: layerDescs.map((l) => l.digest) };
}

/** A one-layer busybox image as an OCI layout at dir. */
export async function busyboxLayout(dir, options = {}) {
  return writeLayout(dir, [await tarOf(busyboxEntries())], options);
}

/** A tar (Buffer) of a directory's files (for an oci-archive of a layout): entries read from disk. */
export async function tarOfDir(dir) {
  const { readdirSync, statSync } = await import('node:fs');
  const entries = [];
  const walk = (rel) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) {
        entries.push({ name: `${r}/`, type: 'directory' });
        walk(r);
      } else entries.push({ name: r, data: readFileSync(join(dir, r)) });
    }
  };
  walk('');
  return tarOf(entries);
}
