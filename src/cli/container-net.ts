// hako run/create --network MODE [-p ...]: the container's network namespace from the CLI. Without
// --network nothing here runs (the config's namespaces decide, as runc). With it, the bundle's
// config is read and changed for this container only (its linux.namespaces network entry; for a
// CNI network, bind mounts of resolv.conf and hosts), the init is attached where prestart hooks
// run (before the process), and delete (also --force) runs CNI DEL from the attachment record.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pinNetns, unpinNetns } from '../toolkit/network.js';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { CreateOptions } from '../runtime/runtime.js';
import type { Spec } from '../config/types.js';
import {
  attach, delNetnsPath, detach, findNetwork, hostsFile, netFilesDir, netnsPath, listAttachments, networkDirs, parseNetworkMode, parsePublish, resolvConf,
} from '../network/index.js';

function owner(id: string, root: string): string {
  return `container ${id} (root ${root})`;
}

/** The CNI container id: the container's id and its --root (two roots may hold the same id). */
function cniId(id: string, root: string): string {
  return `hako-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
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
  const dir = netFilesDir(dirs, cid);
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
    const netns = netnsPath(dirs, cid);
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
    const cid = cniId(id, root);
    // a container made without --network has none of this: its files' directory is made first
    // (withNetwork, before create), so without it nothing is read or touched (existsSync is false
    // too where the state directory cannot be read, as for root of a user namespace)
    const files = netFilesDir(dirs, cid);
    if (!existsSync(files)) return;
    for (const a of (await listAttachments(dirs)).filter((x) => x.owner === owner(id, root))) {
      await detach(dirs, a, { netns: delNetnsPath(dirs, a) });
    }
    await unpinNetns(netnsPath(dirs, cid));
    rmSync(files, { recursive: true, force: true });
  };
}
