// Rootless podman drives hako: test/clients/check-rootless.sh makes a normal user of its own (its
// subuid/subgid range, XDG_RUNTIME_DIR and podman storage in a temporary directory), imports a
// busybox image as that user and runs the eight rootless checks with `podman --runtime`, where
// conmon and the runtime run as uid 0 of the user's namespace: run, --userns keep-id, run -d +
// exec, exec -t, stop, run -t, slirp4netns with a port published on 127.0.0.1, rm. It runs once
// with runc, the control (a check that fails there says the machine cannot run it), then with hako.
// Each check line becomes a subtest; then the script's own leftover check and this file's (no user,
// no subuid/subgid line, no process of its uid, no temporary directory, no mount) must pass.
// Needs root and scripts/setup.sh --test; HAKO_SKIP_CLIENTS=1 skips it, as test/clients/clients.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HAKO = join(ROOT, 'bin', 'hako');
const RUNC = '/usr/sbin/runc';
const SCRIPT = join(ROOT, 'test', 'clients', 'check-rootless.sh');
const CHECKS = 8;
const TIMEOUT_MS = 10 * 60_000;

const TOOLS = ['podman', 'conmon', 'newuidmap', 'newgidmap', 'slirp4netns', 'useradd', 'userdel', 'runuser', 'script', 'unshare', 'setpriv', 'wget'];
const which = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).status === 0;
const missing = TOOLS.filter((c) => !which(c));
const skip = process.env.HAKO_SKIP_CLIENTS === '1' ? 'HAKO_SKIP_CLIENTS=1'
  : process.geteuid?.() !== 0 ? 'needs root (it makes a user, its subuid range and its files)'
  : missing.length ? `missing ${missing.join(', ')} (sh scripts/setup.sh --test installs them)`
  : !existsSync(RUNC) ? `${RUNC} is not installed (runc is the control)`
  : !existsSync('/bin/busybox') ? '/bin/busybox (busybox-static) is missing'
  : false;

/** Runs the script for a runtime, bounded; resolves with its output and status. */
function check(runtime) {
  return new Promise((res) => {
    const child = spawn('bash', [SCRIPT, runtime], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    // SIGTERM first: the script's trap removes the user and its files
    const timer = setTimeout(() => { child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 20_000); }, TIMEOUT_MS);
    child.on('close', (status, signal) => { clearTimeout(timer); res({ status, signal, out, err }); });
  });
}

/** What is left of a run (USER name BASE dir) on the host, as readable lines. */
function leftovers(out) {
  const m = /^USER (\S+) BASE (\S+)$/m.exec(out);
  if (!m) return ['the script printed no USER line'];
  const [, user, base] = m;
  const found = [];
  const read = (f) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } };
  if (read('/etc/passwd').split('\n').some((l) => l.startsWith(`${user}:`))) found.push(`user ${user} in /etc/passwd`);
  for (const f of ['/etc/subuid', '/etc/subgid', '/etc/group', '/etc/shadow']) {
    if (read(f).split('\n').some((l) => l.startsWith(`${user}:`))) found.push(`a line of ${user} in ${f}`);
  }
  if (existsSync(base)) found.push(`${base}`);
  if (read('/proc/self/mountinfo').includes(base)) found.push(`mounts under ${base}`);
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const cmd = read(`/proc/${p}/cmdline`).replaceAll('\0', ' ');
    if (cmd.includes(base)) found.push(`process ${p}: ${cmd}`);
  }
  return found;
}

/** One subtest per check line; then the leftovers. */
async function runAll(t, runtime, name) {
  const r = await check(runtime);
  const show = `bash ${SCRIPT} ${runtime}: status=${r.status} signal=${r.signal}\n${r.out}${r.err}`;
  const results = [...r.out.matchAll(/^(PASS|FAIL) (\S+)(?:\s+-- (.*))?$/gm)];
  for (const [, verdict, check, why] of results) {
    await t.test(`${name}: ${check}`, () => { assert.equal(verdict, 'PASS', `${check}: ${why ?? ''}\n${show}`); });
  }
  assert.ok(results.filter((x) => x[2].match(/^rootless\/[1-8]-/)).length >= CHECKS, `fewer than ${CHECKS} checks ran\n${show}`);
  assert.match(r.out, /^CLEAN$/m, `the script found leftovers\n${show}`);
  assert.deepEqual(leftovers(r.out), [], show);
  assert.equal(r.status, 0, show);
}

test('rootless podman with runc (the control): the eight checks', { skip, timeout: TIMEOUT_MS + 60_000 }, async (t) => {
  await runAll(t, RUNC, 'runc');
});

test('rootless podman with hako: the eight checks, as with runc, and nothing left', { skip, timeout: TIMEOUT_MS + 60_000 }, async (t) => {
  assert.ok(statSync(HAKO).mode & 0o111, `${HAKO} is not executable: build first`);
  await runAll(t, HAKO, 'hako');
  // hako, rootless, keeps its state under the user's XDG_RUNTIME_DIR: nothing of it in /run/hako
  // (podman's ids are 64 hex digits)
  let hostState = [];
  try { hostState = readdirSync('/run/hako').filter((n) => /^[0-9a-f]{64}$/.test(n) && statSync(join('/run/hako', n)).mtimeMs > Date.now() - TIMEOUT_MS); } catch { /* none */ }
  assert.deepEqual(hostState, [], 'rootless hako wrote state to /run/hako');
});
