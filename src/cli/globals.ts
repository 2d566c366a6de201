// runc's global options (before the verb), and the log they control: text or JSON lines,
// as containerd's shim reads them from --log.
import { appendFileSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { defaultStateRoot } from '../runtime/rootless.js';
import { last, parseArgs } from './args.js';
import { GLOBAL_SPECS } from './commands.js';

export interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  rootless: 'auto' | 'true' | 'false';
  /** --criu: the CRIU program for checkpoint and restore (which hako refuses, naming why). */
  criu?: string;
}

// --help and --version end the globals: they are handled as commands (src/cli/main.ts)
const SPECS = GLOBAL_SPECS.filter((s) => s.long !== 'help' && s.long !== 'version');

/** Splits `hako [globals] verb args...`; returns the globals and the rest from the verb on. */
export function parseGlobals(argv: string[]): { globals: Globals; rest: string[] } {
  let i = 0;
  const leading: string[] = [];
  while (i < argv.length && (argv[i] as string).startsWith('--') && !['--help', '--version'].includes(argv[i] as string)) {
    const arg = argv[i] as string;
    leading.push(arg);
    const spec = SPECS.find((s) => arg === `--${s.long}`);
    if (spec?.arg === 'required' && !arg.includes('=')) leading.push(argv[++i] ?? '');
    i++;
  }
  const args = parseArgs('', leading, SPECS, false);
  if (args.values.has('systemd-cgroup')) {
    throw new HakoError('hako: --systemd-cgroup: systemd cgroup management is not available here (no systemd); use the cgroupfs manager', { code: 'unsupported' });
  }
  const format = last(args, 'log-format') ?? 'text';
  if (format !== 'text' && format !== 'json') throw new HakoError(`hako: --log-format: '${format}' is not text or json`, { code: 'bad-option' });
  const rootless = last(args, 'rootless') ?? 'auto';
  if (!['auto', 'true', 'false'].includes(rootless)) throw new HakoError(`hako: --rootless: '${rootless}' is not auto, true or false`, { code: 'bad-option' });
  const globals: Globals = {
    root: last(args, 'root') ?? defaultStateRoot(), logFormat: format, debug: args.values.has('debug'),
    rootless: rootless as Globals['rootless'],
  };
  const log = last(args, 'log');
  if (log) globals.log = log;
  const criu = last(args, 'criu');
  if (criu) globals.criu = criu;
  return { globals, rest: argv.slice(i) };
}

/** Writes one record to --log (as runc: json lines with level, msg, time), if one was given. */
export function logRecord(globals: Globals | undefined, level: 'error' | 'warning' | 'info' | 'debug', msg: string): void {
  if (!globals?.log) return;
  if (level === 'debug' && !globals.debug) return;
  const time = new Date().toISOString();
  const line = globals.logFormat === 'json'
    ? JSON.stringify({ level, msg, time })
    : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  try { appendFileSync(globals.log, `${line}\n`, { mode: 0o600 }); } catch { /* the log is best effort; stderr has the message */ }
}
