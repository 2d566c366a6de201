// What the plan modules share: the helper's fd slots.

/** Fd slots the plan uses in the helper (0 and 1 belong to nsenter, 6.. to its namespaces; the
 * helper has 64, native/ops.h MAX_SLOTS): IDMAP_FIRST..IDMAP_LAST hold id-mapped trees. */
export const SLOT = { ROOT: 2, FIFO: 3, CONSOLE: 4, DETACH: 5, CGROUP: 7, NULL: 8, COPYUP: 9, SECCOMP_LISTENER: 10, PROC_FD: 11, IDMAP_FIRST: 16, IDMAP_LAST: 63 } as const;
