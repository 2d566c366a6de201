// Random bytes as hex, read from /dev/urandom: node:crypto costs 2 ms to load at every CLI start,
// and the runtime's tokens and temporary names need no more than this.
import { closeSync, openSync, readSync } from 'node:fs';

/** `bytes` random bytes from the kernel, as lowercase hex. */
export function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let n = 0; n < bytes;) {
      const got = readSync(fd, buf, n, bytes - n, null);
      if (got <= 0) throw new Error('/dev/urandom gave nothing');
      n += got;
    }
  } finally {
    closeSync(fd);
  }
  return buf.toString('hex');
}
