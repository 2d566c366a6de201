// Namespaces made ahead of the plan (docs/PROTOCOL.md "Namespaces made ahead"): which of a plan's
// new namespaces a helper may make as soon as it starts, before the plan exists. Only those that
// nothing of the config decides and that must not wait for the cgroup join: network, mount, uts
// and ipc (a new cgroup namespace is rooted where H1 is, so it comes after the join; the pid
// namespace is the next fork's). A plan that joins namespaces, maps a user namespace or sets
// time offsets has none: its namespace ops are left exactly as planned.
import { OpKind, Tag, type Field } from './protocol.js';
import { namespaceKind } from '../linux/namespaces.js';

const AHEAD = (['net', 'mnt', 'uts', 'ipc'] as const).reduce((m, t) => m | namespaceKind(t).flag, 0);
const NEVER = namespaceKind('user').flag | namespaceKind('time').flag;

/** Under `hako serve` (src/cli/serve.ts): the namespaces bin/hako's front was asked to make ahead
 * for its spare helper (AHEAD), and what to do with the namespaces the command's plan could have
 * had made ahead (to ask for them next time). */
export interface SpareAhead { flags: number; learn: (flags: number) => void }

let spare: SpareAhead | undefined;

/** For the command now running (undefined after it). */
export function useSpareAhead(s: SpareAhead | undefined): void {
  spare = s;
}

/** Whether a plan with these namespace ops joins what the front's holder made for its spare: asked
 * of the command's first plan only (the spare is the command's first helper, or none). */
export function spareAhead(nsOps: Field[][], explain = false): boolean {
  if (!spare) return false;
  const { flags, learn } = spare;
  spare = undefined;
  // (--explain tells each step as it is without a server: not asked for)
  const want = explain ? 0 : planAhead(nsOps);
  learn(want);
  return want !== 0 && want === flags;
}

/** The CLONE_NEW* flags a helper may make ahead for these namespace ops (0: none). */
export function planAhead(nsOps: Field[][]): number {
  let flags: number | undefined;
  for (const op of nsOps) {
    const kind = op.find((f) => f.tag === Tag.KIND)?.value;
    if (kind === OpKind.WRITE && flags === undefined) continue; // the cgroup v1 joins, device rules
    if (kind === OpKind.NET_WAIT && flags !== undefined) continue; // attached after: any netns
    if (kind !== OpKind.UNSHARE || flags !== undefined) return 0;
    const value = op.find((f) => f.tag === Tag.FLAGS)?.value;
    if (typeof value !== 'number' && typeof value !== 'bigint') return 0;
    flags = Number(value);
    if (flags & NEVER) return 0;
  }
  return (flags ?? 0) & AHEAD;
}
