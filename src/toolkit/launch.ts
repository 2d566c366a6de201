// What unshare and nsenter share: a plan with a description of every op, running it,
// explaining it as it happens, and turning a helper failure into one clear line.
import type { StdioOptions } from 'node:child_process';
import { HelperSession, type LogEntry, type Plan } from '../helper/session.js';
import { HakoProcess, stdioWithInput } from '../helper/handle.js';
import { failureError } from '../helper/failure.js';
import { userNsRefusal } from '../runtime/rootless.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { signalName } from '../linux/signals.js';
import { Zygote } from '../helper/zygote.js';

/** The toolkit's resident helper (src/helper/zygote.ts), as a Runtime has one: started on the
 * first launch, it forks each launch's helper, so that a call costs no spawn and exec of it. */
let zygote: Zygote | undefined;
let zygoteOn = true;

/** @internal Whether launches fork their helper from the zygote (the CLI, one launch per process,
 * spawns it: starting a zygote for one helper costs more). */
export function useToolkitZygote(on: boolean): void {
  zygoteOn = on;
}

export interface LaunchOptions {
  /** Print each step as it happens: true for stderr, or a function that takes each line. */
  explain?: boolean | ((line: string) => void);
  /** stdio for the command, as child_process takes it (default: inherit this process's). */
  stdio?: StdioOptions;
  /** The command's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Signals hako receives that are passed on to the command. */
  forwardSignals?: NodeJS.Signals[];
  /** Signal for the command if hako goes away (util-linux --kill-child). */
  killSignal?: number;
  /** Milliseconds the namespace setup may take before it counts as hung (default 10 s). */
  setupTimeoutMs?: number;
  /** Bytes kept of a piped stdout and of a piped stderr (default 64 MiB); the rest is read and
   * dropped, and stdoutTruncated / stderrTruncated say so. */
  maxBuffer?: number;
  /** Written to the command's stdin, which is then closed (stdin is piped for it). Without it,
   * the promise API closes a piped stdin at once; a handle leaves it to you. */
  input?: string | Buffer;
  /** Aborting kills the command (SIGKILL) and rejects with a HakoError whose code is 'aborted'. */
  signal?: AbortSignal;
  /** Kill the command (SIGKILL) after this many milliseconds and reject with code 'timeout'. */
  timeoutMs?: number;
}

export interface LaunchResult {
  /** Host pid of the command. */
  pid: number;
  /** The exit code a shell would show: the status, or 128 + the signal number. */
  exitCode: number;
  /** The exit status, or null when a signal ended the command. */
  status: number | null;
  /** The signal that ended the command, or null. */
  signal: number | null;
  /** The captured stdout (stdio 'pipe'). */
  stdout?: Buffer;
  /** The captured stderr (stdio 'pipe'). */
  stderr?: Buffer;
  /** The piped stdout went past maxBuffer: only its first maxBuffer bytes are kept. */
  stdoutTruncated?: boolean;
  /** The piped stderr went past maxBuffer. */
  stderrTruncated?: boolean;
}

export type Explainer = (line: string) => void;

export function explainerOf(option: LaunchOptions['explain']): Explainer | undefined {
  if (!option) return undefined;
  if (typeof option === 'function') return option;
  return (line) => process.stderr.write(`${line}\n`);
}

const stageLabel: Record<string, string> = { ns: 'namespaces', init: 'init', host: 'helper' };

/** What P does while the helper waits: write id maps (IDMAP), attach the network (NET_WAIT). */
export interface Pauses {
  onIdmap?: (pid: number, explain?: Explainer) => Promise<void> | void;
  onNetwork?: (pid: number, explain?: Explainer) => Promise<void> | void;
}

/** Runs a built plan. `pauses` answer the plan's IDMAP and NET_WAIT ops. */
export function launch(
  verb: string,
  builder: PlanBuilder,
  options: LaunchOptions,
  pauses?: Pauses,
  cleanup?: () => Promise<void>,
): Promise<LaunchResult> {
  return new HakoProcess<LaunchResult>((attach) => launchOn(verb, builder, options, pauses, attach, true, cleanup)).result;
}

