// config.json: parse and check it against runtime-spec 1.2 (config.md; the linux object is in
// validate-linux.ts). The first problem found, in document order, is thrown as a ConfigError
// naming its JSON path; problems the spec says only to warn about go to onWarning.
import {
  type Check, type Context, ConfigError, absolutePath, array, boolean, fail, int32, integer, keyPath, nonEmpty,
  object, oneOf, opt, range, record, string, text, uint16, uint32, uint64,
} from './check.js';
import { CAPABILITIES, IO_PRIORITY_CLASSES, RLIMITS, SCHED_FLAGS, SCHED_POLICIES } from './known.js';
import type {
  CPUAffinity, Capabilities, ConsoleSize, Hook, Hooks, IOPriority, Mount, Process, Rlimit, Root, Scheduler, Spec,
  User,
} from './types.js';
import { affinityList, idMapping, linux } from './validate-linux.js';
import { jsonErrorPosition, jsonTooDeep, MAX_JSON_DEPTH, positionOf } from './json-position.js';

export { ConfigError };
export type OnWarning = (message: string) => void;

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[A-Za-z-][\dA-Za-z-]*)(\.(0|[1-9]\d*|\d*[A-Za-z-][\dA-Za-z-]*))*)?(\+[\dA-Za-z-]+(\.[\dA-Za-z-]+)*)?$/;

/** SemVer 2.0.0 (a MUST); major 1, the only major version hako implements. */
const ociVersion: Check<string> = (v, path, ctx) => {
  const s = string(v, path, ctx);
  const m = SEMVER.exec(s);
  if (!m) fail(path, 'must be a SemVer version like 1.2.0');
  if (m[1] !== '1') fail(path, 'must be a 1.x version (hako implements runtime-spec 1.2)');
  return s;
};

const root = object<Root>({ path: nonEmpty, readonly: opt(boolean) });

const mount = object<Mount>(
  {
    destination: nonEmpty,
    source: opt(string),
    type: opt(string),
    options: opt(array(string)),
    uidMappings: opt(array(idMapping)),
    gidMappings: opt(array(idMapping)),
  },
  (m, path, ctx) => {
    if ((m.uidMappings == null) !== (m.gidMappings == null)) {
      const missing = m.uidMappings == null ? 'uidMappings' : 'gidMappings';
      fail(keyPath(path, missing), `is required with ${missing === 'uidMappings' ? 'gidMappings' : 'uidMappings'}`);
    }
    // as runc: an id mapping is for a bind mount, and says something
    for (const k of ['uidMappings', 'gidMappings'] as const) {
      if (m[k] && m[k].length === 0) fail(keyPath(path, k), 'must not be empty (an id-mapped mount needs at least one mapping)');
      if (m[k] && m[k].length > 340) fail(keyPath(path, k), 'has more than 340 entries (the kernel\'s limit)');
    }
    if (m.uidMappings && m.type !== 'bind' && !(m.options ?? []).some((o) => o === 'bind' || o === 'rbind')) {
      fail(keyPath(path, 'uidMappings'), 'id-mapped mounts are only supported for bind mounts (type "bind", or the bind or rbind option)');
    }
    if (!m.destination.startsWith('/')) {
      ctx.warn(keyPath(path, 'destination'), 'is relative (deprecated); it is taken relative to /');
    }
  },
);

/** Unknown names are warned about and ignored: config.md says runtimes SHOULD NOT fail on them. */
const knownCapabilities = new Set<string>(CAPABILITIES);
const capability: Check<string> = (v, path, ctx) => {
  const name = string(v, path, ctx);
  if (!knownCapabilities.has(name)) ctx.warn(path, `unknown capability ${JSON.stringify(name)} is ignored`);
  return name;
};
const capabilitySet = opt(array(capability));
const capabilities = object<Capabilities>({
  bounding: capabilitySet,
  effective: capabilitySet,
  inheritable: capabilitySet,
  permitted: capabilitySet,
  ambient: capabilitySet,
});

const rlimit = object<Rlimit>(
  { type: oneOf(RLIMITS, 'a resource name from getrlimit(2), like RLIMIT_NOFILE'), hard: uint64, soft: uint64 },
  (r, path) => {
    if (r.soft > r.hard) fail(keyPath(path, 'soft'), `must be at most hard (${r.hard})`);
  },
);

const user = object<User>({ uid: uint32, gid: uint32, umask: opt(uint32), additionalGids: opt(array(uint32)) });

/** Entries of args and of env the helper passes to execve (native/ops.h: 4096 slots, the last NULL). */
export const MAX_EXEC_STRINGS = 4095;

/** How many env entries the process gets: HOME is added when it is not set (src/plan/process.ts). */
export function execEnvCount(env: string[] | undefined): number {
  const list = env ?? [];
  return list.length + (list.some((e) => e.startsWith('HOME=')) ? 0 : 1);
}

const env = text((s) => s.indexOf('=') > 0, 'KEY=value with a non-empty KEY');

