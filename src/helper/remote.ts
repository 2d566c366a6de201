// The server's side of bin/hako's native front (native/front.c, docs/SERVER.md): one connection
// per command. The front sends the command (HELLO); the server answers with the command's output
// (OUT), the helpers to spawn (SPAWN: the front forks them, so they are the caller's descendants)
// and their sockets' bytes (DATA, EOF), and at last the exit status (EXIT).
import { EventEmitter } from 'node:events';
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { Duplex } from 'node:stream';
import { encodeFrame, type Field, Fields, FrameReader, type Frame, Tag } from './protocol.js';
import { exitSignalName, killSignalNumber } from '../linux/signals.js';

export const FrontMessage = {
  HELLO: 64, REFUSE: 65, OUT: 66, SPAWN: 67, SPAWNED: 68, DATA: 69, EOF: 70, KILL: 71,
  CHILD_EXIT: 72, SIGNAL: 73, EXIT: 74, STDIN: 75, AHEAD: 76,
} as const;

/** Bumped whenever the frames above change: a front of another number is refused. */
export const FRONT_PROTOCOL = 2;

/** Most bytes of output one OUT or DATA frame carries. */
const CHUNK = 256 * 1024;

/** A stdio slot of a spawned helper: the front's own fd (inherit), /dev/null, or a relayed socket. */
export type SlotSpec = 'inherit' | 'ignore' | 'pipe';

export interface Hello {
  protocol: number;
  /** The CLI bundle the front belongs to (dev:ino:size:mtime of dist/cli/hako.cjs). */
  identity: string;
  /** The front's namespaces (user:INODE,mnt:INODE,...). */
  namespaces: string;
  cwd: string;
  umask: number;
  pid: number;
  ttys: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** The front's fd 0 holds data to read: a pipe, a file or a socket. */
  stdinData: boolean;
  argv: string[];
  env: Record<string, string>;
}

export function decodeHello(payload: Buffer): Hello {
  const f = Fields.decode(payload);
  const flags = f.int(Tag.FLAGS) ?? 0;
  const env: Record<string, string> = {};
  const argv: string[] = [];
  for (const e of f.entries) {
    if (e.tag === Tag.ARG) argv.push(e.raw.toString('utf8'));
    if (e.tag === Tag.ENV) {
      const text = e.raw.toString('utf8');
      const eq = text.indexOf('=');
      if (eq > 0 && !(text.slice(0, eq) in env)) env[text.slice(0, eq)] = text.slice(eq + 1);
    }
  }
  return {
    protocol: f.int(Tag.VALUE) ?? 0, identity: f.str(Tag.NAME) ?? '', namespaces: f.str(Tag.DETAIL) ?? '',
    cwd: f.str(Tag.PATH) ?? '/', umask: f.int(Tag.MODE) ?? 0o022, pid: f.int(Tag.PID) ?? 0,
    ttys: { stdin: (flags & 1) !== 0, stdout: (flags & 2) !== 0, stderr: (flags & 4) !== 0 }, stdinData: (flags & 8) !== 0, argv, env,
  };
}


/** One relayed socket of a spawned helper, as the socket node's spawn would give. */
export class Channel extends Duplex {
  private refd = true;
  private open = true;

  constructor(private readonly conn: FrontConnection, readonly id: number) {
    // as node's sockets to a child: the read side's end ends the write side, then 'close'
    super({ allowHalfOpen: false });
    this.once('end', () => this.settle());
    this.once('finish', () => this.settle());
  }

  override _read(): void { /* pushed as DATA comes */ }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    for (let at = 0; at < chunk.length; at += CHUNK) {
      this.conn.send(FrontMessage.DATA, [{ tag: Tag.ID, value: this.id }, { tag: Tag.DATA, value: chunk.subarray(at, at + CHUNK) }]);
    }
    done();
  }

  override _final(done: (e?: Error | null) => void): void {
    this.conn.send(FrontMessage.EOF, [{ tag: Tag.ID, value: this.id }]);
    done();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    if (!this.writableFinished) this.conn.send(FrontMessage.EOF, [{ tag: Tag.ID, value: this.id }]);
    this.closeNow();
    done(err);
  }

  /** DATA from the front. */
  received(data: Buffer): void {
    if (!this.destroyed && !this.readableEnded) this.push(data);
  }

  /** EOF from the front. */
  ended(): void {
    if (!this.destroyed) this.push(null);
  }

  /** As Socket.ref/unref: only a referenced channel keeps the command running. */
  ref(): this { if (!this.refd) { this.refd = true; this.conn.hold(+1); } return this; }
  unref(): this { if (this.refd) { this.refd = false; this.conn.hold(-1); } return this; }

  private settle(): void {
    if ((this.readableEnded || this.destroyed) && (this.writableFinished || this.destroyed)) this.closeNow();
  }

  private closeNow(): void {
    if (!this.open) return;
    this.open = false;
    if (this.refd) this.conn.hold(-1);
    this.conn.channels.delete(this.id);
  }

  /** Counted by the connection from the start (a new channel is referenced). */
  static opened(conn: FrontConnection, id: number): Channel {
    const c = new Channel(conn, id);
    conn.hold(+1);
    conn.channels.set(id, c);
    return c;
  }
}

