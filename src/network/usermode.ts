// User-mode networks: a network namespace given outbound connectivity and published ports by a
// process on the host side that needs no root (slirp4netns, or pasta from Debian's passt), as
// rootless podman does. The program joins the namespace (and its user namespace) of a process,
// makes a tap device there (eth0 for pasta, tap0 for slirp4netns, up, with an address and a
// default route) and relays its packets through ordinary sockets of the host. It lives as long as
// the namespace is used: stop() ends it (a container's record names its pid for `delete`).
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { HakoError } from '../errors.js';
import { processAlive, startTime as procStartTime } from '../linux/proc.js';
import type { PortMapping } from './cni.js';

export type UserModeDriver = 'slirp4netns' | 'pasta';

/** What the namespace gets: its address, gateway and DNS server as the driver sets them. */
export interface UserModeNet {
  driver: UserModeDriver;
  /** The driver's pid (a process of this host, killed by stop()). */
  pid: number;
  /** Its start time (/proc/PID/stat field 22), so a reused pid is never killed. */
  startTime: number;
  /** Its private directory (API socket, log, pid file): removed when it is stopped. */
  runDir: string;
  address: string;
  gateway: string;
  dns: string;
  ifName: string;
  stop(): Promise<void>;
}

/** slirp4netns's fixed addresses in its default 10.0.2.0/24 (slirp4netns(1)). */
const SLIRP = { address: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3', ifName: 'tap0' };

/** The Debian package of each driver, for the message when it is missing. */
const PACKAGE: Record<UserModeDriver, string> = { slirp4netns: 'slirp4netns', pasta: 'passt' };

/** Both drivers open /dev/net/tun in the namespace's user namespace: it must be usable by the user
 * (Debian's udev makes it 0666; some hosts have 0600, which only root may open). */
export function checkTun(root = (process.geteuid?.() ?? 0) === 0, tun = '/dev/net/tun'): void {
  if (root) return;
  try {
    accessSync(tun, constants.R_OK | constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new HakoError(`hako: network: ${tun} cannot be opened by you (${code}): a user-mode network needs it; as root, \`chmod 0666 ${tun}\` (Debian's default mode)`, { code: 'network' });
  }
}

/** A process's start time in clock ticks since boot, or 0 (none). */
function startTimeOf(pid: number): number {
  return procStartTime(pid) ?? 0;
}

/** Kills a driver recorded as pid + start time (a container's `delete`), if it still runs. */
export function stopRecorded(pid: number, startTime: number): void {
  if (pid > 0 && processAlive(pid, startTime)) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  }
}

export interface UserModeOptions {
  /** A process in the network namespace (and, without root, in its user namespace). */
  pid: number;
  ports: PortMapping[];
  /** The driver ends with this process (slirp4netns's exit fd): a foreground command's network.
   * Otherwise it outlives it, and stop() (or stopRecorded() at a container's delete) ends it. */
  tied?: boolean;
  /** Lines for --explain. */
  explain?: (line: string) => void;
}

/** Starts the driver for the namespace of `o.pid`; resolves once the namespace is configured and
 * every port is published. A failure ends the driver and names what failed. Its API socket and
 * log are in a private directory of its own (runDir), removed when it is stopped. */
export async function startUserMode(driver: UserModeDriver, o: UserModeOptions): Promise<UserModeNet> {
  checkTun();
  const runDir = await mkdtemp(join(tmpdir(), 'hako-um-'));
  try {
    return await (driver === 'slirp4netns' ? startSlirp(o, runDir) : startPasta(o, runDir));
  } catch (e) {
    await rm(runDir, { recursive: true, force: true });
    throw e;
  }
}

function spawnError(driver: UserModeDriver, e: Error): HakoError {
  const code = (e as NodeJS.ErrnoException).code;
  return new HakoError(code === 'ENOENT' ? `hako: network: ${driver} is not installed (apt-get install ${PACKAGE[driver]})` : `hako: network: cannot run ${driver}: ${e.message}`, { code: 'network' });
}

/** The last line the driver logged (its log file in runDir), for an error. */
function lastLogLine(runDir: string): string {
  try {
    const lines = readFileSync(join(runDir, 'log'), 'utf8').trim().split('\n');
    return lines[lines.length - 1] ?? '';
  } catch {
    return '';
  }
}

const TIMEOUT_MS = 10_000;

function timeout(driver: UserModeDriver): Promise<never> {
  return new Promise((_, reject) => {
    const t = setTimeout(() => reject(new HakoError(`hako: network: ${driver} was not ready within ${TIMEOUT_MS / 1000} s`, { code: 'network' })), TIMEOUT_MS);
    t.unref();
  });
}

/** Ends a driver by pid and start time, waits (bounded) until it is gone, removes its runDir. */
async function stopDriver(pid: number, startTime: number, runDir: string): Promise<void> {
  stopRecorded(pid, startTime);
  for (let i = 0; i < 200 && processAlive(pid, startTime); i++) await new Promise((r) => setTimeout(r, 10));
  await rm(runDir, { recursive: true, force: true });
}

async function startSlirp(o: UserModeOptions, runDir: string): Promise<UserModeNet> {
  const api = join(runDir, 'api.sock');
  // fd 3: the ready fd ("1" once configured); fd 4, tied: the exit fd (it ends when this process
  // closes it, or dies); its log in runDir, so that it never writes to a pipe hako left
  const args = ['--configure', '--mtu=65520', '--disable-host-loopback', `--api-socket=${api}`, '--ready-fd=3', ...(o.tied ? ['--exit-fd=4'] : []), String(o.pid), SLIRP.ifName];
  o.explain?.(`[hako] slirp4netns ${args.join(' ')}`);
  const log = openSync(join(runDir, 'log'), 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn('slirp4netns', args, { stdio: ['ignore', 'ignore', log, 'pipe', ...(o.tied ? ['pipe' as const] : [])], detached: !o.tied });
  } finally {
    closeSync(log);
  }
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(spawnError('slirp4netns', e)));
    child.once('exit', (status, signal) => {
      const why = lastLogLine(runDir);
      reject(new HakoError(`hako: network: slirp4netns exited (${signal ?? `status ${status}`}) before the network was ready${why ? `: ${why}` : ''}`, { code: 'network' }));
    });
  });
  failed.catch(() => { /* raced below */ });
  const pid = () => child.pid ?? 0;
  const stop = async () => {
    (child.stdio[4] as { destroy?: () => void } | null)?.destroy?.();
    await stopDriver(pid(), startTimeOf(pid()), runDir);
  };
  try {
    const ready = new Promise<void>((resolve) => {
      const fd3 = child.stdio[3] as NodeJS.ReadableStream | null;
      fd3?.on('data', (b: Buffer) => { if (b.includes(0x31)) resolve(); });
    });
    await Promise.race([ready, failed, timeout('slirp4netns')]);
    o.explain?.(`[hako] slirp4netns: ${SLIRP.ifName} ${SLIRP.address}/24, default route via ${SLIRP.gateway}, DNS ${SLIRP.dns} (pid ${pid()})`);
    for (const p of o.ports) {
      const request = { execute: 'add_hostfwd', arguments: { proto: p.protocol, host_addr: p.hostIP ?? '0.0.0.0', host_port: p.hostPort, guest_addr: SLIRP.address, guest_port: p.containerPort } };
      o.explain?.(`[hako] slirp4netns: publish ${request.arguments.host_addr}:${p.hostPort} -> ${SLIRP.address}:${p.containerPort}/${p.protocol}`);
      const reply = await Promise.race([apiCall(api, request), failed, timeout('slirp4netns')]);
      if (reply.error) {
        const why = typeof reply.error === 'object' && reply.error && 'desc' in reply.error ? String((reply.error as { desc: unknown }).desc) : JSON.stringify(reply.error);
        throw new HakoError(`hako: --publish ${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}: slirp4netns cannot publish it: ${why}`, { code: 'network' });
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  child.unref();
  for (const s of child.stdio) (s as { unref?: () => void } | null)?.unref?.();
  return { driver: 'slirp4netns', pid: pid(), startTime: startTimeOf(pid()), runDir, ...SLIRP, stop };
}

/** One request on slirp4netns's API socket (JSON in, JSON out, one per connection). */
function apiCall(path: string, request: object): Promise<{ return?: unknown; error?: unknown }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let text = '';
    sock.on('connect', () => sock.end(JSON.stringify(request)));
    sock.on('data', (b) => { text += b.toString(); });
    sock.on('end', () => {
      try { resolve(JSON.parse(text)); } catch { reject(new HakoError(`hako: network: slirp4netns answered '${text.slice(0, 200)}'`, { code: 'network' })); }
    });
    sock.on('error', (e) => reject(new HakoError(`hako: network: slirp4netns's API socket ${path}: ${e.message}`, { code: 'network' })));
  });
}

