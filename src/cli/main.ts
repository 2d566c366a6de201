// hako: the command line. Each verb is a thin layer over the library.
import { HakoError } from '../errors.js';
import { type Globals, logRecord, parseGlobals } from './globals.js';

declare const HAKO_VERSION: string;

const usage = `Usage: hako [global options] <command> [options]

Namespace toolkit:
  unshare    run a command in new namespaces (hako unshare --help)
  nsenter    run a command in the namespaces of a running process
  ns         list namespaces, as lsns does

OCI runtime (runc's command line):
  spec       write a default config.json        features   what hako supports (JSON)
  create     create a container                 start      start a created container
  run        create and start                   exec       run a process in a container
  state      a container's state (JSON)         list       containers
  kill       signal a container                 delete     remove a container
  ps         processes of a container           update     change a container's resources
  pause      freeze a container                 resume     thaw a paused container

Global options (OCI runtime): --root DIR (/run/hako), --log FILE, --log-format text|json,
  --debug, --rootless auto|true|false, --systemd-cgroup (refused: no systemd here)

  hako <command> --help   for a command's options
  hako --version`;

const RUNTIME_VERBS = new Set(['create', 'start', 'run', 'state', 'list', 'kill', 'delete', 'exec', 'ps', 'spec', 'features', 'pause', 'resume', 'update']);

let globals: Globals | undefined;

/** bin/hako started Node without NODE_EXTRA_CA_CERTS (it costs every start): put it back, so
 * that the commands, containers and hooks hako runs get the environment they were given. */
function restoreEnvironment(): void {
  const saved = process.env.HAKO_NODE_EXTRA_CA_CERTS;
  if (saved === undefined) return;
  process.env.NODE_EXTRA_CA_CERTS = saved;
  delete process.env.HAKO_NODE_EXTRA_CA_CERTS;
}

async function main(argv: string[]): Promise<number> {
  restoreEnvironment();
  const parsed = parseGlobals(argv);
  globals = parsed.globals;
  logRecord(globals, 'debug', `hako ${argv.join(' ')}`);
  const [verb, ...rest] = parsed.rest;
  if (verb && RUNTIME_VERBS.has(verb)) {
    const { runtimeCommand } = await import('./runtime.js');
    return runtimeCommand(verb, rest, parsed.globals);
  }
  switch (verb) {
    case 'unshare': return (await import('./unshare.js')).unshareCommand(rest);
    case 'nsenter': return (await import('./nsenter.js')).nsenterCommand(rest);
    case 'ns': return (await import('./ns.js')).nsCommand(rest);
    case '--version': case '-v': case 'version':
      process.stdout.write(`hako version ${HAKO_VERSION}\nspec: 1.2.0\n`);
      return 0;
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(`${usage}\n`);
      return verb === undefined ? 1 : 0;
    default:
      throw new HakoError(`hako: unknown command '${verb}' (see 'hako --help')`, { code: 'bad-option' });
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  if (err instanceof HakoError) {
    process.stderr.write(`${err.message}\n`);
    logRecord(globals, 'error', err.message.replace(/^hako: /, ''));
    process.exitCode = err.exitCode;
  } else {
    const e = err as Error;
    process.stderr.write(`hako: internal error: ${e?.message ?? String(err)}\n${process.env.HAKO_DEBUG ? `${e?.stack}\n` : ''}`);
    logRecord(globals, 'error', `internal error: ${e?.message ?? String(err)}`);
    process.exitCode = 1;
  }
});
