// A per-container exclusive lock across processes, without flock(2) (Node has none) or native code.
//
// The lock of container ID under ROOT is the directory ROOT/@locks/ID ('@' is never in an id, so
// the name cannot clash with a container). It holds exactly one empty file whose name is the
// owner's token, PID.STARTTIME.NONCE: who holds it is read from one readdir, never from a file
// that might be half written.
//
//  - Taking it: make a private directory ROOT/@locks/@TOKEN holding the file TOKEN, then
//    rename(2) it to ROOT/@locks/ID. The rename is atomic, and fails (ENOTEMPTY) when ID is there
//    holding a token: exactly one process wins. When ID is there but empty (its last owner is
//    between removing its token and removing the directory) the rename replaces it: it was free.
//  - Giving it back: unlink ID/TOKEN (our own name: a lock that is no longer ours is never
//    touched), then rmdir ID, which fails harmlessly if someone has already renamed theirs over it.
//    Or (keepSpare) rename ID back to @TOKEN, kept for this process's next lock: taking that is one
//    rename (a lock is only ever broken for a dead owner, so while we hold ID it is ours).
//  - A stale lock: when the owner named by the token is gone (no such pid, a zombie, or a pid
//    whose start time in /proc differs: the pid was reused), a waiter unlinks ID/THAT-TOKEN. The
//    name pins the generation: of several waiters breaking one stale lock at once exactly one
//    unlink succeeds, and none can remove a newer owner's lock, whose token has another name.
//  - Waiting is bounded: poll with backoff until a deadline, then fail naming the owner's pid.
//
// Within one process the lock is re-entrant along one async call chain (AsyncLocalStorage), so
// StateStore.update inside withLock works; two independent async flows in one process still
// exclude each other. A caller whose fn takes no lock itself says so (flat), and the container
// paths do: a Runtime never turns AsyncLocalStorage on (its hooks would slow every await). The pid and start time mean what they say only within one pid namespace:
// every hako working on one root must see the same /proc (they do when they share /run/hako).
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import { checkContainerId } from './ids.js';

import { procStat, processAlive } from '../linux/proc.js';
import { randomHex } from '../linux/random.js';

export { procStat, processAlive, type ProcStat } from '../linux/proc.js';

/** Who holds (or held) something: a process, named so a reused pid is told apart. */
export interface Owner {
  pid: number;
  startTime: number;
}

let self: Owner | undefined;
let selfPid = 0;

/** This process as an Owner. */
export function selfOwner(): Owner {
  if (self === undefined || selfPid !== process.pid) {
    const st = procStat(process.pid);
    self = { pid: process.pid, startTime: st?.startTime ?? 0 };
    selfPid = process.pid;
  }
  return self;
}

/** A new token naming this process: PID.STARTTIME.NONCE (digits, digits, hex). Unique per call. */
export function ownerToken(): string {
  const me = selfOwner();
  return `${me.pid}.${me.startTime}.${randomHex(6)}`;
}

const TOKEN = /^(\d+)\.(\d+)\.([0-9a-f]+)$/;

/** The owner a token names, or undefined when text is not a token. */
export function parseOwnerToken(text: string): Owner | undefined {
  const m = TOKEN.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  return { pid: Number(m[1]), startTime: Number(m[2]) };
}

/** Whether the owner named by a token has gone (so what it left behind may be removed). */
export function ownerGone(owner: Owner): boolean {
  // this process (its own spare directories, its work in progress): alive, without a read of /proc
  if (owner.pid === process.pid && owner.startTime === selfOwner().startTime) return false;
  return !processAlive(owner.pid, owner.startTime);
}

/** The directory under root holding the locks. */
export const LOCKS_DIR = '@locks';

/** Path of the lock of container id under root. */
export function lockPath(root: string, id: string): string {
  return join(resolve(root), LOCKS_DIR, checkContainerId(id));
}

/** Who holds the lock of container id right now, or undefined when it is free (or its holder is unreadable). */
export function lockHolder(root: string, id: string): Owner | undefined {
  for (const name of listDir(lockPath(root, id))) {
    const owner = parseOwnerToken(name);
    if (owner) return owner;
  }
  return undefined;
}

export interface LockOptions {
  /** How long to wait for the lock before failing, in milliseconds (default 30 s; 0: try once). */
  timeoutMs?: number;
  /** fn takes no lock of this process itself (no withLock or withLockSync inside it, of any id): it
   * runs without the re-entrancy bookkeeping, AsyncLocalStorage, whose hooks slow every await and
   * callback of the process once it is first used. A lock fn takes anyway would wait for itself. */
  flat?: boolean;
  /** Give the lock back by renaming it to a private name (its token file in it) kept for the next
   * lock taken with keepSpare in the same root, which is then one rename: no directory or file
   * made and removed per lock (on a journaled file system under churn each new inode costs
   * about 0.2 ms of kernel time). Spares go once unused for SPARE_IDLE_MS, and at exit. */
  keepSpare?: boolean;
}

