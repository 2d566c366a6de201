// Unpacking one layer (a tar, maybe gzip-compressed) into its own directory, safely: nothing is
// ever written outside that directory, whatever the tar holds.
//
//  - Names: a leading '/' is stripped; a name with a '..' component refuses the layer.
//  - Parents: every parent component is lstat'ed inside the layer (or made, 0755): a parent that is
//    a symlink, or not a directory, refuses the layer. Known-good directories are remembered until
//    an entry replaces them. Files are opened O_EXCL|O_NOFOLLOW after whatever was there is removed,
//    and ownership, modes and times are set with the l- calls, so no symlink is ever followed.
//  - Hardlinks: only to a non-directory already inside this layer (checked the same way).
//  - OCI whiteouts become overlayfs's: `.wh.NAME` a character device 0:0 (any user may make one
//    since Linux 5.8), `.wh..wh..opq` the directory's overlay opaque xattr
//    (`trusted.overlay.opaque=y` as root, `user.overlay.opaque=y` otherwise, for `userxattr`).
//  - xattrs from PAX SCHILY.xattr.* records: user.* and security.capability only (never
//    *.overlay.*, which would steer overlayfs), where the filesystem allows them.
//  - Devices need root; fifos do not. Node has neither mknod(2) nor setxattr(2): `mknod` (coreutils)
//    and one `setfattr --restore` (attr) per layer do those few calls.
import { createHash, type Hash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { constants, createReadStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as zlib from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { HakoError } from '../errors.js';

export interface UnpackOptions {
  /** Set owners, make devices and trusted.* xattrs (default: whether this process is root). */
  privileged?: boolean;
  /** Called with the number of compressed bytes read, as they are read. */
  onBytes?: (n: number) => void;
  /** Names the layer in errors (its digest). */
  name?: string;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar: the layer's diff id. */
  diffId: string;
  /** Uncompressed bytes. */
  size: number;
  /** Entries that could not be made here and were left out (devices or whiteouts without root, xattrs the filesystem refused). */
  skipped: string[];
}

export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression of a blob, from its first bytes. */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Thrown for an entry that would leave the layer directory. */
function unsafe(layer: string, why: string): HakoError {
  return new HakoError(`hako: image: layer ${layer}: ${why}: refused (it would write outside the layer)`, { code: 'image' });
}

/** The components of a tar name inside the layer, or undefined when it climbs out ('..'). */
export function cleanName(name: string): string[] | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  return parts;
}

function run(cmd: string, args: string[], cwd?: string, input?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { cwd, maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      done({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A path as setfattr --restore reads it: every byte outside [A-Za-z0-9._/+-] as \ooo. */
function quotePath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._/+-]/.test(c) ? c : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

const ALLOWED_XATTR = (name: string) => (name.startsWith('user.') && !name.startsWith('user.overlay.')) || name === 'security.capability';

/** Unpacks the layer blob at blobPath into dir (an empty directory the caller made). */
export async function unpackLayer(blobPath: string, dir: string, o: UnpackOptions = {}): Promise<UnpackResult> {
  const privileged = o.privileged ?? process.getuid?.() === 0;
  const layer = o.name ?? blobPath;
  const compression = sniffCompression(await readHead(blobPath));
  let decompress: Transform | undefined;
  if (compression === 'gzip') decompress = createGunzip();
  else if (compression === 'zstd') {
    const z = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
    if (!z) throw new HakoError(`hako: image: layer ${layer} is zstd-compressed, which this Node (${process.version}) cannot decompress (Node 22.15 or later can)`, { code: 'image' });
    decompress = z();
  }
  const hash: Hash = createHash('sha256');
  let size = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const input = createReadStream(blobPath, { highWaterMark: 1 << 20 });
  if (o.onBytes) input.on('data', (c: Buffer | string) => o.onBytes!(c.length));
  const state = new Unpacker(dir, layer, privileged);
  const ex = extract();
  const consume = (async () => {
    for await (const entry of ex) await state.entry(entry.header, entry as unknown as Readable);
  })();
  const streams: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [input];
  if (decompress) streams.push(decompress);
  streams.push(tee, ex as unknown as NodeJS.WritableStream);
  try {
    await Promise.all([(pipeline as (...s: unknown[]) => Promise<void>)(...streams), consume]);
  } catch (e) {
    input.destroy();
    (ex as unknown as { destroy(): void }).destroy();
    await consume.catch(() => undefined);
    if (e instanceof HakoError) throw e;
    throw new HakoError(`hako: image: layer ${layer}: ${(e as Error).message}`, { code: 'image' });
  }
  await state.finish();
  return { diffId: `sha256:${hash.digest('hex')}`, size, skipped: state.skipped };
}

interface DirMeta { mode: number; atime: Date; mtime: Date }

class Unpacker {
  /** Directories (relative paths) known to be real directories made or checked here. */
  private good = new Set<string>(['']);
  private dirs = new Map<string, DirMeta>();
  private xattrs: { path: string; name: string; value: Buffer }[] = [];
  private opaque: string[] = [];
  skipped: string[] = [];

  constructor(private readonly dir: string, private readonly layer: string, private readonly privileged: boolean) {}

  private abs(rel: string): string {
    return rel === '' ? this.dir : join(this.dir, rel);
  }

  /** Makes sure each parent of parts is a real directory inside the layer (making missing ones). */
  private async parents(parts: string[], name: string, create = true): Promise<void> {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]}`;
      if (this.good.has(rel)) continue;
      let st;
      try {
        st = await lstat(this.abs(rel));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw unsafe(this.layer, `'${name}': parent '${rel}' is missing`);
        await mkdir(this.abs(rel), { mode: 0o755 });
        this.good.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) throw unsafe(this.layer, `'${name}': parent '${rel}' is a symlink`);
      if (!st.isDirectory()) throw unsafe(this.layer, `'${name}': parent '${rel}' is not a directory`);
      this.good.add(rel);
    }
  }

  /** Removes what is at rel unless it is a directory and a directory comes (tar: later entries win). */
  private async clear(rel: string, keepDir: boolean): Promise<boolean> {
    let st;
    try {
      st = await lstat(this.abs(rel));
    } catch {
      return false;
    }
    if (keepDir && st.isDirectory()) return true;
    if (st.isDirectory()) await rm(this.abs(rel), { recursive: true, force: true });
    else await unlink(this.abs(rel));
    const under = (g: string) => g === rel || g.startsWith(`${rel}/`);
    for (const g of [...this.good]) if (under(g)) this.good.delete(g);
    for (const g of [...this.dirs.keys()]) if (under(g)) this.dirs.delete(g);
    // what was collected for the paths removed goes too (a symlink put in their place later must not get it)
    this.xattrs = this.xattrs.filter((x) => !under(x.path));
    this.opaque = this.opaque.filter((o) => !under(o));
    return false;
  }

  private async own(path: string, h: Header): Promise<void> {
    if (this.privileged) await lchown(path, h.uid, h.gid);
  }

  private async mknod(path: string, args: string[], mode: number): Promise<boolean> {
    const r = await run('mknod', ['-m', (mode & 0o7777).toString(8), path, ...args]);
    return r.code === 0;
  }

  private collectXattrs(rel: string, h: Header): void {
    const pax = h.pax as Record<string, string> | null | undefined;
    if (!pax) return;
    for (const [k, v] of Object.entries(pax)) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const name = k.slice('SCHILY.xattr.'.length);
      if (!ALLOWED_XATTR(name) || v.includes('\ufffd')) {
        this.skipped.push(`${rel || '.'}: xattr ${name}`);
        continue;
      }
      this.xattrs.push({ path: rel, name, value: Buffer.from(v, 'utf8') });
    }
  }

  async entry(h: Header, stream: Readable): Promise<void> {
    const name = h.name;
    const parts = cleanName(name);
    if (!parts) {
      stream.resume();
      throw unsafe(this.layer, `entry '${name}' climbs out with '..'`);
    }
    const base = parts[parts.length - 1];
    if (base !== undefined && base.startsWith('.wh.')) {
      stream.resume();
      await this.parents(parts, name);
      const parentRel = parts.slice(0, -1).join('/');
      if (base === '.wh..wh..opq') this.opaque.push(parentRel);
      else if (!base.startsWith('.wh..wh.')) {
        const target = base.slice(4);
        // '.wh..' and '.wh...' would name the directory itself or its parent (the layers' directory)
        if (target === '' || target === '.' || target === '..') throw unsafe(this.layer, `whiteout '${name}' names no file`);
        const rel = [...parts.slice(0, -1), target].join('/');
        await this.clear(rel, false);
        // mknod of 0:0 (overlayfs's whiteout) needs no CAP_MKNOD since Linux 5.8
        if (!(await this.mknod(this.abs(rel), ['c', '0', '0'], 0))) this.skipped.push(`${rel}: whiteout`);
      }
      return;
    }
    const rel = parts.join('/');
    const path = this.abs(rel);
    const mode = h.mode ?? 0o644;
    const mtime = h.mtime ?? new Date(0);
    if (rel !== '') await this.parents(parts, name);
    switch (h.type) {
      case 'directory': {
        stream.resume();
        if (rel !== '' && !(await this.clear(rel, true))) await mkdir(path, { mode: 0o700 });
        await this.own(path, h);
        this.good.add(rel);
        this.dirs.set(rel, { mode, atime: mtime, mtime });
        this.collectXattrs(rel, h);
        return;
      }
      case 'file': case 'contiguous-file': {
        if (rel === '') throw unsafe(this.layer, `file entry '${name}' names the layer's root`);
        await this.clear(rel, false);
        const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of stream) await fh.write(chunk as Buffer);
          if (this.privileged) await fh.chown(h.uid, h.gid);
          await fh.chmod(mode & 0o7777);
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        this.collectXattrs(rel, h);
        return;
      }
      case 'symlink': {
        stream.resume();
        if (rel === '') throw unsafe(this.layer, `symlink entry '${name}' names the layer's root`);
        await this.clear(rel, false);
        await symlink(h.linkname, path);
        await this.own(path, h);
        await lutimes(path, mtime, mtime);
        this.collectXattrs(rel, h);
        return;
      }
      case 'link': {
        stream.resume();
        const target = cleanName(h.linkname ?? '');
        if (!target || target.length === 0) throw unsafe(this.layer, `hardlink '${name}' to '${h.linkname}'`);
        await this.parents(target, h.linkname, false);
        const trel = target.join('/');
        let st;
        try {
          st = await lstat(this.abs(trel));
        } catch {
          throw unsafe(this.layer, `hardlink '${name}' to '${h.linkname}', which is not in the layer`);
        }
        if (st.isDirectory()) throw unsafe(this.layer, `hardlink '${name}' to the directory '${h.linkname}'`);
        if (trel === rel) return;
        await this.clear(rel, false);
        await link(this.abs(trel), path);
        return;
      }
      case 'character-device': case 'block-device': case 'fifo': {
        stream.resume();
        if (rel === '') throw unsafe(this.layer, `device entry '${name}' names the layer's root`);
        await this.clear(rel, false);
        const args = h.type === 'fifo' ? ['p'] : [h.type === 'block-device' ? 'b' : 'c', String(h.devmajor ?? 0), String(h.devminor ?? 0)];
        if ((h.type !== 'fifo' && !this.privileged) || !(await this.mknod(path, args, mode))) {
          this.skipped.push(`${rel}: ${h.type}`);
          return;
        }
        await this.own(path, h);
        await chmod(path, mode & 0o7777);
        await lutimes(path, mtime, mtime);
        return;
      }
      default:
        stream.resume();
        this.skipped.push(`${rel}: ${String(h.type)}`);
    }
  }

  /** The paths whose every parent is a real directory, and which are directories themselves (dir) or not symlinks. */
  private async keepReal(paths: string[], dir: boolean): Promise<string[]> {
    const out: string[] = [];
    next: for (const rel of paths) {
      const parts = rel === '' ? [] : rel.split('/');
      let at = '';
      for (const [i, p] of parts.entries()) {
        at = at === '' ? p : `${at}/${p}`;
        let st;
        try {
          st = await lstat(this.abs(at));
        } catch {
          continue next;
        }
        const last = i === parts.length - 1;
        if (st.isSymbolicLink() || ((!last || dir) && !st.isDirectory())) continue next;
      }
      out.push(rel);
    }
    return out;
  }

  /** xattrs and opaque dirs (one setfattr each), then directory modes and times, deepest first. */
  async finish(): Promise<void> {
    // the tree is final now and only this process writes it: drop whatever a later entry turned
    // into a symlink or a non-directory, or put under one (checked again, component by component)
    this.opaque = await this.keepReal(this.opaque, true);
    const xattrPaths = new Set(await this.keepReal([...new Set(this.xattrs.map((x) => x.path))], false));
    this.xattrs = this.xattrs.filter((x) => xattrPaths.has(x.path));
    for (const rel of [...this.dirs.keys()]) if (!(await this.keepReal([rel], true)).length) this.dirs.delete(rel);
    const opaqueName = this.privileged ? 'trusted.overlay.opaque' : 'user.overlay.opaque';
    const dump = (list: { path: string; name: string; value: Buffer }[]) => list.map((x) =>
      `# file: ${quotePath(x.path === '' ? '.' : x.path)}\n${x.name}=0x${x.value.toString('hex')}\n`).join('\n');
    if (this.opaque.length) {
      const list = this.opaque.map((p) => ({ path: p, name: opaqueName, value: Buffer.from('y') }));
      const r = await restore(this.dir, dump(list));
      if (r.code !== 0) throw new HakoError(`hako: image: layer ${this.layer}: cannot mark opaque directories (${opaqueName}): ${r.stderr.trim().split('\n')[0] ?? 'setfattr failed'}`, { code: 'image' });
    }
    if (this.xattrs.length) {
      const r = await restore(this.dir, dump(this.xattrs));
      if (r.code !== 0) this.skipped.push(`xattrs: ${r.stderr.trim().split('\n')[0] ?? 'setfattr failed'}`);
    }
    const order = [...this.dirs.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, m] of order) {
      await chmod(this.abs(rel), m.mode & 0o7777);
      await lutimes(this.abs(rel), m.atime, m.mtime);
    }
  }
}

async function restore(dir: string, text: string): Promise<{ code: number; stderr: string }> {
  const file = join(dir, '..', `.xattrs-${process.pid}-${Date.now()}`);
  await writeFile(file, text);
  try {
    return await run('setfattr', ['-h', `--restore=${file}`], dir);
  } finally {
    await rm(file, { force: true });
  }
}
