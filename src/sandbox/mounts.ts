// The sandbox's disk (a tmpfs) and overlay, mounted as root by the helper (its MOUNT and MKDIR ops
// in the host's mount namespace), forked from a resident zygote: no fork of Node, no shell and no
// mount(8) per sandbox (a shell running mount(8) twice and mkdir took
// 7-8 ms of a fresh sandbox's create; this about half), and unmounted by such a helper (UMOUNT).
// Without root the keeper's namespaces hold them (host.ts's startLayerKeeper): nothing to unmount.
import { HakoError } from '../errors.js';
import { failureError } from '../helper/failure.js';
import { ops } from '../helper/ops.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { runPlan } from '../helper/session.js';
import { Zygote } from '../helper/zygote.js';
import { MS } from '../linux/mount.js';
import { rm } from 'node:fs/promises';
import { killRecordedKeeper, optionPath, type SandboxDirs } from './host.js';

let zygote: Zygote | undefined;

/** The sandboxes' resident zygote (started on first use, gone when idle). */
export function sandboxZygote(): Zygote {
  zygote ??= new Zygote();
  return zygote;
}

/** As root: mounts the sandbox's disk and its overlay on `layers` (lowest first), both private;
 * with `fresh`, the ones mounted are unmounted first, in the same helper (a pool's reset).
 * Without root a keeper holds them (host.ts's startLayerKeeper, keeper.ts). */
export async function mountSandboxLayer(d: SandboxDirs, layers: string[], diskBytes: number, fresh = false): Promise<void> {
  if ((process.geteuid?.() ?? 0) !== 0) throw new HakoError('hako: sandbox: mountSandboxLayer is for root (a rootless sandbox has a keeper)', { code: 'error' });
  const lower = layers.map((l) => optionPath(l, 'layer')).reverse().join(':');
  optionPath(d.dir, 'state directory');
  const b = new PlanBuilder();
  if (fresh) for (const p of [d.rootfs, d.disk]) b.init(ops.umount({ path: p }), `umount2(${p}, MNT_DETACH)`);
  const nosuid = MS.NOSUID | MS.NODEV;
  b.init(ops.mount({ source: 'hako-sandbox-disk', target: d.disk, fstype: 'tmpfs', flags: nosuid, data: `size=${diskBytes},nr_inodes=${Math.max(4096, Math.floor(diskBytes / 1024))},mode=0700` }), `mount the disk (tmpfs) on ${d.disk}`);
  b.init(ops.mount({ target: d.disk, flags: MS.PRIVATE }), `make ${d.disk} private`);
  b.init(ops.mkdir({ path: d.upper, mode: 0o755 }), `mkdir ${d.upper}`);
  for (const p of [d.work, d.runs]) b.init(ops.mkdir({ path: p, mode: 0o700 }), `mkdir ${p}`);
  b.init(ops.mount({ source: 'hako-sandbox', target: d.rootfs, fstype: 'overlay', data: `lowerdir=${lower},upperdir=${d.upper},workdir=${d.work}` }), `mount the overlay on ${d.rootfs}`);
  b.init(ops.mount({ target: d.rootfs, flags: MS.PRIVATE }), `make ${d.rootfs} private`);
  await runSteps(b, 'sandbox: mount');
}

/** Runs the steps in a helper of the sandboxes' zygote, in the host's namespaces (its init ops,
 * then /bin/true): a failed step is an error naming it. */
async function runSteps(b: PlanBuilder, what: string): Promise<void> {
  b.exec(['/bin/true'], {});
  const r = await runPlan({ explain: false, hostOps: b.hostOps, nsOps: b.nsOps, initOps: b.initOps }, {}, { stdio: 'ignore', label: what, spawner: sandboxZygote().spawner });
  if (r.failure) throw failureError(what, b, r.failure);
  if (r.status !== 0) throw new HakoError(`hako: ${what}: the helper's last step ended with ${r.signal !== null ? `signal ${r.signal}` : `status ${r.status}`}`, { code: 'io' });
}

/** Unmounts the overlay and the disk (lazily; those not mounted are fine) by the helper's UMOUNT
 * op, from the zygote (no fork of Node, no umount(8)). Without root there is nothing mounted in
 * this mount namespace (the keeper's held them). */
export async function unmountSandboxLayer(d: SandboxDirs): Promise<void> {
  if ((process.geteuid?.() ?? 0) !== 0) return;
  const b = new PlanBuilder();
  for (const p of [d.rootfs, d.disk]) b.init(ops.umount({ path: p }), `umount2(${p}, MNT_DETACH)`);
  await runSteps(b, 'sandbox: umount');
}

/** Removes everything of the sandbox's directory, its layer first: as root unmounted, without
 * root its keeper killed (if it still runs), whose namespaces held the mounts. */
export async function removeSandboxLayerDir(d: SandboxDirs): Promise<void> {
  if ((process.geteuid?.() ?? 0) !== 0) await killRecordedKeeper(d.dir);
  else await unmountSandboxLayer(d);
  await rm(d.dir, { recursive: true, force: true });
}
