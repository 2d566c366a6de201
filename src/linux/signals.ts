// Signal names and numbers, accepted as runc and util-linux accept them: TERM, SIGTERM, 15.
import { constants } from 'node:os';

const table = constants.signals as Record<string, number>;

/** The number of a signal given as a name (with or without SIG) or a number; undefined if unknown. */
export function signalNumber(spec: string): number | undefined {
  const s = spec.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const upper = s.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return table[name];
}

export function signalName(n: number): string {
  return Object.keys(table).find((k) => table[k] === n) ?? `signal ${n}`;
}
