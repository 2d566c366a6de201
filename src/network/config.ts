// Networks: CNI conflists in hako's network config directory, and the built-in `bridge`.
// Attachments (which container is on which network, with the CNI result) are kept in hako's
// network state directory, next to host-local's leases (its dataDir), never podman's.
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { type ConfList, CNI_VERSION, parseConfList, type PluginConf } from './cni.js';

export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE = 'hako0';
export const DEFAULT_SUBNET = '10.89.0.0/16';

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/** Where network configs are: --net-dir, $HAKO_NET_DIR, /etc/hako/net.d (root) or $XDG_CONFIG_HOME/hako/net.d. */
export function netConfigDir(override?: string): string {
  if (override) return override;
  if (process.env.HAKO_NET_DIR) return process.env.HAKO_NET_DIR;
  if (euid() === 0) return '/etc/hako/net.d';
  const home = process.env.HOME ?? '/';
  return join(process.env.XDG_CONFIG_HOME || join(home, '.config'), 'hako/net.d');
}

/** Where attachments and IPAM leases are: $HAKO_NET_STATE, /run/hako/net (root) or $XDG_RUNTIME_DIR/hako/net. */
export function netStateDir(override?: string): string {
  if (override) return override;
  if (process.env.HAKO_NET_STATE) return process.env.HAKO_NET_STATE;
  if (euid() === 0) return '/run/hako/net';
  return join(process.env.XDG_RUNTIME_DIR || `/tmp/hako-${euid()}`, 'hako/net');
}

export interface NetworkDirs { configDir: string; stateDir: string }

export function networkDirs(o: { netDir?: string; stateDir?: string } = {}): NetworkDirs {
  return { configDir: netConfigDir(o.netDir), stateDir: netStateDir(o.stateDir) };
}

/** Makes the network state directory (its first use by a container or a network): one that
 * cannot be made or written is a clear error naming it and $HAKO_NET_STATE, not an internal one. */
export async function ensureNetStateDir(dirs: NetworkDirs): Promise<void> {
  try {
    await mkdir(dirs.stateDir, { recursive: true, mode: 0o755 });
    await access(dirs.stateDir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
    throw new HakoError(`hako: network state directory ${dirs.stateDir}: ${denied ? 'cannot write it' : 'cannot make it'} (${code}): set $HAKO_NET_STATE to a directory this user can write`, { code: denied ? 'permission' : 'io' });
  }
}

/** host-local's dataDir: one directory of leases per network below it. */
export function ipamDir(dirs: NetworkDirs): string {
  return join(dirs.stateDir, 'ipam');
}

/** A bridge network's conflist, as `hako net create` writes it (podman's CNI layout). */
export function bridgeConfList(o: { name: string; bridge: string; subnet: string; gateway?: string; internal?: boolean }): ConfList {
  const range: Record<string, string> = { subnet: o.subnet };
  if (o.gateway) range.gateway = o.gateway;
  const ipam: Record<string, unknown> = { type: 'host-local', ranges: [[range]] };
  if (!o.internal) ipam.routes = [{ dst: '0.0.0.0/0' }];
  const plugins: PluginConf[] = [
    { type: 'bridge', bridge: o.bridge, isGateway: !o.internal, ipMasq: !o.internal, hairpinMode: true, ipam },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    { type: 'firewall', backend: 'iptables' },
    { type: 'tuning' },
  ];
  return { cniVersion: CNI_VERSION, name: o.name, plugins };
}

/** The built-in default network, used when no file names `bridge`. */
export function builtinBridge(): ConfList {
  return bridgeConfList({ name: DEFAULT_NETWORK, bridge: DEFAULT_BRIDGE, subnet: DEFAULT_SUBNET, gateway: '10.89.0.1' });
}

/** Every network: the conflists in the config directory (sorted by file name), and `bridge`. */
export async function listNetworks(dirs: NetworkDirs): Promise<ConfList[]> {
  let files: string[] = [];
  try {
    files = (await readdir(dirs.configDir)).filter((f) => f.endsWith('.conflist')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new HakoError(`hako: network config directory ${dirs.configDir}: ${(e as Error).message}`, { code: 'io' });
  }
  const out: ConfList[] = [];
  for (const f of files) {
    const file = join(dirs.configDir, f);
    const list = parseConfList(await readFile(file, 'utf8'), file);
    if (out.some((o) => o.name === list.name)) throw new HakoError(`hako: ${file}: name: network '${list.name}' is also in ${out.find((o) => o.name === list.name)?.file}`, { code: 'bad-config' });
    out.push(list);
  }
  if (!out.some((o) => o.name === DEFAULT_NETWORK)) out.unshift(builtinBridge());
  return out;
}

export async function findNetwork(dirs: NetworkDirs, name: string): Promise<ConfList> {
  const all = await listNetworks(dirs);
  const n = all.find((o) => o.name === name);
  if (!n) throw new HakoError(`hako: no network '${name}' (networks: ${all.map((o) => o.name).join(', ')}; see 'hako net ls')`, { code: 'not-found' });
  return n;
}

// ---- IPv4 subnets ----

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] as number) << 24) >>> 0) + ((parts[1] as number) << 16) + ((parts[2] as number) << 8) + (parts[3] as number);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr { base: number; bits: number }

