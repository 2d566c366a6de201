// hako ns [PID...] [--type TYPE] [--json] [--tree]
import { HakoError } from '../errors.js';
import { NAMESPACES, type NamespaceType } from '../linux/namespaces.js';
import { describeProcesses, listNamespaces, type NamespaceInfo, referenceProcess } from '../toolkit/ns.js';
import { has, last, parseArgs, pidValue } from './args.js';
import { command, specsOf } from './commands.js';
import { commandHelp } from './help.js';

const SPECS = specsOf('ns');

/** Columns: numbers right-aligned, text left-aligned; a tree's first column is left-aligned too. */
function table(rows: string[][], treeColumn = false): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => {
    const w = widths[i] ?? 0;
    if (i === r.length - 1) return cell;
    const right = i === 0 ? !treeColumn : /^\d+$/.test(cell);
    return right ? cell.padStart(w) : cell.padEnd(w);
  }).join(' ')).join('\n');
}

function line(n: NamespaceInfo): string[] {
  return [String(n.ns), n.type, String(n.nprocs), String(n.pid), n.user, n.command];
}

function tree(list: NamespaceInfo[]): string {
  const users = list.filter((n) => n.type === 'user');
  const known = new Set(users.map((u) => u.ns));
  const out: string[][] = [['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND']];
  const walk = (node: NamespaceInfo, prefix: string, isLast: boolean, depth: number) => {
    const branch = depth === 0 ? '' : `${prefix}${isLast ? '└─' : '├─'}`;
    const row = line(node);
    row[0] = `${branch}${row[0]}`;
    out.push(row);
    if (node.type !== 'user') return;
    const kids = [
      ...list.filter((n) => n.type !== 'user' && n.owner === node.ns),
      ...users.filter((u) => u.parent === node.ns && u.ns !== node.ns),
    ];
    const nextPrefix = depth === 0 ? '' : `${prefix}${isLast ? '  ' : '│ '}`;
    kids.forEach((k, i) => walk(k, nextPrefix, i === kids.length - 1, depth + 1));
  };
  for (const root of users.filter((u) => u.parent === undefined || !known.has(u.parent))) walk(root, '', true, 0);
  // namespaces whose owner is not visible are listed at the end
  for (const n of list.filter((x) => x.type !== 'user' && (x.owner === undefined || !known.has(x.owner)))) out.push(line(n));
  return table(out.map((r) => r.map(String)), true);
}

export async function nsCommand(argv: string[]): Promise<number> {
  const args = parseArgs('ns', argv, SPECS, false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('ns')!)}\n`);
    return 0;
  }
  const type = last(args, 'type') as NamespaceType | undefined;
  if (type !== undefined && !NAMESPACES.some((k) => k.type === type)) {
    throw new HakoError(`hako ns: --type: unknown namespace type '${type}' (one of user, mnt, pid, net, uts, ipc, cgroup, time)`, { code: 'bad-option' });
  }
  const json = has(args, 'json');
  if (args.rest.length) {
    const pids = args.rest.map((p) => pidValue('ns', 'pid', p));
    let rows = describeProcesses(pids);
    if (type) rows = rows.filter((r) => r.type === type);
    if (json) {
      process.stdout.write(`${JSON.stringify({ processes: rows }, null, 2)}\n`);
    } else {
      const ref = referenceProcess().pid;
      if (ref !== 1) process.stderr.write("hako ns: PID 1's namespaces are not readable here: * marks those that differ from hako's own\n");
      const cells = [['PID', 'TYPE', 'NS', 'DIFFERS', 'COMMAND'], ...rows.map((r) => [String(r.pid), r.type, String(r.ns), r.differs ? '*' : '', r.command])];
      process.stdout.write(`${table(cells)}\n`);
    }
    return 0;
  }
  const listOptions = { relations: has(args, 'tree') || json, ...(type ? { type } : {}) };
  if (has(args, 'tree') && type && type !== 'user') throw new HakoError('hako ns: --tree shows user namespaces and what they own: use it without --type, or with --type user', { code: 'bad-option' });
  const list = await listNamespaces(listOptions);
  if (json) {
    const namespaces = list.map(({ pids: _pids, ...rest }) => rest);
    process.stdout.write(`${JSON.stringify({ namespaces }, null, 2)}\n`);
  } else if (has(args, 'tree')) {
    process.stdout.write(`${tree(list)}\n`);
  } else {
    process.stdout.write(`${table([['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'], ...list.map(line)])}\n`);
  }
  return 0;
}
