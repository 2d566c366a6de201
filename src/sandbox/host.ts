// Where a sandbox lives on the host (as root its layer is mounted by mounts.ts; a rootless
// sandbox's keeper mounts it in its user namespace instead, keeper.ts). Each sandbox has a directory
// <root>/<id>/: `owner` (the Node process that made it: its pid and start time, for prune),
// `disk` (a tmpfs of diskBytes: the overlay's upper and work dirs and each run's /tmp and
// /dev/shm) and `rootfs` (the overlay: the base's read-only layers under `disk/upper`).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { procStat } from '../runtime/lock.js';
import { isRootless } from '../runtime/rootless.js';
import { startKeeper, type Keeper } from './keeper.js';

/** The default root of sandboxes' state. */
export function defaultSandboxRoot(): string {
  if (isRootless()) {
    const run = process.env.XDG_RUNTIME_DIR;
    return run ? join(run, 'hako', 'sandbox') : `/tmp/hako-sandbox-${process.geteuid?.() ?? 0}`;
  }
  return '/run/hako/sandbox';
}

/** A path as overlayfs and mount(8) option strings can carry it. */
export function optionPath(p: string, what: string): string {
  if (/[,:\n\\]/.test(p)) throw new HakoError(`hako: sandbox: ${what} ${JSON.stringify(p)}: a path with ',', ':' or '\\' cannot be an overlay layer`, { code: 'bad-option' });
  return p;
}

export interface SandboxDirs {
  dir: string;
  disk: string;
  upper: string;
  work: string;
  rootfs: string;
  runs: string;
}

export function sandboxDirs(root: string, id: string): SandboxDirs {
  const dir = join(root, id);
  const disk = join(dir, 'disk');
  return { dir, disk, upper: join(disk, 'upper'), work: join(disk, 'work'), rootfs: join(dir, 'rootfs'), runs: join(disk, 'runs') };
}

/**
 * Without root: a keeper (keeper.ts) mounts the sandbox's disk (a tmpfs) and its overlay on
 * `layers` (lowest first) in a user and mount namespace of its own, and is returned: its
 * namespaces are where the sandbox's runs go. (As root, mounts.ts mounts them.)
 */
export async function startLayerKeeper(d: SandboxDirs, layers: string[], diskBytes: number): Promise<Keeper> {
  const lower = layers.map((l) => optionPath(l, 'layer')).reverse().join(':');
  optionPath(d.dir, 'state directory');
  const disk = `size=${diskBytes},nr_inodes=${Math.max(4096, Math.floor(diskBytes / 1024))},mode=0700,nosuid,nodev,private`;
  const keeper = await startKeeper(disk, d.disk, `lowerdir=${lower},upperdir=${d.upper},workdir=${d.work},userxattr`, `lowerdir=${lower},upperdir=${d.upper},workdir=${d.work}`, d.rootfs);
  await writeFile(join(d.dir, 'keeper'), JSON.stringify({ pid: keeper.pid, startTime: keeper.startTime }), { mode: 0o600 });
  return keeper;
}

/** Sandboxes of this process are rootless (a keeper's user namespace holds their mounts). */
export function sandboxRootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

/** Kills the keeper a sandbox's directory names, if it still runs (prune: its owner is gone). */
export async function killRecordedKeeper(dir: string): Promise<void> {
  let k: { pid?: number; startTime?: number };
  try { k = JSON.parse(await readFile(join(dir, 'keeper'), 'utf8')) as typeof k; } catch { return; }
  const now = procStat(k.pid ?? 0);
  if (now && now.startTime === k.startTime && k.pid) {
    try { process.kill(k.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** Makes the directory and records this process as its owner. */
export async function makeSandboxDir(d: SandboxDirs): Promise<void> {
  await mkdir(d.dir, { recursive: false, mode: 0o700 }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
    await mkdir(join(d.dir, '..'), { recursive: true, mode: 0o700 });
    await mkdir(d.dir, { mode: 0o700 });
  });
  await Promise.all([mkdir(d.disk, { mode: 0o700 }), mkdir(d.rootfs, { mode: 0o755 })]);
  const me = procStat(process.pid);
  await writeFile(join(d.dir, 'owner'), JSON.stringify({ pid: process.pid, startTime: me?.startTime ?? 0 }), { mode: 0o600 });
}

/** Whether the process recorded as the sandbox's owner is gone. */
export async function ownerGone(dir: string): Promise<boolean> {
  let owner: { pid?: number; startTime?: number };
  try {
    owner = JSON.parse(await readFile(join(dir, 'owner'), 'utf8')) as typeof owner;
  } catch {
    // no record: a sandbox being made right now, or one whose maker was killed before it wrote
    // the record (a minute later)
    const st = await stat(dir).catch(() => undefined);
    return st === undefined || Date.now() - st.mtimeMs > 60_000;
  }
  const now = procStat(owner.pid ?? 0);
  return now === undefined || now.startTime !== owner.startTime;
}

export async function listSandboxes(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && /^[0-9a-f]{12}$/.test(e.name)).map((e) => e.name);
  } catch {
    return [];
  }
}

/** What sandboxes still open are removed when this process exits (process.exit, or nothing left
 * to do): synchronously, as 'exit' allows. A process killed by a signal leaves them to prune. */
const open = new Set<SandboxDirs>();
const keepers = new Map<SandboxDirs, number>();
function removeAtExit(): void {
  for (const d of open) {
    const k = keepers.get(d);
    if (k !== undefined) {
      // its mounts go with its namespaces; the directory holds only empty mount points
      try { process.kill(k, 'SIGKILL'); } catch { /* gone */ }
      try { rmSync(d.dir, { recursive: true, force: true }); } catch { /* left for prune */ }
      continue;
    }
    spawnSync('umount', ['-l', d.rootfs], { stdio: 'ignore', timeout: 10_000 });
    spawnSync('umount', ['-l', d.disk], { stdio: 'ignore', timeout: 10_000 });
    try { rmSync(d.dir, { recursive: true, force: true }); } catch { /* left for prune */ }
  }
  open.clear();
  keepers.clear();
}

export function trackOpen(d: SandboxDirs, isOpen: boolean, keeper?: number): void {
  if (keeper !== undefined) keepers.set(d, keeper);
  else if (!isOpen) keepers.delete(d);
  if (isOpen) {
    if (!process.listeners('exit').includes(removeAtExit)) process.on('exit', removeAtExit);
    open.add(d);
  } else open.delete(d);
}
