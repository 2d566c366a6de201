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

/** One config.json as it was checked: the file's identity and text when it was read, the checked
 * spec and the warnings its check gave. */
interface CachedConfig {
  key: string;
  text: string;
  spec: Spec;
  warnings: string[];
}

/**
 * loadBundle for a long-lived process (a Runtime): each bundle's config.json is checked once, and
 * again only when the file changes. An entry is keyed by the bundle's path and the file's device,
 * inode, size, mtime and ctime, and its text: the file is read on every load (one small read)
 * and its text compared, because the kernel's timestamps are coarse (a tick: two writes within
 * 4 ms can leave size, mtime and ctime as they were). Every load gets its own copy of the checked
 * spec, and the warnings of the check again. The rootfs is looked up on every load.
 */
export class BundleCache {
  /** Loads answered from the cache, and loads that checked the file. */
  readonly counts = { hits: 0, misses: 0 };
  private readonly entries = new Map<string, CachedConfig>();

  constructor(private readonly max = 64) {}

  load(bundleDir: string, onWarning: OnWarning): Bundle {
    const bundle = resolve(bundleDir);
    let key = '';
    try {
      const st = statSync(join(bundle, 'config.json'), { bigint: true });
      key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch { /* readConfig says what is wrong */ }
    const text = readConfig(bundle);
    const hit = this.entries.get(bundle);
    let entry: CachedConfig;
    if (hit && hit.key === key && hit.text === text) {
      this.counts.hits++;
      entry = hit;
    } else {
      this.counts.misses++;
      const warnings: string[] = [];
      const spec = parseConfig(text, (m) => warnings.push(m));
      entry = { key, text, spec, warnings };
      this.entries.delete(bundle);
      if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(bundle, entry);
    }
    for (const w of entry.warnings) onWarning(w);
    const spec = structuredClone(entry.spec);
    return { spec, bundle, rootfs: rootfsOf(bundle, spec.root.path) };
  }
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
