// The OCI runtime: /dev inside the container (the default devices, the standard symlinks, /dev/ptmx,
// linux.devices and the device cgroup), and linux.maskedPaths and linux.readonlyPaths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NO_RUNC, hakoRun, lines, ok, removeContainer, runDetached, runcRun, scoped, show, sleeper, v1CgroupDir,
} from './oci-util.mjs';

const DEFAULT_DEVICES = {
  '/dev/null': '1:3', '/dev/zero': '1:5', '/dev/full': '1:7', '/dev/random': '1:8', '/dev/urandom': '1:9', '/dev/tty': '5:0',
};

/** stat's %t:%T (hex) as decimal major:minor. */
function majorMinor(hex) {
  const [ma, mi] = hex.split(':');
  return `${parseInt(ma, 16)}:${parseInt(mi, 16)}`;
}

test('the default devices exist as character devices with the right numbers and mode 666', scoped(async (s) => {
  const b = s.bundle().args('stat', '-c', '%n|%F|%t:%T|%a|%u:%g', ...Object.keys(DEFAULT_DEVICES));
  const out = ok(hakoRun(s, b));
  const seen = Object.fromEntries(lines(out).map((l) => {
    const [name, type, numbers, mode, owner] = l.split('|');
    return [name, { type, numbers: majorMinor(numbers), mode, owner }];
  }));
  for (const [path, numbers] of Object.entries(DEFAULT_DEVICES)) {
    assert.deepEqual(seen[path], { type: 'character special file', numbers, mode: '666', owner: '0:0' }, `${path}\n${out}`);
  }
  if (!NO_RUNC) assert.equal(out, ok(runcRun(s, b)));
  // and they work
  b.sh('echo gone > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && echo x > /dev/full; echo full=$?');
  assert.deepEqual(lines(ok(hakoRun(s, b))), ['4', '4', 'full=1']);
}));

test('/dev symlinks: fd, stdin, stdout, stderr, ptmx', scoped(async (s) => {
  const b = s.bundle().sh('for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done; stat -L -c "%F %t:%T" /dev/ptmx; ls /dev/fd/ | head -1');
  const out = lines(ok(hakoRun(s, b)));
  assert.deepEqual(out.slice(0, 5), [
    'fd -> /proc/self/fd', 'stdin -> /proc/self/fd/0', 'stdout -> /proc/self/fd/1', 'stderr -> /proc/self/fd/2', 'ptmx -> pts/ptmx',
  ]);
  assert.equal(out[5], 'character special file 5:2');
  assert.equal(out[6], '0');
}));

test('no symlink in /dev dangles (/dev/core only when there is a /proc/kcore)', scoped(async (s) => {
  const b = s.bundle().sh('for l in /dev/* /dev/.[!.]*; do if [ -L "$l" ] && [ ! -e "$l" ]; then echo "dangling $l -> $(readlink $l)"; fi; done; true');
  assert.equal(ok(hakoRun(s, b)), '');
}));

test('/dev is a private tmpfs; a container cannot reach host devices that were not given', scoped(async (s) => {
  const b = s.bundle().sh('grep " /dev " /proc/self/mountinfo; ls /dev');
  const out = ok(hakoRun(s, b));
  assert.match(out, / \/dev rw,nosuid[^ ]* - tmpfs /);
  const names = lines(out).slice(1);
  for (const hostOnly of ['vda', 'tty0', 'kmsg', 'mem']) assert.ok(!names.includes(hostOnly), `/dev/${hostOnly} inside:\n${out}`);
}));

test('linux.devices adds a device with its numbers, mode and owner; the device cgroup allows it', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.linux.devices = [{ path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o640, uid: 1000, gid: 2000 }];
    c.process.user = { uid: 1000, gid: 2000 };
  }).sh('stat -c "%F|%t:%T|%a|%u:%g" /dev/mynull; echo data > /dev/mynull; echo write=$?; wc -c < /dev/mynull');
  const [stat, write, size] = lines(ok(hakoRun(s, b)));
  const [type, numbers, mode, owner] = stat.split('|');
  assert.deepEqual([type, majorMinor(numbers), mode, owner], ['character special file', '1:3', '640', '1000:2000']);
  assert.equal(write, 'write=0');
  assert.equal(size, '0');

  // on the host: the container's device cgroup lists the default devices, and no "a *:* rwm"
  b.args(...sleeper(s));
  const { id, pid } = runDetached(s, b);
  const list = lines(readFileSync(join(v1CgroupDir(pid, 'devices'), 'devices.list'), 'utf8'));
  assert.ok(list.includes('c 1:3 rwm'), list.join('\n'));
  assert.ok(!list.includes('a *:* rwm'), `the container may use every device:\n${list.join('\n')}`);
  // every rule of the default set, each its own write(2) to devices.allow (the helper writes them
  // through one open: a rule after the first lost would show here), and the config's device
  for (const rule of ['c *:* m', 'b *:* m', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c 10:200 rwm']) {
    assert.ok(list.includes(rule), `no '${rule}' in devices.list:\n${list.join('\n')}`);
  }
  removeContainer(s, id);
}));

