// hako image pull (issue 12): Debian's docker-registry runs on 127.0.0.1:<free port> inside the
// test (a temp config and storage dir), skopeo pushes an image made here, and hako pulls it back:
// anonymously, through a small proxy that asks for a Bearer token (WWW-Authenticate realm,
// service, scope) or Basic credentials, and through one that corrupts a blob (refused). The
// registry is stopped at the end; the scope checks no process is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { HAKO, ok, oneLineError, runSync, scoped, waitUntil } from './oci-util.mjs';
import { busyboxEntries, tarOf, writeLayout } from './image-util.mjs';

const REGISTRY = '/usr/bin/docker-registry';
const SKOPEO = '/usr/bin/skopeo';
const missing = !existsSync(REGISTRY) ? `${REGISTRY} is not installed (Debian's docker-registry; scripts/setup.sh --test)`
  : !existsSync(SKOPEO) ? `${SKOPEO} is not installed (scripts/setup.sh --test)` : false;

/** hako run without blocking this process (the proxies answer from it), as runSync reports it. */
function hakoAsync(scope, args, env = scope.env()) {
  return new Promise((done) => {
    const p = spawn(HAKO, ['--root', scope.root, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('close', (status, signal) => { clearTimeout(timer); done({ cmd: ['hako', ...args].join(' '), status, signal, stdout, stderr }); });
  });
}

function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startRegistry(scope, { host = '127.0.0.1', tls } = {}) {
  const port = await freePort(host);
  const dir = scope.path(`registry-${host}`);
  const tlsConf = tls ? `  tls:\n    certificate: ${tls.cert}\n    key: ${tls.key}\n` : '';
  writeFileSync(scope.path('registry.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}:${port}\n${tlsConf}`);
  const child = spawn(REGISTRY, ['serve', scope.path('registry.yml')], { env: scope.env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((done) => child.on('exit', done));
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${err}`);
    if (tls) return new Promise((done) => https.get(`https://${host}:${port}/v2/`, { ca: readFileSync(tls.ca) }, (res) => { res.resume(); done(res.statusCode === 200); }).on('error', () => done(false)));
    return new Promise((done) => http.get(`http://${host}:${port}/v2/`, (res) => { res.resume(); done(res.statusCode === 200); }).on('error', () => done(false)));
  }, { timeoutMs: 15000, what: 'docker-registry to listen' });
  return { port, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

/** A proxy in front of the registry: auth 'bearer' or 'basic' (user u, password p), or 'corrupt' (one flipped byte in each blob). */
async function startProxy(target, mode) {
  const port = await freePort();
  const token = 'tok-123';
  const seen = { scopes: [] };
  const server = http.createServer((req, res) => {
    const creds = `Basic ${Buffer.from('u:p').toString('base64')}`;
    if (req.url.startsWith('/token')) {
      const u = new URL(req.url, 'http://x');
      seen.scopes.push(`${u.searchParams.get('service')} ${u.searchParams.get('scope')}`);
      if (req.headers.authorization !== creds) { res.writeHead(401); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token }));
      return;
    }
    if (mode === 'bearer' && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="test-registry",scope="repository:x:pull"` });
      res.end();
      return;
    }
    if (mode === 'basic' && req.headers.authorization !== creds) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
      res.end();
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (ur) => {
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => {
        let body = Buffer.concat(chunks);
        if (mode === 'corrupt' && req.url.includes('/blobs/') && body.length) {
          body = Buffer.from(body);
          body[body.length - 1] ^= 0xff;
        }
        const headers = { ...ur.headers };
        delete headers['content-length'];
        delete headers['transfer-encoding'];
        res.writeHead(ur.statusCode, headers);
        res.end(body);
      });
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { port, seen, stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

test('pull from a local docker-registry (pushed with skopeo): digests match, layers unpacked; Bearer and Basic auth; a corrupted blob refused', { skip: missing }, scoped(async (scope) => {
  const reg = await startRegistry(scope);
  const proxies = [];
  try {
    const layout = scope.path('layout');
    const d = writeLayout(layout, [await tarOf(busyboxEntries(['sh', 'true'])), await tarOf([{ name: 'etc/motd', data: 'pulled\n' }])], { gzip: true, refName: '1', config: { Env: ['FROM=registry'] } });
    ok(runSync(SKOPEO, ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://127.0.0.1:${reg.port}/x:1`]));
    const remote = JSON.parse(ok(runSync(SKOPEO, ['inspect', '--tls-verify=false', `docker://127.0.0.1:${reg.port}/x:1`])));
    const store = scope.path('store');
    const pulled = ok(scope.hako(['image', '--image-root', store, 'pull', `127.0.0.1:${reg.port}/x:1`]));
    assert.equal(pulled, `127.0.0.1:${reg.port}/x:1 ${d.config}\n`);
    const i = JSON.parse(ok(scope.hako(['image', '--image-root', store, 'inspect', `127.0.0.1:${reg.port}/x:1`])));
    assert.equal(i.digest, remote.Digest);
    assert.equal(i.digest, d.manifest);
    assert.deepEqual(i.layers.map((l) => l.digest), d.layers);
    assert.deepEqual(i.layers.map((l) => l.diffId), d.diffIds);
    assert.deepEqual(i.config.env, ['FROM=registry']);
    assert.ok(existsSync(join(i.layers[1].dir, 'etc', 'motd')));
    // by digest too (already there: nothing fetched again, same image)
    ok(scope.hako(['image', '--image-root', store, 'pull', `127.0.0.1:${reg.port}/x@${d.manifest}`]));
    assert.equal(JSON.parse(ok(scope.hako(['image', '--image-root', store, 'ls', '--format', 'json']))).length, 1);

    // an image index (two platforms, pushed with --all): pull takes linux/amd64's
    const multi = scope.path('multi');
    const arm = writeLayout(multi, [await tarOf([{ name: 'arch', data: 'arm64' }])], { config: { Env: ['ARCH=arm64'] } });
    const amd = writeLayout(multi, [await tarOf([{ name: 'arch', data: 'amd64' }])], { config: { Env: ['ARCH=amd64'] } });
    const { createHash } = await import('node:crypto');
    const { readFileSync, statSync } = await import('node:fs');
    const desc = (digest, arch) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: statSync(join(multi, 'blobs', 'sha256', digest.slice(7))).size, platform: { os: 'linux', architecture: arch } });
    const indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [desc(arm.manifest, 'arm64'), desc(amd.manifest, 'amd64')] }));
    const indexDigest = `sha256:${createHash('sha256').update(indexBytes).digest('hex')}`;
    writeFileSync(join(multi, 'blobs', 'sha256', indexDigest.slice(7)), indexBytes);
    writeFileSync(join(multi, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: indexBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
    ok(runSync(SKOPEO, ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${multi}:multi`, `docker://127.0.0.1:${reg.port}/m:1`]));
    const sm = scope.path('store-multi');
    ok(scope.hako(['image', '--image-root', sm, 'pull', `127.0.0.1:${reg.port}/m:1`]));
    const mi = JSON.parse(ok(scope.hako(['image', '--image-root', sm, 'inspect', `127.0.0.1:${reg.port}/m:1`])));
    assert.deepEqual(mi.config.env, ['ARCH=amd64']);
    assert.equal(mi.id, amd.config);
    assert.equal(readFileSync(join(mi.layers[0].dir, 'arch'), 'utf8'), 'amd64');

    // Bearer: 401 + WWW-Authenticate realm/service/scope, a token for u:p, then the registry
    const bearer = await startProxy(reg.port, 'bearer');
    proxies.push(bearer);
    const s2 = scope.path('store2');
    oneLineError(await hakoAsync(scope, ['image', '--image-root', s2, 'pull', `127.0.0.1:${bearer.port}/x:1`]), { match: /^hako: image: pull .*: the token server 127\.0\.0\.1:\d+ answered 401$/ });
    ok(await hakoAsync(scope, ['image', '--image-root', s2, 'pull', '--creds', 'u:p', `127.0.0.1:${bearer.port}/x:1`]));
    assert.ok(bearer.seen.scopes.includes('test-registry repository:x:pull'), bearer.seen.scopes.join('\n'));
    assert.equal(JSON.parse(ok(await hakoAsync(scope, ['image', '--image-root', s2, 'inspect', `127.0.0.1:${bearer.port}/x:1`]))).digest, d.manifest);
    // Basic
    const basic = await startProxy(reg.port, 'basic');
    proxies.push(basic);
    const s3 = scope.path('store3');
    oneLineError(await hakoAsync(scope, ['image', '--image-root', s3, 'pull', `127.0.0.1:${basic.port}/x:1`]), { match: /asks for a user and password/ });
    ok(await hakoAsync(scope, ['image', '--image-root', s3, 'pull', `127.0.0.1:${basic.port}/x:1`], scope.env({ HAKO_REGISTRY_AUTH: 'u:p' })));
    // a blob that is not what its digest says: refused, nothing stored
    const bad = await startProxy(reg.port, 'corrupt');
    proxies.push(bad);
    const s4 = scope.path('store4');
    oneLineError(await hakoAsync(scope, ['image', '--image-root', s4, 'pull', `127.0.0.1:${bad.port}/x:1`]), { match: /^hako: image: .*: its sha256 is sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}: refused$/ });
    assert.deepEqual(readdirSync(join(s4, 'blobs', 'sha256')), []);
    // a name the registry does not have
    oneLineError(await hakoAsync(scope, ['image', '--image-root', s4, 'pull', `127.0.0.1:${reg.port}/nope:1`]), { match: /has no manifest nope:1$/ });
  } finally {
    for (const p of proxies) await p.stop();
    await reg.stop();
  }
}));

