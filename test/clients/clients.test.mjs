// Real clients drive hako: test/clients/check-clients.sh runs podman (+ conmon), containerd
// (+ ctr + containerd-shim-runc-v2), Docker 20.10 (a dockerd of its own) and containerd's CRI plugin
// (driven by crictl, as the kubelet does) against ./bin/hako on local busybox and pause images, and
// prints one "PASS name" / "FAIL name -- why" line per check and "N passed, M failed" at the end.
// The Docker and CRI checks run again with runc as the control (docker-runc/…, cri-runc/…).
// Every check line becomes a subtest here, then the summary and the exit status are checked, and
// finally that the run left nothing behind: containers, hako state, cgroups, processes, mounts,
// daemons, network namespaces, and no change to the host's network.
// Needs root and the packages of scripts/setup.sh --test. Takes ~2-3 min here (podman and
// containerd ~15 s, Docker ~25 s, CRI ~80 s with its 200 + 50 execs); bounded at 15 minutes.
// HAKO_SKIP_CLIENTS=1 skips it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// HAKO_TEST_SERVER=1 (npm run test:server): a warm `hako serve` for this file, named to the clients
// (and so to every bin/hako they start) by HAKO_SOCKET, as test/integration's files have it
import '../integration/util.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HAKO = join(ROOT, 'bin', 'hako');
const SCRIPT = join(ROOT, 'test', 'clients', 'check-clients.sh');

// the script's fixed locations (keep in step with check-clients.sh)
const CC = '/tmp/client-check';
const NS = 'hako-test';
const PODMAN = ['--root', `${CC}/podman/root`, '--runroot', `${CC}/podman/runroot`, '--tmpdir', `${CC}/podman/tmp`,
  '--network-config-dir', `${CC}/podman/netconf`, '--cgroup-manager=cgroupfs', '--events-backend=file', '--storage-driver', 'overlay'];
const SOCK = `${CC}/containerd.sock`;
const CD_PIDFILE = `${CC}/containerd/containerd.pid`;
const RUNC_ROOT = `${CC}/containerd/runc-root/${NS}`;
const TASK_DIR = `${CC}/containerd/state/io.containerd.runtime.v2.task/${NS}`;
const HAKO_ROOT = '/run/hako'; // hako's default --root: podman never passes one
const DOCKER = `${CC}/docker`; // dockerd's data-root, exec-root, pidfile, socket
const CRI = `${CC}/cri`; // the CRI containerd's root, state, socket, CNI config
const CG_PARENTS = ['hako-test-docker', 'hako-test-cri']; // dockerd's --cgroup-parent, the pods' cgroup_parent

const SCRIPT_TIMEOUT_MS = 15 * 60_000;
// 19 podman + 21 containerd + 103 docker (51 each for hako and runc, docker/start) + 96 CRI (46 each,
// cri/start, the two image imports, cri/images) (+ containerd's and docker's image imports on a first run)
const MIN_CHECKS = 239;

const skip = process.env.HAKO_SKIP_CLIENTS === '1' ? 'HAKO_SKIP_CLIENTS=1'
  : process.geteuid?.() !== 0 ? 'needs root (podman, containerd and dockerd run rootful)'
  : false;
