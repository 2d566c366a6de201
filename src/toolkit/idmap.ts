// User and group id maps: parsing, checking, and writing them for a new user namespace.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { HakoError } from '../errors.js';
import { formatMap, type IdRange } from '../linux/idmap.js';

export type { IdRange };
export { formatMap };

export type IdKind = 'uid' | 'gid';

const ID_MAX = 0xffffffff; // (uid_t)-1 is never a valid id

function parseId(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new HakoError(`hako: ${what}: '${text}' is not a number`, { code: 'bad-option' });
  const n = Number(text);
  if (n >= ID_MAX) throw new HakoError(`hako: ${what}: ${text} is out of range (ids are below ${ID_MAX})`, { code: 'bad-option' });
  return n;
}

/** "INNER:OUTER:COUNT" (util-linux 2.39's order). */
export function parseRange(spec: string, what: string): IdRange {
  const parts = spec.split(':');
  if (parts.length !== 3) throw new HakoError(`hako: ${what}: '${spec}' is not INNER:OUTER:COUNT`, { code: 'bad-option' });
  const [inside, outside, count] = parts.map((p, i) => parseId(p, `${what}: ${['inner id', 'outer id', 'count'][i]}`)) as [number, number, number];
  if (count === 0) throw new HakoError(`hako: ${what}: '${spec}': the count must be at least 1`, { code: 'bad-option' });
  return { inside, outside, count };
}

/** Checks a whole map as the kernel would, with messages that say which ranges clash. */
export function checkMap(ranges: IdRange[], kind: IdKind): void {
  if (ranges.length > 340) throw new HakoError(`hako: ${kind} map: ${ranges.length} ranges, the kernel takes at most 340`, { code: 'bad-option' });
  ranges.forEach((r, i) => {
    if (r.inside + r.count > ID_MAX || r.outside + r.count > ID_MAX) {
      throw new HakoError(`hako: ${kind} map: range ${fmt(r)} runs past the largest id (${ID_MAX - 1})`, { code: 'bad-option' });
    }
    for (const other of ranges.slice(0, i)) {
      if (overlaps(r.inside, other.inside, r.count, other.count)) {
        throw new HakoError(`hako: ${kind} map: ranges ${fmt(other)} and ${fmt(r)} overlap inside the namespace`, { code: 'bad-option' });
      }
      if (overlaps(r.outside, other.outside, r.count, other.count)) {
        throw new HakoError(`hako: ${kind} map: ranges ${fmt(other)} and ${fmt(r)} overlap outside the namespace`, { code: 'bad-option' });
      }
    }
  });
}

function overlaps(a: number, b: number, na: number, nb: number): boolean {
  return a < b + nb && b < a + na;
}

function fmt(r: IdRange): string {
  return `${r.inside}:${r.outside}:${r.count}`;
}


/** The caller's first subordinate range from /etc/subuid or /etc/subgid (by name or number). */
export function subordinateRange(kind: IdKind, file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid'): { start: number; count: number } {
  const id = kind === 'uid' ? process.geteuid?.() ?? 0 : process.getegid?.() ?? 0;
  let name = String(id);
  try { name = userInfo().username; } catch { /* no passwd entry: match by number only */ }
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { /* treated as empty */ }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if ((owner === name || owner === String(id)) && start && count && /^\d+$/.test(start) && /^\d+$/.test(count)) {
      return { start: Number(start), count: Number(count) };
    }
  }
  throw new HakoError(`hako: --map-auto: ${file} has no range for ${name} (add one with usermod --add-sub${kind}s)`, { code: 'not-found' });
}

export interface IdMapPlan {
  uid: IdRange[];
  gid: IdRange[];
  /** What to write to /proc/PID/setgroups first, if anything. */
  setgroups?: 'allow' | 'deny';
}

/** One step of writing the maps, for explain output. */
export interface IdMapStep { what: string; ok: boolean; error?: string }

function isSelfOnly(ranges: IdRange[], self: number): boolean {
  return ranges.length === 1 && ranges[0]!.count === 1 && ranges[0]!.outside === self;
}

/**
 * Writes the maps of process `pid`, which has just unshared its user namespace.
 * Root writes every file itself. Others write a map that holds only their own id, and use
 * newuidmap/newgidmap (setuid, checked against /etc/subuid) for anything wider.
 */
export function writeIdMaps(pid: number, plan: IdMapPlan, log?: (step: IdMapStep) => void): void {
  const privileged = (process.geteuid?.() ?? 0) === 0;
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  const useTool = (kind: IdKind, ranges: IdRange[]) =>
    !privileged && ranges.length > 0 && !isSelfOnly(ranges, kind === 'uid' ? euid : egid);

  const write = (file: string, content: string) => {
    const path = `/proc/${pid}/${file}`;
    try {
      writeFileSync(path, content);
      log?.({ what: `write ${path} ${JSON.stringify(content.trimEnd())}`, ok: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      log?.({ what: `write ${path} ${JSON.stringify(content.trimEnd())}`, ok: false, error: code });
      throw new HakoError(`hako: writing ${path} failed (${code})${hintFor(file, code, privileged)}`, 1, code === 'EPERM' || code === 'EACCES' ? 'permission' : 'error');
    }
  };
  const tool = (name: 'newuidmap' | 'newgidmap', ranges: IdRange[]) => {
    const args = [String(pid), ...ranges.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)])];
    const run = spawnSync(name, args, { encoding: 'utf8' });
    const ok = run.status === 0;
    log?.({ what: `${name} ${args.join(' ')}`, ok, ...(ok ? {} : { error: run.error ? String(run.error.message) : (run.stderr || '').trim() }) });
    if (!ok) {
      const why = run.error ? (run.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${name} is not installed (apt-get install uidmap)` : run.error.message : (run.stderr || `exit ${run.status}`).trim();
      throw new HakoError(`hako: ${name} failed: ${why}`, { code: 'permission' });
    }
  };

  const gidTool = useTool('gid', plan.gid);
  // An unprivileged gid_map written directly needs setgroups denied first (user_namespaces(7)).
  const setgroups = plan.setgroups ?? (!privileged && !gidTool && plan.gid.length > 0 ? 'deny' : undefined);
  if (setgroups === 'allow' && !privileged && plan.gid.length > 0 && !gidTool) {
    throw new HakoError('hako: --setgroups allow: an unprivileged gid map of your own group needs setgroups denied; map a range with --map-groups (newgidmap) or run as root', { code: 'bad-option' });
  }
  // with newgidmap only an explicit --setgroups is written (newgidmap itself refuses to map
  // groups once setgroups is denied unless the ranges allow it; that is its call)
  if (setgroups && (!gidTool || plan.setgroups)) write('setgroups', `${setgroups}\n`);
  if (plan.uid.length) {
    if (useTool('uid', plan.uid)) tool('newuidmap', plan.uid);
    else write('uid_map', formatMap(plan.uid));
  }
  if (plan.gid.length) {
    if (gidTool) tool('newgidmap', plan.gid);
    else write('gid_map', formatMap(plan.gid));
  }
}

function hintFor(file: string, code: string, privileged: boolean): string {
  if (code !== 'EPERM' || privileged) return '';
  if (file === 'gid_map') return ': an unprivileged gid map needs setgroups denied (--setgroups deny)';
  if (file === 'uid_map') return ': without root you can map only your own id; use --map-users with a range from /etc/subuid';
  return '';
}
