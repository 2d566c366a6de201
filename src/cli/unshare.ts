// hako unshare [options] [--] [command [args...]]
import { readFileSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { signalNumber } from '../linux/signals.js';
import { parseRange } from '../toolkit/idmap.js';
import { unshare, type UnshareOptions } from '../toolkit/unshare.js';
import { has, intValue, last, type OptionSpec, parseArgs } from './args.js';
import { idOrName, NS_OPTIONS, signalsToForward } from './common.js';

export const unshareHelp = `Usage: hako unshare [options] [--] [command [args...]]
Run a command (default: $SHELL) in new namespaces. Safe for the host by default:
mounts made inside never propagate out, and --mount-proc gets its own mount namespace.

Namespaces:
  -u, --uts            hostname and domain name     -i, --ipc      System V IPC, POSIX queues
  -p, --pid            process ids (forks: the command is PID 1)
  -m, --mount          mount points                 -n, --net      network (only lo, up)
  -U, --user           user and group ids           -C, --cgroup   cgroup root
  -T, --time           monotonic and boot clocks        --all      all of the above
Setup:
      --mount-proc[=DIR]      mount a new proc at DIR (/proc); implies --mount
      --propagation MODE      private (default), shared, slave or unchanged
      --hostname NAME         --domainname NAME   (imply --uts)
  -r, --map-root-user         map your uid and gid to 0 inside
  -c, --map-current-user      map your uid and gid to themselves
      --map-user UID|NAME     --map-group GID|NAME
      --map-users IN:OUT:N    --map-groups IN:OUT:N   (repeatable; newuidmap when not root)
      --map-auto              map your ranges from /etc/subuid and /etc/subgid
      --setgroups allow|deny
      --monotonic SECONDS     --boottime SECONDS   (imply --time)
  -R, --root DIR              -w, --wd DIR
  -f, --fork                  (always: the command runs in a child)
      --kill-child[=SIGNAL]   kill the command (SIGKILL) if hako dies
      --explain               show each step as it happens
  -h, --help                  -V, --version
Exit status: the command's; 128+N if signal N killed it; 126 not executable; 127 not found.`;

const SPECS: OptionSpec[] = [
  ...NS_OPTIONS.map(([long, short]) => ({ long, short, arg: 'optional' as const })),
  { long: 'all' }, { long: 'mount-proc', arg: 'optional' }, { long: 'propagation', arg: 'required' },
  { long: 'hostname', arg: 'required' }, { long: 'domainname', arg: 'required' },
  { long: 'map-root-user', short: 'r' }, { long: 'map-current-user', short: 'c' },
  { long: 'map-user', arg: 'required' }, { long: 'map-group', arg: 'required' },
  { long: 'map-users', arg: 'required' }, { long: 'map-groups', arg: 'required' },
  { long: 'map-auto' }, { long: 'setgroups', arg: 'required' },
  { long: 'monotonic', arg: 'required' }, { long: 'boottime', arg: 'required' },
  { long: 'root', short: 'R', arg: 'required' }, { long: 'wd', short: 'w', arg: 'required' },
  { long: 'fork', short: 'f' }, { long: 'kill-child', arg: 'optional' }, { long: 'explain' },
  { long: 'help', short: 'h' }, { long: 'version', short: 'V' },
];

export function unshareOptions(argv: string[]): UnshareOptions | 'help' {
  const args = parseArgs('unshare', argv, SPECS);
  if (has(args, 'help')) return 'help';
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
  if (has(args, 'explain')) o.explain = true;
  o.command = args.rest;
  return o;
}

export async function unshareCommand(argv: string[]): Promise<number> {
  const o = unshareOptions(argv);
  if (o === 'help') {
    process.stdout.write(`${unshareHelp}\n`);
    return 0;
  }
  o.forwardSignals = signalsToForward();
  return (await unshare(o)).exitCode;
}
