// The runc verbs: create, start, run, state, list, kill, delete, exec, ps, spec, features.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HakoError } from '../errors.js';
import { Runtime } from '../runtime/runtime.js';
import { formatOciState } from '../runtime/state.js';
import { defaultSpec } from '../config/default.js';
import { features } from '../config/features.js';
import { hakoSupport } from '../plan/support.js';
import type { Process } from '../config/types.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../config/json-position.js';
import type { LinuxResources } from '../cgroups/resources.js';
import { byteSize, durationMs, has, intValue, last, parseArgs } from './args.js';
import { runcJson } from '../cgroups/runc-stats.js';
import { checkpointRefusal } from '../runtime/criu.js';
import { command } from './commands.js';
import { endAtOnce, readStdin } from './common.js';
import { type Globals, logRecord } from './globals.js';
import { commandHelp } from './help.js';

function oneId(verb: string, rest: string[]): string {
  if (rest.length !== 1) throw new HakoError(`hako ${verb}: expected exactly one container id (got ${rest.length}); see 'hako ${verb} --help'`, { code: 'bad-option' });
  return rest[0] as string;
}

/**
 * Closes what hako's caller left open by mistake: fds from `from` on (after stdio and the
 * --preserve-fds range) that are not close-on-exec. Node's own fds all are; the caller's strays
 * would otherwise reach the hooks hako spawns itself (prestart, createRuntime, poststart,
 * poststop). The helper closes them on its side too (docs/PROTOCOL.md).
 */
function closeStrayFds(from: number): void {
  const channel = Number(process.env.NODE_CHANNEL_FD ?? -1);
  let names: string[];
  try { names = readdirSync('/proc/self/fd'); } catch { return; }
  for (const name of names) {
    const fd = Number(name);
    if (fd < from || fd === channel) continue;
    let flags: string | undefined;
    try { flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]; } catch { continue; }
    if (flags === undefined || (parseInt(flags, 8) & 0o2000000) !== 0) continue; // O_CLOEXEC
    try { closeSync(fd); } catch { /* gone */ }
  }
}

function createOptions(verb: string, args: ReturnType<typeof parseArgs>) {
  const o: Parameters<Runtime['create']>[1] = { bundle: last(args, 'bundle') ?? process.cwd() };
  const pidFile = last(args, 'pid-file');
  if (pidFile) o.pidFile = pidFile;
  const socket = last(args, 'console-socket');
  if (socket) o.consoleSocket = socket;
  if (has(args, 'no-pivot')) o.noPivot = true;
  if (has(args, 'no-new-keyring')) o.noNewKeyring = true;
  const fds = last(args, 'preserve-fds');
  if (fds !== undefined) o.preserveFds = intValue(verb, 'preserve-fds', fds);
  const network = last(args, 'network');
  if (network !== undefined) o.network = network;
  const publish = args.values.get('publish');
  if (publish) o.publish = publish;
  if (has(args, 'explain')) o.explain = true;
  closeStrayFds(3 + (o.preserveFds ?? 0));
  return o;
}

/** Signals a foreground `run` or `exec` passes on to the container, as runc's signal proxy. */
const PROXIED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Where the Runtimes' warnings go: the command now running's (its --log, its stderr). */
let warnNow: (message: string) => void = (m) => { process.stderr.write(`${m}\n`); };

/** The Runtimes of this process, by state root and network directory: one-shot for a CLI
 * process, but a `hako serve` worker runs many commands, and a Runtime kept between them answers
 * from its caches (each bundle's checked config, compiled seccomp filters, device programs; each
 * checked against the files as they are now). At most 8 are kept. */
