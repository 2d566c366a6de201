// What both backends share: the directories of one cgroup (one per hierarchy), moving processes
// in, listing them, signalling them all, and the bounded teardown.
import type { RuncStats } from './runc-stats.js';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { HakoError } from '../errors.js';
import { dirname, join } from 'node:path';
import type { CgroupJoinPlan, CgroupManager, CgroupMountInfo, KillSignal } from './manager.js';
import { UNIFIED } from './path.js';
import type { CgroupMode } from './detect.js';
import { CgroupError, errnoOf, readProcs, removeTree, runAsync, runSync, walkCgroups, writeCgroupFile, type Waits } from './files.js';
import type { Freezer, FreezerState } from './freezer.js';
import type { LinuxResources } from './resources.js';
import type { CgroupStats } from './stats.js';
import { normalizeResources, type Wanted } from './validate.js';

/** How long destroy() keeps killing and retrying rmdir before it gives up. */
export const DESTROY_TIMEOUT_MS = 5000;

export interface ManagerOptions {
  destroyTimeoutMs?: number;
  /** Set by cgroupManager() when cgroupsPath was unset (the cgroup is /hako/<id>). */
  ownParent?: boolean;
  /** destroy() leaves the shared /hako parent: the caller removes it later (removeParents), as
   * a Runtime does once it has been idle a moment or its process exits, instead of removing and
   * making it again for every container. */
  keepParent?: boolean;
}

export abstract class BaseManager implements CgroupManager {
  abstract readonly version: 1 | 2;
  readonly mode: CgroupMode;
  readonly path: string;
  /** The cgroup's directory in each hierarchy: v1 keys as /proc/PID/cgroup names them, "unified" for v2. */
  readonly dirs: Readonly<Record<string, string>>;
  protected readonly destroyTimeoutMs: number;
  /** The cgroup sits in hako's own parent (/hako, the default path), which it may remove. */
  readonly ownParent: boolean;
  private readonly keepParent: boolean;

  constructor(mode: CgroupMode, path: string, dirs: Record<string, string>, options: ManagerOptions) {
    this.mode = mode;
    this.path = path;
    this.dirs = Object.freeze({ ...dirs });
    this.destroyTimeoutMs = options.destroyTimeoutMs ?? DESTROY_TIMEOUT_MS;
    this.ownParent = options.ownParent ?? false;
    this.keepParent = options.keepParent ?? false;
  }

  /** The freezer of this cgroup, or undefined when the host has none. */
  protected abstract freezer(): Freezer | undefined;
  /** A v2 directory of this cgroup that has cgroup.kill, if any. */
  protected abstract killFile(): string | undefined;
  protected abstract afterCreate(): void;
  set(resources: LinuxResources): void {
    this.requireExists('apply linux.resources');
    this.setChecked(normalizeResources(resources));
  }

  abstract setChecked(wanted: Wanted): void;
  abstract stats(): CgroupStats;
  abstract oomKilled(): boolean;
  abstract oomKills(): number;
  abstract runcStats(): RuncStats;
  abstract oomSource(): { v1: string } | { v2: string } | undefined;
  abstract mountInfo(): CgroupMountInfo;

  /** How a new process joins without cgroup.procs (whose write waits for an RCU grace period,
   * 8 ms here): it writes "0" to each v1 `tasks` file itself (moving only itself, which skips the
   * kernel's global lock), and is forked into the v2 directory with clone3(CLONE_INTO_CGROUP). */
  joinPlan(): CgroupJoinPlan {
    const plan: CgroupJoinPlan = { tasks: [] };
    for (const [key, dir] of Object.entries(this.dirs)) {
      if (key === UNIFIED) plan.v2 = dir;
      else plan.tasks.push(join(dir, 'tasks'));
    }
    return plan;
  }

  /** Whether the cgroup exists in any hierarchy. */
  exists(): boolean {
    return Object.values(this.dirs).some((d) => existsSync(d));
  }

  existingDirs(): string[] {
    return Object.values(this.dirs).filter((d) => existsSync(d));
  }

  removeCreated(keep: string[]): void {
    runSync(this.removeCreatedSteps(keep));
  }

  removeCreatedAsync(keep: string[]): Promise<void> {
    return runAsync(this.removeCreatedSteps(keep));
  }

  private *removeCreatedSteps(keep: string[]): Waits {
    const start = Date.now();
    for (const dir of Object.values(this.dirs)) {
      if (keep.includes(dir)) continue;
      for (let round = 0; ; round++) {
        const r = removeTree(dir);
        if (r.failed === undefined || r.errno !== 'EBUSY' || Date.now() - start >= this.destroyTimeoutMs) break;
        yield round < 20 ? 5 : 20;
      }
    }
  }

