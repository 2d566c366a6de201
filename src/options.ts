// Run-time checks of the library's options: the types do not protect JavaScript callers or values
// read from config files. Every entry point checks its options here before it does anything, as
// strictly as the CLI checks its flags: an unknown key, a wrong type or an unknown name is an
// OptionError naming the option's path (`hako: unshare: options.namespaces[0]: ...`).
import { OptionError } from './errors.js';
import type { NamespaceType } from './linux/namespaces.js';
import { signalNumber } from './linux/signals.js';

/** A check: returns nothing, or throws a Problem naming what the value must be. */
export type Check = (value: unknown, path: string) => void;

/** A failed check, before the call's name is known (checkOptions turns it into an OptionError). */
class Problem {
  constructor(readonly path: string, readonly problem: string) {}
}

export function fail(path: string, problem: string): never {
  throw new Problem(path, problem);
}

function shown(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'bigint') return `${v}n`;
  return String(v);
}

function expect(path: string, what: string, v: unknown): never {
  fail(path, `must be ${what} (got ${shown(v)})`);
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

export const string: Check = (v, p) => { if (typeof v !== 'string') expect(p, 'a string', v); };
export const nonEmpty: Check = (v, p) => { if (typeof v !== 'string' || v === '') expect(p, 'a non-empty string', v); };
export const boolean: Check = (v, p) => { if (typeof v !== 'boolean') expect(p, 'true or false', v); };
export const func: Check = (v, p) => { if (typeof v !== 'function') expect(p, 'a function', v); };

/** A path with no NUL byte; `absolute` requires a leading /. */
export function path(absolute = false): Check {
  return (v, p) => {
    if (typeof v !== 'string' || v === '' || v.includes('\0')) expect(p, `a${absolute ? 'n absolute' : ''} path`, v);
    if (absolute && !v.startsWith('/')) expect(p, 'an absolute path', v);
  };
}

/** An integer from min to max. */
export function integer(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Check {
  const what = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer of at least ${min}`) : `an integer from ${min} to ${max}`;
  return (v, p) => { if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) expect(p, what, v); };
}

/** A finite number of at least min. */
export function number(min = -Infinity): Check {
  return (v, p) => { if (typeof v !== 'number' || !Number.isFinite(v) || v < min) expect(p, min === 0 ? 'a non-negative number' : 'a number', v); };
}

/** One of a closed set of strings (or numbers); `noun` names what they are in the message. */
export function oneOf(values: readonly (string | number)[], noun = 'value'): Check {
  const set = new Set<unknown>(values);
  return (v, p) => {
    if (set.has(v)) return;
    if (typeof v === 'string') fail(p, `unknown ${noun} '${v}' (one of ${values.join(', ')})`);
    expect(p, `one of ${values.map((x) => (typeof x === 'string' ? `'${x}'` : String(x))).join(', ')}`, v);
  };
}

/** The first check whose type fits; `what` says what is accepted when none does. */
export function either(what: string, ...alternatives: Array<[test: (v: unknown) => boolean, check: Check]>): Check {
  return (v, p) => {
    for (const [test, check] of alternatives) if (test(v)) return check(v, p);
    expect(p, what, v);
  };
}

export function array(item: Check, { min = 0, max = Infinity } = {}): Check {
  return (v, p) => {
    if (!Array.isArray(v)) expect(p, 'an array', v);
    if (v.length < min) fail(p, `must have at least ${min === 1 ? 'one entry' : `${min} entries`}`);
    if (v.length > max) fail(p, `must have at most ${max} entries`);
    v.forEach((x, i) => item(x, `${p}[${i}]`));
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An object whose values all pass `value` (e.g. an environment). */
export function record(value: Check): Check {
  return (v, p) => {
    if (!isPlainObject(v)) expect(p, 'an object', v);
    for (const [k, x] of Object.entries(v)) value(x, keyPath(p, k));
  };
}

/** The keys an object may have, each with its check. An undefined value counts as absent. */
export type Shape = Record<string, Check>;

/** An object with only the keys of `shape` (an unknown key is refused: a misspelt option would
 * otherwise be ignored without a word); `required` keys must be there. */
export function object(shape: Shape, required: readonly string[] = []): Check {
  return (v, p) => {
    if (!isPlainObject(v)) expect(p, 'an object', v);
    for (const [k, x] of Object.entries(v)) {
      const check = shape[k];
      if (check === undefined) fail(keyPath(p, k), `unknown option (known: ${Object.keys(shape).join(', ')})`);
      if (x !== undefined) check(x, keyPath(p, k));
    }
    for (const k of required) if (v[k] === undefined) fail(keyPath(p, k), 'is required');
  };
}

/** A signal name (SIGTERM, TERM) or number from 1 to 64. */
export const signal: Check = (v, p) => {
  if (typeof v === 'number') return integer(1, 64)(v, p);
  if (typeof v !== 'string' || !signalNumber(v)) expect(p, 'a signal name like SIGTERM or a number from 1 to 64', v);
};

/** Checks `value` (named `name`, 'options' by default) for the library call `call`. */
export function checkOptions(call: string, value: unknown, check: Check, name = 'options'): void {
  try {
    check(value, name);
  } catch (e) {
    if (e instanceof Problem) throw new OptionError(call, e.path, e.problem);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// The shapes shared by several calls.

const stdioName = oneOf(['inherit', 'pipe', 'ignore'], 'stdio');
const isStream = (v: unknown) => typeof v === 'object' && v !== null && typeof (v as { pipe?: unknown }).pipe === 'function';
/** child_process stdio: a name, or an array of names, fds, streams, null or undefined. */
export const stdio: Check = either("'inherit', 'pipe', 'ignore' or an array of those, fds and streams",
  [(v) => typeof v === 'string', stdioName],
  [Array.isArray, array(either("'inherit', 'pipe', 'ignore', 'ipc', an fd, a stream, null or undefined",
    [(v) => typeof v === 'string', oneOf(['inherit', 'pipe', 'ignore', 'ipc', 'overlapped'], 'stdio')],
    [(v) => typeof v === 'number', integer(0)],
    [(v) => v === null || v === undefined, () => {}],
    [isStream, () => {}]))]);

/** An environment as an object: string values (undefined leaves a variable out). */
export const envObject: Check = record(either('a string', [(v) => typeof v === 'string' || v === undefined, () => {}]));

/** An id range: inside, outside, count. */
export const idRange: Check = object({ inside: integer(0, 0xfffffffe), outside: integer(0, 0xfffffffe), count: integer(1, 0xffffffff) }, ['inside', 'outside', 'count']);

/** The keys every call that runs a command takes (they go to the helper session). */
export const SESSION_OPTIONS: Shape = {
  /** stdio for the command. */
  stdio,
  /** Bytes kept of a piped stdout and stderr. */
  maxBuffer: integer(0),
  /** Signals passed on to the command. */
  forwardSignals: array(signal),
};

/**
 * The keys of the live-session work (src/helper/session.ts: input, abort, timeout): each is
 * checked here for its type only. New session keys go here, in one place.
 */
export const LIVE_SESSION_OPTIONS: Shape = {
  /** What the command reads on stdin. */
  input: (v, p) => { if (!(typeof v === 'string' || v instanceof Uint8Array)) expect(p, 'a string or a Buffer', v); },
  /** An AbortSignal that ends the command. */
  signal: (v, p) => { if (!(v instanceof AbortSignal)) expect(p, 'an AbortSignal', v); },
  /** Milliseconds the command may run. */
  timeoutMs: number(0),
  /** Kill the command when this process exits. */
  killOnExit: boolean,
};

// ---------------------------------------------------------------------------------------------
// Each call's options.

/** The namespace names, in the order NamespaceType lists them (and util-linux's options). */
const NAMESPACE_NAMES = ['user', 'mnt', 'pid', 'net', 'uts', 'ipc', 'cgroup', 'time'] as const satisfies readonly NamespaceType[];
const namespace = oneOf(NAMESPACE_NAMES, 'namespace');
const id32 = integer(0, 0xfffffffe);
const command = array(string);
const boolOrPath = either('true, false or a path', [(v) => typeof v === 'boolean', boolean], [(v) => typeof v === 'string', path()]);

/** unshare and nsenter: LaunchOptions. */
export const LAUNCH_OPTIONS: Shape = {
  ...SESSION_OPTIONS,
  ...LIVE_SESSION_OPTIONS,
  explain: either('true, false or a function', [(v) => typeof v === 'boolean', boolean], [(v) => typeof v === 'function', func]),
  env: envObject,
  killSignal: integer(1, 64),
  setupTimeoutMs: integer(1),
};

export const UNSHARE_OPTIONS: Shape = {
  ...LAUNCH_OPTIONS,
  namespaces: array(namespace),
  all: boolean,
  mountProc: boolOrPath,
  propagation: oneOf(['private', 'shared', 'slave', 'unchanged'], 'propagation'),
  hostname: string,
  domainname: string,
  mapRootUser: boolean,
  mapCurrentUser: boolean,
  mapUser: id32,
  mapGroup: id32,
  mapUsers: array(idRange),
  mapGroups: array(idRange),
  mapAuto: boolean,
  setgroups: oneOf(['allow', 'deny'], 'setgroups value'),
  monotonic: integer(),
  boottime: integer(),
  root: path(),
  wd: path(),
  command,
  network: nonEmpty,
  publish: array(string),
  netDir: path(),
};

export const NSENTER_OPTIONS: Shape = {
  ...LAUNCH_OPTIONS,
  target: integer(1, 0x7fffffff),
  namespaces: array(namespace),
  all: boolean,
  preserveCredentials: boolean,
  root: boolOrPath,
  wd: boolOrPath,
  command,
};

export const LIST_OPTIONS: Shape = { type: namespace, relations: boolean };

/** describeProcesses: the pids. */
export const PIDS: Check = array(integer(1, 0x7fffffff));

export const RUNTIME_OPTIONS: Shape = { root: path(), warn: func, cgroupVersion: oneOf([1, 2]), onRemove: func, netDir: path(), zygote: boolean };

const plainObject: Check = (v, p) => { if (!isPlainObject(v)) expect(p, 'an object', v); };

// create returns once the container exists: it has no signals to forward (run has)
const { forwardSignals: _forward, ...CREATE_SESSION } = SESSION_OPTIONS;

export const CREATE_OPTIONS: Shape = {
  ...CREATE_SESSION,
  ...LIVE_SESSION_OPTIONS,
  bundle: path(),
  spec: plainObject,
  rootfs: path(),
  args: array(string, { min: 1 }),
  env: array(string),
  cwd: string,
  user: either('a string like user:group or a process.user object', [(v) => typeof v === 'string', nonEmpty], [(v) => typeof v === 'object', plainObject]),
  hostname: string,
  resources: plainObject,
  pidFile: path(),
  consoleSocket: path(),
  noPivot: boolean,
  noNewKeyring: boolean,
  preserveFds: integer(0),
  onNetwork: func,
  network: nonEmpty,
  publish: array(string),
  explain: either('true, false or a function', [(v) => typeof v === 'boolean', boolean], [(v) => typeof v === 'function', func]),
};

/** The signal a foreground run's or exec's process gets when this process goes away (false: none). */
const killSignalOption: Check = (v, p) => {
  if (v === false || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64) || (typeof v === 'string' && /^SIG[A-Z0-9+-]+$/.test(v))) return;
  expect(p, "a signal name ('SIGKILL'), a number from 1 to 64, or false", v);
};

export const RUN_OPTIONS: Shape = { ...CREATE_OPTIONS, forwardSignals: SESSION_OPTIONS.forwardSignals!, detach: boolean, keep: boolean, killSignal: killSignalOption, beforeRemove: func, lateExec: func, copyJoinedMount: boolean };

export const EXEC_OPTIONS: Shape = {
  ...SESSION_OPTIONS,
  ...LIVE_SESSION_OPTIONS,
  tty: boolean,
  consoleSocket: path(),
  detach: boolean,
  pidFile: path(),
  preserveFds: integer(0),
  user: nonEmpty,
  killSignal: killSignalOption,
};

/** A container id: a string (checkContainerId checks what it may hold). */
export const containerId: Check = string;
export { plainObject };
