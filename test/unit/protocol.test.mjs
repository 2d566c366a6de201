// The protocol's numbers live twice, in native/proto.h (tags, messages) or native/ops_table.h (the
// op table: kinds, stages, required fields) and src/helper/protocol.ts; they must agree, and both
// must be what docs/PROTOCOL.md says. Frames round-trip through the encoder and reader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeFrame, Fields, FrameReader, MessageType, OpKind, Tag } from '../../dist/src/helper/protocol.js';

import { SLOT } from '../../dist/src/plan/fields.js';

const header = readFileSync(new URL('../../native/proto.h', import.meta.url), 'utf8');
const opsTable = readFileSync(new URL('../../native/ops_table.h', import.meta.url), 'utf8');
const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

function cEnum(prefix) {
  const out = {};
  for (const m of header.matchAll(new RegExp(`\\b${prefix}_([A-Z0-9_]+) = (\\d+)`, 'g'))) out[m[1]] = Number(m[2]);
  return out;
}

/** The rows X(NAME, n) of HAKO_TAGS in proto.h. */
function cTags() {
  const out = {};
  for (const m of header.matchAll(/^\s*X\(([A-Z0-9_]+), (\d+)\)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** The rows of HAKO_OPS in ops_table.h: X(NAME, n, "name", stages, (required)). */
const STAGE_BITS = { S_HOST: 'H0', S_NS: 'H1', S_INIT: 'H2' };
function cOps() {
  const out = {};
  const row = /^\s*X\(([A-Z0-9_]+), (\d+), "([^"]+)", ([A-Z_ |]+), \(([^)]*)\)\)/gm;
  for (const m of opsTable.matchAll(row)) {
    const stages = m[4].split('|').map((s) => STAGE_BITS[s.trim()]);
    assert.ok(stages.every(Boolean), `stages of ${m[1]}: ${m[4]}`);
    const required = m[5].trim() === '0' ? [] : m[5].split(',').map((t) => t.trim().replace(/^T_/, ''));
    out[m[1]] = { kind: Number(m[2]), name: m[3], stages, required };
  }
  return out;
}

for (const [prefix, table] of [['MSG', MessageType]]) {
  test(`${prefix}_* in proto.h equal the TypeScript table`, () => {
    const c = cEnum(prefix);
    assert.ok(Object.keys(c).length > 5, `found ${prefix} constants in proto.h`);
    assert.deepEqual(c, { ...table });
  });
}

test('the tags of proto.h (HAKO_TAGS) equal the TypeScript table', () => {
  const c = cTags();
  assert.ok(Object.keys(c).length > 40, 'found the tag rows in proto.h');
  assert.deepEqual(c, { ...Tag });
});

test('the op table (native/ops_table.h) gives the TypeScript OpKind, and its fields are tags', () => {
  const ops = cOps();
  assert.ok(Object.keys(ops).length > 40, 'found the op rows in ops_table.h');
  assert.deepEqual(Object.fromEntries(Object.entries(ops).map(([k, v]) => [k, v.kind])), { ...OpKind });
  for (const [name, op] of Object.entries(ops)) for (const f of op.required) assert.ok(f in Tag, `${name} requires ${f}, a tag`);
});

test('the op table in docs/PROTOCOL.md has each op\'s stages and required fields', () => {
  const rows = {};
  for (const m of doc.matchAll(/^\| (\d+) \| ([A-Z_]+) \| ([H0-2/]+) \| ([^|]*) \|/gm)) rows[m[2]] = { kind: Number(m[1]), stages: m[3].split('/'), fields: m[4] };
  for (const [name, op] of Object.entries(cOps())) {
    const row = rows[name];
    assert.ok(row, `op ${name} is in the doc's table`);
    assert.equal(row.kind, op.kind, name);
    assert.deepEqual(row.stages, op.stages, `stages of ${name}`);
    for (const f of op.required) assert.match(row.fields, new RegExp(`\\b${f}\\b`), `${name}'s required ${f} in the doc`);
  }
});

test('the cgroup slot is the same in C (CGROUP_SLOT) and TypeScript (SLOT.CGROUP)', () => {
  const m = /#define CGROUP_SLOT (\d+)/.exec(opsTable);
  assert.ok(m, 'CGROUP_SLOT in ops_table.h');
  assert.equal(Number(m[1]), SLOT.CGROUP);
  assert.match(doc, new RegExp(`slot ${SLOT.CGROUP}\\b`));
});

test('every message type and op kind is documented with its number', () => {
  for (const [name, n] of Object.entries(MessageType)) assert.match(doc, new RegExp(`\\| ${n} \\| ${name} \\|`), `message ${name}`);
  for (const [name, n] of Object.entries(OpKind)) assert.match(doc, new RegExp(`\\| ${n} \\| ${name} \\|`), `op ${name}`);
  for (const [name, n] of Object.entries(Tag)) assert.match(doc, new RegExp(`\\| ${n} \\| ${name} \\|`), `tag ${name}`);
});

test('a frame split across chunks decodes to the same fields', () => {
  const frame = encodeFrame(MessageType.PLAN, 7, [
    { tag: Tag.PATH, value: '/x' }, { tag: Tag.VALUE, value: -1n }, { tag: Tag.VALUE2, value: 2 ** 40 },
    { tag: Tag.NS_OP, value: [{ tag: Tag.KIND, value: OpKind.UNSHARE }, { tag: Tag.FLAGS, value: 0x20000 }] },
  ]);
  const reader = new FrameReader();
  const frames = [...reader.push(frame.subarray(0, 5)), ...reader.push(frame.subarray(5, 20)), ...reader.push(frame.subarray(20))];
  assert.equal(frames.length, 1);
  assert.equal(frames[0].type, MessageType.PLAN);
  assert.equal(frames[0].seq, 7);
  const f = Fields.decode(frames[0].payload);
  assert.equal(f.str(Tag.PATH), '/x');
  assert.equal(f.int(Tag.VALUE), -1);
  assert.equal(f.int(Tag.VALUE2), 2 ** 40);
  const [op] = f.lists(Tag.NS_OP);
  assert.equal(op.int(Tag.KIND), OpKind.UNSHARE);
  assert.equal(op.int(Tag.FLAGS), 0x20000);
});

test('strings are written as UTF-8 whatever they hold: ASCII or not, short or long, a non-ASCII character after ASCII ones', () => {
  const long = 'x'.repeat(100);
  const values = ['', 'a', '/sys/fs/cgroup', 'é', 'abcé', `${'a'.repeat(63)}é`, `${'a'.repeat(64)}é`, `${long}é`, long, 'ü/ß/€/😀', '\u007f\u0080', 'a\ud800b'];
  const frame = encodeFrame(MessageType.PLAN, 1, values.map((value) => ({ tag: Tag.INIT_OP, value: [{ tag: Tag.PATH, value }, { tag: Tag.ID, value: 5 }] })));
  const [decoded] = new FrameReader().push(frame);
  const ops = Fields.decode(decoded.payload).lists(Tag.INIT_OP);
  assert.equal(ops.length, values.length);
  ops.forEach((op, i) => {
    // what Buffer makes of the string (a lone surrogate as U+FFFD), field by field
    assert.equal(op.str(Tag.PATH), Buffer.from(values[i], 'utf8').toString('utf8'), `value ${i}`);
    assert.equal(op.int(Tag.ID), 5);
  });
  assert.equal(frame.length, 12 + values.reduce((n, v) => n + 6 + (6 + Buffer.byteLength(v, 'utf8')) + (6 + 8), 0));
});

test('an integer is written as the same 8 bytes as its BigInt, negative, past 32 bits or at the safe limits', () => {
  for (const v of [0, 1, 255, 256, -1, -2, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, -(2 ** 32), 2 ** 40 + 3, -(2 ** 33) + 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    assert.deepEqual(encodeFrame(MessageType.PLAN, 1, [{ tag: Tag.VALUE, value: v }]), encodeFrame(MessageType.PLAN, 1, [{ tag: Tag.VALUE, value: BigInt(v) }]), String(v));
  }
  // a tag and a length past one byte
  const big = 'y'.repeat(70000);
  const [frame] = new FrameReader().push(encodeFrame(MessageType.PLAN, 1, [{ tag: 0x1234, value: big }]));
  assert.equal(frame.payload.readUInt16LE(0), 0x1234);
  assert.equal(frame.payload.readUInt32LE(2), 70000);
});

test('an oversized or truncated field list is refused', () => {
  assert.throws(() => Fields.decode(Buffer.from([1, 0, 9, 0, 0, 0, 1])), /malformed/);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(2 ** 21, 0);
  assert.throws(() => new FrameReader().push(head), /oversized/);
});
