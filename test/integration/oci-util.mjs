// Shared helpers for the OCI runtime's integration tests (oci-*.test.mjs): busybox bundles made
// from `runc spec`, the CLI run with timeouts, and a per-test Scope that records every id, bundle
// and state root a test uses and, at the end, checks that nothing was left behind (state, cgroups,
// mounts, processes, the host's hostname), cleans up whatever was, and removes its temp files.
//
// The basics (paths, waiting, the checks that hako is built and the tests run as root) come from
// util.mjs; background processes differ (they return a different result here), so stay apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, openSync, readlinkSync, rmdirSync, rmSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { HAKO, NODE, ROOT as REPO, sleep, waitUntil } from './util.mjs';

export { HAKO, NODE, REPO, sleep, waitUntil };
export const RUNC = '/usr/sbin/runc';
export const BUSYBOX = '/bin/busybox';

for (const [file, how] of [[join(REPO, 'dist', 'src', 'runtime', 'runtime.js'), 'node scripts/build.mjs'], [join(REPO, 'native', 'hako-helper'), 'sh native/build.sh']]) {
  if (!existsSync(file)) throw new Error(`oci integration tests: ${file} is missing: run \`${how}\` in ${REPO} first`);
}
if (!existsSync(BUSYBOX)) throw new Error(`oci integration tests: ${BUSYBOX} (busybox-static) is missing`);

/** Skip reason for comparisons with runc, or false when runc is there. */
export const NO_RUNC = existsSync(RUNC) ? false : `${RUNC} is not installed`;

/** Every process a scope starts (hako, the helper, the container's processes) carries MARK_VAR=<its token>. */
export const MARK_VAR = 'HAKO_OCI_MARK';

const TIMEOUT_MS = 30_000;

