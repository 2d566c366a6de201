// hako: the command line. Each verb is a thin layer over the library.
import { HakoError } from '../errors.js';
import { OCI_VERSION_MAX } from '../config/features.js';
import { closest, has, parseArgs } from './args.js';
import { endsAtOnce, noteSkippedCaFile } from './common.js';
import { command, COMMANDS, specsOf } from './commands.js';
import { type Globals, logRecord, parseGlobals } from './globals.js';
import { bashCompletion, commandHelp, manPage, topHelp, versionText, zshCompletion } from './help.js';

const RUNTIME_VERBS = new Set(['create', 'start', 'run', 'state', 'list', 'kill', 'delete', 'exec', 'ps', 'spec', 'features', 'pause', 'resume', 'update', 'events', 'checkpoint', 'restore']);

let globals: Globals | undefined;

/** bin/hako started Node without NODE_EXTRA_CA_CERTS (it costs every start): put it back, so
 * that the commands, containers and hooks hako runs get the environment they were given, and
 * note that this Node has not read it (`image pull` adds it to its TLS options: src/cli/image.ts). */
function restoreEnvironment(): void {
  const saved = process.env.HAKO_NODE_EXTRA_CA_CERTS;
  noteSkippedCaFile(saved || undefined);
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
    const { runtimeCommand } = await import('./oci.js');
    return runtimeCommand(verb, rest, parsed.globals);
  }
  switch (verb) {
    case 'unshare': return (await import('./unshare.js')).unshareCommand(rest);
    case 'nsenter': return (await import('./nsenter.js')).nsenterCommand(rest);
    case 'ns': return (await import('./ns.js')).nsCommand(rest);
    case 'net': return (await import('./net.js')).netCommand(rest, parsed.globals.root);
    case 'sandbox': return (await import('./sandbox.js')).sandboxCommand(rest);
    case 'image': return (await import('./image.js')).imageCommand(rest);
    case '--version': case '-v': case 'version':
      process.stdout.write(versionText(OCI_VERSION_MAX));
      return 0;
    case undefined: case '--help': case '-h':
      process.stdout.write(`${topHelp()}\n`);
      return verb === undefined ? 1 : 0;
    case 'help': return helpCommand(rest);
    case 'completion': return completionCommand(rest);
    case 'serve': return (await import('./serve.js')).serveCommand(rest, parsed.globals, runCli);
    default: {
      const guess = closest(verb, COMMANDS.map((c) => c.name));
      throw new HakoError(`hako: unknown command '${verb}'${guess ? `; did you mean '${guess}'?` : ''} (see 'hako --help')`, { code: 'bad-option' });
    }
  }
}

/** hako help [COMMAND] [--man]. */
function helpCommand(argv: string[]): number {
  const args = parseArgs('help', argv, specsOf('help'), false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('help')!)}\n`);
  } else if (has(args, 'man')) {
    process.stdout.write(manPage());
  } else if (args.rest.length === 0) {
    process.stdout.write(`${topHelp()}\n`);
  } else {
    const name = args.rest[0] as string;
    const c = command(name);
    if (!c || args.rest.length > 1) {
      const guess = c ? undefined : closest(name, COMMANDS.map((x) => x.name));
      throw new HakoError(`hako help: ${c ? 'one command at a time' : `no command '${name}'${guess ? `; did you mean '${guess}'?` : ''}`} (see 'hako --help')`, { code: 'bad-option' });
    }
    process.stdout.write(`${commandHelp(c)}\n`);
  }
  return 0;
}

/** hako completion bash|zsh. */
function completionCommand(argv: string[]): number {
  const args = parseArgs('completion', argv, specsOf('completion'), false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('completion')!)}\n`);
    return 0;
  }
  const [shell, ...more] = args.rest;
  if (shell === 'bash' && !more.length) process.stdout.write(bashCompletion());
  else if (shell === 'zsh' && !more.length) process.stdout.write(zshCompletion());
  else throw new HakoError("hako completion: name one shell: bash or zsh (see 'hako completion --help')", { code: 'bad-option' });
  return 0;
}

/** The whole command line: main, and a failure as one line and its exit code. */
function runCli(argv: string[]): Promise<number> {
  return main(argv).then((code) => code, (err: unknown) => {
    if (err instanceof HakoError) {
      process.stderr.write(`${err.message}\n`);
      logRecord(globals, 'error', err.message.replace(/^hako: /, ''));
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`hako: internal error: ${e?.message ?? String(err)}\n${process.env.HAKO_DEBUG ? `${e?.stack}\n` : ''}`);
    logRecord(globals, 'error', `internal error: ${e?.message ?? String(err)}`);
    return 1;
  });
}

// (a server's worker sets the exit code of the command it ran itself: src/cli/serve.ts). A command
// that left nothing to finish ends the process at once: no wait for the event loop to drain, and
// no teardown of Node's heap (1-2 ms after a run); the 'exit' listeners still run
void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  if (endsAtOnce()) process.exit();
});
