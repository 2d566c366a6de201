// An OCI bundle: a directory holding config.json, and the root filesystem it names.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { HakoError } from '../errors.js';
import { ConfigError } from './check.js';
import type { Spec } from './types.js';
import { type OnWarning, parseConfig } from './validate.js';

export interface Bundle {
  spec: Spec;
  /** The bundle directory, absolute. */
  bundle: string;
  /** The root filesystem, absolute with symlinks resolved. */
  rootfs: string;
}

function readConfig(bundle: string): string {
  const file = join(bundle, 'config.json');
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new HakoError(`hako: config.json: not found in ${bundle}`, { code: 'not-found' });
    if (code === 'EISDIR') throw new HakoError(`hako: config.json: ${file} is not a file`, { code: 'bad-config' });
    throw new HakoError(`hako: config.json: cannot read ${file}: ${(err as Error).message}`, { code: 'io' });
  }
}

/**
 * Reads and checks bundleDir/config.json and finds its rootfs. A relative root.path is taken
 * from the bundle and may not leave it through ".."; an absolute one may be anywhere (as runc).
 */
export function loadBundle(bundleDir: string, onWarning?: OnWarning): Bundle {
  const bundle = resolve(bundleDir);
  const spec = parseConfig(readConfig(bundle), onWarning);
  return { spec, bundle, rootfs: rootfsOf(bundle, spec.root.path) };
}

/** The rootfs root.path names, from the bundle directory: absolute, symlinks resolved, a directory. */
export function rootfsOf(bundle: string, given: string, source = 'config.json'): string {
  let rootfs = resolve(bundle, given);
  if (!isAbsolute(given)) {
    const rel = relative(bundle, rootfs);
    if (rel === '..' || rel.startsWith(`..${sep}`)) {
      throw new ConfigError('root.path', `${given} leaves the bundle (a relative path must stay inside it)`, source);
    }
  }
  let isDir: boolean;
  try {
    rootfs = realpathSync(rootfs);
    isDir = statSync(rootfs).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConfigError('root.path', `${rootfs} does not exist`, source);
    throw new ConfigError('root.path', `cannot use ${rootfs}: ${(err as Error).message}`, source);
  }
  if (!isDir) throw new ConfigError('root.path', `${rootfs} is not a directory`, source);
  return rootfs;
}