export function rand(n = 4) {
  return randomBytes(n).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Running commands

/** spawnSync bounded by a timeout (SIGKILL); returns cmd, status, signal, stdout, stderr. */
export function runSync(file, args = [], options = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: TIMEOUT_MS, killSignal: 'SIGKILL', cwd: REPO, ...options });
  return { cmd: [file, ...args].join(' '), status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
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

/** Asserts a run failed (exit 1 unless told) with one line on stderr that starts with "hako"; returns it. */
export function oneLineError(r, { status = 1, match } = {}) {
  assert.equal(r.signal, null, `hako was killed\n${show(r)}`);
  assert.equal(r.status, status, `expected exit ${status}\n${show(r)}`);
  assert.ok(r.stderr.endsWith('\n'), `stderr should end with a newline\n${show(r)}`);
  const errLines = r.stderr.slice(0, -1).split('\n');
  assert.equal(errLines.length, 1, `expected exactly one line on stderr\n${show(r)}`);
  assert.match(errLines[0], /^hako/, `the error should start with "hako"\n${show(r)}`);
  if (match) assert.match(errLines[0], match, show(r));
  return errLines[0];
}

export function lines(text) {
  return text.split('\n').filter((l) => l !== '');
}

/** The value of "Key:" in a /proc/PID/status text (first field after the tab). */
export function statusField(text, key) {
  const m = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(text);
  assert.ok(m, `no ${key} in\n${text}`);
  return m[1].trim();
}


/** A command in the background with its output collected; wait() is bounded. */
export class Background {
  constructor(file, args, { env, stdio = ['pipe', 'pipe', 'pipe'], cwd = REPO, input } = {}) {
    this.cmd = [file, ...args].join(' ');
    this.stdout = '';
    this.stderr = '';
    this.child = spawn(file, args, { stdio, env, cwd });
    this.pid = this.child.pid;
    this.child.stdout?.setEncoding('utf8').on('data', (d) => { this.stdout += d; });
    this.child.stderr?.setEncoding('utf8').on('data', (d) => { this.stderr += d; });
    if (this.child.stdin) {
      this.child.stdin.on('error', () => {});
      if (input !== undefined) this.child.stdin.end(input);
    }
    this.exitStatus = null;
    this.exited = new Promise((res) => {
      this.child.on('exit', (code, signal) => { this.exitStatus = { code, signal }; res(this.exitStatus); });
      this.child.on('error', (e) => { this.exitStatus = { code: null, signal: null, error: e }; res(this.exitStatus); });
    });
    this.closed = new Promise((res) => this.child.on('close', res));
  }

  describe() {
    return `$ ${this.cmd}\nexit=${JSON.stringify(this.exitStatus)}\n--- stdout\n${this.stdout}--- stderr\n${this.stderr}`;
  }

  /** Waits until stdout (or stderr) matches; fails early if the process exits first. */
  waitFor(pattern, { stream = 'stdout', timeoutMs = 15_000 } = {}) {
    return waitUntil(() => {
      const m = pattern.exec(this[stream]);
      if (m) return m;
      if (this.exitStatus) throw new Error(`exited before printing ${pattern}\n${this.describe()}`);
      return undefined;
    }, { timeoutMs, what: () => `${pattern} from\n${this.describe()}` });
  }

  /** Waits for the exit and the end of the output; SIGKILL and throw after timeoutMs. Returns {status, signal, stdout, stderr, cmd}. */
  async wait({ timeoutMs = 20_000 } = {}) {
    let timer;
    const timeout = new Promise((_, rej) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        rej(new Error(`did not end within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.exited, timeout]);
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return { cmd: this.cmd, status: this.exitStatus.code, signal: this.exitStatus.signal, stdout: this.stdout, stderr: this.stderr };
  }

  /** SIGKILL if it still runs: for cleanup. */
  async stop() {
    if (!this.exitStatus) this.child.kill('SIGKILL');
    await Promise.race([this.exited, sleep(5000)]);
  }
}

// ---------------------------------------------------------------------------------------------
// The host: processes, namespaces, mounts, cgroups

export function pids() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** State of a process from /proc/PID/stat, or undefined if there is none. */
export function procState(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** True while pid exists and is not a zombie. */
export function isAlive(pid) {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

export function cmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return []; }
}

function environ(pid) {
  try { return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0'); } catch { return []; }
}

/** Live processes (not this one, not zombies) whose command line contains text or whose environment holds envEntry. */
export function processesWith({ text, envEntry }) {
  return pids().filter((p) => p !== process.pid && isAlive(p)
    && ((text && cmdline(p).join(' ').includes(text)) || (envEntry && environ(p).includes(envEntry))))
    .map((p) => `${p}: ${cmdline(p).join(' ')}`);
}

export function nsLink(pid, type) {
  return readlinkSync(`/proc/${pid}/ns/${type}`);
}

export function hostHostname() {
  return readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
}

export function mountInfo(pid = 'self') {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
}

/** cgroup directories named name under /sys/fs/cgroup (find exits non-zero if one vanishes under it: ignored). */
export function cgroupDirs(name) {
  const r = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-type', 'd', '-name', name], { encoding: 'utf8', timeout: TIMEOUT_MS });
  return lines(r.stdout ?? '');
}

/** The v1 directory of controller ctrl of process pid, on the host. */
export function v1CgroupDir(pid, ctrl) {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(ctrl));
  assert.ok(line, `process ${pid} is in no v1 ${ctrl} cgroup`);
  return join('/sys/fs/cgroup', ctrl, line.split(':').slice(2).join(':'));
}

/** Capability bits by name (linux/capability.h). */
export const CAP_BITS = Object.fromEntries([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
].map((name, bit) => [name, bit]));

/** The capability mask of names, as /proc/PID/status prints it (16 hex digits). */
export function capHex(names) {
  let mask = 0n;
  for (const n of names) {
    assert.ok(n in CAP_BITS, `unknown capability ${n}`);
    mask |= 1n << BigInt(CAP_BITS[n]);
  }
  return mask.toString(16).padStart(16, '0');
}

// ---------------------------------------------------------------------------------------------
// Bundles

const APPLETS = [
  'sh', 'ls', 'cat', 'echo', 'id', 'hostname', 'ps', 'sleep', 'true', 'false', 'env', 'mount', 'umount', 'grep',
  'wc', 'stat', 'readlink', 'touch', 'mkdir', 'rm', 'pwd', 'kill', 'head', 'tail', 'tr', 'cut', 'sed', 'test',
  'uptime', 'ln', 'dd', 'printf', 'sysctl', 'uname', 'mknod', 'chmod', 'df', 'nproc',
];

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n';
export const GROUP = 'root:x:0:\ntty:x:5:\nuser:x:1000:\nextra:x:2000:\n';

/**
 * A busybox root filesystem at dir: /bin/busybox and its applets, /etc/passwd and /etc/group
 * (root and user 1000), and the usual empty directories.
 */
export function makeRootfs(dir) {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/user']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), PASSWD);
  writeFileSync(join(dir, 'etc', 'group'), GROUP);
}

/** A bundle: dir/config.json (from `runc spec`) and dir/rootfs. */
export class Bundle {
  constructor(dir, marker) {
    this.dir = dir;
    this.rootfs = join(dir, 'rootfs');
    this.configPath = join(dir, 'config.json');
    mkdirSync(dir, { recursive: true });
    makeRootfs(this.rootfs);
    ok(runSync(RUNC, ['spec'], { cwd: dir }));
    const c = JSON.parse(readFileSync(this.configPath, 'utf8'));
    // the defaults these tests start from: no terminal, a writable root, the scope's marker
    c.process.terminal = false;
    c.root.readonly = false;
    c.process.args = ['true'];
    c.process.env = [...c.process.env, `${MARK_VAR}=${marker}`];
    this.config = c;
    this.save();
  }

  /** Writes this.config to config.json. */
  save() {
    writeFileSync(this.configPath, `${JSON.stringify(this.config, null, 2)}\n`);
    return this;
  }

  /** Changes the config with fn(config) (which may return a new one) and saves it. */
  edit(fn) {
    const next = fn(this.config);
    if (next !== undefined) this.config = next;
    return this.save();
  }

  /** Sets process.args (and saves). */
  args(...args) {
    return this.edit((c) => { c.process.args = args; });
  }

  /** Sets process.args to sh -c script (and saves). */
  sh(script) {
    return this.args('sh', '-c', script);
  }

  /** Removes a namespace type from linux.namespaces, or (given a path) joins it. */
  namespace(type, { remove = false, path } = {}) {
    return this.edit((c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== type);
      if (!remove) c.linux.namespaces.push(path ? { type, path } : { type });
    });
  }

  addMount(m) {
    return this.edit((c) => { c.mounts.push(m); });
  }
}

// ---------------------------------------------------------------------------------------------
// A test's scope: its temp dir, state roots, ids, bundles, and the leak check at its end

export class Scope {
  constructor(name = 'test') {
    this.token = `hkoci${rand(6)}`;
    this.dir = mkdtempSync(`/tmp/hako-oci-${name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40)}-`);
    // searchable: a container's root in a user namespace is not the host's root
    chmodSync(this.dir, 0o711);
    this.root = join(this.dir, 'state');
    this.runcRoot = join(this.dir, 'runc-state');
    this.ids = new Set();
    this.runcIds = new Set();
    this.background = [];
    this.hostname = hostHostname();
    this.mountsBefore = new Set(lines(mountInfo()));
    // a number no other process on the machine has on its command line: sleep MARKER
    this.marker = String(8_000_000 + Math.floor(Math.random() * 1_000_000));
  }

  /** The environment every hako call of this scope gets. */
  env(extra = {}) {
    return { ...process.env, [MARK_VAR]: this.token, ...extra };
  }

  /** A fresh container id, recorded for the leak check. */
  id(prefix = 'c') {
    const id = `${prefix}-${this.token}-${this.ids.size + this.runcIds.size}`;
    this.ids.add(id);
    return id;
  }

  /** Records an id for runc's state root (cleaned up with runc). */
  runcId(prefix = 'r') {
    const id = `${prefix}-${this.token}-${this.ids.size + this.runcIds.size}`;
    this.runcIds.add(id);
    return id;
  }

  /** A new bundle under the scope's dir; fn(config) edits its config. */
  bundle(fn) {
    const b = new Bundle(join(this.dir, `bundle-${rand(3)}`), this.token);
    if (fn) b.edit(fn);
    return b;
  }

  /** A path under the scope's dir. */
  path(...parts) {
    return join(this.dir, ...parts);
  }

  /** hako --root ROOT ARGS (synchronously, bounded). */
  hako(args, options = {}) {
    const { env, globals = [], ...rest } = options;
    return runSync(HAKO, ['--root', this.root, ...globals, ...args], { env: env ?? this.env(), ...rest });
  }

  /**
   * hako ARGS for verbs that leave the container running (create, run -d, exec -d): its stdout and
   * stderr go to files, not pipes (a pipe would stay open as long as the container). The run's
   * stdout/stderr are read back when hako exits; outFile/errFile keep collecting the container's.
   */
  hakoDetached(args, options = {}) {
    const files = this.outputFiles();
    let r;
    try {
      r = this.hako(args, { stdio: ['ignore', ...files.fds], ...options });
    } finally {
      files.close();
    }
    return { ...r, ...files.read() };
  }

  /** Two new files for stdout and stderr, open for writing: fds, close(), read(). */
  outputFiles() {
    const n = rand(3);
    const outFile = this.path(`out-${n}`);
    const errFile = this.path(`err-${n}`);
    const fds = [openSync(outFile, 'w'), openSync(errFile, 'w')];
    return {
      fds,
      close: () => fds.forEach((fd) => closeSync(fd)),
      read: () => ({ stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8'), outFile, errFile }),
    };
  }

  /**
   * hako --root ROOT ARGS in the background. With toFiles, its stdout and stderr go to files (for
   * verbs that leave a container behind, which would hold pipes open): bg.result() reads them.
   */
  spawnHako(args, options = {}) {
    const { env, toFiles = false, ...rest } = options;
    const files = toFiles ? this.outputFiles() : undefined;
    if (files) rest.stdio = ['ignore', ...files.fds];
    let bg;
    try {
      bg = new Background(HAKO, ['--root', this.root, ...args], { env: env ?? this.env(), ...rest });
    } finally {
      files?.close();
    }
    this.background.push(bg);
    if (files) bg.result = async () => ({ ...(await bg.wait()), ...files.read() });
    return bg;
  }

  /** runc --root RUNCROOT ARGS. */
  runc(args, options = {}) {
    const { env, ...rest } = options;
    return runSync(RUNC, ['--root', this.runcRoot, ...args], { env: env ?? this.env(), ...rest });
  }

  /** hako state ID, parsed. */
  state(id) {
    return JSON.parse(ok(this.hako(['state', id])));
  }

  /** What this scope left behind, as readable lines (empty: nothing). */
  leftovers() {
    const found = [];
    // state: the root holds nothing but an empty lock directory
    if (existsSync(this.root)) {
      for (const name of readdirSync(this.root)) {
        if (name === '@locks') {
          const locks = readdirSync(join(this.root, name));
          if (locks.length) found.push(`locks in ${this.root}/@locks: ${locks.join(', ')}`);
        } else found.push(`state entry ${join(this.root, name)}`);
      }
    }
    for (const id of [...this.ids, ...this.runcIds]) {
      for (const d of cgroupDirs(id)) found.push(`cgroup ${d}`);
    }
    for (const l of lines(mountInfo())) {
      if (this.mountsBefore.has(l)) continue;
      if (l.includes(this.dir)) found.push(`mount ${l}`);
    }
    for (const p of processesWith({ text: this.token, envEntry: `${MARK_VAR}=${this.token}` })) found.push(`process ${p}`);
    for (const p of processesWith({ text: `sleep ${this.marker}` })) found.push(`process ${p}`);
    if (hostHostname() !== this.hostname) found.push(`the host's hostname changed: ${this.hostname} -> ${hostHostname()}`);
    return [...new Set(found)];
  }

  /** Waits (bounded) for exiting processes, returns the leftovers, then removes them and the temp dir. */
  async close() {
    for (const bg of this.background) await bg.stop();
    let found = [];
    try {
      await waitUntil(() => (found = this.leftovers()).length === 0, { timeoutMs: 5000, what: 'leftovers to go' });
    } catch { /* reported below */ }
    if (found.length) this.forceCleanup();
    rmSync(this.dir, { recursive: true, force: true });
    if (existsSync(this.dir)) found.push(`${this.dir} could not be removed`);
    return found;
  }

  /** Best effort: removes whatever a failing test or a buggy runtime left. */
  forceCleanup() {
    for (const id of this.ids) runSync(HAKO, ['--root', this.root, 'delete', '--force', id], { env: this.env() });
    for (const id of this.runcIds) runSync(RUNC, ['--root', this.runcRoot, 'delete', '--force', id]);
    for (const p of [...processesWith({ text: this.token, envEntry: `${MARK_VAR}=${this.token}` }), ...processesWith({ text: `sleep ${this.marker}` })]) {
      try { process.kill(Number(p.split(':')[0]), 'SIGKILL'); } catch { /* gone */ }
    }
    for (let i = 0; i < 50; i++) {
      const mine = lines(mountInfo()).filter((l) => !this.mountsBefore.has(l) && l.includes(this.dir));
      if (!mine.length) break;
      const target = mine[mine.length - 1].split(' ')[4];
      runSync('umount', ['-l', target]);
    }
    for (const id of [...this.ids, ...this.runcIds]) {
      for (const d of cgroupDirs(id).sort((a, b) => b.length - a.length)) {
        // bounded: the processes killed above may take a moment to leave it
        for (let i = 0; i < 20; i++) {
          try { rmdirSync(d); break; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); }
        }
      }
    }
    if (hostHostname() !== this.hostname) writeFileSync('/proc/sys/kernel/hostname', this.hostname);
  }
}

/**
 * Wraps a test body: fn(scope, t) runs with a fresh Scope; afterwards nothing may be left behind.
 * A failure of the body wins; leftovers are then added to its message.
 */
export function scoped(fn) {
  return async (t) => {
    const scope = new Scope(t.name);
    let error;
    try {
      await fn(scope, t);
    } catch (e) {
      error = e;
    }
    const found = await scope.close();
    if (error) {
      if (found.length && error instanceof Error) error.message += `\n(the test also left behind, now cleaned up:\n  ${found.join('\n  ')})`;
      throw error;
    }
    assert.deepEqual(found, [], 'the test left these behind (cleaned up now)');
  };
}

/** Runs a bundle in the foreground with hako and returns the run (stdout, stderr, status). */
export function hakoRun(scope, bundle, { id = scope.id(), args = [], ...options } = {}) {
  return scope.hako(['run', ...args, '-b', bundle.dir, id], options);
}

/** Runs a bundle in the foreground with runc. */
export function runcRun(scope, bundle, { id = scope.runcId(), ...options } = {}) {
  return scope.runc(['run', '-b', bundle.dir, id], options);
}

/** Starts a long-running container (sleep MARKER) with run -d; returns its id and host pid. */
export function runDetached(scope, bundle, { id = scope.id() } = {}) {
  const pidFile = scope.path(`${id}.pid`);
  const r = scope.hakoDetached(['run', '-d', '--pid-file', pidFile, '-b', bundle.dir, id]);
  ok(r);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(pid > 1 && isAlive(pid), `pid file ${pidFile} names no live process: ${pid}`);
  return { id, pid, outFile: r.outFile, errFile: r.errFile };
}

/** The config's process.args for a container that just waits (and is found by scope.marker). */
export function sleeper(scope) {
  return ['sleep', scope.marker];
}

/** Polls `hako state ID` (bounded) until its status is status; returns the state. */
export function waitStatus(scope, id, status, timeoutMs = 10_000) {
  let last;
  return waitUntil(() => {
    last = scope.state(id);
    return last.status === status ? last : undefined;
  }, { timeoutMs, what: () => `container ${id} to be ${status} (last: ${JSON.stringify(last)})` });
}

/** Deletes a container and asserts it is gone. */
export function removeContainer(scope, id) {
  ok(scope.hako(['delete', '--force', id]));
  oneLineError(scope.hako(['state', id]), { match: /does not exist/ });
}

/**
 * A scoped test given a Runtime (of the class passed: the bundle's or a module's) on the scope's
 * root whose warnings are collected; the helpers it spawns from this process carry the scope's
 * marker too.
 */
export function libraryTest(RuntimeClass, name, fn) {
  test(name, scoped(async (s) => {
    const before = process.env[MARK_VAR];
    process.env[MARK_VAR] = s.token;
    const warnings = [];
    try {
      await fn(s, new RuntimeClass({ root: s.root, warn: (m) => { warnings.push(m); } }), warnings);
    } finally {
      if (before === undefined) delete process.env[MARK_VAR];
      else process.env[MARK_VAR] = before;
    }
  }));
}
