// The OCI runtime as a library, in one warm Node process: Runtime.run() on a bundle whose process
// exits at once (/bin/true), as a long-running Node program would call it.
//   1. sequential: N runs one after the other (after a warm-up), ms per run;
//   2. throughput: TP containers, at most PAR at a time (a promise pool), ROUNDS times: containers/s;
//      --par takes a list (1,2,8): each concurrency in turn, in this one process.
// For both, the CPU this process spent per container: all its threads (process.cpuUsage: the
// main thread and libuv's threadpool) and the main thread alone (schedstat: what bounds the
// throughput of one event loop). The helper processes' own CPU is not counted.
// Every container has its own id (PREFIX-...); run() deletes it (state and cgroup) when it exits,
// and whatever is still listed under --root at the end is force-deleted and reported.
// --no-zygote: every helper spawned (Runtime option zygote: false), not forked by the Runtime's
// resident helper (the default).
// Usage: node bench/lib-run.mjs --bundle DIR --root DIR [--n 50] [--tp 50] [--par 2|1,2,8] [--rounds 5]
//          [--warmup 5] [--prefix ID] [--no-zygote] [--json]   (root: creates namespaces and cgroups)
// --json prints one line: seq, tp (the first concurrency's) and tps (one entry per concurrency).
import { mkdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

let Runtime;
try {
  ({ Runtime } = await import('../dist/index.js'));
} catch { /* older builds: the module itself */ }
if (!Runtime) ({ Runtime } = await import('../dist/src/runtime/runtime.js'));

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const json = argv.includes('--json');
const zygote = !argv.includes('--no-zygote');
const bundle = opt('bundle');
const root = opt('root');
if (!bundle || !root) {
  process.stderr.write('usage: node bench/lib-run.mjs --bundle DIR --root DIR [--n 50] [--tp 50] [--par 2|1,2,8] [--rounds 5] [--warmup 5] [--prefix ID] [--no-zygote] [--json]\n');
  process.exit(2);
}
const n = Number(opt('n', 50));
const tp = Number(opt('tp', 50));
const pars = String(opt('par', '2')).split(/[ ,]+/).filter(Boolean).map(Number);
if (!pars.length || pars.some((p) => !Number.isInteger(p) || p < 1)) {
  process.stderr.write(`lib-run: --par takes whole numbers from 1 (a list: 1,2,8), not '${opt('par')}'\n`);
  process.exit(2);
}
const rounds = Number(opt('rounds', 5));
const warmup = Number(opt('warmup', 5));
const prefix = opt('prefix', `hbl${process.pid}`);

mkdirSync(root, { recursive: true });
const rt = new Runtime({ root, ...(zygote ? {} : { zygote: false }) });

async function runOne(id) {
  const r = await rt.run(id, { bundle, stdio: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`container ${id} exited ${r.exitCode}`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** CPU ms so far: every thread of this process, and the main thread alone. */
const cpuNow = () => {
  const u = process.cpuUsage();
  let main = NaN;
  try { main = Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6; } catch { /* no schedstat */ }
  return { all: (u.user + u.system) / 1000, main };
};
const cpuPer = (c0, count) => {
  const c = cpuNow();
  return { allMs: (c.all - c0.all) / count, mainMs: (c.main - c0.main) / count };
};

let leftover = [];
try {
  for (let i = 0; i < warmup; i++) await runOne(`${prefix}-w${i}`);

  // 1. sequential
  const times = [];
  const seqCpu0 = cpuNow();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await runOne(`${prefix}-s${i}`);
    times.push(performance.now() - t0);
  }

  const seqCpu = cpuPer(seqCpu0, n);
  // 2. throughput: TP containers, PAR at a time, for each PAR
  const tps = [];
  for (const par of pars) {
    const tpCpu0 = cpuNow();
    const perSecond = [];
    const walls = [];
    for (let r = 0; r < rounds; r++) {
      let next = 0;
      const worker = async () => {
        while (next < tp) {
          const i = next++;
          await runOne(`${prefix}-t${par}-${r}-${i}`);
        }
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: Math.min(par, tp) }, worker));
      const wall = performance.now() - t0;
      walls.push(wall);
      perSecond.push(tp / (wall / 1000));
    }
    tps.push({ n: tp, par, rounds, wallMs: walls, perSecond, median: median(perSecond), cpu: cpuPer(tpCpu0, tp * rounds) });
  }

  const result = {
    node: process.version, bundle, root, warmup, zygote,
    seq: { n, median: median(times), min: Math.min(...times), p90: pct(times, 0.9), max: Math.max(...times), cpu: seqCpu },
    tp: tps[0],
    tps,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const f = (x) => x.toFixed(2);
    console.log(`sequential Runtime.run, ${n} runs after ${warmup} warm-up: median ${f(result.seq.median)} ms (min ${f(result.seq.min)}, p90 ${f(result.seq.p90)}, max ${f(result.seq.max)})`);
    console.log(`CPU of this process per container: sequential ${f(seqCpu.allMs)} ms (main thread ${f(seqCpu.mainMs)})`);
    for (const t of tps) {
      console.log(`throughput: ${tp} containers, ${t.par} at a time, ${rounds} rounds: median ${f(t.median)} containers/s (${t.perSecond.map(f).join(', ')}); CPU per container ${f(t.cpu.allMs)} ms (main thread ${f(t.cpu.mainMs)})`);
    }
  }
} finally {
  // nothing left: force-delete anything of ours still listed (there should be none)
  for (const s of rt.list().filter((c) => c.id.startsWith(prefix))) {
    leftover.push(s.id);
    try { await rt.delete(s.id, true); } catch (e) { process.stderr.write(`lib-run: delete ${s.id}: ${e.message}\n`); }
  }
  if (leftover.length) {
    process.stderr.write(`lib-run: ${leftover.length} containers were still listed after run() returned: ${leftover.join(' ')}\n`);
    process.exitCode = 1;
  }
}
