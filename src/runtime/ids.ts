// Container ids, checked as runc checks them (libcontainer validateID): a non-empty string of
// ASCII letters, digits, '_', '+', '-' and '.', that names a file (so not "." or "..").
//
// runc 1.1 wrote the rule as the regexp ^[\w+-\.]+$, whose class quietly holds the range '+'..'.'
// and so also let ',' through; runc 1.2 and later spell the set out and refuse ','. We follow the
// spelled-out set. runc itself has no length limit: an id longer than a file name may be (NAME_MAX,
// 255 bytes) fails later with "file name too long"; we refuse it up front with a clear reason.
import { HakoError } from '../errors.js';

/** The longest id: the longest file name Linux takes (NAME_MAX). The id names the state directory. */
export const MAX_CONTAINER_ID_LENGTH = 255;

const ALLOWED = /^[A-Za-z0-9_+\-.]+$/;
const FIRST_BAD = /[^A-Za-z0-9_+\-.]/u;

/** Why id is not a valid container id, or undefined when it is. */
export function containerIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'an id must be a string';
  if (id.length === 0) return 'an id must not be empty';
  if (!ALLOWED.test(id)) {
    const bad = FIRST_BAD.exec(id)?.[0] ?? '?';
    return `${printable(bad)} is not allowed (only letters, digits, '_', '+', '-' and '.')`;
  }
  if (id === '.' || id === '..') return `'${id}' does not name a directory`;
  if (id.length > MAX_CONTAINER_ID_LENGTH) return `${id.length} characters, the limit is ${MAX_CONTAINER_ID_LENGTH}`;
  return undefined;
}

export function isValidContainerId(id: unknown): id is string {
  return containerIdProblem(id) === undefined;
}

/** Returns id when it is a valid container id; otherwise throws `hako: invalid container id 'x': why`. */
export function checkContainerId(id: unknown): string {
  const problem = containerIdProblem(id);
  if (problem !== undefined) throw new HakoError(`hako: invalid container id '${shown(id)}': ${problem}`, { code: 'bad-option' });
  return id as string;
}

/** The id as it can be shown on one line: control characters escaped, very long ids shortened. */
function shown(id: unknown): string {
  const s = typeof id === 'string' ? id : String(id);
  const text = [...s].map(printableChar).join('');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function printableChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  return c;
}

function printable(c: string): string {
  if (c === ' ') return 'a space';
  if (c === "'") return `"'"`;
  return `'${printableChar(c)}'`;
}
