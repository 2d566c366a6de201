// The typed op constructors (src/helper/ops.ts) against the op table (native/ops_table.h): one
// constructor per op kind, each knowing the op's required fields and emitting them; and the
// planners build ops only through them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OpKind, Tag } from '../../dist/src/helper/protocol.js';
import { OP_FIELDS, ops } from '../../dist/src/helper/ops.js';
import { PlanBuilder } from '../../dist/src/helper/plan-builder.js';

const opsTable = readFileSync(new URL('../../native/ops_table.h', import.meta.url), 'utf8');

/** The required fields of each row of HAKO_OPS: X(NAME, n, "name", stages, (required)). */
function cRequired() {
  const out = {};
  for (const m of opsTable.matchAll(/^\s*X\(([A-Z0-9_]+), (\d+), "[^"]+", [A-Z_ |]+, \(([^)]*)\)\)/gm)) {
    out[m[1]] = m[3].trim() === '0' ? [] : m[3].split(',').map((t) => t.trim().replace(/^T_/, ''));
  }
  return out;
}

const camel = (name) => name.toLowerCase().replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const TAG_NAME = Object.fromEntries(Object.entries(Tag).map(([k, v]) => [v, k]));
const SAMPLE = { s: 'x', i: 1, b: true, d: 'x', 's*': ['x'], 'i*': [1], 'l*': [[]] };

test('every op kind has a constructor and a field table, and nothing else does', () => {
  assert.deepEqual(Object.keys(OP_FIELDS).sort(), Object.keys(OpKind).sort());
  assert.deepEqual(Object.keys(ops).sort(), Object.keys(OpKind).map(camel).sort());
  for (const name of Object.keys(OpKind)) assert.equal(typeof ops[camel(name)], 'function', name);
});

test('the required fields of each op are those of native/ops_table.h', () => {
  const c = cRequired();
  assert.ok(Object.keys(c).length > 40, 'found the op rows');
  for (const [name, fields] of Object.entries(OP_FIELDS)) {
    const ts = Object.values(fields).filter((f) => f.required).map((f) => TAG_NAME[f.tag]).sort();
    assert.deepEqual(ts, [...c[name]].sort(), `required fields of ${name}`);
  }
});

test('each constructor emits its kind and its required fields, with the values given', () => {
  for (const [name, fields] of Object.entries(OP_FIELDS)) {
    const params = {};
    for (const [key, f] of Object.entries(fields)) if (f.required) params[key] = SAMPLE[f.type];
    if (name === 'SETNS') params.path = 'x'; // NSTYPE, and PATH or SLOT
    const op = ops[camel(name)](params);
    assert.equal(op.kind, OpKind[name], name);
    for (const [key, f] of Object.entries(fields)) {
      if (!f.required) continue;
      const got = op.fields.filter((x) => x.tag === f.tag).map((x) => x.value);
      const want = f.type === 'b' ? [1] : f.type.endsWith('*') ? SAMPLE[f.type] : [SAMPLE[f.type]];
      assert.deepEqual(got, want, `${name}.${key} (${TAG_NAME[f.tag]})`);
    }
  }
});

test('optional fields left undefined or false are not sent; an unknown one is refused', () => {
  assert.deepEqual(ops.mountInRoot({ root: 2, target: '/t', data: undefined, optional: false }).fields,
    [{ tag: Tag.ROOT, value: 2 }, { tag: Tag.TARGET, value: '/t' }]);
  assert.deepEqual(ops.openDir({ slot: 8, path: '/dev/null', anyFile: true }).fields,
    [{ tag: Tag.SLOT, value: 8 }, { tag: Tag.PATH, value: '/dev/null' }, { tag: Tag.TYPE, value: 1 }]);
  assert.throws(() => ops.mount({ target: '/', flag: 1 }), /op MOUNT has no field 'flag'/);
});

test('MKNOD sends uid then gid (both ID fields), whatever order they are given in', () => {
  const op = ops.mknod({ gid: 6, uid: 5, minor: 3, major: 1, mode: 0o20666, path: '/dev/null', root: 2 });
  assert.deepEqual(op.fields.map((f) => [TAG_NAME[f.tag], f.value]),
    [['ROOT', 2], ['PATH', '/dev/null'], ['MODE', 0o20666], ['VALUE', 1], ['VALUE2', 3], ['ID', 5], ['ID', 6]]);
});

test('PlanBuilder puts KIND first and keeps each op\'s description', () => {
  const b = new PlanBuilder().ns(ops.unshare({ flags: 0x20000 }), 'unshare mnt').init(ops.nnp(), 'nnp');
  assert.deepEqual(b.nsOps, [[{ tag: Tag.KIND, value: OpKind.UNSHARE }, { tag: Tag.FLAGS, value: 0x20000 }]]);
  assert.deepEqual(b.initOps, [[{ tag: Tag.KIND, value: OpKind.NNP }]]);
  assert.equal(b.describe('init', 0), 'nnp');
});

test('the planners build ops only through src/helper/ops.ts (no raw tags or op kinds)', () => {
  const src = new URL('../../src/', import.meta.url);
  const files = [
    ...readdirSync(new URL('plan/', src)).filter((f) => f.endsWith('.ts')).map((f) => `plan/${f}`),
    'toolkit/unshare.ts', 'toolkit/nsenter.ts', 'helper/plan-builder.ts',
  ];
  const raw = [];
  for (const f of files) {
    const text = readFileSync(new URL(f, src), 'utf8');
    for (const m of text.matchAll(/\bOpKind\.[A-Z_]+|\btag: Tag\.[A-Z_]+/g)) raw.push(`${f}: ${m[0]}`);
  }
  assert.deepEqual(raw.filter((r) => !r.startsWith('helper/plan-builder.ts: tag: Tag.KIND')), []);
});
