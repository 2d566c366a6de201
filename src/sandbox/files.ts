// A sandbox's files from the host side, without ever following a symbolic link the sandbox made
// (Judge0's CVE-2024-28185/28189: a root worker followed one out of the sandbox). Each path is
// walked one component at a time from the sandbox's root with lstat: a symbolic link anywhere is
// refused (as openat2's RESOLVE_NO_SYMLINKS), and the last component is opened with O_NOFOLLOW.
// The walk is race-free because nothing of the sandbox runs while it happens: file operations
// are refused while a run is in progress (each run's processes all end with it).
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { HakoError } from '../errors.js';

const MAX_READ = 1 << 30;

/** What SandboxFiles does to the sandbox's tree: node:fs in this process (LOCAL_FS), or the same
 * steps in a process in the sandbox's user namespace (a fuse-overlayfs mount with allow_other
 * answers only processes there: fs-proxy.ts). Errors carry the errno code (e.code), or
 * 'ENOTREG' (not a regular file) and 'EFBIG' (larger than MAX_READ). */
export interface SandboxFs {
  lstat(path: string): Promise<{ kind: 'dir' | 'file' | 'link' | 'other'; mode: number }>;
  mkdir(path: string, mode: number): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** The regular file at path (never followed if a symbolic link: O_NOFOLLOW), up to max bytes. */
  readFile(path: string, max: number): Promise<Buffer>;
  /** Writes (O_NOFOLLOW, created with mode if absent) and chmods a regular file. */
  writeFile(path: string, data: Buffer, mode: number): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
}

const coded = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

