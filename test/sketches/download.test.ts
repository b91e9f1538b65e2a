import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, describe, it } from 'node:test';
import { DomainError, type FailureKind } from '../../src/errors.js';
import { downloadVerified, removeStaleDownloads, type DownloadRequest } from '../../src/sketches/download.js';
import { loadSignatureKey } from '../../src/sketches/signature.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { makeKeyPair, signFile, type TestKeyPair } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const noProxy: NodeJS.ProcessEnv = {};
const run = promisify(execFile);

describe('downloadVerified', () => {
  let dir: { path: string; remove(): Promise<void> };
  let served: string;
  let sketches: string;
  let keys: TestKeyPair;
  let publicKey: KeyObject;
  let server: TestHttpServer;
  let good: Buffer;

  before(async () => {
    dir = await tempDir('ac-download-');
    served = join(dir.path, 'served');
    sketches = join(dir.path, 'sketches');
    await Promise.all([mkdir(served), mkdir(sketches)]);
    keys = await makeKeyPair(dir.path);
    publicKey = await loadSignatureKey(keys.publicKeyPem);

    good = randomBytes(300 * 1024 + 17);
    await writeFile(join(served, 'good.bin'), good);
    await signFile(keys.privateKeyPath, join(served, 'good.bin'));
    // A file whose .sig belongs to other content.
    await writeFile(join(served, 'tampered.bin'), good);
    await writeFile(join(served, 'other.bin'), randomBytes(1000));
    await signFile(keys.privateKeyPath, join(served, 'other.bin'), join(served, 'tampered.bin.sig'));
    await writeFile(join(served, 'unsigned.bin'), good);
    // A signature made by a different key.
    const stranger = await makeKeyPair(dir.path, { name: 'stranger' });
    await writeFile(join(served, 'stranger.bin'), good);
    await signFile(stranger.privateKeyPath, join(served, 'stranger.bin'));
    // A ".sig" of the wrong size.
    await writeFile(join(served, 'short.bin'), good);
    await writeFile(join(served, 'short.bin.sig'), randomBytes(10));
    await writeFile(join(served, 'big.bin'), randomBytes(2 * 1024 * 1024));
    await signFile(keys.privateKeyPath, join(served, 'big.bin'));

    server = await startHttpServer({ folder: served });
  });
  after(async () => {
    await server.close();
    await dir.remove();
  });
  afterEach(async () => {
    // Whatever a test did, nothing may be left in the sketches folder.
    assert.deepEqual(await readdir(sketches), []);
  });

  const request = (overrides: Partial<DownloadRequest> = {}): DownloadRequest => ({
    url: server.url('/good.bin'),
    folder: sketches,
    maxBytes: 1024 * 1024,
    publicKey,
    timeoutMs: 5_000,
    env: noProxy,
    ...overrides,
  });

  /** Downloads, checks the temp file holds `expected`, and removes it (as the caller's rename would). */
  const downloadAndCheck = async (req: DownloadRequest, expected: Buffer) => {
    const result = await downloadVerified(req);
    assert.equal(dirname(result.tempPath), sketches);
    assert.match(result.tempPath, /\/\.download-[0-9a-f]{32}\.part$/);
    assert.equal(result.bytes, expected.length);
    assert.equal((await stat(result.tempPath)).mode & 0o777, 0o600);
    assert.ok((await readFile(result.tempPath)).equals(expected));
    await rm(result.tempPath);
    return result;
  };

  const rejectsWith = async (req: DownloadRequest, message: RegExp, kind: FailureKind) => {
    await assert.rejects(downloadVerified(req), (err: Error) => {
      assert.ok(err instanceof DomainError, `expected a domain error, got ${err.name}: ${err.message}`);
      assert.match(err.message, message);
      assert.equal(err.kind, kind, err.message);
      return true;
    });
  };

  it('downloads a correctly signed file into an unpredictable temp file', async () => {
    const first = await downloadAndCheck(request(), good);
    const second = await downloadAndCheck(request(), good);
    assert.notEqual(first.tempPath, second.tempPath);
  });

  it('accepts a body without Content-Length (chunked)', async () => {
    server.behave('/good.bin', { kind: 'chunked' });
    try {
      await downloadAndCheck(request(), good);
    } finally {
      server.clear('/good.bin');
    }
  });

  it('refuses a signature made for other content', async () => {
    await rejectsWith(request({ url: server.url('/tampered.bin') }), /^signature check failed: the file does not match its signature$/, 'refused');
  });

  it('refuses a signature made by another key', async () => {
    await rejectsWith(request({ url: server.url('/stranger.bin') }), /^signature check failed/, 'refused');
  });

  it('refuses a signature of the wrong size', async () => {
    await rejectsWith(request({ url: server.url('/short.bin') }), /^signature check failed: the signature has 10 bytes, the key expects 256$/, 'refused');
  });

  it('fails when the .sig is missing', async () => {
    await rejectsWith(request({ url: server.url('/unsigned.bin') }), /^signature download failed: HTTP 404/, 'failed');
  });

  it('fails on HTTP 404 and 500, naming the status', async () => {
    await rejectsWith(request({ url: server.url('/missing.bin') }), /^download failed: HTTP 404/, 'failed');
    server.behave('/good.bin', { kind: 'status', status: 500 });
    try {
      await rejectsWith(request(), /^download failed: HTTP 500/, 'failed');
    } finally {
      server.clear('/good.bin');
    }
  });

  it('fails when the signature download answers 500', async () => {
    server.behave('/good.bin.sig', { kind: 'status', status: 500 });
    try {
      await rejectsWith(request(), /^signature download failed: HTTP 500/, 'failed');
    } finally {
      server.clear('/good.bin.sig');
    }
  });

  it('fails when the connection is cut mid-download', async () => {
    server.behave('/good.bin', { kind: 'cut', afterBytes: 100 * 1024 });
    try {
      await rejectsWith(request(), /^download failed: the connection was cut before the end of the file$/, 'failed');
    } finally {
      server.clear('/good.bin');
    }
  });

  it('refuses a file larger than maxBytes announced by Content-Length', async () => {
    await rejectsWith(request({ url: server.url('/big.bin') }), /^sketch larger than 1048576 bytes/, 'refused');
  });

  it('stops a file that grows past maxBytes without announcing its length', async () => {
    server.behave('/big.bin', { kind: 'chunked' });
    try {
      await rejectsWith(request({ url: server.url('/big.bin') }), /^sketch larger than 1048576 bytes/, 'refused');
    } finally {
      server.clear('/big.bin');
    }
  });

  it('gives up on a stalled server after timeoutMs without data', async () => {
    server.behave('/good.bin', { kind: 'stall', afterBytes: 4096 });
    try {
      await rejectsWith(request({ timeoutMs: 300 }), /^download failed: no data for 300 ms$/, 'timed-out');
    } finally {
      server.clear('/good.bin');
    }
  });

  it('keeps going while a slow server keeps sending', async () => {
    server.behave('/good.bin', { kind: 'slow', chunkBytes: 64 * 1024, everyMs: 100 });
    try {
      // Each pause is shorter than the idle time-out although the whole transfer is longer.
      await downloadAndCheck(request({ timeoutMs: 300 }), good);
    } finally {
      server.clear('/good.bin');
    }
  });

  it('gives up at deadlineMs while a slow server keeps sending, and still honours a caller signal', async () => {
    server.behave('/good.bin', { kind: 'slow', chunkBytes: 16 * 1024, everyMs: 50 });
    try {
      // Each pause is far below the idle time-out; only the overall deadline can end it.
      await rejectsWith(request({ timeoutMs: 5_000, deadlineMs: 200 }), /^download failed: not finished within 200 ms$/, 'timed-out');
      await rejectsWith(request({ deadlineMs: 60_000, signal: AbortSignal.abort() }), /^download failed: cancelled$/, 'failed');
    } finally {
      server.clear('/good.bin');
    }
  });

  it('can be cancelled with an AbortSignal', async () => {
    server.behave('/good.bin', { kind: 'stall', afterBytes: 4096 });
    try {
      const controller = new AbortController();
      const pending = downloadVerified(request({ signal: controller.signal }));
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(pending, (err: Error) => err instanceof DomainError && err.message === 'download failed: cancelled');
    } finally {
      server.clear('/good.bin');
    }
  });

  it('reports a cancellation that came before the start', async () => {
    await rejectsWith(request({ signal: AbortSignal.abort() }), /^download failed: cancelled$/, 'failed');
  });

  it('fails as "saving" when the disk is full, leaving nothing behind', async () => {
    // A real, tiny file system: the 300 KiB download cannot fit in 64 KiB.
    const small = join(dir.path, 'small-disk');
    await mkdir(small);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    try {
      await rejectsWith(request({ folder: small }), /^saving the download failed: .*ENOSPC/, 'failed');
      assert.deepEqual(await readdir(small), []);
    } finally {
      await run('umount', [small]);
    }
  });

  it('follows redirects, for the file and its signature', async () => {
    server.behave('/r1.bin', { kind: 'redirect', location: '/r2.bin', status: 301 });
    server.behave('/r2.bin', { kind: 'redirect', location: server.url('/good.bin'), status: 307 });
    server.behave('/r1.bin.sig', { kind: 'redirect', location: '/good.bin.sig' });
    await downloadAndCheck(request({ url: server.url('/r1.bin') }), good);
  });

  it('accepts only http and https URLs', async () => {
    await rejectsWith(request({ url: 'file:///etc/passwd' }), /^only http and https URLs are accepted, not file$/, 'invalid');
    await rejectsWith(request({ url: 'ftp://127.0.0.1/good.bin' }), /not ftp$/, 'invalid');
    await rejectsWith(request({ url: 'not a url' }), /^invalid url/, 'invalid');
  });

  it('removeStaleDownloads removes only temp files of interrupted downloads', async () => {
    const folder = join(dir.path, 'stale');
    await mkdir(folder);
    const stale = `.download-${'ab'.repeat(16)}.part`;
    await Promise.all([stale, 'blink', '.download-notours.part', 'x.part'].map((name) => writeFile(join(folder, name), name)));
    assert.deepEqual(await removeStaleDownloads(folder), [stale]);
    assert.deepEqual((await readdir(folder)).sort(), ['.download-notours.part', 'blink', 'x.part']);
    assert.deepEqual(await removeStaleDownloads(join(dir.path, 'no-such-folder')), []);
  });

  describe('with a token', () => {
    let guarded: TestHttpServer;
    before(async () => {
      guarded = await startHttpServer({ folder: served, token: 's3cret-token' });
    });
    after(async () => {
      await guarded.close();
    });

    it('sends it only as Authorization: Bearer, for the file and its signature', async () => {
      guarded.requests.length = 0;
      await downloadAndCheck(request({ url: guarded.url('/good.bin'), token: 's3cret-token' }), good);
      assert.deepEqual(guarded.requests.map((r) => r.path), ['/good.bin', '/good.bin.sig']);
      for (const r of guarded.requests) {
        assert.equal(r.headers.authorization, 'Bearer s3cret-token');
        const elsewhereInRequest = JSON.stringify({ path: r.path, headers: { ...r.headers, authorization: undefined } });
        assert.ok(!elsewhereInRequest.includes('s3cret-token'), 'the token appears only in Authorization');
      }
    });

    it('fails with HTTP 401 without it', async () => {
      await rejectsWith(request({ url: guarded.url('/good.bin') }), /^download failed: HTTP 401/, 'failed');
    });
  });
});
