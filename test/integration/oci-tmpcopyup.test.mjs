// tmpcopyup (runc's mount extension; podman adds it to every tmpfs it generates): the image's
// directory is copied into the tmpfs mounted over it, with owners, modes and symlinks kept, never
// following a symlink of the image; writes go to the tmpfs. Every other option of runc's
// `features` mountOptions either works or is refused in one line, never passed to mount(2) as data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_RUNC, RUNC, hakoRun, lines, ok, runSync, scoped, show } from './oci-util.mjs';
import { planMountOptions, supportedMountOptions } from '../../dist/src/plan/mountopts.js';

/** An image /etc/app: files with owners and modes, a subdirectory, symlinks
 * (a relative one, and two that would leave the rootfs if they were followed on the host). */
function imageApp(b) {
  const app = join(b.rootfs, 'etc', 'app');
  mkdirSync(join(app, 'sub'), { recursive: true });
  writeFileSync(join(app, 'app.conf'), 'name=app\n');
  chmodSync(join(app, 'app.conf'), 0o604);
  chownSync(join(app, 'app.conf'), 1000, 1000);
  writeFileSync(join(app, 'run.sh'), '#!/bin/sh\necho ran\n');
  chmodSync(join(app, 'run.sh'), 0o4755);
  writeFileSync(join(app, 'sub', 'deep'), 'deep\n');
  chmodSync(join(app, 'sub', 'deep'), 0o600);
  chmodSync(join(app, 'sub'), 0o710);
  chownSync(join(app, 'sub'), 0, 1000);
  symlinkSync('app.conf', join(app, 'link'));
  symlinkSync('/', join(app, 'up'));
  symlinkSync('/etc/passwd', join(app, 'passwd'));
  return app;
}

const LIST = 'cd /etc/app && for f in app.conf run.sh sub sub/deep link up passwd; do stat -c "%n %a %u:%g %F" $f; done; '
  + 'for l in link up passwd; do readlink $l; done; cat link sub/deep; grep " /etc/app " /proc/self/mountinfo | cut -d" " -f9';

test('tmpcopyup: the image\'s /etc/app is in the tmpfs, owners, modes and symlinks kept; writes stay in the tmpfs', scoped(async (s) => {
  const b = s.bundle();
  const app = imageApp(b);
  b.addMount({ destination: '/etc/app', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755', 'tmpcopyup'] });
  b.sh(`${LIST}; echo changed > sub/deep && echo new > newfile && rm run.sh && echo wrote`);
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  assert.deepEqual(lines(r.stdout), [
    'app.conf 604 1000:1000 regular file',
    'run.sh 4755 0:0 regular file',
    'sub 710 0:1000 directory',
    'sub/deep 600 0:0 regular file',
    'link 777 0:0 symbolic link',
    'up 777 0:0 symbolic link',
    'passwd 777 0:0 symbolic link',
    'app.conf', '/', '/etc/passwd',
    'name=app', 'deep',
    'tmpfs',
    'wrote',
  ], show(r));
  // the image is unchanged on the host
  assert.equal(readFileSync(join(app, 'sub', 'deep'), 'utf8'), 'deep\n');
  assert.ok(existsSync(join(app, 'run.sh')));
  assert.ok(!existsSync(join(app, 'newfile')));
}));

test('tmpcopyup with ro: filled, then read-only', scoped(async (s) => {
  const b = s.bundle();
  imageApp(b);
  b.addMount({ destination: '/etc/app', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'tmpcopyup'] });
  b.sh('cat /etc/app/app.conf; touch /etc/app/x 2>/dev/null && echo writable || echo read-only');
  const r = hakoRun(s, b);
  assert.equal(r.status, 0, show(r));
  assert.deepEqual(lines(r.stdout), ['name=app', 'read-only'], show(r));
}));

test('tmpcopyup on anything but a tmpfs is refused in one line', scoped(async (s) => {
  const b = s.bundle();
  b.addMount({ destination: '/mnt', type: 'bind', source: s.dir, options: ['rbind', 'tmpcopyup'] });
  const r = hakoRun(s, b);
  assert.equal(r.status, 1, show(r));
  assert.deepEqual(lines(r.stderr), ["hako: config.json: mounts[7]: mount option 'tmpcopyup' is only for tmpfs mounts (this one is a bind)"], show(r));
}));

test('every mount option of runc\'s features is hako\'s too, and none goes to mount(2) as data', { skip: NO_RUNC }, () => {
  const runc = JSON.parse(ok(runSync(RUNC, ['features']))).mountOptions;
  const hako = supportedMountOptions();
  for (const option of runc) {
    assert.ok(hako.includes(option), `${option} is in runc's features, not in hako's`);
    const type = ['bind', 'rbind'].includes(option) ? 'bind' : 'tmpfs';
    assert.equal(planMountOptions([option], type, 'mounts[0]').data, '', `${option} would go to mount(2) as data`);
  }
});
