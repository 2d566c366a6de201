// The sandbox: untrusted commands in containers with hard limits, a verdict and usage per run.
// A Sandbox is a session: a writable layer (an overlay on read-only base layers, its upper dir on
// a tmpfs of diskBytes) kept across runs until close(). Each run is a container of its own (the
// Runtime library's foreground run) on that layer: fresh pid, ipc, uts, mount, network and cgroup
// namespaces, a fresh cgroup (its own limits and accounting), its own /tmp and /dev/shm, so that no
// process or temporary file of one run is there in the next.
import { randomBytes } from 'node:crypto';
import { constants as osc } from 'node:os';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { chmod, mkdir, readFile, rm, statfs } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { Runtime, type RunResult as RuntimeResult } from '../runtime/runtime.js';
import type { HakoProcess } from '../helper/handle.js';
import { cgroupManager, detectCgroups, V1Manager, V2Manager, type CgroupLayout, type CgroupManager } from '../cgroups/index.js';
import { NoCgroup } from '../cgroups/none.js';
import { defaultSpec } from '../config/default.js';
import type { Mount, Spec } from '../config/types.js';
import { checkOptions, cpuSplit, effectiveLimits, resourcesOf, rlimitsOf, RUN_SHAPE, SANDBOX_OPTIONS, type SandboxLimits } from './limits.js';
import { object } from '../options.js';
import { sandboxSeccomp } from './seccomp.js';
import { defaultSandboxRoot, listSandboxes, makeSandboxDir, ownerGone, sandboxDirs, startLayerKeeper, trackOpen, type SandboxDirs } from './host.js';
import { LOCAL_FS, SandboxFiles } from './files.js';
import { mountSandboxLayer, removeSandboxLayerDir } from './mounts.js';
import { images, type ResolvedImage } from '../image/index.js';
import { sandboxCapabilities, type LimitSupport } from './check.js';
import { guardNetwork, networkChoice, type NetworkChoice, type SandboxNetwork } from './network.js';
import { keeperMaps, type Keeper } from './keeper.js';
import { rootlessPlan } from './rootless.js';
import { sandboxRootless } from './host.js';

export type { SandboxLimits } from './limits.js';
export type { SandboxNetwork } from './network.js';

export interface SandboxMount {
  /** A host path. */
  source: string;
  /** Where it appears inside. */
  target: string;
  /** Default true: a sandbox writes to the host only where it is told it may. */
  readonly?: boolean;
}

export type { ResolvedImage };

export interface SandboxOptions {
  /** A directory: the read-only base of the sandbox's filesystem. */
  rootfs?: string;
  /** An image of the image store (`hako image import|pull`): its layers are the read-only base, its
   * config's Env, WorkingDir and User the defaults (Sandbox.imageResolver: the default store). */
  image?: string;
  /** The limits of every run (each run may override them, diskBytes aside). */
  limits?: SandboxLimits;
  /** 'none' (the default): a network namespace with only lo. 'slirp4netns' or 'pasta' (or
   * { mode }): a user-mode network; { name, netDir }: a CNI network (root). The host's own
   * addresses (unless { host: true }) and link-local ones (cloud metadata) are unreachable. */
  network?: SandboxNetwork;
  /** Host paths bound inside (read-only unless readonly: false). */
  mounts?: SandboxMount[];
  /** Environment variables of every run (over PATH and HOME=/tmp). */
  env?: Record<string, string>;
  /** A uid (its gid is the same) or "user[:group]" from the base's /etc/passwd and /etc/group. Default 0 (with no capabilities). */
  user?: number | string;
  /** The working directory (default /). */
  workdir?: string;
  /** The hostname inside (default 'sandbox'). */
  hostname?: string;
  /** Where sandboxes' state lives (default /run/hako/sandbox as root). */
  root?: string;
  /** Without root: run even when a limit asked for cannot be enforced here (no delegated cgroup
   * for memoryBytes or cpus); the result's notEnforced names it. Default false: such a limit is
   * refused (an 'unsupported' error). */
  bestEffort?: boolean;
}

export interface SandboxRunOptions {
  /** Written to the command's stdin, which is then closed (default: stdin is /dev/null). */
  stdin?: string | Buffer;
  /** The wall-clock limit of this run (overrides limits.wallTimeMs). */
  timeoutMs?: number;
  /** Limits of this run over the sandbox's (diskBytes is the sandbox's). */
  limits?: Omit<SandboxLimits, 'diskBytes'>;
  /** Environment variables of this run, over the sandbox's (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** The working directory of this run. */
  workdir?: string;
  /** Aborting kills the run: its status is 'error'. */
  signal?: AbortSignal;
}

