// The container state store, kept as runc keeps it under --root (default /run/hako):
//
//   ROOT/                       0700
//     ID/                       0700, one per container (the init reaches exec.fifo through an fd)
//       state.json              0600, the ContainerState record
//       exec.fifo, config ...   room for the other files of the container (dir(), file()): config.json 0600
//     @locks/ID                 the per-container lock (lock.ts)
//     @TOKEN.new, @TOKEN.rm     work in progress of one process (never a container: '@' is not in ids),
//                               or a removed container's directory a live process keeps for its
//                               next container (keepFiles: a Runtime's store, for half a second)
//
// Concurrent commands on one id never corrupt it:
//  - create() claims the id atomically: it builds the whole directory, state.json included, under
//    a private name and renames it to ROOT/ID. Of two creates of one id exactly one rename wins;
//    the other fails "already exists". A container is never seen half created.
//  - Every write of state.json is atomic: a temporary file in the same directory, then rename.
//    No fsync: state lives under /run (tmpfs) and means nothing after a reboot, and readers
//    never see a partial file because of the rename (fsync cost 2 ms a container here).
//  - update() reads, changes and writes under the container's lock; remove() takes the lock,
//    renames ROOT/ID away in one step, then deletes it.
// Reads need no lock: state.json is always whole.
import { closeSync, constants as fsc, ftruncateSync, lstatSync, mkdirSync, open, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { rm, rmdir, truncate, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import { checkContainerId, isValidContainerId } from './ids.js';
import { ownerGone, ownerToken, parseOwnerToken, procStat, withLock, withLockSync, type LockOptions } from './lock.js';

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

export const CONTAINER_STATUSES: readonly ContainerStatus[] = ['creating', 'created', 'running', 'stopped', 'paused'];

/** What hako records about a container (ROOT/ID/state.json). */
export interface ContainerState {
  /** OCI runtime-spec version the container was created with. */
  ociVersion: string;
  id: string;
  /** The status last recorded; liveStatus() tells the real one. */
  status: ContainerStatus;
  /** Host pid of the container's init process (0 before it exists). */
  pid: number;
  /** Start time of pid in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  pidStartTime: number;
  /** Absolute path of the bundle. */
  bundle: string;
  /** Absolute path of the root filesystem. */
  rootfs: string;
  /** When the container was created (ISO 8601, UTC). */
  created: string;
  /** User name of the owner, or ''. */
  owner: string;
  annotations: Record<string, string>;
  /** hako: what the cgroup code needs to find the container's cgroup again (opaque here). */
  cgroup: object | null;
  /** hako: path of the snapshot of the container's config. */
  config: string;
}

/** The state of a container as `runc state` prints it, in runc's field order. */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
}

export const STATE_FILE = 'state.json';

/** StateStore.prepareWrite's: a state write whose file exists, to commit once (or abandon). */
export interface PreparedWrite {
  commit(state: ContainerState): ContainerState;
  abandon(): void;
}

/** How long a StateStore keeps a spare directory unused (keepFiles). */
export const SPARE_DIR_IDLE_MS = 500;
const MAX_SPARES = 16;

/** A removed container's directory kept for the next create: the files named in keepFiles that
 * it has (files: emptied), and its state.json (state), which the next container's create writes over. */
interface Spare { dir: string; state?: boolean; files?: string[] }

/** Whether whoever asked for a claim is gone ('claim': before it, 'claimed': right after it). */
export type CallerCheck = (when: 'claim' | 'claimed') => boolean;

let callerGone: CallerCheck | undefined;

/**
 * hako serve's worker: a check, at every claim of an id, that the command's caller (bin/hako's
 * front) is still there. A CLI process killed stops at once; a worker learns that its front was
 * killed only later, from its connection, and a claim it made in between would be left with no one
 * to delete it (`delete --force`, run once the front has died, found nothing). So a claim made
 * while the caller is gone is undone, as if the process had been killed with its caller.
 * undefined: no check (the CLI, a library's Runtime).
 */
export function useCallerCheck(check: CallerCheck | undefined): void {
  callerGone = check;
}

function callerIsGone(id: string): HakoError {
  return new HakoError(`hako: the caller of create ${id} is gone (killed): nothing was created`, { code: 'aborted' });
}

export class StateStore {
  /** Absolute path of the root directory. */
  readonly root: string;

  /**
   * keepFiles: the directory of a removed container is kept (at most MAX_SPARES, for
   * SPARE_DIR_IDLE_MS unused, and never past this process) for the next container created here,
   * with these of its files (written over by their next owner, never appended to) and its
   * state.json (create's write goes there): a container then makes one new inode, not four (a
   * journaled file system under churn spends ~0.2 ms of kernel time on each), and makes it off
   * the event loop (READY's, prepareWrite). Only once this store has created a second container:
   * a process that makes one (the CLI) keeps nothing.
   */
  constructor(root: string, private readonly lockOptions: LockOptions = {}, private readonly keepFiles?: readonly string[]) {
    this.root = resolve(root);
  }

  private readonly spares: Spare[] = [];
  private spareTimer?: NodeJS.Timeout;
  private creates = 0;

  /** The directory of container id (which need not exist). */
  dir(id: string): string {
    return join(this.root, checkContainerId(id));
  }

  /** Path of a file in the directory of container id: exec.fifo, the config snapshot... */
  file(id: string, name: string): string {
    if (name === '' || name.includes('/') || name === '.' || name === '..' || name.includes('@')) {
      throw new Error(`StateStore.file: '${name}' is not a plain file name`);
    }
    return join(this.dir(id), name);
  }

  /** Whether container id exists (has a state). */
  exists(id: string): boolean {
    const path = join(this.dir(id), STATE_FILE);
    try {
      return statSync(path).isFile();
    } catch (e) {
      // only a missing state is "no container": EACCES (a root this user cannot read) is said as it is
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return false;
      throw fsFailure(e, `looking up container ${id} in ${this.root}`);
    }
  }

  /**
   * Creates container id with its first state, atomically and exclusively: when the id is taken,
   * throws `hako: container with id X already exists` (exit code 1). The id argument is the one
   * recorded, whatever state.id says. files: other files of the container (named in keepFiles)
   * that a spare directory has, written over there before the directory is the container's (a
   * write and a trim: ~10 us, no inode made); the names written are in `written`, and the
   * caller writes the others (over what the directory holds: WRITE_OVER).
   */
  create(id: string, state: ContainerState, files: Readonly<Record<string, string>> = {}, written: string[] = []): ContainerState {
    checkContainerId(id);
    const record: ContainerState = { ...state, id };
    const target = join(this.root, id);
    try {
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fsFailure(e, `creating the state directory ${this.root}`);
    }
    // runc refuses an id whose directory exists at all: so do we, before doing any work
    if (pathExists(target, `looking up container ${id} in ${this.root}`)) throw alreadyExists(id);
    if (callerGone?.('claim')) throw callerIsGone(id);
    this.sweep();
    this.creates++;
    const spare = this.spares.pop();
    const staged = spare?.dir ?? join(this.root, `@${ownerToken()}.new`);
    try {
      if (!spare) mkdirSync(staged, { mode: 0o700 });
      // written in place: no one reads the private staging directory, which appears whole (the
      // rename below) or not at all (a crash leaves it to sweep()); one file fewer a container.
      // A spare's state.json is written over (no new inode: that is READY's, made off the event loop)
      if (spare?.state) writeOver(join(staged, STATE_FILE), serialize(record));
      else writeNew(join(staged, STATE_FILE), serialize(record));
      for (const name of spare?.files ?? []) {
        const text = files[name];
        if (text === undefined) continue;
        writeOver(join(staged, name), text);
        written.push(name);
      }
    } catch (e) {
      written.length = 0;
      rmSync(staged, { recursive: true, force: true });
      throw fsFailure(e, `creating the state of container ${id}`);
    }
    try {
      // atomic; fails when the target is there and not empty: exactly one create wins
      renameSync(staged, target);
    } catch (e) {
      rmSync(staged, { recursive: true, force: true });
      const code = errno(e);
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') throw alreadyExists(id);
      throw fsFailure(e, `creating the state of container ${id}`);
    }
    // gone now: maybe before the rename, and then a delete --force run after its death found
    // nothing; the claim is undone (whoever saw it in between may remove it too: force)
    if (callerGone?.('claimed')) {
      rmSync(target, { recursive: true, force: true });
      throw callerIsGone(id);
    }
    return record;
  }

  /** Flags that open a file of a container's directory for writing over whatever is there
   * (a spare's), never through a symlink. */
  static readonly WRITE_OVER = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;

  /** Keeps a removed container's directory (renamed away) as a spare; false: it was not kept. */
  private async keepSpare(trash: string): Promise<boolean> {
    if (!this.keepFiles || this.creates < 2 || this.spares.length >= MAX_SPARES) return false;
    const names = readdirSync(trash);
    const keep = new Set(this.keepFiles);
    await Promise.all(names.filter((n) => n !== STATE_FILE && !keep.has(n)).map((n) => unlink(join(trash, n))));
    // emptied: nothing of the last container is read as the next one's before it writes its own
    // (a config it may hold secrets in, or whose poststop hooks a delete --force would run)
    await Promise.all(names.filter((n) => keep.has(n)).map((n) => truncate(join(trash, n))));
    // (its state.json stays: no one reads this private directory, and the next create writes
    // over it before the directory is a container again)
    const files = names.filter((n) => keep.has(n));
    this.spares.push({ dir: trash, ...(names.includes(STATE_FILE) ? { state: true } : {}), ...(files.length ? { files } : {}) });
    if (this.spareTimer) this.spareTimer.refresh();
    else {
      this.spareTimer = setTimeout(() => {
        this.spareTimer = undefined;
        for (const sp of this.spares.splice(0)) void rm(sp.dir, { recursive: true, force: true }).catch(() => undefined);
      }, SPARE_DIR_IDLE_MS);
      this.spareTimer.unref();
      spareStores.add(this);
      if (!process.listeners('exit').includes(dropSpareDirs)) process.on('exit', dropSpareDirs);
    }
    return true;
  }

  /** Removes the spare directories now (synchronously: at exit). */
  dropSpares(): void {
    clearTimeout(this.spareTimer);
    this.spareTimer = undefined;
    for (const sp of this.spares.splice(0)) {
      try { rmSync(sp.dir, { recursive: true, force: true }); } catch { /* the next sweep takes it */ }
    }
  }

  /** The recorded state of container id; `hako: container X does not exist` when there is none. */
  read(id: string): ContainerState {
    checkContainerId(id);
    const path = join(this.root, id, STATE_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw doesNotExist(id);
      throw fsFailure(e, `reading the state of container ${id}`);
    }
    return parse(text, id, path);
  }

  /**
   * Replaces the state of an existing container, atomically. Does not lock: call it inside
   * withLock(store.root, id, ...) (or use update()).
   */
  write(id: string, state: ContainerState): ContainerState {
    checkContainerId(id);
    const record: ContainerState = { ...state, id };
    const dir = join(this.root, id);
    if (!pathExists(join(dir, STATE_FILE), `looking up container ${id} in ${this.root}`)) throw doesNotExist(id);
    try {
      writeAtomic(dir, STATE_FILE, serialize(record));
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw doesNotExist(id);
      throw fsFailure(e, `writing the state of container ${id}`);
    }
    sweepTemporaries(dir);
    return record;
  }

  /**
   * A write of container id's state made ready ahead of time: its temporary file is created now,
   * off the event loop (the new inode: the slow part on a journaled file system; the one a
   * container makes when its directory is a spare's), and commit()
   * writes it and renames it over state.json, atomically for readers as write() does. Not locked,
   * as write(). A container deleted meanwhile (its directory renamed away) is not written, even
   * when a new one took its id: the file is in the old directory. abandon() removes a write
   * never committed.
   */
  async prepareWrite(id: string): Promise<PreparedWrite> {
    checkContainerId(id);
    const dir = join(this.root, id);
    const tmp = join(dir, `${STATE_FILE}@${ownerToken()}.tmp`);
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) => open(tmp, 'wx', 0o600, (e, n) => (e ? reject(e) : resolve(n))));
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw doesNotExist(id);
      throw fsFailure(e, `writing the state of container ${id}`);
    }
    let done = false;
    return {
      commit: (state) => {
        if (done) throw new Error('StateStore: a prepared write is committed once');
        done = true;
        const record: ContainerState = { ...state, id };
        try {
          try {
            writeAll(fd, serialize(record));
          } finally {
            closeSync(fd);
          }
          renameSync(tmp, join(dir, STATE_FILE));
        } catch (e) {
          rmSync(tmp, { force: true });
          const code = errno(e);
          if (code === 'ENOENT' || code === 'ENOTDIR') throw doesNotExist(id);
          throw fsFailure(e, `writing the state of container ${id}`);
        }
        return record;
      },
      abandon: () => {
        if (done) return;
        done = true;
        try { closeSync(fd); } catch { /* closed */ }
        rmSync(tmp, { force: true });
      },
    };
  }

  /**
   * Reads, changes and writes the state of container id holding its lock. fn may change the
   * state it is given in place, or return a new one. Returns the state written.
   */
  update(id: string, fn: (state: ContainerState) => ContainerState | void): ContainerState {
    checkContainerId(id);
    return withLockSync(this.root, id, () => this.change(id, fn), { ...this.lockOptions, flat: true });
  }

  /** update(), waiting for the lock on timers (the event loop runs meanwhile): the library's. */
  updateAsync(id: string, fn: (state: ContainerState) => ContainerState | void): Promise<ContainerState> {
    checkContainerId(id);
    return withLock(this.root, id, () => this.change(id, fn), { ...this.lockOptions, flat: true });
  }

  private change(id: string, fn: (state: ContainerState) => ContainerState | void): ContainerState {
    const state = this.read(id);
    const next = fn(state) ?? state;
    return this.write(id, next);
  }

  /** Every container with a state, sorted by id. Directories still being made or removed, and other files, are not containers. */
  list(): ContainerState[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw fsFailure(e, `listing ${this.root}`);
    }
    const states: ContainerState[] = [];
    for (const name of names.filter((n) => isValidContainerId(n)).sort(byBytes)) {
      const path = join(this.root, name, STATE_FILE);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue; // half made by a create of another runtime, being removed, or not a directory
      }
      try {
        states.push(parse(text, name, path));
      } catch {
        // a state hako cannot read is no container of hako's
      }
    }
    return states;
  }

  /** The ids of every container with a state, sorted. */
  ids(): string[] {
    return this.list().map((s) => s.id);
  }

  /**
   * Removes container id and everything in its directory, holding its lock. Idempotent: removing
   * a container that does not exist does nothing. Returns whether there was something to remove.
   * held: the caller holds the container's lock already (withLockSync), and it is not taken again.
   */
  remove(id: string, held = false): boolean {
    checkContainerId(id);
    const away = () => {
      const trash = this.detach(id);
      if (trash === undefined) return false;
      try {
        rmSync(trash, { recursive: true, force: true });
      } catch (e) {
        throw fsFailure(e, `removing ${trash}`);
      }
      return true;
    };
    return held ? away() : withLockSync(this.root, id, away, { ...this.lockOptions, flat: true });
  }

  /** remove(), waiting for the lock on timers; the container's directory is renamed away under
   * the lock (the id is free from then on) and deleted off the event loop. held: the caller holds
   * the container's lock already (withLock), and it is not taken again. */
  async removeAsync(id: string, held = false): Promise<boolean> {
    checkContainerId(id);
    const away = () => {
      const t = this.detach(id);
      if (t !== undefined) trashHere.add(t); // from now on: finishRemovals() at exit
      return t;
    };
    const trash = held ? away() : await withLock(this.root, id, away, { ...this.lockOptions, flat: true });
    if (trash === undefined) return false;
    try {
      // a directory, not a symlink planted as ROOT/ID (renamed away as it is): its target is
      // never listed, emptied or kept
      // (the reads here are synchronous: a stat and a listing of a few names cost less on Node's
      // thread than a trip through the threadpool; what writes the disk stays off it)
      if (!lstatSync(trash).isDirectory()) await rm(trash, { force: true });
      else if (!await this.keepSpare(trash).catch(() => false)) await removeTree(trash);
    } catch (e) {
      throw fsFailure(e, `removing ${trash}`);
    } finally {
      trashHere.delete(trash);
    }
    return true;
  }

  /** Renames container id's directory away, in one step: from then on the container is gone for
   * everyone and the id is free again. Returns where it went, or undefined when there was none. */
  private detach(id: string): string | undefined {
    const trash = join(this.root, `@${ownerToken()}.rm`);
    try {
      renameSync(join(this.root, id), trash);
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw fsFailure(e, `removing container ${id}`);
    }
    return trash;
  }

  /** Removes work left in the root by processes that died in the middle of it (@TOKEN.new, @TOKEN.rm). */
  sweep(): void {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return;
    }
    for (const name of names) {
      const owner = leftBy(name);
      if (owner && ownerGone(owner)) rmSync(join(this.root, name), { recursive: true, force: true });
    }
  }
}

