// Hardening against other local users and hostile inputs: the helper hako runs as root is only
// the package's own (never one found in a parent directory) and only when nobody else could have
// replaced it; pid files are never written through planted links; a cgroup that holds processes is
// not joined; state and logs are private; oversized inputs and outputs are refused or capped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, rmdirSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import {
  NODE, REPO, cgroupDirs, hakoRun, isAlive, ok, oneLineError, removeContainer, runSync, scoped, show, sleeper, waitUntil,
} from './oci-util.mjs';

const { Runtime } = await import(join(REPO, 'dist', 'src', 'runtime', 'runtime.js'));

// ---------------------------------------------------------------------------------------------
// The helper

/** A copy of the package (bin, dist, package.json) at DIR/pkg, with no helper of its own. */
function packageCopy(s) {
  const top = s.path('app');
  const pkg = join(top, 'pkg');
  mkdirSync(pkg, { recursive: true, mode: 0o755 });
  chmodSync(top, 0o755);
  for (const part of ['package.json', 'bin', 'dist']) cpSync(join(REPO, part), join(pkg, part), { recursive: true, verbatimSymlinks: true });
  return { top, pkg };
}

/** An env without HAKO_HELPER (so the package's own helper is the one looked for). */
function ownEnv(s, extra = {}) {
  const env = s.env(extra);
  if (!('HAKO_HELPER' in extra)) delete env.HAKO_HELPER;
  return env;
}

/** The three builds that spawn the helper: the CLI bundle, the library bundle, the per-module build. */
function runEach(s, pkg, env) {
  const lib = (file) => runSync(NODE, ['--input-type=module', '-e', `
    const { unshare } = await import(${JSON.stringify(join(pkg, file))});
    try { const r = await unshare({ namespaces: ['uts'], command: ['true'] }); console.log('exit', r.exitCode); }
    catch (e) { console.error(e.message); process.exit(1); }`], { env });
  return {
    // the command npm installs (bin/hako, the helper's link, dangles without a helper)
    cli: runSync(join(pkg, 'bin', 'hako.sh'), ['unshare', '-u', 'true'], { env }),
    bundle: lib('dist/index.js'),
    modules: lib('dist/src/toolkit/unshare.js'),
  };
}

test('a helper planted in a parent directory is never run; a missing helper is one clear line', scoped(async (s) => {
  const { top, pkg } = packageCopy(s);
  const marker = s.path('planted-ran');
  mkdirSync(join(top, 'native'), { mode: 0o755 });
  const planted = join(top, 'native', 'hako-helper');
  writeFileSync(planted, `#!/bin/sh\necho ran >> ${marker}\n`, { mode: 0o755 });
  for (const [what, r] of Object.entries(runEach(s, pkg, ownEnv(s)))) {
    oneLineError(r, { match: new RegExp(`helper ${join(pkg, 'native', 'hako-helper')} is missing: build it \\(npm rebuild hako`) });
    assert.ok(!existsSync(marker), `${what}: the planted helper ran\n${show(r)}`);
  }
}));

test('the package\'s own helper runs from each build when it is safe', scoped(async (s) => {
  const { pkg } = packageCopy(s);
  mkdirSync(join(pkg, 'native'), { mode: 0o755 });
  copyFileSync(join(REPO, 'native', 'hako-helper'), join(pkg, 'native', 'hako-helper'));
  chmodSync(join(pkg, 'native', 'hako-helper'), 0o755);
  for (const [what, r] of Object.entries(runEach(s, pkg, ownEnv(s)))) assert.equal(r.status, 0, `${what}\n${show(r)}`);
  // and a checkout's bin/hako: the link to the helper, running as the front
  const front = runSync(join(pkg, 'bin', 'hako'), ['unshare', '-u', 'true'], { env: ownEnv(s) });
  assert.equal(front.status, 0, show(front));
}));

