// A container's users and groups: HOME and `exec --user NAME[:GROUP]` from its own /etc/passwd and
// /etc/group. The helper reads them inside the container's root (READ_IN_ROOT, openat2 with
// RESOLVE_IN_ROOT), never through a host path that an image's symlink (/etc -> /etc) could send
// onto the host's files. The parsing, and what a missing file means, is decided here.
import { type BigIntStats, lstatSync, statSync } from 'node:fs';
import { HakoError } from '../errors.js';
import { type Field, type Fields, MAX_PAYLOAD, MessageType, Tag } from '../helper/protocol.js';
import { helperRequest } from '../helper/session.js';
import type { Process } from '../config/types.js';

const S_IFREG = 0o100000;
const EFBIG = 27;
/** The most a file may hold: what fits in one reply frame. */
const READ_MAX = MAX_PAYLOAD - 64;

/**
 * The text of a regular file at `path` inside the directory `root` (a host path: a bundle's rootfs,
 * or /proc/PID/root), or undefined when there is none: missing, unresolvable (a symlink loop), or
 * not a regular file, which runc also treats as no file.
 */
/** Sends one request to a helper: a fresh one by default, or the session's that will run the
 * command (HelperSession.request), which saves a helper per lookup. */
export type HelperRequester = (type: number, fields: Field[]) => Promise<Fields>;

export async function readInRoot(root: string, path: string, request: HelperRequester = helperRequest): Promise<string | undefined> {
  const reply = await request(MessageType.READ_IN_ROOT, [
    { tag: Tag.SOURCE, value: root }, { tag: Tag.PATH, value: path }, { tag: Tag.VALUE, value: READ_MAX },
  ]);
  const errno = reply.int(Tag.ERRNO);
  if (errno === EFBIG) throw new HakoError(`hako: the container's ${path} is larger than ${READ_MAX} bytes: not read`, { code: 'error' });
  if (errno !== undefined || reply.int(Tag.TYPE) !== S_IFREG) return undefined;
  return reply.str(Tag.DATA) ?? '';
}

/** The container's /etc/passwd and /etc/group, each read at most once, and only when asked for
 * (a rootfs's files through the Runtime's cache, when it has them). */
export class ContainerFiles {
  private passwdText?: Promise<string | undefined>;
  private groupText?: Promise<string | undefined>;

  constructor(private readonly root: string, private readonly request?: HelperRequester, private readonly cache?: RootFileCache) {}

  passwd(): Promise<string | undefined> {
    return (this.passwdText ??= this.read('/etc/passwd'));
  }

  group(): Promise<string | undefined> {
    return (this.groupText ??= this.read('/etc/group'));
  }

  private read(path: string): Promise<string | undefined> {
    const read = () => readInRoot(this.root, path, this.request);
    return this.cache ? this.cache.read(this.root, path, read) : read();
  }
}

/** A file changed less than this long ago is not kept: a change within the same tick of the
 * file system's clock would leave its times as they were (git's "racy" entries). */
const RACY_MS = 1000;

/**
 * What the helper read of a rootfs's files (READ_IN_ROOT), kept while each is what it was: the
 * text goes with a stamp of the path as the host sees it, the rootfs (followed, as the helper
 * opens it) and each name in it lstat'ed, never followed (device, inode, mode, size, change and
 * modification times; a missing name ends it). A path that crosses a symlink in the rootfs, or one
 * changed within RACY_MS, is not kept: the helper reads it again. So a warm Runtime asks no helper
 * for HOME of an image it ran before, and sends the plan without waiting for a reply.
 */
export class RootFileCache {
  private readonly texts = new Map<string, { stamp: string; text: string | undefined }>();
  /** @internal What the cache answered (tests). */
  readonly counts = { hits: 0, misses: 0 };

  constructor(private readonly max = 64) {}

  async read(root: string, path: string, read: () => Promise<string | undefined>): Promise<string | undefined> {
    const key = `${root}\0${path}`;
    const kept = this.texts.get(key);
    const before = stampOf(root, path);
    if (kept && before !== undefined && kept.stamp === before) {
      this.counts.hits++;
      return kept.text;
    }
    this.counts.misses++;
    this.texts.delete(key);
    const text = await read();
    if (before !== undefined && stampOf(root, path) === before) {
      if (this.texts.size >= this.max) this.texts.delete(this.texts.keys().next().value as string);
      this.texts.set(key, { stamp: before, text });
    }
    return text;
  }
}

/** The stamp of root + path (see RootFileCache), or undefined when it is not one to keep. */
function stampOf(root: string, path: string): string | undefined {
  const now = Date.now();
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  const stamps: string[] = [];
  let at = root;
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) at = `${at}/${parts[i - 1]}`;
    let st: BigIntStats;
    try {
      st = i === 0 ? statSync(at, { bigint: true }) : lstatSync(at, { bigint: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        stamps.push(code);
        break;
      }
      return undefined;
    }
    if (st.isSymbolicLink()) return undefined;
    if (now - Number(st.ctimeMs) < RACY_MS || now - Number(st.mtimeMs) < RACY_MS) return undefined;
    stamps.push(`${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
    if (!st.isDirectory()) break;
  }
  return stamps.join('/');
}

function entries(text: string | undefined): string[][] {
  return (text ?? '').split('\n').map((line) => line.split(':'));
}

/** HOME of uid from a passwd text: its entry's home directory, else "/" (as runc). */
export function homeIn(passwd: string | undefined, uid: number): string {
  return entries(passwd).find((f) => f[2] === String(uid) && f[5])?.[5] ?? '/';
}

/** A user or group name (or number) in a passwd or group text: its id (and a user's gid). */
function idIn(text: string | undefined, kind: 'user' | 'group', name: string): { id: number; gid?: number } {
  if (/^\d+$/.test(name)) return { id: Number(name) };
  const f = entries(text).find((e) => e[0] === name && e[2] && /^\d+$/.test(e[2]));
  if (!f) throw new HakoError(`hako exec: --user: no ${kind} '${name}' in the container`, { code: 'not-found' });
  return kind === 'user' && f[3] && /^\d+$/.test(f[3]) ? { id: Number(f[2]), gid: Number(f[3]) } : { id: Number(f[2]) };
}

/** `user[:group]` (names or numbers) as uid and gid from the container's files; a user without a
 * group gets its entry's gid (0 for a number). Only the files a name needs are read. */
export async function resolveUser(files: ContainerFiles, spec: string): Promise<{ uid: number; gid: number }> {
  const [u = '', g] = spec.split(':');
  const numeric = (s: string) => /^\d+$/.test(s);
  const user = idIn(numeric(u) ? undefined : await files.passwd(), 'user', u);
  if (g === undefined) return { uid: user.id, gid: user.gid ?? 0 };
  return { uid: user.id, gid: idIn(numeric(g) ? undefined : await files.group(), 'group', g).id };
}

/** HOME for a process whose environment has none (undefined when it has one: nothing is read). */
export async function homeFor(files: ContainerFiles, proc: Process): Promise<string | undefined> {
  if ((proc.env ?? []).some((e) => e.startsWith('HOME='))) return undefined;
  return homeIn(await files.passwd(), proc.user?.uid ?? 0);
}
