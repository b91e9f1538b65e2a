// A real local HTTP server playing the Arduino cloud's auth server (RFC 8628 device authorisation)
// and device API (certificate for a CSR, signed by a test CA with the real openssl; the broker
// URL). What it answers is set by the test through `script`; every request is recorded.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

/** One answer of the token endpoint. */
export type TokenStep = 'pending' | 'slow_down' | 'denied' | 'expired' | 'ok';

/** An error answer: status and JSON (an object) or text body. */
export interface Refusal {
  status: number;
  body: unknown;
}

export interface CloudScript {
  /** Answers to the token polls, in order; the last one repeats. */
  polls: TokenStep[];
  /** Seconds the device code response tells the client to wait between polls. */
  interval: number;
  expiresIn: number;
  /** The device code request is refused with this. */
  refuseDeviceCode?: Refusal;
  /** The CSR is refused with this. */
  refuseCsr?: Refusal;
  /** The connect endpoint fails with this. */
  refuseConnect?: Refusal;
  /** What the connect endpoint answers as the broker. */
  brokerUrl: string;
}

export interface CloudRequest {
  method: string;
  path: string;
  body: string;
  authorization: string | undefined;
  contentType: string | undefined;
  /** When it arrived (ms, Date.now()). */
  at: number;
}

export interface FakeCloud {
  origin: string;
  /** The access token it issues. */
  accessToken: string;
  userCode: string;
  deviceCode: string;
  script: CloudScript;
  requests: CloudRequest[];
  /** Every CSR it received, PEM. */
  csrs: string[];
  close(): Promise<void>;
}

export interface CaFiles {
  caFile: string;
  caKey: string;
}

export async function startFakeCloud(ca: CaFiles, script: CloudScript): Promise<FakeCloud> {
  const work = await tempDir('ac-cloud-');
  const accessToken = `at-${randomBytes(12).toString('hex')}`;
  const deviceCode = `dc-${randomBytes(12).toString('hex')}`;
  const userCode = 'WDJB-MJHT';
  const requests: CloudRequest[] = [];
  const csrs: string[] = [];
  let polls = 0;
  let serial = 0;

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(text);
  };
  const oauthError = (res: ServerResponse, error: string, description: string) => reply(res, 400, { error, error_description: description });

  const sign = async (csr: string, id: string): Promise<string> => {
    const n = ++serial;
    const csrFile = join(work.path, `${n}.csr`);
    const extFile = join(work.path, `${n}.ext`);
    const certFile = join(work.path, `${n}.pem`);
    await writeFile(csrFile, csr);
    await writeFile(extFile, 'extendedKeyUsage=clientAuth\n');
    // The real cloud signs whatever it accepts; this one also checks what the agent must send.
    await run('openssl', ['req', '-in', csrFile, '-noout', '-verify']);
    const { stdout } = await run('openssl', ['req', '-in', csrFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
    if (stdout.trim() !== `subject=CN=${id}`) throw new Error(`the CSR's subject is ${stdout.trim()}, not CN=${id}`);
    await run('openssl', ['x509', '-req', '-in', csrFile, '-CA', ca.caFile, '-CAkey', ca.caKey, '-set_serial', String(1000 + n),
      '-days', '2', '-extfile', extFile, '-out', certFile]);
    return readFile(certFile, 'utf8');
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, body: string) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const form = new URLSearchParams(body);
    if (req.method !== 'POST') return reply(res, 405, 'POST only');
    if (path === '/oauth/device/code') {
      if (script.refuseDeviceCode) return reply(res, script.refuseDeviceCode.status, script.refuseDeviceCode.body);
      if (!form.get('client_id')) return oauthError(res, 'invalid_request', 'client_id is missing');
      // Each login starts the script's polls from the first.
      polls = 0;
      return reply(res, 200, {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: `${origin}/activate`,
        verification_uri_complete: `${origin}/activate?user_code=${userCode}`,
        expires_in: script.expiresIn,
        interval: script.interval,
      });
    }
    if (path === '/oauth/token') {
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:device_code') return oauthError(res, 'unsupported_grant_type', 'device_code grant expected');
      if (form.get('device_code') !== deviceCode) return oauthError(res, 'invalid_grant', 'unknown device code');
      const step = script.polls[Math.min(polls++, script.polls.length - 1)];
      switch (step) {
        case 'pending':
          return oauthError(res, 'authorization_pending', 'the user has not confirmed yet');
        case 'slow_down':
          return oauthError(res, 'slow_down', 'polling too fast');
        case 'denied':
          return oauthError(res, 'access_denied', 'the user refused the device');
        case 'expired':
          return oauthError(res, 'expired_token', 'the device code has expired');
        default:
          return reply(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3600 });
      }
    }
    if (req.headers.authorization !== `Bearer ${accessToken}`) return reply(res, 401, { message: 'invalid or missing token' });
    if (path === '/iot/v1/devices/connect') {
      if (script.refuseConnect) return reply(res, script.refuseConnect.status, script.refuseConnect.body);
      return reply(res, 200, { url: script.brokerUrl });
    }
    const device = /^\/iot\/v1\/devices\/([^/]+)$/.exec(path);
    if (device) {
      if (script.refuseCsr) return reply(res, script.refuseCsr.status, script.refuseCsr.body);
      const id = decodeURIComponent(device[1] as string);
      const csr = (JSON.parse(body) as { csr?: unknown }).csr;
      if (typeof csr !== 'string') return reply(res, 400, { message: 'csr missing' });
      csrs.push(csr);
      try {
        return reply(res, 200, { certificate: await sign(csr, id) });
      } catch (err) {
        return reply(res, 400, { message: `bad CSR: ${(err as Error).message}` });
      }
    }
    return reply(res, 404, 'not found');
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        path: new URL(req.url ?? '/', 'http://localhost').pathname,
        body,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        at: Date.now(),
      });
      answer(req, res, body).catch((err: Error) => reply(res, 500, err.message));
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    origin,
    accessToken,
    userCode,
    deviceCode,
    script,
    requests,
    csrs,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await work.remove();
    },
  };
}
