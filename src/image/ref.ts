// Image references, normalized as podman and docker do: `busybox` is
// `docker.io/library/busybox:latest`, `localhost/x:1` stays, `name@sha256:...` pins a digest.
import { HakoError } from '../errors.js';

export interface ImageRef {
  /** The registry host (and port): docker.io, localhost, 127.0.0.1:5000 ... */
  domain: string;
  /** The repository path inside it: library/busybox, x ... */
  path: string;
  /** The tag, when there is one (latest when neither tag nor digest was given). */
  tag?: string;
  /** sha256:HEX when the reference pins a manifest digest. */
  digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const PATH_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

function bad(ref: string, why: string): HakoError {
  return new HakoError(`hako: image: '${ref}' is not an image reference: ${why}`, { code: 'bad-option' });
}

/** Parses and normalizes an image reference (throws bad-option for a malformed one). */
export function parseRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(ref, `'${digest}' is not a sha256 digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(ref, `'${tag}' is not a tag`);
  }
  if (rest === '') throw bad(ref, 'no name');
  const slash = rest.indexOf('/');
  let domain = 'docker.io';
  let path = rest;
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(domain)) throw bad(ref, `'${domain}' is not a registry host[:port]`);
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  for (const part of path.split('/')) if (!PATH_PART.test(part)) throw bad(ref, `'${part}' is not a repository name part (lower-case letters, digits, separators)`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  const r: ImageRef = { domain, path };
  if (tag !== undefined) r.tag = tag;
  if (digest !== undefined) r.digest = digest;
  return r;
}

/** domain/path, without tag or digest. */
export function repoOf(r: ImageRef): string {
  return `${r.domain}/${r.path}`;
}

/** The normalized reference as text: domain/path:tag, domain/path@digest or both. */
export function formatRef(r: ImageRef): string {
  return `${repoOf(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** The names a short reference may mean, most likely first: docker.io/library/x, then localhost/x (podman's search). */
export function candidates(ref: string): string[] {
  const r = parseRef(ref);
  const out = [formatRef(r)];
  const short = ref.split('@')[0]!;
  const firstSlash = short.indexOf('/');
  const qualified = firstSlash > 0 && /[.:]|^localhost$/.test(short.slice(0, firstSlash));
  if (!qualified) out.push(formatRef({ ...r, domain: 'localhost', path: r.path.replace(/^library\//, short.startsWith('library/') ? 'library/' : '') }));
  return out;
}
