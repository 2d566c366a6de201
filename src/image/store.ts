// The image store: a content-addressed directory that `import` and `pull` fill and the sandbox
// reads layers from.
//
//   ROOT/blobs/sha256/HEX     manifests, configs and layer blobs, each named by its sha256 (checked on write)
//   ROOT/layers/sha256/HEX    each layer unpacked once, named by its diff id (the sha256 of the
//                             uncompressed tar, checked against the config's rootfs.diff_ids),
//                             shared by every image that has it; ready as an overlay lowerdir
//   ROOT/images.json          the images: manifest digest -> config, layers, names (written to a
//                             temporary file and renamed, so a reader sees the old or the new)
//   ROOT/tmp/                 staging of archives being imported
//                             (layers/, blobs/ and tmp/ are 0700: layers hold setuid programs as they are)
//   ROOT/@locks/images        the store's lock: import, pull, rm and prune hold it throughout, so
//                             that two processes working on one store at once are safe
//
// ROOT: HAKO_IMAGE_ROOT, else /var/lib/hako as root, else $XDG_DATA_HOME/hako (~/.local/share/hako).
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import { withLock } from '../runtime/lock.js';
import { processExists } from '../linux/proc.js';
import { BlobStore, hexOf, tmpName } from './blobs.js';
import { candidates, formatRef, isDigest, parseRef } from './ref.js';
import { kindOf, MEDIA, readDockerArchive, readOciLayout, SourceDir, stageArchive, type FoundImage, type Manifest } from './sources.js';
import { sniffCompression, unpackLayer } from './unpack.js';
import { pullImage } from './registry.js';
import type {
  ImageConfig, ImageDetails, ImageRecord, ImageStoreOptions, ImageSummary, LayerRecord, ProgressEvent, PruneResult, PullOptions, ResolvedImage,
} from './types.js';

export type * from './types.js';

/** @internal */
export interface IndexFile { version: 1; images: ImageRecord[] }

export function defaultImageRoot(): string {
  const env = process.env.HAKO_IMAGE_ROOT;
  if (env) return resolve(env);
  if (process.getuid?.() === 0) return '/var/lib/hako';
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'hako');
}

interface OciConfig {
  architecture?: string; os?: string; created?: string; history?: unknown[];
  config?: { Env?: string[] | null; WorkingDir?: string; User?: string; Entrypoint?: string[] | null; Cmd?: string[] | null };
  rootfs?: { type?: string; diff_ids?: string[] };
}

function imageConfigOf(c: OciConfig): ImageConfig {
  const out: ImageConfig = { env: Array.isArray(c.config?.Env) ? c.config!.Env!.filter((e) => typeof e === 'string') : [] };
  const k = c.config ?? {};
  if (k.WorkingDir) out.workingDir = k.WorkingDir;
  if (k.User) out.user = k.User;
  if (Array.isArray(k.Entrypoint)) out.entrypoint = k.Entrypoint;
  if (Array.isArray(k.Cmd)) out.cmd = k.Cmd;
  return out;
}

export class ImageStore {
  readonly root: string;
  /** @internal */
  readonly blobs: BlobStore;
  private readonly onProgress: ((e: ProgressEvent) => void) | undefined;

  constructor(o: ImageStoreOptions = {}) {
    this.root = o.root !== undefined ? resolve(o.root) : defaultImageRoot();
    this.blobs = new BlobStore(this.root);
    this.onProgress = o.onProgress;
  }

  get layersDir(): string {
    return join(this.root, 'layers', 'sha256');
  }

  layerDir(diffId: string): string {
    return join(this.layersDir, hexOf(diffId));
  }

  private get indexPath(): string {
    return join(this.root, 'images.json');
  }