export const LOCAL_FS: SandboxFs = {
  async lstat(p) {
    const st = await lstat(p);
    return { kind: st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other', mode: st.mode };
  },
  async mkdir(p, mode) { await mkdir(p, { mode }); },
  async readdir(p) { return readdir(p); },
  async readFile(p, max) {
    const fh = await open(p, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw coded('ENOTREG');
      if (st.size > max) throw coded('EFBIG');
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  },
  async writeFile(p, data, mode) {
    const fh = await open(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, mode);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw coded('ENOTREG');
      await fh.truncate(0);
      await fh.writeFile(data);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  },
  async symlink(target, p) { await symlink(target, p); },
};

export class SandboxFiles {
  constructor(private readonly rootOf: () => string, private readonly busy: () => boolean, private readonly fsOf: () => SandboxFs = () => LOCAL_FS) {}

  private get fs(): SandboxFs { return this.fsOf(); }

  private get root(): string { return this.rootOf(); }

  private parts(path: string, verb: string): string[] {
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0')) throw new HakoError(`hako: sandbox: ${verb}: ${JSON.stringify(path)}: an absolute path inside the sandbox`, { code: 'bad-option' });
    if (this.busy()) throw new HakoError(`hako: sandbox: ${verb} ${path}: not while a run is in progress`, { code: 'bad-state' });
    const parts = posix.normalize(path).split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw new HakoError(`hako: sandbox: ${verb}: ${path}: '..' is not allowed`, { code: 'bad-option' });
    return parts;
  }

  /** The host path of `parts`' parent directory, every component checked (made when `make`). */
  private async parent(parts: string[], path: string, verb: string, make: boolean): Promise<string> {
    let at = this.root;
    for (const p of parts.slice(0, -1)) {
      at = join(at, p);
      let st;
      try {
        st = await this.fs.lstat(at);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !make) throw this.err(verb, path, e);
        try { await this.fs.mkdir(at, 0o755); } catch (e2) { throw this.err(verb, path, e2); }
        continue;
      }
      if (st.kind === 'link') throw new HakoError(`hako: sandbox: ${verb} ${path}: ${'/' + parts.slice(0, parts.indexOf(p) + 1).join('/')} is a symbolic link: not followed`, { code: 'permission' });
      if (st.kind !== 'dir') throw new HakoError(`hako: sandbox: ${verb} ${path}: ${p} is not a directory`, { code: 'not-found' });
    }
    return at;
  }

  private err(verb: string, path: string, e: unknown): HakoError {
    if (e instanceof HakoError) return e;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    if (code === 'ELOOP') return new HakoError(`hako: sandbox: ${verb} ${path}: a symbolic link: not followed`, { code: 'permission' });
    if (code === 'ENOTREG') return new HakoError(`hako: sandbox: ${verb} ${path}: not a regular file`, { code: 'bad-option' });
    if (code === 'EFBIG') return new HakoError(`hako: sandbox: ${verb} ${path}: larger than ${MAX_READ} bytes`, { code: 'bad-option' });
    return new HakoError(`hako: sandbox: ${verb} ${path}: ${code}`, { code: code === 'ENOENT' ? 'not-found' : 'io' });
  }

  /** The host path of the file `path` names (its parent directories checked, made when `make`). */
  private async fileIn(path: string, verb: string, make = false): Promise<string> {
    const parts = this.parts(path, verb);
    if (parts.length === 0) throw new HakoError(`hako: sandbox: ${verb} ${path}: not a file`, { code: 'bad-option' });
    const dir = await this.parent(parts, path, verb, make);
    return join(dir, parts[parts.length - 1] as string);
  }

  async readFile(path: string, verb = 'readFile'): Promise<Buffer> {
    const at = await this.fileIn(path, verb);
    try { return await this.fs.readFile(at, MAX_READ); } catch (e) { throw this.err(verb, path, e); }
  }

  async writeFile(path: string, data: string | Buffer, mode = 0o644, verb = 'writeFile'): Promise<void> {
    const at = await this.fileIn(path, verb, true);
    try { await this.fs.writeFile(at, typeof data === 'string' ? Buffer.from(data) : data, mode); } catch (e) { throw this.err(verb, path, e); }
  }

  async copyIn(hostPath: string, path: string): Promise<void> {
    const st = await lstat(hostPath).catch((e) => { throw new HakoError(`hako: sandbox: copyIn: ${hostPath}: ${(e as NodeJS.ErrnoException).code}`, { code: 'not-found' }); });
    if (st.isDirectory()) {
      const parts = this.parts(path, 'copyIn');
      const dir = await this.parent([...parts, 'x'], path, 'copyIn', true);
      void dir;
      for (const e of await readdir(hostPath, { withFileTypes: true })) {
        await this.copyIn(join(hostPath, e.name), posix.join(path, e.name));
      }
    } else if (st.isFile()) {
      await this.writeFile(path, await readFile(hostPath), st.mode & 0o7777, 'copyIn');
    } else if (st.isSymbolicLink()) {
      const parts = this.parts(path, 'copyIn');
      const dir = await this.parent(parts, path, 'copyIn', true);
      try { await this.fs.symlink(await readlink(hostPath), join(dir, parts[parts.length - 1] as string)); } catch (e) { throw this.err('copyIn', path, e); }
    }
  }

  async copyOut(path: string, hostPath: string): Promise<void> {
    const parts = this.parts(path, 'copyOut');
    const dir = parts.length ? await this.parent(parts, path, 'copyOut', false) : this.root;
    const at = parts.length ? join(dir, parts[parts.length - 1] as string) : this.root;
    let st;
    try { st = await this.fs.lstat(at); } catch (e) { throw this.err('copyOut', path, e); }
    if (st.kind === 'link') throw new HakoError(`hako: sandbox: copyOut ${path}: a symbolic link: not followed`, { code: 'permission' });
    if (st.kind === 'dir') {
      await mkdir(hostPath, { recursive: true });
      let names;
      try { names = await this.fs.readdir(at); } catch (e) { throw this.err('copyOut', path, e); }
      for (const e of names) await this.copyOut(posix.join(path, e), join(hostPath, e));
      return;
    }
    if (st.kind !== 'file') return; // devices, fifos, sockets: not copied
    const data = await this.readFile(path, 'copyOut');
    await writeFile(hostPath, data, { mode: st.mode & 0o777 });
  }
}
