// Attacks an adversarial review tried and hako resisted: each stays a real container with a hostile
// image, config, state directory or caller, and each checks the host is as it was (scoped's leak
// check, and the host files the attack aimed at). These pin behaviour: they pass today.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  HAKO, hakoRun, lines, mountInfo, ok, oneLineError, removeContainer, runDetached, runSync, scoped, show, sleeper,
} from './oci-util.mjs';
import { sleep } from './util.mjs';

const BAD_IDS = ['../x', '/abs', 'a\x01b', 'a\x1bb', 'x'.repeat(256), '\u00e9t\u00e9', 'a,b', '.', '..'];

test('bad ids are refused by every verb, and nothing outside the state root is touched', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  // a victim next to the state root that '../x' would name
  mkdirSync(s.root, { recursive: true });
  const victim = s.path('x');
  mkdirSync(victim);
  writeFileSync(join(victim, 'state.json'), '{"id":"x"}');
  for (const id of BAD_IDS) {
    for (const args of [['create', '-b', b.dir, id], ['run', '-d', '-b', b.dir, id], ['state', id], ['start', id], ['kill', id, 'KILL'],
      ['delete', id], ['exec', id, 'true'], ['pause', id], ['ps', id]]) {
      const r = args[0] === 'create' || args[0] === 'run' ? s.hakoDetached(args) : s.hako(args);
      assert.notEqual(r.status, 0, `${JSON.stringify(id)}: ${show(r)}`);
      assert.match(r.stderr, /^hako.*(invalid container id|does not exist)/, `${JSON.stringify(id)}: ${show(r)}`);
      assert.equal(lines(r.stderr).length, 1, show(r));
    }
    // delete --force of an id that cannot exist is refused too (as runc), and removes nothing
    const forced = s.hako(['delete', '--force', id]);
    assert.notEqual(forced.status, 0, `${JSON.stringify(id)}: ${show(forced)}`);
    assert.match(forced.stderr, /^hako.*invalid container id/, show(forced));
    assert.equal(readFileSync(join(victim, 'state.json'), 'utf8'), '{"id":"x"}', JSON.stringify(id));
  }
  assert.deepEqual(readdirSync(s.root).filter((n) => n !== '@locks'), []);
  rmSync(victim, { recursive: true });
}));