  /** Runs fn holding the store's lock (import, pull, rm and prune; readers need none). */
  /** @internal */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    // layers hold the images' files as they are, setuid-root programs included: only the owner
    // may walk into the store's directories (as podman's storage)
    for (const d of ['layers', 'blobs', 'tmp']) {
      await mkdir(join(this.root, d), { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      await chmod(join(this.root, d), 0o700);
    }
    try {
      return await withLock(this.root, 'images', fn, { timeoutMs: 15 * 60_000 });
    } catch (e) {
      if (e instanceof HakoError && e.code === 'locked') throw new HakoError(`hako: image: the store ${this.root} is busy: ${e.message.replace(/^hako: /, '')}`, { code: 'locked' });
      throw e;
    }
  }

  /** @internal */
  async readIndex(): Promise<IndexFile> {
    let text: string;
    try {
      text = await readFile(this.indexPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: [] };
      throw new HakoError(`hako: image: cannot read ${this.indexPath}: ${(e as Error).message}`, { code: 'io' });
    }
    try {
      const doc = JSON.parse(text) as IndexFile;
      if (!Array.isArray(doc.images)) throw new Error('no images list');
      return doc;
    } catch (e) {
      throw new HakoError(`hako: image: ${this.indexPath} is damaged: ${(e as Error).message}`, { code: 'io' });
    }
  }

  private async writeIndex(doc: IndexFile): Promise<void> {
    const tmp = join(this.root, tmpName('images.json'));
    await writeFile(tmp, `${JSON.stringify(doc, null, 1)}\n`, { mode: 0o644 });
    await rename(tmp, this.indexPath);
  }

  private progress(e: ProgressEvent, extra?: (e: ProgressEvent) => void): void {
    extra?.(e);
    this.onProgress?.(e);
  }

  /** Imports a docker-archive, oci-archive or OCI layout directory; returns the images it held. */
  async import(pathOrDir: string, o: { tag?: string; onProgress?: (e: ProgressEvent) => void } = {}): Promise<ImageSummary[]> {
    const what = pathOrDir;
    let st;
    try {
      st = await stat(pathOrDir);
    } catch (e) {
      throw new HakoError(`hako: image: cannot import ${pathOrDir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, { code: 'not-found' });
    }
    const tag = o.tag !== undefined ? formatRef(parseRef(o.tag)) : undefined;
    return this.locked(async () => {
      const stage = join(this.root, 'tmp', `${process.pid}-${tmpName('import')}`);
      try {
        let src: SourceDir;
        if (st.isDirectory()) src = new SourceDir(resolve(pathOrDir), false);
        else {
          await mkdir(stage, { recursive: true, mode: 0o700 });
          let bytes = 0;
          src = await stageArchive(pathOrDir, stage, (n) => {
            bytes += n;
            this.progress({ phase: 'read', bytes, total: st.size }, o.onProgress);
          });
        }
        const kind = await kindOf(src, what);
        const fallbackName = basename(pathOrDir).replace(/\.(tar|tgz|tar\.gz|oci)$/, '') || 'image';
        const found = kind === 'oci-layout'
          ? await readOciLayout(src, what, (n) => {
            try {
              return formatRef(parseRef(n.includes('/') || n.includes(':') ? n : `localhost/${fallbackName}:${n}`));
            } catch {
              return undefined;
            }
          })
          : await readDockerArchive(src, what);
        if (!found.length) throw new HakoError(`hako: image: ${what}: no image in it`, { code: 'image' });
        if (tag !== undefined && found.length > 1) throw new HakoError(`hako: image: ${what} holds ${found.length} images: --tag names one`, { code: 'bad-option' });
        const out: ImageSummary[] = [];
        for (const f of found) {
          if (tag !== undefined) f.names = [tag];
          f.names = f.names.map((n) => formatRef(parseRef(n)));
          out.push(await this.add(f, src.staged, what, o.onProgress));
        }
        return out;
      } catch (e) {
        await this.dropUnused();
        throw e;
      } finally {
        await rm(stage, { recursive: true, force: true });
      }
    });
  }

  /** @internal After a failed import or pull (lock held): removes the blobs and layers it added that no image uses. */
  async dropUnused(): Promise<void> {
    await this.sweep(await this.readIndex()).catch(() => undefined);
  }

  /** Adds one found image: its blobs (checked), its layers (unpacked once), then its record. Call with the lock held. */
  /** @internal */
  async add(f: FoundImage, staged: boolean, what: string, onProgress?: (e: ProgressEvent) => void): Promise<ImageSummary> {
    const cfg = await this.blobs.putFile(f.config.path, f.config.digest, `${what}: config`, { move: staged });
    const config = JSON.parse(await readFile(this.blobs.path(cfg.digest), 'utf8')) as OciConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== f.layers.length) throw new HakoError(`hako: image: ${what}: the config lists ${diffIds.length} layers (rootfs.diff_ids), the manifest ${f.layers.length}`, { code: 'image' });
    const layers: LayerRecord[] = [];
    for (const [i, l] of f.layers.entries()) {
      let bytes = 0;
      const total = (await stat(l.path).catch(() => undefined))?.size;
      const b = await this.blobs.putFile(l.path, l.digest, `${what}: layer ${i + 1}`, {
        move: staged,
        onBytes: (n) => {
          bytes += n;
          const e: ProgressEvent = { phase: 'blob', bytes, layer: i + 1, layers: f.layers.length };
          if (total !== undefined) e.total = total;
          this.progress(e, onProgress);
        },
      });
      let mediaType = l.mediaType;
      if (!mediaType) {
        const head = Buffer.alloc(4);
        const fh = await open(this.blobs.path(b.digest), 'r');
        await fh.read(head, 0, 4, 0).finally(() => fh.close());
        const c = sniffCompression(head);
        mediaType = c === 'gzip' ? MEDIA.ociLayerGzip : c === 'zstd' ? MEDIA.ociLayerZstd : MEDIA.ociLayer;
      }
      layers.push({ digest: b.digest, diffId: diffIds[i]!, size: b.size, mediaType });
    }
    let manifestDigest: string;
    let manifestSize: number;
    if (f.manifest.path) {
      const m = await this.blobs.putFile(f.manifest.path, f.manifest.digest, `${what}: manifest`, { move: staged });
      manifestDigest = m.digest;
      manifestSize = m.size;
    } else {
      const manifest: Manifest = {
        schemaVersion: 2, mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: cfg.digest, size: cfg.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      };
      const m = await this.blobs.putBytes(Buffer.from(JSON.stringify(manifest)), undefined, `${what}: manifest`);
      manifestDigest = m.digest;
      manifestSize = m.size;
    }
    await this.unpackLayers(layers, what, onProgress);
    const record: ImageRecord = {
      id: cfg.digest, digest: manifestDigest, names: f.names, size: cfg.size + manifestSize + layers.reduce((s, l) => s + l.size, 0),
      added: new Date().toISOString(), config: cfg.digest, layers,
    };
    if (typeof config.created === 'string') record.created = config.created;
    const doc = await this.readIndex();
    for (const img of doc.images) img.names = img.names.filter((n) => !f.names.includes(n));
    const old = doc.images.find((img) => img.digest === manifestDigest);
    if (old) {
      old.names = [...new Set([...old.names, ...f.names])];
      Object.assign(record, { names: old.names, added: old.added });
    }
    doc.images = [...doc.images.filter((img) => img.digest !== manifestDigest), record];
    await this.writeIndex(doc);
    this.progress({ phase: 'done', bytes: record.size, image: f.names[0] ?? record.digest }, onProgress);
    return summary(record);
  }

  /** Unpacks each layer not unpacked yet, checking its diff id; a layer dir appears whole (rename) or not at all. */
  private async unpackLayers(layers: LayerRecord[], what: string, onProgress?: (e: ProgressEvent) => void): Promise<void> {
    await mkdir(this.layersDir, { recursive: true, mode: 0o755 });
    for (const [i, l] of layers.entries()) {
      const dir = this.layerDir(l.diffId);
      try {
        await stat(dir);
        continue;
      } catch { /* not there yet */ }
      const tmp = join(this.layersDir, tmpName(hexOf(l.diffId).slice(0, 12)));
      await mkdir(tmp, { mode: 0o755 });
      try {
        let bytes = 0;
        const r = await unpackLayer(this.blobs.path(l.digest), tmp, {
          name: l.digest,
          onBytes: (n) => { bytes += n; this.progress({ phase: 'unpack', bytes, total: l.size, layer: i + 1, layers: layers.length, digest: l.digest }, onProgress); },
        });
        if (r.diffId !== l.diffId) throw new HakoError(`hako: image: ${what}: layer ${i + 1} (${l.digest}) unpacks to ${r.diffId}, but the config says ${l.diffId}: refused`, { code: 'image' });
        await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
        });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  }

  async list(): Promise<ImageSummary[]> {
    return (await this.readIndex()).images.map(summary);
  }

  /** The record a reference means: a name (normalized), NAME@sha256:..., sha256:..., or an id or digest prefix. */
  /** @internal */
  async find(ref: string, doc?: IndexFile): Promise<{ record: ImageRecord; name?: string }> {
    const images = (doc ?? await this.readIndex()).images;
    const bare = ref.startsWith('@') ? ref.slice(1) : ref;
    if (isDigest(bare)) {
      const hit = images.find((i) => i.digest === bare || i.id === bare);
      if (hit) return { record: hit };
      throw notFound(ref);
    }
    if (/^[0-9a-f]{3,64}$/.test(bare)) {
      const hits = images.filter((i) => i.id.slice(7).startsWith(bare) || i.digest.slice(7).startsWith(bare));
      if (hits.length === 1) return { record: hits[0]! };
      if (hits.length > 1) throw new HakoError(`hako: image: '${ref}' matches ${hits.length} images: give more of the id`, { code: 'bad-option' });
    }
    for (const c of candidates(bare)) {
      const r = parseRef(c);
      if (r.digest !== undefined) {
        const hit = images.find((i) => i.digest === r.digest);
        if (hit) return { record: hit };
        continue;
      }
      const hit = images.find((i) => i.names.includes(c));
      if (hit) return { record: hit, name: c };
    }
    throw notFound(ref);
  }

  async inspect(ref: string): Promise<ImageDetails> {
    const { record } = await this.find(ref);
    const c = await this.configOf(record);
    const out: ImageDetails = {
      ...summary(record), config: imageConfigOf(c),
      layers: record.layers.map((l) => ({ ...l, dir: this.layerDir(l.diffId) })),
    };
    if (c.architecture) out.architecture = c.architecture;
    if (c.os) out.os = c.os;
    if (Array.isArray(c.history)) out.history = c.history;
    return out;
  }

  private async configOf(record: ImageRecord): Promise<OciConfig> {
    try {
      return JSON.parse(await readFile(this.blobs.path(record.config), 'utf8')) as OciConfig;
    } catch (e) {
      throw new HakoError(`hako: image: the config of ${record.names[0] ?? record.digest} (${record.config}) is missing or damaged: ${(e as Error).message}`, { code: 'io' });
    }
  }

  /** What the sandbox needs: the layer directories (lowest first) and the config's defaults. */
  async resolve(ref: string): Promise<ResolvedImage> {
    const { record, name } = await this.find(ref);
    const layers = record.layers.map((l) => this.layerDir(l.diffId));
    for (const d of layers) {
      try {
        await stat(d);
      } catch {
        throw new HakoError(`hako: image: layer ${d} of ${name ?? record.digest} is missing (import the image again)`, { code: 'io' });
      }
    }
    return { ref: name ?? record.digest, digest: record.digest, layers, config: imageConfigOf(await this.configOf(record)) };
  }

  /** Removes a name (the image stays while it has others), or the image a digest or id names; then its unused layers and blobs. */
  async remove(ref: string): Promise<void> {
    await this.locked(async () => {
      const doc = await this.readIndex();
      const { record, name } = await this.find(ref, doc);
      if (name !== undefined && record.names.length > 1) record.names = record.names.filter((n) => n !== name);
      else doc.images = doc.images.filter((i) => i !== record);
      await this.writeIndex(doc);
      await this.sweep(doc);
    });
  }

  /** Removes layers and blobs no image uses, and staging left by a killed import. */
  async prune(): Promise<PruneResult> {
    return this.locked(async () => this.sweep(await this.readIndex(), true));
  }

  private async sweep(doc: IndexFile, all = false): Promise<PruneResult> {
    const result: PruneResult = { layers: 0, blobs: 0, tmp: 0 };
    const usedLayers = new Set(doc.images.flatMap((i) => i.layers.map((l) => hexOf(l.diffId))));
    const usedBlobs = new Set(doc.images.flatMap((i) => [i.digest, i.config, ...i.layers.map((l) => l.digest)].map(hexOf)));
    // blobs a stored manifest refers to (an index or a foreign manifest's config) stay too
    const list = async (d: string) => readdir(d).catch(() => [] as string[]);
    const alive = (name: string) => {
      const m = /^\.tmp-.*?-(\d+)-[0-9a-f]+$/.exec(name) ?? /^(\d+)-/.exec(name);
      return m ? processExists(Number(m[1])) : false;
    };
    // a layer that an overlay mount (a sandbox's) still has as a lower dir stays until it is unmounted
    const mounted = await overlayLowerDirs();
    for (const n of await list(this.layersDir)) {
      if (n.startsWith('.tmp-') ? alive(n) : usedLayers.has(n) || mounted.has(join(this.layersDir, n))) continue;
      if (!n.startsWith('.tmp-') || all) {
        await rm(join(this.layersDir, n), { recursive: true, force: true });
        if (n.startsWith('.tmp-')) result.tmp++;
        else result.layers++;
      }
    }
    for (const n of await list(this.blobs.dir)) {
      if (n.startsWith('.tmp-') ? alive(n) : usedBlobs.has(n)) continue;
      if (!n.startsWith('.tmp-') || all) {
        await rm(join(this.blobs.dir, n), { force: true });
        if (n.startsWith('.tmp-')) result.tmp++;
        else result.blobs++;
      }
    }
    if (all) {
      for (const n of await list(join(this.root, 'tmp'))) {
        if (alive(n)) continue;
        await rm(join(this.root, 'tmp', n), { recursive: true, force: true });
        result.tmp++;
      }
    }
    return result;
  }

  /** Pulls an image from a registry (distribution API v2). */
  async pull(ref: string, o: PullOptions = {}): Promise<ImageSummary> {
    return pullImage(this, ref, o);
  }
}


function summary(r: ImageRecord): ImageSummary {
  const s: ImageSummary = { id: r.id, digest: r.digest, names: [...r.names], size: r.size, added: r.added };
  if (r.created !== undefined) s.created = r.created;
  return s;
}

function notFound(ref: string): HakoError {
  return new HakoError(`hako: image: no image '${ref}' in the store (see 'hako image ls')`, { code: 'not-found' });
}

/** The lower directories of every overlay mount this process's mount namespace has
 * (/proc/self/mountinfo: "lowerdir=A:B" in the super options, octal escapes undone). */
async function overlayLowerDirs(): Promise<Set<string>> {
  const dirs = new Set<string>();
  let text = '';
  try { text = await readFile('/proc/self/mountinfo', 'utf8'); } catch { return dirs; }
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , options = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'overlay') continue;
    for (const opt of options.split(',')) {
      if (!opt.startsWith('lowerdir=')) continue;
      for (const d of opt.slice(9).split(':')) dirs.add(d.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
    }
  }
  return dirs;
}
