// Name resolution between the containers of one network: a hosts file per network in hako's
// network state, bind-mounted read-only as each attached container's /etc/hosts. It is rewritten
// in place (the same inode: write, then truncate; never a rename, which the bind mounts would not
// see) under a lock on every attach and detach, from the attachment records.
import { closeSync, existsSync, ftruncateSync, openSync, writeSync, constants as fsc } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { addressesOf } from './attach.js';
import { type Attachment, listAttachments, type NetworkDirs } from './config.js';
import { withNetLock } from './lock.js';

/** The hosts file of a network. */
export function networkHostsPath(dirs: NetworkDirs, network: string): string {
  return join(dirs.stateDir, 'hosts', network);
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
  await withNetLock(dirs, `hosts-${network}`, async () => {
    const file = networkHostsPath(dirs, network);
    await mkdir(dirname(file), { recursive: true, mode: 0o755 });
    try {
      closeSync(openSync(file, fsc.O_RDONLY));
    } catch {
      writeInPlace(file, networkHostsText((await listAttachments(dirs)).filter((a) => a.network === network)));
    }
  });
  return networkHostsPath(dirs, network);
}

/** Rewrites the network's hosts file from its attachments (after an attach or a detach); a
 * network no container has used has none (unshare's commands have files of their own). */
export async function updateNetworkHosts(dirs: NetworkDirs, network: string): Promise<void> {
  if (!existsSync(networkHostsPath(dirs, network))) return;
  await withNetLock(dirs, `hosts-${network}`, async () => {
    writeInPlace(networkHostsPath(dirs, network), networkHostsText((await listAttachments(dirs)).filter((a) => a.network === network)));
  });
}
