// linux.netDevices (runtime-spec config-linux.md "Network Devices"): host network devices moved
// into the container's new network namespace, with their new names, and moved back (with their
// host names) on delete. The namespace is kept as a file from the move to the delete, as for a
// CNI network: a container whose init has ended would otherwise take its devices with it (a
// virtual device is destroyed with its namespace). What was moved is recorded before the move.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { Spec } from '../config/types.js';
import { failureError } from '../helper/failure.js';
import { ops } from '../helper/ops.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { runPlan } from '../helper/session.js';
import { namespaceKind } from '../linux/namespaces.js';
import type { NetworkDirs } from './config.js';
import { pinNetns, unpinNetns } from './netns.js';

export interface MovedDevice { host: string; name: string }

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** The devices of linux.netDevices: [] without it. A new network namespace is required. */
export function netDevicesOf(spec: Spec): MovedDevice[] {
  const d = spec.linux?.netDevices ?? {};
  const out = Object.entries(d).map(([host, v]) => ({ host, name: v?.name ?? host }));
  if (!out.length) return out;
  if (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'network' && !n.path)) {
    throw new HakoError('hako: config.json: linux.netDevices: needs a new network namespace (a linux.namespaces entry of type network without path)', { code: 'bad-config' });
  }
  const names = out.map((o) => o.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new HakoError(`hako: config.json: linux.netDevices: two devices are named ${twice} in the container`, { code: 'bad-config' });
  return out;
}

function recordPath(dirs: NetworkDirs, cid: string): string {
  return join(dirs.stateDir, 'devices', `${cid}.json`);
}

function pinPath(dirs: NetworkDirs, cid: string): string {
  return join(dirs.stateDir, 'netns', `${cid}.devices`);
}

function ip(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { env: { ...process.env, PATH } }, (e, _out, stderr) => {
      if (!e) { resolve(); return; }
      reject(new HakoError(`hako: linux.netDevices: ip ${args.join(' ')}: ${String(stderr).trim().split('\n')[0] || e.message}`, { code: 'network' }));
    });
  });
}

/** Moves the devices into the namespace of pid (the container's init, waiting where prestart hooks run). */
export async function moveDevicesIn(dirs: NetworkDirs, cid: string, pid: number, devices: MovedDevice[], explain?: (line: string) => void): Promise<void> {
  if (!devices.length) return;
  await mkdir(join(dirs.stateDir, 'devices'), { recursive: true, mode: 0o700 });
  await writeFile(recordPath(dirs, cid), JSON.stringify(devices), { mode: 0o600 });
  await pinNetns(pid, pinPath(dirs, cid));
  for (const d of devices) {
    await ip(['link', 'set', 'dev', d.host, 'netns', String(pid), 'name', d.name]);
    explain?.(`[hako] linux.netDevices: ${d.host} moved into the container's network namespace as ${d.name}`);
  }
}

/** At delete: each recorded device moved back (with its host name) from the kept namespace into
 * this process's, which is the host's the container was created from; then the namespace let go.
 * A device gone from the namespace is skipped (it was destroyed, or never moved). */
export async function moveDevicesBack(dirs: NetworkDirs, cid: string): Promise<void> {
  const file = recordPath(dirs, cid);
  if (!existsSync(file)) return;
  let devices: MovedDevice[] = [];
  try { devices = JSON.parse(await readFile(file, 'utf8')) as MovedDevice[]; } catch { /* half written: nothing was moved yet */ }
  const ns = pinPath(dirs, cid);
  if (devices.length && existsSync(ns)) {
    const b = new PlanBuilder();
    b.ns(ops.openDir({ slot: 5, path: ns, anyFile: true }), `open ${ns}`);
    b.ns(ops.setns({ nstype: namespaceKind('net').flag, slot: 5 }), "setns(CLONE_NEWNET): the container's kept network namespace");
    // one shell, each device moved back if it is still there; the names are its arguments
    const script = `pid=$1; shift; while [ $# -gt 1 ]; do if ip link show dev "$1" >/dev/null 2>&1; then ip link set dev "$1" down && ip link set dev "$1" netns "$pid" name "$2" || exit 1; fi; shift 2; done`;
    b.exec(['/bin/sh', '-c', script, 'sh', String(process.pid), ...devices.flatMap((d) => [d.name, d.host])], { PATH });
    const r = await runPlan({ explain: false, hostOps: b.hostOps, nsOps: b.nsOps, initOps: b.initOps }, {}, { stdio: ['ignore', 'ignore', 'pipe'], label: 'netDevices' });
    if (r.failure) throw failureError('linux.netDevices', b, r.failure);
    if (r.status !== 0) throw new HakoError(`hako: linux.netDevices: moving ${devices.map((d) => d.name).join(', ')} back to the host failed: ${r.stderr?.toString().trim().split('\n')[0] ?? `exit ${r.status}`}`, { code: 'network' });
  }
  await unpinNetns(ns);
  await rm(file, { force: true });
}
