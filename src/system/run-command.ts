// Runs a program with an argv (never a shell) and hands its output over line by line as it
// comes, so progress can be streamed and nothing waits for the program to end to see its output.

import { spawn } from 'node:child_process';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with each line of stdout and stderr (without the newline), as it is written. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Output kept for the result; beyond it the oldest lines are dropped (default 8 MiB). */
  maxOutputBytes?: number;
}

export interface RunResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as their lines arrived. */
  output: string;
}

/** Splits a byte stream into lines; a carriage return (progress redraw) also ends a line. */
export class LineSplitter {
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    const ends = /[\r\n]/g;
    let start = 0;
    for (let m = ends.exec(text); m; m = ends.exec(text)) {
      const line = text.slice(start, m.index);
      if (line !== '') this.onLine(line);
      start = m.index + 1;
    }
    this.rest = text.slice(start);
  }

  end(): void {
    if (this.rest !== '') this.onLine(this.rest);
    this.rest = '';
  }
}

export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const maxOutput = options.maxOutputBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let size = 0;
    let dropped = false;
    const keep = (line: string, stream: 'stdout' | 'stderr') => {
      lines.push(line);
      size += line.length + 1;
      while (size > maxOutput && lines.length > 1) {
        size -= (lines.shift() as string).length + 1;
        dropped = true;
      }
      options.onLine?.(line, stream);
    };
    const out = new LineSplitter((line) => keep(line, 'stdout'));
    const err = new LineSplitter((line) => keep(line, 'stderr'));
    child.stdout.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => err.push(c));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      out.end();
      err.end();
      const text = lines.join('\n') + (lines.length ? '\n' : '');
      resolve({ code, signal, output: dropped ? `[earlier output dropped]\n${text}` : text });
    });
  });
}
