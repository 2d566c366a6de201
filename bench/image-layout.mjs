// Writes the benchmark's image: an OCI layout of about MB megabytes in two layers (random files
// of 1 MB, 64 kB and 1 kB, so both throughput and per-file costs count), tag ref name "1".
// Usage: node bench/image-layout.mjs DIR [MB] [gzip]
import { randomBytes } from 'node:crypto';
import { tarOf, writeLayout } from '../test/integration/image-util.mjs';

const [dir, mbArg, gz] = process.argv.slice(2);
if (!dir) throw new Error('usage: node bench/image-layout.mjs DIR [MB]');
const mb = Number(mbArg ?? 100);
const layer = async (prefix, bytes) => {
  const entries = [{ name: `${prefix}/`, type: 'directory' }];
  let left = bytes;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, i % 3 === 0 ? 1 << 20 : i % 3 === 1 ? 64 << 10 : 1 << 10);
    if (i % 100 === 0) entries.push({ name: `${prefix}/d${i / 100}/`, type: 'directory' });
    entries.push({ name: `${prefix}/d${Math.floor(i / 100)}/f${i}`, data: randomBytes(size), mode: 0o644 });
    left -= size;
  }
  return tarOf(entries);
};
const half = Math.floor((mb << 20) / 2);
const d = writeLayout(dir, [await layer('a', half), await layer('b', half)], { refName: '1', gzip: gz === 'gzip' });
console.log(JSON.stringify(d));
