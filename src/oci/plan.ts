// config.json → the helper's plan for a container's init (create/run) or an exec'd process.
// Pure: every decision about what the helper does is made here, and it can be read back as text.
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import { MessageType, OpKind, Tag, type Field } from '../helper/protocol.js';
import { MS, mountFlagNames } from '../linux/mount.js';
import { NAMESPACES, namespaceKind, type NamespaceType } from '../linux/namespaces.js';
import type { CgroupJoinPlan } from '../cgroups/index.js';
import type { Hook, LinuxNamespaceType, Mount, Process, Seccomp, Spec } from '../spec/types.js';
import { PlanBuilder } from '../toolkit/launch.js';
import { capMask } from './caps.js';
import { addDevices } from './devices.js';
import { AT_RECURSIVE, planMountOptions } from './mountopts.js';
import { seccompOp } from './seccomp.js';

/** Fd slots the plan uses in the helper (0 and 1 belong to nsenter). */
export const SLOT = { ROOT: 2, FIFO: 3, CONSOLE: 4, DETACH: 5, CGROUP: 7, NULL: 8 } as const;

const NS_TYPE: Record<LinuxNamespaceType, NamespaceType> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** An rlimit value for the helper: 2^64-1 and above (JSON loses the exact value) is RLIM_INFINITY. */
function rlim(v: number): bigint {
  return v >= 2 ** 64 - 1 ? -1n : BigInt(v);
}

export interface ConsoleChoice {
  /** Send the pty master to this socket (--console-socket). */
  socket?: string;
  /** Or relay it through the helper to hako's own stdio (run -t from a terminal). */
  relay?: boolean;
}

export interface ProcessPlanInput {
  process: Process;
  /** How the process joins the container's cgroup by itself (docs/PROTOCOL.md). */
  cgroup?: CgroupJoinPlan;
  console?: ConsoleChoice;
  /** --preserve-fds: fds 3..3+N-1 stay open for the process. */
  preserveFds: number;
  /** The container's user namespace maps (for HOME lookups and nothing else). */
  rootfs: string;
}

export interface CreatePlanInput extends ProcessPlanInput {
  spec: Spec;
  bundle: string;
  /** The exec.fifo path on the host; absent for `run`, which starts at once. */
  fifo?: string;
  /** H0 leaves once the container is ready (create, run -d). */
  detach: boolean;
  noPivot: boolean;
  /** State JSON for hooks the helper runs (createContainer, startContainer). */
  hookState: string;
  /** The cgroup v2 device filter (eBPF), attached to the v2 directory before H1 is forked into it. */
  deviceProgram?: Buffer;
  /** Join a new session keyring named after the container (runc's default). */
  keyring?: string;
  /** v1 hierarchies to bind under a `cgroup` mount: name → host directory of this container's cgroup. */
  cgroupV1Dirs?: Array<{ name: string; host: string }>;
  cgroupV2?: boolean;
}

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

function str(tag: number, value: string): Field {
  return { tag, value };
}

function hookFields(h: Hook, state: string): Field[] {
  return [
    str(Tag.PATH, h.path), ...(h.args ?? [h.path]).map((a) => str(Tag.ARG, a)),
    ...(h.env ?? []).map((e) => str(Tag.ENV, e)), str(Tag.DATA, state), { tag: Tag.VALUE, value: h.timeout ?? 0 },
  ];
}

/** HOME from the container's /etc/passwd (read only if it is a plain file), else "/". */
function homeOf(rootfs: string, uid: number): string {
  const passwd = join(rootfs, 'etc/passwd');
  try {
    if (!lstatSync(passwd).isFile()) return '/';
    for (const line of readFileSync(passwd, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(uid) && f[5]) return f[5];
    }
  } catch { /* no passwd: "/" */ }
  return '/';
}

