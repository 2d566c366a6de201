// The OCI runtime as a library: create, start, run, exec, kill, delete, state, list, ps.
// The CLI verbs are thin layers over this class; a long-running Node program can use it directly.
import { closeSync, constants as fsc, openSync, readFileSync, renameSync, unlinkSync, watch, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { applyResources, joinPlanWith, onlyDevices, planResources, type ResourcePlan } from '../cgroups/apply.js';
import type { CgroupSteps } from '../cgroups/manager.js';
import { normalizeResources } from '../cgroups/validate.js';
import { delegatedCgroup } from '../cgroups/delegation.js';
import { CgroupError, cgroupManager, type CgroupLayout, type CgroupManager, detectCgroups } from '../cgroups/index.js';
import { NoCgroup } from '../cgroups/none.js';
import { deviceProgramCounts } from '../cgroups/device-filter.js';
import type { LinuxBlockIO, LinuxCPU, LinuxMemory, LinuxNetwork, LinuxPids, LinuxResources } from '../cgroups/resources.js';
import { statsData, type StatsData } from '../cgroups/stats.js';
import { HakoError, HelperError, type HelperFailure, OptionError } from '../errors.js';
import {
  boolean, checkOptions, containerId, CREATE_OPTIONS, EXEC_OPTIONS, object, plainObject, RUN_OPTIONS, RUNTIME_OPTIONS,
} from '../options.js';
import { HelperSession, type LateCommand, type SessionHandlers, type SessionResult, watchOomV1 } from '../helper/session.js';
import type { RuncStats } from '../cgroups/runc-stats.js';
import { HakoProcess } from '../helper/handle.js';
import { Zygote } from '../helper/zygote.js';
import { planAhead } from '../helper/ahead.js';
import { runHooks, runHooksWarn } from './hooks.js';
import { signalNumber } from '../linux/signals.js';
import { startTime } from '../linux/proc.js';
import { containerNamespaces, createPlan, execPlan, setHome, type ConsoleChoice } from '../plan/plan.js';
import { seccompNotifies, type SeccompCompiled } from '../plan/seccomp.js';
import { type Bundle, BundleCache, rootfsOf } from '../config/bundle.js';
import { ConfigError } from '../config/check.js';
import type { BlockIO, CPU, Memory, Network, Pids, Process, Resources, Seccomp, Spec, User } from '../config/types.js';
import { execEnvCount, MAX_EXEC_STRINGS, parseConfig, validateConfig, validateProcess } from '../config/validate.js';
import { KERNEL_MEMORY, withoutKernelMemory } from '../config/validate-linux.js';
import { failureError } from '../helper/failure.js';
import { stdioWithInput } from '../helper/handle.js';
import type { PlanBuilder } from '../helper/plan-builder.js';
import { hostFacts, OwnFacts } from './host.js';
import { defaultStateRoot, isRootless, setgroupsDenied, userNsRefusal } from './rootless.js';
import { checkContainerId } from './ids.js';
import { type ContainerState, finishRemovals, liveStatus, ociState, type OciState, type PreparedWrite, StateStore } from './state.js';
import { dropSpares as dropLockSpares, LOCKS_DIR, procStat, releaseHeldLocks, withLock, withLockSync } from './lock.js';
import type { IdMapPlan } from '../linux/idmap.js';
import { deniesSetgroups, mapActions, writeIdMapsAsync } from './idmaps.js';
import { ContainerFiles, homeFor, resolveUser, RootFileCache } from './users.js';
import { containerDevices, containerNetwork, removeContainerNetwork } from '../network/container.js';
import { randomHex } from '../linux/random.js';

export interface RuntimeOptions {
  /** Where container state lives (runc's --root). */
  root?: string;
  /** Warnings (a failing poststart or poststop hook): default stderr. */
  warn?: (message: string) => void;
  /** Use this cgroup version on a hybrid host (default 1, which enforces the limits there). */
  cgroupVersion?: 1 | 2;
  /** Called by delete once the container's processes are gone, before its state is removed: what a
   * face attached outside the runtime (the CLI's --network: CNI DEL) is let go here. */
  onRemove?: (id: string) => Promise<void>;
  /** The network config directory for `network: NAME` (default: $HAKO_NET_DIR, /etc/hako/net.d for root). */
  netDir?: string;
  /** Fork each container's helper from a resident one this Runtime starts on its first container
   * (default true; docs/PROTOCOL.md "The zygote"): no spawn and exec of the helper per container.
   * It never keeps the process alive and goes when idle; false spawns every helper. */
  zygote?: boolean;
}

/**
 * What create and run take. The container's config is a bundle's config.json (`bundle`) or a Spec
 * object (`spec`); the overrides (`args`, `env`, `cwd`, `user`, `hostname`, `resources`, `rootfs`)
 * change it for this container only. Whichever it is, the result is checked as config.json is
 * (errors name its JSON path) before anything is created, and the container's state keeps it.
 */
export interface CreateOptions {
  /** The bundle directory. Its config.json is read unless `spec` is given; then it is only the
   * directory a relative root.path (and relative mount sources) are taken from. */
  bundle?: string;
  /** The container's config as an object, instead of the bundle's config.json. Its root.path must be
   * absolute unless `bundle` or `rootfs` is given. The object is copied, never changed. */
  spec?: Spec;
  /** The root filesystem: sets root.path. */
  rootfs?: string;
  /** Sets process.args: the command and its arguments. */
  args?: string[];
  /** Sets process.env (every variable, as KEY=value). */
  env?: string[];
  /** Sets process.cwd (absolute, inside the container). */
  cwd?: string;
  /** Sets process.user: an object as in config.json, or `user[:group]` (names or numbers; names
   * from the rootfs's /etc/passwd and /etc/group). */
  user?: User | string;
  /** Sets hostname (the spec needs a new uts namespace). */
  hostname?: string;
  /** Sets these fields of linux.resources (each field replaces the spec's). */
  resources?: LinuxResources;
  /** Write the container's init pid here once it is created. */
  pidFile?: string;
  /** A unix socket to send the terminal's master fd to (process.terminal). */
  consoleSocket?: string;
  /** Use chroot-like MS_MOVE instead of pivot_root (for a rootfs on a ramfs). */
  noPivot?: boolean;
  /** Keep the caller's session keyring instead of a new one (--no-new-keyring). */
  noNewKeyring?: boolean;
  /** Pass this many fds on, from 3 up, to the container's process. */
  preserveFds?: number;
  /** stdio for the container (default: inherit this process's). */
  stdio?: 'inherit' | 'pipe' | 'ignore' | Array<'inherit' | 'pipe' | 'ignore' | number>;
  /** Bytes kept of a piped stdout and of a piped stderr (default 64 MiB); the rest is read and
   * dropped, and the result's stdoutTruncated / stderrTruncated say so. */
  maxBuffer?: number;
  /** Aborting kills the container's init (SIGKILL) and rejects with a HakoError whose code is
   * 'aborted'; for create and run -d, only until the call has returned (its setup). */
  signal?: AbortSignal;
  /** As signal, after this many milliseconds, with code 'timeout'. */
  timeoutMs?: number;
  /** create and run -d: kill the container's init (SIGKILL) when this process exits normally
   * (process.exit, or nothing left to do); its state is left, stopped, for delete. A process
   * killed by a signal runs no code: a foreground run (Runtime.spawn) dies with it instead. */
  killOnExit?: boolean;
  /** Called with the init's pid once it is in its namespaces, before its mounts are final and before
   * the process runs (where prestart hooks run): the CLI's --network attaches the network here. */
  onNetwork?: (pid: number) => Promise<void>;
  /** The container's network: 'none' (a new network namespace with only lo, up), 'host' (no new
   * one), 'ns:PATH' (join it) or a CNI network's name ('bridge' is built in: an address on the
   * bridge hako0, a default route, NAT out; other containers of the network by name). Without it
   * the config's namespaces decide (as runc). */
  network?: string;
  /** With a CNI network: ports published on the host, '[HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]'. */
  publish?: string[];
  /** Show the network's steps (pin, CNI ADD of each plugin: veth, address, route, port rules) as
   * they happen: true for stderr, or a function that takes each line. */
  explain?: boolean | ((line: string) => void);
}

export interface RunOptions extends CreateOptions {
  /** Return once the process is running, leaving the container (delete it when done). */
  detach?: boolean;
  /** Keep the stopped container's state (run --keep). */
  keep?: boolean;
  /** Signals this process receives that go on to the container (foreground run). */
  forwardSignals?: NodeJS.Signals[];
  /** Written to the container's stdin, which is then closed (a foreground run; stdin is piped for it). */
  input?: string | Buffer;
  /** Signal for the container's init when this process goes away (a foreground run: default
   * SIGKILL; false lets the container run on without its caller). */
  killSignal?: NodeJS.Signals | number | false;
  /** A foreground run: called once the container's process has exited, before its cgroup and state
   * are removed (the sandbox reads the cgroup's usage there); run() resolves after it. */
  beforeRemove?: () => Promise<void> | void;
  /**
   * Make the container ahead of time: everything (namespaces, mounts, cgroup, credentials) is set
   * up and the init waits for its command, which this gives whenever it is needed (the whole
   * environment, and the working directory); the config's process.args, env and cwd are not
   * used. A foreground run only; a rejection ends the container.
   */
  lateExec?: () => Promise<LateCommand> | LateCommand;
  /** With a mount namespace joined by path: a new one, a copy of it, is made for the container
   * (the joined one is left as it is). For the sandbox's rootless runs; not an OCI field. */
  copyJoinedMount?: boolean;
}

export interface ExecOptions {
  /** Give the process a terminal (sets process.terminal). */
  tty?: boolean;
  /** A unix socket to send the terminal's master fd to. */
  consoleSocket?: string;
  /** Return once the process has started. */
  detach?: boolean;
  /** Write the process's pid here. */
  pidFile?: string;
  /** Pass this many fds on, from 3 up, to the process. */
  preserveFds?: number;
  /** As CreateOptions.stdio. */
  stdio?: CreateOptions['stdio'];
  /** Signals this process receives that go on to the process (without detach). */
  forwardSignals?: NodeJS.Signals[];
  /** Run as `user[:group]` (names or numbers, names from the container's /etc/passwd and
   * /etc/group): sets process.user's uid and gid (exec --user). */
  user?: string;
  /** As CreateOptions.maxBuffer. */
  maxBuffer?: number;
  /** Written to the process's stdin, which is then closed (stdin is piped for it). */
  input?: string | Buffer;
  /** Aborting kills the process (SIGKILL) and rejects with code 'aborted' (exec -d: until it returned). */
  signal?: AbortSignal;
  /** As signal, after this many milliseconds, with code 'timeout'. */
  timeoutMs?: number;
  /** Signal for the process when this one goes away (default SIGKILL unless detached; false: none). */
  killSignal?: NodeJS.Signals | number | false;
}

/** What exec takes as its process: a Process, or a function that builds it from the container's
 * own process (config.json's, as checked at create; undefined when it has none), which is read
 * once, with the container's state (hako exec builds its command line's process so). */
export type ExecProcess = Process | ((container: Process | undefined) => Process);

export interface RunResult {
  /** The exit code a shell would show: the status, or 128 + the signal number (0 when detached). */
  exitCode: number;
  /** The exit status, or null when a signal ended the process. */
  status: number | null;
  /** The signal that ended the process, or null. */
  signal: number | null;
  /** The process's pid on the host. */
  pid: number;
  /** The captured stdout (stdio 'pipe'). */
  stdout?: Buffer;
  /** The captured stderr (stdio 'pipe'). */
  stderr?: Buffer;
  /** The piped stdout went past maxBuffer: only its first maxBuffer bytes are kept. */
  stdoutTruncated?: boolean;
  /** The piped stderr went past maxBuffer. */
  stderrTruncated?: boolean;
  /** A foreground run: the OOM killer killed a process of the container (its cgroup's OOM counter). */
  oomKilled?: boolean;
}

/** Runtime.stats: runc's `events --stats` event. */
export interface ContainerStats {
  /** Always 'stats' (runc's event type). */
  type: 'stats';
  /** The container's id. */
  id: string;
  /** The figures, from the container's cgroup. */
  data: StatsData;
}

/** Runtime.events: one event of runc's `events` (a JSON line each in the CLI). */
export interface RuncEvent {
  type: 'stats' | 'oom';
  id: string;
  /** A stats event's figures, in runc's own shape (bigints where the kernel's numbers need them). */
  data?: RuncStats;
}

export interface EventsOptions {
  /** Stats every intervalMs (default 5000, runc's 5s). */
  intervalMs?: number;
  /** One stats event, then return (`events --stats`). */
  once?: boolean;
  /** Stops watching (the promise resolves). */
  signal?: AbortSignal;
}

/** The container process state a seccomp agent gets with the listener fd (runtime-spec
 * config-linux.md "containerProcessState", as runc sends it): pid is the process's whose filter
 * it is (the init's, or an exec'd process's). */
function seccompListenerState(spec: Spec, state: OciState, pid: number): string {
  const metadata = spec.linux?.seccomp?.listenerMetadata;
  return JSON.stringify({ ociVersion: state.ociVersion, fds: ['seccompFd'], pid, ...(metadata ? { metadata } : {}), state });
}

/** The keys of CreateOptions that change the spec. */
const OVERRIDES = ['args', 'env', 'cwd', 'user', 'hostname', 'resources', 'rootfs'] as const;

/**
 * The container's config: the bundle's config.json or options.spec, with the overrides, checked as
 * config.json is before anything is created. A string user is resolved later, in the rootfs.
 */
function effectiveBundle(verb: string, o: CreateOptions, warn: (m: string) => void, bundles: BundleCache): Bundle {
  const overridden = OVERRIDES.some((k) => o[k] !== undefined);
  if (o.spec === undefined) {
    if (o.bundle === undefined) throw new OptionError(verb, 'options', 'needs a bundle directory (bundle) or a Spec object (spec)');
    if (!overridden) return withoutKernelMemoryLimits(bundles.load(o.bundle, warn));
  }
  let raw: Record<string, unknown>;
  try {
    // checked (and warned about) once, below, with the overrides
    raw = JSON.parse(JSON.stringify(o.spec ?? bundles.load(o.bundle!, () => { /* warned below */ }).spec)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof HakoError) throw e;
    throw new OptionError(verb, 'options.spec', `cannot be copied as JSON (${(e as Error).message})`);
  }
  const source = `${verb}: spec`;
  const obj = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : undefined);
  if (o.rootfs !== undefined) raw.root = { ...obj(raw.root), path: resolve(o.rootfs) };
  const proc = obj(raw.process) ?? (o.args !== undefined ? { cwd: '/' } : undefined);
  if (proc) {
    if (o.args !== undefined) proc.args = o.args;
    if (o.env !== undefined) proc.env = o.env;
    if (o.cwd !== undefined) proc.cwd = o.cwd;
    if (o.user !== undefined && typeof o.user !== 'string') proc.user = o.user;
    raw.process = proc;
  }
  if (o.hostname !== undefined) raw.hostname = o.hostname;
  if (o.resources !== undefined) {
    const linux = obj(raw.linux) ?? {};
    linux.resources = { ...obj(linux.resources), ...o.resources };
    raw.linux = linux;
  }
  const spec = validateConfig(raw, warn, source);
  if (o.bundle === undefined && !isAbsolute(spec.root.path)) {
    throw new ConfigError('root.path', 'must be an absolute path when there is no bundle directory (or give options.rootfs)', source);
  }
  const bundle = o.bundle !== undefined ? resolve(o.bundle) : dirname(spec.root.path);
  return withoutKernelMemoryLimits({ spec, bundle, rootfs: rootfsOf(bundle, spec.root.path, source) });
}

