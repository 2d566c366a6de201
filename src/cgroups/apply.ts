// A container's linux.resources into its cgroup, and where its device rules go (the v1 device
// cgroup, or the v2 eBPF filter the helper attaches): the runtime's one call for both.
import { HakoError } from '../errors.js';
import { deviceFilter } from './device-filter.js';
import { applyDeviceRulesV1, DEFAULT_ALLOWED } from './devices.js';
import type { CgroupManager } from './manager.js';
import type { LinuxResources } from './resources.js';

/** linux.resources into the cgroup. The device rules (with runc's defaults) go to the v1 device
 * cgroup where there is one (a hybrid host, as runc does); otherwise, for cgroup v2, they are
 * compiled into the eBPF program returned, which the helper attaches before anything runs in the
 * cgroup (loading it costs 0.5 ms, so it is not done twice). */
export function applyResources(cgroup: CgroupManager, resources: LinuxResources | undefined): Buffer | undefined {
  const { devices, ...rest } = resources ?? {};
  if (Object.keys(rest).length) cgroup.set(rest);
  const v1 = cgroup.version === 1 ? cgroup.mountInfo().cgroupV1Dirs?.find((d) => d.name.split(',').includes('devices'))?.host : undefined;
  if (v1) {
    applyDeviceRulesV1(v1, devices ?? []);
    return undefined;
  }
  if (cgroup.joinPlan().v2) return deviceFilter([...(devices ?? []), ...DEFAULT_ALLOWED]);
  throw new HakoError('hako: cgroup: this host has neither a v1 devices hierarchy nor cgroup v2, so device rules cannot be applied', { code: 'unsupported' });
}
