// What a Runtime keeps between containers (issue 10): each bundle's checked config.json, read
// again only when the file changes. Each cache is seen through Runtime.cacheCounts() (a counter,
// not timing), and each test checks that a change made between two runs takes effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { PARENT_IDLE_MS, Runtime } from '../../dist/src/runtime/runtime.js';
import { LOCKS_DIR } from '../../dist/src/runtime/lock.js';
import { detectCgroups } from '../../dist/src/cgroups/detect.js';
import { cgroupDirs, NODE, ok, REPO, runSync, scoped, show, waitUntil } from './oci-util.mjs';

/** run id in the foreground with stdout piped: its output. */
async function output(rt, id, options) {
  const r = await rt.run(id, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  assert.equal(r.exitCode, 0, `run ${id}: ${r.stderr}`);
  return r.stdout.toString();
}

test('config.json is read and checked once per bundle, and again whenever it changes (same size, same mtime, a new inode)', scoped(async (s) => {
  const warnings = [];
  const rt = new Runtime({ root: s.root, warn: (m) => warnings.push(m) });
  const b = s.bundle().args('echo', 'aa');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'aa\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 0, misses: 1 });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'aa\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 1, misses: 1 }, 'the second run of an unchanged bundle is a hit');

  // the same size and the same mtime (set back): the change still counts (ctime, which no one sets back)
  const st = statSync(b.configPath, { bigint: true });
  b.args('echo', 'bb');
  ok(runSync('touch', ['-m', '-d', `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, '0')}`, b.configPath]));
  assert.equal(statSync(b.configPath, { bigint: true }).mtimeNs, st.mtimeNs, 'the mtime is set back');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'bb\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 1, misses: 2 });

  // a new file renamed over it (a new inode)
  const next = { ...b.config, process: { ...b.config.process, args: ['echo', 'cc'] } };
  writeFileSync(`${b.configPath}.new`, JSON.stringify(next));
  renameSync(`${b.configPath}.new`, b.configPath);
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'cc\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 1, misses: 3 });

  // a config that became invalid is refused, and a fixed one runs again
  writeFileSync(b.configPath, '{"ociVersion": "1.0.2", "process": ');
  await assert.rejects(rt.run(s.id(), { bundle: b.dir, stdio: 'ignore' }), /config\.json: not valid JSON/);
  b.args('echo', 'dd');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'dd\n');

  // a cached config is never changed by a container's overrides, and its warnings come every time
  assert.equal(await output(rt, s.id(), { bundle: b.dir, args: ['echo', 'override'] }), 'override\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'dd\n');
  b.edit((c) => { c.linux.resources = { ...c.linux.resources, memory: { kernel: 1 << 30 } }; });
  warnings.length = 0;
  await output(rt, s.id(), { bundle: b.dir });
  await output(rt, s.id(), { bundle: b.dir });
  assert.equal(warnings.filter((w) => /kernel/.test(w)).length, 2, `a warning per run: ${warnings.join(' | ')}`);
  assert.deepEqual(rt.list(), []);
}));

