// config.json → the helper's plan for a container's init (create/run) or an exec'd process.
// Pure: every decision about what the helper does is made here, and it can be read back as text.
import { HakoError } from '../errors.js';
import { MessageType, OpKind, Tag, type Field } from '../helper/protocol.js';
import { MS, mountFlagNames } from '../linux/mount.js';
import { NAMESPACES, namespaceKind, type NamespaceType } from '../linux/namespaces.js';
import type { Hook, LinuxNamespaceType, Seccomp, Spec } from '../config/types.js';
import type { CgroupJoinPlan } from '../cgroups/manager.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { addDevices } from './devices.js';
import { AT_RECURSIVE, planMountOptions } from './mountopts.js';
import { addMount } from './mounts.js';
import { checkSysctl, refuseUnsupported } from './checks.js';
import { addProcessOps } from './process.js';
import { SLOT, str } from './fields.js';
import { seccompOp } from './seccomp.js';
import type { ConsoleChoice, CreatePlanInput, ProcessPlanInput } from './input.js';

export type { BindSource, ConsoleChoice, CreatePlanInput, HostFacts, ProcessPlanInput } from './input.js';
export { bindSources } from './mounts.js';


const NS_TYPE: Record<LinuxNamespaceType, NamespaceType> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

export interface ContainerNamespaces {
  /** Namespaces created for the container. */
  created: Set<NamespaceType>;
  /** Namespaces joined by path. */
  joined: Array<{ type: NamespaceType; path: string }>;
}

export function containerNamespaces(spec: Spec): ContainerNamespaces {
  const created = new Set<NamespaceType>();
  const joined: Array<{ type: NamespaceType; path: string }> = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    const type = NS_TYPE[ns.type];
    if (ns.path) joined.push({ type, path: ns.path });
    else created.add(type);
  }
  return { created, joined };
}


function hookFields(h: Hook, state: string): Field[] {
  return [
    str(Tag.PATH, h.path), ...(h.args ?? [h.path]).map((a) => str(Tag.ARG, a)),
    ...(h.env ?? []).map((e) => str(Tag.ENV, e)), str(Tag.DATA, state), { tag: Tag.VALUE, value: h.timeout ?? 0 },
  ];
}


/** The cgroup join: H0 forks H1 into the v2 directory; H1 writes "0" to the v1 tasks files. */
function joinCgroup(b: PlanBuilder, join: CgroupJoinPlan | undefined): void {
  if (!join) return;
  if (join.v2) b.host(OpKind.OPEN_DIR, [{ tag: Tag.SLOT, value: SLOT.CGROUP }, str(Tag.PATH, join.v2)], `open ${join.v2}: H1 is forked into it`);
  for (const tasks of join.tasks) b.ns(OpKind.WRITE, [str(Tag.PATH, tasks), str(Tag.DATA, '0')], `join ${tasks.replace(/\/tasks$/, '')}`);
}

function hostOps(b: PlanBuilder, fifo: string | undefined, console: ConsoleChoice | undefined, detach: boolean): void {
  if (fifo) b.host(OpKind.MKFIFO, [str(Tag.PATH, fifo), { tag: Tag.SLOT, value: SLOT.FIFO }], `mkfifo ${fifo}`);
  if (console?.socket) b.host(OpKind.CONNECT, [str(Tag.PATH, console.socket), { tag: Tag.SLOT, value: SLOT.CONSOLE }], `connect to the console socket ${console.socket}`);
  else if (console?.relay) b.host(OpKind.SOCKETPAIR, [{ tag: Tag.SLOT, value: SLOT.CONSOLE }], 'a socket pair to receive the pty master');
  if (detach) b.host(OpKind.PIPE, [{ tag: Tag.SLOT, value: SLOT.DETACH }], 'a pipe on which the container says it goes on alone');
}

