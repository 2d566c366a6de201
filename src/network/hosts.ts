// Name resolution between the containers of one network: a hosts file per network in hako's
// network state, bind-mounted read-only as each attached container's /etc/hosts. It is rewritten
// in place (the same inode: write, then truncate; never a rename, which the bind mounts would not
// see) under a lock on every attach and detach, from the attachment records.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { addressesOf } from './attach.js';
import { type Attachment, listAttachments, type NetworkDirs } from './config.js';

function hostsDir(dirs: NetworkDirs): string {
  return join(dirs.stateDir, 'hosts');
}

/** The hosts file of a network. */
export function networkHostsPath(dirs: NetworkDirs, network: string): string {
  return join(hostsDir(dirs), network);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}


/** Runs fn holding the lock of the network's hosts file: a directory (mkdir is atomic) holding
 * the owner's pid; a lock whose owner is gone (a SIGKILL) is broken. Bounded: 10 s. */
export async function withHostsLock<T>(dirs: NetworkDirs, network: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(hostsDir(dirs), { recursive: true, mode: 0o755 });
  const lock = `${networkHostsPath(dirs, network)}.lock`;
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
      if ((owner > 0 && !alive(owner)) || (owner === 0 && i > 200)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new HakoError(`hako: network ${network}: the lock ${lock} is held by pid ${owner}`, { code: 'locked' });
      await new Promise((r) => setTimeout(r, Math.min(20, 1 + i)));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The text of a network's hosts file: localhost, then each named attachment's addresses. */
export function networkHostsText(attachments: Attachment[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const a of attachments) {
    if (!a.names?.length) continue;
    for (const ip of addressesOf(a.result)) lines.push(`${ip}\t${a.names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes text into file in place (same inode), creating it if need be. */
function writeInPlace(file: string, text: string): void {
  const fd = openSync(file, fsc.O_RDWR | fsc.O_CREAT, 0o644);
  try {
    const buf = Buffer.from(text);
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, done);
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}

/** Makes the network's hosts file if it is missing (before a container bind-mounts it). */
export async function ensureNetworkHosts(dirs: NetworkDirs, network: string): Promise<string> {
  await withHostsLock(dirs, network, async () => {
    const file = networkHostsPath(dirs, network);
    try {
      closeSync(openSync(file, fsc.O_RDONLY));
    } catch {
      writeInPlace(file, networkHostsText((await listAttachments(dirs)).filter((a) => a.network === network)));
    }
  });
  return networkHostsPath(dirs, network);
}

/** Rewrites the network's hosts file from its attachments (after an attach or a detach). */
export async function updateNetworkHosts(dirs: NetworkDirs, network: string): Promise<void> {
  await withHostsLock(dirs, network, async () => {
    writeInPlace(networkHostsPath(dirs, network), networkHostsText((await listAttachments(dirs)).filter((a) => a.network === network)));
  });
}