test('HOME comes from the rootfs\'s /etc/passwd, read by a helper once while the file is unchanged, and again whenever it changes, goes, or sits behind a symlink', scoped(async (s) => {
  const rt = new Runtime({ root: s.root });
  const b = s.bundle().sh('echo $HOME');
  const passwd = join(b.rootfs, 'etc', 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/home/one:/bin/sh\n');
  // a file (or directory) changed within the last second is not kept (its times may not show a
  // change made in the same tick): the rootfs settles first
  await delay(1100);
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/home/one\n');
  assert.deepEqual(rt.cacheCounts().rootFiles, { hits: 0, misses: 1 });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/home/one\n');
  assert.deepEqual(rt.cacheCounts().rootFiles, { hits: 1, misses: 1 }, 'the second run of an unchanged rootfs asks no helper');

  // rewritten in place, the same size: read again
  writeFileSync(passwd, 'root:x:0:0:root:/home/two:/bin/sh\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/home/two\n');
  assert.deepEqual(rt.cacheCounts().rootFiles, { hits: 1, misses: 2 });
  // changed back within the same second (the times may be as they were): still read again
  writeFileSync(passwd, 'root:x:0:0:root:/home/one:/bin/sh\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/home/one\n');
  // gone: HOME is /
  rmSync(passwd);
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/\n');
  // behind a symlink (/etc -> elsewhere in the rootfs, which only the helper resolves): never kept
  renameSync(join(b.rootfs, 'etc'), join(b.rootfs, 'etc2'));
  writeFileSync(join(b.rootfs, 'etc2', 'passwd'), 'root:x:0:0:root:/home/three:/bin/sh\n');
  symlinkSync('/etc2', join(b.rootfs, 'etc'));
  await delay(1100);
  const before = rt.cacheCounts().rootFiles;
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/home/three\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), '/home/three\n');
  assert.deepEqual(rt.cacheCounts().rootFiles, { hits: before.hits, misses: before.misses + 2 });
  // a process with HOME of its own reads nothing
  assert.equal(await output(rt, s.id(), { bundle: b.dir, env: ['PATH=/bin', 'HOME=/mine'] }), '/mine\n');
  assert.deepEqual(rt.cacheCounts().rootFiles, { hits: before.hits, misses: before.misses + 2 });
  assert.deepEqual(rt.list(), []);
}));

test('a foreground run\'s removal gives its lock back as a spare, taken by the next removal with one rename (no lock directory or token file made per container), and gone once idle', scoped(async (s) => {
  const rt = new Runtime({ root: s.root });
  const b = s.bundle().args('true');
  const locks = join(s.root, LOCKS_DIR);
  const entries = () => (existsSync(locks) ? readdirSync(locks) : []);
  const removed = (id) => waitUntil(() => !existsSync(join(s.root, id)) && entries().every((n) => n.startsWith('@')), { what: `the removal of ${id}` });
  const first = s.id();
  assert.equal((await rt.run(first, { bundle: b.dir, stdio: 'ignore' })).exitCode, 0);
  await removed(first);
  const spare = entries();
  assert.equal(spare.length, 1, `one spare lock directory: ${spare.join(' ')}`);
  assert.match(spare[0], new RegExp(`^@${process.pid}\\.\\d+\\.[0-9a-f]+$`));
  assert.deepEqual(readdirSync(join(locks, spare[0])), [spare[0].slice(1)], 'it holds its token');
  const ino = statSync(join(locks, spare[0])).ino;
  // the next container's removal takes it (the same directory, renamed there and back)
  const second = s.id();
  assert.equal((await rt.run(second, { bundle: b.dir, stdio: 'ignore' })).exitCode, 0);
  await removed(second);
  assert.deepEqual(entries(), spare);
  assert.equal(statSync(join(locks, spare[0])).ino, ino, 'the same directory, not a new one');
  // idle: gone
  await waitUntil(() => entries().length === 0, { what: 'the spare to go (SPARE_IDLE_MS)', timeoutMs: 5500 });
}));

