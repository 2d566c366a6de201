// Bundles the CLI and the library into single files (esbuild), and writes the type declarations.
import { build } from 'esbuild';
import { readFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const common = {
  bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: false,
  define: { HAKO_VERSION: JSON.stringify(version) }, logLevel: 'warning', absWorkingDir: root,
};
rmSync(join(root, 'dist'), { recursive: true, force: true });
// every module on its own too (dist/src/**), so unit tests can import internals without a loader
const modules = readdirSync(join(root, 'src'), { recursive: true })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => join('src', f));
await Promise.all([
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/hako.js' }),
  build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.js' }),
  build({ ...common, bundle: false, entryPoints: modules, outdir: 'dist/src', outbase: 'src' }),
]);
// declarations for library users (skipped quietly when typescript is not installed)
const tsc = join(root, 'node_modules/typescript/bin/tsc');
if (existsSync(tsc)) execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
