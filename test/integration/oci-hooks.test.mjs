// The OCI runtime's hooks: prestart, createRuntime, createContainer, startContainer, poststart and
// poststop, each a small sh script that appends its name, its namespaces and the state it read on
// stdin to one log. createContainer runs in the container's namespaces before pivot_root (a host
// path works); startContainer runs inside the container after pivot_root (its path is in the rootfs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MARK_VAR, hakoRun, isAlive, lines, nsLink, ok, oneLineError, runDetached, scoped, show, sleeper, waitStatus,
  waitUntil,
} from './oci-util.mjs';

const ORDER = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

/** A hook script at path that logs "NAME MNT NET STATE" to log and then runs tail (sh). */
function writeHook(path, log, tail = '') {
  writeFileSync(path, `#!/bin/sh\nstate=$(cat)\nprintf '%s %s %s %s\\n' "$1" "$(readlink /proc/self/ns/mnt)" "$(readlink /proc/self/ns/net)" "$state" >> ${log}\n${tail}\n`);
  chmodSync(path, 0o755);
}

/**
 * A bundle whose hooks log to the host file scope/hooks/log. The startContainer hook lives in the
 * rootfs and writes to /hooklog/log, a bind of the same host directory.
 */
function hookBundle(s, { kinds = ORDER, tails = {}, timeouts = {} } = {}) {
  const dir = s.path('hooks');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'log');
  const b = s.bundle();
  const env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', `${MARK_VAR}=${s.token}`];
  const hooks = {};
  for (const kind of kinds) {
    const inside = kind === 'startContainer';
    const path = inside ? `/hook-${kind}.sh` : join(dir, `hook-${kind}.sh`);
    writeHook(inside ? join(b.rootfs, path) : path, inside ? '/hooklog/log' : log, tails[kind]);
    hooks[kind] = [{ path, args: [path, kind], env, ...(timeouts[kind] ? { timeout: timeouts[kind] } : {}) }];
  }
  b.edit((c) => { c.hooks = hooks; }).addMount({ destination: '/hooklog', type: 'bind', source: dir, options: ['rbind', 'rw'] });
  return { b, log, read: () => (existsSync(log) ? lines(readFileSync(log, 'utf8')).map(parseEntry) : []) };
}

/** The order of the hooks: poststart comes once the process is executed, so after startContainer. */
function assertOrder(names) {
  assert.deepEqual(names, ORDER, names.join(' '));
}

function parseEntry(line) {
  const [name, mnt, net, ...rest] = line.split(' ');
  return { name, mnt, net, state: JSON.parse(rest.join(' ')) };
}

test('create, start, kill, delete: every hook runs once, in order, with the container\'s state', scoped(async (s) => {
  const { b, read } = hookBundle(s);
  b.args(...sleeper(s));
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  const { pid } = s.state(id);
  assert.deepEqual(read().map((e) => e.name), ['prestart', 'createRuntime', 'createContainer']);
  ok(s.hako(['start', id]));
  await waitUntil(() => read().length === 5, { what: () => `startContainer and poststart (${read().map((e) => e.name)})` });
  ok(s.hako(['kill', id, 'KILL']));
  await waitStatus(s, id, 'stopped');
  ok(s.hako(['delete', id]));
  const log = read();
  assertOrder(log.map((e) => e.name));

  const byName = Object.fromEntries(log.map((e) => [e.name, e]));
  for (const e of log) {
    assert.equal(e.state.id, id, `${e.name}: ${JSON.stringify(e.state)}`);
    assert.equal(e.state.bundle, b.dir, e.name);
    assert.equal(e.state.ociVersion, b.config.ociVersion, e.name);
  }
  for (const name of ['prestart', 'createRuntime', 'poststart']) assert.equal(byName[name].state.pid, pid, `${name}: ${JSON.stringify(byName[name].state)}`);
  assert.equal(byName.poststart.state.status, 'running');
  assert.equal(byName.poststop.state.status, 'stopped');

  // where they ran: prestart and createRuntime in the runtime's namespaces; createContainer and
  // startContainer in the container's (hooks of the host's mount namespace see it unchanged)
  for (const name of ['prestart', 'createRuntime', 'poststart', 'poststop']) {
    assert.equal(byName[name].mnt, nsLink('self', 'mnt'), `${name} ran in another mount namespace`);
    assert.equal(byName[name].net, nsLink('self', 'net'), `${name} ran in another network namespace`);
  }
  for (const name of ['createContainer', 'startContainer']) {
    assert.notEqual(byName[name].mnt, nsLink('self', 'mnt'), `${name} ran in the host's mount namespace`);
    assert.notEqual(byName[name].net, nsLink('self', 'net'), `${name} ran in the host's network namespace`);
  }
  assert.equal(byName.createContainer.net, byName.startContainer.net);
}));

test('createContainer and startContainer hooks get the container\'s host pid in their state', scoped(async (s) => {
  const { b, read } = hookBundle(s, { kinds: ['createContainer', 'startContainer'] });
  b.args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  try {
    const log = read();
    assert.deepEqual(log.map((e) => e.name), ['createContainer', 'startContainer']);
    for (const e of log) assert.equal(e.state.pid, pid, `${e.name}: ${JSON.stringify(e.state)}`);
  } finally {
    ok(s.hako(['delete', '--force', id]));
  }
}));

