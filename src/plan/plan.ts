// config.json → the helper's plan for a container's init (create/run) or an exec'd process.
// Pure: every decision about what the helper does is made here, and it can be read back as text.
import { HakoError } from '../errors.js';
import { MessageType } from '../helper/protocol.js';
import { MKDIR_PARENTS, ops, PATH_KIND, PROCFS, type Op } from '../helper/ops.js';
import { AT_RECURSIVE, MOUNT_ATTR, MS, mountFlagNames } from '../linux/mount.js';
import { NAMESPACES, namespaceKind, type NamespaceType } from '../linux/namespaces.js';
import { PERSONALITY_FLAGS } from '../config/known.js';
import type { Hook, LinuxNamespaceType, Seccomp, Spec } from '../config/types.js';
import type { CgroupJoinPlan, CgroupSteps } from '../cgroups/manager.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { addDevices } from './devices.js';
import { planMountOptions } from './mountopts.js';
import { addMount } from './mounts.js';
import { checkSysctl, refuseUnsupported } from './checks.js';
import { addProcessOps } from './process.js';
import { SLOT } from './fields.js';
import { seccompNotifies, seccompOp } from './seccomp.js';
import { ALL_CPUS, cpuMask, cpuSet } from './sched.js';
import type { ConsoleChoice, CreatePlanInput, ProcessPlanInput } from './input.js';

export type { BindSource, ConsoleChoice, CreatePlanInput, HostFacts, ProcessPlanInput } from './input.js';
export { bindSources } from './mounts.js';
export { setHome } from './process.js';


const NS_TYPE: Record<LinuxNamespaceType, NamespaceType> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

export interface ContainerNamespaces {
  /** Namespaces created for the container. */
  created: Set<NamespaceType>;
  /** Namespaces joined by path (index: the entry's place in linux.namespaces). */
  joined: Array<{ type: NamespaceType; path: string; index: number }>;
}

export function containerNamespaces(spec: Spec): ContainerNamespaces {
  const created = new Set<NamespaceType>();
  const joined: ContainerNamespaces['joined'] = [];
  for (const [index, ns] of (spec.linux?.namespaces ?? []).entries()) {
    const type = NS_TYPE[ns.type];
    if (ns.path) joined.push({ type, path: ns.path, index });
    else created.add(type);
  }
  return { created, joined };
}


function hookOp(h: Hook, state: string): Op {
  return ops.hook({ path: h.path, args: h.args ?? [h.path], env: h.env ?? [], state, timeout: h.timeout ?? 0 });
}

/** personality(2) domains. */
const PER_LINUX = 0x0000;
const PER_LINUX32 = 0x0008;


/** The cgroup join: H0 forks H1 into the v2 directory; H1 writes "0" to the v1 tasks files. */
/** The container's cgroup made by H0 before anything else: its directories, then its files. */
function makeCgroup(b: PlanBuilder, steps: CgroupSteps | undefined): void {
  // FLAGS 1: a parent another process removes meanwhile (the shared /hako, once empty and idle) is
  // made again instead of failing with ENOENT
  for (const dir of steps?.mkdirs ?? []) b.host(ops.mkdir({ path: dir, mode: 0o755, flags: MKDIR_PARENTS }), `mkdir ${dir} (the container's cgroup)`);
  for (const w of steps?.writes ?? []) b.host(ops.write({ path: w.path, data: w.data }), `write '${w.data}' to ${w.path} (from its parent, as runc)`);
}

function joinCgroup(b: PlanBuilder, join: CgroupJoinPlan | undefined): void {
  if (!join) return;
  if (join.v2) b.host(ops.openDir({ slot: SLOT.CGROUP, path: join.v2 }), `open ${join.v2}: H1 is forked into it`);
  for (const w of join.writes ?? []) b.ns(ops.write({ path: w.path, data: w.data }), `write '${w.data}' to ${w.path} (linux.resources.devices)`);
  for (const tasks of join.tasks) b.ns(ops.write({ path: tasks, data: '0' }), `join ${tasks.replace(/\/tasks$/, '')}`);
}

function hostOps(b: PlanBuilder, fifo: string | undefined, console: ConsoleChoice | undefined, detach: boolean): void {
  if (fifo) b.host(ops.mkfifo({ path: fifo, slot: SLOT.FIFO }), `mkfifo ${fifo}`);
  if (console?.socket) b.host(ops.connect({ path: console.socket, slot: SLOT.CONSOLE }), `connect to the console socket ${console.socket}`);
  else if (console?.relay) b.host(ops.socketpair({ slot: SLOT.CONSOLE }), 'a socket pair to receive the pty master');
  if (detach) b.host(ops.pipe({ slot: SLOT.DETACH }), 'a pipe on which the container says it goes on alone');
}

