// The library API: unshare() results and exit codes, its errors, and listNamespaces().
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HakoError, listNamespaces, unshare, unshareSpawn } from '../../dist/index.js';
import {
  assertNoLeaks, assertOneLineError, cmdline, hako, hostHostname, NS_TYPES, nsInode, restoreHostname, show, snapshot, testEnv,
} from './util.mjs';

const piped = { stdio: ['ignore', 'pipe', 'pipe'], env: testEnv() };

/** Asserts `promise` rejects with a one-line HakoError carrying `exitCode`. */
async function rejectsWith(promise, exitCode, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof HakoError, `not a HakoError: ${e?.stack ?? e}`);
    assert.equal(e.exitCode, exitCode, e.message);
    assert.match(e.message, /^hako[^\n]*$/, 'the message should be one line starting with "hako"');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('library: unshare()', () => {
  it("resolves with exit code 0 and the command's output", async () => {
    const snap = snapshot();
    const host = hostHostname();
    try {
      const r = await unshare({ namespaces: ['uts'], hostname: 'lib', command: ['hostname'], ...piped });
      assert.equal(r.exitCode, 0, r.stderr?.toString());
      assert.equal(r.status, 0);
      assert.equal(r.signal, null);
      assert.equal(r.stdout.toString(), 'lib\n');
      assert.equal(r.stderr.toString(), '');
      assert.ok(Number.isInteger(r.pid) && r.pid > 1, `pid ${r.pid}`);
      assert.equal(hostHostname(), host);
    } finally {
      restoreHostname(host);
    }
    await assertNoLeaks(snap);
  });

  it("passes the command's exit status on", async () => {
    const snap = snapshot();
    const r = await unshare({ namespaces: ['uts'], command: ['sh', '-c', 'exit 3'], ...piped });
    assert.deepEqual([r.exitCode, r.status, r.signal], [3, 3, null]);
    await assertNoLeaks(snap);
  });

  it('a command killed by a signal gives 128 + the signal', async () => {
    const snap = snapshot();
    const r = await unshare({ namespaces: ['uts'], command: ['sh', '-c', 'kill -TERM $$'], ...piped });
    assert.deepEqual([r.exitCode, r.status, r.signal], [143, null, 15]);
    await assertNoLeaks(snap);
  });

  it('a command that does not exist rejects with exit code 127 (and the CLI exits 127)', async () => {
    const snap = snapshot();
    await rejectsWith(unshare({ namespaces: ['uts'], command: ['hako-it-no-such-command'], ...piped }), 127, /not found/);
    const r = hako(['unshare', '-u', 'hako-it-no-such-command']);
    assert.equal(r.status, 127, show(r));
    assert.match(assertOneLineError(r), /hako-it-no-such-command/);
    await assertNoLeaks(snap);
  });

  it('a file that is not executable rejects with exit code 126 (and the CLI exits 126)', async () => {
    const snap = snapshot();
    const dir = mkdtempSync('/tmp/hako-it-noexec-');
    try {
      const file = `${dir}/script`;
      writeFileSync(file, '#!/bin/sh\necho should-not-run\n');
      chmodSync(file, 0o644);
      await rejectsWith(unshare({ namespaces: ['uts'], command: [file], ...piped }), 126, /cannot execute/);
      const r = hako(['unshare', '-u', file]);
      assert.equal(r.status, 126, show(r));
      assertOneLineError(r);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await assertNoLeaks(snap);
  });
});

const ppid = (pid) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);

describe('library: the helper', () => {
  // issue 10: a call costs no spawn and exec of the helper, as a Runtime's containers do not
  it("is forked by one resident zygote, this process's child, call after call", async () => {
    const snap = snapshot();
    const zygotes = [];
    for (let i = 0; i < 2; i++) {
      const h = unshareSpawn({ namespaces: ['pid', 'mnt'], mountProc: true, command: ['cat'], stdio: ['pipe', 'ignore', 'ignore'], env: testEnv() });
      const pid = await h.spawned;
      const helper = ppid(pid); // the command is the helper's child (CLONE_PARENT)
      const parent = ppid(helper);
      h.stdin.end();
      assert.equal((await h.result).exitCode, 0);
      assert.notEqual(parent, process.pid, 'the helper was spawned by this process, not forked by a zygote');
      assert.equal(ppid(parent), process.pid);
      assert.ok(cmdline(parent).includes('--zygote'), cmdline(parent).join(' '));
      zygotes.push(parent);
    }
    assert.equal(zygotes[0], zygotes[1], 'each call started a zygote of its own');
    await assertNoLeaks(snap);
  });
});

describe('library: listNamespaces()', () => {
  it("includes each of this process's namespaces, with this process in it", async () => {
    const list = await listNamespaces();
    for (const type of NS_TYPES) {
      const entry = list.find((n) => n.type === type && n.ns === nsInode('self', type));
      assert.ok(entry, `no ${type} entry for ${nsInode('self', type)}`);
      assert.ok(entry.pids.includes(process.pid), `${type}: this process is not among its pids`);
      assert.ok(entry.pid <= process.pid && entry.nprocs >= 1);
    }
  });
});
