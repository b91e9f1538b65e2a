// Downloads a sketch and its detached signature and checks one against the other without ever
// holding the sketch in memory: the body is hashed as it is written to an unpredictable temporary
// file, which is removed on any failure so a failed upload leaves nothing behind.

import { createVerify, randomBytes, type KeyObject } from 'node:crypto';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { CommandError } from '../errors.js';
import { errorMessage } from '../log.js';
import { YoungGarbageCollector } from '../lib/young-garbage.js';

export interface DownloadRequest {
  url: string;
  token?: string;
  folder: string;
  maxBytes: number;
  publicKey: KeyObject;
  /** Connect and idle time-out (no data for this long). */
  timeoutMs?: number;
  /** Limit on the whole transfer, file and signature (default: none): a server that trickles a
   * byte now and then never trips the idle time-out. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Where http_proxy / https_proxy / all_proxy / no_proxy are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra certificate authorities for https (default: Node's bundled ones). */
  ca?: string | Buffer;
}

export interface VerifiedDownload {
  tempPath: string;
  bytes: number;
}

export const defaultDownloadTimeoutMs = 30_000;
const maxRedirects = 5;
/** A signature is the size of the RSA modulus (at most 2 KiB for a 16384-bit key). */
const maxSignatureBytes = 64 * 1024;

/** Streams url into a temp file in `folder` while hashing, fetches url+".sig", verifies. On any
 * failure the temp file is gone and a CommandError names the step (e.g. "download failed: HTTP
 * 404", "signature download failed: ...", "signature check failed: ...", "sketch larger than ...").
 * The caller renames tempPath into place. */
export async function downloadVerified(req: DownloadRequest): Promise<VerifiedDownload> {
  checkHttpUrl(req.url);
  const expectedSignatureBytes = signatureLength(req.publicKey);
  const deadline = req.deadlineMs === undefined ? undefined : AbortSignal.timeout(req.deadlineMs);
  const signal = deadline && req.signal ? AbortSignal.any([req.signal, deadline]) : deadline ?? req.signal;
  const describeFailure = (err: unknown) => {
    if (deadline?.aborted) return `not finished within ${req.deadlineMs} ms`;
    if (signal?.aborted) return 'cancelled';
    return describeError(err);
  };
  const fetchOptions: FetchOptions = {
    token: req.token,
    timeoutMs: req.timeoutMs ?? defaultDownloadTimeoutMs,
    signal,
    env: req.env ?? process.env,
    ca: req.ca,
  };

  const response = await step('download failed', () => openResponse(req.url, fetchOptions), describeFailure);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > req.maxBytes) {
    response.destroy();
    throw tooLarge(req.maxBytes);
  }

  const tempPath = join(req.folder, `.download-${randomBytes(16).toString('hex')}.part`);
  let file: FileHandle;
  try {
    // O_EXCL: never write through a file or link someone else placed under this name.
    file = await open(tempPath, 'wx', 0o600);
  } catch (err) {
    response.destroy();
    throw new CommandError(`saving the download failed: ${errorMessage(err)}`, { cause: err });
  }

  try {
    const verifier = createVerify('sha256');
    // A minor collection every 2 MiB, and at most 512 KiB waiting for the disk: what is still in
    // flight at a collection must be young enough not to be promoted (it survives at most one),
    // or its buffers would wait for a major collection. First 100 MiB upload, peak RSS growth:
    // 17-18 MiB with 1 MiB queued and a collection every 4 MiB; 11 MiB now, at the same speed;
    // 57-61 MiB with 1 MiB queued and a collection every 512 KiB (promoted buffers).
    const garbage = new YoungGarbageCollector(2 * 1024 * 1024);
    let bytes = 0;
    // A write stream keeps the disk busy while the next chunks arrive; its buffer bounds memory.
    // 512 KiB: see the collection above.
    // It owns the file from here: it fsyncs (flush) and closes it at the end, or closes it on error.
    const out = file.createWriteStream({ highWaterMark: 512 * 1024, flush: true });
    let writeError: unknown;
    out.on('error', (err) => {
      writeError ??= err;
      response.destroy();
    });
    const savingFailed = () => new CommandError(`saving the download failed: ${errorMessage(writeError)}`, { cause: writeError });
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > req.maxBytes) throw tooLarge(req.maxBytes);
        verifier.update(chunk);
        if (!out.write(chunk)) await drained(out);
        garbage.add(chunk.length);
        if (writeError) throw savingFailed();
      }
      if (!response.complete) throw new Error('the connection closed before the end of the file');
      out.end();
      await finished(out);
    } catch (err) {
      response.destroy();
      out.destroy();
      if (writeError) throw savingFailed();
      if (err instanceof CommandError) throw err;
      throw new CommandError(`download failed: ${describeFailure(err)}`, { cause: err });
    }
    const signature = await step('signature download failed', () => fetchSmall(`${req.url}.sig`, fetchOptions, maxSignatureBytes), describeFailure);
    if (signature.length !== expectedSignatureBytes) {
      throw new CommandError(`signature check failed: the signature has ${signature.length} bytes, the key expects ${expectedSignatureBytes}`);
    }
    if (!verifier.verify(req.publicKey, signature)) {
      throw new CommandError('signature check failed: the file does not match its signature');
    }
    return { tempPath, bytes };
  } catch (err) {
    await file.close().catch(() => {});
    await unlink(tempPath).catch(() => {});
    throw err;
  }
}

