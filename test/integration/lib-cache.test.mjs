// What a Runtime keeps between containers (issue 10): each bundle's checked config.json, read
// again only when the file changes. Each cache is seen through Runtime.cacheCounts() (a counter,
// not timing), and each test checks that a change made between two runs takes effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { Runtime } from '../../dist/src/runtime/runtime.js';
import { ok, runSync, scoped } from './oci-util.mjs';

/** run id in the foreground with stdout piped: its output. */
async function output(rt, id, options) {
  const r = await rt.run(id, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  assert.equal(r.exitCode, 0, `run ${id}: ${r.stderr}`);
  return r.stdout.toString();
}

test('config.json is read and checked once per bundle, and again whenever it changes (same size, same mtime, a new inode)', scoped(async (s) => {
  const warnings = [];
  const rt = new Runtime({ root: s.root, warn: (m) => warnings.push(m) });
  const b = s.bundle().args('echo', 'aa');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'aa\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 0, misses: 1 });
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'aa\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 1, misses: 1 }, 'the second run of an unchanged bundle is a hit');

  // the same size and the same mtime (set back): the change still counts (ctime, which no one sets back)
  const st = statSync(b.configPath, { bigint: true });
  b.args('echo', 'bb');
  ok(runSync('touch', ['-m', '-d', `@${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, '0')}`, b.configPath]));
  assert.equal(statSync(b.configPath, { bigint: true }).mtimeNs, st.mtimeNs, 'the mtime is set back');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'bb\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 1, misses: 2 });

  // a new file renamed over it (a new inode)
  const next = { ...b.config, process: { ...b.config.process, args: ['echo', 'cc'] } };
  writeFileSync(`${b.configPath}.new`, JSON.stringify(next));
  renameSync(`${b.configPath}.new`, b.configPath);
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'cc\n');
  assert.deepEqual(rt.cacheCounts().config, { hits: 1, misses: 3 });

  // a config that became invalid is refused, and a fixed one runs again
  writeFileSync(b.configPath, '{"ociVersion": "1.0.2", "process": ');
  await assert.rejects(rt.run(s.id(), { bundle: b.dir, stdio: 'ignore' }), /config\.json: not valid JSON/);
  b.args('echo', 'dd');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'dd\n');

  // a cached config is never changed by a container's overrides, and its warnings come every time
  assert.equal(await output(rt, s.id(), { bundle: b.dir, args: ['echo', 'override'] }), 'override\n');
  assert.equal(await output(rt, s.id(), { bundle: b.dir }), 'dd\n');
  b.edit((c) => { c.linux.resources = { ...c.linux.resources, memory: { kernel: 1 << 30 } }; });
  warnings.length = 0;
  await output(rt, s.id(), { bundle: b.dir });
  await output(rt, s.id(), { bundle: b.dir });
  assert.equal(warnings.filter((w) => /kernel/.test(w)).length, 2, `a warning per run: ${warnings.join(' | ')}`);
  assert.deepEqual(rt.list(), []);
}));
