// The OCI capability sets to bit masks (bit n is capability n of linux/capability.h).
import { HakoError } from '../errors.js';
import { CAPABILITIES } from '../config/known.js';

export function capMask(names: string[] | undefined, where: string): bigint {
  let mask = 0n;
  for (const [i, name] of (names ?? []).entries()) {
    const bit = (CAPABILITIES as readonly string[]).indexOf(name.toUpperCase());
    if (bit < 0) throw new HakoError(`hako: ${where}[${i}]: unknown capability '${name}'`, { code: 'bad-config' });
    mask |= 1n << BigInt(bit);
  }
  return mask;
}
