// Where a warm Runtime.run spends its time: runs bench/lib-run.mjs under V8's CPU profiler and
// prints the functions with the most self time (the main thread), and for the top system calls
// (open, mkdir, rmdir, spawn...) the hako functions that made them. The .cpuprofile it writes is
// a flame graph in Chrome DevTools (Performance > Load profile) or https://www.speedscope.app.
// Usage: node bench/lib-profile.mjs --bundle DIR --root DIR [--n 100] [--out DIR] [--top 25]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const bundle = opt('bundle');
const root = opt('root');
if (!bundle || !root) {
  process.stderr.write('usage: node bench/lib-profile.mjs --bundle DIR --root DIR [--n 100] [--out DIR] [--top 25]\n');
  process.exit(2);
}
const out = opt('out', `/tmp/hako-bench/profile-${Date.now()}`);
const top = Number(opt('top', 25));
mkdirSync(out, { recursive: true });
const here = dirname(fileURLToPath(import.meta.url));
execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${out}`, join(here, 'lib-run.mjs'), '--bundle', bundle, '--root', root, '--n', opt('n', '100'), '--tp', '10', '--rounds', '1'], { stdio: 'inherit' });
const file = readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort().pop();
const p = JSON.parse(readFileSync(join(out, file), 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map();
p.samples.forEach((s, i) => selfUs.set(s, (selfUs.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${(n.callFrame.url || '').split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
const self = new Map();
for (const n of p.nodes) self.set(label(n), (self.get(label(n)) ?? 0) + (selfUs.get(n.id) ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const busy = total - (self.get('(idle) :-1') ?? 0);
console.log(`\nprofile: ${join(out, file)} (${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy)`);
console.log('self ms  share  function');
for (const [k, v] of [...self].filter(([k]) => k !== '(idle) :-1').sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(v / 1000).toFixed(1).padStart(7)} ${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
}
// the callers of the heaviest native calls
for (const name of ['open', 'mkdir', 'rmdir', 'unlink', 'rename', 'spawn']) {
  const agg = new Map();
  for (const n of p.nodes) {
    if (n.callFrame.functionName !== name || !selfUs.get(n.id)) continue;
    const chain = [];
    for (let id = parent.get(n.id); id !== undefined && chain.length < 4; id = parent.get(id)) chain.push(byId.get(id).callFrame.functionName || '(anonymous)');
    agg.set(chain.join(' < '), (agg.get(chain.join(' < ')) ?? 0) + selfUs.get(n.id));
  }
  const rows = [...agg].sort((a, b) => b[1] - a[1]).slice(0, 4);
  if (!rows.length) continue;
  console.log(`\n${name}: called from`);
  for (const [k, v] of rows) console.log(`${(v / 1000).toFixed(1).padStart(7)} ms  ${k}`);
}
