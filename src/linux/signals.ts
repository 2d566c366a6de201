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

/** A signal for kill(2) as ChildProcess.kill takes it (a name or a number), as Node's own
 * ChildProcess does: an unknown name throws ERR_UNKNOWN_SIGNAL. */
export function killSignalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') return signal;
  const n = table[signal];
  if (n === undefined) throw Object.assign(new TypeError(`Unknown signal: ${signal}`), { code: 'ERR_UNKNOWN_SIGNAL' });
  return n;
}

/** The name of signal n as a ChildProcess reports it (exit's signalCode), or null. */
export function exitSignalName(n: number): NodeJS.Signals | null {
  for (const [name, v] of Object.entries(table)) if (v === n) return name as NodeJS.Signals;
  return null;
}