/** The plan for a container's init: namespaces, rootfs, /dev, hooks, pivot, process. */
export function createPlan(input: CreatePlanInput): PlanBuilder {
  const { spec } = input;
  const b = new PlanBuilder();
  const ns = containerNamespaces(spec);
  const process = spec.process;
  if (!process) throw new HakoError('hako: config.json: process: a container needs a process to run', { code: 'bad-config' });
  for (const field of ['hostname', 'domainname'] as const) {
    if (spec[field] && !ns.created.has('uts')) {
      throw new HakoError(`hako: config.json: ${field}: setting it needs a new uts namespace (linux.namespaces), or it would change the host's`, { code: 'bad-config' });
    }
  }
  refuseUnsupported(spec, input.host);
  if (!ns.created.has('mnt')) throw new HakoError('hako: config.json: linux.namespaces: hako needs a new mount namespace for the container (add {"type": "mount"})', { code: 'bad-config' });
  const seccomp = spec.linux?.seccomp ? seccompOp(spec.linux.seccomp) : undefined;
  // the init reopens exec.fifo through /proc/self/fd after pivot_root (as runc's does): without
  // a procfs on /proc that path would be the image's, which could start the process before `start`
  if (input.fifo && !(spec.mounts ?? []).some((m) => m.type === 'proc' && m.destination.replace(/\/+$/, '') === '/proc')) {
    throw new HakoError('hako: config.json: mounts: create needs a proc mount on /proc (the init waits for `start` through /proc/self/fd); use `hako run`, or add {"destination": "/proc", "type": "proc", "source": "proc"}', { code: 'bad-config' });
  }
  hostOps(b, input.fifo, input.console, input.detach);
  if (input.deviceProgram && input.cgroup?.v2) {
    b.host(OpKind.BPF_DEVICES, [str(Tag.PATH, input.cgroup.v2), { tag: Tag.DATA, value: input.deviceProgram }],
      `attach the device filter (${input.deviceProgram.length / 8} eBPF instructions) to ${input.cgroup.v2}`);
  }
  joinCgroup(b, input.cgroup);

  // H1: join (user first), create user (maps), create the rest, time offsets
  const joinOrder = NAMESPACES.map((k) => k.type);
  for (const j of [...ns.joined].sort((a, c) => joinOrder.indexOf(a.type) - joinOrder.indexOf(c.type))) {
    const kind = namespaceKind(j.type);
    b.ns(OpKind.SETNS, [{ tag: Tag.NSTYPE, value: kind.flag }, str(Tag.PATH, j.path)], `setns(${j.path}, ${kind.flagName})`);
  }
  const userNs = ns.created.has('user');
  if (userNs) {
    b.ns(OpKind.UNSHARE, [{ tag: Tag.FLAGS, value: namespaceKind('user').flag }], 'unshare(CLONE_NEWUSER)');
    b.ns(OpKind.IDMAP, [], 'wait for hako to write the uid and gid maps');
    // become the namespace's root: the helper's host ids need not be mapped in it
    b.ns(OpKind.SETGROUPS, [], 'setgroups([])');
    b.ns(OpKind.SETGID, [{ tag: Tag.ID, value: 0 }], 'setresgid(0) in the new user namespace');
    b.ns(OpKind.SETUID, [{ tag: Tag.ID, value: 0 }], 'setresuid(0) in the new user namespace');
  }
  const rest = NAMESPACES.filter((k) => k.type !== 'user' && ns.created.has(k.type));
  const mask = rest.reduce((m, k) => m | k.flag, 0);
  if (mask) b.ns(OpKind.UNSHARE, [{ tag: Tag.FLAGS, value: mask }], `unshare(${rest.map((k) => k.flagName).join('|')})`);
  const offsets = spec.linux?.timeOffsets;
  if (offsets && Object.keys(offsets).length) {
    if (!ns.created.has('time')) throw new HakoError('hako: config.json: linux.timeOffsets: needs a new time namespace', { code: 'bad-config' });
    const text = Object.entries(offsets).map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`).join('');
    b.ns(OpKind.WRITE, [str(Tag.PATH, '/proc/self/timens_offsets'), str(Tag.DATA, text)], 'write the time namespace offsets');
  }

  // H2: the rootfs, prepared by fd
  const root: Field = { tag: Tag.ROOT, value: SLOT.ROOT };
  const rootPropagation = { private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC };
  const wanted = spec.linux?.rootfsPropagation;
  // slave (or what the config asks) first, so nothing done here propagates back to the host
  const first = wanted === 'shared' || wanted === 'rshared' ? MS.SLAVE | MS.REC : (wanted ? rootPropagation[wanted] : MS.SLAVE | MS.REC);
  b.init(OpKind.MOUNT, [str(Tag.TARGET, '/'), { tag: Tag.FLAGS, value: first }], `mount(none, "/", ${mountFlagNames(first)}): nothing mounted here reaches the host`);
  b.init(OpKind.MOUNT, [str(Tag.SOURCE, input.rootfs), str(Tag.TARGET, input.rootfs), { tag: Tag.FLAGS, value: MS.BIND | MS.REC }], `bind ${input.rootfs} onto itself (pivot_root needs a mount point)`);
  b.init(OpKind.OPEN_DIR, [{ tag: Tag.SLOT, value: SLOT.ROOT }, str(Tag.PATH, input.rootfs)], `open the rootfs ${input.rootfs}`);
  // the host's /dev/null, opened in this mount namespace (a bind source must be in it), for masks
  if (spec.linux?.maskedPaths?.length) b.init(OpKind.OPEN_DIR, [{ tag: Tag.SLOT, value: SLOT.NULL }, str(Tag.PATH, '/dev/null'), { tag: Tag.TYPE, value: 1 }], "open the host's /dev/null for masking");
  const mounts = spec.mounts ?? [];
  mounts.forEach((m, i) => addMount(b, m, i, input));
  const dev = mounts.find((m) => m.destination === '/dev');
  const devIsBind = dev && planMountOptions(dev.options, dev.type, 'mounts').bind;
  if (dev && !devIsBind) {
    // /dev/core only where the kernel has /proc/kcore (as runc)
    addDevices(b, SLOT.ROOT, spec.linux?.devices ?? [], userNs, mounts.some((m) => m.destination === '/dev/pts'), mounts.some((m) => m.destination === '/proc') && input.host.kcore);
  }
  const hooks = spec.hooks ?? {};
  if ((hooks.prestart?.length ?? 0) + (hooks.createRuntime?.length ?? 0) + (hooks.createContainer?.length ?? 0) > 0) {
    b.init(OpKind.SYNC, [{ tag: Tag.TYPE, value: MessageType.HOOKS }], 'ask hako to run the prestart and createRuntime hooks (and for the state the createContainer hooks get)');
  }
  for (const h of hooks.createContainer ?? []) b.init(OpKind.HOOK, hookFields(h, input.hookState), `createContainer hook ${h.path}`);
  // sysctls (written under the container's /proc, from the container's namespaces: never to a
  // file of the image), then read-only paths (which make /proc/sys read-only), then masked paths,
  // as runc: a mask under a read-only path stays. All by fd in the root, before pivot_root.
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    checkSysctl(key, ns.created);
    const path = `/proc/sys/${key.replace(/\./g, '/')}`;
    b.init(OpKind.WRITE, [root, str(Tag.PATH, path), str(Tag.DATA, value), { tag: Tag.PROCFS, value: 1 }], `sysctl ${key}=${value}`);
  }
  for (const path of spec.linux?.readonlyPaths ?? []) {
    // the container's own path (resolved in the root, as the target is) onto itself; missing: skipped
    const t = str(Tag.TARGET, path);
    b.init(OpKind.MOUNT_IN_ROOT, [root, str(Tag.SOURCE, path), t, { tag: Tag.SOURCE_IN_ROOT, value: 1 }, { tag: Tag.FLAGS, value: MS.BIND | MS.REC }, { tag: Tag.OPTIONAL, value: 1 }], `bind ${path} onto itself`);
    b.init(OpKind.SETATTR, [root, t, { tag: Tag.SET, value: 1 }, { tag: Tag.FLAGS, value: AT_RECURSIVE }, { tag: Tag.OPTIONAL, value: 1 }], `make ${path} read-only`);
  }
  for (const path of spec.linux?.maskedPaths ?? []) b.init(OpKind.MASK, [root, str(Tag.PATH, path), { tag: Tag.SLOT, value: SLOT.NULL }], `mask ${path}`);
  // a missing working directory is made, as runc does
  const cwd = process.cwd || '/';
  if (cwd !== '/') b.init(OpKind.MKPATH, [root, str(Tag.PATH, cwd), { tag: Tag.TYPE, value: 1 }], `create the working directory ${cwd}`);
  if (input.noPivot) b.init(OpKind.MOVE_ROOT, [root], 'move the rootfs onto / and chroot (--no-pivot)');
  else b.init(OpKind.PIVOT, [root], 'pivot_root into the rootfs and detach the old root');

  // inside the root now
  if (spec.hostname) b.init(OpKind.HOSTNAME, [str(Tag.NAME, spec.hostname)], `sethostname(${JSON.stringify(spec.hostname)})`);
  if (spec.domainname) b.init(OpKind.DOMAINNAME, [str(Tag.NAME, spec.domainname)], `setdomainname(${JSON.stringify(spec.domainname)})`);
  if (wanted === 'shared' || wanted === 'rshared') {
    b.init(OpKind.MOUNT, [str(Tag.TARGET, '/'), { tag: Tag.FLAGS, value: rootPropagation[wanted] }], `rootfs propagation ${wanted}`);
  }
  const personality = spec.linux?.personality;
  if (personality) {
    if (personality.flags?.length) throw new HakoError('hako: config.json: linux.personality.flags: personality flags are not supported yet', { code: 'unsupported' });
    const value = personality.domain === 'LINUX32' ? 0x0008 : 0x0000;
    b.init(OpKind.PERSONALITY, [{ tag: Tag.VALUE, value }], `personality(${personality.domain})`);
  }
  if (input.keyring) b.init(OpKind.KEYRING, [str(Tag.NAME, input.keyring)], `join a new session keyring ${input.keyring}`);
  if (spec.root.readonly) b.init(OpKind.SETATTR, [root, str(Tag.TARGET, '/'), { tag: Tag.SET, value: 1 }], 'make the root read-only');
  addProcessOps(b, input, 'process', seccomp, () => {
    b.init(OpKind.SYNC, [{ tag: Tag.TYPE, value: MessageType.READY }], 'tell hako the container is created');
    if (input.detach) b.init(OpKind.DETACH, [{ tag: Tag.SLOT, value: SLOT.DETACH }], 'go on without the runtime');
    if (input.fifo) b.init(OpKind.FIFO_WAIT, [{ tag: Tag.SLOT, value: SLOT.FIFO }], 'wait for `start` on exec.fifo');
    for (const h of hooks.startContainer ?? []) b.init(OpKind.HOOK, hookFields(h, input.hookState), `startContainer hook ${h.path}`);
  });
  return b;
}

export interface ExecPlanInput extends ProcessPlanInput {
  /** The container's init pid and the namespaces to join through it. */
  pid: number;
  namespaces: NamespaceType[];
  detach: boolean;
  seccomp?: Seccomp;
}

/** The plan for `exec`: join the container's namespaces through its init, then become the process. */
export function execPlan(input: ExecPlanInput): PlanBuilder {
  const b = new PlanBuilder();
  const seccomp = input.seccomp ? seccompOp(input.seccomp) : undefined;
  hostOps(b, undefined, input.console, input.detach);
  joinCgroup(b, input.cgroup);
  const mask = input.namespaces.reduce((m, t) => m | namespaceKind(t).flag, 0);
  b.ns(OpKind.SETNS_PID, [{ tag: Tag.VALUE, value: input.pid }, { tag: Tag.FLAGS, value: mask }], `setns(pidfd of ${input.pid}, ${input.namespaces.join(', ')})`);
  addProcessOps(b, input, 'process', seccomp, () => {
    b.init(OpKind.SYNC, [{ tag: Tag.TYPE, value: MessageType.READY }], 'tell hako the process is ready');
    if (input.detach) b.init(OpKind.DETACH, [{ tag: Tag.SLOT, value: SLOT.DETACH }], 'go on without the runtime');
  });
  return b;
}
