// Runs one plan through the helper: spawn H0, send PLAN, answer its requests, return the exit.
import { spawn, type StdioOptions } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { HakoError, type HelperFailure } from '../errors.js';
import { spareAhead } from './ahead.js';
import { encodeFrame, encodeFrameIfFits, type Field, Fields, FrameReader, type Frame, MAX_PAYLOAD, MessageType, OpKind, Tag } from './protocol.js';

/** Where the package's own helper is from the file this module was built into (scripts/build.mjs
 * sets it per output: dist/cli/hako.cjs, dist/index.js, dist/src/helper/session.js); the default
 * is the source file's (src/helper/session.ts). */
declare const HAKO_HELPER_FROM_MODULE: string;
const fromModule = typeof HAKO_HELPER_FROM_MODULE === 'string' ? HAKO_HELPER_FROM_MODULE : '../../native/hako-helper';

/** The package's own helper (built by its install script, native/build.sh). Never searched for:
 * a helper found elsewhere (a parent directory any user may write) would run as root. */
const ownHelper = resolve(dirname(fileURLToPath(import.meta.url)), fromModule);

/** The helper binary: $HAKO_HELPER (an absolute path), or the package's own native/hako-helper.
 * checkHelper() vets it before it runs. */
export const helperPath = process.env.HAKO_HELPER ?? ownHelper;

/** The helper as the environment names it now (a server's worker sets its environment from the
 * command's after this module was loaded). */
function currentHelper(): string {
  return process.env.HAKO_HELPER ?? ownHelper;
}

/** What HelperSession uses of a ChildProcess: node's own, or a helper bin/hako's native front
 * spawned for `hako serve` (src/helper/remote.ts). */
export interface HelperChild extends NodeJS.EventEmitter {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stdio: ReadonlyArray<unknown>;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  /** Leaves the helper to its spawner, which reaps it (bin/hako's front under hako serve, before
   * it exits): nothing here waits for the helper's exit after that. */
  leave?(): boolean;
}

/** Spawns the helper somewhere else (a `hako serve` worker: in the caller's front). stdio has
 * the slots for fds 0-2, the control socket and the exec socket, each inherit, ignore or pipe. */
export type HelperSpawner = (file: string, args: string[], stdio: Array<'inherit' | 'ignore' | 'pipe'>, env: NodeJS.ProcessEnv, preserveFds: number) => HelperChild;

/** A session's own spawner (a Runtime's zygote, src/helper/zygote.ts): undefined for a helper it
 * cannot start, which is then spawned here. */
export type SessionSpawner = (file: string, args: string[], stdio: Array<'inherit' | 'ignore' | 'pipe'>, env: NodeJS.ProcessEnv, preserveFds: number) => HelperChild | undefined;

let spawner: HelperSpawner | undefined;

/** Every helper from now on is spawned by fn (src/cli/serve.ts). */
export function useHelperSpawner(fn: HelperSpawner | undefined): void {
  spawner = fn;
  vetted = undefined; // each command checks the helper again, as a new process would
}

/** A stdio entry as a remote spawn takes it: the caller's own fd (inherit), /dev/null or a socket. */
function remoteSlot(entry: unknown, fd: number): 'inherit' | 'ignore' | 'pipe' {
  const slot = slotOf(entry, fd);
  if (slot) return slot;
  throw new HakoError(`hako: stdio ${typeof entry === 'number' ? `fd ${entry}` : 'streams'} for fd ${fd} cannot be passed through hako serve`);
}

function slotOf(entry: unknown, fd: number): 'inherit' | 'ignore' | 'pipe' | undefined {
  if (entry === 'inherit' || entry === fd) return 'inherit';
  if (entry === 'ignore') return 'ignore';
  if (entry === 'pipe' || entry === null || entry === undefined || entry === 'overlapped') return 'pipe';
  return undefined;
}

let vetted: string | undefined;

/**
 * Refuses (one line naming the path, the reason and the fix) a helper that is missing or that
 * someone other than root, this user or the package's owner could have replaced: it runs as root.
 * The file must be a regular file, not writable by group or others, owned by root, by the
 * effective user or by the owner of the package directory (who can change the JS that runs as
 * root anyway); its directory likewise.
 */
