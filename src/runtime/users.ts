// A container's users and groups: HOME and `exec --user NAME[:GROUP]` from its own /etc/passwd and
// /etc/group. The helper reads them inside the container's root (READ_IN_ROOT, openat2 with
// RESOLVE_IN_ROOT), never through a host path that an image's symlink (/etc -> /etc) could send
// onto the host's files. The parsing, and what a missing file means, is decided here.
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

/** The container's /etc/passwd and /etc/group, each read at most once, and only when asked for. */
export class ContainerFiles {
  private passwdText?: Promise<string | undefined>;
  private groupText?: Promise<string | undefined>;

  constructor(private readonly root: string, private readonly request?: HelperRequester) {}

  passwd(): Promise<string | undefined> {
    return (this.passwdText ??= readInRoot(this.root, '/etc/passwd', this.request));
  }

  group(): Promise<string | undefined> {
    return (this.groupText ??= readInRoot(this.root, '/etc/group', this.request));
  }
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
