// A program and its signature served for one download each on 127.0.0.1, the way `upload` fetches
// them: a random bearer token is required, every path is served once (a second request gets 410),
// and the server closes once everything was fetched, or at the time-out, whichever comes first.

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';

export type Served = { file: string } | { data: Buffer };

export interface OneShotServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  token: string;
  /** Resolves when every path was served, or at the time-out, or at close(). */
  done: Promise<void>;
  close(): Promise<void>;
}

/** `paths` maps a URL path ("/name") to what it serves. */
export async function serveOnce(paths: Map<string, Served>, timeoutMs: number): Promise<OneShotServer> {
  const token = randomBytes(32).toString('hex');
  const left = new Map(paths);
  let finish = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));

  const send = async (res: ServerResponse, what: Served) => {
    if ('data' in what) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': what.data.length }).end(what.data);
      return;
    }
    const size = (await stat(what.file)).size;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    createReadStream(what.file).on('error', () => res.destroy()).pipe(res);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    const what = left.get(path);
    if (req.method !== 'GET' || !what) {
      res.writeHead(paths.has(path) ? 410 : 404, { 'content-type': 'text/plain' }).end(paths.has(path) ? 'already served\n' : 'not found\n');
      return;
    }
    left.delete(path);
    res.on('close', () => {
      if (left.size === 0) finish();
    });
    send(res, what).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const timer = setTimeout(finish, timeoutMs);
  timer.unref();
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      clearTimeout(timer);
      finish();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
  void done.then(close);
  return { origin: `http://127.0.0.1:${port}`, token, done, close };
}