  /** Throw a clear error when the cgroup is not there (never created, or destroyed). */
  protected requireExists(what: string): void {
    if (!this.exists()) throw new HakoError(`hako: cgroup: cannot ${what}: the cgroup ${this.path} does not exist (create() it first; or it was destroyed)`, { code: 'cgroup' });
  }

  create(): void {
    for (const dir of Object.values(this.dirs)) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new CgroupError(`hako: cgroup: cannot create ${dir} (${errnoOf(err) ?? String(err)})`, dir, errnoOf(err));
      }
    }
    this.afterCreate();
  }

  /** create(), the directories made on libuv's threadpool, in parallel (off the event loop). */
  async createAsync(): Promise<void> {
    const made = await Promise.allSettled(Object.values(this.dirs).map((dir) => this.mkdirInParent(dir)));
    const dirs = Object.values(this.dirs);
    made.forEach((r, i) => {
      if (r.status === 'rejected') {
        const dir = dirs[i] ?? '';
        throw new CgroupError(`hako: cgroup: cannot create ${dir} (${errnoOf(r.reason) ?? String(r.reason)})`, dir, errnoOf(r.reason));
      }
    });
    this.afterCreate();
  }

  /** mkdir -p of one of this cgroup's directories. In hako's own parent, which the teardown of
   * another container removes once it is empty, the parent can go between mkdir -p's steps
   * (ENOENT, or ENOTDIR from its check of what it found): it is made again, a bounded number of times. */
  private async mkdirInParent(dir: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (!this.ownParent || attempt >= 8 || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw e;
      }
    }
  }

  addProcess(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw new HakoError(`hako: cgroup: '${String(pid)}' is not a process id`, { code: 'bad-option' });
    for (const dir of Object.values(this.dirs)) {
      try {
        writeCgroupFile(dir, 'cgroup.procs', String(pid));
      } catch (err) {
        const errno = (err as CgroupError).errno;
        const why = errno === 'ESRCH' ? 'no such process'
          : errno === 'ENOENT' ? 'the cgroup does not exist: create() it first'
            : errno === 'EBUSY' ? 'the cgroup hands controllers down to children, so it cannot hold processes'
              : errno === 'EOPNOTSUPP' ? 'the cgroup is threaded or the process is a kernel thread' : undefined;
        throw new CgroupError(`hako: cgroup: cannot move process ${pid} into ${dir} (${errno ?? String(err)}${why ? `: ${why}` : ''})`, `${dir}/cgroup.procs`, errno);
      }
    }
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const dir of Object.values(this.dirs)) {
      for (const d of walkCgroups(dir)) for (const p of readProcs(d)) all.add(p);
    }
    return [...all].sort((a, b) => a - b);
  }

  private needFreezer(): Freezer {
    const f = this.freezer();
    if (!f) throw new HakoError('hako: cgroup: this host has no freezer (no v1 freezer controller mounted and no cgroup v2)', { code: 'unsupported' });
    return f;
  }

  freeze(): void {
    this.requireExists('freeze');
    runSync(this.needFreezer().freeze());
  }

  thaw(): void {
    this.requireExists('thaw');
    runSync(this.needFreezer().thaw());
  }

  async freezeAsync(): Promise<void> {
    this.requireExists('freeze');
    await runAsync(this.needFreezer().freeze());
  }

  async thawAsync(): Promise<void> {
    this.requireExists('thaw');
    await runAsync(this.needFreezer().thaw());
  }

  state(): FreezerState {
    this.requireExists('read the freezer state');
    return this.needFreezer().state();
  }

  killAll(signal: KillSignal = 'SIGKILL'): void {
    runSync(this.signalAll(signal, true));
  }

  killAllAsync(signal: KillSignal = 'SIGKILL'): Promise<void> {
    return runAsync(this.signalAll(signal, true));
  }

  /**
   * Signal every process, in every hierarchy and every child cgroup. With a freezer, freeze first
   * so that nothing forks away meanwhile (as runc does), then thaw unless it was frozen before
   * (a frozen v1 task only dies of SIGKILL once thawed).
   */
  protected *signalAll(signal: KillSignal, useFreezer: boolean): Waits {
    const isKill = signal === 'SIGKILL' || signal === 9;
    const killDir = isKill ? this.killFile() : undefined;
    if (killDir !== undefined) {
      try {
        writeCgroupFile(killDir, 'cgroup.kill', '1');
      } catch {
        // fall back to signalling one by one
      }
    }
    const fz = this.freezer();
    let wasFrozen = false;
    let froze = false;
    if (fz && this.exists()) {
      try {
        wasFrozen = fz.state() === 'frozen';
        if (useFreezer && !wasFrozen) {
          yield* fz.freeze();
          froze = true;
        }
      } catch {
        // not freezable right now: signal anyway
      }
    }
    const sent = new Set<number>();
    for (let round = 0; round < 100; round++) {
      const fresh = this.pids().filter((p) => !sent.has(p));
      if (fresh.length === 0) break;
      for (const pid of fresh) {
        sent.add(pid);
        try {
          process.kill(pid, signal);
        } catch (err) {
          if (errnoOf(err) !== 'ESRCH') throw new HakoError(`hako: cgroup: cannot signal process ${pid} (${errnoOf(err) ?? String(err)})`, { code: 'cgroup' });
        }
      }
    }
    if (fz && (froze || (wasFrozen && isKill && fz.killNeedsThaw))) yield* fz.thaw();
  }

  /**
   * Kill what is left, wait for it to go, and remove the cgroup (and any child cgroups, leaf
   * first) in every hierarchy. Bounded by destroyTimeoutMs; calling it again is harmless.
   */
  /** With the default cgroupsPath (/hako/<id>), the shared /hako parent goes once it is empty, so
   * that nothing of hako stays on the host. A parent still in use (ENOTEMPTY, EBUSY) stays; a
   * create racing with this recreates it (mkdir -p). */
  private removeEmptyParents(): void {
    if (!this.ownParent || this.keepParent) return;
    this.removeParents();
  }

  /** Removes the shared /hako parent in every hierarchy where it is empty (a cgroup made with
   * keepParent: its destroy leaves that to this). Nothing for a cgroup elsewhere. */
  removeParents(): void {
    if (!this.ownParent) return;
    for (const dir of Object.values(this.dirs)) {
      try { rmdirSync(dirname(dir)); } catch { /* in use, or already gone */ }
    }
  }

  /** destroy() for the common end of a container (its processes gone, only its directories
   * left): the rmdirs run on libuv's threadpool, in parallel and off the event loop; anything
   * else (a process still there, child cgroups) takes destroy()'s rounds, waiting on timers. */
  async destroyAsync(): Promise<void> {
    const results = await Promise.allSettled(Object.values(this.dirs).map((d) => rmdir(d)));
    const left = results.some((r) => r.status === 'rejected' && (r.reason as NodeJS.ErrnoException).code !== 'ENOENT');
    if (left) {
      await runAsync(this.destroySteps());
      return;
    }
    if (this.ownParent && !this.keepParent) await this.removeParentsAsync();
  }

  /** removeParents() off the event loop. One hierarchy's parent is tried first: when it
   * still holds another cgroup (ENOTEMPTY, EBUSY: another container of hako's, whose own teardown
   * comes later and tries every parent then), the others are not tried (each failed rmdir costs a
   * thrown error on the event loop, 9-10 of them a container on a busy v1 host). */
  async removeParentsAsync(): Promise<void> {
    if (!this.ownParent) return;
    const [first, ...rest] = Object.values(this.dirs).map((d) => dirname(d));
    if (first === undefined) return;
    try {
      await rmdir(first);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EBUSY') return;
    }
    await Promise.allSettled(rest.map((d) => rmdir(d)));
  }

  /** The common end first, as destroyAsync: one rmdir a hierarchy (reading no cgroup.procs);
   * anything left takes the rounds. */
  destroy(): void {
    let left = false;
    for (const dir of Object.values(this.dirs)) {
      try { rmdirSync(dir); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left = true; }
    }
    if (left) runSync(this.destroySteps());
    else this.removeEmptyParents();
  }

  /** Kills what is left and removes the directories, in rounds until destroyTimeoutMs (runSync or
   * runAsync drive the waits between rounds); a failure is thrown. */
  private *destroySteps(): Waits {
    if (!this.exists()) {
      this.removeEmptyParents();
      return;
    }
    const start = Date.now();
    for (let n = 0; ; n++) {
      const left = this.pids();
      if (left.length > 0) {
        try {
          yield* this.signalAll('SIGKILL', false);
        } catch {
          // retried next round
        }
      }
      let failure: { failed?: string; errno?: string } | undefined;
      for (const dir of Object.values(this.dirs)) {
        const r = removeTree(dir);
        if (r.failed !== undefined) failure ??= r;
      }
      if (failure === undefined) {
        this.removeEmptyParents();
        return;
      }
      if (Date.now() - start >= this.destroyTimeoutMs) {
        const still = this.pids();
        throw new CgroupError(`hako: cgroup: cannot remove ${failure.failed} (${failure.errno}) after ${this.destroyTimeoutMs} ms`
          + `${still.length ? `; processes still inside: ${still.join(' ')}` : ''}`, failure.failed ?? '', failure.errno);
      }
      yield n < 20 ? 5 : 20;
    }
  }
}
