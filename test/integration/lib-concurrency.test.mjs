// Captured output under concurrency: many short commands at once through Runtime.run,
// Runtime.exec and unshare() while the CPU is loaded; every result must carry its exact output
// (the result waits for the captured streams to end, not only for the helper's exit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../../dist/src/runtime/runtime.js';
import { unshare } from '../../dist/src/toolkit/unshare.js';
import { MARK_VAR, scoped, sleeper, waitUntil, isAlive } from './oci-util.mjs';

/** Two busy loops (killed after seconds at the latest), stopped by the returned function. */
function loadCpu(seconds = 120) {
  const loops = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', timeout: seconds * 1000, killSignal: 'SIGKILL' }));
  return async () => {
    for (const p of loops) p.kill('SIGKILL');
    await Promise.all(loops.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
  };
}

test('200 concurrent runs, execs and unshares of echo N under CPU load: every output exact', { timeout: 240_000 }, scoped(async (s) => {
  const before = process.env[MARK_VAR];
  process.env[MARK_VAR] = s.token;
  const stopLoad = loadCpu();
  const rt = new Runtime({ root: s.root, warn: () => {} });
  const svc = s.id('svc');
  try {
    // one rootfs, one small bundle per run (its own echo N)
    const base = s.bundle().sh(`exec ${sleeper(s).join(' ')}`);
    const runs = 100;
    const bundles = Array.from({ length: runs }, (_, i) => {
      const dir = s.path(`b${i}`);
      mkdirSync(dir);
      const c = structuredClone(base.config);
      c.root.path = base.rootfs;
      c.root.readonly = true;
      c.process.args = ['echo', `run ${i}`];
      writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
      return dir;
    });
    await rt.create(svc, { bundle: base.dir, stdio: 'ignore' });
    await rt.start(svc);
    const ids = bundles.map(() => s.id());
    const jobs = [
      ...bundles.map((b, i) => rt.run(ids[i], { bundle: b, stdio: ['ignore', 'pipe', 'pipe'] }).then((r) => [`run ${i}`, r])),
      ...Array.from({ length: 50 }, (_, i) => rt.exec(svc, { args: ['echo', `exec ${i}`], cwd: '/', env: ['PATH=/bin'] }, { stdio: ['ignore', 'pipe', 'pipe'] })
        .then((r) => [`exec ${i}`, r])),
      ...Array.from({ length: 50 }, (_, i) => unshare({ command: ['echo', `unshare ${i}`], stdio: ['ignore', 'pipe', 'pipe'], env: s.env() })
        .then((r) => [`unshare ${i}`, r])),
    ];
    const results = await Promise.all(jobs);
    const wrong = results.filter(([want, r]) => r.exitCode !== 0 || r.stdout?.toString() !== `${want}\n` || r.stderr?.toString() !== '')
      .map(([want, r]) => `${want}: exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout?.toString())}, stderr ${JSON.stringify(r.stderr?.toString())}`);
    assert.deepEqual(wrong, [], `${wrong.length} of ${results.length} results were wrong`);
  } finally {
    await stopLoad();
    try { await rt.delete(svc, true); } catch { /* never created */ }
    if (before === undefined) delete process.env[MARK_VAR];
    else process.env[MARK_VAR] = before;
  }
}));
