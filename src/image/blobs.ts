// Content-addressed files: blobs/sha256/HEX whose sha256 is HEX, checked on every write.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { HakoError } from '../errors.js';
import { isDigest } from './ref.js';

export function hexOf(digest: string): string {
  if (!isDigest(digest)) throw new HakoError(`hako: image: '${digest}' is not a sha256 digest`, { code: 'image' });
  return digest.slice('sha256:'.length);
}

export function tmpName(prefix: string): string {
  return `.tmp-${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export class BlobStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'blobs', 'sha256');
  }

  path(digest: string): string {
    return join(this.dir, hexOf(digest));
  }

  has(digest: string): Promise<boolean> {
    return exists(this.path(digest));
  }

  /**
   * Writes a stream as a blob: hashed while written to a temporary file, then renamed to its
   * name when the digest is the expected one (or, with no expectation, whatever it is).
   * Returns the digest and size. A mismatch removes the temporary file and throws.
   */
  async putStream(input: Readable, expected: string | undefined, what: string, onBytes?: (n: number) => void): Promise<{ digest: string; size: number }> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const tmp = join(this.dir, tmpName('blob'));
    const hash = createHash('sha256');
    let size = 0;
    const tee = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(input, tee, createWriteStream(tmp, { mode: 0o644 }));
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected !== undefined && digest !== expected) {
        throw new HakoError(`hako: image: ${what}: its sha256 is ${digest}, not ${expected}: refused`, { code: 'image' });
      }
      await rename(tmp, this.path(digest));
      return { digest, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Adds the file at path (checked against expected, when given); hard-linked when it can be (staged files), else copied. */
  async putFile(path: string, expected: string | undefined, what: string, o: { move?: boolean; onBytes?: (n: number) => void } = {}): Promise<{ digest: string; size: number }> {
    if (expected !== undefined && o.move) {
      // a staged file of our own: hash it in place, then link it to its name (no copy)
      const hash = createHash('sha256');
      let size = 0;
      for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
        hash.update(c as Buffer);
        size += (c as Buffer).length;
        o.onBytes?.((c as Buffer).length);
      }
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== expected) throw new HakoError(`hako: image: ${what}: its sha256 is ${digest}, not ${expected}: refused`, { code: 'image' });
      await mkdir(this.dir, { recursive: true, mode: 0o755 });
      if (!(await this.has(digest))) {
        const tmp = join(this.dir, tmpName('blob'));
        try {
          await link(path, tmp).catch(async () => {
            await pipeline(createReadStream(path), createWriteStream(tmp, { mode: 0o644 }));
          });
          await rename(tmp, this.path(digest));
        } finally {
          await rm(tmp, { force: true });
        }
      }
      return { digest, size };
    }
    return this.putStream(createReadStream(path, { highWaterMark: 1 << 20 }), expected, what, o.onBytes);
  }

  async putBytes(data: Buffer, expected: string | undefined, what: string): Promise<{ digest: string; size: number }> {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (expected !== undefined && digest !== expected) throw new HakoError(`hako: image: ${what}: its sha256 is ${digest}, not ${expected}: refused`, { code: 'image' });
    if (await this.has(digest)) return { digest, size: data.length };
    return this.putStream(Readable.from([data]), digest, what);
  }
}
