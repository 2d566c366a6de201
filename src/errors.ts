// Errors meant for people: one line, what went wrong and where, never a stack trace.

export class HakoError extends Error {
  /** The exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'HakoError';
    this.exitCode = exitCode;
  }
}

/** A failure the helper reported: which stage, which operation, on what, and the errno. */
export interface HelperFailure {
  stage: string;
  op: string;
  path?: string;
  errno: number;
  errname: string;
  message: string;
  /** Index of the op in its list (ns or init), when an op failed. */
  index?: number;
}

export class HelperError extends HakoError {
  readonly failure: HelperFailure;
  constructor(message: string, failure: HelperFailure, exitCode = 1) {
    super(message, exitCode);
    this.name = 'HelperError';
    this.failure = failure;
  }
}
