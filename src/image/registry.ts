// `pull`: an image from an OCI registry over the distribution API v2. The manifest (an index or
// list gives this platform's), the config and the layer blobs are fetched and each is checked
// against its digest before the store takes it. Auth: anonymous, Basic, or a Bearer token from the
// realm named in WWW-Authenticate (with the user's credentials, when given). http for registries on
// localhost, 127.0.0.1 and ::1; https otherwise (tlsVerify: false accepts any certificate; caFile
// adds CAs to Node's).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { HakoError } from '../errors.js';
import { formatRef, parseRef } from './ref.js';
import { MEDIA, pickPlatform, type IndexDoc, type Manifest } from './sources.js';
import type { BlobStore } from './blobs.js';
import type { FoundImage } from './sources.js';
import type { ImageSummary, ProgressEvent, PullOptions } from './types.js';

/** What pull needs of the store (src/image/store.ts). */
export interface PullTarget {
  blobs: BlobStore;
  locked<T>(fn: () => Promise<T>): Promise<T>;
  add(f: FoundImage, staged: boolean, what: string, onProgress?: (e: ProgressEvent) => void): Promise<ImageSummary>;
  dropUnused(): Promise<void>;
}

const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(', ');

interface Ctx { base: URL; tlsVerify: boolean; caFile?: string; auth?: string; basic?: boolean; token?: string; repo: string; what: string }

/** TLS contexts with Node's CAs and a caFile's, by file (parsing the CAs costs tens of ms: once). */
const contexts = new Map<string, tls.SecureContext>();

/** The https agents for caFile contexts (keep-alive, as Node's global agent). */
const agents = new Map<string, https.Agent>();
function caAgent(file: string): https.Agent {
  let a = agents.get(file);
  if (!a) agents.set(file, a = new https.Agent({ keepAlive: true }));
  return a;
}

/** The TLS context for ctx's https requests: undefined for Node's default one. */
function secureContext(ctx: Ctx): tls.SecureContext | undefined {
  if (!ctx.tlsVerify || ctx.caFile === undefined) return undefined;
  let c = contexts.get(ctx.caFile);
  if (!c) {
    let pem: string;
    try {
      pem = readFileSync(ctx.caFile, 'utf8');
    } catch (e) {
      throw fail(ctx.what, `cannot read the CA file ${ctx.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      // a given ca replaces Node's CAs: keep them (the bundled ones, which Node trusts by default)
      c = tls.createSecureContext({ ca: [...tls.rootCertificates, pem] });
    } catch (e) {
      throw fail(ctx.what, `the CA file ${ctx.caFile} holds no usable certificate: ${(e as Error).message}`);
    }
    contexts.set(ctx.caFile, c);
  }
  return c;
}

function fail(what: string, why: string, code: 'image' | 'not-found' | 'permission' = 'image'): HakoError {
  return new HakoError(`hako: image: pull ${what}: ${why}`, { code });
}

function request(ctx: Ctx, url: URL, headers: Record<string, string>, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((done, reject) => {
    const secure = url.protocol === 'https:';
    const context = secure ? secureContext(ctx) : undefined;
    const req = (secure ? https : http).request(url, {
      method: 'GET', headers, rejectUnauthorized: ctx.tlsVerify, timeout: 60_000,
      // its own agent: the global one would reuse sockets made with another context
      ...(context ? { secureContext: context, agent: caAgent(ctx.caFile!) } : {}),
    }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects >= 5) return reject(fail(ctx.what, `too many redirects at ${url.host}`));
        const next = new URL(res.headers.location, url);
        // a redirect to another host (blob storage) carries no registry credentials
        const h = { ...headers };
        if (next.host !== url.host) delete h.authorization;
        request(ctx, next, h, redirects + 1).then(done, reject);
        return;
      }
      done(res);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (e) => reject(fail(ctx.what, `${url.host}: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim())));
    req.end();
  });
}

