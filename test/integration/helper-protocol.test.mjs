// The C helper against what P may send it: malformed frames and field lists, ops in the wrong stage
// or without a required field, replies larger than its old fixed buffer, and a hook that never
// reads its stdin. Each gets an ERROR (or, for a broken transport, exit 2), never a crash (no
// SIGSEGV/SIGABRT) and never a hang: every run here is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fields, FrameReader, MessageType, OpKind, Tag, encodeFrame } from '../../dist/src/helper/protocol.js';
import { helperRequest, helperPath } from '../../dist/src/helper/session.js';
import { scoped, show } from './oci-util.mjs';

/**
 * Spawns the helper as session.ts does (the control socket on fd 3), writes `bytes`, ends its
 * side, and collects every frame until the helper exits (at most `timeoutMs`).
 */
function talk(bytes, { timeoutMs = 10_000, keepOpen = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(helperPath, [], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: {} });
    const control = child.stdio[3];
    const reader = new FrameReader();
    const frames = [];
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    control.on('data', (chunk) => {
      try {
        for (const f of reader.push(chunk)) frames.push({ type: f.type, fields: Fields.decode(f.payload) });
      } catch (e) {
        frames.push({ type: -1, error: String(e) });
      }
    });
    control.on('error', () => {});
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // the last frames may still be in flight on the socket
      setTimeout(() => resolve({ code, signal, frames, stderr, timedOut }), 50);
    });
    control.write(bytes);
    if (!keepOpen) control.end();
  });
}

function errors(r) {
  return r.frames.filter((f) => f.type === MessageType.ERROR).map((f) => `${f.fields.str(Tag.OP)}: ${f.fields.str(Tag.MESSAGE)}`);
}

function describe(r) {
  return `exit ${r.code} signal ${r.signal} timedOut ${r.timedOut}\nframes: ${JSON.stringify(r.frames.map((f) => [f.type, f.type === MessageType.ERROR ? errors({ frames: [f] })[0] : f.fields?.int(Tag.STATUS)]))}\nstderr: ${r.stderr}`;
}

/** Neither a crash nor a hang; and an ERROR matching `match` (if given). */
function assertClean(r, { match, code } = {}) {
  assert.equal(r.timedOut, false, `the helper hung\n${describe(r)}`);
  assert.equal(r.signal, null, `the helper died by a signal\n${describe(r)}`);
  for (const f of r.frames) {
    if (f.type !== MessageType.EXITED) continue;
    assert.equal(f.fields.int(Tag.SIGNAL), undefined, `a stage died by a signal\n${describe(r)}`);
  }
  // (for a scratch build with -fsanitize=address,undefined run through HAKO_HELPER)
  assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, describe(r));
  if (code !== undefined) assert.equal(r.code, code, describe(r));
  if (match) assert.ok(errors(r).some((e) => match.test(e)), `an ERROR matching ${match}\n${describe(r)}`);
}

