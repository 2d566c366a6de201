// defaultSpec against `runc spec` (generated here when runc is on PATH) and against the validator.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSpec } from '../../dist/src/config/default.js';
import { validateConfig } from '../../dist/src/config/validate.js';

const runc = spawnSync('runc', ['--version'], { encoding: 'utf8' });
const noRunc = runc.error || runc.status !== 0 ? 'runc is not on PATH' : false;
const setpriv = spawnSync('setpriv', ['--version']);
const noSetpriv = noRunc || (process.geteuid() !== 0 ? 'needs root to switch users' : setpriv.error ? 'setpriv is not installed' : false);

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'hako-spec-default-'));
  dirs.push(d);
  return d;
}

/** `runc spec [--rootless]` run in a temp dir (as another user with setpriv args), with ociVersion 1.2.0. */
function runcSpec(rootless, asUser = []) {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  const args = ['spec', ...(rootless ? ['--rootless'] : [])];
  const r = asUser.length
    ? spawnSync('setpriv', [...asUser, 'runc', ...args], { cwd: dir, encoding: 'utf8' })
    : spawnSync('runc', args, { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.ociVersion = '1.2.0';
  return spec;
}

test('defaultSpec equals `runc spec`, key order included', { skip: noRunc }, () => {
  const runcs = runcSpec(false);
  assert.deepStrictEqual(defaultSpec({ rootless: false }), runcs);
  assert.equal(JSON.stringify(defaultSpec({ rootless: false })), JSON.stringify(runcs));
});

test('defaultSpec rootless equals `runc spec --rootless`, key order included', { skip: noRunc }, () => {
  const runcs = runcSpec(true);
  assert.deepStrictEqual(defaultSpec({ rootless: true }), runcs);
  assert.equal(JSON.stringify(defaultSpec({ rootless: true })), JSON.stringify(runcs));
});

test('rootless mappings use the caller\'s euid and egid, as runc does', { skip: noSetpriv }, () => {
  const asUser = ['--reuid=1234', '--regid=2345', '--clear-groups'];
  const runcs = runcSpec(true, asUser);
  assert.deepEqual(runcs.linux.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }]);
  const moduleUrl = new URL('../../dist/src/config/default.js', import.meta.url).href;
  const r = spawnSync('setpriv', [...asUser, process.execPath, '--input-type=module', '-e',
    `import { defaultSpec } from ${JSON.stringify(moduleUrl)}; process.stdout.write(JSON.stringify(defaultSpec({ rootless: true })));`],
  { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  assert.deepStrictEqual(JSON.parse(r.stdout), runcs);
});

test('both default configs pass the validator without warnings', () => {
  for (const rootless of [false, true]) {
    const warnings = [];
    validateConfig(defaultSpec({ rootless }), (m) => warnings.push(m));
    assert.deepEqual(warnings, []);
  }
});

test('runc\'s own default configs pass the validator as runc wrote them', { skip: noRunc }, () => {
  for (const rootless of [false, true]) {
    const spec = runcSpec(rootless);
    spec.ociVersion = '1.0.2-dev'; // what runc 1.1 writes
    const warnings = [];
    validateConfig(spec, (m) => warnings.push(m));
    assert.deepEqual(warnings, []);
  }
});

test('each call returns a fresh object', () => {
  const a = defaultSpec({ rootless: false });
  a.process.capabilities.bounding.push('CAP_SYS_ADMIN');
  a.mounts.pop();
  const b = defaultSpec({ rootless: false });
  assert.equal(b.process.capabilities.bounding.length, 3);
  assert.equal(b.process.capabilities.effective.length, 3);
  assert.equal(b.mounts.length, 7);
});