async function body(res: http.IncomingMessage, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) throw new Error(`answer larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseChallenge(h: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\w+)\s*(.*)$/s.exec(h.trim());
  const params: Record<string, string> = {};
  if (!m) return { scheme: '', params };
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"|(\w+)=([^,\s]*)/g)) params[(p[1] ?? p[3])!.toLowerCase()] = (p[2] ?? p[4])!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/** GET path on the registry, authenticating once when it asks (401 + WWW-Authenticate). */
async function get(ctx: Ctx, path: string, accept?: string): Promise<http.IncomingMessage> {
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = { 'user-agent': 'hako' };
    if (accept) h.accept = accept;
    if (ctx.token) h.authorization = `Bearer ${ctx.token}`;
    else if (ctx.auth && ctx.token === undefined && ctx.basic) h.authorization = `Basic ${Buffer.from(ctx.auth).toString('base64')}`;
    return h;
  };
  const url = new URL(path, ctx.base);
  let res = await request(ctx, url, headers());
  if (res.statusCode === 401) {
    res.resume();
    const c = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
    if (c.scheme === 'basic') {
      if (!ctx.auth) throw fail(ctx.what, `${ctx.base.host} asks for a user and password (HAKO_REGISTRY_AUTH=user:password, or --creds)`, 'permission');
      ctx.basic = true;
    } else if (c.scheme === 'bearer' && c.params.realm) {
      const t = new URL(c.params.realm);
      if (c.params.service) t.searchParams.set('service', c.params.service);
      t.searchParams.set('scope', c.params.scope ?? `repository:${ctx.repo}:pull`);
      const h: Record<string, string> = { 'user-agent': 'hako' };
      if (ctx.auth) h.authorization = `Basic ${Buffer.from(ctx.auth).toString('base64')}`;
      const tr = await request(ctx, t, h);
      const tb = await body(tr, 1 << 20);
      if (tr.statusCode !== 200) throw fail(ctx.what, `the token server ${t.host} answered ${tr.statusCode}`, 'permission');
      const doc = JSON.parse(tb.toString('utf8')) as { token?: string; access_token?: string };
      ctx.token = doc.token ?? doc.access_token;
      if (!ctx.token) throw fail(ctx.what, `the token server ${t.host} gave no token`, 'permission');
    } else throw fail(ctx.what, `${ctx.base.host} refused access (401) without a known WWW-Authenticate`, 'permission');
    res = await request(ctx, url, headers());
    if (res.statusCode === 401) {
      res.resume();
      throw fail(ctx.what, `${ctx.base.host} refused the credentials (401)`, 'permission');
    }
  }
  return res;
}

async function getManifest(ctx: Ctx, reference: string): Promise<{ bytes: Buffer; digest: string; mediaType: string }> {
  const res = await get(ctx, `/v2/${ctx.repo}/manifests/${reference}`, ACCEPT);
  if (res.statusCode === 404) {
    res.resume();
    throw fail(ctx.what, `${ctx.base.host} has no manifest ${ctx.repo}:${reference}`, 'not-found');
  }
  if (res.statusCode !== 200) {
    res.resume();
    throw fail(ctx.what, `${ctx.base.host} answered ${res.statusCode} for the manifest`);
  }
  const bytes = await body(res);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (reference.startsWith('sha256:') && digest !== reference) throw fail(ctx.what, `the manifest's sha256 is ${digest}, not ${reference}: refused`);
  const said = res.headers['docker-content-digest'];
  if (typeof said === 'string' && said.startsWith('sha256:') && said !== digest) throw fail(ctx.what, `the manifest's sha256 is ${digest}, the registry said ${said}: refused`);
  let mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    if (doc.mediaType) mediaType = doc.mediaType;
    else if (Array.isArray(doc.manifests)) mediaType = MEDIA.ociIndex;
  } catch {
    throw fail(ctx.what, 'the manifest is not JSON');
  }
  return { bytes, digest, mediaType };
}

/** @internal */
export async function pullImage(store: PullTarget, ref: string, o: PullOptions = {}): Promise<ImageSummary> {
  const r = parseRef(ref);
  const name = formatRef(r);
  const what = name;
  const host = r.domain === 'docker.io' ? 'registry-1.docker.io' : r.domain;
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const local = hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '::1';
  const ctx: Ctx = { base: new URL(`${local ? 'http' : 'https'}://${host}`), tlsVerify: o.tlsVerify ?? true, repo: r.path, what };
  if (o.caFile !== undefined) ctx.caFile = o.caFile;
  const auth = o.auth ?? process.env.HAKO_REGISTRY_AUTH;
  if (auth) ctx.auth = auth;
  return store.locked(async () => {
    try {
      return await pullLocked(store, ctx, r, what, o);
    } catch (e) {
      await store.dropUnused();
      throw e;
    }
  });
}

async function pullLocked(store: PullTarget, ctx: Ctx, r: ReturnType<typeof parseRef>, what: string, o: PullOptions): Promise<ImageSummary> {
  {
    let m = await getManifest(ctx, r.digest ?? r.tag ?? 'latest');
    for (let depth = 0; depth < 3 && (m.mediaType === MEDIA.ociIndex || m.mediaType === MEDIA.dockerList); depth++) {
      const index = JSON.parse(m.bytes.toString('utf8')) as IndexDoc;
      const d = pickPlatform(index.manifests ?? [], what);
      m = await getManifest(ctx, d.digest);
      if (m.digest !== d.digest) throw fail(what, `the manifest's sha256 is ${m.digest}, the index says ${d.digest}: refused`);
    }
    if (m.mediaType !== MEDIA.ociManifest && m.mediaType !== MEDIA.dockerManifest) throw fail(what, `unsupported manifest type '${m.mediaType}'`);
    const manifest = JSON.parse(m.bytes.toString('utf8')) as Manifest;
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw fail(what, 'the manifest has no config or layers');
    await store.blobs.putBytes(m.bytes, m.digest, `${what}: manifest`);
    const fetchBlob = async (digest: string, label: string, layer?: number) => {
      if (await store.blobs.has(digest)) return;
      const res = await get(ctx, `/v2/${ctx.repo}/blobs/${digest}`);
      if (res.statusCode !== 200) {
        res.resume();
        throw fail(what, `${ctx.base.host} answered ${res.statusCode} for ${label} ${digest}`);
      }
      const total = Number(res.headers['content-length']) || undefined;
      let bytes = 0;
      await store.blobs.putStream(res, digest, `${what}: ${label}`, (n) => {
        bytes += n;
        const e: ProgressEvent = { phase: 'blob', bytes, digest };
        if (total !== undefined) e.total = total;
        if (layer !== undefined) Object.assign(e, { layer, layers: manifest.layers.length });
        o.onProgress?.(e);
      });
    };
    await fetchBlob(manifest.config.digest, 'config');
    for (const [i, l] of manifest.layers.entries()) await fetchBlob(l.digest, 'layer', i + 1);
    const names = r.tag !== undefined ? [formatRef({ domain: r.domain, path: r.path, tag: r.tag })] : [];
    return store.add({
      names,
      manifest: { path: store.blobs.path(m.digest), digest: m.digest },
      config: { path: store.blobs.path(manifest.config.digest), digest: manifest.config.digest, mediaType: manifest.config.mediaType },
      layers: manifest.layers.map((l) => ({ path: store.blobs.path(l.digest), digest: l.digest, mediaType: l.mediaType })),
    }, true, what, o.onProgress);
  }
}
