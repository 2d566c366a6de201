// hako serve: a warm server for bin/hako's native front (docs/SERVER.md). The server process only
// listens and hands each connection to a Node process started beforehand (a worker: the CLI's
// bundle loaded and compiled, waiting), which runs that command as the CLI would. A worker runs one
// command at a time, and serves the next only when the last left nothing running in it; between
// commands it puts back its environment, cwd, umask, argv, stdio and process listeners.
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { HakoError } from '../errors.js';
import { encodeFrame, Tag } from '../helper/protocol.js';
import { FRONT_PROTOCOL, FrontConnection, FrontMessage, socketFd, type Hello } from '../helper/remote.js';
import { useSpareAhead } from '../helper/ahead.js';
import { useHelperSpawner } from '../helper/session.js';
import { useCallerCheck } from '../runtime/state.js';
import { has, last, parseArgs } from './args.js';
import { useStdinReader } from './common.js';
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

/**
 * The namespaces each command's plan could have had made ahead (planAhead), by its argv and cwd, as
 * this worker last ran it: the next run of the same command asks the front to make them while this
 * worker works out its plan (AHEAD; docs/SERVER.md "Namespaces made ahead for the spare"). A wrong
 * guess costs the namespaces made for nothing; the plan makes its own.
 */
const aheadHints = new Map<string, number>();
const AHEAD_HINTS = 64;

function learnAhead(key: string, flags: number): void {
  aheadHints.delete(key);
  if (!flags) return;
  aheadHints.set(key, flags);
  if (aheadHints.size > AHEAD_HINTS) aheadHints.delete(aheadHints.keys().next().value as string);
}

/** How long a worker waits for what a finished command left running (then it ends with it). */
const LINGER_MS = 3000;

/** A worker's exit status when it is of another build than its server. */
const STALE = 3;

