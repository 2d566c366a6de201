// linux.resources checked and normalized once, before either backend writes anything: wrong
// types, unknown fields and features hako does not implement are refused here.
import { HakoError } from '../errors.js';
import { hugepageSize } from './convert.js';
import { KNOWN_KEYS, type LinuxResources } from './resources.js';

export interface WantedMemory {
  /** Bytes or -1 (unlimited); absent: leave as is. */
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate: boolean;
}

export interface WantedCpu {
  shares?: number;
  /** Microseconds or -1 (no quota). */
  quota?: number;
  period?: number;
  burst?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  idle?: number;
  cpus?: string;
  mems?: string;
}

export interface WantedDevice { major: number; minor: number }

export interface WantedBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice: Array<WantedDevice & { weight?: number; leafWeight?: number }>;
  throttle: Array<{ kind: 'read_bps' | 'write_bps' | 'read_iops' | 'write_iops'; devices: Array<WantedDevice & { rate: number }> }>;
}

/** What to apply, with every "unset" spelling (absent, null, the spec's 0s) already removed. */
export interface Wanted {
  memory?: WantedMemory;
  cpu?: WantedCpu;
  /** A positive number, or -1 for no limit. */
  pidsLimit?: number;
  blockIO?: WantedBlockIO;
  hugepageLimits: Array<{ size: string; limit: number }>;
  network?: { classID?: number; priorities: Array<{ name: string; priority: number }> };
  unified: Array<[string, string]>;
}

const P = 'linux.resources';

function bad(where: string, what: string, value: unknown): never {
  throw new HakoError(`hako: cgroup: ${where} must be ${what} (got ${JSON.stringify(value) ?? String(value)})`, { code: 'bad-config' });
}

function object(value: unknown, where: string, known: readonly string[]): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) bad(where, 'an object', value);
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) throw new HakoError(`hako: cgroup: ${where}.${key} is not a field the OCI runtime-spec defines (hako refuses what it does not know rather than ignore it)`, { code: 'bad-config' });
  }
  return obj;
}

function array(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) bad(where, 'an array', value);
  return value;
}

function integer(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) bad(where, 'an integer', value);
  return value;
}

/** The spec's int64 byte limits: 0 is unset, -1 is unlimited, anything else below 0 is wrong. */
function limit(value: unknown, where: string): number | undefined {
  const n = integer(value, where);
  if (n === undefined || n === 0) return undefined;
  if (n < -1) bad(where, 'a byte count or -1 (unlimited)', value);
  return n;
}

function inRange(value: unknown, where: string, min: number, max: number, zeroUnset: boolean): number | undefined {
  const n = integer(value, where);
  if (n === undefined || (zeroUnset && n === 0)) return undefined;
  if (n < min || n > max) bad(where, `between ${min} and ${max}${zeroUnset ? ' (or 0: unset)' : ''}`, value);
  return n;
}

function nonNegative(value: unknown, where: string): number | undefined {
  const n = integer(value, where);
  if (n !== undefined && n < 0) bad(where, 'zero or more', value);
  return n;
}

function bool(value: unknown, where: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') bad(where, 'true or false', value);
  return value;
}

function str(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') bad(where, 'a string', value);
  return value;
}

