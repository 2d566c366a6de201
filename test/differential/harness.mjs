// The differential harness (issue 9): runs one config under runc and under hako with the same
// rootfs and the same probe (probe.sh), and compares what the two containers saw.
//
// Each runtime gets its own copy of the rootfs (runtimes create mount points in it), its own
// bundle directory, state root and container id, and goes through create, (host-side reads),
// start, wait for "stopped", delete, so every hook kind runs. The result of a run is one of
//   ok | refused@create | refused@start | failed@delete | timeout
// and, when ok, the probe's normalized output, the container's cgroup values read from the host,
// and what the hooks wrote. A case with mode 'run' goes through `run` in the foreground instead
// (its result: ok or "exit N"; no host-side reads).
//
// What is normalized, and why (each is a value that legitimately differs between two runtimes or
// two runs):
// - host paths: the case's temp dir, the runtime's bundle dir and the runtime name in it become
//   $CASE / $BUNDLE (runc and hako each run from their own copy);
// - container ids (d-TOKEN-N) become $ID: the two runtimes run under different ids;
// - pids in hook states become PID; pipe and socket inode numbers become N;
// - mountinfo: mount ids, parent ids and device numbers are dropped, peer group numbers
//   (shared:N, master:N) keep only their kind; lines are sorted (the order two runtimes make
//   independent mounts in is not a behaviour);
// - namespaces: each /proc/self/ns link is printed as host (the harness's own), joined (a
//   namespace of a helper process the case started) or new.
// Nothing else is normalized: a difference anywhere else is a difference.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { HAKO, RUNC, Scope, makeRootfs, MARK_VAR, sleep, waitUntil } from '../integration/oci-util.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PROBE = join(HERE, 'probe.sh');
export const CONSOLE_RECV = join(HERE, 'console-recv.py');
export const DOC = join(HERE, '..', '..', 'docs', 'differences-from-runc.md');

const RUNTIMES = { runc: RUNC, hako: HAKO };
const NS_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts'];
/** Cgroup v1 files the harness reads on the host for a created container. */
export const OUTSIDE_FILES = [
  ['memory', 'memory.limit_in_bytes'], ['memory', 'memory.soft_limit_in_bytes'], ['memory', 'memory.memsw.limit_in_bytes'],
  ['memory', 'memory.swappiness'], ['memory', 'memory.oom_control'], ['cpu', 'cpu.shares'], ['cpu', 'cpu.cfs_quota_us'],
  ['cpu', 'cpu.cfs_period_us'], ['cpu', 'cpu.rt_runtime_us'], ['pids', 'pids.max'], ['cpuset', 'cpuset.cpus'],
  ['cpuset', 'cpuset.mems'], ['blkio', 'blkio.weight'], ['devices', 'devices.list'], ['hugetlb', 'hugetlb.2MB.limit_in_bytes'],
  ['net_cls', 'net_cls.classid'], ['net_prio', 'net_prio.ifpriomap'],
];
const STEP_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// The rootfs every case starts from, and the default config

/** A busybox rootfs with the probe at /probe, made once per harness run in dir. */
export function makeTemplate(dir) {
  makeRootfs(dir);
  for (const d of ['hookout', 'mnt', 'srv', 'opt']) mkdirSync(join(dir, d), { recursive: true });
  cpSync(PROBE, join(dir, 'probe'));
  return dir;
}

/** The default config: `hako spec` (runc's, rootless false), run without a terminal, the probe as its process. */
export async function defaultConfig(tmp) {
  const r = await runProc(HAKO, ['spec', '--bundle', tmp]);
  if (r.status !== 0) throw new Error(`hako spec failed: ${r.stderr}`);
  const c = JSON.parse(readFileSync(join(tmp, 'config.json'), 'utf8'));
  rmSync(join(tmp, 'config.json'));
  c.process.terminal = false;
  c.process.args = ['/bin/sh', '/probe'];
  return c;
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Runs file args (bounded); stdio may name files. Returns { status, signal, stdout, stderr }. */
export function runProc(file, args, { env = process.env, cwd, stdout, stderr, timeoutMs = STEP_TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    const fds = [];
    const open = (p) => { const fd = openSync(p, 'a'); fds.push(fd); return fd; };
    const stdio = ['ignore', stdout ? open(stdout) : 'pipe', stderr ? open(stderr) : 'pipe'];
    const child = spawn(file, args, { env, cwd, stdio });
    fds.forEach((fd) => closeSync(fd));
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr?.setEncoding('utf8').on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve({ status: null, signal: null, stdout: out, stderr: `${err}${e.message}` }); });
    child.on('close', (status, signal) => { clearTimeout(timer); resolve({ status, signal, stdout: out, stderr: err }); });
  });
}

