// A live handle on one command, as child_process.spawn gives: its pid as soon as it exists, its
// piped stdio as Node streams, kill(), and a promise of the result the promise APIs resolve with.
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { HelperSession } from './session.js';

/**
 * A command that runs (Runtime.spawn, Runtime.execSpawn, unshareSpawn, nsenterSpawn).
 *
 * - `pid`: the command's host pid (a container's init for Runtime.spawn) once it exists, else
 *   undefined; `spawned` resolves with it and the 'spawn' event carries it.
 * - `stdin`, `stdout`, `stderr`: Node streams for the stdio entries that are 'pipe', else null
 *   (set when the call returns, before the process exists). With the `input` option stdin is
 *   written and closed for you.
 * - `kill(signal = 'SIGTERM')`: signals the command (a signal sent before it exists is sent once
 *   it does); false once it has exited.
 * - `result`: the promise API's result (resolves when the command has exited) or its error.
 *   Read stdout and stderr to their end for all the output: `result` does not wait for them.
 */
export class HakoProcess<R> extends EventEmitter {
  pid: number | undefined = undefined;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  readonly spawned: Promise<number>;
  readonly result: Promise<R>;
  private session?: HelperSession;
  private queued: Array<NodeJS.Signals | number> = [];
  private done = false;

  /** @internal run(attach) starts the command and calls attach with its session at once. */
  constructor(run: (attach: (session: HelperSession) => void) => Promise<R>) {
    super();
    let spawnedOk!: (pid: number) => void;
    let spawnedFail!: (e: unknown) => void;
    this.spawned = new Promise<number>((resolve, reject) => { spawnedOk = resolve; spawnedFail = reject; });
    this.spawned.catch(() => { /* result carries the error */ });
    const attach = (session: HelperSession) => {
      this.session = session;
      const { stdin, stdout, stderr } = session.stdio;
      this.stdin = stdin as Writable | null;
      this.stdout = stdout as Readable | null;
      this.stderr = stderr as Readable | null;
      session.onSpawn((pid) => {
        this.pid = pid;
        spawnedOk(pid);
        this.emit('spawn', pid);
      });
      for (const s of this.queued.splice(0)) session.kill(s);
    };
    let p: Promise<R>;
    try {
      p = run(attach);
    } catch (e) {
      p = Promise.reject(e);
    }
    this.result = p.finally(() => {
      this.done = true;
      spawnedFail(new Error('hako: the command never started'));
    });
  }

  /** Sends a signal to the command; false when it has already exited. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.done) return false;
    if (!this.session) {
      this.queued.push(signal);
      return true;
    }
    return this.session.kill(signal);
  }
}

/** stdio with stdin piped when input is given: input overrides stdio[0] (as execSync's). */
export function stdioWithInput<T>(stdio: T | undefined, input: unknown): T | Array<unknown> | undefined {
  if (input === undefined) return stdio;
  const list: unknown[] = stdio === undefined ? ['pipe', 'inherit', 'inherit'] : typeof stdio === 'string' ? [stdio, stdio, stdio] : [...(stdio as unknown as unknown[])];
  list[0] = 'pipe';
  return list;
}
