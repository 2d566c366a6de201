// hako unshare: run a command in new namespaces, with util-linux unshare's options and meanings.
import { statSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { checkOptions, object, UNSHARE_OPTIONS } from '../options.js';
import { ops } from '../helper/ops.js';
import { MS, mountFlagNames } from '../linux/mount.js';
import { CAP_SYS_ADMIN, hasCap } from '../linux/proc.js';
import { flagNames, namespaceKind, NAMESPACES, type NamespaceType } from '../linux/namespaces.js';
import { checkMap, type IdMapPlan, type IdRange, subordinateRange, writeIdMaps } from './idmap.js';
import { launch, launchSpawn, type LaunchOptions, type LaunchResult, type Pauses } from './launch.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import type { HakoProcess } from '../helper/handle.js';
import { NetworkSetup, type NetworkStep } from '../network/unshare.js';

export type Propagation = 'private' | 'shared' | 'slave' | 'unchanged';

export interface UnshareOptions extends LaunchOptions {
  /** Namespaces to create. */
  namespaces?: NamespaceType[];
  /** Create all eight. */
  all?: boolean;
  /** Mount a new proc (true: at /proc); implies a mount namespace. */
  mountProc?: boolean | string;
  /** Mount propagation of / in the new mount namespace (default private). */
  propagation?: Propagation;
  /** Set this hostname in the new uts namespace (implies one). */
  hostname?: string;
  /** Set this NIS domain name in the new uts namespace (implies one). */
  domainname?: string;
  /** -r: map your uid and gid to root (0) inside. */
  mapRootUser?: boolean;
  /** Map your uid and gid to themselves inside. */
  mapCurrentUser?: boolean;
  /** Map your uid to this uid inside. */
  mapUser?: number;
  /** Map your gid to this gid inside. */
  mapGroup?: number;
  /** uid ranges to map (newuidmap when unprivileged). */
  mapUsers?: IdRange[];
  /** gid ranges to map (newgidmap when unprivileged). */
  mapGroups?: IdRange[];
  /** Map your first /etc/subuid and /etc/subgid ranges. */
  mapAuto?: boolean;
  /** Write /proc/PID/setgroups: 'deny' is needed for some maps when unprivileged. */
  setgroups?: 'allow' | 'deny';
  /** Seconds added to CLOCK_MONOTONIC inside (implies a time namespace). */
  monotonic?: number;
  /** Seconds added to CLOCK_BOOTTIME inside (implies a time namespace). */
  boottime?: number;
  /** chroot into this directory. */
  root?: string;
  /** Working directory inside (after --root). */
  wd?: string;
  /** The command and its arguments (default: $SHELL, or /bin/sh). */
  command?: string[];
  /** none (a new network namespace, lo up), host (the host's), ns:PATH (join it) or a CNI network's
   * name (a new namespace attached to it: `bridge` is the built-in one). */
  network?: string;
  /** Ports published with a CNI network: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]. */
  publish?: string[];
  /** The network config directory (default /etc/hako/net.d for root; $HAKO_NET_DIR overrides). */
  netDir?: string;
}

const PROPAGATION: Record<Exclude<Propagation, 'unchanged'>, number> = {
  private: MS.PRIVATE, shared: MS.SHARED, slave: MS.SLAVE,
};

function selectedNamespaces(o: UnshareOptions): Set<NamespaceType> {
  const set = new Set<NamespaceType>(o.all ? NAMESPACES.map((k) => k.type) : o.namespaces ?? []);
  if (o.mountProc) set.add('mnt');
  if (o.hostname !== undefined || o.domainname !== undefined) set.add('uts');
  if (o.monotonic !== undefined || o.boottime !== undefined) set.add('time');
  if (o.mapRootUser || o.mapCurrentUser || o.mapUser !== undefined || o.mapGroup !== undefined ||
      o.mapUsers?.length || o.mapGroups?.length || o.mapAuto) set.add('user');
  if (o.network === 'none' || o.network === 'slirp4netns' || o.network === 'pasta') set.add('net');
  return set;
}

/** The uid and gid maps the options ask for. */
export function idMapPlan(o: UnshareOptions): IdMapPlan {
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  const uid: IdRange[] = [];
  const gid: IdRange[] = [];
  const selfUid = o.mapRootUser ? 0 : o.mapCurrentUser ? euid : o.mapUser;
  const selfGid = o.mapRootUser ? 0 : o.mapCurrentUser ? egid : o.mapGroup;
  if (selfUid !== undefined) uid.push({ inside: selfUid, outside: euid, count: 1 });
  if (selfGid !== undefined) gid.push({ inside: selfGid, outside: egid, count: 1 });
  uid.push(...(o.mapUsers ?? []));
  gid.push(...(o.mapGroups ?? []));
  if (o.mapAuto) {
    // the subordinate range starts at 0, or at 1 when 0 already maps your own id (-r)
    const su = subordinateRange('uid');
    const sg = subordinateRange('gid');
    uid.push({ inside: uid.some((r) => r.inside === 0) ? 1 : 0, outside: su.start, count: su.count });
    gid.push({ inside: gid.some((r) => r.inside === 0) ? 1 : 0, outside: sg.start, count: sg.count });
  }
  checkMap(uid, 'uid');
  checkMap(gid, 'gid');
  const plan: IdMapPlan = { uid, gid };
  if (o.setgroups) plan.setgroups = o.setgroups;
  else if (o.mapRootUser || o.mapGroup !== undefined || o.mapCurrentUser) plan.setgroups = 'deny';
  if (o.setgroups === 'allow' && (o.mapRootUser || o.mapGroup !== undefined)) {
    throw new HakoError('hako: unshare: --setgroups allow cannot go with --map-root-user or --map-group (the kernel needs setgroups denied for those maps)', { code: 'bad-option' });
  }
  return plan;
}

function checkName(value: string | undefined, what: string): void {
  if (value === undefined) return;
  if (value.length === 0 || Buffer.byteLength(value) > 64) throw new HakoError(`hako: unshare: --${what}: must be 1 to 64 bytes long`, { code: 'bad-option' });
}

function checkDir(path: string | undefined, what: string): void {
  if (path === undefined) return;
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new HakoError(`hako: unshare: --${what}: ${path} is not a directory`, { code: 'bad-option' });
}

/** --network slirp4netns or pasta without root and without any user namespace option: a new user
 * namespace with your id as root in it (-U -r), which the new network namespace needs. */
function rootlessNetwork(o: UnshareOptions): UnshareOptions {
  if ((o.network !== 'slirp4netns' && o.network !== 'pasta') || (process.geteuid?.() ?? 0) === 0) return o;
  if (selectedNamespaces(o).has('user')) return o;
  return { ...o, mapRootUser: true };
}

/** Builds the plan for unshare: pure, so it can be tested and explained without running it. */
export function unsharePlan(o: UnshareOptions = {}, net?: NetworkStep): { builder: PlanBuilder; maps?: IdMapPlan } {
  checkOptions('unshare', o, object(UNSHARE_OPTIONS));
  o = rootlessNetwork(o);
  const set = selectedNamespaces(o);
  net ??= NetworkSetup.from(o)?.step;
  if (net?.mode.kind === 'cni') {
    // a new network namespace, and a private mount namespace for its resolv.conf and hosts
    set.add('net');
    set.add('mnt');
    if (o.propagation === 'shared' || o.propagation === 'unchanged') {
      throw new HakoError(`hako: unshare: --network ${net.mode.name} bind-mounts /etc/resolv.conf and /etc/hosts in the new mount namespace: --propagation ${o.propagation} would show them to the host; use private or slave`, { code: 'bad-option' });
    }
  }
  if ((net?.mode.kind === 'host' || net?.mode.kind === 'ns') && set.has('net')) {
    throw new HakoError(`hako: unshare: --network ${o.network} and a new network namespace (-n/--net or --all) contradict each other`, { code: 'bad-option' });
  }
  checkName(o.hostname, 'hostname');
  checkName(o.domainname, 'domainname');
  checkDir(o.root, 'root');
  if (!set.has('user') && set.size > 0 && !hasCap(CAP_SYS_ADMIN)) {
    const names = [...set].map((t) => namespaceKind(t).option).join(", ");
    throw new HakoError(`hako: unshare: creating new namespaces (${names}) needs CAP_SYS_ADMIN, which you do not have: add -U/--user (and -r to be root inside), or run as root`, { code: 'permission' });
  }
  const b = new PlanBuilder();
  let maps: IdMapPlan | undefined;
  if (set.has('user')) {
    b.ns(ops.unshare({ flags: namespaceKind('user').flag }), `unshare(CLONE_NEWUSER): a new user namespace, in which this process has every capability`);
    maps = idMapPlan(o);
    if (maps.uid.length || maps.gid.length) b.ns(ops.idmap(), 'ask hako to write the uid and gid maps, and wait');
  }
  const rest = NAMESPACES.filter((k) => k.type !== 'user' && set.has(k.type));
  const restMask = rest.reduce((m, k) => m | k.flag, 0);
  if (restMask) {
    b.ns(ops.unshare({ flags: restMask }),
      `unshare(${flagNames(restMask)}): new ${rest.map((k) => `${k.type} (${k.isolates})`).join(', ')}`);
  }
  if (set.has('time') && (o.monotonic !== undefined || o.boottime !== undefined)) {
    const text = `${o.monotonic !== undefined ? `monotonic ${o.monotonic} 0\n` : ''}${o.boottime !== undefined ? `boottime ${o.boottime} 0\n` : ''}`;
    b.ns(ops.write({ path: '/proc/self/timens_offsets', data: text }),
      `write /proc/self/timens_offsets ${JSON.stringify(text.trimEnd())}: clock offsets for the new time namespace`);
  }
  if (net?.mode.kind === 'ns') {
    b.ns(ops.openDir({ slot: NET_SLOT, path: net.mode.path, anyFile: true }), `open ${net.mode.path}`);
    b.ns(ops.setns({ nstype: namespaceKind('net').flag, slot: NET_SLOT }), `setns(${net.mode.path}, CLONE_NEWNET): join that network namespace`);
  }
  if (net?.mode.kind === 'slirp4netns' || net?.mode.kind === 'pasta') {
    b.ns(ops.netWait(), `ask hako to start ${net.mode.kind} for the new network namespace (user-mode networking), and wait`);
  }
  if (net?.mode.kind === 'cni') {
    b.ns(ops.netWait(), `ask hako to attach the new network namespace to network ${net.mode.name} (CNI ADD), and wait`);
  }
  const propagation = o.propagation ?? 'private';
  if (set.has('mnt') && propagation !== 'unchanged') {
    const flags = MS.REC | PROPAGATION[propagation];
    b.init(ops.mount({ target: '/', flags }),
      `mount(none, "/", ${mountFlagNames(flags)}): make every mount ${propagation}, so mounts made here ${propagation === 'shared' ? 'DO propagate to the host' : 'never reach the host'}`);
  }
  if (o.hostname !== undefined) b.init(ops.hostname({ name: o.hostname }), `sethostname(${JSON.stringify(o.hostname)})`);
  if (o.domainname !== undefined) b.init(ops.domainname({ name: o.domainname }), `setdomainname(${JSON.stringify(o.domainname)})`);
  if (set.has('net')) b.init(ops.linkUp({ name: 'lo' }), 'bring up lo, the only link in the new network namespace');
  if (net?.mode.kind === 'cni') {
    for (const [file, source] of [['resolv.conf', net.resolvConf], ['hosts', net.hosts]] as const) {
      const target = `${o.root && o.root !== '/' ? o.root.replace(/\/+$/, '') : ''}/etc/${file}`;
      b.init(ops.mount({ source, target, flags: MS.BIND }),
        `mount(${JSON.stringify(source)}, ${JSON.stringify(target)}, MS_BIND): the network's ${file}, seen only in this mount namespace (the host's file is untouched)`);
    }
  }
  if (o.root !== undefined) b.init(ops.chroot({ path: o.root }), `chroot(${JSON.stringify(o.root)})`);
  if (o.wd !== undefined) b.init(ops.chdir({ path: o.wd }), `chdir(${JSON.stringify(o.wd)})`);
  if (o.mountProc) {
    const target = typeof o.mountProc === 'string' ? o.mountProc : '/proc';
    const flags = MS.NOSUID | MS.NODEV | MS.NOEXEC;
    b.init(ops.mount({ source: 'proc', target, fstype: 'proc', flags }),
      `mount("proc", ${JSON.stringify(target)}, "proc", ${mountFlagNames(flags)}): a proc that shows ${set.has('pid') ? 'only this PID namespace' : 'the PID namespace the command is in'}`);
  }
  const env = o.env ?? process.env;
  const command = o.command?.length ? o.command : [env.SHELL || '/bin/sh'];
  b.exec(command, env);
  return maps ? { builder: b, maps } : { builder: b };
}

const NET_SLOT = 5;

/** Runs a command in new namespaces; resolves with its exit once it has ended. */
export async function unshare(options: UnshareOptions = {}): Promise<LaunchResult> {
  checkOptions('unshare', options, object(UNSHARE_OPTIONS));
  options = rootlessNetwork(options);
  const net = NetworkSetup.from(options);
  try {
    await net?.prepare();
    const { builder, maps } = unsharePlan(options, net?.step);
    return await launch('unshare', builder, options, pauses(maps, net), net ? () => net.teardown() : undefined);
  } finally {
    await net?.teardown();
  }
}

/** unshare as a live handle (as child_process.spawn): pid, stdio streams, kill(), result. */
export function unshareSpawn(options: UnshareOptions = {}): HakoProcess<LaunchResult> {
  let maps: IdMapPlan | undefined;
  checkOptions('unshare', options, object(UNSHARE_OPTIONS));
  options = rootlessNetwork(options);
  const net = NetworkSetup.from(options);
  return launchSpawn('unshare', async () => {
    await net?.prepare();
    const plan = unsharePlan(options, net?.step);
    maps = plan.maps;
    return plan.builder;
  }, options, {
    onIdmap: (pid, explain) => pauses(maps, net).onIdmap?.(pid, explain),
    onNetwork: (pid, explain) => pauses(maps, net).onNetwork?.(pid, explain),
  }, net ? () => net.teardown() : undefined);
}

/** The plan's pauses: the id maps (IDMAP), the network's ADD (NET_WAIT). */
function pauses(maps: IdMapPlan | undefined, net: NetworkSetup | undefined): Pauses {
  const out: Pauses = {};
  const writer = idmapWriter(maps);
  if (writer) out.onIdmap = writer;
  if (net?.step.mode.kind === 'cni' || net?.step.mode.kind === 'slirp4netns' || net?.step.mode.kind === 'pasta') out.onNetwork = (pid, explain) => net.attachTo(pid, explain);
  return out;
}

function idmapWriter(maps: IdMapPlan | undefined): ((pid: number, explain?: (line: string) => void) => void) | undefined {
  return maps ? (pid, explain) => {
    writeIdMaps(pid, maps, explain ? (s) => explain(`[hako] ${s.what}: ${s.ok ? 'ok' : `failed (${s.error})`}`) : undefined);
  } : undefined;
}