/**
 * A container without a mount namespace of its own is chrooted into its rootfs in the host's
 * mount namespace (as runc does). What would change the host's mount table is refused, each with
 * the JSON path that asks for it: runc makes the host's / rslave (or the rootfsPropagation asked),
 * and mounts the config's mounts there, where they outlive the container.
 */
function refuseWithoutMountNs(spec: Spec): void {
  const bad = (path: string, why: string): never => {
    throw new HakoError(`hako: config.json: ${path}: ${why}`, { code: 'bad-config' });
  };
  const fix = 'give the container a mount namespace ({"type": "mount"} in linux.namespaces)';
  const mounts = spec.mounts ?? [];
  if (mounts.length) bad('mounts[0]', `without a mount namespace, the mount on ${mounts[0]?.destination} would be made in the host's and outlive the container: ${fix}, or leave out mounts`);
  if (spec.linux?.rootfsPropagation) bad('linux.rootfsPropagation', `without a mount namespace, it would change the propagation of the host's mounts: ${fix}`);
  if (spec.root.readonly) bad('root.readonly', `without a mount namespace, it would make the host's mount of the rootfs read-only: ${fix}`);
  if (spec.linux?.maskedPaths?.length) bad('linux.maskedPaths', `without a mount namespace, a mask would be a mount in the host's (runc refuses it too): ${fix}`);
  if (spec.linux?.readonlyPaths?.length) bad('linux.readonlyPaths', `without a mount namespace, a read-only path would be a mount in the host's (runc refuses it too): ${fix}`);
  if (Object.keys(spec.linux?.sysctl ?? {}).length) bad('linux.sysctl', `without a mount namespace, there is no container /proc to write sysctls through: ${fix}`);
}

/** SCMP_ACT_NOTIFY: H0 connects to linux.seccomp.listenerPath on the host (the agent's socket),
 * H2 sends the listener fd there once the filter is loaded. */
function listenerOp(b: PlanBuilder, s: Seccomp | undefined): void {
  if (!s?.listenerPath || !seccompNotifies(s)) return;
  b.host(ops.connect({ path: s.listenerPath, slot: SLOT.SECCOMP_LISTENER }), `connect to the seccomp agent's socket ${s.listenerPath}`);
}

