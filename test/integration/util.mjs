// Shared helpers for the namespace toolkit's integration tests: running the CLI (bounded by
// timeouts), background commands, /proc scans, leak checks and throw-away users.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HAKO = join(ROOT, 'bin', 'hako');
export const HELPER = process.env.HAKO_HELPER ?? join(ROOT, 'native', 'hako-helper');
export const NODE = process.execPath;
export const NS_TYPES = ['user', 'mnt', 'pid', 'net', 'uts', 'ipc', 'cgroup', 'time'];
/** The short nsenter/unshare option of each namespace type. */
export const NS_FLAG = { user: '-U', mnt: '-m', pid: '-p', net: '-n', uts: '-u', ipc: '-i', cgroup: '-C', time: '-T' };

if (!existsSync(join(ROOT, 'dist', 'index.js')) || spawnSync(HAKO, ['--version']).status !== 0) {
  throw new Error(`integration tests: ${HAKO} does not run: build first (node scripts/build.mjs in ${ROOT})`);
}
if (!existsSync(HELPER)) throw new Error(`integration tests: ${HELPER} is missing: build it first (sh native/build.sh in ${ROOT})`);
if (process.geteuid() !== 0) throw new Error('integration tests: these tests create namespaces, users and mounts: run them as root');

/** Every process a test starts carries this in its environment, so leaks can be found by it. */
export const TAG = `hako-it-${process.pid}-${randomBytes(4).toString('hex')}`;
export const TAG_VAR = 'HAKO_TEST_TAG';

export function testEnv(extra = {}) {
  return { ...process.env, [TAG_VAR]: TAG, ...extra };
}

