// unshare --network: what the plan needs (the mode, the resolv.conf and hosts it bind-mounts) and
// the CNI attachment of the new namespace: ADD while the helper waits after unshare(CLONE_NEWNET),
// DEL after the command has ended. The namespace is kept as a file (a bind mount, as `ip netns add`
// makes) from ADD to DEL, so that DEL runs in it even when the command is gone: the bridge plugin
// removes its NAT rule only from inside.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HakoError } from '../errors.js';
import { attach, cniContainerId, detach, hostsFile, type NetworkMode, parseNetworkMode, parsePublish, resolvConf } from './attach.js';
import type { PortMapping } from './cni.js';
import { type Attachment, type NetworkDirs, networkDirs, netFilesDir, netnsPath } from './config.js';
import { pinNetns, unpinNetns } from './netns.js';
import { startUserMode, type UserModeNet } from './usermode.js';

/** What the plan of unshare needs to know about the network. */
export interface NetworkStep {
  mode: NetworkMode;
  /** With a CNI network: the files bind-mounted on /etc/resolv.conf and /etc/hosts. */
  resolvConf: string;
  hosts: string;
}

export class NetworkSetup {
  private dir?: string;
  private netns?: string;
  private attachment?: Attachment;
  private explain?: ((line: string) => void) | undefined;
  private torn = false;
  private userMode?: UserModeNet;
  readonly step: NetworkStep;
  /** The CNI container id: chosen first, as the files' directory is named after it. */
  private readonly containerId = cniContainerId('unshare');

  private constructor(mode: NetworkMode, private readonly ports: PortMapping[], private readonly dirs: NetworkDirs, private readonly hostname?: string) {
    this.step = { mode, resolvConf: '', hosts: '' };
  }

  /** Parses --network and --publish; undefined when no --network was given. */
  static from(o: { network?: string; publish?: string[]; netDir?: string; hostname?: string }): NetworkSetup | undefined {
    if (o.network === undefined) {
      if (o.publish?.length) throw new HakoError('hako: unshare: --publish needs --network NAME (a CNI network such as bridge)', { code: 'bad-option' });
      return undefined;
    }
    const mode = parseNetworkMode(o.network, 'hako: unshare');
    const ports = (o.publish ?? []).map((p) => parsePublish(p, 'hako: unshare'));
    if (ports.length && mode.kind !== 'cni' && mode.kind !== 'slirp4netns' && mode.kind !== 'pasta') throw new HakoError(`hako: unshare: --publish needs --network NAME (a CNI network), not ${o.network}`, { code: 'bad-option' });
    if (mode.kind === 'cni' && (process.geteuid?.() ?? 0) !== 0) {
      throw new HakoError(`hako: unshare: --network ${mode.name}: attaching to a CNI network (a bridge, iptables rules) needs root; without root use --network none or ns:PATH`, { code: 'permission' });
    }
    return new NetworkSetup(mode, ports, networkDirs(o.netDir !== undefined ? { netDir: o.netDir } : {}), o.hostname);
  }

  /** Makes the directory of the bind-mounted files (written once the address is known). */
  async prepare(): Promise<void> {
    if (this.step.mode.kind !== 'cni' || this.dir) return;
    // in hako's network state, named after the attachment: `net prune` removes them with it
    this.dir = netFilesDir(this.dirs, this.containerId);
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    this.step.resolvConf = join(this.dir, 'resolv.conf');
    this.step.hosts = join(this.dir, 'hosts');
    // written now too, so that the bind mounts have their files even if ADD gives no address
    await writeFile(this.step.resolvConf, '', { mode: 0o644 });
    await writeFile(this.step.hosts, '', { mode: 0o644 });
  }

  /** CNI ADD of the namespace of `pid` (the helper, waiting), then the files from the result;
   * or, for slirp4netns and pasta, the driver for it (user-mode networking, no root needed). */
  async attachTo(pid: number, explain?: (line: string) => void): Promise<void> {
    if (this.step.mode.kind === 'slirp4netns' || this.step.mode.kind === 'pasta') {
      this.explain = explain;
      // ends with this process too (slirp4netns's exit fd), should teardown never come
      this.userMode = await startUserMode(this.step.mode.kind, { pid, ports: this.ports, tied: true, ...(explain ? { explain } : {}) });
      return;
    }
    if (this.step.mode.kind !== 'cni') return;
    this.explain = explain;
    const { containerId } = this;
    // kept as a file: DEL needs it after the command has ended, and `hako net prune` after a
    // SIGKILL of hako
    const netns = netnsPath(this.dirs, containerId);
    await pinNetns(pid, netns);
    this.netns = netns;
    explain?.(`[hako] network ${this.step.mode.name}: CNI ADD of the new network namespace (container id ${containerId}, eth0)`);
    this.attachment = await attach({
      dirs: this.dirs, network: this.step.mode.name, containerId, netns, ifName: 'eth0', portMappings: this.ports,
      owner: `hako unshare (pid ${process.pid})`, ownerPid: process.pid, ...(explain ? { explain } : {}),
    });
    await writeFile(this.step.resolvConf, resolvConf(this.attachment.result));
    await writeFile(this.step.hosts, hostsFile(this.attachment.result, this.hostname));
  }

  /** CNI DEL (in reverse order), the namespace let go, the files removed. Runs once. */
  async teardown(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    if (this.userMode) {
      this.explain?.(`[hako] network ${this.userMode.driver}: stopped`);
      await this.userMode.stop();
    }
    try {
      if (this.attachment) {
        this.explain?.(`[hako] network ${this.attachment.network}: CNI DEL (the plugins in reverse order)`);
        await detach(this.dirs, this.attachment, this.explain ? { explain: this.explain } : {});
      }
    } finally {
      if (this.netns) await unpinNetns(this.netns);
      if (this.dir) await rm(this.dir, { recursive: true, force: true });
    }
  }
}
