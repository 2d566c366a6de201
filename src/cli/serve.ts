// hako serve: a warm server for bin/hako's native front (docs/SERVER.md). The server process only
// listens and hands each connection to a Node process started beforehand (a worker: the CLI's
// bundle loaded and compiled, waiting), which runs that one command as the CLI would and exits;
// the server starts a new one at once. A worker per command: no state (environment, cwd, exit
// code, signal handlers, caches) is shared between commands.
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { HakoError } from '../errors.js';
import { encodeFrame, Tag } from '../helper/protocol.js';
import { FRONT_PROTOCOL, FrontConnection, FrontMessage, type Hello } from '../helper/remote.js';
import { useHelperSpawner } from '../helper/session.js';
import { has, last, parseArgs } from './args.js';
import { command, specsOf } from './commands.js';
import type { Globals } from './globals.js';
import { commandHelp } from './help.js';

/** The identity of this CLI bundle, as the front computes it (native/front.c bundle_identity). */
function bundleIdentity(): string {
  const st = statSync(fileURLToPath(import.meta.url), { bigint: true });
  const ns = st.mtimeNs % 1_000_000_000n;
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs / 1_000_000_000n}.${String(ns).padStart(9, '0')}`;
}

/** The namespaces this process is in, as the front lists its own (native/front.c namespaces). */
function namespaces(): string {
  return ['user', 'mnt', 'pid', 'net', 'uts', 'ipc', 'cgroup'].map((n) => {
    let ino = 0n;
    try { ino = statSync(`/proc/self/ns/${n}`, { bigint: true }).ino; } catch { /* none */ }
    return `${n}:${ino}`;
  }).join(',');
}

export function serveCommand(argv: string[], globals: Globals, runCli: (argv: string[]) => Promise<number>): Promise<number> {
  const args = parseArgs('serve', argv, specsOf('serve'), false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('serve')!)}\n`);
    return Promise.resolve(0);
  }
  if (args.rest.length) throw new HakoError("hako serve: takes no operands (see 'hako serve --help')", { code: 'bad-option' });
  if (has(args, 'worker')) return worker(runCli);
  const spares = Number(last(args, 'spares') ?? 2);
  if (!Number.isInteger(spares) || spares < 1 || spares > 64) throw new HakoError(`hako serve: --spares: '${last(args, 'spares')}' is not a whole number from 1 to 64`, { code: 'bad-option' });
  const path = last(args, 'socket') ?? (process.env.HAKO_SOCKET || join(globals.root, 'hako.sock'));
  return listen(path, spares);
}

