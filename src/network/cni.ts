// A CNI 1.0 client (https://www.cni.dev/docs/spec/): network configuration lists, and the plugins
// run as the spec says: the CNI_* environment, the plugin's config on stdin, its result on stdout.
// ADD runs the plugins in order, each given the previous one's result (prevResult); CHECK the
// same with the final result; DEL in reverse order. Asynchronous: a plugin is a child process.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { HakoError } from '../errors.js';

export const CNI_VERSION = '1.0.0';
/** Where Debian's containernetworking-plugins installs the plugins. */
export const DEFAULT_CNI_PATH = ['/usr/lib/cni', '/opt/cni/bin'];
/** Where plugins are looked for: $CNI_PATH (as cnitool and podman take it), else DEFAULT_CNI_PATH. */
export function cniPathFromEnv(): string[] {
  const p = process.env.CNI_PATH?.split(':').filter(Boolean);
  return p?.length ? p : DEFAULT_CNI_PATH;
}

/** CNI versions whose results hako reads (0.4.0 and 1.0.0 results have the same shape). */
const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

export type PluginConf = Record<string, unknown> & { type: string };

export interface ConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
  /** Where it was read from (absent for the built-in network). */
  file?: string;
}

export interface CniInterface { name: string; mac?: string; sandbox?: string }
export interface CniIP { address: string; gateway?: string; interface?: number }
export interface CniRoute { dst: string; gw?: string }
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIP[];
  routes?: CniRoute[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** A port published to the host, as the portmap plugin takes it (capability portMappings). */
export interface PortMapping { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp'; hostIP?: string }

export interface RuntimeConf {
  containerId: string;
  /** A path to the network namespace (CNI_NETNS). */
  netns: string;
  ifName: string;
  /** Given to the plugins that declare the capability (portMappings). */
  capabilityArgs?: { portMappings?: PortMapping[] };
  /** Where the plugins are (CNI_PATH); default $CNI_PATH or DEFAULT_CNI_PATH. */
  cniPath?: string[];
  /** host-local's dataDir when the config names none: hako's own IPAM state. */
  ipamDataDir?: string;
  /** Each plugin run, for --explain. */
  explain?: (line: string) => void;
  /** Milliseconds a plugin may take (default 20 s). */
  timeoutMs?: number;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function bad(file: string, field: string, problem: string): HakoError {
  return new HakoError(`hako: ${file}: ${field}: ${problem}`, { code: 'bad-config' });
}

/** Checks a conflist's JSON (text or already parsed); errors name the file and the field. */
export function parseConfList(text: string, file: string): ConfList {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new HakoError(`hako: ${file}: not JSON (${(e as Error).message})`, { code: 'bad-config' });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(file, '(top level)', 'must be an object');
  const o = v as Record<string, unknown>;
  if (typeof o.cniVersion !== 'string') throw bad(file, 'cniVersion', 'must be a string');
  if (!VERSIONS.includes(o.cniVersion)) throw bad(file, 'cniVersion', `'${o.cniVersion}' is not one hako reads (${VERSIONS.join(', ')})`);
  if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) throw bad(file, 'name', 'must be a network name (letters, digits, _ . -; not starting with a symbol)');
  if (o.disableCheck !== undefined && typeof o.disableCheck !== 'boolean') throw bad(file, 'disableCheck', 'must be true or false');
  if (!Array.isArray(o.plugins) || o.plugins.length === 0) throw bad(file, 'plugins', 'must be a non-empty array (a single-plugin .conf is not a conflist)');
  o.plugins.forEach((p: unknown, i: number) => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw bad(file, `plugins[${i}]`, 'must be an object');
    const t = (p as Record<string, unknown>).type;
    if (typeof t !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(t)) throw bad(file, `plugins[${i}].type`, 'must be a plugin name');
    const ipam = (p as Record<string, unknown>).ipam;
    if (ipam !== undefined && (typeof ipam !== 'object' || ipam === null || typeof (ipam as Record<string, unknown>).type !== 'string')) {
      throw bad(file, `plugins[${i}].ipam.type`, 'must be a plugin name');
    }
  });
  const list: ConfList = { cniVersion: o.cniVersion, name: o.name, plugins: o.plugins as PluginConf[], file };
  if (o.disableCheck !== undefined) list.disableCheck = o.disableCheck as boolean;
  return list;
}

/** The plugin's executable, or one line naming the package that has it. */
export async function findPlugin(type: string, cniPath: string[] = cniPathFromEnv()): Promise<string> {
  for (const dir of cniPath) {
    const p = `${dir}/${type}`;
    try {
      await access(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  throw new HakoError(`hako: CNI plugin '${type}' not found in ${cniPath.join(':')} (apt-get install containernetworking-plugins)`, { code: 'not-found' });
}

export class CniError extends HakoError {
  constructor(message: string, readonly cniCode?: number) {
    super(message, { code: 'network' });
  }
}

/** Runs one plugin: resolves with its parsed stdout (undefined when it printed nothing). */
export async function execPlugin(command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION', conf: Record<string, unknown> & { type: string },
  rt: RuntimeConf, network: string): Promise<unknown> {
  const cniPath = rt.cniPath ?? cniPathFromEnv();
  const exe = await findPlugin(conf.type, cniPath);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command, CNI_CONTAINERID: rt.containerId, CNI_NETNS: rt.netns, CNI_IFNAME: rt.ifName,
    CNI_PATH: cniPath.join(':'),
  };
  const input = JSON.stringify(conf);
  const timeoutMs = rt.timeoutMs ?? 20_000;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(exe, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => { clearTimeout(timer); reject(new HakoError(`hako: network ${network}: CNI plugin ${conf.type}: ${e.message}`, { code: 'network' })); });
    child.on('close', (c, sig) => {
      clearTimeout(timer);
      if (sig === 'SIGKILL') reject(new HakoError(`hako: network ${network}: CNI plugin ${conf.type} ${command} took more than ${timeoutMs} ms`, { code: 'timeout' }));
      else resolve({ code: c, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => { /* the plugin may exit before reading */ });
    child.stdin.end(input);
  });
  let parsed: unknown;
  if (stdout.trim()) {
    try { parsed = JSON.parse(stdout); } catch { parsed = undefined; }
  }
  if (code !== 0) {
    const e = parsed as { code?: number; msg?: string; details?: string } | undefined;
    const why = e?.msg ? `${e.msg}${e.details ? `: ${e.details}` : ''}` : (stderr.trim() || stdout.trim() || `exit status ${code}`);
    throw new CniError(`hako: network ${network}: CNI plugin ${conf.type} ${command} failed: ${why.split('\n')[0]}`, e?.code);
  }
  if (command !== 'VERSION' && command !== 'ADD') return undefined;
  if (stdout.trim() && parsed === undefined) throw new CniError(`hako: network ${network}: CNI plugin ${conf.type} ${command}: its output is not JSON`);
  return parsed;
}

/** A plugin's config as the spec builds it from the list: name, cniVersion, runtimeConfig, prevResult. */
function pluginConf(list: ConfList, plugin: PluginConf, rt: RuntimeConf, prevResult: CniResult | undefined): PluginConf {
  const conf: PluginConf = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const caps = plugin.capabilities as Record<string, boolean> | undefined;
  if (caps?.portMappings && rt.capabilityArgs?.portMappings?.length) conf.runtimeConfig = { portMappings: rt.capabilityArgs.portMappings };
  const ipam = plugin.ipam as Record<string, unknown> | undefined;
  if (ipam?.type === 'host-local' && ipam.dataDir === undefined && rt.ipamDataDir) conf.ipam = { ...ipam, dataDir: rt.ipamDataDir };
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

function checkResult(v: unknown, list: ConfList, type: string): CniResult {
  if (typeof v !== 'object' || v === null) throw new CniError(`hako: network ${list.name}: CNI plugin ${type} ADD gave no result`);
  const r = v as CniResult;
  if (r.ips !== undefined && !Array.isArray(r.ips)) throw new CniError(`hako: network ${list.name}: CNI plugin ${type}: result's ips is not an array`);
  if (r.interfaces !== undefined && !Array.isArray(r.interfaces)) throw new CniError(`hako: network ${list.name}: CNI plugin ${type}: result's interfaces is not an array`);
  return r;
}

/** ADD: every plugin in order, each given the previous result. On a failure, what was added is
 * deleted again (DEL of the whole list, as libcni's callers do) and the error is thrown. */
export async function addNetworkList(list: ConfList, rt: RuntimeConf): Promise<CniResult> {
  let prev: CniResult | undefined;
  try {
    for (const plugin of list.plugins) {
      const out = await execPlugin('ADD', pluginConf(list, plugin, rt, prev), rt, list.name);
      prev = checkResult(out, list, plugin.type);
      rt.explain?.(`[hako] network ${list.name}: CNI ${plugin.type} ADD: ${describeResult(prev, plugin.type)}`);
    }
  } catch (e) {
    await delNetworkList(list, rt, prev).catch(() => { /* the ADD error is the one to report */ });
    throw e;
  }
  return prev ?? { cniVersion: list.cniVersion };
}

/** CHECK: every plugin in order, with the ADD result (skipped when the list disables it). */
export async function checkNetworkList(list: ConfList, rt: RuntimeConf, result: CniResult): Promise<void> {
  if (list.disableCheck) return;
  const v6 = (result.ips ?? []).some((ip) => ip.address.includes(':'));
  for (const plugin of list.plugins) {
    try {
      await execPlugin('CHECK', pluginConf(list, plugin, rt, result), rt, list.name);
    } catch (e) {
      // portmap 1.1.1 (Debian 12) checks its IPv6 DNAT chain even for an IPv4-only result, and
      // always fails there: that one failure says nothing about the attachment
      if (plugin.type === 'portmap' && !v6 && /could not check ipv6 dnat/.test((e as Error).message)) {
        rt.explain?.(`[hako] network ${list.name}: CNI portmap CHECK: its IPv6 check fails without IPv6 (a bug of portmap 1.1.1): ignored`);
        continue;
      }
      throw e;
    }
  }
}

/** DEL: every plugin in reverse order. All are run even if one fails; the first error is thrown. */
export async function delNetworkList(list: ConfList, rt: RuntimeConf, result?: CniResult): Promise<void> {
  let first: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin('DEL', pluginConf(list, plugin, rt, result), rt, list.name);
      rt.explain?.(`[hako] network ${list.name}: CNI ${plugin.type} DEL: ok`);
    } catch (e) {
      first ??= e;
      rt.explain?.(`[hako] network ${list.name}: CNI ${plugin.type} DEL: ${(e as Error).message}`);
    }
  }
  if (first) throw first;
}

function describeResult(r: CniResult, type: string): string {
  const parts: string[] = [];
  if (type === 'portmap') return 'published ports (iptables DNAT rules)';
  if (type === 'firewall') return 'forwarding allowed for the address (iptables)';
  if (type === 'loopback') return 'lo up';
  if (type === 'tuning') return 'link settings';
  for (const i of r.interfaces ?? []) parts.push(`${i.sandbox ? 'in the namespace' : 'on the host'}: ${i.name}${i.mac ? ` (${i.mac})` : ''}`);
  for (const ip of r.ips ?? []) parts.push(`address ${ip.address}${ip.gateway ? ` gateway ${ip.gateway}` : ''}`);
  for (const rt of r.routes ?? []) parts.push(`route ${rt.dst}${rt.gw ? ` via ${rt.gw}` : ''}`);
  return parts.join('; ') || 'ok';
}