test('hooks that run while the container is being created see status "creating"', scoped(async (s) => {
  const { b, read } = hookBundle(s, { kinds: ['prestart', 'createRuntime', 'createContainer'] });
  ok(hakoRun(s, b));
  const log = read();
  assert.equal(log.length, 3);
  for (const e of log) assert.equal(e.state.status, 'creating', `${e.name}: ${JSON.stringify(e.state)}`);
}));

test('run in the foreground runs the hooks in order, poststop after the process ended', scoped(async (s) => {
  const { b, read } = hookBundle(s);
  b.sh('echo from-the-process');
  const id = s.id();
  const r = hakoRun(s, b, { id });
  assert.equal(r.status, 0, show(r));
  assert.equal(r.stdout, 'from-the-process\n');
  assertOrder(read().map((e) => e.name));
  for (const e of read()) assert.equal(e.state.id, id);
}));

test('poststart runs after startContainer, once the process has been executed, before start returns', scoped(async (s) => {
  const cmdlineFile = s.path('poststart-cmdline');
  const { b, read } = hookBundle(s, {
    kinds: ['startContainer', 'poststart'],
    tails: {
      startContainer: 'sleep 1',
      // the command line of the container's process as poststart sees it
      poststart: `pid=$(printf '%s' "$state" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p'); tr '\\0' ' ' < /proc/$pid/cmdline > ${cmdlineFile}`,
    },
  });
  b.args(...sleeper(s));
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id]));
  ok(s.hako(['start', id]));
  try {
    assert.deepEqual(read().map((e) => e.name), ['startContainer', 'poststart'], 'when start returns');
    assert.equal(readFileSync(cmdlineFile, 'utf8').trim(), sleeper(s).join(' '), 'poststart ran before the process was executed');
  } finally {
    ok(s.hako(['delete', '--force', id]));
  }
}));

test('run: poststart runs once the process is executed and while it runs, not after it exits', scoped(async (s) => {
  const cmdlineFile = s.path('poststart-cmdline');
  const { b, read } = hookBundle(s, {
    kinds: ['poststart'],
    tails: { poststart: `pid=$(printf '%s' "$state" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p'); tr '\\0' ' ' < /proc/$pid/cmdline > ${cmdlineFile}` },
  });
  // the process lives a second: poststart must see it as itself, alive
  b.sh('sleep 1');
  ok(hakoRun(s, b));
  assert.deepEqual(read().map((e) => e.name), ['poststart']);
  // (busybox sh execs its last command: the process may be `sleep 1` itself)
  const seen = readFileSync(cmdlineFile, 'utf8').trim();
  assert.match(seen, /sleep 1$/, `poststart saw ${JSON.stringify(seen)}, not the container's process`);
}));

test('a failing prestart hook makes create fail with one line and leaves nothing behind', scoped(async (s) => {
  const { b, read } = hookBundle(s, { kinds: ['prestart', 'createRuntime', 'startContainer'], tails: { prestart: 'echo "prestart says no" >&2; exit 3' } });
  b.args(...sleeper(s));
  const id = s.id();
  const line = oneLineError(s.hakoDetached(['create', '-b', b.dir, id]), { match: /prestart/ });
  assert.match(line, /3/, 'the error should give the exit status');
  assert.deepEqual(read().map((e) => e.name), ['prestart'], 'no hook after the failing one');
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  // run too
  const id2 = s.id();
  oneLineError(hakoRun(s, b, { id: id2 }), { match: /prestart/ });
  oneLineError(s.hako(['state', id2]), { match: /does not exist/ });
}));

test('a failing createContainer hook makes create fail and leaves nothing behind', scoped(async (s) => {
  const { b } = hookBundle(s, { kinds: ['createContainer'], tails: { createContainer: 'exit 5' } });
  b.args(...sleeper(s));
  const id = s.id();
  oneLineError(s.hakoDetached(['create', '-b', b.dir, id]), { match: /createContainer/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('a hook that outlives its timeout is killed and create fails', scoped(async (s) => {
  const { b } = hookBundle(s, { kinds: ['prestart'], tails: { prestart: `exec sleep ${s.marker}` }, timeouts: { prestart: 1 } });
  b.args(...sleeper(s));
  const id = s.id();
  oneLineError(s.hakoDetached(['create', '-b', b.dir, id]), { match: /prestart.*tim/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('failing poststart and poststop hooks only warn: run -d and delete succeed', scoped(async (s) => {
  const { b, read } = hookBundle(s, { kinds: ['poststart', 'poststop'], tails: { poststart: 'exit 4', poststop: 'exit 6' } });
  b.args(...sleeper(s));
  const { id, pid, errFile } = runDetached(s, b);
  assert.match(readFileSync(errFile, 'utf8'), /poststart/, 'the failing poststart should be reported');
  assert.equal(s.state(id).status, 'running');
  assert.ok(isAlive(pid));
  ok(s.hako(['kill', id, 'KILL']));
  await waitStatus(s, id, 'stopped');
  const del = s.hako(['delete', id]);
  assert.equal(del.status, 0, show(del));
  assert.match(del.stderr, /poststop/, show(del));
  assert.deepEqual(read().map((e) => e.name), ['poststart', 'poststop']);
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));