/** A frame header with any length and type, and raw payload bytes. */
function rawFrame(len, type, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(len >>> 0, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt32LE(1, 8);
  return Buffer.concat([h, payload]);
}

/** One raw field: tag, the length written (maybe a lie), the bytes. */
function rawField(tag, bytes, len = bytes.length) {
  const h = Buffer.alloc(6);
  h.writeUInt16LE(tag, 0);
  h.writeUInt32LE(len >>> 0, 2);
  return Buffer.concat([h, bytes]);
}

const plan = (fields) => encodeFrame(MessageType.PLAN, 1, fields);
const op = (tag, kind, fields = []) => ({ tag, value: [{ tag: Tag.KIND, value: kind }, ...fields] });
const CLONE_NEWUTS = 0x04000000;

test('broken transport: a truncated header or payload, or a frame over 1 MiB, ends the helper with exit 2 (after an ERROR it can send)', async () => {
  const header = await talk(rawFrame(100, MessageType.NSINFO).subarray(0, 5));
  assertClean(header, { code: 2 });
  const payload = await talk(Buffer.concat([rawFrame(100, MessageType.NSINFO), Buffer.alloc(10)]));
  assertClean(payload, { code: 2, match: /truncated/ });
  const huge = await talk(rawFrame(0xffffffff, MessageType.PLAN));
  assertClean(huge, { code: 2, match: /longer than 1 MiB/ });
});

test('an unknown message type gets an ERROR naming it', async () => {
  const r = await talk(rawFrame(0, 99));
  assertClean(r, { code: 2, match: /type 99/ });
});

test('field lists whose lengths run past their end get an ERROR', async () => {
  // PLAN: an NS_OP claiming 4 GiB
  const p = rawField(Tag.NS_OP, Buffer.alloc(8), 0xfffffff0);
  assertClean(await talk(rawFrame(p.length, MessageType.PLAN, p)), { code: 1, match: /malformed plan/ });
  // NSINFO: a PATH longer than the frame
  const n = rawField(Tag.PATH, Buffer.from('/proc/self/ns/net'), 1000);
  assertClean(await talk(rawFrame(n.length, MessageType.NSINFO, n)), { code: 1, match: /malformed field list/ });
  // an op whose own field list is cut short
  const inner = Buffer.concat([rawField(Tag.KIND, Buffer.alloc(8)), Buffer.from([7, 0, 200, 0])]);
  const o = rawField(Tag.NS_OP, inner);
  assertClean(await talk(rawFrame(o.length, MessageType.PLAN, o)), { match: /malformed field list/ });
});

test('an integer field of the wrong size and a string with a NUL byte get an ERROR naming the field', async () => {
  const explain = rawField(Tag.EXPLAIN, Buffer.alloc(2));
  assertClean(await talk(rawFrame(explain.length, MessageType.PLAN, explain)), { code: 1, match: /EXPLAIN/ });
  const kind = rawField(Tag.NS_OP, rawField(Tag.KIND, Buffer.alloc(4)));
  assertClean(await talk(rawFrame(kind.length, MessageType.PLAN, kind)), { match: /KIND.*8-byte/ });
  const nul = rawField(Tag.PATH, Buffer.from('/proc/self/ns/net\0/etc/shadow'));
  assertClean(await talk(rawFrame(nul.length, MessageType.NSINFO, nul)), { code: 1, match: /PATH contains a NUL/ });
});

test('an op without a required field is an ERROR naming the op and the field, not a crash', async () => {
  // HOSTNAME without NAME (strlen(NULL) before the op table), in a new UTS namespace all the same
  const r = await talk(plan([op(Tag.NS_OP, OpKind.UNSHARE, [{ tag: Tag.FLAGS, value: CLONE_NEWUTS }]), op(Tag.INIT_OP, OpKind.HOSTNAME)]));
  assertClean(r, { match: /sethostname \(kind 17\) needs field NAME/ });
  const exited = r.frames.find((f) => f.type === MessageType.EXITED);
  assert.ok(exited, describe(r));
  assert.equal(exited.fields.int(Tag.STATUS), 1, describe(r));
  // OPEN_DIR without SLOT, SETNS with neither PATH nor SLOT, an unknown kind
  assertClean(await talk(plan([op(Tag.NS_OP, OpKind.OPEN_DIR, [{ tag: Tag.PATH, value: '/' }])])), { match: /open \(kind 5\) needs field SLOT/ });
  assertClean(await talk(plan([op(Tag.NS_OP, OpKind.SETNS, [{ tag: Tag.NSTYPE, value: CLONE_NEWUTS }])])), { match: /needs field PATH or SLOT/ });
  assertClean(await talk(plan([op(Tag.NS_OP, 999)])), { match: /unknown op kind 999/ });
});

test('an op in a stage the op table does not allow is refused with an ERROR naming both', async () => {
  const r = await talk(plan([op(Tag.HOST_OP, OpKind.CHDIR, [{ tag: Tag.PATH, value: '/' }])]));
  assertClean(r, { match: /chdir \(kind 20\) cannot run in the host stage/ });
  assertClean(await talk(plan([op(Tag.NS_OP, OpKind.EXEC, [{ tag: Tag.ARG, value: '/bin/true' }])])), { match: /execve \(kind 26\) cannot run in the ns stage/ });
});

test('NSINFO for thousands of namespaces answers; past the frame limit it is an ERROR, never a timeout', async () => {
  const paths = (n) => Array.from({ length: n }, (_, i) => ({ tag: Tag.PATH, value: i % 2 ? '/proc/self/ns/net' : '/proc/self/ns/mnt' }));
  const started = Date.now();
  const reply = await helperRequest(MessageType.NSINFO, paths(3000), 20_000);
  const entries = reply.lists(Tag.ENTRY);
  assert.equal(entries.length, 3000);
  assert.ok(entries.every((e) => e.int(Tag.INODE) > 0));
  await assert.rejects(helperRequest(MessageType.NSINFO, paths(20_000), 20_000), /larger than 1048576 bytes/);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test('a createContainer hook that never reads a state over 64 KiB still times out after its timeout', scoped(async (s) => {
  const hook = s.path('hook-never-reads.sh');
  writeFileSync(hook, '#!/bin/sh\nexec sleep 30\n');
  chmodSync(hook, 0o755);
  const b = s.bundle((c) => {
    c.annotations = { big: 'x'.repeat(200 * 1024) };
    c.hooks = { createContainer: [{ path: hook, args: [hook], timeout: 1 }] };
  });
  b.args('/bin/true');
  const started = Date.now();
  const r = s.hakoDetached(['create', '-b', b.dir, s.id()], { timeout: 20_000 });
  const took = Date.now() - started;
  assert.equal(r.signal, null, `hako hung (killed by the test)\n${show(r)}`);
  assert.equal(r.status, 1, show(r));
  assert.match(r.stderr, /timed out/, show(r));
  assert.ok(took < 15_000, `create took ${took} ms`);
}));

test('the helper answers a request with a field it does not know (newer P) as before', async () => {
  const r = await talk(encodeFrame(MessageType.NSINFO, 1, [{ tag: 4000, value: 'x' }, { tag: Tag.PATH, value: '/proc/self/ns/net' }]));
  assertClean(r, { code: 0 });
  assert.equal(r.frames[0]?.type, MessageType.NSINFO_RESULT, describe(r));
});

// The race behind "the helper ended without a result (exit 0)" for a run SIGKILLed during its
// setup: the init sent READY and was killed while P still handled it; H0 sent EXITED and exited,
// so P's ACK failed with EPIPE, and Node, tearing the socket down, dropped the EXITED it had not
// read yet. H0 now keeps its end open after EXITED until P closes its own (2 s at most).
test('after EXITED the helper keeps the control socket until P closes it: an init killed while P answers its READY', { timeout: 30_000 }, async () => {
  const child = spawn(helperPath, [], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: {} });
  const control = child.stdio[3];
  const reader = new FrameReader();
  const frames = [];
  let writeError;
  const seen = (type) => new Promise((resolve) => {
    const check = () => { const f = frames.find((x) => x.type === type); if (f) { control.off('frame', check); resolve(f); } };
    control.on('frame', check);
    check();
  });
  control.on('data', (chunk) => {
    for (const f of reader.push(chunk)) frames.push({ type: f.type, seq: f.seq, fields: Fields.decode(f.payload) });
    control.emit('frame');
  });
  control.on('error', (e) => { writeError = e; });
  const exit = new Promise((r) => child.once('exit', (code) => r({ code, at: Date.now() })));
  let exitedAt;
  void exit.then((e) => { exitedAt = e.at; });
  try {
    control.write(plan([
      op(Tag.INIT_OP, OpKind.SYNC, [{ tag: Tag.TYPE, value: MessageType.READY }]),
      op(Tag.INIT_OP, OpKind.EXEC, [{ tag: Tag.ARG, value: '/bin/sleep' }, { tag: Tag.ARG, value: '100' }]),
    ]));
    const pid = (await seen(MessageType.SPAWNED)).fields.int(Tag.PID);
    const ready = await seen(MessageType.READY);
    process.kill(pid, 'SIGKILL'); // while P "handles" READY
    const exited = await Promise.race([seen(MessageType.EXITED), new Promise((r) => setTimeout(() => r(undefined), 10_000))]);
    assert.ok(exited, `no EXITED; frames: ${frames.map((f) => f.type)}`);
    assert.equal(exited.fields.int(Tag.SIGNAL), 9);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(exitedAt, undefined, 'the helper closed its end before P read EXITED and closed its own');
    control.write(encodeFrame(MessageType.ACK, ready.seq, []));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(writeError, undefined, `P's late ACK failed: ${writeError}`);
  } finally {
    control.destroy();
  }
  const closedAt = Date.now();
  const { code, at } = await exit;
  assert.equal(code, 0);
  assert.ok(at - closedAt < 1500, `the helper took ${at - closedAt} ms to go after P closed`);
});

test('MKDIR with FLAGS 1 makes the missing parents (mkdir -p, as a container\'s cgroup needs when another hako removed the empty /hako meanwhile); without, ENOENT is an ERROR', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-mkdir-'));
  try {
    const mkdir = (path, flags) => plan([
      op(Tag.HOST_OP, OpKind.MKDIR, [{ tag: Tag.PATH, value: path }, { tag: Tag.MODE, value: 0o755 }, ...(flags ? [{ tag: Tag.FLAGS, value: flags }] : [])]),
      op(Tag.INIT_OP, OpKind.EXEC, [{ tag: Tag.ARG, value: '/bin/true' }]),
    ]);
    assertClean(await talk(mkdir(join(dir, 'a', 'b'))), { code: 1, match: /^mkdir: No such file or directory/ });
    assert.equal(existsSync(join(dir, 'a')), false);
    const r = await talk(mkdir(join(dir, 'a', 'b', 'c'), 1));
    assertClean(r, { code: 0 });
    assert.equal(statSync(join(dir, 'a', 'b', 'c')).isDirectory(), true, describe(r));
    // made again when it is there already: fine
    assertClean(await talk(mkdir(join(dir, 'a', 'b', 'c'), 1)), { code: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
