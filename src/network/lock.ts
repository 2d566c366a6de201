// A lock of hako's network state across processes (Node has no flock).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { NetworkDirs } from './config.js';
import { processExists } from '../linux/proc.js';



/** Runs fn holding the lock NAME of hako's network state (a network's hosts file, the isolation rules): a directory (mkdir is atomic) holding
 * the owner's pid; a lock whose owner is gone (a SIGKILL) is broken. Bounded: 10 s. */
export async function withNetLock<T>(dirs: NetworkDirs, name: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(join(dirs.stateDir, 'locks'), { recursive: true, mode: 0o700 });
  const lock = join(dirs.stateDir, 'locks', name);
  const deadline = Date.now() + 10_000;
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock, { mode: 0o700 });
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = 0;
      try { owner = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* being written, or broken */ }
      if ((owner > 0 && !processExists(owner)) || (owner === 0 && i > 200)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new HakoError(`hako: network state: the lock ${lock} is held by pid ${owner}`, { code: 'locked' });
      await new Promise((r) => setTimeout(r, Math.min(20, 1 + i)));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

