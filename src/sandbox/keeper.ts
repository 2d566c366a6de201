// A rootless sandbox's keeper: a process in a user namespace U and a mount namespace M of its
// own, where the sandbox's disk (a tmpfs) and its overlay are mounted. It holds nothing else and
// does nothing: each run joins U and M by path (/proc/PID/ns/*) and makes its own copy of M, so
// M is never changed by a run. U maps 0 to the user, and the user's first /etc/subuid and
// /etc/subgid ranges from 1 up (through newuidmap/newgidmap); without ranges, only the user's
// own ids (setgroups denied). The keeper is util-linux's unshare(1) exec'ing sh, which waits on
// a pipe from this process: when this process goes (even by SIGKILL) it reads EOF and exits, and
// its mounts go with M. Nothing of the sandbox is then left on the host's disk.
// Where the kernel refuses overlayfs in U, the keeper runs fuse-overlayfs instead (SCRIPT).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { HakoError } from '../errors.js';
import type { IdRange } from '../linux/idmap.js';
import { mapActions, writeIdMapsAsync } from '../runtime/idmaps.js';
import { userNsRestriction } from '../runtime/rootless.js';
import { procStat } from '../runtime/lock.js';
import { LOCAL_FS, type SandboxFs } from './files.js';
import { FsProxy } from './fs-proxy.js';

/** The caller's first range in /etc/subuid or /etc/subgid (by name or number), if any. */
export function subordinateRange(kind: 'uid' | 'gid', file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid'): { start: number; count: number } | undefined {
  const id = kind === 'uid' ? process.geteuid?.() ?? 0 : process.getegid?.() ?? 0;
  let name = String(process.geteuid?.() ?? 0);
  try { name = userInfo().username; } catch { /* no passwd entry: by number only */ }
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if ((owner === name || owner === String(kind === 'uid' ? id : process.geteuid?.())) && start && count && /^\d+$/.test(start) && /^\d+$/.test(count) && Number(count) > 0) {
      return { start: Number(start), count: Number(count) };
    }
  }
  return undefined;
}

/** The maps of a keeper's user namespace: 0 is the caller, the subordinate ranges above it. */
export function keeperMaps(): { uid: IdRange[]; gid: IdRange[]; single: boolean } {
  const su = subordinateRange('uid');
  const sg = subordinateRange('gid');
  const single = su === undefined || sg === undefined;
  const uid: IdRange[] = [{ inside: 0, outside: process.geteuid?.() ?? 0, count: 1 }];
  const gid: IdRange[] = [{ inside: 0, outside: process.getegid?.() ?? 0, count: 1 }];
  if (!single) {
    uid.push({ inside: 1, outside: su.start, count: su.count });
    gid.push({ inside: 1, outside: sg.start, count: sg.count });
  }
  return { uid, gid, single };
}

export interface Keeper {
  pid: number;
  startTime: number;
  /** U maps only the user's own ids (no /etc/subuid range): setgroups is denied, uid 0 only. */
  single: boolean;
  /** The overlay mounted: the kernel's, or fuse-overlayfs's (the kernel refused it, or it was asked for). */
  overlay: 'kernel' | 'fuse';
  /** How this process reaches the overlay's files: directly, or (fuse-overlayfs: allow_other
   * admits only processes in U) through a proxy in U. */
  fs: SandboxFs;
  /** A path of M, as this process reaches it (/proc/PID/root/...). */
  view(path: string): string;
  /** Kills the keeper: its mounts go with its namespaces (once no run is in them). */
  stop(): Promise<void>;
}

// $1 the disk's tmpfs options, $2 the disk, $3 the kernel overlay's options, $4 the rootfs, $5 the
// overlay wanted (auto, kernel or fuse), $6 fuse-overlayfs's options. fuse-overlayfs runs in the
// foreground as the keeper's child, killed when the keeper reads EOF (and by PR_SET_PDEATHSIG when
// the keeper is killed): its mount, in M only, goes with it.
const SCRIPT = 'echo u; read go || exit 1; [ "$go" = go ] || exit 1; set -e; '
  + 'mount -t tmpfs -o "$1" hako-sandbox-disk "$2"; mkdir -m 755 "$2/upper"; mkdir -m 700 "$2/work" "$2/runs"; '
  + 'if [ "$5" != fuse ] && mount -t overlay -o "$3" hako-sandbox "$4"; then echo ready kernel; else '
  + '[ "$5" != kernel ] || exit 1; '
  + 'command -v fuse-overlayfs >/dev/null || { echo "hako-keeper: fuse-overlayfs is not installed" >&2; exit 1; }; '
  + '[ -r /dev/fuse ] && [ -w /dev/fuse ] || { echo "hako-keeper: fuse-overlayfs: /dev/fuse is not readable and writable by the user" >&2; exit 1; }; '
  + 'setpriv --pdeathsig KILL -- fuse-overlayfs -f -o "$6" "$4" & f=$!; i=0; '
  + 'until mountpoint -q "$4"; do kill -0 $f 2>/dev/null || { wait $f || true; echo "hako-keeper: fuse-overlayfs ended" >&2; exit 1; }; '
  + 'i=$((i+1)); [ $i -lt 1000 ] || { kill -KILL $f; echo "hako-keeper: fuse-overlayfs did not mount in 10 s" >&2; exit 1; }; sleep 0.01; done; '
  + 'echo ready fuse; fi; read x || true; [ -z "${f-}" ] || { kill -KILL $f; wait $f || true; }';