/** A test CA and a certificate it signed for the IP address host, in scope's directory. */
function testCertificates(scope, host) {
  const p = (f) => scope.path(f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  ok(runSync('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-subj', '/CN=hako test CA']));
  ok(runSync('openssl', ['req', '-x509', ...ec, '-keyout', p('server.key'), '-out', p('server.pem'), '-subj', `/CN=${host}`,
    '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-addext', `subjectAltName=IP:${host}`, '-addext', 'basicConstraints=critical,CA:FALSE']));
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

// bin/hako starts Node without NODE_EXTRA_CA_CERTS (every start would parse it); `image pull` must
// still trust the CAs it names. The registry is https on 127.0.0.2 (loopback, but not one of the
// names hako speaks plain http to), with a certificate from a CA made here.
test('pull over TLS from a registry whose CA is in NODE_EXTRA_CA_CERTS; refused without it', { skip: missing || (!existsSync('/usr/bin/openssl') && '/usr/bin/openssl is not installed') }, scoped(async (scope) => {
  const host = '127.0.0.2';
  const certs = testCertificates(scope, host);
  const reg = await startRegistry(scope, { host, tls: certs });
  try {
    const layout = scope.path('layout');
    const d = writeLayout(layout, [await tarOf([{ name: 'etc/motd', data: 'over tls\n' }])], { gzip: true, refName: '1' });
    ok(runSync(SKOPEO, ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${host}:${reg.port}/t:1`]));
    const ref = `${host}:${reg.port}/t:1`;
    const env = (extra) => {
      const { NODE_EXTRA_CA_CERTS: _, ...rest } = scope.env();
      return { ...rest, ...extra };
    };
    // without the CA: the certificate is refused, one line, nothing stored
    const s1 = scope.path('store1');
    oneLineError(await hakoAsync(scope, ['image', '--image-root', s1, 'pull', ref], env({})), { match: /^hako: image: pull .*127\.0\.0\.2.*(certificate|self[- ]signed)/i });
    // with it in NODE_EXTRA_CA_CERTS: pulled, and the variable reaches what hako runs unchanged
    const s2 = scope.path('store2');
    const pulled = ok(await hakoAsync(scope, ['image', '--image-root', s2, 'pull', ref], env({ NODE_EXTRA_CA_CERTS: certs.ca })));
    assert.equal(pulled, `${ref} ${d.config}\n`);
    assert.equal(JSON.parse(ok(scope.hako(['image', '--image-root', s2, 'inspect', ref], { env: env({}) }))).digest, d.manifest);
    // a CA file that cannot be read: a warning, as Node gives, and the certificate is refused
    const s3 = scope.path('store3');
    const r = await hakoAsync(scope, ['image', '--image-root', s3, 'pull', ref], env({ NODE_EXTRA_CA_CERTS: scope.path('no-such-ca.pem') }));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^hako: warning: ignoring extra certs from .*no-such-ca\.pem \(NODE_EXTRA_CA_CERTS\): ENOENT\nhako: image: pull /);
  } finally {
    await reg.stop();
  }
}));
