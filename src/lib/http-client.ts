// HTTP GET for downloads (sketches, agent updates) and POST for the cloud's registration API,
// with what a device behind a corporate network needs and nothing more: http and https only, redirects followed a few times, a Bearer token
// that never leaves the origin it was given for, the proxy that the usual environment variables
// name (CONNECT tunnels for https), and a time-out that stays armed while the body streams. The
// body is handed over unread, so a caller can stream it to disk without holding it in memory.
// Failures are domain errors whose message is the bare reason ("HTTP 404 Not Found", "no data for
// 30000 ms"), for the caller to prefix with its step.

import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { DomainError, FailedError, InvalidError, RefusedError, TimedOutError } from '../errors.js';
import { errorMessage } from '../log.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REDIRECTS = 5;

export interface HttpGetOptions {
  /** Sent as `Authorization: Bearer`, to the origin of the first URL only. */
  token?: string;
  /** Connect and idle time-out: no data for this long (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  maxRedirects?: number;
  /** Where http_proxy / https_proxy / all_proxy / no_proxy are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra certificate authorities for https (default: Node's bundled ones). */
  ca?: string | Buffer;
}

export interface HttpStream {
  /** The 2xx response, its body not read yet. A reader that stops early destroys it. */
  body: IncomingMessage;
  status: number;
  headers: IncomingHttpHeaders;
  /** Content-Length, when the server announced one. */
  declaredBytes: number | undefined;
  /** The URL that answered, after redirects. */
  finalUrl: string;
}

/** The server answered with a status that is neither success nor a redirect to follow. */
export class HttpStatusError extends FailedError {
  constructor(readonly status: number, statusMessage: string | undefined) {
    super(`HTTP ${status}${statusMessage ? ` ${statusMessage}` : ''}`);
  }
}

export function checkHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidError(`invalid url ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidError(`only http and https URLs are accepted, not ${parsed.protocol.replace(/:$/, '')}`);
  }
  return parsed;
}

/** The caller's signal and a deadline for a whole transfer (several requests and their bodies, each
 * of which the idle time-out alone cannot bound against a server that trickles). When the deadline
 * passes, the signal's reason is a TimedOutError that httpFailure gives back. */
export function transferSignal(signal: AbortSignal | undefined, deadlineMs: number | undefined): AbortSignal | undefined {
  if (deadlineMs === undefined) return signal;
  const deadline = new AbortController();
  setTimeout(() => deadline.abort(new TimedOutError(`not finished within ${deadlineMs} ms`)), deadlineMs).unref();
  return signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
}

/** Any failure of a request or of reading its body, as a domain error with the bare reason. */
export function httpFailure(err: unknown, signal?: AbortSignal): DomainError {
  if (err instanceof DomainError) return err;
  if (signal?.aborted) return signal.reason instanceof DomainError ? signal.reason : new FailedError('cancelled', { cause: err });
  // Node says "aborted" when a response is cut mid-body.
  if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || errorMessage(err) === 'aborted') {
    return new FailedError('the connection was cut before the end of the file', { cause: err });
  }
  return new FailedError(errorMessage(err), { cause: err });
}

/** Where a redirect leads: an http or https URL, within the allowed number of redirects. */
function redirectTarget(current: URL, location: string, redirects: number, maxRedirects: number): URL {
  if (redirects >= maxRedirects) throw new FailedError(`more than ${maxRedirects} redirects`);
  const next = new URL(location, current);
  if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new RefusedError(`redirect to a ${next.protocol.replace(/:$/, '')} URL refused`);
  return next;
}

/** GETs url, following redirects (http and https only), and resolves with the 2xx response whose
 * body is not read yet. */
export async function openHttpStream(url: string, options: HttpGetOptions = {}): Promise<HttpStream> {
  const first = checkHttpUrl(url);
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = first;
  try {
    for (let redirects = 0; ; redirects++) {
      const token = current.origin === first.origin ? options.token : undefined;
      const response = await send(current, token, options);
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        const declared = Number(response.headers['content-length']);
        return {
          body: response,
          status,
          headers: response.headers,
          declaredBytes: response.headers['content-length'] !== undefined && Number.isFinite(declared) ? declared : undefined,
          finalUrl: current.href,
        };
      }
      response.resume();
      const location = response.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        current = redirectTarget(current, location, redirects, maxRedirects);
        continue;
      }
      throw new HttpStatusError(status, response.statusMessage);
    }
  } catch (err) {
    throw httpFailure(err, options.signal);
  }
}

/** GETs a small body (a signature, a checksum) into memory, refusing anything over `maxBytes`. */
export async function readHttpBody(url: string, options: HttpGetOptions & { maxBytes: number }): Promise<Buffer> {
  const { body } = await openHttpStream(url, options);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > options.maxBytes) throw new RefusedError(`larger than ${options.maxBytes} bytes`);
      chunks.push(chunk);
    }
    if (!body.complete) throw new FailedError('the connection closed before the end of the file');
  } catch (err) {
    body.destroy();
    throw httpFailure(err, options.signal);
  }
  return Buffer.concat(chunks);
}

/** What a POST sends. */
export interface RequestBody {
  data: string | Buffer;
  contentType: string;
  /** The Accept header (default any). */
  accept?: string;
}

export interface HttpPostOptions extends HttpGetOptions {
  body: RequestBody;
  /** The largest answer read into memory; a longer one is refused. */
  maxBytes: number;
}

/** A whole answer, whatever its status: an API's error statuses carry the text that says why. */
export interface HttpAnswer {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** POSTs a small body to an API and reads the answer, whatever its status. Redirects 307 and 308
 * (which keep the method and body) are followed; any other status is the caller's to judge. */
export async function postHttp(url: string, options: HttpPostOptions): Promise<HttpAnswer> {
  const first = checkHttpUrl(url);
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = first;
  try {
    for (let redirects = 0; ; redirects++) {
      const token = current.origin === first.origin ? options.token : undefined;
      const response = await send(current, token, options, options.body);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if ((status === 307 || status === 308) && location) {
        response.resume();
        current = redirectTarget(current, location, redirects, maxRedirects);
        continue;
      }
      const body = await readAll(response, options.maxBytes);
      return { status, statusMessage: response.statusMessage ?? '', headers: response.headers, body };
    }
  } catch (err) {
    throw httpFailure(err, options.signal);
  }
}

async function readAll(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new RefusedError(`the answer is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
    if (!response.complete) throw new FailedError('the connection closed before the end of the answer');
  } catch (err) {
    response.destroy();
    throw err;
  }
  return Buffer.concat(chunks);
}

