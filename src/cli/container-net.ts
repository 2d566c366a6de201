// hako run/create --network MODE [-p ...]: the container's network namespace from the CLI. Without
// --network nothing here runs (the config's namespaces decide, as runc). With it, the bundle's
// config is read and changed for this container only (its linux.namespaces network entry; for a
// CNI network, bind mounts of resolv.conf and hosts), the init is attached where prestart hooks
// run (before the process), and delete (also --force) runs CNI DEL from the attachment record.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ops } from '../helper/ops.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { MS } from '../linux/mount.js';
import { namespaceKind } from '../linux/namespaces.js';
import { launch } from '../toolkit/launch.js';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { CreateOptions } from '../runtime/runtime.js';
import type { Spec } from '../config/types.js';
import {
  attach, detach, findNetwork, hostsFile, listAttachments, type NetworkDirs, networkDirs, parseNetworkMode, parsePublish, resolvConf,
} from '../network/index.js';

function owner(id: string, root: string): string {
  return `container ${id} (root ${root})`;
}

/** The CNI container id: the container's id and its --root (two roots may hold the same id). */
function cniId(id: string, root: string): string {
  return `hako-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}

function filesDir(dirs: NetworkDirs, cid: string): string {
  return join(dirs.stateDir, 'files', cid);
}

function netnsFile(dirs: NetworkDirs, cid: string): string {
  return join(dirs.stateDir, 'netns', cid);
}

/** Keeps the init's network namespace as a file (a bind mount of its nsfs inode, as `ip netns add`
 * does): DEL must run in it after the container has ended, or bridge's NAT rules stay behind. */
async function pinNetns(pid: number, file: string): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(file, '', { mode: 0o600 });
  const b = new PlanBuilder();
  b.ns(ops.openDir({ slot: 5, path: `/proc/${pid}/ns/net`, anyFile: true }), `open /proc/${pid}/ns/net`);
  b.ns(ops.setns({ nstype: namespaceKind('net').flag, slot: 5 }), "setns(CLONE_NEWNET): join the container's network namespace");
  b.init(ops.mount({ source: '/proc/self/ns/net', target: file, flags: MS.BIND }), `bind it on ${file}`);
  b.exec(['/bin/true'], {});
  const r = await launch('network', b, { stdio: 'ignore' });
  if (r.exitCode !== 0) throw new HakoError(`hako: cannot keep the container's network namespace at ${file}`, { code: 'io' });
}

async function unpinNetns(file: string): Promise<void> {
  if (!existsSync(file)) return;
  await promisify(execFile)('umount', [file]).catch(() => undefined);
  rmSync(file, { force: true });
}

export interface ContainerNetworkArgs { network?: string; publish?: string[]; netDir?: string }

/** Changes create/run's options for --network; returns them unchanged without it. */
export function withNetwork(verb: string, id: string, root: string, o: CreateOptions, n: ContainerNetworkArgs): CreateOptions {
  if (n.network === undefined) {
    if (n.publish?.length) throw new HakoError(`hako ${verb}: --publish needs --network NAME (a CNI network such as bridge)`, { code: 'bad-option' });
    return o;
  }
  const mode = parseNetworkMode(n.network, `hako ${verb}`);
  const ports = (n.publish ?? []).map((p) => parsePublish(p, `hako ${verb}`));
  if (ports.length && mode.kind !== 'cni') throw new HakoError(`hako ${verb}: --publish needs --network NAME (a CNI network), not ${n.network}`, { code: 'bad-option' });
  const bundle = o.bundle ?? process.cwd();
  const file = join(bundle, 'config.json');
  let spec: Spec;
  try {
    spec = JSON.parse(readFileSync(file, 'utf8')) as Spec;
  } catch (e) {
    throw new HakoError(`hako ${verb}: ${file}: ${(e as Error).message}`, { code: 'bad-config' });
  }
  const linux = spec.linux ?? {};
  const namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network');
  if (mode.kind === 'ns') namespaces.push({ type: 'network', path: mode.path });
  else if (mode.kind !== 'host') namespaces.push({ type: 'network' });
  spec.linux = { ...linux, namespaces };
  const out: CreateOptions = { ...o, spec, bundle };
  if (mode.kind !== 'cni') return out;
  if ((process.geteuid?.() ?? 0) !== 0) throw new HakoError(`hako ${verb}: --network ${mode.name}: attaching to a CNI network needs root`, { code: 'permission' });
  const dirs = networkDirs(n.netDir !== undefined ? { netDir: n.netDir } : {});
  const cid = cniId(id, root);
  const dir = filesDir(dirs, cid);
  const resolv = join(dir, 'resolv.conf');
  const hosts = join(dir, 'hosts');
  // the files exist (empty) before the mounts are made, and are written in place once the
  // address is known: the container sees the same inodes
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(resolv, '', { mode: 0o644 });
  writeFileSync(hosts, '', { mode: 0o644 });
  spec.mounts = [...(spec.mounts ?? []).filter((m) => m.destination !== '/etc/resolv.conf' && m.destination !== '/etc/hosts'),
    { destination: '/etc/resolv.conf', type: 'bind', source: resolv, options: ['bind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: hosts, options: ['bind', 'rprivate'] }];
  out.onNetwork = async (pid: number) => {
    const netns = netnsFile(dirs, cid);
    await pinNetns(pid, netns);
    const a = await attach({ dirs, network: mode.name, containerId: cid, netns, ifName: 'eth0', portMappings: ports, owner: owner(id, root) });
    writeFileSync(resolv, resolvConf(a.result));
    writeFileSync(hosts, hostsFile(a.result, spec.hostname ?? id));
  };
  return out;
}

/** Before create: an unknown network or a malformed conflist is refused before anything is made. */
export async function checkNetworkArg(n: ContainerNetworkArgs): Promise<void> {
  if (n.network === undefined) return;
  const mode = parseNetworkMode(n.network);
  if (mode.kind === 'cni') await findNetwork(networkDirs(n.netDir !== undefined ? { netDir: n.netDir } : {}), mode.name);
}

/** For Runtime's onRemove: DEL of every attachment of the container, in its kept namespace (or,
 * when that is gone, a path that does not exist: the plugins then release what they can). */
export function networkRemover(root: string, netDir?: string): (id: string) => Promise<void> {
  return async (id) => {
    const dirs = networkDirs(netDir !== undefined ? { netDir } : {});
    for (const a of (await listAttachments(dirs)).filter((x) => x.owner === owner(id, root))) {
      await detach(dirs, a, { netns: existsSync(a.netns) ? a.netns : join(dirs.stateDir, 'gone', a.containerId) });
    }
    // a container made without --network has none of these: nothing is touched (existsSync is
    // false too where the state directory cannot be read, as for root of a user namespace)
    await unpinNetns(netnsFile(dirs, cniId(id, root)));
    const files = filesDir(dirs, cniId(id, root));
    if (existsSync(files)) rmSync(files, { recursive: true, force: true });
  };
}
