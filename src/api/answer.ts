// The text of an answer: `INFO: <body>` or `ERROR: <message>`, ending in a newline.

import { escapeKeepingLines } from '../text.js';

export function formatInfo(body: unknown): string {
  return `INFO: ${typeof body === 'string' ? body : JSON.stringify(body)}\n`;
}

export function formatError(message: string): string {
  // Clients trim trailing whitespace, so the answer ends with exactly one newline whatever the
  // message ended with. Line breaks stay (apt's output is part of some answers); every other
  // control character is escaped, so no answer can drive the terminal of whoever reads it.
  return `ERROR: ${escapeKeepingLines(message.trimEnd())}\n`;
}

export type Reply = { ok: true; body: string } | { ok: false; message: string };

export function parseReply(payload: string): Reply {
  const text = payload.trimEnd();
  if (text.startsWith('INFO: ') || text === 'INFO:') return { ok: true, body: text.slice(6) };
  if (text.startsWith('ERROR: ') || text === 'ERROR:') return { ok: false, message: text.slice(7) };
  return { ok: false, message: `not an answer: ${text.slice(0, 200)}` };
}

/** The body of an INFO answer, decoded as JSON when it is JSON. */
export function decodeBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
