// Bundles the CLI and the library into single files (esbuild), and writes the type declarations.
import { build } from 'esbuild';
import { readFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// the commit `hako --version` names, as runc's does (none outside a git checkout)
let commit = '';
try { commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
const common = {
  metafile: true, bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: false,
  define: { HAKO_VERSION: JSON.stringify(version), HAKO_COMMIT: JSON.stringify(commit) }, logLevel: 'warning', absWorkingDir: root,
};
// The helper is the package's own native/hako-helper, at a path fixed relative to the file
// session.ts is built into (never searched for: see src/helper/session.ts)
const helperFrom = (outDir) => ({ HAKO_HELPER_FROM_MODULE: JSON.stringify(relative(join(root, outDir), join(root, 'native', 'hako-helper'))) });
// every module on its own too (dist/src/**), so unit tests can import internals without a loader
const modules = readdirSync(join(root, 'src'), { recursive: true })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join('src', f));
const results = await Promise.all([
  // the CLI as one CommonJS file, which bin/start.cjs compiles with V8's code cache: measured
  // here, 8 ms faster than ESM chunks (no module loader) and 5 ms more with the cache; without
  // whitespace (and with shorter syntax, names kept) it is 27% smaller, about 1 ms less to start;
  // ASCII only (other characters escaped), so that bin/start.cjs reads it without a UTF-8 decode
  build({
    ...common, format: 'cjs', entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli/hako.cjs', minifyWhitespace: true, minifySyntax: true, charset: 'ascii',
    define: { ...common.define, 'import.meta.url': '__hako_module_url', ...helperFrom('dist/cli') },
    banner: { js: 'var __hako_module_url = require("node:url").pathToFileURL(__filename).href;' },
  }),
  // tar-stream's dependencies require() Node's modules: an ESM bundle gets a require for them
  build({
    ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js', define: { ...common.define, ...helperFrom('dist') },
    banner: { js: 'import { createRequire as __hakoCreateRequire } from "node:module"; const require = __hakoCreateRequire(import.meta.url);' },
  }),
  build({ ...common, bundle: false, entryPoints: modules, outdir: 'dist/src', outbase: 'src', define: { ...common.define, ...helperFrom('dist/src/helper') } }),
]);
// files an earlier build left (old chunks) go, so that what is packed is what was built; the
// tree is never removed whole, so a build running beside tests does not pull files from under them
const outputs = new Set(results.flatMap((r) => Object.keys(r.metafile.outputs)).map((f) => join(root, f)));
for (const dir of ['dist/cli', 'dist/src']) {
  if (!existsSync(join(root, dir))) continue;
  for (const f of readdirSync(join(root, dir), { recursive: true })) {
    const path = join(root, dir, f);
    if ((path.endsWith('.js') || path.endsWith('.cjs')) && !outputs.has(path)) rmSync(path, { force: true });
    if (path.endsWith('.cache')) rmSync(path, { force: true }); // made for the old bundle
  }
}
// the man page (package.json "man"), from the same help text as `hako help --man`
writeFileSync(join(root, 'dist', 'hako.1'), execFileSync(process.execPath, [join(root, 'dist', 'cli', 'hako.cjs'), 'help', '--man'], { encoding: 'utf8' }));
// declarations for library users (skipped quietly when typescript is not installed)
const tsc = join(root, 'node_modules/typescript/bin/tsc');
if (existsSync(tsc)) execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
