// loadBundle: config.json and rootfs of a bundle directory, with temp dirs removed afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadBundle } from '../../dist/src/config/bundle.js';

const top = realpathSync(mkdtempSync(join(tmpdir(), 'hako-spec-bundle-')));
after(() => rmSync(top, { recursive: true, force: true }));

let n = 0;
/** A fresh bundle dir with config.json (an object or raw text) and, unless told not to, rootfs/. */
function bundle(config = {}, { rootfs = true } = {}) {
  const dir = join(top, `b${n++}`);
  mkdirSync(dir);
  if (rootfs) mkdirSync(join(dir, 'rootfs'));
  if (config !== null) {
    const text = typeof config === 'string' ? config : JSON.stringify({ ociVersion: '1.2.0', root: { path: 'rootfs' }, ...config });
    writeFileSync(join(dir, 'config.json'), text);
  }
  return dir;
}

function message(fn) {
  try {
    fn();
  } catch (err) {
    return err.message;
  }
  assert.fail('expected an error');
}

test('a relative root.path is taken from the bundle; both come back absolute', () => {
  const dir = bundle();
  const loaded = loadBundle(relative(process.cwd(), dir));
  assert.equal(loaded.bundle, dir);
  assert.equal(loaded.rootfs, join(dir, 'rootfs'));
  assert.equal(loaded.spec.ociVersion, '1.2.0');
});

test('an absolute root.path may be anywhere', () => {
  const elsewhere = join(top, 'elsewhere-rootfs');
  mkdirSync(elsewhere);
  const dir = bundle({ root: { path: elsewhere } }, { rootfs: false });
  assert.equal(loadBundle(dir).rootfs, elsewhere);
});

test('a missing config.json', () => {
  const dir = bundle(null);
  assert.equal(message(() => loadBundle(dir)), `hako: config.json: not found in ${dir}`);
  const gone = join(top, 'no-such-bundle');
  assert.equal(message(() => loadBundle(gone)), `hako: config.json: not found in ${gone}`);
});

test('a config.json that is a directory', () => {
  const dir = bundle(null);
  mkdirSync(join(dir, 'config.json'));
  assert.equal(message(() => loadBundle(dir)), `hako: config.json: ${join(dir, 'config.json')} is not a file`);
});

test('a rootfs that does not exist', () => {
  const dir = bundle({}, { rootfs: false });
  assert.equal(message(() => loadBundle(dir)), `hako: config.json: root.path: ${join(dir, 'rootfs')} does not exist`);
  const abs = bundle({ root: { path: '/x/rootfs' } });
  assert.equal(message(() => loadBundle(abs)), 'hako: config.json: root.path: /x/rootfs does not exist');
});

test('a rootfs that is not a directory', () => {
  const dir = bundle({ root: { path: 'file' } });
  writeFileSync(join(dir, 'file'), '');
  assert.equal(message(() => loadBundle(dir)), `hako: config.json: root.path: ${join(dir, 'file')} is not a directory`);
});

test('a relative root.path may not leave the bundle through ..', () => {
  const sibling = join(top, 'sibling-rootfs');
  mkdirSync(sibling);
  const dir = bundle({ root: { path: '../sibling-rootfs' } });
  assert.equal(message(() => loadBundle(dir)),
    'hako: config.json: root.path: ../sibling-rootfs leaves the bundle (a relative path must stay inside it)');
  const dotdot = bundle({ root: { path: '..' } });
  assert.match(message(() => loadBundle(dotdot)), /root\.path: \.\. leaves the bundle/);
});

test('a relative root.path with .. that stays inside is fine', () => {
  const dir = bundle({ root: { path: 'rootfs/../rootfs/' } });
  assert.equal(loadBundle(dir).rootfs, join(dir, 'rootfs'));
});

test('a symlinked rootfs is resolved to the real directory', () => {
  const dir = bundle({ root: { path: 'link' } });
  symlinkSync('rootfs', join(dir, 'link'));
  assert.equal(loadBundle(dir).rootfs, join(dir, 'rootfs'));
});

test('config.json problems come through with their path', () => {
  const bad = bundle({ linux: { uidMappings: [{ containerID: 0, hostID: 1000, size: 0 }] } });
  assert.equal(message(() => loadBundle(bad)), 'hako: config.json: linux.uidMappings[0].size: must be a positive integer');
  const broken = bundle('{"ociVersion": "1.2.0",}');
  assert.equal(message(() => loadBundle(broken)), 'hako: config.json: not valid JSON: Expected double-quoted property name at line 1 column 24');
  const noRoot = bundle({ root: undefined });
  assert.equal(message(() => loadBundle(noRoot)), 'hako: config.json: root: is required');
});

test('warnings are passed on', () => {
  const dir = bundle({ mounts: [{ destination: 'tmp', type: 'tmpfs', source: 'tmpfs' }] });
  const warnings = [];
  loadBundle(dir, (m) => warnings.push(m));
  assert.deepEqual(warnings, ['hako: config.json: mounts[0].destination: is relative (deprecated); it is taken relative to /']);
});