/** How long a spare lock directory is kept unused. */
export const SPARE_IDLE_MS = 500;

/** Spare lock directories (ROOT/@locks/@TOKEN holding the file TOKEN), by locks directory. */
const spares = new Map<string, string[]>();
let spareTimer: NodeJS.Timeout | undefined;
/** Locks directories swept (once per process) of the spares of processes that died. */
const sparesSwept = new Set<string>();

function keepSpare(dir: string, staged: string): void {
  if (!sparesSwept.has(dir)) {
    sparesSwept.add(dir);
    sweepLocks(dir);
  }
  const list = spares.get(dir) ?? [];
  list.push(staged);
  spares.set(dir, list);
  if (spareTimer) spareTimer.refresh();
  else {
    spareTimer = setTimeout(() => {
      spareTimer = undefined;
      for (const s of takeSpares()) void rm(s, { recursive: true, force: true }).catch(() => undefined);
    }, SPARE_IDLE_MS);
    spareTimer.unref();
    if (!process.listeners('exit').includes(dropAllSpares)) process.on('exit', dropAllSpares);
  }
}

function takeSpares(dir?: string): string[] {
  const all = dir === undefined ? [...spares.values()].flat() : spares.get(dir) ?? [];
  if (dir === undefined) spares.clear();
  else spares.delete(dir);
  return all;
}

function dropAllSpares(): void {
  dropSpares();
}

/** Removes the spare lock directories now (synchronously: at exit), or only those of one locks
 * directory (ROOT/@locks). */