export function unique(prefix) {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** spawnSync with a timeout (SIGKILL) and the test tag; returns status, signal, stdout, stderr. */
export function run(file, args = [], options = {}) {
  const { env, ...rest } = options;
  const r = spawnSync(file, args, {
    encoding: 'utf8', timeout: DEFAULT_TIMEOUT_MS, killSignal: 'SIGKILL', cwd: ROOT, env: env ?? testEnv(), ...rest,
  });
  return { cmd: [file, ...args].join(' '), status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** Runs ./bin/hako ARGS. */
export function hako(args, options) {
  return run(HAKO, args, options);
}

/** Runs FILE ARGS as the user NAME (runuser, no login: the environment, tag included, is kept). */
export function runAs(name, file, args = [], options) {
  return run('runuser', ['-u', name, '--', file, ...args], options);
}

/** The environment for hako run as a user made by createUser (its copy's helper, if it has one). */
function userEnv(user, options) {
  return options?.env ?? (user.helper ? testEnv({ HAKO_HELPER: user.helper }) : testEnv());
}

/** Runs hako ARGS as a user made by createUser. */
export function hakoAs(user, args, options) {
  return runAs(user.name, user.hako, args, { ...options, env: userEnv(user, options) });
}

/** A readable summary of a run for assertion messages. */
export function show(r) {
  return `$ ${r.cmd}\nstatus=${r.status} signal=${r.signal}${r.error ? ` error=${r.error.message}` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** Asserts a run exited 0 and returns its stdout. */
export function ok(r) {
  assert.equal(r.status, 0, `expected exit 0\n${show(r)}`);
  return r.stdout;
}

export function lines(text) {
  return text.split('\n').filter((l) => l !== '');
}

/** Asserts a failed run reported exactly one line on stderr, starting with "hako"; returns it. */
export function assertOneLineError(r) {
  assert.notEqual(r.status, 0, `expected a non-zero exit\n${show(r)}`);
  assert.equal(r.signal, null, `hako was killed\n${show(r)}`);
  assert.ok(r.stderr.endsWith('\n'), `stderr should end with a newline\n${show(r)}`);
  const errLines = r.stderr.slice(0, -1).split('\n');
  assert.equal(errLines.length, 1, `expected exactly one line on stderr\n${show(r)}`);
  assert.match(errLines[0], /^hako/, `the error should start with "hako"\n${show(r)}`);
  return errLines[0];
}

// ---------------------------------------------------------------------------------------------
// Waiting

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value (returned), or throws after `timeoutMs`.
 * `what` (a text, or a function that makes one when it is needed) says what was awaited. */
export async function waitUntil(check, { timeoutMs = 10_000, intervalMs = 25, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await sleep(intervalMs);
  }
}

/** A command running in the background, with its output collected. */
export class Background {
  constructor(file, args, { env, stdio = ['pipe', 'pipe', 'pipe'], cwd = ROOT } = {}) {
    this.cmd = [file, ...args].join(' ');
    this.stdout = '';
    this.stderr = '';
    this.child = spawn(file, args, { stdio, env: env ?? testEnv(), cwd });
    this.pid = this.child.pid;
    this.child.stdout?.setEncoding('utf8').on('data', (d) => { this.stdout += d; });
    this.child.stderr?.setEncoding('utf8').on('data', (d) => { this.stderr += d; });
    this.exitStatus = null;
    this.exited = new Promise((res) => {
      this.child.on('exit', (code, signal) => { this.exitStatus = { code, signal }; res(this.exitStatus); });
      this.child.on('error', (e) => { this.exitStatus = { code: null, signal: null, error: e }; res(this.exitStatus); });
    });
    this.closed = new Promise((res) => this.child.on('close', res));
  }

  describe() {
    return `$ ${this.cmd}\n--- stdout\n${this.stdout}--- stderr\n${this.stderr}`;
  }

  /** Waits until stdout (or stderr) matches; returns the match. Fails early if the process exits. */
  async waitFor(pattern, { stream = 'stdout', timeoutMs = 15_000 } = {}) {
    return waitUntil(() => {
      const m = pattern.exec(this[stream]);
      if (m) return m;
      if (this.exitStatus) throw new Error(`exited (${JSON.stringify(this.exitStatus)}) before printing ${pattern}\n${this.describe()}`);
      return undefined;
    }, { timeoutMs, what: `${pattern} from ${this.cmd}\n${this.describe()}` });
  }

  /** Waits for the exit (and the end of its output when it was piped); SIGKILL after the timeout. */
  async wait({ timeoutMs = 20_000, output = true } = {}) {
    let timer;
    const timeout = new Promise((_, rej) => {
      timer = setTimeout(() => {
        this.killTree();
        rej(new Error(`${this.cmd} did not end within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
    });
    try {
      const status = await Promise.race([this.exited, timeout]);
      if (output) await Promise.race([this.closed, timeout]);
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL to it and every process below it. */
  killTree() {
    for (const d of descendants(this.pid).reverse()) {
      try { process.kill(d.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    this.child.kill('SIGKILL');
  }

  /** For finally blocks: ends it and every process below it, if it still runs. */
  async stop() {
    if (!this.exitStatus) this.killTree();
    await this.wait({ output: false });
  }
}

export function spawnHako(args, options) {
  return new Background(HAKO, args, options);
}

/** hako ARGS in the background, as a user made by createUser. */
export function spawnHakoAs(user, args, options) {
  return new Background('runuser', ['-u', user.name, '--', user.hako, ...args], { ...options, env: userEnv(user, options) });
}

// ---------------------------------------------------------------------------------------------
// Processes, from the host's /proc

export function pids() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** pid, comm, state, ppid and start time of a process, or undefined if there is none. */
export function procStat(pid) {
  let text;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(text.indexOf('(') + 1, close), state: fields[0], ppid: Number(fields[1]), start: Number(fields[19]) };
}

/** True while the process (the same one: same start time, when given) exists and is not a zombie. */
export function isAlive(pid, start) {
  const s = procStat(pid);
  return !!s && s.state !== 'Z' && (start === undefined || s.start === start);
}

export function cmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return []; }
}

export function descendants(root) {
  const stats = pids().map(procStat).filter(Boolean);
  const out = [];
  let frontier = [root];
  while (frontier.length) {
    const kids = stats.filter((s) => frontier.includes(s.ppid));
    out.push(...kids);
    frontier = kids.map((k) => k.pid);
  }
  return out;
}

/**
 * Waits for a process named `comm` (after its exec) below `root` (a pid, or a Background, which
 * then must not exit first); returns its procStat.
 */
export function findDescendant(root, comm, timeoutMs = 15_000) {
  const pid = typeof root === 'number' ? root : root.pid;
  return waitUntil(() => {
    const found = descendants(pid).find((s) => s.comm === comm && s.state !== 'Z');
    if (!found && typeof root !== 'number' && root.exitStatus) {
      throw new Error(`${root.cmd} exited (${JSON.stringify(root.exitStatus)}) before a '${comm}' process appeared\n${root.describe()}`);
    }
    return found;
  }, { timeoutMs, what: `a '${comm}' process below pid ${pid}` });
}

function environHasTag(pid) {
  try { return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${TAG_VAR}=${TAG}`); } catch { return false; }
}

/**
 * HAKO_TEST_SERVER=1 runs every bin/hako of this file through a warm server (`hako serve`, issue
 * 10): one is started here, outside the test tag (its spare workers are not the tests'), and
 * HAKO_SOCKET names it to everything the tests start. Stopped when this process exits.
 */
export const SERVER_MODE = process.env.HAKO_TEST_SERVER === '1';
if (SERVER_MODE && !process.env.HAKO_SOCKET) {
  const dir = mkdtempSync(join('/tmp', 'hako-it-serve-'));
  const socket = join(dir, 'hako.sock');
  const { HAKO_TEST_TAG: _tag, ...env } = process.env;
  // it ends with this process, however that ends: its shell waits for EOF on a pipe from here
  const server = spawn('sh', ['-c', '"$0" "$1" serve --socket "$2" </dev/null & s=$!; read -r _; kill $s; wait $s', NODE, join(ROOT, 'bin', 'start.cjs'), socket],
    { env, stdio: ['pipe', 'ignore', 'inherit'] });
  server.unref();
  server.stdin.unref();
  const until = Date.now() + 15_000;
  while (!existsSync(socket) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  if (!existsSync(socket)) throw new Error('integration tests: HAKO_TEST_SERVER=1 but hako serve did not start');
  process.env.HAKO_SOCKET = socket;
  process.on('exit', () => { rmSync(dir, { recursive: true, force: true }); }); // the server sees EOF and stops
}

const key = (s) => `${s.pid}@${s.start}`;

/** Processes whose command line names the helper, but for this process's own zygote (the
 * toolkit's resident helper, src/toolkit/launch.ts: it stays while this process lives, and ends
 * with it). */
export function helperProcesses() {
  return pids().filter((p) => cmdline(p).some((a) => a.includes('hako-helper'))).map(procStat).filter(Boolean)
    .filter((s) => !(s.ppid === process.pid && cmdline(s.pid).includes('--zygote')));
}

/** Live processes that one of these tests started (through hako or runuser): they carry the tag. */
export function taggedProcesses() {
  return pids().filter((p) => p !== process.pid && environHasTag(p)).map(procStat).filter((s) => s && s.state !== 'Z');
}

/**
 * On a shared machine other programs mount and unmount too: HAKO_IT_FOREIGN_MOUNTS, a regular
 * expression, names mount points that are theirs and left out of the comparison. Unset (as in CI):
 * the whole table must be byte-identical.
 */
const foreignMounts = process.env.HAKO_IT_FOREIGN_MOUNTS ? new RegExp(process.env.HAKO_IT_FOREIGN_MOUNTS) : undefined;

export function mountTable() {
  const table = readFileSync('/proc/self/mountinfo', 'utf8');
  if (!foreignMounts) return table;
  return table.split('\n').filter((l) => !foreignMounts.test(l.split(' ')[4] ?? '')).join('\n');
}

/** What a test must leave as it found it: the mount table, helper and test processes. */
export function snapshot() {
  return {
    mounts: mountTable(),
    helpers: new Set(helperProcesses().map(key)),
    tagged: new Set(taggedProcesses().map(key)),
  };
}

/** Asserts nothing was left behind since `snap`: waits (bounded) for exiting processes first. */
export async function assertNoLeaks(snap, timeoutMs = 10_000) {
  const leaks = () => {
    const describe = (s) => `${s.pid} (${s.comm}, ${s.state}): ${cmdline(s.pid).join(' ')}`;
    return [
      ...helperProcesses().filter((s) => !snap.helpers.has(key(s))).map((s) => `helper ${describe(s)}`),
      ...taggedProcesses().filter((s) => !snap.tagged.has(key(s))).map((s) => `process ${describe(s)}`),
    ];
  };
  try {
    await waitUntil(() => leaks().length === 0, { timeoutMs, what: 'processes to end' });
  } catch {
    assert.deepEqual(leaks(), [], 'processes were left behind');
  }
  const now = mountTable();
  if (now !== snap.mounts) {
    const before = snap.mounts.split('\n');
    const after = now.split('\n');
    const gone = before.filter((l) => !after.includes(l));
    const added = after.filter((l) => !before.includes(l));
    assert.fail(`the host mount table changed\n--- gone\n${gone.join('\n')}\n--- added\n${added.join('\n')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Namespaces and host state

export function nsLink(pid, type) {
  return readlinkSync(`/proc/${pid}/ns/${type}`);
}

export function nsInode(pid, type) {
  return Number(/\[(\d+)\]/.exec(nsLink(pid, type))[1]);
}

export function hostHostname() {
  return readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
}

/** For finally blocks: puts the host's hostname back if a failing hako changed it. */
export function restoreHostname(original) {
  if (hostHostname() !== original) writeFileSync('/proc/sys/kernel/hostname', original);
}

/** For finally blocks: unmounts a tmpfs of this `source` that a failing hako left on the host. */
export function unmountLeaked(source, target) {
  const mine = new RegExp(` ${target} [^\\n]* - tmpfs ${source} `);
  for (let i = 0; i < 10 && mine.test(mountTable()); i++) ok(run('umount', [target]));
}

/** Capability masks of a /proc/PID/status text, as BigInts. */
export function caps(statusText) {
  const get = (name) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(statusText)[1]}`);
  return { eff: get('CapEff'), prm: get('CapPrm'), bnd: get('CapBnd') };
}

/** Every capability this kernel knows, as a mask. */
export function fullCapMask() {
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return (1n << BigInt(last + 1)) - 1n;
}

// ---------------------------------------------------------------------------------------------
// Users

function subEntries(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
      const [owner, start, count] = l.split(':');
      return { owner, start: Number(start), count: Number(count) };
    });
  } catch {
    return [];
  }
}

export function userExists(name) {
  return run('getent', ['passwd', name]).status === 0;
}

/** Checks that the user NAME can run the hako at `hako` and its helper; returns the run. */
function canRunHako(name, hako, helper) {
  return runAs(name, 'sh', ['-c', '"$1" --version && test -x "$2"', 'sh', hako, helper]);
}

/** A copy of what the CLI needs (bin, dist, the helper) that every user can read. */
function readableCopy() {
  const dir = mkdtempSync('/tmp/hako-it-copy-');
  chmodSync(dir, 0o755);
  for (const part of ['package.json', 'bin', 'dist']) cpSync(join(ROOT, part), join(dir, part), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(dir, 'native'), { mode: 0o755 });
  copyFileSync(HELPER, join(dir, 'native', 'hako-helper'));
  chmodSync(join(dir, 'native', 'hako-helper'), 0o755);
  return dir;
}

/**
 * Creates a throw-away user with a 65536-id subordinate range of its own (after every range
 * in /etc/subuid and /etc/subgid). `user.hako` is a bin/hako the user can run: this checkout's,
 * or, when the user cannot read it (a clone under /root), a copy in /tmp.
 */
export async function createUser() {
  const name = `hk${randomBytes(5).toString('hex')}`;
  assert.ok(!userExists(name), `user ${name} exists already`);
  const used = [...subEntries('/etc/subuid'), ...subEntries('/etc/subgid')];
  const end = Math.max(1_000_000, ...used.map((e) => e.start + e.count));
  const subStart = Math.ceil(end / 65536) * 65536 + 65536;
  const subCount = 65536;
  // -K SUB_*_COUNT=0: no automatic range, so the only range is the one added below
  ok(run('useradd', ['-m', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]));
  const user = { name, subStart, subCount, home: `/home/${name}`, hako: HAKO };
  try {
    const range = `${subStart}-${subStart + subCount - 1}`;
    ok(run('usermod', ['--add-subuids', range, '--add-subgids', range, name]));
    user.uid = Number(ok(run('id', ['-u', name])).trim());
    user.gid = Number(ok(run('id', ['-g', name])).trim());
    if (canRunHako(name, HAKO, HELPER).status !== 0) {
      user.copy = readableCopy();
      user.hako = join(user.copy, 'bin', 'hako');
      user.helper = join(user.copy, 'native', 'hako-helper');
      const access = canRunHako(name, user.hako, user.helper);
      if (access.status !== 0) {
        throw new Error(`user ${name} can run neither hako in ${ROOT} nor a copy in ${user.copy}: ` +
          `it needs o+rx on the directories and o+x on ${NODE}\n${show(access)}`);
      }
    }
  } catch (e) {
    await removeUser(user);
    throw e;
  }
  return user;
}

/** Removes a user made by createUser (killing any process it still has) and asserts it is gone. */
export async function removeUser(user) {
  const owned = () => pids().filter((p) => { try { return statSync(`/proc/${p}`).uid === user.uid; } catch { return false; } });
  if (user.uid !== undefined) {
    for (const p of owned()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await waitUntil(() => owned().every((p) => !isAlive(p)), { what: `processes of ${user.name} to end` });
  }
  const r = run('userdel', ['-r', user.name]);
  assert.ok(r.status === 0 || r.status === 12 /* no home to remove */, `userdel failed\n${show(r)}`);
  assert.ok(!userExists(user.name), `user ${user.name} still exists`);
  assert.notEqual(run('getent', ['group', user.name]).status, 0, `group ${user.name} still exists`);
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    assert.deepEqual(subEntries(file).filter((e) => e.owner === user.name), [], `${file} still has ranges for ${user.name}`);
  }
  assert.ok(!existsSync(user.home), `${user.home} still exists`);
  if (user.copy) {
    rmSync(user.copy, { recursive: true, force: true });
    assert.ok(!existsSync(user.copy), `${user.copy} still exists`);
  }
}
