// The features document: its shape (features.md, features-linux.md), and that it claims only what SUPPORT says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { features, SUPPORT } from '../../dist/src/config/features.js';

/** Every key path runtime-spec 1.2.0 defines for the document (objects as "a.b", leaves as "a.b"). */
const DEFINED = new Set([
  'ociVersionMin', 'ociVersionMax', 'hooks', 'mountOptions', 'annotations', 'potentiallyUnsafeConfigAnnotations',
  'linux', 'linux.namespaces', 'linux.capabilities', 'linux.cgroup', 'linux.cgroup.v1', 'linux.cgroup.v2',
  'linux.cgroup.systemd', 'linux.cgroup.systemdUser', 'linux.cgroup.rdma', 'linux.seccomp', 'linux.seccomp.enabled',
  'linux.seccomp.actions', 'linux.seccomp.operators', 'linux.seccomp.archs', 'linux.seccomp.knownFlags',
  'linux.seccomp.supportedFlags', 'linux.apparmor', 'linux.apparmor.enabled', 'linux.selinux', 'linux.selinux.enabled',
  'linux.intelRdt', 'linux.intelRdt.enabled', 'linux.mountExtensions', 'linux.mountExtensions.idmap',
  'linux.mountExtensions.idmap.enabled',
]);

function keyPaths(obj, prefix = '') {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p);
    if (v && typeof v === 'object' && !Array.isArray(v) && p !== 'annotations') out.push(...keyPaths(v, p));
  }
  return out;
}

test('the default document claims nothing the runtime has not declared', () => {
  assert.deepEqual(features(), {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.2.0',
    hooks: [],
    mountOptions: [],
    linux: {
      namespaces: [],
      capabilities: [],
      cgroup: { v1: false, v2: false, systemd: false, systemdUser: false, rdma: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: {},
    potentiallyUnsafeConfigAnnotations: [],
  });
});

test('a filled-in support list shapes like runc\'s document, sorted where runc sorts', () => {
  const doc = features({
    ...SUPPORT,
    hooks: ['prestart', 'poststop'],
    mountOptions: ['rw', 'bind', 'ro'],
    namespaces: ['user', 'mount', 'pid'],
    capabilities: ['CAP_CHOWN', 'CAP_KILL'],
    cgroup: { v1: false, v2: true, systemd: false, systemdUser: false, rdma: false },
    seccomp: {
      actions: ['SCMP_ACT_KILL', 'SCMP_ACT_ALLOW'],
      operators: ['SCMP_CMP_NE', 'SCMP_CMP_EQ'],
      archs: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
      knownFlags: ['SECCOMP_FILTER_FLAG_LOG'],
      supportedFlags: [],
    },
    idmapMounts: true,
    annotations: { 'org.example.hako.version': '0.1.0' },
    potentiallyUnsafeConfigAnnotations: ['org.example.hako.'],
  });
  assert.deepEqual(doc.mountOptions, ['bind', 'ro', 'rw']);
  assert.deepEqual(doc.linux.namespaces, ['mount', 'pid', 'user']);
  assert.deepEqual(doc.hooks, ['prestart', 'poststop']);
  assert.deepEqual(doc.linux.seccomp, {
    enabled: true,
    actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL'],
    operators: ['SCMP_CMP_EQ', 'SCMP_CMP_NE'],
    archs: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_X86_64'],
    knownFlags: ['SECCOMP_FILTER_FLAG_LOG'],
    supportedFlags: [],
  });
  assert.deepEqual(doc.linux.mountExtensions, { idmap: { enabled: true } });
  assert.deepEqual(doc.annotations, { 'org.example.hako.version': '0.1.0' });
});

test('only properties runtime-spec 1.2.0 defines', () => {
  const filled = features({ ...SUPPORT, seccomp: { actions: [], operators: [], archs: [], knownFlags: [], supportedFlags: [] } });
  for (const doc of [features(), filled]) {
    for (const p of keyPaths(doc)) assert.ok(DEFINED.has(p), `${p} is not defined by runtime-spec 1.2.0`);
  }
});

test('the document does not share arrays with SUPPORT', () => {
  const doc = features();
  doc.hooks.push('prestart');
  doc.linux.cgroup.v2 = true;
  assert.deepEqual(SUPPORT.hooks, []);
  assert.equal(SUPPORT.cgroup.v2, false);
});

const runc = spawnSync('runc', ['features'], { encoding: 'utf8' });
test('every property `runc features` prints is one hako prints too', { skip: runc.status !== 0 && 'runc features is not available' }, () => {
  const ours = new Set(keyPaths(features({ ...SUPPORT, seccomp: { actions: [], operators: [], archs: [], knownFlags: [], supportedFlags: [] } })));
  for (const p of keyPaths(JSON.parse(runc.stdout))) {
    assert.ok(ours.has(p), `runc prints ${p}`);
  }
});
