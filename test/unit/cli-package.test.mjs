// What a user who depends on hako meets: the install script's errors on a machine without the
// build tools, what the published tarball holds, the license, and a checkout without absolute
// symlinks (which point nowhere in anyone else's clone).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PACKAGES = /build-essential libseccomp-dev .*Debian.*gcc libseccomp-devel .*Fedora.*build-base libseccomp-dev .*Alpine/;

/** native/ copied to a temp dir, so that a build there never touches the checkout's helper. */
function nativeCopy(t) {
  const dir = mkdtempSync(join(tmpdir(), 'hako-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of readdirSync(join(ROOT, 'native'))) {
    if (/\.(c|h|sh)$/.test(f)) copyFileSync(join(ROOT, 'native', f), join(dir, f));
  }
  return dir;
}

function build(dir, env) {
  return spawnSync('sh', [join(dir, 'build.sh')], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

function assertOneLine(r, what) {
  assert.notEqual(r.status, 0, `${what}: the build must fail`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^hako: /, what);
  assert.match(lines[0], PACKAGES, what);
  assert.equal(r.stdout, '', what);
}

test('build.sh without a C compiler: one line naming the packages to install', (t) => {
  const dir = nativeCopy(t);
  const r = build(dir, { CC: join(dir, 'no-such-cc') });
  assertOneLine(r, 'missing compiler');
  assert.match(r.stderr, /no C compiler/);
  assert.equal(existsSync(join(dir, 'hako-helper')), false);
});

test('build.sh without seccomp.h: one line naming the packages to install', (t) => {
  const dir = nativeCopy(t);
  // a compiler that fails as one without libseccomp's headers does, on any source including them
  const cc = join(dir, 'fake-cc');
  writeFileSync(cc, `#!/bin/sh
for a; do case $a in -) grep -q seccomp.h && { echo "<stdin>:1:10: fatal error: seccomp.h: No such file or directory" >&2; exit 1; } ;; esac; done
for a; do case $a in *.c) grep -q seccomp.h "$a" && { echo "$a:1:10: fatal error: seccomp.h: No such file or directory" >&2; exit 1; } ;; esac; done
exec cc "$@"
`);
  chmodSync(cc, 0o755);
  const r = build(dir, { CC: cc });
  assertOneLine(r, 'missing seccomp.h');
  assert.match(r.stderr, /no seccomp\.h/);
});

test("build.sh: warnings fail the build only in the project's own builds (HAKO_WERROR=1)", (t) => {
  if (spawnSync('sh', ['-c', 'command -v cc && printf "#include <seccomp.h>\\n" | cc -E -x c - >/dev/null']).status !== 0) {
    t.skip('no C compiler with libseccomp headers here'); return;
  }
  const dir = nativeCopy(t);
  // a compiler that warns on everything (as a newer one may do on a user's machine)
  const cc = join(dir, 'warn-cc');
  writeFileSync(join(dir, 'warn.h'), '#warning a warning this compiler gives\n');
  writeFileSync(cc, `#!/bin/sh\nexec cc -include ${join(dir, 'warn.h')} "$@"\n`);
  chmodSync(cc, 0o755);
  const user = build(dir, { CC: cc, HAKO_WERROR: '' });
  assert.equal(user.status, 0, `a user's build succeeds despite warnings:\n${user.stderr}`);
  assert.ok(existsSync(join(dir, 'hako-helper')));
  const ours = build(dir, { CC: cc, HAKO_WERROR: '1' });
  assert.notEqual(ours.status, 0, 'with HAKO_WERROR=1 a warning fails the build');
  assert.match(ours.stderr, /error/);
});

test('npm pack: the tarball holds what a user needs and nothing of the tests', (t) => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.error?.code === 'ENOENT') { t.skip('npm is not on PATH'); return; }
  assert.equal(r.status, 0, r.stderr);
  const files = JSON.parse(r.stdout)[0].files.map((f) => f.path);
  const has = (p) => files.some((f) => f === p || f.startsWith(`${p}/`));
  for (const need of ['bin/hako.sh', 'bin/start.cjs', 'dist/cli/hako.cjs', 'dist/index.js', 'dist/types/index.d.ts',
    'native/build.sh', 'native/main.c', 'native/proto.h', 'LICENSE', 'README.md', 'package.json']) {
    assert.ok(has(need), `the tarball lacks ${need}`);
  }
  for (const never of ['dist/src', 'test', 'bench', 'scripts', '.ci', 'native/hako-helper', 'node_modules']) {
    assert.ok(!has(never), `the tarball must not hold ${never}: ${files.filter((f) => f.startsWith(never)).slice(0, 3).join(', ')}`);
  }
  const man = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).man;
  if (man) assert.ok(has(man), `package.json's man page ${man} is not packed`);
});

test("LICENSE is the Apache License 2.0 that package.json names", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'Apache-2.0');
  const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
  const debian = '/usr/share/common-licenses/Apache-2.0';
  if (existsSync(debian)) assert.equal(text, readFileSync(debian, 'utf8'));
});

test('no symlink in the repository is absolute', (t) => {
  const r = spawnSync('git', ['ls-files', '-s', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (r.error || r.status !== 0) { t.skip(`not a git checkout (${r.error?.message ?? r.stderr.trim()})`); return; }
  const links = r.stdout.split('\0').filter((l) => l.startsWith('120000 ')).map((l) => l.split('\t')[1]);
  const absolute = [];
  for (const path of links) {
    const [, hash] = /^120000 ([0-9a-f]+) /.exec(r.stdout.split('\0').find((l) => l.endsWith(`\t${path}`)));
    const target = spawnSync('git', ['cat-file', 'blob', hash], { cwd: ROOT, encoding: 'utf8' }).stdout;
    if (target.startsWith('/')) absolute.push(`${path} -> ${target}`);
  }
  assert.deepEqual(absolute, [], 'absolute symlinks point nowhere in another clone: make them relative or remove them');
});

test('the CLI bundle is ASCII, so that bin/start.cjs reads it as latin1 (no UTF-8 decode at every start)', () => {
  const bytes = readFileSync(join(ROOT, 'dist', 'cli', 'hako.cjs'));
  const at = bytes.findIndex((b) => b > 0x7f);
  assert.equal(at, -1, `dist/cli/hako.cjs has a non-ASCII byte at ${at}: ${bytes.subarray(Math.max(0, at - 40), at + 10).toString('utf8')} (escape it in the source: esbuild leaves regular expressions as they are)`);
});