/** A process the case needs for as long as it runs (a namespace holder, a console receiver). */
export function startHelper(scope, file, args) {
  const child = spawn(file, args, { env: scope.env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  child.stderr.resume();
  const h = {
    pid: child.pid,
    child,
    output: () => out,
    exited: new Promise((res) => child.on('close', res)),
    exitStatus: null,
    async stop() { if (h.exitStatus === null) child.kill('SIGKILL'); await Promise.race([h.exited, sleep(5000)]); },
  };
  child.on('exit', (code, signal) => { h.exitStatus = { code, signal }; });
  scope.background.push(h);
  return h;
}

/** Waits (bounded) for check() to be truthy; undefined when it never was. */
const until = (check, ms = 5000) => waitUntil(check, { timeoutMs: ms, intervalMs: 20 }).catch(() => undefined);

/**
 * Starts a process holding new namespaces of the given types (unshare's names: uts, ipc, net,
 * pid, mount, cgroup, user) and returns the /proc path prefix of its namespaces.
 */
export async function nsHolder(ctx, types) {
  const flags = types.map((t) => `--${t}`);
  const fork = types.includes('pid') ? ['--fork'] : [];
  const h = startHelper(ctx.scope, 'unshare', [...flags, ...fork, 'sleep', ctx.scope.marker]);
  const pid = await until(() => {
    if (!fork.length) return existsSync(`/proc/${h.pid}/ns`) && readlinkSync(`/proc/${h.pid}/exe`).endsWith('sleep') ? h.pid : undefined;
    try {
      const kids = readFileSync(`/proc/${h.pid}/task/${h.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
      return kids.find((k) => { try { return readlinkSync(`/proc/${k}/exe`).endsWith('sleep'); } catch { return false; } });
    } catch { return undefined; }
  });
  if (!pid) throw new Error(`the namespace holder (unshare ${flags.join(' ')}) did not start`);
  if (pid !== h.pid) {
    const stop = h.stop;
    h.stop = async () => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } await stop(); };
  }
  for (const t of NS_TYPES) {
    try { ctx.joined.add(readlinkSync(`/proc/${pid}/ns/${t}`)); } catch { /* no such type */ }
  }
  return `/proc/${pid}/ns`;
}

// ---------------------------------------------------------------------------------------------
// One run

function hostNs() {
  const m = new Map();
  for (const t of NS_TYPES) {
    try { m.set(readlinkSync(`/proc/self/ns/${t}`), 'host'); } catch { /* no such type */ }
  }
  return m;
}

/** The container's cgroup values, read on the host from its init's cgroups. */
function outside(pid) {
  let cg;
  try { cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8'); } catch (e) { return `cannot read /proc/${pid}/cgroup: ${e.code}`; }
  const paths = {};
  for (const l of cg.split('\n').filter(Boolean)) {
    const [, ctrls, path] = l.split(/:(.*?):(.*)/s);
    for (const c of ctrls.split(',')) paths[c.replace(/^name=/, '')] = path;
  }
  const out = [`cgroup ${cg.trim().split('\n').sort().join(' ')}`];
  for (const [ctrl, file] of OUTSIDE_FILES) {
    if (paths[ctrl] === undefined) { out.push(`${ctrl}/${file} (no ${ctrl} cgroup)`); continue; }
    let v;
    try { v = readFileSync(join('/sys/fs/cgroup', ctrl, paths[ctrl], file), 'utf8').trim().replace(/\s*\n\s*/g, ' '); } catch (e) { v = `(${e.code})`; }
    out.push(`${ctrl}/${file} ${v}`);
  }
  return out.join('\n');
}

/**
 * Runs the case under one runtime: create, read the cgroups from the host, start, wait until
 * stopped, delete. Returns { result, probe, outside, hooks, log } with the raw texts.
 */
async function runUnder(rt, c, ctx) {
  const { scope } = ctx;
  const bin = RUNTIMES[rt];
  const id = rt === 'runc' ? scope.runcId('d') : scope.id('d');
  const root = rt === 'runc' ? scope.runcRoot : scope.root;
  const bundle = join(ctx.dir, rt);
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(bundle);
  cpSync(ctx.template, rootfs, { recursive: true, verbatimSymlinks: true });
  const hookout = join(bundle, 'hookout');
  mkdirSync(hookout);
  const rctx = { ...ctx, rt, id, bundle, rootfs, hookout };
  if (c.rootfs) c.rootfs(rootfs, rctx);
  const config = structuredClone(ctx.base);
  config.process.env = [...config.process.env, `${MARK_VAR}=${scope.token}`];
  const patched = c.patch ? c.patch(config, rctx) : undefined;
  const final = patched ?? config;
  writeFileSync(join(bundle, 'config.json'), typeof final === 'string' ? final : `${JSON.stringify(final, null, 2)}\n`);
  const outFile = join(bundle, 'out');
  const errFile = join(bundle, 'err');
  const log = [];
  const env = scope.env();
  const call = async (args, files = false) => {
    const r = await runProc(bin, ['--root', root, ...args], { env, cwd: bundle, ...(files ? { stdout: outFile, stderr: errFile } : {}) });
    log.push(`$ ${rt} ${args.join(' ')} -> ${r.status ?? r.signal}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
    return r;
  };
  let recv;
  const extra = [];
  if (final.process?.terminal) {
    const sock = join(bundle, 'console.sock');
    recv = startHelper(scope, 'python3', [CONSOLE_RECV, sock, join(bundle, 'tty-out')]);
    await until(() => recv.output().includes('ready') || recv.exitStatus, 5000);
    extra.push('--console-socket', sock);
  }
  const res = { id, bundle, result: 'ok', probe: '', outside: '', hooks: '', log };
  try {
    if (c.mode === 'run') {
      // `run` in the foreground (create, start, wait and delete in one): no host-side reads
      const ran = await call(['run', ...extra, '--bundle', bundle, id], true);
      res.result = ran.status === 0 ? 'ok' : `exit ${ran.status ?? ran.signal}`;
      res.outside = '(not read with run)';
      return res;
    }
    const created = await call(['create', ...extra, '--bundle', bundle, id], true);
    if (created.status !== 0) { res.result = 'refused@create'; return res; }
    let state;
    try { state = JSON.parse((await call(['state', id])).stdout); } catch { res.result = 'no-state'; return res; }
    res.outside = outside(state.pid);
    const started = await call(['start', id]);
    if (started.status !== 0) { res.result = 'refused@start'; return res; }
    const stopped = await until(() => {
      try {
        const s = readFileSync(`/proc/${state.pid}/stat`, 'utf8');
        return s.slice(s.lastIndexOf(')') + 2)[0] === 'Z';
      } catch { return true; }
    }, 15_000);
    if (!stopped) { res.result = 'timeout'; return res; }
    const del = await call(['delete', id]);
    if (del.status !== 0) res.result = 'failed@delete';
    if (recv) await Promise.race([recv.exited, sleep(5000)]);
  } finally {
    await call(['delete', '--force', id]).catch(() => {});
    log.pop();
    if (recv) await recv.stop();
    res.probe = readMaybe(recv ? join(bundle, 'tty-out') : outFile).replace(/\r\n/g, '\n');
    res.stderr = readMaybe(errFile);
    res.hooks = readHooks(hookout);
  }
  return res;
}

function readMaybe(p) {
  try { return readFileSync(p, 'utf8'); } catch { return ''; }
}

function readHooks(dir) {
  if (!existsSync(dir)) return '';
  return readdirSync(dir).sort().map((f) => `--- ${f}\n${readMaybe(join(dir, f)).replace(/^\{.*\}$/m, (json) => hookState(json, f))}`).join('\n');
}

/** all:hook-state-fields: the spec's fields of a hook's state. */
function hookState(json, kind) {
  let s;
  try { s = JSON.parse(json); } catch { return json; }
  // all:poststart-status (docs/differences-from-runc.md, first entry)
  if (kind === 'poststart' && ['created', 'running'].includes(s.status)) s.status = 'created|running';
  const keep = { id: s.id, status: s.status, bundle: s.bundle };
  if (['created', 'running'].includes(s.status)) keep.pid = s.pid;
  if (s.annotations) keep.annotations = s.annotations;
  return JSON.stringify(keep);
}

// ---------------------------------------------------------------------------------------------
// Normalization

function normalize(text, res, ctx) {
  let t = text;
  t = t.split(res.bundle).join('$BUNDLE');
  t = t.split(ctx.dir).join('$CASE');
  t = t.split(ctx.scope.dir).join('$SCOPE');
  t = t.split(res.id).join('$ID');
  // all:cgroup-path
  t = t.replace(/\/(?:[\w.-]+\/)*\$ID\b/g, '<cg>/$ID');
  // devices.list: the rules in order
  t = t.replace(/^(devices\/devices.list) (.*)$/gm, (m, k, v) => `${k} ${(v.match(/[abc] [\d*]+:[\d*]+ [rwm]+/g) ?? []).sort().join(' ')}`);
  t = t.replace(/(pipe|socket|anon_inode:\[?[a-z_]*\]?):\[\d+\]/g, '$1:[N]').replace(/"pid":\s*\d+/g, '"pid":PID');
  const ns = ctx.nsNames;
  t = t.replace(/\b([a-z_]+):\[(\d+)\]/g, (m, type, ino) => {
    const link = `${type}:[${ino}]`;
    if (ns.get(link) === 'host') return `${type}:host`;
    if (ctx.joined.has(link)) return `${type}:joined`;
    return `${type}:new`;
  });
  return sections(t);
}

/**
 * Differences every config shows, each explained in docs/differences-from-runc.md by its marker;
 * the harness folds them away so that the cases show what else differs.
 */
export const SYSTEMIC = {
  'all:cgroup-path': 'the default cgroups path: runc uses <its own cgroup>/<id>, hako /hako/<id>; the part before the id becomes <cg>',
  'all:masked-path-mounts': 'how a masked path is covered (runc: the container\'s /dev/null and an option-less read-only tmpfs; hako: the host\'s /dev/null and an empty mode 555 read-only tmpfs): printed as "masked file" / "masked dir"',
  'all:cgroup-v1-tmpfs': 'the tmpfs that holds the v1 hierarchies at /sys/fs/cgroup: hako makes it read-only with a read-only cgroup mount, runc leaves it writable: its options are dropped',
  'all:hook-state-fields': 'the state a hook reads: hako gives the ociVersion it implements and, beyond the spec\'s fields, rootfs, created and owner (as `hako state`), and the pid of a stopped container; only id, status, bundle, annotations and the pid of a created or running container are compared',
  'all:poststart-status': 'a poststart hook reads "running" from hako, "created" from runc 1.1 (see the first entry of the doc): both become "created|running"',
  'all:run-stdio': 'with `run` in the foreground and no terminal, runc gives the container pipes it copies from; hako gives it its own stdio: fds 0-2 are printed as "stdio"',
  'all:cgroup-v1-unified': 'on a hybrid host hako also binds the container\'s unified (cgroup2) directory at /sys/fs/cgroup/unified; runc 1.1 does not: that line is dropped',
};

function systemic(line) {
  const f = line.split(' ');
  const [point, opts, , fstype, , superopts] = f;
  if (line.endsWith(' root=/null')) return `${point} masked file`;
  if (fstype === 'tmpfs' && opts.startsWith('ro,') && /^ro(,size=0k,mode=555)?(,uid=\d+,gid=\d+)?$/.test(superopts)) return `${point} masked dir`;
  if (point.endsWith('/sys/fs/cgroup') && fstype === 'tmpfs') return `${point} tmpfs`;
  if (point.endsWith('/sys/fs/cgroup/unified') && fstype === 'cgroup2') return undefined;
  return line;
}

/** Normalizes the mountinfo section of a probe's output (see the header). */
function sections(t) {
  const out = [];
  let mode = '';
  let mounts = [];
  for (const l of t.split('\n')) {
    if (l.startsWith('== ')) {
      if (mode === 'mountinfo') out.push(...mounts.sort());
      mode = l.slice(3);
      mounts = [];
      out.push(l);
      continue;
    }
    if (mode === 'mountinfo' && /^\d+ \d+ \d+:\d+ /.test(l)) {
      const f = l.split(' ');
      const dash = f.indexOf('-');
      const optional = f.slice(6, dash).map((o) => o.replace(/:\d+$/, '')).sort().join(',');
      const [fstype, source, superopts] = f.slice(dash + 1);
      const m = systemic(`${f[4]} ${f[5]} [${optional}] ${fstype} ${source} ${superopts} root=${f[3]}`);
      if (m !== undefined) mounts.push(m);
      continue;
    }
    out.push(l);
  }
  if (mode === 'mountinfo') out.push(...mounts.sort());
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// A case under both runtimes

/**
 * Runs case c under runc then hako in a fresh Scope (its own temp dir, state roots and leak
 * check). Returns { name, runc, hako, same, diff, leaks }.
 */
export async function runCase(c, { base, template }) {
  if (c.skip) return { name: c.name, runc: 'skipped', hako: 'skipped', same: true, skipped: c.skip, diff: '', leaks: [] };
  const scope = new Scope(`diff-${c.name}`);
  const ctx = { scope, dir: scope.dir, base, template, joined: new Set(), nsNames: hostNs(), helpers: {} };
  const row = { name: c.name, runc: undefined, hako: undefined, same: false, diff: '', leaks: [] };
  try {
    // setupEach: the setup again for each runtime (a mount namespace joined by path is pivoted
    // into the container's rootfs by both runtimes, so each needs one of its own)
    if (c.setup && !c.setupEach) await c.setup(ctx);
    const raw = {};
    for (const rt of ['runc', 'hako']) {
      if (c.setup && c.setupEach) await c.setup(ctx);
      raw[rt] = await runUnder(rt, c, ctx);
    }
    const view = {};
    for (const rt of ['runc', 'hako']) {
      const r = raw[rt];
      view[rt] = {
        result: r.result,
        // (a run whose process exited non-zero still ran it: what it saw counts)
        text: r.result === 'ok' || r.result.startsWith('exit')
          ? [normalize(c.mode === 'run' ? r.probe.replace(/^([012]) .*$/gm, '$1 stdio') : r.probe, r, ctx), '== outside', normalize(r.outside, r, ctx), '== hooks', normalize(r.hooks, r, ctx)].join('\n')
          : '',
      };
      row[rt] = r.result;
      row[`${rt}Log`] = r.log.join('\n');
      // HAKO_DIFF_DUMP=DIR: what each runtime's container saw, normalized, for reading
      if (process.env.HAKO_DIFF_DUMP) writeFileSync(join(process.env.HAKO_DIFF_DUMP, `${c.name}.${rt}.txt`), `${r.result}\n${view[rt].text}\n`);
    }
    row.same = view.runc.result === view.hako.result && view.runc.text === view.hako.text;
    if (!row.same) row.diff = diffText(view.runc, view.hako, raw);
  } catch (e) {
    row.error = e.stack ?? String(e);
  } finally {
    if (c.teardown) await c.teardown(ctx);
    row.leaks = await scope.close();
  }
  return row;
}

function diffText(a, b, raw) {
  if (a.result !== b.result) {
    return `runc: ${a.result}, hako: ${b.result}\n${raw.runc.log.join('\n')}\n${raw.hako.log.join('\n')}\n--- runc stderr\n${raw.runc.stderr}--- hako stderr\n${raw.hako.stderr}`;
  }
  const al = a.text.split('\n');
  const bl = b.text.split('\n');
  const bs = new Set(bl);
  const as = new Set(al);
  const onlyA = al.filter((l) => !bs.has(l)).map((l) => `- runc: ${l}`);
  const onlyB = bl.filter((l) => !as.has(l)).map((l) => `+ hako: ${l}`);
  return [...onlyA, ...onlyB].slice(0, 60).join('\n') || '(same lines, different order)';
}

/** Runs the cases, jobs at a time; onRow(row) after each. */
export async function runAll(cases, { jobs = 4, onRow } = {}) {
  const work = join(`/tmp/hako-diff-template-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  try {
    const base = await defaultConfig(work);
    const template = makeTemplate(join(work, 'rootfs'));
    const rows = new Array(cases.length);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        rows[i] = await runCase(cases[i], { base, template });
        onRow?.(rows[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, cases.length) }, worker));
    return rows;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The documented differences

/**
 * The cases docs/differences-from-runc.md explains, from its "Differential corpus" section: each
 * line "- `case-name`: why" (a "not yet" reason marks a difference still to be fixed).
 */
export function documentedDifferences(doc = readFileSync(DOC, 'utf8')) {
  const at = doc.indexOf('\n## Differential corpus');
  if (at < 0) return new Map();
  const section = doc.slice(at + 1).split(/\n## /)[0];
  const m = new Map();
  for (const l of section.split('\n')) {
    const hit = /^- ((?:`[a-z0-9][a-z0-9.:-]*`(?:, )?)+):?\s*(.*)$/.exec(l);
    if (hit) for (const n of hit[1].match(/[^`, ]+/g)) m.set(n, hit[2]);
  }
  return m;
}

/** A table: name, runc result, hako result, verdict. */
export function table(rows, verdicts) {
  const w = Math.max(4, ...rows.map((r) => r.name.length));
  const head = `${'case'.padEnd(w)}  ${'runc'.padEnd(15)} ${'hako'.padEnd(15)} verdict`;
  return [head, ...rows.map((r) => `${r.name.padEnd(w)}  ${String(r.runc).padEnd(15)} ${String(r.hako).padEnd(15)} ${verdicts.get(r.name)}`)].join('\n');
}
