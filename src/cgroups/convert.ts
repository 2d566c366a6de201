// The arithmetic between the OCI (cgroup v1 flavoured) values and what cgroup v2 files take.

/** cpu.shares (2..262144) → cpu.weight (1..10000), as runc and crun convert: 1 + ((shares - 2) * 9999) / 262142. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio.weight (10..1000) → io.weight (1..10000), as runc converts. */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (the v1 meaning); memory.swap.max is swap alone. Returns the
 * memory.swap.max value ("max", a number), undefined when nothing is to be written, or throws a
 * reason (a string) when the pair makes no sense. Follows runc's ConvertMemorySwapToCgroupV2Value.
 */
export function swapToV2(swap: number | undefined, limit: number | undefined): string | undefined {
  if (limit === -1 && swap === undefined) return 'max';
  if (swap === undefined) return undefined;
  if (swap === -1) return 'max';
  if (limit === undefined || limit === -1) throw 'a swap limit needs a memory limit (linux.resources.memory.limit)';
  if (swap < limit) throw `swap (memory+swap, ${swap}) must be at least the memory limit (${limit})`;
  return String(swap - limit);
}

/** The OCI hugepage size ("2MB", "1GB", "64KB") as the kernel spells it in file names, or undefined. */
export function hugepageSize(pageSize: string): string | undefined {
  const m = /^(\d+)(KB|MB|GB)$/.exec(pageSize);
  return m ? `${m[1]}${m[2]}` : undefined;
}

/** The text of /proc/swaps has a swap device or file in use. */
export function swapInUse(procSwaps: string): boolean {
  return procSwaps.split('\n').slice(1).some((l) => l.trim() !== '');
}
