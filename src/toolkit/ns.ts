// hako ns: the namespaces on this machine, from /proc/*/ns, as lsns shows them.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { checkOptions, LIST_OPTIONS, object, PIDS } from '../options.js';
import { helperRequest } from '../helper/session.js';
import { MessageType, Tag } from '../helper/protocol.js';
import { NAMESPACES, type NamespaceType } from '../linux/namespaces.js';

export interface NamespaceInfo {
  /** The namespace's inode number, its identity. */
  ns: number;
  /** Its type. */
  type: NamespaceType;
  /** How many processes are in it. */
  nprocs: number;
  /** The lowest pid in it. */
  pid: number;
  /** The owner of that process. */
  user: string;
  /** That owner's uid. */
  uid: number;
  /** That process's command line. */
  command: string;
  /** Every pid in it, ascending. */
  pids: number[];
  /** Inode of the user namespace that owns it (with `relations`). */
  owner?: number;
  /** Inode of the parent namespace, for user and pid namespaces (with `relations`). */
  parent?: number;
}

export interface ListOptions {
  /** Only namespaces of this type. */
  type?: NamespaceType;
  /** Ask the kernel for owner and parent (NS_GET_USERNS, NS_GET_PARENT) through the helper. */
  relations?: boolean;
}

const TYPES = new Set<string>(NAMESPACES.map((k) => k.type));

function userNames(): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && !names.has(Number(uid))) names.set(Number(uid), name);
    }
  } catch { /* numbers only */ }
  return names;
}

export function commandOf(pid: number): string {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
    if (cmdline) return cmdline;
    return `[${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}]`;
  } catch {
    return '?';
  }
}

function inodeOf(link: string): number | undefined {
  const m = /\[(\d+)\]$/.exec(link);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** The namespace links of one process: type → inode (types it cannot read are left out). */
export function processNamespaces(pid: number | 'self'): Map<NamespaceType, number> {
  const out = new Map<NamespaceType, number>();
  for (const kind of NAMESPACES) {
    try {
      const inode = inodeOf(readlinkSync(`/proc/${pid}/ns/${kind.type}`));
      if (inode !== undefined) out.set(kind.type, inode);
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}

/** Every namespace some process is in, ordered by inode as lsns orders them. */
export async function listNamespaces(options: ListOptions = {}): Promise<NamespaceInfo[]> {
  checkOptions('listNamespaces', options, object(LIST_OPTIONS));
  if (options.type && !TYPES.has(options.type)) throw new HakoError(`hako: ns: unknown namespace type '${options.type}' (one of ${[...TYPES].join(', ')})`, { code: 'bad-option' });
  const names = userNames();
  const byKey = new Map<string, NamespaceInfo>();
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    let uid = 0;
    try { uid = statSync(`/proc/${pid}`).uid; } catch { continue; }
    for (const [type, ns] of processNamespaces(pid)) {
      if (options.type && type !== options.type) continue;
      const key = `${type}:${ns}`;
      const seen = byKey.get(key);
      if (seen) {
        seen.nprocs++;
        seen.pids.push(pid);
        continue;
      }
      byKey.set(key, { ns, type, nprocs: 1, pid, uid, user: names.get(uid) ?? String(uid), command: commandOf(pid), pids: [pid] });
    }
  }
  const list = [...byKey.values()].sort((a, b) => a.ns - b.ns || a.type.localeCompare(b.type));
  if (options.relations && list.length) await addRelations(list);
  return list;
}

/** Fills owner and parent with the kernel's answers, asked through the helper (ioctl). */
async function addRelations(list: NamespaceInfo[]): Promise<void> {
  const paths = list.map((n) => `/proc/${n.pid}/ns/${n.type}`);
  const reply = await helperRequest(MessageType.NSINFO, paths.map((p) => ({ tag: Tag.PATH, value: p })));
  const entries = reply.lists(Tag.ENTRY);
  entries.forEach((e, i) => {
    const info = list[i];
    if (!info) return;
    const owner = e.int(Tag.OWNER);
    const parent = e.int(Tag.PARENT);
    if (owner !== undefined) info.owner = owner;
    if (parent !== undefined) info.parent = parent;
  });
}

/** For `hako ns PID...`: each namespace of each process, and whether it differs from the
 * reference's: PID 1's, or (where PID 1's links cannot be read, as in some VMs) hako's own. */
export interface ProcessNamespaceRow {
  /** The process. */
  pid: number;
  /** The namespace's type. */
  type: NamespaceType;
  /** The namespace's inode number. */
  ns: number;
  /** Whether it differs from the reference process's (PID 1's, or hako's own). */
  differs: boolean;
  /** The process's command line. */
  command: string;
}

export function referenceProcess(): { pid: number | 'self'; namespaces: Map<NamespaceType, number> } {
  const init = processNamespaces(1);
  return init.size ? { pid: 1, namespaces: init } : { pid: 'self', namespaces: processNamespaces('self') };
}

export function describeProcesses(pids: number[]): ProcessNamespaceRow[] {
  checkOptions('describeProcesses', pids, PIDS, 'pids');
  const init = referenceProcess().namespaces;
  const rows: ProcessNamespaceRow[] = [];
  for (const pid of pids) {
    const own = processNamespaces(pid);
    if (own.size === 0) throw new HakoError(`hako: ns: no process with pid ${pid} (or its namespaces are not readable)`, { code: 'not-found' });
    const command = commandOf(pid);
    for (const [type, ns] of own) rows.push({ pid, type, ns, differs: init.has(type) && init.get(type) !== ns, command });
  }
  return rows;
}