const runtimes = new Map<string, Runtime>();
function runtimeFor(root: string, netDir: string | undefined): Runtime {
  const at = { root: resolve(root), ...(netDir !== undefined ? { netDir: resolve(netDir) } : {}) };
  const key = JSON.stringify(at);
  let rt = runtimes.get(key);
  if (!rt) {
    // a one-shot process: a resident helper would not be used twice
    rt = new Runtime({ ...at, warn: (m) => warnNow(m), zygote: false });
    // one command at a time (a CLI process, a serve worker): a foreground run's container goes at
    // once, synchronously, when its process has exited (Runtime.oneShot)
    rt.oneShot = true;
    if (runtimes.size >= 8) runtimes.delete(runtimes.keys().next().value as string);
    runtimes.set(key, rt);
  }
  return rt;
}

export async function runtimeCommand(verb: string, argv: string[], globals: Globals): Promise<number> {
  const cmd = command(verb);
  if (!cmd) throw new HakoError(`hako: unknown command '${verb}'`, { code: 'bad-option' });
  // the options of every verb come from src/cli/commands.ts, as its --help does
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(verb, argv, cmd.specs, cmd.stopAtFirstArg ?? false);
  } catch (e) {
    // runc: every failure of exec itself exits 255, apart from the process's own status
    throw verb === 'exec' && e instanceof HakoError ? new HakoError(e.message, 255) : e;
  }
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(cmd)}\n`);
    return 0;
  }
  // as runc: with --log, warnings go to the log only. Under containerd's shim and conmon, hako's
  // stderr during create is the container's stderr: a warning there would read as the container's.
  warnNow = globals.log ? (m: string) => logRecord(globals, 'warning', m.replace(/^hako: /, ''))
    : (m: string) => { process.stderr.write(`${m}\n`); };
  // --net-dir (run, create): the network configs for --network NAME (default $HAKO_NET_DIR, /etc/hako/net.d)
  const netDir = (verb === 'run' || verb === 'create') ? last(args, 'net-dir') : undefined;
  const rt = runtimeFor(globals.root, netDir);
  switch (verb) {
    case 'create': {
      const id = oneId(verb, args.rest);
      await rt.create(id, createOptions(verb, args));
      return 0;
    }
    case 'run': {
      // as runc: a foreground container does not die with hako itself (killSignal false); the
      // signals hako gets are forwarded to it
      const id = oneId(verb, args.rest);
      const o = { ...createOptions(verb, args), detach: has(args, 'detach'), keep: has(args, 'keep'), forwardSignals: PROXIED, ...(has(args, 'detach') ? {} : { killSignal: false as const }) };
      const { exitCode } = await rt.run(id, o);
      if (!o.detach && rt.settled()) endAtOnce();
      return exitCode;
    }
    case 'start': {
      closeStrayFds(3);
      await rt.start(oneId(verb, args.rest));
      return 0;
    }
    case 'state': {
      process.stdout.write(`${formatOciState(rt.state(oneId(verb, args.rest)))}\n`);
      return 0;
    }
    case 'list': case 'ps': if (verb === 'list') {
      const list = rt.list();
      if (has(args, 'quiet')) process.stdout.write(list.map((s) => `${s.id}\n`).join(''));
      else if (last(args, 'format') === 'json') process.stdout.write(`${JSON.stringify(list)}\n`);
      else {
        const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...list.map((s) => [s.id, String(s.status === 'stopped' ? 0 : s.pid), s.status, s.bundle, s.created, s.owner])];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]! + 2)).join('').trimEnd()).join('\n') + '\n');
      }
      return 0;
    } else {
      const [id, ...psArgs] = args.rest;
      if (!id) throw new HakoError("hako ps: expected a container id; see 'hako ps --help'", { code: 'bad-option' });
      const pids = rt.ps(id);
      if (last(args, 'format') === 'json') {
        process.stdout.write(`${JSON.stringify(pids)}\n`);
        return 0;
      }
      // as runc: the host's `ps` (with the options given after the id, -ef by default), keeping
      // its header and the lines of this container's processes
      const ps = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
      if (ps.status !== 0) throw new HakoError(`hako ps: ps ${psArgs.join(' ')} failed: ${(ps.stderr || ps.error?.message || '').trim()}`, { code: 'error' });
      const [header = '', ...rows] = ps.stdout.split('\n');
      const pidColumn = header.trim().split(/\s+/).indexOf('PID');
      if (pidColumn < 0) throw new HakoError("hako ps: the ps output has no PID column", { code: 'error' });
      const inside = new Set(pids);
      process.stdout.write([header, ...rows.filter((r) => inside.has(Number(r.trim().split(/\s+/)[pidColumn])))].join('\n') + '\n');
      return 0;
    }
    case 'kill': {
      const [id, signal] = args.rest;
      if (!id || args.rest.length > 2) throw new HakoError("hako kill: usage: hako kill [--all] ID [SIGNAL]", { code: 'bad-option' });
      rt.kill(id, signal ?? 'SIGTERM', has(args, 'all'));
      return 0;
    }
    case 'delete': {
      closeStrayFds(3);
      await rt.delete(oneId(verb, args.rest), has(args, 'force'));
      return 0;
    }
    case 'exec':
      // runc: every failure of exec itself exits 255, apart from the process's own status
      return execCommand(rt, args).catch((e: unknown) => {
        throw e instanceof HakoError && e.exitCode !== 255 ? new HakoError(e.message, 255, e.code) : e;
      });
    case 'checkpoint': case 'restore': {
      const id = oneId(verb, args.rest);
      if (verb === 'checkpoint') rt.state(id); // a missing container is said first, as runc
      throw checkpointRefusal(verb, globals.criu);
    }
    case 'events': {
      const id = oneId(verb, args.rest);
      const interval = last(args, 'interval');
      const intervalMs = interval === undefined ? undefined : durationMs(verb, 'interval', interval);
      // SIGINT/SIGTERM end it quietly (runc's events runs until it is killed)
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await rt.events(id, { once: has(args, 'stats'), intervalMs, signal: stop.signal }, (e) => {
          process.stdout.write(`${runcJson(e)}\n`);
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      return 0;
    }
    case 'pause': case 'resume': {
      if (verb === 'pause') await rt.pause(oneId(verb, args.rest));
      else await rt.resume(oneId(verb, args.rest));
      return 0;
    }
    case 'update': {
      rt.update(oneId(verb, args.rest), await updateResources(args));
      return 0;
    }
    case 'spec': {
      const file = join(last(args, 'bundle') ?? '.', 'config.json');
      if (existsSync(file)) throw new HakoError(`hako spec: ${file} exists; remove it first`, { code: 'exists' });
      writeFileSync(file, `${JSON.stringify(defaultSpec({ rootless: has(args, 'rootless') }), null, '\t')}\n`);
      return 0;
    }
    case 'features':
      process.stdout.write(`${JSON.stringify(features(hakoSupport()), null, '    ')}\n`);
      return 0;
    default:
      throw new HakoError(`hako: unknown command '${verb}'`, { code: 'bad-option' });
  }
}

/** runc update: a resources JSON file (- for stdin) and/or the single-value flags. */
async function updateResources(args: ReturnType<typeof parseArgs>): Promise<LinuxResources> {
  const file = last(args, 'resources');
  let r: LinuxResources = {};
  if (file) {
    try {
      r = JSON.parse(file === '-' ? (await readStdin()).toString('utf8') : readFileSync(file, 'utf8')) as LinuxResources;
    } catch (e) {
      throw new HakoError(`hako update: --resources ${file}: ${(e as Error).message}`, { code: 'bad-config' });
    }
  }
  const num = (name: string) => {
    const v = last(args, name);
    return v === undefined ? undefined : intValue('update', name, v, -1);
  };
  // sizes as runc takes them: bytes, or with a unit (50M, 1g)
  const size = (name: string) => {
    const v = last(args, name);
    return v === undefined ? undefined : byteSize('update', name, v);
  };
  const memory = { ...(r.memory ?? {}) };
  const limit = size('memory'); if (limit !== undefined) memory.limit = limit;
  const reservation = size('memory-reservation'); if (reservation !== undefined) memory.reservation = reservation;
  const swap = size('memory-swap'); if (swap !== undefined) memory.swap = swap;
  if (Object.keys(memory).length) r.memory = memory;
  const cpu = { ...(r.cpu ?? {}) };
  const shares = num('cpu-shares'); if (shares !== undefined) cpu.shares = shares;
  const quota = num('cpu-quota'); if (quota !== undefined) cpu.quota = quota;
  const period = num('cpu-period'); if (period !== undefined) cpu.period = period;
  const cpus = last(args, 'cpuset-cpus'); if (cpus !== undefined) cpu.cpus = cpus;
  const mems = last(args, 'cpuset-mems'); if (mems !== undefined) cpu.mems = mems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  const pids = num('pids-limit'); if (pids !== undefined) r.pids = { limit: pids };
  const weight = num('blkio-weight'); if (weight !== undefined) r.blockIO = { ...(r.blockIO ?? {}), weight };
  return r;
}

async function execCommand(rt: Runtime, args: ReturnType<typeof parseArgs>): Promise<number> {
  const [id, ...command] = args.rest;
  if (!id) throw new HakoError("hako exec: expected a container id; see 'hako exec --help'", { code: 'bad-option' });
  const file = last(args, 'process');
  // built from the container's own process, which Runtime.exec reads (once) with its state
  const build = (base: Process | undefined): Process => {
    let proc: Process;
    if (file) {
      try {
        const text = readFileSync(file, 'utf8');
        if (jsonTooDeep(text) >= 0) throw new Error(`nests deeper than ${MAX_JSON_DEPTH} levels`);
        proc = JSON.parse(text) as Process;
      } catch (e) {
        throw new HakoError(`hako exec: --process ${file}: ${(e as Error).message}`, { code: 'bad-config' });
      }
      if (!Array.isArray(proc.args) || proc.args.length === 0) throw new HakoError(`hako exec: --process ${file}: args: must be a non-empty array`, { code: 'bad-config' });
      return proc;
    }
    if (command.length === 0) throw new HakoError('hako exec: no command given (and no --process)', { code: 'bad-option' });
    proc = { ...(base ?? { cwd: '/' }), args: command, terminal: has(args, 'tty') } as Process;
    delete proc.consoleSize;
    const cwd = last(args, 'cwd');
    if (cwd) proc.cwd = cwd;
    proc.env = [...(base?.env ?? []), ...(args.values.get('env') ?? [])];
    const gids = args.values.get('additional-gids');
    if (gids?.length) proc.user = { ...(proc.user ?? { uid: 0, gid: 0 }), additionalGids: gids.map((g) => intValue('exec', 'additional-gids', g)) };
    const caps = args.values.get('cap');
    if (caps?.length && proc.capabilities) {
      const c = proc.capabilities;
      for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) c[set] = [...new Set([...(c[set] ?? []), ...caps])];
    }
    if (has(args, 'no-new-privs')) proc.noNewPrivileges = true;
    return proc;
  };
  const o: Parameters<Runtime['exec']>[2] = { detach: has(args, 'detach'), forwardSignals: PROXIED, ...(has(args, 'detach') ? {} : { killSignal: false as const }) };
  // names are looked up in the container's own /etc/passwd and /etc/group by Runtime.exec
  const user = file ? undefined : last(args, 'user');
  if (user) o.user = user;
  const socket = last(args, 'console-socket');
  if (socket) o.consoleSocket = socket;
  const pidFile = last(args, 'pid-file');
  if (pidFile) o.pidFile = pidFile;
  const fds = last(args, 'preserve-fds');
  if (fds !== undefined) o.preserveFds = intValue('exec', 'preserve-fds', fds);
  return (await rt.exec(id, build, o)).exitCode;
}
