// checkpoint and restore: runc drives CRIU for them; hako does not yet. The refusal says why in
// the terms of this host: CRIU missing, CRIU unable to work on this kernel (what `criu check`
// says), or hako's own missing support.
import { spawnSync } from 'node:child_process';
import { HakoError } from '../errors.js';

/** Why `verb` (checkpoint, restore) cannot be done here, as an error to throw. criu: the
 * program (runc's --criu; default criu, looked up in PATH). */
export function checkpointRefusal(verb: 'checkpoint' | 'restore', criu = 'criu'): HakoError {
  const r = spawnSync(criu, ['check'], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  const unsupported = (why: string) => new HakoError(`hako: ${verb}: ${why}`, { code: 'unsupported' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return unsupported(`needs CRIU (${criu} is not installed), and hako does not implement checkpoint and restore yet`);
  }
  if (r.status !== 0) {
    const text = `${r.stderr ?? ''}\n${r.stdout ?? ''}`;
    const first = text.split('\n').map((l) => l.trim()).find((l) => /^Error\b/.test(l)) ?? text.trim().split('\n')[0] ?? `exit status ${r.status ?? r.signal}`;
    return unsupported(`CRIU does not work on this host, so no runtime can ${verb} here (\`${criu} check\`: ${first}); hako does not implement checkpoint and restore yet either`);
  }
  return unsupported(`not supported yet: \`${criu} check\` passes on this host, but hako does not drive CRIU (use runc for checkpoint and restore)`);
}