/** The explain option as a function that takes each line. */
function explainer(option: CreateOptions['explain']): ((line: string) => void) | undefined {
  if (!option) return undefined;
  if (typeof option === 'function') return option;
  return (line) => process.stderr.write(`${line}\n`);
}

/** hako's own bounding set for the planner, when the container has no user namespace (in one, the
 * process starts with every capability of that namespace): it names what capset will refuse. */
/** What tells one container from a later one with the same id: when it was created, and its init. */
type ContainerIdentity = Pick<ContainerState, 'created' | 'pid'>;

function sameContainer(state: ContainerState, which: ContainerIdentity): boolean {
  return state.created === which.created && state.pid === which.pid;
}

function withHostBounding(spec: Spec, own: OwnFacts): { hostBounding?: bigint } {
  if (spec.linux?.namespaces?.some((n) => n.type === 'user')) return {};
  const bounding = own.boundingSet();
  return bounding === undefined ? {} : { hostBounding: bounding };
}

/** Whether the container gets a new pid namespace (not one joined by path), whose processes the
 * kernel kills, and waits for, when its init exits (zap_pid_ns_processes). */
function ownPidNamespace(spec: Spec): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path);
}

/** The bundle without linux.resources.memory.kernel and kernelTCP: validation warned about them,
 * and they are neither applied nor kept in the state's config. */
function withoutKernelMemoryLimits(b: Bundle): Bundle {
  const r = b.spec.linux?.resources;
  if (r) b.spec.linux!.resources = withoutKernelMemory(r);
  return b;
}

const CONFIG_SNAPSHOT = 'config.json';

/** Compile-time: the config's linux.resources (config/types.ts) and the cgroups' own copy
 * (cgroups/resources.ts, which may not import config/) name the same fields; the config's is
 * passed to the cgroups' without a cast, so the field types agree too. */
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const resourceFieldsMatch: [
  SameKeys<Resources, LinuxResources>, SameKeys<Memory, LinuxMemory>, SameKeys<CPU, LinuxCPU>,
  SameKeys<BlockIO, LinuxBlockIO>, SameKeys<Pids, LinuxPids>, SameKeys<Network, LinuxNetwork>,
] = [true, true, true, true, true, true];
void resourceFieldsMatch;

/** The fd 2 of a created container's init (still the helper, before its exec), opened again for
 * appending, or undefined (a socket, a gone init). The init's start time is checked after the
 * open, so a pid reused meanwhile is never written to. */
