// hako sandbox run|check|prune: the sandbox library from the command line.
import { constants as osc } from 'node:os';
import { ImageStore } from '../image/index.js';
import { HakoError } from '../errors.js';
import { Sandbox, type SandboxLimits, type SandboxMount, type SandboxOptions } from '../sandbox/index.js';
import { has, last, parseArgs } from './args.js';
import { readStdin, stdinHasData } from './common.js';
import { command, specsOf } from './commands.js';
import { commandHelp } from './help.js';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** 256M, 1g, 4096, 64KiB: bytes. */
export function parseSize(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new HakoError(`hako sandbox: --${option}: '${text}' is not a size (like 256M, 1G or 4096)`, { code: 'bad-option' });
  return Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1));
}

/** 2s, 500ms, 1.5s, 1m, or a bare number of seconds: milliseconds. */
export function parseDuration(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new HakoError(`hako sandbox: --${option}: '${text}' is not a duration (like 2s, 500ms or 1m)`, { code: 'bad-option' });
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 1) throw new HakoError(`hako sandbox: --${option}: '${text}' is shorter than a millisecond`, { code: 'bad-option' });
  return Math.round(ms);
}

function positiveInt(option: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new HakoError(`hako sandbox: --${option}: '${text}' is not a positive integer`, { code: 'bad-option' });
  return Number(text);
}

