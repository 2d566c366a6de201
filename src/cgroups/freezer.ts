// Freezing: the v1 freezer controller (freezer.state) and the v2 core files (cgroup.freeze,
// cgroup.events). Both settle asynchronously; waits are bounded.
import { HakoError } from '../errors.js';
import { parseKeyed, readCgroupFile, readOptional, writeCgroupFile, type Waits } from './files.js';

export type FreezerState = 'frozen' | 'thawed';

/** How long freeze/thaw wait for the kernel to settle. */
export const FREEZE_TIMEOUT_MS = 3000;

export interface Freezer {
  /** The steps of freezing (runSync or runAsync drive them: files.ts). */
  freeze(): Waits;
  thaw(): Waits;
  state(): FreezerState;
  /** A v1 frozen task does not die of SIGKILL until thawed; a v2 frozen one does. */
  readonly killNeedsThaw: boolean;
}

export function v1Freezer(dir: string): Freezer {
  const read = () => readCgroupFile(dir, 'freezer.state').trim();
  return {
    killNeedsThaw: true,
    state: () => (read() === 'FROZEN' ? 'frozen' : 'thawed'),
    *freeze() {
      const deadline = Date.now() + FREEZE_TIMEOUT_MS;
      for (let i = 0; ; i++) {
        // as runc does: a cgroup can stay FREEZING while a task forks; a THAWED/FROZEN cycle unsticks it
        if (i > 0 && i % 50 === 0) {
          writeCgroupFile(dir, 'freezer.state', 'THAWED');
          yield 1;
        }
        writeCgroupFile(dir, 'freezer.state', 'FROZEN');
        const state = read();
        if (state === 'FROZEN') return;
        if (Date.now() > deadline) {
          writeCgroupFile(dir, 'freezer.state', 'THAWED');
          throw new HakoError(`hako: cgroup: freezer.state: could not freeze ${dir} within ${FREEZE_TIMEOUT_MS} ms (it stays ${state})`, { code: 'timeout' });
        }
        yield i < 10 ? 1 : 10;
      }
    },
    *thaw() {
      const deadline = Date.now() + FREEZE_TIMEOUT_MS;
      for (let i = 0; ; i++) {
        writeCgroupFile(dir, 'freezer.state', 'THAWED');
        const state = read();
        if (state === 'THAWED') return;
        if (Date.now() > deadline) throw new HakoError(`hako: cgroup: freezer.state: could not thaw ${dir} within ${FREEZE_TIMEOUT_MS} ms (it stays ${state}; is a parent cgroup frozen?)`, { code: 'timeout' });
        yield i < 10 ? 1 : 10;
      }
    },
  };
}

export function v2Freezer(dir: string): Freezer {
  const frozen = () => parseKeyed(readCgroupFile(dir, 'cgroup.events')).get('frozen') === '1';
  function* settle(want: boolean): Waits {
    if (readOptional(dir, 'cgroup.freeze') === undefined) {
      throw new HakoError(`hako: cgroup: ${dir} has no cgroup.freeze (the cgroup v2 freezer needs Linux 5.2 or later)`, { code: 'unsupported' });
    }
    writeCgroupFile(dir, 'cgroup.freeze', want ? '1' : '0');
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    for (let i = 0; frozen() !== want; i++) {
      if (Date.now() > deadline) {
        if (want) writeCgroupFile(dir, 'cgroup.freeze', '0');
        throw new HakoError(`hako: cgroup: cgroup.freeze: ${dir} did not become ${want ? 'frozen' : 'thawed'} within ${FREEZE_TIMEOUT_MS} ms${want ? '' : ' (is a parent cgroup frozen?)'}`, { code: 'timeout' });
      }
      yield i < 10 ? 1 : 10;
    }
  }
  return {
    killNeedsThaw: false,
    // what was asked (cgroup.freeze), as runc reads it: cgroup.events may say "frozen 0" for a
    // moment while killed tasks leave a frozen cgroup; freeze() itself waits for "frozen 1"
    state: () => (readCgroupFile(dir, 'cgroup.freeze').trim() === '1' ? 'frozen' : 'thawed'),
    freeze: () => settle(true),
    thaw: () => settle(false),
  };
}
