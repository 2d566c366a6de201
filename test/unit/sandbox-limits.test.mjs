// The sandbox's limits as a run's config, its seccomp profile, and the CLI's sizes and durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuSplit, effectiveLimits, resourcesOf, rlimitsOf } from '../../dist/src/sandbox/limits.js';
import { sandboxSeccomp, DENIED_SYSCALLS } from '../../dist/src/sandbox/seccomp.js';
import { parseDuration, parseSize } from '../../dist/src/cli/sandbox.js';

test('limits: defaults under the sandbox\'s, the run\'s over both', () => {
  const l = effectiveLimits({ memoryBytes: 64 << 20, pids: 10 }, { pids: 5, cpuTimeMs: 1500 });
  assert.equal(l.memoryBytes, 64 << 20);
  assert.equal(l.pids, 5);
  assert.equal(l.cpuTimeMs, 1500);
  assert.equal(l.outputBytes, 1 << 20);
  assert.equal(l.diskBytes, 64 << 20);
});

test('limits: memory (swap included), pids and cpus are cgroup limits; file size and open files rlimits; no RLIMIT_AS', () => {
  const l = effectiveLimits({ memoryBytes: 32 << 20, pids: 7, cpus: 0.5, cpuTimeMs: 1500, fileSizeBytes: 4096, openFiles: 64 }, undefined);
  const r = resourcesOf(l);
  assert.deepEqual(r.memory, { limit: 32 << 20, swap: 32 << 20 });
  assert.deepEqual(r.pids, { limit: 7 });
  assert.deepEqual(r.cpu, { quota: 50_000, period: 100_000 });
  assert.deepEqual(r.devices, [{ allow: false, access: 'rwm' }]);
  const rl = Object.fromEntries(rlimitsOf(l).map((x) => [x.type, [x.soft, x.hard]]));
  assert.deepEqual(rl.RLIMIT_FSIZE, [4096, 4096]);
  assert.deepEqual(rl.RLIMIT_NOFILE, [64, 64]);
  assert.deepEqual(rl.RLIMIT_CPU, [3, 4], 'a backstop past the CPU-time limit');
  assert.deepEqual(rl.RLIMIT_CORE, [0, 0]);
  assert.equal(rl.RLIMIT_AS, undefined);
  // file size defaults to the disk
  assert.deepEqual(Object.fromEntries(rlimitsOf(effectiveLimits({ diskBytes: 8 << 20 }, undefined)).map((x) => [x.type, x.soft])).RLIMIT_FSIZE, 8 << 20);
});

test('seccomp: only the native architecture; the denied syscalls; new user namespaces by flag', () => {
  const s = sandboxSeccomp();
  assert.equal(s.defaultAction, 'SCMP_ACT_ALLOW');
  assert.equal(s.architectures.length, 1);
  assert.ok(!s.architectures.some((a) => /X86$|X32|ARM$/.test(a)), 'no 32-bit ABI');
  for (const n of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'keyctl', 'add_key', 'request_key', 'bpf', 'userfaultfd', 'perf_event_open', 'ptrace']) {
    assert.ok(DENIED_SYSCALLS.includes(n), n);
  }
  const unshare = s.syscalls.find((r) => r.names.includes('unshare'));
  assert.deepEqual(unshare.args, [{ index: 0, value: 0x10000000, valueTwo: 0x10000000, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.equal(s.syscalls.find((r) => r.names.includes('clone3')).errnoRet, 38);
});

test('CLI sizes and durations', () => {
  assert.equal(parseSize('memory', '256M'), 256 << 20);
  assert.equal(parseSize('memory', '1g'), 1 << 30);
  assert.equal(parseSize('memory', '4096'), 4096);
  assert.equal(parseSize('memory', '64KiB'), 64 << 10);
  assert.throws(() => parseSize('memory', 'lots'), /--memory: 'lots' is not a size/);
  assert.equal(parseDuration('time', '2s'), 2000);
  assert.equal(parseDuration('time', '500ms'), 500);
  assert.equal(parseDuration('time', '1.5'), 1500);
  assert.equal(parseDuration('time', '1m'), 60_000);
  assert.throws(() => parseDuration('time', 'soon'), /not a duration/);
});

test("usage: user and system CPU add up to the cgroup's exact total (v1's usage_user/usage_sys are tick samples)", () => {
  // a run killed at 300 ms of CPU whose tick-sampled split says 296 ms: the verdict's total is kept
  assert.deepEqual(cpuSplit({ usageNs: 300_400_000, userNs: 290_000_000, systemNs: 6_000_000 }), { userMs: 294, systemMs: 6 });
  assert.deepEqual(cpuSplit({ usageNs: 5_000_000, userNs: 0, systemNs: 0 }), { userMs: 5, systemMs: 0 });
  assert.deepEqual(cpuSplit({ usageNs: 10_000_000, userNs: null, systemNs: null }), { userMs: 10, systemMs: 0 });
  assert.deepEqual(cpuSplit(undefined), { userMs: 0, systemMs: 0 });
  assert.deepEqual(cpuSplit({ userNs: 3_000_000, systemNs: 1_000_000 }), { userMs: 3, systemMs: 1 });
});
