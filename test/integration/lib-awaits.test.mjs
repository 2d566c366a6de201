// A Runtime leaves the awaits of the process it runs in as fast as they were: its locks never turn
// AsyncLocalStorage on, whose hooks (once on, for the life of the process) made every await and
// callback of the caller's program several times slower (issue 10: 1e6 awaits 36 -> 149 ms after
// one foreground run). Measured in a fresh Node process (nothing else in it turned them on): the
// same loop of awaits before and after containers were run, created, started and deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE, REPO, ok, runSync, scoped } from './oci-util.mjs';

const CHILD = `
const { Runtime } = await import(${JSON.stringify(`${REPO}/dist/index.js`)});
const [root, bundle, prefix] = process.argv.slice(1);
const loop = async () => { let s = 0; for (let i = 0; i < 200000; i++) s += await Promise.resolve(i); return s; };
const time = async () => { const ms = []; for (let i = 0; i < 7; i++) { const t0 = performance.now(); await loop(); ms.push(performance.now() - t0); } return ms.sort((a, b) => a - b)[3]; };
await time();
const before = await time();
const rt = new Runtime({ root });
for (let i = 0; i < 3; i++) {
  const r = await rt.run(prefix + '-r' + i, { bundle, stdio: 'ignore' });
  if (r.exitCode !== 0) throw new Error('run exited ' + r.exitCode);
}
await rt.create(prefix + '-c', { bundle, stdio: 'ignore' });
await rt.start(prefix + '-c');
for (let i = 0; i < 500 && rt.state(prefix + '-c').status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 10));
await rt.delete(prefix + '-c');
await new Promise((r) => setTimeout(r, 50));
const after = await time();
process.stdout.write(JSON.stringify({ before, after, left: rt.list().length }));
`;

test('running, creating, starting and deleting containers leaves the process\'s awaits as fast as before (no AsyncLocalStorage hooks turned on)', scoped(async (s) => {
  const b = s.bundle().args('true');
  const prefix = s.id();
  for (const suffix of ['-r0', '-r1', '-r2', '-c']) s.ids.add(`${prefix}${suffix}`); // for the leak check
  const out = ok(runSync(NODE, ['--input-type=module', '-e', CHILD, s.root, b.dir, prefix], { env: s.env() }));
  const { before, after, left } = JSON.parse(out);
  assert.equal(left, 0);
  // the hooks cost 3-4x here; timing noise stays well under 2x for a median of 7
  assert.ok(after < before * 2, `200000 awaits took ${before.toFixed(1)} ms before the containers and ${after.toFixed(1)} ms after`);
}));
