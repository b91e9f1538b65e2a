// Log lines go to stderr, one line each, so a service manager's journal keeps them in order. Every
// message is escaped on its way out (src/text.ts): a value from a request, a stack trace or a
// program's output can never start a line of its own, forge one, or reach the reader's terminal.
// Written to journald (JOURNAL_STREAM), a line starts with its syslog priority instead of a
// timestamp: the journal stamps each line itself, and filters and colours them by priority.

import { fstatSync } from 'node:fs';
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
/** sd-daemon(3) prefixes: the syslog priority of each level. */
const journalPriority: Record<LogLevel, string> = { debug: '<7>', info: '<6>', warn: '<4>', error: '<3>' };

export interface LoggerOptions {
  level?: LogLevel;
  scope?: string;
  write?: (line: string) => void;
  /** Lines for journald: a priority prefix and no timestamp (see stderrIsJournal). */
  journal?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const stamp = options.journal ? (at: LogLevel) => journalPriority[at] : () => `${new Date().toISOString()} `;
  const make = (scope: string | undefined): Logger => {
    const emit = (at: LogLevel, message: string) => {
      if (order[at] < order[level]) return;
      const prefix = scope ? `[${scope}] ` : '';
      write(`${stamp(at)}${at.toUpperCase().padEnd(5)} ${prefix}${escapeText(message)}\n`);
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

/**
 * True when stderr is connected to journald: systemd sets JOURNAL_STREAM to the device and inode
 * of that stream, which a child that inherited the variable but writes elsewhere does not match
 * (systemd.exec(5)).
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  try {
    const stat = fstatSync(fd, { bigint: true });
    return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!);
  } catch {
    return false;
  }
}

/** A logger that drops everything, for parts started alone in tests. */
export const silentLogger: Logger = createLogger({ write: () => {} });

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
