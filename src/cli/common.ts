// What every toolkit verb shares: the command's exit code and passing signals on.
import { fstatSync, readFileSync } from 'node:fs';
import type { NamespaceType } from '../linux/namespaces.js';

let stdinReader = (): Promise<Buffer> => Promise.resolve(readFileSync(0));

/** Whether fd 0 holds data to read (a pipe, a file or a socket), not a terminal or /dev/null. */
export function ownStdinHasData(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

let stdinData = ownStdinHasData;

/** Whether hako's stdin holds data to read (`hako sandbox run` passes it on then); under hako
 * serve, the front's. */
export function stdinHasData(): boolean {
  return stdinData();
}

/** All of hako's stdin (update --resources -): read here, or, under hako serve, by the front. */
export function readStdin(): Promise<Buffer> {
  return stdinReader();
}

/** Where readStdin reads from (src/cli/serve.ts: the caller's stdin, through the front). */
export function useStdinReader(fn: () => Promise<Buffer>, hasData: () => boolean = ownStdinHasData): void {
  stdinReader = fn;
  stdinData = hasData;
}

let endNow = false;

/** The command left nothing to finish in this process (a foreground run whose container is
 * removed already): the CLI's own process exits as soon as it has returned (src/cli/main.ts). */
export function endAtOnce(): void {
  endNow = true;
}

export function endsAtOnce(): boolean {
  return endNow;
}

let skippedCaFile: string | undefined;

/** The NODE_EXTRA_CA_CERTS file this Node was started without (bin/hako moves the variable aside:
 * src/cli/main.ts), or undefined. Only a TLS connection needs it: `image pull`. */
export function caFileNodeSkipped(): string | undefined {
  return skippedCaFile;
}

export function noteSkippedCaFile(file: string | undefined): void {
  skippedCaFile = file;
}

/** util-linux's namespace options, shared by unshare and nsenter: long name, short, type. */
export const NS_OPTIONS: Array<[string, string, NamespaceType]> = [
  ['uts', 'u', 'uts'], ['ipc', 'i', 'ipc'], ['pid', 'p', 'pid'], ['mount', 'm', 'mnt'],
  ['net', 'n', 'net'], ['user', 'U', 'user'], ['cgroup', 'C', 'cgroup'], ['time', 'T', 'time'],
];

/** Signals that reach the command through hako. With a terminal, SIGINT and SIGQUIT come from it
 * to the whole foreground group, the command included, so hako does not send them twice. */
export function signalsToForward(): NodeJS.Signals[] {
  const always: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'];
  return process.stdin.isTTY ? always : [...always, 'SIGINT', 'SIGQUIT'];
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
