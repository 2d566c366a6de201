// The CLI as someone learning it meets it: --help on every command (listing every flag its
// parser takes), --version, one-line errors that suggest the flag or command meant, byte sizes
// with units, shell completion and the man page, all made from the same option specs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS, GLOBAL_SPECS, command } from '../../dist/src/cli/commands.js';
import { byteSize, closest, parseArgs } from '../../dist/src/cli/args.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HAKO = join(ROOT, 'bin', 'hako');
const hako = (args, options = {}) => spawnSync(HAKO, args, { encoding: 'utf8', timeout: 30_000, ...options });

// every command a user can type, named here (not taken from the table the help is made from)
const VERBS = ['sandbox', 'serve', 'unshare', 'nsenter', 'ns', 'net', 'image', 'spec', 'create', 'start', 'run', 'exec', 'state', 'list', 'kill',
  'delete', 'ps', 'pause', 'resume', 'update', 'events', 'checkpoint', 'restore', 'features', 'help', 'completion'];

const flagsOf = (specs) => specs.flatMap((s) => [`--${s.long}`, ...(s.short ? [`-${s.short}`] : [])]);

test('every command has --help and -h: usage, every flag its parser takes with one line, an example; exit 0', () => {
  assert.deepEqual(COMMANDS.map((c) => c.name).sort(), [...VERBS].sort());
  for (const verb of VERBS) {
    const c = command(verb);
    for (const flag of ['--help', '-h']) {
      const r = hako([verb, flag]);
      assert.equal(r.status, 0, `hako ${verb} ${flag}: ${r.stderr}`);
      assert.equal(r.stderr, '', `hako ${verb} ${flag}`);
      assert.match(r.stdout, new RegExp(`^Usage: hako ${verb}\\b`), `hako ${verb} ${flag}`);
      assert.match(r.stdout, /\nExamples?:\n {2}(hako |\S.*\bhako )/, `hako ${verb} ${flag}: an example`);
      for (const spec of c.specs) {
        const line = r.stdout.split('\n').find((l) => l.includes(`--${spec.long}`) && /^ {2}(-\w, | {4})--/.test(l));
        assert.ok(line, `hako ${verb} --help does not list --${spec.long}`);
        if (spec.short) assert.ok(line.includes(`-${spec.short}, --${spec.long}`), `hako ${verb} --help: -${spec.short} beside --${spec.long}`);
        assert.ok(spec.help, `--${spec.long} of ${verb} has no help line`);
      }
      // and every flag the help shows is one the parser takes
      for (const [, flag] of r.stdout.matchAll(/^ {2}(?:-\w, | {4})(--[a-z][a-z-]*)/gm)) {
        const value = c.specs.find((s) => `--${s.long}` === flag)?.arg === 'required' ? ['x'] : [];
        assert.doesNotThrow(() => parseArgs(verb, [flag, ...value], c.specs, false), `${verb} ${flag}`);
      }
    }
  }
});

