// Namespaces made ahead for the front's spare (docs/SERVER.md): at the server's AHEAD, bin/hako's
// front forks a holder that makes them while the server works out the command; the spare's H1
// joins them when the plan says so (PLAN FLAGS bit 2), in the caller's working directory, and the
// holder never outlives the plan. This test is the server itself (a socket of its own that speaks
// the front's frames, with the library's helper session), so that it knows the holder before the
// plan; serve.test.mjs runs the same through a real hako serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FrontConnection, FrontMessage } from '../../dist/src/helper/remote.js';
import { Tag } from '../../dist/src/helper/protocol.js';
import { HelperSession, useHelperSpawner } from '../../dist/src/helper/session.js';
import { PlanBuilder } from '../../dist/src/helper/plan-builder.js';
import { ops } from '../../dist/src/helper/ops.js';
import { isAlive, REPO, scoped, waitUntil } from './oci-util.mjs';

const NET = 0x40000000, MNT = 0x00020000, UTS = 0x04000000, IPC = 0x08000000, PID = 0x20000000;
const AHEAD = NET | MNT | UTS | IPC;

/** The front's child that made the namespaces (in another network namespace than this process). */
function holderOf(front) {
  return waitUntil(() => {
    const kids = readFileSync(`/proc/${front}/task/${front}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.find((k) => {
      try { return readlinkSync(`/proc/${k}/ns/net`) !== readlinkSync('/proc/self/ns/net'); } catch { return false; }
    });
  }, { timeoutMs: 5000, what: "the front's holder to make the namespaces" });
}

/**
 * Runs `hako unshare --net true` with bin/hako's front against a server that is this test: it asks
 * for AHEAD, waits for the holder, then runs its own plan (script, in new namespaces, joining those
 * made ahead if ahead) on the front's spare. Resolves with the front's stdout and exit status and
 * what was seen of the holder.
 */
async function throughFront(s, { ahead, script }) {
  const root = s.path('front-root');
  const cwd = s.path('front-cwd');
  mkdirSync(root, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const socket = join(root, 'hako.sock');
  let seen;
  const server = createServer((sock) => {
    const conn = new FrontConnection(sock);
    conn.onHello = async (hello) => {
      try {
        conn.send(FrontMessage.AHEAD, [{ tag: Tag.FLAGS, value: AHEAD }]);
        const holder = await holderOf(hello.pid);
        seen = { holder, net: readlinkSync(`/proc/${holder}/ns/net`), mnt: readlinkSync(`/proc/${holder}/ns/mnt`) };
        useHelperSpawner((file, args, slots, env, preserveFds) => conn.spawn(file, args, env, slots, preserveFds));
        const b = new PlanBuilder();
        b.ns(ops.unshare({ flags: AHEAD | PID }), 'unshare');
        b.init(ops.exec({ args: ['/bin/sh', '-c', script], env: ['PATH=/usr/bin:/bin'] }), 'exec');
        const session = HelperSession.start({ label: 'ahead test' });
        const r = await session.run({ explain: false, nsOps: b.nsOps, initOps: b.initOps, ahead });
        seen.holderAlive = isAlive(holder);
        conn.exit(r.status ?? 1);
      } catch (e) {
        seen = { ...seen, error: e };
        conn.exit(99);
      } finally {
        useHelperSpawner(undefined);
      }
    };
  });
  await new Promise((resolve) => server.listen(socket, resolve));
  chmodSync(socket, 0o600);
  try {
    // (HAKO_SOCKET named: the one a server-mode run of the suite sets is not this test's)
    const front = spawn(join(REPO, 'bin', 'hako'), ['--root', root, 'unshare', '--net', 'true'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HAKO_SOCKET: socket } });
    let stdout = '';
    let stderr = '';
    front.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    front.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const status = await new Promise((resolve) => front.once('exit', (code) => resolve(code)));
    if (seen?.error) throw seen.error;
    assert.ok(seen, `the front never said HELLO to the test's server: ${stderr}`);
    return { status, stdout, stderr, cwd, ...seen };
  } finally {
    server.close();
  }
}

test("the spare's H1 joins the namespaces the front's holder made, in the caller's working directory; the holder is gone after the plan", scoped(async (s) => {
  const r = await throughFront(s, { ahead: true, script: 'readlink /proc/self/ns/net /proc/self/ns/mnt; pwd' });
  assert.equal(r.status, 0, r.stderr);
  const [net, mnt, pwd] = r.stdout.trim().split('\n');
  assert.equal(net, r.net, 'the command is in the network namespace made ahead');
  assert.equal(mnt, r.mnt, 'the command is in the mount namespace made ahead');
  assert.notEqual(net, readlinkSync('/proc/self/ns/net'));
  // joining a mount namespace moves to its root: the working directory is entered again
  assert.equal(pwd, r.cwd);
  assert.equal(r.holderAlive, false, 'the holder outlived the plan');
}));

test('a plan that does not ask for them makes its own namespaces, and the holder goes all the same', scoped(async (s) => {
  const r = await throughFront(s, { ahead: false, script: 'readlink /proc/self/ns/net; pwd' });
  assert.equal(r.status, 0, r.stderr);
  const [net, pwd] = r.stdout.trim().split('\n');
  assert.notEqual(net, r.net);
  assert.notEqual(net, readlinkSync('/proc/self/ns/net'));
  assert.equal(pwd, r.cwd);
  assert.equal(r.holderAlive, false, 'the holder outlived the plan');
}));
