// The HTTP client against real local servers: a file server that can misbehave, a forward proxy
// (absolute-URI GETs and CONNECT tunnels), and an https server with its own certificate authority.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DomainError, FailedError, InvalidError, RefusedError, TimedOutError, type FailureKind } from '../../src/errors.js';
import { HttpStatusError, httpFailure, openHttpStream, postHttp, proxyFor, readHttpBody, transferSignal, type HttpGetOptions } from '../../src/lib/http-client.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { openssl } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const direct: NodeJS.ProcessEnv = {};

/** The whole body, with a failure while reading it as httpFailure gives it. */
async function readAll(body: IncomingMessage, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  } catch (err) {
    throw httpFailure(err, signal);
  }
  return Buffer.concat(chunks);
}

async function fails(pending: Promise<unknown>, type: new (...args: never[]) => DomainError, message: RegExp, kind?: FailureKind): Promise<DomainError> {
  let caught: DomainError | undefined;
  await assert.rejects(pending, (err: Error) => {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${err.name}: ${err.message}`);
    assert.match(err.message, message);
    if (kind) assert.equal(err.kind, kind);
    caught = err;
    return true;
  });
  return caught!;
}

describe('http client', () => {
  let dir: { path: string; remove(): Promise<void> };
  let server: TestHttpServer;
  let data: Buffer;

  before(async () => {
    dir = await tempDir('ac-http-client-');
    data = randomBytes(200 * 1024 + 3);
    await writeFile(join(dir.path, 'data.bin'), data);
    server = await startHttpServer({ folder: dir.path });
  });
  after(async () => {
    await server.close();
    await dir.remove();
  });

  const get = (url: string, options: HttpGetOptions = {}) => openHttpStream(url, { env: direct, timeoutMs: 5_000, ...options });

  describe('openHttpStream', () => {
    it('hands over a 2xx body unread, with its headers and announced length', async () => {
      const stream = await get(server.url('/data.bin'));
      assert.equal(stream.status, 200);
      assert.equal(stream.declaredBytes, data.length);
      assert.equal(stream.headers['content-type'], 'application/octet-stream');
      assert.equal(stream.finalUrl, server.url('/data.bin'));
      assert.ok((await readAll(stream.body)).equals(data));
    });

    it('has no announced length for a chunked body', async () => {
      server.behave('/data.bin', { kind: 'chunked' });
      try {
        const stream = await get(server.url('/data.bin'));
        assert.equal(stream.declaredBytes, undefined);
        assert.ok((await readAll(stream.body)).equals(data));
      } finally {
        server.clear('/data.bin');
      }
    });

    it('follows redirects and tells where it ended', async () => {
      server.behave('/r1', { kind: 'redirect', location: '/r2', status: 301 });
      server.behave('/r2', { kind: 'redirect', location: server.url('/data.bin'), status: 307 });
      const stream = await get(server.url('/r1'));
      assert.equal(stream.finalUrl, server.url('/data.bin'));
      assert.ok((await readAll(stream.body)).equals(data));
    });

    it('refuses more redirects than allowed (five unless told)', async () => {
      for (let i = 0; i < 6; i++) server.behave(`/loop${i}`, { kind: 'redirect', location: `/loop${i + 1}` });
      server.behave('/loop6', { kind: 'redirect', location: '/data.bin' });
      await fails(get(server.url('/loop0')), FailedError, /^more than 5 redirects$/);
      await fails(get(server.url('/loop4'), { maxRedirects: 1 }), FailedError, /^more than 1 redirects$/);
      (await get(server.url('/loop4'), { maxRedirects: 3 })).body.resume();
    });

    it('refuses a redirect to something other than http/https', async () => {
      server.behave('/to-file', { kind: 'redirect', location: 'file:///etc/passwd' });
      await fails(get(server.url('/to-file')), RefusedError, /^redirect to a file URL refused$/);
    });

    it('fails with the status of any other answer', async () => {
      const err = await fails(get(server.url('/missing.bin')), HttpStatusError, /^HTTP 404 Not Found$/, 'failed');
      assert.equal((err as HttpStatusError).status, 404);
    });

    it('accepts only http and https URLs', async () => {
      await fails(get('file:///etc/passwd'), InvalidError, /^only http and https URLs are accepted, not file$/);
      await fails(get('not a url'), InvalidError, /^invalid url "not a url"$/);
    });

    it('gives up after timeoutMs without data, also while the body streams', async () => {
      server.behave('/data.bin', { kind: 'stall', afterBytes: 4096 });
      try {
        const stream = await get(server.url('/data.bin'), { timeoutMs: 300 });
        await fails(readAll(stream.body), TimedOutError, /^no data for 300 ms$/);
      } finally {
        server.clear('/data.bin');
      }
    });

    it('ends a transfer at its deadline, and on the caller\'s signal', async () => {
      server.behave('/data.bin', { kind: 'slow', chunkBytes: 8 * 1024, everyMs: 50 });
      try {
        const signal = transferSignal(undefined, 200);
        const stream = await get(server.url('/data.bin'), { signal });
        await fails(readAll(stream.body, signal), TimedOutError, /^not finished within 200 ms$/);
        const controller = new AbortController();
        const cancelled = transferSignal(controller.signal, 60_000);
        const second = await get(server.url('/data.bin'), { signal: cancelled });
        setTimeout(() => controller.abort(), 100);
        await fails(readAll(second.body, cancelled), FailedError, /^cancelled$/);
        await fails(get(server.url('/data.bin'), { signal: AbortSignal.abort() }), FailedError, /^cancelled$/);
      } finally {
        server.clear('/data.bin');
      }
    });
  });

  describe('readHttpBody', () => {
    it('reads a small body, and refuses one over its limit', async () => {
      assert.ok((await readHttpBody(server.url('/data.bin'), { env: direct, maxBytes: data.length })).equals(data));
      await fails(readHttpBody(server.url('/data.bin'), { env: direct, maxBytes: 1000 }), RefusedError, /^larger than 1000 bytes$/);
    });

    it('says when the connection was cut', async () => {
      server.behave('/data.bin', { kind: 'cut', afterBytes: 1000 });
      try {
        await fails(readHttpBody(server.url('/data.bin'), { env: direct, maxBytes: data.length }), FailedError, /^the connection was cut before the end of the file$/);
      } finally {
        server.clear('/data.bin');
      }
    });
  });

  describe('with a token', () => {
    let guarded: TestHttpServer;
    let elsewhere: TestHttpServer;
    before(async () => {
      guarded = await startHttpServer({ folder: dir.path, token: 's3cret-token' });
      elsewhere = await startHttpServer({ folder: dir.path });
    });
    after(async () => {
      await guarded.close();
      await elsewhere.close();
    });

    it('sends it as Authorization: Bearer to the first URL\'s origin, also after a redirect there', async () => {
      guarded.behave('/here', { kind: 'redirect', location: '/data.bin' });
      guarded.requests.length = 0;
      (await get(guarded.url('/here'), { token: 's3cret-token' })).body.resume();
      assert.deepEqual(guarded.requests.map((r) => [r.path, r.headers.authorization]), [['/here', 'Bearer s3cret-token'], ['/data.bin', 'Bearer s3cret-token']]);
      await fails(get(guarded.url('/data.bin')), HttpStatusError, /^HTTP 401/);
    });

    it('never sends it to another origin after a redirect', async () => {
      guarded.behave('/away', { kind: 'redirect', location: elsewhere.url('/data.bin') });
      elsewhere.requests.length = 0;
      const stream = await get(guarded.url('/away'), { token: 's3cret-token' });
      assert.equal(stream.finalUrl, elsewhere.url('/data.bin'));
      assert.ok((await readAll(stream.body)).equals(data));
      assert.equal(elsewhere.requests.length, 1);
      assert.equal(elsewhere.requests[0]?.headers.authorization, undefined);
    });
  });

  describe('proxies', () => {
    let proxy: TestProxy;
    let secure: { port: number; close(): Promise<void> };
    let ca: string;

    before(async () => {
      proxy = await startProxy();
      const key = join(dir.path, 'tls-key.pem');
      const cert = join(dir.path, 'tls-cert.pem');
      await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
      ca = await readFile(cert, 'utf8');
      secure = await startHttpsFileServer(dir.path, await readFile(key, 'utf8'), ca);
    });
    after(async () => {
      await proxy.close();
      await secure.close();
    });

    it('picks the proxy the environment names for the scheme, unless no_proxy exempts the host', () => {
      const http_ = new URL('http://a.example.org/x');
      const https_ = new URL('https://a.example.org/x');
      assert.equal(proxyFor(http_, {}), undefined);
      assert.equal(proxyFor(http_, { http_proxy: ' ' }), undefined);
      assert.equal(proxyFor(http_, { HTTP_PROXY: 'proxy:3128' })?.href, 'http://proxy:3128/');
      assert.equal(proxyFor(http_, { https_proxy: 'http://s:1' }), undefined);
      assert.equal(proxyFor(https_, { https_proxy: 'http://s:1', all_proxy: 'http://all:2' })?.host, 's:1');
      assert.equal(proxyFor(https_, { ALL_PROXY: 'http://all:2' })?.host, 'all:2');
      for (const noProxy of ['*', 'example.org', '.example.org', '*.example.org', 'a.example.org:80', 'other.net, A.EXAMPLE.ORG']) {
        assert.equal(proxyFor(http_, { http_proxy: 'http://p:1', no_proxy: noProxy }), undefined, noProxy);
      }
      assert.ok(proxyFor(http_, { http_proxy: 'http://p:1', NO_PROXY: 'ample.org,b.example.org' }));
      assert.equal(proxyFor(new URL('http://[::1]:8080/'), { http_proxy: 'http://p:1', no_proxy: '[::1]:8080' }), undefined);
    });

    it('refuses a proxy setting it cannot use', () => {
      assert.throws(() => proxyFor(new URL('http://h/'), { http_proxy: 'socks5://p:1080' }), (err: Error) => err instanceof RefusedError && /only http:\/\/ proxies/.test(err.message));
      assert.throws(() => proxyFor(new URL('http://h/'), { http_proxy: 'http://[bad' }), (err: Error) => err instanceof FailedError && /is not a URL/.test(err.message));
    });

    it('asks an http_proxy for plain http URLs, with its credentials', async () => {
      proxy.seen.length = 0;
      proxy.authorization.length = 0;
      const stream = await get(server.url('/data.bin'), { env: { http_proxy: `http://us%40er:p%3Ass@127.0.0.1:${proxy.port}` } });
      assert.ok((await readAll(stream.body)).equals(data));
      assert.deepEqual(proxy.seen, [`GET ${server.url('/data.bin')}`]);
      assert.deepEqual(proxy.authorization, [`Basic ${Buffer.from('us@er:p:ss').toString('base64')}`]);
    });

    it('goes direct for hosts in no_proxy', async () => {
      proxy.seen.length = 0;
      (await get(server.url('/data.bin'), { env: { HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: 'example.org,127.0.0.1' } })).body.resume();
      assert.deepEqual(proxy.seen, []);
    });

    it('speaks https with a given CA, and refuses a server it cannot authenticate', async () => {
      const stream = await get(`https://localhost:${secure.port}/data.bin`, { ca });
      assert.ok((await readAll(stream.body)).equals(data));
      await fails(get(`https://localhost:${secure.port}/data.bin`), FailedError, /certificate/);
    });

    it('tunnels https through the proxy with CONNECT', async () => {
      proxy.seen.length = 0;
      const stream = await get(`https://localhost:${secure.port}/data.bin`, { ca, env: { https_proxy: `127.0.0.1:${proxy.port}` } });
      assert.ok((await readAll(stream.body)).equals(data));
      assert.deepEqual(proxy.seen, [`CONNECT localhost:${secure.port}`]);
    });

    it('says when the proxy refuses the tunnel', async () => {
      await fails(get('https://blocked.invalid/data.bin', { env: { https_proxy: `http://127.0.0.1:${proxy.port}` } }), FailedError, /^proxy refused the tunnel: HTTP 403$/);
    });
  });
});