test('a removed container\'s directory is kept for the next container (its config.json and state.json written over: one new inode a container, not four, READY\'s), from a Runtime\'s second container on, and gone once idle', scoped(async (s) => {
  const rt = new Runtime({ root: s.root });
  const b = s.bundle().sh('cat /proc/self/status >/dev/null');
  const spares = () => readdirSync(s.root).filter((n) => n.startsWith('@') && n !== LOCKS_DIR);
  const run = async () => {
    const id = s.id();
    assert.equal((await rt.run(id, { bundle: b.dir, stdio: 'ignore' })).exitCode, 0);
    await waitUntil(() => !existsSync(join(s.root, id)) && !readdirSync(s.root).some((n) => n.endsWith('.rm') && !spares().includes(n)), { what: `the removal of ${id}` });
    await waitUntil(() => spares().length <= 1, { what: 'the removal to settle' });
  };
  await run();
  assert.deepEqual(spares(), [], 'a Runtime\'s first container keeps nothing (one container per process: the CLI)');
  await run();
  const [spare] = spares();
  assert.ok(spare, 'the second container\'s directory is kept');
  const files = readdirSync(join(s.root, spare)).sort();
  assert.deepEqual(files, ['config.json', 'state.json'], files.join(' '));
  const inodes = [spare, ...files.map((f) => join(spare, f))].map((p) => statSync(join(s.root, p)).ino);
  assert.equal(statSync(join(s.root, spare, 'config.json')).size, 0, 'nothing of the last container\'s config is kept');
  // the third container is made in it: the directory and its config.json are the same inodes
  // after it; its first state is written over the kept state.json, and READY's (a new file,
  // renamed over it) is the container's one new inode
  const id = s.id();
  let created;
  const r = await rt.run(id, { bundle: b.dir, stdio: 'ignore', beforeRemove: () => {
    assert.equal(statSync(join(s.root, id)).ino, inodes[0], 'the container\'s directory is the spare');
    assert.equal(JSON.parse(readFileSync(join(s.root, id, 'config.json'), 'utf8')).process.args[2], 'cat /proc/self/status >/dev/null');
    assert.equal(rt.store.read(id).status, 'running', 'READY\'s state');
    created = rt.store.read(id).created;
  } });
  assert.equal(r.exitCode, 0);
  await waitUntil(() => !existsSync(join(s.root, id)) && spares().length === 1, { what: `the removal of ${id}` });
  const again = spares()[0];
  assert.equal(statSync(join(s.root, again)).ino, inodes[0]);
  assert.deepEqual(readdirSync(join(s.root, again)).sort(), ['config.json', 'state.json']);
  assert.equal(statSync(join(s.root, again, 'config.json')).ino, inodes[1]);
  assert.equal(JSON.parse(readFileSync(join(s.root, again, 'state.json'), 'utf8')).created, created, 'the kept state.json is the last container\'s own');
  assert.deepEqual(rt.list(), []);
  // idle: gone
  await waitUntil(() => spares().length === 0, { what: 'the spare directory to go (SPARE_DIR_IDLE_MS)', timeoutMs: 5500 });
}));

test('the shared /hako cgroup parent stays between a Runtime\'s containers (one mkdir and one rmdir a hierarchy each, not two), and goes once the Runtime is idle', scoped(async (s) => {
  const layout = detectCgroups();
  const h = layout.mode === 'unified' ? { mountPoint: layout.v2.mountPoint } : layout.v1.find((x) => x.controllers.includes('pids'));
  const parent = join(h.mountPoint, 'hako');
  const rt = new Runtime({ root: s.root });
  const b = s.bundle().args('true');
  const gone = (id) => waitUntil(() => cgroupDirs(id).length === 0, { what: `the cgroup of ${id} to go` });
  const first = s.id();
  assert.equal((await rt.run(first, { bundle: b.dir, stdio: 'ignore' })).exitCode, 0);
  await gone(first);
  assert.ok(existsSync(parent), `${parent} is kept after the container's teardown`);
  const ino = statSync(parent).ino;
  const second = s.id();
  assert.equal((await rt.run(second, { bundle: b.dir, stdio: 'ignore' })).exitCode, 0);
  await gone(second);
  assert.equal(statSync(parent).ino, ino, `${parent} was not removed and made again for the second container`);
  assert.equal(rt.parentSweepCount, 0);
  // idle: the parents are swept (removed where empty: another test's container may hold one)
  await waitUntil(() => rt.parentSweepCount === 1, { what: 'the sweep of the idle parents', timeoutMs: PARENT_IDLE_MS + 5000 });
  await waitUntil(() => !existsSync(parent) || readdirSync(parent, { withFileTypes: true }).some((e) => e.isDirectory()), { what: `${parent} to go` });
  // and made again (by the container's helper, on a v1 host), with the cpuset's cpus and mems copied down
  const cpuset = layout.v1.find((x) => x.controllers.includes('cpuset'));
  if (cpuset) {
    const c = s.bundle().sh('cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems');
    const host = ['cpuset.cpus', 'cpuset.mems'].map((f) => readFileSync(join(cpuset.mountPoint, f), 'utf8').trim());
    assert.deepEqual((await output(rt, s.id(), { bundle: c.dir })).trim().split('\n'), host);
  }
}));

