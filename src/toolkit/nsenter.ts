// hako nsenter: run a command in the namespaces of a running process (util-linux nsenter).
import { readFileSync, readlinkSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { checkOptions, NSENTER_OPTIONS, object } from '../options.js';
import { ops } from '../helper/ops.js';
import { NAMESPACES, nsPath, type NamespaceType } from '../linux/namespaces.js';
import { processExists } from '../linux/proc.js';
import { launch, launchSpawn, type LaunchOptions, type LaunchResult } from './launch.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import type { HakoProcess } from '../helper/handle.js';

export interface NsenterOptions extends LaunchOptions {
  /** The process whose namespaces to join. */
  target: number;
  /** Which namespaces to join. */
  namespaces?: NamespaceType[];
  /** Join all of them (the user namespace only when it differs from yours). */
  all?: boolean;
  /** Keep your uid and gid after joining a user namespace (default: become 0 there). */
  preserveCredentials?: boolean;
  /** Use the target's root directory (true) or this directory as root. */
  root?: boolean | string;
  /** Use the target's working directory (true) or this one. */
  wd?: boolean | string;
  /** The command and its arguments (default: $SHELL, or /bin/sh). */
  command?: string[];
}

function nsId(path: string): string | undefined {
  try { return readlinkSync(path); } catch { return undefined; }
}

/** Slots 0 and 1 hold --root and --wd; the namespace files take the slots from here on. */
const ROOT_SLOT = 0;
const WD_SLOT = 1;
const FIRST_NS_SLOT = 6;

export function nsenterPlan(o: NsenterOptions): PlanBuilder {
  checkOptions('nsenter', o, object(NSENTER_OPTIONS, ['target']));
  const pid = o.target;
  if (!Number.isInteger(pid) || pid <= 0) throw new HakoError(`hako: nsenter: --target: '${String(pid)}' is not a process id`, { code: 'bad-option' });
  if (!processExists(pid)) throw new HakoError(`hako: nsenter: no process with pid ${pid}`, { code: 'not-found' });
  const wanted = new Set<NamespaceType>(o.all ? NAMESPACES.map((k) => k.type) : o.namespaces ?? []);
  if (wanted.size === 0 && o.root === undefined && o.wd === undefined) {
    throw new HakoError('hako: nsenter: no namespace to enter: name some (-m -u -i -n -p -U -C -T) or --all', { code: 'bad-option' });
  }
  const b = new PlanBuilder();
  // the target's root and cwd are opened before any setns: the paths mean the host's /proc
  if (o.root !== undefined) {
    const path = o.root === true ? `/proc/${pid}/root` : String(o.root);
    b.ns(ops.openDir({ slot: ROOT_SLOT, path }), `open ${path} as the new root`);
  }
  if (o.wd !== undefined) {
    const path = o.wd === true ? `/proc/${pid}/cwd` : String(o.wd);
    b.ns(ops.openDir({ slot: WD_SLOT, path }), `open ${path} as the working directory`);
  }
  // every namespace file is opened before the first setns: after joining the mount namespace,
  // /proc is the target's, where these paths no longer lead (util-linux opens them first too)
  const joins: Array<{ slot: number; kind: (typeof NAMESPACES)[number]; path: string; theirs: string }> = [];
  let joinedUser = false;
  for (const kind of NAMESPACES) {
    if (!wanted.has(kind.type)) continue;
    const path = nsPath(pid, kind.type);
    const theirs = nsId(path);
    if (theirs === undefined) {
      throw new HakoError(`hako: nsenter: cannot read ${path}${processExists(pid) ? ' (permission denied?)' : `: process ${pid} is gone`}`, 1, processExists(pid) ? 'permission' : 'not-found');
    }
    // joining your own user namespace is EINVAL: util-linux skips it, and so does --all
    if (kind.type === 'user' && theirs === nsId(nsPath('self', 'user'))) {
      if (!o.all) throw new HakoError(`hako: nsenter: process ${pid} is already in your user namespace; drop -U`, { code: 'bad-option' });
      continue;
    }
    if (kind.type === 'user') joinedUser = true;
    const slot = FIRST_NS_SLOT + joins.length;
    joins.push({ slot, kind, path, theirs });
    b.ns(ops.openDir({ slot, path, anyFile: true }), `open ${path}`);
  }
  for (const j of joins) {
    b.ns(ops.setns({ nstype: j.kind.flag, slot: j.slot }), `setns(${j.path}, ${j.kind.flagName}): join ${j.theirs}`);
  }
  if (o.root !== undefined) b.init(ops.fchroot({ slot: ROOT_SLOT }), 'chroot to the opened root');
  if (o.wd !== undefined) b.init(ops.fchdir({ slot: WD_SLOT }), 'chdir to the opened working directory');
  if (joinedUser && !o.preserveCredentials) {
    // as util-linux: become root of the joined namespace; drop supplementary groups when allowed
    let setgroups = 'allow';
    try { setgroups = readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim(); } catch { /* keep allow */ }
    if (setgroups === 'allow') b.init(ops.setgroups({ ids: [] }), 'setgroups([]): drop supplementary groups');
    b.init(ops.setgid({ id: 0 }), 'setresgid(0): become group 0 of the joined user namespace');
    b.init(ops.setuid({ id: 0 }), 'setresuid(0): become user 0 of the joined user namespace');
  }
  const env = o.env ?? process.env;
  b.exec(o.command?.length ? o.command : [env.SHELL || '/bin/sh'], env);
  return b;
}

/** Runs a command in the namespaces of process `target`. */
export function nsenter(options: NsenterOptions): Promise<LaunchResult> {
  return launch('nsenter', nsenterPlan(options), options);
}

/** nsenter as a live handle (as child_process.spawn): pid, stdio streams, kill(), result. */
export function nsenterSpawn(options: NsenterOptions): HakoProcess<LaunchResult> {
  return launchSpawn('nsenter', () => nsenterPlan(options), options);
}