describe('postHttp', () => {
  let server: http.Server;
  let origin: string;
  let proxy: TestProxy;

  before(async () => {
    // Echoes what it received as JSON; /moved answers 307 to /echo, /refuse 422 with a text.
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/moved') return void res.writeHead(307, { location: '/echo' }).end();
        if (req.url === '/refuse') return void res.writeHead(422, { 'content-type': 'text/plain' }).end('the csr is not valid');
        if (req.url === '/big') return void res.writeHead(200).end(Buffer.alloc(2000, 'x'));
        const echo = { method: req.method, url: req.url, type: req.headers['content-type'], accept: req.headers.accept,
          length: req.headers['content-length'], authorization: req.headers.authorization, body: Buffer.concat(chunks).toString() };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echo));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    const address = server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    proxy = await startProxy();
  });
  after(async () => {
    await proxy.close();
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });

  const body = { data: 'a=1&b=%C3%A9', contentType: 'application/x-www-form-urlencoded', accept: 'application/json' };

  it('sends the body with its type, length and the token, and reads the answer', async () => {
    const answer = await postHttp(`${origin}/echo`, { body, token: 'tok', maxBytes: 10_000, env: direct });
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body.toString()), {
      method: 'POST', url: '/echo', type: body.contentType, accept: 'application/json', length: String(body.data.length), authorization: 'Bearer tok', body: body.data,
    });
  });

  it('follows 307 with the same method, body and token; hands back any other status with its text', async () => {
    const moved = await postHttp(`${origin}/moved`, { body, token: 'tok', maxBytes: 10_000, env: direct });
    assert.equal(moved.status, 200);
    const echo = JSON.parse(moved.body.toString()) as Record<string, string>;
    assert.deepEqual([echo.method, echo.url, echo.body, echo.authorization], ['POST', '/echo', body.data, 'Bearer tok']);
    const refused = await postHttp(`${origin}/refuse`, { body, maxBytes: 10_000, env: direct });
    assert.deepEqual([refused.status, refused.statusMessage, refused.body.toString()], [422, 'Unprocessable Entity', 'the csr is not valid']);
  });

  it('refuses an answer over maxBytes', async () => {
    await fails(postHttp(`${origin}/big`, { body, maxBytes: 1000, env: direct }), RefusedError, /larger than 1000 bytes/);
  });

  it('goes through the http_proxy', async () => {
    proxy.seen.length = 0;
    const answer = await postHttp(`${origin}/echo`, { body, maxBytes: 10_000, env: { http_proxy: `http://127.0.0.1:${proxy.port}` } });
    assert.equal(JSON.parse(answer.body.toString()).body, body.data);
    assert.deepEqual(proxy.seen, [`POST ${origin}/echo`]);
  });
});

interface TestProxy {
  port: number;
  /** "METHOD target" of every request. */
  seen: string[];
  /** The Proxy-Authorization header of every request that had one. */
  authorization: string[];
  close(): Promise<void>;
}

/** A minimal forward proxy: absolute-URI GETs and CONNECT tunnels (403 for *.invalid). */
async function startProxy(): Promise<TestProxy> {
  const seen: string[] = [];
  const authorization: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.headers['proxy-authorization']) authorization.push(req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '');
    const upstream = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    if (host?.endsWith('.invalid')) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host ?? '', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream).add(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    seen,
    authorization,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** An https server on 127.0.0.1 serving the files of `folder`. */
async function startHttpsFileServer(folder: string, key: string, cert: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ key, cert }, (req, res) => {
    const name = (req.url ?? '/').slice(1);
    readFile(join(folder, name)).then(
      (body) => res.writeHead(200, { 'content-length': body.length }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
