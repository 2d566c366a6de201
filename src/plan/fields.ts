// What the plan modules share: the helper's fd slots, and a string field.
import type { Field } from '../helper/protocol.js';

/** Fd slots the plan uses in the helper (0 and 1 belong to nsenter, 6.. to its namespaces). */
export const SLOT = { ROOT: 2, FIFO: 3, CONSOLE: 4, DETACH: 5, CGROUP: 7, NULL: 8 } as const;

export function str(tag: number, value: string): Field {
  return { tag, value };
}
