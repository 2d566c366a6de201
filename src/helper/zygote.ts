// A resident helper per Runtime (native/zygote.c, docs/PROTOCOL.md "The zygote"): started once,
// it forks each H0 on request, so that a container costs no spawn, exec or dynamic linking of its
// helper. Node talks to it over its own IPC channel, the one way Node receives fds: the sockets
// of each H0 (its piped stdio, its control and exec sockets) come back as handles.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fstatSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { Duplex } from 'node:stream';
import { checkHelper, type HelperChild, type SessionSpawner } from './session.js';
import { exitSignalName, killSignalNumber } from '../linux/signals.js';

/** An idle zygote (no helper of its running or asked for) goes after this long. */
export const ZYGOTE_IDLE_MS = 30_000;


/**
 * One socket of a helper, given at once (HelperSession takes its streams when it starts) and
 * joined to the zygote's socket when that comes: writes wait for it; it ends and closes as a
 * spawned child's socket does (not half-open).
 */
class Slot extends Duplex {
  private socket?: Socket;
  private queued: Array<[Buffer, BufferEncoding, (e?: Error | null) => void]> = [];
  private final?: (e?: Error | null) => void;
  private refd = true;

  constructor() {
    super({ allowHalfOpen: false });
  }

  get attached(): boolean {
    return this.socket !== undefined;
  }

  attach(socket: Socket): void {
    if (this.destroyed) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    if (!this.refd) socket.unref();
    let ended = false;
    socket.on('data', (b: Buffer) => { if (!this.push(b)) socket.pause(); });
    socket.on('end', () => { ended = true; this.push(null); });
    socket.on('error', (e) => this.destroy(e));
    // closed after its end, what it read stays here until it is read (this ends then); closed
    // without one (destroyed, an error), this goes too
    socket.on('close', () => { if (!ended) this.destroy(); });
    for (const [chunk, encoding, done] of this.queued.splice(0)) socket.write(chunk, encoding, done);
    if (this.final) socket.end(this.final);
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    if (this.socket) this.socket.write(chunk, encoding, done);
    else this.queued.push([chunk, encoding, done]);
  }

  override _final(done: (e?: Error | null) => void): void {
    if (this.socket) this.socket.end(() => done());
    else this.final = () => done();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    this.socket?.destroy();
    done(err);
  }

  /** As Socket.ref/unref. */
  ref(): this { this.refd = true; this.socket?.ref(); return this; }
  unref(): this { this.refd = false; this.socket?.unref(); return this; }
}

/** One H0 the zygote forked: what HelperSession uses of a ChildProcess. */
class ZygoteChild extends EventEmitter implements HelperChild {
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdio: Array<Slot | null>;
  readonly stdin: Slot | null;
  readonly stdout: Slot | null;
  readonly stderr: Slot | null;
  /** Its pid or a socket came: the request cannot be asked again of another zygote. */
  answered = false;
  retried = false;
  private queued: number[] = [];
  private done = false;

  constructor(private readonly zygote: Zygote, readonly id: number, readonly request: string, slots: boolean[]) {
    super();
    this.stdio = slots.map((pipe) => (pipe ? new Slot() : null));
    [this.stdin, this.stdout, this.stderr] = [this.stdio[0] ?? null, this.stdio[1] ?? null, this.stdio[2] ?? null];
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const n = killSignalNumber(signal);
    if (this.done) return false;
    if (this.pid === undefined) this.queued.push(n);
    else this.zygote.kill(this, n);
    return true;
  }

  socket(slot: number, socket: Socket): void {
    this.answered = true;
    const s = this.stdio[slot];
    if (s) s.attach(socket);
    else socket.destroy();
  }

  spawned(pid: number): void {
    this.answered = true;
    this.pid = pid;
    this.emit('spawn');
    for (const n of this.queued.splice(0)) this.zygote.kill(this, n);
  }

