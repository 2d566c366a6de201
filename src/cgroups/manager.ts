// The contract every cgroup backend keeps (v1, v2): what the runtime may ask of a container's
// cgroup. The factory that picks a backend is index.ts.
import type { RuncStats } from './runc-stats.js';
import type { FreezerState } from './freezer.js';
import type { LinuxResources } from './resources.js';
import type { CgroupStats } from './stats.js';
import type { Wanted } from './validate.js';

export type KillSignal = NodeJS.Signals | number;

export interface CgroupManager {
  /** 1 on legacy and hybrid hosts (v1 enforces the limits), 2 on unified ones. */
  readonly version: 1 | 2;
  /** The cgroup as /proc/PID/cgroup shows it, e.g. /hako/<id>. */
  readonly path: string;
  /** Make the cgroup (and its parents) in every hierarchy. Harmless when it exists. */
  create(): void;
  /** create(), off the event loop. */
  createAsync(): Promise<void>;
  /** Move a process in, in every hierarchy. */
  addProcess(pid: number): void;
  /** Apply linux.resources; refuses (HakoError) what it cannot apply, naming the file and errno. */
  set(resources: LinuxResources): void;
  /** set(), for resources already checked (normalizeResources): nothing is checked again. */
  setChecked(wanted: Wanted): void;
  freeze(): void;
  thaw(): void;
  /** freeze() and thaw() waiting on timers: the event loop runs while the kernel settles. */
  freezeAsync(): Promise<void>;
  thawAsync(): Promise<void>;
  state(): FreezerState;
  /** Every process in the cgroup and below it, in any hierarchy. */
  pids(): number[];
  stats(): CgroupStats;
  /** The figures in runc's own shape (`runc events`'s stats data). */
  runcStats(): RuncStats;
  /** Where OOM is seen: a v1 memory directory (an eventfd on memory.oom_control) or a v2
   * directory (memory.events); undefined without a memory controller. */
  oomSource(): { v1: string } | { v2: string } | undefined;
  /** How many processes the OOM killer has killed in this cgroup. */
  oomKills(): number;
  /** Whether the OOM killer has killed a process in this cgroup. */
  oomKilled(): boolean;
  /** Signal every process in the cgroup (default SIGKILL). */
  killAll(signal?: KillSignal): void;
  /** killAll(), its freezer waits on timers. */
  killAllAsync(signal?: KillSignal): Promise<void>;
  /** The cgroup's directories that exist now (in any hierarchy). */
  existingDirs(): string[];
  /** Remove, without signalling anything, this cgroup's directories except those in `keep` (which
   * existed before hako): waits (bounded) for them to empty. For a cgroup hako did not create. */
  removeCreated(keep: string[]): void;
  /** removeCreated(), its waits on timers. */
  removeCreatedAsync(keep: string[]): Promise<void>;
  /** Kill what is left, wait (bounded), remove the cgroup leaf-first everywhere. Idempotent. */
  destroy(): void;
  /** destroy(), with the common case (nothing left inside) off the event loop. */
  destroyAsync(): Promise<void>;
  /** Remove the shared /hako parent where it is empty (for a cgroup made with keepParent, whose
   * destroy leaves it); nothing for a cgroup with a cgroupsPath. */
  removeParents(): void;
  /** removeParents() off the event loop. */
  removeParentsAsync(): Promise<void>;
  /** create() as steps the container's helper can take (H0's host ops, before it forks): the
   * directories to make, parents first (one that exists is fine), then files to write. Undefined
   * when it takes more than that (create() it here then). */
  helperSteps?(): CgroupSteps | undefined;
  /** What a `cgroup` mount inside the container needs (see src/plan/plan.ts). */
  mountInfo(): CgroupMountInfo;
  /** The files and directory a process uses to join by itself (see BaseManager.joinPlan). */
  joinPlan(): CgroupJoinPlan;
}

export interface CgroupSteps {
  mkdirs: string[];
  writes: Array<{ path: string; data: string }>;
}

export interface CgroupJoinPlan {
  /** Cgroup files the process writes, in order, before it joins (the v1 device rules:
   * joinPlanWith in apply.ts). */
  writes?: Array<{ path: string; data: string }>;
  /** v1 `tasks` files: the process writes "0" to each. */
  tasks: string[];
  /** The v2 directory to be forked into (clone3 CLONE_INTO_CGROUP). */
  v2?: string;
}

/**
 * For a container's /sys/fs/cgroup: v2 mounts a fresh cgroup2 (in the container's cgroup
 * namespace); v1 binds this cgroup's directory of each hierarchy under the name its host mount
 * point has (as runc does: "memory", "cpu,cpuacct", "systemd", and "unified" on a hybrid host).
 */
export interface CgroupMountInfo {
  cgroupV1Dirs?: Array<{ name: string; host: string }>;
  cgroupV2?: boolean;
}
