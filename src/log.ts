// Log lines go to stderr, one line each, so a service manager's journal keeps them in order. Every
// message is escaped on its way out (src/text.ts): a value from a request, a stack trace or a
// program's output can never start a line of its own, forge one, or reach the reader's terminal.

import { escapeText } from './text.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  child(scope: string): Logger;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function createLogger(options: { level?: LogLevel; scope?: string; write?: (line: string) => void } = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const make = (scope: string | undefined): Logger => {
    const emit = (at: LogLevel, message: string) => {
      if (order[at] < order[level]) return;
      const prefix = scope ? `[${scope}] ` : '';
      write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${prefix}${escapeText(message)}\n`);
    };
    return {
      debug: (m) => emit('debug', m),
      info: (m) => emit('info', m),
      warn: (m) => emit('warn', m),
      error: (m) => emit('error', m),
      child: (s) => make(scope ? `${scope}/${s}` : s),
    };
  };
  return make(options.scope);
}

/** A logger that drops everything, for parts started alone in tests. */
export const silentLogger: Logger = createLogger({ write: () => {} });

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