function processEnv(p: Process, rootfs: string): string[] {
  const env = [...(p.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${homeOf(rootfs, p.user?.uid ?? 0)}`);
  return env;
}

/** The ops that turn H2 into the configured process: console, rlimits, user, caps, seccomp. */
function addProcessOps(b: PlanBuilder, input: ProcessPlanInput, where: string, seccomp: SeccompOp | undefined, beforeExec: () => void): void {
  const p = input.process;
  if (input.console?.socket || input.console?.relay) {
    const size = p.consoleSize;
    b.init(OpKind.CONSOLE, [{ tag: Tag.SLOT, value: SLOT.CONSOLE }, { tag: Tag.VALUE, value: size?.height ?? 0 }, { tag: Tag.VALUE2, value: size?.width ?? 0 }],
      input.console.socket ? `make a pty and send its master to ${input.console.socket}` : 'make a pty and hand its master to hako, which relays it');
  }
  for (const r of p.rlimits ?? []) {
    const resource = RLIMIT[r.type];
    if (resource === undefined) throw new HakoError(`hako: config.json: ${where}.rlimits: unknown rlimit '${r.type}'`);
    b.init(OpKind.RLIMIT, [{ tag: Tag.TYPE, value: resource }, { tag: Tag.VALUE, value: rlim(r.soft) }, { tag: Tag.VALUE2, value: rlim(r.hard) }, str(Tag.NAME, r.type)],
      `setrlimit(${r.type}, ${r.soft}, ${r.hard})`);
  }
  if (p.oomScoreAdj !== undefined) {
    b.init(OpKind.WRITE, [str(Tag.PATH, '/proc/self/oom_score_adj'), str(Tag.DATA, String(p.oomScoreAdj))], `oom_score_adj = ${p.oomScoreAdj}`);
  }
  b.init(OpKind.UMASK, [{ tag: Tag.MODE, value: p.user?.umask ?? 0o022 }], `umask ${(p.user?.umask ?? 0o022).toString(8)}`);
  b.init(OpKind.CHDIR, [str(Tag.PATH, p.cwd || '/')], `chdir(${JSON.stringify(p.cwd || '/')})`);
  beforeExec();
  const nnp = p.noNewPrivileges === true;
  if (seccomp && !nnp) b.init(seccomp.kind, seccomp.fields, 'load the seccomp filter (while CAP_SYS_ADMIN is still held)');
  const caps = p.capabilities;
  if (caps) b.init(OpKind.BOUNDING, [{ tag: Tag.CAP_BOUNDING, value: capMask(caps.bounding, `${where}.capabilities.bounding`) }], 'drop capabilities outside the bounding set');
  const uid = p.user?.uid ?? 0;
  const gid = p.user?.gid ?? 0;
  if (caps) b.init(OpKind.KEEPCAPS, [{ tag: Tag.VALUE, value: 1 }], 'keep capabilities across setuid');
  b.init(OpKind.SETGROUPS, (p.user?.additionalGids ?? []).map((g) => ({ tag: Tag.ID, value: g })), `setgroups([${(p.user?.additionalGids ?? []).join(', ')}])`);
  b.init(OpKind.SETGID, [{ tag: Tag.ID, value: gid }], `setresgid(${gid})`);
  b.init(OpKind.SETUID, [{ tag: Tag.ID, value: uid }], `setresuid(${uid})`);
  if (caps) {
    b.init(OpKind.CAPS, [
      { tag: Tag.CAP_EFFECTIVE, value: capMask(caps.effective, `${where}.capabilities.effective`) },
      { tag: Tag.CAP_PERMITTED, value: capMask(caps.permitted, `${where}.capabilities.permitted`) },
      { tag: Tag.CAP_INHERITABLE, value: capMask(caps.inheritable, `${where}.capabilities.inheritable`) },
      // the kernel takes an ambient capability only if it is permitted and inheritable; runc and
      // crun skip the others (runc's own default config lists ambient without inheritable)
      { tag: Tag.CAP_AMBIENT, value: capMask(caps.ambient, `${where}.capabilities.ambient`) & capMask(caps.inheritable, `${where}.capabilities.inheritable`) & capMask(caps.permitted, `${where}.capabilities.permitted`) },
    ], 'set the effective, permitted, inheritable and ambient capabilities');
  }
  if (nnp) b.init(OpKind.NNP, [], 'no_new_privs');
  if (seccomp && nnp) b.init(seccomp.kind, seccomp.fields, 'load the seccomp filter');
  b.init(OpKind.CHECK_CWD, [], 'check that the working directory is inside the container');
  b.init(OpKind.CLOEXEC_FROM, [{ tag: Tag.VALUE, value: 3 + input.preserveFds }], `close every fd from ${3 + input.preserveFds} on at exec`);
  b.exec(p.args, Object.fromEntries(processEnv(p, input.rootfs).map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
  })));
}

type SeccompOp = ReturnType<typeof seccompOp>;

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

function mountSource(m: Mount, bundle: string): string | undefined {
  if (m.source === undefined) return undefined;
  return isAbsolute(m.source) ? m.source : resolve(bundle, m.source);
}

function addMount(b: PlanBuilder, m: Mount, i: number, input: CreatePlanInput): void {
  const where = `mounts[${i}]`;
  const dest = m.destination.startsWith('/') ? m.destination : `/${m.destination}`;
  const opts = planMountOptions(m.options, m.type, where);
  const root: Field = { tag: Tag.ROOT, value: SLOT.ROOT };
  const target = str(Tag.TARGET, dest);
  if (m.type === 'cgroup' || m.type === 'cgroup2') {
    addCgroupMount(b, dest, opts.flags, input);
    return;
  }
  if (opts.bind) {
    const source = mountSource(m, input.bundle);
    if (!source) throw new HakoError(`hako: config.json: ${where}.source: a bind mount needs a source`);
    let isDir: boolean;
    try { isDir = statSync(source).isDirectory(); } catch {
      throw new HakoError(`hako: config.json: ${where}.source: ${source} does not exist`);
    }
    b.init(OpKind.MKPATH, [root, str(Tag.PATH, dest), { tag: Tag.TYPE, value: isDir ? 1 : 2 }], `create ${dest} in the rootfs`);
    const flags = MS.BIND | (opts.recursive ? MS.REC : 0);
    b.init(OpKind.MOUNT_IN_ROOT, [root, str(Tag.SOURCE, source), target, { tag: Tag.FLAGS, value: flags }],
      `mount(${JSON.stringify(source)}, ${JSON.stringify(dest)}, ${mountFlagNames(flags)})`);
  } else {
    const type = m.type ?? 'none';
    b.init(OpKind.MKPATH, [root, str(Tag.PATH, dest), { tag: Tag.TYPE, value: 1 }], `create ${dest} in the rootfs`);
    const fields: Field[] = [root, str(Tag.SOURCE, m.source ?? type), target, str(Tag.FSTYPE, type), { tag: Tag.FLAGS, value: opts.flags }];
    if (opts.data) fields.push(str(Tag.DATA, opts.data));
    b.init(OpKind.MOUNT_IN_ROOT, fields, `mount(${JSON.stringify(m.source ?? type)}, ${JSON.stringify(dest)}, ${JSON.stringify(type)}, ${mountFlagNames(opts.flags)}${opts.data ? `, ${JSON.stringify(opts.data)}` : ''})`);
  }
  if (opts.bind && (opts.attrSet || opts.attrClear)) {
    b.init(OpKind.SETATTR, [root, target, { tag: Tag.SET, value: opts.attrSet }, { tag: Tag.CLEAR, value: opts.attrClear }], `set the options of ${dest} (${(m.options ?? []).join(',')})`);
  }
  if (opts.recursiveSet || opts.recursiveClear) {
    b.init(OpKind.SETATTR, [root, target, { tag: Tag.SET, value: opts.recursiveSet }, { tag: Tag.CLEAR, value: opts.recursiveClear }, { tag: Tag.FLAGS, value: AT_RECURSIVE }],
      `set the recursive options of ${dest}`);
  }
  for (const prop of opts.propagation) {
    b.init(OpKind.MOUNT_IN_ROOT, [root, target, { tag: Tag.FLAGS, value: prop }], `mount propagation of ${dest}: ${mountFlagNames(prop)}`);
  }
}

function addCgroupMount(b: PlanBuilder, dest: string, flags: number, input: CreatePlanInput): void {
  const root: Field = { tag: Tag.ROOT, value: SLOT.ROOT };
  const ro = (flags & MS.RDONLY) !== 0;
  const base = flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  b.init(OpKind.MKPATH, [root, str(Tag.PATH, dest), { tag: Tag.TYPE, value: 1 }], `create ${dest} in the rootfs`);
  if (input.cgroupV2) {
    b.init(OpKind.MOUNT_IN_ROOT, [root, str(Tag.SOURCE, 'cgroup2'), str(Tag.TARGET, dest), str(Tag.FSTYPE, 'cgroup2'), { tag: Tag.FLAGS, value: base }], `mount cgroup2 on ${dest}`);
    return;
  }
  // v1: a tmpfs with each hierarchy's directory of this container bound into it (as runc does)
  b.init(OpKind.MOUNT_IN_ROOT, [root, str(Tag.SOURCE, 'tmpfs'), str(Tag.TARGET, dest), str(Tag.FSTYPE, 'tmpfs'), { tag: Tag.FLAGS, value: MS.NOSUID | MS.NODEV | MS.NOEXEC }, str(Tag.DATA, 'mode=755')], `mount tmpfs on ${dest}`);
  for (const dir of input.cgroupV1Dirs ?? []) {
    const target = `${dest}/${dir.name}`;
    b.init(OpKind.MKPATH, [root, str(Tag.PATH, target), { tag: Tag.TYPE, value: 1 }], `create ${target}`);
    b.init(OpKind.MOUNT_IN_ROOT, [root, str(Tag.SOURCE, dir.host), str(Tag.TARGET, target), { tag: Tag.FLAGS, value: MS.BIND }], `bind the container's ${dir.name} cgroup on ${target}`);
    b.init(OpKind.SETATTR, [root, str(Tag.TARGET, target), { tag: Tag.SET, value: (ro ? 1 : 0) | 2 | 4 | 8 }], `${ro ? 'read-only, ' : ''}nosuid, nodev, noexec ${target}`);
  }
  if (ro) b.init(OpKind.SETATTR, [root, str(Tag.TARGET, dest), { tag: Tag.SET, value: 1 }], `read-only ${dest}`);
}

/** sysctls that are namespaced, and the namespace each needs (runc's list): any other would
 * change the host, so it is refused. */
function checkSysctl(key: string, created: Set<NamespaceType>): void {
  const where = `hako: config.json: linux.sysctl: ${key}`;
  if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key)) throw new HakoError(`${where}: not a sysctl name`);
  const ipc = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  let needs: NamespaceType | undefined;
  if (ipc.includes(key) || key.startsWith('fs.mqueue.')) needs = 'ipc';
  else if (key.startsWith('net.')) needs = 'net';
  else if (key === 'kernel.hostname' || key === 'kernel.domainname') needs = 'uts';
  if (!needs) throw new HakoError(`${where}: not a namespaced sysctl: setting it would change the host`);
  if (!created.has(needs)) throw new HakoError(`${where}: needs a new ${needs} namespace, or it would change the host's`);
}

