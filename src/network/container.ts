// A container's network (`network` in Runtime.create/run, the CLI's --network): without it nothing
// here runs (the config's namespaces decide, as runc). With it, the config is changed for this
// container only (its linux.namespaces network entry; for a CNI network, bind mounts of
// resolv.conf and of the network's hosts file), the init is attached where prestart hooks run
// (before the process), and delete (also --force) runs CNI DEL from the attachment record.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import type { Mount, Spec } from '../config/types.js';
import { addressesOf, attach, delNetnsPath, detach, type NetworkMode, parseNetworkMode, parsePublish, resolvConf } from './attach.js';
import type { PortMapping } from './cni.js';
import { ensureNetStateDir, findNetwork, listAttachments, type NetworkDirs, networkDirs, netFilesDir, netnsPath } from './config.js';
import { ensureNetworkHosts, updateNetworkHosts } from './hosts.js';
import { pinNetns, unpinNetns } from './netns.js';
import { moveDevicesBack, moveDevicesIn, netDevicesOf } from './devices.js';
import { testKillPoint } from './testpoint.js';
import { startUserMode, stopRecorded, type UserModeDriver } from './usermode.js';

/** node:crypto, loaded when a container has a network (it costs 2 ms at every CLI start). */
function sha256Hex(text: string): string {
  const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

export interface ContainerNetworkOptions {
  /** none, host, ns:PATH or a CNI network's name. */
  network?: string;
  /** [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp], with a CNI network. */
  publish?: string[];
  /** The network config directory (default: $HAKO_NET_DIR, /etc/hako/net.d for root). */
  netDir?: string;
}

function owner(id: string, root: string): string {
  return `container ${id} (root ${root})`;
}

/** The CNI container id: the container's id and its state root (two roots may hold the same id). */
export function containerCniId(id: string, root: string): string {
  return `hako-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}-${sha256Hex(root).slice(0, 8)}`;
}

function dirsOf(o: { netDir?: string | undefined }): NetworkDirs {
  return networkDirs(o.netDir !== undefined ? { netDir: o.netDir } : {});
}

/** A container's network, from its options: the changed config, and what runs at create. */
export interface ContainerNetwork {
  mode: NetworkMode;
  /** The config with the network namespace (and, for a CNI network, the files' bind mounts). */
  spec: Spec;
  /** Before anything is made: the network exists, its conflist is sound. */
  check(): Promise<void>;
  /** Before the plan is made (its mounts' sources must exist): the bind-mounted files. */
  prepare(): Promise<void>;
  /** What prepare made, removed: for a failure before the container's state exists. */
  undo(): Promise<void>;
  /** With the init's pid, in its namespaces (where prestart hooks run): pin, CNI ADD, the files. */
  attach?(pid: number, explain?: (line: string) => void): Promise<void>;
}

/** Parses the options; undefined without `network`. Nothing is made here. */
export function containerNetwork(who: string, id: string, root: string, spec: Spec, o: ContainerNetworkOptions): ContainerNetwork | undefined {
  if (o.network === undefined) {
    if (o.publish?.length) throw new HakoError(`${who}: --publish needs --network NAME (a CNI network such as bridge)`, { code: 'bad-option' });
    return undefined;
  }
  const mode = parseNetworkMode(o.network, who);
  const ports: PortMapping[] = (o.publish ?? []).map((p) => parsePublish(p, who));
  if (ports.length && mode.kind !== 'cni' && mode.kind !== 'slirp4netns' && mode.kind !== 'pasta') throw new HakoError(`${who}: --publish needs --network NAME (a CNI network), slirp4netns or pasta, not ${o.network}`, { code: 'bad-option' });
  const linux = spec.linux ?? {};
  const namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network');
  if (mode.kind === 'ns') namespaces.push({ type: 'network', path: mode.path });
  else if (mode.kind !== 'host') namespaces.push({ type: 'network' });
  const out: Spec = { ...spec, linux: { ...linux, namespaces } };
  if (mode.kind === 'slirp4netns' || mode.kind === 'pasta') return userModeNetwork(mode.kind, id, root, out, ports, dirsOf(o));
  if (mode.kind !== 'cni') return { mode, spec: out, check: async () => { /* nothing to check */ }, prepare: async () => { /* nothing to make */ }, undo: async () => { /* nothing made */ } };
  if ((process.geteuid?.() ?? 0) !== 0) throw new HakoError(`${who}: --network ${mode.name}: attaching to a CNI network (a bridge, iptables rules) needs root; without root use --network none or ns:PATH`, { code: 'permission' });
  const dirs = dirsOf(o);
  const cid = containerCniId(id, root);
  const dir = netFilesDir(dirs, cid);
  const resolv = join(dir, 'resolv.conf');
  const hostsPath = join(dirs.stateDir, 'hosts', mode.name);
  const mounts: Mount[] = [...(spec.mounts ?? []).filter((m) => m.destination !== '/etc/resolv.conf' && m.destination !== '/etc/hosts'),
    { destination: '/etc/resolv.conf', type: 'bind', source: resolv, options: ['bind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: hostsPath, options: ['bind', 'rprivate', 'ro'] }];
  out.mounts = mounts;
  const names = [...new Set([id, ...(spec.hostname ? [spec.hostname] : [])])];
  let made = false;
  return {
    mode,
    spec: out,
    async check() {
      await findNetwork(dirs, mode.name);
    },
    async prepare() {
      // the files exist before the mounts are made, and are written in place once the address
      // is known: the container sees the same inodes. The files' directory marks a container
      // with a network for delete: it is made first, before anything else of the network
      // (made before the state claims the id: files another create of the same id made are
      // neither emptied nor removed here)
      await ensureNetStateDir(dirs);
      made = !existsSync(dir);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await writeFile(resolv, '', { mode: 0o644, flag: 'a' });
      await ensureNetworkHosts(dirs, mode.name);
      testKillPoint('net-files');
    },
    async undo() {
      if (made) await rm(dir, { recursive: true, force: true });
      made = false;
    },
    async attach(pid, explain) {
      const netns = netnsPath(dirs, cid);
      await pinNetns(pid, netns);
      explain?.(`[hako] network ${mode.name}: the container's network namespace kept at ${netns} (until delete)`);
      testKillPoint('net-pinned');
      explain?.(`[hako] network ${mode.name}: CNI ADD (container id ${cid}, eth0${ports.length ? `, ports ${ports.map((p) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`).join(' ')}` : ''})`);
      const a = await attach({ dirs, network: mode.name, containerId: cid, netns, ifName: 'eth0', portMappings: ports, owner: owner(id, root), names, ...(explain ? { explain } : {}) });
      testKillPoint('net-added');
      await writeFile(resolv, resolvConf(a.result));
      await updateNetworkHosts(dirs, mode.name);
      explain?.(`[hako] network ${mode.name}: ${names.join(', ')} is ${addressesOf(a.result).join(', ') || 'without an address'} in ${hostsPath} (the network's /etc/hosts)`);
    },
  };
}

/** A user-mode network (slirp4netns or pasta, no root needed): the driver joins the init's
 * namespaces where prestart hooks run and outlives hako; its pid and start time are recorded in
 * the container's files directory (made first: delete's mark), and delete ends it. The
 * container's /etc/resolv.conf names the driver's DNS (slirp4netns) or the host's resolvers. */
function userModeNetwork(driver: UserModeDriver, id: string, root: string, spec: Spec, ports: PortMapping[], dirs: NetworkDirs): ContainerNetwork {
  const dir = netFilesDir(dirs, containerCniId(id, root));
  const resolv = join(dir, 'resolv.conf');
  spec.mounts = [...(spec.mounts ?? []).filter((m) => m.destination !== '/etc/resolv.conf'),
    { destination: '/etc/resolv.conf', type: 'bind', source: resolv, options: ['bind', 'rprivate', 'ro'] }];
  let made = false;
  return {
    mode: { kind: driver },
    spec,
    async check() { /* the driver's own checks come when it starts */ },
    async prepare() {
      await ensureNetStateDir(dirs);
      made = !existsSync(dir);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await writeFile(resolv, '', { mode: 0o644, flag: 'a' });
    },
    async undo() {
      if (made) await rm(dir, { recursive: true, force: true });
      made = false;
    },
    async attach(pid, explain) {
      const net = await startUserMode(driver, { pid, ports, ...(explain ? { explain } : {}) });
      await writeFile(join(dir, USER_MODE_RECORD), JSON.stringify({ driver, pid: net.pid, startTime: net.startTime, runDir: net.runDir }), { mode: 0o600 });
      await writeFile(resolv, net.dns ? `nameserver ${net.dns}\n` : hostResolvers());
    },
  };
}

const USER_MODE_RECORD = 'user-mode.json';

/** The host's resolv.conf without loopback resolvers (unreachable from the container's namespace). */
function hostResolvers(): string {
  let text = '';
  try { text = readFileSync('/etc/resolv.conf', 'utf8'); } catch { return ''; }
  return text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l)).join('\n');
}

/** At delete: the user-mode driver a container's record names, ended (if it still runs). */
async function stopUserMode(files: string): Promise<void> {
  let record: { pid?: number; startTime?: number; runDir?: string };
  try { record = JSON.parse(await readFile(join(files, USER_MODE_RECORD), 'utf8')) as typeof record; } catch { return; }
  if (record.pid && record.startTime) stopRecorded(record.pid, record.startTime);
  if (record.runDir?.includes('/hako-um-')) await rm(record.runDir, { recursive: true, force: true });
}

/** At delete: DEL of every attachment of the container, in its kept namespace (or, when that is
 * gone, a path that does not exist: the plugins then release what they can), the hosts files
 * updated, the namespace let go, the files removed. A container made without a CNI network has
 * none of this: its files' directory is made first, so without it nothing is read or touched. */
export async function removeContainerNetwork(id: string, root: string, o: { netDir?: string | undefined } = {}): Promise<void> {
  const dirs = dirsOf(o);
  // what a container's network leaves is below files/ and devices/ (netns/ only with files/):
  // with neither holding anything, nothing is left of this one (and its id's hash is not needed)
  if (!['files', 'devices'].some((d) => { try { return readdirSync(join(dirs.stateDir, d)).length > 0; } catch { return false; } })) return;
  const cid = containerCniId(id, root);
  await moveDevicesBack(dirs, cid);
  const files = netFilesDir(dirs, cid);
  if (!existsSync(files)) return;
  await stopUserMode(files);
  for (const a of (await listAttachments(dirs)).filter((x) => x.containerId === cid && x.owner === owner(id, root))) {
    await detach(dirs, a, { netns: delNetnsPath(dirs, a) });
    await updateNetworkHosts(dirs, a.network);
  }
  await unpinNetns(netnsPath(dirs, cid));
  await rm(files, { recursive: true, force: true });
}

/** linux.netDevices of a container: moved in where prestart hooks run; undefined without any. */
export function containerDevices(id: string, root: string, spec: Spec, o: { netDir?: string | undefined } = {}): ((pid: number, explain?: (line: string) => void) => Promise<void>) | undefined {
  const devices = netDevicesOf(spec);
  if (!devices.length) return undefined;
  if ((process.geteuid?.() ?? 0) !== 0) throw new HakoError('hako: config.json: linux.netDevices: moving host network devices needs root', { code: 'permission' });
  const dirs = dirsOf(o);
  const cid = containerCniId(id, root);
  return (pid, explain) => moveDevicesIn(dirs, cid, pid, devices, explain);
}