test('a process that exits while its Runtime keeps the /hako parents removes them', scoped(async (s) => {
  const b = s.bundle().args('true');
  const code = `
    import { Runtime } from ${JSON.stringify(`${REPO}/dist/src/runtime/runtime.js`)};
    const [root, bundle, id] = process.argv.slice(1);
    const rt = new Runtime({ root });
    const r = await rt.run(id, { bundle, stdio: 'ignore' });
    await rt.delete(id).catch(() => {}); // the removal after run is done (delete waits for it)
    process.on('exit', () => { process.stdout.write(rt.parentSweepCount + '\\n'); });
    process.exitCode = r.exitCode;
  `;
  const r = runSync(NODE, ['--input-type=module', '-e', code, s.root, b.dir, s.id()], { env: s.env() });
  assert.equal(r.status, 0, show(r));
  assert.equal(r.stdout.trim(), '1', 'the sweep ran at exit');
}));

test('cgroup v2: each set of device rules is compiled to eBPF once, and changed rules take effect', { skip: detectCgroups().v2 ? false : 'no cgroup v2 on this host' }, scoped(async (s) => {
  const rt = new Runtime({ root: s.root, cgroupVersion: 2, warn: () => {} });
  // /dev/fuse's numbers (10:229), which no default rule allows: made in the container's /dev and only opened
  const b = s.bundle().sh('mknod /dev/probe c 10 229 && ( (exec 3</dev/probe) 2>/dev/null && echo open-ok || echo open-denied )');
  b.edit((c) => { for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set].push('CAP_MKNOD'); });
  const before = rt.cacheCounts().deviceProgram;
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'open-denied\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'open-denied\n');
  const after = rt.cacheCounts().deviceProgram;
  assert.ok(after.hits >= before.hits + 1, `the second container's program came from the cache: ${JSON.stringify({ before, after })}`);
  // allowed now: a new program, which the container gets
  b.edit((c) => { c.linux.resources.devices.push({ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }); });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'open-ok\n');
  assert.equal(rt.cacheCounts().deviceProgram.misses, after.misses + 1);
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'open-ok\n');
}));

test('a seccomp filter is compiled once (its program kept by the Runtime, loaded as it is after that), and a changed filter takes effect', scoped(async (s) => {
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const filter = (name) => ({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'], syscalls: [{ names: [name, `${name}at`], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] });
  // a new directory each time (the rootfs is shared, and a denied rmdir leaves it)
  const b = s.bundle().sh('d=/tmp/d-$(cat /proc/sys/kernel/random/uuid); mkdir $d 2>/dev/null && echo mkdir-ok || echo mkdir-denied; rmdir $d 2>/dev/null && echo rmdir-ok || echo rmdir-denied');
  b.edit((c) => { c.linux.seccomp = filter('mkdir'); });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'mkdir-denied\nrmdir-denied\n');
  assert.deepEqual(rt.cacheCounts().seccomp, { hits: 0, misses: 1 });
  // the second container loads the kept program, and it denies the same
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'mkdir-denied\nrmdir-denied\n');
  assert.deepEqual(rt.cacheCounts().seccomp, { hits: 1, misses: 1 });
  // another filter: compiled anew, and what it says holds
  b.edit((c) => { c.linux.seccomp = filter('rmdir'); });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'mkdir-ok\nrmdir-denied\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'mkdir-ok\nrmdir-denied\n');
  assert.deepEqual(rt.cacheCounts().seccomp, { hits: 2, misses: 2 });
  // and the first again, from the cache
  b.edit((c) => { c.linux.seccomp = filter('mkdir'); });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'mkdir-denied\nrmdir-denied\n');
  assert.deepEqual(rt.cacheCounts().seccomp, { hits: 3, misses: 2 });
}));
