// The cgroup of a rootless container that has none: hako, not real root, could not create the
// container's cgroup and the config set no cgroupsPath and no limits, so it runs without one, as
// runc's rootless cgroup manager does (it skips the hierarchies it cannot write). Nothing is
// made or removed; what needs a cgroup (pause, resume, stats, update) says so; the processes
// are the init alone (kill --all signals it, and in a new pid namespace its end ends the rest).
import { HakoError } from '../errors.js';
import type { FreezerState } from './freezer.js';
import type { CgroupJoinPlan, CgroupManager, CgroupMountInfo } from './manager.js';
import type { LinuxResources } from './resources.js';
import type { RuncStats } from './runc-stats.js';
import type { CgroupStats } from './stats.js';
import type { Wanted } from './validate.js';

export class NoCgroup implements CgroupManager {
  readonly path = '';

  /** pid: the container's init (0 before it exists). */
  constructor(readonly version: 1 | 2, private readonly pid: number, private readonly id: string) {}

  private none(what: string): never {
    throw new HakoError(`hako: ${what}: container ${this.id} has no cgroup (hako ran it rootless and could not create one, as runc's rootless cgroup manager)`, { code: 'cgroup' });
  }

  create(): void { /* none */ }
  async createAsync(): Promise<void> { /* none */ }
  addProcess(): void { /* none */ }
  set(resources: LinuxResources): void {
    if (Object.keys(resources).length) this.none('update');
  }
  setChecked(_wanted: Wanted): void { /* nothing was asked: the runtime refused limits without a cgroup */ }
  freeze(): void { this.none('pause'); }
  thaw(): void { this.none('resume'); }
  async freezeAsync(): Promise<void> { this.none('pause'); }
  async thawAsync(): Promise<void> { this.none('resume'); }
  state(): FreezerState { return 'thawed'; }
  pids(): number[] {
    if (this.pid <= 0) return [];
    try { process.kill(this.pid, 0); return [this.pid]; } catch { return []; }
  }
  stats(): CgroupStats { return this.none('stats'); }
  runcStats(): RuncStats { return this.none('events --stats'); }
  oomSource(): undefined { return undefined; }
  oomKills(): number { return 0; }
  oomKilled(): boolean { return false; }
  killAll(signal: NodeJS.Signals | number = 'SIGKILL'): void {
    for (const p of this.pids()) { try { process.kill(p, signal); } catch { /* gone */ } }
  }
  async killAllAsync(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> { this.killAll(signal); }
  existingDirs(): string[] { return []; }
  removeCreated(): void { /* none */ }
  async removeCreatedAsync(): Promise<void> { /* none */ }
  destroy(): void { /* none */ }
  async destroyAsync(): Promise<void> { /* none */ }
  removeParents(): void { /* none */ }
  async removeParentsAsync(): Promise<void> { /* none */ }
  /** A `cgroup` mount gets an empty tmpfs (v1) or the cgroup2 the user namespace may mount (v2). */
  mountInfo(): CgroupMountInfo { return this.version === 2 ? { cgroupV2: true } : { cgroupV1Dirs: [] }; }
  joinPlan(): CgroupJoinPlan { return { tasks: [] }; }
}
