// Networks are isolated from each other: the bridge plugin routes between every bridge of the
// host (ip_forward), so a container could reach one on another network. hako keeps one iptables
// chain, HAKO-ISOLATION, jumped to first from FORWARD, that drops what goes from one in-use
// network's bridge to another's. It is rebuilt from the attachment records (under a lock) after
// every attach and detach; with fewer than two bridges in use the chain and its jump are removed
// (iptables is not run at all while a mark says hako has no chain),
// so nothing of it is left when the last container leaves.
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { bridgeOf, listAttachments, type NetworkDirs } from './config.js';
import { withNetLock } from './lock.js';

export const ISOLATION_CHAIN = 'HAKO-ISOLATION';

function iptables(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('iptables', ['-w', '5', ...args], { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } }, (e, _out, stderr) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : 127) : 0;
      resolve({ code, stderr: String(stderr) });
    });
  });
}

async function must(args: string[]): Promise<void> {
  const r = await iptables(args);
  if (r.code !== 0) throw new HakoError(`hako: network isolation: iptables ${args.join(' ')}: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`, { code: 'network' });
}

/** The DROP rules for a set of bridges in use: each pair, both ways. */
export function isolationRules(bridges: string[]): string[][] {
  const out: string[][] = [];
  for (const a of bridges) for (const b of bridges) if (a !== b) out.push(['-i', a, '-o', b, '-j', 'DROP']);
  return out;
}

/** Rebuilds HAKO-ISOLATION from the attachments; explain tells each rule. */
export async function updateIsolation(dirs: NetworkDirs, explain?: (line: string) => void): Promise<void> {
  await withNetLock(dirs, 'isolation', async () => {
    const bridges = [...new Set((await listAttachments(dirs)).map((a) => bridgeOf(a.config)).filter((b): b is string => !!b))].sort();
    // a mark that hako made the chain: without it and with nothing to isolate, iptables is not run
    const mark = join(dirs.stateDir, 'locks', 'isolation.on');
    if (bridges.length < 2) {
      if (!existsSync(mark)) return;
      // nothing to isolate: the chain goes (each step may find it gone already)
      rmSync(mark, { force: true });
      if ((await iptables(['-L', ISOLATION_CHAIN, '-n'])).code !== 0) return;
      while ((await iptables(['-D', 'FORWARD', '-j', ISOLATION_CHAIN])).code === 0) { /* every jump */ }
      await iptables(['-F', ISOLATION_CHAIN]);
      await iptables(['-X', ISOLATION_CHAIN]);
      explain?.(`[hako] network isolation: fewer than two networks in use: iptables chain ${ISOLATION_CHAIN} removed`);
      return;
    }
    writeFileSync(mark, '');
    if ((await iptables(['-L', ISOLATION_CHAIN, '-n'])).code !== 0) await must(['-N', ISOLATION_CHAIN]);
    await must(['-F', ISOLATION_CHAIN]);
    for (const rule of isolationRules(bridges)) await must(['-A', ISOLATION_CHAIN, ...rule]);
    if ((await iptables(['-C', 'FORWARD', '-j', ISOLATION_CHAIN])).code !== 0) await must(['-I', 'FORWARD', '1', '-j', ISOLATION_CHAIN]);
    explain?.(`[hako] network isolation: iptables chain ${ISOLATION_CHAIN} (first in FORWARD) drops traffic between the bridges ${bridges.join(', ')}`);
  });
}
