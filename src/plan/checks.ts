// What config.json may not ask for: sysctls that would change the host, and fields hako does
// not implement yet (refused, never ignored).
import { HakoError } from '../errors.js';
import type { NamespaceType } from '../linux/namespaces.js';
import type { Spec } from '../config/types.js';
import type { HostFacts } from './input.js';

/** sysctls that are namespaced, and the namespace each needs (runc's list): any other would
 * change the host, so it is refused. */
export function checkSysctl(key: string, created: Set<NamespaceType>, joined: ReadonlySet<NamespaceType> = new Set()): void {
  const where = `hako: config.json: linux.sysctl: ${key}`;
  if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key)) throw new HakoError(`${where}: not a sysctl name`, { code: 'bad-config' });
  const ipc = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  let needs: NamespaceType | undefined;
  if (ipc.includes(key) || key.startsWith('fs.mqueue.')) needs = 'ipc';
  else if (key.startsWith('net.')) needs = 'net';
  else if (key === 'kernel.hostname' || key === 'kernel.domainname') needs = 'uts';
  if (!needs) throw new HakoError(`${where}: not a namespaced sysctl: setting it would change the host`, { code: 'bad-config' });
  // a namespace joined by path is the container's own too, unless it is hako's (runc's check):
  // podman joins the network namespace it made (slirp4netns, a bridge) and sets net.* sysctls
  if (!created.has(needs) && !joined.has(needs)) {
    throw new HakoError(`${where}: needs a new ${needs} namespace or one joined by path (not the host's), or it would change the host's`, { code: 'bad-config' });
  }
}

/** Fields hako does not implement yet: refused, never ignored. */
export function refuseUnsupported(spec: Spec, host: HostFacts): void {
  const p = spec.process;
  const no = (what: string) => { throw new HakoError(`hako: config.json: ${what} is not supported yet`, { code: 'unsupported' }); };
  if (spec.linux?.intelRdt) no('linux.intelRdt');
  // AppArmor and SELinux: not implemented where the host has them on; where it has them off the
  // profile or label cannot be applied, so it is refused as runc 1.1 refuses it (never ignored:
  // the process would run without the confinement its config asks for)
  const off = (what: string, lsm: string) => {
    throw new HakoError(`hako: config.json: ${what}: ${lsm} is not enabled on this host, so it cannot be applied`, { code: 'unsupported' });
  };
  if (p?.apparmorProfile) {
    if (host.apparmor) no('process.apparmorProfile (AppArmor is enabled on this host)');
    else off('process.apparmorProfile', 'AppArmor');
  }
  if (p?.selinuxLabel || spec.linux?.mountLabel) {
    if (host.selinux) no('SELinux labels (SELinux is enabled on this host)');
    else off(p?.selinuxLabel ? 'process.selinuxLabel' : 'linux.mountLabel', 'SELinux');
  }
}