/** Drop the keys whose value is undefined, so "nothing set" is an empty object. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function device(value: unknown, where: string, extra: readonly string[]): Record<string, unknown> & WantedDevice {
  const o = object(value, where, ['major', 'minor', ...extra]) ?? bad(where, 'an object', value);
  const major = nonNegative(o.major, `${where}.major`) ?? bad(`${where}.major`, 'an integer', o.major);
  const minor = nonNegative(o.minor, `${where}.minor`) ?? bad(`${where}.minor`, 'an integer', o.minor);
  return { ...o, major, minor };
}

export function normalizeResources(resources: LinuxResources | unknown): Wanted {
  const r = object(resources, P, KNOWN_KEYS.resources) ?? {};
  const out: Wanted = { hugepageLimits: [], unified: [] };

  if (array(r.devices, `${P}.devices`).length > 0) {
    throw new HakoError(`hako: cgroup: ${P}.devices is not supported yet (the device cgroup is a separate piece; leave the rules out of what is passed to set())`, { code: 'unsupported' });
  }
  if (r.rdma !== undefined && r.rdma !== null) {
    if (typeof r.rdma !== 'object' || Array.isArray(r.rdma)) bad(`${P}.rdma`, 'an object', r.rdma);
    if (Object.keys(r.rdma).length > 0) throw new HakoError(`hako: cgroup: ${P}.rdma is not supported yet`, { code: 'unsupported' });
  }

  const m = object(r.memory, `${P}.memory`, KNOWN_KEYS.memory);
  if (m) {
    const w = `${P}.memory`;
    let swappiness = integer(m.swappiness, `${w}.swappiness`);
    // Go's uint64(-1) (docker's "unset") arrives as 2^64-1, which JSON numbers round up
    if (swappiness === -1 || (swappiness !== undefined && swappiness >= 2 ** 63)) swappiness = undefined;
    if (swappiness !== undefined && (swappiness < 0 || swappiness > 100)) bad(`${w}.swappiness`, 'between 0 and 100', m.swappiness);
    const mem = compact<WantedMemory>({
      limit: limit(m.limit, `${w}.limit`),
      reservation: limit(m.reservation, `${w}.reservation`),
      swap: limit(m.swap, `${w}.swap`),
      kernel: limit(m.kernel, `${w}.kernel`),
      kernelTCP: limit(m.kernelTCP, `${w}.kernelTCP`),
      swappiness,
      disableOOMKiller: bool(m.disableOOMKiller, `${w}.disableOOMKiller`),
      useHierarchy: bool(m.useHierarchy, `${w}.useHierarchy`),
      checkBeforeUpdate: bool(m.checkBeforeUpdate, `${w}.checkBeforeUpdate`) ?? false,
    });
    if (Object.keys(mem).some((k) => k !== 'checkBeforeUpdate')) out.memory = mem;
  }

  const c = object(r.cpu, `${P}.cpu`, KNOWN_KEYS.cpu);
  if (c) {
    const w = `${P}.cpu`;
    const quota = integer(c.quota, `${w}.quota`);
    if (quota !== undefined && quota < -1) bad(`${w}.quota`, 'microseconds or -1 (no quota)', c.quota);
    const rt = integer(c.realtimeRuntime, `${w}.realtimeRuntime`);
    if (rt !== undefined && rt < -1) bad(`${w}.realtimeRuntime`, 'microseconds or -1 (unlimited)', c.realtimeRuntime);
    const cpu = compact<WantedCpu>({
      shares: inRange(c.shares, `${w}.shares`, 2, 262144, true),
      quota: quota === 0 ? undefined : quota,
      period: nonNegative(c.period, `${w}.period`) || undefined,
      burst: nonNegative(c.burst, `${w}.burst`),
      realtimeRuntime: rt === 0 ? undefined : rt,
      realtimePeriod: nonNegative(c.realtimePeriod, `${w}.realtimePeriod`) || undefined,
      idle: inRange(c.idle, `${w}.idle`, 0, 1, false),
      cpus: str(c.cpus, `${w}.cpus`),
      mems: str(c.mems, `${w}.mems`),
    });
    for (const k of ['cpus', 'mems'] as const) {
      const v = cpu[k];
      if (v !== undefined && !/^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$/.test(v)) bad(`${w}.${k}`, 'a list such as "0-3,5"', v);
    }
    if (Object.keys(cpu).length > 0) out.cpu = cpu;
  }

  const p = object(r.pids, `${P}.pids`, KNOWN_KEYS.pids);
  if (p) {
    const n = integer(p.limit, `${P}.pids.limit`);
    if (n !== undefined) out.pidsLimit = n > 0 ? n : -1;
  }

  const b = object(r.blockIO, `${P}.blockIO`, KNOWN_KEYS.blockIO);
  if (b) {
    const w = `${P}.blockIO`;
    const blk: WantedBlockIO = compact({
      weight: inRange(b.weight, `${w}.weight`, 10, 1000, true),
      leafWeight: inRange(b.leafWeight, `${w}.leafWeight`, 10, 1000, true),
      weightDevice: array(b.weightDevice, `${w}.weightDevice`).map((d, i) => {
        const o = device(d, `${w}.weightDevice[${i}]`, ['weight', 'leafWeight']);
        return compact({
          major: o.major, minor: o.minor,
          weight: inRange(o.weight, `${w}.weightDevice[${i}].weight`, 10, 1000, true),
          leafWeight: inRange(o.leafWeight, `${w}.weightDevice[${i}].leafWeight`, 10, 1000, true),
        });
      }),
      throttle: [],
    });
    const kinds = [['throttleReadBpsDevice', 'read_bps'], ['throttleWriteBpsDevice', 'write_bps'],
      ['throttleReadIOPSDevice', 'read_iops'], ['throttleWriteIOPSDevice', 'write_iops']] as const;
    for (const [key, kind] of kinds) {
      const devices = array(b[key], `${w}.${key}`).map((d, i) => {
        const o = device(d, `${w}.${key}[${i}]`, ['rate']);
        const rate = nonNegative(o.rate, `${w}.${key}[${i}].rate`) ?? bad(`${w}.${key}[${i}].rate`, 'an integer', o.rate);
        return { major: o.major, minor: o.minor, rate };
      });
      if (devices.length > 0) blk.throttle.push({ kind, devices });
    }
    if (blk.weight !== undefined || blk.leafWeight !== undefined || blk.weightDevice.length > 0 || blk.throttle.length > 0) out.blockIO = blk;
  }

  array(r.hugepageLimits, `${P}.hugepageLimits`).forEach((h, i) => {
    const w = `${P}.hugepageLimits[${i}]`;
    const o = object(h, w, ['pageSize', 'limit']) ?? bad(w, 'an object', h);
    const size = typeof o.pageSize === 'string' ? hugepageSize(o.pageSize) : undefined;
    if (size === undefined) bad(`${w}.pageSize`, 'a size such as "2MB" or "1GB"', o.pageSize);
    const lim = nonNegative(o.limit, `${w}.limit`) ?? bad(`${w}.limit`, 'an integer', o.limit);
    out.hugepageLimits.push({ size, limit: lim });
  });

  const n = object(r.network, `${P}.network`, KNOWN_KEYS.network);
  if (n) {
    const w = `${P}.network`;
    const classID = nonNegative(n.classID, `${w}.classID`);
    const priorities = array(n.priorities, `${w}.priorities`).map((e, i) => {
      const o = object(e, `${w}.priorities[${i}]`, ['name', 'priority']) ?? bad(`${w}.priorities[${i}]`, 'an object', e);
      const name = str(o.name, `${w}.priorities[${i}].name`);
      if (name === undefined || /[\s/]/.test(name)) bad(`${w}.priorities[${i}].name`, 'an interface name', o.name);
      const priority = nonNegative(o.priority, `${w}.priorities[${i}].priority`) ?? bad(`${w}.priorities[${i}].priority`, 'an integer', o.priority);
      return { name, priority };
    });
    if (classID !== undefined || priorities.length > 0) out.network = compact({ classID, priorities });
  }

  if (r.unified !== undefined && r.unified !== null) {
    if (typeof r.unified !== 'object' || Array.isArray(r.unified)) bad(`${P}.unified`, 'an object of file names and values', r.unified);
    for (const [key, value] of Object.entries(r.unified as Record<string, unknown>)) {
      if (!/^[a-z][a-z0-9_]*\.[A-Za-z0-9_.]+$/.test(key)) {
        throw new HakoError(`hako: cgroup: ${P}.unified: '${key}' is not a cgroup v2 file name (such as "memory.high")`, { code: 'bad-config' });
      }
      if (/^cgroup\.(procs|threads|subtree_control|kill|freeze|type)$/.test(key)) {
        throw new HakoError(`hako: cgroup: ${P}.unified: '${key}' is managed by hako itself and cannot be set as a resource`, { code: 'bad-config' });
      }
      if (typeof value !== 'string') bad(`${P}.unified["${key}"]`, 'a string', value);
      out.unified.push([key, value]);
    }
  }
  return out;
}

/** The controller a cgroup v2 file belongs to ("memory" for memory.high); undefined for core files. */
export function controllerOfFile(file: string): string | undefined {
  const prefix = file.split('.')[0] ?? '';
  return prefix === 'cgroup' ? undefined : prefix;
}
