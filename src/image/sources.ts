// What `import` reads: a docker-archive (podman/docker save: manifest.json, config, layer tars),
// an oci-archive (a tar of an OCI layout) or an OCI image layout directory (oci-layout,
// index.json, blobs/). An archive is first staged (its members written, as plain files, to a
// temporary directory of the store), so all three are then read as directories.
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import type { Readable } from 'node:stream';
import { HakoError } from '../errors.js';
import { sniffCompression } from './unpack.js';
import { cleanName } from './unpack.js';
import { isDigest } from './ref.js';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor { mediaType: string; digest: string; size: number; platform?: { os?: string; architecture?: string; variant?: string }; annotations?: Record<string, string> }
export interface Manifest { schemaVersion: number; mediaType?: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> }
export interface IndexDoc { schemaVersion: number; mediaType?: string; manifests: Descriptor[] }

/** A directory to read an image from, with the aliases (symlinks, hardlinks) an archive had. */
export class SourceDir {
  constructor(readonly dir: string, readonly staged: boolean, private readonly aliases = new Map<string, string>()) {}

  /** The file a member name means (following an archive's links, a few at most). */
  path(name: string): string {
    let n = posix.normalize(name).replace(/^\/+/, '');
    for (let i = 0; i < 8 && this.aliases.has(n); i++) n = this.aliases.get(n)!;
    const parts = cleanName(n);
    if (!parts) throw new HakoError(`hako: image: the archive names '${name}', outside itself`, { code: 'image' });
    return join(this.dir, ...parts);
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await stat(this.path(name))).isFile();
    } catch {
      return false;
    }
  }

  async json<T>(name: string, what: string): Promise<T> {
    let text: string;
    try {
      text = await readFile(this.path(name), 'utf8');
    } catch (e) {
      throw new HakoError(`hako: image: ${what}: cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { code: 'image' });
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new HakoError(`hako: image: ${what}: ${name} is not JSON: ${(e as Error).message}`, { code: 'image' });
    }
  }
}

/** Writes an archive's regular members under dir (plain files only: links become aliases), and returns it as a SourceDir. */
export async function stageArchive(file: string, dir: string, onBytes?: (n: number) => void): Promise<SourceDir> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const compression = sniffCompression(head);
  if (compression === 'zstd') throw new HakoError(`hako: image: ${file} is zstd-compressed, which this Node cannot decompress`, { code: 'image' });
  const aliases = new Map<string, string>();
  const ex = extract();
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  if (onBytes) input.on('data', (c: Buffer | string) => onBytes(c.length));
  let files = 0;
  const consume = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const parts = cleanName(h.name);
      const s = entry as unknown as Readable;
      if (!parts || parts.length === 0 || (h.type !== 'file' && h.type !== 'contiguous-file')) {
        if (parts && parts.length && (h.type === 'symlink' || h.type === 'link')) {
          const from = parts.join('/');
          const to = h.type === 'symlink' ? posix.normalize(posix.join(posix.dirname(from), h.linkname)) : posix.normalize(h.linkname);
          aliases.set(from, to.replace(/^\/+/, ''));
        }
        s.resume();
        continue;
      }
      const path = join(dir, ...parts);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await unlink(path).catch(() => undefined);
      const out = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        for await (const c of s) await out.write(c as Buffer);
      } finally {
        await out.close();
      }
      files++;
    }
  })();
  try {
    const streams: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [input];
    if (compression === 'gzip') streams.push(createGunzip());
    streams.push(ex as unknown as NodeJS.WritableStream);
    await Promise.all([(pipeline as (...s: unknown[]) => Promise<void>)(...streams), consume]);
  } catch (e) {
    input.destroy();
    await consume.catch(() => undefined);
    if (e instanceof HakoError) throw e;
    throw new HakoError(`hako: image: ${file}: not a readable tar archive: ${(e as Error).message}`, { code: 'image' });
  }
  if (files === 0) throw new HakoError(`hako: image: ${file}: no files in it: not a docker-archive or oci-archive`, { code: 'image' });
  return new SourceDir(dir, true, aliases);
}

/** One image found in a source: what to add to the store. */
export interface FoundImage {
  names: string[];
  /** The manifest's bytes and digest (a docker-archive's is made here: OCI, from its config and layers). */
  manifest: { path?: string; bytes?: Buffer; digest?: string };
  config: { path: string; digest?: string; mediaType: string };
  layers: { path: string; digest?: string; mediaType: string }[];
}

export type SourceKind = 'oci-layout' | 'docker-archive';

export async function kindOf(src: SourceDir, what: string): Promise<SourceKind> {
  if (await src.exists('index.json')) return 'oci-layout';
  if (await src.exists('manifest.json')) return 'docker-archive';
  throw new HakoError(`hako: image: ${what}: neither an OCI layout (index.json) nor a docker-archive (manifest.json)`, { code: 'image' });
}

function blobName(digest: string, what: string): string {
  if (!isDigest(digest)) throw new HakoError(`hako: image: ${what}: '${digest}' is not a sha256 digest`, { code: 'image' });
  return `blobs/sha256/${digest.slice(7)}`;
}

/** Picks linux/amd64 (this platform) from an index's manifests. */
export function pickPlatform(list: Descriptor[], what: string): Descriptor {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
  const images = list.filter((d) => d.mediaType !== 'application/vnd.oci.image.manifest.v1+json' || !d.annotations?.['vnd.docker.reference.type']);
  const hit = images.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === arch)
    ?? (images.length === 1 && !images[0]!.platform ? images[0] : undefined);
  if (!hit) {
    const have = images.map((d) => `${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}`).join(', ');
    throw new HakoError(`hako: image: ${what}: no linux/${arch} image in its index (it has ${have || 'none'})`, { code: 'image' });
  }
  return hit;
}

/** The images of an OCI layout: each entry of index.json (a nested index gives its linux/amd64 image). */
export async function readOciLayout(src: SourceDir, what: string, nameOf: (refName: string) => string | undefined): Promise<FoundImage[]> {
  const index = await src.json<IndexDoc>('index.json', what);
  if (!Array.isArray(index.manifests)) throw new HakoError(`hako: image: ${what}: index.json has no manifests`, { code: 'image' });
  const out: FoundImage[] = [];
  for (const top of index.manifests) {
    let d = top;
    for (let depth = 0; depth < 4 && (d.mediaType === MEDIA.ociIndex || d.mediaType === MEDIA.dockerList); depth++) {
      const nested = await src.json<IndexDoc>(blobName(d.digest, what), what);
      d = pickPlatform(nested.manifests ?? [], what);
    }
    const m = await src.json<Manifest>(blobName(d.digest, what), what);
    if (!m.config || !Array.isArray(m.layers)) throw new HakoError(`hako: image: ${what}: manifest ${d.digest} has no config or layers`, { code: 'image' });
    const refName = top.annotations?.['org.opencontainers.image.ref.name'];
    const name = refName !== undefined ? nameOf(refName) : undefined;
    out.push({
      names: name ? [name] : [],
      manifest: { path: src.path(blobName(d.digest, what)), digest: d.digest },
      config: { path: src.path(blobName(m.config.digest, what)), digest: m.config.digest, mediaType: m.config.mediaType },
      layers: m.layers.map((l) => ({ path: src.path(blobName(l.digest, what)), digest: l.digest, mediaType: l.mediaType })),
    });
  }
  return out;
}

interface DockerEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

/** The images of a docker-archive's manifest.json. */
export async function readDockerArchive(src: SourceDir, what: string): Promise<FoundImage[]> {
  const list = await src.json<DockerEntry[]>('manifest.json', what);
  if (!Array.isArray(list)) throw new HakoError(`hako: image: ${what}: manifest.json is not a list`, { code: 'image' });
  const digestIn = (name: string) => {
    const m = /(?:^|\/)(?:sha256[:/])?([0-9a-f]{64})(?:\.json)?$/.exec(name);
    return m ? `sha256:${m[1]}` : undefined;
  };
  return list.map((e) => {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw new HakoError(`hako: image: ${what}: manifest.json entry without Config or Layers`, { code: 'image' });
    const cd = digestIn(e.Config);
    const config: FoundImage['config'] = { path: src.path(e.Config), mediaType: MEDIA.ociConfig };
    if (cd) config.digest = cd;
    return {
      names: (e.RepoTags ?? []).filter((t) => typeof t === 'string'),
      manifest: {},
      config,
      layers: e.Layers.map((l) => ({ path: src.path(l), mediaType: '' })),
    };
  });
}
