// hako: the command line. Each verb is a thin layer over the library.
import { HakoError } from '../errors.js';
import { nsCommand, nsHelp } from './ns.js';
import { nsenterCommand } from './nsenter.js';
import { unshareCommand } from './unshare.js';

declare const HAKO_VERSION: string;

const usage = `Usage: hako <command> [options]

Namespace toolkit:
  unshare    run a command in new namespaces (hako unshare --help)
  nsenter    run a command in the namespaces of a running process
  ns         list namespaces, as lsns does

  hako <command> --help   for a command's options
  hako --version`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'unshare': return unshareCommand(rest);
    case 'nsenter': return nsenterCommand(rest);
    case 'ns': return nsCommand(rest);
    case '--version': case '-v': case 'version':
      process.stdout.write(`hako version ${HAKO_VERSION}\n`);
      return 0;
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(`${usage}\n${verb === undefined ? '' : `\n${nsHelp.split('\n')[0]}\n`}`.replace(/\n\n$/, '\n'));
      return verb === undefined ? 1 : 0;
    default:
      throw new HakoError(`hako: unknown command '${verb}' (see 'hako --help')`);
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  if (err instanceof HakoError) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    const e = err as Error;
    process.stderr.write(`hako: internal error: ${e?.message ?? String(err)}\n${process.env.HAKO_DEBUG ? `${e?.stack}\n` : ''}`);
    process.exitCode = 1;
  }
});