test('the device cgroup refuses a device node it was not told to allow, and allows it with a rule', scoped(async (s) => {
  const script = 'true < /dev/mytty0; echo open=$?';
  const b = s.bundle((c) => {
    c.linux.devices = [{ path: '/dev/mytty0', type: 'c', major: 4, minor: 0, fileMode: 0o600 }];
  }).sh(script);
  const denied = hakoRun(s, b);
  assert.equal(denied.status, 0, show(denied));
  assert.match(denied.stdout, /^open=1$/m);
  assert.match(denied.stderr, /Operation not permitted/, show(denied));

  b.edit((c) => { c.linux.resources.devices.push({ allow: true, type: 'c', major: 4, minor: 0, access: 'r' }); });
  const allowed = hakoRun(s, b);
  assert.doesNotMatch(allowed.stderr, /Operation not permitted/, show(allowed));
}));

test('maskedPaths: masked files read empty, masked directories are empty, missing ones are skipped', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.linux.maskedPaths = [...c.linux.maskedPaths, '/proc/cpuinfo', '/home', '/proc/does-not-exist'];
  }).sh('for f in /proc/cpuinfo /proc/keys /proc/timer_list /proc/kcore; do [ -e $f ] && echo "$f $(wc -c < $f)"; done; echo "home:$(ls -A /home)"; echo "fw:$(ls -A /sys/firmware)"; touch /home/x; echo touch=$?');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  const out = lines(r.stdout);
  for (const f of ['/proc/cpuinfo', '/proc/keys', '/proc/timer_list']) {
    if (existsSync(f)) assert.ok(out.includes(`${f} 0`), `${f} is not masked:\n${r.stdout}`);
  }
  assert.ok(out.includes('home:'), r.stdout);
  assert.ok(out.includes('fw:'), r.stdout);
  assert.ok(out.includes('touch=1'), `a masked directory must be read-only:\n${r.stdout}`);
  // the host and the rootfs are unchanged
  assert.ok(readFileSync('/proc/cpuinfo', 'utf8').length > 0);
  assert.deepEqual(readdirSync(join(b.rootfs, 'home')), ['user']);
}));

test('readonlyPaths: /proc/sys and a rootfs directory refuse writes', scoped(async (s) => {
  const b = s.bundle((c) => {
    c.linux.readonlyPaths = [...c.linux.readonlyPaths, '/tmp', '/no/such/path'];
  }).sh('echo changed > /proc/sys/kernel/hostname; echo sys=$?; touch /tmp/x; echo tmp=$?; grep -E " /proc/sys | /tmp " /proc/self/mountinfo');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  assert.match(r.stdout, /^sys=1$/m);
  assert.match(r.stdout, /^tmp=1$/m);
  assert.match(r.stderr, /Read-only file system/);
  for (const l of lines(r.stdout).filter((x) => x.includes(' - '))) assert.match(l.split(' ')[5], /^ro\b/, l);
  assert.ok(!existsSync(join(b.rootfs, 'tmp', 'x')));
  // the container still has its own writable hostname without the read-only /proc/sys
  b.edit((c) => { c.linux.readonlyPaths = []; });
  b.sh('echo changed > /proc/sys/kernel/hostname && hostname');
  assert.equal(ok(hakoRun(s, b)), 'changed\n');
}));

// found by the differential corpus (spec-rootless: a config without linux.resources)
test('without any device rule in the config, the device cgroup still denies what runc\'s defaults do not allow (as runc)', { skip: NO_RUNC }, scoped(async (s) => {
  const b = s.bundle((c) => {
    delete c.linux.resources;
    c.linux.devices = [{ path: '/dev/mytty0', type: 'c', major: 4, minor: 0, fileMode: 0o600 }];
  }).sh('true < /dev/mytty0 2>/dev/null; echo open=$?; cat /dev/null && echo null-ok');
  const runc = ok(runcRun(s, b));
  assert.equal(runc, 'open=1\nnull-ok\n', 'runc allows the device: the test\'s premise is wrong');
  assert.equal(ok(hakoRun(s, b)), runc);
  const { id, pid } = runDetached(s, s.bundle((c) => { delete c.linux.resources; }).args(...sleeper(s)));
  const list = lines(readFileSync(join(v1CgroupDir(pid, 'devices'), 'devices.list'), 'utf8'));
  assert.ok(!list.includes('a *:* rwm'), `the device cgroup allows everything:\n${list.join('\n')}`);
  assert.ok(list.includes('c 1:3 rwm'), list.join('\n'));
  removeContainer(s, id);
}));