async function listen(path: string, spares: number): Promise<number> {
  const identity = bundleIdentity();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let existing;
  try { existing = lstatSync(path); } catch { /* none */ }
  if (existing) {
    if (!existing.isSocket()) throw new HakoError(`hako serve: ${path} exists and is not a socket`, { code: 'bad-option' });
    if (await answers(path)) throw new HakoError(`hako serve: a server already answers on ${path}`, { code: 'bad-option' });
    unlinkSync(path); // a server that died left it
  }
  const server = createServer({ pauseOnConnect: true });
  // workers: waiting (LIFO: the last used is the warmest), starting, and running a command
  const ready: ChildProcess[] = [];
  const starting = new Set<ChildProcess>();
  const busy = new Set<ChildProcess>();
  const queue: Socket[] = [];
  let stopping = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  const topUp = () => {
    if (stopping || retry) return;
    const idle = ready.length + starting.size;
    if (idle === 0 || idle + busy.size < spares) start();
  };
  const start = () => {
    const w = fork(process.argv[1] as string, ['serve', '--worker'], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [], env: { ...process.env, HAKO_SERVE_BUILD: identity },
    });
    starting.add(w);
    w.on('message', (m) => {
      if (m !== 'ready') return;
      if (starting.delete(w)) failures = 0;
      busy.delete(w);
      if (ready.length >= spares + 2) { w.kill('SIGKILL'); return; } // more idle than needed
      ready.push(w);
      hand();
    });
    w.on('exit', (code) => {
      if (code === STALE && !stopping) {
        process.stderr.write(`hako serve: hako was rebuilt or upgraded since this server started: stopping (start it again)\n`);
        stop(STALE);
        return;
      }
      // one that died before it was ready is replaced a little later each time
      if (starting.delete(w) && !stopping) {
        retry = setTimeout(() => { retry = undefined; topUp(); }, Math.min(5000, 100 * 2 ** failures++));
      }
      busy.delete(w);
      if (ready.includes(w)) ready.splice(ready.indexOf(w), 1);
      topUp();
    });
    w.on('error', () => { /* exit follows */ });
  };
  const hand = () => {
    while (queue.length && ready.length) {
      const w = ready.pop() as ChildProcess;
      const s = queue.shift() as Socket;
      busy.add(w);
      w.send('conn', s, (e) => { if (e) s.destroy(); });
    }
    topUp();
  };
  server.on('connection', (s: Socket) => { queue.push(s); hand(); });
  await new Promise<void>((resolve, reject) => {
    const mask = process.umask(0o177); // the socket is made 0600: only this user connects
    server.once('error', (e) => { process.umask(mask); reject(new HakoError(`hako serve: cannot listen on ${path}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { code: 'io' })); });
    server.listen(path, () => { process.umask(mask); resolve(); });
  });
  chmodSync(path, 0o600);
  for (let i = 0; i < spares; i++) start();
  let stopped: (code: number) => void = () => undefined;
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    server.close();
    try { unlinkSync(path); } catch { /* gone */ }
    clearTimeout(retry);
    for (const w of [...ready, ...starting]) w.kill('SIGKILL');
    // a command under way finishes on its own: its worker is not waited for
    for (const w of busy) if (w.connected) w.disconnect();
    for (const s of queue) s.destroy();
    stopped(code);
  };
  return new Promise((resolve) => {
    stopped = resolve;
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => stop());
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
  const fd = socketFd(socket);
  if (fd === undefined) return;
  for (let at = 0, tries = 0; at < frame.length && tries < 1000; tries++) {
    try {
      at += writeSync(fd, frame, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/**
 * Test-only: with HAKO_TEST_SERVE_PAUSE=DIR in the command's environment, a worker about to claim
 * an id (after its check that the front is there) writes its pid to DIR/paused and waits (at most
 * 10 s) until DIR/go exists: the test of a front killed just before the claim (serve.test.mjs).
 */
function testPauseBeforeClaim(): void {
  const dir = process.env.HAKO_TEST_SERVE_PAUSE;
  if (!dir) return;
  writeFileSync(join(dir, 'paused'), String(process.pid));
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2000 && !existsSync(join(dir, 'go')); i++) Atomics.wait(wait, 0, 0, 5);
}

/** What a worker restores after each command: the state it had before (see cleanAfter). */
interface Baseline {
  env: NodeJS.ProcessEnv;
  cwd: string;
  umask: number;
  argv: string[];
  streams: Map<string, PropertyDescriptor | undefined>;
  listeners: Map<string | symbol, Function[]>;
  resources: string;
  stdin: () => Promise<Buffer>;
}

function baseline(): Baseline {
  const listeners = new Map<string | symbol, Function[]>();
  for (const name of process.eventNames()) listeners.set(name, process.listeners(name as 'exit'));
  // the worker's own stdout and stderr are made now (node makes them when first used: a pipe's is
  // a socket), so that one a command's path makes later is not taken for work the command left
  void process.stdout;
  void process.stderr;
  const streams = new Map(['stdin', 'stdout', 'stderr'].map((n) => [n, Object.getOwnPropertyDescriptor(process, n)]));
  return {
    env: { ...process.env }, cwd: process.cwd(), umask: process.umask(), argv: [...process.argv], streams, listeners,
    resources: process.getActiveResourcesInfo().sort().join(','),
    stdin: () => Promise.resolve(readFileSync(0)),
  };
}

/** Puts the worker back as it was before the command (environment, cwd, umask, argv, stdio, the
 * process listeners the command added). */
function restore(b: Baseline): void {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, b.env);
  process.chdir(b.cwd);
  process.umask(b.umask);
  process.argv = [...b.argv];
  process.exitCode = undefined;
  useStdinReader(b.stdin);
  for (const [name, d] of b.streams) if (d) Object.defineProperty(process, name, d);
  for (const name of process.eventNames()) {
    const keep = b.listeners.get(name) ?? [];
    for (const l of process.listeners(name as 'exit')) if (!keep.includes(l)) process.removeListener(name as 'exit', l as () => void);
  }
}

/**
 * A worker: waits for a connection from the server, runs its command, and, when the command left
 * nothing running in this process (no handle, timer or request beyond what the worker had before:
 * process.getActiveResourcesInfo), restores its state and waits for the next. A command that left
 * something running ends the worker as the CLI would end: once its event loop is empty.
 */
function worker(runCli: (argv: string[]) => Promise<number>): Promise<number> {
  const identity = bundleIdentity();
  if (process.env.HAKO_SERVE_BUILD !== identity) process.exit(STALE);
  delete process.env.HAKO_SERVE_BUILD;
  const ns = namespaces();
  let base: Baseline | undefined;
  const ready = () => {
    base ??= baseline(); // taken once: what a command leaves is compared with the worker as it began
    if (process.connected) process.send?.('ready'); // else the server stopped: this worker ends
  };
  // the modules the runtime verbs need, loaded now rather than with the command
  void import('./oci.js').then(ready, ready);
  process.on('message', (m, handle) => {
    if (m !== 'conn' || !handle || !base) { process.exit(1); return; }
    serveOne(new FrontConnection(handle as Socket), identity, ns, base, runCli, ready);
  });
  return new Promise(() => { /* the worker ends with a command, or when the server kills it */ });
}

function serveOne(conn: FrontConnection, identity: string, ns: string, base: Baseline, runCli: (argv: string[]) => Promise<number>, ready: () => void): void {
  let sent = false;
  const exitFrame = (status: number, signal = 0) => conn.exitFrame(status, signal);
  // a command that ends the process some other way (process.exit, an uncaught error) still says
  // its status
  const onExit = (code: number) => {
    if (!sent) writeNow(conn.socket, exitFrame(code ?? 0));
    sent = true;
  };
  process.on('exit', onExit);
  // the front gone (killed): the command ends at once, as the CLI process would have, killed
  conn.onClose = () => { if (!sent) process.kill(process.pid, 'SIGKILL'); };
  conn.onHello = (hello: Hello) => {
    const refuse = (why: string) => {
      sent = true;
      // a worker of another build is of no use to anyone: the server starts a new one
      conn.socket.end(encodeFrame(FrontMessage.REFUSE, 0, [{ tag: Tag.MESSAGE, value: why }]), () => process.exit(0));
      conn.socket.ref();
    };
    if (hello.protocol !== FRONT_PROTOCOL) return refuse('another front protocol');
    if (hello.identity !== identity) return refuse('another build of hako');
    if (hello.namespaces !== ns) return refuse('other namespaces');
    try { process.chdir(hello.cwd); } catch { return refuse('cannot enter the working directory'); }
    // the namespaces this command's plan had last time, asked for first: the front's holder makes
    // them while the rest is done here
    const aheadKey = `${hello.cwd}\0${hello.argv.join('\0')}`;
    const hint = aheadHints.get(aheadKey) ?? 0;
    if (hint) conn.send(FrontMessage.AHEAD, [{ tag: Tag.FLAGS, value: hint }]);
    process.umask(hello.umask);
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, hello.env);
    process.argv = [process.argv[0] as string, process.argv[1] as string, ...hello.argv];
    const stdin = Object.assign(Readable.from([]), { isTTY: hello.ttys.stdin, fd: 0 });
    for (const [name, value] of [['stdin', stdin], ['stdout', outStream(conn, 1, hello.ttys.stdout)], ['stderr', outStream(conn, 2, hello.ttys.stderr)]] as const) {
      Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => value });
    }
    useHelperSpawner((file, args, slots, env, preserveFds) => conn.spawn(file, args, env, slots, preserveFds));
    // a claim of an id (create, run) made once the front is gone is undone (StateStore.create)
    useCallerCheck((when) => {
      const gone = conn.frontGone();
      if (when === 'claim') testPauseBeforeClaim();
      return gone;
    });
    useStdinReader(() => conn.readStdin(), () => hello.stdinData);
    useSpareAhead({ flags: hint, learn: (flags) => learnAhead(aheadKey, flags) });
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
    const endLikeNode = () => {
      // the command left work running: it ends as the CLI would, once the event loop is empty
      process.disconnect();
      process.on('beforeExit', () => finish(typeof process.exitCode === 'number' ? process.exitCode : 0));
    };
    void runCli(hello.argv).then((code) => {
      process.exitCode = code;
      // as node would, the command is over once nothing of it is running: here, once this process
      // holds nothing more than before it (async removals after a foreground run, timers)
      const until = Date.now() + LINGER_MS;
      // (a timer's callback still counts its own timer as active)
      const withTimer = [...base.resources.split(',').filter(Boolean), 'Timeout'].sort().join(',');
      const check = (fromTimer: boolean) => {
        if (finishing) return;
        const left = process.getActiveResourcesInfo().sort().join(',');
        if (left !== (fromTimer ? withTimer : base.resources)) {
          if (Date.now() < until) { setTimeout(check, 2, true); return; }
          if (base.env.HAKO_SERVE_DEBUG) {
            const detail = (process as unknown as { _getActiveHandles(): Array<{ _idleTimeout?: number; _onTimeout?: Function }> })._getActiveHandles()
              .map((h) => (h._onTimeout ? `timer ${h._idleTimeout} ms: ${String(h._onTimeout).slice(0, 200)}` : h.constructor.name)).join('; ');
            writeSync(2, `hako serve: worker ${process.pid}: ${hello.argv.join(' ')}: the command left ${left} (${detail}) (before: ${base.resources}): this worker ends with it\n`);
          }
          endLikeNode();
          return;
        }
        sent = true;
        useHelperSpawner(undefined);
        useCallerCheck(undefined);
        useSpareAhead(undefined);
        conn.onSignal = undefined;
        conn.onClose = undefined;
        // the status first: the front exits while this worker puts itself back
        conn.socket.end(exitFrame(code));
        restore(base);
        ready();
      };
      // a foreground run's removal (its cgroup, its state) is what usually remains: awaited, then
      // checked (polling only for anything else)
      const settled = import('../runtime/runtime.js').then((m) => m.removalsSettled(), () => undefined);
      conn.whenIdle(() => { void settled.then(() => setImmediate(check, false)); });
    });
    conn.hold(-1); // the command's own work keeps it going from here
  };
}
