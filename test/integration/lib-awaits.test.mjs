// A Runtime leaves the awaits of the process it runs in as fast as they were: its locks never turn
// AsyncLocalStorage on, whose hooks (once on, for the life of the process) made every await and
// callback of the caller's program several times slower (issue 10: 1e6 awaits 36 -> 149 ms after
// one foreground run). Seen directly, not timed: in a fresh Node process, AsyncLocalStorage's run
// and enterWith are wrapped to note any use, and containers are run (by a Runtime, and by a
// one-shot one as the CLI and hako serve's workers use), created, started and deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE, REPO, ok, runSync, scoped } from './oci-util.mjs';

const CHILD = `
const hooks = await import('node:async_hooks');
const used = [];
for (const name of ['run', 'enterWith']) {
  const orig = hooks.AsyncLocalStorage.prototype[name];
  hooks.AsyncLocalStorage.prototype[name] = function (...args) { used.push(name); return orig.apply(this, args); };
}
const { Runtime } = await import(${JSON.stringify(`${REPO}/dist/index.js`)});
const [root, bundle, prefix] = process.argv.slice(1);
const rt = new Runtime({ root });
for (let i = 0; i < 3; i++) {
  const r = await rt.run(prefix + '-r' + i, { bundle, stdio: 'ignore' });
  if (r.exitCode !== 0) throw new Error('run exited ' + r.exitCode);
}
const once = new Runtime({ root, zygote: false });
once.oneShot = true;
const r = await once.run(prefix + '-o', { bundle, stdio: 'ignore' });
if (r.exitCode !== 0) throw new Error('one-shot run exited ' + r.exitCode);
await rt.create(prefix + '-c', { bundle, stdio: 'ignore' });
await rt.start(prefix + '-c');
for (let i = 0; i < 500 && rt.state(prefix + '-c').status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 10));
await rt.delete(prefix + '-c');
await new Promise((r) => setTimeout(r, 50));
process.stdout.write(JSON.stringify({ used, left: rt.list().length }));
`;

test('running, creating, starting and deleting containers never turns AsyncLocalStorage on (its hooks would slow every await of the process)', scoped(async (s) => {
  const b = s.bundle().args('true');
  const prefix = s.id();
  for (const suffix of ['-r0', '-r1', '-r2', '-o', '-c']) s.ids.add(`${prefix}${suffix}`); // for the leak check
  const out = ok(runSync(NODE, ['--input-type=module', '-e', CHILD, s.root, b.dir, prefix], { env: s.env() }));
  const { used, left } = JSON.parse(out);
  assert.equal(left, 0);
  assert.deepEqual(used, [], 'AsyncLocalStorage was used');
}));
