// The OCI runtime: config.json's process object (args, env, cwd, user, umask, rlimits,
// oomScoreAdj, noNewPrivileges, capabilities, stdio), seen from inside the container and from the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  HAKO, NO_RUNC, capHex, hakoRun, lines, ok, oneLineError, removeContainer, runDetached, runcRun, runSync, scoped, show, sleeper,
  statusField,
} from './oci-util.mjs';

test('process.args, env and cwd reach the process as configured (and as runc passes them)', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.args = ['sh', '-c', 'echo "args:$0|$1|$2"; pwd; env | grep -v "^HAKO_OCI_MARK=" | sort', 'zero', 'one two', ''];
    c.process.env = [...c.process.env, 'FOO=bar', 'SPACED=a b  c', 'EMPTY=', 'EQ=x=y'];
    c.process.cwd = '/home/user';
  });
  const out = ok(hakoRun(s, b));
  const [argsLine, cwd, ...env] = lines(out);
  assert.equal(argsLine, 'args:zero|one two|');
  assert.equal(cwd, '/home/user');
  for (const e of ['FOO=bar', 'SPACED=a b  c', 'EMPTY=', 'EQ=x=y', 'TERM=xterm', 'HOME=/root',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']) {
    assert.ok(env.includes(e), `${e} missing from the container's env:\n${out}`);
  }
  if (!NO_RUNC) assert.equal(out, ok(runcRun(s, b)), 'runc shows the process another view');
}));

test('a process.cwd missing from the rootfs is created, as runc does', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.args = ['pwd']; c.process.cwd = '/does/not/exist/yet'; });
  assert.equal(ok(hakoRun(s, b)), '/does/not/exist/yet\n');
}));

test('a process.cwd that is a file fails with one line and leaves nothing behind', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.args = ['pwd']; c.process.cwd = '/etc/passwd'; });
  const id = s.id();
  oneLineError(hakoRun(s, b, { id }), { match: /etc\/passwd/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('process.user: uid, gid and additionalGids inside (id) and on the host (/proc/PID/status)', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [5, 2000] };
  }).sh('id; echo "HOME=$HOME"');
  const out = ok(hakoRun(s, b));
  // HOME comes from the container's /etc/passwd when the config does not set it
  assert.equal(out, 'uid=1000(user) gid=1000(user) groups=5(tty),2000(extra)\nHOME=/home/user\n');
  if (!NO_RUNC) assert.equal(out, ok(runcRun(s, b)));

  b.args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.equal(statusField(status, 'Uid'), '1000\t1000\t1000\t1000');
  assert.equal(statusField(status, 'Gid'), '1000\t1000\t1000\t1000');
  assert.deepEqual(statusField(status, 'Groups').split(/\s+/).map(Number).sort((x, y) => x - y), [5, 2000]);
  removeContainer(s, id);
}));

test('process.user without additionalGids has no supplementary groups', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.user = { uid: 1000, gid: 1000 }; c.process.args = ['sh', '-c', 'grep ^Groups: /proc/self/status']; });
  assert.match(ok(hakoRun(s, b)), /^Groups:\s*$/m);
}));

test('process.user.umask: the shell reports it and new files get it', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.user = { uid: 0, gid: 0, umask: 0o027 };
  }).sh('rm -rf /tmp/f /tmp/d; umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d');
  assert.equal(ok(hakoRun(s, b)), '0027\n640\n750\n');
  // without a umask the default is 0022
  b.edit((c) => { delete c.process.user.umask; });
  assert.equal(ok(hakoRun(s, b)), '0022\n644\n755\n');
}));

test('process.rlimits: RLIMIT_NOFILE inside (ulimit, /proc/self/limits) and on the host', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1000, hard: 2000 }, { type: 'RLIMIT_NPROC', soft: 300, hard: 400 }];
  }).sh('ulimit -n; ulimit -Hn; grep -E "^Max (open files|processes)" /proc/self/limits');
  const out = lines(ok(hakoRun(s, b)));
  assert.equal(out[0], '1000');
  assert.equal(out[1], '2000');
  assert.match(out.find((l) => l.startsWith('Max open files')) ?? '', /^Max open files\s+1000\s+2000\s+files/);
  assert.match(out.find((l) => l.startsWith('Max processes')) ?? '', /^Max processes\s+300\s+400\s+processes/);

  b.args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  assert.match(readFileSync(`/proc/${pid}/limits`, 'utf8'), /^Max open files\s+1000\s+2000\s+files/m);
  removeContainer(s, id);
}));

test('an rlimit above the host hard limit fails with one clear line and leaves nothing behind', scoped(async (s) => {
  const hostHard = Number(/^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))[1]);
  const b = s.bundle((c) => {
    c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: hostHard * 64 }];
  }).args(...sleeper(s));
  const id = s.id();
  const line = oneLineError(hakoRun(s, b, { id }));
  assert.match(line, /RLIMIT_NOFILE/, 'the error should name the rlimit');
  assert.match(line, /operation not permitted|EPERM/i);
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
  // create too
  const c = s.hakoDetached(['create', '-b', b.dir, id]);
  oneLineError(c, { match: /RLIMIT_NOFILE/ });
  oneLineError(s.hako(['state', id]), { match: /does not exist/ });
}));