/** One request (a GET, or a POST of `body`), directly or through the proxy the environment names,
 * with a connect/idle time-out that stays armed while the body streams. */
async function send(url: URL, token: string | undefined, options: HttpGetOptions, body?: RequestBody): Promise<IncomingMessage> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const headers: OutgoingHttpHeaders = { 'user-agent': 'arduino-connector', accept: body?.accept ?? '*/*' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) {
    headers['content-type'] = body.contentType;
    headers['content-length'] = Buffer.byteLength(body.data);
  }
  const proxy = proxyFor(url, options.env ?? process.env);
  const secure = url.protocol === 'https:';
  const host = bareHost(url);
  const port = Number(url.port) || (secure ? 443 : 80);
  const path = url.pathname + url.search;
  const base = { method: body ? 'POST' : 'GET', headers, timeout: timeoutMs, signal: options.signal };

  let request: http.ClientRequest;
  if (!proxy) {
    const target = { ...base, host, port, path, agent: false as const };
    request = secure ? https.request({ ...target, servername: tlsServerName(url), ca: options.ca }) : http.request(target);
  } else if (!secure) {
    // A plain-HTTP proxy is asked for the absolute URL.
    request = http.request({ ...base, host: bareHost(proxy), port: Number(proxy.port) || 80, path: url.href, agent: false,
      headers: { ...headers, host: url.host, ...proxyAuthorization(proxy) } });
  } else {
    const socket = await tunnel(proxy, host, port, timeoutMs, options.signal);
    request = https.request({ ...base, host, port, path,
      createConnection: () => tls.connect({ socket, servername: tlsServerName(url), ca: options.ca }) });
  }

  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    request.on('timeout', () => {
      const err = new TimedOutError(`no data for ${timeoutMs} ms`);
      // Once the body streams, the reader of the response must see the time-out, not "aborted".
      if (response) response.destroy(err);
      request.destroy(err);
    });
    request.once('response', (res) => {
      response = res;
      resolve(res);
    });
    request.once('error', reject);
    request.end(body?.data);
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
function tunnel(proxy: URL, host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const connect = http.request({
      host: bareHost(proxy),
      port: Number(proxy.port) || 80,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuthorization(proxy) },
      timeout: timeoutMs,
      signal,
      agent: false,
    });
    connect.on('timeout', () => connect.destroy(new TimedOutError(`proxy gave no answer for ${timeoutMs} ms`)));
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new FailedError(`proxy refused the tunnel: HTTP ${res.statusCode}`));
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
    throw new FailedError(`the proxy setting ${JSON.stringify(value)} is not a URL`);
  }
  if (proxy.protocol !== 'http:') throw new RefusedError(`only http:// proxies are supported, not ${proxy.protocol}`);
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
