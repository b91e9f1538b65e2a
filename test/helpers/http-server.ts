// A real HTTP server on 127.0.0.1 that serves the files of one folder, and can be told to misbehave
// for chosen paths: answer with an error status, redirect, cut the connection or stall mid-body.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { resolve, sep } from 'node:path';

export type Behaviour =
  /** Answer with this status and a short text body. */
  | { kind: 'status'; status: number }
  /** Redirect to `location` (absolute, or a path on this server). */
  | { kind: 'redirect'; location: string; status?: 301 | 302 | 303 | 307 | 308 }
  /** Announce the full length, send `afterBytes` of the file, then destroy the connection. */
  | { kind: 'cut'; afterBytes: number }
  /** Announce the full length, send `afterBytes` of the file, then send nothing more. */
  | { kind: 'stall'; afterBytes: number }
  /** Send the file in `chunkBytes` pieces, one every `everyMs`. */
  | { kind: 'slow'; chunkBytes: number; everyMs: number }
  /** Send the whole file with chunked encoding: no Content-Length announced. */
  | { kind: 'chunked' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface TestHttpServer {
  port: number;
  /** http://127.0.0.1:<port> */
  origin: string;
  folder: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Absolute URL of a path on this server (path starts with "/"). */
  url(path: string): string;
  /** Makes `path` misbehave until cleared. */
  behave(path: string, behaviour: Behaviour): void;
  clear(path: string): void;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  /** Folder whose files are served (URL path = file path relative to it). */
  folder: string;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
}

export async function startHttpServer(options: HttpServerOptions): Promise<TestHttpServer> {
  const folder = resolve(options.folder);
  const behaviours = new Map<string, Behaviour>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    void answer(path, req.headers, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500).end(String(err.message));
      else res.destroy();
    });
  });

  const answer = async (path: string, headers: IncomingHttpHeaders, res: ServerResponse) => {
    if (options.token !== undefined && headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    const behaviour = behaviours.get(path);
    if (behaviour?.kind === 'status') {
      res.writeHead(behaviour.status, { 'content-type': 'text/plain' }).end(`status ${behaviour.status}\n`);
      return;
    }
    if (behaviour?.kind === 'redirect') {
      res.writeHead(behaviour.status ?? 302, { location: behaviour.location }).end();
      return;
    }
    const file = resolve(folder, `.${decodeURIComponent(path)}`);
    const info = file.startsWith(folder + sep) ? await stat(file).catch(() => undefined) : undefined;
    if (!info?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (behaviour?.kind === 'chunked') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
    if (!behaviour) {
      createReadStream(file).pipe(res);
      return;
    }
    if (behaviour.kind === 'slow') {
      await sendSlowly(file, res, behaviour.chunkBytes, behaviour.everyMs);
      return;
    }
    // cut / stall: the announced length is never reached.
    const stream = createReadStream(file, { start: 0, end: Math.max(0, behaviour.afterBytes - 1) });
    stream.on('end', () => {
      if (behaviour.kind === 'cut') res.socket?.destroy();
      // stall: keep the connection open and silent until the client or close() ends it.
    });
    stream.pipe(res, { end: false });
  };

  const sendSlowly = async (file: string, res: ServerResponse, chunkBytes: number, everyMs: number) => {
    const stream = createReadStream(file, { highWaterMark: chunkBytes });
    for await (const chunk of stream) {
      if (res.destroyed) break;
      res.write(chunk);
      await new Promise<void>((done) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          done();
        }, everyMs);
        timers.add(timer);
      });
    }
    res.end();
  };

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const origin = `http://127.0.0.1:${port}`;

  return {
    port,
    origin,
    folder,
    requests,
    url: (path) => `${origin}${path}`,
    behave: (path, behaviour) => void behaviours.set(path, behaviour),
    clear: (path) => void behaviours.delete(path),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
