// The bad-input corpus (issue 9, bad-cases.mjs): runc refuses each config; hako must refuse it
// too, at create, with one line on stderr that names the JSON path, a non-zero exit, and nothing
// left behind (the Scope's leak check after every case). A case runc accepts is reported: it
// belongs in the differential corpus (cases.mjs) instead.
//
// HAKO_DIFF_ONLY=REGEX runs the matching cases only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { HAKO, NO_RUNC, RUNC, Scope } from '../integration/oci-util.mjs';
import { BAD_CASES } from './bad-cases.mjs';
import { defaultConfig, makeTemplate, runProc } from './harness.mjs';

const only = process.env.HAKO_DIFF_ONLY ? new RegExp(process.env.HAKO_DIFF_ONLY) : undefined;
const cases = BAD_CASES.filter((c) => !only || only.test(c.name));

async function runBad(c, base, template) {
  const scope = new Scope(`bad-${c.name}`);
  const out = { name: c.name, problems: [] };
  try {
    for (const [rt, bin, root, id] of [['runc', RUNC, scope.runcRoot, scope.runcId('b')], ['hako', HAKO, scope.root, scope.id('b')]]) {
      const bundle = join(scope.dir, rt);
      mkdirSync(bundle);
      cpSync(template, join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true });
      const config = structuredClone(base);
      const patched = c.patch(config, { rt, id, bundle, dir: scope.dir }) ?? config;
      writeFileSync(join(bundle, 'config.json'), typeof patched === 'string' ? patched : JSON.stringify(patched, null, 2));
      // to files: a create that succeeds leaves a container holding its stdout and stderr
      const files = { stdout: join(bundle, 'out'), stderr: join(bundle, 'err') };
      const r = await runProc(bin, ['--root', root, 'create', '--bundle', bundle, id], { env: scope.env(), cwd: bundle, ...files });
      r.stderr = readFileSync(files.stderr, 'utf8');
      out[rt] = r;
      if (r.status === 0) {
        out.problems.push(`${rt} accepted it`);
        await runProc(bin, ['--root', root, 'delete', '--force', id], { env: scope.env() });
      }
    }
    const h = out.hako;
    if (h.status !== 0) {
      const text = h.stderr;
      const errLines = text.replace(/\n$/, '').split('\n');
      const line = errLines[0].replace(/^hako: create: config\.json: /, 'hako: config.json: ');
      const want = `hako: config.json: ${c.where}`;
      if (h.signal) out.problems.push(`hako was killed by ${h.signal}`);
      if (!text.endsWith('\n') || errLines.length !== 1) out.problems.push(`hako's error is not one line:\n${text}`);
      else if (c.named ? !errLines[0].includes(c.where) : !(line === want || [':', '[', '.'].some((next) => line.startsWith(`${want}${next}`)) || (c.where === 'config.json' && line.startsWith('hako: config.json:')))) {
        out.problems.push(`hako's error does not name ${c.where}: ${errLines[0]}`);
      }
    }
    out.line = `${c.name.padEnd(36)} runc ${out.runc.status === 0 ? 'ok' : 'refused'}  hako ${h.status === 0 ? 'ok' : 'refused'}: ${h.stderr.trim().split('\n')[0]}`;
  } catch (e) {
    out.problems.push(e.stack ?? String(e));
  } finally {
    const leaks = await scope.close();
    if (leaks.length) out.problems.push(`left behind:\n  ${leaks.join('\n  ')}`);
  }
  return out;
}

test('the bad-input corpus has unique names and at least 25 cases', () => {
  const names = BAD_CASES.map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.length >= 25, `only ${names.length}`);
});

test('every config runc refuses, hako refuses with one line naming the JSON path, leaving nothing', { skip: NO_RUNC, timeout: 300_000 }, async (t) => {
  const work = `/tmp/hako-bad-template-${process.pid}`;
  mkdirSync(work, { recursive: true });
  try {
    const base = await defaultConfig(work);
    const template = makeTemplate(join(work, 'rootfs'));
    const results = [];
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < cases.length) {
        const c = cases[next++];
        results.push(await runBad(c, base, template));
      }
    }));
    results.sort((a, b) => a.name.localeCompare(b.name));
    for (const r of results) t.diagnostic(r.line ?? r.name);
    const failures = results.filter((r) => r.problems.length).map((r) => `${r.name}: ${r.problems.join('; ')}`);
    assert.deepEqual(failures, [], failures.join('\n'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