export type SandboxStatus = 'ok' | 'exit' | 'signal' | 'timeout' | 'cpu-time' | 'memory' | 'output-limit' | 'error';

export interface SandboxUsage {
  /** From the start of the run to its end, as hako saw them. */
  wallMs: number;
  /** CPU time in user mode of every process of the run (the cgroup's). */
  cpuUserMs: number;
  /** CPU time in the kernel for the run's processes (the cgroup's). */
  cpuSystemMs: number;
  /** The cgroup's peak memory (v1 memory.max_usage_in_bytes, v2 memory.peak). */
  maxRssBytes: number | undefined;
  /** The cgroup's peak process count (pids.peak), where the kernel keeps it. */
  pidsPeak: number | undefined;
  /** How much the sandbox's disk (writable layer, /tmp, /dev/shm) grew during the run. */
  writtenBytes: number;
}

export interface SandboxResult {
  /** The verdict: 'ok' (exit 0), 'exit' (non-zero), 'signal', 'timeout' (wall clock), 'cpu-time', 'memory'
   * (the cgroup's OOM killer), 'output-limit', 'error' (the command could not run, or the run was aborted). */
  status: SandboxStatus;
  /** The exit status, or null when a signal ended the command. */
  exitCode: number | null;
  /** The signal's name (SIGKILL), or null. */
  signal: string | null;
  /** The output, at most limits.outputBytes with stderr's. */
  stdout: Buffer;
  /** The error output, at most limits.outputBytes with stdout's. */
  stderr: Buffer;
  /** What the run used, from its cgroup (read before the cgroup is removed). */
  usage: SandboxUsage;
  /** status 'error': what went wrong. */
  error?: string;
  /** Limits of this run that were not enforced (without root and a delegated cgroup: defaults, or
   * what bestEffort allowed). Absent when every limit was. */
  notEnforced?: string[];
}

export interface SandboxProcess {
  /** The command's stdin: write and end() it. */
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  result: Promise<SandboxResult>;
  /** Kills the whole run (SIGKILL to its init: its pid namespace goes with it). */
  kill(): void;
}

let layout: CgroupLayout | undefined;
const runtimes = new Map<string, Runtime>();
function runtimeFor(root: string, netDir?: string): Runtime {
  const key = netDir === undefined ? root : `${root}\0${netDir}`;
  let r = runtimes.get(key);
  if (!r) {
    r = new Runtime({ root: join(root, 'containers'), warn: () => { /* runs have no hooks */ }, ...(netDir !== undefined ? { netDir } : {}) });
    runtimes.set(key, r);
  }
  return r;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(osc.signals).map(([k, v]) => [v, k]));

/** A run's cgroup CPU time, read off the event loop's critical path (one small file). */
async function cpuUsageNs(cg: CgroupManager): Promise<number | undefined> {
  try {
    if (cg instanceof V1Manager) {
      const dir = cg.dirOf('cpuacct');
      return dir === undefined ? undefined : Number((await readFile(join(dir, 'cpuacct.usage'), 'utf8')).trim());
    }
    if (cg instanceof V2Manager) {
      const m = /usage_usec (\d+)/.exec(await readFile(join(cg.tree.dir, 'cpu.stat'), 'utf8'));
      return m ? Number(m[1]) * 1000 : undefined;
    }
  } catch { /* not made yet, or gone */ }
  return undefined;
}

