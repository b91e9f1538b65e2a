// The OAuth 2.0 device authorization grant (RFC 8628), as the Arduino cloud's auth server speaks
// it: ask for a device code, show the user where to confirm it, then poll the token endpoint at the
// server's interval until the user confirmed, refused, or the code expired.

import { setTimeout as sleep } from 'node:timers/promises';
import { CloudError, cloudFailure, cloudUrl, formBody, postToCloud, requiredField } from './cloud-http.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: without an interval the client waits 5 s between polls. */
const DEFAULT_INTERVAL_SECONDS = 5;
/** §3.5: slow_down adds 5 s to the interval, for that poll and every later one. */
const SLOW_DOWN_SECONDS = 5;
/** expires_in is required; a server that leaves it out still gets an end to the wait. */
const DEFAULT_EXPIRES_SECONDS = 15 * 60;

export interface LoginPrompt {
  verificationUri: string;
  /** The URL with the code in it, when the server gives one. */
  verificationUriComplete?: string;
  userCode: string;
  expiresInSeconds: number;
}

export interface DeviceLoginOptions {
  authUrl: string;
  clientId: string;
  /** The API the token is for (the Go agent asked for https://api.arduino.cc). */
  audience: string;
  /** Shows the user where to go and which code to enter. */
  prompt(prompt: LoginPrompt): void;
  /** Told when the server asked to poll less often. */
  slowedDown?(intervalSeconds: number): void;
  signal?: AbortSignal;
}

/** The login ended without a token: refused, expired, or the server failed. */
export class LoginError extends CloudError {}

const positive = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined);

/** Runs the whole grant; resolves with the access token. */
export async function deviceLogin(options: DeviceLoginOptions): Promise<string> {
  const codeAnswer = await postToCloud(cloudUrl(options.authUrl, 'oauth/device/code'), formBody({ client_id: options.clientId, audience: options.audience }));
  if (codeAnswer.status !== 200) throw loginFailure('the login could not start', cloudFailure(codeAnswer));
  const deviceCode = requiredField(codeAnswer, 'device_code');
  const secrets = [deviceCode];
  const json = codeAnswer.json ?? {};
  const complete = typeof json.verification_uri_complete === 'string' && json.verification_uri_complete !== '' ? json.verification_uri_complete : undefined;
  // Early drafts of the RFC, and some servers still, say verification_url.
  const uri = [json.verification_uri, json.verification_url].find((v): v is string => typeof v === 'string' && v !== '') ?? complete;
  if (uri === undefined) throw loginFailure('the login could not start', cloudFailure(codeAnswer, {}, 'no verification_uri in the answer'));
  const userCode = typeof json.user_code === 'string' ? json.user_code : '';
  const expiresInSeconds = positive(json.expires_in) ?? DEFAULT_EXPIRES_SECONDS;
  let intervalSeconds = positive(json.interval) ?? DEFAULT_INTERVAL_SECONDS;
  const deadline = Date.now() + expiresInSeconds * 1000;
  options.prompt({ verificationUri: uri, verificationUriComplete: complete, userCode, expiresInSeconds });

  const tokenUrl = cloudUrl(options.authUrl, 'oauth/token');
  for (;;) {
    await sleep(intervalSeconds * 1000, undefined, { signal: options.signal });
    if (Date.now() >= deadline) throw new LoginError(`the code was not confirmed within ${Math.round(expiresInSeconds)} s and has expired: start again`);
    const answer = await postToCloud(tokenUrl, formBody({ grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: options.clientId }), { secrets });
    if (answer.status === 200) return requiredField(answer, 'access_token', { secrets });
    const failure = cloudFailure(answer, { secrets });
    switch (failure.oauthError) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        intervalSeconds += SLOW_DOWN_SECONDS;
        options.slowedDown?.(intervalSeconds);
        continue;
      case 'access_denied':
        throw loginFailure('the login was refused', failure);
      case 'expired_token':
        throw loginFailure('the code expired before it was confirmed (start again)', failure);
      default:
        throw loginFailure('the login failed', failure);
    }
  }
}

function loginFailure(what: string, cause: CloudError): LoginError {
  return new LoginError(`${what}: ${cause.message}`, cause.status, cause.oauthError);
}
