// The web console's own server: the built app's static files and /config.json, on 127.0.0.1 only.
// The browser then speaks MQTT over WebSocket straight to the broker; nothing here relays it.

import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConsoleConfig } from './config.js';
import { answerDrop, isOwnHost, type DropPublisher } from './drop-deploy.js';

export type { ConsoleConfig };

export interface ConsoleServer {
  port: number;
  /** http://127.0.0.1:<port>/ */
  url: string;
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

// Every asset is served from here, so the page may load nothing from elsewhere; it may open
// WebSockets to any broker (the user's choice); xterm.js sets inline styles.
const contentSecurityPolicy =
  "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** The folder of the built console: beside the agent's bundle (dist/console), or the source
 * checkout's dist/console when run from src/. */
export function defaultConsoleRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'console'), join(here, '..', 'console'), join(here, '..', '..', 'dist', 'console')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

export function validateConsoleConfig(config: ConsoleConfig): void {
  if (!/^wss?:\/\//i.test(config.brokerUrl)) throw new Error(`console broker: expected a ws:// or wss:// URL, got "${config.brokerUrl}"`);
  if (!config.baseTopic.includes('{id}')) throw new Error(`console base topic: expected a pattern with {id}, got "${config.baseTopic}"`);
  if (!(config.staleAfterSeconds > 0)) throw new Error(`console stale-after: expected a positive number of seconds, got ${config.staleAfterSeconds}`);
  if (!(config.answerTimeoutSeconds > 0)) throw new Error(`console timeout: expected a positive number of seconds, got ${config.answerTimeoutSeconds}`);
}

/** Maps a URL path to a file under `root`, or undefined when it would leave it. */
export function fileOfPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const file = resolve(root, `.${decoded.endsWith('/') ? `${decoded}index.html` : decoded}`);
  return file === root || file.startsWith(root + sep) ? file : undefined;
}

/** `publisher` (local mode, with its signing key) turns on POST /deploy for dropped programs. */
export async function startConsoleServer(options: { root: string; config: ConsoleConfig; port: number; host?: string; publisher?: DropPublisher }): Promise<ConsoleServer> {
  validateConsoleConfig(options.config);
  const root = resolve(options.root);
  if (!existsSync(join(root, 'index.html'))) throw new Error(`console: no built app in ${root} (run npm run build)`);
  const host = options.host ?? '127.0.0.1';
  const publisher = options.publisher;
  // A fresh token per server: the page reads it from /config.json, which other sites cannot.
  const dropToken = publisher ? randomBytes(32).toString('hex') : undefined;
  const configBody = JSON.stringify(publisher && dropToken ? { ...options.config, deploy: { token: dropToken, maxBytes: publisher.maxBytes } } : options.config);
  let port = options.port;

  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
    res.end(body);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/deploy' && req.method === 'POST' && publisher && dropToken) return answerDrop(req, res, { port, token: dropToken, publisher });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'GET only\n');
    // With a drop token in it, the config goes to this server's own page only.
    if (path === '/config.json' && dropToken && !isOwnHost(req, port)) return send(res, 403, 'text/plain; charset=utf-8', 'wrong host\n');
    if (path === '/config.json') return send(res, 200, contentTypes['.json']!, configBody);
    const file = fileOfPath(root, path);
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !info?.isFile()) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    res.writeHead(200, {
      'content-type': contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      'x-content-type-options': 'nosniff',
      'content-security-policy': contentSecurityPolicy,
      'referrer-policy': 'no-referrer',
      // Vite names every asset by its content hash; the page itself must always be fresh.
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  };

  const server = createServer((req, res) => {
    answer(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  port = await new Promise<number>((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolvePort(typeof address === 'object' && address ? address.port : options.port);
    });
  });
  return {
    port,
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