test('a helper others could replace is refused, naming the path and the fix', scoped(async (s) => {
  const { pkg } = packageCopy(s);
  const native = join(pkg, 'native');
  const helper = join(native, 'hako-helper');
  const marker = s.path('copy-ran');
  mkdirSync(native, { mode: 0o755 });
  // a stand-in that would leave a mark: none of these may run it
  writeFileSync(helper, `#!/bin/sh\necho ran >> ${marker}\n`, { mode: 0o755 });
  const cases = [
    ['group-writable', () => chmodSync(helper, 0o775), /it is writable by its group \(mode 775\).*chmod go-w/],
    ['other-writable', () => chmodSync(helper, 0o757), /it is writable by others \(mode 757\).*chmod go-w/],
    ['owned by another uid', () => chownSync(helper, 65534, 65534), /it is owned by uid 65534.*npm rebuild hako/],
    ['in a directory others may write', () => chmodSync(native, 0o777), /its directory .*native is writable by others/],
    ['in a directory another uid owns', () => chownSync(native, 65534, 65534), /its directory .*native is owned by uid 65534/],
  ];
  for (const [what, spoil, re] of cases) {
    chmodSync(helper, 0o755);
    chownSync(helper, 0, 0);
    chmodSync(native, 0o755);
    chownSync(native, 0, 0);
    spoil();
    for (const [how, r] of Object.entries(runEach(s, pkg, ownEnv(s)))) {
      const line = oneLineError(r, { match: re });
      assert.match(line, new RegExp(`refusing to run the helper ${helper}`), `${what}, ${how}`);
      assert.ok(!existsSync(marker), `${what}, ${how}: the helper ran\n${show(r)}`);
    }
  }
}));

test('HAKO_HELPER must be an absolute path', scoped(async (s) => {
  const { pkg } = packageCopy(s);
  const marker = s.path('relative-ran');
  mkdirSync(join(pkg, 'native'), { mode: 0o755 });
  writeFileSync(join(pkg, 'native', 'hako-helper'), `#!/bin/sh\necho ran >> ${marker}\n`, { mode: 0o755 });
  const r = runSync(join(pkg, 'bin', 'hako.sh'), ['unshare', '-u', 'true'], { env: ownEnv(s, { HAKO_HELPER: 'native/hako-helper' }), cwd: pkg });
  oneLineError(r, { match: /HAKO_HELPER must be an absolute path, not 'native\/hako-helper'/ });
  assert.ok(!existsSync(marker), show(r));
}));

// ---------------------------------------------------------------------------------------------
// --pid-file

test('--pid-file never writes through links planted at its temporary names or at itself', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.args = sleeper(s); });
  const victim = s.path('victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const dir = s.path('shared');
  mkdirSync(dir, { mode: 0o1777 });
  // create and exec -d, through the library, plant links at every name derived from the pid file
  // and the writer's pid (which a local user can guess) before they write
  const id = s.id();
  const pidFile = join(dir, 'init.pid');
  const execPidFile = join(dir, 'exec.pid');
  const script = `
    import { symlinkSync } from 'node:fs';
    const { Runtime } = await import(${JSON.stringify(join(REPO, 'dist', 'src', 'runtime', 'runtime.js'))});
    const plant = (p) => {
      for (const name of [p + '.' + process.pid + '.tmp', p + '.tmp', ${JSON.stringify(dir)} + '/.' + p.split('/').pop(), p]) symlinkSync(${JSON.stringify(victim)}, name);
    };
    plant(${JSON.stringify(pidFile)});
    plant(${JSON.stringify(execPidFile)});
    const rt = new Runtime({ root: ${JSON.stringify(s.root)} });
    await rt.create(${JSON.stringify(id)}, { bundle: ${JSON.stringify(b.dir)}, pidFile: ${JSON.stringify(pidFile)}, stdio: 'ignore' });
    await rt.start(${JSON.stringify(id)});
    await rt.exec(${JSON.stringify(id)}, { args: ['sleep', '1'], cwd: '/', env: [] }, { detach: true, pidFile: ${JSON.stringify(execPidFile)}, stdio: 'ignore' });
    console.log(rt.state(${JSON.stringify(id)}).pid);`;
  const r = runSync(NODE, ['--input-type=module', '-e', script], { env: s.env() });
  assert.equal(r.status, 0, show(r));
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the victim was written through a link');
  assert.ok(lstatSync(pidFile).isFile(), 'the pid file replaced the link at its name');
  assert.equal(readFileSync(pidFile, 'utf8'), r.stdout.trim());
  assert.ok(lstatSync(execPidFile).isFile());
  assert.match(readFileSync(execPidFile, 'utf8'), /^[1-9][0-9]*$/);
  // the CLI too, with a link at the pid file itself
  const id2 = s.id();
  const cliPidFile = join(dir, 'cli.pid');
  symlinkSync(victim, cliPidFile);
  ok(s.hakoDetached(['create', '--pid-file', cliPidFile, '-b', b.dir, id2]));
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(Number(readFileSync(cliPidFile, 'utf8')), s.state(id2).pid);
  removeContainer(s, id);
  removeContainer(s, id2);
}));

