// Whether hako runs rootless, by runc's rules (runc main.go shouldHonorXDGRuntimeDir and
// utils_linux.go shouldUseRootlessCgroupManager): not real root (an euid other than 0, or uid 0
// of a user namespace that is not the host's, as under rootless podman, whose conmon runs the
// runtime as root of the user's namespace). Then the state goes to $XDG_RUNTIME_DIR/hako, and
// cgroups that cannot be written are skipped (as runc's rootless cgroup manager does).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The real root's default state directory (runc's /run/runc). */
export const ROOT_STATE_DIR = '/run/hako';

/** In a user namespace other than the initial one: /proc/self/uid_map is not the identity map of
 * every id (runc's userns.RunningInUserNS). */
export function runningInUserNs(): boolean {
  let text: string;
  try { text = readFileSync('/proc/self/uid_map', 'utf8'); } catch { return false; }
  const fields = text.trim().split(/\s+/);
  return !(fields.length === 3 && fields[0] === '0' && fields[1] === '0' && fields[2] === '4294967295');
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
