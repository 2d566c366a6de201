// OCI hooks run by the runtime itself (prestart, createRuntime, poststart, poststop):
// the state JSON on stdin, the hook's own args and env, and its timeout.
import { spawn } from 'node:child_process';
import { HakoError } from '../errors.js';
import type { Hook } from '../config/types.js';

export async function runHook(kind: string, hook: Hook, state: object): Promise<void> {
  const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
  const env = Object.fromEntries((hook.env ?? []).map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
  }));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(hook.path, args, { argv0, env, stdio: ['pipe', 'ignore', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (hook.timeout) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new HakoError(`hako: ${kind} hook ${hook.path}: timed out after ${hook.timeout} s`, { code: 'timeout' }));
      }, hook.timeout * 1000);
    }
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new HakoError(`hako: ${kind} hook ${hook.path}: ${e.message}`, { code: 'hook' }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const why = signal ? `killed by ${signal}` : `exited with status ${code}`;
      const text = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop() ?? '';
      reject(new HakoError(`hako: ${kind} hook ${hook.path}: ${why}${text ? `: ${text}` : ''}`, { code: 'hook' }));
    });
    child.stdin.on('error', () => { /* the hook need not read its stdin */ });
    child.stdin.end(JSON.stringify(state));
  });
}

/** Runs hooks in order; the first failure stops them (prestart, createRuntime). */
export async function runHooks(kind: string, hooks: Hook[] | undefined, state: object): Promise<void> {
  for (const hook of hooks ?? []) await runHook(kind, hook, state);
}

/** Runs every hook; failures are warnings (poststart, poststop). */
export async function runHooksWarn(kind: string, hooks: Hook[] | undefined, state: object, warn: (msg: string) => void): Promise<void> {
  for (const hook of hooks ?? []) {
    try {
      await runHook(kind, hook, state);
    } catch (e) {
      warn(e instanceof Error ? e.message : String(e));
    }
  }
}