/** launch as a live handle: piped stdio as streams, the pid as soon as it exists. */
export function launchSpawn(
  verb: string,
  build: () => PlanBuilder | Promise<PlanBuilder>,
  options: LaunchOptions,
  pauses?: Pauses,
  cleanup?: () => Promise<void>,
): HakoProcess<LaunchResult> {
  return new HakoProcess<LaunchResult>((attach) => launchOn(verb, build(), options, pauses, attach, false, cleanup));
}

async function launchOn(
  verb: string,
  built: PlanBuilder | Promise<PlanBuilder>,
  options: LaunchOptions,
  pauses: Pauses | undefined,
  attach: (session: HelperSession) => void,
  capture: boolean,
  cleanup?: () => Promise<void>,
): Promise<LaunchResult> {
  try {
    return await launchBuilt(verb, await built, options, pauses, attach, capture);
  } finally {
    // after the command has ended (or failed to start): e.g. the network's CNI DEL
    await cleanup?.();
  }
}

async function launchBuilt(
  verb: string,
  builder: PlanBuilder,
  options: LaunchOptions,
  pauses: Pauses | undefined,
  attach: (session: HelperSession) => void,
  capture: boolean,
): Promise<LaunchResult> {
  const explain = explainerOf(options.explain);
  let initPid = 0;
  const plan: Plan = { explain: !!explain, hostOps: builder.hostOps, nsOps: builder.nsOps, initOps: builder.initOps };
  if (options.killSignal !== undefined) plan.killSignal = options.killSignal;
  const onLog = (entry: LogEntry) => {
    if (!explain || entry.op === 'execve') return;
    const text = builder.describe(entry.stage, entry.index) ?? `${entry.op} ${entry.detail}`;
    const who = entry.stage === 'init' && initPid && entry.pid !== initPid
      ? `init, pid ${entry.pid} inside, ${initPid} on the host` : `${stageLabel[entry.stage] ?? entry.stage}, pid ${entry.pid}`;
    explain(`[${who}] ${text}: ${entry.result === 0 ? 'ok' : `failed (${entry.result})`}`);
  };
  const stdio = stdioWithInput(options.stdio, options.input) as LaunchOptions['stdio'];
  const session = HelperSession.start({
    capture,
    label: verb,
    // nothing here needs the helper gone once the command has exited (under hako serve the front
    // reaps it before it exits: the exit status goes without waiting for it)
    leaveHelper: true,
    ...(stdio !== undefined ? { stdio } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.forwardSignals !== undefined ? { forwardSignals: options.forwardSignals } : {}),
    ...(options.setupTimeoutMs !== undefined ? { setupTimeoutMs: options.setupTimeoutMs } : {}),
    ...(options.maxBuffer !== undefined ? { maxBuffer: options.maxBuffer } : {}),
    ...(zygoteOn ? { spawner: (zygote ??= new Zygote()).spawner } : {}),
  });
  attach(session);
  explain?.(`[hako] ${verb}: running the helper (one process creates or joins the namespaces, its child runs the command)`);
  const result = await session.run(plan, {
    onLog,
    onIdmap: (pid) => pauses?.onIdmap?.(pid, explain),
    onNetwork: (pid) => pauses?.onNetwork?.(pid, explain),
    onSpawned: (pid) => {
      initPid = pid;
      explain?.(`[hako] the command's process is pid ${pid} on the host`);
    },
    onPreExec: () => {
      const last = builder.initText[builder.initText.length - 1];
      explain?.(`[init] ${last}: the command takes over this process now`);
    },
  });
  if (result.failure) {
    const err = failureError(verb, builder, result.failure);
    const restriction = userNsRefusal(result.failure, builder.describe(result.failure.stage, result.failure.index));
    if (restriction) err.message = `${err.message}: ${restriction}`;
    throw err;
  }
  const exitCode = result.signal !== null ? 128 + result.signal : result.status ?? 1;
  if (explain) {
    explain(result.signal !== null
      ? `[hako] the command was killed by ${signalName(result.signal)}: exit code ${exitCode}`
      : `[hako] the command exited with status ${result.status}`);
  }
  const out: LaunchResult = { pid: result.pid, exitCode, status: result.status, signal: result.signal };
  if (result.stdout) out.stdout = result.stdout;
  if (result.stderr) out.stderr = result.stderr;
  if (result.stdoutTruncated) out.stdoutTruncated = true;
  if (result.stderrTruncated) out.stderrTruncated = true;
  return out;
}