/** A helper the front spawned for the server: what HelperSession uses of a ChildProcess. */
export class RemoteChild extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdio: Array<Channel | null>;
  readonly stdin: Channel | null;
  readonly stdout: Channel | null;
  readonly stderr: Channel | null;
  private done = false;

  constructor(private readonly conn: FrontConnection, readonly id: number, slots: SlotSpec[], preserveFds: number) {
    super();
    this.stdio = slots.map((s) => (s === 'pipe' ? Channel.opened(conn, conn.nextChannel++) : null));
    // the relayed sockets after the stdio sit after the preserved fds, as in node's stdio array
    const at = (i: number) => (i < 3 ? this.stdio[i] ?? null : null);
    this.stdin = at(0);
    // written only, as node's child.stdin: what comes back is dropped, so that its end is seen (a
    // channel ends, and stops holding the command, once both sides have)
    this.stdin?.resume();
    this.stdout = at(1);
    this.stderr = at(2);
    if (preserveFds > 0) this.stdio.splice(3, 0, ...Array.from({ length: preserveFds }, () => null));
    conn.hold(+1);
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.done) return false;
    this.conn.send(FrontMessage.KILL, [{ tag: Tag.ID, value: this.id }, { tag: Tag.SIGNAL, value: killSignalNumber(signal) }]);
    return true;
  }

  spawned(pid: number | undefined, errno: number | undefined): void {
    if (pid !== undefined && pid > 0) {
      this.pid = pid;
      this.emit('spawn');
      return;
    }
    const name = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? 'EIO';
    const e = Object.assign(new Error(`spawn ${name}`), { code: name, errno: -(errno ?? 5), syscall: 'spawn' });
    this.finish();
    for (const c of this.stdio) c?.destroy();
    this.emit('error', e);
  }

  /** HelperChild.leave: the front reaps it before it exits (EXIT names it); its exit is not
   * waited for here, and no longer holds the command. */
  leave(): boolean {
    if (!this.done) this.conn.left.add(this.id);
    this.finish();
    return true;
  }

  exited(status: number): void {
    // a wait status: exited (low 7 bits 0) or killed by a signal
    if ((status & 0x7f) === 0) this.exitCode = (status >> 8) & 0xff;
    else this.signalCode = exitSignalName(status & 0x7f);
    this.finish();
    this.emit('exit', this.exitCode, this.signalCode);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.conn.children.delete(this.id);
    this.conn.hold(-1);
  }
}

/**
 * The worker's end of one front's connection. Everything it sends is in order on one socket;
 * `hold` counts what keeps the command alive (helpers running, referenced channels), as node's
 * own handles would keep its event loop alive.
 */