test('a --root that is a symlink keeps the state in its target; links planted in the state dir are not followed out', scoped(async (s) => {
  // the state root is a symlink to a directory: containers live in the target
  const real = s.path('real-state');
  mkdirSync(real);
  symlinkSync(real, s.root);
  const b = s.bundle().args(...sleeper(s));
  const { id } = runDetached(s, b);
  assert.ok(existsSync(join(real, id, 'state.json')));
  writeFileSync(s.path('fake-state.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(real, id, 'state.json'), 'utf8')), pid: 0, status: 'stopped' }));
  removeContainer(s, id);
  // a container directory planted as a symlink to a host directory: state, delete and create
  // do not use, empty or write into that directory
  const victimDir = s.path('victim-dir');
  mkdirSync(victimDir);
  writeFileSync(join(victimDir, 'keep'), 'keep');
  const planted = s.id('planted');
  // with a state that names a stopped container, so delete goes as far as it can
  const fake = { ...JSON.parse(readFileSync(join(real, '..', 'fake-state.json'), 'utf8')), id: planted };
  writeFileSync(join(victimDir, 'state.json'), JSON.stringify(fake));
  symlinkSync(victimDir, join(real, planted));
  const r = s.hakoDetached(['create', '-b', b.dir, planted]);
  assert.notEqual(r.status, 0, show(r));
  for (const args of [['state', planted], ['kill', planted, 'KILL'], ['delete', planted], ['delete', '--force', planted]]) s.hako(args);
  assert.deepEqual(readdirSync(victimDir).sort(), ['keep', 'state.json']);
  assert.equal(readFileSync(join(victimDir, 'keep'), 'utf8'), 'keep');
  rmSync(join(real, planted), { force: true });
  // a state.json planted as a symlink to a host file: read as a state at most, never written or removed
  const victimFile = s.path('victim-file');
  writeFileSync(victimFile, '{"not":"a state"}');
  const planted2 = s.id('planted');
  mkdirSync(join(real, planted2));
  symlinkSync(victimFile, join(real, planted2, 'state.json'));
  for (const args of [['state', planted2], ['kill', planted2, 'KILL'], ['delete', planted2], ['delete', '--force', planted2]]) s.hako(args);
  assert.equal(readFileSync(victimFile, 'utf8'), '{"not":"a state"}');
  rmSync(join(real, planted2), { recursive: true, force: true });
}));

/** Host mounts on /dev, /sys or /proc (or below), as lines of the host's mountinfo. */
function hostSystemMounts() {
  return lines(mountInfo()).filter((l) => /^\/(dev|sys|proc)(\/|$)/.test(l.split(' ')[4]));
}

test('/dev, /sys and /proc in the image as symlinks to the host\'s, FIFOs or files: nothing lands on the host', scoped(async (s) => {
  const before = hostSystemMounts();
  for (const name of ['dev', 'sys', 'proc']) {
    for (const kind of ['symlink', 'relative symlink', 'fifo', 'file']) {
      const b = s.bundle().sh('echo inside');
      const at = join(b.rootfs, name);
      rmSync(at, { recursive: true });
      if (kind === 'symlink') symlinkSync(`/${name}`, at);
      else if (kind === 'relative symlink') symlinkSync(`../../../../../../../../${name}`, at);
      else if (kind === 'fifo') assert.equal(runSync('mkfifo', [at]).status, 0);
      else writeFileSync(at, 'a file');
      const r = hakoRun(s, b);
      // either it runs with the mounts inside the root (a symlink is followed inside it, as runc
      // does), or it fails with one line
      if (r.status === 0) assert.equal(r.stdout, 'inside\n', `${name} as a ${kind}: ${show(r)}`);
      else oneLineError(r);
    }
  }
  assert.deepEqual(hostSystemMounts(), before, 'the host\'s /dev, /sys and /proc mounts are as they were');
}));

test('mount destinations through symlink loops and dangling links that point out of the root', scoped(async (s) => {
  const outside = s.path('outside-not-there');
  // a loop fails with one line
  const loop = s.bundle().sh('echo ran');
  symlinkSync('/loop2', join(loop.rootfs, 'loop1'));
  symlinkSync('/loop1', join(loop.rootfs, 'loop2'));
  loop.addMount({ destination: '/loop1/x', type: 'tmpfs', source: 'tmpfs', options: [] });
  oneLineError(hakoRun(s, loop));
  // dangling links to a host path that does not exist: what they name is made inside the root
  for (const target of [outside, `../../../../../../../../..${outside}`]) {
    const b = s.bundle().sh('stat -f -c %T /dangling/');
    symlinkSync(target, join(b.rootfs, 'dangling'));
    b.addMount({ destination: '/dangling', type: 'tmpfs', source: 'tmpfs', options: [] });
    const r = hakoRun(s, b);
    if (r.status === 0) assert.equal(r.stdout, 'tmpfs\n', show(r));
    else oneLineError(r);
    assert.equal(existsSync(outside), false, `${target}: ${outside} was made on the host`);
  }
}));

test('a maskedPath that is a symlink to a host file or directory masks nothing on the host', scoped(async (s) => {
  const hostFile = s.path('host-secret');
  const hostDir = s.path('host-dir');
  writeFileSync(hostFile, 'host secret\n');
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'inside'), 'host dir file\n');
  const before = { file: statSync(hostFile), dir: statSync(hostDir) };
  for (const [file, dir] of [[hostFile, hostDir], [`../../../../../../../..${hostFile}`, `../../../../../../../..${hostDir}`]]) {
    const b = s.bundle((c) => { c.linux.maskedPaths = [...c.linux.maskedPaths, '/masked-file', '/masked-dir']; })
      .sh('cat /masked-file 2>/dev/null; ls /masked-dir 2>/dev/null; echo done');
    symlinkSync(file, join(b.rootfs, 'masked-file'));
    symlinkSync(dir, join(b.rootfs, 'masked-dir'));
    const r = hakoRun(s, b);
    // the links resolve inside the root, where there is nothing: the host's files never show
    if (r.status === 0) assert.equal(r.stdout, 'done\n', show(r));
    else oneLineError(r);
    assert.equal(readFileSync(hostFile, 'utf8'), 'host secret\n');
    assert.deepEqual(readdirSync(hostDir), ['inside']);
    assert.equal(statSync(hostFile).mode, before.file.mode);
    assert.equal(statSync(hostDir).mode, before.dir.mode);
    assert.ok(!mountInfo().includes(hostFile) && !mountInfo().includes(hostDir), 'nothing is mounted on the host paths');
  }
}));