/** Fields hako does not implement yet: refused, never ignored. */
function refuseUnsupported(spec: Spec): void {
  const p = spec.process;
  const no = (what: string) => { throw new HakoError(`hako: config.json: ${what} is not supported yet`); };
  if (p?.ioPriority) no('process.ioPriority');
  if (p?.scheduler) no('process.scheduler');
  if (p?.execCPUAffinity) no('process.execCPUAffinity');
  if (spec.linux?.intelRdt) no('linux.intelRdt');
  spec.mounts?.forEach((m, i) => { if (m.uidMappings || m.gidMappings) no(`mounts[${i}].uidMappings (id-mapped mounts)`); });
  // AppArmor and SELinux are skipped where the host has them off (as runc does), refused where on
  if ((p?.apparmorProfile) && hostHas('/sys/module/apparmor/parameters/enabled', 'Y')) no('process.apparmorProfile (AppArmor is enabled on this host)');
  if ((p?.selinuxLabel || spec.linux?.mountLabel) && hostHas('/sys/fs/selinux/enforce')) no('SELinux labels (SELinux is enabled on this host)');
}

function hostHas(file: string, content?: string): boolean {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return content === undefined || text === content;
  } catch {
    return false;
  }
}

/** The plan for a container's init: namespaces, rootfs, /dev, hooks, pivot, process. */
export function createPlan(input: CreatePlanInput): PlanBuilder {
  const { spec } = input;
  const b = new PlanBuilder();
  const ns = containerNamespaces(spec);
  const process = spec.process;
  if (!process) throw new HakoError('hako: config.json: process: a container needs a process to run');
  for (const field of ['hostname', 'domainname'] as const) {
    if (spec[field] && !ns.created.has('uts')) {
      throw new HakoError(`hako: config.json: ${field}: setting it needs a new uts namespace (linux.namespaces), or it would change the host's`);
    }
  }
  refuseUnsupported(spec);
  if (!ns.created.has('mnt')) throw new HakoError('hako: config.json: linux.namespaces: hako needs a new mount namespace for the container (add {"type": "mount"})');
  const seccomp = spec.linux?.seccomp ? seccompOp(spec.linux.seccomp) : undefined;
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
    if (!ns.created.has('time')) throw new HakoError('hako: config.json: linux.timeOffsets: needs a new time namespace');
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
    addDevices(b, SLOT.ROOT, spec.linux?.devices ?? [], userNs, mounts.some((m) => m.destination === '/dev/pts'), mounts.some((m) => m.destination === '/proc') && existsSync('/proc/kcore'));
  }
  const hooks = spec.hooks ?? {};
  if ((hooks.prestart?.length ?? 0) + (hooks.createRuntime?.length ?? 0) + (hooks.createContainer?.length ?? 0) > 0) {
    b.init(OpKind.SYNC, [{ tag: Tag.TYPE, value: MessageType.HOOKS }], 'ask hako to run the prestart and createRuntime hooks (and for the state the createContainer hooks get)');
  }
  for (const h of hooks.createContainer ?? []) b.init(OpKind.HOOK, hookFields(h, input.hookState), `createContainer hook ${h.path}`);
  // sysctls (written under the container's /proc, from the container's namespaces), then masked
  // and read-only paths, which make /proc/sys read-only: all by fd in the root, before pivot_root
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    checkSysctl(key, ns.created);
    const path = `/proc/sys/${key.replace(/\./g, '/')}`;
    b.init(OpKind.WRITE, [root, str(Tag.PATH, path), str(Tag.DATA, value)], `sysctl ${key}=${value}`);
  }
  for (const path of spec.linux?.maskedPaths ?? []) b.init(OpKind.MASK, [root, str(Tag.PATH, path), { tag: Tag.SLOT, value: SLOT.NULL }], `mask ${path}`);
  for (const path of spec.linux?.readonlyPaths ?? []) {
    const t = str(Tag.TARGET, path);
    b.init(OpKind.MOUNT_IN_ROOT, [root, str(Tag.SOURCE, path), t, { tag: Tag.FLAGS, value: MS.BIND | MS.REC }, { tag: Tag.OPTIONAL, value: 1 }], `bind ${path} onto itself`);
    b.init(OpKind.SETATTR, [root, t, { tag: Tag.SET, value: 1 }, { tag: Tag.FLAGS, value: AT_RECURSIVE }, { tag: Tag.OPTIONAL, value: 1 }], `make ${path} read-only`);
  }
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
    if (personality.flags?.length) throw new HakoError('hako: config.json: linux.personality.flags: personality flags are not supported yet');
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