test('process.oomScoreAdj: inside and on the host', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.oomScoreAdj = 456; }).args('cat', '/proc/self/oom_score_adj');
  assert.equal(ok(hakoRun(s, b)), '456\n');
  b.args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim(), '456');
  removeContainer(s, id);
}));

test('process.noNewPrivileges: NoNewPrivs is 1 when set, 0 when not', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.noNewPrivileges = true; }).sh('grep ^NoNewPrivs: /proc/self/status');
  assert.match(ok(hakoRun(s, b)), /^NoNewPrivs:\s+1$/m);
  b.edit((c) => { c.process.noNewPrivileges = false; });
  assert.match(ok(hakoRun(s, b)), /^NoNewPrivs:\s+0$/m);
}));

test('process.capabilities for root: the sets in /proc/self/status match the masks (and runc)', scoped(async (s) => {
  const bounding = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE', 'CAP_SETUID'];
  const b = s.bundle((c) => {
    c.process.capabilities = { bounding, effective: bounding, permitted: bounding, inheritable: [], ambient: [] };
  }).sh('grep ^Cap /proc/self/status');
  const out = ok(hakoRun(s, b));
  // root's exec makes permitted and effective the bounding set (the file counts as fully capable)
  assert.equal(statusField(out, 'CapBnd'), capHex(bounding));
  assert.equal(statusField(out, 'CapEff'), capHex(bounding));
  assert.equal(statusField(out, 'CapPrm'), capHex(bounding));
  assert.equal(statusField(out, 'CapInh'), capHex([]));
  assert.equal(statusField(out, 'CapAmb'), capHex([]));
  if (!NO_RUNC) assert.equal(out, ok(runcRun(s, b)));
}));

test('process.capabilities for a user: ambient capabilities survive the exec', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.user = { uid: 1000, gid: 1000 };
    c.process.capabilities = {
      bounding: ['CAP_NET_BIND_SERVICE', 'CAP_KILL', 'CAP_CHOWN'],
      effective: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
      permitted: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
      inheritable: ['CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_NET_BIND_SERVICE'],
    };
  }).sh('grep ^Cap /proc/self/status');
  const out = ok(hakoRun(s, b));
  assert.equal(statusField(out, 'CapBnd'), capHex(['CAP_NET_BIND_SERVICE', 'CAP_KILL', 'CAP_CHOWN']));
  assert.equal(statusField(out, 'CapInh'), capHex(['CAP_NET_BIND_SERVICE']));
  assert.equal(statusField(out, 'CapAmb'), capHex(['CAP_NET_BIND_SERVICE']));
  assert.equal(statusField(out, 'CapPrm'), capHex(['CAP_NET_BIND_SERVICE']));
  assert.equal(statusField(out, 'CapEff'), capHex(['CAP_NET_BIND_SERVICE']));
  if (!NO_RUNC) assert.equal(out, ok(runcRun(s, b)));
}));

test('process.capabilities: an empty set leaves root without any capability', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.process.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
  }).sh('grep ^Cap /proc/self/status; touch /tmp/x && chown 1000 /tmp/x; echo chown=$?');
  const out = ok(hakoRun(s, b));
  for (const set of ['CapBnd', 'CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.equal(statusField(out, set), capHex([]), `${set}\n${out}`);
  assert.match(out, /chown=1$/m, 'chown without CAP_CHOWN must fail');
}));

test('terminal=false: stdin, stdout and stderr pass through the runtime unchanged', scoped(async (s) => {
  const b = s.bundle().sh('cat; echo "to stderr" >&2; echo done');
  const input = 'line one\nline two\n\u00e9\u00e8 binary-ish \u0001\n';
  const r = hakoRun(s, b, { input });
  assert.equal(r.status, 0, show(r));
  assert.equal(r.stdout, `${input}done\n`);
  assert.equal(r.stderr, 'to stderr\n');
}));

// Docker's --cap-add SYS_RESOURCE, or --privileged, on a host whose bounding set lacks that
// capability (some VMs and nested containers): capset refuses it, and the error says which one and
// why (runc: "unable to apply caps: operation not permitted"). hako runs here with
// CAP_SYS_RESOURCE dropped from its bounding set (setpriv), so the case is the same on every host.
test('a capability outside the host\'s bounding set: the error names it, for create and for exec', scoped(async (s) => {
  const caps = ['CAP_CHOWN', 'CAP_SYS_RESOURCE', 'CAP_KILL'];
  const b = s.bundle((c) => {
    c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] };
  }).sh('echo ran');
  const withoutSysResource = (args) => runSync('setpriv', ['--bounding-set', '-sys_resource', HAKO, '--root', s.root, ...args], { env: s.env() });
  const missing = /set the effective, permitted, inheritable and ambient capabilities: CAP_SYS_RESOURCE is not in this host's bounding set \(no process here can have it\): .*\(EPERM\)/;
  oneLineError(withoutSysResource(['run', '-b', b.dir, s.id()]), { match: missing });
  // exec into a container that runs: a process.json asking for the capability
  const b2 = s.bundle().args(...sleeper(s));
  const { id } = runDetached(s, b2);
  const proc = s.path('process.json');
  writeFileSync(proc, JSON.stringify({ args: ['true'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 },
    capabilities: { bounding: caps, effective: caps, permitted: caps } }));
  oneLineError(withoutSysResource(['exec', '--process', proc, id]), { status: 255, match: missing });
  removeContainer(s, id);
}));
