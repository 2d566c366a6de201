// The protocol's numbers live twice, in native/proto.h and src/helper/protocol.ts; they must agree,
// and both must be what docs/PROTOCOL.md says. Frames round-trip through the encoder and reader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeFrame, Fields, FrameReader, MessageType, OpKind, Tag } from '../../dist/src/helper/protocol.js';

const header = readFileSync(new URL('../../native/proto.h', import.meta.url), 'utf8');
const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

function cEnum(prefix) {
  const out = {};
  for (const m of header.matchAll(new RegExp(`\\b${prefix}_([A-Z0-9_]+) = (\\d+)`, 'g'))) out[m[1]] = Number(m[2]);
  return out;
}

for (const [prefix, table] of [['MSG', MessageType], ['T', Tag], ['OP', OpKind]]) {
  test(`${prefix}_* in proto.h equal the TypeScript table`, () => {
    const c = cEnum(prefix);
    assert.ok(Object.keys(c).length > 5, `found ${prefix} constants in proto.h`);
    assert.deepEqual(c, { ...table });
  });
}

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

test('an oversized or truncated field list is refused', () => {
  assert.throws(() => Fields.decode(Buffer.from([1, 0, 9, 0, 0, 0, 1])), /malformed/);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(2 ** 21, 0);
  assert.throws(() => new FrameReader().push(head), /oversized/);
});
