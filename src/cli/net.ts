// hako net create|ls|inspect|rm|prune: the CNI networks --network NAME attaches to.
import { HakoError } from '../errors.js';
import {
  bridgeOf, createNetwork, findNetwork, listAttachments, listNetworks, networkDirs, removeNetwork, subnetsOf,
  type Attachment, type ConfList, type NetworkDirs,
} from '../network/index.js';
import { rm } from 'node:fs/promises';
import { delNetnsPath, detach, netFilesDir } from '../network/index.js';
import { unpinNetns } from '../network/netns.js';
import { containerCniId } from '../network/container.js';
import { updateNetworkHosts } from '../network/hosts.js';
import { defaultStateRoot } from '../runtime/rootless.js';
import { has, last, parseArgs } from './args.js';
import { command, specsOf } from './commands.js';
import { commandHelp } from './help.js';
import { processExists } from '../linux/proc.js';

const SUBS = ['create', 'ls', 'list', 'inspect', 'rm', 'remove', 'prune'];

function attachmentView(a: Attachment) {
  return {
    owner: a.owner, containerId: a.containerId, ifName: a.ifName, names: a.names ?? [],
    addresses: (a.result.ips ?? []).map((ip) => ip.address),
    gateways: [...new Set((a.result.ips ?? []).map((ip) => ip.gateway).filter((g): g is string => !!g))],
    macs: (a.result.interfaces ?? []).filter((i) => i.sandbox).map((i) => i.mac),
    ports: a.portMappings, created: a.created,
  };
}

function networkView(n: ConfList, attached: Attachment[]) {
  return {
    name: n.name, builtin: !n.file, file: n.file ?? null, bridge: bridgeOf(n) ?? null, subnets: subnetsOf(n),
    plugins: n.plugins.map((p) => p.type), attached: attached.filter((a) => a.network === n.name).map(attachmentView),
    config: { cniVersion: n.cniVersion, name: n.name, plugins: n.plugins },
  };
}


