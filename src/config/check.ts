// A small typed checker for JSON values: each check returns the value typed or throws a
// ConfigError naming the JSON path of the first problem and what the value must be.
// Objects are checked field by field against a shape derived from the target type, so a
// field missing from a shape, or checked as the wrong type, is a compile error.
import { HakoError } from '../errors.js';

export class ConfigError extends HakoError {
  /** JSON path of the problem, e.g. linux.uidMappings[0].size ('' for the whole document). */
  readonly path: string;
  /** What is wrong with it, without the path. */
  readonly problem: string;
  /** `source` names what was checked: config.json, or a Spec object given to the library. */
  constructor(path: string, problem: string, source = 'config.json') {
    super(`hako: ${source}: ${path ? `${path}: ` : ''}${problem}`, 1, 'bad-config');
    this.name = 'ConfigError';
    this.path = path;
    this.problem = problem;
  }
}

export interface Context {
  /** Problems the spec says to report but not fail on. */
  warn(path: string, message: string): void;
}

export type Check<T> = (value: unknown, path: string, ctx: Context) => T;
export interface Optional<T> {
  optional: Check<T>;
}
/** Every key of T: a plain check if required, opt(check) if optional. */
export type Shape<T> = {
  [K in keyof T]-?: {} extends Pick<T, K> ? Optional<Exclude<T[K], undefined>> : Check<T[K]>;
};

export function fail(path: string, problem: string): never {
  throw new ConfigError(path, problem);
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
export function keyPath(path: string, key: string): string {
  if (!IDENT.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

export function opt<T>(check: Check<T>): Optional<T> {
  return { optional: check };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON object with the fields of T, checked in document order, then the missing required ones.
 * Unknown fields are kept (the spec requires accepting them); null counts as absent, as Go's
 * decoder (runc's) treats it. `also` checks across fields once each field is good.
 */
export function object<T>(shape: Shape<T>, also?: (v: T, path: string, ctx: Context) => void): Check<T> {
  const fields = new Map(Object.entries(shape) as [string, Check<unknown> | Optional<unknown>][]);
  const required = [...fields].filter(([, f]) => typeof f === 'function').map(([k]) => k);
  return (v, path, ctx) => {
    if (!isObject(v)) fail(path, 'must be an object');
    for (const [key, value] of Object.entries(v)) {
      const field = fields.get(key);
      if (field === undefined || value === null) continue;
      (typeof field === 'function' ? field : field.optional)(value, keyPath(path, key), ctx);
    }
    for (const key of required) if (v[key] === undefined || v[key] === null) fail(keyPath(path, key), 'is required');
    const out = v as T;
    also?.(out, path, ctx);
    return out;
  };
}

export interface ArrayOptions<T> {
  min?: number;
  /** At most this many entries (a limit of the helper's, named in the error). */
  max?: number;
  /** No two entries may share this field's value. */
  unique?: keyof T & string;
}

export function array<T>(item: Check<T>, options: ArrayOptions<T> = {}): Check<T[]> {
  const { min = 0, max, unique } = options;
  return (v, path, ctx) => {
    if (!Array.isArray(v)) fail(path, 'must be an array');
    if (v.length < min) fail(path, `must have at least ${min === 1 ? 'one entry' : `${min} entries`}`);
    if (max !== undefined && v.length > max) fail(path, `has ${v.length} entries; hako passes at most ${max}`);
    const seen = new Map<unknown, number>();
    v.forEach((x, i) => {
      const at = `${path}[${i}]`;
      const checked = item(x, at, ctx);
      if (unique === undefined) return;
      const key = checked[unique];
      const first = seen.get(key);
      if (first !== undefined) fail(`${at}.${unique}`, `must not repeat ${JSON.stringify(key)} (already at ${path}[${first}])`);
      seen.set(key, i);
    });
    return v as T[];
  };
}

/** An object used as a map; `key` throws on a bad key (its path is the entry's path). */
export function record<K extends string, V>(value: Check<V>, key?: (k: string, path: string) => void): Check<Record<K, V>> {
  return (v, path, ctx) => {
    if (!isObject(v)) fail(path, 'must be an object');
    for (const [k, x] of Object.entries(v)) {
      const at = keyPath(path, k);
      key?.(k, at);
      value(x, at, ctx);
    }
    return v as Record<K, V>;
  };
}

export const string: Check<string> = (v, path) => (typeof v === 'string' ? v : fail(path, 'must be a string'));
export const boolean: Check<boolean> = (v, path) => (typeof v === 'boolean' ? v : fail(path, 'must be a boolean'));

/** A string that also passes `test`; otherwise "must be <what>". */
export function text(test: (s: string) => boolean, what: string): Check<string> {
  return (v, path, ctx) => (test(string(v, path, ctx)) ? (v as string) : fail(path, `must be ${what}`));
}
export const nonEmpty = text((s) => s.length > 0, 'a non-empty string');
export const absolutePath = text((s) => s.startsWith('/'), 'an absolute path');

export function oneOf<const T extends string>(values: readonly T[], what?: string): Check<T> {
  const set = new Set<string>(values);
  const problem = `must be ${what ?? `one of ${values.join(', ')}`}`;
  return (v, path) => (typeof v === 'string' && set.has(v) ? (v as T) : fail(path, problem));
}

/** An integer from min to max; `what` says what it must be when it is not an integer at or above min. */
export function integer(what: string, min: number, max = Infinity): Check<number> {
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(path, `must be ${what}`);
    if (v > max) fail(path, `must be at most ${max}`);
    return v;
  };
}

// Widths from the spec. 64-bit bounds are not checked: JSON numbers past 2^53 are not exact anyway.
export const int64 = integer('an integer', -Infinity);
export const uint64 = integer('a non-negative integer', 0);
export const uint32 = integer('a non-negative integer', 0, 0xffffffff);
export const uint16 = integer('a non-negative integer', 0, 0xffff);
export const int32 = (v: unknown, path: string, ctx: Context): number => {
  const n = int64(v, path, ctx);
  return n >= -0x80000000 && n <= 0x7fffffff ? n : fail(path, 'must be a 32-bit integer');
};
export function range(min: number, max: number): Check<number> {
  const problem = `must be an integer from ${min} to ${max}`;
  return (v, path) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(path, problem));
}
