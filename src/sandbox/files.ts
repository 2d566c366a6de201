// A sandbox's files from the host side, without ever following a symbolic link the sandbox made
// (Judge0's CVE-2024-28185/28189: a root worker followed one out of the sandbox). Each path is
// walked one component at a time from the sandbox's root with lstat: a symbolic link anywhere is
// refused (as openat2's RESOLVE_NO_SYMLINKS), and the last component is opened with O_NOFOLLOW.
// The walk is race-free because nothing of the sandbox runs while it happens: file operations
// are refused while a run is in progress (each run's processes all end with it).
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, symlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { HakoError } from '../errors.js';

const MAX_READ = 1 << 30;

export class SandboxFiles {
  constructor(private readonly rootOf: () => string, private readonly busy: () => boolean) {}

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
        st = await lstat(at);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !make) throw this.err(verb, path, e);
        try { await mkdir(at, { mode: 0o755 }); } catch (e2) { throw this.err(verb, path, e2); }
        continue;
      }
      if (st.isSymbolicLink()) throw new HakoError(`hako: sandbox: ${verb} ${path}: ${'/' + parts.slice(0, parts.indexOf(p) + 1).join('/')} is a symbolic link: not followed`, { code: 'permission' });
      if (!st.isDirectory()) throw new HakoError(`hako: sandbox: ${verb} ${path}: ${p} is not a directory`, { code: 'not-found' });
    }
    return at;
  }

  private err(verb: string, path: string, e: unknown): HakoError {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    if (code === 'ELOOP') return new HakoError(`hako: sandbox: ${verb} ${path}: a symbolic link: not followed`, { code: 'permission' });
    return new HakoError(`hako: sandbox: ${verb} ${path}: ${code}`, { code: code === 'ENOENT' ? 'not-found' : 'io' });
  }

  private async openIn(path: string, verb: string, flags: number, mode = 0o644, make = false): Promise<FileHandle> {
    const parts = this.parts(path, verb);
    if (parts.length === 0) throw new HakoError(`hako: sandbox: ${verb} ${path}: not a file`, { code: 'bad-option' });
    const dir = await this.parent(parts, path, verb, make);
    const name = parts[parts.length - 1] as string;
    try {
      return await open(join(dir, name), flags | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, mode);
    } catch (e) {
      throw this.err(verb, path, e);
    }
  }

  async readFile(path: string, verb = 'readFile'): Promise<Buffer> {
    const fh = await this.openIn(path, verb, fsc.O_RDONLY);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new HakoError(`hako: sandbox: ${verb} ${path}: not a regular file`, { code: 'bad-option' });
      if (st.size > MAX_READ) throw new HakoError(`hako: sandbox: ${verb} ${path}: larger than ${MAX_READ} bytes`, { code: 'bad-option' });
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  async writeFile(path: string, data: string | Buffer, mode = 0o644, verb = 'writeFile'): Promise<void> {
    const fh = await this.openIn(path, verb, fsc.O_WRONLY | fsc.O_CREAT, mode, true);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new HakoError(`hako: sandbox: ${verb} ${path}: not a regular file`, { code: 'bad-option' });
      await fh.truncate(0);
      await fh.writeFile(data);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
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
      try { await symlink(await readlink(hostPath), join(dir, parts[parts.length - 1] as string)); } catch (e) { throw this.err('copyIn', path, e); }
    }
  }

  async copyOut(path: string, hostPath: string): Promise<void> {
    const parts = this.parts(path, 'copyOut');
    const dir = parts.length ? await this.parent(parts, path, 'copyOut', false) : this.root;
    const at = parts.length ? join(dir, parts[parts.length - 1] as string) : this.root;
    let st;
    try { st = await lstat(at); } catch (e) { throw this.err('copyOut', path, e); }
    if (st.isSymbolicLink()) throw new HakoError(`hako: sandbox: copyOut ${path}: a symbolic link: not followed`, { code: 'permission' });
    if (st.isDirectory()) {
      await mkdir(hostPath, { recursive: true });
      for (const e of await readdir(at)) await this.copyOut(posix.join(path, e), join(hostPath, e));
      return;
    }
    if (!st.isFile()) return; // devices, fifos, sockets: not copied
    const data = await this.readFile(path, 'copyOut');
    await writeFile(hostPath, data, { mode: st.mode & 0o777 });
  }
}
