// Downloads a sketch and its detached signature and checks one against the other without ever
// holding the sketch in memory: the body is hashed as it is written to an unpredictable temporary
// file, which is removed on any failure so a failed upload leaves nothing behind. The HTTP part
// (redirects, token, proxies, time-outs) is src/lib/http-client.ts.

import { createVerify, randomBytes, type KeyObject } from 'node:crypto';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { DomainError, FailedError, prefixedError, RefusedError } from '../errors.js';
import { errorMessage } from '../log.js';
import { DEFAULT_HTTP_TIMEOUT_MS, checkHttpUrl, httpFailure, openHttpStream, readHttpBody, transferSignal, type HttpGetOptions } from '../lib/http-client.js';
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
  /** The signature, when the request carried it; otherwise url+".sig" is fetched. */
  signature?: Buffer;
  /** What is downloaded, for the size refusal (default "sketch"). */
  what?: string;
  /** The setting that caps the size, for the size refusal (default "max_sketch_size"). */
  sizeSetting?: string;
}

export interface VerifiedDownload {
  tempPath: string;
  bytes: number;
}

export const defaultDownloadTimeoutMs = DEFAULT_HTTP_TIMEOUT_MS;
/** A signature is the size of the RSA modulus (at most 2 KiB for a 16384-bit key). */
const maxSignatureBytes = 64 * 1024;

/** Streams url into a temp file in `folder` while hashing, fetches url+".sig", verifies. On any
 * failure the temp file is gone and a domain error names the step (e.g. "download failed: HTTP
 * 404", "signature download failed: ...", "signature check failed: ...", "sketch larger than ...").
 * The caller renames tempPath into place. */
export async function downloadVerified(req: DownloadRequest): Promise<VerifiedDownload> {
  checkHttpUrl(req.url);
  const expectedSignatureBytes = signatureLength(req.publicKey);
  const signal = transferSignal(req.signal, req.deadlineMs);
  const http: HttpGetOptions = { token: req.token, timeoutMs: req.timeoutMs ?? defaultDownloadTimeoutMs, signal, env: req.env, ca: req.ca };

  const response = await openHttpStream(req.url, http).catch((err: unknown) => {
    throw prefixedError('download failed', httpFailure(err, signal));
  });
  const body = response.body;
  if (response.declaredBytes !== undefined && response.declaredBytes > req.maxBytes) {
    body.destroy();
    throw tooLarge(req);
  }

  const tempPath = join(req.folder, `.download-${randomBytes(16).toString('hex')}.part`);
  let file: FileHandle;
  try {
    // O_EXCL: never write through a file or link someone else placed under this name.
    file = await open(tempPath, 'wx', 0o600);
  } catch (err) {
    body.destroy();
    throw new FailedError(`saving the download failed: ${errorMessage(err)}`, { cause: err });
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
      body.destroy();
    });
    let failure: DomainError | undefined;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > req.maxBytes) {
          failure = tooLarge(req);
          break;
        }
        verifier.update(chunk);
        if (!out.write(chunk)) await drained(out);
        garbage.add(chunk.length);
        if (writeError) break;
      }
      if (!failure && !writeError) {
        if (!body.complete) throw new FailedError('the connection closed before the end of the file');
        out.end();
        await finished(out);
      }
    } catch (err) {
      failure = prefixedError('download failed', httpFailure(err, signal));
    }
    // The disk's failure explains the others (the body is cut once the file cannot be written).
    if (writeError) failure = new FailedError(`saving the download failed: ${errorMessage(writeError)}`, { cause: writeError });
    if (failure) {
      body.destroy();
      out.destroy();
      throw failure;
    }
    const signature = req.signature ?? await readHttpBody(`${req.url}.sig`, { ...http, maxBytes: maxSignatureBytes }).catch((err: unknown) => {
      throw prefixedError('signature download failed', httpFailure(err, signal));
    });
    if (signature.length !== expectedSignatureBytes) {
      throw new RefusedError(`signature check failed: the signature has ${signature.length} bytes, the key expects ${expectedSignatureBytes}`);
    }
    if (!verifier.verify(req.publicKey, signature)) {
      throw new RefusedError('signature check failed: the file does not match its signature');
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

function signatureLength(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new RefusedError('signature check failed: the configured key is not an RSA public key');
  return Math.ceil(bits / 8);
}

function tooLarge(req: DownloadRequest): RefusedError {
  return new RefusedError(`${req.what ?? 'sketch'} larger than ${req.maxBytes} bytes (${req.sizeSetting ?? 'max_sketch_size'})`);
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
