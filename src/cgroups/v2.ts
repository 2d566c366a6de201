// The cgroup v2 backend: one directory in the unified hierarchy, controllers enabled on the way
// down as runc does (best effort; set() then says clearly what is missing).
import { runcStatsV2, type RuncStats } from './runc-stats.js';
import { BaseManager, type ManagerOptions } from './base.js';
import type { CgroupLayout } from './detect.js';
import { HakoError } from '../errors.js';
import { planV2 } from './apply-v2.js';
import { hasFile, parseKeyed, readOptional } from './files.js';
import { v2Freezer, type Freezer } from './freezer.js';
import { placeIn, UNIFIED, type CgroupsPath } from './path.js';
import type { CgroupMountInfo } from './manager.js';
import { statsV2, type CgroupStats } from './stats.js';
import type { Wanted } from './validate.js';
import { V2Tree } from './v2tree.js';

export class V2Manager extends BaseManager {
  readonly version = 2 as const;
  readonly tree: V2Tree;

  constructor(layout: CgroupLayout, where: CgroupsPath, options: ManagerOptions = {}) {
    if (!layout.v2) throw new HakoError('hako: cgroup: cgroup v2 is not mounted on this host', { code: 'unsupported' });
    const place = placeIn(layout.v2, layout.self.v2, where, 'cgroup v2');
    super(layout.mode, place.path, { [UNIFIED]: place.dir }, options);
    this.tree = new V2Tree(layout.v2.mountPoint, place.dir, layout.mode === 'hybrid');
  }

  protected afterCreate(): void {
    this.tree.enable(this.tree.offered(), true);
  }

  protected freezer(): Freezer {
    return v2Freezer(this.tree.dir);
  }

  protected killFile(): string | undefined {
    return hasFile(this.tree.dir, 'cgroup.kill') ? this.tree.dir : undefined;
  }

  /**
   * Apply linux.resources. Everything is checked before anything is written; a controller this
   * cgroup cannot have, or a v1-only setting, is refused with the reason.
   */
  setChecked(wanted: Wanted): void {
    this.requireExists('apply linux.resources');
    for (const step of planV2(wanted, this.tree)) step();
  }

  stats(): CgroupStats {
    this.requireExists('read statistics');
    return statsV2(this.tree.dir);
  }

  mountInfo(): CgroupMountInfo {
    return { cgroupV2: true };
  }

  oomKilled(): boolean {
    return this.oomKills() > 0;
  }

  oomKills(): number {
    return Number(parseKeyed(readOptional(this.tree.dir, 'memory.events')).get('oom_kill') ?? 0);
  }

  runcStats(): RuncStats {
    this.requireExists('read statistics');
    return runcStatsV2(this.tree.dir);
  }

  oomSource(): { v2: string } {
    return { v2: this.tree.dir };
  }
}