/** The overlay a keeper mounts: the kernel's, falling back to fuse-overlayfs where the kernel
 * refuses it in the user namespace (auto, the default); HAKO_SANDBOX_OVERLAY=kernel or fuse
 * (a test and diagnostic knob) asks for one. */
export type OverlayKind = 'auto' | 'kernel' | 'fuse';

export function overlayWanted(env: NodeJS.ProcessEnv = process.env): OverlayKind {
  const v = env.HAKO_SANDBOX_OVERLAY;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'kernel' || v === 'fuse') return v;
  throw new HakoError(`hako: sandbox: HAKO_SANDBOX_OVERLAY=${JSON.stringify(v)}: auto, kernel or fuse`, { code: 'bad-option' });
}

/** Starts a keeper with `disk` (tmpfs options) on diskDir and the overlay on rootfs: the kernel's
 * (`overlayOptions`) or fuse-overlayfs (`fuseOptions`), as overlayWanted() says. */
export async function startKeeper(diskOptions: string, diskDir: string, overlayOptions: string, fuseOptions: string, rootfs: string): Promise<Keeper> {
  const maps = keeperMaps();
  const wanted = overlayWanted();
  let child: ChildProcess;
  try {
    child = spawn('unshare', ['--user', '--mount', '--propagation', 'private', '/bin/sh', '-c', SCRIPT, 'sh', diskOptions, diskDir, overlayOptions, rootfs, wanted, fuseOptions],
      { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    throw new HakoError(`hako: sandbox: cannot start unshare(1) (util-linux): ${(e as Error).message}`, { code: 'unsupported' });
  }
  const k = child;
  let err = '';
  k.stderr?.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString(); });
  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<number | null>((resolve) => { k.on('exit', (c) => resolve(c)); k.on('error', (e) => { spawnError = e; resolve(-1); }); });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  k.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
    wake?.();
  });
  const next = async (): Promise<string | undefined> => {
    for (;;) {
      if (lines.length) return lines.shift();
      const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => { wake = () => r(false); })]);
      if (gone && !lines.length) return undefined;
    }
  };
  const fail = async (what: string): Promise<never> => {
    k.kill('SIGKILL');
    await exited;
    if (spawnError) {
      throw new HakoError(`hako: sandbox: cannot start unshare(1)${spawnError.code === 'ENOENT' ? ': it is not installed (util-linux)' : `: ${spawnError.message}`}`, { code: 'unsupported' });
    }
    const text = err.trim().split('\n').pop() ?? '';
    if (/unshare failed/.test(text)) {
      const why = userNsRestriction();
      throw new HakoError(`hako: sandbox: cannot make a user namespace: ${why ?? text}`, { code: 'permission' });
    }
    // auto: the kernel's refusal, then why fuse-overlayfs failed too
    const kernel = wanted === 'auto' ? err.trim().split('\n').find((l) => l.startsWith('mount: ') && l !== text) : undefined;
    const why = [kernel, text].filter(Boolean).join('; ');
    throw new HakoError(`hako: sandbox: ${what}${why ? `: ${why}` : ''}`, { code: 'io' });
  };
  const timer = setTimeout(() => k.kill('SIGKILL'), 30_000);
  let ready: string | undefined;
  try {
    if ((await next()) !== 'u') return await fail('the keeper did not start');
    try {
      await writeIdMapsAsync(k.pid!, mapActions({ uid: maps.uid, gid: maps.gid }));
    } catch (e) {
      k.kill('SIGKILL');
      await exited;
      throw e;
    }
    k.stdin?.write('go\n');
    ready = await next();
    if (ready !== 'ready kernel' && ready !== 'ready fuse') {
      return await fail(wanted === 'fuse' ? 'mounting the disk and fuse-overlayfs in the user namespace failed'
        : wanted === 'kernel' ? 'mounting the disk and the kernel overlay in the user namespace failed'
          : 'mounting the disk and the overlay in the user namespace failed (the kernel\'s, then fuse-overlayfs)');
    }
  } finally {
    clearTimeout(timer);
  }
  // the keeper does not keep this process alive; its pipes stay open (its end is this process's)
  for (const s of [k.stdin, k.stdout, k.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  k.unref();
  const pid = k.pid!;
  const startTime = procStat(pid)?.startTime ?? 0;
  const proxy = ready === 'ready fuse' ? new FsProxy(pid) : undefined;
  const fs: SandboxFs = proxy ?? LOCAL_FS;
  return {
    pid, startTime, single: maps.single, overlay: ready === 'ready fuse' ? 'fuse' : 'kernel', fs,
    view: (p) => `/proc/${pid}/root${p}`,
    stop: async () => {
      await proxy?.stop();
      if (ready === 'ready fuse' && k.exitCode === null && k.signalCode === null) {
        // EOF: the keeper kills fuse-overlayfs and waits for it (SIGKILL after 2 s)
        k.stdin?.end();
        let t: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => { t = setTimeout(r, 2000); })]);
        clearTimeout(t);
      }
      if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
      await exited;
    },
  };
}
