// Attaching a network namespace to a CNI network and detaching it: ADD (then CHECK), the
// attachment recorded before anything else can fail, DEL from the record; and the files a
// namespace's processes need (resolv.conf, hosts) made from the result.
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { HakoError } from '../errors.js';
import { addNetworkList, checkNetworkList, type CniResult, delNetworkList, type PortMapping, type RuntimeConf } from './cni.js';
import { testKillPoint } from './testpoint.js';
import { updateIsolation } from './isolation.js';
import { type Attachment, findNetwork, ipamDir, listAttachments, type NetworkDirs, parseIPv4, removeAttachment, saveAttachment } from './config.js';
import { randomHex } from '../linux/random.js';

/** What --network asks for. */
export type NetworkMode = { kind: 'none' } | { kind: 'host' } | { kind: 'ns'; path: string } | { kind: 'cni'; name: string } | { kind: 'slirp4netns' } | { kind: 'pasta' };

export function parseNetworkMode(text: string, who = 'hako', euid = process.geteuid?.() ?? 0): NetworkMode {
  if (text === 'none') return { kind: 'none' };
  if (text === 'host') return { kind: 'host' };
  if (text === 'slirp4netns') return { kind: 'slirp4netns' };
  if (text === 'pasta') {
    // Debian's pasta started as root changes to nobody first, and nobody can neither open nor join
    // the namespaces of a root container (measured: "Couldn't open network namespace", also with
    // --runas 0 and with the namespace bound to a file): refused before anything is made
    if (euid === 0) throw new HakoError(`${who}: --network pasta: pasta does not serve root's containers (it drops root and then cannot join their namespaces); as root use slirp4netns or a network name`, { code: 'unsupported' });
    return { kind: 'pasta' };
  }
  if (text.startsWith('ns:')) {
    const path = text.slice(3);
    if (!path.startsWith('/')) throw new HakoError(`${who}: --network ns:PATH: '${path}' is not an absolute path`, { code: 'bad-option' });
    return { kind: 'ns', path };
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(text)) throw new HakoError(`${who}: --network: '${text}' is not none, host, ns:PATH, slirp4netns, pasta or a network name`, { code: 'bad-option' });
  return { kind: 'cni', name: text };
}

