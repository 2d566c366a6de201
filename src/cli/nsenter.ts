// hako nsenter -t PID [options] [--] [command [args...]]
import { HakoError } from '../errors.js';
import { nsenter, type NsenterOptions } from '../toolkit/nsenter.js';
import { has, last, type OptionSpec, parseArgs, pidValue } from './args.js';
import { NS_OPTIONS, signalsToForward } from './common.js';

export const nsenterHelp = `Usage: hako nsenter -t PID [options] [--] [command [args...]]
Run a command (default: $SHELL) in the namespaces of process PID.

  -t, --target PID          the process whose namespaces to enter
  -a, --all                 all of its namespaces (its user namespace only if it is not yours)
  -u, --uts  -i, --ipc  -p, --pid  -m, --mount  -n, --net  -U, --user  -C, --cgroup  -T, --time
      --preserve-credentials  keep your uid and gid after entering a user namespace
  -r, --root[=DIR]          chroot to the target's root (or DIR)
  -w, --wd[=DIR]            chdir to the target's working directory (or DIR)
      --explain             show each step as it happens
  -h, --help
Entering a PID namespace forks, so that the command is really inside it.
Exit status: the command's; 128+N if signal N killed it; 126 not executable; 127 not found.`;

const SPECS: OptionSpec[] = [
  { long: 'target', short: 't', arg: 'required' }, { long: 'all', short: 'a' },
  ...NS_OPTIONS.map(([long, short]) => ({ long, short, arg: 'optional' as const })),
  { long: 'preserve-credentials' }, { long: 'root', short: 'r', arg: 'optional' },
  { long: 'wd', short: 'w', arg: 'optional' }, { long: 'explain' }, { long: 'help', short: 'h' },
];

export function nsenterOptions(argv: string[]): NsenterOptions | 'help' {
  const args = parseArgs('nsenter', argv, SPECS);
  if (has(args, 'help')) return 'help';
  const target = last(args, 'target');
  if (target === undefined) throw new HakoError("hako nsenter: no target process: give -t PID (see 'hako nsenter --help')", { code: 'bad-option' });
  const o: NsenterOptions = { target: pidValue('nsenter', 'target', target), namespaces: [] };
  for (const [long, , type] of NS_OPTIONS) {
    if (!has(args, long)) continue;
    if (last(args, long)) throw new HakoError(`hako nsenter: --${long}=FILE: entering a namespace by file is not supported yet`, { code: 'unsupported' });
    o.namespaces?.push(type);
  }
  if (has(args, 'all')) o.all = true;
  if (has(args, 'preserve-credentials')) o.preserveCredentials = true;
  if (has(args, 'root')) o.root = last(args, 'root') || true;
  if (has(args, 'wd')) o.wd = last(args, 'wd') || true;
  if (has(args, 'explain')) o.explain = true;
  o.command = args.rest;
  return o;
}

export async function nsenterCommand(argv: string[]): Promise<number> {
  const o = nsenterOptions(argv);
  if (o === 'help') {
    process.stdout.write(`${nsenterHelp}\n`);
    return 0;
  }
  o.forwardSignals = signalsToForward();
  return (await nsenter(o)).exitCode;
}
