// checkpoint and restore: hako does not drive CRIU (and CRIU 3.17 cannot work on this kernel:
// `criu check` fails on the vDSO). Both verbs are refused with one line that says why on the host
// they run on, and touch nothing: the container runs on, no image is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { oneLineError, removeContainer, runDetached, scoped, sleeper } from './oci-util.mjs';

/** What `criu check` says here: undefined (no criu), '' (it passes), or its first Error line. */
function criuCheck() {
  const r = spawnSync('criu', ['check'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return undefined;
  if (r.status === 0) return '';
  return `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).find((l) => /^Error\b/.test(l));
}

const escape = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('checkpoint and restore are refused with one line naming why (CRIU\'s own error here), and touch nothing', scoped(async (s) => {
  const b = s.bundle((c) => { c.process.args = sleeper(s); });
  const { id, pid } = runDetached(s, b);
  const image = s.path('image');
  const check = criuCheck();
  const why = check === undefined ? /needs CRIU \(criu is not installed\)/
    : check === '' ? /not supported yet: `criu check` passes on this host, but hako does not drive CRIU/
      : new RegExp(`CRIU does not work on this host, so no runtime can checkpoint here \\(\`criu check\`: ${escape(check)}\\)`);
  oneLineError(s.hako(['checkpoint', '--image-path', image, '--leave-running', id]), { match: why });
  assert.equal(existsSync(image), false, 'no image written');
  assert.equal(s.state(id).status, 'running');
  assert.ok(existsSync(`/proc/${pid}`), 'the container runs on');
  oneLineError(s.hako(['restore', '--image-path', image, '-b', b.dir, '-d', s.id()]), { match: /^hako: restore: / });
  oneLineError(s.hako(['--criu', s.path('no-criu'), 'checkpoint', id]), { match: /needs CRIU \(.*no-criu is not installed\), and hako does not implement checkpoint and restore yet/ });
  oneLineError(s.hako(['checkpoint', 'no-such-container']), { match: /does not exist/ });
  removeContainer(s, id);
}));