// ---------------------------------------------------------------------------------------------
// State and log modes

/** Every path under dir (dir included) with its permission bits, as 'path mode' lines. */
function modes(dir) {
  const out = [`${dir} ${(statSync(dir).mode & 0o7777).toString(8)}`];
  for (const name of readdirSync(dir, { recursive: true })) {
    const p = join(dir, name);
    out.push(`${p} ${(lstatSync(p).mode & 0o7777).toString(8)}`);
  }
  return out;
}

test('state, config snapshot, locks and --log are private to root (0600 files, 0700 directories)', scoped(async (s) => {
  // a user namespace too: its init, a mapped uid, still reaches exec.fifo in the 0700 directory
  for (const userns of [false, true]) {
    const b = s.bundle((c) => {
      c.process.args = sleeper(s);
      c.process.env.push('API_TOKEN=secret');
      if (userns) {
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }
    });
    const id = s.id();
    const log = s.path(`log-${id}`);
    ok(s.hakoDetached(['create', '-b', b.dir, id], { globals: ['--log', log, '--debug'] }));
    assert.ok(readFileSync(join(s.root, id, 'config.json'), 'utf8').includes('API_TOKEN=secret'));
    const check = () => {
      for (const line of modes(s.root)) {
        const [p, mode] = line.split(' ');
        const st = lstatSync(p);
        if (st.isDirectory()) assert.equal(mode, '700', line);
        else if (st.isFIFO()) assert.equal(mode, '622', `${line} (exec.fifo: as runc, any uid of the container may open it)`);
        else assert.equal(mode, '600', line);
      }
      assert.equal((statSync(log).mode & 0o7777).toString(8), '600', log);
    };
    check();
    assert.ok(existsSync(join(s.root, id, 'exec.fifo')));
    ok(s.hako(['start', id], { globals: ['--log', log] }));
    assert.equal(s.state(id).status, 'running');
    check();
    removeContainer(s, id);
  }
}));

// ---------------------------------------------------------------------------------------------
// linux.cgroupsPath naming a cgroup in use

/** A cgroup made by the test in the v1 pids hierarchy and in the v2 one, cleaned up by done(). */
function hostCgroup(s) {
  const name = `hkcg-${s.token}`;
  const dirs = { v1: join('/sys/fs/cgroup/pids', name), v2: join('/sys/fs/cgroup/unified', name) };
  const made = [];
  const sleepers = [];
  return {
    name, dirs,
    make(which) { mkdirSync(dirs[which]); made.push(dirs[which]); },
    /** A sleeping process in the cgroup's directory of which. */
    sleeper(which) {
      const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
      sleepers.push(child);
      writeFileSync(join(dirs[which], 'cgroup.procs'), String(child.pid));
      return child.pid;
    },
    async done() {
      for (const c of sleepers) c.kill('SIGKILL');
      await waitUntil(() => sleepers.every((c) => c.exitCode !== null || c.signalCode !== null), { what: 'the sleepers to end' });
      const gone = (d) => {
        try { rmdirSync(d); } catch (e) { if (e.code === 'EBUSY') return false; if (e.code !== 'ENOENT') throw e; }
        return true;
      };
      await waitUntil(() => made.every(gone), { what: `the test's cgroups ${made.join(' ')} to go` });
    },
  };
}

