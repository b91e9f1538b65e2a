// POST /deploy on the console's server (local mode only): a program dropped in the page, streamed
// to a private temporary file under a size cap, then handed to `publish`, which signs it and
// serves it once for the agent. The page then sends `upload` with the URL and token it got back.
//
// Another web site open in the same browser must not make the device run its code: the request
// must carry the page's random token in a custom header (a cross-origin page cannot read
// /config.json to learn it, and a custom header makes the browser ask first, which this server
// never allows), its Origin must be this server's own, and its Host this server's address (a
// DNS-rebinding name pointing at 127.0.0.1 is refused).

import { timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The header that carries the page's token. */
export const DEPLOY_TOKEN_HEADER = 'x-console-token';

export interface DropPublisher {
  /** Largest program accepted, in bytes (the agent's max_sketch_size). */
  maxBytes: number;
  /** Signs `file` and serves it once: the URL and token `upload` takes, and `done` when it was
   * fetched or its time ran out (the file is removed then). */
  publish(file: string): Promise<{ url: string; token: string; done: Promise<void> }>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const ownHosts = (port: number) => [`127.0.0.1:${port}`, `localhost:${port}`];

/** False for a request addressed to another name (a DNS-rebinding name resolving to 127.0.0.1). */
export function isOwnHost(req: IncomingMessage, port: number): boolean {
  return ownHosts(port).includes(req.headers.host ?? '');
}

/** Throws a Refusal unless the request comes from this server's own page. */
export function checkDropRequest(req: IncomingMessage, port: number, token: string): void {
  const hosts = ownHosts(port);
  if (!isOwnHost(req, port)) throw new Refusal(403, 'wrong host');
  if (!hosts.some((h) => req.headers.origin === `http://${h}`)) throw new Refusal(403, 'cross-origin requests are refused');
  const sent = req.headers[DEPLOY_TOKEN_HEADER];
  if (typeof sent !== 'string' || !sameText(sent, token)) throw new Refusal(403, 'missing or wrong console token');
}

/** Streams the body into `file`, refusing it once it passes `maxBytes`. */
async function receive(req: IncomingMessage, file: string, maxBytes: number): Promise<number> {
  // A browser sends a File's length; requiring it lets an oversized program be answered 413
  // before any byte is read (the cap below is the backstop).
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!Number.isSafeInteger(declared)) throw new Refusal(411, 'Content-Length required');
  if (declared > maxBytes) throw new Refusal(413, `program larger than ${maxBytes} bytes (max_sketch_size)`);
  let size = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) done(new Refusal(413, `program larger than ${maxBytes} bytes (max_sketch_size)`));
      else done(null, chunk);
    },
  });
  await pipeline(req, cap, createWriteStream(file, { mode: 0o600, flags: 'wx' }));
  if (size === 0) throw new Refusal(400, 'empty program');
  return size;
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

/** Answers POST /deploy: `{url, token}` on success, `{error}` with 400/403/411/413/500 otherwise. */
export async function answerDrop(req: IncomingMessage, res: ServerResponse, options: { port: number; token: string; publisher: DropPublisher }): Promise<void> {
  let dir: string | undefined;
  try {
    checkDropRequest(req, options.port, options.token);
    dir = await mkdtemp(join(tmpdir(), 'ac-console-drop-'));
    const file = join(dir, 'program');
    await receive(req, file, options.publisher.maxBytes);
    const served = await options.publisher.publish(file);
    const kept = dir;
    dir = undefined;
    void served.done.then(() => rm(kept, { recursive: true, force: true })).catch(() => {});
    sendJson(res, 200, { url: served.url, token: served.token });
  } catch (err) {
    if (dir) await rm(dir, { recursive: true, force: true });
    const refusal = err instanceof Refusal ? err : undefined;
    // The rest of a refused body is not read: the connection closes after the answer.
    res.setHeader('connection', 'close');
    sendJson(res, refusal?.status ?? 500, { error: refusal?.message ?? `cannot take the program: ${err instanceof Error ? err.message : String(err)}` });
    if (!req.complete) req.resume();
  }
}
