// Starts the CLI bundle (dist/cli/hako.cjs) with V8's code cache beside it: compiled code from an
// earlier run instead of compiling the bundle again at every start. V8 checks that the cache
// matches the source and itself, and ignores it otherwise. It is (re)written at exit when there
// was none that fit, or when it covers little of the bundle yet (a `--version` compiles far less
// than a `run`), where the directory is writable: it is the code's own directory, so whoever may
// write the cache may write the code. Writing costs 0.5 to 2 ms, so it stops once the cache covers
// most of what runs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { wrap } = require('node:module');
const { isAscii } = require('node:buffer');

const file = path.join(__dirname, '..', 'dist', 'cli', 'hako.cjs');
const cacheFile = `${file}.cache`;
// the bundle is ASCII (scripts/build.mjs: charset ascii): read as latin1, it is a one-byte string
// without a UTF-8 decode of its 0.5 MB (0.5 ms)
const bytes = fs.readFileSync(file);
const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // no cache yet
}
const script = new vm.Script(wrap(source), { filename: file, cachedData });
const thin = cachedData !== undefined && cachedData.length < 0.6 * source.length;
if (cachedData === undefined || script.cachedDataRejected || thin) {
  process.once('exit', () => {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {
      try { fs.rmSync(tmp, { force: true }); } catch { /* nothing to remove */ }
    }
  });
}
const mod = { exports: {}, id: file, filename: file, loaded: false };
script.runInThisContext()(mod.exports, require, mod, file, path.dirname(file));