/** Whether something answers on the socket at path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function listen(path: string, spares: number): Promise<number> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let existing;
  try { existing = lstatSync(path); } catch { /* none */ }
  if (existing) {
    if (!existing.isSocket()) throw new HakoError(`hako serve: ${path} exists and is not a socket`, { code: 'bad-option' });
    if (await answers(path)) throw new HakoError(`hako serve: a server already answers on ${path}`, { code: 'bad-option' });
    unlinkSync(path); // a server that died left it
  }
  const server = createServer({ pauseOnConnect: true });
  const ready: ChildProcess[] = [];
  const starting = new Set<ChildProcess>();
  const queue: Socket[] = [];
  let stopping = false;
  let failures = 0;
  const start = () => {
    if (stopping) return;
    const w = fork(process.argv[1] as string, ['serve', '--worker'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    starting.add(w);
    w.on('message', (m) => {
      if (m !== 'ready' || !starting.delete(w)) return;
      failures = 0;
      ready.push(w);
      hand();
    });
    w.on('exit', () => {
      const wasSpare = starting.delete(w) || ready.includes(w);
      if (ready.includes(w)) ready.splice(ready.indexOf(w), 1);
      // a spare that died before it served anything is replaced, a little later each time
      if (wasSpare && !stopping) setTimeout(start, Math.min(5000, 100 * 2 ** failures++));
    });
    w.on('error', () => { /* exit follows */ });
  };
  const hand = () => {
    while (queue.length && ready.length) {
      const w = ready.shift() as ChildProcess;
      const s = queue.shift() as Socket;
      w.send('conn', s, (e) => { if (e) s.destroy(); });
      start();
    }
  };
  server.on('connection', (s: Socket) => { queue.push(s); hand(); });
  await new Promise<void>((resolve, reject) => {
    const mask = process.umask(0o177); // the socket is made 0600: only this user connects
    server.once('error', (e) => { process.umask(mask); reject(new HakoError(`hako serve: cannot listen on ${path}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)); });
    server.listen(path, () => { process.umask(mask); resolve(); });
  });
  chmodSync(path, 0o600);
  for (let i = 0; i < spares; i++) start();
  return new Promise((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      server.close();
      try { unlinkSync(path); } catch { /* gone */ }
      for (const w of [...ready, ...starting]) w.kill('SIGKILL');
      for (const s of queue) s.destroy();
      resolve(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
  });
}

/** A stream the command writes to that goes to the front's fd 1 or 2. */
function outStream(conn: FrontConnection, fd: 1 | 2, tty: boolean): Writable {
  const w = new Writable({
    write(chunk: Buffer | string, enc, done) {
      conn.out(fd, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, enc));
      done();
    },
  });
  return Object.assign(w, { isTTY: tty, fd });
}

function signalName(n: number): NodeJS.Signals | undefined {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals | undefined;
}

/** Writes a frame to the connection now, synchronously (at exit, once the queue is written). */
function writeNow(socket: Socket, frame: Buffer): void {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return;
  for (let at = 0, tries = 0; at < frame.length && tries < 1000; tries++) {
    try {
      at += writeSync(fd, frame, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function worker(runCli: (argv: string[]) => Promise<number>): Promise<number> {
  const identity = bundleIdentity();
  const ns = namespaces();
  // the modules the runtime verbs need, loaded now rather than with the command
  void import('./oci.js').then(() => process.send?.('ready'), () => process.send?.('ready'));
  process.once('message', (m, handle) => {
    if (m !== 'conn' || !handle) process.exit(1);
    process.disconnect(); // the command's alone now; the server has started another worker
    serveOne(new FrontConnection(handle as Socket), identity, ns, runCli);
  });
  return new Promise(() => { /* the worker ends with its command */ });
}

function serveOne(conn: FrontConnection, identity: string, ns: string, runCli: (argv: string[]) => Promise<number>): void {
  let sent = false;
  const exitFrame = (status: number, signal = 0) =>
    encodeFrame(FrontMessage.EXIT, 0, signal ? [{ tag: Tag.SIGNAL, value: signal }] : [{ tag: Tag.STATUS, value: status }]);
  // a command that ends some other way (process.exit, an uncaught error) still says its status
  const onExit = (code: number) => {
    if (!sent) writeNow(conn.socket, exitFrame(code ?? 0));
    sent = true;
  };
  process.on('exit', onExit);
  conn.onClose = () => { if (!sent) process.exit(1); };
  conn.onHello = (hello: Hello) => {
    const refuse = (why: string) => {
      sent = true;
      conn.socket.end(encodeFrame(FrontMessage.REFUSE, 0, [{ tag: Tag.MESSAGE, value: why }]), () => process.exit(0));
      conn.socket.ref();
    };
    if (hello.protocol !== FRONT_PROTOCOL) return refuse('another front protocol');
    if (hello.identity !== identity) return refuse('another build of hako');
    if (hello.namespaces !== ns) return refuse('other namespaces');
    try { process.chdir(hello.cwd); } catch { return refuse('cannot enter the working directory'); }
    process.umask(hello.umask);
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, hello.env);
    process.argv = [process.argv[0] as string, process.argv[1] as string, ...hello.argv];
    const stdin = Object.assign(Readable.from([]), { isTTY: hello.ttys.stdin, fd: 0 });
    for (const [name, value] of [['stdin', stdin], ['stdout', outStream(conn, 1, hello.ttys.stdout)], ['stderr', outStream(conn, 2, hello.ttys.stderr)]] as const) {
      Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => value });
    }
    useHelperSpawner((file, args, slots, env, preserveFds) => conn.spawn(file, args, env, slots, preserveFds));
    // the signals the front receives, as node would: the command's handlers, else death by it
    conn.onSignal = (n) => {
      const name = signalName(n);
      if (name && process.listenerCount(name) > 0) { process.emit(name, name); return; }
      finish(0, n);
    };
    let finishing = false;
    const finish = (code: number, signal = 0) => {
      if (finishing && !signal) return;
      finishing = true;
      conn.socket.ref();
      // once everything before is written: the exit listeners run (the command's cleanups), then
      // the status goes, last
      conn.socket.write(Buffer.alloc(0), () => {
        if (signal) {
          sent = true;
          writeNow(conn.socket, exitFrame(0, signal));
          process.kill(process.pid, 'SIGKILL');
          return;
        }
        process.off('exit', onExit);
        process.on('exit', onExit); // after the command's own exit listeners
        process.exit(code);
      });
    };
    process.on('beforeExit', () => finish(typeof process.exitCode === 'number' ? process.exitCode : 0));
    void runCli(hello.argv).then((code) => { process.exitCode = code; });
    conn.hold(-1); // the command's own work keeps it going from here
  };
}