export function parseCidr(s: string): Cidr | undefined {
  const [ip, len, ...more] = s.split('/');
  if (more.length || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const base = parseIPv4(ip ?? '');
  const bits = Number(len);
  if (base === undefined || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (base & mask) >>> 0, bits };
}

function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + size(c);
}

export function cidrOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** The IPv4 subnets a conflist's host-local IPAM hands out. */
export function subnetsOf(list: ConfList): string[] {
  const out: string[] = [];
  for (const p of list.plugins) {
    const ipam = p.ipam as { subnet?: string; ranges?: { subnet?: string }[][] } | undefined;
    if (!ipam) continue;
    if (typeof ipam.subnet === 'string') out.push(ipam.subnet);
    for (const set of ipam.ranges ?? []) for (const r of set ?? []) if (typeof r?.subnet === 'string') out.push(r.subnet);
  }
  return out;
}

export function bridgeOf(list: ConfList): string | undefined {
  const b = list.plugins.find((p) => p.type === 'bridge')?.bridge;
  return typeof b === 'string' ? b : undefined;
}

export interface CreateOptions { subnet?: string; gateway?: string; bridge?: string; internal?: boolean }

/** Writes NAME.conflist; checks the name, the subnet against every other network's, the gateway. */
export async function createNetwork(dirs: NetworkDirs, name: string, o: CreateOptions = {}): Promise<ConfList> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name.length > 64) throw new HakoError(`hako: net create: '${name}' is not a network name (letters, digits, _ . -, at most 64)`, { code: 'bad-option' });
  const all = await listNetworks(dirs);
  if (all.some((n) => n.name === name)) throw new HakoError(`hako: net create: network '${name}' exists already`, { code: 'exists' });
  const taken = all.flatMap((n) => subnetsOf(n).map((s) => ({ net: n.name, s, c: parseCidr(s) })));
  let subnet: Cidr;
  if (o.subnet !== undefined) {
    const c = parseCidr(o.subnet);
    if (!c) throw new HakoError(`hako: net create: --subnet: '${o.subnet}' is not an IPv4 subnet (e.g. 10.90.0.0/24)`, { code: 'bad-option' });
    if (c.bits > 30) throw new HakoError(`hako: net create: --subnet: ${o.subnet} is too small (at most /30)`, { code: 'bad-option' });
    const clash = taken.find((t) => t.c && cidrOverlap(t.c, c));
    if (clash) throw new HakoError(`hako: net create: --subnet: ${o.subnet} overlaps ${clash.s} of network '${clash.net}'`, { code: 'bad-option' });
    subnet = c;
  } else {
    let found: Cidr | undefined;
    for (let i = 0; i < 256 && !found; i++) {
      const c: Cidr = { base: parseIPv4(`10.90.${i}.0`) as number, bits: 24 };
      if (!taken.some((t) => t.c && cidrOverlap(t.c, c))) found = c;
    }
    if (!found) throw new HakoError('hako: net create: no free subnet in 10.90.0.0/16: give one with --subnet', { code: 'exists' });
    subnet = found;
  }
  const subnetText = `${formatIPv4(subnet.base)}/${subnet.bits}`;
  let gateway = formatIPv4(subnet.base + 1);
  if (o.gateway !== undefined) {
    const g = parseIPv4(o.gateway);
    if (g === undefined) throw new HakoError(`hako: net create: --gateway: '${o.gateway}' is not an IPv4 address`, { code: 'bad-option' });
    if (!cidrContains(subnet, g) || g === subnet.base || g === subnet.base + size(subnet) - 1) {
      throw new HakoError(`hako: net create: --gateway: ${o.gateway} is not a host address of the subnet ${subnetText}`, { code: 'bad-option' });
    }
    gateway = o.gateway;
  }
  let bridge = o.bridge;
  const bridges = new Set(all.map(bridgeOf).filter(Boolean));
  if (bridge !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new HakoError(`hako: net create: --bridge: '${bridge}' is not an interface name (1 to 15 letters, digits, _ . -)`, { code: 'bad-option' });
    if (bridges.has(bridge)) throw new HakoError(`hako: net create: --bridge: ${bridge} is used by another network`, { code: 'bad-option' });
  } else {
    for (let i = 1; i < 1000 && bridge === undefined; i++) if (!bridges.has(`hako${i}`)) bridge = `hako${i}`;
  }
  const list = bridgeConfList({ name, bridge: bridge as string, subnet: subnetText, gateway, internal: !!o.internal });
  await mkdir(dirs.configDir, { recursive: true, mode: 0o755 });
  const file = join(dirs.configDir, `${name}.conflist`);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(list, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, file);
  return { ...list, file };
}