/** -p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]. */
export function parsePublish(text: string, who = 'hako'): PortMapping {
  const bad = () => new HakoError(`${who}: --publish: '${text}' is not [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]`, { code: 'bad-option' });
  const [spec, proto = 'tcp', ...extra] = text.split('/');
  if (extra.length || (proto !== 'tcp' && proto !== 'udp')) throw bad();
  const parts = (spec ?? '').split(':');
  if (parts.length < 2 || parts.length > 3) throw bad();
  const port = (s: string | undefined) => {
    if (!s || !/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw bad();
    return Number(s);
  };
  const m: PortMapping = { hostPort: port(parts[parts.length - 2]), containerPort: port(parts[parts.length - 1]), protocol: proto };
  if (parts.length === 3) {
    if (parseIPv4(parts[0] ?? '') === undefined) throw bad();
    m.hostIP = parts[0] as string;
  }
  return m;
}

/** A container id for CNI: letters, digits, _ . - (the spec's rule). */
export function cniContainerId(prefix: string): string {
  return `${prefix}-${randomHex(6)}`;
}

export interface AttachOptions {
  dirs: NetworkDirs;
  network: string;
  containerId: string;
  netns: string;
  ifName?: string;
  portMappings?: PortMapping[];
  owner: string;
  ownerPid?: number;
  names?: string[];
  explain?: (line: string) => void;
  cniPath?: string[];
}

function runtimeConf(a: { containerId: string; netns: string; ifName: string; portMappings: PortMapping[] }, dirs: NetworkDirs, explain?: (line: string) => void, cniPath?: string[]): RuntimeConf {
  const rt: RuntimeConf = { containerId: a.containerId, netns: a.netns, ifName: a.ifName, ipamDataDir: ipamDir(dirs) };
  if (a.portMappings.length) rt.capabilityArgs = { portMappings: a.portMappings };
  if (explain) rt.explain = explain;
  if (cniPath) rt.cniPath = cniPath;
  return rt;
}

/** Published ports already taken by other attachments (the portmap plugin would accept a second
 * DNAT rule for the same port silently; the first would win). */
async function checkPorts(o: AttachOptions): Promise<void> {
  const mine = o.portMappings ?? [];
  if (!mine.length) return;
  for (const a of await listAttachments(o.dirs)) {
    for (const p of a.portMappings) {
      const clash = mine.find((m) => m.hostPort === p.hostPort && m.protocol === p.protocol && (!m.hostIP || !p.hostIP || m.hostIP === p.hostIP));
      if (clash) throw new HakoError(`hako: --publish ${clash.hostPort}/${clash.protocol}: the host port is already published by ${a.owner} (network ${a.network})`, { code: 'exists' });
    }
  }
}

/** ADD the namespace to the network, CHECK it, and record the attachment. On failure nothing is left. */
export async function attach(o: AttachOptions): Promise<Attachment> {
  const config = await findNetwork(o.dirs, o.network);
  await checkPorts(o);
  const a: Attachment = {
    containerId: o.containerId, ifName: o.ifName ?? 'eth0', network: config.name, config, netns: o.netns,
    result: { cniVersion: config.cniVersion }, portMappings: o.portMappings ?? [], owner: o.owner, created: new Date().toISOString(),
  };
  if (o.ownerPid !== undefined) a.ownerPid = o.ownerPid;
  if (o.names?.length) a.names = o.names;
  // recorded first, so that a crash during ADD still leaves a record for DEL (net prune)
  await saveAttachment(o.dirs, a);
  testKillPoint('net-recorded');
  const rt = runtimeConf(a, o.dirs, o.explain, o.cniPath);
  try {
    a.result = await addNetworkList(config, rt);
    await checkNetworkList(config, rt, a.result);
    o.explain?.(`[hako] network ${config.name}: CNI CHECK: ok`);
    await saveAttachment(o.dirs, a);
    await updateIsolation(o.dirs, o.explain);
  } catch (e) {
    await delNetworkList(config, rt, a.result).catch(() => undefined);
    await removeAttachment(o.dirs, a.containerId, a.ifName);
    await updateIsolation(o.dirs).catch(() => undefined);
    throw e;
  }
  return a;
}

/** DEL from the record (its config and result), then forget it. `netns` overrides the recorded path
 * (the namespace may be reachable by another path now, or be gone: DEL then only releases). */
export async function detach(dirs: NetworkDirs, a: Attachment, o: { netns?: string; explain?: (line: string) => void; cniPath?: string[] } = {}): Promise<void> {
  const rt = runtimeConf({ ...a, netns: o.netns ?? a.netns }, dirs, o.explain, o.cniPath);
  await delNetworkList(a.config, rt, a.result);
  await removeAttachment(dirs, a.containerId, a.ifName);
  await updateIsolation(dirs, o.explain);
}

const NSFS_MAGIC = 0x6e736673;

/** The path DEL is given for a recorded attachment: its kept namespace while that is still a
 * namespace (nsfs), else a path that does not exist (the namespace is gone: the plugins then
 * release what they can without it). */
export function delNetnsPath(dirs: NetworkDirs, a: Attachment): string {
  try {
    if (statfsSync(a.netns).type === NSFS_MAGIC) return a.netns;
  } catch { /* gone */ }
  return join(dirs.stateDir, 'gone', a.containerId);
}

/** The addresses a result gives the namespace (without prefix length). */
export function addressesOf(r: CniResult): string[] {
  return (r.ips ?? []).map((ip) => ip.address.split('/')[0] as string);
}

function isLoopback(ns: string): boolean {
  return ns.startsWith('127.') || ns === '::1';
}

/** resolv.conf for the namespace: the network's DNS setting, or the host's resolvers without loopback
 * ones (they cannot answer from another namespace); systemd-resolved's upstream list when the host
 * only has its stub. */
export function resolvConf(r: CniResult, read: (p: string) => string = (p) => readFileSync(p, 'utf8')): string {
  if (r.dns?.nameservers?.length) {
    return [...r.dns.nameservers.map((n) => `nameserver ${n}`), ...(r.dns.search?.length ? [`search ${r.dns.search.join(' ')}`] : []),
      ...(r.dns.options?.length ? [`options ${r.dns.options.join(' ')}`] : [])].join('\n') + '\n';
  }
  let text = '';
  try { text = read('/etc/resolv.conf'); } catch { /* none */ }
  const servers = (t: string) => t.split('\n').filter((l) => /^\s*nameserver\s+\S+/.test(l)).map((l) => l.trim().split(/\s+/)[1] as string);
  if (servers(text).length && servers(text).every(isLoopback)) {
    try { text = read('/run/systemd/resolve/resolv.conf'); } catch { /* keep */ }
  }
  return text.split('\n').filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    return !m || !isLoopback(m[1] as string);
  }).join('\n').replace(/\n*$/, '\n');
}

/** /etc/hosts for the namespace: localhost, and the name given with each address of the result. */
export function hostsFile(r: CniResult, name = hostname()): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const a of addressesOf(r)) lines.push(`${a}\t${name}`);
  return `${lines.join('\n')}\n`;
}