export function checkHelper(path = currentHelper()): void {
  if (vetted === path) return;
  if (!isAbsolute(path)) throw new HakoError(`hako: HAKO_HELPER must be an absolute path, not '${path}'`);
  const fix = 'reinstall or rebuild it (npm rebuild hako, or npm ci in a checkout)';
  let real: string;
  try {
    real = realpathSync.native(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new HakoError(`hako: the helper ${path} is missing: build it (npm rebuild hako, or npm ci in a checkout)`);
    throw new HakoError(`hako: cannot run the helper ${path}: ${code ?? String(e)}`);
  }
  const owners = new Set([0, process.geteuid?.() ?? 0]);
  try { owners.add(statSync(dirname(dirname(ownHelper))).uid); } catch { /* no package directory: root and this user */ }
  const refuse = (what: string, why: string, hint: string): never => {
    throw new HakoError(`hako: refusing to run the helper ${path}: ${what} ${why}, and it runs as root; ${hint}`);
  };
  const vet = (file: string, kind: string) => {
    const st = statSync(file);
    const what = kind === 'dir' ? `its directory ${file}` : file === path ? 'it' : `it (${file})`;
    if (kind === 'file' && !st.isFile()) refuse(what, 'is not a regular file', fix);
    if (st.mode & 0o022) refuse(what, `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`, `chmod go-w ${file}, or ${fix}`);
    if (!owners.has(st.uid)) refuse(what, `is owned by uid ${st.uid} (not root, this user or the package's owner)`, fix);
  };
  try {
    vet(real, 'file');
    for (const dir of new Set([dirname(path), dirname(real)])) vet(dir, 'dir');
  } catch (e) {
    if (e instanceof HakoError) throw e;
    throw new HakoError(`hako: cannot run the helper ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  vetted = path;
}

export interface Plan {
  explain: boolean;
  /** Signal for the command when the caller goes away (--kill-child). */
  killSignal?: number;
  /** Make the helper non-dumpable (its /proc entries root's, no ptrace) until the exec. */
  nonDumpable?: boolean;
  /** H1's UNSHARE joins the namespaces the helper made ahead (SessionOptions.ahead), if it still
   * has them: set only when those are the flags planAhead() gives for this plan. */
  ahead?: boolean;
  /** Ops H0 runs before it forks. */
  hostOps?: Field[][];
  /** Ops H1 runs (each a field list that starts with KIND). */
  nsOps: Field[][];
  /** Ops H2 runs; the last is EXEC. */
  initOps: Field[][];
}

export interface LogEntry {
  stage: string;
  op: string;
  detail: string;
  result: number;
  pid: number;
  index?: number;
}

/** The command a container made ahead of time gets last (EXEC_WAIT): its whole environment, and
 * its working directory (inside the container). */
export interface LateCommand {
  args: string[];
  env: string[];
  cwd: string;
}

export interface SessionHandlers {
  /** H1 unshared a user namespace: write its maps now. */
  onIdmap?(pid: number): Promise<void> | void;
  /** H1 asked for its network namespace to be attached (NET_WAIT): attach it now. */
  onNetwork?(pid: number): Promise<void> | void;
  /** The command's process exists (host pid). */
  onSpawned?(pid: number): void;
  onLog?(entry: LogEntry): void;
  /** Only with explain: called before the exec, once every earlier log entry was handled. */
  onPreExec?(): Promise<void> | void;
  /** H0 exists and has not read the plan yet (put it into the cgroup now). */
  onHelper?(pid: number): void;
  /** The init (or exec'd process) is set up: record it. Throwing refuses it (ABORT); a string
   * goes back with the ACK (the state JSON for the startContainer hooks). */
  onReady?(): Promise<string | void> | string | void;
  /** Right after READY's ACK is written, before any later frame is handled: what need not hold
   * the process back (a foreground run's state file, as crun writes its status once the init
   * goes on). Throwing kills the helper and fails the session, as a refused READY would. */
  afterReady?(): void;
  /** Run the prestart and createRuntime hooks. Throwing refuses (ABORT); a string goes back with
   * the ACK (the state JSON for the createContainer hooks). */
  onHooks?(): Promise<string | void> | string | void;
  /** SCMP_ACT_NOTIFY: the container process state JSON the seccomp listener gets with its fd. */
  onSeccompState?(): string;
  /** The compiled seccomp filter the plan asked for (SECCOMP_PROGRAM): the caller may keep it. */
  onSeccompProgram?(program: Buffer): void;
  /** A container made ahead of time (EXEC_WAIT) asks for its command: resolve it whenever there
   * is one (rejecting aborts the container). */
  onExecRequest?(): Promise<LateCommand> | LateCommand;
  /** The command exited (EXITED): called before the result waits for the captured output (a
   * foreground run kills what its init left behind, which would hold the pipes). */
  onExited?(): void;
}

export interface SessionOptions {
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds for the helper to create the namespaces and the process (default 10 s). */
  setupTimeoutMs?: number;
  /** Signals the caller receives that are passed on to the command. */
  forwardSignals?: NodeJS.Signals[];
  /** Fds 3..3+N-1 of this process are passed on to the command (--preserve-fds). */
  preserveFds?: number;
  /** Bytes kept of each piped stdout and stderr (default DEFAULT_MAX_BUFFER); the rest is read
   * and dropped, and the result says so (stdoutTruncated, stderrTruncated). */
  maxBuffer?: number;
  /**
   * Told once H2 has exec'd the command ('executed') or failed before (a failed init op:
   * 'failed'): H2 holds a socket (--exec-fd) until its execve, close-on-exec (docs/PROTOCOL.md).
   * It does not keep the event loop alive.
   */
  onExec?: (outcome: 'executed' | 'failed') => void;
  /** Run from the sealed in-memory copy (default): false only for a helper that execs nothing
   * (one-shot requests such as NSINFO). */
  sealed?: boolean;
  /** Starts the helper instead of a spawn when it can (a Runtime's zygote). */
  spawner?: SessionSpawner;
  /** CLONE_NEW* flags of namespaces the helper makes as soon as it starts, while the plan is
   * built (--ahead; docs/PROTOCOL.md "Namespaces made ahead"): a plan with Plan.ahead joins them. */
  ahead?: number;
  /** Collect piped stdout and stderr into the result (default true: the promise APIs). False
   * leaves the streams to the caller (the live handles), and the result has no stdout/stderr. */
  capture?: boolean;
  /** Written to a piped stdin, which is then closed. With capture and no input, a piped stdin
   * is closed at once (nobody else could write to it). */
  input?: string | Buffer;
  /** Aborting kills the process (SIGKILL) and rejects with a HakoError whose code is 'aborted'. */
  signal?: AbortSignal;
  /** Milliseconds from the start to kill the process (SIGKILL) and reject with code 'timeout'. */
  timeoutMs?: number;
  /** What runs, for the abort and timeout messages (e.g. "run: container x"). */
  label?: string;
  /** The plan detaches after READY (create, run -d, exec -d): H0's exit 0 then ends the session
   * without EXITED. Otherwise only EXITED does (H0's exit can be seen before its last frame). */
  detach?: boolean;
  /** Once the command has exited (EXITED), the helper is left to a spawner that reaps it
   * (HelperChild.leave: bin/hako's front, under hako serve, reaps it before it exits, so that the
   * exit status goes without a round trip for the helper's own exit): for callers that need
   * nothing of the helper after the command's exit (the toolkit's launches). */
  leaveHelper?: boolean;
}

/** How long captured output may stay open after the command exited (a process it left behind
 * holds the pipe): what was written by then is kept, the rest is not waited for. */
export const STREAM_GRACE_MS = 2000;

/** A HakoError with a stable `code` ('aborted', 'timeout'). */
export function codedError(message: string, code: string, exitCode = 1, cause?: unknown): HakoError {
  const e = new HakoError(message, exitCode);
  Object.defineProperty(e, 'code', { value: code, enumerable: true, configurable: true, writable: true });
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause, enumerable: false, configurable: true, writable: true });
  return e;
}

/** The time and abort checks every call that runs something takes. */
export function checkStopOptions(o: { signal?: unknown; timeoutMs?: unknown }): void {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new HakoError('hako: signal must be an AbortSignal');
  if (o.timeoutMs !== undefined && (typeof o.timeoutMs !== 'number' || !Number.isFinite(o.timeoutMs) || o.timeoutMs <= 0 || o.timeoutMs > 2 ** 31 - 1)) {
    throw new HakoError(`hako: timeoutMs must be a number of milliseconds above 0, not ${String(o.timeoutMs)}`);
  }
}

/** Resolves once the stream has ended, closed or failed. */
function streamEnded(stream: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean; closed?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed || stream.closed) { resolve(); return; }
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

/** What runPlan keeps of a piped stdout or stderr unless told otherwise: 64 MiB. */
export const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024;

export interface SessionResult {
  /** Host pid of the command (0 when it never started). */
  pid: number;
  /** Exit status when it exited, else null. */
  status: number | null;
  /** Number of the signal that ended it, else null. */
  signal: number | null;
  /** What failed in the helper, if anything did. */
  failure?: HelperFailure;
  /** The process went on alone after READY (create, run -d, exec -d): no exit status. */
  detached?: boolean;
  stdout?: Buffer;
  stderr?: Buffer;
  /** Piped output went past maxBuffer: stdout or stderr holds only its first maxBuffer bytes. */
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
}

/** Collects a piped stream up to max bytes; past that it keeps reading (the writer never blocks)
 * and drops what it reads. */
function capture(stream: NodeJS.ReadableStream | null, max: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  stream?.on('data', (b: Buffer) => {
    if (size >= max) { truncated = true; return; }
    if (size + b.length > max) { b = b.subarray(0, max - size); truncated = true; }
    chunks.push(b);
    size += b.length;
  });
  return { buffer: () => Buffer.concat(chunks, size), truncated: () => truncated };
}

function planFields(plan: Plan): Field[] {
  const fields: Field[] = [{ tag: Tag.EXPLAIN, value: plan.explain ? 1 : 0 }];
  if (plan.killSignal !== undefined) fields.push({ tag: Tag.KILL_SIGNAL, value: plan.killSignal });
  const flags = (plan.nonDumpable ? 1 : 0) | (plan.ahead ? 2 : 0);
  if (flags) fields.push({ tag: Tag.FLAGS, value: flags });
  for (const op of plan.hostOps ?? []) fields.push({ tag: Tag.HOST_OP, value: op });
  for (const op of plan.nsOps) fields.push({ tag: Tag.NS_OP, value: op });
  for (const op of plan.initOps) fields.push({ tag: Tag.INIT_OP, value: op });
  return fields;
}

function failureOf(f: Fields): HelperFailure {
  const failure: HelperFailure = {
    stage: f.str(Tag.STAGE) ?? '?',
    op: f.str(Tag.OP) ?? '?',
    errno: f.int(Tag.ERRNO) ?? 0,
    errname: f.str(Tag.ERRNAME) ?? '',
    message: f.str(Tag.MESSAGE) ?? '',
  };
  const path = f.str(Tag.PATH);
  if (path !== undefined) failure.path = path;
  const index = f.int(Tag.ID);
  if (index !== undefined) failure.index = index;
  const status = f.int(Tag.STATUS);
  if (status !== undefined) failure.status = status;
  return failure;
}

/**
 * Spawns the helper with the control socket after the stdio and the preserved fds (3..3+N-1),
 * and with watchExec the exec socket after it. sealed: the helper runs from a sealed in-memory
 * copy of itself, never from a file a container could write to (CVE-2019-5736): every launch that
 * runs a command does so; one-shot requests (NSINFO) exec nothing and need not.
 */
function spawnHelper(stdio: StdioOptions, env: NodeJS.ProcessEnv | undefined, preserveFds = 0, sealed = false, watchExec = false, own?: SessionSpawner, ahead = 0) {
  const base = typeof stdio === 'string' ? [stdio, stdio, stdio] : [...stdio].slice(0, 3);
  const preserved = Array.from({ length: preserveFds }, (_, i) => 3 + i);
  checkHelper();
  const ctrl = 3 + preserveFds;
  // the helper needs no environment of its own (the command's is in the EXEC op): a small one
  // makes the spawn cheaper
  // (not through a process-wide spawner, a server's: its front keeps helpers of its own layout)
  const args = [...(ctrl === 3 ? [] : [String(ctrl)]), ...(sealed ? ['--sealed'] : []), ...(watchExec ? [`--exec-fd=${ctrl + 1}`] : []),
    ...(ahead && !spawner ? [`--ahead=${ahead}`] : [])];
  const file = currentHelper();
  const slots = own && !spawner ? base.map(slotOf) : [];
  const mine = own && !spawner && slots.every((s) => s !== undefined)
    ? own(file, args, [...slots as Array<'inherit' | 'ignore' | 'pipe'>, 'pipe', ...(watchExec ? ['pipe' as const] : [])], env ?? {}, preserveFds)
    : undefined;
  const child: HelperChild = mine ?? (spawner
    ? spawner(file, args, [...base.map((e, i) => remoteSlot(e, i)), 'pipe', ...(watchExec ? ['pipe' as const] : [])], env ?? {}, preserveFds)
    : spawn(file, args, { stdio: [...base, ...preserved, 'pipe', ...(watchExec ? ['pipe' as const] : [])], env: env ?? {} }));
  const control = child.stdio[ctrl] as Socket | null;
  const exec = watchExec ? child.stdio[ctrl + 1] as Socket | null : undefined;
  if (!control || exec === null) throw new HakoError('hako: could not open the control socket to the helper');
  return { child, control, exec };
}

/** Watches the exec socket: "E" then EOF is a failed init, EOF alone the exec. */
function watchExec(exec: Socket, onExec: (outcome: 'executed' | 'failed') => void): void {
  let failed = false;
  let told = false;
  const tell = () => {
    if (told) return;
    told = true;
    onExec(failed ? 'failed' : 'executed');
  };
  exec.on('data', (b: Buffer) => { if (b.includes(0x45)) failed = true; });
  exec.on('end', tell);
  exec.on('close', tell);
  exec.on('error', () => { /* close follows */ });
  exec.unref();
}

/** A one-shot request to a fresh helper (e.g. NSINFO): returns the reply's fields. The helper
 * runs from disk (it execs nothing) and exits once its socket is closed. */
export async function helperRequest(type: number, fields: Field[], timeoutMs = 5000): Promise<Fields> {
  const session = HelperSession.start({ stdio: 'ignore', sealed: false });
  try {
    return await session.request(type, fields, timeoutMs);
  } finally {
    session.close();
  }
}

/** OOM_WATCH (docs/PROTOCOL.md): a helper reporting each OOM of a cgroup v1 memory directory,
 * through an eventfd (Node cannot make one). ready() once it is registered, oom() for each
 * notification, end() once: the cgroup was removed, the helper failed (with the error), or stop(). */
export function watchOomV1(dir: string, on: { ready(): void; oom(): void; end(error?: HakoError): void }): { stop(): void } {
  const { child, control } = spawnHelper('ignore', undefined);
  const reader = new FrameReader();
  let ready = false;
  let ended = false;
  const end = (error?: HakoError) => {
    if (ended) return;
    ended = true;
    control.destroy();
    child.kill('SIGKILL');
    on.end(error);
  };
  control.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = reader.push(chunk);
    } catch (e) {
      end(new HakoError(`hako: events: the helper sent a broken frame (${(e as Error).message})`));
      return;
    }
    for (const f of frames) {
      if (f.type === MessageType.ERROR) end(requestError(Fields.decode(f.payload)));
      else if (f.type !== MessageType.OOM) end(new HakoError(`hako: events: unexpected message ${f.type} from the helper`));
      else if (!ready) { ready = true; on.ready(); } else on.oom();
    }
  });
  control.on('close', () => end());
  control.on('error', () => end());
  child.on('error', (e) => end(new HakoError(`hako: cannot run the helper: ${e.message}`)));
  control.write(encodeFrame(MessageType.OOM_WATCH, 1, [{ tag: Tag.PATH, value: dir }]));
  return { stop: () => end() };
}

/** A helper's ERROR in answer to a request, as one line. */
function requestError(payload: Fields): HakoError {
  const failure = failureOf(payload);
  return new HakoError(`hako: helper: ${failure.op}${failure.path ? ` ${failure.path}` : ''}: ${failure.message || failure.errname}`);
}

/**
 * One helper process for one command: spawned at once (from its sealed copy), so that it starts
 * while the caller still prepares the plan; it answers requests (READ_IN_ROOT) before the plan on
 * the same socket, then runs the plan (docs/PROTOCOL.md: "Requests before the plan").
 */
export class HelperSession {
  private readonly child: ReturnType<typeof spawnHelper>['child'];
  private readonly control: Socket;
  private readonly reader = new FrameReader();
  private readonly out: ReturnType<typeof capture>;
  private readonly err: ReturnType<typeof capture>;
  private readonly waiting = new Map<number, { resolve: (f: Fields) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextSeq = 2; // 1 is the plan's
  private running = false;
  /** Frames and ends seen before run(): replies go to their requests. */
  private onFrame: (frame: Frame) => void = (frame) => this.answer(frame);
  private onEnd: (how: string) => void = (how) =>
    this.failRequests(new HakoError(how.startsWith('cannot run') ? `hako: ${how}` : `hako: the helper ended before the plan (${how})`));
  private ended?: string;
  /** Host pid of the command once it exists (0 before). */
  pid = 0;
  /** The command has exited (EXITED came) or the session is over. */
  private over = false;
  /** Signals asked for before the process existed: sent once it does. */
  private queued: Array<NodeJS.Signals | number> = [];
  private spawnListeners: Array<(pid: number) => void> = [];
  /** Why the session was stopped (abort, timeout): what it rejects with. */
  private stopError?: HakoError;
  /** Called by stop() once run() has started: kills and settles. */
  private onStop?: () => void;
  private stopTimer?: NodeJS.Timeout;
  private unlistenAbort?: () => void;

  private constructor(private readonly options: SessionOptions, maxBuffer: number) {
    const spawned = spawnHelper(options.stdio ?? 'inherit', options.env, options.preserveFds, options.sealed !== false, !!options.onExec, options.spawner, options.ahead);
    this.child = spawned.child;
    this.control = spawned.control;
    if (spawned.exec && options.onExec) watchExec(spawned.exec, options.onExec);
    const capturing = options.capture !== false;
    this.out = capture(capturing ? this.child.stdout : null, maxBuffer);
    this.err = capture(capturing ? this.child.stderr : null, maxBuffer);
    const stdin = this.child.stdin;
    if (stdin && (capturing || options.input !== undefined)) {
      stdin.on('error', () => { /* the command did not read it all (EPIPE): as execFile */ });
      stdin.end(options.input ?? '');
    }
    const label = options.label ?? 'the command';
    if (options.signal) {
      const signal = options.signal;
      const abort = () => this.stop(codedError(`hako: ${label}: aborted`, 'aborted', 1, signal.reason));
      if (signal.aborted) queueMicrotask(abort);
      else {
        signal.addEventListener('abort', abort, { once: true });
        this.unlistenAbort = () => signal.removeEventListener('abort', abort);
      }
    }
    if (options.timeoutMs !== undefined) {
      const ms = options.timeoutMs;
      this.stopTimer = setTimeout(() => this.stop(codedError(`hako: ${label}: timed out after ${ms} ms (killed with SIGKILL)`, 'timeout', 124)), ms);
    }
    this.control.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.reader.push(chunk);
      } catch (e) {
        this.child.kill('SIGKILL');
        this.onEnd(e instanceof Error ? e.message : String(e));
        return;
      }
      for (const frame of frames) this.onFrame(frame);
    });
    this.control.on('error', () => { /* the close/exit handlers report */ });
    const end = (how: string) => {
      this.ended ??= how;
      this.onEnd(how);
    };
    this.child.on('error', (e) => end(`cannot run the helper ${currentHelper()}: ${e.message} (build it: npm rebuild hako, or npm ci in a checkout)`));
    this.child.on('exit', (code, signal) => end(signal ?? `exit ${code}`));
  }

  /** Spawns the helper for one command (options as runPlan's). */
  static start(options: SessionOptions = {}): HelperSession {
    const maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
    if (!Number.isSafeInteger(maxBuffer) || maxBuffer < 0) {
      throw new HakoError(`hako: maxBuffer must be a whole number of bytes (0 or more), not ${String(options.maxBuffer)}`);
    }
    checkStopOptions(options);
    if (options.input !== undefined && typeof options.input !== 'string' && !Buffer.isBuffer(options.input)) {
      throw new HakoError('hako: input must be a string or a Buffer');
    }
    if (options.signal?.aborted) throw codedError(`hako: ${options.label ?? 'the command'}: aborted`, 'aborted', 1, options.signal.reason);
    return new HelperSession(options, maxBuffer);
  }

  /** The helper's stdio (null unless piped): the live handles hand them on. */
  get stdio(): { stdin: NodeJS.WritableStream | null; stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null } {
    return { stdin: this.child.stdin, stdout: this.child.stdout, stderr: this.child.stderr };
  }

  /** Calls fn with the command's host pid once it exists. */
  onSpawn(fn: (pid: number) => void): void {
    if (this.pid > 0) fn(this.pid);
    else this.spawnListeners.push(fn);
  }

  /** Sends a signal to the command (queued until it exists); false once it has exited. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.over || this.stopError) return false;
    if (this.pid === 0) {
      this.queued.push(signal);
      return true;
    }
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  private spawnedNow(pid: number): void {
    this.pid = pid;
    for (const fn of this.spawnListeners.splice(0)) {
      try { fn(pid); } catch { /* a listener's own failure */ }
    }
    for (const signal of this.queued.splice(0)) this.kill(signal);
  }

  /** Stops the command (abort, timeout): kills it, and the session rejects with error. */
  stop(error: HakoError): void {
    if (this.over || this.stopError) return;
    this.stopError = error;
    this.clearStop();
    if (this.onStop) {
      this.onStop();
      return;
    }
    // before the plan: requests fail with the error, the helper goes
    this.failRequests(error);
    this.child.kill('SIGKILL');
  }

  private clearStop(): void {
    clearTimeout(this.stopTimer);
    this.unlistenAbort?.();
    this.unlistenAbort = undefined;
  }

  /** A request answered before the plan (READ_IN_ROOT): the reply's fields. Its time limit is the
   * session's setup time (the helper may still be starting: 200 at once under load take seconds). */
  request(type: number, fields: Field[], timeoutMs = this.options.setupTimeoutMs ?? 10_000): Promise<Fields> {
    if (this.stopError) return Promise.reject(this.stopError);
    if (this.running) return Promise.reject(new HakoError('hako: internal error: a helper request after the plan'));
    if (this.ended) return Promise.reject(new HakoError(`hako: the helper ended before the plan (${this.ended})`));
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new HakoError(`hako: the helper did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(seq, { resolve, reject, timer });
      this.control.write(encodeFrame(type, seq, fields));
    });
  }

  /** Ends a session that only answered requests: the helper reads EOF and exits 0. */
  close(): void {
    if (this.running) return;
    this.over = true;
    this.clearStop();
    this.failRequests(new HakoError('hako: the helper session was closed'));
    this.control.end();
  }

  /** Ends a session whose plan will not be sent (the caller failed first). */
  abandon(): void {
    if (this.running) return;
    this.over = true;
    this.clearStop();
    this.failRequests(new HakoError('hako: the helper was not needed after all'));
    this.child.kill('SIGKILL');
    this.control.destroy();
  }

  private answer(frame: Frame): void {
    const w = this.waiting.get(frame.seq);
    const payload = Fields.decode(frame.payload);
    if (!w) {
      // an ERROR of the helper's own (not a reply) fails whatever waits
      if (frame.type === MessageType.ERROR) this.failRequests(requestError(payload));
      return;
    }
    this.waiting.delete(frame.seq);
    clearTimeout(w.timer);
    if (frame.type === MessageType.ERROR) w.reject(requestError(payload));
    else w.resolve(payload);
  }

  private failRequests(e: Error): void {
    for (const [seq, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(seq);
      w.reject(e);
    }
  }

  /** Sends the plan and runs it to the end: resolves when the command has exited (or failed to
   * start, or went on alone after READY). */
  run(plan: Plan, handlers: SessionHandlers = {}): Promise<SessionResult> {
    return new Promise((resolve, reject) => {
      // under hako serve, the command's first plan may join what the front made ahead for its spare
      const fields = planFields(spawner && spareAhead(plan.nsOps, plan.explain) ? { ...plan, ahead: true } : plan);
      // encoded once: its size is the check (a plan over the frame limit never reaches the helper)
      const frame = encodeFrameIfFits(MessageType.PLAN, 1, fields);
      if (typeof frame === 'number') {
        const size = frame;
        this.abandon();
        reject(new HakoError(`hako: the plan for the helper is ${size} bytes, over its limit of ${MAX_PAYLOAD} (1 MiB): fewer or shorter args, env, mounts, hooks or seccomp rules`));
        return;
      }
      if (this.running) {
        reject(new HakoError('hako: internal error: a helper session runs one plan'));
        return;
      }
      if (this.stopError) {
        this.abandon();
        reject(this.stopError);
        return;
      }
      this.running = true;
      this.failRequests(new HakoError('hako: internal error: a helper request still waiting when the plan was sent'));
      const { child, control, options } = this;
      const out = this.out;
      const err = this.err;
      const result: SessionResult = { pid: 0, status: null, signal: null };
      let settled = false;
      let exited = false;
      let ready = false;
      let chain: Promise<void> = Promise.resolve();

      // signals that arrive before the process exists are kept and sent once it does
      const forward = (signal: NodeJS.Signals) => { this.kill(signal); };
      for (const s of options.forwardSignals ?? []) process.on(s, forward);

      const setupTimeout = options.setupTimeoutMs ?? 10_000;
      let phase = 'namespaces';
      const hung = () => {
        child.kill('SIGKILL');
        if (result.pid > 0) { try { process.kill(result.pid, 'SIGKILL'); } catch { /* gone */ } }
        finish(new HakoError(`hako: the helper hung in the ${phase} phase (no answer within ${setupTimeout} ms)`));
      };
      let timer = setTimeout(hung, setupTimeout);

      const capturing = options.capture !== false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        this.over = true;
        this.clearStop();
        clearTimeout(timer);
        clearTimeout(stopTimer);
        control.destroy(); // H0 ends at its EOF
        if (exited && !error && options.leaveHelper) child.leave?.();
        for (const s of options.forwardSignals ?? []) process.off(s, forward);
        const captured = capturing ? [child.stdout, child.stderr].filter((s): s is NonNullable<typeof s> => s !== null) : [];
        if (error || result.detached) {
          // nothing waits for output that will not come: a detached process keeps the pipes
          // (its output is not the caller's once the call returned), and a failure has no result
          for (const s of captured) s.destroy();
          if (error) reject(error);
        }
        if (error) return;
        const done = () => {
          if (capturing && child.stdout) result.stdout = out.buffer();
          if (capturing && child.stderr) result.stderr = err.buffer();
          if (out.truncated()) result.stdoutTruncated = true;
          if (err.truncated()) result.stderrTruncated = true;
          resolve(result);
        };
        // the result waits for every captured stream to end (the exit can come before the last
        // output is read), and for the helper to be gone unless its EXITED came: then H0 has
        // reaped everything of the command's and only ends once the control socket is closed
        // (here), which its exit need not be waited for (its reap and the zygote's word of it
        // are ~0.5 ms of the result's time). A process the command left behind that holds a pipe
        // is waited for STREAM_GRACE_MS, then its pipe is closed
        const helperGone = child.exitCode !== null || child.signalCode !== null || exited
          ? Promise.resolve() : new Promise<void>((r) => { child.once('exit', () => r()); });
        if (result.detached) {
          void helperGone.then(done);
          return;
        }
        let grace: NodeJS.Timeout | undefined;
        const graceOver = new Promise<void>((r) => {
          grace = setTimeout(() => setImmediate(() => {
            for (const s of captured) s.destroy();
            r();
          }), STREAM_GRACE_MS);
        });
        void Promise.race([Promise.all(captured.map(streamEnded)), graceOver])
          .then(() => { clearTimeout(grace); return helperGone; })
          .then(done);
      };

      // abort or timeout: the process is killed and its exit awaited (H0 reports it); before it
      // exists, the helper goes (its stages die with it)
      let stopTimer: NodeJS.Timeout | undefined;
      this.onStop = () => {
        const error = this.stopError;
        if (!error || settled) return;
        if (result.pid > 0 && !exited) {
          try { process.kill(result.pid, 'SIGKILL'); } catch { /* gone */ }
          stopTimer = setTimeout(() => { child.kill('SIGKILL'); finish(error); }, 5000);
        } else {
          child.kill('SIGKILL');
          finish(error);
        }
      };

      const reply = (type: number, seq: number, fields: Field[] = []) => {
        if (!control.destroyed) control.write(encodeFrame(type, seq, fields));
      };

      const handle = async (frame: Frame) => {
        const f = Fields.decode(frame.payload);
        switch (frame.type) {
          case MessageType.LOG: {
            const entry: LogEntry = {
              stage: f.str(Tag.STAGE) ?? '?', op: f.str(Tag.OP) ?? '?', detail: f.str(Tag.DETAIL) ?? '',
              result: f.int(Tag.RESULT) ?? 0, pid: f.int(Tag.PID) ?? 0,
            };
            const index = f.int(Tag.ID);
            if (index !== undefined) entry.index = index;
            handlers.onLog?.(entry);
            return;
          }
          case MessageType.IDMAP_REQUEST:
          case MessageType.NETWORK_REQUEST: {
            phase = frame.type === MessageType.IDMAP_REQUEST ? 'idmap' : 'network';
            try {
              if (frame.type === MessageType.IDMAP_REQUEST) await handlers.onIdmap?.(f.int(Tag.PID) ?? 0);
              else await handlers.onNetwork?.(f.int(Tag.PID) ?? 0);
              phase = 'namespaces';
              reply(MessageType.ACK, frame.seq);
            } catch (e) {
              reply(MessageType.ABORT, frame.seq, [{ tag: Tag.MESSAGE, value: String(e) }]);
              throw e;
            }
            return;
          }
          case MessageType.SPAWNED:
            result.pid = f.int(Tag.PID) ?? 0;
            clearTimeout(timer);
            phase = 'init';
            // a container's setup (mounts, hooks excepted) must reach READY in time too
            if (handlers.onReady) timer = setTimeout(hung, setupTimeout);
            handlers.onSpawned?.(result.pid);
            this.spawnedNow(result.pid);
            if (this.stopError) this.onStop?.();
            return;
          case MessageType.EXEC_REQUEST: {
            // a container made ahead of time waits for its command: answered whenever the caller
            // has one, off the frame chain (EXITED must still be handled if it is killed meanwhile)
            clearTimeout(timer);
            const ask = handlers.onExecRequest;
            if (!ask) {
              reply(MessageType.ABORT, frame.seq, [{ tag: Tag.MESSAGE, value: 'no command' }]);
              throw new HakoError('hako: the helper asked for a command this plan has none of');
            }
            void Promise.resolve().then(ask).then((cmd) => {
              reply(MessageType.ACK, frame.seq, [
                { tag: Tag.KIND, value: OpKind.EXEC }, ...cmd.args.map((a) => ({ tag: Tag.ARG, value: a })),
                ...cmd.env.map((e) => ({ tag: Tag.ENV, value: e })), { tag: Tag.PATH, value: cmd.cwd },
              ]);
            }, (e: unknown) => {
              reply(MessageType.ABORT, frame.seq, [{ tag: Tag.MESSAGE, value: String(e) }]);
            });
            return;
          }
          case MessageType.PRE_EXEC:
            await handlers.onPreExec?.();
            reply(MessageType.ACK, frame.seq);
            return;
          case MessageType.SECCOMP_PROGRAM: {
            const program = f.entries.find((e) => e.tag === Tag.DATA)?.raw;
            if (program?.length) handlers.onSeccompProgram?.(Buffer.from(program));
            return;
          }
          case MessageType.SECCOMP_STATE: {
            const data = handlers.onSeccompState?.();
            if (data === undefined) {
              reply(MessageType.ABORT, frame.seq, [{ tag: Tag.MESSAGE, value: 'no seccomp state' }]);
              throw new HakoError('hako: the helper asked for a seccomp listener state this plan has none of');
            }
            reply(MessageType.ACK, frame.seq, [{ tag: Tag.DATA, value: data }]);
            return;
          }
          case MessageType.READY:
          case MessageType.HOOKS: {
            clearTimeout(timer); // hooks have timeouts of their own; after READY the process runs
            const handler = frame.type === MessageType.READY ? handlers.onReady : handlers.onHooks;
            let data: string | void;
            try {
              data = await handler?.();
            } catch (e) {
              reply(MessageType.ABORT, frame.seq, [{ tag: Tag.MESSAGE, value: String(e) }]);
              throw e;
            }
            if (frame.type === MessageType.READY) ready = true;
            else timer = setTimeout(hung, setupTimeout);
            reply(MessageType.ACK, frame.seq, typeof data === 'string' ? [{ tag: Tag.DATA, value: data }] : []);
            if (frame.type === MessageType.READY) handlers.afterReady?.();
            return;
          }
          case MessageType.ERROR:
            result.failure ??= failureOf(f);
            return;
          case MessageType.EXITED: {
            exited = true;
            const signal = f.int(Tag.SIGNAL);
            if (signal !== undefined) result.signal = signal;
            else result.status = f.int(Tag.STATUS) ?? 1;
            this.over = true;
            try { handlers.onExited?.(); } catch { /* the result still comes */ }
            finish(this.stopError);
            return;
          }
          default:
            throw new HakoError(`hako: the helper sent an unexpected message (type ${frame.type})`);
        }
      };

      this.onFrame = (frame) => {
        chain = chain.then(() => handle(frame)).catch((e: unknown) => {
          child.kill('SIGKILL');
          finish(e instanceof Error ? e : new Error(String(e)));
        });
      };
      this.onEnd = (how) => { if (how.startsWith('cannot run')) finish(new HakoError(`hako: ${how}`)); };
      if (this.ended?.startsWith('cannot run')) {
        finish(new HakoError(`hako: ${this.ended}`));
        return;
      }
      // The helper's end: both the process exit and the socket's close (which follows its last frame).
      let exitCode: number | null = null;
      let exitSignal: NodeJS.Signals | null = null;
      let ends = 0;
      const ended = () => {
        if (++ends < 2) return;
        chain = chain.then(() => {
          if (exited || settled) return;
          if (result.failure) {
            result.status = exitCode ?? 1;
            finish();
          } else if (options.detach && ready && exitCode === 0) {
            result.detached = true;
            finish();
          } else if (exitSignal && options.forwardSignals?.includes(exitSignal)) {
            // a signal hako passes on also reached the helper (sent to the process group, as timeout does)
            finish(new HakoError(`hako: stopped by ${exitSignal}`, 128 + (constants.signals[exitSignal] ?? 0)));
          } else {
            finish(new HakoError(`hako: the helper ended without a result (${exitSignal ?? `exit ${exitCode}`}) in the ${phase} phase`));
          }
        });
      };
      const exitedNow = (code: number | null, signal: NodeJS.Signals | null) => {
        exitCode = code;
        exitSignal = signal;
        // a detached process keeps its end of the socket until it execs: H0's exit is the end
        if (options.detach && ready && code === 0) ends++;
        ended();
      };
      if (control.destroyed || control.readableEnded) ended();
      else control.on('close', ended);
      if (child.exitCode !== null || child.signalCode !== null) exitedNow(child.exitCode, child.signalCode);
      else child.on('exit', exitedNow);
      if (child.pid !== undefined) {
        try {
          handlers.onHelper?.(child.pid);
        } catch (e) {
          child.kill('SIGKILL');
          finish(e instanceof Error ? e : new Error(String(e)));
          return;
        }
      }
      control.write(frame);
    });
  }
}

/** Runs a plan to the end with a new helper: resolves when the command has exited (or failed to
 * start). */
export function runPlan(plan: Plan, handlers: SessionHandlers = {}, options: SessionOptions = {}): Promise<SessionResult> {
  let session: HelperSession;
  try {
    session = HelperSession.start(options);
  } catch (e) {
    return Promise.reject(e);
  }
  return session.run(plan, handlers);
}
