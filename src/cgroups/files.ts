// Reading and writing cgroup files: one write() per value, errors that name the file and the errno.
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../errors.js';

/** A cgroup operation failed: which file (or directory), what was written, the errno. */
export class CgroupError extends HakoError {
  readonly path: string;
  readonly errno: string | undefined;
  constructor(message: string, path: string, errno?: string) {
    super(message);
    this.name = 'CgroupError';
    this.path = path;
    this.errno = errno;
  }
}

export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A refusal: the request is understood but cannot (or will not) be applied here. */
export function refuse(message: string): never {
  throw new HakoError(`hako: cgroup: ${message}`, { code: 'unsupported' });
}

const HINTS: Record<string, string> = {
  ENOENT: 'this kernel or this cgroup does not offer that file',
  EROFS: 'the cgroup filesystem is mounted read-only',
};

/** Write one value to a cgroup file with a single write(2), without O_CREAT. */
export function writeCgroupFile(dir: string, file: string, value: string, hint?: (errno: string | undefined) => string | undefined): void {
  const path = join(dir, file);
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY);
    writeSync(fd, value);
  } catch (err) {
    const errno = errnoOf(err);
    let extra: string | undefined;
    try {
      extra = hint?.(errno);
    } catch {
      extra = undefined;
    }
    extra ??= errno ? HINTS[errno] : undefined;
    throw new CgroupError(`hako: cgroup: ${file}: cannot set ${JSON.stringify(value).slice(1, -1)} (${errno ?? String(err)})${extra ? `: ${extra}` : ''} [${dir}]`, path, errno);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function readCgroupFile(dir: string, file: string): string {
  const path = join(dir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const errno = errnoOf(err);
    throw new CgroupError(`hako: cgroup: ${file}: cannot read (${errno ?? String(err)}) [${dir}]`, path, errno);
  }
}

/** The file's content, or undefined when it does not exist. Other errors are thrown. */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENODEV') return undefined;
    throw new CgroupError(`hako: cgroup: ${file}: cannot read (${errnoOf(err) ?? String(err)}) [${dir}]`, join(dir, file), errnoOf(err));
  }
}

export function hasFile(dir: string, file: string): boolean {
  return existsSync(join(dir, file));
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control) as a map. */
export function parseKeyed(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
  }
  return out;
}

/** PIDs listed in a cgroup.procs file (missing file: none). */
export function readProcs(dir: string): number[] {
  const text = readOptional(dir, 'cgroup.procs') ?? '';
  return text.split('\n').filter((l) => l.trim() !== '').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Child cgroups of dir (subdirectories), or none when dir is gone. */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** dir and every cgroup below it, parents before children. */
export function walkCgroups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out = [dir];
  for (let i = 0; i < out.length; i++) out.push(...childCgroups(out[i]!));
  return out;
}

/** rmdir dir and everything below it, leaf-first. Returns the errno of the first failure, if any. */
export function removeTree(dir: string): { failed?: string; errno?: string } {
  const all = walkCgroups(dir).reverse();
  for (const d of all) {
    try {
      rmdirSync(d);
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENOENT') continue;
      return { failed: d, errno: errno ?? String(err) };
    }
  }
  return {};
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Block the thread for ms milliseconds (the synchronous face of the managers: the CLI's). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** A bounded wait written once for both faces: it yields how many milliseconds to wait before
 * its next step. runSync blocks the thread between steps (the CLI), runAsync waits on a timer
 * (the library: the event loop runs meanwhile). */
export type Waits = Generator<number, void, void>;

export function runSync(steps: Waits): void {
  for (let r = steps.next(); !r.done; r = steps.next()) sleepMs(r.value);
}

export async function runAsync(steps: Waits): Promise<void> {
  for (let r = steps.next(); !r.done; r = steps.next()) {
    const ms = r.value;
    await new Promise<void>((done) => { setTimeout(done, ms); });
  }
}

/** An integer as the kernel wants it: no exponent, no fraction. */
export function int(n: number): string {
  return BigInt(Math.trunc(n)).toString();
}