export function dropSpares(dir?: string): void {
  if (dir === undefined) {
    clearTimeout(spareTimer);
    spareTimer = undefined;
  }
  for (const s of takeSpares(dir)) quietly(() => rmSync(s, { recursive: true, force: true }));
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 50;

/** Lock paths this async call chain holds: what makes the lock re-entrant along one chain only. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Runs fn holding the lock of container id under root, waiting for it up to opts.timeoutMs, and
 * gives the lock back when fn settles. Throws `hako: container X is locked by pid N (...)` when
 * the wait runs out.
 */
export async function withLock<T>(root: string, id: string, fn: () => T | Promise<T>, opts: LockOptions = {}): Promise<T> {
  const path = lockPath(root, id);
  const mine = held.getStore();
  if (mine?.has(path)) return await fn();
  const attempt = new Attempt(path, id, !!opts.keepSpare);
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  let backoff = 1;
  liveHere.add(attempt);
  try {
    for (;;) {
      const r = await attempt.stepAsync();
      if (r.kind === 'acquired') break;
      if (r.kind === 'retry') {
        await new Promise((done) => setImmediate(done));
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw lockedError(id, r.holder, path);
      await new Promise((done) => setTimeout(done, Math.min(left, jitter(backoff))));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  } catch (e) {
    attempt.abandon();
    liveHere.delete(attempt);
    throw e;
  }
  try {
    return await (opts.flat ? fn() : held.run(new Set([...(mine ?? []), path]), fn));
  } finally {
    await attempt.releaseAsync(!!opts.keepSpare);
    liveHere.delete(attempt);
  }
}

/** withLock's attempts under way in this process: taking, holding or giving back a lock. */
const liveHere = new Set<Attempt>();

/**
 * Gives back, synchronously, every lock withLock is waiting for or holds in this process: for
 * its 'exit' handlers, whose own synchronous work on a container must not wait for a lock that
 * an async call chain of this same process holds and will never give back (no callback runs
 * after 'exit').
 */
export function releaseHeldLocks(): void {
  for (const a of liveHere) {
    a.abandon(true);
    a.release();
  }
  liveHere.clear();
}

/** withLock for synchronous code: waits by blocking the thread (Atomics.wait). */
export function withLockSync<T>(root: string, id: string, fn: () => T, opts: LockOptions = {}): T {
  const path = lockPath(root, id);
  const mine = held.getStore();
  if (mine?.has(path)) return fn();
  const attempt = new Attempt(path, id);
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  let backoff = 1;
  let spins = 0;
  try {
    for (;;) {
      const r = attempt.step();
      if (r.kind === 'acquired') break;
      if (r.kind === 'retry' && ++spins % 64 !== 0) continue;
      const left = deadline - Date.now();
      if (r.kind === 'held' && left <= 0) throw lockedError(id, r.holder, path);
      sleepSync(Math.max(0, Math.min(left, jitter(backoff))));
      if (r.kind === 'held') backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  } catch (e) {
    attempt.abandon();
    throw e;
  }
  try {
    return opts.flat ? fn() : held.run(new Set([...(mine ?? []), path]), fn);
  } finally {
    attempt.release();
  }
}

type Step = { kind: 'acquired' } | { kind: 'retry' } | { kind: 'held'; holder: Owner | undefined };

/** One process's try at one lock: the private directory it renames into place, and its token. */
class Attempt {
  private readonly token: string;
  private readonly dir: string;
  private readonly staged: string;
  private staging = false;

  /** spare: start from a spare lock directory of this process, if there is one (keepSpare). */
  constructor(private readonly path: string, private readonly id: string, spare = false) {
    this.dir = join(path, '..');
    const kept = spare ? spares.get(this.dir)?.pop() : undefined;
    if (kept) {
      this.staged = kept;
      this.token = basename(kept).slice(1);
      this.staging = true;
    } else {
      this.token = ownerToken();
      this.staged = join(this.dir, `@${this.token}`);
    }
  }

  step(): Step {
    if (!this.staging) {
      try {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        mkdirSync(this.staged, { mode: 0o700 });
        this.staging = true;
        writeFileSync(join(this.staged, this.token), '', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        throw this.fsError(e, 'preparing');
      }
    }
    try {
      renameSync(this.staged, this.path);
      this.staging = false;
      return { kind: 'acquired' };
    } catch (e) {
      return this.notTaken(e);
    }
  }

  /** step() without blocking the event loop: the staging and the rename in the threadpool (a
   * directory and a file made, and a rename: 1-2 ms on a slow ext4); what a contended lock needs
   * (rare) stays synchronous. */
  async stepAsync(): Promise<Step> {
    if (!this.staging) {
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        await mkdir(this.staged, { mode: 0o700 });
        this.staging = true;
        await writeFile(join(this.staged, this.token), '', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        throw this.fsError(e, 'preparing');
      }
    }
    try {
      await rename(this.staged, this.path);
      this.staging = false;
      return { kind: 'acquired' };
    } catch (e) {
      return this.notTaken(e);
    }
  }

  /** The rename into place failed: retry, or see who holds the lock (and break it if stale). */
  private notTaken(e: unknown): Step {
    const code = errno(e);
    if (code === 'ENOENT') {
      // our private directory went away (someone removed the root under us): start again
      this.staging = false;
      return { kind: 'retry' };
    }
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw this.fsError(e, 'taking');
    const names = listDir(this.path);
    if (names.length === 0) return { kind: 'retry' }; // just given back, or gone: try again now
    let holder: Owner | undefined;
    for (const name of names) {
      const owner = parseOwnerToken(name);
      if (!owner) continue;
      if (!ownerGone(owner)) {
        holder = owner;
        continue;
      }
      // stale: its owner is gone. Unlinking by the token's own name can only remove that generation.
      try {
        unlinkSync(join(this.path, name));
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw this.fsError(e, 'breaking the stale lock');
      }
      quietly(() => rmdirSync(this.path));
      sweepLocks(this.dir);
      return { kind: 'retry' };
    }
    return { kind: 'held', holder };
  }

  /** Gives the lock back: our token only, then the directory if nobody has put theirs in it. */
  release(): void {
    quietly(() => unlinkSync(join(this.path, this.token)));
    quietly(() => rmdirSync(this.path));
  }

  /** release() without blocking the event loop (an rmdir is ~2 ms on a slow ext4). The lock is
   * free once the token is gone; a process that exits before the rmdir leaves an empty
   * directory, which the next taker's rename replaces (and sweepLocks removes). */
  async releaseAsync(keep = false): Promise<void> {
    if (keep) {
      // ours until given back (only a dead owner's lock is ever broken): renamed away whole, it
      // is free, and kept for the next lock
      try {
        await rename(this.path, this.staged);
        keepSpare(this.dir, this.staged);
        return;
      } catch { /* given back as usual */ }
    }
    await unlink(join(this.path, this.token)).catch(() => undefined);
    await rmdir(this.path).catch(() => undefined);
  }

  /** Gives up waiting: removes the private directory (always: whatever this attempt knows). */
  abandon(always = false): void {
    if (this.staging || always) quietly(() => rmSync(this.staged, { recursive: true, force: true }));
    this.staging = false;
  }

  private fsError(e: unknown, what: string): HakoError {
    const code = errno(e) ?? String(e);
    return new HakoError(`hako: ${what} the lock of container ${this.id} (${this.path}) failed: ${code}`, { code: 'io' });
  }
}

/**
 * Removes what dead processes left in a locks directory: private directories (@TOKEN) of
 * owners that are gone, and empty lock directories (rmdir leaves one in use: it is not empty).
 */
export function sweepLocks(dir: string): void {
  for (const name of listDir(dir)) {
    const at = name.indexOf('@');
    if (at < 0) {
      quietly(() => rmdirSync(join(dir, name)));
      continue;
    }
    const owner = parseOwnerToken(name.slice(at + 1));
    if (owner && ownerGone(owner)) quietly(() => rmSync(join(dir, name), { recursive: true, force: true }));
  }
}

function lockedError(id: string, holder: Owner | undefined, path: string): HakoError {
  if (holder) return new HakoError(`hako: container ${id} is locked by pid ${holder.pid} (another hako command is working on it)`, { code: 'locked' });
  return new HakoError(`hako: container ${id} is locked (${path} names no owner hako can read; remove it if no hako command is running)`, { code: 'locked' });
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort
  }
}

function jitter(ms: number): number {
  return ms / 2 + Math.random() * ms;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
}