/** The plan for a container's init: namespaces, rootfs, /dev, hooks, pivot, process. */
export function createPlan(input: CreatePlanInput): PlanBuilder {
  const { spec } = input;
  const b = new PlanBuilder();
  const ns = containerNamespaces(spec);
  const process = spec.process;
  if (!process) throw new HakoError('hako: config.json: process: a container needs a process to run', { code: 'bad-config' });
  // a uts namespace created or joined by path (runc sets the name in a joined one): never the host's
  const hasUts = ns.created.has('uts') || ns.joined.some((j) => j.type === 'uts');
  for (const field of ['hostname', 'domainname'] as const) {
    if (spec[field] && !hasUts) {
      throw new HakoError(`hako: config.json: ${field}: setting it needs a new uts namespace (linux.namespaces) or one joined by path, or it would change the host's`, { code: 'bad-config' });
    }
  }
  refuseUnsupported(spec, input.host);
  // a mount namespace joined by path is prepared as a new one is (as runc does: the rootfs is bound,
  // mounted on and pivoted into there; the namespace's other processes are its owner's business)
  const ownMounts = ns.created.has('mnt') || ns.joined.some((j) => j.type === 'mnt');
  const hostMnt = ns.joined.find((j) => j.type === 'mnt' && input.host.joinedHostNs?.has(j.path));
  if (hostMnt) {
    throw new HakoError(`hako: config.json: linux.namespaces[${hostMnt.index}].path: ${hostMnt.path} is the host's mount namespace: preparing the rootfs there would pivot the host's root into the container's (leave out the path for a new mount namespace)`, { code: 'bad-config' });
  }
  if (!ownMounts) refuseWithoutMountNs(spec);
  const seccomp = spec.linux?.seccomp ? seccompOp(spec.linux.seccomp, SLOT.SECCOMP_LISTENER, input.seccompCompiled) : undefined;
  // the init reopens exec.fifo through /proc/self/fd after pivot_root (as runc's does): without
  // a procfs on /proc that path would be the image's, which could start the process before `start`
  // (without a mount namespace, the init keeps the host's /proc/self/fd open across its chroot)
  if (input.fifo && ownMounts && !(spec.mounts ?? []).some((m) => m.type === 'proc' && m.destination.replace(/\/+$/, '') === '/proc')) {
    throw new HakoError('hako: config.json: mounts: create needs a proc mount on /proc (the init waits for `start` through /proc/self/fd); use `hako run`, or add {"destination": "/proc", "type": "proc", "source": "proc"}', { code: 'bad-config' });
  }
  makeCgroup(b, input.cgroupSteps);
  hostOps(b, input.fifo, input.console, input.detach);
  listenerOp(b, spec.linux?.seccomp);
  if (input.deviceProgram && input.cgroup?.v2) {
    b.host(ops.bpfDevices({ path: input.cgroup.v2, program: input.deviceProgram }),
      `attach the device filter (${input.deviceProgram.length / 8} eBPF instructions) to ${input.cgroup.v2}`);
  }
  joinCgroup(b, input.cgroup);

  // H1: join (user first), create user (maps), create the rest, time offsets
  const joinOrder = NAMESPACES.map((k) => k.type);
  for (const j of [...ns.joined].sort((a, c) => joinOrder.indexOf(a.type) - joinOrder.indexOf(c.type))) {
    const kind = namespaceKind(j.type);
    // the config's field in the description: a failure names it (config.json: linux.namespaces[N].path)
    b.ns(ops.setns({ nstype: kind.flag, path: j.path }), `config.json: linux.namespaces[${j.index}].path: setns(${j.path}, ${kind.flagName})`);
  }
  const userNs = ns.created.has('user');
  if (userNs) {
    b.ns(ops.unshare({ flags: namespaceKind('user').flag }), 'unshare(CLONE_NEWUSER)');
    b.ns(ops.idmap(), 'wait for hako to write the uid and gid maps');
    // become the namespace's root: the helper's host ids need not be mapped in it
    // (not where setgroups is denied: hako without root wrote a map of its own group)
    if (!input.setgroupsDenied) b.ns(ops.setgroups({ ids: [] }), 'setgroups([])');
    b.ns(ops.setgid({ id: 0 }), 'setresgid(0) in the new user namespace');
    b.ns(ops.setuid({ id: 0 }), 'setresuid(0) in the new user namespace');
  }
  const copyMnt = !!input.copyJoinedMount && ns.joined.some((j) => j.type === 'mnt');
  const rest = NAMESPACES.filter((k) => k.type !== 'user' && (ns.created.has(k.type) || (copyMnt && k.type === 'mnt')));
  const mask = rest.reduce((m, k) => m | k.flag, 0);
  if (mask) b.ns(ops.unshare({ flags: mask }), `unshare(${rest.map((k) => k.flagName).join('|')})`);
  const offsets = spec.linux?.timeOffsets;
  if (offsets && Object.keys(offsets).length) {
    if (!ns.created.has('time')) throw new HakoError('hako: config.json: linux.timeOffsets: needs a new time namespace', { code: 'bad-config' });
    const text = Object.entries(offsets).map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`).join('');
    b.ns(ops.write({ path: '/proc/self/timens_offsets', data: text }), 'write the time namespace offsets');
  }

  // H2: the rootfs, prepared by fd
  const root = SLOT.ROOT;
  const rootPropagation = { private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC };
  const wanted = spec.linux?.rootfsPropagation;
  // slave (or what the config asks) first, so nothing done here propagates back to the host
  // (shared or unbindable only once inside: an unbindable rootfs could not be bound onto itself)
  // (without a mount namespace nothing of this: no propagation is changed, nothing is mounted;
  // refuseWithoutMountNs kept out what would need it, see below)
  const first = wanted === 'private' || wanted === 'rprivate' || wanted === 'slave' || wanted === 'rslave' ? rootPropagation[wanted] : MS.SLAVE | MS.REC;
  if (ownMounts) {
    b.init(ops.mount({ target: '/', flags: first }), `mount(none, "/", ${mountFlagNames(first)}): nothing mounted here reaches the host`);
    b.init(ops.mount({ source: input.rootfs, target: input.rootfs, flags: MS.BIND | MS.REC }), `bind ${input.rootfs} onto itself (pivot_root needs a mount point)`);
  }
  b.init(ops.openDir({ slot: SLOT.ROOT, path: input.rootfs }), `open the rootfs ${input.rootfs}`);
  // the host's /dev/null, opened in this mount namespace (a bind source must be in it), for masks
  if (spec.linux?.maskedPaths?.length) b.init(ops.openDir({ slot: SLOT.NULL, path: '/dev/null', anyFile: true }), "open the host's /dev/null for masking");
  const mounts = spec.mounts ?? [];
  mounts.forEach((m, i) => addMount(b, m, i, input));
  const dev = mounts.find((m) => m.destination === '/dev');
  const devIsBind = dev && planMountOptions(dev.options, dev.type, 'mounts').bind;
  if (dev && !devIsBind) {
    // /dev/core only where the kernel has /proc/kcore (as runc)
    addDevices(b, SLOT.ROOT, spec.linux?.devices ?? [], userNs || ns.joined.some((j) => j.type === 'user') || !!input.host.inUserNs, mounts.some((m) => m.destination === '/dev/pts'), mounts.some((m) => m.destination === '/proc') && input.host.kcore);
  }
  const hooks = spec.hooks ?? {};
  if ((hooks.prestart?.length ?? 0) + (hooks.createRuntime?.length ?? 0) + (hooks.createContainer?.length ?? 0) > 0 || input.networkPause) {
    b.init(ops.sync({ type: MessageType.HOOKS, ...(input.networkPause ? { flags: 1 } : {}) }), `ask hako to ${input.networkPause ? 'attach the network, and ' : ''}run the prestart and createRuntime hooks (and for the state the createContainer hooks get)`);
  }
  for (const h of hooks.createContainer ?? []) b.init(hookOp(h, input.hookState), `createContainer hook ${h.path}`);
  // sysctls (written under the container's /proc, from the container's namespaces: never to a
  // file of the image), then read-only paths (which make /proc/sys read-only), then masked paths,
  // as runc: a mask under a read-only path stays. All by fd in the root, before pivot_root.
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    checkSysctl(key, ns.created, new Set(ns.joined.filter((j) => !input.host.joinedHostNs?.has(j.path)).map((j) => j.type)));
    const path = `/proc/sys/${key.replace(/\./g, '/')}`;
    b.init(ops.write({ root, path, data: value, procfs: PROCFS.MUST_BE }), `sysctl ${key}=${value}`);
  }
  for (const path of spec.linux?.readonlyPaths ?? []) {
    // the container's own path (resolved in the root, as the target is) onto itself; missing: skipped
    b.init(ops.mountInRoot({ root, source: path, target: path, sourceInRoot: true, flags: MS.BIND | MS.REC, optional: true }), `bind ${path} onto itself`);
    b.init(ops.setattr({ root, target: path, set: MOUNT_ATTR.RDONLY, flags: AT_RECURSIVE, optional: true }), `make ${path} read-only`);
  }
  for (const path of spec.linux?.maskedPaths ?? []) b.init(ops.mask({ root, path, slot: SLOT.NULL }), `mask ${path}`);
  // a missing working directory is made, as runc does
  const cwd = process.cwd || '/';
  if (cwd !== '/') b.init(ops.mkpath({ root, path: cwd, kind: PATH_KIND.DIR }), `create the working directory ${cwd}`);
  // no mount namespace: a chroot in the host's mount namespace, as runc does (which would also
  // make the host's / rslave and leave the config's mounts behind on the host: hako refuses those)
  if (!ownMounts && input.fifo) b.init(ops.openDir({ slot: SLOT.PROC_FD, path: '/proc/self/fd', procfs: PROCFS.MUST_BE }), 'open /proc/self/fd before the chroot: the init reopens exec.fifo through it (there is no proc mount)');
  if (!ownMounts) b.init(ops.fchroot({ slot: root }), "chroot into the rootfs (no mount namespace: the host's mounts stay as they are)");
  else if (input.noPivot) b.init(ops.moveRoot({ root }), 'move the rootfs onto / and chroot (--no-pivot)');
  else b.init(ops.pivot({ root }), 'pivot_root into the rootfs and detach the old root');

  // inside the root now
  if (spec.hostname) b.init(ops.hostname({ name: spec.hostname }), `sethostname(${JSON.stringify(spec.hostname)})`);
  if (spec.domainname) b.init(ops.domainname({ name: spec.domainname }), `setdomainname(${JSON.stringify(spec.domainname)})`);
  // a new network namespace gets lo up, as runc and crun do (a joined one is left as it is)
  if (ns.created.has('net')) b.init(ops.linkUp({ name: 'lo' }), 'bring up lo in the new network namespace');
  // the asked propagation on the new / (as runc: private ones were set before, whole)
  if (wanted && wanted !== 'private' && wanted !== 'rprivate') {
    b.init(ops.mount({ target: '/', flags: rootPropagation[wanted] }), `rootfs propagation ${wanted}`);
  }
  const personality = spec.linux?.personality;
  if (personality) {
    const flags = (personality.flags ?? []).reduce((m, f) => m | PERSONALITY_FLAGS[f], 0);
    const persona = (personality.domain === 'LINUX32' ? PER_LINUX32 : PER_LINUX) | flags;
    b.init(ops.personality({ persona }), `personality(${[`PER_${personality.domain}`, ...(personality.flags ?? [])].join('|')})`);
  }
  if (input.keyring) b.init(ops.keyring({ name: input.keyring }), `join a new session keyring ${input.keyring}`);
  if (spec.root.readonly) b.init(ops.setattr({ root, target: '/', set: MOUNT_ATTR.RDONLY }), 'make the root read-only');
  // exec.fifo is reopened through /proc/self/fd: opened (and checked to be procfs) now, before any
  // seccomp filter, which may deny statfs (issue 9: only what runc's init does runs after it)
  // (without a mount namespace it was opened before the chroot, above)
  if (input.fifo && ownMounts) b.init(ops.openDir({ slot: SLOT.PROC_FD, path: '/proc/self/fd', procfs: PROCFS.MUST_BE }), 'open the container\'s /proc/self/fd (procfs) to reopen exec.fifo in');
  addProcessOps(b, input, 'process', seccomp, () => {
    b.init(ops.sync({ type: MessageType.READY }), 'tell hako the container is created');
    if (input.detach) b.init(ops.detach({ slot: SLOT.DETACH }), 'go on without the runtime');
    if (input.fifo) b.init(ops.fifoWait({ slot: SLOT.FIFO, root: SLOT.PROC_FD }), 'wait for `start` on exec.fifo');
    for (const h of hooks.startContainer ?? []) b.init(hookOp(h, input.hookState), `startContainer hook ${h.path}`);
  }, !!(dev && !devIsBind));
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
  const seccomp = input.seccomp ? seccompOp(input.seccomp, SLOT.SECCOMP_LISTENER) : undefined;
  hostOps(b, undefined, input.console, input.detach);
  listenerOp(b, input.seccomp);
  // execCPUAffinity (for an exec only, says the spec): `initial` while the runtime's stages move
  // into the container's cgroup (H1 and H2 inherit H0's), `final` once in it, as runc does; with
  // `initial` alone, every CPU the cgroup allows
  const affinity = input.process.execCPUAffinity;
  if (affinity?.initial) b.host(ops.affinity({ mask: cpuMask(cpuSet(affinity.initial)) }), `sched_setaffinity(${affinity.initial}) until the cgroup join`);
  joinCgroup(b, input.cgroup);
  const mask = input.namespaces.reduce((m, t) => m | namespaceKind(t).flag, 0);
  b.ns(ops.setnsPid({ pid: input.pid, flags: mask }), `setns(pidfd of ${input.pid}, ${input.namespaces.join(', ')})`);
  // a container without a mount namespace is a chroot in the host's: the process goes into the
  // init's root too (joining the namespaces alone would leave it at the host's /)
  if (!input.namespaces.includes('mnt')) {
    b.host(ops.openDir({ slot: SLOT.ROOT, path: `/proc/${input.pid}/root` }), `open the root of ${input.pid}`);
    b.init(ops.fchroot({ slot: SLOT.ROOT }), "chroot into the container's root (it has no mount namespace)");
  }
  if (affinity?.final) b.init(ops.affinity({ mask: cpuMask(cpuSet(affinity.final)) }), `sched_setaffinity(${affinity.final})`);
  else if (affinity?.initial) b.init(ops.affinity({ mask: ALL_CPUS }), 'sched_setaffinity(every CPU the cgroup allows)');
  addProcessOps(b, input, 'process', seccomp, () => {
    b.init(ops.sync({ type: MessageType.READY }), 'tell hako the process is ready');
    if (input.detach) b.init(ops.detach({ slot: SLOT.DETACH }), 'go on without the runtime');
  });
  return b;
}