/** major:minor of the first block device of the host. */
function hostBlockDevice() {
  const first = readdirSync('/sys/dev/block').sort()[0];
  return first?.split(':').map(Number);
}

test('device nodes shipped in the image (a block device, /dev/mem, /dev/kmsg) cannot be opened', scoped(async (s, t) => {
  const block = hostBlockDevice();
  const b = s.bundle().sh('for d in /disk /mem /kmsg; do if (exec 3</$d) 2>/dev/null; then echo "$d opened"; else echo "$d refused"; fi; done');
  const nodes = [['mem', 'c', 1, 1], ['kmsg', 'c', 1, 11]];
  if (block) nodes.push(['disk', 'b', ...block]);
  else t.diagnostic('no block device on this host: only character devices tried');
  for (const [name, type, major, minor] of nodes) {
    const r = runSync('mknod', ['-m', '666', join(b.rootfs, name), type, String(major), String(minor)]);
    assert.equal(r.status, 0, show(r));
  }
  const out = ok(hakoRun(s, b));
  assert.equal(out, `/disk refused\n/mem refused\n/kmsg refused\n`);
}));

test('from inside a default container: remounts, new proc/sysfs, /proc/sys and cgroupfs writes, mknod, modules and sethostname all fail', scoped(async (s) => {
  const script = [
    'try() { if "$@" >/dev/null 2>&1; then echo "ALLOWED: $*"; else echo "refused: $*"; fi; }',
    'mkdir -p /mnt1',
    'try mount -o remount,rw /',
    'try mount -o remount,rw /proc/sys',
    'try mount -o remount,rw /sys',
    'try mount -t proc proc /mnt1',
    'try mount -t sysfs sysfs /mnt1',
    'try mount -t tmpfs tmpfs /mnt1',
    // writing back the value it has: harmless, should it ever be allowed
    'try sh -c \'v=$(cat /proc/sys/kernel/pid_max) && echo $v > /proc/sys/kernel/pid_max\'',
    'try sh -c \'for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do [ -e $f ] && echo $$ > $f && exit 0; done; exit 1\'',
    'try sh -c \'for d in /sys/fs/cgroup /sys/fs/cgroup/*; do mkdir $d/hako-evil-$$ 2>/dev/null && exit 0; done; exit 1\'',
    'try mknod /tmp/null c 1 3',
    'try hostname evil-name',
    'grep ^CapBnd: /proc/self/status',
    'busybox insmod /bin/busybox 2>&1 | head -1',
  ].join('\n');
  const b = s.bundle().sh(script);
  const out = lines(ok(hakoRun(s, b)));
  const insmod = out.pop();
  const bounding = BigInt(`0x${out.pop()?.split(/\s+/)[1]}`);
  assert.equal((bounding >> 16n) & 1n, 0n, 'no CAP_SYS_MODULE in the bounding set');
  assert.deepEqual(out.filter((l) => l.startsWith('ALLOWED')), [], out.join('\n'));
  assert.equal(out.length, 11, out.join('\n'));
  // EPERM (no CAP_SYS_MODULE), not ENOEXEC (which would mean the kernel looked at the module); a
  // kernel without modules (no /proc/modules) says ENOSYS to everyone
  assert.match(insmod ?? '', existsSync('/proc/modules') ? /not permitted/i : /not permitted|does not support/i);
}));

