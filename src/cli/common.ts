// What every toolkit verb shares: the command's exit code and passing signals on.
import type { LaunchResult } from '../toolkit/launch.js';

/** Signals that reach the command through hako. With a terminal, SIGINT and SIGQUIT come from it
 * to the whole foreground group, the command included, so hako does not send them twice. */
export function signalsToForward(): NodeJS.Signals[] {
  const always: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'];
  return process.stdin.isTTY ? always : [...always, 'SIGINT', 'SIGQUIT'];
}

export function exitWith(result: LaunchResult): number {
  return result.exitCode;
}

export function idOrName(text: string, file: '/etc/passwd' | '/etc/group', readFile: (p: string) => string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  try {
    for (const line of readFile(file).split('\n')) {
      const [name, , id] = line.split(':');
      if (name === text && id) return Number(id);
    }
  } catch { /* unknown */ }
  return undefined;
}