test('a cgroupsPath naming a cgroup that holds processes is refused before anything is made; the cgroup is untouched', scoped(async (s) => {
  const cg = hostCgroup(s);
  try {
    cg.make('v1');
    const pid = cg.sleeper('v1');
    const b = s.bundle((c) => { c.process.args = sleeper(s); c.linux.cgroupsPath = `/${cg.name}`; });
    for (const args of [['create', '-b', b.dir], ['run', '-d', '-b', b.dir], ['run', '-b', b.dir]]) {
      const id = s.id();
      oneLineError(s.hakoDetached([...args, id]), { match: new RegExp(`container's cgroup is not empty: 1 process\\(es\\) found in /${cg.name}`) });
      oneLineError(s.hako(['state', id]), { match: /does not exist/ });
      assert.ok(isAlive(pid));
      assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`:pids:/${cg.name}\\n`));
      assert.deepEqual(cgroupDirs(cg.name), [cg.dirs.v1], 'hako made no cgroup of its own, nor removed this one');
    }
    // cgroup v2 (the library, on this hybrid host's unified hierarchy)
    if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) {
      cg.make('v2');
      const pid2 = cg.sleeper('v2');
      const rt = new Runtime({ root: s.root, cgroupVersion: 2, warn: () => {} });
      const id = s.id();
      await assert.rejects(rt.run(id, { bundle: b.dir, stdio: 'ignore' }), /container's cgroup is not empty: 1 process\(es\) found/);
      assert.ok(isAlive(pid2));
      assert.match(readFileSync(`/proc/${pid2}/cgroup`, 'utf8'), new RegExp(`^0::/${cg.name}$`, 'm'));
      assert.equal(rt.list().length, 0);
    }
  } catch (e) {
    await cg.done().catch(() => { /* the scope's leak check cleans up what hako left in it */ });
    throw e;
  }
  await cg.done();
}));

test('a failed create in an empty cgroup hako did not make leaves that cgroup, and removes only what hako made', scoped(async (s) => {
  const cg = hostCgroup(s);
  try {
    cg.make('v1');
    const b = s.bundle((c) => { c.process.args = ['/no-such-program']; c.linux.cgroupsPath = `/${cg.name}`; });
    const id = s.id();
    oneLineError(s.hakoDetached(['create', '-b', b.dir, id]), { match: /no-such-program/ });
    assert.deepEqual(cgroupDirs(cg.name), [cg.dirs.v1]);
    // and an empty cgroup is joined as before: a container runs in it
    b.edit((c) => { c.process.args = ['true']; });
    ok(hakoRun(s, b));
  } catch (e) {
    await cg.done().catch(() => { /* the scope's leak check cleans up what hako left in it */ });
    throw e;
  }
  await cg.done();
}));

// ---------------------------------------------------------------------------------------------
// Limits: one clear line instead of a misleading error or an internal one; captured output capped

/** create and run both fail with one line matching re, and leave no container behind. */
function refusedEverywhere(s, b, re) {
  for (const args of [['create', '-b', b.dir], ['run', '-b', b.dir]]) {
    const id = s.id();
    oneLineError(s.hakoDetached([...args, id]), { match: re });
    oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  }
}

test('more args or env entries than the helper passes are refused naming the JSON path and the limit', scoped(async (s) => {
  const many = Array.from({ length: 4096 }, (_, i) => `A${i}=x`);
  refusedEverywhere(s, s.bundle((c) => { c.process.args = ['true', ...many.slice(1)]; }), /config\.json: process\.args: has 4096 entries; hako passes at most 4095/);
  refusedEverywhere(s, s.bundle((c) => { c.process.env = many; }), /config\.json: process\.env: has 4096 entries; hako passes at most 4095/);
  refusedEverywhere(s, s.bundle((c) => { c.hooks = { startContainer: [{ path: '/bin/true', args: many }] }; }), /hooks\.startContainer\[0\]\.args: has 4096 entries/);
  // HOME, which hako adds when it is not set, counts
  refusedEverywhere(s, s.bundle((c) => { c.process.env = many.slice(1); }), /config\.json: process\.env: has 4095 entries and no HOME \(which hako adds\); hako passes at most 4095/);
  // 4095 is fine
  ok(hakoRun(s, s.bundle((c) => { c.process.args = ['true', ...many.slice(2)]; c.process.env = ['HOME=/', ...many.slice(2)]; })));
  ok(hakoRun(s, s.bundle((c) => { c.process.env = many.slice(2); })));
  // exec, through the library
  const b = s.bundle((c) => { c.process.args = sleeper(s); });
  const id = s.id();
  ok(s.hakoDetached(['run', '-d', '-b', b.dir, id]));
  const rt = new Runtime({ root: s.root });
  await assert.rejects(rt.exec(id, { args: ['true', ...many], cwd: '/' }, { stdio: 'ignore' }), /process\.args has 4097 entries; hako passes at most 4095/);
  removeContainer(s, id);
}));

