// Errors meant for people: one line, what went wrong and where, never a stack trace. Each carries
// a stable `code` (docs/errors.md) so that programs can tell failures apart without reading text.

/**
 * What kind of failure a HakoError is; stable across releases (docs/errors.md lists them).
 * - `bad-option`: a library option, CLI flag or argument is wrong (unknown name, wrong type, out of range).
 * - `bad-config`: the container's config (config.json, a Spec object or an override) is invalid or asks
 *   for something that cannot be done as given.
 * - `not-found`: no such container, process, user or file.
 * - `exists`: a container with that id exists already.
 * - `not-running`: the container has stopped (or never ran), and the call needs it alive.
 * - `bad-state`: the container is alive but in a state that does not allow the call (start of a
 *   running one, delete of a running one without force, resume of one not paused).
 * - `locked`: another hako command is working on the container.
 * - `permission`: hako lacks a privilege it needs (root, CAP_SYS_ADMIN, a file's permissions).
 * - `unsupported`: hako, or this host, does not support what was asked (yet).
 * - `helper`: the helper reported a failed operation (the kernel refused it): see HelperError.failure.
 * - `exec`: the command could not be executed (not found: exit code 127, not executable: 126).
 * - `cgroup`: reading or writing the container's cgroup failed.
 * - `hook`: an OCI hook failed or timed out.
 * - `io`: reading or writing hako's own files failed (state, lock, pid file).
 * - `timeout`: an operation did not finish within its time limit.
 * - `aborted`: the caller aborted the operation (AbortSignal), or a server command's caller was killed before its claim.
 * - `oom`: the container's init was OOM-killed before it ran the process (memory limit too low).
 * - `network`: a CNI plugin failed to attach, check or detach a network namespace (ADD, CHECK, DEL).
 * - `image`: an image could not be imported, pulled or unpacked (a bad archive, a digest that does not match,
 *   a layer that would write outside its directory, a registry's refusal).
 * - `error`: none of the above.
 */
export type ErrorCode =
  | 'bad-option' | 'bad-config' | 'not-found' | 'exists' | 'not-running' | 'bad-state' | 'locked'
  | 'permission' | 'unsupported' | 'helper' | 'exec' | 'cgroup' | 'hook' | 'io' | 'timeout' | 'aborted'
  | 'oom' | 'network' | 'image' | 'error';

/** Every ErrorCode, for callers that check a code they received. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'bad-option', 'bad-config', 'not-found', 'exists', 'not-running', 'bad-state', 'locked', 'permission',
  'unsupported', 'helper', 'exec', 'cgroup', 'hook', 'io', 'timeout', 'aborted', 'oom', 'network', 'image', 'error',
];

/** The second argument of HakoError as an object. */
export interface HakoErrorOptions {
  /** The exit code the CLI uses (default 1). */
  exitCode?: number;
  /** The kind of failure (default 'error'). */
  code?: ErrorCode;
}

export class HakoError extends Error {
  /** The exit code the CLI uses for this error. */
  readonly exitCode: number;
  /** The kind of failure, stable across releases (docs/errors.md). */
  readonly code: ErrorCode;
  /** `new HakoError(message, exitCode?, code?)` or `new HakoError(message, { exitCode?, code? })`. */
  constructor(message: string, exitCode: number | HakoErrorOptions = 1, code?: ErrorCode) {
    super(message);
    this.name = 'HakoError';
    const o = typeof exitCode === 'number' ? { exitCode, code } : exitCode;
    this.exitCode = o.exitCode ?? 1;
    this.code = o.code ?? 'error';
  }
}

/** A failure the helper reported: which stage, which operation, on what, and the errno. */
export interface HelperFailure {
  /** Where it failed: 'host' (the helper before it forks), 'ns' (namespace setup) or 'init' (the container's init). */
  stage: string;
  /** The operation, e.g. 'mount' or 'execve'. */
  op: string;
  /** The path it acted on, when there is one. */
  path?: string;
  /** The errno value. */
  errno: number;
  /** The errno's name, e.g. 'EPERM'. */
  errname: string;
  /** strerror's text. */
  message: string;
  /** Index of the op in its list (ns or init), when an op failed. */
  index?: number;
  /** The exit status the helper gives the failure (a failed execve: 127 not found, 126 otherwise;
   * the helper decides it, docs/PROTOCOL.md). */
  status?: number;
}

/** A failure the helper reported (code 'helper', or 'exec' when the command could not be executed). */
export class HelperError extends HakoError {
  /** What failed, as the helper reported it. */
  readonly failure: HelperFailure;
  constructor(message: string, failure: HelperFailure, exitCode = 1, code: ErrorCode = 'helper') {
    super(message, exitCode, code);
    this.name = 'HelperError';
    this.failure = failure;
  }
}

/** A library option that is not what the call accepts (code 'bad-option'). */
export class OptionError extends HakoError {
  /** The option's path, e.g. options.namespaces[0]. */
  readonly path: string;
  constructor(call: string, path: string, problem: string) {
    super(`hako: ${call}: ${path}: ${problem}`, 1, 'bad-option');
    this.name = 'OptionError';
    this.path = path;
  }
}