async function pidsPeakOf(cg: CgroupManager): Promise<number | undefined> {
  const dir = cg instanceof V1Manager ? cg.dirOf('pids') : cg instanceof V2Manager ? cg.tree.dir : undefined;
  if (dir === undefined) return undefined;
  try {
    const n = Number((await readFile(join(dir, 'pids.peak'), 'utf8')).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the peak memory (cgroup v1: writing 0 to memory.max_usage_in_bytes) as an armed run's
 * command starts: its container's set-up is not the command's. v2's memory.peak is left (a
 * reset there holds only for the writer's own open file). */
function resetPeak(cg: CgroupManager): void {
  if (!(cg instanceof V1Manager)) return;
  const dir = cg.dirOf('memory');
  if (dir === undefined) return;
  try { writeFileSync(join(dir, 'memory.max_usage_in_bytes'), '0'); } catch { /* the peak then counts the set-up */ }
}

async function diskUsed(dir: string): Promise<number> {
  try {
    const s = await statfs(dir);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return 0;
  }
}

export class Sandbox {
  /** Resolves an image reference to layers and a config: the default image store's resolve
   * (src/image: $HAKO_IMAGE_ROOT, /var/lib/hako as root); another store's can be set. */
  static imageResolver: ((ref: string) => Promise<ResolvedImage>) | undefined = (ref) => images.resolve(ref);

  /** The sandbox's id (12 hex digits). */
  readonly id: string;
  private readonly dirs: SandboxDirs;
  private readonly runtime: Runtime;
  private readonly network: NetworkChoice | undefined;
  private readonly files: SandboxFiles;
  private readonly active = new Set<{ kill: () => void; done: Promise<unknown>; armed: boolean }>();
  /** The next run's container, made ahead of time (prepare()). */
  private armed: { fire: (c: { argv: string[]; o: SandboxRunOptions }) => void; cancel: (e: Error) => void; result: Promise<SandboxResult>; waiting: Promise<void> } | undefined;
  private readonly cleanups = new Set<Promise<void>>();
  private runs = 0;
  private closed = false;
  private closing?: Promise<void>;
  private resetting?: Promise<void>;
  /** Without root: the process whose user and mount namespaces hold the disk and the overlay. */
  private keeper: Keeper | undefined;

  private constructor(private readonly options: SandboxOptions, private readonly layers: string[], private readonly image: ResolvedImage['config'] | undefined, id: string, root: string) {
    this.id = id;
    this.dirs = sandboxDirs(root, id);
    this.network = networkChoice(options.network);
    this.runtime = runtimeFor(root, this.network?.netDir);
    this.files = new SandboxFiles(() => this.view(this.dirs.rootfs), () => this.busy(), () => this.keeper?.fs ?? LOCAL_FS);
  }

  /** Makes a sandbox: its state directory, its disk and its overlay. */
  static async create(options: SandboxOptions): Promise<Sandbox> {
    checkOptions('Sandbox.create', options, object(SANDBOX_OPTIONS));
    if (sandboxRootless()) {
      // a limit asked for that cannot be held here is refused now, before anything is made
      rootlessPlan(effectiveLimits(options.limits, undefined), new Set(Object.keys(options.limits ?? {})), !!options.bestEffort, 'check');
      if (typeof options.user === 'number' && options.user !== 0 && keeperSingle()) {
        throw new HakoError(`hako: Sandbox.create: user ${options.user}: without a range in /etc/subuid and /etc/subgid for uid ${process.geteuid?.()}, the sandbox's user namespace has only uid 0 (add one with usermod --add-subuids/--add-subgids)`, { code: 'unsupported' });
      }
    }
    let layers: string[];
    let image: ResolvedImage['config'] | undefined;
    if (options.image !== undefined && options.rootfs !== undefined) throw new HakoError('hako: Sandbox.create: give rootfs or image, not both', { code: 'bad-option' });
    if (options.image !== undefined) {
      if (!Sandbox.imageResolver) throw new HakoError(`hako: Sandbox.create: image '${options.image}': no image store (Sandbox.imageResolver is unset)`, { code: 'unsupported' });
      const resolved = await Sandbox.imageResolver(options.image);
      layers = resolved.layers;
      image = resolved.config;
    } else if (options.rootfs !== undefined) {
      layers = [options.rootfs];
    } else {
      throw new HakoError('hako: Sandbox.create: rootfs (a directory) is required', { code: 'bad-option' });
    }
    const root = options.root ?? defaultSandboxRoot();
    const sb = new Sandbox(options, layers, image, randomBytes(6).toString('hex'), root);
    await sb.setUp();
    return sb;
  }

  private async setUp(): Promise<void> {
    trackOpen(this.dirs, true);
    try {
      await makeSandboxDir(this.dirs);
      const diskBytes = effectiveLimits(this.options.limits, undefined).diskBytes;
      if (sandboxRootless()) {
        this.keeper = await startLayerKeeper(this.dirs, this.layers, diskBytes);
        trackOpen(this.dirs, true, this.keeper.pid);
      } else {
        await mountSandboxLayer(this.dirs, this.layers, diskBytes);
      }
    } catch (e) {
      await this.keeper?.stop();
      await removeSandboxLayerDir(this.dirs).catch(() => undefined);
      trackOpen(this.dirs, false);
      throw e;
    }
  }

  /** A fresh writable layer (the pool's reset): only between runs. */
  async reset(): Promise<void> {
    this.open('reset');
    await this.disarm();
    if (this.active.size) throw new HakoError(`hako: sandbox ${this.id}: reset while a run is in progress`, { code: 'bad-state' });
    if (this.resetting) throw new HakoError(`hako: sandbox ${this.id}: reset while a reset is in progress`, { code: 'bad-state' });
    this.resetting = (async () => {
      const diskBytes = effectiveLimits(this.options.limits, undefined).diskBytes;
      if (this.keeper) {
        // a new keeper: the old one's disk goes with its namespaces
        await this.keeper.stop();
        this.keeper = undefined;
        this.keeper = await startLayerKeeper(this.dirs, this.layers, diskBytes);
        trackOpen(this.dirs, true, this.keeper.pid);
        return;
      }
      await mountSandboxLayer(this.dirs, this.layers, diskBytes, true);
    })().finally(() => { this.resetting = undefined; });
    return this.resetting;
  }

  /** A path of the sandbox's mounts as this process reaches it: without root, through the keeper. */
  private view(path: string): string {
    if (!sandboxRootless()) return path;
    if (!this.keeper) throw new HakoError(`hako: sandbox ${this.id}: its writable layer is being reset`, { code: 'bad-state' });
    return this.keeper.view(path);
  }

  private open(verb: string): void {
    if (this.closed) throw new HakoError(`hako: sandbox ${this.id}: ${verb} after close()`, { code: 'bad-state' });
  }

  private busy(): boolean {
    // a prepared container that has not got its command runs nothing of the sandbox's
    return this.closed || [...this.active].some((a) => !a.armed) || this.resetting !== undefined;
  }

  /** Runs a command to its end: its verdict, output (capped) and usage. */
  run(argv: string[], options: SandboxRunOptions = {}): Promise<SandboxResult> {
    try {
      const armed = this.armed;
      // the container prepare() made, unless this run changes its limits
      if (armed && options.limits === undefined) {
        this.armed = undefined;
        this.checkRun(argv, options, false);
        armed.fire({ argv, o: options });
        return armed.result;
      }
      return this.start(argv, options, false).result;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Makes the next run's container now (namespaces, mounts, cgroup, credentials, everything but
   * the command): the next run() without limits of its own then pays only for the exec. The pool
   * does this for its sandboxes. Nothing runs in it until then; close() or reset() ends it.
   */
  prepare(): void {
    this.open('prepare');
    if (this.armed || this.resetting) return;
    let fire!: (c: { argv: string[]; o: SandboxRunOptions }) => void;
    let cancel!: (e: Error) => void;
    const command = new Promise<{ argv: string[]; o: SandboxRunOptions }>((resolve, reject) => { fire = resolve; cancel = reject; });
    command.catch(() => { /* the container is ended */ });
    let asked!: () => void;
    const waiting = new Promise<void>((resolve) => { asked = resolve; });
    const proc = this.start(['/'], {}, false, command, () => asked());
    const armed = { fire, cancel, result: proc.result, waiting };
    this.armed = armed;
    // one that failed (or was ended) before its command is not used
    void proc.result.then(() => { if (this.armed === armed) this.armed = undefined; }, () => { if (this.armed === armed) this.armed = undefined; });
  }

  /** Whether the next run has a container made ahead of time, once it is there (its init waits
   * for the command): false when there is none, or it ended before. */
  prepared(): Promise<boolean> {
    const armed = this.armed;
    if (!armed) return Promise.resolve(false);
    return Promise.race([armed.waiting.then(() => this.armed === armed), armed.result.then(() => false, () => false)]);
  }

  /** Ends the prepared container, if any (before a reset: it holds the layer). */
  private async disarm(): Promise<void> {
    const armed = this.armed;
    if (!armed) return;
    this.armed = undefined;
    armed.cancel(new HakoError(`hako: sandbox ${this.id}: the prepared run was not needed`, { code: 'bad-state' }));
    await armed.result.catch(() => undefined);
  }

  /** Starts a command with live streams (capped as run's output is). */
  spawn(argv: string[], options: Omit<SandboxRunOptions, 'stdin'> = {}): SandboxProcess {
    return this.start(argv, options, true);
  }

  /** A run's environment: PATH, the image's, HOME=/tmp, the sandbox's, the run's. */
  private envFor(o: SandboxRunOptions): string[] {
    const env = new Map<string, string>();
    env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    for (const kv of this.image?.env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
    }
    env.set('HOME', '/tmp');
    for (const [k, v] of Object.entries({ ...this.options.env, ...o.env })) {
      if (v === undefined) env.delete(k);
      else env.set(k, v);
    }
    return [...env].map(([k, v]) => `${k}=${v}`);
  }

  /** The user of every run: the option's, else the image's User, else 0. */
  private user(): number | string | undefined {
    return this.options.user ?? (this.image?.user ? (/^\d+$/.test(this.image.user) ? Number(this.image.user) : this.image.user) : undefined);
  }

  private cwdFor(o: SandboxRunOptions): string {
    return o.workdir ?? this.options.workdir ?? this.image?.workingDir ?? '/';
  }

  private specFor(argv: string[], o: SandboxRunOptions, limits: ReturnType<typeof effectiveLimits>, runDir: string, rootless?: RootlessRun): Spec {
    const spec = defaultSpec({ rootless: false });
    const user = this.user();
    const none: string[] = [];
    spec.process = {
      terminal: false,
      user: typeof user === 'number' ? { uid: user, gid: user } : { uid: 0, gid: 0 },
      args: argv,
      env: this.envFor(o),
      cwd: this.cwdFor(o),
      capabilities: { bounding: none, effective: none, permitted: none, ambient: none, inheritable: none },
      rlimits: [...rlimitsOf(limits, rootless !== undefined && rootless.plan.cgroupsPath === undefined), ...(rootless?.plan.rlimits ?? [])],
      noNewPrivileges: true,
    };
    spec.root = { path: this.dirs.rootfs, readonly: false };
    spec.hostname = this.options.hostname ?? 'sandbox';
    let mounts: Mount[] = (spec.mounts ?? []).filter((m) => m.destination !== '/dev/shm' && m.destination !== '/sys/fs/cgroup');
    // only uid and gid 0 in a user namespace of the user's own ids: no tty group for devpts
    if (rootless?.keeper.single) mounts = mounts.map((m) => (m.destination === '/dev/pts' ? { ...m, options: (m.options ?? []).filter((x) => x !== 'gid=5') } : m));
    mounts.push({ destination: '/dev/shm', type: 'bind', source: join(runDir, 'shm'), options: ['rbind', 'nosuid', 'nodev', 'noexec'] });
    mounts.push({ destination: '/tmp', type: 'bind', source: join(runDir, 'tmp'), options: ['rbind', 'nosuid', 'nodev'] });
    for (const m of this.options.mounts ?? []) {
      mounts.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readonly === false ? 'rw' : 'ro', 'nosuid', 'nodev'] });
    }
    spec.mounts = mounts;
    const linux = spec.linux ?? {};
    linux.namespaces = [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
    linux.resources = resourcesOf(limits);
    if (rootless) {
      // the keeper's user and mount namespaces, joined; the run's own mount namespace is a copy
      // of the keeper's (copyJoinedMount), so the keeper's is never changed
      const k = rootless.keeper.pid;
      linux.namespaces = [{ type: 'user', path: `/proc/${k}/ns/user` }, { type: 'mount', path: `/proc/${k}/ns/mnt` },
        { type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'cgroup' }];
      if (rootless.plan.resources) linux.resources = rootless.plan.resources;
      else delete linux.resources;
      if (rootless.plan.cgroupsPath) linux.cgroupsPath = rootless.plan.cgroupsPath;
    }
    linux.seccomp = sandboxSeccomp();
    linux.maskedPaths = [...(linux.maskedPaths ?? []), '/proc/kallsyms', '/proc/sysrq-trigger', '/sys/devices/virtual/powercap', '/sys/kernel'];
    spec.linux = linux;
    return spec;
  }

  private checkRun(argv: string[], o: SandboxRunOptions, live: boolean): void {
    checkOptions(live ? 'Sandbox.spawn' : 'Sandbox.run', argv, (v, p) => {
      if (!Array.isArray(v) || v.length === 0 || v.some((a) => typeof a !== 'string')) throw new HakoError(`hako: ${p}: a non-empty array of strings`, { code: 'bad-option' });
    }, 'argv');
    checkOptions(live ? 'Sandbox.spawn' : 'Sandbox.run', o, object(RUN_SHAPE));
  }

  /**
   * A run: a container of its own on the sandbox's layer. late: the container is made now (armed)
   * and gets its command (argv and the run's options, which may not change its limits) when the
   * promise resolves: the pool's runs then pay only for the exec.
   */
  private start(argv: string[], o: SandboxRunOptions, live: boolean, late?: Promise<{ argv: string[]; o: SandboxRunOptions }>, waiting?: () => void): SandboxProcess {
    this.open(live ? 'spawn' : 'run');
    if (this.resetting) throw new HakoError(`hako: sandbox ${this.id}: ${live ? 'spawn' : 'run'} while its writable layer is being reset`, { code: 'bad-state' });
    if (!late) this.checkRun(argv, o, live);
    const limits = effectiveLimits(this.options.limits, { ...o.limits, ...(o.timeoutMs !== undefined ? { wallTimeMs: o.timeoutMs } : {}) });
    const n = this.runs + 1;
    const id = `${this.id}-${n}`;
    let rootless: RootlessRun | undefined;
    if (sandboxRootless()) {
      if (!this.keeper) throw new HakoError(`hako: sandbox ${this.id}: its writable layer is being reset`, { code: 'bad-state' });
      const explicit = new Set([...Object.keys(this.options.limits ?? {}), ...Object.keys(o.limits ?? {})]);
      rootless = { keeper: this.keeper, plan: rootlessPlan(limits, explicit, !!this.options.bestEffort, id) };
    }
    this.runs = n;
    const runDir = join(this.dirs.runs, String(n));
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let reason: SandboxStatus | undefined;
    let handle: HakoProcess<RuntimeResult> | undefined;
    const kill = (why?: SandboxStatus) => {
      reason ??= why;
      handle?.kill('SIGKILL');
    };
    const entry = { kill: () => kill('error'), done: Promise.resolve() as Promise<unknown>, armed: late !== undefined };
    this.active.add(entry);
    const result = (async (): Promise<SandboxResult> => {
      let t0 = performance.now();
      const noCgroup = rootless !== undefined && rootless.plan.cgroupsPath === undefined;
      // rootless without a delegated cgroup: none (there may be no cgroup filesystem to look at)
      if (!noCgroup) layout ??= detectCgroups();
      const cg: CgroupManager = noCgroup ? new NoCgroup(1, 0, id)
        : rootless?.plan.cgroupsPath !== undefined ? cgroupManager(rootless.plan.cgroupsPath, id, { layout: layout! }) : cgroupManager(undefined, id, { layout: layout!, ownParent: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let total = 0;
      let wall: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      let before = 0;
      let baseCpuNs = 0;
      let baseStats: ReturnType<CgroupManager['stats']> | undefined;
      let runOptions = o;
      let usage: SandboxUsage | undefined;
      let oomKills = 0;
      const onAbort = () => kill('error');
      try {
        const made = async () => {
          for (const d of [runDir, join(runDir, 'tmp'), join(runDir, 'shm')].map((p) => this.view(p))) {
            await mkdir(d, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
          }
        };
        try {
          // a full disk (or no inode left): the last run's /tmp and /dev/shm, still being
          // removed, free what this run's need
          await made().catch(async (e: NodeJS.ErrnoException) => {
            if (e.code !== 'ENOSPC') throw e;
            await Promise.all([...this.cleanups]);
            await made();
          });
          // mkdir's mode goes through the umask: the sticky, world-writable dirs are set after
          await Promise.all([chmod(this.view(join(runDir, 'tmp')), 0o1777), chmod(this.view(join(runDir, 'shm')), 0o1777)]);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? String(e);
          throw new HakoError(`hako: sandbox ${this.id}: cannot make the run's /tmp and /dev/shm: ${code}${code === 'ENOSPC' ? ' (the sandbox\'s disk is full: its files or inodes)' : ''}`, { code: 'io' });
        }
        before = await diskUsed(this.view(this.dirs.disk));
        const spec = this.specFor(late ? ['/'] : argv, o, limits, runDir, rootless);
        const stdinMode = live || late || o.stdin !== undefined ? 'pipe' : 'ignore';
        // the run's clock: its wall-clock limit, the CPU-time watch and the abort signal
        const clock = (ro: SandboxRunOptions, wallMs: number) => {
          wall = setTimeout(() => kill('timeout'), wallMs);
          if (limits.cpuTimeMs !== undefined && !noCgroup) {
            const limitNs = limits.cpuTimeMs * 1e6;
            const every = Math.max(10, Math.min(100, Math.floor(limits.cpuTimeMs / 10)));
            let reading = false;
            poll = setInterval(() => {
              if (reading) return;
              reading = true;
              void cpuUsageNs(cg).then((ns) => { if (ns !== undefined && ns - baseCpuNs >= limitNs) kill('cpu-time'); }).finally(() => { reading = false; });
            }, every);
          }
          ro.signal?.addEventListener('abort', onAbort);
          if (ro.signal?.aborted) kill('error');
        };
        // an armed run gets its command now: its clock, disk and CPU count from here
        const fire = async () => {
          waiting?.();
          const fired = await late!;
          runOptions = fired.o;
          entry.armed = false;
          t0 = performance.now();
          before = await diskUsed(this.view(this.dirs.disk));
          baseStats = safe(() => cg.stats(), undefined);
          baseCpuNs = (await cpuUsageNs(cg)) ?? 0;
          resetPeak(cg);
          clock(fired.o, fired.o.timeoutMs ?? limits.wallTimeMs);
          if (fired.o.stdin !== undefined) handle?.stdin?.end(fired.o.stdin);
          else handle?.stdin?.end();
          return { args: fired.argv, env: this.envFor(fired.o), cwd: this.cwdFor(fired.o) };
        };
        handle = this.runtime.spawn(id, {
          spec, stdio: [stdinMode, 'pipe', 'pipe'], killSignal: 'SIGKILL',
          // the usage is read once the process has exited, before the runtime removes the cgroup
          beforeRemove: async () => { usage = await this.usage(cg, t0, before, baseStats); oomKills = safe(() => cg.oomKills(), 0); },
          ...(!late && !live && o.stdin !== undefined ? { input: o.stdin } : {}),
          ...(late ? { lateExec: fire } : {}),
          ...(this.network ? { network: this.network.runtime, onNetwork: (pid: number) => guardNetwork(pid, this.network!) } : {}),
          ...(typeof this.user() === 'string' ? { user: this.user() as string } : {}),
          ...(rootless ? { copyJoinedMount: true } : {}),
        });
        if (reason) handle.kill('SIGKILL');
        if (live && handle.stdin) stdin.pipe(handle.stdin);
        else stdin.resume();
        handle.stdin?.on('error', () => { /* the command closed its stdin */ });
        const cap = limits.outputBytes;
        const take = (into: Buffer[], sink: PassThrough) => (chunk: Buffer) => {
          if (reason === 'output-limit') return;
          const room = cap - total;
          total += chunk.length;
          const part = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
          if (part.length) {
            if (live) sink.write(part);
            else into.push(part);
          }
          if (total > cap) kill('output-limit');
        };
        const ended = [handle.stdout, handle.stderr].map((s, i) => new Promise<void>((resolve) => {
          if (!s) return resolve();
          s.on('data', take(i === 0 ? out : err, i === 0 ? stdout : stderr));
          s.on('end', resolve);
          s.on('error', () => resolve());
          s.on('close', resolve);
        }));
        if (!late) clock(o, limits.wallTimeMs);
        let r: RuntimeResult | undefined;
        let failure: string | undefined;
        try {
          r = await handle.result;
        } catch (e) {
          failure = (e as Error).message;
        }
        clearTimeout(wall);
        clearInterval(poll);
        // every process of the run is gone with its pid namespace's init: the pipes end now
        await Promise.race([Promise.all(ended), new Promise((res) => setTimeout(res, 2000))]);
        usage ??= await this.usage(cg, t0, before, baseStats);
        const oom = oomKills > 0;
        const cpuNs = (usage.cpuUserMs + usage.cpuSystemMs) * 1e6;
        let status: SandboxStatus;
        if (failure !== undefined && reason === undefined) status = 'error';
        else if (reason === 'output-limit' || reason === 'error') status = reason;
        else if (oom) status = 'memory';
        else if (reason === 'cpu-time' || (limits.cpuTimeMs !== undefined && cpuNs >= limits.cpuTimeMs * 1e6 && r?.signal)) status = 'cpu-time';
        // without a cgroup, RLIMIT_CPU ends a process: SIGXCPU at the soft limit, SIGKILL at the hard
        else if (noCgroup && limits.cpuTimeMs !== undefined && reason === undefined && (r?.signal === osc.signals.SIGXCPU || r?.signal === osc.signals.SIGKILL)) status = 'cpu-time';
        else if (reason === 'timeout') status = 'timeout';
        else if (r?.signal) status = 'signal';
        else status = r?.status === 0 ? 'ok' : 'exit';
        const res: SandboxResult = {
          status, exitCode: r?.status ?? null, signal: r?.signal ? (SIGNAL_NAMES.get(r.signal) ?? String(r.signal)) : null,
          stdout: Buffer.concat(out), stderr: Buffer.concat(err), usage,
        };
        if (rootless?.plan.notEnforced.length) res.notEnforced = rootless.plan.notEnforced;
        if (status === 'error') res.error = failure ?? (runOptions.signal?.aborted ? 'hako: sandbox: the run was aborted' : 'hako: sandbox: the run was killed (close)');
        return res;
      } finally {
        clearTimeout(wall);
        clearInterval(poll);
        runOptions.signal?.removeEventListener('abort', onAbort);
        stdout.end();
        stderr.end();
        this.active.delete(entry);
        // the runtime removes the container (cgroup, state) after the run returns: what is left of
        // it goes off the caller's path, and close() waits for it
        const cleanup = (async () => {
          const k = this.keeper;
          if (!rootless || k === rootless.keeper) await rm(rootless ? k!.view(runDir) : runDir, { recursive: true, force: true }).catch(() => undefined);
          await this.runtime.delete(id, true).catch(() => undefined);
          // the runtime's removal took the cgroup: destroying it again costs a failed rmdir per
          // hierarchy (nine on a v1 host), each a thrown error on the event loop
          if (!noCgroup && (!(cg instanceof V1Manager || cg instanceof V2Manager) || cg.exists())) await safeAsync(() => cg.destroyAsync());
        })();
        this.cleanups.add(cleanup);
        void cleanup.finally(() => this.cleanups.delete(cleanup));
      }
    })();
    entry.done = result.catch(() => undefined);
    return { stdin, stdout, stderr, result, kill: () => kill('error') };
  }

  private async usage(cg: CgroupManager, t0: number, before: number, base?: ReturnType<CgroupManager['stats']>): Promise<SandboxUsage> {
    const wallMs = Math.round(performance.now() - t0);
    const stats = safe(() => cg.stats(), undefined);
    // an armed run's container counted its set-up too: what it used before its command goes
    if (stats?.cpu && base?.cpu) {
      const minus = (a: number | null | undefined, b: number | null | undefined) => (a === null || a === undefined ? a : Math.max(0, a - (b ?? 0)));
      stats.cpu = { ...stats.cpu, userNs: minus(stats.cpu.userNs, base.cpu.userNs) as typeof stats.cpu.userNs,
        systemNs: minus(stats.cpu.systemNs, base.cpu.systemNs) as typeof stats.cpu.systemNs, usageNs: minus(stats.cpu.usageNs, base.cpu.usageNs) as typeof stats.cpu.usageNs };
    }
    const pidsPeak = await pidsPeakOf(cg);
    const after = this.keeper || !sandboxRootless() ? await diskUsed(this.view(this.dirs.disk)) : before;
    const { userMs, systemMs } = cpuSplit(stats?.cpu);
    return {
      wallMs,
      cpuUserMs: userMs,
      cpuSystemMs: systemMs,
      maxRssBytes: stats?.memory?.maxUsage ?? undefined,
      pidsPeak,
      writtenBytes: Math.max(0, after - before),
    };
  }

  /** Reads a file of the sandbox (never through a symbolic link: one in the path is an error). */
  readFile(path: string): Promise<Buffer> { this.open('readFile'); return this.files.readFile(path); }
  /** Writes a file into the sandbox (parents made; never through a symbolic link). */
  writeFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> { this.open('writeFile'); return this.files.writeFile(path, data, mode); }
  /** Copies a host file or directory into the sandbox. */
  copyIn(hostPath: string, path: string): Promise<void> { this.open('copyIn'); return this.files.copyIn(hostPath, path); }
  /** Copies a file or directory of the sandbox to the host; a symbolic link in it is an error. */
  copyOut(path: string, hostPath: string): Promise<void> { this.open('copyOut'); return this.files.copyOut(path, hostPath); }

  /** Kills what runs, and removes everything: cgroups, mounts, the writable layer, the state. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.armed?.cancel(new HakoError(`hako: sandbox ${this.id}: closed`, { code: 'bad-state' }));
      this.armed = undefined;
      for (const a of this.active) a.kill();
      await Promise.all([...this.active].map((a) => a.done));
      await this.resetting?.catch(() => undefined);
      if (this.keeper) {
        // a rootless sandbox: the runs' leftovers are removed through the keeper, then it goes
        // (and the disk and overlay with its namespaces)
        await Promise.all([...this.cleanups]);
        await this.keeper.stop();
        await removeSandboxLayerDir(this.dirs);
      } else {
        // the runs' containers (state, cgroups) go while the layer is unmounted: every process of
        // them has ended with its run (a lazy unmount lets a last removal of a run's /tmp finish)
        await Promise.all([...this.cleanups, removeSandboxLayerDir(this.dirs)]);
      }
      // the directories the runtime keeps for its next containers go with the sandbox
      this.runtime.dropSpares();
      trackOpen(this.dirs, false);
    })();
    return this.closing;
  }

  /** Which limits and safeguards are enforced on this host, and how or why not. */
  static capabilities(): Promise<Record<string, LimitSupport>> {
    return sandboxCapabilities();
  }

  /** Removes what sandboxes of processes that are gone left (a Node process killed mid-run). */
  static async prune(options: { root?: string } = {}): Promise<string[]> {
    const root = options.root ?? defaultSandboxRoot();
    const runtime = runtimeFor(root);
    const removed: string[] = [];
    const gone = new Set<string>();
    for (const id of await listSandboxes(root)) {
      if (await ownerGone(join(root, id))) gone.add(id);
    }
    for (const c of runtime.list()) {
      const m = /^([0-9a-f]{12})-\d+$/.exec(c.id);
      if (!m?.[1]) continue;
      const sb = m[1];
      if (gone.has(sb) || !(await listSandboxes(root)).includes(sb)) await runtime.delete(c.id, true).catch(() => undefined);
    }
    for (const id of gone) {
      await removeSandboxLayerDir(sandboxDirs(root, id)); // without root: its keeper is killed, if it is still there
      removed.push(id);
    }
    return removed;
  }
}

interface RootlessRun { keeper: Keeper; plan: ReturnType<typeof rootlessPlan> }

function keeperSingle(): boolean {
  return keeperMaps().single;
}

function safe<T>(fn: () => T, fallback: T): T {
  try { return fn(); } catch { return fallback; }
}

async function safeAsync(fn: () => Promise<unknown>): Promise<void> {
  try { await fn(); } catch { /* gone */ }
}
