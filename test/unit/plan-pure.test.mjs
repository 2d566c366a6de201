// The planner is pure: everything it knows of the host comes in its input (HostFacts, gathered by
// src/runtime/host.ts), so it plans the same for the same input, on any host, root or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlan } from '../../dist/src/plan/plan.js';
import { Tag } from '../../dist/src/helper/protocol.js';
import { setHome } from '../../dist/src/plan/plan.js';

const PLAN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'plan');

test('src/plan reads nothing of the host: no fs, process, os or child_process', () => {
  const found = [];
  for (const f of readdirSync(PLAN).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join(PLAN, f), 'utf8');
    text.split('\n').forEach((line, i) => {
      const at = `${f}:${i + 1}: ${line.trim()}`;
      // node:path (string arithmetic) is the one module of Node's a planner may use
      for (const m of line.matchAll(/\bfrom\s+['"]((?:node:)?[a-z_/]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(/g)) {
        const name = m[1] ?? m[2] ?? 'require';
        if (!name.startsWith('.') && name !== 'node:path') found.push(at);
      }
      // the host process: its environment, ids, working directory (a local `process` is the
      // config's process, whose fields are cwd, env... without a call)
      if (/\b(?:globalThis\.)?process\.(?:env\b|argv\b|pid\b|ppid\b|platform\b|arch\b|cwd\(|geteuid\(|getuid\(|getegid\(|getgid\(|getgroups\(|umask\(|hrtime|memoryUsage\(|kill\()/.test(line)) found.push(at);
    });
  }
  assert.deepEqual(found, [], `src/plan must take host facts in its input (HostFacts), not read them:\n${found.join('\n')}`);
});

/** A small valid config: a new mount, pid and uts namespace, /proc and /dev, and one bind mount. */
function input(host, extra = {}) {
  return {
    spec: {
      ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { args: ['sh'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
        { destination: '/data', type: 'bind', source: '/no/such/source/on/this/host', options: ['rbind'] },
      ],
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'uts' }] },
      ...extra,
    },
    bundle: '/no/such/bundle', rootfs: '/no/such/bundle/rootfs', process: { args: ['sh'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } },
    preserveFds: 0, detach: false, noPivot: false, hookState: '{}', host,
  };
}

const facts = (o = {}) => ({ kcore: false, apparmor: false, selinux: false, bindSources: new Map(), ...o });
const mkpathType = (b, dest) => b.initOps[b.initText.indexOf(`create ${dest} in the rootfs`)]?.find((f) => f.tag === Tag.TYPE)?.value;

test('the planner follows the HostFacts it is given, not the host it runs on', () => {
  const src = '/no/such/source/on/this/host';
  // a source that does not exist here is a directory or a file as the facts say
  assert.equal(mkpathType(createPlan(input(facts({ bindSources: new Map([[src, { kind: 'dir', procfs: false }]]) }))), '/data'), 1);
  assert.equal(mkpathType(createPlan(input(facts({ bindSources: new Map([[src, { kind: 'file', procfs: false }]]) }))), '/data'), 2);
  assert.throws(() => createPlan(input(facts())), { message: `hako: config.json: mounts[2].source: ${src} does not exist` });
  // /dev/core as the facts say about /proc/kcore
  const dir = facts({ bindSources: new Map([[src, { kind: 'dir', procfs: false }]]) });
  const core = (kcore) => createPlan(input({ ...dir, kcore })).initText.some((t) => t.includes('/dev/core'));
  assert.equal(core(true), true);
  assert.equal(core(false), false);
  // AppArmor and SELinux: refused where the facts say they are enabled (not implemented), and
  // where they are not (cannot be applied, as runc says)
  const profile = { process: { args: ['sh'], cwd: '/', apparmorProfile: 'p' } };
  assert.throws(() => createPlan(input(dir, profile)), /process\.apparmorProfile: AppArmor is not enabled on this host/);
  assert.throws(() => createPlan(input({ ...dir, apparmor: true }, profile)), /apparmorProfile \(AppArmor is enabled on this host\)/);
  const label = { linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'uts' }], mountLabel: 'l' } };
  assert.throws(() => createPlan(input(dir, label)), /linux\.mountLabel: SELinux is not enabled on this host/);
  assert.throws(() => createPlan(input({ ...dir, selinux: true }, label)), /SELinux labels/);
  // a bind onto /proc must come from a procfs, as the facts say
  const procBind = (procfs) => createPlan(input(facts({ bindSources: new Map([[src, { kind: 'dir', procfs }], ['/host/proc', { kind: 'dir', procfs }]]) }), {
    mounts: [{ destination: '/proc', type: 'bind', source: '/host/proc', options: ['rbind'] }],
  }));
  assert.doesNotThrow(() => procBind(true));
  assert.throws(() => procBind(false), /\/proc cannot be mounted because it is not of type proc/);
});

test('copyJoinedMount: a mount namespace joined by path is copied (a new one after the setns), and devices are bound in a joined user namespace', () => {
  const spec = { linux: { namespaces: [{ type: 'user', path: '/proc/7/ns/user' }, { type: 'mount', path: '/proc/7/ns/mnt' }, { type: 'pid' }] } };
  const host = facts({ bindSources: new Map([['/no/such/source/on/this/host', { kind: 'dir', procfs: false }]]) });
  const plain = createPlan(input(host, spec));
  const copied = createPlan({ ...input(host, spec), copyJoinedMount: true });
  const setns = (b) => b.nsText.filter((t) => t.includes('setns(')).map((t) => t.replace(/^.*setns/, 'setns'));
  assert.deepEqual(setns(copied), ['setns(/proc/7/ns/user, CLONE_NEWUSER)', 'setns(/proc/7/ns/mnt, CLONE_NEWNS)']);
  assert.deepEqual(plain.nsText.filter((t) => t.startsWith('unshare(')), ['unshare(CLONE_NEWPID)']);
  assert.deepEqual(copied.nsText.filter((t) => t.startsWith('unshare(')), ['unshare(CLONE_NEWPID|CLONE_NEWNS)']);
  // /dev: no mknod in a user namespace (joined too): the host's nodes are bound
  assert.ok(copied.initText.some((t) => /bind .*\/dev\/null/.test(t)), copied.initText.filter((t) => t.includes('/dev/null')).join('\n'));
});

test('setHome: a plan made without HOME, given it, is the plan made with it (only the exec changes); a late exec is left as it is', () => {
  const host = facts({ bindSources: new Map([['/no/such/source/on/this/host', { kind: 'dir', procfs: false }]]) });
  const ops = (b) => JSON.stringify({ host: b.hostOps, ns: b.nsOps, init: b.initOps, text: [b.hostText, b.nsText, b.initText] }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  const without = createPlan(input(host));
  const withHome = createPlan({ ...input(host), home: '/root' });
  assert.notEqual(ops(without), ops(withHome), 'HOME is in the exec op');
  setHome(without, input(host).process, '/root');
  assert.equal(ops(without), ops(withHome));
  // a process whose env has HOME keeps it
  const own = { ...input(host).process, env: ['PATH=/bin', 'HOME=/home/me'] };
  const planned = createPlan({ ...input(host), process: own });
  const before = ops(planned);
  setHome(planned, own, '/root');
  assert.equal(ops(planned), before);
  // a late exec has no exec op of its own
  const late = createPlan({ ...input(host), lateExec: true });
  const lateBefore = ops(late);
  setHome(late, input(host).process, '/root');
  assert.equal(ops(late), lateBefore);
});
