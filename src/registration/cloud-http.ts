// POSTs to the Arduino cloud (its OAuth server and device API) and the one-line errors they end in:
// the request, the status and the server's own words, e.g.
// `POST https://api2.arduino.cc/iot/v1/devices/d1: HTTP 400 Bad Request: invalid CSR`.

import { FailedError } from '../errors.js';
import { errorMessage } from '../log.js';
import { postHttp, type RequestBody } from '../lib/http-client.js';
import { escapeText } from '../text.js';

/** Answers of these APIs are small JSON documents; anything bigger is not one of them. */
const maxAnswerBytes = 256 * 1024;

export interface CloudOptions {
  /** Sent as `Authorization: Bearer`. */
  token?: string;
  /** Secrets that must never reach a message (the token, the device code). */
  secrets?: string[];
  timeoutMs?: number;
}

export interface CloudAnswer {
  url: string;
  status: number;
  statusMessage: string;
  /** The body as JSON when it is a JSON object. */
  json: Record<string, unknown> | undefined;
  text: string;
}

/** The request failed, or the server answered with an error status. */
export class CloudError extends FailedError {
  constructor(message: string, readonly status?: number, readonly oauthError?: string) {
    super(message);
    this.name = 'CloudError';
  }
}

export function formBody(fields: Record<string, string>): RequestBody {
  return { data: new URLSearchParams(fields).toString(), contentType: 'application/x-www-form-urlencoded', accept: 'application/json' };
}

export function jsonBody(value: unknown): RequestBody {
  return { data: JSON.stringify(value), contentType: 'application/json', accept: 'application/json' };
}

/** `path` under `base`, whether or not base ends with a slash (the default authurl does). */
export function cloudUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret !== '') out = out.replaceAll(secret, '***');
  return out;
}

/** POSTs and returns the answer whatever its status; a request that got no answer throws. */
export async function postToCloud(url: string, body: RequestBody, options: CloudOptions = {}): Promise<CloudAnswer> {
  let answer;
  try {
    answer = await postHttp(url, { body, token: options.token, maxBytes: maxAnswerBytes, timeoutMs: options.timeoutMs });
  } catch (err) {
    throw new CloudError(`POST ${url}: ${redact(errorMessage(err), options.secrets)}`);
  }
  const text = answer.body.toString('utf8');
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { url, status: answer.status, statusMessage: answer.statusMessage, json, text };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/** What the server said about an error, from the fields APIs put it in (OAuth's error and
 * error_description, or message/detail), else its body as text. */
export function serverErrorText(answer: CloudAnswer): string {
  const json = answer.json;
  if (json) {
    const nested = json.error !== null && typeof json.error === 'object' ? (json.error as Record<string, unknown>) : undefined;
    const code = text(json.error);
    const description = text(json.error_description) ?? text(json.message) ?? text(json.detail) ?? text(nested?.message) ?? text(json.title);
    if (code && description) return `${code}: ${description}`;
    if (code ?? description) return (code ?? description) as string;
  }
  return answer.text.trim();
}

/** The one line for an answer that is not what was asked for. */
export function cloudFailure(answer: CloudAnswer, options: CloudOptions = {}, why?: string): CloudError {
  const said = serverErrorText(answer);
  const status = `HTTP ${answer.status}${answer.statusMessage ? ` ${answer.statusMessage}` : ''}`;
  const detail = why ?? (said === '' ? 'no error text' : said);
  const line = `POST ${answer.url}: ${status}: ${escapeText(redact(detail, options.secrets), 300)}`;
  return new CloudError(line, answer.status, text(answer.json?.error));
}

/** The string field `name` of a successful answer, or the error that says it is missing. */
export function requiredField(answer: CloudAnswer, name: string, options: CloudOptions = {}): string {
  const value = answer.json?.[name];
  if (typeof value === 'string' && value !== '') return value;
  const got = answer.json ? `a JSON object without "${name}"` : `not JSON: ${answer.text.trim().slice(0, 100) || 'an empty body'}`;
  throw cloudFailure(answer, options, `expected {"${name}": "…"}, got ${got}`);
}
