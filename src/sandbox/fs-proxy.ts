// SandboxFiles's steps (files.ts's SandboxFs) done by a process in a rootless sandbox's user
// namespace: fuse-overlayfs, run as root there, mounts with allow_other, and the kernel then
// answers only processes in that user namespace (or below it), never this process. The proxy is a
// Node process started through nsenter(1) into the keeper's user namespace (not its mount
// namespace: paths are the host's /proc/KEEPER/root/... as this process's), one request at a time,
// a JSON line each way. It ends when its stdin closes (stop(), or this process gone).
import { spawn, type ChildProcess } from 'node:child_process';
import { HakoError } from '../errors.js';
import type { SandboxFs } from './files.js';

// plain JavaScript run by `node -e`: nothing of hako's modules
const PROGRAM = `'use strict';
const fs = require('node:fs'); const c = fs.constants;
const kind = (st) => st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
const coded = (code) => Object.assign(new Error(code), { code });
function handle(m) {
  switch (m.op) {
    case 'lstat': { const st = fs.lstatSync(m.path); return { kind: kind(st), mode: st.mode }; }
    case 'mkdir': fs.mkdirSync(m.path, { mode: m.mode }); return {};
    case 'readdir': return { names: fs.readdirSync(m.path) };
    case 'readFile': {
      const fd = fs.openSync(m.path, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK);
      try {
        const st = fs.fstatSync(fd);
        if (!st.isFile()) throw coded('ENOTREG');
        if (st.size > m.max) throw coded('EFBIG');
        return { data: fs.readFileSync(fd).toString('base64') };
      } finally { fs.closeSync(fd); }
    }
    case 'writeFile': {
      const fd = fs.openSync(m.path, c.O_WRONLY | c.O_CREAT | c.O_NOFOLLOW | c.O_NONBLOCK, m.mode);
      try {
        if (!fs.fstatSync(fd).isFile()) throw coded('ENOTREG');
        fs.ftruncateSync(fd, 0);
        fs.writeFileSync(fd, Buffer.from(m.data, 'base64'));
        fs.fchmodSync(fd, m.mode);
        return {};
      } finally { fs.closeSync(fd); }
    }
    case 'symlink': fs.symlinkSync(m.target, m.path); return {};
    default: throw coded('EINVAL');
  }
}
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    let r;
    try { r = handle(JSON.parse(line)); } catch (e) { r = { error: e.code || String(e) }; }
    process.stdout.write(JSON.stringify(r) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

interface Reply { error?: string; kind?: 'dir' | 'file' | 'link' | 'other'; mode?: number; names?: string[]; data?: string }

export class FsProxy implements SandboxFs {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting: ((r: Reply | undefined) => void) | undefined;
  private buf = '';
  private stderr = '';

  constructor(private readonly keeperPid: number) {}

  private start(): ChildProcess {
    if (this.child) return this.child;
    const c = spawn('nsenter', ['--user', '--preserve-credentials', '-t', String(this.keeperPid), '--', process.execPath, '-e', PROGRAM],
      { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    this.child = c;
    this.exited = new Promise((resolve) => { c.on('exit', () => { this.waiting?.(undefined); resolve(); }); c.on('error', () => { this.waiting?.(undefined); resolve(); }); });
    c.stdout?.setEncoding('utf8');
    c.stdout?.on('data', (d: string) => {
      this.buf += d;
      const i = this.buf.indexOf('\n');
      if (i < 0) return;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const w = this.waiting;
      this.waiting = undefined;
      w?.(JSON.parse(line) as Reply);
    });
    c.stderr?.on('data', (d: Buffer) => { if (this.stderr.length < 4096) this.stderr += d.toString(); });
    c.stdin?.on('error', () => undefined);
    for (const s of [c.stdin, c.stdout, c.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    c.unref();
    return c;
  }

  private hold(c: ChildProcess, on: boolean): void {
    for (const h of [c, c.stdout] as unknown as ({ ref?: () => void; unref?: () => void } | null)[]) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }

  private call(m: Record<string, unknown>): Promise<Reply> {
    const next = this.queue.then(() => new Promise<Reply>((resolve, reject) => {
      const c = this.start();
      // held while a request is out (a proxy that is only there never keeps this process alive)
      this.hold(c, true);
      this.waiting = (r) => {
        this.hold(c, false);
        if (!r) {
          reject(new HakoError(`hako: sandbox: the file proxy in the sandbox's user namespace (nsenter(1), util-linux) ended${this.stderr.trim() ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`, { code: 'io' }));
        } else if (r.error) reject(Object.assign(new Error(r.error), { code: r.error }));
        else resolve(r);
      };
      c.stdin?.write(`${JSON.stringify(m)}\n`);
    }));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async lstat(path: string): Promise<{ kind: 'dir' | 'file' | 'link' | 'other'; mode: number }> {
    const r = await this.call({ op: 'lstat', path });
    return { kind: r.kind!, mode: r.mode! };
  }
  async mkdir(path: string, mode: number): Promise<void> { await this.call({ op: 'mkdir', path, mode }); }
  async readdir(path: string): Promise<string[]> { return (await this.call({ op: 'readdir', path })).names!; }
  async readFile(path: string, max: number): Promise<Buffer> { return Buffer.from((await this.call({ op: 'readFile', path, max })).data!, 'base64'); }
  async writeFile(path: string, data: Buffer, mode: number): Promise<void> { await this.call({ op: 'writeFile', path, mode, data: data.toString('base64') }); }
  async symlink(target: string, path: string): Promise<void> { await this.call({ op: 'symlink', target, path }); }

  /** Ends the proxy (its stdin closed; killed if it does not go). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c) return;
    c.stdin?.end();
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => { t = setTimeout(r, 2000); })]);
    clearTimeout(t);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await this.exited;
  }
}
