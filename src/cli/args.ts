// A getopt_long-style parser: short bundles, --opt=value and --opt value, optional values,
// and (like util-linux's "+" mode) options end at the first argument that is not one.
import { HakoError } from '../errors.js';

export interface OptionSpec {
  long: string;
  short?: string;
  /** none: a switch; required: takes a value; optional: takes one only as --opt=value or -oVALUE. */
  arg?: 'none' | 'required' | 'optional';
  /** What the value is, in help (DIR, FILE, N): VALUE when not given. */
  value?: string;
  /** One line for --help, the man page and shell completion. */
  help?: string;
}

export interface ParsedArgs {
  /** Values by long name, in the order given; a switch or an optional option given bare is ''. */
  values: Map<string, string[]>;
  /** What followed the options. */
  rest: string[];
}

export function parseArgs(verb: string, argv: string[], specs: OptionSpec[], stopAtFirstArg = true): ParsedArgs {
  const values = new Map<string, string[]>();
  const rest: string[] = [];
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const add = (spec: OptionSpec, value: string) => {
    const list = values.get(spec.long) ?? [];
    list.push(value);
    values.set(spec.long, list);
  };
  const who = verb ? `hako ${verb}` : 'hako';
  const bad = (msg: string, guess?: string) => new HakoError(`${who}: ${msg}${guess ? `; did you mean '${guess}'?` : ''} (see '${who} --help')`, { code: 'bad-option' });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw bad(`unknown option '--${name}'`, closest(`--${name}`, specs.map((x) => `--${x.long}`)));
      const kind = spec.arg ?? 'none';
      if (eq >= 0) {
        if (kind === 'none') throw bad(`option '--${name}' takes no value`);
        add(spec, arg.slice(eq + 1));
      } else if (kind === 'required') {
        if (i + 1 >= argv.length) throw bad(`option '--${name}' needs a value`);
        add(spec, argv[++i] as string);
      } else {
        add(spec, '');
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j] as string;
        const spec = byShort.get(ch);
        if (!spec) throw bad(`unknown option '-${ch}'`);
        const kind = spec.arg ?? 'none';
        if (kind === 'none') {
          add(spec, '');
          continue;
        }
        const attached = arg.slice(j + 1);
        if (attached) add(spec, attached);
        else if (kind === 'required') {
          if (i + 1 >= argv.length) throw bad(`option '-${ch}' needs a value`);
          add(spec, argv[++i] as string);
        } else add(spec, '');
        break;
      }
      continue;
    }
    if (stopAtFirstArg) {
      rest.push(...argv.slice(i));
      break;
    }
    rest.push(arg);
  }
  return { values, rest };
}

/** Edit distance (insertions, deletions, substitutions, and swapping two neighbours), for "did you mean". */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The candidate closest to what was typed, when it is close: at most 2 edits, and fewer than a
 * third of the word (so that '--rot' suggests '--root' but '--x' suggests nothing). */
export function closest(typed: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(typed, c);
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  const word = typed.replace(/^-+/, '');
  return bestDistance <= Math.min(2, Math.ceil(word.length / 3)) ? best : undefined;
}

/** The last value given for an option (util-linux: the last occurrence wins). */
export function last(args: ParsedArgs, name: string): string | undefined {
  const list = args.values.get(name);
  return list?.[list.length - 1];
}

export function has(args: ParsedArgs, name: string): boolean {
  return args.values.has(name);
}

/** A process id (1 to 2^31-1, as the kernel's pid_t allows). */
export function pidValue(verb: string, option: string, text: string): number {
  const n = intValue(verb, option, text, 1);
  if (n > 0x7fffffff) throw new HakoError(`hako ${verb}: --${option}: '${text}' is not a process id`, { code: 'bad-option' });
  return n;
}

export function intValue(verb: string, option: string, text: string, min = 0): number {
  if (!/^-?\d+$/.test(text.trim()) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new HakoError(`hako ${verb}: --${option}: '${text}' is not ${min >= 0 ? 'a whole number' : 'an integer'}${min > 0 ? ` of at least ${min}` : ''}`, { code: 'bad-option' });
  }
  return Number(text);
}

/**
 * A byte size as runc and docker take it (go-units RAMInBytes): a number, optionally with a
 * binary unit k, m, g, t or p (1024-based), with or without i and b, in any case: 512k, 50M,
 * 1.5GiB. -1 (unlimited) is taken as runc does.
 */
export function byteSize(verb: string, option: string, text: string): number {
  if (text.trim() === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(text.trim());
  const unit = m ? 1024 ** ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase()) : 0;
  const value = m ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new HakoError(`hako ${verb}: --${option}: '${text}' is not a size (bytes, or with a unit: 512k, 50M, 1g; -1 for no limit)`, { code: 'bad-option' });
  }
  return value;
}

/** A duration as Go's time.ParseDuration takes it (runc's --interval): 5s, 100ms, 1m30s, 1.5h. In ms. */
export function durationMs(verb: string, option: string, text: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const t = text.trim();
  let ms = 0;
  let rest = t;
  while (rest) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/.exec(rest);
    if (!m) { ms = NaN; break; }
    ms += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (!t || !Number.isFinite(ms) || ms < 1 || ms > 2 ** 31 - 1) {
    throw new HakoError(`hako ${verb}: --${option}: '${text}' is not a duration of at least 1ms (e.g. 5s, 500ms, 1m30s)`, { code: 'bad-option' });
  }
  return Math.round(ms);
}