/** pasta (passt(1)): the namespace gets the host's own address and gateway on eth0; it reaches
 * the host's resolvers as the host does. pasta configures the namespace, then goes into the
 * background (its first process exits 0): that exit is its "ready"; its pid comes from --pid. */
async function startPasta(o: UserModeOptions, runDir: string): Promise<UserModeNet> {
  const forwards = o.ports.flatMap((p) => [p.protocol === 'udp' ? '-u' : '-t', `${p.hostIP ? `${p.hostIP}/` : ''}${p.hostPort}:${p.containerPort}`]);
  const pidFile = join(runDir, 'pid');
  // no port is forwarded unless published (pasta would forward every bound port otherwise)
  const args = ['--quiet', '--config-net', '--ns-ifname', 'eth0', '--pid', pidFile, ...(forwards.length ? forwards : ['-t', 'none', '-u', 'none']), '-T', 'none', '-U', 'none',
    '--userns', `/proc/${o.pid}/ns/user`, '--netns', `/proc/${o.pid}/ns/net`];
  const child = spawn('pasta', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  o.explain?.(`[hako] pasta ${args.join(' ')}`);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { if (stderr.length < 4096) stderr += b.toString(); });
  const configured = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(spawnError('pasta', e)));
    child.once('close', (status, signal) => {
      if (status === 0) resolve();
      else reject(new HakoError(`hako: network: pasta failed (${signal ?? `status ${status}`})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`, { code: 'network' }));
    });
  });
  await Promise.race([configured, timeout('pasta')]);
  let pid = 0;
  try { pid = Number(readFileSync(pidFile, 'utf8').trim()) || 0; } catch { /* below */ }
  try { rmSync(pidFile, { force: true }); } catch { /* left in the run dir */ }
  if (!pid) throw new HakoError(`hako: network: pasta did not say its pid (${pidFile})`, { code: 'network' });
  const startTime = startTimeOf(pid);
  o.explain?.(`[hako] pasta: eth0 with the host's addresses and routes (pid ${pid})`);
  return { driver: 'pasta', pid, startTime, runDir, address: '', gateway: '', dns: '', ifName: 'eth0', stop: () => stopDriver(pid, startTime, runDir) };
}

