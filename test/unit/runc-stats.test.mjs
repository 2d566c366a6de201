// runc's stats shape from cgroup files (v2 here: this host's integration tests cover v1), and the
// JSON that prints uint64s whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runcJson, runcStatsV2 } from '../../dist/src/cgroups/runc-stats.js';

test('v2: cpu.stat, memory, swap (with memory, as runc), pids, io.stat as blkio, hugetlb', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-runc-stats-'));
  try {
    const files = {
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n',
      'memory.current': '4096\n', 'memory.max': '8192\n', 'memory.peak': '6000\n', 'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
      'memory.swap.current': '100\n', 'memory.swap.max': 'max\n', 'memory.stat': 'anon 10\nfile 20\n',
      'pids.current': '2\n', 'pids.max': 'max\n',
      'io.stat': '8:0 rbytes=10 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
      'hugetlb.2MB.current': '0\n', 'hugetlb.2MB.events': 'max 2\n',
    };
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    const s = runcStatsV2(dir);
    assert.equal(runcJson(s), JSON.stringify({
      cpu: { usage: { total: 1500000, kernel: 500000, user: 1000000 }, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 20000 } },
      cpuset: {},
      memory: {
        cache: 20,
        usage: { limit: 8192, usage: 4096, max: 6000, failcnt: 3 },
        swap: { limit: 0, usage: 4196, failcnt: 0 }, kernel: { limit: 0, failcnt: 0 }, kernelTCP: { limit: 0, failcnt: 0 },
        raw: { anon: 10, file: 20 },
      },
      pids: { current: 2 },
      blkio: {
        ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 10 }, { major: 8, op: 'Write' }],
        ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }, { major: 8, op: 'Write' }],
      },
      hugetlb: { '2MB': { failcnt: 2 } },
      intel_rdt: {},
      network_interfaces: null,
    }).replace('"swap":{"limit":0', '"swap":{"limit":18446744073709551615'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
