// User and group id maps: parsing, checking, and writing them for a new user namespace.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { HakoError } from '../errors.js';
import { formatMap, type IdRange, type IdKind, type IdMapPlan } from '../linux/idmap.js';
import { writeIdMaps, type IdMapStep } from '../runtime/idmaps.js';

export type { IdRange, IdKind, IdMapPlan, IdMapStep };
export { formatMap, writeIdMaps };

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


