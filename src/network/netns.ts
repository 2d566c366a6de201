// A network namespace kept as a file (a bind mount of its nsfs inode, as `ip netns add` makes):
// CNI DEL must run in it after the container has ended, or bridge's NAT rules stay behind. Both
// the pin and the unpin are helper ops (mount, umount2 + unlink): hako runs no mount binaries.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HakoError } from '../errors.js';
import { failureError } from '../helper/failure.js';
import { ops } from '../helper/ops.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { runPlan } from '../helper/session.js';
import { MS } from '../linux/mount.js';
import { namespaceKind } from '../linux/namespaces.js';

async function run(verb: string, b: PlanBuilder): Promise<void> {
  b.exec(['/bin/true'], {});
  const r = await runPlan({ explain: false, hostOps: b.hostOps, nsOps: b.nsOps, initOps: b.initOps }, {}, { stdio: 'ignore', label: verb });
  if (r.failure) throw failureError(verb, b, r.failure);
  if (r.status !== 0) throw new HakoError(`hako: ${verb}: the helper's last step ended with ${r.signal !== null ? `signal ${r.signal}` : `status ${r.status}`}`, { code: 'io' });
}

/** Keeps the network namespace of `pid` at `file` until unpinNetns. */
export async function pinNetns(pid: number, file: string): Promise<void> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, '', { mode: 0o600 });
  const b = new PlanBuilder();
  b.ns(ops.openDir({ slot: 5, path: `/proc/${pid}/ns/net`, anyFile: true }), `open /proc/${pid}/ns/net`);
  b.ns(ops.setns({ nstype: namespaceKind('net').flag, slot: 5 }), "setns(CLONE_NEWNET): join the container's network namespace");
  b.init(ops.mount({ source: '/proc/self/ns/net', target: file, flags: MS.BIND }), `bind it on ${file}`);
  try {
    await run('network: keep the namespace', b);
  } catch (e) {
    await unpinNetns(file).catch(() => undefined);
    throw new HakoError(`hako: cannot keep the container's network namespace at ${file}: ${(e as Error).message.replace(/^hako: /, '')}`, { code: 'io' });
  }
}

/** Lets go of a kept namespace: umount2(MNT_DETACH) and unlink, in the helper (UNPIN). A file that
 * is not mounted, or is gone, is fine. */
export async function unpinNetns(file: string): Promise<void> {
  if (!existsSync(file)) return;
  const b = new PlanBuilder();
  b.init(ops.unpin({ path: file }), `umount2(${file}, MNT_DETACH) and unlink it`);
  await run('network: let go of the namespace', b);
}