  failed(error: Error): void {
    if (this.done) return;
    this.done = true;
    for (const s of this.stdio) s?.destroy();
    this.emit('error', error);
  }

  exited(exitCode: number | null, signalCode: NodeJS.Signals | null): void {
    if (this.done) return;
    this.done = true;
    this.exitCode = exitCode;
    this.signalCode = signalCode;
    this.emit('exit', exitCode, signalCode);
    // as a ChildProcess at its exit (flushStdio): what nobody listens to is read and dropped, so
    // that nothing left writing to it blocks
    for (const s of this.stdio) {
      if (s && s.readable && s.listenerCount('data') + s.listenerCount('readable') === 0) s.resume();
    }
  }
}

/**
 * A zygote for one Runtime: started on its first helper, again after it died, gone when idle for
 * ZYGOTE_IDLE_MS or when Node exits (it never keeps Node alive by itself; a helper it runs does,
 * as a spawned one would). spawner is HelperSession's `spawner` option.
 */
export class Zygote {
  private proc?: ChildProcess;
  private nextId = 1;
  /** Asked for and not ended: by id. */
  private readonly children = new Map<number, ZygoteChild>();
  /** Those whose pid came: by pid. */
  private readonly byPid = new Map<number, ZygoteChild>();
  private idle?: NodeJS.Timeout;

  /** The helper the running zygote is (HAKO_HELPER may name another later: that one is spawned). */
  private file?: string;
  /** Which of this process's fds 0-2 the zygote has (it holds them from its start: one closed
   * then is /dev/null there, and a helper that inherits it is spawned). */
  private own: boolean[] = [true, true, true];

  constructor(private readonly idleMs = ZYGOTE_IDLE_MS) {}

  /** The zygote's pid (undefined when none runs). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** What the zygote takes: fds 0-2 inherited, ignored or piped, the control socket at 3 and the
   * exec socket at 4, --ahead, no preserved fds, no environment, this helper; else undefined (the caller
   * spawns the helper itself). */
  readonly spawner: SessionSpawner = (file, args, stdio, env, preserveFds) => {
    if ((this.proc && file !== this.file) || preserveFds !== 0 || Object.keys(env).length > 0) return undefined;
    const exec = args.includes('--exec-fd=4');
    let ahead = 0;
    for (const a of args) {
      const flags = /^--ahead=([0-9]+)$/.exec(a)?.[1];
      if (flags !== undefined) ahead = Number(flags);
      else if (a !== '--sealed' && a !== '--exec-fd=4') return undefined;
    }
    if (stdio.length !== (exec ? 5 : 4)) return undefined;
    if (!this.proc) this.own = [0, 1, 2].map((fd) => { try { fstatSync(fd); return true; } catch { return false; } });
    if (stdio.slice(0, 3).some((s, fd) => s === 'inherit' && !this.own[fd])) return undefined;
    const kinds = stdio.slice(0, 3).map((s) => (s === 'inherit' ? 'i' : s === 'ignore' ? 'n' : 'p')).join('');
    const id = this.nextId++;
    const child = new ZygoteChild(this, id, `F ${id} ${kinds} ${exec ? 1 : 0} ${ahead}`, stdio.map((s) => s === 'pipe'));
    if (!this.proc) this.file = file;
    this.ask(child);
    return child;
  };

  private start(): ChildProcess {
    const file = this.file ?? '';
    checkHelper(file);
    const proc = spawn(file, ['--zygote'], { stdio: [...this.own.map((o) => (o ? 'inherit' as const : 'ignore' as const)), 'ipc'], env: {}, serialization: 'json' });
    this.proc = proc;
    proc.unref();
    proc.channel?.unref();
    let gone = false;
    const lost = () => {
      if (gone) return;
      gone = true;
      this.lost(proc);
    };
    proc.on('message', (m: unknown, socket?: Socket) => {
      if (this.proc === proc) this.message(m, socket);
      else socket?.destroy();
    });
    proc.on('error', lost);
    proc.on('exit', lost);
    proc.on('disconnect', lost);
    return proc;
  }

