// hako unshare: run a command in new namespaces, with util-linux unshare's options and meanings.
import { statSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { checkOptions, object, UNSHARE_OPTIONS } from '../options.js';
import { ops } from '../helper/ops.js';
import { MS, mountFlagNames } from '../linux/mount.js';
import { CAP_SYS_ADMIN, hasCap } from '../linux/proc.js';
import { flagNames, namespaceKind, NAMESPACES, type NamespaceType } from '../linux/namespaces.js';
import { checkMap, type IdMapPlan, type IdRange, subordinateRange, writeIdMaps } from './idmap.js';
import { launch, launchSpawn, type LaunchOptions, type LaunchResult } from './launch.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import type { HakoProcess } from '../helper/handle.js';

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

/** Builds the plan for unshare: pure, so it can be tested and explained without running it. */
export function unsharePlan(o: UnshareOptions = {}): { builder: PlanBuilder; maps?: IdMapPlan } {
  checkOptions('unshare', o, object(UNSHARE_OPTIONS));
  const set = selectedNamespaces(o);
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
  const propagation = o.propagation ?? 'private';
  if (set.has('mnt') && propagation !== 'unchanged') {
    const flags = MS.REC | PROPAGATION[propagation];
    b.init(ops.mount({ target: '/', flags }),
      `mount(none, "/", ${mountFlagNames(flags)}): make every mount ${propagation}, so mounts made here ${propagation === 'shared' ? 'DO propagate to the host' : 'never reach the host'}`);
  }
  if (o.hostname !== undefined) b.init(ops.hostname({ name: o.hostname }), `sethostname(${JSON.stringify(o.hostname)})`);
  if (o.domainname !== undefined) b.init(ops.domainname({ name: o.domainname }), `setdomainname(${JSON.stringify(o.domainname)})`);
  if (set.has('net')) b.init(ops.linkUp({ name: 'lo' }), 'bring up lo, the only link in the new network namespace');
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

/** Runs a command in new namespaces; resolves with its exit once it has ended. */
export async function unshare(options: UnshareOptions = {}): Promise<LaunchResult> {
  const { builder, maps } = unsharePlan(options);
  return launch('unshare', builder, options, idmapWriter(maps));
}

/** unshare as a live handle (as child_process.spawn): pid, stdio streams, kill(), result. */
export function unshareSpawn(options: UnshareOptions = {}): HakoProcess<LaunchResult> {
  let maps: IdMapPlan | undefined;
  return launchSpawn('unshare', () => {
    const plan = unsharePlan(options);
    maps = plan.maps;
    return plan.builder;
  }, options, (pid, explain) => idmapWriter(maps)?.(pid, explain));
}

function idmapWriter(maps: IdMapPlan | undefined): ((pid: number, explain?: (line: string) => void) => void) | undefined {
  return maps ? (pid, explain) => {
    writeIdMaps(pid, maps, explain ? (s) => explain(`[hako] ${s.what}: ${s.ok ? 'ok' : `failed (${s.error})`}`) : undefined);
  } : undefined;
}