export async function sandboxCommand(argv: string[]): Promise<number> {
  const args = parseArgs('sandbox', argv, specsOf('sandbox'), false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('sandbox')!)}\n`);
    return 0;
  }
  const [sub, ...operands] = args.rest;
  const root = last(args, 'sandbox-root');
  switch (sub) {
    case 'run': return runCommand(args, operands, root);
    case 'check': {
      const caps = await Sandbox.capabilities();
      if (has(args, 'json')) {
        process.stdout.write(`${JSON.stringify(caps, null, 2)}\n`);
        return 0;
      }
      const width = Math.max(...Object.keys(caps).map((k) => k.length)) + 2;
      for (const [k, v] of Object.entries(caps)) process.stdout.write(`${k.padEnd(width)}${v.enforced ? 'yes' : 'no '}  ${v.how}\n`);
      return 0;
    }
    case 'prune': {
      for (const id of await Sandbox.prune(root !== undefined ? { root } : {})) process.stdout.write(`${id}\n`);
      return 0;
    }
    default:
      throw new HakoError(`hako sandbox: ${sub === undefined ? 'name a subcommand' : `unknown subcommand '${sub}'`}: run, check, prune (see 'hako sandbox --help')`, { code: 'bad-option' });
  }
}

async function runCommand(args: ReturnType<typeof parseArgs>, command: string[], root: string | undefined): Promise<number> {
  if (command.length === 0) throw new HakoError("hako sandbox run: name a command after -- (see 'hako sandbox --help')", { code: 'bad-option' });
  const rootfs = last(args, 'rootfs');
  const image = last(args, 'image');
  if ((rootfs === undefined) === (image === undefined)) throw new HakoError('hako sandbox run: give --image REF (an image of `hako image ls`) or --rootfs DIR, one of them', { code: 'bad-option' });
  const imageRoot = last(args, 'image-root');
  if (imageRoot !== undefined) {
    const store = new ImageStore({ root: imageRoot });
    Sandbox.imageResolver = (ref) => store.resolve(ref);
  }
  const limits: SandboxLimits = {};
  const v = (k: string) => last(args, k);
  if (v('memory') !== undefined) limits.memoryBytes = parseSize('memory', v('memory')!);
  if (v('pids') !== undefined) limits.pids = positiveInt('pids', v('pids')!);
  if (v('cpus') !== undefined) {
    const n = Number(v('cpus'));
    if (!Number.isFinite(n) || n < 0.01) throw new HakoError(`hako sandbox: --cpus: '${v('cpus')}' is not a number of CPUs (like 0.5 or 2)`, { code: 'bad-option' });
    limits.cpus = n;
  }
  if (v('time') !== undefined) limits.cpuTimeMs = parseDuration('time', v('time')!);
  if (v('wall-time') !== undefined) limits.wallTimeMs = parseDuration('wall-time', v('wall-time')!);
  if (v('output-limit') !== undefined) limits.outputBytes = parseSize('output-limit', v('output-limit')!);
  if (v('disk') !== undefined) limits.diskBytes = parseSize('disk', v('disk')!);
  const network = v('network');
  const netDir = v('net-dir');
  if (netDir !== undefined && (network === undefined || ['none', 'slirp4netns', 'pasta'].includes(network))) throw new HakoError('hako sandbox run: --net-dir: only with --network NAME (a CNI network)', { code: 'bad-option' });
  const hostReach = has(args, 'network-host');
  if (hostReach && (network === undefined || network === 'none')) throw new HakoError('hako sandbox run: --network-host: only with a --network other than none', { code: 'bad-option' });
  const mounts: SandboxMount[] = (args.values.get('mount') ?? []).map((m) => {
    const parts = m.split(':');
    const [source, target, mode] = parts;
    if (parts.length < 2 || parts.length > 3 || !source?.startsWith('/') || !target?.startsWith('/') || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      throw new HakoError(`hako sandbox run: --mount: '${m}' is not SRC:DST[:ro|rw] with absolute paths`, { code: 'bad-option' });
    }
    return { source, target, readonly: mode !== 'rw' };
  });
  const env: Record<string, string> = {};
  for (const kv of args.values.get('env') ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) throw new HakoError(`hako sandbox run: --env: '${kv}' is not K=V`, { code: 'bad-option' });
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const options: SandboxOptions = { ...(rootfs !== undefined ? { rootfs } : { image: image! }), limits, mounts, env };
  if (network !== undefined && network !== 'none') {
    const user = network === 'slirp4netns' || network === 'pasta';
    options.network = !hostReach && netDir === undefined && user ? network
      : { ...(user ? { mode: network } : { name: network }), ...(netDir !== undefined ? { netDir } : {}), ...(hostReach ? { host: true } : {}) };
  }
  const user = v('user');
  if (user !== undefined) options.user = /^\d+$/.test(user) ? Number(user) : user;
  if (v('workdir') !== undefined) options.workdir = v('workdir')!;
  if (root !== undefined) options.root = root;
  if (has(args, 'best-effort')) options.bestEffort = true;
  const sb = await Sandbox.create(options);
  let r;
  try {
    // stdin: hako's own when it is a pipe or a file (read to its end first), else nothing
    // (under hako serve: the caller's, through the front)
    const stdin = stdinHasData() ? await readStdin() : undefined;
    r = await sb.run(command, stdin !== undefined ? { stdin } : {});
  } finally {
    await sb.close();
  }
  if (has(args, 'json')) {
    process.stderr.write(r.stderr);
    process.stdout.write(`${JSON.stringify({ status: r.status, exitCode: r.exitCode, signal: r.signal, usage: r.usage, stdout: r.stdout.toString('utf8'), ...(r.error ? { error: r.error } : {}), ...(r.notEnforced ? { notEnforced: r.notEnforced } : {}) })}\n`);
  } else {
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    if (r.notEnforced && has(args, 'best-effort')) process.stderr.write(`hako sandbox: not enforced here: ${r.notEnforced.join(', ')} (see hako sandbox check)\n`);
    if (r.status === 'error') process.stderr.write(`${r.error}\n`);
    else if (!['ok', 'exit', 'signal'].includes(r.status)) process.stderr.write(`hako sandbox: ${r.status}\n`);
  }
  if (r.status === 'error') return 125;
  if (r.exitCode !== null) return r.exitCode;
  const sig = r.signal ? osc.signals[r.signal as NodeJS.Signals] : undefined;
  return 128 + (sig ?? 9);
}
