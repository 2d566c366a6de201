// The library in a warm Node process: N sequential unshare() calls against N spawnSync() calls of
// util-linux unshare with the same namespaces, and spawnSync('true') as the process-spawn floor,
// taking turns. unshare() forks its helper from the toolkit's zygote after the first call.
// Usage: node bench/lib-unshare.mjs [N] [--json]    (root: creates pid, mnt, uts, ipc, net namespaces)
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { unshare } from '../dist/index.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 200);
const warmup = Math.min(10, n);

const UTIL_ARGS = ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--mount-proc', 'true'];

/** @type {Record<string, { label: string, run: () => Promise<void> | void }>} */
const cases = {
  hako: {
    label: "unshare({ namespaces: ['pid','mnt','uts','ipc','net'], mountProc: true, command: ['true'] })",
    run: async () => {
      const r = await unshare({ namespaces: ['pid', 'mnt', 'uts', 'ipc', 'net'], mountProc: true, command: ['true'], stdio: 'ignore' });
      if (r.exitCode !== 0) throw new Error(`hako unshare exited ${r.exitCode}`);
    },
  },
  unshare: {
    label: `spawnSync('unshare', [${UTIL_ARGS.map((a) => `'${a}'`).join(', ')}])`,
    run: () => {
      const r = spawnSync('unshare', UTIL_ARGS, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`util-linux unshare exited ${r.status ?? r.signal}: ${r.error?.message ?? ''}`);
    },
  },
  spawn: {
    label: "spawnSync('true') (spawn floor, no namespaces)",
    run: () => {
      const r = spawnSync('true', [], { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`true exited ${r.status}`);
    },
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

// the cases take turns, one call each per round, so that a machine whose load changes during the
// run weighs on every case alike (their ratio is what counts)
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < warmup; i++) for (const c of Object.values(cases)) await c.run();
for (let i = 0; i < n; i++) {
  for (const [name, c] of Object.entries(cases)) {
    const t0 = performance.now();
    await c.run();
    times[name].push(performance.now() - t0);
  }
}
const results = {};
for (const [name, c] of Object.entries(cases)) {
  const t = times[name];
  results[name] = { label: c.label, n, median: median(t), min: Math.min(...t), p90: pct(t, 0.9), max: Math.max(...t) };
}
const ratio = results.hako.median / results.unshare.median;

if (json) {
  process.stdout.write(`${JSON.stringify({ n, warmup, results, ratio })}\n`);
} else {
  const f = (x) => x.toFixed(2).padStart(7);
  console.log(`${n} sequential calls each (after ${warmup} warm-up), ms per call:`);
  console.log('   median     min     p90     max');
  for (const r of Object.values(results)) console.log(`  ${f(r.median)} ${f(r.min)} ${f(r.p90)} ${f(r.max)}  ${r.label}`);
  console.log(`ratio hako/unshare (medians): ${ratio.toFixed(2)}`);
}
