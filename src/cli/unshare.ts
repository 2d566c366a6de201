// hako unshare [options] [--] [command [args...]]
import { readFileSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { signalNumber } from '../linux/signals.js';
import { parseRange } from '../toolkit/idmap.js';
import { unshare, type UnshareOptions } from '../toolkit/unshare.js';
import { OCI_VERSION_MAX } from '../config/features.js';
import { has, intValue, last, parseArgs } from './args.js';
import { useToolkitZygote } from '../toolkit/launch.js';
import { command, specsOf } from './commands.js';
import { idOrName, NS_OPTIONS, signalsToForward } from './common.js';
import { commandHelp, versionText } from './help.js';

const SPECS = specsOf('unshare');

export function unshareOptions(argv: string[]): UnshareOptions | 'help' | 'version' {
  const args = parseArgs('unshare', argv, SPECS);
  if (has(args, 'help')) return 'help';
  if (has(args, 'version')) return 'version';
  const o: UnshareOptions = { namespaces: [] };
  for (const [long, , type] of NS_OPTIONS) {
    if (!has(args, long)) continue;
    if (last(args, long)) throw new HakoError(`hako unshare: --${long}=FILE: keeping a namespace alive in a file is not supported yet`, { code: 'unsupported' });
    o.namespaces?.push(type);
  }
  if (has(args, 'all')) o.all = true;
  if (has(args, 'mount-proc')) o.mountProc = last(args, 'mount-proc') || true;
  const prop = last(args, 'propagation');
  if (prop !== undefined) {
    if (!['private', 'shared', 'slave', 'unchanged'].includes(prop)) throw new HakoError(`hako unshare: --propagation: '${prop}' is not private, shared, slave or unchanged`, { code: 'bad-option' });
    o.propagation = prop as UnshareOptions['propagation'];
  }
  const hostname = last(args, 'hostname');
  if (hostname !== undefined) o.hostname = hostname;
  const domainname = last(args, 'domainname');
  if (domainname !== undefined) o.domainname = domainname;
  if (has(args, 'map-root-user')) o.mapRootUser = true;
  if (has(args, 'map-current-user')) o.mapCurrentUser = true;
  const read = (p: string) => readFileSync(p, 'utf8');
  const mapUser = last(args, 'map-user');
  if (mapUser !== undefined) {
    const id = idOrName(mapUser, '/etc/passwd', read);
    if (id === undefined) throw new HakoError(`hako unshare: --map-user: no user '${mapUser}'`, { code: 'not-found' });
    o.mapUser = intValue('unshare', 'map-user', String(id));
  }
  const mapGroup = last(args, 'map-group');
  if (mapGroup !== undefined) {
    const id = idOrName(mapGroup, '/etc/group', read);
    if (id === undefined) throw new HakoError(`hako unshare: --map-group: no group '${mapGroup}'`, { code: 'not-found' });
    o.mapGroup = intValue('unshare', 'map-group', String(id));
  }
  o.mapUsers = (args.values.get('map-users') ?? []).map((s) => parseRange(s, 'unshare: --map-users'));
  o.mapGroups = (args.values.get('map-groups') ?? []).map((s) => parseRange(s, 'unshare: --map-groups'));
  if (has(args, 'map-auto')) o.mapAuto = true;
  const setgroups = last(args, 'setgroups');
  if (setgroups !== undefined) {
    if (setgroups !== 'allow' && setgroups !== 'deny') throw new HakoError(`hako unshare: --setgroups: '${setgroups}' is not allow or deny`, { code: 'bad-option' });
    o.setgroups = setgroups;
  }
  const monotonic = last(args, 'monotonic');
  if (monotonic !== undefined) o.monotonic = intValue('unshare', 'monotonic', monotonic, -Infinity);
  const boottime = last(args, 'boottime');
  if (boottime !== undefined) o.boottime = intValue('unshare', 'boottime', boottime, -Infinity);
  const root = last(args, 'root');
  if (root !== undefined) o.root = root;
  const wd = last(args, 'wd');
  if (wd !== undefined) o.wd = wd;
  if (has(args, 'kill-child')) {
    const spec = last(args, 'kill-child') || 'KILL';
    const n = signalNumber(spec);
    if (n === undefined) throw new HakoError(`hako unshare: --kill-child: unknown signal '${spec}'`, { code: 'bad-option' });
    o.killSignal = n;
  }
  const network = last(args, 'network');
  if (network !== undefined) o.network = network;
  const publish = args.values.get('publish');
  if (publish) o.publish = publish;
  const netDir = last(args, 'net-dir');
  if (netDir !== undefined) o.netDir = netDir;
  if (has(args, 'explain')) o.explain = true;
  o.command = args.rest;
  return o;
}

export async function unshareCommand(argv: string[]): Promise<number> {
  const o = unshareOptions(argv);
  if (o === 'help') {
    process.stdout.write(`${commandHelp(command('unshare')!)}\n`);
    return 0;
  }
  if (o === 'version') {
    process.stdout.write(versionText(OCI_VERSION_MAX));
    return 0;
  }
  o.forwardSignals = signalsToForward();
  useToolkitZygote(false); // one helper per process: spawned (under hako serve, by the front)
  return (await unshare(o)).exitCode;
}