const tempNamePattern = /^\.download-[0-9a-f]{32}\.part$/;

/** Removes temporary downloads left in `folder` by an agent that was killed mid-download; call it
 * at start, before any download runs. Returns the names removed. */
export async function removeStaleDownloads(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const stale = names.filter((name) => tempNamePattern.test(name));
  await Promise.all(stale.map((name) => unlink(join(folder, name)).catch(() => {})));
  return stale;
}

interface FetchOptions {
  token: string | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  env: NodeJS.ProcessEnv;
  ca: string | Buffer | undefined;
}

function checkHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CommandError(`invalid url ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CommandError(`only http and https URLs are accepted, not ${parsed.protocol.replace(/:$/, '')}`);
  }
  return parsed;
}

function signatureLength(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new CommandError('signature check failed: the configured key is not an RSA public key');
  return Math.ceil(bits / 8);
}

function tooLarge(maxBytes: number): CommandError {
  return new CommandError(`sketch larger than ${maxBytes} bytes (max_sketch_size)`);
}

/** Runs one step; any failure that is not already a CommandError becomes one prefixed with `label`. */
async function step<T>(label: string, run: () => Promise<T>, describe: (err: unknown) => string): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof CommandError) throw err;
    throw new CommandError(`${label}: ${describe(err)}`, { cause: err });
  }
}

function describeError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || errorMessage(err) === 'aborted') return 'the connection was cut before the end of the file';
  return errorMessage(err);
}

/** Resolves when the stream wants more data, or is closed (after an error). */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}

/** Reads a small body (the signature) into memory, refusing anything bigger than `limit`. */
async function fetchSmall(url: string, options: FetchOptions, limit: number): Promise<Buffer> {
  const response = await openResponse(url, options);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new Error(`larger than ${limit} bytes`);
      chunks.push(chunk);
    }
    if (!response.complete) throw new Error('the connection closed before the end of the file');
  } catch (err) {
    response.destroy();
    if (errorMessage(err) === 'aborted') throw new Error('the connection was cut before the end of the file');
    throw err;
  }
  return Buffer.concat(chunks);
}

/** GETs url, following up to five redirects (http/https only), and resolves with a 2xx response
 * whose body is not read yet. The Bearer token goes only to the origin of the original URL. */
async function openResponse(url: string, options: FetchOptions): Promise<IncomingMessage> {
  const origin = new URL(url).origin;
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const token = current.origin === origin ? options.token : undefined;
    const response = await get(current, token, options);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    response.resume();
    const location = response.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location) {
      if (redirects >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects`);
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error(`redirect to a ${next.protocol.replace(/:$/, '')} URL refused`);
      current = next;
      continue;
    }
    throw new Error(`HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`);
  }
}