test('a plan over the helper\'s 1 MiB frame limit is refused before the helper runs', scoped(async (s) => {
  const big = Array.from({ length: 4000 }, (_, i) => `V${i}=${'x'.repeat(300)}`);
  refusedEverywhere(s, s.bundle((c) => { c.process.env = big; }), /the plan for the helper is \d+ bytes, over its limit of 1048576 \(1 MiB\)/);
}));

test('config.json nested deeper than 256 levels is refused with its position', scoped(async (s) => {
  const b = s.bundle();
  const text = readFileSync(b.configPath, 'utf8').replace(/^\{/, `{"deep": ${'['.repeat(100_000)}${']'.repeat(100_000)},`);
  writeFileSync(b.configPath, text);
  refusedEverywhere(s, b, /config\.json: nests deeper than 256 levels \(at line 1 column 265\)/);
  // 200 levels (in a field hako ignores) are fine
  writeFileSync(b.configPath, readFileSync(b.configPath, 'utf8').replace(/"deep": \[+\]+,/, `"deep": ${'['.repeat(200)}${']'.repeat(200)},`));
  ok(hakoRun(s, b));
  // exec --process too
  b.edit((c) => { c.process.args = sleeper(s); });
  const id = s.id();
  ok(s.hakoDetached(['run', '-d', '-b', b.dir, id]));
  const proc = s.path('process.json');
  writeFileSync(proc, `{"args": ["true"], "cwd": "/", "x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  const r = s.hako(['exec', '--process', proc, id]);
  assert.ok(r.status !== 0, show(r));
  oneLineError(r, { status: r.status, match: /--process .*: nests deeper than 256 levels/ });
  removeContainer(s, id);
}));

test('captured output stops at maxBuffer: the rest is read and dropped, the result says so', scoped(async (s) => {
  const total = 200 * 1024 * 1024;
  const b = s.bundle((c) => { c.process.args = ['sh', '-c', `head -c ${total} /dev/zero; echo done >&2`]; });
  const id = s.id();
  const script = `
    const { Runtime } = await import(${JSON.stringify(join(REPO, 'dist', 'src', 'runtime', 'runtime.js'))});
    const rt = new Runtime({ root: ${JSON.stringify(s.root)} });
    const before = process.resourceUsage().maxRSS;
    const r = await rt.run(${JSON.stringify(id)}, { bundle: ${JSON.stringify(b.dir)}, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20 });
    console.log(JSON.stringify({ exitCode: r.exitCode, out: r.stdout.length, zeros: r.stdout.every((x) => x === 0), outTruncated: r.stdoutTruncated ?? false,
      err: r.stderr.toString(), errTruncated: r.stderrTruncated ?? false, grewKiB: process.resourceUsage().maxRSS - before }));`;
  const r = runSync(NODE, ['--input-type=module', '-e', script], { env: s.env() });
  assert.equal(r.status, 0, show(r));
  const got = JSON.parse(r.stdout);
  assert.deepEqual({ ...got, grewKiB: undefined }, { exitCode: 0, out: 1 << 20, zeros: true, outTruncated: true, err: 'done\n', errTruncated: false, grewKiB: undefined });
  assert.ok(got.grewKiB < 100 * 1024, `the caller's peak RSS grew by ${got.grewKiB} KiB for ${total >> 20} MiB of output`);
}));
