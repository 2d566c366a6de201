// --network slirp4netns (hako unshare): user-mode networking for a user without root. Once the
// helper has made the new network namespace (in a new user namespace: NET_WAIT), slirp4netns
// (Debian's package) joins both and gives the namespace tap0, 10.0.2.100/24, a default route via
// 10.0.2.2 and DNS at 10.0.2.3; --publish adds host forwards through its API socket. It ends when
// hako closes its exit fd (the command has ended), or with hako itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { HakoError } from '../errors.js';
import type { PortMapping } from './cni.js';

export interface Slirp { stop(): Promise<void> }

function fail(message: string): HakoError {
  return new HakoError(`hako: network slirp4netns: ${message}`, { code: 'network' });
}

function api(socket: string, request: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let answer = '';
    c.on('connect', () => c.end(JSON.stringify(request)));
    c.on('data', (d) => { answer += d.toString(); });
    c.on('error', (e) => reject(fail(`its API socket: ${e.message}`)));
    c.on('close', () => {
      try {
        const r = JSON.parse(answer) as { error?: { desc?: string } };
        if (r.error) reject(fail(`${JSON.stringify(request)}: ${r.error.desc ?? JSON.stringify(r.error)}`));
        else resolve();
      } catch {
        reject(fail(`its API socket answered ${JSON.stringify(answer)}`));
      }
    });
  });
}

export async function startSlirp(pid: number, ports: PortMapping[], explain?: (line: string) => void): Promise<Slirp> {
  const dir = mkdtempSync(join(tmpdir(), 'hako-slirp-'));
  const socket = join(dir, 'api.sock');
  const args = ['--configure', '--mtu=65520', '--disable-host-loopback', '--ready-fd=3', '--exit-fd=4', `--api-socket=${socket}`,
    `--userns-path=/proc/${pid}/ns/user`, String(pid), 'tap0'];
  let child: ChildProcess;
  try {
    child = spawn('slirp4netns', args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw fail(`${(e as Error).message} (install Debian's slirp4netns)`);
  }
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += d.toString(); });
  const ready = child.stdio[3] as Readable;
  const exit = child.stdio[4] as Writable;
  const stop = async () => {
    exit.destroy(); // its exit fd closes: it ends
    if (child.exitCode === null && child.signalCode === null) {
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      ready.once('data', () => resolve());
      child.once('error', (e) => reject(fail(`${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found: install Debian\'s slirp4netns' : e.message}`)));
      child.once('exit', (code) => reject(fail(`ended before it was ready (exit ${code}): ${stderr.trim().split('\n').join(' | ')}`)));
    });
    explain?.(`[hako] network slirp4netns: tap0 10.0.2.100/24, default route via 10.0.2.2, DNS 10.0.2.3 (slirp4netns pid ${child.pid})`);
    for (const p of ports) {
      await api(socket, { execute: 'add_hostfwd', arguments: { proto: p.protocol, host_addr: p.hostIP ?? '0.0.0.0', host_port: p.hostPort, guest_port: p.containerPort } });
      explain?.(`[hako] network slirp4netns: host port ${p.hostIP ?? '0.0.0.0'}:${p.hostPort}/${p.protocol} forwarded to ${p.containerPort}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}
