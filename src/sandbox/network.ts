// A sandbox's network: 'none' (the default: a network namespace with only lo), a user-mode network
// (slirp4netns or pasta: outbound connections through the host's sockets, no root needed), or a
// CNI network of src/network by name (root: a veth on its bridge, NAT out). Every network but
// 'none' is attached by the runtime where prestart hooks run; then, before the command runs,
// routes in the sandbox's namespace make unreachable what untrusted code must not reach through
// it (Judge0's CVE-2024-29021: code reached internal services): the link-local range (cloud
// metadata, 169.254.169.254), and, unless `host: true`, every address of the host itself and,
// with pasta, its gateway (which pasta maps to the host's loopback). The sandbox has no
// CAP_NET_ADMIN: it cannot change them. A pool's prepared runs have all of it made ahead.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { HakoError } from '../errors.js';
import { failureError } from '../helper/failure.js';
import { ops } from '../helper/ops.js';
import { PlanBuilder } from '../helper/plan-builder.js';
import { runPlan } from '../helper/session.js';
import { namespaceKind } from '../linux/namespaces.js';
import { parseNetworkMode } from '../network/attach.js';
import { sandboxZygote } from './mounts.js';
import { boolean, either, fail, nonEmpty, object, oneOf, path, type Check } from '../options.js';

/** A sandbox's network. */
export type SandboxNetwork = 'none' | 'slirp4netns' | 'pasta' | {
  /** A user-mode network. */
  mode?: 'slirp4netns' | 'pasta';
  /** A CNI network's name ('bridge' is built in), as `hako run --network NAME` (root only). */
  name?: string;
  /** The network config directory for `name` (default: $HAKO_NET_DIR, /etc/hako/net.d). */
  netDir?: string;
  /** Let the sandbox reach the host's own addresses (and, with pasta, the host's loopback
   * through the gateway). Default false. Link-local addresses stay unreachable. */
  host?: boolean;
};

const MODES = ['none', 'slirp4netns', 'pasta'] as const;

export const NETWORK_OPTION: Check = either("'none', 'slirp4netns', 'pasta' or { mode | name, netDir, host }",
  [(v) => typeof v === 'string', oneOf(MODES, 'network')],
  [(v) => typeof v === 'object' && v !== null, (v, p) => {
    object({ mode: oneOf(['slirp4netns', 'pasta'], 'network mode'), name: nonEmpty, netDir: path(true), host: boolean })(v, p);
    const o = v as { mode?: string; name?: string; netDir?: string };
    if ((o.mode === undefined) === (o.name === undefined)) fail(p, 'give mode (slirp4netns or pasta) or name (a CNI network), one of them');
    if (o.netDir !== undefined && o.name === undefined) fail(`${p}.netDir`, 'only with name (a CNI network)');
    if (o.name !== undefined && /^(none|host|slirp4netns|pasta)$|^ns:/.test(o.name)) fail(`${p}.name`, `'${o.name}' is not a CNI network's name (for a user-mode network use mode)`);
  }]);

/** What the runtime is given for a network: undefined for 'none' (the run's config has a network
 * namespace of its own already). */
export interface NetworkChoice {
  /** Runtime's `network`: slirp4netns, pasta or a CNI network's name. */
  runtime: string;
  netDir: string | undefined;
  host: boolean;
  pasta: boolean;
}

/** The choice, checked as a run's --network will be (pasta as root is refused) before anything is made. */
export function networkChoice(n: SandboxNetwork | undefined): NetworkChoice | undefined {
  if (n === undefined || n === 'none') return undefined;
  const runtime = typeof n === 'string' ? n : n.mode ?? n.name!;
  parseNetworkMode(runtime, 'hako: sandbox');
  if (typeof n === 'string') return { runtime, netDir: undefined, host: false, pasta: n === 'pasta' };
  return { runtime, netDir: n.netDir, host: n.host === true, pasta: n.mode === 'pasta' };
}

/** The host's default gateways (IPv4, from /proc/net/route). */
function defaultGateways(): string[] {
  const out: string[] = [];
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] === '00000000' && f[2] && f[2] !== '00000000') {
        const n = Number.parseInt(f[2], 16);
        out.push([n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255].join('.'));
      }
    }
  } catch { /* none known */ }
  return out;
}

/** The destinations made unreachable in a sandbox's namespace. */
export function blockedDestinations(c: NetworkChoice): string[] {
  const out = ['169.254.0.0/16', 'fd00:ec2::254/128'];
  if (!c.host) {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        if (a.internal || (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'))) continue;
        out.push(`${a.address}/${a.family === 'IPv4' ? 32 : 128}`);
      }
    }
    if (c.pasta) out.push(...defaultGateways().map((g) => `${g}/32`));
  }
  return [...new Set(out)];
}

/** Adds the routes in the network namespace of `pid` (the run's init, attached, before its command). */
export async function guardNetwork(pid: number, c: NetworkChoice): Promise<void> {
  const routes = blockedDestinations(c).map((d) => `route replace unreachable ${d}`);
  const b = new PlanBuilder();
  if ((process.geteuid?.() ?? 0) !== 0) {
    // without root the namespace belongs to the sandbox's user namespace (the keeper's): the
    // helper joins that first, where it is root, as the run's own helper did
    b.ns(ops.openDir({ slot: 4, path: `/proc/${pid}/ns/user`, anyFile: true }), `open /proc/${pid}/ns/user`);
    b.ns(ops.setns({ nstype: namespaceKind('user').flag, slot: 4 }), "setns(CLONE_NEWUSER): the sandbox's user namespace");
  }
  b.ns(ops.openDir({ slot: 5, path: `/proc/${pid}/ns/net`, anyFile: true }), `open /proc/${pid}/ns/net`);
  b.ns(ops.setns({ nstype: namespaceKind('net').flag, slot: 5 }), "setns(CLONE_NEWNET): the sandbox's network namespace");
  // one ip for every route; an IPv6 one fails where the namespace has no IPv6 (fine: nothing to reach)
  b.exec(['/bin/sh', '-c', 'printf "%s\\n" "$@" | ip -force -batch - 2>&1 | grep -v "^Error: IPv6\\|^Command failed" >&2; ip -4 route show type unreachable | grep -q "^unreachable 169.254.0.0/16"', 'sh', ...routes],
    { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
  const r = await runPlan({ explain: false, hostOps: b.hostOps, nsOps: b.nsOps, initOps: b.initOps }, {}, { stdio: ['ignore', 'ignore', 'pipe'], label: 'sandbox network', spawner: sandboxZygote().spawner });
  if (r.failure) throw failureError('sandbox: network', b, r.failure);
  if (r.status !== 0) {
    const why = r.stderr?.toString().trim().split('\n')[0];
    throw new HakoError(`hako: sandbox: network: cannot make the host and link-local addresses unreachable in the sandbox (ip route)${why ? `: ${why}` : ''}`, { code: 'network' });
  }
}