  private ask(child: ZygoteChild): void {
    clearTimeout(this.idle);
    const proc = this.proc ?? this.start();
    this.children.set(child.id, child);
    this.hold();
    proc.send(child.request, (e) => { if (e) this.lost(proc); });
  }

  kill(child: ZygoteChild, signal: number): void {
    const pid = child.pid;
    if (pid === undefined) return;
    if (this.byPid.get(pid) === child && this.proc?.connected) {
      // the zygote signals it only while it is its unreaped child: never a pid reused since
      this.proc.send(`K ${pid} ${signal}`, () => { /* lost() tells */ });
      return;
    }
    // a zygote that died left it to init: its pid is its own until its control socket closes
    try { process.kill(pid, signal); } catch { /* gone */ }
  }

  /** The channel keeps Node alive while a helper runs or is asked for, as its process would. */
  private hold(): void {
    const busy = this.children.size > 0;
    if (busy) {
      this.proc?.channel?.ref();
      return;
    }
    this.proc?.channel?.unref();
    clearTimeout(this.idle);
    this.idle = setTimeout(() => { if (this.children.size === 0) this.proc?.disconnect(); }, this.idleMs);
    this.idle.unref();
  }

  private message(m: unknown, socket?: Socket): void {
    if (typeof m !== 'string') return;
    const [kind, a = '', b = ''] = m.split(' ');
    const x = Number(a);
    const y = Number(b);
    if (kind === 'S') {
      const child = this.children.get(x);
      if (child && socket) child.socket(y, socket);
      else socket?.destroy();
    } else if (kind === 'P') {
      const child = this.children.get(x);
      if (!child) return;
      this.byPid.set(y, child);
      child.spawned(y);
    } else if (kind === 'E') {
      const child = this.children.get(x);
      if (!child) return;
      this.children.delete(x);
      const code = Object.entries(constants.errno).find(([, v]) => v === y)?.[0] ?? 'EIO';
      child.failed(Object.assign(new Error(`spawn ${code}`), { code, errno: -y, syscall: 'spawn' }));
      this.hold();
    } else if (kind === 'X') {
      const child = this.byPid.get(x);
      if (!child) return;
      this.byPid.delete(x);
      this.children.delete(child.id);
      // a wait status: exited (low 7 bits 0) or killed by a signal
      if ((y & 0x7f) === 0) child.exited((y >> 8) & 0xff, null);
      else child.exited(null, exitSignalName(y & 0x7f));
      this.hold();
    }
  }

  /**
   * The zygote died or hung up. A helper asked for and not answered at all is asked of a new one
   * (once). One whose pid came (it sends that before its sockets) goes on: it was the zygote's
   * child, not this process's. Its sockets that had not come never will; its wait status is lost,
   * and it counts as exited with 1 once its control socket has closed (its end: it exited, or
   * detached and exec'd).
   */
  private lost(proc: ChildProcess): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    try { proc.kill('SIGKILL'); } catch { /* gone */ }
    const children = [...this.children.values()];
    this.children.clear();
    this.byPid.clear();
    for (const child of children) {
      if (child.pid !== undefined) {
        for (const slot of child.stdio) if (slot && !slot.attached) slot.destroy();
        const control = child.stdio[3];
        if (!control || control.destroyed || control.readableEnded) child.exited(1, null);
        else control.once('close', () => child.exited(1, null));
      } else if (!child.answered && !child.retried) {
        child.retried = true;
        try {
          this.ask(child);
        } catch (e) {
          // the helper cannot be run now (checkHelper): that is this helper's error
          this.children.delete(child.id);
          child.failed(e instanceof Error ? e : new Error(String(e)));
        }
      } else {
        child.failed(Object.assign(new Error('the helper zygote ended before the helper started'), { code: 'EPIPE' }));
      }
    }
    this.hold();
  }
}