function openInitStderr(state: ContainerState): number | undefined {
  if (!(state.pid > 0)) return undefined;
  let fd: number;
  try {
    fd = openSync(`/proc/${state.pid}/fd/2`, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  } catch {
    return undefined;
  }
  if (procStat(state.pid)?.startTime !== state.pidStartTime) {
    closeSync(fd);
    return undefined;
  }
  return fd;
}

/** A helper failure with runc's exit codes: 255 for any failed exec, 1 for the rest (a program
 * that is missing is a failed create, not the container's 127). */
function ociFailure(verb: string, builder: PlanBuilder, failure: HelperFailure): HakoError {
  const err = failureError(verb, builder, failure);
  // a user namespace refused to a user without root: the host setting that refuses it, and the fix
  const restriction = userNsRefusal(failure, builder.describe(failure.stage, failure.index));
  return new HelperError(restriction ? `${err.message}: ${restriction}` : err.message, failure, verb === 'exec' ? 255 : 1, err.code);
}

/** How long the init may take to get ready: 10 s, plus the createContainer hooks' own timeouts
 * (which run inside that phase); a hook without a timeout lifts the limit. The same for the way
 * from READY (or `start`) to the exec, with the startContainer hooks. */
function setupTimeout(spec: Spec, kind: 'createContainer' | 'startContainer' = 'createContainer'): number {
  const hooks = spec.hooks?.[kind] ?? [];
  if (hooks.some((h) => !h.timeout)) return 2 ** 31 - 1;
  return 10_000 + hooks.reduce((sum, h) => sum + (h.timeout ?? 0) * 1000, 0);
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How often start looks whether the init is still there while it has not answered on exec.fifo
 * (its answer and its exec are events; only its death before answering is not). */
const INIT_CHECK_MS = 25;

/**
 * start's wait on exec.fifo (fd: its read end, opened O_NONBLOCK), on the event loop: the init
 * opens the fifo once it has a reader, writes "0", runs the startContainer hooks and execs (the
 * fifo is close-on-exec: EOF); "E" before EOF says it failed on the way. A write end of our own,
 * held until "0" came, keeps the fifo from reading EOF before the init has opened it; the fifo is
 * read through a libuv pipe (epoll), never by a threadpool read that blocks.
 */
function watchExecFifo(fd: number, id: string, spec: Spec, initWaits: () => boolean): Promise<'executed' | 'failed'> {
  return new Promise((resolve, reject) => {
    let ours: number | undefined;
    try {
      ours = openSync(`/proc/self/fd/${fd}`, fsc.O_WRONLY | fsc.O_NONBLOCK); // libuv opens close-on-exec
    } catch (e) {
      closeSync(fd);
      reject(new HakoError(`hako: cannot start container ${id}: opening exec.fifo failed: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { code: 'io' }));
      return;
    }
    const dropOurs = () => {
      if (ours !== undefined) { try { closeSync(ours); } catch { /* closed */ } ours = undefined; }
    };
    // the socket owns fd from here (it closes it)
    const pipe = new Socket({ fd, readable: true, writable: false });
    let started = false;
    let failed = false;
    let settled = false;
    const timers: { deadline?: NodeJS.Timeout; check?: NodeJS.Timeout } = {};
    const finish = (err?: HakoError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timers.deadline);
      clearInterval(timers.check);
      dropOurs();
      pipe.destroy();
      if (err) reject(err);
      else resolve(failed ? 'failed' : 'executed');
    };
    const arm = (ms: number, message: string) => {
      clearTimeout(timers.deadline);
      timers.deadline = setTimeout(() => finish(new HakoError(message, { code: 'timeout' })), ms);
    };
    arm(10_000, `hako: cannot start container ${id}: its init did not answer on exec.fifo within 10 s`);
    // the init gone before "0" was read: what it wrote may still be in the fifo, so our write end
    // goes and the fifo is read to its EOF, which says how it ended
    const initGone = () => {
      clearInterval(timers.check);
      dropOurs();
    };
    timers.check = setInterval(() => { if (!initWaits()) initGone(); }, INIT_CHECK_MS);
    pipe.on('data', (got: Buffer) => {
      if (!started && got.includes(0x30)) {
        started = true;
        clearInterval(timers.check);
        dropOurs(); // from now on EOF is the init's exec (or its end)
        const limit = setupTimeout(spec, 'startContainer');
        arm(limit, `hako: cannot start container ${id}: its init did not run the process within ${Math.round(limit / 1000)} s of start`);
      }
      if (got.includes(0x45)) failed = true;
    });
    pipe.on('end', () => finish(started ? undefined : new HakoError(`hako: cannot start container ${id}: its init exited before it started`, { code: 'not-running' })));
    pipe.on('error', (e) => finish(new HakoError(`hako: cannot start container ${id}: reading exec.fifo failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { code: 'io' })));
    if (!initWaits()) initGone();
  });
}


/** The outcome of an exec watched with a bound: 'timeout' when it did not come in time. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), ms); })]).finally(() => clearTimeout(timer));
}


/** Foreground runs' containers still being removed after run() returned, by id. */
const removals = new Map<string, { root: string; done: Promise<void> }>();

/** Resolves once no foreground run's removal is under way in this process (hako serve's worker
 * waits for it before it says a command is over, rather than polling). */
export async function removalsSettled(): Promise<void> {
  for (let round = 0; removals.size > 0 && round < 100; round++) {
    await Promise.allSettled([...removals.values()].map((r) => r.done));
  }
}

/** What foreground runs clean up if this process exits while they run: one 'exit' listener. */
const exitCleanups = new Set<() => void>();
/** killOnExit of detached containers: kept for the life of this process. */
const detachedCleanups = new Set<() => void>();
function atExit(fn: () => void, set: Set<() => void> = exitCleanups): void {
  if (!process.listeners('exit').includes(runExitCleanups)) process.on('exit', runExitCleanups);
  set.add(fn);
}
/** The Runtimes' sweeps of the shared /hako cgroup parents: run last at exit. */
const parentSweeps = new Set<() => void>();
function runExitCleanups(): void {
  // the async work under way never finishes now: our own locks go first (the cleanups would wait
  // for them), the deletions under way are finished after
  releaseHeldLocks();
  for (const fn of [...exitCleanups, ...detachedCleanups]) {
    try { fn(); } catch { /* the next one still runs */ }
  }
  finishRemovals();
  for (const fn of parentSweeps) {
    try { fn(); } catch { /* the next one still runs */ }
  }
  exitCleanups.clear();
  detachedCleanups.clear();
  parentSweeps.clear();
}

/** How long a Runtime keeps the shared /hako cgroup parents after it removed a container's
 * cgroup (and none since): a container made meanwhile needs one mkdir per hierarchy, not two,
 * and its teardown one rmdir, not two. */
export const PARENT_IDLE_MS = 500;

/** The kill-on-exit signal of a foreground run or exec: SIGKILL unless told otherwise. */
function killSignalOf(option: NodeJS.Signals | number | false | undefined, detached: boolean): number | undefined {
  if (option === false || (option === undefined && detached)) return undefined;
  if (option === undefined) return 9;
  const n = typeof option === 'number' ? option : signalNumber(String(option));
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 64) throw new HakoError(`hako: killSignal: unknown signal '${String(option)}'`, { code: 'bad-option' });
  return n;
}

/** A detached call returns while the process runs on: a pipe to it would have no reader (and
 * would keep this process alive), so 'pipe' is refused there with the way to get streams. */
function refusePipes(stdio: CreateOptions['stdio'], verb: string, input: unknown): void {
  const list = stdio === undefined ? [] : typeof stdio === 'string' ? [stdio] : stdio;
  const streams = verb === 'exec -d' ? 'Runtime.execSpawn' : 'Runtime.spawn';
  if (list.includes('pipe')) {
    throw new HakoError(`hako: ${verb}: stdio 'pipe' is not available when the process outlives the call (nothing would read it): use ${streams} for live streams, or pass 'ignore', 'inherit' or a file descriptor`, { code: 'bad-option' });
  }
  if (input !== undefined) throw new HakoError(`hako: ${verb}: input is only for a process the call waits for: use ${streams}`, { code: 'bad-option' });
}

/**
 * Writes the pid file as runc does, atomically: a new temporary file beside it, renamed over it
 * (which replaces a link there rather than following it). The temporary name is unpredictable and
 * created exclusively (O_EXCL, which never follows a link), so links planted in a shared directory
 * cannot redirect the write to another file.
 */
function writePidFile(path: string, pid: number): void {
  const target = resolve(path);
  for (let attempt = 0; ; attempt++) {
    const tmp = join(dirname(target), `.${basename(target)}.${randomHex(8)}.tmp`);
    let fd: number;
    try {
      fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && attempt < 16) continue;
      throw new HakoError(`hako: cannot write the pid file ${path}: ${code ?? String(e)}`, { code: 'io' });
    }
    try {
      try { writeSync(fd, String(pid)); } finally { closeSync(fd); }
      renameSync(tmp, target);
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* gone */ }
      throw new HakoError(`hako: cannot write the pid file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { code: 'io' });
    }
    return;
  }
}

/** The id maps of the user namespace a container creates (none when it joins one or has none). */
/** The limits linux.resources sets (device rules aside, which runc ignores rootless too). */
function resourceLimits(spec: Spec): string[] {
  return Object.entries(spec.linux?.resources ?? {})
    .filter(([k, v]) => k !== 'devices' && v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v).length === 0)).map(([k]) => k);
}

function containerMaps(spec: Spec): IdMapPlan {
  const userNs = (spec.linux?.namespaces ?? []).find((n) => n.type === 'user');
  if (!userNs || userNs.path) return { uid: [], gid: [] };
  const ranges = (maps: { containerID: number; hostID: number; size: number }[] | undefined) => (maps ?? []).map((m) => ({ inside: m.containerID, outside: m.hostID, count: m.size }));
  return { uid: ranges(spec.linux?.uidMappings), gid: ranges(spec.linux?.gidMappings) };
}

export class Runtime {
  /** @internal The state directory (the CLI reads records through it). */
  readonly store: StateStore;
  /** @internal One command's process (the CLI), which has nothing else to do: a foreground run's
   * container is removed at once and synchronously when its process has exited (removeNow), not
   * on the event loop after run() returns. */
  oneShot = false;
  /** @internal Whether no foreground run of this process has its container still being removed
   * (removeLater): then nothing is left to finish once run() has returned (removeNow). */
  settled(): boolean {
    return removals.size === 0;
  }

  private readonly warn: (message: string) => void;
  private readonly onRemove: ((id: string) => Promise<void>) | undefined;
  private readonly netDir: string | undefined;

  constructor(options: RuntimeOptions = {}) {
    checkOptions('Runtime', options, object(RUNTIME_OPTIONS));
    this.store = new StateStore(options.root ?? defaultStateRoot(), {}, [CONFIG_SNAPSHOT]);
    this.warn = options.warn ?? ((m) => process.stderr.write(`${m}\n`));
    this.onRemove = options.onRemove;
    this.netDir = options.netDir;
    if (options.cgroupVersion) this.cgroupVersion = options.cgroupVersion;
    if (options.zygote !== false) this.zygote = new Zygote();
  }

  /** Where this Runtime's helpers are forked from, unless zygote: false. */
  private readonly zygote?: Zygote;

  /** The namespaces the last container's plan let its helper make ahead (planAhead): the next
   * container's helper makes these as it starts. */
  private ahead = 0;

  /** Launches (create, run) of this Runtime from their helper's start to READY (or failure). */
  private launching = 0;

  private readonly cgroupVersion?: 1 | 2;

  /** Each bundle's checked config.json, read again only when the file changes. */
  private readonly bundles = new BundleCache();

  /** The rootfs files (/etc/passwd for HOME) the helpers read, kept while they are unchanged. */
  private readonly rootFiles = new RootFileCache();

  /** @internal What the caches answered (tests: a hit is seen here, not in timing). */
  cacheCounts(): Record<'config' | 'deviceProgram' | 'seccomp' | 'rootFiles', { hits: number; misses: number }> {
    return {
      config: { ...this.bundles.counts }, deviceProgram: { ...deviceProgramCounts }, seccomp: { ...this.seccompCounts }, rootFiles: { ...this.rootFiles.counts },
    };
  }

  /** Compiled seccomp filters (the helper's libseccomp output), by their config (as JSON): a
   * container with the same filter gets the program to load as it is (no libseccomp run). */
  private readonly seccompPrograms = new Map<string, Buffer>();
  private readonly seccompCounts = { hits: 0, misses: 0 };

  /** What the planner gets of a kept program for this filter, and where to keep the one it asks for. */
  private seccompFor(seccomp: Seccomp | undefined): { compiled?: SeccompCompiled; keep?: (program: Buffer) => void } {
    if (!seccomp || seccompNotifies(seccomp)) return {};
    const key = JSON.stringify(seccomp);
    const program = this.seccompPrograms.get(key);
    if (program) {
      this.seccompCounts.hits++;
      return { compiled: { program } };
    }
    this.seccompCounts.misses++;
    return {
      compiled: { wanted: true },
      keep: (p) => {
        if (this.seccompPrograms.size >= 64) this.seccompPrograms.delete(this.seccompPrograms.keys().next().value as string);
        this.seccompPrograms.set(key, p);
      },
    };
  }

  /** What this process knows of itself (its user namespace, its bounding set): read once. */
  private readonly own = new OwnFacts();

  private spec(state: ContainerState): Spec {
    return parseConfig(readFileSync(state.config, 'utf8'), () => { /* warned at create */ });
  }

  /** The host's cgroup layout, read once per Runtime (mountinfo does not change under us). */
  private layout?: CgroupLayout;

  private cgroupFor(cgroupsPath: string | undefined, id: string): CgroupManager {
    this.layout ??= detectCgroups();
    return cgroupManager(cgroupsPath, id, { layout: this.layout, keepParent: true, ...(this.cgroupVersion ? { version: this.cgroupVersion } : {}) });
  }

  /** The shared /hako parents a removed cgroup leaves (keepParent): removed where empty once this
   * Runtime has removed no cgroup for PARENT_IDLE_MS, or when this process exits, whichever
   * comes first (a process killed by a signal leaves them: hako's next teardown there removes them). */
  private parents?: { cgroup: CgroupManager; timer?: NodeJS.Timeout; sweep: () => void };

  /** @internal How many times the parents were swept (tests). */
  parentSweepCount = 0;

  private parentsLater(cgroup: CgroupManager, inUse = false): void {
    const p = this.parents ??= {
      cgroup,
      sweep: () => {
        clearTimeout(p.timer);
        p.timer = undefined;
        this.parentSweepCount++;
        p.cgroup.removeParents();
      },
    };
    p.cgroup = cgroup;
    clearTimeout(p.timer);
    p.timer = undefined;
    atExit(p.sweep, parentSweeps);
    if (inUse) return;
    p.timer = setTimeout(() => {
      p.timer = undefined;
      parentSweeps.delete(p.sweep);
      this.parentSweepCount++;
      p.cgroup.removeParentsAsync().catch(() => { /* in use, or gone */ });
    }, PARENT_IDLE_MS);
    p.timer.unref();
  }

  private cgroup(state: ContainerState): CgroupManager {
    const saved = (state.cgroup ?? {}) as { cgroupsPath?: string; none?: boolean };
    if (saved.none) return new NoCgroup(this.cgroupVersionHere(), state.pid, state.id);
    return this.cgroupFor(saved.cgroupsPath, state.id);
  }

  private cgroupVersionHere(): 1 | 2 {
    if (this.cgroupVersion) return this.cgroupVersion;
    // no cgroup filesystem here (a rootless container's NoCgroup): v1's shape, an empty tmpfs for a cgroup mount
    try { this.layout ??= detectCgroups(); } catch { return 1; }
    return this.layout.mode === 'unified' ? 2 : 1;
  }

  /**
   * The cgroup of a new container. Rootless where no cgroup filesystem is visible at all (hako in
   * a container without /sys/fs/cgroup): none, with a warning, when the config names no
   * cgroupsPath and sets no limits, as runc's rootless cgroup manager skips it; otherwise refused.
   */
  private cgroupForRun(spec: Spec, id: string, state: ContainerState): CgroupManager {
    try {
      // rootless without a cgroupsPath: in the caller's delegated cgroup, if it has one (as runc,
      // whose default path is relative to its own cgroup); the state keeps the path for later verbs
      if (isRootless() && !spec.linux?.cgroupsPath && this.cgroupVersion === undefined) {
        const d = delegatedCgroup();
        if (d.delegation) {
          const path = d.delegation.cgroupsPath(id);
          state.cgroup = { ...state.cgroup as object, cgroupsPath: path };
          return this.cgroupFor(path, id);
        }
      }
      return this.cgroupFor(spec.linux?.cgroupsPath, id);
    } catch (e) {
      if (!isRootless() || !(e instanceof HakoError) || e.code !== 'unsupported' || !/no cgroup filesystem is mounted/.test(e.message)) throw e;
      const why = e.message.replace(/^hako: (cgroup: )?/, '');
      if (spec.linux?.cgroupsPath) throw new HakoError(`hako: config.json: linux.cgroupsPath: hako runs rootless and ${why}`, { code: 'cgroup' });
      const limits = resourceLimits(spec);
      if (limits.length) throw new HakoError(`hako: config.json: linux.resources.${limits[0]}: cannot be applied: hako runs rootless and ${why}`, { code: 'cgroup' });
      this.warn(`hako: rootless: the container runs without a cgroup (${why}), as with runc's rootless cgroup manager`);
      // v1's shape: a cgroup mount is an empty tmpfs (there is no hierarchy to show)
      return new NoCgroup(1, 0, id);
    }
  }

  /**
   * Makes the container's cgroup. Rootless (not real root: rootless podman runs hako as root of
   * the user's namespace), a cgroup that cannot be made is skipped as runc's rootless cgroup
   * manager skips it, when the config names no cgroupsPath and sets no limits (device rules
   * aside, which runc ignores rootless too): returns the NoCgroup to use then, with a warning.
   * Limits that cannot be applied are refused, naming the field.
   */
  private async createCgroup(cgroup: CgroupManager, spec: Spec, id: string): Promise<NoCgroup | undefined> {
    try {
      await cgroup.createAsync();
      return undefined;
    } catch (e) {
      const errno = e instanceof CgroupError ? e.errno : undefined;
      if (!isRootless() || !['EACCES', 'EPERM', 'EROFS'].includes(errno ?? '')) throw e;
      if (spec.linux?.cgroupsPath) throw e;
      try { cgroup.destroy(); } catch { /* what was made in writable hierarchies goes; nothing else */ }
      this.parentsLater(cgroup);
      const limits = resourceLimits(spec);
      if (limits.length) {
        throw new HakoError(`hako: config.json: linux.resources.${limits[0]}: cannot be applied: hako runs rootless and cannot create the container's cgroup (${(e as Error).message.replace(/^hako: /, '')})`, { code: 'cgroup' });
      }
      this.warn(`hako: rootless: the container runs without a cgroup (${(e as Error).message.replace(/^hako: /, '')}), as with runc's rootless cgroup manager`);
      return new NoCgroup(this.cgroupVersionHere(), 0, id);
    }
  }

  private hookState(state: ContainerState, status = liveStatus(state)): OciState {
    return ociState(state, status);
  }

  /** Creates a container: everything but the user's process, which waits for `start`. */
  async create(id: string, options: CreateOptions): Promise<void> {
    checkOptions('create', id, containerId, 'id');
    checkOptions('create', options, object(CREATE_OPTIONS));
    refusePipes(options.stdio, 'create', (options as RunOptions).input);
    await this.launchInit(id, options, 'create');
  }

  /** Starts a created container's process. */
  async start(id: string): Promise<void> {
    checkOptions('start', id, containerId, 'id');
    const state = this.read(id);
    const status = liveStatus(state);
    if (status === 'stopped') throw new HakoError(`hako: cannot start a container that has stopped`, { code: 'not-running' });
    if (status !== 'created') throw new HakoError(`hako: cannot start an already ${status} container`, { code: 'bad-state' });
    const fifo = this.store.file(id, 'exec.fifo');
    // the init's stderr (the container's, as create got it), opened while the init still waits on
    // exec.fifo: a failure after this point is told there too, where conmon or containerd's shim
    // show it (no one else reads the init's error then)
    const stderr = openInitStderr(state);
    let spec: Spec;
    try {
      let fd: number;
      try {
        fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
      } catch {
        throw new HakoError(`hako: cannot start container ${id}: exec.fifo is gone (already started?)`, { code: 'bad-state' });
      }
      let outcome: 'executed' | 'failed';
      try {
        spec = this.spec(state);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
      outcome = await watchExecFifo(fd, id, spec, () => liveStatus(state) === 'created');
      try { unlinkSync(fifo); } catch { /* gone already */ }
      await this.store.updateAsync(id, (s) => { s.status = 'running'; });
      if (outcome === 'failed') {
        const program = spec.process?.args?.[0];
        const err = new HakoError(`hako: start: container ${id}: its init failed before it ran the process (a startContainer hook, or the exec of ${program ?? 'the process'})`, { code: 'helper' });
        if (stderr !== undefined) {
          try { writeSync(stderr, `${err.message}\n`); } catch { /* a full pipe, a closed reader: the error is still start's */ }
        }
        throw err;
      }
    } finally {
      if (stderr !== undefined) closeSync(stderr);
    }
    // poststart hooks come after the process is executed (the spec)
    await runHooksWarn('poststart', spec.hooks?.poststart, this.hookState(state, 'running'), this.warn);
  }

  /** create + start in one; in the foreground it returns the container's exit. */
  async run(id: string, options: RunOptions): Promise<RunResult> {
    checkOptions('run', id, containerId, 'id');
    checkOptions('run', options, object(RUN_OPTIONS));
    if (options.detach) {
      refusePipes(options.stdio, 'run -d', options.input);
      return this.launchInit(id, options, 'run-detached');
    }
    return new HakoProcess<RunResult>((attach) => this.launchInit(id, options, 'run', attach, true)).result;
  }

  /**
   * A foreground run as a live handle (as child_process.spawn): `pid` (the container's init) once
   * it exists, `stdin`/`stdout`/`stderr` for the stdio entries that are 'pipe', `kill(signal)`,
   * and `result`, which resolves as run() does (the container removed unless keep).
   */
  spawn(id: string, options: Omit<RunOptions, 'detach'>): HakoProcess<RunResult> {
    return new HakoProcess<RunResult>((attach) => {
      if ((options as RunOptions).detach) throw new HakoError('hako: spawn runs in the foreground: use run with detach for a detached container', { code: 'bad-option' });
      return this.launchInit(id, options, 'run', attach, false);
    });
  }

  state(id: string): OciState {
    checkOptions('state', id, containerId, 'id');
    return ociState(this.read(id));
  }

  list(): OciState[] {
    return this.store.list().filter((s) => !this.removing(s.id)).map((s) => ociState(s));
  }

  /** The recorded state of container id; a foreground run's container whose removal is still
   * under way (after run returned) does not exist any more for this process. */
  private read(id: string): ContainerState {
    if (this.removing(id)) throw new HakoError(`hako: container ${id} does not exist`, 1, 'not-found');
    return this.store.read(id);
  }

  private removing(id: string): boolean {
    return removals.get(id)?.root === this.store.root;
  }

  /**
   * The end of a foreground run: its container (cgroup, state) is removed after run() has
   * returned. It is complete before this process exits (the removal's I/O and timers keep it
   * alive; process.exit() does it synchronously) and before the id is used again here (create
   * and run wait for it); this process sees the container gone at once.
   */
  private removeLater(id: string, spec: Spec, cgroup: CgroupManager, which: ContainerIdentity): void {
    const fallback = () => {
      // only this run's container: another process may have deleted it and made a new one
      let mine = false;
      try { mine = sameContainer(this.store.read(id), which); } catch { /* gone */ }
      if (!mine) return;
      try { cgroup.destroy(); } catch { /* left for delete */ }
      try { this.store.remove(id); } catch { /* left for delete */ }
    };
    atExit(fallback);
    // under the container's lock throughout: another process's delete waits for it, so the id
    // cannot be deleted and created anew in the middle (then this would remove the new one)
    // (remove takes no other lock of this process, unless a face's onRemove does)
    const done = withLock(this.store.root, id, () => this.remove(id, true, spec, which, true), { flat: !this.onRemove, keepSpare: true })
      .catch((e: unknown) => { this.warn(`hako: run: container ${id}: removing it after its exit failed: ${(e as Error).message.replace(/^hako: /, '')}`); })
      .finally(() => {
        exitCleanups.delete(fallback);
        if (removals.get(id)?.done === done) removals.delete(id);
      });
    removals.set(id, { root: this.store.root, done });
  }

  /**
   * The end of a foreground run in a one-shot process (oneShot): what remove() does for a
   * container with nothing attached (no network, no devices, no onRemove), synchronously under
   * the container's lock: no lock polled on timers, no threadpool, no promise chain, in a process
   * that would only wait for them before it exits. A failure is a warning, as removeLater's.
   */
  private removeNow(id: string, cgroup: CgroupManager, which: ContainerIdentity): void {
    try {
      withLockSync(this.store.root, id, () => {
        let state: ContainerState;
        try { state = this.store.read(id); } catch { return; } // gone (another process's delete)
        if (!sameContainer(state, which)) return;
        cgroup.destroy();
        this.parentsLater(cgroup);
        this.store.remove(id, true);
      }, { flat: true }); // (no lock taken inside: AsyncLocalStorage stays off, as removeLater's)
    } catch (e) {
      this.warn(`hako: run: container ${id}: removing it after its exit failed: ${(e as Error).message.replace(/^hako: /, '')}`);
    }
  }

  /** @internal Removes now what this Runtime keeps of removed containers for the next ones (its
   * store's spare directories, the spare lock directories of its root), which otherwise go once
   * unused for half a second: for a face that promises nothing left once it closes (Sandbox). */
  dropSpares(): void {
    this.store.dropSpares();
    dropLockSpares(join(this.store.root, LOCKS_DIR));
  }

  /** Sends a signal to the container's init (or, with all, to every process in its cgroup). */
  kill(id: string, signal: string | number = 'SIGTERM', all = false): void {
    checkOptions('kill', id, containerId, 'id');
    if (typeof signal !== 'string' && typeof signal !== 'number') throw new OptionError('kill', 'signal', `must be a signal name or number (got ${typeof signal})`);
    checkOptions('kill', all, boolean, 'all');
    const n = typeof signal === 'number' ? signal : signal.trim() === '0' ? 0 : signalNumber(signal);
    if (n === undefined || n < 0 || n > 64) throw new HakoError(`hako: unknown signal '${signal}'`, { code: 'bad-option' });
    const state = this.read(id);
    const status = liveStatus(state);
    if (all) {
      for (const pid of this.cgroup(state).pids()) {
        try { process.kill(pid, n); } catch { /* gone */ }
      }
      return;
    }
    // only a live init with the recorded start time is signalled (never pid 0: that would be our
    // own process group, and never a reused pid)
    if (status !== 'created' && status !== 'running' && status !== 'paused') throw new HakoError('hako: container not running', { code: 'not-running' });
    try {
      process.kill(state.pid, n);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** Removes a container; a running one only with force (which kills it first). */
  async delete(id: string, force = false): Promise<void> {
    checkOptions('delete', id, containerId, 'id');
    checkOptions('delete', force, boolean, 'force');
    checkContainerId(id); // even with force: an id that can never exist is a mistake (as runc)
    await removals.get(id)?.done;
    return this.remove(id, force);
  }

  /** delete, with the config when the caller has it already (a foreground run). */
  /** which: remove only that container (a foreground run's, removed after run returned: by
   * then another process may have deleted it and created a new one with the same id). held: the
   * caller holds the container's lock. */
  private async remove(id: string, force: boolean, known?: Spec, which?: ContainerIdentity, held = false): Promise<void> {
    if (!this.store.exists(id)) {
      // what a create killed before it claimed the id left of its network (its files)
      if (force) return removeContainerNetwork(id, this.store.root, { netDir: this.netDir });
      throw new HakoError(`hako: container ${id} does not exist`, { code: 'not-found' });
    }
    const state = this.store.read(id);
    if (which && !sameContainer(state, which)) return;
    const status = liveStatus(state);
    if ((status === 'running' || status === 'paused') && !force) {
      throw new HakoError(`hako: cannot delete container ${id} that is not stopped: ${status}`, { code: 'bad-state' });
    }
    if (status === 'creating' && !force) {
      throw new HakoError(`hako: container ${id} is being created; delete --force removes what is left of it`, { code: 'bad-state' });
    }
    const cgroup = this.cgroup(state);
    if (state.pid > 0 && (status === 'created' || status === 'running' || status === 'paused')) {
      try { process.kill(state.pid, 'SIGKILL'); } catch { /* gone */ }
      // a frozen init takes its SIGKILL only once thawed (as runc: signal, then thaw)
      if (status === 'paused') await cgroup.thawAsync().catch(() => { /* the teardown kills what is left */ });
      for (let i = 0; i < 1000 && liveStatus(state) !== 'stopped'; i++) await delay(2);
    }
    await cgroup.destroyAsync();
    this.parentsLater(cgroup);
    let spec = known;
    if (!spec) {
      try { spec = this.spec(state); } catch { /* config snapshot unreadable: no poststop hooks */ }
    }
    await this.removeAttached(id);
    await this.store.removeAsync(id, held);
    if (spec?.hooks?.poststop?.length) await runHooksWarn('poststop', spec.hooks.poststop, this.hookState(state, 'stopped'), this.warn);
  }

  /** What was attached outside the plan: the container's network (CNI DEL), then the face's onRemove. */
  private async removeAttached(id: string): Promise<void> {
    try {
      await removeContainerNetwork(id, this.store.root, { netDir: this.netDir });
    } finally {
      if (this.onRemove) await this.onRemove(id);
    }
  }

  /** Freezes every process of a running container (cgroup freezer); resolves once it is frozen. */
  pause(id: string): Promise<void> {
    return this.freezer('pause', id, 'running', 'paused', (cgroup) => cgroup.freezeAsync());
  }

  resume(id: string): Promise<void> {
    return this.freezer('resume', id, 'paused', 'running', (cgroup) => cgroup.thawAsync());
  }

  /** pause and resume: a container in state `from` goes to `to` through its cgroup's freezer. */
  private async freezer(verb: string, id: string, from: 'running' | 'paused', to: 'running' | 'paused', act: (cgroup: CgroupManager) => Promise<void>): Promise<void> {
    checkOptions(verb, id, containerId, 'id');
    const state = this.read(id);
    const status = liveStatus(state);
    if (status !== from) throw new HakoError(`hako: container ${id} is not ${from} (${status})`, { code: status === 'stopped' ? 'not-running' : 'bad-state' });
    await act(this.cgroup(state));
    await this.store.updateAsync(id, (s) => { s.status = to; });
  }

  /** Changes the resources of a created, running or paused container. */
  update(id: string, resources: LinuxResources): void {
    checkOptions('update', id, containerId, 'id');
    checkOptions('update', resources, plainObject, 'resources');
    const state = this.read(id);
    const status = liveStatus(state);
    if (status === 'stopped') throw new HakoError(`hako: cannot update a stopped container`, { code: 'not-running' });
    // as runc: update never changes the device rules (the container's, from create). containerd's
    // CRI plugin sends them with every UpdateContainerResources, so refusing them would refuse
    // every Kubernetes update (the CPU manager's, in-place resize).
    const { devices, ...rest } = resources;
    if (devices?.length) this.warn('hako: update: linux.resources.devices is ignored: a container keeps the device rules it was created with (as with runc)');
    for (const k of KERNEL_MEMORY) {
      if (rest.memory?.[k] != null) this.warn(`hako: update: memory.${k} is ignored: kernel memory limits are gone since Linux 6.1 (runc ignores them too)`);
    }
    this.cgroup(state).set(withoutKernelMemory(rest));
  }

  /** The pids of every process in the container. */
  ps(id: string): number[] {
    checkOptions('ps', id, containerId, 'id');
    return this.cgroup(this.read(id)).pids();
  }

  /** Usage figures of a created, running or paused container, from its cgroup, in the shape of
   * runc's `events --stats` event. */
  stats(id: string): ContainerStats {
    checkOptions('stats', id, containerId, 'id');
    const state = this.read(id);
    const status = liveStatus(state);
    if (status === 'stopped') throw new HakoError(`hako: stats: container ${id} is not running`, { code: 'not-running' });
    return { type: 'stats', id, data: statsData(this.cgroup(state).stats()) };
  }

  /**
   * runc's `events`: a stats event every intervalMs (or one, with once) and an oom event for each
   * OOM in the container's cgroup (v1: an eventfd on memory.oom_control, which a helper holds;
   * v2: memory.events watched with inotify, as runc), until the container stops or is deleted,
   * or signal aborts. Never blocks the event loop.
   */
  async events(id: string, options: EventsOptions, onEvent: (e: RuncEvent) => void): Promise<void> {
    checkOptions('events', id, containerId, 'id');
    const state = this.read(id);
    if (liveStatus(state) === 'stopped') throw new HakoError(`hako: events: container ${id} is not running`, { code: 'not-running' });
    const cg = this.cgroup(state);
    const stats = (): RuncEvent => ({ type: 'stats', id, data: cg.runcStats() });
    if (options.once) {
      onEvent(stats());
      return;
    }
    const stopped = () => {
      try {
        return liveStatus(this.read(id)) === 'stopped';
      } catch {
        return true; // deleted
      }
    };
    const killsBefore = cg.oomKills();
    let ooms = 0;
    const oom = () => { ooms++; onEvent({ type: 'oom', id }); };
    await new Promise<void>((resolve, reject) => {
      const cleanups: Array<() => void> = [];
      let done = false;
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        for (const c of cleanups) c();
        // an OOM the counter shows that no notification told (it came as the container ended)
        if (error === undefined && ooms === 0) {
          try { if (cg.oomKills() > killsBefore) oom(); } catch { /* the cgroup is gone */ }
        }
        if (error === undefined) resolve();
        else reject(error);
      };
      const source = cg.oomSource();
      if (source && 'v1' in source) {
        const w = watchOomV1(source.v1, { ready: () => undefined, oom, end: (e) => (e ? finish(e) : finish()) });
        cleanups.push(() => w.stop());
      } else if (source) {
        let last = killsBefore;
        const w = watch(join(source.v2, 'memory.events'), () => {
          let n = last;
          try { n = cg.oomKills(); } catch { /* gone: the liveness check ends it */ }
          if (n > last) { last = n; oom(); }
        });
        w.on('error', () => finish());
        cleanups.push(() => w.close());
      }
      const interval = options.intervalMs ?? 5000;
      const tick = setInterval(() => {
        if (stopped()) return finish();
        try { onEvent(stats()); } catch (e) { if (stopped()) finish(); else finish(e); }
      }, interval);
      cleanups.push(() => clearInterval(tick));
      const live = setInterval(() => { if (stopped()) finish(); }, Math.min(interval, 250));
      cleanups.push(() => clearInterval(live));
      const signal = options.signal;
      if (signal) {
        if (signal.aborted) return finish();
        const abort = () => finish();
        signal.addEventListener('abort', abort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', abort));
      }
    });
  }

  /** Runs another process in a running container. */
  async exec(id: string, proc: ExecProcess, options: ExecOptions = {}): Promise<RunResult> {
    if (options.detach) {
      refusePipes(options.stdio, 'exec -d', options.input);
      return this.execOn(id, proc, options, () => { /* no handle */ }, true);
    }
    return new HakoProcess<RunResult>((attach) => this.execOn(id, proc, options, attach, true)).result;
  }

  /** exec as a live handle (as child_process.spawn), in the foreground: see spawn. */
  execSpawn(id: string, proc: ExecProcess, options: Omit<ExecOptions, 'detach'> = {}): HakoProcess<RunResult> {
    return new HakoProcess<RunResult>((attach) => {
      if ((options as ExecOptions).detach) throw new HakoError('hako: execSpawn runs in the foreground: use exec with detach', { code: 'bad-option' });
      return this.execOn(id, proc, options, attach, false);
    });
  }

  private async execOn(id: string, given: ExecProcess, options: ExecOptions, attach: (s: HelperSession) => void, capture: boolean): Promise<RunResult> {
    checkOptions('exec', id, containerId, 'id');
    checkOptions('exec', options, object(EXEC_OPTIONS));
    // the process is checked as config.json's is (after the entry counts, whose message is exec's own)
    const shape = (proc: Process) => {
      const p = proc as unknown as Record<string, unknown> | null;
      if (typeof p !== 'object' || p === null || !Array.isArray(p.args) || !(p.env === undefined || Array.isArray(p.env))) validateProcess(proc, 'exec', this.warn);
    };
    if (typeof given !== 'function') shape(given);
    const state = this.read(id);
    const status = liveStatus(state);
    if (status !== 'running' && status !== 'created') throw new HakoError(`hako: cannot exec in a ${status} container`, 255, status === 'stopped' ? 'not-running' : 'bad-state');
    const spec = this.spec(state); // the one parse of the config snapshot for this exec
    let proc = given;
    if (typeof proc === 'function') {
      proc = proc(spec.process ? structuredClone(spec.process) : undefined);
      shape(proc);
    }
    if (proc.terminal && options.detach && !options.consoleSocket) throw new HakoError('hako: exec -t -d needs --console-socket', { code: 'bad-option' });
    if (proc.args.length > MAX_EXEC_STRINGS) throw new HakoError(`hako: exec: process.args has ${proc.args.length} entries; hako passes at most ${MAX_EXEC_STRINGS}`, 255, 'bad-config');
    if (execEnvCount(proc.env) > MAX_EXEC_STRINGS) throw new HakoError(`hako: exec: process.env has ${proc.env?.length ?? 0} entries (and HOME, which hako adds when it is not set); hako passes at most ${MAX_EXEC_STRINGS}`, 255, 'bad-config');
    // as runc: a process without capabilities gets the container's (none, if it has none)
    if (proc.capabilities === undefined && spec.process?.capabilities) proc = { ...proc, capabilities: structuredClone(spec.process.capabilities) };
    proc = validateProcess(proc, 'exec', this.warn);
    const killSignal = killSignalOf(options.killSignal, !!options.detach);
    // the helper starts now, before the plan: its start and its sealed re-exec overlap the work below
    const helper = HelperSession.start({
      stdio: stdioWithInput(options.stdio, options.input) as CreateOptions['stdio'], preserveFds: options.preserveFds, forwardSignals: options.forwardSignals, maxBuffer: options.maxBuffer,
      capture, input: options.input, signal: options.signal, timeoutMs: options.timeoutMs, label: `exec: container ${id}`, detach: !!options.detach,
      ...(this.zygote ? { spawner: this.zygote.spawner } : {}),
    });
    attach(helper);
    let builder: PlanBuilder;
    let home: string | undefined;
    try {
      // the container's own files, as its init sees them (its root, with its mounts)
      const files = new ContainerFiles(`/proc/${state.pid}/root`, (t, f) => helper.request(t, f));
      if (options.user !== undefined) proc = { ...proc, user: { ...proc.user, ...(await resolveUser(files, options.user)) } };
      home = await homeFor(files, proc);
      const ns = containerNamespaces(spec);
      const cgroup = this.cgroup(state);
      const console: ConsoleChoice | undefined = proc.terminal ? (options.consoleSocket ? { socket: options.consoleSocket } : { relay: true }) : undefined;
      const input = {
        process: proc, preserveFds: options.preserveFds ?? 0, pid: state.pid, ...(home !== undefined ? { home } : {}),
        // setgroups may be denied where the process goes: in the container's user namespace (hako
        // without root wrote a map of its own group), or, with none, in hako's own
        ...((ns.created.has('user') || ns.joined.some((j) => j.type === 'user') ? setgroupsDenied(`/proc/${state.pid}/setgroups`) : this.own.setgroupsDenied()) ? { setgroupsDenied: true } : {}),
        namespaces: [...ns.created, ...ns.joined.map((j) => j.type)], detach: !!options.detach, cgroup: cgroup.joinPlan(),
        ...(console ? { console } : {}), ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
        ...withHostBounding(spec, this.own),
      };
      builder = execPlan(input);
    } catch (e) {
      helper.abandon();
      throw e;
    }
    let pid = 0;
    const result = await Runtime.runOn(helper, builder, {
      onSpawned: (p) => { pid = p; },
      onSeccompState: () => seccompListenerState(spec, this.hookState(state), pid),
      onReady: () => { if (options.pidFile) writePidFile(options.pidFile, pid); },
    }, killSignal);
    return this.resultOf(result, 'exec', builder);
  }

  private resultOf(result: SessionResult, verb: string, builder: PlanBuilder): RunResult {
    if (result.failure) throw ociFailure(verb, builder, result.failure);
    const exitCode = result.detached ? 0 : result.signal !== null ? 128 + result.signal : result.status ?? 1;
    const out: RunResult = { exitCode, status: result.status, signal: result.signal, pid: result.pid };
    if (result.stdout) out.stdout = result.stdout;
    if (result.stderr) out.stderr = result.stderr;
    if (result.stdoutTruncated) out.stdoutTruncated = true;
    if (result.stderrTruncated) out.stderrTruncated = true;
    return out;
  }

  private static runOn(helper: HelperSession, builder: PlanBuilder, handlers: SessionHandlers, killSignal?: number, ahead = false): Promise<SessionResult> {
    return helper.run({
      explain: false, nonDumpable: true, hostOps: builder.hostOps, nsOps: builder.nsOps, initOps: builder.initOps,
      ...(killSignal !== undefined ? { killSignal } : {}), ...(ahead ? { ahead } : {}),
    }, handlers);
  }

  /** create, run and run -d: one path, which differs only in the fifo and in who waits. */
  private async launchInit(id: string, options: CreateOptions & RunOptions, mode: 'create' | 'run' | 'run-detached', attach?: (s: HelperSession) => void, capture = true): Promise<RunResult> {
    checkContainerId(id);
    const effective = effectiveBundle(mode === 'create' ? 'create' : 'run', options, this.warn, this.bundles);
    const { bundle, rootfs } = effective;
    // network: the config changed for this container (its network namespace, the files' mounts)
    const net = containerNetwork(`hako ${mode === 'create' ? 'create' : 'run'}`, id, this.store.root, effective.spec,
      { network: options.network, publish: options.publish, netDir: this.netDir });
    const spec = net ? net.spec : effective.spec;
    if ((process.geteuid?.() ?? 0) !== 0 && !(spec.linux?.namespaces ?? []).some((n) => n.type === 'user')) {
      throw new HakoError(`hako: config.json: linux.namespaces: hako runs as uid ${process.geteuid?.()}, not root: a rootless container needs a user namespace (\`hako spec --rootless\` writes such a config)`, { code: 'bad-config' });
    }
    const devices = containerDevices(id, this.store.root, spec, { netDir: this.netDir });
    const explain = explainer(options.explain);
    let proc = spec.process;
    if (!proc) throw new HakoError('hako: config.json: process: a container needs a process to run', { code: 'bad-config' });
    const detach = mode !== 'run';
    if (proc.terminal && detach && !options.consoleSocket) {
      throw new HakoError('hako: cannot allocate a tty when hako detaches without a console socket (--console-socket)', { code: 'bad-option' });
    }
    if (!proc.terminal && options.consoleSocket) throw new HakoError('hako: --console-socket given but process.terminal is false', { code: 'bad-option' });
    if (options.lateExec && mode !== 'run') throw new HakoError('hako: lateExec: only a foreground run (run or spawn) can get its command late', { code: 'bad-option' });
    // run starts at once: poststart once the process is executed, which H2's exec socket tells;
    // run -d returns then too (as runc's start, which reads exec.fifo to its EOF)
    let execFailed = false;
    let onExec: ((outcome: 'executed' | 'failed') => void) | undefined;
    const execed = mode === 'run-detached' || (mode === 'run' && spec.hooks?.poststart?.length) ? new Promise<'executed' | 'failed'>((r) => { onExec = r; }) : undefined;
    const killSignal = mode === 'run' ? killSignalOf(options.killSignal, false) : undefined;
    // the helper starts now, while the rest is set up (its start and its sealed re-exec overlap
    // that work); it reads HOME's passwd in the rootfs first (only if the env has no HOME). It
    // makes the namespaces the last container's plan could have had made ahead meanwhile: this
    // plan joins them if it has the same (planAhead), else they go unused. Only while a core is
    // free for that besides Node's and each launch's (fewer launches in flight than half the
    // CPUs): under load they would be made no sooner, and the holder's fork is CPU the other
    // containers want (measured: -4% containers/s two at a time on 2 cores without this)
    const ahead = this.launching < availableParallelism() / 2 ? this.ahead : 0;
    const helper = HelperSession.start({
      stdio: (mode === 'run' ? stdioWithInput(options.stdio, options.input) : options.stdio) as CreateOptions['stdio'], preserveFds: options.preserveFds,
      forwardSignals: options.forwardSignals, setupTimeoutMs: setupTimeout(spec), ...(onExec ? { onExec } : {}), maxBuffer: options.maxBuffer,
      capture, input: mode === 'run' ? options.input : undefined, signal: options.signal, timeoutMs: options.timeoutMs,
      label: `${mode === 'create' ? 'create' : 'run'}: container ${id}`, detach,
      ...(this.zygote ? { spawner: this.zygote.spawner } : {}), ...(ahead ? { ahead } : {}),
    });
    this.launching++;
    let launched = true;
    const landed = () => { if (launched) { launched = false; this.launching--; } };
    attach?.(helper);
    // load -> check -> plan -> act: everything that can refuse this config (the planner, the
    // resources) runs before anything exists; the state (the id's exclusive claim) comes after
    const created = new Date().toISOString();
    const state: ContainerState = {
      ociVersion: spec.ociVersion, id, status: 'creating', pid: 0, pidStartTime: 0, bundle, rootfs, created,
      owner: '', annotations: spec.annotations ?? {}, cgroup: { cgroupsPath: spec.linux?.cgroupsPath }, config: this.store.file(id, CONFIG_SNAPSHOT),
    };
    let builder: PlanBuilder;
    let planWith: (home: string | undefined) => PlanBuilder;
    let homeLookup: Promise<string | undefined>;
    let cgroup: CgroupManager;
    let resources: ResourcePlan;
    // the cgroup made by the helper (H0's first ops) when it is only directories and the cpuset's
    // copied values, and nothing else needs it first (no limits but device rules, not rootless)
    let cgroupSteps: CgroupSteps | undefined;
    let seccomp: ReturnType<Runtime['seccompFor']> = {};
    let idmaps: ReturnType<typeof mapActions> = [];
    let configText = '';
    const written: string[] = [];
    try {
      // the id's last foreground run may still be being removed: its cgroup and state go first
      // (awaited here, after the helper's start: a handle gets its streams when the call returns)
      const removal = removals.get(id)?.done;
      if (removal) await removal;
      // a taken id is said before any error of this config (store.create below is the claim)
      if (this.store.exists(id)) throw new HakoError(`hako: container with id ${id} already exists`, 1, 'exists');
      // an unknown network or a malformed conflist is refused before anything is made; the
      // files the config bind-mounts are made before the planner looks for its mounts' sources
      await net?.check();
      await net?.prepare();
      // the cgroup's paths come from the host's layout: nothing of it is made yet (this, and the
      // host facts, while the helper starts)
      cgroup = this.cgroupForRun(spec, id, state);
      // device rules need CAP_SYS_ADMIN (v1 devices.deny, v2 a BPF program): without root they are
      // left out, as runc's rootless cgroup manager does (a user namespace cannot mknod anyway)
      if (isRootless()) {
        const { devices: _devices, ...limits } = spec.linux?.resources ?? {};
        resources = { wanted: normalizeResources(limits) };
      } else {
        resources = planResources(cgroup, spec.linux?.resources);
        if (onlyDevices(resources)) {
          try { cgroupSteps = cgroup.helperSteps?.(); } catch { /* create() it here, which says what is wrong */ }
        }
      }
      const host = hostFacts(spec, bundle, this.own);
      const files = new ContainerFiles(rootfs, (t, f) => helper.request(t, f), this.rootFiles);
      if (typeof options.user === 'string') proc = spec.process = { ...proc, user: { ...proc.user, ...(await resolveUser(files, options.user)) } };
      // HOME (read through the helper, whose start it waits for) is only in the exec op: the plan
      // is made without it first, so that every refusal comes now, and that op gets it once it is
      // known (setHome), while the state and the cgroup are made
      homeLookup = homeFor(files, proc);
      homeLookup.catch(() => { /* awaited below */ });
      const console: ConsoleChoice | undefined = proc.terminal ? (options.consoleSocket ? { socket: options.consoleSocket } : { relay: true }) : undefined;
      const p = proc;
      // the id maps, as P writes them when H1 asks: without root, a map of one's own ids is
      // written after setgroups "deny" (then the container cannot set its groups, as runc's
      // rootless containers), and wider ones by newuidmap/newgidmap
      idmaps = mapActions(containerMaps(spec));
      // a user namespace joined by path (/proc/PID/ns/user): setgroups as that process's namespace has it
      const joinedUser = /^\/proc\/(\d+)\/ns\/user$/.exec((spec.linux?.namespaces ?? []).find((n) => n.type === 'user')?.path ?? '');
      const noSetgroups = deniesSetgroups(idmaps) || (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'user') && this.own.setgroupsDenied())
        || (joinedUser !== null && setgroupsDenied(`/proc/${joinedUser[1]}/setgroups`));
      const bounding = withHostBounding(spec, this.own);
      seccomp = this.seccompFor(spec.linux?.seccomp);
      const compiled = seccomp.compiled;
      planWith = (home) => createPlan({
        spec, bundle, rootfs, process: p, ...(home !== undefined ? { home } : {}), preserveFds: options.preserveFds ?? 0, detach, noPivot: !!options.noPivot,
        ...(noSetgroups ? { setgroupsDenied: true } : {}),
        host, ...bounding,
        ...(options.noNewKeyring ? {} : { keyring: `_ses.${id}` }),
        hookState: JSON.stringify(ociState(state, 'created')),
        ...(options.onNetwork || net?.attach || devices ? { networkPause: true } : {}),
        ...(mode === 'run' && options.lateExec ? { lateExec: true } : {}),
        ...(options.copyJoinedMount ? { copyJoinedMount: true } : {}),
        ...(mode === 'create' ? { fifo: this.store.file(id, 'exec.fifo') } : {}),
        ...(console ? { console } : {}),
        ...cgroup.mountInfo(),
        cgroup: joinPlanWith(cgroup, resources),
        ...(cgroupSteps ? { cgroupSteps } : {}),
        ...(compiled ? { seccompCompiled: compiled } : {}),
        ...(resources.deviceProgram ? { deviceProgram: resources.deviceProgram } : {}),
      });
      builder = planWith(undefined);
      // the config snapshot (it may hold secrets: process.env) goes into a spare directory's
      // config.json before it is the container's; without a spare, it is written below
      configText = JSON.stringify(spec);
      this.store.create(id, state, { [CONFIG_SNAPSHOT]: configText }, written);
    } catch (e) {
      landed();
      helper.abandon();
      await net?.undo().catch(() => undefined);
      throw e;
    }
    let existed: string[] = [];
    let commitLater: (() => void) | undefined;
    let configWritten: Promise<void> | undefined;
    let prepared: Promise<PreparedWrite> | undefined;
    let made = false;
    let pid = 0;
    let ready = false;
    let poststart: Promise<void> | undefined;
    // a foreground run is this process's: if it exits (process.exit) while the container runs,
    // the container is killed and its state removed, synchronously (nothing else runs then); a
    // process that is killed leaves it to the helper, which kills the init when this process
    // hangs up (killSignal), and the stopped container's state to `delete`
    const onExit = mode === 'run' ? () => {
      if (pid > 0) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      try {
        if (existed.length) cgroup.removeCreated(existed);
        else if (made) cgroup.destroy();
      } catch { /* left for delete */ }
      try { this.store.remove(id); } catch { /* left for delete */ }
    } : undefined;
    if (onExit) atExit(onExit);
    try {
      // a cgroup that holds processes is another container's or a service's: joining it would let
      // delete --force, kill --all and pause act on them (runc refuses it too); it is not touched
      existed = cgroup.existingDirs();
      const n = existed.length ? cgroup.pids().length : 0;
      if (n > 0) {
        existed = [];
        throw new HakoError(`hako: container's cgroup is not empty: ${n} process(es) found in ${cgroup.path} (linux.cgroupsPath)`, { code: 'cgroup' });
      }
      made = true;
      this.parentsLater(cgroup, true);
      // a cgroup that was there already is made here (create() keeps the values it has)
      const byHelper = cgroupSteps !== undefined && existed.length === 0;
      if (cgroupSteps && !byHelper) {
        cgroupSteps = undefined;
        builder = planWith(undefined);
      }
      const skipped = byHelper ? undefined : cgroup instanceof NoCgroup ? cgroup : await this.createCgroup(cgroup, spec, id);
      if (skipped) {
        // rootless without a cgroup: the plan is made again without the join (and without the
        // v2 device filter, which has no cgroup to go on), and the state says so for later verbs
        cgroup = skipped;
        resources = { wanted: resources.wanted };
        made = false;
        state.cgroup = { ...state.cgroup as object, none: true };
        await this.store.updateAsync(id, (st) => { st.cgroup = state.cgroup; });
      }
      if (!byHelper) applyResources(cgroup, resources, true);
      const home = await homeLookup;
      if (skipped) builder = planWith(home);
      else if (home !== undefined) setHome(builder, proc, home); // the one op HOME is in (the planner ran once)
      const cg = cgroup;
      // (the plan goes to the helper in this call, before the writes below: they are not on its way)
      const aheadNow = planAhead(builder.nsOps);
      this.ahead = aheadNow;
      const running = Runtime.runOn(helper, builder, {
        onIdmap: (p) => writeIdMapsAsync(p, idmaps),
        onSpawned: (p) => { pid = p; },
        ...(mode === 'run' && options.lateExec ? { onExecRequest: options.lateExec } : {}),
        // the init of a foreground run is gone: what it left behind goes now (remove would kill
        // it next), not after the wait for the output it holds open. In a pid namespace of its
        // own nothing is left: the kernel kills every process of the namespace when its init
        // exits, and the init's exit is reported only once they are all gone (so the cgroup's
        // files are not read for nothing, 9-10 hierarchies on a v1 host)
        ...(mode === 'run' && !options.keep && !ownPidNamespace(spec) ? {
          onExited: () => {
            for (const p of cg.pids()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
          },
        } : {}),
        onSeccompState: () => seccompListenerState(spec, this.hookState({ ...state, pid }, 'creating'), pid),
        ...(seccomp.keep ? { onSeccompProgram: seccomp.keep } : {}),
        onHooks: async () => {
          if (net?.attach) await net.attach(pid, explain);
          if (devices) await devices(pid, explain);
          if (options.onNetwork) await options.onNetwork(pid);
          const s = this.hookState({ ...state, pid }, 'creating');
          await runHooks('prestart', spec.hooks?.prestart, s);
          await runHooks('createRuntime', spec.hooks?.createRuntime, s);
          return JSON.stringify(s); // for the createContainer hooks
        },
        onReady: async () => {
          landed(); // set up: what runs now is the container's
          await configWritten;
          const stateWrite = await (prepared as Promise<PreparedWrite>);
          state.pid = pid;
          state.pidStartTime = startTime(pid) ?? 0;
          if (options.killOnExit && mode !== 'run') {
            // only the init with the recorded start time: never a pid reused after a delete
            const { pidStartTime } = state;
            const p = pid;
            atExit(() => { if (startTime(p) === pidStartTime) process.kill(p, 'SIGKILL'); }, detachedCleanups);
          }
          state.status = mode === 'create' ? 'created' : 'running';
          // a foreground run's init goes on to its exec as the state is written (after the ACK:
          // 0.2-0.3 ms of write and rename over state.json on ext4 off its way), as crun's run
          // writes its status once it lets the init go; create and run -d write it first (their
          // caller reads it as soon as they return)
          if (mode === 'run') commitLater = () => stateWrite.commit(state);
          else stateWrite.commit(state);
          if (options.pidFile) writePidFile(options.pidFile, pid);
          ready = true;
          if (execed) {
            const limit = setupTimeout(spec, 'startContainer');
            poststart = bounded(execed, limit).then((outcome) => {
              if (outcome === 'executed') return runHooksWarn('poststart', spec.hooks?.poststart, this.hookState(state, 'running'), this.warn);
              if (outcome === 'timeout') this.warn(`hako: container ${id}: the process did not start within ${Math.round(limit / 1000)} s${spec.hooks?.poststart?.length ? ': poststart hooks not run' : ''}`);
              // a failure before the exec: a foreground run reports the helper's error
              else execFailed = true;
              return undefined;
            });
          }
          // for the startContainer hooks (none: nothing in the init reads it after READY)
          return spec.hooks?.startContainer?.length ? JSON.stringify(this.hookState(state, 'created')) : undefined;
        },
        // (before any later frame, EXITED included: the removal after the run finds it written)
        afterReady: () => { commitLater?.(); },
      }, killSignal, aheadNow !== 0 && aheadNow === ahead);
      // while the helper works: the config snapshot when create did not write it (never through
      // a symlink), and READY's state file (READY only writes and renames it), off the event
      // loop; READY waits for both (a failed write refuses the container)
      if (!written.includes(CONFIG_SNAPSHOT)) {
        configWritten = writeFile(state.config, configText, { mode: 0o600, flag: StateStore.WRITE_OVER });
        configWritten.catch(() => { /* awaited at READY, or before the state goes */ });
      }
      prepared = this.store.prepareWrite(id);
      prepared.catch(() => { /* awaited at READY, or abandoned below */ });
      const result = await running;
      if (result.failure) {
        const err = ociFailure(mode === 'create' ? 'create' : 'run', builder, result.failure);
        // run -d: the init failed after READY (a startContainer hook, the exec), and its report
        // came before the helper's exit was seen: the same error as when it came after
        if (ready && mode === 'run-detached') {
          await poststart;
          throw new HakoError(`hako: run: container ${id}: its init failed before it ran the process (${err.message.replace(/^hako: run: /, '')})`, { code: 'helper' });
        }
        if (cg.oomKilled()) {
          const limit = spec.linux?.resources?.memory?.limit;
          throw new HakoError(`hako: ${mode === 'create' ? 'create' : 'run'}: container ${id}: container init was OOM-killed: memory limit too low? (linux.resources.memory.limit is ${limit ?? 'unset'}${limit ? ' bytes' : ''}; the init was killed before it ran the process)`, { code: 'oom' });
        }
        throw err;
      }
      await poststart;
      if (execFailed && mode === 'run-detached') throw new HakoError(`hako: run: container ${id}: its init failed before it ran the process (a startContainer hook or the exec)`, { code: 'helper' });
      const out = this.resultOf(result, mode, builder);
      if (mode === 'run') out.oomKilled = cg.oomKilled();
      if (mode === 'run' && options.beforeRemove) await options.beforeRemove();
      if (mode === 'run' && !options.keep) {
        if (spec.hooks?.poststop?.length) await this.remove(id, true, spec); // the hooks are the caller's to wait for
        else if (this.oneShot && !net && !devices && !this.onRemove) this.removeNow(id, cg, { created: state.created, pid: state.pid });
        else this.removeLater(id, spec, cg, { created: state.created, pid: state.pid });
      }
      return out;
    } catch (err) {
      helper.abandon(); // a plan never sent: the helper goes (a no-op once it ran)
      await configWritten?.catch(() => undefined); // in the container's directory before it goes
      await prepared?.then((w) => w.abandon(), () => undefined);
      // nothing left behind: the process, the cgroup, the state (a container that got ready and
      // was started is left to `delete`, except a foreground run's, which is this call's)
      if (!ready || mode === 'run') {
        try {
          if (pid > 0) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
          // a cgroup hako did not create is left as it was: only what hako made goes
          if (existed.length) await cgroup.removeCreatedAsync(existed);
          else if (made) await cgroup.destroyAsync();
          this.parentsLater(cgroup);
        } finally {
          // the network (CNI DEL), and what a face attached, go with the rest
          await this.removeAttached(id).catch(() => undefined);
          await this.store.removeAsync(id);
        }
      }
      throw err;
    } finally {
      landed();
      if (onExit) exitCleanups.delete(onExit);
    }
  }
}

