// hako nsenter -t PID [options] [--] [command [args...]]
import { HakoError } from '../errors.js';
import { nsenter, type NsenterOptions } from '../toolkit/nsenter.js';
import { has, last, parseArgs, pidValue } from './args.js';
import { useToolkitZygote } from '../toolkit/launch.js';
import { command, specsOf } from './commands.js';
import { NS_OPTIONS, signalsToForward } from './common.js';
import { commandHelp } from './help.js';

const SPECS = specsOf('nsenter');

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
    process.stdout.write(`${commandHelp(command('nsenter')!)}\n`);
    return 0;
  }
  o.forwardSignals = signalsToForward();
  useToolkitZygote(false); // one helper per process: spawned (under hako serve, by the front)
  return (await nsenter(o)).exitCode;
}
