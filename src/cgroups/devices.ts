// The device cgroup (v1: devices.allow / devices.deny). runc's defaults are always allowed on
// top of the config's rules, so /dev/null and friends work under a "deny all" rule.
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { writeCgroupFile } from './files.js';
import type { LinuxDeviceCgroup } from './resources.js';

/** What runc allows in every container (libcontainer/specconv AllowedDevices). */
export const DEFAULT_ALLOWED: LinuxDeviceCgroup[] = [
  { allow: true, type: 'c', access: 'm' }, { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // tun
];

function ruleText(r: LinuxDeviceCgroup): string {
  const type = r.type ?? 'a';
  if (type === 'a') return 'a';
  const num = (n: number | null | undefined) => (n === undefined || n === null || n < 0 ? '*' : String(n));
  return `${type} ${num(r.major)}:${num(r.minor)} ${r.access ?? 'rwm'}`;
}

/** Refuses a rule the device cgroup cannot take, before anything is written. */
export function checkDeviceRules(rules: LinuxDeviceCgroup[]): void {
  for (const [i, r] of rules.entries()) {
    const access = r.access ?? 'rwm';
    if (!/^[rwm]{1,3}$/.test(access)) throw new HakoError(`hako: config.json: linux.resources.devices[${i}].access: '${access}' is not made of r, w and m`, { code: 'bad-config' });
  }
}

/** Applies "deny all", the config's rules (checked: checkDeviceRules) in order, then runc's
 * default allowances (v1 devices hierarchy dir): a new v1 device cgroup allows every device,
 * runc's start from none, so that a config without a rule for every device denies the others. */
export function applyDeviceRulesV1(dir: string, rules: LinuxDeviceCgroup[]): void {
  for (const w of deviceWritesV1(dir, rules)) writeCgroupFile(dir, w.file, w.data);
}

/** applyDeviceRulesV1's writes, in order: for the helper, which makes them before the container's
 * init joins the cgroup (CgroupJoinPlan.writes), off Node's thread. */
export function deviceWritesV1(dir: string, rules: LinuxDeviceCgroup[]): Array<{ file: string; path: string; data: string }> {
  const write = (file: string, data: string) => ({ file, path: join(dir, file), data });
  return [write('devices.deny', 'a'), ...[...rules, ...DEFAULT_ALLOWED].map((r) => write(r.allow ? 'devices.allow' : 'devices.deny', ruleText(r)))];
}
