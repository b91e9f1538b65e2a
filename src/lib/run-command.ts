// Runs a program with an argv (never a shell) and hands its output over line by line as it
// comes, so progress can be streamed and nothing waits for the program to end to see its output.

import { spawn, type ChildProcess } from 'node:child_process';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with each line of stdout and stderr (without the newline), as it is written. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Takes stdout over as raw chunks, for output too large to keep or split into strings (it is
   * parsed as it streams); `onLine` and `output` then see stderr only. */
  onStdoutChunk?: (chunk: Buffer) => void;
  /** Names the program in a RunTimeoutError ("apt-cache dumpavail"; default: `command`). */
  label?: string;
  /** Output kept for the result (bytes); beyond it the oldest output is left out (default 8 MiB). */
  maxOutputBytes?: number;
  /** The program's whole process group is stopped when it runs longer than this (no limit when
   * absent), and the promise rejects with a RunTimeoutError. */
  timeoutMs?: number;
  /** How long the group has after SIGTERM before SIGKILL (default 5 s). */
  killGraceMs?: number;
}

export interface RunResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as their lines arrived; when some was left out, the first
   * line says how many bytes. */
  output: string;
}

/** Splits a byte stream into lines; a carriage return (progress redraw) also ends a line. */
export class LineSplitter {
  private rest = '';

  constructor(
    private readonly onLine: (line: string) => void,
    /** A longer line is handed over in pieces of this many characters, so output without any
     * newline is never held whole. */
    private readonly maxLineLength = 64 * 1024,
  ) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    const ends = /[\r\n]/g;
    let start = 0;
    for (let m = ends.exec(text); m; m = ends.exec(text)) {
      const line = text.slice(start, m.index);
      if (line !== '') this.onLine(line);
      start = m.index + 1;
    }
    while (text.length - start > this.maxLineLength) {
      this.onLine(text.slice(start, start + this.maxLineLength));
      start += this.maxLineLength;
    }
    this.rest = text.slice(start);
  }

  end(): void {
    if (this.rest !== '') this.onLine(this.rest);
    this.rest = '';
  }
}

/** The program ran past its time-out and was stopped. */
export class RunTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    /** Its last output, as kept until it was stopped. */
    readonly output: string,
  ) {
    super(`${command} did not finish within ${describeDuration(timeoutMs)} and was stopped`);
    this.name = 'RunTimeoutError';
  }
}

export function describeDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${+(ms / 1000).toFixed(1)} s`;
  return `${ms} ms`;
}

const leftOutLine = /^\[(\d+) bytes of earlier output left out\]\n/;

/** The last `maxBytes` of `text` (cut at a line start when there is one), with a first line
 * saying how many bytes were left out; `text` itself when it fits. `leftOutBefore` counts bytes
 * already dropped before `text`; a text that was cut before (starts with that line) is cut again
 * with the counts added up. */
export function tailOfOutput(output: string, maxBytes: number, leftOutBefore = 0): string {
  const earlier = leftOutLine.exec(output);
  const text = earlier ? output.slice(earlier[0].length) : output;
  if (earlier) leftOutBefore += Number(earlier[1]);
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes && leftOutBefore === 0) return text;
  let tail = text;
  if (bytes > maxBytes) {
    const buf = Buffer.from(text);
    let start = buf.length - maxBytes;
    const newline = buf.indexOf(10, start);
    if (newline >= 0 && newline < buf.length - 1) start = newline + 1;
    // Skip UTF-8 continuation bytes so the tail starts on a whole character.
    while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
    tail = buf.subarray(start).toString('utf8');
  }
  const leftOut = leftOutBefore + bytes - Buffer.byteLength(tail);
  return `[${leftOut} bytes of earlier output left out]\n${tail}`;
}

/**
 * Stops a child started with `detached: true` (so it leads its own process group) once it ran
 * `timeoutMs`: SIGTERM to the whole group (apt-get, dpkg, a maintainer script and its children),
 * then SIGKILL to the group after `graceMs`.
 */
export function killGroupAfter(child: ChildProcess, timeoutMs: number, graceMs: number, onTimeout: () => void): { fired(): boolean; cancel(): void } {
  let fired = false;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  const timer = setTimeout(() => {
    fired = true;
    signalGroup('SIGTERM');
    // Also when the leader died of the SIGTERM: a member that ignores it must not live on.
    setTimeout(() => signalGroup('SIGKILL'), graceMs).unref();
    onTimeout();
  }, timeoutMs);
  return { fired: () => fired, cancel: () => clearTimeout(timer) };
}

export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const maxOutput = options.maxOutputBytes ?? 8 * 1024 * 1024;
  const { timeoutMs } = options;
  const graceMs = options.killGraceMs ?? 5000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a time-out can stop everything it started.
      detached: timeoutMs !== undefined,
    });
    // Kept lines are lines[first..]; dropping moves `first` (shift() would copy the array each time).
    let lines: string[] = [];
    let first = 0;
    let size = 0;
    let leftOut = 0;
    const keep = (line: string, stream: 'stdout' | 'stderr') => {
      lines.push(line);
      size += Buffer.byteLength(line) + 1;
      while (size > maxOutput && lines.length - first > 1) {
        const dropped = Buffer.byteLength(lines[first] as string) + 1;
        first++;
        size -= dropped;
        leftOut += dropped;
      }
      if (first > 1024 && first * 2 > lines.length) {
        lines = lines.slice(first);
        first = 0;
      }
      options.onLine?.(line, stream);
    };
    const output = () => {
      const kept = lines.slice(first);
      return tailOfOutput(kept.join('\n') + (kept.length ? '\n' : ''), maxOutput, leftOut);
    };
    const out = new LineSplitter((line) => keep(line, 'stdout'));
    const err = new LineSplitter((line) => keep(line, 'stderr'));
    const { onStdoutChunk } = options;
    if (onStdoutChunk) child.stdout.on('data', (c: Buffer) => onStdoutChunk(c));
    else child.stdout.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => err.push(c));
    let settled = false;
    let fallback: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      deadline?.cancel();
      clearTimeout(fallback);
      fn();
    };
    const timedOut = () => reject(new RunTimeoutError(options.label ?? command, timeoutMs as number, output()));
    const deadline =
      timeoutMs === undefined
        ? undefined
        : killGroupAfter(child, timeoutMs, graceMs, () => {
            // Answer even if a process outside the group keeps the pipes open past the SIGKILL.
            fallback = setTimeout(() => settle(timedOut), graceMs + 1000);
            fallback.unref();
          });
    child.once('error', (e) => settle(() => reject(e)));
    child.once('close', (code, signal) => {
      out.end();
      err.end();
      settle(() => (deadline?.fired() ? timedOut() : resolve({ code, signal, output: output() })));
    });
  });
}