export async function netCommand(argv: string[], root = defaultStateRoot()): Promise<number> {
  const args = parseArgs('net', argv, specsOf('net'), false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('net')!)}\n`);
    return 0;
  }
  const netDir = last(args, 'net-dir');
  const dirs: NetworkDirs = networkDirs(netDir !== undefined ? { netDir } : {});
  const [sub, ...operands] = args.rest;
  const format = last(args, 'format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new HakoError(`hako net: --format: '${format}' is not table or json`, { code: 'bad-option' });
  const one = (what: string) => {
    if (operands.length !== 1) throw new HakoError(`hako net ${sub}: name one ${what} (see 'hako net --help')`, { code: 'bad-option' });
    return operands[0] as string;
  };
  const none = () => {
    if (operands.length) throw new HakoError(`hako net ${sub}: takes no operand (see 'hako net --help')`, { code: 'bad-option' });
  };
  switch (sub) {
    case 'create': {
      const name = one('network');
      const o: Parameters<typeof createNetwork>[2] = {};
      const subnet = last(args, 'subnet');
      if (subnet !== undefined) o.subnet = subnet;
      const gateway = last(args, 'gateway');
      if (gateway !== undefined) o.gateway = gateway;
      const bridge = last(args, 'bridge');
      if (bridge !== undefined) o.bridge = bridge;
      if (has(args, 'internal')) o.internal = true;
      const n = await createNetwork(dirs, name, o);
      process.stdout.write(`${n.name}\n`);
      return 0;
    }
    case 'ls': case 'list': {
      none();
      const nets = await listNetworks(dirs);
      const attached = await listAttachments(dirs);
      if (format === 'json') {
        process.stdout.write(`${JSON.stringify(nets.map((n) => networkView(n, attached)), null, 2)}\n`);
        return 0;
      }
      const rows = [['NAME', 'BRIDGE', 'SUBNET', 'ATTACHED', 'FILE'], ...nets.map((n) => [
        n.name, bridgeOf(n) ?? '-', subnetsOf(n).join(',') || '-', String(attached.filter((a) => a.network === n.name).length), n.file ?? '(built in)'])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('')}\n`);
      return 0;
    }
    case 'inspect': {
      const name = one('network or container');
      // a container (of --root) attached with --network NAME: its attachments
      const all = await listAttachments(dirs);
      const cid = containerCniId(name, root);
      const mine = all.filter((a) => a.containerId === cid);
      if (mine.length && !(await listNetworks(dirs)).some((n) => n.name === name)) {
        const view = mine.map((a) => ({ container: name, network: a.network, ...attachmentView(a) }));
        if (format === 'json') {
          process.stdout.write(`${JSON.stringify(view.length === 1 ? view[0] : view, null, 2)}\n`);
          return 0;
        }
        for (const v of view) {
          process.stdout.write(`container: ${v.container}\nnetwork: ${v.network}\ninterface: ${v.ifName}\naddresses: ${v.addresses.join(', ') || '-'}\n`
            + `macs: ${v.macs.join(', ') || '-'}\ngateway: ${v.gateways.join(', ') || '-'}\nnames: ${v.names.join(' ') || '-'}\n`
            + `ports: ${v.ports.map((p) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`).join(', ') || '-'}\n`);
        }
        return 0;
      }
      const n = await findNetwork(dirs, name).catch((e: unknown) => {
        if (e instanceof HakoError && e.code === 'not-found') throw new HakoError(`hako net inspect: '${name}' is neither a network nor a container attached to one (under --root ${root}); see 'hako net ls'`, { code: 'not-found' });
        throw e;
      });
      const view = networkView(n, all);
      if (format === 'json') {
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        return 0;
      }
      process.stdout.write(`name: ${view.name}${view.builtin ? ' (built in)' : ''}\nfile: ${view.file ?? '-'}\nbridge: ${view.bridge ?? '-'}\n`
        + `subnets: ${view.subnets.join(', ') || '-'}\nplugins: ${view.plugins.join(', ')}\nattached:${view.attached.length ? '' : ' none'}\n`);
      for (const a of view.attached) {
        process.stdout.write(`  ${a.owner}: ${a.ifName} ${a.addresses.join(', ')} ${a.macs.join(', ')}${a.ports.length ? ` ports ${a.ports.map((p) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`).join(', ')}` : ''}\n`);
      }
      return 0;
    }
    case 'rm': case 'remove': {
      if (!operands.length) throw new HakoError("hako net rm: name a network (see 'hako net --help')", { code: 'bad-option' });
      for (const name of operands) await removeNetwork(dirs, name);
      return 0;
    }
    case 'prune': {
      none();
      // attachments whose hako unshare is gone (SIGKILL): DEL in the namespace kept for them
      for (const a of await listAttachments(dirs)) {
        if (a.ownerPid === undefined || processExists(a.ownerPid)) continue;
        await detach(dirs, a, { netns: delNetnsPath(dirs, a) });
        await updateNetworkHosts(dirs, a.network);
        await unpinNetns(a.netns);
        await rm(netFilesDir(dirs, a.containerId), { recursive: true, force: true });
        process.stdout.write(`detached ${a.owner}: ${a.network}\n`);
      }
      const attached = await listAttachments(dirs);
      for (const n of await listNetworks(dirs)) {
        if (!n.file || attached.some((a) => a.network === n.name)) continue;
        await removeNetwork(dirs, n.name);
        process.stdout.write(`${n.name}\n`);
      }
      return 0;
    }
    default:
      throw new HakoError(`hako net: ${sub === undefined ? 'name a subcommand' : `unknown subcommand '${sub}'`}: ${SUBS.filter((s) => s !== 'list' && s !== 'remove').join(', ')} (see 'hako net --help')`, { code: 'bad-option' });
  }
}
