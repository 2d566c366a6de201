// The text of /proc/PID/uid_map and gid_map.

/** `count` ids starting at `inside` in the namespace are `outside` ids in the parent. */
export interface IdRange {
  /** The first id inside the namespace. */
  inside: number;
  /** The first id outside (in the parent namespace) it maps to. */
  outside: number;
  /** How many ids the range holds. */
  count: number;
}

/** The lines of a uid_map or gid_map file ("inside outside count"). */
export function formatMap(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.inside} ${r.outside} ${r.count}\n`).join('');
}

export type IdKind = 'uid' | 'gid';

export interface IdMapPlan {
  uid: IdRange[];
  gid: IdRange[];
  /** What to write to /proc/PID/setgroups first, if anything. */
  setgroups?: 'allow' | 'deny';
}
