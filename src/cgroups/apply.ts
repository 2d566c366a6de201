// A container's linux.resources into its cgroup, and where its device rules go (the v1 device
// cgroup, or the v2 eBPF filter the helper attaches): checked and compiled first (planResources,
// before anything exists), then written (applyResources, once the cgroup is made).
import { HakoError } from '../errors.js';
import { cachedDeviceFilter, checkDeviceRulesModel } from './device-filter.js';
import { applyDeviceRulesV1, checkDeviceRules, DEFAULT_ALLOWED, deviceWritesV1 } from './devices.js';
import type { CgroupJoinPlan, CgroupManager } from './manager.js';
import type { LinuxDeviceCgroup, LinuxResources } from './resources.js';
import { normalizeResources, type Wanted } from './validate.js';

/** linux.resources checked, for one cgroup: what applyResources writes, and the v2 device filter. */
export interface ResourcePlan {
  wanted: Wanted;
  /** The v1 devices hierarchy's directory of this cgroup, and the rules written there. */
  v1Devices?: { dir: string; rules: LinuxDeviceCgroup[] };
  /** For cgroup v2: the device rules (with runc's defaults) compiled to eBPF, which the helper
   * attaches before anything runs in the cgroup (loading it costs 0.5 ms: it is not done twice). */
  deviceProgram?: Buffer;
}

/** Checks linux.resources and compiles the device rules, reading and writing nothing: the cgroup
 * need not exist yet (its paths are known from the layout). The device rules go to the v1 device
 * cgroup where there is one (a hybrid host, as runc does), otherwise to the v2 eBPF filter. */
export function planResources(cgroup: CgroupManager, resources: LinuxResources | undefined): ResourcePlan {
  const { devices, ...rest } = resources ?? {};
  const wanted = normalizeResources(rest);
  const rules = devices ?? [];
  checkDeviceRules(rules);
  const v1 = cgroup.version === 1 ? cgroup.mountInfo().cgroupV1Dirs?.find((d) => d.name.split(',').includes('devices'))?.host : undefined;
  if (v1) {
    checkDeviceRulesModel([...rules, ...DEFAULT_ALLOWED]); // what the v2 filter refuses, v1 refuses too
    return { wanted, v1Devices: { dir: v1, rules } };
  }
  if (cgroup.joinPlan().v2) return { wanted, deviceProgram: cachedDeviceFilter([...rules, ...DEFAULT_ALLOWED]) };
  throw new HakoError('hako: cgroup: this host has neither a v1 devices hierarchy nor cgroup v2, so device rules cannot be applied', { code: 'unsupported' });
}

/** Writes a planned linux.resources into the (created) cgroup; the v2 device filter is the
 * helper's, and so are the v1 device rules when the join plan has them (joinPlanWith). */
export function applyResources(cgroup: CgroupManager, plan: ResourcePlan, devicesInJoin = false): void {
  cgroup.setChecked(plan.wanted);
  if (plan.v1Devices && !devicesInJoin) applyDeviceRulesV1(plan.v1Devices.dir, plan.v1Devices.rules);
}

/** Whether a planned linux.resources sets nothing but device rules (which the helper writes):
 * then nothing needs the cgroup before the helper has made it. */
export function onlyDevices(plan: ResourcePlan): boolean {
  const w = plan.wanted;
  return !w.memory && !w.cpu && w.pidsLimit === undefined && !w.blockIO && !w.hugepageLimits.length && !w.network && !w.unified.length;
}

/** The cgroup's join plan, with the v1 device rules as writes the joining process makes first
 * (15 small writes in C instead of on Node's thread; applyResources(..., true) then skips them). */
export function joinPlanWith(cgroup: CgroupManager, plan: ResourcePlan): CgroupJoinPlan {
  const join = cgroup.joinPlan();
  if (plan.v1Devices) join.writes = deviceWritesV1(plan.v1Devices.dir, plan.v1Devices.rules).map(({ path, data }) => ({ path, data }));
  return join;
}