test('host processes are neither visible nor signalable from a container', scoped(async (s) => {
  const host = spawn('sleep', [s.marker], { stdio: 'ignore' });
  try {
    const b = s.bundle().sh(`ps -o pid,args | grep -c "[s]leep ${s.marker}" ; ls /proc/${host.pid} >/dev/null 2>&1 && echo visible; kill -0 ${host.pid} 2>/dev/null && echo signalable; kill -9 ${host.pid} 2>/dev/null; kill -9 -1 2>/dev/null; echo end`);
    const out = ok(hakoRun(s, b));
    assert.equal(out, '0\nend\n');
    assert.equal(host.exitCode, null, 'the host process still runs');
    assert.equal(host.signalCode, null, 'the host process was not signalled');
  } finally {
    host.kill('SIGKILL');
    await new Promise((r) => (host.exitCode !== null || host.signalCode !== null ? r() : host.on('exit', r)));
  }
}));

// A static probe for the session keyring: `add DESC FILE CMD...` joins a new session keyring, adds a
// user key DESC to it, writes its serial to FILE and execs CMD; `probe DESC SERIAL` prints what the
// caller's session keyring is, and whether it finds the key by description and can read it by serial.
const KEY_PROBE = `#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char buf[256];
    if (argc >= 5 && !strcmp(argv[1], "add")) {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "hako-test-host") < 0) return perror("join"), 1;
        long k = syscall(SYS_add_key, "user", argv[2], "host-secret", 11, KEY_SPEC_SESSION_KEYRING);
        FILE *f = fopen(argv[3], "w");
        if (k < 0 || !f) return perror("add_key"), 1;
        fprintf(f, "%ld\\n", k);
        fclose(f);
        execvp(argv[4], argv + 4);
        return perror("exec"), 1;
    }
    if (argc != 4 || strcmp(argv[1], "probe")) return 2;
    long r = syscall(SYS_keyctl, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, buf, sizeof buf);
    printf("session: %s\\n", r < 0 ? strerrorname_np(errno) : strrchr(buf, ';') + 1);
    r = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", argv[2], 0);
    printf("search: %s\\n", r < 0 ? strerrorname_np(errno) : "found");
    r = syscall(SYS_keyctl, KEYCTL_READ, atol(argv[3]), buf, sizeof buf);
    printf("read: %s\\n", r < 0 ? strerrorname_np(errno) : "read");
    return 0;
}
`;

