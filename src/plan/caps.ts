// The OCI capability sets to bit masks (bit n is capability n of linux/capability.h).
import { CAPABILITIES } from '../config/known.js';

export function capMask(names: string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const bit = (CAPABILITIES as readonly string[]).indexOf(name);
    // an unknown name (cap_kill too: names are upper case) is ignored, as runc does (config
    // validation warns about it, naming it)
    if (bit < 0) continue;
    mask |= 1n << BigInt(bit);
  }
  return mask;
}