test('hako --help lists every command and every global option', () => {
  const r = hako(['--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const verb of VERBS) assert.match(r.stdout, new RegExp(`^ {2}${verb} `, 'm'), verb);
  for (const flag of flagsOf(GLOBAL_SPECS)) assert.ok(r.stdout.includes(flag), flag);
  const help = hako(['help', 'run']);
  assert.equal(help.status, 0);
  assert.equal(help.stdout, hako(['run', '--help']).stdout);
});

test("--version, -v and unshare --version print hako's version and the OCI spec version", () => {
  const { version } = JSON.parse(spawnSync('cat', [join(ROOT, 'package.json')], { encoding: 'utf8' }).stdout);
  for (const args of [['--version'], ['-v'], ['version'], ['unshare', '--version'], ['unshare', '-V']]) {
    const r = hako(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^hako version ${version.replace(/\./g, '\\.')}\n(commit: [0-9a-f]+\n)?spec: 1\\.\\d+\\.\\d+\n$`), args.join(' '));
  }
});

test('a mistyped option or command: one line that suggests the one meant, when one is close', () => {
  const cases = [
    [['--rot', '/tmp/x', 'list'], "hako: unknown option '--rot'; did you mean '--root'? (see 'hako --help')"],
    [['--zzzzzz', 'list'], "hako: unknown option '--zzzzzz' (see 'hako --help')"],
    [['run', '--bundel', 'b', 'c1'], "hako run: unknown option '--bundel'; did you mean '--bundle'? (see 'hako run --help')"],
    [['unshare', '--mount-prc', 'true'], "hako unshare: unknown option '--mount-prc'; did you mean '--mount-proc'? (see 'hako unshare --help')"],
    [['rnu'], "hako: unknown command 'rnu'; did you mean 'run'? (see 'hako --help')"],
    [['lsit'], "hako: unknown command 'lsit'; did you mean 'list'? (see 'hako --help')"],
    [['frobnicate'], "hako: unknown command 'frobnicate' (see 'hako --help')"],
  ];
  for (const [args, message] of cases) {
    const r = hako(args);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr, `${message}\n`, args.join(' '));
    assert.equal(r.stdout, '');
  }
  assert.equal(closest('--x', ['--xy', '--root']), '--xy');
  assert.equal(closest('--q', ['--root']), undefined);
});

test('byte sizes as runc takes them (go-units RAMInBytes): units k m g t p, with or without i and b, any case', () => {
  const K = 1024;
  const cases = [['0', 0], ['4096', 4096], ['50M', 50 * K * K], ['50m', 50 * K * K], ['50MB', 50 * K * K], ['50mib', 50 * K * K],
    ['512k', 512 * K], ['512 KiB', 512 * K], ['1g', K ** 3], ['1.5G', 1.5 * K ** 3], ['2T', 2 * K ** 4], ['10b', 10], ['-1', -1]];
  for (const [text, bytes] of cases) assert.equal(byteSize('update', 'memory', text), bytes, text);
  for (const bad of ['', 'lots', '50X', '-2', '1.5.5g', 'm', '50 M B', '9999999999999p']) {
    assert.throws(() => byteSize('update', 'memory', bad), /^HakoError: hako update: --memory: '.*' is not a size/, bad);
  }
});

test('hako completion bash: completes commands and each command\'s flags', (t) => {
  if (spawnSync('bash', ['--version']).status !== 0) { t.skip('bash is not installed'); return; }
  const script = `source <("${HAKO}" completion bash) || exit 9; complete -p hako || exit 8
    try() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _hako; echo "\${COMPREPLY[*]}"; }
    try hako run --bu; try hako --root /tmp/x ru; try hako --ro; try hako exec --proc; try hako completion ""; try hako list --format ""`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['complete -o default -F _hako hako', '--bundle', 'run', '--root --rootless', '--process --process-label', 'bash zsh', 'table json']);
  assert.equal(r.stderr, '');
});

test('hako completion zsh: a script zsh loads', (t) => {
  const script = hako(['completion', 'zsh']);
  assert.equal(script.status, 0, script.stderr);
  assert.match(script.stdout, /^#compdef hako\n/);
  for (const verb of VERBS) assert.ok(script.stdout.includes(`    ${verb}) _arguments`), verb);
  if (spawnSync('zsh', ['--version']).status !== 0) { t.skip('zsh is not installed: its syntax is not checked'); return; }
  const r = spawnSync('zsh', ['-c', `autoload -U compinit && compinit -u -D && source <("${HAKO}" completion zsh) && print -r -- $_comps[hako]`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '_hako');
});

test('the man page (hako help --man) is roff groff formats without a warning, with every command and flag', (t) => {
  const r = hako(['help', '--man']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\.TH HAKO 1 /);
  for (const c of COMMANDS) {
    assert.ok(r.stdout.includes(`.SS hako ${c.name}`), c.name);
    for (const s of c.specs) assert.ok(r.stdout.includes(`\\-\\-${s.long.replace(/-/g, '\\-')}`), `${c.name} --${s.long}`);
  }
  if (spawnSync('groff', ['--version']).status !== 0) { t.skip('groff is not installed: the roff is not checked'); return; }
  const g = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: r.stdout, encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  assert.equal(g.stderr, '', 'groff warns');
});
