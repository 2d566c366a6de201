// What the plan modules share: the helper's fd slots.

/** Fd slots the plan uses in the helper (0 and 1 belong to nsenter, 6.. to its namespaces). */
export const SLOT = { ROOT: 2, FIFO: 3, CONSOLE: 4, DETACH: 5, CGROUP: 7, NULL: 8, COPYUP: 9, PROC_FD: 10 } as const;
