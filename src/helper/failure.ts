// A helper failure as one line for people: what hako was doing (the op's description), where,
// and the errno, with the exit code and the stable code for programs.
import { HelperError, type HelperFailure } from '../errors.js';
import type { PlanBuilder } from './plan-builder.js';

const hints: Record<string, string> = {
  EPERM: 'permission denied by the kernel',
  EACCES: 'permission denied',
  EINVAL: 'the kernel rejected the arguments',
};

/** One line for a helper failure: what hako was doing, where, and the errno. */
export function failureError(verb: string, builder: PlanBuilder, failure: HelperFailure): HelperError {
  // the command a container made ahead of time got late: its directory is known only now
  const late = failure.op === 'exec-wait' && failure.path ? `chdir(${JSON.stringify(failure.path)}) for the command hako sent` : undefined;
  const what = late ?? builder.describe(failure.stage, failure.index) ?? `${failure.op}${failure.path ? ` ${failure.path}` : ''}`;
  if (failure.op === 'execve') {
    const cmd = failure.path ?? 'command';
    // 127 or 126: the helper's own exit status for a failed execve (decided in one place, in C)
    const code = failure.status === 127 || failure.status === 126 ? failure.status : 126;
    const reason = code === 127 ? 'command not found' : `cannot execute (${failure.message.toLowerCase()})`;
    return new HelperError(`hako: ${verb}: ${cmd}: ${reason}`, failure, code, 'exec');
  }
  const errno = failure.errname ? ` (${failure.errname})` : '';
  const reason = failure.message || hints[failure.errname] || 'failed';
  // the lookup of the program before the exec (find-exec) is a failed exec too
  return new HelperError(`hako: ${verb}: ${what}: ${reason}${errno}`, failure, 1, failure.op === 'find-exec' ? 'exec' : 'helper');
}