// ---- attachments ----

/** Where the files bind-mounted for an attachment are (resolv.conf, hosts). */
export function netFilesDir(dirs: NetworkDirs, containerId: string): string {
  return join(dirs.stateDir, 'files', containerId);
}

/** Where an attached namespace is kept as a file (a bind mount) until its DEL. */
export function netnsPath(dirs: NetworkDirs, containerId: string): string {
  return join(dirs.stateDir, 'netns', containerId);
}

export interface Attachment {
  containerId: string;
  ifName: string;
  network: string;
  /** The conflist used for ADD: DEL uses the same even if the file changed or went. */
  config: ConfList;
  netns: string;
  result: import('./cni.js').CniResult;
  portMappings: import('./cni.js').PortMapping[];
  /** The names other containers of the network reach it by (its id, its hostname), in the network's hosts file. */
  names?: string[];
  /** Who holds it: the pid of `hako unshare`, or the container's id. */
  owner: string;
  /** The hako process that holds it, when it ends with that process (unshare): `net prune` lets go of it once that process is gone. */
  ownerPid?: number;
  created: string;
}

function attachmentsDir(dirs: NetworkDirs): string {
  return join(dirs.stateDir, 'attachments');
}

function attachmentFile(dirs: NetworkDirs, containerId: string, ifName: string): string {
  return join(attachmentsDir(dirs), `${containerId}_${ifName}.json`);
}

export async function saveAttachment(dirs: NetworkDirs, a: Attachment): Promise<void> {
  await mkdir(attachmentsDir(dirs), { recursive: true, mode: 0o700 });
  const file = attachmentFile(dirs, a.containerId, a.ifName);
  await writeFile(`${file}.tmp`, JSON.stringify(a), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

export async function removeAttachment(dirs: NetworkDirs, containerId: string, ifName: string): Promise<void> {
  await rm(attachmentFile(dirs, containerId, ifName), { force: true });
}

export async function listAttachments(dirs: NetworkDirs): Promise<Attachment[]> {
  let files: string[];
  try {
    files = (await readdir(attachmentsDir(dirs))).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: Attachment[] = [];
  for (const f of files.sort()) {
    try { out.push(JSON.parse(await readFile(join(attachmentsDir(dirs), f), 'utf8')) as Attachment); } catch { /* being written or removed */ }
  }
  return out;
}

/** Removes a network's conflist; refused for the built-in one and while containers are attached. */
export async function removeNetwork(dirs: NetworkDirs, name: string): Promise<void> {
  const n = await findNetwork(dirs, name);
  if (!n.file) throw new HakoError(`hako: net rm: '${name}' is the built-in network (write ${join(dirs.configDir, `${name}.conflist`)} to configure it)`, { code: 'bad-option' });
  const users = (await listAttachments(dirs)).filter((a) => a.network === name);
  if (users.length) throw new HakoError(`hako: net rm: network '${name}' is in use by ${users.map((a) => a.owner).join(', ')}`, { code: 'bad-state' });
  await rm(n.file, { force: true });
  await rm(join(ipamDir(dirs), name), { recursive: true, force: true });
  await rm(join(dirs.stateDir, 'hosts', name), { force: true });
}
