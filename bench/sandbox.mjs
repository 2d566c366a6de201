// The sandbox against its peers, from one warm Node process, on one busybox rootfs made here from
// the host's static busybox, each running /bin/true:
//   hako pooled      SandboxPool.run(['/bin/true']) (sandboxes made ahead, reset in the background),
//                    back to back (bound by the pool's refill), and one run that finds a ready sandbox
//   hako fresh       Sandbox.create + run + close
//   runc run         `runc run` of a bundle on the rootfs (child_process.execFile, a new id each)
//   bwrap            `bwrap --unshare-all` with the rootfs bound read-only at /
//   podman run --rm  `podman run --rm --runtime runc --rootfs ROOTFS:O` (an overlay on the same directory;
//                    runc because crun refuses this host's hybrid cgroups, explicit ulimits because
//                    podman's default nofile is above this host's hard limit)
// At concurrency 1, 4 and 16: N runs each through a promise pool: runs/s, p50 and p99 latency.
// A peer that is not installed is left out. Prints a markdown table (--json: the figures).
// Usage: sudo node bench/sandbox.mjs [--n 40] [--only hako,runc,bwrap,podman] [--conc 1,4,16] [--json]
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sandbox, SandboxPool } from '../dist/index.js';

const run = promisify(execFile);
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const N = Number(opt('n', 40));
const CONC = opt('conc', '1,4,16').split(',').map(Number);
const only = opt('only', 'hako,runc,bwrap,podman').split(',');
const json = argv.includes('--json');

const dir = mkdtempSync('/tmp/hako-bench-sandbox-');
const rootfs = join(dir, 'rootfs');
for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'box']) mkdirSync(join(rootfs, d), { recursive: true });
chmodSync(join(rootfs, 'tmp'), 0o1777);
copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
for (const a of ['sh', 'true']) symlinkSync('busybox', join(rootfs, 'bin', a));
writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\n');

const which = async (cmd) => run('sh', ['-c', `command -v ${cmd}`]).then((r) => r.stdout.trim(), () => undefined);

// runc: a bundle whose rootfs is the same directory (read-only root), /bin/true
const bundle = join(dir, 'bundle');
const runcRoot = join(dir, 'runc-state');
let seq = 0;

const contenders = [];
if (only.includes('hako')) {
  // a pool of `size` sandboxes, ready once its first has run; each timed run is a pool.run()
  const pooled = (name, size, extra = {}) => ({
    name,
    setUp: async (c) => {
      const pool = new SandboxPool({ size: size(c), rootfs, root: join(dir, 'sb') });
      await pool.run(['/bin/true']); // waits for the pool's first sandbox
      return { pool };
    },
    once: async ({ pool }) => {
      const r = await pool.run(['/bin/true']);
      if (r.status !== 'ok') throw new Error(`hako pooled: ${r.status} ${r.error ?? ''}`);
    },
    tearDown: ({ pool }) => pool.close(),
    ...extra,
  });
  contenders.push(pooled('hako pooled (SandboxPool.run)', (c) => Math.max(2, c + 1)));
  // the latency of one run that finds a ready sandbox (its container made ahead): the pool is
  // given time to refill between runs (not timed); at concurrency 1 only
  contenders.push(pooled('hako pooled, a ready sandbox', () => 2, { only: [1], before: ({ pool }) => pool.ready() }));
  contenders.push({
    name: 'hako fresh (create+run+close)',
    once: async () => {
      const sb = await Sandbox.create({ rootfs, root: join(dir, 'sb') });
      try {
        const r = await sb.run(['/bin/true']);
        if (r.status !== 'ok') throw new Error(`hako fresh: ${r.status} ${r.error ?? ''}`);
      } finally {
        await sb.close();
      }
    },
  });
}
const runc = only.includes('runc') ? await which('runc') : undefined;
if (runc) {
  mkdirSync(bundle);
  await run(runc, ['spec', '--bundle', bundle]);
  const { readFileSync } = await import('node:fs');
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['/bin/true'];
  spec.root = { path: rootfs, readonly: true };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  contenders.push({ name: 'runc run', once: () => run(runc, ['--root', runcRoot, 'run', '--bundle', bundle, `hbs${process.pid}-${++seq}`]) });
}
const bwrap = only.includes('bwrap') ? await which('bwrap') : undefined;
if (bwrap) {
  contenders.push({ name: 'bwrap', once: () => run(bwrap, ['--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent', '/bin/true']) });
}
const podman = only.includes('podman') ? await which('podman') : undefined;
if (podman) {
  contenders.push({ name: 'podman run --rm', once: () => run(podman, ['run', '--rm', '--network', 'none', '--runtime', 'runc', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--rootfs', `${rootfs}:O`, '/bin/true']) });
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const rows = [];
try {
  for (const c of contenders) {
    for (const conc of CONC) {
     if (c.only && !c.only.includes(conc)) continue;
     try {
      const state = c.setUp ? await c.setUp(conc) : undefined;
      await c.once(state); // warm-up
      const lat = [];
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: conc }, async () => {
        while (next < N) {
          next++;
          if (c.before) await c.before(state);
          const s = performance.now();
          await c.once(state);
          lat.push(performance.now() - s);
        }
      }));
      const total = performance.now() - t0;
      if (c.tearDown) await c.tearDown(state);
      lat.sort((a, b) => a - b);
      const row = { name: c.name, concurrency: conc, runs: lat.length, perSecond: lat.length / (total / 1000), p50: pct(lat, 50), p99: pct(lat, 99) };
      rows.push(row);
      if (!json) process.stderr.write(`${row.name} c=${conc}: ${row.perSecond.toFixed(1)}/s p50 ${row.p50.toFixed(1)} ms p99 ${row.p99.toFixed(1)} ms\n`);
     } catch (e) {
      // a peer that cannot run here is reported, not fatal
      rows.push({ name: c.name, concurrency: conc, failed: String(e.stderr || e.message).trim().split('\n')[0] });
      break;
     }
    }
  }
} finally {
  if (runc) await run(runc, ['--root', runcRoot, 'list', '-q']).then(async (r) => {
    for (const id of r.stdout.split('\n').filter(Boolean)) await run(runc, ['--root', runcRoot, 'delete', '--force', id]).catch(() => undefined);
  }, () => undefined);
  await Sandbox.prune({ root: join(dir, 'sb') }).catch(() => undefined);
  if (existsSync(join(dir, 'sb'))) rmSync(join(dir, 'sb'), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}

if (json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  process.stdout.write(`\n/bin/true on one busybox rootfs, ${N} runs per cell, from one Node process\n\n`);
  process.stdout.write('| contender | concurrency | runs/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|\n');
  for (const r of rows) {
    if (r.failed) process.stdout.write(`| ${r.name} | ${r.concurrency} | failed: ${r.failed} | | |\n`);
    else process.stdout.write(`| ${r.name} | ${r.concurrency} | ${r.perSecond.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |\n`);
  }
}
