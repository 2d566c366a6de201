// The cgroup v1 backend (legacy and hybrid hosts): one directory per mounted hierarchy, named
// ones included, and on a hybrid host the same cgroup in the v2 tree too (as runc does), so that
// /proc/PID/cgroup agrees everywhere and controllers bound to v2 (hugetlb here) still apply.
import { runcStatsV1, type RuncStats } from './runc-stats.js';
import { posix } from 'node:path';
import { planV1 } from './apply-v1.js';
import { BaseManager, type ManagerOptions } from './base.js';
import type { CgroupLayout, V1Hierarchy } from './detect.js';
import { hasFile, parseKeyed, readCgroupFile, readOptional, writeCgroupFile } from './files.js';
import { v1Freezer, v2Freezer, type Freezer } from './freezer.js';
import { placeIn, UNIFIED, type CgroupsPath } from './path.js';
import type { CgroupMountInfo, CgroupSteps } from './manager.js';
import { statsV1, type CgroupStats } from './stats.js';
import type { Wanted } from './validate.js';
import { V2Tree } from './v2tree.js';

export class V1Manager extends BaseManager {
  readonly version = 1 as const;
  private readonly hierarchies: V1Hierarchy[];
  private readonly tree: V2Tree | undefined;
  private readonly mountPointV2: string | undefined;

  constructor(layout: CgroupLayout, where: CgroupsPath, options: ManagerOptions = {}) {
    const dirs: Record<string, string> = {};
    let primary: string | undefined;
    for (const h of layout.v1) {
      const place = placeIn(h, layout.self.v1.get(h.key), where, h.key);
      dirs[h.key] = place.dir;
      if (primary === undefined && h.controllers.length > 0) primary = place.path;
    }
    let tree: V2Tree | undefined;
    if (layout.mode === 'hybrid' && layout.v2) {
      const place = placeIn(layout.v2, layout.self.v2, where, 'cgroup v2');
      dirs[UNIFIED] = place.dir;
      tree = new V2Tree(layout.v2.mountPoint, place.dir, true);
      primary = place.path;
    }
    super(layout.mode, primary ?? where.path, dirs, options);
    this.hierarchies = layout.v1;
    this.tree = tree;
    this.mountPointV2 = tree ? layout.v2?.mountPoint : undefined;
  }

  /** This cgroup's directory in the hierarchy that has the controller, if that is mounted. */
  dirOf(controller: string): string | undefined {
    const h = this.hierarchies.find((x) => x.controllers.includes(controller));
    return h ? this.dirs[h.key] : undefined;
  }

  protected afterCreate(): void {
    // a new v1 cpuset cgroup starts with empty cpus and mems, and takes no process until they are
    // set: copy them down from the parent, level by level (runc does the same)
    const h = this.hierarchies.find((x) => x.controllers.includes('cpuset'));
    const dir = h ? this.dirs[h.key] : undefined;
    if (!h || dir === undefined) return;
    const rel = posix.relative(h.mountPoint, dir);
    let parent = h.mountPoint;
    // what each level holds, once read or written: the next level copies it without reading again
    const above = new Map<string, string>();
    for (const part of rel.split('/').filter(Boolean)) {
      const child = posix.join(parent, part);
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        let value = readCgroupFile(child, file).trim();
        if (value === '') {
          value = above.get(file) ?? readCgroupFile(parent, file).trim();
          writeCgroupFile(child, file, value);
        }
        above.set(file, value);
      }
      parent = child;
    }
  }

  /**
   * create() as mkdirs and writes for the helper: every level of each directory below its mount
   * point, parents first (one that exists is fine), and the cpuset's cpus and mems copied down
   * (read now) from the deepest level above the leaf that has them, that level included: writing
   * its own values again changes nothing, and a parent another process removed meanwhile (the
   * shared /hako, once empty) is made again with them.
   */
  helperSteps(): CgroupSteps | undefined {
    const mkdirs: string[] = [];
    const writes: Array<{ path: string; data: string }> = [];
    for (const [key, dir] of Object.entries(this.dirs)) {
      const mount = key === UNIFIED ? this.mountPointV2 : this.hierarchies.find((h) => h.key === key)?.mountPoint;
      if (mount === undefined) return undefined;
      let at = mount;
      for (const part of posix.relative(mount, dir).split('/').filter(Boolean)) mkdirs.push(at = posix.join(at, part));
    }
    const h = this.hierarchies.find((x) => x.controllers.includes('cpuset'));
    const dir = h ? this.dirs[h.key] : undefined;
    if (!h || dir === undefined) return { mkdirs, writes };
    const levels: string[] = [];
    for (let at = dir; at !== h.mountPoint && at.startsWith(`${h.mountPoint}/`); at = posix.dirname(at)) levels.unshift(at);
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      // the deepest level above the leaf that has a value; each level below it has none (or does
      // not exist yet) and gets that one, as create() copies it down level by level
      let from = -1;
      let value = '';
      for (let i = levels.length - 2; i >= 0 && value === ''; i--) {
        value = readOptional(levels[i] as string, file)?.trim() ?? '';
        from = i;
      }
      if (value === '') {
        value = readOptional(h.mountPoint, file)?.trim() ?? '';
        from = 0;
      }
      if (value === '') return undefined;
      for (const at of levels.slice(Math.max(from, 0))) writes.push({ path: posix.join(at, file), data: value });
    }
    return { mkdirs, writes };
  }

  protected freezer(): Freezer | undefined {
    const dir = this.dirOf('freezer');
    if (dir !== undefined) return v1Freezer(dir);
    return this.tree ? v2Freezer(this.tree.dir) : undefined;
  }

  protected killFile(): string | undefined {
    return this.tree && hasFile(this.tree.dir, 'cgroup.kill') ? this.tree.dir : undefined;
  }

  /**
   * Apply linux.resources. Everything is checked before anything is written; a value the host
   * cannot take is an error naming the file and the errno. devices and rdma are refused.
   */
  setChecked(wanted: Wanted): void {
    this.requireExists('apply linux.resources');
    const steps = planV1(wanted, { dirOf: (c) => this.dirOf(c), v2: this.tree });
    for (const step of steps) step();
  }

  stats(): CgroupStats {
    this.requireExists('read statistics');
    return statsV1((c) => this.dirOf(c));
  }

  mountInfo(): CgroupMountInfo {
    const out: Array<{ name: string; host: string }> = [];
    for (const h of this.hierarchies) {
      const host = this.dirs[h.key];
      if (host !== undefined) out.push({ name: posix.basename(h.mountPoint), host });
    }
    if (this.tree && this.mountPointV2 !== undefined) out.push({ name: posix.basename(this.mountPointV2), host: this.tree.dir });
    return { cgroupV1Dirs: out };
  }

  oomKilled(): boolean {
    return this.oomKills() > 0;
  }

  oomKills(): number {
    const dir = this.dirOf('memory');
    if (dir === undefined) return 0;
    return Number(parseKeyed(readOptional(dir, 'memory.oom_control')).get('oom_kill') ?? 0);
  }

  runcStats(): RuncStats {
    this.requireExists('read statistics');
    return runcStatsV1((c) => this.dirOf(c));
  }

  oomSource(): { v1: string } | undefined {
    const dir = this.dirOf('memory');
    return dir === undefined ? undefined : { v1: dir };
  }
}