/** One GET, directly or through the proxy the environment names, with a connect/idle time-out that
 * stays armed while the body streams. */
async function get(url: URL, token: string | undefined, options: FetchOptions): Promise<IncomingMessage> {
  const headers: OutgoingHttpHeaders = { 'user-agent': 'arduino-connector', accept: '*/*' };
  if (token) headers.authorization = `Bearer ${token}`;
  const proxy = proxyFor(url, options.env);
  const secure = url.protocol === 'https:';
  const host = bareHost(url);
  const port = Number(url.port) || (secure ? 443 : 80);
  const path = url.pathname + url.search;
  const base = { method: 'GET', headers, timeout: options.timeoutMs, signal: options.signal };

  let request: http.ClientRequest;
  if (!proxy) {
    const target = { ...base, host, port, path, agent: false as const };
    request = secure ? https.request({ ...target, servername: tlsServerName(url), ca: options.ca }) : http.request(target);
  } else if (!secure) {
    // A plain-HTTP proxy is asked for the absolute URL.
    request = http.request({ ...base, host: bareHost(proxy), port: Number(proxy.port) || 80, path: url.href, agent: false,
      headers: { ...headers, host: url.host, ...proxyAuthorization(proxy) } });
  } else {
    const socket = await tunnel(proxy, host, port, options);
    request = https.request({ ...base, host, port, path,
      createConnection: () => tls.connect({ socket, servername: tlsServerName(url), ca: options.ca }) });
  }

  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    request.on('timeout', () => {
      const err = new Error(`no data for ${options.timeoutMs} ms`);
      // Once the body streams, the reader of the response must see the time-out, not "aborted".
      if (response) response.destroy(err);
      request.destroy(err);
    });
    request.once('response', (res) => {
      response = res;
      resolve(res);
    });
    request.once('error', reject);
    request.end();
  });
}

function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function tlsServerName(url: URL): string | undefined {
  const host = bareHost(url);
  // SNI carries host names only, never addresses.
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}

/** An HTTP CONNECT tunnel through `proxy` to url's host, for https through a proxy. */
function tunnel(proxy: URL, host: string, port: number, options: FetchOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const connect = http.request({
      host: bareHost(proxy),
      port: Number(proxy.port) || 80,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuthorization(proxy) },
      timeout: options.timeoutMs,
      signal: options.signal,
      agent: false,
    });
    connect.on('timeout', () => connect.destroy(new Error(`proxy gave no answer for ${options.timeoutMs} ms`)));
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxy refused the tunnel: HTTP ${res.statusCode}`));
        return;
      }
      resolve(socket);
    });
    connect.once('error', reject);
    connect.end();
  });
}

function proxyAuthorization(proxy: URL): OutgoingHttpHeaders {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** The proxy the usual environment variables name for url, or undefined to go direct. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv): URL | undefined {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v.trim() !== '');
  const value = url.protocol === 'https:' ? pick('https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY') : pick('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY');
  if (!value) return undefined;
  if (bypassesProxy(url, pick('no_proxy', 'NO_PROXY') ?? '')) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    throw new Error(`the proxy setting ${JSON.stringify(value)} is not a URL`);
  }
  if (proxy.protocol !== 'http:') throw new Error(`only http:// proxies are supported, not ${proxy.protocol}`);
  return proxy;
}

function bypassesProxy(url: URL, noProxy: string): boolean {
  const host = bareHost(url).toLowerCase();
  return noProxy
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      let name = entry;
      if (name.startsWith('[')) name = name.slice(1, name.indexOf(']'));
      else if (name.split(':').length === 2) name = name.split(':')[0] ?? name;
      name = name.replace(/^\*?\./, '');
      return host === name || host.endsWith(`.${name}`);
    });
}
