// The status each hook kind reads in the state on its stdin (runtime.md "State" and "Lifecycle"):
// prestart, createRuntime and createContainer run while the container is being created (creating);
// startContainer after create finished and before the program runs (created); poststart once it
// runs (running); poststop once it exited (stopped). runc is checked against the same table when
// it is installed (docs/differences-from-runc.md says where it differs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MARK_VAR, NO_RUNC, ok, scoped, sleeper, waitStatus, waitUntil } from './oci-util.mjs';

const KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
const EXPECTED = {
  prestart: 'creating', createRuntime: 'creating', createContainer: 'creating',
  startContainer: 'created', poststart: 'running', poststop: 'stopped',
};

/** A bundle whose hooks each write the status they read into DIR/KIND (startContainer's runs in
 * the container: DIR is bound at /hookout). */
function statusBundle(s) {
  const dir = s.path('status');
  mkdirSync(dir, { recursive: true });
  const b = s.bundle();
  const hooks = {};
  for (const kind of KINDS) {
    const inside = kind === 'startContainer';
    const path = inside ? '/hook.sh' : join(s.dir, 'hook.sh');
    const out = inside ? '/hookout' : dir;
    writeFileSync(inside ? join(b.rootfs, path) : path,
      `#!/bin/sh\nsed -n 's/.*"status": *"\\([a-z]*\\)".*/\\1/p' > "$2/$1"\n`);
    chmodSync(inside ? join(b.rootfs, path) : path, 0o755);
    hooks[kind] = [{ path, args: [path, kind, out], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', `${MARK_VAR}=${s.token}`] }];
  }
  b.edit((c) => { c.hooks = hooks; }).addMount({ destination: '/hookout', type: 'bind', source: dir, options: ['rbind', 'rw'] });
  b.args(...sleeper(s));
  const read = () => Object.fromEntries(readdirSync(dir).map((k) => [k, readFileSync(join(dir, k), 'utf8').trim()]));
  return { b, read };
}

/** cli(args), with create's output in files (the container keeps what create gets open). */
function detached(s, cli, args) {
  if (args[0] !== 'create') return cli(args);
  const files = s.outputFiles();
  try {
    return { ...cli(args, { stdio: ['ignore', ...files.fds] }), ...files.read() };
  } finally {
    files.close();
  }
}

async function lifecycle(s, run, ids) {
  const cli = (a) => detached(s, run, a);
  const { b, read } = statusBundle(s);
  const id = ids();
  ok(cli(['create', '-b', b.dir, id]));
  ok(cli(['start', id]));
  await waitUntil(() => existsSync(join(s.path('status'), 'poststart')), { what: 'the poststart hook' });
  ok(cli(['kill', id, 'KILL']));
  await waitUntil(() => JSON.parse(cli(['state', id]).stdout).status === 'stopped', { what: `${id} to stop` });
  ok(cli(['delete', id]));
  return read();
}

test('each hook kind reads the status runtime.md gives that step', scoped(async (s) => {
  const got = await lifecycle(s, (a, o) => s.hako(a, o), () => s.id());
  assert.deepEqual(got, EXPECTED);
}));

test('run (create and start in one): the same statuses', scoped(async (s) => {
  const { b, read } = statusBundle(s);
  b.args('true');
  ok(s.hako(['run', '-b', b.dir, s.id()]));
  assert.deepEqual(read(), EXPECTED);
}));

test('runc, for reference: the statuses it gives the hooks', { skip: NO_RUNC }, scoped(async (s) => {
  const got = await lifecycle(s, (a, o) => s.runc(a, o), () => s.runcId());
  // runc runs poststart before it records the container as running, and says created there
  // (docs/differences-from-runc.md); every other kind agrees with the spec
  const { poststart, ...rest } = got;
  const { poststart: _, ...expected } = EXPECTED;
  assert.deepEqual(rest, expected);
  assert.ok(poststart === 'created' || poststart === 'running', poststart);
}));
