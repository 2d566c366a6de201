// The differential test (issue 9): every case of cases.mjs runs under runc and under hako with
// the same rootfs and probe (harness.mjs); both must succeed with the same observations or both
// refuse, unless docs/differences-from-runc.md ("Differential corpus") explains the difference.
// Cases in PENDING_ELSEWHERE are reported as pending. Nothing may be left behind by any case.
//
// HAKO_DIFF_ONLY=REGEX runs the matching cases only; HAKO_DIFF_JOBS=N sets the parallelism (4);
// HAKO_DIFF_VERBOSE=1 prints every difference, documented or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { NO_RUNC } from '../integration/oci-util.mjs';
import { CASES, PENDING_ELSEWHERE } from './cases.mjs';
import { SYSTEMIC, documentedDifferences, runAll, table } from './harness.mjs';

const only = process.env.HAKO_DIFF_ONLY ? new RegExp(process.env.HAKO_DIFF_ONLY) : undefined;
const cases = CASES.filter((c) => !only || only.test(c.name));

test('the differential corpus has unique names, at least 80 cases, and the doc names only cases that exist', () => {
  const names = CASES.map((c) => c.name);
  assert.equal(new Set(names).size, names.length, 'duplicate case names');
  assert.ok(names.length >= 80, `only ${names.length} cases`);
  const documented = documentedDifferences();
  for (const n of [...documented.keys(), ...PENDING_ELSEWHERE]) assert.ok(names.includes(n) || n in SYSTEMIC, `${n} is not a case`);
  for (const n of Object.keys(SYSTEMIC)) assert.ok(documented.has(n), `the harness folds away ${n}, which docs/differences-from-runc.md does not explain`);
});

test('every config of the corpus: runc and hako agree (or the difference is documented)', { skip: NO_RUNC, timeout: 600_000 }, async (t) => {
  const documented = documentedDifferences();
  const rows = await runAll(cases, { jobs: Number(process.env.HAKO_DIFF_JOBS ?? 4) });
  const verdicts = new Map();
  const failures = [];
  for (const r of rows) {
    let v;
    if (r.skipped) v = 'skipped';
    else if (r.error) v = 'error';
    else if (r.same) v = 'same';
    else if (PENDING_ELSEWHERE.includes(r.name)) v = 'pending';
    else if (documented.has(r.name)) v = 'documented';
    else v = 'DIFF';
    if (r.leaks.length) v += '+LEAK';
    verdicts.set(r.name, v);
    if (v === 'error' || v.startsWith('DIFF') || v.endsWith('LEAK')) {
      failures.push(`${r.name}: ${v}\n${r.error ?? ''}${r.diff}${r.leaks.length ? `\nleft behind:\n  ${r.leaks.join('\n  ')}` : ''}`);
    } else if (process.env.HAKO_DIFF_VERBOSE && !r.same) t.diagnostic(`${r.name}: ${v}\n${r.diff}`);
  }
  for (const l of table(rows, verdicts).split('\n')) t.diagnostic(l);
  for (const r of rows.filter((x) => x.skipped)) t.diagnostic(`${r.name} skipped: ${r.skipped}`);
  assert.deepEqual(failures, [], failures.join('\n\n'));
});