if (!skip && spawnSync(HAKO, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status !== 0) {
  throw new Error(`clients test: ${HAKO} --version fails: build first (node scripts/build.mjs, sh native/build.sh)`);
}

// ------------------------------------------------------------------------------ leftovers
const sh = (file, args, opts = {}) => spawnSync(file, args, { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', ...opts });
const ls = (dir) => { try { return readdirSync(dir); } catch { return []; } };
const read = (path) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };

/** cgroup directories a client makes for these containers: libpod_parent, libpod-<id>, conmon, hako-test,
 *  hako-test-docker, hako-test-cri and below. */
function cgroups() {
  const r = sh('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-type', 'd',
    '(', '-name', 'libpod*', '-o', '-path', '*/libpod_parent/*', '-o', '-name', `${NS}*`, '-o', '-path', `*/${NS}*/*`, ')']);
  return r.stdout.split('\n').filter(Boolean); // find exits 1 when a directory vanishes under it: ignored
}

/** Live processes of this run: anything whose command line names /tmp/client-check (containerd, shims,
 *  dockerd and its containerd, crictl, conmon, podman cleanup, hako), or that sits in a libpod-* /
 *  hako-test* cgroup (container processes). */
function processes() {
  const out = [];
  for (const p of ls('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const stat = read(`/proc/${p}/stat`);
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (!stat || state === 'Z') continue; // gone, or a zombie waiting for PID 1 to reap it
    const cmd = read(`/proc/${p}/cmdline`).split('\0').filter(Boolean).join(' ');
    const cg = read(`/proc/${p}/cgroup`);
    if (cmd.includes(CC) || /\/libpod[-_]|\/hako-test(-docker|-cri)?(\/|$)/m.test(cg)) {
      out.push(`${p} ${cmd || stat.slice(stat.indexOf('('), stat.lastIndexOf(')') + 1)}`);
    }
  }
  return out;
}

const mounts = () => read('/proc/self/mountinfo').split('\n').filter((l) => l.includes(CC));
/** hako state directories (not @locks) under hako's default root, where podman's containers live. */
const hakoStates = () => ls(HAKO_ROOT).filter((e) => !e.startsWith('@'));
/** Directories and files the clients make outside /tmp/client-check when nothing stops them. */
const runDirs = () => ['/run/containerd', '/run/containers', '/run/docker', '/run/netns', '/var/lib/cni', '/etc/docker/key.json', '/opt/containerd']
  .filter((d) => existsSync(d));
/** The host's network as the clients could change it: links, addresses, routes, ip_forward, iptables. */
function network() {
  const out = [];
  for (const [file, args] of [['ip', ['-o', 'link', 'show']], ['ip', ['-o', 'addr', 'show']], ['ip', ['route', 'show']],
    ['iptables', ['-S']], ['iptables', ['-t', 'nat', '-S']]]) {
    const r = sh(file, args);
    if (r.error?.code === 'ENOENT') continue; // no iptables: nothing could have added rules with it
    // keep what the clients could change: a link's name and flags, an address without its lifetimes
    const keep = (l) => (file === 'ip' && args[1] === 'link' ? l.replace(/^\d+: (\S+) <([^>]*)>.*/, '$1 <$2>')
      : l.replace(/\\?\s+valid_lft.*/, '').trim());
    out.push(...r.stdout.split('\n').filter(Boolean).map((l) => `${file} ${args.join(' ')}: ${keep(l)}`));
  }
  out.push(`ip_forward=${read('/proc/sys/net/ipv4/ip_forward').trim()}`);
  return out;
}

function snapshot() {
  return { cgroups: cgroups(), processes: processes(), mounts: mounts(), hakoStates: hakoStates(), runDirs: runDirs(), network: network() };
}

// ------------------------------------------------------------------------------ the run
/** Runs the script; resolves with its exit, stdout and stderr. On timeout: SIGTERM (the script
 *  cleans up on TERM), then SIGKILL 3 minutes later. */
function runScript() {
  return new Promise((resolveRun) => {
    const child = spawn('bash', [SCRIPT, HAKO], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOCK_WAIT: process.env.LOCK_WAIT ?? '600' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    let timedOut = false;
    let killer;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    }, SCRIPT_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolveRun({ code, signal, stdout, stderr, timedOut });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** fn() until it returns an empty list (leftovers that are still on their way out), at most ms. */
async function settle(fn, ms = 10_000) {
  let left = fn();
  for (let waited = 0; left.length && waited < ms; waited += 250) {
    await sleep(250);
    left = fn();
  }
  return left;
}

const fresh = (now, before) => now.filter((x) => !before.includes(x));

let newCgroups = [];
after(() => {
  // best effort, after they were reported: leaked cgroups, deepest first, so a rerun starts clean
  for (const d of [...newCgroups].sort((a, b) => b.length - a.length)) {
    try { rmdirSync(d); } catch { /* busy or gone */ }
  }
});

test('podman, containerd, Docker and the CRI drive hako: test/clients/check-clients.sh', { skip, timeout: SCRIPT_TIMEOUT_MS + 240_000 }, async (t) => {
  const before = snapshot();
  for (const [k, v] of Object.entries(before)) {
    if (v.length && k !== 'runDirs' && k !== 'hakoStates' && k !== 'network') t.diagnostic(`already there before the run (${k}): ${v.join('; ')}`);
  }
  const r = await runScript();
  const tail = (s, n = 3000) => (s.length > n ? `...${s.slice(-n)}` : s);
  const show = `exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}${r.timedOut ? ', timed out' : ''}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;

  // the time each part took, the exec bursts, and the checks that passed only on a later try
  for (const [line] of r.stdout.matchAll(/^(time \S+: \d+ s|burst .*|retry .*)$/gm)) t.diagnostic(line);

  // ---- one subtest per check
  const checks = [...r.stdout.matchAll(/^(PASS|FAIL) (\S+)(?:  -- (.*))?$/gm)];
  for (const [, verdict, name, why] of checks) {
    await t.test(name, () => {
      assert.equal(verdict, 'PASS', `${name} failed: ${why ?? ''}\n(client output: ${CC}/run/out/${name.replace(/\//g, '_')}.txt)`);
    });
  }

  // ---- the summary and the exit status
  await t.test('summary: "N passed, 0 failed" and exit 0', () => {
    const m = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout);
    assert.ok(m, `no summary line\n${show}`);
    const [passed, failed] = [Number(m[1]), Number(m[2])];
    assert.equal(failed, 0, `${failed} checks failed\n${show}`);
    assert.equal(passed, checks.length, `summary says ${passed} passed, but ${checks.length} check lines were printed`);
    assert.ok(passed >= MIN_CHECKS, `only ${passed} checks ran (expected at least ${MIN_CHECKS}): some were skipped\n${show}`);
    assert.equal(r.code, 0, show);
    assert.equal(r.timedOut, false, show);
  });

  // ---- nothing left behind
  await t.test('nothing left: no podman containers in the script\'s store', () => {
    const hadRunContainers = before.runDirs.includes('/run/containers');
    const p = sh('podman', [...PODMAN, 'ps', '-a', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
    // rootful podman makes /run/containers/networks even for `ps`: undo that, as the script does
    if (!hadRunContainers) for (const d of ['/run/containers/networks', '/run/containers']) { try { rmdirSync(d); } catch { /* not empty or gone */ } }
    assert.equal(p.status, 0, `podman ps -a failed: ${p.stderr}`);
    assert.equal(p.stdout.trim(), '', 'containers left in podman\'s store');
    const storage = read(`${CC}/podman/root/overlay-containers/containers.json`).trim();
    assert.ok(storage === '' || storage === '[]', `containers left in containers/storage: ${storage}`);
  });

  await t.test('nothing left: containerd stopped, no tasks, no containerd containers', () => {
    const pid = Number(read(CD_PIDFILE).trim());
    if (pid && existsSync(`/proc/${pid}`) && read(`/proc/${pid}/cmdline`).includes(CC)) {
      const c = sh('ctr', ['--address', SOCK, '-n', NS, 'containers', 'ls', '-q']);
      assert.fail(`the script's containerd (pid ${pid}) is still running; containers: ${c.stdout.trim() || '(none)'}`);
    }
    assert.equal(existsSync(SOCK), false, `${SOCK} left`);
    assert.deepEqual(ls(TASK_DIR), [], `task bundles left in ${TASK_DIR}`);
    assert.deepEqual(ls(RUNC_ROOT).filter((e) => !e.startsWith('@')), [], `hako state left in ${RUNC_ROOT} (containerd's runtime root)`);
  });

  await t.test('nothing left: dockerd and its containerd stopped, no docker containers, no netns pinned', () => {
    const pid = Number(read(`${DOCKER}/dockerd.pid`).trim());
    assert.ok(!pid || !existsSync(`/proc/${pid}`) || !read(`/proc/${pid}/cmdline`).includes(DOCKER), `the script's dockerd (pid ${pid}) is still running`);
    const cpid = Number(read(`${DOCKER}/exec/containerd/containerd.pid`).trim());
    assert.ok(!cpid || !existsSync(`/proc/${cpid}`) || !read(`/proc/${cpid}/cmdline`).includes(DOCKER), `dockerd's containerd (pid ${cpid}) is still running`);
    assert.equal(existsSync(`${DOCKER}/docker.sock`), false, 'docker.sock left');
    assert.deepEqual(ls(`${DOCKER}/exec/netns`), [], 'network namespaces left in dockerd\'s exec-root');
    assert.deepEqual(ls(`${DOCKER}/root/containers`), [], 'containers left in dockerd\'s data-root');
    for (const d of ls(`${DOCKER}/exec`).filter((e) => e.startsWith('runtime-'))) {
      assert.deepEqual(ls(`${DOCKER}/exec/${d}/moby`).filter((e) => !e.startsWith('@')), [], `runtime state left in ${DOCKER}/exec/${d}/moby`);
    }
  });

  await t.test('nothing left: the CRI containerd stopped, no sandboxes, no pod network namespaces, no runtime state', () => {
    const pid = Number(read(`${CRI}/containerd.pid`).trim());
    assert.ok(!pid || !existsSync(`/proc/${pid}`) || !read(`/proc/${pid}/cmdline`).includes(CRI), `the CRI containerd (pid ${pid}) is still running`);
    assert.equal(existsSync(`${CRI}/containerd.sock`), false, 'the CRI containerd.sock left');
    assert.deepEqual(ls(`${CRI}/state/io.containerd.grpc.v1.cri/netns`), [], 'pod network namespaces left');
    assert.deepEqual(ls(`${CRI}/state/io.containerd.grpc.v1.cri/sandboxes`), [], 'sandbox state left');
    for (const h of ['hako-root', 'runc-root']) {
      assert.deepEqual(ls(`${CRI}/${h}/k8s.io`).filter((e) => !e.startsWith('@')), [], `runtime state left in ${CRI}/${h}/k8s.io`);
    }
    assert.deepEqual(ls(`${CRI}/cni/ipam/hako-test-cri`).filter((e) => /^\d/.test(e)), [], 'IP addresses still allocated');
  });

  await t.test('nothing left: the host\'s network unchanged (links, addresses, routes, iptables, ip_forward)', () => {
    const now = network();
    assert.deepEqual({ added: fresh(now, before.network), removed: fresh(before.network, now) }, { added: [], removed: [] });
  });

  await t.test(`nothing left: no hako state in ${HAKO_ROOT} (podman's containers)`, () => {
    assert.deepEqual(fresh(hakoStates(), before.hakoStates).filter((e) => /^[0-9a-f]{64}$/.test(e)), []);
  });

  await t.test('nothing left: no libpod-* / libpod_parent / hako-test cgroups', async () => {
    newCgroups = fresh(await settle(() => fresh(cgroups(), before.cgroups)), before.cgroups);
    assert.deepEqual(newCgroups, []);
  });

  await t.test('nothing left: no conmon, containerd, shim, podman or container processes', async () => {
    const left = fresh(await settle(() => fresh(processes(), before.processes)), before.processes);
    assert.deepEqual(left, []);
  });

  await t.test(`nothing left: no mounts under ${CC}, no /run/containerd, /run/containers, /run/docker, /run/netns, /var/lib/cni, /etc/docker/key.json or /opt/containerd made by the run`, async () => {
    assert.deepEqual(fresh(await settle(mounts), before.mounts), []);
    assert.deepEqual(fresh(runDirs(), before.runDirs), []);
  });
});