/** Deletes a container's directory (a directory: lstat'ed by the caller), renamed away: its files
 * (state.json, the config snapshot, exec.fifo...), then the directory; what is not a plain file
 * (or anything that fails) is left to rm -r. Five system calls for a container's usual two files,
 * not rm's eight. */
async function removeTree(dir: string): Promise<void> {
  try {
    const names = readdirSync(dir);
    await Promise.all(names.map((n) => unlink(join(dir, n))));
    await rmdir(dir);
  } catch {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The stores that have spare directories (removed at exit). */
const spareStores = new Set<StateStore>();

function dropSpareDirs(): void {
  for (const s of spareStores) s.dropSpares();
  spareStores.clear();
}

/** What removeAsync is deleting right now (a container's directory, renamed away). */
const trashHere = new Set<string>();

/** Finishes, synchronously, the deletions removeAsync has under way: for 'exit' handlers. */
export function finishRemovals(): void {
  for (const t of trashHere) {
    try { rmSync(t, { recursive: true, force: true }); } catch { /* the next sweep takes it */ }
  }
  trashHere.clear();
}

/**
 * The real status of a container: a created, running or paused container (or one being created
 * that has its init pid) whose init process is gone is stopped. Gone means no such pid, a zombie,
 * or a pid with another start time than pidStartTime: a reused pid is never the container.
 */
export function liveStatus(state: ContainerState): ContainerStatus {
  switch (state.status) {
    case 'created':
    case 'running':
    case 'paused':
      return initAlive(state) ? state.status : 'stopped';
    case 'creating':
      return state.pid > 0 && !initAlive(state) ? 'stopped' : 'creating';
    default:
      return 'stopped';
  }
}

function initAlive(state: ContainerState): boolean {
  const st = procStat(state.pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTime === state.pidStartTime;
}

/**
 * The state as `runc state` prints it (runc 1.1.5): ociVersion, id, pid, status, bundle, rootfs,
 * created, annotations (only when there are some, keys sorted), owner. The pid of a stopped
 * container is 0. status defaults to liveStatus(state).
 */
export function ociState(state: ContainerState, status: ContainerStatus = liveStatus(state)): OciState {
  const annotations = Object.keys(state.annotations ?? {}).sort(byBytes);
  return {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    ...(annotations.length > 0 ? { annotations: Object.fromEntries(annotations.map((k) => [k, state.annotations[k] ?? ''])) } : {}),
    owner: state.owner,
  };
}

/**
 * JSON text as runc prints its state: indented by two spaces, no newline at the end, and
 * <, >, & escaped as Go's encoding/json does.
 */
export function formatOciState(state: OciState): string {
  return goJson(JSON.stringify(state, null, 2));
}

/** JSON as Go's encoding/json writes it: <, >, &, U+2028 and U+2029 escaped. */
export function goJson(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// ---- files

/** Writes dir/name atomically for readers: a temporary file in dir, renamed over name. */
function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = join(dir, `${name}@${ownerToken()}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeAll(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, name));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes over a file that no one else can see yet (never through a link), without truncating it
 * first: on a journaled file system a truncation to 0 frees its block and the write takes a new
 * one (~50 us of CPU, and waits), a write over it and a trim to its length do not (~7 us). */
function writeOver(path: string, text: string): void {
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_NOFOLLOW);
  try {
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, off);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new file (exclusively: never through a link) that no one else can see yet. */
function writeNew(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** Removes temporary files (NAME@TOKEN.tmp) left in dir by writers that died. */
function sweepTemporaries(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const owner = leftBy(name);
    if (owner && ownerGone(owner)) rmSync(join(dir, name), { force: true, recursive: true });
  }
}

/** The owner named in [NAME]@TOKEN[.what], or undefined for any other name. */
function leftBy(name: string): ReturnType<typeof parseOwnerToken> {
  const at = name.lastIndexOf('@');
  if (at < 0) return undefined;
  const rest = name.slice(at + 1);
  const m = /^(\d+\.\d+\.[0-9a-f]+)(?:\.[a-z]+)?$/.exec(rest);
  return m?.[1] ? parseOwnerToken(m[1]) : undefined;
}

/** Whether path exists: only ENOENT and ENOTDIR say no; any other error (EACCES: a state root
 * this user cannot search) is thrown as what it is, never taken for "exists". */
function pathExists(path: string, what: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return false;
    throw fsFailure(e, what);
  }
}

function serialize(state: ContainerState): string {
  return `${JSON.stringify(state)}\n`;
}

function parse(text: string, id: string, path: string): ContainerState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HakoError(`hako: the state of container ${id} (${path}) is not JSON: ${(e as Error).message}`, { code: 'io' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HakoError(`hako: the state of container ${id} (${path}) is not a state record`, { code: 'io' });
  }
  const v = value as Partial<ContainerState>;
  if (v.id !== id || typeof v.status !== 'string' || !CONTAINER_STATUSES.includes(v.status) || typeof v.pid !== 'number') {
    throw new HakoError(`hako: the state of container ${id} (${path}) is not a state record of that container`, { code: 'io' });
  }
  return {
    ...v, // keep fields a newer hako added
    ociVersion: v.ociVersion ?? '',
    id,
    status: v.status,
    pid: v.pid,
    pidStartTime: v.pidStartTime ?? 0,
    bundle: v.bundle ?? '',
    rootfs: v.rootfs ?? '',
    created: v.created ?? '',
    owner: v.owner ?? '',
    annotations: v.annotations ?? {},
    cgroup: v.cgroup ?? null,
    config: v.config ?? '',
  };
}

function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function alreadyExists(id: string): HakoError {
  return new HakoError(`hako: container with id ${id} already exists`, 1, 'exists');
}

function doesNotExist(id: string): HakoError {
  return new HakoError(`hako: container ${id} does not exist`, 1, 'not-found');
}

function fsFailure(e: unknown, what: string): HakoError {
  if (e instanceof HakoError) return e;
  const code = errno(e);
  const path = typeof e === 'object' && e !== null && 'path' in e && typeof e.path === 'string' ? ` (${e.path})` : '';
  return new HakoError(`hako: ${what} failed: ${code ?? String(e)}${path}`, { code: 'io' });
}