const processCheck = object<Process>({
  terminal: opt(boolean),
  // a terminal's size is two unsigned shorts (struct winsize)
  consoleSize: opt(object<ConsoleSize>({ height: uint16, width: uint16 })),
  user: opt(user),
  args: array(string, { min: 1, max: MAX_EXEC_STRINGS }),
  commandLine: opt(string),
  env: opt(array(env, { max: MAX_EXEC_STRINGS })),
  cwd: absolutePath,
  capabilities: opt(capabilities),
  rlimits: opt(array(rlimit, { unique: 'type' })),
  noNewPrivileges: opt(boolean),
  apparmorProfile: opt(string),
  selinuxLabel: opt(string),
  oomScoreAdj: opt(range(-1000, 1000)),
  ioPriority: opt(object<IOPriority>({ class: oneOf(IO_PRIORITY_CLASSES), priority: range(0, 7) })),
  scheduler: opt(object<Scheduler>({
    policy: oneOf(SCHED_POLICIES),
    nice: opt(int32),
    priority: opt(int32),
    flags: opt(array(oneOf(SCHED_FLAGS))),
    runtime: opt(uint64),
    deadline: opt(uint64),
    period: opt(uint64),
  }, (s, path) => {
    // runc's checks (libcontainer/configs/validate): what the kernel would take only as EINVAL
    if (s.nice != null && (s.nice < -20 || s.nice > 19)) fail(keyPath(path, 'nice'), `must be from -20 to 19 (got ${s.nice})`);
    if (s.priority && s.policy !== 'SCHED_FIFO' && s.policy !== 'SCHED_RR') fail(keyPath(path, 'priority'), `can only be set with SCHED_FIFO or SCHED_RR (policy is ${s.policy})`);
    if (s.policy !== 'SCHED_DEADLINE') {
      for (const k of ['runtime', 'deadline', 'period'] as const) if (s[k]) fail(keyPath(path, k), `can only be set with SCHED_DEADLINE (policy is ${s.policy})`);
    }
  })),
  execCPUAffinity: opt(object<CPUAffinity>({ initial: opt(affinityList), final: opt(affinityList) })),
}, (p, path) => {
  const n = execEnvCount(p.env);
  if (n > MAX_EXEC_STRINGS) fail(keyPath(path, 'env'), `has ${n - 1} entries and no HOME (which hako adds); hako passes at most ${MAX_EXEC_STRINGS}`);
});

const hookList = opt(array(object<Hook>({
  path: absolutePath,
  args: opt(array(string, { max: MAX_EXEC_STRINGS })),
  env: opt(array(string, { max: MAX_EXEC_STRINGS })),
  timeout: opt(integer('a positive integer', 1)),
})));
const hooks = object<Hooks>({
  prestart: hookList,
  createRuntime: hookList,
  createContainer: hookList,
  startContainer: hookList,
  poststart: hookList,
  poststop: hookList,
});

const annotations = record<string, string>(string, (k, path) => {
  if (k === '') fail(path, 'key must not be empty');
});

/** hostname and domainname: sethostname(2) and setdomainname(2) take at most 64 bytes. */
const utsName = text((s) => Buffer.byteLength(s) <= 64, 'at most 64 bytes long (the kernel\'s limit)');

const spec = object<Spec>({
  ociVersion,
  root,
  mounts: opt(array(mount)),
  process: opt(processCheck),
  hostname: opt(utsName),
  domainname: opt(utsName),
  hooks: opt(hooks),
  annotations: opt(annotations),
  linux: opt(linux),
});

/** Warnings go to stderr unless the caller takes them (pass () => {} to drop them). */
const toStderr: OnWarning = (message) => void process.stderr.write(`${message}\n`);

/**
 * Checks a parsed config.json, or a Spec object given to the library; returns it (unknown fields
 * kept) typed as Spec. `source` names it in errors and warnings (`hako: SOURCE: PATH: problem`).
 */
export function validateConfig(value: unknown, onWarning: OnWarning = toStderr, source = 'config.json'): Spec {
  const ctx: Context = { warn: (path, message) => onWarning(`hako: ${source}: ${path}: ${message}`) };
  try {
    return spec(value, '', ctx);
  } catch (e) {
    if (e instanceof ConfigError && source !== 'config.json') throw new ConfigError(e.path, e.problem, source);
    throw e;
  }
}

/** Checks a process object (as exec takes it) as config.json's process is checked. */
export function validateProcess(value: unknown, source: string, onWarning: OnWarning = toStderr): Process {
  const ctx: Context = { warn: (path, message) => onWarning(`hako: ${source}: ${path}: ${message}`) };
  try {
    return processCheck(value, 'process', ctx);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.path, e.problem, source);
    throw e;
  }
}

/** Parses and checks the text of a config.json. */
export function parseConfig(text: string, onWarning?: OnWarning): Spec {
  const deep = jsonTooDeep(text);
  if (deep >= 0) {
    const { line, column } = positionOf(text, deep);
    throw new ConfigError('', `nests deeper than ${MAX_JSON_DEPTH} levels (at line ${line} column ${column})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message
      .replace(/, ".*" is not valid JSON$/s, '')
      .replace(/ at position \d+.*$/s, '')
      .replace(/ in JSON$/, '');
    const { line, column } = jsonErrorPosition(text);
    throw new ConfigError('', `not valid JSON: ${reason} at line ${line} column ${column}`);
  }
  return validateConfig(value, onWarning);
}