export class FrontConnection {
  readonly channels = new Map<number, Channel>();
  readonly children = new Map<number, RemoteChild>();
  /** The helpers left to the front (RemoteChild.leave): EXIT names them, to be reaped first. */
  readonly left = new Set<number>();
  nextChannel = 1;
  private nextChild = 1;
  /** Until the command has started, the connection itself keeps the worker going. */
  private holds = 1;
  private reader = new FrameReader();
  onHello?: (hello: Hello) => void;
  onSignal?: (signal: number) => void;
  onClose?: () => void;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) this.receive(f);
    });
    socket.on('error', () => { /* close follows */ });
    socket.on('close', () => this.onClose?.());
  }

  /**
   * Whether the front has gone (killed: its end of the connection closed), asked now rather than
   * learnt from the event loop later: a write of no bytes fails (EPIPE) once the peer's end is
   * closed, and adds nothing to the stream while it is open.
   */
  frontGone(): boolean {
    const fd = socketFd(this.socket);
    if (fd === undefined) return true; // closed already
    try {
      writeSync(fd, Buffer.alloc(0));
      return false;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code !== 'EAGAIN' && code !== 'EINTR';
    }
  }

  send(type: number, fields: Field[]): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(type, 0, fields));
  }

  /** One more (+1) or one less (-1) thing that keeps the command running. */
  hold(n: number): void {
    this.holds += n;
    if (this.holds > 0) this.socket.ref();
    else this.socket.unref();
    if (this.holds === 0) for (const fn of this.idle.splice(0)) fn();
  }

  /** Calls fn once nothing of the command's is running in the front (no helper, no open channel). */
  whenIdle(fn: () => void): void {
    if (this.holds === 0) fn();
    else this.idle.push(fn);
  }

  private idle: Array<() => void> = [];

  /** The command's own stdout (1) or stderr (2) bytes. */
  out(fd: 1 | 2, data: Buffer): void {
    for (let at = 0; at < data.length; at += CHUNK) {
      this.send(FrontMessage.OUT, [{ tag: Tag.ID, value: fd }, { tag: Tag.DATA, value: data.subarray(at, at + CHUNK) }]);
    }
  }

  /** SPAWN: the front forks the helper with these args and stdio (as node's spawn would). */
  spawn(file: string, args: string[], env: NodeJS.ProcessEnv, slots: SlotSpec[], preserveFds: number): RemoteChild {
    const child = new RemoteChild(this, this.nextChild++, slots, preserveFds);
    this.children.set(child.id, child);
    const fields: Field[] = [{ tag: Tag.ID, value: child.id }, { tag: Tag.PATH, value: file }, { tag: Tag.VALUE, value: preserveFds }];
    for (const a of [file, ...args]) fields.push({ tag: Tag.ARG, value: a });
    for (const [k, v] of Object.entries(env)) if (v !== undefined) fields.push({ tag: Tag.ENV, value: `${k}=${v}` });
    slots.forEach((s, i) => {
      const ch = child.stdio[i < 3 ? i : i + preserveFds];
      fields.push({ tag: Tag.SLOT, value: s === 'inherit' ? -1 : s === 'ignore' ? -2 : ch!.id });
    });
    this.send(FrontMessage.SPAWN, fields);
    return child;
  }

  /** All of the caller's stdin: the front reads its fd 0 to the end (as readFileSync(0) would)
   * and sends it as channel 0. */
  readStdin(): Promise<Buffer> {
    return new Promise((resolve) => {
      const c = Channel.opened(this, 0);
      const parts: Buffer[] = [];
      c.on('data', (b: Buffer) => parts.push(b));
      c.on('end', () => resolve(Buffer.concat(parts)));
      c.on('close', () => resolve(Buffer.concat(parts)));
      this.send(FrontMessage.STDIN, []);
    });
  }

  /** The EXIT frame: the status (the front exits with it, once it has reaped the helpers left to
   * it), or the signal (the front kills itself with it at once). */
  exitFrame(status: number, signal = 0): Buffer {
    return encodeFrame(FrontMessage.EXIT, 0, signal ? [{ tag: Tag.SIGNAL, value: signal }]
      : [{ tag: Tag.STATUS, value: status }, ...[...this.left].map((id) => ({ tag: Tag.ID, value: id }))]);
  }

  exit(status: number, signal = 0): void {
    if (!this.socket.destroyed) this.socket.write(this.exitFrame(status, signal));
  }

  private receive(f: Frame): void {
    let fields: Fields;
    try { fields = Fields.decode(f.payload); } catch { this.socket.destroy(); return; }
    const id = fields.int(Tag.ID) ?? 0;
    switch (f.type) {
      case FrontMessage.HELLO: this.onHello?.(decodeHello(f.payload)); break;
      case FrontMessage.SPAWNED: this.children.get(id)?.spawned(fields.int(Tag.PID), fields.int(Tag.ERRNO)); break;
      case FrontMessage.CHILD_EXIT: this.children.get(id)?.exited(fields.int(Tag.STATUS) ?? 0); break;
      case FrontMessage.DATA: {
        const raw = fields.entries.find((e) => e.tag === Tag.DATA)?.raw;
        if (raw) this.channels.get(id)?.received(Buffer.from(raw));
        break;
      }
      case FrontMessage.EOF: this.channels.get(id)?.ended(); break;
      case FrontMessage.SIGNAL: this.onSignal?.(fields.int(Tag.SIGNAL) ?? 0); break;
      default: break;
    }
  }
}

/** The file descriptor under a connected unix socket (Node keeps it in its handle), for the
 * synchronous writes a Socket does not offer; undefined once the socket is closed. */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return fd === undefined || fd < 0 ? undefined : fd;
}
