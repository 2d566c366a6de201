// Writing the uid and gid maps of a new user namespace: what it takes (root writes every file;
// others their own ids after setgroups "deny", newuidmap/newgidmap for anything wider), blocking
// for the toolkit's command line and without blocking for the runtime library.
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { HakoError } from '../errors.js';
import { formatMap, type IdKind, type IdMapPlan, type IdRange } from '../linux/idmap.js';

/** One step of writing the maps, for explain output. */
export interface IdMapStep { what: string; ok: boolean; error?: string }

/** Who writes the maps: root writes every file; others only a map of their own id. */
export interface MapWriter { privileged: boolean; euid: number; egid: number }

export function currentWriter(): MapWriter {
  const euid = process.geteuid?.() ?? 0;
  return { privileged: euid === 0, euid, egid: process.getegid?.() ?? 0 };
}

function isSelfOnly(ranges: IdRange[], self: number): boolean {
  return ranges.length === 1 && ranges[0]!.count === 1 && ranges[0]!.outside === self;
}

type MapAction = { kind: 'write'; file: 'setgroups' | 'uid_map' | 'gid_map'; content: string } | { kind: 'tool'; name: 'newuidmap' | 'newgidmap'; ranges: IdRange[] };

/**
 * What writing the maps takes, in order: root writes every file itself; others write a map that
 * holds only their own id (a gid map after setgroups "deny", user_namespaces(7)), and use
 * newuidmap/newgidmap (setuid, checked against /etc/subuid and /etc/subgid) for anything wider.
 */
export function mapActions(plan: IdMapPlan, w: MapWriter = currentWriter()): MapAction[] {
  const useTool = (kind: IdKind, ranges: IdRange[]) => !w.privileged && ranges.length > 0 && !isSelfOnly(ranges, kind === 'uid' ? w.euid : w.egid);
  const gidTool = useTool('gid', plan.gid);
  const setgroups = plan.setgroups ?? (!w.privileged && !gidTool && plan.gid.length > 0 ? 'deny' : undefined);
  if (setgroups === 'allow' && !w.privileged && plan.gid.length > 0 && !gidTool) {
    throw new HakoError('hako: setgroups allow: an unprivileged gid map of your own group needs setgroups denied; map a range from /etc/subgid (newgidmap) or run as root', { code: 'bad-option' });
  }
  const actions: MapAction[] = [];
  // with newgidmap only an explicit setgroups is written (newgidmap itself refuses to map
  // groups once setgroups is denied unless the ranges allow it; that is its call)
  if (setgroups && (!gidTool || plan.setgroups)) actions.push({ kind: 'write', file: 'setgroups', content: `${setgroups}\n` });
  if (plan.uid.length) actions.push(useTool('uid', plan.uid) ? { kind: 'tool', name: 'newuidmap', ranges: plan.uid } : { kind: 'write', file: 'uid_map', content: formatMap(plan.uid) });
  if (plan.gid.length) actions.push(gidTool ? { kind: 'tool', name: 'newgidmap', ranges: plan.gid } : { kind: 'write', file: 'gid_map', content: formatMap(plan.gid) });
  return actions;
}

/** setgroups(2) will be denied in the namespace whose maps these actions write. */
export function deniesSetgroups(actions: MapAction[]): boolean {
  return actions.some((a) => a.kind === 'write' && a.file === 'setgroups' && a.content === 'deny\n');
}

function toolArgs(pid: number, ranges: IdRange[]): string[] {
  return [String(pid), ...ranges.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)])];
}

function writeError(path: string, file: string, code: string, privileged: boolean): HakoError {
  return new HakoError(`hako: writing ${path} failed (${code})${hintFor(file, code, privileged)}`, 1, code === 'EPERM' || code === 'EACCES' ? 'permission' : 'error');
}

function toolError(name: string, error: Error | undefined, stderr: string, status: number | null): HakoError {
  const why = error ? (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${name} is not installed (apt-get install uidmap)` : error.message : (stderr || `exit ${status}`).trim();
  return new HakoError(`hako: ${name} failed: ${why}`, { code: 'permission' });
}

function hintFor(file: string, code: string, privileged: boolean): string {
  if (code !== 'EPERM' || privileged) return '';
  if (file === 'gid_map') return ': an unprivileged gid map needs setgroups denied (--setgroups deny)';
  if (file === 'uid_map') return ': without root you can map only your own id; map a range from /etc/subuid (newuidmap)';
  return '';
}

/** Writes the maps of process `pid`, which has just unshared its user namespace (blocking: the
 * toolkit's command line, which waits for it anyway). */
export function writeIdMaps(pid: number, plan: IdMapPlan, log?: (step: IdMapStep) => void): void {
  const w = currentWriter();
  for (const a of mapActions(plan, w)) {
    if (a.kind === 'write') {
      const path = `/proc/${pid}/${a.file}`;
      const what = `write ${path} ${JSON.stringify(a.content.trimEnd())}`;
      try {
        writeFileSync(path, a.content);
        log?.({ what, ok: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        log?.({ what, ok: false, error: code });
        throw writeError(path, a.file, code, w.privileged);
      }
    } else {
      const args = toolArgs(pid, a.ranges);
      const run = spawnSync(a.name, args, { encoding: 'utf8' });
      const ok = run.status === 0;
      log?.({ what: `${a.name} ${args.join(' ')}`, ok, ...(ok ? {} : { error: run.error ? String(run.error.message) : (run.stderr || '').trim() }) });
      if (!ok) throw toolError(a.name, run.error, run.stderr ?? '', run.status);
    }
  }
}

/** The same, without blocking the event loop (the runtime library). */
export async function writeIdMapsAsync(pid: number, actions: MapAction[], w: MapWriter = currentWriter()): Promise<void> {
  for (const a of actions) {
    if (a.kind === 'write') {
      const path = `/proc/${pid}/${a.file}`;
      try {
        await writeFile(path, a.content);
      } catch (e) {
        throw writeError(path, a.file, (e as NodeJS.ErrnoException).code ?? 'error', w.privileged);
      }
    } else {
      const { error, stderr, status } = await new Promise<{ error?: Error; stderr: string; status: number | null }>((done) => {
        execFile(a.name, toolArgs(pid, a.ranges), { encoding: 'utf8' }, (err, _out, errText) => {
          done({ ...(err && typeof (err as NodeJS.ErrnoException).code === 'string' ? { error: err } : {}), stderr: errText, status: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
        });
      });
      if (status !== 0 || error) throw toolError(a.name, error, stderr, status);
    }
  }
}