test('a container does not possess the host\'s session keyring: its keys are not found nor read', scoped(async (s, t) => {
  writeFileSync(s.path('keyprobe.c'), KEY_PROBE);
  const cc = runSync('cc', ['-static', '-o', s.path('keyprobe'), s.path('keyprobe.c')]);
  if (cc.status !== 0) return t.skip(`cannot build a static probe: ${cc.stderr.split('\n')[0]}`);
  const desc = `hako-host-key-${s.token}`;
  const serialFile = s.path('serial');
  const add = (...cmd) => runSync(s.path('keyprobe'), ['add', desc, serialFile, ...cmd], { env: s.env() });
  // the probe itself: on the host, in that session, the key is found and read
  assert.deepEqual(lines(ok(add(s.path('keyprobe'), 'probe', desc, '0'))).slice(0, 2), ['session: hako-test-host', 'search: found']);
  const b = s.bundle().sh(`/keyprobe probe ${desc} $(cat /serial)`);
  writeFileSync(serialFile, '0\n');
  b.addMount({ destination: '/serial', type: 'bind', source: serialFile, options: ['bind', 'ro'] });
  runSync('cp', [s.path('keyprobe'), join(b.rootfs, 'keyprobe')]);
  const id = s.id();
  const out = lines(ok(add(HAKO, '--root', s.root, 'run', '-b', b.dir, id)));
  assert.equal(out[0], `session: _ses.${id}`, out.join('\n'));
  assert.notEqual(out[1], 'search: found', out.join('\n'));
  assert.notEqual(out[2], 'read: read', out.join('\n'));
  // with --no-new-keyring the container keeps the caller's session (as runc): the probe sees it
  const kept = lines(ok(add(HAKO, '--root', s.root, 'run', '--no-new-keyring', '-b', b.dir, s.id())));
  assert.deepEqual(kept, ['session: hako-test-host', 'search: found', 'read: read']);
}));

test('no host fds and no host environment variables reach the container', scoped(async (s) => {
  const secret = s.path('host-fd-file');
  writeFileSync(secret, 'host fd contents\n');
  const fds = [openSync(secret, 'r'), openSync(secret, 'r'), openSync(secret, 'r')];
  try {
    const b = s.bundle().sh('for f in /proc/self/fd/*; do readlink $f; done; env');
    const r = s.hako(['run', '-b', b.dir, s.id()], { env: s.env({ HAKO_HOST_SECRET: 'leaked' }), stdio: ['ignore', 'pipe', 'pipe', ...fds] });
    const out = ok(r);
    assert.ok(!out.includes(secret), `a host fd reached the container:\n${out}`);
    assert.ok(!out.includes('HAKO_HOST_SECRET') && !out.includes('leaked'), `a host variable reached the container:\n${out}`);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}));

test('SIGKILL of hako during create leaves nothing that delete --force does not remove', scoped(async (s) => {
  const b = s.bundle().args(...sleeper(s));
  for (const delay of [0, 5, 15, 30, 60, 100, 200]) {
    const id = s.id();
    const bg = s.spawnHako(['create', '-b', b.dir, id], { toFiles: true });
    await sleep(delay);
    bg.child.kill('SIGKILL');
    await bg.wait();
    ok(s.hako(['delete', '--force', id]));
    // nothing of it is left: state, cgroup, its init (scoped checks them all at the end as well)
    assert.equal(existsSync(join(s.root, id)), false, `delay ${delay}: the state of ${id} is left`);
  }
}));

test('config.json with invalid UTF-8 outside a string, or too big, fails with one line; inside a string it is replaced (as runc\'s Go decoder)', scoped(async (s) => {
  const b = s.bundle().args('echo', 'MARKX');
  const text = Buffer.from(readFileSync(b.configPath));
  // a stray byte where a value should be
  const bad = Buffer.concat([text.subarray(0, 1), Buffer.from([0xff]), text.subarray(1)]);
  writeFileSync(b.configPath, bad);
  oneLineError(hakoRun(s, b), { match: /config\.json/ });
  // inside a string: U+FFFD, as Go's encoding/json does for runc
  const inString = Buffer.from(text);
  inString[inString.indexOf('MARKX')] = 0xff;
  writeFileSync(b.configPath, inString);
  assert.equal(ok(hakoRun(s, b)), '\ufffdARKX\n');
  // a config.json of 64 MiB (an annotation): runs, or one line; never a crash
  b.edit((c) => { c.process.args = ['true']; c.annotations = { big: 'x'.repeat(64 * 1024 * 1024) }; });
  const r = hakoRun(s, b);
  if (r.status !== 0) oneLineError(r);
  assert.equal(lstatSync(b.configPath).size > 64 * 1024 * 1024, true);
}));

