// One cgroup in a cgroup v2 hierarchy, and the controllers its ancestors hand down to it.
import { posix } from 'node:path';
import { HakoError } from '../errors.js';
import { readOptional, writeCgroupFile, CgroupError } from './files.js';

export class V2Tree {
  /** The mount point of the v2 hierarchy (the top this process can see). */
  readonly top: string;
  /** The cgroup's directory. */
  readonly dir: string;
  /** On a hybrid host the missing controllers are most likely bound to cgroup v1: say so. */
  private readonly hybrid: boolean;

  constructor(top: string, dir: string, hybrid = false) {
    this.top = top;
    this.dir = dir;
    this.hybrid = hybrid;
  }

  /** The directories from top down to the parent of dir. */
  ancestors(): string[] {
    const rel = posix.relative(this.top, this.dir);
    const parts = rel === '' ? [] : rel.split('/');
    const out: string[] = [];
    for (let i = 0; i < parts.length; i++) out.push(posix.join(this.top, ...parts.slice(0, i)));
    return out;
  }

  /** Controllers dir has (its cgroup.controllers); before create(), what its parent could give. */
  available(dir = this.dir): string[] {
    return (readOptional(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
  }

  /** Controllers bound to this v2 hierarchy at all (those of its top). */
  offered(): string[] {
    return this.available(this.top);
  }

  /**
   * Refuse early, before anything is written, when the controller cannot be had in this
   * hierarchy at all (bound to cgroup v1, or not in the kernel).
   */
  check(controller: string, what: string): void {
    if (this.available().includes(controller) || this.offered().includes(controller)) return;
    const offered = this.offered();
    throw new HakoError(`hako: cgroup: ${what} needs the ${controller} controller, which cgroup v2 does not have here `
      + `(${this.top}/cgroup.controllers: ${offered.length ? offered.join(' ') : 'none'}${this.hybrid ? '; on this hybrid host it is bound to cgroup v1, or absent' : ''})`, { code: 'unsupported' });
  }

  /**
   * Enable controllers on the way down to dir (cgroup.subtree_control of each ancestor), as
   * runc does. bestEffort: skip what fails (a cgroup with processes cannot hand controllers on).
   */
  enable(controllers: string[], bestEffort: boolean): void {
    for (const parent of this.ancestors()) {
      const have = this.available(parent);
      const on = (readOptional(parent, 'cgroup.subtree_control') ?? '').split(/\s+/);
      for (const c of controllers) {
        if (on.includes(c) || !have.includes(c)) continue;
        try {
          writeCgroupFile(parent, 'cgroup.subtree_control', `+${c}`, (errno) => errno === 'EBUSY'
            ? 'a cgroup with processes of its own cannot hand controllers down ("no internal processes")' : undefined);
        } catch (err) {
          if (!bestEffort) throw err;
        }
      }
    }
  }

  /** Make sure dir has the controller, enabling it on the way down if needed. */
  need(controller: string, what: string): void {
    if (this.available().includes(controller)) return;
    this.check(controller, what);
    this.enable([controller], false);
    if (!this.available().includes(controller)) {
      throw new CgroupError(`hako: cgroup: ${what} needs the ${controller} controller, and it could not be enabled for ${this.dir}`, this.dir);
    }
  }
}
