// The one place where an error becomes the text of an `ERROR:` answer and a log line. Parts below
// the router throw domain errors (src/errors.ts) and never format answers themselves.

import type { Family } from '../api.js';
import { DomainError } from '../errors.js';
import { errorMessage, type LogLevel } from '../log.js';

export interface AnsweredError {
  /** The message of the `ERROR:` answer. */
  message: string;
  /** How loud the log line is: the sender's mistakes are info, the device's trouble warn, a bug error. */
  level: LogLevel;
  /** Stack traces only for what no part expected. */
  detail?: string;
}

export function answerError(family: Family, err: unknown): AnsweredError {
  if (err instanceof DomainError) {
    if (err.kind === 'unavailable') {
      const prefix = `${family} unavailable`;
      return { message: err.message.startsWith(prefix) ? err.message : `${prefix}: ${err.message}`, level: 'warn' };
    }
    // A flood answered busy would otherwise write a line per refused request.
    if (err.kind === 'busy') return { message: err.message, level: 'debug' };
    const level = err.kind === 'failed' || err.kind === 'timed-out' ? 'warn' : 'info';
    return { message: err.message, level };
  }
  const message = errorMessage(err);
  return { message, level: 'error', detail: err instanceof Error ? err.stack : undefined };
}
