// Random bytes as hex, read from /dev/urandom: node:crypto costs 2 ms to load at every CLI start,
// and the runtime's tokens and temporary names need no more than this. The bytes are read a block
// at a time and handed out once each (a container takes several tokens: one open, read and close
// of /dev/urandom per block, not per token).
import { closeSync, openSync, readSync } from 'node:fs';

const BLOCK = 512;
let pool = Buffer.alloc(0);
let used = 0;
/** The process the pool was read in: a child made by fork() (not Node's way, but cheap to check)
 * never hands out its parent's bytes. */
let poolPid = 0;

function fill(buf: Buffer): void {
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let n = 0; n < buf.length;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got <= 0) throw new Error('/dev/urandom gave nothing');
      n += got;
    }
  } finally {
    closeSync(fd);
  }
}

/** `bytes` random bytes from the kernel, as lowercase hex (never the same bytes twice). */
export function randomHex(bytes: number): string {
  if (bytes > BLOCK) {
    const buf = Buffer.alloc(bytes);
    fill(buf);
    return buf.toString('hex');
  }
  if (used + bytes > pool.length || poolPid !== process.pid) {
    const next = Buffer.alloc(BLOCK);
    fill(next);
    pool = next;
    used = 0;
    poolPid = process.pid;
  }
  const out = pool.toString('hex', used, used + bytes);
  pool.fill(0, used, used + bytes); // handed out: not kept in memory
  used += bytes;
  return out;
}
