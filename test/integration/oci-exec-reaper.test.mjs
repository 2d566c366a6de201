// exec -d hands its process to the caller's subreaper, as runc does: containerd's shim is a child
// subreaper that reaps what `exec --detach` leaves behind, and a Kubernetes exec probe
// (`crictl exec -s ID true`) waits for that exit. hako's H0 must never reap a process that has
// detached, even one that ended at once: it would take the exit from the shim (the probe hangs)
// and make the status hako's own exit code. A small C subreaper (subreaper.c, compiled here) runs
// 200 quick exec -d's under CPU load and checks that it reaped each pid in its pid file itself,
// with the real status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Background, HAKO, REPO, removeContainer, runDetached, scoped, sleeper } from './oci-util.mjs';

const CC = ['/usr/bin/cc', '/usr/bin/gcc'].find((p) => existsSync(p));
const RUNS = 200;

/** Builds subreaper.c into dir; returns its path. */
function buildSubreaper(dir) {
  const out = join(dir, 'subreaper');
  const r = spawnSync(CC, ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(REPO, 'test', 'integration', 'subreaper.c')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `cc subreaper.c: ${r.stderr}`);
  return out;
}

/** Two busy loops (bounded: 300 s of CPU at most, and stopped by the test and the scope). */
function cpuHogs(s) {
  const hogs = [0, 1].map(() => new Background('sh', ['-c', 'ulimit -t 300; while :; do :; done'], { env: s.env(), stdio: 'ignore' }));
  s.background.push(...hogs);
  return hogs;
}

test(`exec -d of a process that ends at once: the caller's subreaper reaps it with its status (${RUNS} runs under CPU load)`, { skip: CC ? false : 'no C compiler (cc) to build the subreaper' }, scoped(async (s) => {
  const subreaper = buildSubreaper(s.dir);
  const { id } = runDetached(s, s.bundle().args(...sleeper(s)));
  const hogs = cpuHogs(s);
  let result;
  try {
    // 4 at a time: the load that makes H0 late (it used to reap about 1 in 50 of them here)
    const bg = new Background(subreaper, [String(RUNS), '4', s.dir, HAKO, '--root', s.root, 'exec', '--detach', '--pid-file', '%P', id], { env: s.env() });
    s.background.push(bg);
    result = await bg.wait({ timeoutMs: 240_000 });
  } finally {
    for (const h of hogs) await h.stop();
  }
  assert.equal(result.status, 0, `the subreaper failed: ${result.stderr}`);
  const rows = result.stdout.trim().split('\n').map((l) => l.split(' ').map(Number));
  assert.equal(rows.length, RUNS, result.stdout);
  const bad = rows.filter(([i, hakoStatus, pid, status]) => hakoStatus !== 0 || pid <= 1 || status !== (i % 2 === 0 ? 7 << 8 : 0))
    .map(([i, hakoStatus, pid, status]) => {
      const command = i % 2 === 0 ? "sh -c 'exit 7'" : 'true';
      const err = readFileSync(s.path(`err-${i}`), 'utf8').trim();
      const got = status < 0 ? 'not reaped by the subreaper' : `reaped with wait status ${status}`;
      return `run ${i} (${command}): hako wait status ${hakoStatus}, pid ${pid} ${got}${err ? `; stderr: ${err}` : ''}`;
    });
  assert.deepEqual(bad, [], `${bad.length} of ${RUNS} exec -d's lost to the subreaper`);
  removeContainer(s, id);
}));
