// Whether hako runs rootless, by runc's rules (runc main.go shouldHonorXDGRuntimeDir and
// utils_linux.go shouldUseRootlessCgroupManager): not real root (an euid other than 0, or uid 0
// of a user namespace that is not the host's, as under rootless podman, whose conmon runs the
// runtime as root of the user's namespace). Then the state goes to $XDG_RUNTIME_DIR/hako, and
// cgroups that cannot be written are skipped (as runc's rootless cgroup manager does).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The real root's default state directory (runc's /run/runc). */
export const ROOT_STATE_DIR = '/run/hako';

let inUserNs: boolean | undefined;

/** In a user namespace other than the initial one: /proc/self/uid_map is not the identity map of
 * every id (runc's userns.RunningInUserNS). Read until it is written, then kept: a process's user
 * namespace is its own for life here (unshare and setns of a user namespace refuse a
 * multithreaded process, as Node is), and a written map never changes. */
export function runningInUserNs(): boolean {
  if (inUserNs !== undefined) return inUserNs;
  let text: string;
  try { text = readFileSync('/proc/self/uid_map', 'utf8'); } catch { return false; }
  const fields = text.trim().split(/\s+/);
  const inNs = !(fields.length === 3 && fields[0] === '0' && fields[1] === '0' && fields[2] === '4294967295');
  if (text.trim() !== '') inUserNs = inNs;
  return inNs;
}

/** Not real root: an euid other than 0, or root of a user namespace. */
export function isRootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0 || runningInUserNs();
}

/**
 * The default --root, as runc chooses its own: $XDG_RUNTIME_DIR/hako when XDG_RUNTIME_DIR is set
 * and hako is not real root (in a user namespace, unless USER is root: sudo in a container keeps
 * /run/hako), else /run/hako.
 */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (!xdg) return ROOT_STATE_DIR;
  if ((process.geteuid?.() ?? 0) !== 0) return join(xdg, 'hako');
  if (!runningInUserNs()) return ROOT_STATE_DIR;
  return env.USER === 'root' ? ROOT_STATE_DIR : join(xdg, 'hako');
}

/** setgroups(2) is denied in hako's own user namespace, or in the one of the process whose
 * setgroups file is given (it reads "deny": a namespace whose gid_map an unprivileged user wrote,
 * as `unshare -r` makes). */
export function setgroupsDenied(file = '/proc/self/setgroups'): boolean {
  try { return readFileSync(file, 'utf8').trim() === 'deny'; } catch { return false; }
}

/** The host settings that refuse a user namespace to a user without root, and what to change:
 * Debian's kernel.unprivileged_userns_clone, Ubuntu 24.04's AppArmor restriction, and a zero
 * user.max_user_namespaces. `read` gives a /proc/sys file's text (undefined where it is absent). */
export function userNsRestriction(read: (file: string) => string | undefined = readSysctl): string | undefined {
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    return 'this host forbids user namespaces to users without root (kernel.unprivileged_userns_clone = 0): allow them with `sysctl -w kernel.unprivileged_userns_clone=1` as root (and in /etc/sysctl.d to keep it)';
  }
  if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts user namespaces to users without root here (kernel.apparmor_restrict_unprivileged_userns = 1): give hako\'s helper a profile with `userns,` (see apparmor.d(5)), or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` as root';
  }
  if (read('/proc/sys/user/max_user_namespaces') === '0') {
    return 'this host allows no user namespaces (user.max_user_namespaces = 0): raise it with `sysctl -w user.max_user_namespaces=15000` as root';
  }
  return undefined;
}

function readSysctl(file: string): string | undefined {
  try { return readFileSync(file, 'utf8').trim(); } catch { return undefined; }
}

/** For a failed step that unshared a user namespace (its description names CLONE_NEWUSER) with
 * EPERM, EACCES or ENOSPC: the host setting that refused it and the fix, if one did. */
export function userNsRefusal(failure: { op: string; errname: string }, description: string | undefined): string | undefined {
  if (failure.op !== 'unshare' || !['EPERM', 'EACCES', 'ENOSPC'].includes(failure.errname) || !/CLONE_NEWUSER/.test(description ?? '')) return undefined;
  return userNsRestriction();
}
