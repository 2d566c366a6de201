// SCMP_ACT_NOTIFY: the filter's listener fd goes to linux.seccomp.listenerPath with the container
// process state (runtime-spec "containerProcessState", as runc sends it), and an agent (the small C
// program notify-agent.c, built here) answers the container's syscalls: mkdir "succeeds" without
// making anything. For a container's init and for an exec'd process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Background, REPO, hakoRun, lines, ok, oneLineError, removeContainer, runDetached, scoped, sleeper, waitUntil,
} from './oci-util.mjs';

const CC = ['/usr/bin/cc', '/usr/bin/gcc'].find((p) => existsSync(p));
const skip = CC ? false : 'no C compiler (cc) to build the notify agent';

function buildAgent(s) {
  const out = s.path('notify-agent');
  const r = spawnSync(CC, ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(REPO, 'test', 'integration', 'notify-agent.c')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `cc notify-agent.c: ${r.stderr}`);
  return out;
}

/** Starts the agent on a socket in the scope; resolves once it listens. */
async function startAgent(s, agent, name, stateName = name) {
  const sock = s.path(`${name}.sock`);
  const stateFile = s.path(`${stateName}.json`);
  const bg = new Background(agent, [sock, stateFile], { env: s.env() });
  s.background.push(bg);
  await waitUntil(() => bg.stdout.includes('ready'), { what: 'the agent to listen' });
  return { sock, stateFile, bg };
}

const notifyMkdir = (sock) => (c) => {
  c.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: sock,
    listenerMetadata: 'agent=hako-test;answer=mkdir',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
  };
};

test('SCMP_ACT_NOTIFY: the agent gets the state and the listener fd, and answers the init\'s mkdir', { skip }, scoped(async (s) => {
  const agent = buildAgent(s);
  const { sock, stateFile, bg } = await startAgent(s, agent, 'init');
  const b = s.bundle(notifyMkdir(sock)).sh('mkdir /tmp/made && echo "mkdir said yes"; ls -d /tmp/made 2>/dev/null || echo "but nothing was made"');
  const id = s.id();
  const out = ok(hakoRun(s, b, { id }));
  assert.deepEqual(lines(out), ['mkdir said yes', 'but nothing was made']);
  const r = await bg.wait();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /mkdir answered/);
  const st = JSON.parse(readFileSync(stateFile, 'utf8'));
  assert.deepEqual(st.fds, ['seccompFd']);
  assert.equal(st.metadata, 'agent=hako-test;answer=mkdir');
  assert.equal(typeof st.ociVersion, 'string');
  assert.ok(st.pid > 1, 'the process\'s host pid');
  assert.equal(st.state.id, id);
  assert.equal(st.state.status, 'creating');
  assert.equal(st.state.pid, st.pid);
  assert.equal(st.state.bundle, b.dir);
}));

test('SCMP_ACT_NOTIFY with no_new_privs (the filter loaded last, after run -d returned) and for an exec (state "running")', { skip }, scoped(async (s) => {
  const agent = buildAgent(s);
  const first = await startAgent(s, agent, 'init');
  const b = s.bundle((c) => { notifyMkdir(first.sock)(c); c.process.noNewPrivileges = true; c.process.args = sleeper(s); });
  const { id, pid } = runDetached(s, b);
  const initState = JSON.parse(await waitUntil(() => existsSync(first.stateFile) && readFileSync(first.stateFile, 'utf8'), { what: "the init's state at the agent" }));
  assert.equal(initState.pid, pid);
  assert.equal(initState.state.status, 'creating');
  // the container's config names the same socket for an exec: a second agent listens there now
  await first.bg.stop();
  rmSync(first.sock);
  const second = await startAgent(s, agent, 'init', 'exec');
  const out = ok(s.hako(['exec', id, 'sh', '-c', 'mkdir /tmp/e && echo yes; ls -d /tmp/e 2>/dev/null || echo none']));
  assert.deepEqual(lines(out), ['yes', 'none']);
  const st = JSON.parse(readFileSync(second.stateFile, 'utf8'));
  assert.equal(st.state.status, 'running');
  assert.equal(st.state.pid, pid, "the container's init");
  assert.ok(st.pid !== pid && st.pid > 1, "the exec'd process's own pid");
  const r = await second.bg.wait();
  assert.match(r.stdout, /mkdir answered/);
  removeContainer(s, id);
}));

test('SCMP_ACT_NOTIFY is refused where runc refuses it, and an agent that is not there fails create with one line', { skip }, scoped(async (s) => {
  const b = s.bundle((c) => {
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: s.path('x.sock') };
  });
  oneLineError(hakoRun(s, b), { match: /^hako: config\.json: linux\.seccomp\.defaultAction: SCMP_ACT_NOTIFY cannot be the default action/ });
  b.edit((c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: s.path('x.sock'), syscalls: [{ names: ['write'], action: 'SCMP_ACT_NOTIFY' }] }; });
  oneLineError(hakoRun(s, b), { match: /^hako: config\.json: linux\.seccomp\.syscalls\[0\]: SCMP_ACT_NOTIFY cannot be used for the write syscall/ });
  b.edit((c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }; });
  oneLineError(hakoRun(s, b), { match: /^hako: config\.json: linux\.seccomp\.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath/ });
  b.edit(notifyMkdir(s.path('nobody-listens.sock')));
  const id = s.id();
  oneLineError(hakoRun(s, b, { id }), { match: /seccomp agent's socket .*nobody-listens\.sock.*ENOENT/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));
